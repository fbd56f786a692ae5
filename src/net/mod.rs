//! Sockets and frames: connections to brokers, correlation ids, readiness.
//!
//! `net` knows sockets and frames, not the meaning of batches: a request goes out as bytes with a
//! caller-chosen context attached, and comes back as a response body paired with that context.

pub(crate) mod connection;
pub(crate) mod sasl;
pub(crate) mod tls;

pub(crate) use connection::{Connection, ConnectionError, Response};

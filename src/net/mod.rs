//! Sockets and frames: connections to brokers, their setup, and the pool of them.
//!
//! `net` knows sockets and frames, not the meaning of batches: a request goes out as bytes with a
//! caller-chosen context attached, and comes back as a response body paired with that context,
//! or, when its connection fails, as an unanswered context.
//!
//! - [`transport`]: the seam (streams, readiness, the clock) that tests replace;
//!   [`tcp`] is the real one.
//! - [`connection`]: framing, correlation ids, write and read buffers of one connection.
//! - [`handshake`]: ApiVersions, then SASL ([`sasl`]), then ready: a pure state machine.
//! - [`nodes`]: the pool the sender asks (connect, backoff, least loaded, send, poll).
//! - [`reauth`]: when a session the broker limits is renewed on its connection (KIP-368).
//! - [`tls`]: rustls sessions (cargo feature `rustls`).
//! - [`traffic`]: requests, bytes, connects, closes and wait time, counted for the metrics.

pub(crate) mod connection;
pub(crate) mod handshake;
pub(crate) mod link;
pub(crate) mod nodes;
pub(crate) mod reauth;
pub(crate) mod sasl;
pub(crate) mod tcp;
pub(crate) mod tls;
pub(crate) mod traffic;
pub(crate) mod transport;

pub(crate) use connection::{FrameBody, WireParts};
pub(crate) use nodes::{Event, NodePool, PoolConfig, SendError};
pub(crate) use tcp::{SocketOptions, TcpTransport};
pub(crate) use traffic::NetStats;
pub(crate) use transport::{Transport, Waker};

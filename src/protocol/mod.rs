//! The Kafka wire protocol: a pure codec (bytes in, values out), no I/O, no clocks, no locks.
//!
//! - [`primitives`]: integer, varint, string, bytes, array and tagged-field codecs.
//! - [`error_code`]: the table of broker error codes.
//! - [`header`], [`frame`]: request/response headers and size-prefixed framing.
//! - [`api`]: the [`Request`] / [`Response`] traits every API implements.
//! - One module per API: [`api_versions`], [`metadata`], [`produce`], [`init_producer_id`],
//!   [`sasl_handshake`], [`sasl_authenticate`]; for transactions [`find_coordinator`],
//!   [`add_partitions_to_txn`], [`add_offsets_to_txn`], [`txn_offset_commit`], [`end_txn`].
//! - [`versions`]: per-broker version negotiation.
//!
//! Requests are encoded with `encode(&self, version, &mut Vec<u8>)` (body only; see
//! [`frame::encode_request`] for a whole frame); responses are decoded with
//! `decode(body, version)` (the body after the response header, see
//! [`header::ResponseHeader::split`]). Decoders are total: any input gives `Ok` or `Err`.
//!
//! # References
//! - Kafka protocol guide: <https://kafka.apache.org/protocol>
//! - Message definitions: `clients/src/main/resources/common/message/*.json` in apache/kafka

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod api;
pub mod api_versions;
mod codec;
pub mod end_txn;
pub mod error_code;
pub mod find_coordinator;
pub mod frame;
pub mod header;
pub mod init_producer_id;
pub mod metadata;
pub mod primitives;
pub mod produce;
pub mod record_batch;
pub mod sasl_authenticate;
pub mod sasl_handshake;
pub mod txn_offset_commit;
pub mod versions;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod proptests;

pub use api::{Request, Response};
pub use error_code::ErrorCode;
pub use frame::{parse_frame, FrameError};
pub use header::{RequestHeader, ResponseHeader};
pub use primitives::{DecodeError, DecodeResult, Decoder};
pub use versions::ApiVersionTable;

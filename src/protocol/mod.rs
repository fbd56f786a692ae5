//! The Kafka wire protocol: a pure codec (bytes in, values out), no I/O, no clocks, no locks.
//!
//! # References
//! - Kafka protocol guide: <https://kafka.apache.org/protocol>
//! - Message definitions: `clients/src/main/resources/common/message/*.json` in apache/kafka

pub mod error_code;
pub mod primitives;
pub mod record_batch;

pub use error_code::ErrorCode;
pub use primitives::{DecodeError, DecodeResult, Decoder};

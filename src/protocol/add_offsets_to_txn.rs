//! AddOffsetsToTxn (key 25): add a consumer group's offset commit to the current transaction
//! (the first step of `send_offsets_to_transaction`; TxnOffsetCommit to the group's
//! coordinator follows).
//!
//! Versions implemented: v0 to v4; v3 is the first flexible version.
//! - Request: `transactional_id`, `producer_id`, `producer_epoch`, `group_id`.
//! - Response: `throttle_time_ms`, `error_code`.
//! - v1 = v0 (throttling after the response); v2 = v1; v3 is flexible; v4 may return
//!   `TRANSACTION_ABORTABLE` (KIP-890).
//!
//! # References
//! - <https://kafka.apache.org/protocol#The_Messages_AddOffsetsToTxn>
//! - `AddOffsetsToTxnRequest.json`, `AddOffsetsToTxnResponse.json` in apache/kafka
//!   `clients/src/main/resources/common/message/`
//! - KIP-98, KIP-890

use super::codec::check_version;
use super::error_code::ErrorCode;
use super::primitives::{
    put_empty_tagged_fields, put_i16, put_i32, put_i64, put_string, DecodeResult, Decoder,
};

/// API key of AddOffsetsToTxn.
pub const API_KEY: i16 = 25;
/// Lowest version implemented.
pub const MIN_VERSION: i16 = 0;
/// Highest version implemented.
pub const MAX_VERSION: i16 = 4;
/// First flexible version (compact types, tagged fields).
pub const FIRST_FLEXIBLE_VERSION: i16 = 3;

/// The AddOffsetsToTxn request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddOffsetsToTxnRequest<'a> {
    /// The transactional id.
    pub transactional_id: &'a str,
    /// The producer id in use.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// The consumer group whose offsets join the transaction.
    pub group_id: &'a str,
}

impl AddOffsetsToTxnRequest<'_> {
    /// Appends the body at `version`.
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        put_string(buf, self.transactional_id, fx);
        put_i64(buf, self.producer_id);
        put_i16(buf, self.producer_epoch);
        put_string(buf, self.group_id, fx);
        if fx {
            put_empty_tagged_fields(buf);
        }
    }
}

super::api::impl_request!(AddOffsetsToTxnRequest<'_>);

/// The AddOffsetsToTxn response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddOffsetsToTxnResponse {
    /// Throttle time in ms.
    pub throttle_time_ms: i32,
    /// The error, or `NONE`.
    pub error_code: ErrorCode,
}

impl AddOffsetsToTxnResponse {
    /// Decodes a body written at `version`.
    pub fn decode(body: &[u8], version: i16) -> DecodeResult<Self> {
        check_version(version, MIN_VERSION, MAX_VERSION)?;
        let mut d = Decoder::new(body);
        let r = AddOffsetsToTxnResponse {
            throttle_time_ms: d.i32()?,
            error_code: ErrorCode(d.i16()?),
        };
        if version >= FIRST_FLEXIBLE_VERSION {
            d.skip_tagged_fields()?;
        }
        Ok(r)
    }

    /// Appends the body at `version` (for tests and mock brokers).
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        put_i32(buf, self.throttle_time_ms);
        put_i16(buf, self.error_code.0);
        if version >= FIRST_FLEXIBLE_VERSION {
            put_empty_tagged_fields(buf);
        }
    }
}

super::api::impl_response!(AddOffsetsToTxnResponse);

//! EndTxn (key 26): commit or abort the current transaction.
//!
//! Versions implemented: v0 to v5; v3 is the first flexible version.
//! - Request: `transactional_id`, `producer_id`, `producer_epoch`, `committed`.
//! - Response: `throttle_time_ms`, `error_code`; `producer_id` and `producer_epoch` added in
//!   v5 (-1 before).
//! - v1 = v0 (throttling after the response); v2 may return `PRODUCER_FENCED` (KIP-588);
//!   v4 may return `TRANSACTION_ABORTABLE`; v5 is transactions protocol v2 (KIP-890 part 2):
//!   the coordinator bumps the epoch at every EndTxn and returns the new id and epoch, which
//!   the producer uses for its next transaction. That bump is what stops a late EndTxn (or a
//!   late Produce) of an earlier transaction from landing on a later one.
//!
//! # References
//! - <https://kafka.apache.org/protocol#The_Messages_EndTxn>
//! - `EndTxnRequest.json`, `EndTxnResponse.json` in apache/kafka
//!   `clients/src/main/resources/common/message/`
//! - KIP-98, KIP-588, KIP-890

use super::codec::check_version;
use super::error_code::ErrorCode;
use super::primitives::{
    put_bool, put_empty_tagged_fields, put_i16, put_i32, put_i64, put_string, DecodeResult, Decoder,
};

/// API key of EndTxn.
pub const API_KEY: i16 = 26;
/// Lowest version implemented.
pub const MIN_VERSION: i16 = 0;
/// Highest version implemented.
pub const MAX_VERSION: i16 = 5;
/// First flexible version (compact types, tagged fields).
pub const FIRST_FLEXIBLE_VERSION: i16 = 3;
/// The first version of transactions protocol v2 (an epoch bump with every EndTxn).
pub const FIRST_TRANSACTIONS_V2_VERSION: i16 = 5;

/// The EndTxn request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndTxnRequest<'a> {
    /// The transactional id.
    pub transactional_id: &'a str,
    /// The producer id in use.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// `true` to commit, `false` to abort.
    pub committed: bool,
}

impl EndTxnRequest<'_> {
    /// Appends the body at `version`.
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        put_string(buf, self.transactional_id, fx);
        put_i64(buf, self.producer_id);
        put_i16(buf, self.producer_epoch);
        put_bool(buf, self.committed);
        if fx {
            put_empty_tagged_fields(buf);
        }
    }
}

super::api::impl_request!(EndTxnRequest<'_>);

/// The EndTxn response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndTxnResponse {
    /// Throttle time in ms.
    pub throttle_time_ms: i32,
    /// The error, or `NONE`.
    pub error_code: ErrorCode,
    /// The producer id for the next transaction (added in v5; -1 before).
    pub producer_id: i64,
    /// Its epoch, bumped by this EndTxn (added in v5; -1 before).
    pub producer_epoch: i16,
}

impl EndTxnResponse {
    /// Decodes a body written at `version`.
    pub fn decode(body: &[u8], version: i16) -> DecodeResult<Self> {
        check_version(version, MIN_VERSION, MAX_VERSION)?;
        let mut d = Decoder::new(body);
        let throttle_time_ms = d.i32()?;
        let error_code = ErrorCode(d.i16()?);
        let (producer_id, producer_epoch) = if version >= FIRST_TRANSACTIONS_V2_VERSION {
            (d.i64()?, d.i16()?)
        } else {
            (-1, -1)
        };
        if version >= FIRST_FLEXIBLE_VERSION {
            d.skip_tagged_fields()?;
        }
        Ok(EndTxnResponse {
            throttle_time_ms,
            error_code,
            producer_id,
            producer_epoch,
        })
    }

    /// Appends the body at `version` (for tests and mock brokers).
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        put_i32(buf, self.throttle_time_ms);
        put_i16(buf, self.error_code.0);
        if version >= FIRST_TRANSACTIONS_V2_VERSION {
            put_i64(buf, self.producer_id);
            put_i16(buf, self.producer_epoch);
        }
        if version >= FIRST_FLEXIBLE_VERSION {
            put_empty_tagged_fields(buf);
        }
    }
}

super::api::impl_response!(EndTxnResponse);

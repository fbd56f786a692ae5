//! InitProducerId (key 22): obtain a producer id and epoch for idempotent or transactional
//! producing.
//!
//! Versions implemented: v0 to v5; v2 is the first flexible version.
//! - Request: `transactional_id` (nullable), `transaction_timeout_ms`; `producer_id` and
//!   `producer_epoch` added in v3 (resume an existing id after `INVALID_PRODUCER_EPOCH`,
//!   KIP-360; -1/-1 for a fresh id).
//! - Response: `throttle_time_ms`, `error_code`, `producer_id`, `producer_epoch`.
//! - v1 = v0 (throttling after the response); v4 may return `PRODUCER_FENCED` (KIP-588);
//!   v5 may return `TRANSACTION_ABORTABLE` (KIP-890). v6 (two-phase commit, KIP-939) is
//!   marked unstable in Kafka 4.4 and is not implemented.
//!
//! # References
//! - <https://kafka.apache.org/protocol#The_Messages_InitProducerId>
//! - `InitProducerIdRequest.json`, `InitProducerIdResponse.json` in apache/kafka
//!   `clients/src/main/resources/common/message/`
//! - KIP-98 (idempotence, transactions), KIP-360, KIP-588, KIP-890, KIP-939

use super::codec::check_version;
use super::error_code::ErrorCode;
use super::primitives::{
    put_empty_tagged_fields, put_i16, put_i32, put_i64, put_nullable_string, DecodeResult, Decoder,
};

/// API key of InitProducerId.
pub const API_KEY: i16 = 22;
/// Lowest version implemented.
pub const MIN_VERSION: i16 = 0;
/// Highest version implemented.
pub const MAX_VERSION: i16 = 5;
/// First flexible version (compact types, tagged fields).
pub const FIRST_FLEXIBLE_VERSION: i16 = 2;

/// The InitProducerId request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitProducerIdRequest<'a> {
    /// The transactional id, or `None` for an idempotent-only producer.
    pub transactional_id: Option<&'a str>,
    /// Transaction timeout in ms (meaningful only with a transactional id).
    pub transaction_timeout_ms: i32,
    /// Current producer id to resume, or -1 (added in v3).
    pub producer_id: i64,
    /// Current producer epoch to resume, or -1 (added in v3).
    pub producer_epoch: i16,
}

impl<'a> InitProducerIdRequest<'a> {
    /// A request for a fresh producer id (`producer_id` and `producer_epoch` -1).
    pub fn new(transactional_id: Option<&'a str>, transaction_timeout_ms: i32) -> Self {
        InitProducerIdRequest {
            transactional_id,
            transaction_timeout_ms,
            producer_id: -1,
            producer_epoch: -1,
        }
    }

    /// Appends the body at `version`.
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        put_nullable_string(buf, self.transactional_id, fx);
        put_i32(buf, self.transaction_timeout_ms);
        if version >= 3 {
            put_i64(buf, self.producer_id);
            put_i16(buf, self.producer_epoch);
        }
        if fx {
            put_empty_tagged_fields(buf);
        }
    }
}

super::api::impl_request!(InitProducerIdRequest<'_>);

/// The InitProducerId response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitProducerIdResponse {
    /// Throttle time in ms.
    pub throttle_time_ms: i32,
    /// The error, or `NONE`.
    pub error_code: ErrorCode,
    /// The producer id, -1 on error.
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
}

impl InitProducerIdResponse {
    /// Decodes a body written at `version`.
    pub fn decode(body: &[u8], version: i16) -> DecodeResult<Self> {
        check_version(version, MIN_VERSION, MAX_VERSION)?;
        let mut d = Decoder::new(body);
        let r = InitProducerIdResponse {
            throttle_time_ms: d.i32()?,
            error_code: ErrorCode(d.i16()?),
            producer_id: d.i64()?,
            producer_epoch: d.i16()?,
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
        put_i64(buf, self.producer_id);
        put_i16(buf, self.producer_epoch);
        if version >= FIRST_FLEXIBLE_VERSION {
            put_empty_tagged_fields(buf);
        }
    }
}

super::api::impl_response!(InitProducerIdResponse);

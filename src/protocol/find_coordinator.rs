//! FindCoordinator (key 10): which broker coordinates a transactional id or a consumer group.
//!
//! Versions implemented: v0 to v6; v3 is the first flexible version.
//! - Request: `key` (v0-v3), `key_type` (added in v1: 0 group, 1 transaction, 2 share);
//!   from v4 the single key is replaced by `coordinator_keys` (batched lookup, KIP-699).
//! - Response: `throttle_time_ms` (added in v1), then up to v3 one answer (`error_code`,
//!   `error_message` added in v1, `node_id`, `host`, `port`); from v4 a `coordinators` array
//!   with one such answer per key, each naming its key.
//! - v5 may return `TRANSACTION_ABORTABLE` (KIP-890); v6 adds share-group keys (KIP-932).
//!
//! A producer looks up one key at a time (its transactional id, or the group of
//! `send_offsets_to_transaction`), so the request carries one key at every version; the
//! response is always a list, with the pre-v4 single answer as its only element (keyed by
//! the empty string: those versions do not repeat the key).
//!
//! # References
//! - <https://kafka.apache.org/protocol#The_Messages_FindCoordinator>
//! - `FindCoordinatorRequest.json`, `FindCoordinatorResponse.json` in apache/kafka
//!   `clients/src/main/resources/common/message/`
//! - KIP-98 (transactions), KIP-699 (batched FindCoordinator), KIP-890, KIP-932

use super::codec::{check_version, read_array, read_nullable_string, read_string};
use super::error_code::ErrorCode;
use super::primitives::{
    put_array_len, put_empty_tagged_fields, put_i16, put_i32, put_i8, put_nullable_string,
    put_string, DecodeResult, Decoder,
};

/// API key of FindCoordinator.
pub const API_KEY: i16 = 10;
/// Lowest version implemented.
pub const MIN_VERSION: i16 = 0;
/// Highest version implemented.
pub const MAX_VERSION: i16 = 6;
/// First flexible version (compact types, tagged fields).
pub const FIRST_FLEXIBLE_VERSION: i16 = 3;
/// First version with batched keys (`coordinator_keys`, `coordinators`).
pub const FIRST_BATCHED_VERSION: i16 = 4;

/// What kind of coordinator is asked for (`key_type`, added in v1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i8)]
pub enum CoordinatorType {
    /// A consumer group's coordinator (the key is the group id).
    Group = 0,
    /// A transactional id's coordinator.
    Transaction = 1,
}

/// The FindCoordinator request, for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindCoordinatorRequest<'a> {
    /// The group id or transactional id.
    pub key: &'a str,
    /// What `key` names (written from v1; v0 knows only groups).
    pub key_type: CoordinatorType,
}

impl FindCoordinatorRequest<'_> {
    /// Appends the body at `version`.
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        if version < FIRST_BATCHED_VERSION {
            put_string(buf, self.key, fx);
        }
        if version >= 1 {
            put_i8(buf, self.key_type as i8);
        }
        if version >= FIRST_BATCHED_VERSION {
            put_array_len(buf, 1, fx);
            put_string(buf, self.key, fx);
        }
        if fx {
            put_empty_tagged_fields(buf);
        }
    }
}

super::api::impl_request!(FindCoordinatorRequest<'_>);

/// One coordinator in the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coordinator {
    /// The key asked for (from v4; empty before, when the answer is for the only key asked).
    pub key: String,
    /// The coordinator's broker id, -1 on error.
    pub node_id: i32,
    /// Its host.
    pub host: String,
    /// Its port.
    pub port: i32,
    /// The error, or `NONE`.
    pub error_code: ErrorCode,
    /// The broker's message for the error (added in v1).
    pub error_message: Option<String>,
}

/// The FindCoordinator response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindCoordinatorResponse {
    /// Throttle time in ms (added in v1; 0 before).
    pub throttle_time_ms: i32,
    /// One answer per key asked (exactly one below v4).
    pub coordinators: Vec<Coordinator>,
}

impl FindCoordinatorResponse {
    /// Decodes a body written at `version`.
    pub fn decode(body: &[u8], version: i16) -> DecodeResult<Self> {
        check_version(version, MIN_VERSION, MAX_VERSION)?;
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        let mut d = Decoder::new(body);
        let throttle_time_ms = if version >= 1 { d.i32()? } else { 0 };
        let coordinators = if version < FIRST_BATCHED_VERSION {
            let error_code = ErrorCode(d.i16()?);
            let error_message = if version >= 1 {
                read_nullable_string(&mut d, fx)?
            } else {
                None
            };
            vec![Coordinator {
                key: String::new(),
                error_code,
                error_message,
                node_id: d.i32()?,
                host: read_string(&mut d, fx)?,
                port: d.i32()?,
            }]
        } else {
            // key (1) + node (4) + host (1) + port (4) + error (2) + message (1) + tags (1).
            read_array(&mut d, fx, 14, |d| {
                let c = Coordinator {
                    key: read_string(d, fx)?,
                    node_id: d.i32()?,
                    host: read_string(d, fx)?,
                    port: d.i32()?,
                    error_code: ErrorCode(d.i16()?),
                    error_message: read_nullable_string(d, fx)?,
                };
                d.skip_tagged_fields()?;
                Ok(c)
            })?
        };
        if fx {
            d.skip_tagged_fields()?;
        }
        Ok(FindCoordinatorResponse {
            throttle_time_ms,
            coordinators,
        })
    }

    /// Appends the body at `version` (for tests and mock brokers). Below v4 only the first
    /// coordinator is written (those versions answer one key).
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        if version >= 1 {
            put_i32(buf, self.throttle_time_ms);
        }
        if version < FIRST_BATCHED_VERSION {
            let none = Coordinator {
                key: String::new(),
                node_id: -1,
                host: String::new(),
                port: -1,
                error_code: ErrorCode::NONE,
                error_message: None,
            };
            let c = self.coordinators.first().unwrap_or(&none);
            put_i16(buf, c.error_code.0);
            if version >= 1 {
                put_nullable_string(buf, c.error_message.as_deref(), fx);
            }
            put_i32(buf, c.node_id);
            put_string(buf, &c.host, fx);
            put_i32(buf, c.port);
        } else {
            put_array_len(buf, self.coordinators.len(), fx);
            for c in &self.coordinators {
                put_string(buf, &c.key, fx);
                put_i32(buf, c.node_id);
                put_string(buf, &c.host, fx);
                put_i32(buf, c.port);
                put_i16(buf, c.error_code.0);
                put_nullable_string(buf, c.error_message.as_deref(), fx);
                put_empty_tagged_fields(buf);
            }
        }
        if fx {
            put_empty_tagged_fields(buf);
        }
    }
}

super::api::impl_response!(FindCoordinatorResponse);

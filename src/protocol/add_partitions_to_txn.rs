//! AddPartitionsToTxn (key 24): tell the transaction coordinator which partitions the current
//! transaction writes to, before the first batch to each is sent (transactions protocol v1).
//!
//! Versions implemented: v0 to v3, the client versions; v3 is the first flexible version.
//! - Request: `transactional_id`, `producer_id`, `producer_epoch`, `topics` (name and
//!   partition indexes).
//! - Response: `throttle_time_ms`, then per topic, per partition, an error code.
//! - v1 = v0 (throttling after the response); v2 may return `CONCURRENT_TRANSACTIONS` more
//!   eagerly (KIP-447 era); v3 is flexible.
//! - v4 and v5 batch several transactional ids and add `verify_only`: they are for brokers
//!   verifying a partition's transaction (KIP-890 part 1), and Java's client never sends
//!   them (`AddPartitionsToTxnRequest.Builder.forClient` caps at v3). Under transactions
//!   protocol v2 (KIP-890 part 2) the client does not send this request at all: the partition
//!   joins the transaction with its first Produce.
//!
//! # References
//! - <https://kafka.apache.org/protocol#The_Messages_AddPartitionsToTxn>
//! - `AddPartitionsToTxnRequest.json`, `AddPartitionsToTxnResponse.json` in apache/kafka
//!   `clients/src/main/resources/common/message/`
//! - KIP-98, KIP-890

use super::codec::{check_version, read_array, read_string};
use super::error_code::ErrorCode;
use super::primitives::{
    put_array_len, put_empty_tagged_fields, put_i16, put_i32, put_i64, put_string, DecodeResult,
    Decoder,
};

/// API key of AddPartitionsToTxn.
pub const API_KEY: i16 = 24;
/// Lowest version implemented.
pub const MIN_VERSION: i16 = 0;
/// Highest version implemented (the highest a client sends).
pub const MAX_VERSION: i16 = 3;
/// First flexible version (compact types, tagged fields).
pub const FIRST_FLEXIBLE_VERSION: i16 = 3;

/// A topic's partitions to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnTopic<'a> {
    /// The topic.
    pub name: &'a str,
    /// Its partition indexes.
    pub partitions: &'a [i32],
}

/// The AddPartitionsToTxn request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddPartitionsToTxnRequest<'a> {
    /// The transactional id.
    pub transactional_id: &'a str,
    /// The producer id in use.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// The partitions to add.
    pub topics: &'a [TxnTopic<'a>],
}

impl AddPartitionsToTxnRequest<'_> {
    /// Appends the body at `version`.
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        put_string(buf, self.transactional_id, fx);
        put_i64(buf, self.producer_id);
        put_i16(buf, self.producer_epoch);
        put_array_len(buf, self.topics.len(), fx);
        for t in self.topics {
            put_string(buf, t.name, fx);
            put_array_len(buf, t.partitions.len(), fx);
            for &p in t.partitions {
                put_i32(buf, p);
            }
            if fx {
                put_empty_tagged_fields(buf);
            }
        }
        if fx {
            put_empty_tagged_fields(buf);
        }
    }
}

super::api::impl_request!(AddPartitionsToTxnRequest<'_>);

/// A partition's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionError {
    /// The partition index.
    pub partition_index: i32,
    /// The error, or `NONE`.
    pub error_code: ErrorCode,
}

/// A topic's answers, one per partition. Also the shape of TxnOffsetCommit's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicErrors {
    /// The topic.
    pub name: String,
    /// One answer per partition.
    pub partitions: Vec<PartitionError>,
}

/// The AddPartitionsToTxn response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddPartitionsToTxnResponse {
    /// Throttle time in ms.
    pub throttle_time_ms: i32,
    /// One entry per topic asked.
    pub topics: Vec<TopicErrors>,
}

/// Decodes a body of `throttle_time_ms` then `[]{name, []{partition, error}}` at flexibility
/// `fx`: this response's shape, and TxnOffsetCommit's.
pub(crate) fn decode_topic_errors(body: &[u8], fx: bool) -> DecodeResult<(i32, Vec<TopicErrors>)> {
    let mut d = Decoder::new(body);
    let throttle_time_ms = d.i32()?;
    let topics = read_array(&mut d, fx, 2, |d| {
        let name = read_string(d, fx)?;
        let partitions = read_array(d, fx, 6, |d| {
            let p = PartitionError {
                partition_index: d.i32()?,
                error_code: ErrorCode(d.i16()?),
            };
            if fx {
                d.skip_tagged_fields()?;
            }
            Ok(p)
        })?;
        if fx {
            d.skip_tagged_fields()?;
        }
        Ok(TopicErrors { name, partitions })
    })?;
    if fx {
        d.skip_tagged_fields()?;
    }
    Ok((throttle_time_ms, topics))
}

/// Encodes what [`decode_topic_errors`] reads.
pub(crate) fn encode_topic_errors(
    buf: &mut Vec<u8>,
    throttle_time_ms: i32,
    topics: &[TopicErrors],
    fx: bool,
) {
    put_i32(buf, throttle_time_ms);
    put_array_len(buf, topics.len(), fx);
    for t in topics {
        put_string(buf, &t.name, fx);
        put_array_len(buf, t.partitions.len(), fx);
        for p in &t.partitions {
            put_i32(buf, p.partition_index);
            put_i16(buf, p.error_code.0);
            if fx {
                put_empty_tagged_fields(buf);
            }
        }
        if fx {
            put_empty_tagged_fields(buf);
        }
    }
    if fx {
        put_empty_tagged_fields(buf);
    }
}

impl AddPartitionsToTxnResponse {
    /// Decodes a body written at `version`.
    pub fn decode(body: &[u8], version: i16) -> DecodeResult<Self> {
        check_version(version, MIN_VERSION, MAX_VERSION)?;
        let (throttle_time_ms, topics) =
            decode_topic_errors(body, version >= FIRST_FLEXIBLE_VERSION)?;
        Ok(AddPartitionsToTxnResponse {
            throttle_time_ms,
            topics,
        })
    }

    /// Appends the body at `version` (for tests and mock brokers).
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        encode_topic_errors(buf, self.throttle_time_ms, &self.topics, fx);
    }
}

super::api::impl_response!(AddPartitionsToTxnResponse);

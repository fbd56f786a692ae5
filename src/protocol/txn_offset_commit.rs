//! TxnOffsetCommit (key 28): commit a consumer group's offsets as part of the current
//! transaction, to the group's coordinator (after AddOffsetsToTxn to the transaction
//! coordinator). The offsets become visible only if the transaction commits.
//!
//! Versions implemented: v0 to v5; v3 is the first flexible version.
//! - Request: `transactional_id`, `group_id`, `producer_id`, `producer_epoch`; added in v3
//!   (KIP-447, so the group coordinator can fence zombie members): `generation_id` (-1),
//!   `member_id` (""), `group_instance_id` (null); then per topic, per partition:
//!   `partition_index`, `committed_offset`, `committed_leader_epoch` (added in v2, -1),
//!   `committed_metadata` (nullable).
//! - Response: `throttle_time_ms`, then per topic, per partition, an error code.
//! - v1 = v0 (throttling after the response); v4 may return `TRANSACTION_ABORTABLE`
//!   (KIP-890); v5 is the version of transactions protocol v2 clients.
//! - v6 names topics by id (`topic_id`) instead of by name; not implemented: a producer
//!   knows the names the consumer gave it, and a broker that speaks v6 also speaks v5.
//!
//! # References
//! - <https://kafka.apache.org/protocol#The_Messages_TxnOffsetCommit>
//! - `TxnOffsetCommitRequest.json`, `TxnOffsetCommitResponse.json` in apache/kafka
//!   `clients/src/main/resources/common/message/`
//! - KIP-98, KIP-447, KIP-890

pub use super::add_partitions_to_txn::{PartitionError, TopicErrors};

use super::add_partitions_to_txn::{decode_topic_errors, encode_topic_errors};
use super::codec::check_version;
use super::primitives::{
    put_array_len, put_empty_tagged_fields, put_i16, put_i32, put_i64, put_nullable_string,
    put_string, DecodeResult,
};

/// API key of TxnOffsetCommit.
pub const API_KEY: i16 = 28;
/// Lowest version implemented.
pub const MIN_VERSION: i16 = 0;
/// Highest version implemented.
pub const MAX_VERSION: i16 = 5;
/// First flexible version (compact types, tagged fields).
pub const FIRST_FLEXIBLE_VERSION: i16 = 3;

/// One partition's offset to commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnOffset<'a> {
    /// The partition index.
    pub partition_index: i32,
    /// The offset to commit (the next record the group will read).
    pub committed_offset: i64,
    /// The leader epoch of the last consumed record, or -1 (added in v2).
    pub committed_leader_epoch: i32,
    /// Metadata kept with the offset.
    pub committed_metadata: Option<&'a str>,
}

/// A topic's offsets to commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnOffsetTopic<'a> {
    /// The topic.
    pub name: &'a str,
    /// Its partitions' offsets.
    pub partitions: &'a [TxnOffset<'a>],
}

/// The TxnOffsetCommit request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnOffsetCommitRequest<'a> {
    /// The transactional id.
    pub transactional_id: &'a str,
    /// The consumer group.
    pub group_id: &'a str,
    /// The producer id in use.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// The group's generation (classic protocol) or member epoch, or -1 (added in v3).
    pub generation_id: i32,
    /// The member id, or "" (added in v3).
    pub member_id: &'a str,
    /// The static member's instance id (added in v3).
    pub group_instance_id: Option<&'a str>,
    /// The offsets.
    pub topics: &'a [TxnOffsetTopic<'a>],
}

impl TxnOffsetCommitRequest<'_> {
    /// Appends the body at `version`.
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        put_string(buf, self.transactional_id, fx);
        put_string(buf, self.group_id, fx);
        put_i64(buf, self.producer_id);
        put_i16(buf, self.producer_epoch);
        if version >= 3 {
            put_i32(buf, self.generation_id);
            put_string(buf, self.member_id, fx);
            put_nullable_string(buf, self.group_instance_id, fx);
        }
        put_array_len(buf, self.topics.len(), fx);
        for t in self.topics {
            put_string(buf, t.name, fx);
            put_array_len(buf, t.partitions.len(), fx);
            for p in t.partitions {
                put_i32(buf, p.partition_index);
                put_i64(buf, p.committed_offset);
                if version >= 2 {
                    put_i32(buf, p.committed_leader_epoch);
                }
                put_nullable_string(buf, p.committed_metadata, fx);
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
}

super::api::impl_request!(TxnOffsetCommitRequest<'_>);

/// The TxnOffsetCommit response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOffsetCommitResponse {
    /// Throttle time in ms.
    pub throttle_time_ms: i32,
    /// One entry per topic committed.
    pub topics: Vec<TopicErrors>,
}

impl TxnOffsetCommitResponse {
    /// Decodes a body written at `version`.
    pub fn decode(body: &[u8], version: i16) -> DecodeResult<Self> {
        check_version(version, MIN_VERSION, MAX_VERSION)?;
        let (throttle_time_ms, topics) =
            decode_topic_errors(body, version >= FIRST_FLEXIBLE_VERSION)?;
        Ok(TxnOffsetCommitResponse {
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

super::api::impl_response!(TxnOffsetCommitResponse);

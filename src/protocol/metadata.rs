//! Metadata (key 3): brokers, topics, partitions and their leaders.
//!
//! Versions implemented: v4 to v13; v9 is the first flexible version.
//! - Why v4 and up: v4 is the first version with `allow_auto_topic_creation`, which the
//!   producer needs to control; Kafka 2.1 supports Metadata v0-v7, so v4-v7 reach it.
//!   KIP-896 proposed removing Metadata v0-v3 from Kafka 4.0; the Kafka 4.4 message definition
//!   still lists v0-v13, and this client never sends below v4 either way.
//! - Request: `topics[] {name}` (null = all topics; an empty array = no topics);
//!   `allow_auto_topic_creation` (v4+); `include_cluster_authorized_operations` (v8-v10 only);
//!   `include_topic_authorized_operations` (v8+); per topic `topic_id` (added in v10, usable
//!   for lookups from v12) and a nullable `name` (nullable from v10).
//! - Response: `throttle_time_ms`, `brokers[] {node_id, host, port, rack}`, `cluster_id`,
//!   `controller_id`, `topics[] {error_code, name, topic_id (added in v10), is_internal,
//!   partitions[] {error_code, partition_index, leader_id, leader_epoch (added in v7),
//!   replica_nodes, isr_nodes, offline_replicas}, topic_authorized_operations (added in v8)}`,
//!   `cluster_authorized_operations` (v8-v10 only), top-level `error_code` (added in v13).
//!   Topic `name` may be null from v12 (a topic asked for by an unknown id).
//!
//! # References
//! - <https://kafka.apache.org/protocol#The_Messages_Metadata>
//! - `MetadataRequest.json`, `MetadataResponse.json` in apache/kafka
//!   `clients/src/main/resources/common/message/`
//! - KIP-204 (allow_auto_topic_creation), KIP-320 (leader epoch), KIP-430 (authorized
//!   operations), KIP-516 (topic ids), KIP-700 (cluster operations moved to DescribeCluster),
//!   KIP-896 (removed versions), KIP-1102 (top-level error code, rebootstrap)

use super::codec::{check_version, read_array, read_i32_array, read_nullable_string, read_string};
use super::error_code::ErrorCode;
use super::primitives::{
    put_array_len, put_bool, put_empty_tagged_fields, put_i16, put_i32, put_nullable_string,
    put_string, put_uuid, DecodeResult, Decoder,
};

/// API key of Metadata.
pub const API_KEY: i16 = 3;
/// Lowest version implemented.
pub const MIN_VERSION: i16 = 4;
/// Highest version implemented.
pub const MAX_VERSION: i16 = 13;
/// First flexible version (compact types, tagged fields).
pub const FIRST_FLEXIBLE_VERSION: i16 = 9;

/// Sentinel for "authorized operations not requested" (`INT32_MIN`).
pub const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

/// One topic asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataRequestTopic<'a> {
    /// The topic id, all zeros when asking by name (added in v10; brokers honour it from v12).
    pub topic_id: [u8; 16],
    /// The topic name; `None` to ask by id (nullable from v10, brokers accept it from v12).
    /// Below v10 a `None` name is written as the empty string.
    pub name: Option<&'a str>,
}

impl<'a> MetadataRequestTopic<'a> {
    /// A topic asked for by name.
    pub fn by_name(name: &'a str) -> Self {
        MetadataRequestTopic {
            topic_id: [0; 16],
            name: Some(name),
        }
    }
    /// A topic asked for by id (v12+).
    pub fn by_id(topic_id: [u8; 16]) -> Self {
        MetadataRequestTopic {
            topic_id,
            name: None,
        }
    }
}

/// The Metadata request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataRequest<'a> {
    /// Topics to describe; `None` for all topics, `Some(empty)` for none (brokers only).
    pub topics: Option<Vec<MetadataRequestTopic<'a>>>,
    /// Whether the broker may auto-create missing topics (if its config allows; v4+).
    pub allow_auto_topic_creation: bool,
    /// Ask for the cluster's authorized operations (v8-v10 only; ignored otherwise).
    pub include_cluster_authorized_operations: bool,
    /// Ask for each topic's authorized operations (v8+).
    pub include_topic_authorized_operations: bool,
}

impl<'a> MetadataRequest<'a> {
    /// A request for every topic.
    pub fn all_topics(allow_auto_topic_creation: bool) -> Self {
        MetadataRequest {
            topics: None,
            allow_auto_topic_creation,
            include_cluster_authorized_operations: false,
            include_topic_authorized_operations: false,
        }
    }
    /// A request for the named topics.
    pub fn for_topics(names: &[&'a str], allow_auto_topic_creation: bool) -> Self {
        MetadataRequest {
            topics: Some(
                names
                    .iter()
                    .map(|n| MetadataRequestTopic::by_name(n))
                    .collect(),
            ),
            ..Self::all_topics(allow_auto_topic_creation)
        }
    }

    /// Appends the body at `version`.
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        match &self.topics {
            None if flexible => buf.push(0),
            None => put_i32(buf, -1),
            Some(topics) => {
                put_array_len(buf, topics.len(), flexible);
                for t in topics {
                    if version >= 10 {
                        put_uuid(buf, &t.topic_id);
                        put_nullable_string(buf, t.name, flexible);
                    } else {
                        put_string(buf, t.name.unwrap_or(""), flexible);
                    }
                    if flexible {
                        put_empty_tagged_fields(buf);
                    }
                }
            }
        }
        if version >= 4 {
            put_bool(buf, self.allow_auto_topic_creation);
        }
        if (8..=10).contains(&version) {
            put_bool(buf, self.include_cluster_authorized_operations);
        }
        if version >= 8 {
            put_bool(buf, self.include_topic_authorized_operations);
        }
        if flexible {
            put_empty_tagged_fields(buf);
        }
    }
}

super::api::impl_request!(MetadataRequest<'_>);

/// A broker in the metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataBroker {
    /// Broker id.
    pub node_id: i32,
    /// Host name.
    pub host: String,
    /// Port.
    pub port: i32,
    /// Rack, if assigned.
    pub rack: Option<String>,
}

/// A partition in the metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataPartition {
    /// Partition-level error.
    pub error_code: ErrorCode,
    /// Partition index.
    pub partition_index: i32,
    /// Leader broker id, -1 if none.
    pub leader_id: i32,
    /// Leader epoch (added in v7; -1 before).
    pub leader_epoch: i32,
    /// All replicas.
    pub replica_nodes: Vec<i32>,
    /// In-sync replicas.
    pub isr_nodes: Vec<i32>,
    /// Offline replicas (added in v5).
    pub offline_replicas: Vec<i32>,
}

/// A topic in the metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataTopic {
    /// Topic-level error.
    pub error_code: ErrorCode,
    /// Topic name; `None` only from v12, for a topic asked for by an unknown id.
    pub name: Option<String>,
    /// Topic id (added in v10; zeros before, or for unknown topics asked for by name).
    pub topic_id: [u8; 16],
    /// Whether the topic is internal.
    pub is_internal: bool,
    /// Partitions.
    pub partitions: Vec<MetadataPartition>,
    /// Authorized operations bit field (added in v8; [`AUTHORIZED_OPERATIONS_OMITTED`] if not
    /// requested or before v8).
    pub topic_authorized_operations: i32,
}

/// The Metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataResponse {
    /// Throttle time in ms.
    pub throttle_time_ms: i32,
    /// Live brokers.
    pub brokers: Vec<MetadataBroker>,
    /// The cluster id.
    pub cluster_id: Option<String>,
    /// The controller id, -1 if unknown.
    pub controller_id: i32,
    /// Topics.
    pub topics: Vec<MetadataTopic>,
    /// Cluster authorized operations (v8-v10 only; [`AUTHORIZED_OPERATIONS_OMITTED`] otherwise).
    pub cluster_authorized_operations: i32,
    /// Top-level error (added in v13; `NONE` before), e.g. `REBOOTSTRAP_REQUIRED`.
    pub error_code: ErrorCode,
}

impl MetadataResponse {
    /// Decodes a body written at `version`.
    pub fn decode(body: &[u8], version: i16) -> DecodeResult<Self> {
        check_version(version, MIN_VERSION, MAX_VERSION)?;
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        let mut d = Decoder::new(body);
        let throttle_time_ms = d.i32()?;
        let brokers = read_array(&mut d, fx, 9, |d| {
            let b = MetadataBroker {
                node_id: d.i32()?,
                host: read_string(d, fx)?,
                port: d.i32()?,
                rack: read_nullable_string(d, fx)?,
            };
            if fx {
                d.skip_tagged_fields()?;
            }
            Ok(b)
        })?;
        let cluster_id = read_nullable_string(&mut d, fx)?;
        let controller_id = d.i32()?;
        let topics = read_array(&mut d, fx, 8, |d| {
            let error_code = ErrorCode(d.i16()?);
            let name = if version >= 12 {
                read_nullable_string(d, fx)?
            } else {
                Some(read_string(d, fx)?)
            };
            let topic_id = if version >= 10 { d.uuid()? } else { [0; 16] };
            let is_internal = d.bool()?;
            let partitions = read_array(d, fx, 18, |d| {
                let p = MetadataPartition {
                    error_code: ErrorCode(d.i16()?),
                    partition_index: d.i32()?,
                    leader_id: d.i32()?,
                    leader_epoch: if version >= 7 { d.i32()? } else { -1 },
                    replica_nodes: read_i32_array(d, fx)?,
                    isr_nodes: read_i32_array(d, fx)?,
                    offline_replicas: if version >= 5 {
                        read_i32_array(d, fx)?
                    } else {
                        Vec::new()
                    },
                };
                if fx {
                    d.skip_tagged_fields()?;
                }
                Ok(p)
            })?;
            let topic_authorized_operations = if version >= 8 {
                d.i32()?
            } else {
                AUTHORIZED_OPERATIONS_OMITTED
            };
            if fx {
                d.skip_tagged_fields()?;
            }
            Ok(MetadataTopic {
                error_code,
                name,
                topic_id,
                is_internal,
                partitions,
                topic_authorized_operations,
            })
        })?;
        let cluster_authorized_operations = if (8..=10).contains(&version) {
            d.i32()?
        } else {
            AUTHORIZED_OPERATIONS_OMITTED
        };
        let error_code = if version >= 13 {
            ErrorCode(d.i16()?)
        } else {
            ErrorCode::NONE
        };
        if fx {
            d.skip_tagged_fields()?;
        }
        Ok(MetadataResponse {
            throttle_time_ms,
            brokers,
            cluster_id,
            controller_id,
            topics,
            cluster_authorized_operations,
            error_code,
        })
    }

    /// Appends the body at `version` (for tests and mock brokers).
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        put_i32(buf, self.throttle_time_ms);
        put_array_len(buf, self.brokers.len(), fx);
        for b in &self.brokers {
            put_i32(buf, b.node_id);
            put_string(buf, &b.host, fx);
            put_i32(buf, b.port);
            put_nullable_string(buf, b.rack.as_deref(), fx);
            if fx {
                put_empty_tagged_fields(buf);
            }
        }
        put_nullable_string(buf, self.cluster_id.as_deref(), fx);
        put_i32(buf, self.controller_id);
        put_array_len(buf, self.topics.len(), fx);
        for t in &self.topics {
            put_i16(buf, t.error_code.0);
            if version >= 12 {
                put_nullable_string(buf, t.name.as_deref(), fx);
            } else {
                put_string(buf, t.name.as_deref().unwrap_or(""), fx);
            }
            if version >= 10 {
                put_uuid(buf, &t.topic_id);
            }
            put_bool(buf, t.is_internal);
            put_array_len(buf, t.partitions.len(), fx);
            for p in &t.partitions {
                put_i16(buf, p.error_code.0);
                put_i32(buf, p.partition_index);
                put_i32(buf, p.leader_id);
                if version >= 7 {
                    put_i32(buf, p.leader_epoch);
                }
                for list in [&p.replica_nodes, &p.isr_nodes] {
                    put_array_len(buf, list.len(), fx);
                    list.iter().for_each(|&n| put_i32(buf, n));
                }
                if version >= 5 {
                    put_array_len(buf, p.offline_replicas.len(), fx);
                    p.offline_replicas.iter().for_each(|&n| put_i32(buf, n));
                }
                if fx {
                    put_empty_tagged_fields(buf);
                }
            }
            if version >= 8 {
                put_i32(buf, t.topic_authorized_operations);
            }
            if fx {
                put_empty_tagged_fields(buf);
            }
        }
        if (8..=10).contains(&version) {
            put_i32(buf, self.cluster_authorized_operations);
        }
        if version >= 13 {
            put_i16(buf, self.error_code.0);
        }
        if fx {
            put_empty_tagged_fields(buf);
        }
    }
}

super::api::impl_response!(MetadataResponse);

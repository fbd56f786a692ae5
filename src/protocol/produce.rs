//! Produce (key 0): write record batches to partition leaders.
//!
//! Versions implemented: v3 to v13; v9 is the first flexible version. v3 is the first version
//! carrying record batch v2 (the only format Kafka 4 accepts); Kafka 4 still advertises v0-v2
//! in ApiVersions (KAFKA-18659) but rejects them, so they are never sent (see
//! [`super::versions`]). v13 is the newest version Kafka 4.4 accepts.
//!
//! - Request: `transactional_id` (nullable), `acks`, `timeout_ms`,
//!   `topic_data[] {name (v3-v12) | topic_id (v13+), partition_data[] {index, records}}`.
//!   **v13 identifies topics by id instead of name (KIP-516)**: [`ProduceTopic`] carries both,
//!   and the encoder writes the one the version needs; v13 may answer `UNKNOWN_TOPIC_ID`.
//! - Version notes: v4 may return `KAFKA_STORAGE_ERROR`; v7 allows zstd (KIP-110); v8 adds
//!   per-record errors to the response (KIP-467); v9 is flexible; v10 adds the `current_leader`
//!   and `node_endpoints` tagged fields (KIP-951); v11 may return `TRANSACTION_ABORTABLE`
//!   (KIP-890); v12 lets transactions add partitions implicitly (KIP-890 part 2).
//! - Response: per topic (`name` v3-v12, `topic_id` v13+), per partition `index`,
//!   `error_code`, `base_offset`, `log_append_time_ms`, `log_start_offset` (added in v5),
//!   `record_errors[] {batch_index, batch_index_error_message}` and `error_message` (added in
//!   v8), `current_leader` (tag 0, added in v10); then `throttle_time_ms` and
//!   `node_endpoints` (tag 0, added in v10).
//!
//! The records of each partition are an already-built record batch passed as `&[u8]`. The
//! producer does not copy them into the request ([`ProduceSink`]): the connection writes them
//! from the batch, next to the request's own bytes, in one vectored write.
//!
//! # References
//! - <https://kafka.apache.org/protocol#The_Messages_Produce>
//! - `ProduceRequest.json`, `ProduceResponse.json` in apache/kafka
//!   `clients/src/main/resources/common/message/`
//! - KIP-98 (v3, record batch v2), KIP-110 (zstd), KIP-467 (record errors), KIP-482 (flexible),
//!   KIP-516 (topic ids), KIP-890 (transactions v2), KIP-896 (removed versions),
//!   KIP-951 (leader discovery)

use super::codec::{check_version, read_array, read_nullable_string, read_string};
use super::error_code::ErrorCode;
use super::primitives::{
    put_array_len, put_empty_tagged_fields, put_i16, put_i32, put_i64, put_nullable_string,
    put_string, put_uuid, put_uvarint, uvarint_len, DecodeResult, Decoder,
};

/// API key of Produce.
pub const API_KEY: i16 = 0;
/// Lowest version implemented (and ever sent).
pub const MIN_VERSION: i16 = 3;
/// Highest version implemented (the newest Kafka 4.4 accepts).
pub const MAX_VERSION: i16 = 13;
/// First flexible version (compact types, tagged fields).
pub const FIRST_FLEXIBLE_VERSION: i16 = 9;
/// First version identifying topics by id instead of name.
pub const FIRST_TOPIC_ID_VERSION: i16 = 13;
/// First version under which a transaction's partitions join with their first Produce
/// (transactions protocol v2, KIP-890); a v1 transactional producer stays below it.
pub const FIRST_TRANSACTIONS_V2_VERSION: i16 = 12;

/// One partition's data in a produce request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducePartition<'a> {
    /// Partition index.
    pub index: i32,
    /// One or more complete record batches (v2 format), written as is.
    pub records: &'a [u8],
}

/// One topic's data in a produce request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceTopic<'a> {
    /// Topic name, written in v3-v12.
    pub name: &'a str,
    /// Topic id, written in v13+ (from Metadata v10+).
    pub topic_id: [u8; 16],
    /// The partitions.
    pub partitions: Vec<ProducePartition<'a>>,
}

/// The Produce request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceRequest<'a> {
    /// The transactional id, or `None` for non-transactional producers.
    pub transactional_id: Option<&'a str>,
    /// Acknowledgements required: 0, 1 or -1 (all in-sync replicas).
    pub acks: i16,
    /// How long the broker may wait for acknowledgements, in ms.
    pub timeout_ms: i32,
    /// The data, per topic.
    pub topics: Vec<ProduceTopic<'a>>,
}

/// Where a Produce request body goes: the request's own bytes into a buffer, and each
/// partition's records wherever the sink puts them. A `Vec<u8>` takes everything; the sender's
/// sink leaves the records in their batches and refers to them (a vectored write), so the
/// bytes produced are not copied into the request.
pub trait ProduceSink {
    /// The buffer the request's own bytes are appended to.
    fn buf(&mut self) -> &mut Vec<u8>;
    /// The records of partition `partition` of topic `topic` (indexes into the request's
    /// lists) go here, right after their length.
    fn records(&mut self, topic: usize, partition: usize, records: &[u8]);
}

impl ProduceSink for Vec<u8> {
    fn buf(&mut self) -> &mut Vec<u8> {
        self
    }
    fn records(&mut self, _: usize, _: usize, records: &[u8]) {
        self.extend_from_slice(records);
    }
}

impl ProduceRequest<'_> {
    /// Appends the body at `version`.
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        buf.reserve(self.encoded_len(version));
        self.encode_into(version, buf);
    }

    /// Writes the body at `version` into `sink`, the records by [`ProduceSink::records`].
    pub fn encode_into<S: ProduceSink>(&self, version: i16, sink: &mut S) {
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        let records: usize = self
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .map(|p| p.records.len())
            .sum();
        sink.buf()
            .reserve(self.encoded_len(version).saturating_sub(records));
        let buf = sink.buf();
        put_nullable_string(buf, self.transactional_id, fx);
        put_i16(buf, self.acks);
        put_i32(buf, self.timeout_ms);
        put_array_len(buf, self.topics.len(), fx);
        for (ti, t) in self.topics.iter().enumerate() {
            let buf = sink.buf();
            if version >= FIRST_TOPIC_ID_VERSION {
                put_uuid(buf, &t.topic_id);
            } else {
                put_string(buf, t.name, fx);
            }
            put_array_len(buf, t.partitions.len(), fx);
            for (pi, p) in t.partitions.iter().enumerate() {
                let buf = sink.buf();
                put_i32(buf, p.index);
                if fx {
                    put_uvarint(buf, p.records.len() as u64 + 1);
                } else {
                    put_i32(buf, p.records.len() as i32);
                }
                sink.records(ti, pi, p.records);
                if fx {
                    put_empty_tagged_fields(sink.buf());
                }
            }
            if fx {
                put_empty_tagged_fields(sink.buf());
            }
        }
        if fx {
            put_empty_tagged_fields(sink.buf());
        }
    }

    /// The exact number of bytes [`ProduceRequest::encode`] appends at `version`.
    pub fn encoded_len(&self, version: i16) -> usize {
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        let str_len = |n: usize| {
            if fx {
                uvarint_len(n as u64 + 1) + n
            } else {
                2 + n
            }
        };
        let arr_len = |n: usize| if fx { uvarint_len(n as u64 + 1) } else { 4 };
        let tags = usize::from(fx);
        let mut n = match self.transactional_id {
            Some(s) => str_len(s.len()),
            None if fx => 1,
            None => 2,
        };
        n += 2 + 4 + arr_len(self.topics.len());
        for t in &self.topics {
            n += if version >= FIRST_TOPIC_ID_VERSION {
                16
            } else {
                str_len(t.name.len())
            };
            n += arr_len(t.partitions.len());
            for p in &t.partitions {
                let len = p.records.len();
                n += 4 + len + tags + if fx { uvarint_len(len as u64 + 1) } else { 4 };
            }
            n += tags;
        }
        n + tags
    }
}

impl<'a> ProduceRequest<'a> {
    /// Decodes a body written at `version` (for tests and mock brokers), borrowing from `body`.
    /// In v13+ topics carry only their id: `name` is then empty. A null `records` field
    /// decodes as empty. Total: any input gives `Ok` or `Err`.
    pub fn decode(body: &'a [u8], version: i16) -> DecodeResult<ProduceRequest<'a>> {
        check_version(version, MIN_VERSION, MAX_VERSION)?;
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        let mut d = Decoder::new(body);
        let transactional_id = d.nullable_str(fx)?;
        let acks = d.i16()?;
        let timeout_ms = d.i32()?;
        let topics = read_array(&mut d, fx, 2, |d| {
            let (name, topic_id) = if version >= FIRST_TOPIC_ID_VERSION {
                ("", d.uuid()?)
            } else {
                (d.str(fx)?, [0; 16])
            };
            let partitions = read_array(d, fx, 5, |d| {
                let index = d.i32()?;
                let records = d.nullable_bytes(fx)?.unwrap_or_default();
                if fx {
                    d.skip_tagged_fields()?;
                }
                Ok(ProducePartition { index, records })
            })?;
            if fx {
                d.skip_tagged_fields()?;
            }
            Ok(ProduceTopic {
                name,
                topic_id,
                partitions,
            })
        })?;
        if fx {
            d.skip_tagged_fields()?;
        }
        Ok(ProduceRequest {
            transactional_id,
            acks,
            timeout_ms,
            topics,
        })
    }
}

super::api::impl_request!(ProduceRequest<'_>);

/// A record that caused its batch to be dropped (added in v8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Index of the record within the batch.
    pub batch_index: i32,
    /// Why, if the broker said.
    pub message: Option<String>,
}

/// Leader hint returned with `NOT_LEADER_OR_FOLLOWER` (tagged, added in v10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderIdAndEpoch {
    /// The current leader, -1 if unknown.
    pub leader_id: i32,
    /// Its epoch, -1 if unknown.
    pub leader_epoch: i32,
}

/// A broker endpoint for the leaders named in `current_leader` (tagged, added in v10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEndpoint {
    /// Broker id.
    pub node_id: i32,
    /// Host name.
    pub host: String,
    /// Port.
    pub port: i32,
    /// Rack, if assigned.
    pub rack: Option<String>,
}

/// One partition's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducePartitionResponse {
    /// Partition index.
    pub index: i32,
    /// The error, or `NONE`.
    pub error_code: ErrorCode,
    /// Offset of the first record of the batch.
    pub base_offset: i64,
    /// Broker append time if the topic uses LogAppendTime, else -1.
    pub log_append_time_ms: i64,
    /// The partition's log start offset (added in v5).
    pub log_start_offset: i64,
    /// Records that caused the batch to be dropped (added in v8).
    pub record_errors: Vec<RecordError>,
    /// Summary of why the batch was dropped (added in v8).
    pub error_message: Option<String>,
    /// The new leader, when the broker knows it (tagged, added in v10).
    pub current_leader: Option<LeaderIdAndEpoch>,
}

/// One topic's outcomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceTopicResponse {
    /// Topic name (v3-v12; empty in v13+).
    pub name: String,
    /// Topic id (v13+; zeros before).
    pub topic_id: [u8; 16],
    /// The partitions.
    pub partitions: Vec<ProducePartitionResponse>,
}

/// The Produce response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProduceResponse {
    /// Outcomes, per topic.
    pub topics: Vec<ProduceTopicResponse>,
    /// Throttle time in ms.
    pub throttle_time_ms: i32,
    /// Endpoints of new leaders (tagged, added in v10).
    pub node_endpoints: Vec<NodeEndpoint>,
}

impl ProduceResponse {
    /// Decodes a body written at `version`.
    pub fn decode(body: &[u8], version: i16) -> DecodeResult<Self> {
        check_version(version, MIN_VERSION, MAX_VERSION)?;
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        let mut d = Decoder::new(body);
        let topics = read_array(&mut d, fx, 2, |d| {
            let (name, topic_id) = if version >= FIRST_TOPIC_ID_VERSION {
                (String::new(), d.uuid()?)
            } else {
                (read_string(d, fx)?, [0; 16])
            };
            let partitions = read_array(d, fx, 22, |d| decode_partition(d, version))?;
            if fx {
                d.skip_tagged_fields()?;
            }
            Ok(ProduceTopicResponse {
                name,
                topic_id,
                partitions,
            })
        })?;
        let throttle_time_ms = d.i32()?;
        let mut node_endpoints = Vec::new();
        if fx {
            d.tagged_fields(|tag, data| {
                if tag == 0 && version >= 10 {
                    let mut t = Decoder::new(data);
                    node_endpoints = read_array(&mut t, true, 11, |t| {
                        let e = NodeEndpoint {
                            node_id: t.i32()?,
                            host: read_string(t, true)?,
                            port: t.i32()?,
                            rack: read_nullable_string(t, true)?,
                        };
                        t.skip_tagged_fields()?;
                        Ok(e)
                    })?;
                }
                Ok(())
            })?;
        }
        Ok(ProduceResponse {
            topics,
            throttle_time_ms,
            node_endpoints,
        })
    }

    /// Appends the body at `version` (for tests and mock brokers). `current_leader` and
    /// `node_endpoints` are written only when present (and only from v10).
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        put_array_len(buf, self.topics.len(), fx);
        for t in &self.topics {
            if version >= FIRST_TOPIC_ID_VERSION {
                put_uuid(buf, &t.topic_id);
            } else {
                put_string(buf, &t.name, fx);
            }
            put_array_len(buf, t.partitions.len(), fx);
            for p in &t.partitions {
                put_i32(buf, p.index);
                put_i16(buf, p.error_code.0);
                put_i64(buf, p.base_offset);
                put_i64(buf, p.log_append_time_ms);
                if version >= 5 {
                    put_i64(buf, p.log_start_offset);
                }
                if version >= 8 {
                    put_array_len(buf, p.record_errors.len(), fx);
                    for e in &p.record_errors {
                        put_i32(buf, e.batch_index);
                        put_nullable_string(buf, e.message.as_deref(), fx);
                        if fx {
                            put_empty_tagged_fields(buf);
                        }
                    }
                    put_nullable_string(buf, p.error_message.as_deref(), fx);
                }
                if fx {
                    match p.current_leader {
                        Some(l) if version >= 10 => {
                            buf.extend_from_slice(&[1, 0, 9]); // one field, tag 0, 9 bytes
                            put_i32(buf, l.leader_id);
                            put_i32(buf, l.leader_epoch);
                            put_empty_tagged_fields(buf);
                        }
                        _ => put_empty_tagged_fields(buf),
                    }
                }
            }
            if fx {
                put_empty_tagged_fields(buf);
            }
        }
        put_i32(buf, self.throttle_time_ms);
        if fx {
            if version >= 10 && !self.node_endpoints.is_empty() {
                let mut t = Vec::new();
                put_array_len(&mut t, self.node_endpoints.len(), true);
                for e in &self.node_endpoints {
                    put_i32(&mut t, e.node_id);
                    put_string(&mut t, &e.host, true);
                    put_i32(&mut t, e.port);
                    put_nullable_string(&mut t, e.rack.as_deref(), true);
                    put_empty_tagged_fields(&mut t);
                }
                put_uvarint(buf, 1);
                put_uvarint(buf, 0);
                put_uvarint(buf, t.len() as u64);
                buf.extend_from_slice(&t);
            } else {
                put_empty_tagged_fields(buf);
            }
        }
    }
}

fn decode_partition(d: &mut Decoder<'_>, version: i16) -> DecodeResult<ProducePartitionResponse> {
    let fx = version >= FIRST_FLEXIBLE_VERSION;
    let mut p = ProducePartitionResponse {
        index: d.i32()?,
        error_code: ErrorCode(d.i16()?),
        base_offset: d.i64()?,
        log_append_time_ms: d.i64()?,
        log_start_offset: -1,
        record_errors: Vec::new(),
        error_message: None,
        current_leader: None,
    };
    if version >= 5 {
        p.log_start_offset = d.i64()?;
    }
    if version >= 8 {
        p.record_errors = read_array(d, fx, 5, |d| {
            let e = RecordError {
                batch_index: d.i32()?,
                message: read_nullable_string(d, fx)?,
            };
            if fx {
                d.skip_tagged_fields()?;
            }
            Ok(e)
        })?;
        p.error_message = read_nullable_string(d, fx)?;
    }
    if fx {
        let mut leader = None;
        d.tagged_fields(|tag, data| {
            if tag == 0 && version >= 10 {
                let mut t = Decoder::new(data);
                leader = Some(LeaderIdAndEpoch {
                    leader_id: t.i32()?,
                    leader_epoch: t.i32()?,
                });
                t.skip_tagged_fields()?;
            }
            Ok(())
        })?;
        p.current_leader = leader;
    }
    Ok(p)
}

super::api::impl_response!(ProduceResponse);

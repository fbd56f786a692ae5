//! The records a user sends and the metadata the broker answers with.

use std::fmt;
use std::sync::Arc;

/// A topic name and partition number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name. Shared, since many batches and records name the same topic.
    pub topic: Arc<str>,
    /// Partition number.
    pub partition: i32,
}

impl TopicPartition {
    /// A topic-partition.
    pub fn new(topic: impl Into<Arc<str>>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// A record header: a string key and an optional byte value (Kafka allows null header values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header key.
    pub key: String,
    /// Header value; `None` is written as a null value.
    pub value: Option<Vec<u8>>,
}

impl Header {
    /// A header with a value.
    pub fn new(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Header {
            key: key.into(),
            value: Some(value.into()),
        }
    }
}

/// A record to send: topic, optional partition, key, value and timestamp, and headers.
///
/// ```
/// use kafka_sync::{Header, ProducerRecord};
/// let r = ProducerRecord::new("events", Some("user-1".to_string()), Some("clicked".to_string()))
///     .with_header(Header::new("source", "web"))
///     .with_timestamp(1_700_000_000_000);
/// assert_eq!(r.topic, "events");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerRecord<K, V> {
    /// Destination topic.
    pub topic: String,
    /// Partition chosen by the caller; `None` lets the partitioner choose.
    pub partition: Option<i32>,
    /// Key; keyed records go to `murmur2(key) % partitions` as in the Java client.
    pub key: Option<K>,
    /// Value; `None` is a tombstone.
    pub value: Option<V>,
    /// Create time in milliseconds since the epoch; `None` means "now" at send time.
    pub timestamp: Option<i64>,
    /// Headers, written in order.
    pub headers: Vec<Header>,
}

impl<K, V> ProducerRecord<K, V> {
    /// A record with an optional key and value.
    pub fn new(topic: impl Into<String>, key: Option<K>, value: Option<V>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            key,
            value,
            timestamp: None,
            headers: Vec::new(),
        }
    }
    /// A keyless record with a value.
    pub fn with_value(topic: impl Into<String>, value: V) -> Self {
        Self::new(topic, None, Some(value))
    }
    /// Sets the partition.
    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }
    /// Sets the create timestamp (ms since the epoch).
    pub fn with_timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }
    /// Adds a header.
    pub fn with_header(mut self, header: Header) -> Self {
        self.headers.push(header);
        self
    }
}

/// What the broker said about a written record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset of the record in the partition; -1 when acks=0 (no answer was awaited), as in Java.
    pub offset: i64,
    /// The record's create time, or the broker's log-append time when the topic uses it.
    pub timestamp: i64,
    /// Size of the serialized key in bytes (-1 for no key).
    pub serialized_key_size: i32,
    /// Size of the serialized value in bytes (-1 for no value).
    pub serialized_value_size: i32,
}

/// What Kafka says about one partition of a topic ([`Producer::partitions_for`](crate::Producer::partitions_for)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// Broker id of the leader, if the partition has one.
    pub leader: Option<i32>,
    /// Broker ids of the replicas.
    pub replicas: Vec<i32>,
    /// Broker ids of the in-sync replicas.
    pub in_sync_replicas: Vec<i32>,
}

/// A consumer's group membership, for
/// [`Producer::send_offsets_to_transaction`](crate::Producer::send_offsets_to_transaction)
/// (Java's `ConsumerGroupMetadata`): the group coordinator fences a commit from a member that
/// left the group or an older generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    /// The group id.
    pub group_id: String,
    /// The group's generation (-1: not a member, as a consumer without group management).
    pub generation_id: i32,
    /// The member id ("" when not a member).
    pub member_id: String,
    /// The static member's `group.instance.id`, if any.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// A group without membership details (generation -1, no member id), as Java's
    /// `new ConsumerGroupMetadata(groupId)`.
    pub fn new(group_id: impl Into<String>) -> Self {
        ConsumerGroupMetadata {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

/// The offset to commit for a partition (Java's `OffsetAndMetadata`): the next record the
/// group will read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The offset (of the next record to consume).
    pub offset: i64,
    /// Metadata stored with it, if any.
    pub metadata: Option<String>,
    /// The leader epoch of the last consumed record, if known.
    pub leader_epoch: Option<i32>,
}

impl OffsetAndMetadata {
    /// An offset without metadata or leader epoch.
    pub fn new(offset: i64) -> Self {
        OffsetAndMetadata {
            offset,
            metadata: None,
            leader_epoch: None,
        }
    }
}

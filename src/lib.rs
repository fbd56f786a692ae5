//! A synchronous Apache Kafka producer in pure Rust.
//!
//! The caller's thread serializes, partitions and appends each record to an in-memory
//! accumulator; one dedicated OS thread does all network I/O and answers every record exactly
//! once, through a blocking future or a callback. Semantics follow the Java `KafkaProducer` 4.x:
//! the same property names, defaults, partitioner and errors.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod accumulator;
mod config;
mod error;
mod future;
mod metadata;
mod net;
mod partitioner;
mod producer;
pub mod protocol;
mod record;
mod sender;
mod serializer;
mod topic;

pub use config::{
    Acks, BrokerAddress, CompressionType, ProducerConfig, ProducerConfigBuilder, SecurityProtocol,
};
pub use error::{Delivery, Error, Result};
pub use future::{Callback, SendFuture};
pub use partitioner::{murmur2, partition_for_key, to_positive, Partitioner, TopicLayout};
pub use producer::{PartitionInfo, Producer};
pub use record::{Header, ProducerRecord, RecordMetadata, TopicPartition};
pub use serializer::{DefaultSerializer, Serializer};

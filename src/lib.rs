//! A synchronous Apache Kafka producer in pure Rust.
//!
//! The caller's thread serializes, partitions and appends each record to an in-memory
//! accumulator; one dedicated OS thread per [`Producer`] does all network I/O and answers every
//! record exactly once, through a blocking [`SendFuture`] or a callback. No async runtime, no C.
//! Semantics follow the Java `KafkaProducer` 4.x: the same property names and defaults
//! ([`ProducerConfig`]), the same partitioner (a key lands where a Java client puts it:
//! [`partition_for_key`]), idempotence on by default, and retries bounded by
//! `delivery.timeout.ms`.
//!
//! ```no_run
//! use kafka_sync::{Producer, ProducerConfig, ProducerRecord};
//! use std::time::Duration;
//!
//! let config = ProducerConfig::from_properties([
//!     ("bootstrap.servers", "127.0.0.1:9092"),
//!     ("linger.ms", "10"),
//! ])?;
//! let producer: Producer<String, String> = Producer::new(config)?;
//!
//! // Wait for this record's answer...
//! let md = producer
//!     .send(ProducerRecord::new("events", Some("k1".to_string()), Some("v1".to_string())))?
//!     .get()?;
//! println!("{}-{} @ {}", md.topic, md.partition, md.offset);
//!
//! // ...or be called back (on the producer's network thread: keep it short).
//! producer.send_with_callback(ProducerRecord::with_value("events", "v2".to_string()), |r| {
//!     if let Err(e) = r {
//!         eprintln!("not delivered ({:?}): {e}", e.delivery());
//!     }
//! })?;
//! producer.close(Duration::from_secs(10));
//! # Ok::<(), kafka_sync::Error>(())
//! ```
//!
//! # Delivery
//!
//! Every error reported for a record says, through [`Error::delivery`], whether the record is
//! certainly not in the log ([`Delivery::NotWritten`]: it was never sent, or the broker refused
//! it) or may be ([`Delivery::Unknown`]: a request carrying it went out and no clear answer came
//! back). Closing or dropping the producer never loses a record silently: what cannot be sent
//! in time is answered with [`Error::Closed`].
//!
//! # Transactions
//!
//! With `transactional.id`, [`Producer::init_transactions`], [`Producer::begin_transaction`],
//! [`Producer::commit_transaction`] and [`Producer::abort_transaction`] make records (and,
//! with [`Producer::send_offsets_to_transaction`], a consumer group's offsets) visible to
//! `read_committed` readers all together or never, as Java's. Their errors say what to do:
//! [`Error::is_abortable`] (abort, start again) or [`Error::is_fatal`] (fenced by a newer
//! instance: close); see [`TransactionErrorKind`]. On Kafka 4.x brokers (finalized
//! `transaction.version` 2) transactions protocol v2 (KIP-890), v1 elsewhere.
//!
//! # Metrics
//!
//! [`Producer::metrics`] is a snapshot with the Java producer's metric names, groups and tags
//! (`producer-metrics:record-send-total`, per broker and per topic), windowed as Java computes
//! rates; [`Metrics::to_java_text`] prints Java's `--print-metrics` layout and
//! [`Metrics::to_prometheus`] the Prometheus text format, for a service's own endpoint.
//!
//! # Interceptors
//!
//! A [`ProducerInterceptor`] (Java's) sees every record before it is serialized and
//! partitioned, and may change it; it hears every record's answer exactly once
//! ([`Acknowledgement`]). Register them with [`Producer::builder`]; one that panics or errs is
//! logged and skipped, and the record is still sent. `examples/trace_header.rs` adds a trace
//! header to every record.
//!
//! # Testing your code
//!
//! [`RecordProducer`] is the sending interface as a trait (Java's `Producer` interface),
//! implemented by [`Producer`] and by [`MockProducer`], which needs no broker: it keeps what
//! was sent ([`MockProducer::history`]), answers at once or when told
//! ([`MockProducer::complete_next`], [`MockProducer::error_next`]), and partitions as the real
//! producer does over the topics it is given. Write the code that sends against the trait and
//! test it with the mock:
//!
//! ```
//! use kafka_sync::{MockProducer, ProducerRecord, RecordProducer, Result};
//!
//! fn publish(producer: &impl RecordProducer<String, String>, order: &str) -> Result<i32> {
//!     let record = ProducerRecord::new("orders", Some(order.to_string()), Some("created".to_string()));
//!     Ok(producer.send(record)?.get()?.partition)
//! }
//!
//! let mock = MockProducer::new().with_topic("orders", 6);
//! assert_eq!(publish(&mock, "o-1")?, kafka_sync::partition_for_key(b"o-1", 6));
//! assert_eq!(mock.history().len(), 1);
//! # Ok::<(), kafka_sync::Error>(())
//! ```
//!
//! # Threads
//!
//! `Producer` is `Send + Sync`; share one between threads in an `Arc`. `send` blocks only for
//! metadata of a topic it has not seen and for `buffer.memory`, each bounded by `max.block.ms`.
//!
//! # Cargo features
//!
//! `gzip`, `snappy`, `lz4`, `zstd` (codecs) and `sasl-scram` (SCRAM-SHA-256/512) are on by
//! default and pure Rust. `rustls`, on by default too, adds TLS, `security.protocol` `SSL` and
//! `SASL_SSL`, with PKCS12 and PEM key stores and the system's trust store (see
//! [`ProducerConfig`]); its crypto provider, `ring`, compiles C, so the default build needs a C
//! compiler. `rustls-graviola` is the same TLS with the pure-Rust graviola provider (x86_64 and
//! aarch64); `--no-default-features` needs no C compiler. `webpki-roots` trusts the bundled
//! Mozilla CAs when the system's store is empty. `oauth-oidc` (off by default, pure Rust:
//! `ureq`) adds SASL/OAUTHBEARER's OIDC client-credentials login (Java's
//! `OAuthBearerLoginCallbackHandler`); an `https://` token endpoint needs a TLS feature too.
//! OAUTHBEARER itself (Java's unsecured login, and an
//! [`OAuthBearerTokenProvider`] of your own) needs no feature.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod accumulator;
mod backoff;
pub mod compression;
mod config;
mod error;
mod future;
mod hash;
mod interceptor;
mod metadata;
mod metrics;
mod mock;
mod net;
mod partitioner;
mod producer;
pub mod protocol;
mod reachability;
#[cfg(test)]
mod readme_section;
mod record;
mod record_producer;
mod send_cache;
mod sender;
mod serializer;
mod topic;

pub use config::{
    Acks, BrokerAddress, ClientDnsLookup, CompressionType, OAuthBearerToken,
    OAuthBearerTokenProvider, ProducerConfig, ProducerConfigBuilder, SaslMechanism,
    SecurityProtocol, TokenProviderError,
};
pub use error::{Delivery, Error, Result, TransactionErrorKind};
pub use future::{Callback, SendFuture};
pub use interceptor::{Acknowledgement, InterceptorError, ProducerInterceptor};
pub use metrics::{Metric, MetricKind, MetricName, Metrics};
pub use mock::MockProducer;
pub use partitioner::{murmur2, partition_for_key, to_positive, Partitioner, TopicLayout};
pub use producer::{Producer, ProducerBuilder};
pub use record::{
    ConsumerGroupMetadata, Header, OffsetAndMetadata, PartitionInfo, ProducerRecord,
    RecordMetadata, TopicPartition,
};
pub use record_producer::RecordProducer;
pub use serializer::{DefaultSerializer, Serializer};

//! The public error type.
//!
//! Every error reported for a record says, through [`Error::delivery`], whether the record was
//! definitely not written ([`Delivery::NotWritten`]) or may have been written
//! ([`Delivery::Unknown`]: a request carrying it went out and no answer came back).

use crate::protocol::ErrorCode;
use std::sync::Arc;
use std::time::Duration;

/// Whether a failed record may nevertheless be in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The record is not in the log: it was never sent, or the broker rejected it.
    NotWritten,
    /// The record may be in the log: it was sent and no definite answer came back
    /// (timeout, connection lost after the request went out, producer closed while in flight).
    Unknown,
}

/// What a transaction error leaves the application to do ([`Error::Transaction`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransactionErrorKind {
    /// The current transaction cannot commit (a record of it failed, the coordinator refused
    /// it): call `abort_transaction`, then start again with a new transaction. Records of an
    /// aborted transaction are never seen by `read_committed` readers.
    Abortable,
    /// The producer can do no more transactions: fenced by a newer producer with the same
    /// `transactional.id`, not authorized, a broker without transactions. Close it; create a
    /// new one only if no other instance is meant to own the transactional id.
    Fatal,
    /// The call is not allowed in the producer's state (a send outside a transaction,
    /// `begin_transaction` twice, `commit_transaction` without one, a call before
    /// `init_transactions`, a call while another is under way): a bug in the calling code.
    /// Nothing changed.
    InvalidState,
    /// `max.block.ms` ran out before the call completed. The operation goes on: call the same
    /// method again to wait for its result.
    TimedOut,
}

/// Errors of this crate.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration property is missing, malformed or conflicts with another.
    #[error("invalid configuration `{property}`: {reason}")]
    Config {
        /// The property name, as in the Java client (`linger.ms`, ...).
        property: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The key or value serializer failed; nothing was queued.
    #[error("serialization of the record's {part} failed: {reason}")]
    Serialization {
        /// `"key"` or `"value"`.
        part: &'static str,
        /// The serializer's message.
        reason: String,
    },
    /// The topic name is not a legal Kafka topic name.
    #[error("invalid topic name {topic:?}: {reason}")]
    InvalidTopic {
        /// The name.
        topic: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// The record's serialized size exceeds `max.request.size` or `buffer.memory`.
    #[error("the record is {size} bytes, larger than {limit_name} ({limit})")]
    RecordTooLarge {
        /// Estimated serialized size.
        size: usize,
        /// The configured limit.
        limit: usize,
        /// Which limit: `max.request.size` or `buffer.memory`.
        limit_name: &'static str,
    },
    /// The requested partition does not exist.
    #[error("partition {partition} of topic {topic:?} does not exist (it has {partitions})")]
    UnknownPartition {
        /// Topic.
        topic: String,
        /// Requested partition.
        partition: i32,
        /// Partitions the topic has.
        partitions: i32,
    },
    /// Metadata for the topic did not arrive within `max.block.ms`: the topic does not exist
    /// and auto-creation is off, or no broker could be reached. In the second case the error
    /// names the brokers that failed during the wait and the last connection error:
    ///
    /// ```text
    /// topic "events" not present in metadata after 3s (max.block.ms; 0 metadata answers in
    /// that time); could not connect to 127.0.0.1:9099 (last error: 127.0.0.1:9099: Connection
    /// refused (os error 111))
    /// ```
    #[error(
        "topic {topic:?} not present in metadata after {waited:?} (max.block.ms; {refreshes} metadata answers in that time){}",
        unreached_suffix(unreachable_brokers, last_connection_error.as_deref())
    )]
    MetadataTimeout {
        /// Topic.
        topic: String,
        /// How long the caller waited.
        waited: Duration,
        /// Brokers (`host:port`) whose connections failed during the wait and that have not
        /// connected since; empty when every broker tried answered.
        unreachable_brokers: Vec<String>,
        /// The most recent of those failures, as `host:port: reason`.
        last_connection_error: Option<Arc<str>>,
        /// Metadata answers received during the wait: some, and the topic was not in them (it
        /// does not exist, or is not yet known to the broker asked); none, and no broker
        /// answered in time.
        refreshes: u64,
    },
    /// `buffer.memory` stayed full for `max.block.ms`.
    #[error(
        "buffer.memory exhausted: no room for {requested} bytes after {waited:?} (max.block.ms)"
    )]
    BufferExhausted {
        /// Bytes the record needed.
        requested: usize,
        /// How long the caller waited.
        waited: Duration,
    },
    /// The broker answered with an error code.
    #[error("broker error {code}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Broker {
        /// The code, with its name and retriable flag from the table.
        code: ErrorCode,
        /// The broker's error message, if it sent one.
        message: Option<Arc<str>>,
        /// [`Delivery::NotWritten`] when the broker refused every attempt to write the record;
        /// [`Delivery::Unknown`] when an earlier attempt got no clear answer (it may be in the
        /// log from that attempt) before the broker refused a retry.
        delivery: Delivery,
    },
    /// The record was not acknowledged within `delivery.timeout.ms`.
    #[error("delivery timed out after {elapsed:?} (delivery.timeout.ms){}", last_error.as_deref().map(|e| format!("; last error: {e}")).unwrap_or_default())]
    DeliveryTimeout {
        /// Time since the record was appended.
        elapsed: Duration,
        /// Whether a request carrying the record was ever sent.
        delivery: Delivery,
        /// The last error seen for the batch, if any.
        last_error: Option<Arc<str>>,
    },
    /// A network failure (connect, read, write, or a malformed response).
    #[error("network error talking to {broker}: {reason}")]
    Network {
        /// The broker address.
        broker: String,
        /// What failed.
        reason: String,
        /// Whether a request carrying the record had gone out.
        delivery: Delivery,
    },
    /// SASL authentication with a broker failed: wrong credentials, a mechanism the broker
    /// does not enable, a listener that does not speak SASL, or a broker that failed to prove
    /// it knows the SCRAM credentials. Also a TLS handshake that failed (a certificate not
    /// signed by a trusted CA, or not naming the broker's host): the reason then starts with
    /// "TLS handshake failed". Records are failed with it instead of waiting for
    /// `delivery.timeout.ms`, and `send` fails with it instead of waiting `max.block.ms` for
    /// metadata. Not retriable: the configuration (or the broker's) must change.
    #[error("authentication with {broker} failed: {reason}")]
    Authentication {
        /// The broker address.
        broker: String,
        /// What went wrong, with the broker's message when it sent one.
        reason: String,
        /// [`Delivery::NotWritten`] for a record that never went out; [`Delivery::Unknown`] for
        /// a queued retry whose earlier attempt got no clear answer.
        delivery: Delivery,
    },
    /// The producer could not start: the operating system refused something its network
    /// thread needs (the readiness poller, or the thread itself; typically a limit on open
    /// files or threads). Returned by `Producer::new` and `Producer::with_serializers` only,
    /// never for a record, so [`delivery`](Error::delivery) is [`Delivery::NotWritten`]. Not
    /// retriable: trying again at once meets the same limit. The message includes the
    /// operating system's error, which is also the [`source`](std::error::Error::source).
    #[error("cannot start the producer: {context}: {source}")]
    Startup {
        /// What could not be set up: `"cannot create the readiness poller"` or `"cannot spawn
        /// the sender thread"`.
        context: &'static str,
        /// The operating system's error.
        source: Arc<std::io::Error>,
    },
    /// The producer was closed before the record could be sent or answered.
    #[error("the producer was closed before the record was acknowledged")]
    Closed {
        /// Whether a request carrying the record had gone out.
        delivery: Delivery,
    },
    /// A fatal producer state (for example the idempotent producer id was fenced).
    #[error("fatal producer error: {0}")]
    Fatal(Arc<str>),
    /// A transaction call failed, or a record was answered with its transaction's failure
    /// (`transactional.id` producers). [`kind`](TransactionErrorKind) says what to do next:
    /// see [`Error::is_abortable`] and [`Error::is_fatal`].
    ///
    /// ```no_run
    /// # use kafka_sync::{Producer, ProducerConfig, ProducerRecord, Error};
    /// # let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:9092").transactional_id("tx-1").build()?;
    /// # let producer: Producer<String, String> = Producer::new(config)?;
    /// producer.init_transactions()?;
    /// producer.begin_transaction()?;
    /// producer.send(ProducerRecord::new("t", None, Some("v".to_string())))?;
    /// match producer.commit_transaction() {
    ///     Ok(()) => {}
    ///     // The records are not visible to read_committed readers: abort, then retry them.
    ///     Err(e) if e.is_abortable() => producer.abort_transaction()?,
    ///     // Fenced by a newer instance, not authorized...: this producer is finished.
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    #[error("transaction error ({kind:?}): {reason}")]
    Transaction {
        /// What the application should do.
        kind: TransactionErrorKind,
        /// What happened, naming the broker's error code when there is one.
        reason: Arc<str>,
    },
    /// `get_timeout` ran out before the answer came. The record is still in flight: this is
    /// not its final answer.
    #[error("timed out waiting for the record's result")]
    WaitTimeout,
}

/// `; could not connect to a, b (last error: ...)`, or nothing when every broker answered.
fn unreached_suffix(brokers: &[String], last: Option<&str>) -> String {
    if brokers.is_empty() {
        return String::new();
    }
    let last = last
        .map(|e| format!(" (last error: {e})"))
        .unwrap_or_default();
    format!("; could not connect to {}{last}", brokers.join(", "))
}

impl Error {
    /// Whether the record may have been written despite this error.
    pub fn delivery(&self) -> Delivery {
        match self {
            Error::DeliveryTimeout { delivery, .. }
            | Error::Broker { delivery, .. }
            | Error::Authentication { delivery, .. }
            | Error::Network { delivery, .. }
            | Error::Closed { delivery } => *delivery,
            Error::Fatal(_) | Error::WaitTimeout => Delivery::Unknown,
            // A record of an aborted transaction is never visible to read_committed readers.
            Error::Transaction { .. } => Delivery::NotWritten,
            // Config, Serialization, InvalidTopic, RecordTooLarge, UnknownPartition,
            // MetadataTimeout, BufferExhausted, Startup: nothing was sent.
            _ => Delivery::NotWritten,
        }
    }
    /// Whether the error is transient (sending the same record again may succeed).
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Broker { code, .. } => code.is_retriable(),
            Error::Network { .. }
            | Error::DeliveryTimeout { .. }
            | Error::MetadataTimeout { .. }
            | Error::BufferExhausted { .. }
            | Error::WaitTimeout => true,
            Error::Transaction { kind, .. } => *kind == TransactionErrorKind::TimedOut,
            _ => false,
        }
    }
    /// Whether this error leaves the current transaction abortable: call `abort_transaction`
    /// and go on with a new transaction ([`TransactionErrorKind::Abortable`]).
    pub fn is_abortable(&self) -> bool {
        matches!(
            self,
            Error::Transaction {
                kind: TransactionErrorKind::Abortable,
                ..
            }
        )
    }
    /// Whether the producer is finished: only `close` is left ([`Error::Fatal`],
    /// [`TransactionErrorKind::Fatal`]).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::Fatal(_)
                | Error::Transaction {
                    kind: TransactionErrorKind::Fatal,
                    ..
                }
        )
    }
    pub(crate) fn transaction(kind: TransactionErrorKind, reason: impl Into<String>) -> Self {
        Error::Transaction {
            kind,
            reason: Arc::from(reason.into()),
        }
    }
    pub(crate) fn startup(context: &'static str, source: std::io::Error) -> Self {
        Error::Startup {
            context,
            source: Arc::new(source),
        }
    }
    pub(crate) fn config(property: &str, reason: impl Into<String>) -> Self {
        Error::Config {
            property: property.to_string(),
            reason: reason.into(),
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn startup_errors_are_not_written_not_retriable_and_keep_the_os_error() {
        let os = std::io::Error::new(std::io::ErrorKind::OutOfMemory, "too many open files");
        let e = Error::startup("cannot create the readiness poller", os);
        assert_eq!(e.delivery(), Delivery::NotWritten);
        assert!(!e.is_retriable());
        assert_eq!(
            e.to_string(),
            "cannot start the producer: cannot create the readiness poller: too many open files"
        );
        let source = e.source().expect("the OS error is the source");
        assert_eq!(source.to_string(), "too many open files");
        let Error::Startup { source, .. } = e.clone() else {
            unreachable!()
        };
        assert_eq!(source.kind(), std::io::ErrorKind::OutOfMemory);
    }
}

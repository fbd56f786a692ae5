//! [`RecordProducer`]: the producer's sending interface as a trait, so code that sends can be
//! written once and run against the real [`Producer`](crate::Producer) or, in tests, a
//! [`MockProducer`](crate::MockProducer).

use crate::error::Error;
use crate::future::{Callback, SendFuture};
use crate::metrics::Metrics;
use crate::record::{
    ConsumerGroupMetadata, OffsetAndMetadata, PartitionInfo, ProducerRecord, TopicPartition,
};
use std::collections::HashMap;
use std::time::Duration;

/// What a producer does for the code that sends (Java's `Producer` interface; our struct of
/// that name is the real client): implemented by [`Producer`](crate::Producer) and by
/// [`MockProducer`](crate::MockProducer). Write the code that sends against this trait, and
/// unit-test it with the mock, no broker needed.
///
/// The methods mean what [`Producer`](crate::Producer)'s do. The trait is object safe
/// (`&dyn RecordProducer<K, V>`, `Arc<dyn RecordProducer<K, V> + Send + Sync>`), which is why
/// [`send_with_callback`](Self::send_with_callback) takes a boxed [`Callback`]; `Producer`'s
/// own method of that name also takes any closure.
///
/// The transaction calls are Java's `initTransactions`, `beginTransaction`,
/// `commitTransaction` and `abortTransaction` (the real producer needs `transactional.id`).
///
/// ```
/// use kafka_sync::{MockProducer, ProducerRecord, RecordProducer, Result};
///
/// /// Publishes an order; generic over the producer so tests can pass a mock.
/// fn publish(producer: &impl RecordProducer<String, String>, id: u32) -> Result<i64> {
///     let record = ProducerRecord::new("orders", Some(id.to_string()), Some("created".to_string()));
///     Ok(producer.send(record)?.get()?.offset)
/// }
///
/// let mock = MockProducer::new();
/// assert_eq!(publish(&mock, 7)?, 0);
/// assert_eq!(publish(&mock, 7)?, 1);
/// assert_eq!(mock.history()[1].key.as_deref(), Some("7"));
/// # Ok::<(), kafka_sync::Error>(())
/// ```
pub trait RecordProducer<K, V> {
    /// Sends a record; returns its [`SendFuture`], or the error that kept it from being queued
    /// ([`Producer::send`](crate::Producer::send)).
    fn send(&self, record: ProducerRecord<K, V>) -> Result<SendFuture, Error>;

    /// Sends a record and calls `callback` once with its answer
    /// ([`Producer::send_with_callback`](crate::Producer::send_with_callback)). When this
    /// returns an error, the callback is not called.
    fn send_with_callback(
        &self,
        record: ProducerRecord<K, V>,
        callback: Callback,
    ) -> Result<SendFuture, Error>;

    /// Returns once every record sent before has its answer
    /// ([`Producer::flush`](crate::Producer::flush)).
    fn flush(&self);

    /// The partitions of `topic` ([`Producer::partitions_for`](crate::Producer::partitions_for)).
    fn partitions_for(&self, topic: &str) -> Result<Vec<PartitionInfo>, Error>;

    /// Closes the producer; every record still pending gets its answer
    /// ([`Producer::close`](crate::Producer::close)).
    fn close(&self, timeout: Duration);

    /// A snapshot of the producer's metrics ([`Producer::metrics`](crate::Producer::metrics));
    /// empty from a [`MockProducer`](crate::MockProducer), as Java's mock's is.
    fn metrics(&self) -> Metrics;

    /// Initializes transactions ([`Producer::init_transactions`](crate::Producer::init_transactions)).
    fn init_transactions(&self) -> Result<(), Error>;

    /// Opens a transaction ([`Producer::begin_transaction`](crate::Producer::begin_transaction)).
    fn begin_transaction(&self) -> Result<(), Error>;

    /// Commits it ([`Producer::commit_transaction`](crate::Producer::commit_transaction)).
    fn commit_transaction(&self) -> Result<(), Error>;

    /// Aborts it ([`Producer::abort_transaction`](crate::Producer::abort_transaction)).
    fn abort_transaction(&self) -> Result<(), Error>;

    /// Commits a group's offsets with the transaction
    /// ([`Producer::send_offsets_to_transaction`](crate::Producer::send_offsets_to_transaction)).
    fn send_offsets_to_transaction(
        &self,
        offsets: &HashMap<TopicPartition, OffsetAndMetadata>,
        group: &ConsumerGroupMetadata,
    ) -> Result<(), Error>;
}

//! The transaction calls of [`Producer`] (a `transactional.id` producer): each checks and
//! starts an operation of the transaction state machine (`sender::TxnCore`), wakes the sender
//! and waits for the result, bounded by `max.block.ms`.

use super::Producer;
use crate::error::{Delivery, Error, TransactionErrorKind};
use crate::record::{ConsumerGroupMetadata, OffsetAndMetadata, TopicPartition};
use crate::sender::{TxnCore, TxnOp, TxnShared};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

impl<K, V> Producer<K, V> {
    /// The transaction state, or the error for a producer without `transactional.id`.
    fn txn(&self) -> Result<&TxnShared, Error> {
        self.inner.shared.txn.as_deref().ok_or_else(|| {
            Error::transaction(
                TransactionErrorKind::InvalidState,
                "transactional.id is not set: this producer has no transactions",
            )
        })
    }

    /// Starts `op` (`start`, under the transaction lock), wakes the sender, runs `then`
    /// (without the lock) and waits up to `deadline` for the result.
    fn run_txn_op(
        &self,
        op: TxnOp,
        deadline: Instant,
        start: impl FnOnce(&mut TxnCore) -> Result<(), Error>,
        then: impl FnOnce(),
    ) -> Result<(), Error> {
        let txn = self.txn()?;
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::Closed {
                delivery: Delivery::NotWritten,
            });
        }
        start(&mut txn.lock())?;
        self.inner.shared.wake();
        then();
        txn.wait(op, deadline)
    }

    /// Gets the producer id of `transactional.id` from its transaction coordinator, and ends
    /// what an earlier instance with the same id left open (its transaction is aborted; that
    /// instance is fenced: its next transaction call or write fails with a fatal error). Call
    /// once, before the first [`begin_transaction`](Self::begin_transaction).
    ///
    /// Bounded by `max.block.ms`: if it runs out, the error is
    /// [`TransactionErrorKind::TimedOut`] and the initialization goes on; calling this again
    /// waits for it. Other errors: [`TransactionErrorKind::InvalidState`] (no
    /// `transactional.id`, or called twice), [`TransactionErrorKind::Fatal`].
    ///
    /// ```no_run
    /// use kafka_sync::{Producer, ProducerConfig, ProducerRecord};
    ///
    /// let config = ProducerConfig::builder()
    ///     .bootstrap_servers("127.0.0.1:9092")
    ///     .transactional_id("orders-relay-1")
    ///     .build()?;
    /// let producer: Producer<String, String> = Producer::new(config)?;
    /// producer.init_transactions()?;
    /// producer.begin_transaction()?;
    /// producer.send(ProducerRecord::new("orders", None, Some("created".to_string())))?;
    /// producer.send(ProducerRecord::new("audit", None, Some("order created".to_string())))?;
    /// producer.commit_transaction()?; // both records, or (after an abort) neither
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn init_transactions(&self) -> Result<(), Error> {
        let deadline = Instant::now() + self.inner.config.max_block();
        self.run_txn_op(TxnOp::Init, deadline, TxnCore::init, || {})
    }

    /// Opens a transaction: records sent from now until the commit or abort belong to it.
    /// Local, as in Java (nothing is sent until the first record). Sending outside a
    /// transaction is refused ([`TransactionErrorKind::InvalidState`]).
    pub fn begin_transaction(&self) -> Result<(), Error> {
        self.txn()?.lock().begin()
    }

    /// Commits the transaction: flushes (every record sent in it gets its answer), then asks
    /// the coordinator to commit. When it returns `Ok`, every record of the transaction is
    /// visible to `read_committed` readers, or none would have been (a record failed: the
    /// error is [`TransactionErrorKind::Abortable`]; call
    /// [`abort_transaction`](Self::abort_transaction)). Fenced by a newer instance, the error
    /// is [`TransactionErrorKind::Fatal`]. Bounded by `max.block.ms` as
    /// [`init_transactions`](Self::init_transactions) is.
    pub fn commit_transaction(&self) -> Result<(), Error> {
        let deadline = Instant::now() + self.inner.config.max_block();
        self.run_txn_op(TxnOp::Commit, deadline, TxnCore::commit, || {
            // Lingering batches go at once; wait for every answer (Java flushes too).
            let acc = &self.inner.shared.accumulator;
            acc.begin_flush();
            self.inner.shared.wake();
            acc.await_flush_completion(deadline.saturating_duration_since(Instant::now()));
        })
    }

    /// Commits a consumer group's offsets as part of the transaction (Java's
    /// `sendOffsetsToTransaction`): they become the group's committed offsets if and only if
    /// the transaction commits. The consume-transform-produce loop: read, send the results,
    /// send the offsets read up to, commit. Nothing to do for no offsets.
    ///
    /// Protocol v1: AddOffsetsToTxn to the transaction coordinator, then TxnOffsetCommit to
    /// the group's coordinator; protocol v2: TxnOffsetCommit alone. Bounded by
    /// `max.block.ms`; errors as for [`commit_transaction`](Self::commit_transaction)
    /// (`ILLEGAL_GENERATION`, `UNKNOWN_MEMBER_ID`, `FENCED_INSTANCE_ID`: abortable).
    ///
    /// ```no_run
    /// use kafka_sync::{ConsumerGroupMetadata, OffsetAndMetadata, Producer, ProducerConfig, TopicPartition};
    /// use std::collections::HashMap;
    ///
    /// # let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:9092").transactional_id("tx").build()?;
    /// # let producer: Producer<String, String> = Producer::new(config)?;
    /// # producer.init_transactions()?;
    /// producer.begin_transaction()?;
    /// // ... send what records 0..42 of "input" partition 0 produced ...
    /// let offsets = HashMap::from([(TopicPartition::new("input", 0), OffsetAndMetadata::new(42))]);
    /// producer.send_offsets_to_transaction(&offsets, &ConsumerGroupMetadata::new("enricher"))?;
    /// producer.commit_transaction()?;
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn send_offsets_to_transaction(
        &self,
        offsets: &HashMap<TopicPartition, OffsetAndMetadata>,
        group: &ConsumerGroupMetadata,
    ) -> Result<(), Error> {
        if offsets.is_empty() {
            return Ok(());
        }
        let mut list: Vec<(TopicPartition, OffsetAndMetadata)> = offsets
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        list.sort_by(|a, b| (&a.0.topic, a.0.partition).cmp(&(&b.0.topic, b.0.partition)));
        let deadline = Instant::now() + self.inner.config.max_block();
        let group = group.clone();
        self.run_txn_op(
            TxnOp::SendOffsets,
            deadline,
            |core| core.send_offsets(list, group),
            || {},
        )
    }

    /// Aborts the transaction: records not yet sent are answered at once with an
    /// [`TransactionErrorKind::Abortable`] error, the coordinator is asked to abort, and
    /// none of the transaction's records is ever visible to `read_committed` readers. Call
    /// it after an abortable error; then begin a new transaction. Bounded by `max.block.ms`.
    pub fn abort_transaction(&self) -> Result<(), Error> {
        let deadline = Instant::now() + self.inner.config.max_block();
        self.run_txn_op(TxnOp::Abort, deadline, TxnCore::abort, || {})
    }
}

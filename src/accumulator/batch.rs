//! [`ProducerBatch`]: one partition's batch of records, its bytes built in place, its retry
//! state and its completion.

use super::buffer_pool::BufferPool;
use crate::compression::CompressionType;
use crate::error::{Delivery, Error};
use crate::future::{BatchAck, BatchCompletion, RecordThunk};
use crate::protocol::record_batch::{AppendError, HeaderRef, RecordBatchBuilder, NO_SEQUENCE};
use crate::record::{Header, TopicPartition};
use std::sync::Arc;
use std::time::{Duration, Instant};

impl HeaderRef for Header {
    fn key(&self) -> &str {
        &self.key
    }
    fn value(&self) -> Option<&[u8]> {
        self.value.as_deref()
    }
}

/// A batch of records for one partition.
///
/// Owned by its partition queue in the accumulator until drained, then by the sender. Its
/// memory goes back to the pool when it is dropped; if it is dropped without an answer, its
/// records are failed with [`Error::Closed`] (so no record ever waits forever).
#[derive(Debug)]
pub struct ProducerBatch {
    tp: TopicPartition,
    builder: RecordBatchBuilder,
    /// Bytes of memory counted against `buffer.memory` (the buffer's size).
    pub(super) alloc_size: usize,
    /// The pool refused to grow the buffer: the batch counts as full.
    out_of_memory: bool,
    pool: Option<Arc<BufferPool>>,
    created: Instant,
    attempts: u32,
    last_attempt: Instant,
    drained: Option<Instant>,
    retry: bool,
    retry_backoff: Duration,
    completion: Arc<BatchCompletion>,
    /// The size at which the batch counts as full (ready to send without lingering):
    /// `batch.size`. Its write limit may be larger: a batch the sender has not taken yet keeps
    /// growing past it (see the accumulator's module docs).
    ready_size: usize,
    last_error: Option<Arc<str>>,
    /// An attempt ended without a definite answer (connection lost, request timed out,
    /// malformed response): the batch may be in the log whatever later attempts say.
    ambiguous: bool,
    /// The largest record appended (its encoded size), for the metrics.
    max_record_size: usize,
}

impl ProducerBatch {
    pub(crate) fn new(
        tp: TopicPartition,
        builder: RecordBatchBuilder,
        alloc_size: usize,
        pool: Option<Arc<BufferPool>>,
        completion: Arc<BatchCompletion>,
        now: Instant,
    ) -> Self {
        ProducerBatch {
            tp,
            builder,
            alloc_size,
            out_of_memory: false,
            pool,
            created: now,
            attempts: 0,
            last_attempt: now,
            drained: None,
            retry: false,
            retry_backoff: Duration::ZERO,
            completion,
            ready_size: usize::MAX,
            last_error: None,
            ambiguous: false,
            max_record_size: 0,
        }
    }

    /// A batch holding some of `parent`'s records after the broker refused `parent` as too
    /// large (see `split.rs`): it keeps the parent's creation time (delivery.timeout.ms runs
    /// on), its history (an earlier attempt without an answer may have written the records:
    /// failures still say so) and its drain (its sequence, set by the caller, is kept, not
    /// assigned again); it starts with no retries counted and no backoff, as Java's split
    /// batches do. `builder` is sealed; `pool` counts `alloc_size` bytes for it, if given.
    pub(super) fn split_off(
        parent: &ProducerBatch,
        builder: RecordBatchBuilder,
        alloc_size: usize,
        pool: Option<Arc<BufferPool>>,
        completion: Arc<BatchCompletion>,
    ) -> Self {
        if parent.was_sent() {
            completion.mark_sent();
        }
        ProducerBatch {
            tp: parent.tp.clone(),
            builder,
            alloc_size,
            out_of_memory: false,
            pool,
            created: parent.created,
            attempts: 0,
            last_attempt: parent.last_attempt,
            drained: parent.drained,
            retry: false,
            retry_backoff: Duration::ZERO,
            completion,
            ready_size: parent.ready_size,
            last_error: parent.last_error.clone(),
            ambiguous: parent.ambiguous,
            max_record_size: parent.max_record_size,
        }
    }

    /// Appends a record if it fits the batch's write limit: `Ok(None)` if it does not fit,
    /// an error if the record cannot be expressed in the batch format at all.
    pub(crate) fn try_append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Result<Option<RecordThunk>, Error> {
        let too_large = |size| Error::RecordTooLarge {
            size,
            limit: i32::MAX as usize,
            limit_name: "the record batch format",
        };
        let approx = key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len);
        // Sized once: checked against the limit and the memory, then written.
        let prepared = match self.builder.prepare(timestamp, key, value, headers) {
            Ok(p) => p,
            // A sealed batch takes nothing more, and a full one (by the format's limits)
            // neither: the record goes to a new batch, which says whether it fits at all.
            Err(AppendError::Closed) => return Ok(None),
            Err(AppendError::TooLarge) if self.builder.record_count() > 0 => return Ok(None),
            Err(AppendError::TooLarge) => return Err(too_large(approx)),
        };
        let size = prepared.size();
        if !self.builder.fits(size) {
            return Ok(None);
        }
        if !self.ensure_memory(self.builder.len().saturating_add(size)) {
            return Ok(None);
        }
        let relative_offset = self.builder.record_count();
        self.max_record_size = self.max_record_size.max(size);
        self.builder
            .append_prepared(prepared, timestamp, key, value, headers)
            .map_err(|_| too_large(size))?;
        Ok(Some(RecordThunk {
            relative_offset,
            timestamp,
            key_size: key.map_or(-1, |k| k.len() as i32),
            value_size: value.map_or(-1, |v| v.len() as i32),
        }))
    }

    /// Makes sure the buffer's accounted memory covers `needed` bytes. An uncompressed batch
    /// never needs more than its allocation (its write limit is the allocation); a compressed
    /// one may hold more uncompressed bytes than `batch.size` (its limit is on the estimated
    /// compressed size): its buffer then grows, at least doubling, and each growth is counted
    /// against `buffer.memory` first ([`BufferPool::try_reserve`], which never blocks). When
    /// the pool cannot give the memory now, the batch counts as full and the record goes to a
    /// new batch (whose allocation may block, outside the queue lock). So the bytes a batch
    /// holds are always within what the pool counted, until the batch is dropped and
    /// [`BufferPool::deallocate`] gets the grown size back.
    fn ensure_memory(&mut self, needed: usize) -> bool {
        if needed <= self.alloc_size {
            return true;
        }
        let target = needed.max(self.alloc_size.saturating_mul(2));
        if let Some(pool) = &self.pool {
            if !pool.try_reserve(target - self.alloc_size) {
                self.out_of_memory = true;
                return false;
            }
        }
        self.alloc_size = target;
        self.builder.reserve_total(target);
        true
    }

    /// The codec the batch is (or will be, once sealed) compressed with.
    pub fn compression(&self) -> CompressionType {
        self.builder.compression()
    }
    /// Compressed / uncompressed size of the records, once sealed with a codec (else 1.0).
    pub fn compression_ratio(&self) -> f32 {
        self.builder.compression_ratio()
    }

    /// Size of the records section before compression.
    pub(super) fn uncompressed_records_len(&self) -> usize {
        self.builder.uncompressed_records_len()
    }
    /// The largest record appended (its encoded size in the batch).
    pub fn max_record_size(&self) -> usize {
        self.max_record_size
    }
    /// The partition.
    pub fn topic_partition(&self) -> &TopicPartition {
        &self.tp
    }
    /// Records in the batch.
    pub fn record_count(&self) -> i32 {
        self.builder.record_count()
    }
    /// Size of the batch in bytes, header included: its wire size once sealed; while open, the
    /// estimated compressed size if it has a codec.
    pub fn size_in_bytes(&self) -> usize {
        self.builder.estimated_size()
    }
    /// Bytes the batch's buffer holds (uncompressed records, header included).
    pub(super) fn buffer_len(&self) -> usize {
        self.builder.len()
    }

    /// Whether the batch is full: no further record fits, or it reached the size at which it
    /// is sent without lingering ([`set_ready_size`](Self::set_ready_size)).
    pub fn is_full(&self) -> bool {
        self.out_of_memory
            || self.builder.is_full()
            || self.builder.estimated_size() >= self.ready_size
    }

    /// Sets the size at which the batch counts as full (default: only when nothing fits).
    pub(crate) fn set_ready_size(&mut self, size: usize) {
        self.ready_size = size;
    }
    /// Seals the batch (header and CRC written); idempotent. The accumulator seals every
    /// batch it drains.
    pub fn close(&mut self) {
        self.builder.close();
    }
    /// Whether the batch is sealed.
    pub fn is_closed(&self) -> bool {
        self.builder.is_closed()
    }
    /// The batch's wire bytes (a complete record batch once [`close`](Self::close)d): the
    /// `records` field of a ProduceRequest partition.
    pub fn bytes(&self) -> &[u8] {
        self.builder.bytes()
    }

    /// When the batch was created (the start of `delivery.timeout.ms` for its records).
    pub fn created(&self) -> Instant {
        self.created
    }
    /// Retries so far (0 until the first [`reenqueue`](super::RecordAccumulator::reenqueue)).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
    /// When the batch was last re-enqueued (or created).
    pub fn last_attempt(&self) -> Instant {
        self.last_attempt
    }
    /// When the batch was last drained, if ever.
    pub fn drained_at(&self) -> Option<Instant> {
        self.drained
    }
    /// Whether the batch is queued for a retry.
    pub fn is_retry(&self) -> bool {
        self.retry
    }
    /// Whether the batch is still waiting out its retry backoff at `now`.
    pub fn in_retry_backoff(&self, now: Instant) -> bool {
        self.retry && now.saturating_duration_since(self.last_attempt) < self.retry_backoff
    }
    /// The backoff chosen at the last re-enqueue.
    pub fn retry_backoff(&self) -> Duration {
        self.retry_backoff
    }
    /// Whether `delivery_timeout` has passed since creation at `now`.
    pub fn has_reached_delivery_timeout(&self, delivery_timeout: Duration, now: Instant) -> bool {
        now.saturating_duration_since(self.created) >= delivery_timeout
    }

    pub(crate) fn drained(&mut self, now: Instant) {
        self.drained = Some(now);
    }
    pub(crate) fn reenqueued(&mut self, now: Instant, backoff: Duration) {
        self.attempts = self.attempts.saturating_add(1);
        self.last_attempt = now;
        self.retry = true;
        self.retry_backoff = backoff;
    }

    /// Records that a request carrying this batch is going out. From then on, failures must
    /// say [`Delivery::Unknown`]. The accumulator's `drain` calls it (conservatively).
    pub fn mark_sent(&mut self) {
        self.completion.mark_sent();
    }
    /// Whether a request carrying this batch ever went out.
    pub fn was_sent(&self) -> bool {
        self.completion.was_sent()
    }
    /// The attempt in flight came back refused by the broker (an error code for the partition:
    /// nothing appended). If no earlier attempt was ambiguous, the batch is certainly not in
    /// the log, and a failure says [`Delivery::NotWritten`] again.
    pub fn attempt_refused(&mut self) {
        if !self.ambiguous {
            self.completion.clear_sent();
        }
    }
    /// The attempt in flight ended without a definite answer: from now on the batch may be in
    /// the log ([`Delivery::Unknown`]), whatever later attempts say.
    pub fn attempt_ambiguous(&mut self) {
        self.ambiguous = true;
        self.completion.mark_sent();
    }
    /// The broker's answer to the last attempt proves the batch is not in the log after all
    /// (OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID for its sequence: the broker
    /// would have answered a duplicate otherwise): an earlier ambiguous attempt is settled,
    /// and a failure says [`Delivery::NotWritten`] again.
    pub fn proven_not_written(&mut self) {
        self.ambiguous = false;
        self.completion.clear_sent();
    }
    /// Whether an attempt ended without a definite answer.
    pub fn is_ambiguous(&self) -> bool {
        self.ambiguous
    }
    /// [`Delivery::Unknown`] once sent, else [`Delivery::NotWritten`]: what a failure of this
    /// batch means for its records.
    pub fn delivery_if_failed(&self) -> Delivery {
        self.completion.delivery_if_failed()
    }

    /// Sets producer id, epoch and base sequence (idempotence, transactions); the header and
    /// CRC are rewritten if the batch is already sealed.
    pub fn set_producer_state(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
        transactional: bool,
    ) {
        self.builder
            .set_producer_state(producer_id, producer_epoch, base_sequence, transactional);
    }
    /// Producer id in the header (-1 if none).
    pub fn producer_id(&self) -> i64 {
        self.builder.producer_id()
    }
    /// Producer epoch in the header (-1 if none).
    pub fn producer_epoch(&self) -> i16 {
        self.builder.producer_epoch()
    }
    /// Base sequence in the header (-1 if none).
    pub fn base_sequence(&self) -> i32 {
        self.builder.base_sequence()
    }
    /// Sequence of the batch's last record (base sequence + records - 1, wrapping as Kafka
    /// does); meaningless without a sequence.
    pub fn last_sequence(&self) -> i32 {
        self.base_sequence()
            .wrapping_add(self.record_count().max(1) - 1)
            & i32::MAX
    }
    /// Removes producer id, epoch and sequence (back to "never drained" for idempotence): the
    /// next drain assigns the current ones.
    pub fn clear_producer_state(&mut self) {
        self.builder.set_producer_state(-1, -1, NO_SEQUENCE, false);
    }
    /// Whether a sequence was assigned.
    pub fn has_sequence(&self) -> bool {
        self.builder.base_sequence() != NO_SEQUENCE
    }

    /// The last error seen for this batch (for [`Error::DeliveryTimeout`]'s `last_error`).
    pub fn last_error(&self) -> Option<&Arc<str>> {
        self.last_error.as_ref()
    }
    /// Records the last error seen for this batch.
    pub fn set_last_error(&mut self, e: impl Into<Arc<str>>) {
        self.last_error = Some(e.into());
    }

    /// The batch's shared completion (what its futures read).
    pub fn completion(&self) -> &Arc<BatchCompletion> {
        &self.completion
    }
    /// Completes the batch: its callbacks run on this thread, then its futures are answered.
    /// Returns `false` (ignored) if it was already completed.
    pub fn done(&self, result: Result<BatchAck, Error>) -> bool {
        self.completion.complete(result)
    }
    /// Whether the batch has its final answer.
    pub fn is_done(&self) -> bool {
        self.completion.is_completed()
    }
}

impl Drop for ProducerBatch {
    fn drop(&mut self) {
        if !self.completion.is_completed() {
            if self.record_count() > 0 {
                log::warn!(
                    "batch for {} dropped without an answer; failing its {} record(s)",
                    self.tp,
                    self.record_count()
                );
            }
            self.completion.complete(Err(Error::Closed {
                delivery: self.completion.delivery_if_failed(),
            }));
        }
        if let Some(pool) = self.pool.take() {
            pool.deallocate(self.builder.take_buffer(), self.alloc_size);
        }
    }
}

//! The record accumulator: per-partition queues of batches whose bytes are built in place,
//! bounded by `buffer.memory`, appended to by caller threads and drained by the sender thread.
//!
//! This is the Java `RecordAccumulator` / `ProducerBatch` / `BufferPool` split. It knows
//! batches and memory, not sockets: the sender asks which brokers have something to send
//! ([`RecordAccumulator::ready`]), takes batches for them ([`RecordAccumulator::drain`]),
//! completes them ([`ProducerBatch::done`]) and puts failed ones back for a retry
//! ([`RecordAccumulator::reenqueue`]). Time is passed in (`now`), never read, except for the
//! real waits (`max.block.ms` in `append`, `flush`).
//!
//! # Batch sizes
//!
//! A batch is *full* (sent without waiting for `linger.ms`) at `batch.size`, as in Java. Unlike
//! Java, a full batch the sender has not taken yet keeps taking records, up to
//! `batch.max.size`: that happens only while the sender is busy (every connection at
//! `max.in.flight.requests.per.connection`), so an idle partition sends Java's batches and a
//! partition under backlog sends fewer, larger ones (the idea of KIP-782), which costs the
//! client and the broker less per record. Its memory grows on demand, each step counted
//! against `buffer.memory` without blocking; a partition's next batch starts as large as its
//! last one grew, so steady backlog does not regrow (copy) every batch.
//!
//! # Lock rules
//!
//! - Order: `drain_index` → `queues` (the map; read or write) → one partition queue's
//!   mutex. A partition queue's mutex is never held while taking the `queues` lock, and two
//!   partition queues are never locked at once.
//! - The buffer pool, the incomplete-batch registry and each batch's completion have leaf
//!   locks: nothing else is taken while they are held.
//! - No lock is held while blocking for memory (`append` releases its queue, allocates, then
//!   locks again and re-checks) or while user callbacks run: batches are taken out of their
//!   queues first and completed afterwards.
//! - `drain_index` is used by the sender thread only.

mod batch;
mod buffer_pool;
mod load;
mod ratio;
mod split;

pub use self::batch::ProducerBatch;
pub use self::buffer_pool::BufferPool;
pub use self::ratio::CompressionRatioEstimator;

use crate::backoff::ExponentialBackoff;
use crate::compression::CompressionType;
use crate::error::{Delivery, Error};
use crate::future::{BatchCompletion, Callback, IncompleteBatches, RecordThunk, SendFuture};
use crate::hash::FastMap;
use crate::protocol::record_batch::{encoded_record_size, RecordBatchBuilder, BATCH_HEADER_LEN};
use crate::record::{Header, TopicPartition};
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Who leads a partition (implemented by the metadata cache).
pub trait LeaderLookup {
    /// The node id of the partition's leader, if known.
    fn leader_for(&self, tp: &TopicPartition) -> Option<i32>;
}

impl<F: Fn(&TopicPartition) -> Option<i32>> LeaderLookup for F {
    fn leader_for(&self, tp: &TopicPartition) -> Option<i32> {
        self(tp)
    }
}

/// Per-partition decisions the sender makes while draining: the idempotence / transactions
/// hook. Defaults let everything through and assign nothing.
pub trait DrainHook {
    /// Whether the front batch of `tp` may be drained now (for example: a producer id is
    /// known, the partition has fewer than 5 batches in flight, the partition was added to the
    /// transaction). `false` skips the partition for this drain. Runs with the partition's
    /// queue locked: it must not call back into the accumulator.
    fn can_drain(&mut self, _tp: &TopicPartition, _first: &ProducerBatch, _now: Instant) -> bool {
        true
    }
    /// Called for each drained batch after it is sealed. `first_time` is true on its first
    /// drain: that is where idempotence assigns producer id, epoch and base sequence
    /// ([`ProducerBatch::set_producer_state`]); retries keep them. No queue lock is held, but
    /// the drain's own lock is: the hook must not call `drain_with` again.
    fn on_drain(&mut self, _batch: &mut ProducerBatch, _first_time: bool) {}
}

/// Settings of the accumulator (from the producer config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccumulatorConfig {
    /// `batch.size`: the size of a new batch (larger only for one oversized record).
    pub batch_size: usize,
    /// `linger.ms`: how long a non-full batch waits for more records.
    pub linger: Duration,
    /// `buffer.memory`: the bound on memory held by queued and in-flight batches.
    pub buffer_memory: usize,
    /// `retry.backoff.ms`: the first retry backoff.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms`: the largest retry backoff.
    pub retry_backoff_max: Duration,
    /// `delivery.timeout.ms`: the time a record may take from append to final answer.
    pub delivery_timeout: Duration,
    /// `batch.max.size`: how large a batch may grow past `batch.size` while it waits for the
    /// sender (a partition under backlog). Not a Java property: Java's batches stop at
    /// `batch.size` (see the module docs).
    pub max_batch_size: usize,
    /// `compression.type`: the codec batches are compressed with when sealed.
    pub compression: CompressionType,
    /// The configured level for that codec (`None`: the codec's default).
    pub compression_level: Option<i32>,
}

impl Default for AccumulatorConfig {
    /// The Java producer's defaults.
    fn default() -> Self {
        AccumulatorConfig {
            batch_size: 16384,
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
            linger: Duration::from_millis(5),
            buffer_memory: 32 * 1024 * 1024,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(1000),
            delivery_timeout: Duration::from_millis(120_000),
            compression: CompressionType::None,
            compression_level: None,
        }
    }
}

/// What [`RecordAccumulator::append`] did.
#[derive(Debug)]
pub struct AppendResult {
    /// The record's answer (also delivered to the callback, if one was given).
    pub future: SendFuture,
    /// The batch the record went into is full, or more than one batch is queued: wake the
    /// sender.
    pub batch_is_full: bool,
    /// A new batch was started for this record: wake the sender, and let the sticky
    /// partitioner move on.
    pub new_batch_created: bool,
}

/// What [`RecordAccumulator::ready`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadyCheck {
    /// Leaders that have at least one sendable batch.
    pub ready_nodes: HashSet<i32>,
    /// How long until a batch not yet sendable may become so (linger or backoff left);
    /// `Duration::MAX` when nothing waits.
    pub next_ready_check_delay: Duration,
    /// Topics with queued batches whose partition leader is unknown: refresh metadata.
    pub unknown_leader_topics: HashSet<Arc<str>>,
}

/// One partition's queue of batches, and what the sender keeps of it between turns.
struct PartitionQueue {
    tp: TopicPartition,
    /// Creation order among all partitions: the stable order of round-robin draining.
    order: usize,
    batches: Mutex<VecDeque<ProducerBatch>>,
    /// Whether the queue is on the accumulator's list of partitions with batches. Changed
    /// only with `batches` locked, so an append and the sender's pruning cannot both miss it.
    listed: AtomicBool,
    /// What the partition's next batch allocates up front: about the size its last drained
    /// batch reached, so a partition under backlog does not grow each new batch again by
    /// copying, and one that sends a record or two per batch (a thousand partitions, keyed
    /// records) does not hold `batch.size` of `buffer.memory` for each.
    next_alloc: AtomicUsize,
    /// Records in the partition's last drained batch: how many callbacks the next one makes
    /// room for.
    last_records: AtomicUsize,
    /// How large a batch of this partition may grow (`batch.max.size`, or `batch.size` once
    /// the broker refused a grown batch as too large).
    grow_to: AtomicUsize,
}

type Queue = Arc<PartitionQueue>;

/// A partition's queue, looked up once ([`RecordAccumulator::partition`]) and appended to
/// with [`RecordAccumulator::append_to`] without a lookup per record.
#[derive(Clone)]
pub struct PartitionHandle(Queue);

impl std::fmt::Debug for PartitionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PartitionHandle({})", self.0.tp)
    }
}

/// How large a batch grows past `batch.size` while the sender is busy, by default
/// (`batch.max.size`): librdkafka's default `batch.size`, within Kafka's default
/// `message.max.bytes` (1,048,588).
const DEFAULT_MAX_BATCH_SIZE: usize = 1_000_000;

/// The smallest buffer a batch starts with (when its partition's batches are small).
const MIN_ALLOC: usize = 1024;

/// The most callbacks a new batch makes room for up front.
const MAX_CALLBACK_RESERVE: usize = 4096;

#[derive(Default)]
struct Queues {
    map: FastMap<TopicPartition, Queue>,
    /// Partitions in creation order: a stable order for round-robin draining.
    order: Vec<TopicPartition>,
}

/// Decrements a counter when dropped.
struct InProgress<'a>(&'a AtomicUsize);
impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Queues of batches per partition. Thread-safe: `append` from any thread, the rest from the
/// sender thread. See the [module docs](self) for the lock rules.
pub struct RecordAccumulator {
    config: AccumulatorConfig,
    pool: Arc<BufferPool>,
    queues: RwLock<Queues>,
    incomplete: Arc<IncompleteBatches>,
    next_batch_id: AtomicU64,
    flushes_in_progress: AtomicUsize,
    closed: AtomicBool,
    drain_index: Mutex<HashMap<i32, usize>>,
    /// The partitions that may have queued batches (each at most once): what the sender's
    /// per-turn work visits, so that it grows with the busy partitions, not with all of them.
    /// Lock order: a partition queue's lock, then this one (appends); the sender takes this
    /// one alone.
    active: Mutex<Vec<(TopicPartition, Queue)>>,
    backoff: ExponentialBackoff,
    ratios: CompressionRatioEstimator,
}

impl std::fmt::Debug for RecordAccumulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordAccumulator")
            .field("config", &self.config)
            .field("pool", &self.pool)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl RecordAccumulator {
    /// An accumulator with its own buffer pool of `buffer_memory` bytes.
    pub fn new(config: AccumulatorConfig) -> Self {
        let pool = Arc::new(BufferPool::new(config.buffer_memory, config.batch_size));
        let backoff = ExponentialBackoff::new(config.retry_backoff, config.retry_backoff_max);
        RecordAccumulator {
            config,
            pool,
            queues: RwLock::new(Queues::default()),
            incomplete: Arc::new(IncompleteBatches::default()),
            next_batch_id: AtomicU64::new(1),
            flushes_in_progress: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            drain_index: Mutex::new(HashMap::new()),
            active: Mutex::new(Vec::new()),
            backoff,
            ratios: CompressionRatioEstimator::default(),
        }
    }

    /// The buffer pool (its figures are read for the metrics).
    pub fn pool(&self) -> &BufferPool {
        &self.pool
    }

    fn queue(&self, tp: &TopicPartition) -> Queue {
        if let Some(q) = self.queues.read().map.get(tp) {
            return q.clone();
        }
        let mut qs = self.queues.write();
        if let Some(q) = qs.map.get(tp) {
            return q.clone();
        }
        let q: Queue = Arc::new(PartitionQueue {
            tp: tp.clone(),
            order: qs.order.len(),
            batches: Mutex::new(VecDeque::new()),
            listed: AtomicBool::new(false),
            next_alloc: AtomicUsize::new(self.config.batch_size),
            last_records: AtomicUsize::new(0),
            grow_to: AtomicUsize::new(self.growth_limit()),
        });
        qs.map.insert(tp.clone(), q.clone());
        qs.order.push(tp.clone());
        q
    }

    /// Puts `queue` on the list of partitions with batches. Call with its `batches` locked,
    /// after adding a batch.
    fn list(&self, tp: &TopicPartition, queue: &Queue) {
        if !queue.listed.swap(true, Ordering::AcqRel) {
            self.active.lock().push((tp.clone(), queue.clone()));
        }
    }

    /// The listed partitions that still have batches, in creation order; empty ones are
    /// taken off the list. Sender thread only.
    fn busy_partitions(&self) -> Vec<(TopicPartition, Queue)> {
        let listed = std::mem::take(&mut *self.active.lock());
        let mut busy = Vec::with_capacity(listed.len());
        for (tp, queue) in listed {
            let q = queue.batches.lock();
            if q.is_empty() {
                queue.listed.store(false, Ordering::Release);
            } else {
                drop(q);
                busy.push((tp, queue));
            }
        }
        busy.sort_unstable_by_key(|(_, q)| q.order);
        // Appends meanwhile listed only partitions that were off the list: no duplicates.
        self.active.lock().extend(busy.iter().cloned());
        busy
    }

    /// The listed partitions as they are (some may have emptied since the last
    /// [`busy_partitions`](Self::busy_partitions)): for the passes after `ready` in the same
    /// turn, which need not prune or sort the list again.
    fn listed_partitions(&self) -> Vec<(TopicPartition, Queue)> {
        self.active.lock().clone()
    }

    /// The write limit of a new batch: it is ready at `batch.size`, and grows past it while
    /// the sender has not taken it, up to this.
    fn growth_limit(&self) -> usize {
        self.config.max_batch_size.max(self.config.batch_size)
    }

    fn closed_error() -> Error {
        Error::Closed {
            delivery: Delivery::NotWritten,
        }
    }

    /// The queue of `tp`, for [`append_to`](Self::append_to).
    pub fn partition(&self, tp: &TopicPartition) -> PartitionHandle {
        PartitionHandle(self.queue(tp))
    }

    /// Appends a record to the partition's last batch, or to a new batch (allocating its
    /// memory, blocking up to `max_block` when `buffer.memory` is exhausted). A record larger
    /// than `batch.size` gets a batch of exactly its own size.
    ///
    /// `timestamp` is the record's create time (ms since the epoch), already resolved by the
    /// caller. The callback, if any, runs once with the record's answer, on the thread that
    /// completes the batch.
    #[allow(clippy::too_many_arguments)]
    pub fn append_to(
        &self,
        partition: &PartitionHandle,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
        callback: Option<Callback>,
        now: Instant,
        max_block: Duration,
    ) -> Result<AppendResult, Error> {
        if self.is_closed() {
            return Err(Self::closed_error());
        }
        let queue = &partition.0;
        let tp = &queue.tp;
        let mut callback = callback;

        // First try: the last batch of the partition.
        {
            let mut q = queue.batches.lock();
            if self.is_closed() {
                return Err(Self::closed_error());
            }
            if let Some(r) = Self::try_append_last(&mut q, timestamp, key, value, headers)? {
                drop(q);
                return Ok(self.finish_append(r, &mut callback, false));
            }
        }

        // A new batch: size it, then allocate without holding the queue lock.
        let first_size = encoded_record_size::<Header>(0, 0, key, value, headers).ok_or(
            Error::RecordTooLarge {
                size: key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len),
                limit: i32::MAX as usize,
                limit_name: "the record batch format",
            },
        )?;
        let record_size = BATCH_HEADER_LEN.saturating_add(first_size);
        let grow_to = queue.grow_to.load(Ordering::Relaxed);
        let size = queue
            .next_alloc
            .load(Ordering::Relaxed)
            .clamp(MIN_ALLOC.min(self.config.batch_size), grow_to)
            .max(record_size);
        let buf = self.pool.allocate(size, max_block)?;
        let ratio = self.ratios.estimation(&tp.topic, self.config.compression);

        let mut q = queue.batches.lock();
        if self.is_closed() {
            drop(q);
            self.pool.deallocate(buf, size);
            return Err(Self::closed_error());
        }
        // Another thread may have started a batch while this one waited for memory.
        if let Some(r) = Self::try_append_last(&mut q, timestamp, key, value, headers)? {
            drop(q);
            self.pool.deallocate(buf, size);
            return Ok(self.finish_append(r, &mut callback, false));
        }
        let id = self.next_batch_id.fetch_add(1, Ordering::AcqRel);
        let completion = BatchCompletion::new(id, tp.clone(), Some(self.incomplete.clone()));
        if callback.is_some() {
            // As many callbacks as the partition's last batch had records, or as records of
            // this one's size fit a batch at first (bounded: sizes vary).
            let expected = match queue.last_records.load(Ordering::Relaxed) {
                0 => size / first_size.max(1),
                n => n,
            };
            completion.reserve_callbacks(expected.min(MAX_CALLBACK_RESERVE));
        }
        let mut builder = RecordBatchBuilder::with_buffer(buf, grow_to.max(size));
        builder.set_compression(
            self.config.compression,
            self.config.compression_level,
            ratio,
        );
        let mut batch = ProducerBatch::new(
            tp.clone(),
            builder,
            size,
            Some(self.pool.clone()),
            completion.clone(),
            now,
        );
        batch.set_ready_size(self.config.batch_size.max(record_size));
        let thunk = match batch.try_append(timestamp, key, value, headers) {
            Ok(Some(t)) => t,
            // Cannot happen (the batch was sized for this record); fail the record, not the
            // process. The empty batch is dropped and its memory returned.
            Ok(None) => {
                return Err(Error::RecordTooLarge {
                    size: first_size,
                    limit: size,
                    limit_name: "batch.size",
                })
            }
            Err(e) => return Err(e),
        };
        let full = batch.is_full();
        q.push_back(batch);
        self.list(tp, queue);
        let batch_is_full = full || q.len() > 1;
        drop(q);
        Ok(self.finish_append(
            Appended {
                completion,
                thunk,
                batch_is_full,
            },
            &mut callback,
            true,
        ))
    }

    /// Appends to the last batch of `q` if the record fits (and the batch is still open and
    /// unanswered).
    fn try_append_last(
        q: &mut VecDeque<ProducerBatch>,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Result<Option<Appended>, Error> {
        let len = q.len();
        let Some(last) = q.back_mut() else {
            return Ok(None);
        };
        if last.is_closed() || last.is_done() {
            return Ok(None);
        }
        match last.try_append(timestamp, key, value, headers)? {
            None => Ok(None),
            Some(thunk) => Ok(Some(Appended {
                completion: last.completion().clone(),
                thunk,
                batch_is_full: len > 1 || last.is_full(),
            })),
        }
    }

    /// Registers the callback and builds the result; runs outside the queue lock.
    fn finish_append(
        &self,
        a: Appended,
        callback: &mut Option<Callback>,
        new_batch_created: bool,
    ) -> AppendResult {
        if let Some(cb) = callback.take() {
            if let Some(cb) = a.completion.add_callback(a.thunk, cb) {
                a.completion.run_late_callback(a.thunk, cb);
            }
        }
        AppendResult {
            future: SendFuture::new(a.completion, a.thunk),
            batch_is_full: a.batch_is_full,
            new_batch_created,
        }
    }

    /// Which leaders have a sendable batch: full, lingered `linger.ms`, retry backoff over,
    /// or any batch while a flush is in progress, the accumulator is closing, or callers wait
    /// for memory. Partitions in retry backoff are skipped.
    pub fn ready(&self, leaders: &impl LeaderLookup, now: Instant) -> ReadyCheck {
        let exhausted = self.pool.queued() > 0;
        let forced = exhausted || self.is_closed() || self.flush_in_progress();
        let mut out = ReadyCheck {
            next_ready_check_delay: Duration::MAX,
            ..ReadyCheck::default()
        };
        for (tp, queue) in &self.busy_partitions() {
            let q = queue.batches.lock();
            let Some(first) = q.front() else {
                continue;
            };
            let Some(leader) = leaders.leader_for(tp) else {
                out.unknown_leader_topics.insert(tp.topic.clone());
                continue;
            };
            if out.ready_nodes.contains(&leader) {
                continue;
            }
            let backing_off = first.in_retry_backoff(now);
            let (since, wait) = if first.is_retry() {
                (first.last_attempt(), first.retry_backoff())
            } else {
                (first.created(), self.config.linger)
            };
            let waited = now.saturating_duration_since(since);
            let full = q.len() > 1 || first.is_full();
            let sendable = full || waited >= wait || forced;
            if sendable && !backing_off {
                out.ready_nodes.insert(leader);
            } else {
                let left = wait.saturating_sub(waited);
                out.next_ready_check_delay = out.next_ready_check_delay.min(left);
            }
        }
        out
    }

    /// Takes, for each ready node, at most one batch per partition it leads, visiting the
    /// partitions round-robin from where the node's last drain stopped so none starves, and
    /// stopping before the total would exceed `max_request_size` (the first batch is always
    /// taken). Partitions in retry backoff, or refused by `hook`, are skipped. Every drained batch
    /// is sealed, marked sent, and passed to `hook`.
    pub fn drain_with(
        &self,
        leaders: &impl LeaderLookup,
        ready_nodes: &HashSet<i32>,
        max_request_size: usize,
        now: Instant,
        hook: &mut impl DrainHook,
    ) -> HashMap<i32, Vec<ProducerBatch>> {
        let mut out = HashMap::new();
        if ready_nodes.is_empty() {
            return out;
        }
        let mut drain_index = self.drain_index.lock();
        // The partitions with batches, by ready leader, in creation order: the work is in
        // the busy partitions, not in all the producer ever wrote to.
        let mut by_node: FastMap<i32, Vec<(TopicPartition, Queue)>> = FastMap::default();
        // `ready` pruned and ordered the list this turn; only what was listed since is out of
        // order, so each node's share is sorted again (cheap on a nearly sorted list).
        for (tp, queue) in self.listed_partitions() {
            if let Some(node) = leaders.leader_for(&tp).filter(|n| ready_nodes.contains(n)) {
                by_node.entry(node).or_default().push((tp, queue));
            }
        }
        for parts in by_node.values_mut() {
            parts.sort_by_key(|(_, q)| q.order);
        }
        for &node in ready_nodes {
            let Some(parts) = by_node.get(&node) else {
                continue;
            };
            let n = parts.len();
            let start = drain_index.get(&node).copied().unwrap_or(0) % n;
            let mut next_start = (start + 1) % n;
            let mut size = 0usize;
            let mut batches = Vec::new();
            for k in 0..n {
                let i = (start + k) % n;
                let (tp, queue) = &parts[i];
                let mut q = queue.batches.lock();
                // Batches answered while queued (aborted) are dropped, not sent.
                while q.front().is_some_and(ProducerBatch::is_done) {
                    q.pop_front();
                }
                let Some(first) = q.front() else {
                    continue;
                };
                if first.in_retry_backoff(now) {
                    continue;
                }
                if !batches.is_empty()
                    && size.saturating_add(first.size_in_bytes()) > max_request_size
                {
                    next_start = i;
                    break;
                }
                if !hook.can_drain(tp, first, now) {
                    continue;
                }
                let Some(mut batch) = q.pop_front() else {
                    continue;
                };
                drop(q);
                let first_time = batch.drained_at().is_none();
                if !batch.is_closed() {
                    // The next batch starts about as large as this one grew (`next_alloc`).
                    let used = batch.buffer_len();
                    let batch_size = self.config.batch_size;
                    let next = if used >= batch_size.saturating_mul(2) {
                        used.next_power_of_two()
                    } else if used < batch_size / 4 {
                        used.saturating_mul(2).next_power_of_two().max(MIN_ALLOC)
                    } else {
                        batch_size
                    };
                    queue.next_alloc.store(next, Ordering::Relaxed);
                    let records = usize::try_from(batch.record_count()).unwrap_or(0);
                    queue.last_records.store(records, Ordering::Relaxed);
                    batch.close();
                    self.observe_ratio(&batch);
                }
                hook.on_drain(&mut batch, first_time);
                batch.drained(now);
                batch.mark_sent();
                size = size.saturating_add(batch.size_in_bytes());
                batches.push(batch);
            }
            drain_index.insert(node, next_start);
            if !batches.is_empty() {
                out.insert(node, batches);
            }
        }
        out
    }

    /// Feeds a freshly sealed batch's compression ratio to the estimator (compressed batches
    /// only).
    fn observe_ratio(&self, batch: &ProducerBatch) {
        let codec = batch.compression();
        if codec != CompressionType::None && self.config.compression == codec {
            self.ratios.update(
                &batch.topic_partition().topic,
                codec,
                batch.compression_ratio(),
            );
        }
    }

    /// Puts a batch back for a retry, at the front of its partition queue (in base-sequence
    /// order among batches that have one), with the next exponential backoff.
    pub fn reenqueue(&self, mut batch: ProducerBatch, now: Instant) {
        let backoff = self.backoff.backoff(batch.attempts().saturating_add(1));
        batch.reenqueued(now, backoff);
        let tp = batch.topic_partition().clone();
        let queue = self.queue(&tp);
        let mut q = queue.batches.lock();
        self.list(&tp, &queue);
        insert_in_sequence_order(&mut q, batch);
    }

    /// Calls `f` on each batch queued for `tp`, front to back (retries first, in base-sequence
    /// order). The sender uses it to renumber idempotent sequences after a batch was dropped.
    pub fn for_each_queued(&self, tp: &TopicPartition, mut f: impl FnMut(&mut ProducerBatch)) {
        let Some(queue) = self.queues.read().map.get(tp).cloned() else {
            return;
        };
        let mut q = queue.batches.lock();
        q.iter_mut().for_each(&mut f);
    }

    /// Visits the batches queued for `tp`, front to back; those for which `f` returns true are
    /// removed and returned (in queue order), the others stay where they are (`f` may change
    /// them). The sender uses it when a partition's sequences restart under a new producer
    /// epoch: queued retries are renumbered, or taken out to be failed.
    pub fn take_queued_if(
        &self,
        tp: &TopicPartition,
        mut f: impl FnMut(&mut ProducerBatch) -> bool,
    ) -> Vec<ProducerBatch> {
        let Some(queue) = self.queues.read().map.get(tp).cloned() else {
            return Vec::new();
        };
        let mut q = queue.batches.lock();
        let mut taken = Vec::new();
        let mut kept = VecDeque::with_capacity(q.len());
        for mut b in q.drain(..) {
            if f(&mut b) {
                taken.push(b);
            } else {
                kept.push_back(b);
            }
        }
        *q = kept;
        taken
    }

    /// Removes and returns the queued batches whose `delivery.timeout.ms` has passed (from the
    /// front of each partition queue). The caller fails them.
    pub fn expired_batches(&self, now: Instant) -> Vec<ProducerBatch> {
        let mut out = Vec::new();
        for (_, queue) in self.listed_partitions() {
            let mut q = queue.batches.lock();
            while q
                .front()
                .is_some_and(|b| b.has_reached_delivery_timeout(self.config.delivery_timeout, now))
            {
                if let Some(b) = q.pop_front() {
                    out.push(b);
                }
            }
        }
        out
    }

    /// Removes and returns the queued batches never drained (not retries, not those in
    /// flight), for the caller to fail: a transaction aborts what it has not sent (Java's
    /// `abortUndrainedBatches`).
    pub fn take_undrained(&self) -> Vec<ProducerBatch> {
        let mut out = Vec::new();
        for (_, queue) in self.listed_partitions() {
            let mut q = queue.batches.lock();
            if !q.iter().any(|b| b.drained_at().is_none()) {
                continue;
            }
            let (undrained, kept): (VecDeque<_>, VecDeque<_>) =
                q.drain(..).partition(|b| b.drained_at().is_none());
            *q = kept;
            out.extend(undrained);
        }
        out
    }

    /// Whether any batch is still without its answer (queued or in flight).
    pub fn has_incomplete(&self) -> bool {
        self.incomplete.has_any()
    }

    /// Removes and returns every queued batch (not those in flight), for the caller to fail:
    /// used when authentication fails, so records do not wait for `delivery.timeout.ms`.
    pub fn take_queued(&self) -> Vec<ProducerBatch> {
        let mut out = Vec::new();
        let queues = self.queues.read();
        for queue in queues.map.values() {
            out.extend(queue.batches.lock().drain(..));
        }
        out
    }

    /// Starts a flush: every queued batch is ready until
    /// [`await_flush_completion`](Self::await_flush_completion) returns.
    pub fn begin_flush(&self) {
        self.flushes_in_progress.fetch_add(1, Ordering::AcqRel);
    }
    /// Whether a flush is in progress.
    pub fn flush_in_progress(&self) -> bool {
        self.flushes_in_progress.load(Ordering::Acquire) > 0
    }
    /// Waits until every batch created before this call is answered (callbacks run), or
    /// `timeout` (`Duration::MAX`: no limit). Ends the flush started by
    /// [`begin_flush`](Self::begin_flush) either way. Returns whether all were answered.
    pub fn await_flush_completion(&self, timeout: Duration) -> bool {
        let _end = InProgress(&self.flushes_in_progress);
        let up_to = self.next_batch_id.load(Ordering::Acquire).saturating_sub(1);
        let deadline = Instant::now().checked_add(timeout);
        self.incomplete.wait_until_done(up_to, deadline)
    }

    /// Whether any batch waits in a partition queue.
    pub fn has_undrained(&self) -> bool {
        let queues = self.queues.read();
        queues.map.values().any(|q| !q.batches.lock().is_empty())
    }

    /// Stops accepting records: later appends, and callers blocked for memory, get
    /// [`Error::Closed`] (not written). Queued batches stay, and are all ready.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.pool.close();
    }
    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Fails every batch without an answer, each exactly once: queued batches are removed
    /// and failed; batches in flight (held by the sender) are failed through their shared
    /// completion, and the sender's later `done` is ignored. `error` gets each batch's
    /// partition and whether it may have been written. Call after [`close`](Self::close)
    /// (a racing append sees the closed flag under its partition's lock and fails itself).
    pub fn abort_incomplete_batches(&self, error: impl Fn(&TopicPartition, Delivery) -> Error) {
        let mut taken = Vec::new();
        {
            let queues = self.queues.read();
            for queue in queues.map.values() {
                taken.extend(queue.batches.lock().drain(..));
            }
        }
        for batch in taken {
            batch.done(Err(error(
                batch.topic_partition(),
                batch.delivery_if_failed(),
            )));
        }
        for c in self.incomplete.snapshot() {
            c.complete(Err(error(c.topic_partition(), c.delivery_if_failed())));
        }
    }
}

/// Puts a batch at the front of its queue: before the first batch without a sequence or with
/// a later one (Java's `insertInSequenceOrder`); at the very front without a sequence.
fn insert_in_sequence_order(q: &mut VecDeque<ProducerBatch>, batch: ProducerBatch) {
    if !batch.has_sequence() {
        q.push_front(batch);
        return;
    }
    let seq = batch.base_sequence();
    let pos = q
        .iter()
        .position(|b| !b.has_sequence() || b.base_sequence() > seq)
        .unwrap_or(q.len());
    q.insert(pos, batch);
}

struct Appended {
    completion: Arc<BatchCompletion>,
    thunk: RecordThunk,
    batch_is_full: bool,
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) use tests::AppendByName;

//! [`MockProducer`]: a stand-in for [`Producer`](crate::Producer) in unit tests (Java's
//! `MockProducer`): no broker, no thread; it keeps what was sent and answers as told.
//!
//! Answers go through the real [`SendFuture`] and callback machinery (`future.rs`): one
//! [`BatchCompletion`] per record, set exactly once, so futures and callbacks behave as the
//! real producer's do.

use crate::error::{Delivery, Error, TransactionErrorKind};
use crate::future::{BatchAck, BatchCompletion, Callback, RecordThunk, SendFuture};
use crate::metrics::Metrics;
use crate::partitioner::{
    choose_partition, random_non_negative, PartitionChoice, Partitioner, TopicLayout,
};
use crate::record::{
    ConsumerGroupMetadata, OffsetAndMetadata, PartitionInfo, ProducerRecord, TopicPartition,
};
use crate::record_producer::RecordProducer;
use crate::serializer::{as_serialization, DefaultSerializer, Serializer};
use crate::topic::validate_topic;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(test)]
mod tests;

/// A producer for unit tests: it implements [`RecordProducer`] like
/// [`Producer`](crate::Producer), needs no broker, records every record sent
/// ([`history`](Self::history)) and answers each one exactly once, through the same
/// [`SendFuture`]s and callbacks as the real producer.
///
/// - **Auto-complete** (the default): every record is answered at once, successfully, with
///   offsets counting up from 0 in each partition. Callbacks run inside `send`.
/// - **Manual** ([`with_auto_complete(false)`](Self::with_auto_complete)): records wait;
///   [`complete_next`](Self::complete_next) answers the oldest with success,
///   [`error_next`](Self::error_next) with an error, [`flush`](Self::flush) answers all of
///   them with success (as Java's `flush`). Callbacks run in the call that answers. A blocking
///   [`SendFuture::get`] waits until another thread answers.
///
/// The cluster layout is given with [`with_topic`](Self::with_topic) (topic name, partition
/// count). For those topics the real producer's partitioner decides: a partition set on the
/// record must exist ([`Error::UnknownPartition`]), a keyed record goes to Java's murmur2
/// partition ([`partition_for_key`](crate::partition_for_key)), a custom
/// [`Partitioner`] ([`with_partitioner`](Self::with_partitioner)) is asked first, and a
/// keyless record goes to one partition picked at random per topic and kept (Java's
/// `MockProducer` sticky partition, which never moves on). A topic not given has no layout:
/// its records go to the partition they name, or 0 (as in Java).
///
/// The key and value serializers run as in the real producer, so a serializer that fails
/// makes `send` return [`Error::Serialization`] (and nothing is recorded); so does an invalid
/// topic name ([`Error::InvalidTopic`]).
///
/// After [`close`](Self::close) (or on drop), records still waiting are answered with
/// [`Error::Closed`] ([`Delivery::Unknown`]: as for a record in flight when the real
/// producer's close runs out of time), and `send` returns [`Error::Closed`]
/// ([`Delivery::NotWritten`]).
///
/// ```
/// use kafka_sync::{MockProducer, ProducerRecord, RecordProducer};
///
/// let mock: MockProducer<String, String> = MockProducer::new()
///     .with_auto_complete(false)
///     .with_topic("orders", 3);
/// let first = mock.send(ProducerRecord::new("orders", Some("o-1".to_string()), Some("new".to_string())))?;
/// let second = mock.send(ProducerRecord::with_value("orders", "paid".to_string()))?;
/// assert!(!first.is_done());
/// assert!(mock.complete_next());
/// let md = first.get()?;
/// assert_eq!((md.partition, md.offset), (kafka_sync::partition_for_key(b"o-1", 3), 0));
/// assert!(mock.error_next(kafka_sync::Error::Closed { delivery: kafka_sync::Delivery::NotWritten }));
/// assert!(second.get().is_err());
/// assert!(!mock.complete_next(), "nothing left");
/// assert_eq!(mock.history().len(), 2);
/// # Ok::<(), kafka_sync::Error>(())
/// ```
pub struct MockProducer<K, V> {
    key_serializer: Box<dyn Serializer<K>>,
    value_serializer: Box<dyn Serializer<V>>,
    partitioner: Option<Box<dyn Partitioner>>,
    auto_complete: bool,
    /// Topic -> its partitions (all available: the mock's partitions all have a leader).
    topics: HashMap<String, Vec<i32>>,
    state: Mutex<State<K, V>>,
}

struct State<K, V> {
    history: Vec<ProducerRecord<K, V>>,
    /// Records waiting for their answer, oldest first (manual mode).
    pending: VecDeque<Pending>,
    /// Next offset per partition.
    offsets: HashMap<TopicPartition, i64>,
    /// The keyless records' partition per topic, picked once.
    sticky: HashMap<String, i32>,
    closed: bool,
    next_id: u64,
    txn: MockTxn,
    /// Records sent in the open transaction: they join the history at commit.
    uncommitted: Vec<ProducerRecord<K, V>>,
    /// Offsets sent in the open transaction, and those of committed ones.
    uncommitted_offsets: Vec<GroupOffsets>,
    committed_offsets: Vec<GroupOffsets>,
}

/// A group id and the offsets one `send_offsets_to_transaction` gave for it.
pub type GroupOffsets = (String, HashMap<TopicPartition, OffsetAndMetadata>);

/// Transaction tracking, as Java's `MockProducer` has it.
#[derive(Default)]
struct MockTxn {
    initialized: bool,
    in_flight: bool,
    committed: bool,
    aborted: bool,
    fenced: bool,
    commits: u64,
}

/// A record sent and not yet answered.
struct Pending {
    completion: Arc<BatchCompletion>,
    offset: i64,
}

impl Pending {
    fn answer(self, result: Result<(), Error>) {
        self.completion.complete(result.map(|()| BatchAck {
            base_offset: self.offset,
            log_append_time: -1,
        }));
    }
}

impl<K, V> MockProducer<K, V>
where
    DefaultSerializer: Serializer<K> + Serializer<V>,
{
    /// An auto-completing mock with the built-in serializers and no topics.
    ///
    /// ```
    /// use kafka_sync::{MockProducer, ProducerRecord, RecordProducer};
    /// let mock: MockProducer<String, Vec<u8>> = MockProducer::new();
    /// let md = mock.send(ProducerRecord::with_value("t", b"v".to_vec()))?.get()?;
    /// assert_eq!((md.partition, md.offset, md.serialized_value_size), (0, 0, 1));
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn new() -> Self {
        Self::with_serializers(DefaultSerializer, DefaultSerializer)
    }
}

impl<K, V> Default for MockProducer<K, V>
where
    DefaultSerializer: Serializer<K> + Serializer<V>,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> MockProducer<K, V> {
    /// An auto-completing mock with these serializers and no topics.
    ///
    /// ```
    /// use kafka_sync::{Error, MockProducer, ProducerRecord, RecordProducer};
    /// let refuse = |_: &str, _: &u8, _: &mut Vec<u8>| -> Result<(), Error> {
    ///     Err(Error::Serialization { part: "value", reason: "no".into() })
    /// };
    /// let mock = MockProducer::<String, u8>::with_serializers(kafka_sync::DefaultSerializer, refuse);
    /// let sent = mock.send(ProducerRecord::with_value("t", 1));
    /// assert!(matches!(sent, Err(Error::Serialization { part: "value", .. })));
    /// assert!(mock.history().is_empty());
    /// ```
    pub fn with_serializers(
        key_serializer: impl Serializer<K> + 'static,
        value_serializer: impl Serializer<V> + 'static,
    ) -> Self {
        MockProducer {
            key_serializer: Box::new(key_serializer),
            value_serializer: Box::new(value_serializer),
            partitioner: None,
            auto_complete: true,
            topics: HashMap::new(),
            state: Mutex::new(State {
                history: Vec::new(),
                pending: VecDeque::new(),
                offsets: HashMap::new(),
                sticky: HashMap::new(),
                closed: false,
                next_id: 0,
                txn: MockTxn::default(),
                uncommitted: Vec::new(),
                uncommitted_offsets: Vec::new(),
                committed_offsets: Vec::new(),
            }),
        }
    }

    /// `true` (the default): every record is answered at once with success. `false`: records
    /// wait for [`complete_next`](Self::complete_next), [`error_next`](Self::error_next),
    /// [`flush`](Self::flush) or [`close`](Self::close).
    /// ```
    /// use kafka_sync::{MockProducer, ProducerRecord, RecordProducer};
    /// let mock: MockProducer<(), String> = MockProducer::new().with_auto_complete(false);
    /// let a = mock.send(ProducerRecord::with_value("t", "a".to_string()))?;
    /// let b = mock.send(ProducerRecord::with_value("t", "b".to_string()))?;
    /// assert!(!mock.flushed() && !a.is_done());
    /// assert!(mock.complete_next());
    /// assert_eq!(a.get()?.offset, 0);
    /// mock.flush(); // answers the rest
    /// assert!(mock.flushed());
    /// assert_eq!(b.get()?.offset, 1);
    /// assert!(!mock.complete_next(), "nothing left");
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn with_auto_complete(mut self, auto_complete: bool) -> Self {
        self.auto_complete = auto_complete;
        self
    }

    /// Adds a topic with `partitions` partitions to the cluster layout the partitioner sees
    /// (and [`partitions_for`](Self::partitions_for) reports).
    ///
    /// ```
    /// use kafka_sync::{MockProducer, ProducerRecord, RecordProducer};
    /// let mock: MockProducer<String, String> = MockProducer::new().with_topic("t", 2);
    /// assert_eq!(mock.partitions_for("t")?.len(), 2);
    /// assert!(mock.send(ProducerRecord::with_value("t", "v".to_string()).with_partition(2)).is_err());
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn with_topic(mut self, topic: impl Into<String>, partitions: i32) -> Self {
        self.topics
            .insert(topic.into(), (0..partitions.max(0)).collect());
        self
    }

    /// Asks this partitioner first for records of the topics given with
    /// [`with_topic`](Self::with_topic) that name no partition (as the real producer's
    /// `partitioner`).
    ///
    /// ```
    /// use kafka_sync::{MockProducer, ProducerRecord, RecordProducer, TopicLayout};
    /// let last = |_: &str, _: Option<&[u8]>, _: Option<&[u8]>, t: &TopicLayout<'_>| Some(t.num_partitions() - 1);
    /// let mock: MockProducer<String, String> = MockProducer::new().with_topic("t", 4).with_partitioner(last);
    /// assert_eq!(mock.send(ProducerRecord::with_value("t", "v".to_string()))?.get()?.partition, 3);
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn with_partitioner(mut self, partitioner: impl Partitioner + 'static) -> Self {
        self.partitioner = Some(Box::new(partitioner));
        self
    }

    /// The records sent (and not refused by `send`), in the order sent, since the mock was
    /// made or last [`clear`](Self::clear)ed.
    /// ```
    /// use kafka_sync::{MockProducer, ProducerRecord, RecordProducer};
    /// let mock: MockProducer<String, String> = MockProducer::new();
    /// mock.send(ProducerRecord::new("t", Some("k".to_string()), Some("v".to_string())))?;
    /// let sent = mock.history();
    /// assert_eq!((sent[0].topic.as_str(), sent[0].key.as_deref()), ("t", Some("k")));
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn history(&self) -> Vec<ProducerRecord<K, V>>
    where
        K: Clone,
        V: Clone,
    {
        self.state.lock().history.clone()
    }

    /// Forgets the history. Records still waiting for their answer keep waiting (Java's
    /// `clear` also dropped them, leaving their futures unanswered forever; here every record
    /// keeps its one answer).
    ///
    /// ```
    /// use kafka_sync::{MockProducer, ProducerRecord, RecordProducer};
    /// let mock: MockProducer<(), String> = MockProducer::new().with_auto_complete(false);
    /// let f = mock.send(ProducerRecord::with_value("t", "v".to_string()))?;
    /// mock.clear();
    /// assert!(mock.history().is_empty());
    /// assert!(mock.complete_next());
    /// assert_eq!(f.get()?.offset, 0);
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn clear(&self) {
        self.state.lock().history.clear();
    }

    /// Answers the oldest waiting record with success; `false` if none was waiting.
    pub fn complete_next(&self) -> bool {
        self.answer_next(Ok(()))
    }

    /// Answers the oldest waiting record with `error`; `false` if none was waiting.
    ///
    /// ```
    /// use kafka_sync::{Delivery, Error, MockProducer, ProducerRecord, RecordProducer};
    /// let mock: MockProducer<(), String> = MockProducer::new().with_auto_complete(false);
    /// let f = mock.send(ProducerRecord::with_value("t", "v".to_string()))?;
    /// assert!(mock.error_next(Error::Closed { delivery: Delivery::Unknown }));
    /// assert_eq!(f.get().unwrap_err().delivery(), Delivery::Unknown);
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn error_next(&self, error: Error) -> bool {
        self.answer_next(Err(error))
    }

    fn answer_next(&self, result: Result<(), Error>) -> bool {
        // Taken out under the lock, answered outside it: a callback may send again.
        let next = self.state.lock().pending.pop_front();
        match next {
            Some(p) => {
                p.answer(result);
                true
            }
            None => false,
        }
    }

    /// Whether no record waits for its answer (Java's `flushed()`).
    pub fn flushed(&self) -> bool {
        self.state.lock().pending.is_empty()
    }

    /// `init_transactions` (Java's `MockProducer.initTransactions`): transactions on. Errors:
    /// called twice ([`TransactionErrorKind::InvalidState`]), fenced
    /// ([`fence_producer`](Self::fence_producer): [`TransactionErrorKind::Fatal`]).
    ///
    /// While a transaction is open, records sent go to the history only when it commits
    /// (answered at once as usual); an abort drops them from it. As the real producer does,
    /// once transactions are on a send outside a transaction is refused.
    ///
    /// ```
    /// use kafka_sync::{MockProducer, ProducerRecord, RecordProducer};
    /// let mock: MockProducer<String, String> = MockProducer::new();
    /// mock.init_transactions()?;
    /// mock.begin_transaction()?;
    /// mock.send(ProducerRecord::with_value("t", "a".to_string()))?;
    /// mock.abort_transaction()?;
    /// mock.begin_transaction()?;
    /// mock.send(ProducerRecord::with_value("t", "b".to_string()))?;
    /// assert!(mock.history().is_empty(), "not committed yet");
    /// mock.commit_transaction()?;
    /// assert_eq!(mock.history()[0].value.as_deref(), Some("b"));
    /// assert!(mock.transaction_committed());
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn init_transactions(&self) -> Result<(), Error> {
        let mut s = self.state.lock();
        s.txn_check(false)?;
        if s.txn.initialized {
            return Err(invalid("init_transactions was already called"));
        }
        s.txn.initialized = true;
        Ok(())
    }

    /// `begin_transaction`.
    pub fn begin_transaction(&self) -> Result<(), Error> {
        let mut s = self.state.lock();
        s.txn_check(true)?;
        if s.txn.in_flight {
            return Err(invalid("a transaction is already open"));
        }
        s.txn.in_flight = true;
        s.txn.committed = false;
        s.txn.aborted = false;
        Ok(())
    }

    /// `commit_transaction`: answers every waiting record ([`flush`](Self::flush)), then the
    /// transaction's records join the [`history`](Self::history) (Java's mock keeps only
    /// committed records there while a transaction is open).
    pub fn commit_transaction(&self) -> Result<(), Error> {
        self.state.lock().txn_open()?;
        self.flush();
        let mut s = self.state.lock();
        let records = std::mem::take(&mut s.uncommitted);
        s.history.extend(records);
        let offsets = std::mem::take(&mut s.uncommitted_offsets);
        s.committed_offsets.extend(offsets);
        s.txn.in_flight = false;
        s.txn.committed = true;
        s.txn.commits += 1;
        Ok(())
    }

    /// `abort_transaction`: answers every waiting record ([`flush`](Self::flush)), then drops
    /// the transaction's records from the history.
    pub fn abort_transaction(&self) -> Result<(), Error> {
        self.state.lock().txn_open()?;
        self.flush();
        let mut s = self.state.lock();
        s.uncommitted.clear();
        s.uncommitted_offsets.clear();
        s.txn.in_flight = false;
        s.txn.aborted = true;
        Ok(())
    }

    /// `send_offsets_to_transaction`: the offsets are kept with the open transaction and join
    /// [`consumer_group_offsets`](Self::consumer_group_offsets) when it commits.
    pub fn send_offsets_to_transaction(
        &self,
        offsets: &HashMap<TopicPartition, OffsetAndMetadata>,
        group: &ConsumerGroupMetadata,
    ) -> Result<(), Error> {
        let mut s = self.state.lock();
        s.txn_open()?;
        if !offsets.is_empty() {
            s.uncommitted_offsets
                .push((group.group_id.clone(), offsets.clone()));
        }
        Ok(())
    }

    /// The offsets of committed transactions, one entry per `send_offsets_to_transaction`
    /// (Java's `consumerGroupOffsetsHistory`).
    pub fn consumer_group_offsets(&self) -> Vec<GroupOffsets> {
        self.state.lock().committed_offsets.clone()
    }

    /// Makes every later transaction call and send fail as fenced (Java's `fenceProducer`).
    pub fn fence_producer(&self) {
        self.state.lock().txn.fenced = true;
    }
    /// Whether `init_transactions` was called.
    pub fn transaction_initialized(&self) -> bool {
        self.state.lock().txn.initialized
    }
    /// Whether a transaction is open.
    pub fn transaction_in_flight(&self) -> bool {
        self.state.lock().txn.in_flight
    }
    /// Whether the last transaction committed.
    pub fn transaction_committed(&self) -> bool {
        self.state.lock().txn.committed
    }
    /// Whether the last transaction aborted.
    pub fn transaction_aborted(&self) -> bool {
        self.state.lock().txn.aborted
    }
    /// Transactions committed so far.
    pub fn commit_count(&self) -> u64 {
        self.state.lock().txn.commits
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// Sends a record (see [`RecordProducer::send`]).
    pub fn send(&self, record: ProducerRecord<K, V>) -> Result<SendFuture, Error> {
        self.do_send(record, None)
    }

    /// Sends a record and calls `callback` once with its answer, on the thread that answers it
    /// (see [`RecordProducer::send_with_callback`]).
    pub fn send_with_callback(
        &self,
        record: ProducerRecord<K, V>,
        callback: impl FnOnce(Result<crate::record::RecordMetadata, Error>) + Send + 'static,
    ) -> Result<SendFuture, Error> {
        self.do_send(record, Some(Box::new(callback)))
    }

    /// Answers every waiting record with success, oldest first (Java's `flush`).
    pub fn flush(&self) {
        while self.complete_next() {}
    }

    /// The partitions of a topic given with [`with_topic`](Self::with_topic) (each led by
    /// broker 0); none for another topic (as Java's mock).
    pub fn partitions_for(&self, topic: &str) -> Result<Vec<PartitionInfo>, Error> {
        validate_topic(topic)?;
        Ok(self.topics.get(topic).map_or_else(Vec::new, |ps| {
            ps.iter()
                .map(|&partition| PartitionInfo {
                    topic: topic.to_string(),
                    partition,
                    leader: Some(0),
                    replicas: vec![0],
                    in_sync_replicas: vec![0],
                })
                .collect()
        }))
    }

    /// Closes the mock: later sends fail with [`Error::Closed`]; records still waiting are
    /// answered with [`Error::Closed`] ([`Delivery::Unknown`]). The timeout is not used (the
    /// mock has nothing to wait for).
    ///
    /// ```
    /// use kafka_sync::{Delivery, Error, MockProducer, ProducerRecord, RecordProducer};
    /// use std::time::Duration;
    /// let mock: MockProducer<(), String> = MockProducer::new().with_auto_complete(false);
    /// let f = mock.send(ProducerRecord::with_value("t", "v".to_string()))?;
    /// mock.close(Duration::ZERO);
    /// assert!(mock.is_closed());
    /// assert!(matches!(f.get(), Err(Error::Closed { delivery: Delivery::Unknown })));
    /// assert!(mock.send(ProducerRecord::with_value("t", "late".to_string())).is_err());
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn close(&self, timeout: Duration) {
        let _ = timeout;
        let pending = {
            let mut s = self.state.lock();
            s.closed = true;
            std::mem::take(&mut s.pending)
        };
        for p in pending {
            p.answer(Err(Error::Closed {
                delivery: Delivery::Unknown,
            }));
        }
    }

    fn do_send(
        &self,
        record: ProducerRecord<K, V>,
        callback: Option<Callback>,
    ) -> Result<SendFuture, Error> {
        let closed = || Error::Closed {
            delivery: Delivery::NotWritten,
        };
        if self.state.lock().closed {
            return Err(closed());
        }
        validate_topic(&record.topic)?;
        let topic = record.topic.as_str();
        let (mut kbuf, mut vbuf) = (Vec::new(), Vec::new());
        let key = match &record.key {
            Some(k) => Some(serialize(
                &*self.key_serializer,
                topic,
                k,
                &mut kbuf,
                "key",
            )?),
            None => None,
        };
        let value = match &record.value {
            Some(v) => Some(serialize(
                &*self.value_serializer,
                topic,
                v,
                &mut vbuf,
                "value",
            )?),
            None => None,
        };
        let choice = match self.topics.get(topic) {
            Some(available) => choose_partition(
                record.partition,
                self.partitioner.as_deref(),
                false,
                topic,
                key,
                value,
                &TopicLayout::new(available.len() as i32, available),
            )?,
            None => match record.partition {
                None => PartitionChoice::Fixed(0),
                Some(p) if p >= 0 => PartitionChoice::Fixed(p),
                Some(p) => {
                    return Err(Error::UnknownPartition {
                        topic: topic.to_string(),
                        partition: p,
                        partitions: 0,
                    })
                }
            },
        };
        let thunk = RecordThunk {
            relative_offset: 0,
            timestamp: record.timestamp.unwrap_or_else(now_ms),
            key_size: key.map_or(-1, |k| k.len() as i32),
            value_size: value.map_or(-1, |v| v.len() as i32),
        };

        let mut s = self.state.lock();
        if s.closed {
            return Err(closed());
        }
        if s.txn.initialized || s.txn.fenced {
            s.txn_open()?;
        }
        let partition = match choice {
            PartitionChoice::Fixed(p) => p,
            PartitionChoice::Sticky => {
                let n = self
                    .topics
                    .get(topic)
                    .map_or(1, |ps| ps.len().max(1) as i32);
                *s.sticky
                    .entry(record.topic.clone())
                    .or_insert_with(|| random_non_negative() % n)
            }
        };
        let tp = TopicPartition::new(topic, partition);
        let offset = {
            let next = s.offsets.entry(tp.clone()).or_insert(0);
            *next += 1;
            *next - 1
        };
        s.next_id += 1;
        let completion = BatchCompletion::new(s.next_id, tp, None);
        if let Some(cb) = callback {
            // A fresh completion has no answer: the callback is kept, not handed back.
            let late = completion.add_callback(thunk, cb);
            debug_assert!(late.is_none());
        }
        let future = SendFuture::new(completion.clone(), thunk);
        if s.txn.in_flight {
            s.uncommitted.push(record);
        } else {
            s.history.push(record);
        }
        let pending = Pending { completion, offset };
        if self.auto_complete {
            drop(s);
            pending.answer(Ok(()));
        } else {
            s.pending.push_back(pending);
        }
        Ok(future)
    }
}

impl<K, V> State<K, V> {
    /// Not fenced, not closed; initialized if `initialized`.
    fn txn_check(&self, initialized: bool) -> Result<(), Error> {
        if self.txn.fenced {
            return Err(Error::transaction(
                TransactionErrorKind::Fatal,
                "producer fenced (MockProducer::fence_producer)",
            ));
        }
        if self.closed {
            return Err(Error::Closed {
                delivery: Delivery::NotWritten,
            });
        }
        if initialized && !self.txn.initialized {
            return Err(invalid("init_transactions has not been called"));
        }
        Ok(())
    }
    fn txn_open(&self) -> Result<(), Error> {
        self.txn_check(true)?;
        if !self.txn.in_flight {
            return Err(invalid(
                "no transaction is open: call begin_transaction first",
            ));
        }
        Ok(())
    }
}

fn invalid(reason: &str) -> Error {
    Error::transaction(TransactionErrorKind::InvalidState, reason)
}

fn serialize<'a, T>(
    serializer: &dyn Serializer<T>,
    topic: &str,
    value: &'a T,
    buf: &'a mut Vec<u8>,
    part: &'static str,
) -> Result<&'a [u8], Error> {
    match serializer.as_bytes(topic, value) {
        Some(b) => Ok(b),
        None => {
            serializer
                .serialize(topic, value, buf)
                .map_err(|e| as_serialization(e, part))?;
            Ok(&buf[..])
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl<K, V> Drop for MockProducer<K, V> {
    /// Answers what still waits, as [`close`](MockProducer::close).
    fn drop(&mut self) {
        self.close(Duration::ZERO);
    }
}

/// The mock behind the sending trait: each method is the inherent one.
impl<K, V> RecordProducer<K, V> for MockProducer<K, V> {
    fn send(&self, record: ProducerRecord<K, V>) -> Result<SendFuture, Error> {
        self.do_send(record, None)
    }
    fn send_with_callback(
        &self,
        record: ProducerRecord<K, V>,
        callback: Callback,
    ) -> Result<SendFuture, Error> {
        self.do_send(record, Some(callback))
    }
    fn flush(&self) {
        MockProducer::flush(self)
    }
    fn partitions_for(&self, topic: &str) -> Result<Vec<PartitionInfo>, Error> {
        MockProducer::partitions_for(self, topic)
    }
    fn close(&self, timeout: Duration) {
        MockProducer::close(self, timeout)
    }
    fn metrics(&self) -> Metrics {
        Metrics::default()
    }
    fn init_transactions(&self) -> Result<(), Error> {
        MockProducer::init_transactions(self)
    }
    fn begin_transaction(&self) -> Result<(), Error> {
        MockProducer::begin_transaction(self)
    }
    fn commit_transaction(&self) -> Result<(), Error> {
        MockProducer::commit_transaction(self)
    }
    fn abort_transaction(&self) -> Result<(), Error> {
        MockProducer::abort_transaction(self)
    }
    fn send_offsets_to_transaction(
        &self,
        offsets: &HashMap<TopicPartition, OffsetAndMetadata>,
        group: &ConsumerGroupMetadata,
    ) -> Result<(), Error> {
        MockProducer::send_offsets_to_transaction(self, offsets, group)
    }
}

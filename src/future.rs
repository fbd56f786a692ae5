//! [`SendFuture`]: the answer to one sent record, and the per-batch completion it reads.
//!
//! Every batch has one shared [`BatchCompletion`] (an `Arc`), set exactly once with the
//! broker's answer (base offset and log-append time) or an error. A record's future is that
//! `Arc` plus the record's index in the batch and its own create timestamp and sizes, so a
//! future costs no allocation of its own; only callbacks are boxed.
//!
//! A batch the broker refuses as too large is split (see `accumulator/split.rs`): its
//! completion is then never set; it points each record to the smaller batch that now holds it
//! (as Java's `FutureRecordMetadata.chain`), its callbacks move there, and futures and late
//! callbacks follow the pointer. So a record still gets exactly one answer.
//!
//! Completing a batch, in order: the result is claimed (exactly once), the batch's callbacks run
//! on the completing thread (a panicking callback is caught and logged), then waiters on
//! futures are woken and the batch leaves the set of incomplete batches (which `flush` waits
//! on). So when `get` or `flush` returns, the batch's callbacks have already run.

use crate::error::{Delivery, Error};
use crate::record::{RecordMetadata, TopicPartition};
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A user callback: called once with the record's metadata or its error.
pub type Callback = Box<dyn FnOnce(Result<RecordMetadata, Error>) + Send>;

/// The broker's answer for a whole batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchAck {
    /// Offset of the batch's first record; -1 when unknown (acks=0).
    pub base_offset: i64,
    /// Log-append time set by the broker, or -1 when the topic uses create time.
    pub log_append_time: i64,
}

/// What a record needs to turn the batch's answer into its own [`RecordMetadata`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordThunk {
    /// Index of the record in its batch (offset delta).
    pub relative_offset: i32,
    /// The record's create timestamp.
    pub timestamp: i64,
    /// Serialized key size, -1 for no key.
    pub key_size: i32,
    /// Serialized value size, -1 for no value.
    pub value_size: i32,
}

impl RecordThunk {
    fn metadata(&self, tp: &TopicPartition, ack: &BatchAck) -> RecordMetadata {
        RecordMetadata {
            topic: tp.topic.clone(),
            partition: tp.partition,
            offset: if ack.base_offset < 0 {
                -1
            } else {
                ack.base_offset + self.relative_offset as i64
            },
            timestamp: if ack.log_append_time != -1 {
                ack.log_append_time
            } else {
                self.timestamp
            },
            serialized_key_size: self.key_size,
            serialized_value_size: self.value_size,
        }
    }
}

#[derive(Default)]
struct CompletionState {
    /// Set exactly once, when the completion is claimed.
    result: Option<Result<BatchAck, Error>>,
    /// True once callbacks have run and waiters may read `result`.
    done: bool,
    callbacks: Vec<(RecordThunk, Callback)>,
    /// Set instead of `result` when the batch was split: where its records went.
    split: Option<Arc<[Piece]>>,
}

/// One batch a split batch's records went to: records `first..` of the original (up to the
/// next piece's `first`) are records `0..` of `completion`'s batch.
#[derive(Debug, Clone)]
pub(crate) struct Piece {
    /// Index in the original batch of the piece's first record.
    pub first: i32,
    /// The new batch's completion.
    pub completion: Arc<BatchCompletion>,
}

/// Where a record's answer is: here (`None`: not yet), or moved to another batch.
enum Lookup {
    Here(Option<Result<BatchAck, Error>>),
    Moved(Arc<BatchCompletion>, RecordThunk),
}

/// The piece of a split that holds the record at `thunk`, with its thunk in that batch.
fn locate(pieces: &[Piece], thunk: RecordThunk) -> Option<(Arc<BatchCompletion>, RecordThunk)> {
    let piece = pieces
        .iter()
        .rev()
        .find(|p| p.first <= thunk.relative_offset)?;
    let moved = RecordThunk {
        relative_offset: thunk.relative_offset - piece.first,
        ..thunk
    };
    Some((piece.completion.clone(), moved))
}

/// The set of batches created and not yet completed (what `flush` waits for).
#[derive(Default)]
pub(crate) struct IncompleteBatches {
    map: Mutex<HashMap<u64, Arc<BatchCompletion>>>,
    cond: Condvar,
}

impl IncompleteBatches {
    pub(crate) fn insert(&self, c: Arc<BatchCompletion>) {
        self.map.lock().insert(c.id, c);
    }
    fn remove(&self, id: u64) {
        let mut m = self.map.lock();
        m.remove(&id);
        self.cond.notify_all();
    }
    pub(crate) fn has_any(&self) -> bool {
        !self.map.lock().is_empty()
    }
    pub(crate) fn snapshot(&self) -> Vec<Arc<BatchCompletion>> {
        self.map.lock().values().cloned().collect()
    }
    /// Waits until no batch with id `<= up_to` is incomplete, or the deadline.
    pub(crate) fn wait_until_done(&self, up_to: u64, deadline: Option<Instant>) -> bool {
        let mut m = self.map.lock();
        loop {
            if !m.values().any(|c| c.flush_id <= up_to) {
                return true;
            }
            match deadline {
                None => self.cond.wait(&mut m),
                Some(d) => {
                    if self.cond.wait_until(&mut m, d).timed_out()
                        && m.values().any(|c| c.flush_id <= up_to)
                    {
                        return false;
                    }
                }
            }
        }
    }
}

/// One batch's shared result, set exactly once. Completing it runs the batch's callbacks on
/// the completing thread, then wakes its futures (see [`SendFuture`]).
pub struct BatchCompletion {
    id: u64,
    /// What `flush` compares with its bound: the batch's id, or for a batch split off another,
    /// the original's (a flush waits for every record appended before it).
    flush_id: u64,
    tp: TopicPartition,
    state: Mutex<CompletionState>,
    cond: Condvar,
    sent: AtomicBool,
    /// Set when the result is claimed (cheap check without the state lock).
    claimed: AtomicBool,
    registry: Option<Arc<IncompleteBatches>>,
}

impl std::fmt::Debug for BatchCompletion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchCompletion")
            .field("id", &self.id)
            .field("tp", &self.tp)
            .field("completed", &self.is_completed())
            .finish()
    }
}

impl BatchCompletion {
    pub(crate) fn new(
        id: u64,
        tp: TopicPartition,
        registry: Option<Arc<IncompleteBatches>>,
    ) -> Arc<Self> {
        Self::with_flush_id(id, id, tp, registry)
    }

    fn with_flush_id(
        id: u64,
        flush_id: u64,
        tp: TopicPartition,
        registry: Option<Arc<IncompleteBatches>>,
    ) -> Arc<Self> {
        let c = Arc::new(BatchCompletion {
            id,
            flush_id,
            tp,
            state: Mutex::new(CompletionState::default()),
            cond: Condvar::new(),
            sent: AtomicBool::new(false),
            claimed: AtomicBool::new(false),
            registry,
        });
        if let Some(r) = &c.registry {
            r.insert(c.clone());
        }
        c
    }

    /// The completion of a batch split off this one (registered as incomplete, with this
    /// one's place for `flush`); `id` must be unused.
    pub(crate) fn split_child(&self, id: u64) -> Arc<Self> {
        Self::with_flush_id(id, self.flush_id, self.tp.clone(), self.registry.clone())
    }

    /// Points the records to the batches they were split into (`pieces`, in record order, the
    /// first starting at record 0): their callbacks move there, futures follow, and this
    /// completion counts as completed (it is never set, and leaves the incomplete set).
    /// `false` (nothing done) if the batch already has its answer or was split.
    pub(crate) fn split_into(&self, pieces: Vec<Piece>) -> bool {
        let pieces: Arc<[Piece]> = pieces.into();
        let callbacks = {
            let mut s = self.state.lock();
            if s.result.is_some() || s.split.is_some() || pieces.is_empty() {
                return false;
            }
            s.split = Some(pieces.clone());
            self.claimed.store(true, Ordering::Release);
            self.cond.notify_all();
            std::mem::take(&mut s.callbacks)
        };
        for (thunk, cb) in callbacks {
            if let Some((c, t)) = locate(&pieces, thunk) {
                if let Some(cb) = c.add_callback(t, cb) {
                    c.run_late_callback(t, cb);
                }
            }
        }
        if let Some(r) = &self.registry {
            r.remove(self.id);
        }
        true
    }

    /// The record's answer if set, or where the record moved.
    fn lookup(&self, s: &CompletionState, thunk: RecordThunk) -> Lookup {
        if let Some(pieces) = &s.split {
            if let Some((c, t)) = locate(pieces, thunk) {
                return Lookup::Moved(c, t);
            }
        }
        Lookup::Here(if s.done { s.result.clone() } else { None })
    }

    /// The batch's topic-partition.
    pub fn topic_partition(&self) -> &TopicPartition {
        &self.tp
    }

    /// Records that a request carrying the batch went out: from now on a failure may leave the
    /// batch written ([`Delivery::Unknown`]).
    pub(crate) fn mark_sent(&self) {
        self.sent.store(true, Ordering::Release);
    }
    /// The broker definitely refused every attempt so far (it answered each with an error):
    /// a failure now means "not written" again. Only the sender calls it, for a batch whose
    /// earlier attempts all had definite answers.
    pub(crate) fn clear_sent(&self) {
        self.sent.store(false, Ordering::Release);
    }
    /// Whether a request carrying the batch ever went out.
    pub fn was_sent(&self) -> bool {
        self.sent.load(Ordering::Acquire)
    }
    /// What a failure now means for delivery: `Unknown` once sent, else `NotWritten`.
    pub fn delivery_if_failed(&self) -> Delivery {
        if self.was_sent() {
            Delivery::Unknown
        } else {
            Delivery::NotWritten
        }
    }

    /// Whether a result was set (callbacks may still be running).
    pub fn is_completed(&self) -> bool {
        self.claimed.load(Ordering::Acquire)
    }

    /// Registers a callback; if the batch is already completed the callback is handed back
    /// with nothing run, and the caller must run it (outside its locks) via
    /// [`run_late_callback`](Self::run_late_callback).
    /// A callback for a record of a split batch goes to the batch the record moved to.
    pub(crate) fn add_callback(&self, thunk: RecordThunk, cb: Callback) -> Option<Callback> {
        let mut s = self.state.lock();
        if let Some((c, t)) = s.split.as_deref().and_then(|p| locate(p, thunk)) {
            drop(s);
            return c.add_callback(t, cb);
        }
        if s.result.is_some() {
            return Some(cb);
        }
        s.callbacks.push((thunk, cb));
        None
    }

    /// Makes room for `n` callbacks at once, so a batch's callback list does not grow (and
    /// copy itself) record by record.
    pub(crate) fn reserve_callbacks(&self, n: usize) {
        self.state.lock().callbacks.reserve(n);
    }

    /// Runs a callback handed back by [`add_callback`](Self::add_callback) (following the
    /// record to the batch it moved to, if this one was split).
    pub(crate) fn run_late_callback(&self, thunk: RecordThunk, cb: Callback) {
        let (r, c, t) = {
            let s = self.state.lock();
            match s.split.as_deref().and_then(|p| locate(p, thunk)) {
                Some((c, t)) => {
                    drop(s);
                    return c.run_late_callback(t, cb);
                }
                None => (s.result.clone(), self, thunk),
            }
        };
        let r = r.unwrap_or(Err(Error::Closed {
            delivery: Delivery::NotWritten,
        }));
        run_callback(cb, r.map(|ack| t.metadata(&c.tp, &ack)));
    }

    /// Sets the batch's result, runs its callbacks on this thread, then wakes its futures.
    /// Returns `false` (and does nothing) if a result was already set.
    pub fn complete(&self, result: Result<BatchAck, Error>) -> bool {
        let callbacks = {
            let mut s = self.state.lock();
            if s.result.is_some() || s.split.is_some() {
                return false;
            }
            s.result = Some(result.clone());
            self.claimed.store(true, Ordering::Release);
            std::mem::take(&mut s.callbacks)
        };
        for (thunk, cb) in callbacks {
            let r = match &result {
                Ok(ack) => Ok(thunk.metadata(&self.tp, ack)),
                Err(e) => Err(e.clone()),
            };
            run_callback(cb, r);
        }
        {
            let mut s = self.state.lock();
            s.done = true;
            self.cond.notify_all();
        }
        if let Some(r) = &self.registry {
            r.remove(self.id);
        }
        true
    }

    /// The record's answer once done (callbacks run), without blocking; or where it moved.
    fn poll(&self, thunk: RecordThunk) -> Lookup {
        let s = self.state.lock();
        self.lookup(&s, thunk)
    }

    /// Waits until the record's answer is set (callbacks run) or it moved to another batch;
    /// `Here(None)` when `deadline` passed first.
    fn wait(&self, thunk: RecordThunk, deadline: Option<Instant>) -> Lookup {
        let mut s = self.state.lock();
        loop {
            match self.lookup(&s, thunk) {
                Lookup::Here(None) => {}
                found => return found,
            }
            match deadline {
                None => self.cond.wait(&mut s),
                Some(d) => {
                    if self.cond.wait_until(&mut s, d).timed_out() {
                        return self.lookup(&s, thunk);
                    }
                }
            }
        }
    }
}

fn run_callback(cb: Callback, r: Result<RecordMetadata, Error>) {
    if catch_unwind(AssertUnwindSafe(move || cb(r))).is_err() {
        log::error!("a send callback panicked; the panic was caught and ignored");
    }
}

/// The pending answer for one record: call [`get`](Self::get) to block until the broker (or a
/// failure) answers.
///
/// Cloning is cheap; every clone sees the same answer.
#[derive(Debug, Clone)]
pub struct SendFuture {
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    Batch {
        completion: Arc<BatchCompletion>,
        thunk: RecordThunk,
    },
    Ready(Result<RecordMetadata, Error>),
}

impl SendFuture {
    pub(crate) fn new(completion: Arc<BatchCompletion>, thunk: RecordThunk) -> Self {
        SendFuture {
            inner: Inner::Batch { completion, thunk },
        }
    }
    /// A future that already holds its answer (for records failed before being queued).
    pub fn ready(result: Result<RecordMetadata, Error>) -> Self {
        SendFuture {
            inner: Inner::Ready(result),
        }
    }

    /// Follows the record through splits until its answer, or until `wait` gives up.
    fn resolve(
        completion: &Arc<BatchCompletion>,
        thunk: RecordThunk,
        mut wait: impl FnMut(&BatchCompletion, RecordThunk) -> Lookup,
    ) -> Option<Result<RecordMetadata, Error>> {
        let (mut c, mut t) = (completion.clone(), thunk);
        loop {
            match wait(&c, t) {
                Lookup::Here(r) => return r.map(|r| r.map(|ack| t.metadata(&c.tp, &ack))),
                Lookup::Moved(nc, nt) => (c, t) = (nc, nt),
            }
        }
    }

    /// Blocks until the record's final answer.
    pub fn get(&self) -> Result<RecordMetadata, Error> {
        match &self.inner {
            Inner::Ready(r) => r.clone(),
            Inner::Batch { completion, thunk } => {
                // Without a deadline `wait` only returns once done (or moved).
                Self::resolve(completion, *thunk, |c, t| c.wait(t, None))
                    .unwrap_or(Err(Error::WaitTimeout))
            }
        }
    }

    /// Blocks up to `timeout`. [`Error::WaitTimeout`] means "not answered yet", not a final
    /// answer: the record is still in flight.
    pub fn get_timeout(&self, timeout: Duration) -> Result<RecordMetadata, Error> {
        match &self.inner {
            Inner::Ready(r) => r.clone(),
            Inner::Batch { completion, thunk } => {
                let deadline = Instant::now().checked_add(timeout);
                Self::resolve(completion, *thunk, |c, t| c.wait(t, deadline))
                    .unwrap_or(Err(Error::WaitTimeout))
            }
        }
    }

    /// The answer if it has arrived, without blocking.
    pub fn try_get(&self) -> Option<Result<RecordMetadata, Error>> {
        match &self.inner {
            Inner::Ready(r) => Some(r.clone()),
            Inner::Batch { completion, thunk } => {
                Self::resolve(completion, *thunk, |c, t| c.poll(t))
            }
        }
    }

    /// Whether the answer has arrived.
    pub fn is_done(&self) -> bool {
        self.try_get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn thunk(i: i32) -> RecordThunk {
        RecordThunk {
            relative_offset: i,
            timestamp: 1000 + i as i64,
            key_size: 3,
            value_size: -1,
        }
    }

    #[test]
    fn offsets_and_timestamps() {
        let c = BatchCompletion::new(1, TopicPartition::new("t", 2), None);
        let f0 = SendFuture::new(c.clone(), thunk(0));
        let f2 = SendFuture::new(c.clone(), thunk(2));
        assert!(f0.try_get().is_none());
        assert!(matches!(
            f0.get_timeout(Duration::from_millis(1)),
            Err(Error::WaitTimeout)
        ));
        assert!(c.complete(Ok(BatchAck {
            base_offset: 40,
            log_append_time: -1
        })));
        let m = f2.get().unwrap();
        assert_eq!((m.offset, m.timestamp, m.partition), (42, 1002, 2));
        assert_eq!((m.serialized_key_size, m.serialized_value_size), (3, -1));
        assert_eq!(&*m.topic, "t");
        assert_eq!(f0.try_get().unwrap().unwrap().offset, 40);
        // Double completion is ignored.
        assert!(!c.complete(Err(Error::Closed {
            delivery: Delivery::NotWritten
        })));
        assert_eq!(f0.get().unwrap().offset, 40);

        let c = BatchCompletion::new(2, TopicPartition::new("t", 0), None);
        let f = SendFuture::new(c.clone(), thunk(5));
        c.complete(Ok(BatchAck {
            base_offset: -1,
            log_append_time: 77,
        }));
        let m = f.get().unwrap();
        assert_eq!((m.offset, m.timestamp), (-1, 77));
    }

    #[test]
    fn callbacks_run_once_and_panics_are_contained() {
        let c = BatchCompletion::new(1, TopicPartition::new("t", 0), None);
        let n = Arc::new(AtomicUsize::new(0));
        for i in 0..3 {
            let n = n.clone();
            assert!(c
                .add_callback(
                    thunk(i),
                    Box::new(move |r| {
                        assert_eq!(r.unwrap().offset, 10 + i as i64);
                        n.fetch_add(1, Ordering::SeqCst);
                    })
                )
                .is_none());
        }
        c.add_callback(thunk(3), Box::new(|_| panic!("user bug")));
        let ack = BatchAck {
            base_offset: 10,
            log_append_time: -1,
        };
        assert!(c.complete(Ok(ack)));
        assert!(!c.complete(Ok(ack)));
        assert_eq!(n.load(Ordering::SeqCst), 3);
        // A callback registered too late is handed back and can be run with the result.
        let late = c.add_callback(thunk(1), Box::new(|_| {})).is_some();
        assert!(late);
    }

    #[test]
    fn a_split_batch_points_each_record_to_its_piece() {
        let reg = Arc::new(IncompleteBatches::default());
        let tp = TopicPartition::new("t", 0);
        let c = BatchCompletion::new(1, tp.clone(), Some(reg.clone()));
        let futures: Vec<SendFuture> = (0..5)
            .map(|i| SendFuture::new(c.clone(), thunk(i)))
            .collect();
        let offsets = Arc::new(Mutex::new(Vec::new()));
        let cb = |offsets: &Arc<Mutex<Vec<i64>>>| -> Callback {
            let o = offsets.clone();
            Box::new(move |r| o.lock().push(r.map_or(-1, |m| m.offset)))
        };
        assert!(c.add_callback(thunk(3), cb(&offsets)).is_none());
        // A waiter blocked on the original wakes and follows its record.
        let waiting = futures[4].clone();
        let h = std::thread::spawn(move || waiting.get());
        let a = c.split_child(2);
        let b = c.split_child(3);
        let pieces = vec![
            Piece {
                first: 0,
                completion: a.clone(),
            },
            Piece {
                first: 2,
                completion: b.clone(),
            },
        ];
        assert!(c.split_into(pieces.clone()));
        assert!(!c.split_into(pieces), "once");
        assert!(
            c.is_completed()
                && !c.complete(Ok(BatchAck {
                    base_offset: 0,
                    log_append_time: -1
                }))
        );
        // Flush (bound 1: the original) still waits: the pieces carry its place.
        assert!(!reg.wait_until_done(1, Some(Instant::now())));
        assert!(futures.iter().all(|f| !f.is_done()));
        // A callback registered after the split goes to the piece.
        assert!(c.add_callback(thunk(0), cb(&offsets)).is_none());
        assert!(b.complete(Ok(BatchAck {
            base_offset: 100,
            log_append_time: -1
        })));
        assert_eq!(h.join().unwrap().unwrap().offset, 102);
        assert_eq!(futures[2].get().unwrap().offset, 100);
        assert_eq!(
            futures[3].get().unwrap().timestamp,
            1003,
            "its own timestamp"
        );
        assert!(futures[0].try_get().is_none());
        assert!(!reg.wait_until_done(1, Some(Instant::now())));
        assert!(a.complete(Err(Error::Closed {
            delivery: Delivery::NotWritten
        })));
        assert!(futures[1].get().is_err());
        assert!(reg.wait_until_done(1, Some(Instant::now())));
        // A callback registered once its piece is done is handed back and runs with it.
        let late = c.add_callback(thunk(4), cb(&offsets)).expect("late");
        c.run_late_callback(thunk(4), late);
        assert_eq!(*offsets.lock(), vec![101, -1, 102]);
    }

    #[test]
    fn get_wakes_from_another_thread() {
        let c = BatchCompletion::new(1, TopicPartition::new("t", 0), None);
        let f = SendFuture::new(c.clone(), thunk(0));
        let h = std::thread::spawn(move || f.get());
        std::thread::sleep(Duration::from_millis(20));
        c.complete(Err(Error::Closed {
            delivery: Delivery::Unknown,
        }));
        let r = h.join().unwrap();
        assert_eq!(r.unwrap_err().delivery(), Delivery::Unknown);
    }
}

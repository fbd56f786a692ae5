//! [`SendFuture`]: the answer to one sent record, and the per-batch completion it reads.
//!
//! Every batch has one shared [`BatchCompletion`] (an `Arc`), set exactly once with the
//! broker's answer (base offset and log-append time) or an error. A record's future is that
//! `Arc` plus the record's index in the batch and its own create timestamp and sizes, so a
//! future costs no allocation of its own; only callbacks are boxed.
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
    pub(crate) fn snapshot(&self) -> Vec<Arc<BatchCompletion>> {
        self.map.lock().values().cloned().collect()
    }
    /// Waits until no batch with id `<= up_to` is incomplete, or the deadline.
    pub(crate) fn wait_until_done(&self, up_to: u64, deadline: Option<Instant>) -> bool {
        let mut m = self.map.lock();
        loop {
            if !m.keys().any(|&id| id <= up_to) {
                return true;
            }
            match deadline {
                None => self.cond.wait(&mut m),
                Some(d) => {
                    if self.cond.wait_until(&mut m, d).timed_out()
                        && m.keys().any(|&id| id <= up_to)
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
        let c = Arc::new(BatchCompletion {
            id,
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
    pub(crate) fn add_callback(&self, thunk: RecordThunk, cb: Callback) -> Option<Callback> {
        let mut s = self.state.lock();
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

    /// Runs a callback handed back by [`add_callback`](Self::add_callback).
    pub(crate) fn run_late_callback(&self, thunk: RecordThunk, cb: Callback) {
        let r = self.state.lock().result.clone();
        let r = r.unwrap_or(Err(Error::Closed {
            delivery: Delivery::NotWritten,
        }));
        run_callback(cb, r.map(|ack| thunk.metadata(&self.tp, &ack)));
    }

    /// Sets the batch's result, runs its callbacks on this thread, then wakes its futures.
    /// Returns `false` (and does nothing) if a result was already set.
    pub fn complete(&self, result: Result<BatchAck, Error>) -> bool {
        let callbacks = {
            let mut s = self.state.lock();
            if s.result.is_some() {
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

    /// The result once done (callbacks run).
    fn result_if_done(&self) -> Option<Result<BatchAck, Error>> {
        let s = self.state.lock();
        if s.done {
            s.result.clone()
        } else {
            None
        }
    }

    fn wait(&self, deadline: Option<Instant>) -> Option<Result<BatchAck, Error>> {
        let mut s = self.state.lock();
        loop {
            if s.done {
                return s.result.clone();
            }
            match deadline {
                None => self.cond.wait(&mut s),
                Some(d) => {
                    if self.cond.wait_until(&mut s, d).timed_out() && !s.done {
                        return None;
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

    fn map(&self, r: Result<BatchAck, Error>) -> Result<RecordMetadata, Error> {
        match &self.inner {
            Inner::Batch { completion, thunk } => r.map(|ack| thunk.metadata(&completion.tp, &ack)),
            Inner::Ready(r) => r.clone(),
        }
    }

    /// Blocks until the record's final answer.
    pub fn get(&self) -> Result<RecordMetadata, Error> {
        match &self.inner {
            Inner::Ready(r) => r.clone(),
            Inner::Batch { completion, .. } => {
                // Without a deadline `wait` only returns once done.
                let r = completion.wait(None).unwrap_or(Err(Error::WaitTimeout));
                self.map(r)
            }
        }
    }

    /// Blocks up to `timeout`. [`Error::WaitTimeout`] means "not answered yet", not a final
    /// answer: the record is still in flight.
    pub fn get_timeout(&self, timeout: Duration) -> Result<RecordMetadata, Error> {
        match &self.inner {
            Inner::Ready(r) => r.clone(),
            Inner::Batch { completion, .. } => {
                let deadline = Instant::now().checked_add(timeout);
                match completion.wait(deadline) {
                    Some(r) => self.map(r),
                    None => Err(Error::WaitTimeout),
                }
            }
        }
    }

    /// The answer if it has arrived, without blocking.
    pub fn try_get(&self) -> Option<Result<RecordMetadata, Error>> {
        match &self.inner {
            Inner::Ready(r) => Some(r.clone()),
            Inner::Batch { completion, .. } => completion.result_if_done().map(|r| self.map(r)),
        }
    }

    /// Whether the answer has arrived.
    pub fn is_done(&self) -> bool {
        match &self.inner {
            Inner::Ready(_) => true,
            Inner::Batch { completion, .. } => completion.state.lock().done,
        }
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

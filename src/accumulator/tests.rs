use super::*;
use crate::future::BatchAck;
use crate::protocol::record_batch::decode_batch;
use std::sync::atomic::AtomicUsize;

/// A [`DrainHook`] that does nothing (no idempotence).
#[derive(Debug, Default, Clone, Copy)]
struct NoDrainHook;
impl DrainHook for NoDrainHook {}

/// A [`DrainHook`] that refuses the partitions in its set (and lets the others through).
#[derive(Debug, Default)]
struct Refuse(HashSet<TopicPartition>);
impl DrainHook for Refuse {
    fn can_drain(&mut self, tp: &TopicPartition, _first: &ProducerBatch, _now: Instant) -> bool {
        !self.0.contains(tp)
    }
}

/// `append_to` with the partition named: the tests' shortcut (the producer keeps its
/// handles).
pub(crate) trait AppendByName {
    #[allow(clippy::too_many_arguments)]
    fn append(
        &self,
        tp: &TopicPartition,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
        callback: Option<Callback>,
        now: Instant,
        max_block: Duration,
    ) -> Result<AppendResult, Error>;
}

impl AppendByName for RecordAccumulator {
    fn append(
        &self,
        tp: &TopicPartition,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
        callback: Option<Callback>,
        now: Instant,
        max_block: Duration,
    ) -> Result<AppendResult, Error> {
        let partition = self.partition(tp);
        self.append_to(
            &partition, timestamp, key, value, headers, callback, now, max_block,
        )
    }
}

/// Test-only views of and shortcuts into the accumulator (it has no test-only methods).
trait AccumulatorTestExt {
    /// The memory pool.
    fn buffer_pool(&self) -> &Arc<BufferPool>;
    /// [`drain_with`](RecordAccumulator::drain_with) without an idempotence hook.
    fn drain(
        &self,
        leaders: &impl LeaderLookup,
        ready_nodes: &HashSet<i32>,
        max_request_size: usize,
        now: Instant,
    ) -> HashMap<i32, Vec<ProducerBatch>>;
    /// The estimator's current compression ratio for a topic with the configured codec.
    #[cfg(feature = "gzip")]
    fn estimated_compression_ratio(&self, topic: &str) -> f32;
    /// Returns a batch's memory to the pool (dropping a batch does the same).
    fn deallocate(&self, batch: ProducerBatch);
}

impl AccumulatorTestExt for RecordAccumulator {
    fn buffer_pool(&self) -> &Arc<BufferPool> {
        &self.pool
    }
    fn drain(
        &self,
        leaders: &impl LeaderLookup,
        ready_nodes: &HashSet<i32>,
        max_request_size: usize,
        now: Instant,
    ) -> HashMap<i32, Vec<ProducerBatch>> {
        self.drain_with(
            leaders,
            ready_nodes,
            max_request_size,
            now,
            &mut NoDrainHook,
        )
    }
    #[cfg(feature = "gzip")]
    fn estimated_compression_ratio(&self, topic: &str) -> f32 {
        self.ratios.estimation(topic, self.config.compression)
    }
    fn deallocate(&self, batch: ProducerBatch) {
        drop(batch);
    }
}

/// Test-only view of a batch.
#[cfg(any(feature = "gzip", feature = "lz4"))]
trait BatchTestExt {
    /// Bytes of memory the batch has counted against `buffer.memory`.
    fn allocated_bytes(&self) -> usize;
}

#[cfg(any(feature = "gzip", feature = "lz4"))]
impl BatchTestExt for ProducerBatch {
    fn allocated_bytes(&self) -> usize {
        self.alloc_size
    }
}

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("t", p)
}

fn cfg(batch_size: usize) -> AccumulatorConfig {
    AccumulatorConfig {
        batch_size,
        // No growth past batch.size unless a test asks for it (see `growing`).
        max_batch_size: batch_size,
        linger: Duration::from_millis(10),
        buffer_memory: 1 << 20,
        retry_backoff: Duration::from_millis(100),
        retry_backoff_max: Duration::from_millis(1000),
        delivery_timeout: Duration::from_millis(1000),
        compression: CompressionType::None,
        compression_level: None,
    }
}

/// Every partition led by node 1.
fn all_on_1(_: &TopicPartition) -> Option<i32> {
    Some(1)
}

const NO_WAIT: Duration = Duration::ZERO;

fn append(acc: &RecordAccumulator, p: i32, value: &[u8], now: Instant) -> AppendResult {
    acc.append(
        &tp(p),
        1000,
        Some(b"k"),
        Some(value),
        &[],
        None,
        now,
        NO_WAIT,
    )
    .unwrap()
}

/// Exact encoded size of the test record at position `offset_delta` with timestamp delta 0.
fn rec_size(value: &[u8], offset_delta: i32) -> usize {
    encoded_record_size::<Header>(0, offset_delta, Some(b"k"), Some(value), &[]).unwrap()
}

fn ack(base_offset: i64) -> Result<BatchAck, Error> {
    Ok(BatchAck {
        base_offset,
        log_append_time: -1,
    })
}

fn drain_all(acc: &RecordAccumulator, now: Instant) -> Vec<ProducerBatch> {
    let nodes: HashSet<i32> = [1].into();
    acc.drain(&all_on_1, &nodes, usize::MAX, now)
        .remove(&1)
        .unwrap_or_default()
}

#[test]
fn append_fills_and_rolls_batches() {
    let acc = RecordAccumulator::new(cfg(200));
    let now = Instant::now();
    let v = [7u8; 50];
    let r1 = append(&acc, 0, &v, now);
    assert!(r1.new_batch_created && !r1.batch_is_full);
    let r2 = append(&acc, 0, &v, now);
    assert!(!r2.new_batch_created);
    // 61 + 3 * ~57 = ~232 > 200: the third record starts a second batch.
    let r3 = append(&acc, 0, &v, now);
    assert!(r3.new_batch_created);
    assert!(r3.batch_is_full, "two batches queued: the sender must wake");
    let nodes: HashSet<i32> = [1].into();
    // One batch per partition per drain.
    let first = acc
        .drain(&all_on_1, &nodes, usize::MAX, now)
        .remove(&1)
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].record_count(), 2);
    let second = drain_all(&acc, now);
    assert_eq!(second[0].record_count(), 1);
    assert!(!acc.has_undrained());
}

#[test]
fn exact_batch_size_boundary() {
    let v = [1u8; 20];
    let s0 = rec_size(&v, 0);
    let s1 = rec_size(&v, 1);
    let acc = RecordAccumulator::new(cfg(BATCH_HEADER_LEN + s0 + s1));
    let now = Instant::now();
    assert!(append(&acc, 0, &v, now).new_batch_created);
    let r = append(&acc, 0, &v, now);
    assert!(!r.new_batch_created, "exactly batch.size must fit");
    assert!(r.batch_is_full);
    assert!(append(&acc, 0, &v, now).new_batch_created);
    let b = drain_all(&acc, now);
    assert_eq!(b[0].size_in_bytes(), BATCH_HEADER_LEN + s0 + s1);
    assert_eq!(b[0].record_count(), 2);
}

#[test]
fn oversized_record_gets_its_own_exact_batch() {
    let acc = RecordAccumulator::new(cfg(100));
    let now = Instant::now();
    let big = [3u8; 500];
    append(&acc, 0, b"small", now);
    let r = append(&acc, 0, &big, now);
    assert!(r.new_batch_created);
    let r = append(&acc, 0, b"small", now);
    assert!(r.new_batch_created, "the oversized batch has no room left");
    let _ = drain_all(&acc, now);
    let b = drain_all(&acc, now);
    assert_eq!(b[0].record_count(), 1);
    assert_eq!(b[0].size_in_bytes(), BATCH_HEADER_LEN + rec_size(&big, 0));
    let d = decode_batch(b[0].bytes()).unwrap();
    assert_eq!(d.records[0].value, Some(&big[..]));
    // The pool gives back exactly what it charged once the batches are gone.
    drop(b);
    assert!(acc.has_undrained());
    drop(drain_all(&acc, now));
    assert_eq!(acc.buffer_pool().available_memory(), 1 << 20);
}

#[test]
fn linger_readiness() {
    let acc = RecordAccumulator::new(cfg(1000));
    let t0 = Instant::now();
    append(&acc, 0, b"v", t0);
    let r = acc.ready(&all_on_1, t0 + Duration::from_millis(4));
    assert!(r.ready_nodes.is_empty());
    assert_eq!(r.next_ready_check_delay, Duration::from_millis(6));
    let r = acc.ready(&all_on_1, t0 + Duration::from_millis(10));
    assert_eq!(r.ready_nodes, [1].into());
    // Unknown leader: reported, not ready.
    let r = acc.ready(&|_: &TopicPartition| None, t0 + Duration::from_secs(1));
    assert!(r.ready_nodes.is_empty());
    assert!(r.unknown_leader_topics.contains("t"));
    // Nothing queued: no delay to wait for.
    let _ = drain_all(&acc, t0);
    assert_eq!(
        acc.ready(&all_on_1, t0).next_ready_check_delay,
        Duration::MAX
    );
}

#[test]
fn full_flush_close_and_refused_readiness() {
    let acc = RecordAccumulator::new(cfg(100));
    let t0 = Instant::now();
    append(&acc, 0, &[0u8; 30], t0);
    assert!(acc.ready(&all_on_1, t0).ready_nodes.is_empty());
    append(&acc, 0, &[0u8; 30], t0); // second batch: the first is full
    assert_eq!(acc.ready(&all_on_1, t0).ready_nodes, [1].into());
    // A partition the drain hook refuses is ready but not drained.
    let nodes: HashSet<i32> = [1].into();
    let mut refuse = Refuse([tp(0)].into());
    assert!(
        acc.drain_with(&all_on_1, &nodes, usize::MAX, t0, &mut refuse)
            .is_empty(),
        "refused partitions are not drained"
    );
    assert!(acc.has_undrained());
    assert_eq!(acc.ready(&all_on_1, t0).ready_nodes, [1].into());
    refuse.0.clear();
    let _ = acc.drain_with(&all_on_1, &nodes, usize::MAX, t0, &mut refuse);
    // Not full, not lingered, but flushing.
    acc.begin_flush();
    assert_eq!(acc.ready(&all_on_1, t0).ready_nodes, [1].into());
    let _ = drain_all(&acc, t0);
    assert!(acc.await_flush_completion(Duration::ZERO));
    assert!(!acc.flush_in_progress());
    // Not full, not lingered, but closing.
    append(&acc, 1, b"x", t0);
    assert!(acc.ready(&all_on_1, t0).ready_nodes.is_empty());
    acc.close();
    assert_eq!(acc.ready(&all_on_1, t0).ready_nodes, [1].into());
}

#[test]
fn drain_round_robin_and_max_request_size() {
    let v = [9u8; 100];
    let one = BATCH_HEADER_LEN + rec_size(&v, 0);
    // Each record fills a batch exactly: three batches per partition.
    let acc = RecordAccumulator::new(cfg(one));
    let t0 = Instant::now();
    for _round in 0..3 {
        for p in 0..3 {
            append(&acc, p, &v, t0);
        }
    }
    let batch_len = drain_peek_size(&acc);
    assert_eq!(batch_len, one);
    let nodes: HashSet<i32> = [1].into();
    let max = 2 * batch_len; // room for two batches per request
    let mut order = Vec::new();
    for _ in 0..3 {
        let got = acc.drain(&all_on_1, &nodes, max, t0).remove(&1).unwrap();
        assert_eq!(got.len(), 2, "max.request.size allows exactly two");
        order.extend(got.iter().map(|b| b.topic_partition().partition));
    }
    // Round robin: p0 p1 | p2 p0 | p1 p2, each partition drained twice.
    assert_eq!(order, vec![0, 1, 2, 0, 1, 2]);
    // A batch larger than max.request.size still goes alone.
    let got = acc.drain(&all_on_1, &nodes, 1, t0).remove(&1).unwrap();
    assert_eq!(got.len(), 1);
}

/// The size of the first queued batch of partition 0 (all batches here have the same size).
fn drain_peek_size(acc: &RecordAccumulator) -> usize {
    let q = acc.queue(&tp(0));
    let q = q.batches.lock();
    q.front().unwrap().size_in_bytes()
}

#[test]
fn drain_is_per_node() {
    let acc = RecordAccumulator::new(cfg(1000));
    let t0 = Instant::now();
    for p in 0..4 {
        append(&acc, p, b"v", t0);
    }
    let leaders = |tp: &TopicPartition| Some(tp.partition % 2);
    let nodes: HashSet<i32> = [0].into();
    let got = acc.drain(&leaders, &nodes, usize::MAX, t0);
    assert_eq!(got.len(), 1);
    let parts: Vec<i32> = got[&0]
        .iter()
        .map(|b| b.topic_partition().partition)
        .collect();
    assert_eq!(parts, vec![0, 2]);
    assert!(acc.has_undrained());
}

#[test]
fn reenqueue_goes_to_front_with_backoff() {
    let acc = RecordAccumulator::new(cfg(100));
    let t0 = Instant::now();
    append(&acc, 0, &[1u8; 30], t0);
    let mut a = drain_all(&acc, t0);
    let a = a.pop().unwrap();
    append(&acc, 0, &[2u8; 30], t0);
    let t1 = t0 + Duration::from_millis(50);
    acc.reenqueue(a, t1);
    // In backoff (80..120 ms for the first retry): not ready, not drained.
    let r = acc.ready(&all_on_1, t1 + Duration::from_millis(79));
    assert!(r.ready_nodes.is_empty());
    assert!(r.next_ready_check_delay <= Duration::from_millis(41));
    assert!(drain_all(&acc, t1 + Duration::from_millis(79)).is_empty());
    let t2 = t1 + Duration::from_millis(120);
    assert_eq!(acc.ready(&all_on_1, t2).ready_nodes, [1].into());
    let b = drain_all(&acc, t2);
    assert_eq!(b[0].attempts(), 1);
    let d = decode_batch(b[0].bytes()).unwrap();
    assert_eq!(
        d.records[0].value,
        Some(&[1u8; 30][..]),
        "the retried batch comes first"
    );
    // Second retry backs off longer (160..240 ms).
    let b = b.into_iter().next().unwrap();
    acc.reenqueue(b, t2);
    assert!(acc
        .ready(&all_on_1, t2 + Duration::from_millis(159))
        .ready_nodes
        .is_empty());
    assert!(!acc
        .ready(&all_on_1, t2 + Duration::from_millis(240))
        .ready_nodes
        .is_empty());
}

#[test]
fn reenqueue_keeps_sequence_order() {
    struct Seq(i32);
    impl DrainHook for Seq {
        fn on_drain(&mut self, b: &mut ProducerBatch, first_time: bool) {
            if first_time {
                b.set_producer_state(5, 0, self.0, false);
                self.0 += b.record_count();
            }
        }
    }
    let acc = RecordAccumulator::new(cfg(100));
    let t0 = Instant::now();
    let nodes: HashSet<i32> = [1].into();
    let mut hook = Seq(0);
    let mut drained = Vec::new();
    for _ in 0..3 {
        append(&acc, 0, &[0u8; 30], t0);
        drained.extend(
            acc.drain_with(&all_on_1, &nodes, usize::MAX, t0, &mut hook)
                .remove(&1)
                .unwrap(),
        );
    }
    let seqs: Vec<i32> = drained.iter().map(|b| b.base_sequence()).collect();
    assert_eq!(seqs, vec![0, 1, 2]);
    // Retries arrive out of order; the queue keeps them in sequence order, ahead of new ones.
    append(&acc, 0, &[0u8; 30], t0);
    let c = drained.pop().unwrap();
    let b = drained.pop().unwrap();
    let a = drained.pop().unwrap();
    acc.reenqueue(c, t0);
    acc.reenqueue(a, t0);
    acc.reenqueue(b, t0);
    let later = t0 + Duration::from_secs(5);
    let mut seen = Vec::new();
    for _ in 0..4 {
        let got = acc
            .drain_with(&all_on_1, &nodes, usize::MAX, later, &mut hook)
            .remove(&1)
            .unwrap();
        let b = &got[0];
        let d = decode_batch(b.bytes()).unwrap();
        assert_eq!(
            d.base_sequence,
            b.base_sequence(),
            "sealed bytes carry the sequence"
        );
        seen.push(b.base_sequence());
    }
    assert_eq!(
        seen,
        vec![0, 1, 2, 3],
        "sequence kept across retries, assigned once"
    );
}

#[test]
fn expiry() {
    let acc = RecordAccumulator::new(cfg(100));
    let t0 = Instant::now();
    let f = append(&acc, 0, b"a", t0).future;
    append(&acc, 1, b"b", t0 + Duration::from_millis(500));
    assert!(acc
        .expired_batches(t0 + Duration::from_millis(999))
        .is_empty());
    let expired = acc.expired_batches(t0 + Duration::from_millis(1000));
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].topic_partition(), &tp(0));
    let e = &expired[0];
    e.done(Err(Error::DeliveryTimeout {
        elapsed: Duration::from_millis(1000),
        delivery: e.delivery_if_failed(),
        last_error: None,
    }));
    let err = f.get().unwrap_err();
    assert_eq!(err.delivery(), Delivery::NotWritten);
    assert!(acc.has_undrained());
}

#[test]
fn futures_resolve_with_offsets_and_completion_is_once() {
    let acc = RecordAccumulator::new(cfg(1000));
    let t0 = Instant::now();
    let futures: Vec<SendFuture> = (0..3)
        .map(|i| {
            acc.append(&tp(0), 5000 + i, Some(b"key"), None, &[], None, t0, NO_WAIT)
                .unwrap()
                .future
        })
        .collect();
    assert!(futures[0].try_get().is_none());
    assert!(acc.has_incomplete());
    let b = drain_all(&acc, t0).pop().unwrap();
    assert!(b.was_sent());
    assert!(b.done(ack(100)));
    assert!(!b.done(Err(Error::Closed {
        delivery: Delivery::Unknown
    })));
    assert!(!b.done(ack(7)));
    for (i, f) in futures.iter().enumerate() {
        let m = f.get().unwrap();
        assert_eq!(m.offset, 100 + i as i64);
        assert_eq!(m.timestamp, 5000 + i as i64);
        assert_eq!((m.serialized_key_size, m.serialized_value_size), (3, -1));
        assert_eq!(m.partition, 0);
    }
    assert!(!acc.has_incomplete());
}

#[test]
fn callbacks_run_once_with_their_record() {
    let acc = RecordAccumulator::new(cfg(1000));
    let t0 = Instant::now();
    let calls = Arc::new(Mutex::new(Vec::new()));
    for i in 0..3 {
        let calls = calls.clone();
        let cb: Callback = Box::new(move |r| calls.lock().push((i, r.map(|m| m.offset))));
        acc.append(&tp(0), 0, None, Some(b"v"), &[], Some(cb), t0, NO_WAIT)
            .unwrap();
    }
    let b = drain_all(&acc, t0).pop().unwrap();
    assert!(calls.lock().is_empty());
    b.done(ack(10));
    b.done(ack(20));
    drop(b);
    let mut got = calls.lock().clone();
    got.sort_by_key(|c| c.0);
    let offsets: Vec<(i32, i64)> = got.into_iter().map(|(i, r)| (i, r.unwrap())).collect();
    assert_eq!(offsets, vec![(0, 10), (1, 11), (2, 12)]);
}

#[test]
fn buffer_exhausted_times_out() {
    let mut c = cfg(100);
    c.buffer_memory = 100;
    let acc = RecordAccumulator::new(c);
    let t0 = Instant::now();
    append(&acc, 0, b"a", t0);
    let start = Instant::now();
    let e = acc
        .append(
            &tp(1),
            0,
            None,
            Some(b"b"),
            &[],
            None,
            t0,
            Duration::from_millis(30),
        )
        .unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert!(matches!(e, Error::BufferExhausted { .. }), "{e}");
    assert!(e.to_string().contains("buffer.memory"));
    // A record larger than buffer.memory fails at once.
    let e = acc
        .append(
            &tp(1),
            0,
            None,
            Some(&[0u8; 200]),
            &[],
            None,
            t0,
            Duration::from_secs(60),
        )
        .unwrap_err();
    assert!(matches!(
        e,
        Error::RecordTooLarge {
            limit_name: "buffer.memory",
            ..
        }
    ));
}

#[test]
fn blocked_append_unblocks_when_memory_is_freed() {
    let mut c = cfg(100);
    c.buffer_memory = 100;
    let acc = Arc::new(RecordAccumulator::new(c));
    let t0 = Instant::now();
    append(&acc, 0, b"a", t0);
    let acc2 = acc.clone();
    let h = std::thread::spawn(move || {
        acc2.append(
            &tp(1),
            0,
            None,
            Some(b"b"),
            &[],
            None,
            t0,
            Duration::from_secs(30),
        )
    });
    while acc.buffer_pool().queued() == 0 {
        std::thread::yield_now();
    }
    // Waiters on memory make every batch ready.
    assert_eq!(acc.ready(&all_on_1, t0).ready_nodes, [1].into());
    let b = drain_all(&acc, t0).pop().unwrap();
    b.done(ack(0));
    acc.deallocate(b);
    let r = h.join().unwrap().unwrap();
    assert!(r.new_batch_created);
}

#[test]
fn flush_waits_for_batches_created_before_it() {
    let acc = Arc::new(RecordAccumulator::new(cfg(1000)));
    let t0 = Instant::now();
    let f = append(&acc, 0, b"a", t0).future;
    acc.begin_flush();
    assert!(
        !acc.await_flush_completion(Duration::from_millis(10)),
        "not answered yet"
    );
    acc.begin_flush();
    let acc2 = acc.clone();
    let waiter = std::thread::spawn(move || acc2.await_flush_completion(Duration::from_secs(30)));
    let b = drain_all(&acc, t0).pop().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert!(!waiter.is_finished());
    b.done(ack(1));
    assert!(waiter.join().unwrap());
    assert_eq!(f.try_get().unwrap().unwrap().offset, 1);
    assert!(!acc.flush_in_progress());
}

#[test]
fn abort_answers_every_record_once() {
    let acc = RecordAccumulator::new(cfg(100));
    let t0 = Instant::now();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut futures = Vec::new();
    for p in 0..3 {
        for _ in 0..3 {
            let calls = calls.clone();
            let cb: Callback = Box::new(move |r| {
                assert!(r.is_err());
                calls.fetch_add(1, Ordering::SeqCst);
            });
            let r = acc
                .append(
                    &tp(p),
                    0,
                    None,
                    Some(&[0u8; 20]),
                    &[],
                    Some(cb),
                    t0,
                    NO_WAIT,
                )
                .unwrap();
            futures.push((p, r.future));
        }
    }
    // Partition 0's first batch is in flight (held by the sender).
    let nodes: HashSet<i32> = [1].into();
    let in_flight: Vec<ProducerBatch> = acc
        .drain(
            &|t: &TopicPartition| (t.partition == 0).then_some(1),
            &nodes,
            usize::MAX,
            t0,
        )
        .remove(&1)
        .unwrap();
    assert_eq!(in_flight.len(), 1);
    let in_flight_records = in_flight[0].record_count() as usize;
    acc.close();
    let e = acc
        .append(&tp(0), 0, None, None, &[], None, t0, NO_WAIT)
        .unwrap_err();
    assert!(matches!(
        e,
        Error::Closed {
            delivery: Delivery::NotWritten
        }
    ));
    acc.abort_incomplete_batches(|_, delivery| Error::Closed { delivery });
    assert!(!acc.has_incomplete());
    assert!(!acc.has_undrained());
    assert_eq!(calls.load(Ordering::SeqCst), 9);
    let mut unknown = 0;
    for (_, f) in &futures {
        match f.try_get().unwrap().unwrap_err() {
            Error::Closed {
                delivery: Delivery::Unknown,
            } => unknown += 1,
            Error::Closed {
                delivery: Delivery::NotWritten,
            } => {}
            e => panic!("unexpected {e}"),
        }
    }
    assert_eq!(unknown, in_flight_records);
    // The sender's late answer is ignored.
    assert!(!in_flight[0].done(ack(0)));
    drop(in_flight);
    assert_eq!(calls.load(Ordering::SeqCst), 9);
    assert_eq!(acc.buffer_pool().available_memory(), 1 << 20);
}

#[test]
fn dropped_batch_answers_its_records() {
    let acc = RecordAccumulator::new(cfg(100));
    let t0 = Instant::now();
    let f = append(&acc, 0, b"a", t0).future;
    drop(drain_all(&acc, t0));
    assert!(matches!(
        f.get(),
        Err(Error::Closed {
            delivery: Delivery::Unknown
        })
    ));
}

#[test]
fn drained_bytes_decode_with_headers() {
    let acc = RecordAccumulator::new(cfg(1000));
    let t0 = Instant::now();
    let headers = [
        Header::new("a", "1"),
        Header {
            key: "n".into(),
            value: None,
        },
    ];
    acc.append(&tp(0), 10, Some(b"k"), None, &headers, None, t0, NO_WAIT)
        .unwrap();
    acc.append(&tp(0), 12, None, Some(b"v"), &[], None, t0, NO_WAIT)
        .unwrap();
    let b = drain_all(&acc, t0).pop().unwrap();
    let d = decode_batch(b.bytes()).unwrap();
    assert_eq!(d.size_in_bytes(), b.size_in_bytes());
    assert_eq!((d.base_timestamp, d.max_timestamp), (10, 12));
    assert_eq!(d.records[0].headers.len(), 2);
    assert_eq!(d.records[0].headers[1].value, None);
    assert_eq!(d.records[1].timestamp_delta, 2);
    b.done(ack(0));
}

#[test]
fn concurrent_appends_lose_nothing() {
    let acc = Arc::new(RecordAccumulator::new(cfg(256)));
    let t0 = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let acc = acc.clone();
            std::thread::spawn(move || {
                (0..200)
                    .map(|i| {
                        acc.append(
                            &tp(i % 3),
                            0,
                            None,
                            Some(&[t as u8; 10]),
                            &[],
                            None,
                            t0,
                            NO_WAIT,
                        )
                        .unwrap()
                        .future
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let futures: Vec<SendFuture> = threads
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let mut total = 0;
    let mut offset = 0i64;
    while acc.has_undrained() {
        for b in drain_all(&acc, t0) {
            total += b.record_count();
            b.done(ack(offset));
            offset += 1000;
        }
    }
    assert_eq!(total, 800);
    assert!(futures.iter().all(|f| f.try_get().unwrap().is_ok()));
    assert!(!acc.has_incomplete());
}

#[test]
fn thread_safety_bounds() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<RecordAccumulator>();
    send_sync::<SendFuture>();
    send_sync::<BufferPool>();
    send::<ProducerBatch>();
}

#[test]
fn drain_hook_may_hold_a_partition_back() {
    // One batch in flight per partition, the sender's way: the hook refuses a partition once it
    // drained a batch from it, until told otherwise.
    struct OneInFlight(HashSet<TopicPartition>);
    impl DrainHook for OneInFlight {
        fn can_drain(&mut self, tp: &TopicPartition, _: &ProducerBatch, _: Instant) -> bool {
            !self.0.contains(tp)
        }
        fn on_drain(&mut self, b: &mut ProducerBatch, _first_time: bool) {
            self.0.insert(b.topic_partition().clone());
        }
    }
    let acc = RecordAccumulator::new(cfg(100));
    let t0 = Instant::now();
    append(&acc, 0, &[0u8; 30], t0);
    append(&acc, 0, &[0u8; 30], t0);
    let nodes: HashSet<i32> = [1].into();
    let mut hook = OneInFlight(HashSet::new());
    let got = acc.drain_with(&all_on_1, &nodes, usize::MAX, t0, &mut hook);
    assert_eq!(got[&1].len(), 1);
    assert!(hook.0.contains(&tp(0)));
    assert!(acc.ready(&all_on_1, t0).ready_nodes.is_empty());
    // Lingered, the second batch is ready, and still held back while the first is in flight.
    let later = t0 + Duration::from_millis(10);
    assert_eq!(acc.ready(&all_on_1, later).ready_nodes, [1].into());
    assert!(acc
        .drain_with(&all_on_1, &nodes, usize::MAX, later, &mut hook)
        .is_empty());
    hook.0.clear();
    let got = acc.drain_with(&all_on_1, &nodes, usize::MAX, later, &mut hook);
    assert_eq!(got[&1].len(), 1);
}

#[cfg(any(feature = "gzip", feature = "lz4"))]
fn cfg_compressed(
    batch_size: usize,
    buffer_memory: usize,
    codec: CompressionType,
) -> AccumulatorConfig {
    AccumulatorConfig {
        buffer_memory,
        compression: codec,
        ..cfg(batch_size)
    }
}

#[cfg(feature = "gzip")]
#[test]
fn compressed_batches_fill_by_estimated_size_and_learn_the_ratio() {
    let acc = RecordAccumulator::new(cfg_compressed(1000, 1 << 20, CompressionType::Gzip));
    let now = Instant::now();
    let v = [b'a'; 100];
    // Ratio 1.0 to start: ~1000 / 1.05 bytes of records fit, about 9 records of 105 bytes.
    let mut n = 0;
    while !append(&acc, 0, &v, now).new_batch_created || n == 0 {
        n += 1;
    }
    assert!((8..=9).contains(&n), "{n}");
    let first = drain_all(&acc, now).remove(0);
    assert_eq!(first.compression(), CompressionType::Gzip);
    let d = decode_batch(first.bytes()).unwrap();
    assert_eq!(d.compression(), Some(CompressionType::Gzip));
    assert_eq!(d.record_count as usize, n);
    assert!(first.bytes().len() < 200, "gzip shrinks repeated bytes");
    // One observation: the estimate falls by Java's improving step only.
    let est = acc.estimated_compression_ratio("t");
    assert!((est - 0.995).abs() < 1e-4, "{est}");
    drop(first);
    drain_all(&acc, now); // the batch begun by the last append
                          // After many batches the estimate reaches the observed ratio and batches hold far more
                          // uncompressed bytes than batch.size.
    for _ in 0..300 {
        acc.ratios.update("t", CompressionType::Gzip, 0.05);
    }
    let before = acc.buffer_pool().available_memory();
    let mut count = 0;
    while !append(&acc, 0, &v, now).new_batch_created || count == 0 {
        count += 1;
    }
    let batches = drain_all(&acc, now);
    let big = &batches[0];
    assert!(
        count > 100,
        "{count} records in a 1000-byte compressed batch"
    );
    assert!(big.allocated_bytes() > 10_000, "{}", big.allocated_bytes());
    assert!(big.bytes().len() <= 1000);
    // Memory accounting: what the batches hold is counted against buffer.memory.
    let held: usize = batches.iter().map(ProducerBatch::allocated_bytes).sum();
    assert!(before - acc.buffer_pool().available_memory() >= held - 1000);
    drop(batches);
    drain_all(&acc, now);
    assert_eq!(acc.buffer_pool().available_memory(), 1 << 20);
}

#[cfg(feature = "lz4")]
#[test]
fn compressed_batch_growth_stops_at_buffer_memory() {
    // 4 KiB of memory, 1000-byte batches, a 0.01 ratio: the batch grows (1000, 2000, 4000
    // bytes) only while the pool can give the memory; then it counts as full, and the next
    // record waits for memory like any other.
    let acc = RecordAccumulator::new(cfg_compressed(1000, 4096, CompressionType::Lz4));
    for _ in 0..500 {
        acc.ratios.update("t", CompressionType::Lz4, 0.01);
    }
    let now = Instant::now();
    let v = [b'z'; 100];
    let mut n = 0;
    let err = loop {
        match acc.append(&tp(0), 1000, Some(b"k"), Some(&v), &[], None, now, NO_WAIT) {
            Ok(_) => n += 1,
            Err(e) => break e,
        }
        assert!(n < 1000);
    };
    assert!(matches!(err, Error::BufferExhausted { .. }), "{err}");
    let ready = acc.ready(&all_on_1, now);
    assert!(
        ready.ready_nodes.contains(&1),
        "a batch refused memory is full"
    );
    assert_eq!(acc.buffer_pool().available_memory(), 96);
    let batches = drain_all(&acc, now);
    assert_eq!(batches[0].allocated_bytes(), 4000);
    let d = decode_batch(batches[0].bytes()).unwrap();
    assert_eq!(d.record_count as usize, n);
    assert!((34..=37).contains(&n), "{n} records of ~107 bytes in 4000"); // ~3939 / 107
    drop(batches);
    assert_eq!(acc.buffer_pool().available_memory(), 4096);
    append(&acc, 0, &v, now);
}

fn growing(batch_size: usize, max_batch_size: usize) -> AccumulatorConfig {
    AccumulatorConfig {
        max_batch_size,
        ..cfg(batch_size)
    }
}

fn nodes_1() -> HashSet<i32> {
    HashSet::from([1])
}

#[test]
fn a_batch_is_ready_at_batch_size_and_grows_until_drained() {
    let acc = RecordAccumulator::new(growing(1000, 10_000));
    let t0 = Instant::now();
    let value = [7u8; 100];
    let first = append(&acc, 0, &value, t0);
    assert!(first.new_batch_created);
    let mut results = vec![first];
    while !results.last().unwrap().batch_is_full {
        results.push(append(&acc, 0, &value, t0));
    }
    let at_ready = results.len();
    assert!(
        at_ready < 10,
        "full (ready) near batch.size: {at_ready} records"
    );
    assert!(acc.ready(&all_on_1, t0).ready_nodes.contains(&1));
    // Not drained yet: the same batch keeps taking records, past batch.size.
    for _ in 0..40 {
        let r = append(&acc, 0, &value, t0);
        assert!(
            !r.new_batch_created,
            "grows in place while the sender is busy"
        );
    }
    let batches = acc
        .drain(&all_on_1, &nodes_1(), 1 << 20, t0)
        .remove(&1)
        .unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].record_count() as usize, at_ready + 40);
    assert!(batches[0].size_in_bytes() > 4000);
    let decoded = decode_batch(batches[0].bytes()).unwrap();
    assert_eq!(decoded.records.len(), at_ready + 40);
    // The partition's next batch starts as large as this one grew: no regrowth by copying.
    append(&acc, 0, &value, t0);
    let next = acc
        .drain(&all_on_1, &nodes_1(), 1 << 20, t0)
        .remove(&1)
        .unwrap();
    assert!(next[0].alloc_size >= 4096, "{}", next[0].alloc_size);
    // ... and once the partition is back to small batches, so are the allocations.
    append(&acc, 0, &value, t0);
    let small = acc
        .drain(&all_on_1, &nodes_1(), 1 << 20, t0)
        .remove(&1)
        .unwrap();
    assert!(small[0].alloc_size < 4096, "{}", small[0].alloc_size);
}

#[test]
fn growth_stops_at_the_bound_and_within_buffer_memory() {
    let acc = RecordAccumulator::new(growing(1000, 3000));
    let t0 = Instant::now();
    let value = [1u8; 100];
    let mut new_batches = 0;
    for _ in 0..100 {
        if append(&acc, 0, &value, t0).new_batch_created {
            new_batches += 1;
        }
    }
    assert!(
        new_batches >= 4,
        "batches stop at 3000 bytes: {new_batches}"
    );
    let batches = acc
        .drain(&all_on_1, &nodes_1(), 1 << 20, t0)
        .remove(&1)
        .unwrap();
    assert!(batches[0].size_in_bytes() <= 3000);
    // With the pool nearly used up, a batch does not grow past what the pool can give.
    let tight = RecordAccumulator::new(AccumulatorConfig {
        buffer_memory: 2500,
        ..growing(1000, 100_000)
    });
    for _ in 0..100 {
        if tight
            .append(
                &tp(0),
                1000,
                Some(b"k"),
                Some(&value),
                &[],
                None,
                t0,
                NO_WAIT,
            )
            .is_err()
        {
            break;
        }
    }
    assert!(tight.buffer_pool().available_memory() <= 2500);
    let held: usize = tight
        .drain(&all_on_1, &nodes_1(), 1 << 20, t0)
        .remove(&1)
        .unwrap()
        .iter()
        .map(|b| b.size_in_bytes())
        .sum();
    assert!(held <= 2500, "{held}");
}

#[test]
fn the_sender_visits_busy_partitions_only() {
    let acc = RecordAccumulator::new(cfg(1000));
    let t0 = Instant::now();
    for p in 0..50 {
        append(&acc, p, b"v", t0);
    }
    let drained = acc
        .drain(&all_on_1, &nodes_1(), 1 << 20, t0)
        .remove(&1)
        .unwrap();
    assert_eq!(drained.len(), 50);
    // Every queue is empty now: the next turn takes them all off the list.
    assert!(acc.busy_partitions().is_empty());
    assert!(acc.active.lock().is_empty());
    // One partition gets a record again: it alone is listed, once.
    append(&acc, 7, b"v", t0);
    append(&acc, 7, b"v", t0);
    let busy = acc.busy_partitions();
    assert_eq!(busy.len(), 1);
    assert_eq!(busy[0].0, tp(7));
    assert_eq!(acc.active.lock().len(), 1);
    // A retry puts its partition back on the list.
    let mut batch = acc
        .drain(&all_on_1, &nodes_1(), 1 << 20, t0)
        .remove(&1)
        .unwrap();
    assert!(acc.busy_partitions().is_empty());
    acc.reenqueue(batch.remove(0), t0);
    assert_eq!(acc.busy_partitions().len(), 1);
    let later = t0 + Duration::from_secs(5);
    assert_eq!(
        acc.drain(&all_on_1, &nodes_1(), 1 << 20, later)[&1].len(),
        1
    );
}

#[test]
fn busy_partitions_keep_creation_order_for_round_robin() {
    let acc = RecordAccumulator::new(cfg(1000));
    let t0 = Instant::now();
    for p in [3, 1, 2] {
        append(&acc, p, b"v", t0);
    }
    acc.drain(&all_on_1, &nodes_1(), 1 << 20, t0);
    // Listed again in another order: visited in the order the partitions were first seen.
    for p in [2, 1, 3] {
        append(&acc, p, b"v", t0);
    }
    let order: Vec<i32> = acc
        .busy_partitions()
        .iter()
        .map(|(tp, _)| tp.partition)
        .collect();
    assert_eq!(order, vec![3, 1, 2]);
}

#[test]
fn partitions_with_small_batches_allocate_small_ones() {
    // A thousand partitions, a record or two per batch: each must not hold batch.size.
    let acc = RecordAccumulator::new(cfg(16384));
    let t0 = Instant::now();
    let total = acc.buffer_pool().available_memory();
    for p in 0..50 {
        append(&acc, p, b"v", t0);
    }
    assert_eq!(total - acc.buffer_pool().available_memory(), 50 * 16384);
    drop(acc.drain(&all_on_1, &nodes_1(), 1 << 30, t0));
    assert_eq!(acc.buffer_pool().available_memory(), total);
    // Their next batches start at the smallest size, and still grow when records come.
    for p in 0..50 {
        append(&acc, p, b"v", t0);
    }
    assert_eq!(total - acc.buffer_pool().available_memory(), 50 * MIN_ALLOC);
    for _ in 0..100 {
        append(&acc, 0, &[9u8; 100], t0);
    }
    let batches = acc
        .drain(&all_on_1, &nodes_1(), 1 << 30, t0)
        .remove(&1)
        .unwrap();
    let p0 = batches
        .iter()
        .find(|b| b.topic_partition() == &tp(0))
        .unwrap();
    assert_eq!(p0.record_count(), 101, "one batch, grown");
    assert_eq!(decode_batch(p0.bytes()).unwrap().records.len(), 101);
}

//! The producer when its broker goes away: a real broker (the fault node, started by
//! `scripts/test` on its own port) is killed with SIGKILL and started again on its data.
//! Tests here take a lock so only one of them stops the broker at a time.

mod support;

use kafka_sync::{Delivery, Error, Producer, ProducerConfig, ProducerRecord, SendFuture};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static BROKER: Mutex<()> = Mutex::new(());

/// Restarts the fault broker when dropped if it was killed, so a failing test leaves it up.
struct Fault {
    port: String,
    down: bool,
}

impl Fault {
    fn new(port: String) -> Self {
        Fault { port, down: false }
    }
    fn kill(&mut self) {
        support::kafka_tool(&["kill", "1", "--port", &self.port], None);
        self.down = true;
    }
    fn restart(&mut self) {
        support::kafka_tool(&["restart", "1", "--port", &self.port], None);
        self.down = false;
    }
}

impl Drop for Fault {
    fn drop(&mut self) {
        if self.down {
            self.restart();
        }
    }
}

fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> Producer<String, String> {
    let mut b = ProducerConfig::builder().bootstrap_servers(bootstrap);
    for (k, v) in extra {
        b = b.set(*k, *v);
    }
    Producer::new(b.build().expect("valid config")).expect("producer")
}

fn vm_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn broker_stopped_and_started_mid_stream_loses_nothing_silently() {
    let _one = BROKER.lock().unwrap_or_else(|e| e.into_inner());
    let (bs, port) = support::bootstrap_fault();
    let mut fault = Fault::new(port);
    let topic = support::unique_topic("restart");
    support::create_topic(&bs, &topic, 3, 1, &[]);
    let delivery_timeout = Duration::from_secs(60);
    let p = producer(
        &bs,
        &[
            ("delivery.timeout.ms", "60000"),
            ("request.timeout.ms", "5000"),
            ("linger.ms", "5"),
        ],
    );

    let started = Instant::now();
    let mut futures: Vec<(usize, SendFuture)> = Vec::new();
    let mut i = 0usize;
    let mut killed = false;
    let mut restarted = false;
    while started.elapsed() < Duration::from_secs(14) || !restarted {
        for _ in 0..50 {
            let f = p
                .send(ProducerRecord::new(
                    topic.clone(),
                    Some(format!("k{}", i % 97)),
                    Some(format!("v{i}")),
                ))
                .expect("send");
            futures.push((i, f));
            i += 1;
        }
        std::thread::sleep(Duration::from_millis(10));
        if !killed && started.elapsed() > Duration::from_secs(3) {
            fault.kill();
            killed = true;
        }
        if killed && !restarted && started.elapsed() > Duration::from_secs(6) {
            fault.restart();
            restarted = true;
        }
    }
    let sent_all = Instant::now();
    let mut ok = HashMap::new();
    let mut failed = Vec::new();
    for (i, f) in futures {
        match f.get_timeout(delivery_timeout + Duration::from_secs(15)) {
            Ok(md) => {
                ok.insert(i, md);
            }
            Err(Error::WaitTimeout) => {
                panic!("record {i} got no answer within delivery.timeout.ms")
            }
            Err(e) => failed.push((i, e)),
        }
    }
    eprintln!(
        "sent {i} records; {} acknowledged, {} failed; answers complete {:?} after the last send",
        ok.len(),
        failed.len(),
        sent_all.elapsed()
    );
    assert!(!ok.is_empty());
    p.close(Duration::from_secs(10));

    // Kafka's console consumer: every acknowledged record exactly once at its offset; no record
    // that was reported as not written.
    let got = support::consume(&bs, &topic, i, 60_000);
    let mut seen: HashMap<usize, usize> = HashMap::new();
    for c in &got {
        let n: usize = c.value.trim_start_matches('v').parse().unwrap();
        *seen.entry(n).or_default() += 1;
        if let Some(md) = ok.get(&n) {
            assert_eq!(
                (md.partition, md.offset),
                (c.partition, c.offset),
                "record {n} is not where send said"
            );
        }
    }
    for n in ok.keys() {
        assert_eq!(
            seen.get(n),
            Some(&1),
            "acknowledged record {n} read {:?} times",
            seen.get(n)
        );
    }
    for (n, e) in &failed {
        if e.delivery() == Delivery::NotWritten {
            assert_eq!(
                seen.get(n),
                None,
                "record {n} failed as not written ({e}) but is in the log"
            );
        }
    }
    assert!(seen.values().all(|&c| c == 1), "a record was written twice");
    assert_eq!(got.len(), seen.len());
}

#[test]
fn close_with_the_broker_down_returns_by_the_timeout_and_answers_everything() {
    let _one = BROKER.lock().unwrap_or_else(|e| e.into_inner());
    let (bs, port) = support::bootstrap_fault();
    let mut fault = Fault::new(port);
    let topic = support::unique_topic("close-down");
    support::create_topic(&bs, &topic, 2, 1, &[]);
    let p = producer(
        &bs,
        &[
            ("delivery.timeout.ms", "60000"),
            ("request.timeout.ms", "5000"),
        ],
    );
    for i in 0..10 {
        p.send(ProducerRecord::new(
            topic.clone(),
            None,
            Some(format!("warm-{i}")),
        ))
        .unwrap()
        .get()
        .unwrap();
    }
    fault.kill();
    let pending: Vec<SendFuture> = (0..300)
        .map(|i| {
            p.send(ProducerRecord::new(
                topic.clone(),
                None,
                Some(format!("pending-{i}")),
            ))
            .unwrap()
        })
        .collect();
    let t = Instant::now();
    p.close(Duration::from_secs(2));
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(1900),
        "close returned before its timeout with the broker down: {took:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "close overran its timeout: {took:?}"
    );
    for f in pending {
        let r = f
            .try_get()
            .expect("every record answered by the time close returns");
        match r {
            Err(Error::Closed { delivery }) => {
                assert!(matches!(delivery, Delivery::NotWritten | Delivery::Unknown))
            }
            Err(e @ Error::DeliveryTimeout { .. }) | Err(e @ Error::Network { .. }) => {
                let _ = e.delivery();
            }
            other => panic!("unexpected answer after close with the broker down: {other:?}"),
        }
    }
    // Sending after close is refused at once.
    let e = p
        .send(ProducerRecord::new(
            topic.clone(),
            None,
            Some("late".to_string()),
        ))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Closed {
                delivery: Delivery::NotWritten
            }
        ),
        "{e:?}"
    );
}

#[test]
fn a_full_buffer_blocks_send_for_max_block_then_fails_with_memory_bounded() {
    let _one = BROKER.lock().unwrap_or_else(|e| e.into_inner());
    let (bs, port) = support::bootstrap_fault();
    let mut fault = Fault::new(port);
    let topic = support::unique_topic("backpressure");
    support::create_topic(&bs, &topic, 2, 1, &[]);
    let p = producer(
        &bs,
        &[
            ("buffer.memory", "262144"),
            ("batch.size", "16384"),
            ("max.block.ms", "1500"),
            ("linger.ms", "0"),
        ],
    );
    p.send(ProducerRecord::new(
        topic.clone(),
        None,
        Some("warm".to_string()),
    ))
    .unwrap()
    .get()
    .unwrap();
    fault.kill();
    let rss_before = vm_kib("VmRSS:");
    let value = "x".repeat(1000);
    let mut pending = Vec::new();
    let mut longest = Duration::ZERO;
    let err = loop {
        let t = Instant::now();
        let r = p.send(ProducerRecord::new(
            topic.clone(),
            None,
            Some(value.clone()),
        ));
        let took = t.elapsed();
        longest = longest.max(took);
        match r {
            Ok(f) => pending.push(f),
            Err(e) => break (e, took),
        }
        assert!(
            pending.len() < 100_000,
            "256 KiB of buffer.memory never filled up"
        );
    };
    let rss_after = vm_kib("VmRSS:");
    eprintln!(
        "buffer full after {} records; the failing send blocked {:?}; RSS {} KiB -> {} KiB, peak {} KiB",
        pending.len(),
        err.1,
        rss_before,
        rss_after,
        vm_kib("VmHWM:")
    );
    match &err.0 {
        Error::BufferExhausted { waited, .. } => {
            assert!(*waited >= Duration::from_millis(1400), "{waited:?}")
        }
        e => panic!("expected BufferExhausted, got {e:?}"),
    }
    assert!(err.0.to_string().contains("buffer.memory"));
    assert!(
        err.1 >= Duration::from_millis(1400) && err.1 < Duration::from_secs(4),
        "blocked {:?}",
        err.1
    );
    assert!(
        longest < Duration::from_secs(4),
        "a send blocked {longest:?}, past max.block.ms"
    );
    // Roughly buffer.memory worth of records were taken, not more.
    assert!(
        pending.len() <= 262_144 / 1000 + 16,
        "{} records accepted into 256 KiB",
        pending.len()
    );
    assert!(
        rss_after.saturating_sub(rss_before) < 32 * 1024,
        "RSS grew {} KiB",
        rss_after - rss_before
    );
    p.close(Duration::ZERO);
    for f in pending {
        assert!(f.try_get().expect("answered on close").is_err());
    }
}

/// A broker of the 3-node cluster is killed mid-stream and started again: leadership moves,
/// the producer follows it (NOT_LEADER_OR_FOLLOWER, metadata refresh, retries), and with
/// idempotence every acknowledged record is in the log exactly once.
#[test]
fn a_broker_of_three_killed_mid_stream_leadership_moves_nothing_lost_or_doubled() {
    let _one = BROKER.lock().unwrap_or_else(|e| e.into_inner());
    let bs = support::bootstrap3();
    let topic = support::unique_topic("failover");
    support::create_topic(&bs, &topic, 6, 3, &[]);
    let p = producer(
        &bs,
        &[
            ("delivery.timeout.ms", "60000"),
            ("request.timeout.ms", "5000"),
        ],
    );
    struct Restart(bool);
    impl Drop for Restart {
        fn drop(&mut self) {
            if self.0 {
                support::kafka_tool(&["restart", "2", "--brokers", "3"], None);
            }
        }
    }
    let mut down = Restart(false);
    let started = Instant::now();
    let mut futures = Vec::new();
    let mut i = 0usize;
    while started.elapsed() < Duration::from_secs(12) || down.0 {
        for _ in 0..50 {
            futures.push((
                i,
                p.send(ProducerRecord::new(
                    topic.clone(),
                    Some(format!("k{}", i % 89)),
                    Some(format!("v{i}")),
                ))
                .unwrap(),
            ));
            i += 1;
        }
        std::thread::sleep(Duration::from_millis(10));
        if !down.0
            && i >= 5_000
            && started.elapsed() > Duration::from_secs(2)
            && started.elapsed() < Duration::from_secs(6)
        {
            support::kafka_tool(&["kill", "2", "--brokers", "3"], None);
            down.0 = true;
        }
        if down.0 && started.elapsed() > Duration::from_secs(8) {
            support::kafka_tool(&["restart", "2", "--brokers", "3"], None);
            down.0 = false;
        }
    }
    let mut ok = HashMap::new();
    let mut failed = 0;
    for (n, f) in futures {
        match f.get_timeout(Duration::from_secs(90)) {
            Ok(md) => {
                ok.insert(n, md);
            }
            Err(Error::WaitTimeout) => panic!("record {n} unanswered"),
            Err(e) => {
                failed += 1;
                eprintln!("record {n}: {e} ({:?})", e.delivery());
            }
        }
    }
    eprintln!(
        "failover: {i} sent, {} acknowledged, {failed} failed",
        ok.len()
    );
    p.close(Duration::from_secs(10));
    let got = support::consume(&bs, &topic, i, 90_000);
    let mut seen: HashMap<usize, usize> = HashMap::new();
    for c in &got {
        let n: usize = c.value.trim_start_matches('v').parse().unwrap();
        *seen.entry(n).or_default() += 1;
    }
    for (n, md) in &ok {
        assert_eq!(
            seen.get(n),
            Some(&1),
            "acknowledged record {n} (at {}-{}) read {:?} times",
            md.partition,
            md.offset,
            seen.get(n)
        );
    }
    assert!(seen.values().all(|&c| c == 1), "a record was written twice");
    assert_eq!(
        failed, 0,
        "with min.insync.replicas=2 of 3 and the broker back in time, every record is written"
    );
}

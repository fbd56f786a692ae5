//! The producer end to end against the real single-node broker, every result checked by Kafka's
//! own console consumer.

mod support;

use kafka_sync::{
    Delivery, Error, Header, Producer, ProducerConfig, ProducerRecord, RecordMetadata,
};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> Producer<String, String> {
    let mut b = ProducerConfig::builder().bootstrap_servers(bootstrap);
    for (k, v) in extra {
        b = b.set(*k, *v);
    }
    Producer::new(b.build().expect("valid config")).expect("producer")
}

/// What a record of kind `i % 6` looks like; the value (or the key, for tombstones) carries `i`
/// so every record read back can be matched to what was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sent {
    key: Option<String>,
    value: Option<String>,
    partition: Option<i32>,
    timestamp: Option<i64>,
    headers: Vec<Header>,
}

fn kind(i: usize) -> Sent {
    let base = Sent {
        key: None,
        value: Some(format!("value-{i}")),
        partition: None,
        timestamp: None,
        headers: vec![],
    };
    match i % 6 {
        0 => Sent {
            key: Some(format!("key-{}", i % 1000)),
            ..base
        },
        1 => base,
        2 => Sent {
            partition: Some((i % 6) as i32 / 2 + (i % 4) as i32),
            ..base
        },
        3 => Sent {
            key: Some(format!("hkey-{i}")),
            headers: vec![
                Header::new("trace", format!("t-{i}")),
                Header {
                    key: "empty".into(),
                    value: None,
                },
                Header::new("n", i.to_string()),
            ],
            ..base
        },
        4 => Sent {
            key: Some(format!("tomb-{i}")),
            value: None,
            ..base
        },
        _ => Sent {
            key: Some(format!("ts-{i}")),
            timestamp: Some(1_600_000_000_000 + i as i64),
            ..base
        },
    }
}

fn to_record(topic: &str, s: &Sent) -> ProducerRecord<String, String> {
    ProducerRecord {
        topic: topic.to_string(),
        partition: s.partition,
        key: s.key.clone(),
        value: s.value.clone(),
        timestamp: s.timestamp,
        headers: s.headers.clone(),
    }
}

fn headers_as_printed(h: &[Header]) -> String {
    if h.is_empty() {
        return "NO_HEADERS".into();
    }
    h.iter()
        .map(|h| {
            let v = h.value.as_ref().map_or("<null>".to_string(), |v| {
                String::from_utf8_lossy(v).into_owned()
            });
            format!("{}:{}", h.key, v)
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn every_kind_of_record_is_read_back_exactly_once_where_send_said() {
    every_kind_read_back(&support::bootstrap(), 100_000);
}

/// The same on every older broker (`KAFKA_COMPAT_BROKERS`: 2.8 and 3.3 in ZooKeeper mode, 3.9
/// and 4.0 in KRaft), with fewer records.
#[test]
fn every_kind_of_record_on_every_compat_broker() {
    support::each_compat_broker(|b| every_kind_read_back(&b.bootstrap, 10_000));
}

/// `n` records of every kind (idempotent, acks=all: the defaults) to a 6-partition topic, each
/// read back by Kafka's console consumer exactly once, intact, at the offset send() returned.
fn every_kind_read_back(bs: &str, n: usize) {
    let bs = bs.to_string();
    let topic = support::unique_topic("kinds");
    support::create_topic(&bs, &topic, 6, 1, &[]);
    let p = producer(&bs, &[]);

    let sent: Vec<Sent> = (0..n).map(kind).collect();
    let before = support::now_ms();
    let futures: Vec<_> = sent
        .iter()
        .map(|s| p.send(to_record(&topic, s)).expect("send"))
        .collect();
    let mds: Vec<RecordMetadata> = futures
        .into_iter()
        .map(|f| f.get().expect("acknowledged"))
        .collect();
    let after = support::now_ms();
    p.close(Duration::from_secs(10));

    // Where did send say each record went?
    let mut at: HashMap<(i32, i64), usize> = HashMap::new();
    for (i, md) in mds.iter().enumerate() {
        assert_eq!(&*md.topic, topic.as_str());
        assert!((0..6).contains(&md.partition));
        assert!(md.offset >= 0);
        if let Some(p) = sent[i].partition {
            assert_eq!(md.partition, p, "explicit partition of record {i}");
        }
        if let Some(k) = &sent[i].key {
            if sent[i].partition.is_none() {
                assert_eq!(
                    md.partition,
                    kafka_sync::partition_for_key(k.as_bytes(), 6),
                    "key {k}"
                );
            }
        }
        match sent[i].timestamp {
            Some(ts) => assert_eq!(md.timestamp, ts),
            None => assert!(
                (before..=after).contains(&md.timestamp),
                "create time of {i}: {}",
                md.timestamp
            ),
        }
        assert!(
            at.insert((md.partition, md.offset), i).is_none(),
            "two records at {}-{}",
            md.partition,
            md.offset
        );
    }

    // Kafka's console consumer reads every record exactly once, intact, at that offset.
    let got = support::consume(&bs, &topic, n, 60_000);
    assert_eq!(got.len(), n, "read back {} of {n}", got.len());
    let mut seen = HashSet::new();
    for c in &got {
        let i = *at
            .get(&(c.partition, c.offset))
            .unwrap_or_else(|| panic!("unexpected record {c:?}"));
        assert!(seen.insert(i), "record {i} read twice");
        let s = &sent[i];
        assert_eq!(
            c.key,
            s.key.clone().unwrap_or_else(|| "<null>".into()),
            "key of {i}"
        );
        assert_eq!(
            c.value,
            s.value.clone().unwrap_or_else(|| "<null>".into()),
            "value of {i}"
        );
        assert_eq!(c.headers, headers_as_printed(&s.headers), "headers of {i}");
        assert_eq!(c.timestamp, Some(mds[i].timestamp), "timestamp of {i}");
    }
    assert_eq!(seen.len(), n);
}

/// Keys land where the Java client puts them: the same keys written by Kafka's console producer
/// (the Java producer) end up on the same partitions as ours.
#[test]
fn keyed_records_land_on_the_java_clients_partitions() {
    let bs = support::bootstrap();
    let ours = support::unique_topic("keys-rust");
    let theirs = support::unique_topic("keys-java");
    support::create_topic(&bs, &ours, 6, 1, &[]);
    support::create_topic(&bs, &theirs, 6, 1, &[]);
    let keys: Vec<String> = (0..500).map(|i| format!("user-{i}-{}", i * 7919)).collect();

    let p = producer(&bs, &[]);
    let futs: Vec<_> = keys
        .iter()
        .map(|k| {
            p.send(ProducerRecord::new(
                ours.clone(),
                Some(k.clone()),
                Some("x".to_string()),
            ))
            .unwrap()
        })
        .collect();
    let rust_parts: HashMap<String, i32> = keys
        .iter()
        .cloned()
        .zip(futs.into_iter().map(|f| f.get().unwrap().partition))
        .collect();

    let input: String = keys.iter().map(|k| format!("{k}\tx\n")).collect();
    support::kafka_tool(
        &[
            "console-producer",
            "--bootstrap-server",
            &bs,
            "--topic",
            &theirs,
            "--reader-property",
            "parse.key=true",
        ],
        Some(input.as_bytes()),
    );
    let java = support::consume(&bs, &theirs, keys.len(), 30_000);
    assert_eq!(java.len(), keys.len());
    let mut differ = 0;
    for c in &java {
        if rust_parts[&c.key] != c.partition {
            differ += 1;
        }
    }
    assert_eq!(
        differ, 0,
        "keys on a different partition than the Java producer chose"
    );
    // And the Rust records really are there, as read by Kafka's consumer.
    let read = support::consume(&bs, &ours, keys.len(), 30_000);
    for c in &read {
        assert_eq!(rust_parts[&c.key], c.partition);
    }
}

#[test]
fn eight_threads_share_one_producer_and_keep_per_key_order() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 5_000;
    let bs = support::bootstrap();
    let topic = support::unique_topic("threads");
    support::create_topic(&bs, &topic, 6, 1, &[]);
    let p = Arc::new(producer(&bs, &[]));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let p = p.clone();
            let topic = topic.clone();
            std::thread::spawn(move || {
                let futs: Vec<_> = (0..PER_THREAD)
                    .map(|j| {
                        let key = format!("t{t}-k{}", j % 10);
                        p.send(ProducerRecord::new(
                            topic.clone(),
                            Some(key),
                            Some(format!("{t}:{j}")),
                        ))
                        .expect("send")
                    })
                    .collect();
                futs.into_iter()
                    .map(|f| f.get().expect("acknowledged"))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<Vec<RecordMetadata>> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();
    // Every record answered; for each thread and key, offsets grow with the send order.
    for (t, mds) in results.iter().enumerate() {
        assert_eq!(mds.len(), PER_THREAD);
        for k in 0..10 {
            let offs: Vec<(i32, i64)> = mds
                .iter()
                .skip(k)
                .step_by(10)
                .map(|m| (m.partition, m.offset))
                .collect();
            assert!(
                offs.windows(2).all(|w| w[0].0 == w[1].0 && w[0].1 < w[1].1),
                "thread {t} key {k} out of order: {offs:?}"
            );
        }
    }
    // The independent reader agrees: per key, values come in the order each thread sent them.
    let got = support::consume(&bs, &topic, THREADS * PER_THREAD, 60_000);
    assert_eq!(got.len(), THREADS * PER_THREAD);
    let mut last: HashMap<String, i64> = HashMap::new();
    let mut got = got;
    got.sort_by_key(|c| (c.partition, c.offset));
    for c in &got {
        let j: i64 = c.value.split(':').nth(1).unwrap().parse().unwrap();
        if let Some(prev) = last.insert(c.key.clone(), j) {
            assert!(prev < j, "key {} went {prev} then {j}", c.key);
        }
    }
}

#[test]
fn unknown_topic_fails_within_max_block_naming_the_topic() {
    let bs = support::bootstrap();
    let p = producer(&bs, &[("max.block.ms", "2000")]);
    let topic = support::unique_topic("does-not-exist");
    let t = Instant::now();
    let err = p
        .send(ProducerRecord::new(
            topic.clone(),
            None,
            Some("v".to_string()),
        ))
        .unwrap_err();
    let waited = t.elapsed();
    match &err {
        Error::MetadataTimeout {
            topic: t,
            unreachable_brokers,
            refreshes,
            ..
        } => {
            assert_eq!(t, &topic);
            assert!(
                unreachable_brokers.is_empty(),
                "the broker answered: {unreachable_brokers:?}"
            );
            assert!(*refreshes >= 1, "the broker answered: {err}");
        }
        e => panic!("expected a metadata timeout, got {e:?}"),
    }
    assert!(err.to_string().contains(&topic));
    assert_eq!(err.delivery(), Delivery::NotWritten);
    assert!(
        waited >= Duration::from_millis(1900),
        "gave up early: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(6),
        "blocked past max.block.ms: {waited:?}"
    );
}

#[test]
fn invalid_topic_and_oversized_record_fail_at_once_and_alone() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("neighbours");
    support::create_topic(&bs, &topic, 1, 1, &[]);
    let p = producer(&bs, &[("linger.ms", "50")]);
    let ok1 = p
        .send(ProducerRecord::new(
            topic.clone(),
            None,
            Some("before".to_string()),
        ))
        .unwrap();

    let t = Instant::now();
    let bad = p
        .send(ProducerRecord::new(
            "not a topic!",
            None,
            Some("x".to_string()),
        ))
        .unwrap_err();
    assert!(matches!(bad, Error::InvalidTopic { .. }), "{bad:?}");
    let big = "x".repeat(2 * 1024 * 1024);
    let too_big = p
        .send(ProducerRecord::new(topic.clone(), None, Some(big)))
        .unwrap_err();
    match too_big {
        Error::RecordTooLarge {
            limit_name,
            limit,
            size,
        } => {
            assert_eq!(limit_name, "max.request.size");
            assert_eq!(limit, 1_048_576);
            assert!(size > 2 * 1024 * 1024);
        }
        e => panic!("expected RecordTooLarge, got {e:?}"),
    }
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "errors were not immediate"
    );

    let ok2 = p
        .send(ProducerRecord::new(
            topic.clone(),
            None,
            Some("after".to_string()),
        ))
        .unwrap();
    let a = ok1.get().unwrap();
    let b = ok2.get().unwrap();
    assert_eq!((a.offset, b.offset), (0, 1));
    let got = support::consume(&bs, &topic, 2, 20_000);
    let values: Vec<&str> = got.iter().map(|c| c.value.as_str()).collect();
    assert_eq!(values, ["before", "after"]);
}

#[test]
fn flush_returns_only_when_every_earlier_record_is_answered() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("flush");
    support::create_topic(&bs, &topic, 3, 1, &[]);
    // A long linger: without the flush these records would sit for a minute.
    let p = producer(
        &bs,
        &[("linger.ms", "60000"), ("delivery.timeout.ms", "120000")],
    );
    let answered = Arc::new(AtomicUsize::new(0));
    for i in 0..2_000 {
        let a = answered.clone();
        p.send_with_callback(
            ProducerRecord::new(topic.clone(), Some(format!("k{i}")), Some(format!("v{i}"))),
            move |r| {
                r.expect("acknowledged");
                a.fetch_add(1, Ordering::SeqCst);
            },
        )
        .unwrap();
    }
    let t = Instant::now();
    p.flush();
    assert_eq!(
        answered.load(Ordering::SeqCst),
        2_000,
        "flush returned before every callback ran"
    );
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "flush did not send lingering batches at once"
    );
    assert_eq!(support::consume(&bs, &topic, 2_000, 30_000).len(), 2_000);
}

#[test]
fn callbacks_run_once_each_with_the_records_metadata() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("callbacks");
    support::create_topic(&bs, &topic, 2, 1, &[]);
    let p = producer(&bs, &[]);
    let (tx, rx) = crossbeam_channel::unbounded();
    for i in 0..1000 {
        let tx = tx.clone();
        p.send_with_callback(
            ProducerRecord::new(topic.clone(), Some(format!("k{i}")), Some(format!("v{i}"))),
            move |r| {
                tx.send((i, r)).unwrap();
            },
        )
        .unwrap();
    }
    drop(tx);
    p.flush();
    let mut got: Vec<(usize, Result<RecordMetadata, Error>)> = rx.try_iter().collect();
    assert_eq!(got.len(), 1000);
    got.sort_by_key(|(i, _)| *i);
    let mut offsets = HashSet::new();
    for (i, r) in got {
        let md = r.expect("acknowledged");
        assert_eq!(
            md.partition,
            kafka_sync::partition_for_key(format!("k{i}").as_bytes(), 2)
        );
        assert!(offsets.insert((md.partition, md.offset)));
    }
}

#[test]
fn partitions_for_reports_the_topic_layout() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("layout");
    support::create_topic(&bs, &topic, 4, 1, &[]);
    let p = producer(&bs, &[]);
    let parts = p.partitions_for(&topic).unwrap();
    assert_eq!(
        parts.iter().map(|p| p.partition).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert!(parts
        .iter()
        .all(|p| p.leader == Some(1) && p.replicas == [1] && p.in_sync_replicas == [1]));
}

#[test]
fn acks_zero_and_one_are_answered() {
    acks_zero_and_one(&support::bootstrap());
}

#[test]
fn acks_zero_and_one_on_every_compat_broker() {
    support::each_compat_broker(|b| acks_zero_and_one(&b.bootstrap));
}

fn acks_zero_and_one(bs: &str) {
    let bs = bs.to_string();
    let topic = support::unique_topic("acks");
    support::create_topic(&bs, &topic, 1, 1, &[]);
    let p0 = producer(&bs, &[("acks", "0")]);
    let md0 = p0
        .send(ProducerRecord::new(
            topic.clone(),
            None,
            Some("zero".to_string()),
        ))
        .unwrap()
        .get()
        .unwrap();
    assert_eq!(md0.offset, -1, "acks=0 waits for no offset, as in Java");
    p0.close(Duration::from_secs(5));
    let p1 = producer(&bs, &[("acks", "1")]);
    let md1 = p1
        .send(ProducerRecord::new(
            topic.clone(),
            None,
            Some("one".to_string()),
        ))
        .unwrap()
        .get()
        .unwrap();
    assert_eq!(md1.offset, 1);
    let got = support::consume(&bs, &topic, 2, 20_000);
    let values: Vec<&str> = got.iter().map(|c| c.value.as_str()).collect();
    assert_eq!(values, ["zero", "one"]);
}

#[test]
fn a_partition_the_topic_does_not_have_fails_after_one_refresh() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("no-such-partition");
    support::create_topic(&bs, &topic, 2, 1, &[]);
    let p = producer(&bs, &[]); // max.block.ms is the default 60 s
    p.send(ProducerRecord::new(topic.clone(), None, Some("ok".to_string())).with_partition(1))
        .unwrap()
        .get()
        .unwrap();
    let t = Instant::now();
    let err = p
        .send(ProducerRecord::new(topic.clone(), None, Some("x".to_string())).with_partition(7))
        .unwrap_err();
    match err {
        Error::UnknownPartition {
            topic: t,
            partition,
            partitions,
        } => {
            assert_eq!((t.as_str(), partition, partitions), (topic.as_str(), 7, 2));
        }
        e => panic!("expected UnknownPartition, got {e:?}"),
    }
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "waited {:?} for a partition that does not exist",
        t.elapsed()
    );
}

/// Leaders spread over three brokers: one connection per broker, every record read back once.
#[test]
fn three_brokers_replicated_topic_every_record_read_back() {
    let bs = support::bootstrap3();
    let topic = support::unique_topic("rf3");
    support::create_topic(&bs, &topic, 6, 3, &[]);
    let p = producer(&bs, &[]);
    let parts = p.partitions_for(&topic).unwrap();
    let leaders: HashSet<i32> = parts.iter().filter_map(|p| p.leader).collect();
    assert_eq!(
        leaders.len(),
        3,
        "leaders spread over the three brokers: {parts:?}"
    );
    assert!(parts.iter().all(|p| p.replicas.len() == 3));
    let n = 20_000;
    let futs: Vec<_> = (0..n)
        .map(|i| {
            p.send(ProducerRecord::new(
                topic.clone(),
                Some(format!("k{}", i % 101)),
                Some(format!("v{i}")),
            ))
            .unwrap()
        })
        .collect();
    let mds: Vec<RecordMetadata> = futs
        .into_iter()
        .map(|f| f.get().expect("acknowledged"))
        .collect();
    let used: HashSet<i32> = mds.iter().map(|m| m.partition).collect();
    assert_eq!(used.len(), 6);
    let got = support::consume(&bs, &topic, n, 60_000);
    assert_eq!(got.len(), n);
    let mut seen = HashSet::new();
    for c in &got {
        let i: usize = c.value.trim_start_matches('v').parse().unwrap();
        assert!(seen.insert(i), "record {i} twice");
        assert_eq!((mds[i].partition, mds[i].offset), (c.partition, c.offset));
    }
}

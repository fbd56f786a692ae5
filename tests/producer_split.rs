//! A batch larger than the topic accepts is split, against the real single-node broker: the
//! topic takes at most 2000 bytes a batch (`max.message.bytes`), the producer batches far more
//! than that (large `batch.size`, long linger), and every record (each under the limit) is
//! written exactly once, in order, as Kafka's console consumer reads it back.

mod support;

use kafka_sync::{Producer, ProducerConfig, ProducerRecord};
use std::time::Duration;

const N: usize = 400;

/// Record `i`'s value: 6 digits and 150 pseudo-random hex digits (which lz4 barely shrinks,
/// so compressed batches are over the limit too).
fn value(i: usize) -> String {
    let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut v = format!("{i:06}-");
    while v.len() < 157 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push_str(&format!("{x:016x}"));
    }
    v.truncate(157);
    v
}

fn run(topic: &str, extra: &[(&str, &str)]) {
    let bootstrap = support::bootstrap();
    support::create_topic(
        &bootstrap,
        topic,
        1,
        1,
        &["--config", "max.message.bytes=2000"],
    );
    let mut builder = ProducerConfig::builder()
        .bootstrap_servers(&bootstrap)
        .set("batch.size", "200000")
        .set("linger.ms", "200");
    for &(k, v) in extra {
        builder = builder.set(k, v);
    }
    let p: Producer<String, String> =
        Producer::new(builder.build().expect("config")).expect("producer");
    let futures: Vec<_> = (0..N)
        .map(|i| {
            p.send(ProducerRecord {
                topic: topic.to_string(),
                partition: Some(0),
                key: Some(format!("k{i}")),
                value: Some(value(i)),
                timestamp: None,
                headers: vec![],
            })
            .expect("send")
        })
        .collect();
    let offsets: Vec<i64> = futures
        .iter()
        .enumerate()
        .map(|(i, f)| {
            f.get()
                .unwrap_or_else(|e| panic!("record {i} not written: {e}"))
                .offset
        })
        .collect();
    p.close(Duration::from_secs(10));
    assert_eq!(
        offsets,
        (0..N as i64).collect::<Vec<_>>(),
        "in order, once each"
    );
    let read = support::consume(&bootstrap, topic, N + 1, 15_000);
    assert_eq!(read.len(), N, "exactly the records sent, none twice");
    for (i, r) in read.iter().enumerate() {
        assert_eq!(
            (r.offset, r.key.as_str()),
            (i as i64, format!("k{i}").as_str())
        );
        assert_eq!(r.value, value(i));
    }
}

#[test]
fn batches_over_max_message_bytes_are_split_and_written_once_in_order() {
    run(&support::unique_topic("split"), &[]);
}

#[test]
fn split_compressed_batches_are_written_once_in_order() {
    // The values barely compress: the batches are over the limit compressed too.
    run(
        &support::unique_topic("split-lz4"),
        &[("compression.type", "lz4")],
    );
}

//! The sending trait against the real single-node broker: the same generic code runs over
//! the real `Producer` and over a `MockProducer` given the topic's layout, and both put each
//! keyed record on the same partition; what the real one wrote is read back by Kafka's
//! console consumer.

mod support;

use kafka_sync::{
    MockProducer, Producer, ProducerConfig, ProducerRecord, RecordMetadata, RecordProducer,
};
use std::sync::mpsc;
use std::time::Duration;

/// Code written once against the trait: sends `n` keyed records, half with callbacks,
/// flushes, and returns each record's metadata in send order.
fn send_keyed(
    p: &dyn RecordProducer<String, String>,
    topic: &str,
    n: usize,
) -> Vec<RecordMetadata> {
    let partitions = p.partitions_for(topic).expect("partitions_for").len();
    assert_eq!(partitions, 3);
    let (tx, rx) = mpsc::channel();
    let mut futures = Vec::new();
    for i in 0..n {
        let r = ProducerRecord::new(topic, Some(format!("key-{i}")), Some(format!("v{i}")));
        let f = if i % 2 == 0 {
            p.send(r).expect("send")
        } else {
            let tx = tx.clone();
            p.send_with_callback(r, Box::new(move |res| tx.send((i, res)).unwrap()))
                .expect("send_with_callback")
        };
        futures.push(f);
    }
    p.flush();
    assert!(
        futures.iter().all(|f| f.is_done()),
        "flush returned before the answers"
    );
    drop(tx);
    let called: Vec<_> = rx.iter().collect();
    assert_eq!(called.len(), n / 2, "one callback each");
    let mds: Vec<RecordMetadata> = futures.iter().map(|f| f.get().expect("written")).collect();
    for (i, res) in called {
        assert_eq!(res.expect("written"), mds[i], "callback and future agree");
    }
    p.close(Duration::from_secs(10));
    assert!(p
        .send(ProducerRecord::with_value(topic, "late".to_string()))
        .is_err());
    mds
}

#[test]
fn the_real_producer_and_the_mock_behind_the_trait_agree_on_partitions() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("trait");
    support::create_topic(&bs, &topic, 3, 1, &[]);
    let config = ProducerConfig::builder()
        .bootstrap_servers(&bs)
        .build()
        .unwrap();
    let real: Producer<String, String> = Producer::new(config).unwrap();
    let mock: MockProducer<String, String> = MockProducer::new().with_topic(&topic, 3);
    const N: usize = 40;
    let from_real = send_keyed(&real, &topic, N);
    let from_mock = send_keyed(&mock, &topic, N);
    for (i, (r, m)) in from_real.iter().zip(&from_mock).enumerate() {
        assert_eq!(r.partition, m.partition, "record {i}");
        assert_eq!(
            (r.serialized_key_size, r.serialized_value_size),
            (m.serialized_key_size, m.serialized_value_size)
        );
    }
    // An empty topic: offsets count up per partition from 0 in both.
    let offsets = |mds: &[RecordMetadata]| {
        mds.iter()
            .map(|m| (m.partition, m.offset))
            .collect::<Vec<_>>()
    };
    assert_eq!(offsets(&from_real), offsets(&from_mock));
    let read = support::consume(&bs, &topic, N, 30_000);
    assert_eq!(read.len(), N);
    for c in read {
        let i: usize = c.value[1..].parse().unwrap();
        assert_eq!(c.key, format!("key-{i}"));
        assert_eq!(
            (c.partition, c.offset),
            (from_real[i].partition, from_real[i].offset)
        );
    }
}

//! `Producer::metrics()` against the real broker: the figures agree with what was sent, and
//! the per-topic and per-broker ones add up to the producer-wide ones.

mod support;

use kafka_sync::{Error, Producer, ProducerConfig, ProducerRecord};

fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> Producer<String, String> {
    let mut b = ProducerConfig::builder()
        .bootstrap_servers(bootstrap)
        .client_id("metrics-test");
    for (k, v) in extra {
        b = b.set(*k, *v);
    }
    Producer::new(b.build().unwrap()).unwrap()
}

const NODE: &str = "producer-node-metrics";
const TOPIC: &str = "producer-topic-metrics";

#[test]
fn totals_agree_with_what_was_sent_and_add_up() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("metrics-totals");
    support::create_topic(&bs, &topic, 3, 1, &[]);
    let p = producer(&bs, &[("linger.ms", "20")]);
    let value = "v".repeat(100);
    let (rounds, per_round) = (5, 3 * 40);
    let mut written = 0;
    for _ in 0..rounds {
        let futures: Vec<_> = (0..per_round)
            .map(|i| {
                let r = ProducerRecord::with_value(&topic, value.clone()).with_partition(i % 3);
                p.send(r).unwrap()
            })
            .collect();
        for f in futures {
            f.get().unwrap();
            written += 1;
        }
    }
    let m = p.metrics();
    let get = |n: &str| m.get(n).unwrap_or_else(|| panic!("no {n}"));
    assert_eq!(get("record-send-total"), written as f64);
    assert_eq!(m.topic("record-send-total", &topic), Some(written as f64));
    assert_eq!(get("record-error-total"), 0.0);
    assert_eq!(get("record-retry-total"), 0.0);
    // Bytes: every record's 100 value bytes plus framing, in batches no larger than the max.
    let bytes = m.topic("byte-total", &topic).unwrap();
    assert_eq!(get("byte-total"), bytes);
    assert!(bytes > (written * 100) as f64, "{bytes}");
    assert!(bytes < (written * 140) as f64, "{bytes}");
    let (avg, max) = (get("batch-size-avg"), get("batch-size-max"));
    assert!(avg > 100.0 && avg <= max && max <= bytes, "{avg} {max}");
    // At least 3 batches a round (one per partition), at most one per record.
    let batches = bytes / avg;
    assert!(
        batches >= (3 * rounds) as f64 - 0.5 && batches <= written as f64 + 0.5,
        "{batches}"
    );
    let size = get("record-size-max");
    assert!((103.0..=115.0).contains(&size), "{size}");
    // One request per round at least (each round waits for its answers).
    let per_request = get("records-per-request-avg");
    assert!(
        per_request > 0.0 && per_request <= per_round as f64,
        "{per_request}"
    );
    let requests = get("request-total");
    assert!(requests >= rounds as f64 + 2.0, "{requests}"); // + ApiVersions, Metadata
    assert_eq!(m.sum(NODE, "request-total"), requests);
    assert_eq!(
        m.sum(NODE, "outgoing-byte-total"),
        get("outgoing-byte-total")
    );
    assert_eq!(
        m.sum(NODE, "incoming-byte-total"),
        get("incoming-byte-total")
    );
    assert!(get("outgoing-byte-total") > bytes);
    assert_eq!(m.sum(TOPIC, "record-send-total"), get("record-send-total"));
    assert!(get("connection-creation-total") >= 1.0);
    assert!(get("connection-count") >= 1.0);
    let latency = get("request-latency-max");
    assert!(
        latency >= get("request-latency-avg") && latency < 30_000.0,
        "{latency}"
    );
    assert_eq!(get("requests-in-flight"), 0.0);
    assert_eq!(get("buffer-total-bytes"), 33_554_432.0);
    assert!(get("metadata-age") < 300.0);
    assert!(get("record-send-rate") > 0.0);
    assert!(m.to_prometheus().contains(&format!(
        "kafka_producer_topic_record_send_total{{client_id=\"metrics-test\",topic=\"{topic}\"}} {written}\n"
    )));
    p.close(std::time::Duration::from_secs(10));
}

/// A record the broker refuses (larger than the topic's `max.message.bytes`) counts for its
/// topic and producer-wide; a record `send` refuses at once (over `max.request.size`) counts
/// producer-wide only, as Java's `doSend` records it.
#[test]
fn errors_count_where_java_counts_them() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("metrics-errors");
    support::create_topic(&bs, &topic, 3, 1, &["--config", "max.message.bytes=500"]);
    let p = producer(&bs, &[("linger.ms", "0"), ("max.request.size", "100000")]);
    for i in 0..3 {
        let r = ProducerRecord::with_value(&topic, "x".repeat(2000)).with_partition(i);
        let err = p.send(r).unwrap().get().unwrap_err();
        assert!(matches!(err, Error::Broker { .. }), "{err}");
    }
    let ok = ProducerRecord::with_value(&topic, "small".to_string()).with_partition(0);
    p.send(ok).unwrap().get().unwrap();
    let huge = ProducerRecord::with_value(&topic, "y".repeat(200_000));
    assert!(matches!(p.send(huge), Err(Error::RecordTooLarge { .. })));
    let m = p.metrics();
    assert_eq!(m.topic("record-error-total", &topic), Some(3.0));
    assert_eq!(m.get("record-error-total"), Some(4.0));
    assert_eq!(m.sum(TOPIC, "record-error-total") + 1.0, 4.0);
    // Refused batches were sent: they count in record-send-total (as Java's do).
    assert_eq!(m.topic("record-send-total", &topic), Some(4.0));
    assert!(m.get("record-error-rate").unwrap() > 0.0);
    p.close(std::time::Duration::from_secs(10));
}

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

/// A Produce answer lost on the way back (swallowed by the fault proxy) makes the batch go
/// out again after `request.timeout.ms`: its record counts once in record-retry-total, twice
/// in record-send-total (Java counts every send of a batch), and the timed-out connection in
/// connection-close-total.
#[test]
fn a_retry_forced_through_the_proxy_is_counted() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("metrics-retry");
    support::create_topic(&bs, &topic, 1, 1, &[]);
    let proxy = support::proxy::Proxy::start(&bs);
    let p = producer(
        &proxy.bootstrap(),
        &[("linger.ms", "0"), ("request.timeout.ms", "1500")],
    );
    let send = |v: &str| {
        p.send(ProducerRecord::with_value(&topic, v.to_string()))
            .unwrap()
            .get()
            .unwrap()
    };
    let first = send("warm-up");
    let before = p.metrics();
    assert_eq!(before.get("record-retry-total"), Some(0.0));
    let closes_before = before.get("connection-close-total").unwrap();
    proxy.drop_produce_responses(1);
    let retried = send("answer lost once");
    assert_eq!(proxy.stats().responses_dropped, 1);
    // Deduplicated by the broker: written once, right after the warm-up.
    assert_eq!(retried.offset, first.offset + 1);
    for i in 0..5 {
        send(&format!("after {i}"));
    }
    let m = p.metrics();
    assert_eq!(m.get("record-retry-total"), Some(1.0));
    assert_eq!(m.topic("record-retry-total", &topic), Some(1.0));
    assert_eq!(m.get("record-send-total"), Some(1.0 + 2.0 + 5.0));
    assert_eq!(m.get("record-error-total"), Some(0.0));
    assert!(m.get("connection-close-total").unwrap() > closes_before);
    p.close(std::time::Duration::from_secs(10));
}

/// Records sent to a topic deleted after its metadata was cached are refused by the broker
/// until `delivery.timeout.ms`: each counts as an error for its topic and producer-wide, and
/// their retries count too.
#[test]
fn records_to_a_deleted_topic_count_as_errors_and_retries() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("metrics-deleted");
    support::create_topic(&bs, &topic, 2, 1, &[]);
    let p = producer(
        &bs,
        &[
            ("linger.ms", "0"),
            ("request.timeout.ms", "1000"),
            ("delivery.timeout.ms", "3000"),
            ("retry.backoff.ms", "50"),
        ],
    );
    p.send(ProducerRecord::with_value(&topic, "before".to_string()))
        .unwrap()
        .get()
        .unwrap();
    support::kafka_tool(
        &[
            "topics",
            "--bootstrap-server",
            &bs,
            "--delete",
            "--topic",
            &topic,
        ],
        None,
    );
    // Until the broker has dropped the partitions it may still take a write.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let futures: Vec<_> = (0..4)
        .map(|i| {
            let r = ProducerRecord::with_value(&topic, format!("after {i}")).with_partition(i % 2);
            p.send(r)
                .expect("queued: the topic is in the cached metadata")
        })
        .collect();
    let failed = futures.into_iter().filter(|f| f.get().is_err()).count();
    assert_eq!(failed, 4, "the topic was deleted: nothing may be written");
    let m = p.metrics();
    assert_eq!(m.topic("record-error-total", &topic), Some(4.0));
    assert_eq!(m.get("record-error-total"), Some(4.0));
    assert_eq!(m.sum(TOPIC, "record-error-total"), 4.0);
    assert!(m.topic("record-retry-total", &topic).unwrap() >= 1.0);
    assert_eq!(
        m.sum(TOPIC, "record-retry-total"),
        m.get("record-retry-total").unwrap()
    );
    p.close(std::time::Duration::from_secs(10));
}

//! Compression end to end against the real single-node broker: for every codec, records sent
//! with `compression.type=<codec>` are read back intact by Kafka's console consumer (the Java
//! consumer decompresses them), Kafka's DumpLogSegments shows the batches stored with that
//! codec, and the log takes far less room than the same records uncompressed.

mod support;

use kafka_sync::{Header, Producer, ProducerConfig, ProducerRecord};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

const N: usize = 20_000;
const PARTITIONS: i32 = 2;

fn producer(bootstrap: &str, codec: &str) -> Producer<String, String> {
    let config = ProducerConfig::builder()
        .bootstrap_servers(bootstrap)
        .set("compression.type", codec)
        .set("linger.ms", "20")
        .build()
        .expect("valid config");
    Producer::new(config).expect("producer")
}

/// Record `i`: keyed (partition from the key), every 5th a tombstone, every 3rd with headers;
/// values are compressible text that still differs from record to record.
fn record(topic: &str, i: usize) -> ProducerRecord<String, String> {
    let key = Some(format!("key-{i}"));
    let value = (i % 5 != 4).then(|| {
        format!(
            "{{\"id\":{i},\"user\":\"user-{}\",\"event\":\"page_view\",\"path\":\"/products/{}\",\
             \"agent\":\"Mozilla/5.0 (X11; Linux x86_64)\"}}",
            i % 97,
            i % 13
        )
    });
    let headers = if i.is_multiple_of(3) {
        vec![
            Header::new("trace", format!("t-{i}")),
            Header {
                key: "none".into(),
                value: None,
            },
        ]
    } else {
        vec![]
    };
    ProducerRecord {
        topic: topic.to_string(),
        partition: None,
        key,
        value,
        timestamp: None,
        headers,
    }
}

fn send_all(bootstrap: &str, topic: &str, codec: &str) {
    support::create_topic(bootstrap, topic, PARTITIONS as u32, 1, &[]);
    let p = producer(bootstrap, codec);
    let futures: Vec<_> = (0..N)
        .map(|i| p.send(record(topic, i)).expect("send"))
        .collect();
    for (i, f) in futures.into_iter().enumerate() {
        f.get()
            .unwrap_or_else(|e| panic!("{codec}: record {i} not acknowledged: {e}"));
    }
    p.close(Duration::from_secs(10));
}

/// The broker's data directory holding `topic`'s partition directories: `KAFKA_DATA_DIR` if
/// set, else the single-node broker's data dir under `KAFKA_RUN_DIR`, this repository's
/// `.kafka`, or the main worktree's `.kafka` (whichever holds the topic).
fn data_dir(topic: &str) -> PathBuf {
    let mut candidates = Vec::new();
    if let Ok(d) = std::env::var("KAFKA_DATA_DIR") {
        candidates.push(PathBuf::from(d));
    }
    if let Ok(d) = std::env::var("KAFKA_RUN_DIR") {
        candidates.push(PathBuf::from(d).join("single/node1/data"));
    }
    candidates.push(support::repo_dir().join(".kafka/single/node1/data"));
    candidates.push(PathBuf::from("/work/main/.kafka/single/node1/data"));
    candidates
        .into_iter()
        .find(|d| d.join(format!("{topic}-0")).is_dir())
        .unwrap_or_else(|| {
            panic!("cannot find the broker's data directory for {topic}; set KAFKA_DATA_DIR")
        })
}

fn segments(topic: &str) -> Vec<PathBuf> {
    let dir = data_dir(topic);
    let mut out = Vec::new();
    for p in 0..PARTITIONS {
        let pdir = dir.join(format!("{topic}-{p}"));
        for e in std::fs::read_dir(&pdir).expect("partition dir") {
            let path = e.expect("dir entry").path();
            if path.extension().is_some_and(|x| x == "log") {
                out.push(path);
            }
        }
    }
    assert!(!out.is_empty());
    out
}

fn log_bytes(topic: &str) -> u64 {
    segments(topic)
        .iter()
        .map(|p| std::fs::metadata(p).expect("segment").len())
        .sum()
}

fn check_codec(codec: &str) {
    let bs = support::bootstrap();
    let topic = support::unique_topic(&format!("comp-{codec}"));
    send_all(&bs, &topic, codec);

    // Kafka's console consumer (the Java consumer) reads every record back intact.
    let got = support::consume(&bs, &topic, N, 60_000);
    assert_eq!(got.len(), N, "{codec}: read back {} of {N}", got.len());
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for c in &got {
        let i: usize = c
            .key
            .strip_prefix("key-")
            .and_then(|k| k.parse().ok())
            .unwrap_or_else(|| panic!("unexpected key {c:?}"));
        assert!(
            by_key.insert(c.key.clone(), i).is_none(),
            "{codec}: {i} twice"
        );
        let want = record(&topic, i);
        assert_eq!(
            c.value,
            want.value.unwrap_or_else(|| "<null>".into()),
            "{codec}: value of {i}"
        );
        let headers = if want.headers.is_empty() {
            "NO_HEADERS".to_string()
        } else {
            format!("trace:t-{i},none:<null>")
        };
        assert_eq!(c.headers, headers, "{codec}: headers of {i}");
    }
    assert_eq!(by_key.len(), N);

    // Kafka's DumpLogSegments shows every batch stored with this codec.
    let mut batches = 0;
    for seg in segments(&topic) {
        let seg = seg.to_string_lossy().into_owned();
        let out = support::kafka_tool(&["dump-log", "--files", &seg], None);
        for line in out.lines().filter(|l| l.contains("compresscodec:")) {
            let stored = line
                .split("compresscodec:")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or_default();
            assert!(
                stored.eq_ignore_ascii_case(codec),
                "{codec}: batch stored as {stored}: {line}"
            );
            batches += 1;
        }
    }
    assert!(batches > 0, "{codec}: no batch in the dump");

    // The same records uncompressed take far more room in the log.
    let plain = support::unique_topic(&format!("comp-none-{codec}"));
    send_all(&bs, &plain, "none");
    let (c, u) = (log_bytes(&topic), log_bytes(&plain));
    eprintln!(
        "{codec}: {c} bytes in the log vs {u} uncompressed ({:.3}), {batches} batches",
        c as f64 / u as f64
    );
    assert!(
        c * 2 < u,
        "{codec}: {c} bytes compressed vs {u} uncompressed"
    );
}

#[test]
fn gzip_end_to_end() {
    check_codec("gzip");
}

#[test]
fn snappy_end_to_end() {
    check_codec("snappy");
}

#[test]
fn lz4_end_to_end() {
    check_codec("lz4");
}

#[test]
fn zstd_end_to_end() {
    check_codec("zstd");
}

/// Kafka 3.9 (the older broker) accepts every codec too; its console consumer reads it all.
#[test]
fn every_codec_on_the_older_broker() {
    let bs = support::bootstrap_compat();
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let topic = support::unique_topic(&format!("comp-compat-{codec}"));
        support::create_topic(&bs, &topic, 1, 1, &[]);
        let p = producer(&bs, codec);
        let futures: Vec<_> = (0..2000)
            .map(|i| p.send(record(&topic, i)).expect("send"))
            .collect();
        for f in futures {
            f.get().unwrap_or_else(|e| panic!("{codec}: {e}"));
        }
        p.close(Duration::from_secs(10));
        let got = support::consume(&bs, &topic, 2000, 60_000);
        assert_eq!(got.len(), 2000, "{codec}");
        for (i, c) in got.iter().enumerate() {
            assert_eq!(c.key, format!("key-{i}"), "{codec}: order on one partition");
            let want = record(&topic, i).value.unwrap_or_else(|| "<null>".into());
            assert_eq!(c.value, want, "{codec}: value of {i}");
        }
    }
}

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

fn send_all(bootstrap: &str, topic: &str, codec: &str, n: usize) {
    support::create_topic(bootstrap, topic, PARTITIONS as u32, 1, &[]);
    let p = producer(bootstrap, codec);
    let futures: Vec<_> = (0..n)
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

fn segments(dir: &std::path::Path, topic: &str) -> Vec<PathBuf> {
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

fn log_bytes(dir: &std::path::Path, topic: &str) -> u64 {
    segments(dir, topic)
        .iter()
        .map(|p| std::fs::metadata(p).expect("segment").len())
        .sum()
}

/// Where a broker keeps its log: the single node's data directory (found from the topic), or
/// a given one (an older broker's).
enum DataDir {
    Single,
    At(PathBuf),
}

impl DataDir {
    fn of(&self, topic: &str) -> PathBuf {
        match self {
            DataDir::Single => data_dir(topic),
            DataDir::At(d) => d.clone(),
        }
    }
}

fn check_codec(codec: &str) {
    let plain = std::cell::OnceCell::new();
    check_codec_on(&support::bootstrap(), &DataDir::Single, codec, N, &plain);
}

/// `n` records with `codec` read back intact, stored with that codec, and far smaller than
/// uncompressed.
///
/// `plain` holds the log size of the same `n` records uncompressed: written on first use, so
/// several codecs checked on one broker share one uncompressed topic.
fn check_codec_on(
    bs: &str,
    dir: &DataDir,
    codec: &str,
    n: usize,
    plain: &std::cell::OnceCell<u64>,
) {
    let bs = bs.to_string();
    let topic = support::unique_topic(&format!("comp-{codec}"));
    send_all(&bs, &topic, codec, n);
    let data = dir.of(&topic);

    // Kafka's console consumer (the Java consumer) reads every record back intact.
    let got = support::consume(&bs, &topic, n, 60_000);
    assert_eq!(got.len(), n, "{codec}: read back {} of {n}", got.len());
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
    assert_eq!(by_key.len(), n);

    // Kafka's DumpLogSegments shows every batch stored with this codec.
    let mut batches = 0;
    // One DumpLogSegments run for every segment (`--files` takes a comma-separated list).
    let files = segments(&data, &topic)
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(",");
    {
        let out = support::kafka_tool(&["dump-log", "--files", &files], None);
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
    let u = *plain.get_or_init(|| {
        let plain = support::unique_topic(&format!("comp-none-{codec}"));
        send_all(&bs, &plain, "none", n);
        log_bytes(&data, &plain)
    });
    let c = log_bytes(&data, &topic);
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

/// Every older broker (`KAFKA_COMPAT_BROKERS`: 2.8 and 3.3 in ZooKeeper mode, 3.9 and 4.0 in
/// KRaft) takes every codec: the same checks as above with fewer records (read back intact by
/// the console consumer, stored with the codec per DumpLogSegments, the log far smaller).
#[test]
fn every_codec_on_every_compat_broker() {
    support::each_compat_broker(|b| {
        let plain = std::cell::OnceCell::new();
        for codec in ["gzip", "snappy", "lz4", "zstd"] {
            check_codec_on(
                &b.bootstrap,
                &DataDir::At(b.data_dir.clone()),
                codec,
                4000,
                &plain,
            );
        }
    });
}

//! Confluent's Rust client (`confluent-kafka`, a translation of the Java client, async on Tokio)
//! with the command line and output of Kafka's `ProducerPerformance`, for side-by-side runs with
//! `examples/perf` (kafka-sync), `compare/` (librdkafka) and the Java tool. The argument parsing,
//! payload, statistics and throttling are the very code of `examples/perf` (included below), so
//! only the producer differs.
//!
//! The client runs at its own defaults, which are the Java producer's (it is a translation of
//! it); the only property set here is `client.id=perf-producer-client`, as the Java tool sets it.
//! `--producer-props` / `--producer.config` are passed through unchanged (the client logs and
//! ignores names it does not know, as Java does).
//!
//! How it is driven: one multi-threaded Tokio runtime at its defaults (a worker per core), on
//! which the producer's sender task runs. The caller thread (each of them, with `--threads N`)
//! runs its whole send loop in one `block_on`, awaiting each `send` (which returns once the record
//! is appended, or waits while `buffer.memory` is full, as Java's `send` blocks) and handing it a
//! callback; latency is the time from just before `send` to that callback (the delivery
//! completion), as in the Java tool. At the end, `close()` waits for every answer, then the
//! summary is printed.
//!
//! Records are sent through `KafkaProducer::send` on borrowed bytes (`ProducerRecord<&[u8],
//! &[u8]>`), the client's own zero-copy path: no serializer and no copy of the payload before the
//! batch.

use confluent_kafka::common::serialization::ByteArraySerializer;
use confluent_kafka::common::Error;
use confluent_kafka::producer::{
    KafkaProducer, Producer, ProducerConfig, ProducerRecord, RecordMetadata,
};
use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

include!("../../examples/perf/common.rs");

const TOOL: &str = "perf-confluent";

static FAILED: AtomicU64 = AtomicU64::new(0);

/// The properties: `client.id`, then the config file's, then `--producer-props`, then
/// `--bootstrap-server` (later ones win, as in the Java tool).
fn properties(o: &Options) -> Result<HashMap<String, String>, String> {
    let mut props = HashMap::new();
    props.insert("client.id".to_string(), "perf-producer-client".to_string());
    if let Some(path) = &o.config_file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        {
            if let Some((k, v)) = line.split_once('=') {
                props.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
    }
    for (k, v) in &o.properties {
        props.insert(k.clone(), v.clone());
    }
    if let Some(bs) = &o.bootstrap {
        props.insert("bootstrap.servers".to_string(), bs.clone());
    }
    let mut shown: Vec<String> = props.iter().map(|(k, v)| format!("{k}={v}")).collect();
    shown.sort();
    eprintln!("{TOOL}: properties: {}", shown.join(" "));
    Ok(props)
}

/// Sends one caller's share of the records.
async fn send_all(
    producer: &KafkaProducer<Vec<u8>, Vec<u8>>,
    o: &Options,
    stats: &'static Mutex<AllStats>,
    mut caller: Caller<'_>,
) {
    let first = caller.records.start;
    for i in caller.records.clone() {
        let (key, payload) = caller.source.next(i);
        let bytes = payload.len();
        let send_start_ms = now_ms();
        let steady = AllStats::before_send(stats, o, i);
        let callback = move |_: Option<&RecordMetadata>, error: Option<&Error>| {
            let (latency, now) = latency_since(send_start_ms);
            match error {
                None => AllStats::acknowledged(stats, latency, bytes, now, steady),
                Some(e) => {
                    FAILED.fetch_add(1, Ordering::Relaxed);
                    eprintln!("{TOOL}: record failed: {e}");
                }
            }
        };
        let record = ProducerRecord::with_key(o.topic.clone(), key.as_deref(), Some(payload));
        if let Err(e) = producer.send(record, Some(Box::new(callback))).await {
            FAILED.fetch_add(1, Ordering::Relaxed);
            eprintln!("{TOOL}: send failed: {e}");
        }
        if caller.throttler.should_throttle(i - first, send_start_ms) {
            caller.throttler.throttle();
        }
    }
}

fn run(o: Options) -> ExitCode {
    let props = match properties(&o) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{TOOL}: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match ProducerConfig::new(&props) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{TOOL}: {e}");
            return ExitCode::from(2);
        }
    };
    let file_payloads = match load_payloads(&o) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{TOOL}: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{TOOL}: cannot start the Tokio runtime: {e}");
            return ExitCode::from(1);
        }
    };
    // `new` spawns the sender task on the runtime it is called in.
    let producer = {
        let _in_runtime = runtime.enter();
        match KafkaProducer::<Vec<u8>, Vec<u8>>::new(
            config,
            ByteArraySerializer::default(),
            ByteArraySerializer::default(),
        ) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{TOOL}: cannot start the producer: {e}");
                return ExitCode::from(1);
            }
        }
    };
    let stats = AllStats::leak_new(&o);
    let handle = runtime.handle();
    run_callers(&o, &file_payloads, |caller| {
        handle.block_on(send_all(&producer, &o, stats, caller));
    });
    // As Java (without --print-metrics): close, which waits for every answer, then print.
    if let Err(e) = runtime.block_on(producer.close()) {
        eprintln!("{TOOL}: close: {e}");
    }
    drop(producer);
    runtime.shutdown_timeout(Duration::from_secs(10));
    AllStats::finish(stats, TOOL, FAILED.load(Ordering::Relaxed), o.num_records)
}

/// The client's log on stderr: warnings by default (as Java's tools log), more with
/// `PERF_LOG=info|debug|trace`, none with `PERF_LOG=off`.
struct StderrLog;
impl log::Log for StderrLog {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        eprintln!("[{} {} {}] {}", now_ms(), r.level(), r.target(), r.args());
    }
    fn flush(&self) {}
}

fn main() -> ExitCode {
    let level = std::env::var("PERF_LOG")
        .ok()
        .and_then(|l| l.parse::<log::LevelFilter>().ok())
        .unwrap_or(log::LevelFilter::Warn);
    let _ = log::set_logger(&StderrLog);
    log::set_max_level(level);
    match parse_args(std::env::args().skip(1).collect()) {
        Ok(Parsed::Run(o)) => run(o),
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{TOOL}: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

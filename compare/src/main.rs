//! librdkafka (through rust-rdkafka) with the command line and output of Kafka's
//! `ProducerPerformance`, for side-by-side runs with `examples/perf` (kafka-sync) and the Java
//! tool. The argument parsing, payload, statistics and throttling are the very code of
//! `examples/perf` (included below), so only the producer differs.
//!
//! librdkafka gets the Java producer's defaults unless a property overrides them (its own
//! defaults differ: no idempotence, 1 MB batches): `acks=all`, `enable.idempotence=true`,
//! `linger.ms=5`, `batch.size=16384`, `client.id=perf-producer-client`. As in Java, idempotence
//! is only a default: when it is not set and `acks` is not `all`/`-1` (or `retries=0`, or more
//! than 5 requests in flight), it is left off instead of failing.
//!
//! `--librdkafka-defaults` (this tool only, first argument or anywhere) keeps librdkafka's own
//! batching defaults (`batch.size` 1,000,000, `linger.ms` 5, `batch.num.messages` 10,000, ...)
//! and sets only what changes delivery semantics the Java way: `acks` (default `all`) and
//! `enable.idempotence` (by the rule above). That is what librdkafka's users run.
//!
//! `buffer.memory=B` is mapped to librdkafka's queue bounds: `queue.buffering.max.kbytes=B/1024`
//! and, unless `queue.buffering.max.messages` is set, `queue.buffering.max.messages=0` (no bound
//! on the count: Java bounds the bytes only). Other Java-only properties it does not know
//! (`max.block.ms`, ...) are skipped with a note on stderr.
//!
//! `--threads N` (as in `examples/perf`) sends from N caller threads sharing the one producer.
//! Delivery reports are served by rust-rdkafka's `ThreadedProducer` polling thread, as Java's
//! callbacks run on its network thread.

use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

include!("../../examples/perf/common.rs");

/// Properties of the Java producer that librdkafka does not have.
const JAVA_ONLY: &[&str] = &[
    "buffer.memory",
    "max.block.ms",
    "key.serializer",
    "value.serializer",
    "max.request.size",
    "send.buffer.bytes",
    "receive.buffer.bytes",
    "partitioner.class",
    "partitioner.ignore.keys",
    "partitioner.adaptive.partitioning.enable",
    "partitioner.availability.timeout.ms",
    "interceptor.classes",
    "metric.reporters",
    "metrics.num.samples",
    "metrics.sample.window.ms",
    "metrics.recording.level",
    "auto.include.jmx.reporter",
];

/// The command-line flag (not a Java one) that keeps librdkafka's own batching defaults.
const OWN_DEFAULTS_FLAG: &str = "--librdkafka-defaults";

/// What a delivery report needs: send start in ms, payload bytes, counts for the steady-state
/// statistics.
type Opaque = (u64, usize, bool);

static FAILED: AtomicU64 = AtomicU64::new(0);

struct Ctx {
    stats: &'static Mutex<AllStats>,
}
impl ClientContext for Ctx {}
impl ProducerContext for Ctx {
    type DeliveryOpaque = Box<Opaque>;
    fn delivery(&self, result: &DeliveryResult<'_>, opaque: Self::DeliveryOpaque) {
        let (send_start_ms, bytes, steady) = *opaque;
        let (latency, now) = latency_since(send_start_ms);
        match result {
            Ok(_) => AllStats::acknowledged(self.stats, latency, bytes, now, steady),
            Err((e, _)) => {
                FAILED.fetch_add(1, Ordering::Relaxed);
                eprintln!("perf-librdkafka: record failed: {e}");
            }
        }
    }
}

/// Whether the Java producer would turn idempotence on by default with these (user) properties:
/// it does unless `acks` is not `all`, `retries` is 0 or more than 5 requests may be in flight.
fn java_default_idempotence(user: &[(String, String)]) -> bool {
    let last = |name: &str| {
        user.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
    };
    let acks_all = last("acks").is_none_or(|a| a == "all" || a == "-1");
    let retries_ok = last("retries").is_none_or(|r| r != "0");
    let in_flight_ok = last("max.in.flight.requests.per.connection")
        .is_none_or(|m| m.parse::<u32>().is_ok_and(|m| m <= 5));
    acks_all && retries_ok && in_flight_ok
}

fn client_config(o: &Options, own_defaults: bool) -> Result<ClientConfig, String> {
    let mut user: Vec<(String, String)> = Vec::new();
    if let Some(path) = &o.config_file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            if let Some((k, v)) = line.split_once('=') {
                user.push((k.trim().into(), v.trim().into()));
            }
        }
    }
    user.extend(o.properties.iter().cloned());
    if let Some(bs) = &o.bootstrap {
        user.push(("bootstrap.servers".into(), bs.clone()));
    }
    let mut props: Vec<(String, String)> = vec![
        ("client.id".into(), "perf-producer-client".into()),
        ("acks".into(), "all".into()),
    ];
    if !user.iter().any(|(k, _)| k == "enable.idempotence") && java_default_idempotence(&user) {
        props.push(("enable.idempotence".into(), "true".into()));
    }
    if !own_defaults {
        props.push(("linger.ms".into(), "5".into()));
        props.push(("batch.size".into(), "16384".into()));
    }
    props.extend(user);
    let mut cfg = ClientConfig::new();
    let messages_bound_set = props
        .iter()
        .any(|(k, _)| k == "queue.buffering.max.messages");
    for (k, v) in props {
        if k == "buffer.memory" {
            // Java bounds the records waiting in the producer by their bytes only; librdkafka by
            // bytes (queue.buffering.max.kbytes) and by count (queue.buffering.max.messages,
            // 100,000 by default). The same bound: the bytes, and no count (0) unless one is set.
            match v.trim().parse::<u64>() {
                Ok(bytes) => {
                    let kbytes = (bytes / 1024).max(1);
                    eprintln!(
                        "perf-librdkafka: buffer.memory={v} mapped to queue.buffering.max.kbytes={kbytes}{}",
                        if messages_bound_set {
                            ""
                        } else {
                            " and queue.buffering.max.messages=0 (no count bound)"
                        }
                    );
                    cfg.set("queue.buffering.max.kbytes", kbytes.to_string());
                    if !messages_bound_set {
                        cfg.set("queue.buffering.max.messages", "0");
                    }
                }
                Err(_) => return Err(format!("buffer.memory: not a number: {v}")),
            }
            continue;
        }
        if JAVA_ONLY.contains(&k.as_str()) {
            eprintln!(
                "perf-librdkafka: skipping {k}={v} (a Java producer property librdkafka does not have)"
            );
            continue;
        }
        // Java's acks=-1 is librdkafka's acks=all too; both accept -1.
        cfg.set(k, v);
    }
    let mut shown: Vec<String> = cfg
        .config_map()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    shown.sort();
    eprintln!("perf-librdkafka: properties: {}", shown.join(" "));
    Ok(cfg)
}

fn run(o: Options, own_defaults: bool) -> ExitCode {
    let cfg = match client_config(&o, own_defaults) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("perf-librdkafka: {e}");
            return ExitCode::from(2);
        }
    };
    let file_payloads = match load_payloads(&o) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("perf-librdkafka: {e}");
            return ExitCode::from(2);
        }
    };
    let stats = AllStats::leak_new(&o);
    let producer: ThreadedProducer<Ctx> = match cfg.create_with_context(Ctx { stats }) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("perf-librdkafka: cannot start the producer: {e}");
            return ExitCode::from(1);
        }
    };
    run_callers(&o, &file_payloads, |mut caller| {
        let first = caller.records.start;
        for i in caller.records.clone() {
            let (key, payload) = caller.source.next(i);
            let bytes = payload.len();
            let send_start_ms = now_ms();
            let steady = AllStats::before_send(stats, &o, i);
            let mut opaque = Box::new((send_start_ms, bytes, steady));
            loop {
                let mut rec: BaseRecord<'_, Vec<u8>, [u8], Box<Opaque>> =
                    BaseRecord::with_opaque_to(&o.topic, opaque).payload(payload);
                if let Some(k) = &key {
                    rec = rec.key(k);
                }
                match producer.send(rec) {
                    Ok(()) => break,
                    // The local queue is full: wait for deliveries, as Java blocks in send().
                    Err((e, back))
                        if e.rdkafka_error_code()
                            == Some(rdkafka::types::RDKafkaErrorCode::QueueFull) =>
                    {
                        opaque = back.delivery_opaque;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err((e, _)) => {
                        FAILED.fetch_add(1, Ordering::Relaxed);
                        eprintln!("perf-librdkafka: send failed: {e}");
                        break;
                    }
                }
            }
            if caller.throttler.should_throttle(i - first, send_start_ms) {
                caller.throttler.throttle();
            }
        }
    });
    if let Err(e) = producer.flush(Duration::from_secs(300)) {
        eprintln!("perf-librdkafka: flush: {e}");
    }
    drop(producer);
    AllStats::finish(
        stats,
        "perf-librdkafka",
        FAILED.load(Ordering::Relaxed),
        o.num_records,
    )
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let own_defaults = args.iter().any(|a| a == OWN_DEFAULTS_FLAG);
    args.retain(|a| a != OWN_DEFAULTS_FLAG);
    match parse_args(args) {
        Ok(Parsed::Run(o)) => run(o, own_defaults),
        Ok(Parsed::Help) => {
            println!("{USAGE}\n  {OWN_DEFAULTS_FLAG}  (this tool only) keep librdkafka's batching defaults");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("perf-librdkafka: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

//! A producer benchmark with the command line and output of Kafka's `ProducerPerformance`
//! (`kafka-producer-perf-test`), so the two can be run side by side with the same arguments.
//!
//! ```sh
//! cargo run --release --example perf -- --topic t --num-records 1000000 --record-size 100 \
//!     --throughput -1 --producer-props bootstrap.servers=127.0.0.1:9092 acks=1
//! ```
//!
//! What it does, as the Java tool does:
//!
//! - one payload per record: with `--record-size S`, `S` random upper-case letters drawn from
//!   Java's `SplittableRandom` seeded with `--random-seed` (default 0), regenerated for every
//!   record, so the bytes are exactly the Java tool's; with `--payload-file F`, a record chosen at
//!   random among the pieces of `F` split at `--payload-delimiter` (a literal string, default a
//!   newline; empty pieces are skipped); with `--payload-monotonic`, the record's number;
//! - no key, unless `--key-distribution range|random` with `--record-key-range K` (the key is a
//!   decimal integer in `[0, K)`);
//! - every record is sent with a callback; latency is the time from just before `send` to the
//!   callback, in whole milliseconds (both ends read from a millisecond clock, as Java's
//!   `System.currentTimeMillis()` is);
//! - every `--reporting-interval` ms (default 5000) a line
//!   `X records sent, Y records/sec (Z MB/sec), A ms avg latency, M ms max latency.` for the
//!   records answered in that window, printed from the callback (the network thread), like Java;
//! - at the end, after `close()`, the Java summary line, with latency percentiles over a sample of
//!   at most 500,000 records: `N records sent, X records/sec (Y MB/sec), A ms avg latency,
//!   M ms max latency, P50 ms 50th, P95 ms 95th, P99 ms 99th, P999 ms 99.9th.` (MB = 2^20 bytes),
//!   and with `--warmup-records W` a second "steady state" line for the records after the first W;
//! - `--throughput T > 0` throttles like Java's `ThroughputThrottler`: when the average rate since
//!   the start exceeds T, sleep off the accumulated `1/T` per record once it reaches 2 ms.
//!
//! Not in the Java tool: `--threads N` sends from N caller threads sharing the one producer, each
//! with its share of the records (thread `t` sends records `[t*n/N, (t+1)*n/N)`, its payloads
//! drawn from `SplittableRandom(seed + t)`) and of `--throughput`; the statistics are shared.
//!
//! Producer properties: `--producer.config FILE` / `--command-config FILE` first, then
//! `--producer-props` / `--command-property NAME=VALUE ...` (all following arguments up to the next
//! `--option`), then `--bootstrap-server`. `client.id` defaults to `perf-producer-client`.
//! Unknown property names are skipped with a warning on stderr, as the Java tool's
//! `KafkaProducer` logs them (`ProducerConfigBuilder::allow_unknown_properties`).
//! `--print-metrics` prints `Producer::metrics()` at the end in Java's layout (as Java: after a
//! flush and the totals line, before the close). Not in the Java tool: `--metrics-interval-ms MS`
//! reads `metrics()` every MS ms during the run, as a monitoring agent would, so what reading
//! costs can be measured.
//! Transactions as Java's tool: `--transactional-id ID` (or `transactional.id` in the
//! properties) and `--transaction-duration-ms MS` (default 3000 with an id; alone it makes the
//! id `performance-producer-<random>`) wrap the records in transactions, each committed once
//! it is MS old (checked after each send) and the last one at the end. With `--threads` above
//! 1 they are refused (one producer has one transaction at a time).
//!
//! Exit status: 0 when every record was written, 1 when any failed (each failure is printed on
//! standard error; unlike Java, whose tool exits 0 regardless), 2 for bad usage.

use kafka_sync::{Producer, ProducerConfig, ProducerRecord};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

include!("common.rs");

/// `--transactional-id` and `--transaction-duration-ms`, taken out of the arguments (the
/// parser shared with the comparison tools refuses them).
#[derive(Debug, Default)]
struct TxnArgs {
    id: Option<String>,
    duration_ms: Option<u64>,
}

fn take_txn_args(args: Vec<String>) -> Result<(Vec<String>, TxnArgs), String> {
    let mut rest = Vec::new();
    let mut t = TxnArgs::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if name != "--transactional-id" && name != "--transaction-duration-ms" {
            rest.push(arg);
            continue;
        }
        let value = inline
            .or_else(|| it.next())
            .ok_or_else(|| format!("argument {name}: expected a value"))?;
        if name == "--transactional-id" {
            t.id = Some(value);
        } else {
            match value.trim().parse::<i64>() {
                Ok(ms) if ms > 0 => t.duration_ms = Some(ms as u64),
                Ok(_) => return Err("--transaction-duration-ms should be greater than zero".into()),
                Err(_) => return Err(format!("{name}: not a valid number: {value:?}")),
            }
        }
    }
    Ok((rest, t))
}

/// Java's `ProducerPerformance.DEFAULT_TRANSACTION_DURATION_MS`.
const DEFAULT_TRANSACTION_DURATION_MS: u64 = 3000;

fn build_config(o: &Options, txn: &TxnArgs) -> Result<ProducerConfig, String> {
    // Unknown names are logged and skipped, as Java's tool passes them to KafkaProducer.
    let mut builder = ProducerConfig::builder()
        .client_id("perf-producer-client")
        .allow_unknown_properties(true);
    if let Some(path) = &o.config_file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        for (k, v) in ProducerConfig::parse_properties(&text) {
            builder = builder.set(k, v);
        }
    }
    for (k, v) in &o.properties {
        builder = builder.set(k.clone(), v.clone());
    }
    if let Some(bs) = &o.bootstrap {
        builder = builder.bootstrap_servers(bs.clone());
    }
    if let Some(id) = &txn.id {
        builder = builder.transactional_id(id.clone());
    } else if txn.duration_ms.is_some() {
        let config = builder.clone().build().map_err(|e| e.to_string())?;
        if config.transactional_id().is_none() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let id = format!("performance-producer-{:x}-{}", nanos, std::process::id());
            builder = builder.transactional_id(id);
        }
    }
    builder.build().map_err(|e| e.to_string())
}

fn run(o: Options, txn: TxnArgs) -> ExitCode {
    let config = match build_config(&o, &txn) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("perf: {e}");
            return ExitCode::from(2);
        }
    };
    let transaction_duration = config
        .transactional_id()
        .map(|_| Duration::from_millis(txn.duration_ms.unwrap_or(DEFAULT_TRANSACTION_DURATION_MS)));
    if transaction_duration.is_some() && o.threads > 1 {
        eprintln!("perf: transactions need --threads 1 (one producer, one transaction at a time)");
        return ExitCode::from(2);
    }
    let producer: Producer<Vec<u8>, std::sync::Arc<[u8]>> = match Producer::new(config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("perf: cannot start the producer: {e}");
            return ExitCode::from(1);
        }
    };

    let file_payloads = match load_payloads(&o) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("perf: {e}");
            return ExitCode::from(2);
        }
    };
    if transaction_duration.is_some() {
        if let Err(e) = producer.init_transactions() {
            eprintln!("perf: init_transactions failed: {e}");
            return ExitCode::from(1);
        }
    }
    let stats = AllStats::leak_new(&o);
    static FAILED: AtomicU64 = AtomicU64::new(0);
    // A failed commit (or begin) is counted as one failure and printed.
    let txn_failed = |what: &str, e: kafka_sync::Error| {
        FAILED.fetch_add(1, Ordering::Relaxed);
        eprintln!("perf: {what} failed: {e}");
    };

    // The reader stops as soon as the callers are done (the sender side is dropped), so the
    // run's elapsed time does not include its last interval.
    let (done, stop) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        if let Some(ms) = o.metrics_interval_ms {
            let producer = &producer;
            scope.spawn(move || {
                let mut read = 0usize;
                let interval = Duration::from_millis(ms);
                while stop.recv_timeout(interval) == Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                {
                    read += producer.metrics().len();
                }
                std::hint::black_box(read);
            });
        }
        run_callers(&o, &file_payloads, |mut caller| {
            let first = caller.records.start;
            // As Java's tool: begin before the first record of a transaction, commit after the
            // send that finds it `--transaction-duration-ms` old, and the last one at the end.
            let mut open_since: Option<Instant> = None;
            for i in caller.records.clone() {
                if let (Some(_), None) = (transaction_duration, open_since) {
                    if let Err(e) = producer.begin_transaction() {
                        return txn_failed("begin_transaction", e);
                    }
                    open_since = Some(Instant::now());
                }
                let (key, payload) = caller.source.next_shared(i);
                let bytes = payload.len();
                let record = ProducerRecord::new(o.topic.as_str(), key, Some(payload));

                let send_start_ms = now_ms();
                let steady = AllStats::before_send(stats, &o, i);
                let sent = producer.send_with_callback(record, move |result| {
                    let (latency, now) = latency_since(send_start_ms);
                    match result {
                        Ok(_) => AllStats::acknowledged(stats, latency, bytes, now, steady),
                        Err(e) => {
                            FAILED.fetch_add(1, Ordering::Relaxed);
                            eprintln!("perf: record failed: {e}");
                        }
                    }
                });
                if let Err(e) = sent {
                    FAILED.fetch_add(1, Ordering::Relaxed);
                    eprintln!("perf: send failed: {e}");
                }
                if let (Some(d), Some(t)) = (transaction_duration, open_since) {
                    if t.elapsed() >= d {
                        open_since = None;
                        if let Err(e) = producer.commit_transaction() {
                            return txn_failed("commit_transaction", e);
                        }
                    }
                }
                if caller.throttler.should_throttle(i - first, send_start_ms) {
                    caller.throttler.throttle();
                }
            }
            if open_since.is_some() {
                if let Err(e) = producer.commit_transaction() {
                    txn_failed("commit_transaction", e);
                }
            }
        });
        drop(done);
    });

    if o.print_metrics {
        // As Java with --print-metrics: flush, print the totals, the metrics, then close.
        producer.flush();
        let code = AllStats::finish(stats, "perf", FAILED.load(Ordering::Relaxed), o.num_records);
        print!("{}", producer.metrics().to_java_text());
        producer.close(Duration::MAX);
        return code;
    }

    // As Java (without --print-metrics): close, which waits for every answer, then print.
    producer.close(Duration::MAX);
    drop(producer);
    AllStats::finish(stats, "perf", FAILED.load(Ordering::Relaxed), o.num_records)
}

/// The producer's log on stderr: warnings by default (as Java's tools log), more with
/// `PERF_LOG=info|debug|trace` (for diagnosing a bad run), none with `PERF_LOG=off`.
struct StderrLog;
impl log::Log for StderrLog {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("[{} {} {}] {}", now_ms(), r.level(), r.target(), r.args());
        }
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
    let (args, txn) = match take_txn_args(std::env::args().skip(1).collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("perf: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match parse_args(args) {
        Ok(Parsed::Run(o)) => run(o, txn),
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("perf: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splittable_random_matches_java() {
        // new java.util.SplittableRandom(0): nextInt(26) x 10, then nextInt(1000) x 3
        // (values printed by jshell on JDK 17).
        let mut r = SplittableRandom::new(0);
        let got: Vec<i32> = (0..10).map(|_| r.next_int(26)).collect();
        assert_eq!(got, JAVA_26);
        let got: Vec<i32> = (0..3).map(|_| r.next_int(1000)).collect();
        assert_eq!(got, JAVA_1000);
    }

    #[test]
    fn caller_threads_share_the_records() {
        let args = |threads: &str| -> Vec<String> {
            [
                "--topic",
                "t",
                "--num-records",
                "10",
                "--record-size",
                "1",
                "--throughput",
                "-1",
            ]
            .iter()
            .map(|s| s.to_string())
            .chain(["--bootstrap-server", "b:9092", "--threads", threads].map(String::from))
            .collect()
        };
        let Ok(Parsed::Run(o)) = parse_args(args("3")) else {
            panic!("--threads 3 is valid");
        };
        let seen = Mutex::new(Vec::new());
        run_callers(&o, &[], |c| seen.lock().unwrap().extend(c.records));
        let mut seen = seen.into_inner().unwrap();
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<u64>>());
        assert!(parse_args(args("0")).is_err());
        assert!(parse_args(args("11")).is_err());
    }

    #[test]
    fn transaction_arguments_are_taken_out_for_the_shared_parser() {
        let args: Vec<String> = [
            "--topic",
            "t",
            "--transactional-id",
            "tx",
            "--transaction-duration-ms=100",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (rest, t) = take_txn_args(args).unwrap();
        assert_eq!(rest, ["--topic", "t"]);
        assert_eq!((t.id.as_deref(), t.duration_ms), (Some("tx"), Some(100)));
        let zero = vec!["--transaction-duration-ms".to_string(), "0".to_string()];
        assert!(take_txn_args(zero).is_err());
    }

    const JAVA_26: [i32; 10] = [24, 16, 7, 7, 13, 4, 1, 18, 4, 15];
    const JAVA_1000: [i32; 3] = [11, 259, 450];
}

// The tool-independent half of the ProducerPerformance clone: command line, payload (Java's
// SplittableRandom), latency statistics and the throttler. Textually included (`include!`) by
// examples/perf/main.rs (this crate), compare/src/main.rs (librdkafka) and
// compare-confluent/src/main.rs (Confluent's Rust client), so the tools parse the same arguments,
// send the same bytes and print the same lines.
//
// Uses: std::io::Write, std::sync::{Mutex, OnceLock}, std::time::{Duration, Instant}, and the
// atomics, imported by the including file.

const USAGE: &str = "\
usage: perf --topic TOPIC --num-records N --throughput T
            (--record-size S | --payload-file F | --payload-monotonic)
            [--producer-props NAME=VALUE ...] [--command-property NAME=VALUE ...]
            [--producer.config FILE | --command-config FILE] [--bootstrap-server HOST:PORT]
            [--payload-delimiter D] [--warmup-records W] [--reporting-interval MS]
            [--key-distribution none|range|random] [--record-key-range K]
            [--random-seed SEED] [--print-metrics] [--threads N] [--metrics-interval-ms MS]

The Java ProducerPerformance (kafka-producer-perf-test) command line and output.
  --throughput T   records/sec cap, approximately; -1 for no cap
  --print-metrics  at the end, print the producer's metrics in Java's layout
  --threads N      (not in the Java tool) N caller threads share one producer, each sending its
                   share of --num-records (and of --throughput); default 1
  --metrics-interval-ms MS  (not in the Java tool) read the producer's metrics every MS ms
                   during the run, as a monitoring agent would (to measure what it costs)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyDistribution {
    None,
    Range,
    Random,
}

#[derive(Debug)]
enum Payload {
    Size(usize),
    File(String),
    Monotonic,
}

#[derive(Debug)]
struct Options {
    topic: String,
    num_records: u64,
    payload: Payload,
    payload_delimiter: String,
    throughput: f64,
    properties: Vec<(String, String)>,
    config_file: Option<String>,
    bootstrap: Option<String>,
    warmup_records: u64,
    reporting_interval_ms: u64,
    key_distribution: KeyDistribution,
    key_range: Option<u32>,
    random_seed: u64,
    threads: u32,
    print_metrics: bool,
    metrics_interval_ms: Option<u64>,
}

// Parsed once per run: the size of the variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Parsed {
    Run(Options),
    Help,
}

fn number<T: std::str::FromStr>(opt: &str, text: &str) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{opt}: not a valid number: {text:?}"))
}

fn parse_args(args: Vec<String>) -> Result<Parsed, String> {
    if args.is_empty() {
        return Ok(Parsed::Help);
    }
    let mut topic = None;
    let mut num_records: Option<i64> = None;
    let mut record_size: Option<i64> = None;
    let mut payload_file = None;
    let mut monotonic = false;
    let mut payload_delimiter = "\n".to_string();
    let mut throughput: Option<f64> = None;
    let mut properties = Vec::new();
    let mut props_given = false;
    let mut config_file = None;
    let mut bootstrap = None;
    let mut warmup: i64 = 0;
    let mut reporting_interval: i64 = 5000;
    let mut print_metrics = false;
    let mut metrics_interval_ms = None;
    let mut key_distribution = KeyDistribution::None;
    let mut key_range: Option<i64> = None;
    let mut random_seed: i64 = 0;
    let mut threads: i64 = 1;

    let mut it = args.into_iter().peekable();
    while let Some(arg) = it.next() {
        // `--name=value` and `--name value`, as argparse4j accepts.
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            match inline.clone().or_else(|| it.next()) {
                Some(v) => Ok(v),
                None => Err(format!("argument {name}: expected {what}")),
            }
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--topic" => topic = Some(value("TOPIC")?),
            "--num-records" => num_records = Some(number(&name, &value("NUM-RECORDS")?)?),
            "--record-size" => record_size = Some(number(&name, &value("RECORD-SIZE")?)?),
            "--payload-file" => payload_file = Some(value("PAYLOAD-FILE")?),
            "--payload-monotonic" => monotonic = true,
            "--payload-delimiter" => {
                let d = value("PAYLOAD-DELIMITER")?;
                // The Java tool's help shows the default as the two characters `\n`.
                payload_delimiter = if d == "\\n" { "\n".to_string() } else { d };
            }
            "--throughput" => throughput = Some(number(&name, &value("THROUGHPUT")?)?),
            "--producer-props" | "--command-property" => {
                props_given = true;
                let mut pieces = Vec::new();
                if let Some(v) = inline.clone() {
                    pieces.push(v);
                }
                while let Some(next) = it.peek() {
                    if next.starts_with("--") {
                        break;
                    }
                    pieces.push(it.next().unwrap_or_default());
                }
                if pieces.is_empty() {
                    return Err(format!(
                        "argument {name}: expected at least one PROP-NAME=PROP-VALUE"
                    ));
                }
                for p in pieces {
                    match p.split_once('=') {
                        Some((k, v)) if !k.is_empty() => {
                            properties.push((k.to_string(), v.to_string()))
                        }
                        _ => return Err(format!("Invalid property: {p}")),
                    }
                }
            }
            "--producer.config" | "--command-config" => config_file = Some(value("CONFIG-FILE")?),
            "--bootstrap-server" => bootstrap = Some(value("BOOTSTRAP-SERVER")?),
            "--print-metrics" => print_metrics = true,
            "--metrics-interval-ms" => {
                let ms: u64 = number(&name, &value("INTERVAL-MS")?)?;
                metrics_interval_ms = Some(ms.max(1));
            }
            "--warmup-records" => warmup = number(&name, &value("WARMUP-RECORDS")?)?,
            "--reporting-interval" => {
                reporting_interval = number(&name, &value("INTERVAL-MS")?)?;
            }
            "--key-distribution" => {
                key_distribution = match value("KEY-DISTRIBUTION")?.to_ascii_lowercase().as_str() {
                    "none" => KeyDistribution::None,
                    "range" => KeyDistribution::Range,
                    "random" => KeyDistribution::Random,
                    other => {
                        return Err(format!(
                            "argument --key-distribution: invalid choice {other:?} \
                             (choose from none, range, random)"
                        ))
                    }
                }
            }
            "--record-key-range" => key_range = Some(number(&name, &value("KEY-RANGE")?)?),
            "--random-seed" => random_seed = number(&name, &value("RANDOM-SEED")?)?,
            "--threads" => threads = number(&name, &value("THREADS")?)?,
            "--transactional-id" | "--transaction-duration-ms" => {
                return Err(format!(
                    "{name}: not supported by the comparison tools (examples/perf has it)"
                ))
            }
            other => return Err(format!("unrecognized argument: {other}")),
        }
    }

    let topic = topic.ok_or("argument --topic is required")?;
    let num_records = num_records.ok_or("argument --num-records is required")?;
    let throughput = throughput.ok_or("argument --throughput is required")?;
    if num_records <= 0 {
        return Err("--num-records should be greater than zero".into());
    }
    let warmup = warmup.max(0);
    if warmup >= num_records {
        return Err(
            "The value for --warmup-records must be strictly fewer than the number of \
                    records in the test, --num-records."
                .into(),
        );
    }
    let payload =
        match (record_size, payload_file, monotonic) {
            (Some(s), None, false) => {
                if s <= 0 {
                    return Err("--record-size should be greater than zero".into());
                }
                Payload::Size(usize::try_from(s).map_err(|_| "--record-size is too large")?)
            }
            (None, Some(f), false) => Payload::File(f),
            (None, None, true) => Payload::Monotonic,
            _ => return Err(
                "exactly one of --record-size, --payload-file or --payload-monotonic is required"
                    .into(),
            ),
        };
    if !props_given && config_file.is_none() && bootstrap.is_none() {
        return Err(
            "Either --bootstrap-server, --command-property or --command-config must be specified."
                .into(),
        );
    }
    if threads <= 0 || threads > num_records || threads > 1024 {
        return Err("--threads should be between 1 and --num-records (at most 1024)".into());
    }
    if reporting_interval <= 0 {
        return Err("--reporting-interval should be greater than zero".into());
    }
    let key_range = match (key_distribution, key_range) {
        (KeyDistribution::None, _) => None,
        (_, Some(k)) if k > 0 && k <= i64::from(i32::MAX) => Some(k as u32),
        (_, Some(_)) => return Err("--record-key-range should be greater than zero".into()),
        (_, None) => {
            return Err(
                "--record-key-range is required with --key-distribution range|random".into(),
            )
        }
    };
    Ok(Parsed::Run(Options {
        topic,
        num_records: num_records as u64,
        payload,
        payload_delimiter,
        throughput,
        properties,
        config_file,
        bootstrap,
        warmup_records: warmup as u64,
        reporting_interval_ms: reporting_interval as u64,
        key_distribution,
        key_range,
        random_seed: random_seed as u64,
        threads: threads as u32,
        print_metrics,
        metrics_interval_ms,
    }))
}

/// Java's `java.util.SplittableRandom` (seed, golden gamma, `mix32`, bounded `nextInt`), so the
/// payload bytes are the ones the Java tool sends.
struct SplittableRandom {
    seed: u64,
}

impl SplittableRandom {
    const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

    fn new(seed: u64) -> Self {
        SplittableRandom { seed }
    }

    fn next_seed(&mut self) -> u64 {
        self.seed = self.seed.wrapping_add(Self::GAMMA);
        self.seed
    }

    fn mix32(z: u64) -> i32 {
        let z = (z ^ (z >> 33)).wrapping_mul(0x62a9_d9ed_7997_05f5);
        ((z ^ (z >> 28)).wrapping_mul(0xcb24_d0a5_c88c_35b3) >> 32) as i32
    }

    /// A value in `[0, bound)`; `bound > 0`.
    fn next_int(&mut self, bound: i32) -> i32 {
        let mut r = Self::mix32(self.next_seed());
        let m = bound - 1;
        if bound & m == 0 {
            return r & m;
        }
        let mut u = ((r as u32) >> 1) as i32;
        loop {
            r = u % bound;
            if u.wrapping_add(m).wrapping_sub(r) >= 0 {
                return r;
            }
            u = ((Self::mix32(self.next_seed()) as u32) >> 1) as i32;
        }
    }
}

/// Milliseconds since the program started: the tool's clock (Java reads
/// `System.currentTimeMillis()`; this one is monotonic, with the same granularity).
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// The Java tool's statistics: totals, a latency sample of at most 500,000 records, and a window
/// printed every reporting interval.
struct Stats {
    start: u64,
    latencies: Vec<u32>,
    sampling: u64,
    reporting_interval: u64,
    iteration: u64,
    count: u64,
    bytes: u64,
    max_latency: u32,
    total_latency: u64,
    window_count: u64,
    window_max_latency: u32,
    window_total_latency: u64,
    window_bytes: u64,
    window_start: u64,
    steady_state: bool,
    suppress_print: bool,
}

impl Stats {
    fn new(num_records: u64, reporting_interval: u64, steady_state: bool) -> Self {
        let sampling = num_records / num_records.min(500_000);
        let now = now_ms();
        Stats {
            start: now,
            latencies: Vec::with_capacity((num_records / sampling + 1) as usize),
            sampling,
            reporting_interval,
            iteration: 0,
            count: 0,
            bytes: 0,
            max_latency: 0,
            total_latency: 0,
            window_count: 0,
            window_max_latency: 0,
            window_total_latency: 0,
            window_bytes: 0,
            window_start: now,
            steady_state,
            suppress_print: false,
        }
    }

    fn record(&mut self, latency: u32, bytes: usize, time: u64) {
        self.count += 1;
        self.bytes += bytes as u64;
        self.total_latency += u64::from(latency);
        self.max_latency = self.max_latency.max(latency);
        self.window_count += 1;
        self.window_bytes += bytes as u64;
        self.window_total_latency += u64::from(latency);
        self.window_max_latency = self.window_max_latency.max(latency);
        if self.iteration.is_multiple_of(self.sampling) {
            self.latencies.push(latency);
        }
        if time.saturating_sub(self.window_start) >= self.reporting_interval {
            if self.steady_state && self.count == self.window_count {
                println!("In steady state.");
            }
            if !self.suppress_print {
                self.print_window();
            }
            self.new_window();
        }
        self.iteration += 1;
    }

    fn print_window(&self) {
        let elapsed = now_ms().saturating_sub(self.window_start) as f64;
        let recs_per_sec = 1000.0 * self.window_count as f64 / elapsed;
        let mb_per_sec = 1000.0 * self.window_bytes as f64 / elapsed / (1024.0 * 1024.0);
        println!(
            "{} records sent, {:.1} records/sec ({:.2} MB/sec), {:.1} ms avg latency, {:.1} ms max latency.",
            self.window_count,
            recs_per_sec,
            mb_per_sec,
            self.window_total_latency as f64 / self.window_count as f64,
            f64::from(self.window_max_latency),
        );
    }

    fn new_window(&mut self) {
        self.window_start = now_ms();
        self.window_count = 0;
        self.window_max_latency = 0;
        self.window_total_latency = 0;
        self.window_bytes = 0;
    }

    fn print_total(&mut self) {
        let elapsed = now_ms().saturating_sub(self.start) as f64;
        let recs_per_sec = 1000.0 * self.count as f64 / elapsed;
        let mb_per_sec = 1000.0 * self.bytes as f64 / elapsed / (1024.0 * 1024.0);
        self.latencies.sort_unstable();
        let n = self.latencies.len();
        let perc = |p: f64| -> u32 {
            if n == 0 {
                0
            } else {
                self.latencies[((p * n as f64) as usize).min(n - 1)]
            }
        };
        println!(
            "{}{} records sent, {:.6} records/sec ({:.2} MB/sec), {:.2} ms avg latency, {:.2} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
            self.count,
            if self.steady_state { " steady state" } else { "" },
            recs_per_sec,
            mb_per_sec,
            self.total_latency as f64 / self.count as f64,
            f64::from(self.max_latency),
            perc(0.5),
            perc(0.95),
            perc(0.99),
            perc(0.999),
        );
    }
}

/// Statistics of all records, and of the records after the warm-up once it is over. Only the
/// callbacks (on the producer's network thread) and the main thread at the warm-up boundary and
/// at the end touch them, so the lock is uncontended.
struct AllStats {
    total: Stats,
    steady: Option<Stats>,
}

/// Java's `ThroughputThrottler`.
struct Throttler {
    start_ms: u64,
    target: f64,
    sleep_time_ns: u64,
    sleep_deficit_ns: u64,
}

impl Throttler {
    const MIN_SLEEP_NS: u64 = 2_000_000;

    fn new(target: f64, start_ms: u64) -> Self {
        Throttler {
            start_ms,
            target,
            sleep_time_ns: if target > 0.0 {
                (1e9 / target) as u64
            } else {
                u64::MAX
            },
            sleep_deficit_ns: 0,
        }
    }

    fn should_throttle(&self, amount_so_far: u64, send_start_ms: u64) -> bool {
        if self.target < 0.0 {
            return false;
        }
        let elapsed_sec = send_start_ms.saturating_sub(self.start_ms) as f32 / 1000.0;
        elapsed_sec > 0.0 && (amount_so_far as f64 / f64::from(elapsed_sec)) > self.target
    }

    fn throttle(&mut self) {
        if self.target == 0.0 {
            // Java waits until woken up, which this tool never does.
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        self.sleep_deficit_ns = self.sleep_deficit_ns.saturating_add(self.sleep_time_ns);
        if self.sleep_deficit_ns >= Self::MIN_SLEEP_NS {
            std::thread::sleep(Duration::from_nanos(self.sleep_deficit_ns));
            self.sleep_deficit_ns = 0;
        }
    }
}

/// The payload pieces of `--payload-file`.
fn read_payload_file(path: &str, delimiter: &str) -> Result<Vec<Vec<u8>>, String> {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.into());
    println!("Reading payloads from: {}", abs.display());
    let text = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    if text.is_empty() {
        return Err("File does not exist or empty file provided.".into());
    }
    let text = String::from_utf8_lossy(&text);
    let pieces: Vec<Vec<u8>> = text
        .split(delimiter)
        .filter(|p| !p.is_empty())
        .map(|p| p.as_bytes().to_vec())
        .collect();
    println!("Number of messages read: {}", pieces.len());
    if pieces.is_empty() {
        return Err("File does not exist or empty file provided.".into());
    }
    Ok(pieces)
}

/// The payload pieces of the run's `--payload-file` (none without one), read once and shared by
/// every caller thread. Shared (`Arc`), as Java's tool sends the same `byte[]` again: a piece is
/// not copied per record.
fn load_payloads(options: &Options) -> Result<Vec<std::sync::Arc<[u8]>>, String> {
    match &options.payload {
        Payload::File(path) => Ok(read_payload_file(path, &options.payload_delimiter)?
            .into_iter()
            .map(std::sync::Arc::from)
            .collect()),
        _ => Ok(Vec::new()),
    }
}

/// The records of a run (or of one caller thread's share of it), made as Java's tool makes them:
/// the payload (random letters, a piece of the payload file, or the record's number) and the key
/// (none, or from the key distribution). The generated payload is refilled in place once the
/// last record that held it is gone.
struct RecordSource<'a> {
    options: &'a Options,
    random: SplittableRandom,
    file_payloads: &'a [std::sync::Arc<[u8]>],
    payload: std::sync::Arc<[u8]>,
}

impl<'a> RecordSource<'a> {
    /// The source of caller thread `thread`: its random generator is seeded with
    /// `--random-seed` + `thread`, so thread 0 (the only one by default) makes Java's bytes.
    fn new(options: &'a Options, file_payloads: &'a [std::sync::Arc<[u8]>], thread: u64) -> Self {
        let payload = match options.payload {
            Payload::Size(s) => vec![0u8; s].into(),
            _ => std::sync::Arc::from(&[][..]),
        };
        RecordSource {
            options,
            random: SplittableRandom::new(options.random_seed.wrapping_add(thread)),
            file_payloads,
            payload,
        }
    }

    /// Record `i`: its key, and its payload (valid until the next call).
    #[allow(dead_code)] // not every tool that includes this file uses both forms
    fn next(&mut self, i: u64) -> (Option<Vec<u8>>, &[u8]) {
        let key = self.advance(i);
        (key, &self.payload)
    }

    /// Record `i`: its key, and its payload, shared.
    #[allow(dead_code)]
    fn next_shared(&mut self, i: u64) -> (Option<Vec<u8>>, std::sync::Arc<[u8]>) {
        let key = self.advance(i);
        (key, self.payload.clone())
    }

    fn advance(&mut self, i: u64) -> Option<Vec<u8>> {
        match &self.options.payload {
            Payload::Size(s) => {
                if std::sync::Arc::get_mut(&mut self.payload).is_none() {
                    self.payload = vec![0u8; *s].into();
                }
                let random = &mut self.random;
                if let Some(buf) = std::sync::Arc::get_mut(&mut self.payload) {
                    for b in buf.iter_mut() {
                        *b = (random.next_int(26) + 65) as u8;
                    }
                }
            }
            Payload::File(_) => {
                let n = self.file_payloads.len().min(i32::MAX as usize) as i32;
                self.payload = self.file_payloads[self.random.next_int(n) as usize].clone();
            }
            Payload::Monotonic => {
                self.payload = std::sync::Arc::from(i.to_string().as_bytes());
            }
        }
        match (self.options.key_distribution, self.options.key_range) {
            (KeyDistribution::Range, Some(k)) => Some((i % u64::from(k)).to_string().into_bytes()),
            (KeyDistribution::Random, Some(k)) => Some(self.random.next_int(k as i32).to_string().into_bytes()),
            _ => None,
        }
    }
}

/// One caller thread's share of the run: its records (numbered as in the whole run), their source
/// and its throttler (at its share of `--throughput`).
struct Caller<'a> {
    records: std::ops::Range<u64>,
    source: RecordSource<'a>,
    throttler: Throttler,
}

/// Runs `body` for each of the `--threads` callers, all at once, each on its own thread (with one
/// caller, on this thread, as Java's tool sends). Thread `t` of `N` sends records
/// `[t * n / N, (t + 1) * n / N)` of the `n` records, so the record numbers (the keys of
/// `--key-distribution range`, the warm-up boundary) are those of a single-threaded run.
fn run_callers<F>(o: &Options, file_payloads: &[std::sync::Arc<[u8]>], body: F)
where
    F: Fn(Caller<'_>) + Sync,
{
    let n = u64::from(o.threads);
    let start_ms = now_ms();
    let target = if o.throughput > 0.0 {
        o.throughput / n as f64
    } else {
        o.throughput
    };
    let caller = |t: u64| Caller {
        records: o.num_records * t / n..o.num_records * (t + 1) / n,
        source: RecordSource::new(o, file_payloads, t),
        throttler: Throttler::new(target, start_ms),
    };
    if n == 1 {
        body(caller(0));
        return;
    }
    std::thread::scope(|scope| {
        for t in 0..n {
            let (body, caller) = (&body, &caller);
            std::thread::Builder::new()
                .name(format!("perf-caller-{t}"))
                .spawn_scoped(scope, move || body(caller(t)))
                .expect("cannot start a caller thread");
        }
    });
}

impl AllStats {
    /// The run's statistics, leaked on purpose: callbacks borrow them for the life of the
    /// program without a reference count per record. Prints Java's warm-up notice.
    fn leak_new(o: &Options) -> &'static Mutex<AllStats> {
        if o.warmup_records > 0 {
            println!(
                "Warmup first {} records. Steady state results will print after the complete test summary.",
                o.warmup_records
            );
        }
        Box::leak(Box::new(Mutex::new(AllStats {
            total: Stats::new(o.num_records, o.reporting_interval_ms, false),
            steady: None,
        })))
    }

    /// Called before record `i` is sent: whether it counts for the steady-state statistics
    /// (which start, as in Java, at record `--warmup-records`).
    fn before_send(stats: &Mutex<AllStats>, o: &Options, i: u64) -> bool {
        if o.warmup_records > 0 && i == o.warmup_records {
            let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
            s.steady = Some(Stats::new(o.num_records - o.warmup_records, o.reporting_interval_ms, true));
            s.total.suppress_print = true;
        }
        o.warmup_records > 0 && i >= o.warmup_records
    }

    /// Records one acknowledged record.
    fn acknowledged(stats: &Mutex<AllStats>, latency: u32, bytes: usize, now: u64, steady: bool) {
        let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
        s.total.record(latency, bytes, now);
        if steady {
            if let Some(st) = s.steady.as_mut() {
                st.record(latency, bytes, now);
            }
        }
    }

    /// Prints Java's summary line(s), then says how many records failed: exit status 1 if any.
    fn finish(stats: &Mutex<AllStats>, tool: &str, failed: u64, num_records: u64) -> ExitCode {
        {
            let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
            s.total.print_total();
            if let Some(st) = s.steady.as_mut() {
                st.print_total();
            }
        }
        let _ = std::io::stdout().flush();
        if failed > 0 {
            eprintln!("{tool}: {failed} of {num_records} records failed");
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// Milliseconds from `send_start_ms` to now, as Java's tool measures latency.
fn latency_since(send_start_ms: u64) -> (u32, u64) {
    let now = now_ms();
    (now.saturating_sub(send_start_ms).min(u64::from(u32::MAX)) as u32, now)
}

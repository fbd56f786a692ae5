//! A stand-in for the common use of Kafka's `kafka-console-producer`: one record per line of
//! standard input.
//!
//! ```sh
//! printf 'k1\tv1\nk2\tv2\n' | cargo run --example console_producer -- \
//!     --bootstrap-server 127.0.0.1:9092 --topic t --property parse.key=true
//! ```
//!
//! Options (the Java tool's names):
//!
//! - `--bootstrap-server HOST:PORT[,...]` (required) and `--topic NAME` (required);
//! - `--property NAME=VALUE` (also `--reader-property`): `parse.key=true` splits each line into
//!   key and value at the first `key.separator` (default: a tab); `ignore.error=true` sends a
//!   line without the separator as a keyless record instead of failing it; `null.marker=S`
//!   turns a key or value equal to `S` into null;
//! - `--producer-property NAME=VALUE` (repeatable): any Java producer property, passed to
//!   `ProducerConfig::builder().set(NAME, VALUE)`; an unknown name is skipped with a warning on
//!   standard error (as Java's `KafkaProducer` logs it), a bad value is an error;
//! - `--producer.config FILE` (also `--command-config`): a `producer.properties` file, applied
//!   before `--producer-property`;
//! - `--sync`: each record waits for its answer before the next line is read. Without it, records
//!   are answered through callbacks and the producer is flushed at end of input.
//!
//! Lines end at `\n` (a `\r` before it is dropped, like Java's `readLine`); bytes are sent as
//! they are, with no UTF-8 requirement. With `parse.key=true`, a line without the separator
//! fails with "No key separator found on line number N", as in Java, and counts as a failed
//! record; the other lines are still sent.
//!
//! Exit status: 0 when every record was written; 1 when any failed (their number is printed
//! on standard error) or the producer could not start; 2 for bad usage or a bad property.

use kafka_sync::{Error, Producer, ProducerConfig, ProducerRecord};
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const USAGE: &str = "\
usage: console_producer --bootstrap-server HOST:PORT[,...] --topic TOPIC [options] < lines

Sends one record per line of standard input.

options:
  --property NAME=VALUE           line reader property (repeatable; alias --reader-property):
                                    parse.key=true|false   split key and value (default false)
                                    key.separator=S        between key and value (default: tab)
                                    ignore.error=true      send a line without separator as a value
                                    null.marker=S          a key or value equal to S is null
  --producer-property NAME=VALUE  Java producer property (repeatable), e.g. acks=1, linger.ms=10
  --producer.config FILE          producer.properties file (alias --command-config)
  --sync                          wait for each record's answer before reading the next line
  --help                          this text

exit status: 0 all records written, 1 some failed (count on stderr), 2 bad usage";

/// What the command line asks for.
#[derive(Debug, Default)]
struct Options {
    bootstrap: Option<String>,
    topic: Option<String>,
    parse_key: bool,
    key_separator: Vec<u8>,
    ignore_error: bool,
    null_marker: Option<Vec<u8>>,
    producer_properties: Vec<(String, String)>,
    producer_config_file: Option<String>,
    sync: bool,
}

enum Parsed {
    Run(Options),
    Help,
}

fn split_property(opt: &str, text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("{opt} takes NAME=VALUE, got {text:?}")),
    }
}

fn parse_bool(name: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!(
            "--property {name} takes true or false, got {value:?}"
        )),
    }
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut o = Options {
        key_separator: b"\t".to_vec(),
        ..Options::default()
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // `--name=value` and `--name value` are both accepted, as Java's option parser does.
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            match inline.clone().or_else(|| args.next()) {
                Some(v) => Ok(v),
                None => Err(format!("{name} needs {what}")),
            }
        };
        match name.as_str() {
            "--help" | "-h" => return Ok(Parsed::Help),
            "--bootstrap-server" => o.bootstrap = Some(value("a HOST:PORT list")?),
            "--topic" => o.topic = Some(value("a topic name")?),
            "--sync" => {
                if inline.is_some() {
                    return Err("--sync takes no value".to_string());
                }
                o.sync = true;
            }
            "--producer-property" => {
                let text = value("NAME=VALUE")?;
                o.producer_properties
                    .push(split_property("--producer-property", &text)?);
            }
            "--producer.config" | "--command-config" => {
                o.producer_config_file = Some(value("a file name")?)
            }
            "--property" | "--reader-property" => {
                let text = value("NAME=VALUE")?;
                let (k, v) = split_property(&name, &text)?;
                match k.as_str() {
                    "parse.key" => o.parse_key = parse_bool(&k, &v)?,
                    "key.separator" => {
                        if v.is_empty() {
                            return Err("--property key.separator must not be empty".to_string());
                        }
                        o.key_separator = v.into_bytes();
                    }
                    "ignore.error" => o.ignore_error = parse_bool(&k, &v)?,
                    "null.marker" => o.null_marker = Some(v.into_bytes()),
                    other => {
                        return Err(format!(
                            "--property {other} is not supported (supported: parse.key, \
                             key.separator, ignore.error, null.marker)"
                        ))
                    }
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if o.bootstrap.is_none() {
        return Err("--bootstrap-server is required".to_string());
    }
    if o.topic.is_none() {
        return Err("--topic is required".to_string());
    }
    Ok(Parsed::Run(o))
}

/// The producer configuration: the properties file first, then `--producer-property`, then
/// `bootstrap.servers` from `--bootstrap-server` (which wins, as in the Java tool).
fn build_config(o: &Options) -> Result<ProducerConfig, String> {
    // Unknown names are logged and skipped, as Java's tool passes them to KafkaProducer.
    let mut builder = ProducerConfig::builder()
        .client_id("console-producer")
        .allow_unknown_properties(true);
    if let Some(path) = &o.producer_config_file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        for (k, v) in ProducerConfig::parse_properties(&text) {
            builder = builder.set(k, v);
        }
    }
    for (k, v) in &o.producer_properties {
        builder = builder.set(k.clone(), v.clone());
    }
    if let Some(bs) = &o.bootstrap {
        builder = builder.bootstrap_servers(bs.clone());
    }
    builder.build().map_err(|e| e.to_string())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Key and value of one line, or the Java tool's error for a line without the separator.
#[allow(clippy::type_complexity)]
fn split_line(
    o: &Options,
    line: &[u8],
    line_number: u64,
) -> Result<(Option<Vec<u8>>, Option<Vec<u8>>), String> {
    let nullable = |b: &[u8]| -> Option<Vec<u8>> {
        match &o.null_marker {
            Some(m) if m.as_slice() == b => None,
            _ => Some(b.to_vec()),
        }
    };
    if !o.parse_key {
        return Ok((None, nullable(line)));
    }
    match find(line, &o.key_separator) {
        Some(at) => Ok((
            nullable(&line[..at]),
            nullable(&line[at + o.key_separator.len()..]),
        )),
        None if o.ignore_error => Ok((None, nullable(line))),
        None => Err(format!(
            "No key separator found on line number {line_number}: '{}'",
            String::from_utf8_lossy(line)
        )),
    }
}

fn report(line_number: u64, topic: &str, e: &Error) {
    eprintln!(
        "console_producer: error sending the record of line {line_number} to topic {topic}: {e}"
    );
}

fn run(o: Options) -> ExitCode {
    let config = match build_config(&o) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("console_producer: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let producer: Producer<Vec<u8>, Vec<u8>> = match Producer::new(config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("console_producer: cannot start the producer: {e}");
            return ExitCode::from(1);
        }
    };
    let topic = o.topic.clone().unwrap_or_default();
    let failed = Arc::new(AtomicUsize::new(0));
    let mut records = 0u64;
    let mut line_number = 0u64;
    let mut input = std::io::stdin().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("console_producer: reading standard input failed: {e}");
                failed.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        line_number += 1;
        records += 1;
        let (key, value) = match split_line(&o, &line, line_number) {
            Ok(kv) => kv,
            Err(msg) => {
                eprintln!("console_producer: {msg}");
                failed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        let record = ProducerRecord::new(topic.as_str(), key, value);
        let sent = if o.sync {
            producer.send(record).and_then(|f| f.get()).map(|_| ())
        } else {
            let failed = failed.clone();
            let topic = topic.clone();
            producer
                .send_with_callback(record, move |result| {
                    if let Err(e) = result {
                        report(line_number, &topic, &e);
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .map(|_| ())
        };
        // An error here is the record's only answer (its callback is not called).
        if let Err(e) = sent {
            report(line_number, &topic, &e);
            failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    // Every record sent so far gets its answer (and its callback has run) before flush returns.
    producer.flush();
    producer.close(Duration::MAX);
    let _ = std::io::stdout().flush();
    let failed = failed.load(Ordering::Relaxed);
    if failed > 0 {
        eprintln!("console_producer: {failed} of {records} records failed");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Warnings from the producer (an unknown property, a setting without effect) on standard
/// error, as Java's tools log at WARN.
struct StderrWarnings;
impl log::Log for StderrWarnings {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Warn
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("[{}] {}", r.level(), r.args());
        }
    }
    fn flush(&self) {}
}

fn main() -> ExitCode {
    let _ = log::set_logger(&StderrWarnings);
    log::set_max_level(log::LevelFilter::Warn);
    match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(o)) => run(o),
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("console_producer: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

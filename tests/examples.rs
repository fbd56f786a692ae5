//! The user-facing programs, run as a user runs them: `examples/console_producer.rs` fed lines
//! on stdin, and `scripts/quickstart` end to end, both checked by Kafka's own console consumer.
//!
//! How the example binaries are found: cargo gives integration tests `CARGO_BIN_EXE_*` only
//! for `[[bin]]` targets, not for examples, and a binary lying in `target/debug/examples` may
//! be stale when only this test target was rebuilt. So the first test that needs them runs
//! `cargo build --examples --message-format=json` (the `cargo` that runs the tests, same
//! manifest, default features: what `scripts/quickstart` itself builds with) and takes the
//! paths from the `executable` fields cargo reports. When the examples are already up to date,
//! as after `cargo test --all-targets`, that costs well under a second.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// Paths of the example executables, by name, built once per test run.
fn examples() -> &'static BTreeMap<String, PathBuf> {
    static BUILT: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = Command::new(env!("CARGO"))
            .current_dir(support::repo_dir())
            .args([
                "build",
                "--quiet",
                "--examples",
                "--message-format=json-render-diagnostics",
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build --examples");
        assert!(out.status.success(), "cargo build --examples failed");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut found = BTreeMap::new();
        for line in text.lines() {
            if !line.contains("\"reason\":\"compiler-artifact\"") {
                continue;
            }
            let Some(exe) = json_string_field(line, "executable") else {
                continue;
            };
            let path = PathBuf::from(exe);
            if let Some(name) = path.file_stem().and_then(|s| s.to_str()) {
                found.insert(name.to_string(), path.clone());
            }
        }
        found
    })
}

/// The value of `"field":"..."` in one line of cargo's JSON output (paths need no unescaping
/// beyond `\\` and `\"`).
fn json_string_field(line: &str, field: &str) -> Option<String> {
    let key = format!("\"{field}\":\"");
    let start = line.find(&key)? + key.len();
    let mut out = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}

fn example(name: &str) -> PathBuf {
    examples()
        .get(name)
        .unwrap_or_else(|| panic!("cargo built no example named {name}: {:?}", examples()))
        .clone()
}

/// Runs the console_producer example with `args`, feeding `input` on stdin.
fn console_producer(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(example("console_producer"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start console_producer");
    // Write from another thread so a full pipe on either side cannot deadlock.
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        // The program may exit early on bad usage; a broken pipe is then expected.
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for console_producer");
    writer.join().unwrap();
    out
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn console_producer_sends_every_keyed_line_with_its_key() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("examples-console-keyed");
    support::create_topic(&bs, &topic, 3, 1, &[]);

    // Keys and values with spaces, non-ASCII text, an empty value, and tabs inside the value
    // (only the first separator splits).
    let mut expected = Vec::new();
    for i in 0..300 {
        let key = format!("key {i} ü");
        let value = match i % 3 {
            0 => format!("value {i}"),
            1 => format!("value\t{i}\twith tabs"),
            _ => String::new(),
        };
        expected.push((key, value));
    }
    let mut input = String::new();
    for (k, v) in &expected {
        input.push_str(&format!("{k}\t{v}\n"));
    }

    let out = console_producer(
        &[
            "--bootstrap-server",
            &bs,
            "--topic",
            &topic,
            "--property",
            "parse.key=true",
        ],
        input.as_bytes(),
    );
    assert!(
        out.status.success(),
        "console_producer failed ({}): {}",
        out.status,
        stderr_of(&out)
    );

    let consumed = support::consume(&bs, &topic, expected.len(), 30_000);
    assert_eq!(consumed.len(), expected.len(), "records read back");
    let mut got: Vec<(String, String)> = consumed
        .iter()
        .map(|c| (c.key.clone(), c.value.clone()))
        .collect();
    got.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(got, want);
    // Keyed records land where a Java client puts them.
    for c in &consumed {
        assert_eq!(
            c.partition,
            kafka_sync::partition_for_key(c.key.as_bytes(), 3),
            "partition of key {:?}",
            c.key
        );
    }
}

#[test]
fn console_producer_sync_fails_a_line_without_separator_and_sends_the_rest_in_order() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("examples-console-sync");
    support::create_topic(&bs, &topic, 1, 1, &[]);

    let input = "a|1\nb|2\nno separator here\nc|3|x\r\nd|\n";
    let out = console_producer(
        &[
            "--bootstrap-server",
            &bs,
            "--topic",
            &topic,
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=|",
            "--producer-property",
            "acks=1",
            "--sync",
        ],
        input.as_bytes(),
    );
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "exit status; stderr: {err}");
    assert!(
        err.contains("No key separator found on line number 3"),
        "stderr: {err}"
    );
    assert!(err.contains("1 of 5 records failed"), "stderr: {err}");

    let consumed = support::consume(&bs, &topic, 4, 30_000);
    let got: Vec<(i64, &str, &str)> = consumed
        .iter()
        .map(|c| (c.offset, c.key.as_str(), c.value.as_str()))
        .collect();
    assert_eq!(
        got,
        [(0, "a", "1"), (1, "b", "2"), (2, "c", "3|x"), (3, "d", "")]
    );
}

#[test]
fn console_producer_reports_records_that_fail_and_exits_non_zero() {
    let bs = support::bootstrap();
    // Never created, and the test brokers do not auto-create topics.
    let topic = support::unique_topic("examples-console-missing");
    let out = console_producer(
        &[
            "--bootstrap-server",
            &bs,
            "--topic",
            &topic,
            "--producer-property",
            "max.block.ms=2000",
        ],
        b"one\ntwo\n",
    );
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "exit status; stderr: {err}");
    assert!(err.contains("2 of 2 records failed"), "stderr: {err}");
    assert!(err.contains("max.block.ms"), "stderr: {err}");
}

#[test]
fn console_producer_skips_unknown_producer_properties_with_a_warning() {
    // As Java's tool: a producer.properties shared with other tools loads; unknown names are
    // logged as KafkaProducer logs them, and skipped.
    let bs = support::bootstrap();
    let topic = support::unique_topic("examples-console-unknown");
    support::create_topic(&bs, &topic, 1, 1, &[]);
    let file = std::env::temp_dir().join(format!("{topic}.properties"));
    std::fs::write(
        &file,
        "schema.registry.url=http://localhost:8081\nlinger.ms=1\n",
    )
    .unwrap();
    let out = console_producer(
        &[
            "--bootstrap-server",
            &bs,
            "--topic",
            &topic,
            "--producer.config",
            file.to_str().unwrap(),
            "--producer-property",
            "auto.register.schemas=false",
        ],
        b"one\ntwo\n",
    );
    let _ = std::fs::remove_file(&file);
    let err = stderr_of(&out);
    assert!(
        out.status.success(),
        "console_producer failed ({}): {err}",
        out.status
    );
    for name in ["schema.registry.url", "auto.register.schemas"] {
        let warning = format!("The configuration '{name}' was supplied but isn't a known config.");
        assert_eq!(err.matches(&warning).count(), 1, "stderr: {err}");
    }
    let consumed = support::consume(&bs, &topic, 2, 30_000);
    let mut values: Vec<&str> = consumed.iter().map(|c| c.value.as_str()).collect();
    values.sort();
    assert_eq!(values, ["one", "two"]);
}

#[test]
fn console_producer_rejects_bad_usage_with_exit_status_2() {
    for args in [
        &["--topic", "t"][..],
        &["--bootstrap-server", "127.0.0.1:9092"][..],
        &[
            "--bootstrap-server",
            "127.0.0.1:9092",
            "--topic",
            "t",
            "--frobnicate",
        ][..],
        &[
            "--bootstrap-server",
            "127.0.0.1:9092",
            "--topic",
            "t",
            "--producer-property",
            "linger.ms=soon",
        ][..],
        &[
            "--bootstrap-server",
            "127.0.0.1:9092",
            "--topic",
            "t",
            "--property",
            "parse.key=maybe",
        ][..],
    ] {
        let out = console_producer(args, b"");
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: stderr {err}");
        assert!(err.contains("usage: console_producer"), "{args:?}: {err}");
    }
}

#[test]
fn quickstart_script_sends_and_reads_back_its_records() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("examples-quickstart");
    // Build first, so the script's own `cargo run` finds the example up to date.
    example("quickstart");
    let out = Command::new(support::repo_dir().join("scripts/quickstart"))
        .arg(&topic)
        .env("KAFKA_BOOTSTRAP", &bs)
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/quickstart");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = stderr_of(&out);
    assert!(
        out.status.success(),
        "scripts/quickstart failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // What the example printed for each record, and what Kafka's consumer read back:
    // `Partition:P<TAB>Offset:O<TAB>key<TAB>value`.
    let read_back: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("Partition:"))
        .collect();
    assert_eq!(read_back.len(), 6, "records read back:\n{stdout}");
    for i in 0..6 {
        let value = if i < 3 {
            format!("sync {i}")
        } else {
            format!("callback {i}")
        };
        let key = format!("key-{i}");
        let line = read_back
            .iter()
            .find(|l| l.ends_with(&format!("\t{key}\t{value}")))
            .unwrap_or_else(|| panic!("{key} not read back:\n{stdout}"));
        // The partition the consumer saw is the one the example printed for that key.
        let partition = line
            .strip_prefix("Partition:")
            .and_then(|r| r.split('\t').next())
            .unwrap();
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("sent {key} "))
                    && l.contains(&format!("topic={topic} partition={partition} "))),
            "{key} reported in partition {partition}? \n{stdout}"
        );
    }
    assert!(
        stdout.contains(&format!("read back all 6 records of {topic}")),
        "{stdout}"
    );
}

#[test]
fn trace_header_adds_a_traceparent_to_every_record_and_counts_the_answers() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("examples-trace");
    support::create_topic(&bs, &topic, 2, 1, &[]);
    let out = Command::new(example("trace_header"))
        .args([&topic, "7"])
        .env("KAFKA_BOOTSTRAP", &bs)
        .stdin(Stdio::null())
        .output()
        .expect("run the trace_header example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", stderr_of(&out));
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("trace "))
        .unwrap_or_else(|| panic!("no summary from the interceptor's close:\n{stdout}"));
    assert!(summary.ends_with(": 7 written, 0 failed"), "{summary}");
    let trace_id = &summary["trace ".len()..summary.find(':').unwrap()];
    let read = support::consume(&bs, &topic, 7, 30_000);
    assert_eq!(read.len(), 7);
    let mut spans: Vec<String> = read
        .iter()
        .map(|c| {
            let value = c
                .headers
                .strip_prefix("traceparent:")
                .unwrap_or_else(|| panic!("no traceparent header: {c:?}"));
            let parts: Vec<&str> = value.split('-').collect();
            assert_eq!(parts.len(), 4, "{value}");
            assert_eq!((parts[0], parts[1], parts[3]), ("00", trace_id, "01"));
            parts[2].to_string()
        })
        .collect();
    spans.sort();
    spans.dedup();
    assert_eq!(spans.len(), 7, "one span per record");
}

/// `examples/perf --print-metrics` prints the metrics in Java's layout at the end, and its
/// record-send-total is the number of records sent.
#[test]
fn perf_prints_the_metrics_in_javas_layout() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("perf-metrics");
    support::create_topic(&bs, &topic, 3, 1, &[]);
    let out = Command::new(example("perf"))
        .args([
            "--topic",
            &topic,
            "--num-records",
            "2500",
            "--record-size",
            "100",
        ])
        .args([
            "--throughput",
            "-1",
            "--bootstrap-server",
            &bs,
            "--print-metrics",
        ])
        .args(["--metrics-interval-ms", "50"])
        .output()
        .expect("run perf");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("\nMetric Name "), "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .to_string()
    };
    let sent = line("producer-metrics:record-send-total:{client-id=perf-producer-client} ");
    assert!(sent.ends_with(" : 2500.000"), "{sent}");
    let topic_sent = line(&format!(
        "producer-topic-metrics:record-send-total:{{client-id=perf-producer-client, topic={topic}}} "
    ));
    assert!(topic_sent.ends_with(" : 2500.000"), "{topic_sent}");
    // Sorted, and the value column aligned.
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Metric Name"))
        .skip(1)
        .collect();
    let mut sorted = rows.clone();
    sorted.sort();
    assert_eq!(rows, sorted);
    let col = rows[0].find(" : ").unwrap();
    assert!(rows.iter().all(|r| r.find(" : ") == Some(col)));
}

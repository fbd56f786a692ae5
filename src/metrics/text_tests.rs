use super::super::{Metric, MetricKind, MetricName, Metrics};
use super::*;
use std::collections::{HashMap, HashSet};

fn metric(
    group: &'static str,
    name: &'static str,
    tags: &[(&'static str, &str)],
    value: f64,
) -> Metric {
    Metric {
        name: MetricName {
            group,
            name,
            tags: tags.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        },
        value,
        kind: if name.ends_with("-total") {
            MetricKind::Counter
        } else {
            MetricKind::Gauge
        },
        description: "What \"it\" means \\ here\nsecond line",
        unit: "records",
    }
}

fn sample() -> Metrics {
    let mut metrics = vec![
        metric(
            "producer-metrics",
            "record-send-total",
            &[("client-id", "perf")],
            100000.0,
        ),
        metric(
            "producer-metrics",
            "request-latency-avg",
            &[("client-id", "perf")],
            f64::NAN,
        ),
        metric(
            "producer-metrics",
            "batch-size-avg",
            &[("client-id", "perf")],
            16291.5555,
        ),
        metric(
            "producer-topic-metrics",
            "byte-total",
            &[("client-id", "perf"), ("topic", "t\"x\\y")],
            2.0e6,
        ),
        metric(
            "producer-node-metrics",
            "request-total",
            &[("client-id", "perf"), ("node-id", "node-1")],
            7.0,
        ),
    ];
    metrics.sort_by(|a, b| a.name.cmp(&b.name));
    Metrics { metrics }
}

#[test]
fn java_layout_is_tools_utils_print_metrics() {
    let text = sample().to_java_text();
    let want = "
Metric Name                                                            Value
producer-metrics:batch-size-avg:{client-id=perf}                     : 16291.556
producer-metrics:record-send-total:{client-id=perf}                  : 100000.000
producer-metrics:request-latency-avg:{client-id=perf}                : NaN
producer-node-metrics:request-total:{client-id=perf, node-id=node-1} : 7.000
producer-topic-metrics:byte-total:{client-id=perf, topic=t\"x\\y}      : 2000000.000
";
    assert_eq!(text, want);
}

#[test]
fn java_3f_rounds_half_up_from_the_shortest_decimal() {
    assert_eq!(java_3f(0.0), "0.000");
    assert_eq!(java_3f(1.0005), "1.001"); // binary 1.000499..., Java reads "1.0005"
    assert_eq!(java_3f(0.0625), "0.063");
    assert_eq!(java_3f(9.9996), "10.000");
    assert_eq!(java_3f(-2.5), "-2.500");
    assert_eq!(java_3f(-0.0001), "0.000");
    assert_eq!(java_3f(123456789.0), "123456789.000");
    assert_eq!(java_3f(1e-7), "0.000");
    assert_eq!(java_3f(f64::INFINITY), "Infinity");
    assert_eq!(java_3f(f64::NEG_INFINITY), "-Infinity");
}

/// A parser of the text exposition format 0.0.4, strict where the spec is: every line a
/// comment (`# HELP name text`, `# TYPE name kind`) or a sample `name{labels} value`;
/// names `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names `[a-zA-Z_][a-zA-Z0-9_]*`, label values
/// quoted with `\\`, `\"` and `\n` escapes; TYPE at most once per family and before its
/// samples; a family's samples together; no two samples with the same name and labels.
/// A sample: name, labels, value, and the TYPE of its family.
type Sample = (String, Vec<(String, String)>, f64, String);

fn parse(text: &str) -> Vec<Sample> {
    fn name_ok(s: &str, colon: bool) -> bool {
        let mut cs = s.chars();
        let first = cs
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'));
        first && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
    }
    let mut types: HashMap<String, String> = HashMap::new();
    let mut done_families: HashSet<String> = HashSet::new();
    let mut current = String::new();
    let mut series = HashSet::new();
    let mut out = Vec::new();
    assert!(text.ends_with('\n'), "the last line ends with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kw, name, arg) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap_or(""),
            );
            assert!(name_ok(name, true), "bad name {name:?}");
            match kw {
                "HELP" => {
                    let mut chars = arg.chars();
                    while let Some(c) = chars.next() {
                        assert_ne!(c, '\n');
                        if c == '\\' {
                            assert!(matches!(chars.next(), Some('\\' | 'n')), "bad HELP escape");
                        }
                    }
                }
                "TYPE" => {
                    assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&arg));
                    assert!(
                        types.insert(name.to_string(), arg.to_string()).is_none(),
                        "TYPE twice"
                    );
                    assert!(!done_families.contains(name), "TYPE after samples");
                }
                _ => {}
            }
            continue;
        }
        let (name, rest) = line.split_at(line.find(['{', ' ']).expect("a sample"));
        assert!(name_ok(name, true), "bad sample name {name:?}");
        if name != current {
            assert!(
                done_families.insert(name.to_string()),
                "family {name} split"
            );
            current = name.to_string();
        }
        let mut labels = Vec::new();
        let mut rest = rest;
        if let Some(r) = rest.strip_prefix('{') {
            let mut r = r;
            loop {
                if let Some(after) = r.strip_prefix('}') {
                    r = after;
                    break;
                }
                let eq = r.find('=').expect("label =");
                let lname = &r[..eq];
                assert!(name_ok(lname, false), "bad label name {lname:?}");
                let mut chars = r[eq + 1..].char_indices();
                assert_eq!(chars.next().map(|c| c.1), Some('"'));
                let mut value = String::new();
                let end = loop {
                    let (i, c) = chars.next().expect("unterminated label value");
                    match c {
                        '\\' => match chars.next().map(|c| c.1) {
                            Some('\\') => value.push('\\'),
                            Some('"') => value.push('"'),
                            Some('n') => value.push('\n'),
                            other => panic!("bad escape {other:?}"),
                        },
                        '"' => break eq + 1 + i + 1,
                        '\n' => panic!("raw newline in a label value"),
                        c => value.push(c),
                    }
                };
                labels.push((lname.to_string(), value));
                r = &r[end..];
                r = r.strip_prefix(',').unwrap_or(r);
            }
            rest = r;
        }
        let value = rest.strip_prefix(' ').expect("space before the value");
        let v: f64 = match value {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value {v:?}")),
        };
        assert!(
            series.insert((name.to_string(), labels.clone())),
            "duplicate series"
        );
        let kind = types.get(name).cloned().unwrap_or_else(|| "untyped".into());
        out.push((name.to_string(), labels, v, kind));
    }
    out
}

#[test]
fn prometheus_text_follows_the_exposition_format() {
    let text = sample().to_prometheus();
    let samples = parse(&text);
    assert_eq!(samples.len(), 5);
    let find = |n: &str| samples.iter().find(|s| s.0 == n).unwrap();
    let sent = find("kafka_producer_record_send_total");
    assert_eq!(sent.1, vec![("client_id".to_string(), "perf".to_string())]);
    assert_eq!((sent.2, sent.3.as_str()), (100000.0, "counter"));
    let latency = find("kafka_producer_request_latency_avg");
    assert!(latency.2.is_nan());
    assert_eq!(latency.3, "gauge");
    let topic = find("kafka_producer_topic_byte_total");
    assert_eq!(topic.1[1], ("topic".to_string(), "t\"x\\y".to_string()));
    assert_eq!(escape("a\nb\"c\\", true), "a\\nb\\\"c\\\\");
    assert_eq!(topic.2, 2.0e6);
    let node = find("kafka_producer_node_request_total");
    assert_eq!(node.1[1], ("node_id".to_string(), "node-1".to_string()));
    assert!(text.contains(
        "# HELP kafka_producer_record_send_total What \"it\" means \\\\ here\\nsecond line (records)\n"
    ));
}

#[test]
fn a_full_snapshot_has_every_table_row_and_parses() {
    use super::super::{SharedMetrics, WindowConfig};
    let t0 = std::time::Instant::now();
    let shared = SharedMetrics::new(WindowConfig::DEFAULT, t0);
    {
        let mut reg = shared.lock();
        let topic: std::sync::Arc<str> = "events".into();
        reg.failed(&topic, 3, t0);
        reg.retried(&topic, 2, t0);
        reg.latency(1, std::time::Duration::from_millis(4), t0);
    }
    shared.send_error();
    let m = shared.snapshot("app", super::super::CallerFigures::default(), t0);
    // Every producer-wide row once, each topic row for "events", each node row for node 1.
    assert_eq!(m.len(), super::super::table::METRICS.len());
    assert_eq!(m.get("count"), None); // another group
    assert_eq!(
        m.get_tagged("kafka-metrics-count", "count", &[]),
        Some(m.len() as f64)
    );
    assert_eq!(m.get("record-error-total"), Some(4.0));
    assert_eq!(m.topic("record-error-total", "events"), Some(3.0));
    assert_eq!(m.topic("record-retry-total", "events"), Some(2.0));
    assert_eq!(m.node("request-latency-max", 1), Some(4.0));
    assert_eq!(m.get("request-latency-avg"), Some(4.0));
    assert!(m.get("batch-size-avg").unwrap().is_nan());
    let parsed = parse(&m.to_prometheus());
    assert_eq!(parsed.len(), m.len());
    assert!(m
        .to_java_text()
        .contains("producer-topic-metrics:record-retry-total:{client-id=app, topic=events}"));
}

/// The README's Observability table is generated from the metric table. To update it:
/// `UPDATE_README=1 cargo test --lib readme_metrics_table`.
#[test]
fn readme_metrics_table_matches_the_code() {
    let want = super::super::readme_table();
    crate::readme_section::check("metrics", &want, "readme_metrics_table");
}

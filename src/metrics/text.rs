//! A snapshot as text: Java's `--print-metrics` layout and the Prometheus exposition format.

use super::{MetricKind, Metrics};
use std::fmt::Write as _;

/// `group:name:{k=v, k=v}`, as Java's `ToolsUtils.printMetrics` merges a `MetricName`.
fn java_name(m: &super::Metric) -> String {
    let tags: Vec<String> = m.name.tags().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{}:{}:{{{}}}",
        m.name.group(),
        m.name.name(),
        tags.join(", ")
    )
}

/// Java's `String.format("%.3f", x)`: the shortest decimal that reads back as `x`, rounded
/// half up to 3 places; `NaN`, `Infinity`, `-Infinity`.
pub(crate) fn java_3f(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let shortest = format!("{}", x.abs());
    let (int, frac) = shortest.split_once('.').unwrap_or((&shortest, ""));
    let mut digits: Vec<u8> = int
        .bytes()
        .chain(frac.bytes().chain(*b"000").take(3))
        .collect();
    if frac.len() > 3 && frac.as_bytes()[3] >= b'5' {
        // Half up: carry through the digits.
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, b'1');
                break;
            }
            i -= 1;
            if digits[i] == b'9' {
                digits[i] = b'0';
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let (int, frac) = digits.split_at(digits.len() - 3);
    let sign = if x.is_sign_negative() && digits.iter().any(|&d| d != b'0') {
        "-"
    } else {
        ""
    };
    format!(
        "{sign}{}.{}",
        String::from_utf8_lossy(int),
        String::from_utf8_lossy(frac)
    )
}

pub(super) fn java(metrics: &Metrics) -> String {
    let mut rows: Vec<(String, f64)> = metrics.iter().map(|m| (java_name(m), m.value)).collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let width = rows
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!("\n{:<width$}   {}\n", "Metric Name", "Value");
    for (name, value) in rows {
        let _ = writeln!(out, "{name:<width$} : {}", java_3f(value));
    }
    out
}

/// `kafka_producer_record_send_total`, `kafka_producer_node_request_total`, ...
pub(crate) fn prometheus_name(group: &str, name: &str) -> String {
    let prefix = match group {
        "producer-metrics" => "kafka_producer",
        "producer-node-metrics" => "kafka_producer_node",
        "producer-topic-metrics" => "kafka_producer_topic",
        other => return format!("{other}_{name}").replace('-', "_"),
    };
    format!("{prefix}_{}", name.replace('-', "_"))
}

fn escape(s: &str, quote: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

fn prometheus_value(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{x}")
    }
}

pub(super) fn prometheus(metrics: &Metrics) -> String {
    let mut out = String::new();
    let mut family = String::new();
    // Sorted by group and name, so each family's samples are together.
    for m in metrics.iter() {
        let name = prometheus_name(m.name.group(), m.name.name());
        if name != family {
            let kind = match m.kind {
                MetricKind::Counter => "counter",
                MetricKind::Gauge => "gauge",
            };
            let help = escape(&format!("{} ({})", m.description, m.unit), false);
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            family.clone_from(&name);
        }
        let labels: Vec<String> = m
            .name
            .tags()
            .map(|(k, v)| format!("{}=\"{}\"", k.replace('-', "_"), escape(v, true)))
            .collect();
        let _ = writeln!(
            out,
            "{name}{{{}}} {}",
            labels.join(","),
            prometheus_value(m.value)
        );
    }
    out
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;

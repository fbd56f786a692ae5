//! The one table of every metric: its Java name and group, whether it is a counter or a
//! gauge, its unit, what it means, and where its value is read. It drives the snapshot
//! ([`super::Metrics`]), both text forms and the README's Observability table.

use super::registry::{NodeStats, ProducerStats, TopicStats};
use super::stats::WindowConfig;

/// Java's metric groups (and the tag each adds to `client-id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// `producer-metrics`
    Producer,
    /// `producer-node-metrics`, tag `node-id` (`node-1`; `node--1` for a bootstrap address)
    Node,
    /// `producer-topic-metrics`, tag `topic`
    Topic,
    /// `kafka-metrics-count`
    Count,
}

impl Scope {
    pub fn group(self) -> &'static str {
        match self {
            Scope::Producer => "producer-metrics",
            Scope::Node => "producer-node-metrics",
            Scope::Topic => "producer-topic-metrics",
            Scope::Count => "kafka-metrics-count",
        }
    }
}

/// Counter (only grows) or gauge (goes up and down: rates, averages, levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A total since the producer started.
    Counter,
    /// A current value: a level, or a rate, average or maximum over the sample window.
    Gauge,
}

/// The time a snapshot is taken at, with the window settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub cfg: WindowConfig,
    /// Milliseconds since the registry's origin.
    pub now: u64,
}

/// Figures read at snapshot time on the caller's side (the buffer pool, the config).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CallerFigures {
    pub buffer_total: usize,
    pub buffer_available: usize,
    pub waiting_threads: usize,
    pub bufferpool_wait_ns: u64,
    /// Errors `send` returned that the sender has not recorded yet.
    pub unseen_send_errors: u64,
}

/// What a producer-wide metric is read from.
pub(crate) struct ProducerView<'a> {
    pub p: &'a ProducerStats,
    pub caller: CallerFigures,
    pub clk: Clock,
}

type ProducerRead = fn(&ProducerView<'_>) -> f64;

/// Where a metric's value comes from (its scope follows).
pub(crate) enum Read {
    Producer(ProducerRead),
    Node(fn(&NodeStats, &Clock) -> f64),
    Topic(fn(&TopicStats, &Clock) -> f64),
    /// The number of metrics in the snapshot.
    Count,
}

/// One row of the table.
pub(crate) struct MetricDef {
    pub name: &'static str,
    pub kind: MetricKind,
    pub unit: &'static str,
    pub description: &'static str,
    pub read: Read,
}

impl MetricDef {
    pub fn scope(&self) -> Scope {
        match self.read {
            Read::Producer(_) => Scope::Producer,
            Read::Node(_) => Scope::Node,
            Read::Topic(_) => Scope::Topic,
            Read::Count => Scope::Count,
        }
    }
}

use MetricKind::{Counter as C, Gauge as G};

const fn m(
    name: &'static str,
    kind: MetricKind,
    unit: &'static str,
    description: &'static str,
    read: Read,
) -> MetricDef {
    MetricDef {
        name,
        kind,
        unit,
        description,
        read,
    }
}

const fn p(f: ProducerRead) -> Read {
    Read::Producer(f)
}
const fn n(f: fn(&NodeStats, &Clock) -> f64) -> Read {
    Read::Node(f)
}
const fn t(f: fn(&TopicStats, &Clock) -> f64) -> Read {
    Read::Topic(f)
}

/// Every metric, in Java's names. Rates are per second over the window
/// (`metrics.num.samples` x `metrics.sample.window.ms`); `-avg` and `-max` too; `-total`s
/// count from the start. An average or maximum with nothing in the window is NaN, as in Java.
#[rustfmt::skip]
pub(crate) static METRICS: &[MetricDef] = &[
    // Producer-wide: what the sender sent, per request drained (Sender.updateProduceRequestMetrics).
    m("record-send-rate", G, "records/s", "Records sent per second (a record sent again after a retry counts again).", p(|v| v.p.records_per_request.rate(&v.clk.cfg, v.clk.now))),
    m("record-send-total", C, "records", "Records sent (a record sent again after a retry counts again).", p(|v| v.p.records_per_request.total())),
    m("records-per-request-avg", G, "records", "Average records per Produce request.", p(|v| v.p.records_per_request.avg(&v.clk.cfg, v.clk.now))),
    m("byte-rate", G, "bytes/s", "Bytes of record batches sent per second, all topics (Java has it per topic only).", p(|v| v.p.bytes.rate(&v.clk.cfg, v.clk.now))),
    m("byte-total", C, "bytes", "Bytes of record batches sent, all topics (the sum of the per-topic byte-total).", p(|v| v.p.bytes.total())),
    m("batch-size-avg", G, "bytes", "Average size of a batch sent (one partition's part of a request).", p(|v| v.p.batch_size.avg(&v.clk.cfg, v.clk.now))),
    m("batch-size-max", G, "bytes", "Largest batch sent.", p(|v| v.p.batch_size.max(&v.clk.cfg, v.clk.now))),
    m("compression-rate-avg", G, "ratio", "Average compressed / uncompressed size of the batches sent (1 without compression).", p(|v| v.p.compression.avg(&v.clk.cfg, v.clk.now))),
    m("record-queue-time-avg", G, "ms", "Average time a batch waited in the accumulator, from its creation to its drain.", p(|v| v.p.queue_time.avg(&v.clk.cfg, v.clk.now))),
    m("record-queue-time-max", G, "ms", "Longest time a batch waited in the accumulator.", p(|v| v.p.queue_time.max(&v.clk.cfg, v.clk.now))),
    m("record-size-avg", G, "bytes", "Average over the batches sent of each batch's largest record (as Java computes it).", p(|v| v.p.record_size.avg(&v.clk.cfg, v.clk.now))),
    m("record-size-max", G, "bytes", "Largest record sent (its encoded size in the batch).", p(|v| v.p.record_size.max(&v.clk.cfg, v.clk.now))),
    // Answers.
    m("record-retry-rate", G, "records/s", "Records sent back for a retry per second.", p(|v| v.p.retries.rate(&v.clk.cfg, v.clk.now))),
    m("record-retry-total", C, "records", "Records sent back for a retry.", p(|v| v.p.retries.total())),
    m("record-error-rate", G, "records/s", "Records answered with an error per second (send errors included).", p(|v| v.p.errors.rate(&v.clk.cfg, v.clk.now))),
    m("record-error-total", C, "records", "Records answered with an error by the sender, plus records send refused at once (as Java's doSend counts them).", p(|v| v.p.errors.total() + v.caller.unseen_send_errors as f64)),
    m("request-latency-avg", G, "ms", "Average time from queueing a Produce request to its answer.", p(|v| v.p.latency.avg(&v.clk.cfg, v.clk.now))),
    m("request-latency-max", G, "ms", "Longest Produce request latency.", p(|v| v.p.latency.max(&v.clk.cfg, v.clk.now))),
    m("requests-in-flight", G, "requests", "Requests sent and not answered yet.", p(|v| v.p.in_flight as f64)),
    // The network (Java's Selector metrics).
    m("request-rate", G, "requests/s", "Requests written per second, all kinds, all brokers.", p(|v| v.p.requests.rate(&v.clk.cfg, v.clk.now))),
    m("request-total", C, "requests", "Requests written, all kinds (setup and metadata too), all brokers.", p(|v| v.p.requests.total())),
    m("outgoing-byte-rate", G, "bytes/s", "Bytes written to all brokers per second.", p(|v| v.p.outgoing.rate(&v.clk.cfg, v.clk.now))),
    m("outgoing-byte-total", C, "bytes", "Bytes written to all brokers.", p(|v| v.p.outgoing.total())),
    m("incoming-byte-rate", G, "bytes/s", "Bytes read from all brokers per second.", p(|v| v.p.incoming.rate(&v.clk.cfg, v.clk.now))),
    m("incoming-byte-total", C, "bytes", "Bytes read from all brokers.", p(|v| v.p.incoming.total())),
    m("connection-count", G, "connections", "Open connections.", p(|v| v.p.connections as f64)),
    m("connection-creation-rate", G, "connections/s", "Connections established per second.", p(|v| v.p.connections_created.rate(&v.clk.cfg, v.clk.now))),
    m("connection-creation-total", C, "connections", "Connections established.", p(|v| v.p.connections_created.total())),
    m("connection-close-rate", G, "connections/s", "Connections closed per second.", p(|v| v.p.connections_closed.rate(&v.clk.cfg, v.clk.now))),
    m("connection-close-total", C, "connections", "Connections closed.", p(|v| v.p.connections_closed.total())),
    m("successful-reauthentication-rate", G, "re-authentications/s", "Sessions renewed on their connection per second (KIP-368, when the broker sets connections.max.reauth.ms).", p(|v| v.p.reauth_succeeded.rate(&v.clk.cfg, v.clk.now))),
    m("successful-reauthentication-total", C, "re-authentications", "Sessions renewed on their connection (KIP-368).", p(|v| v.p.reauth_succeeded.total())),
    m("failed-reauthentication-rate", G, "re-authentications/s", "Re-authentications that failed per second (refused, or their connection lost or timed out during them; Java counts refusals only).", p(|v| v.p.reauth_failed.rate(&v.clk.cfg, v.clk.now))),
    m("failed-reauthentication-total", C, "re-authentications", "Re-authentications that failed (refused, or their connection lost or timed out during them; the connection is closed).", p(|v| v.p.reauth_failed.total())),
    m("reauthentication-latency-avg", G, "ms", "Average time a re-authentication took, from its SaslHandshake queued to its last answer.", p(|v| v.p.reauth_latency.avg(&v.clk.cfg, v.clk.now))),
    m("reauthentication-latency-max", G, "ms", "Longest re-authentication.", p(|v| v.p.reauth_latency.max(&v.clk.cfg, v.clk.now))),
    m("io-wait-time-ns-total", C, "ns", "Time the sender thread spent waiting for socket readiness (or a wake-up).", p(|v| v.p.io_wait_ns as f64)),
    m("metadata-age", G, "s", "Age of the metadata in use (since the producer started, before the first answer).", p(|v| v.clk.now.saturating_sub(v.p.metadata_updated) as f64 / 1000.0)),
    // Memory (BufferPool, RecordAccumulator).
    m("buffer-total-bytes", G, "bytes", "buffer.memory: the most memory batches may use.", p(|v| v.caller.buffer_total as f64)),
    m("buffer-available-bytes", G, "bytes", "Memory not used by batches (unallocated or pooled).", p(|v| v.caller.buffer_available as f64)),
    m("waiting-threads", G, "threads", "Caller threads blocked in send waiting for buffer memory.", p(|v| v.caller.waiting_threads as f64)),
    m("bufferpool-wait-time-total", C, "ns", "Time caller threads waited for buffer memory (nanoseconds, as Java's deprecated name).", p(|v| v.caller.bufferpool_wait_ns as f64)),
    m("bufferpool-wait-time-ns-total", C, "ns", "Time caller threads waited for buffer memory.", p(|v| v.caller.bufferpool_wait_ns as f64)),
    // Per broker (producer-node-metrics).
    m("request-rate", G, "requests/s", "Requests written to this broker per second.", n(|s, c| s.requests.rate(&c.cfg, c.now))),
    m("request-total", C, "requests", "Requests written to this broker, all kinds.", n(|s, _| s.requests.total())),
    m("request-latency-avg", G, "ms", "Average Produce request latency with this broker.", n(|s, c| s.latency.avg(&c.cfg, c.now))),
    m("request-latency-max", G, "ms", "Longest Produce request latency with this broker.", n(|s, c| s.latency.max(&c.cfg, c.now))),
    m("outgoing-byte-rate", G, "bytes/s", "Bytes written to this broker per second.", n(|s, c| s.outgoing.rate(&c.cfg, c.now))),
    m("outgoing-byte-total", C, "bytes", "Bytes written to this broker.", n(|s, _| s.outgoing.total())),
    m("incoming-byte-rate", G, "bytes/s", "Bytes read from this broker per second.", n(|s, c| s.incoming.rate(&c.cfg, c.now))),
    m("incoming-byte-total", C, "bytes", "Bytes read from this broker.", n(|s, _| s.incoming.total())),
    // Per topic (producer-topic-metrics).
    m("record-send-rate", G, "records/s", "Records of this topic sent per second.", t(|s, c| s.records.rate(&c.cfg, c.now))),
    m("record-send-total", C, "records", "Records of this topic sent (retries count again).", t(|s, _| s.records.total())),
    m("byte-rate", G, "bytes/s", "Bytes of this topic's batches sent per second.", t(|s, c| s.bytes.rate(&c.cfg, c.now))),
    m("byte-total", C, "bytes", "Bytes of this topic's batches sent.", t(|s, _| s.bytes.total())),
    m("compression-rate", G, "ratio", "Average compressed / uncompressed size of this topic's batches.", t(|s, c| s.compression.avg(&c.cfg, c.now))),
    m("record-retry-rate", G, "records/s", "Records of this topic sent back for a retry per second.", t(|s, c| s.retries.rate(&c.cfg, c.now))),
    m("record-retry-total", C, "records", "Records of this topic sent back for a retry.", t(|s, _| s.retries.total())),
    m("record-error-rate", G, "records/s", "Records of this topic answered with an error per second.", t(|s, c| s.errors.rate(&c.cfg, c.now))),
    m("record-error-total", C, "records", "Records of this topic answered with an error by the sender.", t(|s, _| s.errors.total())),
    m("count", G, "metrics", "The number of metrics in the snapshot.", Read::Count),
];

/// The README's Observability table (Markdown), generated from [`METRICS`].
#[cfg(test)]
pub(crate) fn markdown_table() -> String {
    use std::fmt::Write as _;
    let mut out =
        String::from("| Group | Metric | Kind | Unit | Meaning |\n|---|---|---|---|---|\n");
    for d in METRICS {
        let kind = match d.kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
        };
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {kind} | {} | {} |",
            d.scope().group(),
            d.name,
            d.unit,
            d.description
        );
    }
    out
}

//! The producer's metrics, with the Java producer's names and meanings, so dashboards and
//! alerts carry over: counters updated where the work happens (the sender's drains and
//! answers, the pool's sockets, the buffer pool's waits), windowed as Java's `Rate`, `Avg` and
//! `Max` ([`stats`]), one table of every metric ([`table`]), a snapshot ([`Metrics`]) and its
//! text forms ([`text`]: Java's `--print-metrics` layout and the Prometheus exposition format).
//!
//! Cost: nothing on the caller's send path but an atomic increment when `send` returns an
//! error, and a per-batch maximum of the record sizes; the sender thread records into a
//! registry behind a mutex only it and a snapshot take.

mod registry;
mod stats;
mod table;
mod text;

pub(crate) use registry::SharedMetrics;
pub(crate) use stats::WindowConfig;
pub(crate) use table::CallerFigures;
pub use table::MetricKind;

use table::{Clock, ProducerView, Read, Scope, METRICS};

/// A metric's identity, as Java's `MetricName`: group, name and tags (`client-id` first, then
/// `node-id` or `topic` for per-broker and per-topic metrics).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricName {
    group: &'static str,
    name: &'static str,
    tags: Vec<(&'static str, String)>,
}

impl MetricName {
    /// The group: `producer-metrics`, `producer-node-metrics`, `producer-topic-metrics` or
    /// `kafka-metrics-count`.
    pub fn group(&self) -> &str {
        self.group
    }
    /// The name, e.g. `record-send-total`.
    pub fn name(&self) -> &str {
        self.name
    }
    /// The tags in order, e.g. `[("client-id", "app"), ("topic", "events")]`.
    pub fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tags.iter().map(|(k, v)| (*k, v.as_str()))
    }
    /// One tag's value.
    ///
    /// ```
    /// # use kafka_sync::{Producer, ProducerConfig};
    /// # // No broker needed: a snapshot exists from the start (nothing listens on port 1).
    /// # let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:1").client_id("app").build()?;
    /// # let producer: Producer<String, String> = Producer::new(config)?;
    /// let m = producer.metrics();
    /// let sent = m.iter().find(|x| x.name.name() == "record-send-total").unwrap();
    /// assert_eq!(sent.name.group(), "producer-metrics");
    /// assert_eq!(sent.name.tag("client-id"), Some("app"));
    /// assert_eq!(sent.name.tags().count(), 1);
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

/// One metric of a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Its identity.
    pub name: MetricName,
    /// Its value (NaN for an average or maximum with nothing in the window, as Java).
    pub value: f64,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// What it means.
    pub description: &'static str,
    /// Its unit (`records`, `bytes/s`, `ms`, ...).
    pub unit: &'static str,
}

/// A snapshot of the producer's metrics ([`Producer::metrics`](crate::Producer::metrics)):
/// every metric of the README's Observability table, producer-wide, per broker and per
/// topic, sorted by group, name and tags.
///
/// ```no_run
/// use kafka_sync::{Producer, ProducerConfig};
///
/// let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:9092").build()?;
/// let producer: Producer<String, String> = Producer::new(config)?;
/// let m = producer.metrics();
/// println!("sent {:?} records", m.get("record-send-total"));
/// println!("errors on topic events: {:?}", m.topic("record-error-total", "events"));
/// for metric in m.iter() {
///     println!("{}:{} = {}", metric.name.group(), metric.name.name(), metric.value);
/// }
/// // Served as is on a service's own /metrics endpoint:
/// let _text: String = m.to_prometheus();
/// # Ok::<(), kafka_sync::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    metrics: Vec<Metric>,
}

impl Metrics {
    /// Every metric, sorted by group, name and tags.
    ///
    /// ```
    /// # use kafka_sync::{Producer, ProducerConfig};
    /// # // No broker needed: a snapshot exists from the start (nothing listens on port 1).
    /// # let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:1").client_id("app").build()?;
    /// # let producer: Producer<String, String> = Producer::new(config)?;
    /// let m = producer.metrics();
    /// assert!(m.iter().any(|x| x.name.name() == "buffer-available-bytes"));
    /// assert_eq!(m.iter().count(), m.len());
    /// assert!(!m.is_empty());
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &Metric> {
        self.metrics.iter()
    }

    /// How many metrics the snapshot holds.
    pub fn len(&self) -> usize {
        self.metrics.len()
    }

    /// Whether it holds none (never: the producer-wide ones are always there).
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    /// A producer-wide metric (group `producer-metrics`) by name.
    ///
    /// ```
    /// # use kafka_sync::{Producer, ProducerConfig};
    /// # // No broker needed: a snapshot exists from the start (nothing listens on port 1).
    /// # let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:1").client_id("app").build()?;
    /// # let producer: Producer<String, String> = Producer::new(config)?;
    /// let m = producer.metrics();
    /// assert_eq!(m.get("record-send-total"), Some(0.0));
    /// assert_eq!(m.get("buffer-total-bytes"), Some(33_554_432.0)); // buffer.memory
    /// assert_eq!(m.get("no-such-metric"), None);
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn get(&self, name: &str) -> Option<f64> {
        self.find(Scope::Producer.group(), name, None)
    }

    /// A per-topic metric (group `producer-topic-metrics`), e.g. `("byte-total", "events")`.
    ///
    /// ```
    /// # use kafka_sync::{Producer, ProducerConfig};
    /// # // No broker needed: a snapshot exists from the start (nothing listens on port 1).
    /// # let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:1").client_id("app").build()?;
    /// # let producer: Producer<String, String> = Producer::new(config)?;
    /// let m = producer.metrics();
    /// // A topic appears once the producer has sent to it.
    /// assert_eq!(m.topic("byte-total", "events"), None);
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn topic(&self, name: &str, topic: &str) -> Option<f64> {
        self.find(Scope::Topic.group(), name, Some(("topic", topic)))
    }

    /// A per-broker metric (group `producer-node-metrics`) by broker id (`-1`, `-2`, ... for
    /// the bootstrap addresses), e.g. `("request-total", 1)`.
    ///
    /// ```
    /// # use kafka_sync::{Producer, ProducerConfig};
    /// # // No broker needed: a snapshot exists from the start (nothing listens on port 1).
    /// # let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:1").client_id("app").build()?;
    /// # let producer: Producer<String, String> = Producer::new(config)?;
    /// let m = producer.metrics();
    /// // A broker appears once the producer has talked to it.
    /// assert_eq!(m.node("request-total", 1), None);
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn node(&self, name: &str, node_id: i32) -> Option<f64> {
        let tag = format!("node-{node_id}");
        self.find(Scope::Node.group(), name, Some(("node-id", &tag)))
    }

    /// The metric of this group and name whose tags include all of `tags`.
    ///
    /// ```
    /// # use kafka_sync::{Producer, ProducerConfig};
    /// # // No broker needed: a snapshot exists from the start (nothing listens on port 1).
    /// # let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:1").client_id("app").build()?;
    /// # let producer: Producer<String, String> = Producer::new(config)?;
    /// let m = producer.metrics();
    /// let count = m.get_tagged("kafka-metrics-count", "count", &[("client-id", "app")]);
    /// assert_eq!(count, Some(m.len() as f64));
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn get_tagged(&self, group: &str, name: &str, tags: &[(&str, &str)]) -> Option<f64> {
        self.metrics
            .iter()
            .find(|m| {
                m.name.group == group
                    && m.name.name == name
                    && tags.iter().all(|(k, v)| m.name.tag(k) == Some(v))
            })
            .map(|m| m.value)
    }

    /// The value of `name` summed over every topic (or every broker, with the node group).
    ///
    /// ```
    /// # use kafka_sync::{Producer, ProducerConfig};
    /// # // No broker needed: a snapshot exists from the start (nothing listens on port 1).
    /// # let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:1").client_id("app").build()?;
    /// # let producer: Producer<String, String> = Producer::new(config)?;
    /// let m = producer.metrics();
    /// // Per-topic figures add up to the producer-wide ones.
    /// let per_topic = m.sum("producer-topic-metrics", "record-send-total");
    /// assert_eq!(Some(per_topic), m.get("record-send-total"));
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn sum(&self, group: &str, name: &str) -> f64 {
        self.metrics
            .iter()
            .filter(|m| m.name.group == group && m.name.name == name)
            .map(|m| m.value)
            .sum()
    }

    fn find(&self, group: &str, name: &str, tag: Option<(&str, &str)>) -> Option<f64> {
        let tags: Vec<(&str, &str)> = tag.into_iter().collect();
        self.get_tagged(group, name, &tags)
    }

    /// Java's `--print-metrics` layout (`ToolsUtils.printMetrics`): a blank line, a header,
    /// then one `group:name:{tags} : value` line per metric, sorted, the name column padded.
    ///
    /// ```
    /// # use kafka_sync::{Producer, ProducerConfig};
    /// # // No broker needed: a snapshot exists from the start (nothing listens on port 1).
    /// # let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:1").client_id("app").build()?;
    /// # let producer: Producer<String, String> = Producer::new(config)?;
    /// let m = producer.metrics();
    /// let text = m.to_java_text();
    /// assert!(text.contains("producer-metrics:record-send-total:{client-id=app}"));
    /// assert!(text.lines().any(|l| l.ends_with(" : 0.000")));
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn to_java_text(&self) -> String {
        text::java(self)
    }

    /// The Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE` lines per
    /// family, names `kafka_producer_<name>` (`kafka_producer_node_<name>`,
    /// `kafka_producer_topic_<name>` for the per-broker and per-topic groups) with `-` as `_`,
    /// tags as labels (`client_id`, `node_id`, `topic`). Serve it with the content type
    /// `text/plain; version=0.0.4`.
    ///
    /// ```
    /// # use kafka_sync::{Producer, ProducerConfig};
    /// # // No broker needed: a snapshot exists from the start (nothing listens on port 1).
    /// # let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:1").client_id("app").build()?;
    /// # let producer: Producer<String, String> = Producer::new(config)?;
    /// let m = producer.metrics();
    /// let text = m.to_prometheus();
    /// assert!(text.contains("# TYPE kafka_producer_record_send_total counter\n"));
    /// assert!(text.contains("kafka_producer_record_send_total{client_id=\"app\"} 0\n"));
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn to_prometheus(&self) -> String {
        text::prometheus(self)
    }
}

impl SharedMetrics {
    /// A snapshot at `now`, tagged with `client_id`.
    pub fn snapshot(
        &self,
        client_id: &str,
        caller: CallerFigures,
        now: std::time::Instant,
    ) -> Metrics {
        let reg = self.lock();
        let clk = Clock {
            cfg: reg.cfg,
            now: reg.ms(now),
        };
        let caller = CallerFigures {
            unseen_send_errors: reg.unseen_send_errors(self.send_errors()),
            ..caller
        };
        let view = ProducerView {
            p: &reg.producer,
            caller,
            clk,
        };
        let name = |group, name, extra: Option<(&'static str, String)>| {
            let mut tags = vec![("client-id", client_id.to_string())];
            tags.extend(extra);
            MetricName { group, name, tags }
        };
        let mut out = Vec::new();
        for d in METRICS {
            let group = d.scope().group();
            let mut push = |name: MetricName, value: f64| {
                out.push(Metric {
                    name,
                    value,
                    kind: d.kind,
                    description: d.description,
                    unit: d.unit,
                })
            };
            match &d.read {
                Read::Producer(f) => push(name(group, d.name, None), f(&view)),
                Read::Node(f) => {
                    for (id, s) in &reg.nodes {
                        push(
                            name(group, d.name, Some(("node-id", format!("node-{id}")))),
                            f(s, &clk),
                        );
                    }
                }
                Read::Topic(f) => {
                    for (topic, s) in &reg.topics {
                        push(
                            name(group, d.name, Some(("topic", topic.to_string()))),
                            f(s, &clk),
                        );
                    }
                }
                Read::Count => push(name(group, d.name, None), 0.0),
            }
        }
        let count = out.len() as f64;
        for m in out
            .iter_mut()
            .filter(|m| m.name.group == Scope::Count.group())
        {
            m.value = count;
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Metrics { metrics: out }
    }
}

/// The README's Observability table, generated from the metric table.
#[cfg(test)]
pub(crate) fn readme_table() -> String {
    table::markdown_table()
}

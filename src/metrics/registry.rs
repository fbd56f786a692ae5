//! The recorded figures: owned by the sender thread's turns (behind the mutex of
//! [`SharedMetrics`], which only the sender and a snapshot take), plus the few the caller's
//! threads count with atomics (errors returned by `send`) or that are read at snapshot time
//! from the buffer pool.
//!
//! Where Java records each figure (and so where this client does):
//! - a drain, per request (`Sender.updateProduceRequestMetrics`): records and bytes sent (per
//!   topic too), batch size, compression ratio, queue time, largest record, records per
//!   request; a batch sent again after a retry counts again, as in Java;
//! - a Produce answer (`Sender.recordLatency`): request latency, producer-wide and per broker;
//! - a batch sent back for a retry (`recordRetries`) or answered with an error (`failBatch`:
//!   `recordErrors`), per topic too; an error `send` returns counts producer-wide only, as
//!   Java's `KafkaProducer.doSend` records it in the same `errors` sensor;
//! - the network (Java's `Selector`): requests written, bytes out and in per broker, connects,
//!   closes, time waiting for readiness, taken once per turn from the pool's counters;
//! - re-authentications (Java's `Selector` too): successes, failures, and each one's latency,
//!   taken with the network counters.

use super::stats::{WindowConfig, Windowed};
use crate::accumulator::ProducerBatch;
use crate::net::NetStats;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Producer-wide figures.
#[derive(Debug, Default)]
pub(crate) struct ProducerStats {
    pub records_per_request: Windowed,
    pub bytes: Windowed,
    pub batch_size: Windowed,
    pub compression: Windowed,
    pub queue_time: Windowed,
    pub record_size: Windowed,
    pub latency: Windowed,
    pub retries: Windowed,
    pub errors: Windowed,
    pub requests: Windowed,
    pub outgoing: Windowed,
    pub incoming: Windowed,
    pub connections_created: Windowed,
    pub connections_closed: Windowed,
    pub reauth_succeeded: Windowed,
    pub reauth_failed: Windowed,
    pub reauth_latency: Windowed,
    pub io_wait_ns: u64,
    pub in_flight: usize,
    pub connections: usize,
    /// When metadata was last updated (ms since the registry's origin; its creation if never).
    pub metadata_updated: u64,
}

/// Per-topic figures.
#[derive(Debug, Default)]
pub(crate) struct TopicStats {
    pub records: Windowed,
    pub bytes: Windowed,
    pub compression: Windowed,
    pub retries: Windowed,
    pub errors: Windowed,
}

/// Per-broker figures (node id: negative for a bootstrap address, as Java's `node--1`).
#[derive(Debug, Default)]
pub(crate) struct NodeStats {
    pub requests: Windowed,
    pub latency: Windowed,
    pub outgoing: Windowed,
    pub incoming: Windowed,
}

/// Everything recorded, and the window settings.
#[derive(Debug)]
pub(crate) struct Registry {
    pub cfg: WindowConfig,
    epoch: Instant,
    pub producer: ProducerStats,
    pub topics: BTreeMap<Arc<str>, TopicStats>,
    pub nodes: BTreeMap<i32, NodeStats>,
    /// The pool's counters at the last turn (their growth is recorded).
    last_net: NetStats,
    /// `send` errors already recorded.
    send_errors_seen: u64,
}

impl Registry {
    pub fn new(cfg: WindowConfig, epoch: Instant) -> Self {
        Registry {
            cfg,
            epoch,
            producer: ProducerStats::default(),
            topics: BTreeMap::new(),
            nodes: BTreeMap::new(),
            last_net: NetStats::default(),
            send_errors_seen: 0,
        }
    }

    /// Milliseconds since the registry's origin.
    pub fn ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    fn topic(&mut self, topic: &Arc<str>) -> &mut TopicStats {
        if !self.topics.contains_key(topic) {
            self.topics.insert(topic.clone(), TopicStats::default());
        }
        self.topics.get_mut(topic).expect("inserted")
    }

    /// Batches drained into one request per node.
    pub fn drained(&mut self, requests: &HashMap<i32, Vec<ProducerBatch>>, now: Instant) {
        let (t, cfg) = (self.ms(now), self.cfg);
        for batches in requests.values() {
            let mut records = 0.0;
            for b in batches {
                let (count, size) = (f64::from(b.record_count()), b.size_in_bytes() as f64);
                let ratio = f64::from(b.compression_ratio());
                let queued = b
                    .drained_at()
                    .map_or(Duration::ZERO, |d| d.saturating_duration_since(b.created()));
                let topic = self.topic(&b.topic_partition().topic);
                topic.records.record(&cfg, count, t);
                topic.bytes.record(&cfg, size, t);
                topic.compression.record(&cfg, ratio, t);
                let p = &mut self.producer;
                p.bytes.record(&cfg, size, t);
                p.batch_size.record(&cfg, size, t);
                p.compression.record(&cfg, ratio, t);
                p.queue_time.record(&cfg, queued.as_millis() as f64, t);
                p.record_size.record(&cfg, b.max_record_size() as f64, t);
                records += count;
            }
            self.producer.records_per_request.record(&cfg, records, t);
        }
    }

    /// A Produce answer from `node`, `latency` after its request was queued.
    pub fn latency(&mut self, node: i32, latency: Duration, now: Instant) {
        let (t, cfg) = (self.ms(now), self.cfg);
        let ms = latency.as_millis() as f64;
        self.producer.latency.record(&cfg, ms, t);
        self.nodes
            .entry(node)
            .or_default()
            .latency
            .record(&cfg, ms, t);
    }

    /// A batch of `records` for `topic` sent back for a retry.
    pub fn retried(&mut self, topic: &Arc<str>, records: i32, now: Instant) {
        let (t, cfg, n) = (self.ms(now), self.cfg, f64::from(records));
        self.producer.retries.record(&cfg, n, t);
        self.topic(topic).retries.record(&cfg, n, t);
    }

    /// A batch of `records` for `topic` answered with an error.
    pub fn failed(&mut self, topic: &Arc<str>, records: i32, now: Instant) {
        let (t, cfg, n) = (self.ms(now), self.cfg, f64::from(records));
        self.producer.errors.record(&cfg, n, t);
        self.topic(topic).errors.record(&cfg, n, t);
    }

    /// A metadata response was applied.
    pub fn metadata_updated(&mut self, now: Instant) {
        self.producer.metadata_updated = self.ms(now);
    }

    /// Once per sender turn: the network counters' growth, the gauges, and the errors `send`
    /// returned since the last turn.
    pub fn turn(&mut self, net: &NetStats, gauges: (usize, usize), send_errors: u64, now: Instant) {
        let (t, cfg) = (self.ms(now), self.cfg);
        let p = &mut self.producer;
        (p.in_flight, p.connections) = gauges;
        p.io_wait_ns = net.io_wait_ns;
        let grown = |new: u64, old: u64| new.saturating_sub(old) as f64;
        let created = grown(net.connections_created, self.last_net.connections_created);
        if created > 0.0 {
            p.connections_created.record(&cfg, created, t);
        }
        let closed = grown(net.connections_closed, self.last_net.connections_closed);
        if closed > 0.0 {
            p.connections_closed.record(&cfg, closed, t);
        }
        let renewed = grown(net.reauthentications, self.last_net.reauthentications);
        if renewed > 0.0 {
            p.reauth_succeeded.record(&cfg, renewed, t);
        }
        let failed = grown(
            net.failed_reauthentications,
            self.last_net.failed_reauthentications,
        );
        if failed > 0.0 {
            p.reauth_failed.record(&cfg, failed, t);
        }
        let errors = send_errors.saturating_sub(self.send_errors_seen);
        if errors > 0 {
            p.errors.record(&cfg, errors as f64, t);
            self.send_errors_seen = send_errors;
        }
        let (mut requests, mut out, mut inc) = (0.0, 0.0, 0.0);
        for (&id, traffic) in &net.nodes {
            let old = self.last_net.nodes.get(&id).copied().unwrap_or_default();
            let node = self.nodes.entry(id).or_default();
            let r = grown(traffic.requests, old.requests);
            let o = grown(traffic.bytes_out, old.bytes_out);
            let i = grown(traffic.bytes_in, old.bytes_in);
            for (stat, v) in [(&mut node.requests, r), (&mut node.outgoing, o)] {
                if v > 0.0 {
                    stat.record(&cfg, v, t);
                }
            }
            if i > 0.0 {
                node.incoming.record(&cfg, i, t);
            }
            (requests, out, inc) = (requests + r, out + o, inc + i);
        }
        for (stat, v) in [
            (&mut p.requests, requests),
            (&mut p.outgoing, out),
            (&mut p.incoming, inc),
        ] {
            if v > 0.0 {
                stat.record(&cfg, v, t);
            }
        }
        self.last_net.clone_from(net);
    }

    /// How long each re-authentication completed since the last turn took.
    pub fn reauthenticated(&mut self, latencies: &[Duration], now: Instant) {
        let (t, cfg) = (self.ms(now), self.cfg);
        for l in latencies {
            let ms = l.as_secs_f64() * 1000.0;
            self.producer.reauth_latency.record(&cfg, ms, t);
        }
    }

    /// Errors `send` returned that no turn recorded yet (the sender may have stopped).
    pub fn unseen_send_errors(&self, send_errors: u64) -> u64 {
        send_errors.saturating_sub(self.send_errors_seen)
    }
}

/// The registry shared by the sender (which records) and `Producer::metrics` (which reads),
/// and the counter of errors `send` returned (caller threads, an atomic on the error path).
#[derive(Debug)]
pub(crate) struct SharedMetrics {
    registry: Mutex<Registry>,
    send_errors: AtomicU64,
}

impl SharedMetrics {
    pub fn new(cfg: WindowConfig, epoch: Instant) -> Self {
        SharedMetrics {
            registry: Mutex::new(Registry::new(cfg, epoch)),
            send_errors: AtomicU64::new(0),
        }
    }

    /// The registry, for the sender's recording and for snapshots.
    pub fn lock(&self) -> parking_lot::MutexGuard<'_, Registry> {
        self.registry.lock()
    }

    /// `send` returned an error for one record.
    pub fn send_error(&self) {
        self.send_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Errors `send` returned so far.
    pub fn send_errors(&self) -> u64 {
        self.send_errors.load(Ordering::Relaxed)
    }
}

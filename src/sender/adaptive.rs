//! The sender's part of adaptive partitioning (KIP-794; the choice itself is in
//! `partitioner/adaptive.rs`): when each leader last had batches ready and when it last could
//! take them (Java's `RecordAccumulator.updateNodeLatencyStats`), and, after each turn that
//! had something ready, every measured topic's queue sizes published for the partitioner.
//!
//! A leader "could take" its batches when it was connected with room for another request in
//! flight (`max.in.flight.requests.per.connection`), as Java's `NetworkClient.ready`. With
//! `partitioner.availability.timeout.ms` > 0, a leader that had batches ready and could not
//! take them for longer than the timeout makes its partitions unavailable to the partitioner
//! until it takes batches again.

use crate::accumulator::RecordAccumulator;
use crate::metadata::Cluster;
use crate::partitioner::{LoadStats, PartitionLoadStats, PartitionQueue};
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct NodeLatency {
    /// Last time the node had batches ready.
    ready: Instant,
    /// Last time it could take them.
    drained: Instant,
}

/// Per-node readiness history and the turn's "something was ready" flag.
#[derive(Debug)]
pub(crate) struct LoadTracker {
    availability_timeout: Duration,
    nodes: HashMap<i32, NodeLatency>,
    /// A node was ready this turn: queue sizes may have moved.
    measure: bool,
    queues: Vec<PartitionQueue>,
}

impl LoadTracker {
    /// `availability_timeout`: `partitioner.availability.timeout.ms` (zero: off).
    pub(crate) fn new(availability_timeout: Duration) -> Self {
        LoadTracker {
            availability_timeout,
            nodes: HashMap::new(),
            measure: false,
            queues: Vec::new(),
        }
    }

    /// `node` had batches ready at `now`; `drained`: it could take them.
    pub(crate) fn node_ready(&mut self, node: i32, drained: bool, now: Instant) {
        self.measure = true;
        if self.availability_timeout.is_zero() {
            return;
        }
        let l = self.nodes.entry(node).or_insert(NodeLatency {
            ready: now,
            drained: now,
        });
        if drained {
            l.drained = now;
        }
        l.ready = now;
    }

    /// Whether the partitioner may pick partitions led by `node`: it took its ready batches
    /// within the availability timeout (always, with the timeout off).
    pub(crate) fn is_available(&self, node: i32) -> bool {
        self.availability_timeout.is_zero()
            || self.nodes.get(&node).is_none_or(|l| {
                l.ready.saturating_duration_since(l.drained) <= self.availability_timeout
            })
    }

    /// After a turn in which a node was ready: every measured topic's statistics from its
    /// partitions with a leader (queued batches, leader available), published for the
    /// partitioner. Nothing to do (and no lock taken) for producers without keyless records.
    pub(crate) fn publish(&mut self, load: &LoadStats, acc: &RecordAccumulator, cluster: &Cluster) {
        if !std::mem::take(&mut self.measure) {
            return;
        }
        load.for_each_topic(|topic, slot| {
            let Some(t) = cluster.topics.get(topic) else {
                return;
            };
            self.queues.clear();
            acc.queue_sizes(topic, t.partition_count(), |p, queued| {
                if let Some(leader) = cluster.leader_for(topic, p) {
                    self.queues.push(PartitionQueue {
                        partition: p,
                        queued,
                        available: self.is_available(leader),
                    });
                }
            });
            slot.set(PartitionLoadStats::from_queues(&self.queues));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_ready_but_not_drained_past_the_timeout_is_unavailable() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut l = LoadTracker::new(ms(100));
        assert!(l.is_available(1), "unknown nodes are available");
        l.node_ready(1, true, t0);
        l.node_ready(1, false, t0 + ms(50));
        l.node_ready(1, false, t0 + ms(100));
        assert!(l.is_available(1), "at the timeout");
        l.node_ready(1, false, t0 + ms(101));
        assert!(!l.is_available(1), "past it");
        assert!(l.is_available(2));
        l.node_ready(1, true, t0 + ms(150));
        assert!(l.is_available(1), "available again once it takes batches");
        let mut off = LoadTracker::new(Duration::ZERO);
        off.node_ready(1, true, t0);
        off.node_ready(1, false, t0 + ms(10_000));
        assert!(off.is_available(1));
    }
}

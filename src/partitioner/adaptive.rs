//! Adaptive partitioning (KIP-794): the sticky partition of keyless records is chosen with a
//! probability that falls with the partition's backlog, so records are steered away from
//! brokers that keep up less well (Java's `BuiltInPartitioner.updatePartitionLoadStats` and
//! `nextPartition`, `RecordAccumulator.partitionReady`).
//!
//! The sender thread computes, after each turn that had something ready, each topic's queue
//! sizes (batches waiting per partition with a leader) and publishes a [`PartitionLoadStats`]
//! per topic; the caller's thread reads it only when its sticky partition moves on (once per
//! `batch.size` bytes), not per record. With `partitioner.availability.timeout.ms` > 0,
//! partitions whose leader had batches ready but could not take them (not connected, or its
//! in-flight requests at the limit) for longer than the timeout are left out.
//!
//! As Java: no statistics (a uniform choice among partitions with a leader) when the topic has
//! fewer than two partitions with a leader, or when every queue is the same size and none is
//! left out; each partition's weight is `max queue size + 1 - its queue size`. Where we differ:
//! Java waits until every partition of the topic has had a batch (its statistics are built
//! from the partitions it has queues for); a partition we have no queue for counts as empty.

use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One partition's load, as the sender measured it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartitionQueue {
    /// The partition (it has a leader).
    pub partition: i32,
    /// Batches waiting in its queue.
    pub queued: usize,
    /// Its leader took batches within `partitioner.availability.timeout.ms` (always true when
    /// the timeout is 0).
    pub available: bool,
}

/// A topic's load statistics: a cumulative frequency table over the partitions that may be
/// chosen, each weighted against its queue size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionLoadStats {
    /// Running sums of the weights, strictly increasing.
    cumulative: Vec<u64>,
    /// The partition of each entry.
    partitions: Vec<i32>,
}

impl PartitionLoadStats {
    /// The statistics for these partitions (every partition of the topic with a leader), or
    /// `None` when a uniform choice is as good: fewer than two partitions, or all queues the
    /// same size with none unavailable; also when none is available (Java then chooses
    /// uniformly among all partitions with a leader).
    pub(crate) fn from_queues(queues: &[PartitionQueue]) -> Option<Self> {
        let available = queues.iter().filter(|q| q.available);
        let n = available.clone().count();
        if n < 1 || queues.len() < 2 {
            return None;
        }
        // Sizes are capped so the sums cannot overflow (no real queue comes near).
        let size = |q: &PartitionQueue| q.queued.min(u32::MAX as usize) as u64;
        let max = available.clone().map(size).max().unwrap_or(0);
        let all_equal = available.clone().all(|q| size(q) == max);
        if all_equal && n == queues.len() {
            return None;
        }
        let mut cumulative = Vec::with_capacity(n);
        let mut partitions = Vec::with_capacity(n);
        let mut sum = 0u64;
        for q in available {
            sum += max + 1 - size(q);
            cumulative.push(sum);
            partitions.push(q.partition);
        }
        Some(PartitionLoadStats {
            cumulative,
            partitions,
        })
    }

    /// The partition for a non-negative random number: the first entry whose running sum is
    /// above `random % total`.
    pub(crate) fn pick(&self, random: u64) -> i32 {
        let total = self.cumulative.last().copied().unwrap_or(1).max(1);
        let r = random % total;
        let i = self.cumulative.partition_point(|&c| c <= r);
        self.partitions[i.min(self.partitions.len() - 1)]
    }

    /// The partitions that may be chosen, in table order.
    #[cfg(test)]
    pub(crate) fn partitions(&self) -> &[i32] {
        &self.partitions
    }
}

/// One topic's published statistics (swapped whole by the sender).
#[derive(Debug, Default)]
pub(crate) struct TopicLoad {
    stats: Mutex<Option<Arc<PartitionLoadStats>>>,
    /// A sticky choice has read the statistics: the topic has keyless records. Until then
    /// the sender does not measure it, so that a topic of keyed records only (say, 1000
    /// partitions with random keys) costs the sender no visit of its partitions per turn.
    read: AtomicBool,
}

impl TopicLoad {
    /// The latest statistics, if any. Marks the topic as measured from now on.
    pub(crate) fn get(&self) -> Option<Arc<PartitionLoadStats>> {
        if !self.read.load(Ordering::Relaxed) {
            self.read.store(true, Ordering::Relaxed);
        }
        self.stats.lock().clone()
    }
    /// Publishes new statistics.
    pub(crate) fn set(&self, stats: Option<PartitionLoadStats>) {
        *self.stats.lock() = stats.map(Arc::new);
    }
}

/// The statistics of every topic keyless records were sent to, shared by the producer (which
/// registers topics and reads) and the sender (which measures and writes).
#[derive(Debug, Default)]
pub(crate) struct LoadStats {
    enabled: bool,
    topics: RwLock<Vec<(Arc<str>, Arc<TopicLoad>)>>,
}

impl LoadStats {
    /// `enabled`: `partitioner.adaptive.partitioning.enable`. When off, no topic is measured
    /// and every sticky choice is uniform.
    pub(crate) fn new(enabled: bool) -> Self {
        LoadStats {
            enabled,
            topics: RwLock::default(),
        }
    }

    /// The slot of `topic`, measured by the sender from now on (an unmeasured slot when
    /// adaptive partitioning is off). Called once per topic, when its sticky partitioner is
    /// created.
    pub(crate) fn register(&self, topic: &Arc<str>) -> Arc<TopicLoad> {
        if !self.enabled {
            return Arc::default();
        }
        let mut topics = self.topics.write();
        if let Some((_, slot)) = topics.iter().find(|(t, _)| t == topic) {
            return slot.clone();
        }
        let slot = Arc::<TopicLoad>::default();
        topics.push((topic.clone(), slot.clone()));
        slot
    }

    /// Calls `f` on each measured topic (one whose statistics a sticky choice has read) and
    /// its slot (the registry is read-locked meanwhile: `f` must not register topics).
    pub(crate) fn for_each_topic(&self, mut f: impl FnMut(&Arc<str>, &TopicLoad)) {
        for (topic, slot) in self.topics.read().iter() {
            if slot.read.load(Ordering::Relaxed) {
                f(topic, slot);
            }
        }
    }

    /// The measured topics.
    #[cfg(test)]
    pub(crate) fn topics(&self) -> Vec<(Arc<str>, Arc<TopicLoad>)> {
        self.topics.read().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queues(sizes: &[usize]) -> Vec<PartitionQueue> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &queued)| PartitionQueue {
                partition: i as i32,
                queued,
                available: true,
            })
            .collect()
    }

    /// How often each partition is picked over one whole period of the random number.
    fn frequencies(stats: &PartitionLoadStats, partitions: usize) -> Vec<u64> {
        let total = *stats.cumulative.last().unwrap();
        let mut f = vec![0; partitions];
        for r in 0..total {
            f[stats.pick(r) as usize] += 1;
        }
        f
    }

    #[test]
    fn weights_fall_with_the_queue_size_as_javas() {
        // BuiltInPartitionerTest.adaptivePartitionsTest: frequency = max + 1 - queue size.
        let stats = PartitionLoadStats::from_queues(&queues(&[5, 0, 3, 0, 1])).unwrap();
        assert_eq!(stats.cumulative, vec![1, 7, 10, 16, 21]);
        assert_eq!(frequencies(&stats, 5), vec![1, 6, 3, 6, 5]);
        // The example in Java's comment: 0 3 1 -> 4 1 3 -> 4 5 8.
        let stats = PartitionLoadStats::from_queues(&queues(&[0, 3, 1])).unwrap();
        assert_eq!(stats.cumulative, vec![4, 5, 8]);
        assert_eq!((stats.pick(3), stats.pick(4), stats.pick(5)), (0, 1, 2));
        assert_eq!(
            stats.pick(8 + 4),
            1,
            "the random number is taken modulo the total"
        );
    }

    #[test]
    fn uniform_when_statistics_would_not_change_the_choice() {
        assert_eq!(PartitionLoadStats::from_queues(&queues(&[2, 2, 2])), None);
        assert_eq!(PartitionLoadStats::from_queues(&queues(&[7])), None);
        assert_eq!(PartitionLoadStats::from_queues(&[]), None);
        let mut q = queues(&[0, 0]);
        q.iter_mut().for_each(|q| q.available = false);
        assert_eq!(PartitionLoadStats::from_queues(&q), None, "none available");
    }

    #[test]
    fn unavailable_partitions_are_left_out() {
        let mut q = queues(&[1, 1, 0, 4]);
        q[0].available = false;
        q[3].available = false;
        let stats = PartitionLoadStats::from_queues(&q).unwrap();
        assert_eq!(stats.partitions(), &[1, 2]);
        assert_eq!(frequencies(&stats, 4), vec![0, 1, 2, 0]);
        // Equal queues, but some left out: still statistics (Java keeps them even for one).
        let mut q = queues(&[0, 0, 0]);
        q[1].available = false;
        let stats = PartitionLoadStats::from_queues(&q).unwrap();
        assert_eq!(frequencies(&stats, 3), vec![1, 0, 1]);
        let mut q = queues(&[3, 0]);
        q[1].available = false;
        let stats = PartitionLoadStats::from_queues(&q).unwrap();
        assert_eq!(frequencies(&stats, 2), vec![1, 0]);
    }

    #[test]
    fn huge_queues_do_not_overflow() {
        let stats = PartitionLoadStats::from_queues(&queues(&[usize::MAX, 0, usize::MAX])).unwrap();
        let m = u64::from(u32::MAX);
        assert_eq!(stats.cumulative, vec![1, m + 2, m + 3]);
        assert_eq!((stats.pick(0), stats.pick(1), stats.pick(m + 2)), (0, 1, 2));
    }

    #[test]
    fn registry_measures_only_when_enabled() {
        let t: Arc<str> = Arc::from("t");
        let on = LoadStats::new(true);
        let a = on.register(&t);
        assert!(Arc::ptr_eq(&a, &on.register(&t)), "one slot per topic");
        let mut measured = 0;
        on.for_each_topic(|_, _| measured += 1);
        assert_eq!(measured, 0, "not measured before a sticky choice reads it");
        assert!(a.get().is_none());
        on.for_each_topic(|_, _| measured += 1);
        assert_eq!(measured, 1, "measured once a sticky choice has read it");
        assert_eq!(on.topics().len(), 1);
        a.set(PartitionLoadStats::from_queues(&queues(&[1, 0])));
        assert!(on.topics()[0].1.get().is_some());
        let off = LoadStats::new(false);
        off.register(&t);
        assert!(off.topics().is_empty());
    }
}

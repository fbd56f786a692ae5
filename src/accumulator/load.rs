//! Queue sizes for adaptive partitioning (see `partitioner/adaptive.rs`): how many batches
//! wait in each partition's queue, read by the sender after a drain.

use super::RecordAccumulator;
use crate::record::TopicPartition;
use std::sync::Arc;

impl RecordAccumulator {
    /// Calls `f(partition, queued batches)` for partitions `0..partitions` of `topic` (0 for a
    /// partition that never had a queue). One partition queue is locked at a time.
    pub fn queue_sizes(&self, topic: &Arc<str>, partitions: i32, mut f: impl FnMut(i32, usize)) {
        let queues = self.queues.read();
        let mut tp = TopicPartition {
            topic: topic.clone(),
            partition: 0,
        };
        for p in 0..partitions {
            tp.partition = p;
            let n = queues.map.get(&tp).map_or(0, |q| q.batches.lock().len());
            f(p, n);
        }
    }
}

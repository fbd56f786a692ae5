//! What `send` remembers between records on one thread: the scratch buffers for serializing,
//! and for the last topics it sent to, the topic's metadata, its sticky partitioner and its
//! partition queues.
//!
//! Without it, every record paid three map lookups under three shared locks (the metadata, the
//! sticky partitioners, the accumulator's queues), each with an `Arc` clone: a tenth of the
//! CPU a small record costs. With it, a record to a topic this thread sent to before costs a
//! string comparison and one atomic load (the metadata version, which says whether the
//! remembered view is still the current one).
//!
//! The clock is here too: a record's timestamp is derived from the monotonic clock reading
//! `send` takes anyway, anchored to the wall clock at most once a second (see [`WallClock`]).

use crate::accumulator::PartitionHandle;
use crate::metadata::TopicInfo;
use crate::partitioner::BuiltInPartitioner;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How many topics a thread remembers (per producer and topic; the least recent goes first).
const TOPICS: usize = 8;

/// A process-wide id for each producer, so one thread's memo never mixes two producers'
/// queues (an address could be reused by a later producer; a counter is not).
pub(crate) fn next_producer_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// One remembered topic.
pub(crate) struct CachedTopic {
    producer: u64,
    name: Box<str>,
    /// The metadata version `info` was current at.
    version: u64,
    pub info: Arc<TopicInfo>,
    pub sticky: Arc<BuiltInPartitioner>,
    pub queues: PartitionQueues,
}

/// A topic's partition queues by partition number, looked up on first use.
#[derive(Default)]
pub(crate) struct PartitionQueues(Vec<Option<PartitionHandle>>);

impl PartitionQueues {
    /// The queue of `partition`, from the memo or from `lookup` (remembered for next time).
    /// `partition` is one of the topic's (the caller checked it against the partition count,
    /// which the metadata bounds).
    pub fn get(
        &mut self,
        partition: i32,
        lookup: impl FnOnce() -> PartitionHandle,
    ) -> &PartitionHandle {
        let i = usize::try_from(partition).unwrap_or(0);
        if i >= self.0.len() {
            self.0.resize(i.saturating_add(1), None);
        }
        self.0[i].get_or_insert_with(lookup)
    }
}

/// The per-thread state of `send`.
#[derive(Default)]
pub(crate) struct SendCache {
    /// Serialized key and value (for types without a borrowed form).
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub topics: TopicMemo,
    pub clock: WallClock,
}

/// The last topics a thread sent to, most recent first. Entries of a closed producer linger
/// until pushed out (their queues are empty by then).
#[derive(Default)]
pub(crate) struct TopicMemo {
    topics: Vec<CachedTopic>,
}

impl TopicMemo {
    /// Whether `topic` of `producer` is remembered with its view still at metadata `version`;
    /// if so it is moved to the front ([`front`](Self::front)). A stale view is forgotten.
    pub fn lookup(&mut self, producer: u64, topic: &str, version: u64) -> bool {
        let Some(i) = self
            .topics
            .iter()
            .position(|t| t.producer == producer && &*t.name == topic)
        else {
            return false;
        };
        if self.topics[i].version != version {
            self.topics.remove(i);
            return false;
        }
        if i != 0 {
            let t = self.topics.remove(i);
            self.topics.insert(0, t);
        }
        true
    }

    /// The most recent topic (after a successful [`lookup`](Self::lookup) or
    /// [`remember`](Self::remember)).
    pub fn front(&mut self) -> Option<&mut CachedTopic> {
        self.topics.first_mut()
    }

    /// Remembers `info` as current at metadata `version` (replacing an older view of it, and
    /// forgetting the least recent topic beyond [`TOPICS`]).
    pub fn remember(
        &mut self,
        producer: u64,
        version: u64,
        info: Arc<TopicInfo>,
        sticky: Arc<BuiltInPartitioner>,
    ) -> &mut CachedTopic {
        self.topics
            .retain(|t| !(t.producer == producer && *t.name == *info.name));
        self.topics.truncate(TOPICS - 1);
        self.topics.insert(
            0,
            CachedTopic {
                producer,
                name: Box::from(&*info.name),
                version,
                info,
                sticky,
                queues: PartitionQueues::default(),
            },
        );
        &mut self.topics[0]
    }
}

/// Wall-clock milliseconds from a monotonic reading: `send` reads `Instant::now()` anyway, and
/// a second clock call per record was a few percent of a small record's cost (the clock is a
/// system call on some virtual machines). The anchor (a wall-clock and a monotonic reading
/// taken together) is renewed when it is a second old, so a step of the wall clock shows
/// within a second and slewing (at most 500 ppm) moves a timestamp by at most half a
/// millisecond.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WallClock {
    anchor: Option<(Instant, u128)>,
}

const ANCHOR_AGE: Duration = Duration::from_secs(1);

impl WallClock {
    /// Milliseconds since the Unix epoch at `now`.
    pub fn millis(&mut self, now: Instant) -> i64 {
        let (at, wall_nanos) = match self.anchor {
            Some((at, wall)) if now >= at && now - at < ANCHOR_AGE => (at, wall),
            _ => {
                let wall = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                let at = Instant::now();
                self.anchor = Some((at, wall));
                (at, wall)
            }
        };
        let nanos = wall_nanos + now.saturating_duration_since(at).as_nanos();
        i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accumulator::{AccumulatorConfig, RecordAccumulator};
    use crate::record::TopicPartition;

    fn info(name: &str, partitions: i32) -> Arc<TopicInfo> {
        Arc::new(TopicInfo {
            name: Arc::from(name),
            topic_id: [0; 16],
            partitions: Vec::new(),
            available: (0..partitions).collect(),
            last_used: AtomicU64::new(0),
        })
    }

    fn remember(m: &mut TopicMemo, producer: u64, version: u64, name: &str) {
        m.remember(
            producer,
            version,
            info(name, 3),
            Arc::new(BuiltInPartitioner::new(16384)),
        );
    }

    #[test]
    fn a_topic_is_remembered_per_producer_until_the_metadata_changes() {
        let mut m = TopicMemo::default();
        remember(&mut m, 1, 7, "a");
        assert!(m.lookup(1, "a", 7));
        assert!(
            !m.lookup(2, "a", 7),
            "another producer's view is not shared"
        );
        assert!(!m.lookup(1, "b", 7));
        // A new metadata version: the view is stale, and forgotten.
        assert!(!m.lookup(1, "a", 8));
        assert!(!m.lookup(1, "a", 7));
        remember(&mut m, 1, 8, "a");
        remember(&mut m, 1, 8, "a");
        assert_eq!(m.topics.len(), 1, "one entry per producer and topic");
    }

    #[test]
    fn the_least_recent_topic_goes_first() {
        let mut m = TopicMemo::default();
        for i in 0..TOPICS {
            remember(&mut m, 1, 1, &format!("t{i}"));
        }
        assert!(m.lookup(1, "t0", 1), "t0 is now the most recent");
        remember(&mut m, 1, 1, "new");
        assert_eq!(m.topics.len(), TOPICS);
        assert!(!m.lookup(1, "t1", 1), "t1 was the least recent");
        assert!(m.lookup(1, "t0", 1));
        assert_eq!(&*m.front().unwrap().info.name, "t0");
    }

    #[test]
    fn partition_queues_are_looked_up_once() {
        let acc = RecordAccumulator::new(AccumulatorConfig::default());
        let mut queues = PartitionQueues::default();
        let mut lookups = 0;
        for p in [2, 0, 2, 2, 0] {
            queues.get(p, || {
                lookups += 1;
                acc.partition(&TopicPartition::new("t", p))
            });
        }
        assert_eq!(lookups, 2);
    }

    fn wall_ms() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    }

    #[test]
    fn wall_clock_agrees_with_the_system_clock() {
        let mut c = WallClock::default();
        for _ in 0..1000 {
            let before = wall_ms();
            let got = c.millis(Instant::now());
            let after = wall_ms();
            assert!(
                before - 1 <= got && got <= after + 1,
                "{before} {got} {after}"
            );
        }
    }

    #[test]
    fn wall_clock_re_anchors_after_a_second() {
        let mut c = WallClock::default();
        let t0 = Instant::now();
        c.millis(t0);
        let first = c.anchor.unwrap().0;
        c.millis(t0 + Duration::from_millis(500));
        assert_eq!(c.anchor.unwrap().0, first, "young anchor kept");
        let later = Instant::now() + Duration::from_secs(2);
        let ms = c.millis(later);
        assert!(c.anchor.unwrap().0 > first, "renewed");
        // The reading two seconds ahead maps to about two seconds after now.
        let expected = wall_ms() + 2000;
        assert!((ms - expected).abs() <= 50, "{ms} vs {expected}");
        // An instant before the anchor also re-anchors rather than going negative.
        assert!(c.millis(t0) > 0);
    }
}

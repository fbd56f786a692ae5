//! Choosing a partition for a record.

mod adaptive;

pub(crate) use adaptive::{LoadStats, PartitionLoadStats, PartitionQueue, TopicLoad};

use crate::error::Error;
use crate::hash::FastMap;
use parking_lot::{Mutex, RwLock};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// The seed of Kafka's murmur2 (`Utils.murmur2` in the Java client).
const MURMUR2_SEED: u32 = 0x9747_b28c;

/// Kafka's 32-bit murmur2 hash of `data`, bit-for-bit the Java client's `Utils.murmur2`.
///
/// ```
/// assert_eq!(kafka_sync::murmur2(b"foobar"), -790332482);
/// ```
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    // Java takes the length as an int; records are far below 2 GiB, and wrapping matches Java.
    let mut h: u32 = MURMUR2_SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Clears the sign bit, as Java's `Utils.toPositive` (not `abs`: `i32::MIN` maps to 0).
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition the Java client picks for a serialized key:
/// `to_positive(murmur2(key)) % num_partitions`.
///
/// An empty key is a key (it is hashed); only a missing key is sticky-partitioned.
///
/// # Panics
///
/// If `num_partitions` is not positive.
///
/// ```
/// assert_eq!(kafka_sync::partition_for_key(b"key-0", 1), 0);
/// ```
pub fn partition_for_key(key: &[u8], num_partitions: i32) -> i32 {
    assert!(num_partitions > 0, "num_partitions must be positive");
    to_positive(murmur2(key)) % num_partitions
}

/// What a partitioner knows about a topic: its partition count and which partitions have a
/// leader (are "available").
#[derive(Debug, Clone, Copy)]
pub struct TopicLayout<'a> {
    num_partitions: i32,
    available: &'a [i32],
}

impl<'a> TopicLayout<'a> {
    /// A layout of `num_partitions` partitions of which `available_partitions` have a leader.
    pub fn new(num_partitions: i32, available_partitions: &'a [i32]) -> Self {
        TopicLayout {
            num_partitions,
            available: available_partitions,
        }
    }
    /// Number of partitions of the topic.
    pub fn num_partitions(&self) -> i32 {
        self.num_partitions
    }
    /// Partitions that currently have a known leader, in ascending order.
    pub fn available_partitions(&self) -> &'a [i32] {
        self.available
    }
}

/// A custom partitioner (Java's `partitioner.class`).
///
/// # How the producer chooses a partition
///
/// The rules are the Java producer's (4.x), so a key lands on the partition a Java client puts it:
///
/// 1. A partition set on the record is used as is (it must exist).
/// 2. Otherwise a custom [`Partitioner`], if configured, is asked. Unlike Java (which rejects a
///    negative answer), it may answer `None` to fall through to the built-in rules below.
/// 3. A record with a key (and `partitioner.ignore.keys=false`, the default) goes to
///    [`partition_for_key`]: `(murmur2(key) & 0x7fffffff) % num_partitions`.
/// 4. A record without a key (or any record with `partitioner.ignore.keys=true`) goes to the
///    topic's current *sticky* partition (KIP-480 / KIP-794 "uniform sticky"): every keyless
///    record goes to one partition until `batch.size` bytes were appended to it, then a new
///    partition is picked at random among the partitions that have a leader: with adaptive
///    partitioning (KIP-794, `partitioner.adaptive.partitioning.enable`, on by default) the
///    choice is weighted against each partition's queue of batches waiting to be sent, so
///    partitions of slower brokers are picked less often; with
///    `partitioner.availability.timeout.ms` > 0, partitions whose leader could not take its
///    ready batches for longer than that are not picked at all. Otherwise it is uniform.
///
/// # Custom partitioners
///
/// A partitioner is called for records that have no partition set, with the serialized key and value.
/// Return `Some(partition)` to choose (it must be in `0..num_partitions`, otherwise the record
/// fails with [`Error::UnknownPartition`]), or `None` to let the built-in rules decide (key
/// hash, or sticky for keyless records). Java's `Partitioner` has no such fall-through: it
/// rejects negative answers.
///
/// Closures with the same signature are partitioners:
///
/// ```
/// use kafka_sync::{Partitioner, TopicLayout};
/// let last = |_: &str, _: Option<&[u8]>, _: Option<&[u8]>, t: &TopicLayout<'_>| {
///     Some(t.num_partitions() - 1)
/// };
/// assert_eq!(last.partition("t", None, None, &TopicLayout::new(3, &[0, 1, 2])), Some(2));
/// ```
pub trait Partitioner: Send + Sync {
    /// Chooses a partition for a record of `topic`, or `None` for the built-in choice.
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        layout: &TopicLayout<'_>,
    ) -> Option<i32>;
}

impl<F> Partitioner for F
where
    F: Fn(&str, Option<&[u8]>, Option<&[u8]>, &TopicLayout<'_>) -> Option<i32> + Send + Sync,
{
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        layout: &TopicLayout<'_>,
    ) -> Option<i32> {
        self(topic, key, value, layout)
    }
}

/// The outcome of [`choose_partition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartitionChoice {
    /// This partition (explicit, custom, or key hash); checked to be in range.
    Fixed(i32),
    /// Use the topic's sticky partition ([`BuiltInPartitioner`]).
    Sticky,
}

/// The producer's partition decision for one record, before the sticky step.
///
/// `explicit` is the record's own partition; `custom` the configured partitioner.
pub(crate) fn choose_partition(
    explicit: Option<i32>,
    custom: Option<&dyn Partitioner>,
    ignore_keys: bool,
    topic: &str,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    layout: &TopicLayout<'_>,
) -> Result<PartitionChoice, Error> {
    let n = layout.num_partitions();
    let check = |p: i32| {
        if (0..n).contains(&p) {
            Ok(PartitionChoice::Fixed(p))
        } else {
            Err(Error::UnknownPartition {
                topic: topic.to_string(),
                partition: p,
                partitions: n,
            })
        }
    };
    if let Some(p) = explicit {
        return check(p);
    }
    if n <= 0 {
        return Err(Error::UnknownPartition {
            topic: topic.to_string(),
            partition: -1,
            partitions: n,
        });
    }
    if let Some(p) = custom.and_then(|c| c.partition(topic, key, value, layout)) {
        return check(p);
    }
    match key {
        Some(k) if !ignore_keys => Ok(PartitionChoice::Fixed(partition_for_key(k, n))),
        _ => Ok(PartitionChoice::Sticky),
    }
}

/// A random non-negative number, like Java's `toPositive(ThreadLocalRandom.nextInt())`.
/// A per-thread xorshift64* seeded from std's random hasher keys: not cryptographic, cheap.
pub(crate) fn random_non_negative() -> i32 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(random_seed());
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        to_positive((x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as i32)
    })
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish() | 1 // xorshift state must not be zero
}

/// One sticky choice: a partition and the bytes appended to it since it was chosen.
///
/// Callers hold the `Arc` they got from [`BuiltInPartitioner::peek_current`] and hand it back to
/// [`BuiltInPartitioner::update_partition_info`]; identity (not the partition number) tells
/// whether the choice is still current.
#[derive(Debug)]
pub(crate) struct StickyPartitionInfo {
    partition: i32,
    produced_bytes: AtomicUsize,
}

impl StickyPartitionInfo {
    /// The chosen partition.
    pub(crate) fn partition(&self) -> i32 {
        self.partition
    }
}

/// The uniform sticky partitioner of one topic (Java's `BuiltInPartitioner`).
///
/// Protocol, for a keyless record (what the producer does):
/// 1. `info = peek_current(layout)`; append to `info.partition()`, then
/// 2. `update_partition_info(&info, appended_bytes, layout, enable_switch)`, where
///    `enable_switch` is "the append reported its batch full" (switching while a batch is
///    still open would leave it half-filled; past `2 * batch.size` bytes the switch happens
///    regardless).
///
/// Java's `RecordAccumulator.append` also re-checks, under the queue lock, that `info` is still
/// the current choice and starts over if not; without that re-check a record racing a switch
/// lands on the previous sticky partition, which costs stickiness, not correctness (a stale
/// `info` is ignored by `update_partition_info`).
#[derive(Debug)]
pub(crate) struct BuiltInPartitioner {
    sticky_batch_size: usize,
    current: Mutex<Option<Arc<StickyPartitionInfo>>>,
    /// The topic's load statistics (adaptive partitioning), read when the choice moves on.
    load: Arc<TopicLoad>,
}

impl BuiltInPartitioner {
    /// A sticky partitioner that moves on after `batch_size` bytes (at least 1), uniformly.
    #[cfg(test)]
    pub(crate) fn new(batch_size: usize) -> Self {
        Self::with_load(batch_size, Arc::default())
    }

    /// A sticky partitioner whose choices follow the load statistics in `load`.
    pub(crate) fn with_load(batch_size: usize, load: Arc<TopicLoad>) -> Self {
        BuiltInPartitioner {
            sticky_batch_size: batch_size.max(1),
            current: Mutex::new(None),
            load,
        }
    }

    /// A new choice: weighted by the load statistics if there are any, else uniform.
    fn next_partition(&self, layout: &TopicLayout<'_>) -> i32 {
        next_partition(layout, self.load.get().as_deref())
    }

    /// The current sticky partition, choosing one if there is none yet (or the topic shrank
    /// below it). `layout.num_partitions()` must be positive.
    pub(crate) fn peek_current(&self, layout: &TopicLayout<'_>) -> Arc<StickyPartitionInfo> {
        let mut cur = self.current.lock();
        match &*cur {
            Some(info) if info.partition < layout.num_partitions() => info.clone(),
            _ => {
                let info = Arc::new(StickyPartitionInfo {
                    partition: self.next_partition(layout),
                    produced_bytes: AtomicUsize::new(0),
                });
                *cur = Some(info.clone());
                info
            }
        }
    }

    /// Counts `appended_bytes` against `info` and switches to a new random partition once
    /// `batch.size` bytes were appended (and `enable_switch`), or `2 * batch.size` bytes
    /// regardless. A stale `info` is ignored.
    pub(crate) fn update_partition_info(
        &self,
        info: &Arc<StickyPartitionInfo>,
        appended_bytes: usize,
        layout: &TopicLayout<'_>,
        enable_switch: bool,
    ) {
        let mut cur = self.current.lock();
        if !matches!(&*cur, Some(c) if Arc::ptr_eq(c, info)) {
            return;
        }
        let produced = info
            .produced_bytes
            .fetch_add(appended_bytes, Ordering::Relaxed)
            .saturating_add(appended_bytes);
        if (produced >= self.sticky_batch_size && enable_switch)
            || produced >= self.sticky_batch_size.saturating_mul(2)
        {
            let next = self.next_partition(layout);
            log::trace!(
                "sticky partition {} -> {} after {} bytes",
                info.partition,
                next,
                produced
            );
            *cur = Some(Arc::new(StickyPartitionInfo {
                partition: next,
                produced_bytes: AtomicUsize::new(0),
            }));
        }
    }
}

/// A partition from the load statistics (Java's weighted choice), else a random available
/// partition, or a random partition if none is available.
fn next_partition(layout: &TopicLayout<'_>, stats: Option<&PartitionLoadStats>) -> i32 {
    let r = random_non_negative();
    if let Some(p) = stats.map(|s| s.pick(r as u64)) {
        // Statistics older than the layout may name a partition no longer there.
        if p < layout.num_partitions() {
            return p;
        }
    }
    let avail = layout.available_partitions();
    if !avail.is_empty() {
        avail[r as usize % avail.len()]
    } else {
        r % layout.num_partitions().max(1)
    }
}

/// The sticky partitioners of all topics a producer writes to.
#[derive(Debug)]
pub(crate) struct BuiltInPartitioners {
    batch_size: usize,
    topics: RwLock<FastMap<Arc<str>, Arc<BuiltInPartitioner>>>,
    load: Arc<LoadStats>,
}

impl BuiltInPartitioners {
    /// One registry per producer; `batch_size` is `batch.size`; uniform choices.
    #[cfg(test)]
    pub(crate) fn new(batch_size: usize) -> Self {
        Self::with_load(batch_size, Arc::default())
    }

    /// One registry per producer, whose topics are measured in `load` (adaptive partitioning,
    /// when `load` is enabled).
    pub(crate) fn with_load(batch_size: usize, load: Arc<LoadStats>) -> Self {
        BuiltInPartitioners {
            batch_size,
            topics: RwLock::new(FastMap::default()),
            load,
        }
    }

    /// The sticky partitioner of `topic`, created on first use.
    pub(crate) fn topic(&self, topic: &str) -> Arc<BuiltInPartitioner> {
        if let Some(p) = self.topics.read().get(topic) {
            return p.clone();
        }
        let topic: Arc<str> = Arc::from(topic);
        self.topics
            .write()
            .entry(topic.clone())
            .or_insert_with(|| {
                let load = self.load.register(&topic);
                Arc::new(BuiltInPartitioner::with_load(self.batch_size, load))
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test-only view of the sticky state.
    trait StickyState {
        /// Whether `info` is no longer the current choice.
        fn is_partition_changed(&self, info: &Arc<StickyPartitionInfo>) -> bool;
    }
    impl StickyState for BuiltInPartitioner {
        fn is_partition_changed(&self, info: &Arc<StickyPartitionInfo>) -> bool {
            !matches!(&*self.current.lock(), Some(c) if Arc::ptr_eq(c, info))
        }
    }

    #[test]
    fn murmur2_matches_kafka_utils_test_vectors() {
        let cases: &[(&str, i32)] = &[
            ("21", -973932308),
            ("foobar", -790332482),
            ("a-little-bit-long-string", -985981536),
            ("a-little-bit-longer-string", -1486304829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            ("abc", 479470107),
        ];
        for (s, h) in cases {
            assert_eq!(murmur2(s.as_bytes()), *h, "murmur2({s:?})");
        }
    }

    #[test]
    fn murmur2_covers_every_tail_length_and_high_bytes() {
        // All tail lengths 0..=3, and bytes >= 0x80 (Java masks them with 0xff).
        // Values generated with Java's Utils.murmur2.
        assert_eq!(murmur2(b""), 275646681);
        assert_eq!(murmur2(&[0xff]), -311467685);
        assert_eq!(murmur2(&[0x80, 0x81]), 1642145146);
        assert_eq!(murmur2(&[0xfe, 0x01, 0xc3, 0xa9, 0x90]), -1786718148);
        assert_eq!(
            murmur2(&[0xfe, 0x01, 0xc3, 0xa9, 0x90, 0x07, 0xee]),
            1186052967
        );
    }

    #[test]
    fn to_positive_clears_sign_bit() {
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(5), 5);
        assert_eq!(to_positive(-973932308), -973932308 & 0x7fffffff);
    }

    #[test]
    fn keyed_partitions() {
        // -790332482 & 0x7fffffff = 1357151166
        assert_eq!(partition_for_key(b"foobar", 1), 0);
        assert_eq!(partition_for_key(b"foobar", 3), 1357151166 % 3);
        assert_eq!(partition_for_key(b"foobar", 7), 1357151166 % 7);
        assert_eq!(partition_for_key(b"abc", 10), 479470107 % 10);
        assert_eq!(partition_for_key(b"21", 6), (-973932308 & 0x7fffffff) % 6);
    }

    fn layout(n: i32, avail: &[i32]) -> TopicLayout<'_> {
        TopicLayout::new(n, avail)
    }

    #[test]
    fn choice_explicit_custom_keyed_sticky() {
        let l = layout(4, &[0, 1, 2, 3]);
        let c = |e, k: Option<&[u8]>, ignore| choose_partition(e, None, ignore, "t", k, None, &l);
        assert_eq!(
            c(Some(2), Some(b"k"), false).unwrap(),
            PartitionChoice::Fixed(2)
        );
        assert!(matches!(
            c(Some(4), None, false),
            Err(Error::UnknownPartition {
                partition: 4,
                partitions: 4,
                ..
            })
        ));
        assert!(c(Some(-1), None, false).is_err());
        assert_eq!(
            c(None, Some(b"foobar"), false).unwrap(),
            PartitionChoice::Fixed(1357151166 % 4)
        );
        assert_eq!(
            c(None, Some(b"foobar"), true).unwrap(),
            PartitionChoice::Sticky
        );
        assert_eq!(c(None, None, false).unwrap(), PartitionChoice::Sticky);
        // empty key is hashed, not sticky
        assert_eq!(
            c(None, Some(b""), false).unwrap(),
            PartitionChoice::Fixed(275646681 % 4)
        );
        // zero partitions: error, no division by zero
        let z = layout(0, &[]);
        assert!(choose_partition(None, None, false, "t", Some(b"k"), None, &z).is_err());
    }

    #[test]
    fn custom_partitioner_and_fall_through() {
        let l = layout(5, &[0, 1, 2, 3, 4]);
        let by_value = |_: &str, _: Option<&[u8]>, v: Option<&[u8]>, _: &TopicLayout<'_>| {
            v.map(|v| v.len() as i32)
        };
        let p: &dyn Partitioner = &by_value;
        let c = |k, v| choose_partition(None, Some(p), false, "t", k, v, &l);
        assert_eq!(
            c(None, Some(&b"abc"[..])).unwrap(),
            PartitionChoice::Fixed(3)
        );
        // None falls through to the built-in rules
        assert_eq!(c(None, None).unwrap(), PartitionChoice::Sticky);
        assert_eq!(
            c(Some(&b"foobar"[..]), None).unwrap(),
            PartitionChoice::Fixed(1357151166 % 5)
        );
        // out of range answer fails the record
        assert!(matches!(
            c(None, Some(&b"abcdefg"[..])),
            Err(Error::UnknownPartition { partition: 7, .. })
        ));
        // an explicit partition wins over the custom partitioner
        assert_eq!(
            choose_partition(Some(0), Some(p), false, "t", None, Some(b"abc"), &l).unwrap(),
            PartitionChoice::Fixed(0)
        );
    }

    #[test]
    fn sticky_stays_until_batch_size_then_switches() {
        let bp = BuiltInPartitioner::new(100);
        let l = layout(50, &[]);
        let first = bp.peek_current(&l);
        // 99 bytes: still the same choice
        for _ in 0..9 {
            bp.update_partition_info(&first, 11, &l, true);
            assert!(!bp.is_partition_changed(&first));
            assert!(Arc::ptr_eq(&bp.peek_current(&l), &first));
        }
        bp.update_partition_info(&first, 1, &l, true); // 100 bytes
        assert!(bp.is_partition_changed(&first));
        let second = bp.peek_current(&l);
        assert!(!Arc::ptr_eq(&first, &second));
        assert!((0..50).contains(&second.partition()));
        // stale info is ignored
        bp.update_partition_info(&first, 1000, &l, true);
        assert!(Arc::ptr_eq(&bp.peek_current(&l), &second));
    }

    #[test]
    fn sticky_switch_waits_for_full_batch_up_to_twice_batch_size() {
        let bp = BuiltInPartitioner::new(100);
        let l = layout(8, &[0, 1, 2, 3, 4, 5, 6, 7]);
        let info = bp.peek_current(&l);
        bp.update_partition_info(&info, 150, &l, false);
        assert!(!bp.is_partition_changed(&info), "batch not full: keep");
        bp.update_partition_info(&info, 49, &l, false);
        assert!(!bp.is_partition_changed(&info));
        bp.update_partition_info(&info, 1, &l, false); // 200 = 2 * batch.size
        assert!(bp.is_partition_changed(&info));
    }

    #[test]
    fn sticky_picks_only_available_partitions() {
        let l = layout(10, &[3, 7]);
        let bp = BuiltInPartitioner::new(1);
        let mut seen = [false; 10];
        for _ in 0..200 {
            let info = bp.peek_current(&l);
            seen[info.partition() as usize] = true;
            bp.update_partition_info(&info, 1, &l, true);
        }
        let seen: Vec<usize> = (0..10).filter(|&i| seen[i]).collect();
        assert_eq!(seen, vec![3, 7]);
    }

    #[test]
    fn sticky_spreads_over_partitions_when_none_available() {
        let l = layout(4, &[]);
        let bp = BuiltInPartitioner::new(1);
        let mut counts = [0u32; 4];
        for _ in 0..4000 {
            let info = bp.peek_current(&l);
            counts[info.partition() as usize] += 1;
            bp.update_partition_info(&info, 1, &l, true);
        }
        // uniform: each near 1000; a broken RNG (constant, or never 3) fails this
        for c in counts {
            assert!((700..1300).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn sticky_rechooses_if_topic_shrank() {
        let bp = BuiltInPartitioner::new(1000);
        let info = bp.peek_current(&layout(100, &[99]));
        assert_eq!(info.partition(), 99);
        let info2 = bp.peek_current(&layout(2, &[0]));
        assert_eq!(info2.partition(), 0);
    }

    #[test]
    fn sticky_choices_follow_the_published_load_statistics() {
        let load = Arc::new(LoadStats::new(true));
        let reg = BuiltInPartitioners::with_load(1, load.clone());
        let bp = reg.topic("t");
        let all = [0, 1, 2];
        let l = layout(3, &all);
        // Partition 1 left out (its leader unavailable), 2 with a long queue, 0 empty.
        let queues =
            [(0, 0, true), (1, 0, false), (2, 1000, true)].map(|(partition, queued, available)| {
                PartitionQueue {
                    partition,
                    queued,
                    available,
                }
            });
        // A first keyless choice reads the (empty) statistics: the topic is measured from now on.
        bp.peek_current(&l);
        let mut measured = 0;
        load.for_each_topic(|t, slot| {
            assert_eq!(&**t, "t");
            slot.set(PartitionLoadStats::from_queues(&queues));
            measured += 1;
        });
        assert_eq!(measured, 1);
        // The choice made before the statistics existed is used up first.
        let info = bp.peek_current(&l);
        bp.update_partition_info(&info, 1, &l, true);
        let mut picks = [0; 3];
        for _ in 0..2000 {
            let info = bp.peek_current(&l);
            picks[info.partition() as usize] += 1;
            bp.update_partition_info(&info, 1, &l, true);
        }
        assert_eq!(picks[1], 0, "{picks:?}");
        assert!(picks[2] < 20, "weight 1 against 1001: {picks:?}");
        // Cleared statistics: uniform again.
        load.for_each_topic(|_, slot| slot.set(None));
        let mut picks = [0; 3];
        for _ in 0..3000 {
            let info = bp.peek_current(&l);
            picks[info.partition() as usize] += 1;
            bp.update_partition_info(&info, 1, &l, true);
        }
        assert!(picks.iter().all(|&n| n > 800), "{picks:?}");
    }

    #[test]
    fn registry_is_per_topic() {
        let reg = BuiltInPartitioners::new(10);
        let a = reg.topic("a");
        assert!(Arc::ptr_eq(&a, &reg.topic("a")));
        assert!(!Arc::ptr_eq(&a, &reg.topic("b")));
        assert_eq!(a.sticky_batch_size, 10);
        assert_eq!(BuiltInPartitioner::new(0).sticky_batch_size, 1);
    }

    #[test]
    fn sticky_is_thread_safe() {
        let bp = Arc::new(BuiltInPartitioner::new(64));
        let avail: Vec<i32> = (0..16).collect();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let bp = bp.clone();
                let avail = avail.clone();
                std::thread::spawn(move || {
                    let l = TopicLayout::new(16, &avail);
                    for _ in 0..1000 {
                        let info = bp.peek_current(&l);
                        assert!((0..16).contains(&info.partition()));
                        bp.update_partition_info(&info, 8, &l, true);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
}

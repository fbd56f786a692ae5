//! The producer's view of the cluster: brokers, and for each topic of interest its partitions
//! and their leaders.
//!
//! Shared by the caller threads (which wait here, up to `max.block.ms`, for a topic they want to
//! send to) and the sender thread (which refreshes it). The view itself is an immutable
//! [`Cluster`] snapshot replaced whole on each update, so a reader holds an `Arc` and never a
//! lock while it partitions or drains.
//!
//! Refresh policy (as the Java producer): when asked (a caller waits for an unknown topic, a
//! leader is unknown, a broker answered NOT_LEADER_OR_FOLLOWER and the like), and otherwise every
//! `metadata.max.age.ms`. Failed refreshes back off by `retry.backoff.ms`. Topics not used for
//! `metadata.max.idle.ms` are dropped from the requests.

use crate::error::Error;
use crate::hash::FastMap;
use crate::protocol::metadata::MetadataResponse;
use crate::protocol::ErrorCode;
use crate::reachability::{Reachability, Unreached};
use parking_lot::{Condvar, Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One partition: its leader (-1 when none) and the leader's epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionInfo {
    pub partition: i32,
    pub leader: i32,
    pub leader_epoch: i32,
    pub error: ErrorCode,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

/// One topic: its id (zero before Kafka 2.8) and partitions sorted by index.
#[derive(Debug)]
pub(crate) struct TopicInfo {
    pub name: Arc<str>,
    pub topic_id: [u8; 16],
    pub partitions: Vec<PartitionInfo>,
    /// Partitions that have a leader, ascending (what the sticky partitioner picks from).
    pub available: Vec<i32>,
    /// When a send last used the topic, in ms since [`Metadata`]'s epoch: written by callers
    /// without the metadata lock, folded into the idle tracking at each refresh.
    pub last_used: AtomicU64,
}

impl TopicInfo {
    /// Number of partitions.
    pub fn partition_count(&self) -> i32 {
        self.partitions.len() as i32
    }
}

/// An immutable snapshot of what the producer knows of the cluster.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cluster {
    /// Broker id -> `host:port`.
    pub brokers: HashMap<i32, String>,
    pub topics: FastMap<Arc<str>, Arc<TopicInfo>>,
    /// Topics the last response reported an error for (UNKNOWN_TOPIC_OR_PARTITION, ...).
    pub topic_errors: FastMap<Arc<str>, ErrorCode>,
}

impl Cluster {
    /// The leader of a partition, if known and present among the brokers.
    pub fn leader_for(&self, topic: &str, partition: i32) -> Option<i32> {
        let t = self.topics.get(topic)?;
        let p = t
            .partitions
            .get(usize::try_from(partition).ok()?)
            .filter(|p| p.partition == partition)?;
        (p.leader >= 0 && self.brokers.contains_key(&p.leader)).then_some(p.leader)
    }
}

struct Inner {
    /// The same snapshot as `Metadata::snapshot` (changed only with both locks held).
    cluster: Arc<Cluster>,
    /// Bumped on every successful update.
    version: u64,
    /// A refresh was asked for.
    need_update: bool,
    /// A refresh was asked for, but not sooner than `retry.backoff.ms` after the last one
    /// (see [`Metadata::request_update_backed_off`]).
    need_update_backed_off: bool,
    /// Topics to ask about, with when each was last used by a send.
    topics: FastMap<Arc<str>, Instant>,
    last_refresh: Option<Instant>,
    last_failed_attempt: Option<Instant>,
    closed: bool,
    /// The last authentication failure, until a connection authenticates: callers waiting
    /// for metadata get it instead of waiting `max.block.ms`.
    auth_error: Option<Error>,
    /// Brokers the sender could not reach lately: what a timed-out wait reports.
    reachability: Reachability,
}

/// See the module docs.
pub(crate) struct Metadata {
    inner: Mutex<Inner>,
    /// The current cluster, readable without the lock above: the send path's common case
    /// (a known topic) takes only this read lock.
    snapshot: RwLock<Arc<Cluster>>,
    /// Bumped with each new snapshot: a caller that kept a topic's view knows it is current
    /// while this has not moved.
    snapshot_version: AtomicU64,
    /// The origin of [`TopicInfo::last_used`].
    epoch: Instant,
    updated: Condvar,
    max_age: Duration,
    max_idle: Duration,
    retry_backoff: Duration,
}

/// Partition indexes at or above this are ignored in Metadata responses (Kafka's practical
/// limit is far lower): a view is a dense vector indexed by partition.
const MAX_PARTITIONS: i32 = 1 << 20;

/// Errors for a topic that no refresh will cure: the caller fails at once instead of waiting.
fn is_permanent_topic_error(code: ErrorCode) -> bool {
    code == ErrorCode::INVALID_TOPIC_EXCEPTION || code == ErrorCode::TOPIC_AUTHORIZATION_FAILED
}

impl Metadata {
    pub fn new(max_age: Duration, max_idle: Duration, retry_backoff: Duration) -> Self {
        Metadata {
            inner: Mutex::new(Inner {
                cluster: Arc::new(Cluster::default()),
                version: 0,
                need_update: true,
                need_update_backed_off: false,
                topics: FastMap::default(),
                last_refresh: None,
                last_failed_attempt: None,
                closed: false,
                auth_error: None,
                reachability: Reachability::default(),
            }),
            snapshot: RwLock::new(Arc::new(Cluster::default())),
            snapshot_version: AtomicU64::new(0),
            epoch: Instant::now(),
            updated: Condvar::new(),
            max_age,
            max_idle,
            retry_backoff,
        }
    }

    /// The current snapshot.
    pub fn cluster(&self) -> Arc<Cluster> {
        self.snapshot.read().clone()
    }

    /// The version of [`cluster`](Self::cluster): it changes with every new snapshot.
    pub fn version(&self) -> u64 {
        self.snapshot_version.load(Ordering::Acquire)
    }

    /// Notes that a send used `topic` (from the current snapshot) at `now`: what keeps it
    /// from expiring after `metadata.max.idle.ms`. Takes no lock.
    pub fn used(&self, topic: &TopicInfo, now: Instant) {
        let stamp = self.stamp(now);
        // Most sends in a millisecond find the stamp already set: no write.
        if topic.last_used.load(Ordering::Relaxed) != stamp {
            topic.last_used.store(stamp, Ordering::Relaxed);
        }
    }

    fn stamp(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// Asks the sender for a refresh at its next turn.
    pub fn request_update(&self) {
        self.inner.lock().need_update = true;
    }

    /// Asks for a refresh no sooner than `retry.backoff.ms` after the last one. For conditions
    /// a successful refresh may not cure (a queued partition whose leader is unknown, say
    /// because the topic shrank): asking at once each time made the sender refresh at every
    /// turn, about one Metadata request per Produce request under load (found by
    /// tests/producer_mock.rs, a_vanished_partition_...). Java's `Metadata` backs off after
    /// every refresh in the same way.
    pub fn request_update_backed_off(&self) {
        self.inner.lock().need_update_backed_off = true;
    }

    /// Wakes every waiting caller with an error: the producer is closing.
    pub fn close(&self) {
        self.inner.lock().closed = true;
        self.updated.notify_all();
    }

    /// Sender side: a connection failed to authenticate. Callers waiting for metadata (now and
    /// until [`auth_succeeded`](Self::auth_succeeded)) fail with `error`.
    pub fn auth_failed(&self, error: Error) {
        self.inner.lock().auth_error = Some(error);
        self.updated.notify_all();
    }

    /// Sender side: a connection to `broker` failed or could not be opened.
    pub fn broker_failed(&self, broker: &str, reason: &str, now: Instant) {
        self.inner.lock().reachability.failed(broker, reason, now);
    }

    /// Sender side: a connection to `broker` became ready.
    pub fn broker_reached(&self, broker: &str) {
        self.inner.lock().reachability.reached(broker);
    }

    /// Brokers that could not be reached since `since` (and have not been since), and the last
    /// failure: for errors that would otherwise only say that time ran out.
    pub fn unreached_since(&self, since: Instant) -> Unreached {
        self.inner.lock().reachability.since(since)
    }

    /// Sender side: a connection authenticated; forget an earlier failure.
    pub fn auth_succeeded(&self) {
        self.inner.lock().auth_error = None;
    }

    /// Caller side: waits until `topic` has partitions in the metadata, up to `deadline`.
    /// `wake` nudges the sender thread to refresh. Returns the topic and the last clock reading
    /// (`started` when the topic was known at once), so the caller need not read the clock again.
    ///
    /// With `partition`, a topic that has fewer partitions than that is refreshed once (it may
    /// have grown since the last refresh); after that refresh it is returned as it is and the
    /// caller reports the unknown partition.
    pub fn wait_for_topic(
        &self,
        topic: &str,
        partition: Option<i32>,
        started: Instant,
        deadline: Instant,
        wake: impl Fn(),
    ) -> Result<(Arc<TopicInfo>, Instant), Error> {
        // The common case: a known topic, no refresh needed. A topic dropped as idle is no
        // longer in the snapshot after the next refresh, and then takes the slow path below,
        // which asks for it again.
        if let Some(t) = self.snapshot.read().topics.get(topic) {
            if !t.partitions.is_empty() && partition.is_none_or(|p| p < t.partition_count()) {
                self.used(t, started);
                return Ok((t.clone(), started));
            }
        }
        let mut inner = self.inner.lock();
        let mut asked = false;
        let first_version = inner.version;
        // The first turn uses the caller's clock reading: the common case (topic known) reads
        // the clock once per send, not twice.
        let mut now = started;
        loop {
            if inner.closed {
                return Err(Error::Closed {
                    delivery: crate::error::Delivery::NotWritten,
                });
            }
            if let Some(used) = inner.topics.get_mut(topic) {
                *used = now;
            } else {
                inner.topics.insert(Arc::from(topic), now);
                inner.need_update = true;
                asked = false;
            }
            let cluster = inner.cluster.clone();
            if let Some(t) = cluster.topics.get(topic) {
                let short = partition.is_some_and(|p| p >= t.partition_count());
                if !t.partitions.is_empty() && (!short || inner.version != first_version) {
                    return Ok((t.clone(), now));
                }
            }
            if let Some(&code) = cluster.topic_errors.get(topic) {
                if is_permanent_topic_error(code) {
                    return Err(Error::Broker {
                        code,
                        message: Some(Arc::from(format!("topic {topic:?}"))),
                        delivery: crate::error::Delivery::NotWritten,
                    });
                }
            }
            if let Some(e) = &inner.auth_error {
                return Err(e.clone());
            }
            if !asked {
                inner.need_update = true;
                asked = true;
                drop(inner);
                wake();
                inner = self.inner.lock();
                continue;
            }
            if now >= deadline {
                let unreached = inner.reachability.since(started);
                return Err(Error::MetadataTimeout {
                    topic: topic.to_string(),
                    waited: now - started,
                    unreachable_brokers: unreached.brokers,
                    last_connection_error: unreached.last_error,
                    refreshes: inner.version - first_version,
                });
            }
            let version = inner.version;
            let timed_out = self.updated.wait_until(&mut inner, deadline).timed_out();
            now = Instant::now();
            if !timed_out && inner.version != version {
                // A refresh landed without the topic: ask again (it may be being created).
                asked = false;
            }
        }
    }

    /// Sender side: when the next refresh is due (`None` = no refresh wanted yet... never:
    /// there is always the max-age refresh). `Duration::ZERO` = now.
    pub fn time_to_next_update(&self, now: Instant) -> Duration {
        let inner = self.inner.lock();
        let backoff_left = inner
            .last_failed_attempt
            .map(|t| (t + self.retry_backoff).saturating_duration_since(now))
            .unwrap_or_default();
        let expiry = inner.last_refresh.map_or(Duration::ZERO, |t| {
            (t + self.max_age).saturating_duration_since(now)
        });
        let due = if inner.need_update {
            Duration::ZERO
        } else if inner.need_update_backed_off {
            let allowed = inner.last_refresh.map_or(Duration::ZERO, |t| {
                (t + self.retry_backoff).saturating_duration_since(now)
            });
            allowed.min(expiry)
        } else {
            expiry
        };
        due.max(backoff_left)
    }

    /// Sender side: the topics to ask about (dropping those idle longer than `metadata.max.idle.ms`).
    pub fn topics_for_request(&self, now: Instant) -> Vec<Arc<str>> {
        let mut inner = self.inner.lock();
        let max_idle = self.max_idle;
        let cluster = inner.cluster.clone();
        for (name, used) in inner.topics.iter_mut() {
            if let Some(t) = cluster.topics.get(name) {
                let fast = self.epoch + Duration::from_millis(t.last_used.load(Ordering::Relaxed));
                *used = (*used).max(fast);
            }
        }
        inner
            .topics
            .retain(|_, used| now.saturating_duration_since(*used) < max_idle);
        inner.topics.keys().cloned().collect()
    }

    /// Sender side: marks a topic as used (batches for it are still being sent).
    pub fn touch(&self, topic: &Arc<str>, now: Instant) {
        let mut inner = self.inner.lock();
        if let Some(t) = inner.topics.get_mut(topic) {
            *t = now;
        } else {
            inner.topics.insert(topic.clone(), now);
            inner.need_update = true;
        }
    }

    /// Sender side: a refresh failed (no broker answered, or the response was bad).
    pub fn failed_update(&self, now: Instant) {
        self.inner.lock().last_failed_attempt = Some(now);
    }

    /// Sender side: applies a Metadata response. Partial responses (a topic with
    /// LEADER_NOT_AVAILABLE) are kept; a topic missing from the response keeps its old view.
    pub fn update(&self, response: &MetadataResponse, now: Instant) {
        let mut brokers = HashMap::with_capacity(response.brokers.len());
        for b in &response.brokers {
            brokers.insert(b.node_id, format!("{}:{}", b.host, b.port));
        }
        let mut inner = self.inner.lock();
        let mut topics: FastMap<Arc<str>, Arc<TopicInfo>> = FastMap::default();
        let mut topic_errors = FastMap::default();
        let mut retry_soon = false;
        for t in &response.topics {
            let Some(name) = t.name.as_deref() else {
                continue;
            };
            let name: Arc<str> = inner
                .topics
                .get_key_value(name)
                .map(|(k, _)| k.clone())
                .unwrap_or_else(|| Arc::from(name));
            if !t.error_code.is_ok() {
                topic_errors.insert(name.clone(), t.error_code);
                if t.error_code.is_retriable() {
                    retry_soon = true;
                }
                // Keep what we knew: a transient error must not make partitions vanish.
                if let Some(old) = inner.cluster.topics.get(&name) {
                    topics.insert(name, old.clone());
                }
                continue;
            }
            let mut partitions: Vec<PartitionInfo> = t
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    partition: p.partition_index,
                    leader: if p.error_code.is_ok()
                        || p.error_code == ErrorCode::REPLICA_NOT_AVAILABLE
                    {
                        p.leader_id
                    } else {
                        -1
                    },
                    leader_epoch: p.leader_epoch,
                    error: p.error_code,
                    replicas: p.replica_nodes.clone(),
                    isr: p.isr_nodes.clone(),
                })
                .collect();
            // Indexes are untrusted: drop negative and absurd ones and duplicates, so that
            // `partitions[i].partition == i` holds below. (`last + 1` overflowed i32 for an
            // index of i32::MAX, a panic in debug builds; a negative index could land in
            // `available` and be chosen by the partitioner.)
            partitions.retain(|p| (0..MAX_PARTITIONS).contains(&p.partition));
            partitions.sort_by_key(|p| p.partition);
            partitions.dedup_by_key(|p| p.partition);
            // Partition indexes must be 0..n; a gap means a partial view: keep it usable by
            // index, treating the gap as leaderless.
            let n = partitions.last().map_or(0, |p| p.partition as usize + 1);
            if n != partitions.len() {
                let mut full: Vec<PartitionInfo> = (0..n as i32)
                    .map(|i| PartitionInfo {
                        partition: i,
                        leader: -1,
                        leader_epoch: -1,
                        error: ErrorCode::LEADER_NOT_AVAILABLE,
                        replicas: Vec::new(),
                        isr: Vec::new(),
                    })
                    .collect();
                for p in partitions {
                    let i = p.partition as usize;
                    full[i] = p;
                }
                partitions = full;
            }
            if partitions
                .iter()
                .any(|p| p.leader < 0 || !brokers.contains_key(&p.leader))
            {
                retry_soon = true;
            }
            let available = partitions
                .iter()
                .filter(|p| p.leader >= 0 && brokers.contains_key(&p.leader))
                .map(|p| p.partition)
                .collect();
            topics.insert(
                name.clone(),
                Arc::new(TopicInfo {
                    last_used: AtomicU64::new(
                        inner
                            .cluster
                            .topics
                            .get(&name)
                            .map_or(0, |old| old.last_used.load(Ordering::Relaxed)),
                    ),
                    name,
                    topic_id: t.topic_id,
                    partitions,
                    available,
                }),
            );
        }
        // Topics we asked about before and did not ask about this time stay as they were.
        for (name, info) in inner.cluster.topics.iter() {
            if !topics.contains_key(name)
                && !topic_errors.contains_key(name)
                && inner.topics.contains_key(name)
            {
                topics.insert(name.clone(), info.clone());
            }
        }
        inner.cluster = Arc::new(Cluster {
            brokers,
            topics,
            topic_errors,
        });
        {
            let mut snapshot = self.snapshot.write();
            *snapshot = inner.cluster.clone();
            self.snapshot_version.fetch_add(1, Ordering::AcqRel);
        }
        inner.version += 1;
        inner.last_refresh = Some(now);
        inner.last_failed_attempt = if retry_soon { Some(now) } else { None };
        inner.need_update = retry_soon;
        inner.need_update_backed_off = false;
        drop(inner);
        self.updated.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::metadata::{MetadataBroker, MetadataPartition, MetadataTopic};

    fn response(indexes: &[i32]) -> MetadataResponse {
        MetadataResponse {
            throttle_time_ms: 0,
            brokers: vec![MetadataBroker {
                node_id: 1,
                host: "h".into(),
                port: 9092,
                rack: None,
            }],
            cluster_id: None,
            controller_id: 1,
            topics: vec![MetadataTopic {
                error_code: ErrorCode::NONE,
                name: Some("t".into()),
                topic_id: [0; 16],
                is_internal: false,
                partitions: indexes
                    .iter()
                    .map(|&i| MetadataPartition {
                        error_code: ErrorCode::NONE,
                        partition_index: i,
                        leader_id: 1,
                        leader_epoch: 0,
                        replica_nodes: vec![1],
                        isr_nodes: vec![1],
                        offline_replicas: vec![],
                    })
                    .collect(),
                topic_authorized_operations: i32::MIN,
            }],
            cluster_authorized_operations: i32::MIN,
            error_code: ErrorCode::NONE,
        }
    }

    /// Hostile partition indexes: no panic, and the view stays indexed by partition with
    /// only real (non-negative) partitions available.
    #[test]
    fn hostile_partition_indexes() {
        let cases: &[(&[i32], &[i32])] = &[
            (&[i32::MAX], &[]),
            (&[0, i32::MAX], &[0]),
            (&[-1, 1], &[1]),
            (&[i32::MIN, -5], &[]),
            (&[0, 0, 2], &[0, 2]),
            (&[2, 1, 0], &[0, 1, 2]),
        ];
        for &(indexes, available) in cases {
            let m = Metadata::new(
                Duration::from_secs(1),
                Duration::from_secs(1),
                Duration::ZERO,
            );
            m.update(&response(indexes), Instant::now());
            let c = m.cluster();
            let t = &c.topics["t"];
            assert_eq!(t.available, available, "{indexes:?}");
            for (i, p) in t.partitions.iter().enumerate() {
                assert_eq!(p.partition as usize, i, "{indexes:?}");
            }
            for &p in available {
                assert_eq!(c.leader_for("t", p), Some(1), "{indexes:?}");
            }
        }
    }

    /// A backed-off request waits `retry.backoff.ms` after the last refresh; a plain one does
    /// not.
    #[test]
    fn backed_off_update_requests() {
        let backoff = Duration::from_millis(100);
        let m = Metadata::new(Duration::from_secs(300), Duration::from_secs(300), backoff);
        let t0 = Instant::now();
        m.update(&response(&[0]), t0);
        assert_eq!(m.time_to_next_update(t0), Duration::from_secs(300));
        m.request_update_backed_off();
        assert_eq!(m.time_to_next_update(t0), backoff);
        assert_eq!(m.time_to_next_update(t0 + backoff), Duration::ZERO);
        m.request_update();
        assert_eq!(m.time_to_next_update(t0), Duration::ZERO);
        m.update(&response(&[0]), t0);
        assert_eq!(m.time_to_next_update(t0), Duration::from_secs(300));
    }
}

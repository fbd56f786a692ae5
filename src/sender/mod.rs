//! The sender thread: the only place that ties the accumulator to the network.
//!
//! One OS thread per producer runs [`Sender::run`]. Each turn it:
//! 1. asks for a producer id first when idempotence is on (InitProducerId);
//! 2. refreshes metadata when asked or when it is older than `metadata.max.age.ms`;
//! 3. asks the accumulator which leaders have sendable batches, connects to those it is not
//!    connected to (after the reconnect backoff), and drains batches for those whose connection
//!    is ready and has room under `max.in.flight.requests.per.connection`;
//! 4. sends one Produce request per broker, fails batches whose `delivery.timeout.ms` passed
//!    and closes connections whose oldest request passed `request.timeout.ms`;
//! 5. waits for socket readiness or a wake-up (an append that filled or started a batch, a
//!    flush, a close, a caller waiting for metadata), bounded by the next timer;
//! 6. reads responses: completes batches (callbacks run here), retries retriable failures with
//!    exponential backoff, and marks metadata stale when a broker says it is not the leader.
//!
//! # Connection setup and SASL
//!
//! A new connection is ready for requests once ApiVersions has answered and, with a `SASL_*`
//! security protocol, the SASL exchange has succeeded: SaslHandshake v1 (the mechanism), then
//! SaslAuthenticate rounds carrying the mechanism's tokens ([`crate::net::sasl`]). Every step is
//! a request in flight on the non-blocking connection like any other: the sender thread never
//! blocks on it, and `request.timeout.ms` bounds each step.
//!
//! When authentication fails (bad credentials, a mechanism the broker does not enable, a
//! listener that is not SASL, a bad SCRAM server signature) the error is logged once per broker
//! (with the broker's message), the connection is closed and retried after the reconnect
//! backoff, and, because credentials are the same for every broker, the failure is reported
//! at once rather than after a timeout: every queued batch fails with
//! [`Error::Authentication`], and `send` calls waiting for metadata fail with it too (until a
//! connection authenticates again). A TLS handshake that fails (`SSL` / `SASL_SSL`: the
//! broker's certificate is not trusted or does not name it) is handled the same way, with a
//! reason that says so. Batches already in flight on authenticated connections are
//! left alone. The session lifetime a broker may announce (KIP-368 re-authentication) is not
//! acted on: when a broker with `connections.max.reauth.ms` closes the expired connection, the
//! producer reconnects and authenticates again, and requests in flight then are retried.
//!
//! # Idempotence
//!
//! With `enable.idempotence` (the default), a producer id and epoch are obtained before the
//! first batch is drained; each partition's sequence is assigned when a batch is first drained
//! and kept across its retries. Up to `max.in.flight` (<= 5) batches of a partition may be in
//! flight. When one fails and is retried, the partition stops draining until every batch of it
//! in flight has come back, and retries go out again in sequence order (the accumulator keeps
//! re-enqueued batches sorted by sequence). A batch answered OUT_OF_ORDER_SEQUENCE_NUMBER is
//! retried when an earlier batch of the partition is itself being retried (the broker refused it
//! only because of the gap); otherwise the sequence really diverged and the batch fails.
//! DUPLICATE_SEQUENCE_NUMBER means the broker already has the batch: success.
//!
//! Faults (KIP-360, as Java's idempotent producer): a batch that fails for good while it may
//! have been written (delivery timeout, retries exhausted after an unanswered attempt) can
//! neither give its sequences to later batches nor leave them out, so its partition's sequence
//! is *unresolved*: new batches of the partition wait. Once nothing of the partition is in
//! flight or queued for a retry, a later acknowledged batch proves the unknown one was written;
//! otherwise the epoch is bumped and the partition restarts at sequence 0. An
//! OUT_OF_ORDER_SEQUENCE_NUMBER that nothing earlier explains, and UNKNOWN_PRODUCER_ID, are
//! retried after an epoch bump; INVALID_PRODUCER_EPOCH / PRODUCER_FENCED fail the batch and
//! get a new producer id. See [`Sender::bump_epoch_if_due`] for what happens to queued
//! retries.

use crate::accumulator::{BatchAck, DrainHook, LeaderLookup, ProducerBatch, RecordAccumulator};
use crate::config::SaslSettings;
use crate::error::{Delivery, Error};
use crate::metadata::{Cluster, Metadata};
use crate::net::sasl::{SaslClient, Step};
use crate::net::tls::TlsConnector;
use crate::net::{Connection, ConnectionError, Response};
use crate::protocol::api_versions::{self, ApiVersionsRequest, ApiVersionsResponse};
use crate::protocol::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
use crate::protocol::metadata::{MetadataRequest, MetadataResponse};
use crate::protocol::produce::{
    self, ProducePartition, ProduceRequest, ProduceResponse, ProduceTopic,
};
use crate::protocol::sasl_authenticate::{SaslAuthenticateRequest, SaslAuthenticateResponse};
use crate::protocol::sasl_handshake::{SaslHandshakeRequest, SaslHandshakeResponse};
use crate::protocol::versions::ApiVersionTable;
use crate::protocol::ErrorCode;
use crate::protocol::Request;
use crate::record::TopicPartition;
use polling::{Events, Poller};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Settings the sender needs (from the producer config).
#[derive(Debug, Clone)]
pub(crate) struct SenderConfig {
    pub bootstrap: Vec<String>,
    pub client_id: String,
    /// -1 (all), 0 or 1.
    pub acks: i16,
    pub request_timeout: Duration,
    pub delivery_timeout: Duration,
    pub max_request_size: usize,
    pub max_in_flight: usize,
    pub retries: u32,
    pub retry_backoff: Duration,
    pub reconnect_backoff: Duration,
    pub reconnect_backoff_max: Duration,
    pub connection_setup_timeout: Duration,
    pub idempotence: bool,
    /// SASL mechanism and credentials, for a `SASL_*` security protocol (`Debug` hides the
    /// password).
    pub sasl: Option<SaslSettings>,
    /// TLS sessions with brokers, for an `SSL` / `SASL_SSL` security protocol.
    pub tls: Option<TlsConnector>,
}

/// State shared by the producer handle and the sender thread.
pub(crate) struct Shared {
    pub accumulator: Arc<RecordAccumulator>,
    pub metadata: Arc<Metadata>,
    pub poller: Arc<Poller>,
    /// Cleared by `close`: stop taking work, send what is queued, then exit.
    pub running: AtomicBool,
    /// Set when the close timeout ran out: fail everything still pending and exit.
    pub force_close: AtomicBool,
}

impl Shared {
    /// Wakes the sender thread out of its readiness wait.
    pub fn wake(&self) {
        let _ = self.poller.notify();
    }
}

/// What a request in flight was for; comes back with its response or when its connection dies.
enum RequestCtx {
    ApiVersions,
    SaslHandshake,
    SaslAuthenticate,
    Metadata,
    InitProducerId,
    Produce(Vec<ProducerBatch>),
}

/// A broker we may talk to: a node id from metadata, or a negative id for a bootstrap address.
struct Node {
    addr: String,
    conn: Option<Connection<RequestCtx>>,
    /// ApiVersions answered: the versions both sides speak.
    versions: Option<ApiVersionTable>,
    /// The SASL exchange under way on this connection (not ready until it is done).
    sasl: Option<SaslClient>,
    /// An authentication failure was logged at error level; later ones are logged at debug
    /// until the node authenticates again.
    auth_failure_logged: bool,
    /// No connection attempt before this instant.
    reconnect_at: Option<Instant>,
    consecutive_failures: u32,
}

impl Node {
    fn new(addr: String) -> Self {
        Node {
            addr,
            conn: None,
            versions: None,
            sasl: None,
            auth_failure_logged: false,
            reconnect_at: None,
            consecutive_failures: 0,
        }
    }
    fn is_ready(&self) -> bool {
        self.conn.is_some() && self.versions.is_some() && self.sasl.is_none()
    }
    /// Connected, and ApiVersions or SASL still under way.
    fn is_setting_up(&self) -> bool {
        self.conn.is_some() && !self.is_ready()
    }
    fn in_flight(&self) -> usize {
        self.conn.as_ref().map_or(0, |c| c.in_flight())
    }
}

/// Idempotent-producer state (KIP-98, KIP-360): producer id, epoch, and per partition the
/// next sequence to assign, the batches in flight and what is pending (a retry, a hole, a
/// sequence whose fate is unknown, a new epoch).
#[derive(Default)]
struct Idempotence {
    enabled: bool,
    producer_id: i64,
    producer_epoch: i16,
    in_flight_request: bool,
    retry_at: Option<Instant>,
    partitions: HashMap<TopicPartition, PartitionSeq>,
    max_in_flight: usize,
    /// Partitions whose sequences must restart at 0 under a new epoch (KIP-360). They drain
    /// nothing until it is done ([`Sender::bump_epoch_if_due`]).
    bumps: HashMap<TopicPartition, Bump>,
    /// The next bump takes a new producer id (InitProducerId) instead of the next epoch:
    /// INVALID_PRODUCER_EPOCH or PRODUCER_FENCED answered a batch of the current id/epoch.
    new_id_needed: bool,
}

/// Why a partition waits for a new epoch, and what the broker proved about its batches.
#[derive(Debug, Clone, Copy)]
struct Bump {
    /// The error behind it: the answer given to a queued retry that cannot be resent.
    cause: ErrorCode,
    /// (producer id, epoch, sequence): the broker refused this sequence OUT_OF_ORDER or
    /// UNKNOWN_PRODUCER_ID with nothing earlier pending, so no batch of the partition from
    /// this sequence on, under that id and epoch, is in the log.
    absent_from: Option<(i64, i16, i32)>,
}

#[derive(Default)]
struct PartitionSeq {
    /// The producer id and epoch the sequences below belong to. `None` (a new partition, or
    /// one just reset by an epoch bump) or an older pair than the producer's: the next new
    /// batch starts again at sequence 0 under the current pair, once nothing of the
    /// partition is in flight or waiting for a retry.
    owner: Option<(i64, i16)>,
    next_sequence: i32,
    /// Base sequences of this partition's batches in flight.
    in_flight: Vec<i32>,
    /// Lowest base sequence re-enqueued for retry and not yet acknowledged.
    retrying: Option<i32>,
    /// Lowest base sequence of a batch that failed for good without being written (the broker
    /// refused it). The broker will never see that sequence, so every later batch would be
    /// refused OUT_OF_ORDER_SEQUENCE_NUMBER forever: the partition stops draining until its
    /// batches in flight are back, then the queued batches after the hole are renumbered
    /// ([`Sender::close_sequence_holes`]), as Java's `adjustSequencesDueToFailedBatch` does.
    hole: Option<i32>,
    /// Highest sequence acknowledged under `owner`.
    last_acked: Option<i32>,
    /// The sequence after the last batch that failed for good while it may have been written
    /// (delivery timeout, retries exhausted, refused after an unanswered attempt): neither
    /// reusable nor skippable until known. New batches wait; once nothing of the partition is
    /// in flight or queued for a retry, [`Sender::resolve_sequences`] settles it (Java's
    /// `markSequenceUnresolved` / `maybeResolveSequences`).
    unresolved: Option<i32>,
}

impl DrainHook for Idempotence {
    fn can_drain(&mut self, tp: &TopicPartition, first: &ProducerBatch, _now: Instant) -> bool {
        if !self.enabled {
            return true;
        }
        if self.producer_id < 0 || self.bumps.contains_key(tp) {
            return false;
        }
        let Some(p) = self.partitions.get(tp) else {
            return true;
        };
        if p.in_flight.len() >= self.max_in_flight || p.hole.is_some() {
            return false;
        }
        if !first.has_sequence() {
            // A new batch waits while an earlier sequence's fate is unknown, and while
            // batches under an older id/epoch are still out (it would start at sequence 0
            // under the new one, and could land before them).
            if p.unresolved.is_some() {
                return false;
            }
            let stale = p.owner != Some((self.producer_id, self.producer_epoch));
            if stale && (!p.in_flight.is_empty() || p.retrying.is_some()) {
                return false;
            }
        }
        // While a retry is pending, resend nothing until every batch in flight has come back;
        // then resend in sequence order, starting with the lowest.
        if p.retrying.is_some() {
            return p.in_flight.is_empty() && first.has_sequence();
        }
        true
    }

    fn on_drain(&mut self, batch: &mut ProducerBatch, first_time: bool) {
        if !self.enabled {
            return;
        }
        let current = (self.producer_id, self.producer_epoch);
        let p = self
            .partitions
            .entry(batch.topic_partition().clone())
            .or_default();
        if first_time || !batch.has_sequence() {
            if p.owner != Some(current) {
                // The first batch of the partition under this id/epoch: sequences restart at
                // 0 (can_drain made sure nothing older is pending).
                *p = PartitionSeq {
                    owner: Some(current),
                    ..PartitionSeq::default()
                };
            }
            batch.set_producer_state(current.0, current.1, p.next_sequence, false);
            p.next_sequence = p.next_sequence.wrapping_add(batch.record_count()) & i32::MAX;
        }
        p.in_flight.push(batch.base_sequence());
    }
}

impl Idempotence {
    fn batch_returned(&mut self, batch: &ProducerBatch) {
        if let Some(p) = self.partitions.get_mut(batch.topic_partition()) {
            if let Some(i) = p.in_flight.iter().position(|&s| s == batch.base_sequence()) {
                p.in_flight.swap_remove(i);
            }
        }
    }
    fn retry_scheduled(&mut self, batch: &ProducerBatch) {
        if !self.enabled {
            return;
        }
        if let Some(p) = self.partitions.get_mut(batch.topic_partition()) {
            let s = batch.base_sequence();
            p.retrying = Some(p.retrying.map_or(s, |r| r.min(s)));
        }
    }
    fn acknowledged(&mut self, batch: &ProducerBatch) {
        if !self.enabled {
            return;
        }
        if let Some(p) = self.partitions.get_mut(batch.topic_partition()) {
            if p.retrying == Some(batch.base_sequence()) {
                p.retrying = None;
            }
            // The broker took a sequence after the hole (it had no state for this producer
            // and accepted it as a first batch): there is nothing to renumber.
            if p.hole.is_some_and(|h| h < batch.base_sequence()) {
                p.hole = None;
            }
            if p.owner == Some((batch.producer_id(), batch.producer_epoch())) {
                let last = batch.last_sequence();
                p.last_acked = Some(p.last_acked.map_or(last, |a| a.max(last)));
            }
        }
    }
    /// Whether an OUT_OF_ORDER_SEQUENCE_NUMBER for this batch is explained by an earlier batch
    /// of the same partition still pending: being retried, in flight, dropped (a hole to be
    /// renumbered), or of unknown fate with another batch right after it.
    fn gap_explained(&self, batch: &ProducerBatch) -> bool {
        let s = batch.base_sequence();
        self.partitions
            .get(batch.topic_partition())
            .is_some_and(|p| {
                p.retrying.is_some_and(|r| r < s)
                    || p.hole.is_some_and(|h| h < s)
                    || p.in_flight.iter().any(|&f| f < s)
                    || p.unresolved.is_some_and(|u| u < s)
            })
    }
    /// A batch will not be retried. If the broker refused it (`not_written`), its sequence
    /// range becomes a hole that later batches must close; if it may have been written, its
    /// partition's sequence becomes unresolved.
    fn failed_for_good(&mut self, batch: &ProducerBatch, not_written: bool) {
        if !self.enabled {
            return;
        }
        if let Some(p) = self.partitions.get_mut(batch.topic_partition()) {
            let s = batch.base_sequence();
            if p.retrying == Some(s) {
                p.retrying = None;
            }
            let ours = batch.has_sequence()
                && p.owner == Some((batch.producer_id(), batch.producer_epoch()));
            if !ours {
                return;
            }
            if not_written {
                p.hole = Some(p.hole.map_or(s, |h| h.min(s)));
            } else {
                let next = batch.last_sequence().wrapping_add(1) & i32::MAX;
                p.unresolved = Some(p.unresolved.map_or(next, |u| u.max(next)));
            }
        }
    }
    /// Asks for a new epoch before `tp` sends again. `absent` is the batch whose refusal
    /// proves that it and every later batch of the partition (same id and epoch) is not in
    /// the log.
    fn request_bump(
        &mut self,
        tp: &TopicPartition,
        cause: ErrorCode,
        absent: Option<&ProducerBatch>,
    ) {
        let entry = self.bumps.entry(tp.clone()).or_insert(Bump {
            cause,
            absent_from: None,
        });
        if let Some(b) = absent {
            let (pid, epoch, s) = (b.producer_id(), b.producer_epoch(), b.base_sequence());
            entry.absent_from = Some(match entry.absent_from {
                Some((p, e, old)) if (p, e) == (pid, epoch) => (p, e, old.min(s)),
                _ => (pid, epoch, s),
            });
        }
        log::info!("{tp}: {cause}; its sequences restart under a new producer epoch");
    }
}

/// Whether the last attempt of a batch was answered by the broker (so it was not appended).
/// Why [`Sender::send_request`] sent nothing.
#[derive(Debug)]
enum RequestError {
    /// The broker speaks no version of the API in our range.
    Unsupported,
    /// Not connected, not ready, or the frame could not be written.
    Failed(String),
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::Unsupported => {
                f.write_str("the broker supports no version of it that we speak")
            }
            RequestError::Failed(e) => f.write_str(e),
        }
    }
}

enum ErrKind {
    Broker,
    Other,
}

/// Leader lookup over a metadata snapshot.
struct Leaders<'a>(&'a Cluster);
impl LeaderLookup for Leaders<'_> {
    fn leader_for(&self, tp: &TopicPartition) -> Option<i32> {
        self.0.leader_for(&tp.topic, tp.partition)
    }
}

/// The sender loop. See the module docs.
pub(crate) struct Sender {
    cfg: SenderConfig,
    shared: Arc<Shared>,
    nodes: HashMap<i32, Node>,
    /// Poller key -> node id.
    keys: HashMap<usize, i32>,
    next_key: usize,
    next_bootstrap: usize,
    metadata_in_flight: bool,
    idem: Idempotence,
    events: Events,
    jitter: u64,
}

const ALL_ACKS: i16 = -1;

impl Sender {
    pub fn new(cfg: SenderConfig, shared: Arc<Shared>) -> Self {
        let mut nodes = HashMap::new();
        for (i, addr) in cfg.bootstrap.iter().enumerate() {
            nodes.insert(-1 - i as i32, Node::new(addr.clone()));
        }
        let idem = Idempotence {
            enabled: cfg.idempotence,
            producer_id: -1,
            producer_epoch: -1,
            max_in_flight: cfg.max_in_flight.max(1),
            ..Default::default()
        };
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64)
            | 1;
        Sender {
            cfg,
            shared,
            nodes,
            keys: HashMap::new(),
            next_key: 1,
            next_bootstrap: 0,
            metadata_in_flight: false,
            idem,
            events: Events::new(),
            jitter: seed,
        }
    }

    /// Runs until the producer closes. Every batch gets its answer before this returns.
    pub fn run(mut self) {
        log::debug!("sender thread started");
        while self.shared.running.load(Ordering::Acquire) {
            self.run_once();
        }
        // Graceful close: send what is queued and wait for what is in flight.
        while !self.shared.force_close.load(Ordering::Acquire)
            && (self.shared.accumulator.has_undrained() || self.any_in_flight())
        {
            self.run_once();
        }
        if self.shared.force_close.load(Ordering::Acquire) {
            log::debug!("sender: forced close, failing what is pending");
        }
        // Close every connection: in-flight batches fail as "may have been written".
        let ids: Vec<i32> = self.nodes.keys().copied().collect();
        for id in ids {
            if let Some(conn) = self.nodes.get_mut(&id).and_then(|n| n.conn.take()) {
                for (ctx, _) in conn.close() {
                    if let RequestCtx::Produce(batches) = ctx {
                        for b in batches {
                            let d = b.delivery_if_failed();
                            b.done(Err(Error::Closed { delivery: d }));
                        }
                    }
                }
            }
        }
        // Anything still queued (or appended by a racing caller) is answered now.
        self.shared
            .accumulator
            .abort_incomplete_batches(|_, delivery| Error::Closed { delivery });
        log::debug!("sender thread stopped");
    }

    fn any_in_flight(&self) -> bool {
        self.nodes
            .values()
            .any(|n| n.in_flight() > 0 || n.conn.as_ref().is_some_and(|c| c.has_pending_writes()))
    }

    fn rand(&mut self) -> u64 {
        // xorshift64*: only for jitter and picking a node.
        let mut x = self.jitter;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.jitter = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// One turn of the loop.
    fn run_once(&mut self) {
        let now = Instant::now();
        let mut timeout = Duration::from_secs(1);

        self.sync_nodes_with_metadata();
        self.maybe_init_producer_id(now, &mut timeout);
        self.maybe_update_metadata(now, &mut timeout);
        self.send_produce_requests(now, &mut timeout);
        self.fail_expired(now, &mut timeout);
        self.check_request_timeouts(now, &mut timeout);

        // Flush writes and re-arm interest before waiting.
        let mut broken = Vec::new();
        for (&id, node) in self.nodes.iter_mut() {
            if let Some(conn) = node.conn.as_mut() {
                if let Err(e) = conn
                    .flush()
                    .and_then(|_| conn.rearm().map_err(ConnectionError::Io))
                {
                    broken.push((id, e));
                }
            }
        }
        if !broken.is_empty() {
            // As for request timeouts: let the next turn see the new backoff timers.
            timeout = Duration::ZERO;
        }
        for (id, e) in broken {
            self.connection_error(id, e, now);
        }
        self.complete_unanswered(now);

        let timeout = if self.shared.running.load(Ordering::Acquire) {
            timeout
        } else {
            timeout.min(Duration::from_millis(50))
        };
        self.events.clear();
        if let Err(e) = self.shared.poller.wait(&mut self.events, Some(timeout)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                log::warn!("readiness wait failed: {e}");
            }
        }
        let now = Instant::now();
        let ready: Vec<(usize, bool, bool)> = self
            .events
            .iter()
            .map(|ev| (ev.key, ev.readable, ev.writable))
            .collect();
        for (key, readable, writable) in ready {
            let Some(&id) = self.keys.get(&key) else {
                continue;
            };
            let Some(conn) = self.nodes.get_mut(&id).and_then(|n| n.conn.as_mut()) else {
                continue;
            };
            let mut result = Ok(Vec::new());
            if writable && conn.is_connecting() {
                // The non-blocking connect finished: succeeded (queued requests go out now) or
                // failed (reconnect backoff).
                if let Err(e) = conn.finish_connect() {
                    result = Err(e);
                }
            }
            if writable && result.is_ok() {
                if let Err(e) = conn.flush() {
                    result = Err(e);
                }
            }
            if readable && result.is_ok() {
                result = conn.read();
            }
            match result {
                Ok(responses) => {
                    for r in responses {
                        self.handle_response(id, r, now);
                    }
                }
                Err(e) => {
                    // Responses that arrived before the error are lost with the connection
                    // only if they were not parsed; parsed ones were returned above.
                    self.connection_error(id, e, now);
                }
            }
        }
        self.complete_unanswered(now);
    }

    /// Adds metadata brokers as nodes and forgets brokers no longer listed (idle ones only).
    fn sync_nodes_with_metadata(&mut self) {
        let cluster = self.shared.metadata.cluster();
        // Once the brokers are known by id and one of them is ready, bootstrap connections
        // are not needed: close the idle ones (their broker is reached again under its own
        // id). Not before one is ready: when every known broker is in its reconnect backoff,
        // the bootstrap connection is how metadata is fetched, and closing it as soon as its
        // ApiVersions answer came made the sender open and close one every few milliseconds
        // until the backoff ended (a connection storm seen through tests/producer_proxy.rs,
        // connection_resets_...).
        let known_ready = self.nodes.iter().any(|(&id, n)| id >= 0 && n.is_ready());
        if !cluster.brokers.is_empty() && known_ready {
            for (&id, n) in self.nodes.iter_mut() {
                let idle = n
                    .conn
                    .as_ref()
                    .is_some_and(|c| c.in_flight() == 0 && !c.has_pending_writes());
                if id < 0 && idle {
                    if let Some(c) = n.conn.take() {
                        drop(c.close());
                        n.versions = None;
                        n.sasl = None;
                        self.keys.retain(|_, v| *v != id);
                    }
                }
            }
        }
        for (&id, addr) in &cluster.brokers {
            match self.nodes.get_mut(&id) {
                Some(n) if &n.addr == addr => {}
                Some(n) => {
                    if n.in_flight() == 0 {
                        if let Some(c) = n.conn.take() {
                            drop(c.close());
                        }
                        *n = Node::new(addr.clone());
                    }
                }
                None => {
                    self.nodes.insert(id, Node::new(addr.clone()));
                }
            }
        }
    }

    /// Starts a connection to `id` if allowed now; returns whether it is connected (perhaps
    /// still waiting for its ApiVersions answer).
    fn ensure_connected(&mut self, id: i32, now: Instant) -> bool {
        let Some(node) = self.nodes.get_mut(&id) else {
            return false;
        };
        if node.conn.is_some() {
            return true;
        }
        if node.reconnect_at.is_some_and(|t| now < t) {
            return false;
        }
        let key = self.next_key;
        self.next_key += 1;
        let addr = node.addr.clone();
        log::debug!("connecting to node {id} at {addr}");
        match Connection::connect(
            &addr,
            self.cfg.tls.as_ref(),
            self.cfg.connection_setup_timeout,
            now,
            self.shared.poller.clone(),
            key,
        ) {
            Ok(mut conn) => {
                let req = ApiVersionsRequest {
                    client_software_name: "kafka-sync",
                    client_software_version: env!("CARGO_PKG_VERSION"),
                };
                let client_id = Some(self.cfg.client_id.as_str()).filter(|s| !s.is_empty());
                let v = api_versions::MAX_VERSION;
                match conn.send(
                    api_versions::API_KEY,
                    v,
                    client_id,
                    true,
                    now,
                    RequestCtx::ApiVersions,
                    |b| req.encode(v, b),
                ) {
                    Ok(_) => {}
                    Err((e, _)) => {
                        log::warn!("node {id}: cannot encode ApiVersions: {e}");
                        return false;
                    }
                }
                self.keys.insert(key, id);
                let node = self.nodes.get_mut(&id).expect("present");
                node.conn = Some(conn);
                node.versions = None;
                node.sasl = None;
                true
            }
            Err(e @ ConnectionError::Tls(_)) => {
                self.auth_failed(id, e.to_string(), now);
                self.connection_failed(id, now);
                false
            }
            Err(e) => {
                log::warn!("node {id} ({addr}): {e}");
                self.connection_failed(id, now);
                false
            }
        }
    }

    fn connection_failed(&mut self, id: i32, now: Instant) {
        let base = self.cfg.reconnect_backoff;
        let max = self.cfg.reconnect_backoff_max;
        let r = self.rand();
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        node.consecutive_failures = node.consecutive_failures.saturating_add(1);
        let exp = base
            .saturating_mul(1u32 << node.consecutive_failures.saturating_sub(1).min(16))
            .min(max);
        // +-20% jitter (KIP-144).
        let jitter = 0.8 + (r % 4001) as f64 / 10000.0;
        let backoff = exp.mul_f64(jitter).min(max.mul_f64(1.2));
        node.reconnect_at = Some(now + backoff);
        self.shared.metadata.request_update();
    }

    /// A connection failed: a TLS failure (untrusted certificate, wrong host name) is
    /// reported like an authentication failure, since retrying cannot fix it; anything else
    /// closes the connection for a later retry.
    fn connection_error(&mut self, id: i32, e: ConnectionError, now: Instant) {
        match e {
            ConnectionError::Tls(_) => self.auth_failed(id, e.to_string(), now),
            e => self.disconnect(id, &e.to_string(), now),
        }
    }

    /// Closes a connection; everything in flight on it is failed or retried.
    fn disconnect(&mut self, id: i32, reason: &str, now: Instant) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        let Some(conn) = node.conn.take() else { return };
        node.versions = None;
        node.sasl = None;
        let addr = node.addr.clone();
        log::info!("disconnected from node {id} ({addr}): {reason}");
        self.keys.retain(|_, v| *v != id);
        for (ctx, _sent) in conn.close() {
            match ctx {
                RequestCtx::ApiVersions
                | RequestCtx::SaslHandshake
                | RequestCtx::SaslAuthenticate => {}
                RequestCtx::Metadata => {
                    self.metadata_in_flight = false;
                    self.shared.metadata.failed_update(now);
                }
                RequestCtx::InitProducerId => {
                    self.idem.in_flight_request = false;
                    self.idem.retry_at = Some(now + self.cfg.retry_backoff);
                }
                RequestCtx::Produce(batches) => {
                    for b in batches {
                        let err = Error::Network {
                            broker: addr.clone(),
                            reason: reason.to_string(),
                            delivery: Delivery::Unknown,
                        };
                        self.fail_or_retry(b, err, now);
                    }
                }
            }
        }
        self.connection_failed(id, now);
    }

    /// A ready node with the fewest requests in flight, or failing that a node to connect to.
    fn least_loaded_node(&mut self, now: Instant) -> Option<i32> {
        let mut best: Option<(usize, i32)> = None;
        for (&id, n) in &self.nodes {
            if n.is_ready() && n.in_flight() < self.cfg.max_in_flight.max(1) {
                let load = n.in_flight();
                if best.is_none_or(|(l, _)| load < l) {
                    best = Some((load, id));
                }
            }
        }
        if let Some((_, id)) = best {
            return Some(id);
        }
        // Nothing ready: if a connection is being set up, wait for it.
        if self.nodes.values().any(Node::is_setting_up) {
            return None;
        }
        // Connect to a known broker first, else cycle through the bootstrap list.
        let mut candidates: Vec<i32> = self
            .nodes
            .iter()
            .filter(|(&id, n)| {
                id >= 0 && n.conn.is_none() && n.reconnect_at.is_none_or(|t| now >= t)
            })
            .map(|(&id, _)| id)
            .collect();
        if candidates.is_empty() {
            let n = self.cfg.bootstrap.len();
            for k in 0..n {
                let id = -1 - ((self.next_bootstrap + k) % n) as i32;
                let node = &self.nodes[&id];
                if node.conn.is_none() && node.reconnect_at.is_none_or(|t| now >= t) {
                    candidates.push(id);
                    self.next_bootstrap = (self.next_bootstrap + k + 1) % n;
                    break;
                }
            }
        }
        if candidates.is_empty() {
            return None;
        }
        let pick = candidates[(self.rand() % candidates.len() as u64) as usize];
        self.ensure_connected(pick, now);
        None
    }

    /// Time until the earliest reconnect backoff ends (to bound the wait).
    fn next_reconnect(&self, now: Instant) -> Option<Duration> {
        self.nodes
            .values()
            .filter(|n| n.conn.is_none())
            .filter_map(|n| n.reconnect_at)
            .map(|t| t.saturating_duration_since(now))
            .min()
    }

    fn maybe_update_metadata(&mut self, now: Instant, timeout: &mut Duration) {
        if self.metadata_in_flight {
            return;
        }
        let due = self.shared.metadata.time_to_next_update(now);
        if !due.is_zero() {
            *timeout = (*timeout).min(due);
            return;
        }
        let Some(id) = self.least_loaded_node(now) else {
            if let Some(d) = self.next_reconnect(now) {
                *timeout = (*timeout).min(d.max(Duration::from_millis(1)));
            }
            return;
        };
        let topics = self.shared.metadata.topics_for_request(now);
        let names: Vec<&str> = topics.iter().map(|t| &**t).collect();
        let req = MetadataRequest::for_topics(&names, false);
        match self.send_request(
            id,
            &req,
            MetadataRequest::MIN_VERSION,
            RequestCtx::Metadata,
            now,
        ) {
            Ok(()) => self.metadata_in_flight = true,
            Err(e) => {
                log::error!("node {id}: cannot send a Metadata request: {e}");
                self.shared.metadata.failed_update(now);
            }
        }
    }

    /// Sends a request to a node whose ApiVersions are known, at the highest version both
    /// sides speak (never below `min_version`).
    fn send_request<R: Request>(
        &mut self,
        id: i32,
        req: &R,
        min_version: i16,
        ctx: RequestCtx,
        now: Instant,
    ) -> Result<(), RequestError> {
        let client_id = Some(self.cfg.client_id.as_str()).filter(|s| !s.is_empty());
        let node = self
            .nodes
            .get_mut(&id)
            .ok_or(RequestError::Failed("unknown node".into()))?;
        let v = node
            .versions
            .as_ref()
            .ok_or(RequestError::Failed("not ready".into()))?
            .negotiate(R::API_KEY, min_version, R::MAX_VERSION)
            .ok_or(RequestError::Unsupported)?;
        let conn = node
            .conn
            .as_mut()
            .ok_or(RequestError::Failed("not connected".into()))?;
        conn.send(R::API_KEY, v, client_id, true, now, ctx, |b| {
            req.encode_body(v, b)
        })
        .map(|_| ())
        .map_err(|(e, _)| RequestError::Failed(e.to_string()))
    }

    fn maybe_init_producer_id(&mut self, now: Instant, timeout: &mut Duration) {
        if !self.idem.enabled || self.idem.producer_id >= 0 || self.idem.in_flight_request {
            return;
        }
        if let Some(t) = self.idem.retry_at {
            if now < t {
                *timeout = (*timeout).min(t - now);
                return;
            }
        }
        // Only worth asking once there is something to send or it was asked for.
        let Some(id) = self.least_loaded_node(now) else {
            return;
        };
        let req = InitProducerIdRequest::new(None, i32::MAX);
        match self.send_request(
            id,
            &req,
            InitProducerIdRequest::MIN_VERSION,
            RequestCtx::InitProducerId,
            now,
        ) {
            Ok(()) => self.idem.in_flight_request = true,
            Err(e) => {
                log::error!("node {id}: cannot send InitProducerId (idempotence needs it): {e}");
                self.idem.retry_at = Some(now + self.cfg.retry_backoff);
            }
        }
    }

    /// Idempotence bookkeeping before a drain: settles unresolved sequences, starts a new
    /// epoch when one is due, and closes sequence holes, in that order.
    fn settle_sequences(&mut self) {
        if !self.idem.enabled {
            return;
        }
        self.resolve_sequences();
        self.bump_epoch_if_due();
        self.close_sequence_holes();
    }

    /// Settles [`PartitionSeq::unresolved`] for partitions with nothing in flight and no
    /// retry queued. A batch acknowledged after the unknown one proves that the unknown one
    /// was written (the broker takes sequences in order), so nothing is to be done; otherwise
    /// nobody can tell, and the partition restarts at sequence 0 under a new epoch (KIP-360),
    /// which the broker accepts whatever it has of the old one. A partition still on an older
    /// id/epoch needs no new epoch: it moves to the current one with its next batch.
    fn resolve_sequences(&mut self) {
        let acc = self.shared.accumulator.clone();
        let current = (self.idem.producer_id, self.idem.producer_epoch);
        let mut bump = Vec::new();
        for (tp, p) in self.idem.partitions.iter_mut() {
            let Some(u) = p.unresolved else { continue };
            if !p.in_flight.is_empty() || self.idem.bumps.contains_key(tp) {
                continue;
            }
            let mut retry_queued = false;
            acc.for_each_queued(tp, |b| retry_queued |= b.has_sequence() && !b.is_done());
            if retry_queued {
                continue;
            }
            let written_after = p
                .last_acked
                .is_some_and(|a| i64::from(a) + 1 >= i64::from(u));
            if written_after || p.owner != Some(current) {
                log::debug!("{tp}: sequence before {u} resolved (a later batch was acknowledged, or the epoch moved on)");
                p.unresolved = None;
            } else {
                bump.push(tp.clone());
            }
        }
        for tp in bump {
            log::info!(
                "{tp}: a batch failed while it may have been written and no later batch was \
                 acknowledged"
            );
            self.idem
                .request_bump(&tp, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, None);
        }
    }

    /// Starts a new epoch (KIP-360) once the partitions waiting for it have nothing in flight.
    ///
    /// As Java's idempotent producer does (`bumpIdempotentEpochAndResetIdIfNeeded`), the
    /// epoch is bumped locally: same producer id, epoch + 1, and the broker accepts the new
    /// epoch from sequence 0 (Kafka 0.11+). A broker answers a non-transactional
    /// InitProducerId with a fresh id whatever id/epoch it is given, so asking would only
    /// cost a round trip. A fresh id is asked for (InitProducerId) when the epoch is
    /// exhausted or the broker said INVALID_PRODUCER_EPOCH / PRODUCER_FENCED.
    ///
    /// Each waiting partition restarts at sequence 0 under the new epoch. Its queued retries
    /// lose their producer state and are numbered afresh at their next drain, in queue order,
    /// when the broker is known not to have them: every attempt was refused, or the refusal
    /// that asked for the bump proves it (see [`Bump::absent_from`]). A queued retry whose
    /// earlier attempt went unanswered and that nothing proves absent may be in the log under
    /// the old epoch, where the new epoch's sequences would not recognise it: resending it
    /// could write it twice, so it fails with the bump's cause and [`Delivery::Unknown`]
    /// (Java would renumber it). Other partitions go on under the old epoch until nothing of
    /// theirs is pending, then restart at 0 under the new one (see [`PartitionSeq::owner`]).
    fn bump_epoch_if_due(&mut self) {
        if self.idem.bumps.is_empty() {
            return;
        }
        let busy = self.idem.bumps.keys().any(|tp| {
            self.idem
                .partitions
                .get(tp)
                .is_some_and(|p| !p.in_flight.is_empty())
        });
        if busy {
            return;
        }
        let idem = &mut self.idem;
        let current = (idem.producer_id, idem.producer_epoch);
        let on_current = idem.producer_id >= 0
            && idem.bumps.keys().any(|tp| {
                idem.partitions
                    .get(tp)
                    .is_some_and(|p| p.owner == Some(current))
            });
        if idem.new_id_needed || (on_current && idem.producer_epoch == i16::MAX) {
            if idem.producer_id >= 0 {
                log::info!(
                    "producer id {} epoch {}: asking for a new producer id",
                    idem.producer_id,
                    idem.producer_epoch
                );
            }
            idem.producer_id = -1;
            idem.producer_epoch = -1;
            idem.new_id_needed = false;
            idem.retry_at = None;
        } else if on_current {
            idem.producer_epoch += 1;
            log::info!(
                "producer id {}: epoch bumped to {}",
                idem.producer_id,
                idem.producer_epoch
            );
        }
        let acc = self.shared.accumulator.clone();
        let bumps: Vec<(TopicPartition, Bump)> = self.idem.bumps.drain().collect();
        for (tp, bump) in bumps {
            self.idem
                .partitions
                .insert(tp.clone(), PartitionSeq::default());
            let unsafe_to_resend = acc.take_queued_if(&tp, |b| {
                if !b.has_sequence() || b.is_done() {
                    return false;
                }
                let absent = bump.absent_from.is_some_and(|(pid, epoch, s)| {
                    (b.producer_id(), b.producer_epoch()) == (pid, epoch) && b.base_sequence() >= s
                });
                if absent {
                    b.proven_not_written();
                } else if b.is_ambiguous() {
                    return true;
                }
                b.clear_producer_state();
                false
            });
            for b in unsafe_to_resend {
                log::warn!(
                    "{tp}: a retry whose earlier attempt went unanswered is not resent under \
                     the new epoch (it could be written twice)"
                );
                b.done(Err(Error::Broker {
                    code: bump.cause,
                    message: Some(Arc::from(
                        "the producer epoch was bumped while this batch may already have been \
                         written; it is not resent, as it could be written twice",
                    )),
                    delivery: b.delivery_if_failed(),
                }));
            }
        }
    }

    /// Closes sequence holes (see [`PartitionSeq::hole`]) of partitions with nothing in
    /// flight: the queued batches after the hole (all retries, in sequence order) get
    /// consecutive sequences from the hole on, and the partition's next sequence follows them.
    fn close_sequence_holes(&mut self) {
        if !self.idem.enabled {
            return;
        }
        let acc = self.shared.accumulator.clone();
        let mut bump = Vec::new();
        for (tp, p) in self.idem.partitions.iter_mut() {
            let Some(hole) = p.hole else { continue };
            if !p.in_flight.is_empty() || self.idem.bumps.contains_key(tp) {
                continue;
            }
            if p.last_acked.is_some_and(|a| a >= hole) {
                // The broker took sequences after the hole without the refused batch: it had
                // no state for this producer (a new partition, or state lost) and accepts any
                // sequence then. Renumbering from the hole would reuse sequences it has, and
                // a batch matching one of them is answered as a duplicate — reported written
                // but not in the log (seen under load right after topic creation). A new
                // epoch starts the partition clean instead.
                p.hole = None;
                bump.push(tp.clone());
                continue;
            }
            let mut next = hole;
            let mut lowest_retry: Option<i32> = None;
            acc.for_each_queued(tp, |b| {
                if !b.has_sequence() || b.is_done() {
                    return;
                }
                if b.base_sequence() > hole {
                    let (pid, epoch) = (b.producer_id(), b.producer_epoch());
                    b.set_producer_state(pid, epoch, next, false);
                    next = next.wrapping_add(b.record_count()) & i32::MAX;
                }
                let s = b.base_sequence();
                lowest_retry = Some(lowest_retry.map_or(s, |l| l.min(s)));
            });
            log::debug!("{tp}: sequences renumbered from {hole} (a batch was refused)");
            p.next_sequence = next;
            p.retrying = lowest_retry;
            p.hole = None;
        }
        for tp in bump {
            self.idem
                .request_bump(&tp, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, None);
        }
    }

    fn send_produce_requests(&mut self, now: Instant, timeout: &mut Duration) {
        self.settle_sequences();
        let cluster = self.shared.metadata.cluster();
        let leaders = Leaders(&cluster);
        let acc = self.shared.accumulator.clone();
        let ready = acc.ready(&leaders, now);
        if !ready.unknown_leader_topics.is_empty() {
            for t in &ready.unknown_leader_topics {
                self.shared.metadata.touch(t, now);
            }
            // Backed off: the last refresh may already have answered, and the leader may stay
            // unknown (a partition that no longer exists) until the batch expires.
            self.shared.metadata.request_update_backed_off();
            if !self.metadata_in_flight {
                let due = self.shared.metadata.time_to_next_update(now);
                *timeout = (*timeout).min(due.max(Duration::from_millis(1)));
            }
        }
        if ready.next_ready_check_delay < *timeout {
            *timeout = ready.next_ready_check_delay;
        }
        let mut sendable = HashSet::new();
        for &id in &ready.ready_nodes {
            if !self.ensure_connected(id, now) {
                continue;
            }
            let n = &self.nodes[&id];
            if n.is_ready() && n.in_flight() < self.cfg.max_in_flight.max(1) {
                sendable.insert(id);
            }
        }
        if let Some(d) = self.next_reconnect(now) {
            if !ready.ready_nodes.is_empty() {
                *timeout = (*timeout).min(d.max(Duration::from_millis(1)));
            }
        }
        if sendable.is_empty() {
            return;
        }
        let drained = acc.drain_with(
            &leaders,
            &sendable,
            self.cfg.max_request_size,
            now,
            &mut self.idem,
        );
        // A drain takes at most one batch per partition. When it took something, more may be
        // sendable right away (several batches queued for a partition, room left in flight):
        // turn again without waiting, as Java's Sender polls with a zero timeout when nodes
        // were ready. Without this, a wake-up from `send` that coalesced with an earlier one
        // left the remaining batches waiting for an unrelated event or the 1 s poll timeout
        // (found by tests/producer_mock.rs, five_in_flight_...). It cannot spin: the next
        // turn waits normally unless it drains again.
        if !drained.is_empty() {
            *timeout = Duration::ZERO;
        }
        for (id, batches) in drained {
            self.send_produce(id, batches, &cluster, now);
        }
    }

    fn send_produce(
        &mut self,
        id: i32,
        batches: Vec<ProducerBatch>,
        cluster: &Cluster,
        now: Instant,
    ) {
        let node = self.nodes.get_mut(&id).expect("sendable node");
        let versions = node.versions.as_ref().expect("ready");
        let mut version =
            versions.negotiate(produce::API_KEY, produce::MIN_VERSION, produce::MAX_VERSION);
        // Produce v13+ names topics by id; use it only when every topic's id is known.
        if version.is_some_and(|v| v >= produce::FIRST_TOPIC_ID_VERSION) {
            let all_ids = batches.iter().all(|b| {
                cluster
                    .topics
                    .get(&*b.topic_partition().topic)
                    .is_some_and(|t| t.topic_id != [0; 16])
            });
            if !all_ids {
                version = versions.negotiate(
                    produce::API_KEY,
                    produce::MIN_VERSION,
                    produce::FIRST_TOPIC_ID_VERSION - 1,
                );
            }
        }
        let Some(version) = version else {
            let addr = node.addr.clone();
            for b in batches {
                let err = Error::Network {
                    broker: addr.clone(),
                    reason: "the broker supports no Produce version >= 3 (Kafka 0.11+ is required)"
                        .into(),
                    delivery: Delivery::NotWritten,
                };
                self.idem.batch_returned(&b);
                self.idem.failed_for_good(&b, true);
                b.done(Err(err));
            }
            return;
        };
        // Group by topic, keeping drain order.
        let mut topics: Vec<ProduceTopic<'_>> = Vec::new();
        for b in &batches {
            let tp = b.topic_partition();
            let part = ProducePartition {
                index: tp.partition,
                records: b.bytes(),
            };
            match topics.iter_mut().find(|t| t.name == &*tp.topic) {
                Some(t) => t.partitions.push(part),
                None => topics.push(ProduceTopic {
                    name: &tp.topic,
                    topic_id: cluster
                        .topics
                        .get(&*tp.topic)
                        .map_or([0; 16], |t| t.topic_id),
                    partitions: vec![part],
                }),
            }
        }
        let req = ProduceRequest {
            transactional_id: None,
            acks: self.cfg.acks,
            timeout_ms: i32::try_from(self.cfg.request_timeout.as_millis()).unwrap_or(i32::MAX),
            topics,
        };
        let expect_response = self.cfg.acks != 0;
        let client_id = Some(self.cfg.client_id.as_str()).filter(|s| !s.is_empty());
        let conn = node.conn.as_mut().expect("ready");
        // The batches are copied once, straight into the connection's write buffer; then they
        // become the request's context.
        let pending = conn.begin(produce::API_KEY, version, client_id);
        req.encode(version, conn.buffer());
        drop(req);
        let res = conn.commit(pending, expect_response, now, RequestCtx::Produce(batches));
        if let Err((e, RequestCtx::Produce(batches))) = res {
            for b in batches {
                let err = Error::Network {
                    broker: node.addr.clone(),
                    reason: e.to_string(),
                    delivery: Delivery::NotWritten,
                };
                self.idem.batch_returned(&b);
                self.idem.failed_for_good(&b, true);
                b.done(Err(err));
            }
        }
    }

    /// acks=0: batches are answered (offset -1) once their request is written.
    fn complete_unanswered(&mut self, _now: Instant) {
        for node in self.nodes.values_mut() {
            let Some(conn) = node.conn.as_mut() else {
                continue;
            };
            for ctx in conn.take_sent_unanswered() {
                if let RequestCtx::Produce(batches) = ctx {
                    for b in batches {
                        b.done(Ok(BatchAck {
                            base_offset: -1,
                            log_append_time: -1,
                        }));
                    }
                }
            }
        }
    }

    fn fail_expired(&mut self, now: Instant, timeout: &mut Duration) {
        // Batches in flight answer their records by delivery.timeout.ms too, as Java's do
        // (`Sender.getExpiredInflightBatches`): the records get DeliveryTimeout (may have been
        // written) now; the request's own answer, when it comes, still settles the batch's
        // sequence bookkeeping, and its `done` is then ignored (a batch's final state is set
        // once). Without this, an answer could come up to request.timeout.ms late.
        let delivery_timeout = self.cfg.delivery_timeout;
        for node in self.nodes.values() {
            let Some(conn) = node.conn.as_ref() else {
                continue;
            };
            for ctx in conn.in_flight_contexts() {
                let RequestCtx::Produce(batches) = ctx else {
                    continue;
                };
                for b in batches.iter().filter(|b| !b.is_done()) {
                    let deadline = b.created() + delivery_timeout;
                    if now >= deadline {
                        b.done(Err(Error::DeliveryTimeout {
                            elapsed: now.saturating_duration_since(b.created()),
                            delivery: Delivery::Unknown,
                            last_error: b.last_error().cloned(),
                        }));
                    } else {
                        *timeout = (*timeout).min(deadline - now + Duration::from_millis(1));
                    }
                }
            }
        }
        for b in self.shared.accumulator.expired_batches(now) {
            let err = Error::DeliveryTimeout {
                elapsed: now.saturating_duration_since(b.created()),
                delivery: b.delivery_if_failed(),
                last_error: b.last_error().cloned(),
            };
            self.idem.batch_returned(&b);
            // A retry that expired while queued must not leave its partition "retrying":
            // `can_drain` would then hold every later batch of the partition forever (found
            // by tests/producer_mock.rs, a_retry_that_expires_...). If every attempt was
            // refused its sequences are a hole for the next batches to fill.
            self.idem.failed_for_good(&b, !b.was_sent());
            b.done(Err(err));
        }
    }

    fn check_request_timeouts(&mut self, now: Instant, timeout: &mut Duration) {
        // Wake up when the oldest request in flight reaches request.timeout.ms, not at the
        // next unrelated event: the wait was bounded only by the 1 s default, so a timeout
        // was noticed up to a whole poll period late (seen as 2 s instead of 1 s in
        // tests/producer_mock.rs).
        for n in self.nodes.values() {
            let Some(c) = n.conn.as_ref() else { continue };
            let deadlines = [
                c.oldest_in_flight().map(|t| t + self.cfg.request_timeout),
                c.connect_deadline(),
            ];
            for d in deadlines.into_iter().flatten() {
                let left = d.saturating_duration_since(now);
                if !left.is_zero() {
                    *timeout = (*timeout).min(left + Duration::from_millis(1));
                }
            }
        }
        let mut timed_out: Vec<(i32, String)> = Vec::new();
        for (&id, n) in &self.nodes {
            let Some(c) = n.conn.as_ref() else { continue };
            if c.connect_timed_out(now) {
                timed_out.push((
                    id,
                    format!(
                        "connect not completed within socket.connection.setup.timeout.ms ({:?})",
                        self.cfg.connection_setup_timeout
                    ),
                ));
            } else if c
                .oldest_in_flight()
                .is_some_and(|t| now.saturating_duration_since(t) >= self.cfg.request_timeout)
            {
                timed_out.push((
                    id,
                    format!(
                        "no response within request.timeout.ms ({:?})",
                        self.cfg.request_timeout
                    ),
                ));
            }
        }
        // A disconnect re-enqueues batches (retry backoff) and sets a reconnect backoff after
        // this turn's timers were computed: turn again at once so they count, instead of
        // sleeping the whole poll period (a 1 s stall before each retry, found by
        // tests/producer_mock.rs, request_timeout_...).
        if !timed_out.is_empty() {
            *timeout = Duration::ZERO;
        }
        for (id, reason) in timed_out {
            self.disconnect(id, &reason, now);
        }
    }

    fn handle_response(&mut self, id: i32, r: Response<RequestCtx>, now: Instant) {
        match r.ctx {
            RequestCtx::ApiVersions => self.handle_api_versions(id, r.api_version, &r.body, now),
            RequestCtx::SaslHandshake => {
                self.handle_sasl_handshake(id, r.api_version, &r.body, now)
            }
            RequestCtx::SaslAuthenticate => {
                self.handle_sasl_authenticate(id, r.api_version, &r.body, now)
            }
            RequestCtx::Metadata => {
                self.metadata_in_flight = false;
                match MetadataResponse::decode(&r.body, r.api_version) {
                    Ok(m) => {
                        if !m.error_code.is_ok() {
                            log::warn!("metadata from node {id}: {}", m.error_code);
                            self.shared.metadata.failed_update(now);
                        } else {
                            self.shared.metadata.update(&m, now);
                        }
                    }
                    Err(e) => {
                        log::warn!("malformed Metadata response from node {id}: {e}");
                        self.shared.metadata.failed_update(now);
                    }
                }
            }
            RequestCtx::InitProducerId => {
                self.idem.in_flight_request = false;
                match InitProducerIdResponse::decode(&r.body, r.api_version) {
                    Ok(resp) if resp.error_code.is_ok() => {
                        log::info!(
                            "producer id {} epoch {}",
                            resp.producer_id,
                            resp.producer_epoch
                        );
                        self.idem.producer_id = resp.producer_id;
                        self.idem.producer_epoch = resp.producer_epoch;
                        self.idem.retry_at = None;
                    }
                    Ok(resp) if resp.error_code.is_retriable() => {
                        log::info!("InitProducerId: {}; retrying", resp.error_code);
                        self.idem.retry_at = Some(now + self.cfg.retry_backoff);
                    }
                    Ok(resp) => {
                        log::error!("InitProducerId failed: {}", resp.error_code);
                        let msg: Arc<str> =
                            Arc::from(format!("InitProducerId failed: {}", resp.error_code));
                        self.shared
                            .accumulator
                            .abort_incomplete_batches(|_, _| Error::Fatal(msg.clone()));
                        self.idem.retry_at =
                            Some(now + self.cfg.retry_backoff.max(Duration::from_secs(1)));
                    }
                    Err(e) => {
                        log::warn!("malformed InitProducerId response from node {id}: {e}");
                        self.idem.retry_at = Some(now + self.cfg.retry_backoff);
                    }
                }
            }
            RequestCtx::Produce(batches) => {
                self.handle_produce(id, r.api_version, &r.body, batches, now)
            }
        }
    }

    fn handle_api_versions(&mut self, id: i32, version: i16, body: &[u8], now: Instant) {
        let resp = match ApiVersionsResponse::decode(body, version) {
            Ok(r) => r,
            Err(e) => {
                self.disconnect(id, &format!("malformed ApiVersions response: {e}"), now);
                return;
            }
        };
        if resp.error_code == ErrorCode::UNSUPPORTED_VERSION {
            // The broker is older than our ApiVersions version: retry at what it supports.
            let v = resp.retry_version();
            let node = self.nodes.get_mut(&id).expect("node");
            let conn = node.conn.as_mut().expect("connected");
            let req = ApiVersionsRequest {
                client_software_name: "kafka-sync",
                client_software_version: env!("CARGO_PKG_VERSION"),
            };
            let client_id = Some(self.cfg.client_id.as_str()).filter(|s| !s.is_empty());
            let _ = conn.send(
                api_versions::API_KEY,
                v,
                client_id,
                true,
                now,
                RequestCtx::ApiVersions,
                |b| req.encode(v, b),
            );
            return;
        }
        if !resp.error_code.is_ok() {
            self.disconnect(id, &format!("ApiVersions failed: {}", resp.error_code), now);
            return;
        }
        let table = ApiVersionTable::from_response(&resp);
        if table
            .negotiate(produce::API_KEY, produce::MIN_VERSION, produce::MAX_VERSION)
            .is_none()
        {
            log::error!("node {id} does not support Produce v3 or later; Kafka 0.11+ (2.1+ tested) is required");
        }
        let node = self.nodes.get_mut(&id).expect("node");
        node.versions = Some(table);
        if self.cfg.sasl.is_some() {
            self.start_sasl(id, now);
        } else {
            self.node_ready(id);
        }
    }

    /// The connection to `id` is set up: requests may go out.
    fn node_ready(&mut self, id: i32) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        node.consecutive_failures = 0;
        node.reconnect_at = None;
        log::debug!("node {id} ({}) ready", node.addr);
    }

    /// After ApiVersions: SaslHandshake v1 with the configured mechanism.
    fn start_sasl(&mut self, id: i32, now: Instant) {
        let Some(settings) = self.cfg.sasl.as_ref() else {
            return;
        };
        let client = match SaslClient::new(settings) {
            Ok(c) => c,
            Err(e) => return self.auth_failed(id, e, now),
        };
        let req = SaslHandshakeRequest {
            mechanism: client.mechanism().name(),
        };
        // v1 at least: the tokens then travel in SaslAuthenticate requests (v0 sends them raw).
        match self.send_request(id, &req, 1, RequestCtx::SaslHandshake, now) {
            Ok(()) => {
                if let Some(node) = self.nodes.get_mut(&id) {
                    node.sasl = Some(client);
                }
            }
            Err(RequestError::Unsupported) => self.auth_failed(
                id,
                "the broker does not support SaslHandshake v1 (SASL needs Kafka 1.0 or later)"
                    .into(),
                now,
            ),
            Err(RequestError::Failed(e)) => {
                self.disconnect(id, &format!("cannot send SaslHandshake: {e}"), now)
            }
        }
    }

    fn handle_sasl_handshake(&mut self, id: i32, version: i16, body: &[u8], now: Instant) {
        let resp = match SaslHandshakeResponse::decode(body, version) {
            Ok(r) => r,
            Err(e) => {
                return self.disconnect(id, &format!("malformed SaslHandshake response: {e}"), now)
            }
        };
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        let Some(client) = node.sasl.as_mut() else {
            return self.disconnect(id, "unexpected SaslHandshake response", now);
        };
        let mechanism = client.mechanism().name();
        if !resp.error_code.is_ok() {
            let reason = if resp.error_code == ErrorCode::UNSUPPORTED_SASL_MECHANISM {
                format!(
                    "the broker does not enable SASL mechanism {mechanism} on this listener \
                     (it enables: {}); check sasl.mechanism",
                    resp.mechanisms.join(", ")
                )
            } else if resp.error_code == ErrorCode::ILLEGAL_SASL_STATE {
                format!(
                    "{}: the listener does not expect SASL; is security.protocol right for \
                     this port?",
                    resp.error_code.name()
                )
            } else {
                format!("SaslHandshake failed: {}", resp.error_code)
            };
            return self.auth_failed(id, reason, now);
        }
        let token = client.start();
        self.send_sasl_authenticate(id, &token, now);
    }

    fn send_sasl_authenticate(&mut self, id: i32, token: &[u8], now: Instant) {
        let req = SaslAuthenticateRequest { auth_bytes: token };
        let min = SaslAuthenticateRequest::MIN_VERSION;
        match self.send_request(id, &req, min, RequestCtx::SaslAuthenticate, now) {
            Ok(()) => {}
            Err(RequestError::Unsupported) => self.auth_failed(
                id,
                "the broker does not support SaslAuthenticate (SASL needs Kafka 1.0 or later)"
                    .into(),
                now,
            ),
            Err(RequestError::Failed(e)) => {
                self.disconnect(id, &format!("cannot send SaslAuthenticate: {e}"), now)
            }
        }
    }

    fn handle_sasl_authenticate(&mut self, id: i32, version: i16, body: &[u8], now: Instant) {
        let resp = match SaslAuthenticateResponse::decode(body, version) {
            Ok(r) => r,
            Err(e) => {
                return self.disconnect(
                    id,
                    &format!("malformed SaslAuthenticate response: {e}"),
                    now,
                )
            }
        };
        if !resp.error_code.is_ok() {
            let reason = match resp.error_message.as_deref() {
                Some(m) if !m.is_empty() => format!("{}: {m}", resp.error_code.name()),
                _ => resp.error_code.to_string(),
            };
            return self.auth_failed(id, reason, now);
        }
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        let Some(client) = node.sasl.as_mut() else {
            return self.disconnect(id, "unexpected SaslAuthenticate response", now);
        };
        match client.step(&resp.auth_bytes) {
            Ok(Step::Send(token)) => self.send_sasl_authenticate(id, &token, now),
            Ok(Step::Done) => {
                let mechanism = client.mechanism().name();
                node.sasl = None;
                node.auth_failure_logged = false;
                log::debug!(
                    "node {id} ({}): authenticated with {mechanism}{}",
                    node.addr,
                    if resp.session_lifetime_ms > 0 {
                        format!(
                            "; session lifetime {} ms (re-authentication is not implemented: \
                     the broker will close the connection then, and it is reopened)",
                            resp.session_lifetime_ms
                        )
                    } else {
                        String::new()
                    }
                );
                self.shared.metadata.auth_succeeded();
                self.node_ready(id);
            }
            Err(reason) => self.auth_failed(id, reason, now),
        }
    }

    /// Authentication with `id` failed: log it (at error level once per node), fail what waits
    /// (queued batches, callers waiting for metadata), close the connection and back off.
    fn auth_failed(&mut self, id: i32, reason: String, now: Instant) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        node.sasl = None;
        let addr = node.addr.clone();
        if node.auth_failure_logged {
            log::debug!("authentication with node {id} ({addr}) failed again: {reason}");
        } else {
            node.auth_failure_logged = true;
            log::error!("authentication with node {id} ({addr}) failed: {reason}");
        }
        let err = Error::Authentication {
            broker: addr,
            reason: reason.clone(),
            delivery: Delivery::NotWritten,
        };
        self.shared.metadata.auth_failed(err.clone());
        for b in self.shared.accumulator.take_queued() {
            // A queued retry may have been written by an earlier, unanswered attempt.
            let delivery = b.delivery_if_failed();
            self.idem.batch_returned(&b);
            self.idem
                .failed_for_good(&b, delivery == Delivery::NotWritten);
            let mut e = err.clone();
            if let Error::Authentication { delivery: d, .. } = &mut e {
                *d = delivery;
            }
            b.done(Err(e));
        }
        self.disconnect(id, &format!("authentication failed: {reason}"), now);
    }

    fn handle_produce(
        &mut self,
        id: i32,
        version: i16,
        body: &[u8],
        batches: Vec<ProducerBatch>,
        now: Instant,
    ) {
        let resp = match ProduceResponse::decode(body, version) {
            Ok(r) => r,
            Err(e) => {
                let addr = self
                    .nodes
                    .get(&id)
                    .map_or_else(String::new, |n| n.addr.clone());
                for b in batches {
                    let err = Error::Network {
                        broker: addr.clone(),
                        reason: format!("malformed Produce response: {e}"),
                        delivery: Delivery::Unknown,
                    };
                    self.fail_or_retry(b, err, now);
                }
                self.disconnect(id, "malformed Produce response", now);
                return;
            }
        };
        let cluster = self.shared.metadata.cluster();
        for b in batches {
            let tp = b.topic_partition();
            let part = resp
                .topics
                .iter()
                .find(|t| {
                    if t.name.is_empty() {
                        cluster
                            .topics
                            .get(&*tp.topic)
                            .is_some_and(|ti| ti.topic_id == t.topic_id)
                    } else {
                        t.name == *tp.topic
                    }
                })
                .and_then(|t| t.partitions.iter().find(|p| p.index == tp.partition));
            let Some(p) = part else {
                // No answer for this partition: as good as a lost response, it may be written.
                let mut b = b;
                b.attempt_ambiguous();
                let err = Error::Broker {
                    code: ErrorCode::UNKNOWN_SERVER_ERROR,
                    message: Some(Arc::from(
                        "the Produce response did not mention the partition",
                    )),
                    delivery: Delivery::Unknown,
                };
                self.fail_or_retry(b, err, now);
                continue;
            };
            let code = p.error_code;
            if code.is_ok() || code == ErrorCode::DUPLICATE_SEQUENCE_NUMBER {
                self.idem.batch_returned(&b);
                self.idem.acknowledged(&b);
                b.done(Ok(BatchAck {
                    base_offset: p.base_offset,
                    log_append_time: p.log_append_time_ms,
                }));
                continue;
            }
            let mut message = p.error_message.clone();
            if !p.record_errors.is_empty() {
                let details: Vec<String> = p
                    .record_errors
                    .iter()
                    .take(5)
                    .map(|e| {
                        format!(
                            "record {}: {}",
                            e.batch_index,
                            e.message.as_deref().unwrap_or("invalid")
                        )
                    })
                    .collect();
                message = Some(format!(
                    "{}{}",
                    message.map(|m| m + "; ").unwrap_or_default(),
                    details.join("; ")
                ));
            }
            if matches!(
                code,
                ErrorCode::NOT_LEADER_OR_FOLLOWER
                    | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                    | ErrorCode::LEADER_NOT_AVAILABLE
                    | ErrorCode::FENCED_LEADER_EPOCH
                    | ErrorCode::KAFKA_STORAGE_ERROR
                    | ErrorCode::NOT_ENOUGH_REPLICAS
            ) {
                self.shared.metadata.request_update();
            }
            // `delivery` is settled in fail_or_retry, from the batch's whole history.
            let err = Error::Broker {
                code,
                message: message.map(Arc::from),
                delivery: Delivery::NotWritten,
            };
            self.fail_or_retry(b, err, now);
        }
    }

    /// The idempotence errors of a Produce answer (KIP-98, KIP-360), as Java's
    /// `TransactionManager.canRetry` / `handleFailedBatch` treat them for a non-transactional
    /// producer. Returns whether the batch may be retried, or `None` for other codes.
    ///
    /// - OUT_OF_ORDER_SEQUENCE_NUMBER: the broker did not take the batch (nor has it: it
    ///   would have answered DUPLICATE). Explained by an earlier batch still pending (see
    ///   [`Idempotence::gap_explained`]): retry. Unexplained, the broker's sequence and ours
    ///   diverged: retry after an epoch bump.
    /// - UNKNOWN_PRODUCER_ID: the broker lost the producer's state (retention, or a broker
    ///   before 2.5 that wants sequence 0 from a producer it does not know): retry after an
    ///   epoch bump.
    /// - INVALID_PRODUCER_EPOCH, PRODUCER_FENCED: the broker knows a newer epoch of this id
    ///   (a non-transactional producer cannot be fenced by another one, so its state is off):
    ///   the batch fails, and the partition waits for a new producer id.
    fn idempotence_error(&mut self, b: &mut ProducerBatch, code: ErrorCode) -> Option<bool> {
        let tp = b.topic_partition().clone();
        match code {
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER => {
                b.proven_not_written();
                if !self.idem.gap_explained(b) {
                    log::warn!(
                        "{tp}: OUT_OF_ORDER_SEQUENCE_NUMBER for sequence {} (producer id {} \
                         epoch {}) with nothing earlier pending",
                        b.base_sequence(),
                        b.producer_id(),
                        b.producer_epoch()
                    );
                    self.idem.request_bump(&tp, code, Some(b));
                }
                Some(true)
            }
            ErrorCode::UNKNOWN_PRODUCER_ID => {
                b.proven_not_written();
                self.idem.request_bump(&tp, code, Some(b));
                Some(true)
            }
            ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED => {
                if (b.producer_id(), b.producer_epoch())
                    == (self.idem.producer_id, self.idem.producer_epoch)
                {
                    self.idem.new_id_needed = true;
                }
                self.idem.request_bump(&tp, code, None);
                Some(false)
            }
            _ => None,
        }
    }

    /// Retries a failed batch when the error allows it and time remains; fails it otherwise.
    fn fail_or_retry(&mut self, mut b: ProducerBatch, err: Error, now: Instant) {
        self.idem.batch_returned(&b);
        let err_kind = if matches!(err, Error::Broker { .. }) {
            b.attempt_refused();
            ErrKind::Broker
        } else {
            b.attempt_ambiguous();
            ErrKind::Other
        };
        let retriable = match &err {
            Error::Broker { code, .. } if self.idem.enabled && b.has_sequence() => self
                .idempotence_error(&mut b, *code)
                .unwrap_or_else(|| err.is_retriable()),
            e => e.is_retriable(),
        };
        let timed_out = b.has_reached_delivery_timeout(self.cfg.delivery_timeout, now);
        let attempts_left = b.attempts() < self.cfg.retries;
        let closing_forced = self.shared.force_close.load(Ordering::Acquire);
        if retriable && !timed_out && attempts_left && !closing_forced {
            log::debug!("retrying {} after {err}", b.topic_partition());
            b.set_last_error(err.to_string());
            self.idem.retry_scheduled(&b);
            self.shared.accumulator.reenqueue(b, now);
            return;
        }
        let final_err = if retriable && timed_out {
            Error::DeliveryTimeout {
                elapsed: now.saturating_duration_since(b.created()),
                delivery: b.delivery_if_failed(),
                last_error: Some(Arc::from(err.to_string())),
            }
        } else {
            err
        };
        let mut final_err = final_err;
        if let Error::Broker { delivery, .. } = &mut final_err {
            // Refused now, but an earlier attempt without a clear answer may have written it.
            *delivery = b.delivery_if_failed();
        }
        log::debug!("batch for {} failed: {final_err}", b.topic_partition());
        // The batch will not be retried: later batches must not wait for it. When the last
        // attempt was answered by the broker with an error, the broker did not append it and
        // its sequences must be reused (else every later batch is OUT_OF_ORDER forever). Not
        // when an earlier attempt was ambiguous: the batch may be in the log under those
        // sequences, and reusing them could make a later batch a "duplicate" of it.
        let refused = matches!(err_kind, ErrKind::Broker) && !b.is_ambiguous();
        self.idem.failed_for_good(&b, refused);
        b.done(Err(final_err));
    }
}

#[allow(dead_code)]
const _: i16 = ALL_ACKS;

//! The sender thread: the only place that ties the accumulator to the network.
//!
//! One OS thread per producer runs [`Sender::run`]: a loop over small parts, each in its own
//! file, and this file is the loop. Each turn ([`Sender::run_once`]):
//! 1. the node pool learns the brokers of the latest metadata;
//! 2. the transaction manager asks for a producer id when idempotence needs one
//!    ([`transactions`]);
//! 3. metadata is refreshed when asked or older than `metadata.max.age.ms`;
//! 4. the idempotence state settles what it can, the accumulator says which leaders have
//!    sendable batches, the pool connects to those it is not connected to (after their
//!    reconnect backoff), and batches are drained for ready leaders with room under
//!    `max.in.flight.requests.per.connection`, one Produce request per broker ([`produce`]);
//! 5. batches past `delivery.timeout.ms` are answered, queued or in flight;
//! 6. the pool polls ([`crate::net::nodes`]): closes connections past their deadlines, writes,
//!    waits for readiness or a wake-up (an append that filled or started a batch, a flush, a
//!    close, a caller waiting for metadata), bounded by the earliest timer, and reads;
//! 7. what the pool reports is handled: answers complete batches (callbacks run here) or send
//!    them back for a retry, lost connections hand back their requests, authentication
//!    failures fail what waits.
//!
//! Authentication: when a broker refuses our credentials (or, with TLS, its certificate is not
//! trusted or does not name it), the failure is reported at once rather than after a timeout,
//! because credentials are the same for every broker: every queued batch fails with
//! [`Error::Authentication`], and `send` calls waiting for metadata fail with it too (until a
//! connection authenticates again). Batches in flight on authenticated connections are left
//! alone. The session lifetime a broker may announce (KIP-368) is not acted on: when a broker
//! closes the expired connection, the producer reconnects and authenticates again.
//!
//! Every decision is made on state, input and `now`: the transport's clock, so the unit tests
//! (`tests.rs`, over the scripted transport of `scripted.rs`) run the loop without sockets and
//! without sleeping.

mod adaptive;
mod idempotence;
mod produce;
#[cfg(test)]
mod scripted;
#[cfg(test)]
mod tests;
mod transactions;
mod txn_io;
mod txn_state;

use crate::accumulator::{LeaderLookup, ProducerBatch, RecordAccumulator};
use crate::backoff::Rng;
use crate::error::{Delivery, Error};
use crate::future::BatchAck;
use crate::metadata::{Cluster, Metadata};
use crate::metrics::SharedMetrics;
use crate::net::{Event, NodePool, PoolConfig, Transport, Waker, WireParts};
use crate::partitioner::LoadStats;
use crate::protocol::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
use crate::protocol::metadata::{MetadataRequest, MetadataResponse};
use crate::protocol::produce::{self as produce_api, ProduceResponse};
use crate::protocol::Request;
use crate::record::TopicPartition;
use produce::{Answer, RetryPolicy, Verdict};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
pub(crate) use transactions::{Op as TxnOp, TxnCore, TxnShared};
use transactions::{TransactionManager, TxnRequest};

/// Settings the sender needs (from the producer config).
#[derive(Debug, Clone)]
pub(crate) struct SenderConfig {
    /// -1 (all), 0 or 1.
    pub acks: i16,
    pub delivery_timeout: Duration,
    pub max_request_size: usize,
    pub retries: u32,
    pub retry_backoff: Duration,
    pub idempotence: bool,
    /// The bootstrap addresses.
    pub bootstrap: Vec<String>,
    /// `partitioner.availability.timeout.ms` (zero: off).
    pub availability_timeout: Duration,
    /// The node pool's settings (`max.in.flight.requests.per.connection` and
    /// `request.timeout.ms` among them, which producing uses too).
    pub pool: PoolConfig,
}

/// State shared by the producer handle and the sender thread.
pub(crate) struct Shared {
    pub accumulator: Arc<RecordAccumulator>,
    pub metadata: Arc<Metadata>,
    /// Load statistics for adaptive partitioning: written here, read by the partitioner.
    pub load: Arc<LoadStats>,
    /// The metrics: recorded here, read by `Producer::metrics`.
    pub metrics: Arc<SharedMetrics>,
    pub waker: Waker,
    /// Cleared by `close`: stop taking work, send what is queued, then exit.
    pub running: AtomicBool,
    /// Set when the close timeout ran out: fail everything still pending and exit.
    pub force_close: AtomicBool,
    /// Set by the sender just before it waits while every broker has its maximum of requests
    /// in flight, cleared at the start of each of its turns, before it looks at the
    /// accumulator. While set, a new or full batch changes nothing the sender can do before
    /// an answer wakes it, so `send` skips the wake-up (a syscall and a context switch per
    /// batch under backlog). A caller that reads a stale `true` appended before the sender's
    /// next look at the queues (the store that clears it comes first), so nothing is missed.
    pub saturated: AtomicBool,
    /// A transactional producer's transaction state (`transactional.id`).
    pub txn: Option<Arc<TxnShared>>,
}

impl Shared {
    /// Wakes the sender thread out of its readiness wait.
    pub fn wake(&self) {
        self.waker.wake();
    }

    /// Wakes the sender for a new or full batch, unless it cannot send anything anyway (see
    /// [`Shared::saturated`]). `flush` and `close` use [`wake`](Self::wake).
    pub fn wake_for_append(&self) {
        if !self.saturated.load(Ordering::SeqCst) {
            self.waker.wake();
        }
    }
}

/// What a request in flight was for; comes back with its answer or when its connection fails.
#[derive(Debug)]
enum RequestCtx {
    Metadata,
    Txn(TxnRequest),
    Produce(Vec<ProducerBatch>),
}

impl WireParts for RequestCtx {
    /// A Produce request's parts are its batches (see `produce::encode`).
    fn wire_part(&self, index: usize) -> &[u8] {
        match self {
            RequestCtx::Produce(batches) => batches.get(index).map_or(&[], |b| b.bytes()),
            _ => &[],
        }
    }
}

/// Leader lookup over a metadata snapshot.
struct Leaders<'a>(&'a Cluster);
impl LeaderLookup for Leaders<'_> {
    fn leader_for(&self, tp: &TopicPartition) -> Option<i32> {
        self.0.leader_for(&tp.topic, tp.partition)
    }
}

/// The sender loop. See the module docs.
pub(crate) struct Sender<T: Transport> {
    cfg: SenderConfig,
    shared: Arc<Shared>,
    pool: NodePool<T, RequestCtx>,
    txn: TransactionManager,
    metadata_in_flight: bool,
    load_tracker: adaptive::LoadTracker,
}

impl<T: Transport> Sender<T> {
    pub fn new(cfg: SenderConfig, shared: Arc<Shared>, transport: T, rng: Rng) -> Self {
        let pool = NodePool::new(transport, cfg.pool.clone(), &cfg.bootstrap, rng);
        let max_in_flight = cfg.pool.max_in_flight;
        let mut txn = TransactionManager::new(cfg.idempotence, max_in_flight, cfg.retry_backoff);
        if let Some(t) = &shared.txn {
            txn = txn.with_transactions(t.clone());
        }
        let load_tracker = adaptive::LoadTracker::new(cfg.availability_timeout);
        Sender {
            cfg,
            shared,
            pool,
            txn,
            metadata_in_flight: false,
            load_tracker,
        }
    }

    /// Runs until the producer closes. Every batch gets its answer before this returns.
    pub fn run(mut self) {
        log::debug!("sender thread started");
        while self.shared.running.load(Ordering::Acquire) {
            self.run_once();
        }
        // Graceful close: send what is queued and wait for what is in flight.
        while !self.forced()
            && (self.shared.accumulator.has_undrained() || self.pool.has_in_flight())
        {
            self.run_once();
        }
        if self.forced() {
            log::debug!("sender: forced close, failing what is pending");
        }
        // In-flight batches fail as "may have been written".
        for ctx in self.pool.close_all() {
            if let RequestCtx::Produce(batches) = ctx {
                for b in batches {
                    let delivery = b.delivery_if_failed();
                    b.done(Err(Error::Closed { delivery }));
                }
            }
        }
        // Anything still queued (or appended by a racing caller) is answered now.
        self.shared
            .accumulator
            .abort_incomplete_batches(|_, delivery| Error::Closed { delivery });
        self.close_transactions();
        log::debug!("sender thread stopped");
    }

    fn forced(&self) -> bool {
        self.shared.force_close.load(Ordering::Acquire)
    }

    /// One turn of the loop.
    fn run_once(&mut self) {
        // Before anything reads the accumulator (see `Shared::saturated`).
        self.shared.saturated.store(false, Ordering::SeqCst);
        let now = self.pool.now();
        let mut timeout = Duration::from_secs(1);
        let cluster = self.shared.metadata.cluster();
        self.pool.sync(&cluster.brokers);
        self.maybe_send_txn_request(now, &mut timeout);
        self.transaction_turn(now, &mut timeout);
        self.maybe_update_metadata(now, &mut timeout);
        self.send_produce_requests(&cluster, now, &mut timeout);
        let shared = &self.shared;
        self.load_tracker
            .publish(&shared.load, &shared.accumulator, &cluster);
        self.expire_batches(now, &mut timeout);
        if !self.shared.running.load(Ordering::Acquire) {
            // Closing: check often whether everything is done.
            timeout = timeout.min(Duration::from_millis(50));
        }
        if !timeout.is_zero()
            && !cluster.brokers.is_empty()
            && cluster.brokers.keys().all(|&id| self.pool.is_full(id))
        {
            self.shared.saturated.store(true, Ordering::SeqCst);
        }
        let events = self.pool.poll(timeout, now);
        let now = self.pool.now();
        // The network figures are published before the answers are handed out, so a caller
        // whose `get()` just returned reads a registry that already counts its request as
        // answered (requests-in-flight, request-total, incoming bytes). Published after, a
        // `metrics()` racing the end of the turn saw the request still in flight.
        self.publish_network_metrics(now);
        for event in events {
            self.handle(event, now);
        }
    }

    fn publish_network_metrics(&mut self, now: Instant) {
        let gauges = (self.pool.in_flight_count(), self.pool.connection_count());
        let reauth_latencies = self.pool.take_reauth_latencies();
        let m = &self.shared.metrics;
        let send_errors = m.send_errors();
        let mut registry = m.lock();
        registry.turn(self.pool.stats(), gauges, send_errors, now);
        registry.reauthenticated(&reauth_latencies, now);
    }

    fn maybe_send_txn_request(&mut self, now: Instant, timeout: &mut Duration) {
        let Some(req) = self.txn.poll(now, timeout) else {
            return;
        };
        let Some(id) = self.pool.least_loaded(now) else {
            return;
        };
        let body = req.init_producer_id();
        let min = InitProducerIdRequest::MIN_VERSION;
        match self.pool.send(id, &body, min, RequestCtx::Txn(req), now) {
            Ok(()) => self.txn.sent(req),
            Err(e) => {
                log::error!("node {id}: cannot send InitProducerId (idempotence needs it): {e}");
                self.txn.failed(req, now);
            }
        }
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
        let Some(id) = self.pool.least_loaded(now) else {
            if let Some(d) = self.pool.next_reconnect(now) {
                *timeout = (*timeout).min(d.max(Duration::from_millis(1)));
            }
            return;
        };
        let topics = self.shared.metadata.topics_for_request(now);
        let names: Vec<&str> = topics.iter().map(|t| &**t).collect();
        let req = MetadataRequest::for_topics(&names, false);
        let min = MetadataRequest::MIN_VERSION;
        match self.pool.send(id, &req, min, RequestCtx::Metadata, now) {
            Ok(()) => self.metadata_in_flight = true,
            Err(e) => {
                log::error!("node {id}: cannot send a Metadata request: {e}");
                self.shared.metadata.failed_update(now);
            }
        }
    }

    fn send_produce_requests(&mut self, cluster: &Cluster, now: Instant, timeout: &mut Duration) {
        let acc = self.shared.accumulator.clone();
        for (b, err) in self.txn.idempotence().settle_sequences(&acc) {
            self.fail(b, err, now);
        }
        let leaders = Leaders(cluster);
        let ready = acc.ready(&leaders, now);
        if !ready.unknown_leader_topics.is_empty() {
            for t in &ready.unknown_leader_topics {
                self.shared.metadata.touch(t, now);
            }
            // Backed off: the last refresh may already have answered, and the leader may stay
            // unknown (a partition that no longer exists) until the batch expires.
            self.shared.metadata.request_update_backed_off();
            // Wake up when the backed-off refresh is due. A refresh due now was tried this
            // turn: if no node could take it, `maybe_update_metadata` bounded the wait by the
            // next reconnect, and bounding it by "now" would spin until a connect completes
            // (a 1 ms busy loop behind a slow connect, found with the scripted transport).
            let due = self.shared.metadata.time_to_next_update(now);
            if !self.metadata_in_flight && !due.is_zero() {
                *timeout = (*timeout).min(due);
            }
        }
        *timeout = (*timeout).min(ready.next_ready_check_delay);
        let mut sendable = HashSet::new();
        for &id in &ready.ready_nodes {
            let can_take = self.pool.ensure_connected(id, now) && self.pool.can_send(id);
            self.load_tracker.node_ready(id, can_take, now);
            if can_take {
                sendable.insert(id);
            }
        }
        if let Some(d) = self.pool.next_reconnect(now) {
            if !ready.ready_nodes.is_empty() {
                *timeout = (*timeout).min(d.max(Duration::from_millis(1)));
            }
        }
        if sendable.is_empty() {
            return;
        }
        let max = self.cfg.max_request_size;
        let drained = acc.drain_with(&leaders, &sendable, max, now, &mut self.txn.drain_hook());
        // A drain takes at most one batch per partition. When it took something, more may be
        // sendable right away (several batches queued for a partition, room left in flight):
        // turn again without waiting, as Java's Sender polls with a zero timeout when nodes
        // were ready. Without this, a wake-up from `send` that coalesced with an earlier one
        // left the remaining batches waiting for an unrelated event or the 1 s poll timeout.
        // It cannot spin: the next turn waits normally unless it drains again.
        if !drained.is_empty() {
            *timeout = Duration::ZERO;
            self.shared.metrics.lock().drained(&drained, now);
        }
        for (id, batches) in drained {
            self.send_produce(id, batches, cluster, now);
        }
    }

    fn send_produce(
        &mut self,
        id: i32,
        batches: Vec<ProducerBatch>,
        cluster: &Cluster,
        now: Instant,
    ) {
        let transactional = self.txn.transactional_id();
        let v2 = self.txn.is_v2();
        let version = self
            .pool
            .versions(id)
            .and_then(|v| produce::version(v, &batches, cluster, transactional.is_some(), v2));
        let Some(version) = version else {
            let reason = "the broker supports no Produce version >= 3 (Kafka 0.11+ is required)";
            return self.refuse_unsent(id, batches, reason);
        };
        let (acks, timeout) = (self.cfg.acks, self.cfg.pool.request_timeout);
        let id_for_request = transactional.clone();
        let ctx = RequestCtx::Produce(batches);
        let sent = self.pool.send_with(
            id,
            produce_api::API_KEY,
            version,
            acks != 0,
            ctx,
            now,
            |ctx, buf| {
                if let RequestCtx::Produce(batches) = ctx {
                    let txn_id = id_for_request.as_deref();
                    produce::encode(batches, cluster, txn_id, acks, timeout, version, buf);
                }
            },
        );
        if let Err((e, RequestCtx::Produce(batches))) = sent {
            self.refuse_unsent(id, batches, &e);
        }
    }

    /// Batches that could not be sent at all: not written, and their sequences are free.
    fn refuse_unsent(&mut self, id: i32, batches: Vec<ProducerBatch>, reason: &str) {
        let now = self.pool.now();
        for b in batches {
            let err = Error::Network {
                broker: self.pool.addr(id).to_string(),
                reason: reason.to_string(),
                delivery: Delivery::NotWritten,
            };
            let outcome = idempotence::Outcome::Failed { refused: true };
            self.txn.idempotence().on_outcome(&b, outcome);
            self.fail(b, err, now);
        }
    }

    fn expire_batches(&mut self, now: Instant, timeout: &mut Duration) {
        // Batches in flight answer their records by delivery.timeout.ms too, as Java's do
        // (`Sender.getExpiredInflightBatches`): the records get DeliveryTimeout (may have been
        // written) now; the request's own answer, when it comes, still settles the batch's
        // sequence bookkeeping, and its `done` is then ignored (a batch's final state is set
        // once). Without this, an answer could come up to request.timeout.ms late.
        let delivery_timeout = self.cfg.delivery_timeout;
        let metrics = &self.shared.metrics;
        for ctx in self.pool.in_flight() {
            let RequestCtx::Produce(batches) = ctx else {
                continue;
            };
            for b in batches.iter().filter(|b| !b.is_done()) {
                let deadline = b.created() + delivery_timeout;
                if now >= deadline {
                    // Counted before the answer, so whoever the answer wakes sees it counted.
                    let topic = &b.topic_partition().topic;
                    metrics.lock().failed(topic, b.record_count(), now);
                    let err = Error::DeliveryTimeout {
                        elapsed: delivery_timeout,
                        delivery: Delivery::Unknown,
                        last_error: None,
                    };
                    self.txn.batch_failed(b.topic_partition(), &err);
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
        for b in self.shared.accumulator.expired_batches(now) {
            let err = Error::DeliveryTimeout {
                elapsed: now.saturating_duration_since(b.created()),
                delivery: b.delivery_if_failed(),
                last_error: self.last_error_of(&b),
            };
            // A retry that expired while queued must not leave its partition "retrying" (it
            // would hold every later batch of the partition forever). If every attempt was
            // refused its sequences are a hole for the next batches to fill.
            let outcome = idempotence::Outcome::Failed {
                refused: !b.was_sent(),
            };
            self.txn.idempotence().on_outcome(&b, outcome);
            self.fail(b, err, now);
        }
    }

    /// The batch's last error; for a batch that never got one (never sent, say because no
    /// broker could be reached), the last connection failure since it was created, so its
    /// records do not just say that time ran out.
    fn last_error_of(&self, b: &ProducerBatch) -> Option<Arc<str>> {
        b.last_error().cloned().or_else(|| {
            let unreached = self.shared.metadata.unreached_since(b.created());
            unreached
                .last_error
                .map(|e| Arc::from(format!("could not connect to {e}")))
        })
    }

    fn handle(&mut self, event: Event<RequestCtx>, now: Instant) {
        match event {
            Event::Response {
                node,
                api_version,
                body,
                ctx,
                sent_at,
            } => match ctx {
                RequestCtx::Metadata => self.on_metadata(node, api_version, &body, now),
                RequestCtx::Txn(TxnRequest::Transactional(api)) => {
                    self.on_txn_answer(api, api_version, &body, now)
                }
                RequestCtx::Txn(TxnRequest::InitProducerId) => {
                    let resp = InitProducerIdResponse::decode(&body, api_version);
                    if let Some(fatal) = self.txn.on_init_producer_id(resp, now) {
                        self.shared
                            .accumulator
                            .abort_incomplete_batches(|_, _| fatal.clone());
                    }
                }
                RequestCtx::Produce(batches) => {
                    let latency = now.saturating_duration_since(sent_at);
                    self.shared.metrics.lock().latency(node, latency, now);
                    self.on_produce(node, api_version, &body, batches, now)
                }
            },
            Event::Written(ctx) => {
                // acks=0: answered (offset -1) once the request is written.
                if let RequestCtx::Produce(batches) = ctx {
                    for b in batches {
                        b.done(Ok(BatchAck {
                            base_offset: -1,
                            log_append_time: -1,
                        }));
                    }
                }
            }
            Event::Ready {
                broker,
                authenticated,
            } => {
                self.shared.metadata.broker_reached(&broker);
                if authenticated {
                    self.shared.metadata.auth_succeeded();
                }
            }
            Event::AuthFailed { broker, reason } => self.on_auth_failed(broker, reason, now),
            Event::Disconnected {
                broker,
                reason,
                unanswered,
            } => {
                self.shared.metadata.request_update();
                self.shared.metadata.broker_failed(&broker, &reason, now);
                for ctx in unanswered {
                    self.on_unanswered(ctx, &broker, &reason, now);
                }
            }
        }
    }

    fn on_metadata(&mut self, node: i32, version: i16, body: &[u8], now: Instant) {
        self.metadata_in_flight = false;
        match MetadataResponse::decode(body, version) {
            Ok(m) if m.error_code.is_ok() => {
                self.shared.metadata.update(&m, now);
                self.shared.metrics.lock().metadata_updated(now);
            }
            Ok(m) => {
                log::warn!("metadata from node {node}: {}", m.error_code);
                self.shared.metadata.failed_update(now);
            }
            Err(e) => {
                log::warn!("malformed Metadata response from node {node}: {e}");
                self.shared.metadata.failed_update(now);
            }
        }
    }

    /// A request whose connection failed before its answer came.
    fn on_unanswered(&mut self, ctx: RequestCtx, broker: &str, reason: &str, now: Instant) {
        match ctx {
            RequestCtx::Metadata => {
                self.metadata_in_flight = false;
                self.shared.metadata.failed_update(now);
            }
            RequestCtx::Txn(TxnRequest::Transactional(api)) => self.on_txn_unanswered(api, now),
            RequestCtx::Txn(req) => self.txn.failed(req, now),
            RequestCtx::Produce(batches) => {
                for b in batches {
                    let err = Error::Network {
                        broker: broker.to_string(),
                        reason: reason.to_string(),
                        delivery: Delivery::Unknown,
                    };
                    self.fail_or_retry(b, err, now);
                }
            }
        }
    }

    /// Fails what waits (queued batches, callers waiting for metadata) with the failure.
    fn on_auth_failed(&mut self, broker: String, reason: String, now: Instant) {
        let err = Error::Authentication {
            broker,
            reason,
            delivery: Delivery::NotWritten,
        };
        self.shared.metadata.auth_failed(err.clone());
        for b in self.shared.accumulator.take_queued() {
            // A queued retry may have been written by an earlier, unanswered attempt.
            let delivery = b.delivery_if_failed();
            let refused = delivery == Delivery::NotWritten;
            let outcome = idempotence::Outcome::Failed { refused };
            self.txn.idempotence().on_outcome(&b, outcome);
            let mut e = err.clone();
            if let Error::Authentication { delivery: d, .. } = &mut e {
                *d = delivery;
            }
            self.fail(b, e, now);
        }
    }

    fn on_produce(
        &mut self,
        node: i32,
        version: i16,
        body: &[u8],
        batches: Vec<ProducerBatch>,
        now: Instant,
    ) {
        let resp = match ProduceResponse::decode(body, version) {
            Ok(r) => r,
            Err(e) => {
                let broker = self.pool.addr(node).to_string();
                let reason = format!("malformed Produce response: {e}");
                for b in batches {
                    let err = Error::Network {
                        broker: broker.clone(),
                        reason: reason.clone(),
                        delivery: Delivery::Unknown,
                    };
                    self.fail_or_retry(b, err, now);
                }
                self.pool
                    .disconnect(node, "malformed Produce response", now);
                return;
            }
        };
        let cluster = self.shared.metadata.cluster();
        for (mut b, answer) in produce::answers(&resp, batches, &cluster) {
            match answer {
                Answer::Written(ack) => {
                    let outcome = idempotence::Outcome::Written;
                    self.txn.idempotence().on_outcome(&b, outcome);
                    b.done(Ok(ack));
                }
                Answer::Refused {
                    error,
                    stale_metadata,
                } => {
                    if stale_metadata {
                        self.shared.metadata.request_update();
                    }
                    self.fail_or_retry(b, error, now);
                }
                Answer::Missing(error) => {
                    b.attempt_ambiguous();
                    self.fail_or_retry(b, error, now);
                }
            }
        }
    }

    /// Retries a failed batch when [`produce::decide`] allows it; answers it otherwise.
    fn fail_or_retry(&mut self, mut b: ProducerBatch, err: Error, now: Instant) {
        let policy = RetryPolicy {
            delivery_timeout: self.cfg.delivery_timeout,
            retries: self.cfg.retries,
        };
        let forced = self.forced();
        match produce::decide(&mut b, err, self.txn.idempotence(), policy, forced, now) {
            Verdict::Retry(err) => {
                log::debug!("retrying {} after {err}", b.topic_partition());
                let topic = &b.topic_partition().topic;
                self.shared
                    .metrics
                    .lock()
                    .retried(topic, b.record_count(), now);
                b.set_last_error(err.to_string());
                self.shared.accumulator.reenqueue(b, now);
            }
            Verdict::Fail(err) => {
                log::debug!("batch for {} failed: {err}", b.topic_partition());
                self.fail(b, err, now);
            }
            Verdict::Split(err) => self.split(b, err, now),
        }
    }

    /// Splits a batch the broker refused as too large (see `accumulator/split.rs`); if it
    /// cannot be, it fails with the broker's error.
    fn split(&mut self, b: ProducerBatch, err: Error, now: Instant) {
        let (tp, records) = (b.topic_partition().clone(), b.record_count());
        match self.shared.accumulator.split_and_reenqueue(b) {
            Ok(n) => log::warn!("{tp}: {err}; its batch of {records} records split into {n}"),
            Err(refused) => {
                let (b, reason) = *refused;
                log::warn!("{tp}: {err}; its batch cannot be split ({reason})");
                let refused = !b.is_ambiguous();
                self.txn
                    .idempotence()
                    .on_outcome(&b, idempotence::Outcome::Failed { refused });
                let mut err = err;
                if let Error::Broker { delivery, .. } = &mut err {
                    *delivery = b.delivery_if_failed();
                }
                self.fail(b, err, now);
            }
        }
    }

    /// Answers a batch with an error, counted in the metrics if this is its answer (a batch
    /// answered already, by delivery.timeout.ms while in flight, was counted then). Counted
    /// before the answer, so a caller woken by it reads record-error-total with it included.
    fn fail(&self, b: ProducerBatch, err: Error, now: Instant) {
        self.txn.batch_failed(b.topic_partition(), &err);
        if b.is_done() {
            return;
        }
        let topic = &b.topic_partition().topic;
        self.shared
            .metrics
            .lock()
            .failed(topic, b.record_count(), now);
        b.done(Err(err));
    }
}

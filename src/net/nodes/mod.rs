//! The node pool: every broker the producer may talk to, its connection and that
//! connection's setup, over a [`Transport`].
//!
//! The sender asks the pool, it does not drive it: "connect to node 3 if allowed", "which ready
//! node has the fewest requests in flight", "send this request to node 1", "poll". The pool
//! owns the rules of connections, as Java's `NetworkClient` / `ClusterConnectionStates` do:
//!
//! - A node is a broker id from metadata, or a negative id for a bootstrap address. Bootstrap
//!   connections are closed once a broker known by id is ready (it is reached again under its
//!   own id), not before: while every known broker is in its reconnect backoff, a bootstrap
//!   connection is how metadata is fetched.
//! - A connection is ready once its [`Handshake`] is (ApiVersions, then SASL); until then the
//!   pool answers the handshake's requests itself and the sender sees nothing of them.
//! - A failed connection (refused, reset, a request past `request.timeout.ms`, a connect past
//!   its setup timeout) is closed and handed back as [`Event::Disconnected`] with the contexts
//!   of its unanswered requests, each exactly once; what that means for batches is the
//!   sender's business. The node then waits `reconnect.backoff.ms`, doubling per consecutive
//!   failure up to `reconnect.backoff.max.ms`, with jitter.
//! - The connect timeout grows the same way, from `socket.connection.setup.timeout.ms` per
//!   consecutive failed connect up to `socket.connection.setup.timeout.max.ms` (KIP-601).
//! - A name that resolves to several addresses (`client.dns.lookup=use_all_dns_ips`, the
//!   default) has each tried in turn, one per connect attempt, then is resolved again (KIP-302).
//!   Unlike Java, addresses of both families are kept: the JVM lists IPv4 first by default,
//!   `getaddrinfo` may list IPv6 first, and keeping only the first family could drop the
//!   reachable one.
//! - A connection with nothing in flight and no traffic for `connections.max.idle.ms` is
//!   closed quietly (no backoff); the next request to the node opens a new one.
//! - A session the broker gave a lifetime (`connections.max.reauth.ms`) is renewed on the same
//!   connection before it ends (KIP-368, [`super::reauth`]; `renew.rs`): the node is not ready
//!   while it is, so the sender holds its requests, and answers to those in flight still come.

use super::connection::{Connection, ConnectionError, FrameBody, WireParts};
use super::handshake::{Handshake, Next, Outgoing};
use super::link::{self, Link, LinkEvent};
use super::reauth::Session;
use super::sasl::SaslSettings;
use super::traffic::NetStats;
use super::transport::{Readiness, Stream, Transport};
use crate::backoff::{ExponentialBackoff, Rng};
use crate::protocol::versions::ApiVersionTable;
use crate::protocol::Request;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How often the pool looks again for OAUTHBEARER's first token before connecting.
const TOKEN_WAIT: Duration = Duration::from_millis(20);

mod renew;

/// Connection settings from the producer config.
#[derive(Debug, Clone)]
pub(crate) struct PoolConfig {
    pub client_id: String,
    pub max_in_flight: usize,
    pub request_timeout: Duration,
    pub reconnect_backoff: Duration,
    pub reconnect_backoff_max: Duration,
    pub setup_timeout: Duration,
    pub setup_timeout_max: Duration,
    /// `connections.max.idle.ms`; `None` (-1) never closes idle connections.
    pub connections_max_idle: Option<Duration>,
    pub sasl: Option<SaslSettings>,
}

/// What the pool tells the sender.
#[derive(Debug)]
pub(crate) enum Event<C> {
    /// The answer to a request the sender sent.
    Response {
        node: i32,
        api_version: i16,
        body: Vec<u8>,
        ctx: C,
        /// When the request was queued.
        sent_at: Instant,
    },
    /// A request that expects no answer (Produce with acks=0) was written whole.
    Written(C),
    /// A connection finished its setup (and authenticated, with SASL).
    Ready { broker: String, authenticated: bool },
    /// Authentication with a broker failed; a [`Event::Disconnected`] follows.
    AuthFailed { broker: String, reason: String },
    /// A connection failed or could not be opened. Every request sent on it and not
    /// answered comes back here (each may have reached the broker).
    Disconnected {
        broker: String,
        reason: String,
        unanswered: Vec<C>,
    },
}

/// Why [`NodePool::send`] sent nothing; the context comes back.
pub(crate) enum SendError<C> {
    /// The broker speaks no version of the API in our range.
    Unsupported(C),
    /// Not connected, not ready, or the frame could not be written.
    Failed(String, C),
}

impl<C> std::fmt::Display for SendError<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Unsupported(_) => {
                f.write_str("the broker supports no version of it that we speak")
            }
            SendError::Failed(e, _) => f.write_str(e),
        }
    }
}

/// A request's context on the connection: the pool's own setup requests, or the sender's.
enum Ctx<C> {
    Setup,
    User(C),
}

impl<C: WireParts> WireParts for Ctx<C> {
    fn wire_part(&self, index: usize) -> &[u8] {
        match self {
            Ctx::Setup => &[],
            Ctx::User(c) => c.wire_part(index),
        }
    }
}

struct Node<S: Stream, C> {
    addr: String,
    conn: Option<Connection<Ctx<C>, S>>,
    handshake: Option<Handshake>,
    /// Reachability as last seen: what decides which changes are logged (see `link.rs`).
    link: Link,
    /// No connection attempt before this instant.
    reconnect_at: Option<Instant>,
    /// Consecutive failed connections (reconnect backoff).
    failures: u32,
    /// Consecutive connects that did not complete (connect timeout growth).
    failed_connects: u32,
    /// The setup timeout of the connect under way.
    connect_timeout: Duration,
    /// What `addr` resolved to, and the one in use (or to try next). A connect attempt that
    /// fails before the connection is ready moves on to the next; past the last, the name is
    /// resolved again. A ready connection that breaks is reopened to the same address.
    addresses: Vec<SocketAddr>,
    address: usize,
    /// The connection's SASL session: when to re-authenticate, or since when it is.
    session: Session,
}

impl<S: Stream, C> Node<S, C> {
    fn new(addr: String) -> Self {
        Node {
            addr,
            conn: None,
            handshake: None,
            link: Link::New,
            reconnect_at: None,
            failures: 0,
            failed_connects: 0,
            connect_timeout: Duration::ZERO,
            addresses: Vec::new(),
            address: 0,
            session: Session::Unlimited,
        }
    }
    fn is_ready(&self) -> bool {
        self.conn.is_some() && self.handshake.as_ref().is_some_and(Handshake::is_ready)
    }
    fn is_setting_up(&self) -> bool {
        self.conn.is_some() && !self.is_ready()
    }
    fn in_flight(&self) -> usize {
        self.conn.as_ref().map_or(0, |c| c.in_flight())
    }
    fn may_connect(&self, now: Instant) -> bool {
        self.conn.is_none() && self.reconnect_at.is_none_or(|t| now >= t)
    }
}

/// Every broker and its connection. See the module docs.
pub(crate) struct NodePool<T: Transport, C> {
    transport: T,
    cfg: PoolConfig,
    nodes: HashMap<i32, Node<T::Stream, C>>,
    bootstrap_count: usize,
    next_bootstrap: usize,
    /// Readiness key -> node id.
    keys: HashMap<usize, i32>,
    next_key: usize,
    reconnect_backoff: ExponentialBackoff,
    setup_timeout: ExponentialBackoff,
    rng: Rng,
    /// Events produced outside `poll` (a connect that failed at once), handed out by the next.
    pending: Vec<Event<C>>,
    ready: Vec<Readiness>,
    stats: NetStats,
    /// How long each re-authentication completed since the sender last took them took.
    reauth_latencies: Vec<Duration>,
}

impl<T: Transport, C: WireParts> NodePool<T, C> {
    /// A pool that knows the bootstrap addresses (as nodes -1, -2, ...).
    pub fn new(transport: T, cfg: PoolConfig, bootstrap: &[String], rng: Rng) -> Self {
        let nodes = bootstrap
            .iter()
            .enumerate()
            .map(|(i, addr)| (-1 - i as i32, Node::new(addr.clone())))
            .collect();
        // Jitter drawn from the pool's generator: a seeded pool (tests) is deterministic.
        let seeded = |rng: &Rng| Rng::with_seed(rng.next_u64());
        let reconnect_backoff = ExponentialBackoff::with_rng(
            cfg.reconnect_backoff,
            cfg.reconnect_backoff_max,
            seeded(&rng),
        );
        let setup_timeout =
            ExponentialBackoff::with_rng(cfg.setup_timeout, cfg.setup_timeout_max, seeded(&rng));
        NodePool {
            transport,
            cfg,
            nodes,
            bootstrap_count: bootstrap.len(),
            next_bootstrap: 0,
            keys: HashMap::new(),
            next_key: 1,
            reconnect_backoff,
            setup_timeout,
            rng,
            pending: Vec::new(),
            ready: Vec::new(),
            stats: NetStats::default(),
            reauth_latencies: Vec::new(),
        }
    }

    /// The transport's clock.
    pub fn now(&self) -> Instant {
        self.transport.now()
    }

    /// Adds the brokers metadata lists and forgets changed addresses (idle nodes only); closes
    /// idle bootstrap connections once a known broker is ready (see the module docs: closing
    /// them as soon as their ApiVersions answered made the sender open and close one every few
    /// milliseconds while known brokers were backing off, a storm seen through
    /// tests/producer_proxy.rs).
    pub fn sync(&mut self, brokers: &HashMap<i32, String>) {
        let known_ready = self.nodes.iter().any(|(&id, n)| id >= 0 && n.is_ready());
        if !brokers.is_empty() && known_ready {
            for (&id, n) in self.nodes.iter_mut() {
                let idle = n
                    .conn
                    .as_ref()
                    .is_some_and(|c| c.in_flight() == 0 && !c.has_pending_writes());
                if id < 0 && idle {
                    if let Some(c) = n.conn.take() {
                        drop(closed(&mut self.stats, id, c));
                        n.handshake = None;
                        self.keys.retain(|_, v| *v != id);
                    }
                }
            }
        }
        for (&id, addr) in brokers {
            match self.nodes.get_mut(&id) {
                Some(n) if &n.addr == addr => {}
                Some(n) => {
                    if n.in_flight() == 0 {
                        if let Some(c) = n.conn.take() {
                            drop(closed(&mut self.stats, id, c));
                        }
                        self.keys.retain(|_, v| *v != id);
                        *n = Node::new(addr.clone());
                    }
                }
                None => {
                    self.nodes.insert(id, Node::new(addr.clone()));
                }
            }
        }
    }

    /// Whether `id` is ready and has room under `max.in.flight.requests.per.connection`.
    pub fn can_send(&self, id: i32) -> bool {
        self.nodes
            .get(&id)
            .is_some_and(|n| n.is_ready() && n.in_flight() < self.cfg.max_in_flight.max(1))
    }

    /// Whether `id` is ready and has `max.in.flight.requests.per.connection` requests out: it
    /// can take nothing more until an answer (or a failure) comes.
    pub fn is_full(&self, id: i32) -> bool {
        self.nodes
            .get(&id)
            .is_some_and(|n| n.is_ready() && n.in_flight() >= self.cfg.max_in_flight.max(1))
    }

    /// The versions `id` speaks, once its ApiVersions answered.
    pub fn versions(&self, id: i32) -> Option<&ApiVersionTable> {
        self.nodes.get(&id)?.handshake.as_ref()?.versions()
    }

    /// `host:port` of `id`.
    pub fn addr(&self, id: i32) -> &str {
        self.nodes.get(&id).map_or("", |n| &n.addr)
    }

    /// Starts a connection to `id` if allowed now; returns whether it is connected (perhaps
    /// still setting up). A connection whose session is due for renewal starts re-authenticating
    /// (it is then connected but not ready: see [`NodePool::can_send`]).
    pub fn ensure_connected(&mut self, id: i32, now: Instant) -> bool {
        let Some(node) = self.nodes.get_mut(&id) else {
            return false;
        };
        if node.conn.is_some() {
            self.maybe_reauthenticate(id, now);
            return true;
        }
        if !node.may_connect(now) {
            return false;
        }
        if awaits_first_token(&self.cfg) {
            return false;
        }
        if node.address >= node.addresses.len() {
            let resolved = self.transport.resolve(&node.addr);
            let reason = match resolved {
                Ok(a) if !a.is_empty() => {
                    node.addresses = a;
                    node.address = 0;
                    None
                }
                Ok(_) => Some(format!("{} resolved to no address", node.addr)),
                Err(e) => Some(format!("cannot resolve {}: {e}", node.addr)),
            };
            if let Some(reason) = reason {
                self.connect_failed(id, reason, now);
                return false;
            }
        }
        let target = node.addresses[node.address];
        let key = self.next_key;
        self.next_key += 1;
        let addr = node.addr.clone();
        log::debug!("connecting to node {id} at {addr} ({target})");
        match self.transport.connect(&addr, target, key) {
            Ok((stream, connecting)) => {
                if !connecting {
                    self.stats.connections_created += 1;
                }
                let attempt = node.failed_connects.saturating_add(1);
                let timeout = self.setup_timeout.backoff(attempt);
                let (hs, first) = Handshake::start(self.cfg.sasl.clone());
                node.conn = Some(Connection::new(stream, connecting, timeout, now));
                node.handshake = Some(hs);
                node.session = Session::Unlimited;
                node.connect_timeout = timeout;
                self.keys.insert(key, id);
                self.send_setup(id, first, now);
                self.nodes.get(&id).is_some_and(|n| n.conn.is_some())
            }
            Err(e @ ConnectionError::Tls(_)) => {
                self.auth_failed(id, e.to_string());
                self.connect_failed(id, e.to_string(), now);
                false
            }
            Err(e) => {
                self.connect_failed(id, e.to_string(), now);
                false
            }
        }
    }

    /// A ready node with the fewest requests in flight; failing that, starts a connection to
    /// a known broker (else the next bootstrap address) and returns `None`. A node whose
    /// session is due for renewal starts re-authenticating instead of being picked.
    pub fn least_loaded(&mut self, now: Instant) -> Option<i32> {
        let max = self.cfg.max_in_flight.max(1);
        loop {
            let best = self
                .nodes
                .iter()
                .filter(|(_, n)| n.is_ready() && n.in_flight() < max)
                .min_by_key(|(&id, n)| (n.in_flight(), id))
                .map(|(&id, _)| id);
            let Some(id) = best else { break };
            if !self.maybe_reauthenticate(id, now) {
                return Some(id);
            }
        }
        // Nothing ready: if a connection is being set up, wait for it.
        if self.nodes.values().any(Node::is_setting_up) {
            return None;
        }
        let mut candidates: Vec<i32> = self
            .nodes
            .iter()
            .filter(|(&id, n)| id >= 0 && n.may_connect(now))
            .map(|(&id, _)| id)
            .collect();
        candidates.sort_unstable();
        if candidates.is_empty() {
            let n = self.bootstrap_count;
            for k in 0..n {
                let id = -1 - ((self.next_bootstrap + k) % n) as i32;
                if self.nodes[&id].may_connect(now) {
                    candidates.push(id);
                    self.next_bootstrap = (self.next_bootstrap + k + 1) % n;
                    break;
                }
            }
        }
        if !candidates.is_empty() {
            let pick = candidates[self.rng.below(candidates.len())];
            self.ensure_connected(pick, now);
        }
        None
    }

    /// Time until the earliest reconnect backoff ends; while the first OAUTHBEARER token is
    /// fetched, [`TOKEN_WAIT`] at least (the login thread does not wake the sender: a short
    /// poll costs nothing next to a token endpoint's round trip).
    /// Every node connected (the steady state: the sender asks each turn) is answered without
    /// looking at the token.
    pub fn next_reconnect(&self, now: Instant) -> Option<Duration> {
        let mut unconnected = self.nodes.values().filter(|n| n.conn.is_none()).peekable();
        unconnected.peek()?;
        let backoff = unconnected
            .filter_map(|n| n.reconnect_at)
            .map(|t| t.saturating_duration_since(now))
            .min();
        if awaits_first_token(&self.cfg) {
            return Some(backoff.map_or(TOKEN_WAIT, |b| b.max(TOKEN_WAIT)));
        }
        backoff
    }

    /// Sends `req` to a ready node at the highest version both sides speak (never below
    /// `min_version`).
    pub fn send<R: Request>(
        &mut self,
        id: i32,
        req: &R,
        min_version: i16,
        ctx: C,
        now: Instant,
    ) -> Result<(), SendError<C>> {
        let Some(v) = self.versions(id) else {
            return Err(SendError::Failed("not ready".into(), ctx));
        };
        let Some(version) = v.negotiate(R::API_KEY, min_version, R::MAX_VERSION) else {
            return Err(SendError::Unsupported(ctx));
        };
        self.send_with(id, R::API_KEY, version, true, ctx, now, |_, b| {
            req.encode_body(version, b.bytes())
        })
        .map_err(|(e, ctx)| SendError::Failed(e, ctx))
    }

    /// Sends a request whose body `body` writes into the connection's write queue: its own
    /// bytes, and parts of the context by reference (a Produce request's batches, written to
    /// the socket from the batches themselves), at a version the caller chose from
    /// [`NodePool::versions`].
    #[allow(clippy::too_many_arguments)]
    pub fn send_with(
        &mut self,
        id: i32,
        api_key: i16,
        version: i16,
        expect_response: bool,
        ctx: C,
        now: Instant,
        body: impl FnOnce(&C, &mut FrameBody<'_>),
    ) -> Result<(), (String, C)> {
        let client_id = Some(self.cfg.client_id.as_str()).filter(|s| !s.is_empty());
        let Some(conn) = self.nodes.get_mut(&id).and_then(|n| n.conn.as_mut()) else {
            return Err(("not connected".into(), ctx));
        };
        let user_body = |c: &Ctx<C>, b: &mut FrameBody<'_>| {
            if let Ctx::User(c) = c {
                body(c, b);
            }
        };
        conn.send(
            api_key,
            version,
            client_id,
            expect_response,
            now,
            Ctx::User(ctx),
            user_body,
        )
        .map(drop)
        .map_err(|(e, ctx)| match ctx {
            Ctx::User(c) => (e.to_string(), c),
            Ctx::Setup => unreachable!("a user request comes back as one"),
        })
    }

    /// The contexts of every request in flight (not yet answered), on every connection.
    pub fn in_flight(&self) -> impl Iterator<Item = &C> {
        self.nodes
            .values()
            .filter_map(|n| n.conn.as_ref())
            .flat_map(|c| c.in_flight_contexts())
            .filter_map(|ctx| match ctx {
                Ctx::User(c) => Some(c),
                Ctx::Setup => None,
            })
    }

    /// Whether any request is in flight or waiting to be written.
    pub fn has_in_flight(&self) -> bool {
        self.nodes
            .values()
            .filter_map(|n| n.conn.as_ref())
            .any(|c| c.in_flight() > 0 || c.has_pending_writes())
    }

    /// Closes every connection; returns the contexts of every unanswered request.
    pub fn close_all(&mut self) -> Vec<C> {
        let mut out = Vec::new();
        for (&id, node) in self.nodes.iter_mut() {
            node.handshake = None;
            if let Some(conn) = node.conn.take() {
                out.extend(users(closed(&mut self.stats, id, conn)));
            }
        }
        self.keys.clear();
        out
    }

    /// One network step: closes connections past their deadlines, writes what is queued,
    /// waits up to `timeout` for readiness, reads. Returns what happened.
    pub fn poll(&mut self, timeout: Duration, now: Instant) -> Vec<Event<C>> {
        let mut timeout = timeout.min(self.check_deadlines(now));
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
        for (id, e) in broken {
            self.connection_error(id, e, now);
        }
        self.collect_written();
        if !self.pending.is_empty() {
            // Let the sender act on what happened (retries, backoff timers) before waiting.
            timeout = Duration::ZERO;
        }
        let mut ready = std::mem::take(&mut self.ready);
        ready.clear();
        let before = self.transport.now();
        if let Err(e) = self.transport.wait(timeout, &mut ready) {
            log::warn!("readiness wait failed: {e}");
        }
        let now = self.transport.now();
        let waited = now.saturating_duration_since(before).as_nanos();
        self.stats.io_wait_ns += u64::try_from(waited).unwrap_or(u64::MAX);
        for r in &ready {
            self.on_ready(*r, now);
        }
        self.ready = ready;
        self.collect_written();
        for (&id, node) in self.nodes.iter_mut() {
            if let Some(conn) = node.conn.as_mut() {
                let t = conn.take_traffic();
                self.stats.nodes.entry(id).or_default().add(t);
            }
        }
        std::mem::take(&mut self.pending)
    }

    /// Traffic, connects, closes and wait time so far (counted up to the last poll).
    pub fn stats(&self) -> &NetStats {
        &self.stats
    }

    /// Open connections (set up or not).
    pub fn connection_count(&self) -> usize {
        self.nodes.values().filter(|n| n.conn.is_some()).count()
    }

    /// Requests sent and not answered yet, on every connection (setup requests included).
    pub fn in_flight_count(&self) -> usize {
        self.nodes.values().map(Node::in_flight).sum()
    }

    /// Closes connections past `request.timeout.ms`, their connect timeout, or idle for
    /// `connections.max.idle.ms`; returns how long until the next such deadline.
    fn check_deadlines(&mut self, now: Instant) -> Duration {
        let mut next = Duration::MAX;
        let mut expired: Vec<(i32, String)> = Vec::new();
        let mut idle: Vec<i32> = Vec::new();
        for (&id, n) in &self.nodes {
            let Some(c) = n.conn.as_ref() else { continue };
            if c.connect_timed_out(now) {
                expired.push((
                    id,
                    format!(
                        "connect not completed within socket.connection.setup.timeout.ms ({:?})",
                        n.connect_timeout
                    ),
                ));
                continue;
            }
            if c.oldest_in_flight()
                .is_some_and(|t| now.saturating_duration_since(t) >= self.cfg.request_timeout)
            {
                let what = if n.session.is_renewing() {
                    "re-authentication not completed"
                } else {
                    "no response"
                };
                let timeout = self.cfg.request_timeout;
                expired.push((
                    id,
                    format!("{what} within request.timeout.ms ({timeout:?})"),
                ));
                continue;
            }
            if let Some(max_idle) = self.cfg.connections_max_idle {
                if let Some(d) = c.idle_deadline(max_idle) {
                    if now >= d {
                        idle.push(id);
                        continue;
                    }
                    next = next.min(d - now);
                }
            }
            // Wake up at the deadline, not at the next unrelated event (a timeout was once
            // noticed a whole poll period late).
            let deadlines = [
                c.oldest_in_flight().map(|t| t + self.cfg.request_timeout),
                c.connect_deadline(),
            ];
            for d in deadlines.into_iter().flatten() {
                next = next.min(d.saturating_duration_since(now) + Duration::from_millis(1));
            }
        }
        for id in idle {
            self.close_idle(id);
        }
        if !expired.is_empty() {
            next = Duration::ZERO;
        }
        for (id, reason) in expired {
            self.disconnect(id, &reason, now);
        }
        next
    }

    fn close_idle(&mut self, id: i32) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        if let Some(conn) = node.conn.take() {
            drop(closed(&mut self.stats, id, conn));
            node.handshake = None;
            self.keys.retain(|_, v| *v != id);
            self.note(id, LinkEvent::IdleClosed);
        }
    }

    fn collect_written(&mut self) {
        for node in self.nodes.values_mut() {
            if let Some(conn) = node.conn.as_mut() {
                for ctx in conn.take_sent_unanswered() {
                    if let Ctx::User(c) = ctx {
                        self.pending.push(Event::Written(c));
                    }
                }
            }
        }
    }

    fn on_ready(&mut self, r: Readiness, now: Instant) {
        let Some(&id) = self.keys.get(&r.key) else {
            return;
        };
        let Some(conn) = self.nodes.get_mut(&id).and_then(|n| n.conn.as_mut()) else {
            return;
        };
        let mut result = Ok(Vec::new());
        if r.writable && conn.is_connecting() {
            // The connect finished: succeeded (queued requests go out now) or failed.
            result = conn.finish_connect().map(|_| Vec::new());
            if result.is_ok() {
                self.stats.connections_created += 1;
            }
        }
        if r.writable && result.is_ok() {
            result = conn.flush().map(|_| Vec::new());
        }
        if r.readable && result.is_ok() {
            result = conn.read(now);
        }
        match result {
            Ok(responses) => {
                for resp in responses {
                    match resp.ctx {
                        Ctx::Setup => self.on_setup_response(
                            id,
                            resp.api_key,
                            resp.api_version,
                            &resp.body,
                            now,
                        ),
                        Ctx::User(ctx) => self.pending.push(Event::Response {
                            node: id,
                            api_version: resp.api_version,
                            body: resp.body,
                            ctx,
                            sent_at: resp.sent_at,
                        }),
                    }
                }
            }
            Err(e) => self.connection_error(id, e, now),
        }
    }

    fn on_setup_response(
        &mut self,
        id: i32,
        api_key: i16,
        version: i16,
        body: &[u8],
        now: Instant,
    ) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        let Some(hs) = node.handshake.as_mut() else {
            return self.disconnect(id, "unexpected answer during connection setup", now);
        };
        match hs.on_response(api_key, version, body) {
            Next::Send(out) => self.send_setup(id, out, now),
            Next::Ready if hs.is_reauthentication() => self.reauthenticated(id, now),
            Next::Ready => {
                node.session = Session::started(hs.session_lifetime(), now, self.rng.next_unit());
                node.failures = 0;
                node.failed_connects = 0;
                node.reconnect_at = None;
                self.note(id, LinkEvent::Ready);
                self.pending.push(Event::Ready {
                    broker: self.addr(id).to_string(),
                    authenticated: self.cfg.sasl.is_some(),
                });
            }
            Next::Failed(failure) => self.setup_failed(id, failure, now),
        }
    }

    fn send_setup(&mut self, id: i32, out: Outgoing, now: Instant) {
        let client_id = Some(self.cfg.client_id.as_str()).filter(|s| !s.is_empty());
        let Some(conn) = self.nodes.get_mut(&id).and_then(|n| n.conn.as_mut()) else {
            return;
        };
        let res = conn.send(
            out.api_key,
            out.version,
            client_id,
            true,
            now,
            Ctx::Setup,
            |_, b| b.bytes().extend_from_slice(&out.body),
        );
        if let Err((e, _)) = res {
            self.disconnect(id, &format!("cannot send a setup request: {e}"), now);
        }
    }

    /// Logs an authentication failure (at error level once per node) and tells the sender.
    fn auth_failed(&mut self, id: i32, reason: String) {
        if !self.nodes.contains_key(&id) {
            return;
        }
        self.note(id, LinkEvent::AuthFailed { reason: &reason });
        let broker = self.addr(id).to_string();
        self.pending.push(Event::AuthFailed { broker, reason });
    }

    /// Moves `id`'s [`Link`] on and logs the line the change earns.
    fn note(&mut self, id: i32, event: LinkEvent<'_>) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        let name = format!("node {id} ({})", node.addr);
        let (link, level, line) = link::next(node.link, event, &name);
        node.link = link;
        log::log!(level, "{line}");
    }

    /// A TLS failure (untrusted certificate, wrong host name) is an authentication failure,
    /// since retrying cannot fix it; anything else just closes the connection.
    fn connection_error(&mut self, id: i32, e: ConnectionError, now: Instant) {
        if let ConnectionError::Tls(_) = e {
            self.auth_failed(id, e.to_string());
        }
        self.disconnect(id, &e.to_string(), now);
    }

    /// Closes `id`'s connection (the stream is out of step, say); its unanswered requests
    /// come back through the next [`NodePool::poll`].
    pub fn disconnect(&mut self, id: i32, reason: &str, now: Instant) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        let renewing = node.session.is_renewing();
        let was_ready = node.is_ready() || renewing;
        let Some(conn) = node.conn.take() else { return };
        node.session = Session::Unlimited;
        if renewing {
            self.stats.failed_reauthentications += 1;
        }
        let connecting = conn.is_connecting();
        node.handshake = None;
        self.keys.retain(|_, v| *v != id);
        let unanswered = users(closed(&mut self.stats, id, conn)).collect();
        if connecting {
            node.failed_connects = node.failed_connects.saturating_add(1);
        }
        if !was_ready {
            node.address += 1;
        }
        self.note(id, LinkEvent::Failed { reason, was_ready });
        self.backoff(id, now);
        let broker = self.addr(id).to_string();
        self.pending.push(Event::Disconnected {
            broker,
            reason: reason.to_string(),
            unanswered,
        });
    }

    /// A connect that failed before there was a connection.
    fn connect_failed(&mut self, id: i32, reason: String, now: Instant) {
        self.note(
            id,
            LinkEvent::Failed {
                reason: &reason,
                was_ready: false,
            },
        );
        if let Some(node) = self.nodes.get_mut(&id) {
            node.failed_connects = node.failed_connects.saturating_add(1);
            node.address += 1;
        }
        self.backoff(id, now);
        let broker = self.addr(id).to_string();
        self.pending.push(Event::Disconnected {
            broker,
            reason,
            unanswered: Vec::new(),
        });
    }

    fn backoff(&mut self, id: i32, now: Instant) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        node.failures = node.failures.saturating_add(1);
        node.reconnect_at = Some(now + self.reconnect_backoff.backoff(node.failures));
    }
}

/// Whether connecting now must wait for OAUTHBEARER's first token (a free function so that
/// `ensure_connected` can ask while it holds a node of `self.nodes`).
fn awaits_first_token(cfg: &PoolConfig) -> bool {
    cfg.sasl
        .as_ref()
        .is_some_and(SaslSettings::awaits_first_token)
}

/// Closes `conn` (of node `id`), counting its last traffic and, if its connect had completed,
/// the close; returns the contexts of its unanswered requests.
fn closed<C, S: Stream>(stats: &mut NetStats, id: i32, mut conn: Connection<C, S>) -> Vec<C> {
    stats.nodes.entry(id).or_default().add(conn.take_traffic());
    if !conn.is_connecting() {
        stats.connections_closed += 1;
    }
    conn.close()
}

fn users<C>(ctxs: Vec<Ctx<C>>) -> impl Iterator<Item = C> {
    ctxs.into_iter().filter_map(|c| match c {
        Ctx::User(c) => Some(c),
        Ctx::Setup => None,
    })
}

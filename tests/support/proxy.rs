//! A fault-injecting TCP proxy on loopback, between a producer and one real broker
//! (test-only, std threads only).
//!
//! [`Proxy::start`] listens on `127.0.0.1:0` and opens one upstream connection to the broker
//! per client connection. Frames pass through byte for byte, with one exception: Kafka clients
//! connect to the addresses the cluster advertises in Metadata and FindCoordinator answers, so
//! every such answer is decoded with the crate's codec, each broker's host:port is replaced by
//! the proxy's own, and
//! the response is encoded again at the same version (a single-node cluster is assumed: every
//! advertised broker becomes the proxy). To know which responses are Metadata (and Produce), the
//! proxy tracks each connection's request headers (api key, version, correlation id).
//!
//! Faults, set from the test at any time (thread-safe):
//! - [`Proxy::blackhole_produce`]: the next `n` Produce requests are read and never forwarded
//!   nor answered (the broker never sees them). Like a lost TCP segment, the connection then
//!   stalls in that direction: every later request on it is swallowed too (counted in
//!   [`Stats::stalled`]), while answers to requests forwarded before still come back.
//! - [`Proxy::drop_produce_responses`]: the next `n` Produce requests are forwarded and their
//!   responses swallowed (the broker has the batch, the client never hears); the connection's
//!   broker-to-client direction then stalls (later answers swallowed too).
//! - [`Proxy::fail_answers_of`]: the next `n` answers of an API other than Produce (EndTxn,
//!   say) are swallowed (the connection's later answers stall too) or their connection closed.
//! - [`Proxy::reset_all`]: every proxied connection is closed (both sides).
//! - [`Proxy::delay`]: each client request waits this long before it is forwarded.
//! - [`Proxy::pass`]: no more faults (connections already stalled stay stalled until the client
//!   gives up on them).
//!
//! Everything seen is counted in [`Stats`] (requests by api key, and one [`ProduceExchange`]
//! per Produce request with its batches' producer id, epoch and sequence, and the broker's
//! answer); [`Proxy::wait_until`] blocks on a condition variable until a predicate over the
//! stats holds. Bounded: at most [`MAX_CONNECTIONS`] live connections and [`MAX_FRAME`] bytes a
//! frame; every wait has a timeout. Dropping the proxy closes the listener and every
//! connection and joins all its threads.

use kafka_sync::protocol::find_coordinator::{self, FindCoordinatorResponse};
use kafka_sync::protocol::frame::{begin_frame, finish_frame};
use kafka_sync::protocol::metadata::{self as metadata_api, MetadataResponse};
use kafka_sync::protocol::produce::{self, ProduceRequest, ProduceResponse};
use kafka_sync::protocol::{Decoder, ErrorCode, RequestHeader, ResponseHeader};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Largest frame (either direction) the proxy accepts; a larger one closes the connection.
pub const MAX_FRAME: usize = 64 << 20;
/// Most client connections open at once; more are refused (closed at once).
pub const MAX_CONNECTIONS: usize = 64;
/// Most [`ProduceExchange`]s kept; later ones are counted but not recorded.
pub const MAX_EXCHANGES: usize = 200_000;

/// What became of a Produce request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Forwarded; no answer yet.
    InFlight,
    /// Swallowed by [`Proxy::blackhole_produce`]: the broker never saw it.
    Blackholed,
    /// Swallowed because its connection had stalled after a blackhole: the broker never saw it.
    Stalled,
    /// Forwarded and answered; the answer reached the client.
    Answered,
    /// Forwarded and answered; the answer was swallowed ([`Proxy::drop_produce_responses`],
    /// or a stalled broker-to-client direction).
    ResponseDropped,
    /// Forwarded; the connection closed before an answer came through (a reset).
    Lost,
}

/// One batch of a Produce request (the first batch of each partition's records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSeen {
    /// Topic name, or the topic id in hex (Produce v13+).
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Base sequence.
    pub base_sequence: i32,
    /// Records in the batch.
    pub record_count: i32,
    /// The broker's answer for the partition, once it came (even if then swallowed).
    pub error_code: Option<ErrorCode>,
    /// The base offset the broker answered.
    pub base_offset: Option<i64>,
}

/// One Produce request and what became of it.
#[derive(Debug, Clone)]
pub struct ProduceExchange {
    /// Which proxied connection (numbered from 0 in accept order).
    pub connection: u64,
    /// Correlation id.
    pub correlation_id: i32,
    /// Its batches.
    pub batches: Vec<BatchSeen>,
    /// Its fate so far.
    pub fate: Fate,
}

/// Counters and records of what passed through.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Requests received from clients, by api key (including those swallowed).
    pub requests: HashMap<i16, u64>,
    /// Produce requests swallowed by [`Proxy::blackhole_produce`].
    pub blackholed: u64,
    /// Requests swallowed because their connection stalled after a blackhole.
    pub stalled: u64,
    /// Produce responses swallowed by [`Proxy::drop_produce_responses`].
    pub responses_dropped: u64,
    /// Responses swallowed because the connection's answers stalled after a drop.
    pub responses_stalled: u64,
    /// Client connections accepted (and proxied).
    pub connections: u64,
    /// Connections closed by [`Proxy::reset_all`].
    pub resets: u64,
    /// Answers of other APIs failed by [`Proxy::fail_answers_of`], by api key.
    pub answers_failed: HashMap<i16, u64>,
    /// Metadata responses whose brokers were rewritten to the proxy.
    pub metadata_rewritten: u64,
    /// Metadata responses that could not be decoded (passed through unchanged).
    pub metadata_undecodable: u64,
    /// Produce requests, in arrival order (up to [`MAX_EXCHANGES`]).
    pub exchanges: Vec<ProduceExchange>,
}

impl Stats {
    /// Requests received with this api key.
    pub fn requests_of(&self, api_key: i16) -> u64 {
        self.requests.get(&api_key).copied().unwrap_or(0)
    }
    /// Produce requests forwarded and not answered yet.
    pub fn produce_in_flight(&self) -> usize {
        self.exchanges
            .iter()
            .filter(|e| e.fate == Fate::InFlight)
            .count()
    }
    /// Partition answers with this error code (answers that were swallowed count too).
    pub fn produce_errors(&self, code: ErrorCode) -> usize {
        self.exchanges
            .iter()
            .flat_map(|e| &e.batches)
            .filter(|b| b.error_code == Some(code))
            .count()
    }
}

struct Pending {
    api_key: i16,
    api_version: i16,
    exchange: Option<usize>,
}

struct Conn {
    client: TcpStream,
    server: TcpStream,
    pending: HashMap<i32, Pending>,
    /// Client-to-broker direction stalled (after a blackholed request).
    requests_stalled: bool,
    /// Broker-to-client direction stalled (after a dropped response).
    responses_stalled: bool,
}

/// What [`Proxy::fail_answers_of`] does to an answer it catches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerFault {
    /// Swallow it; the connection's later answers stall too, so the client times out.
    Swallow,
    /// Close the connection instead of passing it on: the client loses it with the request.
    Reset,
}

#[derive(Default)]
struct State {
    blackhole: usize,
    drop_responses: usize,
    /// Answers of other APIs to fail: api key -> (how many more, how).
    fail_answers: HashMap<i16, (usize, AnswerFault)>,
    delay: Duration,
    stats: Stats,
    conns: HashMap<u64, Conn>,
    threads: Vec<JoinHandle<()>>,
}

struct Inner {
    upstream: SocketAddr,
    port: u16,
    stop: AtomicBool,
    state: Mutex<State>,
    changed: Condvar,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The proxy; see the module docs. Stops (listener, connections, threads) when dropped.
pub struct Proxy {
    addr: SocketAddr,
    inner: Arc<Inner>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy in front of the broker at `upstream` (`host:port`; the first address of
    /// a bootstrap list is used).
    pub fn start(upstream: &str) -> Proxy {
        let first = upstream.split(',').next().unwrap_or_default();
        let upstream: SocketAddr = first
            .parse()
            .unwrap_or_else(|e| panic!("proxy upstream {first:?} is not an ip:port: {e}"));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let inner = Arc::new(Inner {
            upstream,
            port: addr.port(),
            stop: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let i2 = inner.clone();
        let accept = thread::Builder::new()
            .name("proxy-accept".into())
            .spawn(move || accept_loop(listener, i2))
            .expect("spawn proxy accept thread");
        Proxy {
            addr,
            inner,
            accept: Some(accept),
        }
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bootstrap list for a client: the proxy's address.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// No more faults: blackhole and drop counts cleared, no delay.
    pub fn pass(&self) {
        let mut st = self.inner.lock();
        st.blackhole = 0;
        st.drop_responses = 0;
        st.fail_answers.clear();
        st.delay = Duration::ZERO;
    }

    /// Swallows the next `n` Produce requests (never forwarded, never answered); see the
    /// module docs for the stall that follows on their connections.
    pub fn blackhole_produce(&self, n: usize) {
        self.inner.lock().blackhole = n;
    }

    /// Forwards the next `n` Produce requests and swallows their responses.
    pub fn drop_produce_responses(&self, n: usize) {
        self.inner.lock().drop_responses = n;
    }

    /// Forwards the next `n` requests with this api key (not Produce: see
    /// [`Proxy::drop_produce_responses`]) and fails their answers: the broker acted on them,
    /// the client never hears. For an EndTxn whose answer never came, say.
    pub fn fail_answers_of(&self, api_key: i16, n: usize, fault: AnswerFault) {
        self.inner.lock().fail_answers.insert(api_key, (n, fault));
    }

    /// Delays every client request by `d` before forwarding it.
    pub fn delay(&self, d: Duration) {
        self.inner.lock().delay = d;
    }

    /// Closes every proxied connection (client and broker side). Returns how many Produce
    /// requests were forwarded and unanswered at that moment (their answers are now lost).
    pub fn reset_all(&self) -> usize {
        let mut st = self.inner.lock();
        let mut lost = 0;
        for c in st.conns.values() {
            lost += c
                .pending
                .values()
                .filter(|p| p.api_key == produce::API_KEY)
                .count();
            let _ = c.client.shutdown(Shutdown::Both);
            let _ = c.server.shutdown(Shutdown::Both);
        }
        st.stats.resets += st.conns.len() as u64;
        self.inner.changed.notify_all();
        lost
    }

    /// A copy of the stats.
    pub fn stats(&self) -> Stats {
        self.inner.lock().stats.clone()
    }

    /// Requests received with this api key.
    pub fn requests(&self, api_key: i16) -> u64 {
        self.inner.lock().stats.requests_of(api_key)
    }

    /// Blocks until `cond` holds over the stats (re-checked at every change) or `timeout`
    /// passes; returns whether it held.
    pub fn wait_until(&self, timeout: Duration, cond: impl Fn(&Stats) -> bool) -> bool {
        super::wait_on(&self.inner.state, &self.inner.changed, timeout, |st| {
            cond(&st.stats)
        })
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Release);
        // Wake the accept thread.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        let threads = {
            let mut st = self.inner.lock();
            for c in st.conns.values() {
                let _ = c.client.shutdown(Shutdown::Both);
                let _ = c.server.shutdown(Shutdown::Both);
            }
            std::mem::take(&mut st.threads)
        };
        for h in threads {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    let mut next_id = 0u64;
    for stream in listener.incoming() {
        if inner.stop.load(Ordering::Acquire) {
            return;
        }
        let Ok(client) = stream else { continue };
        if inner.lock().conns.len() >= MAX_CONNECTIONS {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let Ok(server) = TcpStream::connect_timeout(&inner.upstream, Duration::from_secs(5)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
            client.try_clone(),
            server.try_clone(),
            client.try_clone(),
            server.try_clone(),
        ) else {
            continue;
        };
        let id = next_id;
        next_id += 1;
        let mut st = inner.lock();
        if inner.stop.load(Ordering::Acquire) {
            return;
        }
        st.conns.insert(
            id,
            Conn {
                client,
                server,
                pending: HashMap::new(),
                requests_stalled: false,
                responses_stalled: false,
            },
        );
        st.stats.connections += 1;
        if std::env::var_os("PROXY_DEBUG").is_some() {
            eprintln!("proxy: conn {id} accepted, {} live", st.conns.len());
        }
        let i2 = inner.clone();
        let up = thread::Builder::new()
            .name(format!("proxy-up-{id}"))
            .spawn(move || client_to_broker(id, c2, s2, i2));
        let i3 = inner.clone();
        let down = thread::Builder::new()
            .name(format!("proxy-down-{id}"))
            .spawn(move || broker_to_client(id, s3, c3, i3));
        st.threads.extend(up.into_iter().chain(down));
        inner.changed.notify_all();
    }
}

/// Reads one frame (size prefix included). `Ok(None)` at a clean end of stream.
fn read_frame(s: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut size = [0u8; 4];
    match s.read_exact(&mut size) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let n = i32::from_be_bytes(size);
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad frame size"))?;
    let mut frame = vec![0u8; 4 + n];
    frame[..4].copy_from_slice(&size);
    s.read_exact(&mut frame[4..])?;
    Ok(Some(frame))
}

/// Closes both sides of connection `id` and settles what was pending on it.
fn close_conn(id: u64, inner: &Inner) {
    let mut st = inner.lock();
    let st = &mut *st;
    if let Some(c) = st.conns.remove(&id) {
        if std::env::var_os("PROXY_DEBUG").is_some() {
            eprintln!("proxy: conn {id} closed, {} pending", c.pending.len());
        }
        let _ = c.client.shutdown(Shutdown::Both);
        let _ = c.server.shutdown(Shutdown::Both);
        for p in c.pending.values() {
            if let Some(e) = p.exchange.and_then(|i| st.stats.exchanges.get_mut(i)) {
                if e.fate == Fate::InFlight {
                    e.fate = Fate::Lost;
                }
            }
        }
    }
    inner.changed.notify_all();
}

fn hex(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first batch header of each partition of a Produce request body.
fn produce_batches(body: &[u8], version: i16) -> Option<(i16, Vec<BatchSeen>)> {
    let req = ProduceRequest::decode(body, version).ok()?;
    let mut out = Vec::new();
    for t in &req.topics {
        let topic = if version >= produce::FIRST_TOPIC_ID_VERSION {
            hex(&t.topic_id)
        } else {
            t.name.to_string()
        };
        for p in &t.partitions {
            // Record batch v2 header: producerId at 43, producerEpoch at 51, baseSequence at
            // 53, records count at 57 (61 bytes in all).
            let r = p.records;
            if r.len() < 61 {
                continue;
            }
            let i64_at = |o: usize| i64::from_be_bytes(r[o..o + 8].try_into().unwrap());
            let i32_at = |o: usize| i32::from_be_bytes(r[o..o + 4].try_into().unwrap());
            out.push(BatchSeen {
                topic: topic.clone(),
                partition: p.index,
                producer_id: i64_at(43),
                producer_epoch: i16::from_be_bytes([r[51], r[52]]),
                base_sequence: i32_at(53),
                record_count: i32_at(57),
                error_code: None,
                base_offset: None,
            });
        }
    }
    Some((req.acks, out))
}

fn client_to_broker(id: u64, mut client: TcpStream, mut server: TcpStream, inner: Arc<Inner>) {
    loop {
        let frame = match read_frame(&mut client) {
            Ok(Some(f)) => f,
            r => {
                if std::env::var_os("PROXY_DEBUG").is_some() {
                    eprintln!("proxy: conn {id} client side ended: {:?}", r.map(|_| ()));
                }
                break;
            }
        };
        let mut d = Decoder::new(&frame[4..]);
        let Ok(h) = RequestHeader::decode(&mut d) else {
            break;
        };
        let body = &frame[4 + d.position()..];
        let produce = (h.api_key == produce::API_KEY)
            .then(|| produce_batches(body, h.api_version))
            .flatten();
        let delay = {
            let mut st = inner.lock();
            let st = &mut *st;
            *st.stats.requests.entry(h.api_key).or_default() += 1;
            let Some(conn) = st.conns.get_mut(&id) else {
                break;
            };
            let mut fate = Fate::InFlight;
            if conn.requests_stalled {
                st.stats.stalled += 1;
                fate = Fate::Stalled;
            } else if h.api_key == produce::API_KEY && st.blackhole > 0 {
                st.blackhole -= 1;
                st.stats.blackholed += 1;
                conn.requests_stalled = true;
                fate = Fate::Blackholed;
            }
            let mut exchange = None;
            let mut expects_answer = true;
            if let Some((acks, batches)) = produce {
                expects_answer = acks != 0;
                if st.stats.exchanges.len() < MAX_EXCHANGES {
                    exchange = Some(st.stats.exchanges.len());
                    st.stats.exchanges.push(ProduceExchange {
                        connection: id,
                        correlation_id: h.correlation_id,
                        batches,
                        fate: if fate == Fate::InFlight && !expects_answer {
                            Fate::Answered
                        } else {
                            fate
                        },
                    });
                }
            }
            inner.changed.notify_all();
            if fate != Fate::InFlight {
                continue;
            }
            if expects_answer {
                conn.pending.insert(
                    h.correlation_id,
                    Pending {
                        api_key: h.api_key,
                        api_version: h.api_version,
                        exchange,
                    },
                );
            }
            st.delay
        };
        if !delay.is_zero() {
            let until = Instant::now() + delay;
            while !inner.stop.load(Ordering::Acquire) {
                let now = Instant::now();
                if now >= until {
                    break;
                }
                thread::sleep((until - now).min(Duration::from_millis(50)));
            }
        }
        if server.write_all(&frame).is_err() {
            break;
        }
    }
    close_conn(id, &inner);
}

fn broker_to_client(id: u64, mut server: TcpStream, mut client: TcpStream, inner: Arc<Inner>) {
    loop {
        let frame = match read_frame(&mut server) {
            Ok(Some(f)) => f,
            r => {
                if std::env::var_os("PROXY_DEBUG").is_some() {
                    eprintln!("proxy: conn {id} broker side ended: {:?}", r.map(|_| ()));
                }
                break;
            }
        };
        if frame.len() < 8 {
            break;
        }
        let cid = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let mut out = None;
        {
            let mut st = inner.lock();
            let st = &mut *st;
            let Some(conn) = st.conns.get_mut(&id) else {
                break;
            };
            let pending = conn.pending.remove(&cid);
            let mut swallow = conn.responses_stalled;
            if swallow {
                st.stats.responses_stalled += 1;
            }
            if let Some(p) = pending.as_ref().filter(|p| p.api_key != produce::API_KEY) {
                if let Some((left, fault)) = st.fail_answers.get_mut(&p.api_key) {
                    if *left > 0 && !swallow {
                        *left -= 1;
                        *st.stats.answers_failed.entry(p.api_key).or_default() += 1;
                        match fault {
                            AnswerFault::Swallow => {
                                conn.responses_stalled = true;
                                swallow = true;
                            }
                            AnswerFault::Reset => {
                                inner.changed.notify_all();
                                break;
                            }
                        }
                    }
                }
            }
            if let Some(p) = &pending {
                if p.api_key == produce::API_KEY {
                    let body = ResponseHeader::split(&frame[4..], p.api_key, p.api_version)
                        .ok()
                        .and_then(|(_, b)| ProduceResponse::decode(b, p.api_version).ok());
                    if !swallow && st.drop_responses > 0 {
                        st.drop_responses -= 1;
                        st.stats.responses_dropped += 1;
                        conn.responses_stalled = true;
                        swallow = true;
                    }
                    if let Some(e) = p.exchange.and_then(|i| st.stats.exchanges.get_mut(i)) {
                        e.fate = if swallow {
                            Fate::ResponseDropped
                        } else {
                            Fate::Answered
                        };
                        for t in body.iter().flat_map(|r| &r.topics) {
                            let topic = if p.api_version >= produce::FIRST_TOPIC_ID_VERSION {
                                hex(&t.topic_id)
                            } else {
                                t.name.clone()
                            };
                            for part in &t.partitions {
                                if let Some(b) = e
                                    .batches
                                    .iter_mut()
                                    .find(|b| b.topic == topic && b.partition == part.index)
                                {
                                    b.error_code = Some(part.error_code);
                                    b.base_offset = Some(part.base_offset);
                                }
                            }
                        }
                    }
                } else if (p.api_key == metadata_api::API_KEY
                    || p.api_key == find_coordinator::API_KEY)
                    && !swallow
                {
                    match rewrite_addresses(&frame, cid, p.api_key, p.api_version, inner.port) {
                        Some(f) => {
                            st.stats.metadata_rewritten += 1;
                            out = Some(f);
                        }
                        None => st.stats.metadata_undecodable += 1,
                    }
                }
            }
            inner.changed.notify_all();
            if swallow {
                continue;
            }
        }
        if client.write_all(out.as_deref().unwrap_or(&frame)).is_err() {
            break;
        }
    }
    close_conn(id, &inner);
}

/// The Metadata response frame with every broker advertised at 127.0.0.1:`port`.
/// A Metadata or FindCoordinator answer with every broker address replaced by the proxy's
/// (`None` if it does not decode).
fn rewrite_addresses(
    frame: &[u8],
    cid: i32,
    api_key: i16,
    version: i16,
    port: u16,
) -> Option<Vec<u8>> {
    let (_, body) = ResponseHeader::split(&frame[4..], api_key, version).ok()?;
    let mut body_out = Vec::with_capacity(body.len() + 16);
    if api_key == find_coordinator::API_KEY {
        let mut r = FindCoordinatorResponse::decode(body, version).ok()?;
        for c in r.coordinators.iter_mut().filter(|c| c.node_id >= 0) {
            c.host = "127.0.0.1".into();
            c.port = i32::from(port);
        }
        r.encode(version, &mut body_out);
    } else {
        let mut m = MetadataResponse::decode(body, version).ok()?;
        for b in &mut m.brokers {
            b.host = "127.0.0.1".into();
            b.port = i32::from(port);
        }
        m.encode(version, &mut body_out);
    }
    let mut out = Vec::with_capacity(frame.len() + 16);
    let start = begin_frame(&mut out);
    ResponseHeader {
        correlation_id: cid,
    }
    .encode(
        kafka_sync::protocol::header::response_header_version(api_key, version),
        &mut out,
    );
    out.extend_from_slice(&body_out);
    finish_frame(&mut out, start).ok()?;
    Some(out)
}

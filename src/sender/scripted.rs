//! A scripted, in-memory transport and the small broker behind it, for the sender's unit tests.
//!
//! Streams are byte queues; the "broker" reads request frames from them and writes answers,
//! the way a real one would: ApiVersions, Metadata (one broker leading every partition, or
//! several leading them in turn, one of which may be slow to answer),
//! InitProducerId, SASL (PLAIN, checking the password), the transaction coordinator's
//! FindCoordinator, AddPartitionsToTxn and EndTxn (protocol v1, errors scripted per API), and
//! Produce with the broker's
//! idempotence rules (per producer id and partition: next sequence, duplicates,
//! OUT_OF_ORDER_SEQUENCE_NUMBER, a new epoch from sequence 0). A test scripts faults per
//! partition (an error code, an answer held back, a connection dropped) and per connect
//! (refused). Time is a simulated clock that moves only when the sender waits with nothing
//! ready, by exactly the time it waits: timeouts happen on time and no test sleeps.

use crate::net::connection::ConnectionError;
use crate::net::transport::{Interest, Readiness, Stream, Transport, Waker};
use crate::protocol::add_partitions_to_txn::{
    AddPartitionsToTxnResponse, PartitionError, TopicErrors,
};
use crate::protocol::api_versions::{ApiVersionRange, ApiVersionsResponse};
use crate::protocol::end_txn::EndTxnResponse;
use crate::protocol::find_coordinator::{Coordinator, FindCoordinatorResponse};
use crate::protocol::header::{response_header_version, RequestHeader, ResponseHeader};
use crate::protocol::init_producer_id::InitProducerIdResponse;
use crate::protocol::metadata::{
    MetadataBroker, MetadataPartition, MetadataResponse, MetadataTopic,
    AUTHORIZED_OPERATIONS_OMITTED,
};
use crate::protocol::primitives::Decoder;
use crate::protocol::produce::{
    ProducePartitionResponse, ProduceRequest, ProduceResponse, ProduceTopicResponse,
};
use crate::protocol::record_batch::{decode_batch, decode_records};
use crate::protocol::sasl_authenticate::SaslAuthenticateResponse;
use crate::protocol::sasl_handshake::SaslHandshakeResponse;
use crate::protocol::ErrorCode;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A fault the broker applies to the next Produce of a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    /// Refuse the batch with this error (nothing appended).
    Refuse(ErrorCode),
    /// Append the batch but never answer the request (a lost response).
    AppendSilently,
    /// Neither append nor answer (a request lost on the way).
    Swallow,
    /// Append the batch, then drop the connection before answering.
    AppendThenDisconnect,
}

/// One batch in a partition's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Appended {
    pub producer_id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
    pub records: i32,
    pub base_offset: i64,
    /// The records' values, in order (`None`: null).
    pub values: Vec<Option<Vec<u8>>>,
    /// The batch's size in bytes.
    pub size: usize,
}

/// What the broker knows and does. Public fields are the test's to read and script.
#[derive(Default)]
pub(super) struct Broker {
    /// Partitions per topic (partition p led by node `p % nodes`).
    pub topics: HashMap<String, i32>,
    /// Brokers in the cluster (0 is taken as 1): node n listens on `broker:{9092 + n}`.
    pub nodes: i32,
    /// Each answer of this node (on every connection to it) is held back this long; later
    /// answers on the connection wait behind it, as a slow broker's would.
    pub answer_delay: HashMap<i32, Duration>,
    /// Faults for the next Produce of (topic, partition), in order.
    pub faults: HashMap<(String, i32), VecDeque<Fault>>,
    /// Errors for the next InitProducerId requests, in order.
    pub init_errors: VecDeque<ErrorCode>,
    /// The SASL password accepted (PLAIN), if the listener is SASL.
    pub sasl_password: Option<String>,
    /// `connections.max.reauth.ms`: the session lifetime given to each authentication. A
    /// request other than a re-authentication on an expired session closes the connection,
    /// as a real broker does.
    pub session_lifetime: Option<Duration>,
    /// The session really ends this long after each authentication, whatever it advertised
    /// (a broker whose clock runs ahead, say).
    pub session_ends_after: Option<Duration>,
    /// Refuse the next this many re-authentications (SASL_AUTHENTICATION_FAILED).
    pub refuse_reauth: usize,
    /// Never answer the next this many re-authentications' SaslAuthenticate.
    pub swallow_reauth: usize,
    /// Sessions renewed on their connection.
    pub reauthentications: usize,
    /// Requests that came on a connection while it re-authenticated (a real broker takes
    /// them for bad SASL tokens and closes the connection; so does this one).
    pub requests_while_reauthenticating: usize,
    /// Connections closed for a request on an expired session.
    pub expired_sessions: usize,
    /// Batches larger than this many bytes are refused MESSAGE_TOO_LARGE (the topic's
    /// `max.message.bytes`), as a real broker does, before any sequence check.
    pub max_message_bytes: Option<usize>,
    /// Every partition's log.
    pub logs: HashMap<(String, i32), Vec<Appended>>,
    /// Requests received, by API key.
    pub requests: HashMap<i16, usize>,
    /// Connect attempts, in order: when, the address tried, and whether it was refused.
    pub connects: Vec<(Instant, SocketAddr, bool)>,
    /// Addresses that refuse connections.
    pub refuse: Vec<SocketAddr>,
    /// Addresses whose connects never complete.
    pub hang: Vec<SocketAddr>,
    /// What a name resolves to (default: one address per name).
    pub dns: HashMap<String, Vec<SocketAddr>>,
    /// Errors for the next requests of a transaction API (by key), in order.
    pub txn_errors: HashMap<i16, VecDeque<ErrorCode>>,
    /// What the transaction coordinator saw, in order: `add t-0`, `end commit`, and
    /// `produce t-0 (txn)` for each Produce batch (`txn`: transactional id and flag set).
    pub txn_log: Vec<String>,
    /// The next this many EndTxn requests are carried out, and the connection dropped before
    /// their answer.
    pub end_txn_disconnects: usize,
    /// The highest InitProducerId version advertised (default 4; below 3 a broker cannot
    /// bump an epoch, as Kafka before 2.5).
    pub init_producer_id_max: Option<i16>,
    next_producer_id: i64,
}

struct Pipe {
    /// The node connected to.
    node: i32,
    to_broker: Vec<u8>,
    to_client: VecDeque<u8>,
    /// Answers held back (see [`Broker::answer_delay`]) and when each is released.
    held: VecDeque<(Instant, Vec<u8>)>,
    /// The broker closed it (after `to_client` is read).
    closed: bool,
    /// The client closed it.
    shut: bool,
    /// Authenticated (with SASL): until when the session lasts (`None`: for ever).
    authenticated: Option<Option<Instant>>,
    /// A SaslHandshake came on the authenticated connection: a re-authentication is under way.
    reauthenticating: bool,
    /// The connect never completes.
    hanging: bool,
    interest: Interest,
}

#[derive(Default)]
struct World {
    now: Option<Instant>,
    /// The clock moves only by [`Scripted::advance`], not when the sender waits.
    frozen: bool,
    broker: Broker,
    pipes: HashMap<usize, Pipe>,
}

/// The transport the sender under test uses; clones share one world.
#[derive(Clone)]
pub(super) struct Scripted(Rc<RefCell<World>>);

impl Scripted {
    pub fn new(start: Instant) -> Self {
        let world = World {
            now: Some(start),
            frozen: false,
            broker: Broker {
                next_producer_id: 1000,
                ..Broker::default()
            },
            pipes: HashMap::new(),
        };
        Scripted(Rc::new(RefCell::new(world)))
    }

    /// Reads or scripts the broker.
    pub fn broker<R>(&self, f: impl FnOnce(&mut Broker) -> R) -> R {
        f(&mut self.0.borrow_mut().broker)
    }

    /// Connections open now (neither side closed).
    pub fn open_connections(&self) -> usize {
        let w = self.0.borrow();
        w.pipes.values().filter(|p| !p.closed && !p.shut).count()
    }

    /// While frozen the clock moves only by [`advance`](Self::advance): the test, not the
    /// sender's waits, sets the pace (records arrive at a rate, whatever the sender does).
    pub fn freeze_clock(&self, frozen: bool) {
        self.0.borrow_mut().frozen = frozen;
    }

    /// Moves the simulated clock on.
    pub fn advance(&self, d: Duration) {
        let mut w = self.0.borrow_mut();
        w.now = w.now.map(|t| t + d);
    }

    /// The broker drops every connection.
    pub fn drop_connections(&self) {
        for p in self.0.borrow_mut().pipes.values_mut() {
            p.closed = true;
        }
    }
}

/// One end of a pipe, held by the sender.
pub(super) struct ScriptedStream {
    world: Rc<RefCell<World>>,
    key: usize,
}

impl Stream for ScriptedStream {
    fn read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, ConnectionError> {
        let mut w = self.world.borrow_mut();
        let p = w.pipes.get_mut(&self.key).expect("pipe");
        if p.to_client.is_empty() {
            return if p.closed { Ok(Some(0)) } else { Ok(None) };
        }
        let n = buf.len().min(p.to_client.len());
        for (i, b) in p.to_client.drain(..n).enumerate() {
            buf[i] = b;
        }
        Ok(Some(n))
    }
    fn write(&mut self, buf: &[u8]) -> Result<Option<usize>, ConnectionError> {
        let mut w = self.world.borrow_mut();
        let p = w.pipes.get_mut(&self.key).expect("pipe");
        if p.closed {
            return Err(ConnectionError::Io(io::ErrorKind::BrokenPipe.into()));
        }
        p.to_broker.extend_from_slice(buf);
        Ok(Some(buf.len()))
    }
    fn flush(&mut self) -> Result<(), ConnectionError> {
        Ok(())
    }
    fn wants_write(&self) -> bool {
        false
    }
    fn finish_connect(&mut self) -> Result<(), ConnectionError> {
        Ok(())
    }
    fn set_interest(&mut self, interest: Interest) -> io::Result<()> {
        if let Some(p) = self.world.borrow_mut().pipes.get_mut(&self.key) {
            p.interest = interest;
        }
        Ok(())
    }
    fn shutdown(&mut self) {
        if let Some(p) = self.world.borrow_mut().pipes.get_mut(&self.key) {
            p.shut = true;
        }
    }
}

impl Transport for Scripted {
    type Stream = ScriptedStream;

    fn resolve(&mut self, addr: &str) -> io::Result<Vec<SocketAddr>> {
        let w = self.0.borrow();
        if let Some(a) = w.broker.dns.get(addr) {
            return Ok(a.clone());
        }
        // Every other name is a loopback address with the name's port (never dialled: the
        // pipes are in memory).
        let port = addr
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(9092);
        Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
    }

    fn connect(
        &mut self,
        _addr: &str,
        target: SocketAddr,
        key: usize,
    ) -> Result<(ScriptedStream, bool), ConnectionError> {
        let mut w = self.0.borrow_mut();
        let refused = w.broker.refuse.contains(&target);
        let now = w.now.expect("clock");
        w.broker.connects.push((now, target, refused));
        let hanging = w.broker.hang.contains(&target);
        if refused {
            return Err(ConnectionError::Connect {
                addr: target.to_string(),
                source: io::ErrorKind::ConnectionRefused.into(),
            });
        }
        w.pipes.insert(
            key,
            Pipe {
                node: i32::from(target.port()) - 9092,
                to_broker: Vec::new(),
                to_client: VecDeque::new(),
                held: VecDeque::new(),
                closed: false,
                shut: false,
                authenticated: None,
                reauthenticating: false,
                hanging,
                interest: Interest::Write,
            },
        );
        let stream = ScriptedStream {
            world: self.0.clone(),
            key,
        };
        Ok((stream, true))
    }

    fn wait(&mut self, timeout: Duration, ready: &mut Vec<Readiness>) -> io::Result<()> {
        let mut w = self.0.borrow_mut();
        let w = &mut *w;
        let now = w.now.expect("clock");
        let mut next_release: Option<Instant> = None;
        for p in w.pipes.values_mut() {
            if !p.shut && !p.closed && !p.hanging {
                w.broker.serve(p, now);
            }
            while p.held.front().is_some_and(|(t, _)| *t <= now) {
                if let Some((_, frame)) = p.held.pop_front() {
                    p.to_client.extend(frame);
                }
            }
            if let Some(&(t, _)) = p.held.front() {
                next_release = Some(next_release.map_or(t, |n| n.min(t)));
            }
        }
        for (&key, p) in &w.pipes {
            if p.shut || p.hanging {
                continue;
            }
            let readable = !p.to_client.is_empty() || p.closed;
            let writable = matches!(p.interest, Interest::Write | Interest::ReadWrite);
            if readable || writable {
                ready.push(Readiness {
                    key,
                    readable,
                    writable,
                });
            }
        }
        if ready.is_empty() && !w.frozen {
            // Up to the next held answer, if one comes sooner.
            let step = next_release.map_or(timeout, |t| timeout.min(t - now));
            w.now = Some(now + step);
        }
        Ok(())
    }

    fn waker(&self) -> Waker {
        Waker::new(|| {})
    }

    fn now(&self) -> Instant {
        self.0.borrow().now.expect("clock")
    }
}

impl Broker {
    /// Answers every whole request frame the client wrote.
    fn serve(&mut self, p: &mut Pipe, now: Instant) {
        loop {
            if p.to_broker.len() < 4 {
                return;
            }
            let size = i32::from_be_bytes(p.to_broker[..4].try_into().expect("4 bytes")) as usize;
            if p.to_broker.len() < 4 + size {
                return;
            }
            let frame: Vec<u8> = p.to_broker.drain(..4 + size).skip(4).collect();
            let mut d = Decoder::new(&frame);
            let header = RequestHeader::decode(&mut d).expect("request header");
            let (key, version, cid) = (header.api_key, header.api_version, header.correlation_id);
            let body = &frame[frame.len() - d.remaining()..];
            *self.requests.entry(key).or_default() += 1;
            if p.reauthenticating && key != 17 && key != 36 {
                self.requests_while_reauthenticating += 1;
                p.closed = true;
                return;
            }
            let expired = matches!(p.authenticated, Some(Some(end)) if now >= end);
            if expired && key != 17 && key != 36 {
                self.expired_sessions += 1;
                p.closed = true;
                return;
            }
            let answer = match key {
                18 => Some(self.api_versions(version)),
                3 => Some(self.metadata(version)),
                22 => Some(self.init_producer_id(version)),
                10 => Some(self.find_coordinator(version)),
                24 => Some(self.add_partitions(version, body)),
                26 => {
                    let answer = self.end_txn(version);
                    if self.end_txn_disconnects > 0 {
                        self.end_txn_disconnects -= 1;
                        p.closed = true;
                        return;
                    }
                    Some(answer)
                }
                17 => {
                    p.reauthenticating = p.authenticated.is_some();
                    Some(self.sasl_handshake(version))
                }
                36 => self.sasl_authenticate(p, version, body, now),
                0 => match self.produce(version, body) {
                    ProduceAnswer::Answer(b) => Some(b),
                    ProduceAnswer::None => None,
                    ProduceAnswer::Disconnect => {
                        p.closed = true;
                        return;
                    }
                },
                _ => panic!("unexpected API {key}"),
            };
            let Some(answer) = answer else { continue };
            let mut out = Vec::new();
            ResponseHeader {
                correlation_id: cid,
            }
            .encode(response_header_version(key, version), &mut out);
            out.extend_from_slice(&answer);
            let mut frame = (out.len() as i32).to_be_bytes().to_vec();
            frame.extend(out);
            match self.answer_delay.get(&p.node) {
                None if p.held.is_empty() => p.to_client.extend(frame),
                delay => {
                    let release = now + delay.copied().unwrap_or_default();
                    let after = p.held.back().map_or(release, |&(t, _)| t.max(release));
                    p.held.push_back((after, frame));
                }
            }
        }
    }

    fn api_versions(&self, version: i16) -> Vec<u8> {
        let keys = [
            (0, 3, 11),
            (3, 4, 12),
            (17, 0, 1),
            (18, 0, 3),
            (22, 0, self.init_producer_id_max.unwrap_or(4)),
            (10, 0, 2),
            (24, 0, 2),
            (26, 0, 2),
            (36, 0, 2),
        ];
        let resp = ApiVersionsResponse {
            api_keys: keys
                .iter()
                .map(|&(api_key, min_version, max_version)| ApiVersionRange {
                    api_key,
                    min_version,
                    max_version,
                })
                .collect(),
            ..Default::default()
        };
        encoded(|b| resp.encode(version, b))
    }

    fn metadata(&self, version: i16) -> Vec<u8> {
        let topics = self
            .topics
            .iter()
            .map(|(name, &n)| MetadataTopic {
                error_code: ErrorCode::NONE,
                name: Some(name.clone()),
                topic_id: [0; 16],
                is_internal: false,
                partitions: (0..n)
                    .map(|i| MetadataPartition {
                        error_code: ErrorCode::NONE,
                        partition_index: i,
                        leader_id: i % self.nodes.max(1),
                        leader_epoch: 0,
                        replica_nodes: vec![i % self.nodes.max(1)],
                        isr_nodes: vec![i % self.nodes.max(1)],
                        offline_replicas: vec![],
                    })
                    .collect(),
                topic_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
            })
            .collect();
        let resp = MetadataResponse {
            throttle_time_ms: 0,
            brokers: (0..self.nodes.max(1))
                .map(|n| MetadataBroker {
                    node_id: n,
                    host: "broker".into(),
                    port: 9092 + n,
                    rack: None,
                })
                .collect(),
            cluster_id: Some("scripted".into()),
            controller_id: 0,
            topics,
            cluster_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
            error_code: ErrorCode::NONE,
        };
        encoded(|b| resp.encode(version, b))
    }

    fn init_producer_id(&mut self, version: i16) -> Vec<u8> {
        let error_code = self.init_errors.pop_front().unwrap_or(ErrorCode::NONE);
        let producer_id = if error_code.is_ok() {
            self.next_producer_id += 1;
            self.next_producer_id
        } else {
            -1
        };
        let resp = InitProducerIdResponse {
            throttle_time_ms: 0,
            error_code,
            producer_id,
            producer_epoch: 0,
        };
        encoded(|b| resp.encode(version, b))
    }

    fn txn_error(&mut self, key: i16) -> ErrorCode {
        let errors = self.txn_errors.get_mut(&key);
        errors
            .and_then(VecDeque::pop_front)
            .unwrap_or(ErrorCode::NONE)
    }

    fn find_coordinator(&mut self, version: i16) -> Vec<u8> {
        let error_code = self.txn_error(10);
        let resp = FindCoordinatorResponse {
            throttle_time_ms: 0,
            coordinators: vec![Coordinator {
                key: String::new(),
                node_id: 0,
                host: "broker".into(),
                port: 9092,
                error_code,
                error_message: None,
            }],
        };
        encoded(|b| resp.encode(version, b))
    }

    /// v0-v2 (not flexible): the partitions asked, all answered with the scripted error.
    fn add_partitions(&mut self, version: i16, body: &[u8]) -> Vec<u8> {
        let mut d = Decoder::new(body);
        let mut topics = Vec::new();
        let parsed: crate::protocol::DecodeResult<()> = (|| {
            d.str(false)?;
            d.i64()?;
            d.i16()?;
            for _ in 0..d.i32()? {
                let name = d.str(false)?.to_string();
                let parts = (0..d.i32()?)
                    .map(|_| d.i32())
                    .collect::<Result<Vec<_>, _>>()?;
                topics.push((name, parts));
            }
            Ok(())
        })();
        parsed.expect("AddPartitionsToTxn request");
        let error_code = self.txn_error(24);
        let mut resp = AddPartitionsToTxnResponse {
            throttle_time_ms: 0,
            topics: Vec::new(),
        };
        for (name, parts) in topics {
            for &p in &parts {
                if error_code.is_ok() {
                    self.txn_log.push(format!("add {name}-{p}"));
                }
            }
            resp.topics.push(TopicErrors {
                name,
                partitions: parts
                    .iter()
                    .map(|&p| PartitionError {
                        partition_index: p,
                        error_code,
                    })
                    .collect(),
            });
        }
        encoded(|b| resp.encode(version, b))
    }

    fn end_txn(&mut self, version: i16) -> Vec<u8> {
        let error_code = self.txn_error(26);
        if error_code.is_ok() {
            self.txn_log.push("end".into());
        }
        let resp = EndTxnResponse {
            throttle_time_ms: 0,
            error_code,
            producer_id: -1,
            producer_epoch: -1,
        };
        encoded(|b| resp.encode(version, b))
    }

    fn sasl_handshake(&self, version: i16) -> Vec<u8> {
        let resp = SaslHandshakeResponse {
            error_code: ErrorCode::NONE,
            mechanisms: vec!["PLAIN".into()],
        };
        encoded(|b| resp.encode(version, b))
    }

    fn sasl_authenticate(
        &mut self,
        p: &mut Pipe,
        version: i16,
        body: &[u8],
        now: Instant,
    ) -> Option<Vec<u8>> {
        let expected = self.sasl_password.as_deref().unwrap_or("");
        let mut ok = body
            .windows(expected.len())
            .any(|w| w == expected.as_bytes());
        if p.reauthenticating {
            if self.swallow_reauth > 0 {
                self.swallow_reauth -= 1;
                return None;
            }
            if self.refuse_reauth > 0 {
                self.refuse_reauth -= 1;
                ok = false;
            }
        }
        let lifetime = self.session_lifetime.filter(|_| ok);
        if ok {
            if p.reauthenticating {
                self.reauthentications += 1;
            }
            p.reauthenticating = false;
            let ends = self.session_ends_after.or(lifetime);
            p.authenticated = Some(ends.map(|l| now + l));
        }
        let resp = SaslAuthenticateResponse {
            error_code: if ok {
                ErrorCode::NONE
            } else {
                ErrorCode::SASL_AUTHENTICATION_FAILED
            },
            error_message: (!ok).then(|| "Invalid username or password".into()),
            auth_bytes: Vec::new(),
            session_lifetime_ms: lifetime.map_or(0, |l| l.as_millis() as i64),
        };
        Some(encoded(|b| resp.encode(version, b)))
    }

    fn produce(&mut self, version: i16, body: &[u8]) -> ProduceAnswer {
        let req = ProduceRequest::decode(body, version).expect("produce request");
        let mut answer_nothing = false;
        let mut disconnect = false;
        let mut topics = Vec::new();
        for t in &req.topics {
            let mut partitions = Vec::new();
            for part in &t.partitions {
                let batch = decode_batch(part.records).expect("record batch");
                let tp = (t.name.to_string(), part.index);
                if req.transactional_id.is_some() || batch.is_transactional() {
                    let both = req.transactional_id.is_some() && batch.is_transactional();
                    let mark = if both { "txn" } else { "half-txn" };
                    self.txn_log
                        .push(format!("produce {}-{} ({mark})", tp.0, tp.1));
                }
                let fault = self.faults.get_mut(&tp).and_then(VecDeque::pop_front);
                let (code, base_offset) = match fault {
                    Some(Fault::Refuse(code)) => (code, -1),
                    Some(Fault::Swallow) => {
                        answer_nothing = true;
                        (ErrorCode::NONE, -1)
                    }
                    Some(f) => {
                        answer_nothing |= f == Fault::AppendSilently;
                        disconnect |= f == Fault::AppendThenDisconnect;
                        self.append(&tp, &batch)
                    }
                    None if self
                        .max_message_bytes
                        .is_some_and(|m| part.records.len() > m) =>
                    {
                        (ErrorCode::MESSAGE_TOO_LARGE, -1)
                    }
                    None => self.append(&tp, &batch),
                };
                partitions.push(ProducePartitionResponse {
                    index: part.index,
                    error_code: code,
                    base_offset,
                    log_append_time_ms: -1,
                    log_start_offset: 0,
                    record_errors: vec![],
                    error_message: None,
                    current_leader: None,
                });
            }
            topics.push(ProduceTopicResponse {
                name: t.name.to_string(),
                topic_id: t.topic_id,
                partitions,
            });
        }
        if disconnect {
            return ProduceAnswer::Disconnect;
        }
        if answer_nothing || req.acks == 0 {
            return ProduceAnswer::None;
        }
        let resp = ProduceResponse {
            topics,
            ..Default::default()
        };
        ProduceAnswer::Answer(encoded(|b| resp.encode(version, b)))
    }

    /// The broker's idempotence check, then the append.
    fn append(
        &mut self,
        tp: &(String, i32),
        b: &crate::protocol::record_batch::DecodedBatch<'_>,
    ) -> (ErrorCode, i64) {
        let log = self.logs.entry(tp.clone()).or_default();
        let next_offset = log
            .last()
            .map_or(0, |a| a.base_offset + i64::from(a.records));
        if b.producer_id >= 0 {
            let mine: Vec<&Appended> = log
                .iter()
                .filter(|a| a.producer_id == b.producer_id)
                .collect();
            if let Some(dup) = mine
                .iter()
                .find(|a| a.epoch == b.producer_epoch && a.base_sequence == b.base_sequence)
            {
                return (ErrorCode::DUPLICATE_SEQUENCE_NUMBER, dup.base_offset);
            }
            match mine.last() {
                // A new epoch starts at sequence 0; a newer one than ours is fenced.
                Some(last) if last.epoch > b.producer_epoch => {
                    return (ErrorCode::INVALID_PRODUCER_EPOCH, -1)
                }
                Some(last) if last.epoch == b.producer_epoch => {
                    let expected = last.base_sequence + last.records;
                    if b.base_sequence != expected {
                        return (ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1);
                    }
                }
                Some(_) if b.base_sequence != 0 => {
                    return (ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1)
                }
                // No state for this producer: any sequence is taken (as a real broker).
                _ => {}
            }
        }
        let section = b.records_section(1 << 26).expect("records");
        let values = decode_records(&section, b.record_count)
            .expect("records")
            .iter()
            .map(|r| r.value.map(<[u8]>::to_vec))
            .collect();
        log.push(Appended {
            producer_id: b.producer_id,
            epoch: b.producer_epoch,
            base_sequence: b.base_sequence,
            records: b.record_count,
            base_offset: next_offset,
            values,
            size: b.size_in_bytes(),
        });
        (ErrorCode::NONE, next_offset)
    }
}

enum ProduceAnswer {
    Answer(Vec<u8>),
    None,
    Disconnect,
}

fn encoded(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = Vec::new();
    f(&mut b);
    b
}

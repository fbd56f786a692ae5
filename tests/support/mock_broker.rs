//! A scripted mock Kafka broker for deterministic error paths (test-only).
//!
//! It listens on `127.0.0.1:0`, advertises itself as node 0 at its own port, leads every
//! partition of the topics it is given, and speaks ApiVersions, Metadata, InitProducerId and
//! Produce through the crate's own codecs (`protocol::*::encode`, `ProduceRequest::decode`,
//! `record_batch::decode_batch`). std only: one accept thread, and per connection a reader
//! thread (parses and *handles* each request as it arrives, as a broker appends on arrival)
//! and a writer thread (sends the answers in request order, honouring scripted delays).
//!
//! Produce requests append to an in-memory log per partition. Idempotent batches are checked
//! like a broker does, per producer id and epoch: a batch of an older epoch than the
//! partition has seen is answered `INVALID_PRODUCER_EPOCH`; a newer epoch must start at
//! sequence 0 (else `OUT_OF_ORDER_SEQUENCE_NUMBER`) and replaces the old one; within an epoch
//! a batch whose sequence range was already appended (among the last 5 of its producer) is a
//! duplicate and is answered `NONE` with its original offset, and a batch whose base sequence
//! is not the next expected one is answered `OUT_OF_ORDER_SEQUENCE_NUMBER` (as in Kafka, the
//! first batch of a producer the partition has no state for may carry any sequence). After
//! [`Action::UnknownProducerId`] the partition behaves as a broker before 2.5 that lost the
//! producer's state: batches of that producer not at sequence 0 get `UNKNOWN_PRODUCER_ID`.
//! InitProducerId always returns a new producer id at epoch 0, as Kafka does for a
//! non-transactional producer (whatever id/epoch the request carries).
//!
//! Tests script the answer per partition with a queue of [`Action`]s (one is taken per Produce
//! request carrying the partition), or a sticky error ([`MockBroker::fail_always`]); they
//! script InitProducerId errors with [`MockBroker::push_init_producer_id_error`]. Every
//! request received is recorded ([`MockBroker::requests`]); [`MockBroker::wait_for`] blocks
//! on a condition variable (no sleeps) until the record satisfies a predicate.

use kafka_sync::protocol::api_versions::{self, ApiVersionRange, ApiVersionsResponse};
use kafka_sync::protocol::frame::{begin_frame, finish_frame, parse_frame};
use kafka_sync::protocol::header::response_header_version;
use kafka_sync::protocol::init_producer_id::{self, InitProducerIdResponse};
use kafka_sync::protocol::metadata::{
    self as metadata_api, MetadataBroker, MetadataPartition, MetadataResponse, MetadataTopic,
};
use kafka_sync::protocol::primitives::{put_empty_tagged_fields, put_i32};
use kafka_sync::protocol::produce::{
    self, ProducePartitionResponse, ProduceRequest, ProduceResponse, ProduceTopicResponse,
    RecordError,
};
use kafka_sync::protocol::record_batch::decode_batch;
use kafka_sync::protocol::{Decoder, ErrorCode, RequestHeader};
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// The mock's node id.
pub const NODE_ID: i32 = 0;
/// Largest request frame the mock accepts.
const MAX_REQUEST: usize = 16 << 20;
/// Upper bound on any wait inside the mock (scripted holds), so no test can hang on it.
const MAX_HOLD: Duration = Duration::from_secs(20);

/// What the mock does with the next Produce request carrying a partition.
#[derive(Debug, Clone)]
pub enum Action {
    /// Answer the partition with this error; nothing is appended.
    Error(ErrorCode),
    /// Answer with this error, an `error_message` and a record error for record 0 (v8+);
    /// nothing is appended.
    RecordError(ErrorCode, String),
    /// Append, and answer the request only after this delay (from its arrival).
    Delay(Duration),
    /// Append, then close the connection without answering (the answer is lost).
    DropConnectionAfterRead,
    /// Append nothing and answer nothing more on this connection (requests after it are
    /// recorded but not handled): the request was lost before the broker could write it.
    Discard,
    /// The broker lost the state of the partition's producers (retention): nothing appended,
    /// answered `UNKNOWN_PRODUCER_ID`; until they write at sequence 0 again, their batches get
    /// the same answer (a broker before 2.5; later ones accept any sequence then).
    UnknownProducerId,
    /// Append, then answer nothing more on this connection (requests after it are recorded
    /// but not handled): a hung broker.
    NoAnswer,
    /// Append, then write these bytes as they are (no framing) instead of the answer.
    RawResponse(Vec<u8>),
    /// Append, then answer with a well-framed response (right correlation id) whose body is
    /// these bytes.
    GarbageBody(Vec<u8>),
    /// Wait (up to 20 s) until the broker has received this many Produce requests in all,
    /// then answer as the inner action says. The waiting happens on the writer side: later
    /// requests on the connection are still read and handled, so they can pile up in flight.
    HoldUntil(usize, Box<Action>),
}

/// One batch of a Produce request, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducedBatch {
    /// Topic name.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Producer id (-1 when not idempotent).
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Base sequence (-1 when not idempotent).
    pub base_sequence: i32,
    /// Records in the batch.
    pub record_count: i32,
    /// The records' values (UTF-8, lossy; `None` for null).
    pub values: Vec<Option<String>>,
}

/// One request, as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// API key.
    pub api_key: i16,
    /// API version.
    pub api_version: i16,
    /// Correlation id.
    pub correlation_id: i32,
    /// Which connection (numbered from 0 in accept order).
    pub connection: usize,
    /// When it arrived.
    pub at: Instant,
    /// Produce only: acks.
    pub acks: i16,
    /// Produce only: the batches, in request order.
    pub batches: Vec<ProducedBatch>,
}

/// A record in a partition's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Offset.
    pub offset: i64,
    /// Value (UTF-8, lossy; `None` for null).
    pub value: Option<String>,
    /// Producer id and sequence of the record (-1 when not idempotent).
    pub producer_id: i64,
    /// Producer epoch of the record's batch.
    pub producer_epoch: i16,
    /// The record's sequence number (base sequence + index in batch).
    pub sequence: i32,
}

#[derive(Default)]
struct ProducerState {
    /// The producer epoch of the sequences below.
    epoch: i16,
    /// Last sequence appended.
    last_seq: i32,
    /// The last 5 batches appended: (base sequence, last sequence, base offset).
    recent: VecDeque<(i32, i32, i64)>,
}

#[derive(Default)]
struct PartitionLog {
    records: Vec<StoredRecord>,
    producers: HashMap<i64, ProducerState>,
    /// Producers whose state was lost ([`Action::UnknownProducerId`]).
    lost: std::collections::HashSet<i64>,
}

struct State {
    topics: Vec<(String, i32, [u8; 16])>,
    received: Vec<Received>,
    produce_requests: usize,
    logs: HashMap<(String, i32), PartitionLog>,
    actions: HashMap<(String, i32), VecDeque<Action>>,
    sticky: HashMap<(String, i32), ErrorCode>,
    init_pid_errors: VecDeque<ErrorCode>,
    next_producer_id: i64,
    produce_max_version: i16,
    connections: Vec<TcpStream>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
    port: u16,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The mock broker. Dropping it stops it and closes its connections.
pub struct MockBroker {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<thread::JoinHandle<()>>,
}

/// A deterministic non-zero topic id from the name (Produce v13 names topics by id).
fn topic_id(name: &str) -> [u8; 16] {
    let fnv = |seed: u64| {
        name.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    };
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&fnv(0xcbf2_9ce4_8422_2325).to_be_bytes());
    id[8..].copy_from_slice(&fnv(0x8422_2325_cbf2_9ce4).to_be_bytes());
    id[0] |= 1;
    id
}

impl MockBroker {
    /// Starts a broker leading `topics` (name, partition count).
    pub fn start(topics: &[(&str, i32)]) -> MockBroker {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                topics: topics
                    .iter()
                    .map(|&(t, n)| (t.to_string(), n, topic_id(t)))
                    .collect(),
                received: Vec::new(),
                produce_requests: 0,
                logs: HashMap::new(),
                actions: HashMap::new(),
                sticky: HashMap::new(),
                init_pid_errors: VecDeque::new(),
                next_producer_id: 1000,
                produce_max_version: produce::MAX_VERSION,
                connections: Vec::new(),
            }),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            port: addr.port(),
        });
        let s = shared.clone();
        let accept = thread::Builder::new()
            .name("mock-broker-accept".into())
            .spawn(move || accept_loop(listener, s))
            .expect("spawn accept thread");
        MockBroker {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// `127.0.0.1:<port>`, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an action for the next Produce request carrying `topic`-`partition`.
    pub fn push_action(&self, topic: &str, partition: i32, action: Action) {
        self.shared
            .lock()
            .actions
            .entry((topic.to_string(), partition))
            .or_default()
            .push_back(action);
    }

    /// Answers every Produce of the partition with `code` once its action queue is empty
    /// (`None` stops it).
    pub fn fail_always(&self, topic: &str, partition: i32, code: Option<ErrorCode>) {
        let mut st = self.shared.lock();
        let key = (topic.to_string(), partition);
        match code {
            Some(c) => st.sticky.insert(key, c),
            None => st.sticky.remove(&key),
        };
    }

    /// Changes a topic's partition count as later Metadata responses report it (a topic
    /// re-created smaller, or a hostile broker).
    pub fn set_partitions(&self, topic: &str, partitions: i32) {
        let mut st = self.shared.lock();
        if let Some(t) = st.topics.iter_mut().find(|t| t.0 == topic) {
            t.1 = partitions;
        }
    }

    /// The next InitProducerId request is answered with this error (queued, in order).
    pub fn push_init_producer_id_error(&self, code: ErrorCode) {
        self.shared.lock().init_pid_errors.push_back(code);
    }

    /// Highest Produce version advertised (default: the crate's newest).
    pub fn set_produce_max_version(&self, v: i16) {
        self.shared.lock().produce_max_version = v;
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Received> {
        self.shared.lock().received.clone()
    }

    /// Requests of one API, in arrival order.
    pub fn requests_of(&self, api_key: i16) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.api_key == api_key)
            .collect()
    }

    /// Every Produce attempt of a partition (one entry per batch received), in arrival order.
    pub fn produced(&self, topic: &str, partition: i32) -> Vec<ProducedBatch> {
        self.requests_of(produce::API_KEY)
            .into_iter()
            .flat_map(|r| r.batches)
            .filter(|b| b.topic == topic && b.partition == partition)
            .collect()
    }

    /// The partition's log.
    pub fn log(&self, topic: &str, partition: i32) -> Vec<StoredRecord> {
        self.shared
            .lock()
            .logs
            .get(&(topic.to_string(), partition))
            .map(|l| l.records.clone())
            .unwrap_or_default()
    }

    /// Waits until `pred` holds for the requests received (re-checked on every request), up
    /// to `timeout`. Returns whether it held.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&[Received]) -> bool) -> bool {
        super::wait_on(&self.shared.state, &self.shared.changed, timeout, |st| {
            pred(&st.received)
        })
    }
}

impl Drop for MockBroker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.changed.notify_all();
        // Unblock accept().
        let _ = TcpStream::connect(self.addr);
        for c in self.shared.lock().connections.drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut n = 0;
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::Acquire) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let _ = stream.set_nodelay(true);
        let conn = n;
        n += 1;
        let (Ok(reader), Ok(keep)) = (stream.try_clone(), stream.try_clone()) else {
            continue;
        };
        shared.lock().connections.push(keep);
        let (tx, rx) = mpsc::channel::<Outgoing>();
        let s = shared.clone();
        let _ = thread::Builder::new()
            .name(format!("mock-broker-writer-{conn}"))
            .spawn(move || writer_loop(stream, rx, s));
        let s = shared.clone();
        let _ = thread::Builder::new()
            .name(format!("mock-broker-reader-{conn}"))
            .spawn(move || reader_loop(reader, conn, tx, s));
    }
}

/// What the writer does next.
enum Outgoing {
    /// Write these bytes, not before `at`, and only once `hold` Produce requests arrived.
    Bytes {
        bytes: Vec<u8>,
        at: Instant,
        hold: Option<usize>,
    },
    /// Close the connection (after what is queued before it), once `hold` is met.
    Close { hold: Option<usize> },
}

fn writer_loop(mut stream: TcpStream, rx: mpsc::Receiver<Outgoing>, shared: Arc<Shared>) {
    for out in rx {
        let hold = match &out {
            Outgoing::Bytes { hold, .. } | Outgoing::Close { hold } => *hold,
        };
        if let Some(n) = hold {
            let deadline = Instant::now() + MAX_HOLD;
            let mut st = shared.lock();
            while st.produce_requests < n
                && !shared.stop.load(Ordering::Acquire)
                && Instant::now() < deadline
            {
                st = shared
                    .changed
                    .wait_timeout(st, Duration::from_millis(100))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        match out {
            Outgoing::Bytes { bytes, at, .. } => {
                let now = Instant::now();
                if at > now {
                    thread::sleep(at - now);
                }
                if stream.write_all(&bytes).is_err() {
                    return;
                }
            }
            Outgoing::Close { .. } => {
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

fn reader_loop(
    mut stream: TcpStream,
    conn: usize,
    tx: mpsc::Sender<Outgoing>,
    shared: Arc<Shared>,
) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut muted = false;
    loop {
        // Handle every complete frame in the buffer.
        loop {
            let end = match parse_frame(&buf, MAX_REQUEST) {
                Ok(Some(end)) => end,
                Ok(None) => break,
                Err(_) => {
                    let _ = stream.shutdown(Shutdown::Both);
                    return;
                }
            };
            let payload = buf[4..end].to_vec();
            buf.drain(..end);
            match handle_request(&payload, conn, muted, &shared) {
                Handled::Answer(out) => {
                    if tx.send(out).is_err() {
                        return;
                    }
                }
                Handled::Silent => {}
                Handled::Mute => muted = true,
                Handled::Close(before) => {
                    if let Some(o) = before {
                        let _ = tx.send(o);
                    }
                    return;
                }
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

enum Handled {
    Answer(Outgoing),
    /// No answer (acks=0, or a muted connection).
    Silent,
    /// No answer, and none to anything after it.
    Mute,
    /// Close the connection; the optional item is sent first (the close itself).
    Close(Option<Outgoing>),
}

fn frame_response(api_key: i16, api_version: i16, correlation_id: i32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 16);
    let start = begin_frame(&mut out);
    put_i32(&mut out, correlation_id);
    if response_header_version(api_key, api_version) >= 1 {
        put_empty_tagged_fields(&mut out);
    }
    out.extend_from_slice(body);
    finish_frame(&mut out, start).expect("small frame");
    out
}

fn handle_request(payload: &[u8], conn: usize, muted: bool, shared: &Shared) -> Handled {
    let mut d = Decoder::new(payload);
    let Ok(h) = RequestHeader::decode(&mut d) else {
        return Handled::Close(Some(Outgoing::Close { hold: None }));
    };
    let body = &payload[d.position()..];
    let now = Instant::now();
    let mut st = shared.lock();
    let mut rec = Received {
        api_key: h.api_key,
        api_version: h.api_version,
        correlation_id: h.correlation_id,
        connection: conn,
        at: now,
        acks: 0,
        batches: Vec::new(),
    };
    if muted {
        st.received.push(rec);
        shared.changed.notify_all();
        return Handled::Silent;
    }
    let answer = |b: Vec<u8>| {
        Handled::Answer(Outgoing::Bytes {
            bytes: frame_response(h.api_key, h.api_version, h.correlation_id, &b),
            at: now,
            hold: None,
        })
    };
    let result = match h.api_key {
        api_versions::API_KEY => {
            let mut b = Vec::new();
            if h.api_version > api_versions::MAX_VERSION || h.api_version < 0 {
                ApiVersionsResponse {
                    error_code: ErrorCode::UNSUPPORTED_VERSION,
                    api_keys: advertised(st.produce_max_version),
                    ..Default::default()
                }
                .encode(0, &mut b);
            } else {
                ApiVersionsResponse {
                    api_keys: advertised(st.produce_max_version),
                    ..Default::default()
                }
                .encode(h.api_version, &mut b);
            }
            answer(b)
        }
        metadata_api::API_KEY => {
            let resp = MetadataResponse {
                throttle_time_ms: 0,
                brokers: vec![MetadataBroker {
                    node_id: NODE_ID,
                    host: "127.0.0.1".into(),
                    port: i32::from(shared.port),
                    rack: None,
                }],
                cluster_id: Some("mock-cluster".into()),
                controller_id: NODE_ID,
                topics: st
                    .topics
                    .iter()
                    .map(|(name, n, id)| MetadataTopic {
                        error_code: ErrorCode::NONE,
                        name: Some(name.clone()),
                        topic_id: *id,
                        is_internal: false,
                        partitions: (0..*n)
                            .map(|p| MetadataPartition {
                                error_code: ErrorCode::NONE,
                                partition_index: p,
                                leader_id: NODE_ID,
                                leader_epoch: 0,
                                replica_nodes: vec![NODE_ID],
                                isr_nodes: vec![NODE_ID],
                                offline_replicas: vec![],
                            })
                            .collect(),
                        topic_authorized_operations: i32::MIN,
                    })
                    .collect(),
                cluster_authorized_operations: i32::MIN,
                error_code: ErrorCode::NONE,
            };
            let mut b = Vec::new();
            resp.encode(h.api_version, &mut b);
            answer(b)
        }
        init_producer_id::API_KEY => {
            let resp = match st.init_pid_errors.pop_front() {
                Some(code) => InitProducerIdResponse {
                    throttle_time_ms: 0,
                    error_code: code,
                    producer_id: -1,
                    producer_epoch: -1,
                },
                None => {
                    let pid = st.next_producer_id;
                    st.next_producer_id += 1;
                    InitProducerIdResponse {
                        throttle_time_ms: 0,
                        error_code: ErrorCode::NONE,
                        producer_id: pid,
                        producer_epoch: 0,
                    }
                }
            };
            let mut b = Vec::new();
            resp.encode(h.api_version, &mut b);
            answer(b)
        }
        produce::API_KEY => handle_produce(&mut st, &h, body, &mut rec, now),
        _ => Handled::Close(Some(Outgoing::Close { hold: None })),
    };
    st.received.push(rec);
    shared.changed.notify_all();
    result
}

fn advertised(produce_max: i16) -> Vec<ApiVersionRange> {
    vec![
        ApiVersionRange {
            api_key: produce::API_KEY,
            min_version: 0,
            max_version: produce_max,
        },
        ApiVersionRange {
            api_key: metadata_api::API_KEY,
            min_version: 0,
            max_version: metadata_api::MAX_VERSION,
        },
        ApiVersionRange {
            api_key: api_versions::API_KEY,
            min_version: 0,
            max_version: api_versions::MAX_VERSION,
        },
        ApiVersionRange {
            api_key: init_producer_id::API_KEY,
            min_version: 0,
            max_version: init_producer_id::MAX_VERSION,
        },
    ]
}

/// How a Produce request is answered, merged over the actions of its partitions.
#[derive(Default)]
struct Disposition {
    delay: Duration,
    hold: Option<usize>,
    drop: bool,
    mute: bool,
    raw: Option<Vec<u8>>,
    garbage: Option<Vec<u8>>,
}

fn handle_produce(
    st: &mut State,
    h: &RequestHeader<'_>,
    body: &[u8],
    rec: &mut Received,
    now: Instant,
) -> Handled {
    st.produce_requests += 1;
    let Ok(req) = ProduceRequest::decode(body, h.api_version) else {
        return Handled::Close(Some(Outgoing::Close { hold: None }));
    };
    rec.acks = req.acks;
    let mut disp = Disposition::default();
    let mut topics_out = Vec::new();
    for t in &req.topics {
        let name = if h.api_version >= produce::FIRST_TOPIC_ID_VERSION {
            st.topics
                .iter()
                .find(|(_, _, id)| *id == t.topic_id)
                .map(|(n, _, _)| n.clone())
                .unwrap_or_default()
        } else {
            t.name.to_string()
        };
        let mut parts_out = Vec::new();
        for p in &t.partitions {
            let mut resp = ProducePartitionResponse {
                index: p.index,
                error_code: ErrorCode::NONE,
                base_offset: -1,
                log_append_time_ms: -1,
                log_start_offset: 0,
                record_errors: Vec::new(),
                error_message: None,
                current_leader: None,
            };
            let known = st
                .topics
                .iter()
                .any(|(n, count, _)| *n == name && (0..*count).contains(&p.index));
            let batch = decode_batch(p.records);
            match &batch {
                Ok(b) => rec.batches.push(ProducedBatch {
                    topic: name.clone(),
                    partition: p.index,
                    producer_id: b.producer_id,
                    producer_epoch: b.producer_epoch,
                    base_sequence: b.base_sequence,
                    record_count: b.record_count,
                    values: b
                        .records
                        .iter()
                        .map(|r| r.value.map(|v| String::from_utf8_lossy(v).into_owned()))
                        .collect(),
                }),
                Err(_) => {
                    resp.error_code = ErrorCode::CORRUPT_MESSAGE;
                    parts_out.push(resp);
                    continue;
                }
            }
            if !known {
                resp.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
                parts_out.push(resp);
                continue;
            }
            let key = (name.clone(), p.index);
            let mut action = st.actions.get_mut(&key).and_then(VecDeque::pop_front);
            if action.is_none() {
                action = st.sticky.get(&key).map(|&c| Action::Error(c));
            }
            // Unwrap holds into the disposition.
            while let Some(Action::HoldUntil(n, inner)) = action {
                disp.hold = Some(disp.hold.map_or(n, |h| h.max(n)));
                action = Some(*inner);
            }
            match action {
                Some(Action::Error(code)) => {
                    resp.error_code = code;
                    parts_out.push(resp);
                    continue;
                }
                Some(Action::RecordError(code, msg)) => {
                    resp.error_code = code;
                    resp.error_message = Some(msg.clone());
                    resp.record_errors = vec![RecordError {
                        batch_index: 0,
                        message: Some(msg),
                    }];
                    parts_out.push(resp);
                    continue;
                }
                Some(Action::Delay(d)) => disp.delay = disp.delay.max(d),
                Some(Action::DropConnectionAfterRead) => disp.drop = true,
                Some(Action::Discard) => {
                    disp.mute = true;
                    parts_out.push(resp);
                    continue;
                }
                Some(Action::UnknownProducerId) => {
                    let log = st.logs.entry(key).or_default();
                    let known: Vec<i64> = log.producers.keys().copied().collect();
                    log.lost.extend(known);
                    if let Ok(b) = &batch {
                        if b.producer_id >= 0 {
                            log.lost.insert(b.producer_id);
                        }
                    }
                    log.producers.clear();
                    resp.error_code = ErrorCode::UNKNOWN_PRODUCER_ID;
                    parts_out.push(resp);
                    continue;
                }
                Some(Action::NoAnswer) => disp.mute = true,
                Some(Action::RawResponse(b)) => disp.raw = Some(b),
                Some(Action::GarbageBody(b)) => disp.garbage = Some(b),
                Some(Action::HoldUntil(..)) => unreachable!("unwrapped above"),
                None => {}
            }
            let b = batch.expect("checked");
            let log = st.logs.entry(key).or_default();
            let (code, offset) = append(log, &b);
            resp.error_code = code;
            resp.base_offset = offset;
            parts_out.push(resp);
        }
        topics_out.push(ProduceTopicResponse {
            name: if h.api_version >= produce::FIRST_TOPIC_ID_VERSION {
                String::new()
            } else {
                name
            },
            topic_id: t.topic_id,
            partitions: parts_out,
        });
    }
    if disp.mute {
        return Handled::Mute;
    }
    if disp.drop {
        return Handled::Close(Some(Outgoing::Close { hold: disp.hold }));
    }
    if req.acks == 0 {
        return Handled::Silent;
    }
    let at = now + disp.delay;
    if let Some(raw) = disp.raw {
        return Handled::Answer(Outgoing::Bytes {
            bytes: raw,
            at,
            hold: disp.hold,
        });
    }
    let body = match disp.garbage {
        Some(g) => g,
        None => {
            let mut b = Vec::new();
            ProduceResponse {
                topics: topics_out,
                throttle_time_ms: 0,
                node_endpoints: Vec::new(),
            }
            .encode(h.api_version, &mut b);
            b
        }
    };
    Handled::Answer(Outgoing::Bytes {
        bytes: frame_response(h.api_key, h.api_version, h.correlation_id, &body),
        at,
        hold: disp.hold,
    })
}

/// Appends a batch (or recognises a duplicate / a sequence gap). Returns the code and the
/// base offset to answer with.
fn append(
    log: &mut PartitionLog,
    b: &kafka_sync::protocol::record_batch::DecodedBatch<'_>,
) -> (ErrorCode, i64) {
    let count = b.record_count.max(1);
    let last_seq = b.base_sequence.wrapping_add(count - 1) & i32::MAX;
    if b.producer_id >= 0 {
        if log.lost.contains(&b.producer_id) && b.base_sequence != 0 {
            return (ErrorCode::UNKNOWN_PRODUCER_ID, -1);
        }
        // As Kafka: a producer the partition has no state for may start at any sequence;
        // after that, each batch must continue where the last one ended, an older epoch is
        // refused and a newer one starts at sequence 0.
        if let Some(s) = log.producers.get(&b.producer_id) {
            if b.producer_epoch < s.epoch {
                return (ErrorCode::INVALID_PRODUCER_EPOCH, -1);
            }
            if b.producer_epoch == s.epoch {
                if let Some(&(_, _, offset)) = s
                    .recent
                    .iter()
                    .find(|(f, l, _)| *f == b.base_sequence && *l == last_seq)
                {
                    return (ErrorCode::NONE, offset);
                }
                if b.base_sequence != s.last_seq.wrapping_add(1) & i32::MAX {
                    return (ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1);
                }
            } else if b.base_sequence != 0 {
                return (ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1);
            }
        }
    }
    let base = log.records.len() as i64;
    for (i, r) in b.records.iter().enumerate() {
        log.records.push(StoredRecord {
            offset: base + i as i64,
            value: r.value.map(|v| String::from_utf8_lossy(v).into_owned()),
            producer_id: b.producer_id,
            producer_epoch: b.producer_epoch,
            sequence: if b.producer_id >= 0 {
                b.base_sequence.wrapping_add(i as i32)
            } else {
                -1
            },
        });
    }
    if b.producer_id >= 0 {
        log.lost.remove(&b.producer_id);
        let s = log.producers.entry(b.producer_id).or_default();
        if s.epoch != b.producer_epoch {
            s.epoch = b.producer_epoch;
            s.recent.clear();
        }
        s.last_seq = last_seq;
        s.recent.push_back((b.base_sequence, last_seq, base));
        if s.recent.len() > 5 {
            s.recent.pop_front();
        }
    }
    (ErrorCode::NONE, base)
}

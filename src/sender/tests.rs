//! The sender's decisions, driven turn by turn over the scripted transport: no socket, no
//! sleep; time is the transport's simulated clock (see `scripted.rs`).

use super::scripted::{Fault, Scripted};
use super::*;
use crate::accumulator::{AccumulatorConfig, AppendByName};
use crate::future::SendFuture;
use crate::net::sasl::{SaslMechanism, SaslSettings};
use crate::protocol::ErrorCode;
use std::net::SocketAddr;

const TOPIC: &str = "t";

struct Opts {
    idempotence: bool,
    acks: i16,
    retries: u32,
    max_in_flight: usize,
    request_timeout: Duration,
    delivery_timeout: Duration,
    batch_size: usize,
    /// `batch.max.size` (default: `batch_size`, no growth).
    max_batch_size: Option<usize>,
    partitions: i32,
    sasl_password: Option<&'static str>,
    connections_max_idle: Option<Duration>,
    setup_timeout: (Duration, Duration),
    compression: crate::compression::CompressionType,
    availability_timeout: Duration,
    /// Brokers: partition p is led by node `p % nodes`.
    nodes: i32,
    /// `partitioner.adaptive.partitioning.enable`.
    adaptive: bool,
    /// A `transactional.id` ("tx").
    transactional: bool,
    /// OAUTHBEARER with this token source (instead of PLAIN when `sasl_password` is set).
    oauth: Option<Arc<crate::net::sasl::token::TokenCache>>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            idempotence: true,
            acks: -1,
            retries: u32::MAX,
            max_in_flight: 5,
            request_timeout: Duration::from_secs(30),
            delivery_timeout: Duration::from_secs(120),
            batch_size: 16384,
            max_batch_size: None,
            partitions: 1,
            sasl_password: None,
            connections_max_idle: None,
            setup_timeout: (Duration::from_secs(10), Duration::from_secs(30)),
            compression: crate::compression::CompressionType::None,
            availability_timeout: Duration::ZERO,
            nodes: 1,
            adaptive: true,
            transactional: false,
            oauth: None,
        }
    }
}

struct Harness {
    net: Scripted,
    shared: Arc<Shared>,
    sender: Sender<Scripted>,
    start: Instant,
}

fn harness(o: Opts) -> Harness {
    let start = Instant::now();
    let net = Scripted::new(start);
    net.broker(|b| {
        b.topics.insert(TOPIC.into(), o.partitions);
        b.nodes = o.nodes;
        b.sasl_password = o.sasl_password.map(str::to_string);
    });
    let accumulator = Arc::new(RecordAccumulator::new(AccumulatorConfig {
        batch_size: o.batch_size,
        // Batches of exactly batch.size, so tests control how records split into batches.
        max_batch_size: o.max_batch_size.unwrap_or(o.batch_size),
        linger: Duration::ZERO,
        buffer_memory: 1 << 20,
        retry_backoff: Duration::from_millis(100),
        retry_backoff_max: Duration::from_millis(1000),
        delivery_timeout: o.delivery_timeout,
        compression: o.compression,
        ..AccumulatorConfig::default()
    }));
    let metadata = Arc::new(Metadata::new(
        Duration::from_secs(300),
        Duration::from_secs(300),
        Duration::from_millis(100),
    ));
    metadata.touch(&Arc::from(TOPIC), start);
    let shared = Arc::new(Shared {
        accumulator,
        metadata,
        load: Arc::new(crate::partitioner::LoadStats::new(o.adaptive)),
        metrics: Arc::new(crate::metrics::SharedMetrics::new(
            crate::metrics::WindowConfig::DEFAULT,
            net.now(),
        )),
        waker: net.waker(),
        running: AtomicBool::new(true),
        force_close: AtomicBool::new(false),
        saturated: AtomicBool::new(false),
        txn: o.transactional.then(|| {
            Arc::new(TxnShared::new(TxnCore::new(
                Arc::from("tx"),
                Duration::from_secs(60),
                Duration::from_millis(100),
            )))
        }),
    });
    let cfg = SenderConfig {
        acks: o.acks,
        delivery_timeout: o.delivery_timeout,
        max_request_size: 1 << 20,
        retries: o.retries,
        retry_backoff: Duration::from_millis(100),
        idempotence: o.idempotence,
        availability_timeout: o.availability_timeout,
        bootstrap: vec!["broker:9092".into()],
        pool: PoolConfig {
            client_id: "test".into(),
            max_in_flight: o.max_in_flight,
            request_timeout: o.request_timeout,
            reconnect_backoff: Duration::from_millis(100),
            reconnect_backoff_max: Duration::from_millis(1000),
            setup_timeout: o.setup_timeout.0,
            setup_timeout_max: o.setup_timeout.1,
            connections_max_idle: o.connections_max_idle,
            sasl: o.sasl_password.map(|_| SaslSettings {
                mechanism: if o.oauth.is_some() {
                    SaslMechanism::OAuthBearer
                } else {
                    SaslMechanism::Plain
                },
                username: "alice".into(),
                password: "alice-secret".into(),
                oauth: o.oauth.clone(),
            }),
        },
    };
    let sender = Sender::new(cfg, shared.clone(), net.clone(), Rng::with_seed(7));
    Harness {
        net,
        shared,
        sender,
        start,
    }
}

impl Harness {
    fn now(&self) -> Instant {
        self.net.now()
    }

    /// Appends a record (about 100 bytes) to `partition`.
    fn send(&self, partition: i32) -> SendFuture {
        self.send_with(partition, None)
    }

    /// [`send`](Self::send) with a callback.
    fn send_with(&self, partition: i32, callback: Option<crate::future::Callback>) -> SendFuture {
        let tp = TopicPartition::new(TOPIC, partition);
        let value = [7u8; 100];
        self.shared
            .accumulator
            .append(
                &tp,
                0,
                None,
                Some(&value),
                &[],
                callback,
                self.now(),
                Duration::ZERO,
            )
            .expect("append")
            .future
    }

    /// Turns the loop until `done`; panics (naming `what`) after 5000 turns.
    fn run_until(&mut self, what: &str, done: impl Fn(&Harness) -> bool) {
        for _ in 0..5000 {
            if done(self) {
                return;
            }
            self.sender.run_once();
        }
        panic!("{what}: not reached in 5000 turns");
    }

    fn answered(&mut self, futures: &[SendFuture]) {
        self.run_until("every record answered", |_| {
            futures.iter().all(SendFuture::is_done)
        });
    }

    fn fault(&self, partition: i32, faults: &[Fault]) {
        self.net.broker(|b| {
            b.faults
                .entry((TOPIC.into(), partition))
                .or_default()
                .extend(faults)
        });
    }

    fn requests(&self, api_key: i16) -> usize {
        self.net
            .broker(|b| b.requests.get(&api_key).copied().unwrap_or(0))
    }

    /// (producer id, epoch, base sequence, base offset) of each batch in the log, in order.
    fn log(&self, partition: i32) -> Vec<(i64, i16, i32, i64)> {
        self.net.broker(|b| {
            b.logs
                .get(&(TOPIC.into(), partition))
                .map(|l| {
                    l.iter()
                        .map(|a| (a.producer_id, a.epoch, a.base_sequence, a.base_offset))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// Milliseconds between consecutive connect attempts.
    fn connect_gaps_ms(&self) -> Vec<u128> {
        let times: Vec<Instant> = self
            .net
            .broker(|b| b.connects.iter().map(|c| c.0).collect());
        times
            .windows(2)
            .map(|w| (w[1] - w[0]).as_millis())
            .collect()
    }

    fn elapsed(&self) -> Duration {
        self.now() - self.start
    }
}

fn offset(f: &SendFuture) -> i64 {
    f.try_get().expect("answered").expect("written").offset
}

fn error(f: &SendFuture) -> Error {
    f.try_get().expect("answered").expect_err("failed")
}

/// Every record answered written is in the log at the offset it was told, and no batch is
/// in the log twice.
fn nothing_lost_or_doubled(h: &Harness, futures: &[SendFuture], partition: i32) {
    let log = h.log(partition);
    for f in futures {
        if let Some(Ok(m)) = f.try_get() {
            assert!(
                log.iter().any(|&(_, _, _, o)| o == m.offset),
                "offset {} reported but not in the log {log:?}",
                m.offset
            );
        }
    }
    let mut seen = HashSet::new();
    for &(pid, epoch, seq, _) in &log {
        assert!(seen.insert((pid, epoch, seq)), "batch twice in {log:?}");
    }
}

#[test]
fn a_record_is_written_and_answered_with_its_offset() {
    let mut h = harness(Opts::default());
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    assert_eq!(offset(&f), 0);
    assert_eq!(h.log(0), vec![(1001, 0, 0, 0)]);
    assert_eq!(h.requests(22), 1, "one InitProducerId");
}

/// What the registry held when a record's callback ran: requests in flight, requests
/// answered, records failed.
type SeenAtAnswer = Arc<parking_lot::Mutex<Option<(usize, f64, f64)>>>;

/// Appends a record to partition 0 whose callback reads the metrics registry as it is
/// answered.
fn send_watching_metrics(h: &Harness) -> (SendFuture, SeenAtAnswer) {
    let seen: SeenAtAnswer = Arc::default();
    let (shared, out) = (h.shared.clone(), seen.clone());
    let callback: crate::future::Callback = Box::new(move |_| {
        let r = shared.metrics.lock();
        let p = &r.producer;
        *out.lock() = Some((p.in_flight, p.requests.total(), p.errors.total()));
    });
    (h.send_with(0, Some(callback)), seen)
}

/// A caller woken by its answer reads metrics that already count it: its request no longer
/// in flight and counted as sent, its failure counted. (The gauges were once published at the
/// end of the turn, after the answers, and `metrics()` right after `get()` could see the
/// request still in flight.)
#[test]
fn the_metrics_count_an_answer_before_the_caller_hears_it() {
    let mut h = harness(Opts::default());
    // Answers come a turn or more after the request, as a real broker's do.
    h.net
        .broker(|b| b.answer_delay.insert(0, Duration::from_millis(20)));
    let (f, seen) = send_watching_metrics(&h);
    h.answered(std::slice::from_ref(&f));
    offset(&f);
    let (in_flight, requests, errors) = seen.lock().expect("callback ran");
    assert_eq!(in_flight, 0);
    assert!(requests >= 2.0, "InitProducerId and Produce: {requests}");
    assert_eq!(errors, 0.0);

    h.fault(0, &[Fault::Refuse(ErrorCode::TOPIC_AUTHORIZATION_FAILED)]);
    let (f, seen) = send_watching_metrics(&h);
    h.answered(std::slice::from_ref(&f));
    error(&f);
    let (in_flight, _, errors) = seen.lock().expect("callback ran");
    assert_eq!(in_flight, 0);
    assert_eq!(errors, 1.0);
}

#[test]
fn a_retriable_error_is_retried_with_the_same_sequence_after_a_metadata_refresh() {
    let mut h = harness(Opts::default());
    h.fault(0, &[Fault::Refuse(ErrorCode::NOT_LEADER_OR_FOLLOWER)]);
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    assert_eq!(offset(&f), 0);
    assert_eq!(h.log(0), vec![(1001, 0, 0, 0)]);
    assert_eq!(h.requests(0), 2);
    assert!(h.requests(3) >= 2, "metadata refreshed after NOT_LEADER");
    assert!(h.elapsed() >= Duration::from_millis(80), "retry backoff");
}

#[test]
fn a_non_retriable_error_fails_the_batch_as_not_written_and_its_sequence_is_reused() {
    let mut h = harness(Opts::default());
    h.fault(0, &[Fault::Refuse(ErrorCode::TOPIC_AUTHORIZATION_FAILED)]);
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    let e = error(&f);
    assert_eq!(e.delivery(), Delivery::NotWritten, "{e}");
    assert_eq!(h.requests(0), 1, "not retried");
    let g = h.send(0);
    h.answered(std::slice::from_ref(&g));
    assert_eq!(offset(&g), 0);
    assert_eq!(
        h.log(0),
        vec![(1001, 0, 0, 0)],
        "the refused sequence is reused"
    );
}

#[test]
fn five_in_flight_with_the_first_failing_all_land_once_in_order() {
    // Batches of one record each, five in flight; the first is refused, so the broker
    // answers the next four OUT_OF_ORDER (it expects sequence 0).
    let mut h = harness(Opts {
        batch_size: 120,
        ..Opts::default()
    });
    h.fault(0, &[Fault::Refuse(ErrorCode::NOT_ENOUGH_REPLICAS)]);
    let futures: Vec<SendFuture> = (0..5).map(|_| h.send(0)).collect();
    h.answered(&futures);
    let offsets: Vec<i64> = futures.iter().map(offset).collect();
    assert_eq!(offsets, vec![0, 1, 2, 3, 4], "in order, each once");
    let seqs: Vec<i32> = h.log(0).iter().map(|&(_, _, s, _)| s).collect();
    assert_eq!(seqs, vec![0, 1, 2, 3, 4]);
    assert_eq!(h.requests(22), 1, "the gap is explained: no new epoch");
    nothing_lost_or_doubled(&h, &futures, 0);
}

#[test]
fn out_of_order_after_a_gap_is_retried_without_a_new_epoch() {
    let mut h = harness(Opts {
        batch_size: 120,
        max_in_flight: 2,
        ..Opts::default()
    });
    h.fault(0, &[Fault::Refuse(ErrorCode::REQUEST_TIMED_OUT)]);
    let futures: Vec<SendFuture> = (0..2).map(|_| h.send(0)).collect();
    h.answered(&futures);
    assert_eq!(futures.iter().map(offset).collect::<Vec<_>>(), vec![0, 1]);
    assert!(h.log(0).iter().all(|&(_, epoch, _, _)| epoch == 0));
}

#[test]
fn out_of_order_with_nothing_earlier_pending_bumps_the_epoch() {
    let mut h = harness(Opts::default());
    h.fault(0, &[Fault::Refuse(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)]);
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    assert_eq!(offset(&f), 0);
    assert_eq!(
        h.log(0),
        vec![(1001, 1, 0, 0)],
        "resent at sequence 0 of epoch 1"
    );
    assert_eq!(h.requests(22), 1, "the epoch is bumped locally");
}

#[test]
fn unknown_producer_id_is_retried_under_a_new_epoch() {
    let mut h = harness(Opts::default());
    h.fault(0, &[Fault::Refuse(ErrorCode::UNKNOWN_PRODUCER_ID)]);
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    assert_eq!(offset(&f), 0);
    assert_eq!(h.log(0), vec![(1001, 1, 0, 0)]);
}

#[test]
fn invalid_producer_epoch_fails_the_batch_and_a_new_producer_id_is_taken() {
    let mut h = harness(Opts::default());
    h.fault(0, &[Fault::Refuse(ErrorCode::INVALID_PRODUCER_EPOCH)]);
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    assert!(
        matches!(error(&f), Error::Broker { code, .. } if code == ErrorCode::INVALID_PRODUCER_EPOCH)
    );
    let g = h.send(0);
    h.answered(std::slice::from_ref(&g));
    assert_eq!(h.requests(22), 2, "a new producer id");
    assert_eq!(h.log(0), vec![(1002, 0, 0, 0)]);
}

#[test]
fn refused_first_batches_with_a_later_one_accepted_lose_double_and_reorder_nothing() {
    // A fresh partition: the first two batches are refused NOT_LEADER (a topic just created)
    // and a third would be accepted, since a broker without state for the producer takes any
    // sequence. Three in flight at once would write the third first, and the refused ones
    // after it under a new epoch: once each, out of order (seen against a real broker in
    // `eight_threads_share_one_producer_and_keep_per_key_order`). Renumbering them into
    // sequences the broker has would answer them as duplicates: reported written, not in
    // the log.
    let mut h = harness(Opts {
        batch_size: 120,
        max_in_flight: 3,
        ..Opts::default()
    });
    // Answers held back, so that all three requests are out before the first comes back.
    h.net
        .broker(|b| b.answer_delay.insert(0, Duration::from_millis(10)));
    let nl = Fault::Refuse(ErrorCode::NOT_LEADER_OR_FOLLOWER);
    h.fault(0, &[nl, nl]);
    let futures: Vec<SendFuture> = (0..6).map(|_| h.send(0)).collect();
    h.answered(&futures);
    nothing_lost_or_doubled(&h, &futures, 0);
    let written = futures
        .iter()
        .filter(|f| matches!(f.try_get(), Some(Ok(_))))
        .count();
    assert_eq!(written, 6, "every record written: {:?}", h.log(0));
    let offsets: Vec<i64> = futures.iter().map(offset).collect();
    assert!(
        offsets.windows(2).all(|w| w[0] < w[1]),
        "send order kept: offsets {offsets:?}, log {:?}",
        h.log(0)
    );
}

#[test]
fn a_lost_response_times_out_and_the_retry_is_answered_as_a_duplicate() {
    let mut h = harness(Opts {
        request_timeout: Duration::from_secs(5),
        ..Opts::default()
    });
    h.fault(0, &[Fault::AppendSilently]);
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    assert_eq!(offset(&f), 0, "the original offset");
    assert_eq!(h.log(0).len(), 1, "written once");
    assert!(
        h.elapsed() >= Duration::from_secs(5),
        "after request.timeout.ms"
    );
    assert!(h.elapsed() < Duration::from_secs(8), "{:?}", h.elapsed());
}

#[test]
fn a_connection_dropped_after_the_append_is_retried_and_deduplicated() {
    let mut h = harness(Opts::default());
    h.fault(0, &[Fault::AppendThenDisconnect]);
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    assert_eq!(offset(&f), 0);
    assert_eq!(h.log(0).len(), 1);
    assert!(h.net.broker(|b| b.connects.len()) >= 2, "reconnected");
}

#[test]
fn delivery_timeout_answers_a_batch_in_flight_as_may_have_been_written() {
    let mut h = harness(Opts {
        request_timeout: Duration::from_secs(60),
        delivery_timeout: Duration::from_secs(10),
        ..Opts::default()
    });
    h.fault(0, &[Fault::Swallow]);
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    let e = error(&f);
    assert!(matches!(e, Error::DeliveryTimeout { .. }), "{e}");
    assert_eq!(e.delivery(), Delivery::Unknown);
    let t = h.elapsed();
    // Answered at the 10 s deadline; the harness looks after that turn's wait (<= 1 s).
    assert!(
        t >= Duration::from_secs(10) && t <= Duration::from_secs(11),
        "{t:?}"
    );
}

#[test]
fn retries_exhausted_fail_with_the_last_error() {
    let mut h = harness(Opts {
        retries: 2,
        ..Opts::default()
    });
    let ner = Fault::Refuse(ErrorCode::NOT_ENOUGH_REPLICAS);
    h.fault(0, &[ner, ner, ner]);
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    let e = error(&f);
    assert!(
        matches!(e, Error::Broker { code, .. } if code == ErrorCode::NOT_ENOUGH_REPLICAS),
        "{e}"
    );
    assert_eq!(e.delivery(), Delivery::NotWritten);
    assert_eq!(h.requests(0), 3, "the first attempt and two retries");
}

#[test]
fn retries_zero_fails_at_the_first_error() {
    let mut h = harness(Opts {
        retries: 0,
        idempotence: false,
        ..Opts::default()
    });
    h.fault(0, &[Fault::Refuse(ErrorCode::NOT_ENOUGH_REPLICAS)]);
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    assert!(error(&f).is_retriable());
    assert_eq!(h.requests(0), 1);
    assert_eq!(h.requests(22), 0, "no producer id without idempotence");
}

#[test]
fn acks_zero_is_answered_once_written() {
    let mut h = harness(Opts {
        acks: 0,
        idempotence: false,
        ..Opts::default()
    });
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    assert_eq!(offset(&f), -1);
    assert_eq!(h.log(0).len(), 1);
}

#[test]
fn init_producer_id_retriable_error_is_retried() {
    let mut h = harness(Opts::default());
    h.net.broker(|b| {
        b.init_errors
            .push_back(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
    });
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    assert_eq!(offset(&f), 0);
    assert_eq!(h.requests(22), 2);
}

#[test]
fn init_producer_id_refused_for_good_fails_the_waiting_records() {
    let mut h = harness(Opts::default());
    h.net.broker(|b| {
        b.init_errors
            .push_back(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    });
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    let e = error(&f);
    assert!(
        e.to_string().contains("CLUSTER_AUTHORIZATION_FAILED"),
        "{e}"
    );
    assert_eq!(h.requests(0), 0, "nothing produced without a producer id");
}

#[test]
fn an_authentication_failure_fails_queued_records_at_once() {
    let mut h = harness(Opts {
        sasl_password: Some("another-password"),
        ..Opts::default()
    });
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    let e = error(&f);
    assert!(matches!(e, Error::Authentication { .. }), "{e}");
    assert!(
        e.to_string().contains("Invalid username or password"),
        "{e}"
    );
    assert_eq!(e.delivery(), Delivery::NotWritten);
    assert!(
        h.elapsed() < Duration::from_secs(1),
        "reported at once, not by a timeout"
    );
}

/// While the login thread fetches the first OAUTHBEARER token, no connection is opened (one
/// opened would be closed after ApiVersions, logged and counted as a failed connect, and
/// backed off); the pool looks again every few ms and connects once the token is there.
#[test]
fn no_connection_is_opened_before_the_first_oauthbearer_token() {
    use crate::net::sasl::oauthbearer::{epoch_ms, OAuthBearerToken};
    use crate::net::sasl::token::{RefreshConfig, State, TokenCache};
    let cache = TokenCache::fixed(State::default());
    let mut h = harness(Opts {
        sasl_password: Some("unused"),
        oauth: Some(cache.clone()),
        ..Opts::default()
    });
    let f = h.send(0);
    for _ in 0..50 {
        h.sender.run_once();
    }
    assert!(
        h.net.broker(|b| b.connects.is_empty()),
        "connected without a token"
    );
    assert!(
        !f.is_done(),
        "the record waits for the token, it does not fail"
    );
    let waited = h.elapsed();
    assert!(
        waited <= Duration::from_millis(50 * 25),
        "looked again every {:?} at most",
        waited / 50
    );

    let now = std::time::SystemTime::now();
    let mut ready = State::default();
    let token = OAuthBearerToken::new("aGVhZA.Ym9keQ.", now + Duration::from_secs(60), "alice");
    ready.on_fetched(&RefreshConfig::default(), Ok(token), epoch_ms(now), 0.0);
    cache.set(ready);
    h.answered(std::slice::from_ref(&f));
    assert_eq!(h.net.broker(|b| b.connects.len()), 1);
    // The scripted broker checks a PLAIN password and refuses the token, whose principal the
    // error names: the exchange ran with the token.
    let e = error(&f);
    assert!(
        matches!(e, Error::Authentication { .. }) && e.to_string().contains("principal alice"),
        "{e}"
    );
}

#[test]
fn sasl_plain_authenticates_then_writes() {
    let mut h = harness(Opts {
        sasl_password: Some("alice-secret"),
        ..Opts::default()
    });
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    assert_eq!(offset(&f), 0);
    assert_eq!(
        h.requests(17),
        h.requests(36),
        "one SaslAuthenticate per handshake"
    );
}

#[test]
fn refused_connections_back_off_exponentially_to_the_max() {
    let mut h = harness(Opts::default());
    let addr = SocketAddr::from(([127, 0, 0, 1], 9092));
    h.net.broker(|b| b.refuse.push(addr));
    let f = h.send(0);
    h.run_until("eight connect attempts", |h| {
        h.net.broker(|b| b.connects.len()) >= 8
    });
    let gaps = h.connect_gaps_ms();
    // reconnect.backoff.ms 100 doubling to reconnect.backoff.max.ms 1000, +-20% jitter.
    for (i, &g) in gaps.iter().enumerate() {
        let nominal = (100u128 << i).min(1000);
        assert!(g * 10 >= nominal * 8 - 10, "gap {i}: {g} ms ({gaps:?})");
        assert!(g <= 1001, "gap {i}: {g} ms ({gaps:?})");
    }
    assert!(!f.is_done());
}

#[test]
fn every_address_of_a_name_is_tried_in_turn() {
    let mut h = harness(Opts::default());
    let a = |last: u8| SocketAddr::from(([127, 0, 0, last], 9092));
    h.net.broker(|b| {
        b.dns.insert("broker:9092".into(), vec![a(2), a(3), a(1)]);
        b.refuse.extend([a(2), a(3)]);
    });
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    assert_eq!(offset(&f), 0);
    let tried: Vec<SocketAddr> = h.net.broker(|b| b.connects.iter().map(|c| c.1).collect());
    assert_eq!(&tried[..3], &[a(2), a(3), a(1)], "{tried:?}");
}

#[test]
fn the_connect_timeout_grows_exponentially_to_its_max() {
    let mut h = harness(Opts {
        setup_timeout: (Duration::from_secs(1), Duration::from_secs(5)),
        ..Opts::default()
    });
    let addr = SocketAddr::from(([127, 0, 0, 1], 9092));
    h.net.broker(|b| b.hang.push(addr));
    let _f = h.send(0);
    h.run_until("seven connect attempts", |h| {
        h.net.broker(|b| b.connects.len()) >= 7
    });
    let gaps = h.connect_gaps_ms();
    // Each gap is the connect timeout (1 s doubling to 5 s, +-20%, capped at 5 s) plus a
    // reconnect backoff (100 ms doubling to 1 s, +-20%, capped at 1 s).
    for (i, &g) in gaps.iter().enumerate() {
        let timeout = (1000u128 << i).min(5000);
        let backoff = (100u128 << i).min(1000);
        let most = (timeout * 12 / 10).min(5000) + (backoff * 12 / 10).min(1000) + 2;
        assert!(g * 10 >= timeout * 8, "gap {i}: {g} ms ({gaps:?})");
        assert!(g <= most, "gap {i}: {g} ms, at most {most} ({gaps:?})");
    }
    assert!(gaps[5] >= 4000, "capped near the max: {gaps:?}");
}

#[test]
fn an_idle_connection_is_closed_and_reopened_by_the_next_send() {
    let mut h = harness(Opts {
        connections_max_idle: Some(Duration::from_secs(10)),
        ..Opts::default()
    });
    let f = h.send(0);
    h.answered(std::slice::from_ref(&f));
    assert_eq!(h.net.open_connections(), 1);
    let connects = h.net.broker(|b| b.connects.len());
    h.run_until("the idle connection closed", |h| {
        h.net.open_connections() == 0
    });
    assert!(h.elapsed() >= Duration::from_secs(10));
    let g = h.send(0);
    h.answered(std::slice::from_ref(&g));
    assert_eq!(offset(&g), 1);
    assert_eq!(
        h.net.broker(|b| b.connects.len()),
        connects + 1,
        "reopened once"
    );
}

#[test]
fn records_on_several_partitions_go_in_one_request_per_broker() {
    let mut h = harness(Opts {
        partitions: 3,
        ..Opts::default()
    });
    // Wait for the producer id first so the three batches are drained together.
    let first = h.send(0);
    h.answered(std::slice::from_ref(&first));
    let before = h.requests(0);
    let futures: Vec<SendFuture> = (0..3).map(|p| h.send(p)).collect();
    h.answered(&futures);
    assert_eq!(h.requests(0), before + 1);
    for p in 0..3 {
        assert!(!h.log(p).is_empty());
    }
}

#[test]
fn a_broker_that_drops_every_connection_costs_retries_not_records() {
    let mut h = harness(Opts {
        batch_size: 120,
        ..Opts::default()
    });
    let futures: Vec<SendFuture> = (0..20).map(|_| h.send(0)).collect();
    for _ in 0..3 {
        h.sender.run_once();
        h.net.drop_connections();
    }
    h.answered(&futures);
    nothing_lost_or_doubled(&h, &futures, 0);
    assert!(futures.iter().all(|f| matches!(f.try_get(), Some(Ok(_)))));
}

mod adaptive;
mod reauth;
mod split;
mod transactions;

#[test]
fn a_batch_that_expires_unsent_names_the_connection_failure_that_held_it() {
    let mut h = harness(Opts {
        delivery_timeout: Duration::from_secs(5),
        ..Opts::default()
    });
    let addr = SocketAddr::from(([127, 0, 0, 1], 9092));
    h.net.broker(|b| b.refuse.push(addr));
    let f = h.send(0);
    h.run_until("the record's answer", |_| f.is_done());
    match f.try_get() {
        Some(Err(Error::DeliveryTimeout {
            delivery,
            last_error,
            ..
        })) => {
            assert_eq!(delivery, Delivery::NotWritten);
            let last = last_error.as_deref().unwrap_or_default();
            assert!(
                last.starts_with("could not connect to broker:9092: "),
                "{last}"
            );
        }
        other => panic!("expected a delivery timeout, got {other:?}"),
    }
}

//! Errors and logs that explain themselves: a send that times out because no broker answers
//! names the brokers tried and the last connection error; a record that expires unsent says
//! why; a broker that stays down costs one warning, not one per retry.
//!
//! The first tests need no broker (the point is that nothing listens); the others use the
//! single node (`KAFKA_BOOTSTRAP`) and the proxy of tests/support/proxy.rs.

mod support;

use kafka_sync::{Delivery, Error, Producer, ProducerConfig, ProducerRecord};
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::net::TcpListener;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::proxy::Proxy;

/// Every log line of the crate, kept for the tests to count (one logger per test binary; each
/// test looks only at lines naming its own addresses).
struct Capture(Mutex<Vec<(Level, String)>>);

impl Log for Capture {
    fn enabled(&self, m: &Metadata) -> bool {
        m.target().starts_with("kafka_sync")
    }
    fn log(&self, r: &Record) {
        if self.enabled(r.metadata()) {
            self.0
                .lock()
                .unwrap()
                .push((r.level(), r.args().to_string()));
        }
    }
    fn flush(&self) {}
}

static LOG: Capture = Capture(Mutex::new(Vec::new()));

fn lines_naming(addr: &str, at_least: Level) -> Vec<(Level, String)> {
    let _ = log::set_logger(&LOG);
    log::set_max_level(LevelFilter::Debug);
    LOG.0
        .lock()
        .unwrap()
        .iter()
        // The producer's own "starting" line names its bootstrap address too.
        .filter(|(l, m)| *l <= at_least && m.contains(addr) && !m.starts_with("producer "))
        .cloned()
        .collect()
}

fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> Producer<String, String> {
    let _ = log::set_logger(&LOG);
    log::set_max_level(LevelFilter::Debug);
    let mut b = ProducerConfig::builder().bootstrap_servers(bootstrap);
    for (k, v) in extra {
        b = b.set(*k, *v);
    }
    Producer::new(b.build().expect("valid config")).expect("producer")
}

/// A loopback address where nothing listens (bound, then released).
fn dead_address() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    drop(l);
    addr
}

fn assert_names_unreachable(err: &Error, dead: &str) {
    match err {
        Error::MetadataTimeout {
            unreachable_brokers,
            last_connection_error,
            refreshes,
            ..
        } => {
            assert_eq!(*refreshes, 0, "nothing listens: {err}");
            assert_eq!(unreachable_brokers, &[dead.to_string()], "{err}");
            let last = last_connection_error.as_deref().unwrap_or_default();
            assert!(
                last.starts_with(dead) && last.to_lowercase().contains("refused"),
                "last connection error: {last:?}"
            );
        }
        e => panic!("expected a metadata timeout, got {e:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&format!("could not connect to {dead}")),
        "the message does not name the broker: {text}"
    );
    assert_eq!(err.delivery(), Delivery::NotWritten);
}

#[test]
fn a_send_where_nothing_listens_names_the_broker_and_the_connection_error() {
    let dead = dead_address();
    let p = producer(
        &dead,
        &[
            ("max.block.ms", "1500"),
            ("reconnect.backoff.max.ms", "100"),
        ],
    );
    let err = p
        .send(ProducerRecord::with_value("t", "v".to_string()))
        .unwrap_err();
    assert_names_unreachable(&err, &dead);
    let err = p.partitions_for("t").unwrap_err();
    assert_names_unreachable(&err, &dead);
}

#[test]
fn a_broker_that_stays_down_is_one_warning_not_one_per_attempt() {
    let dead = dead_address();
    let p = producer(
        &dead,
        &[
            ("max.block.ms", "1500"),
            ("reconnect.backoff.ms", "10"),
            ("reconnect.backoff.max.ms", "50"),
        ],
    );
    assert!(p
        .send(ProducerRecord::with_value("t", "v".to_string()))
        .is_err());
    let attempts = lines_naming(&dead, Level::Debug);
    assert!(
        attempts.len() >= 10,
        "expected many connection attempts in 1.5 s: {attempts:?}"
    );
    let loud = lines_naming(&dead, Level::Info);
    assert_eq!(loud.len(), 1, "one line for the state change: {loud:?}");
    assert_eq!(loud[0].0, Level::Warn, "{loud:?}");
    assert!(loud[0].1.contains("cannot connect to"), "{loud:?}");
}

#[test]
fn connecting_to_a_real_broker_is_one_info_line_per_node_and_no_warning() {
    let bs = support::bootstrap();
    let proxy = Proxy::start(&bs);
    let addr = proxy.bootstrap();
    let p = producer(&addr, &[]);
    let topic = support::unique_topic("diag-connect");
    support::create_topic(&bs, &topic, 1, 1, &[]);
    for i in 0..20 {
        p.send(ProducerRecord::with_value(topic.clone(), format!("v{i}")))
            .expect("send")
            .get()
            .expect("delivered");
    }
    let loud = lines_naming(&addr, Level::Info);
    assert!(
        loud.iter()
            .all(|(l, m)| *l == Level::Info && m.contains("connected to")),
        "{loud:?}"
    );
    // The bootstrap node and the broker's own id: the same address, two nodes.
    assert!((1..=2).contains(&loud.len()), "{loud:?}");
    drop(p);
    drop(proxy);
}

#[test]
fn a_record_that_expires_unsent_says_which_broker_could_not_be_reached() {
    let bs = support::bootstrap();
    let proxy = Proxy::start(&bs);
    let addr = proxy.bootstrap();
    let p = producer(
        &addr,
        &[
            ("linger.ms", "0"),
            ("request.timeout.ms", "1000"),
            ("delivery.timeout.ms", "2000"),
            ("reconnect.backoff.max.ms", "100"),
        ],
    );
    let topic = support::unique_topic("diag-expire");
    support::create_topic(&bs, &topic, 1, 1, &[]);
    p.send(ProducerRecord::with_value(
        topic.clone(),
        "first".to_string(),
    ))
    .expect("send")
    .get()
    .expect("the first record is delivered");
    // The broker's only address (the proxy) goes away: connects are refused from now on.
    drop(proxy);
    let started = Instant::now();
    let err = p
        .send(ProducerRecord::with_value(
            topic.clone(),
            "second".to_string(),
        ))
        .expect("queued: the topic is known")
        .get()
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "{err}");
    match &err {
        Error::DeliveryTimeout { last_error, .. } => {
            let last = last_error.as_deref().unwrap_or_default();
            assert!(
                last.contains(&addr),
                "last error {last:?} does not name {addr}"
            );
        }
        e => panic!("expected a delivery timeout, got {e:?}"),
    }
    assert!(err.to_string().contains(&addr), "{err}");
    let loud = lines_naming(&addr, Level::Info);
    let warnings: Vec<_> = loud.iter().filter(|(l, _)| *l == Level::Warn).collect();
    assert!(
        (1..=2).contains(&warnings.len()),
        "the loss and the failed reconnect of each node, once: {loud:?}"
    );
}

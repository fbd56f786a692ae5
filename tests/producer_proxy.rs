//! The producer against the real single-node broker through a fault-injecting proxy
//! (tests/support/proxy.rs): swallowed requests, lost responses, an epoch bump after a batch
//! of unknown fate, and connection resets. Each test checks the log with Kafka's console
//! consumer and a sentinel record per partition (its offset proves how many records precede
//! it), so "exactly once, where send said" is checked on the broker's own log.
//!
//! No broker is stopped here: these tests can run beside the others.

mod support;

use kafka_sync::protocol::produce;
use kafka_sync::protocol::ErrorCode;
use kafka_sync::{
    Delivery, Error, Producer, ProducerConfig, ProducerRecord, RecordMetadata, SendFuture,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::proxy::{Fate, Proxy};

fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> Producer<String, String> {
    if std::env::var_os("PROXY_DEBUG").is_some() {
        let _ = log::set_logger(&StderrLog);
        log::set_max_level(log::LevelFilter::Debug);
    }
    let mut b = ProducerConfig::builder().bootstrap_servers(bootstrap);
    for (k, v) in extra {
        b = b.set(*k, *v);
    }
    Producer::new(b.build().expect("valid config")).expect("producer")
}

fn send(
    p: &Producer<String, String>,
    topic: &str,
    key: Option<String>,
    value: String,
) -> SendFuture {
    p.send(ProducerRecord::new(topic.to_string(), key, Some(value)))
        .expect("send")
}

/// Waits for every future; panics on any error or a missing answer.
fn all_acked(
    futures: Vec<(String, SendFuture)>,
    wait: Duration,
) -> HashMap<String, RecordMetadata> {
    let deadline = Instant::now() + wait;
    let mut acked = HashMap::new();
    for (v, f) in futures {
        let left = deadline.saturating_duration_since(Instant::now());
        match f.get_timeout(left) {
            Ok(md) => {
                acked.insert(v, md);
            }
            Err(e) => panic!("record {v} failed: {e} ({:?})", e.delivery()),
        }
    }
    acked
}

/// Checks the broker's log of `topic` (`partitions` partitions): it holds exactly the records
/// of `acked`, each once, at the partition and offset send() reported, and nothing else.
///
/// A sentinel is written to each partition last (through `p`): its offset is the number of
/// records before it, which must be the number acknowledged there; then Kafka's console
/// consumer reads everything and each record is compared with what send() said.
fn assert_log_is_exactly(
    p: &Producer<String, String>,
    bs: &str,
    topic: &str,
    partitions: i32,
    acked: &HashMap<String, RecordMetadata>,
) {
    let mut sentinels = HashMap::new();
    for part in 0..partitions {
        let v = format!("sentinel-{part}");
        let md = p
            .send(
                ProducerRecord::new(topic.to_string(), None, Some(v.clone())).with_partition(part),
            )
            .expect("send sentinel")
            .get_timeout(Duration::from_secs(15))
            .expect("sentinel acknowledged");
        let here = acked.values().filter(|m| m.partition == part).count() as i64;
        assert_eq!(
            md.offset, here,
            "partition {part}: the sentinel landed at offset {} but {here} records were \
             acknowledged there (a record was written twice, or one not acknowledged is in the log)",
            md.offset
        );
        sentinels.insert(v, md);
    }
    let total = acked.len() + sentinels.len();
    let got = support::consume(bs, topic, total, 30_000);
    assert_eq!(
        got.len(),
        total,
        "the console consumer read {} of {total} records",
        got.len()
    );
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for c in &got {
        *seen.entry(c.value.as_str()).or_default() += 1;
        let md = acked
            .get(&c.value)
            .or_else(|| sentinels.get(&c.value))
            .unwrap_or_else(|| panic!("record {:?} in the log was never acknowledged", c.value));
        assert_eq!(
            (md.partition, md.offset),
            (c.partition, c.offset),
            "record {:?} is not where send() said",
            c.value
        );
    }
    for v in acked.keys() {
        assert_eq!(
            seen.get(v.as_str()),
            Some(&1),
            "acknowledged record {v} read {:?} times",
            seen.get(v.as_str())
        );
    }
}

/// The batches of one exchange as (partition, producer id, epoch, base sequence).
fn ids(e: &support::proxy::ProduceExchange) -> Vec<(i32, i64, i16, i32)> {
    e.batches
        .iter()
        .map(|b| {
            (
                b.partition,
                b.producer_id,
                b.producer_epoch,
                b.base_sequence,
            )
        })
        .collect()
}

/// A Produce request is swallowed (the broker never sees it, and the connection stalls after
/// it): the producer times the request out after request.timeout.ms, reconnects and retries
/// with the same sequences; every record lands once, where send() said.
#[test]
fn a_swallowed_produce_request_times_out_and_is_retried_once_in_the_log() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("proxy-blackhole");
    support::create_topic(&bs, &topic, 3, 1, &[]);
    let proxy = Proxy::start(&bs);
    let p = producer(
        &proxy.bootstrap(),
        &[
            ("request.timeout.ms", "2000"),
            ("delivery.timeout.ms", "20000"),
            ("linger.ms", "5"),
        ],
    );
    let mut futures = Vec::new();
    for part in 0..3 {
        let v = format!("warm-{part}");
        let f = p
            .send(ProducerRecord::new(topic.clone(), None, Some(v.clone())).with_partition(part))
            .unwrap();
        f.get_timeout(Duration::from_secs(15)).expect("warm-up");
        futures.push((v, f));
    }
    assert!(
        proxy.stats().metadata_rewritten > 0,
        "metadata went through the proxy"
    );

    proxy.blackhole_produce(1);
    let started = Instant::now();
    for i in 0..300 {
        let v = format!("v{i}");
        futures.push((v.clone(), send(&p, &topic, Some(format!("k{}", i % 17)), v)));
    }
    let acked = all_acked(futures, Duration::from_secs(20));
    let took = started.elapsed();
    let st = proxy.stats();
    assert_eq!(st.blackholed, 1);
    let swallowed: Vec<_> = st
        .exchanges
        .iter()
        .filter(|e| e.fate == Fate::Blackholed)
        .collect();
    assert_eq!(swallowed.len(), 1);
    // Every batch of the swallowed request went out again under the same producer id, epoch
    // and sequence, and the broker took it.
    for b in ids(swallowed[0]) {
        let retried = st.exchanges.iter().any(|e| {
            e.fate == Fate::Answered
                && e.batches.iter().any(|x| {
                    (
                        x.partition,
                        x.producer_id,
                        x.producer_epoch,
                        x.base_sequence,
                    ) == b
                        && x.error_code == Some(ErrorCode::NONE)
                })
        });
        assert!(
            retried,
            "batch {b:?} of the swallowed request was not retried and taken"
        );
    }
    assert!(
        took >= Duration::from_millis(1900),
        "the retry cannot come before request.timeout.ms ({took:?})"
    );
    eprintln!(
        "blackhole: {} Produce requests, {} stalled behind the swallowed one, all {} acked in {took:?}",
        st.requests_of(produce::API_KEY),
        st.stalled,
        acked.len()
    );
    assert_log_is_exactly(&p, &bs, &topic, 3, &acked);
    p.close(Duration::from_secs(5));
}

/// A Produce response is lost after the broker wrote the batch: the producer retries, the
/// broker recognises the sequence as a duplicate and answers with the original offset, and the
/// log holds the records once, at the offsets send() reported.
#[test]
fn a_lost_produce_response_is_retried_and_deduplicated_by_the_broker() {
    lost_response_deduplicated(&support::bootstrap());
}

/// Idempotence on every older broker (`KAFKA_COMPAT_BROKERS`): the retry of a batch whose
/// answer was lost is recognised by the broker as a duplicate.
#[test]
fn a_lost_produce_response_is_deduplicated_by_every_compat_broker() {
    support::each_compat_broker(|b| lost_response_deduplicated(&b.bootstrap));
}

fn lost_response_deduplicated(bs: &str) {
    let bs = bs.to_string();
    let topic = support::unique_topic("proxy-lostresp");
    support::create_topic(&bs, &topic, 3, 1, &[]);
    let proxy = Proxy::start(&bs);
    let p = producer(
        &proxy.bootstrap(),
        &[
            ("request.timeout.ms", "2000"),
            ("delivery.timeout.ms", "20000"),
            ("linger.ms", "5"),
        ],
    );
    let mut futures = Vec::new();
    for part in 0..3 {
        let v = format!("warm-{part}");
        let f = p
            .send(ProducerRecord::new(topic.clone(), None, Some(v.clone())).with_partition(part))
            .unwrap();
        f.get_timeout(Duration::from_secs(15)).expect("warm-up");
        futures.push((v, f));
    }

    proxy.drop_produce_responses(1);
    for i in 0..300 {
        let v = format!("v{i}");
        futures.push((v.clone(), send(&p, &topic, Some(format!("k{}", i % 17)), v)));
    }
    let acked = all_acked(futures, Duration::from_secs(20));
    let st = proxy.stats();
    assert_eq!(st.responses_dropped, 1);
    let dropped: Vec<_> = st
        .exchanges
        .iter()
        .filter(|e| e.fate == Fate::ResponseDropped)
        .collect();
    assert!(!dropped.is_empty());
    // The first dropped answer was a success: the broker has those batches. Their retry was
    // answered as a duplicate, with the same base offset.
    let first = dropped[0];
    let mut deduplicated = 0;
    for b in &first.batches {
        assert_eq!(b.error_code, Some(ErrorCode::NONE), "{b:?}");
        let offset = b.base_offset.expect("answered");
        let retry = st
            .exchanges
            .iter()
            .filter(|e| e.fate == Fate::Answered)
            .flat_map(|e| &e.batches)
            .find(|x| {
                (
                    x.partition,
                    x.producer_id,
                    x.producer_epoch,
                    x.base_sequence,
                ) == (
                    b.partition,
                    b.producer_id,
                    b.producer_epoch,
                    b.base_sequence,
                )
            })
            .unwrap_or_else(|| panic!("batch {b:?} whose answer was lost was never retried"));
        assert_eq!(retry.error_code, Some(ErrorCode::NONE));
        assert_eq!(
            retry.base_offset,
            Some(offset),
            "the broker answered the retry of {b:?} with another offset: it wrote it twice"
        );
        deduplicated += 1;
        // What send() reported for that batch is the offset the broker first wrote it at.
        let reported: Vec<i64> = acked
            .values()
            .filter(|m| {
                m.partition == b.partition
                    && m.offset >= offset
                    && m.offset < offset + i64::from(b.record_count)
            })
            .map(|m| m.offset)
            .collect();
        assert_eq!(
            reported.len(),
            b.record_count as usize,
            "{b:?}: {reported:?}"
        );
    }
    eprintln!(
        "lost response: {deduplicated} batches deduplicated on retry; {} answers stalled behind the lost one",
        st.responses_stalled
    );
    assert_log_is_exactly(&p, &bs, &topic, 3, &acked);
    p.close(Duration::from_secs(5));
}

/// KIP-360 for real: a batch is swallowed until its delivery.timeout.ms passes, so it fails
/// with an unknown outcome and its sequence can neither be reused nor skipped. The producer
/// bumps its epoch and restarts the partition at sequence 0: later records succeed (without
/// the bump every later batch would be refused OUT_OF_ORDER_SEQUENCE_NUMBER) and the log
/// holds exactly the acknowledged records.
#[test]
fn a_batch_failed_with_unknown_outcome_is_followed_by_an_epoch_bump_and_later_records_succeed() {
    epoch_bump_after_unknown_outcome(&support::bootstrap());
}

/// The epoch bump (KIP-360, InitProducerId with the current producer id and epoch) on every
/// older broker (`KAFKA_COMPAT_BROKERS`).
#[test]
fn the_epoch_bump_after_an_unknown_outcome_works_on_every_compat_broker() {
    support::each_compat_broker(|b| epoch_bump_after_unknown_outcome(&b.bootstrap));
}

fn epoch_bump_after_unknown_outcome(bs: &str) {
    let bs = bs.to_string();
    let topic = support::unique_topic("proxy-epoch");
    support::create_topic(&bs, &topic, 1, 1, &[]);
    let proxy = Proxy::start(&bs);
    let p = producer(
        &proxy.bootstrap(),
        &[
            ("linger.ms", "0"),
            ("request.timeout.ms", "1000"),
            ("delivery.timeout.ms", "2500"),
        ],
    );
    // The broker learns this producer's sequences for the partition.
    let mut acked = HashMap::new();
    for i in 0..5 {
        let v = format!("before-{i}");
        let md = send(&p, &topic, None, v.clone())
            .get_timeout(Duration::from_secs(15))
            .expect("before the fault");
        assert_eq!(md.offset, i);
        acked.insert(v, md);
    }
    let warm = proxy.stats();
    let (pid, epoch) = warm
        .exchanges
        .iter()
        .flat_map(|e| &e.batches)
        .map(|b| (b.producer_id, b.producer_epoch))
        .next_back()
        .expect("a Produce went through");
    assert!(pid >= 0, "idempotence is on by default");

    // Swallow the partition's Produce requests, retries included, until the batch expires.
    proxy.blackhole_produce(usize::MAX);
    let t = Instant::now();
    let err = send(&p, &topic, None, "lost".into())
        .get_timeout(Duration::from_secs(10))
        .expect_err("a batch the broker never sees cannot be acknowledged");
    let took = t.elapsed();
    match &err {
        Error::DeliveryTimeout { delivery, .. } => assert_eq!(*delivery, Delivery::Unknown),
        e => panic!("expected DeliveryTimeout, got {e:?}"),
    }
    // Not the Java bound (an answer by delivery.timeout.ms): a batch in flight is failed only
    // when its request times out, so the answer can come up to request.timeout.ms late
    // (about 3.3 s here).
    assert!(
        took >= Duration::from_millis(2400) && took < Duration::from_secs(6),
        "failed after {took:?} with delivery.timeout.ms=2500"
    );
    let during = proxy.stats();
    assert!(during.blackholed >= 1);
    assert!(
        !during.exchanges.iter().any(|e| matches!(
            e.fate,
            Fate::Answered | Fate::InFlight | Fate::ResponseDropped | Fate::Lost
        ) && e.batches.iter().any(|b| b.base_sequence == 5)),
        "the lost batch reached the broker"
    );
    proxy.pass();

    for i in 0..5 {
        let v = format!("after-{i}");
        let md = send(&p, &topic, None, v.clone())
            .get_timeout(Duration::from_secs(15))
            .unwrap_or_else(|e| panic!("record {v} after the epoch bump failed: {e}"));
        assert_eq!(md.offset, 5 + i, "{v}");
        acked.insert(v, md);
    }
    let st = proxy.stats();
    // The first batch forwarded after the fault: the next epoch of the same id, sequence 0.
    let after: Vec<_> = st.exchanges[during.exchanges.len()..]
        .iter()
        .flat_map(|e| e.batches.iter().map(move |b| (e.fate, b)))
        .collect();
    let (_, first) = after.first().expect("batches after the fault");
    assert_eq!(
        (first.producer_id, first.producer_epoch, first.base_sequence),
        (pid, epoch + 1, 0),
        "the partition restarts at sequence 0 under a bumped epoch"
    );
    assert_eq!(
        st.produce_errors(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
        0,
        "the broker refused a sequence"
    );
    eprintln!(
        "epoch bump: lost batch failed after {took:?} ({} swallowed attempts); epoch {epoch} -> {}",
        during.blackholed + during.stalled,
        first.producer_epoch
    );
    assert_log_is_exactly(&p, &bs, &topic, 1, &acked);
    p.close(Duration::from_secs(5));
}

/// Connections are reset several times while 20 000 records stream out (with requests in
/// flight at each reset): every record is acknowledged and in the log exactly once.
#[test]
fn connection_resets_mid_stream_lose_nothing_and_write_nothing_twice() {
    const N: usize = 20_000;
    let bs = support::bootstrap();
    let topic = support::unique_topic("proxy-reset");
    support::create_topic(&bs, &topic, 3, 1, &[]);
    let proxy = Proxy::start(&bs);
    let p = producer(
        &proxy.bootstrap(),
        &[
            ("request.timeout.ms", "5000"),
            ("delivery.timeout.ms", "25000"),
            ("linger.ms", "5"),
            ("batch.size", "4096"),
        ],
    );
    // Requests stay in flight a little longer, so a reset finds some.
    proxy.delay(Duration::from_millis(3));
    let mut futures = Vec::with_capacity(N);
    let mut lost = 0;
    let mut resets = 0;
    for i in 0..N {
        let v = format!("v{i}");
        futures.push((
            v.clone(),
            send(&p, &topic, Some(format!("k{}", i % 101)), v),
        ));
        if i > 0 && i % 4000 == 0 {
            for _ in 0..5 {
                assert!(
                    proxy.wait_until(Duration::from_secs(10), |s| s.produce_in_flight() > 0),
                    "no Produce request in flight after {i} sends"
                );
                let n = proxy.reset_all();
                resets += 1;
                if n > 0 {
                    lost += n;
                    break;
                }
            }
        }
    }
    let acked = all_acked(futures, Duration::from_secs(25));
    let st = proxy.stats();
    assert!(resets >= 4);
    assert!(
        lost >= 4,
        "only {lost} Produce requests were in flight at the resets"
    );
    assert!(
        st.connections > 4,
        "the producer reconnected after each reset"
    );
    let lost_exchanges = st.exchanges.iter().filter(|e| e.fate == Fate::Lost).count();
    eprintln!(
        "resets: {resets} resets, {lost} Produce requests in flight at them ({lost_exchanges} lost), {} connections, {} Produce requests, {} acked",
        st.connections,
        st.requests_of(produce::API_KEY),
        acked.len()
    );
    assert_log_is_exactly(&p, &bs, &topic, 3, &acked);
    p.close(Duration::from_secs(5));
}

/// The proxy itself: Metadata is rewritten to the proxy, everything else passes, and dropping
/// it closes the connections it carried.
#[test]
fn the_proxy_rewrites_metadata_and_stops_when_dropped() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("proxy-basic");
    support::create_topic(&bs, &topic, 1, 1, &[]);
    let proxy = Proxy::start(&bs);
    let p = producer(
        &proxy.bootstrap(),
        &[
            ("linger.ms", "0"),
            ("request.timeout.ms", "2000"),
            ("delivery.timeout.ms", "4000"),
        ],
    );
    let md = send(&p, &topic, None, "one".into())
        .get_timeout(Duration::from_secs(15))
        .expect("through the proxy");
    assert_eq!(md.offset, 0);
    let st = proxy.stats();
    assert!(st.metadata_rewritten >= 1);
    assert_eq!(st.metadata_undecodable, 0);
    assert!(st.requests_of(produce::API_KEY) >= 1);
    drop(proxy);
    // The proxy is gone: its connections were closed and its port refuses; the next record
    // cannot be delivered and fails by its delivery timeout, not written.
    let err = send(&p, &topic, None, "two".into())
        .get_timeout(Duration::from_secs(10))
        .expect_err("no broker behind a dropped proxy");
    assert!(matches!(err, Error::DeliveryTimeout { .. }), "{err:?}");
    p.close(Duration::ZERO);
}

#[test]
fn an_idle_connection_is_closed_after_connections_max_idle_and_reopened_by_the_next_send() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("proxy-idle");
    support::create_topic(&bs, &topic, 1, 1, &[]);
    let proxy = Proxy::start(&bs);
    let p = producer(
        &proxy.bootstrap(),
        &[("linger.ms", "0"), ("connections.max.idle.ms", "1500")],
    );
    let first = send(&p, &topic, None, "before-idle".into())
        .get_timeout(Duration::from_secs(15))
        .expect("first record");
    let opened = proxy.stats().connections;
    // Nothing is sent for three idle periods: the connection to the broker is closed (the
    // metadata refresh, every 5 min by default, does not come in between).
    std::thread::sleep(Duration::from_millis(4500));
    assert_eq!(
        proxy.stats().connections,
        opened,
        "nothing reconnected while idle"
    );
    let second = send(&p, &topic, None, "after-idle".into())
        .get_timeout(Duration::from_secs(15))
        .expect("second record, on a new connection");
    assert_eq!(second.offset, first.offset + 1);
    assert!(
        proxy.stats().connections > opened,
        "the next send opened a new connection ({} before, {} now)",
        opened,
        proxy.stats().connections
    );
    p.close(Duration::from_secs(5));
    let read = support::consume(&bs, &topic, 2, 20_000);
    let values: Vec<_> = read.iter().map(|c| c.value.clone()).collect();
    assert_eq!(values.len(), 2, "{values:?}");
}

/// With `PROXY_DEBUG` set, the producer's log (debug and up) goes to stderr, beside the
/// proxy's connection events.
struct StderrLog;
impl log::Log for StderrLog {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Debug
    }
    fn log(&self, r: &log::Record) {
        eprintln!(
            "{:?} {} {}: {}",
            std::time::SystemTime::now(),
            r.level(),
            r.target(),
            r.args()
        );
    }
    fn flush(&self) {}
}

/// A Metadata answer lost with its connection, then one swallowed (the client times out), are
/// asked again: the first record still lands once. (Also checks the proxy's
/// `fail_answers_of`, which the transaction tests use for EndTxn.)
#[test]
fn lost_and_swallowed_metadata_answers_are_asked_again() {
    use support::proxy::AnswerFault;
    let bs = support::bootstrap();
    let topic = support::unique_topic("proxy-metadata-lost");
    support::create_topic(&bs, &topic, 1, 1, &[]);
    let proxy = Proxy::start(&bs);
    let metadata = kafka_sync::protocol::metadata::API_KEY;
    proxy.fail_answers_of(metadata, 1, AnswerFault::Reset);
    let p = producer(
        &proxy.bootstrap(),
        &[("request.timeout.ms", "1500"), ("linger.ms", "0")],
    );
    let md = send(&p, &topic, None, "after a reset".into())
        .get_timeout(Duration::from_secs(20))
        .expect("delivered after the reset");
    assert_eq!(proxy.stats().answers_failed.get(&metadata), Some(&1));
    // A topic this producer has not asked about yet needs a fresh Metadata answer.
    let other = support::unique_topic("proxy-metadata-swallowed");
    support::create_topic(&bs, &other, 1, 1, &[]);
    proxy.fail_answers_of(metadata, 1, AnswerFault::Swallow);
    let started = Instant::now();
    let md2 = send(&p, &other, None, "after a timeout".into())
        .get_timeout(Duration::from_secs(20))
        .expect("delivered after the timeout");
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "the swallowed answer was waited for: {:?}",
        started.elapsed()
    );
    assert_eq!(proxy.stats().answers_failed.get(&metadata), Some(&2));
    assert_eq!((md.offset, md2.offset), (0, 0));
    let read = support::consume(&bs, &topic, 1, 20_000);
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].value, "after a reset");
}

//! The sender's error handling against a scripted mock broker (tests/support/mock_broker.rs):
//! broker answers a real broker cannot be made to give on demand. No real Kafka is needed.

mod support;

use kafka_sync::protocol::{init_producer_id, metadata, produce, ErrorCode};
use kafka_sync::{Delivery, Error, Producer, ProducerConfig, ProducerRecord, SendFuture};
use std::time::{Duration, Instant};
use support::mock_broker::{Action, MockBroker};

const T: &str = "mock-topic";

/// A producer on the mock with short timeouts: request.timeout.ms=1000, retry.backoff.ms=20,
/// linger.ms=0, delivery.timeout.ms=5000 (>= linger + request timeout, as Java requires).
fn producer(mock: &MockBroker, extra: &[(&str, &str)]) -> Producer<String, String> {
    let mut b = ProducerConfig::builder()
        .bootstrap_servers(mock.bootstrap())
        .set("linger.ms", "0")
        .set("request.timeout.ms", "1000")
        .set("delivery.timeout.ms", "5000")
        .set("retry.backoff.ms", "20")
        .set("retry.backoff.max.ms", "100")
        .set("reconnect.backoff.ms", "20")
        .set("reconnect.backoff.max.ms", "100")
        .set("max.block.ms", "5000");
    for (k, v) in extra {
        b = b.set(*k, *v);
    }
    Producer::new(b.build().expect("valid config")).expect("producer")
}

fn record(partition: i32, value: &str) -> ProducerRecord<String, String> {
    ProducerRecord::new(T, None, Some(value.to_string())).with_partition(partition)
}

/// The answer of a future, bounded so a bug fails the test instead of hanging it.
fn answer(f: &SendFuture) -> Result<kafka_sync::RecordMetadata, Error> {
    match f.get_timeout(Duration::from_secs(8)) {
        Err(Error::WaitTimeout) => panic!("no answer within 8 s"),
        r => r,
    }
}

fn values(mock: &MockBroker, partition: i32) -> Vec<String> {
    mock.log(T, partition)
        .into_iter()
        .map(|r| r.value.unwrap_or_default())
        .collect()
}

#[test]
fn retriable_error_then_success_keeps_the_sequence_and_refreshes_metadata() {
    let mock = MockBroker::start(&[(T, 1)]);
    mock.push_action(T, 0, Action::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    let p = producer(&mock, &[]);
    let md = answer(&p.send(record(0, "v")).unwrap()).expect("acknowledged after the retry");
    assert_eq!((md.partition, md.offset), (0, 0));

    let attempts = mock.produced(T, 0);
    assert_eq!(
        attempts.len(),
        2,
        "one failed attempt, one retry: {attempts:?}"
    );
    assert!(attempts[0].producer_id >= 0);
    assert_eq!(attempts[0].producer_id, attempts[1].producer_id);
    assert_eq!(attempts[0].base_sequence, 0);
    assert_eq!(attempts[1].base_sequence, 0, "a retry keeps its sequence");
    assert_eq!(values(&mock, 0), ["v"]);

    // NOT_LEADER_OR_FOLLOWER asks for fresh metadata before the retry goes out.
    let reqs = mock.requests();
    let produce_at: Vec<usize> = (0..reqs.len())
        .filter(|&i| reqs[i].api_key == produce::API_KEY)
        .collect();
    assert!(
        reqs[produce_at[0] + 1..produce_at[1]]
            .iter()
            .any(|r| r.api_key == metadata::API_KEY),
        "no Metadata request between the failed attempt and the retry"
    );
}

#[test]
fn non_retriable_errors_fail_at_once_and_the_partition_keeps_working() {
    let cases = [
        (
            Action::RecordError(ErrorCode::INVALID_RECORD, "record 0 has no key".into()),
            ErrorCode::INVALID_RECORD,
            Some("record 0 has no key"),
        ),
        (
            Action::Error(ErrorCode::MESSAGE_TOO_LARGE),
            ErrorCode::MESSAGE_TOO_LARGE,
            None,
        ),
        (
            Action::Error(ErrorCode::TOPIC_AUTHORIZATION_FAILED),
            ErrorCode::TOPIC_AUTHORIZATION_FAILED,
            None,
        ),
    ];
    for (action, code, text) in cases {
        let mock = MockBroker::start(&[(T, 1)]);
        let p = producer(&mock, &[]);
        // A first record, so the broker knows the producer's sequence on the partition.
        answer(&p.send(record(0, "before")).unwrap()).expect("first record");
        mock.push_action(T, 0, action);
        let err = answer(&p.send(record(0, "rejected")).unwrap()).expect_err("rejected");
        match &err {
            Error::Broker {
                code: c, message, ..
            } => {
                assert_eq!(*c, code, "{err}");
                if let Some(t) = text {
                    assert!(message.as_deref().unwrap_or("").contains(t), "{err}");
                }
            }
            other => panic!("expected Error::Broker({code}), got {other:?}"),
        }
        assert_eq!(err.delivery(), Delivery::NotWritten, "{err}");
        assert_eq!(mock.produced(T, 0).len(), 2, "no retry for {code}");

        // The rejected batch left no hole in the sequence: later records are written.
        let md = answer(&p.send(record(0, "after")).unwrap())
            .unwrap_or_else(|e| panic!("record after a {code} rejection: {e}"));
        assert_eq!(md.offset, 1);
        assert_eq!(values(&mock, 0), ["before", "after"]);
    }
}

#[test]
fn request_timeout_disconnects_and_the_retry_is_deduplicated() {
    let mock = MockBroker::start(&[(T, 1)]);
    // The broker appends, but answers after request.timeout.ms (1 s).
    mock.push_action(T, 0, Action::Delay(Duration::from_millis(2500)));
    let p = producer(&mock, &[]);
    let started = Instant::now();
    let md = answer(&p.send(record(0, "slow")).unwrap()).expect("acknowledged");
    assert!(started.elapsed() >= Duration::from_millis(1000));
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "the producer waited for the late answer instead of timing out"
    );
    assert_eq!(md.offset, 0, "the original offset");
    let attempts = mock.produced(T, 0);
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0].base_sequence, attempts[1].base_sequence);
    let produces = mock.requests_of(produce::API_KEY);
    assert_ne!(
        produces[0].connection, produces[1].connection,
        "the retry must go out on a new connection"
    );
    // The timeout is noticed when it falls due, not at the next 1 s poll period.
    let gap = produces[1].at - produces[0].at;
    assert!(gap < Duration::from_millis(1800), "retry after {gap:?}");
    assert_eq!(values(&mock, 0), ["slow"], "written exactly once");
}

#[test]
fn request_timeout_past_delivery_timeout_fails_as_unknown() {
    let mock = MockBroker::start(&[(T, 1)]);
    mock.push_action(T, 0, Action::NoAnswer);
    let p = producer(&mock, &[("delivery.timeout.ms", "1000")]);
    let err = answer(&p.send(record(0, "hung")).unwrap()).expect_err("times out");
    assert!(
        matches!(err, Error::DeliveryTimeout { .. }),
        "expected DeliveryTimeout, got {err:?}"
    );
    assert_eq!(err.delivery(), Delivery::Unknown, "the request went out");
    // It was in fact written: Unknown was the right answer.
    assert_eq!(values(&mock, 0), ["hung"]);
}

#[test]
fn connection_dropped_after_read_retry_is_deduplicated_with_the_original_offset() {
    let mock = MockBroker::start(&[(T, 1)]);
    let p = producer(&mock, &[]);
    answer(&p.send(record(0, "first")).unwrap()).expect("first");
    mock.push_action(T, 0, Action::DropConnectionAfterRead);
    let md = answer(&p.send(record(0, "second")).unwrap()).expect("acknowledged after retry");
    assert_eq!(md.offset, 1, "the offset the broker gave the first attempt");
    let attempts = mock.produced(T, 0);
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert_eq!(attempts[1].base_sequence, 1);
    assert_eq!(attempts[2].base_sequence, 1);
    assert_eq!(
        values(&mock, 0),
        ["first", "second"],
        "written exactly once"
    );
}

#[test]
fn retries_exhausted_by_delivery_timeout() {
    let mock = MockBroker::start(&[(T, 1)]);
    mock.fail_always(T, 0, Some(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    let p = producer(&mock, &[("delivery.timeout.ms", "1200")]);
    let started = Instant::now();
    let err = answer(&p.send(record(0, "never")).unwrap()).expect_err("gives up");
    let elapsed = started.elapsed();
    match &err {
        Error::DeliveryTimeout { last_error, .. } => {
            let last = last_error.as_deref().unwrap_or("");
            assert!(
                last.contains("NOT_LEADER_OR_FOLLOWER"),
                "last_error: {last:?}"
            );
        }
        other => panic!("expected DeliveryTimeout, got {other:?}"),
    }
    // Expired between attempts (all refused so far): certainly not written. Expired while an
    // attempt was in flight: not known at that moment, so `Unknown` (as Java's in-flight
    // expiry). Either way the broker refused every attempt, which the sender learns from the
    // last answer: that is what lets it reuse the sequence below.
    assert!(
        matches!(err.delivery(), Delivery::NotWritten | Delivery::Unknown),
        "{err:?}"
    );
    assert!(elapsed >= Duration::from_millis(1150), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    let tries = mock.produced(T, 0).len();
    assert!(tries >= 3, "it retried meanwhile");
    assert!(mock.log(T, 0).is_empty());
    mock.fail_always(T, 0, None);
    let md = answer(&p.send(record(0, "later")).unwrap()).unwrap();
    let log = values(&mock, 0);
    assert_eq!(
        log.get(md.offset as usize).map(String::as_str),
        Some("later"),
        "{log:?}"
    );
    assert!(log.iter().filter(|v| *v == "never").count() <= 1, "{log:?}");
    if err.delivery() == Delivery::NotWritten {
        // Expired while queued: it is not in the log, and its refused sequence is reused —
        // the next record goes out as sequence 0 and lands at offset 0.
        assert!(!log.iter().any(|v| v == "never"), "{log:?}");
        assert_eq!(md.offset, 0);
        assert_eq!(mock.produced(T, 0)[tries].base_sequence, 0);
    }
}

#[test]
fn retries_zero_without_idempotence_fails_at_once() {
    let mock = MockBroker::start(&[(T, 1)]);
    mock.push_action(T, 0, Action::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    let p = producer(&mock, &[("retries", "0"), ("enable.idempotence", "false")]);
    let err = answer(&p.send(record(0, "once")).unwrap()).expect_err("no retry");
    match &err {
        Error::Broker { code, .. } => assert_eq!(*code, ErrorCode::NOT_LEADER_OR_FOLLOWER),
        other => panic!("expected Error::Broker, got {other:?}"),
    }
    assert_eq!(err.delivery(), Delivery::NotWritten);
    let attempts = mock.produced(T, 0);
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].producer_id, -1, "not idempotent");
    assert!(mock.requests_of(init_producer_id::API_KEY).is_empty());
}

#[test]
fn five_in_flight_first_fails_later_out_of_order_all_land_in_order() {
    let mock = MockBroker::start(&[(T, 1)]);
    // batch.size tiny: every record is its own batch, so each goes in its own request.
    let p = producer(&mock, &[("batch.size", "1")]);
    answer(&p.send(record(0, "r0")).unwrap()).expect("first record");
    // The next batch (sequence 1) is held until 5 more Produce requests arrived in all, then
    // refused NOT_LEADER_OR_FOLLOWER; the broker, still expecting sequence 1, answers the
    // four after it OUT_OF_ORDER_SEQUENCE_NUMBER.
    mock.push_action(
        T,
        0,
        Action::HoldUntil(
            6,
            Box::new(Action::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER)),
        ),
    );
    let started = Instant::now();
    let futures: Vec<SendFuture> = (1..=5)
        .map(|i| p.send(record(0, &format!("r{i}"))).unwrap())
        .collect();
    let offsets: Vec<i64> = futures
        .iter()
        .map(|f| answer(f).expect("acknowledged").offset)
        .collect();
    assert_eq!(offsets, [1, 2, 3, 4, 5], "offsets follow send order");
    assert_eq!(values(&mock, 0), ["r0", "r1", "r2", "r3", "r4", "r5"]);

    let attempts = mock.produced(T, 0);
    let first_round: Vec<i32> = attempts[1..6].iter().map(|b| b.base_sequence).collect();
    assert_eq!(
        first_round,
        [1, 2, 3, 4, 5],
        "five batches in flight at once"
    );
    let seqs: Vec<i32> = attempts[6..].iter().map(|b| b.base_sequence).collect();
    assert_eq!(
        seqs,
        [1, 2, 3, 4, 5],
        "retried once each, in sequence order"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn init_producer_id_retries_coordinator_load_in_progress() {
    let mock = MockBroker::start(&[(T, 1)]);
    mock.push_init_producer_id_error(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
    mock.push_init_producer_id_error(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
    let p = producer(&mock, &[]);
    let md = answer(&p.send(record(0, "v")).unwrap()).expect("delivered");
    assert_eq!(md.offset, 0);
    assert_eq!(mock.requests_of(init_producer_id::API_KEY).len(), 3);
    let attempts = mock.produced(T, 0);
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        attempts[0].producer_id, 1000,
        "the id from the third answer"
    );
    assert_eq!(values(&mock, 0), ["v"]);
}

#[test]
fn acks_zero_resolves_without_an_answer() {
    let mock = MockBroker::start(&[(T, 1)]);
    let p = producer(&mock, &[("acks", "0")]);
    let futures: Vec<SendFuture> = (0..3)
        .map(|i| p.send(record(0, &format!("a{i}"))).unwrap())
        .collect();
    for f in &futures {
        let md = answer(f).expect("resolved");
        assert_eq!(md.offset, -1);
    }
    assert!(mock.wait_for(Duration::from_secs(5), |reqs| {
        reqs.iter()
            .filter(|r| r.api_key == produce::API_KEY)
            .flat_map(|r| &r.batches)
            .map(|b| b.record_count)
            .sum::<i32>()
            == 3
    }));
    assert!(mock
        .requests_of(produce::API_KEY)
        .iter()
        .all(|r| r.acks == 0));
    assert_eq!(values(&mock, 0), ["a0", "a1", "a2"]);
}

#[test]
fn hostile_answers_drop_the_connection_and_the_retry_lands_once() {
    // A Produce response that is: a frame claiming ~2 GiB, a negative size, a frame with
    // the wrong correlation id, and a well-framed body of garbage.
    let wrong_correlation = {
        let mut f = vec![0, 0, 0, 8];
        f.extend_from_slice(&0x0bad_cafe_i32.to_be_bytes());
        f.extend_from_slice(&[0; 4]);
        f
    };
    let cases = [
        (
            "huge frame",
            Action::RawResponse(vec![0x7f, 0xff, 0xff, 0xff, 1, 2, 3]),
        ),
        (
            "negative size",
            Action::RawResponse(vec![0xff, 0xff, 0xff, 0xfe]),
        ),
        (
            "wrong correlation id",
            Action::RawResponse(wrong_correlation),
        ),
        ("garbage body", Action::GarbageBody(vec![0xff; 7])),
        ("empty body", Action::GarbageBody(Vec::new())),
    ];
    for (name, action) in cases {
        let mock = MockBroker::start(&[(T, 1)]);
        let p = producer(&mock, &[]);
        mock.push_action(T, 0, action);
        let md =
            answer(&p.send(record(0, "x")).unwrap()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(md.offset, 0, "{name}");
        let produces = mock.requests_of(produce::API_KEY);
        assert_eq!(produces.len(), 2, "{name}: one retry");
        assert_ne!(
            produces[0].connection, produces[1].connection,
            "{name}: the connection was dropped"
        );
        assert_eq!(values(&mock, 0), ["x"], "{name}: written once");
    }
}

#[test]
fn refused_batch_with_later_batches_in_flight_renumbers_them() {
    let mock = MockBroker::start(&[(T, 1)]);
    let p = producer(&mock, &[("batch.size", "1")]);
    answer(&p.send(record(0, "r0")).unwrap()).expect("first record");
    // Sequence 1 is held until 3 more requests arrived, then refused for good; sequences 2
    // and 3, in flight behind it, are refused OUT_OF_ORDER by the broker (it expects 1).
    mock.push_action(
        T,
        0,
        Action::HoldUntil(
            4,
            Box::new(Action::RecordError(ErrorCode::INVALID_RECORD, "bad".into())),
        ),
    );
    let futures: Vec<SendFuture> = (1..=3)
        .map(|i| p.send(record(0, &format!("r{i}"))).unwrap())
        .collect();
    let err = answer(&futures[0]).expect_err("refused");
    assert_eq!(err.delivery(), Delivery::NotWritten);
    let offsets: Vec<i64> = futures[1..]
        .iter()
        .map(|f| answer(f).expect("delivered after renumbering").offset)
        .collect();
    assert_eq!(offsets, [1, 2]);
    assert_eq!(values(&mock, 0), ["r0", "r2", "r3"]);
    let seqs: Vec<i32> = mock
        .produced(T, 0)
        .iter()
        .map(|b| b.base_sequence)
        .collect();
    assert_eq!(
        seqs,
        [0, 1, 2, 3, 1, 2],
        "r2 and r3 resent as sequences 1 and 2"
    );
    // And the partition goes on from there.
    assert_eq!(answer(&p.send(record(0, "r4")).unwrap()).unwrap().offset, 3);
    assert_eq!(mock.produced(T, 0).last().unwrap().base_sequence, 3);
}

/// A partition that vanished from metadata (the topic shrank) while a batch for it is queued:
/// the sender must not ask for metadata at every turn. Before the fix each turn that saw the
/// orphan batch asked again (the refresh succeeded, so no backoff applied): with traffic on
/// other partitions, a Metadata request for about every Produce request.
#[test]
fn a_vanished_partition_does_not_spin_metadata_requests() {
    let mock = MockBroker::start(&[(T, 2)]);
    let p = producer(
        &mock,
        &[
            ("retry.backoff.ms", "100"),
            ("retry.backoff.max.ms", "1000"),
            ("metadata.max.age.ms", "200"),
        ],
    );
    answer(&p.send(record(1, "first")).unwrap()).expect("written");
    // Shrink the topic, then queue a batch for partition 1 before the sender learns of it.
    mock.set_partitions(T, 1);
    let f = p.send(record(1, "orphan")).unwrap();
    assert!(
        mock.wait_for(Duration::from_secs(3), |r| r
            .iter()
            .filter(|r| r.api_key == metadata::API_KEY)
            .count()
            >= 4),
        "metadata refreshed"
    );
    // Traffic on the partition that still exists keeps the sender turning.
    let before = mock.requests_of(metadata::API_KEY).len();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1000) {
        answer(&p.send(record(0, "busy")).unwrap()).expect("partition 0 works");
    }
    let during = mock.requests_of(metadata::API_KEY).len() - before;
    assert!(
        during <= 15,
        "{during} Metadata requests in 1 s for one unknown leader (retry.backoff.ms=100)"
    );
    let err = answer(&f).expect_err("the partition is gone");
    assert_eq!(err.delivery(), Delivery::NotWritten, "{err}");
}

/// An idempotent batch refused with a retriable error and then expired while waiting out its
/// retry backoff in the queue must not wedge its partition: later records are still sent.
/// Before the fix the partition stayed "retrying" forever and every later record timed out.
#[test]
fn a_retry_that_expires_in_the_queue_does_not_wedge_the_partition() {
    let mock = MockBroker::start(&[(T, 1)]);
    let p = producer(
        &mock,
        &[
            ("delivery.timeout.ms", "1500"),
            ("retry.backoff.ms", "4000"),
            ("retry.backoff.max.ms", "4000"),
        ],
    );
    answer(&p.send(record(0, "before")).unwrap()).expect("first record");
    mock.push_action(T, 0, Action::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    let err = answer(&p.send(record(0, "expires")).unwrap()).expect_err("expired in backoff");
    assert!(matches!(err, Error::DeliveryTimeout { .. }), "{err}");
    assert_eq!(mock.produced(T, 0).len(), 2, "no retry went out");
    let md = answer(&p.send(record(0, "after")).unwrap()).expect("the partition still works");
    assert_eq!(md.offset, 1);
    assert_eq!(values(&mock, 0), ["before", "after"]);
}

/// The last handle of a producer dropped inside a callback (on the sender thread) must not
/// deadlock: the sender cannot wait for itself. Before the fix `Drop` waited for the sender
/// thread to exit, from the sender thread, forever.
#[test]
fn dropping_the_last_handle_in_a_callback_does_not_deadlock() {
    let mock = MockBroker::start(&[(T, 1)]);
    let p = std::sync::Arc::new(producer(&mock, &[]));
    let (tx, rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let held = p.clone();
    let f = p
        .send_with_callback(record(0, "v"), move |r| {
            // Wait until the test thread dropped its handle: this one is the last.
            let _ = go_rx.recv_timeout(Duration::from_secs(5));
            drop(held);
            let _ = tx.send(r.is_ok());
        })
        .unwrap();
    drop(p);
    go_tx.send(()).unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)),
        Ok(true),
        "the callback did not finish: dropping the producer on its own sender thread hung"
    );
    assert!(answer(&f).is_ok());
    // The sender thread goes on closing: later the mock sees the connection close.
}

/// A refusal after an attempt that got no answer cannot promise "not written": the first
/// attempt may be in the log. The error says `Unknown`.
#[test]
fn a_refusal_after_an_unanswered_attempt_says_the_record_may_be_written() {
    let mock = MockBroker::start(&[(T, 1)]);
    let p = producer(&mock, &[]);
    answer(&p.send(record(0, "before")).unwrap()).expect("first record");
    // First attempt: the broker reads (and appends) the batch, then the connection drops.
    mock.push_action(T, 0, Action::DropConnectionAfterRead);
    // The retry is refused outright.
    mock.push_action(T, 0, Action::Error(ErrorCode::MESSAGE_TOO_LARGE));
    let err = answer(&p.send(record(0, "ambiguous")).unwrap()).expect_err("refused on retry");
    match &err {
        Error::Broker { code, delivery, .. } => {
            assert_eq!(*code, ErrorCode::MESSAGE_TOO_LARGE);
            assert_eq!(*delivery, Delivery::Unknown, "{err}");
        }
        other => panic!("expected Error::Broker, got {other:?}"),
    }
    assert_eq!(err.delivery(), Delivery::Unknown);
    // And indeed the mock wrote it on the first attempt.
    assert_eq!(values(&mock, 0), ["before", "ambiguous"]);
}

/// Metadata is refreshed every metadata.max.age.ms even when nothing asks for it, and only then.
#[test]
fn metadata_is_refreshed_at_metadata_max_age() {
    let mock = MockBroker::start(&[(T, 1)]);
    let p = producer(&mock, &[("metadata.max.age.ms", "300")]);
    answer(&p.send(record(0, "v")).unwrap()).expect("acknowledged");
    let at_first = mock.requests_of(metadata::API_KEY).len();
    // Five more periods: about five more refreshes, not a storm and not none.
    assert!(mock.wait_for(Duration::from_secs(5), |r| {
        r.iter().filter(|x| x.api_key == metadata::API_KEY).count() >= at_first + 5
    }));
    std::thread::sleep(Duration::from_millis(600));
    let total = mock.requests_of(metadata::API_KEY).len();
    assert!(
        total <= at_first + 5 + 4,
        "{total} Metadata requests: more than one per metadata.max.age.ms"
    );
}

/// (epoch, base sequence) of every Produce attempt of a partition.
fn epochs_and_sequences(mock: &MockBroker, partition: i32) -> Vec<(i16, i32)> {
    mock.produced(T, partition)
        .iter()
        .map(|b| (b.producer_epoch, b.base_sequence))
        .collect()
}

/// KIP-360: a batch the broker never got, left to expire after it was sent, may have been
/// written as far as the producer knows; its sequence can be neither reused nor skipped. The
/// partition bumps the epoch and restarts at sequence 0 instead of refusing every later
/// record OUT_OF_ORDER_SEQUENCE_NUMBER. Before the fix, "after" failed.
#[test]
fn an_expired_batch_the_broker_never_got_costs_an_epoch_bump_not_the_partition() {
    let mock = MockBroker::start(&[(T, 1)]);
    let p = producer(&mock, &[("delivery.timeout.ms", "1000")]);
    answer(&p.send(record(0, "before")).unwrap()).expect("first record");
    mock.push_action(T, 0, Action::Discard);
    let err = answer(&p.send(record(0, "lost")).unwrap()).expect_err("expires");
    assert!(matches!(err, Error::DeliveryTimeout { .. }), "{err:?}");
    assert_eq!(err.delivery(), Delivery::Unknown, "the request went out");

    let md = answer(&p.send(record(0, "after")).unwrap()).expect("the partition still works");
    assert_eq!(md.offset, 1);
    assert_eq!(values(&mock, 0), ["before", "after"]);
    let log = mock.log(T, 0);
    assert_eq!(log[0].producer_id, log[1].producer_id, "same producer id");
    assert_eq!((log[0].producer_epoch, log[0].sequence), (0, 0));
    assert_eq!(
        (log[1].producer_epoch, log[1].sequence),
        (1, 0),
        "the next epoch, from sequence 0"
    );
    let attempts = epochs_and_sequences(&mock, 0);
    assert_eq!(attempts.first(), Some(&(0, 0)));
    assert_eq!(attempts.last(), Some(&(1, 0)));
    assert!(
        attempts[1..attempts.len() - 1].iter().all(|&a| a == (0, 1)),
        "the lost batch only ever went out as epoch 0 sequence 1: {attempts:?}"
    );
    assert_eq!(
        mock.requests_of(init_producer_id::API_KEY).len(),
        1,
        "the epoch is bumped locally, as Java does for an idempotent producer"
    );
}

/// The same, but the broker did write the batch whose answer was lost: the next batch, in
/// flight behind it, is acknowledged at the next sequence, which proves it. No epoch bump, and
/// every record is in the log once.
#[test]
fn a_failed_batch_the_broker_did_write_is_proven_by_the_next_acknowledgement() {
    let mock = MockBroker::start(&[(T, 1)]);
    let p = producer(&mock, &[("batch.size", "1")]);
    answer(&p.send(record(0, "before")).unwrap()).expect("first record");
    // "unknown": written, answered after request.timeout.ms (1 s), so the connection is
    // closed with "next" in flight behind it (written too); then the retry of "unknown" is
    // refused for good. Its outcome stays unknown to the producer.
    mock.push_action(T, 0, Action::Delay(Duration::from_millis(1500)));
    mock.push_action(T, 0, Action::Delay(Duration::ZERO));
    mock.push_action(T, 0, Action::Error(ErrorCode::MESSAGE_TOO_LARGE));
    let unknown = p.send(record(0, "unknown")).unwrap();
    let next = p.send(record(0, "next")).unwrap();
    let err = answer(&unknown).expect_err("refused on retry");
    assert_eq!(err.delivery(), Delivery::Unknown, "{err}");
    assert_eq!(
        answer(&next).expect("deduplicated").offset,
        2,
        "the offset of its first attempt"
    );
    assert_eq!(
        answer(&p.send(record(0, "after")).unwrap()).unwrap().offset,
        3
    );
    assert_eq!(values(&mock, 0), ["before", "unknown", "next", "after"]);
    assert!(
        epochs_and_sequences(&mock, 0).iter().all(|&(e, _)| e == 0),
        "no epoch bump: {:?}",
        epochs_and_sequences(&mock, 0)
    );
    let seqs: Vec<i32> = mock.log(T, 0).iter().map(|r| r.sequence).collect();
    assert_eq!(seqs, [0, 1, 2, 3]);
}

/// UNKNOWN_PRODUCER_ID (the broker lost the producer's state): the batch is retried under the
/// next epoch from sequence 0, and lands once.
#[test]
fn unknown_producer_id_is_retried_under_a_new_epoch() {
    let mock = MockBroker::start(&[(T, 1)]);
    let p = producer(&mock, &[]);
    answer(&p.send(record(0, "before")).unwrap()).expect("first record");
    mock.push_action(T, 0, Action::UnknownProducerId);
    let md = answer(&p.send(record(0, "x")).unwrap()).expect("retried after the bump");
    assert_eq!(md.offset, 1);
    assert_eq!(values(&mock, 0), ["before", "x"]);
    assert_eq!(epochs_and_sequences(&mock, 0), [(0, 0), (0, 1), (1, 0)]);
    assert_eq!(mock.requests_of(init_producer_id::API_KEY).len(), 1);
}

/// An OUT_OF_ORDER_SEQUENCE_NUMBER that no earlier batch explains: the broker's sequence and
/// the producer's diverged. The batch is retried under the next epoch and lands once.
#[test]
fn an_unexplained_out_of_order_sequence_is_retried_under_a_new_epoch() {
    let mock = MockBroker::start(&[(T, 1)]);
    let p = producer(&mock, &[]);
    answer(&p.send(record(0, "before")).unwrap()).expect("first record");
    mock.push_action(T, 0, Action::Error(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER));
    let md = answer(&p.send(record(0, "x")).unwrap()).expect("retried after the bump");
    assert_eq!(md.offset, 1);
    assert_eq!(values(&mock, 0), ["before", "x"]);
    assert_eq!(epochs_and_sequences(&mock, 0), [(0, 0), (0, 1), (1, 0)]);
    // And the partition goes on under the new epoch.
    assert_eq!(answer(&p.send(record(0, "y")).unwrap()).unwrap().offset, 2);
    assert_eq!(epochs_and_sequences(&mock, 0).last(), Some(&(1, 1)));
}

/// INVALID_PRODUCER_EPOCH for a non-transactional producer: the batch fails with that error
/// (not written), and the producer takes a new producer id for what follows.
#[test]
fn invalid_producer_epoch_fails_the_batch_and_takes_a_new_producer_id() {
    let mock = MockBroker::start(&[(T, 1)]);
    let p = producer(&mock, &[]);
    answer(&p.send(record(0, "before")).unwrap()).expect("first record");
    mock.push_action(T, 0, Action::Error(ErrorCode::INVALID_PRODUCER_EPOCH));
    let err = answer(&p.send(record(0, "fenced")).unwrap()).expect_err("fails");
    match &err {
        Error::Broker { code, .. } => assert_eq!(*code, ErrorCode::INVALID_PRODUCER_EPOCH),
        other => panic!("expected Error::Broker(INVALID_PRODUCER_EPOCH), got {other:?}"),
    }
    assert_eq!(err.delivery(), Delivery::NotWritten);
    assert_eq!(mock.produced(T, 0).len(), 2, "not retried");
    let md = answer(&p.send(record(0, "after")).unwrap()).expect("under a new producer id");
    assert_eq!(md.offset, 1);
    assert_eq!(values(&mock, 0), ["before", "after"]);
    assert_eq!(mock.requests_of(init_producer_id::API_KEY).len(), 2);
    let log = mock.log(T, 0);
    assert_ne!(log[0].producer_id, log[1].producer_id);
    assert_eq!((log[1].producer_epoch, log[1].sequence), (0, 0));
}

/// Faults on three partitions at once, several batches in flight on each: every record is
/// answered exactly once, every acknowledged record is in the log once at its offset, and
/// each partition's log keeps send order.
#[test]
fn faults_on_three_partitions_every_record_answered_once_in_order() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let mock = MockBroker::start(&[(T, 3)]);
    let p = producer(&mock, &[("batch.size", "1")]);
    for part in 0..3 {
        answer(&p.send(record(part, &format!("p{part}-r0"))).unwrap()).expect("first record");
    }
    // p0: the broker loses the producer's state; p1: a sequence gap nothing explains; p2: the
    // first attempt is written but the connection drops, and the retry is refused for good.
    mock.push_action(T, 0, Action::UnknownProducerId);
    mock.push_action(T, 1, Action::Error(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER));
    mock.push_action(T, 2, Action::DropConnectionAfterRead);
    mock.push_action(T, 2, Action::Error(ErrorCode::MESSAGE_TOO_LARGE));
    let calls: Arc<Vec<AtomicUsize>> = Arc::new((0..15).map(|_| AtomicUsize::new(0)).collect());
    let mut futures = Vec::new();
    for i in 1..=5 {
        for part in 0..3 {
            let c = calls.clone();
            let slot = (part as usize) * 5 + i - 1;
            let f = p
                .send_with_callback(record(part, &format!("p{part}-r{i}")), move |_| {
                    c[slot].fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            futures.push((part, i, f));
        }
    }
    let mut acked: Vec<Vec<(i64, String)>> = vec![Vec::new(); 3];
    for (part, i, f) in &futures {
        let v = format!("p{part}-r{i}");
        match answer(f) {
            Ok(md) => acked[*part as usize].push((md.offset, v)),
            Err(e) => {
                assert_eq!((*part, *i), (2, 1), "only p2-r1 may fail: {v}: {e}");
                assert_eq!(e.delivery(), Delivery::Unknown, "{e}");
            }
        }
    }
    drop(p);
    for (slot, c) in calls.iter().enumerate() {
        assert_eq!(c.load(Ordering::SeqCst), 1, "callback of record {slot}");
    }
    for part in 0..3 {
        let log = values(&mock, part);
        let expected: Vec<String> = (0..=5).map(|i| format!("p{part}-r{i}")).collect();
        // p2-r1 was written by its first attempt (its answer was lost): in the log, once.
        assert_eq!(
            log, expected,
            "partition {part}: every record once, in send order"
        );
        for (offset, v) in &acked[part as usize] {
            assert_eq!(&log[*offset as usize], v, "partition {part}: offset of {v}");
        }
    }
    assert_eq!(acked.iter().map(Vec::len).sum::<usize>(), 14);
}

/// A new partition whose first two batches are refused NOT_LEADER_OR_FOLLOWER. A broker with
/// no state for the producer takes any sequence, so a third batch sent behind them would be
/// written first, and their retries after it (found against a real broker: records out of
/// order; and earlier, records reported written but missing, when their sequences were reused
/// for batches the broker then took for duplicates). The producer keeps one batch of the
/// partition in flight until the first is acknowledged: every record is written once, in the
/// order sent.
#[test]
fn refused_first_batches_hold_the_later_ones_back_and_all_land_in_order() {
    let mock = MockBroker::start(&[(T, 1)]);
    let p = producer(&mock, &[("batch.size", "1")]);
    mock.push_action(T, 0, Action::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    mock.push_action(T, 0, Action::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    let futures: Vec<SendFuture> = (0..8)
        .map(|i| p.send(record(0, &format!("r{i}"))).unwrap())
        .collect();
    let offsets: Vec<i64> = futures
        .iter()
        .map(|f| answer(f).expect("written").offset)
        .collect();
    let expected: Vec<String> = (0..8).map(|i| format!("r{i}")).collect();
    assert_eq!(values(&mock, 0), expected, "each once, in the order sent");
    assert_eq!(offsets, (0..8).collect::<Vec<i64>>());
}

/// The same with a refusal for good: on a new partition the first batch is refused
/// (MESSAGE_TOO_LARGE). The batches behind it were not sent meanwhile, so no sequence above
/// the hole is in the broker's log: they are renumbered from the hole and all written, in
/// order, with offsets that name them.
#[test]
fn a_refused_first_batch_fails_alone_and_the_rest_land_in_order() {
    let mock = MockBroker::start(&[(T, 1)]);
    let p = producer(&mock, &[("batch.size", "1")]);
    mock.push_action(T, 0, Action::Error(ErrorCode::MESSAGE_TOO_LARGE));
    let futures: Vec<SendFuture> = (0..10)
        .map(|i| p.send(record(0, &format!("r{i}"))).unwrap())
        .collect();
    assert!(answer(&futures[0]).is_err(), "r0 refused");
    let offsets: Vec<i64> = futures[1..]
        .iter()
        .map(|f| answer(f).expect("written").offset)
        .collect();
    let expected: Vec<String> = (1..10).map(|i| format!("r{i}")).collect();
    assert_eq!(values(&mock, 0), expected, "each once, in the order sent");
    assert_eq!(offsets, (0..9).collect::<Vec<i64>>());
}

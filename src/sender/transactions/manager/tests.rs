//! The transaction state machine, call by call: no I/O, no clock.

use super::*;
use crate::protocol::add_partitions_to_txn::{PartitionError, TopicErrors};
use crate::protocol::find_coordinator::Coordinator;
use crate::record::{ConsumerGroupMetadata, OffsetAndMetadata};

const BACKOFF: Duration = Duration::from_millis(100);

fn core() -> TxnCore {
    TxnCore::new(Arc::from("tx"), Duration::from_secs(60), BACKOFF)
}

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("t", p)
}

fn found(node: i32) -> Result<FindCoordinatorResponse, DecodeError> {
    Ok(FindCoordinatorResponse {
        throttle_time_ms: 0,
        coordinators: vec![Coordinator {
            key: String::new(),
            node_id: node,
            host: "h".into(),
            port: 9092,
            error_code: ErrorCode::NONE,
            error_message: None,
        }],
    })
}

fn init_answer(code: ErrorCode) -> Result<InitProducerIdResponse, DecodeError> {
    Ok(InitProducerIdResponse {
        throttle_time_ms: 0,
        error_code: code,
        producer_id: 7,
        producer_epoch: 3,
    })
}

fn end_answer(code: ErrorCode, pid: i64, epoch: i16) -> Result<EndTxnResponse, DecodeError> {
    Ok(EndTxnResponse {
        throttle_time_ms: 0,
        error_code: code,
        producer_id: pid,
        producer_epoch: epoch,
    })
}

fn added(parts: &[(i32, ErrorCode)]) -> Result<AddPartitionsToTxnResponse, DecodeError> {
    Ok(AddPartitionsToTxnResponse {
        throttle_time_ms: 0,
        topics: vec![TopicErrors {
            name: "t".into(),
            partitions: parts
                .iter()
                .map(|&(p, code)| PartitionError {
                    partition_index: p,
                    error_code: code,
                })
                .collect(),
        }],
    })
}

/// Polls and marks the request sent.
fn next(c: &mut TxnCore, now: Instant, quiet: bool) -> Option<Action> {
    let mut timeout = Duration::from_secs(1);
    let a = c.poll(now, quiet, &mut timeout)?;
    c.sent(&a);
    Some(a)
}

/// An initialized core (coordinator node 1, producer 7/3).
fn ready(now: Instant) -> TxnCore {
    let mut c = core();
    c.init().unwrap();
    assert_eq!(next(&mut c, now, true), Some(Action::FindCoordinator));
    assert_eq!(
        c.on_find_coordinator(found(1), now),
        Some((1, "h:9092".into()))
    );
    assert_eq!(next(&mut c, now, true), Some(Action::InitProducerId));
    assert_eq!(
        c.on_init_producer_id(init_answer(ErrorCode::NONE), now),
        Some((7, 3))
    );
    assert!(matches!(c.take_result(Op::Init), Some(Ok(()))));
    c
}

fn kind(r: Result<(), Error>) -> TransactionErrorKindOf {
    match r {
        Err(Error::Transaction { kind, .. }) => TransactionErrorKindOf(Some(kind)),
        other => panic!("expected a transaction error, got {other:?}"),
    }
}

#[derive(Debug, PartialEq)]
struct TransactionErrorKindOf(Option<Kind>);
const INVALID: TransactionErrorKindOf = TransactionErrorKindOf(Some(Kind::InvalidState));
const ABORTABLE: TransactionErrorKindOf = TransactionErrorKindOf(Some(Kind::Abortable));
const FATAL: TransactionErrorKindOf = TransactionErrorKindOf(Some(Kind::Fatal));

#[test]
fn init_finds_the_coordinator_then_gets_the_producer_id() {
    let now = Instant::now();
    let c = ready(now);
    assert_eq!(c.state(), TxnState::Ready);
    assert_eq!(c.producer(), (7, 3));
    assert_eq!(c.coordinator(), Some(1));
}

#[test]
fn sends_outside_a_transaction_and_misplaced_calls_are_refused() {
    let now = Instant::now();
    let mut c = core();
    assert_eq!(kind(c.check_send(&tp(0))), INVALID, "before init");
    assert_eq!(kind(c.begin()), INVALID, "begin before init");
    let mut c = ready(now);
    assert_eq!(kind(c.check_send(&tp(0))), INVALID, "outside a transaction");
    assert_eq!(kind(c.commit()), INVALID, "commit without begin");
    assert_eq!(kind(c.init()), INVALID, "init twice");
    c.begin().unwrap();
    assert_eq!(kind(c.begin()), INVALID, "begin twice");
    c.check_send(&tp(0)).unwrap();
}

#[test]
fn partitions_are_added_before_their_batches_drain_then_commit_waits_for_answers() {
    let now = Instant::now();
    let mut c = ready(now);
    c.begin().unwrap();
    c.check_send(&tp(0)).unwrap();
    c.check_send(&tp(1)).unwrap();
    assert!(!c.may_drain(&tp(0)), "held until added");
    assert_eq!(
        next(&mut c, now, false),
        Some(Action::AddPartitions(vec![tp(0), tp(1)]))
    );
    assert_eq!(next(&mut c, now, false), None, "one request at a time");
    c.on_add_partitions(added(&[(0, ErrorCode::NONE), (1, ErrorCode::NONE)]), now);
    assert!(c.may_drain(&tp(0)) && c.may_drain(&tp(1)));
    c.check_send(&tp(0)).unwrap();
    assert_eq!(next(&mut c, now, false), None, "already added");
    c.commit().unwrap();
    assert_eq!(
        next(&mut c, now, false),
        None,
        "batches still without answers"
    );
    assert_eq!(
        next(&mut c, now, true),
        Some(Action::EndTxn { commit: true })
    );
    assert!(c.take_result(Op::Commit).is_none());
    assert_eq!(c.on_end_txn(end_answer(ErrorCode::NONE, -1, -1), now), None);
    assert!(matches!(c.take_result(Op::Commit), Some(Ok(()))));
    assert_eq!(c.state(), TxnState::Ready);
    c.begin().unwrap();
    assert!(
        !c.may_drain(&tp(0)),
        "a new transaction adds its partitions again"
    );
}

#[test]
fn concurrent_transactions_are_retried_and_a_moved_coordinator_is_found_again() {
    let t0 = Instant::now();
    let mut c = ready(t0);
    c.begin().unwrap();
    c.check_send(&tp(0)).unwrap();
    next(&mut c, t0, false).unwrap();
    c.on_add_partitions(added(&[(0, ErrorCode::CONCURRENT_TRANSACTIONS)]), t0);
    let mut timeout = Duration::from_secs(1);
    assert_eq!(c.poll(t0, false, &mut timeout), None);
    assert_eq!(timeout, CONCURRENT_BACKOFF, "a short backoff");
    let t1 = t0 + CONCURRENT_BACKOFF;
    assert_eq!(
        next(&mut c, t1, false),
        Some(Action::AddPartitions(vec![tp(0)]))
    );
    c.on_add_partitions(added(&[(0, ErrorCode::NOT_COORDINATOR)]), t1);
    let t2 = t1 + BACKOFF;
    assert_eq!(next(&mut c, t2, false), Some(Action::FindCoordinator));
    c.on_find_coordinator(found(2), t2);
    assert_eq!(c.coordinator(), Some(2));
    assert_eq!(
        next(&mut c, t2, false),
        Some(Action::AddPartitions(vec![tp(0)]))
    );
    c.on_add_partitions(added(&[(0, ErrorCode::NONE)]), t2);
    assert!(c.may_drain(&tp(0)));
}

#[test]
fn a_lost_request_is_sent_again_after_looking_up_the_coordinator() {
    let t0 = Instant::now();
    let mut c = ready(t0);
    c.begin().unwrap();
    c.check_send(&tp(0)).unwrap();
    next(&mut c, t0, false).unwrap();
    c.unanswered(TxnApi::AddPartitions, t0);
    let t1 = t0 + BACKOFF;
    assert_eq!(next(&mut c, t1, false), Some(Action::FindCoordinator));
    c.on_find_coordinator(found(1), t1);
    assert_eq!(
        next(&mut c, t1, false),
        Some(Action::AddPartitions(vec![tp(0)]))
    );
}

#[test]
fn a_failed_batch_makes_the_commit_fail_abortably_and_abort_recovers() {
    let now = Instant::now();
    let mut c = ready(now);
    c.begin().unwrap();
    c.check_send(&tp(0)).unwrap();
    next(&mut c, now, false).unwrap();
    c.on_add_partitions(added(&[(0, ErrorCode::NONE)]), now);
    c.commit().unwrap();
    let err = Error::Broker {
        code: ErrorCode::MESSAGE_TOO_LARGE,
        message: None,
        delivery: crate::error::Delivery::NotWritten,
    };
    c.batch_failed(&tp(0), &err);
    assert_eq!(kind(c.take_result(Op::Commit).unwrap()), ABORTABLE);
    assert_eq!(
        next(&mut c, now, true),
        None,
        "no EndTxn(commit) after the failure"
    );
    assert!(c.undrained_error().unwrap().is_abortable());
    assert_eq!(kind(c.check_send(&tp(0))), ABORTABLE);
    assert_eq!(kind(c.begin()), ABORTABLE);
    c.abort().unwrap();
    assert!(c.undrained_error().is_some(), "queued batches answered");
    assert_eq!(
        next(&mut c, now, false),
        None,
        "waits for batches in flight"
    );
    assert_eq!(
        next(&mut c, now, true),
        Some(Action::EndTxn { commit: false })
    );
    c.on_end_txn(end_answer(ErrorCode::NONE, -1, -1), now);
    assert!(matches!(c.take_result(Op::Abort), Some(Ok(()))));
    c.begin().unwrap();
}

#[test]
fn fencing_is_fatal_and_names_it() {
    let now = Instant::now();
    let mut c = ready(now);
    c.begin().unwrap();
    c.check_send(&tp(0)).unwrap();
    next(&mut c, now, false).unwrap();
    c.on_add_partitions(added(&[(0, ErrorCode::PRODUCER_FENCED)]), now);
    assert_eq!(c.state(), TxnState::FatalError);
    let err = c.abort().unwrap_err();
    assert!(err.is_fatal(), "{err}");
    assert!(err.to_string().contains("fenced"), "{err}");
    assert_eq!(kind(c.begin()), FATAL);
    // A Produce answered INVALID_PRODUCER_EPOCH fences too.
    let mut c = ready(now);
    c.begin().unwrap();
    let err = Error::Broker {
        code: ErrorCode::INVALID_PRODUCER_EPOCH,
        message: None,
        delivery: crate::error::Delivery::NotWritten,
    };
    c.batch_failed(&tp(0), &err);
    assert_eq!(c.state(), TxnState::FatalError);
}

#[test]
fn a_transaction_that_reached_no_coordinator_ends_without_end_txn() {
    let now = Instant::now();
    let mut c = ready(now);
    c.begin().unwrap();
    c.commit().unwrap();
    assert_eq!(next(&mut c, now, true), None);
    assert!(matches!(c.take_result(Op::Commit), Some(Ok(()))));
    c.begin().unwrap();
    c.check_send(&tp(0)).unwrap();
    c.abort().unwrap();
    assert_eq!(next(&mut c, now, true), None, "its batches were never sent");
    assert!(matches!(c.take_result(Op::Abort), Some(Ok(()))));
}

#[test]
fn a_call_that_timed_out_is_rejoined_and_others_wait_for_it() {
    let now = Instant::now();
    let mut c = ready(now);
    c.begin().unwrap();
    c.check_send(&tp(0)).unwrap();
    c.commit().unwrap();
    c.commit().unwrap(); // the caller timed out and calls again: the same commit
    assert_eq!(kind(c.abort()), INVALID, "while the commit is under way");
}

#[test]
fn under_v2_partitions_join_with_produce_and_every_end_txn_bumps_the_epoch() {
    let now = Instant::now();
    let mut c = ready(now);
    c.set_v2(true);
    c.begin().unwrap();
    c.check_send(&tp(0)).unwrap();
    assert!(c.may_drain(&tp(0)));
    c.drained();
    c.commit().unwrap();
    assert_eq!(
        next(&mut c, now, true),
        Some(Action::EndTxn { commit: true })
    );
    assert_eq!(
        c.on_end_txn(end_answer(ErrorCode::NONE, 7, 4), now),
        Some((7, 4))
    );
    assert_eq!(c.producer(), (7, 4));
    assert!(matches!(c.take_result(Op::Commit), Some(Ok(()))));
}

#[test]
fn close_answers_a_waiting_call() {
    let mut c = core();
    c.init().unwrap();
    c.close();
    assert!(matches!(
        c.take_result(Op::Init),
        Some(Err(Error::Closed { .. }))
    ));
}

fn offset_answer(code: ErrorCode) -> Result<TxnOffsetCommitResponse, DecodeError> {
    Ok(TxnOffsetCommitResponse {
        throttle_time_ms: 0,
        topics: vec![TopicErrors {
            name: "in".into(),
            partitions: vec![PartitionError {
                partition_index: 0,
                error_code: code,
            }],
        }],
    })
}

fn offsets() -> Vec<(TopicPartition, OffsetAndMetadata)> {
    vec![(TopicPartition::new("in", 0), OffsetAndMetadata::new(42))]
}

#[test]
fn offsets_join_through_add_offsets_then_the_group_coordinator_under_v1() {
    let now = Instant::now();
    let mut c = ready(now);
    let group = ConsumerGroupMetadata::new("g");
    assert_eq!(
        kind(c.send_offsets(offsets(), group.clone())),
        INVALID,
        "outside a transaction"
    );
    c.begin().unwrap();
    c.send_offsets(offsets(), group.clone()).unwrap();
    assert_eq!(
        kind(c.commit()),
        INVALID,
        "while the offsets are on their way"
    );
    assert_eq!(next(&mut c, now, true), Some(Action::AddOffsets));
    c.on_add_offsets(
        Ok(AddOffsetsToTxnResponse {
            throttle_time_ms: 0,
            error_code: ErrorCode::NONE,
        }),
        now,
    );
    assert_eq!(next(&mut c, now, true), Some(Action::FindGroupCoordinator));
    assert_eq!(
        c.on_find_group_coordinator(found(2), now),
        Some((2, "h:9092".into()))
    );
    assert_eq!(next(&mut c, now, true), Some(Action::TxnOffsetCommit));
    // The group coordinator moved (REQUEST_TIMED_OUT counts): looked up again, not the
    // transaction's.
    c.on_txn_offset_commit(offset_answer(ErrorCode::REQUEST_TIMED_OUT), now);
    assert_eq!((c.coordinator(), c.group_coordinator()), (Some(1), None));
    let later = now + BACKOFF;
    assert_eq!(
        next(&mut c, later, true),
        Some(Action::FindGroupCoordinator)
    );
    c.on_find_group_coordinator(found(2), later);
    assert_eq!(next(&mut c, later, true), Some(Action::TxnOffsetCommit));
    c.on_txn_offset_commit(offset_answer(ErrorCode::NONE), later);
    assert!(matches!(c.take_result(Op::SendOffsets), Some(Ok(()))));
    c.commit().unwrap();
    assert_eq!(
        next(&mut c, later, true),
        Some(Action::EndTxn { commit: true }),
        "the offsets started the transaction"
    );
}

#[test]
fn a_fenced_member_makes_the_offsets_abortable_and_v2_skips_add_offsets() {
    let now = Instant::now();
    let mut c = ready(now);
    c.set_v2(true);
    c.begin().unwrap();
    c.send_offsets(offsets(), ConsumerGroupMetadata::new("g"))
        .unwrap();
    assert_eq!(next(&mut c, now, true), Some(Action::FindGroupCoordinator));
    c.on_find_group_coordinator(found(2), now);
    assert_eq!(next(&mut c, now, true), Some(Action::TxnOffsetCommit));
    c.on_txn_offset_commit(offset_answer(ErrorCode::ILLEGAL_GENERATION), now);
    assert_eq!(kind(c.take_result(Op::SendOffsets).unwrap()), ABORTABLE);
    assert_eq!(kind(c.commit()), ABORTABLE);
}

#[test]
fn under_v1_an_abort_after_a_sequence_error_bumps_the_epoch_before_it_returns() {
    let now = Instant::now();
    let mut c = ready(now);
    c.begin().unwrap();
    c.check_send(&tp(0)).unwrap();
    next(&mut c, now, false).unwrap();
    c.on_add_partitions(added(&[(0, ErrorCode::NONE)]), now);
    let err = Error::Broker {
        code: ErrorCode::UNKNOWN_PRODUCER_ID,
        message: None,
        delivery: crate::error::Delivery::NotWritten,
    };
    c.batch_failed(&tp(0), &err);
    c.abort().unwrap();
    assert_eq!(
        next(&mut c, now, true),
        Some(Action::EndTxn { commit: false })
    );
    assert_eq!(c.on_end_txn(end_answer(ErrorCode::NONE, -1, -1), now), None);
    assert!(
        c.take_result(Op::Abort).is_none(),
        "waits for the new epoch"
    );
    assert_eq!(next(&mut c, now, true), Some(Action::InitProducerId));
    let bumped = Ok(InitProducerIdResponse {
        throttle_time_ms: 0,
        error_code: ErrorCode::NONE,
        producer_id: 7,
        producer_epoch: 4,
    });
    assert_eq!(c.on_init_producer_id(bumped, now), Some((7, 4)));
    assert!(matches!(c.take_result(Op::Abort), Some(Ok(()))));
    c.begin().unwrap();
    // The next abort (nothing failed) needs no bump.
    c.check_send(&tp(0)).unwrap();
    next(&mut c, now, false).unwrap();
    c.on_add_partitions(added(&[(0, ErrorCode::NONE)]), now);
    c.abort().unwrap();
    next(&mut c, now, true).unwrap();
    c.on_end_txn(end_answer(ErrorCode::NONE, -1, -1), now);
    assert!(matches!(c.take_result(Op::Abort), Some(Ok(()))));
}

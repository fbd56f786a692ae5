//! A transactional producer's turns over the scripted coordinator (protocol v1): partitions
//! added before their batches, EndTxn after every answer, aborts, errors and fencing.

use super::*;

fn transactional() -> Harness {
    harness(Opts {
        transactional: true,
        partitions: 2,
        ..Opts::default()
    })
}

impl Harness {
    fn txn(&self) -> Arc<TxnShared> {
        self.shared.txn.clone().expect("transactional")
    }

    /// Starts `op` with `start` and turns until its result.
    fn txn_op(
        &mut self,
        op: TxnOp,
        start: impl FnOnce(&mut TxnCore) -> Result<(), Error>,
    ) -> Result<(), Error> {
        start(&mut self.txn().lock())?;
        for _ in 0..5000 {
            if let Some(r) = self.txn().lock().take_result(op) {
                return r;
            }
            self.sender.run_once();
        }
        panic!("{op:?}: no result in 5000 turns");
    }

    /// A send as the producer makes it: the state check, then the append.
    fn send_in_txn(&self, partition: i32) -> Result<SendFuture, Error> {
        let tp = TopicPartition::new(TOPIC, partition);
        self.txn().lock().check_send(&tp)?;
        Ok(self.send(partition))
    }

    fn txn_log(&self) -> Vec<String> {
        self.net.broker(|b| b.txn_log.clone())
    }

    fn script(&self, api_key: i16, errors: &[ErrorCode]) {
        self.net.broker(|b| match api_key {
            22 => b.init_errors.extend(errors),
            _ => b.txn_errors.entry(api_key).or_default().extend(errors),
        });
    }
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

#[test]
fn partitions_are_added_before_their_first_batch_and_end_txn_follows_every_answer() {
    let mut h = transactional();
    let err = h.send_in_txn(0).unwrap_err();
    assert!(err.to_string().contains("init_transactions"), "{err}");
    h.txn_op(TxnOp::Init, TxnCore::init).expect("init");
    assert_eq!((h.requests(10), h.requests(22)), (1, 1));
    h.txn().lock().begin().unwrap();
    let futures = vec![
        h.send_in_txn(0).unwrap(),
        h.send_in_txn(1).unwrap(),
        h.send_in_txn(0).unwrap(),
    ];
    h.answered(&futures);
    for f in &futures {
        f.try_get().unwrap().expect("written");
    }
    h.txn_op(TxnOp::Commit, TxnCore::commit).expect("commit");
    let mut log = h.txn_log();
    log[2..4].sort(); // one Produce request: its partitions in any order
    assert_eq!(
        log,
        strings(&[
            "add t-0",
            "add t-1",
            "produce t-0 (txn)",
            "produce t-1 (txn)",
            "end"
        ])
    );
    // The next transaction adds its partitions again.
    h.txn().lock().begin().unwrap();
    let f = h.send_in_txn(1).unwrap();
    h.answered(&[f]);
    h.txn_op(TxnOp::Commit, TxnCore::commit).expect("commit");
    assert_eq!(
        h.txn_log()[5..],
        strings(&["add t-1", "produce t-1 (txn)", "end"])
    );
}

#[test]
fn commit_waits_for_batches_in_flight() {
    let mut h = transactional();
    h.txn_op(TxnOp::Init, TxnCore::init).unwrap();
    h.txn().lock().begin().unwrap();
    h.net.broker(|b| {
        b.answer_delay.insert(0, Duration::from_millis(500));
    });
    let f = h.send_in_txn(0).unwrap();
    h.txn_op(TxnOp::Commit, TxnCore::commit).expect("commit");
    assert!(f.is_done(), "answered before the commit completed");
    let log = h.txn_log();
    assert_eq!(log.last().map(String::as_str), Some("end"), "{log:?}");
}

#[test]
fn abort_answers_unsent_records_and_ends_only_what_the_coordinator_knows() {
    let mut h = transactional();
    h.txn_op(TxnOp::Init, TxnCore::init).unwrap();
    h.txn().lock().begin().unwrap();
    let f = h.send_in_txn(0).unwrap();
    h.txn_op(TxnOp::Abort, TxnCore::abort).expect("abort");
    let err = f.try_get().expect("answered").unwrap_err();
    assert!(err.is_abortable(), "{err}");
    assert_eq!(err.delivery(), Delivery::NotWritten);
    assert!(h.txn_log().is_empty(), "nothing sent, nothing to end");
    // A transaction that wrote something is ended with EndTxn(abort).
    h.txn().lock().begin().unwrap();
    let f = h.send_in_txn(1).unwrap();
    h.answered(&[f]);
    h.txn_op(TxnOp::Abort, TxnCore::abort).expect("abort");
    assert_eq!(
        h.txn_log(),
        strings(&["add t-1", "produce t-1 (txn)", "end"])
    );
}

#[test]
fn a_failed_batch_fails_the_commit_abortably() {
    let mut h = transactional();
    h.txn_op(TxnOp::Init, TxnCore::init).unwrap();
    h.txn().lock().begin().unwrap();
    h.fault(0, &[Fault::Refuse(ErrorCode::INVALID_RECORD)]);
    let f = h.send_in_txn(0).unwrap();
    let err = h.txn_op(TxnOp::Commit, TxnCore::commit).unwrap_err();
    assert!(err.is_abortable(), "{err}");
    assert!(f.try_get().unwrap().is_err());
    assert!(h.send_in_txn(1).unwrap_err().is_abortable());
    h.txn_op(TxnOp::Abort, TxnCore::abort).expect("abort");
    assert_eq!(h.txn_log().last().map(String::as_str), Some("end"));
    h.txn()
        .lock()
        .begin()
        .expect("a new transaction after the abort");
}

#[test]
fn the_coordinator_is_found_again_and_concurrent_transactions_retried() {
    let mut h = transactional();
    h.script(22, &[ErrorCode::NOT_COORDINATOR]);
    h.txn_op(TxnOp::Init, TxnCore::init).unwrap();
    assert_eq!((h.requests(10), h.requests(22)), (2, 2));
    h.txn().lock().begin().unwrap();
    h.script(24, &[ErrorCode::CONCURRENT_TRANSACTIONS]);
    h.script(
        26,
        &[
            ErrorCode::COORDINATOR_NOT_AVAILABLE,
            ErrorCode::CONCURRENT_TRANSACTIONS,
        ],
    );
    let f = h.send_in_txn(0).unwrap();
    h.txn_op(TxnOp::Commit, TxnCore::commit).expect("commit");
    f.try_get().unwrap().expect("written");
    assert_eq!((h.requests(24), h.requests(26), h.requests(10)), (2, 3, 3));
    assert_eq!(
        h.txn_log(),
        strings(&["add t-0", "produce t-0 (txn)", "end"])
    );
}

#[test]
fn fencing_is_fatal_for_the_transaction_and_its_records() {
    let mut h = transactional();
    h.txn_op(TxnOp::Init, TxnCore::init).unwrap();
    h.txn().lock().begin().unwrap();
    h.script(24, &[ErrorCode::PRODUCER_FENCED]);
    let f = h.send_in_txn(0).unwrap();
    let err = h.txn_op(TxnOp::Commit, TxnCore::commit).unwrap_err();
    assert!(
        err.is_fatal() && err.to_string().contains("fenced"),
        "{err}"
    );
    h.answered(std::slice::from_ref(&f));
    assert!(f.try_get().unwrap().unwrap_err().is_fatal());
    assert!(h.txn().lock().abort().unwrap_err().is_fatal());
    assert_eq!(h.requests(0), 0, "nothing was produced");
}

#[test]
fn a_sequence_error_is_not_bumped_locally_and_the_abort_gets_a_new_epoch() {
    let mut h = transactional();
    h.txn_op(TxnOp::Init, TxnCore::init).unwrap();
    h.txn().lock().begin().unwrap();
    h.fault(0, &[Fault::Refuse(ErrorCode::UNKNOWN_PRODUCER_ID)]);
    let f = h.send_in_txn(0).unwrap();
    let err = h.txn_op(TxnOp::Commit, TxnCore::commit).unwrap_err();
    assert!(err.is_abortable(), "{err}");
    assert!(f.try_get().unwrap().is_err());
    h.txn_op(TxnOp::Abort, TxnCore::abort).expect("abort");
    assert_eq!(h.requests(22), 2, "the abort re-initialized (a new epoch)");
    h.txn().lock().begin().unwrap();
    let f = h.send_in_txn(0).unwrap();
    h.answered(std::slice::from_ref(&f));
    f.try_get().unwrap().expect("written under the new epoch");
    h.txn_op(TxnOp::Commit, TxnCore::commit).expect("commit");
}

#[test]
fn an_end_txn_whose_answer_never_came_re_initializes_before_the_next_transaction() {
    // Protocol v1 (the scripted coordinator): the first EndTxn is carried out and its
    // connection dropped before the answer. The retried EndTxn is answered, and the commit
    // returns only once InitProducerId for the same id has bumped the epoch, so the first
    // EndTxn, if the coordinator still acted on it later, would carry a stale epoch.
    let mut h = transactional();
    h.txn_op(TxnOp::Init, TxnCore::init).unwrap();
    let epoch_before = h.txn().lock().producer();
    h.txn().lock().begin().unwrap();
    let f = h.send_in_txn(0).unwrap();
    h.answered(std::slice::from_ref(&f));
    h.net.broker(|b| b.end_txn_disconnects = 1);
    h.txn_op(TxnOp::Commit, TxnCore::commit).expect("commit");
    assert_eq!(h.requests(26), 2, "the EndTxn was sent again");
    assert_eq!(
        h.requests(22),
        2,
        "and the producer re-initialized before the commit returned"
    );
    // (The scripted coordinator hands out a new id where a real one bumps the epoch of the
    // same id; tests/transactions.rs checks the real one.)
    assert_ne!(h.txn().lock().producer(), epoch_before, "a new epoch");
    // The next transaction goes on under the new epoch, with no further re-initialization.
    h.txn().lock().begin().unwrap();
    let f = h.send_in_txn(1).unwrap();
    h.answered(std::slice::from_ref(&f));
    f.try_get().unwrap().expect("written under the new epoch");
    h.txn_op(TxnOp::Commit, TxnCore::commit).expect("commit");
    assert_eq!(h.requests(22), 2, "an answered EndTxn needs no new epoch");
}

#[test]
fn a_coordinator_that_cannot_bump_an_epoch_fails_the_abort_instead_of_retrying_forever() {
    // Kafka before 2.5 has no InitProducerId v3 (KIP-360): the epoch bump after a sequence
    // error cannot be asked for. The abort must get an answer, a fatal one.
    let mut h = transactional();
    h.net.broker(|b| b.init_producer_id_max = Some(2));
    h.txn_op(TxnOp::Init, TxnCore::init).unwrap();
    h.txn().lock().begin().unwrap();
    h.fault(0, &[Fault::Refuse(ErrorCode::UNKNOWN_PRODUCER_ID)]);
    let f = h.send_in_txn(0).unwrap();
    assert!(h
        .txn_op(TxnOp::Commit, TxnCore::commit)
        .unwrap_err()
        .is_abortable());
    assert!(f.try_get().unwrap().is_err());
    let err = h.txn_op(TxnOp::Abort, TxnCore::abort).unwrap_err();
    assert!(err.is_fatal(), "{err}");
    assert!(err.to_string().contains("InitProducerId v3"), "{err}");
    assert_eq!(h.requests(22), 1, "no re-initialization was sent");
}

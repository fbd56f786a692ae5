//! The transaction state machine and what each coordinator answer does to it: pure (no I/O,
//! no clock), for the transaction manager to drive (groundwork of issue 10; nothing calls it
//! yet).
//!
//! States and transitions are Java's `TransactionManager.State`: a producer is initialized
//! once, then cycles ready -> in transaction -> committing/aborting -> ready. An error either
//! leaves the transaction abortable (the application aborts and goes on) or makes the producer
//! unusable for transactions (fatal: fenced by a newer instance, not authorized, a state the
//! coordinator does not accept).
//!
//! [`classify`] is the one place that maps `(request, error code)` to what happens, following
//! Java's per-request handlers (`FindCoordinatorHandler`, `InitProducerIdHandler`,
//! `AddPartitionsToTxnHandler`, `AddOffsetsToTxnHandler`, `TxnOffsetCommitHandler`,
//! `EndTxnHandler`), so the rules are read and tested in one table instead of six handlers.

use crate::protocol::ErrorCode;

/// Java's `TransactionManager.State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxnState {
    /// `init_transactions` not called yet (or the producer id must be fetched again).
    Uninitialized,
    /// InitProducerId under way.
    Initializing,
    /// A producer id and epoch; no transaction open.
    Ready,
    /// `begin_transaction` called: sends and offsets join the transaction.
    InTransaction,
    /// EndTxn(commit) under way.
    Committing,
    /// EndTxn(abort) under way.
    Aborting,
    /// The transaction failed; only `abort_transaction` is allowed.
    AbortableError,
    /// The producer cannot do transactions any more; only `close` is left.
    FatalError,
}

impl TxnState {
    /// Whether Java allows moving from `self` to `to`.
    pub fn can_move_to(self, to: TxnState) -> bool {
        use TxnState::*;
        match to {
            Uninitialized => matches!(self, Ready | AbortableError),
            // From Aborting: the epoch bump (KIP-360) after an abortable error that allows it.
            Initializing => matches!(self, Uninitialized | Aborting),
            Ready => matches!(self, Initializing | Committing | Aborting),
            InTransaction => self == Ready,
            Committing => self == InTransaction,
            Aborting => matches!(self, InTransaction | AbortableError),
            AbortableError => {
                matches!(
                    self,
                    InTransaction | Committing | AbortableError | Initializing
                )
            }
            // Fatal is reachable from anywhere and left for nothing.
            FatalError => true,
        }
    }
}

/// The coordinator requests a transactional producer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxnApi {
    /// FindCoordinator for the transactional id.
    FindTxnCoordinator,
    /// FindCoordinator for the consumer group of `send_offsets_to_transaction`.
    FindGroupCoordinator,
    /// InitProducerId with the transactional id.
    InitProducerId,
    /// AddPartitionsToTxn (transactions protocol v1 only).
    AddPartitions,
    /// AddOffsetsToTxn.
    AddOffsets,
    /// TxnOffsetCommit, to the group's coordinator.
    TxnOffsetCommit,
    /// EndTxn (commit or abort).
    EndTxn,
}

/// What an answer means for the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The request did its job.
    Done,
    /// Send it again after `retry.backoff.ms`.
    Retry,
    /// The coordinator moved: look it up again (transaction or group), then retry.
    Refind { group: bool },
    /// The transaction cannot commit; the application must abort it.
    Abortable(ErrorCode),
    /// Abortable, and the abort may bump the epoch instead of needing a new producer id
    /// (Java's `abortableErrorIfPossible`: `UNKNOWN_PRODUCER_ID` and
    /// `INVALID_PRODUCER_ID_MAPPING`, KIP-360). Fatal on a broker too old to bump.
    AbortableIfBumpable(ErrorCode),
    /// The producer is finished for transactions.
    Fatal(ErrorCode),
}

/// The verdict on `code` in the answer to `api`.
pub(crate) fn classify(api: TxnApi, code: ErrorCode) -> Verdict {
    use TxnApi::*;
    const FENCED: [ErrorCode; 2] = [
        ErrorCode::INVALID_PRODUCER_EPOCH,
        ErrorCode::PRODUCER_FENCED,
    ];
    const NEW_COORDINATOR: [ErrorCode; 2] = [
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::NOT_COORDINATOR,
    ];
    const LOST_ID: [ErrorCode; 2] = [
        ErrorCode::UNKNOWN_PRODUCER_ID,
        ErrorCode::INVALID_PRODUCER_ID_MAPPING,
    ];
    if code.is_ok() {
        return Verdict::Done;
    }
    match api {
        FindTxnCoordinator | FindGroupCoordinator => match code {
            c if c.is_retriable() => Verdict::Retry,
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED => Verdict::Fatal(code),
            ErrorCode::GROUP_AUTHORIZATION_FAILED | ErrorCode::TRANSACTION_ABORTABLE => {
                Verdict::Abortable(code)
            }
            _ => Verdict::Fatal(code),
        },
        InitProducerId => match code {
            c if NEW_COORDINATOR.contains(&c) => Verdict::Refind { group: false },
            // CONCURRENT_TRANSACTIONS (an earlier transaction still ending) is retriable.
            c if c.is_retriable() => Verdict::Retry,
            c if FENCED.contains(&c) => Verdict::Fatal(ErrorCode::PRODUCER_FENCED),
            // Java makes these abortable here (not fatal as elsewhere), so that
            // `init_transactions` can be called again once the ACLs are fixed.
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
            | ErrorCode::CLUSTER_AUTHORIZATION_FAILED
            | ErrorCode::TRANSACTION_ABORTABLE => Verdict::Abortable(code),
            _ => Verdict::Fatal(code),
        },
        AddPartitions | AddOffsets | EndTxn => match code {
            c if NEW_COORDINATOR.contains(&c) => Verdict::Refind { group: false },
            c if c.is_retriable() => Verdict::Retry,
            c if FENCED.contains(&c) => Verdict::Fatal(ErrorCode::PRODUCER_FENCED),
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED | ErrorCode::INVALID_TXN_STATE => {
                Verdict::Fatal(code)
            }
            c if LOST_ID.contains(&c) => Verdict::AbortableIfBumpable(code),
            ErrorCode::TRANSACTION_ABORTABLE => Verdict::Abortable(code),
            // AddPartitionsToTxn: a topic we may not write to fails the transaction, not
            // the producer; so does a partition not attempted because another one failed.
            ErrorCode::TOPIC_AUTHORIZATION_FAILED | ErrorCode::OPERATION_NOT_ATTEMPTED
                if api == AddPartitions =>
            {
                Verdict::Abortable(code)
            }
            ErrorCode::GROUP_AUTHORIZATION_FAILED if api == AddOffsets => Verdict::Abortable(code),
            // Java: "unexpected error" — fatal for AddOffsets/EndTxn; for AddPartitions it
            // is a partition error, and the transaction is abortable.
            _ if api == AddPartitions => Verdict::Abortable(code),
            _ => Verdict::Fatal(code),
        },
        TxnOffsetCommit => match code {
            // REQUEST_TIMED_OUT too: the group coordinator may have moved.
            ErrorCode::COORDINATOR_NOT_AVAILABLE
            | ErrorCode::NOT_COORDINATOR
            | ErrorCode::REQUEST_TIMED_OUT => Verdict::Refind { group: true },
            c if c.is_retriable() => Verdict::Retry,
            ErrorCode::GROUP_AUTHORIZATION_FAILED
            | ErrorCode::FENCED_INSTANCE_ID
            | ErrorCode::TRANSACTION_ABORTABLE
            | ErrorCode::UNKNOWN_MEMBER_ID
            | ErrorCode::ILLEGAL_GENERATION => Verdict::Abortable(code),
            c if FENCED.contains(&c) => Verdict::Fatal(ErrorCode::PRODUCER_FENCED),
            _ => Verdict::Fatal(code),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::TxnApi::*;
    use super::TxnState::*;
    use super::*;

    const ALL: [TxnState; 8] = [
        Uninitialized,
        Initializing,
        Ready,
        InTransaction,
        Committing,
        Aborting,
        AbortableError,
        FatalError,
    ];

    #[test]
    fn the_happy_cycle_and_the_abort_paths_are_allowed() {
        let cycle = [
            Uninitialized,
            Initializing,
            Ready,
            InTransaction,
            Committing,
            Ready,
            InTransaction,
            AbortableError,
            Aborting,
            Ready,
        ];
        for w in cycle.windows(2) {
            assert!(w[0].can_move_to(w[1]), "{:?} -> {:?}", w[0], w[1]);
        }
        // The epoch bump after an abort (KIP-360).
        assert!(Aborting.can_move_to(Initializing));
    }

    #[test]
    fn what_java_forbids_is_forbidden() {
        let allowed = ALL
            .iter()
            .flat_map(|&a| ALL.iter().map(move |&b| (a, b)))
            .filter(|(a, b)| a.can_move_to(*b))
            .count();
        // Java's table: 2 + 2 + 3 + 1 + 1 + 2 + 4 targets' sources, plus fatal from all 8.
        assert_eq!(allowed, 15 + 8);
        for s in ALL {
            assert!(s.can_move_to(FatalError));
            if s != FatalError {
                assert!(!FatalError.can_move_to(s), "fatal is final: -> {s:?}");
            }
        }
        assert!(
            !Ready.can_move_to(Committing),
            "commit without a transaction"
        );
        assert!(
            !AbortableError.can_move_to(Committing),
            "commit after an error"
        );
        assert!(!InTransaction.can_move_to(InTransaction), "begin twice");
        assert!(!Committing.can_move_to(Aborting));
    }

    #[test]
    fn fencing_is_fatal_whatever_the_request_and_is_reported_as_fenced() {
        for api in [
            InitProducerId,
            AddPartitions,
            AddOffsets,
            EndTxn,
            TxnOffsetCommit,
        ] {
            for code in [
                ErrorCode::PRODUCER_FENCED,
                ErrorCode::INVALID_PRODUCER_EPOCH,
            ] {
                assert_eq!(
                    classify(api, code),
                    Verdict::Fatal(ErrorCode::PRODUCER_FENCED),
                    "{api:?} {code}"
                );
            }
        }
    }

    #[test]
    fn a_moved_coordinator_is_looked_up_again() {
        for api in [InitProducerId, AddPartitions, AddOffsets, EndTxn] {
            for code in [
                ErrorCode::NOT_COORDINATOR,
                ErrorCode::COORDINATOR_NOT_AVAILABLE,
            ] {
                assert_eq!(classify(api, code), Verdict::Refind { group: false });
            }
        }
        assert_eq!(
            classify(TxnOffsetCommit, ErrorCode::REQUEST_TIMED_OUT),
            Verdict::Refind { group: true }
        );
        // FindCoordinator itself just retries.
        assert_eq!(
            classify(FindTxnCoordinator, ErrorCode::COORDINATOR_NOT_AVAILABLE),
            Verdict::Retry
        );
    }

    #[test]
    fn concurrent_transactions_are_retried() {
        for api in [InitProducerId, AddPartitions, AddOffsets, EndTxn] {
            assert_eq!(
                classify(api, ErrorCode::CONCURRENT_TRANSACTIONS),
                Verdict::Retry
            );
        }
    }

    #[test]
    fn abortable_and_fatal_follow_javas_handlers() {
        use ErrorCode as E;
        let cases = [
            (
                AddPartitions,
                E::TOPIC_AUTHORIZATION_FAILED,
                Verdict::Abortable(E::TOPIC_AUTHORIZATION_FAILED),
            ),
            (
                AddPartitions,
                E::UNKNOWN_PRODUCER_ID,
                Verdict::AbortableIfBumpable(E::UNKNOWN_PRODUCER_ID),
            ),
            (
                AddPartitions,
                E::INVALID_TXN_STATE,
                Verdict::Fatal(E::INVALID_TXN_STATE),
            ),
            (
                AddPartitions,
                E::TRANSACTION_ABORTABLE,
                Verdict::Abortable(E::TRANSACTION_ABORTABLE),
            ),
            (
                EndTxn,
                E::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                Verdict::Fatal(E::TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
            ),
            (
                EndTxn,
                E::INVALID_PRODUCER_ID_MAPPING,
                Verdict::AbortableIfBumpable(E::INVALID_PRODUCER_ID_MAPPING),
            ),
            (
                EndTxn,
                E::UNSUPPORTED_VERSION,
                Verdict::Fatal(E::UNSUPPORTED_VERSION),
            ),
            (
                AddOffsets,
                E::GROUP_AUTHORIZATION_FAILED,
                Verdict::Abortable(E::GROUP_AUTHORIZATION_FAILED),
            ),
            (
                TxnOffsetCommit,
                E::ILLEGAL_GENERATION,
                Verdict::Abortable(E::ILLEGAL_GENERATION),
            ),
            (
                TxnOffsetCommit,
                E::FENCED_INSTANCE_ID,
                Verdict::Abortable(E::FENCED_INSTANCE_ID),
            ),
            (
                TxnOffsetCommit,
                E::UNSUPPORTED_FOR_MESSAGE_FORMAT,
                Verdict::Fatal(E::UNSUPPORTED_FOR_MESSAGE_FORMAT),
            ),
            (
                FindTxnCoordinator,
                E::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                Verdict::Fatal(E::TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
            ),
            (
                FindGroupCoordinator,
                E::GROUP_AUTHORIZATION_FAILED,
                Verdict::Abortable(E::GROUP_AUTHORIZATION_FAILED),
            ),
            (
                InitProducerId,
                E::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                Verdict::Abortable(E::TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
            ),
            (
                InitProducerId,
                E::CLUSTER_AUTHORIZATION_FAILED,
                Verdict::Abortable(E::CLUSTER_AUTHORIZATION_FAILED),
            ),
            (
                InitProducerId,
                E::INVALID_TXN_STATE,
                Verdict::Fatal(E::INVALID_TXN_STATE),
            ),
        ];
        for (api, code, want) in cases {
            assert_eq!(classify(api, code), want, "{api:?} {code}");
        }
        for api in [
            FindTxnCoordinator,
            InitProducerId,
            AddPartitions,
            AddOffsets,
            TxnOffsetCommit,
            EndTxn,
        ] {
            assert_eq!(classify(api, ErrorCode::NONE), Verdict::Done);
        }
    }
}

//! The transaction manager of a `transactional.id` producer: Java's `TransactionManager`
//! state machine ([`TxnState`], [`classify`]) with the calls of both threads, pure (no I/O;
//! `now` passed in).
//!
//! - The caller's side ([`TxnCore::init`], [`TxnCore::begin`], [`TxnCore::commit`],
//!   [`TxnCore::abort`], [`TxnCore::check_send`]) checks the state and starts an operation;
//!   the caller then waits for [`TxnCore::take_result`].
//! - The sender's side asks what to send ([`TxnCore::poll`]: FindCoordinator, InitProducerId,
//!   AddPartitionsToTxn, EndTxn, one at a time) and hands in the answers (`on_*`), failed
//!   batches ([`TxnCore::batch_failed`]) and lost requests ([`TxnCore::unanswered`]).
//!
//! Transactions protocol v1: a partition is added (AddPartitionsToTxn) before its first batch
//! is drained ([`TxnCore::may_drain`]). v2 (KIP-890, [`TxnCore::set_v2`]): partitions join
//! with their first Produce, and every EndTxn answers with a new epoch (sequences restart).

use super::super::txn_state::{classify, TxnApi, TxnState, Verdict};
use crate::error::{Error, TransactionErrorKind as Kind};
use crate::protocol::add_offsets_to_txn::AddOffsetsToTxnResponse;
use crate::protocol::add_partitions_to_txn::AddPartitionsToTxnResponse;
use crate::protocol::end_txn::EndTxnResponse;
use crate::protocol::find_coordinator::FindCoordinatorResponse;
use crate::protocol::init_producer_id::InitProducerIdResponse;
use crate::protocol::txn_offset_commit::TxnOffsetCommitResponse;
use crate::protocol::{DecodeError, ErrorCode};
use crate::record::TopicPartition;
use crate::record::{ConsumerGroupMetadata, OffsetAndMetadata};
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An operation a caller started and waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Init,
    Commit,
    Abort,
    SendOffsets,
}

/// The offsets of `send_offsets_to_transaction` on their way.
#[derive(Debug)]
pub(crate) struct PendingOffsets {
    pub group: ConsumerGroupMetadata,
    pub offsets: Vec<(TopicPartition, OffsetAndMetadata)>,
    /// AddOffsetsToTxn done (protocol v1), or not needed (v2).
    added: bool,
}

/// A request the manager wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// FindCoordinator(transaction) to any ready broker.
    FindCoordinator,
    /// To the coordinator.
    InitProducerId,
    /// To the coordinator (protocol v1).
    AddPartitions(Vec<TopicPartition>),
    /// To the coordinator.
    EndTxn { commit: bool },
    /// To the coordinator (protocol v1): the group's offsets join the transaction.
    AddOffsets,
    /// FindCoordinator(group) to any ready broker.
    FindGroupCoordinator,
    /// To the group's coordinator.
    TxnOffsetCommit,
}

impl Action {
    /// The API it is, for [`classify`].
    pub fn api(&self) -> TxnApi {
        match self {
            Action::FindCoordinator => TxnApi::FindTxnCoordinator,
            Action::InitProducerId => TxnApi::InitProducerId,
            Action::AddPartitions(_) => TxnApi::AddPartitions,
            Action::EndTxn { .. } => TxnApi::EndTxn,
            Action::AddOffsets => TxnApi::AddOffsets,
            Action::FindGroupCoordinator => TxnApi::FindGroupCoordinator,
            Action::TxnOffsetCommit => TxnApi::TxnOffsetCommit,
        }
    }
}

/// The backoff after CONCURRENT_TRANSACTIONS on AddPartitionsToTxn (Java's 20 ms: the
/// previous transaction is usually about to complete).
const CONCURRENT_BACKOFF: Duration = Duration::from_millis(20);

/// See the module docs.
#[derive(Debug)]
pub(crate) struct TxnCore {
    id: Arc<str>,
    timeout_ms: i32,
    retry_backoff: Duration,
    state: TxnState,
    /// Why the state is AbortableError or FatalError.
    last_error: Option<Error>,
    /// The caller's operation under way, and its result once known.
    op: Option<(Op, Option<Result<(), Error>>)>,
    coordinator: Option<i32>,
    /// The coordinator of `last_group`.
    group_coordinator: Option<i32>,
    last_group: Option<String>,
    offsets: Option<PendingOffsets>,
    in_flight: Option<TxnApi>,
    retry_at: Option<Instant>,
    /// Partitions sent to in this transaction and not yet asked for (v1).
    new_partitions: BTreeSet<TopicPartition>,
    /// Partitions in the AddPartitionsToTxn in flight.
    pending_partitions: Vec<TopicPartition>,
    added: HashSet<TopicPartition>,
    /// The coordinator knows of the transaction (a partition added, or under v2 a batch
    /// sent): an EndTxn is needed to end it.
    started: bool,
    producer: (i64, i16),
    v2: bool,
    /// A batch failed on its sequence or producer id (OUT_OF_ORDER_SEQUENCE_NUMBER,
    /// UNKNOWN_PRODUCER_ID): under protocol v1 the abort ends with InitProducerId for the
    /// current id and epoch, which bumps the epoch so sequences restart (KIP-360). Under v2
    /// every EndTxn bumps it anyway.
    bump_after_abort: bool,
    /// An EndTxn of this transaction went out and its answer never came (request timeout,
    /// lost connection). Under protocol v1 the coordinator may still act on that first EndTxn
    /// after the retried one is answered: the Jepsen analysis of Kafka (Bufstream, 2024) saw
    /// such a late EndTxn commit or abort a later transaction of the same producer (lost
    /// writes, aborted reads, torn transactions). So once the transaction ends, the producer
    /// re-initializes (InitProducerId for its id and epoch, KIP-360), which bumps the epoch:
    /// the late EndTxn then carries a stale epoch and is refused. Under v2 every EndTxn bumps
    /// the epoch already.
    reinit_after_end: bool,
}

impl TxnCore {
    pub fn new(id: Arc<str>, timeout: Duration, retry_backoff: Duration) -> Self {
        TxnCore {
            id,
            timeout_ms: i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX),
            retry_backoff,
            state: TxnState::Uninitialized,
            last_error: None,
            op: None,
            coordinator: None,
            group_coordinator: None,
            last_group: None,
            offsets: None,
            in_flight: None,
            retry_at: None,
            new_partitions: BTreeSet::new(),
            pending_partitions: Vec::new(),
            added: HashSet::new(),
            started: false,
            producer: (-1, -1),
            v2: false,
            bump_after_abort: false,
            reinit_after_end: false,
        }
    }

    pub fn transactional_id(&self) -> &str {
        &self.id
    }
    pub fn timeout_ms(&self) -> i32 {
        self.timeout_ms
    }
    pub fn producer(&self) -> (i64, i16) {
        self.producer
    }
    pub fn coordinator(&self) -> Option<i32> {
        self.coordinator
    }
    pub fn group_coordinator(&self) -> Option<i32> {
        self.group_coordinator
    }
    pub fn pending_offsets(&self) -> Option<&PendingOffsets> {
        self.offsets.as_ref()
    }
    #[cfg(test)]
    pub fn state(&self) -> TxnState {
        self.state
    }
    pub fn is_v2(&self) -> bool {
        self.v2
    }
    /// Transactions protocol v2 from now on (decided before the first transaction).
    pub fn set_v2(&mut self, v2: bool) {
        if self.v2 != v2 {
            log::info!(
                "transactional.id {}: transactions protocol v{}",
                self.id,
                if v2 { 2 } else { 1 }
            );
        }
        self.v2 = v2;
    }

    // ---- the caller's side ----

    /// `init_transactions`: starts InitProducerId (or rejoins the one under way).
    pub fn init(&mut self) -> Result<(), Error> {
        if self.rejoins(Op::Init)? {
            return Ok(());
        }
        self.move_to(TxnState::Initializing, "init_transactions")?;
        self.op = Some((Op::Init, None));
        Ok(())
    }

    /// `begin_transaction`: local, as in Java.
    pub fn begin(&mut self) -> Result<(), Error> {
        self.no_op_under_way("begin_transaction")?;
        self.fail_if_error()?;
        self.move_to(TxnState::InTransaction, "begin_transaction")?;
        self.started = false;
        Ok(())
    }

    /// `commit_transaction`: the sender sends EndTxn(commit) once every batch is answered.
    pub fn commit(&mut self) -> Result<(), Error> {
        if self.rejoins(Op::Commit)? {
            return Ok(());
        }
        self.no_op_under_way("commit_transaction")?;
        self.fail_if_error()?;
        self.move_to(TxnState::Committing, "commit_transaction")?;
        self.op = Some((Op::Commit, None));
        Ok(())
    }

    /// `abort_transaction`: the sender answers the batches not yet drained, then sends
    /// EndTxn(abort) once every batch is answered.
    pub fn abort(&mut self) -> Result<(), Error> {
        if self.rejoins(Op::Abort)? {
            return Ok(());
        }
        self.no_op_under_way("abort_transaction")?;
        if self.state == TxnState::FatalError {
            return Err(self.error_or(Kind::Fatal));
        }
        self.move_to(TxnState::Aborting, "abort_transaction")?;
        // Their batches were never drained (v1 holds them until added): aborted unsent.
        self.new_partitions.clear();
        self.op = Some((Op::Abort, None));
        Ok(())
    }

    /// `send_offsets_to_transaction`: the group's offsets commit with the transaction.
    pub fn send_offsets(
        &mut self,
        offsets: Vec<(TopicPartition, OffsetAndMetadata)>,
        group: ConsumerGroupMetadata,
    ) -> Result<(), Error> {
        if self.rejoins(Op::SendOffsets)? {
            return Ok(());
        }
        self.no_op_under_way("send_offsets_to_transaction")?;
        self.fail_if_error()?;
        if self.state != TxnState::InTransaction {
            return Err(invalid(format!(
                "cannot call send_offsets_to_transaction in state {:?}: call begin_transaction \
                 first",
                self.state
            )));
        }
        if self.last_group.as_deref() != Some(group.group_id.as_str()) {
            // Another group than last time: look its coordinator up.
            self.group_coordinator = None;
            self.last_group = Some(group.group_id.clone());
        }
        self.offsets = Some(PendingOffsets {
            group,
            offsets,
            added: self.v2,
        });
        self.op = Some((Op::SendOffsets, None));
        Ok(())
    }

    /// A record for `tp` may be appended: a transaction is open (and `tp` joins it).
    pub fn check_send(&mut self, tp: &TopicPartition) -> Result<(), Error> {
        match self.state {
            TxnState::InTransaction => {
                if !self.v2 && !self.added.contains(tp) && !self.pending_partitions.contains(tp) {
                    self.new_partitions.insert(tp.clone());
                }
                Ok(())
            }
            TxnState::AbortableError | TxnState::FatalError => Err(self.error_or(Kind::Abortable)),
            TxnState::Uninitialized | TxnState::Initializing => Err(invalid(
                "cannot send before init_transactions has completed (transactional.id is set)",
            )),
            s => Err(invalid(format!(
                "cannot send outside a transaction (state {s:?}): call begin_transaction first"
            ))),
        }
    }

    /// The result of `op`, once known (taken: the operation is over).
    pub fn take_result(&mut self, op: Op) -> Option<Result<(), Error>> {
        match &mut self.op {
            Some((o, result)) if *o == op && result.is_some() => {
                let r = result.take();
                self.op = None;
                r
            }
            _ => None,
        }
    }

    fn rejoins(&self, op: Op) -> Result<bool, Error> {
        Ok(matches!(self.op, Some((o, _)) if o == op))
    }

    fn no_op_under_way(&self, call: &str) -> Result<(), Error> {
        match self.op {
            Some((o, _)) => Err(invalid(format!(
                "cannot call {call} while {o:?} is under way: call that method again to wait for it"
            ))),
            None => Ok(()),
        }
    }

    fn fail_if_error(&self) -> Result<(), Error> {
        match self.state {
            TxnState::AbortableError => Err(self.error_or(Kind::Abortable)),
            TxnState::FatalError => Err(self.error_or(Kind::Fatal)),
            _ => Ok(()),
        }
    }

    fn error_or(&self, kind: Kind) -> Error {
        self.last_error
            .clone()
            .unwrap_or_else(|| Error::transaction(kind, "the transaction failed"))
    }

    fn move_to(&mut self, to: TxnState, call: &str) -> Result<(), Error> {
        if !self.state.can_move_to(to) {
            return Err(invalid(format!(
                "cannot call {call} in state {:?}",
                self.state
            )));
        }
        log::debug!("transactional.id {}: {:?} -> {to:?}", self.id, self.state);
        self.state = to;
        Ok(())
    }

    // ---- the sender's side ----

    /// What to send now. `quiet`: no batch of the producer is without its answer (EndTxn
    /// waits for that). Lowers `timeout` to a pending backoff.
    pub fn poll(&mut self, now: Instant, quiet: bool, timeout: &mut Duration) -> Option<Action> {
        if self.in_flight.is_some() {
            return None;
        }
        if let Some(t) = self.retry_at {
            if now < t {
                *timeout = (*timeout).min(t - now);
                return None;
            }
            self.retry_at = None;
        }
        let offsets = self.offsets.as_ref().map(|p| p.added);
        let action = match self.state {
            TxnState::Initializing => Action::InitProducerId,
            TxnState::InTransaction if offsets == Some(false) => Action::AddOffsets,
            TxnState::InTransaction if offsets == Some(true) => {
                if self.group_coordinator.is_none() {
                    return Some(Action::FindGroupCoordinator);
                }
                return Some(Action::TxnOffsetCommit);
            }
            TxnState::InTransaction | TxnState::Committing if !self.new_partitions.is_empty() => {
                Action::AddPartitions(self.new_partitions.iter().cloned().collect())
            }
            TxnState::Committing | TxnState::Aborting if quiet => {
                if !self.started {
                    // Nothing reached the coordinator: nothing to end.
                    self.complete_transaction();
                    return None;
                }
                Action::EndTxn {
                    commit: self.state == TxnState::Committing,
                }
            }
            _ => return None,
        };
        if self.coordinator.is_none() {
            return Some(Action::FindCoordinator);
        }
        Some(action)
    }

    /// `action` from [`TxnCore::poll`] went out.
    pub fn sent(&mut self, action: &Action) {
        self.in_flight = Some(action.api());
        if let Action::AddPartitions(tps) = action {
            for tp in tps {
                self.new_partitions.remove(tp);
            }
            self.pending_partitions = tps.clone();
        }
    }

    /// A request that could not be sent, or whose connection failed before the answer: the
    /// coordinator is looked up again, after the backoff.
    pub fn unanswered(&mut self, api: TxnApi, now: Instant) {
        if self.in_flight == Some(api) {
            self.in_flight = None;
        }
        self.new_partitions
            .extend(self.pending_partitions.drain(..));
        if api == TxnApi::EndTxn && !self.v2 {
            self.reinit_after_end = true;
        }
        match api {
            TxnApi::TxnOffsetCommit => self.group_coordinator = None,
            TxnApi::FindGroupCoordinator => {}
            _ => self.coordinator = None,
        }
        self.retry_at = Some(now + self.retry_backoff);
    }

    /// The FindCoordinator answer; returns the coordinator (node id, `host:port`) found.
    pub fn on_find_coordinator(
        &mut self,
        resp: Result<FindCoordinatorResponse, DecodeError>,
        now: Instant,
    ) -> Option<(i32, String)> {
        self.in_flight = None;
        let c = match resp {
            Ok(r) => r.coordinators.into_iter().next()?,
            Err(e) => {
                log::warn!("malformed FindCoordinator response: {e}");
                self.retry_at = Some(now + self.retry_backoff);
                return None;
            }
        };
        match classify(TxnApi::FindTxnCoordinator, c.error_code) {
            Verdict::Done => {
                log::info!(
                    "transactional.id {}: coordinator is node {} ({}:{})",
                    self.id,
                    c.node_id,
                    c.host,
                    c.port
                );
                self.coordinator = Some(c.node_id);
                Some((c.node_id, format!("{}:{}", c.host, c.port)))
            }
            v => {
                self.apply(TxnApi::FindTxnCoordinator, v, now);
                None
            }
        }
    }

    /// The FindCoordinator(group) answer; returns the group's coordinator found.
    pub fn on_find_group_coordinator(
        &mut self,
        resp: Result<FindCoordinatorResponse, DecodeError>,
        now: Instant,
    ) -> Option<(i32, String)> {
        self.in_flight = None;
        let c = self.decoded(resp, now)?.coordinators.into_iter().next()?;
        match classify(TxnApi::FindGroupCoordinator, c.error_code) {
            Verdict::Done => {
                self.group_coordinator = Some(c.node_id);
                Some((c.node_id, format!("{}:{}", c.host, c.port)))
            }
            v => {
                self.apply(TxnApi::FindGroupCoordinator, v, now);
                None
            }
        }
    }

    /// The AddOffsetsToTxn answer.
    pub fn on_add_offsets(
        &mut self,
        resp: Result<AddOffsetsToTxnResponse, DecodeError>,
        now: Instant,
    ) {
        self.in_flight = None;
        let Some(r) = self.decoded(resp, now) else {
            return;
        };
        match classify(TxnApi::AddOffsets, r.error_code) {
            Verdict::Done => {
                self.started = true;
                if let Some(p) = &mut self.offsets {
                    p.added = true;
                }
            }
            v => self.apply(TxnApi::AddOffsets, v, now),
        }
    }

    /// The TxnOffsetCommit answer.
    pub fn on_txn_offset_commit(
        &mut self,
        resp: Result<TxnOffsetCommitResponse, DecodeError>,
        now: Instant,
    ) {
        self.in_flight = None;
        let Some(r) = self.decoded(resp, now) else {
            return;
        };
        let worst = r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter())
            .map(|p| classify(TxnApi::TxnOffsetCommit, p.error_code))
            .max_by_key(|&v| rank(v))
            .unwrap_or(Verdict::Done);
        match worst {
            Verdict::Done => {
                self.started = true;
                self.offsets = None;
                self.finish(Ok(()));
            }
            v => self.apply(TxnApi::TxnOffsetCommit, v, now),
        }
    }

    /// The InitProducerId answer; returns the producer id and epoch obtained.
    pub fn on_init_producer_id(
        &mut self,
        resp: Result<InitProducerIdResponse, DecodeError>,
        now: Instant,
    ) -> Option<(i64, i16)> {
        self.in_flight = None;
        let r = self.decoded(resp, now)?;
        match classify(TxnApi::InitProducerId, r.error_code) {
            Verdict::Done => {
                self.bump_after_abort = false;
                self.reinit_after_end = false;
                self.producer = (r.producer_id, r.producer_epoch);
                log::info!(
                    "transactional.id {}: producer id {} epoch {}",
                    self.id,
                    r.producer_id,
                    r.producer_epoch
                );
                self.state = TxnState::Ready;
                self.finish(Ok(()));
                Some(self.producer)
            }
            v => {
                self.apply(TxnApi::InitProducerId, v, now);
                None
            }
        }
    }

    /// The AddPartitionsToTxn answer.
    pub fn on_add_partitions(
        &mut self,
        resp: Result<AddPartitionsToTxnResponse, DecodeError>,
        now: Instant,
    ) {
        self.in_flight = None;
        let pending = std::mem::take(&mut self.pending_partitions);
        let Some(r) = self.decoded(resp, now) else {
            self.new_partitions.extend(pending);
            return;
        };
        let mut worst = Verdict::Done;
        for tp in pending {
            let code = r
                .topics
                .iter()
                .find(|t| *t.name == *tp.topic)
                .and_then(|t| {
                    t.partitions
                        .iter()
                        .find(|p| p.partition_index == tp.partition)
                })
                .map_or(ErrorCode::UNKNOWN_SERVER_ERROR, |p| p.error_code);
            let v = classify(TxnApi::AddPartitions, code);
            if v == Verdict::Done {
                self.added.insert(tp);
                self.started = true;
            } else {
                self.new_partitions.insert(tp);
                if rank(v) > rank(worst) {
                    worst = v;
                }
            }
        }
        if worst == Verdict::Retry {
            // CONCURRENT_TRANSACTIONS, mostly: the previous transaction is completing.
            self.retry_at = Some(now + CONCURRENT_BACKOFF.min(self.retry_backoff));
        } else if worst != Verdict::Done {
            self.apply(TxnApi::AddPartitions, worst, now);
        }
    }

    /// The EndTxn answer; under protocol v2, returns the new producer id and epoch.
    pub fn on_end_txn(
        &mut self,
        resp: Result<EndTxnResponse, DecodeError>,
        now: Instant,
    ) -> Option<(i64, i16)> {
        self.in_flight = None;
        let r = self.decoded(resp, now)?;
        match classify(TxnApi::EndTxn, r.error_code) {
            Verdict::Done => {
                let bumped =
                    (self.v2 && r.producer_id >= 0).then_some((r.producer_id, r.producer_epoch));
                if let Some(p) = bumped {
                    self.producer = p;
                }
                let after_sequence_error =
                    self.state == TxnState::Aborting && self.bump_after_abort;
                if (after_sequence_error || self.reinit_after_end) && !self.v2 {
                    // The call's result waits for the new epoch.
                    log::info!(
                        "transactional.id {}: transaction ended after {}; bumping the epoch",
                        self.id,
                        if self.reinit_after_end {
                            "an EndTxn whose answer never came"
                        } else {
                            "a sequence error"
                        }
                    );
                    self.added.clear();
                    self.new_partitions.clear();
                    self.started = false;
                    self.state = TxnState::Initializing;
                    return None;
                }
                self.bump_after_abort = false;
                self.complete_transaction();
                bumped
            }
            v => {
                self.apply(TxnApi::EndTxn, v, now);
                None
            }
        }
    }

    /// A batch of the transaction failed for good: the transaction cannot commit (fencing:
    /// the producer is finished).
    pub fn batch_failed(&mut self, tp: &TopicPartition, err: &Error) {
        // Its sequences may be out of step with the broker's (refused on them, or perhaps
        // written): the next transaction needs a new epoch.
        self.bump_after_abort |= err.delivery() == crate::error::Delivery::Unknown
            || matches!(err, Error::Broker { code, .. }
                if *code == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
                    || *code == ErrorCode::UNKNOWN_PRODUCER_ID);
        if !matches!(self.state, TxnState::InTransaction | TxnState::Committing) {
            return;
        }
        let fenced = matches!(err, Error::Broker { code, .. }
            if *code == ErrorCode::PRODUCER_FENCED || *code == ErrorCode::INVALID_PRODUCER_EPOCH);

        if fenced {
            self.fatal(ErrorCode::PRODUCER_FENCED);
        } else {
            self.abortable(format!(
                "a batch for {tp} failed ({err}): the transaction cannot commit, abort it"
            ));
        }
    }

    /// The error queued batches are answered with now, if they must be: the transaction is
    /// aborting, abortable or the producer fatally failed.
    pub fn undrained_error(&self) -> Option<Error> {
        match self.state {
            TxnState::Aborting => Some(Error::transaction(
                Kind::Abortable,
                "the transaction was aborted before the record was sent",
            )),
            TxnState::AbortableError => Some(self.error_or(Kind::Abortable)),
            TxnState::FatalError => Some(self.error_or(Kind::Fatal)),
            _ => None,
        }
    }

    /// Whether `tp`'s front batch may be drained: added to the transaction (v1).
    pub fn may_drain(&self, tp: &TopicPartition) -> bool {
        self.v2 || self.added.contains(tp)
    }

    /// A batch was drained (v2: the partition joins with this Produce).
    pub fn drained(&mut self) {
        self.started = true;
    }

    /// The producer closes: an operation still waiting is answered.
    pub fn close(&mut self) {
        if matches!(self.op, Some((_, None))) {
            self.finish(Err(Error::Closed {
                delivery: crate::error::Delivery::Unknown,
            }));
        }
    }

    fn complete_transaction(&mut self) {
        log::debug!(
            "transactional.id {}: transaction {}",
            self.id,
            if self.state == TxnState::Committing {
                "committed"
            } else {
                "aborted"
            }
        );
        self.state = TxnState::Ready;
        self.added.clear();
        self.new_partitions.clear();
        self.started = false;
        self.last_error = None;
        self.finish(Ok(()));
    }

    fn decoded<R>(&mut self, resp: Result<R, DecodeError>, now: Instant) -> Option<R> {
        match resp {
            Ok(r) => Some(r),
            Err(e) => {
                log::warn!("malformed transaction coordinator response: {e}");
                self.coordinator = None;
                self.retry_at = Some(now + self.retry_backoff);
                None
            }
        }
    }

    /// A verdict other than Done.
    fn apply(&mut self, api: TxnApi, v: Verdict, now: Instant) {
        match v {
            Verdict::Done => {}
            Verdict::Retry => self.retry_at = Some(now + self.retry_backoff),
            Verdict::Refind { group } => {
                if group {
                    self.group_coordinator = None;
                } else {
                    self.coordinator = None;
                }
                self.retry_at = Some(now + self.retry_backoff);
            }
            Verdict::Abortable(code) | Verdict::AbortableIfBumpable(code) => {
                if api == TxnApi::EndTxn && self.state == TxnState::Aborting {
                    // Java: an abort that fails this way leaves nothing to abort again.
                    self.fatal(code);
                } else {
                    self.abortable(format!("{:?} answered {code}", api));
                }
            }
            Verdict::Fatal(code) => self.fatal(code),
        }
    }

    fn abortable(&mut self, reason: String) {
        if !self.state.can_move_to(TxnState::AbortableError) {
            return;
        }
        log::warn!("transactional.id {}: {reason}", self.id);
        self.state = TxnState::AbortableError;
        self.offsets = None;
        let err = Error::transaction(Kind::Abortable, reason);
        self.last_error = Some(err.clone());
        self.finish(Err(err));
    }

    /// The coordinator speaks no version of a request the transaction needs (InitProducerId v3
    /// to bump an epoch needs Kafka 2.5, KIP-360): asking again cannot help, so the producer
    /// is finished for transactions instead of retrying forever.
    pub fn unsupported(&mut self, api: TxnApi, why: &str) {
        self.in_flight = None;
        let reason = format!(
            "transactional.id {:?}: the transaction coordinator cannot do {api:?}: {why}",
            self.id
        );
        self.finished_for_good(reason);
    }

    fn fatal(&mut self, code: ErrorCode) {
        let reason = if code == ErrorCode::PRODUCER_FENCED {
            format!(
                "producer fenced: another producer with transactional.id {:?} was initialized \
                 since ({})",
                self.id,
                code.name()
            )
        } else {
            format!("transactional.id {:?}: {code}", self.id)
        };
        self.finished_for_good(reason);
    }

    /// The fatal state: every later call fails with `reason`.
    fn finished_for_good(&mut self, reason: String) {
        log::error!("{reason}");
        self.state = TxnState::FatalError;
        self.offsets = None;
        let err = Error::transaction(Kind::Fatal, reason);
        self.last_error = Some(err.clone());
        self.finish(Err(err));
    }

    fn finish(&mut self, result: Result<(), Error>) {
        if let Some((_, r @ None)) = &mut self.op {
            *r = Some(result);
        }
    }
}

/// Which verdict of several partitions' wins: fatal over abortable over looking up again
/// over retrying.
fn rank(v: Verdict) -> u8 {
    match v {
        Verdict::Done => 0,
        Verdict::Retry => 1,
        Verdict::Refind { .. } => 2,
        Verdict::Abortable(_) | Verdict::AbortableIfBumpable(_) => 3,
        Verdict::Fatal(_) => 4,
    }
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::transaction(Kind::InvalidState, reason)
}

#[cfg(test)]
mod tests;

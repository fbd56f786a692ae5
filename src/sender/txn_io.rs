//! The loop's I/O for a transactional producer: sends what the transaction state machine
//! ([`TxnCore::poll`](super::transactions::TxnCore::poll)) asks for, to the coordinator it
//! found, and hands the answers back. The decisions are the state machine's; this file only
//! builds requests, picks the node (the transaction's coordinator, or for TxnOffsetCommit the
//! group's) and applies the effects (the producer id and epoch, the coordinators' addresses,
//! batches answered on abort).

use super::transactions::{Action, TxnRequest};
use super::txn_state::TxnApi;
use super::{RequestCtx, Sender};
use crate::net::{SendError, Transport};
use crate::protocol::add_offsets_to_txn::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};
use crate::protocol::add_partitions_to_txn::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, TxnTopic,
};
use crate::protocol::end_txn::{self, EndTxnRequest, EndTxnResponse};
use crate::protocol::find_coordinator::{
    CoordinatorType, FindCoordinatorRequest, FindCoordinatorResponse,
};
use crate::protocol::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
use crate::protocol::txn_offset_commit::{
    TxnOffset, TxnOffsetCommitRequest, TxnOffsetCommitResponse, TxnOffsetTopic,
};
use crate::protocol::versions::ApiVersionTable;
use crate::protocol::{produce, Request};
use crate::record::{OffsetAndMetadata, TopicPartition};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Whether the broker has transactions protocol v2 (KIP-890): finalized
/// `transaction.version` >= 2 (Java's `maybeUpdateTransactionV2Enabled`), and the versions
/// it needs (EndTxn v5, Produce v12).
pub(super) fn supports_v2(versions: &ApiVersionTable) -> bool {
    let feature = versions.finalized("transaction.version").unwrap_or(0);
    let end_txn = versions
        .negotiate(
            end_txn::API_KEY,
            end_txn::FIRST_TRANSACTIONS_V2_VERSION,
            end_txn::MAX_VERSION,
        )
        .is_some();
    let produce = versions
        .negotiate(
            produce::API_KEY,
            produce::FIRST_TRANSACTIONS_V2_VERSION,
            produce::MAX_VERSION,
        )
        .is_some();
    feature >= 2 && end_txn && produce
}

impl<T: Transport> Sender<T> {
    /// A transactional producer's turn: answers the batches an abort or an error leaves
    /// unsent, then sends the state machine's next request, if any.
    pub(super) fn transaction_turn(&mut self, now: Instant, timeout: &mut Duration) {
        let Some(txn) = self.txn.transactions().cloned() else {
            return;
        };
        let undrained = txn.lock().undrained_error();
        if let Some(err) = undrained {
            for b in self.shared.accumulator.take_undrained() {
                self.fail(b, err.clone(), now);
            }
        }
        let quiet = !self.shared.accumulator.has_incomplete()
            && !self
                .pool
                .in_flight()
                .any(|c| matches!(c, RequestCtx::Produce(_)));
        let mut core = txn.lock();
        let action = core.poll(now, quiet, timeout);
        let Some(action) = action else {
            drop(core);
            txn.notify();
            return;
        };
        let target = match action {
            Action::FindCoordinator | Action::FindGroupCoordinator => self.pool.least_loaded(now),
            Action::TxnOffsetCommit => core.group_coordinator().filter(|&c| {
                let ready = self.pool.ensure_connected(c, now) && self.pool.can_send(c);
                if !ready {
                    if let Some(d) = self.pool.next_reconnect(now) {
                        *timeout = (*timeout).min(d.max(Duration::from_millis(1)));
                    }
                }
                ready
            }),
            _ => core.coordinator().filter(|&c| {
                let ready = self.pool.ensure_connected(c, now) && self.pool.can_send(c);
                if !ready {
                    if let Some(d) = self.pool.next_reconnect(now) {
                        *timeout = (*timeout).min(d.max(Duration::from_millis(1)));
                    }
                }
                ready
            }),
        };
        let Some(node) = target else {
            return;
        };
        if action == Action::InitProducerId {
            let v2 = self.pool.versions(node).is_some_and(supports_v2);
            core.set_v2(v2);
            self.txn.set_v2(v2);
        }
        let api = action.api();
        let ctx = RequestCtx::Txn(TxnRequest::Transactional(api));
        let id = core.transactional_id().to_string();
        let (pid, epoch) = core.producer();
        let sent = match &action {
            Action::FindCoordinator => {
                let req = FindCoordinatorRequest {
                    key: &id,
                    key_type: CoordinatorType::Transaction,
                };
                // v1 has the key type.
                self.pool
                    .send(node, &req, 1, ctx, now)
                    .map_err(NotSent::from)
            }
            Action::FindGroupCoordinator => {
                let group = core.pending_offsets().map_or("", |p| &p.group.group_id);
                let req = FindCoordinatorRequest {
                    key: group,
                    key_type: CoordinatorType::Group,
                };
                self.pool
                    .send(node, &req, 0, ctx, now)
                    .map_err(NotSent::from)
            }
            Action::AddOffsets => {
                let group = core.pending_offsets().map_or("", |p| &p.group.group_id);
                let req = AddOffsetsToTxnRequest {
                    transactional_id: &id,
                    producer_id: pid,
                    producer_epoch: epoch,
                    group_id: group,
                };
                self.pool
                    .send(node, &req, 0, ctx, now)
                    .map_err(NotSent::from)
            }
            Action::TxnOffsetCommit => {
                let Some(p) = core.pending_offsets() else {
                    return;
                };
                let by_topic = offsets_by_topic(&p.offsets);
                let topics: Vec<TxnOffsetTopic<'_>> = by_topic
                    .iter()
                    .map(|(name, partitions)| TxnOffsetTopic { name, partitions })
                    .collect();
                let req = TxnOffsetCommitRequest {
                    transactional_id: &id,
                    group_id: &p.group.group_id,
                    producer_id: pid,
                    producer_epoch: epoch,
                    generation_id: p.group.generation_id,
                    member_id: &p.group.member_id,
                    group_instance_id: p.group.group_instance_id.as_deref(),
                    topics: &topics,
                };
                // Java: v5 for transactions v2, below it for v1.
                let (min, max) = if core.is_v2() {
                    (TXN_OFFSET_COMMIT_V2, TxnOffsetCommitRequest::MAX_VERSION)
                } else {
                    (0, TXN_OFFSET_COMMIT_V2 - 1)
                };
                self.send_capped(node, &req, min, max, ctx, now)
            }
            Action::InitProducerId => {
                let mut req = InitProducerIdRequest::new(Some(&id), core.timeout_ms());
                // After init, a re-initialization bumps the current id's epoch (KIP-360,
                // InitProducerId v3+).
                let min = if pid >= 0 {
                    (req.producer_id, req.producer_epoch) = (pid, epoch);
                    3
                } else {
                    0
                };
                self.pool
                    .send(node, &req, min, ctx, now)
                    .map_err(NotSent::from)
            }
            Action::AddPartitions(tps) => {
                let topics = by_topic(tps);
                let topics: Vec<TxnTopic<'_>> = topics
                    .iter()
                    .map(|(name, parts)| TxnTopic {
                        name,
                        partitions: parts,
                    })
                    .collect();
                let req = AddPartitionsToTxnRequest {
                    transactional_id: &id,
                    producer_id: pid,
                    producer_epoch: epoch,
                    topics: &topics,
                };
                self.pool
                    .send(node, &req, 0, ctx, now)
                    .map_err(NotSent::from)
            }
            Action::EndTxn { commit } => {
                let req = EndTxnRequest {
                    transactional_id: &id,
                    producer_id: pid,
                    producer_epoch: epoch,
                    committed: *commit,
                };
                let v2 = core.is_v2();
                let (min, max) = if v2 {
                    (
                        end_txn::FIRST_TRANSACTIONS_V2_VERSION,
                        EndTxnRequest::MAX_VERSION,
                    )
                } else {
                    (0, end_txn::FIRST_TRANSACTIONS_V2_VERSION - 1)
                };
                self.send_capped(node, &req, min, max, ctx, now)
            }
        };
        match sent {
            Ok(()) => core.sent(&action),
            // A ready coordinator that speaks no version of the request will not learn one.
            Err(NotSent::Unsupported(why)) => {
                let why = match action {
                    Action::InitProducerId if pid >= 0 => {
                        format!("{why} (bumping an epoch needs InitProducerId v3, Kafka 2.5+)")
                    }
                    _ => why,
                };
                core.unsupported(api, &why);
            }
            Err(NotSent::Failed(e)) => {
                log::warn!("node {node}: cannot send {api:?}: {e}");
                core.unanswered(api, now);
            }
        }
        drop(core);
        txn.notify();
    }

    /// Sends `req` at the highest version in `min..=max` the node speaks.
    fn send_capped<R: Request>(
        &mut self,
        node: i32,
        req: &R,
        min: i16,
        max: i16,
        ctx: RequestCtx,
        now: Instant,
    ) -> Result<(), NotSent> {
        let Some(versions) = self.pool.versions(node) else {
            return Err(NotSent::Failed("not ready".into()));
        };
        let Some(version) = versions.negotiate(R::API_KEY, min, max) else {
            return Err(NotSent::Unsupported(format!(
                "no version of API {} in {min}..={max}",
                R::API_KEY
            )));
        };
        self.pool
            .send_with(node, R::API_KEY, version, true, ctx, now, |_, b| {
                req.encode_body(version, b.bytes())
            })
            .map_err(|(e, _)| NotSent::Failed(e))
    }

    /// The answer to a transaction request.
    pub(super) fn on_txn_answer(&mut self, api: TxnApi, version: i16, body: &[u8], now: Instant) {
        let Some(txn) = self.txn.transactions().cloned() else {
            return;
        };
        let mut core = txn.lock();
        match api {
            TxnApi::FindTxnCoordinator => {
                let resp = FindCoordinatorResponse::decode(body, version);
                if let Some((node, addr)) = core.on_find_coordinator(resp, now) {
                    // A broker of the cluster; the pool may not have met it yet.
                    self.pool.sync(&HashMap::from([(node, addr)]));
                }
            }
            TxnApi::InitProducerId => {
                let resp = InitProducerIdResponse::decode(body, version);
                if let Some((pid, epoch)) = core.on_init_producer_id(resp, now) {
                    self.txn.idempotence().set_producer(pid, epoch);
                }
            }
            TxnApi::AddPartitions => {
                let resp = AddPartitionsToTxnResponse::decode(body, version);
                core.on_add_partitions(resp, now);
            }
            TxnApi::EndTxn => {
                let resp = EndTxnResponse::decode(body, version);
                if let Some((pid, epoch)) = core.on_end_txn(resp, now) {
                    // v2: the next transaction runs under the new epoch, sequences from 0.
                    self.txn.idempotence().set_producer(pid, epoch);
                }
            }
            TxnApi::FindGroupCoordinator => {
                let resp = FindCoordinatorResponse::decode(body, version);
                if let Some((node, addr)) = core.on_find_group_coordinator(resp, now) {
                    self.pool.sync(&HashMap::from([(node, addr)]));
                }
            }
            TxnApi::AddOffsets => {
                core.on_add_offsets(AddOffsetsToTxnResponse::decode(body, version), now)
            }
            TxnApi::TxnOffsetCommit => {
                core.on_txn_offset_commit(TxnOffsetCommitResponse::decode(body, version), now)
            }
        }
        drop(core);
        txn.notify();
    }

    /// A transaction request whose connection failed before its answer.
    pub(super) fn on_txn_unanswered(&mut self, api: TxnApi, now: Instant) {
        if let Some(txn) = self.txn.transactions().cloned() {
            txn.lock().unanswered(api, now);
            txn.notify();
        }
    }

    /// The producer closes: a caller still waiting for a transaction call is answered.
    pub(super) fn close_transactions(&mut self) {
        if let Some(txn) = self.txn.transactions().cloned() {
            txn.lock().close();
            txn.notify();
        }
    }
}

/// The first TxnOffsetCommit version of transactions protocol v2.
const TXN_OFFSET_COMMIT_V2: i16 = 5;

/// Offsets grouped by topic, in order.
fn offsets_by_topic(
    offsets: &[(TopicPartition, OffsetAndMetadata)],
) -> Vec<(&str, Vec<TxnOffset<'_>>)> {
    let mut out: Vec<(&str, Vec<TxnOffset<'_>>)> = Vec::new();
    for (tp, o) in offsets {
        let offset = TxnOffset {
            partition_index: tp.partition,
            committed_offset: o.offset,
            committed_leader_epoch: o.leader_epoch.unwrap_or(-1),
            committed_metadata: o.metadata.as_deref(),
        };
        match out.iter_mut().find(|(t, _)| *t == &*tp.topic) {
            Some((_, v)) => v.push(offset),
            None => out.push((&tp.topic, vec![offset])),
        }
    }
    out
}

/// Partitions grouped by topic, in order.
fn by_topic(tps: &[TopicPartition]) -> Vec<(&str, Vec<i32>)> {
    let mut out: Vec<(&str, Vec<i32>)> = Vec::new();
    for tp in tps {
        match out.iter_mut().find(|(t, _)| *t == &*tp.topic) {
            Some((_, parts)) => parts.push(tp.partition),
            None => out.push((&tp.topic, vec![tp.partition])),
        }
    }
    out
}

/// Why a transaction request was not sent.
enum NotSent {
    /// The ready coordinator speaks no version of it in our range: asking again cannot help.
    Unsupported(String),
    /// Not ready, or the write failed: asked again after the backoff.
    Failed(String),
}

impl<C> From<SendError<C>> for NotSent {
    fn from(e: SendError<C>) -> Self {
        match e {
            SendError::Unsupported(_) => NotSent::Unsupported(e.to_string()),
            SendError::Failed(reason, _) => NotSent::Failed(reason),
        }
    }
}

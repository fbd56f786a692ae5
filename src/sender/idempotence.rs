//! Idempotence (KIP-98, KIP-360) as a pure state machine: the producer id and epoch, and per
//! partition the next sequence, the batches in flight and what is pending (a retry, a hole, a
//! sequence whose fate is unknown, a new epoch).
//!
//! No I/O and no clock: the sender feeds it drains ([`DrainHook`]), every batch's outcome
//! ([`Idempotence::on_outcome`], the one entry point, so no caller can do half of the
//! bookkeeping), the broker's idempotence errors ([`Idempotence::classify_error`]), and asks
//! it before each drain to settle what it can ([`Idempotence::settle_sequences`]).
//!
//! The rules, as Java's idempotent producer has them:
//! - A producer id and epoch are obtained before the first batch is drained; each partition's
//!   sequence is assigned when a batch is first drained and kept across its retries.
//! - Up to `max.in.flight` (<= 5) batches of a partition may be in flight. When one fails and
//!   is retried, the partition stops draining until every batch of it in flight has come back,
//!   and retries go out again in sequence order (the accumulator keeps re-enqueued batches
//!   sorted by sequence).
//! - OUT_OF_ORDER_SEQUENCE_NUMBER is retried when an earlier batch of the partition is itself
//!   pending (the broker refused it only because of the gap); unexplained, the sequences
//!   diverged and the partition restarts under a new epoch. DUPLICATE_SEQUENCE_NUMBER means the
//!   broker already has the batch: written.
//! - A batch that fails for good while it may have been written (delivery timeout, retries
//!   exhausted after an unanswered attempt) can neither give its sequences to later batches
//!   nor leave them out: its partition's sequence is *unresolved* and new batches wait. Once
//!   nothing of the partition is in flight or queued for a retry, a later acknowledged batch
//!   proves the unknown one was written; otherwise the epoch is bumped and the partition
//!   restarts at sequence 0.
//! - A batch refused for good leaves a *hole*: later batches are renumbered to close it (Java's
//!   `adjustSequencesDueToFailedBatch`), except when the broker already took a later sequence
//!   (it had no state for the producer), when a new epoch starts the partition clean.
//! - UNKNOWN_PRODUCER_ID is retried after an epoch bump; INVALID_PRODUCER_EPOCH /
//!   PRODUCER_FENCED fail the batch and get a new producer id.

use crate::accumulator::{DrainHook, ProducerBatch, RecordAccumulator};
use crate::error::Error;
use crate::protocol::ErrorCode;
use crate::record::TopicPartition;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

/// What became of a batch's attempt, for [`Idempotence::on_outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The broker has it (acknowledged, or DUPLICATE_SEQUENCE_NUMBER).
    Written,
    /// It goes back to its queue for another attempt.
    Retry,
    /// It will not be retried. `refused`: the broker answered every attempt with an error, so
    /// it is not in the log and its sequences must be reused.
    Failed { refused: bool },
}

/// Idempotent-producer state (KIP-98, KIP-360): producer id, epoch, and per partition the
/// next sequence to assign, the batches in flight and what is pending (a retry, a hole, a
/// sequence whose fate is unknown, a new epoch).
#[derive(Debug, Default)]
pub(crate) struct Idempotence {
    enabled: bool,
    producer_id: i64,
    producer_epoch: i16,
    partitions: HashMap<TopicPartition, PartitionSeq>,
    /// Partitions that may have a hole or an unresolved sequence: added when one is recorded,
    /// pruned once settled. The bookkeeping before each drain visits these, not every
    /// partition ever drained, so its cost per turn does not grow with idle partitions.
    attention: HashSet<TopicPartition>,
    max_in_flight: usize,
    /// Partitions whose sequences must restart at 0 under a new epoch (KIP-360). They drain
    /// nothing until it is done ([`Idempotence::bump_epoch_if_due`]).
    bumps: HashMap<TopicPartition, Bump>,
    /// The next bump takes a new producer id (InitProducerId) instead of the next epoch:
    /// INVALID_PRODUCER_EPOCH or PRODUCER_FENCED answered a batch of the current id/epoch.
    new_id_needed: bool,
    /// Batches are marked transactional (a `transactional.id` producer).
    transactional: bool,
}

/// Why a partition waits for a new epoch, and what the broker proved about its batches.
#[derive(Debug, Clone, Copy)]
struct Bump {
    /// The error behind it: the answer given to a queued retry that cannot be resent.
    cause: ErrorCode,
    /// (producer id, epoch, sequence): the broker refused this sequence OUT_OF_ORDER or
    /// UNKNOWN_PRODUCER_ID with nothing earlier pending, so no batch of the partition from
    /// this sequence on, under that id and epoch, is in the log.
    absent_from: Option<(i64, i16, i32)>,
}

#[derive(Debug, Default)]
struct PartitionSeq {
    /// The producer id and epoch the sequences below belong to. `None` (a new partition, or
    /// one just reset by an epoch bump) or an older pair than the producer's: the next new
    /// batch starts again at sequence 0 under the current pair, once nothing of the
    /// partition is in flight or waiting for a retry.
    owner: Option<(i64, i16)>,
    next_sequence: i32,
    /// Base sequences of this partition's batches in flight.
    in_flight: Vec<i32>,
    /// Lowest base sequence re-enqueued for retry and not yet acknowledged.
    retrying: Option<i32>,
    /// Lowest base sequence of a batch that failed for good without being written (the broker
    /// refused it). The broker will never see that sequence, so every later batch would be
    /// refused OUT_OF_ORDER_SEQUENCE_NUMBER forever: the partition stops draining until its
    /// batches in flight are back, then the queued batches after the hole are renumbered
    /// ([`Idempotence::close_sequence_holes`]), as Java's `adjustSequencesDueToFailedBatch` does.
    hole: Option<i32>,
    /// Highest sequence acknowledged under `owner`.
    last_acked: Option<i32>,
    /// The sequence after the last batch that failed for good while it may have been written
    /// (delivery timeout, retries exhausted, refused after an unanswered attempt): neither
    /// reusable nor skippable until known. New batches wait; once nothing of the partition is
    /// in flight or queued for a retry, [`Idempotence::resolve_sequences`] settles it (Java's
    /// `markSequenceUnresolved` / `maybeResolveSequences`).
    unresolved: Option<i32>,
}

impl DrainHook for Idempotence {
    fn can_drain(&mut self, tp: &TopicPartition, first: &ProducerBatch, _now: Instant) -> bool {
        if !self.enabled {
            return true;
        }
        if self.producer_id < 0 || self.bumps.contains_key(tp) {
            return false;
        }
        let Some(p) = self.partitions.get(tp) else {
            return true;
        };
        if p.in_flight.len() >= self.max_in_flight || p.hole.is_some() {
            return false;
        }
        if !first.has_sequence() {
            // A new batch waits while an earlier sequence's fate is unknown, and while
            // batches under an older id/epoch are still out (it would start at sequence 0
            // under the new one, and could land before them).
            if p.unresolved.is_some() {
                return false;
            }
            let stale = p.owner != Some((self.producer_id, self.producer_epoch));
            if stale && (!p.in_flight.is_empty() || p.retrying.is_some()) {
                return false;
            }
            // Until the broker has acknowledged a batch of this id/epoch on the partition it
            // may hold no state for the producer, and a broker without state takes any
            // sequence as the first: were the first batch refused (NOT_LEADER on a topic just
            // created) while the second is accepted, the first could only land after it, out
            // of order. So one batch at a time until the first acknowledgement; it costs one
            // round trip per partition and epoch.
            if !stale && p.last_acked.is_none() && !p.in_flight.is_empty() {
                return false;
            }
        }
        // While a retry is pending, resend nothing until every batch in flight has come back;
        // then resend in sequence order, starting with the lowest.
        if p.retrying.is_some() {
            return p.in_flight.is_empty() && first.has_sequence();
        }
        true
    }

    fn on_drain(&mut self, batch: &mut ProducerBatch, first_time: bool) {
        if !self.enabled {
            return;
        }
        let current = (self.producer_id, self.producer_epoch);
        let p = self
            .partitions
            .entry(batch.topic_partition().clone())
            .or_default();
        if first_time || !batch.has_sequence() {
            if p.owner != Some(current) {
                // The first batch of the partition under this id/epoch: sequences restart at
                // 0 (can_drain made sure nothing older is pending).
                *p = PartitionSeq {
                    owner: Some(current),
                    ..PartitionSeq::default()
                };
            }
            batch.set_producer_state(current.0, current.1, p.next_sequence, self.transactional);
            p.next_sequence = p.next_sequence.wrapping_add(batch.record_count()) & i32::MAX;
        }
        p.in_flight.push(batch.base_sequence());
    }
}

impl Idempotence {
    /// A producer without idempotence (`enabled` false: every hook lets everything through)
    /// or with it, allowing `max_in_flight` batches per partition in flight.
    pub fn new(enabled: bool, max_in_flight: usize) -> Self {
        Idempotence {
            enabled,
            producer_id: -1,
            producer_epoch: -1,
            max_in_flight: max_in_flight.max(1),
            ..Default::default()
        }
    }

    /// Batches are marked transactional from now on.
    pub fn set_transactional(&mut self) {
        self.transactional = true;
    }

    /// Whether a producer id must be obtained before anything is drained.
    pub fn needs_producer_id(&self) -> bool {
        self.enabled && self.producer_id < 0
    }

    /// InitProducerId answered.
    pub fn set_producer(&mut self, producer_id: i64, epoch: i16) {
        self.producer_id = producer_id;
        self.producer_epoch = epoch;
    }

    /// The one entry point for a batch that came back from an attempt (answered, lost with
    /// its connection, refused before it was sent, expired in the queue): it leaves the
    /// partition's in-flight set and its outcome is recorded, so no caller can do half of it.
    pub fn on_outcome(&mut self, batch: &ProducerBatch, outcome: Outcome) {
        self.batch_returned(batch);
        match outcome {
            Outcome::Written => self.acknowledged(batch),
            Outcome::Retry => self.retry_scheduled(batch),
            Outcome::Failed { refused } => self.failed_for_good(batch, refused),
        }
    }

    fn batch_returned(&mut self, batch: &ProducerBatch) {
        if let Some(p) = self.partitions.get_mut(batch.topic_partition()) {
            if let Some(i) = p.in_flight.iter().position(|&s| s == batch.base_sequence()) {
                p.in_flight.swap_remove(i);
            }
        }
    }
    fn retry_scheduled(&mut self, batch: &ProducerBatch) {
        if !self.enabled {
            return;
        }
        if let Some(p) = self.partitions.get_mut(batch.topic_partition()) {
            let s = batch.base_sequence();
            p.retrying = Some(p.retrying.map_or(s, |r| r.min(s)));
        }
    }
    fn acknowledged(&mut self, batch: &ProducerBatch) {
        if !self.enabled {
            return;
        }
        if let Some(p) = self.partitions.get_mut(batch.topic_partition()) {
            if p.retrying == Some(batch.base_sequence()) {
                p.retrying = None;
            }
            // The broker took a sequence after the hole (it had no state for this producer
            // and accepted it as a first batch): there is nothing to renumber.
            if p.hole.is_some_and(|h| h < batch.base_sequence()) {
                p.hole = None;
            }
            if p.owner == Some((batch.producer_id(), batch.producer_epoch())) {
                let last = batch.last_sequence();
                p.last_acked = Some(p.last_acked.map_or(last, |a| a.max(last)));
            }
        }
    }
    /// Whether an OUT_OF_ORDER_SEQUENCE_NUMBER for this batch is explained by an earlier batch
    /// of the same partition still pending: being retried, in flight, dropped (a hole to be
    /// renumbered), or of unknown fate with another batch right after it.
    fn gap_explained(&self, batch: &ProducerBatch) -> bool {
        let s = batch.base_sequence();
        self.partitions
            .get(batch.topic_partition())
            .is_some_and(|p| {
                p.retrying.is_some_and(|r| r < s)
                    || p.hole.is_some_and(|h| h < s)
                    || p.in_flight.iter().any(|&f| f < s)
                    || p.unresolved.is_some_and(|u| u < s)
            })
    }
    /// A batch will not be retried. If the broker refused it (`not_written`), its sequence
    /// range becomes a hole that later batches must close; if it may have been written, its
    /// partition's sequence becomes unresolved.
    fn failed_for_good(&mut self, batch: &ProducerBatch, not_written: bool) {
        if !self.enabled {
            return;
        }
        if let Some(p) = self.partitions.get_mut(batch.topic_partition()) {
            let s = batch.base_sequence();
            if p.retrying == Some(s) {
                p.retrying = None;
            }
            let ours = batch.has_sequence()
                && p.owner == Some((batch.producer_id(), batch.producer_epoch()));
            if !ours {
                return;
            }
            if not_written {
                p.hole = Some(p.hole.map_or(s, |h| h.min(s)));
            } else {
                let next = batch.last_sequence().wrapping_add(1) & i32::MAX;
                p.unresolved = Some(p.unresolved.map_or(next, |u| u.max(next)));
            }
            self.attention.insert(batch.topic_partition().clone());
        }
    }
    /// Asks for a new epoch before `tp` sends again. `absent` is the batch whose refusal
    /// proves that it and every later batch of the partition (same id and epoch) is not in
    /// the log.
    fn request_bump(
        &mut self,
        tp: &TopicPartition,
        cause: ErrorCode,
        absent: Option<&ProducerBatch>,
    ) {
        if self.transactional {
            // The coordinator owns the epoch: the transaction's abort bumps it.
            log::info!("{tp}: {cause}; its sequences restart with the next transaction's epoch");
            return;
        }
        let entry = self.bumps.entry(tp.clone()).or_insert(Bump {
            cause,
            absent_from: None,
        });
        if let Some(b) = absent {
            let (pid, epoch, s) = (b.producer_id(), b.producer_epoch(), b.base_sequence());
            entry.absent_from = Some(match entry.absent_from {
                Some((p, e, old)) if (p, e) == (pid, epoch) => (p, e, old.min(s)),
                _ => (pid, epoch, s),
            });
        }
        log::info!("{tp}: {cause}; its sequences restart under a new producer epoch");
    }
}

impl Idempotence {
    /// Bookkeeping before a drain: settles unresolved sequences, starts a new epoch when one
    /// is due, and closes sequence holes, in that order. Returns the queued retries that
    /// cannot be resent under the new epoch, with the error to answer them with.
    pub fn settle_sequences(&mut self, acc: &RecordAccumulator) -> Vec<(ProducerBatch, Error)> {
        if !self.enabled {
            return Vec::new();
        }
        if self.attention.is_empty() && self.bumps.is_empty() {
            return Vec::new();
        }
        self.resolve_sequences(acc);
        let failed = self.bump_epoch_if_due(acc);
        self.close_sequence_holes(acc);
        let partitions = &self.partitions;
        self.attention.retain(|tp| {
            partitions
                .get(tp)
                .is_some_and(|p| p.hole.is_some() || p.unresolved.is_some())
        });
        failed
    }

    /// Settles [`PartitionSeq::unresolved`] for partitions with nothing in flight and no
    /// retry queued. A batch acknowledged after the unknown one proves that the unknown one
    /// was written (the broker takes sequences in order), so nothing is to be done; otherwise
    /// nobody can tell, and the partition restarts at sequence 0 under a new epoch (KIP-360),
    /// which the broker accepts whatever it has of the old one. A partition still on an older
    /// id/epoch needs no new epoch: it moves to the current one with its next batch.
    fn resolve_sequences(&mut self, acc: &RecordAccumulator) {
        let current = (self.producer_id, self.producer_epoch);
        let mut bump = Vec::new();
        for tp in &self.attention {
            let Some(p) = self.partitions.get_mut(tp) else {
                continue;
            };
            let Some(u) = p.unresolved else { continue };
            if !p.in_flight.is_empty() || self.bumps.contains_key(tp) {
                continue;
            }
            let mut retry_queued = false;
            acc.for_each_queued(tp, |b| retry_queued |= b.has_sequence() && !b.is_done());
            if retry_queued {
                continue;
            }
            let written_after = p
                .last_acked
                .is_some_and(|a| i64::from(a) + 1 >= i64::from(u));
            if written_after || p.owner != Some(current) {
                log::debug!("{tp}: sequence before {u} resolved (a later batch was acknowledged, or the epoch moved on)");
                p.unresolved = None;
            } else {
                bump.push(tp.clone());
            }
        }
        for tp in bump {
            log::info!(
                "{tp}: a batch failed while it may have been written and no later batch was \
                 acknowledged"
            );
            self.request_bump(&tp, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, None);
        }
    }

    /// Starts a new epoch (KIP-360) once the partitions waiting for it have nothing in flight.
    ///
    /// As Java's idempotent producer does (`bumpIdempotentEpochAndResetIdIfNeeded`), the
    /// epoch is bumped locally: same producer id, epoch + 1, and the broker accepts the new
    /// epoch from sequence 0 (Kafka 0.11+). A broker answers a non-transactional
    /// InitProducerId with a fresh id whatever id/epoch it is given, so asking would only
    /// cost a round trip. A fresh id is asked for (InitProducerId) when the epoch is
    /// exhausted or the broker said INVALID_PRODUCER_EPOCH / PRODUCER_FENCED.
    ///
    /// Each waiting partition restarts at sequence 0 under the new epoch. Its queued retries
    /// lose their producer state and are numbered afresh at their next drain, in queue order,
    /// when the broker is known not to have them: every attempt was refused, or the refusal
    /// that asked for the bump proves it (see [`Bump::absent_from`]). A queued retry whose
    /// earlier attempt went unanswered and that nothing proves absent may be in the log under
    /// the old epoch, where the new epoch's sequences would not recognise it: resending it
    /// could write it twice, so it fails with the bump's cause and [`Delivery::Unknown`]
    /// (Java would renumber it). Other partitions go on under the old epoch until nothing of
    /// theirs is pending, then restart at 0 under the new one (see [`PartitionSeq::owner`]).
    fn bump_epoch_if_due(&mut self, acc: &RecordAccumulator) -> Vec<(ProducerBatch, Error)> {
        let mut failed = Vec::new();
        if self.bumps.is_empty() {
            return failed;
        }
        let busy = self.bumps.keys().any(|tp| {
            self.partitions
                .get(tp)
                .is_some_and(|p| !p.in_flight.is_empty())
        });
        if busy {
            return failed;
        }
        let idem = &mut *self;
        let current = (idem.producer_id, idem.producer_epoch);
        let on_current = idem.producer_id >= 0
            && idem.bumps.keys().any(|tp| {
                idem.partitions
                    .get(tp)
                    .is_some_and(|p| p.owner == Some(current))
            });
        if idem.new_id_needed || (on_current && idem.producer_epoch == i16::MAX) {
            if idem.producer_id >= 0 {
                log::info!(
                    "producer id {} epoch {}: asking for a new producer id",
                    idem.producer_id,
                    idem.producer_epoch
                );
            }
            idem.producer_id = -1;
            idem.producer_epoch = -1;
            idem.new_id_needed = false;
        } else if on_current {
            idem.producer_epoch += 1;
            log::info!(
                "producer id {}: epoch bumped to {}",
                idem.producer_id,
                idem.producer_epoch
            );
        }
        let bumps: Vec<(TopicPartition, Bump)> = self.bumps.drain().collect();
        for (tp, bump) in bumps {
            self.partitions.insert(tp.clone(), PartitionSeq::default());
            let unsafe_to_resend = acc.take_queued_if(&tp, |b| {
                if !b.has_sequence() || b.is_done() {
                    return false;
                }
                let absent = bump.absent_from.is_some_and(|(pid, epoch, s)| {
                    (b.producer_id(), b.producer_epoch()) == (pid, epoch) && b.base_sequence() >= s
                });
                if absent {
                    b.proven_not_written();
                } else if b.is_ambiguous() {
                    return true;
                }
                b.clear_producer_state();
                false
            });
            for b in unsafe_to_resend {
                log::warn!(
                    "{tp}: a retry whose earlier attempt went unanswered is not resent under \
                     the new epoch (it could be written twice)"
                );
                let err = Error::Broker {
                    code: bump.cause,
                    message: Some(Arc::from(
                        "the producer epoch was bumped while this batch may already have been \
                         written; it is not resent, as it could be written twice",
                    )),
                    delivery: b.delivery_if_failed(),
                };
                failed.push((b, err));
            }
        }
        failed
    }

    /// Closes sequence holes (see [`PartitionSeq::hole`]) of partitions with nothing in
    /// flight: the queued batches after the hole (all retries, in sequence order) get
    /// consecutive sequences from the hole on, and the partition's next sequence follows them.
    fn close_sequence_holes(&mut self, acc: &RecordAccumulator) {
        let mut bump = Vec::new();
        let transactional = self.transactional;
        for tp in &self.attention {
            let Some(p) = self.partitions.get_mut(tp) else {
                continue;
            };
            let Some(hole) = p.hole else { continue };
            if !p.in_flight.is_empty() || self.bumps.contains_key(tp) {
                continue;
            }
            if p.last_acked.is_some_and(|a| a >= hole) {
                // The broker took sequences after the hole without the refused batch: it had
                // no state for this producer (a new partition, or state lost) and accepts any
                // sequence then. Renumbering from the hole would reuse sequences it has, and
                // a batch matching one of them is answered as a duplicate — reported written
                // but not in the log (seen under load right after topic creation). A new
                // epoch starts the partition clean instead.
                p.hole = None;
                bump.push(tp.clone());
                continue;
            }
            let mut next = hole;
            let mut lowest_retry: Option<i32> = None;
            acc.for_each_queued(tp, |b| {
                if !b.has_sequence() || b.is_done() {
                    return;
                }
                if b.base_sequence() > hole {
                    let (pid, epoch) = (b.producer_id(), b.producer_epoch());
                    b.set_producer_state(pid, epoch, next, transactional);
                    next = next.wrapping_add(b.record_count()) & i32::MAX;
                }
                let s = b.base_sequence();
                lowest_retry = Some(lowest_retry.map_or(s, |l| l.min(s)));
            });
            log::debug!("{tp}: sequences renumbered from {hole} (a batch was refused)");
            p.next_sequence = next;
            p.retrying = lowest_retry;
            p.hole = None;
        }
        for tp in bump {
            self.request_bump(&tp, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, None);
        }
    }

    /// The idempotence errors of a Produce answer (KIP-98, KIP-360), as Java's
    /// `TransactionManager.canRetry` / `handleFailedBatch` treat them for a non-transactional
    /// producer. Returns whether the batch may be retried, or `None` for other codes.
    ///
    /// - OUT_OF_ORDER_SEQUENCE_NUMBER: the broker did not take the batch (nor has it: it
    ///   would have answered DUPLICATE). Explained by an earlier batch still pending (see
    ///   [`Idempotence::gap_explained`]): retry. Unexplained, the broker's sequence and ours
    ///   diverged: retry after an epoch bump.
    /// - UNKNOWN_PRODUCER_ID: the broker lost the producer's state (retention, or a broker
    ///   before 2.5 that wants sequence 0 from a producer it does not know): retry after an
    ///   epoch bump.
    /// - INVALID_PRODUCER_EPOCH, PRODUCER_FENCED: the broker knows a newer epoch of this id
    ///   (a non-transactional producer cannot be fenced by another one, so its state is off):
    ///   the batch fails, and the partition waits for a new producer id.
    ///
    /// A transactional producer's epoch belongs to its coordinator: it is never bumped here.
    /// An unexplained OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID and the fencing errors
    /// fail the batch (the transaction becomes abortable; its abort gets a new epoch, see the
    /// transaction manager), as Java's `TransactionManager.handleFailedBatch` does.
    pub fn classify_error(&mut self, b: &mut ProducerBatch, code: ErrorCode) -> Option<bool> {
        if !self.enabled || !b.has_sequence() {
            return None;
        }
        if self.transactional {
            return match code {
                ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER if self.gap_explained(b) => {
                    b.proven_not_written();
                    Some(true)
                }
                ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER | ErrorCode::UNKNOWN_PRODUCER_ID => {
                    b.proven_not_written();
                    Some(false)
                }
                ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED => Some(false),
                _ => None,
            };
        }
        let tp = b.topic_partition().clone();
        match code {
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER => {
                b.proven_not_written();
                if !self.gap_explained(b) {
                    log::warn!(
                        "{tp}: OUT_OF_ORDER_SEQUENCE_NUMBER for sequence {} (producer id {} \
                         epoch {}) with nothing earlier pending",
                        b.base_sequence(),
                        b.producer_id(),
                        b.producer_epoch()
                    );
                    self.request_bump(&tp, code, Some(b));
                }
                Some(true)
            }
            ErrorCode::UNKNOWN_PRODUCER_ID => {
                b.proven_not_written();
                self.request_bump(&tp, code, Some(b));
                Some(true)
            }
            ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED => {
                if (b.producer_id(), b.producer_epoch()) == (self.producer_id, self.producer_epoch)
                {
                    self.new_id_needed = true;
                }
                self.request_bump(&tp, code, None);
                Some(false)
            }
            _ => None,
        }
    }
}

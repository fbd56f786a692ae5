//! Producing: one Produce request per broker from drained batches, and each batch's answer
//! turned into an outcome (written, retry, failed with a [`Delivery`]).
//!
//! Pure functions of the batches, the cluster view, the broker's versions and answer, and
//! `now`; the loop sends the bytes and applies the outcomes.

use super::idempotence::{Idempotence, Outcome};
use crate::accumulator::ProducerBatch;
use crate::error::{Delivery, Error};
use crate::future::BatchAck;
use crate::metadata::Cluster;
use crate::net::FrameBody;
use crate::protocol::produce::{
    self, ProducePartition, ProduceRequest, ProduceResponse, ProduceSink, ProduceTopic,
};
use crate::protocol::versions::ApiVersionTable;
use crate::protocol::ErrorCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The Produce version for these batches: the highest both sides speak, but below v13 (topics
/// named by id) unless every topic's id is known. A transactional producer under transactions
/// protocol v1 stays below v12 (which lets partitions join a transaction implicitly; Java's
/// `ProduceRequest` builder for v1 stops at v11 too); under v2 it needs v12 or later.
/// `None`: the broker speaks no Produce >= v3 (or none a v2 transaction can use).
pub(crate) fn version(
    versions: &ApiVersionTable,
    batches: &[ProducerBatch],
    cluster: &Cluster,
    transactional: bool,
    v2: bool,
) -> Option<i16> {
    let (min, max) = match (transactional, v2) {
        (true, false) => (
            produce::MIN_VERSION,
            produce::FIRST_TRANSACTIONS_V2_VERSION - 1,
        ),
        (true, true) => (produce::FIRST_TRANSACTIONS_V2_VERSION, produce::MAX_VERSION),
        (false, _) => (produce::MIN_VERSION, produce::MAX_VERSION),
    };
    let v = versions.negotiate(produce::API_KEY, min, max)?;
    if v < produce::FIRST_TOPIC_ID_VERSION {
        return Some(v);
    }
    let all_ids = batches.iter().all(|b| {
        cluster
            .topics
            .get(&*b.topic_partition().topic)
            .is_some_and(|t| t.topic_id != [0; 16])
    });
    if all_ids {
        Some(v)
    } else {
        versions.negotiate(produce::API_KEY, min, produce::FIRST_TOPIC_ID_VERSION - 1)
    }
}

/// Writes the Produce request body for `batches` (grouped by topic, in drain order) into
/// `body`: the request's own fields into the write buffer, each batch by reference (part `i`
/// of the request's context is `batches[i].bytes()`), so the batches go to the socket from
/// their own buffers without being copied.
pub(crate) fn encode(
    batches: &[ProducerBatch],
    cluster: &Cluster,
    transactional_id: Option<&str>,
    acks: i16,
    request_timeout: Duration,
    version: i16,
    body: &mut FrameBody<'_>,
) {
    let mut topics: Vec<ProduceTopic<'_>> = Vec::new();
    // For each topic of the request, the index in `batches` of each of its partitions.
    let mut order: Vec<Vec<usize>> = Vec::new();
    for (i, b) in batches.iter().enumerate() {
        let tp = b.topic_partition();
        let part = ProducePartition {
            index: tp.partition,
            records: b.bytes(),
        };
        match topics.iter().position(|t| t.name == &*tp.topic) {
            Some(t) => {
                topics[t].partitions.push(part);
                order[t].push(i);
            }
            None => {
                topics.push(ProduceTopic {
                    name: &tp.topic,
                    topic_id: cluster
                        .topics
                        .get(&*tp.topic)
                        .map_or([0; 16], |t| t.topic_id),
                    partitions: vec![part],
                });
                order.push(vec![i]);
            }
        }
    }
    let request = ProduceRequest {
        transactional_id,
        acks,
        timeout_ms: i32::try_from(request_timeout.as_millis()).unwrap_or(i32::MAX),
        topics,
    };
    request.encode_into(version, &mut BatchesByReference { body, order });
}

/// A [`ProduceSink`] that puts each partition's records in the frame as a reference to its
/// batch: part `order[topic][partition]` of the request's context.
struct BatchesByReference<'a, 'b> {
    body: &'a mut FrameBody<'b>,
    order: Vec<Vec<usize>>,
}

impl ProduceSink for BatchesByReference<'_, '_> {
    fn buf(&mut self) -> &mut Vec<u8> {
        self.body.bytes()
    }
    fn records(&mut self, topic: usize, partition: usize, records: &[u8]) {
        self.body.part(self.order[topic][partition], records.len());
    }
}

/// The broker's answer for one batch.
#[derive(Debug)]
pub(crate) enum Answer {
    /// Appended (or already there: DUPLICATE_SEQUENCE_NUMBER).
    Written(BatchAck),
    /// Refused with this error (its `delivery` is settled by [`decide`]). `stale_metadata`:
    /// the error says the leader moved or the partition is unavailable.
    Refused { error: Error, stale_metadata: bool },
    /// The answer did not mention the partition: as good as a lost response.
    Missing(Error),
}

/// Pairs each batch with its answer in `resp`.
pub(crate) fn answers<'a>(
    resp: &'a ProduceResponse,
    batches: Vec<ProducerBatch>,
    cluster: &'a Cluster,
) -> impl Iterator<Item = (ProducerBatch, Answer)> + 'a {
    batches.into_iter().map(move |b| {
        let answer = answer_for(resp, &b, cluster);
        (b, answer)
    })
}

fn answer_for(resp: &ProduceResponse, b: &ProducerBatch, cluster: &Cluster) -> Answer {
    let tp = b.topic_partition();
    let part = resp
        .topics
        .iter()
        .find(|t| {
            if t.name.is_empty() {
                cluster
                    .topics
                    .get(&*tp.topic)
                    .is_some_and(|ti| ti.topic_id == t.topic_id)
            } else {
                t.name == *tp.topic
            }
        })
        .and_then(|t| t.partitions.iter().find(|p| p.index == tp.partition));
    let Some(p) = part else {
        return Answer::Missing(Error::Broker {
            code: ErrorCode::UNKNOWN_SERVER_ERROR,
            message: Some(Arc::from(
                "the Produce response did not mention the partition",
            )),
            delivery: Delivery::Unknown,
        });
    };
    let code = p.error_code;
    if code.is_ok() || code == ErrorCode::DUPLICATE_SEQUENCE_NUMBER {
        return Answer::Written(BatchAck {
            base_offset: p.base_offset,
            log_append_time: p.log_append_time_ms,
        });
    }
    let mut message = p.error_message.clone();
    if !p.record_errors.is_empty() {
        let details: Vec<String> = p
            .record_errors
            .iter()
            .take(5)
            .map(|e| {
                format!(
                    "record {}: {}",
                    e.batch_index,
                    e.message.as_deref().unwrap_or("invalid")
                )
            })
            .collect();
        message = Some(format!(
            "{}{}",
            message.map(|m| m + "; ").unwrap_or_default(),
            details.join("; ")
        ));
    }
    let stale_metadata = matches!(
        code,
        ErrorCode::NOT_LEADER_OR_FOLLOWER
            | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            | ErrorCode::LEADER_NOT_AVAILABLE
            | ErrorCode::FENCED_LEADER_EPOCH
            | ErrorCode::KAFKA_STORAGE_ERROR
            | ErrorCode::NOT_ENOUGH_REPLICAS
    );
    Answer::Refused {
        error: Error::Broker {
            code,
            message: message.map(Arc::from),
            delivery: Delivery::NotWritten,
        },
        stale_metadata,
    }
}

/// Limits on retrying a batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub delivery_timeout: Duration,
    pub retries: u32,
}

/// What to do with a batch whose attempt failed.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Back to its queue; the error is remembered as its last.
    Retry(Error),
    /// Answer it with this error.
    Fail(Error),
    /// Too large for the broker and more than one record: split it into smaller batches that
    /// take its place (and sequences) at the front of its queue; if that fails, answer it
    /// with this error.
    Split(Error),
}

/// Whether the broker's error says the batch is too large for it (MESSAGE_TOO_LARGE: over
/// the topic's `max.message.bytes`; RECORD_LIST_TOO_LARGE: over its segment size), which
/// smaller batches may not be.
pub(crate) fn too_large(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::MESSAGE_TOO_LARGE | ErrorCode::RECORD_LIST_TOO_LARGE
    )
}

/// Decides a failed attempt: a batch of several records refused as too large is split (as
/// Java's `Sender.completeBatch`: whatever its retries and delivery timeout, which the pieces
/// inherit; not while force-closing); else retried when the error allows it (idempotence errors as Java's
/// `TransactionManager.canRetry`), attempts remain, `delivery.timeout.ms` has not passed and
/// the producer is not force-closing; failed otherwise, with a [`Delivery`] from the batch's
/// whole history (an earlier unanswered attempt may have written it). Records the outcome in
/// the idempotence state (its one entry point).
///
/// `err` is an [`Error::Broker`] when the broker refused the attempt, anything else when the
/// attempt went unanswered (connection lost, timeout, malformed answer).
pub(crate) fn decide(
    b: &mut ProducerBatch,
    err: Error,
    idem: &mut Idempotence,
    policy: RetryPolicy,
    force_closing: bool,
    now: Instant,
) -> Verdict {
    let refused_now = matches!(err, Error::Broker { .. });
    if refused_now {
        b.attempt_refused();
    } else {
        b.attempt_ambiguous();
    }
    let splittable = matches!(&err, Error::Broker { code, .. } if too_large(*code));
    if splittable && b.record_count() > 1 && !b.is_done() && !force_closing {
        // The pieces take the batch's sequence range in order: for idempotence it is a retry
        // of its first sequence.
        idem.on_outcome(b, Outcome::Retry);
        return Verdict::Split(err);
    }
    let retriable = match &err {
        Error::Broker { code, .. } => idem
            .classify_error(b, *code)
            .unwrap_or_else(|| err.is_retriable()),
        e => e.is_retriable(),
    };
    let timed_out = b.has_reached_delivery_timeout(policy.delivery_timeout, now);
    let attempts_left = b.attempts() < policy.retries;
    if retriable && !timed_out && attempts_left && !force_closing {
        idem.on_outcome(b, Outcome::Retry);
        return Verdict::Retry(err);
    }
    let mut final_err = if retriable && timed_out {
        Error::DeliveryTimeout {
            elapsed: now.saturating_duration_since(b.created()),
            delivery: b.delivery_if_failed(),
            last_error: Some(Arc::from(err.to_string())),
        }
    } else {
        err
    };
    if let Error::Broker { delivery, .. } = &mut final_err {
        // Refused now, but an earlier attempt without a clear answer may have written it.
        *delivery = b.delivery_if_failed();
    }
    // The batch will not be retried: later batches must not wait for it. When the broker
    // refused this attempt and no earlier one was ambiguous, it is not in the log and its
    // sequences must be reused (else every later batch is OUT_OF_ORDER forever). Not when an
    // earlier attempt was ambiguous: the batch may be in the log under those sequences, and
    // reusing them could make a later batch a "duplicate" of it.
    let refused = refused_now && !b.is_ambiguous();
    idem.on_outcome(b, Outcome::Failed { refused });
    Verdict::Fail(final_err)
}

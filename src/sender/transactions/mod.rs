//! The transaction manager: the producer's identity towards the brokers.
//!
//! As in the Java client, where `TransactionManager` serves idempotent producers too, this is
//! where the producer id comes from and where its sequences are kept ([`Idempotence`]). For an
//! idempotent producer: InitProducerId without a `transactional.id`, retried with
//! `retry.backoff.ms` ([`TransactionManager::poll`]). For a transactional one, the producer id
//! and every transaction step come from the transaction state machine of [`manager`]
//! ([`TxnCore`]), shared with the caller threads behind [`TxnShared`]; the loop's I/O for it
//! is `sender/txn_io.rs`.
//!
//! Pure: requests are returned to the loop to send, answers are handed in, `now` is passed.

pub(crate) mod manager;

use super::idempotence::Idempotence;
use super::txn_state::TxnApi;
use crate::accumulator::{DrainHook, ProducerBatch};
use crate::error::{Error, TransactionErrorKind};
use crate::protocol::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
use crate::protocol::DecodeError;
use crate::record::TopicPartition;
pub(crate) use manager::{Action, Op, TxnCore};
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A request the transaction manager wants sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxnRequest {
    /// InitProducerId without a transactional id (to any ready broker): a fresh producer id
    /// and epoch.
    InitProducerId,
    /// A request of the transaction state machine ([`TxnCore::poll`]).
    Transactional(TxnApi),
}

/// The transaction state machine, shared by the caller threads (who start operations and
/// wait for them) and the sender thread (who drives them). Lock order: this lock, then the
/// accumulator's (the drain holds it); never the other way.
#[derive(Debug)]
pub(crate) struct TxnShared {
    core: Mutex<TxnCore>,
    changed: Condvar,
}

impl TxnShared {
    pub fn new(core: TxnCore) -> Self {
        TxnShared {
            core: Mutex::new(core),
            changed: Condvar::new(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, TxnCore> {
        self.core.lock()
    }

    /// Wakes callers waiting for a result (the sender calls it after each change).
    pub fn notify(&self) {
        self.changed.notify_all();
    }

    /// Waits until `op` has its result, or `deadline` (then [`TransactionErrorKind::TimedOut`]:
    /// the operation goes on, and calling the same method again waits for it).
    pub fn wait(&self, op: Op, deadline: Instant) -> Result<(), Error> {
        let mut core = self.core.lock();
        loop {
            if let Some(result) = core.take_result(op) {
                return result;
            }
            if self.changed.wait_until(&mut core, deadline).timed_out() {
                if let Some(result) = core.take_result(op) {
                    return result;
                }
                return Err(Error::transaction(
                    TransactionErrorKind::TimedOut,
                    format!(
                        "{op:?} did not complete within max.block.ms; it goes on: call the same \
                         method again to wait for it"
                    ),
                ));
            }
        }
    }
}

/// The drain hook of a producer: idempotence's, and for a transactional one, partitions
/// held until added to the transaction (v1).
pub(crate) struct Hook<'a> {
    idem: &'a mut Idempotence,
    txn: Option<MutexGuard<'a, TxnCore>>,
}

impl DrainHook for Hook<'_> {
    fn can_drain(&mut self, tp: &TopicPartition, first: &ProducerBatch, now: Instant) -> bool {
        self.txn.as_ref().is_none_or(|t| t.may_drain(tp)) && self.idem.can_drain(tp, first, now)
    }
    fn on_drain(&mut self, batch: &mut ProducerBatch, first_time: bool) {
        if let Some(t) = &mut self.txn {
            t.drained();
        }
        self.idem.on_drain(batch, first_time);
    }
}

impl TxnRequest {
    /// The request body.
    pub fn init_producer_id(self) -> InitProducerIdRequest<'static> {
        InitProducerIdRequest::new(None, i32::MAX)
    }
}

/// The producer id's lifecycle and the idempotence state. See the module docs.
#[derive(Debug)]
pub(crate) struct TransactionManager {
    idem: Idempotence,
    /// A transactional producer's state machine.
    txn: Option<Arc<TxnShared>>,
    /// Under transactions protocol v2 (a copy of the state machine's, read per Produce).
    v2: bool,
    /// The `transactional.id` Produce requests carry.
    id: Option<Arc<str>>,
    retry_backoff: Duration,
    /// An InitProducerId is in flight.
    in_flight: bool,
    /// No InitProducerId before this instant (after a failure).
    retry_at: Option<Instant>,
}

impl TransactionManager {
    /// `idempotence` off: nothing is ever requested and every hook lets everything through.
    pub fn new(idempotence: bool, max_in_flight: usize, retry_backoff: Duration) -> Self {
        TransactionManager {
            idem: Idempotence::new(idempotence, max_in_flight),
            txn: None,
            v2: false,
            id: None,
            retry_backoff,
            in_flight: false,
            retry_at: None,
        }
    }

    /// A transactional producer: its producer id comes from `txn` (and batches are marked
    /// transactional).
    pub fn with_transactions(mut self, txn: Arc<TxnShared>) -> Self {
        self.idem.set_transactional();
        self.id = Some(Arc::from(txn.lock().transactional_id()));
        self.txn = Some(txn);
        self
    }

    /// The sequence state.
    pub fn idempotence(&mut self) -> &mut Idempotence {
        &mut self.idem
    }

    /// The transaction state machine, for a transactional producer.
    pub fn transactions(&self) -> Option<&Arc<TxnShared>> {
        self.txn.as_ref()
    }

    /// The `transactional.id`, if any.
    pub fn transactional_id(&self) -> Option<Arc<str>> {
        self.id.clone()
    }

    /// Whether Produce follows transactions protocol v2 (implicit partition add).
    pub fn is_v2(&self) -> bool {
        self.v2
    }
    pub fn set_v2(&mut self, v2: bool) {
        self.v2 = v2;
    }

    /// The drain hook (see [`Hook`]). Locks the transaction state for the drain.
    pub fn drain_hook(&mut self) -> Hook<'_> {
        Hook {
            idem: &mut self.idem,
            txn: self.txn.as_deref().map(TxnShared::lock),
        }
    }

    /// A batch failed for good: a transaction with it cannot commit. Locks the transaction
    /// state (never call it with the lock held).
    pub fn batch_failed(&self, tp: &TopicPartition, err: &Error) {
        if let Some(t) = &self.txn {
            t.lock().batch_failed(tp, err);
            t.notify();
        }
    }

    /// What to send now, if anything; otherwise lowers `timeout` to when it will be due.
    /// (A transactional producer's requests come from [`TxnCore::poll`].)
    pub fn poll(&mut self, now: Instant, timeout: &mut Duration) -> Option<TxnRequest> {
        if self.txn.is_some() || !self.idem.needs_producer_id() || self.in_flight {
            return None;
        }
        if let Some(t) = self.retry_at {
            if now < t {
                *timeout = (*timeout).min(t - now);
                return None;
            }
        }
        Some(TxnRequest::InitProducerId)
    }

    /// The request from [`TransactionManager::poll`] went out.
    pub fn sent(&mut self, _req: TxnRequest) {
        self.in_flight = true;
    }

    /// It could not be sent (no version in common, a broken connection), or its connection
    /// failed before the answer: ask again after the backoff.
    pub fn failed(&mut self, _req: TxnRequest, now: Instant) {
        self.in_flight = false;
        self.retry_at = Some(now + self.retry_backoff);
    }

    /// The InitProducerId answer. A non-retriable error is returned: every batch waiting for
    /// the producer id fails with it (asked again after at least a second).
    pub fn on_init_producer_id(
        &mut self,
        resp: Result<InitProducerIdResponse, DecodeError>,
        now: Instant,
    ) -> Option<Error> {
        self.in_flight = false;
        match resp {
            Ok(r) if r.error_code.is_ok() => {
                log::info!("producer id {} epoch {}", r.producer_id, r.producer_epoch);
                self.idem.set_producer(r.producer_id, r.producer_epoch);
                self.retry_at = None;
                None
            }
            Ok(r) if r.error_code.is_retriable() => {
                log::info!("InitProducerId: {}; retrying", r.error_code);
                self.retry_at = Some(now + self.retry_backoff);
                None
            }
            Ok(r) => {
                log::error!("InitProducerId failed: {}", r.error_code);
                self.retry_at = Some(now + self.retry_backoff.max(Duration::from_secs(1)));
                Some(Error::Fatal(Arc::from(format!(
                    "InitProducerId failed: {}",
                    r.error_code
                ))))
            }
            Err(e) => {
                log::warn!("malformed InitProducerId response: {e}");
                self.retry_at = Some(now + self.retry_backoff);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ErrorCode;

    fn resp(code: ErrorCode) -> Result<InitProducerIdResponse, DecodeError> {
        Ok(InitProducerIdResponse {
            throttle_time_ms: 0,
            error_code: code,
            producer_id: 7,
            producer_epoch: 3,
        })
    }

    #[test]
    fn asks_once_and_keeps_the_id() {
        let t0 = Instant::now();
        let mut tm = TransactionManager::new(true, 5, Duration::from_millis(100));
        let mut timeout = Duration::from_secs(1);
        assert_eq!(tm.poll(t0, &mut timeout), Some(TxnRequest::InitProducerId));
        tm.sent(TxnRequest::InitProducerId);
        assert_eq!(tm.poll(t0, &mut timeout), None, "one in flight at a time");
        assert!(tm.on_init_producer_id(resp(ErrorCode::NONE), t0).is_none());
        assert!(!tm.idempotence().needs_producer_id());
        assert_eq!(tm.poll(t0, &mut timeout), None);
    }

    #[test]
    fn retriable_errors_back_off_and_fatal_ones_are_returned() {
        let t0 = Instant::now();
        let mut tm = TransactionManager::new(true, 5, Duration::from_millis(100));
        let mut timeout = Duration::from_secs(1);
        tm.sent(TxnRequest::InitProducerId);
        let load = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
        assert!(tm.on_init_producer_id(resp(load), t0).is_none());
        assert_eq!(tm.poll(t0 + Duration::from_millis(50), &mut timeout), None);
        assert_eq!(timeout, Duration::from_millis(50));
        let later = t0 + Duration::from_millis(100);
        assert_eq!(
            tm.poll(later, &mut timeout),
            Some(TxnRequest::InitProducerId)
        );
        tm.sent(TxnRequest::InitProducerId);
        let denied = ErrorCode::CLUSTER_AUTHORIZATION_FAILED;
        let err = tm.on_init_producer_id(resp(denied), later).expect("fatal");
        assert!(
            err.to_string().contains("CLUSTER_AUTHORIZATION_FAILED"),
            "{err}"
        );
        assert!(tm.idempotence().needs_producer_id());
    }

    #[test]
    fn without_idempotence_nothing_is_asked() {
        let mut tm = TransactionManager::new(false, 5, Duration::from_millis(100));
        let mut timeout = Duration::from_secs(1);
        assert_eq!(tm.poll(Instant::now(), &mut timeout), None);
    }
}

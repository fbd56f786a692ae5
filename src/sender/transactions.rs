//! The transaction manager: the producer's identity towards the brokers.
//!
//! As in the Java client, where `TransactionManager` serves idempotent producers too, this is
//! where the producer id comes from and where its sequences are kept ([`Idempotence`]). Today
//! it does the non-transactional part: InitProducerId without a `transactional.id`, retried
//! with `retry.backoff.ms`, and the idempotence state. Transactions (`transactional.id`:
//! FindCoordinator, InitProducerId through the coordinator, AddPartitionsToTxn, EndTxn) join
//! here as more states and requests, asked for by the loop through [`TransactionManager::poll`]
//! like the producer id is now, without touching producing or the node pool.
//!
//! Pure: requests are returned to the loop to send, answers are handed in, `now` is passed.

use super::idempotence::Idempotence;
use crate::error::Error;
use crate::protocol::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
use crate::protocol::DecodeError;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A request the transaction manager wants sent to any ready broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxnRequest {
    /// InitProducerId without a transactional id: a fresh producer id and epoch.
    InitProducerId,
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
            retry_backoff,
            in_flight: false,
            retry_at: None,
        }
    }

    /// The sequence state.
    pub fn idempotence(&mut self) -> &mut Idempotence {
        &mut self.idem
    }

    /// What to send now, if anything; otherwise lowers `timeout` to when it will be due.
    pub fn poll(&mut self, now: Instant, timeout: &mut Duration) -> Option<TxnRequest> {
        if !self.idem.needs_producer_id() || self.in_flight {
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

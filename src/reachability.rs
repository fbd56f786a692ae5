//! Which brokers the sender could not reach lately, and why: what turns "topic not present in
//! metadata after 60s" into an error that says the bootstrap address refuses connections.
//!
//! The sender records every failed connection and every connection that became ready; callers
//! that time out (waiting for metadata, or a batch that expired without ever being sent) ask
//! which brokers failed since they started waiting and what the last failure was. Pure: the
//! owner (the metadata, under its lock) passes `now`.

use std::sync::Arc;
use std::time::Instant;

/// At most this many brokers are remembered (a cluster's brokers and bootstrap addresses are
/// few; the cap only bounds a pathological one).
const MAX_BROKERS: usize = 64;

#[derive(Debug)]
struct Failure {
    broker: Arc<str>,
    reason: Arc<str>,
    at: Instant,
}

/// Brokers whose last connection failed, with the latest failure of each.
#[derive(Debug, Default)]
pub(crate) struct Reachability {
    /// In order of their latest failure, oldest first.
    failures: Vec<Failure>,
}

/// What a caller that timed out is told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Unreached {
    /// Brokers that failed since the caller started waiting and have not connected since, in
    /// the order they last failed.
    pub brokers: Vec<String>,
    /// The most recent of their failures, as `broker: reason`.
    pub last_error: Option<Arc<str>>,
}

impl Reachability {
    /// A connection to `broker` failed or could not be opened.
    pub fn failed(&mut self, broker: &str, reason: &str, now: Instant) {
        self.failures.retain(|f| &*f.broker != broker);
        if self.failures.len() >= MAX_BROKERS {
            self.failures.remove(0);
        }
        self.failures.push(Failure {
            broker: Arc::from(broker),
            reason: Arc::from(reason),
            at: now,
        });
    }

    /// A connection to `broker` became ready: it is reachable again.
    pub fn reached(&mut self, broker: &str) {
        self.failures.retain(|f| &*f.broker != broker);
    }

    /// The brokers that failed at or after `since` and have not connected since.
    pub fn since(&self, since: Instant) -> Unreached {
        let recent: Vec<&Failure> = self.failures.iter().filter(|f| f.at >= since).collect();
        Unreached {
            brokers: recent.iter().map(|f| f.broker.to_string()).collect(),
            last_error: recent
                .last()
                .map(|f| Arc::from(format!("{}: {}", f.broker, f.reason))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_failures_since_the_wait_began_and_not_reached_since_are_reported() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut r = Reachability::default();
        r.failed("old:9092", "refused", at(0));
        r.failed("a:9092", "refused", at(10));
        r.failed("b:9092", "reset", at(20));
        r.failed("a:9092", "timed out", at(30));
        r.failed("c:9092", "refused", at(40));
        r.reached("c:9092");
        let u = r.since(at(5));
        assert_eq!(u.brokers, ["b:9092", "a:9092"]);
        assert_eq!(u.last_error.as_deref(), Some("a:9092: timed out"));
        assert_eq!(r.since(at(31)), Unreached::default());
    }

    #[test]
    fn the_record_is_bounded() {
        let now = Instant::now();
        let mut r = Reachability::default();
        for i in 0..1000 {
            r.failed(&format!("b{i}:9092"), "refused", now);
        }
        let u = r.since(now);
        assert_eq!(u.brokers.len(), MAX_BROKERS);
        assert_eq!(u.brokers.last().map(String::as_str), Some("b999:9092"));
    }
}

//! When to re-authenticate a connection (KIP-368): pure, `now` passed in.
//!
//! A broker with `connections.max.reauth.ms` set tells the client, in the last SaslAuthenticate
//! answer (v1+, `session_lifetime_ms`), how long the session lasts; past it the broker closes
//! the connection at the next request that is not a re-authentication. So the pool
//! re-authenticates on the same connection first, as Java's `SaslClientAuthenticator` does:
//!
//! - the session is renewed on or after a point drawn between 85% and 95% of the lifetime,
//!   counted from when the client saw the authentication complete (the broker counts from a
//!   little earlier: the 85% leaves room for that and for clock drift, the 10% of jitter keeps
//!   many connections from renewing all at once);
//! - it starts when something is to be sent on the connection past that point (Java begins it
//!   on the next write): an idle connection is not kept busy renewing sessions nobody uses, and
//!   a request after the point is held until the session is renewed, so the broker never sees
//!   a request on an expired session;
//! - while it runs the connection takes no new request (the broker would take one for a bad
//!   SASL token); answers to the requests already in flight still come, in order, before the
//!   SaslHandshake answer (the broker answers a connection's requests one at a time).
//!
//! The exchange itself is the first login's (SaslHandshake, then SaslAuthenticate rounds with
//! a client built the same way: see [`super::handshake::Handshake::reauthenticate`]), bounded
//! by `request.timeout.ms` like every request in flight.

use std::time::{Duration, Instant};

/// The lower end of the renewal window, as a fraction of the session lifetime.
const WINDOW_START: f64 = 0.85;
/// The width of the window (jitter), as a fraction of the session lifetime.
const WINDOW_JITTER: f64 = 0.10;

/// A connection's session, as far as re-authentication goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Session {
    /// No session lifetime (no SASL, a broker without `connections.max.reauth.ms`, or one
    /// older than Kafka 2.2): never re-authenticated.
    #[default]
    Unlimited,
    /// Re-authenticate on or after `at`.
    RenewAt { at: Instant },
    /// A re-authentication is under way since `since`.
    Renewing { since: Instant },
}

impl Session {
    /// The session that starts `now`, when an authentication completed with `lifetime` (as
    /// the broker gave it; `None` or zero: unlimited). `jitter` is a draw in `[0, 1)`.
    pub fn started(lifetime: Option<Duration>, now: Instant, jitter: f64) -> Session {
        match lifetime.filter(|l| !l.is_zero()) {
            None => Session::Unlimited,
            Some(l) => Session::RenewAt {
                at: now + renewal_delay(l, jitter),
            },
        }
    }

    /// Whether a connection about to be used `now` must re-authenticate first.
    pub fn due(&self, now: Instant) -> bool {
        matches!(*self, Session::RenewAt { at } if now >= at)
    }

    /// Whether a re-authentication is under way.
    pub fn is_renewing(&self) -> bool {
        matches!(self, Session::Renewing { .. })
    }

    /// A re-authentication starts `now`.
    pub fn renewing(now: Instant) -> Session {
        Session::Renewing { since: now }
    }

    /// How long the re-authentication under way took, if one is, once it completes `now`.
    pub fn latency(&self, now: Instant) -> Option<Duration> {
        match *self {
            Session::Renewing { since } => Some(now.saturating_duration_since(since)),
            _ => None,
        }
    }
}

/// How long after authenticating to re-authenticate: between 85% and 95% of `lifetime`
/// (`jitter` in `[0, 1)` picks where).
pub(crate) fn renewal_delay(lifetime: Duration, jitter: f64) -> Duration {
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    lifetime.mul_f64(WINDOW_START + jitter * WINDOW_JITTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn renewal_falls_between_85_and_95_percent_of_the_lifetime() {
        let l = Duration::from_secs(10);
        assert_eq!(renewal_delay(l, 0.0), Duration::from_millis(8500));
        assert_eq!(renewal_delay(l, 0.5), Duration::from_millis(9000));
        assert!(renewal_delay(l, 0.999_999) < Duration::from_millis(9500));
        // Out-of-range draws stay in the window.
        assert_eq!(renewal_delay(l, 7.0), Duration::from_millis(9500));
        assert_eq!(renewal_delay(l, -1.0), Duration::from_millis(8500));
        assert_eq!(renewal_delay(l, f64::NAN), Duration::from_millis(8500));
    }

    #[test]
    fn no_lifetime_is_never_due() {
        let t0 = Instant::now();
        for lifetime in [None, Some(Duration::ZERO)] {
            let s = Session::started(lifetime, t0, 0.5);
            assert_eq!(s, Session::Unlimited);
            assert!(!s.due(t0 + 1_000_000 * SECOND));
        }
    }

    #[test]
    fn due_from_the_drawn_point_on() {
        let t0 = Instant::now();
        let s = Session::started(Some(10 * SECOND), t0, 0.5);
        assert!(!s.due(t0));
        assert!(!s.due(t0 + Duration::from_millis(8999)));
        assert!(s.due(t0 + 9 * SECOND));
        // Past the lifetime itself too: the broker re-authenticates an expired session.
        assert!(s.due(t0 + 60 * SECOND));
    }

    #[test]
    fn a_renewal_under_way_is_not_due_again_and_measures_its_latency() {
        let t0 = Instant::now();
        let s = Session::renewing(t0);
        assert!(s.is_renewing());
        assert!(!s.due(t0 + 60 * SECOND));
        assert_eq!(
            s.latency(t0 + Duration::from_millis(7)),
            Some(Duration::from_millis(7))
        );
        assert_eq!(Session::Unlimited.latency(t0), None);
        let next = Session::started(Some(10 * SECOND), t0, 0.0);
        assert!(!next.is_renewing());
        assert_eq!(next.latency(t0), None);
    }
}

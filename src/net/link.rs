//! What the pool knows of each broker's reachability, and the one log line each change of it
//! earns.
//!
//! A broker that is down is retried every `reconnect.backoff.ms` (growing to
//! `reconnect.backoff.max.ms`) for as long as records wait for it: logging each attempt at warn
//! level buried the one line that mattered (when it went down, and why) under a line a second.
//! So the pool keeps a [`Link`] per node and logs only when it changes: connected, lost,
//! unreachable, authentication failed, connected again. Repeats go to debug. Pure: the pool
//! feeds it events and writes the line it returns.

use log::Level;
use std::time::Duration;

/// A broker's reachability as the pool last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Link {
    /// Never connected yet.
    #[default]
    New,
    /// A connection is ready (set up and, with SASL, authenticated).
    Up,
    /// Closed by us after `connections.max.idle.ms`; nothing is wrong with the broker.
    Idle,
    /// Connections fail: `attempts` failed since the last ready one.
    Down { attempts: u32 },
    /// The broker refused our credentials (or TLS failed): retrying cannot fix it until the
    /// configuration changes, so repeats are quiet.
    AuthFailed,
}

/// What happened to a node's connection.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LinkEvent<'a> {
    /// A connection finished its setup.
    Ready,
    /// A connection failed (`was_ready`: it had been ready, so this is a loss, not a failed
    /// attempt), or one could not be opened.
    Failed { reason: &'a str, was_ready: bool },
    /// Authentication (or the TLS handshake) failed.
    AuthFailed { reason: &'a str },
    /// We closed an idle connection.
    IdleClosed,
    /// A ready connection renewed its session (KIP-368) in `latency`; the broker gave it
    /// `lifetime`, and the next renewal is due in `next`.
    Reauthenticated {
        latency: Duration,
        lifetime: Option<Duration>,
        next: Option<Duration>,
    },
}

/// The next state, and the line to log (level and message) for `node`.
pub(crate) fn next(link: Link, event: LinkEvent<'_>, node: &str) -> (Link, Level, String) {
    match (link, event) {
        (Link::New, LinkEvent::Ready) => (Link::Up, Level::Info, format!("connected to {node}")),
        (Link::Idle | Link::Up, LinkEvent::Ready) => {
            (Link::Up, Level::Debug, format!("connected to {node}"))
        }
        (Link::Down { attempts }, LinkEvent::Ready) => (
            Link::Up,
            Level::Info,
            format!("connected to {node} again, after {attempts} failed attempts"),
        ),
        (Link::AuthFailed, LinkEvent::Ready) => (
            Link::Up,
            Level::Info,
            format!("connected to {node}: authentication succeeded again"),
        ),
        (
            _,
            LinkEvent::Failed {
                reason,
                was_ready: true,
            },
        ) => (
            Link::Down { attempts: 0 },
            Level::Warn,
            format!("lost the connection to {node}: {reason}"),
        ),
        (Link::AuthFailed, LinkEvent::Failed { reason, .. }) => (
            Link::AuthFailed,
            Level::Debug,
            format!("connection to {node} failed: {reason}"),
        ),
        (Link::Down { attempts }, LinkEvent::Failed { reason, .. }) => (
            Link::Down {
                attempts: attempts.saturating_add(1),
            },
            Level::Debug,
            format!(
                "cannot connect to {node} (attempt {}): {reason}",
                attempts + 1
            ),
        ),
        (Link::New | Link::Up | Link::Idle, LinkEvent::Failed { reason, .. }) => (
            Link::Down { attempts: 1 },
            Level::Warn,
            format!(
                "cannot connect to {node}: {reason} (retrying with backoff; \
                 further failures are logged at debug level until it connects)"
            ),
        ),
        (Link::AuthFailed, LinkEvent::AuthFailed { reason }) => (
            Link::AuthFailed,
            Level::Debug,
            format!("authentication with {node} failed again: {reason}"),
        ),
        (_, LinkEvent::AuthFailed { reason }) => (
            Link::AuthFailed,
            Level::Error,
            format!("authentication with {node} failed: {reason}"),
        ),
        (
            link,
            LinkEvent::Reauthenticated {
                latency,
                lifetime,
                next,
            },
        ) => (
            link,
            Level::Debug,
            format!(
                "re-authenticated with {node} in {} ms (session lifetime {}; next renewal in {})",
                latency.as_millis(),
                lifetime.map_or("none".into(), |l| format!("{} ms", l.as_millis())),
                next.map_or("never".into(), |n| format!("{} ms", n.as_millis())),
            ),
        ),
        (_, LinkEvent::IdleClosed) => (
            Link::Idle,
            Level::Debug,
            format!("closed the idle connection to {node} (connections.max.idle.ms)"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `events` from `Link::New` and returns the levels logged at info or above, with
    /// the final state.
    fn run(events: &[LinkEvent<'_>]) -> (Vec<(Level, String)>, Link) {
        let mut link = Link::New;
        let mut loud = Vec::new();
        for e in events {
            let (l, level, msg) = next(link, *e, "node 1 (b:9092)");
            if level <= Level::Info {
                loud.push((level, msg));
            }
            link = l;
        }
        (loud, link)
    }

    const REFUSED: LinkEvent<'static> = LinkEvent::Failed {
        reason: "connection refused",
        was_ready: false,
    };

    #[test]
    fn a_broker_down_for_many_attempts_logs_once_and_once_more_when_back() {
        let mut events = vec![REFUSED; 50];
        events.push(LinkEvent::Ready);
        let (loud, link) = run(&events);
        assert_eq!(link, Link::Up);
        assert_eq!(loud.len(), 2, "{loud:?}");
        assert_eq!(loud[0].0, Level::Warn);
        assert!(loud[0]
            .1
            .contains("cannot connect to node 1 (b:9092): connection refused"));
        assert_eq!(loud[1].0, Level::Info);
        assert!(
            loud[1].1.contains("again, after 50 failed attempts"),
            "{loud:?}"
        );
    }

    #[test]
    fn a_lost_connection_is_one_warning_then_quiet_retries() {
        let lost = LinkEvent::Failed {
            reason: "reset",
            was_ready: true,
        };
        let (loud, link) = run(&[LinkEvent::Ready, lost, REFUSED, REFUSED, REFUSED]);
        assert_eq!(link, Link::Down { attempts: 3 });
        let levels: Vec<Level> = loud.iter().map(|l| l.0).collect();
        assert_eq!(levels, [Level::Info, Level::Warn], "{loud:?}");
        assert!(loud[1]
            .1
            .starts_with("lost the connection to node 1 (b:9092): reset"));
    }

    #[test]
    fn authentication_failures_are_one_error_and_the_disconnects_after_them_are_quiet() {
        let auth = LinkEvent::AuthFailed {
            reason: "bad password",
        };
        let (loud, link) = run(&[auth, REFUSED, auth, REFUSED, auth, REFUSED]);
        assert_eq!(link, Link::AuthFailed);
        assert_eq!(loud.len(), 1, "{loud:?}");
        assert_eq!(loud[0].0, Level::Error);
        assert!(loud[0].1.contains("bad password"));
    }

    #[test]
    fn idle_closes_and_reconnects_stay_at_debug() {
        let events = [
            LinkEvent::Ready,
            LinkEvent::IdleClosed,
            LinkEvent::Ready,
            LinkEvent::IdleClosed,
            LinkEvent::Ready,
        ];
        let (loud, link) = run(&events);
        assert_eq!(link, Link::Up);
        assert_eq!(loud.len(), 1, "only the first connect is logged: {loud:?}");
    }

    #[test]
    fn a_reauthentication_is_one_debug_line_and_changes_nothing() {
        let event = LinkEvent::Reauthenticated {
            latency: Duration::from_millis(3),
            lifetime: Some(Duration::from_secs(10)),
            next: Some(Duration::from_millis(8900)),
        };
        let (link, level, line) = next(Link::Up, event, "node 1 (b:9092)");
        assert_eq!((link, level), (Link::Up, Level::Debug));
        assert_eq!(
            line,
            "re-authenticated with node 1 (b:9092) in 3 ms (session lifetime 10000 ms; next \
             renewal in 8900 ms)"
        );
    }

    #[test]
    fn a_failure_after_an_idle_close_is_a_change_and_is_logged() {
        let (loud, _) = run(&[LinkEvent::Ready, LinkEvent::IdleClosed, REFUSED, REFUSED]);
        assert_eq!(loud.len(), 2, "{loud:?}");
        assert_eq!(loud[1].0, Level::Warn);
    }
}

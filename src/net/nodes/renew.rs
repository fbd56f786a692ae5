//! The pool's side of re-authentication (KIP-368): start it when a node with a session due
//! for renewal is about to be used, and finish it; and what a failed setup or renewal does.
//! When and why: [`crate::net::reauth`].

use super::{NodePool, Session};
use crate::net::connection::WireParts;
use crate::net::handshake::{Failure, Next};
use crate::net::link::LinkEvent;
use crate::net::transport::Transport;
use std::time::{Duration, Instant};

impl<T: Transport, C: WireParts> NodePool<T, C> {
    /// Starts re-authenticating `id` if it is ready and its session is due `now`; returns
    /// whether it did (the node then takes no request until it completes).
    pub(super) fn maybe_reauthenticate(&mut self, id: i32, now: Instant) -> bool {
        let Some(node) = self.nodes.get_mut(&id) else {
            return false;
        };
        if !node.is_ready() || !node.session.due(now) {
            return false;
        }
        let Some(hs) = node.handshake.as_mut() else {
            return false;
        };
        match hs.reauthenticate() {
            None => {
                node.session = Session::Unlimited;
                false
            }
            Some(next) => {
                node.session = Session::renewing(now);
                log::trace!("node {id} ({}): re-authenticating", node.addr);
                match next {
                    Next::Send(out) => self.send_setup(id, out, now),
                    Next::Failed(failure) => self.setup_failed(id, failure, now),
                    Next::Ready => self.reauthenticated(id, now),
                }
                true
            }
        }
    }

    /// `id` re-authenticated: a new session, and the node takes requests again.
    pub(super) fn reauthenticated(&mut self, id: i32, now: Instant) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        let latency = node.session.latency(now).unwrap_or_default();
        let lifetime = node.handshake.as_ref().and_then(|h| h.session_lifetime());
        node.session = Session::started(lifetime, now, self.rng.next_unit());
        let next = match node.session {
            Session::RenewAt { at } => Some(at.saturating_duration_since(now)),
            _ => None,
        };
        self.stats.reauthentications += 1;
        self.reauth_latencies.push(latency);
        self.note(
            id,
            LinkEvent::Reauthenticated {
                latency,
                lifetime,
                next,
            },
        );
    }

    /// The setup (or a re-authentication) of `id`'s connection failed: it is closed, and an
    /// authentication failure is reported.
    pub(super) fn setup_failed(&mut self, id: i32, failure: Failure, now: Instant) {
        let again = self.nodes.get(&id).is_some_and(|n| n.session.is_renewing());
        let what = if again {
            "re-authentication"
        } else {
            "authentication"
        };
        match failure {
            Failure::Auth(reason) if again => {
                self.auth_failed(
                    id,
                    format!("re-authentication (session renewal) refused: {reason}"),
                );
                self.disconnect(id, &format!("{what} failed: {reason}"), now);
            }
            Failure::Auth(reason) => {
                self.auth_failed(id, reason.clone());
                self.disconnect(id, &format!("{what} failed: {reason}"), now);
            }
            Failure::Broken(reason) if again => {
                self.disconnect(id, &format!("{what} failed: {reason}"), now)
            }
            Failure::Broken(reason) => self.disconnect(id, &reason, now),
        }
    }

    /// How long each re-authentication completed since the last call took.
    pub fn take_reauth_latencies(&mut self) -> Vec<Duration> {
        std::mem::take(&mut self.reauth_latencies)
    }

    /// Whether `id`'s connection is re-authenticating.
    #[cfg(test)]
    pub fn is_reauthenticating(&self, id: i32) -> bool {
        self.nodes
            .get(&id)
            .is_some_and(|n| n.conn.is_some() && n.session.is_renewing())
    }
}

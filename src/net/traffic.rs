//! What went over the network, counted where it happens (the connection's reads and writes,
//! the pool's connects and closes, the readiness wait) and read by the sender for its metrics.
//! Plain counters: only the sender thread touches them.

use std::collections::BTreeMap;

/// Requests written whole and bytes written and read, on one connection or one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Traffic {
    pub requests: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
}

impl Traffic {
    pub fn add(&mut self, other: Traffic) {
        self.requests += other.requests;
        self.bytes_out += other.bytes_out;
        self.bytes_in += other.bytes_in;
    }
}

/// Totals since the pool was made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NetStats {
    /// Per node id (negative: a bootstrap address), every connection it had.
    pub nodes: BTreeMap<i32, Traffic>,
    /// Connections whose TCP connect completed.
    pub connections_created: u64,
    /// Connections closed after their connect completed.
    pub connections_closed: u64,
    /// Time spent in the readiness wait.
    pub io_wait_ns: u64,
    /// Sessions renewed on their connection (KIP-368).
    pub reauthentications: u64,
    /// Re-authentications that did not complete: refused, or their connection failed or
    /// timed out during them.
    pub failed_reauthentications: u64,
}

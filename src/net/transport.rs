//! The transport seam: how the node pool opens byte streams to brokers, waits for them to be
//! ready, and tells the time.
//!
//! Production uses [`TcpTransport`](super::tcp::TcpTransport): non-blocking `std::net`
//! sockets (optionally under TLS) registered with a `polling` poller, and the real clock. The
//! sender's unit tests use a scripted, in-memory transport instead (`sender::scripted`), whose
//! streams are byte queues a test fills with broker answers and whose clock only moves when
//! the sender waits: every decision above this seam (framing, handshakes, reconnects, retries,
//! timeouts) runs unchanged, without sockets and without sleeping. This is the same cut as
//! Java's `KafkaClient` / `MockClient` and ureq's test transport, one level lower so that the
//! framing and handshakes are exercised too.

use super::connection::ConnectionError;
use std::fmt;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The readiness a stream waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    /// Connect under way: writable means it finished.
    Write,
    /// Idle: responses may arrive.
    Read,
    /// Bytes are waiting to be written.
    ReadWrite,
}

/// A stream that became ready, named by the key it was opened with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Readiness {
    pub key: usize,
    pub readable: bool,
    pub writable: bool,
}

/// One non-blocking byte stream to a broker. Plaintext goes in and out; TLS, if any, is
/// below this interface.
pub(crate) trait Stream {
    /// Reads without blocking: `None` when nothing is available yet, `Some(0)` at the end of
    /// the stream.
    fn read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, ConnectionError>;
    /// Writes without blocking: how much was taken, `None` if nothing could be.
    fn write(&mut self, buf: &[u8]) -> Result<Option<usize>, ConnectionError>;
    /// Writes the slices in order, as one write would their concatenation: how much was
    /// taken, `None` if nothing could be. By default the first non-empty slice alone.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> Result<Option<usize>, ConnectionError> {
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(b) => self.write(b),
            None => Ok(Some(0)),
        }
    }
    /// Pushes out what a lower layer (TLS) holds.
    fn flush(&mut self) -> Result<(), ConnectionError>;
    /// Whether a lower layer (TLS) holds bytes not yet written.
    fn wants_write(&self) -> bool;
    /// Called when a connecting stream is writable: `Ok` if the connect succeeded.
    fn finish_connect(&mut self) -> Result<(), ConnectionError>;
    /// Changes what readiness the stream is watched for.
    fn set_interest(&mut self, interest: Interest) -> io::Result<()>;
    /// Closes the stream (best effort; a TLS close_notify first).
    fn shutdown(&mut self);
}

/// Opens streams, waits for readiness, tells the time. See the module docs.
pub(crate) trait Transport {
    type Stream: Stream;

    /// The addresses `host:port` resolves to, in the order to try them.
    fn resolve(&mut self, addr: &str) -> io::Result<Vec<SocketAddr>>;

    /// Starts connecting to `target` (resolved from `addr`, whose host name TLS checks the
    /// certificate against); readiness for it is reported under `key`. Returns the stream and
    /// whether the connect is still under way.
    fn connect(
        &mut self,
        addr: &str,
        target: SocketAddr,
        key: usize,
    ) -> Result<(Self::Stream, bool), ConnectionError>;

    /// Waits up to `timeout` for readiness (or a [`Waker::wake`]); appends what became ready.
    fn wait(&mut self, timeout: Duration, ready: &mut Vec<Readiness>) -> io::Result<()>;

    /// What the other threads call to end a [`Transport::wait`] early.
    fn waker(&self) -> Waker;

    /// The current time: the clock every timer of the sender is measured against.
    fn now(&self) -> Instant;
}

/// Ends the sender's readiness wait from another thread (an append that filled a batch, a
/// flush, a close, a caller waiting for metadata).
#[derive(Clone)]
pub(crate) struct Waker(Arc<dyn Fn() + Send + Sync>);

impl Waker {
    /// A waker that calls `wake`.
    pub fn new(wake: impl Fn() + Send + Sync + 'static) -> Self {
        Waker(Arc::new(wake))
    }

    /// Wakes the sender thread.
    pub fn wake(&self) {
        (self.0)()
    }
}

impl fmt::Debug for Waker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Waker")
    }
}

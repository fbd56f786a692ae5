//! One connection to one broker: a non-blocking `std::net::TcpStream` registered with the
//! sender's readiness poller, a write buffer of whole request frames, a read buffer parsed into
//! response frames, and the queue of requests awaiting an answer.
//!
//! Kafka answers the requests of one connection in the order they were sent, so in-flight
//! requests are a FIFO: a response whose correlation id is not the one at the front means the
//! stream is out of step, and the connection is closed.
//!
//! With TLS (`security.protocol` `SSL` / `SASL_SSL`, cargo feature `rustls`) the socket is
//! wrapped in a rustls client session once the TCP connect completes: [`Transport`] hides the
//! difference, so framing sees plaintext in both cases. The handshake needs no separate step:
//! the ApiVersions request queued at connect waits in rustls until the handshake is done, and
//! the readiness loop drives both (writable: TLS records out; readable: TLS records in).
//!
//! The connection is generic over `C`, the caller's context for each request (which batches a
//! Produce request carried, say). Whatever happens, every context handed to [`Connection::send`]
//! comes back exactly once: with its response, from [`Connection::take_sent_unanswered`] for
//! requests that expect no response (acks=0), or from [`Connection::close`].

use crate::net::tls::TlsConnector;
use crate::protocol::frame::{self, FrameError};
use crate::protocol::header::{RequestHeader, ResponseHeader};
use polling::{Event, PollMode, Poller};
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a connection had to be closed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectionError {
    #[error("connect to {addr} failed: {source}")]
    Connect { addr: String, source: io::Error },
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    #[error("the broker closed the connection")]
    Eof,
    #[error("bad frame: {0}")]
    Frame(#[from] FrameError),
    #[error("response with correlation id {got}, expected {expected:?}")]
    Correlation { got: i32, expected: Option<i32> },
    #[error("malformed response header: {0}")]
    Header(crate::protocol::DecodeError),
    /// The TLS session failed: a certificate that is not trusted or does not name the broker,
    /// no common protocol version or cipher suite, a bad record.
    #[error("TLS handshake failed: {0}")]
    #[cfg_attr(not(feature = "rustls"), allow(dead_code))]
    Tls(String),
}

/// The byte stream under the framing: the socket itself, or a TLS session over it.
enum Transport {
    Plain(TcpStream),
    #[cfg(feature = "rustls")]
    Tls(TcpStream, Box<rustls::ClientConnection>),
}

impl Transport {
    fn stream(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            #[cfg(feature = "rustls")]
            Transport::Tls(s, _) => s,
        }
    }

    /// Reads plaintext without blocking: `None` when nothing is available yet, `Some(0)` at
    /// the end of the stream.
    fn read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, ConnectionError> {
        match self {
            Transport::Plain(s) => loop {
                match s.read(buf) {
                    Ok(n) => return Ok(Some(n)),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                }
            },
            #[cfg(feature = "rustls")]
            Transport::Tls(s, tls) => loop {
                // Plaintext already decrypted first; then more records from the socket.
                match tls.reader().read(buf) {
                    Ok(n) => return Ok(Some(n)),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(Some(0)),
                    Err(e) => return Err(e.into()),
                }
                match tls.read_tls(s) {
                    Ok(0) => return Ok(Some(0)),
                    Ok(_) => {
                        if let Err(e) = tls.process_new_packets() {
                            // Tell the broker why (the alert rustls queued), best effort.
                            let _ = tls.write_tls(s);
                            return Err(ConnectionError::Tls(e.to_string()));
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                }
            },
        }
    }

    /// Writes plaintext without blocking: how much was taken, `None` if nothing could be.
    /// With TLS, what rustls took is encrypted (or held until the handshake is done) and
    /// counts as written.
    fn write(&mut self, buf: &[u8]) -> Result<Option<usize>, ConnectionError> {
        match self {
            Transport::Plain(s) => loop {
                match s.write(buf) {
                    Ok(0) => return Err(ConnectionError::Eof),
                    Ok(n) => return Ok(Some(n)),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                }
            },
            #[cfg(feature = "rustls")]
            Transport::Tls(s, tls) => {
                // rustls takes nothing while its buffer is full; a second try after the
                // socket took the buffer out.
                for _ in 0..2 {
                    let n = tls.writer().write(buf)?;
                    let drained = push_tls(s, tls)?;
                    if n > 0 {
                        return Ok(Some(n));
                    }
                    if !drained || tls.is_handshaking() {
                        break;
                    }
                }
                Ok(None)
            }
        }
    }

    /// Writes what the TLS session has to send (handshake messages, records, alerts).
    fn flush(&mut self) -> Result<(), ConnectionError> {
        match self {
            Transport::Plain(_) => Ok(()),
            #[cfg(feature = "rustls")]
            Transport::Tls(s, tls) => push_tls(s, tls).map(drop),
        }
    }

    /// Whether the TLS session holds bytes for the socket.
    fn wants_write(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            #[cfg(feature = "rustls")]
            Transport::Tls(_, tls) => tls.wants_write(),
        }
    }

    fn shutdown(&mut self) {
        #[cfg(feature = "rustls")]
        if let Transport::Tls(s, tls) = self {
            tls.send_close_notify();
            let _ = tls.write_tls(s);
        }
        let _ = self.stream().shutdown(std::net::Shutdown::Both);
    }
}

/// Writes TLS records to the socket until rustls has none or the socket is full; returns
/// whether everything went out.
#[cfg(feature = "rustls")]
fn push_tls(
    s: &mut TcpStream,
    tls: &mut rustls::ClientConnection,
) -> Result<bool, ConnectionError> {
    while tls.wants_write() {
        match tls.write_tls(s) {
            Ok(0) => return Err(ConnectionError::Eof),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

/// A request awaiting its response.
#[derive(Debug)]
struct InFlight<C> {
    correlation_id: i32,
    api_key: i16,
    api_version: i16,
    sent_at: Instant,
    ctx: C,
}

/// A request that expects no response (Produce with acks=0): its context is returned once the
/// last byte of its frame has been handed to the socket.
#[derive(Debug)]
struct Unanswered<C> {
    end: usize,
    ctx: C,
}

/// A response read from the broker, paired with the context of the request it answers.
#[derive(Debug)]
pub(crate) struct Response<C> {
    pub api_version: i16,
    pub body: Vec<u8>,
    pub ctx: C,
}

/// Largest response frame accepted. Metadata for very large clusters is the biggest response a
/// producer sees; anything larger is a stream out of step or a hostile peer.
pub(crate) const MAX_RESPONSE_SIZE: usize = 100 * 1024 * 1024;

const READ_CHUNK: usize = 64 * 1024;

/// How much written data may sit at the front of the write buffer before it is compacted.
const COMPACT_AT: usize = 1024 * 1024;

/// The readiness a connection waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interest {
    /// Connect under way: writable means it finished.
    Write,
    /// Idle: responses may arrive.
    Read,
    /// Bytes are waiting to be written.
    ReadWrite,
}

impl Interest {
    fn event(self, key: usize) -> Event {
        match self {
            Interest::Write => Event::writable(key),
            Interest::Read => Event::readable(key),
            Interest::ReadWrite => Event::all(key),
        }
    }
}

/// A request frame begun with [`Connection::begin`], to be finished with [`Connection::commit`].
#[derive(Debug)]
#[must_use]
pub(crate) struct PendingRequest {
    start: usize,
    correlation_id: i32,
    api_key: i16,
    api_version: i16,
}

/// A connection to a broker. See the module docs.
pub(crate) struct Connection<C> {
    transport: Transport,
    poller: Arc<Poller>,
    key: usize,
    registered: bool,
    /// What the poller currently watches for on this socket.
    interest: Interest,
    /// Set while the non-blocking connect is under way: when it must have completed.
    connect_deadline: Option<Instant>,
    /// Bytes of whole frames not yet written; `write_pos` is how far the socket took them.
    write_buf: Vec<u8>,
    write_pos: usize,
    /// Bytes read and not yet parsed into frames live in `read_buf[read_start..read_end]`.
    read_buf: Vec<u8>,
    read_start: usize,
    read_end: usize,
    next_correlation_id: i32,
    in_flight: VecDeque<InFlight<C>>,
    unanswered: VecDeque<Unanswered<C>>,
    /// Offset subtracted from `Unanswered::end` when the write buffer is compacted.
    write_base: usize,
    /// A read error (or end of stream) met after complete responses were parsed in the same
    /// call: those are returned first, the error by the next [`Connection::read`].
    read_error: Option<ConnectionError>,
}

impl<C> Connection<C> {
    /// Starts a non-blocking connect to `addr` and registers the socket with `poller` under
    /// `key`. The connection is usable at once: requests queue in the write buffer and go out
    /// when the connect completes ([`Connection::finish_connect`], on the first writable event).
    /// `timeout` (`socket.connection.setup.timeout.ms`) bounds the connect: see
    /// [`Connection::connect_timed_out`].
    ///
    /// With `tls`, the stream is a TLS session with the broker, its certificate checked
    /// against the name in `addr`.
    ///
    /// Only the name lookup blocks (an IP address, as on loopback, needs none).
    pub fn connect(
        addr: &str,
        tls: Option<&TlsConnector>,
        timeout: Duration,
        now: Instant,
        poller: Arc<Poller>,
        key: usize,
    ) -> Result<Self, ConnectionError> {
        #[cfg(feature = "rustls")]
        let session = tls.map(|t| t.start(addr)).transpose()?.map(Box::new);
        #[cfg(not(feature = "rustls"))]
        if let Some(t) = tls {
            match *t {}
        }
        let connect_err = |source| ConnectionError::Connect {
            addr: addr.to_string(),
            source,
        };
        let target = addr
            .to_socket_addrs()
            .map_err(connect_err)?
            .next()
            .ok_or_else(|| {
                connect_err(io::Error::new(
                    ErrorKind::NotFound,
                    "address resolved to nothing",
                ))
            })?;
        let socket = Socket::new(
            Domain::for_address(target),
            Type::STREAM,
            Some(Protocol::TCP),
        )
        .map_err(connect_err)?;
        socket.set_nonblocking(true).map_err(connect_err)?;
        socket.set_tcp_nodelay(true).map_err(connect_err)?;
        let connecting = match socket.connect(&target.into()) {
            Ok(()) => false,
            Err(e) if connect_in_progress(&e) => true,
            Err(e) => return Err(connect_err(e)),
        };
        let stream: TcpStream = socket.into();
        // SAFETY (of the unsafe `add` below): polling requires that a registered source is
        // deleted from the poller before the socket is closed. The stream lives in this struct
        // and `Drop` (and `close`) delete it from the poller before the stream is dropped.
        // Level-triggered: the registration stays armed after an event, so the interest set
        // is only touched when it changes (see `rearm`), not after every wake-up.
        let interest = if connecting {
            Interest::Write
        } else {
            Interest::Read
        };
        #[allow(unsafe_code)]
        unsafe {
            poller
                .add_with_mode(&stream, interest.event(key), PollMode::Level)
                .map_err(connect_err)?;
        }
        // The TLS session's ClientHello waits in rustls until the first flush after the
        // connect completed.
        #[cfg(feature = "rustls")]
        let transport = match session {
            Some(tls) => Transport::Tls(stream, tls),
            None => Transport::Plain(stream),
        };
        #[cfg(not(feature = "rustls"))]
        let transport = Transport::Plain(stream);
        let conn = Connection {
            transport,
            poller,
            key,
            registered: true,
            interest,
            connect_deadline: connecting.then(|| now + timeout),
            write_buf: Vec::with_capacity(64 * 1024),
            write_pos: 0,
            read_buf: vec![0; READ_CHUNK],
            read_start: 0,
            read_end: 0,
            next_correlation_id: 0,
            in_flight: VecDeque::new(),
            unanswered: VecDeque::new(),
            write_base: 0,
            read_error: None,
        };
        Ok(conn)
    }

    /// Whether the TCP connect is still under way.
    pub fn is_connecting(&self) -> bool {
        self.connect_deadline.is_some()
    }

    /// Whether the connect has taken longer than its setup timeout.
    pub fn connect_timed_out(&self, now: Instant) -> bool {
        self.connect_deadline.is_some_and(|d| now >= d)
    }

    /// When the connect must have completed, if it is under way.
    pub fn connect_deadline(&self) -> Option<Instant> {
        self.connect_deadline
    }

    /// Called when a connecting socket is writable: the connect finished, one way or the other.
    pub fn finish_connect(&mut self) -> Result<(), ConnectionError> {
        if self.connect_deadline.is_none() {
            return Ok(());
        }
        if let Some(e) = self.transport.stream().take_error()? {
            return Err(ConnectionError::Io(e));
        }
        // Writable without an error can still mean "not connected" on some systems: the peer
        // address tells.
        self.transport.stream().peer_addr()?;
        self.connect_deadline = None;
        Ok(())
    }

    /// Appends a request frame (size, header, body written by `body`) to the write buffer.
    /// Nothing is written to the socket until [`Connection::flush`].
    #[allow(clippy::too_many_arguments)]
    pub fn send(
        &mut self,
        api_key: i16,
        api_version: i16,
        client_id: Option<&str>,
        expect_response: bool,
        now: Instant,
        ctx: C,
        body: impl FnOnce(&mut Vec<u8>),
    ) -> Result<i32, (ConnectionError, C)> {
        let pending = self.begin(api_key, api_version, client_id);
        body(self.buffer());
        self.commit(pending, expect_response, now, ctx)
    }

    /// Starts a request frame in the write buffer: size placeholder and header. Append the body
    /// to [`Connection::buffer`], then [`Connection::commit`]. Two steps so that a body borrowing
    /// what becomes the request's context (a Produce request's batches) is written straight
    /// into the socket buffer, with no intermediate copy.
    pub fn begin(
        &mut self,
        api_key: i16,
        api_version: i16,
        client_id: Option<&str>,
    ) -> PendingRequest {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1) & i32::MAX;
        let start = frame::begin_frame(&mut self.write_buf);
        RequestHeader {
            api_key,
            api_version,
            correlation_id,
            client_id,
        }
        .encode(&mut self.write_buf);
        PendingRequest {
            start,
            correlation_id,
            api_key,
            api_version,
        }
    }

    /// The write buffer, for appending the body of the request begun with [`Connection::begin`].
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.write_buf
    }

    /// Finishes the frame begun with [`Connection::begin`] (its size filled in last) and queues
    /// the request with its context.
    pub fn commit(
        &mut self,
        pending: PendingRequest,
        expect_response: bool,
        now: Instant,
        ctx: C,
    ) -> Result<i32, (ConnectionError, C)> {
        let PendingRequest {
            start,
            correlation_id,
            api_key,
            api_version,
        } = pending;
        if let Err(e) = frame::finish_frame(&mut self.write_buf, start) {
            self.write_buf.truncate(start);
            return Err((e.into(), ctx));
        }
        if expect_response {
            self.in_flight.push_back(InFlight {
                correlation_id,
                api_key,
                api_version,
                sent_at: now,
                ctx,
            });
        } else {
            let end = self.write_base + self.write_buf.len();
            self.unanswered.push_back(Unanswered { end, ctx });
        }
        Ok(correlation_id)
    }

    /// Writes as much of the write buffer as the socket takes without blocking.
    pub fn flush(&mut self) -> Result<(), ConnectionError> {
        if self.is_connecting() {
            return Ok(());
        }
        while self.write_pos < self.write_buf.len() {
            match self.transport.write(&self.write_buf[self.write_pos..])? {
                Some(n) => self.write_pos += n,
                None => break,
            }
        }
        self.transport.flush()?;
        if self.write_pos == self.write_buf.len() {
            self.write_base += self.write_buf.len();
            self.write_buf.clear();
            self.write_pos = 0;
        } else if self.write_pos >= COMPACT_AT && self.write_pos * 2 >= self.write_buf.len() {
            // Under steady load the buffer may never drain completely: drop the written front
            // now and then so it does not grow with everything ever sent.
            self.write_buf.drain(..self.write_pos);
            self.write_base += self.write_pos;
            self.write_pos = 0;
        }
        Ok(())
    }

    /// Contexts of requests that expect no response and have been fully written.
    pub fn take_sent_unanswered(&mut self) -> Vec<C> {
        let written = self.write_base + self.write_pos;
        let mut out = Vec::new();
        while self.unanswered.front().is_some_and(|u| u.end <= written) {
            out.push(self.unanswered.pop_front().expect("checked").ctx);
        }
        out
    }

    /// Reads what the socket has and returns every complete response, in order. Responses
    /// that arrived just before the broker closed the connection (say, an authentication
    /// error, which the broker follows with a close) are returned; the end of the stream is
    /// reported by the next call.
    pub fn read(&mut self) -> Result<Vec<Response<C>>, ConnectionError> {
        if self.is_connecting() {
            return Ok(Vec::new());
        }
        if let Some(e) = self.read_error.take() {
            return Err(e);
        }
        let mut responses = Vec::new();
        loop {
            // Make room: move unparsed bytes to the front, grow only for a frame that needs it.
            if self.read_end == self.read_buf.len() {
                if self.read_start > 0 {
                    self.read_buf.copy_within(self.read_start..self.read_end, 0);
                    self.read_end -= self.read_start;
                    self.read_start = 0;
                } else {
                    let grow = self.read_buf.len().min(MAX_RESPONSE_SIZE + 4);
                    self.read_buf
                        .resize(self.read_buf.len() + grow.max(READ_CHUNK), 0);
                }
            }
            let err = match self.transport.read(&mut self.read_buf[self.read_end..]) {
                Ok(Some(0)) => ConnectionError::Eof,
                Ok(Some(n)) => {
                    self.read_end += n;
                    self.parse(&mut responses)?;
                    continue;
                }
                Ok(None) => break,
                Err(e) => e,
            };
            if responses.is_empty() {
                return Err(err);
            }
            self.read_error = Some(err);
            return Ok(responses);
        }
        // Shrink a buffer that grew for one huge response.
        if self.read_start == self.read_end && self.read_buf.len() > 4 * READ_CHUNK {
            self.read_buf = vec![0; READ_CHUNK];
            self.read_start = 0;
            self.read_end = 0;
        }
        Ok(responses)
    }

    fn parse(&mut self, out: &mut Vec<Response<C>>) -> Result<(), ConnectionError> {
        while let Some(end) = frame::parse_frame(
            &self.read_buf[self.read_start..self.read_end],
            MAX_RESPONSE_SIZE,
        )? {
            let payload =
                &self.read_buf[self.read_start + frame::SIZE_PREFIX_LEN..self.read_start + end];
            let expected = self
                .in_flight
                .front()
                .map(|f| (f.correlation_id, f.api_key, f.api_version));
            let Some((cid, api_key, api_version)) = expected else {
                let got = payload
                    .get(..4)
                    .map_or(-1, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                return Err(ConnectionError::Correlation {
                    got,
                    expected: None,
                });
            };
            let (header, body) = ResponseHeader::split(payload, api_key, api_version)
                .map_err(ConnectionError::Header)?;
            if header.correlation_id != cid {
                return Err(ConnectionError::Correlation {
                    got: header.correlation_id,
                    expected: Some(cid),
                });
            }
            let body = body.to_vec();
            self.read_start += end;
            let f = self.in_flight.pop_front().expect("checked");
            out.push(Response {
                api_version,
                body,
                ctx: f.ctx,
            });
        }
        if self.read_start == self.read_end {
            self.read_start = 0;
            self.read_end = 0;
        }
        Ok(())
    }

    /// Updates what the poller watches for on this socket (only when it changed): writable while
    /// connecting; readable always after that, writable too while bytes are pending.
    pub fn rearm(&mut self) -> io::Result<()> {
        let want = if self.is_connecting() {
            Interest::Write
        } else if self.has_pending_writes() {
            Interest::ReadWrite
        } else {
            Interest::Read
        };
        if want != self.interest {
            self.poller.modify_with_mode(
                self.transport.stream(),
                want.event(self.key),
                PollMode::Level,
            )?;
            self.interest = want;
        }
        Ok(())
    }

    /// Number of requests awaiting a response.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether bytes are waiting to be written.
    pub fn has_pending_writes(&self) -> bool {
        self.write_pos < self.write_buf.len() || self.transport.wants_write()
    }

    /// The contexts of the requests awaiting a response, oldest first.
    pub fn in_flight_contexts(&self) -> impl Iterator<Item = &C> {
        self.in_flight.iter().map(|f| &f.ctx)
    }

    /// When the oldest request awaiting a response was sent.
    pub fn oldest_in_flight(&self) -> Option<Instant> {
        self.in_flight.front().map(|f| f.sent_at)
    }

    /// Closes the socket and returns every context not yet answered, each exactly once, with
    /// whether its request had been completely written (it may have reached the broker).
    pub fn close(mut self) -> Vec<(C, bool)> {
        self.deregister();
        self.transport.shutdown();
        let written = self.write_base + self.write_pos;
        let mut out: Vec<(C, bool)> = self.in_flight.drain(..).map(|f| (f.ctx, true)).collect();
        // A request in the write buffer may be partly written; partly counts as sent, since the
        // broker could not act on it but we cannot prove which bytes it read.
        let _ = written;
        out.extend(self.unanswered.drain(..).map(|u| (u.ctx, true)));
        out
    }

    fn deregister(&mut self) {
        if self.registered {
            let _ = self.poller.delete(self.transport.stream());
            self.registered = false;
        }
    }
}

impl<C> Drop for Connection<C> {
    fn drop(&mut self) {
        self.deregister();
    }
}

/// Whether a non-blocking `connect` answered "under way" (EINPROGRESS; WouldBlock on Windows).
/// `io::ErrorKind::InProgress` is not stable yet, hence the raw codes.
fn connect_in_progress(e: &io::Error) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const EINPROGRESS: i32 = 115;
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    ))]
    const EINPROGRESS: i32 = 36;
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    )))]
    const EINPROGRESS: i32 = i32::MIN;
    e.kind() == ErrorKind::WouldBlock || e.raw_os_error() == Some(EINPROGRESS)
}

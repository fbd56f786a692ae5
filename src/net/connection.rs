//! One connection to one broker: a non-blocking [`Stream`] (a socket from the TCP transport, or
//! a scripted stream in tests), a write buffer of whole request frames, a read buffer parsed
//! into response frames, and the queue of requests awaiting an answer.
//!
//! Kafka answers the requests of one connection in the order they were sent, so in-flight
//! requests are a FIFO: a response whose correlation id is not the one at the front means the
//! stream is out of step, and the connection is closed.
//!
//! With TLS (`security.protocol` `SSL` / `SASL_SSL`) the stream is a TLS session: the
//! [`Stream`] hides the difference, so framing sees plaintext in both cases.
//!
//! The connection is generic over `C`, the caller's context for each request (which batches a
//! Produce request carried, say). Whatever happens, every context handed to [`Connection::send`]
//! comes back exactly once: with its response, from [`Connection::take_sent_unanswered`] for
//! requests that expect no response (acks=0), or from [`Connection::close`].

use super::transport::{Interest, Stream};
use crate::protocol::frame::{self, FrameError};
use crate::protocol::header::{RequestHeader, ResponseHeader};
use std::collections::VecDeque;
use std::io;
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
    pub api_key: i16,
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
pub(crate) struct Connection<C, S: Stream> {
    stream: S,
    /// What the stream is currently watched for.
    interest: Interest,
    /// When a request was last queued or a response last read (`connections.max.idle.ms`).
    last_activity: Instant,
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

impl<C, S: Stream> Connection<C, S> {
    /// A connection over `stream`, which the transport has just opened (`connecting`: its
    /// connect is still under way). It is usable at once: requests queue in the write buffer
    /// and go out when the connect completes ([`Connection::finish_connect`], on the first
    /// writable event). `setup_timeout` bounds the connect: see
    /// [`Connection::connect_timed_out`].
    pub fn new(stream: S, connecting: bool, setup_timeout: Duration, now: Instant) -> Self {
        Connection {
            stream,
            interest: if connecting {
                Interest::Write
            } else {
                Interest::Read
            },
            last_activity: now,
            connect_deadline: connecting.then(|| now + setup_timeout),
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
        }
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
        self.stream.finish_connect()?;
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
        self.last_activity = now;
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
            match self.stream.write(&self.write_buf[self.write_pos..])? {
                Some(n) => self.write_pos += n,
                None => break,
            }
        }
        self.stream.flush()?;
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

    /// Reads what the stream has and returns every complete response, in order. Responses
    /// that arrived just before the broker closed the connection (say, an authentication
    /// error, which the broker follows with a close) are returned; the end of the stream is
    /// reported by the next call.
    pub fn read(&mut self, now: Instant) -> Result<Vec<Response<C>>, ConnectionError> {
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
            let err = match self.stream.read(&mut self.read_buf[self.read_end..]) {
                Ok(Some(0)) => ConnectionError::Eof,
                Ok(Some(n)) => {
                    self.read_end += n;
                    self.last_activity = now;
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
                api_key,
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

    /// Updates what the stream is watched for (only when it changed): writable while
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
            self.stream.set_interest(want)?;
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
        self.write_pos < self.write_buf.len() || self.stream.wants_write()
    }

    /// The contexts of the requests awaiting a response, oldest first.
    pub fn in_flight_contexts(&self) -> impl Iterator<Item = &C> {
        self.in_flight.iter().map(|f| &f.ctx)
    }

    /// When the connection counts as idle (`connections.max.idle.ms` after the last request
    /// queued or response read) if nothing happens; `None` while it is busy: a request in
    /// flight, bytes waiting to be written, the connect under way.
    pub fn idle_deadline(&self, max_idle: Duration) -> Option<Instant> {
        let busy = !self.in_flight.is_empty()
            || !self.unanswered.is_empty()
            || self.has_pending_writes()
            || self.is_connecting();
        (!busy).then(|| self.last_activity + max_idle)
    }

    /// When the oldest request awaiting a response was sent.
    pub fn oldest_in_flight(&self) -> Option<Instant> {
        self.in_flight.front().map(|f| f.sent_at)
    }

    /// Closes the stream and returns every context not yet answered, each exactly once. All
    /// may have reached the broker: a request still in the write buffer may be partly written,
    /// and although the broker cannot act on half a frame, which bytes it read is unknown.
    pub fn close(mut self) -> Vec<C> {
        self.stream.shutdown();
        let in_flight = self.in_flight.drain(..).map(|f| f.ctx);
        let unanswered = self.unanswered.drain(..).map(|u| u.ctx);
        in_flight.chain(unanswered).collect()
    }
}

//! One connection to one broker: a non-blocking [`Stream`] (a socket from the TCP transport, or
//! a scripted stream in tests), a write queue of whole request frames, a read buffer parsed
//! into response frames, and the queue of requests awaiting an answer.
//!
//! A frame in the write queue is a list of segments: bytes in the connection's own write
//! buffer (size, header, the small fields of the body) and parts the request's context holds
//! ([`WireParts`]: a Produce request's record batches), which go to the socket in one vectored
//! write from where they are, never copied into the write buffer. That saves a copy of every
//! byte produced and keeps the write buffer at the size of the headers, whatever the batches
//! weigh. The context lives on the connection until its frame is written (a response cannot
//! arrive before that: one that does closes the connection), so the parts cannot change or go
//! away while their bytes are pending.
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

use super::traffic::Traffic;
use super::transport::{Interest, Stream};
use crate::protocol::frame::{self, FrameError};
use crate::protocol::header::{RequestHeader, ResponseHeader};
use std::collections::VecDeque;
use std::io::{self, IoSlice};
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
    /// A response to a request whose frame is not all written yet: no broker does that, and
    /// the request's context, which holds the rest of the frame, must stay until it is.
    #[error("response with correlation id {0} before its request was written")]
    EarlyResponse(i32),
    #[error("malformed response header: {0}")]
    Header(crate::protocol::DecodeError),
    /// The TLS session failed: a certificate that is not trusted or does not name the broker,
    /// no common protocol version or cipher suite, a bad record.
    #[error("TLS handshake failed: {0}")]
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Tls(String),
}

/// Bytes that a request's context holds and that go out as part of its frame, written from
/// where they are rather than copied into the connection's write buffer (see the module docs).
pub(crate) trait WireParts {
    /// Part `index` of the request's frame, as registered with [`FrameBody::part`]: the same
    /// bytes on every call while the request is on the connection.
    fn wire_part(&self, index: usize) -> &[u8];
}

/// One piece of the write queue.
#[derive(Debug, Clone, Copy)]
enum Segment {
    /// The write buffer's bytes from the end of the previous owned segment up to `end`.
    Owned { end: usize },
    /// `len` bytes of part `index` of request `request`'s context.
    Part {
        request: u64,
        index: usize,
        len: usize,
    },
    /// Request `request`'s frame is complete up to here.
    End { request: u64 },
}

/// The body of a request frame being queued: bytes appended to the write buffer, and parts
/// of the request's context referred to where they go ([`FrameBody::part`]).
pub(crate) struct FrameBody<'a> {
    buf: &'a mut Vec<u8>,
    segments: &'a mut VecDeque<Segment>,
    request: u64,
    /// Where the owned bytes not yet in a segment begin.
    owned_from: usize,
    /// Bytes of the frame held by parts.
    external: usize,
}

impl FrameBody<'_> {
    /// The write buffer, for the body's own bytes.
    pub fn bytes(&mut self) -> &mut Vec<u8> {
        self.buf
    }

    /// Puts the `len` bytes of the context's [`WireParts::wire_part`] `index` here in the
    /// frame, written from the context itself.
    pub fn part(&mut self, index: usize, len: usize) {
        self.close_owned();
        self.segments.push_back(Segment::Part {
            request: self.request,
            index,
            len,
        });
        self.external += len;
    }

    fn close_owned(&mut self) {
        if self.buf.len() > self.owned_from {
            self.segments.push_back(Segment::Owned {
                end: self.buf.len(),
            });
            self.owned_from = self.buf.len();
        }
    }
}

/// At most this many slices in one vectored write.
const MAX_IOV: usize = 128;

/// A request awaiting its response.
#[derive(Debug)]
struct InFlight<C> {
    /// Numbers the requests of the connection in the order they were queued.
    request: u64,
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
    request: u64,
    ctx: C,
}

/// A response read from the broker, paired with the context of the request it answers.
#[derive(Debug)]
pub(crate) struct Response<C> {
    pub api_key: i16,
    pub api_version: i16,
    pub body: Vec<u8>,
    pub ctx: C,
    /// When the request was queued (the request latency runs from here).
    pub sent_at: Instant,
}

/// Largest response frame accepted. Metadata for very large clusters is the biggest response a
/// producer sees; anything larger is a stream out of step or a hostile peer.
pub(crate) const MAX_RESPONSE_SIZE: usize = 100 * 1024 * 1024;

const READ_CHUNK: usize = 64 * 1024;

/// How much written data may sit at the front of the write buffer before it is compacted.
const COMPACT_AT: usize = 1024 * 1024;

/// A connection to a broker. See the module docs.
pub(crate) struct Connection<C, S: Stream> {
    stream: S,
    /// What the stream is currently watched for.
    interest: Interest,
    /// When a request was last queued or a response last read (`connections.max.idle.ms`).
    last_activity: Instant,
    /// Set while the non-blocking connect is under way: when it must have completed.
    connect_deadline: Option<Instant>,
    /// The owned bytes of the frames not yet written; `owned_pos` is how far the socket took
    /// them.
    write_buf: Vec<u8>,
    owned_pos: usize,
    /// What is left to write, in order; `front_written` is how much of the front segment the
    /// socket took (for a part: owned bytes are counted by `owned_pos`).
    segments: VecDeque<Segment>,
    front_written: usize,
    /// The number the next request queued gets.
    next_request: u64,
    /// Every request numbered below this is written whole.
    written_requests: u64,
    /// Bytes read and not yet parsed into frames live in `read_buf[read_start..read_end]`.
    read_buf: Vec<u8>,
    read_start: usize,
    read_end: usize,
    next_correlation_id: i32,
    in_flight: VecDeque<InFlight<C>>,
    unanswered: VecDeque<Unanswered<C>>,
    /// A read error (or end of stream) met after complete responses were parsed in the same
    /// call: those are returned first, the error by the next [`Connection::read`].
    read_error: Option<ConnectionError>,
    /// What went over the socket since the last [`Connection::take_traffic`].
    traffic: Traffic,
    /// Requests written whole that `traffic` already counted.
    counted_requests: u64,
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
            write_buf: Vec::with_capacity(16 * 1024),
            owned_pos: 0,
            segments: VecDeque::new(),
            front_written: 0,
            next_request: 0,
            written_requests: 0,
            read_buf: vec![0; READ_CHUNK],
            read_start: 0,
            read_end: 0,
            next_correlation_id: 0,
            in_flight: VecDeque::new(),
            unanswered: VecDeque::new(),
            read_error: None,
            traffic: Traffic::default(),
            counted_requests: 0,
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

    /// Queues a request frame: size, header, and the body `body` writes, given the context
    /// (its own bytes into [`FrameBody::bytes`], the context's parts by reference with
    /// [`FrameBody::part`]). Nothing is written to the socket until [`Connection::flush`].
    #[allow(clippy::too_many_arguments)]
    pub fn send(
        &mut self,
        api_key: i16,
        api_version: i16,
        client_id: Option<&str>,
        expect_response: bool,
        now: Instant,
        ctx: C,
        body: impl FnOnce(&C, &mut FrameBody<'_>),
    ) -> Result<i32, (ConnectionError, C)> {
        let request = self.next_request;
        let correlation_id = self.next_correlation_id;
        let segments_before = self.segments.len();
        let start = frame::begin_frame(&mut self.write_buf);
        RequestHeader {
            api_key,
            api_version,
            correlation_id,
            client_id,
        }
        .encode(&mut self.write_buf);
        let mut fb = FrameBody {
            buf: &mut self.write_buf,
            segments: &mut self.segments,
            request,
            owned_from: start,
            external: 0,
        };
        body(&ctx, &mut fb);
        fb.close_owned();
        let external = fb.external;
        if let Err(e) = frame::finish_frame_with_external(&mut self.write_buf, start, external) {
            self.write_buf.truncate(start);
            self.segments.truncate(segments_before);
            return Err((e.into(), ctx));
        }
        self.segments.push_back(Segment::End { request });
        self.next_request += 1;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1) & i32::MAX;
        self.last_activity = now;
        if expect_response {
            self.in_flight.push_back(InFlight {
                request,
                correlation_id,
                api_key,
                api_version,
                sent_at: now,
                ctx,
            });
        } else {
            self.unanswered.push_back(Unanswered { request, ctx });
        }
        Ok(correlation_id)
    }

    /// Requests written whole and bytes written and read since the last call.
    pub fn take_traffic(&mut self) -> Traffic {
        let mut t = std::mem::take(&mut self.traffic);
        t.requests = self.written_requests - self.counted_requests;
        self.counted_requests = self.written_requests;
        t
    }

    /// Contexts of requests that expect no response and have been fully written.
    pub fn take_sent_unanswered(&mut self) -> Vec<C> {
        let mut out = Vec::new();
        while self
            .unanswered
            .front()
            .is_some_and(|u| u.request < self.written_requests)
        {
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
                    self.traffic.bytes_in += n as u64;
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
            if let Some(f) = self.in_flight.front() {
                if f.request >= self.written_requests {
                    return Err(ConnectionError::EarlyResponse(f.correlation_id));
                }
            }
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
                sent_at: f.sent_at,
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
        !self.segments.is_empty() || self.stream.wants_write()
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

impl<C: WireParts, S: Stream> Connection<C, S> {
    /// Writes as much of the write queue as the socket takes without blocking, in vectored
    /// writes of owned bytes and the contexts' parts.
    pub fn flush(&mut self) -> Result<(), ConnectionError> {
        if self.is_connecting() {
            return Ok(());
        }
        loop {
            // Nothing taken yet: this only pops the end markers at the front.
            self.advance(0);
            if self.segments.is_empty() {
                break;
            }
            let mut iov = [IoSlice::new(&[]); MAX_IOV];
            let filled = gather(
                &mut iov,
                &self.segments,
                self.front_written,
                &self.write_buf,
                self.owned_pos,
                |request, index| find_part(&self.in_flight, &self.unanswered, request, index),
            )?;
            match self.stream.write_vectored(&iov[..filled])? {
                Some(n) => {
                    self.traffic.bytes_out += n as u64;
                    self.advance(n)
                }
                None => break,
            }
        }
        self.stream.flush()?;
        if self.segments.is_empty() {
            self.write_buf.clear();
            self.owned_pos = 0;
        } else if self.owned_pos >= COMPACT_AT && self.owned_pos * 2 >= self.write_buf.len() {
            // Under steady load the queue may never drain completely: drop the written front
            // of the buffer now and then so it does not grow with everything ever sent.
            let written = self.owned_pos;
            self.write_buf.drain(..written);
            for seg in &mut self.segments {
                if let Segment::Owned { end } = seg {
                    *end -= written;
                }
            }
            self.owned_pos = 0;
        }
        Ok(())
    }
}

impl<C, S: Stream> Connection<C, S> {
    /// The socket took `n` more bytes of the queue (end markers reached are popped, and
    /// their requests count as written).
    fn advance(&mut self, mut n: usize) {
        while let Some(&seg) = self.segments.front() {
            let left = match seg {
                Segment::Owned { end } => end - self.owned_pos,
                Segment::Part { len, .. } => len - self.front_written,
                Segment::End { request } => {
                    self.written_requests = request + 1;
                    self.segments.pop_front();
                    continue;
                }
            };
            if n < left {
                match seg {
                    Segment::Owned { .. } => self.owned_pos += n,
                    _ => self.front_written += n,
                }
                return;
            }
            n -= left;
            if let Segment::Owned { end } = seg {
                self.owned_pos = end;
            }
            self.front_written = 0;
            self.segments.pop_front();
        }
    }
}

/// Fills `iov` with the next bytes to write, from the front of `segments`: owned bytes from
/// `buf` (the first from `owned_pos`), parts from the contexts (the first past
/// `front_written`). Returns how many slices it filled.
fn gather<'a>(
    iov: &mut [IoSlice<'a>],
    segments: &VecDeque<Segment>,
    front_written: usize,
    buf: &'a [u8],
    owned_pos: usize,
    part: impl Fn(u64, usize) -> Option<&'a [u8]>,
) -> Result<usize, ConnectionError> {
    let mut filled = 0;
    let mut own = owned_pos;
    for (i, seg) in segments.iter().enumerate() {
        if filled == iov.len() {
            break;
        }
        let bytes = match *seg {
            Segment::Owned { end } => {
                let b = &buf[own..end];
                own = end;
                b
            }
            Segment::Part {
                request,
                index,
                len,
            } => {
                let whole = part(request, index)
                    .filter(|p| p.len() == len)
                    .ok_or_else(|| {
                        // The context is gone or changed: the frame's size is already on the
                        // wire, so the stream cannot be continued.
                        io::Error::other(format!("request {request}: part {index} changed"))
                    })?;
                let skip = if i == 0 { front_written } else { 0 };
                &whole[skip..]
            }
            Segment::End { .. } => continue,
        };
        if !bytes.is_empty() {
            iov[filled] = IoSlice::new(bytes);
            filled += 1;
        }
    }
    Ok(filled)
}

/// Part `index` of request `request`'s context, wherever the request waits.
fn find_part<'a, C: WireParts>(
    in_flight: &'a VecDeque<InFlight<C>>,
    unanswered: &'a VecDeque<Unanswered<C>>,
    request: u64,
    index: usize,
) -> Option<&'a [u8]> {
    let ctx = in_flight
        .iter()
        .find(|f| f.request == request)
        .map(|f| &f.ctx)
        .or_else(|| {
            unanswered
                .iter()
                .find(|u| u.request == request)
                .map(|u| &u.ctx)
        })?;
    Some(ctx.wire_part(index))
}

#[cfg(test)]
mod tests;

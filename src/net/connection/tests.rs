//! The write queue: frames of owned bytes and context parts reach the stream byte-exact, in
//! order, across partial and refused writes; contexts come back at the right moment.

use super::*;
use crate::protocol::frame;
use std::collections::VecDeque;

/// A stream that takes at most `chunk` bytes per write and refuses every other write (a full
/// socket), recording what it was given.
#[derive(Default)]
struct Chunky {
    chunk: usize,
    written: Vec<u8>,
    calls: usize,
    vectored_slices: usize,
    to_read: VecDeque<u8>,
}

impl Stream for Chunky {
    fn read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, ConnectionError> {
        if self.to_read.is_empty() {
            return Ok(None);
        }
        let n = buf.len().min(self.to_read.len());
        for b in buf.iter_mut().take(n) {
            *b = self.to_read.pop_front().unwrap();
        }
        Ok(Some(n))
    }
    fn write(&mut self, buf: &[u8]) -> Result<Option<usize>, ConnectionError> {
        self.write_vectored(&[IoSlice::new(buf)])
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> Result<Option<usize>, ConnectionError> {
        self.calls += 1;
        if self.calls.is_multiple_of(2) {
            return Ok(None);
        }
        self.vectored_slices = self.vectored_slices.max(bufs.len());
        let mut left = self.chunk;
        let mut n = 0;
        for b in bufs {
            let take = b.len().min(left);
            self.written.extend_from_slice(&b[..take]);
            left -= take;
            n += take;
            if left == 0 {
                break;
            }
        }
        Ok(Some(n))
    }
    fn flush(&mut self) -> Result<(), ConnectionError> {
        Ok(())
    }
    fn wants_write(&self) -> bool {
        false
    }
    fn finish_connect(&mut self) -> Result<(), ConnectionError> {
        Ok(())
    }
    fn set_interest(&mut self, _: Interest) -> io::Result<()> {
        Ok(())
    }
    fn shutdown(&mut self) {}
}

/// A context holding parts, as a Produce request holds its batches.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts(Vec<Vec<u8>>);

impl WireParts for Parts {
    fn wire_part(&self, index: usize) -> &[u8] {
        &self.0[index]
    }
}

fn connection(chunk: usize) -> Connection<Parts, Chunky> {
    let stream = Chunky {
        chunk,
        ..Chunky::default()
    };
    Connection::new(stream, false, Duration::from_secs(1), Instant::now())
}

/// Queues a request whose body is `prefix`, then each part of `ctx` behind a one-byte marker,
/// then `suffix`; returns the frame a copying encoder would have written.
fn queue(
    conn: &mut Connection<Parts, Chunky>,
    ctx: Parts,
    prefix: &[u8],
    suffix: &[u8],
    expect_response: bool,
) -> Vec<u8> {
    let mut body = prefix.to_vec();
    for (i, p) in ctx.0.iter().enumerate() {
        body.push(i as u8);
        body.extend_from_slice(p);
    }
    body.extend_from_slice(suffix);
    let cid = conn.next_correlation_id;
    let mut expected = Vec::new();
    let start = frame::begin_frame(&mut expected);
    RequestHeader {
        api_key: 18,
        api_version: 0,
        correlation_id: cid,
        client_id: Some("c"),
    }
    .encode(&mut expected);
    expected.extend_from_slice(&body);
    frame::finish_frame(&mut expected, start).unwrap();
    let (p, s) = (prefix.to_vec(), suffix.to_vec());
    conn.send(
        18,
        0,
        Some("c"),
        expect_response,
        Instant::now(),
        ctx,
        |c, b| {
            b.bytes().extend_from_slice(&p);
            for (i, part) in c.0.iter().enumerate() {
                b.bytes().push(i as u8);
                b.part(i, part.len());
            }
            b.bytes().extend_from_slice(&s);
        },
    )
    .map_err(|(e, _)| e)
    .unwrap();
    expected
}

fn flush_all(conn: &mut Connection<Parts, Chunky>) {
    for _ in 0..100_000 {
        conn.flush().unwrap();
        if !conn.has_pending_writes() {
            return;
        }
    }
    panic!("the write queue never drained");
}

#[test]
fn frames_with_parts_reach_the_stream_byte_exact_across_partial_writes() {
    for chunk in [1, 3, 7, 64, 1 << 20] {
        let mut conn = connection(chunk);
        let a = Parts(vec![vec![0xAA; 10], vec![], vec![0xBB; 300]]);
        let b = Parts(vec![vec![0xCC; 5]]);
        let mut expected = queue(&mut conn, a, b"head", b"tail", true);
        conn.flush().unwrap();
        // A second request queued while the first is partly written.
        expected.extend(queue(&mut conn, b, b"", b"", true));
        expected.extend(queue(&mut conn, Parts(vec![]), b"only-owned", b"", true));
        flush_all(&mut conn);
        assert_eq!(conn.stream.written, expected, "chunk {chunk}");
        assert!(conn.write_buf.is_empty(), "the write buffer is emptied");
        assert_eq!(conn.in_flight(), 3);
    }
}

#[test]
fn the_parts_are_not_copied_into_the_write_buffer() {
    let mut conn = connection(1 << 20);
    let big = Parts(vec![vec![7; 100_000], vec![8; 100_000]]);
    let expected = queue(&mut conn, big, b"x", b"y", true);
    assert!(
        conn.write_buf.len() < 100,
        "owned bytes only: {}",
        conn.write_buf.len()
    );
    flush_all(&mut conn);
    assert_eq!(conn.stream.written, expected);
    assert!(
        conn.stream.vectored_slices >= 5,
        "the frame in one vectored write: {} slices",
        conn.stream.vectored_slices
    );
}

#[test]
fn a_context_without_response_comes_back_once_its_frame_is_written() {
    let mut conn = connection(50);
    let ctx = Parts(vec![vec![1; 120]]);
    queue(&mut conn, ctx.clone(), b"", b"", false);
    conn.flush().unwrap();
    assert!(conn.take_sent_unanswered().is_empty(), "partly written");
    flush_all(&mut conn);
    assert_eq!(conn.take_sent_unanswered(), vec![ctx]);
    assert!(conn.take_sent_unanswered().is_empty(), "once");
}

#[test]
fn a_response_before_its_request_is_written_closes_the_connection() {
    let mut conn = connection(10);
    queue(&mut conn, Parts(vec![vec![0; 100]]), b"", b"", true);
    conn.flush().unwrap();
    // ApiVersions v0 response header: just the correlation id.
    conn.stream.to_read.extend([0, 0, 0, 4, 0, 0, 0, 0]);
    let err = conn.read(Instant::now()).unwrap_err();
    assert!(matches!(err, ConnectionError::EarlyResponse(0)), "{err}");
}

#[test]
fn the_write_buffer_is_compacted_under_steady_load() {
    // Each flush writes 1.2 MiB while 1.5 MiB more is queued: the queue never drains whole,
    // so without compaction the buffer would hold everything ever queued (10.5 MiB).
    let mut conn = connection(COMPACT_AT * 6 / 5);
    let big = vec![5u8; COMPACT_AT * 3 / 2];
    let mut expected = Vec::new();
    for i in 0..7u8 {
        expected.extend(queue(&mut conn, Parts(vec![vec![i; 3]]), &big, b"", true));
        conn.flush().unwrap();
        assert!(conn.has_pending_writes(), "round {i}: not drained whole");
    }
    assert!(
        conn.write_buf.len() < 3 * big.len(),
        "compacted: {} bytes",
        conn.write_buf.len()
    );
    flush_all(&mut conn);
    assert_eq!(conn.stream.written, expected);
}

#[test]
fn closing_returns_every_context_once() {
    let mut conn = connection(5);
    queue(&mut conn, Parts(vec![vec![1; 20]]), b"", b"", true);
    queue(&mut conn, Parts(vec![vec![2; 20]]), b"", b"", false);
    conn.flush().unwrap();
    let back = conn.close();
    assert_eq!(
        back,
        vec![Parts(vec![vec![1; 20]]), Parts(vec![vec![2; 20]])]
    );
}

//! Size-prefixed framing: every request and response on the wire is an `INT32` size followed
//! by that many bytes (header, then body).
//!
//! Encoding writes a 4-byte placeholder, the header and the body, then fills the size in last,
//! so a request is built in one buffer without knowing its length up front.
//!
//! Decoding is an incremental, pure parser: [`parse_frame`] looks at whatever bytes have been
//! read so far and says whether a whole frame is there. Incomplete input is not an error.
//!
//! # References
//! - <https://kafka.apache.org/protocol#protocol_common> ("Common Request and Response Structure")

use std::ops::Range;

use super::api::Request;
use super::header::RequestHeader;
use thiserror::Error;

/// Bytes taken by the size prefix.
pub const SIZE_PREFIX_LEN: usize = 4;

/// A frame's size prefix is unacceptable. The connection cannot be resynchronised after
/// this and must be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The size prefix is negative.
    #[error("negative frame size {0}")]
    NegativeSize(i32),
    /// The size exceeds the allowed maximum (or, when encoding, `i32::MAX`).
    #[error("frame size {size} exceeds the maximum {max}")]
    TooLarge {
        /// The size found (or that would have been written).
        size: usize,
        /// The maximum allowed.
        max: usize,
    },
}

/// Looks for one complete frame at the start of `buf`.
///
/// Returns `Ok(Some(end))` when `buf[..end]` is a whole frame (size prefix included; the
/// payload is `buf[SIZE_PREFIX_LEN..end]`), `Ok(None)` when more bytes are needed, and an error
/// when the size prefix is negative or above `max_frame_size` (checked as soon as the 4 size
/// bytes are present, before waiting for the payload).
pub fn parse_frame(buf: &[u8], max_frame_size: usize) -> Result<Option<usize>, FrameError> {
    let Some(prefix) = buf.first_chunk::<SIZE_PREFIX_LEN>() else {
        return Ok(None);
    };
    let size = i32::from_be_bytes(*prefix);
    let size = usize::try_from(size).map_err(|_| FrameError::NegativeSize(size))?;
    if size > max_frame_size {
        return Err(FrameError::TooLarge {
            size,
            max: max_frame_size,
        });
    }
    let end = SIZE_PREFIX_LEN + size;
    Ok((buf.len() >= end).then_some(end))
}

/// Starts a frame: appends a 4-byte size placeholder and returns the frame's start offset,
/// to pass to [`finish_frame`] after the header and body are appended.
pub fn begin_frame(buf: &mut Vec<u8>) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0; SIZE_PREFIX_LEN]);
    start
}

/// Fills in the size of the frame begun at `start` and returns the frame's byte range.
/// Fails (leaving the buffer as is) if the payload exceeds `i32::MAX` bytes.
pub fn finish_frame(buf: &mut [u8], start: usize) -> Result<Range<usize>, FrameError> {
    finish_frame_with_external(buf, start, 0)
}

/// As [`finish_frame`], for a frame of which `external` more bytes are written from elsewhere
/// after those in `buf` (a connection's vectored write of a Produce request's batches).
pub fn finish_frame_with_external(
    buf: &mut [u8],
    start: usize,
    external: usize,
) -> Result<Range<usize>, FrameError> {
    let size = buf.len().saturating_sub(start + SIZE_PREFIX_LEN) + external;
    let size32 = i32::try_from(size).map_err(|_| FrameError::TooLarge {
        size,
        max: i32::MAX as usize,
    })?;
    buf[start..start + SIZE_PREFIX_LEN].copy_from_slice(&size32.to_be_bytes());
    Ok(start..buf.len())
}

/// Appends a whole request frame (size, header, body) for `request` at `version` and returns
/// its byte range in `buf`. The header version follows from the API and version.
pub fn encode_request<R: Request>(
    buf: &mut Vec<u8>,
    request: &R,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
) -> Result<Range<usize>, FrameError> {
    let start = begin_frame(buf);
    RequestHeader {
        api_key: R::API_KEY,
        api_version: version,
        correlation_id,
        client_id,
    }
    .encode(buf);
    request.encode_body(version, buf);
    let r = finish_frame(buf, start);
    if r.is_err() {
        buf.truncate(start);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn incomplete_complete_and_bad_sizes() {
        assert_eq!(parse_frame(&[], 100), Ok(None));
        assert_eq!(parse_frame(&[0, 0, 0], 100), Ok(None));
        assert_eq!(parse_frame(&[0, 0, 0, 2, 9], 100), Ok(None));
        assert_eq!(parse_frame(&[0, 0, 0, 2, 9, 8], 100), Ok(Some(6)));
        assert_eq!(parse_frame(&[0, 0, 0, 2, 9, 8, 7], 100), Ok(Some(6)));
        assert_eq!(parse_frame(&[0, 0, 0, 0], 100), Ok(Some(4)));
        assert_eq!(
            parse_frame(&[0xff, 0xff, 0xff, 0xff], 100),
            Err(FrameError::NegativeSize(-1))
        );
        assert_eq!(
            parse_frame(&[0, 0, 0, 101], 100),
            Err(FrameError::TooLarge {
                size: 101,
                max: 100
            })
        );
        assert_eq!(parse_frame(&[0, 0, 0, 100], 100), Ok(None));
    }

    #[test]
    fn begin_finish() {
        let mut b = vec![0xee];
        let s = begin_frame(&mut b);
        b.extend_from_slice(b"hello");
        assert_eq!(finish_frame(&mut b, s), Ok(1..10));
        assert_eq!(&b[1..5], &[0, 0, 0, 5]);
        assert_eq!(parse_frame(&b[1..], 5), Ok(Some(9)));
    }

    proptest! {
        #[test]
        fn parse_frame_is_total(buf in proptest::collection::vec(any::<u8>(), 0..64), max in 0usize..80) {
            match parse_frame(&buf, max) {
                Ok(Some(end)) => { prop_assert!(end <= buf.len()); prop_assert!(end >= 4 && end - 4 <= max); }
                Ok(None) => {}
                Err(_) => prop_assert!(buf.len() >= 4),
            }
        }

        #[test]
        fn frames_split_anywhere(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..5), cut in 0usize..200) {
            let mut wire = Vec::new();
            for p in &payloads {
                let s = begin_frame(&mut wire);
                wire.extend_from_slice(p);
                finish_frame(&mut wire, s).unwrap();
            }
            let cut = cut.min(wire.len());
            // Parsing a prefix never errs and never claims more than it has.
            let mut rest = &wire[..cut];
            let mut got = Vec::new();
            while let Some(end) = parse_frame(rest, 1 << 20).unwrap() {
                got.push(rest[4..end].to_vec());
                rest = &rest[end..];
            }
            prop_assert!(got.len() <= payloads.len());
            prop_assert_eq!(&got[..], &payloads[..got.len()]);
            if cut == wire.len() { prop_assert_eq!(got.len(), payloads.len()); }
        }
    }
}

//! Primitive types of the Kafka protocol: fixed-width integers, zigzag varints, unsigned
//! varints, (compact) strings and bytes, arrays, UUIDs and tagged fields.
//!
//! Encoding appends to a caller-owned `Vec<u8>`; decoding reads from a [`Decoder`], a cursor
//! over a borrowed slice that never panics and never allocates more than the input can hold.
//!
//! # References
//! - <https://kafka.apache.org/protocol#protocol_types>
//! - KIP-482 (flexible versions, compact types, tagged fields)

use thiserror::Error;

/// A response could not be decoded. Bytes from the network are untrusted: every decoder
/// returns this instead of panicking.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended before the value did.
    #[error("truncated input: needed {needed} more byte(s) at offset {offset}")]
    Truncated {
        /// Offset in the input at which the read was attempted.
        offset: usize,
        /// How many more bytes were needed.
        needed: usize,
    },
    /// A length, count or value is outside what the protocol allows.
    #[error("invalid {what} at offset {offset}: {value}")]
    Invalid {
        /// What was being read.
        what: &'static str,
        /// Offset in the input.
        offset: usize,
        /// The offending value.
        value: i64,
    },
    /// A varint ran longer than its type allows.
    #[error("varint too long at offset {0}")]
    VarintTooLong(usize),
    /// A string was not valid UTF-8.
    #[error("string at offset {0} is not valid UTF-8")]
    Utf8(usize),
    /// Compressed data (a record batch's records) could not be decompressed, or would
    /// decompress to more than the allowed size.
    #[error("cannot decompress the data at offset {offset}: {reason}")]
    Decompress {
        /// Offset in the input of the compressed data.
        offset: usize,
        /// Why.
        reason: String,
    },
}

/// Result of a decode.
pub type DecodeResult<T> = Result<T, DecodeError>;

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// Appends a big-endian `i8`.
#[inline]
pub fn put_i8(buf: &mut Vec<u8>, v: i8) {
    buf.push(v as u8);
}
/// Appends a big-endian `i16`.
#[inline]
pub fn put_i16(buf: &mut Vec<u8>, v: i16) {
    buf.extend_from_slice(&v.to_be_bytes());
}
/// Appends a big-endian `i32`.
#[inline]
pub fn put_i32(buf: &mut Vec<u8>, v: i32) {
    buf.extend_from_slice(&v.to_be_bytes());
}
/// Appends a big-endian `u32`.
#[inline]
pub fn put_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_be_bytes());
}
/// Appends a big-endian `i64`.
#[inline]
pub fn put_i64(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(&v.to_be_bytes());
}
/// Appends a boolean (one byte, 0 or 1).
#[inline]
pub fn put_bool(buf: &mut Vec<u8>, v: bool) {
    buf.push(v as u8);
}

/// Appends an unsigned varint (7 bits per byte, low group first).
#[inline]
pub fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}
/// Appends a zigzag-encoded signed 32-bit varint.
#[inline]
pub fn put_varint(buf: &mut Vec<u8>, v: i32) {
    put_uvarint(buf, ((v << 1) ^ (v >> 31)) as u32 as u64);
}
/// Appends a zigzag-encoded signed 64-bit varint (varlong).
#[inline]
pub fn put_varlong(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, ((v << 1) ^ (v >> 63)) as u64);
}
/// Size in bytes of an unsigned varint.
#[inline]
pub fn uvarint_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits; 0 still takes one byte.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}
/// Size in bytes of a zigzag signed 32-bit varint.
#[inline]
pub fn varint_len(v: i32) -> usize {
    uvarint_len(((v << 1) ^ (v >> 31)) as u32 as u64)
}
/// Size in bytes of a zigzag signed 64-bit varint.
#[inline]
pub fn varlong_len(v: i64) -> usize {
    uvarint_len(((v << 1) ^ (v >> 63)) as u64)
}

/// Appends a `STRING` (i16 length) or, when `compact`, a `COMPACT_STRING` (uvarint length+1).
pub fn put_string(buf: &mut Vec<u8>, s: &str, compact: bool) {
    if compact {
        put_uvarint(buf, s.len() as u64 + 1);
    } else {
        put_i16(buf, s.len() as i16);
    }
    buf.extend_from_slice(s.as_bytes());
}
/// Appends a `NULLABLE_STRING` or `COMPACT_NULLABLE_STRING`.
pub fn put_nullable_string(buf: &mut Vec<u8>, s: Option<&str>, compact: bool) {
    match s {
        Some(s) => put_string(buf, s, compact),
        None if compact => put_uvarint(buf, 0),
        None => put_i16(buf, -1),
    }
}
/// Appends `BYTES` (i32 length) or `COMPACT_BYTES`.
pub fn put_bytes(buf: &mut Vec<u8>, b: &[u8], compact: bool) {
    if compact {
        put_uvarint(buf, b.len() as u64 + 1);
    } else {
        put_i32(buf, b.len() as i32);
    }
    buf.extend_from_slice(b);
}
/// Appends `NULLABLE_BYTES` or `COMPACT_NULLABLE_BYTES`.
pub fn put_nullable_bytes(buf: &mut Vec<u8>, b: Option<&[u8]>, compact: bool) {
    match b {
        Some(b) => put_bytes(buf, b, compact),
        None if compact => put_uvarint(buf, 0),
        None => put_i32(buf, -1),
    }
}
/// Appends an array length: i32, or uvarint length+1 when `compact`.
pub fn put_array_len(buf: &mut Vec<u8>, len: usize, compact: bool) {
    if compact {
        put_uvarint(buf, len as u64 + 1);
    } else {
        put_i32(buf, len as i32);
    }
}
/// Appends a UUID (16 bytes).
#[inline]
pub fn put_uuid(buf: &mut Vec<u8>, u: &[u8; 16]) {
    buf.extend_from_slice(u);
}
/// Appends an empty tagged-field section (flexible versions only).
#[inline]
pub fn put_empty_tagged_fields(buf: &mut Vec<u8>) {
    buf.push(0);
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// A cursor over untrusted input. Every read checks the remaining length first; lengths read
/// from the input are checked against what remains before anything is allocated.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Decoder { buf, pos: 0 }
    }
    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }
    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// Whether every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> DecodeResult<&'a [u8]> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated {
                offset: self.pos,
                needed: n - self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> DecodeResult<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    /// Reads an `INT8`.
    pub fn i8(&mut self) -> DecodeResult<i8> {
        Ok(self.array::<1>()?[0] as i8)
    }
    /// Reads a `BOOLEAN`.
    pub fn bool(&mut self) -> DecodeResult<bool> {
        Ok(self.array::<1>()?[0] != 0)
    }
    /// Reads an `INT16`.
    pub fn i16(&mut self) -> DecodeResult<i16> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    /// Reads an `INT32`.
    pub fn i32(&mut self) -> DecodeResult<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    /// Reads a `UINT32`.
    pub fn u32(&mut self) -> DecodeResult<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    /// Reads an `INT64`.
    pub fn i64(&mut self) -> DecodeResult<i64> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    /// Reads a `UUID`.
    pub fn uuid(&mut self) -> DecodeResult<[u8; 16]> {
        self.array()
    }
    /// Reads an `UNSIGNED_VARINT` of at most 10 bytes.
    pub fn uvarint(&mut self) -> DecodeResult<u64> {
        let start = self.pos;
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.array::<1>()?[0];
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::VarintTooLong(start))
    }
    /// Reads an unsigned varint that must fit in 32 bits (lengths, counts).
    pub fn uvarint32(&mut self) -> DecodeResult<u32> {
        let start = self.pos;
        let v = self.uvarint()?;
        u32::try_from(v).map_err(|_| DecodeError::VarintTooLong(start))
    }
    /// Reads a zigzag `VARINT`.
    pub fn varint(&mut self) -> DecodeResult<i32> {
        let u = self.uvarint32()?;
        Ok(((u >> 1) as i32) ^ -((u & 1) as i32))
    }
    /// Reads a zigzag `VARLONG`.
    pub fn varlong(&mut self) -> DecodeResult<i64> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// Reads a length prefix: i16/i32 for classic, uvarint-1 for compact. `None` means null (-1).
    /// Rejects lengths below -1 and lengths larger than the remaining input.
    fn length(
        &mut self,
        compact: bool,
        wide: bool,
        what: &'static str,
    ) -> DecodeResult<Option<usize>> {
        let at = self.pos;
        let n: i64 = if compact {
            self.uvarint32()? as i64 - 1
        } else if wide {
            self.i32()? as i64
        } else {
            self.i16()? as i64
        };
        if n == -1 {
            return Ok(None);
        }
        if n < 0 || n as u64 > self.remaining() as u64 {
            return Err(DecodeError::Invalid {
                what,
                offset: at,
                value: n,
            });
        }
        Ok(Some(n as usize))
    }
    /// Reads a `NULLABLE_STRING` / `COMPACT_NULLABLE_STRING`.
    pub fn nullable_str(&mut self, compact: bool) -> DecodeResult<Option<&'a str>> {
        match self.length(compact, false, "string length")? {
            None => Ok(None),
            Some(n) => {
                let at = self.pos;
                let b = self.take(n)?;
                std::str::from_utf8(b)
                    .map(Some)
                    .map_err(|_| DecodeError::Utf8(at))
            }
        }
    }
    /// Reads a `STRING` / `COMPACT_STRING` (null rejected).
    pub fn str(&mut self, compact: bool) -> DecodeResult<&'a str> {
        let at = self.pos;
        self.nullable_str(compact)?.ok_or(DecodeError::Invalid {
            what: "null string",
            offset: at,
            value: -1,
        })
    }
    /// Reads a `NULLABLE_BYTES` / `COMPACT_NULLABLE_BYTES`.
    pub fn nullable_bytes(&mut self, compact: bool) -> DecodeResult<Option<&'a [u8]>> {
        match self.length(compact, true, "bytes length")? {
            None => Ok(None),
            Some(n) => self.take(n).map(Some),
        }
    }
    /// Reads `BYTES` / `COMPACT_BYTES` (null rejected).
    pub fn bytes(&mut self, compact: bool) -> DecodeResult<&'a [u8]> {
        let at = self.pos;
        self.nullable_bytes(compact)?.ok_or(DecodeError::Invalid {
            what: "null bytes",
            offset: at,
            value: -1,
        })
    }
    /// Reads an array length (`None` = null array). The count is checked against the remaining
    /// input assuming each element takes at least `min_elem_size` bytes (>= 1), so a caller may
    /// `Vec::with_capacity(count)` safely.
    pub fn array_len(
        &mut self,
        compact: bool,
        min_elem_size: usize,
    ) -> DecodeResult<Option<usize>> {
        let at = self.pos;
        let n: i64 = if compact {
            self.uvarint32()? as i64 - 1
        } else {
            self.i32()? as i64
        };
        if n == -1 {
            return Ok(None);
        }
        let min = min_elem_size.max(1) as u64;
        if n < 0 || (n as u64).saturating_mul(min) > self.remaining() as u64 {
            return Err(DecodeError::Invalid {
                what: "array length",
                offset: at,
                value: n,
            });
        }
        Ok(Some(n as usize))
    }
    /// Skips a tagged-field section, calling `known(tag, data)` for each field so a caller can
    /// keep the tags it understands. Unknown tags are skipped, never fatal.
    pub fn tagged_fields(
        &mut self,
        mut known: impl FnMut(u32, &'a [u8]) -> DecodeResult<()>,
    ) -> DecodeResult<()> {
        let at = self.pos;
        let count = self.uvarint32()?;
        if count as usize > self.remaining() {
            return Err(DecodeError::Invalid {
                what: "tagged field count",
                offset: at,
                value: count as i64,
            });
        }
        for _ in 0..count {
            let tag = self.uvarint32()?;
            let len_at = self.pos;
            let len = self.uvarint32()? as usize;
            if len > self.remaining() {
                return Err(DecodeError::Invalid {
                    what: "tagged field length",
                    offset: len_at,
                    value: len as i64,
                });
            }
            let data = self.take(len)?;
            known(tag, data)?;
        }
        Ok(())
    }
    /// Skips a tagged-field section entirely.
    pub fn skip_tagged_fields(&mut self) -> DecodeResult<()> {
        self.tagged_fields(|_, _| Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_vectors() {
        // Values and encodings from the protocol guide's zigzag examples.
        for (v, enc) in [
            (0i32, vec![0u8]),
            (-1, vec![1]),
            (1, vec![2]),
            (-2, vec![3]),
            (63, vec![0x7e]),
            (-64, vec![0x7f]),
            (64, vec![0x80, 0x01]),
            (300, vec![0xd8, 0x04]),
        ] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(b, enc, "varint {v}");
            assert_eq!(varint_len(v), enc.len());
            assert_eq!(Decoder::new(&b).varint().unwrap(), v);
        }
        for v in [i64::MIN, -1, 0, 1, i64::MAX, 1 << 40] {
            let mut b = Vec::new();
            put_varlong(&mut b, v);
            assert_eq!(varlong_len(v), b.len());
            assert_eq!(Decoder::new(&b).varlong().unwrap(), v);
        }
        assert_eq!(uvarint_len(0), 1);
        assert_eq!(uvarint_len(127), 1);
        assert_eq!(uvarint_len(128), 2);
        assert_eq!(uvarint_len(u64::MAX), 10);
    }

    #[test]
    fn hostile_lengths_are_rejected() {
        // A string claiming 32767 bytes with 2 present.
        let mut d = Decoder::new(&[0x7f, 0xff, b'a', b'b']);
        assert!(d.str(false).is_err());
        // An array claiming i32::MAX elements.
        let mut d = Decoder::new(&[0x7f, 0xff, 0xff, 0xff, 0]);
        assert!(d.array_len(false, 1).is_err());
        // An endless varint.
        let mut d = Decoder::new(&[0xff; 11]);
        assert!(matches!(d.uvarint(), Err(DecodeError::VarintTooLong(0))));
        // Null compact string is None; negative lengths other than -1 are invalid.
        assert_eq!(Decoder::new(&[0]).nullable_str(true).unwrap(), None);
        assert!(Decoder::new(&[0xff, 0xfe]).nullable_str(false).is_err());
    }
}

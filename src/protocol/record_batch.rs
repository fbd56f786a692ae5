//! Record batch v2 (magic 2): a builder that encodes records in place into one `Vec<u8>`, and
//! a total decoder for reading batches back.
//!
//! # Layout
//!
//! ```text
//! offset  size  field
//!      0     8  baseOffset            (0 from a producer; the broker assigns offsets)
//!      8     4  batchLength           (bytes after this field)
//!     12     4  partitionLeaderEpoch  (-1 from a producer)
//!     16     1  magic                 (2)
//!     17     4  crc                   (CRC-32C of bytes 21..end)
//!     21     2  attributes            (codec bits 0-2, timestamp type bit 3,
//!                                      transactional bit 4, control bit 5)
//!     23     4  lastOffsetDelta
//!     27     8  baseTimestamp
//!     35     8  maxTimestamp
//!     43     8  producerId
//!     51     2  producerEpoch
//!     53     4  baseSequence
//!     57     4  recordCount
//!     61     …  records
//! ```
//!
//! Each record: `length varint, attributes i8 (0), timestampDelta varlong, offsetDelta varint,
//! key (varint length, -1 = null), value (varint length, -1 = null), header count varint,
//! headers (key: varint length + UTF-8; value: varint length, -1 = null, + bytes)`.
//!
//! The builder reserves the 61-byte header, appends each record straight into the buffer, and
//! writes the header (CRC last) when the batch is sealed. The producer-state fields (producer
//! id, epoch, base sequence) can be set again after sealing: the header and CRC are rewritten,
//! so idempotence can assign a sequence when a batch is first drained and keep it on retries.
//!
//! # Compression
//!
//! With a codec set ([`RecordBatchBuilder::set_compression`]), records are still appended
//! uncompressed; sealing compresses the records section once (see [`crate::compression`]),
//! puts the codec in the attributes, and `batchLength` and the CRC cover the compressed bytes.
//! Re-sealing (producer state) never recompresses: only the header and CRC are rewritten.
//! While appending, the batch's size is the *estimated* compressed size (uncompressed records
//! times the estimated ratio times 1.05, as Java's `MemoryRecordsBuilder` does), so a batch
//! holds more uncompressed bytes than its write limit when the data compresses well.
//! The decoder leaves a compressed batch's records undecoded; [`DecodedBatch::records_section`]
//! decompresses them (with a size limit) and [`decode_records`] parses them.
//!
//! # References
//! - <https://kafka.apache.org/documentation/#recordbatch>
//! - KIP-98 (the v2 format), Java `DefaultRecordBatch` / `DefaultRecord` for field order.

use super::primitives::{
    put_i16, put_i32, put_i64, put_i8, put_u32, put_varint, put_varlong, varint_len, varlong_len,
};
use std::borrow::Cow;

/// The codec type, defined with the codecs in [`crate::compression`]; re-exported here so
/// `protocol::record_batch::CompressionType` keeps working.
pub use crate::compression::CompressionType;

/// Size of the batch header, before the first record.
pub const BATCH_HEADER_LEN: usize = 61;
/// Bytes of a batch before the `batchLength` field's span begins (baseOffset + batchLength).
pub const LOG_OVERHEAD: usize = 12;
/// The magic byte of record batch v2.
pub const MAGIC_V2: i8 = 2;
/// "No producer id" (non-idempotent producer).
pub const NO_PRODUCER_ID: i64 = -1;
/// "No producer epoch".
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// "No sequence".
pub const NO_SEQUENCE: i32 = -1;
/// "No partition leader epoch" (what a producer writes).
pub const NO_PARTITION_LEADER_EPOCH: i32 = -1;

const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;
const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
const TRANSACTIONAL_BIT: i16 = 0x10;
const CONTROL_BIT: i16 = 0x20;
/// Java's `COMPRESSION_RATE_ESTIMATION_FACTOR`: the estimated compressed size is padded by 5%.
pub const COMPRESSION_RATE_ESTIMATION_FACTOR: f32 = 1.05;
/// Default largest decompressed records section [`decode_batch`] callers should allow
/// (64 MiB; Kafka's largest message size is far below).
pub const DEFAULT_MAX_DECOMPRESSED: usize = 64 << 20;

/// Smallest possible encoded record: length, attributes, timestamp delta, offset delta, key,
/// value and header count, one byte each.
const MIN_RECORD_LEN: usize = 7;

/// A record header as the batch builder sees it: a key and an optional value.
///
/// Implemented for the crate's public `Header` (in the accumulator) and for `(&str,
/// Option<&[u8]>)` pairs, so this codec does not depend on the public record types.
pub trait HeaderRef {
    /// Header key.
    fn key(&self) -> &str;
    /// Header value; `None` is written as a null value (length -1).
    fn value(&self) -> Option<&[u8]>;
}

impl HeaderRef for (&str, Option<&[u8]>) {
    fn key(&self) -> &str {
        self.0
    }
    fn value(&self) -> Option<&[u8]> {
        self.1
    }
}

/// Why a record could not be appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The batch was already sealed.
    #[error("the record batch is closed for appends")]
    Closed,
    /// A length or the batch would exceed what the format can express (i32).
    #[error("the record does not fit the record batch format's limits")]
    TooLarge,
}

/// A record sized for a builder by [`RecordBatchBuilder::prepare`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreparedRecord {
    delta: i64,
    body: usize,
    total: usize,
    offset_delta: i32,
}

impl PreparedRecord {
    /// The record's encoded size in the batch (length prefix included).
    pub fn size(&self) -> usize {
        self.total
    }
}

/// Length of an optional byte field (-1 for null) as the format writes it, if it fits an i32.
fn field_len(b: Option<&[u8]>) -> Option<i32> {
    match b {
        None => Some(-1),
        Some(b) => i32::try_from(b.len()).ok(),
    }
}

/// Encoded size of a nullable varint-length-prefixed field.
fn field_size(b: Option<&[u8]>) -> Option<usize> {
    let n = field_len(b)?;
    Some(varint_len(n) + b.map_or(0, |b| b.len()))
}

/// Size of a record's body (everything after its length varint), or `None` if it cannot be
/// expressed in the format.
fn record_body_size<H: HeaderRef>(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[H],
) -> Option<usize> {
    let mut n = 1 + varlong_len(timestamp_delta) + varint_len(offset_delta);
    n = n.checked_add(field_size(key)?)?;
    n = n.checked_add(field_size(value)?)?;
    n = n.checked_add(varint_len(i32::try_from(headers.len()).ok()?))?;
    for h in headers {
        n = n.checked_add(field_size(Some(h.key().as_bytes()))?)?;
        n = n.checked_add(field_size(h.value())?)?;
    }
    i32::try_from(n).ok()?;
    Some(n)
}

/// Exact encoded size of a record (length varint included) given its deltas.
pub fn encoded_record_size<H: HeaderRef>(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[H],
) -> Option<usize> {
    let body = record_body_size(timestamp_delta, offset_delta, key, value, headers)?;
    Some(varint_len(body as i32) + body)
}

/// An upper bound of a record's encoded size whatever its timestamp and position in a batch
/// (deltas at their widest), for sizing a new batch before it exists. `usize::MAX` if the
/// record cannot be expressed in the format at all.
pub fn record_size_upper_bound<H: HeaderRef>(
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[H],
) -> usize {
    // Widest deltas: 10-byte varlong, 5-byte varint; the length varint is at most 5 bytes.
    record_body_size(i64::MIN, i32::MIN, key, value, headers)
        .map(|b| b + 5)
        .unwrap_or(usize::MAX)
}

/// Builds one record batch v2 in place. See the [module docs](self).
///
/// ```
/// use kafka_sync::protocol::record_batch::{RecordBatchBuilder, decode_batch};
/// let mut b = RecordBatchBuilder::new(16384);
/// let headers: [(&str, Option<&[u8]>); 0] = [];
/// let size = b.record_size(1_700_000_000_000, Some(b"k"), Some(b"v"), &headers).unwrap();
/// assert!(b.fits(size));
/// b.append(1_700_000_000_000, Some(b"k"), Some(b"v"), &headers).unwrap();
/// b.close();
/// let batch = decode_batch(b.bytes()).unwrap();
/// assert_eq!(batch.records.len(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct RecordBatchBuilder {
    buf: Vec<u8>,
    write_limit: usize,
    compression: CompressionType,
    compression_level: Option<i32>,
    estimated_ratio: f32,
    /// Uncompressed size of the records section once compressed at sealing (0 before).
    uncompressed_records_len: usize,
    log_append_time: bool,
    transactional: bool,
    base_timestamp: i64,
    max_timestamp: i64,
    record_count: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    closed: bool,
}

impl RecordBatchBuilder {
    /// A builder whose batch may grow to `write_limit` bytes (header included); usually
    /// `batch.size`, or one oversized record's exact size.
    pub fn new(write_limit: usize) -> Self {
        Self::with_buffer(Vec::with_capacity(write_limit), write_limit)
    }

    /// A builder reusing `buf` (cleared) for its bytes.
    pub fn with_buffer(mut buf: Vec<u8>, write_limit: usize) -> Self {
        buf.clear();
        buf.resize(BATCH_HEADER_LEN, 0);
        RecordBatchBuilder {
            buf,
            write_limit,
            compression: CompressionType::None,
            compression_level: None,
            estimated_ratio: 1.0,
            uncompressed_records_len: 0,
            log_append_time: false,
            transactional: false,
            base_timestamp: -1,
            max_timestamp: -1,
            record_count: 0,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            closed: false,
        }
    }

    /// Sets the codec the records section is compressed with at sealing, its level (`None`:
    /// the codec's default) and the estimated compression ratio (compressed / uncompressed,
    /// clamped to 0.01..=2; see [`estimated_size`](Self::estimated_size)). Ignored once the
    /// batch is sealed. The codec must be compiled in; if it is not, or compressing fails,
    /// sealing falls back to an uncompressed batch (and logs it).
    pub fn set_compression(
        &mut self,
        codec: CompressionType,
        level: Option<i32>,
        estimated_ratio: f32,
    ) {
        if self.closed {
            return;
        }
        self.compression = codec;
        self.compression_level = level;
        self.estimated_ratio = if estimated_ratio.is_finite() {
            estimated_ratio.clamp(0.01, 2.0)
        } else {
            1.0
        };
    }

    /// The batch's size for sizing decisions: its real size once sealed or when uncompressed;
    /// while an open batch has a codec, the header plus the records' uncompressed size times
    /// the estimated ratio times [`COMPRESSION_RATE_ESTIMATION_FACTOR`].
    pub fn estimated_size(&self) -> usize {
        self.estimate_with(0)
    }

    fn estimate_with(&self, extra: usize) -> usize {
        let records = (self.buf.len() - BATCH_HEADER_LEN.min(self.buf.len())).saturating_add(extra);
        if self.closed || self.compression == CompressionType::None {
            return BATCH_HEADER_LEN.saturating_add(records);
        }
        let est = records as f64
            * f64::from(self.estimated_ratio)
            * f64::from(COMPRESSION_RATE_ESTIMATION_FACTOR);
        BATCH_HEADER_LEN.saturating_add(est as usize)
    }

    /// Exact encoded size of the record if it were appended next, or `None` if the format
    /// cannot express it.
    pub fn record_size<H: HeaderRef>(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[H],
    ) -> Option<usize> {
        let delta = if self.record_count == 0 {
            0
        } else {
            timestamp.wrapping_sub(self.base_timestamp)
        };
        encoded_record_size(delta, self.record_count, key, value, headers)
    }

    /// Whether a record of `size` encoded bytes fits under the write limit (and the batch is
    /// still open). With a codec, the limit applies to the estimated compressed size (see
    /// [`estimated_size`](Self::estimated_size)).
    pub fn fits(&self, size: usize) -> bool {
        !self.closed
            && self.record_count < i32::MAX
            && self.buf.len().checked_add(size).is_some()
            && self.estimate_with(size) <= self.write_limit
    }

    /// Whether no more record of the smallest size fits.
    pub fn is_full(&self) -> bool {
        self.closed || self.estimated_size() >= self.write_limit
    }

    /// Appends a record, encoding it straight into the batch. Returns its encoded size. The
    /// write limit is not checked here (see [`fits`](Self::fits)): the first record of a batch
    /// is always accepted.
    pub fn append<H: HeaderRef>(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[H],
    ) -> Result<usize, AppendError> {
        let prepared = self.prepare(timestamp, key, value, headers)?;
        self.append_prepared(prepared, timestamp, key, value, headers)
    }

    /// Sizes the next record (the part of [`append`](Self::append) before any byte is
    /// written), so a caller can check [`fits`](Self::fits) with
    /// [`PreparedRecord::size`] and then [`append_prepared`](Self::append_prepared) without
    /// computing the size twice. Nothing may be appended in between.
    pub fn prepare<H: HeaderRef>(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[H],
    ) -> Result<PreparedRecord, AppendError> {
        if self.closed {
            return Err(AppendError::Closed);
        }
        if self.record_count == i32::MAX {
            return Err(AppendError::TooLarge);
        }
        let delta = if self.record_count == 0 {
            0
        } else {
            timestamp.wrapping_sub(self.base_timestamp)
        };
        let body = record_body_size(delta, self.record_count, key, value, headers)
            .ok_or(AppendError::TooLarge)?;
        let total = varint_len(body as i32) + body;
        let fits_format = match self.buf.len().checked_add(total) {
            Some(n) => n - LOG_OVERHEAD <= i32::MAX as usize,
            None => false,
        };
        if !fits_format {
            return Err(AppendError::TooLarge);
        }
        Ok(PreparedRecord {
            delta,
            body,
            total,
            offset_delta: self.record_count,
        })
    }

    /// Appends the record [`prepare`](Self::prepare) sized, with the same arguments.
    pub fn append_prepared<H: HeaderRef>(
        &mut self,
        prepared: PreparedRecord,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[H],
    ) -> Result<usize, AppendError> {
        let PreparedRecord {
            delta,
            body,
            total,
            offset_delta,
        } = prepared;
        // Prepared for another state of the batch: size it again rather than write a wrong one.
        if offset_delta != self.record_count || self.closed {
            let again = self.prepare(timestamp, key, value, headers)?;
            return self.append_prepared(again, timestamp, key, value, headers);
        }
        let first = self.record_count == 0;
        let start = self.buf.len();
        self.buf.reserve(total);
        let b = &mut self.buf;
        put_varint(b, body as i32);
        put_i8(b, 0);
        put_varlong(b, delta);
        put_varint(b, self.record_count);
        put_field(b, key);
        put_field(b, value);
        put_varint(b, headers.len() as i32);
        for h in headers {
            put_field(b, Some(h.key().as_bytes()));
            put_field(b, h.value());
        }
        debug_assert_eq!(self.buf.len() - start, total);
        if first {
            self.base_timestamp = timestamp;
            self.max_timestamp = timestamp;
        } else if timestamp > self.max_timestamp {
            self.max_timestamp = timestamp;
        }
        self.record_count += 1;
        Ok(total)
    }

    /// Seals the batch: no more appends; compresses the records section (once, if a codec is
    /// set) and writes the header and the CRC. Calling it again only rewrites the header.
    ///
    /// The compressed bytes are copied back into the batch's own buffer, so the buffer the
    /// memory pool accounted for stays the one that holds the batch (the compressed section
    /// can outgrow it only by the codec's framing overhead on incompressible data).
    pub fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            if self.compression != CompressionType::None && self.buf.len() >= BATCH_HEADER_LEN {
                self.compress_records();
            }
        }
        self.write_header();
    }

    fn compress_records(&mut self) {
        let records = &self.buf[BATCH_HEADER_LEN..];
        let mut out = Vec::with_capacity(records.len() / 2 + 64);
        let result = crate::compression::compress(
            self.compression,
            self.compression_level,
            records,
            &mut out,
        );
        let fits_format = BATCH_HEADER_LEN - LOG_OVERHEAD + out.len() <= i32::MAX as usize;
        match result {
            Ok(()) if fits_format => {
                self.uncompressed_records_len = records.len();
                self.buf.truncate(BATCH_HEADER_LEN);
                self.buf.extend_from_slice(&out);
            }
            Ok(()) => {
                log::warn!("compressed records exceed the batch format; sending uncompressed");
                self.compression = CompressionType::None;
            }
            Err(e) => {
                log::warn!("cannot compress a record batch ({e}); sending it uncompressed");
                self.compression = CompressionType::None;
            }
        }
    }

    /// Compressed size / uncompressed size of the records section, once sealed with a codec
    /// (Java's `MemoryRecordsBuilder.compressionRatio`); 1.0 otherwise.
    pub fn compression_ratio(&self) -> f32 {
        if !self.closed || self.uncompressed_records_len == 0 {
            return 1.0;
        }
        let compressed = self.buf.len().saturating_sub(BATCH_HEADER_LEN);
        (compressed as f64 / self.uncompressed_records_len as f64) as f32
    }

    /// Size of the records section before compression (the current size while open).
    pub fn uncompressed_records_len(&self) -> usize {
        if self.uncompressed_records_len > 0 {
            self.uncompressed_records_len
        } else {
            self.buf.len().saturating_sub(BATCH_HEADER_LEN)
        }
    }

    /// Reserves capacity so the buffer holds at least `total` bytes without reallocating.
    pub fn reserve_total(&mut self, total: usize) {
        if let Some(extra) = total.checked_sub(self.buf.len()) {
            self.buf.reserve_exact(extra);
        }
    }
    /// Capacity of the buffer.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Sets the producer state (idempotence / transactions). If the batch is already sealed,
    /// the header and CRC are rewritten.
    pub fn set_producer_state(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
        transactional: bool,
    ) {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self.transactional = transactional;
        if self.closed {
            self.write_header();
        }
    }

    fn attributes(&self) -> i16 {
        let mut a = self.compression.id() & COMPRESSION_MASK;
        if self.log_append_time {
            a |= TIMESTAMP_TYPE_BIT;
        }
        if self.transactional {
            a |= TRANSACTIONAL_BIT;
        }
        a
    }

    fn write_header(&mut self) {
        if self.buf.len() < BATCH_HEADER_LEN {
            return; // buffer taken away
        }
        let mut h = Vec::with_capacity(BATCH_HEADER_LEN);
        put_i64(&mut h, 0); // baseOffset
        put_i32(&mut h, (self.buf.len() - LOG_OVERHEAD) as i32); // checked in append
        put_i32(&mut h, NO_PARTITION_LEADER_EPOCH);
        put_i8(&mut h, MAGIC_V2);
        put_u32(&mut h, 0); // CRC, filled last
        put_i16(&mut h, self.attributes());
        put_i32(&mut h, (self.record_count - 1).max(0));
        put_i64(&mut h, self.base_timestamp);
        put_i64(&mut h, self.max_timestamp);
        put_i64(&mut h, self.producer_id);
        put_i16(&mut h, self.producer_epoch);
        put_i32(&mut h, self.base_sequence);
        put_i32(&mut h, self.record_count);
        debug_assert_eq!(h.len(), BATCH_HEADER_LEN);
        self.buf[..BATCH_HEADER_LEN].copy_from_slice(&h);
        let crc = crc32c::crc32c(&self.buf[ATTRIBUTES_OFFSET..]);
        self.buf[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    }

    /// The batch bytes. Complete (header and CRC valid) only once [`close`](Self::close)d.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }
    /// Takes the buffer back (for reuse by a pool).
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }
    /// Takes the buffer out (for reuse by a pool), leaving this builder closed and empty:
    /// [`bytes`](Self::bytes) is then empty and further calls change nothing.
    pub fn take_buffer(&mut self) -> Vec<u8> {
        self.closed = true;
        std::mem::take(&mut self.buf)
    }
    /// Current size in bytes, header included.
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    /// Whether no record was appended.
    pub fn is_empty(&self) -> bool {
        self.record_count == 0
    }
    /// Records appended.
    pub fn record_count(&self) -> i32 {
        self.record_count
    }
    /// The write limit given at creation.
    pub fn write_limit(&self) -> usize {
        self.write_limit
    }
    /// Timestamp of the first record (-1 when empty).
    pub fn base_timestamp(&self) -> i64 {
        self.base_timestamp
    }
    /// Largest record timestamp (-1 when empty).
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }
    /// Whether the batch is sealed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }
    /// Producer id written in the header.
    pub fn producer_id(&self) -> i64 {
        self.producer_id
    }
    /// Producer epoch written in the header.
    pub fn producer_epoch(&self) -> i16 {
        self.producer_epoch
    }
    /// Base sequence written in the header.
    pub fn base_sequence(&self) -> i32 {
        self.base_sequence
    }
    /// Whether the batch is marked transactional.
    pub fn is_transactional(&self) -> bool {
        self.transactional
    }
    /// The compression codec (`None` also when sealing had to fall back to no compression).
    pub fn compression(&self) -> CompressionType {
        self.compression
    }
}

fn put_field(b: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        None => put_varint(b, -1),
        Some(v) => {
            put_varint(b, v.len() as i32);
            b.extend_from_slice(v);
        }
    }
}

mod decode;

pub use self::decode::{decode_batch, decode_records, DecodedBatch, DecodedHeader, DecodedRecord};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::primitives::DecodeError;

    #[test]
    fn prepared_records_are_the_same_bytes_as_appended_ones() {
        let hs: [(&str, Option<&[u8]>); 1] = [("h", Some(b"x"))];
        let mut a = RecordBatchBuilder::new(1 << 16);
        let mut b = RecordBatchBuilder::new(1 << 16);
        for i in 0..50i64 {
            let key = format!("k{i}");
            let value = vec![i as u8; i as usize * 3];
            let n = a
                .append(1000 + i * 7, Some(key.as_bytes()), Some(&value), &hs)
                .unwrap();
            let p = b
                .prepare(1000 + i * 7, Some(key.as_bytes()), Some(&value), &hs)
                .unwrap();
            assert_eq!(p.size(), n);
            assert_eq!(
                Some(p.size()),
                b.record_size(1000 + i * 7, Some(key.as_bytes()), Some(&value), &hs)
            );
            b.append_prepared(p, 1000 + i * 7, Some(key.as_bytes()), Some(&value), &hs)
                .unwrap();
        }
        a.close();
        b.close();
        assert_eq!(a.bytes(), b.bytes());
        // A stale preparation (another record went in since) is sized again, not trusted.
        let mut c = RecordBatchBuilder::new(1 << 16);
        let stale = c.prepare(5, None, Some(b"long value"), &hs).unwrap();
        c.append(5, None, Some(b"v"), &hs).unwrap();
        c.append_prepared(stale, 5, None, Some(b"long value"), &hs)
            .unwrap();
        c.close();
        let decoded = decode_batch(c.bytes()).unwrap();
        assert_eq!(decoded.records.len(), 2);
        assert_eq!(decoded.records[1].value, Some(&b"long value"[..]));
        // A sealed builder prepares nothing.
        assert_eq!(c.prepare(5, None, None, &hs), Err(AppendError::Closed));
    }
    use proptest::prelude::*;

    type H<'a> = (&'a str, Option<&'a [u8]>);

    fn unhex(s: &str) -> Vec<u8> {
        let s = s.trim();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The same batch as tests/fixtures/java/GenRecordBatch.java.
    fn java_equivalent() -> RecordBatchBuilder {
        let base = 1_700_000_000_000i64;
        let big: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let mut b = RecordBatchBuilder::new(4096);
        let none: [H; 0] = [];
        b.append(
            base,
            Some(b"key-1"),
            Some(b"value-1"),
            &[("h1", Some(&b"v1"[..])), ("h-null", None)],
        )
        .unwrap();
        b.append(base - 5, None, Some(b"second"), &none).unwrap();
        b.append(base + 123_456, Some(b"key-3"), None, &none)
            .unwrap();
        b.append(base + 1, Some(b""), Some(b""), &[("e", Some(&b""[..]))])
            .unwrap();
        b.append(base + 2, Some(b"k5"), Some(&big), &none).unwrap();
        b.close();
        b
    }

    #[test]
    fn java_fixture_byte_exact() {
        let want = unhex(include_str!("../../tests/fixtures/record_batch_java.hex"));
        let mut b = java_equivalent();
        // Producer state set after the records, as idempotence does at drain time.
        b.set_producer_state(4242, 7, 100, false);
        assert_eq!(b.bytes(), &want[..]);
        let d = decode_batch(&want).unwrap();
        assert_eq!(d.record_count, 5);
        assert_eq!(d.last_offset_delta, 4);
        assert_eq!(d.base_timestamp, 1_700_000_000_000);
        assert_eq!(d.max_timestamp, 1_700_000_123_456);
        assert_eq!(
            (d.producer_id, d.producer_epoch, d.base_sequence),
            (4242, 7, 100)
        );
        assert_eq!(
            d.records[0].headers[1],
            DecodedHeader {
                key: "h-null",
                value: None
            }
        );
        assert_eq!(d.records[1].key, None);
        assert_eq!(d.records[1].timestamp_delta, -5);
        assert_eq!(d.records[2].value, None);
        assert_eq!(d.records[4].value.unwrap().len(), 300);
        assert_eq!(d.size_in_bytes(), want.len());
    }

    #[test]
    fn resealing_rewrites_producer_state_and_crc() {
        let mut b = java_equivalent();
        let before = b.bytes().to_vec();
        assert_eq!(decode_batch(&before).unwrap().producer_id, NO_PRODUCER_ID);
        b.set_producer_state(9, 1, 5, true);
        let d = decode_batch(b.bytes()).unwrap();
        assert_eq!(
            (d.producer_id, d.producer_epoch, d.base_sequence),
            (9, 1, 5)
        );
        assert!(d.is_transactional());
        assert_ne!(&before[17..21], &b.bytes()[17..21], "CRC must change");
        b.set_producer_state(9, 1, 5, false);
        b.close(); // idempotent
        assert!(decode_batch(b.bytes()).is_ok());
        assert_eq!(b.append::<H>(0, None, None, &[]), Err(AppendError::Closed));
    }

    #[test]
    fn record_size_is_exact_and_fits_respects_limit() {
        let mut b = RecordBatchBuilder::new(BATCH_HEADER_LEN + 40);
        let hs: [H; 1] = [("a", None)];
        let s1 = b
            .record_size(1000, Some(b"key"), Some(b"value"), &hs)
            .unwrap();
        assert!(b.fits(s1));
        assert_eq!(
            b.append(1000, Some(b"key"), Some(b"value"), &hs).unwrap(),
            s1
        );
        assert_eq!(b.len(), BATCH_HEADER_LEN + s1);
        let s2 = b.record_size(1_000_000, Some(b"k"), None, &hs).unwrap();
        let before = b.len();
        let fits = b.fits(s2);
        assert_eq!(fits, before + s2 <= BATCH_HEADER_LEN + 40);
        assert_eq!(b.append(1_000_000, Some(b"k"), None, &hs).unwrap(), s2);
        assert_eq!(b.len(), before + s2);
        assert!(record_size_upper_bound(Some(b"k"), None, &hs) >= s2);
        // Exactly at the limit fits; one byte over does not.
        let mut c = RecordBatchBuilder::new(BATCH_HEADER_LEN + s1);
        assert!(c.fits(s1));
        assert!(!c.fits(s1 + 1));
        c.append(1000, Some(b"key"), Some(b"value"), &hs).unwrap();
        assert!(c.is_full());
    }

    #[test]
    fn decoder_rejects_corruption() {
        let b = java_equivalent();
        let mut bytes = b.bytes().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(matches!(
            decode_batch(&bytes),
            Err(DecodeError::Invalid {
                what: "CRC-32C",
                ..
            })
        ));
        let bytes = b.bytes();
        for cut in 0..bytes.len() {
            assert!(decode_batch(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    const CODECS: [CompressionType; 4] = [
        CompressionType::Gzip,
        CompressionType::Snappy,
        CompressionType::Lz4,
        CompressionType::Zstd,
    ];

    fn available_codecs() -> impl Iterator<Item = CompressionType> {
        CODECS
            .into_iter()
            .filter(|c| crate::compression::is_available(*c))
    }

    /// `n` compressible records (keys, headers, a tombstone every 7th).
    fn compressible(codec: CompressionType, n: usize) -> RecordBatchBuilder {
        let mut b = RecordBatchBuilder::new(1 << 22);
        b.set_compression(codec, None, 1.0);
        for i in 0..n {
            let k = format!("key-{i}");
            let v = format!("value {i} the quick brown fox jumps over the lazy dog");
            let hs: [H; 1] = [("h", Some(&b"header"[..]))];
            let v = (i % 7 != 3).then_some(v.as_bytes());
            b.append(1_700_000_000_000 + i as i64, Some(k.as_bytes()), v, &hs)
                .unwrap();
        }
        b
    }

    #[test]
    fn compressed_round_trip_every_codec() {
        for codec in available_codecs() {
            let mut b = compressible(codec, 500);
            let uncompressed = b.len() - BATCH_HEADER_LEN;
            let est = b.estimated_size();
            assert!(est > uncompressed, "ratio 1.0 estimate pads by 5%");
            b.close();
            assert_eq!(b.compression(), codec);
            let d = decode_batch(b.bytes()).unwrap();
            assert_eq!(d.compression(), Some(codec));
            assert_eq!(d.size_in_bytes(), b.len());
            assert!(d.records.is_empty());
            assert!(
                d.records_bytes.len() * 3 < uncompressed,
                "{codec:?}: {} vs {uncompressed}",
                d.records_bytes.len()
            );
            let ratio = b.compression_ratio();
            assert!((ratio - d.records_bytes.len() as f32 / uncompressed as f32).abs() < 1e-6);
            let section = d.records_section(DEFAULT_MAX_DECOMPRESSED).unwrap();
            assert_eq!(section.len(), uncompressed);
            let recs = decode_records(&section, d.record_count).unwrap();
            assert_eq!(recs.len(), 500);
            assert_eq!(recs[10].key, Some(&b"key-10"[..]));
            assert_eq!(recs[3].value, None);
            assert_eq!(recs[499].offset_delta, 499);
            assert_eq!(recs[499].timestamp_delta, 499);
            assert_eq!(recs[0].headers[0].value, Some(&b"header"[..]));
            // Too small a limit is refused, not truncated.
            assert!(matches!(
                d.records_section(uncompressed - 1),
                Err(DecodeError::Decompress { .. })
            ));
        }
    }

    #[test]
    fn resealing_a_compressed_batch_keeps_the_compressed_bytes() {
        for codec in available_codecs() {
            let mut b = compressible(codec, 200);
            b.close();
            let first = b.bytes().to_vec();
            b.set_producer_state(77, 3, 1000, false);
            b.close();
            b.set_producer_state(77, 3, 1000, true);
            let second = b.bytes();
            assert_eq!(first.len(), second.len());
            // Records identical; header differs only in CRC, attributes and producer fields.
            assert_eq!(&first[BATCH_HEADER_LEN..], &second[BATCH_HEADER_LEN..]);
            assert_eq!(&first[..CRC_OFFSET], &second[..CRC_OFFSET]);
            assert_eq!(&first[23..43], &second[23..43]); // offsets delta, timestamps
            assert_eq!(&first[57..61], &second[57..61]); // record count
            let d = decode_batch(second).unwrap();
            assert_eq!(d.compression(), Some(codec));
            assert!(d.is_transactional());
            assert_eq!(
                (d.producer_id, d.producer_epoch, d.base_sequence),
                (77, 3, 1000)
            );
            assert_eq!(
                decode_records(&d.records_section(1 << 20).unwrap(), d.record_count)
                    .unwrap()
                    .len(),
                200
            );
        }
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn estimated_size_drives_fullness_with_compression() {
        let mut b = RecordBatchBuilder::new(BATCH_HEADER_LEN + 1000);
        b.set_compression(CompressionType::Gzip, None, 0.1);
        let hs: [H; 0] = [];
        let v = [b'x'; 90];
        let mut n = 0;
        loop {
            let size = b.record_size(0, None, Some(&v), &hs).unwrap();
            if !b.fits(size) {
                break;
            }
            b.append(0, None, Some(&v), &hs).unwrap();
            n += 1;
        }
        // ~ 1000 / (0.1 * 1.05) = 9523 uncompressed bytes: about 100 records of ~95 bytes.
        assert!((95..=101).contains(&n), "{n}");
        assert!(b.len() > 9000);
        assert!(b.estimated_size() <= BATCH_HEADER_LEN + 1000);
        b.close();
        assert_eq!(b.estimated_size(), b.len());
        assert!(b.len() < BATCH_HEADER_LEN + 1000);
    }

    #[test]
    fn decoder_rejects_corrupt_compressed_records_and_bombs() {
        for codec in available_codecs() {
            let mut b = compressible(codec, 100);
            b.close();
            let mut bytes = b.bytes().to_vec();
            // Corrupt the middle of the compressed section and re-seal the CRC.
            let mid = BATCH_HEADER_LEN + (bytes.len() - BATCH_HEADER_LEN) / 2;
            for i in mid..(mid + 8).min(bytes.len()) {
                bytes[i] ^= 0xA5;
            }
            let crc = crc32c::crc32c(&bytes[ATTRIBUTES_OFFSET..]);
            bytes[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
            let d = decode_batch(&bytes).unwrap();
            // Either the codec notices, or the records do not parse (no checksums in lz4).
            let bad = match d.records_section(1 << 20) {
                Err(_) => true,
                Ok(sec) => decode_records(&sec, d.record_count)
                    .map(|r| r != decode_records(&compressible_plain(100), 100).unwrap())
                    .unwrap_or(true),
            };
            assert!(bad, "{codec:?}");
        }
        // A bomb: 8 MiB of zeros in a small batch, refused at a 1 MiB limit.
        for codec in available_codecs() {
            let mut b = RecordBatchBuilder::new(1 << 24);
            b.set_compression(codec, None, 1.0);
            let zeros = vec![0u8; 8 << 20];
            b.append::<H>(0, None, Some(&zeros), &[]).unwrap();
            b.close();
            assert!(b.len() < 1 << 20, "{codec:?} {}", b.len());
            let d = decode_batch(b.bytes()).unwrap();
            assert!(matches!(
                d.records_section(1 << 20),
                Err(DecodeError::Decompress { .. })
            ));
        }
    }

    fn compressible_plain(n: usize) -> Vec<u8> {
        let mut b = compressible(CompressionType::None, n);
        b.close();
        b.bytes()[BATCH_HEADER_LEN..].to_vec()
    }

    /// Batches compressed by Kafka's Java `MemoryRecordsBuilder`
    /// (tests/fixtures/java/GenCompressedBatches.java) decode with our decoder, every record
    /// as the Java program wrote it; and ours of the same records decode to the same records.
    #[test]
    fn java_compressed_batches_decode() {
        let text = include_str!("../../tests/fixtures/compressed_batches_java.txt");
        let mut seen = 0;
        for line in text.lines() {
            let (name, hex) = line.split_once(' ').unwrap();
            let codec = CompressionType::from_name(name).unwrap();
            if !crate::compression::is_available(codec) {
                continue;
            }
            let bytes = unhex(hex);
            let d = decode_batch(&bytes).unwrap();
            assert_eq!(d.compression(), Some(codec));
            assert_eq!(d.size_in_bytes(), bytes.len());
            assert_eq!(
                (d.producer_id, d.producer_epoch, d.base_sequence),
                (4242, 7, 100)
            );
            let section = d.records_section(DEFAULT_MAX_DECOMPRESSED).unwrap();
            let recs = decode_records(&section, d.record_count).unwrap();
            assert_eq!(recs.len(), 1000);
            for (i, r) in recs.iter().enumerate() {
                let key = format!("key-{i}");
                let value = format!("value {i} the quick brown fox jumps over the lazy dog");
                assert_eq!(r.key, Some(key.as_bytes()), "{name} {i}");
                let want = (i % 7 != 3).then_some(value.as_bytes());
                assert_eq!(r.value, want, "{name} {i}");
                assert_eq!(r.timestamp_delta, i as i64);
                assert_eq!(r.offset_delta, i as i32);
                let h = i.to_string();
                let want_h: Vec<DecodedHeader> = if i % 3 == 0 {
                    vec![DecodedHeader {
                        key: "h",
                        value: Some(h.as_bytes()),
                    }]
                } else {
                    vec![]
                };
                assert_eq!(r.headers, want_h, "{name} {i}");
            }
            // Our encoding of the same records: the same uncompressed records section.
            let mut ours = RecordBatchBuilder::new(1 << 20);
            ours.set_compression(codec, None, 1.0);
            for i in 0..1000usize {
                let key = format!("key-{i}");
                let value = format!("value {i} the quick brown fox jumps over the lazy dog");
                let h = i.to_string();
                let hs: Vec<H> = if i % 3 == 0 {
                    vec![("h", Some(h.as_bytes()))]
                } else {
                    vec![]
                };
                let v = (i % 7 != 3).then_some(value.as_bytes());
                ours.append(1_700_000_000_000 + i as i64, Some(key.as_bytes()), v, &hs)
                    .unwrap();
            }
            ours.close();
            ours.set_producer_state(4242, 7, 100, false);
            let od = decode_batch(ours.bytes()).unwrap();
            assert_eq!(&od.records_section(1 << 20).unwrap()[..], &section[..]);
            // Same header but batchLength (compressed sizes differ) and the CRC.
            assert_eq!(&ours.bytes()[..8], &bytes[..8], "{name}: base offset");
            assert_eq!(
                &ours.bytes()[12..17],
                &bytes[12..17],
                "{name}: epoch, magic"
            );
            assert_eq!(
                &ours.bytes()[21..61],
                &bytes[21..61],
                "{name}: header fields"
            );
            if codec == CompressionType::Snappy {
                // Same xerial framing and 32 KiB chunks: snap's blocks match snappy-java's.
                assert_eq!(ours.bytes(), &bytes[..], "snappy byte for byte");
            }
            eprintln!(
                "{name}: java {} bytes, ours {} bytes (records {} uncompressed)",
                bytes.len(),
                ours.len(),
                section.len()
            );
            seen += 1;
        }
        assert!(seen > 0 || !crate::compression::is_available(CompressionType::Gzip));
    }

    #[test]
    fn unknown_codec_id_is_rejected() {
        let mut b = java_equivalent();
        b.close();
        let mut bytes = b.bytes().to_vec();
        bytes[ATTRIBUTES_OFFSET + 1] |= 0x07; // codec 7
        let crc = crc32c::crc32c(&bytes[ATTRIBUTES_OFFSET..]);
        bytes[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        assert!(decode_batch(&bytes).is_err());
    }

    fn arb_header() -> impl Strategy<Value = (String, Option<Vec<u8>>)> {
        (
            "[a-z]{0,8}",
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
        )
    }

    type ArbRecord = (
        i64,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Vec<(String, Option<Vec<u8>>)>,
    );

    fn arb_record() -> impl Strategy<Value = ArbRecord> {
        (
            any::<i64>(),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..100)),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
            proptest::collection::vec(arb_header(), 0..4),
        )
    }

    proptest! {
        #[test]
        fn round_trip(records in proptest::collection::vec(arb_record(), 1..20),
                      pid in any::<i64>(), epoch in any::<i16>(), seq in any::<i32>()) {
            let mut b = RecordBatchBuilder::new(1 << 20);
            let mut total = BATCH_HEADER_LEN;
            for (ts, k, v, hs) in &records {
                let hs: Vec<H> = hs.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
                let size = b.record_size(*ts, k.as_deref(), v.as_deref(), &hs).unwrap();
                prop_assert_eq!(b.append(*ts, k.as_deref(), v.as_deref(), &hs).unwrap(), size);
                total += size;
                prop_assert_eq!(b.len(), total);
            }
            b.close();
            b.set_producer_state(pid, epoch, seq, false);
            let d = decode_batch(b.bytes()).unwrap();
            prop_assert_eq!(d.record_count as usize, records.len());
            prop_assert_eq!(d.last_offset_delta as usize, records.len() - 1);
            prop_assert_eq!((d.producer_id, d.producer_epoch, d.base_sequence), (pid, epoch, seq));
            let base = records[0].0;
            prop_assert_eq!(d.base_timestamp, base);
            prop_assert_eq!(d.max_timestamp, records.iter().map(|r| r.0).max().unwrap());
            for (i, (r, (ts, k, v, hs))) in d.records.iter().zip(&records).enumerate() {
                prop_assert_eq!(r.offset_delta as usize, i);
                prop_assert_eq!(base.wrapping_add(r.timestamp_delta), *ts);
                prop_assert_eq!(r.key, k.as_deref());
                prop_assert_eq!(r.value, v.as_deref());
                prop_assert_eq!(r.headers.len(), hs.len());
                for (dh, (hk, hv)) in r.headers.iter().zip(hs) {
                    prop_assert_eq!(dh.key, hk.as_str());
                    prop_assert_eq!(dh.value, hv.as_deref());
                }
            }
        }

        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_batch(&bytes);
        }

        #[test]
        fn decoder_never_panics_on_mutated_batches(idx in any::<usize>(), val in any::<u8>(),
                                                   cut in any::<usize>()) {
            let b = java_equivalent();
            let mut bytes = b.bytes().to_vec();
            let i = idx % bytes.len();
            bytes[i] = val;
            // Re-seal the CRC so the parser goes past the checksum into the records.
            let crc = crc32c::crc32c(&bytes[ATTRIBUTES_OFFSET..]);
            bytes[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
            let _ = decode_batch(&bytes);
            let _ = decode_batch(&bytes[..cut % (bytes.len() + 1)]);
        }
    }
}

//! Decoding record batches v2: total (every length checked against the input, the CRC
//! verified), borrowing the input. The layout is in the [parent module's docs](super).

use super::super::primitives::{DecodeError, DecodeResult, Decoder};
use super::*;

/// A decoded record header; borrows the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedHeader<'a> {
    /// Key (UTF-8).
    pub key: &'a str,
    /// Value; `None` for null.
    pub value: Option<&'a [u8]>,
}

/// A decoded record; borrows the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedRecord<'a> {
    /// Record attributes (unused, 0).
    pub attributes: i8,
    /// Timestamp relative to the batch's base timestamp.
    pub timestamp_delta: i64,
    /// Offset relative to the batch's base offset.
    pub offset_delta: i32,
    /// Key; `None` for null.
    pub key: Option<&'a [u8]>,
    /// Value; `None` for null (tombstone).
    pub value: Option<&'a [u8]>,
    /// Headers, in order.
    pub headers: Vec<DecodedHeader<'a>>,
}

/// A decoded batch: header fields and (for uncompressed batches) its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedBatch<'a> {
    /// Base offset.
    pub base_offset: i64,
    /// Bytes after the `batchLength` field.
    pub batch_length: i32,
    /// Partition leader epoch.
    pub partition_leader_epoch: i32,
    /// Magic (2).
    pub magic: i8,
    /// The stored CRC (verified).
    pub crc: u32,
    /// Raw attributes.
    pub attributes: i16,
    /// Last offset delta.
    pub last_offset_delta: i32,
    /// Base timestamp.
    pub base_timestamp: i64,
    /// Max timestamp.
    pub max_timestamp: i64,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Base sequence.
    pub base_sequence: i32,
    /// Record count from the header.
    pub record_count: i32,
    /// Records (empty for compressed batches: see [`records_section`](Self::records_section)
    /// and [`decode_records`]).
    pub records: Vec<DecodedRecord<'a>>,
    /// The records section as stored (compressed or not).
    pub records_bytes: &'a [u8],
}

impl<'a> DecodedBatch<'a> {
    /// The records section, decompressed if the batch is compressed (borrowed otherwise). At
    /// most `max_len` decompressed bytes are produced (see [`DEFAULT_MAX_DECOMPRESSED`]);
    /// more, a codec not compiled in, or corrupt data is an error. Parse the result with
    /// [`decode_records`] and [`record_count`](Self::record_count).
    pub fn records_section(&self, max_len: usize) -> DecodeResult<Cow<'a, [u8]>> {
        let codec = self.compression().ok_or_else(|| {
            invalid(
                "compression codec",
                ATTRIBUTES_OFFSET,
                self.attributes as i64,
            )
        })?;
        if codec == CompressionType::None {
            return Ok(Cow::Borrowed(self.records_bytes));
        }
        let mut out = Vec::new();
        crate::compression::decompress(codec, self.records_bytes, max_len, &mut out).map_err(
            |e| DecodeError::Decompress {
                offset: BATCH_HEADER_LEN,
                reason: e.to_string(),
            },
        )?;
        Ok(Cow::Owned(out))
    }

    /// The compression codec, if the id is known.
    pub fn compression(&self) -> Option<CompressionType> {
        CompressionType::from_id(self.attributes & COMPRESSION_MASK)
    }
    /// Whether timestamps are log-append time.
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }
    /// Whether the batch is transactional.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }
    /// Whether it is a control batch.
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }
    /// Total size in bytes of the batch in the input.
    pub fn size_in_bytes(&self) -> usize {
        LOG_OVERHEAD + self.batch_length as usize
    }
}

fn invalid(what: &'static str, offset: usize, value: i64) -> DecodeError {
    DecodeError::Invalid {
        what,
        offset,
        value,
    }
}

/// Decodes one batch at the start of `input` (trailing bytes after it are ignored; see
/// [`DecodedBatch::size_in_bytes`]). Verifies magic, length and CRC-32C. Total: never panics,
/// allocates only what the input can hold.
pub fn decode_batch(input: &[u8]) -> DecodeResult<DecodedBatch<'_>> {
    let mut d = Decoder::new(input);
    let base_offset = d.i64()?;
    let len_at = d.position();
    let batch_length = d.i32()?;
    if batch_length < (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32 {
        return Err(invalid("batch length", len_at, batch_length as i64));
    }
    let body = d.take(batch_length as usize)?;
    // Parse the rest within exactly batch_length bytes.
    let mut d = Decoder::new(body);
    let partition_leader_epoch = d.i32()?;
    let magic = d.i8()?;
    if magic != MAGIC_V2 {
        return Err(invalid("magic", LOG_OVERHEAD + 4, magic as i64));
    }
    let crc = d.u32()?;
    let crc_span = &body[ATTRIBUTES_OFFSET - LOG_OVERHEAD..];
    let actual = crc32c::crc32c(crc_span);
    if actual != crc {
        return Err(invalid("CRC-32C", CRC_OFFSET, actual as i64));
    }
    let attributes = d.i16()?;
    let last_offset_delta = d.i32()?;
    let base_timestamp = d.i64()?;
    let max_timestamp = d.i64()?;
    let producer_id = d.i64()?;
    let producer_epoch = d.i16()?;
    let base_sequence = d.i32()?;
    let count_at = LOG_OVERHEAD + d.position();
    let record_count = d.i32()?;
    if record_count < 0 {
        return Err(invalid("record count", count_at, record_count as i64));
    }
    let records_bytes = &body[d.position()..];
    let mut batch = DecodedBatch {
        base_offset,
        batch_length,
        partition_leader_epoch,
        magic,
        crc,
        attributes,
        last_offset_delta,
        base_timestamp,
        max_timestamp,
        producer_id,
        producer_epoch,
        base_sequence,
        record_count,
        records: Vec::new(),
        records_bytes,
    };
    match batch.compression() {
        Some(CompressionType::None) => {}
        Some(_) => return Ok(batch),
        None => {
            return Err(invalid(
                "compression codec",
                ATTRIBUTES_OFFSET,
                attributes as i64,
            ))
        }
    }
    batch.records = decode_records(records_bytes, record_count).map_err(|e| match e {
        DecodeError::Invalid {
            what: "record count",
            ..
        } => invalid("record count", count_at, record_count as i64),
        e => e,
    })?;
    Ok(batch)
}

/// Parses an (uncompressed) records section holding `record_count` records: exactly that
/// many, with no bytes left over. Offsets in errors are relative to `section`.
pub fn decode_records(section: &[u8], record_count: i32) -> DecodeResult<Vec<DecodedRecord<'_>>> {
    let mut d = Decoder::new(section);
    let n = usize::try_from(record_count)
        .map_err(|_| invalid("record count", 0, record_count as i64))?;
    if n.saturating_mul(MIN_RECORD_LEN) > d.remaining() {
        return Err(invalid("record count", 0, record_count as i64));
    }
    let mut records = Vec::with_capacity(n);
    for _ in 0..n {
        records.push(decode_record(&mut d)?);
    }
    if !d.is_empty() {
        return Err(invalid(
            "trailing bytes in batch",
            d.position(),
            d.remaining() as i64,
        ));
    }
    Ok(records)
}

fn nullable_field<'a>(d: &mut Decoder<'a>, what: &'static str) -> DecodeResult<Option<&'a [u8]>> {
    let at = d.position();
    let n = d.varint()?;
    if n == -1 {
        return Ok(None);
    }
    if n < 0 {
        return Err(invalid(what, at, n as i64));
    }
    d.take(n as usize).map(Some)
}

fn decode_record<'a>(d: &mut Decoder<'a>) -> DecodeResult<DecodedRecord<'a>> {
    let at = d.position();
    let len = d.varint()?;
    if len < 0 {
        return Err(invalid("record length", at, len as i64));
    }
    let body = d.take(len as usize)?;
    let mut r = Decoder::new(body);
    let attributes = r.i8()?;
    let timestamp_delta = r.varlong()?;
    let offset_delta = r.varint()?;
    let key = nullable_field(&mut r, "key length")?;
    let value = nullable_field(&mut r, "value length")?;
    let hc_at = r.position();
    let header_count = r.varint()?;
    // Each header takes at least two bytes (key length and value length).
    if header_count < 0 || (header_count as usize).saturating_mul(2) > r.remaining() {
        return Err(invalid("header count", hc_at, header_count as i64));
    }
    let mut headers = Vec::with_capacity(header_count as usize);
    for _ in 0..header_count {
        let k_at = r.position();
        let k = nullable_field(&mut r, "header key length")?
            .ok_or_else(|| invalid("null header key", k_at, -1))?;
        let key = std::str::from_utf8(k).map_err(|_| DecodeError::Utf8(k_at))?;
        let value = nullable_field(&mut r, "header value length")?;
        headers.push(DecodedHeader { key, value });
    }
    if !r.is_empty() {
        return Err(invalid(
            "trailing bytes in record",
            at,
            r.remaining() as i64,
        ));
    }
    Ok(DecodedRecord {
        attributes,
        timestamp_delta,
        offset_delta,
        key,
        value,
        headers,
    })
}

//! Fuzzes `record_batch::decode_batch` on arbitrary bytes, twice per input: as given, and with
//! the CRC-32C field patched to match (when the batch length fits the input), so the record
//! parser behind the CRC check is reached by mutated inputs too.
//!
//! For every batch that decodes, checks the header/records invariants and, when the records
//! are ones `RecordBatchBuilder` can produce (attributes 0, offset deltas 0..n, first timestamp
//! delta 0), rebuilds the batch from the decoded fields and checks it decodes to the same
//! records in no more bytes (the builder writes minimal varints).
#![no_main]

use kafka_sync::protocol::record_batch::{
    decode_batch, CompressionType, DecodedBatch, RecordBatchBuilder, BATCH_HEADER_LEN,
    LOG_OVERHEAD, MAGIC_V2,
};
use libfuzzer_sys::fuzz_target;

const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;

fn check(input: &[u8], b: &DecodedBatch<'_>) {
    assert_eq!(b.magic, MAGIC_V2);
    assert!(b.batch_length as usize >= BATCH_HEADER_LEN - LOG_OVERHEAD);
    assert!(b.size_in_bytes() <= input.len());
    assert_eq!(
        b.records_bytes.len(),
        b.size_in_bytes() - BATCH_HEADER_LEN,
        "records section length"
    );
    assert!(b.record_count >= 0);
    if b.compression() != Some(CompressionType::None) {
        assert!(b.records.is_empty());
        return;
    }
    assert_eq!(b.records.len(), b.record_count as usize, "record count");

    let rebuildable = !b.records.is_empty()
        && b.records[0].timestamp_delta == 0
        && b.records
            .iter()
            .enumerate()
            .all(|(i, r)| r.attributes == 0 && r.offset_delta as usize == i);
    if !rebuildable {
        return;
    }
    let mut builder = RecordBatchBuilder::new(b.size_in_bytes());
    for r in &b.records {
        let headers: Vec<(&str, Option<&[u8]>)> =
            r.headers.iter().map(|h| (h.key, h.value)).collect();
        builder
            .append(
                b.base_timestamp.wrapping_add(r.timestamp_delta),
                r.key,
                r.value,
                &headers,
            )
            .expect("a decoded record must re-encode");
    }
    builder.close();
    let again = decode_batch(builder.bytes()).expect("rebuilt batch must decode");
    assert_eq!(again.records, b.records, "records changed by a rebuild");
    assert_eq!(again.record_count, b.record_count);
    assert_eq!(again.base_timestamp, b.base_timestamp);
    assert_eq!(again.size_in_bytes(), builder.bytes().len());
    assert!(
        again.records_bytes.len() <= b.records_bytes.len(),
        "minimal encoding longer than the input's"
    );
}

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = decode_batch(data) {
        check(data, &b);
    }
    // Same bytes with a valid CRC, if the length field leaves a span to cover.
    if data.len() < BATCH_HEADER_LEN {
        return;
    }
    let len = i32::from_be_bytes(data[8..12].try_into().unwrap());
    if len < (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32 {
        return;
    }
    let end = LOG_OVERHEAD + len as usize;
    if end > data.len() {
        return;
    }
    let mut patched = data.to_vec();
    let crc = crc32c::crc32c(&patched[ATTRIBUTES_OFFSET..end]);
    patched[CRC_OFFSET..ATTRIBUTES_OFFSET].copy_from_slice(&crc.to_be_bytes());
    let b = decode_batch(&patched);
    if let Ok(b) = b {
        check(&patched, &b);
    }
});

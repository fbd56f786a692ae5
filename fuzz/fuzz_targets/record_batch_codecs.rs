//! Fuzzes the record batch decoder: `decode_batch`, then for compressed batches the capped
//! decompression (`records_section`, 1 MiB limit) and `decode_records`. Inputs with a valid
//! CRC are rare from random bytes, so the first input byte (when odd) asks the target to fix
//! the CRC up itself, letting the fuzzer reach the records and the codecs.
#![no_main]

use kafka_sync::protocol::record_batch::{decode_batch, decode_records};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let mut bytes = body.to_vec();
    if mode & 1 == 1 && bytes.len() >= 21 {
        let crc = crc32c(&bytes[21..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    }
    let Ok(batch) = decode_batch(&bytes) else {
        return;
    };
    assert!(batch.size_in_bytes() <= bytes.len());
    if let Ok(section) = batch.records_section(1 << 20) {
        assert!(section.len() <= 1 << 20);
        if let Ok(records) = decode_records(&section, batch.record_count) {
            assert_eq!(records.len(), batch.record_count as usize);
        }
    }
});

/// CRC-32C (Castagnoli), bitwise: slow, but keeps the target free of extra dependencies.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
        }
    }
    !crc
}

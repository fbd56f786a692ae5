//! Fuzzes `AddOffsetsToTxnResponse::decode`: the first input byte picks the version (within the implemented
//! range, plus one out-of-range value), the rest is the response body.
#![no_main]

use kafka_sync::protocol::add_offsets_to_txn::{self, AddOffsetsToTxnResponse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&v, body)) = data.split_first() else {
        return;
    };
    let span = (add_offsets_to_txn::MAX_VERSION - add_offsets_to_txn::MIN_VERSION + 2) as u8;
    let version = add_offsets_to_txn::MIN_VERSION + (v % span) as i16;
    let decoded = AddOffsetsToTxnResponse::decode(body, version);
    if version > add_offsets_to_txn::MAX_VERSION {
        assert!(decoded.is_err(), "out-of-range version accepted");
    }
    if let Ok(r) = decoded {
        // Whatever decodes must re-encode and decode to the same value.
        let mut again = Vec::new();
        r.encode(version, &mut again);
        let r2 = AddOffsetsToTxnResponse::decode(&again, version).expect("re-decode");
        let mut third = Vec::new();
        r2.encode(version, &mut third);
        assert_eq!(again, third);
    }
});

//! Fuzzes `RequestHeader::decode` (v1/v2, chosen by the api key and version read): whatever
//! decodes must re-encode and decode to the same header, consuming exactly what it wrote.
#![no_main]

use kafka_sync::protocol::{Decoder, RequestHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut d = Decoder::new(data);
    let Ok(h) = RequestHeader::decode(&mut d) else {
        return;
    };
    assert!(d.position() <= data.len());
    let mut buf = Vec::new();
    h.encode(&mut buf);
    let mut d2 = Decoder::new(&buf);
    let h2 = RequestHeader::decode(&mut d2).expect("re-decode");
    assert_eq!(h, h2);
    assert!(d2.is_empty(), "re-encoded header not consumed exactly");
});

//! Fuzzes the incremental frame parser and response-header split: the first input byte sets
//! `max_frame_size`, the rest is a stream of bytes as read from a socket.
#![no_main]

use kafka_sync::protocol::frame::{parse_frame, SIZE_PREFIX_LEN};
use kafka_sync::protocol::header::ResponseHeader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&m, mut stream)) = data.split_first() else {
        return;
    };
    let max = m as usize * 4;
    while let Ok(Some(end)) = parse_frame(stream, max) {
        assert!(end >= SIZE_PREFIX_LEN && end <= stream.len() && end - SIZE_PREFIX_LEN <= max);
        let payload = &stream[SIZE_PREFIX_LEN..end];
        // Any api key / version: header v0 or v1.
        for (key, version) in [(0, 3), (0, 9), (18, 3)] {
            if let Ok((_, body)) = ResponseHeader::split(payload, key, version) {
                assert!(body.len() <= payload.len());
            }
        }
        stream = &stream[end..];
    }
});

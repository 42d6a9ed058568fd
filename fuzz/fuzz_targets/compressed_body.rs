//! The collector's body decoder: gzip and zstd bodies decode within the output bound or are refused, whatever
//! the bytes (truncated streams, bombs, garbage); decoded bytes then go through the batch reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_collector::{BatchLimits, ContentEncoding, decode_body, parse_batch};

const MAX_DECODED: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let encoding = match selector % 3 {
        0 => ContentEncoding::Gzip,
        1 => ContentEncoding::Zstd,
        _ => ContentEncoding::Identity,
    };
    if let Ok(decoded) = decode_body(body, encoding, MAX_DECODED) {
        assert!(decoded.len() <= MAX_DECODED, "the output bound holds");
        let now = chrono::DateTime::from_timestamp(1_795_000_000, 0).expect("a fixed time");
        let limits = BatchLimits {
            max_line_bytes: 64 << 10,
            max_lines: 1000,
            measurement: vigil_measurement::Limits::default(),
        };
        let _ = parse_batch(&decoded, now, &limits);
    }
});

//! The collector's NDJSON batch reader and validator, plain and signed: any body gets an answer, never a panic,
//! and an accepted batch re-serialises to lines that read back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_collector::{BatchLimits, parse_batch, parse_signed_batch};
use vigil_measurement::{Limits, Measurement};

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_795_000_000, 0).expect("a fixed time");
    let limits = BatchLimits {
        max_line_bytes: 64 << 10,
        max_lines: 1000,
        measurement: Limits::default(),
    };
    if let Ok(batch) = parse_batch(data, now, &limits) {
        for m in &batch {
            let again = Measurement::from_json_slice(m.to_json_line().as_bytes()).expect("a stored line reads back");
            assert_eq!(again.to_json_line(), m.to_json_line());
        }
    }
    let _ = parse_signed_batch(data, now, &limits);
});

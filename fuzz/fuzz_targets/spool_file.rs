//! The probe's spool opened on an arbitrary file (a damaged SD card, a half-written page): it opens, salvaging
//! what it can, or refuses with an error — never a panic — and what it yields carries valid checksums.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_probe::{Spool, SpoolOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    if std::fs::write(dir.path().join("spool.db"), data).is_err() {
        return;
    }
    if let Ok(mut spool) = Spool::open(
        dir.path(),
        SpoolOptions {
            max_bytes: 1 << 20,
            ..SpoolOptions::default()
        },
    ) {
        let _ = spool.stats();
        let _ = spool.next_batch(100, 1 << 20);
    }
});

//! Not a real target: fuzz/smoke.sh's self-test. It panics on the planted input (bytes starting with
//! `VIGIL-CANARY`) and on nothing else, so a smoke run that reports "no crash" for it has lost the fuzzer's exit
//! status and cannot be trusted.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.starts_with(b"VIGIL-CANARY") {
        panic!("planted crash: fuzz/smoke.sh's self-test input");
    }
});

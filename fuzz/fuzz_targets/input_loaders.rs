//! The probe's input loaders: an OONI-format fingerprint file and a Citizen Lab test list, from whatever bytes a
//! volunteer's disk holds. They load (skipping bad rows with a reason) or refuse; matching with what loaded
//! never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_probe::Fingerprints;
use vigil_probe::TestLists;

fuzz_target!(|data: &[u8]| {
    let (fingerprints, list) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, data),
    };
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let _ = std::fs::write(dir.path().join("fingerprints_http.csv"), fingerprints);
    let _ = std::fs::write(dir.path().join("fingerprints_dns.csv"), fingerprints);
    if let Ok((loaded, _report)) = Fingerprints::load_dir(dir.path()) {
        let _ = loaded.match_dns("10.10.34.35");
        let _ = loaded.match_http([("server", "nginx"), ("location", "http://blocked.example/")], list);
    }
    let list_path = dir.path().join("global.csv");
    if std::fs::write(&list_path, list).is_ok() {
        let _ = TestLists::load(&[list_path]);
    }
});

//! Tests that cannot run everywhere (they need root, or the shared third-party data): when what a test needs is
//! missing, the runner reports it as *ignored, with the reason* — never as a pass. Under `VIGIL_REQUIRE_ALL=1`
//! (set by `.ci/run`, which is root and has `../shared`) a missing precondition fails the test instead, and
//! `scripts/check-required-tests.py` fails CI if a test listed in `scripts/required-tests.txt` did not run and pass.
//!
//! These binaries use libtest-mimic (`harness = false`), whose runner can ignore a test at run time.

use std::path::PathBuf;

use libtest_mimic::{Completion, Failed};

/// Whether every test must run here (CI): a missing precondition is then a failure.
pub fn required() -> bool {
    std::env::var("VIGIL_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// What a test does when its precondition `reason` is missing: ignored with the reason, or failed under
/// `VIGIL_REQUIRE_ALL=1`.
pub fn unmet(reason: &str) -> Result<Completion, Failed> {
    if required() {
        Err(Failed::from(format!(
            "required test cannot run: {reason} (VIGIL_REQUIRE_ALL=1; see scripts/required-tests.txt)"
        )))
    } else {
        Ok(Completion::ignored_with(reason))
    }
}

/// Whether this process runs as root (network namespaces, raw sockets).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// The shared third-party data (`../shared/data` beside the checkout, or `$VIGIL_SHARED_DATA`), or the reason it
/// is not there.
pub fn shared_data() -> Result<PathBuf, String> {
    let dir = std::env::var_os("VIGIL_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(format!(
            "needs the shared data at {} (set VIGIL_SHARED_DATA)",
            dir.display()
        ))
    }
}

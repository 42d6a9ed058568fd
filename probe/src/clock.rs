//! The clock stamp every measurement carries (DESIGN.md §2 `clock`): whether the kernel reported the wall
//! clock synchronised, the boot id, and CLOCK_BOOTTIME at the check's start. A probe without a real-time clock
//! (a Raspberry Pi after a power cut, with no NTP during a shutdown) still gives the collector what it needs to
//! place its measurements in time.
//!
//! The boot id is read once per process from the configured path (`[vitals] boot_id_path`): it cannot change
//! without a reboot, and a reboot restarts the process.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use vigil_measurement::Clock;

/// Where the boot id is read when nothing else was configured.
pub const DEFAULT_BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";

static BOOT_ID: OnceLock<String> = OnceLock::new();
static TRUST_WALL_CLOCK: OnceLock<bool> = OnceLock::new();

/// Sets this process's clock identity: the boot id from `path`, and whether to report the wall clock as
/// synchronised even when the kernel does not (a machine whose time is kept outside its kernel's NTP
/// discipline, such as a lab host). The first call wins.
pub fn init(path: &Path, trust_wall_clock: bool) -> std::io::Result<String> {
    let _ = TRUST_WALL_CLOCK.set(trust_wall_clock);
    let id = std::fs::read_to_string(path)?.trim().to_owned();
    Ok(BOOT_ID.get_or_init(|| id).clone())
}

/// This process's boot id (read from the default path if [`init_boot_id`] was not called).
pub fn boot_id() -> &'static str {
    BOOT_ID.get_or_init(|| {
        std::fs::read_to_string(DEFAULT_BOOT_ID_PATH)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    })
}

/// The stamp for a check that started `elapsed` ago.
pub fn stamp(elapsed: Duration) -> Option<Clock> {
    let now = crate::sys::boottime_ms()?;
    let boot_id = boot_id();
    if boot_id.is_empty() {
        return None;
    }
    Some(Clock {
        synced: TRUST_WALL_CLOCK.get().copied().unwrap_or(false) || crate::sys::clock_synchronised().unwrap_or(false),
        boot_id: boot_id.to_owned(),
        mono_ms: now.saturating_sub(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)),
    })
}

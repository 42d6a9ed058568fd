//! The two kernel calls no maintained crate wraps safely for us: `adjtimex(2)` (is the clock NTP-synchronised?)
//! and `clock_gettime(CLOCK_BOOTTIME)` (milliseconds since boot, counting suspend). This is the crate's only
//! `unsafe` code; each block says why it is sound.

#![allow(unsafe_code)]

/// Whether the kernel considers the system clock synchronised (NTP or PTP discipline active), or `None` when
/// the call fails.
pub fn clock_synchronised() -> Option<bool> {
    // SAFETY: `timex` is a plain C struct of integers; all-zero is a valid value, and `modes == 0` makes
    // adjtimex a read-only query that writes only into this struct, which we own for the whole call.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: `&mut tx` is a valid, exclusive pointer to an initialised `timex` for the duration of the call.
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return None;
    }
    Some(state != libc::TIME_ERROR && tx.status & libc::STA_UNSYNC == 0)
}

/// Milliseconds on CLOCK_BOOTTIME (monotonic, includes time suspended), or `None` when the call fails.
pub fn boottime_ms() -> Option<u64> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `&mut ts` is a valid, exclusive pointer to an initialised `timespec` for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u64::try_from(ts.tv_nsec).ok()?;
    Some(secs * 1000 + nanos / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boottime_advances_and_sync_state_is_readable() {
        let a = boottime_ms().expect("CLOCK_BOOTTIME");
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = boottime_ms().expect("CLOCK_BOOTTIME");
        assert!(b >= a + 15, "{a} → {b}");
        assert!(clock_synchronised().is_some());
    }
}

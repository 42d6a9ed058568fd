//! The kernel calls no maintained crate in our tree wraps safely for us: `adjtimex(2)` (is the clock
//! NTP-synchronised?), `clock_gettime(CLOCK_BOOTTIME)` (milliseconds since boot, counting suspend),
//! `getifaddrs(3)` (the machine's own addresses) and `setsockopt(UDP_GRO)` (one datagram per read). This is the crate's only `unsafe` code; each block says why it
//! is sound.

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

/// Every address configured on this machine's interfaces (loopback included; the caller filters), or empty when
/// the call fails.
pub fn interface_addresses() -> Vec<std::net::IpAddr> {
    named_interface_addresses().into_iter().map(|(_, ip)| ip).collect()
}

/// Every address configured on this machine's interfaces with the interface's name, or empty when the call fails.
pub fn named_interface_addresses() -> Vec<(String, std::net::IpAddr)> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: `&mut head` is a valid pointer to a pointer; on success getifaddrs stores a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: `cursor` is a non-null node of the list getifaddrs returned, valid until freeifaddrs.
        let entry = unsafe { &*cursor };
        let addr = entry.ifa_addr;
        let name = if entry.ifa_name.is_null() {
            String::new()
        } else {
            // SAFETY: a non-null `ifa_name` is a NUL-terminated string owned by the list, valid until
            // freeifaddrs; it is copied out here.
            unsafe { std::ffi::CStr::from_ptr(entry.ifa_name) }
                .to_string_lossy()
                .into_owned()
        };
        if !addr.is_null() {
            // SAFETY: a non-null `ifa_addr` points to a sockaddr whose `sa_family` says its real type; we read
            // the family first and then only the matching, properly sized struct.
            let family = i32::from(unsafe { (*addr).sa_family });
            if family == libc::AF_INET {
                // SAFETY: family AF_INET: the sockaddr is a sockaddr_in.
                let v4 = unsafe { &*addr.cast::<libc::sockaddr_in>() };
                let ip = std::net::Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
                out.push((name, std::net::IpAddr::V4(ip)));
            } else if family == libc::AF_INET6 {
                // SAFETY: family AF_INET6: the sockaddr is a sockaddr_in6.
                let v6 = unsafe { &*addr.cast::<libc::sockaddr_in6>() };
                out.push((
                    name,
                    std::net::IpAddr::V6(std::net::Ipv6Addr::from(v6.sin6_addr.s6_addr)),
                ));
            }
        }
        cursor = entry.ifa_next;
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed exactly once; no reference into it survives.
    unsafe { libc::freeifaddrs(head) };
    out
}

/// Turns UDP generic receive offload off on `socket`, so that each read returns one datagram: quinn turns it on
/// and then needs a receive buffer 64 datagrams deep per batch slot (`checks::quic`).
pub fn disable_udp_gro(socket: &impl std::os::fd::AsFd) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let off: libc::c_int = 0;
    // SAFETY: the descriptor is borrowed, so open for the whole call; the option value points at a c_int we own,
    // and the length passed is its size. setsockopt only reads it.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_fd().as_raw_fd(),
            libc::SOL_UDP,
            libc::UDP_GRO,
            std::ptr::from_ref(&off).cast::<libc::c_void>(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
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

    #[test]
    fn interface_addresses_include_loopback() {
        let all = interface_addresses();
        assert!(
            all.contains(&std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
            "{all:?}"
        );
        let named = named_interface_addresses();
        assert!(
            named.contains(&("lo".to_owned(), std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))),
            "{named:?}"
        );
    }
}

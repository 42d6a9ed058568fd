//! Removes IP addresses from free text, so an error message or a blockpage title echoing the probe's own address
//! never reaches storage or an export.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{Measurement, MeasurementResult};

/// What stands in for a scrubbed address.
pub const SCRUBBED: &str = "[scrubbed]";

/// Replaces every IPv4 and IPv6 address in `text` with [`SCRUBBED`]. Borrows when there is nothing to replace.
pub fn scrub_ip_addresses(text: &str) -> Cow<'_, str> {
    replace_addresses(text, |_| true)
}

/// Replaces each address in `text` for which `pick` says yes with [`SCRUBBED`]; borrows when none is picked.
pub(crate) fn replace_addresses(text: &str, mut pick: impl FnMut(IpAddr) -> bool) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut copied_to = 0;
    for_each_address(text, |start, end, addr| {
        if pick(addr) {
            let buf = out.get_or_insert_with(|| String::with_capacity(text.len()));
            buf.push_str(&text[copied_to..start]);
            buf.push_str(SCRUBBED);
            copied_to = end;
        }
        false
    });
    match out {
        None => Cow::Borrowed(text),
        Some(mut buf) => {
            buf.push_str(&text[copied_to..]);
            Cow::Owned(buf)
        }
    }
}

/// Calls `visit(start, end, address)` for every address written in `text`, in order, until it returns true;
/// returns whether it did.
pub(crate) fn for_each_address(text: &str, mut visit: impl FnMut(usize, usize, IpAddr) -> bool) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !is_address_char(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_address_char(bytes[i]) {
            i += 1;
        }
        if let Some((from, to, addr)) = address_within(&text[start..i])
            && visit(start + from, start + to, addr)
        {
            return true;
        }
    }
    false
}

fn is_address_char(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b'.' || b == b':'
}

/// Finds an address in a run of hex digits, dots and colons; returns its byte span within the run and the address.
fn address_within(run: &str) -> Option<(usize, usize, IpAddr)> {
    let trimmed_end = run.trim_end_matches(['.', ':']).len();
    let candidate = &run[..trimmed_end];
    // Hex alone (ids, digests) is never an address: the common case in JSON, answered without parsing.
    if !candidate.contains(['.', ':']) {
        return None;
    }
    if candidate.matches(':').count() >= 2
        && let Ok(v6) = candidate.parse::<Ipv6Addr>()
    {
        return Some((0, trimmed_end, IpAddr::V6(v6)));
    }
    if let Ok(v4) = candidate.parse::<Ipv4Addr>() {
        return Some((0, trimmed_end, IpAddr::V4(v4)));
    }
    // "1.2.3.4:443" or "[2001:db8::1]:443" leave a port glued on: try without the last ":…" part.
    if let Some(colon) = candidate.rfind(':') {
        let head = &candidate[..colon];
        if let Ok(v4) = head.parse::<Ipv4Addr>() {
            return Some((0, colon, IpAddr::V4(v4)));
        }
        if head.matches(':').count() >= 2
            && let Ok(v6) = head.parse::<Ipv6Addr>()
        {
            return Some((0, colon, IpAddr::V6(v6)));
        }
    }
    // An IPv4 address behind other dotted text, e.g. "host.1.2.3.4": take the last four labels.
    if candidate.matches('.').count() > 3 {
        // The start of the last four labels.
        let start = candidate.rmatch_indices('.').nth(3).map_or(0, |(i, _)| i + 1);
        if let Ok(v4) = candidate[start..].parse::<Ipv4Addr>() {
            return Some((start, candidate.len(), IpAddr::V4(v4)));
        }
    }
    None
}

impl Measurement {
    /// Scrubs IP addresses from every free-text field: `error_detail`, and for HTTP the title, header values and
    /// the SNI and QUIC tests' `error_detail`.
    pub fn scrub_free_text(&mut self) {
        scrub_field(self.result.error_detail_mut());
        if let MeasurementResult::Http(http) = &mut self.result {
            scrub_field(&mut http.title);
            if let Some(sni) = &mut http.sni {
                scrub_field(&mut sni.error_detail);
            }
            if let Some(quic) = &mut http.quic {
                scrub_field(&mut quic.error_detail);
            }
            for value in http.headers.values_mut() {
                if let Cow::Owned(clean) = scrub_ip_addresses(value) {
                    *value = clean;
                }
            }
        }
    }
}

fn scrub_field(field: &mut Option<String>) {
    if let Some(text) = field
        && let Cow::Owned(clean) = scrub_ip_addresses(text)
    {
        *text = clean;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_is_scrubbed_and_its_port_kept() {
        assert_eq!(
            scrub_ip_addresses("connect to 10.1.2.3:443 failed; peer 192.168.0.1."),
            "connect to [scrubbed]:443 failed; peer [scrubbed]."
        );
    }

    #[test]
    fn ipv6_forms_are_scrubbed() {
        assert_eq!(scrub_ip_addresses("from 2001:db8::1 ok"), "from [scrubbed] ok");
        assert_eq!(scrub_ip_addresses("[2001:db8::42]:443 reset"), "[[scrubbed]]:443 reset");
        assert_eq!(scrub_ip_addresses("::ffff:1.2.3.4"), "[scrubbed]");
    }

    #[test]
    fn text_without_addresses_is_borrowed_unchanged() {
        for text in ["timeout after 10:00:00", "deadbeef cafe", "version 1.2.3", "a.b.c", ""] {
            assert!(
                matches!(scrub_ip_addresses(text), Cow::Borrowed(t) if t == text),
                "{text}"
            );
        }
    }

    #[test]
    fn address_glued_to_a_host_label_is_scrubbed() {
        assert_eq!(scrub_ip_addresses("ec2.5.6.7.8 down"), "ec2.[scrubbed] down");
    }
}

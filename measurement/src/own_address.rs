//! The probe's own addresses, kept out of what it sends (DESIGN.md §2: "the probe never sends its own IP
//! address"). Free text is scrubbed of every address already ([`crate::scrub_ip_addresses`]); structured fields
//! keep other hosts' addresses, which are the evidence, and lose only the probe's own: a trace hop where the home
//! router answered from its public address, a DNS answer naming the probe's address ("what is my IP" services),
//! a redirect or target that carries it. The collector checks every batch for the address it sees the probe
//! connect from ([`mentions_address`]) and refuses the batch, naming the address, so the probe learns it.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::scrub::{for_each_address, replace_addresses};
use crate::{Measurement, MeasurementResult};

/// Whether `text` writes `address` anywhere: as an address (IPv4-mapped IPv6 forms count as the IPv4 address),
/// or an IPv4 address the way ISPs' host names write it (`c-10-88-2-2.example.net`).
pub fn mentions_address(text: &str, address: IpAddr) -> bool {
    let wanted = address.to_canonical();
    for_each_address(text, |_, _, found| found.to_canonical() == wanted)
        || matches!(wanted, IpAddr::V4(v4) if !dashed_spans(text, v4).is_empty())
}

/// Where `text` writes `v4` with dashes between its octets (`10-88-2-2`), not inside a longer number.
fn dashed_spans(text: &str, v4: Ipv4Addr) -> Vec<(usize, usize)> {
    let needle = v4.octets().map(|o| o.to_string()).join("-");
    let bytes = text.as_bytes();
    text.match_indices(&needle)
        .map(|(start, _)| (start, start + needle.len()))
        .filter(|&(start, end)| {
            let before = start.checked_sub(1).map(|i| bytes[i]);
            !before.is_some_and(|b| b.is_ascii_digit()) && !bytes.get(end).is_some_and(u8::is_ascii_digit)
        })
        .collect()
}

/// What stands in for the probe's own address where a field must hold an address: the unspecified address of
/// the same family.
fn unspecified_like(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

impl Measurement {
    /// Removes the probe's `own` addresses from every field: text fields get [`crate::SCRUBBED`] in place of
    /// the address, a trace hop that answered from one keeps its TTL and round trip but loses the address (and
    /// is marked local), a target address becomes the unspecified address, an HTTP `server_ip` is dropped.
    /// Returns whether anything changed.
    pub fn withhold_addresses(&mut self, own: &[IpAddr]) -> bool {
        if own.is_empty() {
            return false;
        }
        let own: Vec<IpAddr> = own.iter().map(IpAddr::to_canonical).collect();
        let is_own = |a: IpAddr| own.contains(&a.to_canonical());
        let mut changed = false;
        let own_v4: Vec<Ipv4Addr> = own
            .iter()
            .filter_map(|a| match a {
                IpAddr::V4(v4) => Some(*v4),
                IpAddr::V6(_) => None,
            })
            .collect();
        let mut text = |field: &mut String| changed |= withhold_in_text(field, &is_own, &own_v4);
        text(&mut self.target.name);
        if let Some(list) = &mut self.target.list {
            text(list);
        }
        if let Some(detail) = self.result.error_detail_mut().as_mut() {
            text(detail);
        }
        match &mut self.result {
            MeasurementResult::Dns(dns) => {
                text(&mut dns.query);
                text(&mut dns.resolver);
                for answer in &mut dns.answers {
                    text(&mut answer.data);
                }
                for field in [&mut dns.fingerprint, &mut dns.injection_reason].into_iter().flatten() {
                    text(field);
                }
            }
            MeasurementResult::Http(http) => {
                text(&mut http.url);
                for url in &mut http.redirects {
                    text(url);
                }
                for value in http.headers.values_mut() {
                    text(value);
                }
                for field in [&mut http.title, &mut http.fingerprint].into_iter().flatten() {
                    text(field);
                }
                if http.server_ip.is_some_and(is_own) {
                    http.server_ip = None;
                    changed = true;
                }
            }
            MeasurementResult::Tcp(tcp) => {
                if is_own(tcp.ip) {
                    tcp.ip = unspecified_like(tcp.ip);
                    changed = true;
                }
            }
            MeasurementResult::Icmp(icmp) => {
                if is_own(icmp.ip) {
                    icmp.ip = unspecified_like(icmp.ip);
                    changed = true;
                }
            }
            MeasurementResult::Trace(trace) => {
                if is_own(trace.ip) {
                    trace.ip = unspecified_like(trace.ip);
                    changed = true;
                }
                for hop in &mut trace.hops {
                    if hop.ip.is_some_and(is_own) {
                        hop.ip = None;
                        hop.local = Some(true);
                        changed = true;
                    }
                }
            }
            MeasurementResult::Vitals(_) => {}
        }
        changed
    }
}

/// Replaces the own addresses in one text field, in both written forms; returns whether it changed.
fn withhold_in_text(field: &mut String, is_own: &impl Fn(IpAddr) -> bool, own_v4: &[Ipv4Addr]) -> bool {
    let mut changed = false;
    if let Cow::Owned(clean) = replace_addresses(field, is_own) {
        *field = clean;
        changed = true;
    }
    for v4 in own_v4 {
        let spans = dashed_spans(field, *v4);
        // Right to left, so earlier spans keep their offsets.
        for (start, end) in spans.into_iter().rev() {
            field.replace_range(start..end, crate::SCRUBBED);
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 88, 2, 2));

    fn line(kind_and_result: &str) -> Measurement {
        let text = format!(
            r#"{{"schema":1,"id":"0192f3c4-7a1e-7cc0-9a7b-3f1d2e4c5b6a","started_at":"2026-11-23T10:00:00Z",
            "duration_ms":1.0,"target":{{"name":"whoami.example","scope":"international"}},{kind_and_result}}}"#
        );
        Measurement::from_json_slice(text.as_bytes()).expect("a test line")
    }

    #[test]
    fn mentions_finds_the_address_in_any_written_form_and_nothing_else() {
        assert!(mentions_address(r#"{"ip":"10.88.2.2"}"#, OWN));
        assert!(mentions_address("http://x/?from=10.88.2.2&y=1", OWN));
        assert!(mentions_address("peer ::ffff:10.88.2.2 said", OWN));
        assert!(mentions_address("10.88.2.2:443", OWN));
        assert!(!mentions_address("10.88.2.22 and 110.88.2.2 and 10.88.2.2.5.6", OWN));
        assert!(!mentions_address("", OWN));
        assert!(mentions_address("host c-10-88-2-2.hsd1.example.net", OWN));
        assert!(mentions_address("10-88-2-2", OWN));
        assert!(!mentions_address("110-88-2-2 and 10-88-2-22 and 2026-11-30", OWN));
        let v6: IpAddr = "2001:db8::7".parse().expect("v6");
        assert!(mentions_address("answer 2001:0db8:0:0::7", v6));
        assert!(!mentions_address("answer 2001:db8::70", v6));
    }

    #[test]
    fn trace_hop_from_the_own_address_keeps_its_place_but_not_the_address() {
        let mut m = line(
            r#""kind":"trace","result":{"outcome":"ok","ip":"10.88.2.1","hops":[
              {"ttl":1,"ip":"10.88.2.2","rtt_ms":0.4},{"ttl":2,"ip":"10.88.2.1","rtt_ms":0.9}]}"#,
        );
        assert!(m.withhold_addresses(&[OWN]));
        let MeasurementResult::Trace(t) = &m.result else {
            panic!("trace")
        };
        assert_eq!(t.hops[0].ip, None);
        assert_eq!(t.hops[0].rtt_ms, Some(0.4));
        assert_eq!(t.hops[0].local, Some(true));
        assert_eq!(t.hops[1].ip, Some("10.88.2.1".parse().expect("ip")));
        assert!(!mentions_address(&m.to_json_line(), OWN));
        assert!(!m.withhold_addresses(&[OWN]), "a second pass changes nothing");
    }

    #[test]
    fn dns_answer_and_http_fields_lose_only_the_own_address() {
        let mut dns = line(
            r#""kind":"dns","result":{"outcome":"ok","query":"whoami.example","qtype":"A",
              "resolver":"udp://10.88.2.1:53","answers":[{"rtype":"A","data":"10.88.2.2"},{"rtype":"A","data":"10.9.9.9"}]}"#,
        );
        assert!(dns.withhold_addresses(&[OWN]));
        let MeasurementResult::Dns(d) = &dns.result else {
            panic!("dns")
        };
        assert_eq!(d.answers[0].data, crate::SCRUBBED);
        assert_eq!(d.answers[1].data, "10.9.9.9");
        assert_eq!(d.resolver, "udp://10.88.2.1:53");

        let mut http = line(
            r#""kind":"http","result":{"outcome":"ok","url":"http://echo.example/","status":200,
              "redirects":["http://echo.example/landing?client=10.88.2.2"],"server_ip":"10.88.2.1",
              "headers":{"x-client":"10.88.2.2"}}"#,
        );
        assert!(http.withhold_addresses(&["::ffff:10.88.2.2".parse().expect("mapped")]));
        let mut named = line(
            r#""kind":"http","result":{"outcome":"ok","url":"http://echo.example/","status":200,
              "title":"You are c-10-88-2-2.isp.example, not 10-88-2-20"}"#,
        );
        assert!(named.withhold_addresses(&[OWN]));
        let MeasurementResult::Http(h) = &named.result else {
            panic!("http")
        };
        assert_eq!(
            h.title.as_deref(),
            Some("You are c-[scrubbed].isp.example, not 10-88-2-20")
        );
        let text = http.to_json_line();
        assert!(!mentions_address(&text, OWN), "{text}");
        assert!(text.contains("10.88.2.1"), "other hosts' addresses stay: {text}");
    }

    #[test]
    fn a_target_that_is_the_own_address_becomes_unspecified() {
        let mut m = line(r#""kind":"tcp","result":{"outcome":"refused","ip":"10.88.2.2","port":81}"#);
        assert!(m.withhold_addresses(&[OWN]));
        let MeasurementResult::Tcp(t) = &m.result else {
            panic!("tcp")
        };
        assert_eq!(t.ip, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert!(
            !line(r#""kind":"tcp","result":{"outcome":"ok","ip":"10.1.1.1","port":81}"#).withhold_addresses(&[OWN])
        );
    }
}

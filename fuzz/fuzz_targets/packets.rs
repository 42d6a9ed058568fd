//! The probe's packet parsers (IPv4 header split, ICMP, TCP): raw-socket replies from the network are hostile
//! input, so any bytes must parse or be refused without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_probe::{parse_icmp, parse_tcp, split_ipv4};

fuzz_target!(|data: &[u8]| {
    let _ = parse_icmp(data);
    let _ = parse_tcp(data);
    if let Some((_header, payload)) = split_ipv4(data) {
        if let Some(message) = parse_icmp(payload) {
            let _ = format!("{message:?}");
        }
        if let Some(segment) = parse_tcp(payload) {
            let _ = (segment.is_syn_ack(), segment.is_rst());
        }
    }
});

//! The probe's packet parsers (IPv4 header split, ICMP, TCP): raw-socket replies from the network are hostile
//! input, so any bytes must parse or be refused without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_probe::packet::{icmp, ipv4, tcp};

fuzz_target!(|data: &[u8]| {
    let _ = icmp::parse(data);
    let _ = tcp::parse(data);
    if let Some((_header, payload)) = ipv4::split(data) {
        if let Some(message) = icmp::parse(payload) {
            let _ = format!("{message:?}");
        }
        if let Some(segment) = tcp::parse(payload) {
            let _ = (segment.is_syn_ack(), segment.is_rst());
        }
    }
});

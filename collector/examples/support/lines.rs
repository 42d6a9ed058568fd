//! The benchmark's measurement lines, shared by the load generator (`ingest_load`) and the yardstick (`yardstick`):
//! the five kinds in turn, each a real schema-1 line with a fresh UUIDv7 and a synced clock.

use std::io::Write;

use chrono::{SecondsFormat, Utc};
use uuid::Uuid;

/// `lines` NDJSON measurement lines, newline-terminated.
pub fn build_batch(lines: usize) -> Vec<u8> {
    let kinds = [
        (
            "dns",
            r#"{"outcome":"ok","query":"example.org","qtype":"A","resolver":"udp://192.0.2.53:53","answers":[{"type":"A","data":"192.0.2.1","ttl":60}],"rcode":"NOERROR"}"#,
        ),
        (
            "http",
            r#"{"outcome":"ok","url":"https://example.org/","status":200,"body_length":1256,"title":"Example Domain","tls_version":"TLSv1.3"}"#,
        ),
        (
            "tcp",
            r#"{"outcome":"ok","ip":"192.0.2.1","port":443,"method":"connect","rtt_ms":12.4}"#,
        ),
        (
            "icmp",
            r#"{"outcome":"ok","ip":"192.0.2.1","sent":3,"received":3,"rtt_min_ms":11.2,"rtt_avg_ms":12.0,"rtt_max_ms":13.1}"#,
        ),
        (
            "vitals",
            r#"{"outcome":"ok","boot_id":"4f3c9a52-2b1e-4c66-9d3e-0a1b2c3d4e5f","uptime_s":86400,"power":{"ac_online":true,"on_battery":false,"battery_pct":null},"gateway_reachable":true,"link_up":true,"last_gasp":false,"spool_depth":0}"#,
        ),
    ];
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut body = Vec::with_capacity(lines * 400);
    for i in 0..lines {
        let (kind, result) = kinds[i % kinds.len()];
        writeln!(
            body,
            r#"{{"schema":1,"id":"{}","kind":"{kind}","started_at":"{now}","duration_ms":12.5,"target":{{"name":"example.org","scope":"international","list":"anchors"}},"network":{{"asn":44244,"cc":"IR"}},"clock":{{"synced":true,"boot_id":"4f3c9a52-2b1e-4c66-9d3e-0a1b2c3d4e5f","mono_ms":{}}},"result":{result}}}"#,
            Uuid::now_v7(),
            1_000_000 + i
        )
        .expect("in-memory write");
    }
    body
}

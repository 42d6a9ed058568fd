//! A small country's data as the lab produces it, loaded through HTTP ingest and classified: XL has three ISPs
//! in two regions (fixed and mobile probes, one on a UPS) and censors one news site (DNS injection and an HTTP
//! blockpage); a national cut is first seen as silence, then the probes upload what they spooled (domestic
//! anchors answered, international did not) and the next run revises it into a shutdown. XF, abroad, stays up.
//! The data runs up to the present minute, so the censorship is ongoing.

use chrono::{DateTime, Duration, DurationRound, Utc};
use vigil_collector::ClassifierSettings;
use vigil_collector::DisruptionEvent;
use vigil_collector::classify_window;
use vigil_collector::register_probe;
use vigil_collector::{AccessType, ProbeProfile};

use super::TestCollector;

/// Bucket length of the data, seconds.
pub const BUCKET: i64 = 60;
/// Buckets of data.
pub const WINDOW: i64 = 110;
/// The national cut, in buckets.
pub const CUT: std::ops::Range<i64> = 40..70;
/// The UPS probe runs on battery in these buckets (its mains failed; the network did not).
pub const ON_BATTERY: std::ops::Range<i64> = 80..90;
/// The censored site.
pub const BLOCKED: &str = "news.example";

/// What was loaded.
pub struct LoadedCountry {
    /// Start of bucket 0.
    pub t0: DateTime<Utc>,
    /// End of the last bucket.
    pub to: DateTime<Utc>,
    /// The events of the last classification run.
    pub events: Vec<DisruptionEvent>,
    /// Lines stored.
    pub lines: usize,
}

struct Probe {
    country: &'static str,
    asn: u32,
    region: &'static str,
    access: AccessType,
    ups: bool,
}

fn probes() -> Vec<Probe> {
    let mut out = Vec::new();
    for asn in [64501, 64502, 64503] {
        for region in ["north", "south"] {
            out.push(Probe {
                country: "XL",
                asn,
                region,
                access: AccessType::Fixed,
                ups: asn == 64501 && region == "north",
            });
        }
    }
    for asn in [64502, 64503] {
        out.push(Probe {
            country: "XL",
            asn,
            region: "north",
            access: AccessType::Mobile,
            ups: false,
        });
    }
    for _ in 0..3 {
        out.push(Probe {
            country: "XF",
            asn: 64510,
            region: "capital",
            access: AccessType::Fixed,
            ups: false,
        });
    }
    out
}

fn line(kind: &str, at: DateTime<Utc>, name: &str, scope: &str, list: &str, result: &str) -> String {
    format!(
        r#"{{"schema":1,"id":"{}","kind":"{kind}","started_at":"{}","duration_ms":5,"target":{{"name":"{name}","scope":"{scope}","list":"{list}"}},"result":{result}}}"#,
        uuid::Uuid::now_v7(),
        at.to_rfc3339()
    )
}

/// One probe's lines for one bucket.
fn bucket_lines(p: &Probe, bucket: i64, at: DateTime<Utc>) -> Vec<String> {
    let cut = p.country == "XL" && CUT.contains(&bucket);
    let battery = p.ups && ON_BATTERY.contains(&bucket);
    let vitals = format!(
        r#"{{"outcome":"ok","boot_id":"boot-1","uptime_s":{},"power":{{"ac_online":{},"on_battery":{battery},"battery_pct":{}}},"gateway_reachable":true,"link_up":true,"last_gasp":false,"spool_depth":0}}"#,
        1000 + bucket * BUCKET,
        !battery,
        if battery { "80.0" } else { "null" },
    );
    let tcp = |ok: bool, ms: f64| {
        if ok {
            format!(r#"{{"outcome":"ok","ip":"10.20.0.1","port":443,"rtt_ms":{ms}}}"#)
        } else {
            r#"{"outcome":"timeout","ip":"10.20.0.1","port":443}"#.to_owned()
        }
    };
    let mut out = vec![
        line("vitals", at, "self", "local", "self", &vitals),
        line("tcp", at, "anchor-dom", "domestic", "anchors", &tcp(true, 8.0)),
        line("tcp", at, "anchor-intl", "international", "anchors", &tcp(!cut, 80.0)),
    ];
    if p.country == "XL" && !cut {
        out.push(line(
            "dns",
            at,
            BLOCKED,
            "international",
            "citizenlab-global",
            &format!(
                r#"{{"outcome":"dns_injected","query":"{BLOCKED}","qtype":"A","resolver":"udp://10.0.0.53:53","answers":[{{"type":"A","data":"10.10.34.34","ttl":60}}],"rcode":"NOERROR","fingerprint":"dns.xl.10_10_34_34","injection_reason":"fingerprint"}}"#
            ),
        ));
        out.push(line(
            "http",
            at,
            &format!("https://{BLOCKED}/"),
            "international",
            "citizenlab-global",
            &format!(
                r#"{{"outcome":"blockpage","url":"https://{BLOCKED}/","status":403,"redirects":[],"headers":{{"server":"nginx"}},"body_length":512,"title":"Access denied","fingerprint":"xl_blockpage","failure_stage":null}}"#
            ),
        ));
    }
    out
}

fn body(lines: impl Iterator<Item = String>) -> Vec<u8> {
    lines.map(|l| l + "\n").collect::<String>().into_bytes()
}

/// Registers the probes, uploads live data (nothing from XL during the cut), classifies, uploads what XL's
/// probes spooled during the cut, and classifies again.
pub async fn load(c: &TestCollector) -> LoadedCountry {
    let t0 = (Utc::now() - Duration::seconds(WINDOW * BUCKET))
        .duration_trunc(Duration::minutes(1))
        .expect("trunc");
    let at = |b: i64| t0 + Duration::seconds(b * BUCKET + 5);
    let probes = probes();
    let mut tokens = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        let issued = register_probe(
            c.store.as_ref(),
            ProbeProfile {
                name: format!("volunteer-{i}"),
                country: p.country.to_owned(),
                asn: p.asn,
                region: Some(p.region.to_owned()),
                access: p.access,
                ups: p.ups,
            },
        )
        .await
        .expect("register");
        tokens.push(issued.token);
    }
    let mut lines = 0;
    let settings = ClassifierSettings::default();
    let to = t0 + Duration::seconds(WINDOW * BUCKET);
    for (p, token) in probes.iter().zip(&tokens) {
        let live: Vec<String> = (0..WINDOW)
            .filter(|b| p.country != "XL" || !CUT.contains(b))
            .flat_map(|b| bucket_lines(p, b, at(b)))
            .collect();
        lines += live.len();
        let a = c.post(Some(token), None, body(live.into_iter())).await;
        assert_eq!(a.status, 200, "{:?}", a.json);
    }
    classify_window(c.store.as_ref(), t0, to, BUCKET, &settings)
        .await
        .expect("first run");
    for (p, token) in probes.iter().zip(&tokens).filter(|(p, _)| p.country == "XL") {
        let spooled: Vec<String> = CUT.flat_map(|b| bucket_lines(p, b, at(b))).collect();
        lines += spooled.len();
        let a = c.post(Some(token), None, body(spooled.into_iter())).await;
        assert_eq!(a.status, 200, "{:?}", a.json);
    }
    let report = classify_window(c.store.as_ref(), t0, to, BUCKET, &settings)
        .await
        .expect("second run");
    LoadedCountry {
        t0,
        to,
        events: report.events,
        lines,
    }
}

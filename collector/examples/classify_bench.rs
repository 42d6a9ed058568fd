//! Classifier benchmark for BENCHMARKS.md: 10,000 probes × 288 five-minute buckets (one day; vitals and 4 anchor
//! results per probe per bucket), with a cut in one ASN and a regional blackout inside. Reports the batch run
//! over the day and the incremental run (the last 24 buckets, as `serve` does each bucket).
//!
//! `cargo run --release -p vigil-collector --example classify_bench -- [PROBES=10000] [BUCKETS=288]`

use std::collections::BTreeMap;
use std::time::Instant;

use vigil_collector::AccessType;
use vigil_collector::{BucketSummary, Tally, VitalsSummary};
use vigil_collector::{ClassifierInput, ClassifierSettings, ProbeInfo, classify};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let probes_n: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let buckets: i64 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(288);
    let start = 20_000_000i64;
    let probes: Vec<ProbeInfo> = (0..probes_n)
        .map(|i| ProbeInfo {
            probe_id: format!("p{i:05}"),
            country: if i % 10 == 0 { "VE".to_owned() } else { "IR".to_owned() },
            asn: 1000 + (i % 20) as u32,
            region: Some(format!("r{}", i % 12)),
            access: if i % 3 == 0 {
                AccessType::Mobile
            } else {
                AccessType::Fixed
            },
            ups: i % 17 == 0,
            last_seen: None,
            held_since: None,
            network_country: None,
        })
        .collect();
    let built = Instant::now();
    let mut observed: BTreeMap<String, BTreeMap<i64, BucketSummary>> = BTreeMap::new();
    for (i, p) in probes.iter().enumerate() {
        let mut per = BTreeMap::new();
        for b in 0..buckets {
            let cut = p.asn == 1003 && (100..130).contains(&b);
            let dark = p.region.as_deref() == Some("r7") && (200..220).contains(&b);
            if dark || (i * 7 + b as usize).is_multiple_of(997) {
                continue;
            }
            per.insert(
                start + b,
                BucketSummary {
                    vitals: Some(VitalsSummary {
                        boot_id: if p.region.as_deref() == Some("r7") && b >= 220 {
                            "b2".to_owned()
                        } else {
                            "b1".to_owned()
                        },
                        on_battery: false,
                        gateway_reachable: true,
                        link_up: true,
                        last_gasp: false,
                    }),
                    domestic: Tally { ok: 2, total: 2 },
                    international: Tally {
                        ok: if cut { 0 } else { 2 },
                        total: 2,
                    },
                    blocked: BTreeMap::new(),
                    fingerprints: BTreeMap::new(),
                    international_throughput: Vec::new(),
                    international_rtt: Vec::new(),
                    ..BucketSummary::default()
                },
            );
        }
        observed.insert(p.probe_id.clone(), per);
    }
    let input = ClassifierInput {
        bucket_secs: 300,
        buckets: start..start + buckets,
        probes,
        observed,
        presence: BTreeMap::new(),
    };
    println!("input built in {:.2} s", built.elapsed().as_secs_f64());
    let settings = ClassifierSettings::default();
    let t = Instant::now();
    let events = classify(&input, &settings);
    let batch = t.elapsed().as_secs_f64();
    let mut classes: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &events {
        *classes.entry(e.class.as_str()).or_default() += 1;
    }
    let recent = ClassifierInput {
        buckets: start + buckets - 24..start + buckets,
        ..input.clone()
    };
    let t = Instant::now();
    let _ = classify(&recent, &settings);
    let incremental = t.elapsed().as_secs_f64();
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned())
        })
        .unwrap_or_default();
    println!(
        "probes={probes_n} buckets={buckets} batch_seconds={batch:.2} incremental_24_buckets_ms={:.0} events={} classes={classes:?} peak_rss_kib={rss}",
        incremental * 1000.0,
        events.len()
    );
}

//! Fills a store with a day of measurements for `bench/classify_store.sh`: PROBES probes (20 ASNs, 12 regions,
//! two countries, a third mobile, some on a UPS), each reporting every 5-minute bucket its vitals and two
//! domestic and two international anchor checks (TCP with a round trip); one ASN is cut off abroad for 30 buckets
//! and one region is dark for 20 and comes back rebooted. Written through the store's own batch writer, so the
//! rows are exactly what ingest stores.
//!
//! `cargo run --release -p vigil-collector --example fill_store -- STORE PROBES BUCKETS START_RFC3339`

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;
use vigil_collector::IngestBatch;
use vigil_collector::{AccessType, ProbeProfile};
use vigil_collector::{StoreSpec, open_store, register_probe};
use vigil_measurement::result::{Power, TcpResult, VitalsResult};
use vigil_measurement::{Measurement, MeasurementResult, Outcome, SCHEMA_VERSION, Scope, Target};

const BUCKET_SECS: i64 = 300;

fn measurement(at: DateTime<Utc>, target: Target, result: MeasurementResult) -> Measurement {
    Measurement {
        schema: SCHEMA_VERSION,
        id: Uuid::now_v7(),
        started_at: at,
        duration_ms: 5.0,
        target,
        network: None,
        clock: None,
        uplink: None,
        result,
    }
}

fn tcp(ok: bool, rtt: f64) -> MeasurementResult {
    MeasurementResult::Tcp(TcpResult {
        outcome: if ok { Outcome::Ok } else { Outcome::Timeout },
        ip: "192.0.2.1".parse().expect("ip"),
        port: 443,
        method: None,
        reply: None,
        reply_ttl: None,
        reply_ip_id: None,
        injected_rst: None,
        rtt_ms: ok.then_some(rtt),
        error_detail: None,
    })
}

fn bucket(at: DateTime<Utc>, boot: &str, international_ok: bool) -> Vec<Measurement> {
    let vitals = MeasurementResult::Vitals(VitalsResult {
        outcome: Outcome::Ok,
        boot_id: boot.to_owned(),
        uptime_s: 1000.0,
        power: Power {
            ac_online: Some(true),
            on_battery: Some(false),
            battery_pct: None,
        },
        gateway_reachable: true,
        link_up: true,
        last_gasp: false,
        spool_depth: 0,
        seq: None,
        gateway_rtt_ms: None,
        error_detail: None,
    });
    let anchor = |name: &str, scope| Target {
        name: name.to_owned(),
        scope,
        list: Some("anchors".to_owned()),
    };
    vec![
        measurement(
            at,
            Target {
                name: "self".to_owned(),
                scope: Scope::Local,
                list: None,
            },
            vitals,
        ),
        measurement(at, anchor("dom-1", Scope::Domestic), tcp(true, 8.0)),
        measurement(at, anchor("dom-2", Scope::Domestic), tcp(true, 9.0)),
        measurement(at, anchor("intl-1", Scope::International), tcp(international_ok, 80.0)),
        measurement(at, anchor("intl-2", Scope::International), tcp(international_ok, 95.0)),
    ]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let spec: StoreSpec = args.get(1).map(String::as_str).unwrap_or("sqlite:fill.db").parse()?;
    let probes: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let buckets: i64 = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(288);
    let start: DateTime<Utc> = match args.get(4) {
        Some(t) => t.parse()?,
        None => Utc::now() - Duration::seconds(buckets * BUCKET_SECS),
    };
    let store = open_store(&spec).await?;
    let began = Instant::now();
    let mut written = 0u64;
    let mut pending = Vec::new();
    for i in 0..probes {
        let region = format!("r{}", i % 12);
        let asn = 1000 + (i % 20) as u32;
        let issued = register_probe(
            store.as_ref(),
            ProbeProfile {
                name: format!("bench-{i}"),
                country: if i % 10 == 0 { "VE" } else { "IR" }.to_owned(),
                asn,
                region: Some(region.clone()),
                access: if i % 3 == 0 {
                    AccessType::Mobile
                } else {
                    AccessType::Fixed
                },
                ups: i % 17 == 0,
            },
        )
        .await?;
        let mut measurements = Vec::new();
        for b in 0..buckets {
            let cut = asn == 1003 && (100..130).contains(&b);
            let dark = region == "r7" && (200..220).contains(&b);
            if dark {
                continue;
            }
            let boot = if region == "r7" && b >= 220 { "b2" } else { "b1" };
            let at = start + Duration::seconds(b * BUCKET_SECS + 17);
            measurements.extend(bucket(at, boot, !cut));
        }
        pending.push(IngestBatch::new(issued.probe, Utc::now(), measurements, None));
        if pending.len() == 8 {
            for outcome in store.write_batches(std::mem::take(&mut pending)).await? {
                written += outcome.accepted;
            }
        }
    }
    for outcome in store.write_batches(pending).await? {
        written += outcome.accepted;
    }
    let secs = began.elapsed().as_secs_f64();
    println!(
        "filled {written} measurements for {probes} probes x {buckets} buckets in {secs:.1} s ({:.0}/s); window {} to {}",
        written as f64 / secs,
        start.to_rfc3339(),
        (start + Duration::seconds(buckets * BUCKET_SECS)).to_rfc3339()
    );
    Ok(())
}

//! Uploads over a probe's registered line that arrive from another network than the registered one
//! (`Arrival::off_network`, issue 24): the registry, which every network scope is built on, is out of date — the
//! probe moved, or its line changed hands. Each such batch is counted (`vigil_batches_off_network_total`, by the
//! registered country and network) and each probe and network is said once in the log, for the operator to
//! re-register the probe; `vigil-collector probe arrivals` lists them.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::metrics::CollectorMetrics;
use crate::store::IngestBatch;

/// One batch's mismatch: who, where it is registered, where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffNetwork {
    probe_id: String,
    country: String,
    registered: u32,
    arrived: u32,
}

impl OffNetwork {
    /// The mismatch `batch` shows, if any.
    pub fn of(batch: &IngestBatch) -> Option<Self> {
        let profile = &batch.probe.profile;
        let arrived = batch.arrival.off_network(batch.carrier_access(), profile)?;
        Some(OffNetwork {
            probe_id: batch.probe.probe_id.clone(),
            country: profile.country.clone(),
            registered: profile.asn,
            arrived,
        })
    }
}

/// The probes and networks already said in the log (bounded by the registry: one entry per probe and network).
#[derive(Debug, Default)]
pub struct OffNetworkLog {
    said: Mutex<HashSet<(String, u32)>>,
}

impl OffNetworkLog {
    /// Counts a stored batch's mismatch and says it in the log the first time for its probe and network.
    pub fn report(&self, mismatch: OffNetwork, metrics: &CollectorMetrics) {
        metrics
            .batches_off_network
            .with_label_values(&[mismatch.country.as_str(), mismatch.registered.to_string().as_str()])
            .inc();
        let first = self
            .said
            .lock()
            .map(|mut said| said.insert((mismatch.probe_id.clone(), mismatch.arrived)))
            .unwrap_or(true);
        if first {
            tracing::warn!(
                probe = %mismatch.probe_id,
                registered = format!("AS{}", mismatch.registered),
                arrived = format!("AS{}", mismatch.arrived),
                "uploads over the probe's registered line arrive from another network than the registered one: \
                 its network scopes are built on the registration, re-register it if it moved"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::model::{AccessType, ProbeProfile, ProbeRecord};
    use crate::store::Arrival;

    fn batch(carrier: Option<&str>, declared: Option<&str>, asn: Option<u32>) -> IngestBatch {
        let probe = ProbeRecord {
            probe_id: "prb-1".to_owned(),
            profile: ProbeProfile {
                name: "home".to_owned(),
                country: "IR".to_owned(),
                asn: 44244,
                region: None,
                access: AccessType::Fixed,
                ups: false,
            },
            created_at: Utc::now(),
            revoked_at: None,
            last_seen: None,
            public_key: None,
        };
        let mut line = serde_json::json!({
            "schema": 1,
            "id": "0192f5c0-0000-7000-8000-000000000001",
            "kind": "tcp",
            "started_at": "2026-12-05T00:00:00.000Z",
            "duration_ms": 5,
            "target": {"name": "example.org", "scope": "international", "list": "anchors"},
            "result": {"outcome": "ok", "ip": "192.0.2.1", "port": 443}
        });
        if let (Some(name), Some(access)) = (carrier, declared) {
            line["uplink"] = serde_json::json!({"name": name, "access": access});
        }
        let measurement = serde_json::from_value(line).expect("a measurement");
        IngestBatch::new(probe, Utc::now(), vec![measurement], None).arriving(Arrival {
            carrier: carrier.map(str::to_owned),
            asn,
            network_country: None,
        })
    }

    #[test]
    fn only_the_registered_line_arriving_from_another_network_is_a_mismatch() {
        let mismatch = |carrier, declared, asn| OffNetwork::of(&batch(carrier, declared, asn)).map(|m| m.arrived);
        // The registered line: no carrier, or a carrier of the registered access.
        assert_eq!(mismatch(None, None, Some(64501)), Some(64501));
        assert_eq!(mismatch(Some("wan"), Some("fixed"), Some(64501)), Some(64501));
        assert_eq!(mismatch(None, None, Some(44244)), None, "its own network");
        assert_eq!(mismatch(None, None, None), None, "no table, nothing known");
        // Another path: a dish's network is its operator's, and a carrier whose access nothing declared is not
        // judged.
        assert_eq!(mismatch(Some("sat"), Some("satellite"), Some(14593)), None);
        assert_eq!(mismatch(Some("sat"), None, Some(14593)), None);
    }

    #[test]
    fn each_mismatch_is_counted_and_said_once_per_probe_and_network() {
        let metrics = CollectorMetrics::new(false).expect("metrics");
        let log = OffNetworkLog::default();
        for _ in 0..3 {
            let mismatch = OffNetwork::of(&batch(None, None, Some(64501))).expect("a mismatch");
            log.report(mismatch, &metrics);
        }
        assert_eq!(metrics.batches_off_network.with_label_values(&["IR", "44244"]).get(), 3);
        let said = log.said.lock().expect("not poisoned");
        assert_eq!(*said, HashSet::from([("prb-1".to_owned(), 64501)]));
    }
}

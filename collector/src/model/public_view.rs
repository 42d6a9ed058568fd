//! What the public may see of the probe network (DESIGN.md §3, the volunteers' safety): pseudonymous ids and
//! coarse placement only — no operator label, no token material, no address (the collector never stores one) —
//! and no region that fewer than [`MIN_REGION_PROBES`] probes share. The API, the status page and the exports all
//! apply this one rule.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::probe::ProbeRecord;

/// One probe as the public sees it.
#[derive(Debug, Serialize)]
pub struct PublicProbe {
    /// Pseudonymous id.
    pub probe_id: String,
    /// Country.
    pub country: String,
    /// Autonomous system number.
    pub asn: u32,
    /// Region, if registered.
    pub region: Option<String>,
    /// Access type.
    pub access: &'static str,
    /// Whether the probe's token is live.
    pub active: bool,
    /// Last accepted upload, RFC 3339 UTC.
    pub last_seen: Option<String>,
}

impl From<&ProbeRecord> for PublicProbe {
    fn from(p: &ProbeRecord) -> Self {
        PublicProbe {
            probe_id: p.probe_id.clone(),
            country: p.profile.country.clone(),
            asn: p.profile.asn,
            region: p.profile.region.clone(),
            access: p.profile.access.as_str(),
            active: p.is_active(),
            last_seen: p.last_seen.map(rfc3339),
        }
    }
}

/// RFC 3339 UTC with a `Z`, to the millisecond.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Probes sharing a region before a public view names it (as exports do): a lone volunteer is not singled out.
pub const MIN_REGION_PROBES: usize = 3;

/// The public view of the whole registry, regions shared by fewer than [`MIN_REGION_PROBES`] probes unnamed.
pub fn public_list(probes: &[ProbeRecord]) -> Vec<PublicProbe> {
    let mut regions = public_regions(probes, MIN_REGION_PROBES);
    probes
        .iter()
        .map(|p| PublicProbe {
            region: regions.remove(&p.probe_id).flatten(),
            ..PublicProbe::from(p)
        })
        .collect()
}

/// Each probe's region as public views show it: `None` when fewer than `k` probes share the region.
pub fn public_regions(probes: &[ProbeRecord], k: usize) -> HashMap<String, Option<String>> {
    let mut per_region: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for p in probes {
        if let Some(r) = &p.profile.region {
            *per_region.entry((p.profile.country.as_str(), r.as_str())).or_default() += 1;
        }
    }
    probes
        .iter()
        .map(|p| {
            let region = p.profile.region.clone().filter(|r| {
                per_region
                    .get(&(p.profile.country.as_str(), r.as_str()))
                    .is_some_and(|n| *n >= k)
            });
            (p.probe_id.clone(), region)
        })
        .collect()
}

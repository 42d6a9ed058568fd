//! `GET /api/v1/probes`: the public view of the probe network. Pseudonymous ids and coarse placement only: no
//! operator label, no token material, (by construction: the collector never stores them) no IP address, and no
//! region that fewer than three probes share.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::AppState;
use super::error::ApiError;
use crate::model::ProbeRecord;

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
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Probes sharing a region before a public view names it (as exports do): a lone volunteer is not singled out.
pub const MIN_REGION_PROBES: usize = 3;

/// The public view of the whole registry, regions shared by fewer than [`MIN_REGION_PROBES`] probes unnamed.
pub fn public_list(probes: &[ProbeRecord]) -> Vec<PublicProbe> {
    let mut regions = crate::export::public_regions(probes, MIN_REGION_PROBES);
    probes
        .iter()
        .map(|p| PublicProbe {
            region: regions.remove(&p.probe_id).flatten(),
            ..PublicProbe::from(p)
        })
        .collect()
}

pub(super) async fn list_probes(State(state): State<AppState>) -> Result<Json<Vec<PublicProbe>>, ApiError> {
    let probes = state
        .store
        .probes()
        .await
        .map_err(|e| ApiError::from_store(&e, state.ingest.retry_after_secs))?;
    Ok(Json(public_list(&probes)))
}

//! `GET /api/v1/probes`: the public view of the probe network. Pseudonymous ids and coarse placement only: no
//! operator label, no token material, (by construction: the collector never stores them) no IP address, and no
//! region that fewer than three probes share.

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::error::ApiError;
use crate::model::{PublicProbe, public_list};

pub(super) async fn list_probes(State(state): State<AppState>) -> Result<Json<Vec<PublicProbe>>, ApiError> {
    let probes = state
        .store
        .probes()
        .await
        .map_err(|e| ApiError::from_store(&e, state.ingest.retry_after_secs))?;
    Ok(Json(public_list(&probes)))
}

//! Probe registration: draws a pseudonymous id and a token, stores the token's hash, hands the token out once.

use chrono::Utc;
use vigil_measurement::signature::PublicKey;

use crate::model::{ProbeProfile, ProbeRecord};
use crate::store::{NewProbe, Store, StoreError};
use crate::token::{RandomnessError, hash_token, new_probe_id, new_token};

/// A registration that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A field is out of form.
    #[error("{field}: {reason}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// No randomness for the token.
    #[error(transparent)]
    Randomness(#[from] RandomnessError),
    /// No probe has this id.
    #[error("no probe with id {0}")]
    UnknownProbe(String),
    /// The probe has another key already and replacing it was not asked for.
    #[error("{probe_id} already has key {key}; pass --replace to change it")]
    HasOtherKey {
        /// The probe.
        probe_id: String,
        /// The key it has.
        key: PublicKey,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`set_key`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyChange {
    /// The probe had this key already: nothing changed.
    Unchanged,
    /// The key is recorded (the probe had none, or another that `replace` allowed to go).
    Recorded,
}

/// Records a probe's batch-signing key. A probe's key is never replaced silently: one that has another key keeps
/// it unless `replace` says so (a stolen admin shell should not quietly re-key a probe).
pub async fn set_key(
    store: &dyn Store,
    probe_id: &str,
    key: PublicKey,
    replace: bool,
) -> Result<KeyChange, RegistryError> {
    let probes = store.probes().await?;
    let probe = probes
        .iter()
        .find(|p| p.probe_id == probe_id)
        .ok_or_else(|| RegistryError::UnknownProbe(probe_id.to_owned()))?;
    match probe.public_key {
        Some(old) if old == key => return Ok(KeyChange::Unchanged),
        Some(old) if !replace => {
            return Err(RegistryError::HasOtherKey {
                probe_id: probe_id.to_owned(),
                key: old,
            });
        }
        _ => {}
    }
    if !store.set_probe_key(probe_id, key).await? {
        return Err(RegistryError::UnknownProbe(probe_id.to_owned()));
    }
    Ok(KeyChange::Recorded)
}

/// A registered probe and its token, which exists only here: the store keeps its hash.
#[derive(Debug)]
pub struct IssuedProbe {
    /// The stored record.
    pub probe: ProbeRecord,
    /// The bearer token to give the volunteer.
    pub token: String,
}

/// Registers a probe without a signing key (country case-insensitive, text trimmed), retrying on the
/// (astronomically unlikely) collision of a random id.
pub async fn register_probe(store: &dyn Store, reg: ProbeProfile) -> Result<IssuedProbe, RegistryError> {
    register_probe_with_key(store, reg, None).await
}

/// Registers a probe, with its batch-signing key when given: every upload of a probe registered with a key
/// must then carry a valid signature.
pub async fn register_probe_with_key(
    store: &dyn Store,
    reg: ProbeProfile,
    public_key: Option<PublicKey>,
) -> Result<IssuedProbe, RegistryError> {
    let country = reg.country.trim().to_ascii_uppercase();
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(RegistryError::Invalid {
            field: "country",
            reason: "must be an ISO 3166-1 alpha-2 code such as IR",
        });
    }
    if reg.asn == 0 {
        return Err(RegistryError::Invalid {
            field: "asn",
            reason: "must be a real AS number (not 0)",
        });
    }
    let name = reg.name.trim().to_owned();
    if name.is_empty() || name.len() > 128 {
        return Err(RegistryError::Invalid {
            field: "name",
            reason: "must be 1 to 128 bytes",
        });
    }
    let region = reg.region.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if region.as_ref().is_some_and(|r| r.len() > 128) {
        return Err(RegistryError::Invalid {
            field: "region",
            reason: "must be at most 128 bytes",
        });
    }
    let profile = ProbeProfile {
        name,
        country,
        region,
        ..reg
    };
    let mut attempts = 0;
    loop {
        let token = new_token()?;
        let new = NewProbe {
            probe_id: new_probe_id()?,
            profile: profile.clone(),
            token_hash: hash_token(&token),
            public_key,
            created_at: Utc::now(),
        };
        match store.register_probe(new).await {
            Ok(probe) => return Ok(IssuedProbe { probe, token }),
            Err(StoreError::Conflict(_)) if attempts < 3 => attempts += 1,
            Err(err) => return Err(err.into()),
        }
    }
}

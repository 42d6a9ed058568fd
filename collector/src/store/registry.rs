//! The probe registry: who may write, where each probe sits, and its signing key. Tokens are stored only as
//! hashes.

use chrono::{DateTime, Utc};
use vigil_measurement::signature::PublicKey;

use super::StoreError;
use crate::model::{ProbeProfile, ProbeRecord};

/// Registers probes and finds them by token.
#[async_trait::async_trait]
pub trait ProbeRegistry: Send + Sync {
    /// Registers a probe. The token itself is never passed in, only its hash.
    async fn register_probe(&self, probe: NewProbe) -> Result<ProbeRecord, StoreError>;

    /// Registers many probes at once (an import's pseudo-probes): all of them, or none and an error when one
    /// conflicts. Returns how many were registered.
    async fn register_probes(&self, probes: Vec<NewProbe>) -> Result<usize, StoreError>;

    /// The probe a token hash belongs to, revoked or not.
    async fn probe_by_token(&self, token: TokenHash) -> Result<Option<ProbeRecord>, StoreError>;

    /// Every registered probe, revoked ones included, ordered by id.
    async fn probes(&self) -> Result<Vec<ProbeRecord>, StoreError>;

    /// Replaces a probe's profile (name, country, ASN, region, access, UPS) — a pseudo-probe placed by a later
    /// import; its token, key and history stay. `false` when no such probe exists.
    async fn update_probe_profile(&self, probe_id: &str, profile: ProbeProfile) -> Result<bool, StoreError>;

    /// Revokes a probe's token; returns whether a live probe of that id existed.
    async fn revoke_probe(&self, probe_id: &str) -> Result<bool, StoreError>;

    /// Records (or replaces) a probe's batch-signing key; false when no probe has that id.
    async fn set_probe_key(&self, probe_id: &str, key: PublicKey) -> Result<bool, StoreError>;

    /// How each probe's uploads have arrived (written with the batches, `MeasurementStore::write_batches`), by
    /// probe, carrier and network.
    async fn probe_arrivals(&self) -> Result<Vec<ProbeArrival>, StoreError>;
}

/// How a probe's uploads arrived over one carrier from one network: never an address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProbeArrival {
    /// The probe.
    pub probe_id: String,
    /// The uplink that carried them (`Vigil-Uplink`), `None` for the probe's registered line.
    pub carrier: Option<String>,
    /// The network they arrived from (`[ingest] asn_table`); `None` when not known.
    pub asn: Option<u32>,
    /// The country that network is registered in, when the table placed it.
    pub network_country: Option<String>,
    /// The carrier's access, as its measurements declared it (`uplink.access`), when they did.
    pub access: Option<String>,
    /// The first batch's receipt.
    pub first_seen: DateTime<Utc>,
    /// The last batch's receipt.
    pub last_seen: DateTime<Utc>,
}

impl ProbeArrival {
    /// Whether these uploads came over the probe's registered line, of access `registered`
    /// ([`super::measurements::carried_by_line`]).
    pub fn on_line(&self, registered: crate::model::AccessType) -> bool {
        super::measurements::carried_by_line(self.carrier.as_deref(), self.access.as_deref(), registered)
    }

    /// The network these uploads arrived from when they came over the probe's registered line and it is not the
    /// one `profile` registers (the rule of [`super::Arrival::off_network`]).
    pub fn off_network(&self, profile: &crate::model::ProbeProfile) -> Option<u32> {
        let arrival = super::Arrival {
            carrier: self.carrier.clone(),
            asn: self.asn,
            network_country: None,
        };
        arrival.off_network(self.access.as_deref(), profile)
    }
}

/// SHA-256 of a probe token. Tokens carry 256 random bits, so a fast hash is enough to make a leaked store
/// useless for impersonation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({}…)", hex::encode(&self.0[..4]))
    }
}

/// A probe to register.
#[derive(Debug, Clone)]
pub struct NewProbe {
    /// Pseudonymous public id, e.g. `prb-3f9a1c0e7b2d`.
    pub probe_id: String,
    /// Label and placement.
    pub profile: ProbeProfile,
    /// Hash of the token handed to the volunteer.
    pub token_hash: TokenHash,
    /// The probe's batch-signing key, when registered with one: every upload must then be signed by it.
    pub public_key: Option<PublicKey>,
    /// Registration time.
    pub created_at: DateTime<Utc>,
}

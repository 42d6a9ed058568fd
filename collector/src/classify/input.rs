//! What the classifier reads: the probe registry and, per probe and time bucket, a summary of what the probe
//! measured in that bucket (vitals, anchors by scope, targets that showed a blocking signature).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::model::{
    AccessType, Bucket, BucketSummary, Placed, Summaries, SummaryBuilder, bucket_range, split_timeline,
};

/// A probe as the classifier sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeInfo {
    /// Pseudonymous id.
    pub probe_id: String,
    /// Country.
    pub country: String,
    /// Autonomous system.
    pub asn: u32,
    /// Region, if registered.
    pub region: Option<String>,
    /// Access type.
    pub access: AccessType,
    /// Runs on a UPS (a power cut need not silence it or reboot it).
    pub ups: bool,
    /// Its last upload (epoch seconds), from the registry: a probe silent since before a window is still
    /// expected in it for a while.
    pub last_seen: Option<i64>,
    /// In the scope of an outage saved and still open, from this time (epoch seconds: the outage's start):
    /// expected from then on however long ago it was heard, so a shutdown that
    /// lasts a week (Iran 2019) or years (Tigray) does not end when its probes stop being expected (issue 23,
    /// case 6).
    pub held_since: Option<i64>,
    /// The country the network its uploads arrive from is registered in (`[ingest] asn_table`), when known: a
    /// satellite operator registered abroad carries the probe's path past the border, not through it
    /// (`other_paths::beyond_the_border`).
    pub network_country: Option<String>,
}

/// Everything one classification run looks at.
#[derive(Debug, Clone, Default)]
pub struct ClassifierInput {
    /// Bucket length in seconds.
    pub bucket_secs: i64,
    /// First and one-past-last bucket of the window.
    pub buckets: std::ops::Range<Bucket>,
    /// The probes.
    pub probes: Vec<ProbeInfo>,
    /// Per probe id, per bucket: what it measured. Missing buckets are silence.
    pub observed: BTreeMap<String, BTreeMap<Bucket, BucketSummary>>,
    /// Presence-only probes (third-party connection logs), by probe id: their state in each bucket of the
    /// window. A probe listed here is judged by its presence alone.
    pub presence: BTreeMap<String, super::presence::ProbePresence>,
}

/// The networks the probes' other uplinks arrived from, by timeline id (`model::other_timeline`): read from the
/// uploads each uplink carried (`[ingest] asn_table`, `ProbeRegistry::probe_arrivals`), never from an address.
pub type OtherPathNetworks = BTreeMap<String, u32>;

/// The probes, then the timelines of their uplinks of another access seen in `observed` (issue 24,
/// `model::timeline_id`): each in its probe's country and region, with the access its uplink declared, the
/// network its uploads arrived from when `networks` knows it (AS 0, no known network, otherwise), and held by no
/// saved outage (it is judged apart from the terrestrial scopes).
pub fn with_other_paths(
    mut probes: Vec<ProbeInfo>,
    observed: &Summaries,
    networks: &OtherPathNetworks,
) -> Vec<ProbeInfo> {
    let registered: BTreeMap<String, ProbeInfo> = probes.iter().map(|p| (p.probe_id.clone(), p.clone())).collect();
    for timeline in observed.keys() {
        let (probe, Some(access)) = split_timeline(timeline) else {
            continue;
        };
        if let Some(p) = registered.get(probe) {
            probes.push(ProbeInfo {
                probe_id: timeline.clone(),
                asn: networks.get(timeline).copied().unwrap_or(0),
                access,
                held_since: None,
                network_country: None,
                ..p.clone()
            });
        }
    }
    probes
}

/// Builds the input for buckets `[from, to)` of `bucket_secs` seconds.
pub fn build_input<'a>(
    probes: Vec<ProbeInfo>,
    placed: impl IntoIterator<Item = Placed<'a>>,
    bucket_secs: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ClassifierInput {
    let mut builder = SummaryBuilder::new(bucket_secs, from, to);
    for p in placed {
        builder.add(p);
    }
    let observed = builder.finish();
    ClassifierInput {
        bucket_secs: bucket_secs.max(1),
        buckets: bucket_range(bucket_secs, from, to),
        probes: with_other_paths(probes, &observed, &OtherPathNetworks::new()),
        observed,
        presence: BTreeMap::new(),
    }
}

//! What one probe measured in one time bucket: the classifier's, the timeline's and the stores' common unit.

use std::collections::{BTreeMap, BTreeSet};

/// Bucket index: `floor(effective start time / bucket length)`.
pub type Bucket = i64;

/// The last vitals a probe reported in a bucket.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VitalsSummary {
    /// Boot id.
    pub boot_id: String,
    /// Running on battery.
    pub on_battery: bool,
    /// Gateway answered.
    pub gateway_reachable: bool,
    /// Link has carrier.
    pub link_up: bool,
    /// The probe expected to go dark.
    pub last_gasp: bool,
}

/// Successes and attempts of anchor checks on one side of the border.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    /// Checks that succeeded.
    pub ok: u32,
    /// Checks made.
    pub total: u32,
}

impl Tally {
    /// Adds one check.
    pub fn add(&mut self, ok: bool) {
        self.total += 1;
        self.ok += u32::from(ok);
    }

    /// Success ratio, `None` with no checks.
    pub fn ratio(self) -> Option<f64> {
        (self.total > 0).then(|| f64::from(self.ok) / f64::from(self.total))
    }
}

/// How a target was blocked, as DESIGN.md §3 names the methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockingMethod {
    /// Injected DNS answer.
    Dns,
    /// Known blockpage.
    HttpBlockpage,
    /// Reset after the handshake or an injected RST.
    TcpReset,
    /// TLS failure.
    Tls,
    /// A filter on the TLS server name: the probe's SNI test had a control name's handshake answered by the
    /// address the target's was not.
    Sni,
    /// QUIC blocked: the site loaded over TCP and TLS, and its HTTP/3 (which it announced) did not even complete a
    /// QUIC handshake over the same path in the same check — a censor dropping UDP to port 443 or the QUIC Initial
    /// naming the site.
    Quic,
    /// No connection to the target's address: the connect timed out, was refused or met an ICMP unreachable —
    /// a network dropping or rejecting traffic to the address (OONI's `tcp_ip` blocking). A server that is down
    /// fails the same way, so it is only ever confirmed by a control (the last method: any signature beside it in
    /// a bucket says more).
    IpBlock,
}

impl BlockingMethod {
    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            BlockingMethod::Dns => "dns",
            BlockingMethod::HttpBlockpage => "http_blockpage",
            BlockingMethod::TcpReset => "tcp_reset",
            BlockingMethod::Tls => "tls",
            BlockingMethod::Sni => "sni",
            BlockingMethod::Quic => "quic",
            BlockingMethod::IpBlock => "ip_block",
        }
    }

    /// The method an API name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "dns" => Some(BlockingMethod::Dns),
            "http_blockpage" => Some(BlockingMethod::HttpBlockpage),
            "tcp_reset" => Some(BlockingMethod::TcpReset),
            "tls" => Some(BlockingMethod::Tls),
            "sni" => Some(BlockingMethod::Sni),
            "quic" => Some(BlockingMethod::Quic),
            "ip_block" => Some(BlockingMethod::IpBlock),
            _ => None,
        }
    }
}

/// What one probe measured in one bucket.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BucketSummary {
    /// Last vitals of the bucket.
    pub vitals: Option<VitalsSummary>,
    /// Anchors inside the country.
    pub domestic: Tally,
    /// Anchors abroad.
    pub international: Tally,
    /// Targets that showed a blocking signature, by name.
    pub blocked: BTreeMap<String, BlockingMethod>,
    /// Per blocked target, the names of the blocking fingerprints it matched.
    pub fingerprints: BTreeMap<String, BTreeSet<String>>,
    /// Test-list targets a fetch loaded without any blocking signature: the control measurements that tell a
    /// censor's block in one network from a site failing for everyone (an expired certificate, an origin down).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub reached: BTreeSet<String>,
    /// International anchors (by target name) at least one check of which succeeded in the bucket.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub international_reached: BTreeSet<String>,
    /// International anchors (by target name) at least one check of which failed in the bucket. An anchor here
    /// and not in `international_reached` was unreachable: what an allowlist leaves of a cut is one anchor
    /// answering while the others do not (issue 23, case 2).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub international_failed: BTreeSet<String>,
    /// Where traces to international anchors that did not arrive died ([`crate::model::path_end`]): the last
    /// answering hops beyond the probe's own network, by address, or `home`. Paths of several networks dying at
    /// one address died at a border they share; each network's at its own, inside it (issue 23, case 8).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub path_ends: BTreeSet<String>,
    /// Body throughput of international anchors (bytes/s), every sample (medians are taken when read, so the
    /// order of arrival cannot matter).
    pub international_throughput: Vec<f64>,
    /// Round trips to international anchors (ms), every sample.
    pub international_rtt: Vec<f64>,
}

impl BucketSummary {
    /// International anchors every check of which failed in the bucket.
    pub fn international_unreached(&self) -> impl Iterator<Item = &String> {
        self.international_failed
            .iter()
            .filter(|t| !self.international_reached.contains(*t))
    }

    /// Records a target seen blocked: the lowest method seen in the bucket wins (order-independent), and every
    /// fingerprint it matched is kept.
    pub fn note_blocked(&mut self, target: &str, method: BlockingMethod, fingerprint: Option<&str>) {
        self.blocked
            .entry(target.to_owned())
            .and_modify(|seen| *seen = (*seen).min(method))
            .or_insert(method);
        if let Some(name) = fingerprint.filter(|n| !n.is_empty()) {
            self.fingerprints
                .entry(target.to_owned())
                .or_default()
                .insert(name.to_owned());
        }
    }
}

/// The median of samples, `None` when there are none.
pub fn median(samples: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    })
}

//! The state of one probe in one bucket, from what it measured then (and its boot id before).

use crate::model::BucketSummary;

/// A probe's state in a bucket (DESIGN.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeState {
    /// Reached the world.
    Online,
    /// Gateway and domestic targets answer, international ones do not (a national intranet).
    IsolatedInternational,
    /// Gateway answers, nothing beyond it does.
    IsolatedAll,
    /// The gateway does not answer, or the link is down.
    LanDown,
    /// Reporting, on battery power.
    OnBattery,
    /// No data for this bucket (yet).
    Silent,
    /// Back with a new boot id.
    RebootedOnReturn,
    /// Reporting, but most anchor checks fail while some answer.
    Degraded,
}

impl ProbeState {
    /// Whether the probe counts as out of service for the correlated-failure test.
    pub fn is_down(self) -> bool {
        matches!(
            self,
            ProbeState::Silent | ProbeState::IsolatedInternational | ProbeState::IsolatedAll | ProbeState::LanDown
        )
    }

    /// The state's name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeState::Online => "online",
            ProbeState::IsolatedInternational => "isolated_international",
            ProbeState::IsolatedAll => "isolated_all",
            ProbeState::LanDown => "lan_down",
            ProbeState::OnBattery => "on_battery",
            ProbeState::Silent => "silent",
            ProbeState::RebootedOnReturn => "rebooted",
            ProbeState::Degraded => "degraded",
        }
    }
}

/// Whether a bucket could be a leak through a cut: link and gateway up where reported, and some international
/// check failing, even if another passed.
pub(crate) fn leak_through_a_cut(s: &BucketSummary) -> bool {
    let home_fine = s.vitals.as_ref().is_none_or(|v| v.link_up && v.gateway_reachable);
    home_fine && s.international.ok < s.international.total
}

/// Whether a bucket says nothing about how far the probe reached: it ran no anchor check and loaded no site. A
/// probe whose test-list checks time out one after another through a cut can spend a whole bucket on them (the
/// lab's eight-second buckets; a slow Raspberry Pi with a long list in production), and a probe may send vitals
/// alone. Such a bucket is not evidence that the probe was back online.
pub(crate) fn reach_unmeasured(s: &BucketSummary) -> bool {
    s.domestic.total == 0 && s.international.total == 0 && s.reached.is_empty()
}

/// The state of a bucket; `previous_boot` is the boot id last seen before it.
pub fn bucket_state(summary: Option<&BucketSummary>, previous_boot: Option<&str>) -> ProbeState {
    let Some(s) = summary else {
        return ProbeState::Silent;
    };
    if let Some(v) = &s.vitals
        && (!v.link_up || !v.gateway_reachable)
    {
        return ProbeState::LanDown;
    }
    let international = s.international.ratio();
    let domestic = s.domestic.ratio();
    let path_state = match (international, domestic) {
        (Some(i), Some(d)) if i == 0.0 && d > 0.0 => Some(ProbeState::IsolatedInternational),
        (Some(i), d) if i == 0.0 && d.is_none_or(|d| d == 0.0) => Some(ProbeState::IsolatedAll),
        (Some(i), _) if i < 0.5 => Some(ProbeState::Degraded),
        _ => None,
    };
    if let Some(state) = path_state {
        return state;
    }
    if let Some(v) = &s.vitals {
        if previous_boot.is_some_and(|b| b != v.boot_id) {
            return ProbeState::RebootedOnReturn;
        }
        if v.on_battery {
            return ProbeState::OnBattery;
        }
    }
    ProbeState::Online
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::model::{Tally, VitalsSummary};

    /// A bucket with vitals (link up; `gateway` as given) and these anchor tallies.
    pub(in crate::classify) fn summary(
        domestic: (u32, u32),
        international: (u32, u32),
        gateway: bool,
        boot: &str,
    ) -> BucketSummary {
        BucketSummary {
            vitals: Some(VitalsSummary {
                boot_id: boot.to_owned(),
                on_battery: false,
                gateway_reachable: gateway,
                link_up: true,
                last_gasp: false,
            }),
            domestic: Tally {
                ok: domestic.0,
                total: domestic.1,
            },
            international: Tally {
                ok: international.0,
                total: international.1,
            },
            blocked: Default::default(),
            fingerprints: Default::default(),
            reached: Default::default(),
            international_reached: Default::default(),
            international_failed: Default::default(),
            path_ends: Default::default(),
            international_throughput: Vec::new(),
            international_rtt: Vec::new(),
        }
    }

    #[test]
    fn states_follow_the_evidence() {
        assert_eq!(bucket_state(None, None), ProbeState::Silent);
        assert_eq!(
            bucket_state(Some(&summary((2, 2), (2, 2), true, "b")), Some("b")),
            ProbeState::Online
        );
        assert_eq!(
            bucket_state(Some(&summary((2, 2), (0, 2), true, "b")), Some("b")),
            ProbeState::IsolatedInternational
        );
        assert_eq!(
            bucket_state(Some(&summary((0, 2), (0, 2), true, "b")), Some("b")),
            ProbeState::IsolatedAll
        );
        assert_eq!(
            bucket_state(Some(&summary((2, 2), (2, 2), false, "b")), Some("b")),
            ProbeState::LanDown
        );
        assert_eq!(
            bucket_state(Some(&summary((2, 2), (2, 2), true, "new")), Some("old")),
            ProbeState::RebootedOnReturn
        );
        assert_eq!(
            bucket_state(Some(&summary((2, 2), (1, 4), true, "b")), Some("b")),
            ProbeState::Degraded
        );
        assert!(ProbeState::IsolatedAll.is_down() && !ProbeState::OnBattery.is_down());
    }
}

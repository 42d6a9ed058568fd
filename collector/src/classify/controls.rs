//! Which international anchors worked from where, bucket by bucket: the control that tells a cut leaking through
//! an allowlist (one anchor answering, the others not) from an anchor that is down for everyone (issue 23,
//! case 2: Iran's 2025 shutdown let ~0.02 % of addresses through; CLASSIFICATION.md F4 reads a cut as
//! international success "≤ 0.2", not zero).

use std::collections::{BTreeMap, BTreeSet};

use super::ClassifierInput;
use crate::model::BucketSummary;

/// Per bucket of the window, per international anchor (its target name), the countries from which a probe
/// reached it.
#[derive(Debug, Default)]
pub(crate) struct AnchorControls<'a> {
    reached: Vec<BTreeMap<&'a str, BTreeSet<&'a str>>>,
}

impl<'a> AnchorControls<'a> {
    /// The controls of a window.
    pub(crate) fn of(input: &'a ClassifierInput) -> Self {
        let n = usize::try_from(input.buckets.end - input.buckets.start).unwrap_or(0);
        let mut reached: Vec<BTreeMap<&str, BTreeSet<&str>>> = vec![BTreeMap::new(); n];
        for probe in &input.probes {
            let Some(observed) = input.observed.get(&probe.probe_id) else {
                continue;
            };
            for (bucket, summary) in observed {
                let Some(t) = usize::try_from(bucket - input.buckets.start).ok().filter(|&t| t < n) else {
                    continue;
                };
                for anchor in &summary.international_reached {
                    reached[t]
                        .entry(anchor.as_str())
                        .or_default()
                        .insert(probe.country.as_str());
                }
            }
        }
        AnchorControls { reached }
    }

    /// Whether a probe outside `country` reached `anchor` in bucket `t`.
    fn works_outside(&self, t: usize, anchor: &str, country: &str) -> bool {
        self.reached
            .get(t)
            .and_then(|m| m.get(anchor))
            .is_some_and(|countries| countries.iter().any(|c| *c != country))
    }

    /// Whether a probe of `country` that reached some international anchor in bucket `t` was still cut off: its
    /// home was fine, at least half the international anchors it tried did not answer at all, and one of those
    /// answered probes in another country in that bucket — so the anchor was up and the path from here was cut,
    /// with what passed on an allowlist. An anchor down for everyone answers nobody elsewhere and never counts;
    /// with no probes elsewhere measuring the same anchor, a leak stays unseen rather than guessed.
    pub(crate) fn cut_with_a_leak(&self, t: usize, country: &str, s: &BucketSummary) -> bool {
        let home_fine = s.vitals.as_ref().is_none_or(|v| v.link_up && v.gateway_reachable);
        if !home_fine || s.international.ok == 0 {
            return false;
        }
        let tried = s.international_reached.union(&s.international_failed).count();
        let unreached: Vec<&String> = s.international_unreached().collect();
        !unreached.is_empty()
            && 2 * unreached.len() >= tried
            && unreached.iter().any(|a| self.works_outside(t, a, country))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::ProbeInfo;
    use crate::model::{AccessType, Tally};

    fn probe(id: &str, country: &str) -> ProbeInfo {
        ProbeInfo {
            probe_id: id.to_owned(),
            country: country.to_owned(),
            asn: 64500,
            region: None,
            access: AccessType::Fixed,
            ups: false,
            last_seen: None,
            held_since: None,
            network_country: None,
        }
    }

    fn summary(reached: &[&str], failed: &[&str]) -> BucketSummary {
        BucketSummary {
            international: Tally {
                ok: u32::try_from(reached.len()).unwrap_or(0),
                total: u32::try_from(reached.len() + failed.len()).unwrap_or(0),
            },
            international_reached: reached.iter().map(|s| (*s).to_owned()).collect(),
            international_failed: failed.iter().map(|s| (*s).to_owned()).collect(),
            ..BucketSummary::default()
        }
    }

    #[test]
    fn an_allowlisted_anchor_does_not_hide_a_cut_when_the_blocked_one_works_from_abroad() {
        let mut input = ClassifierInput {
            bucket_secs: 60,
            buckets: 0..1,
            probes: vec![probe("home", "XL"), probe("abroad", "XF")],
            ..ClassifierInput::default()
        };
        let leaking = summary(&["a"], &["b"]);
        input
            .observed
            .insert("home".to_owned(), [(0, leaking.clone())].into_iter().collect());
        input
            .observed
            .insert("abroad".to_owned(), [(0, summary(&["b"], &[]))].into_iter().collect());
        let controls = AnchorControls::of(&input);
        assert!(controls.cut_with_a_leak(0, "XL", &leaking));
        // A probe abroad whose own anchors answer is not cut.
        assert!(!controls.cut_with_a_leak(0, "XF", &summary(&["b"], &[])));
        // Anchor b down for everyone: nobody elsewhere reached it, so it is no evidence of a cut.
        input
            .observed
            .insert("abroad".to_owned(), [(0, summary(&[], &["b"]))].into_iter().collect());
        assert!(!AnchorControls::of(&input).cut_with_a_leak(0, "XL", &leaking));
        // A flaky anchor (some checks passed) is reached, and one of three unreached is less than half.
        let controls = AnchorControls::of(&input);
        let flaky = BucketSummary {
            international_failed: ["a", "b"].iter().map(|s| (*s).to_owned()).collect(),
            ..summary(&["a", "b"], &[])
        };
        assert!(!controls.cut_with_a_leak(0, "XL", &flaky));
        assert!(!controls.cut_with_a_leak(0, "XL", &summary(&["a", "c"], &["b"])));
    }
}

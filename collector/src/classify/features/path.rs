//! Path evidence: domestic versus international anchors during the outage (a national intranet).

use super::OutageView;
use crate::classify::attribute::Feature;

/// The path features of an outage.
pub(super) fn features(v: &OutageView<'_, '_>) -> Vec<Feature> {
    let mut out = Vec::new();
    // Path: domestic versus international anchors during the outage.
    // Each probe's checks from the buckets it was itself down in (a probe back early in a staggered recovery
    // answers everything, which says nothing of the cut), from enough of the outage's probes to speak for it.
    let anchors = v.anchors_while_down();
    if !super::enough_witnesses(anchors.witnesses, v.participants.len()) {
        return out;
    }
    // An allowlist's leak, when there was one, is named: a reader sees why the probes still reached something.
    let leak = if anchors.leaked_buckets > 0 {
        format!(
            "; in {} probe-buckets one anchor answered while the others, reached from abroad, did not — an \
             allowlist's leak",
            anchors.leaked_buckets
        )
    } else {
        String::new()
    };
    if let (Some(d), Some(i)) = (anchors.domestic.ratio(), anchors.international.ratio()) {
        if d >= 0.7 && i <= 0.2 {
            out.push(Feature {
                family: "path",
                text: format!(
                    "domestic anchors answered ({:.0}% of checks), international anchors did not ({:.0}%): a \
                     national intranet{leak}",
                    d * 100.0,
                    i * 100.0
                ),
                // F4: +3 shutdown, −2 power, +2 cable cut (0 technical): network failure takes the cable cut's.
                points: [3, -2, 2],
                inside_cut: true,
            });
        } else if d <= 0.2 && i <= 0.2 {
            out.push(Feature {
                family: "path",
                text: format!("neither domestic nor international anchors answered{leak}"),
                points: [1, 1, 1],
                inside_cut: true,
            });
        }
    }
    out
}

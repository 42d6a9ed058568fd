//! Presence: events seen only through a third-party platform's connection log say so (no device or path evidence).

use super::OutageView;
use crate::classify::attribute::Feature;

/// The presence features of an outage.
pub(super) fn features(v: &OutageView<'_, '_>) -> Vec<Feature> {
    let mut out = Vec::new();
    if v.participants.iter().all(|&p| v.timelines[p].presence_only) {
        out.push(Feature {
            family: "presence",
            text: format!(
                "presence only: no device or path evidence ({} probes of a third-party platform disconnected from it \
                 together and stayed away)",
                v.participants.len()
            ),
            points: [0, 0, 0],
            inside_cut: false,
        });
    }
    out
}

//! Which timeline a measurement belongs to. A probe with one way out has one timeline, under its own id. A probe
//! with several uplinks (issue 24) has one per kind of access: measurements taken on an uplink of the access it
//! was registered with (or on no declared uplink) stay on the probe's own timeline, as registered; those taken on
//! an uplink of another access — a satellite dish beside a fixed line — form the timeline `PROBE/ACCESS`
//! (`prb-x/satellite`). A satellite path does not cross the national border, so its reachability must never be
//! read as the terrestrial network's: kept on one timeline, a dish's answers during a shutdown would make the probe
//! look connected.
//!
//! Probe ids never hold a `/` (`vigil-collector probe add` makes them), so a timeline id names its probe.

use std::borrow::Cow;

use vigil_measurement::{Uplink, UplinkAccess};

use super::AccessType;

/// Separates a probe's id from the access of one of its other timelines.
const TIMELINE_SEPARATOR: char = '/';

/// The access type an uplink declares.
fn uplink_access(uplink: &Uplink) -> AccessType {
    match uplink.access {
        UplinkAccess::Fixed => AccessType::Fixed,
        UplinkAccess::Mobile => AccessType::Mobile,
        UplinkAccess::Satellite => AccessType::Satellite,
    }
}

/// The timeline of a measurement by `probe_id` (registered with `registered` access) taken on `uplink`.
pub fn timeline_id<'a>(probe_id: &'a str, registered: AccessType, uplink: Option<&Uplink>) -> Cow<'a, str> {
    match uplink.map(uplink_access) {
        Some(access) if access != registered => Cow::Owned(other_timeline(probe_id, access)),
        _ => Cow::Borrowed(probe_id),
    }
}

/// The id of `probe_id`'s timeline of uplinks of `access` (another access than it was registered with).
pub fn other_timeline(probe_id: &str, access: AccessType) -> String {
    format!("{probe_id}{TIMELINE_SEPARATOR}{}", access.as_str())
}

/// A timeline id's probe and, for a probe's other timeline, its access.
pub fn split_timeline(timeline: &str) -> (&str, Option<AccessType>) {
    match timeline.split_once(TIMELINE_SEPARATOR) {
        Some((probe, access)) => (probe, AccessType::parse(access)),
        None => (timeline, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uplink(access: UplinkAccess) -> Uplink {
        Uplink {
            name: "x".to_owned(),
            access,
        }
    }

    #[test]
    fn only_an_uplink_of_another_access_has_a_timeline_of_its_own() {
        assert_eq!(timeline_id("prb-1", AccessType::Fixed, None), "prb-1");
        assert_eq!(
            timeline_id("prb-1", AccessType::Fixed, Some(&uplink(UplinkAccess::Fixed))),
            "prb-1"
        );
        let sat = timeline_id("prb-1", AccessType::Fixed, Some(&uplink(UplinkAccess::Satellite)));
        assert_eq!(sat, "prb-1/satellite");
        assert_eq!(split_timeline(&sat), ("prb-1", Some(AccessType::Satellite)));
        assert_eq!(split_timeline("prb-1"), ("prb-1", None));
        // A probe registered as satellite keeps its satellite uplink on its own timeline.
        assert_eq!(
            timeline_id("prb-2", AccessType::Satellite, Some(&uplink(UplinkAccess::Satellite))),
            "prb-2"
        );
    }
}

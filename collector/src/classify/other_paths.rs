//! Probes' uplinks of another access (issue 24): a dual-homed probe's satellite dish is the timeline
//! `PROBE/satellite` (`model::timeline_id`), judged as its own population, apart from every terrestrial scope — a
//! satellite path does not cross the national border, so its answers during a shutdown say nothing of the
//! terrestrial network, and its silence says nothing of a cut.
//!
//! What that population shows is then read against the terrestrial events ([`merge`]):
//! - its outage in a country and time where a terrestrial outage is under way is the same event seen from
//!   another path — dishes go dark with their region in a blackout (a cut cannot silence them, so it is
//!   evidence of power, CLASSIFICATION.md's device rows) — and is folded into the terrestrial event as evidence;
//! - its outage with no terrestrial outage beside it — dishes failing while the lines next to them work — is the
//!   satellite path's own fault (jamming, or the satellite network's), reported at the scope `access=satellite`
//!   of the country and never as a terrestrial verdict.

use crate::model::{AccessType, DisruptionEvent, EventClass, Evidence, split_timeline};

use super::ProbeInfo;

/// The one network every uplink of `access` in `scope`'s country (and region, when it has one) arrived from, when
/// they all did from the same known one (`input::with_other_paths`): a satellite operator's outage is then named.
fn one_network(probes: &[ProbeInfo], access: AccessType, scope: &crate::model::EventScope) -> Option<u32> {
    let mut networks = probes
        .iter()
        .filter(|p| is_other_path(p) && p.access == access)
        .filter(|p| scope.country.as_deref() == Some(p.country.as_str()))
        .filter(|p| scope.region.is_none() || scope.region == p.region)
        .map(|p| p.asn);
    let first = networks.next()?;
    (first != 0 && networks.all(|asn| asn == first)).then_some(first)
}

/// Whether a probe of the classifier's input is another uplink's timeline of a registered probe.
pub(crate) fn is_other_path(probe: &ProbeInfo) -> bool {
    split_timeline(&probe.probe_id).1.is_some()
}

/// The terrestrial events, with the outages of the other paths of one `access` folded into the terrestrial
/// outages they coincide with (as evidence) or added as outages of that access; the other paths' other events (a
/// probe's dish failing alone, censorship, throttling seen through it) follow at their own scope. `probes` are the
/// classifier's input's.
pub(super) fn merge(
    mut terrestrial: Vec<DisruptionEvent>,
    other: Vec<DisruptionEvent>,
    access: AccessType,
    probes: &[ProbeInfo],
) -> Vec<DisruptionEvent> {
    let access_type = access;
    let access = access.as_str();
    let mut own = Vec::new();
    for event in other {
        if event.class.lineage() != "outage" {
            own.push(event);
            continue;
        }
        let beside = terrestrial
            .iter_mut()
            .find(|t| t.class.lineage() == "outage" && t.scope.country == event.scope.country && overlaps(t, &event));
        match beside {
            Some(t) => t.evidence.push(Evidence {
                family: "device".to_owned(),
                text: format!(
                    "{} of the probes' {access} uplinks went dark with them (a cut at the border does not reach \
                     a {access} path: their silence is the devices' or their power's)",
                    event.affected_probes,
                ),
                points: 0,
            }),
            None => {
                let network = one_network(probes, access_type, &event.scope);
                own.push(as_path_failure(event, access, network));
            }
        }
    }
    terrestrial.extend(own);
    terrestrial.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
    terrestrial
}

fn overlaps(a: &DisruptionEvent, b: &DisruptionEvent) -> bool {
    let ends_after = |e: &DisruptionEvent, t: i64| e.ended_at.is_none_or(|end| end > t);
    ends_after(a, b.started_at) && ends_after(b, a.started_at)
}

/// An outage of the other paths alone: the satellite (or other) network's failure at its access scope. Its class
/// is a network failure whatever the population's own reading: no government cuts a satellite path at the
/// border, and the lines beside it had power. `network` is the one network all those paths arrived from, if any.
fn as_path_failure(mut event: DisruptionEvent, access: &str, network: Option<u32>) -> DisruptionEvent {
    event.class = EventClass::NetworkFailure;
    // The access scope of the country; a region the population's own reading found is kept beside it, and the
    // network they all arrived from.
    event.scope.level = "access".to_owned();
    event.scope.asn = network;
    event.scope.access = Some(access.to_owned());
    event.id = super::event_id(&[&event.id, "other-path", access]);
    let (on, whose) = match network {
        Some(asn) => (format!(" on AS{asn}"), format!("AS{asn}'s")),
        None => (String::new(), format!("the {access} network's")),
    };
    event.evidence.push(Evidence {
        family: "scope".to_owned(),
        text: format!(
            "only the probes' {access} uplinks{on} failed, while their terrestrial lines and power worked: jamming \
             or {whose} own fault, never a verdict on the terrestrial network"
        ),
        points: 0,
    });
    event
}

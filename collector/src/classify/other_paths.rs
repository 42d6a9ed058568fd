//! Paths beyond the border (issue 24, [`beyond_the_border`]): a dual-homed probe's satellite dish is the timeline
//! `PROBE/satellite` (`model::timeline_id`), and a satellite-only probe on an operator registered abroad is a probe
//! of its own; both are judged as one population per access, apart from every terrestrial scope — a path to a
//! ground station abroad does not cross the national border, so its answers during a shutdown say nothing of the
//! terrestrial network, and its silence says nothing of a cut.
//!
//! What that population shows is then read against the terrestrial events ([`merge`]):
//! - its outage in a country and time where a terrestrial outage is under way is the same event seen from
//!   another path — dishes go dark with their region in a blackout (a cut cannot silence them, so it is
//!   evidence of power, CLASSIFICATION.md's device rows) — and is folded into the terrestrial event as evidence;
//! - its outage with no terrestrial outage beside it — dishes failing while the lines next to them work — is the
//!   satellite path's own fault (jamming, or the satellite network's), reported at the scope `access=satellite`
//!   of the country and never as a terrestrial verdict.

use crate::model::{AccessType, ConfidenceLevel, DisruptionEvent, EventClass, Evidence, split_timeline};

use super::ProbeInfo;

/// The one network every uplink of `access` in `scope`'s country (and region, when it has one) arrived from, when
/// they all did from the same known one (`input::with_other_paths`): a satellite operator's outage is then named.
fn one_network(probes: &[ProbeInfo], access: AccessType, scope: &crate::model::EventScope) -> Option<u32> {
    let mut networks = probes
        .iter()
        .filter(|p| beyond_the_border(p) && p.access == access)
        .filter(|p| scope.country.as_deref() == Some(p.country.as_str()))
        .filter(|p| scope.region.is_none() || scope.region == p.region)
        .map(|p| p.asn);
    let first = networks.next()?;
    (first != 0 && networks.all(|asn| asn == first)).then_some(first)
}

/// The confidence of an outage of the other paths alone ([`as_path_failure`]).
const PATH_FAILURE_CONFIDENCE: f64 = 0.9;

/// Whether a probe of the classifier's input is another uplink's timeline of a registered probe.
pub(crate) fn is_other_path(probe: &ProbeInfo) -> bool {
    split_timeline(&probe.probe_id).1.is_some()
}

/// Whether a probe's path runs past the national border rather than through it, so that it is judged apart from
/// the terrestrial scopes: another uplink's timeline of a registered probe (a dish beside a line), or a probe on
/// satellite access whose network is registered in another country than the probe (`ProbeInfo::network_country`:
/// a foreign operator's ground stations are abroad, where no cut at this border reaches). A satellite probe whose
/// operator is domestic, or not known, is judged as a line: a domestic VSAT operator's gateway sits inside the
/// country, where a cut reaches it.
pub(crate) fn beyond_the_border(probe: &ProbeInfo) -> bool {
    is_other_path(probe)
        || (probe.access == AccessType::Satellite
            && probe.country != super::UNPLACED_COUNTRY
            && probe
                .network_country
                .as_deref()
                .is_some_and(|c| !c.eq_ignore_ascii_case(&probe.country)))
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
    let name = access.as_str();
    let mut own = Vec::new();
    for event in other {
        if event.class == EventClass::ProbeFault {
            // One uplink of a probe silent: when the probe itself is in a terrestrial event at the time (its own
            // fault, or an outage holding it), the uplink went silent with the device — the same event.
            let probe = event
                .scope
                .probe_id
                .as_deref()
                .map(|timeline| split_timeline(timeline).0);
            let registered = probes.iter().find(|p| Some(p.probe_id.as_str()) == probe);
            let holding = registered.and_then(|p| terrestrial.iter_mut().find(|t| overlaps(t, &event) && holds(t, p)));
            let text = if probe != event.scope.probe_id.as_deref() {
                format!(
                    "a probe's {name} uplink went silent with it (a cut at the border does not reach a {name} path: \
                     its silence is the device's or its power's)"
                )
            } else {
                format!(
                    "a {name}-only probe on an operator registered abroad went silent within it (a cut at the border \
                     does not reach its path: its silence is the device's or its power's)"
                )
            };
            match holding {
                Some(t) => t.evidence.push(Evidence {
                    family: "device".to_owned(),
                    text,
                    points: 0,
                }),
                None => own.push(event),
            }
            continue;
        }
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
                    "{} {name} paths beyond the border (the probes' {name} uplinks, or {name}-only probes on an \
                     operator abroad) went dark with them (a cut at the border does not reach a {name} path: their \
                     silence is the devices' or their power's)",
                    event.affected_probes,
                ),
                points: 0,
            }),
            None => {
                let network = one_network(probes, access, &event.scope);
                own.push(as_path_failure(event, name, network));
            }
        }
    }
    terrestrial.extend(own);
    terrestrial.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
    terrestrial
}

/// Whether a terrestrial event holds the registered probe `p`: its own probe fault, or an outage whose scope it
/// lies in.
fn holds(event: &DisruptionEvent, p: &ProbeInfo) -> bool {
    if event.class == EventClass::ProbeFault {
        return event.scope.probe_id.as_deref() == Some(p.probe_id.as_str());
    }
    event.class.lineage() == "outage"
        && event
            .scope
            .contains_place(&p.country, p.asn, p.region.as_deref(), p.access)
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
    // The population's own confidence is about its own reading (often `unknown`: a dish population has no border
    // to read); this class rests on where the failure is, and was right for every jammed region of the corpus
    // (seed 1: 58 of 58, 95 % interval 0.94–1.00). Medium, not high: the corpus draws one cause of it only.
    event.confidence = event.confidence.max(PATH_FAILURE_CONFIDENCE);
    event.confidence_level = event.confidence_level.max(ConfidenceLevel::Medium);
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
            "only the probes' {access} uplinks{on} failed, while the terrestrial lines beside them and power worked: \
             jamming or {whose} own fault, never a verdict on the terrestrial network"
        ),
        points: 0,
    });
    event
}

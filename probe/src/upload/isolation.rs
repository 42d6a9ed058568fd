//! The probe's own view of isolation, and what the uploader does while an uplink is isolated
//! (`[upload] during_isolation`).
//!
//! An uplink is *isolated* when its last cycle had its gateway answering and every international anchor failing
//! (ICMP, TCP and HTTP; a DNS answer proves nothing, since a national resolver answers during a cut) — a national
//! shutdown with or without an intranet, or an ISP's lost upstream: the probe cannot tell them apart and does not
//! try. A batch sent through such an uplink can only reach a domestic relay, inside the network being watched;
//! uploading through a censored network can draw attention to a volunteer. The agent judges each cycle
//! ([`judge`]) and records it in an [`IsolationState`] the uploader reads before each round.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use vigil_measurement::{Kind, Measurement, MeasurementResult, Outcome, Scope, Uplink, UplinkAccess};

pub use crate::config::DuringIsolation;

/// Which uplinks are isolated now (by name; `None` is the single, undeclared way out), each with whether it crosses
/// the national border. Shared by the agent, which writes it after each cycle, and the uploader, which reads it
/// before each round.
#[derive(Debug, Clone, Default)]
pub struct IsolationState(Arc<Mutex<BTreeMap<Option<String>, bool>>>);

/// Whether an uplink's path crosses the national border: a line or a mobile network does (a cut there is what
/// isolation means, and uploading through it is what may draw attention), a satellite dish does not. The single,
/// undeclared way out is taken to be a line.
pub fn crosses_border(uplink: Option<&Uplink>) -> bool {
    uplink.is_none_or(|u| u.access != UplinkAccess::Satellite)
}

impl IsolationState {
    /// Records whether `uplink` is isolated after its latest cycle; true when that changed.
    pub fn set(&self, uplink: Option<&Uplink>, isolated: bool) -> bool {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let key = uplink.map(|u| u.name.clone());
        if isolated {
            map.insert(key, crosses_border(uplink)).is_none()
        } else {
            map.remove(&key).is_some()
        }
    }

    /// Whether `uplink` is isolated.
    pub fn is_isolated(&self, uplink: Option<&str>) -> bool {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.contains_key(&uplink.map(str::to_owned))
    }

    /// Whether an uplink that crosses the border is isolated: the cut `during_isolation = "hold"` waits out. A
    /// jammed dish beside a working line is no reason to hold: the line is not cut.
    pub fn border_cut(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .any(|&crosses| crosses)
    }
}

/// Whether one uplink's cycle (its vitals and anchor measurements) shows it isolated: its gateway answered, at
/// least one international anchor was tried, and none answered.
pub fn judge(cycle: &[Measurement]) -> bool {
    let gateway_up = cycle.iter().any(|m| match &m.result {
        MeasurementResult::Vitals(v) => v.gateway_reachable,
        _ => false,
    });
    let mut international = cycle
        .iter()
        .filter(|m| m.target.scope == Scope::International && matches!(m.kind(), Kind::Icmp | Kind::Tcp | Kind::Http));
    let mut tried = false;
    let none_answered = international.all(|m| {
        tried = true;
        m.result.outcome() != Outcome::Ok
    });
    gateway_up && tried && none_answered
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_measurement::result::{Power, TcpResult, VitalsResult};
    use vigil_measurement::{Target, Uplink, UplinkAccess};

    fn measurement(scope: Scope, result: MeasurementResult) -> Measurement {
        Measurement {
            schema: 1,
            id: uuid::Uuid::now_v7(),
            started_at: chrono::Utc::now(),
            duration_ms: 1.0,
            target: Target {
                name: "anchor".to_owned(),
                scope,
                list: Some("anchors".to_owned()),
            },
            clock: None,
            network: None,
            uplink: Some(Uplink {
                name: "wan".to_owned(),
                access: UplinkAccess::Fixed,
            }),
            result,
        }
    }

    fn tcp(scope: Scope, outcome: Outcome) -> Measurement {
        measurement(
            scope,
            MeasurementResult::Tcp(TcpResult {
                outcome,
                ip: "10.0.0.1".parse().expect("ip"),
                port: 443,
                method: None,
                reply: None,
                reply_ttl: None,
                reply_ip_id: None,
                injected_rst: None,
                rtt_ms: None,
                error_detail: None,
            }),
        )
    }

    fn vitals(gateway_reachable: bool) -> Measurement {
        measurement(
            Scope::Local,
            MeasurementResult::Vitals(VitalsResult {
                outcome: Outcome::Ok,
                boot_id: "b".to_owned(),
                uptime_s: 1.0,
                power: Power::default(),
                gateway_reachable,
                link_up: true,
                last_gasp: false,
                spool_depth: 0,
                seq: Some(1),
                gateway_rtt_ms: None,
                error_detail: None,
            }),
        )
    }

    #[test]
    fn isolated_is_a_working_gateway_with_nothing_abroad_answering() {
        let cut = [
            vitals(true),
            tcp(Scope::Domestic, Outcome::Ok),
            tcp(Scope::International, Outcome::Timeout),
        ];
        assert!(judge(&cut));
        let no_intranet = [vitals(true), tcp(Scope::International, Outcome::Reset)];
        assert!(judge(&no_intranet));
        let fine = [
            vitals(true),
            tcp(Scope::International, Outcome::Timeout),
            tcp(Scope::International, Outcome::Ok),
        ];
        assert!(!judge(&fine), "one international answer is enough");
        let gateway_down = [vitals(false), tcp(Scope::International, Outcome::Timeout)];
        assert!(
            !judge(&gateway_down),
            "a dead link is not isolation: nothing could be sent through it anyway"
        );
        assert!(
            !judge(&[vitals(true), tcp(Scope::Domestic, Outcome::Ok)]),
            "no international anchor, no judgement"
        );
    }

    #[test]
    fn the_state_records_changes_per_uplink() {
        let state = IsolationState::default();
        let wan = Uplink {
            name: "wan".to_owned(),
            access: UplinkAccess::Fixed,
        };
        assert!(!state.border_cut());
        assert!(state.set(Some(&wan), true));
        assert!(!state.set(Some(&wan), true), "no change");
        assert!(state.is_isolated(Some("wan")) && !state.is_isolated(Some("sat")) && !state.is_isolated(None));
        assert!(state.border_cut());
        assert!(state.set(Some(&wan), false));
        assert!(!state.border_cut());
    }

    #[test]
    fn a_dish_that_cannot_reach_abroad_is_isolated_but_no_border_cut() {
        let state = IsolationState::default();
        let dish = Uplink {
            name: "sat".to_owned(),
            access: UplinkAccess::Satellite,
        };
        assert!(state.set(Some(&dish), true));
        assert!(state.is_isolated(Some("sat")), "uploads keep off it");
        assert!(!state.border_cut(), "hold does not wait for a jammed dish");
        assert!(state.set(None, true));
        assert!(state.border_cut(), "the undeclared way out is a line");
    }
}

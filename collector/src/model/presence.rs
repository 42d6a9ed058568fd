//! Presence of third-party pseudo-probes (RIPE Atlas connection logs): the sessions a log shows and the span it
//! covers.

/// One period a third-party pseudo-probe (a RIPE Atlas probe) was connected to its platform, as its connection
/// log shows it. Outside the log's [`PresenceSpan`] nothing is known of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PresenceSession {
    /// The pseudo-probe.
    pub probe_id: String,
    /// Connected at (ms): the span's start when the log opens with the probe already connected.
    pub connected_ms: i64,
    /// Disconnected at (ms); `None` while still connected at the end of the log.
    pub disconnected_ms: Option<i64>,
    /// The platform's server (RIPE Atlas controller) the probe was connected to when the session ended, if
    /// the log names it: a burst of disconnections from one controller is the platform's fault.
    pub controller: Option<String>,
}

/// The time a third-party connection log covers: inside it a pseudo-probe not connected was away; outside it,
/// unknown.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PresenceSpan {
    /// Where the log came from (`ripe-atlas`).
    pub source: String,
    /// First covered instant (ms).
    pub from_ms: i64,
    /// One past the last covered instant (ms).
    pub to_ms: i64,
}

/// The presence logs overlapping a window: the spans they cover and the sessions in them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresenceLog {
    /// Spans overlapping the window.
    pub spans: Vec<PresenceSpan>,
    /// Sessions overlapping the window.
    pub sessions: Vec<PresenceSession>,
}

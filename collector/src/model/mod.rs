//! Values shared by every part of the collector, with no I/O: probes and where they sit, time buckets and what a
//! probe measured in each, the fold from measurements to those summaries, presence logs, the disruption events
//! the classifier outputs, what the public may see of a probe, and what each probe saw of each messaging app. Everything else (`classify`, `store`,
//! `ingest`, the HTTP layers) depends on this module; it depends on nothing of the collector.

mod app_verdicts;
mod event;
mod fold;
mod presence;
mod probe;
mod public_view;
mod summary;
mod timeline;

pub use app_verdicts::{AppBuckets, AppFilter, AppReach, AppVerdict, app_verdicts};
pub use event::{BlockedTarget, ConfidenceLevel, DisruptionEvent, EventClass, EventScope, Evidence};
pub use fold::{
    ANCHOR_LIST, APP_LIST_PREFIX, AnchorMetric, PATH_END_HOME, Partial, Partials, Placed, Summaries, SummaryBuilder,
    anchor_metric, blocking_method, bucket_range, fingerprint, normalize, path_end,
};
pub use presence::{PresenceLog, PresenceSession, PresenceSpan};
pub use probe::{AccessType, ProbeProfile, ProbeRecord};
pub use public_view::{MIN_REGION_PROBES, PublicProbe, public_list, public_regions, rfc3339};
pub use summary::{BlockingMethod, Bucket, BucketSummary, Tally, VitalsSummary, median};
pub use timeline::{other_timeline, split_timeline, timeline_id};

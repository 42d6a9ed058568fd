//! The measuring agent: what `vigil-probe run` and `once` do.
//!
//! Every `cycle_secs` (with up to 10% jitter, cycles never overlap), on each measuring uplink in its own loop:
//! vitals, and each anchor gets DNS, TCP (the URL's port, else 443) and HTTP checks — bound to the uplink's
//! interface and labelled with it when `[[uplinks]]` are declared, else along the routing table's choice,
//! unlabelled. Every `list_cycle_secs`, in a loop of its own: each test-list URL gets DNS and HTTP checks (each
//! messaging app's endpoint its DNS check and its fetch or connect, `list_items`),
//! `concurrency` at a time, within the daily data budget. The loops do not wait for each other: a line timing out
//! during a cut, or a list pass of minutes, does not leave another uplink's buckets empty. One exception, short:
//! the first uplink's anchor cycle has its link to itself (no list URL starts once it is due, and it waits a grace
//! for those in flight, `turns`), so the probe's own list traffic never slows its speed samples. Results go to the spool
//! as they come (anchors in one transaction per cycle, list results in chunks); an upload task wakes after each
//! append and drains the spool to the collector.
//! On SIGTERM or Ctrl-C measuring stops and one last upload is tried.

mod list_items;
mod targets;
mod turns;
mod uplinks;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::Notify;
use vigil_measurement::{Measurement, Outcome, Target};

use list_items::{ListItem, list_items};
pub use targets::plan_anchor;
use turns::LinkTurns;
use uplinks::UplinkChecks;

use crate::budget::DataBudget;
use crate::checks::dns::{DnsResolvers, DnsSettings, ResolverSpec};
use crate::checks::http::{HttpChecker, HttpSettings};
use crate::checks::icmp::{self as icmp_check, IcmpSettings};
use crate::checks::syn::{self, SynAckTtls};
use crate::checks::tcp;
use crate::checks::trace::{self, TraceProtocol, TraceSettings};
use crate::config::ProbeConfig;
use crate::fingerprints::Fingerprints;
use crate::net::{PacketMode, detect_packet_mode};
use crate::spool::{NewRecord, RecordClass, SharedSpool, Spool, SpoolError};
use crate::test_lists::TestLists;
use crate::upload::{RoundOutcome, UploadError, Uploader};
use crate::vitals::{self, VitalsExtras};

/// Why the agent could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The spool could not be opened (another probe holds it, or the disk failed).
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The uploader could not be built.
    #[error(transparent)]
    Upload(#[from] UploadError),
    /// A check could not be set up.
    #[error("{0}")]
    Setup(String),
}

/// Everything needed to measure, built once from the configuration.
pub struct Checks {
    config: ProbeConfig,
    /// The measuring uplinks in configuration order (one, unlabelled, when none are declared); test lists run
    /// on the first.
    uplinks: Vec<UplinkChecks>,
    /// What a list pass measures: the test lists' URLs, then the apps' endpoints.
    items: Vec<ListItem>,
    mode: PacketMode,
    syn_ack_ttls: SynAckTtls,
    vitals_seq: std::sync::atomic::AtomicU64,
    /// The first uplink's turns between its anchor cycles and the list URLs.
    list_link: LinkTurns,
}

/// What one test-list URL may use on the wire, reserved against the data budget before it starts: its HTTP
/// fetch at its cap (and one read past it), the SNI test that follows a failed handshake, the QUIC test of a site
/// that announced HTTP/3, and its DNS check — A and AAAA of every resolver, a DoT or DoH handshake (certificates)
/// each, well within 64 KiB.
pub const LIST_URL_CAP: u64 = crate::checks::http::FETCH_CAP
    + crate::checks::http::READ_SLACK
    + crate::checks::sni::MOST_BYTES
    + crate::checks::quic::MOST_BYTES
    + (64 << 10);

impl Checks {
    /// Builds resolvers, the HTTP checker, fingerprints and test lists; returns warnings for what is missing.
    pub fn build(config: ProbeConfig) -> Result<(Self, Vec<String>), AgentError> {
        let mut warnings = Vec::new();
        let fingerprints = match &config.lists.fingerprints_dir {
            Some(dir) => match Fingerprints::load_dir(dir) {
                Ok((f, report)) => {
                    if !report.skipped.is_empty() {
                        warnings.push(format!(
                            "{} fingerprint rows skipped in {}",
                            report.skipped.len(),
                            dir.display()
                        ));
                    }
                    f
                }
                Err(err) => {
                    warnings.push(format!("{err}; using the built-in fingerprints only"));
                    Fingerprints::builtin()
                }
            },
            None => Fingerprints::builtin(),
        };
        let fingerprints = Arc::new(fingerprints);
        let mut specs = Vec::new();
        if config.dns.include_system {
            specs.push(ResolverSpec {
                address: "system".to_owned(),
                control: Some(false),
            });
        }
        specs.extend(
            config
                .resolvers
                .iter()
                .filter(|r| r.address != "system")
                .map(|r| ResolverSpec {
                    address: r.address.clone(),
                    control: r.control,
                }),
        );
        let extra_roots = match &config.lists.ca_file {
            Some(path) => crate::tls::pem_certificates(path)
                .map_err(|reason| AgentError::Setup(format!("lists.ca_file {}: {reason}", path.display())))?,
            None => Vec::new(),
        };
        let http = HttpChecker::new(
            HttpSettings {
                connect_timeout: Duration::from_secs_f64(config.timeouts.connect_secs),
                timeout: Duration::from_secs_f64(config.timeouts.http_secs),
                sni_control: Some(config.lists.sni_control.clone()).filter(|c| !c.is_empty()),
                quic: config.lists.quic,
            },
            Arc::clone(&fingerprints),
            &extra_roots,
        )
        .map_err(|e| AgentError::Setup(e.to_string()))?;
        let (ways, egress_warnings) = crate::uplinks::ways_out(&config.uplinks);
        warnings.extend(egress_warnings);
        let mut uplinks = Vec::new();
        for way in ways.into_iter().filter(|w| w.measure) {
            let (dns, problems) = DnsResolvers::new(
                &specs,
                DnsSettings {
                    timeout: Duration::from_secs_f64(config.timeouts.dns_secs),
                    flag_bogons: config.dns.flag_bogon_answers,
                    extra_roots: extra_roots.clone(),
                    egress: way.path.egress().cloned(),
                },
                Arc::clone(&fingerprints),
            );
            // The same resolvers on every uplink: say what is wrong with them once.
            if uplinks.is_empty() {
                warnings.extend(problems.iter().map(ToString::to_string));
            }
            uplinks.push(UplinkChecks {
                http: http.clone().along(way.path.clone()),
                dns,
                way,
            });
        }
        let lists = TestLists::load(&config.lists.files).map_err(|e| AgentError::Setup(e.to_string()))?;
        if !lists.skipped.is_empty() {
            warnings.push(format!("{} test-list rows skipped", lists.skipped.len()));
        }
        if let Err(err) = crate::clock::init(&config.vitals.boot_id_path, config.vitals.trust_wall_clock) {
            warnings.push(format!(
                "cannot read the boot id at {}: {err}; measurements carry no clock stamp",
                config.vitals.boot_id_path.display()
            ));
        }
        let items = list_items(&lists, &config);
        let mode = detect_packet_mode();
        Ok((
            Checks {
                config,
                uplinks,
                items,
                mode,
                syn_ack_ttls: SynAckTtls::default(),
                vitals_seq: std::sync::atomic::AtomicU64::new(0),
                list_link: LinkTurns::default(),
            },
            warnings,
        ))
    }

    /// The test-list URLs and app endpoints a list pass measures.
    pub fn list_len(&self) -> usize {
        self.items.len()
    }

    /// One cycle of anchor checks, all anchors on every measuring uplink at once; each measurement names its
    /// uplink when uplinks are declared.
    pub async fn anchor_cycle(&self) -> Vec<Measurement> {
        let per_uplink = self.uplinks.iter().map(|uplink| self.anchor_cycle_of(uplink));
        futures_util::future::join_all(per_uplink)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// One cycle of anchor checks on one measuring uplink, each measurement naming it when uplinks are declared.
    async fn anchor_cycle_of(&self, uplink: &UplinkChecks) -> Vec<Measurement> {
        let mut out = self.anchor_cycle_on(uplink).await;
        for m in &mut out {
            m.uplink.clone_from(&uplink.way.label);
        }
        out
    }

    async fn anchor_cycle_on(&self, uplink: &UplinkChecks) -> Vec<Measurement> {
        let connect_timeout = Duration::from_secs_f64(self.config.timeouts.connect_secs);
        let egress = uplink.way.path.egress();
        let cycles = self.config.anchors.iter().map(|anchor| async move {
            let plan = plan_anchor(&anchor.target);
            let target = Target {
                name: anchor.target.clone(),
                scope: anchor.scope,
                list: Some("anchors".to_owned()),
            };
            let mut out = Vec::new();
            if let Some(host) = &plan.host {
                out.extend(uplink.dns.check(host, &target).await);
            }
            if let Some(ip) = plan.resolve(&uplink.way.path).await {
                let icmp_ok = if self.mode.can_ping() && ip.is_ipv4() {
                    let m = icmp_check::check(ip, IcmpSettings::default(), self.mode, egress.cloned(), target.clone())
                        .await;
                    let ok = m.result.outcome() == Outcome::Ok;
                    out.push(m);
                    ok
                } else {
                    true
                };
                let tcp = if self.mode.is_raw() && ip.is_ipv4() {
                    syn::check(
                        ip,
                        plan.port,
                        connect_timeout,
                        self.syn_ack_ttls.clone(),
                        egress.cloned(),
                        target.clone(),
                    )
                    .await
                } else {
                    tcp::check(ip, plan.port, connect_timeout, egress, target.clone()).await
                };
                let tcp_ok = tcp.result.outcome() == Outcome::Ok;
                out.push(tcp);
                // Where does it die? Trace only what failed, so a healthy cycle stays cheap.
                if self.mode.is_raw() && ip.is_ipv4() && (!icmp_ok || !tcp_ok) {
                    let protocol = if tcp_ok {
                        TraceProtocol::Icmp
                    } else {
                        TraceProtocol::Tcp(plan.port)
                    };
                    let settings = TraceSettings {
                        egress: egress.cloned(),
                        ..self.trace_settings()
                    };
                    out.push(trace::check(ip, protocol, settings, target.clone()).await);
                }
            }
            if let Some(url) = &plan.url {
                out.push(uplink.http.check(url, target.clone()).await);
            }
            out
        });
        futures_util::future::join_all(cycles)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    fn trace_settings(&self) -> TraceSettings {
        TraceSettings {
            local_prefixes: self.config.probe.local_prefixes.clone(),
            private_is_local: self.config.probe.private_hops_are_local,
            ..TraceSettings::default()
        }
    }

    /// The probe's vitals now, one measurement per measuring uplink (each with its own interface's link and
    /// gateway, and the same cycle number): files, then the gateway by ICMP (or a complete ARP entry when ICMP is
    /// not permitted or not answered).
    pub async fn vitals(&self, spool_depth: u64, last_gasp: bool) -> Vec<Measurement> {
        let seq = self.vitals_seq.fetch_add(1, Ordering::SeqCst);
        let per_uplink = self
            .uplinks
            .iter()
            .map(|uplink| self.vitals_of(uplink, spool_depth, last_gasp, seq));
        futures_util::future::join_all(per_uplink).await
    }

    /// The vitals on one measuring uplink, naming it when uplinks are declared.
    async fn vitals_of(&self, uplink: &UplinkChecks, spool_depth: u64, last_gasp: bool, seq: u64) -> Measurement {
        let mut m = self.vitals_on(&uplink.way, spool_depth, last_gasp, seq).await;
        m.uplink.clone_from(&uplink.way.label);
        m
    }

    async fn vitals_on(
        &self,
        way: &crate::uplinks::WayOut,
        spool_depth: u64,
        last_gasp: bool,
        seq: u64,
    ) -> Measurement {
        let started_at = chrono::Utc::now();
        let clock = Instant::now();
        let sources = self.config.vitals.sources();
        let mode = self.mode;
        let interface = way.interface.clone();
        let egress = way.path.egress().cloned();
        let (local, gateway) = tokio::task::spawn_blocking(move || {
            let local = vitals::read_local_on(&sources, interface.as_deref());
            let gateway = local.route.as_ref().and_then(|r| r.gateway).map(|gw| {
                let (answered, rtt) = icmp_check::gateway_answers(gw, mode, egress.as_ref());
                (
                    answered || vitals::arp_complete(&sources.arp_path, gw, interface.as_deref()),
                    rtt,
                )
            });
            (local, gateway)
        })
        .await
        .unwrap_or_else(|_| {
            let local = vitals::read_local_on(&self.config.vitals.sources(), way.interface.as_deref());
            (local, None)
        });
        let result = vitals::result(
            &local,
            VitalsExtras {
                gateway_reachable: gateway.is_some_and(|(ok, _)| ok),
                gateway_rtt_ms: gateway.and_then(|(_, rtt)| rtt),
                spool_depth,
                seq,
                last_gasp,
            },
        );
        crate::checks::envelope(
            vitals::target(),
            started_at,
            clock.elapsed(),
            vigil_measurement::MeasurementResult::Vitals(result),
        )
    }

    /// Judges one measuring uplink's cycle (its vitals and anchors) for isolation and records it in `state`,
    /// saying so in the log when it changes.
    fn judge_isolation(&self, uplink: &UplinkChecks, cycle: &[Measurement], state: &crate::upload::IsolationState) {
        let isolated = crate::upload::judge_isolation(cycle);
        if state.set(uplink.way.label.as_ref(), isolated) {
            let uplink = uplink.way.label.as_ref().map_or("the uplink", |l| l.name.as_str());
            let policy = self.config.upload.during_isolation;
            if isolated {
                tracing::warn!(uplink, ?policy, "isolated: the gateway answers and nothing abroad does");
            } else {
                tracing::info!(uplink, "no longer isolated");
            }
        }
    }

    /// Whether the battery has fallen below the last-gasp threshold while on battery.
    fn battery_low(&self, vitals: &Measurement) -> bool {
        match &vitals.result {
            vigil_measurement::MeasurementResult::Vitals(v) => {
                v.power.on_battery == Some(true)
                    && v.power
                        .battery_pct
                        .is_some_and(|p| p < self.config.vitals.last_gasp_battery_pct)
            }
            _ => false,
        }
    }

    /// One pass over the test lists and the apps' endpoints, `concurrency` at a time. A URL starts only when the budget has room for
    /// it and every URL in flight at [`LIST_URL_CAP`]; the pass ends at the first URL that does not fit. Results
    /// are handed to `sink` as each URL finishes, and the budget is saved as it is spent.
    pub async fn list_pass(
        &self,
        budget: &std::sync::Mutex<DataBudget>,
        mut sink: impl FnMut(Vec<Measurement>),
    ) -> ListPassSummary {
        let mut summary = ListPassSummary::default();
        let Some(uplink) = self.uplinks.first() else {
            return summary;
        };
        let in_flight = AtomicU64::new(0);
        let stopped = AtomicBool::new(false);
        let admit = || {
            let mut budget = budget.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let fits = budget.can_start(LIST_URL_CAP, in_flight.load(Ordering::SeqCst));
            if fits {
                in_flight.fetch_add(1, Ordering::SeqCst);
            } else {
                stopped.store(true, Ordering::SeqCst);
            }
            fits
        };
        let connect_timeout = Duration::from_secs_f64(self.config.timeouts.connect_secs);
        let mut work = futures_util::stream::iter(self.items.iter())
            .take_while(|_| std::future::ready(admit()))
            .map(|item| async move {
                // Never beside the list uplink's anchor cycle (its speed samples): see `turns`.
                let _turn = self.list_link.list_url().await;
                item.measure(uplink, connect_timeout).await
            })
            .buffer_unordered(self.config.probe.concurrency.max(1));
        while let Some(results) = work.next().await {
            in_flight.fetch_sub(1, Ordering::SeqCst);
            summary.urls += 1;
            sink(results);
            let mut budget = budget.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Err(err) = budget.save_if_due() {
                tracing::warn!(error = %err, "could not save the data budget");
            }
        }
        summary.budget_exhausted = stopped.load(Ordering::SeqCst);
        summary
    }
}

/// What a list pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListPassSummary {
    /// URLs checked.
    pub urls: usize,
    /// Whether the pass stopped because the day's budget had no room for the next URL.
    pub budget_exhausted: bool,
}

/// `vigil-probe once`: one anchor cycle and one list pass (within the daily budget, counted in memory).
pub async fn run_once(config: ProbeConfig) -> Result<(Vec<Measurement>, Vec<String>), AgentError> {
    let budget_bytes = config.probe.daily_budget_mb.saturating_mul(1 << 20);
    let (checks, warnings) = Checks::build(config)?;
    let mut all = checks.vitals(0, false).await;
    all.extend(checks.anchor_cycle().await);
    let budget = std::sync::Mutex::new(DataBudget::in_memory(budget_bytes));
    checks.list_pass(&budget, |results| all.extend(results)).await;
    Ok((all, warnings))
}

/// `vigil-probe run`: measure and upload until `shutdown` completes.
pub async fn run(
    config: ProbeConfig,
    metrics: Option<crate::metrics::ProbeMetrics>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), AgentError> {
    let spool = SharedSpool::new(Spool::open(&config.probe.state_dir, config.spool_options())?);
    let uploader = Uploader::new(&config)?;
    let budget = std::sync::Mutex::new(DataBudget::open(
        &config.probe.state_dir,
        config.probe.daily_budget_mb.saturating_mul(1 << 20),
    ));
    let cycle = Duration::from_secs(config.probe.cycle_secs);
    let list_cycle = Duration::from_secs(config.probe.list_cycle_secs);
    let (checks, warnings) = Checks::build(config)?;
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    tracing::info!(
        anchors = checks.config.anchors.len(),
        resolvers = checks.uplinks.first().map_or(0, |u| u.dns.len()),
        uplinks = checks.uplinks.len(),
        list_urls = checks.list_len(),
        cycle_secs = cycle.as_secs(),
        "probe running"
    );
    let wake = Arc::new(Notify::new());
    let finishing = Arc::new(AtomicBool::new(false));
    let isolation = uploader.isolation();
    let uploads = upload_loop(
        uploader,
        spool.clone(),
        Arc::clone(&wake),
        Arc::clone(&finishing),
        metrics.clone(),
    );
    // Each measuring uplink keeps its own cadence, and the test lists theirs: a line whose checks time out during
    // a cut, or a list pass of minutes, never delays another uplink's vitals and anchors (a dish's measurements
    // missing from every other bucket would read as the dish going dark).
    let measuring = async {
        let per_uplink = checks.uplinks.iter().enumerate().map(|(i, uplink)| {
            measure_uplink(
                &checks,
                uplink,
                // The test lists run on the first uplink.
                i == 0,
                cycle,
                Shared {
                    spool: &spool,
                    wake: &wake,
                    budget: &budget,
                    metrics: metrics.as_ref(),
                },
                &isolation,
            )
        });
        let lists = async {
            let mut ticker = tokio::time::interval(list_cycle);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                ticker.tick().await;
                if checks.list_len() > 0 {
                    run_list_pass(&checks, &budget, &spool, &wake).await;
                }
            }
        };
        futures_util::future::join(futures_util::future::join_all(per_uplink), lists).await;
    };
    tokio::pin!(shutdown, uploads, measuring);
    let mut uploads_ended = false;
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            () = &mut measuring => break,
            () = &mut uploads, if !uploads_ended => {
                uploads_ended = true;
                tracing::error!("the upload task ended early; measuring continues into the spool");
            }
        }
    }
    // The last gasp: the probe is going dark on purpose (shutdown, service stop), and says so.
    let depth = spool.with(|s| s.depth()).unwrap_or(0);
    let gasp = checks.vitals(depth, true).await;
    spool_results(&spool, RecordClass::Vitals, gasp, &wake);
    if !uploads_ended {
        tracing::info!("stopping: measuring has ended; last gasp spooled; one last upload (at most 10 s)");
        finishing.store(true, Ordering::SeqCst);
        wake.notify_one();
        if tokio::time::timeout(Duration::from_secs(10), &mut uploads)
            .await
            .is_err()
        {
            tracing::warn!("last upload did not finish; measurements stay spooled for next time");
        }
    }
    Ok(())
}

/// Drains the spool whenever woken; backs off while the collector is unreachable or refuses the token (and says
/// why in the log and the `upload_auth_refused` gauge). Returns, once `finishing` is set, when the spool is empty,
/// the collector unreachable or the token refused.
async fn upload_loop(
    mut uploader: Uploader,
    spool: SharedSpool,
    wake: Arc<Notify>,
    finishing: Arc<AtomicBool>,
    metrics: Option<crate::metrics::ProbeMetrics>,
) {
    loop {
        let outcome = match uploader.drain(&spool).await {
            Ok((summary, last)) => {
                if summary.records > 0 {
                    tracing::info!(records = summary.records, quarantined = summary.quarantined, "uploaded");
                }
                if let Some(m) = &metrics {
                    m.uploads
                        .with_label_values(&["delivered"])
                        .inc_by(summary.batches as u64);
                    m.uploads
                        .with_label_values(&["quarantined"])
                        .inc_by(summary.quarantined as u64);
                    m.uploaded_records.inc_by(summary.records as u64);
                    if summary.batches > 0 {
                        m.last_upload_success.set(chrono::Utc::now().timestamp() as f64);
                    }
                    match &last {
                        RoundOutcome::Failed { .. } => m.uploads.with_label_values(&["failed"]).inc(),
                        RoundOutcome::Unauthorized { .. } => m.uploads.with_label_values(&["unauthorized"]).inc(),
                        RoundOutcome::Held { .. } => m.uploads.with_label_values(&["held"]).inc(),
                        _ => {}
                    }
                    if summary.batches > 0 {
                        m.upload_auth_refused.set(0);
                    }
                    if matches!(last, RoundOutcome::Unauthorized { .. }) {
                        m.upload_auth_refused.set(1);
                    }
                    if let Ok(stats) = spool.with(|s| s.stats()) {
                        m.quarantined.set(i64::try_from(stats.quarantined).unwrap_or(i64::MAX));
                        m.quarantine_bytes
                            .set(i64::try_from(stats.quarantine_bytes).unwrap_or(i64::MAX));
                    }
                }
                last
            }
            Err(err) => {
                tracing::error!(error = %err, "upload round failed");
                RoundOutcome::Failed {
                    error: err.to_string(),
                    retry_after: None,
                }
            }
        };
        let wait = uploader.wait_after(&outcome);
        match &outcome {
            _ if finishing.load(Ordering::SeqCst) => return,
            RoundOutcome::Unauthorized { reason } => {
                tracing::error!(%reason, wait_secs = wait.as_secs(), "the collector refuses this probe's token; \
                    measurements stay spooled; asking again after the wait");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = wake.notified(), if finishing.load(Ordering::SeqCst) => {}
                }
            }
            RoundOutcome::Failed { error, .. } => {
                tracing::warn!(%error, wait_secs = wait.as_secs(), "collector not reachable; measurements stay spooled");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = wake.notified(), if finishing.load(Ordering::SeqCst) => {}
                }
            }
            _ => wake.notified().await,
        }
    }
}

/// What the measuring loops share: the spool and its wake-up, the data budget, the metrics.
#[derive(Clone, Copy)]
struct Shared<'a> {
    spool: &'a SharedSpool,
    wake: &'a Notify,
    budget: &'a std::sync::Mutex<DataBudget>,
    metrics: Option<&'a crate::metrics::ProbeMetrics>,
}

/// One measuring uplink's loop: every `cycle`, its vitals (a last gasp when the battery runs low), its anchors
/// (on the uplink that `carries_lists`, with the link to themselves: `turns`), and the judgement of its isolation.
async fn measure_uplink(
    checks: &Checks,
    uplink: &UplinkChecks,
    carries_lists: bool,
    cycle: Duration,
    shared: Shared<'_>,
    isolation: &crate::upload::IsolationState,
) {
    let mut ticker = tokio::time::interval(cycle);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut battery_gasped = false;
    loop {
        ticker.tick().await;
        let jitter = cycle.mul_f64(fastrand::f64() * 0.1).min(Duration::from_secs(5));
        tokio::time::sleep(jitter).await;
        let depth = shared.spool.with(|s| s.depth()).unwrap_or(0);
        let seq = checks.vitals_seq.fetch_add(1, Ordering::SeqCst);
        let mut vitals = checks.vitals_of(uplink, depth, false, seq).await;
        let low = checks.battery_low(&vitals);
        if low && !battery_gasped {
            // The battery is about to run out: say so, and get it out at once.
            if let vigil_measurement::MeasurementResult::Vitals(v) = &mut vitals.result {
                v.last_gasp = true;
            }
            tracing::warn!("battery low: last gasp");
        }
        battery_gasped = low;
        spool_results(shared.spool, RecordClass::Vitals, vec![vitals.clone()], shared.wake);
        let turn = if carries_lists {
            Some(checks.list_link.anchors(cycle).await)
        } else {
            None
        };
        let mut results = checks.anchor_cycle_of(uplink).await;
        log_cycle(&results, turn.as_ref().is_some_and(|t| !t.is_alone()));
        drop(turn);
        // The cycle is judged with its vitals (already spooled): put beside the anchors for it, then taken off.
        results.push(vitals);
        checks.judge_isolation(uplink, &results, isolation);
        results.pop();
        if let Some(m) = shared.metrics {
            m.observe_checks(&results);
            if let Ok(stats) = shared.spool.with(|s| s.stats()) {
                m.spool_depth.set(i64::try_from(stats.records).unwrap_or(i64::MAX));
                m.spool_bytes.set(i64::try_from(stats.bytes).unwrap_or(i64::MAX));
            }
        }
        spool_results(shared.spool, RecordClass::Anchor, results, shared.wake);
        // Anchors, vitals and uploads spend the budget too (they never pause): saved as spent.
        let mut budget = shared.budget.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(err) = budget.save_if_due() {
            tracing::warn!(error = %err, "could not save the data budget");
        }
        if let Some(m) = shared.metrics {
            m.budget_spent.set(i64::try_from(budget.spent()).unwrap_or(i64::MAX));
        }
    }
}

async fn run_list_pass(checks: &Checks, budget: &std::sync::Mutex<DataBudget>, spool: &SharedSpool, wake: &Notify) {
    {
        let mut budget = budget.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !budget.can_start(LIST_URL_CAP, 0) {
            tracing::info!(
                spent = budget.spent(),
                limit = budget.limit(),
                "daily data budget spent: test lists pause until tomorrow (UTC); vitals and anchors go on"
            );
            return;
        }
    }
    let mut pending = Vec::new();
    let summary = checks
        .list_pass(budget, |results| {
            pending.extend(results);
            if pending.len() >= 50 {
                spool_results(spool, RecordClass::List, std::mem::take(&mut pending), wake);
            }
        })
        .await;
    spool_results(spool, RecordClass::List, pending, wake);
    if let Err(err) = budget.lock().unwrap_or_else(std::sync::PoisonError::into_inner).save() {
        tracing::warn!(error = %err, "could not save the data budget");
    }
    tracing::info!(
        urls = summary.urls,
        budget_exhausted = summary.budget_exhausted,
        "test-list pass done"
    );
}

fn spool_results(spool: &SharedSpool, class: RecordClass, mut results: Vec<Measurement>, wake: &Notify) {
    if results.is_empty() {
        return;
    }
    // Signed batches are stored exactly as sent, so free text is cleaned of addresses here, before signing.
    for m in &mut results {
        m.scrub_free_text();
    }
    let records: Vec<NewRecord> = results
        .iter()
        .map(|m| NewRecord {
            class,
            line: m.to_json_line(),
        })
        .collect();
    match spool.with(|s| s.append(&records)) {
        Ok(_) => {
            // A journal of what was measured, for audits (the lab's spool oracle): one line per measurement.
            for m in &results {
                tracing::debug!(target: "vigil_probe::journal", id = %m.id, started_at = %m.started_at.to_rfc3339(), kind = ?m.result.kind(), "spooled");
            }
            wake.notify_one();
        }
        Err(err) => tracing::error!(error = %err, records = records.len(), "could not spool measurements"),
    }
}

/// Logs a finished anchor cycle; `shared_link` when list URLs were still in flight beside it.
fn log_cycle(results: &[Measurement], shared_link: bool) {
    let ok = results.iter().filter(|m| m.result.outcome() == Outcome::Ok).count();
    tracing::info!(
        measurements = results.len(),
        ok,
        failed = results.len() - ok,
        shared_link,
        "anchor cycle done"
    );
}

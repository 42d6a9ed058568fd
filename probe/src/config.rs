//! The probe's configuration (`probe.toml`, DESIGN.md §5): every key has a sane default except the collector
//! URL and token. [`ProbeConfig::problems`] explains each problem with its key path, for `check-config`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;
use vigil_measurement::{Scope, Uplink, UplinkAccess};

/// The whole probe configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// Where batches go.
    pub collector: CollectorSection,
    /// Scheduling, state and budget.
    #[serde(default)]
    pub probe: ProbeSection,
    /// Targets checked every cycle.
    #[serde(default)]
    pub anchors: Vec<AnchorTarget>,
    /// Resolvers the DNS check asks (the system resolver is always asked too).
    #[serde(default)]
    pub resolvers: Vec<ResolverEntry>,
    /// Test lists and blocking fingerprints.
    #[serde(default)]
    pub lists: ListsSection,
    /// Where the vitals are read from.
    #[serde(default)]
    pub vitals: VitalsSection,
    /// Per-check timeouts.
    #[serde(default)]
    pub timeouts: TimeoutsSection,
    /// Upload batching.
    #[serde(default)]
    pub upload: UploadSection,
    /// DNS check behaviour.
    #[serde(default)]
    pub dns: DnsSection,
    /// The probe's ways out, when it has more than the routing table's default (a terrestrial line and a
    /// satellite dish or a second modem). None: one way out, chosen by the routing table, as before.
    #[serde(default)]
    pub uplinks: Vec<UplinkEntry>,
    /// Messaging apps, each a named group of endpoints measured on the test lists' cadence (`crate::apps`).
    #[serde(default)]
    pub apps: Vec<AppEntry>,
}

/// One `[[apps]]` entry: an app and the endpoints that reach it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppEntry {
    /// The app's name, sent as `target.list = "app:NAME"`: 1–32 lowercase letters, digits, `-`, `_`.
    pub name: String,
    /// Its endpoints: `https://…` URLs, `host:port`, `address:port` (`crate::apps::Endpoint`).
    pub endpoints: Vec<String>,
}

/// One `[[uplinks]]` entry: an interface the probe measures through, uploads through, or both.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UplinkEntry {
    /// A short label sent with each measurement taken through it (`wan`, `sat`): 1–32 letters, digits, `-`, `_`.
    pub name: String,
    /// The network interface (`eth0`, `wwan0`, `enp1s0u1`).
    pub interface: String,
    /// How it reaches the internet: `fixed`, `mobile` or `satellite`.
    pub access: UplinkAccess,
    /// Whether vitals and anchor checks run through it (test lists run through the first such uplink only).
    #[serde(default = "yes")]
    pub measure: bool,
    /// Whether batches may go to the collector through it (tried in the order listed).
    #[serde(default = "yes")]
    pub upload: bool,
    /// How its sockets are kept on the interface: `auto` (the device, else its address), `device`
    /// (`SO_BINDTODEVICE`), or `address` (its source address, for machines whose policy routing already sends
    /// that address's traffic out of the interface).
    #[serde(default)]
    pub bind: BindChoice,
}

/// `[[uplinks]] bind`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindChoice {
    /// The device when the kernel allows it (Linux 5.7 and later, or CAP_NET_RAW), else the address.
    #[default]
    Auto,
    /// Always the device.
    Device,
    /// Always the interface's source address.
    Address,
}

fn yes() -> bool {
    true
}

impl UplinkEntry {
    /// Its label on the wire.
    pub fn label(&self) -> Uplink {
        Uplink {
            name: self.name.clone(),
            access: self.access,
        }
    }
}

/// `[dns]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsSection {
    /// Ask the system resolver (from /etc/resolv.conf) besides `[[resolvers]]`.
    pub include_system: bool,
    /// Count a private, loopback or link-local answer for a public name as injection. Turn off only where the
    /// whole network under test lives in private space (a lab).
    pub flag_bogon_answers: bool,
}

impl Default for DnsSection {
    fn default() -> Self {
        DnsSection {
            include_system: true,
            flag_bogon_answers: true,
        }
    }
}

/// `[collector]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorSection {
    /// The collector's base URL (`https://collector.example.org`).
    pub url: String,
    /// The probe's bearer token from `vigil-collector probe add`.
    pub token: String,
    /// Tried in order when `url` fails (e.g. a domestic relay).
    #[serde(default)]
    pub fallback_urls: Vec<String>,
    /// PEM file of the CA (or the self-signed certificate) the collector's certificate must chain to; when
    /// set, the public roots are not trusted for the collector.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// SHA-256 fingerprints (hex) of the collector's certificate: when set, only a certificate with one of
    /// these is accepted (list the next one before renewing). With `ca_file` the chain must verify as well.
    #[serde(default)]
    pub cert_sha256: Vec<String>,
}

/// `[probe]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeSection {
    /// Spool, quarantine and lock live here.
    pub state_dir: PathBuf,
    /// Seconds between vitals-and-anchors cycles.
    pub cycle_secs: u64,
    /// Seconds between test-list passes.
    pub list_cycle_secs: u64,
    /// Megabytes a day test lists may use; vitals and anchors never pause.
    pub daily_budget_mb: u64,
    /// Bound on the spool's stored bytes, megabytes.
    pub spool_max_mb: u64,
    /// Bound on `quarantine.ndjson` (records the collector refused), kilobytes; rotated once to
    /// `quarantine.ndjson.1` past it.
    pub quarantine_max_kb: u64,
    /// Checks running at once.
    pub concurrency: usize,
    /// Prefixes of the probe's own network, for marking trace hops as local (besides private ranges).
    pub local_prefixes: Vec<ipnet::Ipv4Net>,
    /// Whether private addresses in a trace count as the probe's own network.
    pub private_hops_are_local: bool,
}

impl Default for ProbeSection {
    fn default() -> Self {
        ProbeSection {
            state_dir: PathBuf::from("/var/lib/vigil-probe"),
            cycle_secs: 60,
            list_cycle_secs: 3600,
            daily_budget_mb: 50,
            spool_max_mb: 128,
            quarantine_max_kb: crate::spool::DEFAULT_QUARANTINE_MAX_BYTES / 1024,
            concurrency: 16,
            local_prefixes: Vec::new(),
            private_hops_are_local: true,
        }
    }
}

/// One `[[anchors]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorTarget {
    /// A URL, a host name or an IP address.
    pub target: String,
    /// Which side of the border it is on.
    pub scope: Scope,
}

/// One `[[resolvers]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolverEntry {
    /// `udp://IP:53`, `tcp://IP:53`, `tls://HOST:853`, `https://HOST/dns-query`, or `system`.
    pub address: String,
    /// Whether its answers are the control other resolvers are judged against (default: encrypted ones are).
    #[serde(default)]
    pub control: Option<bool>,
}

/// `[lists]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListsSection {
    /// Citizen Lab format CSV files.
    pub files: Vec<PathBuf>,
    /// Directory of OONI blocking-fingerprints CSVs (optional; a small built-in set is always used).
    pub fingerprints_dir: Option<PathBuf>,
    /// PEM certificates trusted, besides Mozilla's roots, when measuring sites, anchors and encrypted resolvers:
    /// a deployment that also watches its own privately signed services (and the lab). Unset for volunteers.
    pub ca_file: Option<PathBuf>,
    /// The control name of the SNI test after a failed TLS handshake: a name no censor has a reason to block
    /// (default `example.com`); empty turns the test off.
    pub sni_control: String,
    /// Whether a site that announced HTTP/3 (`alt-svc: h3`) is also asked over QUIC after its fetch, to tell a block
    /// of QUIC from the site (default true; it costs at most `checks::quic::MOST_BYTES` per such site).
    pub quic: bool,
    /// Whether the shipped messaging apps (`crate::apps::DEFAULT_APPS`: WhatsApp, Telegram, Signal, Instagram,
    /// Facebook Messenger) are measured besides `[[apps]]` (default false: they are real hosts on the internet).
    pub default_apps: bool,
}

impl Default for ListsSection {
    fn default() -> Self {
        ListsSection {
            files: Vec::new(),
            fingerprints_dir: None,
            ca_file: None,
            sni_control: crate::checks::sni::DEFAULT_CONTROL.to_owned(),
            quic: true,
            default_apps: false,
        }
    }
}

/// `[vitals]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VitalsSection {
    /// Where the kernel's boot id is read.
    pub boot_id_path: PathBuf,
    /// The power-supply class directory.
    pub power_supply_dir: PathBuf,
    /// `/proc/uptime`.
    pub uptime_path: PathBuf,
    /// `/proc/net/route` (the default gateway).
    pub route_path: PathBuf,
    /// `/sys/class/net` (link carrier).
    pub net_dir: PathBuf,
    /// `/proc/net/arp` (gateway reachability when ICMP is not permitted).
    pub arp_path: PathBuf,
    /// Battery percentage below which (on battery) the probe sends a last gasp.
    pub last_gasp_battery_pct: f64,
    /// Report the wall clock as synchronised even when the kernel does not say so. Only for machines whose
    /// time is kept outside their kernel's NTP discipline; a probe without a real-time clock must leave it off.
    pub trust_wall_clock: bool,
}

impl Default for VitalsSection {
    fn default() -> Self {
        let d = crate::vitals::VitalsSources::default();
        VitalsSection {
            boot_id_path: d.boot_id_path,
            power_supply_dir: d.power_supply_dir,
            uptime_path: d.uptime_path,
            route_path: d.route_path,
            net_dir: d.net_dir,
            arp_path: d.arp_path,
            last_gasp_battery_pct: 10.0,
            trust_wall_clock: false,
        }
    }
}

impl VitalsSection {
    /// The vitals' file sources.
    pub fn sources(&self) -> crate::vitals::VitalsSources {
        crate::vitals::VitalsSources {
            boot_id_path: self.boot_id_path.clone(),
            uptime_path: self.uptime_path.clone(),
            power_supply_dir: self.power_supply_dir.clone(),
            route_path: self.route_path.clone(),
            net_dir: self.net_dir.clone(),
            arp_path: self.arp_path.clone(),
        }
    }
}

/// `[timeouts]`, seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutsSection {
    /// One DNS query.
    pub dns_secs: f64,
    /// One TCP connect (and the TLS handshake after it).
    pub connect_secs: f64,
    /// One whole HTTP fetch.
    pub http_secs: f64,
    /// One upload request.
    pub upload_secs: f64,
}

impl Default for TimeoutsSection {
    fn default() -> Self {
        TimeoutsSection {
            dns_secs: 4.0,
            connect_secs: 10.0,
            http_secs: 10.0,
            upload_secs: 30.0,
        }
    }
}

/// `[upload]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadSection {
    /// Most measurements in one batch.
    pub max_batch_records: usize,
    /// Most uncompressed bytes in one batch.
    pub max_batch_bytes: usize,
    /// Longest wait between failed attempts, seconds.
    pub max_backoff_secs: u64,
    /// While an uplink is isolated (its gateway answers, nothing abroad does): `send` as usual, `hold` everything,
    /// or send only through `other_uplinks`. Nothing is lost either way.
    pub during_isolation: DuringIsolation,
}

impl Default for UploadSection {
    fn default() -> Self {
        UploadSection {
            max_batch_records: 1000,
            max_batch_bytes: 1 << 20,
            max_backoff_secs: 600,
            during_isolation: DuringIsolation::Send,
        }
    }
}

/// `[upload] during_isolation`: what uploads do while an uplink is isolated. Nothing is ever deleted before the
/// collector acknowledges it, so no choice loses a measurement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuringIsolation {
    /// Upload as usual, through every upload-capable uplink in order (a domestic relay included).
    #[default]
    Send,
    /// Send nothing while a measuring uplink that crosses the border (a line, a mobile network; not a satellite
    /// dish) is isolated; everything goes once none is.
    Hold,
    /// Send only through uplinks that are not isolated (a satellite dish, a foreign SIM); hold when there is none.
    OtherUplinks,
}

/// One thing wrong with a configuration, at a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Where: `anchors[2].target`.
    pub key: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's explanation, with line and column.
        message: String,
    },
    /// Values that cannot work.
    #[error("{path}: {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Each problem.
        problems: Vec<ConfigProblem>,
    },
}

impl ProbeConfig {
    /// Reads, resolves relative paths against the file's directory, and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: ProbeConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        config.resolve_paths(path.parent().unwrap_or(Path::new(".")));
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            })
        }
    }

    /// The messaging apps a list pass measures: every `[[apps]]` entry, then — with `[lists] default_apps` — each
    /// shipped app no entry replaces.
    pub fn app_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.apps.iter().map(|a| a.name.as_str()).collect();
        if self.lists.default_apps {
            for shipped in crate::apps::DEFAULT_APPS {
                if !names.contains(&shipped.name) {
                    names.push(shipped.name);
                }
            }
        }
        names
    }

    /// Makes relative paths relative to `base` (the configuration file's directory).
    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.probe.state_dir);
        if let Some(ca) = &mut self.collector.ca_file {
            fix(ca);
        }
        self.lists.files.iter_mut().for_each(fix);
        if let Some(dir) = &mut self.lists.fingerprints_dir {
            fix(dir);
        }
        if let Some(ca) = &mut self.lists.ca_file {
            fix(ca);
        }
        fix(&mut self.vitals.boot_id_path);
        fix(&mut self.vitals.power_supply_dir);
        fix(&mut self.vitals.uptime_path);
        fix(&mut self.vitals.route_path);
        fix(&mut self.vitals.net_dir);
        fix(&mut self.vitals.arp_path);
    }

    /// Every problem with the values, each at its key path; empty when the configuration can run.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        let mut add = |key: String, message: &str| {
            out.push(ConfigProblem {
                key,
                message: message.to_owned(),
            })
        };
        if let Err(msg) = collector_url(&self.collector.url) {
            add("collector.url".into(), &msg);
        }
        for (i, url) in self.collector.fallback_urls.iter().enumerate() {
            if let Err(msg) = collector_url(url) {
                add(format!("collector.fallback_urls[{i}]"), &msg);
            }
        }
        for (i, pin) in self.collector.cert_sha256.iter().enumerate() {
            if crate::tls::parse_pin(pin).is_none() {
                add(
                    format!("collector.cert_sha256[{i}]"),
                    "a SHA-256 fingerprint: 64 hex digits (colons allowed), e.g. from `openssl x509 -noout -fingerprint -sha256`",
                );
            }
        }
        if let Some(ca) = &self.collector.ca_file
            && !ca.is_file()
        {
            add("collector.ca_file".into(), "no such file");
        }
        let token = self.collector.token.trim();
        if token.is_empty() || token.contains('…') || token.eq_ignore_ascii_case("changeme") {
            add(
                "collector.token".into(),
                "set the token printed by `vigil-collector probe add` for this probe",
            );
        } else if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            add("collector.token".into(), "a token has no spaces or control characters");
        }
        let p = &self.probe;
        if p.cycle_secs < 5 {
            add("probe.cycle_secs".into(), "must be at least 5 seconds");
        }
        if p.list_cycle_secs < p.cycle_secs {
            add("probe.list_cycle_secs".into(), "must be at least probe.cycle_secs");
        }
        if p.spool_max_mb == 0 {
            add("probe.spool_max_mb".into(), "must be at least 1");
        }
        if p.quarantine_max_kb == 0 {
            add("probe.quarantine_max_kb".into(), "must be at least 1");
        }
        if p.concurrency == 0 || p.concurrency > 256 {
            add("probe.concurrency".into(), "must be between 1 and 256");
        }
        for (i, anchor) in self.anchors.iter().enumerate() {
            if let Err(msg) = anchor_target(&anchor.target) {
                add(format!("anchors[{i}].target"), &msg);
            }
        }
        for (i, resolver) in self.resolvers.iter().enumerate() {
            if let Err(msg) = resolver_address(&resolver.address) {
                add(format!("resolvers[{i}].address"), &msg);
            }
        }
        for (i, file) in self.lists.files.iter().enumerate() {
            if !file.is_file() {
                add(
                    format!("lists.files[{i}]"),
                    &format!("no such file: {}", file.display()),
                );
            }
        }
        if let Some(ca) = &self.lists.ca_file
            && !ca.is_file()
        {
            add("lists.ca_file".into(), "no such file");
        }
        let control = &self.lists.sni_control;
        if !control.is_empty() && rustls::pki_types::ServerName::try_from(control.as_str()).is_err() {
            add(
                "lists.sni_control".into(),
                "must be a DNS name (or empty, to turn the SNI test off)",
            );
        }
        let mut app_names = std::collections::HashSet::new();
        for (i, app) in self.apps.iter().enumerate() {
            if !crate::apps::valid_app_name(&app.name) {
                add(
                    format!("apps[{i}].name"),
                    "must be 1–32 lowercase letters, digits, `-` or `_`",
                );
            } else if !app_names.insert(app.name.as_str()) {
                add(format!("apps[{i}].name"), "another [[apps]] entry has this name");
            }
            if app.endpoints.is_empty() {
                add(format!("apps[{i}].endpoints"), "an app needs at least one endpoint");
            }
            for (j, endpoint) in app.endpoints.iter().enumerate() {
                if let Err(reason) = crate::apps::Endpoint::parse(endpoint) {
                    add(format!("apps[{i}].endpoints[{j}]"), &reason);
                }
            }
        }
        if let Some(dir) = &self.lists.fingerprints_dir
            && !dir.is_dir()
        {
            add(
                "lists.fingerprints_dir".into(),
                &format!("no such directory: {}", dir.display()),
            );
        }
        let t = &self.timeouts;
        for (key, value) in [
            ("timeouts.dns_secs", t.dns_secs),
            ("timeouts.connect_secs", t.connect_secs),
            ("timeouts.http_secs", t.http_secs),
            ("timeouts.upload_secs", t.upload_secs),
        ] {
            if !(value.is_finite() && value > 0.0 && value <= 300.0) {
                add(key.into(), "must be between 0 and 300 seconds");
            }
        }
        if self.upload.max_batch_records == 0 || self.upload.max_batch_records > 10_000 {
            add(
                "upload.max_batch_records".into(),
                "must be between 1 and 10000 (the collector's line limit)",
            );
        }
        if self.upload.max_batch_bytes < 64 << 10 {
            add("upload.max_batch_bytes".into(), "must be at least 65536");
        }
        for (i, uplink) in self.uplinks.iter().enumerate() {
            if let Some(problem) = Uplink::name_problem(&uplink.name) {
                add(format!("uplinks[{i}].name"), problem);
            } else if self.uplinks[..i].iter().any(|u| u.name == uplink.name) {
                add(format!("uplinks[{i}].name"), "another uplink has this name");
            }
            if !is_interface_name(&uplink.interface) {
                add(
                    format!("uplinks[{i}].interface"),
                    "an interface name: 1 to 15 bytes, no '/', ':' or spaces (see `ip link`)",
                );
            } else if self.uplinks[..i].iter().any(|u| u.interface == uplink.interface) {
                add(format!("uplinks[{i}].interface"), "another uplink uses this interface");
            }
        }
        if !self.uplinks.is_empty() {
            if !self.uplinks.iter().any(|u| u.upload) {
                add(
                    "uplinks".into(),
                    "at least one uplink needs upload = true, or nothing reaches the collector",
                );
            }
            if !self.uplinks.iter().any(|u| u.measure) {
                add(
                    "uplinks".into(),
                    "at least one uplink needs measure = true, or nothing is measured",
                );
            }
        }
        out
    }

    /// The spool's byte bound.
    pub fn spool_max_bytes(&self) -> u64 {
        self.probe.spool_max_mb.saturating_mul(1 << 20)
    }

    /// The spool's options from the configuration.
    pub fn spool_options(&self) -> crate::spool::SpoolOptions {
        crate::spool::SpoolOptions {
            max_bytes: self.spool_max_bytes(),
            quarantine_max_bytes: self.probe.quarantine_max_kb.saturating_mul(1 << 10),
        }
    }
}

fn collector_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("not a URL ({e}); expected e.g. https://collector.example.org"))?;
    match url.scheme() {
        "https" | "http" if url.host().is_some() => Ok(url),
        _ => Err("must be an http:// or https:// URL with a host".to_owned()),
    }
}

fn anchor_target(text: &str) -> Result<(), String> {
    if text.contains("://") {
        let url = Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
        return match url.scheme() {
            "http" | "https" if url.host().is_some() => Ok(()),
            _ => Err("a URL target must be http:// or https:// with a host".to_owned()),
        };
    }
    if text.parse::<IpAddr>().is_ok() || crate::host_name::is_host_name(text) {
        Ok(())
    } else {
        Err("must be a URL, a host name or an IP address".to_owned())
    }
}

fn resolver_address(text: &str) -> Result<(), String> {
    if text == "system" {
        return Ok(());
    }
    let url = Url::parse(text).map_err(|_| {
        "expected system, udp://IP:PORT, tcp://IP:PORT, tls://HOST:PORT or https://HOST/dns-query".to_owned()
    })?;
    let host = url.host_str().ok_or("a resolver address needs a host")?;
    match url.scheme() {
        "udp" | "tcp" => host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .map(|_| ())
            .map_err(|_| {
                "udp:// and tcp:// resolvers need an IP address (there is nothing to resolve it with)".to_owned()
            }),
        "tls" | "https" => Ok(()),
        other => Err(format!("unknown resolver transport `{other}` (udp, tcp, tls, https)")),
    }
}

/// A name Linux accepts for a network interface (`IFNAMSIZ` less the NUL; `dev_valid_name`).
fn is_interface_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() < 16
        && text != "."
        && text != ".."
        && !text
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b.is_ascii_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ProbeConfig {
        toml::from_str(text).expect("parses")
    }

    const MINIMAL: &str = "[collector]\nurl = \"https://c.example.org\"\ntoken = \"vgl_abc\"\n";

    #[test]
    fn only_url_and_token_are_required() {
        let config = parse(MINIMAL);
        assert!(config.problems().is_empty(), "{:?}", config.problems());
        assert_eq!((config.probe.cycle_secs, config.probe.daily_budget_mb), (60, 50));
        assert_eq!(config.timeouts.dns_secs, 4.0);
        let err = toml::from_str::<ProbeConfig>("[probe]\ncycle_secs = 60\n").expect_err("no collector");
        assert!(err.to_string().contains("collector"), "{err}");
    }

    #[test]
    fn every_problem_is_reported_at_its_key_path() {
        let config = parse(
            r#"
            [collector]
            url = "ftp://c.example.org"
            token = "…"
            fallback_urls = ["not a url"]
            [probe]
            cycle_secs = 1
            [[anchors]]
            target = "has space"
            scope = "domestic"
            [[resolvers]]
            address = "udp://dns.example:53"
            [[resolvers]]
            address = "quic://9.9.9.9"
            [lists]
            files = ["/nonexistent/list.csv"]
            ca_file = "/nonexistent/ca.pem"
            sni_control = "not a name"
            [[apps]]
            name = "Chat"
            endpoints = ["chat.example:443"]
            [[apps]]
            name = "chat2"
            endpoints = ["ftp://chat.example/", "chat.example", "chat.example:443"]
            "#,
        );
        let keys: Vec<String> = config.problems().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "collector.url",
                "collector.fallback_urls[0]",
                "collector.token",
                "probe.cycle_secs",
                "anchors[0].target",
                "resolvers[0].address",
                "resolvers[1].address",
                "lists.files[0]",
                "lists.ca_file",
                "lists.sni_control",
                "apps[0].name",
                "apps[1].endpoints[0]",
                "apps[1].endpoints[1]",
            ]
        );
    }

    #[test]
    fn uplinks_are_optional_and_each_problem_is_named() {
        assert!(parse(MINIMAL).uplinks.is_empty());
        let two = parse(&format!(
            "{MINIMAL}[[uplinks]]\nname = \"wan\"\ninterface = \"eth0\"\naccess = \"fixed\"\n\
             [[uplinks]]\nname = \"sat\"\ninterface = \"enp1s0u1\"\naccess = \"satellite\"\nmeasure = false\n"
        ));
        assert!(two.problems().is_empty(), "{:?}", two.problems());
        assert_eq!(two.uplinks[1].label().access, UplinkAccess::Satellite);
        assert!(two.uplinks[0].measure && two.uplinks[0].upload && !two.uplinks[1].measure);
        let bad = parse(&format!(
            "{MINIMAL}[[uplinks]]\nname = \"a b\"\ninterface = \"eth0/x\"\naccess = \"mobile\"\nupload = false\n\
             [[uplinks]]\nname = \"wan\"\ninterface = \"eth1\"\naccess = \"fixed\"\nupload = false\n\
             [[uplinks]]\nname = \"wan\"\ninterface = \"eth1\"\naccess = \"fixed\"\nupload = false\n"
        ));
        let keys: Vec<String> = bad.problems().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "uplinks[0].name",
                "uplinks[0].interface",
                "uplinks[2].name",
                "uplinks[2].interface",
                "uplinks",
            ]
        );
        let err = toml::from_str::<ProbeConfig>(&format!(
            "{MINIMAL}[[uplinks]]\nname = \"x\"\ninterface = \"eth0\"\naccess = \"balloon\"\n"
        ))
        .expect_err("unknown access");
        assert!(err.to_string().contains("balloon"), "{err}");
    }

    #[test]
    fn unknown_keys_and_scopes_are_parse_errors_naming_them() {
        let err = toml::from_str::<ProbeConfig>(&format!("{MINIMAL}[probe]\ncycle_sec = 5\n")).expect_err("typo");
        assert!(err.to_string().contains("cycle_sec"), "{err}");
        let err =
            toml::from_str::<ProbeConfig>(&format!("{MINIMAL}[[anchors]]\ntarget = \"a.org\"\nscope = \"moon\"\n"))
                .expect_err("bad scope");
        assert!(err.to_string().contains("moon"), "{err}");
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        let mut config = parse(&format!("{MINIMAL}[probe]\nstate_dir = \"state\"\n"));
        config.resolve_paths(Path::new("/etc/vigil"));
        assert_eq!(config.probe.state_dir, PathBuf::from("/etc/vigil/state"));
        assert_eq!(
            config.vitals.boot_id_path,
            PathBuf::from("/proc/sys/kernel/random/boot_id")
        );
    }

    #[test]
    fn the_apps_measured_are_the_configured_ones_then_the_shipped_ones_they_do_not_replace() {
        let own = format!("{MINIMAL}[[apps]]\nname = \"telegram\"\nendpoints = [\"10.0.0.1:443\"]\n");
        assert_eq!(parse(&own).app_names(), ["telegram"], "no shipped app unless asked");
        let both = parse(&format!("{own}[lists]\ndefault_apps = true\n"));
        assert!(both.problems().is_empty(), "{:?}", both.problems());
        assert_eq!(
            both.app_names(),
            ["telegram", "whatsapp", "signal", "instagram", "facebook_messenger"]
        );
    }

    #[test]
    fn the_shipped_sample_is_valid_apart_from_its_placeholders() {
        let sample: ProbeConfig = toml::from_str(include_str!("../probe.sample.toml")).expect("sample parses");
        let keys: Vec<String> = sample.problems().into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["collector.token"], "only the token placeholder needs filling in");
    }
}

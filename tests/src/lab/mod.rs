//! The end-to-end lab: a small simulated country in Linux network namespaces (see [`country`]), with real
//! servers from Debian packages, the real collector and probe release binaries, and named scenarios that break
//! it in the ways shutdowns, power cuts and censors do ([`scenarios`]).
//!
//! Needs root and `ip`, `nft`, `iptables`, `tc`, `ss`, `nginx` and `dnsmasq`. Everything it creates is named `vgl-…`; every
//! address it uses is a 10.x address inside its own namespaces. [`net::teardown`] removes it all, and runs on
//! success, failure and Ctrl-C.

pub mod api;
pub mod country;
pub mod faults;
pub mod net;
pub mod nodes;
pub mod oracle;
pub mod scenarios;
pub mod servers;

use std::path::{Path, PathBuf};

use api::Api;

/// The collector's classifier window in the lab, seconds: longer than every scenario but the one about windows.
pub const DEFAULT_WINDOW_SECS: u64 = 1800;
use country::{NS_COLLECTOR, Sky, running, spec};
use nodes::{Binaries, CollectorNode, ProbeNode};
use servers::Servers;

/// What went wrong in the lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A command failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its error output.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The lab cannot run here, or something in it did not start.
    #[error("{0}")]
    Setup(String),
    /// The collector's API answered with an error.
    #[error("collector API: {0}")]
    Api(String),
    /// A scenario's verdict was not the expected one.
    #[error("{0}")]
    Verdict(String),
}

impl LabError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        LabError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Programs the lab runs, and the Debian packages that have them.
const TOOLS: [(&str, &str); 8] = [
    ("ip", "iproute2"),
    ("ss", "iproute2"),
    ("tc", "iproute2"),
    ("nft", "nftables"),
    ("iptables", "iptables"),
    ("nginx", "nginx-light"),
    ("dnsmasq", "dnsmasq-base"),
    ("sysctl", "procps"),
];

/// Checks the lab can run here: root, and every tool. The error lists what is missing and how to install it.
pub fn preflight() -> Result<(), LabError> {
    let mut problems = Vec::new();
    if !rustix::process::geteuid().is_root() {
        problems.push("the lab needs root (network namespaces, nftables)".to_owned());
    }
    let missing: Vec<(&str, &str)> = TOOLS.iter().copied().filter(|(tool, _)| !on_path(tool)).collect();
    if !missing.is_empty() {
        let mut packages: Vec<&str> = missing.iter().map(|(_, p)| *p).collect();
        packages.dedup();
        problems.push(format!(
            "missing tools: {} — install them with `apt-get install {}`",
            missing.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", "),
            packages.join(" ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(LabError::Setup(format!("the lab cannot run: {}", problems.join("; "))))
    }
}

fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .any(|dir| dir.join(tool).is_file())
}

/// The lab's working directory: `$VIGIL_LAB_DIR`, else `/tmp/vigil-lab`.
pub fn work_dir() -> PathBuf {
    std::env::var_os("VIGIL_LAB_DIR").map_or_else(|| PathBuf::from("/tmp/vigil-lab"), PathBuf::from)
}

/// The running lab: topology, servers, and (per run) a collector and the probes.
pub struct Lab {
    /// Working directory (configs, stores, logs).
    pub dir: PathBuf,
    /// The binaries under test.
    pub bins: Binaries,
    servers: Servers,
    collector: Option<CollectorNode>,
    /// The probes of the current run, by number − 1.
    pub probes: Vec<ProbeNode>,
    api: Api,
}

impl Lab {
    /// Builds the topology and starts the servers (after removing anything an earlier run left).
    pub fn up() -> Result<Self, LabError> {
        preflight()?;
        let bins = Binaries::locate()?;
        let dir = work_dir();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| LabError::io(&dir, e))?;
        net::build()?;
        let servers = Servers::start(&dir.join("servers"), &bins)?;
        let api = Api::in_namespace(NS_COLLECTOR)?;
        Ok(Lab {
            dir,
            bins,
            servers,
            collector: None,
            probes: Vec::new(),
            api,
        })
    }

    /// Starts a run from scratch: faults cleared, a new collector (classifying windows of `window_secs`) with an
    /// empty store, every probe `sky` runs registered and started with an empty spool and a fresh boot.
    pub fn fresh_run(&mut self, name: &str, window_secs: u64, sky: Sky) -> Result<PathBuf, LabError> {
        self.stop_run();
        self.clear_faults()?;
        let run_dir = self.dir.join("runs").join(name);
        let _ = std::fs::remove_dir_all(&run_dir);
        let collector = CollectorNode::start(&self.bins, &run_dir.join("collector"), window_secs)?;
        for n in running(sky) {
            let spec = spec(n).ok_or_else(|| LabError::Setup(format!("no probe {n}")))?;
            let (probe_id, token) = collector.register(&self.bins, &spec)?;
            let node = ProbeNode::prepare(
                n,
                spec,
                (probe_id, &token),
                &run_dir.join(spec.name),
                &self.servers.ca_file,
                sky,
            )?;
            self.probes.push(node);
        }
        self.collector = Some(collector);
        let bins = self.bins.clone();
        for node in &mut self.probes {
            node.start(&bins)?;
        }
        Ok(run_dir)
    }

    /// Stops the current run's probes and collector.
    pub fn stop_run(&mut self) {
        self.probes.clear();
        self.collector = None;
    }

    /// The collector's API.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// The current run's collector.
    pub fn collector(&self) -> Result<&CollectorNode, LabError> {
        self.collector
            .as_ref()
            .ok_or_else(|| LabError::Setup("no collector is running".to_owned()))
    }

    /// A probe by number.
    pub fn probe_mut(&mut self, n: usize) -> Result<&mut ProbeNode, LabError> {
        self.probes
            .get_mut(n.wrapping_sub(1))
            .ok_or_else(|| LabError::Setup(format!("no probe {n}")))
    }

    /// Whatever stopped that should run: a server, the collector, or a probe that was not killed on purpose.
    pub fn casualties(&mut self) -> Vec<String> {
        let mut out: Vec<String> = self.servers.exited().into_iter().collect();
        if let Some(c) = self.collector.as_mut()
            && !c.running()
        {
            out.push("vigil-collector".to_owned());
        }
        out
    }

    /// Leaves everything running (for `vigil-lab up`): the processes outlive this program; `vigil-lab down`
    /// removes them.
    pub fn detach(self) {
        std::mem::forget(self);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop_run();
        net::teardown();
    }
}

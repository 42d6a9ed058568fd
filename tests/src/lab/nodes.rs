//! The real `vigil-collector` and `vigil-probe` release binaries, run inside the lab's namespaces, and the files
//! a probe reads its vitals from (boot id, uptime, power supplies), which the lab writes to simulate power.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::LabError;
use super::country::{
    APP, COLLECTOR, COLLECTOR_PORT, DISH_IF, DOMESTIC_WEB, Dish, HOME_COUNTRY, INTL_ANCHORS, NS_COLLECTOR,
    PUBLIC_RESOLVER, ProbeSpec, SITES, Sky, app_endpoints, asn_table, ns_probe, site_url,
};

/// Where the release binaries are.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `vigil-collector`.
    pub collector: PathBuf,
    /// `vigil-probe`.
    pub probe: PathBuf,
    /// `vigil-lab-sky`, the satellite path's delay and loss (built with the lab, beside the program running it).
    pub sky: PathBuf,
    /// `vigil-lab-h3`, the HTTPS site's HTTP/3 server (built with the lab, beside the program running it).
    pub h3: PathBuf,
}

/// A program of the lab's own, built with it: beside the program running (the test, or `vigil-lab`).
fn beside_the_lab(name: &str) -> Result<PathBuf, LabError> {
    let exe = std::env::current_exe().map_err(|e| LabError::Setup(e.to_string()))?;
    exe.ancestors()
        .map(|a| a.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            LabError::Setup(format!(
                "{name} is missing beside the lab: build it with `cargo build -p vigil-lab --bins`"
            ))
        })
}

impl Binaries {
    /// `$VIGIL_LAB_BIN_DIR`, else the `release` directory of the target directory this program runs from.
    pub fn locate() -> Result<Self, LabError> {
        let dir = match std::env::var_os("VIGIL_LAB_BIN_DIR") {
            Some(d) => PathBuf::from(d),
            None => {
                let exe = std::env::current_exe().map_err(|e| LabError::Setup(e.to_string()))?;
                exe.ancestors()
                    .map(|a| a.join("release"))
                    .find(|r| r.join("vigil-probe").is_file())
                    .ok_or_else(|| {
                        LabError::Setup(
                            "the release binaries are missing: run `cargo build --release --bins` first (or set \
                             VIGIL_LAB_BIN_DIR)"
                                .to_owned(),
                        )
                    })?
            }
        };
        let sky = beside_the_lab("vigil-lab-sky")?;
        let h3 = beside_the_lab("vigil-lab-h3")?;
        let bins = Binaries {
            collector: dir.join("vigil-collector"),
            probe: dir.join("vigil-probe"),
            sky,
            h3,
        };
        for b in [&bins.collector, &bins.probe] {
            if !b.is_file() {
                return Err(LabError::Setup(format!(
                    "{} is missing: run `cargo build --release --bins`",
                    b.display()
                )));
            }
        }
        Ok(bins)
    }
}

/// Collector settings for a lab run: seconds, not minutes.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Classifier bucket.
    pub bucket_secs: u64,
    /// Probe cycle (vitals, anchors, test list).
    pub cycle_secs: u64,
}

/// The lab's clock: 8-second buckets and 5-second probe cycles (the probe's minimum), so every bucket of a
/// healthy probe holds at least one cycle.
pub const TIMING: Timing = Timing {
    bucket_secs: 8,
    cycle_secs: 5,
};

/// A collector serving in its namespace.
pub struct CollectorNode {
    child: Option<Child>,
    /// Its directory (config, store, log).
    pub dir: PathBuf,
    /// The `--store` address.
    pub store: String,
}

impl CollectorNode {
    /// Writes a config with a fresh store under `dir` and starts `serve`, classifying windows of `window_secs`;
    /// returns once it listens.
    pub fn start(bins: &Binaries, dir: &Path, window_secs: u64) -> Result<Self, LabError> {
        std::fs::create_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
        let store = format!("sqlite:{}", dir.join("vigil.db").display());
        // The lab's address plan as an IP-to-ASN table: the collector names the network each upload arrived from.
        let table = dir.join("ip2asn.tsv");
        std::fs::write(&table, asn_table()).map_err(|e| LabError::io(&table, e))?;
        // Lab time runs fast (seconds-long buckets), so a probe fault counts from two buckets, not ten minutes.
        let config = format!(
            "listen = \"0.0.0.0:{COLLECTOR_PORT}\"\nstore = \"{store}\"\nbucket_secs = {}\n\n[classifier]\n\
             interval_secs = 2\nwindow_secs = {window_secs}\nsettle_secs = 2\n\
             probe_fault_min_secs = {}\n\n[ingest]\nasn_table = \"{}\"\n",
            TIMING.bucket_secs,
            2 * TIMING.bucket_secs,
            table.display()
        );
        let config_path = dir.join("collector.toml");
        std::fs::write(&config_path, config).map_err(|e| LabError::io(&config_path, e))?;
        let log = dir.join("collector.log");
        let err = std::fs::File::create(&log).map_err(|e| LabError::io(&log, e))?;
        let mut child = Command::new("ip")
            .args(["netns", "exec", NS_COLLECTOR])
            .arg(&bins.collector)
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .map_err(|e| LabError::Setup(format!("vigil-collector does not start: {e}")))?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        if !line.contains("listening") {
            let _ = child.kill();
            return Err(LabError::Setup(format!(
                "vigil-collector did not start (see {}): {line:?}",
                log.display()
            )));
        }
        Ok(CollectorNode {
            child: Some(child),
            dir: dir.to_owned(),
            store,
        })
    }

    /// Registers a probe; returns (probe id, token).
    pub fn register(&self, bins: &Binaries, spec: &ProbeSpec) -> Result<(String, String), LabError> {
        let asn = spec.asn.to_string();
        let mut args = vec![
            "probe",
            "add",
            "--name",
            spec.name,
            "--country",
            spec.country,
            "--asn",
            &asn,
            "--access",
            spec.access,
            "--store",
            &self.store,
            "--json",
        ];
        if let Some(region) = spec.region {
            args.extend(["--region", region]);
        }
        if spec.ups {
            args.push("--ups");
        }
        let out = Command::new(&bins.collector)
            .args(&args)
            .env("RUST_LOG", "warn")
            .output()
            .map_err(|e| LabError::Setup(e.to_string()))?;
        if !out.status.success() {
            return Err(LabError::Setup(format!(
                "probe add failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let json: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| LabError::Setup(format!("probe add: {e}")))?;
        match (json["probe_id"].as_str(), json["token"].as_str()) {
            (Some(id), Some(token)) => Ok((id.to_owned(), token.to_owned())),
            _ => Err(LabError::Setup(format!("probe add printed {json}"))),
        }
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for CollectorNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The power a probe's supply files show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerState {
    /// Mains.
    Mains,
    /// On battery (UPS probes when the mains fail).
    Battery,
}

/// One probe: its files, registration and process.
pub struct ProbeNode {
    /// Its number (1-based).
    pub n: usize,
    /// What it is.
    pub spec: ProbeSpec,
    /// Collector-assigned id.
    pub probe_id: String,
    /// Its directory (config, state, vitals files, log).
    pub dir: PathBuf,
    child: Option<Child>,
}

impl ProbeNode {
    /// Writes a probe's config and vitals files (a fresh boot) under `dir`, with an empty state directory; under
    /// [`Sky::Dishes`] a probe with a dish declares its line and its dish as `[[uplinks]]`.
    pub fn prepare(
        n: usize,
        spec: ProbeSpec,
        registered: (String, &str),
        dir: &Path,
        ca_file: &Path,
        sky: Sky,
    ) -> Result<Self, LabError> {
        let (probe_id, token) = registered;
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir.join("state")).map_err(|e| LabError::io(dir, e))?;
        let node = ProbeNode {
            n,
            spec,
            probe_id,
            dir: dir.to_owned(),
            child: None,
        };
        node.boot()?;
        node.set_power(PowerState::Mains)?;
        let list = dir.join("list.csv");
        let mut csv = String::from("url,category_code,category_description,date_added,source,notes\n");
        for (host, _) in SITES {
            csv.push_str(&format!("{},NEWS,News Media,2026-01-01,vigil-lab,\n", site_url(host)));
        }
        std::fs::write(&list, csv).map_err(|e| LabError::io(&list, e))?;
        let at_home = spec.country == HOME_COUNTRY;
        let anchors = if at_home {
            format!(
                "[[anchors]]\ntarget = \"http://{DOMESTIC_WEB}/\"\nscope = \"domestic\"\n\n\
                 [[anchors]]\ntarget = \"http://{}/\"\nscope = \"international\"\n\n\
                 [[anchors]]\ntarget = \"http://{}/\"\nscope = \"international\"\n",
                INTL_ANCHORS[0], INTL_ANCHORS[1]
            )
        } else {
            // Abroad, the international servers are domestic; the lab country is not an anchor (its cut would
            // look like these probes' own).
            format!(
                "[[anchors]]\ntarget = \"http://{}/\"\nscope = \"domestic\"\n\n\
                 [[anchors]]\ntarget = \"http://{}/\"\nscope = \"international\"\n",
                INTL_ANCHORS[0], INTL_ANCHORS[1]
            )
        };
        // Every probe measures the country's test list, the ones abroad too: a site loading from outside while a
        // network here fails it is the control a censor's block is confirmed by (issue 25, item 4).
        let lists = format!("files = [\"{}\"]\nca_file = \"{}\"", list.display(), ca_file.display());
        let uplinks = match (sky, spec.dish) {
            (Sky::Dishes, Dish::Live | Dish::Hold) => format!(
                "[[uplinks]]\nname = \"line\"\ninterface = \"eth0\"\naccess = \"{}\"\n\n\
                 [[uplinks]]\nname = \"dish\"\ninterface = \"{DISH_IF}\"\naccess = \"satellite\"\n\n",
                spec.access
            ),
            _ => String::new(),
        };
        let during_isolation = match (sky, spec.dish) {
            (Sky::Dishes, Dish::Live) => "other_uplinks",
            (Sky::Dishes, Dish::Hold) => "hold",
            _ => "send",
        };
        // The lab's messaging app, on every probe (its endpoints measured with the test list).
        let apps = format!(
            "[[apps]]\nname = \"{APP}\"\nendpoints = [{}]\n",
            app_endpoints().map(|e| format!("\"{e}\"")).join(", ")
        );
        let d = dir.display();
        // Every lab address is private: the probe's own network is its home LAN (`local_prefixes`), so the ISP's
        // and the border's hops count as beyond it, as a real ISP's public addresses would.
        let config = format!(
            "[collector]\nurl = \"http://{COLLECTOR}:{COLLECTOR_PORT}\"\ntoken = \"{token}\"\n\n\
             [probe]\nstate_dir = \"{d}/state\"\ncycle_secs = {c}\nlist_cycle_secs = {c}\ndaily_budget_mb = 10000\n\
             concurrency = 4\nlocal_prefixes = [\"10.100.{n}.0/24\"]\nprivate_hops_are_local = false\n\n{anchors}\n\
             [[resolvers]]\naddress = \"udp://{PUBLIC_RESOLVER}:53\"\ncontrol = true\n\n\
             [dns]\ninclude_system = true\nflag_bogon_answers = false\n\n[lists]\n{lists}\n\n\
             [vitals]\nboot_id_path = \"{d}/vitals/boot_id\"\nuptime_path = \"{d}/vitals/uptime\"\n\
             power_supply_dir = \"{d}/vitals/power\"\ntrust_wall_clock = true\n\n\
             [timeouts]\ndns_secs = 1.0\nconnect_secs = 1.5\nhttp_secs = 3.0\nupload_secs = 4.0\n\n\
             [upload]\nmax_backoff_secs = 2\nduring_isolation = \"{during_isolation}\"\n\n{uplinks}{apps}",
            c = TIMING.cycle_secs,
        );
        let path = dir.join("probe.toml");
        std::fs::write(&path, config).map_err(|e| LabError::io(&path, e))?;
        Ok(node)
    }

    /// A new boot: a fresh boot id and an uptime of a few seconds.
    pub fn boot(&self) -> Result<(), LabError> {
        let vitals = self.dir.join("vitals");
        std::fs::create_dir_all(&vitals).map_err(|e| LabError::io(&vitals, e))?;
        write(&vitals.join("boot_id"), &format!("{}\n", uuid::Uuid::now_v7()))?;
        write(&vitals.join("uptime"), "4.20 3.10\n")
    }

    /// The boot id the probe reads now.
    pub fn boot_id(&self) -> String {
        std::fs::read_to_string(self.dir.join("vitals/boot_id"))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    /// Writes the power-supply files: mains for everyone; UPS probes also have a battery, discharging on
    /// `Battery`.
    pub fn set_power(&self, state: PowerState) -> Result<(), LabError> {
        let power = self.dir.join("vitals/power");
        let mains = power.join("AC");
        std::fs::create_dir_all(&mains).map_err(|e| LabError::io(&mains, e))?;
        write(&mains.join("type"), "Mains\n")?;
        write(
            &mains.join("online"),
            if state == PowerState::Mains { "1\n" } else { "0\n" },
        )?;
        if self.spec.ups {
            let battery = power.join("BAT0");
            std::fs::create_dir_all(&battery).map_err(|e| LabError::io(&battery, e))?;
            write(&battery.join("type"), "Battery\n")?;
            write(
                &battery.join("status"),
                if state == PowerState::Mains {
                    "Full\n"
                } else {
                    "Discharging\n"
                },
            )?;
            write(&battery.join("capacity"), "80\n")?;
        }
        Ok(())
    }

    /// Starts `vigil-probe run` in the probe's namespace (its log is appended to `probe.log`).
    pub fn start(&mut self, bins: &Binaries) -> Result<(), LabError> {
        let log = self.log_path();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| LabError::io(&log, e))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &ns_probe(self.n)])
            .arg(&bins.probe)
            .arg("run")
            .arg("--config")
            .arg(self.dir.join("probe.toml"))
            .env("RUST_LOG", "info,vigil_probe::journal=debug")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .map_err(|e| LabError::Setup(format!("vigil-probe does not start: {e}")))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL: what losing power does to a process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether its process runs.
    pub fn running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Its log.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("probe.log")
    }
}

impl Drop for ProbeNode {
    fn drop(&mut self) {
        self.kill();
    }
}

fn write(path: &Path, content: &str) -> Result<(), LabError> {
    std::fs::write(path, content).map_err(|e| LabError::io(path, e))
}

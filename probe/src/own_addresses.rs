//! The probe's own addresses, which it never sends (DESIGN.md §2): those on its interfaces (a VPS's public
//! address, a Pi's LAN address) and those the collector has seen it connect from (a home router's public
//! address, which no interface shows). The uploader withholds all of them from every line before signing; the
//! learnt ones are kept in the state directory (`own_addresses`, one per line, 0600), so a restart does not
//! forget them.

use std::borrow::Cow;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use vigil_measurement::{Measurement, mentions_address};

/// The file under the state directory.
const FILE: &str = "own_addresses";
/// Learnt addresses kept (a home connection renumbered daily fills this in two months; the oldest go first).
const MAX_LEARNT: usize = 64;

/// The addresses learnt from the collector, and the interfaces' at the time of asking.
#[derive(Debug)]
pub struct OwnAddresses {
    path: PathBuf,
    learnt: Vec<IpAddr>,
}

impl OwnAddresses {
    /// Loads what earlier runs learnt (a missing file is an empty list; unreadable lines are skipped).
    pub fn load(state_dir: &Path) -> Self {
        let path = state_dir.join(FILE);
        let learnt = match std::fs::read_to_string(&path) {
            Ok(text) => text.lines().filter_map(|l| l.trim().parse().ok()).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the probe's learnt addresses");
                Vec::new()
            }
        };
        OwnAddresses { path, learnt }
    }

    /// Remembers `address` (durably: written to a temporary file, synced, renamed). Returns whether it was new.
    pub fn learn(&mut self, address: IpAddr) -> std::io::Result<bool> {
        if self.learnt.contains(&address) {
            return Ok(false);
        }
        self.learnt.push(address);
        if self.learnt.len() > MAX_LEARNT {
            self.learnt.remove(0);
        }
        let temp = self.path.with_extension("tmp");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)?;
        for a in &self.learnt {
            writeln!(file, "{a}")?;
        }
        file.sync_all()?;
        std::fs::rename(&temp, &self.path)?;
        if let Some(dir) = self.path.parent()
            && let Ok(dir) = std::fs::File::open(dir)
        {
            let _ = dir.sync_all();
        }
        Ok(true)
    }

    /// Every address to withhold now: the learnt ones and the interfaces' (loopback excluded: it says nothing
    /// about where the probe is, and a local resolver's `127.0.0.53` is evidence worth keeping).
    pub fn current(&self) -> Vec<IpAddr> {
        let mut all = self.learnt.clone();
        for a in crate::sys::interface_addresses() {
            if !a.is_loopback() && !a.is_unspecified() && !all.contains(&a) {
                all.push(a);
            }
        }
        all
    }
}

/// `line` (one spooled measurement) with the `own` addresses withheld; borrowed when it writes none of them. A
/// line that does not parse is returned as is (the collector will refuse it with a reason, and it is quarantined).
pub fn withhold_in_line<'a>(line: &'a str, own: &[IpAddr]) -> Cow<'a, str> {
    if !own.iter().any(|a| mentions_address(line, *a)) {
        return Cow::Borrowed(line);
    }
    match Measurement::from_json_slice(line.as_bytes()) {
        Ok(mut m) => {
            if m.withhold_addresses(own) {
                Cow::Owned(m.to_json_line())
            } else {
                Cow::Borrowed(line)
            }
        }
        Err(_) => Cow::Borrowed(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learnt_addresses_survive_a_restart_and_stay_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let addr: IpAddr = "10.88.2.2".parse().expect("ip");
        let mut own = OwnAddresses::load(dir.path());
        assert!(own.learn(addr).expect("learn"));
        assert!(!own.learn(addr).expect("learn again"));
        let again = OwnAddresses::load(dir.path());
        assert!(again.current().contains(&addr));
        let mode = std::fs::metadata(dir.path().join(FILE)).expect("file").permissions();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o077, 0);
    }

    #[test]
    fn only_lines_naming_an_own_address_are_rewritten() {
        let own: Vec<IpAddr> = vec!["10.88.2.2".parse().expect("ip")];
        let clean = r#"{"schema":1,"id":"0192f3c4-7a1e-7cc0-9a7b-3f1d2e4c5b6a","kind":"tcp","started_at":"2026-11-23T10:00:00Z","duration_ms":1.0,"target":{"name":"a","scope":"international"},"result":{"outcome":"ok","ip":"10.88.2.1","port":80}}"#;
        assert!(matches!(withhold_in_line(clean, &own), Cow::Borrowed(_)));
        let dirty = clean.replace("10.88.2.1", "10.88.2.2");
        let fixed = withhold_in_line(&dirty, &own);
        assert!(!mentions_address(&fixed, own[0]), "{fixed}");
        assert!(matches!(withhold_in_line("not json 10.88.2.2", &own), Cow::Borrowed(_)));
    }
}

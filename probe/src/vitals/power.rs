//! Power from the kernel's power-supply class (`/sys/class/power_supply/*`): mains `online`, battery `status`
//! and `capacity`. Every field stays `null` when the hardware says nothing (a Pi on a plain adapter has no
//! power-supply entries at all).

use std::path::Path;

use vigil_measurement::result::Power;

/// Reads every supply under `dir`.
pub fn read_power(dir: &Path) -> Power {
    let mut power = Power::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return power;
    };
    let mut battery_discharging = None;
    for entry in entries.flatten() {
        let supply = entry.path();
        let kind = read_trimmed(&supply.join("type")).unwrap_or_default();
        match kind.as_str() {
            "Mains" | "USB" | "UPS" => {
                if let Some(online) = read_trimmed(&supply.join("online")) {
                    let online = online == "1";
                    power.ac_online = Some(power.ac_online.unwrap_or(false) || online);
                }
            }
            "Battery" => {
                if let Some(status) = read_trimmed(&supply.join("status")) {
                    let discharging = status.eq_ignore_ascii_case("Discharging");
                    battery_discharging = Some(battery_discharging.unwrap_or(false) || discharging);
                }
                if let Some(pct) = read_trimmed(&supply.join("capacity")).and_then(|c| c.parse::<f64>().ok())
                    && (0.0..=100.0).contains(&pct)
                {
                    power.battery_pct = Some(power.battery_pct.map_or(pct, |p: f64| p.min(pct)));
                }
            }
            _ => {}
        }
    }
    // On battery: a battery says it discharges, or mains is reported off while a battery exists.
    power.on_battery = match (battery_discharging, power.ac_online) {
        (Some(true), _) => Some(true),
        (Some(false), Some(false)) => Some(true),
        (Some(false), _) => Some(false),
        (None, _) => None,
    };
    power
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn supply(dir: &Path, name: &str, files: &[(&str, &str)]) {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).expect("mkdir");
        for (file, value) in files {
            std::fs::write(d.join(file), format!("{value}\n")).expect("write");
        }
    }

    #[test]
    fn mains_and_a_charging_battery() {
        let dir = tempfile::tempdir().expect("temp dir");
        supply(dir.path(), "AC", &[("type", "Mains"), ("online", "1")]);
        supply(
            dir.path(),
            "BAT0",
            &[("type", "Battery"), ("status", "Charging"), ("capacity", "81")],
        );
        let p = read_power(dir.path());
        assert_eq!(
            (p.ac_online, p.on_battery, p.battery_pct),
            (Some(true), Some(false), Some(81.0))
        );
    }

    #[test]
    fn mains_lost_and_a_discharging_battery_is_on_battery() {
        let dir = tempfile::tempdir().expect("temp dir");
        supply(dir.path(), "AC", &[("type", "Mains"), ("online", "0")]);
        supply(
            dir.path(),
            "BAT0",
            &[("type", "Battery"), ("status", "Discharging"), ("capacity", "12")],
        );
        let p = read_power(dir.path());
        assert_eq!(
            (p.ac_online, p.on_battery, p.battery_pct),
            (Some(false), Some(true), Some(12.0))
        );
    }

    #[test]
    fn no_supplies_means_unknown_not_false() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(read_power(dir.path()), Power::default());
        assert_eq!(read_power(&dir.path().join("missing")), Power::default());
    }
}

//! Link carrier of an interface from `/sys/class/net/<iface>/carrier` (with `operstate` as a fallback).

use std::path::Path;

/// Whether the interface has carrier; `None` when the kernel does not say.
pub fn carrier(net_dir: &Path, interface: &str) -> Option<bool> {
    if interface.is_empty() || interface.contains('/') || interface.starts_with('.') {
        return None;
    }
    let dir = net_dir.join(interface);
    if let Ok(text) = std::fs::read_to_string(dir.join("carrier")) {
        return match text.trim() {
            "1" => Some(true),
            "0" => Some(false),
            _ => None,
        };
    }
    match std::fs::read_to_string(dir.join("operstate")).ok()?.trim() {
        "up" => Some(true),
        "down" | "lowerlayerdown" | "dormant" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carrier_then_operstate_then_unknown() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("eth0")).expect("mkdir");
        std::fs::write(dir.path().join("eth0/carrier"), "1\n").expect("write");
        std::fs::create_dir_all(dir.path().join("wlan0")).expect("mkdir");
        std::fs::write(dir.path().join("wlan0/operstate"), "down\n").expect("write");
        assert_eq!(carrier(dir.path(), "eth0"), Some(true));
        assert_eq!(carrier(dir.path(), "wlan0"), Some(false));
        assert_eq!(carrier(dir.path(), "ppp0"), None);
        assert_eq!(carrier(dir.path(), "../etc"), None);
    }
}

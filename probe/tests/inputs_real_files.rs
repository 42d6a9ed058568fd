//! Fingerprint and test-list loaders on the real third-party files in `../shared/data` (never committed here).
//! Each test skips with a message when the files are absent; set `VIGIL_SHARED_DATA` to point elsewhere.

use std::path::PathBuf;

use vigil_probe::fingerprints::Fingerprints;
use vigil_probe::test_lists::TestLists;

fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("VIGIL_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: no shared data at {} (set VIGIL_SHARED_DATA)", dir.display());
        None
    }
}

#[test]
fn the_published_fingerprints_load_and_match_known_blockpages() {
    let Some(data) = shared_data() else { return };
    let (fingerprints, report) = Fingerprints::load_dir(&data.join("blocking-fingerprints")).expect("loads");
    assert!(report.loaded > 1800, "{report:?}");
    assert!(report.skipped.len() < 20, "{:?}", report.skipped);
    // DNS: a published Chinese poison address.
    assert_eq!(
        fingerprints.match_dns("8.7.198.45").map(|f| f.name.as_str()),
        Some("ooni.cn_0")
    );
    // A header prefix fingerprint.
    let hit = fingerprints.match_http([("Server", "Protected by WireFilter 8000 (KA-KANN)")], b"<html></html>");
    assert_eq!(hit.map(|f| f.name.as_str()), Some("ooni.ae_0"));
    // Ordinary pages match nothing.
    let page = b"<!doctype html><html><head><title>Example Domain</title></head><body><p>This domain is for use in illustrative examples.</p></body></html>";
    assert!(fingerprints.match_http([("server", "ECS (dcb/7EA3)")], page).is_none());
}

#[test]
fn false_positive_fingerprints_never_mark_a_page_blocked() {
    let Some(data) = shared_data() else { return };
    let (fingerprints, _) = Fingerprints::load_dir(&data.join("blocking-fingerprints")).expect("loads");
    let fp = fingerprints
        .all()
        .find(|f| f.scope == "fp" && f.pattern.len() > 12 && !f.pattern.contains('*'))
        .expect("the published set has false-positive fingerprints");
    let page = format!("<html><body>{}</body></html>", fp.pattern);
    if let Some(hit) = fingerprints.match_http([], page.as_bytes()) {
        assert!(
            hit.indicates_blocking() && hit.name != fp.name,
            "{} matched as blocking",
            fp.name
        );
    }
}

#[test]
fn citizen_lab_lists_load_without_duplicates() {
    let Some(data) = shared_data() else { return };
    let lists = TestLists::load(&[data.join("test-lists/global.csv"), data.join("test-lists/ir.csv")]).expect("loads");
    assert!(lists.entries.len() > 2000, "{}", lists.entries.len());
    let unique: std::collections::HashSet<_> = lists.entries.iter().map(|e| &e.url).collect();
    assert_eq!(unique.len(), lists.entries.len());
    assert!(
        lists
            .entries
            .iter()
            .any(|e| e.list == "citizenlab-ir" && !e.category.is_empty())
    );
    assert!(lists.entries.iter().all(|e| matches!(e.url.scheme(), "http" | "https")));
}

#[test]
fn a_file_that_is_not_a_test_list_is_refused() {
    let Some(data) = shared_data() else { return };
    let err = TestLists::load(&[data.join("blocking-fingerprints/fingerprints_dns.csv")]).expect_err("not a list");
    assert!(err.to_string().contains("no `url` column"), "{err}");
}

//! Fingerprint and test-list loaders on the real third-party files in `../shared/data` (never committed here),
//! and the HTTP check recognising a real published blockpage fingerprint on a loopback server. Set
//! `VIGIL_SHARED_DATA` to point elsewhere. Without the files each test is reported *ignored* with the reason (a
//! failure under `VIGIL_REQUIRE_ALL=1`, as in CI): see `support/precondition.rs`.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::{Arguments, Completion, Trial};
use support::precondition;
use support::web::{Route, serve};
use url::Url;
use vigil_measurement::{Limits, MeasurementResult, Outcome, Scope, Target, validate};
use vigil_probe::TestLists;
use vigil_probe::http::{HttpChecker, HttpSettings};
use vigil_probe::{Fingerprints, Location, PatternType};

/// A test body, given the shared data folder.
type DataTest = fn(&Path);

fn main() {
    let args = Arguments::from_args();
    let tests: [(&str, DataTest); 5] = [
        (
            "the_published_fingerprints_load_and_match_known_blockpages",
            the_published_fingerprints_load_and_match_known_blockpages,
        ),
        (
            "false_positive_fingerprints_never_mark_a_page_blocked",
            false_positive_fingerprints_never_mark_a_page_blocked,
        ),
        (
            "citizen_lab_lists_load_without_duplicates",
            citizen_lab_lists_load_without_duplicates,
        ),
        (
            "a_file_that_is_not_a_test_list_is_refused",
            a_file_that_is_not_a_test_list_is_refused,
        ),
        (
            "a_page_carrying_a_published_blockpage_fingerprint_is_a_blockpage",
            a_page_carrying_a_published_blockpage_fingerprint_is_a_blockpage,
        ),
    ];
    let trials = tests
        .into_iter()
        .map(|(name, test)| {
            Trial::ignorable_test(name, move || match precondition::shared_data() {
                Ok(data) => {
                    // A panic is the runner's failure, with its message.
                    test(&data);
                    Ok(Completion::Completed)
                }
                Err(reason) => precondition::unmet(&reason),
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn the_published_fingerprints_load_and_match_known_blockpages(data: &Path) {
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

fn false_positive_fingerprints_never_mark_a_page_blocked(data: &Path) {
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

fn citizen_lab_lists_load_without_duplicates(data: &Path) {
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

fn a_file_that_is_not_a_test_list_is_refused(data: &Path) {
    let err = TestLists::load(&[data.join("blocking-fingerprints/fingerprints_dns.csv")]).expect_err("not a list");
    assert!(err.to_string().contains("no `url` column"), "{err}");
}

fn a_page_carrying_a_published_blockpage_fingerprint_is_a_blockpage(data: &Path) {
    let data: PathBuf = data.join("blocking-fingerprints");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let (fingerprints, _) = Fingerprints::load_dir(&data).expect("loads");
        let published = fingerprints
            .all()
            .find(|f| {
                f.scope == "nat"
                    && f.location == Location::Body
                    && f.pattern_type == PatternType::Contains
                    && f.name.starts_with("ooni.")
            })
            .expect("the published set has national body fingerprints")
            .clone();
        let body = format!(
            "<html><head><title>Blocked</title></head><body>{}</body></html>",
            published.pattern
        );
        let addr = serve(HashMap::from([(
            "/news".to_owned(),
            Route::Page(403, vec![], body.into_bytes()),
        )]))
        .await;
        let checker = HttpChecker::new(
            HttpSettings {
                connect_timeout: Duration::from_secs(2),
                timeout: Duration::from_millis(1500),
                sni_control: None,
                quic: false,
            },
            Arc::new(fingerprints),
            &[],
        )
        .expect("checker");
        let url = Url::parse(&format!("http://{addr}/news")).expect("url");
        let target = Target {
            name: url.to_string(),
            scope: Scope::International,
            list: Some("test".to_owned()),
        };
        let m = checker.check(&url, target).await;
        validate(&m, chrono::Utc::now(), &Limits::default()).expect("valid schema 1");
        let MeasurementResult::Http(r) = &m.result else {
            panic!("not http: {:?}", m.result)
        };
        assert_eq!((r.outcome, r.status), (Outcome::Blockpage, Some(403)), "{r:?}");
        assert_eq!(r.fingerprint.as_deref(), Some(published.name.as_str()));
    });
}

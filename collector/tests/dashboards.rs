//! The Grafana dashboards (`dashboards/json/`) against real servers, since no Grafana runs here: each file is a
//! dashboard of the current classic schema with a sound layout and only the provisioned data sources; every
//! ClickHouse query (panels, annotations, variables), with Grafana's macros and the variables expanded as the
//! ClickHouse plugin does, runs on a real ClickHouse server holding a small country's data and returns rows —
//! and the ones that carry the story return the right rows; every PromQL expression runs on a real Prometheus
//! scraping the collector and returns series.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use regex::Regex;
use serde_json::Value;
use vigil_collector::CollectorConfig;
use vigil_collector::clickhouse_schema as schema;

use common::TestCollector;
use common::clickhouse::ClickHouseServer;
use common::country;
use common::current_release;
use common::prometheus::Prometheus;

/// Grafana's classic dashboard schema version these files are written for.
const SCHEMA_VERSION: u64 = 42;
const CLICKHOUSE_UID: &str = "vigil-clickhouse";
const PROMETHEUS_UID: &str = "vigil-prometheus";
const PANEL_TYPES: &[&str] = &[
    "timeseries",
    "table",
    "stat",
    "barchart",
    "state-timeline",
    "text",
    "row",
];

fn dashboards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards")
}

fn dashboards() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dashboards_dir().join("json"))
        .expect("dashboards/json")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable");
            let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()));
            (p.file_name().unwrap_or_default().to_string_lossy().into_owned(), json)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// One query of a dashboard, wherever it sits.
#[derive(Debug, Clone)]
struct Query {
    dashboard: String,
    place: String,
    datasource: String,
    text: String,
}

fn uid(v: &Value) -> String {
    v["datasource"]["uid"].as_str().unwrap_or_default().to_owned()
}

/// Every query of a dashboard: panel targets, annotation targets, variable queries.
fn queries(name: &str, d: &Value) -> Vec<Query> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().into_iter().flatten() {
        for t in p["targets"].as_array().into_iter().flatten() {
            let text = t["rawSql"].as_str().or(t["expr"].as_str()).unwrap_or_default();
            out.push(Query {
                dashboard: name.to_owned(),
                place: format!(
                    "panel {:?} {}",
                    p["title"].as_str().unwrap_or_default(),
                    t["refId"].as_str().unwrap_or_default()
                ),
                datasource: uid(t),
                text: text.to_owned(),
            });
        }
    }
    for a in d["annotations"]["list"].as_array().into_iter().flatten() {
        if a["builtIn"] == 1 {
            continue;
        }
        out.push(Query {
            dashboard: name.to_owned(),
            place: format!("annotation {:?}", a["name"].as_str().unwrap_or_default()),
            datasource: uid(a),
            text: a["target"]["rawSql"].as_str().unwrap_or_default().to_owned(),
        });
    }
    for v in d["templating"]["list"].as_array().into_iter().flatten() {
        let text = v["query"].as_str().or(v["query"]["query"].as_str()).unwrap_or_default();
        out.push(Query {
            dashboard: name.to_owned(),
            place: format!("variable {}", v["name"].as_str().unwrap_or_default()),
            datasource: uid(v),
            text: text.to_owned(),
        });
    }
    out
}

/// What is wrong with a dashboard's structure (empty when nothing).
fn structure_problems(name: &str, d: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut bad = |msg: String| problems.push(format!("{name}: {msg}"));
    for key in ["uid", "title", "description"] {
        if d[key].as_str().is_none_or(str::is_empty) {
            bad(format!("no {key}"));
        }
    }
    if d["uid"].as_str().is_some_and(|u| u.len() > 40) {
        bad("uid longer than Grafana's 40 characters".to_owned());
    }
    if d["schemaVersion"].as_u64() != Some(SCHEMA_VERSION) {
        bad(format!("schemaVersion {} (want {SCHEMA_VERSION})", d["schemaVersion"]));
    }
    if !d["tags"].as_array().is_some_and(|t| t.iter().any(|t| t == "vigil")) {
        bad("not tagged vigil".to_owned());
    }
    if d["time"]["from"].as_str().is_none() || d["time"]["to"].as_str().is_none() {
        bad("no default time range".to_owned());
    }
    for list in ["annotations", "templating"] {
        if !d[list]["list"].is_array() {
            bad(format!("{list}.list is not a list"));
        }
    }
    let panels = d["panels"].as_array().cloned().unwrap_or_default();
    if panels.is_empty() {
        bad("no panels".to_owned());
    }
    let mut ids = BTreeSet::new();
    let mut boxes: Vec<(String, [u64; 4])> = Vec::new();
    for p in &panels {
        let title = p["title"].as_str().unwrap_or_default().to_owned();
        if title.is_empty() {
            bad("a panel without a title".to_owned());
        }
        if !p["id"].as_u64().is_some_and(|id| ids.insert(id)) {
            bad(format!("panel {title:?}: missing or repeated id"));
        }
        let kind = p["type"].as_str().unwrap_or_default();
        if !PANEL_TYPES.contains(&kind) {
            bad(format!("panel {title:?}: unknown type {kind:?}"));
        }
        let g = &p["gridPos"];
        let Some([h, w, x, y]) = ["h", "w", "x", "y"]
            .map(|k| g[k].as_u64())
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .and_then(|v| <[u64; 4]>::try_from(v).ok())
        else {
            bad(format!("panel {title:?}: gridPos needs h, w, x, y"));
            continue;
        };
        if w == 0 || h == 0 || x + w > 24 {
            bad(format!("panel {title:?}: outside the 24-column grid"));
        }
        for (other, [oh, ow, ox, oy]) in &boxes {
            if x < ox + ow && *ox < x + w && y < oy + oh && *oy < y + h {
                bad(format!("panels {title:?} and {other:?} overlap"));
            }
        }
        boxes.push((title.clone(), [h, w, x, y]));
        let targets = p["targets"].as_array().cloned().unwrap_or_default();
        if targets.is_empty() {
            bad(format!("panel {title:?}: no queries"));
        }
        let mut refs = BTreeSet::new();
        for t in &targets {
            if !t["refId"].as_str().is_some_and(|r| refs.insert(r.to_owned())) {
                bad(format!("panel {title:?}: missing or repeated refId"));
            }
            match uid(t).as_str() {
                CLICKHOUSE_UID => {
                    if t["editorType"] != "sql"
                        || t["rawSql"].as_str().is_none_or(str::is_empty)
                        || !t["format"].is_u64()
                    {
                        bad(format!(
                            "panel {title:?}: a ClickHouse target needs editorType sql, rawSql and format"
                        ));
                    }
                }
                PROMETHEUS_UID => {
                    if t["expr"].as_str().is_none_or(str::is_empty) {
                        bad(format!("panel {title:?}: a Prometheus target needs expr"));
                    }
                }
                other => bad(format!("panel {title:?}: data source {other:?} is not provisioned")),
            }
        }
    }
    for v in d["templating"]["list"].as_array().into_iter().flatten() {
        if v["name"].as_str().is_none_or(str::is_empty) || ![CLICKHOUSE_UID, PROMETHEUS_UID].contains(&uid(v).as_str())
        {
            bad(format!(
                "variable {}: needs a name and a provisioned data source",
                v["name"]
            ));
        }
    }
    problems
}

#[test]
fn every_dashboard_is_a_sound_dashboard_of_the_current_schema() {
    let all = dashboards();
    let names: BTreeSet<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    for wanted in [
        "overview.json",
        "country.json",
        "censorship.json",
        "collector-health.json",
    ] {
        assert!(names.contains(wanted), "dashboards/json/{wanted} is missing");
    }
    let problems: Vec<String> = all.iter().flat_map(|(n, d)| structure_problems(n, d)).collect();
    assert!(problems.is_empty(), "{problems:#?}");
    let uids: BTreeSet<&str> = all.iter().filter_map(|(_, d)| d["uid"].as_str()).collect();
    assert_eq!(uids.len(), all.len(), "dashboard uids are unique");
    let sources = std::fs::read_to_string(dashboards_dir().join("provisioning/datasources/vigil.yaml")).expect("yaml");
    for uid in [CLICKHOUSE_UID, PROMETHEUS_UID] {
        assert!(sources.contains(&format!("uid: {uid}")), "provisioning lacks {uid}");
    }
    assert!(sources.contains("type: grafana-clickhouse-datasource"));
    // The structure check catches what it should.
    let mut broken = all[0].1.clone();
    broken["panels"][0]["datasource"]["uid"] = "elsewhere".into();
    broken["panels"][0]["targets"][0]["datasource"]["uid"] = "elsewhere".into();
    broken["schemaVersion"] = 30.into();
    assert_eq!(structure_problems("broken", &broken).len(), 2);
}

/// Grafana's time range and interval for a query.
struct Range {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval_s: i64,
}

/// Expands the ClickHouse plugin's macros and the dashboard variables as Grafana would; panics on any `$` left.
fn expand_sql(sql: &str, range: &Range, vars: &BTreeMap<&str, &str>) -> String {
    let date = |t: DateTime<Utc>| format!("toDate('{}')", t.format("%Y-%m-%d"));
    let time = |t: DateTime<Utc>| format!("toDateTime({})", t.timestamp());
    let with_args = Regex::new(r"\$__(timeFilter|dateFilter|timeInterval)\(([^()]*)\)").expect("regex");
    let mut out = with_args
        .replace_all(sql, |c: &regex::Captures| {
            let column = c[2].trim();
            match &c[1] {
                "timeFilter" => format!("{column} >= {} AND {column} <= {}", time(range.from), time(range.to)),
                "dateFilter" => format!("{column} >= {} AND {column} <= {}", date(range.from), date(range.to)),
                _ => format!(
                    "toStartOfInterval(toDateTime({column}), INTERVAL {} second)",
                    range.interval_s
                ),
            }
        })
        .into_owned();
    out = out
        .replace("$__fromTime", &time(range.from))
        .replace("$__toTime", &time(range.to))
        .replace("$__interval_s", &range.interval_s.to_string());
    expand_vars(&out, vars)
}

/// `${name}` and `$name` → the variable's value; panics on an unknown one.
fn expand_vars(text: &str, vars: &BTreeMap<&str, &str>) -> String {
    let var = Regex::new(r"\$\{(\w+)\}|\$(\w+)").expect("regex");
    var.replace_all(text, |c: &regex::Captures| {
        let name = c.get(1).or(c.get(2)).map(|m| m.as_str()).unwrap_or_default();
        match vars.get(name) {
            Some(v) => (*v).to_owned(),
            None => panic!("`${name}` is neither a macro nor a variable here:\n{text}"),
        }
    })
    .into_owned()
}

/// Runs `sql` on ClickHouse; the rows as JSON objects, or the server's error.
async fn run_clickhouse(client: &reqwest::Client, url: &str, database: &str, sql: &str) -> Result<Vec<Value>, String> {
    let resp = client
        .post(format!("{url}/?database={database}&default_format=JSON"))
        .body(sql.to_owned())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(body);
    }
    let json: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    Ok(json["data"].as_array().cloned().unwrap_or_default())
}

fn num(v: &Value) -> f64 {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_panel_query_runs_on_real_clickhouse_and_prometheus_and_returns_data() {
    let server = ClickHouseServer::start();
    let database = "dashboards";
    let spec = server.spec(database);
    // The server classifies every second with the data's buckets, so the event gauges have series.
    let mut config = CollectorConfig {
        bucket_secs: country::BUCKET as u64,
        ..CollectorConfig::default()
    };
    config.classifier.interval_secs = 1;
    let c = TestCollector::start_on(config, Some(spec)).await;
    let loaded = country::load(&c).await;
    // A refused batch, so the rejection series exists.
    let (_, token) = c.add_probe("rejected").await;
    assert_eq!(c.post(Some(&token), None, b"{not json\n".to_vec()).await.status, 400);

    let prometheus = Prometheus::scraping(c.addr);
    let range = Range {
        from: loaded.t0 - chrono::Duration::hours(1),
        to: Utc::now() + chrono::Duration::minutes(1),
        interval_s: country::BUCKET,
    };
    let all = dashboards();
    let variable_sets: BTreeMap<&str, Vec<BTreeMap<&str, &str>>> = BTreeMap::from([
        ("overview.json", vec![BTreeMap::new()]),
        (
            "country.json",
            vec![
                BTreeMap::from([("country", "XL"), ("asn", "0")]),
                BTreeMap::from([("country", "XL"), ("asn", "64501")]),
            ],
        ),
        (
            "censorship.json",
            vec![
                BTreeMap::from([("country", "ALL")]),
                BTreeMap::from([("country", "XL")]),
            ],
        ),
        ("collector-health.json", vec![BTreeMap::from([("job", "vigil")])]),
    ]);

    // ClickHouse: every query runs and returns rows.
    let mut failures = Vec::new();
    let mut ran = Vec::new();
    let mut results: BTreeMap<(String, String, String), Vec<Value>> = BTreeMap::new();
    let all_queries: Vec<Query> = all.iter().flat_map(|(n, d)| queries(n, d)).collect();
    for q in all_queries.iter().filter(|q| q.datasource == CLICKHOUSE_UID) {
        for vars in variable_sets
            .get(q.dashboard.as_str())
            .expect("variables for every dashboard")
        {
            let sql = expand_sql(&q.text, &range, vars);
            ran.push(sql.clone());
            match run_clickhouse(&c.client, &server.url(), database, &sql).await {
                Ok(rows) if rows.is_empty() => {
                    failures.push(format!("{} {} {vars:?}: no rows\n{sql}", q.dashboard, q.place))
                }
                Ok(rows) => {
                    results.insert((q.dashboard.clone(), q.place.clone(), format!("{vars:?}")), rows);
                }
                Err(e) => failures.push(format!("{} {} {vars:?}: {e}\n{sql}", q.dashboard, q.place)),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let rows = |dashboard: &str, place: &str, vars: &str| -> &Vec<Value> {
        results
            .iter()
            .find(|((d, p, v), _)| d == dashboard && p.starts_with(place) && v.contains(vars))
            .map(|(_, r)| r)
            .unwrap_or_else(|| panic!("no result for {dashboard} {place} {vars}"))
    };

    // The rows tell the country's story.
    let disruptions = rows("overview.json", "panel \"Disruptions\"", "");
    assert!(
        disruptions.iter().any(|r| r["class"] == "shutdown"
            && r["scope"] == "country"
            && r["country"] == "XL"
            && r["confidence"] == "high"
            && r["review"] == "pending"),
        "{disruptions:#?}"
    );
    let cut_start = (loaded.t0 + chrono::Duration::seconds(country::CUT.start * country::BUCKET)).timestamp();
    let cut_end = (loaded.t0 + chrono::Duration::seconds(country::CUT.end * country::BUCKET)).timestamp();
    let at = |r: &Value| {
        r["time"]
            .as_str()
            .and_then(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").ok())
            .map_or(i64::MIN, |t| t.and_utc().timestamp())
    };
    let states = rows("country.json", "panel \"Probe states\" A", "\"asn\": \"0\"");
    let isolated: Vec<&Value> = states
        .iter()
        .filter(|r| r["state"] == "isolated_international")
        .collect();
    assert!(!isolated.is_empty(), "{states:#?}");
    assert!(
        isolated
            .iter()
            .all(|r| (cut_start..cut_end).contains(&at(r)) && num(&r["probes"]) == 8.0),
        "every XL probe is isolated from the world during the cut and only then: {isolated:#?}"
    );
    let reach = rows("country.json", "panel \"Anchors reached", "\"asn\": \"0\"");
    let during = |scope: &str| {
        reach
            .iter()
            .filter(|r| r["scope"] == scope && (cut_start..cut_end).contains(&at(r)))
            .map(|r| num(&r["reached"]))
            .collect::<Vec<_>>()
    };
    assert!(during("international").iter().all(|v| *v == 0.0) && !during("international").is_empty());
    assert!(during("domestic").iter().all(|v| *v == 1.0) && !during("domestic").is_empty());
    let power = rows("country.json", "panel \"Power signals\"", "\"asn\": \"64501\"");
    assert!(power.iter().any(|r| num(&r["on_battery"]) == 1.0), "{power:#?}");
    let blocked = rows("censorship.json", "panel \"Blocked targets\"", "XL");
    let methods: BTreeSet<&str> = blocked
        .iter()
        .filter(|r| r["target"].as_str().is_some_and(|t| t.contains(country::BLOCKED)))
        .filter_map(|r| r["method"].as_str())
        .collect();
    assert!(methods.len() >= 2, "DNS injection and a blockpage: {blocked:#?}");
    assert!(blocked.iter().all(|r| r["country"] == "XL"), "only XL censors");
    let countries = rows("country.json", "variable country", "\"asn\": \"0\"");
    let named: BTreeSet<&str> = countries.iter().filter_map(|r| r["country"].as_str()).collect();
    assert!(named.contains("XF") && named.contains("XL"), "{countries:?}");

    // Prometheus: every expression returns series once a few scrapes are in.
    let vars = &variable_sets["collector-health.json"][0];
    let promql: Vec<(String, String)> = all_queries
        .iter()
        .filter(|q| q.datasource == PROMETHEUS_UID && !q.place.starts_with("variable"))
        .map(|q| {
            let expr = q.text.replace("$__rate_interval", "1m").replace("$__interval", "15s");
            (format!("{} {}", q.dashboard, q.place), expand_vars(&expr, vars))
        })
        .collect();
    assert!(promql.len() >= 15, "the health dashboard's expressions are found");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut missing = Vec::new();
        for (place, expr) in &promql {
            match prometheus.query(&c.client, expr).await {
                Some(Ok(series)) if !series.is_empty() => {}
                Some(Err(e)) => panic!("{place}: Prometheus refuses `{expr}`: {e}"),
                other => missing.push(format!("{place}: `{expr}` → {other:?}")),
            }
        }
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no series after 120 s:\n{}",
            missing.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The job variable's query (label_values) through the label API.
    let jobs: Value = c
        .client
        .get(format!("http://127.0.0.1:{}/api/v1/label/job/values", prometheus.port))
        .query(&[("match[]", "vigil_measurements_stored_total")])
        .send()
        .await
        .expect("labels")
        .json()
        .await
        .expect("json");
    assert_eq!(jobs["data"], serde_json::json!(["vigil"]));
    c.stop().await;

    // Users run current ClickHouse releases: every panel query answers the same rows on one. (After the collector
    // stopped, so its classifier no longer changes the rows between the two releases' reads.)
    let compared = current_release::replay(&server, database, &schema::single_server(), &ran);
    let timeless = ran.iter().filter(|q| !q.contains("now()")).count();
    assert_eq!(
        compared, timeless,
        "every panel query that does not read the clock compared"
    );
}

#[test]
fn macros_expand_as_the_clickhouse_plugin_does() {
    let range = Range {
        from: DateTime::from_timestamp(1_700_000_000, 0).expect("time"),
        to: DateTime::from_timestamp(1_700_003_600, 0).expect("time"),
        interval_s: 60,
    };
    let vars = BTreeMap::from([("country", "XL")]);
    assert_eq!(
        expand_sql(
            "WHERE $__timeFilter(t) AND $__dateFilter(day) AND x < $__toTime AND c = '${country}' AND d = '$country' GROUP BY $__interval_s",
            &range,
            &vars
        ),
        "WHERE t >= toDateTime(1700000000) AND t <= toDateTime(1700003600) AND day >= toDate('2023-11-14') AND \
         day <= toDate('2023-11-14') AND x < toDateTime(1700003600) AND c = 'XL' AND d = 'XL' GROUP BY 60"
    );
}

//! Replays what the collector ran on Debian's ClickHouse 18.16 on a current ClickHouse release: chDB (the
//! ClickHouse engine as a library, from PyPI) gets the same tables and rows, then runs every query. Each must run
//! there, and every read of the store's tables must answer the same rows on both releases.

use std::collections::BTreeMap;

use super::clickhouse::ClickHouseServer;

/// The DDL and the other queries a server logged (started with [`ClickHouseServer::start_logging_queries`]), in
/// the order they first ran. Inserts become reads of the columns they wrote (their rows went as RowBinary).
pub fn from_log(server: &ClickHouseServer) -> (Vec<String>, Vec<String>) {
    let insert = regex::Regex::new(r"(?s)^INSERT INTO\s+`?(\w+)`?\s*\(([^)]*)\)").expect("regex");
    let (mut setup, mut queries) = (Vec::new(), Vec::new());
    for sql in server.logged_queries() {
        let head = sql.trim_start().to_ascii_uppercase();
        // The log keeps the first 100,000 characters of a query: a longer one (an id lookup of thousands of ids)
        // cannot be replayed from it; shorter ones of the same shape are.
        if head.starts_with("SYSTEM") || sql.contains("system.query_log") || sql.len() >= 99_000 {
            continue;
        } else if head.starts_with("CREATE") {
            setup.push(sql);
        } else if let Some(c) = insert.captures(&sql) {
            queries.push(format!("SELECT {} FROM {} LIMIT 0", &c[2], &c[1]));
        } else {
            queries.push(sql);
        }
    }
    (setup, queries)
}

/// Loads `database`'s tables (made by `setup`) and rows into chDB, runs `queries` there and compares each answer
/// with 18.16's (reads of the server's own tables, its version or the clock excepted); `ALTER`s and the cluster
/// DDL are only parsed. Panics on any refusal or difference; returns how many answers were compared.
pub fn replay(server: &ClickHouseServer, database: &str, setup: &[String], queries: &[String]) -> usize {
    let (parse_only, run): (Vec<String>, Vec<String>) = queries
        .iter()
        .cloned()
        .partition(|q| q.trim_start().to_ascii_uppercase().starts_with("ALTER"));
    let mut parse_only = parse_only;
    parse_only.extend(vigil_collector::clickhouse_schema::cluster("vigil", "vigil"));
    let tables: BTreeMap<String, String> = server
        .run_in(
            database,
            "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine != 'View' ORDER BY name",
        )
        .expect("lists tables")
        .lines()
        .map(|t| {
            let rows = server
                .run_in(database, &format!("SELECT * FROM {t} FORMAT TabSeparated"))
                .expect("dumps a table");
            (t.to_owned(), rows)
        })
        .collect();
    let request = serde_json::json!({
        "database": database, "setup": setup, "tables": tables, "queries": run, "parse_only": parse_only,
    });
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/clickhouse_current.py");
    let mut child = std::process::Command::new(super::python::with_module("chdb"))
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python starts");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(request.to_string().as_bytes()).expect("request sent");
    }
    let out = child.wait_with_output().expect("python finishes");
    assert!(out.status.success(), "the replay failed");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the replay's report");
    let version = report["version"].as_str().unwrap_or_default();
    assert!(version.starts_with("26."), "a current release: {version}");
    assert!(
        report["setup_failed"].is_null(),
        "schema or rows refused on {version}: {}",
        report["setup_failed"]
    );
    let mut failures = Vec::new();
    let mut compared = 0;
    for r in report["results"].as_array().expect("results") {
        let sql = r["sql"].as_str().unwrap_or_default();
        let answer = r["answer"].as_str().unwrap_or_default();
        if r["ok"] != true {
            failures.push(format!("refused on {version}: {answer}\n{sql}"));
            continue;
        }
        // The server's own tables, its version and the clock differ between the two; what they answer need not.
        if ["system.", "version()", "now()"].iter().any(|x| sql.contains(x)) || parse_only.iter().any(|p| p == sql) {
            continue;
        }
        let old = server.run_in(database, sql).expect("still runs on 18.16");
        compared += 1;
        if sorted_lines(&old) != sorted_lines(answer) {
            failures.push(format!("answers differ:\n{sql}\n18.16:\n{old}\n{version}:\n{answer}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} queries behave differently on a current release:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    compared
}

/// TabSeparated rows in a canonical order (a query without `ORDER BY` may return them in any).
fn sorted_lines(rows: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = rows.lines().collect();
    lines.sort_unstable();
    lines
}

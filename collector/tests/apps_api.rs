//! `GET /api/v1/apps`: what each probe saw of each messaging app, through the real ingest and store — one probe
//! reaching every endpoint, one reaching the web site while the chat server's address answers nothing (partly),
//! one reaching nothing (blocked) — filtered by app and network, and a bad window refused with a reason.

mod common;

use chrono::{SecondsFormat, Utc};
use uuid::Uuid;

use common::TestCollector;

/// A measurement line of an app endpoint (`target.list = "app:chat"`), started now.
fn endpoint_line(kind: &str, name: &str, result: &str) -> String {
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    format!(
        r#"{{"schema":1,"id":"{}","kind":"{kind}","started_at":"{now}","duration_ms":5,"target":{{"name":"{name}","scope":"international","list":"app:chat"}},"result":{result}}}"#,
        Uuid::now_v7()
    )
}

fn web(ok: bool) -> String {
    let result = if ok {
        r#"{"outcome":"ok","url":"https://chat.example/","status":200}"#
    } else {
        r#"{"outcome":"timeout","url":"https://chat.example/","status":null,"failure_stage":"connect"}"#
    };
    endpoint_line("http", "https://chat.example/", result)
}

fn chat_server(ok: bool) -> String {
    let outcome = if ok { "ok" } else { "timeout" };
    endpoint_line(
        "tcp",
        "chat.example:5222",
        &format!(r#"{{"outcome":"{outcome}","ip":"192.0.2.7","port":5222}}"#),
    )
}

#[tokio::test]
async fn each_probe_says_whether_an_app_was_reachable_partly_or_blocked_and_how() {
    let c = TestCollector::start().await;
    let mut ids = Vec::new();
    for (name, web_ok, chat_ok) in [("all", true, true), ("half", true, false), ("none", false, false)] {
        let (probe_id, token) = c.add_probe(name).await;
        let body = format!("{}\n{}\n", web(web_ok), chat_server(chat_ok));
        let answer = c.post(Some(&token), None, body.into_bytes()).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        ids.push(probe_id);
    }
    let stamp = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let (from, to) = (
        stamp(Utc::now() - chrono::Duration::hours(1)),
        stamp(Utc::now() + chrono::Duration::minutes(1)),
    );
    let all = c.get_json(&format!("/api/v1/apps?from={from}&to={to}")).await;
    let seen: Vec<(String, String, String, Option<String>)> = all
        .as_array()
        .unwrap_or_else(|| panic!("an array: {all}"))
        .iter()
        .map(|v| {
            (
                v["probe_id"].as_str().unwrap_or_default().to_owned(),
                v["app"].as_str().unwrap_or_default().to_owned(),
                v["state"].as_str().unwrap_or_default().to_owned(),
                v["method"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let mut expected = vec![
        (ids[0].clone(), "chat".to_owned(), "reachable".to_owned(), None),
        (
            ids[1].clone(),
            "chat".to_owned(),
            "partly".to_owned(),
            Some("ip_block".to_owned()),
        ),
        (
            ids[2].clone(),
            "chat".to_owned(),
            "blocked".to_owned(),
            Some("ip_block".to_owned()),
        ),
    ];
    let mut got = seen;
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "{all:#}");
    for v in all.as_array().expect("an array") {
        assert_eq!((v["country"].as_str(), v["asn"].as_u64()), (Some("IR"), Some(44244)));
        assert!(v.get("name").is_none(), "no volunteer label in the public view: {v}");
        assert_eq!(v["buckets"].as_object().map(|b| b.len()), Some(3), "{v}");
    }

    let other = c
        .get_json(&format!("/api/v1/apps?from={from}&to={to}&app=whatsapp"))
        .await;
    assert_eq!(other, serde_json::json!([]), "no probe measured that app");
    let by_prefix = c
        .get_json(&format!("/api/v1/apps?from={from}&to={to}&app=app:chat&asn=44244"))
        .await;
    assert_eq!(by_prefix.as_array().map(Vec::len), Some(3));
    let elsewhere = c.get_json(&format!("/api/v1/apps?from={from}&to={to}&asn=1")).await;
    assert_eq!(elsewhere, serde_json::json!([]));

    let backwards = c
        .client
        .get(c.url(&format!("/api/v1/apps?from={to}&to={from}")))
        .send()
        .await
        .expect("get");
    assert_eq!(backwards.status().as_u16(), 400);
    let reason: serde_json::Value = backwards.json().await.expect("json");
    assert!(reason.to_string().contains("from < to"), "{reason}");
    c.stop().await;
}

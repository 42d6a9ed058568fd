//! A hostile ingest load: many concurrent clients, each sending a random mix of valid batches and the bad
//! requests the internet sends — broken JSON, invalid values, oversized bodies, compression bombs, corrupt gzip,
//! unknown tokens — and recording exactly what the collector answered. Requests refused for overload (429, 503)
//! or whose connection failed under them are sent again after a short wait, as a probe would, until they get
//! their real answer.
//!
//! What was acknowledged and what was refused is kept by measurement id, so the caller can check the store: every
//! acknowledged measurement is there, nothing from a refused batch is.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::{tcp_line, vitals_line};

/// The load to run.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Probe tokens; client `i` uses token `i % len`.
    pub tokens: Vec<String>,
    /// Concurrent clients.
    pub clients: usize,
    /// How long they send.
    pub duration: Duration,
    /// The collector's `[ingest] max_body_bytes` (oversized bodies are built just over it).
    pub max_body_bytes: usize,
    /// The collector's `[ingest] max_decoded_bytes` (bombs decompress to several times it).
    pub max_decoded_bytes: usize,
}

/// One kind of request in the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Case {
    /// A valid batch of 1–100 lines, gzip or plain: must be acknowledged (or refused for overload).
    Valid,
    /// Valid lines and one that is not JSON: `400 invalid_line`.
    BrokenJson,
    /// Valid lines and one with an impossible value: `400 invalid_line`.
    InvalidValue,
    /// A body over the limit: `413 body_too_large` (or the connection cut while it is still being sent).
    Oversized,
    /// A small gzip body that inflates past the decoded limit: `413 body_too_large`.
    Bomb,
    /// A gzip body cut short: `400 corrupt_body`.
    CorruptGzip,
    /// A token no probe has: `401 unauthorized`.
    UnknownToken,
}

impl Case {
    /// Every case, and its share of the mix in percent.
    pub const MIX: [(Case, u32); 7] = [
        (Case::Valid, 60),
        (Case::BrokenJson, 8),
        (Case::InvalidValue, 8),
        (Case::Oversized, 4),
        (Case::Bomb, 6),
        (Case::CorruptGzip, 7),
        (Case::UnknownToken, 7),
    ];

    /// The answer it must get: status and error code.
    pub fn expected(self) -> (u16, &'static str) {
        match self {
            Case::Valid => (200, ""),
            Case::BrokenJson | Case::InvalidValue => (400, "invalid_line"),
            Case::Oversized | Case::Bomb => (413, "body_too_large"),
            Case::CorruptGzip => (400, "corrupt_body"),
            Case::UnknownToken => (401, "unauthorized"),
        }
    }

    fn pick() -> Case {
        let mut roll = fastrand::u32(0..100);
        for (case, share) in Case::MIX {
            if roll < share {
                return case;
            }
            roll -= share;
        }
        Case::Valid
    }
}

/// How one case fared.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Tally {
    /// Requests finished (after any overload retries).
    pub sent: u64,
    /// Answered as they must be.
    pub as_expected: u64,
    /// Oversized bodies cut off by the server before the client finished sending (a refusal too).
    pub cut_off: u64,
    /// Anything else, with the first few answers for the report.
    pub unexpected: u64,
    /// Examples of unexpected answers.
    pub examples: Vec<String>,
}

/// What the load did.
#[derive(Debug, Default, serde::Serialize)]
pub struct LoadReport {
    /// Per case.
    pub cases: BTreeMap<String, Tally>,
    /// 429 and 503 answers (each followed by a retry).
    pub overload_answers: u64,
    /// Requests sent again after the connection failed under them.
    pub transport_retries: u64,
    /// Measurements acknowledged with a 200.
    pub measurements_acked: u64,
    /// Seconds the load ran.
    pub elapsed_secs: f64,
    /// Ids acknowledged (not serialized: the caller checks the store).
    #[serde(skip)]
    pub acked: Vec<Uuid>,
    /// Ids that rode in refused batches (valid lines beside a bad one), never to be stored.
    #[serde(skip)]
    pub refused: Vec<Uuid>,
}

/// A request ready to send.
struct Request {
    case: Case,
    token: String,
    encoding: Option<&'static str>,
    body: Vec<u8>,
    ids: Vec<Uuid>,
}

fn valid_lines(n: usize) -> (Vec<Uuid>, Vec<u8>) {
    let mut ids = Vec::with_capacity(n);
    let mut body = Vec::new();
    for i in 0..n {
        let (id, line) = if i % 10 == 9 { vitals_line() } else { tcp_line() };
        ids.push(id);
        body.extend_from_slice(line.as_bytes());
        body.push(b'\n');
    }
    (ids, body)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

fn build(case: Case, token: &str, plan: &LoadPlan) -> Request {
    let (ids, mut body) = valid_lines(fastrand::usize(1..=100));
    let mut encoding = None;
    let mut token = token.to_owned();
    match case {
        Case::Valid => {
            if fastrand::bool() {
                body = gzip(&body);
                encoding = Some("gzip");
            }
        }
        Case::BrokenJson => body.extend_from_slice(b"{\"schema\":1,\"id\":\n"),
        Case::InvalidValue => {
            let (_, line) = tcp_line();
            body.extend_from_slice(line.replace("\"port\":443", "\"port\":70000").as_bytes());
            body.push(b'\n');
        }
        Case::Oversized => body.resize(plan.max_body_bytes + 64 * 1024, b' '),
        Case::Bomb => {
            // Built once: compressing it is the generator's work, not the collector's.
            static BOMB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            body = BOMB
                .get_or_init(|| gzip(&vec![b' '; plan.max_decoded_bytes * 4]))
                .clone();
            encoding = Some("gzip");
        }
        Case::CorruptGzip => {
            let whole = gzip(&body);
            body = whole[..whole.len() / 2].to_vec();
            encoding = Some("gzip");
        }
        Case::UnknownToken => token = format!("vgl_unknown{}", fastrand::u64(..)),
    }
    Request {
        case,
        token,
        encoding,
        body,
        ids,
    }
}

/// Runs the load and reports what every request got.
pub fn run(plan: &LoadPlan) -> LoadReport {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let report = Arc::new(Mutex::new(LoadReport::default()));
    let started = Instant::now();
    // reqwest's features unify across the workspace (rustls without a built-in provider).
    let _ = rustls::crypto::ring::default_provider().install_default();
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(plan.clients)
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client");
        let url = format!("{}/api/v1/measurements", plan.url);
        let deadline = started + plan.duration;
        let mut tasks = Vec::new();
        for i in 0..plan.clients {
            let client = client.clone();
            let url = url.clone();
            let token = plan.tokens[i % plan.tokens.len()].clone();
            let plan = plan.clone();
            let report = Arc::clone(&report);
            tasks.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let request = build(Case::pick(), &token, &plan);
                    send(&client, &url, request, deadline, &report).await;
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
    });
    let mut report = Arc::try_unwrap(report)
        .map(|m| m.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner))
        .unwrap_or_default();
    report.elapsed_secs = started.elapsed().as_secs_f64();
    report
}

/// Sends one request, again after each overload answer until the deadline; records the final answer.
async fn send(client: &reqwest::Client, url: &str, request: Request, deadline: Instant, report: &Mutex<LoadReport>) {
    let (want_status, want_code) = request.case.expected();
    loop {
        let mut builder = client
            .post(url)
            .header("content-type", "application/x-ndjson")
            .header("authorization", format!("Bearer {}", request.token))
            .body(request.body.clone());
        if let Some(encoding) = request.encoding {
            builder = builder.header("content-encoding", encoding);
        }
        let answer = match builder.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
                Ok((status, body))
            }
            Err(err) => {
                let mut text = err.to_string();
                let mut source = std::error::Error::source(&err);
                while let Some(cause) = source {
                    text.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                Err(text)
            }
        };
        let retry = match &answer {
            Ok((429 | 503, _)) => Some(true),
            // A connection the server closed under the client (an early refusal that left the body unread):
            // what a probe retries. An oversized body cut off is its refusal, not a retry.
            Err(_) if request.case != Case::Oversized => Some(false),
            _ => None,
        };
        if let Some(overload) = retry {
            {
                let mut report = report.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if overload {
                    report.overload_answers += 1;
                } else {
                    report.transport_retries += 1;
                }
            }
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50 + fastrand::u64(0..200))).await;
            continue;
        }
        let mut report = report.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let tally = report.cases.entry(format!("{:?}", request.case)).or_default();
        tally.sent += 1;
        let verdict = match &answer {
            Ok((status, body)) if *status == want_status && (want_code.is_empty() || body["code"] == want_code) => {
                Verdict::Expected
            }
            Err(_) if request.case == Case::Oversized => Verdict::CutOff,
            other => Verdict::Unexpected(format!("{other:?}")),
        };
        match verdict {
            Verdict::Expected => tally.as_expected += 1,
            Verdict::CutOff => tally.cut_off += 1,
            Verdict::Unexpected(example) => {
                tally.unexpected += 1;
                if tally.examples.len() < 5 {
                    tally.examples.push(example);
                }
            }
        }
        match (request.case, &answer) {
            (Case::Valid, Ok((200, _))) => {
                report.measurements_acked += request.ids.len() as u64;
                report.acked.extend(request.ids);
            }
            (Case::Valid, _) => {}
            _ => report.refused.extend(request.ids),
        }
        return;
    }
}

enum Verdict {
    Expected,
    CutOff,
    Unexpected(String),
}

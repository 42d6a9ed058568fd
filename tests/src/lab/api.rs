//! The collector's HTTP API as the lab sees it: requests made from a thread that has joined the collector's
//! network namespace (so the harness needs no address of its own in the lab), to the collector's loopback.

use std::os::fd::AsFd;
use std::sync::mpsc;
use std::time::Duration;

use super::LabError;
use super::country::COLLECTOR_PORT;

type Reply = Result<serde_json::Value, String>;

/// A client for the collector's API inside a namespace.
pub struct Api {
    requests: mpsc::Sender<(String, mpsc::Sender<Reply>)>,
}

impl Api {
    /// Starts the client thread inside namespace `ns`.
    pub fn in_namespace(ns: &str) -> Result<Self, LabError> {
        let path = format!("/run/netns/{ns}");
        let netns = std::fs::File::open(&path).map_err(|e| LabError::io(std::path::Path::new(&path), e))?;
        let (tx, rx) = mpsc::channel::<(String, mpsc::Sender<Reply>)>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        std::thread::Builder::new()
            .name(format!("api-{ns}"))
            .spawn(move || {
                let joined = rustix::thread::move_into_link_name_space(
                    netns.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .map_err(|e| format!("setns: {e}"));
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string());
                let _ = rustls::crypto::ring::default_provider().install_default();
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .no_proxy()
                    .build()
                    .map_err(|e| e.to_string());
                let (runtime, client) = match (joined, runtime, client) {
                    (Ok(()), Ok(r), Ok(c)) => {
                        let _ = ready_tx.send(Ok(()));
                        (r, c)
                    }
                    (a, b, c) => {
                        let _ = ready_tx.send(Err(format!("{:?} {:?} {:?}", a.err(), b.err(), c.err())));
                        return;
                    }
                };
                for (path, reply) in rx {
                    let url = format!("http://127.0.0.1:{COLLECTOR_PORT}{path}");
                    let result = runtime.block_on(async {
                        let response = client.get(&url).send().await.map_err(|e| e.to_string())?;
                        let status = response.status();
                        let body = response.text().await.map_err(|e| e.to_string())?;
                        if !status.is_success() {
                            return Err(format!("{url}: {status}: {body}"));
                        }
                        serde_json::from_str(&body).map_err(|e| format!("{url}: {e}"))
                    });
                    let _ = reply.send(result);
                }
            })
            .map_err(|e| LabError::Setup(e.to_string()))?;
        ready_rx
            .recv()
            .map_err(|e| LabError::Setup(e.to_string()))?
            .map_err(|e| LabError::Setup(format!("cannot enter {ns}: {e}")))?;
        Ok(Api { requests: tx })
    }

    /// `GET path` (e.g. `/api/v1/events`), parsed as JSON.
    pub fn get(&self, path: &str) -> Result<serde_json::Value, LabError> {
        let (tx, rx) = mpsc::channel();
        self.requests
            .send((path.to_owned(), tx))
            .map_err(|_| LabError::Setup("the API thread stopped".to_owned()))?;
        rx.recv()
            .map_err(|_| LabError::Setup("the API thread stopped".to_owned()))?
            .map_err(LabError::Api)
    }

    /// The collector's current events (retracted ones are not listed).
    pub fn events(&self) -> Result<Vec<serde_json::Value>, LabError> {
        match self.get("/api/v1/events")? {
            serde_json::Value::Array(events) => Ok(events),
            other => Err(LabError::Api(format!("events: not a list: {other}"))),
        }
    }
}

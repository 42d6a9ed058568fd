//! The HTTP server's connection limits: a client that does not finish its headers is cut off, and no more than
//! `max_connections` connections are served at once — the next waits until one closes — while every request
//! that gets a slot is answered as before.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{TestCollector, quiet_config};

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let mut config = quiet_config();
    config.server.header_timeout_secs = 1;
    let c = TestCollector::start_with(config).await;
    let addr = c.addr;
    let outcome = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        // Half a request line and one header, then nothing (slowloris).
        s.write_all(b"POST /api/v1/measurements HTTP/1.1\r\nHost: vigil\r\n")
            .expect("send");
        let started = Instant::now();
        let mut reply = Vec::new();
        let read = s.read_to_end(&mut reply);
        (
            read.map(|_| String::from_utf8_lossy(&reply).into_owned()),
            started.elapsed(),
        )
    })
    .await
    .expect("socket task");
    let (reply, waited) = outcome;
    let reply = reply.expect("the server closed the connection (a read timeout here means it kept it open)");
    assert!(reply.is_empty() || reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(waited < Duration::from_secs(20));
    // The server still serves everyone else.
    let health = c.client.get(c.url("/healthz")).send().await.expect("health");
    assert_eq!(health.status(), 200);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_more_than_max_connections_are_served_at_once() {
    let mut config = quiet_config();
    config.server.max_connections = 2;
    config.server.header_timeout_secs = 60;
    let c = TestCollector::start_with(config).await;
    // Two clients hold both slots without sending anything.
    let mut idle: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect(c.addr).expect("connect"))
        .collect();
    // A third is accepted by the kernel but not served while they hold on.
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(1500))
        .build()
        .expect("client");
    let blocked = quick.get(c.url("/healthz")).send().await;
    assert!(
        blocked.as_ref().is_err_and(|e| e.is_timeout()),
        "a third connection was served: {blocked:?}"
    );
    // When one of them leaves, the next client gets its slot.
    idle.pop();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match quick.get(c.url("/healthz")).send().await {
            Ok(r) if r.status() == 200 => break,
            other => assert!(Instant::now() < deadline, "never served after a slot freed: {other:?}"),
        }
    }
    drop(idle);
    c.stop().await;
}

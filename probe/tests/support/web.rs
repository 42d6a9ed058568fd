//! Loopback web servers for tests: a small HTTP/1.1 responder with fixed routes, plus servers that reset or
//! stall every connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What a route answers.
#[derive(Debug, Clone)]
pub enum Route {
    /// Status, extra headers, body.
    Page(u16, Vec<(&'static str, String)>, Vec<u8>),
}

/// Serves `routes` (by path) on 127.0.0.1; unknown paths get 404.
pub async fn serve(routes: HashMap<String, Route>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let routes = Arc::new(routes);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let routes = Arc::clone(&routes);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf);
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let Route::Page(status, headers, body) =
                    routes
                        .get(&path)
                        .cloned()
                        .unwrap_or(Route::Page(404, vec![], b"not found".to_vec()));
                let mut reply = format!(
                    "HTTP/1.1 {status} X\r\nServer: test-nginx\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    reply.push_str(&format!("{k}: {v}\r\n"));
                }
                reply.push_str("\r\n");
                let mut bytes = reply.into_bytes();
                bytes.extend_from_slice(&body);
                let _ = stream.write_all(&bytes).await;
            });
        }
    });
    addr
}

/// Accepts, reads the request, then resets the connection (RST, as an injector would).
pub async fn resetting() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            drop(stream);
        }
    });
    addr
}

/// Accepts and never answers.
pub async fn stalling() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// A loopback port nothing listens on.
pub fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// Answers any bytes with a plaintext HTTP error, as a middlebox that does not speak TLS would.
pub async fn plaintext_talker() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
        }
    });
    addr
}

/// What an SNI filter does to a connection whose ClientHello names a blocked server.
#[derive(Debug, Clone, Copy)]
pub enum SniVerdict {
    /// Resets it (RST), as Iran's filter does.
    Reset,
    /// Drops everything after it, so the handshake times out.
    Drop,
}

/// A middlebox in front of `upstream` that reads each connection's first bytes (the ClientHello), and when they
/// carry `blocked` (the server name is in clear there, as a DPI box or iptables' `string` match sees it) applies
/// `verdict`; every other connection is relayed both ways.
pub async fn sni_filter(upstream: SocketAddr, blocked: &'static str, verdict: SniVerdict) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut client, _)) = listener.accept().await {
            let mut hello = vec![0u8; 4096];
            let Ok(n) = client.read(&mut hello).await else {
                continue;
            };
            hello.truncate(n);
            if hello.windows(blocked.len()).any(|w| w == blocked.as_bytes()) {
                match verdict {
                    SniVerdict::Reset => {
                        let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
                        drop(client);
                    }
                    SniVerdict::Drop => held.push(client),
                }
                continue;
            }
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                if server.write_all(&hello).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    addr
}

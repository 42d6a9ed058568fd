//! A minimal authoritative DNS responder for tests, on loopback UDP and TCP. It answers from a fixed table:
//! addresses, NXDOMAIN, SERVFAIL, or silence (to make clients time out).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// How the responder answers one name.
#[derive(Debug, Clone)]
pub enum Answer {
    /// These addresses (A or AAAA records as the query asks).
    Addresses(Vec<IpAddr>),
    /// NXDOMAIN.
    NxDomain,
    /// SERVFAIL.
    ServFail,
    /// No answer at all.
    Silent,
}

/// A running responder.
pub struct Responder {
    /// Its UDP and TCP address (same port).
    pub addr: SocketAddr,
}

impl Responder {
    /// Starts a responder on 127.0.0.1 serving `table` (names without the final dot).
    pub async fn start(table: HashMap<&'static str, Answer>) -> Self {
        let table = Arc::new(table);
        // A free UDP port may be taken for TCP by another test running alongside: try other ports until one is
        // free for both.
        let mut attempts = 0;
        let (udp, tcp, addr) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
            let addr = udp.local_addr().expect("addr");
            match TcpListener::bind(addr).await {
                Ok(tcp) => break (udp, tcp, addr),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempts < 50 => attempts += 1,
                Err(e) => panic!("bind tcp on the same port as udp {addr}: {e}"),
            }
        };
        let t = Arc::clone(&table);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
                if let Some(reply) = respond(&t, &buf[..n]) {
                    let _ = udp.send_to(&reply, peer).await;
                }
            }
        });
        tokio::spawn(async move {
            while let Ok((stream, _)) = tcp.accept().await {
                tokio::spawn(serve_framed(stream, Arc::clone(&table)));
            }
        });
        Responder { addr }
    }
}

/// Answers length-prefixed DNS messages (TCP, DoT) on one stream until it closes.
pub async fn serve_framed<S>(mut stream: S, table: Arc<HashMap<&'static str, Answer>>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut len = [0u8; 2];
    while stream.read_exact(&mut len).await.is_ok() {
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if stream.read_exact(&mut query).await.is_err() {
            return;
        }
        if let Some(reply) = respond(&table, &query) {
            let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&reply);
            if stream.write_all(&framed).await.is_err() {
                return;
            }
        }
    }
}

/// The wire-format reply to a wire-format query, or `None` to stay silent.
pub fn respond(table: &HashMap<&'static str, Answer>, query: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    let q = request.queries.first()?.clone();
    let name = q.name().to_string();
    let answer = table
        .get(name.trim_end_matches('.'))
        .cloned()
        .unwrap_or(Answer::NxDomain);
    let mut reply = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
    reply.metadata.recursion_desired = request.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.add_query(q.clone());
    match answer {
        Answer::Silent => return None,
        Answer::NxDomain => reply.metadata.response_code = ResponseCode::NXDomain,
        Answer::ServFail => reply.metadata.response_code = ResponseCode::ServFail,
        Answer::Addresses(ips) => {
            let owner = Name::from_ascii(&name).ok()?;
            for ip in ips {
                let rdata = match (ip, q.query_type()) {
                    (IpAddr::V4(v4), RecordType::A) => RData::A(A(v4)),
                    (IpAddr::V6(v6), RecordType::AAAA) => RData::AAAA(AAAA(v6)),
                    _ => continue,
                };
                reply.add_answer(Record::from_rdata(owner.clone(), 60, rdata));
            }
        }
    }
    reply.to_vec().ok()
}

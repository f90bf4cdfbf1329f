//! A small DNS server on 127.0.0.1 that answers from a [`Snapshot`], or
//! forwards to an upstream resolver and records every answer.
//!
//! Why a server and not mail-auth's resolver caches: those caches cannot
//! express NXDOMAIN for A/AAAA/MX/PTR, keep one TXT record per name, and send
//! a miss to the network (see FIELD-NOTES). Pointing hickory's resolver at
//! this server makes the replay faithful and makes "no network" structural:
//! the resolver knows no other address.
//!
//! UDP answers above [`UDP_LIMIT`] bytes are sent truncated (TC, RFC 1035
//! 4.2.1) so the resolver retries over TCP, which is served too (RFC 7766).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mail_auth::hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use mail_auth::hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, MX, PTR, TXT};
use mail_auth::hickory_resolver::proto::rr::{Name, RData, Record, RecordType as WireType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::runtime::Handle;

use crate::snapshot::{Answer, Negative, Rdata, RecordType, Snapshot};

/// Largest UDP answer sent whole; larger ones are truncated (FIELD-NOTES:
/// hickory failed to decode UDP answers above about 1,200 bytes).
pub const UDP_LIMIT: usize = 1200;

/// Where the server's answers come from.
#[derive(Clone)]
pub(crate) enum Backend {
    /// Answer from a snapshot only.
    Snapshot(Arc<Snapshot>),
    /// Forward to `upstream`, record each answer into `recorded`.
    Record {
        upstream: SocketAddr,
        recorded: Arc<Mutex<Snapshot>>,
        timeout: Duration,
    },
}

/// Starts the server on 127.0.0.1 (one ephemeral port, UDP and TCP) inside
/// the given runtime and returns its address.
pub(crate) fn start(handle: &Handle, backend: Backend) -> std::io::Result<SocketAddr> {
    let std_udp = std::net::UdpSocket::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))?;
    let addr = std_udp.local_addr()?;
    let std_tcp = std::net::TcpListener::bind(addr)?;
    std_udp.set_nonblocking(true)?;
    std_tcp.set_nonblocking(true)?;
    let _guard = handle.enter();
    let udp = Arc::new(UdpSocket::from_std(std_udp)?);
    let tcp = TcpListener::from_std(std_tcp)?;

    let udp_backend = backend.clone();
    handle.spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((len, peer)) = udp.recv_from(&mut buf).await else {
                continue;
            };
            let query = buf[..len].to_vec();
            let socket = Arc::clone(&udp);
            let backend = udp_backend.clone();
            tokio::spawn(async move {
                if let Some(reply) = answer(&backend, &query, true).await {
                    let _ = socket.send_to(&reply, peer).await;
                }
            });
        }
    });
    handle.spawn(async move {
        loop {
            let Ok((stream, _)) = tcp.accept().await else {
                continue;
            };
            let backend = backend.clone();
            tokio::spawn(serve_tcp(stream, backend));
        }
    });
    Ok(addr)
}

async fn serve_tcp(mut stream: TcpStream, backend: Backend) {
    loop {
        let Ok(len) = stream.read_u16().await else {
            return;
        };
        let mut query = vec![0u8; usize::from(len)];
        if stream.read_exact(&mut query).await.is_err() {
            return;
        }
        let Some(reply) = answer(&backend, &query, false).await else {
            continue;
        };
        let Ok(len) = u16::try_from(reply.len()) else {
            return;
        };
        if stream.write_u16(len).await.is_err() || stream.write_all(&reply).await.is_err() {
            return;
        }
    }
}

/// Answers one wire-format query; `None` means stay silent (a TIMEOUT).
async fn answer(backend: &Backend, query: &[u8], udp: bool) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    match backend {
        Backend::Snapshot(snapshot) => {
            let reply = from_snapshot(snapshot, &request)?;
            encode(&request, reply, udp)
        }
        Backend::Record {
            upstream,
            recorded,
            timeout,
        } => {
            let reply = forward(*upstream, query, *timeout).await;
            record(recorded, &request, reply.as_deref());
            let reply = reply?;
            if udp && reply.len() > UDP_LIMIT {
                let parsed = Message::from_vec(&reply).ok()?;
                return parsed.truncate().to_vec().ok();
            }
            Some(reply)
        }
    }
}

fn encode(request: &Message, reply: Message, udp: bool) -> Option<Vec<u8>> {
    let bytes = reply.to_vec().ok()?;
    if udp && bytes.len() > UDP_LIMIT {
        let mut truncated = Message::response(request.metadata.id, request.metadata.op_code);
        truncated.metadata.truncation = true;
        truncated.metadata.recursion_desired = request.metadata.recursion_desired;
        truncated.metadata.recursion_available = true;
        truncated.add_queries(request.queries.iter().cloned());
        return truncated.to_vec().ok();
    }
    Some(bytes)
}

fn to_local(wire: WireType) -> Option<RecordType> {
    Some(match wire {
        WireType::A => RecordType::A,
        WireType::AAAA => RecordType::Aaaa,
        WireType::MX => RecordType::Mx,
        WireType::TXT => RecordType::Txt,
        WireType::PTR => RecordType::Ptr,
        WireType::CNAME => RecordType::Cname,
        _ => return None,
    })
}

fn to_wire(rdata: &Rdata) -> Option<RData> {
    Some(match rdata {
        Rdata::A(ip) => RData::A(A(*ip)),
        Rdata::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
        Rdata::Mx(pref, name) => RData::MX(MX::new(*pref, Name::from_ascii(name).ok()?)),
        // A character-string holds at most 255 bytes (RFC 1035 3.3): longer
        // ones (hand-written keys) are split, which SPF and DKIM rejoin.
        Rdata::Txt(strings) => RData::TXT(TXT::from_bytes(
            strings
                .iter()
                .flat_map(|s| {
                    if s.is_empty() {
                        vec![s.as_slice()]
                    } else {
                        s.chunks(255).collect()
                    }
                })
                .collect(),
        )),
        Rdata::Ptr(name) => RData::PTR(PTR(Name::from_ascii(name).ok()?)),
        Rdata::Cname(name) => RData::CNAME(CNAME(Name::from_ascii(name).ok()?)),
    })
}

fn from_wire(rdata: &RData) -> Option<Rdata> {
    Some(match rdata {
        RData::A(a) => Rdata::A(a.0),
        RData::AAAA(a) => Rdata::Aaaa(a.0),
        RData::MX(mx) => Rdata::Mx(mx.preference, mx.exchange.to_ascii()),
        RData::TXT(txt) => Rdata::Txt(txt.txt_data.iter().map(|s| s.to_vec()).collect()),
        RData::PTR(ptr) => Rdata::Ptr(ptr.0.to_ascii()),
        RData::CNAME(cname) => Rdata::Cname(cname.0.to_ascii()),
        _ => return None,
    })
}

fn from_snapshot(snapshot: &Snapshot, request: &Message) -> Option<Message> {
    let mut reply = Message::response(request.metadata.id, request.metadata.op_code);
    reply.metadata.message_type = MessageType::Response;
    reply.metadata.recursion_desired = request.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.authoritative = true;
    reply.add_queries(request.queries.iter().cloned());
    let Some(query) = request.queries.first() else {
        reply.metadata.response_code = ResponseCode::FormErr;
        return Some(reply);
    };
    let Some(rtype) = to_local(query.query_type()) else {
        // Types no verification asks about: say so plainly.
        reply.metadata.response_code = ResponseCode::NotImp;
        return Some(reply);
    };
    match snapshot.answer(&query.name().to_ascii(), rtype) {
        Answer::Records(records) => {
            for (owner, rdata) in records {
                let (Ok(owner), Some(rdata)) = (Name::from_ascii(&owner), to_wire(&rdata)) else {
                    continue;
                };
                reply.add_answer(Record::from_rdata(owner, 300, rdata));
            }
        }
        Answer::Negative(Negative::NxDomain) => {
            reply.metadata.response_code = ResponseCode::NXDomain;
        }
        Answer::Negative(Negative::NoData) => {}
        Answer::Negative(Negative::ServFail) | Answer::NoEvidence => {
            reply.metadata.response_code = ResponseCode::ServFail;
        }
        Answer::Negative(Negative::Timeout) => return None,
    }
    Some(reply)
}

async fn forward(upstream: SocketAddr, query: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    let bind = if upstream.is_ipv4() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
    } else {
        SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 0)
    };
    let socket = UdpSocket::bind(bind).await.ok()?;
    socket.connect(upstream).await.ok()?;
    socket.send(query).await.ok()?;
    let mut buf = vec![0u8; 65535];
    let len = tokio::time::timeout(timeout, socket.recv(&mut buf))
        .await
        .ok()?
        .ok()?;
    buf.truncate(len);
    let truncated = Message::from_vec(&buf)
        .map(|m| m.metadata.truncation)
        .unwrap_or(false);
    if !truncated {
        return Some(buf);
    }
    tokio::time::timeout(timeout, forward_tcp(upstream, query))
        .await
        .ok()
        .flatten()
}

async fn forward_tcp(upstream: SocketAddr, query: &[u8]) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await.ok()?;
    stream
        .write_u16(u16::try_from(query.len()).ok()?)
        .await
        .ok()?;
    stream.write_all(query).await.ok()?;
    let len = stream.read_u16().await.ok()?;
    let mut reply = vec![0u8; usize::from(len)];
    stream.read_exact(&mut reply).await.ok()?;
    Some(reply)
}

/// Writes what the upstream said about the question into the recording.
fn record(recorded: &Mutex<Snapshot>, request: &Message, reply: Option<&[u8]>) {
    let Some(query) = request.queries.first() else {
        return;
    };
    let Some(rtype) = to_local(query.query_type()) else {
        return;
    };
    let qname = query.name().to_ascii();
    let mut snapshot = recorded.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(reply) = reply else {
        snapshot.add_negative(&qname, rtype, Negative::Timeout);
        return;
    };
    let Ok(reply) = Message::from_vec(reply) else {
        snapshot.add_negative(&qname, rtype, Negative::ServFail);
        return;
    };
    match reply.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain if reply.answers.is_empty() => {
            snapshot.add_negative(&qname, rtype, Negative::NxDomain);
            return;
        }
        ResponseCode::NXDomain => {}
        _ => {
            snapshot.add_negative(&qname, rtype, Negative::ServFail);
            return;
        }
    }
    let mut any = false;
    for answer in &reply.answers {
        if let Some(rdata) = from_wire(&answer.data) {
            snapshot.add_record(&answer.name.to_ascii(), rdata);
            any = true;
        }
    }
    if !any {
        snapshot.add_negative(&qname, rtype, Negative::NoData);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_auth::hickory_resolver::proto::op::Query;

    fn query(name: &str, rtype: WireType) -> Vec<u8> {
        let mut message = Message::query();
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(Name::from_ascii(name).expect("name"), rtype));
        message.to_vec().expect("encode")
    }

    #[test]
    fn answers_truncates_and_stays_silent_on_timeout() {
        let mut snapshot = Snapshot::new();
        snapshot.add_record("a.example.", Rdata::Txt(vec![b"v=spf1 -all".to_vec()]));
        snapshot.add_record("big.example.", Rdata::Txt(vec![vec![b'x'; 250]; 6]));
        snapshot.add_negative("slow.example.", RecordType::Txt, Negative::Timeout);
        let backend = Backend::Snapshot(Arc::new(snapshot));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("rt");
        rt.block_on(async {
            let reply = answer(&backend, &query("a.example.", WireType::TXT), true)
                .await
                .expect("reply");
            let reply = Message::from_vec(&reply).expect("decode");
            assert_eq!(reply.answers.len(), 1);
            let big = answer(&backend, &query("big.example.", WireType::TXT), true)
                .await
                .expect("reply");
            let big = Message::from_vec(&big).expect("decode");
            assert!(big.metadata.truncation && big.answers.is_empty());
            let big = answer(&backend, &query("big.example.", WireType::TXT), false)
                .await
                .expect("reply");
            assert_eq!(Message::from_vec(&big).expect("decode").answers.len(), 1);
            assert!(
                answer(&backend, &query("slow.example.", WireType::TXT), true)
                    .await
                    .is_none()
            );
            let missing = answer(&backend, &query("none.example.", WireType::TXT), true)
                .await
                .expect("reply");
            assert_eq!(
                Message::from_vec(&missing)
                    .expect("decode")
                    .metadata
                    .response_code,
                ResponseCode::ServFail
            );
        });
    }
}

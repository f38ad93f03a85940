//! One QUIC connection: handshake under a deadline, HTTP/3 settings, then each request
//! stream handed to the proxy and its answer written back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, FORWARDED, TE, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderName, Request, Response, Version};
use http_body_util::BodyExt;
use rampart_core::check::Denial;
use rampart_core::id::RequestId;
use rampart_core::phase::{Connection, TlsFacts};
use rampart_core::problem::Reason;
use rampart_service::audit;
use rampart_service::logging::AccessRecord;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::Shared;
use super::body::{H3Body, RecvHalf};
use crate::capacity::{ConnActivity, Ticket};
use crate::proxy::{ConnFacts, EdgeBody, refuse, refuse_over_capacity};

type QuicConn = h3_quinn::Connection;
type SendHalf = ::h3::server::RequestStream<h3_quinn::SendStream<Bytes>, Bytes>;

/// How often an open connection checks whether it has been idle too long.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// How long a closing connection with nothing in flight waits for late streams.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// Counts a handshake in progress until dropped.
pub(super) struct Handshake(Arc<Shared>);

impl Handshake {
    pub(super) fn start(shared: Arc<Shared>) -> Self {
        shared.handshakes.fetch_add(1, Ordering::AcqRel);
        Self(shared)
    }
}

impl Drop for Handshake {
    fn drop(&mut self) {
        self.0.handshakes.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What admission decided for a connection.
pub(super) struct Admitted {
    /// The connection slot, held for the connection's life.
    pub(super) ticket: Ticket,
    /// Over a soft cap: answer 503 and close.
    pub(super) refuse: bool,
    pub(super) handshake: Handshake,
    pub(super) local_port: u16,
}

/// Serves one connection attempt to its end.
pub(super) async fn serve(
    shared: Arc<Shared>,
    incoming: quinn::Incoming,
    admitted: Admitted,
    mut stop: watch::Receiver<bool>,
) {
    let Admitted {
        ticket: _ticket,
        refuse,
        handshake,
        local_port,
    } = admitted;
    let peer = incoming.remote_address();
    let deadline = tokio::time::Instant::now() + shared.settings.handshake_timeout;
    let connecting = match incoming.accept() {
        Ok(connecting) => connecting,
        Err(e) => {
            tracing::debug!(client = %peer.ip(), error = %e, "QUIC connection not accepted");
            return;
        }
    };
    let quic = match tokio::time::timeout_at(deadline, connecting).await {
        Ok(Ok(quic)) => quic,
        Ok(Err(e)) => {
            tracing::debug!(client = %peer.ip(), error = %e, "QUIC handshake failed");
            shared.count_failure(super::failure::cause(&e));
            return;
        }
        Err(_) => {
            tracing::debug!(client = %peer.ip(), "QUIC handshake timed out");
            shared.count_failure(rampart_tls::HandshakeFailure::Timeout);
            return;
        }
    };
    let conn = connection_facts(&quic, local_port);
    let client_cert = match (&shared.client_auth, peer_leaf(&quic)) {
        (Some(rules), Some(leaf)) => match rampart_tls::ClientCert::from_der(&leaf, rules) {
            Ok(cert) => Some(Arc::new(cert)),
            // Verified but unnamed: a certificate that cannot be audited is not used.
            Err(e) => {
                tracing::info!(client = %peer.ip(), error = %e, "client certificate refused");
                return;
            }
        },
        _ => None,
    };
    let mut builder = ::h3::server::builder();
    builder.max_field_section_size(shared.max_field_section);
    let built = builder.build::<QuicConn, Bytes>(QuicConn::new(quic));
    let mut h3 = match tokio::time::timeout_at(deadline, built).await {
        Ok(Ok(h3)) => h3,
        Ok(Err(e)) => {
            tracing::debug!(client = %peer.ip(), error = %e, "HTTP/3 connection setup failed");
            return;
        }
        Err(_) => {
            tracing::debug!(client = %peer.ip(), "HTTP/3 connection setup timed out");
            return;
        }
    };
    drop(handshake);

    let activity = Arc::new(ConnActivity::default());
    let facts = Arc::new(ConnFacts {
        conn: Arc::new(conn),
        activity: activity.clone(),
        ledger: None,
        proxy_header: None,
        client_cert,
    });
    let mut requests = JoinSet::new();
    let mut closing = false;
    // Once closing with nothing in flight, streams the GOAWAY still admits get this long
    // to arrive; then the connection closes without waiting on the client.
    let grace = tokio::time::sleep(CLOSE_GRACE);
    tokio::pin!(grace);
    if *stop.borrow() {
        closing = true;
        goaway(&mut h3, 0).await;
        grace
            .as_mut()
            .reset(tokio::time::Instant::now() + CLOSE_GRACE);
    }
    let mut idle_check = tokio::time::interval(IDLE_CHECK);
    idle_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            accepted = h3.accept() => match accepted {
                Ok(Some(resolver)) => {
                    requests.spawn(request(shared.clone(), resolver, facts.clone(), refuse));
                    if refuse && !closing {
                        // Over a cap: this request is answered 503, then the connection ends.
                        closing = true;
                        goaway(&mut h3, 1).await;
                    }
                }
                // GOAWAY exchanged and every accepted request answered.
                Ok(None) => break,
                Err(e) => {
                    if !e.is_h3_no_error() {
                        tracing::debug!(client = %peer.ip(), error = %e, "HTTP/3 connection ended with an error");
                    }
                    // The connection is gone: nothing more can be answered on it.
                    requests.shutdown().await;
                    return;
                }
            },
            _ = stop.changed(), if !closing => {
                // Draining (or the endpoint is gone): finish what was accepted, take no more.
                closing = true;
                goaway(&mut h3, 1).await;
                grace.as_mut().reset(tokio::time::Instant::now() + CLOSE_GRACE);
            }
            _ = idle_check.tick(), if !closing => {
                let idle = activity
                    .idle_since()
                    .is_some_and(|since| since.elapsed() >= shared.settings.idle_timeout);
                if idle && requests.is_empty() {
                    closing = true;
                    goaway(&mut h3, 1).await;
                    grace.as_mut().reset(tokio::time::Instant::now() + CLOSE_GRACE);
                }
            }
            Some(_) = requests.join_next(), if !requests.is_empty() => {
                if closing && requests.is_empty() {
                    grace.as_mut().reset(tokio::time::Instant::now() + CLOSE_GRACE);
                }
            }
            () = &mut grace, if closing && requests.is_empty() => break,
        }
    }
    // Answers still being written need the connection open.
    while requests.join_next().await.is_some() {}
}

/// Sends GOAWAY admitting `more` streams past the last accepted one, within a bound:
/// a client that does not read its control stream cannot hold the shutdown.
async fn goaway(h3: &mut ::h3::server::Connection<QuicConn, Bytes>, more: usize) {
    let _ = tokio::time::timeout(CLOSE_GRACE, h3.shutdown(more)).await;
}

/// The end-entity certificate the client presented (and the handshake verified).
fn peer_leaf(quic: &quinn::Connection) -> Option<Vec<u8>> {
    let chain = quic
        .peer_identity()?
        .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
        .ok()?;
    chain.first().map(|c| c.as_ref().to_vec())
}

/// The addresses and TLS facts of an established QUIC connection.
fn connection_facts(quic: &quinn::Connection, local_port: u16) -> Connection {
    let peer = quic.remote_address();
    let local_ip = quic.local_ip().unwrap_or(match peer {
        SocketAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
    });
    let handshake = quic
        .handshake_data()
        .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok());
    let (sni, alpn) = match handshake {
        Some(data) => (
            data.server_name,
            data.protocol
                .map(|p| String::from_utf8_lossy(&p).into_owned()),
        ),
        None => (None, None),
    };
    Connection {
        peer,
        local: SocketAddr::new(local_ip, local_port),
        tls: Some(TlsFacts {
            // QUIC carries TLS 1.3 only (RFC 9001 §4.2).
            version: rampart_tls::version_name(Some(rustls::ProtocolVersion::TLSv1_3)),
            sni,
            alpn,
        }),
        extensions: crate::screen::connection_state(),
    }
}

/// One request stream: read the head under a deadline, answer it, write the answer.
async fn request(
    shared: Arc<Shared>,
    resolver: ::h3::server::RequestResolver<QuicConn, Bytes>,
    facts: Arc<ConnFacts>,
    refuse: bool,
) {
    let peer = facts.conn.peer;
    let (req, stream) =
        match tokio::time::timeout(shared.header_timeout, resolver.resolve_request()).await {
            Ok(Ok(resolved)) => resolved,
            Ok(Err(e)) => {
                tracing::debug!(client = %peer.ip(), error = %e, "HTTP/3 request head refused");
                return;
            }
            Err(_) => {
                tracing::debug!(client = %peer.ip(), "HTTP/3 request head timed out");
                return;
            }
        };
    let (mut send, recv) = stream.split();
    let response = if refuse {
        refuse_over_capacity(&facts.conn, Version::HTTP_3)
    } else {
        answer(&shared, req, recv, &facts).await
    };
    let stall = shared.proxy.capacity.limits().write_stall_timeout;
    write_response(&mut send, response, stall).await;
}

/// Connection-specific fields make an HTTP/3 request malformed (RFC 9114 §4.2).
fn connection_specific(headers: &HeaderMap) -> Option<&'static str> {
    let named = [
        CONNECTION,
        TRANSFER_ENCODING,
        UPGRADE,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
    ];
    if named.iter().any(|name| headers.contains_key(name)) {
        return Some("connection-specific-header");
    }
    let te_ok = headers
        .get_all(TE)
        .iter()
        .all(|v| v.as_bytes().eq_ignore_ascii_case(b"trailers"));
    (!te_ok).then_some("connection-specific-header")
}

/// Refuses a request before it reaches the proxy, with the same audit and access record.
fn deny(req: &Request<()>, facts: &ConnFacts, denial: &Denial) -> Response<EdgeBody> {
    let mut record = AccessRecord::new(
        "edge",
        RequestId::generate(),
        req.method().as_str(),
        req.uri().path(),
        facts.conn.peer.ip().to_canonical().to_string(),
    );
    record.version = "HTTP/3";
    let ctx = audit::Context {
        tier: "edge",
        request_id: &record.request_id,
        route: "",
        client: &record.client,
    };
    audit::record(&ctx, denial, audit::Action::Block, &[]);
    refuse(record, denial.reason)
}

/// The checks only HTTP/3 needs, then the proxy.
async fn answer(
    shared: &Shared,
    mut req: Request<()>,
    recv: RecvHalf,
    facts: &ConnFacts,
) -> Response<EdgeBody> {
    if let Some(rule) = connection_specific(req.headers()) {
        let denial = Denial::new("http-framing", Reason::BadRequest).with_rule(rule);
        return deny(&req, facts, &denial);
    }
    let mut lengths = req.headers().get_all(CONTENT_LENGTH).iter();
    let declared = match (lengths.next(), lengths.next()) {
        (None, _) => None,
        (Some(v), None) => match v.to_str().ok().and_then(|v| v.parse::<u64>().ok()) {
            Some(len) => Some(len),
            None => {
                let denial = Denial::new("http-framing", Reason::BadRequest)
                    .with_rule("invalid-content-length");
                return deny(&req, facts, &denial);
            }
        },
        // Duplicates are judged (and refused) by the framing check.
        (Some(_), Some(_)) => None,
    };
    let cap = shared.settings.max_request_body.map(|s| s.as_u64());
    if let (Some(len), Some(cap)) = (declared, cap)
        && len > cap
    {
        let denial =
            Denial::new("request-limits", Reason::BodyTooLarge).with_rule("content-length");
        return deny(&req, facts, &denial);
    }
    // The client is the QUIC peer: forwarding headers from it are not believed.
    req.headers_mut().remove(FORWARDED);
    req.headers_mut()
        .remove(HeaderName::from_static("x-forwarded-for"));
    let body = H3Body::new(recv, declared, cap);
    // Boxed: the proxy's future is large and each stream holds one.
    Box::pin(shared.proxy.handle(req.map(|()| body), facts)).await
}

/// Writes `response` on `send`; any failure resets the stream so a partial body never
/// looks complete.
async fn write_response(send: &mut SendHalf, response: Response<EdgeBody>, stall: Duration) {
    let (mut parts, mut body) = response.into_parts();
    // HTTP/1 hints (`Connection: close`) have no place in HTTP/3: each stream ends alone.
    for name in [CONNECTION, TRANSFER_ENCODING, UPGRADE] {
        parts.headers.remove(name);
    }
    let head = Response::from_parts(parts, ());
    if !matches!(
        tokio::time::timeout(stall, send.send_response(head)).await,
        Ok(Ok(()))
    ) {
        send.stop_stream(::h3::error::Code::H3_INTERNAL_ERROR);
        return;
    }
    loop {
        let frame = match body.frame().await {
            None => break,
            Some(Ok(frame)) => frame,
            Some(Err(_)) => {
                send.stop_stream(::h3::error::Code::H3_INTERNAL_ERROR);
                return;
            }
        };
        let sent = match frame.into_data() {
            Ok(data) if data.is_empty() => continue,
            Ok(data) => tokio::time::timeout(stall, send.send_data(data)).await,
            Err(frame) => match frame.into_trailers() {
                Ok(trailers) => {
                    let sent = tokio::time::timeout(stall, send.send_trailers(trailers)).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        send.stop_stream(::h3::error::Code::H3_INTERNAL_ERROR);
                        return;
                    }
                    break;
                }
                Err(_) => continue,
            },
        };
        if !matches!(sent, Ok(Ok(()))) {
            send.stop_stream(::h3::error::Code::H3_INTERNAL_ERROR);
            return;
        }
    }
    let _ = tokio::time::timeout(stall, send.finish()).await;
}

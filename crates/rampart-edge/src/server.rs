//! Client-facing listeners: accept, TLS handshake under a deadline, then HTTP/1.1 or
//! HTTP/2 on the same port, every connection tracked for graceful draining.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rampart_core::check::Denial;
use rampart_core::id::RequestId;
use rampart_core::phase::{Connection, TlsFacts};
use rampart_core::problem::Reason;
use rampart_http::{GuardedIo, IpDecision, PrefixedIo, ProxyHeader, read_proxy_header};
use rampart_service::audit;
use rampart_tls::{ClientCert, HandshakeFailure, PrincipalRule};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::capacity::{Admission, ConnActivity, TimedIo};
use crate::certs::TlsMetrics;
use crate::proxy::{ConnFacts, Proxy};

/// Deadline for a load balancer's PROXY protocol header.
const PROXY_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Builds the HTTP connection settings shared by every client connection.
pub(crate) fn http_builder(header_read_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true)
        .max_buf_size(256 * 1024);
    // Envoy's edge guidance (REFERENCE §2): bounded streams, windows and header lists.
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(100)
        .initial_stream_window_size(64 * 1024)
        .initial_connection_window_size(1024 * 1024)
        .max_header_list_size(64 * 1024)
        .max_pending_accept_reset_streams(50)
        .max_local_error_reset_streams(50)
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10));
    builder
}

/// One accepting listener.
pub(crate) struct Acceptor {
    pub(crate) listener: TcpListener,
    pub(crate) tls: Option<Arc<PublicTls>>,
    pub(crate) name: &'static str,
}

/// The TLS side of the public listener.
pub(crate) struct PublicTls {
    pub(crate) acceptor: TlsAcceptor,
    /// Deadline for the whole handshake.
    pub(crate) deadline: Duration,
    /// Principal rules when client certificates are requested.
    pub(crate) client_auth: Option<Arc<[PrincipalRule]>>,
    pub(crate) metrics: Option<Arc<TlsMetrics>>,
}

impl PublicTls {
    fn count_failure(&self, cause: HandshakeFailure) {
        if let Some(metrics) = &self.metrics {
            metrics.failures.record(cause);
        }
    }
}

/// Accepts until `stop` resolves; each connection is served on its own task and
/// registered with the drain watcher.
pub(crate) async fn accept_loop(
    acceptor: Acceptor,
    proxy: Arc<Proxy>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    graceful: &GracefulShutdown,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = acceptor.listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning or crashing.
                    tracing::warn!(listener = acceptor.name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => return,
        };
        let admission = proxy.capacity.admit(peer.ip().to_canonical());
        let (ticket, refuse) = match admission {
            Admission::Serve(ticket) => (ticket, false),
            Admission::Refuse(ticket) => (ticket, true),
            Admission::Drop => {
                tracing::debug!(client = %peer.ip(), "connection ceiling reached; closed");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let Ok(local) = tcp.local_addr() else {
            continue;
        };
        let proxy = proxy.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = acceptor.tls.clone();
        tokio::spawn(async move {
            let _ticket = ticket;
            let conn = Connection {
                peer,
                local,
                tls: None,
                extensions: crate::screen::connection_state(),
            };
            serve_socket(tcp, conn, tls, proxy, builder, watcher, refuse).await;
        });
    }
}

/// Everything between accept and HTTP: the PROXY header, the address policy (before
/// any TLS work when it does not depend on HTTP), the TLS handshake, the guards.
async fn serve_socket(
    tcp: TcpStream,
    mut conn: Connection,
    tls: Option<Arc<PublicTls>>,
    proxy: Arc<Proxy>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    watcher: Watcher,
    refuse: bool,
) {
    let peer = conn.peer;
    // Connection-level decisions use the configuration in force when it arrived.
    let protections = proxy.policy.load().protections.clone();
    let (io, proxy_header) = if protections.proxy_protocol {
        let mut tcp = tcp;
        let deadline = tokio::time::Instant::now() + PROXY_HEADER_TIMEOUT;
        match read_proxy_header(&mut tcp, deadline).await {
            Ok((header, rest)) => (PrefixedIo::new(rest, tcp), Some(header)),
            Err(e) => {
                tracing::debug!(client = %peer.ip(), error = %e, "no valid PROXY protocol header");
                return;
            }
        }
    } else {
        (PrefixedIo::new(Bytes::new(), tcp), None)
    };
    if protections.decides_at_connect() {
        let client =
            protections
                .client_ip
                .resolve(peer.ip(), &HeaderMap::new(), proxy_header.as_ref());
        if let IpDecision::Deny { list } = protections.ip_policy.decide(client.addr) {
            let denial = Denial::new("ip-policy", Reason::AddressDenied)
                .with_rule(list.as_deref().unwrap_or("not-allowed").to_owned());
            let client_text = client.addr.to_string();
            let ctx = audit::Context {
                tier: "edge",
                request_id: &RequestId::generate(),
                route: "",
                client: &client_text,
            };
            audit::record(&ctx, &denial, audit::Action::Block, &[]);
            return;
        }
    }
    let guard = protections.guard;
    let Some(tls) = tls else {
        let io = GuardedIo::detect(io, guard);
        let facts = (conn, proxy_header, None);
        serve_connection(io, facts, proxy, &builder, watcher, refuse).await;
        return;
    };
    let stream = match tokio::time::timeout(tls.deadline, tls.acceptor.accept(io)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            let cause = HandshakeFailure::of_io(&e);
            tls.count_failure(cause);
            tracing::debug!(client = %peer.ip(), cause = cause.as_str(), error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tls.count_failure(HandshakeFailure::Timeout);
            tracing::debug!(client = %peer.ip(), "TLS handshake timed out");
            return;
        }
    };
    let session = stream.get_ref().1;
    let client_cert = match (&tls.client_auth, session.peer_certificates()) {
        (Some(rules), Some([leaf, ..])) => match ClientCert::from_der(leaf.as_ref(), rules) {
            Ok(cert) => {
                tracing::debug!(
                    client = %peer.ip(),
                    principal = %cert.principal,
                    "client certificate accepted"
                );
                Some(Arc::new(cert))
            }
            // Verified but unnamed: a certificate that cannot be audited is not used.
            Err(e) => {
                tls.count_failure(HandshakeFailure::Other);
                tracing::info!(client = %peer.ip(), error = %e, "client certificate refused");
                return;
            }
        },
        _ => None,
    };
    let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
    conn.tls = Some(TlsFacts {
        version: rampart_tls::version_name(session.protocol_version()),
        sni: session.server_name().map(str::to_owned),
        alpn: alpn
            .as_deref()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    });
    let io = match alpn.as_deref() {
        Some(b"h2") => GuardedIo::http2(stream, guard.h2),
        Some(b"http/1.1") => GuardedIo::http1(stream, guard.h1),
        _ => GuardedIo::detect(stream, guard),
    };
    let facts = (conn, proxy_header, client_cert);
    serve_connection(io, facts, proxy, &builder, watcher, refuse).await;
}

/// What the connection brings to every request on it.
type Facts = (Connection, Option<ProxyHeader>, Option<Arc<ClientCert>>);

async fn serve_connection<IO>(
    io: GuardedIo<IO>,
    (conn, proxy_header, client_cert): Facts,
    proxy: Arc<Proxy>,
    builder: &auto::Builder<TokioExecutor>,
    watcher: Watcher,
    refuse: bool,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(ConnActivity::default());
    let facts = Arc::new(ConnFacts {
        conn: Arc::new(conn),
        activity: activity.clone(),
        ledger: Some(io.ledger()),
        proxy_header,
        client_cert,
    });
    let io = TimedIo::new(io, activity, proxy.capacity.limits());
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let proxy = proxy.clone();
        let facts = facts.clone();
        async move {
            let mut response = if refuse {
                crate::proxy::refuse_over_capacity(&facts.conn, req.version())
            } else {
                // Boxed: the request future is large and lives as long as the request.
                Box::pin(proxy.handle(req, &facts)).await
            };
            if let Some(alt_svc) = proxy.alt_svc.as_ref().filter(|_| facts.conn.tls.is_some()) {
                response
                    .headers_mut()
                    .insert(http::header::ALT_SVC, alt_svc.clone());
            }
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let connection = builder
        .serve_connection(TokioIo::new(io), service)
        .into_owned();
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!(error = %e, "client connection ended with an error");
    }
}

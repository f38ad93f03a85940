//! Client-facing listeners: accept, TLS handshake under a deadline, then HTTP/1.1 or
//! HTTP/2 on the same port, every connection tracked for graceful draining.

use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rampart_core::phase::{Connection, TlsFacts};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::capacity::{Admission, ConnActivity, TimedIo};
use crate::proxy::Proxy;

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
    pub(crate) tls: Option<(TlsAcceptor, Duration)>,
    pub(crate) name: &'static str,
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
            let mut conn = Connection {
                peer,
                local,
                tls: None,
            };
            match tls {
                None => serve_connection(tcp, conn, proxy, &builder, watcher, refuse).await,
                Some((tls, deadline)) => {
                    let stream = match tokio::time::timeout(deadline, tls.accept(tcp)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => {
                            tracing::debug!(client = %peer.ip(), error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(client = %peer.ip(), "TLS handshake timed out");
                            return;
                        }
                    };
                    let session = stream.get_ref().1;
                    conn.tls = Some(TlsFacts {
                        version: rampart_tls::version_name(session.protocol_version()),
                        sni: session.server_name().map(str::to_owned),
                        alpn: session
                            .alpn_protocol()
                            .map(|p| String::from_utf8_lossy(p).into_owned()),
                    });
                    serve_connection(stream, conn, proxy, &builder, watcher, refuse).await;
                }
            }
        });
    }
}

async fn serve_connection<IO>(
    io: IO,
    conn: Connection,
    proxy: Arc<Proxy>,
    builder: &auto::Builder<TokioExecutor>,
    watcher: Watcher,
    refuse: bool,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = Arc::new(conn);
    let activity = Arc::new(ConnActivity::default());
    let io = TimedIo::new(io, activity.clone(), proxy.capacity.limits());
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let proxy = proxy.clone();
        let conn = conn.clone();
        let activity = activity.clone();
        async move {
            let response = if refuse {
                crate::proxy::refuse_over_capacity(&conn, req.version())
            } else {
                proxy.handle(req, &conn, &activity).await
            };
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

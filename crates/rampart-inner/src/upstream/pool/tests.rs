//! The pool against real backends on 127.0.0.1, written here byte by byte so each test
//! controls when a connection is answered, cut, or closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http::uri::{Authority, Scheme};
use http_body_util::BodyExt as _;
use rampart_test_support::pki::TestPki;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use super::*;

/// A backend's answer to request `n` (from 0) on connection `c` (from 0).
type Script = fn(usize, usize) -> Reply;

/// What a test backend does with a request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Reply {
    /// 200 with a two-byte body, connection kept.
    Ok,
    /// 200 with a 4 MiB body, connection kept.
    Large,
    /// Reads the request, then closes without a word.
    Hangup,
    /// 200, then closes the connection a moment later (no `Connection: close`).
    OkThenClose,
}

const LARGE: usize = 4 << 20;

struct Backend {
    authority: Authority,
    accepts: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl Backend {
    fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// A plain backend answering by `script(connection, request)`.
async fn backend(script: Script) -> Backend {
    backend_with(script, None).await
}

async fn backend_with(script: Script, tls: Option<tokio_rustls::TlsAcceptor>) -> Backend {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let authority: Authority = listener.local_addr().unwrap().to_string().parse().unwrap();
    let accepts = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (a, r) = (accepts.clone(), requests.clone());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let connection = a.fetch_add(1, Ordering::SeqCst);
            let (r, tls) = (r.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    Some(tls) => {
                        if let Ok(stream) = tls.accept(tcp).await {
                            serve(stream, connection, script, &r).await;
                        }
                    }
                    None => serve(tcp, connection, script, &r).await,
                }
            });
        }
    });
    Backend {
        authority,
        accepts,
        requests,
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    connection: usize,
    script: Script,
    requests: &AtomicUsize,
) {
    for n in 0.. {
        if !read_head(&mut stream).await {
            return;
        }
        requests.fetch_add(1, Ordering::SeqCst);
        let reply = script(connection, n);
        let written = match reply {
            Reply::Ok | Reply::OkThenClose => {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await
            }
            Reply::Large => {
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {LARGE}\r\n\r\n");
                let body = vec![b'x'; LARGE];
                match stream.write_all(head.as_bytes()).await {
                    Ok(()) => stream.write_all(&body).await,
                    Err(e) => Err(e),
                }
            }
            Reply::Hangup => return,
        };
        if reply == Reply::OkThenClose {
            // After the client has pooled the connection.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if written.is_err() || reply == Reply::OkThenClose {
            return;
        }
    }
}

/// Reads one request head (the tests send no bodies); false at end of stream.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    true
}

fn settings(max_idle: usize) -> Settings {
    let tls = rampart_tls::upstream_client_config(rustls::RootCertStore::empty()).unwrap();
    Settings {
        connect_timeout: Duration::from_secs(2),
        max_idle,
        idle_timeout: IDLE_TIMEOUT,
        tls: Arc::new(tls),
    }
}

fn plain(backend: &Backend, settings: &Settings) -> Arc<Pool> {
    Pool::new(&Scheme::HTTP, &backend.authority, settings)
}

fn get() -> Request<UpstreamBody> {
    let (body, _sent) = UpstreamBody::buffered(Bytes::new(), Vec::new());
    Request::builder()
        .uri("/")
        .header("host", "app.test")
        .body(body)
        .unwrap()
}

/// Sends a GET and reads the response body to its end.
async fn fetch(pool: &Arc<Pool>) -> Result<Bytes, PoolError> {
    let response = pool.send(get()).await?;
    assert_eq!(response.status(), 200);
    Ok(response.into_body().collect().await.unwrap().to_bytes())
}

#[tokio::test]
async fn sequential_requests_reuse_one_connection_returned_after_the_body() {
    let backend = backend(|_, _| Reply::Ok).await;
    let pool = plain(&backend, &settings(8));
    for _ in 0..3 {
        let response = pool.send(get()).await.unwrap();
        assert_eq!(pool.idle_count(), 0, "not back before the body is read");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "ok");
        assert_eq!(pool.idle_count(), 1, "back once the body was read");
    }
    assert_eq!((backend.accepts(), backend.requests()), (1, 3));
}

#[tokio::test]
async fn idle_connections_per_address_are_capped() {
    let backend = backend(|_, _| Reply::Ok).await;
    for max_idle in [0, 1, 2] {
        let pool = plain(&backend, &settings(max_idle));
        // Four at once need four connections; only `max_idle` of them are kept.
        let sends = (0..4).map(|_| pool.send(get()));
        let responses = futures_util::future::join_all(sends).await;
        for response in responses {
            response.unwrap().into_body().collect().await.unwrap();
        }
        assert_eq!(pool.idle_count(), max_idle, "max_idle {max_idle}");
    }
    assert_eq!(backend.accepts(), 12);
}

#[tokio::test]
async fn idle_connections_expire_on_checkout_and_by_the_sweep() {
    let backend = backend(|_, _| Reply::Ok).await;
    let idle_timeout = Duration::from_millis(200);
    let pool = plain(
        &backend,
        &Settings {
            idle_timeout,
            ..settings(8)
        },
    );
    fetch(&pool).await.unwrap();
    assert_eq!(pool.idle_count(), 1);
    tokio::time::sleep(idle_timeout).await;
    // Expired: checkout drops it even if the sweep has not run yet.
    assert!(pool.checkout().is_none());
    fetch(&pool).await.unwrap();
    assert_eq!(backend.accepts(), 2);
    assert_eq!(pool.idle_count(), 1);
    // No traffic: the sweep closes it within two of its periods.
    tokio::time::sleep(idle_timeout * 3).await;
    assert_eq!(pool.idle_count(), 0);
}

#[tokio::test]
async fn a_connection_the_backend_closed_is_not_handed_out() {
    let backend = backend(|_, _| Reply::OkThenClose).await;
    let pool = plain(&backend, &settings(8));
    fetch(&pool).await.unwrap();
    assert_eq!(pool.idle_count(), 1);
    // Let the backend close it and the connection's driver see that.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(pool.checkout().is_none(), "closed connection handed out");
    fetch(&pool).await.unwrap();
    assert_eq!((backend.accepts(), backend.requests()), (2, 2));
}

#[tokio::test]
async fn an_unsent_request_on_a_connection_closed_while_idle_is_retried_on_a_new_one() {
    let backend = backend(|_, _| Reply::Ok).await;
    let pool = plain(&backend, &settings(8));
    // A keep-alive connection whose driver is paused, so the pool hands it out before
    // anyone has noticed that the backend closed it: the race this retry exists for.
    let stale = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tcp = TcpStream::connect(stale.local_addr().unwrap())
        .await
        .unwrap();
    let (accepted, _) = stale.accept().await.unwrap();
    let (conn, driver) = http1::handshake::<_, UpstreamBody>(TokioIo::new(tcp))
        .await
        .unwrap();
    let mut driver = Box::pin(driver);
    std::future::poll_fn(|cx| {
        let _ = driver.as_mut().poll(cx);
        Poll::Ready(())
    })
    .await;
    assert!(conn.is_ready() && !conn.is_closed());
    drop(accepted);
    tokio::time::sleep(Duration::from_millis(100)).await;
    pool.checkin(conn);
    assert_eq!(pool.idle_count(), 1);
    tokio::spawn(driver);

    let body = fetch(&pool).await.unwrap();
    assert_eq!(body, "ok");
    assert_eq!((backend.accepts(), backend.requests()), (1, 1));
}

#[tokio::test]
async fn a_request_the_backend_may_have_read_is_never_sent_again() {
    // (script, requests sent, requests the backend must have seen)
    let cases: [(Script, usize, usize); 2] = [
        // A fresh connection: read, then closed.
        (|_, _| Reply::Hangup, 1, 1),
        // A reused connection: the first answered, the second read, then closed.
        (|_, n| if n == 0 { Reply::Ok } else { Reply::Hangup }, 2, 2),
    ];
    for (script, sent, seen) in cases {
        let backend = backend(script).await;
        let pool = plain(&backend, &settings(8));
        for _ in 1..sent {
            fetch(&pool).await.unwrap();
        }
        let error = fetch(&pool).await.unwrap_err();
        assert!(matches!(error, PoolError::Send(_)), "{error:?}");
        assert_eq!((backend.accepts(), backend.requests()), (1, seen));
    }
}

#[tokio::test]
async fn a_response_dropped_mid_body_does_not_poison_the_pool() {
    let backend = backend(|c, n| {
        if (c, n) == (0, 0) {
            Reply::Large
        } else {
            Reply::Ok
        }
    })
    .await;
    let pool = plain(&backend, &settings(8));
    let mut body = pool.send(get()).await.unwrap().into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert!(first.is_data());
    drop(body);
    assert_eq!(pool.idle_count(), 0);
    for _ in 0..2 {
        let body = fetch(&pool).await.unwrap();
        assert!(body == "ok", "{} bytes of the cut-off body", body.len());
    }
    assert_eq!((backend.accepts(), backend.requests()), (2, 3));
}

#[tokio::test]
async fn connect_failures_are_connect_errors_within_the_timeout() {
    // Refused: nothing listens on the port any more.
    let gone = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused: Authority = gone.local_addr().unwrap().to_string().parse().unwrap();
    drop(gone);
    // Black hole: a listener that never accepts, its backlog full, drops new SYNs.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let full = socket.listen(0).unwrap();
    let hole = full.local_addr().unwrap();
    let mut backlog = Vec::new();
    while backlog.len() < 64 {
        let attempt = TcpStream::connect(hole);
        match tokio::time::timeout(Duration::from_millis(200), attempt).await {
            Ok(Ok(tcp)) => backlog.push(tcp),
            _ => break,
        }
    }
    assert!(
        backlog.len() < 64,
        "backlog never filled; no black hole here"
    );
    let timeout = Duration::from_millis(300);
    let settings = Settings {
        connect_timeout: timeout,
        ..settings(8)
    };
    let cases = [
        (refused, "refused"),
        (hole.to_string().parse().unwrap(), "timed out"),
    ];
    for (authority, what) in cases {
        let pool = Pool::new(&Scheme::HTTP, &authority, &settings);
        let started = Instant::now();
        let error = pool.send(get()).await.unwrap_err();
        let took = started.elapsed();
        match (&error, what) {
            (PoolError::Connect(ConnectError::Tcp(_)), "refused") => {}
            (PoolError::Connect(ConnectError::TimedOut), "timed out") => {
                assert!(took >= timeout, "{took:?}");
            }
            _ => panic!("{what}: {error:?}"),
        }
        assert!(took < timeout * 3, "{what}: {took:?}");
    }
}

fn tls_acceptor(pki: &TestPki, name: &str) -> tokio_rustls::TlsAcceptor {
    pki.acceptor("backend", name)
}

fn trusting(pki: &TestPki) -> Settings {
    let roots = rampart_tls::load_roots(&pki.ca_path).unwrap();
    Settings {
        tls: Arc::new(rampart_tls::upstream_client_config(roots).unwrap()),
        ..settings(8)
    }
}

#[tokio::test]
async fn tls_backends_are_reached_by_name_and_kept_alive() {
    let pki = TestPki::new();
    let backend = backend_with(|_, _| Reply::Ok, Some(tls_acceptor(&pki, "localhost"))).await;
    let port = backend.authority.port_u16().unwrap();
    let by_name: Authority = format!("localhost:{port}").parse().unwrap();
    let pool = Pool::new(&Scheme::HTTPS, &by_name, &trusting(&pki));
    for _ in 0..2 {
        assert_eq!(fetch(&pool).await.unwrap(), "ok");
    }
    assert_eq!((backend.accepts(), backend.requests()), (1, 2));
}

#[tokio::test]
async fn tls_handshake_failures_are_connect_errors() {
    let pki = TestPki::new();
    let backend = backend_with(|_, _| Reply::Ok, Some(tls_acceptor(&pki, "localhost"))).await;
    let port = backend.authority.port_u16().unwrap();
    let by_name: Authority = format!("localhost:{port}").parse().unwrap();
    let cases = [
        // The certificate names localhost, not the IP (checked as an IP server name).
        (backend.authority.clone(), trusting(&pki)),
        // The CA is not trusted.
        (by_name, settings(8)),
    ];
    for (authority, settings) in cases {
        let pool = Pool::new(&Scheme::HTTPS, &authority, &settings);
        let error = pool.send(get()).await.unwrap_err();
        assert!(
            matches!(error, PoolError::Connect(ConnectError::Tls(_))),
            "{authority}: {error:?}"
        );
    }
    assert_eq!(backend.requests(), 0);
}

#[test]
fn server_names_come_from_the_authority_host() {
    let cases = [
        ("api.internal:8443", "api.internal"),
        ("127.0.0.1:8443", "127.0.0.1"),
        ("[::1]:8443", "::1"),
        ("api.internal", "api.internal"),
    ];
    for (authority, want) in cases {
        let authority: Authority = authority.parse().unwrap();
        let pool = Pool::new(&Scheme::HTTPS, &authority, &settings(8));
        let Transport::Tls(_, name) = &pool.transport else {
            panic!("{authority}: no tls");
        };
        assert_eq!(name.to_str(), want, "{authority}");
        assert_eq!(pool.host, want, "{authority}");
    }
    let authority: Authority = "app:80".parse().unwrap();
    let pool = Pool::new(&Scheme::HTTP, &authority, &settings(8));
    assert!(matches!(pool.transport, Transport::Plain));
}

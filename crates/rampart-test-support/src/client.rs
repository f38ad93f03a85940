//! Clients for tests: HTTP/1.1 and HTTP/2, plaintext or TLS, and raw bytes.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response with its body collected.
#[derive(Debug)]
pub struct Collected {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Collected {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn collect(response: Response<Incoming>) -> Collected {
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Collected {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// Sends `request` over a fresh HTTP/1.1 connection to `addr`.
pub async fn http1<B>(
    addr: SocketAddr,
    request: Request<B>,
) -> Result<Response<Incoming>, hyper::Error>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(conn);
    sender.send_request(request).await
}

/// TLS client configuration trusting `ca`, offering `alpn`.
pub fn tls_config(ca: &Path, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let roots = rampart_tls::load_roots(ca).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(rampart_tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// Sends `request` over TLS (server name `localhost`) with HTTP/2.
pub async fn https2<B>(
    addr: SocketAddr,
    ca: &Path,
    request: Request<B>,
) -> Result<Response<Incoming>, hyper::Error>
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let tcp = TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(tls_config(ca, &[b"h2"]));
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await?;
    tokio::spawn(conn);
    sender.send_request(request).await
}

/// Writes `bytes` on a fresh connection and reads until the peer closes or `wait` passes.
pub async fn raw(addr: SocketAddr, bytes: &[u8], wait: Duration) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, tcp.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

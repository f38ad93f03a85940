//! Webhook delivery: one `POST` of the alert's JSON per attempt, signed, with retries.
//!
//! Signature: `X-Rampart-Timestamp: <unix seconds>` and
//! `X-Rampart-Signature: sha256=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<body>")>`,
//! where `<timestamp>` is the header's decimal text and `<body>` the exact request body.
//! A receiver recomputes the MAC over the same string, compares in constant time and
//! refuses timestamps too far from its clock (five minutes is a common choice): an old
//! delivery replayed later then fails. Each attempt is signed with its own timestamp.
//!
//! Retries: any failure (connect, TLS, timeout, non-2xx) is retried up to `retries` times,
//! waiting `backoff * 2^n` (capped at [`super::config::MAX_BACKOFF`]) with jitter (a
//! random part of the second half). A delivery that fails every attempt is counted in
//! `rampart_alert_webhook_failures_total` and dropped. Deliveries to one webhook go one
//! after another; each webhook has its own queue, so a dead receiver delays only itself.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rand::Rng;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::Counters;
use super::config::{MAX_BACKOFF, Webhook};

/// Header carrying the MAC.
pub const SIGNATURE: &str = "x-rampart-signature";
/// Header carrying the signing time.
pub const TIMESTAMP: &str = "x-rampart-timestamp";
/// Response bodies read at most (and thrown away).
const MAX_RESPONSE: usize = 64 * 1024;

/// `sha256=<hex>` over `<timestamp>.<body>`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(timestamp.as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The delay before retry `n` (0-based): `backoff * 2^n`, capped, then a random point
/// in its second half.
pub fn delay(backoff: Duration, n: u32) -> Duration {
    let full = backoff
        .saturating_mul(2u32.saturating_pow(n.min(16)))
        .min(MAX_BACKOFF);
    let half = full / 2;
    let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(0);
    half + Duration::from_millis(rand::rng().random_range(0..=jitter_ms))
}

/// Why one attempt failed (logged with the URL, never with the secret).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// TCP connect failed.
    #[error("connect: {0}")]
    Connect(std::io::Error),
    /// TLS handshake failed.
    #[error("tls: {0}")]
    Tls(std::io::Error),
    /// The host is not a valid TLS server name.
    #[error("invalid server name")]
    ServerName,
    /// HTTP exchange failed.
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built.
    #[error("request: {0}")]
    Request(#[from] http::Error),
    /// The receiver answered with a non-2xx status.
    #[error("status {0}")]
    Status(StatusCode),
    /// The attempt took longer than the webhook's timeout.
    #[error("timed out")]
    Timeout,
}

/// Delivers every body from `rx` to `w`, one after another, until `rx` closes.
pub(crate) async fn deliver_all(
    w: Arc<Webhook>,
    mut rx: mpsc::Receiver<Bytes>,
    counters: Arc<Counters>,
) {
    while let Some(body) = rx.recv().await {
        if deliver(&w, &body).await.is_ok() {
            counters.delivered.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One delivery with its retries.
pub async fn deliver(w: &Webhook, body: &Bytes) -> Result<(), WebhookError> {
    let mut n = 0;
    loop {
        let result = match tokio::time::timeout(w.timeout, attempt(w, body)).await {
            Ok(r) => r,
            Err(_) => Err(WebhookError::Timeout),
        };
        match result {
            Ok(()) => return Ok(()),
            Err(e) if n >= w.retries => {
                tracing::warn!(url = %w.url, error = %e, attempts = n + 1, "alert webhook failed");
                return Err(e);
            }
            Err(e) => {
                tracing::debug!(url = %w.url, error = %e, attempt = n + 1, "alert webhook attempt failed");
                tokio::time::sleep(delay(w.backoff, n)).await;
                n += 1;
            }
        }
    }
}

async fn attempt(w: &Webhook, body: &Bytes) -> Result<(), WebhookError> {
    let tcp = TcpStream::connect((w.host.as_str(), w.port))
        .await
        .map_err(WebhookError::Connect)?;
    let _ = tcp.set_nodelay(true);
    match &w.tls {
        Some(tls) => {
            let name = rustls::pki_types::ServerName::try_from(w.host.clone())
                .map_err(|_| WebhookError::ServerName)?;
            let stream = tokio_rustls::TlsConnector::from(tls.clone())
                .connect(name, tcp)
                .await
                .map_err(WebhookError::Tls)?;
            exchange(w, body, stream).await
        }
        None => exchange(w, body, tcp).await,
    }
}

async fn exchange<S>(w: &Webhook, body: &Bytes, stream: S) -> Result<(), WebhookError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let conn = tokio::spawn(conn);
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string();
    let authority = w.url.authority().map_or(w.host.as_str(), |a| a.as_str());
    let path = w.url.path_and_query().map_or("/", |p| p.as_str());
    let request = Request::post(path)
        .header(header::HOST, authority)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, "rampart-alerts")
        .header(TIMESTAMP, &timestamp)
        .header(SIGNATURE, sign(&w.secret, &timestamp, body))
        .body(Full::new(body.clone()))?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    // Read a bounded amount so the connection closes cleanly; the content is not used.
    let mut body = response.into_body();
    let mut read = 0;
    while read < MAX_RESPONSE {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
            _ => break,
        }
    }
    conn.abort();
    if status.is_success() {
        Ok(())
    } else {
        Err(WebhookError::Status(status))
    }
}

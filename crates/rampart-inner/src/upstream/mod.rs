//! Backends: a keep-alive connection pool per address ([`pool`]), round-robin over them,
//! passive health (an address that fails to connect is skipped for a cooldown), and
//! connect / first-byte deadlines. A refused or reset backend is a 502, a slow one a
//! 504; nothing waits forever.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::header::HOST;
use http::uri::{Authority, PathAndQuery};
use http::{HeaderValue, Request, Response, Uri};
use rampart_core::error_chain;

use rampart_service::deadline::after_body_sent;

use crate::body::UpstreamBody;
use crate::config::UpstreamConfig;

mod pool;

pub(crate) use pool::ResponseBody;
use pool::{Pool, PoolError};

/// Why a backend exchange failed before a response head arrived.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum UpstreamError {
    /// Connection refused, reset, or an invalid response.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// No response head within the deadline.
    #[error("backend timed out")]
    TimedOut,
}

struct Address {
    authority: Authority,
    /// 80 or 443 by scheme.
    default_port: Option<u16>,
    pool: Arc<Pool>,
    /// Milliseconds since `epoch` until which the address is skipped; 0 = healthy.
    down_until_ms: AtomicU64,
}

/// One upstream group.
pub(crate) struct Upstream {
    name: String,
    addresses: Vec<Address>,
    next: AtomicUsize,
    epoch: Instant,
    pub(crate) first_byte_timeout: Duration,
    pub(crate) total_timeout: Duration,
    cooldown: Duration,
}

impl Upstream {
    pub(crate) fn new(name: &str, config: &UpstreamConfig) -> Result<Self, rampart_tls::TlsError> {
        let tls = match config.tls.as_deref() {
            Some(tls) => Arc::new(tls.clone()),
            // Plain-http upstream: https is refused by validation; trust nothing anyway.
            None => Arc::new(rampart_tls::upstream_client_config(
                rustls::RootCertStore::empty(),
            )?),
        };
        let settings = pool::Settings {
            connect_timeout: config.connect_timeout,
            max_idle: config.max_idle_per_address,
            idle_timeout: pool::IDLE_TIMEOUT,
            tls,
        };
        let addresses = config
            .addresses
            .iter()
            .filter_map(|uri| {
                let (scheme, authority) = (uri.scheme()?, uri.authority()?.clone());
                Some(Address {
                    default_port: match scheme.as_str() {
                        "https" => Some(443),
                        "http" => Some(80),
                        _ => None,
                    },
                    pool: Pool::new(scheme, &authority, &settings),
                    authority,
                    down_until_ms: AtomicU64::new(0),
                })
            })
            .collect();
        Ok(Self {
            name: name.to_owned(),
            addresses,
            next: AtomicUsize::new(0),
            epoch: Instant::now(),
            first_byte_timeout: config.first_byte_timeout,
            total_timeout: config.total_timeout,
            cooldown: config.passive_cooldown,
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Next address in round-robin order that is not cooling down; if all are, the
    /// next one anyway (trying is how a recovered backend is noticed).
    fn pick(&self) -> Option<&Address> {
        let n = self.addresses.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = self.now_ms();
        (0..n)
            .map(|i| &self.addresses[(start + i) % n])
            .find(|a| a.down_until_ms.load(Ordering::Relaxed) <= now)
            .or_else(|| self.addresses.get(start % n))
    }

    /// Sends `request` (origin-form URI) to the next address and waits for the response
    /// head: at most the first-byte timeout once the body was sent (`body_sent`), and
    /// never past `deadline`. A large upload thus does not eat the first-byte budget.
    pub(crate) async fn send(
        &self,
        mut request: Request<UpstreamBody>,
        body_sent: tokio::sync::watch::Receiver<bool>,
        deadline: Instant,
    ) -> Result<Response<ResponseBody>, UpstreamError> {
        let address = self
            .pick()
            .ok_or_else(|| UpstreamError::Unavailable("no addresses".into()))?;
        // hyper writes the URI as it is: origin-form, "/" when there is no path. The
        // exchange sets `Host`; without one it names the address (as the legacy client
        // did: no port when it is the scheme's default).
        if !request.headers().contains_key(HOST) {
            let host = match address.authority.port_u16() {
                Some(port) if Some(port) != address.default_port => address.authority.as_str(),
                _ => address.authority.host(),
            };
            if let Ok(host) = HeaderValue::from_str(host) {
                request.headers_mut().insert(HOST, host);
            }
        }
        let path = request
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let mut origin = http::uri::Parts::default();
        origin.path_and_query = Some(path);
        *request.uri_mut() =
            Uri::from_parts(origin).map_err(|e| UpstreamError::Unavailable(e.to_string()))?;
        // The first-byte clock starts once the body was sent; the total deadline bounds all.
        let response = after_body_sent(
            address.pool.send(request),
            body_sent,
            self.first_byte_timeout,
        );
        let outcome = match tokio::time::timeout_at(deadline.into(), response).await {
            Ok(Ok(result)) => Some(result),
            Ok(Err(_)) | Err(_) => None,
        };
        match outcome {
            Some(Ok(response)) => Ok(response),
            Some(Err(e)) => {
                if let PoolError::Connect(_) = e {
                    let now = self.now_ms();
                    let until =
                        now + u64::try_from(self.cooldown.as_millis()).unwrap_or(u64::MAX / 2);
                    let was = address.down_until_ms.swap(until, Ordering::Relaxed);
                    tracing::warn!(upstream = %self.name, address = %address.authority, "backend address failed; cooling down");
                    // One system event per fall out of rotation, for alert rules.
                    if was <= now {
                        rampart_service::audit::system_event(
                            "inner",
                            "upstream",
                            &format!("{}@{}", self.name, address.authority),
                            false,
                            "connect failed; out of rotation for the cooldown",
                        );
                    }
                }
                Err(UpstreamError::Unavailable(error_chain(&e)))
            }
            None => Err(UpstreamError::TimedOut),
        }
    }
}

/// All upstreams by name.
pub(crate) struct Upstreams {
    by_name: std::collections::HashMap<String, Arc<Upstream>>,
}

impl Upstreams {
    pub(crate) fn new(
        configs: &std::collections::BTreeMap<String, UpstreamConfig>,
    ) -> Result<Self, rampart_tls::TlsError> {
        let mut by_name = std::collections::HashMap::new();
        for (name, config) in configs {
            by_name.insert(name.clone(), Arc::new(Upstream::new(name, config)?));
        }
        Ok(Self { by_name })
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arc<Upstream>> {
        self.by_name.get(name)
    }

    /// Each upstream by name and whether any of its addresses is in rotation, sorted.
    pub(crate) fn up(&self) -> Vec<(String, bool)> {
        let mut out: Vec<(String, bool)> = self
            .by_name
            .iter()
            .map(|(name, upstream)| {
                let now = upstream.now_ms();
                let up = upstream
                    .addresses
                    .iter()
                    .any(|a| a.down_until_ms.load(Ordering::Relaxed) <= now);
                (name.clone(), up)
            })
            .collect();
        out.sort();
        out
    }

    /// Every address as `upstream:name:authority` and whether it is in rotation (not
    /// cooling down after a failure), sorted.
    pub(crate) fn health(&self) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        for (name, upstream) in &self.by_name {
            let now = upstream.now_ms();
            for a in &upstream.addresses {
                let healthy = a.down_until_ms.load(Ordering::Relaxed) <= now;
                out.push((format!("upstream:{name}:{}", a.authority), healthy));
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use http::Request;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::Upstream;
    use crate::body::UpstreamBody;
    use crate::config::UpstreamConfig;

    fn config(addresses: &[String]) -> UpstreamConfig {
        UpstreamConfig {
            addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
            connect_timeout: Duration::from_secs(2),
            first_byte_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(10),
            passive_cooldown: Duration::from_secs(5),
            tls: None,
            max_idle_per_address: 8,
        }
    }

    /// Reads one request head and its `content-length` body, raw.
    async fn read_request(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |n| n.trim().parse::<usize>().unwrap());
                if raw.len() >= end + 4 + length {
                    return raw;
                }
            }
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "request cut short: {raw:?}");
            raw.extend_from_slice(&buf[..n]);
        }
    }

    #[tokio::test]
    async fn backend_receives_the_same_request_bytes_as_from_the_legacy_client() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let backend = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            for _ in 0..4 {
                seen.push(read_request(&mut stream).await);
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await
                    .unwrap();
            }
            seen
        });
        let upstream =
            Upstream::new("app", &config(&[format!("http://127.0.0.1:{port}")])).unwrap();
        let requests = [
            ("GET", "/", Some("api.example"), ""),
            ("GET", "/orders?id=7&x=%20", Some("api.example:8443"), ""),
            ("POST", "/orders", Some("api.example"), "hello"),
            ("GET", "/no-host", None, ""),
        ];
        for (method, uri, host, text) in requests {
            let (body, sent) = UpstreamBody::buffered(Bytes::from(text), Vec::new());
            let mut request = Request::builder().method(method).uri(uri);
            if let Some(host) = host {
                request = request.header("host", host);
            }
            request = request
                .header("x-forwarded-for", "192.0.2.1")
                .header("x-request-id", "r-1");
            if !text.is_empty() {
                request = request.header("content-length", text.len());
            }
            let request = request.body(body).unwrap();
            let deadline = Instant::now() + Duration::from_secs(5);
            let response = upstream.send(request, sent, deadline).await.unwrap();
            assert_eq!(response.status(), 200);
        }
        let seen = backend.await.unwrap();
        let seen: Vec<String> = seen
            .iter()
            .map(|r| String::from_utf8(r.clone()).unwrap())
            .collect();
        // The first three captured from hyper-util's legacy pooled client (before it was
        // replaced); the fourth is its rule for a missing Host: the address, with its
        // port unless that is the scheme's default.
        let no_host = format!(
            "GET /no-host HTTP/1.1\r\nx-forwarded-for: 192.0.2.1\r\nx-request-id: r-1\r\nhost: 127.0.0.1:{port}\r\n\r\n"
        );
        let legacy = [
            "GET / HTTP/1.1\r\nhost: api.example\r\nx-forwarded-for: 192.0.2.1\r\nx-request-id: r-1\r\n\r\n",
            "GET /orders?id=7&x=%20 HTTP/1.1\r\nhost: api.example:8443\r\nx-forwarded-for: 192.0.2.1\r\nx-request-id: r-1\r\n\r\n",
            "POST /orders HTTP/1.1\r\nhost: api.example\r\nx-forwarded-for: 192.0.2.1\r\nx-request-id: r-1\r\ncontent-length: 5\r\n\r\nhello",
            &no_host,
        ];
        assert_eq!(seen, legacy, "{seen:#?}");
    }
}

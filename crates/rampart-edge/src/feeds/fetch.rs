//! Reading one feed body: HTTPS (plain HTTP only when the operator said so) with a connect
//! deadline, a total deadline and the size cap enforced while the body arrives; or a local
//! file read with the same cap.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rampart_http::feeds::FeedError;

/// Cache validators of the last good copy, sent so an unchanged feed costs one 304.
#[derive(Debug, Clone, Default)]
pub(super) struct Validators {
    pub(super) etag: Option<HeaderValue>,
    pub(super) last_modified: Option<HeaderValue>,
}

/// What a fetch brought.
pub(super) enum Fetched {
    /// A new body and its validators.
    Body(Bytes, Validators),
    /// 304: the copy in use is current.
    Unchanged,
}

/// An HTTP client for one feed URL.
pub(super) struct Fetcher {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    timeout: Duration,
    max_bytes: u64,
}

impl Fetcher {
    pub(super) fn new(
        tls: &rustls::ClientConfig,
        allow_plain_http: bool,
        connect_timeout: Duration,
        timeout: Duration,
        max_bytes: u64,
    ) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(connect_timeout));
        let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls.clone());
        let connector = if allow_plain_http {
            builder.https_or_http().enable_http1().wrap_connector(http)
        } else {
            builder.https_only().enable_http1().wrap_connector(http)
        };
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(1)
            .build(connector);
        Self {
            client,
            timeout,
            max_bytes,
        }
    }

    /// GET `uri` within the total deadline.
    pub(super) async fn get(&self, uri: &Uri, known: &Validators) -> Result<Fetched, FeedError> {
        tokio::time::timeout(self.timeout, self.exchange(uri, known))
            .await
            .map_err(|_| FeedError::Timeout)?
    }

    async fn exchange(&self, uri: &Uri, known: &Validators) -> Result<Fetched, FeedError> {
        let mut request = Request::builder()
            .method(Method::GET)
            .uri(uri.clone())
            .header(header::ACCEPT, "text/plain")
            .body(Empty::new())
            .map_err(|e| FeedError::Fetch(e.to_string()))?;
        if let Some(etag) = &known.etag {
            request
                .headers_mut()
                .insert(header::IF_NONE_MATCH, etag.clone());
        }
        if let Some(date) = &known.last_modified {
            request
                .headers_mut()
                .insert(header::IF_MODIFIED_SINCE, date.clone());
        }
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| FeedError::Fetch(rampart_core::error_chain(&e)))?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_MODIFIED if known.etag.is_some() || known.last_modified.is_some() => {
                return Ok(Fetched::Unchanged);
            }
            other => return Err(FeedError::Status(other.as_u16())),
        }
        let too_large = FeedError::TooLarge {
            limit: self.max_bytes,
        };
        let declared = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_bytes) {
            return Err(too_large);
        }
        let validators = Validators {
            etag: response.headers().get(header::ETAG).cloned(),
            last_modified: response.headers().get(header::LAST_MODIFIED).cloned(),
        };
        let cap = usize::try_from(self.max_bytes).unwrap_or(usize::MAX);
        // The cap counts bytes as they arrive: a server lying about (or omitting) its
        // length is cut off at the cap, never buffered beyond it.
        let body = Limited::new(response.into_body(), cap)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    too_large
                } else {
                    FeedError::Fetch(e.to_string())
                }
            })?;
        Ok(Fetched::Body(body.to_bytes(), validators))
    }
}

/// Reads a local feed file, refusing it beyond `max_bytes` without reading further.
pub(super) async fn read_file(path: &Path, max_bytes: u64) -> Result<Bytes, FeedError> {
    use tokio::io::AsyncReadExt as _;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| FeedError::Fetch(format!("{}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| FeedError::Fetch(format!("{}: {e}", path.display())))?;
    if bytes.len() as u64 > max_bytes {
        return Err(FeedError::TooLarge { limit: max_bytes });
    }
    Ok(Bytes::from(bytes))
}

/// [`read_file`] for load time, before the runtime runs.
pub(super) fn read_file_blocking(path: &Path, max_bytes: u64) -> Result<Vec<u8>, FeedError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)
        .map_err(|e| FeedError::Fetch(format!("{}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| FeedError::Fetch(format!("{}: {e}", path.display())))?;
    if bytes.len() as u64 > max_bytes {
        return Err(FeedError::TooLarge { limit: max_bytes });
    }
    Ok(bytes)
}

//! The HTTPS client towards identity providers: HTTPS only, a connect deadline, a total
//! deadline per exchange, and a cap on the response body.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rampart_core::error_chain;

/// Deadlines and caps of one IdP client.
#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    /// TCP connect deadline.
    pub connect_timeout: Duration,
    /// Deadline for the whole exchange (connect, TLS, request, full response body).
    pub timeout: Duration,
    /// Largest response body accepted.
    pub max_body_bytes: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            max_body_bytes: 256 * 1024,
        }
    }
}

/// Why an IdP exchange failed. Logged; never shown to clients.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("request could not be built: {0}")]
    Request(String),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("timed out")]
    Timeout,
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("response body failed or exceeded the cap: {0}")]
    Body(String),
}

/// A pooled HTTPS-only client with its limits.
#[derive(Clone)]
pub(crate) struct Fetcher {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    limits: FetchLimits,
}

impl Fetcher {
    pub(crate) fn new(tls: &rustls::ClientConfig, limits: FetchLimits) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(limits.connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls.clone())
            .https_only()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(4)
            .build(connector);
        Self { client, limits }
    }

    /// GET `uri`, expecting 200 and a JSON body.
    pub(crate) async fn get(&self, uri: &Uri) -> Result<Bytes, FetchError> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(uri.clone())
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|e| FetchError::Request(e.to_string()))?;
        self.exchange(request).await
    }

    /// POST a form to `uri` with an `Authorization` header.
    pub(crate) async fn post_form(
        &self,
        uri: &Uri,
        authorization: &HeaderValue,
        form: String,
    ) -> Result<Bytes, FetchError> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(uri.clone())
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| FetchError::Request(e.to_string()))?;
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, authorization.clone());
        self.exchange(request).await
    }

    async fn exchange(&self, request: Request<Full<Bytes>>) -> Result<Bytes, FetchError> {
        let max = self.limits.max_body_bytes;
        let work = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| FetchError::Connect(error_chain(&e)))?;
            if response.status() != http::StatusCode::OK {
                return Err(FetchError::Status(response.status().as_u16()));
            }
            let body = Limited::new(response.into_body(), max)
                .collect()
                .await
                .map_err(|e| FetchError::Body(e.to_string()))?;
            Ok(body.to_bytes())
        };
        tokio::time::timeout(self.limits.timeout, work)
            .await
            .map_err(|_| FetchError::Timeout)?
    }
}

/// True for an absolute `https://` URI with a host.
pub(crate) fn is_https(uri: &Uri) -> bool {
    uri.scheme() == Some(&http::uri::Scheme::HTTPS) && uri.host().is_some_and(|h| !h.is_empty())
}

//! The admin listener: `/healthz` (the process runs), `/readyz` (it can serve traffic)
//! and `/metrics` (Prometheus text, when the tier has metrics). Meant for the management
//! network only; later grows the admin API.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::shutdown::Shutdown;

/// Answers whether the tier is ready.
pub trait Readiness: Send + Sync + 'static {
    /// True when the tier can serve traffic.
    fn is_ready(&self) -> bool;
}

impl<F: Fn() -> bool + Send + Sync + 'static> Readiness for F {
    fn is_ready(&self) -> bool {
        self()
    }
}

/// Renders the tier's metrics in the Prometheus text format.
pub trait Metrics: Send + Sync + 'static {
    /// The whole exposition.
    fn render(&self) -> String;
}

impl<F: Fn() -> String + Send + Sync + 'static> Metrics for F {
    fn render(&self) -> String {
        self()
    }
}

fn metrics_response(metrics: &dyn Metrics) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(metrics.render())));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

fn respond(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn route(
    req: &Request<Incoming>,
    ready: &dyn Readiness,
    metrics: Option<&dyn Metrics>,
    draining: bool,
) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return respond(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    match req.uri().path() {
        "/healthz" => respond(StatusCode::OK, "ok\n"),
        "/readyz" if draining => respond(StatusCode::SERVICE_UNAVAILABLE, "draining\n"),
        "/readyz" if ready.is_ready() => respond(StatusCode::OK, "ready\n"),
        "/readyz" => respond(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        "/metrics" => match metrics {
            Some(metrics) => metrics_response(metrics),
            None => respond(StatusCode::NOT_FOUND, "not found\n"),
        },
        _ => respond(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Serves the admin endpoints on `listener` until `shutdown`. During shutdown
/// `/readyz` answers 503 so load balancers stop sending traffic while the tier drains.
pub async fn serve(
    listener: TcpListener,
    ready: Arc<dyn Readiness>,
    metrics: Option<Arc<dyn Metrics>>,
    shutdown: Shutdown,
) {
    let draining = shutdown.clone();
    let stop = shutdown.signalled();
    tokio::pin!(stop);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let ready = ready.clone();
        let metrics = metrics.clone();
        let draining = draining.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let response = route(
                    &req,
                    ready.as_ref(),
                    metrics.as_deref(),
                    draining.is_signalled(),
                );
                async move { Ok::<_, Infallible>(response) }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            // Admin requests are tiny; a stuck client is cut after a short while.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(30), conn).await;
        });
    }
}

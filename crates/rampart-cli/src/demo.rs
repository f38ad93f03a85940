//! The built-in demo backend `rampart up` puts behind the firewall: it answers every
//! request with a JSON summary of what reached it, so a user can see what Rampart
//! forwards (and what it removed).

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

async fn answer(
    req: Request<Incoming>,
    log_requests: bool,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    if log_requests {
        // One line per request reached: deployment tests count these to prove what
        // the firewall let through (and what it did not).
        eprintln!("demo-backend: {} {}", parts.method, parts.uri.path());
    }
    // Count the body without keeping it: the demo must stay bounded too.
    let mut body_bytes: u64 = 0;
    let mut body = body;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            body_bytes += data.len() as u64;
        }
    }
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let summary = serde_json::json!({
        "service": "rampart demo backend",
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query().unwrap_or(""),
        "host": header("host"),
        "x_request_id": header("x-request-id"),
        "x_forwarded_for": header("x-forwarded-for"),
        "x_forwarded_proto": header("x-forwarded-proto"),
        "traceparent": header("traceparent"),
        "header_names": parts.headers.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
        "body_bytes": body_bytes,
    });
    let mut response = Response::new(Full::new(Bytes::from(format!("{summary:#}\n"))));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    // A banner Rampart removes on the way out.
    response.headers_mut().insert(
        header::SERVER,
        header::HeaderValue::from_static("demo-backend/1.0"),
    );
    Ok(response)
}

/// Serves the demo backend on `listener` forever; with `log_requests`, one stderr line
/// per request.
pub(crate) async fn serve(listener: TcpListener, log_requests: bool) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        tokio::spawn(async move {
            let builder = auto::Builder::new(TokioExecutor::new());
            let _ = builder
                .serve_connection(
                    TokioIo::new(stream),
                    hyper::service::service_fn(move |req| answer(req, log_requests)),
                )
                .await;
        });
    }
}

/// `rampart demo-backend`: the demo backend alone, for container deployments.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoBackendArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
}

pub(crate) fn run(args: &DemoBackendArgs) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // As PID 1 in a container a process gets no default SIGTERM action: handle it.
        let stop = rampart_service::shutdown::on_termination_signal();
        let listener = TcpListener::bind(args.listen).await?;
        eprintln!("demo-backend: listening on {}", listener.local_addr()?);
        tokio::select! {
            () = serve(listener, true) => {}
            () = stop.signalled() => {}
        }
        Ok(std::process::ExitCode::SUCCESS)
    })
}

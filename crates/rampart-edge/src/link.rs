//! The edge's side of the link: pooled mutual-TLS gRPC channels to the inner endpoints,
//! round-robin over the healthy ones, with active probes and passive mark-down.
//!
//! Fail closed: when no endpoint is healthy the caller gets [`LinkError::Unavailable`]
//! at once and answers 503; a request is never sent anywhere but a configured inner
//! endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use http::Uri;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rampart_proto::v1::forwarder_client::ForwarderClient;
use rampart_proto::v1::{PingRequest, RequestPart, ResponsePart};
use rampart_service::deadline::after_body_sent;
use rampart_service::shutdown::Shutdown;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::config::InnerLinkConfig;

/// Largest gRPC message accepted on the link; body chunks are far smaller.
pub(crate) const MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// Why a request could not be handed to the inner tier.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// No endpoint is healthy, or the chosen one failed before answering.
    #[error("no inner endpoint available")]
    Unavailable,
    /// The inner tier did not answer in time.
    #[error("inner tier timed out")]
    TimedOut,
    /// The inner tier answered with something that is not a response head.
    #[error("inner tier protocol violation: {0}")]
    Protocol(&'static str),
}

type LinkBody = tonic::body::Body;
type H2 = hyper::client::conn::http2::SendRequest<LinkBody>;

/// One HTTP/2 connection of the link, used directly by request tasks (no dispatch task
/// in between, unlike a buffered channel).
#[derive(Clone)]
struct H2Sender(H2);

impl tower::Service<http::Request<LinkBody>> for H2Sender {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = hyper::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<LinkBody>) -> Self::Future {
        Box::pin(self.0.send_request(request))
    }
}

/// A connection slot: holds a live connection, or re-dials when it is gone.
#[derive(Default)]
struct Slot {
    live: std::sync::Mutex<Option<H2>>,
    dialing: tokio::sync::Mutex<()>,
}

impl InnerEndpoint {
    /// Takes the endpoint out of rotation until a probe answers again.
    fn mark_down(&self, why: &str) {
        if self.healthy.swap(false, Ordering::Relaxed) {
            tracing::warn!(endpoint = %self.addr, error = why, "inner endpoint marked down");
        }
    }
}

impl Slot {
    fn current(&self) -> Option<H2> {
        let live = self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        live.as_ref().filter(|s| !s.is_closed()).cloned()
    }

    fn store(&self, sender: H2) {
        *self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(sender);
    }
}

struct InnerEndpoint {
    addr: String,
    slots: Vec<Slot>,
    next: AtomicUsize,
    healthy: AtomicBool,
    /// The configuration generation the endpoint's last ping reported (0: none yet).
    generation: std::sync::atomic::AtomicU64,
}

/// Everything needed to dial a link connection.
struct Dialer {
    tls: TlsConnector,
    server_name: rustls::pki_types::ServerName<'static>,
    connect_timeout: Duration,
    origin: Uri,
}

impl Dialer {
    async fn dial(&self, addr: &str) -> Result<H2, LinkError> {
        let dial = async {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let tls = self.tls.connect(self.server_name.clone(), tcp).await?;
            let (sender, connection) =
                hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                    .timer(TokioTimer::new())
                    .initial_stream_window_size(1024 * 1024)
                    .initial_connection_window_size(8 * 1024 * 1024)
                    .keep_alive_interval(Duration::from_secs(10))
                    .keep_alive_timeout(Duration::from_secs(5))
                    .keep_alive_while_idle(true)
                    .handshake(TokioIo::new(tls))
                    .await
                    .map_err(std::io::Error::other)?;
            let label = addr.to_owned();
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(endpoint = %label, error = %e, "link connection closed");
                }
            });
            Ok::<_, std::io::Error>(sender)
        };
        match tokio::time::timeout(self.connect_timeout, dial).await {
            Ok(Ok(sender)) => Ok(sender),
            Ok(Err(e)) => {
                tracing::debug!(endpoint = %addr, error = %e, "link dial failed");
                Err(LinkError::Unavailable)
            }
            Err(_) => {
                tracing::debug!(endpoint = %addr, "link dial timed out");
                Err(LinkError::Unavailable)
            }
        }
    }
}

/// The pool of links to every inner endpoint.
pub struct Link {
    endpoints: Vec<InnerEndpoint>,
    next: AtomicUsize,
    dialer: Dialer,
    response_timeout: Duration,
}

impl Link {
    /// Prepares the slots of every endpoint; nothing is dialled yet.
    pub fn new(config: &InnerLinkConfig) -> Result<Self, LinkError> {
        let origin: Uri = format!("https://{}", server_name_text(&config.server_name))
            .parse()
            .map_err(|_| LinkError::Protocol("inner server name is not a valid authority"))?;
        let endpoints = config
            .endpoints
            .iter()
            .map(|addr| InnerEndpoint {
                addr: addr.clone(),
                slots: (0..config.connections_per_endpoint)
                    .map(|_| Slot::default())
                    .collect(),
                next: AtomicUsize::new(0),
                healthy: AtomicBool::new(false),
                generation: std::sync::atomic::AtomicU64::new(0),
            })
            .collect();
        Ok(Self {
            endpoints,
            next: AtomicUsize::new(0),
            dialer: Dialer {
                tls: TlsConnector::from(config.tls.clone()),
                server_name: config.server_name.clone(),
                connect_timeout: config.connect_timeout,
                origin,
            },
            response_timeout: config.response_timeout,
        })
    }

    /// A client on one of `endpoint`'s connections, dialling it if needed.
    async fn client(
        &self,
        endpoint: &InnerEndpoint,
    ) -> Result<ForwarderClient<H2Sender>, LinkError> {
        let i = endpoint.next.fetch_add(1, Ordering::Relaxed) % endpoint.slots.len();
        let slot = &endpoint.slots[i];
        let sender = match slot.current() {
            Some(sender) => sender,
            None => {
                let _dialing = slot.dialing.lock().await;
                match slot.current() {
                    Some(sender) => sender,
                    None => {
                        let sender = self.dialer.dial(&endpoint.addr).await?;
                        slot.store(sender.clone());
                        sender
                    }
                }
            }
        };
        Ok(
            ForwarderClient::with_origin(H2Sender(sender), self.dialer.origin.clone())
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
    }

    /// Each endpoint, whether it answered its last probe, and the configuration
    /// generation it last reported (0 before the first answer).
    pub fn endpoints(&self) -> Vec<(String, bool, u64)> {
        self.endpoints
            .iter()
            .map(|e| {
                (
                    e.addr.clone(),
                    e.healthy.load(Ordering::Relaxed),
                    e.generation.load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// True when at least one endpoint answered its last probe.
    pub fn is_ready(&self) -> bool {
        self.endpoints
            .iter()
            .any(|e| e.healthy.load(Ordering::Relaxed))
    }

    fn pick(&self) -> Option<&InnerEndpoint> {
        let n = self.endpoints.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| &self.endpoints[(start + i) % n])
            .find(|e| e.healthy.load(Ordering::Relaxed))
    }

    /// Sends one exchange to a healthy endpoint and waits for the response head, at
    /// most the response timeout once the request body was sent (`body_sent`).
    pub async fn forward<S>(
        &self,
        parts: S,
        body_sent: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(ResponsePart, tonic::Streaming<ResponsePart>), LinkError>
    where
        S: Stream<Item = RequestPart> + Send + 'static,
    {
        let endpoint = self.pick().ok_or(LinkError::Unavailable)?;
        let exchange = async {
            let mut client = self
                .client(endpoint)
                .await
                .inspect_err(|_| endpoint.mark_down("dial failed"))?;
            let response = client.forward(parts).await.map_err(|status| {
                if is_transport_failure(&status) {
                    endpoint.mark_down(status.message());
                }
                LinkError::Unavailable
            })?;
            let mut stream = response.into_inner();
            match stream.message().await {
                Ok(Some(first)) => Ok((first, stream)),
                Ok(None) => Err(LinkError::Protocol("stream ended before the response head")),
                Err(_) => Err(LinkError::Unavailable),
            }
        };
        after_body_sent(exchange, body_sent, self.response_timeout)
            .await
            .map_err(|_| LinkError::TimedOut)?
    }

    /// Probes every endpoint now and then every `interval` until `shutdown`.
    pub fn spawn_health_checks(self: &Arc<Self>, interval: Duration, shutdown: Shutdown) {
        let link = Arc::clone(self);
        tokio::spawn(async move {
            let stop = shutdown.signalled();
            tokio::pin!(stop);
            loop {
                link.probe_all(interval).await;
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    () = &mut stop => return,
                }
            }
        });
    }

    async fn probe_all(&self, deadline: Duration) {
        let probes = self.endpoints.iter().map(|endpoint| async move {
            let ping = async {
                let mut client = self.client(endpoint).await.ok()?;
                client.ping(PingRequest {}).await.ok()
            };
            let reply = tokio::time::timeout(deadline, ping).await.ok().flatten();
            if let Some(reply) = &reply {
                endpoint
                    .generation
                    .store(reply.get_ref().generation, Ordering::Relaxed);
            }
            let ok = reply.is_some();
            let was = endpoint.healthy.swap(ok, Ordering::Relaxed);
            if was != ok {
                if ok {
                    tracing::info!(endpoint = %endpoint.addr, "inner endpoint up");
                } else {
                    tracing::warn!(endpoint = %endpoint.addr, "inner endpoint down");
                }
            }
        });
        futures_util::future::join_all(probes).await;
    }
}

fn server_name_text(name: &rustls::pki_types::ServerName<'_>) -> String {
    match name {
        rustls::pki_types::ServerName::DnsName(dns) => dns.as_ref().to_owned(),
        rustls::pki_types::ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        _ => "rampart-inner".to_owned(),
    }
}

/// A status that means the link itself failed (as opposed to an answer from the inner).
fn is_transport_failure(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal
    )
}

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
use hyper_util::rt::TokioIo;
use rampart_proto::v1::forwarder_client::ForwarderClient;
use rampart_proto::v1::{PingRequest, RequestPart, ResponsePart};
use rampart_service::shutdown::Shutdown;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint, Uri};

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

struct InnerEndpoint {
    addr: String,
    clients: Vec<ForwarderClient<Channel>>,
    next: AtomicUsize,
    healthy: AtomicBool,
}

impl InnerEndpoint {
    fn client(&self) -> ForwarderClient<Channel> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
        self.clients[i].clone()
    }
}

/// The pool of links to every inner endpoint.
pub struct Link {
    endpoints: Vec<InnerEndpoint>,
    next: AtomicUsize,
    response_timeout: Duration,
}

/// Opens TCP then mutual TLS to one inner endpoint.
#[derive(Clone)]
struct Connector {
    addr: Arc<str>,
    tls: TlsConnector,
    server_name: rustls::pki_types::ServerName<'static>,
}

impl tower::Service<Uri> for Connector {
    type Response = TokioIo<tokio_rustls::client::TlsStream<TcpStream>>;
    type Error = std::io::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let tcp = TcpStream::connect(&*this.addr).await?;
            tcp.set_nodelay(true)?;
            let tls = this.tls.connect(this.server_name, tcp).await?;
            Ok(TokioIo::new(tls))
        })
    }
}

impl Link {
    /// Builds lazily-connected channels for every endpoint; nothing is dialled yet.
    pub fn new(config: &InnerLinkConfig) -> Result<Self, tonic::transport::Error> {
        let tls = TlsConnector::from(config.tls.clone());
        let mut endpoints = Vec::with_capacity(config.endpoints.len());
        for addr in &config.endpoints {
            // The URI only labels the channel; the connector dials `addr` itself.
            let endpoint = Endpoint::from_shared(format!("https://{addr}"))?
                .connect_timeout(config.connect_timeout)
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(10))
                .keep_alive_timeout(Duration::from_secs(5))
                .keep_alive_while_idle(true)
                .initial_stream_window_size(1024 * 1024)
                .initial_connection_window_size(8 * 1024 * 1024);
            let connector = Connector {
                addr: addr.as_str().into(),
                tls: tls.clone(),
                server_name: config.server_name.clone(),
            };
            let clients = (0..config.connections_per_endpoint)
                .map(|_| {
                    ForwarderClient::new(endpoint.connect_with_connector_lazy(connector.clone()))
                        .max_decoding_message_size(MAX_MESSAGE)
                        .max_encoding_message_size(MAX_MESSAGE)
                })
                .collect();
            endpoints.push(InnerEndpoint {
                addr: addr.clone(),
                clients,
                next: AtomicUsize::new(0),
                healthy: AtomicBool::new(false),
            });
        }
        Ok(Self {
            endpoints,
            next: AtomicUsize::new(0),
            response_timeout: config.response_timeout,
        })
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
        mut body_sent: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(ResponsePart, tonic::Streaming<ResponsePart>), LinkError>
    where
        S: Stream<Item = RequestPart> + Send + 'static,
    {
        let endpoint = self.pick().ok_or(LinkError::Unavailable)?;
        let mut client = endpoint.client();
        let exchange = async {
            let response = client.forward(parts).await.map_err(|status| {
                if is_transport_failure(&status)
                    && endpoint.healthy.swap(false, Ordering::Relaxed) {
                        tracing::warn!(endpoint = %endpoint.addr, error = %status, "inner endpoint marked down");
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
        tokio::pin!(exchange);
        let answer_by = tokio::time::sleep(Duration::MAX / 4);
        tokio::pin!(answer_by);
        let mut armed = false;
        loop {
            tokio::select! {
                result = &mut exchange => return result,
                () = &mut answer_by, if armed => return Err(LinkError::TimedOut),
                sent = body_sent.wait_for(|sent| *sent), if !armed => {
                    armed = true;
                    if sent.is_ok() {
                        answer_by.as_mut().reset(tokio::time::Instant::now() + self.response_timeout);
                    }
                }
            }
        }
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
            let mut client = endpoint.client();
            let ok = matches!(
                tokio::time::timeout(deadline, client.ping(PingRequest {})).await,
                Ok(Ok(_))
            );
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

/// A status that means the link itself failed (as opposed to an answer from the inner).
fn is_transport_failure(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal
    )
}

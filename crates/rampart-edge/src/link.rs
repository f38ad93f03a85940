//! The edge's side of the link: pooled mutual-TLS gRPC channels to the inner endpoints,
//! with active probes and passive mark-down.
//!
//! Each configured `host:port` is a target: its name is resolved at start and every
//! `resolve_interval`, and every address is an endpoint with its own connections,
//! health and probes (replicas behind one DNS name). Vanished addresses leave the
//! rotation at once; requests in flight on them finish. A request goes to the less
//! busy of two healthy endpoints (power of two choices on requests waiting for their
//! response head), so a slow replica gets less traffic than a fast one.
//!
//! In `inner-dials` mode the edge dials nothing: the inner replicas open mutual-TLS
//! connections to the edge's link listener ([`accept`]), and each accepted connection
//! is an endpoint of its own until it closes. Only where a connection comes from
//! differs; the HTTP/2 client, the probes, the balancing and the fail-closed answer
//! below are the same in both modes.
//!
//! Fail closed: when no endpoint is healthy the caller gets [`LinkError::Unavailable`]
//! at once and answers 503; a request is never sent anywhere but an address of a
//! configured inner target or an authenticated inner connection.

mod accept;
mod balance;
mod conn;
mod endpoint;
mod grpc;
mod targets;

pub use self::grpc::Responses;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::Stream;
use http::Uri;
use rampart_proto::v1::forwarder_client::ForwarderClient;
use rampart_proto::v1::policy_push_client::PolicyPushClient;
use rampart_proto::v1::{PingRequest, PolicyBundle, RequestPart, ResponsePart, WatchPolicyRequest};
use rampart_service::deadline::after_body_sent;
use rampart_service::shutdown::Shutdown;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use self::conn::{Dialer, H2Sender};
use self::endpoint::{Conns, InnerEndpoint, Outstanding};
use self::targets::Target;
use crate::config::{InnerLinkConfig, LinkMode};

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

/// Deadline for one name lookup.
const RESOLVE_DEADLINE: Duration = Duration::from_secs(5);

/// The current endpoints; replaced whole when resolution changes them.
type EndpointSet = Arc<Vec<Arc<InnerEndpoint>>>;

/// One endpoint's state, for admin status and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointStatus {
    /// The configured target (`inner:7443`).
    pub target: String,
    /// The resolved address this endpoint dials.
    pub addr: SocketAddr,
    /// Whether it answered its last probe.
    pub healthy: bool,
    /// The configuration generation it last reported (0 before the first answer).
    pub generation: u64,
    /// Requests sent to it still waiting for their response head.
    pub outstanding: usize,
}

/// The pool of links to every inner endpoint.
pub struct Link {
    source: Source,
    endpoints: std::sync::RwLock<EndpointSet>,
    next: AtomicUsize,
    /// The authority every request on the link names.
    origin: Uri,
    response_timeout: Duration,
    health_interval: Duration,
}

/// Where the link's connections come from: the one difference between the modes.
enum Source {
    /// `edge-dials`: configured targets, dialled on demand.
    Dial {
        targets: Vec<Target>,
        dialer: Dialer,
        resolve_interval: Duration,
        connections_per_endpoint: usize,
    },
    /// `inner-dials`: connections the inner replicas open to the link listener.
    Accept {
        tls: TlsAcceptor,
        listen: SocketAddr,
        handshake_timeout: Duration,
    },
}

impl Link {
    /// Prepares the targets; IP literals become endpoints at once, names when the
    /// health task first resolves them. Nothing is dialled yet; in `inner-dials` mode
    /// the set stays empty until [`Link::spawn_listener`] accepts a connection.
    pub fn new(config: &InnerLinkConfig) -> Result<Self, LinkError> {
        let (source, authority) = match &config.mode {
            LinkMode::EdgeDials(dials) => (
                Source::Dial {
                    targets: dials.endpoints.iter().map(|e| Target::new(e)).collect(),
                    dialer: Dialer {
                        tls: TlsConnector::from(dials.tls.clone()),
                        server_name: dials.server_name.clone(),
                        connect_timeout: config.connect_timeout,
                    },
                    resolve_interval: dials.resolve_interval,
                    connections_per_endpoint: dials.connections_per_endpoint.max(1),
                },
                server_name_text(&dials.server_name),
            ),
            LinkMode::InnerDials(accepts) => (
                Source::Accept {
                    tls: TlsAcceptor::from(accepts.tls.clone()),
                    listen: accepts.listen,
                    handshake_timeout: config.connect_timeout,
                },
                "rampart-inner".to_owned(),
            ),
        };
        let origin: Uri = format!("https://{authority}")
            .parse()
            .map_err(|_| LinkError::Protocol("inner server name is not a valid authority"))?;
        let link = Self {
            source,
            endpoints: std::sync::RwLock::new(Arc::new(Vec::new())),
            next: AtomicUsize::new(0),
            origin,
            response_timeout: config.response_timeout,
            health_interval: config.health_interval,
        };
        let literals = link
            .targets()
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.literal().map(|a| (i, Some(vec![a]))))
            .collect::<Vec<_>>();
        link.apply(&literals);
        Ok(link)
    }

    /// The configured targets (none in `inner-dials` mode).
    fn targets(&self) -> &[Target] {
        match &self.source {
            Source::Dial { targets, .. } => targets,
            Source::Accept { .. } => &[],
        }
    }

    fn snapshot(&self) -> EndpointSet {
        self.endpoints
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Applies fresh resolution results (`None`: keep what the target has).
    fn apply(&self, fresh: &[(usize, Option<Vec<SocketAddr>>)]) {
        let mut guard = self
            .endpoints
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let current: Vec<(usize, SocketAddr)> = guard
            .iter()
            .filter_map(|e| Some((e.target?, e.addr)))
            .collect();
        let changes = targets::diff(&current, fresh);
        if changes.is_empty() {
            return;
        }
        // Removed endpoints leave the set; requests in flight hold their own `Arc` and
        // finish on the existing connections, which close once the last one is done.
        let mut next: Vec<Arc<InnerEndpoint>> = guard
            .iter()
            .filter(|e| {
                e.target
                    .is_none_or(|t| !changes.removed.contains(&(t, e.addr)))
            })
            .cloned()
            .collect();
        for (target, addr) in &changes.removed {
            tracing::info!(
                target_name = %self.targets()[*target].name, endpoint = %addr,
                "inner address vanished; endpoint drained"
            );
        }
        let slots = match &self.source {
            Source::Dial {
                connections_per_endpoint,
                ..
            } => *connections_per_endpoint,
            Source::Accept { .. } => 1,
        };
        for &(target, addr) in &changes.added {
            let t = &self.targets()[target];
            tracing::info!(target_name = %t.name, endpoint = %addr, "inner address added");
            next.push(Arc::new(InnerEndpoint::dialled(
                target,
                &t.name,
                t.is_literal(),
                addr,
                slots,
            )));
        }
        *guard = Arc::new(next);
    }

    /// Resolves the targets that are due: all of them every `resolve_interval`, and
    /// at every call a target none of whose addresses is healthy (a restarted replica
    /// may have a new address).
    async fn resolve_due(&self, due_all: bool) {
        let set = self.snapshot();
        let lookups = self
            .targets()
            .iter()
            .enumerate()
            .filter(|(i, t)| {
                !t.is_literal()
                    && (due_all
                        || !set
                            .iter()
                            .any(|e| e.target == Some(*i) && e.healthy.load(Ordering::Relaxed)))
            })
            .map(|(i, t)| async move {
                match t.resolve(RESOLVE_DEADLINE).await {
                    Ok(addrs) => (i, Some(addrs)),
                    Err(e) => {
                        // Warned once per interval; the eager retries while a name is
                        // down would otherwise log every second.
                        if due_all {
                            tracing::warn!(
                                target_name = %t.name, error = %e,
                                "inner name did not resolve; keeping its last known addresses"
                            );
                        } else {
                            tracing::debug!(target_name = %t.name, error = %e, "inner name did not resolve");
                        }
                        (i, None)
                    }
                }
            });
        let fresh = futures_util::future::join_all(lookups).await;
        if !fresh.is_empty() {
            self.apply(&fresh);
        }
    }

    /// A client on one of `endpoint`'s connections: a dialled endpoint's slot,
    /// dialled if needed, or an accepted endpoint's one connection while it is open.
    async fn client(
        &self,
        endpoint: &InnerEndpoint,
    ) -> Result<ForwarderClient<H2Sender>, LinkError> {
        Ok(
            ForwarderClient::with_origin(self.sender(endpoint).await?, self.origin.clone())
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
    }

    /// Opens the policy watch (`crate::push`) on a healthy endpoint, over the same
    /// connections requests use; returns the endpoint's label with the stream.
    pub(crate) async fn watch_policy(
        &self,
        have_version: u64,
    ) -> Result<(String, tonic::Streaming<PolicyBundle>), LinkError> {
        let endpoint = self.pick().ok_or(LinkError::Unavailable)?;
        let sender = self.sender(&endpoint).await?;
        let mut client = PolicyPushClient::with_origin(sender, self.origin.clone())
            .max_decoding_message_size(MAX_MESSAGE);
        let call = client.watch_policy(WatchPolicyRequest { have_version });
        let response = tokio::time::timeout(self.response_timeout, call)
            .await
            .map_err(|_| LinkError::TimedOut)?
            .map_err(|_| LinkError::Unavailable)?;
        Ok((endpoint.label.clone(), response.into_inner()))
    }

    /// One of `endpoint`'s connections, dialling it if needed.
    async fn sender(&self, endpoint: &InnerEndpoint) -> Result<H2Sender, LinkError> {
        let sender = match (&endpoint.conns, &self.source) {
            (Conns::Accepted(sender), _) if !sender.is_closed() => sender.clone(),
            (Conns::Dialled(slots), Source::Dial { dialer, .. }) if !slots.is_empty() => {
                let slot = &slots[endpoint.next.fetch_add(1, Ordering::Relaxed) % slots.len()];
                match slot.current() {
                    Some(sender) => sender,
                    None => {
                        let _dialing = slot.dialing.lock().await;
                        match slot.current() {
                            Some(sender) => sender,
                            None => {
                                // Boxed: the dial (TCP, TLS, HTTP/2 handshakes) is a large
                                // future that every request's future would otherwise carry.
                                let sender = Box::pin(dialer.dial(endpoint.addr)).await?;
                                slot.store(sender.clone());
                                sender
                            }
                        }
                    }
                }
            }
            _ => return Err(LinkError::Unavailable),
        };
        Ok(H2Sender(sender))
    }

    /// Each endpoint (`target@address`, or the address of an IP literal), whether it
    /// answered its last probe, and the configuration generation it last reported (0
    /// before the first answer).
    pub fn endpoints(&self) -> Vec<(String, bool, u64)> {
        self.snapshot()
            .iter()
            .map(|e| {
                (
                    e.label.clone(),
                    e.healthy.load(Ordering::Relaxed),
                    e.generation.load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// Each endpoint's state with its target and address apart.
    pub fn endpoint_status(&self) -> Vec<EndpointStatus> {
        self.snapshot()
            .iter()
            .map(|e| EndpointStatus {
                target: e.target_name.clone(),
                addr: e.addr,
                healthy: e.healthy.load(Ordering::Relaxed),
                generation: e.generation.load(Ordering::Relaxed),
                outstanding: e.outstanding.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// True when at least one endpoint answered its last probe.
    pub fn is_ready(&self) -> bool {
        self.snapshot()
            .iter()
            .any(|e| e.healthy.load(Ordering::Relaxed))
    }

    fn pick(&self) -> Option<Arc<InnerEndpoint>> {
        let set = self.snapshot();
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let loads: Vec<Option<usize>> = set
            .iter()
            .map(|e| {
                e.healthy
                    .load(Ordering::Relaxed)
                    .then(|| e.outstanding.load(Ordering::Relaxed))
            })
            .collect();
        balance::pick(&loads, turn).map(|i| set[i].clone())
    }

    /// Sends one exchange to a healthy endpoint and waits for the response head, at
    /// most the response timeout once the request body was sent (`body_sent`).
    pub async fn forward<S>(
        &self,
        parts: S,
        body_sent: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(ResponsePart, Responses), LinkError>
    where
        S: Stream<Item = RequestPart> + Send + Unpin + 'static,
    {
        let exchange = async {
            // A replica that went away since its last probe fails at the dial, before
            // anything of the request was sent: mark it down and try another one.
            let mut tries = self.snapshot().len().max(1);
            let (endpoint, sender, _outstanding) = loop {
                let endpoint = self.pick().ok_or(LinkError::Unavailable)?;
                // Counted until the response head (or failure): that is where a busy
                // replica makes requests wait; the body then streams at the client's pace.
                let outstanding = Outstanding::new(endpoint.clone());
                match self.sender(&endpoint).await {
                    Ok(sender) => break (endpoint, sender, outstanding),
                    Err(e) => {
                        endpoint.mark_down("dial failed");
                        tries -= 1;
                        if tries == 0 {
                            return Err(e);
                        }
                    }
                }
            };
            let answer = grpc::forward(sender.0.send, &self.origin, parts, MAX_MESSAGE).await;
            if answer.is_ok() {
                endpoint.answered.fetch_add(1, Ordering::Relaxed);
            }
            answer.map_err(|e| {
                if e.marks_down() {
                    endpoint.mark_down(&e.to_string());
                }
                match e {
                    grpc::CallError::Protocol(why) => LinkError::Protocol(why),
                    _ => LinkError::Unavailable,
                }
            })
        };
        // Boxed once here: the deadline wrapper would otherwise hold the exchange twice
        // (its argument and its pinned copy), and every move of the request's future
        // copies all of it.
        after_body_sent(Box::pin(exchange), body_sent, self.response_timeout)
            .await
            .map_err(|_| LinkError::TimedOut)?
    }

    /// Resolves the targets, then probes every endpoint now and every `interval`
    /// until `shutdown`; names are resolved again every `resolve_interval` (sooner
    /// while none of a name's addresses is healthy).
    pub fn spawn_health_checks(self: &Arc<Self>, interval: Duration, shutdown: Shutdown) {
        let link = Arc::clone(self);
        let resolve_interval = match &self.source {
            Source::Dial {
                resolve_interval, ..
            } => *resolve_interval,
            Source::Accept { .. } => Duration::MAX,
        };
        tokio::spawn(async move {
            let stop = shutdown.signalled();
            tokio::pin!(stop);
            let mut next_resolve = Instant::now();
            loop {
                let due_all = Instant::now() >= next_resolve;
                if due_all {
                    next_resolve = Instant::now()
                        .checked_add(resolve_interval)
                        .unwrap_or(next_resolve);
                }
                link.resolve_due(due_all).await;
                link.probe_all(interval).await;
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    () = &mut stop => return,
                }
            }
        });
    }

    async fn probe_all(&self, deadline: Duration) {
        let set = self.snapshot();
        let probes = set.iter().map(|endpoint| self.probe(endpoint, deadline));
        futures_util::future::join_all(probes).await;
    }

    /// Pings `endpoint` (dialling it if it is a dialled one) and records the outcome.
    /// A ping that goes unanswered while exchanges on the endpoint were answered is
    /// not a failure: under a burst the ping waits in line with the exchanges, and
    /// taking the busy endpoint out would refuse everything (a dead link fails the
    /// exchanges too, and those mark it down).
    async fn probe(&self, endpoint: &InnerEndpoint, deadline: Duration) {
        let answered = endpoint.answered.load(Ordering::Relaxed);
        let ping = async {
            let mut client = self.client(endpoint).await.ok()?;
            client.ping(PingRequest {}).await.ok()
        };
        let reply = tokio::time::timeout(deadline, ping).await.ok().flatten();
        match &reply {
            Some(reply) => endpoint
                .generation
                .store(reply.get_ref().generation, Ordering::Relaxed),
            None if endpoint.answered.load(Ordering::Relaxed) != answered => {
                tracing::debug!(endpoint = %endpoint.label, "probe unanswered while exchanges were; kept in rotation");
                return;
            }
            None => {}
        }
        endpoint.set_probed(reply.is_some());
    }
}

fn server_name_text(name: &rustls::pki_types::ServerName<'_>) -> String {
    match name {
        rustls::pki_types::ServerName::DnsName(dns) => dns.as_ref().to_owned(),
        rustls::pki_types::ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        _ => "rampart-inner".to_owned(),
    }
}

//! `inner-dials`: the inner opens the link connections to the edges, so the LAN admits
//! no inbound connection from the DMZ.
//!
//! Each configured edge name is resolved at start and every `resolve_interval`; every
//! address it yields is an edge of its own (replicas behind one DNS name, such as a
//! headless Kubernetes Service), so each replica of the inner keeps its connections to
//! every edge replica, not to whichever one the name happened to yield first. A vanished
//! address is no longer re-dialled (its open connections stay until they close); a
//! failed lookup keeps the last known addresses.
//!
//! One task per edge address and connection slot dials TCP (within
//! `link.connect_timeout`), then the mutual-TLS client handshake (within
//! `server.handshake_timeout`; the inner's certificate as client certificate, the
//! edge's verified against the link CA and `edge_server_name`), and hands the stream to
//! the same gRPC server an accepted connection goes to: the edge remains the HTTP/2
//! client. When the connection closes the task dials again after an exponential,
//! jittered delay, so a restarted edge is not met by every replica at the same instant.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_service::shutdown::Shutdown;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::config::InnerDials;
use crate::link_io::LinkIo;

/// A connection that stayed up this long resets the back-off: the next drop is news,
/// not part of an outage.
const STABLE: Duration = Duration::from_secs(10);

/// Starts the dial tasks; their connections come out of the returned channel until
/// `shutdown`.
pub(crate) fn spawn(
    config: &InnerDials,
    handshake_timeout: Duration,
    shutdown: &Shutdown,
) -> mpsc::Receiver<Result<LinkIo, io::Error>> {
    let (tx, rx) = mpsc::channel(64);
    let dialer = Arc::new(Dialer {
        tls: TlsConnector::from(config.tls.clone()),
        server_name: config.edge_server_name.clone(),
        connect_timeout: config.connect_timeout,
        handshake_timeout,
    });
    for edge in &config.edges {
        let watch = EdgeWatch {
            edge: edge.clone(),
            dialer: dialer.clone(),
            connections: config.connections_per_edge,
            redial: (config.redial_min, config.redial_max),
            resolve_interval: config.resolve_interval,
            tx: tx.clone(),
        };
        tokio::spawn(watch.run(shutdown.clone()));
    }
    rx
}

struct Dialer {
    tls: TlsConnector,
    server_name: rustls::pki_types::ServerName<'static>,
    connect_timeout: Duration,
    handshake_timeout: Duration,
}

impl Dialer {
    async fn dial(&self, edge: SocketAddr) -> io::Result<TlsStream<TcpStream>> {
        let tcp = tokio::time::timeout(self.connect_timeout, TcpStream::connect(edge))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        tcp.set_nodelay(true)?;
        tokio::time::timeout(
            self.handshake_timeout,
            self.tls.connect(self.server_name.clone(), tcp),
        )
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
    }
}

/// One configured edge name: keeps a set of slot tasks per address it resolves to.
struct EdgeWatch {
    edge: String,
    dialer: Arc<Dialer>,
    connections: usize,
    redial: (Duration, Duration),
    resolve_interval: Duration,
    tx: mpsc::Sender<Result<LinkIo, io::Error>>,
}

impl EdgeWatch {
    async fn run(self, shutdown: Shutdown) {
        let stop = shutdown.clone().signalled();
        tokio::pin!(stop);
        // Dropping an address's sender retires its slot tasks.
        let mut live: HashMap<SocketAddr, watch::Sender<()>> = HashMap::new();
        let mut retry = Backoff::new(self.redial.0, self.resolve_interval);
        let mut failing = false;
        loop {
            let lookup = tokio::time::timeout(
                self.dialer.connect_timeout,
                tokio::net::lookup_host(self.edge.as_str()),
            );
            let resolved = tokio::select! {
                r = lookup => r,
                () = &mut stop => return,
            };
            let addrs: Option<Vec<SocketAddr>> = match resolved {
                Ok(Ok(addrs)) => Some(addrs.collect()).filter(|a: &Vec<_>| !a.is_empty()),
                Ok(Err(e)) => {
                    tracing::debug!(edge = %self.edge, error = %e, "edge name lookup failed");
                    None
                }
                Err(_) => None,
            };
            match addrs {
                Some(addrs) => {
                    failing = false;
                    retry.reset();
                    live.retain(|addr, _| addrs.contains(addr));
                    for addr in addrs {
                        live.entry(addr)
                            .or_insert_with(|| self.start(addr, &shutdown));
                    }
                }
                None if !failing => {
                    // Keep the last known addresses; an unknown name is retried sooner.
                    tracing::warn!(edge = %self.edge, "cannot resolve edge name; keeping {} known addresses", live.len());
                    failing = true;
                }
                None => {}
            }
            let wait = if live.is_empty() {
                retry.next(random_unit())
            } else {
                self.resolve_interval
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = &mut stop => return,
            }
        }
    }

    /// Starts the slot tasks for a newly seen address; they stop re-dialling once the
    /// returned sender is dropped.
    fn start(&self, addr: SocketAddr, shutdown: &Shutdown) -> watch::Sender<()> {
        let (retire_tx, retire_rx) = watch::channel(());
        for slot in 0..self.connections {
            let task = SlotTask {
                edge: addr,
                label: format!("{}@{addr}#{slot}", self.edge),
                dialer: self.dialer.clone(),
                backoff: Backoff::new(self.redial.0, self.redial.1),
                tx: self.tx.clone(),
                retired: retire_rx.clone(),
            };
            tokio::spawn(task.run(shutdown.clone()));
        }
        retire_tx
    }
}

/// One connection slot to one edge address: dial, serve until closed, wait, dial again.
struct SlotTask {
    edge: SocketAddr,
    label: String,
    dialer: Arc<Dialer>,
    backoff: Backoff,
    tx: mpsc::Sender<Result<LinkIo, io::Error>>,
    /// Closed when the address no longer resolves: finish, do not re-dial.
    retired: watch::Receiver<()>,
}

impl SlotTask {
    async fn run(mut self, shutdown: Shutdown) {
        let stop = shutdown.signalled();
        tokio::pin!(stop);
        // Reported once per outage, not at every retry.
        let mut failing = false;
        loop {
            let dialled = tokio::select! {
                dialled = self.dialer.dial(self.edge) => dialled,
                () = &mut stop => return,
                _ = self.retired.changed() => return,
            };
            match dialled {
                Ok(io) => {
                    failing = false;
                    let (closed_tx, closed_rx) = oneshot::channel();
                    let link = LinkIo::dialled(io, closed_tx);
                    if self.tx.send(Ok(link)).await.is_err() {
                        return; // the server is gone
                    }
                    tracing::info!(edge = %self.label, "link to edge up");
                    rampart_service::audit::system_event(
                        "inner",
                        "link",
                        &self.label,
                        true,
                        "connected",
                    );
                    let since = Instant::now();
                    tokio::select! {
                        _ = closed_rx => {}
                        () = &mut stop => return,
                    }
                    tracing::warn!(edge = %self.label, "link to edge closed; re-dialling");
                    rampart_service::audit::system_event(
                        "inner",
                        "link",
                        &self.label,
                        false,
                        "closed",
                    );
                    if since.elapsed() >= STABLE {
                        self.backoff.reset();
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(edge = %self.label, error = %e, "cannot reach edge; retrying with back-off");
                        rampart_service::audit::system_event(
                            "inner",
                            "link",
                            &self.label,
                            false,
                            &e.to_string(),
                        );
                        failing = true;
                    } else {
                        tracing::debug!(edge = %self.label, error = %e, "edge dial failed");
                    }
                }
            }
            let delay = self.backoff.next(random_unit());
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = &mut stop => return,
                _ = self.retired.changed() => return,
            }
        }
    }
}

/// Exponential back-off with jitter: each delay is drawn from the upper half of the
/// current step, and the step doubles from `min` up to `max`. No clock, no randomness
/// of its own: the caller passes a uniform draw.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    step: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max: max.max(min),
            step: min,
        }
    }

    /// The delay before the next attempt, for `unit` in [0, 1).
    pub(crate) fn next(&mut self, unit: f64) -> Duration {
        let step = self.step;
        self.step = step.saturating_mul(2).min(self.max);
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let half = step / 2;
        half + half.mul_f64(unit)
    }

    /// Back to the first step.
    pub(crate) fn reset(&mut self) {
        self.step = self.min;
    }
}

/// A uniform draw in [0, 1) from the standard library's randomly keyed hasher; good
/// enough to spread re-dials, not for anything secret.
fn random_unit() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_min_to_max_with_jitter_in_the_upper_half() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(5000));
        // (draw, lowest, highest) per attempt: steps 100, 200, 400, ... capped at 5000.
        let steps = [100u64, 200, 400, 800, 1600, 3200, 5000, 5000];
        for (i, step) in steps.iter().enumerate() {
            for unit in [0.0, 0.5, 0.999] {
                let mut probe = b.clone();
                let d = probe.next(unit);
                assert!(
                    d >= ms(step / 2) && d <= ms(*step),
                    "attempt {i}, draw {unit}: {d:?} outside {}..={} ms",
                    step / 2,
                    step
                );
            }
            b.next(0.5);
        }
        b.reset();
        assert!(b.next(0.999) <= ms(100), "reset starts again at min");
    }

    #[test]
    fn out_of_range_draws_are_clamped_and_max_below_min_is_min() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(200), ms(50));
        assert_eq!(b.next(7.0), ms(200));
        assert_eq!(b.next(-1.0), ms(100));
        assert_eq!(b.next(f64::NAN), ms(100));
    }

    #[test]
    fn random_draws_are_in_the_unit_interval_and_vary() {
        let draws: Vec<f64> = (0..64).map(|_| random_unit()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let first = draws[0];
        assert!(draws.iter().any(|d| (d - first).abs() > 1e-9), "{draws:?}");
    }
}

//! One link endpoint — a resolved address the edge dials, or one connection an inner
//! replica opened — with its health and load, which balancing and status read the
//! same way in both link modes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use super::conn::{H2, Slot};

/// Where an endpoint's HTTP/2 connections come from.
pub(super) enum Conns {
    /// `edge-dials`: slots dialled on demand and re-dialled when they close.
    Dialled(Vec<Slot>),
    /// `inner-dials`: the one connection the inner opened; the endpoint leaves the set
    /// when it closes, and the inner dials a new one.
    Accepted(H2),
}

pub(super) struct InnerEndpoint {
    /// Index into the link's targets; `None` for an accepted connection.
    pub(super) target: Option<usize>,
    /// The address dialled, or the peer of an accepted connection.
    pub(super) addr: SocketAddr,
    /// The configured target (`inner:7443`), or the identity an accepted peer proved.
    pub(super) target_name: String,
    /// `name@address` (or the address for an IP literal), for logs and status.
    pub(super) label: String,
    pub(super) conns: Conns,
    /// Round robin over the slots of a dialled endpoint.
    pub(super) next: AtomicUsize,
    pub(super) healthy: AtomicBool,
    /// Requests sent here still waiting for their response head.
    pub(super) outstanding: AtomicUsize,
    /// The configuration generation the endpoint's last ping reported (0: none yet).
    pub(super) generation: AtomicU64,
    /// Exchanges that got their response head from this endpoint: a probe that times
    /// out while this moves measured a busy endpoint, not a dead one.
    pub(super) answered: AtomicU64,
}

impl InnerEndpoint {
    /// An address of a configured target, with `slots` connections dialled on demand.
    pub(super) fn dialled(
        target: usize,
        target_name: &str,
        literal: bool,
        addr: SocketAddr,
        slots: usize,
    ) -> Self {
        Self::with(
            Some(target),
            addr,
            target_name.to_owned(),
            if literal {
                addr.to_string()
            } else {
                format!("{target_name}@{addr}")
            },
            Conns::Dialled((0..slots).map(|_| Slot::default()).collect()),
        )
    }

    /// A connection an inner replica opened from `peer`, proving `identity`.
    pub(super) fn accepted(peer: SocketAddr, identity: &str, sender: H2) -> Self {
        Self::with(
            None,
            peer,
            identity.to_owned(),
            format!("{identity}@{peer}"),
            Conns::Accepted(sender),
        )
    }

    fn with(
        target: Option<usize>,
        addr: SocketAddr,
        target_name: String,
        label: String,
        conns: Conns,
    ) -> Self {
        Self {
            target,
            addr,
            target_name,
            label,
            conns,
            next: AtomicUsize::new(0),
            healthy: AtomicBool::new(false),
            outstanding: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            answered: AtomicU64::new(0),
        }
    }

    /// Takes the endpoint out of rotation until a probe answers again.
    pub(super) fn mark_down(&self, why: &str) {
        if self.healthy.swap(false, Ordering::Relaxed) {
            tracing::warn!(endpoint = %self.label, error = why, "inner endpoint marked down");
            // A system event: alert rules on `kind = "system"` see it.
            rampart_service::audit::system_event("edge", "link", &self.label, false, why);
        }
    }

    /// Records a probe's outcome; logs and reports a change of state.
    pub(super) fn set_probed(&self, ok: bool) {
        let was = self.healthy.swap(ok, Ordering::Relaxed);
        if was != ok {
            if ok {
                tracing::info!(endpoint = %self.label, "inner endpoint up");
            } else {
                tracing::warn!(endpoint = %self.label, "inner endpoint down");
            }
            let why = if ok { "probe answered" } else { "probe failed" };
            rampart_service::audit::system_event("edge", "link", &self.label, ok, why);
        }
    }
}

/// Counts a request as outstanding on its endpoint until dropped.
pub(super) struct Outstanding(Arc<InnerEndpoint>);

impl Outstanding {
    pub(super) fn new(endpoint: Arc<InnerEndpoint>) -> Self {
        endpoint.outstanding.fetch_add(1, Ordering::Relaxed);
        Self(endpoint)
    }
}

impl Drop for Outstanding {
    fn drop(&mut self) {
        self.0.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}

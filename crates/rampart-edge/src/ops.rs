//! What the admin API can ask of the edge: its status, address blocks set by operators
//! (with expiry) and switching a route's screening between block and detect-only — plus
//! the two head checks those actions drive.
//!
//! Not offered here: per-rule modes (501). Reload is `crate::reload`'s.
//!
//! Principals: audit records made on the request path use [`audit::record`]; once a
//! request carries an authenticated principal, call sites pass it with
//! `audit::record_with(ctx, &audit::Details { principal: Some(name), ..Default::default() }, ..)`.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rampart_core::check::{Check, CheckFuture, Denial, Verdict};
use rampart_core::phase::RequestHead;
use rampart_core::problem::Reason;
use rampart_service::admin::modes::ModeSwitch;
use rampart_service::admin::{
    ActionError, ActionFuture, AddressBlock, AdminActions, Health, IpNet, Latency, ManageRequest,
    Mode, TierStatus,
};
use rampart_service::audit;

use crate::link::Link;

mod consumers;

/// Address blocks in force at once; more are refused (the operator should use a list).
const MAX_BLOCKS: usize = 4096;

/// Networks operators blocked at runtime, each until its expiry.
#[derive(Debug, Default)]
pub(crate) struct Blocklist {
    entries: RwLock<Vec<(IpNet, Instant)>>,
    /// Entries stored, expired ones included: lets the request path skip the lock
    /// entirely while nothing is blocked (the normal case).
    stored: AtomicUsize,
}

impl Blocklist {
    /// Whether `ip` is inside a block that has not expired at `now`.
    pub(crate) fn is_blocked(&self, ip: IpAddr, now: Instant) -> bool {
        if self.stored.load(Ordering::Acquire) == 0 {
            return false;
        }
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .any(|(net, until)| *until > now && net.contains(ip))
    }

    /// Blocks `network` until `until` (replacing an earlier expiry for the same network).
    pub(crate) fn insert(
        &self,
        network: IpNet,
        until: Instant,
        now: Instant,
    ) -> Result<(), ActionError> {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.retain(|(net, expiry)| *expiry > now && *net != network);
        if entries.len() >= MAX_BLOCKS {
            return Err(ActionError::Invalid(format!(
                "{MAX_BLOCKS} blocks are in force already; use an address list file"
            )));
        }
        entries.push((network, until));
        self.stored.store(entries.len(), Ordering::Release);
        Ok(())
    }

    /// Lifts the block on exactly `network`.
    pub(crate) fn remove(&self, network: IpNet, now: Instant) -> Result<(), ActionError> {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let before = entries.iter().any(|(n, u)| *n == network && *u > now);
        entries.retain(|(net, expiry)| *expiry > now && *net != network);
        self.stored.store(entries.len(), Ordering::Release);
        if before {
            Ok(())
        } else {
            Err(ActionError::NotFound(format!("{network} is not blocked")))
        }
    }

    /// The blocks in force at `now`.
    pub(crate) fn list(&self, now: Instant) -> Vec<AddressBlock> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .filter(|(_, until)| *until > now)
            .map(|(network, until)| AddressBlock {
                network: *network,
                // Rounded up: a block with 0.4 s left still shows as in force.
                remaining_secs: u64::try_from(
                    until
                        .saturating_duration_since(now)
                        .as_millis()
                        .div_ceil(1000),
                )
                .unwrap_or(u64::MAX),
            })
            .collect()
    }
}

/// Refuses clients inside an operator's block, as an address list entry would be.
pub(crate) struct BlockCheck {
    pub(crate) blocks: Arc<Blocklist>,
}

impl Check<RequestHead> for BlockCheck {
    fn id(&self) -> &'static str {
        "ip-policy"
    }

    fn check<'a>(&'a self, input: &'a RequestHead) -> CheckFuture<'a> {
        let verdict = if self.blocks.is_blocked(input.client_ip, Instant::now()) {
            Verdict::Deny(Denial::new("ip-policy", Reason::AddressDenied).with_rule("admin-block"))
        } else {
            Verdict::Allow
        };
        Box::pin(std::future::ready(Ok(verdict)))
    }
}

/// A route's screening under its runtime switch. The stage holding it always blocks;
/// in detect mode this wrapper turns a denial into an audit report and lets the
/// request on, exactly as a detect-only stage would.
pub(crate) struct Switched {
    pub(crate) check: Arc<dyn Check<RequestHead>>,
    pub(crate) switch: Arc<ModeSwitch>,
    pub(crate) route: String,
}

impl Check<RequestHead> for Switched {
    fn id(&self) -> &'static str {
        self.check.id()
    }

    fn check<'a>(&'a self, input: &'a RequestHead) -> CheckFuture<'a> {
        let inner = self.check.check(input);
        if self.switch.effective() == Mode::Block {
            return inner;
        }
        Box::pin(async move {
            let denial = match inner.await {
                Ok(Verdict::Allow) => return Ok(Verdict::Allow),
                Ok(Verdict::Deny(denial)) => denial,
                // Detect-only stages report an undecided check the same way.
                Err(_) => Denial::new(self.check.id(), Reason::InspectionUnavailable),
            };
            let client = input.client_ip.to_string();
            let ctx = audit::Context {
                tier: "edge",
                request_id: &input.request_id,
                route: &self.route,
                client: &client,
            };
            audit::record(&ctx, &denial, audit::Action::Report, &[]);
            Ok(Verdict::Allow)
        })
    }
}

/// The edge's side of the admin API.
pub(crate) struct EdgeActions {
    pub(crate) link: Arc<Link>,
    pub(crate) blocks: Arc<Blocklist>,
    /// The policy in force; its route modes are the ones switched.
    pub(crate) policy: Arc<arc_swap::ArcSwap<crate::reload::Policy>>,
    /// Reloads, their generation and last outcome.
    pub(crate) reloads: Arc<rampart_service::reload::Reloader>,
    /// Pushed policy version and last push, when `[push]` is enabled.
    pub(crate) push: Option<Arc<crate::push::PushStatus>>,
    /// Where pushed documents live (`[push] state_dir`): files under it belong to the LAN.
    pub(crate) pushed_dir: Option<std::path::PathBuf>,
}

impl AdminActions for EdgeActions {
    fn status(&self) -> TierStatus {
        let traffic = rampart_service::traffic::of("edge");
        let health = self
            .link
            .endpoints()
            .into_iter()
            .map(|(addr, healthy, generation)| Health {
                name: format!("inner:{addr}"),
                healthy,
                detail: match (healthy, generation) {
                    (_, 0) => "no answer yet".to_owned(),
                    (true, g) => format!("config generation {g}"),
                    (false, g) => format!("down; last config generation {g}"),
                },
            })
            .collect();
        let modes = self.policy.load().modes.overrides_json();
        TierStatus {
            tier: "edge".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            config_generation: self.reloads.status().generation(),
            last_reload: self.reloads.status().last(),
            ready: self.link.is_ready(),
            requests_total: traffic.requests(),
            denials_total: traffic.denials(),
            health,
            latency_ms: traffic.percentiles().map(|p| Latency {
                p50: p.p50,
                p90: p.p90,
                p99: p.p99,
            }),
            extra: serde_json::json!({
                "address_blocks": self.blocks.list(Instant::now()).len(),
                "route_mode_overrides": modes,
                "push": self.push.as_ref().map(|p| p.to_json()),
            }),
        }
    }

    fn set_route_mode(&self, route: &str, mode: Mode) -> Result<(), ActionError> {
        self.policy.load().modes.set(route, mode)?;
        tracing::info!(route, mode = mode.as_str(), "route screening mode switched");
        Ok(())
    }

    fn reload(
        &self,
    ) -> rampart_service::admin::ActionFuture<'_, rampart_service::admin::ReloadOutcome> {
        Box::pin(async move {
            Ok(self
                .reloads
                .reload(rampart_service::reload::Trigger::Admin)
                .await)
        })
    }

    fn blocks(&self) -> Vec<AddressBlock> {
        self.blocks.list(Instant::now())
    }

    fn block_address(&self, network: IpNet, duration: Duration) -> Result<(), ActionError> {
        let now = Instant::now();
        let until = now
            .checked_add(duration)
            .ok_or_else(|| ActionError::Invalid("duration too long".to_owned()))?;
        self.blocks.insert(network, until, now)?;
        tracing::info!(network = %network, secs = duration.as_secs(), "address blocked by an operator");
        Ok(())
    }

    fn unblock_address(&self, network: IpNet) -> Result<(), ActionError> {
        self.blocks.remove(network, Instant::now())?;
        tracing::info!(network = %network, "address block lifted by an operator");
        Ok(())
    }

    /// Consumers and their keys (admin role): see [`consumers`].
    fn manage(&self, request: ManageRequest) -> ActionFuture<'_, serde_json::Value> {
        let identity = self.policy.load().authenticator.identity.clone();
        Box::pin(consumers::manage(
            request,
            identity,
            self.pushed_dir.clone(),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_cover_their_network_until_they_expire() {
        let list = Blocklist::default();
        let t0 = Instant::now();
        let minute = Duration::from_secs(60);
        assert!(!list.is_blocked(ip("203.0.113.7"), t0));
        list.insert(net("203.0.113.0/24"), t0 + minute, t0).unwrap();
        list.insert(net("2001:db8::/48"), t0 + 2 * minute, t0)
            .unwrap();
        let table = [
            ("203.0.113.7", true),
            ("203.0.113.255", true),
            ("203.0.114.7", false),
            ("::ffff:203.0.113.9", true),
            ("2001:db8:0:1::5", true),
            ("2001:db8:1::5", false),
        ];
        for (addr, blocked) in table {
            assert_eq!(list.is_blocked(ip(addr), t0), blocked, "{addr}");
        }
        let later = t0 + minute + Duration::from_millis(1);
        assert!(!list.is_blocked(ip("203.0.113.7"), later), "expired");
        assert!(list.is_blocked(ip("2001:db8::1"), later));
        let shown = list.list(t0 + Duration::from_millis(500));
        assert_eq!(shown.len(), 2);
        assert_eq!(shown[0].remaining_secs, 60);
        assert_eq!(list.list(later).len(), 1);
    }

    #[test]
    fn unblock_lifts_exactly_the_network_and_reblocking_renews() {
        let list = Blocklist::default();
        let t0 = Instant::now();
        let minute = Duration::from_secs(60);
        list.insert(net("198.51.100.7"), t0 + minute, t0).unwrap();
        list.insert(net("198.51.100.7"), t0 + 10 * minute, t0)
            .unwrap();
        assert_eq!(list.list(t0).len(), 1, "the same network is one block");
        assert!(list.is_blocked(ip("198.51.100.7"), t0 + 5 * minute));
        assert!(matches!(
            list.remove(net("198.51.100.0/24"), t0),
            Err(ActionError::NotFound(_))
        ));
        list.remove(net("198.51.100.7"), t0).unwrap();
        assert!(!list.is_blocked(ip("198.51.100.7"), t0));
        assert!(matches!(
            list.remove(net("198.51.100.7"), t0),
            Err(ActionError::NotFound(_))
        ));
    }

    #[test]
    fn the_number_of_blocks_is_bounded() {
        let list = Blocklist::default();
        let t0 = Instant::now();
        let until = t0 + Duration::from_secs(60);
        for i in 0..MAX_BLOCKS as u32 {
            let addr = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            list.insert(net(&addr.to_string()), until, t0).unwrap();
        }
        assert!(matches!(
            list.insert(net("192.0.2.1"), until, t0),
            Err(ActionError::Invalid(_))
        ));
        // Expired blocks make room again.
        let later = until + Duration::from_secs(1);
        list.insert(net("192.0.2.1"), later + Duration::from_secs(60), later)
            .unwrap();
        assert_eq!(list.list(later).len(), 1);
    }
}

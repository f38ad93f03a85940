//! What the admin API can ask a tier to do, as a trait each tier implements.
//!
//! Every method has a default answering "not supported", so a tier implements the subset
//! it has (the edge blocks addresses, the inner switches inspection rules...). The admin
//! listener checks roles, bounds and audits; the tier only acts.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A boxed future returned by asynchronous actions.
pub type ActionFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ActionError>> + Send + 'a>>;

/// Whether a route or rule blocks or only reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Findings refuse the request.
    Block,
    /// Findings are reported; the request goes on.
    Detect,
}

impl Mode {
    /// `block` or `detect`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Block => "block",
            Mode::Detect => "detect",
        }
    }
}

/// Why an action did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    /// This tier does not offer the action (501).
    #[error("not supported by this tier")]
    Unsupported,
    /// The route, rule or block does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request is well formed but cannot be applied (422).
    #[error("{0}")]
    Invalid(String),
    /// The tier tried and failed (500).
    #[error("{0}")]
    Failed(String),
}

/// An address or network, `203.0.113.7` or `203.0.113.0/24`; host bits are cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not an address or CIDR network");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let addr = addr.parse::<IpAddr>().map_err(|_| bad())?.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        let addr = match addr {
            IpAddr::V4(v4) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::from(std::net::Ipv4Addr::from(u32::from(v4) & mask))
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::from(std::net::Ipv6Addr::from(u128::from(v6) & mask))
            }
        };
        Ok(IpNet { addr, prefix })
    }
}

impl TryFrom<String> for IpNet {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<IpNet> for String {
    fn from(n: IpNet) -> String {
        n.to_string()
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// An address block in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressBlock {
    /// The blocked network.
    pub network: IpNet,
    /// Seconds left.
    pub remaining_secs: u64,
}

/// The result of a reload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReloadOutcome {
    /// The config generation now running (unchanged when the new file was refused).
    pub generation: u64,
    /// Whether the new configuration was applied.
    pub applied: bool,
    /// RFC 3339 time of the attempt.
    pub at: String,
    /// Every problem found when it was refused (`key: message`).
    pub errors: Vec<String>,
    /// Applied with reservations, e.g. `restart needed for: server.http_listen`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The health of one dependency (an inner endpoint, an upstream, an AV engine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// What it is, e.g. `inner:10.0.0.5:7443` or `upstream:billing`.
    pub name: String,
    /// Whether it answers.
    pub healthy: bool,
    /// Short, Rampart-chosen detail.
    #[serde(default)]
    pub detail: String,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// What a tier says about itself on `/admin/status` and the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TierStatus {
    /// `edge` or `inner`.
    pub tier: String,
    /// The Rampart version.
    pub version: String,
    /// The configuration generation running (1 at start, +1 per applied reload).
    pub config_generation: u64,
    /// The last reload attempt.
    pub last_reload: Option<ReloadOutcome>,
    /// Whether the tier serves traffic.
    pub ready: bool,
    /// Requests handled since start (the dashboard derives rates from it).
    pub requests_total: u64,
    /// Requests refused since start.
    pub denials_total: u64,
    /// Dependencies.
    #[serde(default)]
    pub health: Vec<Health>,
    /// Request latency, when measured.
    pub latency_ms: Option<Latency>,
    /// Anything else the tier wants to show (small, Rampart-chosen values only).
    #[serde(default)]
    pub extra: serde_json::Value,
}

/// A request to a tier-specific management endpoint (`/admin/consumers...`,
/// `/admin/keys...`), admin role only.
#[derive(Debug, Clone)]
pub struct ManageRequest {
    /// The method.
    pub method: http::Method,
    /// The path below `/admin/`, e.g. `consumers/acme`.
    pub path: String,
    /// The JSON body, when one was sent.
    pub body: Option<serde_json::Value>,
}

/// The actions a tier offers its admin listener.
pub trait AdminActions: Send + Sync + 'static {
    /// The tier's status.
    fn status(&self) -> TierStatus;

    /// The other tier's status, when this tier can ask it (the inner's dashboard shows
    /// both tiers). Answered within the admin request deadline or left out.
    fn peers(&self) -> ActionFuture<'_, Vec<TierStatus>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    /// Switches a route's detection between block and detect-only.
    fn set_route_mode(&self, route: &str, mode: Mode) -> Result<(), ActionError> {
        let _ = (route, mode);
        Err(ActionError::Unsupported)
    }

    /// Switches one detection rule between block and detect-only.
    fn set_rule_mode(&self, rule: &str, mode: Mode) -> Result<(), ActionError> {
        let _ = (rule, mode);
        Err(ActionError::Unsupported)
    }

    /// Traffic the routes' OpenAPI contracts do not describe (paths, parameters,
    /// methods, response statuses), grouped by route.
    fn undocumented(&self) -> Result<serde_json::Value, ActionError> {
        Err(ActionError::Unsupported)
    }

    /// The address blocks in force.
    fn blocks(&self) -> Vec<AddressBlock> {
        Vec::new()
    }

    /// Refuses requests from `network` for `duration` (already capped by `max_block`).
    fn block_address(&self, network: IpNet, duration: Duration) -> Result<(), ActionError> {
        let _ = (network, duration);
        Err(ActionError::Unsupported)
    }

    /// Lifts a block; `NotFound` when there was none.
    fn unblock_address(&self, network: IpNet) -> Result<(), ActionError> {
        let _ = network;
        Err(ActionError::Unsupported)
    }

    /// Rebuilds the configuration from its files and swaps it in, or keeps the running
    /// one and reports why.
    fn reload(&self) -> ActionFuture<'_, ReloadOutcome> {
        Box::pin(std::future::ready(Err(ActionError::Unsupported)))
    }

    /// Consumers, keys and other tier-specific management.
    fn manage(&self, request: ManageRequest) -> ActionFuture<'_, serde_json::Value> {
        let _ = request;
        Box::pin(std::future::ready(Err(ActionError::Unsupported)))
    }
}

/// A tier with no actions yet: status only.
#[derive(Debug, Clone)]
pub struct StatusOnly {
    /// `edge` or `inner`.
    pub tier: &'static str,
}

impl AdminActions for StatusOnly {
    fn status(&self) -> TierStatus {
        TierStatus {
            tier: self.tier.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            config_generation: 1,
            ready: true,
            ..TierStatus::default()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_networks_and_clears_host_bits() {
        let table = [
            ("203.0.113.7", Some("203.0.113.7/32")),
            ("203.0.113.7/24", Some("203.0.113.0/24")),
            ("2001:db8::1/48", Some("2001:db8::/48")),
            ("::ffff:192.0.2.1", Some("192.0.2.1/32")),
            ("0.0.0.0/0", Some("0.0.0.0/0")),
            ("203.0.113.7/33", None),
            ("203.0.113", None),
            ("example.com", None),
            ("1.2.3.4/", None),
        ];
        for (input, want) in table {
            assert_eq!(
                input.parse::<IpNet>().ok().map(|n| n.to_string()),
                want.map(str::to_owned),
                "{input}"
            );
        }
        let net: IpNet = "203.0.113.0/24".parse().unwrap();
        assert!(net.contains("203.0.113.200".parse().unwrap()));
        assert!(!net.contains("203.0.114.1".parse().unwrap()));
        assert!(
            "0.0.0.0/0"
                .parse::<IpNet>()
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
    }
}

//! Allow/deny decisions over named lists and inline CIDRs.

use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::Deserialize;

use super::{Cidr, IpLists, IpSet};
use crate::config::{ConfigError, Problems};

/// An IP policy as written in a config file: each entry is a list name or a CIDR.
///
/// ```toml
/// allow = ["office", "192.0.2.0/24"]
/// deny = ["spamhaus-drop", "203.0.113.7"]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpPolicyConfig {
    /// If not empty, only addresses in one of these are allowed.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Addresses in any of these are denied, even if allowed.
    #[serde(default)]
    pub deny: Vec<String>,
}

/// The outcome of an IP policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpDecision {
    /// The address may proceed.
    Allow,
    /// The address is refused.
    Deny {
        /// The deny list that holds it (`"inline"` for CIDRs written in the policy), or
        /// `None` when an allow list is configured and does not hold it.
        list: Option<Arc<str>>,
    },
}

#[derive(Debug, Clone)]
struct Rule {
    name: Arc<str>,
    set: Arc<ArcSwap<IpSet>>,
}

/// A validated IP policy. Deny wins over allow; with any allow entry, addresses in
/// none of them are denied. Lists are looked up at decision time, so reloads apply.
#[derive(Debug, Clone, Default)]
pub struct IpPolicy {
    allow: Vec<Rule>,
    deny: Vec<Rule>,
}

impl IpPolicy {
    /// Builds a policy whose list names refer to `lists`.
    pub fn new(config: &IpPolicyConfig, lists: &IpLists) -> Result<Self, ConfigError> {
        let mut p = Problems::default();
        let allow = rules(&config.allow, "allow", lists, &mut p);
        let deny = rules(&config.deny, "deny", lists, &mut p);
        p.finish(Self { allow, deny })
    }

    /// Decides for `ip` (IPv4-mapped IPv6 is treated as IPv4).
    pub fn decide(&self, ip: IpAddr) -> IpDecision {
        if let Some(rule) = self.deny.iter().find(|r| r.set.load().contains(ip)) {
            return IpDecision::Deny {
                list: Some(rule.name.clone()),
            };
        }
        if self.allow.is_empty() || self.allow.iter().any(|r| r.set.load().contains(ip)) {
            return IpDecision::Allow;
        }
        IpDecision::Deny { list: None }
    }
}

fn rules(entries: &[String], key: &str, lists: &IpLists, p: &mut Problems) -> Vec<Rule> {
    let mut inline = Vec::new();
    let mut out = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        match entry.parse::<Cidr>() {
            Ok(cidr) => inline.push(cidr),
            Err(e) => match lists.handle(entry) {
                Some(set) => out.push(Rule {
                    name: Arc::from(entry.as_str()),
                    set,
                }),
                None => p.push(
                    &format!("{key}[{i}]"),
                    format!("{entry:?} is neither a known list nor a CIDR ({e})"),
                ),
            },
        }
    }
    if !inline.is_empty() {
        out.push(Rule {
            name: Arc::from("inline"),
            set: Arc::new(ArcSwap::from_pointee(IpSet::new(inline))),
        });
    }
    out
}

//! Configured inner targets (`host:port`) and the addresses they resolve to.
//!
//! Each address is an endpoint of its own, so replicas behind one DNS name (a
//! Kubernetes headless Service, a scaled compose service) are balanced one by one.
//! The diff below has no I/O: resolution results go in, the endpoint changes come out.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

/// One configured `[inner] endpoints` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// As configured (`inner:7443`), used in logs and status.
    pub(crate) name: String,
    /// Set when the entry is an IP literal: nothing to resolve.
    literal: Option<SocketAddr>,
}

/// Why a target has no fresh addresses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ResolveError {
    /// The resolver failed.
    #[error("lookup failed: {0}")]
    Lookup(String),
    /// The resolver answered with no address.
    #[error("no address")]
    Empty,
    /// The resolver did not answer in time.
    #[error("lookup timed out")]
    TimedOut,
}

impl Target {
    /// A target for a configured `host:port` entry (validated by the config).
    pub(crate) fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            literal: name.parse().ok(),
        }
    }

    /// The address, when the entry is an IP literal.
    pub(crate) fn literal(&self) -> Option<SocketAddr> {
        self.literal
    }

    /// True when the entry is an address, not a name.
    pub(crate) fn is_literal(&self) -> bool {
        self.literal.is_some()
    }

    /// The addresses the target has now, sorted and without duplicates.
    pub(crate) async fn resolve(
        &self,
        deadline: Duration,
    ) -> Result<Vec<SocketAddr>, ResolveError> {
        if let Some(addr) = self.literal {
            return Ok(vec![addr]);
        }
        let found = tokio::time::timeout(deadline, tokio::net::lookup_host(self.name.as_str()))
            .await
            .map_err(|_| ResolveError::TimedOut)?
            .map_err(|e| ResolveError::Lookup(e.to_string()))?;
        let addrs: BTreeSet<SocketAddr> = found.collect();
        if addrs.is_empty() {
            return Err(ResolveError::Empty);
        }
        Ok(addrs.into_iter().collect())
    }
}

/// What one round of resolution changes in the endpoint set.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    /// `(target index, address)` pairs to dial from now on.
    pub(crate) added: Vec<(usize, SocketAddr)>,
    /// `(target index, address)` pairs to take out of rotation and drop.
    pub(crate) removed: Vec<(usize, SocketAddr)>,
}

impl Changes {
    /// True when the set stays as it is.
    pub(crate) fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Compares the current endpoints (`(target index, address)`) with fresh results per
/// target. A target without a fresh result (`None`: not resolved this round, or the
/// lookup failed) keeps its endpoints: a resolver outage must not empty the set.
pub(crate) fn diff(
    current: &[(usize, SocketAddr)],
    fresh: &[(usize, Option<Vec<SocketAddr>>)],
) -> Changes {
    let mut changes = Changes::default();
    for (target, addrs) in fresh {
        let Some(addrs) = addrs else { continue };
        let now: BTreeSet<&SocketAddr> = addrs.iter().collect();
        let before: BTreeSet<&SocketAddr> = current
            .iter()
            .filter(|(t, _)| t == target)
            .map(|(_, a)| a)
            .collect();
        changes
            .removed
            .extend(before.difference(&now).map(|a| (*target, **a)));
        changes
            .added
            .extend(now.difference(&before).map(|a| (*target, **a)));
    }
    changes
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    type Current = Vec<(usize, SocketAddr)>;
    type Fresh = Vec<(usize, Option<Vec<SocketAddr>>)>;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn diff_adds_new_and_removes_vanished_addresses_per_target() {
        let x = a("10.0.0.1:7443");
        let y = a("10.0.0.2:7443");
        let z = a("10.0.0.3:7443");
        let cases: &[(&str, Current, Fresh, Changes)] = &[
            (
                "first resolution adds everything",
                vec![],
                vec![(0, Some(vec![x, y]))],
                Changes {
                    added: vec![(0, x), (0, y)],
                    removed: vec![],
                },
            ),
            (
                "same answer, different order: nothing changes",
                vec![(0, x), (0, y)],
                vec![(0, Some(vec![y, x]))],
                Changes::default(),
            ),
            (
                "scaled up: the new replica is added, the others stay",
                vec![(0, x), (0, y)],
                vec![(0, Some(vec![x, y, z]))],
                Changes {
                    added: vec![(0, z)],
                    removed: vec![],
                },
            ),
            (
                "scaled down: the vanished replica is removed",
                vec![(0, x), (0, y)],
                vec![(0, Some(vec![y]))],
                Changes {
                    added: vec![],
                    removed: vec![(0, x)],
                },
            ),
            (
                "replaced: old out, new in",
                vec![(0, x)],
                vec![(0, Some(vec![z]))],
                Changes {
                    added: vec![(0, z)],
                    removed: vec![(0, x)],
                },
            ),
            (
                "failed lookup keeps the last known addresses",
                vec![(0, x), (0, y)],
                vec![(0, None)],
                Changes::default(),
            ),
            (
                "one target's answer leaves another target's endpoints alone",
                vec![(0, x), (1, y)],
                vec![(0, Some(vec![z])), (1, None)],
                Changes {
                    added: vec![(0, z)],
                    removed: vec![(0, x)],
                },
            ),
            (
                "two targets may share an address; each keeps its own endpoint",
                vec![(0, x)],
                vec![(0, Some(vec![x])), (1, Some(vec![x]))],
                Changes {
                    added: vec![(1, x)],
                    removed: vec![],
                },
            ),
        ];
        for (name, current, fresh, want) in cases {
            assert_eq!(&diff(current, fresh), want, "{name}");
        }
    }

    #[tokio::test]
    async fn literal_targets_resolve_to_themselves_and_names_through_the_resolver() {
        let literal = Target::new("127.0.0.1:7443");
        assert!(literal.is_literal());
        assert_eq!(
            literal.resolve(Duration::from_secs(5)).await.unwrap(),
            vec![a("127.0.0.1:7443")]
        );
        let v6 = Target::new("[::1]:7443");
        assert!(v6.is_literal());
        let name = Target::new("localhost:7443");
        assert!(!name.is_literal());
        let addrs = name.resolve(Duration::from_secs(5)).await.unwrap();
        assert!(!addrs.is_empty());
        assert!(
            addrs
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 7443)
        );
        // A name that cannot exist (RFC 6761 `.invalid`) is an error, not an empty set.
        let bad = Target::new("no-such-host.invalid:7443");
        assert!(bad.resolve(Duration::from_secs(10)).await.is_err());
    }
}

//! Rate-limit keys: which request facts a policy counts together.
//!
//! Local tables store a keyed 64-bit hash of the key (randomly seeded per process, so
//! collisions cannot be aimed at); a collision merges two clients into one bucket, which
//! errs on the restrictive side. Redis needs keys that every replica derives the same
//! way, so it gets a readable, escaped string.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What the edge knows about a request when it asks for a decision.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// The client's address (after any trusted-proxy resolution).
    pub client_ip: IpAddr,
    /// The authenticated consumer (API key id, subject), if any.
    pub consumer: Option<&'a str>,
    /// The consumer's rate-limit plan, if any.
    pub plan: Option<&'a str>,
    /// The matched route's name.
    pub route: &'a str,
    /// The upstream group the route forwards to.
    pub upstream: &'a str,
}

/// One component of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPart {
    /// The client address, IPv6 cut to its prefix (see [`IpPrefixes`]).
    ClientIp,
    /// The consumer; requests without one are keyed by their client address instead,
    /// so anonymous traffic is limited per address rather than not at all.
    Consumer,
    /// The route name.
    Route,
    /// The upstream group.
    Upstream,
}

/// How many leading bits of a client address identify a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPrefixes {
    /// IPv4 prefix length, 0..=32 (default 32: one address).
    pub v4: u8,
    /// IPv6 prefix length, 0..=128 (default 64: one host usually owns a whole /64, so
    /// keying full addresses would let it rotate through 2^64 fresh buckets).
    pub v6: u8,
}

impl Default for IpPrefixes {
    fn default() -> Self {
        Self { v4: 32, v6: 64 }
    }
}

impl IpPrefixes {
    /// The network `ip` belongs to. IPv4-mapped IPv6 addresses count as IPv4.
    pub fn network(&self, ip: IpAddr) -> IpAddr {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4) & mask32(self.v4);
                IpAddr::V4(Ipv4Addr::from(bits))
            }
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & mask128(self.v6);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        }
    }
}

fn mask32(len: u8) -> u32 {
    match len {
        0 => 0,
        l if l >= 32 => u32::MAX,
        l => u32::MAX << (32 - u32::from(l)),
    }
}

fn mask128(len: u8) -> u128 {
    match len {
        0 => 0,
        l if l >= 128 => u128::MAX,
        l => u128::MAX << (128 - u32::from(l)),
    }
}

/// The ordered parts of a key. An empty spec is one bucket shared by every request the
/// policy applies to (a global cap).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeySpec {
    parts: Vec<KeyPart>,
}

/// One resolved part, borrowed from the request.
enum Resolved<'a> {
    Ip(IpAddr),
    AnonymousIp(IpAddr),
    Text(&'a str),
}

impl KeySpec {
    /// A key made of `parts`, in that order (duplicates are ignored).
    pub fn new(parts: &[KeyPart]) -> Self {
        let mut unique = Vec::with_capacity(parts.len());
        for p in parts {
            if !unique.contains(p) {
                unique.push(*p);
            }
        }
        Self { parts: unique }
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[KeyPart] {
        &self.parts
    }

    fn resolve<'s, 'a>(
        &'s self,
        facts: &RequestFacts<'a>,
        prefixes: &IpPrefixes,
    ) -> impl Iterator<Item = (KeyPart, Resolved<'a>)> + use<'s, 'a> {
        let ip = prefixes.network(facts.client_ip);
        let facts = *facts;
        self.parts.iter().map(move |part| {
            let value = match part {
                KeyPart::ClientIp => Resolved::Ip(ip),
                KeyPart::Consumer => match facts.consumer {
                    Some(c) => Resolved::Text(c),
                    None => Resolved::AnonymousIp(ip),
                },
                KeyPart::Route => Resolved::Text(facts.route),
                KeyPart::Upstream => Resolved::Text(facts.upstream),
            };
            (*part, value)
        })
    }

    /// A process-local hash of this key for policy number `policy`.
    pub(crate) fn hash_with(
        &self,
        hasher: &impl BuildHasher,
        policy: usize,
        facts: &RequestFacts<'_>,
        prefixes: &IpPrefixes,
    ) -> u64 {
        let mut h = hasher.build_hasher();
        policy.hash(&mut h);
        for (part, value) in self.resolve(facts, prefixes) {
            part.hash(&mut h);
            match value {
                Resolved::Ip(ip) => (0u8, ip).hash(&mut h),
                Resolved::AnonymousIp(ip) => (1u8, ip).hash(&mut h),
                // `str`'s Hash writes a terminator, so ("ab","c") and ("a","bc") differ.
                Resolved::Text(t) => (2u8, t).hash(&mut h),
            }
        }
        h.finish()
    }

    /// The redis key: `{prefix}{kind}:{policy}` then `:{part}={value}` per part, values
    /// escaped so no two requests that differ can produce the same string.
    pub(crate) fn redis_key(
        &self,
        prefix: &str,
        kind: &str,
        policy: &str,
        facts: &RequestFacts<'_>,
        prefixes: &IpPrefixes,
    ) -> String {
        let mut key = format!("{prefix}{kind}:{policy}");
        for (part, value) in self.resolve(facts, prefixes) {
            let tag = match part {
                KeyPart::ClientIp => "ip",
                KeyPart::Consumer => "c",
                KeyPart::Route => "r",
                KeyPart::Upstream => "u",
            };
            match value {
                Resolved::Ip(ip) => {
                    let _ = write!(key, ":{tag}={ip}");
                }
                Resolved::AnonymousIp(ip) => {
                    let _ = write!(key, ":{tag}@{ip}");
                }
                Resolved::Text(t) => {
                    let _ = write!(key, ":{tag}=");
                    escape_into(&mut key, t);
                }
            }
        }
        key
    }
}

/// Percent-escapes everything but `[A-Za-z0-9._-]`.
fn escape_into(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;

//! Who the client is: the socket peer, or what trusted proxies in front of the edge say.
//!
//! Forwarding headers and PROXY headers are honoured only when the socket peer is a
//! configured trusted proxy; anything else would let any client choose its own
//! address. The header's hop list is walked from the right (the entry the peer wrote
//! last), skipping addresses of further trusted proxies up to `hops`. A malformed,
//! hidden or obfuscated entry on that walk is never trusted: the peer address is used
//! instead, and `reason` says why. Entries left of where the walk stops are not read.

mod forwarded;
#[cfg(test)]
mod tests;

use std::net::IpAddr;

use http::HeaderMap;
use serde::Deserialize;

use crate::config::{ConfigError, Problems};
use crate::iplist::{Cidr, IpSet};
use crate::proxy_protocol::{Command, ProxyAddresses, ProxyHeader};
use forwarded::Node;

/// Where the client address comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IpSource {
    /// The TCP peer address.
    #[default]
    Socket,
    /// The `X-Forwarded-For` header.
    XForwardedFor,
    /// The RFC 7239 `Forwarded` header.
    Forwarded,
    /// The PROXY protocol header.
    ProxyProtocol,
}

/// Client IP settings as written in a config file.
///
/// ```toml
/// trusted_proxies = ["10.0.0.0/8", "2001:db8::/32"]
/// source = "x-forwarded-for"
/// hops = 1
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientIpConfig {
    /// Networks whose forwarding headers (or PROXY headers) are believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Where the client address comes from.
    #[serde(default)]
    pub source: IpSource,
    /// How many trusted proxies stand in front of the edge, the socket peer included.
    #[serde(default = "one")]
    pub hops: u8,
}

fn one() -> u8 {
    1
}

impl Default for ClientIpConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            source: IpSource::Socket,
            hops: 1,
        }
    }
}

/// The resolved client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp {
    /// The address; IPv4-mapped IPv6 is given as IPv4.
    pub addr: IpAddr,
    /// Where it came from.
    pub source: IpSource,
    /// Why this address was chosen, for logs.
    pub reason: &'static str,
}

impl ClientIp {
    /// The address as text for the access log and the link. IPv4 is written by hand:
    /// `Display` goes through the formatter's padding and cost 1 % of an edge request.
    pub fn text(&self) -> String {
        let IpAddr::V4(v4) = self.addr else {
            return self.addr.to_string();
        };
        let mut out = String::with_capacity(15);
        for (i, octet) in v4.octets().into_iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            if octet >= 100 {
                out.push(char::from(b'0' + octet / 100));
            }
            if octet >= 10 {
                out.push(char::from(b'0' + octet / 10 % 10));
            }
            out.push(char::from(b'0' + octet % 10));
        }
        out
    }
}

/// Resolves client addresses; built from a [`ClientIpConfig`].
#[derive(Debug, Clone)]
pub struct ClientIpResolver {
    trusted: IpSet,
    source: IpSource,
    hops: u8,
}

impl TryFrom<&ClientIpConfig> for ClientIpResolver {
    type Error = ConfigError;

    fn try_from(c: &ClientIpConfig) -> Result<Self, ConfigError> {
        let mut p = Problems::default();
        let mut cidrs = Vec::new();
        for (i, s) in c.trusted_proxies.iter().enumerate() {
            match s.parse::<Cidr>() {
                Ok(cidr) => cidrs.push(cidr),
                Err(e) => p.push(&format!("trusted_proxies[{i}]"), e),
            }
        }
        p.check(
            c.source == IpSource::Socket || !c.trusted_proxies.is_empty(),
            "trusted_proxies",
            "must not be empty when source is not \"socket\"",
        );
        p.check(
            (1..=16).contains(&c.hops),
            "hops",
            "must be between 1 and 16",
        );
        p.finish(Self {
            trusted: IpSet::new(cidrs),
            source: c.source,
            hops: c.hops,
        })
    }
}

impl ClientIpResolver {
    /// Where client addresses come from.
    pub fn source(&self) -> IpSource {
        self.source
    }

    /// The client address of a request from socket peer `peer` with `headers`, and the
    /// connection's PROXY header if one was read.
    pub fn resolve(
        &self,
        peer: IpAddr,
        headers: &HeaderMap,
        proxy: Option<&ProxyHeader>,
    ) -> ClientIp {
        let peer = peer.to_canonical();
        let fallback = |reason| ClientIp {
            addr: peer,
            source: IpSource::Socket,
            reason,
        };
        if self.source == IpSource::Socket {
            return fallback("source is the socket");
        }
        if !self.trusted.contains(peer) {
            return fallback("peer is not a trusted proxy");
        }
        let nodes = match self.source {
            IpSource::Socket => return fallback("source is the socket"),
            IpSource::ProxyProtocol => return proxy_protocol_ip(peer, proxy),
            IpSource::XForwardedFor => xff_nodes(headers),
            IpSource::Forwarded => forwarded::parse_forwarded(
                headers
                    .get_all(http::header::FORWARDED)
                    .iter()
                    .map(|v| v.as_bytes()),
            ),
        };
        if nodes.is_empty() {
            return fallback("no forwarding header");
        }
        // Right to left: skip up to hops-1 further trusted proxies.
        let hops = usize::from(self.hops);
        let mut leftmost = None;
        for (k, node) in nodes.iter().rev().enumerate() {
            let ip = match *node {
                Node::Ip(ip) => ip.to_canonical(),
                Node::Hidden => return fallback("forwarded client is hidden or obfuscated"),
                Node::Malformed => return fallback("malformed forwarding header"),
            };
            let reason = if !self.trusted.contains(ip) {
                "nearest hop not known as a trusted proxy"
            } else if k + 1 >= hops {
                "hop at the configured proxy count"
            } else {
                leftmost = Some(ip);
                continue;
            };
            return ClientIp {
                addr: ip,
                source: self.source,
                reason,
            };
        }
        match leftmost {
            Some(addr) => ClientIp {
                addr,
                source: self.source,
                reason: "every forwarded hop is a trusted proxy",
            },
            None => fallback("no forwarding header"),
        }
    }
}

fn proxy_protocol_ip(peer: IpAddr, proxy: Option<&ProxyHeader>) -> ClientIp {
    let fallback = |reason| ClientIp {
        addr: peer,
        source: IpSource::Socket,
        reason,
    };
    let Some(header) = proxy else {
        return fallback("no PROXY header");
    };
    match (header.command, &header.addresses) {
        (Command::Local, _) => fallback("PROXY header of a local connection"),
        (Command::Proxy, ProxyAddresses::Unknown) => fallback("PROXY header without addresses"),
        (Command::Proxy, ProxyAddresses::Tcp { source, .. }) => ClientIp {
            addr: source.ip().to_canonical(),
            source: IpSource::ProxyProtocol,
            reason: "PROXY header source address",
        },
    }
}

/// Every `X-Forwarded-For` entry, in order across header lines.
fn xff_nodes(headers: &HeaderMap) -> Vec<Node> {
    let mut nodes = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        for entry in value.as_bytes().split(|&b| b == b',') {
            let ip = std::str::from_utf8(entry)
                .ok()
                .and_then(|e| forwarded::parse_xff_entry(e).ok());
            nodes.push(ip.map_or(Node::Malformed, Node::Ip));
        }
    }
    nodes
}

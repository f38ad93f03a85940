//! One IPv4 or IPv6 network in CIDR notation.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IP network, `addr/prefix`, with no host bits set. IPv4-mapped IPv6 networks
/// (`::ffff:192.0.2.0/120`) are stored as the IPv4 network they denote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a CIDR string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CidrError {
    /// Not an IPv4 or IPv6 address.
    #[error("not an IP address: {0:?}")]
    Address(String),
    /// The prefix length is not a number within the address size.
    #[error("invalid prefix length: {0:?}")]
    Prefix(String),
    /// Bits beyond the prefix are set; the intended network is ambiguous.
    #[error("host bits set; did you mean {0}?")]
    HostBits(Cidr),
}

impl Cidr {
    /// The network `addr/prefix`; `None` if the prefix is too long or host bits are set.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return None;
        }
        let cidr = Self::normalized(addr, prefix);
        let unmasked = match (cidr.addr, addr) {
            (IpAddr::V6(_), IpAddr::V6(v6)) => v6.to_bits(),
            (_, other) => cidr_first(other.to_canonical(), 128),
        };
        (cidr.first() == unmasked).then_some(cidr)
    }

    /// The single-address network of `addr`.
    pub fn host(addr: IpAddr) -> Self {
        let addr = addr.to_canonical();
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        Self { addr, prefix }
    }

    fn normalized(addr: IpAddr, prefix: u8) -> Self {
        match addr {
            IpAddr::V6(v6) if prefix >= 96 && v6.to_ipv4_mapped().is_some() => {
                let v4 = v6.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED);
                let prefix = prefix - 96;
                Self {
                    addr: IpAddr::V4(Ipv4Addr::from_bits(mask32(v4.to_bits(), prefix))),
                    prefix,
                }
            }
            IpAddr::V4(v4) => Self {
                addr: IpAddr::V4(Ipv4Addr::from_bits(mask32(v4.to_bits(), prefix))),
                prefix,
            },
            IpAddr::V6(v6) => Self {
                addr: IpAddr::V6(Ipv6Addr::from_bits(mask128(v6.to_bits(), prefix))),
                prefix,
            },
        }
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` (IPv4-mapped IPv6 normalised) lies in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask32(ip.to_bits(), self.prefix) == net.to_bits(),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask128(ip.to_bits(), self.prefix) == net.to_bits()
            }
            _ => false,
        }
    }

    /// First address as a number in its family's space.
    pub(crate) fn first(&self) -> u128 {
        cidr_first(self.addr, self.prefix)
    }

    /// Last address as a number in its family's space.
    pub(crate) fn last(&self) -> u128 {
        let bits = if self.addr.is_ipv4() { 32 } else { 128 };
        let host = u32::from(bits - self.prefix);
        let span = if host >= 128 {
            u128::MAX
        } else {
            (1u128 << host) - 1
        };
        self.first() | span
    }
}

fn cidr_first(addr: IpAddr, prefix: u8) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(mask32(v4.to_bits(), prefix)),
        IpAddr::V6(v6) => mask128(v6.to_bits(), prefix),
    }
}

fn mask32(bits: u32, prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        bits & (u32::MAX << (32 - u32::from(prefix.min(32))))
    }
}

fn mask128(bits: u128, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        bits & (u128::MAX << (128 - u32::from(prefix.min(128))))
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// Parses `192.0.2.0/24`, `2001:db8::/32`, or a bare address (a host network).
    fn from_str(s: &str) -> Result<Self, CidrError> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| CidrError::Address(addr.to_owned()))?;
        let Some(prefix) = prefix else {
            return Ok(Self::host(addr));
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bad_prefix = || CidrError::Prefix(prefix.to_owned());
        if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad_prefix());
        }
        let prefix: u8 = prefix.parse().map_err(|_| bad_prefix())?;
        if prefix > max {
            return Err(bad_prefix());
        }
        Self::new(addr, prefix).ok_or_else(|| CidrError::HostBits(Self::normalized(addr, prefix)))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

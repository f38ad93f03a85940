//! PROXY protocol v1 and v2 (haproxy's PROXY protocol spec): what a load balancer in
//! front of the edge says about the original connection.
//!
//! [`parse_proxy_header`] is pure and incremental; [`read_proxy_header`] reads one header
//! from a connection under a deadline, and [`PrefixedIo`] replays the bytes read past it.
//! v2 TLVs are checked for structure (and capped at [`MAX_TLV_BYTES`]) but not exposed.

mod io;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub use io::{PrefixedIo, read_proxy_header};

/// Longest v1 header, CRLF included (spec §2.1).
pub const V1_MAX_BYTES: usize = 107;
/// Most TLV bytes accepted after the v2 addresses (the spec allows up to 64 KiB).
pub const MAX_TLV_BYTES: usize = 1024;

const V1_PREFIX: &[u8] = b"PROXY ";
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// The LOCAL or PROXY command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// The connection was made by the proxy itself (health checks): use the socket.
    Local,
    /// The connection is relayed for a client.
    Proxy,
}

/// The original connection's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyAddresses {
    /// TCP over IPv4 or IPv6.
    Tcp {
        /// The client's address.
        source: SocketAddr,
        /// The address the client connected to.
        destination: SocketAddr,
    },
    /// `UNKNOWN` (v1), `UNSPEC` or a non-TCP family (v2): no usable address.
    Unknown,
}

/// A parsed PROXY header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyHeader {
    /// 1 or 2.
    pub version: u8,
    /// LOCAL or PROXY (v1 headers are always PROXY).
    pub command: Command,
    /// The original connection's addresses.
    pub addresses: ProxyAddresses,
}

/// Why a PROXY header was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The connection does not start with a PROXY header.
    #[error("no PROXY protocol header")]
    NotProxy,
    /// A v1 header without CRLF within 107 bytes.
    #[error("PROXY v1 header too long")]
    TooLong,
    /// A v1 header that does not follow the spec's syntax.
    #[error("malformed PROXY v1 header")]
    MalformedV1,
    /// A v2 header with an unknown version or command, or bad address block.
    #[error("malformed PROXY v2 header")]
    MalformedV2,
    /// v2 TLVs beyond [`MAX_TLV_BYTES`].
    #[error("PROXY v2 TLVs longer than {MAX_TLV_BYTES} bytes")]
    TlvTooLong,
    /// The header did not arrive before the deadline.
    #[error("PROXY header not received in time")]
    Timeout,
    /// The connection closed before a complete header.
    #[error("connection closed inside the PROXY header")]
    Truncated,
    /// Reading failed.
    #[error("reading the PROXY header: {0}")]
    Io(#[from] std::io::Error),
}

/// Parses a PROXY header at the start of `buf`: `Ok(None)` if more bytes are needed,
/// else the header and how many bytes it took.
pub fn parse_proxy_header(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let (sig, v2): (&[u8], bool) = match first {
        b'P' => (V1_PREFIX, false),
        b'\r' => (V2_SIGNATURE, true),
        _ => return Err(ProxyError::NotProxy),
    };
    let n = sig.len().min(buf.len());
    if buf[..n] != sig[..n] {
        return Err(ProxyError::NotProxy);
    }
    if v2 { parse_v2(buf) } else { parse_v1(buf) }
}

fn parse_v1(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    let window = &buf[..buf.len().min(V1_MAX_BYTES)];
    let Some(cr) = memchr::memmem::find(window, b"\r\n") else {
        if buf.len() >= V1_MAX_BYTES {
            return Err(ProxyError::TooLong);
        }
        return Ok(None);
    };
    let line =
        std::str::from_utf8(&window[V1_PREFIX.len()..cr]).map_err(|_| ProxyError::MalformedV1)?;
    let mut parts = line.split(' ');
    let addresses = match parts.next() {
        // Anything may follow UNKNOWN (spec §2.1).
        Some("UNKNOWN") => ProxyAddresses::Unknown,
        Some(family @ ("TCP4" | "TCP6")) => {
            let fields: Vec<&str> = parts.collect();
            let [src, dst, sport, dport] = fields[..] else {
                return Err(ProxyError::MalformedV1);
            };
            let ip = |s: &str| -> Result<IpAddr, ProxyError> {
                let ip = match family {
                    "TCP4" => {
                        IpAddr::V4(s.parse::<Ipv4Addr>().map_err(|_| ProxyError::MalformedV1)?)
                    }
                    _ => IpAddr::V6(s.parse::<Ipv6Addr>().map_err(|_| ProxyError::MalformedV1)?),
                };
                Ok(ip)
            };
            ProxyAddresses::Tcp {
                source: SocketAddr::new(ip(src)?, v1_port(sport)?),
                destination: SocketAddr::new(ip(dst)?, v1_port(dport)?),
            }
        }
        _ => return Err(ProxyError::MalformedV1),
    };
    let header = ProxyHeader {
        version: 1,
        command: Command::Proxy,
        addresses,
    };
    Ok(Some((header, cr + 2)))
}

/// A decimal port without sign or leading zeros.
fn v1_port(s: &str) -> Result<u16, ProxyError> {
    let plain =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if !plain {
        return Err(ProxyError::MalformedV1);
    }
    s.parse().map_err(|_| ProxyError::MalformedV1)
}

fn parse_v2(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    if buf.len() < 16 {
        return Ok(None);
    }
    let (ver_cmd, family) = (buf[12], buf[13]);
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if ver_cmd >> 4 != 2 {
        return Err(ProxyError::MalformedV2);
    }
    let command = match ver_cmd & 0x0f {
        0 => Command::Local,
        1 => Command::Proxy,
        _ => return Err(ProxyError::MalformedV2),
    };
    // Address block sizes (spec §2.2): TCP/UDP over IPv4 12, IPv6 36, UNIX 216.
    let addr_len = match family >> 4 {
        0 => 0,
        1 => 12,
        2 => 36,
        3 => 216,
        _ => return Err(ProxyError::MalformedV2),
    };
    if family & 0x0f > 2 || len < addr_len {
        return Err(ProxyError::MalformedV2);
    }
    if len - addr_len > MAX_TLV_BYTES {
        return Err(ProxyError::TlvTooLong);
    }
    if buf.len() < 16 + len {
        return Ok(None);
    }
    let body = &buf[16..16 + len];
    check_tlvs(&body[addr_len..])?;
    let tcp = family & 0x0f == 1;
    let addresses = match (command, family >> 4) {
        (Command::Proxy, 1) if tcp => {
            let ip = |i: usize| {
                IpAddr::V4(Ipv4Addr::new(
                    body[i],
                    body[i + 1],
                    body[i + 2],
                    body[i + 3],
                ))
            };
            ProxyAddresses::Tcp {
                source: SocketAddr::new(ip(0), port(body, 8)),
                destination: SocketAddr::new(ip(4), port(body, 10)),
            }
        }
        (Command::Proxy, 2) if tcp => {
            let ip = |i: usize| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&body[i..i + 16]);
                IpAddr::V6(Ipv6Addr::from(octets))
            };
            ProxyAddresses::Tcp {
                source: SocketAddr::new(ip(0), port(body, 32)),
                destination: SocketAddr::new(ip(16), port(body, 34)),
            }
        }
        _ => ProxyAddresses::Unknown,
    };
    let header = ProxyHeader {
        version: 2,
        command,
        addresses,
    };
    Ok(Some((header, 16 + len)))
}

fn port(body: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([body[i], body[i + 1]])
}

/// TLVs must tile their area exactly: `type(1) length(2) value(length)`.
fn check_tlvs(mut tlvs: &[u8]) -> Result<(), ProxyError> {
    while !tlvs.is_empty() {
        let [_, hi, lo, rest @ ..] = tlvs else {
            return Err(ProxyError::MalformedV2);
        };
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        tlvs = rest.get(len..).ok_or(ProxyError::MalformedV2)?;
    }
    Ok(())
}

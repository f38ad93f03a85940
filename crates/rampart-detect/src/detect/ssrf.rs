//! Server-side request forgery: URLs whose host is loopback, private, link-local, a
//! cloud metadata endpoint or a name that resolves to one, in any spelling a URL parser
//! accepts (`http://2130706433/`, `http://0x7f.1/`, `http://127.1/`, `[::ffff:127.0.0.1]`,
//! `user@host` tricks), and protocol-smuggling schemes (`gopher://`, `dict://`). URLs to
//! public hosts pass.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

/// Schemes that let a server speak raw protocols to internal services.
const SMUGGLING: &[&[u8]] = &[
    b"gopher", b"dict", b"tftp", b"netdoc", b"jar", b"ldap", b"sftp",
];

/// Host names of metadata services and loopback aliases.
const NAMES: &[&str] = &[
    "localhost",
    "metadata.google.internal",
    "metadata",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.azure.com",
    "kubernetes.default",
    "kubernetes.default.svc",
    "localtest.me",
    "lvh.me",
    "ip6-localhost",
    "ip6-loopback",
];

/// Detects a URL to an internal target.
pub(crate) fn detect(text: &str) -> Option<Range<usize>> {
    let s = text.as_bytes();
    let mut from = 0;
    while let Some(off) = memchr::memmem::find(&s[from..], b"://") {
        let at = from + off;
        from = at + 3;
        let scheme_start = s[..at]
            .iter()
            .rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-')))
            .map_or(0, |p| p + 1);
        let scheme = s[scheme_start..at].to_ascii_lowercase();
        if scheme.is_empty() {
            continue;
        }
        let auth_end = s[from..]
            .iter()
            .position(|b| {
                matches!(
                    b,
                    b'/' | b'?' | b'#' | b'\\' | b' ' | b'"' | b'\'' | b'<' | b'>'
                ) || b.is_ascii_control()
            })
            .map_or(s.len(), |p| from + p);
        let span = scheme_start..auth_end;
        if SMUGGLING.contains(&scheme.as_slice()) {
            return Some(span);
        }
        let authority = String::from_utf8_lossy(&s[from..auth_end]).to_ascii_lowercase();
        if internal_authority(&authority) {
            return Some(span);
        }
    }
    None
}

fn internal_authority(authority: &str) -> bool {
    // The host is what follows the last `@` (userinfo tricks: `http://google.com@127.0.0.1`).
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        let inner = v6.split(']').next().unwrap_or(v6);
        let inner = inner.split('%').next().unwrap_or(inner);
        return inner.parse::<Ipv6Addr>().is_ok_and(internal_v6);
    } else {
        host_port.split(':').next().unwrap_or(host_port)
    };
    let host = host.trim_end_matches('.');
    if host.is_empty() {
        return false;
    }
    if NAMES.contains(&host) || host.ends_with(".localhost") || host.ends_with(".internal") {
        return true;
    }
    if let Some(ip) = parse_v4_loose(host) {
        return internal_v4(ip);
    }
    // Wildcard DNS names that embed an address: `127.0.0.1.nip.io`, `10-0-0-1.sslip.io`.
    for suffix in [".nip.io", ".xip.io", ".sslip.io", ".traefik.me"] {
        if let Some(prefix) = host.strip_suffix(suffix) {
            let dotted = prefix.rsplit(['.']).take(4).collect::<Vec<_>>();
            let candidate = dotted
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join(".")
                .replace('-', ".");
            let tail = candidate
                .rsplit('.')
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join(".");
            return parse_v4_loose(&tail).is_some_and(internal_v4);
        }
    }
    false
}

/// inet_aton: 1 to 4 parts, each decimal, octal (leading 0) or hex (0x); the last part
/// fills the remaining bytes.
fn parse_v4_loose(host: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(4);
    for p in &parts {
        let v = if let Some(h) = p.strip_prefix("0x") {
            if h.is_empty() {
                0
            } else {
                u64::from_str_radix(h, 16).ok()?
            }
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(&p[1..], 8).ok()?
        } else {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse::<u64>().ok()?
        };
        nums.push(v);
    }
    let last = *nums.last()?;
    let head = &nums[..nums.len() - 1];
    if head.iter().any(|&n| n > 255) {
        return None;
    }
    let tail_bits = 8 * (4 - head.len() as u32);
    if tail_bits < 64 && last >= 1u64 << tail_bits {
        return None;
    }
    let mut value: u64 = 0;
    for (i, n) in head.iter().enumerate() {
        value |= n << (24 - 8 * i as u32);
    }
    value |= last;
    u32::try_from(value).ok().map(Ipv4Addr::from)
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || o[0] == 0
        || (o[0] == 100 && (64..128).contains(&o[1]))
        || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    // IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) embed an IPv4 address.
    let embedded = Ipv4Addr::new(
        (seg[6] >> 8) as u8,
        seg[6] as u8,
        (seg[7] >> 8) as u8,
        seg[7] as u8,
    );
    if seg[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() {
        return internal_v4(embedded);
    }
    if seg[0] == 0x64 && seg[1] == 0xff9b {
        return internal_v4(embedded);
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || (seg[0] & 0xfe00) == 0xfc00
        || (seg[0] & 0xffc0) == 0xfe80
}

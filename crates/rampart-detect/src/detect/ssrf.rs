//! Server-side request forgery: URLs whose host is loopback, private, link-local, a
//! cloud metadata endpoint or a name that resolves to one, in any spelling a URL parser
//! accepts (`http://2130706433/`, `http://0x7f.1/`, `http://127.1/`, `[::ffff:127.0.0.1]`,
//! `user@host` tricks), and protocol-smuggling schemes (`gopher://`, `dict://`). URLs to
//! public hosts pass.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

/// Schemes that let a server speak raw protocols to internal services, and the JNDI
/// ones a lookup loads remote classes through (`rmi://`, `iiop://`: a Jackson gadget's
/// `jndiLocation`).
const SMUGGLING: &[&[u8]] = &[
    b"gopher",
    b"dict",
    b"tftp",
    b"netdoc",
    b"jar",
    b"ldap",
    b"sftp",
    b"rmi",
    b"iiop",
    b"corbaname",
];

/// Public domains that resolve, with every subdomain, to the loopback address.
const LOOPBACK_DOMAINS: &[&str] = &["localtest.me", "lvh.me", "localh.st", "vcap.me"];

/// Host names of metadata services and loopback aliases.
const NAMES: &[&str] = &[
    "localhost",
    "metadata.google.internal",
    "metadata",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.azure.com",
    "metadata.packet.net",
    "metadata.platformequinix.com",
    "metadata.tencentyun.com",
    "rancher-metadata",
    "kubernetes.default",
    "kubernetes.default.svc",
    "localtest.me",
    "lvh.me",
    "ip6-localhost",
    "ip6-loopback",
    "ipv6-localhost",
    "localhost.localdomain",
    "localhost4",
    "localhost4.localdomain4",
    "localhost6",
    "localhost6.localdomain6",
];

/// Connection-string schemes of databases and brokers (`postgresql://app@db.internal`):
/// a driver speaks its own protocol to them, no URL fetcher does, so an internal host
/// there is configuration. A metadata or link-local host still counts.
const CONNECTION_STRINGS: &[&[u8]] = &[
    b"postgres",
    b"postgresql",
    b"mysql",
    b"mariadb",
    b"mongodb",
    b"mongodb+srv",
    b"amqp",
    b"amqps",
    b"mqtts",
    b"nats",
    b"kafka",
    b"sqlserver",
    b"clickhouse",
    b"cockroachdb",
];

/// Names of the local network (loopback aliases, mDNS, RFC 8375): internal hosts that
/// people also write plainly in instructions.
const LOCAL_NETWORK_SUFFIXES: &[&str] = &[".localhost", ".local", ".home.arpa"];

/// Schemes a WHATWG URL parser reads as `scheme://` even without the slashes
/// (`http:127.0.0.1`, `http:/2852039166`).
const SPECIAL: &[&[u8]] = &[b"http:", b"https:", b"ftp:", b"ws:", b"wss:"];

/// Detects a URL to an internal target. `bare_hosts`: also a value starting with an
/// internal host name and no scheme (parameters, not headers such as `Host`).
pub(crate) fn detect(text: &str, bare_hosts: bool) -> Option<Range<usize>> {
    let s = text.as_bytes();
    if let Some(r) = slashless(s).or_else(|| bare_hosts.then(|| schemeless(s)).flatten()) {
        return Some(r);
    }
    let mut from = 0;
    while let Some(off) = super::find_short(&s[from..], b"://") {
        let at = from + off;
        from = at + 3;
        let scheme_start = s[..at]
            .iter()
            .rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-')))
            .map_or(0, |p| p + 1);
        let scheme = &s[scheme_start..at];
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
        if SMUGGLING.iter().any(|p| p.eq_ignore_ascii_case(scheme)) {
            return Some(span);
        }
        let authority = fold(&crate::decode::lossy(&s[from..auth_end]));
        if CONNECTION_STRINGS
            .iter()
            .any(|p| p.eq_ignore_ascii_case(scheme))
            && !metadata_authority(&authority)
        {
            continue;
        }
        // "then open http://localhost:3000": text names a local address, nothing fetches it.
        // After an encoded space the scheme reads `20http` or `+http`: that belongs before.
        let words_before = || {
            let lead = if s[..scheme_start].ends_with(b"%") && scheme.starts_with(b"20") {
                2
            } else {
                scheme.iter().take_while(|b| **b == b'+').count()
            };
            in_text(&s[..scheme_start + lead])
        };
        // In a raw query value the text after it still has its spaces encoded
        // (`http://localhost:8080%20works`).
        let spoken_end =
            memchr::memmem::find(&s[from..auth_end], b"%20").map_or(auth_end, |e| from + e);
        let spoken =
            (spoken_end < auth_end).then(|| fold(&crate::decode::lossy(&s[from..spoken_end])));
        if plain_local(spoken.as_deref().unwrap_or(&authority))
            && words_before()
            && !userinfo_after_space(&s[spoken_end..])
        {
            continue;
        }
        if loopback_redirect(scheme, &authority, &s[auth_end..]) {
            continue;
        }
        if internal_authority(&authority) {
            return Some(span);
        }
        // `http://a.com:80 &@127.0.0.1:22/`: parsers disagree on where the authority ends,
        // so a later `@host` counts too.
        let window = &s[from..s.len().min(from + 256)];
        for at in memchr::memchr_iter(b'@', window) {
            let r = authority_span(window, at + 1);
            if r.is_some_and(|r| internal_authority(&fold(&crate::decode::lossy(&window[r])))) {
                return Some(span);
            }
        }
    }
    None
}

/// Lowercases a host and folds the Unicode look-alikes URL parsers map to ASCII
/// (`①②⑦.⓪.⓪.①`, `ⓛⓞⓒⓐⓛⓗⓞⓢⓣ`, `169。254。169。254`, fullwidth letters and digits).
fn fold(host: &str) -> String {
    // No look-alike is ASCII: an ASCII host (nearly all of them) only needs lowercasing.
    if host.is_ascii() {
        return host.to_ascii_lowercase();
    }
    host.chars()
        .map(|c| {
            let u = u32::from(c);
            let mapped = match u {
                0x2460..=0x2468 => char::from_u32(u - 0x2460 + u32::from(b'1')),
                0x24ea | 0x24ff => Some('0'),
                0x24b6..=0x24cf => char::from_u32(u - 0x24b6 + u32::from(b'a')),
                0x24d0..=0x24e9 => char::from_u32(u - 0x24d0 + u32::from(b'a')),
                0xff10..=0xff19 => char::from_u32(u - 0xff10 + u32::from(b'0')),
                0xff21..=0xff3a => char::from_u32(u - 0xff21 + u32::from(b'a')),
                0xff41..=0xff5a => char::from_u32(u - 0xff41 + u32::from(b'a')),
                0x3002 | 0xff0e | 0xff61 => Some('.'),
                _ => None,
            };
            mapped.unwrap_or(c).to_ascii_lowercase()
        })
        .collect()
}

/// A whole value that is a special-scheme URL without its `//` (`http:127.0.0.1`,
/// `https:/[::1]`), which URL parsers still read as a host.
fn slashless(s: &[u8]) -> Option<Range<usize>> {
    let start = s.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &s[start..];
    let scheme = SPECIAL
        .iter()
        .find(|p| rest.len() > p.len() && rest[..p.len()].eq_ignore_ascii_case(p))?;
    let mut from = start + scheme.len();
    let slashes = s[from..]
        .iter()
        .take_while(|b| matches!(b, b'/' | b'\\'))
        .count();
    if slashes >= 2 {
        return None;
    }
    from += slashes;
    authority_span(s, from)
        .filter(|r| internal_authority(&lower(&s[r.clone()])))
        .map(|r| start..r.end)
}

/// A URL path that carries a URL to an internal host as its remaining segments
/// (`/proxy/http:/169.254.169.254/latest`): open-proxy and fetch endpoints take them, and
/// the `//` after the scheme is gone because path normalisation merged it.
pub(crate) fn in_path(path: &str) -> Option<Range<usize>> {
    let s = path.as_bytes();
    memchr::memchr_iter(b'/', s).find_map(|at| {
        let rest = &s[at + 1..];
        let special = SPECIAL
            .iter()
            .any(|p| rest.len() > p.len() && rest[..p.len()].eq_ignore_ascii_case(p));
        special
            .then(|| slashless(rest))
            .flatten()
            .map(|r| at + 1 + r.start..at + 1 + r.end)
    })
}

/// `http://localhost:8080 @169.254.169.254/`: lenient parsers take what precedes the `@`,
/// space included, for userinfo, so the local address was no host.
fn userinfo_after_space(rest: &[u8]) -> bool {
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            b' ' | b'\t' | b'+' => i += 1,
            b'%' if rest[i..].starts_with(b"%20") => i += 3,
            b'@' => return i > 0,
            _ => return false,
        }
    }
    false
}

/// Whether words come before a URL (`open `, `webhook: `): it is mentioned in text, not
/// the value a server would fetch. Markup and JSON around it (`<url>`, `{"u": "`) are no
/// words.
///
/// Spaces may still be encoded (`Open%20http://...` in a raw query value).
fn in_text(prefix: &[u8]) -> bool {
    // Quoted as code or a link in the text: `` `http://...` ``, `<http://...|label>`.
    let prefix = prefix
        .strip_suffix(b"`")
        .or_else(|| prefix.strip_suffix(b"<"))
        .or_else(|| prefix.strip_suffix(b"("))
        .unwrap_or(prefix);
    // "Set HTTPS_PROXY=http://proxy.local:3128 and": an environment variable named in text.
    let prefix = env_assignment(prefix).unwrap_or(prefix);
    let spaced = [&b" "[..], b"+", b"%20"]
        .iter()
        .any(|sp| prefix.ends_with(sp));
    spaced
        && prefix
            .split(|b| b.is_ascii_whitespace() || matches!(b, b'+' | b'%'))
            .any(|w| {
                let w = w.strip_suffix(b":").unwrap_or(w);
                w.len() >= 2 && w.iter().all(u8::is_ascii_alphabetic)
            })
}

/// `prefix` without a trailing `NAME=` in capitals (an environment variable being set).
fn env_assignment(prefix: &[u8]) -> Option<&[u8]> {
    let name = prefix.strip_suffix(b"=")?;
    let start = name
        .iter()
        .rposition(|b| !(b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_'))
        .map_or(0, |p| p + 1);
    let var = &name[start..];
    (var.len() >= 2 && var[0].is_ascii_uppercase()).then_some(&name[..start])
}

/// An authority that writes a loopback or private address the way people do in text
/// (`localhost`, `printer.local`, `127.0.0.1`, `192.168.1.1`, `0.0.0.0`, with a port): no
/// userinfo, no other spelling of a number, no link-local or metadata host.
fn plain_local(authority: &str) -> bool {
    if authority.contains('@') {
        return false;
    }
    // Text closes what it opened around the URL: `` `http://x:8080`. ``, `<http://x|label>`.
    let authority = authority
        .split(['`', '|', ')'])
        .next()
        .unwrap_or(authority)
        .trim_end_matches(['.', ',', ';']);
    let host = authority.split(':').next().unwrap_or(authority);
    let port_ok = authority[host.len()..]
        .strip_prefix(':')
        .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    if !port_ok {
        return false;
    }
    // Names of the local network people write in instructions ("open
    // http://printer.local", "Runbook: https://wiki.internal/..."); metadata names and
    // Docker's host gateway never pass this way.
    if NAMES.contains(&host) && host != "localhost" || host.ends_with(".docker.internal") {
        return false;
    }
    if host == "localhost"
        || LOCAL_NETWORK_SUFFIXES
            .iter()
            .chain(&[".internal", ".svc", ".consul"])
            .any(|s| host.len() > s.len() && host.ends_with(s))
    {
        return true;
    }
    // The standard parser takes four decimal parts only, without leading zeros.
    host.parse::<Ipv4Addr>()
        .is_ok_and(|ip| ip.is_loopback() || ip.is_private() || ip.is_unspecified())
}

/// Path segments that name an OAuth redirection endpoint.
const CALLBACK_SEGMENTS: &[&str] = &[
    "callback",
    "oauth2callback",
    "oauth-callback",
    "cb",
    "redirect",
];

/// A native app's OAuth redirect URI (RFC 8252 §7.3: `http://127.0.0.1:51004/callback`,
/// `http://localhost:3000/api/auth/callback/github`): plain loopback, no userinfo, and a
/// path, with nothing after it, whose last segment (or the one before a provider name) is
/// a redirection endpoint. Sent in every authorization request, never fetched by a server.
fn loopback_redirect(scheme: &[u8], authority: &str, rest: &[u8]) -> bool {
    let loopback = match host_of(authority) {
        Host::V6(ip) => ip.is_some_and(|ip| ip.is_loopback()),
        Host::Name(host) => {
            host == "localhost" || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        }
    };
    if !loopback
        || authority.contains('@')
        || !(scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https"))
        || !rest.starts_with(b"/")
        || !rest
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'))
    {
        return false;
    }
    let mut segments = rest.split(|b| *b == b'/').rev().filter(|s| !s.is_empty());
    let endpoint = |s: &[u8]| {
        CALLBACK_SEGMENTS
            .iter()
            .any(|c| c.as_bytes().eq_ignore_ascii_case(s))
    };
    segments.next().is_some_and(endpoint) || segments.next().is_some_and(endpoint)
}

/// A value that starts with a loopback or internal host name used as a URL without a
/// scheme (`localhost/`, `host.docker.internal:2375/`); a bare word is not enough.
fn schemeless(s: &[u8]) -> Option<Range<usize>> {
    let start = s.iter().position(|b| !b.is_ascii_whitespace())?;
    let r = authority_span(s, start)?;
    let next = s.get(r.end).copied();
    let host = lower(&s[r.clone()]);
    let named = {
        let h = host
            .split(':')
            .next()
            .unwrap_or(&host)
            .trim_end_matches('.');
        NAMES.contains(&h)
            || h.ends_with(".internal")
            || h.ends_with(".localhost")
            || h.ends_with(".cluster.local")
    };
    // A metadata address needs no path: a `host` argument holding it is the target.
    let metadata = metadata_authority(&host) && matches!(next, None | Some(b'/'));
    ((named && (next == Some(b'/') || host.contains(':'))) || metadata).then_some(start..r.end)
}

fn authority_span(s: &[u8], from: usize) -> Option<Range<usize>> {
    let end = s[from..]
        .iter()
        .position(|b| {
            matches!(
                b,
                b'/' | b'?' | b'#' | b'\\' | b' ' | b'"' | b'\'' | b'<' | b'>'
            ) || b.is_ascii_control()
        })
        .map_or(s.len(), |p| from + p);
    (end > from).then_some(from..end)
}

fn lower(b: &[u8]) -> String {
    crate::decode::lossy(b).to_ascii_lowercase()
}

/// An authority's host: what follows the last `@` (userinfo tricks:
/// `http://google.com@127.0.0.1`), without port, zone or trailing dot.
enum Host<'a> {
    /// A bracketed IPv6 literal, if it parses.
    V6(Option<Ipv6Addr>),
    Name(&'a str),
}

fn host_of(authority: &str) -> Host<'_> {
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    if let Some(v6) = host_port.strip_prefix('[') {
        let inner = v6.split([']', '%']).next().unwrap_or(v6);
        return Host::V6(inner.parse().ok());
    }
    let host = host_port.split(':').next().unwrap_or(host_port);
    Host::Name(host.trim_end_matches('.'))
}

/// Whether an authority's host is a cloud metadata name or a link-local address.
fn metadata_authority(authority: &str) -> bool {
    match host_of(authority) {
        Host::V6(ip) => {
            ip.is_some_and(|ip| ip.is_unicast_link_local() || internal_v6(ip) && !ip.is_loopback())
        }
        Host::Name(host) => {
            // Of the names, the metadata services' (and the cluster API's), not loopback
            // aliases.
            (NAMES.contains(&host)
                && ["metadata", "instance-data", "kubernetes"]
                    .iter()
                    .any(|m| host.contains(m)))
                || (v4_bytes(host) && parse_v4_loose(host).is_some_and(|ip| ip.is_link_local()))
        }
    }
}

fn internal_authority(authority: &str) -> bool {
    let host = match host_of(authority) {
        Host::V6(ip) => return ip.is_some_and(internal_v6),
        Host::Name(host) => host,
    };
    if host.is_empty() {
        return false;
    }
    // Private-use and service-discovery names (`.svc` of Kubernetes, `.consul`, mDNS
    // `.local`, RFC 8375 `home.arpa`) resolve only inside a network.
    if NAMES.contains(&host)
        || LOCAL_NETWORK_SUFFIXES
            .iter()
            .chain(&[".internal", ".svc", ".consul"])
            .any(|s| host.ends_with(s))
    {
        return true;
    }
    if v4_bytes(host)
        && let Some(ip) = parse_v4_loose(host)
    {
        return internal_v4(ip);
    }
    // Public names whose every subdomain resolves to 127.0.0.1 (`admin.localtest.me`).
    if LOOPBACK_DOMAINS.iter().any(|d| {
        host.strip_suffix(d)
            .is_some_and(|p| p.is_empty() || p.ends_with('.'))
    }) {
        return true;
    }
    // DNS rebinding services answer with either of two embedded addresses:
    // `7f000001.c0a80001.rbndr.us` (hex), `make-1.2.3.4-rebind-169.254.169.254-rr.1u.ms`.
    if let Some(prefix) = host.strip_suffix(".rbndr.us") {
        return prefix
            .split('.')
            .any(|label| hex_v4(label).is_some_and(internal_v4));
    }
    // `169.254.169.254.1time.127.0.0.1.forever.rebind.network` (whonow),
    // `make-1.2.3.4-rebind-127.0.0.1-rr.1u.ms`: four numeric labels anywhere.
    if [".1u.ms", ".rebind.network", ".rebind.it"]
        .iter()
        .any(|s| host.ends_with(s))
    {
        return host
            .split(['-', '.'])
            .collect::<Vec<_>>()
            .windows(4)
            .any(|w| {
                w.iter().all(|p| p.parse::<u8>().is_ok())
                    && parse_v4_loose(&w.join(".")).is_some_and(internal_v4)
            });
    }
    // Wildcard DNS names that embed an address: `127.0.0.1.nip.io`, `10-0-0-1.sslip.io`.
    for suffix in [".nip.io", ".xip.io", ".sslip.io", ".traefik.me"] {
        if let Some(prefix) = host.strip_suffix(suffix) {
            // The hex spelling: `a9fea9fe.nip.io`, `app-c0a80101.nip.io`.
            let last = prefix.rsplit(['.', '-']).next().unwrap_or(prefix);
            if let Some(ip) = hex_v4(last) {
                return internal_v4(ip);
            }
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

/// An address spelled as one 8-digit hex label (`a9fea9fe`), as wildcard and rebinding
/// DNS services embed it.
fn hex_v4(label: &str) -> Option<Ipv4Addr> {
    (label.len() == 8)
        .then(|| u32::from_str_radix(label, 16).ok())
        .flatten()
        .map(Ipv4Addr::from)
}

/// Whether `host` holds only bytes [`parse_v4_loose`] can accept (digits in any base it
/// reads, `0x`, a sign `from_str_radix` takes, dots): a name fails here without the
/// allocations of a parse.
fn v4_bytes(host: &str) -> bool {
    host.bytes()
        .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b'x' | b'X' | b'+' | b'-'))
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
    let mut last = *nums.last()?;
    let head = &nums[..nums.len() - 1];
    // `http://7147006462/`: a lone number past 32 bits wraps in some parsers.
    if head.is_empty() {
        last &= u64::from(u32::MAX);
    }
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
        // 0.0.0.0/8 other than 0.0.0.0 itself is not routable: nothing answers there.
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

#[cfg(test)]
mod tests {
    use super::{parse_v4_loose, v4_bytes};

    /// The byte pre-check never turns away a host the parser reads as an address.
    #[test]
    fn v4_byte_check_admits_every_parsed_host() {
        let hosts = [
            "127.0.0.1",
            "0x7f.1",
            "0177.0.0.1",
            "2130706433",
            "0x7f000001",
            "+127.0.0.1",
            "0+177.0.0.1",
            "0x+7f.1",
            "10.0.0.1.",
            "track.example.com",
            "localhost",
            "1.2.3.4.5",
        ];
        for h in hosts {
            if parse_v4_loose(h).is_some() {
                assert!(v4_bytes(h), "{h}");
            }
        }
        let alphabet = b"0123456789abcdefxX.+-gz:";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..50_000 {
            seed = crate::testing::xorshift(seed);
            let len = (seed % 12) as usize;
            let h: String = (0..len)
                .map(|k| char::from(alphabet[((seed >> (k * 5)) % alphabet.len() as u64) as usize]))
                .collect();
            if parse_v4_loose(&h).is_some() {
                assert!(v4_bytes(&h), "{h}");
            }
        }
    }
}

//! Parsing `X-Forwarded-For` entries and RFC 7239 `Forwarded` elements.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// A hop's address as a header states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Node {
    /// A usable address.
    Ip(IpAddr),
    /// `unknown`, an obfuscated `_identifier`, or an element without `for=`.
    Hidden,
    /// An entry that does not parse. Only the walk decides whether it matters: left of
    /// where the walk stops, it is the client's own text.
    Malformed,
}

/// A header value that must not be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Malformed;

/// One `X-Forwarded-For` entry: an address, optionally bracketed and with a port.
pub(super) fn parse_xff_entry(entry: &str) -> Result<IpAddr, Malformed> {
    let entry = entry.trim_matches([' ', '\t']);
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Ok(ip);
    }
    if let Ok(sock) = entry.parse::<SocketAddr>() {
        return Ok(sock.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .and_then(|e| e.parse::<Ipv6Addr>().ok())
        .map(IpAddr::V6)
        .ok_or(Malformed)
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> Result<&[u8], Malformed> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        if self.i == start {
            return Err(Malformed);
        }
        Ok(&self.s[start..self.i])
    }
    /// A quoted-string, unescaped into `out`.
    fn quoted(&mut self, out: &mut Vec<u8>) -> Result<(), Malformed> {
        self.i += 1; // opening quote
        loop {
            let b = self.peek().ok_or(Malformed)?;
            self.i += 1;
            match b {
                b'"' => return Ok(()),
                b'\\' => {
                    let e = self.peek().ok_or(Malformed)?;
                    if e != b'\t' && (e < 0x20 || e == 0x7f) {
                        return Err(Malformed);
                    }
                    out.push(e);
                    self.i += 1;
                }
                b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80.. => out.push(b),
                _ => return Err(Malformed),
            }
        }
    }
}

/// The `for=` node of every `Forwarded` element, in order across all header values.
pub(super) fn parse_forwarded<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<Node> {
    let mut nodes = Vec::new();
    let mut buf = Vec::new();
    for value in values {
        let start = nodes.len();
        if parse_line(value, &mut nodes, &mut buf).is_err() {
            // A client's unclosed quote must not swallow the entries a proxy appended
            // to the same line: read its comma-separated pieces one by one instead. All
            // the client wrote is left of them, and matters only if the walk gets there.
            nodes.truncate(start);
            // A piece holds no comma, so it is at most one element (none if empty).
            for piece in value.split(|&b| b == b',') {
                let at = nodes.len();
                if parse_line(piece, &mut nodes, &mut buf).is_err() {
                    nodes.truncate(at);
                    nodes.push(Node::Malformed);
                }
            }
        }
    }
    nodes
}

fn parse_line(value: &[u8], nodes: &mut Vec<Node>, buf: &mut Vec<u8>) -> Result<(), Malformed> {
    let mut c = Cursor { s: value, i: 0 };
    loop {
        c.skip_ows();
        match c.peek() {
            None => return Ok(()),
            Some(b',') => {
                c.i += 1; // empty list element (RFC 9110 §5.6.1)
                continue;
            }
            Some(_) => {}
        }
        nodes.push(element(&mut c, buf)?);
        c.skip_ows();
        match c.peek() {
            None => return Ok(()),
            Some(b',') => c.i += 1,
            Some(_) => return Err(Malformed),
        }
    }
}

/// One element: `pair *( ";" pair )`; returns its `for` node. `Err` only for syntax:
/// a well-formed element with bad values is one malformed entry.
fn element(c: &mut Cursor<'_>, buf: &mut Vec<u8>) -> Result<Node, Malformed> {
    let mut node = None;
    let mut bad = false;
    let mut seen: Vec<Vec<u8>> = Vec::new();
    loop {
        c.skip_ows();
        let name = c.token()?.to_ascii_lowercase();
        if c.peek() != Some(b'=') {
            return Err(Malformed);
        }
        c.i += 1;
        buf.clear();
        if c.peek() == Some(b'"') {
            c.quoted(buf)?;
        } else {
            buf.extend_from_slice(c.token()?);
        }
        // RFC 7239 §4: a parameter occurs at most once per element.
        if seen.contains(&name) || seen.len() > 8 {
            bad = true;
        } else {
            if name == b"for" {
                node = Some(parse_node(buf).unwrap_or(Node::Malformed));
            }
            seen.push(name);
        }
        c.skip_ows();
        if c.peek() == Some(b';') {
            c.i += 1;
        } else if bad {
            return Ok(Node::Malformed);
        } else {
            return Ok(node.unwrap_or(Node::Hidden));
        }
    }
}

/// RFC 7239 §6: `nodename [ ":" node-port ]`.
fn parse_node(v: &[u8]) -> Result<Node, Malformed> {
    let v = std::str::from_utf8(v).map_err(|_| Malformed)?;
    let (name, port) = if let Some(rest) = v.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or(Malformed)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(Malformed)?),
        };
        let ip = inside.parse::<Ipv6Addr>().map_err(|_| Malformed)?;
        (Some(IpAddr::V6(ip)), port)
    } else {
        let (name, port) = match v.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (v, None),
        };
        let ip = if name.eq_ignore_ascii_case("unknown") || is_obfuscated(name) {
            None
        } else {
            Some(IpAddr::V4(name.parse().map_err(|_| Malformed)?))
        };
        (ip, port)
    };
    if let Some(port) = port {
        let numeric =
            !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
        if !(numeric && port.parse::<u16>().is_ok() || is_obfuscated(port)) {
            return Err(Malformed);
        }
    }
    Ok(name.map_or(Node::Hidden, Node::Ip))
}

/// `"_" 1*( ALPHA / DIGIT / "." / "_" / "-" )`.
fn is_obfuscated(s: &str) -> bool {
    s.strip_prefix('_').is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    })
}

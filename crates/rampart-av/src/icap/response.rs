//! ICAP response heads without I/O: a strict, bounded parser and the reading of an
//! antivirus answer from it.

/// Longest response head accepted (status line and headers).
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// Most header lines accepted (continuation lines included).
const MAX_LINES: usize = 100;

/// A parsed ICAP response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcapResponse {
    /// The status code.
    pub status: u16,
    headers: Vec<(String, String)>,
}

impl IcapResponse {
    /// The first value of header `name` (case-insensitive). Continuation lines are joined
    /// with `\n`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True when the server keeps the connection open after this response.
    pub(crate) fn keeps_alive(&self) -> bool {
        !self
            .header("Connection")
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }

    /// True when nothing is encapsulated, so nothing follows this head on the connection.
    pub(crate) fn is_bare(&self) -> bool {
        self.header("Encapsulated")
            .is_none_or(|v| v.trim() == "null-body=0")
    }
}

/// Where the head ends: the index just past its empty line, once received.
pub(crate) fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parses a head that ends with its empty line. CRLF only; no NUL, bare CR or LF, or
/// other controls except tab; continuation lines (used by `X-Violations-Found`) are
/// joined to the header above them.
pub(crate) fn parse_head(head: &[u8]) -> Result<IcapResponse, String> {
    if head.len() > MAX_HEAD {
        return Err("response head too long".into());
    }
    let text = std::str::from_utf8(head).map_err(|_| "response head is not UTF-8".to_owned())?;
    let text = text
        .strip_suffix("\r\n\r\n")
        .ok_or("response head does not end with an empty line")?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = parse_status_line(status_line)?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for (i, line) in lines.enumerate() {
        if i >= MAX_LINES {
            return Err("too many header lines".into());
        }
        if line.chars().any(|c| c.is_control() && c != '\t') {
            return Err(format!("control character in header line {line:?}"));
        }
        if line.starts_with([' ', '\t']) {
            let (_, value) = headers
                .last_mut()
                .ok_or("continuation line before any header")?;
            value.push('\n');
            value.push_str(line.trim());
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("header line without a colon: {line:?}"))?;
        if !is_token(name) {
            return Err(format!("bad header name {name:?}"));
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    Ok(IcapResponse { status, headers })
}

fn parse_status_line(line: &str) -> Result<u16, String> {
    let bad = || format!("bad status line {line:?}");
    let rest = line.strip_prefix("ICAP/1.0 ").ok_or_else(bad)?;
    let (code, reason) = rest.split_at_checked(3).ok_or_else(bad)?;
    if !code.bytes().all(|b| b.is_ascii_digit()) || !(reason.is_empty() || reason.starts_with(' '))
    {
        return Err(bad());
    }
    if line.chars().any(char::is_control) {
        return Err(bad());
    }
    code.parse().map_err(|_| bad())
}

/// Name reported for a 200 answer without a threat name: the service changed the
/// request, which a pure scanner only does to block it.
pub const MODIFIED_BY_ICAP: &str = "modified-by-icap";

/// The threat named in a 200 answer: `X-Infection-Found: ...; Threat=NAME;` first, then the
/// second line of `X-Violations-Found` (count, then filename/threat/resolution/id groups).
pub(crate) fn threat_name(response: &IcapResponse) -> String {
    let from_infection = response.header("X-Infection-Found").and_then(|v| {
        v.split(';')
            .find_map(|part| part.trim().strip_prefix("Threat="))
            .map(str::trim)
            .filter(|name| !name.is_empty())
    });
    let from_violations = || {
        response
            .header("X-Violations-Found")
            .and_then(|v| v.split('\n').nth(2))
            .map(str::trim)
            .filter(|name| !name.is_empty())
    };
    from_infection
        .or_else(from_violations)
        .unwrap_or(MODIFIED_BY_ICAP)
        .chars()
        .take(256)
        .collect()
}

#[cfg(test)]
mod tests;

//! CR/LF injection: a line break followed by a header line or a status line, as in
//! response splitting and request header injection. `any_header` also accepts any
//! `Name:` line (higher paranoia: multi-line text such as "Note: ..." would match).

use std::ops::Range;

/// Header names whose injection changes what a client or server does.
const HEADERS: &[&str] = &[
    "set-cookie",
    "location",
    "content-type",
    "content-length",
    "transfer-encoding",
    "host",
    "cookie",
    "refresh",
    "connection",
    "authorization",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-real-ip",
    "forwarded",
    "true-client-ip",
    "remote-addr",
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "content-security-policy",
    "x-xss-protection",
    "content-disposition",
    "cache-control",
    "upgrade",
    "status",
    "x-original-url",
    "x-rewrite-url",
    "proxy-authorization",
    "expect",
    "bcc",
    "cc",
    "to",
    "from",
    "subject",
    "reply-to",
    "x-mailer",
    "mime-version",
    "content-transfer-encoding",
    "user-agent",
    "referer",
    "server",
    "x-powered-by",
    "link",
    "x-frame-options",
];

/// Line ends of Unicode text: Python's `splitlines()` (its e-mail headers) and JS break
/// lines at them too, so `Team\u{85}Reply-To: x` adds a header there.
const UNICODE_BREAKS: [char; 3] = ['\u{85}', '\u{2028}', '\u{2029}'];

/// Detects a line break followed by a header or status line.
pub(crate) fn detect(text: &str, any_header: bool) -> Option<Range<usize>> {
    if !text.is_ascii() && text.contains(UNICODE_BREAKS) {
        // Spans then index the mapped copy: report the fragment from the start.
        let mapped = text.replace(UNICODE_BREAKS, "\n");
        return scan(&mapped, any_header).map(|r| 0..r.end.min(text.len()));
    }
    scan(text, any_header)
}

fn scan(text: &str, any_header: bool) -> Option<Range<usize>> {
    let s = text.as_bytes();
    let mut from = 0;
    while let Some(off) = memchr::memchr2(b'\n', b'\r', &s[from..]) {
        let at = from + off;
        let mut i = at;
        while i < s.len() && matches!(s[i], b'\r' | b'\n') {
            i += 1;
        }
        from = i;
        let rest = &s[i..];
        let name_len = rest
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            .count();
        if rest.len() >= 6 && rest[..5].eq_ignore_ascii_case(b"http/") && rest[5].is_ascii_digit() {
            return Some(at..(i + 12).min(s.len()));
        }
        if name_len == 0 {
            continue;
        }
        let mut j = i + name_len;
        while j < s.len() && matches!(s[j], b' ' | b'\t') {
            j += 1;
        }
        if s.get(j) != Some(&b':') {
            continue;
        }
        // `\r\nLocation:\r\n`: a header with no value sets nothing.
        let mut v = j + 1;
        while v < s.len() && matches!(s[v], b' ' | b'\t') {
            v += 1;
        }
        if s.get(v).is_none_or(|b| matches!(b, b'\r' | b'\n')) {
            continue;
        }
        let name = &rest[..name_len];
        // `X-` names are what injections probe with (`X-Injected: 1`); prose lines rarely
        // open so.
        let known = HEADERS
            .iter()
            .any(|h| h.as_bytes().eq_ignore_ascii_case(name))
            || (name_len > 2 && name[..2].eq_ignore_ascii_case(b"x-"));
        if known || (any_header && name_len >= 2) {
            return Some(at..(j + 24).min(s.len()));
        }
    }
    None
}

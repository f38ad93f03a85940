//! Judging one complete request head.

use std::mem::MaybeUninit;

use memchr::{memchr_iter, memmem};

use super::{FramingViolation, H1Limits};

/// How the body after a clean head is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body.
    None,
    /// Exactly this many bytes (non-zero).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Largest header array the guard parses into; configs are validated against it.
pub(crate) const HEADER_CAP: usize = 256;

/// Empty lines accepted before a request line. RFC 9112 §2.2 asks for at least one;
/// the cap keeps the look-back constant per read (no quadratic rescans).
pub(super) const MAX_EMPTY_LINES: usize = 4;

/// Length of the run of CRLF pairs at the start of `buf`, counting at most one pair
/// more than [`MAX_EMPTY_LINES`].
pub(super) fn leading_empty_lines(buf: &[u8]) -> usize {
    let mut n = 0;
    while n <= 2 * MAX_EMPTY_LINES && buf.get(n..n + 2) == Some(b"\r\n") {
        n += 2;
    }
    n
}

/// Checks an incomplete head: bare LFs (from `from` on) and its size so far.
pub(super) fn scan_partial(buf: &[u8], from: usize, max: usize) -> Option<FramingViolation> {
    if buf.len() > max {
        return Some(FramingViolation::HeadTooLarge);
    }
    has_bare_lf(buf, from).then_some(FramingViolation::BareLineFeed)
}

fn has_bare_lf(buf: &[u8], from: usize) -> bool {
    let Some(tail) = buf.get(from..) else {
        return false;
    };
    memchr_iter(b'\n', tail).any(|i| {
        let at = from + i;
        at == 0 || buf[at - 1] != b'\r'
    })
}

/// Judges a complete head (ending with its blank line) and returns its body framing.
pub(super) fn judge(head: &[u8], limits: &H1Limits) -> Result<Framing, FramingViolation> {
    use FramingViolation::*;
    if head.len() > limits.max_head_bytes() {
        return Err(HeadTooLarge);
    }
    if leading_empty_lines(head) > 2 * MAX_EMPTY_LINES {
        return Err(MalformedHead);
    }
    if has_bare_lf(head, 0) {
        return Err(BareLineFeed);
    }
    // httparse refuses obs-fold too, but naming it helps the audit trail.
    if memmem::find(head, b"\r\n ").is_some() || memmem::find(head, b"\r\n\t").is_some() {
        return Err(ObsFold);
    }
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; HEADER_CAP];
    let slots = &mut slots[..limits.max_headers().min(HEADER_CAP)];
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(head, slots) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        Ok(_) => return Err(MalformedHead),
        Err(httparse::Error::TooManyHeaders) => return Err(TooManyHeaders),
        Err(_) => return Err(MalformedHead),
    }
    let http10 = match req.version {
        Some(0) => true,
        Some(1) => false,
        _ => return Err(MalformedHead),
    };
    let (mut lengths, mut codings, mut hosts) = (0usize, 0usize, 0usize);
    let mut length = None;
    let mut chunked_only = true;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            lengths += 1;
            length = parse_length(h.value);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            codings += 1;
            chunked_only &= trim(h.value).eq_ignore_ascii_case(b"chunked");
        } else if h.name.eq_ignore_ascii_case("host") {
            hosts += 1;
        }
    }
    if lengths > 1 {
        return Err(DuplicateContentLength);
    }
    if lengths == 1 && codings > 0 {
        return Err(LengthAndTransferEncoding);
    }
    if codings > 0 && http10 {
        return Err(TransferEncodingInHttp10);
    }
    if codings > 1 || !chunked_only {
        return Err(UnsupportedTransferEncoding);
    }
    if hosts > 1 {
        return Err(DuplicateHost);
    }
    if hosts == 0 && !http10 {
        return Err(MissingHost);
    }
    match (lengths, codings) {
        (1, _) => match length {
            Some(0) => Ok(Framing::None),
            Some(n) => Ok(Framing::Length(n)),
            None => Err(InvalidContentLength),
        },
        (_, 1) => Ok(Framing::Chunked),
        _ => Ok(Framing::None),
    }
}

/// `1*DIGIT`, nothing else (no sign, no list, no inner space); `None` otherwise.
fn parse_length(value: &[u8]) -> Option<u64> {
    let digits = trim(value);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

fn trim(value: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &value[start..end]
}

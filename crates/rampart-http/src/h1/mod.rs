//! HTTP/1 framing guard: a byte-level state machine that follows request boundaries
//! itself and refuses every framing shape hyper would silently normalise (REFERENCE §1).
//!
//! Feed it the client's bytes in order ([`H1Guard::feed`]); it reports one
//! [`HeadVerdict`] per request head, in request order, and a fatal [`BodyFault`] when a
//! chunked body is malformed. It is only ever stricter than hyper: anything it cannot
//! parse is a violation. After any violation it stops parsing; the edge closes the
//! connection after answering.
//!
//! One rewrite: bytes of a request target hyper would refuse with a bare 400 although
//! they are harmless escaped (`<`, `"`, `{`, non-ASCII...) are percent-encoded, so the
//! edge's own checks judge them. The guard judges the rewritten head, and the caller
//! must hand on [`H1Guard::take_rewritten`] instead of the bytes fed when it is `Some`.

mod chunked;
mod config;
mod head;
mod target;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use memchr::memmem;

use chunked::Chunked;
pub use config::{H1Config, H1Limits};
use target::TargetRewriter;

/// Which framing rule a request broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FramingViolation {
    /// More than one Content-Length header, even with identical values.
    DuplicateContentLength,
    /// A Content-Length that is not a plain decimal number.
    InvalidContentLength,
    /// Content-Length and Transfer-Encoding together.
    LengthAndTransferEncoding,
    /// A Transfer-Encoding other than exactly one `chunked`.
    UnsupportedTransferEncoding,
    /// Transfer-Encoding on an HTTP/1.0 request (RFC 9112 §6.1).
    TransferEncodingInHttp10,
    /// No Host header on an HTTP/1.1 request (RFC 9112 §3.2).
    MissingHost,
    /// More than one Host header.
    DuplicateHost,
    /// A header line continued on the next line (obs-fold, RFC 9112 §5.2).
    ObsFold,
    /// A line ended by LF without CR, in a head or a chunked body.
    BareLineFeed,
    /// The head is longer than the configured limit.
    HeadTooLarge,
    /// More header fields than the configured limit.
    TooManyHeaders,
    /// A head the guard could not parse (hyper might have): refused, never guessed.
    MalformedHead,
    /// A chunk line or the chunk extensions of a body exceed their caps.
    ChunkExtensionTooLong,
    /// A chunk extension holds control characters.
    InvalidChunkExtension,
    /// A chunk size that is missing, not hexadecimal or too large.
    InvalidChunkSize,
    /// CRLF missing after a chunk line or chunk data.
    InvalidChunkFraming,
    /// The trailer section exceeds its cap.
    TrailerTooLarge,
    /// A trailer line that is not a header field.
    InvalidTrailer,
    /// More pipelined requests waiting than allowed (reported by the adapter).
    PipelineTooDeep,
    /// Non-ASCII bytes of the request target that are not valid UTF-8.
    InvalidTargetUtf8,
}

impl FramingViolation {
    /// Stable rule id for logs and audit records.
    pub fn rule(self) -> &'static str {
        match self {
            Self::DuplicateContentLength => "duplicate-content-length",
            Self::InvalidContentLength => "invalid-content-length",
            Self::LengthAndTransferEncoding => "content-length-with-transfer-encoding",
            Self::UnsupportedTransferEncoding => "unsupported-transfer-encoding",
            Self::TransferEncodingInHttp10 => "transfer-encoding-in-http10",
            Self::MissingHost => "missing-host",
            Self::DuplicateHost => "duplicate-host",
            Self::ObsFold => "obs-fold",
            Self::BareLineFeed => "bare-line-feed",
            Self::HeadTooLarge => "head-too-large",
            Self::TooManyHeaders => "too-many-headers",
            Self::MalformedHead => "malformed-head",
            Self::ChunkExtensionTooLong => "chunk-extension-too-long",
            Self::InvalidChunkExtension => "invalid-chunk-extension",
            Self::InvalidChunkSize => "invalid-chunk-size",
            Self::InvalidChunkFraming => "invalid-chunk-framing",
            Self::TrailerTooLarge => "trailer-too-large",
            Self::InvalidTrailer => "invalid-trailer",
            Self::PipelineTooDeep => "pipeline-too-deep",
            Self::InvalidTargetUtf8 => "invalid-target-utf8",
        }
    }
}

impl std::fmt::Display for FramingViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.rule())
    }
}

/// The guard's judgement of one request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadVerdict {
    /// The head's framing is unambiguous.
    Clean,
    /// The head broke a framing rule; refuse the request and close the connection.
    Violation(FramingViolation),
}

/// A fatal violation inside a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyFault {
    /// What was wrong.
    pub violation: FramingViolation,
    /// How many bytes of the fed slice (of the rewritten bytes, when the guard rewrote
    /// them) precede the offending byte; only those may be handed on.
    pub offset: usize,
}

/// Where the guard is in the request stream.
#[derive(Debug)]
enum State {
    /// Between requests or inside a head.
    Head,
    /// Inside a Content-Length body with this many bytes left.
    Length(u64),
    /// Inside a chunked body.
    Chunked(Chunked),
    /// A violation was seen; nothing more is parsed.
    Stopped,
}

/// The HTTP/1 framing guard for one connection. No I/O; see the module docs.
#[derive(Debug)]
pub struct H1Guard {
    limits: H1Limits,
    state: State,
    /// Bytes of a head split across feeds, at most `max_head_bytes + 1`.
    partial: Vec<u8>,
    verdicts: VecDeque<HeadVerdict>,
    end_of_head: memmem::Finder<'static>,
    /// Rewrites the request line of the head being read.
    target: TargetRewriter,
    /// What to hand on instead of the last fed bytes, if a target was rewritten.
    rewritten: Option<Vec<u8>>,
}

impl H1Guard {
    /// A guard at the start of a connection.
    pub fn new(limits: H1Limits) -> Self {
        Self {
            limits,
            state: State::Head,
            partial: Vec::new(),
            verdicts: VecDeque::new(),
            end_of_head: memmem::Finder::new(b"\r\n\r\n"),
            target: TargetRewriter::default(),
            rewritten: None,
        }
    }

    /// Feeds the next bytes the client sent. Head verdicts become available through
    /// [`next_verdict`](Self::next_verdict) as soon as a head's last byte was fed. A body
    /// violation is fatal and returned; bytes fed after any violation are ignored.
    /// Afterwards, [`take_rewritten`](Self::take_rewritten) says what to hand on.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), BodyFault> {
        let mut out = None;
        // Bytes of `data` already copied (or rewritten) into `out`.
        let mut copied = 0;
        let result = self.feed_inner(data, &mut out, &mut copied);
        self.rewritten = out.map(|mut out: Vec<u8>| {
            out.extend_from_slice(&data[copied..]);
            out
        });
        result
    }

    /// The bytes to hand on instead of those last fed, when a request target in them
    /// was rewritten; `None` means hand them on unchanged. Head sizes are judged on the
    /// rewritten bytes, so the limit is never laxer than on what the client sent.
    pub fn take_rewritten(&mut self) -> Option<Vec<u8>> {
        self.rewritten.take()
    }

    fn feed_inner(
        &mut self,
        data: &[u8],
        out: &mut Option<Vec<u8>>,
        copied: &mut usize,
    ) -> Result<(), BodyFault> {
        let mut pos = 0;
        while pos < data.len() {
            match &mut self.state {
                State::Stopped => return Ok(()),
                State::Head => match self.target.rewrite(&data[pos..]) {
                    None => pos += self.feed_head(&data[pos..]),
                    Some((len, line)) => {
                        let out = out.get_or_insert_with(|| Vec::with_capacity(data.len() + 64));
                        out.extend_from_slice(&data[*copied..pos]);
                        out.extend_from_slice(&line);
                        pos += len;
                        *copied = pos;
                        // A request line never ends a head; fail closed if it did.
                        if self.feed_head(&line) != line.len() && !self.is_stopped() {
                            self.stop(FramingViolation::MalformedHead);
                        }
                    }
                },
                State::Length(left) => {
                    let take = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(data.len() - pos);
                    *left -= take as u64;
                    pos += take;
                    if *left == 0 {
                        self.state = State::Head;
                    }
                }
                State::Chunked(chunked) => match chunked.feed(&data[pos..], &self.limits) {
                    Ok((used, done)) => {
                        pos += used;
                        if done {
                            self.state = State::Head;
                        }
                    }
                    Err((used, violation)) => {
                        self.state = State::Stopped;
                        let at = pos + used;
                        // In the coordinates of what is handed on.
                        let offset = match out {
                            Some(out) => out.len() + (at - *copied),
                            None => at,
                        };
                        return Err(BodyFault { violation, offset });
                    }
                },
            }
        }
        Ok(())
    }

    /// The verdict of the oldest head not yet taken, in request order.
    pub fn next_verdict(&mut self) -> Option<HeadVerdict> {
        self.verdicts.pop_front()
    }

    /// Whether verdicts are waiting to be taken.
    pub fn has_verdicts(&self) -> bool {
        !self.verdicts.is_empty()
    }

    /// The limits this guard enforces.
    pub fn limits(&self) -> &H1Limits {
        &self.limits
    }

    /// Whether a violation stopped the guard.
    pub fn is_stopped(&self) -> bool {
        matches!(self.state, State::Stopped)
    }

    /// Consumes head bytes from `data`; returns how many were used.
    fn feed_head(&mut self, data: &[u8]) -> usize {
        let max = self.limits.max_head_bytes();
        if head::leading_empty_lines(if self.partial.is_empty() {
            data
        } else {
            &self.partial
        }) > 2 * head::MAX_EMPTY_LINES
        {
            self.stop(FramingViolation::MalformedHead);
            return data.len();
        }
        if self.partial.is_empty() {
            // Fast path: a whole head in one read is parsed in place, without copying.
            if let Some(end) = self.find_end(data, 0) {
                self.judge(&data[..end]);
                return end;
            }
            if let Some(v) = head::scan_partial(data, 0, max) {
                self.stop(v);
                return data.len();
            }
            self.partial.extend_from_slice(data);
            return data.len();
        }
        let old = self.partial.len();
        let take = data.len().min((max + 1).saturating_sub(old));
        self.partial.extend_from_slice(&data[..take]);
        // Empty lines may continue from the last read: count them on everything buffered,
        // or the verdict would depend on where the reads split them.
        if head::leading_empty_lines(&self.partial) > 2 * head::MAX_EMPTY_LINES {
            self.stop(FramingViolation::MalformedHead);
            return data.len();
        }
        // A terminator or bare LF may straddle the two reads: look back three bytes.
        let from = old.saturating_sub(3);
        if let Some(end) = self.find_end(&self.partial, from) {
            let head = std::mem::take(&mut self.partial);
            self.judge(&head[..end]);
            self.partial = head;
            self.partial.clear();
            return end - old;
        }
        if let Some(v) = head::scan_partial(&self.partial, from, max) {
            self.stop(v);
        }
        take
    }

    /// End of the head (after its blank line), skipping the empty lines RFC 9112 §2.2
    /// allows before a request line.
    fn find_end(&self, buf: &[u8], from: usize) -> Option<usize> {
        let lead = head::leading_empty_lines(buf);
        let start = from.max(lead);
        self.end_of_head
            .find(buf.get(start..)?)
            .map(|i| start + i + 4)
    }

    fn judge(&mut self, head: &[u8]) {
        if self.target.invalid_utf8() {
            self.stop(FramingViolation::InvalidTargetUtf8);
            return;
        }
        self.target = TargetRewriter::default();
        match head::judge(head, &self.limits) {
            Ok(next) => {
                self.verdicts.push_back(HeadVerdict::Clean);
                self.state = match next {
                    head::Framing::None => State::Head,
                    head::Framing::Length(n) => State::Length(n),
                    head::Framing::Chunked => State::Chunked(Chunked::default()),
                };
            }
            Err(v) => self.stop(v),
        }
    }

    fn stop(&mut self, violation: FramingViolation) {
        self.verdicts.push_back(HeadVerdict::Violation(violation));
        self.state = State::Stopped;
        self.partial = Vec::new();
        self.target = TargetRewriter::default();
    }
}

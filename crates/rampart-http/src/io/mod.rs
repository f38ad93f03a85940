//! [`GuardedIo`]: the tokio adapter that feeds every byte a client sends through the
//! HTTP/1 or HTTP/2 guard before hyper reads it, and the [`Ledger`] that hands the
//! guard's decisions to the request handler.
//!
//! HTTP/1: a head's verdict is recorded before hyper receives the head's last byte, so
//! it is in the ledger when the handler runs. A fatal body violation lets the bytes
//! before it through and fails the following read with an [`io::Error`] (hyper then
//! fails the request body; the edge must answer 400 and never forward a partial body).
//! HTTP/2: a violation fails the read at once and hyper drops the connection.
//! The violation is recorded in the ledger either way, for the audit trail.
//! HTTP/1 request targets the guard rewrote (percent-encoding bytes hyper refuses) are
//! handed on rewritten; what does not fit the caller's buffer is handed on next read.

mod ledger;
#[cfg(test)]
mod tests;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::h1::{FramingViolation, H1Guard, H1Limits};
use crate::h2::{H2Guard, H2Limits, PREFACE};
pub use ledger::{Ledger, Protocol, Violation};

/// Limits for a connection whose protocol is detected from its first bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardLimits {
    /// Used when the connection speaks HTTP/1.
    pub h1: H1Limits,
    /// Used when the connection starts with the HTTP/2 preface.
    pub h2: H2Limits,
}

#[derive(Debug)]
enum Mode {
    /// This many bytes of the HTTP/2 preface were seen so far.
    Detect {
        matched: usize,
        limits: GuardLimits,
    },
    H1(Box<H1Guard>),
    H2(Box<H2Guard>),
}

pin_project! {
    /// A connection whose client bytes pass through a framing guard. Use
    /// [`http1`](Self::http1) or [`http2`](Self::http2) when TLS ALPN chose the
    /// protocol, [`detect`](Self::detect) for plaintext (or TLS without ALPN), where
    /// hyper-util's auto builder may see HTTP/2 with prior knowledge.
    #[derive(Debug)]
    pub struct GuardedIo<IO> {
        #[pin]
        io: IO,
        mode: Mode,
        ledger: Ledger,
        // A body violation found after bytes that were let through; fails the next read.
        pending: Option<Violation>,
        // Rewritten bytes that did not fit the reader's buffer, handed on first.
        spill: Spill,
    }
}

impl<IO> GuardedIo<IO> {
    /// Guards an HTTP/1 connection.
    pub fn http1(io: IO, limits: H1Limits) -> Self {
        let ledger = Ledger::default();
        ledger.set_protocol(Protocol::Http1);
        Self::with(io, Mode::H1(Box::new(H1Guard::new(limits))), ledger)
    }

    /// Guards an HTTP/2 connection (the client preface is expected first).
    pub fn http2(io: IO, limits: H2Limits) -> Self {
        let ledger = Ledger::default();
        ledger.set_protocol(Protocol::Http2);
        Self::with(io, Mode::H2(Box::new(H2Guard::new(limits))), ledger)
    }

    /// Guards a connection that is HTTP/2 if it starts with the preface, else HTTP/1.
    pub fn detect(io: IO, limits: GuardLimits) -> Self {
        Self::with(io, Mode::Detect { matched: 0, limits }, Ledger::default())
    }

    fn with(io: IO, mode: Mode, ledger: Ledger) -> Self {
        Self {
            io,
            mode,
            ledger,
            pending: None,
            spill: Spill::default(),
        }
    }

    /// A handle on this connection's guard decisions; clone it into the handler.
    pub fn ledger(&self) -> Ledger {
        self.ledger.clone()
    }

    /// The wrapped connection.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    /// The wrapped connection, unwrapped.
    pub fn into_inner(self) -> IO {
        self.io
    }
}

/// Bytes waiting to be handed on, at most what one read grew to by rewriting.
#[derive(Debug, Default)]
struct Spill {
    bytes: Vec<u8>,
    taken: usize,
}

impl Spill {
    /// Hands on as much as fits; `false` if nothing was waiting.
    fn drain(&mut self, buf: &mut ReadBuf<'_>) -> bool {
        if self.taken >= self.bytes.len() {
            return false;
        }
        let n = buf.remaining().min(self.bytes.len() - self.taken);
        buf.put_slice(&self.bytes[self.taken..self.taken + n]);
        self.taken += n;
        if self.taken == self.bytes.len() {
            *self = Self::default();
        }
        true
    }
}

fn io_error(v: Violation) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, v)
}

impl Mode {
    /// Runs the guard over freshly read bytes, setting `rewritten` when other bytes must
    /// be handed on instead. On a violation, returns how many of them (of the rewritten
    /// ones, if any) may still be handed on.
    fn inspect(
        &mut self,
        ledger: &Ledger,
        data: &[u8],
        rewritten: &mut Option<Vec<u8>>,
    ) -> Result<(), (usize, Violation)> {
        if let Mode::Detect { matched, limits } = self {
            let take = (PREFACE.len() - *matched).min(data.len());
            let same = data[..take] == PREFACE[*matched..*matched + take];
            if same && *matched + take < PREFACE.len() {
                *matched += take;
                return Ok(());
            }
            // What was let through so far is a preface prefix: replay it to the guard.
            let (seen, limits) = (*matched, *limits);
            if same {
                ledger.set_protocol(Protocol::Http2);
                *self = Mode::H2(Box::new(H2Guard::new(limits.h2)));
            } else {
                ledger.set_protocol(Protocol::Http1);
                *self = Mode::H1(Box::new(H1Guard::new(limits.h1)));
            }
            // A preface prefix holds nothing to rewrite (and it was handed on already).
            if let Err((_, v)) = self.inspect(ledger, &PREFACE[..seen], &mut None) {
                return Err((0, v));
            }
        }
        match self {
            Mode::Detect { .. } => Ok(()),
            Mode::H1(guard) => {
                let fed = guard.feed(data);
                *rewritten = guard.take_rewritten();
                // Most reads complete no head: skip the lock then.
                if guard.has_verdicts() {
                    let waiting = ledger.push_heads(std::iter::from_fn(|| guard.next_verdict()));
                    if fed.is_ok() && waiting > guard.limits().max_pipelined() {
                        return Err((0, Violation::Http1(FramingViolation::PipelineTooDeep)));
                    }
                }
                fed.map_err(|fault| (fault.offset, Violation::Http1(fault.violation)))
            }
            Mode::H2(guard) => {
                let now = tokio::time::Instant::now().into_std();
                guard.feed(data, now).map_err(|v| (0, Violation::Http2(v)))
            }
        }
    }
}

impl<IO: AsyncRead> AsyncRead for GuardedIo<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        if this.spill.drain(buf) {
            return Poll::Ready(Ok(()));
        }
        if let Some(v) = *this.pending {
            return Poll::Ready(Err(io_error(v)));
        }
        let before = buf.filled().len();
        ready!(this.io.poll_read(cx, buf))?;
        let mut rewritten = None;
        let inspected = this
            .mode
            .inspect(this.ledger, &buf.filled()[before..], &mut rewritten);
        if let Some(mut bytes) = rewritten {
            if let Err((keep, _)) = inspected {
                bytes.truncate(keep);
            }
            buf.set_filled(before);
            let fit = buf.remaining().min(bytes.len());
            buf.put_slice(&bytes[..fit]);
            *this.spill = Spill { bytes, taken: fit };
            if fit == this.spill.bytes.len() {
                *this.spill = Spill::default();
            }
        }
        let Err((keep, v)) = inspected else {
            return Poll::Ready(Ok(()));
        };
        tracing::debug!(rule = v.rule(), "client connection violates framing");
        this.ledger.record_fault(v);
        // The rewritten bytes, if any, were already cut at `keep`.
        buf.set_filled(before + keep.min(buf.filled().len() - before));
        if keep == 0 {
            return Poll::Ready(Err(io_error(v)));
        }
        *this.pending = Some(v);
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite> AsyncWrite for GuardedIo<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let n = ready!(this.io.poll_write(cx, buf))?;
        if let Mode::H2(guard) = this.mode {
            guard.on_sent(n);
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let n = ready!(this.io.poll_write_vectored(cx, bufs))?;
        if let Mode::H2(guard) = this.mode {
            guard.on_sent(n);
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}

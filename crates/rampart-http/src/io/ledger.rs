//! The ledger: what the guard decided, for the request handler to read.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::h1::{FramingViolation, HeadVerdict};
use crate::h2::H2Violation;

/// Which protocol the guard follows on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.0 or HTTP/1.1.
    Http1,
    /// HTTP/2.
    Http2,
}

/// A fatal violation that ended the connection's byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// HTTP/1 body framing (or pipelining depth).
    Http1(FramingViolation),
    /// HTTP/2 frame stream.
    Http2(H2Violation),
}

impl Violation {
    /// Stable rule id for logs and audit records.
    pub fn rule(self) -> &'static str {
        match self {
            Self::Http1(v) => v.rule(),
            Self::Http2(v) => v.rule(),
        }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.rule())
    }
}

impl std::error::Error for Violation {}

#[derive(Debug, Default)]
struct State {
    heads: VecDeque<HeadVerdict>,
    fault: Option<Violation>,
    protocol: Option<Protocol>,
}

/// A cloneable handle on one connection's guard decisions, shared between the
/// [`GuardedIo`](super::GuardedIo) and the request handler.
///
/// Assumption: hyper's HTTP/1 server handles the requests of a connection strictly one
/// after another, in the order they arrived, and calls the handler once per request
/// head it accepts. So the k-th call of [`next_head`](Self::next_head) on a connection
/// returns the verdict of the k-th request head. A head hyper refuses on its own
/// (answering 400/431 itself) ends the connection, so no later request can be misaligned.
/// The guard assumes no protocol upgrade: the edge never answers 101 or 2xx to CONNECT.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    inner: Arc<Mutex<State>>,
}

impl Ledger {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing that holds this lock can panic half-way; keep going after a poison.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The verdict of the next HTTP/1 request head, in request order. `None` means the
    /// guard recorded no verdict for it (not an HTTP/1 connection, or the guard stopped
    /// after an earlier violation): treat it as a violation.
    pub fn next_head(&self) -> Option<HeadVerdict> {
        self.lock().heads.pop_front()
    }

    /// The fatal violation that ended the connection's byte stream, if any.
    pub fn fault(&self) -> Option<Violation> {
        self.lock().fault
    }

    /// The protocol the guard follows, once known.
    pub fn protocol(&self) -> Option<Protocol> {
        self.lock().protocol
    }

    pub(super) fn set_protocol(&self, protocol: Protocol) {
        self.lock().protocol = Some(protocol);
    }

    /// Appends verdicts; returns how many are waiting.
    pub(super) fn push_heads(&self, verdicts: impl Iterator<Item = HeadVerdict>) -> usize {
        let mut state = self.lock();
        state.heads.extend(verdicts);
        state.heads.len()
    }

    pub(super) fn record_fault(&self, fault: Violation) {
        self.lock().fault.get_or_insert(fault);
    }
}

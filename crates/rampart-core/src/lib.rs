//! Rampart's core: the vocabulary every check and both tiers share.
//!
//! What it holds: the typed request phases ([`phase`]), the [`check::Check`] trait and its
//! [`check::Verdict`], the ordered [`pipeline::Pipeline`] with per-check fail modes, the
//! stable denial reasons and their RFC 9457 problem responses ([`problem`]), header
//! hygiene shared by the tiers ([`headers`]), request ids and trace context ([`id`]),
//! human units for configuration ([`units`]), config problem reporting ([`config`]) and
//! bounded body reading ([`body`]) and host/path routing ([`routing`]).
//!
//! What it does not do: no sockets, no TLS, no async runtime. Everything here is
//! deterministic and testable without I/O.

pub mod body;
pub mod check;
pub mod config;
pub mod headers;
pub mod id;
pub mod phase;
pub mod pipeline;
pub mod problem;
pub mod routing;
pub mod units;

/// An error and its sources as one line (`outer: inner: root`), for logs: hyper and
/// rustls errors say little at the top level.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

pub use check::{Check, CheckError, Denial, Verdict};
pub use problem::Reason;

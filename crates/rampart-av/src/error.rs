//! [`ScanError`]: an engine could not decide. The caller applies its fail mode (closed by
//! default); a scan error is never a clean verdict.

use std::io;
use std::time::Duration;

use crate::verdict::Engine;

/// Why a scan produced no verdict.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// The engine could not be reached.
    #[error("{engine}: cannot connect: {source}")]
    Connect {
        /// The engine.
        engine: Engine,
        /// The connect error.
        source: io::Error,
    },
    /// The engine did not finish within its deadline (connect, queue or exchange).
    #[error("{engine}: no answer within {after:?}")]
    Timeout {
        /// The engine.
        engine: Engine,
        /// The deadline that passed.
        after: Duration,
    },
    /// The connection failed mid-exchange.
    #[error("{engine}: i/o error: {source}")]
    Io {
        /// The engine.
        engine: Engine,
        /// The I/O error.
        source: io::Error,
    },
    /// The engine's reply could not be understood.
    #[error("{engine}: malformed reply: {detail}")]
    Protocol {
        /// The engine.
        engine: Engine,
        /// What was wrong.
        detail: String,
    },
    /// The ICAP server answered with a status that is neither 204 nor 200 (e.g. 500 when
    /// its clamd is down).
    #[error("{engine}: ICAP status {status}")]
    Status {
        /// The engine.
        engine: Engine,
        /// The ICAP status code.
        status: u16,
    },
    /// The ICAP service cannot give a trustworthy clean answer (no REQMOD, no `Allow: 204`).
    #[error("{engine}: unusable service: {detail}")]
    Unusable {
        /// The engine.
        engine: Engine,
        /// Why.
        detail: String,
    },
    /// Hashing the body for the verdict cache failed (a panicked blocking task).
    #[error("hashing the body failed: {0}")]
    Hash(String),
}

impl ScanError {
    /// The engine concerned, if any.
    pub fn engine(&self) -> Option<Engine> {
        match self {
            Self::Connect { engine, .. }
            | Self::Timeout { engine, .. }
            | Self::Io { engine, .. }
            | Self::Protocol { engine, .. }
            | Self::Status { engine, .. }
            | Self::Unusable { engine, .. } => Some(*engine),
            Self::Hash(_) => None,
        }
    }

    pub(crate) fn protocol(engine: Engine, detail: impl Into<String>) -> Self {
        Self::Protocol {
            engine,
            detail: detail.into(),
        }
    }
}

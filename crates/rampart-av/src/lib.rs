//! Rampart's antivirus clients, for the inner tier's body inspection.
//!
//! What it does: scans a body with clamd (INSTREAM over TCP or a unix socket) and/or an
//! ICAP (RFC 3507) service such as c-icap's `virus_scan`, concurrently, under deadlines and
//! concurrency bounds; caches clean and infected verdicts by SHA-256 of the body; keeps
//! counters for export; checks engine health ([`Scanner`], built from the `[antivirus]`
//! section, see [`config`]). Only an explicit clean answer from every configured engine is
//! [`Verdict::Clean`]; an answer that blocks is a [`Verdict`], and a failure to get one is a
//! [`ScanError`] for the caller's fail mode.
//!
//! What it does not do: no HTTP parsing or decompression of request bodies (the caller
//! hands over the bytes the backend would see), no fail-mode policy, no signature
//! management (clamd and c-icap are run and updated outside Rampart, see
//! `deploy/antivirus/README.md`), no metrics exporter.

pub mod cache;
pub mod clamd;
pub mod config;
mod error;
pub mod icap;
pub mod metrics;
pub mod prometheus;
mod scanner;
mod verdict;

pub use clamd::{ClamdAddress, ClamdClient};
pub use config::{AvConfig, CacheConfig, ClamdConfig, IcapConfig, RawAntivirus};
pub use error::ScanError;
pub use icap::{IcapClient, IcapUrl};
pub use metrics::{AvMetrics, MetricsSnapshot};
pub use scanner::{Health, Scanner};
pub use verdict::{Engine, EngineVerdict, Verdict};

//! Limits of the HTTP/1 guard: raw config and its validated form.

use serde::Deserialize;

use super::head::HEADER_CAP;
use crate::config::{ConfigError, Problems};

/// HTTP/1 guard settings as written in a config file (all keys optional).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct H1Config {
    /// Longest request head, request line included (bytes). Keep it at or below the
    /// server's own head limit so the guard judges every head hyper accepts.
    pub max_head_bytes: usize,
    /// Most header fields in one head.
    pub max_headers: usize,
    /// Longest chunk-size line, extensions included (bytes).
    pub max_chunk_line_bytes: usize,
    /// Total chunk-extension bytes allowed in one body.
    pub max_chunk_extensions_bytes: usize,
    /// Largest trailer section of a chunked body (bytes).
    pub max_trailer_bytes: usize,
    /// Most request heads judged but not yet taken from the ledger (pipelining depth).
    pub max_pipelined: usize,
}

impl Default for H1Config {
    fn default() -> Self {
        // Envoy's edge floor (REFERENCE §2): 60 KiB / 100 headers.
        Self {
            max_head_bytes: 60 * 1024,
            max_headers: 100,
            max_chunk_line_bytes: 256,
            max_chunk_extensions_bytes: 4 * 1024,
            max_trailer_bytes: 4 * 1024,
            max_pipelined: 64,
        }
    }
}

/// Validated HTTP/1 guard limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H1Limits {
    max_head_bytes: usize,
    max_headers: usize,
    max_chunk_line_bytes: usize,
    max_chunk_extensions_bytes: usize,
    max_trailer_bytes: usize,
    max_pipelined: usize,
}

impl Default for H1Limits {
    fn default() -> Self {
        let c = H1Config::default();
        Self {
            max_head_bytes: c.max_head_bytes,
            max_headers: c.max_headers,
            max_chunk_line_bytes: c.max_chunk_line_bytes,
            max_chunk_extensions_bytes: c.max_chunk_extensions_bytes,
            max_trailer_bytes: c.max_trailer_bytes,
            max_pipelined: c.max_pipelined,
        }
    }
}

impl TryFrom<H1Config> for H1Limits {
    type Error = ConfigError;

    fn try_from(c: H1Config) -> Result<Self, ConfigError> {
        const MIB: usize = 1024 * 1024;
        let mut p = Problems::default();
        p.check(
            (1024..=MIB).contains(&c.max_head_bytes),
            "max_head_bytes",
            "must be between 1024 and 1048576",
        );
        p.check(
            (1..=HEADER_CAP).contains(&c.max_headers),
            "max_headers",
            format!("must be between 1 and {HEADER_CAP}"),
        );
        p.check(
            (8..=4096).contains(&c.max_chunk_line_bytes),
            "max_chunk_line_bytes",
            "must be between 8 and 4096",
        );
        p.check(
            c.max_chunk_extensions_bytes <= MIB,
            "max_chunk_extensions_bytes",
            "must be at most 1048576",
        );
        p.check(
            c.max_trailer_bytes <= MIB,
            "max_trailer_bytes",
            "must be at most 1048576",
        );
        p.check(
            (1..=1024).contains(&c.max_pipelined),
            "max_pipelined",
            "must be between 1 and 1024",
        );
        p.finish(Self {
            max_head_bytes: c.max_head_bytes,
            max_headers: c.max_headers,
            max_chunk_line_bytes: c.max_chunk_line_bytes,
            max_chunk_extensions_bytes: c.max_chunk_extensions_bytes,
            max_trailer_bytes: c.max_trailer_bytes,
            max_pipelined: c.max_pipelined,
        })
    }
}

impl H1Limits {
    /// Longest request head (bytes).
    pub fn max_head_bytes(&self) -> usize {
        self.max_head_bytes
    }
    /// Most header fields in one head.
    pub fn max_headers(&self) -> usize {
        self.max_headers
    }
    /// Longest chunk-size line (bytes).
    pub fn max_chunk_line_bytes(&self) -> usize {
        self.max_chunk_line_bytes
    }
    /// Total chunk-extension bytes in one body.
    pub fn max_chunk_extensions_bytes(&self) -> usize {
        self.max_chunk_extensions_bytes
    }
    /// Largest trailer section (bytes).
    pub fn max_trailer_bytes(&self) -> usize {
        self.max_trailer_bytes
    }
    /// Most judged heads waiting in the ledger.
    pub fn max_pipelined(&self) -> usize {
        self.max_pipelined
    }
}

//! Limits of the HTTP/2 guard: raw config and its validated form.

use std::time::Duration;

use serde::Deserialize;

use crate::config::{ConfigError, Problems};

/// HTTP/2 guard settings as written in a config file (all keys optional). Every cap
/// counts frames the client sends within one window of `window_secs`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct H2Config {
    /// Length of one counting window (seconds).
    pub window_secs: u64,
    /// Largest frame payload accepted; the server advertises 16 KiB unless configured.
    pub max_frame_bytes: u32,
    /// SETTINGS frames (each one forces an ACK).
    pub max_settings: u32,
    /// PING frames (each one forces a PING ACK).
    pub max_ping: u32,
    /// WINDOW_UPDATE frames, before credit earned by data sent to the client.
    pub max_window_update: u32,
    /// Bytes the server must send to the client to allow one more WINDOW_UPDATE.
    pub window_update_credit_bytes: u32,
    /// WINDOW_UPDATE frames with a zero increment (a protocol error anyway).
    pub max_zero_window_update: u32,
    /// DATA without END_STREAM, or HEADERS/CONTINUATION without END_HEADERS, that
    /// carry nothing.
    pub max_empty_frames: u32,
    /// PRIORITY and PRIORITY_UPDATE frames.
    pub max_priority: u32,
    /// RST_STREAM frames.
    pub max_rst_stream: u32,
    /// Frames of unknown types (the server silently ignores them).
    pub max_unknown: u32,
}

impl Default for H2Config {
    fn default() -> Self {
        // Per 10 s. A browser sends a handful of SETTINGS and PINGs per connection and a
        // PRIORITY_UPDATE or RST_STREAM per request at most; WINDOW_UPDATEs answer the data
        // we send, hence the credit (two per 16 KiB DATA frame, times two for slack).
        Self {
            window_secs: 10,
            max_frame_bytes: 16 * 1024,
            max_settings: 50,
            max_ping: 100,
            max_window_update: 1000,
            window_update_credit_bytes: 4 * 1024,
            max_zero_window_update: 10,
            max_empty_frames: 100,
            max_priority: 1000,
            max_rst_stream: 500,
            max_unknown: 100,
        }
    }
}

/// Validated HTTP/2 guard limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H2Limits {
    pub(super) window: Duration,
    pub(super) max_frame_bytes: u32,
    pub(super) caps: [u32; super::KINDS],
    pub(super) credit_bytes: u32,
}

impl Default for H2Limits {
    fn default() -> Self {
        let c = H2Config::default();
        Self {
            window: Duration::from_secs(c.window_secs),
            max_frame_bytes: c.max_frame_bytes,
            caps: caps(&c),
            credit_bytes: c.window_update_credit_bytes,
        }
    }
}

fn caps(c: &H2Config) -> [u32; super::KINDS] {
    // Order of `super::Flood`.
    [
        c.max_settings,
        c.max_ping,
        c.max_window_update,
        c.max_zero_window_update,
        c.max_empty_frames,
        c.max_priority,
        c.max_rst_stream,
        c.max_unknown,
    ]
}

impl TryFrom<H2Config> for H2Limits {
    type Error = ConfigError;

    fn try_from(c: H2Config) -> Result<Self, ConfigError> {
        let mut p = Problems::default();
        p.check(
            (1..=3600).contains(&c.window_secs),
            "window_secs",
            "must be between 1 and 3600",
        );
        // RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE lies in 2^14..=2^24-1.
        p.check(
            ((1 << 14)..(1 << 24)).contains(&c.max_frame_bytes),
            "max_frame_bytes",
            "must be between 16384 and 16777215",
        );
        p.check(
            c.max_settings >= 2,
            "max_settings",
            "must allow at least 2 (the client's SETTINGS and its ACK)",
        );
        p.check(
            c.window_update_credit_bytes >= 1024,
            "window_update_credit_bytes",
            "must be at least 1024",
        );
        p.finish(Self {
            window: Duration::from_secs(c.window_secs),
            max_frame_bytes: c.max_frame_bytes,
            caps: caps(&c),
            credit_bytes: c.window_update_credit_bytes,
        })
    }
}

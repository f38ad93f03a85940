//! `[http3]`: raw as operators write it, validated into [`Http3Config`].

use std::net::SocketAddr;
use std::time::Duration;

use rampart_core::config::Problems;
use rampart_core::units::ByteSize;
use serde::Deserialize;

/// The `[http3]` section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp3 {
    enabled: Option<bool>,
    listen: Option<String>,
    max_concurrent_streams: Option<u32>,
    idle_timeout: Option<String>,
    handshake_timeout: Option<String>,
    max_request_body: Option<String>,
    alt_svc: Option<bool>,
    retry: Option<String>,
}

/// When a client must prove its address with a QUIC Retry before the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryPolicy {
    /// Only while many handshakes are in progress (a flood of spoofed Initials costs
    /// one Retry packet each instead of a handshake).
    UnderLoad,
    /// Always: one more round trip for every new connection.
    Always,
    /// Never.
    Never,
}

/// HTTP/3 on UDP, validated; present only when `http3.enabled`.
#[derive(Debug, Clone)]
pub struct Http3Config {
    /// UDP address of the QUIC endpoint.
    pub listen: SocketAddr,
    /// Request streams one connection may have open at once.
    pub max_concurrent_streams: u32,
    /// A connection with no request in flight (or no packets) is closed after this.
    pub idle_timeout: Duration,
    /// Deadline for the QUIC/TLS handshake and the HTTP/3 settings exchange.
    pub handshake_timeout: Duration,
    /// A body limit for HTTP/3 requests below the route's, if set.
    pub max_request_body: Option<ByteSize>,
    /// Advertise the endpoint with `Alt-Svc` on HTTPS responses over TCP.
    pub alt_svc: bool,
    /// Address validation with QUIC Retry.
    pub retry: RetryPolicy,
}

const DEFAULT_LISTEN: &str = "0.0.0.0:443";

/// Validates `[http3]`; `None` when disabled or invalid (problems are recorded).
/// `https_wanted` is `None` when `[server]` itself is broken.
pub(crate) fn validate(
    p: &mut Problems,
    raw: &RawHttp3,
    https_wanted: Option<bool>,
) -> Option<Http3Config> {
    let listen = p.socket_addr(
        "http3.listen",
        Some(
            &raw.listen
                .clone()
                .unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
        ),
    );
    let max_concurrent_streams = raw.max_concurrent_streams.unwrap_or(100);
    if !(1..=10_000).contains(&max_concurrent_streams) {
        p.push(
            "http3.max_concurrent_streams",
            "must be between 1 and 10000",
        );
    }
    let idle_timeout = p.duration_or(
        "http3.idle_timeout",
        raw.idle_timeout.as_ref(),
        Duration::from_secs(30),
    );
    if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&idle_timeout) {
        p.push("http3.idle_timeout", "must be between 1s and 1h");
    }
    let handshake_timeout = p.duration_or(
        "http3.handshake_timeout",
        raw.handshake_timeout.as_ref(),
        Duration::from_secs(10),
    );
    if !(Duration::from_millis(100)..=Duration::from_secs(120)).contains(&handshake_timeout) {
        p.push("http3.handshake_timeout", "must be between 100ms and 2m");
    }
    let max_request_body = raw
        .max_request_body
        .as_ref()
        .and_then(|v| p.size("http3.max_request_body", v));
    let retry = match raw.retry.as_deref() {
        None | Some("under_load") => RetryPolicy::UnderLoad,
        Some("always") => RetryPolicy::Always,
        Some("never") => RetryPolicy::Never,
        Some(other) => {
            p.push(
                "http3.retry",
                format!("{other:?} is not one of \"under_load\", \"always\", \"never\""),
            );
            RetryPolicy::UnderLoad
        }
    };
    if raw.enabled != Some(true) {
        return None;
    }
    if https_wanted == Some(false) {
        // QUIC always runs TLS: it serves the HTTPS listener's certificates.
        p.push(
            "http3.enabled",
            "HTTP/3 needs server.https_listen and its [tls] certificate",
        );
        return None;
    }
    Some(Http3Config {
        listen: listen?,
        max_concurrent_streams,
        idle_timeout,
        handshake_timeout,
        max_request_body,
        alt_svc: raw.alt_svc.unwrap_or(true),
        retry,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn parse(text: &str, https: Option<bool>) -> (Option<Http3Config>, Vec<String>) {
        let raw: RawHttp3 = toml::from_str(text).unwrap();
        let mut p = Problems::default();
        let config = validate(&mut p, &raw, https);
        let keys = match p.finish(std::path::Path::new("edge.toml"), Some(())) {
            Ok(()) => Vec::new(),
            Err(rampart_core::config::ConfigError::Invalid { problems, .. }) => {
                problems.into_iter().map(|p| p.key).collect()
            }
            Err(e) => panic!("{e}"),
        };
        (config, keys)
    }

    #[test]
    fn defaults_apply_once_enabled() {
        let (config, problems) = parse("enabled = true", Some(true));
        assert!(problems.is_empty(), "{problems:?}");
        let config = config.unwrap();
        assert_eq!(config.listen, "0.0.0.0:443".parse().unwrap());
        assert_eq!(config.max_concurrent_streams, 100);
        assert_eq!(config.idle_timeout, Duration::from_secs(30));
        assert_eq!(config.handshake_timeout, Duration::from_secs(10));
        assert!(config.alt_svc);
        assert_eq!(config.retry, RetryPolicy::UnderLoad);
        assert!(config.max_request_body.is_none());
    }

    #[test]
    fn disabled_by_default_but_still_checked() {
        assert!(parse("", Some(true)).0.is_none());
        let (config, problems) = parse("retry = \"sometimes\"", Some(true));
        assert!(config.is_none());
        assert_eq!(problems, ["http3.retry"]);
    }

    #[test]
    fn every_bad_value_is_reported_with_its_key() {
        let table: [(&str, Option<bool>, &[&str]); 7] = [
            (
                "enabled = true\nlisten = \"nowhere\"",
                Some(true),
                &["http3.listen"],
            ),
            (
                "enabled = true\nmax_concurrent_streams = 0",
                Some(true),
                &["http3.max_concurrent_streams"],
            ),
            (
                "enabled = true\nidle_timeout = \"0s\"",
                Some(true),
                &["http3.idle_timeout"],
            ),
            (
                "enabled = true\nhandshake_timeout = \"1h\"",
                Some(true),
                &["http3.handshake_timeout"],
            ),
            (
                "enabled = true\nmax_request_body = \"lots\"",
                Some(true),
                &["http3.max_request_body"],
            ),
            ("enabled = true", Some(false), &["http3.enabled"]),
            // Look-alike that must pass: every knob set sensibly.
            (
                "enabled = true\nlisten = \"127.0.0.1:0\"\nmax_concurrent_streams = 10\nidle_timeout = \"5s\"\nhandshake_timeout = \"2s\"\nmax_request_body = \"1MiB\"\nalt_svc = false\nretry = \"always\"",
                Some(true),
                &[],
            ),
        ];
        for (text, https, want) in table {
            let (config, problems) = parse(text, https);
            assert_eq!(problems, want, "{text}");
            if want.is_empty() {
                assert!(config.is_some(), "{text}");
            }
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<RawHttp3>("enable = true").is_err());
    }
}

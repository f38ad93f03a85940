//! `[syslog]`: audit records and alerts sent to a SIEM as RFC 5424 messages.
//!
//! ```toml
//! [syslog]
//! transport = "tls"               # "udp" | "tcp" | "tls" (RFC 5425)
//! address = "siem.example:6514"   # host:port
//! ca_file = "siem-ca.pem"         # tls: roots for the collector (default: the system bundle)
//! server_name = "siem.example"    # tls: name checked in its certificate (default: the host)
//! cert_file = "syslog-client.pem" # tls: optional client certificate ...
//! key_file = "syslog-client.key"  # ... and its key
//! app_name = "rampart"            # APP-NAME (default "rampart-<tier>")
//! hostname = "fw-1"               # HOSTNAME (default: the kernel's host name)
//! facility = "local0"             # kern, user, daemon, auth, authpriv, syslog, local0..local7
//! queue = 4096                    # messages waiting; beyond, dropped and counted
//! send = ["audit", "alerts"]      # what is sent (default both)
//! max_datagram = 2048             # udp: longer messages are cut at a UTF-8 boundary
//! timeout = "5s"                  # connect and write deadline
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rampart_core::config::{Problems, resolve};
use serde::Deserialize;

/// `[syslog]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSyslogConfig {
    /// `udp`, `tcp` or `tls`.
    pub transport: Option<String>,
    /// `host:port`.
    pub address: Option<String>,
    /// TLS roots.
    pub ca_file: Option<PathBuf>,
    /// Name checked in the collector's certificate.
    pub server_name: Option<String>,
    /// Client certificate chain.
    pub cert_file: Option<PathBuf>,
    /// Client key.
    pub key_file: Option<PathBuf>,
    /// APP-NAME.
    pub app_name: Option<String>,
    /// HOSTNAME.
    pub hostname: Option<String>,
    /// Facility name.
    pub facility: Option<String>,
    /// Messages waiting.
    pub queue: Option<usize>,
    /// `audit`, `alerts`.
    pub send: Option<Vec<String>>,
    /// UDP datagram size at most.
    pub max_datagram: Option<usize>,
    /// Connect and write deadline.
    pub timeout: Option<String>,
}

/// How messages travel.
#[derive(Clone)]
pub enum Transport {
    /// One message per datagram.
    Udp,
    /// Octet-counted frames (RFC 6587).
    Tcp,
    /// Octet-counted frames over TLS (RFC 5425).
    Tls {
        /// Client configuration.
        config: Arc<rustls::ClientConfig>,
        /// Name checked in the collector's certificate.
        server_name: rustls::pki_types::ServerName<'static>,
    },
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Udp => "Udp",
            Transport::Tcp => "Tcp",
            Transport::Tls { .. } => "Tls",
        })
    }
}

/// Validated `[syslog]`.
#[derive(Debug, Clone)]
pub struct SyslogConfig {
    /// How messages travel.
    pub transport: Transport,
    /// `host:port`.
    pub address: String,
    /// APP-NAME, when set (otherwise `rampart-<tier>`).
    pub app_name: Option<String>,
    /// HOSTNAME, when set (otherwise the kernel's host name).
    pub hostname: Option<String>,
    /// Facility number (0..=23).
    pub facility: u8,
    /// Messages waiting before new ones are dropped.
    pub queue: usize,
    /// Send audit records (decisions, admin calls, system events).
    pub audit: bool,
    /// Send alerts.
    pub alerts: bool,
    /// UDP datagram size at most.
    pub max_datagram: usize,
    /// Connect and write deadline.
    pub timeout: Duration,
}

const FACILITIES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

/// True for a non-empty run of printable ASCII without spaces, at most `max` bytes (the
/// RFC 5424 header fields).
pub(crate) fn header_token(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| (33..=126).contains(&b))
}

impl SyslogConfig {
    /// Validates `raw` (the section named `section`); relative paths are resolved against
    /// `base`. Every problem is recorded with its key path.
    pub fn validate(
        section: &str,
        raw: &RawSyslogConfig,
        base: &Path,
        p: &mut Problems,
    ) -> Option<SyslogConfig> {
        let key = |k: &str| format!("{section}.{k}");
        let mut ok = true;
        let address = raw.address.clone();
        let host = match &address {
            None => {
                p.push(key("address"), "is required");
                None
            }
            Some(a) => match a.rsplit_once(':') {
                Some((h, port)) if !h.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
                    Some(h.trim_matches(['[', ']']).to_owned())
                }
                _ => {
                    p.push(key("address"), format!("{a:?} is not host:port"));
                    None
                }
            },
        };
        let tls_only = |p: &mut Problems, k: &str, set: bool| {
            if set {
                p.push(key(k), "only used with transport = \"tls\"");
            }
            !set
        };
        let transport = match raw.transport.as_deref() {
            Some(t @ ("udp" | "tcp")) => {
                ok &= tls_only(p, "ca_file", raw.ca_file.is_some());
                ok &= tls_only(p, "server_name", raw.server_name.is_some());
                ok &= tls_only(p, "cert_file", raw.cert_file.is_some());
                ok &= tls_only(p, "key_file", raw.key_file.is_some());
                Some(if t == "udp" {
                    Transport::Udp
                } else {
                    Transport::Tcp
                })
            }
            Some("tls") => tls(&key, raw, host.as_deref(), base, p),
            Some(other) => {
                p.push(
                    key("transport"),
                    format!("{other:?} is not a transport; use \"udp\", \"tcp\" or \"tls\""),
                );
                None
            }
            None => {
                p.push(key("transport"), "is required: \"udp\", \"tcp\" or \"tls\"");
                None
            }
        };
        for (k, v, max) in [
            ("app_name", &raw.app_name, 48),
            ("hostname", &raw.hostname, 255),
        ] {
            if let Some(v) = v
                && !header_token(v, max)
            {
                p.push(
                    key(k),
                    format!("must be 1 to {max} printable ASCII characters without spaces"),
                );
                ok = false;
            }
        }
        let facility = raw.facility.as_deref().unwrap_or("local0");
        let facility = match FACILITIES.iter().find(|(n, _)| *n == facility) {
            Some((_, f)) => *f,
            None => {
                p.push(
                    key("facility"),
                    format!("{facility:?} is not a facility (e.g. \"local0\", \"auth\")"),
                );
                ok = false;
                16
            }
        };
        let queue = raw.queue.unwrap_or(4096);
        if !(16..=1_000_000).contains(&queue) {
            p.push(key("queue"), format!("{queue} is not in 16..=1000000"));
            ok = false;
        }
        let (mut audit, mut alerts) = (raw.send.is_none(), raw.send.is_none());
        for (i, s) in raw.send.iter().flatten().enumerate() {
            match s.as_str() {
                "audit" => audit = true,
                "alerts" => alerts = true,
                other => {
                    p.push(
                        format!("{section}.send[{i}]"),
                        format!("{other:?} is not sendable; use \"audit\" or \"alerts\""),
                    );
                    ok = false;
                }
            }
        }
        let max_datagram = raw.max_datagram.unwrap_or(2048);
        if !(480..=65_000).contains(&max_datagram) {
            p.push(
                key("max_datagram"),
                format!("{max_datagram} is not in 480..=65000"),
            );
            ok = false;
        }
        let timeout = p.duration_or(
            &key("timeout"),
            raw.timeout.as_ref(),
            Duration::from_secs(5),
        );
        if timeout < Duration::from_millis(100) || timeout > Duration::from_secs(120) {
            p.push(key("timeout"), "must be between 100ms and 2m");
            ok = false;
        }
        let (transport, address) = (transport?, address?);
        ok.then_some(SyslogConfig {
            transport,
            address,
            app_name: raw.app_name.clone(),
            hostname: raw.hostname.clone(),
            facility,
            queue,
            audit,
            alerts,
            max_datagram,
            timeout,
        })
    }
}

fn tls(
    key: &dyn Fn(&str) -> String,
    raw: &RawSyslogConfig,
    host: Option<&str>,
    base: &Path,
    p: &mut Problems,
) -> Option<Transport> {
    let ca = raw.ca_file.as_ref().map_or_else(
        || PathBuf::from(crate::alerts::config::SYSTEM_ROOTS),
        |f| resolve(base, f),
    );
    let roots = rampart_tls::load_roots(&ca)
        .map_err(|e| p.push(key("ca_file"), format!("{}: {e}", ca.display())))
        .ok();
    let name = raw.server_name.as_deref().or(host).map(str::to_owned);
    let server_name = match name.map(rustls::pki_types::ServerName::try_from) {
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            p.push(key("server_name"), "is not a valid TLS server name");
            None
        }
        None => None,
    };
    let builder = rustls::ClientConfig::builder_with_provider(rampart_tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| p.push(key("transport"), e))
        .ok()?;
    let builder = builder.with_root_certificates(roots?);
    let config = match (&raw.cert_file, &raw.key_file) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(k)) => {
            let chain = rampart_tls::load_certs(&resolve(base, cert))
                .map_err(|e| p.push(key("cert_file"), e))
                .ok();
            let pkey = rampart_tls::load_private_key(&resolve(base, k))
                .map_err(|e| p.push(key("key_file"), e))
                .ok();
            builder
                .with_client_auth_cert(chain?, pkey?)
                .map_err(|e| p.push(key("cert_file"), e))
                .ok()?
        }
        (Some(_), None) => {
            p.push(key("key_file"), "is required with cert_file");
            return None;
        }
        (None, Some(_)) => {
            p.push(key("cert_file"), "is required with key_file");
            return None;
        }
    };
    Some(Transport::Tls {
        config: Arc::new(config),
        server_name: server_name?,
    })
}

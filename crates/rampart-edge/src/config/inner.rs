//! `[inner]`: how the edge reaches the inner tier, in either link mode.
//!
//! - `mode = "edge-dials"` (default): the edge dials each of `endpoints` with its client
//!   certificate (`client_cert`/`client_key`) and checks the inner's `server_name`.
//! - `mode = "inner-dials"`: the edge opens no connection towards the LAN. It listens on
//!   `listen` with its link server certificate (`cert`/`key`) and accepts only clients
//!   whose certificate chains to `ca` and carries one of `allowed_identities`; each inner
//!   replica dials in and keeps its connections open.
//!
//! Either way the edge stays the HTTP/2 (gRPC) client on every link connection, so
//! everything above the transport is the same in both modes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rampart_core::config::{Problems, resolve};
use rampart_core::units::ByteSize;
use rampart_tls::Identity;
use rustls::{ClientConfig, ServerConfig};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInner {
    mode: Option<String>,
    #[serde(default)]
    endpoints: Vec<String>,
    server_name: Option<String>,
    ca: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
    listen: Option<String>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    allowed_identities: Option<Vec<String>>,
    connect_timeout: Option<String>,
    response_timeout: Option<String>,
    health_interval: Option<String>,
    resolve_interval: Option<String>,
    connections_per_endpoint: Option<usize>,
    max_chunk: Option<String>,
}

/// How the edge reaches the inner tier.
#[derive(Clone)]
pub struct InnerLinkConfig {
    /// Who opens the link connections, and with which credentials.
    pub mode: LinkMode,
    /// Deadline for establishing a link connection (dial or accept, TLS and HTTP/2).
    pub connect_timeout: Duration,
    /// Deadline for the inner tier's response head.
    pub response_timeout: Duration,
    /// How often each endpoint is probed.
    pub health_interval: Duration,
    /// Largest body chunk sent in one message.
    pub max_chunk: ByteSize,
}

/// Who opens the link connections (a restart-only choice).
#[derive(Clone)]
pub enum LinkMode {
    /// The edge dials the inner endpoints (`mode = "edge-dials"`).
    EdgeDials(EdgeDials),
    /// The inner replicas dial the edge's link listener (`mode = "inner-dials"`).
    InnerDials(InnerDials),
}

/// `edge-dials`: the endpoints to dial and the client side of the mutual TLS.
#[derive(Clone)]
pub struct EdgeDials {
    /// `host:port` of each inner endpoint.
    pub endpoints: Vec<String>,
    /// The name the inner's certificate must carry.
    pub server_name: rustls::pki_types::ServerName<'static>,
    /// mTLS client configuration (edge certificate, link CA).
    pub tls: Arc<ClientConfig>,
    /// How often each endpoint name is resolved again (one link endpoint per address).
    pub resolve_interval: Duration,
    /// Link connections kept per endpoint (each an HTTP/2 connection).
    pub connections_per_endpoint: usize,
}

/// `inner-dials`: the link listener and the server side of the mutual TLS.
#[derive(Clone)]
pub struct InnerDials {
    /// Where the inner replicas connect.
    pub listen: SocketAddr,
    /// mTLS server configuration: the edge's link certificate, and only clients from
    /// the link CA carrying an allowed inner identity.
    pub tls: Arc<ServerConfig>,
}

impl InnerLinkConfig {
    /// The link listener's address, in `inner-dials` mode.
    pub fn listen(&self) -> Option<SocketAddr> {
        match &self.mode {
            LinkMode::InnerDials(d) => Some(d.listen),
            LinkMode::EdgeDials(_) => None,
        }
    }
}

pub(super) fn validate_inner(
    p: &mut Problems,
    base: &Path,
    inner: &RawInner,
) -> Option<InnerLinkConfig> {
    let mode = match inner.mode.as_deref() {
        None | Some("edge-dials") => Some(validate_edge_dials(p, base, inner)),
        Some("inner-dials") => Some(validate_inner_dials(p, base, inner)),
        Some(other) => {
            p.push(
                "inner.mode",
                format!("{other:?} is not \"edge-dials\" or \"inner-dials\""),
            );
            None
        }
    };
    let max_chunk = p.size_or(
        "inner.max_chunk",
        inner.max_chunk.as_ref(),
        ByteSize::kib(64),
    );
    if !(ByteSize::kib(1)..=ByteSize::mib(1)).contains(&max_chunk) {
        p.push("inner.max_chunk", "must be between 1KiB and 1MiB");
    }
    let connect_timeout = p.duration_or(
        "inner.connect_timeout",
        inner.connect_timeout.as_ref(),
        Duration::from_secs(1),
    );
    let response_timeout = p.duration_or(
        "inner.response_timeout",
        inner.response_timeout.as_ref(),
        Duration::from_secs(120),
    );
    let health_interval = p.duration_or(
        "inner.health_interval",
        inner.health_interval.as_ref(),
        Duration::from_secs(1),
    );
    Some(InnerLinkConfig {
        mode: mode.flatten()?,
        connect_timeout,
        response_timeout,
        health_interval,
        max_chunk,
    })
}

fn validate_edge_dials(p: &mut Problems, base: &Path, inner: &RawInner) -> Option<LinkMode> {
    p.refuse_keys(
        "edge-dials",
        &[
            ("inner.listen", inner.listen.is_some()),
            ("inner.cert", inner.cert.is_some()),
            ("inner.key", inner.key.is_some()),
            (
                "inner.allowed_identities",
                inner.allowed_identities.is_some(),
            ),
        ],
    );
    if inner.endpoints.is_empty() {
        p.push(
            "inner.endpoints",
            "at least one inner endpoint (host:port) is required",
        );
    }
    p.host_ports("inner.endpoints", &inner.endpoints);
    let server_name = p.required_parsed(
        "inner.server_name",
        inner.server_name.as_ref(),
        "a DNS name or IP",
        |n| rustls::pki_types::ServerName::try_from(n.to_owned()),
    );
    let ca = p.required("inner.ca", inner.ca.as_ref());
    let cert = p.required("inner.client_cert", inner.client_cert.as_ref());
    let key = p.required("inner.client_key", inner.client_key.as_ref());
    let link_tls = match (ca, cert, key) {
        (Some(ca), Some(cert), Some(key)) => {
            let built = rampart_tls::load_roots(&resolve(base, ca)).and_then(|roots| {
                let chain = rampart_tls::load_certs(&resolve(base, cert))?;
                let key = rampart_tls::load_private_key(&resolve(base, key))?;
                rampart_tls::link_client_config(roots, chain, key)
            });
            built.map_err(|e| p.push("inner", e)).ok().map(Arc::new)
        }
        _ => None,
    };
    let resolve_interval = p.duration_or(
        "inner.resolve_interval",
        inner.resolve_interval.as_ref(),
        Duration::from_secs(10),
    );
    if resolve_interval < Duration::from_secs(1) {
        p.push("inner.resolve_interval", "must be at least 1s");
    }
    let connections_per_endpoint = inner.connections_per_endpoint.unwrap_or(4);
    if !(1..=64).contains(&connections_per_endpoint) {
        p.push("inner.connections_per_endpoint", "must be between 1 and 64");
    }
    Some(LinkMode::EdgeDials(EdgeDials {
        endpoints: inner.endpoints.clone(),
        server_name: server_name?,
        tls: link_tls?,
        resolve_interval,
        connections_per_endpoint,
    }))
}

fn validate_inner_dials(p: &mut Problems, base: &Path, inner: &RawInner) -> Option<LinkMode> {
    p.refuse_keys(
        "inner-dials",
        &[
            ("inner.endpoints", !inner.endpoints.is_empty()),
            ("inner.server_name", inner.server_name.is_some()),
            ("inner.client_cert", inner.client_cert.is_some()),
            ("inner.client_key", inner.client_key.is_some()),
            ("inner.resolve_interval", inner.resolve_interval.is_some()),
            (
                "inner.connections_per_endpoint",
                inner.connections_per_endpoint.is_some(),
            ),
        ],
    );
    let listen = p.required("inner.listen", inner.listen.as_ref()).cloned();
    let listen = p.socket_addr("inner.listen", listen.as_ref());
    let mut identities = Vec::new();
    let raw_identities = inner.allowed_identities.as_deref().unwrap_or_default();
    if raw_identities.is_empty() {
        p.push(
            "inner.allowed_identities",
            "list the inner identities (certificate SANs) to accept",
        );
    }
    for (i, raw) in raw_identities.iter().enumerate() {
        match Identity::parse(raw) {
            Ok(id) => identities.push(id),
            Err(e) => p.push(format!("inner.allowed_identities[{i}]"), e),
        }
    }
    let ca = p.required("inner.ca", inner.ca.as_ref());
    let cert = p.required("inner.cert", inner.cert.as_ref());
    let key = p.required("inner.key", inner.key.as_ref());
    let tls = match (ca, cert, key) {
        (Some(ca), Some(cert), Some(key)) if !identities.is_empty() => {
            let built = rampart_tls::load_roots(&resolve(base, ca)).and_then(|roots| {
                let chain = rampart_tls::load_certs(&resolve(base, cert))?;
                let key = rampart_tls::load_private_key(&resolve(base, key))?;
                rampart_tls::link_server_config(roots, identities, chain, key)
            });
            built.map_err(|e| p.push("inner", e)).ok().map(Arc::new)
        }
        _ => None,
    };
    Some(LinkMode::InnerDials(InnerDials {
        listen: listen?,
        tls: tls?,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A directory with a CA, a server and a client certificate.
    fn pki() -> tempfile::TempDir {
        use rampart_tls::pki::{Ca, LeafSpec, Usage, write_file};
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::generate("test CA", 1).unwrap();
        write_file(&dir.path().join("ca.pem"), ca.cert_pem(), false).unwrap();
        for (stem, name, usage) in [
            ("server", "rampart-edge", Usage::Server),
            ("client", "rampart-edge", Usage::Client),
        ] {
            let leaf = ca.issue(&LeafSpec::new(name, usage, 1)).unwrap();
            let cert = dir.path().join(format!("{stem}.pem"));
            write_file(&cert, &leaf.cert_pem, false).unwrap();
            write_file(&dir.path().join(format!("{stem}.key")), &leaf.key_pem, true).unwrap();
        }
        dir
    }

    fn check(dir: &Path, text: &str) -> (Option<InnerLinkConfig>, Vec<String>) {
        let raw: RawInner = toml::from_str(text).unwrap();
        let mut p = Problems::default();
        let config = validate_inner(&mut p, dir, &raw);
        let keys = format!("{p:?}");
        let keys = keys
            .split("key: \"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .map(str::to_owned)
            .collect();
        (config, keys)
    }

    const EDGE_DIALS: &str = r#"
endpoints = ["inner:7443"]
server_name = "rampart-inner"
ca = "ca.pem"
client_cert = "client.pem"
client_key = "client.key"
"#;

    const INNER_DIALS: &str = r#"
mode = "inner-dials"
listen = "127.0.0.1:7443"
ca = "ca.pem"
cert = "server.pem"
key = "server.key"
allowed_identities = ["rampart-inner"]
"#;

    #[test]
    fn each_mode_takes_its_own_keys_and_refuses_the_other_modes_keys() {
        let dir = pki();
        let cases: &[(&str, String, &[&str])] = &[
            ("edge-dials by default", EDGE_DIALS.into(), &[]),
            (
                "edge-dials named",
                format!("mode = \"edge-dials\"\n{EDGE_DIALS}"),
                &[],
            ),
            ("inner-dials", INNER_DIALS.into(), &[]),
            (
                "inner-dials with an endpoint list",
                format!("{INNER_DIALS}endpoints = [\"inner:7443\"]\n"),
                &["inner.endpoints"],
            ),
            (
                "inner-dials with a client certificate",
                format!("{INNER_DIALS}client_cert = \"client.pem\"\nclient_key = \"client.key\"\n"),
                &["inner.client_cert", "inner.client_key"],
            ),
            (
                "inner-dials without a listener or identities",
                INNER_DIALS
                    .replace("listen = \"127.0.0.1:7443\"\n", "")
                    .replace("allowed_identities = [\"rampart-inner\"]\n", ""),
                &["inner.listen", "inner.allowed_identities"],
            ),
            (
                "inner-dials with a bad identity",
                INNER_DIALS.replace("[\"rampart-inner\"]", "[\"bad name\"]"),
                &["inner.allowed_identities[0]"],
            ),
            (
                "edge-dials with a link listener",
                format!("{EDGE_DIALS}listen = \"127.0.0.1:7443\"\n"),
                &["inner.listen"],
            ),
            (
                "an unknown mode",
                format!("mode = \"both\"\n{EDGE_DIALS}"),
                &["inner.mode"],
            ),
        ];
        for (name, text, want) in cases {
            let (config, keys) = check(dir.path(), text);
            assert_eq!(&keys, want, "{name}");
            if want.is_empty() {
                assert!(config.is_some(), "{name}");
            }
        }
    }

    #[test]
    fn the_listener_is_known_only_in_inner_dials_mode() {
        let dir = pki();
        let (edge, _) = check(dir.path(), EDGE_DIALS);
        assert_eq!(edge.unwrap().listen(), None);
        let (inner, _) = check(dir.path(), INNER_DIALS);
        assert_eq!(
            inner.unwrap().listen(),
            Some("127.0.0.1:7443".parse().unwrap())
        );
    }
}

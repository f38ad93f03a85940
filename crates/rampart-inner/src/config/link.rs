//! `[link]` (with `server.link_listen`): how the edge's requests reach the inner tier.
//!
//! - `mode = "edge-dials"` (default): the inner listens on `server.link_listen` and
//!   accepts only clients from the link CA carrying one of `allowed_identities`.
//! - `mode = "inner-dials"`: the inner binds no link listener at all. It dials each of
//!   `edges` and keeps `connections_per_edge` mutual-TLS connections open, presenting
//!   `cert` as its client certificate and accepting only an edge certificate for
//!   `edge_server_name` from the link CA; a dropped connection is re-dialled after
//!   `redial_min` .. `redial_max` (exponential, with jitter). The LAN firewall can then
//!   refuse every inbound connection from the DMZ.
//!
//! Either way the inner stays the HTTP/2 (gRPC) server of every link connection.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rampart_core::config::{Problems, resolve};
use rampart_tls::Identity;
use rustls::{ClientConfig, ServerConfig};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLink {
    mode: Option<String>,
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    allowed_identities: Option<Vec<String>>,
    edges: Option<Vec<String>>,
    edge_server_name: Option<String>,
    connections_per_edge: Option<usize>,
    redial_min: Option<String>,
    redial_max: Option<String>,
    connect_timeout: Option<String>,
    resolve_interval: Option<String>,
}

/// Who opens the link connections (a restart-only choice).
#[derive(Clone)]
pub enum LinkMode {
    /// The edge dials the inner's link listener.
    EdgeDials {
        /// Where the edge connects.
        listen: SocketAddr,
        /// mTLS server configuration with the edge-identity check.
        tls: Arc<ServerConfig>,
    },
    /// The inner dials each edge; no link listener.
    InnerDials(InnerDials),
}

/// `inner-dials`: which edges to dial and how.
#[derive(Clone)]
pub struct InnerDials {
    /// `host:port` of each edge's link listener, resolved at every dial.
    pub edges: Vec<String>,
    /// The name the edge's link certificate must carry.
    pub edge_server_name: rustls::pki_types::ServerName<'static>,
    /// mTLS client configuration (inner certificate, link CA).
    pub tls: Arc<ClientConfig>,
    /// Connections kept open to each edge.
    pub connections_per_edge: usize,
    /// First re-dial delay after a connection drops or a dial fails.
    pub redial_min: Duration,
    /// Longest re-dial delay (the delay doubles up to it).
    pub redial_max: Duration,
    /// Deadline for the TCP connect (the TLS handshake has `server.handshake_timeout`).
    pub connect_timeout: Duration,
    /// How often each edge name is resolved again: every address is an edge of its own
    /// (replicas behind one DNS name), dialled `connections_per_edge` times.
    pub resolve_interval: Duration,
}

/// Validates `[link]` for its mode; `link_listen` is `server.link_listen` as written.
pub(super) fn validate_link(
    p: &mut Problems,
    base: &Path,
    link: &RawLink,
    link_listen: Option<&String>,
) -> Option<LinkMode> {
    match link.mode.as_deref() {
        None | Some("edge-dials") => validate_edge_dials(p, base, link, link_listen),
        Some("inner-dials") => validate_inner_dials(p, base, link, link_listen.is_some()),
        Some(other) => {
            p.push(
                "link.mode",
                format!("{other:?} is not \"edge-dials\" or \"inner-dials\""),
            );
            None
        }
    }
}

/// The link CA, the inner's certificate chain and key, with their problems recorded.
fn files(p: &mut Problems, base: &Path, link: &RawLink) -> Option<[PathBuf; 3]> {
    let mut files = Vec::new();
    for (key, value) in [
        ("link.ca", &link.ca),
        ("link.cert", &link.cert),
        ("link.key", &link.key),
    ] {
        match value {
            Some(path) => files.push(resolve(base, path)),
            None => p.push(key, "is required"),
        }
    }
    <[PathBuf; 3]>::try_from(files).ok()
}

fn validate_edge_dials(
    p: &mut Problems,
    base: &Path,
    link: &RawLink,
    link_listen: Option<&String>,
) -> Option<LinkMode> {
    p.refuse_keys(
        "edge-dials",
        &[
            ("link.edges", link.edges.is_some()),
            ("link.edge_server_name", link.edge_server_name.is_some()),
            (
                "link.connections_per_edge",
                link.connections_per_edge.is_some(),
            ),
            ("link.redial_min", link.redial_min.is_some()),
            ("link.redial_max", link.redial_max.is_some()),
            ("link.connect_timeout", link.connect_timeout.is_some()),
            ("link.resolve_interval", link.resolve_interval.is_some()),
        ],
    );
    if link_listen.is_none() {
        p.push("server.link_listen", "is required");
    }
    let listen = p.socket_addr("server.link_listen", link_listen);
    let mut identities = Vec::new();
    let raw_identities = link.allowed_identities.as_deref().unwrap_or_default();
    if raw_identities.is_empty() {
        p.push(
            "link.allowed_identities",
            "list the edge identities (certificate SANs) to accept",
        );
    }
    for (i, raw) in raw_identities.iter().enumerate() {
        match Identity::parse(raw) {
            Ok(id) => identities.push(id),
            Err(e) => p.push(format!("link.allowed_identities[{i}]"), e),
        }
    }
    let [ca, cert, key] = files(p, base, link)?;
    if identities.is_empty() {
        return None;
    }
    let built = rampart_tls::load_roots(&ca).and_then(|roots| {
        let chain = rampart_tls::load_certs(&cert)?;
        let key = rampart_tls::load_private_key(&key)?;
        rampart_tls::link_server_config(roots, identities, chain, key)
    });
    let tls = built.map_err(|e| p.push("link", e)).ok().map(Arc::new);
    Some(LinkMode::EdgeDials {
        listen: listen?,
        tls: tls?,
    })
}

fn validate_inner_dials(
    p: &mut Problems,
    base: &Path,
    link: &RawLink,
    has_listener: bool,
) -> Option<LinkMode> {
    p.refuse_keys(
        "inner-dials",
        &[
            // The point of the mode: nothing on the LAN side listens for the DMZ.
            ("server.link_listen", has_listener),
            // The edge is checked by name as a server (`edge_server_name`).
            ("link.allowed_identities", link.allowed_identities.is_some()),
        ],
    );
    let edges = link.edges.clone().unwrap_or_default();
    if edges.is_empty() {
        p.push(
            "link.edges",
            "list the edges' link listeners (host:port) to dial",
        );
    }
    p.host_ports("link.edges", &edges);
    let server_name = p.required_parsed(
        "link.edge_server_name",
        link.edge_server_name.as_ref(),
        "a DNS name or IP",
        |n| rustls::pki_types::ServerName::try_from(n.to_owned()),
    );
    let connections_per_edge = link.connections_per_edge.unwrap_or(2);
    if !(1..=64).contains(&connections_per_edge) {
        p.push("link.connections_per_edge", "must be between 1 and 64");
    }
    let redial_min = p.duration_or(
        "link.redial_min",
        link.redial_min.as_ref(),
        Duration::from_millis(100),
    );
    let redial_max = p.duration_or(
        "link.redial_max",
        link.redial_max.as_ref(),
        Duration::from_secs(5),
    );
    if redial_min < Duration::from_millis(10) {
        p.push("link.redial_min", "must be at least 10ms");
    }
    if redial_max < redial_min || redial_max > Duration::from_secs(300) {
        p.push(
            "link.redial_max",
            "must be between link.redial_min and 300s",
        );
    }
    let connect_timeout = p.duration_or(
        "link.connect_timeout",
        link.connect_timeout.as_ref(),
        Duration::from_secs(2),
    );
    let resolve_interval = p.duration_or(
        "link.resolve_interval",
        link.resolve_interval.as_ref(),
        Duration::from_secs(5),
    );
    if !(Duration::from_secs(1)..=Duration::from_secs(300)).contains(&resolve_interval) {
        p.push("link.resolve_interval", "must be between 1s and 300s");
    }
    let [ca, cert, key] = files(p, base, link)?;
    let built = rampart_tls::load_roots(&ca).and_then(|roots| {
        let chain = rampart_tls::load_certs(&cert)?;
        let key = rampart_tls::load_private_key(&key)?;
        rampart_tls::link_client_config(roots, chain, key)
    });
    let tls = built.map_err(|e| p.push("link", e)).ok().map(Arc::new);
    Some(LinkMode::InnerDials(InnerDials {
        edges,
        edge_server_name: server_name?,
        tls: tls?,
        connections_per_edge,
        redial_min,
        redial_max,
        connect_timeout,
        resolve_interval,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn pki() -> tempfile::TempDir {
        use rampart_tls::pki::{Ca, LeafSpec, Usage, write_file};
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::generate("test CA", 1).unwrap();
        write_file(&dir.path().join("ca.pem"), ca.cert_pem(), false).unwrap();
        let leaf = ca
            .issue(&LeafSpec::new("rampart-inner", Usage::Server, 1))
            .unwrap();
        write_file(&dir.path().join("inner.pem"), &leaf.cert_pem, false).unwrap();
        write_file(&dir.path().join("inner.key"), &leaf.key_pem, true).unwrap();
        dir
    }

    /// The keys with problems, and whether a mode came out.
    fn check(dir: &Path, text: &str, listen: Option<&str>) -> (Option<LinkMode>, Vec<String>) {
        let raw: RawLink = toml::from_str(text).unwrap();
        let mut p = Problems::default();
        let listen = listen.map(str::to_owned);
        let mode = validate_link(&mut p, dir, &raw, listen.as_ref());
        let keys = format!("{p:?}")
            .split("key: \"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .map(str::to_owned)
            .collect();
        (mode, keys)
    }

    const FILES: &str = "ca = \"ca.pem\"\ncert = \"inner.pem\"\nkey = \"inner.key\"\n";
    const LISTEN: Option<&str> = Some("127.0.0.1:7443");

    #[test]
    fn each_mode_takes_its_own_keys_and_refuses_the_other_modes_keys() {
        let dir = pki();
        let edge_dials = format!("{FILES}allowed_identities = [\"rampart-edge\"]\n");
        let inner_dials = format!(
            "mode = \"inner-dials\"\n{FILES}edges = [\"edge:7443\"]\nedge_server_name = \"rampart-edge\"\n"
        );
        let cases: &[(&str, String, Option<&str>, &[&str])] = &[
            ("edge-dials by default", edge_dials.clone(), LISTEN, &[]),
            (
                "edge-dials without a listener",
                edge_dials.clone(),
                None,
                &["server.link_listen"],
            ),
            (
                "edge-dials with an edge list",
                format!("{edge_dials}edges = [\"edge:7443\"]\n"),
                LISTEN,
                &["link.edges"],
            ),
            ("inner-dials", inner_dials.clone(), None, &[]),
            (
                "inner-dials with every knob",
                format!(
                    "{inner_dials}connections_per_edge = 4\nredial_min = \"50ms\"\nredial_max = \"2s\"\nconnect_timeout = \"1s\"\nresolve_interval = \"2s\"\n"
                ),
                None,
                &[],
            ),
            (
                "inner-dials still binding a link listener",
                inner_dials.clone(),
                LISTEN,
                &["server.link_listen"],
            ),
            (
                "inner-dials with allowed identities",
                format!("{inner_dials}allowed_identities = [\"rampart-edge\"]\n"),
                None,
                &["link.allowed_identities"],
            ),
            (
                "inner-dials without edges or a server name",
                format!("mode = \"inner-dials\"\n{FILES}"),
                None,
                &["link.edges", "link.edge_server_name"],
            ),
            (
                "inner-dials with a bad edge address",
                inner_dials.replace("edge:7443", "edge"),
                None,
                &["link.edges[0]"],
            ),
            (
                "inner-dials with a backoff upside down",
                format!("{inner_dials}redial_min = \"2s\"\nredial_max = \"1s\"\n"),
                None,
                &["link.redial_max"],
            ),
            (
                "inner-dials re-resolving too often",
                format!("{inner_dials}resolve_interval = \"100ms\"\n"),
                None,
                &["link.resolve_interval"],
            ),
            (
                "edge-dials with a resolve interval",
                format!("{edge_dials}resolve_interval = \"5s\"\n"),
                LISTEN,
                &["link.resolve_interval"],
            ),
            (
                "inner-dials with too many connections",
                format!("{inner_dials}connections_per_edge = 0\n"),
                None,
                &["link.connections_per_edge"],
            ),
            (
                "an unknown mode",
                format!("mode = \"both\"\n{edge_dials}"),
                LISTEN,
                &["link.mode"],
            ),
        ];
        for (name, text, listen, want) in cases {
            let (mode, keys) = check(dir.path(), text, *listen);
            assert_eq!(&keys, want, "{name}");
            if want.is_empty() {
                assert!(mode.is_some(), "{name}");
            }
        }
    }

    #[test]
    fn inner_dials_defaults_keep_two_connections_and_back_off_from_100ms_to_5s() {
        let dir = pki();
        let text = format!(
            "mode = \"inner-dials\"\n{FILES}edges = [\"edge:7443\"]\nedge_server_name = \"rampart-edge\"\n"
        );
        let (mode, _) = check(dir.path(), &text, None);
        let Some(LinkMode::InnerDials(d)) = mode else {
            panic!("not inner-dials");
        };
        assert_eq!(d.connections_per_edge, 2);
        assert_eq!(d.redial_min, Duration::from_millis(100));
        assert_eq!(d.redial_max, Duration::from_secs(5));
        assert_eq!(d.edges, ["edge:7443"]);
    }
}

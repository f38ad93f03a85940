//! Both tiers as real processes with fresh certificates, in front of a given upstream.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rampart_tls::pki::{LeafSpec, Usage, write_file};

use crate::pki::TestPki;
use crate::process::TierProcess;

/// Where the tier binaries are.
#[derive(Debug, Clone)]
pub struct Bins {
    pub edge: PathBuf,
    pub inner: PathBuf,
}

/// Knobs of a test deployment.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Base URL of the backend.
    pub upstream: String,
    /// The edge's link client certificate.
    pub edge_client: LeafSpec,
    /// Identities the inner accepts.
    pub allowed_identities: Vec<String>,
    /// Point the edge at this address instead of the inner (e.g. a closed port).
    pub edge_endpoints_override: Option<Vec<String>>,
    /// Extra endpoints appended to the edge's list (e.g. a dead one).
    pub edge_endpoints_extra: Vec<String>,
    /// Start no inner process at all.
    pub without_inner: bool,
    /// Inner processes to start (all in the edge's endpoint list).
    pub inner_replicas: usize,
    pub first_byte_timeout: &'static str,
    pub total_timeout: &'static str,
    pub drain_timeout: &'static str,
    /// The `[[routes]]` of inner.toml (default: everything to upstream `app`).
    pub routes: String,
    /// Extra TOML appended to inner.toml.
    pub inner_extra: String,
    /// More keys for the inner's `[server]`.
    pub inner_server_extra: String,
    /// Wait until the edge reports ready.
    pub wait_ready: bool,
    /// The edge's `limits.max_body`.
    pub edge_max_body: &'static str,
    /// More keys for the edge's `[limits]`.
    pub edge_limits_extra: String,
    /// More keys for the edge's `[server]`.
    pub edge_server_extra: String,
    /// More sections appended to the edge's file (`[[routes]]`, ...).
    pub edge_extra: String,
    /// More keys for the edge's `[tls]` (after `cert` and `key`).
    pub edge_tls_extra: String,
    /// `inner-dials` link mode: the edge listens on a link port and the inner replicas
    /// dial it (no inner link listener); the edge is started first.
    pub inner_dials: bool,
}

impl StackOptions {
    pub fn new(upstream: String) -> Self {
        Self {
            upstream,
            edge_client: LeafSpec::new("rampart-edge", Usage::Client, 1),
            allowed_identities: vec!["rampart-edge".into()],
            edge_endpoints_override: None,
            edge_endpoints_extra: Vec::new(),
            without_inner: false,
            inner_replicas: 1,
            first_byte_timeout: "5s",
            total_timeout: "120s",
            drain_timeout: "10s",
            // Passthrough scenarios carry arbitrary bytes of any size: opaque bodies are
            // allowed and bodies over the inspection limit stream on uninspected.
            routes: concat!(
                "[[routes]]\nname = \"default\"\npath_prefix = \"/\"\nupstream = \"app\"\n",
                "inspection = { allow_opaque = true, oversize = \"stream\" }\n"
            )
            .into(),
            inner_extra: String::new(),
            inner_server_extra: String::new(),
            wait_ready: true,
            edge_max_body: "2GiB",
            edge_limits_extra: String::new(),
            edge_server_extra: String::new(),
            edge_extra: String::new(),
            edge_tls_extra: String::new(),
            inner_dials: false,
        }
    }
}

pub struct Stack {
    pub pki: TestPki,
    pub inner: Option<TierProcess>,
    /// Inner replicas beyond the first.
    pub replicas: Vec<TierProcess>,
    pub edge: TierProcess,
}

fn quoted(list: &[String]) -> String {
    list.iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The edge's file around its `[inner]` section.
fn edge_toml(opts: &StackOptions, public: (&Path, &Path), inner: &str) -> String {
    format!(
        r#"[server]
http_listen = "127.0.0.1:0"
https_listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
drain_timeout = "{drain}"
{server_extra}

[tls]
cert = {edge_cert:?}
key = {edge_key:?}
{tls_extra}

[inner]
{inner}connect_timeout = "1s"
health_interval = "500ms"

[limits]
max_body = "{max_body}"
{limits_extra}

{edge_extra}
"#,
        server_extra = opts.edge_server_extra,
        edge_extra = opts.edge_extra,
        tls_extra = opts.edge_tls_extra,
        max_body = opts.edge_max_body,
        limits_extra = opts.edge_limits_extra,
        drain = opts.drain_timeout,
        edge_cert = public.0.display().to_string(),
        edge_key = public.1.display().to_string(),
    )
}

/// The inner's file around its link settings (`server_link`: keys of `[server]`).
fn inner_toml(opts: &StackOptions, server_link: &str, link: &str) -> String {
    format!(
        r#"[server]
{server_link}admin_listen = "127.0.0.1:0"
drain_timeout = "{drain}"
{server_extra}

[link]
{link}
[upstreams.app]
addresses = ["{upstream}"]
connect_timeout = "1s"
first_byte_timeout = "{fbt}"
total_timeout = "{total}"

{routes}
{extra}"#,
        drain = opts.drain_timeout,
        server_extra = opts.inner_server_extra,
        upstream = opts.upstream,
        fbt = opts.first_byte_timeout,
        total = opts.total_timeout,
        routes = opts.routes,
        extra = opts.inner_extra,
    )
}

impl Stack {
    pub fn start(bins: &Bins, opts: &StackOptions) -> Self {
        let pki = TestPki::new();
        let dir = pki.path().to_owned();
        let ca = pki.ca_path.display().to_string();
        let (edge_cert, edge_key) = pki.server("edge-server", "localhost");
        let public = (edge_cert.as_path(), edge_key.as_path());
        let stack = if opts.inner_dials {
            // The edge listens first; the inner replicas dial it and bind no link port.
            let (cert, key) = pki.server("edge-link", "rampart-edge");
            let inner = format!(
                "mode = \"inner-dials\"\nlisten = \"127.0.0.1:0\"\nca = {ca:?}\ncert = {cert:?}\nkey = {key:?}\nallowed_identities = [\"rampart-inner\"]\n",
                cert = cert.display().to_string(),
                key = key.display().to_string(),
            );
            let path = dir.join("edge.toml");
            write_file(&path, &edge_toml(opts, public, &inner), false).unwrap();
            let edge = TierProcess::start(
                "edge",
                &bins.edge,
                &path,
                &["http", "https", "admin", "link"],
            );
            let (cert, key) = pki.client("inner-client", "rampart-inner");
            let link = format!(
                "mode = \"inner-dials\"\nca = {ca:?}\ncert = {cert:?}\nkey = {key:?}\nedges = [\"{edge}\"]\nedge_server_name = \"rampart-edge\"\n",
                cert = cert.display().to_string(),
                key = key.display().to_string(),
                edge = edge.addr("link"),
            );
            let path = dir.join("inner.toml");
            write_file(&path, &inner_toml(opts, "", &link), false).unwrap();
            let mut inners: Vec<TierProcess> = if opts.without_inner {
                Vec::new()
            } else {
                (0..opts.inner_replicas.max(1))
                    .map(|i| {
                        TierProcess::start(&format!("inner{i}"), &bins.inner, &path, &["admin"])
                    })
                    .collect()
            };
            let inner = (!inners.is_empty()).then(|| inners.remove(0));
            Self {
                pki,
                inner,
                replicas: inners,
                edge,
            }
        } else {
            let (inner_cert, inner_key) = pki.server("inner-server", "rampart-inner");
            let (client_cert, client_key) = pki.issue("edge-client", &opts.edge_client);
            let link = format!(
                "ca = {ca:?}\ncert = {cert:?}\nkey = {key:?}\nallowed_identities = [{allowed}]\n",
                cert = inner_cert.display().to_string(),
                key = inner_key.display().to_string(),
                allowed = quoted(&opts.allowed_identities),
            );
            let inner = (!opts.without_inner).then(|| {
                let path = dir.join("inner.toml");
                let config = inner_toml(opts, "link_listen = \"127.0.0.1:0\"\n", &link);
                write_file(&path, &config, false).unwrap();
                path
            });
            let mut inners: Vec<TierProcess> = match &inner {
                Some(path) => (0..opts.inner_replicas.max(1))
                    .map(|i| {
                        TierProcess::start(
                            &format!("inner{i}"),
                            &bins.inner,
                            path,
                            &["link", "admin"],
                        )
                    })
                    .collect(),
                None => Vec::new(),
            };
            let mut endpoints = match &opts.edge_endpoints_override {
                Some(list) => list.clone(),
                None => inners.iter().map(|i| i.addr("link").to_string()).collect(),
            };
            endpoints.extend(opts.edge_endpoints_extra.iter().cloned());
            assert!(!endpoints.is_empty(), "no inner and no endpoint override");
            let inner = (!inners.is_empty()).then(|| inners.remove(0));
            let section = format!(
                "endpoints = [{endpoints}]\nserver_name = \"rampart-inner\"\nca = {ca:?}\nclient_cert = {client_cert:?}\nclient_key = {client_key:?}\n",
                endpoints = quoted(&endpoints),
                client_cert = client_cert.display().to_string(),
                client_key = client_key.display().to_string(),
            );
            let path = dir.join("edge.toml");
            write_file(&path, &edge_toml(opts, public, &section), false).unwrap();
            let edge = TierProcess::start("edge", &bins.edge, &path, &["http", "https", "admin"]);
            Self {
                pki,
                inner,
                replicas: inners,
                edge,
            }
        };
        if opts.wait_ready {
            stack.wait_ready(Duration::from_secs(10));
        }
        stack
    }

    /// The inner tier's configuration file (to start another replica with).
    pub fn inner_config(&self) -> std::path::PathBuf {
        self.pki.path().join("inner.toml")
    }

    /// Blocks until the edge's `/readyz` answers 200.
    pub fn wait_ready(&self, timeout: Duration) {
        let admin = self.edge.addr("admin");
        let deadline = Instant::now() + timeout;
        loop {
            let reply = blocking_get(admin, "/readyz");
            if reply.starts_with("HTTP/1.1 200") {
                return;
            }
            assert!(Instant::now() < deadline, "edge not ready: {reply:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn http(&self) -> SocketAddr {
        self.edge.addr("http")
    }

    pub fn https(&self) -> SocketAddr {
        self.edge.addr("https")
    }
}

/// A blocking GET (usable from sync and async tests alike), returning the raw reply.
pub fn blocking_get(addr: SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut tcp) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return String::new();
    };
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    );
    let mut out = Vec::new();
    let _ = tcp.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

//! `rampart up`: the whole product on one machine, for a first look and for benchmarks.
//!
//! Generates a development PKI and both configs in a working directory, starts
//! `rampart inner` and `rampart edge` as two separate child processes (the same
//! mutual-TLS gRPC link as a real deployment), and, unless `--upstream` is given, a
//! demo backend in this process. Ctrl-C or SIGTERM stops all three.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rampart_tls::pki::{DevNames, write_dev_pki, write_file};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

#[derive(Debug, clap::Args)]
pub(crate) struct UpArgs {
    /// Plaintext HTTP listener of the edge.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// HTTPS listener of the edge.
    #[arg(long, default_value = "127.0.0.1:8443")]
    tls_listen: SocketAddr,
    /// HTTP/3 (QUIC, UDP) listener of the edge; off unless given.
    #[arg(long)]
    h3_listen: Option<SocketAddr>,
    /// Backend to protect (http://host:port or https://host:port); default: a demo backend.
    #[arg(long)]
    upstream: Option<String>,
    /// CA bundle for an https:// upstream.
    #[arg(long)]
    upstream_ca: Option<PathBuf>,
    /// Working directory for certificates and configs (default: a temporary one).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Log format of both tiers: json or pretty.
    #[arg(long, default_value = "pretty")]
    log_format: String,
    /// Log level of both tiers.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// clamd to scan uploads with: host:port or a unix socket path (default: the
    /// system clamd socket when one exists).
    #[arg(long)]
    clamd: Option<String>,
    /// ICAP antivirus service to scan uploads with (icap://host:port/service).
    #[arg(long)]
    icap: Option<String>,
    /// Who opens the link: the edge dials the inner, or the inner dials out to the
    /// edge (the LAN side then listens for nothing from the DMZ).
    #[arg(long, value_enum, default_value_t = LinkMode::EdgeDials)]
    link: LinkMode,
    /// Edge policy sections (screening, rate_limit, ip_lists, ip_policy, routes...)
    /// appended to the generated edge config; relative paths in it resolve against
    /// `--dir`. Its `[server]` keys (connection caps, timeouts) join the generated
    /// table; the listeners, `[tls]` and `[inner]` are `up`'s own.
    #[arg(long)]
    edge_policy: Option<PathBuf>,
}

/// `--link`: the link mode both generated configs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LinkMode {
    /// The edge connects to the inner's link listener.
    EdgeDials,
    /// The inner connects to the edge's link listener; the inner binds no link port.
    InnerDials,
}

/// Where Debian's clamav-daemon listens.
const SYSTEM_CLAMD_SOCKET: &str = "/run/clamav/clamd.ctl";

/// The `[antivirus]` section for the engines given or found; empty when none.
fn antivirus_toml(clamd: Option<&str>, icap: Option<&str>) -> String {
    let clamd = clamd.map(str::to_owned).or_else(|| {
        Path::new(SYSTEM_CLAMD_SOCKET)
            .exists()
            .then(|| SYSTEM_CLAMD_SOCKET.to_owned())
    });
    let mut out = String::new();
    if clamd.is_none() && icap.is_none() {
        return out;
    }
    out.push_str("\n[antivirus]\n");
    if let Some(clamd) = clamd {
        let key = if clamd.starts_with('/') {
            "socket"
        } else {
            "address"
        };
        out.push_str(&format!("[antivirus.clamd]\n{key} = {clamd:?}\n"));
    }
    if let Some(icap) = icap {
        out.push_str(&format!("[antivirus.icap]\nurl = {icap:?}\n"));
    }
    out
}

async fn free_port() -> anyhow::Result<u16> {
    // Bind-and-release: good enough for a local demo; the tiers bind right after.
    Ok(TcpListener::bind("127.0.0.1:0").await?.local_addr()?.port())
}

/// The inner's link settings: `[server]` keys, then the `[link]` section.
fn inner_link_toml(mode: LinkMode, link: u16) -> (String, String) {
    match mode {
        LinkMode::EdgeDials => (
            format!("link_listen = \"127.0.0.1:{link}\"\n"),
            r#"[link]
ca = "pki/ca.pem"
cert = "pki/inner-server.pem"
key = "pki/inner-server.key"
allowed_identities = ["rampart-edge"]
"#
            .to_owned(),
        ),
        LinkMode::InnerDials => (
            String::new(),
            format!(
                r#"[link]
# The inner dials the edge; nothing here listens for the DMZ.
mode = "inner-dials"
ca = "pki/ca.pem"
cert = "pki/inner-client.pem"
key = "pki/inner-client.key"
edges = ["127.0.0.1:{link}"]
edge_server_name = "rampart-edge"
"#
            ),
        ),
    }
}

fn inner_toml(
    (mode, link): (LinkMode, u16),
    admin: u16,
    upstream: &str,
    upstream_ca: Option<&Path>,
    antivirus: &str,
) -> String {
    let ca = upstream_ca.map_or(String::new(), |p| {
        format!("tls_ca = {:?}\n", p.display().to_string())
    });
    let (server_link, link_section) = inner_link_toml(mode, link);
    format!(
        r#"# Generated by `rampart up`. Annotated reference: deploy/examples/inner.toml
[server]
{server_link}admin_listen = "127.0.0.1:{admin}"

{link_section}
[upstreams.app]
addresses = ["{upstream}"]
{ca}
[[routes]]
name = "default"
host = "*"
path_prefix = "/"
upstream = "app"
# Bodies of types Rampart does not parse are still scanned, not refused.
inspection = {{ allow_opaque = true }}

# GraphQL's usual endpoint: JSON bodies are GraphQL requests and a document in the URL
# (GET ?query=) meets the same depth, alias, field and directive limits.
[[routes]]
name = "graphql"
host = "*"
path_prefix = "/graphql"
upstream = "app"
inspection = {{ allow_opaque = true, graphql = true }}
{antivirus}"#
    )
}

fn edge_toml(
    listen: SocketAddr,
    tls_listen: SocketAddr,
    admin: u16,
    (mode, link): (LinkMode, u16),
    server_lines: &str,
) -> String {
    let inner = match mode {
        LinkMode::EdgeDials => format!(
            r#"endpoints = ["127.0.0.1:{link}"]
server_name = "rampart-inner"
ca = "pki/ca.pem"
client_cert = "pki/edge-client.pem"
client_key = "pki/edge-client.key"
"#
        ),
        LinkMode::InnerDials => format!(
            r#"# The inner dials in: the edge listens and accepts only the inner's identity.
mode = "inner-dials"
listen = "127.0.0.1:{link}"
ca = "pki/ca.pem"
cert = "pki/edge-link.pem"
key = "pki/edge-link.key"
allowed_identities = ["rampart-inner"]
"#
        ),
    };
    format!(
        r#"# Generated by `rampart up`. Annotated reference: deploy/examples/edge.toml
[server]
http_listen = "{listen}"
https_listen = "{tls_listen}"
admin_listen = "127.0.0.1:{admin}"
{server_lines}
[tls]
cert = "pki/edge-server.pem"
key = "pki/edge-server.key"

[inner]
{inner}"#
    )
}

fn validate_upstream(url: &str) -> anyhow::Result<()> {
    let uri: http::Uri = url.parse().context("--upstream is not a URL")?;
    let ok = matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.authority().is_some()
        && uri.path_and_query().is_none_or(|pq| pq.as_str() == "/");
    if !ok {
        bail!("--upstream must look like http://host:port (no path)");
    }
    Ok(())
}

async fn is_ready(admin: u16) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect(("127.0.0.1", admin)).await?;
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(reply.starts_with(b"HTTP/1.1 200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Ok(true))
    )
}

fn spawn_tier(tier: &str, config: &Path, args: &UpArgs) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("cannot locate the rampart executable")?;
    Command::new(exe)
        .arg(tier)
        .arg("--config")
        .arg(config)
        .args([
            "--log-format",
            &args.log_format,
            "--log-level",
            &args.log_level,
        ])
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start the {tier} tier"))
}

async fn stop(child: &mut Child, name: &str) {
    if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
    if tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .is_err()
    {
        eprintln!("rampart up: {name} did not stop in time; killing it");
        let _ = child.kill().await;
    }
}

#[allow(clippy::print_stdout)]
fn banner(args: &UpArgs, dir: &Path, upstream: &str, demo: bool) {
    let ca = dir.join("pki/ca.pem");
    let http = args.listen;
    let https = args.tls_listen;
    let host = if https.ip().is_loopback() {
        "localhost".to_owned()
    } else {
        https.ip().to_string()
    };
    println!();
    let link = match args.link {
        LinkMode::EdgeDials => "edge -> mutual-TLS gRPC -> inner",
        LinkMode::InnerDials => "edge <- mutual-TLS link dialled by the inner <- inner",
    };
    println!(
        "Rampart is up: {link} -> {}",
        if demo { "demo backend" } else { "upstream" }
    );
    println!("  HTTP   http://{http}");
    println!(
        "  HTTPS  https://{host}:{}   (CA: {})",
        https.port(),
        ca.display()
    );
    println!("  backend {upstream}");
    println!("  configs and certificates: {}", dir.display());
    println!();
    println!("Try:");
    println!("  curl -i http://{http}/hello?name=world");
    println!(
        "  curl -i --cacert {} https://{host}:{}/hello",
        ca.display(),
        https.port()
    );
    println!(
        "  curl -i --http2 --cacert {} -X POST -H 'content-type: application/json' -d '{{\"plan\":\"pro\"}}' https://{host}:{}/orders",
        ca.display(),
        https.port()
    );
    println!();
    println!("Ctrl-C stops everything.");
}

pub(crate) fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    if let Some(url) = &args.upstream {
        validate_upstream(url)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(up(args))
}

async fn up(args: UpArgs) -> anyhow::Result<ExitCode> {
    // Listen for SIGTERM/SIGINT before any child exists: a signal that arrives during
    // start-up must stop the children too, not kill this process and orphan them.
    let stop_signal = rampart_service::shutdown::on_termination_signal();
    let (dir, temporary) = match &args.dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("rampart-up-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_dev_pki(&dir.join("pki"), &DevNames::default())?;

    let (upstream, demo) = match &args.upstream {
        Some(url) => (url.trim_end_matches('/').to_owned(), false),
        None => {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            tokio::spawn(crate::demo::serve(listener, false));
            (format!("http://{addr}"), true)
        }
    };
    let (link, edge_admin, inner_admin) =
        (free_port().await?, free_port().await?, free_port().await?);
    let inner_config = dir.join("inner.toml");
    let edge_config = dir.join("edge.toml");
    write_file(
        &inner_config,
        &inner_toml(
            (args.link, link),
            inner_admin,
            &upstream,
            args.upstream_ca.as_deref(),
            &antivirus_toml(args.clamd.as_deref(), args.icap.as_deref()),
        ),
        false,
    )?;
    let edge_policy = match &args.edge_policy {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read --edge-policy {}", file.display()))?;
            crate::edge_policy::split(file, &text)?
        }
        None => crate::edge_policy::EdgePolicy {
            server_lines: String::new(),
            appended: String::new(),
        },
    };
    write_file(
        &edge_config,
        &(edge_toml(
            args.listen,
            args.tls_listen,
            edge_admin,
            (args.link, link),
            &edge_policy.server_lines,
        ) + &args
            .h3_listen
            .map(|h3| format!("\n[http3]\nenabled = true\nlisten = \"{h3}\"\n"))
            .unwrap_or_default()
            + &edge_policy.appended),
        false,
    )?;

    // Whoever listens starts first, so the other's first dial finds it.
    let (mut inner, mut edge) = match args.link {
        LinkMode::EdgeDials => {
            let inner = spawn_tier("inner", &inner_config, &args)?;
            (inner, spawn_tier("edge", &edge_config, &args)?)
        }
        LinkMode::InnerDials => {
            let edge = spawn_tier("edge", &edge_config, &args)?;
            (spawn_tier("inner", &inner_config, &args)?, edge)
        }
    };

    let started = Instant::now();
    let ready = loop {
        if stop_signal.is_signalled() {
            break false;
        }
        if is_ready(edge_admin).await {
            break true;
        }
        if started.elapsed() > Duration::from_secs(30) {
            break false;
        }
        if let Ok(Some(status)) = inner.try_wait() {
            bail!("the inner tier exited during start-up ({status}); see its log above");
        }
        if let Ok(Some(status)) = edge.try_wait() {
            bail!("the edge tier exited during start-up ({status}); see its log above");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let code = if ready {
        banner(&args, &dir, &upstream, demo);
        tokio::select! {
            () = stop_signal.clone().signalled() => ExitCode::SUCCESS,
            status = inner.wait() => { eprintln!("rampart up: the inner tier exited ({status:?})"); ExitCode::FAILURE }
            status = edge.wait() => { eprintln!("rampart up: the edge tier exited ({status:?})"); ExitCode::FAILURE }
        }
    } else if stop_signal.is_signalled() {
        ExitCode::SUCCESS
    } else {
        eprintln!("rampart up: the edge did not become ready within 30 s");
        ExitCode::FAILURE
    };
    stop(&mut edge, "edge").await;
    stop(&mut inner, "inner").await;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(code)
}

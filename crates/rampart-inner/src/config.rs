//! `inner.toml`: raw structs as written by operators, validated into [`InnerConfig`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use rampart_core::config::{ConfigError, Problems, Sections, resolve};
use rustls::ClientConfig;
use serde::Deserialize;

use rampart_av::{AvConfig, RawAntivirus};
use rampart_core::routing::{HostMatch, Route, RouteTable};
use rampart_detect::Engine;

use crate::identity::{IdentityHeaders, RawIdentityHeaders};
pub use link::{InnerDials, LinkMode};
use link::{RawLink, validate_link};

mod link;
use crate::inspect::{
    self, InspectionPolicy,
    config::{RawInspection, RawRouteAntivirus},
};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    link_listen: Option<String>,
    admin_listen: Option<String>,
    handshake_timeout: Option<String>,
    drain_timeout: Option<String>,
    large_inspections: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpstream {
    #[serde(default)]
    addresses: Vec<String>,
    connect_timeout: Option<String>,
    first_byte_timeout: Option<String>,
    total_timeout: Option<String>,
    passive_cooldown: Option<String>,
    tls_ca: Option<PathBuf>,
    max_idle_per_address: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: Option<String>,
    #[serde(default = "any_host")]
    host: String,
    #[serde(default = "root")]
    path_prefix: String,
    upstream: Option<String>,
    #[serde(default)]
    inspection: RawInspection,
    antivirus: Option<RawRouteAntivirus>,
    openapi: Option<inspect::contract::RawOpenapi>,
    xml_schema: Option<inspect::xsd::RawXmlSchema>,
    response: Option<crate::response::RawResponse>,
}

fn any_host() -> String {
    "*".into()
}
fn root() -> String {
    "/".into()
}

/// The validated inner configuration.
#[derive(Clone)]
pub struct InnerConfig {
    /// Who opens the link connections: the edge (to `server.link_listen`) or this
    /// tier (to each edge), with the mutual-TLS configuration for that side.
    pub link: LinkMode,
    /// Admin listener.
    pub admin_listen: Option<SocketAddr>,
    /// Deadline for a link TLS handshake.
    pub handshake_timeout: Duration,
    /// How long in-flight exchanges may take after SIGTERM.
    pub drain_timeout: Duration,
    /// Bodies of 64 KiB and more inspected at once (`None`: four per core).
    pub large_inspections: Option<usize>,
    /// Named upstreams.
    pub upstreams: BTreeMap<String, UpstreamConfig>,
    /// Routes, matched by host and longest path prefix.
    pub routes: RouteTable<RoutePolicy>,
    /// The detection engine (built-in rules) every route's policy refers to.
    pub engine: Arc<Engine>,
    /// Antivirus engines, when configured.
    pub antivirus: Option<AvConfig>,
    /// Where the backend is told who the caller is.
    pub identity_headers: IdentityHeaders,
    /// Where audit records go (`[audit]`).
    pub audit: rampart_service::audit::AuditConfig,
    /// Who may use the admin API (`[admin]`).
    pub admin: rampart_service::admin::AdminConfig,
    /// The file this configuration was loaded from (what a reload reads again).
    pub source: std::path::PathBuf,
    /// How often the file and the files it names are checked for changes
    /// (`reload_interval`); `None`: no watch (SIGHUP and the admin API still reload).
    pub reload_interval: Option<Duration>,
    /// The edge policy this tier signs and pushes (`[push]`), when configured.
    pub push: Option<crate::push::PushConfig>,
}

/// What the inner tier does for requests on one route.
#[derive(Debug, Clone)]
pub struct RoutePolicy {
    /// The upstream group that serves the route.
    pub upstream: String,
    /// Parsing, detection and antivirus before forwarding.
    pub inspection: InspectionPolicy,
    /// Security headers and checks of the backend's responses (`[routes.response]`).
    pub(crate) response: Arc<crate::response::ResponsePolicy>,
}

/// One upstream group.
#[derive(Clone)]
pub struct UpstreamConfig {
    /// Base URIs (`http://host:port` or `https://host:port`).
    pub addresses: Vec<Uri>,
    /// Deadline for the TCP (and TLS) connect.
    pub connect_timeout: Duration,
    /// Deadline for the response head.
    pub first_byte_timeout: Duration,
    /// Deadline for the whole exchange including the response body.
    pub total_timeout: Duration,
    /// How long an address that failed is skipped.
    pub passive_cooldown: Duration,
    /// TLS for `https://` addresses.
    pub tls: Option<Arc<ClientConfig>>,
    /// Idle connections kept per address.
    pub max_idle_per_address: usize,
}

impl InnerConfig {
    /// Reads and validates `file`, reporting every problem found.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        let mut sections = Sections::read(file)?;
        let mut p = Problems::default();
        let server: Option<RawServer> = sections.take("server", &mut p);
        let link: Option<RawLink> = sections.take("link", &mut p);
        let upstreams: Option<BTreeMap<String, RawUpstream>> = sections.take("upstreams", &mut p);
        let routes: Option<Vec<RawRoute>> = sections.take("routes", &mut p);
        let inspection: Option<RawInspection> = sections.take("inspection", &mut p);
        let antivirus: Option<RawAntivirus> = sections.take("antivirus", &mut p);
        let identity_headers: Option<RawIdentityHeaders> =
            sections.take("identity_headers", &mut p);
        let audit: Option<rampart_service::audit::RawAuditConfig> = sections.take("audit", &mut p);
        let admin: Option<rampart_service::admin::RawAdminConfig> = sections.take("admin", &mut p);
        let reload_interval: Option<String> = sections.take("reload_interval", &mut p).flatten();
        let reload_interval =
            rampart_service::reload::validate_interval(&mut p, reload_interval.as_ref());
        let push: Option<crate::push::RawPush> = sections.take("push", &mut p).flatten();
        let integrations = rampart_service::alerts::RawIntegrations::take(&mut sections, &mut p);
        sections.finish(&mut p);
        let identity_headers = identity_headers.unwrap_or_default().validate(&mut p);
        let engine = Arc::new(Engine::builtin());
        let antivirus = antivirus.and_then(|a| a.validate(&mut p, "antivirus"));
        let base = file.parent().unwrap_or(Path::new("."));
        let defaults = RouteDefaults {
            base,
            inspection: inspection.unwrap_or_default(),
            av_engines: antivirus.as_ref().map_or((false, false), |a| {
                (a.clamd().is_some(), a.icap().is_some())
            }),
            engine: &engine,
        };
        // Each section is validated even when another is broken, so one run shows all.
        let link = match (&server, &link) {
            (Some(s), Some(l)) => validate_link(&mut p, base, l, s.link_listen.as_ref()),
            _ => None,
        };
        let server = server.map(|s| validate_server(&mut p, &s));
        let upstreams: Option<BTreeMap<String, UpstreamConfig>> = upstreams.map(|u| {
            u.iter()
                .filter_map(|(name, raw)| {
                    Some((name.clone(), validate_upstream(&mut p, base, name, raw)?))
                })
                .collect()
        });
        let routes = routes.map(|r| validate_routes(&mut p, &r, upstreams.as_ref(), &defaults));
        let ops = rampart_service::validate_ops_sections(&mut p, base, audit, admin, &integrations);
        // A broken `[push]` records its problems, which refuse the whole file.
        let push = push.and_then(|raw| crate::push::validate(&mut p, base, &raw));
        let config = match (server, link, upstreams, routes, ops) {
            (Some(server), Some(link), Some(upstreams), Some(routes), Some((audit, admin))) => {
                Some(InnerConfig {
                    link,
                    admin_listen: server.admin_listen,
                    handshake_timeout: server.handshake_timeout,
                    drain_timeout: server.drain_timeout,
                    large_inspections: server.large_inspections,
                    upstreams,
                    routes,
                    engine,
                    antivirus,
                    identity_headers,
                    audit,
                    admin,
                    source: file.to_owned(),
                    reload_interval,
                    push,
                })
            }
            _ => None,
        };
        p.finish(file, config)
    }
}

struct ServerSettings {
    admin_listen: Option<SocketAddr>,
    handshake_timeout: Duration,
    drain_timeout: Duration,
    large_inspections: Option<usize>,
}

fn validate_server(p: &mut Problems, server: &RawServer) -> ServerSettings {
    ServerSettings {
        admin_listen: p.socket_addr("server.admin_listen", server.admin_listen.as_ref()),
        handshake_timeout: p.duration_or(
            "server.handshake_timeout",
            server.handshake_timeout.as_ref(),
            Duration::from_secs(5),
        ),
        drain_timeout: p.duration_or(
            "server.drain_timeout",
            server.drain_timeout.as_ref(),
            Duration::from_secs(30),
        ),
        large_inspections: server.large_inspections.filter(|n| {
            let ok = (1..=inspect::slots::MAX_SLOTS).contains(n);
            if !ok {
                p.push(
                    "server.large_inspections",
                    format!("must be from 1 to {}", inspect::slots::MAX_SLOTS),
                );
            }
            ok
        }),
    }
}

/// What every route inherits.
struct RouteDefaults<'a> {
    /// The config file's directory (relative spec paths).
    base: &'a Path,
    inspection: RawInspection,
    av_engines: (bool, bool),
    engine: &'a Engine,
}

/// `upstreams` is `None` when that section is broken: names are then not cross-checked.
fn validate_routes(
    p: &mut Problems,
    routes: &[RawRoute],
    upstreams: Option<&BTreeMap<String, UpstreamConfig>>,
    defaults: &RouteDefaults<'_>,
) -> RouteTable<RoutePolicy> {
    let mut table = Vec::new();
    if routes.is_empty() {
        p.push("routes", "at least one [[routes]] entry is required");
    }
    for (i, raw) in routes.iter().enumerate() {
        let key = format!("routes[{i}]");
        let name = raw.name.clone().unwrap_or_else(|| format!("route-{i}"));
        match (&raw.upstream, upstreams) {
            (None, _) => p.push(format!("{key}.upstream"), "is required"),
            (Some(u), Some(known)) if !known.contains_key(u) => {
                p.push(
                    format!("{key}.upstream"),
                    format!("no upstream named {u:?}"),
                );
            }
            _ => {}
        }
        if !raw.path_prefix.starts_with('/') {
            p.push(format!("{key}.path_prefix"), "must start with '/'");
        }
        let host = HostMatch::parse(&raw.host)
            .map_err(|e| p.push(format!("{key}.host"), e))
            .ok();
        let inspection = inspect::config::validate(
            p,
            &key,
            &raw.inspection.over(&defaults.inspection),
            raw.antivirus.as_ref(),
            defaults.av_engines,
            defaults.engine,
        );
        let contract = raw.openapi.as_ref().and_then(|o| {
            let responses = crate::response::config::validates(raw.response.as_ref());
            inspect::contract::validate(p, &key, defaults.base, o, responses)
        });
        let response =
            crate::response::config::validate(p, &key, raw.response.as_ref(), contract.is_some());
        if let (Some(_), Some(inspection)) = (&contract, &inspection) {
            // The contract is checked on the inspected body: nothing may bypass it.
            if inspection.enforcement.is_none() {
                p.push(
                    format!("{key}.openapi"),
                    "needs inspection (inspection.mode is \"off\")",
                );
            }
            if inspection.oversize == inspect::Oversize::Stream {
                p.push(
                    format!("{key}.openapi"),
                    "needs inspection.oversize = \"refuse\" (streamed bodies are not checked)",
                );
            }
        }
        let xml_schema = raw
            .xml_schema
            .as_ref()
            .and_then(|x| inspect::xsd::validate(p, &key, defaults.base, x));
        if let (Some(_), Some(inspection)) = (&xml_schema, &inspection)
            && (inspection.enforcement.is_none()
                || inspection.oversize == inspect::Oversize::Stream)
        {
            // The schema sees the inspected body only: nothing may bypass it.
            p.push(
                format!("{key}.xml_schema"),
                "needs inspection on and inspection.oversize = \"refuse\"",
            );
        }
        let inspection = inspection.map(|mut i| {
            i.contract = contract;
            i.xml_schema = xml_schema;
            i
        });
        if let (Some(host), Some(upstream), Some(inspection), Some(response)) =
            (host, raw.upstream.clone(), inspection, response)
        {
            table.push(Route {
                name,
                host,
                path_prefix: raw.path_prefix.clone(),
                value: RoutePolicy {
                    upstream,
                    inspection,
                    response: Arc::new(response),
                },
            });
        }
    }
    RouteTable::new(table)
}

fn validate_upstream(
    p: &mut Problems,
    base: &Path,
    name: &str,
    raw: &RawUpstream,
) -> Option<UpstreamConfig> {
    let key = format!("upstreams.{name}");
    if raw.addresses.is_empty() {
        p.push(
            format!("{key}.addresses"),
            "at least one address is required",
        );
    }
    let mut addresses = Vec::new();
    let mut any_https = false;
    for (i, a) in raw.addresses.iter().enumerate() {
        let parsed = a.parse::<Uri>().ok().filter(|u| {
            matches!(u.scheme_str(), Some("http" | "https"))
                && u.authority().is_some()
                && u.path_and_query().is_none_or(|pq| pq.as_str() == "/")
        });
        match parsed {
            Some(uri) => {
                any_https |= uri.scheme_str() == Some("https");
                addresses.push(uri);
            }
            None => p.push(
                format!("{key}.addresses[{i}]"),
                format!("{a:?} is not http://host:port or https://host:port (no path)"),
            ),
        }
    }
    let tls = match (&raw.tls_ca, any_https) {
        (Some(ca), _) => rampart_tls::load_roots(&resolve(base, ca))
            .and_then(rampart_tls::upstream_client_config)
            .map_err(|e| p.push(format!("{key}.tls_ca"), e))
            .ok()
            .map(Arc::new),
        (None, true) => {
            p.push(
                format!("{key}.tls_ca"),
                "https addresses need the CA that signed the backend certificates",
            );
            None
        }
        (None, false) => None,
    };
    Some(UpstreamConfig {
        addresses,
        connect_timeout: p.duration_or(
            &format!("{key}.connect_timeout"),
            raw.connect_timeout.as_ref(),
            Duration::from_secs(2),
        ),
        first_byte_timeout: p.duration_or(
            &format!("{key}.first_byte_timeout"),
            raw.first_byte_timeout.as_ref(),
            Duration::from_secs(30),
        ),
        total_timeout: p.duration_or(
            &format!("{key}.total_timeout"),
            raw.total_timeout.as_ref(),
            Duration::from_secs(300),
        ),
        passive_cooldown: p.duration_or(
            &format!("{key}.passive_cooldown"),
            raw.passive_cooldown.as_ref(),
            Duration::from_secs(10),
        ),
        tls,
        max_idle_per_address: raw.max_idle_per_address.unwrap_or(64),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::InnerConfig;

    #[test]
    fn large_inspections_must_be_a_usable_bound() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("inner.toml");
        for (value, problem) in [
            ("0", Some("must be from 1 to 4096")),
            ("4097", Some("must be from 1 to 4096")),
            ("-1", Some("large_inspections")),
            ("\"8\"", Some("large_inspections")),
            ("1", None),
            ("4096", None),
        ] {
            std::fs::write(&file, format!("[server]\nlarge_inspections = {value}\n")).unwrap();
            // The rest of the file is missing: only whether this key is named matters.
            let err = InnerConfig::load(&file).err().unwrap().to_string();
            assert!(err.contains("inner.toml"), "{err}");
            match problem {
                Some(problem) => assert!(err.contains(problem), "{value}: {err}"),
                None => assert!(!err.contains("large_inspections"), "{value}: {err}"),
            }
        }
    }
}

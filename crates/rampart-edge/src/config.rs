//! `edge.toml`: raw structs as written by operators, validated into [`EdgeConfig`].
//!
//! The edge holds no backend addresses and no LAN secrets: only how to reach the inner
//! tier and the credentials for that link.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rampart_core::config::{ConfigError, Problems, Sections, resolve};
use rampart_core::units::ByteSize;
use rustls::ServerConfig;
use serde::Deserialize;

use rampart_core::routing::{HostMatch, Route, RouteTable};

use rampart_http::IpPolicy;
use rampart_http::iplist::IpPolicyConfig;
use rampart_ratelimit::{RateLimitConfig, RawRateLimit};
use rampart_tls::PrincipalRule;

use crate::auth::{ClientCertMode, RawBearer, RawRouteAuth, RouteAuth};
use crate::capacity::CapacityLimits;
pub use crate::certs::EdgeTls;
use crate::limits::Limits;
use crate::protect::{
    self, Protections, RawProtections, RawScreening, ScreeningSettings, validate_ip_policy,
    validate_screening,
};
use crate::rules::{MediaPattern, RequestRules};
pub use inner::{EdgeDials, InnerDials, InnerLinkConfig, LinkMode};
use inner::{RawInner, validate_inner};

mod inner;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    http_listen: Option<String>,
    https_listen: Option<String>,
    admin_listen: Option<String>,
    tls_handshake_timeout: Option<String>,
    header_read_timeout: Option<String>,
    drain_timeout: Option<String>,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    max_requests_in_flight: Option<usize>,
    idle_timeout: Option<String>,
    write_stall_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    #[serde(default)]
    certificates: Vec<RawCertificate>,
    reload_interval: Option<String>,
    expiry_warning: Option<String>,
    client_auth: Option<RawClientAuth>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCertificate {
    name: Option<String>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    server_names: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClientAuth {
    ca: Option<PathBuf>,
    #[serde(default)]
    crls: Vec<PathBuf>,
    principal: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_request_target: Option<String>,
    max_headers: Option<usize>,
    max_header_bytes: Option<String>,
    max_body: Option<String>,
    body_timeout: Option<String>,
    min_body_rate: Option<String>,
    body_rate_grace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: Option<String>,
    host: Option<String>,
    path_prefix: Option<String>,
    #[serde(default)]
    methods: Vec<String>,
    #[serde(default)]
    content_types: Vec<String>,
    max_query_params: Option<usize>,
    max_body: Option<String>,
    screening: Option<RawScreening>,
    ip_policy: Option<IpPolicyConfig>,
    auth: Option<rampart_identity::policy::RawAuthPolicy>,
    #[serde(default)]
    client_cert: ClientCertMode,
    bearer: Option<RawBearer>,
    #[serde(default)]
    keep_credentials: bool,
    api_version: Option<String>,
    lifecycle: Option<crate::lifecycle::RawLifecycle>,
}

/// What the edge enforces on one route, beyond the global `[limits]`.
#[derive(Debug, Clone, Default)]
pub struct RouteSettings {
    /// Methods, media types and query parameters the route accepts.
    pub rules: RequestRules,
    /// A body limit for this route, replacing `limits.max_body`.
    pub max_body: Option<ByteSize>,
    /// Screening for this route, replacing `[screening]`.
    pub screening: Option<ScreeningSettings>,
    /// An address policy for this route, applied after the global one.
    pub ip_policy: Option<Arc<IpPolicy>>,
    /// Who may call the route.
    pub auth: RouteAuth,
    /// The API version the route serves (a label, e.g. `v1`).
    pub api_version: Option<String>,
    /// Deprecated or retired: lifecycle headers, or 410 from the edge.
    pub lifecycle: Option<Arc<crate::lifecycle::Lifecycle>>,
}

/// The validated edge configuration.
#[derive(Clone)]
pub struct EdgeConfig {
    /// Plaintext HTTP listener (deployments behind a TLS-terminating load balancer).
    pub http_listen: Option<SocketAddr>,
    /// HTTPS listener.
    pub https_listen: Option<SocketAddr>,
    /// Admin listener (`/healthz`, `/readyz`).
    pub admin_listen: Option<SocketAddr>,
    /// Client-facing TLS, present when `https_listen` is.
    pub public_tls: Option<Arc<ServerConfig>>,
    /// The certificates behind `public_tls` (reloading, expiry) and client certificates.
    pub tls: Option<EdgeTls>,
    /// Deadline for a client's TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Deadline for a request head to arrive.
    pub header_read_timeout: Duration,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub drain_timeout: Duration,
    /// Connection and request caps, idle and write-stall deadlines.
    pub capacity: CapacityLimits,
    /// The link to the inner tier.
    pub inner: InnerLinkConfig,
    /// Request size limits.
    pub limits: Limits,
    /// Per-route settings; requests matching no route get the defaults.
    pub routes: RouteTable<RouteSettings>,
    /// Client address, address lists, screening and connection guards.
    pub protections: Protections,
    /// Rate limits, concurrency limits and quotas (`[rate_limit]`), when configured.
    pub rate_limit: Option<RateLimitConfig>,
    /// HTTP/3 on UDP (`[http3]`), when enabled.
    pub http3: Option<crate::h3::Http3Config>,
    /// API keys, users and revoked credentials (`[identity]`), loaded.
    pub identity: Option<Arc<rampart_identity::Identity>>,
    /// Token verification (`[oauth]`).
    pub oauth: Option<rampart_oauth::OAuthConfig>,
    /// Where audit records go (`[audit]`).
    pub audit: rampart_service::audit::AuditConfig,
    /// Who may use the admin API (`[admin]`).
    pub admin: rampart_service::admin::AdminConfig,
    /// The file this configuration was loaded from (what a reload reads again).
    pub source: PathBuf,
    /// How often the file and the files it names are checked for changes
    /// (`reload_interval`); `None`: no watch (SIGHUP and the admin API still reload).
    pub reload_interval: Option<Duration>,
    /// Policy pushed from the LAN (`[push]`), when enabled.
    pub push: Option<crate::push::PushConfig>,
}

/// The `[server]` section, validated.
struct ServerSettings {
    http_listen: Option<SocketAddr>,
    https_listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
    tls_handshake_timeout: Duration,
    header_read_timeout: Duration,
    drain_timeout: Duration,
    capacity: CapacityLimits,
}

impl EdgeConfig {
    /// Reads and validates `file`, reporting every problem found. Each section is
    /// validated even when another one is broken, so one run shows them all.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        Self::from_sections(file, Sections::read(file)?)
    }

    /// Validates `text` as if it were the contents of `file` (relative paths resolve
    /// against the file's directory): a file with pushed sections in place.
    pub(crate) fn parse(file: &Path, text: &str) -> Result<Self, ConfigError> {
        Self::from_sections(file, Sections::parse(file, text)?)
    }

    fn from_sections(file: &Path, mut sections: Sections) -> Result<Self, ConfigError> {
        let mut p = Problems::default();
        let server: Option<RawServer> = sections.take("server", &mut p);
        let tls: Option<RawTls> = sections.take("tls", &mut p);
        let inner: Option<RawInner> = sections.take("inner", &mut p);
        let limits: Option<RawLimits> = sections.take("limits", &mut p);
        let routes: Option<Vec<RawRoute>> = sections.take("routes", &mut p);
        let raw_protections = RawProtections {
            client_ip: sections.take("client_ip", &mut p),
            ip_lists: sections.take("ip_lists", &mut p),
            feeds: sections.take("feeds", &mut p),
            ip_policy: sections.take("ip_policy", &mut p),
            screening: sections.take("screening", &mut p),
            http1: sections.take("http1", &mut p),
            http2: sections.take("http2", &mut p),
        };
        let rate_limit: Option<RawRateLimit> = sections.take("rate_limit", &mut p);
        let http3: Option<crate::h3::RawHttp3> = sections.take("http3", &mut p);
        let identity: Option<rampart_identity::config::RawIdentity> =
            sections.take("identity", &mut p);
        let oauth: Option<rampart_oauth::RawOAuth> = sections.take("oauth", &mut p);
        let audit: Option<rampart_service::audit::RawAuditConfig> = sections.take("audit", &mut p);
        let admin: Option<rampart_service::admin::RawAdminConfig> = sections.take("admin", &mut p);
        let reload_interval: Option<String> = sections.take("reload_interval", &mut p).flatten();
        let reload_interval =
            rampart_service::reload::validate_interval(&mut p, reload_interval.as_ref());
        let rate_limit = rate_limit.map(|r| RateLimitConfig::validate(&mut p, &r));
        let push: Option<crate::push::RawPush> = sections.take("push", &mut p).flatten();
        let integrations = rampart_service::alerts::RawIntegrations::take(&mut sections, &mut p);
        sections.finish(&mut p);
        let base = file.parent().unwrap_or(Path::new("."));
        let https_wanted = server.as_ref().map(|s| s.https_listen.is_some());
        let settings = server.as_ref().map(|s| validate_server(&mut p, s));
        let http3 = http3
            .as_ref()
            .and_then(|h| crate::h3::validate(&mut p, h, https_wanted));
        let public_tls = tls
            .as_ref()
            .map(|t| validate_tls(&mut p, base, t, https_wanted));
        let inner = inner.as_ref().and_then(|i| validate_inner(&mut p, base, i));
        let limits = limits.as_ref().map(|l| validate_limits(&mut p, l));
        let protections = protect::validate(&mut p, base, raw_protections);
        let routes = validate_routes(
            &mut p,
            routes.as_deref().unwrap_or_default(),
            protections.as_ref(),
        );
        let identity = identity.map(|raw| crate::auth::load_identity(&mut p, base, &raw));
        let oauth = oauth.and_then(|raw| rampart_oauth::OAuthConfig::validate(&mut p, &raw));
        crate::auth::cross_check(
            &mut p,
            &routes,
            identity.as_ref().and_then(|i| i.as_deref()),
            oauth.is_some(),
            public_tls
                .as_ref()
                .and_then(Option::as_ref)
                .is_some_and(|t| t.client_auth.is_some()),
        );
        let ops = rampart_service::validate_ops_sections(&mut p, base, audit, admin, &integrations);
        // A broken `[push]` records its problems, which refuse the whole file.
        let push = push.and_then(|raw| crate::push::validate(&mut p, base, &raw));
        let config = match (settings, public_tls, inner, limits, protections, ops) {
            (
                Some(s),
                Some(tls),
                Some(inner),
                Some(limits),
                Some(protections),
                Some((audit, admin)),
            ) => Some(EdgeConfig {
                routes,
                protections,
                rate_limit,
                http3,
                identity: identity.flatten(),
                oauth,
                http_listen: s.http_listen,
                https_listen: s.https_listen,
                admin_listen: s.admin_listen,
                public_tls: tls.as_ref().map(|t| t.server_config.clone()),
                tls,
                tls_handshake_timeout: s.tls_handshake_timeout,
                header_read_timeout: s.header_read_timeout,
                drain_timeout: s.drain_timeout,
                capacity: s.capacity,
                inner,
                limits,
                audit,
                admin,
                source: file.to_owned(),
                reload_interval,
                push,
            }),
            _ => None,
        };
        p.finish(file, config)
    }
}

/// `protections` is `None` when those sections are broken: route screening and address
/// policies are then not checked.
fn validate_routes(
    p: &mut Problems,
    raw: &[RawRoute],
    protections: Option<&Protections>,
) -> RouteTable<RouteSettings> {
    let mut routes = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, r) in raw.iter().enumerate() {
        let key = format!("routes[{i}]");
        let name = r.name.clone().unwrap_or_else(|| format!("route-{i}"));
        if !names.insert(name.clone()) {
            p.push(
                format!("{key}.name"),
                format!("{name:?} is used by another route"),
            );
        }
        let path_prefix = r.path_prefix.clone().unwrap_or_else(|| "/".to_owned());
        if !path_prefix.starts_with('/') {
            p.push(format!("{key}.path_prefix"), "must start with '/'");
        }
        let host = HostMatch::parse(r.host.as_deref().unwrap_or("*"))
            .map_err(|e| p.push(format!("{key}.host"), e))
            .ok();
        let mut methods = Vec::new();
        for (j, m) in r.methods.iter().enumerate() {
            match http::Method::from_bytes(m.as_bytes()) {
                Ok(method) if m.bytes().all(|b| b.is_ascii_uppercase()) => methods.push(method),
                _ => p.push(
                    format!("{key}.methods[{j}]"),
                    format!("{m:?} is not an upper-case HTTP method"),
                ),
            }
        }
        let mut content_types = Vec::new();
        for (j, c) in r.content_types.iter().enumerate() {
            match MediaPattern::parse(c) {
                Ok(pattern) => content_types.push(pattern),
                Err(e) => p.push(format!("{key}.content_types[{j}]"), e),
            }
        }
        if r.max_query_params == Some(0) {
            p.push(format!("{key}.max_query_params"), "must be at least 1");
        }
        let max_body = r
            .max_body
            .as_ref()
            .and_then(|v| p.size(&format!("{key}.max_body"), v));
        let screening = match (&r.screening, protections) {
            (Some(raw), Some(prot)) => {
                validate_screening(p, &format!("{key}.screening"), raw, &prot.engine)
            }
            _ => None,
        };
        let ip_policy = match (&r.ip_policy, protections) {
            (Some(raw), Some(prot)) => {
                validate_ip_policy(p, &format!("{key}.ip_policy"), raw, &prot.ip_lists)
                    .map(Arc::new)
            }
            _ => None,
        };
        let raw_auth = RawRouteAuth {
            auth: r.auth.as_ref(),
            client_cert: r.client_cert,
            bearer: r.bearer.as_ref(),
            keep_credentials: r.keep_credentials,
        };
        let auth = RouteAuth::validate(p, &key, &raw_auth).unwrap_or_default();
        let api_version = r
            .api_version
            .as_deref()
            .and_then(|v| crate::lifecycle::validate_version(p, &format!("{key}.api_version"), v));
        let lifecycle = r.lifecycle.as_ref().and_then(|l| {
            crate::lifecycle::validate(p, &format!("{key}.lifecycle"), l).map(Arc::new)
        });
        if let Some(host) = host {
            routes.push(Route {
                name,
                host,
                path_prefix,
                value: RouteSettings {
                    rules: RequestRules {
                        methods,
                        content_types,
                        max_query_params: r.max_query_params,
                    },
                    max_body,
                    screening,
                    ip_policy,
                    auth,
                    api_version,
                    lifecycle,
                },
            });
        }
    }
    RouteTable::new(routes)
}

fn validate_limits(p: &mut Problems, raw: &RawLimits) -> Limits {
    let d = Limits::default();
    let limits = Limits {
        max_request_target: p.size_or(
            "limits.max_request_target",
            raw.max_request_target.as_ref(),
            d.max_request_target,
        ),
        max_headers: raw.max_headers.unwrap_or(d.max_headers),
        max_header_bytes: p.size_or(
            "limits.max_header_bytes",
            raw.max_header_bytes.as_ref(),
            d.max_header_bytes,
        ),
        max_body: p.size_or("limits.max_body", raw.max_body.as_ref(), d.max_body),
        body_timeout: p.duration_or(
            "limits.body_timeout",
            raw.body_timeout.as_ref(),
            d.body_timeout,
        ),
        min_body_rate: p.size_or(
            "limits.min_body_rate",
            raw.min_body_rate.as_ref(),
            d.min_body_rate,
        ),
        body_rate_grace: p.duration_or(
            "limits.body_rate_grace",
            raw.body_rate_grace.as_ref(),
            d.body_rate_grace,
        ),
    };
    if limits.max_headers == 0 || limits.max_headers > 1000 {
        p.push("limits.max_headers", "must be between 1 and 1000");
    }
    if limits.max_request_target < ByteSize::bytes(16) {
        p.push("limits.max_request_target", "must be at least 16B");
    }
    limits
}

fn validate_server(p: &mut Problems, server: &RawServer) -> ServerSettings {
    if server.http_listen.is_none() && server.https_listen.is_none() {
        p.push("server", "configure https_listen, http_listen or both");
    }
    ServerSettings {
        http_listen: p.socket_addr("server.http_listen", server.http_listen.as_ref()),
        https_listen: p.socket_addr("server.https_listen", server.https_listen.as_ref()),
        admin_listen: p.socket_addr("server.admin_listen", server.admin_listen.as_ref()),
        tls_handshake_timeout: p.duration_or(
            "server.tls_handshake_timeout",
            server.tls_handshake_timeout.as_ref(),
            Duration::from_secs(10),
        ),
        header_read_timeout: p.duration_or(
            "server.header_read_timeout",
            server.header_read_timeout.as_ref(),
            Duration::from_secs(10),
        ),
        drain_timeout: p.duration_or(
            "server.drain_timeout",
            server.drain_timeout.as_ref(),
            Duration::from_secs(30),
        ),
        capacity: validate_capacity(p, server),
    }
}

fn validate_capacity(p: &mut Problems, server: &RawServer) -> CapacityLimits {
    let d = CapacityLimits::default();
    let mut count = |key: &str, raw: Option<usize>, default: usize| {
        let value = raw.unwrap_or(default);
        if value == 0 {
            p.push(format!("server.{key}"), "must be at least 1");
        }
        value
    };
    let max_connections = count("max_connections", server.max_connections, d.max_connections);
    let max_connections_per_ip = count(
        "max_connections_per_ip",
        server.max_connections_per_ip,
        d.max_connections_per_ip,
    );
    let max_requests_in_flight = count(
        "max_requests_in_flight",
        server.max_requests_in_flight,
        d.max_requests_in_flight,
    );
    CapacityLimits {
        max_connections,
        max_connections_per_ip,
        max_requests_in_flight,
        idle_timeout: p.duration_or(
            "server.idle_timeout",
            server.idle_timeout.as_ref(),
            d.idle_timeout,
        ),
        write_stall_timeout: p.duration_or(
            "server.write_stall_timeout",
            server.write_stall_timeout.as_ref(),
            d.write_stall_timeout,
        ),
    }
}

/// `https_wanted` is `None` when `[server]` itself is broken: the certificates are then
/// checked if configured, without the cross-section rules.
fn validate_tls(
    p: &mut Problems,
    base: &Path,
    tls: &RawTls,
    https_wanted: Option<bool>,
) -> Option<EdgeTls> {
    let configured = tls.cert.is_some()
        || tls.key.is_some()
        || !tls.certificates.is_empty()
        || tls.client_auth.is_some();
    match https_wanted {
        Some(false) if configured => {
            p.push(
                "tls",
                "certificate configured but server.https_listen is not set",
            );
            return None;
        }
        Some(false) => return None,
        None if !configured => return None,
        _ => {}
    }
    let reload_interval = p.duration_or(
        "tls.reload_interval",
        tls.reload_interval.as_ref(),
        Duration::from_secs(30),
    );
    if reload_interval < Duration::from_millis(10) {
        p.push("tls.reload_interval", "must be at least 10ms");
    }
    let expiry_warning = p.duration_or(
        "tls.expiry_warning",
        tls.expiry_warning.as_ref(),
        Duration::from_secs(30 * 24 * 3600),
    );
    let cert = p.required("tls.cert", tls.cert.as_ref());
    let key = p.required("tls.key", tls.key.as_ref());
    let default = match (cert, key) {
        (Some(cert), Some(key)) => {
            let files = rampart_tls::CertifiedKeyFiles {
                cert: resolve(base, cert),
                key: resolve(base, key),
            };
            load_certificate(p, "tls", None, files, None, false)
        }
        _ => None,
    };
    let mut names = std::collections::BTreeSet::new();
    if let Some((source, _)) = &default {
        names.insert(source.name.clone());
    }
    let mut extra = Vec::new();
    let mut all_loaded = true;
    for (i, raw) in tls.certificates.iter().enumerate() {
        let key = format!("tls.certificates[{i}]");
        match validate_certificate(p, base, &key, raw) {
            Some(loaded) => {
                // The name labels metrics and logs: two certificates must not share one.
                if !names.insert(loaded.0.name.clone()) {
                    p.push(
                        format!("{key}.name"),
                        format!("{:?} names another certificate too", loaded.0.name),
                    );
                }
                extra.push(loaded);
            }
            None => all_loaded = false,
        }
    }
    let client_auth = tls
        .client_auth
        .as_ref()
        .map(|raw| validate_client_auth(p, base, raw));
    let client_auth = match client_auth {
        Some(Some(auth)) => Some(auth),
        Some(None) => return None,
        None => None,
    };
    let default = default?;
    if !all_loaded {
        return None;
    }
    let store = rampart_tls::CertStore::new(default, extra);
    let (crls, rules) = client_auth.unzip();
    let verifier = crls.as_ref().map(rampart_tls::ClientAuthStore::verifier);
    let server_config = rampart_tls::public_server_config_with(store.resolver(), verifier)
        .map_err(|e| p.push("tls", e))
        .ok()?;
    Some(EdgeTls {
        server_config: Arc::new(server_config),
        certs: Arc::new(std::sync::Mutex::new(store)),
        crls: crls.map(|c| Arc::new(std::sync::Mutex::new(c))),
        reload_interval,
        expiry_warning,
        client_auth: rules,
    })
}

/// Loads one certificate now, so a broken file stops `--check` and start-up.
fn load_certificate(
    p: &mut Problems,
    key: &str,
    name: Option<&str>,
    files: rampart_tls::CertifiedKeyFiles,
    server_names: Option<Vec<rampart_tls::SniPattern>>,
    need_names: bool,
) -> Option<(rampart_tls::CertSource, rampart_tls::LoadedCert)> {
    let stem = files
        .cert
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned());
    let source = rampart_tls::CertSource {
        name: name
            .map(str::to_owned)
            .or(stem)
            .unwrap_or_else(|| key.to_owned()),
        files,
        server_names,
    };
    match rampart_tls::LoadedCert::load(&source, need_names) {
        Ok(loaded) => Some((source, loaded)),
        Err(e) => {
            p.push(key, e);
            None
        }
    }
}

fn validate_certificate(
    p: &mut Problems,
    base: &Path,
    key: &str,
    raw: &RawCertificate,
) -> Option<(rampart_tls::CertSource, rampart_tls::LoadedCert)> {
    if let Some(name) = &raw.name {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !valid {
            p.push(
                format!("{key}.name"),
                "1 to 64 characters: letters, digits, '-', '_', '.'",
            );
        }
    }
    let mut server_names = None;
    if let Some(raw_names) = &raw.server_names {
        if raw_names.is_empty() {
            p.push(
                format!("{key}.server_names"),
                "must name at least one server name (or be left out to use the certificate's)",
            );
        }
        let mut parsed = Vec::new();
        for (j, n) in raw_names.iter().enumerate() {
            match rampart_tls::SniPattern::parse(n) {
                Ok(pattern) => parsed.push(pattern),
                Err(e) => p.push(format!("{key}.server_names[{j}]"), e),
            }
        }
        server_names = Some(parsed);
    }
    let cert = p.required(&format!("{key}.cert"), raw.cert.as_ref());
    let file_key = p.required(&format!("{key}.key"), raw.key.as_ref());
    let files = rampart_tls::CertifiedKeyFiles {
        cert: resolve(base, cert?),
        key: resolve(base, file_key?),
    };
    load_certificate(p, key, raw.name.as_deref(), files, server_names, true)
}

type ClientAuth = (rampart_tls::ClientAuthStore, Arc<[PrincipalRule]>);

fn validate_client_auth(p: &mut Problems, base: &Path, raw: &RawClientAuth) -> Option<ClientAuth> {
    let rules: Vec<PrincipalRule> = match &raw.principal {
        None => PrincipalRule::DEFAULT.to_vec(),
        Some(list) => {
            if list.is_empty() {
                p.push("tls.client_auth.principal", "must list at least one rule");
            }
            list.iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    PrincipalRule::parse(r)
                        .map_err(|e| p.push(format!("tls.client_auth.principal[{i}]"), e))
                        .ok()
                })
                .collect()
        }
    };
    let roots = p
        .required("tls.client_auth.ca", raw.ca.as_ref())
        .and_then(|ca| {
            rampart_tls::load_roots(&resolve(base, ca))
                .map_err(|e| p.push("tls.client_auth.ca", e))
                .ok()
        });
    let crl_files: Vec<PathBuf> = raw.crls.iter().map(|f| resolve(base, f)).collect();
    let mut crls_ok = true;
    for (i, path) in crl_files.iter().enumerate() {
        // Checked one by one here so each problem carries its key.
        if let Err(e) = rampart_tls::load_crls(path) {
            p.push(format!("tls.client_auth.crls[{i}]"), e);
            crls_ok = false;
        }
    }
    let roots = roots?;
    if !crls_ok || rules.is_empty() {
        return None;
    }
    let store = rampart_tls::ClientAuthStore::new(roots, crl_files)
        .map_err(|e| p.push("tls.client_auth", e))
        .ok()?;
    Some((store, rules.into()))
}

//! Configuration of the edge's protections beyond size limits: who the client is
//! (`[client_ip]`), address lists (`[ip_lists]`, `[[feeds]]`, `[ip_policy]`), injection screening
//! (`[screening]`) and the connection guards (`[http1]`, `[http2]`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rampart_core::config::{Problems, resolve};
use rampart_core::pipeline::Enforcement;
use rampart_detect::{Engine, Policy, PolicyConfig};
use rampart_http::client_ip::ClientIpConfig;
use rampart_http::h1::H1Config;
use rampart_http::h2::H2Config;
use rampart_http::io::GuardLimits;
use rampart_http::iplist::IpPolicyConfig;
use rampart_http::{ClientIpResolver, IpLists, IpPolicy, IpSource};
use serde::Deserialize;

/// `[screening]` globally, or `screening = { ... }` on a route.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScreening {
    mode: Option<String>,
    policy: Option<PolicyConfig>,
}

/// `[ip_lists]` plus how often their files are checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIpLists {
    reload_interval: Option<String>,
    #[serde(default)]
    files: BTreeMap<String, PathBuf>,
}

/// The raw protection sections of `edge.toml`.
#[derive(Default)]
pub(crate) struct RawProtections {
    pub(crate) client_ip: Option<ClientIpConfig>,
    pub(crate) ip_lists: Option<RawIpLists>,
    pub(crate) feeds: Option<Vec<crate::feeds::RawFeed>>,
    pub(crate) ip_policy: Option<IpPolicyConfig>,
    pub(crate) screening: Option<RawScreening>,
    pub(crate) http1: Option<H1Config>,
    pub(crate) http2: Option<H2Config>,
}

/// Injection screening of one route.
#[derive(Debug, Clone)]
pub struct ScreeningSettings {
    /// `None`: screening is off (`mode = "off"`).
    pub enforcement: Option<Enforcement>,
    /// Paranoia, threshold, exclusions.
    pub policy: Arc<Policy>,
    /// Head fields found clean under `policy`, shared by every route screening with it.
    pub seen: Arc<rampart_detect::SharedMemo>,
}

/// The validated protections shared by every route.
#[derive(Clone)]
pub struct Protections {
    /// Who the client is.
    pub client_ip: Arc<ClientIpResolver>,
    /// Connections start with a PROXY protocol header.
    pub proxy_protocol: bool,
    /// Named address lists, reloaded from their files.
    pub ip_lists: IpLists,
    /// How often list files are checked for changes.
    pub ip_list_reload: Duration,
    /// Threat-intelligence feeds (`[[feeds]]`), each also a named list of `ip_lists`.
    pub feeds: Vec<Arc<crate::feeds::Feed>>,
    /// The global address policy.
    pub ip_policy: Arc<IpPolicy>,
    /// The detection engine every screening policy refers to.
    pub engine: Arc<Engine>,
    /// Screening for requests whose route does not set its own.
    pub screening: ScreeningSettings,
    /// Connection guard limits.
    pub guard: GuardLimits,
}

impl Protections {
    /// Whether the address policy can be applied when the connection arrives, before
    /// any TLS work: only when the address does not come from an HTTP header.
    pub fn decides_at_connect(&self) -> bool {
        !matches!(
            self.client_ip.source(),
            IpSource::XForwardedFor | IpSource::Forwarded
        )
    }
}

fn push_all(p: &mut Problems, key: &str, e: &rampart_http::ConfigError) {
    match e {
        rampart_http::ConfigError::Invalid { problems } => {
            for problem in problems {
                // Each problem reads `subkey: message`.
                match problem.split_once(": ") {
                    Some((sub, msg)) => p.push(format!("{key}.{sub}"), msg),
                    None => p.push(key, problem),
                }
            }
        }
        other => p.push(key, other),
    }
}

pub(crate) fn validate_screening(
    p: &mut Problems,
    key: &str,
    raw: &RawScreening,
    engine: &Engine,
) -> Option<ScreeningSettings> {
    let enforcement = match raw.mode.as_deref().unwrap_or("block") {
        "block" => Some(Enforcement::Block),
        "detect" => Some(Enforcement::DetectOnly),
        "off" => None,
        other => {
            p.push(
                format!("{key}.mode"),
                format!("{other:?} is not one of block, detect, off"),
            );
            return None;
        }
    };
    match Policy::from_config(&raw.policy.clone().unwrap_or_default(), engine) {
        Ok(policy) => Some(ScreeningSettings {
            enforcement,
            policy: Arc::new(policy),
            seen: Arc::default(),
        }),
        Err(e) => {
            p.push(format!("{key}.policy"), e);
            None
        }
    }
}

pub(crate) fn validate_ip_policy(
    p: &mut Problems,
    key: &str,
    raw: &IpPolicyConfig,
    lists: &IpLists,
) -> Option<IpPolicy> {
    IpPolicy::new(raw, lists)
        .map_err(|e| push_all(p, key, &e))
        .ok()
}

pub(crate) fn validate(p: &mut Problems, base: &Path, raw: RawProtections) -> Option<Protections> {
    let client_ip = ClientIpResolver::try_from(&raw.client_ip.unwrap_or_default())
        .map_err(|e| push_all(p, "client_ip", &e))
        .ok();
    let raw_lists = raw.ip_lists.unwrap_or_default();
    let files = raw_lists
        .files
        .iter()
        .map(|(name, path)| (name.clone(), resolve(base, path)))
        .collect();
    let mut ip_lists = match IpLists::load(&files) {
        Ok(lists) => Some(lists),
        Err(errors) => {
            for e in errors {
                p.push("ip_lists.files", e);
            }
            None
        }
    };
    let ip_list_reload = p.duration_or(
        "ip_lists.reload_interval",
        raw_lists.reload_interval.as_ref(),
        Duration::from_secs(5),
    );
    let feeds = ip_lists.as_mut().map(|lists| {
        crate::feeds::validate(p, base, raw.feeds.as_deref().unwrap_or_default(), lists)
    });
    let mut global_policy = raw.ip_policy.unwrap_or_default();
    // Deny feeds join the global deny list, named, so their denials carry the feed name.
    for feed in feeds.iter().flatten() {
        if feed.action() == crate::feeds::FeedAction::Deny {
            global_policy.deny.push(feed.name().to_owned());
        }
    }
    let ip_policy = ip_lists
        .as_ref()
        .and_then(|lists| validate_ip_policy(p, "ip_policy", &global_policy, lists));
    let engine = Arc::new(Engine::builtin());
    let screening = validate_screening(p, "screening", &raw.screening.unwrap_or_default(), &engine);
    let h1 = rampart_http::H1Limits::try_from(raw.http1.unwrap_or_default())
        .map_err(|e| push_all(p, "http1", &e))
        .ok();
    let h2 = rampart_http::H2Limits::try_from(raw.http2.unwrap_or_default())
        .map_err(|e| push_all(p, "http2", &e))
        .ok();
    let client_ip = client_ip?;
    Some(Protections {
        proxy_protocol: client_ip.source() == IpSource::ProxyProtocol,
        client_ip: Arc::new(client_ip),
        ip_lists: ip_lists?,
        ip_list_reload,
        feeds: feeds?,
        ip_policy: Arc::new(ip_policy?),
        engine,
        screening: screening?,
        guard: GuardLimits { h1: h1?, h2: h2? },
    })
}

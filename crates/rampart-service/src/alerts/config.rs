//! `[alerts]`: rules over the audit stream and the webhooks that receive what they raise.
//!
//! ```toml
//! [alerts]
//! queue = 1000                 # records waiting for the rule engine; beyond, dropped and counted
//! group_wait = "5s"            # a new alert waits this long to gather its burst before it is sent
//! [[alerts.rules]]
//! name = "sqli-burst"
//! match = { check = "inspection", class = "sqli" }  # kind, check, rule, class, reason, action
//! threshold = 20               # matching records ...
//! window = "60s"               # ... within this window (default 60s)
//! per = "client"               # "client" (default) | "total"
//! cooldown = "5m"              # one delivery per rule and key per cooldown (default 5m)
//! max_keys = 10000             # clients tracked per rule; the least recently seen go first
//! [[alerts.webhooks]]
//! url = "https://siem.example/hooks/rampart"
//! secret_file = "webhook.secret"  # HMAC-SHA256 key (>= 16 bytes); relative to the config file
//! ca_file = "siem-ca.pem"         # optional; default: the system bundle
//! timeout = "5s"
//! retries = 5                     # after the first attempt; backoff doubles from `backoff`
//! backoff = "500ms"               # first retry delay, with jitter, capped at 30s
//! allow_plain_http = false        # http:// only when true
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rampart_core::config::{Problems, resolve};
use serde::Deserialize;

/// `[alerts]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlertsConfig {
    /// Records waiting for the rule engine.
    pub queue: Option<usize>,
    /// How long a new alert gathers its burst before it is sent.
    pub group_wait: Option<String>,
    /// The rules.
    #[serde(default)]
    pub rules: Vec<RawRule>,
    /// Where alerts are sent.
    #[serde(default)]
    pub webhooks: Vec<RawWebhook>,
}

/// One `[[alerts.rules]]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Unique name.
    pub name: Option<String>,
    /// Fields the record must have.
    #[serde(rename = "match")]
    pub matches: Option<RawMatch>,
    /// Records needed within the window.
    pub threshold: Option<u64>,
    /// The window.
    pub window: Option<String>,
    /// `"client"` or `"total"`.
    pub per: Option<String>,
    /// One delivery per rule and key per cooldown.
    pub cooldown: Option<String>,
    /// Keys tracked at most.
    pub max_keys: Option<usize>,
}

/// `match = { ... }` as written: every given field must be equal.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    /// `decision`, `admin` or `system`.
    pub kind: Option<String>,
    /// The check (`inspection`, `screening`, `identity`, `antivirus`, ... ; `admin` for
    /// admin calls; the component for system events).
    pub check: Option<String>,
    /// The rule id (the endpoint for admin calls, the component's name for system events).
    pub rule: Option<String>,
    /// The rule's class: the rule id up to its first `-` (`sqli` for `sqli-001`).
    pub class: Option<String>,
    /// The reason code (the outcome for admin calls, `down`/`up` for system events).
    pub reason: Option<String>,
    /// `block` or `report` (decisions only).
    pub action: Option<String>,
}

/// One `[[alerts.webhooks]]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    /// `https://host[:port]/path`.
    pub url: Option<String>,
    /// The HMAC key.
    pub secret_file: Option<PathBuf>,
    /// Roots for the receiver's certificate.
    pub ca_file: Option<PathBuf>,
    /// Deadline of one attempt.
    pub timeout: Option<String>,
    /// Attempts after the first.
    pub retries: Option<u32>,
    /// First retry delay.
    pub backoff: Option<String>,
    /// Allows `http://`.
    pub allow_plain_http: Option<bool>,
}

/// Validated `[alerts]`.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    /// Records waiting for the rule engine before new ones are dropped.
    pub queue: usize,
    /// How long a new alert gathers its burst before it is sent.
    pub group_wait: Duration,
    /// The rules, in file order.
    pub rules: Vec<Arc<Rule>>,
    /// The receivers.
    pub webhooks: Vec<Arc<Webhook>>,
}

/// How records are grouped into keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    /// One count per client address (as the audit record shows it).
    Client,
    /// One count for the whole tier.
    Total,
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Unique name.
    pub name: String,
    /// Fields the record must have.
    pub matches: RawMatch,
    /// Records needed within `window` (1..=1 000 000).
    pub threshold: u64,
    /// The counting window.
    pub window: Duration,
    /// Grouping.
    pub per: Per,
    /// One delivery per key per cooldown.
    pub cooldown: Duration,
    /// Keys tracked at most.
    pub max_keys: usize,
}

/// A validated webhook.
pub struct Webhook {
    /// The URL (for logs: it carries no secret).
    pub url: http::Uri,
    /// Host to connect to.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS, absent for `http://`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The HMAC key.
    pub(crate) secret: Vec<u8>,
    /// Deadline of one attempt.
    pub timeout: Duration,
    /// Attempts after the first.
    pub retries: u32,
    /// First retry delay.
    pub backoff: Duration,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of debug output.
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .field("tls", &self.tls.is_some())
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

/// Where the receiver's roots come from without `ca_file`.
pub const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";
const MIN_SECRET_BYTES: usize = 16;
const MAX_RULES: usize = 100;
const MAX_WEBHOOKS: usize = 10;

impl AlertsConfig {
    /// Validates `raw` (the section named `section`); relative paths are resolved against
    /// `base`. Every problem is recorded with its key path.
    pub fn validate(
        section: &str,
        raw: &RawAlertsConfig,
        base: &Path,
        p: &mut Problems,
    ) -> Option<AlertsConfig> {
        let mut ok = true;
        let queue = raw.queue.unwrap_or(1000);
        if !(16..=1_000_000).contains(&queue) {
            p.push(
                format!("{section}.queue"),
                format!("{queue} is not in 16..=1000000"),
            );
            ok = false;
        }
        let group_wait = p.duration_or(
            &format!("{section}.group_wait"),
            raw.group_wait.as_ref(),
            Duration::from_secs(5),
        );
        if group_wait > Duration::from_secs(600) {
            p.push(format!("{section}.group_wait"), "must be at most 10m");
            ok = false;
        }
        if raw.rules.len() > MAX_RULES {
            p.push(format!("{section}.rules"), format!("more than {MAX_RULES}"));
            ok = false;
        }
        if raw.webhooks.len() > MAX_WEBHOOKS {
            p.push(
                format!("{section}.webhooks"),
                format!("more than {MAX_WEBHOOKS}"),
            );
            ok = false;
        }
        let mut names = std::collections::BTreeSet::new();
        let mut rules = Vec::new();
        for (i, r) in raw.rules.iter().enumerate() {
            let key = format!("{section}.rules[{i}]");
            match validate_rule(&key, r, p) {
                Some(rule) if names.insert(rule.name.clone()) => rules.push(Arc::new(rule)),
                Some(rule) => {
                    p.push(
                        format!("{key}.name"),
                        format!("{:?} is used twice", rule.name),
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        let mut webhooks = Vec::new();
        for (i, w) in raw.webhooks.iter().enumerate() {
            match validate_webhook(&format!("{section}.webhooks[{i}]"), w, base, p) {
                Some(w) => webhooks.push(Arc::new(w)),
                None => ok = false,
            }
        }
        ok.then_some(AlertsConfig {
            queue,
            group_wait,
            rules,
            webhooks,
        })
    }
}

fn validate_rule(key: &str, r: &RawRule, p: &mut Problems) -> Option<Rule> {
    let mut ok = true;
    let name = r.name.clone().unwrap_or_default();
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        p.push(
            format!("{key}.name"),
            "is required: 1 to 64 of A-Z a-z 0-9 - _ .",
        );
        ok = false;
    }
    let matches = r.matches.clone().unwrap_or_default();
    if matches == RawMatch::default() {
        p.push(
            format!("{key}.match"),
            "is required and names at least one field",
        );
        ok = false;
    }
    if let Some(kind) = &matches.kind
        && !["decision", "admin", "system"].contains(&kind.as_str())
    {
        p.push(
            format!("{key}.match.kind"),
            format!("{kind:?} is not a kind; use \"decision\", \"admin\" or \"system\""),
        );
        ok = false;
    }
    if let Some(action) = &matches.action
        && !["block", "report"].contains(&action.as_str())
    {
        p.push(
            format!("{key}.match.action"),
            format!("{action:?} is not an action; use \"block\" or \"report\""),
        );
        ok = false;
    }
    let threshold = r.threshold.unwrap_or(1);
    if !(1..=1_000_000).contains(&threshold) {
        p.push(
            format!("{key}.threshold"),
            format!("{threshold} is not in 1..=1000000"),
        );
        ok = false;
    }
    let window = p.duration_or(
        &format!("{key}.window"),
        r.window.as_ref(),
        Duration::from_secs(60),
    );
    if window < Duration::from_secs(1) || window > Duration::from_secs(86_400) {
        p.push(format!("{key}.window"), "must be between 1s and 24h");
        ok = false;
    }
    let cooldown = p.duration_or(
        &format!("{key}.cooldown"),
        r.cooldown.as_ref(),
        Duration::from_secs(300),
    );
    if cooldown < Duration::from_secs(1) || cooldown > Duration::from_secs(86_400) {
        p.push(format!("{key}.cooldown"), "must be between 1s and 24h");
        ok = false;
    }
    let per = match r.per.as_deref().unwrap_or("client") {
        "client" => Per::Client,
        "total" => Per::Total,
        other => {
            p.push(
                format!("{key}.per"),
                format!("{other:?} is not a grouping; use \"client\" or \"total\""),
            );
            ok = false;
            Per::Client
        }
    };
    let max_keys = r.max_keys.unwrap_or(10_000);
    if !(1..=100_000).contains(&max_keys) {
        p.push(
            format!("{key}.max_keys"),
            format!("{max_keys} is not in 1..=100000"),
        );
        ok = false;
    }
    ok.then_some(Rule {
        name,
        matches,
        threshold,
        window,
        per,
        cooldown,
        max_keys,
    })
}

fn validate_webhook(key: &str, w: &RawWebhook, base: &Path, p: &mut Problems) -> Option<Webhook> {
    let mut ok = true;
    let url = match w.url.as_deref().map(str::parse::<http::Uri>) {
        Some(Ok(url)) => Some(url),
        Some(Err(e)) => {
            p.push(format!("{key}.url"), format!("not a URL: {e}"));
            None
        }
        None => {
            p.push(format!("{key}.url"), "is required");
            None
        }
    };
    let plain_ok = w.allow_plain_http.unwrap_or(false);
    let mut target = None;
    if let Some(url) = &url {
        let https = match url.scheme_str() {
            Some("https") => Some(true),
            Some("http") if plain_ok => Some(false),
            Some("http") => {
                p.push(
                    format!("{key}.url"),
                    "http:// sends alerts in the clear; use https:// or set allow_plain_http = true",
                );
                None
            }
            _ => {
                p.push(format!("{key}.url"), "must start with https://");
                None
            }
        };
        match (https, url.host()) {
            (Some(https), Some(host))
                if url.authority().is_some_and(|a| !a.as_str().contains('@')) =>
            {
                let port = url.port_u16().unwrap_or(if https { 443 } else { 80 });
                target = Some((https, host.trim_matches(['[', ']']).to_owned(), port));
            }
            (Some(_), _) => p.push(format!("{key}.url"), "needs a host and no user info"),
            (None, _) => {}
        }
    }
    let secret = match &w.secret_file {
        None => {
            p.push(format!("{key}.secret_file"), "is required");
            None
        }
        Some(file) => {
            let path = resolve(base, file);
            match std::fs::read(&path) {
                Ok(bytes) if bytes.trim_ascii().len() >= MIN_SECRET_BYTES => {
                    Some(bytes.trim_ascii().to_vec())
                }
                Ok(_) => {
                    p.push(
                        format!("{key}.secret_file"),
                        format!(
                            "{}: a key needs at least {MIN_SECRET_BYTES} bytes",
                            path.display()
                        ),
                    );
                    None
                }
                Err(e) => {
                    p.push(
                        format!("{key}.secret_file"),
                        format!("{}: cannot read: {e}", path.display()),
                    );
                    None
                }
            }
        }
    };
    let tls = match &target {
        Some((true, _, _)) => {
            let ca = w
                .ca_file
                .as_ref()
                .map_or_else(|| PathBuf::from(SYSTEM_ROOTS), |f| resolve(base, f));
            match rampart_tls::load_roots(&ca).and_then(rampart_tls::upstream_client_config) {
                Ok(c) => Some(Some(Arc::new(c))),
                Err(e) => {
                    p.push(format!("{key}.ca_file"), format!("{}: {e}", ca.display()));
                    None
                }
            }
        }
        Some((false, _, _)) => {
            if w.ca_file.is_some() {
                p.push(format!("{key}.ca_file"), "only used with https://");
                ok = false;
            }
            Some(None)
        }
        None => None,
    };
    let timeout = p.duration_or(
        &format!("{key}.timeout"),
        w.timeout.as_ref(),
        Duration::from_secs(5),
    );
    if timeout < Duration::from_millis(100) || timeout > Duration::from_secs(120) {
        p.push(format!("{key}.timeout"), "must be between 100ms and 2m");
        ok = false;
    }
    let retries = w.retries.unwrap_or(5);
    if retries > 20 {
        p.push(
            format!("{key}.retries"),
            format!("{retries} is not in 0..=20"),
        );
        ok = false;
    }
    let backoff = p.duration_or(
        &format!("{key}.backoff"),
        w.backoff.as_ref(),
        Duration::from_millis(500),
    );
    if backoff < Duration::from_millis(10) || backoff > MAX_BACKOFF {
        p.push(format!("{key}.backoff"), "must be between 10ms and 30s");
        ok = false;
    }
    let (url, (_, host, port), secret, tls) = (url?, target?, secret?, tls?);
    ok.then_some(Webhook {
        url,
        host,
        port,
        tls,
        secret,
        timeout,
        retries,
        backoff,
    })
}

/// Retry delays never exceed this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

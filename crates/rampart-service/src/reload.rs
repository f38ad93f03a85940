//! Hot reload plumbing both tiers share: what starts a reload (SIGHUP, a poll of the
//! config file and the files it names, `POST /admin/reload`), one reload at a time,
//! the generation counter, the last outcome, its audit record and its metric lines.
//!
//! What it does not do: build anything. Each tier implements [`Apply`]: load the file
//! off the request path, build the new configuration and swap it in atomically, or
//! refuse it and keep the running one.

use std::collections::BTreeSet;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rampart_core::config::{ConfigError, Problems};

use crate::admin::ReloadOutcome;
use crate::shutdown::Shutdown;

/// A config file's raw TOML, as the tiers compare it.
pub use toml::Table;

/// How often the config file is polled when `reload_interval` is not set.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);

/// Files named by a config that are fingerprinted; more are ignored by the watch.
const MAX_WATCHED_FILES: usize = 256;
/// Files up to this size are hashed whole; larger ones by size and mtime only.
const MAX_HASHED_BYTES: u64 = 1024 * 1024;

/// Validates the top-level `reload_interval`: `"off"` or a zero duration disables the
/// watch (`None`); absent means [`DEFAULT_INTERVAL`].
pub fn validate_interval(p: &mut Problems, raw: Option<&String>) -> Option<Duration> {
    match raw.map(String::as_str) {
        None => Some(DEFAULT_INTERVAL),
        Some("off" | "0") => None,
        Some(text) => {
            let interval = p.duration("reload_interval", text)?;
            if !interval.is_zero() && interval < Duration::from_millis(100) {
                p.push("reload_interval", "must be at least 100ms (or \"off\")");
            }
            Some(interval).filter(|d| !d.is_zero())
        }
    }
}

/// What started a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// SIGHUP.
    Signal,
    /// The file watch saw a change.
    Watch,
    /// `POST /admin/reload`.
    Admin,
}

impl Trigger {
    /// `signal`, `watch` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Signal => "signal",
            Trigger::Watch => "watch",
            Trigger::Admin => "admin",
        }
    }
}

/// A boxed future returned by [`Apply::apply`].
pub type ApplyFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<String>, Vec<String>>> + Send + 'a>>;

/// A tier's way of applying its config file.
pub trait Apply: Send + Sync + 'static {
    /// Loads the file, builds and swaps in the new configuration: `Ok(warnings)` when
    /// applied, `Err(problems)` when refused (the running configuration stays).
    fn apply(&self) -> ApplyFuture<'_>;
}

/// The raw top-level sections of a config file, for deciding what changed.
pub fn read_table(path: &Path) -> Option<toml::Table> {
    std::fs::read_to_string(path).ok()?.parse().ok()
}

/// Top-level keys whose values differ between `old` and `new` (added and removed too).
pub fn changed_sections(old: &toml::Table, new: &toml::Table) -> BTreeSet<String> {
    old.keys()
        .chain(new.keys())
        .filter(|k| old.get(*k) != new.get(*k))
        .cloned()
        .collect()
}

/// Of the top-level `sections`, the keys that changed, one level deep where both sides
/// are tables (`server.http_listen`), else the section itself.
pub fn changed_keys(old: &toml::Table, new: &toml::Table, sections: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for section in sections {
        match (old.get(*section), new.get(*section)) {
            (a, b) if a == b => {}
            (Some(toml::Value::Table(a)), Some(toml::Value::Table(b))) => out.extend(
                changed_sections(a, b)
                    .into_iter()
                    .map(|k| format!("{section}.{k}")),
            ),
            _ => out.push((*section).to_owned()),
        }
    }
    out
}

/// The warning for keys that only take effect after a restart.
pub fn restart_warning(keys: &[String]) -> Option<String> {
    (!keys.is_empty()).then(|| format!("restart needed for: {}", keys.join(", ")))
}

/// What a reload changes of the sections both tiers share: `[audit]` with `[alerts]` and
/// `[syslog]` (one writer), and `[admin]`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OpsChanges {
    /// Reconfigure the audit writer.
    pub audit: bool,
    /// Swap the admin listener's settings (tokens, users, peers).
    pub admin: bool,
}

impl OpsChanges {
    /// From the top-level sections that changed.
    pub fn from_sections(changed: &BTreeSet<String>) -> Self {
        Self {
            audit: ["audit", "alerts", "syslog"]
                .iter()
                .any(|s| changed.contains(*s)),
            admin: changed.contains("admin"),
        }
    }

    /// Applies the changes; a refused audit sink keeps the previous one and says so in
    /// `warnings`. `admin` is the tier's admin state, when its listener runs.
    pub fn apply(
        self,
        auditor: &Arc<crate::audit::Auditor>,
        audit: &crate::audit::AuditConfig,
        admin: Option<&crate::admin::AdminState>,
        admin_config: &crate::admin::AdminConfig,
        warnings: &mut Vec<String>,
    ) {
        if self.audit
            && let Err(e) = auditor.reconfigure(audit)
        {
            warnings.push(format!("audit: {e}; the previous audit sink stays"));
        }
        if self.admin
            && let Some(state) = admin
        {
            state.set_config(admin_config.clone());
        }
    }
}

/// Loads `path` with `load` on a blocking thread (parsing, list files, specs and rule
/// compilation are blocking work), together with its raw sections; a refused file
/// gives its problem lines.
pub async fn load_off_thread<C: Send + 'static>(
    path: &Path,
    load: fn(&Path) -> Result<C, ConfigError>,
) -> Result<(C, toml::Table), Vec<String>> {
    let owned = path.to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || (load(&owned), read_table(&owned)))
        .await
        .map_err(|e| vec![format!("reload task failed: {e}")])?;
    match loaded {
        (Ok(config), Some(raw)) => Ok((config, raw)),
        (Ok(_), None) => Err(vec![format!(
            "{}: the file changed while it was read",
            path.display()
        )]),
        (Err(e), _) => Err(problem_lines(&e)),
    }
}

/// Each problem of a refused file as `file: key: message`.
pub fn problem_lines(error: &ConfigError) -> Vec<String> {
    match error {
        ConfigError::Invalid { file, problems } => problems
            .iter()
            .map(|p| {
                let key = if p.key.is_empty() { "(file)" } else { &p.key };
                format!("{}: {key}: {}", file.display(), p.message)
            })
            .collect(),
        other => vec![other.to_string()],
    }
}

/// A fingerprint of `path` and of every existing file its TOML names (relative paths
/// resolved against its directory): size, mtime and, for small files, content.
pub fn fingerprint(path: &Path) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let Ok(text) = std::fs::read(path) else {
        return 0;
    };
    text.hash(&mut hasher);
    if let Some(table) = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
    {
        let base = path.parent().unwrap_or(Path::new("."));
        let mut files = BTreeSet::new();
        named_files(&toml::Value::Table(table), base, &mut files);
        for file in files {
            file.hash(&mut hasher);
            file_fingerprint(&file, &mut hasher);
        }
    }
    hasher.finish()
}

fn file_fingerprint(file: &Path, hasher: &mut impl Hasher) {
    let Ok(meta) = std::fs::metadata(file) else {
        0u8.hash(hasher);
        return;
    };
    meta.len().hash(hasher);
    meta.modified().ok().hash(hasher);
    if meta.len() <= MAX_HASHED_BYTES
        && let Ok(bytes) = std::fs::read(file)
    {
        bytes.hash(hasher);
    }
}

/// Sections naming files the tier writes itself: watching them would reload forever.
const WRITTEN_BY_THE_TIER: &[&str] = &["audit"];

/// Strings of the TOML that name existing regular files.
fn named_files(value: &toml::Value, base: &Path, out: &mut BTreeSet<PathBuf>) {
    if out.len() >= MAX_WATCHED_FILES {
        return;
    }
    match value {
        toml::Value::String(s) if !s.is_empty() && s.len() < 4096 && !s.contains('\n') => {
            let path = rampart_core::config::resolve(base, Path::new(s));
            if path.is_file() {
                out.insert(path);
            }
        }
        toml::Value::Array(items) => items.iter().for_each(|v| named_files(v, base, out)),
        toml::Value::Table(t) => t
            .iter()
            .filter(|(k, _)| !WRITTEN_BY_THE_TIER.contains(&k.as_str()))
            .for_each(|(_, v)| named_files(v, base, out)),
        _ => {}
    }
}

/// The generation counter, the last outcome and the counters behind the metric lines.
#[derive(Debug)]
pub struct ReloadStatus {
    tier: &'static str,
    generation: AtomicU64,
    applied: AtomicU64,
    rejected: AtomicU64,
    last_at_ms: AtomicU64,
    last_ok: AtomicBool,
    last: Mutex<Option<ReloadOutcome>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn rfc3339(at: SystemTime) -> String {
    time::OffsetDateTime::from(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl ReloadStatus {
    /// Generation 1, no reload yet.
    pub fn new(tier: &'static str) -> Self {
        ReloadStatus {
            tier,
            generation: AtomicU64::new(1),
            applied: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            last_at_ms: AtomicU64::new(0),
            last_ok: AtomicBool::new(true),
            last: Mutex::new(None),
        }
    }

    /// The generation running.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The last reload attempt, if any.
    pub fn last(&self) -> Option<ReloadOutcome> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn finish(&self, result: Result<Vec<String>, Vec<String>>) -> ReloadOutcome {
        let (applied, errors, warnings) = match result {
            Ok(warnings) => (true, Vec::new(), warnings),
            Err(errors) => (false, errors, Vec::new()),
        };
        let generation = if applied {
            self.applied.fetch_add(1, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::AcqRel) + 1
        } else {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            self.generation()
        };
        self.last_at_ms.store(now_ms(), Ordering::Relaxed);
        self.last_ok.store(applied, Ordering::Relaxed);
        let outcome = ReloadOutcome {
            generation,
            applied,
            at: rfc3339(SystemTime::now()),
            errors,
            warnings,
        };
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome.clone());
        outcome
    }

    /// The `rampart_config_*` metric lines of this tier.
    pub fn render_metrics(&self) -> String {
        let tier = self.tier;
        let at_ms = self.last_at_ms.load(Ordering::Relaxed);
        format!(
            "# HELP rampart_config_generation Configuration generation running (1 at start).\n\
             # TYPE rampart_config_generation gauge\n\
             rampart_config_generation{{tier=\"{tier}\"}} {}\n\
             # HELP rampart_config_reloads_total Reload attempts by result.\n\
             # TYPE rampart_config_reloads_total counter\n\
             rampart_config_reloads_total{{tier=\"{tier}\",result=\"applied\"}} {}\n\
             rampart_config_reloads_total{{tier=\"{tier}\",result=\"rejected\"}} {}\n\
             # HELP rampart_config_last_reload_timestamp_seconds Time of the last reload attempt (0: none yet).\n\
             # TYPE rampart_config_last_reload_timestamp_seconds gauge\n\
             rampart_config_last_reload_timestamp_seconds{{tier=\"{tier}\"}} {}.{:03}\n\
             # HELP rampart_config_last_reload_success Whether the last reload attempt was applied (1 before any).\n\
             # TYPE rampart_config_last_reload_success gauge\n\
             rampart_config_last_reload_success{{tier=\"{tier}\"}} {}\n",
            self.generation(),
            self.applied.load(Ordering::Relaxed),
            self.rejected.load(Ordering::Relaxed),
            at_ms / 1000,
            at_ms % 1000,
            u8::from(self.last_ok.load(Ordering::Relaxed)),
        )
    }
}

/// Runs one reload at a time for a tier and keeps its [`ReloadStatus`].
pub struct Reloader {
    path: PathBuf,
    status: ReloadStatus,
    apply: Arc<dyn Apply>,
    /// Reloads wait for each other: two builds never race to swap.
    running: tokio::sync::Mutex<()>,
    /// The fingerprint of the files the last attempt read; the watch compares with it.
    seen: AtomicU64,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("path", &self.path)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Reloader {
    /// A reloader of `path` for `tier`; the running configuration is generation 1.
    pub fn new(tier: &'static str, path: PathBuf, apply: Arc<dyn Apply>) -> Arc<Self> {
        let seen = fingerprint(&path);
        Arc::new(Reloader {
            path,
            status: ReloadStatus::new(tier),
            apply,
            running: tokio::sync::Mutex::new(()),
            seen: AtomicU64::new(seen),
        })
    }

    /// Generation, last outcome, metric lines.
    pub fn status(&self) -> &ReloadStatus {
        &self.status
    }

    /// Reloads now: logs, audits and returns the outcome.
    pub async fn reload(&self, trigger: Trigger) -> ReloadOutcome {
        let _one = self.running.lock().await;
        let path = self.path.clone();
        let seen = tokio::task::spawn_blocking(move || fingerprint(&path))
            .await
            .unwrap_or(0);
        self.seen.store(seen, Ordering::Release);
        let result = self.apply.apply().await;
        let outcome = self.status.finish(result);
        let tier = self.status.tier;
        if outcome.applied {
            tracing::info!(
                tier,
                trigger = trigger.as_str(),
                generation = outcome.generation,
                warnings = ?outcome.warnings,
                "configuration reloaded"
            );
        } else {
            tracing::warn!(
                tier,
                trigger = trigger.as_str(),
                generation = outcome.generation,
                errors = ?outcome.errors,
                "configuration refused; the running one stays"
            );
        }
        audit(tier, trigger, &outcome);
        outcome
    }

    /// Starts the SIGHUP listener and, with an `interval`, the file watch; both stop at
    /// `shutdown`.
    pub fn spawn(self: &Arc<Self>, interval: Option<Duration>, shutdown: &Shutdown) {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(mut hangup) => {
                let me = self.clone();
                let stop = shutdown.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            got = hangup.recv() => if got.is_none() { return },
                            () = stop.clone().signalled() => return,
                        }
                        me.reload(Trigger::Signal).await;
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; reload by API or file watch only");
            }
        }
        let Some(interval) = interval else {
            return;
        };
        let me = self.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = stop.clone().signalled() => return,
                }
                let path = me.path.clone();
                let Ok(now) = tokio::task::spawn_blocking(move || fingerprint(&path)).await else {
                    continue;
                };
                if now != me.seen.load(Ordering::Acquire) {
                    me.reload(Trigger::Watch).await;
                }
            }
        });
    }
}

/// An admin-kind audit record for the reload (actor `system` unless an admin called).
fn audit(tier: &'static str, trigger: Trigger, outcome: &ReloadOutcome) {
    let Some(auditor) = crate::audit::installed(tier) else {
        return;
    };
    let detail = if outcome.applied {
        let mut d = format!("reload applied, generation {}", outcome.generation);
        for w in &outcome.warnings {
            d.push_str("; ");
            d.push_str(w);
        }
        d
    } else {
        format!("reload refused: {}", outcome.errors.join("; "))
    };
    // Bounded: a file with thousands of problems must not make a huge record.
    let detail: String = detail.chars().take(4096).collect();
    auditor.record_admin(crate::audit::AdminRecord {
        timestamp: outcome.at.clone(),
        unix_ms: now_ms(),
        tier,
        request_id: String::new(),
        actor: "system".to_owned(),
        auth: "none",
        role: None,
        peer: String::new(),
        method: trigger.as_str().to_owned(),
        endpoint: "reload".to_owned(),
        status: if outcome.applied { 200 } else { 422 },
        outcome: if outcome.applied { "ok" } else { "refused" },
        detail,
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn interval_defaults_and_turns_off() {
        let table = [
            (None, Some(Some(DEFAULT_INTERVAL))),
            (Some("off"), Some(None)),
            (Some("0"), Some(None)),
            (Some("0s"), Some(None)),
            (Some("5s"), Some(Some(Duration::from_secs(5)))),
            (Some("10ms"), None),
            (Some("soon"), None),
        ];
        for (raw, want) in table {
            let mut p = Problems::default();
            let got = validate_interval(&mut p, raw.map(str::to_owned).as_ref());
            match want {
                Some(w) => {
                    assert!(p.is_empty(), "{raw:?}");
                    assert_eq!(got, w, "{raw:?}");
                }
                None => assert!(!p.is_empty(), "{raw:?}"),
            }
        }
    }

    #[test]
    fn names_changed_sections_and_keys() {
        let old = table(
            "a = 1\n[server]\nhttp_listen = \"x\"\ndrain = \"1s\"\n[inner]\nx = 1\n[rate_limit]\ny = 2\n",
        );
        let new = table(
            "a = 1\n[server]\nhttp_listen = \"y\"\ndrain = \"1s\"\n[inner]\nx = 1\n[routes]\nz = 1\n",
        );
        let sections: Vec<String> = changed_sections(&old, &new).into_iter().collect();
        assert_eq!(sections, ["rate_limit", "routes", "server"]);
        assert_eq!(
            changed_keys(&old, &new, &["server", "inner", "rate_limit", "tls"]),
            ["server.http_listen", "rate_limit"]
        );
        assert_eq!(
            restart_warning(&["server.http_listen".into()]).as_deref(),
            Some("restart needed for: server.http_listen")
        );
        assert_eq!(restart_warning(&[]), None);
    }

    #[test]
    fn fingerprint_follows_named_files() {
        let dir = std::env::temp_dir().join(format!("rampart-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let list = dir.join("deny.txt");
        std::fs::write(&list, "192.0.2.1\n").unwrap();
        let config = dir.join("edge.toml");
        std::fs::write(&config, "[ip_lists.files]\ndeny = \"deny.txt\"\n").unwrap();
        let first = fingerprint(&config);
        assert_eq!(first, fingerprint(&config));
        std::fs::write(&list, "192.0.2.2\n").unwrap();
        let second = fingerprint(&config);
        assert_ne!(first, second, "a named file changed");
        std::fs::write(&config, "[ip_lists.files]\ndeny = \"deny.txt\"\n# note\n").unwrap();
        assert_ne!(second, fingerprint(&config), "the file itself changed");
        // The audit file grows with every record: it is not a reason to reload.
        let audit = dir.join("audit.log");
        std::fs::write(&audit, "{}\n").unwrap();
        std::fs::write(&config, "[audit]\nsink = \"file\"\npath = \"audit.log\"\n").unwrap();
        let third = fingerprint(&config);
        std::fs::write(&audit, "{}\n{}\n").unwrap();
        assert_eq!(third, fingerprint(&config));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    struct Fixed(Result<Vec<String>, Vec<String>>);
    impl Apply for Fixed {
        fn apply(&self) -> ApplyFuture<'_> {
            Box::pin(std::future::ready(self.0.clone()))
        }
    }

    #[tokio::test]
    async fn generation_moves_only_when_applied() {
        let path = PathBuf::from("/nonexistent/rampart.toml");
        let ok = Reloader::new("edge", path.clone(), Arc::new(Fixed(Ok(vec!["w".into()]))));
        let outcome = ok.reload(Trigger::Admin).await;
        assert!(outcome.applied);
        assert_eq!((outcome.generation, ok.status().generation()), (2, 2));
        assert_eq!(outcome.warnings, ["w"]);
        let bad = Reloader::new("edge", path, Arc::new(Fixed(Err(vec!["k: bad".into()]))));
        let outcome = bad.reload(Trigger::Watch).await;
        assert!(!outcome.applied);
        assert_eq!(outcome.generation, 1);
        assert_eq!(bad.status().last().unwrap().errors, ["k: bad"]);
        let metrics = bad.status().render_metrics();
        assert!(metrics.contains("rampart_config_generation{tier=\"edge\"} 1\n"));
        assert!(metrics.contains("result=\"rejected\"} 1\n"));
        assert!(metrics.contains("rampart_config_last_reload_success{tier=\"edge\"} 0\n"));
    }
}

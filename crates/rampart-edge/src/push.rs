//! Config push from the LAN (`[push]`): the edge keeps a policy watch open over the
//! link and applies each signed bundle the inner sends, like a reload.
//!
//! A bundle is checked before any of it is parsed — size, trusted key id, Ed25519
//! signature, a version above the running one (no replay, no rollback) — then its
//! documents are written under `state_dir`, its `policy.toml` replaces the sections
//! of `edge.toml` it carries (only those in `[push] sections`, a subset of routes,
//! screening, address lists, identity and rate limits), and the result is built and
//! swapped exactly as a reload is. A refused bundle is logged, audited as a system
//! event and shown in `/admin/status`; the running policy stays. The last applied
//! bundle is kept in `state_dir` and verified again at start, so a restart without
//! the LAN comes back with the pushed policy.
//!
//! What it does not do: hold any secret (only public keys), or let a push touch
//! listeners, TLS, the link, admin, audit or `[push]` itself.

mod store;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rampart_core::config::{Problems, resolve};
use rampart_proto::push::{self as format, MAX_BUNDLE_BYTES, POLICY_DOCUMENT, PUSHABLE_SECTIONS};
use rampart_proto::v1::PolicyBundle;
use rampart_service::reload::{self as reloading, Table};
use rampart_service::shutdown::Shutdown;
use serde::Deserialize;

use crate::config::EdgeConfig;
use crate::link::Link;
use crate::reload::EdgeReload;

pub(crate) use self::store::Store;

/// Largest trusted-key file read.
const MAX_KEY_FILE: u64 = 4096;
/// First and longest pause before the watch is opened again.
const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// `[push]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPush {
    enabled: Option<bool>,
    #[serde(default)]
    trusted_keys: Vec<String>,
    state_dir: Option<PathBuf>,
    sections: Option<Vec<String>>,
}

/// `[push]`, validated.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// Public keys whose bundles are accepted.
    pub trusted: Vec<format::PublicKey>,
    /// Where the last good bundle and its documents are kept.
    pub state_dir: PathBuf,
    /// The top-level sections a push may replace.
    pub sections: Vec<String>,
}

/// Validates `[push]`; `None` when disabled (or broken: the problems are recorded).
pub(crate) fn validate(p: &mut Problems, base: &Path, raw: &RawPush) -> Option<PushConfig> {
    if raw.enabled == Some(false) {
        return None;
    }
    if raw.trusted_keys.is_empty() {
        p.push(
            "push.trusted_keys",
            "list at least one public key (`rampart push keygen` prints it)",
        );
    }
    let mut trusted = Vec::new();
    for (i, entry) in raw.trusted_keys.iter().enumerate() {
        match trusted_key(base, entry) {
            Ok(key) => trusted.push(key),
            Err(e) => p.push(format!("push.trusted_keys[{i}]"), e),
        }
    }
    let sections = match &raw.sections {
        None => PUSHABLE_SECTIONS.iter().map(|s| (*s).to_owned()).collect(),
        Some(list) => {
            for (i, s) in list.iter().enumerate() {
                if !PUSHABLE_SECTIONS.contains(&s.as_str()) {
                    p.push(
                        format!("push.sections[{i}]"),
                        format!(
                            "{s:?} cannot be pushed (only {})",
                            PUSHABLE_SECTIONS.join(", ")
                        ),
                    );
                }
            }
            list.clone()
        }
    };
    let state_dir = p.required("push.state_dir", raw.state_dir.as_ref());
    Some(PushConfig {
        trusted,
        state_dir: resolve(base, state_dir?),
        sections,
    })
}

/// `ed25519:<base64>` as written, or a file holding it.
fn trusted_key(base: &Path, entry: &str) -> Result<format::PublicKey, String> {
    if entry.trim_start().starts_with("ed25519:") {
        return format::PublicKey::parse(entry).map_err(|e| e.to_string());
    }
    let file = resolve(base, Path::new(entry));
    let meta = std::fs::metadata(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    if meta.len() > MAX_KEY_FILE {
        return Err(format!("{} is larger than a key file", file.display()));
    }
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    format::PublicKey::parse(&text).map_err(|e| format!("{}: {e}", file.display()))
}

/// The pushed sections of one bundle, with document names turned into their paths.
#[derive(Debug)]
pub(crate) struct Overlay {
    version: u64,
    sections: Table,
}

/// Parses the bundle's `policy.toml`, refuses sections this edge does not take, and
/// rewrites each string naming a document of the bundle into that document's path
/// under `dir`.
fn overlay(allowed: &[String], bundle: &PolicyBundle, dir: &Path) -> Result<Overlay, Vec<String>> {
    let policy = (bundle.documents.iter())
        .find(|d| d.name == POLICY_DOCUMENT)
        .ok_or_else(|| vec![format!("no {POLICY_DOCUMENT}")])?;
    let text = std::str::from_utf8(&policy.content)
        .map_err(|_| vec![format!("{POLICY_DOCUMENT} is not UTF-8")])?;
    let mut sections: Table = text
        .parse()
        .map_err(|e: toml::de::Error| vec![format!("{POLICY_DOCUMENT}: {}", e.message())])?;
    let refused: Vec<String> = (sections.keys())
        .filter(|k| !allowed.iter().any(|a| a == *k))
        .map(|k| format!("{POLICY_DOCUMENT}: section {k:?} is not pushable to this edge"))
        .collect();
    if !refused.is_empty() {
        return Err(refused);
    }
    let names: Vec<&str> = (bundle.documents.iter())
        .map(|d| d.name.as_str())
        .filter(|n| *n != POLICY_DOCUMENT)
        .collect();
    for (_, value) in sections.iter_mut() {
        rewrite(value, &names, dir);
    }
    Ok(Overlay {
        version: bundle.version,
        sections,
    })
}

fn rewrite(value: &mut toml::Value, names: &[&str], dir: &Path) {
    match value {
        toml::Value::String(s) if names.contains(&s.as_str()) => {
            *s = dir.join(s.as_str()).to_string_lossy().into_owned();
        }
        toml::Value::Array(items) => items.iter_mut().for_each(|v| rewrite(v, names, dir)),
        toml::Value::Table(t) => t.iter_mut().for_each(|(_, v)| rewrite(v, names, dir)),
        _ => {}
    }
}

/// Loads `path` as a reload does, with the pushed sections of `overlay` in place of
/// the file's own; returns the configuration and the raw sections it was built from.
pub(crate) async fn load(
    path: &Path,
    overlay: Option<Arc<Overlay>>,
) -> Result<(EdgeConfig, Table), Vec<String>> {
    let Some(overlay) = overlay else {
        return reloading::load_off_thread(path, EdgeConfig::load).await;
    };
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || merged(&owned, &overlay))
        .await
        .map_err(|e| vec![format!("reload task failed: {e}")])?
}

fn merged(path: &Path, overlay: &Overlay) -> Result<(EdgeConfig, Table), Vec<String>> {
    let Some(mut table) = reloading::read_table(path) else {
        // Unreadable or not TOML: the plain load says exactly why.
        return Err(match EdgeConfig::load(path) {
            Err(e) => reloading::problem_lines(&e),
            Ok(_) => vec![format!(
                "{}: the file changed while it was read",
                path.display()
            )],
        });
    };
    for (name, section) in &overlay.sections {
        table.insert(name.clone(), section.clone());
    }
    let text = toml::to_string(&table).map_err(|e| vec![e.to_string()])?;
    let config = EdgeConfig::parse(path, &text).map_err(|e| {
        let lines = reloading::problem_lines(&e);
        let version = overlay.version;
        lines
            .into_iter()
            .map(|l| format!("with pushed version {version}: {l}"))
            .collect::<Vec<_>>()
    })?;
    Ok((config, table))
}

/// Checks a policy bundle against the edge configuration at `edge_config` exactly as that
/// edge would take it — the sections it accepts, then the build of a reload — without a
/// running edge (`rampart push check`, run on the LAN before publishing). The documents
/// are staged in a private directory under `scratch`, removed afterwards.
///
/// # Errors
///
/// Every problem the edge would refuse the bundle for, one per line.
pub fn check(edge_config: &Path, bundle: &PolicyBundle, scratch: &Path) -> Result<(), Vec<String>> {
    let config = EdgeConfig::load(edge_config).map_err(|e| reloading::problem_lines(&e))?;
    let Some(push) = config.push else {
        return Err(vec![format!(
            "{}: no [push] section, so this edge takes no pushed policy",
            edge_config.display()
        )]);
    };
    let dir = scratch.join(format!("rampart-push-check-{}", std::process::id()));
    let store = store::Store::new(dir.clone());
    let result = store
        .write_documents(bundle)
        .map_err(|e| vec![e])
        .and_then(|staged| overlay(&push.sections, bundle, &staged))
        .and_then(|overlay| merged(edge_config, &overlay).map(|_| ()));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// One push attempt, for `/admin/status`.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct PushOutcome {
    version: u64,
    applied: bool,
    /// Unix seconds of the attempt.
    at: u64,
    /// The inner endpoint it came from, or `state_dir` at start.
    from: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

/// The running pushed version and the counters behind the status and metrics.
#[derive(Debug, Default)]
pub(crate) struct PushStatus {
    running: AtomicU64,
    applied: AtomicU64,
    rejected: AtomicU64,
    last: Mutex<Option<PushOutcome>>,
}

impl PushStatus {
    /// The pushed version running (0: none).
    pub(crate) fn version(&self) -> u64 {
        self.running.load(Ordering::Acquire)
    }

    /// The `push` object of `/admin/status`.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner()).clone();
        serde_json::json!({
            "version": self.version(),
            "applied": self.applied.load(Ordering::Relaxed),
            "rejected": self.rejected.load(Ordering::Relaxed),
            "last_push": last,
        })
    }

    /// The `rampart_push_*` metric lines.
    pub(crate) fn render_metrics(&self) -> String {
        format!(
            "# HELP rampart_push_version Version of the pushed edge policy running (0: none).\n\
             # TYPE rampart_push_version gauge\n\
             rampart_push_version{{tier=\"edge\"}} {}\n\
             # HELP rampart_push_bundles_total Pushed policy bundles by result.\n\
             # TYPE rampart_push_bundles_total counter\n\
             rampart_push_bundles_total{{tier=\"edge\",result=\"applied\"}} {}\n\
             rampart_push_bundles_total{{tier=\"edge\",result=\"rejected\"}} {}\n",
            self.version(),
            self.applied.load(Ordering::Relaxed),
            self.rejected.load(Ordering::Relaxed),
        )
    }

    fn record(&self, outcome: PushOutcome) {
        let counter = if outcome.applied {
            &self.applied
        } else {
            &self.rejected
        };
        counter.fetch_add(1, Ordering::Relaxed);
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
    }
}

/// Receives bundles and applies them through the edge's reload.
pub(crate) struct Pusher {
    config: PushConfig,
    store: Store,
    status: Arc<PushStatus>,
    reload: Arc<EdgeReload>,
}

impl Pusher {
    pub(crate) fn new(config: PushConfig, reload: Arc<EdgeReload>) -> Arc<Self> {
        Arc::new(Self {
            store: Store::new(config.state_dir.clone()),
            config,
            status: Arc::default(),
            reload,
        })
    }

    pub(crate) fn status(&self) -> &Arc<PushStatus> {
        &self.status
    }

    /// Applies the bundle kept in `state_dir`, verified as if it had just arrived.
    pub(crate) async fn restore(&self) {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.read()).await {
            Ok(Ok(Some(bundle))) => self.receive(bundle, "state_dir").await,
            Ok(Ok(None)) => tracing::info!("no pushed policy kept yet"),
            Ok(Err(error)) => self.reject(0, "state_dir", vec![error]),
            Err(e) => self.reject(0, "state_dir", vec![e.to_string()]),
        }
    }

    /// Keeps a policy watch open on the link until `shutdown`, opening it again with
    /// backoff and jitter whenever it ends.
    pub(crate) fn spawn(self: Arc<Self>, link: Arc<Link>, shutdown: Shutdown) {
        tokio::spawn(async move {
            let mut backoff = MIN_BACKOFF;
            loop {
                let opened = tokio::select! {
                    opened = link.watch_policy(self.status.version()) => opened,
                    () = shutdown.clone().signalled() => return,
                };
                match opened {
                    Ok((from, mut stream)) => {
                        tracing::info!(endpoint = %from, version = self.status.version(), "policy watch open");
                        backoff = MIN_BACKOFF;
                        loop {
                            let next = tokio::select! {
                                next = stream.message() => next,
                                () = shutdown.clone().signalled() => return,
                            };
                            match next {
                                Ok(Some(bundle)) => self.receive(bundle, &from).await,
                                Ok(None) => break,
                                Err(status) => {
                                    tracing::warn!(endpoint = %from, error = %status.message(), "policy watch failed");
                                    break;
                                }
                            }
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "policy watch not open"),
                }
                tokio::select! {
                    () = tokio::time::sleep(jitter(backoff)) => {}
                    () = shutdown.clone().signalled() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        });
    }

    /// Verifies, stages, builds and applies one bundle; refuses it otherwise.
    async fn receive(&self, bundle: PolicyBundle, from: &str) {
        let version = bundle.version;
        let running = self.status.version();
        if let Err(e) = format::verify(&bundle, &self.config.trusted, running, MAX_BUNDLE_BYTES) {
            self.reject(version, from, vec![e.to_string()]);
            return;
        }
        let store = self.store.clone();
        let allowed = self.config.sections.clone();
        let staged = tokio::task::spawn_blocking(move || {
            let dir = store.write_documents(&bundle).map_err(|e| vec![e])?;
            let overlay = overlay(&allowed, &bundle, &dir);
            if overlay.is_err() {
                store.remove(bundle.version);
            }
            Ok::<_, Vec<String>>((overlay?, bundle))
        })
        .await
        .unwrap_or_else(|e| Err(vec![e.to_string()]));
        let (overlay, bundle) = match staged {
            Ok(staged) => staged,
            Err(errors) => return self.reject(version, from, errors),
        };
        match self.reload.apply_pushed(Arc::new(overlay)).await {
            Ok(mut warnings) => {
                let store = self.store.clone();
                let kept = tokio::task::spawn_blocking(move || {
                    let kept = store.persist(&bundle);
                    store.prune(bundle.version);
                    kept
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
                if let Err(e) = kept {
                    tracing::error!(error = %e, "pushed policy applied but not kept; a restart returns to the previous one");
                    warnings.push(format!("not kept in state_dir: {e}"));
                }
                tracing::info!(version, endpoint = from, warnings = ?warnings, "pushed policy applied");
                rampart_service::audit::system_event(
                    "edge",
                    "push",
                    from,
                    true,
                    &format!("applied version {version}"),
                );
                self.status
                    .record(outcome(version, true, from, Vec::new(), warnings));
                // After the outcome: a status showing the new version also shows how it went.
                self.status.running.store(version, Ordering::Release);
            }
            Err(errors) => {
                let store = self.store.clone();
                let _ = tokio::task::spawn_blocking(move || store.remove(version)).await;
                self.reject(version, from, errors);
            }
        }
    }

    fn reject(&self, version: u64, from: &str, errors: Vec<String>) {
        tracing::warn!(version, endpoint = from, errors = ?errors, "pushed policy refused; the running one stays");
        let detail = format!(
            "refused version {version}: {}",
            errors.first().map_or("", String::as_str)
        );
        rampart_service::audit::system_event("edge", "push", from, false, &detail);
        self.status
            .record(outcome(version, false, from, errors, Vec::new()));
    }
}

fn outcome(
    version: u64,
    applied: bool,
    from: &str,
    errors: Vec<String>,
    warnings: Vec<String>,
) -> PushOutcome {
    PushOutcome {
        version,
        applied,
        at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        from: from.to_owned(),
        errors,
        warnings,
    }
}

/// `base` scaled by 50–150 %, so edges that lost the same inner do not return at once.
fn jitter(base: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    base.mul_f64(0.5 + f64::from(nanos % 1000) / 1000.0)
}

#[cfg(test)]
mod tests;

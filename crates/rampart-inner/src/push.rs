//! Config push from the LAN (`[push]`): the inner signs the edge's policy documents and
//! streams the newest bundle to every edge that watches (`PolicyPush.WatchPolicy`).
//!
//! The published documents are `policy` (a TOML file holding only the sections an edge
//! accepts from a push: routes, screening, address lists, identity, rate limits) and the
//! files it names by relative path under its own directory. They are read every
//! `interval`; a change is signed as a new version: the publish time in milliseconds,
//! or one more than the last version, whichever is larger, so versions stay monotonic
//! across restarts and replicas with sane clocks.
//!
//! What it does not do: validate the policy the way the edge does (it holds no edge
//! config; the edge builds it exactly as a reload would and refuses it when invalid, and
//! `rampart push check` runs that same build on the LAN before publishing), or publish
//! anything outside the policy file's directory.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rampart_core::config::{Problems, resolve};
use rampart_proto::push::{self as format, MAX_BUNDLE_BYTES, POLICY_DOCUMENT, PUSHABLE_SECTIONS};
use rampart_proto::v1::policy_push_server::PolicyPush;
use rampart_proto::v1::{PolicyBundle, PolicyDocument, WatchPolicyRequest};
use rampart_service::shutdown::Shutdown;
use serde::Deserialize;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

/// Largest signing key file read.
const MAX_KEY_FILE: u64 = 16 * 1024;

/// `[push]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPush {
    policy: Option<PathBuf>,
    signing_key: Option<PathBuf>,
    interval: Option<String>,
}

/// `[push]`, validated: what to publish and the key that signs it.
#[derive(Clone)]
pub struct PushConfig {
    /// The policy document; the files it names are published with it.
    pub policy: PathBuf,
    /// The Ed25519 signing key.
    pub signer: Arc<format::Signer>,
    /// How often the documents are read for changes.
    pub interval: Duration,
}

impl std::fmt::Debug for PushConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushConfig")
            .field("policy", &self.policy)
            .field("key_id", &self.signer.public_key().id())
            .field("interval", &self.interval)
            .finish()
    }
}

/// Validates `[push]`; the signing key must be readable by its owner only.
pub(crate) fn validate(p: &mut Problems, base: &Path, raw: &RawPush) -> Option<PushConfig> {
    let interval = p.duration_or(
        "push.interval",
        raw.interval.as_ref(),
        Duration::from_secs(2),
    );
    if interval < Duration::from_millis(100) {
        p.push("push.interval", "must be at least 100ms");
    }
    let policy = p
        .required("push.policy", raw.policy.as_ref())
        .map(|f| resolve(base, f));
    if let Some(policy) = &policy
        && !policy.is_file()
    {
        p.push("push.policy", format!("{} is not a file", policy.display()));
    }
    let signer = p
        .required("push.signing_key", raw.signing_key.as_ref())
        .and_then(|f| {
            load_signer(&resolve(base, f))
                .map_err(|e| p.push("push.signing_key", e))
                .ok()
        });
    Some(PushConfig {
        policy: policy?,
        signer: Arc::new(signer?),
        interval,
    })
}

fn load_signer(file: &Path) -> Result<format::Signer, String> {
    let meta = std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} is readable by group or others (mode {mode:o}); chmod 600 it",
                file.display()
            ));
        }
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(format!("{} is larger than a key file", file.display()));
    }
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    format::Signer::from_pem(&text).map_err(|e| e.to_string())
}

/// The newest bundle, shared with every watching edge.
pub(crate) struct Publisher {
    latest: watch::Sender<Option<Arc<PolicyBundle>>>,
    published: AtomicU64,
    refused: AtomicU64,
}

impl Publisher {
    /// Starts reading and signing when `config` is set; without it, watchers wait
    /// with an open stream and receive nothing.
    pub(crate) fn start(config: Option<&PushConfig>, shutdown: &Shutdown) -> Arc<Self> {
        let publisher = Arc::new(Self {
            latest: watch::Sender::new(None),
            published: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        });
        if let Some(config) = config {
            tracing::info!(
                policy = %config.policy.display(),
                key_id = config.signer.public_key().id(),
                "publishing the edge policy"
            );
            tokio::spawn(publisher.clone().run(config.clone(), shutdown.clone()));
        }
        publisher
    }

    /// The gRPC service edges watch.
    pub(crate) fn service(&self) -> PushService {
        PushService {
            latest: self.latest.subscribe(),
        }
    }

    async fn run(self: Arc<Self>, config: PushConfig, shutdown: Shutdown) {
        let mut last: Option<Vec<PolicyDocument>> = None;
        let mut last_error: Option<String> = None;
        let mut tick = tokio::time::interval(config.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.clone().signalled() => return,
            }
            let policy = config.policy.clone();
            let collected = tokio::task::spawn_blocking(move || collect(&policy))
                .await
                .unwrap_or_else(|e| Err(format!("reading task failed: {e}")));
            match collected {
                Ok(documents) if last.as_ref() == Some(&documents) => {}
                Ok(documents) => {
                    last_error = None;
                    self.publish(&config.signer, documents.clone());
                    last = Some(documents);
                }
                Err(error) => {
                    // Reported once per distinct problem; the last good bundle stays.
                    if last_error.as_ref() != Some(&error) {
                        self.refused.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error, "edge policy not published; the last one stays");
                        rampart_service::audit::system_event(
                            "inner", "push", "policy", false, &error,
                        );
                        last_error = Some(error);
                    }
                }
            }
        }
    }

    fn publish(&self, signer: &format::Signer, documents: Vec<PolicyDocument>) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let previous = self.latest.borrow().as_ref().map_or(0, |b| b.version);
        let now_ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
        let version = now_ms.max(previous.saturating_add(1));
        let bundle = signer.sign(version, now.as_secs(), documents);
        let size = prost::Message::encoded_len(&bundle);
        self.latest.send_replace(Some(Arc::new(bundle)));
        self.published.fetch_add(1, Ordering::Relaxed);
        tracing::info!(version, size, "edge policy published");
        let detail = format!("published version {version}");
        rampart_service::audit::system_event("inner", "push", "policy", true, &detail);
    }

    /// The `rampart_push_*` metric lines.
    pub(crate) fn render_metrics(&self) -> String {
        let version = self.latest.borrow().as_ref().map_or(0, |b| b.version);
        format!(
            "# HELP rampart_push_version Version of the edge policy bundle published (0: none).\n\
             # TYPE rampart_push_version gauge\n\
             rampart_push_version{{tier=\"inner\"}} {version}\n\
             # HELP rampart_push_bundles_total Edge policy bundles by result.\n\
             # TYPE rampart_push_bundles_total counter\n\
             rampart_push_bundles_total{{tier=\"inner\",result=\"published\"}} {}\n\
             rampart_push_bundles_total{{tier=\"inner\",result=\"refused\"}} {}\n",
            self.published.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }
}

/// Reads the policy document and the files it names, within the bundle cap: the documents
/// the inner signs and publishes (also what `rampart push check` checks).
///
/// # Errors
///
/// An unreadable or oversized file, a section that cannot be pushed, or too many files.
pub fn collect(policy: &Path) -> Result<Vec<PolicyDocument>, String> {
    let mut budget = MAX_BUNDLE_BYTES - 64 * 1024;
    let text = read_bounded(policy, &mut budget)?;
    let table: toml::Table = std::str::from_utf8(&text)
        .map_err(|_| format!("{} is not UTF-8", policy.display()))?
        .parse()
        .map_err(|e: toml::de::Error| format!("{}: {}", policy.display(), e.message()))?;
    if let Some(key) = table
        .keys()
        .find(|k| !PUSHABLE_SECTIONS.contains(&k.as_str()))
    {
        return Err(format!(
            "{}: section {key:?} cannot be pushed (only {})",
            policy.display(),
            PUSHABLE_SECTIONS.join(", ")
        ));
    }
    let base = policy.parent().unwrap_or(Path::new("."));
    let mut names = std::collections::BTreeSet::new();
    named_files(&toml::Value::Table(table), base, &mut names);
    let mut documents = vec![PolicyDocument {
        name: POLICY_DOCUMENT.to_owned(),
        content: text.into(),
    }];
    for name in names {
        if name == POLICY_DOCUMENT {
            continue;
        }
        if documents.len() >= format::MAX_DOCUMENTS {
            return Err(format!("more than {} files named", format::MAX_DOCUMENTS));
        }
        let content = read_bounded(&base.join(&name), &mut budget)?;
        documents.push(PolicyDocument {
            name,
            content: content.into(),
        });
    }
    documents.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(documents)
}

/// Strings of the TOML that are safe relative paths of existing files under `base`.
fn named_files(value: &toml::Value, base: &Path, out: &mut std::collections::BTreeSet<String>) {
    match value {
        toml::Value::String(s) => {
            let relative = Path::new(s);
            let plain = relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
            if plain && format::check_name(s).is_ok() && base.join(relative).is_file() {
                out.insert(s.clone());
            }
        }
        toml::Value::Array(items) => items.iter().for_each(|v| named_files(v, base, out)),
        toml::Value::Table(t) => t.values().for_each(|v| named_files(v, base, out)),
        _ => {}
    }
}

fn read_bounded(file: &Path, budget: &mut usize) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let opened = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut content = Vec::new();
    let cap = u64::try_from(*budget).unwrap_or(u64::MAX) + 1;
    opened
        .take(cap)
        .read_to_end(&mut content)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    if content.len() > *budget {
        return Err(format!(
            "the policy documents exceed {MAX_BUNDLE_BYTES} bytes (at {})",
            file.display()
        ));
    }
    *budget -= content.len();
    Ok(content)
}

/// `PolicyPush`: each watch gets the newest bundle above its version, then every
/// later one; a slow edge skips straight to the newest.
pub(crate) struct PushService {
    latest: watch::Receiver<Option<Arc<PolicyBundle>>>,
}

#[tonic::async_trait]
impl PolicyPush for PushService {
    type WatchPolicyStream = ReceiverStream<Result<PolicyBundle, Status>>;

    async fn watch_policy(
        &self,
        request: Request<WatchPolicyRequest>,
    ) -> Result<Response<Self::WatchPolicyStream>, Status> {
        let mut sent = request.into_inner().have_version;
        let mut latest = self.latest.clone();
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            loop {
                let newest = latest.borrow_and_update().clone();
                if let Some(bundle) = newest.filter(|b| b.version > sent) {
                    sent = bundle.version;
                    if tx.send(Ok(PolicyBundle::clone(&bundle))).await.is_err() {
                        return;
                    }
                }
                tokio::select! {
                    changed = latest.changed() => if changed.is_err() { return },
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn publishes_the_policy_and_the_files_it_names_under_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("lists")).unwrap();
        write(d, "lists/deny.txt", "203.0.113.0/24\n");
        write(d, "consumers.toml", "");
        write(d, "unrelated.txt", "not named");
        let outside = tempfile::NamedTempFile::new().unwrap();
        let policy = format!(
            "[ip_policy]\ndeny = [\"lists/deny.txt\", \"{}\", \"../x\"]\n[identity]\nconsumers = \"consumers.toml\"\n",
            outside.path().display()
        );
        write(d, "edge-policy.toml", &policy);
        let docs = collect(&d.join("edge-policy.toml")).unwrap();
        let names: Vec<&str> = docs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["consumers.toml", "lists/deny.txt", "policy.toml"]);
        assert!(format::check_documents(&docs).is_ok());
    }

    #[test]
    fn refuses_sections_an_edge_never_takes_from_a_push() {
        let dir = tempfile::tempdir().unwrap();
        for (text, ok) in [
            ("[rate_limit]\npolicies = []\n", true),
            ("[[routes]]\nname = \"a\"\n", true),
            ("[server]\nhttp_listen = \"0.0.0.0:80\"\n", false),
            ("[inner]\nendpoints = []\n", false),
            ("[admin]\ntokens = []\n", false),
            ("[push]\nenabled = false\n", false),
            ("[tls]\ncert = \"x\"\n", false),
        ] {
            write(dir.path(), "p.toml", text);
            assert_eq!(collect(&dir.path().join("p.toml")).is_ok(), ok, "{text}");
        }
    }

    #[test]
    fn refuses_documents_over_the_bundle_cap() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "big.txt", &"1".repeat(MAX_BUNDLE_BYTES));
        write(dir.path(), "p.toml", "[ip_policy]\ndeny = [\"big.txt\"]\n");
        let err = collect(&dir.path().join("p.toml")).unwrap_err();
        assert!(err.contains("exceed"), "{err}");
        write(dir.path(), "big.txt", "1.2.3.4\n");
        assert!(collect(&dir.path().join("p.toml")).is_ok());
    }

    #[test]
    fn a_signing_key_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let (pem, public) = format::generate().unwrap();
        let key = dir.path().join("push.key");
        write(dir.path(), "push.key", &pem);
        for (mode, ok) in [(0o600, true), (0o400, true), (0o640, false), (0o644, false)] {
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
            let got = load_signer(&key);
            assert_eq!(got.is_ok(), ok, "mode {mode:o}");
            if let Ok(signer) = got {
                assert_eq!(signer.public_key(), &public);
            }
        }
    }

    #[tokio::test]
    async fn a_watch_gets_the_newest_bundle_above_its_version_then_later_ones() {
        let (pem, _) = format::generate().unwrap();
        let signer = format::Signer::from_pem(&pem).unwrap();
        let publisher = Publisher::start(None, &rampart_service::shutdown::channel().1);
        let doc = |t: &str| PolicyDocument {
            name: POLICY_DOCUMENT.to_owned(),
            content: bytes::Bytes::copy_from_slice(t.as_bytes()),
        };
        publisher.publish(&signer, vec![doc("a")]);
        let first = publisher.latest.borrow().as_ref().unwrap().version;
        let service = publisher.service();
        use tokio_stream::StreamExt as _;
        let mut current = service
            .watch_policy(Request::new(WatchPolicyRequest { have_version: 0 }))
            .await
            .unwrap()
            .into_inner();
        let mut up_to_date = service
            .watch_policy(Request::new(WatchPolicyRequest {
                have_version: first,
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(current.next().await.unwrap().unwrap().version, first);
        publisher.publish(&signer, vec![doc("b")]);
        let second = current.next().await.unwrap().unwrap();
        assert!(second.version > first);
        assert_eq!(
            up_to_date.next().await.unwrap().unwrap().version,
            second.version
        );
    }
}

//! `[admin] peers`: the other tiers' admin listeners, followed so one dashboard (the
//! inner's, on the LAN side) shows both tiers.
//!
//! Each peer is followed by one task: it reads the peer's recent events once
//! (`GET /admin/events`), then keeps the peer's event stream open (`GET /admin/stream`)
//! and caches the latest overview (status, audit totals, top lists, groups) and the
//! decision records as they arrive. One stream per peer instead of polling keeps the
//! peer's audit log quiet: every admin call is audited, a stream only when it opens.
//!
//! Pages never wait for a peer: they read the cache. A peer that does not answer within
//! [`PEER_TIMEOUT`], answers with an error, or stops sending overviews for
//! [`READ_TIMEOUT`] is shown as down with the reason, and is retried with backoff.
//! Every answer is bounded ([`MAX_ANSWER`] per response or event), and what a peer
//! sends is only ever shown as text: an edge in the DMZ is less trusted than the LAN
//! page that shows it.
//!
//! ```toml
//! [admin]
//! # A viewer token of the peer, one line in a file readable by this tier only.
//! peers = [{ name = "edge", url = "http://10.0.0.5:9901", token_file = "/run/secrets/edge-viewer.token" }]
//! # https with a private CA:
//! # peers = [{ name = "edge", url = "https://edge-admin:9901", token_file = "edge.token", ca_file = "admin-ca.pem" }]
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, HOST, HeaderValue};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rampart_core::config::{Problems, resolve};
use serde::Deserialize;
use serde_json::Value;

use super::api::PEER_TIMEOUT;
use crate::shutdown::Shutdown;

/// A followed stream that sends nothing for this long is dropped (peers send an
/// overview every two seconds).
pub const READ_TIMEOUT: Duration = Duration::from_secs(8);
/// Largest answer or stream event taken from a peer.
pub const MAX_ANSWER: usize = 1024 * 1024;
/// Peers at most.
const MAX_PEERS: usize = 8;
/// Decision records kept per peer.
const EVENTS_KEPT: usize = 100;
/// Longest wait between two attempts at a peer that is down.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Largest token file.
const MAX_TOKEN: usize = 1024;

/// One peer as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPeer {
    /// Shown on the dashboard (`edge`).
    pub name: String,
    /// The peer's admin listener, `http://host:port` or `https://host:port`.
    pub url: String,
    /// A file holding a viewer token of the peer.
    pub token_file: String,
    /// CA bundle that signed the peer's admin certificate (https only).
    pub ca_file: Option<String>,
}

/// A validated peer.
#[derive(Clone)]
pub struct Peer {
    /// Shown on the dashboard.
    pub name: String,
    /// The URL as configured (without a trailing slash).
    pub url: String,
    host: String,
    port: u16,
    authority: HeaderValue,
    base_path: String,
    tls: Option<PeerTls>,
    /// `Bearer <token>`, never logged.
    authorization: HeaderValue,
}

#[derive(Clone)]
struct PeerTls {
    ca_file: PathBuf,
    config: Arc<rustls::ClientConfig>,
    server_name: rustls::pki_types::ServerName<'static>,
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("name", &self.name)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Peer {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.url == other.url
            && self.authorization == other.authorization
            && self.tls.as_ref().map(|t| &t.ca_file) == other.tls.as_ref().map(|t| &t.ca_file)
    }
}

impl Eq for Peer {}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Validates `peers` of `[section]`, recording every problem with its key path. Token
/// and CA files are read now, relative to `base` (the config file's directory).
pub(crate) fn validate(
    section: &str,
    raw: &[RawPeer],
    base: &Path,
    p: &mut Problems,
) -> Option<Vec<Peer>> {
    let mut ok = true;
    if raw.len() > MAX_PEERS {
        p.push(
            format!("{section}.peers"),
            format!("at most {MAX_PEERS} peers"),
        );
        ok = false;
    }
    let mut peers = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let key = |k: &str| format!("{section}.peers[{i}].{k}");
        if !valid_name(&r.name) {
            p.push(key("name"), "1..=32 letters, digits, '-', '_', '.'");
            ok = false;
        } else if raw[..i].iter().any(|o| o.name == r.name) {
            p.push(key("name"), format!("{:?} is used twice", r.name));
            ok = false;
        }
        match validate_one(r, base) {
            Ok(peer) => peers.push(peer),
            Err((k, message)) => {
                p.push(key(k), message);
                ok = false;
            }
        }
    }
    ok.then_some(peers)
}

fn validate_one(r: &RawPeer, base: &Path) -> Result<Peer, (&'static str, String)> {
    let url = r.url.trim_end_matches('/');
    let uri: Uri = url
        .parse()
        .map_err(|_| ("url", format!("{url:?} is not a URL")))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(("url", "must start with http:// or https://".to_owned())),
    };
    let authority = uri.authority().ok_or(("url", "names no host".to_owned()))?;
    if authority.as_str().contains('@') {
        return Err((
            "url",
            "must not carry credentials; use token_file".to_owned(),
        ));
    }
    if uri.query().is_some() {
        return Err(("url", "must not have a query".to_owned()));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let authority_header = HeaderValue::from_str(authority.as_str())
        .map_err(|_| ("url", "has an unusable host".to_owned()))?;
    let token_path = resolve(base, Path::new(&r.token_file));
    let token = read_token(&token_path).map_err(|m| ("token_file", m))?;
    let authorization = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        (
            "token_file",
            "holds characters a header cannot carry".to_owned(),
        )
    })?;
    let tls = match (&r.ca_file, https) {
        (Some(_), false) => {
            return Err(("ca_file", "only for https:// URLs".to_owned()));
        }
        (None, true) => return Err(("ca_file", "is required for https:// URLs".to_owned())),
        (None, false) => None,
        (Some(ca), true) => {
            let ca_file = resolve(base, Path::new(ca));
            let roots =
                rampart_tls::load_roots(&ca_file).map_err(|e| ("ca_file", e.to_string()))?;
            let config = rampart_tls::upstream_client_config(roots)
                .map_err(|e| ("ca_file", e.to_string()))?;
            let server_name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|_| ("url", "has a host TLS cannot verify".to_owned()))?;
            Some(PeerTls {
                ca_file,
                config: Arc::new(config),
                server_name,
            })
        }
    };
    Ok(Peer {
        name: r.name.clone(),
        url: url.to_owned(),
        host,
        port,
        authority: authority_header,
        base_path: uri.path().trim_end_matches('/').to_owned(),
        tls,
        authorization,
    })
}

/// The token in `path`: one line, surrounding whitespace ignored. The content is never
/// echoed in an error (it is a secret).
fn read_token(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() > MAX_TOKEN {
        return Err(format!("{}: larger than {MAX_TOKEN} bytes", path.display()));
    }
    let token = std::str::from_utf8(&bytes)
        .map(str::trim)
        .map_err(|_| format!("{}: not UTF-8", path.display()))?;
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{}: must hold one token (printable ASCII, no spaces)",
            path.display()
        ));
    }
    Ok(token.to_owned())
}

/// Why a peer is shown as down.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// No TCP connection.
    #[error("connection failed: {0}")]
    Connect(std::io::Error),
    /// The TLS handshake failed.
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
    /// HTTP failed on an open connection.
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    /// The peer refused (401: wrong token, 403: not a viewer...).
    #[error("answered {0}")]
    Status(StatusCode),
    /// An answer or event was larger than [`MAX_ANSWER`].
    #[error("answer larger than {MAX_ANSWER} bytes")]
    TooLarge,
    /// Nothing within the deadline.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Not the JSON expected.
    #[error("malformed answer")]
    Malformed,
}

/// What is known about one peer.
#[derive(Debug, Default)]
struct Entry {
    name: String,
    url: String,
    up: bool,
    error: Option<String>,
    last_seen: Option<Instant>,
    /// The peer's own status (its `TierStatus`), without its peers.
    status: Value,
    audit: Value,
    tops: Value,
    groups: Value,
    /// Decision records, newest first.
    events: VecDeque<Value>,
}

/// The latest of every peer, read by pages and the sampler; written by the followers.
#[derive(Debug, Default)]
pub(crate) struct PeerCache {
    entries: Mutex<Vec<Entry>>,
}

impl PeerCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with(&self, name: &str, f: impl FnOnce(&mut Entry)) {
        if let Some(e) = self.lock().iter_mut().find(|e| e.name == name) {
            f(e);
        }
    }

    /// Keeps one entry per configured peer, in config order.
    fn sync(&self, peers: &[Peer]) {
        let mut entries = self.lock();
        let mut old = std::mem::take(&mut *entries);
        for peer in peers {
            let entry = match old
                .iter()
                .position(|e| e.name == peer.name && e.url == peer.url)
            {
                Some(i) => old.swap_remove(i),
                None => Entry {
                    name: peer.name.clone(),
                    url: peer.url.clone(),
                    error: Some("not contacted yet".to_owned()),
                    ..Entry::default()
                },
            };
            entries.push(entry);
        }
    }

    /// Each peer as a tier status, with `peer` telling whether it answers. A down peer
    /// keeps its last known numbers but is not ready.
    pub(crate) fn statuses(&self) -> Vec<Value> {
        self.lock()
            .iter()
            .map(|e| {
                let mut status = match &e.status {
                    Value::Object(map) => Value::Object(map.clone()),
                    _ => serde_json::json!({ "tier": e.name, "ready": false }),
                };
                if !e.up {
                    status["ready"] = Value::Bool(false);
                }
                status["peer"] = serde_json::json!({
                    "name": e.name,
                    "url": e.url,
                    "up": e.up,
                    "error": e.error,
                    "seen_ms_ago": e.last_seen.map(|t| t.elapsed().as_millis() as u64),
                });
                status
            })
            .collect()
    }

    /// The peers' audit summaries, by peer name.
    pub(crate) fn audits(&self) -> Value {
        let map = self
            .lock()
            .iter()
            .filter(|e| !e.audit.is_null())
            .map(|e| (e.name.clone(), e.audit.clone()))
            .collect();
        Value::Object(map)
    }

    /// The latest `limit` decision records of every peer, newest first per peer.
    pub(crate) fn events(&self, limit: usize) -> Vec<Value> {
        self.lock()
            .iter()
            .flat_map(|e| e.events.iter().take(limit).cloned().collect::<Vec<_>>())
            .collect()
    }

    /// `local` top lists with every peer's added in, `n` per list.
    pub(crate) fn merge_tops(&self, local: Value, n: usize) -> Value {
        let peers: Vec<Value> = self.lock().iter().map(|e| e.tops.clone()).collect();
        merge_tops(local, &peers, n)
    }

    /// `local` groups and every peer's, most frequent first, `n` at most.
    pub(crate) fn merge_groups(&self, local: Value, n: usize) -> Value {
        let mut all: Vec<Value> = match local {
            Value::Array(list) => list,
            _ => Vec::new(),
        };
        for e in self.lock().iter() {
            if let Value::Array(list) = &e.groups {
                all.extend(list.iter().cloned());
            }
        }
        all.sort_by(|a, b| b["count"].as_u64().cmp(&a["count"].as_u64()));
        all.truncate(n);
        Value::Array(all)
    }
}

/// Adds top lists up by key (each list of `{key, count}`), keeping the `n` largest.
fn merge_tops(local: Value, peers: &[Value], n: usize) -> Value {
    let mut out = local;
    for list in ["rules", "routes", "clients", "reasons"] {
        let mut counts: Vec<(String, u64)> = Vec::new();
        for source in std::iter::once(&out).chain(peers.iter()) {
            for item in source[list].as_array().into_iter().flatten() {
                let (Some(key), Some(count)) = (item["key"].as_str(), item["count"].as_u64())
                else {
                    continue;
                };
                match counts.iter_mut().find(|(k, _)| k == key) {
                    Some((_, c)) => *c = c.saturating_add(count),
                    None => counts.push((key.to_owned(), count)),
                }
            }
        }
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts.truncate(n);
        let merged: Vec<Value> = counts
            .into_iter()
            .map(|(key, count)| serde_json::json!({ "key": key, "count": count }))
            .collect();
        if let Value::Object(map) = &mut out {
            map.insert(list.to_owned(), Value::Array(merged));
        }
    }
    out
}

/// Follows the peers `config` names (asked once per tick) until `shutdown`, so a reload
/// that changes them is picked up within one tick.
pub(crate) async fn run(
    config: impl Fn() -> Vec<Peer> + Send + 'static,
    cache: Arc<PeerCache>,
    shutdown: Shutdown,
) {
    let stop = shutdown.signalled();
    tokio::pin!(stop);
    let mut running: Vec<(Peer, tokio::task::JoinHandle<()>)> = Vec::new();
    let mut tick = tokio::time::interval(super::stream::TICK);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut stop => break,
        }
        let wanted = config();
        running.retain(|(peer, task)| {
            let keep = wanted.contains(peer);
            if !keep {
                task.abort();
            }
            keep
        });
        cache.sync(&wanted);
        for peer in wanted {
            if !running.iter().any(|(p, _)| *p == peer) {
                let task = tokio::spawn(follow(peer.clone(), cache.clone()));
                running.push((peer, task));
            }
        }
    }
    for (_, task) in running {
        task.abort();
    }
}

/// Follows one peer for ever, reconnecting with backoff.
async fn follow(peer: Peer, cache: Arc<PeerCache>) {
    let mut backoff = Duration::ZERO;
    loop {
        let started = Instant::now();
        match session(&peer, &cache).await {
            // The peer ended the stream (its streams have a maximum life): again at once,
            // unless it keeps ending them at once.
            Ok(()) => {
                backoff = Duration::ZERO;
                if started.elapsed() < super::stream::TICK {
                    tokio::time::sleep(super::stream::TICK).await;
                }
                continue;
            }
            Err(e) => {
                let message = e.to_string();
                cache.with(&peer.name, |entry| {
                    if entry.up {
                        tracing::warn!(peer = %peer.name, error = %message, "admin peer down");
                    }
                    entry.up = false;
                    entry.error = Some(message.clone());
                });
                tracing::debug!(peer = %peer.name, error = %message, "admin peer unreachable");
            }
        }
        backoff = if started.elapsed() > MAX_BACKOFF {
            Duration::from_secs(1)
        } else {
            (backoff * 2).clamp(Duration::from_secs(1), MAX_BACKOFF)
        };
        tokio::time::sleep(backoff).await;
    }
}

type Sender = SendRequest<Empty<Bytes>>;

async fn handshake<I>(io: I) -> Result<Sender, PeerError>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

async fn connect(peer: &Peer) -> Result<Sender, PeerError> {
    let tcp = tokio::net::TcpStream::connect((peer.host.as_str(), peer.port))
        .await
        .map_err(PeerError::Connect)?;
    let _ = tcp.set_nodelay(true);
    match &peer.tls {
        None => handshake(tcp).await,
        Some(tls) => {
            let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
            let stream = connector
                .connect(tls.server_name.clone(), tcp)
                .await
                .map_err(PeerError::Tls)?;
            handshake(stream).await
        }
    }
}

fn request(peer: &Peer, path: &str) -> Result<Request<Empty<Bytes>>, PeerError> {
    Request::get(format!("{}{path}", peer.base_path))
        .header(HOST, peer.authority.clone())
        .header(AUTHORIZATION, peer.authorization.clone())
        .header(ACCEPT, "application/json, text/event-stream")
        .body(Empty::new())
        .map_err(|_| PeerError::Malformed)
}

async fn within<T>(
    limit: Duration,
    f: impl Future<Output = Result<T, PeerError>>,
) -> Result<T, PeerError> {
    tokio::time::timeout(limit, f)
        .await
        .map_err(|_| PeerError::Timeout(limit))?
}

/// One connection: recent events, then the stream until it ends or fails.
async fn session(peer: &Peer, cache: &PeerCache) -> Result<(), PeerError> {
    let mut sender = within(PEER_TIMEOUT, connect(peer)).await?;
    let recent = within(PEER_TIMEOUT, async {
        let response = sender
            .send_request(request(peer, "/admin/events?limit=50")?)
            .await?;
        if response.status() != StatusCode::OK {
            return Err(PeerError::Status(response.status()));
        }
        let body = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| match e.downcast::<hyper::Error>() {
                Ok(e) => PeerError::Http(*e),
                Err(_) => PeerError::TooLarge,
            })?
            .to_bytes();
        serde_json::from_slice::<Value>(&body).map_err(|_| PeerError::Malformed)
    })
    .await?;
    cache.with(&peer.name, |entry| {
        entry.events = recent["events"]
            .as_array()
            .into_iter()
            .flatten()
            .take(EVENTS_KEPT)
            .cloned()
            .collect();
    });
    within(PEER_TIMEOUT, async { Ok(sender.ready().await?) }).await?;
    let response = within(PEER_TIMEOUT, async {
        Ok(sender.send_request(request(peer, "/admin/stream")?).await?)
    })
    .await?;
    if response.status() != StatusCode::OK {
        return Err(PeerError::Status(response.status()));
    }
    let mut body = response.into_body();
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        let frame = tokio::time::timeout(READ_TIMEOUT, body.frame())
            .await
            .map_err(|_| PeerError::Timeout(READ_TIMEOUT))?;
        let Some(frame) = frame else {
            return Ok(());
        };
        if let Ok(data) = frame?.into_data() {
            buffer.extend_from_slice(&data);
        }
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = buffer.drain(..end + 2).collect();
            take_event(peer, cache, &block);
        }
        if buffer.len() > MAX_ANSWER {
            return Err(PeerError::TooLarge);
        }
    }
}

/// One server-sent event: `event:` and `data:` lines; comments and unknown events are
/// skipped.
fn parse_event(block: &[u8]) -> Option<(&str, String)> {
    let text = std::str::from_utf8(block).ok()?;
    let mut event = "message";
    let mut data = String::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = v.trim();
        } else if let Some(v) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    (!data.is_empty()).then_some((event, data))
}

fn take_event(peer: &Peer, cache: &PeerCache, block: &[u8]) {
    let Some((event, data)) = parse_event(block) else {
        return;
    };
    let Ok(doc) = serde_json::from_str::<Value>(&data) else {
        return;
    };
    match event {
        "overview" => cache.with(&peer.name, |entry| {
            if !entry.up {
                tracing::info!(peer = %peer.name, "admin peer up");
            }
            entry.up = true;
            entry.error = None;
            entry.last_seen = Some(Instant::now());
            entry.status = doc["status"]["status"].clone();
            entry.audit = doc["status"]["audit"].clone();
            entry.tops = doc["tops"].clone();
            entry.groups = doc["groups"].clone();
        }),
        "audit" if doc["kind"] == "decision" => cache.with(&peer.name, |entry| {
            entry.events.push_front(doc);
            entry.events.truncate(EVENTS_KEPT);
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests;

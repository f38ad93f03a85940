//! Where an issuer's signing keys come from, and the cache that holds them.
//!
//! Keys are fetched from a `jwks_uri`, or from the one named by the issuer's discovery
//! document (`{issuer}/.well-known/openid-configuration`, whose `issuer` must match).
//! They are refreshed in the background every `refresh_interval`, and on a `kid` miss —
//! at most once per `min_refresh_interval`, with concurrent misses sharing one fetch, so a
//! flood of made-up `kid`s cannot turn into a flood of requests to the IdP. When nothing
//! was ever fetched, verification fails closed with [`TokenError::KeysUnavailable`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use http::Uri;
use serde_json::Value;

use crate::error::TokenError;
use crate::fetch::{FetchError, Fetcher, is_https};
use crate::json::parse_object;
use crate::jwk::{Alg, JwkSet};

/// Default background refresh period.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(600);
/// Default minimum time between two fetches triggered by unknown `kid`s.
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Default cap on the number of keys in a JWKS.
pub const DEFAULT_MAX_KEYS: usize = 64;

/// Where an issuer publishes its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A fixed JWKS location.
    JwksUri(Uri),
    /// OpenID Connect discovery under the issuer URL.
    Discovery,
}

/// Refresh timing.
#[derive(Debug, Clone, Copy)]
pub struct RefreshPolicy {
    /// Background refresh period.
    pub refresh_interval: Duration,
    /// Minimum time between fetches caused by unknown `kid`s.
    pub min_refresh_interval: Duration,
    /// Most keys accepted in one JWKS.
    pub max_keys: usize,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            min_refresh_interval: DEFAULT_MIN_REFRESH_INTERVAL,
            max_keys: DEFAULT_MAX_KEYS,
        }
    }
}

#[derive(Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
    /// From discovery, kept once found.
    jwks_uri: Option<Uri>,
}

/// One issuer's key cache.
pub(crate) struct KeyStore {
    issuer: String,
    source: KeySource,
    fetcher: Fetcher,
    policy: RefreshPolicy,
    keys: RwLock<Option<Arc<JwkSet>>>,
    /// Serialises fetches; waiters re-check `generation` and reuse the result.
    refresh: tokio::sync::Mutex<RefreshState>,
    generation: AtomicU64,
    fetches: AtomicU64,
}

/// Why the keys could not be refreshed. Logged only.
#[derive(Debug, thiserror::Error)]
enum RefreshError {
    #[error("{0}")]
    Fetch(#[from] FetchError),
    #[error("discovery document: {0}")]
    Discovery(&'static str),
    #[error("JWKS: {0:?}")]
    Jwks(crate::jwk::JwksProblem),
}

impl KeyStore {
    pub(crate) fn new(
        issuer: String,
        source: KeySource,
        fetcher: Fetcher,
        policy: RefreshPolicy,
    ) -> Self {
        Self {
            issuer,
            source,
            fetcher,
            policy,
            keys: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            generation: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
        }
    }

    /// JWKS fetches attempted so far (discovery documents not counted).
    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn cached(&self) -> Option<Arc<JwkSet>> {
        self.keys.read().ok().and_then(|k| k.clone())
    }

    /// The key set to verify a token with `kid`/`alg`: the cached one when it holds a
    /// matching key, else a refreshed one (rate-limited).
    pub(crate) async fn keys_for(
        &self,
        kid: Option<&str>,
        alg: Alg,
    ) -> Result<Arc<JwkSet>, TokenError> {
        let seen = self.generation.load(Ordering::Acquire);
        if let Some(set) = self.cached()
            && set.select(kid, alg).is_some()
        {
            return Ok(set);
        }
        self.refresh_after_miss(seen).await;
        match self.cached() {
            Some(set) if set.select(kid, alg).is_some() => Ok(set),
            Some(_) => Err(TokenError::UnknownKey),
            None => Err(TokenError::KeysUnavailable),
        }
    }

    /// Fetches unless another fetch finished since `seen` or one was attempted within
    /// `min_refresh_interval`.
    async fn refresh_after_miss(&self, seen: u64) {
        let mut state = self.refresh.lock().await;
        if self.generation.load(Ordering::Acquire) != seen {
            return; // someone refreshed while we waited: use their result
        }
        if state
            .last_attempt
            .is_some_and(|at| at.elapsed() < self.policy.min_refresh_interval)
        {
            return;
        }
        self.fetch_locked(&mut state).await;
    }

    /// Fetches now (background refresh). Returns true on success.
    pub(crate) async fn refresh_now(&self) -> bool {
        let mut state = self.refresh.lock().await;
        self.fetch_locked(&mut state).await
    }

    async fn fetch_locked(&self, state: &mut RefreshState) -> bool {
        state.last_attempt = Some(Instant::now());
        match self.fetch(state).await {
            Ok(set) => {
                tracing::debug!(issuer = %self.issuer, keys = set.keys.len(), "JWKS refreshed");
                if let Ok(mut keys) = self.keys.write() {
                    *keys = Some(Arc::new(set));
                }
                self.generation.fetch_add(1, Ordering::AcqRel);
                true
            }
            Err(e) => {
                // Keep serving with the keys we have: a rotation we miss shows up as
                // unknown-kid errors, an outage with no keys as KeysUnavailable.
                tracing::warn!(issuer = %self.issuer, error = %e, "JWKS refresh failed");
                if matches!(self.source, KeySource::Discovery) {
                    state.jwks_uri = None;
                }
                false
            }
        }
    }

    async fn fetch(&self, state: &mut RefreshState) -> Result<JwkSet, RefreshError> {
        let uri = match (&self.source, &state.jwks_uri) {
            (KeySource::JwksUri(uri), _) => uri.clone(),
            (KeySource::Discovery, Some(uri)) => uri.clone(),
            (KeySource::Discovery, None) => {
                let uri = self.discover().await?;
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let body = self.fetcher.get(&uri).await?;
        JwkSet::parse(&body, self.policy.max_keys).map_err(RefreshError::Jwks)
    }

    async fn discover(&self) -> Result<Uri, RefreshError> {
        let uri: Uri = discovery_uri(&self.issuer)
            .parse()
            .map_err(|_| RefreshError::Discovery("issuer is not a URI"))?;
        let body = self.fetcher.get(&uri).await?;
        let doc = parse_object(&body).ok_or(RefreshError::Discovery("not a JSON object"))?;
        // OpenID Connect Discovery 1.0 section 4.3: the document must name this issuer.
        if doc.get("issuer").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(RefreshError::Discovery("issuer does not match"));
        }
        let jwks_uri: Uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .and_then(|u| u.parse().ok())
            .ok_or(RefreshError::Discovery("jwks_uri missing or malformed"))?;
        if !is_https(&jwks_uri) {
            return Err(RefreshError::Discovery("jwks_uri is not https"));
        }
        Ok(jwks_uri)
    }

    /// Refreshes every `refresh_interval` (sooner after a failure) until dropped.
    pub(crate) async fn refresh_loop(self: Arc<Self>) {
        loop {
            let ok = self.refresh_now().await;
            let wait = if ok {
                self.policy.refresh_interval
            } else {
                self.policy
                    .min_refresh_interval
                    .min(self.policy.refresh_interval)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// `{issuer}/.well-known/openid-configuration`, without a doubled slash.
pub(crate) fn discovery_uri(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_uri_joins_without_double_slash() {
        assert_eq!(
            discovery_uri("https://idp.example/"),
            "https://idp.example/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_uri("https://idp.example/realms/a"),
            "https://idp.example/realms/a/.well-known/openid-configuration"
        );
    }
}

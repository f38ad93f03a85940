//! RFC 7662 token introspection for opaque tokens.
//!
//! The cache is keyed by SHA-256 of the token, never the token: a memory dump or a debug
//! print of the cache reveals no usable credential. Positive answers live until the
//! token's `exp` or `cache_ttl_max`, whichever is first; negative ones for `negative_ttl`.
//! The cache holds at most `capacity` entries. An unreachable endpoint is
//! [`TokenError::Unavailable`] (fail closed, 503) and is not cached.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, Uri};
use serde_json::{Map, Value};

use crate::Secret;
use crate::error::TokenError;
use crate::fetch::Fetcher;
use crate::json::parse_object;
use crate::jwt::{
    VerifiedToken, check_times, client_id, confirmation, scopes, string_claim, time_claim,
};

/// Default cap on how long a positive answer is reused.
pub const DEFAULT_CACHE_TTL_MAX: Duration = Duration::from_secs(300);
/// Default lifetime of a negative answer.
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(10);
/// Default number of cached answers.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// How answers are validated and cached.
#[derive(Debug, Clone)]
pub struct IntrospectionPolicy {
    /// When set, an answer's `aud` must contain it.
    pub audience: Option<String>,
    /// When set, an answer's `iss` must equal it.
    pub issuer: Option<String>,
    /// Longest reuse of a positive answer.
    pub cache_ttl_max: Duration,
    /// Reuse of a negative answer.
    pub negative_ttl: Duration,
    /// Most cached answers.
    pub capacity: usize,
    /// Clock leeway for `exp`/`nbf`/`iat` in answers.
    pub leeway: Duration,
}

impl Default for IntrospectionPolicy {
    fn default() -> Self {
        Self {
            audience: None,
            issuer: None,
            cache_ttl_max: DEFAULT_CACHE_TTL_MAX,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
            capacity: DEFAULT_CAPACITY,
            leeway: crate::jwt::DEFAULT_LEEWAY,
        }
    }
}

struct Entry {
    until: SystemTime,
    answer: Result<VerifiedToken, TokenError>,
}

/// An introspection client with its cache.
pub(crate) struct Introspector {
    endpoint: Uri,
    authorization: HeaderValue,
    fetcher: Fetcher,
    policy: IntrospectionPolicy,
    cache: Mutex<HashMap<[u8; 32], Entry>>,
    round_trips: AtomicU64,
}

impl Introspector {
    pub(crate) fn new(
        endpoint: Uri,
        client_id: &str,
        client_secret: &Secret,
        fetcher: Fetcher,
        policy: IntrospectionPolicy,
    ) -> Self {
        Self {
            endpoint,
            authorization: basic_auth(client_id, client_secret),
            fetcher,
            policy,
            cache: Mutex::new(HashMap::new()),
            round_trips: AtomicU64::new(0),
        }
    }

    /// Requests sent to the endpoint so far.
    pub(crate) fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// The verified token behind the opaque `token`.
    pub(crate) async fn introspect(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<VerifiedToken, TokenError> {
        let key: [u8; 32] = {
            let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
            let mut key = [0u8; 32];
            key.copy_from_slice(digest.as_ref());
            key
        };
        if let Some(answer) = self.lookup(&key, now) {
            return answer;
        }
        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let body = self
            .fetcher
            .post_form(&self.endpoint, &self.authorization, form)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "introspection failed");
                TokenError::Unavailable
            })?;
        let answer = parse_object(&body)
            .ok_or_else(|| {
                tracing::warn!("introspection answer is not a JSON object");
                TokenError::Unavailable
            })
            .and_then(|doc| self.interpret(&doc, now));
        if matches!(answer, Err(TokenError::Unavailable)) {
            return answer;
        }
        let until = match &answer {
            Ok(token) => token.expires_at.min(now + self.policy.cache_ttl_max),
            Err(_) => now + self.policy.negative_ttl,
        };
        self.store(key, until, answer.clone(), now);
        answer
    }

    fn lookup(&self, key: &[u8; 32], now: SystemTime) -> Option<Result<VerifiedToken, TokenError>> {
        let cache = self.cache.lock().ok()?;
        let entry = cache.get(key)?;
        (now < entry.until).then(|| entry.answer.clone())
    }

    fn store(
        &self,
        key: [u8; 32],
        until: SystemTime,
        answer: Result<VerifiedToken, TokenError>,
        now: SystemTime,
    ) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache.len() >= self.policy.capacity {
            cache.retain(|_, e| e.until > now);
        }
        if cache.len() >= self.policy.capacity {
            // Still full of live answers: forget one (they are only an optimisation).
            if let Some(victim) = cache.keys().next().copied() {
                cache.remove(&victim);
            }
        }
        cache.insert(key, Entry { until, answer });
    }

    /// Turns an RFC 7662 answer into a verdict on the token.
    fn interpret(
        &self,
        doc: &Map<String, Value>,
        now: SystemTime,
    ) -> Result<VerifiedToken, TokenError> {
        if doc.get("active") != Some(&Value::Bool(true)) {
            return Err(TokenError::Inactive);
        }
        let exp = time_claim(doc, "exp")?;
        let until = exp.unwrap_or(now + self.policy.cache_ttl_max);
        check_times(doc, until, now, self.policy.leeway)?;
        let issuer = string_claim(doc, "iss")?.unwrap_or_default().to_owned();
        if let Some(want) = &self.policy.issuer
            && issuer != *want
        {
            return Err(TokenError::WrongIssuer);
        }
        if let Some(want) = &self.policy.audience {
            let ok = match doc.get("aud") {
                Some(Value::String(aud)) => aud == want,
                Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(want)),
                _ => false,
            };
            if !ok {
                return Err(TokenError::WrongAudience);
            }
        }
        let client_id = client_id(doc)?;
        let subject = match (string_claim(doc, "sub")?, string_claim(doc, "username")?) {
            (Some(sub), _) => sub.to_owned(),
            (None, Some(user)) => user.to_owned(),
            (None, None) => client_id
                .clone()
                .ok_or(TokenError::MissingClaim("sub".into()))?,
        };
        Ok(VerifiedToken {
            subject,
            issuer,
            client_id,
            scopes: scopes(doc)?,
            expires_at: until,
            jti: string_claim(doc, "jti")?.map(str::to_owned),
            cnf: confirmation(doc)?,
            claims: doc.clone(),
        })
    }
}

/// `client_secret_basic` (RFC 6749 2.3.1): both parts form-encoded, then base64.
fn basic_auth(client_id: &str, secret: &Secret) -> HeaderValue {
    let encode = |bytes: &[u8]| form_urlencoded::byte_serialize(bytes).collect::<String>();
    let pair = format!(
        "{}:{}",
        encode(client_id.as_bytes()),
        encode(secret.expose())
    );
    // "Basic " + base64 is always a valid header value; the fallback only keeps this
    // function total (and would fail authentication, not open anything).
    let mut value = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(pair)))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_form_encodes_both_parts() {
        let value = basic_auth("rampart edge", &Secret::new(b"s3cr:t/+".to_vec()));
        let text = value.to_str().unwrap();
        let decoded = STANDARD
            .decode(text.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(decoded, b"rampart+edge:s3cr%3At%2F%2B");
        assert!(value.is_sensitive());
    }
}

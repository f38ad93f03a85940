//! OAuth 2 / OpenID Connect at the edge: who is behind a bearer token.
//!
//! - [`jwt`]: compact JWS access tokens (RS256, PS256, ES256, ES384, EdDSA; HS256/384/512
//!   only for an issuer configured with a shared secret, and then nothing else), checked
//!   with `ring`: size cap before decoding, strict base64url, duplicate-free JSON, `iss`,
//!   `aud`, `exp`/`nbf`/`iat` with leeway, required claims.
//! - [`keys`]: JWKS from a `jwks_uri` or OIDC discovery, cached, refreshed in the
//!   background and on unknown `kid` (rate-limited, one shared fetch).
//! - [`introspect`]: RFC 7662 for opaque tokens, with a cache keyed by the token's hash.
//! - [`dpop`]: RFC 8705 certificate-bound tokens and RFC 9449 DPoP proofs.
//! - [`config`]: the `[oauth]` section; [`OAuth`] is the runtime built from it.
//!
//! What it does not do: no HTTP serving, no policy on scopes or routes (the edge decides
//! what a [`VerifiedToken`] may do), no token issuance, no `none` algorithm ever. The only
//! I/O is HTTPS towards the configured identity providers, with deadlines and size caps;
//! when they cannot be reached, verification fails closed with an error the edge maps to
//! 503 ([`TokenError::is_unavailable`]).

pub mod config;
pub mod dpop;
mod error;
mod fetch;
pub mod introspect;
mod json;
mod jwk;
pub mod jwt;
pub mod keys;

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

pub use config::{IntrospectionConfig, IssuerConfig, IssuerKeys, OAuthConfig, RawOAuth};
pub use dpop::{DpopProof, DpopVerifier, check_certificate_binding, jwk_thumbprint};
pub use error::TokenError;
pub use fetch::FetchLimits;
pub use jwk::Alg;
pub use jwt::{ClaimRequirement, Confirmation, IssuerPolicy, Jws, VerifiedToken};
pub use keys::{KeySource, RefreshPolicy};

use fetch::Fetcher;
use introspect::Introspector;
use keys::KeyStore;

/// A secret (HMAC key, client secret). Never printed, not even in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<[u8]>);

impl Secret {
    /// Wraps `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes.into())
    }

    /// The secret bytes, for the one place that uses them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

struct Issuer {
    name: String,
    policy: IssuerPolicy,
    /// `None` for an HMAC issuer.
    keys: Option<Arc<KeyStore>>,
}

/// The edge's token verifier, built from [`OAuthConfig`].
pub struct OAuth {
    issuers: Vec<Issuer>,
    introspector: Option<Introspector>,
    dpop: DpopVerifier,
    max_token_bytes: usize,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field(
                "issuers",
                &self.issuers.iter().map(|i| &i.name).collect::<Vec<_>>(),
            )
            .field("introspection", &self.introspector.is_some())
            .finish_non_exhaustive()
    }
}

impl OAuth {
    /// Builds the runtime. Nothing is fetched yet: call [`OAuth::spawn_refresh`] (or
    /// [`OAuth::refresh_keys`]) to load keys before the first request, else the first
    /// token of each issuer triggers the fetch.
    pub fn new(config: &OAuthConfig) -> Self {
        let issuers = config
            .issuers
            .iter()
            .map(|c| Issuer {
                name: c.name.clone(),
                policy: c.policy.clone(),
                keys: c.keys.as_ref().map(|k| {
                    Arc::new(KeyStore::new(
                        c.policy.issuer.clone(),
                        k.source.clone(),
                        Fetcher::new(&k.tls, k.limits),
                        k.refresh,
                    ))
                }),
            })
            .collect();
        let introspector = config.introspection.as_ref().map(|c| {
            Introspector::new(
                c.endpoint.clone(),
                &c.client_id,
                &c.client_secret,
                Fetcher::new(&c.tls, c.limits),
                c.policy.clone(),
            )
        });
        Self {
            issuers,
            introspector,
            dpop: DpopVerifier::new(config.dpop_iat_window, config.dpop_replay_capacity),
            max_token_bytes: config.max_token_bytes,
        }
    }

    /// Verifies a bearer token: a JWT (three dot-separated parts) against its issuer's
    /// keys, anything else by introspection when configured.
    pub async fn verify_bearer(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<VerifiedToken, TokenError> {
        if token.len() > self.max_token_bytes {
            return Err(TokenError::Oversized {
                limit: self.max_token_bytes,
            });
        }
        if token.bytes().filter(|b| *b == b'.').count() == 2 {
            return self.verify_jwt(token, now).await;
        }
        if !is_b64token(token) {
            return Err(TokenError::Malformed(
                "characters outside RFC 6750 b64token",
            ));
        }
        match &self.introspector {
            Some(introspector) => introspector.introspect(token, now).await,
            None => Err(TokenError::OpaqueNotAccepted),
        }
    }

    async fn verify_jwt(&self, token: &str, now: SystemTime) -> Result<VerifiedToken, TokenError> {
        let jws = Jws::parse(token, self.max_token_bytes)?;
        // The issuer is chosen by the unverified `iss`; its own keys then decide.
        let iss = jws.claims.get("iss").and_then(Value::as_str);
        let issuer = self
            .issuers
            .iter()
            .find(|i| Some(i.policy.issuer.as_str()) == iss)
            .ok_or(TokenError::WrongIssuer)?;
        let alg = issuer.policy.accept_alg(&jws)?;
        jws.check_access_token_typ()?;
        let keys = match &issuer.keys {
            Some(store) => Some(store.keys_for(jws.kid.as_deref(), alg).await?),
            None => None,
        };
        issuer.policy.verify(&jws, keys.as_deref(), now)
    }

    /// Checks a DPoP proof for a request (see [`DpopVerifier::verify`]).
    pub fn verify_dpop(
        &self,
        proof: &str,
        method: &str,
        htu: &str,
        access_token: &str,
        expected_jkt: &str,
        now: SystemTime,
    ) -> Result<DpopProof, TokenError> {
        self.dpop
            .verify(proof, method, htu, access_token, expected_jkt, now)
    }

    /// Fetches every issuer's keys once; returns how many issuers failed.
    pub async fn refresh_keys(&self) -> usize {
        let mut failed = 0;
        for store in self.issuers.iter().filter_map(|i| i.keys.as_ref()) {
            if !store.refresh_now().await {
                failed += 1;
            }
        }
        failed
    }

    /// Refreshes every issuer's keys now and then every `refresh_interval`, until
    /// `shutdown` resolves.
    pub fn spawn_refresh<F>(&self, shutdown: F) -> tokio::task::JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let stores: Vec<Arc<KeyStore>> =
            self.issuers.iter().filter_map(|i| i.keys.clone()).collect();
        tokio::spawn(async move {
            let mut loops = tokio::task::JoinSet::new();
            for store in stores {
                loops.spawn(store.refresh_loop());
            }
            shutdown.await;
            loops.abort_all();
        })
    }

    /// JWKS fetches so far for issuer `name` (`None`: unknown or HMAC issuer).
    pub fn jwks_fetches(&self, name: &str) -> Option<u64> {
        self.issuers
            .iter()
            .find(|i| i.name == name)?
            .keys
            .as_ref()
            .map(|k| k.fetches())
    }

    /// Requests sent to the introspection endpoint so far.
    pub fn introspection_round_trips(&self) -> u64 {
        self.introspector
            .as_ref()
            .map_or(0, Introspector::round_trips)
    }
}

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_token_charset_is_b64token() {
        let cases: &[(&str, bool)] = &[
            ("2YotnFZFEjr1zCsicMWpAA", true),
            ("abc+/def==", true),
            ("a-b.c_d~e", true),
            ("", false),
            ("==", false),
            ("abc def", false),
            ("abc\r\nX-Injected: 1", false),
            ("ab=c", false),
            ("tök", false),
        ];
        for (token, want) in cases {
            assert_eq!(is_b64token(token), *want, "{token:?}");
        }
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let s = Secret::new(b"hunter2-hunter2".to_vec());
        assert!(!format!("{s:?}").contains("hunter2"));
        let policy = IssuerPolicy::new("https://i", "a").with_hmac(s);
        assert!(!format!("{policy:?}").contains("hunter2"));
    }
}

//! Who is calling: the per-route authentication and authorization step.
//!
//! A route's `auth` table (see `rampart_identity::policy`) names the methods it accepts.
//! The one credential a request presents decides: a refused credential is never
//! retried with another method, so a caller cannot probe one with the other.
//! Order: `Authorization` (Bearer, DPoP or Basic), then the API key, then the client
//! certificate. Credentials are removed before forwarding unless the route keeps them;
//! the inner tier tells the backend who the caller is.
//!
//! ```toml
//! [[routes]]
//! auth = { methods = ["bearer", "mtls"], scopes = ["orders:read"] }
//! client_cert = "required"        # off (default) | optional | required
//! bearer = { binding = "dpop", claims = { tenant = "acme", email_verified = true } }
//! keep_credentials = false        # default: Authorization, DPoP and the key header are
//!                                 # removed; the backend gets the principal instead
//! ```

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::header::AUTHORIZATION;
use http::request::Parts;
use http::{HeaderName, HeaderValue};
use rampart_core::check::Denial;
use rampart_core::config::Problems;
use rampart_core::problem::Reason;
use rampart_identity::policy::{AuthPolicy, RawAuthPolicy};
use rampart_identity::{CHECK_ID, Identity, Method, Principal};
use rampart_oauth::{ClaimRequirement, OAuth, TokenError, VerifiedToken};
use rampart_proto::v1::Principal as WirePrincipal;
use rampart_tls::ClientCert;
use serde::Deserialize;

const DPOP: HeaderName = HeaderName::from_static("dpop");

/// Whether a route wants a client certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientCertMode {
    /// Not looked at.
    #[default]
    Off,
    /// Used when presented (as the `mtls` method, or for token binding).
    Optional,
    /// Requests without one are refused, whatever else they carry.
    Required,
}

/// Proof of possession a route demands of bearer tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Binding {
    /// Bound tokens are still checked; unbound ones pass.
    #[default]
    Any,
    /// Certificate-bound tokens only (RFC 8705).
    Certificate,
    /// DPoP-bound tokens only (RFC 9449).
    Dpop,
}

/// A route's `bearer` table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBearer {
    #[serde(default)]
    binding: Binding,
    #[serde(default)]
    claims: std::collections::BTreeMap<String, serde_json::Value>,
}

/// The authentication keys of a route as written.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawRouteAuth<'a> {
    pub(crate) auth: Option<&'a RawAuthPolicy>,
    pub(crate) client_cert: ClientCertMode,
    pub(crate) bearer: Option<&'a RawBearer>,
    pub(crate) keep_credentials: bool,
}

/// What a route requires of its callers.
#[derive(Debug, Clone, Default)]
pub struct RouteAuth {
    policy: AuthPolicy,
    client_cert: ClientCertMode,
    binding: Binding,
    claims: Vec<ClaimRequirement>,
    keep_credentials: bool,
}

impl RouteAuth {
    /// Validates a route's keys, recording problems under `key` (`routes[2]`).
    pub(crate) fn validate(p: &mut Problems, key: &str, raw: &RawRouteAuth<'_>) -> Option<Self> {
        let policy = match raw.auth {
            Some(a) => AuthPolicy::validate(p, &format!("{key}.auth"), a)?,
            None => AuthPolicy::default(),
        };
        if policy.accepts(Method::ClientCert) && raw.client_cert == ClientCertMode::Off {
            p.push(
                format!("{key}.client_cert"),
                "the route accepts mtls: set client_cert to optional or required",
            );
        }
        let bearer = raw.bearer.cloned().unwrap_or_default();
        if raw.bearer.is_some() && !policy.accepts(Method::Bearer) {
            p.push(format!("{key}.bearer"), "the route does not accept bearer");
        }
        if bearer.binding == Binding::Certificate && raw.client_cert == ClientCertMode::Off {
            p.push(
                format!("{key}.bearer.binding"),
                "certificate binding needs client_cert = optional or required",
            );
        }
        let claims = bearer
            .claims
            .iter()
            .map(|(name, value)| ClaimRequirement {
                name: name.clone(),
                value: claim_value(value),
            })
            .collect();
        Some(Self {
            policy,
            client_cert: raw.client_cert,
            binding: bearer.binding,
            claims,
            keep_credentials: raw.keep_credentials,
        })
    }

    /// True when the route needs nothing of its callers.
    pub(crate) fn is_open(&self) -> bool {
        self.policy.is_public() && self.client_cert != ClientCertMode::Required
    }

    /// Whether this route's authentication judges the `Authorization` header itself (it
    /// accepts bearer tokens or Basic credentials): a forged or malformed one is refused
    /// 401 there, so screening leaves it alone.
    pub(crate) fn judges_authorization(&self) -> bool {
        self.policy.accepts(Method::Bearer) || self.policy.accepts(Method::Basic)
    }

    /// The route's accepted methods (for cross-checks against the configured stores).
    pub(crate) fn policy(&self) -> &AuthPolicy {
        &self.policy
    }

    /// Whether the route wants client certificates at all.
    pub(crate) fn client_cert(&self) -> ClientCertMode {
        self.client_cert
    }
}

/// `true` means presence only; anything else must be equal (or contained in an array).
fn claim_value(value: &serde_json::Value) -> Option<serde_json::Value> {
    match value {
        serde_json::Value::Bool(true) => None,
        other => Some(other.clone()),
    }
}

/// The credential stores and verifiers every route shares.
pub(crate) struct Authenticator {
    pub(crate) identity: Option<Arc<Identity>>,
    pub(crate) oauth: Option<Arc<OAuth>>,
}

/// What the connection tells about the caller.
#[derive(Clone, Copy)]
pub(crate) struct Caller<'a> {
    pub(crate) ip: IpAddr,
    pub(crate) cert: Option<&'a ClientCert>,
    /// `http` or `https`, for the URI a DPoP proof must name.
    pub(crate) scheme: &'static str,
}

/// Why a request was not let through.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) denial: Denial,
    /// `WWW-Authenticate` values to send (401, and 403 for missing bearer scopes).
    pub(crate) challenges: Vec<HeaderValue>,
}

/// What the request carries in `Authorization`.
enum Presented<'a> {
    Bearer { token: &'a str, dpop_scheme: bool },
    Basic(&'a [u8]),
}

fn presented(parts: &Parts) -> Result<Option<Presented<'_>>, ()> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return if parts.headers.contains_key(AUTHORIZATION) {
            Err(()) // several Authorization headers: ambiguous, refused
        } else {
            Ok(None)
        };
    };
    let bytes = value.as_bytes();
    let split = bytes.iter().position(|b| *b == b' ').ok_or(())?;
    let (scheme, rest) = (&bytes[..split], bytes[split + 1..].trim_ascii());
    if scheme.eq_ignore_ascii_case(b"basic") {
        return Ok(Some(Presented::Basic(bytes)));
    }
    let dpop_scheme = scheme.eq_ignore_ascii_case(b"dpop");
    if dpop_scheme || scheme.eq_ignore_ascii_case(b"bearer") {
        let token = std::str::from_utf8(rest).map_err(|_| ())?;
        return Ok(Some(Presented::Bearer { token, dpop_scheme }));
    }
    Err(())
}

impl Authenticator {
    /// Authenticates and authorizes one request. `Ok(None)`: an open route.
    /// On success the credentials are removed from `parts` unless the route keeps them.
    pub(crate) async fn check(
        &self,
        route: &RouteAuth,
        parts: &mut Parts,
        caller: Caller<'_>,
    ) -> Result<Option<Principal>, Refusal> {
        let cert = caller
            .cert
            .filter(|_| route.client_cert != ClientCertMode::Off);
        if route.client_cert == ClientCertMode::Required && cert.is_none() {
            return Err(route.unauthenticated("client-cert-required", false));
        }
        if route.policy.is_public() {
            return Ok(None);
        }
        let caller = Caller { cert, ..caller };
        let principal = self.authenticate(route, parts, caller).await?;
        route.policy.authorize(&principal).map_err(|denial| {
            let challenges = match (denial.reason, principal.method) {
                (Reason::Forbidden, Method::Bearer) => {
                    route.policy.insufficient_scope().into_iter().collect()
                }
                (Reason::Unauthenticated, _) => route.policy.challenges(false),
                _ => Vec::new(),
            };
            Refusal { denial, challenges }
        })?;
        if !route.keep_credentials {
            parts.headers.remove(AUTHORIZATION);
            parts.headers.remove(DPOP);
            if let Some(h) = &route.policy.api_key_source().header {
                parts.headers.remove(h);
            }
        }
        Ok(Some(principal))
    }

    async fn authenticate(
        &self,
        route: &RouteAuth,
        parts: &mut Parts,
        caller: Caller<'_>,
    ) -> Result<Principal, Refusal> {
        let presented = presented(parts)
            .map_err(|()| route.unauthenticated("malformed-authorization", false))?;
        match presented {
            Some(Presented::Bearer { token, dpop_scheme })
                if route.policy.accepts(Method::Bearer) =>
            {
                let token = token.to_owned();
                return self.bearer(route, parts, &token, dpop_scheme, caller).await;
            }
            Some(Presented::Basic(value)) if route.policy.accepts(Method::Basic) => {
                return self.basic(route, value.to_vec(), caller.ip).await;
            }
            Some(_) => return Err(route.unauthenticated("scheme-not-accepted", false)),
            None => {}
        }
        if route.policy.accepts(Method::ApiKey)
            && let Some(p) = self.api_key(route, parts)?
        {
            return Ok(p);
        }
        match caller.cert {
            Some(cert) if route.policy.accepts(Method::ClientCert) => {
                Ok(Principal::new(cert.principal.clone(), Method::ClientCert))
            }
            _ => Err(route.unauthenticated("no-credentials", false)),
        }
    }

    fn api_key(&self, route: &RouteAuth, parts: &mut Parts) -> Result<Option<Principal>, Refusal> {
        let Some(identity) = &self.identity else {
            return Ok(None);
        };
        let source = route.policy.api_key_source();
        match identity.api_key(source, &parts.headers, &parts.uri, SystemTime::now()) {
            Ok(None) => Ok(None),
            Ok(Some(found)) => {
                if let Some(uri) = found.uri {
                    parts.uri = uri; // the key's query parameter never travels on
                }
                Ok(Some(found.principal))
            }
            Err(rejection) => Err(Refusal {
                challenges: route.policy.challenges(false),
                denial: rejection.denial(),
            }),
        }
    }

    async fn basic(
        &self,
        route: &RouteAuth,
        value: Vec<u8>,
        client_ip: IpAddr,
    ) -> Result<Principal, Refusal> {
        let Some(identity) = self.identity.clone() else {
            return Err(route.unauthenticated("no-users-file", false));
        };
        // argon2 takes tens of milliseconds of CPU: never on the reactor.
        let verdict =
            tokio::task::spawn_blocking(move || identity.basic(&value, client_ip, Instant::now()))
                .await;
        match verdict {
            Ok(Ok(principal)) => Ok(principal),
            Ok(Err(rejection)) => {
                let denial = rejection.denial();
                let challenges = if denial.reason == Reason::Unauthenticated {
                    route.policy.challenges(false)
                } else {
                    Vec::new()
                };
                Err(Refusal { denial, challenges })
            }
            Err(_) => Err(unavailable("basic-verifier")),
        }
    }

    async fn bearer(
        &self,
        route: &RouteAuth,
        parts: &Parts,
        token: &str,
        dpop_scheme: bool,
        caller: Caller<'_>,
    ) -> Result<Principal, Refusal> {
        let Some(oauth) = &self.oauth else {
            return Err(route.unauthenticated("no-oauth-config", true));
        };
        let now = SystemTime::now();
        let verified = oauth
            .verify_bearer(token, now)
            .await
            .map_err(|e| route.token_refusal(&e))?;
        let revoked = self
            .identity
            .as_ref()
            .is_some_and(|i| i.is_revoked(token.as_bytes(), verified.jti.as_deref()));
        if revoked {
            return Err(route.unauthenticated("token-revoked", true));
        }
        verified
            .require(&route.claims)
            .map_err(|e| route.token_refusal(&e))?;
        let possession = Possession {
            token,
            dpop_scheme,
            caller,
            verified: &verified,
            now,
        };
        self.proof_of_possession(route, parts, &possession)?;
        let consumer = verified.client_id.clone();
        Ok(Principal {
            consumer,
            scopes: verified.scopes.clone(),
            roles: roles_of(&verified),
            ..Principal::new(verified.subject.clone(), Method::Bearer)
        })
    }

    fn proof_of_possession(
        &self,
        route: &RouteAuth,
        parts: &Parts,
        possession: &Possession<'_>,
    ) -> Result<(), Refusal> {
        let Possession {
            token,
            dpop_scheme,
            caller,
            verified,
            now,
        } = *possession;
        let cnf = verified.cnf.as_ref();
        let cert_bound = cnf.is_some_and(|c| c.x5t_s256.is_some());
        let jkt = verified.dpop_jkt();
        match route.binding {
            Binding::Certificate if !cert_bound => {
                return Err(route.unauthenticated("token-not-certificate-bound", true));
            }
            Binding::Dpop if jkt.is_none() => {
                return Err(route.unauthenticated("token-not-dpop-bound", true));
            }
            _ => {}
        }
        rampart_oauth::check_certificate_binding(verified, caller.cert.map(|c| c.der.as_slice()))
            .map_err(|e| route.token_refusal(&e))?;
        let Some(jkt) = jkt else {
            return Ok(());
        };
        // RFC 9449 §7.1: a DPoP-bound token must come with the DPoP scheme and a proof.
        let mut proofs = parts.headers.get_all(DPOP).iter();
        let proof = match (dpop_scheme, proofs.next(), proofs.next()) {
            (true, Some(p), None) => p
                .to_str()
                .map_err(|_| route.unauthenticated("dpop-malformed", true))?,
            _ => return Err(route.unauthenticated("dpop-proof-missing", true)),
        };
        let oauth = self.oauth.as_ref().ok_or_else(|| unavailable("oauth"))?;
        oauth
            .verify_dpop(
                proof,
                parts.method.as_str(),
                &htu(parts, caller.scheme),
                token,
                jkt,
                now,
            )
            .map(|_| ())
            .map_err(|e| route.token_refusal(&e))
    }
}

/// A bearer token that passed verification, and what proves its holder has it.
#[derive(Clone, Copy)]
struct Possession<'a> {
    token: &'a str,
    dpop_scheme: bool,
    caller: Caller<'a>,
    verified: &'a VerifiedToken,
    now: SystemTime,
}

/// The `htu` a proof must name: the request URI without query and fragment.
fn htu(parts: &Parts, scheme: &str) -> String {
    let authority = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    format!("{scheme}://{authority}{}", parts.uri.path())
}

/// Roles a token grants: a `roles` claim (array of strings) when present.
fn roles_of(token: &VerifiedToken) -> Vec<String> {
    token
        .claims
        .get("roles")
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(serde_json::Value::as_str)
                .take(64)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn unavailable(dependency: &str) -> Refusal {
    Refusal {
        denial: Denial::new(CHECK_ID, Reason::InspectionUnavailable)
            .with_rule(format!("{dependency}-unavailable")),
        challenges: Vec::new(),
    }
}

impl RouteAuth {
    fn unauthenticated(&self, rule: &str, bad_token: bool) -> Refusal {
        Refusal {
            denial: Denial::new(CHECK_ID, Reason::Unauthenticated).with_rule(rule),
            challenges: self.policy.challenges(bad_token),
        }
    }

    fn token_refusal(&self, e: &TokenError) -> Refusal {
        if e.is_unavailable() {
            return Refusal {
                denial: Denial::new(CHECK_ID, Reason::InspectionUnavailable)
                    .with_rule(format!("token-{}", e.code())),
                challenges: Vec::new(),
            };
        }
        self.unauthenticated(&format!("token-{}", e.code()), true)
    }
}

/// The principal as the inner tier receives it.
pub(crate) fn to_wire(p: &Principal) -> WirePrincipal {
    WirePrincipal {
        subject: p.subject.clone(),
        method: p.method.as_str().to_owned(),
        consumer: p.consumer.clone().unwrap_or_default(),
        scopes: p.scopes.clone(),
        roles: p.roles.clone(),
    }
}

/// Reads the `[identity]` files; `None` (with problems recorded) when any is bad.
pub(crate) fn load_identity(
    p: &mut Problems,
    base: &std::path::Path,
    raw: &rampart_identity::config::RawIdentity,
) -> Option<Arc<Identity>> {
    let config = rampart_identity::config::IdentityConfig::validate(p, raw, base);
    match config.load() {
        Ok(identity) => Some(Arc::new(identity)),
        Err(errors) => {
            for e in errors {
                p.push("identity", e);
            }
            None
        }
    }
}

/// Every route's methods must have what they need configured: a route accepting API
/// keys with no consumers file would refuse everyone, silently.
pub(crate) fn cross_check(
    p: &mut Problems,
    routes: &rampart_core::routing::RouteTable<crate::config::RouteSettings>,
    identity: Option<&Identity>,
    oauth: bool,
    client_auth: bool,
) {
    for route in routes.iter() {
        let auth = &route.value.auth;
        let key = format!("routes.{}", route.name);
        let missing = |m: Method| auth.policy().accepts(m);
        if missing(Method::ApiKey) && identity.is_none_or(|i| i.api_keys.is_none()) {
            p.push(
                format!("{key}.auth"),
                "accepts api_key but identity.consumers is not set",
            );
        }
        if missing(Method::Basic) && identity.is_none_or(|i| i.basic.is_none()) {
            p.push(
                format!("{key}.auth"),
                "accepts basic but identity.users is not set",
            );
        }
        if missing(Method::Bearer) && !oauth {
            p.push(
                format!("{key}.auth"),
                "accepts bearer but [oauth] is not configured",
            );
        }
        if auth.client_cert() != ClientCertMode::Off && !client_auth {
            p.push(
                format!("{key}.client_cert"),
                "needs [tls.client_auth] (the CA client certificates are checked against)",
            );
        }
    }
}

/// Builds the shared authenticator and starts its background work: JWKS refresh and
/// polling the identity files, both until `shutdown`.
pub(crate) fn start(
    identity: Option<Arc<Identity>>,
    oauth: Option<&rampart_oauth::OAuthConfig>,
    shutdown: &rampart_service::shutdown::Shutdown,
) -> Authenticator {
    let oauth = oauth.map(|c| Arc::new(OAuth::new(c)));
    if let Some(oauth) = &oauth {
        oauth.spawn_refresh(shutdown.clone().signalled());
    }
    if let Some(identity) = identity.clone() {
        tokio::spawn(poll_identity_files(identity, shutdown.clone()));
    }
    Authenticator { identity, oauth }
}

async fn poll_identity_files(
    identity: Arc<Identity>,
    shutdown: rampart_service::shutdown::Shutdown,
) {
    let mut tick = tokio::time::interval(identity.reload_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate; the files were just loaded
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.clone().signalled() => return,
        }
        let stores = identity.clone();
        let Ok(changes) = tokio::task::spawn_blocking(move || stores.reload_if_changed()).await
        else {
            continue;
        };
        for (path, outcome) in changes {
            match outcome {
                rampart_identity::watch::Reload::KeepPrevious(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "identity file rejected; the previous version stays in force");
                }
                _ => tracing::info!(file = %path.display(), "identity file reloaded"),
            }
        }
    }
}

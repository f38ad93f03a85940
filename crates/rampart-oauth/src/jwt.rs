//! Compact JWS access tokens: parsing, signature and claim checks. No I/O: the caller
//! hands in the keys and the time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::error::TokenError;
use crate::json::{b64url_decode, parse_object};
use crate::jwk::{Alg, JwkSet};

/// Default cap on a token's length.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Default clock leeway for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// `sub` (for introspection: `sub`, else `username`, else `client_id`).
    pub subject: String,
    /// `iss`.
    pub issuer: String,
    /// `client_id` (or `azp`).
    pub client_id: Option<String>,
    /// From `scope` (space separated) or `scp` (array of strings).
    pub scopes: Vec<String>,
    /// `exp`. For an introspected token without `exp`: until when Rampart relies on the
    /// answer.
    pub expires_at: SystemTime,
    /// `jti`.
    pub jti: Option<String>,
    /// `cnf`: what the token is bound to, if anything.
    pub cnf: Option<Confirmation>,
    /// Every claim, for policies on custom claims.
    pub claims: Map<String, Value>,
}

/// A token's proof-of-possession binding (RFC 7800 `cnf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// `x5t#S256`: base64url SHA-256 of the client certificate (RFC 8705).
    pub x5t_s256: Option<String>,
    /// `jkt`: RFC 7638 thumbprint of the DPoP key (RFC 9449).
    pub jkt: Option<String>,
}

impl VerifiedToken {
    /// True when the token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The DPoP key thumbprint the token is bound to, if any: then every request with it
    /// needs a DPoP proof by that key.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.cnf.as_ref()?.jkt.as_deref()
    }

    /// Checks route-level claim requirements (see [`ClaimRequirement`]).
    pub fn require(&self, requirements: &[ClaimRequirement]) -> Result<(), TokenError> {
        requirements.iter().try_for_each(|r| r.check(&self.claims))
    }
}

/// A claim a token must carry, optionally with a value.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimRequirement {
    /// The claim name.
    pub name: String,
    /// `None`: presence is enough. `Some(v)`: the claim equals `v`, or is an array that
    /// contains `v`.
    pub value: Option<Value>,
}

impl ClaimRequirement {
    fn check(&self, claims: &Map<String, Value>) -> Result<(), TokenError> {
        let Some(have) = claims.get(&self.name).filter(|v| !v.is_null()) else {
            return Err(TokenError::MissingClaim(self.name.clone()));
        };
        match &self.value {
            None => Ok(()),
            Some(want) if have == want => Ok(()),
            Some(want) if have.as_array().is_some_and(|a| a.contains(want)) => Ok(()),
            Some(_) => Err(TokenError::ClaimMismatch(self.name.clone())),
        }
    }
}

/// What one issuer's tokens must satisfy.
#[derive(Clone)]
pub struct IssuerPolicy {
    /// Exact `iss`.
    pub issuer: String,
    /// Must be in `aud`.
    pub audience: String,
    /// Clock leeway.
    pub leeway: Duration,
    /// Accepted algorithms. With an HMAC secret: HMAC ones only; without: asymmetric only.
    pub algorithms: Vec<Alg>,
    /// Shared secret for HS256/384/512; when set, only HMAC is accepted for this issuer.
    pub hmac_secret: Option<crate::Secret>,
    /// Claims every token of this issuer must carry.
    pub required_claims: Vec<ClaimRequirement>,
}

impl std::fmt::Debug for IssuerPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerPolicy")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .field("algorithms", &self.algorithms)
            .field(
                "hmac_secret",
                &self.hmac_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("required_claims", &self.required_claims)
            .finish()
    }
}

impl IssuerPolicy {
    /// A policy accepting every asymmetric algorithm, with the default leeway.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: DEFAULT_LEEWAY,
            algorithms: Alg::ALL.into_iter().filter(|a| !a.is_hmac()).collect(),
            hmac_secret: None,
            required_claims: Vec::new(),
        }
    }

    /// Switches the policy to HMAC with `secret`: from now on only HS256/384/512 verify.
    pub fn with_hmac(mut self, secret: crate::Secret) -> Self {
        self.hmac_secret = Some(secret);
        self.algorithms = vec![Alg::Hs256, Alg::Hs384, Alg::Hs512];
        self
    }

    /// True when this policy takes no keys from a JWKS.
    pub fn uses_hmac(&self) -> bool {
        self.hmac_secret.is_some()
    }

    /// The algorithm of `jws` if this policy accepts it.
    pub fn accept_alg(&self, jws: &Jws<'_>) -> Result<Alg, TokenError> {
        let alg = Alg::from_name(&jws.alg).ok_or_else(|| TokenError::alg(&jws.alg))?;
        // HMAC only with a secret, and nothing but HMAC with one: no RS/HS confusion.
        let family_ok = alg.is_hmac() == self.hmac_secret.is_some();
        if !family_ok || !self.algorithms.contains(&alg) {
            return Err(TokenError::alg(&jws.alg));
        }
        Ok(alg)
    }

    /// Checks the signature of `jws` with `keys` (ignored under HMAC), then the claims.
    pub(crate) fn verify(
        &self,
        jws: &Jws<'_>,
        keys: Option<&JwkSet>,
        now: SystemTime,
    ) -> Result<VerifiedToken, TokenError> {
        let alg = self.accept_alg(jws)?;
        jws.check_access_token_typ()?;
        self.check_signature(jws, alg, keys)?;
        self.check_claims(&jws.claims, now)
    }

    fn check_signature(
        &self,
        jws: &Jws<'_>,
        alg: Alg,
        keys: Option<&JwkSet>,
    ) -> Result<(), TokenError> {
        if let Some(secret) = &self.hmac_secret {
            let Some(hmac) = alg.hmac() else {
                return Err(TokenError::alg(&jws.alg));
            };
            let key = ring::hmac::Key::new(hmac, secret.expose());
            return ring::hmac::verify(&key, jws.signing_input.as_bytes(), &jws.signature)
                .map_err(|_| TokenError::BadSignature);
        }
        let key = keys
            .and_then(|k| k.select(jws.kid.as_deref(), alg))
            .ok_or(TokenError::UnknownKey)?;
        if key
            .key
            .verify(alg, jws.signing_input.as_bytes(), &jws.signature)
        {
            Ok(())
        } else {
            Err(TokenError::BadSignature)
        }
    }

    /// Checks `iss`, `aud`, `exp`, `nbf`, `iat` and the required claims.
    pub fn check_claims(
        &self,
        claims: &Map<String, Value>,
        now: SystemTime,
    ) -> Result<VerifiedToken, TokenError> {
        let iss = string_claim(claims, "iss")?.ok_or(TokenError::WrongIssuer)?;
        if iss != self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => *aud == self.audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(&self.audience)),
            _ => false,
        };
        if !audience_ok {
            return Err(TokenError::WrongAudience);
        }
        let exp = time_claim(claims, "exp")?.ok_or(TokenError::MissingClaim("exp".into()))?;
        check_times(claims, exp, now, self.leeway)?;
        let subject = string_claim(claims, "sub")?
            .ok_or(TokenError::MissingClaim("sub".into()))?
            .to_owned();
        for requirement in &self.required_claims {
            requirement.check(claims)?;
        }
        Ok(VerifiedToken {
            subject,
            issuer: iss.to_owned(),
            client_id: client_id(claims)?,
            scopes: scopes(claims)?,
            expires_at: exp,
            jti: string_claim(claims, "jti")?.map(str::to_owned),
            cnf: confirmation(claims)?,
            claims: claims.clone(),
        })
    }
}

/// `exp` (already read), `nbf` and `iat` against `now` with `leeway`.
pub(crate) fn check_times(
    claims: &Map<String, Value>,
    exp: SystemTime,
    now: SystemTime,
    leeway: Duration,
) -> Result<(), TokenError> {
    if now > exp + leeway {
        return Err(TokenError::Expired);
    }
    if let Some(nbf) = time_claim(claims, "nbf")?
        && nbf > now + leeway
    {
        return Err(TokenError::NotYetValid);
    }
    if let Some(iat) = time_claim(claims, "iat")?
        && iat > now + leeway
    {
        return Err(TokenError::IssuedInFuture);
    }
    Ok(())
}

/// A string claim; present with another type is malformed.
pub(crate) fn string_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, TokenError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(TokenError::MissingClaim(name.to_owned())),
    }
}

/// A NumericDate claim (seconds since the epoch, fractions allowed).
pub(crate) fn time_claim(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<SystemTime>, TokenError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let bad = || TokenError::MissingClaim(name.to_owned());
    let secs = value.as_f64().ok_or_else(bad)?;
    // Up to the year 9999: larger values are nonsense and could overflow SystemTime.
    if !(0.0..=253_402_300_799.0).contains(&secs) {
        return Err(bad());
    }
    Ok(Some(UNIX_EPOCH + Duration::from_secs_f64(secs)))
}

pub(crate) fn client_id(claims: &Map<String, Value>) -> Result<Option<String>, TokenError> {
    Ok(match string_claim(claims, "client_id")? {
        Some(id) => Some(id.to_owned()),
        None => string_claim(claims, "azp")?.map(str::to_owned),
    })
}

pub(crate) fn scopes(claims: &Map<String, Value>) -> Result<Vec<String>, TokenError> {
    if let Some(scope) = string_claim(claims, "scope")? {
        return Ok(scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect());
    }
    match claims.get("scp") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(list)) => list
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(TokenError::MissingClaim("scp".into())),
        // Some IdPs put a space-separated string in `scp`.
        Some(Value::String(s)) => Ok(s
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()),
        Some(_) => Err(TokenError::MissingClaim("scp".into())),
    }
}

pub(crate) fn confirmation(
    claims: &Map<String, Value>,
) -> Result<Option<Confirmation>, TokenError> {
    let Some(cnf) = claims.get("cnf") else {
        return Ok(None);
    };
    let cnf = cnf
        .as_object()
        .ok_or(TokenError::MissingClaim("cnf".into()))?;
    let x5t_s256 = string_claim(cnf, "x5t#S256")?.map(str::to_owned);
    let jkt = string_claim(cnf, "jkt")?.map(str::to_owned);
    Ok(Some(Confirmation { x5t_s256, jkt }))
}

/// A compact JWS taken apart, signature not yet checked.
#[derive(Debug)]
pub struct Jws<'a> {
    /// `alg` as written.
    pub alg: String,
    /// `kid`, if any.
    pub kid: Option<String>,
    /// `typ`, if any.
    pub typ: Option<String>,
    /// The whole header.
    pub header: Map<String, Value>,
    /// The payload.
    pub claims: Map<String, Value>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    /// The decoded signature (empty for `alg: none`).
    pub signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    /// Splits and decodes `token`. The length cap is checked before any decoding.
    pub fn parse(token: &'a str, max_bytes: usize) -> Result<Self, TokenError> {
        if token.len() > max_bytes {
            return Err(TokenError::Oversized { limit: max_bytes });
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed("not three dot-separated parts"));
        };
        let signing_input = &token[..header.len() + 1 + payload.len()];
        let header_bytes = b64url_decode(header).ok_or(TokenError::Malformed("header base64"))?;
        let header = parse_object(&header_bytes).ok_or(TokenError::Malformed("header JSON"))?;
        let payload_bytes =
            b64url_decode(payload).ok_or(TokenError::Malformed("payload base64"))?;
        let claims = parse_object(&payload_bytes).ok_or(TokenError::Malformed("payload JSON"))?;
        let signature =
            b64url_decode(signature).ok_or(TokenError::Malformed("signature base64"))?;
        let alg = match header.get("alg") {
            Some(Value::String(alg)) => alg.clone(),
            _ => return Err(TokenError::Malformed("alg missing")),
        };
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(TokenError::Malformed("kid not a string")),
        };
        let typ = match header.get("typ") {
            None => None,
            Some(Value::String(typ)) => Some(typ.clone()),
            Some(_) => return Err(TokenError::Malformed("typ not a string")),
        };
        // We understand no critical extensions (RFC 7515 4.1.11), so any `crit` refuses.
        if header.contains_key("crit") {
            return Err(TokenError::BadHeader("crit"));
        }
        Ok(Self {
            alg,
            kid,
            typ,
            header,
            claims,
            signing_input,
            signature,
        })
    }

    /// Accepts the `typ` values of an access token: none, `JWT`, or `at+jwt` (RFC 9068),
    /// with or without `application/`. Refuses e.g. `dpop+jwt`, so a DPoP proof is never
    /// taken for an access token.
    pub fn check_access_token_typ(&self) -> Result<(), TokenError> {
        let Some(typ) = &self.typ else {
            return Ok(());
        };
        let typ = typ.to_ascii_lowercase();
        let typ = typ.strip_prefix("application/").unwrap_or(&typ);
        if typ == "jwt" || typ == "at+jwt" {
            Ok(())
        } else {
            Err(TokenError::BadHeader("typ"))
        }
    }
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;

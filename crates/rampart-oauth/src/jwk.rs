//! JWS algorithms and JSON Web Keys (RFC 7517/7518/8037), verified with `ring`.
//!
//! A key only verifies signatures of its own family: an RSA key never checks an HMAC
//! or ECDSA signature, and a key whose JWK names an `alg` checks only that one. That is
//! what closes the RS256/HS256 confusion.

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};

use crate::json::{b64url, b64url_decode, parse_object};

/// A JWS algorithm Rampart can check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// Ed25519.
    EdDsa,
    /// HMAC SHA-256 (only with a configured shared secret).
    Hs256,
    /// HMAC SHA-384 (only with a configured shared secret).
    Hs384,
    /// HMAC SHA-512 (only with a configured shared secret).
    Hs512,
}

impl Alg {
    /// Every algorithm, asymmetric first.
    pub const ALL: [Alg; 8] = [
        Alg::Rs256,
        Alg::Ps256,
        Alg::Es256,
        Alg::Es384,
        Alg::EdDsa,
        Alg::Hs256,
        Alg::Hs384,
        Alg::Hs512,
    ];

    /// The algorithm named `name` as in a JWS header (case-sensitive); `none` is not one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The JWS name (`RS256`).
    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Ps256 => "PS256",
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::EdDsa => "EdDSA",
            Alg::Hs256 => "HS256",
            Alg::Hs384 => "HS384",
            Alg::Hs512 => "HS512",
        }
    }

    /// True for the shared-secret algorithms.
    pub fn is_hmac(self) -> bool {
        matches!(self, Alg::Hs256 | Alg::Hs384 | Alg::Hs512)
    }

    pub(crate) fn hmac(self) -> Option<ring::hmac::Algorithm> {
        match self {
            Alg::Hs256 => Some(ring::hmac::HMAC_SHA256),
            Alg::Hs384 => Some(ring::hmac::HMAC_SHA384),
            Alg::Hs512 => Some(ring::hmac::HMAC_SHA512),
            _ => None,
        }
    }
}

/// The public part of a signing key.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum PublicKey {
    /// Modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// Uncompressed point `04 || x || y`.
    P256(Vec<u8>),
    /// Uncompressed point `04 || x || y`.
    P384(Vec<u8>),
    /// The 32-byte public key.
    Ed25519(Vec<u8>),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PublicKey::Rsa { .. } => "RSA",
            PublicKey::P256(_) => "EC P-256",
            PublicKey::P384(_) => "EC P-384",
            PublicKey::Ed25519(_) => "OKP Ed25519",
        })
    }
}

impl PublicKey {
    /// True when `alg` belongs to this key's family.
    pub(crate) fn fits(&self, alg: Alg) -> bool {
        matches!(
            (self, alg),
            (PublicKey::Rsa { .. }, Alg::Rs256 | Alg::Ps256)
                | (PublicKey::P256(_), Alg::Es256)
                | (PublicKey::P384(_), Alg::Es384)
                | (PublicKey::Ed25519(_), Alg::EdDsa)
        )
    }

    /// Checks `sig` over `msg`. A key of another family never verifies.
    pub(crate) fn verify(&self, alg: Alg, msg: &[u8], sig: &[u8]) -> bool {
        match (self, alg) {
            (PublicKey::Rsa { n, e }, Alg::Rs256) => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
                .is_ok(),
            (PublicKey::Rsa { n, e }, Alg::Ps256) => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PSS_2048_8192_SHA256, msg, sig)
                .is_ok(),
            (PublicKey::P256(point), Alg::Es256) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(msg, sig)
                    .is_ok()
            }
            (PublicKey::P384(point), Alg::Es384) => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                    .verify(msg, sig)
                    .is_ok()
            }
            (PublicKey::Ed25519(key), Alg::EdDsa) => {
                UnparsedPublicKey::new(&signature::ED25519, key)
                    .verify(msg, sig)
                    .is_ok()
            }
            _ => false,
        }
    }

    /// The RFC 7638 thumbprint: base64url(SHA-256(canonical JSON of the required members)).
    pub(crate) fn thumbprint(&self) -> String {
        let canonical = match self {
            PublicKey::Rsa { n, e } => {
                format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64url(e), b64url(n))
            }
            PublicKey::P256(point) | PublicKey::P384(point) => {
                let crv = if matches!(self, PublicKey::P256(_)) {
                    "P-256"
                } else {
                    "P-384"
                };
                let coord = (point.len() - 1) / 2;
                format!(
                    r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}"}}"#,
                    b64url(&point[1..=coord]),
                    b64url(&point[1 + coord..])
                )
            }
            PublicKey::Ed25519(x) => {
                format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64url(x))
            }
        };
        b64url(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref())
    }
}

/// One verification key from a JWKS or a DPoP header.
#[derive(Debug, Clone)]
pub(crate) struct Jwk {
    pub(crate) kid: Option<String>,
    /// The JWK's own `alg`, when it names one.
    pub(crate) alg: Option<Alg>,
    pub(crate) key: PublicKey,
}

/// Why a JWK was not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwkProblem {
    /// A `kty`/`crv` Rampart does not verify with: skipped in a JWKS.
    Unsupported,
    /// Malformed, holds private parts, or is not for signatures.
    Invalid(&'static str),
}

const MAX_KID_LEN: usize = 256;

fn field<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    map.get(name).and_then(Value::as_str)
}

fn bytes(map: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, JwkProblem> {
    field(map, name)
        .and_then(b64url_decode)
        .ok_or(JwkProblem::Invalid("missing or malformed key member"))
}

impl Jwk {
    /// Reads one JWK object. Private members (`d`, `p`, `k`, ...) make it invalid: a public
    /// key set that carries them is broken, and a DPoP proof must not carry them.
    pub(crate) fn from_map(map: &Map<String, Value>) -> Result<Self, JwkProblem> {
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            if map.contains_key(private) {
                return Err(JwkProblem::Invalid("private key member present"));
            }
        }
        if let Some(usage) = map.get("use")
            && usage.as_str() != Some("sig")
        {
            return Err(JwkProblem::Invalid("key not for signatures"));
        }
        if let Some(ops) = map.get("key_ops") {
            let verify = ops
                .as_array()
                .is_some_and(|ops| ops.iter().any(|o| o.as_str() == Some("verify")));
            if !verify {
                return Err(JwkProblem::Invalid("key_ops without verify"));
            }
        }
        let kid = match map.get("kid") {
            None => None,
            Some(Value::String(kid)) if kid.len() <= MAX_KID_LEN => Some(kid.clone()),
            Some(_) => return Err(JwkProblem::Invalid("kid not a short string")),
        };
        let alg = match map.get("alg") {
            None => None,
            Some(Value::String(name)) => match Alg::from_name(name) {
                Some(alg) => Some(alg),
                None => return Err(JwkProblem::Unsupported),
            },
            Some(_) => return Err(JwkProblem::Invalid("alg not a string")),
        };
        let key = match (field(map, "kty"), field(map, "crv")) {
            (Some("RSA"), _) => {
                let n = bytes(map, "n")?;
                let e = bytes(map, "e")?;
                // ring refuses leading zeros and sizes outside 2048..8192 at verify time;
                // refusing them here makes a broken key visible when the JWKS is loaded.
                if n.first().is_none_or(|b| *b == 0) || e.first().is_none_or(|b| *b == 0) {
                    return Err(JwkProblem::Invalid("RSA integer with leading zero"));
                }
                if !(256..=1024).contains(&n.len()) || e.len() > 8 {
                    return Err(JwkProblem::Invalid("RSA key size out of range"));
                }
                PublicKey::Rsa { n, e }
            }
            (Some("EC"), Some(crv @ ("P-256" | "P-384"))) => {
                let len = if crv == "P-256" { 32 } else { 48 };
                let x = bytes(map, "x")?;
                let y = bytes(map, "y")?;
                if x.len() != len || y.len() != len {
                    return Err(JwkProblem::Invalid("EC coordinate length"));
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                if len == 32 {
                    PublicKey::P256(point)
                } else {
                    PublicKey::P384(point)
                }
            }
            (Some("OKP"), Some("Ed25519")) => {
                let x = bytes(map, "x")?;
                if x.len() != 32 {
                    return Err(JwkProblem::Invalid("Ed25519 key length"));
                }
                PublicKey::Ed25519(x)
            }
            (Some(_), _) => return Err(JwkProblem::Unsupported),
            (None, _) => return Err(JwkProblem::Invalid("kty missing")),
        };
        if let Some(alg) = alg
            && !key.fits(alg)
        {
            return Err(JwkProblem::Invalid("alg does not fit the key type"));
        }
        Ok(Self { kid, alg, key })
    }

    /// True when this key may check a signature made with `alg`.
    pub(crate) fn accepts(&self, alg: Alg) -> bool {
        self.key.fits(alg) && self.alg.is_none_or(|own| own == alg)
    }
}

/// A parsed key set.
#[derive(Debug, Clone, Default)]
pub(crate) struct JwkSet {
    pub(crate) keys: Vec<Jwk>,
}

/// Why a JWKS document was refused as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwksProblem {
    /// Not a JSON object with a `keys` array.
    Malformed,
    /// More keys than the cap.
    TooManyKeys,
}

impl JwkSet {
    /// Parses a JWKS. Keys of unknown type and broken keys are skipped (and logged), so
    /// an IdP that adds a new key type does not break verification with the others.
    pub(crate) fn parse(bytes: &[u8], max_keys: usize) -> Result<Self, JwksProblem> {
        let doc = parse_object(bytes).ok_or(JwksProblem::Malformed)?;
        let list = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(JwksProblem::Malformed)?;
        if list.len() > max_keys {
            return Err(JwksProblem::TooManyKeys);
        }
        let mut keys = Vec::with_capacity(list.len());
        for entry in list {
            let Some(map) = entry.as_object() else {
                tracing::warn!("JWKS entry is not an object; skipped");
                continue;
            };
            match Jwk::from_map(map) {
                Ok(jwk) => keys.push(jwk),
                Err(JwkProblem::Unsupported) => {
                    tracing::debug!(kty = ?field(map, "kty"), "JWKS key of unsupported type skipped");
                }
                Err(JwkProblem::Invalid(why)) => {
                    tracing::warn!(kid = ?field(map, "kid"), why, "JWKS key skipped");
                }
            }
        }
        Ok(Self { keys })
    }

    /// The key to check a signature with: the one with `kid`, or, without a `kid`, the
    /// only key that accepts `alg` (several candidates would mean guessing).
    pub(crate) fn select(&self, kid: Option<&str>, alg: Alg) -> Option<&Jwk> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid) && k.accepts(alg)),
            None => {
                let mut candidates = self.keys.iter().filter(|k| k.accepts(alg));
                let first = candidates.next()?;
                candidates.next().is_none().then_some(first)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk(text: &str) -> Result<Jwk, JwkProblem> {
        Jwk::from_map(&parse_object(text.as_bytes()).unwrap())
    }

    const X32: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

    #[test]
    fn reads_key_types_and_refuses_look_alikes() {
        let x48 = b64url(&[7u8; 48]);
        let n = b64url(&[0xc1u8; 256]);
        let cases: Vec<(String, Result<&str, JwkProblem>)> = vec![
            (
                format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{X32}"}}"#),
                Ok("OKP Ed25519"),
            ),
            (
                format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{X32}","d":"{X32}"}}"#),
                Err(JwkProblem::Invalid("private key member present")),
            ),
            (
                format!(r#"{{"kty":"OKP","crv":"X25519","x":"{X32}"}}"#),
                Err(JwkProblem::Unsupported),
            ),
            (
                format!(r#"{{"kty":"EC","crv":"P-256","x":"{X32}","y":"{X32}"}}"#),
                Ok("EC P-256"),
            ),
            (
                format!(r#"{{"kty":"EC","crv":"P-384","x":"{X32}","y":"{X32}"}}"#),
                Err(JwkProblem::Invalid("EC coordinate length")),
            ),
            (
                format!(r#"{{"kty":"EC","crv":"P-384","x":"{x48}","y":"{x48}"}}"#),
                Ok("EC P-384"),
            ),
            (
                format!(r#"{{"kty":"EC","crv":"secp256k1","x":"{X32}","y":"{X32}"}}"#),
                Err(JwkProblem::Unsupported),
            ),
            (
                format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"}}"#),
                Ok("RSA"),
            ),
            (
                format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB","alg":"RS256","use":"sig"}}"#),
                Ok("RSA"),
            ),
            (
                format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB","use":"enc"}}"#),
                Err(JwkProblem::Invalid("key not for signatures")),
            ),
            (
                format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB","alg":"ES256"}}"#),
                Err(JwkProblem::Invalid("alg does not fit the key type")),
            ),
            (
                format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB","alg":"HS256"}}"#),
                Err(JwkProblem::Invalid("alg does not fit the key type")),
            ),
            (
                r#"{"kty":"RSA","n":"AMGx","e":"AQAB"}"#.to_owned(),
                Err(JwkProblem::Invalid("RSA integer with leading zero")),
            ),
            (
                r#"{"kty":"oct","k":"c2VjcmV0"}"#.to_owned(),
                Err(JwkProblem::Invalid("private key member present")),
            ),
            (r#"{"kty":"oct"}"#.to_owned(), Err(JwkProblem::Unsupported)),
        ];
        for (text, want) in cases {
            let got = jwk(&text).map(|k| format!("{:?}", k.key));
            assert_eq!(got.as_deref().map_err(|e| *e), want, "{text}");
        }
    }

    #[test]
    fn a_key_with_alg_accepts_only_that_alg() {
        let n = b64url(&[0xc1u8; 256]);
        let pinned = jwk(&format!(
            r#"{{"kty":"RSA","n":"{n}","e":"AQAB","alg":"PS256"}}"#
        ))
        .unwrap();
        assert!(pinned.accepts(Alg::Ps256));
        assert!(!pinned.accepts(Alg::Rs256));
        assert!(!pinned.accepts(Alg::Hs256));
        let open = jwk(&format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"}}"#)).unwrap();
        assert!(open.accepts(Alg::Rs256) && open.accepts(Alg::Ps256));
        assert!(!open.accepts(Alg::Es256) && !open.accepts(Alg::Hs256));
    }

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638 section 3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let key = jwk(&format!(
            r#"{{"kty":"RSA","n":"{n}","e":"AQAB","alg":"RS256","kid":"2011-04-29"}}"#
        ))
        .unwrap();
        assert_eq!(
            key.key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn jwks_skips_unknown_types_and_caps_size() {
        let doc = format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{X32}","kid":"a"}},{{"kty":"PQC","kid":"b"}},7]}}"#
        );
        let set = JwkSet::parse(doc.as_bytes(), 8).unwrap();
        assert_eq!(set.keys.len(), 1);
        assert_eq!(
            JwkSet::parse(doc.as_bytes(), 2).unwrap_err(),
            JwksProblem::TooManyKeys
        );
        assert_eq!(
            JwkSet::parse(b"{\"keys\":{}}", 8).unwrap_err(),
            JwksProblem::Malformed
        );
    }

    #[test]
    fn selection_without_kid_needs_a_single_candidate() {
        let one = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{X32}","kid":"a"}}"#);
        let two = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{X32}","kid":"b"}}"#);
        let single = JwkSet::parse(format!(r#"{{"keys":[{one}]}}"#).as_bytes(), 8).unwrap();
        assert!(single.select(None, Alg::EdDsa).is_some());
        assert!(single.select(None, Alg::Es256).is_none());
        assert!(single.select(Some("a"), Alg::EdDsa).is_some());
        assert!(single.select(Some("b"), Alg::EdDsa).is_none());
        let double = JwkSet::parse(format!(r#"{{"keys":[{one},{two}]}}"#).as_bytes(), 8).unwrap();
        assert!(double.select(None, Alg::EdDsa).is_none());
        assert!(double.select(Some("b"), Alg::EdDsa).is_some());
    }
}

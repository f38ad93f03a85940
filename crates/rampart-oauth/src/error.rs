//! Why a bearer token was not accepted. No variant carries the token or any part of it.

/// Why a token (or its DPoP proof or certificate binding) was not accepted.
///
/// Every variant but [`TokenError::KeysUnavailable`] and [`TokenError::Unavailable`] is a
/// property of the request (the edge answers 401); those two mean the identity provider
/// could not be asked and the edge answers 503 — fail closed, never open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a compact JWS (parts, base64url, JSON), or an opaque token with bad characters.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// Longer than the configured cap; refused before any decoding.
    #[error("token longer than {limit} bytes")]
    Oversized {
        /// The cap in bytes.
        limit: usize,
    },
    /// `alg` is `none`, unknown, not allowed for this issuer, or of the wrong family.
    #[error("algorithm {0:?} not accepted")]
    UnsupportedAlg(String),
    /// `typ` or `crit` header values this verifier does not accept.
    #[error("unacceptable header: {0}")]
    BadHeader(&'static str),
    /// No key with this `kid` (or no single candidate key) for the issuer, even after a
    /// refresh.
    #[error("no matching key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `iss` is not a configured issuer.
    #[error("unknown issuer")]
    WrongIssuer,
    /// `aud` does not contain the configured audience.
    #[error("wrong audience")]
    WrongAudience,
    /// A required claim is absent or has the wrong JSON type.
    #[error("missing claim {0:?}")]
    MissingClaim(String),
    /// A claim is present but does not have the required value.
    #[error("claim {0:?} has the wrong value")]
    ClaimMismatch(String),
    /// The issuer's keys could not be fetched and none are cached (edge: 503).
    #[error("signing keys unavailable")]
    KeysUnavailable,
    /// Introspection answered `active: false`.
    #[error("token inactive")]
    Inactive,
    /// The introspection endpoint could not be asked (edge: 503).
    #[error("introspection unavailable")]
    Unavailable,
    /// An opaque token arrived and no introspection endpoint is configured.
    #[error("opaque tokens are not accepted")]
    OpaqueNotAccepted,
    /// The token is bound to a client certificate (`cnf.x5t#S256`) and none was presented.
    #[error("certificate-bound token without client certificate")]
    CertificateMissing,
    /// The presented client certificate is not the one the token is bound to.
    #[error("client certificate does not match the token binding")]
    CertificateMismatch,
    /// The DPoP proof is malformed or does not match the request.
    #[error("invalid DPoP proof: {0}")]
    DpopInvalid(&'static str),
    /// The DPoP proof's `jti` was seen before.
    #[error("DPoP proof replayed")]
    DpopReplayed,
}

impl TokenError {
    /// A short stable code for the audit log.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "token_malformed",
            Self::Oversized { .. } => "token_oversized",
            Self::UnsupportedAlg(_) => "token_unsupported_alg",
            Self::BadHeader(_) => "token_bad_header",
            Self::UnknownKey => "token_unknown_key",
            Self::BadSignature => "token_bad_signature",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
            Self::IssuedInFuture => "token_issued_in_future",
            Self::WrongIssuer => "token_wrong_issuer",
            Self::WrongAudience => "token_wrong_audience",
            Self::MissingClaim(_) => "token_missing_claim",
            Self::ClaimMismatch(_) => "token_claim_mismatch",
            Self::KeysUnavailable => "oauth_keys_unavailable",
            Self::Inactive => "token_inactive",
            Self::Unavailable => "oauth_introspection_unavailable",
            Self::OpaqueNotAccepted => "token_opaque_not_accepted",
            Self::CertificateMissing => "token_certificate_missing",
            Self::CertificateMismatch => "token_certificate_mismatch",
            Self::DpopInvalid(_) => "dpop_invalid",
            Self::DpopReplayed => "dpop_replayed",
        }
    }

    /// True when the identity provider could not be asked: the edge answers 503, not 401.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::KeysUnavailable | Self::Unavailable)
    }

    /// An `alg` value for an error, cut short and stripped of anything unprintable (it
    /// comes from the attacker).
    pub(crate) fn alg(raw: &str) -> Self {
        Self::UnsupportedAlg(
            raw.chars()
                .filter(|c| c.is_ascii_graphic())
                .take(16)
                .collect(),
        )
    }
}

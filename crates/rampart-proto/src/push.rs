//! The signature format of pushed policy bundles, shared by the signer (inner) and the
//! verifier (edge) so the two cannot drift apart.
//!
//! A bundle is signed with Ed25519 over [`signed_bytes`]: a domain label, then every
//! field but the signature, each length-prefixed in a fixed order. The edge verifies
//! size, key, signature and version before it parses a byte of the payload.
//!
//! What it does not do: no I/O, no policy parsing (the edge builds the policy exactly as
//! a reload does), no key storage.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use crate::v1::{PolicyBundle, PolicyDocument};

/// The document holding the pushed sections; the others are the files it names.
pub const POLICY_DOCUMENT: &str = "policy.toml";
/// Top-level sections of the edge config a push may replace. Listeners, TLS, the link,
/// admin, audit and `[push]` itself are never pushable.
pub const PUSHABLE_SECTIONS: &[&str] = &[
    "routes",
    "screening",
    "ip_lists",
    "ip_policy",
    "rate_limit",
    "identity",
];
/// Largest encoded bundle either side accepts (below the link's 4 MiB message cap).
pub const MAX_BUNDLE_BYTES: usize = 3 * 1024 * 1024;
/// Most documents in one bundle.
pub const MAX_DOCUMENTS: usize = 64;
/// Longest document name.
const MAX_NAME: usize = 200;
/// Prefix of a public key in its text form.
const KEY_PREFIX: &str = "ed25519:";
/// Separates this signature from any other use of the same key.
const DOMAIN: &[u8] = b"rampart-policy-bundle-v1\0";

/// Why a bundle or a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The encoded bundle is larger than the cap.
    #[error("bundle is {size} bytes, more than the {max} allowed")]
    TooLarge {
        /// Encoded size.
        size: usize,
        /// The cap.
        max: usize,
    },
    /// Signed by a key the verifier does not trust.
    #[error("signed with key id {0:?}, which is not trusted")]
    UnknownKey(String),
    /// The signature is not 64 bytes.
    #[error("signature is {0} bytes, not 64")]
    MalformedSignature(usize),
    /// The signature does not match the bundle and the key.
    #[error("signature does not verify")]
    BadSignature,
    /// Not newer than the running version: a replay or a rollback.
    #[error("version {version} is not newer than the running version {running}")]
    Stale {
        /// The bundle's version.
        version: u64,
        /// The version running.
        running: u64,
    },
    /// Document names are missing, unsorted, duplicated or not safe paths.
    #[error("documents: {0}")]
    Documents(String),
    /// A key could not be read or parsed.
    #[error("key: {0}")]
    Key(String),
}

/// A trusted Ed25519 public key with its id.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    id: String,
    key: [u8; 32],
}

impl PublicKey {
    /// From its 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PushError> {
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| PushError::Key(format!("{} bytes, not 32", bytes.len())))?;
        Ok(Self {
            id: key_id(&key),
            key,
        })
    }

    /// Parses the text form `ed25519:<base64 of 32 bytes>` (surrounding space ignored).
    pub fn parse(text: &str) -> Result<Self, PushError> {
        let encoded = text
            .trim()
            .strip_prefix(KEY_PREFIX)
            .ok_or_else(|| PushError::Key(format!("must start with {KEY_PREFIX:?}")))?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|e| PushError::Key(format!("not base64: {e}")))?;
        Self::from_bytes(&bytes)
    }

    /// Hex of the first 8 bytes of SHA-256 of the key.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{KEY_PREFIX}{}", STANDARD.encode(self.key))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey").field("id", &self.id).finish()
    }
}

/// The key id of a raw public key.
pub fn key_id(public: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, public);
    digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A signing key (LAN side only).
pub struct Signer {
    pair: Ed25519KeyPair,
    public: PublicKey,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.public.id)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// From PKCS#8 DER (v1 or v2, as `rampart push keygen` and OpenSSL write them).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, PushError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| PushError::Key(format!("not an Ed25519 PKCS#8 key: {e}")))?;
        let public = PublicKey::from_bytes(pair.public_key().as_ref())?;
        Ok(Self { pair, public })
    }

    /// From a PEM `PRIVATE KEY` block.
    pub fn from_pem(text: &str) -> Result<Self, PushError> {
        Self::from_pkcs8(&pem_decode(text)?)
    }

    /// The public key the edge must trust.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Signs `documents` (sorted here) as `version`.
    pub fn sign(
        &self,
        version: u64,
        issued_at: u64,
        mut documents: Vec<PolicyDocument>,
    ) -> PolicyBundle {
        documents.sort_by(|a, b| a.name.cmp(&b.name));
        let mut bundle = PolicyBundle {
            version,
            issued_at,
            documents,
            key_id: self.public.id.clone(),
            signature: Default::default(),
        };
        let signature = self.pair.sign(&signed_bytes(&bundle));
        bundle.signature = bytes::Bytes::copy_from_slice(signature.as_ref());
        bundle
    }
}

/// A fresh key pair: the PKCS#8 private key as PEM, and its public key.
pub fn generate() -> Result<(String, PublicKey), PushError> {
    let rng = ring::rand::SystemRandom::new();
    let der = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| PushError::Key("the system random source failed".to_owned()))?;
    let signer = Signer::from_pkcs8(der.as_ref())?;
    Ok((pem_encode(der.as_ref()), signer.public))
}

/// What the signature covers: every field but the signature, length-prefixed.
pub fn signed_bytes(bundle: &PolicyBundle) -> Vec<u8> {
    let payload: usize = (bundle.documents.iter())
        .map(|d| d.name.len() + d.content.len() + 12)
        .sum();
    let mut out = Vec::with_capacity(DOMAIN.len() + 32 + bundle.key_id.len() + payload);
    out.extend_from_slice(DOMAIN);
    out.extend_from_slice(&bundle.version.to_be_bytes());
    out.extend_from_slice(&bundle.issued_at.to_be_bytes());
    put_bytes(&mut out, bundle.key_id.as_bytes());
    out.extend_from_slice(&(bundle.documents.len() as u64).to_be_bytes());
    for d in &bundle.documents {
        put_bytes(&mut out, d.name.as_bytes());
        put_bytes(&mut out, &d.content);
    }
    out
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Checks, in this order and before anything parses the payload: size against
/// `max_bytes`, key id against `trusted`, the signature, the version against `running`
/// (a bundle must be newer), then the document names.
pub fn verify(
    bundle: &PolicyBundle,
    trusted: &[PublicKey],
    running: u64,
    max_bytes: usize,
) -> Result<(), PushError> {
    let size = prost::Message::encoded_len(bundle);
    if size > max_bytes {
        return Err(PushError::TooLarge {
            size,
            max: max_bytes,
        });
    }
    let key = (trusted.iter())
        .find(|k| k.id == bundle.key_id)
        .ok_or_else(|| PushError::UnknownKey(bundle.key_id.chars().take(32).collect()))?;
    if bundle.signature.len() != 64 {
        return Err(PushError::MalformedSignature(bundle.signature.len()));
    }
    UnparsedPublicKey::new(&ED25519, &key.key)
        .verify(&signed_bytes(bundle), &bundle.signature)
        .map_err(|_| PushError::BadSignature)?;
    if bundle.version <= running {
        return Err(PushError::Stale {
            version: bundle.version,
            running,
        });
    }
    check_documents(&bundle.documents)
}

/// Names sorted and unique, each a safe relative path, `policy.toml` among them.
pub fn check_documents(documents: &[PolicyDocument]) -> Result<(), PushError> {
    if documents.len() > MAX_DOCUMENTS {
        return Err(PushError::Documents(format!(
            "{} documents, more than {MAX_DOCUMENTS}",
            documents.len()
        )));
    }
    for pair in documents.windows(2) {
        if pair[0].name >= pair[1].name {
            return Err(PushError::Documents(format!(
                "{:?} is not sorted before {:?} or repeated",
                pair[0].name, pair[1].name
            )));
        }
    }
    for d in documents {
        check_name(&d.name)?;
    }
    if !documents.iter().any(|d| d.name == POLICY_DOCUMENT) {
        return Err(PushError::Documents(format!("no {POLICY_DOCUMENT}")));
    }
    Ok(())
}

/// A relative path of plain components: the edge writes documents under its state
/// directory by these names, so nothing may climb out of it.
pub fn check_name(name: &str) -> Result<(), PushError> {
    let safe = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.split('/').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        });
    if safe {
        Ok(())
    } else {
        Err(PushError::Documents(format!(
            "{:?} is not a safe relative path",
            name.chars().take(64).collect::<String>()
        )))
    }
}

fn pem_encode(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

fn pem_decode(text: &str) -> Result<Vec<u8>, PushError> {
    let begin = "-----BEGIN PRIVATE KEY-----";
    let end = "-----END PRIVATE KEY-----";
    let start = text
        .find(begin)
        .ok_or_else(|| PushError::Key(format!("no {begin} block")))?
        + begin.len();
    let stop = text[start..]
        .find(end)
        .ok_or_else(|| PushError::Key(format!("no {end} line")))?
        + start;
    let body: String = text[start..stop].split_whitespace().collect();
    STANDARD
        .decode(body)
        .map_err(|e| PushError::Key(format!("PEM body is not base64: {e}")))
}

#[cfg(test)]
mod tests;

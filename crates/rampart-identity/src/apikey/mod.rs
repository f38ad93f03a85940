//! API keys: a consumers file of hashed keys, lookup, extraction, and new keys.
//!
//! Keys are `rk_` followed by 43 base64url characters (32 random bytes). The file holds
//! only their SHA-256: keys are 256-bit random, so a fast unsalted hash is right — there
//! is nothing to brute-force, and a slow hash would only make every request expensive.
//! See [`mod@file`] for the file format.

pub mod edit;
pub mod file;
mod source;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::time::SystemTime;

use base64::Engine as _;
use rampart_core::check::Denial;
use rampart_core::problem::Reason;
use rand::RngCore as _;

use crate::digest::{ct_eq, hex, sha256};
use crate::{CHECK_ID, Method, Principal};

pub use source::{ApiKeySource, Extracted, PresentedKey};

/// Prefix of every key.
pub const KEY_PREFIX: &str = "rk_";
/// Length of a well-formed key: the prefix and 43 base64url characters.
pub const KEY_LEN: usize = 46;
/// Presented keys longer than this are refused before hashing.
pub const MAX_PRESENTED_KEY_BYTES: usize = 256;

/// Why a presented key was refused. The client always gets the same generic 401; the
/// variant goes to the audit log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRejection {
    /// Longer than [`MAX_PRESENTED_KEY_BYTES`].
    #[error("api key too long")]
    TooLong,
    /// Not `rk_` and 43 base64url characters.
    #[error("api key malformed")]
    Malformed,
    /// Offered more than once (several headers, header and query, repeated parameter).
    #[error("api key offered more than once")]
    Ambiguous,
    /// No consumer has this key.
    #[error("unknown api key")]
    UnknownKey,
    /// The key is past its expiry.
    #[error("api key of {consumer} expired")]
    Expired {
        /// Whose key it was.
        consumer: String,
    },
    /// The key is on the deny list.
    #[error("api key revoked")]
    Revoked,
    /// The consumer is disabled.
    #[error("consumer {consumer} disabled")]
    Disabled {
        /// Which consumer.
        consumer: String,
    },
}

impl KeyRejection {
    /// Stable code for the audit log.
    pub fn code(&self) -> &'static str {
        match self {
            KeyRejection::TooLong => "api-key-too-long",
            KeyRejection::Malformed => "api-key-malformed",
            KeyRejection::Ambiguous => "api-key-ambiguous",
            KeyRejection::UnknownKey => "api-key-unknown",
            KeyRejection::Expired { .. } => "api-key-expired",
            KeyRejection::Revoked => "api-key-revoked",
            KeyRejection::Disabled { .. } => "consumer-disabled",
        }
    }

    /// The denial to record: 401 with the code as rule.
    pub fn denial(&self) -> Denial {
        Denial::new(CHECK_ID, Reason::Unauthenticated)
            .with_rule(self.code())
            .with_location("api key")
    }
}

/// One consumer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    /// Unique name; the principal's subject and consumer.
    pub name: String,
    /// Granted roles.
    pub roles: Vec<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Rate-limit plan.
    pub plan: Option<String>,
    /// A disabled consumer's keys are refused.
    pub enabled: bool,
}

#[derive(Debug, Clone)]
struct KeyEntry {
    hash: [u8; 32],
    consumer: usize,
    expires: Option<SystemTime>,
}

/// The loaded consumers file.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    consumers: Vec<Consumer>,
    by_hash: HashMap<[u8; 32], KeyEntry>,
}

impl ApiKeys {
    /// Finds the consumer of `presented` at wall-clock time `now`.
    pub fn lookup(&self, presented: &[u8], now: SystemTime) -> Result<Principal, KeyRejection> {
        if presented.len() > MAX_PRESENTED_KEY_BYTES {
            return Err(KeyRejection::TooLong);
        }
        if !well_formed(presented) {
            return Err(KeyRejection::Malformed);
        }
        let hash = sha256(presented);
        // The map is keyed by the hash, which reveals nothing about the key even if
        // its lookup time varies; the stored hash is still compared in constant time.
        let entry = self
            .by_hash
            .get(&hash)
            .filter(|e| ct_eq(&e.hash, &hash))
            .ok_or(KeyRejection::UnknownKey)?;
        let consumer = self
            .consumers
            .get(entry.consumer)
            .ok_or(KeyRejection::UnknownKey)?;
        if !consumer.enabled {
            return Err(KeyRejection::Disabled {
                consumer: consumer.name.clone(),
            });
        }
        if entry.expires.is_some_and(|at| now >= at) {
            return Err(KeyRejection::Expired {
                consumer: consumer.name.clone(),
            });
        }
        Ok(Principal {
            subject: consumer.name.clone(),
            method: Method::ApiKey,
            consumer: Some(consumer.name.clone()),
            scopes: consumer.scopes.clone(),
            roles: consumer.roles.clone(),
            plan: consumer.plan.clone(),
        })
    }

    /// The consumers, in file order.
    pub fn consumers(&self) -> &[Consumer] {
        &self.consumers
    }

    /// The key ids ([`edit::key_id`]) of each consumer, in file order, each list sorted.
    pub fn key_ids(&self) -> Vec<Vec<String>> {
        let mut ids = vec![Vec::new(); self.consumers.len()];
        for entry in self.by_hash.values() {
            if let Some(list) = ids.get_mut(entry.consumer) {
                list.push(edit::key_id(&hex(&entry.hash)).to_owned());
            }
        }
        ids.iter_mut().for_each(|l| l.sort());
        ids
    }

    /// Number of keys.
    pub fn key_count(&self) -> usize {
        self.by_hash.len()
    }
}

fn well_formed(key: &[u8]) -> bool {
    key.len() == KEY_LEN
        && key.starts_with(KEY_PREFIX.as_bytes())
        && key[KEY_PREFIX.len()..]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A freshly generated key, for `rampart keys new --consumer NAME`.
pub struct NewKey {
    /// The key, shown once to the operator and never stored.
    pub key: String,
    /// Its `sha256:<hex>` entry.
    pub hash: String,
    /// TOML lines to add to the consumers file.
    pub file_snippet: String,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("key", &"<redacted>")
            .field("hash", &self.hash)
            .finish()
    }
}

/// Generates a key for `consumer` from the operating system's random source.
pub fn new_key(consumer: &str) -> NewKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let key = format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = format!("sha256:{}", hex(&sha256(key.as_bytes())));
    let name = toml::Value::String(consumer.to_owned());
    let file_snippet = format!(
        "# A new consumer needs both tables; for an existing one add only [[consumer.keys]],\n\
         # right after that consumer's entry.\n\
         [[consumer]]\nname = {name}\n\n\
         [[consumer.keys]]\nhash = \"{hash}\"\n# expires = \"2030-01-01T00:00:00Z\"\n"
    );
    NewKey {
        key,
        hash,
        file_snippet,
    }
}

//! The loaded credential stores, as the edge holds them.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, Uri};

use crate::Principal;
use crate::apikey::{ApiKeySource, ApiKeys, KeyRejection};
use crate::basic::{BasicAuth, BasicRejection, parse_authorization};
use crate::denylist::DenyList;
use crate::watch::{Reload, Watched};

/// The loaded credential stores, ready for the edge.
#[derive(Debug)]
pub struct Identity {
    /// API keys, when a consumers file is configured.
    pub api_keys: Option<Watched<ApiKeys>>,
    /// HTTP Basic, when a users file is configured.
    pub basic: Option<BasicAuth>,
    /// Revoked credentials, when configured.
    pub deny_list: Option<Watched<DenyList>>,
    /// How often to call [`Identity::reload_if_changed`].
    pub reload_interval: Duration,
}

/// A caller verified by API key, and the URI to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAuthenticated {
    /// The caller.
    pub principal: Principal,
    /// The URI without the key's query parameter, when the key came from the query.
    pub uri: Option<Uri>,
}

impl Identity {
    /// Authenticates the API key a request carries where `source` says: `Ok(None)` when
    /// it carries none (the caller may try another method or send the challenges). A
    /// listed key is refused even if its consumer still has it.
    pub fn api_key(
        &self,
        source: &ApiKeySource,
        headers: &HeaderMap,
        uri: &Uri,
        now: SystemTime,
    ) -> Result<Option<KeyAuthenticated>, KeyRejection> {
        let found = source.extract(headers, uri)?;
        let Some(key) = found.key else {
            return Ok(None);
        };
        let keys = self.api_keys.as_ref().map(Watched::current);
        let principal = keys
            .ok_or(KeyRejection::UnknownKey)?
            .lookup(key.as_bytes(), now)?;
        if self.is_revoked(key.as_bytes(), None) {
            return Err(KeyRejection::Revoked);
        }
        Ok(Some(KeyAuthenticated {
            principal,
            uri: found.uri,
        }))
    }

    /// Authenticates an `Authorization: Basic` value from `ip` (blocking: may run
    /// argon2; call it on the blocking pool). Without a users file every user is unknown.
    pub fn basic(
        &self,
        authorization: &[u8],
        ip: IpAddr,
        now: Instant,
    ) -> Result<Principal, BasicRejection> {
        let creds = parse_authorization(authorization)?;
        match &self.basic {
            Some(basic) => basic.authenticate(&creds, ip, now),
            None => Err(BasicRejection::UnknownUser),
        }
    }

    /// True when a secret (API key, whole bearer token) or a JWT id is on the deny list.
    pub fn is_revoked(&self, secret: &[u8], jti: Option<&str>) -> bool {
        let Some(list) = &self.deny_list else {
            return false;
        };
        let list = list.current();
        list.contains_secret(secret) || jti.is_some_and(|j| list.contains_jti(j))
    }

    /// Polls every file once (blocking); returns what changed or failed, by file.
    pub fn reload_if_changed(&self) -> Vec<(PathBuf, Reload)> {
        let mut out = Vec::new();
        let mut note = |path: &Path, r: Reload| {
            if !matches!(r, Reload::Unchanged) {
                out.push((path.to_owned(), r));
            }
        };
        if let Some(k) = &self.api_keys {
            note(k.path(), k.reload_if_changed());
        }
        if let Some(b) = &self.basic {
            note(b.users_path(), b.reload_if_changed());
        }
        if let Some(d) = &self.deny_list {
            note(d.path(), d.reload_if_changed());
        }
        out
    }
}

//! The admin users file (`[admin] users_file`): people who sign in to the dashboard and
//! API with a password and a TOTP code. Made with `rampart admin user add`.
//!
//! ```toml
//! [[users]]
//! name = "alice"
//! role = "admin"                      # viewer, operator or admin
//! password = "$argon2id$v=19$m=19456,t=2,p=1$..."
//! totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"   # base32, 160 bits
//! ```
//!
//! The file holds second-factor secrets: it should be readable by the tier's user only
//! (a warning is logged when group or others may read it). It is reloaded when it
//! changes; a broken version keeps the previous one. Only argon2id v19 hashes are
//! accepted, with costs capped so a bad file cannot make each login allocate gigabytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use argon2::{ARGON2ID_IDENT, Params, PasswordHash, Version};
use rampart_core::config::{ConfigError, Problems};
use rampart_identity::watch::{FromFile, Watched};
use serde::{Deserialize, Serialize};

use super::config::Role;
use super::totp::Secret;

const MAX_M_COST_KIB: u32 = 256 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 8;
/// Users in one file at most.
pub(crate) const MAX_USERS: usize = 1000;

/// One user as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    /// The login name.
    pub name: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
    /// argon2id PHC string.
    pub password: String,
    /// Base32 TOTP secret.
    pub totp_secret: String,
}

/// The file as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawUsers {
    /// The users.
    #[serde(default)]
    pub users: Vec<RawUser>,
}

/// A validated user.
pub(crate) struct User {
    pub(crate) role: Role,
    pub(crate) hash: PasswordHash,
    pub(crate) secret: Secret,
}

/// The validated users file.
pub struct AdminUsers {
    pub(crate) users: HashMap<String, User>,
}

impl std::fmt::Debug for AdminUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminUsers")
            .field("count", &self.users.len())
            .finish()
    }
}

impl AdminUsers {
    /// The role of `name`, if it is a user.
    pub fn role(&self, name: &str) -> Option<Role> {
        self.users.get(name).map(|u| u.role)
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when the file lists nobody.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// User names: what token names allow.
pub fn valid_user_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}

/// Checks a PHC string is an argon2id v19 hash within the cost caps.
pub(crate) fn parse_phc(phc: &str) -> Result<PasswordHash, String> {
    let hash = PasswordHash::new(phc).map_err(|e| format!("not a PHC hash string: {e}"))?;
    if hash.algorithm != ARGON2ID_IDENT {
        return Err(format!("only argon2id is accepted, not {}", hash.algorithm));
    }
    if hash.version != Some(Version::V0x13.into()) || hash.hash.is_none() {
        return Err("only argon2id v=19 hashes with a salt and output are accepted".into());
    }
    let params = Params::try_from(&hash).map_err(|e| format!("bad argon2 parameters: {e}"))?;
    if params.m_cost() > MAX_M_COST_KIB
        || params.t_cost() > MAX_T_COST
        || params.p_cost() > MAX_P_COST
    {
        return Err(format!(
            "argon2 costs above the caps (m <= {MAX_M_COST_KIB}, t <= {MAX_T_COST}, p <= {MAX_P_COST})"
        ));
    }
    Ok(hash)
}

impl FromFile for AdminUsers {
    const MAX_BYTES: u64 = 1024 * 1024;

    fn parse(file: &Path, text: &str) -> Result<Self, ConfigError> {
        warn_if_readable_by_others(file);
        let mut p = Problems::default();
        let raw: RawUsers = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                p.push("", e.message());
                return p.finish(file, None);
            }
        };
        if raw.users.len() > MAX_USERS {
            p.push("users", format!("at most {MAX_USERS} users"));
        }
        let mut users = HashMap::new();
        for (i, u) in raw.users.iter().enumerate().take(MAX_USERS) {
            let key = |k: &str| format!("users[{i}].{k}");
            if !valid_user_name(&u.name) {
                p.push(key("name"), "1..=64 letters, digits, '-', '_', '.', '@'");
                continue;
            }
            if users.contains_key(&u.name) {
                p.push(key("name"), format!("{:?} is used twice", u.name));
                continue;
            }
            let role = u.role.parse::<Role>().map_err(|e| p.push(key("role"), e));
            // Values are not echoed: they are secrets or hashes of them.
            let hash = parse_phc(&u.password).map_err(|e| p.push(key("password"), e));
            let secret =
                Secret::from_base32(&u.totp_secret).map_err(|e| p.push(key("totp_secret"), e));
            if let (Ok(role), Ok(hash), Ok(secret)) = (role, hash, secret) {
                users.insert(u.name.clone(), User { role, hash, secret });
            }
        }
        p.finish(file, Some(AdminUsers { users }))
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(file: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(file)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            file = %file.display(),
            mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "the admin users file holds TOTP secrets and is readable by group or others; chmod 600 it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_file: &Path) {}

/// The loaded users file of `[admin] users_file`, reloaded by the admin listener when it
/// changes. Compared by path.
#[derive(Clone)]
pub struct UsersFile {
    watched: Arc<Watched<AdminUsers>>,
}

impl UsersFile {
    /// Loads `path` (blocking).
    pub fn load(path: &Path) -> Result<UsersFile, ConfigError> {
        Ok(UsersFile {
            watched: Arc::new(Watched::load(path)?),
        })
    }

    /// The users in force.
    pub fn current(&self) -> Arc<AdminUsers> {
        self.watched.current()
    }

    /// The file.
    pub fn path(&self) -> PathBuf {
        self.watched.path().to_owned()
    }

    /// Reloads the file if it changed (blocking), logging the outcome.
    pub fn reload_if_changed(&self) {
        match self.watched.reload_if_changed() {
            rampart_identity::watch::Reload::Reloaded => {
                tracing::info!(file = %self.watched.path().display(), "admin users file reloaded");
            }
            rampart_identity::watch::Reload::KeepPrevious(e) => {
                tracing::warn!(error = %e, "admin users file not reloaded; keeping the previous one");
            }
            _ => {}
        }
    }
}

impl std::fmt::Debug for UsersFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("UsersFile")
            .field(&self.watched.path())
            .finish()
    }
}

impl PartialEq for UsersFile {
    fn eq(&self, other: &Self) -> bool {
        self.watched.path() == other.watched.path()
    }
}

impl Eq for UsersFile {}

/// The TOML entry for a new user (`rampart admin user add`), appended to a users file.
pub fn user_entry(name: &str, role: Role, phc: &str, secret: &Secret) -> String {
    let raw = RawUsers {
        users: vec![RawUser {
            name: name.to_owned(),
            role: role.as_str().to_owned(),
            password: phc.to_owned(),
            totp_secret: secret.to_base32(),
        }],
    };
    toml::to_string(&raw).unwrap_or_default()
}

/// Adds (or replaces) `name` in the users file text `existing`, keeping the others.
pub fn upsert_user(
    existing: &str,
    name: &str,
    role: Role,
    phc: &str,
    secret: &Secret,
) -> Result<String, String> {
    let mut raw: RawUsers = toml::from_str(existing).map_err(|e| e.message().to_owned())?;
    raw.users.retain(|u| u.name != name);
    raw.users.push(RawUser {
        name: name.to_owned(),
        role: role.as_str().to_owned(),
        password: phc.to_owned(),
        totp_secret: secret.to_base32(),
    });
    toml::to_string(&raw).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$O2bTiJDu+Wy4+1nJzwHU6bsa0Zf6kSC+mNzyhjEFmr8";

    fn parse(text: &str) -> Result<AdminUsers, String> {
        AdminUsers::parse(Path::new("u.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_users_and_reports_each_problem_by_key() {
        let secret = Secret::generate();
        let good = upsert_user("", "alice", Role::Operator, PHC, &secret).unwrap();
        let users = parse(&good).unwrap();
        assert_eq!(users.role("alice"), Some(Role::Operator));
        assert_eq!(users.users["alice"].secret, secret);

        let bad = format!(
            r#"
            [[users]]
            name = "bad name"
            role = "admin"
            password = "{PHC}"
            totp_secret = "{0}"
            [[users]]
            name = "bob"
            role = "root"
            password = "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$O2bTiJDu+Wy4+1nJzwHU6bsa0Zf6kSC+mNzyhjEFmr8"
            totp_secret = "SHORT"
            [[users]]
            name = "carol"
            role = "viewer"
            password = "$argon2id$v=19$m=9999999,t=2,p=1$c2FsdHNhbHRzYWx0$O2bTiJDu+Wy4+1nJzwHU6bsa0Zf6kSC+mNzyhjEFmr8"
            totp_secret = "{0}"
            "#,
            secret.to_base32()
        );
        let e = parse(&bad).unwrap_err();
        for key in [
            "users[0].name",
            "users[1].role",
            "users[1].password",
            "users[1].totp_secret",
            "users[2].password",
        ] {
            assert!(e.contains(key), "{key} in {e}");
        }
        assert!(!e.contains(&secret.to_base32()), "secrets are not echoed");
        assert!(parse("[[users]]\nname = \"a\"\nextra = 1").is_err());
    }

    #[test]
    fn upsert_replaces_one_user_and_keeps_the_others() {
        let a = Secret::generate();
        let b = Secret::generate();
        let text = upsert_user("", "alice", Role::Viewer, PHC, &a).unwrap();
        let text = upsert_user(&text, "bob", Role::Admin, PHC, &b).unwrap();
        let text = upsert_user(&text, "alice", Role::Operator, PHC, &b).unwrap();
        let users = parse(&text).unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!(users.role("alice"), Some(Role::Operator));
        assert_eq!(users.users["alice"].secret, b);
        assert!(user_entry("x", Role::Admin, PHC, &a).contains("[[users]]"));
    }
}

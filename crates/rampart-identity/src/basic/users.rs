//! The users file: htpasswd-like lines of argon2id hashes.
//!
//! ```text
//! # user:PHC string[:roles]     (create hashes with `rampart passwd USER`)
//! alice:$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$5h1H...:admin,reader
//! bob:$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0$Qx9k...
//! ```
//!
//! Only argon2id v19 is accepted, with costs capped so a bad file cannot make every
//! login allocate gigabytes: m <= 256 MiB, t <= 16, p <= 8.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use argon2::password_hash::PasswordHasher as _;
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Params, PasswordHash, Version};
use rampart_core::config::{ConfigError, Problems};
use rand::RngCore as _;

use crate::apikey::file::check_label;
use crate::watch::FromFile;

const MAX_M_COST_KIB: u32 = 256 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 8;
const MAX_LINE_PROBLEMS: usize = 20;

pub(crate) struct User {
    pub(crate) phc: String,
    pub(crate) hash: PasswordHash,
    pub(crate) roles: Vec<String>,
}

/// The loaded users file.
pub struct Users {
    pub(crate) users: HashMap<String, User>,
    /// Checked for unknown users so they cost as much as known ones: same parameters
    /// as the file's first hash.
    pub(crate) dummy: PasswordHash,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Users")
            .field("count", &self.users.len())
            .finish()
    }
}

impl Users {
    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when the file lists nobody.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl FromFile for Users {
    const MAX_BYTES: u64 = 16 * 1024 * 1024;

    fn parse(file: &Path, text: &str) -> Result<Self, ConfigError> {
        let mut p = Problems::default();
        let mut bad = 0usize;
        let mut users = HashMap::new();
        let mut first_params = None;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line) {
                Ok((name, _)) if users.contains_key(&name) => {
                    bad += 1;
                    if bad <= MAX_LINE_PROBLEMS {
                        p.push(
                            format!("line {}", i + 1),
                            format!("duplicate user {name:?}"),
                        );
                    }
                }
                Ok((name, user)) => {
                    first_params.get_or_insert_with(|| Params::try_from(&user.hash));
                    users.insert(name, user);
                }
                Err(message) => {
                    bad += 1;
                    if bad <= MAX_LINE_PROBLEMS {
                        p.push(format!("line {}", i + 1), message);
                    }
                }
            }
        }
        if !p.is_empty() {
            return p.finish(file, None);
        }
        let params = first_params.and_then(Result::ok).unwrap_or_default();
        match dummy_hash(params) {
            Ok(dummy) => p.finish(file, Some(Users { users, dummy })),
            Err(e) => {
                p.push("", format!("cannot compute the timing-equaliser hash: {e}"));
                p.finish(file, None)
            }
        }
    }
}

fn parse_line(line: &str) -> Result<(String, User), String> {
    let mut fields = line.split(':');
    let name = fields.next().unwrap_or("");
    let phc = fields.next().ok_or("expected user:hash")?;
    let roles = fields.next();
    if fields.next().is_some() {
        return Err("expected user:hash or user:hash:roles".into());
    }
    check_label(name).map_err(|m| format!("user name {m}"))?;
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
    let roles = match roles {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|r| check_label(r).map(|()| r.to_owned()))
            .collect::<Result<_, _>>()
            .map_err(|m| format!("role {m}"))?,
    };
    let user = User {
        phc: phc.to_owned(),
        hash,
        roles,
    };
    Ok((name.to_owned(), user))
}

fn dummy_hash(params: Params) -> Result<PasswordHash, argon2::password_hash::Error> {
    let mut random = [0u8; 32];
    rand::rng().fill_bytes(&mut random);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params).hash_password(&random)
}

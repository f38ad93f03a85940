//! HTTP Basic authentication against an argon2id users file.
//!
//! [`BasicAuth::authenticate`] runs the whole sequence, in this order:
//! 1. a locked client address is refused;
//! 2. a cached recent success for the same user, password and stored hash passes (so a
//!    legitimate client keeps working while someone else hammers its user name);
//! 3. a locked user is refused;
//! 4. argon2id verification — against a dummy hash for unknown users, so they cost the
//!    same and timing does not reveal which names exist;
//! 5. the outcome is counted in the [`Lockout`] and, on success, cached.
//!
//! Argon2 is CPU-heavy (OWASP parameters: ~130 ms measured on the shared 2-core build
//! machine): the edge must call `authenticate` on its blocking pool. Concurrent runs are
//! capped; over the cap the attempt is refused as [`BasicRejection::Busy`] (503).

mod cache;
mod header;
#[cfg(test)]
mod tests;
mod users;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use rampart_core::check::Denial;
use rampart_core::problem::Reason;

use crate::digest::sha256_parts;
use crate::lockout::{Locked, Lockout, LockoutConfig};
use crate::watch::{Reload, Watched};
use crate::{CHECK_ID, Method, Principal};

pub use cache::CacheConfig;
pub use header::{Credentials, MAX_PASSWORD_BYTES, MAX_USER_BYTES, parse_authorization};
pub use users::Users;

/// Why a Basic attempt was refused. The client always gets the same generic 401; the
/// variant goes to the audit log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BasicRejection {
    /// The `Authorization` value is of another scheme.
    #[error("not the Basic scheme")]
    NotBasic,
    /// The Basic credentials are malformed.
    #[error("malformed Basic credentials: {why}")]
    Malformed {
        /// What was wrong, for the audit log.
        why: &'static str,
    },
    /// No such user.
    #[error("unknown user")]
    UnknownUser,
    /// The password does not match.
    #[error("wrong password")]
    WrongPassword,
    /// The user or the address is locked after repeated failures; nothing was hashed.
    #[error("locked out")]
    LockedOut(Locked),
    /// Too many password checks are running; nothing was hashed. Not counted as a failure.
    #[error("too many password checks in progress")]
    Busy,
}

impl BasicRejection {
    /// Stable code for the audit log.
    pub fn code(&self) -> &'static str {
        match self {
            BasicRejection::NotBasic => "not-basic",
            BasicRejection::Malformed { .. } => "basic-malformed",
            BasicRejection::UnknownUser => "unknown-user",
            BasicRejection::WrongPassword => "wrong-password",
            BasicRejection::LockedOut(_) => "locked-out",
            BasicRejection::Busy => "basic-busy",
        }
    }

    /// The denial to record: 401 with the code as rule (503 when busy: the caller did
    /// nothing wrong).
    pub fn denial(&self) -> Denial {
        let reason = match self {
            BasicRejection::Busy => Reason::Overloaded,
            _ => Reason::Unauthenticated,
        };
        Denial::new(CHECK_ID, reason)
            .with_rule(self.code())
            .with_location("authorization")
    }
}

/// Basic authentication: the users file, the lockout counters and the success cache.
#[derive(Debug)]
pub struct BasicAuth {
    users: Watched<Users>,
    lockout: Lockout,
    cache: cache::SuccessCache,
    hashing: AtomicUsize,
    max_hashing: usize,
}

/// A claim on one of the concurrent argon2 runs, released on drop.
struct HashSlot<'a>(&'a AtomicUsize);

impl<'a> HashSlot<'a> {
    fn take(count: &'a AtomicUsize, max: usize) -> Option<Self> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(count))
    }
}

impl Drop for HashSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl BasicAuth {
    /// Basic authentication over a loaded users file. At most one argon2 run per CPU
    /// at a time (see [`Self::with_max_concurrent`]).
    pub fn new(users: Watched<Users>, lockout: LockoutConfig, cache: CacheConfig) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            users,
            lockout: Lockout::new(lockout),
            cache: cache::SuccessCache::new(cache),
            hashing: AtomicUsize::new(0),
            max_hashing: cpus,
        }
    }

    /// Caps concurrent argon2 runs (at least 1): a flood of wrong passwords from many
    /// addresses is refused as [`BasicRejection::Busy`] instead of queueing CPU work.
    pub fn with_max_concurrent(mut self, max: usize) -> Self {
        self.max_hashing = max.max(1);
        self
    }

    /// Checks `creds` from `ip` at `now` (blocking: may run argon2).
    pub fn authenticate(
        &self,
        creds: &Credentials,
        ip: IpAddr,
        now: Instant,
    ) -> Result<Principal, BasicRejection> {
        self.lockout
            .check_address(ip, now)
            .map_err(BasicRejection::LockedOut)?;
        let users = self.users.current();
        let user = users.users.get(creds.user());
        let cache_key = user.map(|u| {
            sha256_parts(&[
                u.phc.as_bytes(),
                &[0],
                creds.user().as_bytes(),
                &[0],
                creds.password().as_bytes(),
            ])
        });
        if let (Some(u), Some(key)) = (user, &cache_key)
            && self.cache.hit(key, now)
        {
            return Ok(principal(creds.user(), &u.roles));
        }
        self.lockout
            .check_user(creds.user(), now)
            .map_err(BasicRejection::LockedOut)?;
        let slot = HashSlot::take(&self.hashing, self.max_hashing).ok_or(BasicRejection::Busy)?;
        let hash = user.map_or(&users.dummy, |u| &u.hash);
        let matches = Argon2::default()
            .verify_password(creds.password().as_bytes(), hash)
            .is_ok();
        drop(slot);
        match (user, cache_key) {
            (Some(u), Some(key)) if matches => {
                self.lockout.record_success(creds.user());
                self.cache.insert(key, now);
                Ok(principal(creds.user(), &u.roles))
            }
            (known, _) => {
                self.lockout.record_failure(Some(creds.user()), ip, now);
                Err(if known.is_some() {
                    BasicRejection::WrongPassword
                } else {
                    BasicRejection::UnknownUser
                })
            }
        }
    }

    /// Reloads the users file if it changed (blocking). The cache needs no flush: its
    /// keys include the stored hash.
    pub fn reload_if_changed(&self) -> Reload {
        self.users.reload_if_changed()
    }

    /// The users file.
    pub fn users_path(&self) -> &std::path::Path {
        self.users.path()
    }

    /// The lockout counters, for metrics.
    pub fn lockout(&self) -> &Lockout {
        &self.lockout
    }

    /// Entries in the success cache, for metrics.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}

fn principal(user: &str, roles: &[String]) -> Principal {
    Principal {
        roles: roles.to_vec(),
        ..Principal::new(user, Method::Basic)
    }
}

/// Argon2 parameters for new hashes: OWASP's recommended argon2id minimum
/// (m = 19 MiB, t = 2, p = 1), which is also the argon2 crate's default.
pub const OWASP_M_COST_KIB: u32 = 19 * 1024;
/// See [`OWASP_M_COST_KIB`].
pub const OWASP_T_COST: u32 = 2;
/// See [`OWASP_M_COST_KIB`].
pub const OWASP_P_COST: u32 = 1;

/// A password could not be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot hash password: {0}")]
pub struct HashError(String);

/// Hashes `password` for the users file (`rampart passwd USER`): argon2id v19 with the
/// OWASP parameters and a random 16-byte salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let params = Params::new(OWASP_M_COST_KIB, OWASP_T_COST, OWASP_P_COST, None)
        .map_err(|e| HashError(e.to_string()))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// A lock's remaining time, rounded up to whole seconds (for a `Retry-After`, should the
/// edge ever send one).
pub fn retry_after_secs(locked: &Locked) -> u32 {
    let d = locked.retry_after + Duration::from_nanos(999_999_999);
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

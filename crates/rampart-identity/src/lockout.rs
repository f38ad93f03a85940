//! Exponential backoff after repeated authentication failures, per user and per client IP.
//!
//! After `threshold` failures, each closer than `window` to the previous one (or to the
//! end of the last lock), the key is locked for `base`, doubling with every further
//! failure up to `max`. A success resets the user's counter but not the IP's: one valid
//! account must not let an address keep guessing others. Locked attempts are refused
//! before any password hashing. The client sees the generic 401 (a distinct 429 would
//! tell an attacker which guesses were never tried); [`Locked`] carries `retry_after`
//! for the audit log, and for an edge that decides otherwise.
//!
//! Memory is bounded: each table holds at most `capacity` keys; when full, entries whose
//! quiet period has passed go first, then the least recently failed. The scan is O(n),
//! but it only runs after a failed password check, whose argon2 run costs far more. A
//! flood of usernames from one address locks that address after `ip_threshold` tries, so
//! it cannot churn the user table on its own.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Lockout tuning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutConfig {
    /// Failures of one user before it is locked.
    pub threshold: u32,
    /// Failures of one client address before it is locked (higher: NATs share addresses).
    pub ip_threshold: u32,
    /// Quiet time after which a key's failures are forgotten.
    pub window: Duration,
    /// First lock duration.
    pub base: Duration,
    /// Longest lock.
    pub max: Duration,
    /// Most users, and most addresses, tracked at once.
    pub capacity: usize,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        Self {
            threshold: 5,
            ip_threshold: 20,
            window: Duration::from_secs(600),
            base: Duration::from_secs(1),
            max: Duration::from_secs(900),
            capacity: 10_000,
        }
    }
}

/// Which counter locked the attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockedBy {
    /// The user's.
    User,
    /// The client address's.
    Address,
}

/// An attempt refused because its user or address is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    /// Time until the lock ends.
    pub retry_after: Duration,
    /// Which counter.
    pub by: LockedBy,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

impl Entry {
    /// When the entry's quiet period started: the last failure or the end of its lock.
    fn quiet_since(&self) -> Instant {
        self.locked_until
            .map_or(self.last_failure, |t| t.max(self.last_failure))
    }
}

#[derive(Debug)]
struct Table<K> {
    map: HashMap<K, Entry>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn locked<Q>(&self, key: &Q, now: Instant) -> Option<Duration>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let until = self.map.get(key)?.locked_until?;
        (until > now).then(|| until - now)
    }

    fn fail(&mut self, key: &K, threshold: u32, cfg: &LockoutConfig, now: Instant) {
        if !self.map.contains_key(key) && self.map.len() >= cfg.capacity {
            self.make_room(cfg, now);
        }
        if cfg.capacity == 0 {
            return;
        }
        let entry = self.map.entry(key.clone()).or_insert(Entry {
            failures: 0,
            last_failure: now,
            locked_until: None,
        });
        if now.saturating_duration_since(entry.quiet_since()) > cfg.window {
            *entry = Entry {
                failures: 0,
                last_failure: now,
                locked_until: None,
            };
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        if entry.failures >= threshold {
            let doublings = entry.failures - threshold;
            let lock = cfg
                .base
                .checked_mul(2u32.saturating_pow(doublings.min(31)))
                .unwrap_or(cfg.max)
                .min(cfg.max);
            entry.locked_until = Some(now + lock);
        }
    }

    fn make_room(&mut self, cfg: &LockoutConfig, now: Instant) {
        self.map
            .retain(|_, e| now.saturating_duration_since(e.quiet_since()) <= cfg.window);
        while self.map.len() >= cfg.capacity {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, e)| e.last_failure)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.map.remove(&k),
                None => break,
            };
        }
    }
}

/// Failure counters for users and client addresses. Shared by all connections.
#[derive(Debug)]
pub struct Lockout {
    cfg: LockoutConfig,
    users: Mutex<Table<String>>,
    ips: Mutex<Table<IpAddr>>,
}

impl Lockout {
    /// Empty counters.
    pub fn new(cfg: LockoutConfig) -> Self {
        Self {
            cfg,
            users: Mutex::new(Table {
                map: HashMap::new(),
            }),
            ips: Mutex::new(Table {
                map: HashMap::new(),
            }),
        }
    }

    /// Refuses an attempt from a locked address.
    pub fn check_address(&self, ip: IpAddr, now: Instant) -> Result<(), Locked> {
        let ips = self.ips.lock().unwrap_or_else(PoisonError::into_inner);
        match ips.locked(&ip.to_canonical(), now) {
            Some(retry_after) => Err(Locked {
                retry_after,
                by: LockedBy::Address,
            }),
            None => Ok(()),
        }
    }

    /// Refuses an attempt for a locked user.
    pub fn check_user(&self, user: &str, now: Instant) -> Result<(), Locked> {
        let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        match users.locked(user, now) {
            Some(retry_after) => Err(Locked {
                retry_after,
                by: LockedBy::User,
            }),
            None => Ok(()),
        }
    }

    /// Both checks: the address first, then the user.
    pub fn check(&self, user: Option<&str>, ip: IpAddr, now: Instant) -> Result<(), Locked> {
        self.check_address(ip, now)?;
        user.map_or(Ok(()), |u| self.check_user(u, now))
    }

    /// Counts a failed attempt against the address and, when known, the user.
    pub fn record_failure(&self, user: Option<&str>, ip: IpAddr, now: Instant) {
        if let Some(user) = user {
            let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
            users.fail(&user.to_owned(), self.cfg.threshold, &self.cfg, now);
        }
        let mut ips = self.ips.lock().unwrap_or_else(PoisonError::into_inner);
        ips.fail(&ip.to_canonical(), self.cfg.ip_threshold, &self.cfg, now);
    }

    /// Forgets the user's failures after a successful attempt.
    pub fn record_success(&self, user: &str) {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users.map.remove(user);
    }

    /// Users and addresses currently tracked, for metrics and tests.
    pub fn tracked(&self) -> (usize, usize) {
        let users = self
            .users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .len();
        let ips = self
            .ips
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .len();
        (users, ips)
    }
}

#[cfg(test)]
#[path = "lockout_tests.rs"]
mod tests;

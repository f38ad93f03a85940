//! A small bounded cache of recent successful Basic logins, so keep-alive clients that
//! send the same credentials on every request do not pay argon2 each time.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Cache tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long a success is remembered.
    pub ttl: Duration,
    /// Most entries; 0 disables the cache.
    pub capacity: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(60),
            capacity: 10_000,
        }
    }
}

/// Keys are SHA-256 digests of the stored hash, user and password: a changed password or
/// a reloaded file misses, and the cache never holds a password.
#[derive(Debug)]
pub(crate) struct SuccessCache {
    cfg: CacheConfig,
    map: Mutex<HashMap<[u8; 32], Instant>>,
}

impl SuccessCache {
    pub(crate) fn new(cfg: CacheConfig) -> Self {
        Self {
            cfg,
            map: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn hit(&self, key: &[u8; 32], now: Instant) -> bool {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get(key) {
            Some(&expires) if now < expires => true,
            Some(_) => {
                map.remove(key);
                false
            }
            None => false,
        }
    }

    /// Remembers a success. When full, expired entries go first, then the oldest; the
    /// O(n) scan follows an argon2 run, which costs far more.
    pub(crate) fn insert(&self, key: [u8; 32], now: Instant) {
        if self.cfg.capacity == 0 {
            return;
        }
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if !map.contains_key(&key) && map.len() >= self.cfg.capacity {
            map.retain(|_, &mut expires| now < expires);
            while map.len() >= self.cfg.capacity {
                let oldest = map.iter().min_by_key(|(_, e)| **e).map(|(k, _)| *k);
                match oldest {
                    Some(k) => map.remove(&k),
                    None => break,
                };
            }
        }
        map.insert(key, now + self.cfg.ttl);
    }

    pub(crate) fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

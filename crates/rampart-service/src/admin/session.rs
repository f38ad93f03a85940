//! Browser sessions of the admin listener: a random 256-bit id in the `rampart_session`
//! cookie, a CSRF token per session, an idle and an absolute lifetime, a bounded table.
//!
//! The table is keyed by the SHA-256 of the id, so a memory dump holds no usable cookie
//! and a lookup's timing says nothing about stored ids. A session names its owner (an
//! admin token or a user of the users file); each lookup re-checks that the owner still
//! exists, with its current role, so removing a token or a user ends its sessions.
//!
//! The cookie is `HttpOnly; SameSite=Strict; Path=/` and `Secure`, except on a plain-HTTP
//! listener whose config sets `insecure_cookies = true` (development and tests only: a
//! browser over plain HTTP to a host other than localhost drops `Secure` cookies).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::config::token_hash;

/// The cookie carrying an admin session.
pub const SESSION_COOKIE: &str = "rampart_session";
/// The header a cookie-authenticated state-changing call carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Sessions kept at most; when full the one closest to its end goes.
const MAX_SESSIONS: usize = 256;

/// Who opened a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    /// Signed in with the admin token of this name.
    Token(String),
    /// Signed in as this user of the users file (password and TOTP).
    User(String),
}

struct Session {
    owner: Owner,
    csrf: [u8; 32],
    created: Instant,
    last_seen: Instant,
}

/// A session just opened: the cookie value and the CSRF token, both shown once.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) id: String,
    pub(crate) csrf: String,
}

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lifetime {
    /// Since the last request.
    pub(crate) idle: Duration,
    /// Since sign-in, whatever the activity.
    pub(crate) absolute: Duration,
}

/// The session table.
#[derive(Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions(..)")
    }
}

fn encode(bytes: &[u8; 32]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn live(s: &Session, life: Lifetime, now: Instant) -> bool {
    now < s.created + life.absolute && now < s.last_seen + life.idle
}

impl Sessions {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a session for `owner`.
    pub(crate) fn open(&self, owner: Owner, life: Lifetime, now: Instant) -> Opened {
        let id: [u8; 32] = rand::random();
        let csrf: [u8; 32] = rand::random();
        let opened = Opened {
            id: encode(&id),
            csrf: encode(&csrf),
        };
        let mut map = self.map();
        map.retain(|_, s| live(s, life, now));
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| (s.last_seen + life.idle).min(s.created + life.absolute))
                .map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(
            token_hash(&opened.id),
            Session {
                owner,
                csrf,
                created: now,
                last_seen: now,
            },
        );
        opened
    }

    /// The owner of a live session, marking it used now.
    pub(crate) fn touch(&self, id: &str, life: Lifetime, now: Instant) -> Option<Owner> {
        let key = token_hash(id);
        let mut map = self.map();
        let session = map.get_mut(&key)?;
        if !live(session, life, now) {
            map.remove(&key);
            return None;
        }
        session.last_seen = now;
        Some(session.owner.clone())
    }

    /// Whether `presented` is the CSRF token of session `id` (constant time).
    pub(crate) fn csrf_matches(&self, id: &str, presented: &str) -> bool {
        let map = self.map();
        let Some(session) = map.get(&token_hash(id)) else {
            return false;
        };
        let expected = encode(&session.csrf);
        expected.len() == presented.len()
            && expected
                .bytes()
                .zip(presented.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// The CSRF token of a session, for a page that lost it (`GET /admin/session`).
    pub(crate) fn csrf(&self, id: &str) -> Option<String> {
        self.map().get(&token_hash(id)).map(|s| encode(&s.csrf))
    }

    /// Ends a session; returns its owner when it existed.
    pub(crate) fn remove(&self, id: &str) -> Option<Owner> {
        self.map().remove(&token_hash(id)).map(|s| s.owner)
    }

    /// Sessions held, for tests.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }
}

/// The `Set-Cookie` value opening a session. `secure` adds `Secure`.
pub(crate) fn set_cookie(id: &str, life: Lifetime, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        life.absolute.as_secs()
    )
}

/// The `Set-Cookie` value ending a session.
pub(crate) fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const LIFE: Lifetime = Lifetime {
        idle: Duration::from_secs(900),
        absolute: Duration::from_secs(8 * 3600),
    };

    #[test]
    fn sessions_end_after_idle_time_or_absolute_time() {
        let sessions = Sessions::default();
        let t0 = Instant::now();
        let owner = Owner::User("alice".into());
        let a = sessions.open(owner.clone(), LIFE, t0);
        assert_eq!(sessions.touch(&a.id, LIFE, t0), Some(owner.clone()));
        // Active every 10 minutes: alive until the absolute end.
        let mut t = t0;
        while t + Duration::from_secs(600) < t0 + LIFE.absolute {
            t += Duration::from_secs(600);
            assert_eq!(sessions.touch(&a.id, LIFE, t), Some(owner.clone()));
        }
        assert_eq!(sessions.touch(&a.id, LIFE, t0 + LIFE.absolute), None);
        // Quiet for the idle time: gone.
        let b = sessions.open(owner, LIFE, t0);
        assert_eq!(sessions.touch(&b.id, LIFE, t0 + LIFE.idle), None);
        assert_eq!(sessions.touch("not-a-session", LIFE, t0), None);
    }

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let a = sessions.open(Owner::Token("ops".into()), LIFE, now);
        let b = sessions.open(Owner::Token("ops".into()), LIFE, now);
        assert_ne!(a.id, b.id);
        assert_eq!(a.id.len(), 43, "256 bits");
        assert!(sessions.csrf_matches(&a.id, &a.csrf));
        assert!(!sessions.csrf_matches(&a.id, &b.csrf));
        assert!(!sessions.csrf_matches(&a.id, ""));
        assert!(!sessions.csrf_matches(&a.id, &a.csrf[..42]));
        assert!(
            !sessions.csrf_matches(&a.csrf, &a.csrf),
            "ids and tokens differ"
        );
        assert_eq!(sessions.csrf(&a.id).as_deref(), Some(a.csrf.as_str()));
        assert_eq!(sessions.remove(&a.id), Some(Owner::Token("ops".into())));
        assert!(!sessions.csrf_matches(&a.id, &a.csrf));
    }

    #[test]
    fn the_table_is_bounded() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let first = sessions.open(Owner::User("u".into()), LIFE, now);
        for i in 0..MAX_SESSIONS + 10 {
            sessions.open(
                Owner::User("u".into()),
                LIFE,
                now + Duration::from_millis(i as u64 + 1),
            );
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert_eq!(sessions.touch(&first.id, LIFE, now), None, "oldest went");
    }

    #[test]
    fn cookies_carry_their_attributes() {
        let set = set_cookie("abc", LIFE, true);
        for part in [
            "rampart_session=abc",
            "Path=/",
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Max-Age=28800",
        ] {
            assert!(set.split("; ").any(|p| p == part), "{part} in {set}");
        }
        assert!(!set_cookie("abc", LIFE, false).contains("Secure"));
        assert!(clear_cookie(true).contains("Max-Age=0"));
    }
}

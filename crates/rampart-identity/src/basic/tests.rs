#![allow(clippy::unwrap_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rampart_core::config::ConfigError;

use super::*;
use crate::watch::FromFile;

const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

/// Cheap parameters keep the suite fast; production hashes come from `hash_password`.
fn quick_hash(password: &str) -> String {
    let params = Params::new(1024, 1, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .unwrap()
        .to_string()
}

fn users_file(dir: &Path) -> PathBuf {
    let path = dir.join("users.htpasswd");
    let text = format!(
        "# test users\n\nalice:{}:admin,reader\nbob:{}\n",
        quick_hash("correct horse"),
        quick_hash("hunter2")
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn auth(dir: &Path, lockout: LockoutConfig) -> BasicAuth {
    let users = Watched::<Users>::load(&users_file(dir)).unwrap();
    BasicAuth::new(users, lockout, CacheConfig::default())
}

#[test]
fn authenticates_good_passwords_and_refuses_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let basic = auth(dir.path(), LockoutConfig::default());
    let now = Instant::now();
    let cases = [
        ("alice", "correct horse", Ok("alice")),
        ("bob", "hunter2", Ok("bob")),
        (
            "alice",
            "correct horse ",
            Err(BasicRejection::WrongPassword),
        ),
        ("alice", "hunter2", Err(BasicRejection::WrongPassword)),
        ("Alice", "correct horse", Err(BasicRejection::UnknownUser)),
        ("carol", "hunter2", Err(BasicRejection::UnknownUser)),
    ];
    for (user, password, want) in cases {
        let got = basic.authenticate(&Credentials::new(user, password), IP, now);
        assert_eq!(
            got.map(|p| p.subject),
            want.map(str::to_owned),
            "{user}:{password}"
        );
    }
    let p = basic
        .authenticate(&Credentials::new("alice", "correct horse"), IP, now)
        .unwrap();
    assert_eq!(
        (p.method, p.roles.as_slice()),
        (
            Method::Basic,
            &["admin".to_owned(), "reader".to_owned()][..]
        )
    );
}

#[test]
fn unknown_users_cost_about_as_much_as_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let lenient = LockoutConfig {
        threshold: 1000,
        ip_threshold: 1000,
        ..LockoutConfig::default()
    };
    let basic = auth(dir.path(), lenient);
    let users = basic.users.current();
    let params = |h: &argon2::PasswordHash| Params::try_from(h).unwrap();
    assert_eq!(
        params(&users.dummy),
        params(&users.users["alice"].hash),
        "same work"
    );
    // Skipping argon2 for unknown users would make them ~1000x cheaper; the band is
    // wide because other tests and processes share the CPU. Interleaved runs see the
    // same noise, and the minimum of several resists it.
    let (mut known, mut unknown) = (Duration::MAX, Duration::MAX);
    for _ in 0..7 {
        for (user, best) in [("alice", &mut known), ("nobody", &mut unknown)] {
            let start = Instant::now();
            let r = basic.authenticate(&Credentials::new(user, "wrong"), IP, Instant::now());
            assert!(r.is_err());
            *best = (*best).min(start.elapsed());
        }
    }
    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    assert!(
        (0.2..5.0).contains(&ratio),
        "known {known:?}, unknown {unknown:?}"
    );
}

#[test]
fn caches_successes_until_ttl_and_locked_users_keep_working_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let long_locks = LockoutConfig {
        threshold: 2,
        base: Duration::from_secs(120),
        ..LockoutConfig::default()
    };
    let basic = auth(dir.path(), long_locks);
    let good = Credentials::new("alice", "correct horse");
    let t0 = Instant::now();
    basic.authenticate(&good, IP, t0).unwrap();
    assert_eq!(basic.cached(), 1);
    let other = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
    for _ in 0..2 {
        let bad = basic.authenticate(&Credentials::new("alice", "guess"), other, t0);
        assert_eq!(bad, Err(BasicRejection::WrongPassword));
    }
    let locked = basic.authenticate(&Credentials::new("alice", "guess"), other, t0);
    assert!(
        matches!(locked, Err(BasicRejection::LockedOut(_))),
        "{locked:?}"
    );
    assert!(
        basic
            .authenticate(&good, IP, t0 + Duration::from_secs(59))
            .is_ok(),
        "cache hit"
    );
    let expired = basic.authenticate(&good, IP, t0 + Duration::from_secs(60));
    assert!(
        matches!(expired, Err(BasicRejection::LockedOut(_))),
        "cache expired: {expired:?}"
    );
}

#[test]
fn reload_with_a_new_password_invalidates_cached_successes() {
    let dir = tempfile::tempdir().unwrap();
    let basic = auth(dir.path(), LockoutConfig::default());
    let old = Credentials::new("bob", "hunter2");
    let now = Instant::now();
    basic.authenticate(&old, IP, now).unwrap();
    let path = dir.path().join("users.htpasswd");
    std::fs::write(
        &path,
        format!("bob:{}\n", quick_hash("new password, longer")),
    )
    .unwrap();
    assert!(matches!(basic.reload_if_changed(), Reload::Reloaded));
    assert_eq!(
        basic.authenticate(&old, IP, now),
        Err(BasicRejection::WrongPassword)
    );
    assert_eq!(
        basic.authenticate(&Credentials::new("alice", "correct horse"), IP, now),
        Err(BasicRejection::UnknownUser),
        "removed user"
    );
}

fn load_problems(text: &str) -> Vec<String> {
    match Users::parse(Path::new("users.htpasswd"), text) {
        Err(ConfigError::Invalid { problems, .. }) => {
            problems.iter().map(ToString::to_string).collect()
        }
        other => panic!("accepted: {other:?}"),
    }
}

#[test]
fn refuses_files_with_anything_but_argon2id_naming_the_line() {
    let good = quick_hash("x");
    let argon2i = good.replace("$argon2id$", "$argon2i$");
    let huge = good.replace("m=1024", "m=4194304");
    let cases = [
        (
            format!("# ok\nalice:{good}\nbob:$2y$10$abcdefghijklmnopqrstuv\n"),
            "line 3: not a PHC",
        ),
        (format!("alice:{argon2i}\n"), "line 1: only argon2id"),
        (
            format!("alice:{}\n", good.replace("v=19", "v=16")),
            "line 1: ",
        ),
        (
            "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n".to_owned(),
            "line 1: not a PHC",
        ),
        ("alice\n".to_owned(), "line 1: expected user:hash"),
        (
            format!("alice:{huge}\n"),
            "line 1: argon2 costs above the caps",
        ),
        (
            format!("alice:{good}\nalice:{good}\n"),
            "line 2: duplicate user",
        ),
        (format!("al ice:{good}\n"), "line 1: user name"),
        (format!("alice:{good}:adm\"in\n"), "line 1: role"),
        (
            format!("alice:{good}:a:b\n"),
            "line 1: expected user:hash or",
        ),
    ];
    for (text, want) in cases {
        let found = load_problems(&text);
        assert!(
            found.iter().any(|p| p.starts_with(want)),
            "want {want:?} in {found:?}"
        );
    }
    let users = Users::parse(Path::new("u"), &format!("\n# c\n  alice:{good}  \n")).unwrap();
    assert_eq!(users.len(), 1);
}

#[test]
fn hash_password_produces_owasp_argon2id_that_verifies() {
    let phc = hash_password("s3cret").unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    let users = Users::parse(Path::new("u"), &format!("alice:{phc}\n")).unwrap();
    let hash = &users.users["alice"].hash;
    assert!(Argon2::default().verify_password(b"s3cret", hash).is_ok());
    assert!(Argon2::default().verify_password(b"s3cret!", hash).is_err());
    assert_ne!(hash_password("s3cret").unwrap(), phc, "salted");
}

#[test]
fn denials_are_generic_401s_with_the_reason_as_rule() {
    for r in [BasicRejection::UnknownUser, BasicRejection::WrongPassword] {
        let d = r.denial();
        assert_eq!(d.reason, rampart_core::problem::Reason::Unauthenticated);
        assert_eq!(d.rule.as_deref(), Some(r.code()));
    }
    let locked = Locked {
        retry_after: Duration::from_millis(1500),
        by: crate::lockout::LockedBy::User,
    };
    assert_eq!(retry_after_secs(&locked), 2);
}

#[test]
fn refuses_rather_than_queues_when_every_hashing_slot_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let basic = auth(dir.path(), LockoutConfig::default()).with_max_concurrent(1);
    let good = Credentials::new("alice", "correct horse");
    let now = Instant::now();
    let held = HashSlot::take(&basic.hashing, basic.max_hashing).unwrap();
    assert_eq!(
        basic.authenticate(&good, IP, now),
        Err(BasicRejection::Busy)
    );
    assert_eq!(basic.lockout().tracked(), (0, 0), "busy is not a failure");
    assert_eq!(
        BasicRejection::Busy.denial().reason,
        rampart_core::problem::Reason::Overloaded
    );
    drop(held);
    assert!(basic.authenticate(&good, IP, now).is_ok());
    assert!(
        basic.authenticate(&good, IP, now).is_ok(),
        "cache hits need no slot"
    );
    assert_eq!(basic.hashing.load(Ordering::Acquire), 0, "slots released");
}

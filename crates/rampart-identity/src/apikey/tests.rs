#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rampart_core::config::ConfigError;

use super::*;
use crate::watch::FromFile;

fn at(unix: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}

/// 2027-06-01T00:00:00Z
const JUNE_2027: u64 = 1_811_808_000;

struct Fixture {
    keys: ApiKeys,
    a1: String,
    a2: String,
    b: String,
    old: String,
    off: String,
}

fn fixture() -> Fixture {
    let [a1, a2, b, old, off] = [0; 5].map(|_| new_key("x"));
    let text = format!(
        r#"
[[consumer]]
name = "partner-a"
roles = ["reader"]
scopes = ["orders:read"]
plan = "gold"
[[consumer.keys]]
hash = "{}"
[[consumer.keys]]
hash = "{}"

[[consumer]]
name = "partner-b"
enabled = true
[[consumer.keys]]
hash = "{}"
[[consumer.keys]]
hash = "{}"
expires = "2027-06-01T00:00:00Z"

[[consumer]]
name = "gone"
enabled = false
[[consumer.keys]]
hash = "{}"
"#,
        a1.hash, a2.hash, b.hash, old.hash, off.hash
    );
    let keys = ApiKeys::parse(Path::new("consumers.toml"), &text).unwrap();
    Fixture {
        keys,
        a1: a1.key,
        a2: a2.key,
        b: b.key,
        old: old.key,
        off: off.key,
    }
}

#[test]
fn looks_up_keys_and_refuses_each_kind_of_bad_key() {
    let f = fixture();
    let now = at(JUNE_2027 - 1);
    let flipped = {
        let mut k = f.a1.clone().into_bytes();
        k[10] = if k[10] == b'A' { b'B' } else { b'A' };
        k
    };
    let cases: Vec<(&str, Vec<u8>, SystemTime, Result<&str, KeyRejection>)> = vec![
        ("valid key", f.a1.clone().into(), now, Ok("partner-a")),
        (
            "rotated second key",
            f.a2.clone().into(),
            now,
            Ok("partner-a"),
        ),
        (
            "other consumer's key",
            f.b.clone().into(),
            now,
            Ok("partner-b"),
        ),
        (
            "one character changed",
            flipped,
            now,
            Err(KeyRejection::UnknownKey),
        ),
        (
            "unexpired key a second before",
            f.old.clone().into(),
            now,
            Ok("partner-b"),
        ),
        (
            "expired key at its expiry",
            f.old.clone().into(),
            at(JUNE_2027),
            Err(KeyRejection::Expired {
                consumer: "partner-b".into(),
            }),
        ),
        (
            "disabled consumer",
            f.off.clone().into(),
            now,
            Err(KeyRejection::Disabled {
                consumer: "gone".into(),
            }),
        ),
        (
            "wrong prefix",
            f.a1.replacen("rk_", "pk_", 1).into(),
            now,
            Err(KeyRejection::Malformed),
        ),
        (
            "missing character",
            f.a1[..45].into(),
            now,
            Err(KeyRejection::Malformed),
        ),
        (
            "padding",
            format!("{}=", &f.a1[..45]).into(),
            now,
            Err(KeyRejection::Malformed),
        ),
        (
            "standard base64 alphabet",
            format!("rk_{}", "+".repeat(43)).into(),
            now,
            Err(KeyRejection::Malformed),
        ),
        ("too long", vec![b'a'; 257], now, Err(KeyRejection::TooLong)),
        ("empty", Vec::new(), now, Err(KeyRejection::Malformed)),
    ];
    for (name, key, now, want) in cases {
        let got = f.keys.lookup(&key, now).map(|p| p.subject);
        assert_eq!(got, want.map(str::to_owned), "{name}");
    }
}

#[test]
fn principal_carries_the_consumer_grants() {
    let f = fixture();
    let p = f.keys.lookup(f.a1.as_bytes(), at(0)).unwrap();
    assert_eq!(p.method, Method::ApiKey);
    assert_eq!(p.consumer.as_deref(), Some("partner-a"));
    assert_eq!(p.roles, ["reader"]);
    assert_eq!(p.scopes, ["orders:read"]);
    assert_eq!(p.plan.as_deref(), Some("gold"));
    assert_eq!(f.keys.key_count(), 5);
    let d = KeyRejection::Expired {
        consumer: "x".into(),
    }
    .denial();
    assert_eq!(d.reason, rampart_core::problem::Reason::Unauthenticated);
    assert_eq!(d.rule.as_deref(), Some("api-key-expired"));
}

#[test]
fn new_keys_are_well_formed_unique_and_match_their_snippet() {
    let a = new_key("partner-a");
    let b = new_key("partner-a");
    assert_ne!(a.key, b.key);
    assert_eq!(a.key.len(), KEY_LEN);
    assert!(well_formed(a.key.as_bytes()));
    assert!(!format!("{a:?}").contains(&a.key), "Debug hides the key");
    assert!(
        !a.file_snippet.contains(&a.key),
        "the snippet holds the hash only"
    );
    let keys = ApiKeys::parse(Path::new("c"), &a.file_snippet).unwrap();
    let p = keys.lookup(a.key.as_bytes(), SystemTime::now()).unwrap();
    assert_eq!(p.subject, "partner-a");
}

fn problems(text: &str) -> Vec<String> {
    match ApiKeys::parse(Path::new("consumers.toml"), text) {
        Err(ConfigError::Invalid { problems, .. }) => {
            problems.iter().map(ToString::to_string).collect()
        }
        other => panic!("accepted: {other:?}"),
    }
}

#[test]
fn reports_file_problems_with_key_paths() {
    let h = format!("sha256:{}", "ab".repeat(32));
    let cases = [
        (
            "[[consumer]]\nname = \"a\"\ncolour = 1\n",
            "consumer[0].colour: unknown field `colour`",
        ),
        (
            "[[consumer]]\nname = \"a\"\n[[consumer]]\nname = \"b\"\n[[consumer.keys]]\nhash = \"md5:1\"\n",
            "consumer[1].keys[0].hash: expected \"sha256:\"",
        ),
        (
            &format!(
                "[[consumer]]\nname = \"a\"\n[[consumer.keys]]\nhash = \"{h}\"\nexpires = \"tomorrow\"\n"
            ),
            "consumer[0].keys[0].expires: \"tomorrow\" is not an RFC 3339",
        ),
        (
            "[[consumer]]\nname = \"a\"\n[[consumer]]\nname = \"a\"\n",
            "consumer[1].name: duplicate of consumer[0]",
        ),
        (
            &format!(
                "[[consumer]]\nname = \"a\"\n[[consumer.keys]]\nhash = \"{h}\"\n\
                 [[consumer]]\nname = \"b\"\n[[consumer.keys]]\nhash = \"{}\"\n",
                h.to_uppercase().replace("SHA256", "sha256")
            ),
            "consumer[1].keys[0].hash: duplicate of consumer[0].keys[0].hash",
        ),
        (
            "[[consumer]]\nname = \"a b\"\nroles = [\"\"]\n",
            "consumer[0].name: \"a b\" must be",
        ),
        (
            "[[consumer]]\nname = \"a\"\nenabled = \"yes\"\n",
            "consumer[0].enabled: invalid type",
        ),
        ("[[consumer]\n", ": line 1: "),
        (
            "[[customer]]\nname = \"a\"\n",
            "customer: unknown field `customer`",
        ),
    ];
    for (text, want) in cases {
        let found = problems(text);
        assert!(
            found.iter().any(|p| p.starts_with(want)),
            "want {want:?} in {found:?}"
        );
    }
    let all = problems("[[consumer]]\nname = \"\"\nroles = [\"a b\"]\nplan = \"\"\n");
    assert_eq!(all.len(), 3, "every problem reported: {all:?}");
}

//! Tests of the rule engine (virtual clock), the config and webhook delivery.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub(crate) mod delivery;

use std::path::Path;

use rampart_core::config::Problems;

use super::config::{AlertsConfig, RawAlertsConfig};
use super::engine::{Engine, Observed};
use super::{Alert, AlertStatus};

pub(super) fn config(toml_text: &str, base: &Path) -> Result<AlertsConfig, String> {
    let raw: RawAlertsConfig = toml::from_str(toml_text).map_err(|e| e.to_string())?;
    let mut p = Problems::default();
    let config = AlertsConfig::validate("alerts", &raw, base, &mut p);
    match (config, p.is_empty()) {
        (Some(c), true) => Ok(c),
        _ => Err(p
            .finish::<()>(Path::new("t.toml"), None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()),
    }
}

fn rules(toml_text: &str) -> AlertsConfig {
    config(toml_text, Path::new(".")).unwrap()
}

fn hit<'a>(client: &'a str, rule: &'a str, id: &'a str, at_ms: u64) -> Observed<'a> {
    Observed {
        kind: "decision",
        check: "inspection",
        rule,
        reason: "attack-detected",
        action: Some("block"),
        client,
        request_id: id,
        at_ms,
    }
}

const T0: u64 = 1_800_000_000_000;

const SQLI_BURST: &str = r#"
group_wait = "2s"
[[rules]]
name = "sqli-burst"
match = { check = "inspection", class = "sqli" }
threshold = 20
window = "60s"
per = "client"
cooldown = "5m"
"#;

fn engine(c: &AlertsConfig) -> Engine {
    Engine::new("inner", c.group_wait, &c.rules)
}

#[test]
fn a_burst_fires_once_with_its_count_then_updates_and_resolves() {
    let c = rules(SQLI_BURST);
    let mut e = engine(&c);
    let ids: Vec<String> = (0..50).map(|i| format!("req-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        e.observe(&hit("198.51.100.7", "sqli-001", id, T0 + i as u64 * 10));
    }
    // Gathering the burst: nothing yet.
    assert!(e.tick(T0 + 1_000).is_empty());
    let first = e.tick(T0 + 3_000);
    assert_eq!(first.len(), 1, "{first:?}");
    let a: &Alert = &first[0];
    assert_eq!(
        (a.status, a.count, a.rule.as_str()),
        (AlertStatus::Firing, 50, "sqli-burst")
    );
    assert_eq!(a.key, "198.51.100.7");
    assert_eq!(a.tier, "inner");
    assert_eq!(a.sample_request_ids.len(), super::engine::SAMPLES);
    assert!(a.first);
    // More of the flood inside the cooldown: counted, not sent.
    for i in 0..10 {
        e.observe(&hit("198.51.100.7", "sqli-002", "later", T0 + 20_000 + i));
    }
    for t in [10_000, 60_000, 200_000, 302_000] {
        assert!(e.tick(T0 + t).is_empty(), "at +{t}ms");
    }
    // Cooldown over with new records: one update carrying the total.
    let update = e.tick(T0 + 303_100);
    assert_eq!(update.len(), 1);
    assert_eq!(
        (update[0].status, update[0].count),
        (AlertStatus::Firing, 60)
    );
    assert_eq!(update[0].alert, a.alert);
    assert!(!update[0].first);
    // A quiet cooldown: resolved, same id.
    let resolved = e.tick(T0 + 303_100 + 300_001);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].status, AlertStatus::Resolved);
    assert_eq!(resolved[0].alert, a.alert);
    // A later burst is a new alert.
    for i in 0..20 {
        e.observe(&hit("198.51.100.7", "sqli-001", "again", T0 + 700_000 + i));
    }
    let again = e.tick(T0 + 710_000);
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].alert, a.alert);
    assert_eq!(again[0].count, 20);
}

#[test]
fn look_alike_traffic_does_not_fire() {
    let c = rules(SQLI_BURST);
    type Case = (&'static str, fn(&mut Engine));
    let cases: &[Case] = &[
        ("19 of 20 is below the threshold", |e| {
            for i in 0..19 {
                e.observe(&hit("a", "sqli-001", "r", T0 + i));
            }
        }),
        ("another class", |e| {
            for i in 0..40 {
                e.observe(&hit("a", "xss-001", "r", T0 + i));
            }
        }),
        ("a class that only starts the same", |e| {
            for i in 0..40 {
                e.observe(&hit("a", "sqlish-001", "r", T0 + i));
            }
        }),
        ("another check", |e| {
            for i in 0..40 {
                let mut ev = hit("a", "sqli-001", "r", T0 + i);
                ev.check = "screening";
                e.observe(&ev);
            }
        }),
        ("spread over more than the window", |e| {
            for i in 0..40 {
                e.observe(&hit("a", "sqli-001", "r", T0 + i * 10_000));
            }
        }),
        ("many clients, each below the threshold", |e| {
            for c in 0..10 {
                for i in 0..10 {
                    e.observe(&hit(
                        ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"][c],
                        "sqli-001",
                        "r",
                        T0 + i,
                    ));
                }
            }
        }),
    ];
    for (name, feed) in cases {
        let mut e = engine(&c);
        feed(&mut e);
        for t in [3_000, 10_000, 400_000, 800_000] {
            assert!(e.tick(T0 + 400_000 + t).is_empty(), "{name}");
        }
    }
    // The same many-client traffic fires with per = "total".
    let mut e = engine(&rules(
        &SQLI_BURST.replace("per = \"client\"", "per = \"total\""),
    ));
    for c in ["a", "b", "c", "d", "e"] {
        for i in 0..10 {
            e.observe(&hit(c, "sqli-001", "r", T0 + i));
        }
    }
    let fired = e.tick(T0 + 3_000);
    assert_eq!(fired.len(), 1);
    assert_eq!((fired[0].key.as_str(), fired[0].count), ("total", 50));
}

#[test]
fn other_kinds_match_on_their_own_fields() {
    let c = rules(
        r#"
group_wait = "0s"
[[rules]]
name = "malware"
match = { reason = "malware-found" }
[[rules]]
name = "engine-down"
match = { kind = "system", reason = "down" }
per = "total"
[[rules]]
name = "auth-failures"
match = { reason = "unauthenticated" }
threshold = 3
"#,
    );
    let mut e = engine(&c);
    let mut malware = hit("a", "Eicar-Test-Signature", "r1", T0);
    malware.check = "antivirus";
    malware.reason = "malware-found";
    e.observe(&malware);
    let down = Observed {
        kind: "system",
        check: "link",
        rule: "10.0.0.2:7443",
        reason: "down",
        action: None,
        client: "10.0.0.2:7443",
        request_id: "",
        at_ms: T0,
    };
    e.observe(&down);
    e.observe(&Observed {
        reason: "up",
        ..down
    });
    for i in 0..3 {
        e.observe(&Observed {
            kind: "admin",
            check: "admin",
            rule: "/admin/status",
            reason: "unauthenticated",
            action: None,
            client: "192.0.2.9",
            request_id: "adm",
            at_ms: T0 + i,
        });
    }
    let mut fired: Vec<(String, u64)> = e
        .tick(T0 + 10)
        .into_iter()
        .map(|a| (a.rule, a.count))
        .collect();
    fired.sort();
    assert_eq!(
        fired,
        [
            ("auth-failures".into(), 3),
            ("engine-down".into(), 1),
            ("malware".into(), 1)
        ]
    );
}

#[test]
fn keys_per_rule_stay_bounded_under_a_flood_of_clients() {
    let c = rules(&SQLI_BURST.replace("cooldown = \"5m\"", "cooldown = \"5m\"\nmax_keys = 100"));
    let mut e = engine(&c);
    let clients: Vec<String> = (0..5_000)
        .map(|i| format!("10.{}.{}.1", i / 256, i % 256))
        .collect();
    for (i, client) in clients.iter().enumerate() {
        e.observe(&hit(client, "sqli-001", "r", T0 + i as u64));
        assert!(e.keys(0) <= 100);
    }
    // Idle keys go once their window has passed.
    assert!(e.tick(T0 + 10_000_000).is_empty());
    assert_eq!(e.keys(0), 0);
}

#[test]
fn config_problems_name_their_key() {
    let dir = crate::audit::tests::temp_dir("alerts-config");
    std::fs::write(dir.join("short.secret"), "too-short").unwrap();
    std::fs::write(dir.join("good.secret"), "0123456789abcdef-secret\n").unwrap();
    let ok_rule = "[[rules]]\nname = \"r\"\nmatch = { reason = \"malware-found\" }\n";
    let cases: &[(&str, &str)] = &[
        (
            "[[rules]]\nmatch = { reason = \"x\" }\n",
            "alerts.rules[0].name",
        ),
        ("[[rules]]\nname = \"r\"\n", "alerts.rules[0].match"),
        (
            "[[rules]]\nname = \"r\"\nmatch = { kind = \"denial\" }\n",
            "alerts.rules[0].match.kind",
        ),
        (
            "[[rules]]\nname = \"r\"\nmatch = { reason = \"x\" }\nthreshold = 0\n",
            "alerts.rules[0].threshold",
        ),
        (
            "[[rules]]\nname = \"r\"\nmatch = { reason = \"x\" }\nper = \"route\"\n",
            "alerts.rules[0].per",
        ),
        (
            "[[rules]]\nname = \"r\"\nmatch = { reason = \"x\" }\nwindow = \"soon\"\n",
            "alerts.rules[0].window",
        ),
        (
            "[[rules]]\nname = \"r\"\nmatch = { reason = \"x\" }\n[[rules]]\nname = \"r\"\nmatch = { reason = \"y\" }\n",
            "alerts.rules[1].name",
        ),
        ("queue = 1\n", "alerts.queue"),
        (
            "[[webhooks]]\nurl = \"http://127.0.0.1:9/h\"\nsecret_file = \"good.secret\"\n",
            "alerts.webhooks[0].url",
        ),
        (
            "[[webhooks]]\nurl = \"ftp://127.0.0.1/h\"\nsecret_file = \"good.secret\"\n",
            "alerts.webhooks[0].url",
        ),
        (
            "[[webhooks]]\nurl = \"https://u:p@127.0.0.1/h\"\nsecret_file = \"good.secret\"\n",
            "alerts.webhooks[0].url",
        ),
        (
            "[[webhooks]]\nurl = \"https://127.0.0.1/h\"\n",
            "alerts.webhooks[0].secret_file",
        ),
        (
            "[[webhooks]]\nurl = \"https://127.0.0.1/h\"\nsecret_file = \"short.secret\"\n",
            "alerts.webhooks[0].secret_file",
        ),
        (
            "[[webhooks]]\nurl = \"https://127.0.0.1/h\"\nsecret_file = \"good.secret\"\nca_file = \"missing.pem\"\n",
            "alerts.webhooks[0].ca_file",
        ),
        (
            "[[webhooks]]\nurl = \"http://127.0.0.1/h\"\nallow_plain_http = true\nsecret_file = \"good.secret\"\nretries = 99\n",
            "alerts.webhooks[0].retries",
        ),
    ];
    for (text, key) in cases {
        let err = config(text, &dir).expect_err(text);
        assert!(err.contains(key), "{text}: {err}");
    }
    // Look-alikes that are fine.
    for text in [
        ok_rule.to_owned(),
        format!(
            "{ok_rule}[[webhooks]]\nurl = \"http://127.0.0.1:9/h\"\nallow_plain_http = true\nsecret_file = \"good.secret\"\n"
        ),
    ] {
        let c = config(&text, &dir).unwrap();
        assert_eq!(c.rules.len(), 1);
    }
    // Unknown keys are refused by the raw structs.
    assert!(
        config(
            "[[rules]]\nname = \"r\"\nmatch = { clas = \"sqli\" }\n",
            &dir
        )
        .is_err()
    );
    // The secret never shows in debug output.
    let c = config(
        &format!("{ok_rule}[[webhooks]]\nurl = \"http://127.0.0.1:9/h\"\nallow_plain_http = true\nsecret_file = \"good.secret\"\n"),
        &dir,
    )
    .unwrap();
    assert!(!format!("{c:?}").contains("0123456789abcdef"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
    // Computed independently: HMAC-SHA256("0123456789abcdef-secret", "1700000000.{\"a\":1}").
    assert_eq!(
        super::webhook::sign(b"0123456789abcdef-secret", "1700000000", br#"{"a":1}"#),
        "sha256=6948a2dc6985c92d09b9edade5c97dce2ba201452d91a72e4a20d35abe4d3420"
    );
    assert_ne!(
        super::webhook::sign(b"0123456789abcdef-secret", "1700000001", br#"{"a":1}"#),
        super::webhook::sign(b"0123456789abcdef-secret", "1700000000", br#"{"a":1}"#),
    );
}

#[test]
fn retry_delays_grow_with_jitter_and_stay_capped() {
    use std::time::Duration;
    let base = Duration::from_millis(100);
    for n in 0..30 {
        let d = super::webhook::delay(base, n);
        let full = base
            .saturating_mul(2u32.saturating_pow(n.min(16)))
            .min(super::config::MAX_BACKOFF);
        assert!(d >= full / 2 && d <= full, "retry {n}: {d:?}");
    }
}

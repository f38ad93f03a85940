use std::path::Path;
use std::time::Duration;

use rampart_core::config::{ConfigError, Sections};

use super::*;

fn load(text: &str) -> Result<RateLimitConfig, Vec<String>> {
    let file = Path::new("edge.toml");
    let mut p = Problems::default();
    let mut sections = Sections::parse(file, text).map_err(|e| vec![e.to_string()])?;
    let raw: Option<RawRateLimit> = sections.take("rate_limit", &mut p);
    sections.finish(&mut p);
    let config = raw.map(|raw| RateLimitConfig::validate(&mut p, &raw));
    p.finish(file, config).map_err(|e| match e {
        ConfigError::Invalid { problems, .. } => problems.iter().map(ToString::to_string).collect(),
        other => vec![other.to_string()],
    })
}

#[test]
fn reads_a_full_section() {
    let config = load(
        r#"
[rate_limit]
max_keys = 5000
ipv6_prefix = 56

[[rate_limit.policies]]
name = "per-ip"
key = ["client_ip"]
rate = "100/s"
burst = 50
routes = ["api"]

[[rate_limit.policies]]
name = "payments"
key = ["upstream"]
rate = 2000
upstreams = ["payments"]

[[rate_limit.quotas]]
name = "monthly"
key = ["consumer"]
limit = 100000
period = "month"

[[rate_limit.concurrency]]
name = "in-flight"
key = ["consumer", "route"]
max_in_flight = 8

[rate_limit.redis]
url = "redis://:s3cret@127.0.0.1:6379/0"
timeout = "20ms"
fail_open = true
local_share = 0.5
"#,
    )
    .unwrap();
    assert_eq!(config.max_keys, 5000);
    assert_eq!(config.ip_prefixes, IpPrefixes { v4: 32, v6: 56 });
    assert_eq!(config.policies.len(), 3);
    let PolicyKind::Rate(limit) = &config.policies[1].kind else {
        panic!()
    };
    assert_eq!(
        (limit.rate().to_string(), limit.burst()),
        ("2000/s".into(), 2000)
    );
    assert_eq!(config.policies[0].scope.routes, ["api"]);
    assert_eq!(
        config.concurrency[0].key.parts(),
        [KeyPart::Consumer, KeyPart::Route]
    );
    let redis = config.redis.unwrap();
    assert_eq!(
        (redis.timeout, redis.fail_open, redis.local_share),
        (Duration::from_millis(20), true, 0.5)
    );
    assert_eq!(redis.key_prefix, "rampart:");
    // The password never shows.
    assert_eq!(redis.url.to_string(), "redis://***@127.0.0.1:6379/0");
    assert!(!format!("{redis:?}").contains("s3cret"));
}

#[test]
fn an_absent_section_limits_nothing() {
    let config = load("").unwrap();
    assert!(config.policies.is_empty() && config.concurrency.is_empty() && config.redis.is_none());
}

#[test]
fn reports_every_problem_with_its_key() {
    let cases: &[(&str, &str)] = &[
        (
            "[rate_limit]\nmax_keys = 0",
            "rate_limit.max_keys: must be between 1",
        ),
        (
            "[rate_limit]\nipv6_prefix = 129",
            "rate_limit.ipv6_prefix: must be between 0 and 128",
        ),
        (
            "[rate_limit]\nbogus = 1",
            "rate_limit.bogus: unknown field `bogus`",
        ),
        (
            "[[rate_limit.policies]]\nname = \"a\"\nrate = \"10/s\"\nkey = [\"cookie\"]",
            "rate_limit.policies[0].key[0]: unknown variant `cookie`",
        ),
        (
            "[[rate_limit.policies]]\nname = \"a\"\nrate = \"10/w\"",
            "rate_limit.policies[0].rate: expected a rate",
        ),
        (
            "[[rate_limit.policies]]\nname = \"a\"\nrate = 0",
            "rate_limit.policies[0].rate: the count must be at least 1",
        ),
        (
            "[[rate_limit.policies]]\nname = \"a\"\nrate = 5\nburst = 0",
            "rate_limit.policies[0].burst: burst must be at least 1",
        ),
        (
            "[[rate_limit.policies]]\nname = \"a b\"\nrate = 5",
            "rate_limit.policies[0].name: use 1 to 64",
        ),
        (
            "[[rate_limit.policies]]\nname = \"a\"\nrate = 5\nrout = []",
            "unknown field `rout`",
        ),
        (
            "[[rate_limit.policies]]\nname = \"a\"\nrate = 5\n[[rate_limit.quotas]]\nname = \"a\"\nlimit = 1\nperiod = \"day\"",
            "rate_limit.quotas[0].name: \"a\" is used twice",
        ),
        (
            "[[rate_limit.quotas]]\nname = \"q\"\nlimit = 0\nperiod = \"day\"",
            "rate_limit.quotas[0].limit: must be between 1",
        ),
        (
            "[[rate_limit.quotas]]\nname = \"q\"\nlimit = 5\nperiod = \"week\"",
            "unknown variant `week`",
        ),
        (
            "[[rate_limit.concurrency]]\nname = \"c\"\nmax_in_flight = 0",
            "rate_limit.concurrency[0].max_in_flight: must be at least 1",
        ),
        (
            "[rate_limit.redis]\nurl = \"http://h\"",
            "rate_limit.redis.url: http://h: expected redis://",
        ),
        (
            "[rate_limit.redis]\nurl = \"rediss://u:pw@h\"",
            "rate_limit.redis.url: rediss://***@h: expected",
        ),
        (
            "[rate_limit.redis]\nurl = \"redis://h\"\ntimeout = \"50\"",
            "rate_limit.redis.timeout: \"50\"",
        ),
        (
            "[rate_limit.redis]\nurl = \"redis://h\"\ntimeout = \"11s\"",
            "rate_limit.redis.timeout: must be between",
        ),
        (
            "[rate_limit.redis]\nurl = \"redis://h\"\nlocal_share = 0.0",
            "rate_limit.redis.local_share: must be in (0, 1]",
        ),
        (
            "[rate_limit.redis]\nurl = \"redis://h\"\nkey_prefix = \"a b\"",
            "rate_limit.redis.key_prefix",
        ),
    ];
    for (text, want) in cases {
        let problems = load(text).unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains(want)),
            "{text}\n  wanted {want}\n  got {problems:?}"
        );
        assert!(!problems.iter().any(|p| p.contains("pw@")), "{problems:?}");
    }
}

#[test]
fn accepts_the_look_alikes_of_refused_values() {
    let ok = [
        "[rate_limit]\nipv6_prefix = 128\nipv4_prefix = 0",
        "[[rate_limit.policies]]\nname = \"a.b_c-1\"\nrate = \"1/d\"",
        "[[rate_limit.policies]]\nname = \"global\"\nkey = []\nrate = 1000000",
        "[[rate_limit.quotas]]\nname = \"q\"\nlimit = 1073741823\nperiod = \"month\"",
        "[rate_limit.redis]\nurl = \"redis://user:pw@h:1/2\"\ntimeout = \"10s\"\nlocal_share = 1.0",
        "[rate_limit.redis]\nurl = \"unix:///run/redis.sock\"",
    ];
    for text in ok {
        assert!(load(text).is_ok(), "{text}: {:?}", load(text).err());
    }
}

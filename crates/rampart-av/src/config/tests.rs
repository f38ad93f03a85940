use std::path::Path;

use super::*;

fn load(text: &str) -> Result<Option<AvConfig>, ConfigError> {
    AvConfig::from_toml(Path::new("inner.toml"), text)
}

fn problem_keys(text: &str) -> Vec<String> {
    match load(text) {
        Err(ConfigError::Invalid { problems, .. }) => problems.into_iter().map(|p| p.key).collect(),
        other => panic!("expected problems for {text:?}, got {other:?}"),
    }
}

#[test]
fn reads_both_engines_with_units() {
    let config = load(
        r#"
        [antivirus]
        cache_ttl = "10m"
        cache_entries = 500
        signature_check = "15s"
        [antivirus.clamd]
        socket = "/run/clamav/clamd.ctl"
        timeout = "3s"
        max_concurrency = 4
        stream_max_length = "10MiB"
        [antivirus.icap]
        url = "icap://127.0.0.1:1344/avscan"
        connect_timeout = "250ms"
        max_connections = 2
        "#,
    )
    .unwrap()
    .unwrap();
    let clamd = config.clamd().unwrap();
    assert_eq!(
        clamd.address,
        ClamdAddress::Unix("/run/clamav/clamd.ctl".into())
    );
    assert_eq!(clamd.timeout, Duration::from_secs(3));
    assert_eq!(clamd.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
    assert_eq!(clamd.max_concurrency, 4);
    assert_eq!(clamd.stream_max_length, ByteSize::mib(10));
    let icap = config.icap().unwrap();
    assert_eq!(icap.url.to_string(), "icap://127.0.0.1:1344/avscan");
    assert_eq!(icap.connect_timeout, Duration::from_millis(250));
    assert_eq!(icap.timeout, DEFAULT_TIMEOUT);
    assert_eq!(icap.max_connections, 2);
    assert_eq!(
        config.cache(),
        CacheConfig {
            ttl: Duration::from_secs(600),
            entries: 500,
            signature_check: Duration::from_secs(15),
        }
    );
}

#[test]
fn an_absent_section_turns_antivirus_off() {
    assert!(load("").unwrap().is_none());
    assert!(load("[antivirus]\n").unwrap().is_none());
}

#[test]
fn one_engine_is_enough_and_defaults_apply() {
    let config = load("[antivirus.clamd]\naddress = \"127.0.0.1:3310\"\n")
        .unwrap()
        .unwrap();
    assert!(config.icap().is_none());
    let clamd = config.clamd().unwrap();
    assert_eq!(
        clamd.address,
        ClamdAddress::Tcp("127.0.0.1:3310".parse().unwrap())
    );
    assert_eq!(clamd.stream_max_length, DEFAULT_STREAM_MAX);
    assert_eq!(clamd.max_concurrency, DEFAULT_CONCURRENCY);
    assert_eq!(config.cache(), CacheConfig::default());
}

#[test]
fn reports_every_problem_with_its_key() {
    let keys = problem_keys(
        r#"
        [antivirus]
        cache_ttl = "1 fortnight"
        signature_check = "often"
        [antivirus.clamd]
        address = "localhost"
        timeout = "5"
        max_concurrency = 0
        stream_max_length = "5GiB"
        [antivirus.icap]
        url = "http://127.0.0.1/avscan"
        timeout = "0s"
        max_connections = 100000
        "#,
    );
    assert_eq!(
        keys,
        [
            "antivirus.clamd.address",
            "antivirus.clamd.timeout",
            "antivirus.clamd.max_concurrency",
            "antivirus.clamd.stream_max_length",
            "antivirus.icap.url",
            "antivirus.icap.timeout",
            "antivirus.icap.max_connections",
            "antivirus.cache_ttl",
            "antivirus.signature_check",
        ]
    );
}

#[test]
fn refuses_ambiguous_or_incomplete_engines_next_to_valid_look_alikes() {
    let table = [
        (
            "[antivirus.clamd]\naddress = \"127.0.0.1:3310\"\nsocket = \"/s\"\n",
            "antivirus.clamd",
        ),
        ("[antivirus.clamd]\ntimeout = \"5s\"\n", "antivirus.clamd"),
        ("[antivirus.icap]\ntimeout = \"5s\"\n", "antivirus.icap.url"),
        ("[antivirus]\ncache_entries = 5\n", "antivirus"),
        ("[antivirus]\nsignature_check = \"1m\"\n", "antivirus"),
        (
            "[antivirus.clamd]\nadress = \"127.0.0.1:3310\"\n",
            "antivirus.clamd.adress",
        ),
        ("[antivirus]\nengines = []\n", "antivirus.engines"),
    ];
    for (text, key) in table {
        assert_eq!(problem_keys(text), [key], "{text}");
    }
    for ok in [
        "[antivirus.clamd]\naddress = \"127.0.0.1:3310\"\n",
        "[antivirus.clamd]\nsocket = \"/s\"\n",
        "[antivirus.icap]\nurl = \"icap://av/avscan\"\n",
        "[antivirus]\ncache_entries = 0\n[antivirus.icap]\nurl = \"icap://av/avscan\"\n",
        "[antivirus]\nsignature_check = \"0s\"\n[antivirus.icap]\nurl = \"icap://av/avscan\"\n",
    ] {
        assert!(load(ok).unwrap().is_some(), "{ok}");
    }
}

#![allow(clippy::unwrap_used, clippy::panic)]

use rampart_core::config::Sections;

use super::*;
use crate::apikey::KeyRejection;
use crate::apikey::new_key;
use crate::watch::Reload;

fn validate(text: &str, base: &Path) -> Result<IdentityConfig, Vec<String>> {
    let file = Path::new("edge.toml");
    let mut p = Problems::default();
    let mut sections = Sections::parse(file, text).unwrap();
    let raw: Option<RawIdentity> = sections.take("identity", &mut p);
    sections.finish(&mut p);
    let cfg = raw.map(|raw| IdentityConfig::validate(&mut p, &raw, base));
    p.finish(file, cfg).map_err(|e| match e {
        ConfigError::Invalid { problems, .. } => problems.iter().map(ToString::to_string).collect(),
        other => panic!("{other}"),
    })
}

#[test]
fn defaults_and_relative_paths() {
    let cfg = validate(
        "[identity]\nconsumers = \"c.toml\"\ndeny_list = \"/abs/deny\"\n",
        Path::new("/etc/rampart"),
    )
    .unwrap();
    assert_eq!(
        cfg.consumers.as_deref(),
        Some(Path::new("/etc/rampart/c.toml"))
    );
    assert_eq!(cfg.deny_list.as_deref(), Some(Path::new("/abs/deny")));
    assert_eq!(cfg.users, None);
    assert_eq!(cfg.basic_concurrency, None);
    assert_eq!(cfg.reload_interval, Duration::from_secs(10));
    assert_eq!(cfg.lockout, LockoutConfig::default());
    assert_eq!(cfg.basic_cache, CacheConfig::default());
    let empty = validate("", Path::new("/")).unwrap();
    assert_eq!(empty.consumers, None);
}

#[test]
fn reads_every_knob() {
    let text = r#"
[identity]
reload_interval = "2s"
basic_concurrency = 3
[identity.lockout]
threshold = 3
ip_threshold = 9
window = "1m"
base = "500ms"
max = "1h"
capacity = 7
[identity.basic_cache]
ttl = "30s"
capacity = 0
"#;
    let cfg = validate(text, Path::new("/")).unwrap();
    assert_eq!(cfg.reload_interval, Duration::from_secs(2));
    assert_eq!(cfg.basic_concurrency, Some(3));
    let want = LockoutConfig {
        threshold: 3,
        ip_threshold: 9,
        window: Duration::from_secs(60),
        base: Duration::from_millis(500),
        max: Duration::from_secs(3600),
        capacity: 7,
    };
    assert_eq!(cfg.lockout, want);
    assert_eq!(
        cfg.basic_cache,
        CacheConfig {
            ttl: Duration::from_secs(30),
            capacity: 0
        }
    );
}

#[test]
fn reports_every_problem_with_its_key_path() {
    let text = r#"
[identity]
consumers = ""
reload_interval = "soon"
basic_concurrency = 0
[identity.lockout]
threshold = 0
base = "1h"
max = "1m"
window = "48h"
[identity.basic_cache]
ttl = "0s"
"#;
    let found = validate(text, Path::new("/")).unwrap_err();
    for want in [
        "identity.consumers: must not be empty",
        "identity.reload_interval: \"soon\"",
        "identity.lockout.threshold: must be between 1 and 1000",
        "identity.basic_concurrency: must be between 1 and 1024",
        "identity.lockout.base: must not exceed lockout.max",
        "identity.lockout.window: must be more than 0",
        "identity.basic_cache.ttl: must be more than 0",
    ] {
        assert!(
            found.iter().any(|p| p.starts_with(want)),
            "want {want:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), 7, "{found:#?}");
    let unknown = validate("[identity]\nconsumer = \"c\"\n", Path::new("/")).unwrap_err();
    assert!(
        unknown[0].starts_with("identity: unknown field `consumer`")
            || unknown[0].starts_with("identity.consumer"),
        "{unknown:?}"
    );
    let nested = validate("[identity.lockout]\nthreshhold = 1\n", Path::new("/")).unwrap_err();
    assert!(nested[0].starts_with("identity.lockout"), "{nested:?}");
}

#[test]
fn loads_every_file_and_reports_every_failure() {
    let dir = tempfile::tempdir().unwrap();
    let key = new_key("partner-a");
    std::fs::write(dir.path().join("consumers.toml"), &key.file_snippet).unwrap();
    std::fs::write(dir.path().join("deny.list"), format!("{}\n", key.hash)).unwrap();
    let text = "[identity]\nconsumers = \"consumers.toml\"\ndeny_list = \"deny.list\"\n";
    let identity = validate(text, dir.path()).unwrap().load().unwrap();
    let keys = identity.api_keys.as_ref().unwrap().current();
    assert!(
        keys.lookup(key.key.as_bytes(), std::time::SystemTime::now())
            .is_ok()
    );
    assert!(
        identity
            .deny_list
            .as_ref()
            .unwrap()
            .current()
            .contains_secret(key.key.as_bytes())
    );
    assert!(identity.reload_if_changed().is_empty());

    std::fs::write(dir.path().join("consumers.toml"), "[[consumer]]\nnom = 1\n").unwrap();
    let events = identity.reload_if_changed();
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0].1, Reload::KeepPrevious(_)));
    assert!(
        identity
            .api_keys
            .as_ref()
            .unwrap()
            .current()
            .lookup(key.key.as_bytes(), std::time::SystemTime::now())
            .is_ok()
    );

    let text =
        "[identity]\nconsumers = \"consumers.toml\"\nusers = \"nope\"\ndeny_list = \"deny.list\"\n";
    let errors = validate(text, dir.path()).unwrap().load().unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    let rendered = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        rendered.contains("consumers.toml") && rendered.contains("consumer[0]"),
        "{rendered}"
    );
    assert!(rendered.contains("nope"), "{rendered}");
}

#[test]
fn identity_authenticates_keys_and_honours_the_deny_list() {
    use http::{HeaderMap, HeaderName, HeaderValue, Uri};

    let dir = tempfile::tempdir().unwrap();
    let (live, revoked) = (new_key("partner-a"), new_key("partner-a"));
    let consumers = format!(
        "{}\n[[consumer.keys]]\nhash = \"{}\"\n",
        live.file_snippet, revoked.hash
    );
    std::fs::write(dir.path().join("c.toml"), consumers).unwrap();
    std::fs::write(
        dir.path().join("deny"),
        format!("{}\njti:j1\n", revoked.hash),
    )
    .unwrap();
    let text = "[identity]\nconsumers = \"c.toml\"\ndeny_list = \"deny\"\n";
    let identity = validate(text, dir.path()).unwrap().load().unwrap();
    let source = crate::apikey::ApiKeySource {
        header: Some(HeaderName::from_static("x-api-key")),
        query: Some("api_key".into()),
    };
    let now = std::time::SystemTime::now();
    let call = |key: Option<&str>, uri: &str| {
        let mut h = HeaderMap::new();
        if let Some(k) = key {
            h.insert("x-api-key", HeaderValue::from_str(k).unwrap());
        }
        identity.api_key(&source, &h, &uri.parse::<Uri>().unwrap(), now)
    };
    let ok = call(Some(&live.key), "/o?a=1").unwrap().unwrap();
    assert_eq!((ok.principal.subject.as_str(), ok.uri), ("partner-a", None));
    let q = call(None, &format!("/o?api_key={}&a=1", live.key))
        .unwrap()
        .unwrap();
    assert_eq!(q.uri.unwrap(), "/o?a=1");
    assert_eq!(call(Some(&revoked.key), "/o"), Err(KeyRejection::Revoked));
    assert_eq!(call(None, "/o?a=1"), Ok(None));
    assert!(identity.is_revoked(b"any token", Some("j1")));
    assert!(!identity.is_revoked(live.key.as_bytes(), Some("j2")));
    let basic = identity.basic(
        b"Basic YWxpY2U6cHc=",
        "127.0.0.1".parse().unwrap(),
        std::time::Instant::now(),
    );
    assert_eq!(
        basic,
        Err(crate::basic::BasicRejection::UnknownUser),
        "no users file"
    );
}

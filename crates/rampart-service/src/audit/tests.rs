#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rampart_core::Reason;
use rampart_core::config::Problems;

use super::*;

pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rampart-audit-{name}-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn file_config(path: &Path, client_address: ClientAddress) -> AuditConfig {
    AuditConfig {
        sink: Sink::File {
            path: path.to_owned(),
            max_size: rampart_core::units::ByteSize::mib(1),
            keep: 2,
        },
        client_address,
        queue: 64,
        recent: 100,
        ..AuditConfig::default()
    }
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn attack() -> Denial {
    let mut d = Denial::new("screening", Reason::AttackDetected)
        .with_rule("sqli-001")
        .with_location("query:q");
    d.score = Some(7);
    d
}

#[test]
fn records_carry_principal_trace_id_and_the_anonymised_client() {
    let dir = temp_dir("fields");
    let path = dir.join("audit.log");
    let auditor = Auditor::start("edge", &file_config(&path, ClientAddress::Truncate)).unwrap();
    let id = RequestId::generate();
    let ctx = Context {
        tier: "edge",
        request_id: &id,
        route: "search",
        client: "203.0.113.77",
    };
    let details = Details {
        principal: Some("acme-app"),
        trace_id: None,
    };
    auditor.record(&ctx, &details, &attack(), Action::Block, &[]);
    auditor.record(&ctx, &Details::default(), &attack(), Action::Report, &[]);
    assert!(auditor.flush(Duration::from_secs(5)));
    let lines = lines(&path);
    assert_eq!(lines.len(), 2);
    let l = &lines[0];
    assert_eq!(l["target"], AUDIT, "the e2e filters match on the target");
    assert_eq!(l["kind"], "decision");
    assert_eq!(l["request_id"], id.as_str());
    assert_eq!(l["trace_id"], id.as_str(), "trace id = request id today");
    assert_eq!(l["principal"], "acme-app");
    assert_eq!(l["client"], "203.0.113.0/24");
    assert_eq!(l["check"], "screening");
    assert_eq!(l["rule"], "sqli-001");
    assert_eq!(l["location"], "query:q");
    assert_eq!(l["reason"], "attack-detected");
    assert_eq!(l["status"], 403);
    assert_eq!(l["score"], 7);
    assert_eq!(l["action"], "block");
    assert!(l["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(lines[1]["principal"].is_null());
    assert_eq!(lines[1]["action"], "report");
    assert_eq!(auditor.events().totals().decisions, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn secrets_at_token_like_locations_are_never_written() {
    let dir = temp_dir("secrets");
    let path = dir.join("audit.log");
    let auditor = Auditor::start("inner", &file_config(&path, ClientAddress::Full)).unwrap();
    let id = RequestId::generate();
    let ctx = Context {
        tier: "inner",
        request_id: &id,
        route: "billing",
        client: "198.51.100.4",
    };
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlMTIz";
    let api_key = "sk_live_51HqLyjWDarjtT1zdp7dc9";
    let password = "hunter2 union select";
    let denial = Denial::new("inspection", Reason::AttackDetected)
        .with_rule("sqli-001")
        .with_location("query:access_token");
    let explanation = vec![
        format!("sqli-001@query:access_token: {jwt}"),
        format!("sqli-002@header:authorization: Bearer {jwt}"),
        format!("sqli-003@json:/password: {password}"),
        format!("sqli-004@query:q: ' or 1=1 -- {api_key}"),
        format!("sqli-005@cookie:sid: {password}"),
    ];
    auditor.record(
        &ctx,
        &Details::default(),
        &denial,
        Action::Block,
        &explanation,
    );
    assert!(auditor.flush(Duration::from_secs(5)));
    let text = std::fs::read_to_string(&path).unwrap();
    for secret in [jwt, "eyJhbGciOiJIUzI1NiJ9", api_key, "hunter2"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    // What Rampart chose is still there: rules, locations and the attack itself.
    let line = &lines(&path)[0];
    assert_eq!(line["location"], "query:access_token");
    let explained: Vec<&str> = line["explanation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(explained[0], "sqli-001@query:access_token: [redacted]");
    assert_eq!(explained[3], "sqli-004@query:q: ' or 1=1 -- [redacted]");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_stalled_writer_drops_and_counts_instead_of_blocking() {
    let dir = temp_dir("drops");
    let path = dir.join("audit.log");
    let mut config = file_config(&path, ClientAddress::Full);
    config.queue = 16;
    let auditor = Auditor::start("edge", &config).unwrap();
    let release = auditor.hold_writer();
    let id = RequestId::generate();
    let ctx = Context {
        tier: "edge",
        request_id: &id,
        route: "",
        client: "192.0.2.1",
    };
    let started = Instant::now();
    for _ in 0..200 {
        auditor.record(&ctx, &Details::default(), &attack(), Action::Block, &[]);
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "recording never waits for the writer"
    );
    let dropped = auditor.dropped();
    assert!((183..=185).contains(&dropped), "{dropped}");
    assert!(auditor.render_metrics().contains(&format!(
        "rampart_audit_dropped_total{{tier=\"edge\"}} {dropped}"
    )));
    drop(release);
    assert!(auditor.flush(Duration::from_secs(5)));
    assert_eq!(auditor.written() + dropped, 200);
    assert_eq!(lines(&path).len() as u64, auditor.written());
    // The recent-events ring saw every denial, dropped lines or not.
    assert_eq!(auditor.events().totals().decisions, 200);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn record_goes_through_the_installed_auditor_of_its_tier() {
    let dir = temp_dir("install");
    let path = dir.join("audit.log");
    let auditor = Auditor::start("install-test", &file_config(&path, ClientAddress::Full)).unwrap();
    install(auditor.clone());
    let id = RequestId::generate();
    let ctx = Context {
        tier: "install-test",
        request_id: &id,
        route: "orders",
        client: "192.0.2.9",
    };
    record(&ctx, &attack(), Action::Block, &[]);
    assert!(auditor.flush(Duration::from_secs(5)));
    assert_eq!(auditor.events().recent(10)[0].request_id, id.as_str());
    assert_eq!(lines(&path)[0]["route"], "orders");
    assert!(installed("some-other-tier").is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn validate(text: &str, base: &Path) -> (Option<AuditConfig>, String) {
    let raw: RawAuditConfig = toml::from_str(text).unwrap();
    let mut p = Problems::default();
    let config = AuditConfig::validate("audit", &raw, base, &mut p);
    let problems = match p.finish(Path::new("t.toml"), Some(())) {
        Ok(()) => String::new(),
        Err(e) => e.to_string(),
    };
    (config, problems)
}

#[test]
fn config_is_validated_with_key_paths() {
    let dir = temp_dir("config");
    std::fs::write(dir.join("short.key"), "abc").unwrap();
    std::fs::write(dir.join("good.key"), "0123456789abcdef0123\n").unwrap();
    let (config, problems) = validate(
        "sink = \"file\"\npath = \"a/audit.log\"\nmax_size = \"100MiB\"\nkeep = 5\nclient_address = \"hash\"\nhash_key_file = \"good.key\"\n",
        &dir,
    );
    assert_eq!(problems, "");
    let config = config.unwrap();
    assert_eq!(
        config.sink,
        Sink::File {
            path: dir.join("a/audit.log"),
            max_size: rampart_core::units::ByteSize::mib(100),
            keep: 5
        }
    );
    assert!(
        matches!(config.client_address, ClientAddress::Hash(ref k) if k == b"0123456789abcdef0123")
    );
    assert_eq!(validate("", &dir).0, Some(AuditConfig::default()));

    let (config, problems) = validate(
        "sink = \"syslog\"\nmax_size = \"1 parsec\"\nkeep = 0\nclient_address = \"hash\"\nhash_key_file = \"short.key\"\nqueue = 1\n",
        &dir,
    );
    assert!(config.is_none());
    for key in [
        "audit.sink",
        "audit.max_size",
        "audit.keep",
        "audit.hash_key_file",
        "audit.queue",
    ] {
        assert!(problems.contains(key), "{key} missing: {problems}");
    }
    let (_, problems) = validate("sink = \"file\"\n", &dir);
    assert!(problems.contains("audit.path: is required"), "{problems}");
    assert!(toml::from_str::<RawAuditConfig>("sinks = \"file\"").is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reconfigure_switches_the_file_and_mode_and_keeps_recent_events() {
    let dir = temp_dir("reconfigure");
    let first = dir.join("first.log");
    let second = dir.join("second.log");
    let auditor = Auditor::start("edge", &file_config(&first, ClientAddress::Full)).unwrap();
    let id = RequestId::generate();
    let ctx = Context {
        tier: "edge",
        request_id: &id,
        route: "",
        client: "203.0.113.77",
    };
    auditor.record(&ctx, &Details::default(), &attack(), Action::Block, &[]);
    auditor
        .reconfigure(&file_config(&second, ClientAddress::Truncate))
        .unwrap();
    auditor.record(&ctx, &Details::default(), &attack(), Action::Block, &[]);
    assert!(auditor.flush(Duration::from_secs(5)));
    // The old writer drains on its own thread; give it a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(&first)
        .unwrap_or_default()
        .is_empty()
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(lines(&first)[0]["client"], "203.0.113.77");
    assert_eq!(lines(&second)[0]["client"], "203.0.113.0/24");
    assert_eq!(auditor.events().totals().decisions, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "measurement: cargo test -p rampart-service --release -- --ignored --nocapture"]
#[allow(clippy::print_stdout)]
fn measure_record_cost() {
    let dir = temp_dir("measure");
    let path = dir.join("audit.log");
    let mut config = file_config(&path, ClientAddress::Hash(b"0123456789abcdef".to_vec()));
    config.queue = 1 << 20;
    config.recent = 10_000;
    let auditor = Auditor::start("edge", &config).unwrap();
    let id = RequestId::generate();
    let ctx = Context {
        tier: "edge",
        request_id: &id,
        route: "search",
        client: "203.0.113.77",
    };
    let explanation = vec!["sqli-001@query:q: ' or 1=1 --".to_owned()];
    let n = 200_000;
    let started = Instant::now();
    for _ in 0..n {
        auditor.record(
            &ctx,
            &Details::default(),
            &attack(),
            Action::Block,
            &explanation,
        );
    }
    let recorded = started.elapsed();
    assert!(auditor.flush(Duration::from_secs(60)));
    let written = started.elapsed();
    println!(
        "record(): {:.2} us each on the request path; {} written + {} dropped, all on disk after {:?}",
        recorded.as_secs_f64() * 1e6 / f64::from(n),
        auditor.written(),
        auditor.dropped(),
        written
    );
    let groups = Instant::now();
    let g = auditor.events().groups(100);
    println!(
        "groups() over a full ring of {}: {:?} ({} groups)",
        config.recent,
        groups.elapsed(),
        g.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

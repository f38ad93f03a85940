#![allow(clippy::unwrap_used, clippy::panic)]

use std::net::SocketAddr;

use rampart_core::check::Denial;
use rampart_core::id::RequestId;
use rampart_core::problem::Reason;

use super::*;
use crate::admin::config::{AdminConfig, Role, Token, token_hash};
use crate::admin::{AdminParts, AdminState, StatusOnly, serve_api};
use crate::audit::{self, Auditor};
use crate::shutdown::Trigger;

fn raw(name: &str, url: &str, token_file: &str, ca: Option<&str>) -> RawPeer {
    RawPeer {
        name: name.into(),
        url: url.into(),
        token_file: token_file.into(),
        ca_file: ca.map(str::to_owned),
    }
}

fn problems(p: Problems) -> String {
    match p.finish(Path::new("t.toml"), Some(())) {
        Ok(()) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn validates_urls_and_token_files_with_key_paths() {
    let dir = tempdir();
    std::fs::write(dir.join("ok.token"), "rpa_secret-value\n").unwrap();
    std::fs::write(dir.join("spaces.token"), "rpa a b").unwrap();
    std::fs::write(dir.join("empty.token"), "\n").unwrap();
    let table: [(RawPeer, Option<&str>); 9] = [
        (raw("edge", "http://127.0.0.1:9901", "ok.token", None), None),
        (
            raw("edge", "http://edge-admin:9901/", "ok.token", None),
            None,
        ),
        (raw("edge", "ftp://edge:1", "ok.token", None), Some("url")),
        (
            raw("edge", "http://u:p@edge:1", "ok.token", None),
            Some("url"),
        ),
        (
            raw("edge", "http://edge:1", "missing.token", None),
            Some("token_file"),
        ),
        (
            raw("edge", "http://edge:1", "spaces.token", None),
            Some("token_file"),
        ),
        (
            raw("edge", "http://edge:1", "empty.token", None),
            Some("token_file"),
        ),
        (
            raw("edge", "https://edge:1", "ok.token", None),
            Some("ca_file"),
        ),
        (
            raw("ed ge", "http://edge:1", "ok.token", None),
            Some("name"),
        ),
    ];
    for (peer, bad_key) in table {
        let mut p = Problems::default();
        let got = validate("admin", std::slice::from_ref(&peer), &dir, &mut p);
        let text = problems(p);
        match bad_key {
            None => {
                assert!(text.is_empty(), "{}: {text}", peer.url);
                assert_eq!(
                    got.unwrap()[0].url.trim_end_matches('/'),
                    peer.url.trim_end_matches('/')
                );
            }
            Some(k) => {
                assert!(got.is_none(), "{} accepted", peer.url);
                assert!(text.contains(&format!("admin.peers[0].{k}")), "{text}");
                assert!(!text.contains("secret"), "token echoed: {text}");
            }
        }
    }
    let mut p = Problems::default();
    let twice = [
        raw("edge", "http://a:1", "ok.token", None),
        raw("edge", "http://b:1", "ok.token", None),
    ];
    assert!(validate("admin", &twice, &dir, &mut p).is_none());
    assert!(problems(p).contains("admin.peers[1].name"));
}

#[test]
fn the_token_is_not_in_debug_output() {
    let dir = tempdir();
    std::fs::write(dir.join("t"), "rpa_topsecret").unwrap();
    let mut p = Problems::default();
    let peers = validate(
        "admin",
        &[raw("edge", "http://e:1", "t", None)],
        &dir,
        &mut p,
    )
    .unwrap();
    assert!(!format!("{peers:?}").contains("topsecret"));
}

#[test]
fn parses_server_sent_events() {
    assert_eq!(
        parse_event(b"event: overview\ndata: {\"a\":1}\n\n"),
        Some(("overview", "{\"a\":1}".to_owned()))
    );
    assert_eq!(parse_event(b": rampart\nretry: 3000\n\n"), None);
    assert_eq!(
        parse_event(b"data: x\ndata: y\n\n"),
        Some(("message", "x\ny".to_owned()))
    );
}

#[test]
fn merges_top_lists_by_key() {
    let local = serde_json::json!({
        "rules": [{"key": "inspect/sqli", "count": 3}],
        "routes": [], "clients": [{"key": "198.51.100.7", "count": 1}], "reasons": []
    });
    let peer = serde_json::json!({
        "rules": [{"key": "screen/xss", "count": 5}, {"key": "inspect/sqli", "count": 1}],
        "routes": [{"key": "api", "count": 6}],
        "clients": [{"key": "198.51.100.7", "count": 2}, {"key": "203.0.113.9", "count": 1}],
        "reasons": "not a list"
    });
    let merged = merge_tops(local, &[peer, Value::Null], 2);
    assert_eq!(
        merged["rules"],
        serde_json::json!([{"key": "screen/xss", "count": 5}, {"key": "inspect/sqli", "count": 4}])
    );
    assert_eq!(
        merged["clients"][0],
        serde_json::json!({"key": "198.51.100.7", "count": 3})
    );
    assert_eq!(merged["routes"][0]["count"], 6);
    assert_eq!(merged["reasons"], serde_json::json!([]));
}

#[test]
fn a_peer_never_seen_is_shown_down_with_its_reason() {
    let dir = tempdir();
    std::fs::write(dir.join("t"), "rpa_x").unwrap();
    let mut p = Problems::default();
    let peers = validate(
        "admin",
        &[raw("edge", "http://e:1", "t", None)],
        &dir,
        &mut p,
    )
    .unwrap();
    let cache = PeerCache::default();
    cache.sync(&peers);
    let statuses = cache.statuses();
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0]["tier"], "edge");
    assert_eq!(statuses[0]["ready"], false);
    assert_eq!(statuses[0]["peer"]["up"], false);
    assert_eq!(statuses[0]["peer"]["error"], "not contacted yet");
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir() -> Scratch {
    let dir = std::env::temp_dir().join(format!(
        "rampart-peers-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// One tier's admin listener with `config`, on a loopback port.
async fn tier(name: &'static str, config: AdminConfig) -> (SocketAddr, Arc<AdminState>, Trigger) {
    let auditor = Auditor::start(name, &audit::AuditConfig::default()).unwrap();
    let state = AdminState::new(AdminParts {
        tier: name,
        ready: Arc::new(|| true),
        metrics: None,
        actions: Arc::new(StatusOnly { tier: name }),
        config,
        auditor,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (trigger, shutdown) = crate::shutdown::channel();
    tokio::spawn(serve_api(listener, state.clone(), None, shutdown));
    (addr, state, trigger)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_a_peer_and_shows_unreachable_and_refusing_ones_as_down() {
    let secret = format!("rpa_viewer_{}", rand::random::<u64>());
    let edge_config = AdminConfig {
        tokens: vec![Token {
            name: "inner-dashboard".into(),
            hash: token_hash(&secret),
            role: Role::Viewer,
        }],
        ..AdminConfig::default()
    };
    let (edge_addr, edge, _edge_stop) = tier("edge", edge_config).await;
    // A denial on the edge before the inner looks, and one after.
    let record = || {
        let request_id = RequestId::generate();
        let ctx = audit::Context {
            tier: "edge",
            request_id: &request_id,
            route: "search",
            client: "192.0.2.7",
        };
        let denial = Denial::new("screening", Reason::AttackDetected)
            .with_rule("sqli-001")
            .with_location("query:q");
        edge.auditor().record(
            &ctx,
            &audit::Details::default(),
            &denial,
            audit::Action::Block,
            &[],
        );
        request_id.to_string()
    };
    let first = record();

    let dir = tempdir();
    std::fs::write(dir.join("good"), format!("{secret}\n")).unwrap();
    std::fs::write(dir.join("wrong"), "rpa_not_a_token").unwrap();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let raws = [
        raw("edge", &format!("http://{edge_addr}"), "good", None),
        raw("gone", &format!("http://{closed}"), "good", None),
        raw("refused", &format!("http://{edge_addr}"), "wrong", None),
    ];
    let mut p = Problems::default();
    let peers = validate("admin", &raws, &dir, &mut p).unwrap();
    let inner_config = AdminConfig {
        peers,
        ..AdminConfig::default()
    };
    let (_inner_addr, inner, _inner_stop) = tier("inner", inner_config).await;

    // Bounded wait: the edge is followed, the others are down with their reason.
    let mut second = None;
    let mut last = Value::Null;
    for _ in 0..200 {
        let doc = inner.status_document().await;
        if doc["peers"].as_array().map(Vec::len) != Some(3) {
            // The followers' supervisor has not taken its first look yet.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let peer = |name: &str| {
            doc["peers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["peer"]["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("{name} missing: {doc}"))
        };
        let (e, g, r) = (peer("edge"), peer("gone"), peer("refused"));
        let edge_up = e["peer"]["up"] == true && e["tier"] == "edge" && e["ready"] == true;
        if edge_up && second.is_none() {
            second = Some(record());
        }
        let seen: Vec<Value> = inner.peers.events(50);
        let has = |id: &Option<String>| {
            id.as_ref()
                .is_some_and(|id| seen.iter().any(|ev| ev["request_id"] == id.as_str()))
        };
        let gone_down = g["peer"]["up"] == false
            && g["ready"] == false
            && g["peer"]["error"]
                .as_str()
                .is_some_and(|m| m.contains("connection failed"));
        let refused_down = r["peer"]["up"] == false
            && r["peer"]["error"]
                .as_str()
                .is_some_and(|m| m.contains("401"));
        if edge_up && has(&Some(first.clone())) && has(&second) && gone_down && refused_down {
            // The peer's top lists come with its next overview.
            let overview: Value =
                serde_json::from_str(&crate::admin::stream::overview(&inner).await).unwrap();
            if overview["tops"]["rules"][0]
                == serde_json::json!({ "key": "screening/sqli-001", "count": 2 })
            {
                assert_eq!(overview["tops"]["clients"][0]["key"], "192.0.2.7");
                assert_eq!(
                    overview["status"]["audit"]["peers"]["edge"]["totals"]["blocks"],
                    2
                );
                assert_eq!(overview["peer_events"].as_array().unwrap().len(), 2);
                return;
            }
        }
        last = doc;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("peers never settled: {last}");
}

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_arguments
)]

use super::*;

fn record(
    tier: &'static str,
    route: &str,
    check: &'static str,
    rule: &str,
    location: &str,
    client: &str,
    action: Action,
    unix_ms: u64,
) -> Arc<DecisionRecord> {
    let (timestamp, _) =
        crate::audit::timestamp(std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_ms));
    Arc::new(DecisionRecord {
        timestamp,
        unix_ms,
        tier,
        request_id: format!("{unix_ms:032x}"),
        trace_id: format!("{unix_ms:032x}"),
        route: route.to_owned(),
        client: client.to_owned(),
        principal: None,
        check,
        rule: rule.to_owned(),
        location: location.to_owned(),
        reason: "attack-detected",
        status: 403,
        score: 5,
        action,
        explanation: Vec::new(),
    })
}

const T0: u64 = 1_800_000_000_000;

#[test]
fn groups_by_route_check_rule_and_location_with_counts_and_first_last_seen() {
    let store = EventStore::new(100);
    let s = "screening";
    for (i, (route, rule, location, client, action)) in [
        ("search", "sqli-001", "query:q", "192.0.2.1", Action::Block),
        ("search", "sqli-001", "query:q", "192.0.2.2", Action::Report),
        ("search", "xss-001", "query:q", "192.0.2.1", Action::Block),
        ("search", "sqli-001", "query:q", "192.0.2.1", Action::Block),
        ("orders", "sqli-001", "query:q", "192.0.2.1", Action::Block),
        (
            "search",
            "sqli-001",
            "query:page",
            "192.0.2.1",
            Action::Block,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        store.push(record(
            "edge",
            route,
            s,
            rule,
            location,
            client,
            action,
            T0 + i as u64 * 1000,
        ));
    }
    let groups = store.groups(10);
    assert_eq!(groups.len(), 4);
    let top = &groups[0];
    assert_eq!(
        (top.route.as_str(), top.rule.as_str(), top.location.as_str()),
        ("search", "sqli-001", "query:q")
    );
    assert_eq!(
        (top.count, top.blocks, top.reports, top.clients),
        (3, 2, 1, 2)
    );
    assert_eq!(
        top.first_seen,
        crate::audit::timestamp(std::time::UNIX_EPOCH + std::time::Duration::from_millis(T0)).0
    );
    assert_eq!(
        top.last_seen,
        crate::audit::timestamp(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(T0 + 3000)
        )
        .0
    );
    // Ties: the most recent group first.
    assert_eq!(groups[1].location, "query:page");
    assert_eq!(store.groups(1).len(), 1, "bounded by the limit");

    let tops = store.tops(2);
    assert_eq!(
        tops.rules[0],
        Count {
            key: "screening/sqli-001".into(),
            count: 5
        }
    );
    assert_eq!(
        tops.routes[0],
        Count {
            key: "search".into(),
            count: 5
        }
    );
    assert_eq!(
        tops.clients[0],
        Count {
            key: "192.0.2.1".into(),
            count: 5
        },
        "blocked only"
    );
    assert_eq!(tops.rules.len(), 2);
}

#[test]
fn the_ring_is_bounded_and_totals_keep_counting() {
    let store = EventStore::new(3);
    for i in 0..5 {
        store.push(record(
            "inner",
            "r",
            "inspection",
            "x",
            "json:/a",
            "c",
            Action::Block,
            T0 + i,
        ));
    }
    let recent = store.recent(10);
    assert_eq!(recent.len(), 3);
    assert_eq!(recent[0].unix_ms, T0 + 4, "newest first");
    assert_eq!(recent[2].unix_ms, T0 + 2);
    assert_eq!(
        store.totals(),
        Totals {
            decisions: 5,
            blocks: 5,
            reports: 0
        }
    );
}

fn engine_rule() -> String {
    rampart_detect::Engine::builtin()
        .rules()
        .next()
        .unwrap()
        .id()
        .to_owned()
}

/// Parses `doc`, takes the policy at `path`, and validates it like the tier does.
fn policy_at(doc: &str, path: &[&str]) -> rampart_detect::PolicyConfig {
    let mut value: toml::Value = toml::from_str(doc).unwrap_or_else(|e| panic!("{e}\n{doc}"));
    for key in path {
        value = match value {
            toml::Value::Array(mut items) => items.remove(0),
            other => other,
        };
        value = value
            .get(*key)
            .unwrap_or_else(|| panic!("{key} in {doc}"))
            .clone();
    }
    let config: rampart_detect::PolicyConfig = value.try_into().unwrap();
    let engine = rampart_detect::Engine::builtin();
    rampart_detect::Policy::from_config(&config, &engine).unwrap_or_else(|e| panic!("{e}\n{doc}"));
    config
}

#[test]
fn exclusion_snippets_are_valid_policy_toml_for_each_tier() {
    let rule = engine_rule();
    let edge = exclusion(
        "edge",
        "search",
        "screening",
        "attack-detected",
        &rule,
        "query:q",
    )
    .unwrap();
    assert_eq!(edge.file, "edge.toml");
    assert_eq!(
        edge.global_snippet,
        format!(
            "# edge.toml\n[[screening.policy.exclusions]]\nrules = [\"{rule}\"]\nlocations = [\"query:q\"]\n"
        )
    );
    let route_snippet = edge.route_snippet.unwrap();
    assert!(
        route_snippet.contains("[[routes.screening.policy.exclusions]]\n"),
        "{route_snippet}"
    );
    let config = policy_at(&edge.global_snippet, &["screening", "policy"]);
    assert_eq!(config.exclusions[0].rules, vec![rule.clone()]);
    assert_eq!(config.exclusions[0].locations, vec!["query:q".to_owned()]);
    // Pasted under its route entry, it belongs to that route.
    let doc = format!("[[routes]]\nname = \"search\"\n{route_snippet}");
    let config = policy_at(&doc, &["routes", "screening", "policy"]);
    assert_eq!(config.exclusions[0].locations, vec!["query:q".to_owned()]);

    let inner = exclusion(
        "inner",
        "billing",
        "inspection",
        "attack-detected",
        &rule,
        "json:/items/0/note",
    )
    .unwrap();
    assert_eq!(inner.file, "inner.toml");
    let config = policy_at(&inner.global_snippet, &["inspection", "detection"]);
    assert_eq!(
        config.exclusions[0].locations,
        vec!["json:/items/0/note".to_owned()]
    );
    let doc = format!(
        "[[routes]]\nname = \"billing\"\n{}",
        inner.route_snippet.unwrap()
    );
    policy_at(&doc, &["routes", "inspection", "detection"]);
    // Without a route, only the global form.
    assert!(
        exclusion("edge", "", "screening", "attack-detected", &rule, "query:q")
            .unwrap()
            .route_snippet
            .is_none()
    );
}

#[test]
fn hostile_locations_cannot_break_out_of_the_snippet() {
    let rule = engine_rule();
    let location = "query:a\"]\n[server]\nx = \"\\\u{7}";
    let ex = exclusion(
        "edge",
        "r\"\n[x]",
        "screening",
        "attack-detected",
        &rule,
        location,
    )
    .unwrap();
    let config = policy_at(&ex.global_snippet, &["screening", "policy"]);
    assert_eq!(
        config.exclusions[0].locations,
        vec![location.to_owned()],
        "round-trips exactly"
    );
    let route = ex.route_snippet.unwrap();
    assert_eq!(
        route.lines().filter(|l| l.starts_with('[')).count(),
        1,
        "{route}"
    );
}

#[test]
fn no_snippet_where_an_exclusion_cannot_help_or_be_exact() {
    let rule = engine_rule();
    let table = [
        (
            "edge",
            "request-limits",
            "attack-detected",
            rule.as_str(),
            "query:q",
        ),
        ("edge", "rate-limit", "rate-limited", "per-ip", ""),
        (
            "edge",
            "screening",
            "bad-request",
            "decode-budget",
            "query:q",
        ),
        (
            "inner",
            "screening",
            "attack-detected",
            rule.as_str(),
            "query:q",
        ),
        (
            "edge",
            "screening",
            "attack-detected",
            rule.as_str(),
            "query:a*b",
        ),
        ("edge", "screening", "attack-detected", rule.as_str(), ""),
        ("edge", "screening", "attack-detected", "", "query:q"),
    ];
    for (tier, check, reason, rule, location) in table {
        assert!(
            exclusion(tier, "r", check, reason, rule, location).is_none(),
            "{tier} {check} {reason} {rule} {location}"
        );
    }
}

#![allow(clippy::unwrap_used)]

use super::registry::{MAX_VALUE_LEN, OVERFLOW, escape_value, label_text};
use super::*;

fn lines(out: &str, prefix: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn label_values_are_escaped_as_the_text_format_wants() {
    let table = [
        ("plain", "plain"),
        ("a\"b", "a\\\"b"),
        ("back\\slash", "back\\\\slash"),
        ("two\nlines", "two\\nlines"),
        ("tab\tstays", "tab\tstays"),
        ("ünïcode", "ünïcode"),
    ];
    for (raw, want) in table {
        assert_eq!(escape_value(raw), want, "{raw:?}");
    }
    assert_eq!(
        label_text(&["a", "b"], &["x\"", "y"]),
        "a=\"x\\\"\",b=\"y\""
    );
}

#[test]
fn counters_render_help_type_and_one_line_per_label_set() {
    static C: Counters = Counters::new(
        "test_things_total",
        "Things,\nwith a \\ in help.",
        &["tier", "kind"],
    );
    C.inc(&["edge", "a"]);
    C.add(&["edge", "a"], 2);
    C.inc(&["edge", "quote\"d"]);
    C.inc(&["inner", "a"]);
    let mut out = String::new();
    C.render(&mut out, Some("edge"));
    assert_eq!(
        out,
        concat!(
            "# HELP test_things_total Things,\\nwith a \\\\ in help.\n",
            "# TYPE test_things_total counter\n",
            "test_things_total{tier=\"edge\",kind=\"a\"} 3\n",
            "test_things_total{tier=\"edge\",kind=\"quote\\\"d\"} 1\n",
        )
    );
    let mut all = String::new();
    C.render(&mut all, None);
    assert_eq!(lines(&all, "test_things_total{").len(), 3);
    assert_eq!(C.value(&["inner", "a"]), 1);
}

#[test]
fn label_sets_past_the_cap_share_one_overflow_series_that_keeps_the_tier() {
    static C: Counters =
        Counters::with_max_series("test_capped_total", "Capped.", &["tier", "route"], 3);
    for i in 0..10 {
        C.inc(&["edge", &format!("r{i}")]);
    }
    // Known label sets keep counting after the cap was reached.
    C.inc(&["edge", "r0"]);
    assert_eq!(C.len(), 4, "three label sets and the overflow series");
    assert_eq!(C.value(&["edge", "r0"]), 2);
    assert_eq!(C.value(&["edge", "r3"]), 0);
    assert_eq!(C.value(&["edge", OVERFLOW]), 7);
    for i in 10..1000 {
        C.inc(&["inner", &format!("r{i}")]);
    }
    assert_eq!(C.len(), 5, "one overflow series per tier, nothing more");
    assert_eq!(C.value(&["inner", OVERFLOW]), 990);
}

#[test]
fn long_values_are_cut_and_separators_removed() {
    static C: Counters = Counters::new("test_long_total", "Long.", &["tier", "v"]);
    let long = "é".repeat(200);
    C.inc(&["edge", &long]);
    C.inc(&["edge", "a\u{1f}b"]);
    let mut out = String::new();
    C.render(&mut out, None);
    let kept = lines(&out, "test_long_total{")
        .into_iter()
        .find(|l| l.contains('é'))
        .unwrap();
    let value = kept.split('"').nth(3).unwrap();
    assert!(value.len() <= MAX_VALUE_LEN, "{}", value.len());
    assert!(out.contains("v=\"ab\""), "{out}");
}

#[test]
fn each_label_set_counts_in_its_own_series_from_any_thread() {
    static C: Counters = Counters::new("test_split_total", "Split.", &["tier", "a", "b"]);
    // Values that join to the same text but split differently are different series;
    // a separator inside a value is dropped, so "a\u{1f}b" is "ab".
    let incs: [[&str; 3]; 5] = [
        ["edge", "a", "bc"],
        ["edge", "ab", "c"],
        ["edge", "a\u{1f}b", "c"],
        ["inner", "a", "bc"],
        ["edge", "a", "bc"],
    ];
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for values in &incs {
                    C.inc(values);
                }
            });
        }
    });
    assert_eq!(C.value(&["edge", "a", "bc"]), 8);
    assert_eq!(C.value(&["edge", "ab", "c"]), 8);
    assert_eq!(C.value(&["inner", "a", "bc"]), 4);
    assert_eq!(C.len(), 3);
}

#[test]
fn missing_label_values_are_empty_and_extra_ones_ignored() {
    static C: Counters = Counters::new("test_arity_total", "Arity.", &["tier", "a", "b"]);
    C.inc(&["edge"]);
    C.inc(&["edge", "x", "y", "z"]);
    let mut out = String::new();
    C.render(&mut out, None);
    assert!(out.contains("test_arity_total{tier=\"edge\",a=\"\",b=\"\"} 1"));
    assert!(out.contains("test_arity_total{tier=\"edge\",a=\"x\",b=\"y\"} 1"));
}

#[test]
fn histogram_buckets_are_cumulative_and_inf_equals_count() {
    static H: Histograms = Histograms::new("test_seconds", "Latency.", &["tier"], &[0.1, 1.0]);
    for v in [0.05, 0.1, 0.5, 2.0, 7.5] {
        H.observe(&["edge"], v);
    }
    let mut out = String::new();
    H.render(&mut out, Some("edge"));
    assert_eq!(
        out,
        concat!(
            "# HELP test_seconds Latency.\n",
            "# TYPE test_seconds histogram\n",
            "test_seconds_bucket{tier=\"edge\",le=\"0.1\"} 2\n",
            "test_seconds_bucket{tier=\"edge\",le=\"1\"} 3\n",
            "test_seconds_bucket{tier=\"edge\",le=\"+Inf\"} 5\n",
            "test_seconds_sum{tier=\"edge\"} 10.15\n",
            "test_seconds_count{tier=\"edge\"} 5\n",
        )
    );
    assert_eq!(H.count(&["edge"]), 5);
}

#[test]
fn gauges_hold_the_last_value() {
    static G: Gauges = Gauges::new("test_up", "Up.", &["tier", "endpoint"]);
    G.set(&["edge", "a"], 1.0);
    G.set(&["edge", "a"], 0.0);
    G.set(&["edge", "b"], f64::NAN);
    let mut out = String::new();
    G.render(&mut out, Some("edge"));
    assert!(out.contains("# TYPE test_up gauge\n"));
    assert!(out.contains("test_up{tier=\"edge\",endpoint=\"a\"} 0\n"));
    assert!(out.contains("test_up{tier=\"edge\",endpoint=\"b\"} NaN\n"));
}

#[test]
fn scrape_time_gauges_render_like_the_others() {
    let mut out = String::new();
    render_gauge(
        &mut out,
        "rampart_x_up",
        "X.",
        &["tier", "endpoint"],
        [
            (vec!["edge", "127.0.0.1:1"], 1.0),
            (vec!["edge", "[::1]:2"], 0.0),
        ],
    );
    assert_eq!(
        out,
        concat!(
            "# HELP rampart_x_up X.\n",
            "# TYPE rampart_x_up gauge\n",
            "rampart_x_up{tier=\"edge\",endpoint=\"127.0.0.1:1\"} 1\n",
            "rampart_x_up{tier=\"edge\",endpoint=\"[::1]:2\"} 0\n",
        )
    );
}

#[test]
fn methods_map_to_a_fixed_set_of_classes() {
    let table = [
        ("GET", "GET"),
        ("HEAD", "HEAD"),
        ("POST", "POST"),
        ("PUT", "PUT"),
        ("PATCH", "PATCH"),
        ("DELETE", "DELETE"),
        ("OPTIONS", "OPTIONS"),
        ("get", "other"),
        ("PROPFIND", "other"),
        ("GET /admin", "other"),
        ("", "other"),
    ];
    for (method, class) in table {
        assert_eq!(method_class(method), class, "{method:?}");
    }
    let statuses = [
        (100, "100"),
        (200, "200"),
        (404, "404"),
        (599, "599"),
        (0, "other"),
        (99, "other"),
        (600, "other"),
        (999, "other"),
        (u16::MAX, "other"),
    ];
    for (status, label) in statuses {
        assert_eq!(status_label(status), label, "{status}");
    }
}

#[test]
fn rule_ids_are_labels_and_anything_request_shaped_is_not() {
    let table = [
        (None, "-"),
        (Some(""), "-"),
        (Some("942100"), "942100"),
        (Some("sqli-union"), "sqli-union"),
        (Some("body-size"), "body-size"),
        (Some("per-ip"), "per-ip"),
        (Some("rule.v2:x_y"), "rule.v2:x_y"),
        (Some("/orders/123"), "other"),
        (Some("198.51.100.7/32"), "other"),
        (Some("x y"), "other"),
        (Some("a\"b"), "other"),
    ];
    for (rule, want) in table {
        assert_eq!(rule_label(rule), want, "{rule:?}");
    }
    let long = "a".repeat(65);
    assert_eq!(rule_label(Some(&long)), "other");
}

#[test]
fn a_tier_renders_only_its_own_series() {
    request_finished(
        "test-tier-a",
        "orders",
        "POST",
        201,
        Duration::from_millis(3),
    );
    request_finished("test-tier-a", "", "BREW", 0, Duration::from_millis(3));
    request_finished("test-tier-b", "orders", "GET", 200, Duration::ZERO);
    phase("test-tier-a", Phase::Backend, Duration::from_millis(1));
    ratelimit("test-tier-a", "per-ip", RateDecision::ExceedQuota);
    let denial = Denial::new("inspection", rampart_core::problem::Reason::AttackDetected)
        .with_rule("942100");
    super::denial("test-tier-a", &denial, crate::audit::Action::Block);
    let out = render("test-tier-a");
    for want in [
        "rampart_http_requests_total{tier=\"test-tier-a\",route=\"orders\",method=\"POST\",status=\"201\"} 1",
        "rampart_http_requests_total{tier=\"test-tier-a\",route=\"-\",method=\"other\",status=\"other\"} 1",
        "rampart_request_duration_seconds_count{tier=\"test-tier-a\",route=\"orders\"} 1",
        "rampart_phase_duration_seconds_count{tier=\"test-tier-a\",phase=\"backend\"} 1",
        "rampart_ratelimit_decisions_total{tier=\"test-tier-a\",policy=\"per-ip\",decision=\"quota_exceeded\"} 1",
        "rampart_denials_total{tier=\"test-tier-a\",check=\"inspection\",rule=\"942100\",reason=\"attack-detected\",action=\"block\"} 1",
    ] {
        assert!(out.contains(want), "missing {want} in\n{out}");
    }
    assert!(!out.contains("test-tier-b"), "{out}");
    for family in [
        "rampart_http_requests_total counter",
        "rampart_denials_total counter",
        "rampart_request_duration_seconds histogram",
        "rampart_phase_duration_seconds histogram",
        "rampart_ratelimit_decisions_total counter",
    ] {
        assert!(out.contains(&format!("# TYPE {family}\n")), "{family}");
    }
}

#[test]
fn health_gauges_show_one_and_zero_per_configured_name() {
    let out = inner_endpoints_up(
        "edge",
        [
            ("10.0.0.1:9443".to_owned(), true),
            ("10.0.0.2:9443".to_owned(), false),
        ],
    );
    assert!(out.contains("# TYPE rampart_inner_endpoint_up gauge\n"));
    assert!(
        out.contains("rampart_inner_endpoint_up{tier=\"edge\",endpoint=\"10.0.0.1:9443\"} 1\n")
    );
    assert!(
        out.contains("rampart_inner_endpoint_up{tier=\"edge\",endpoint=\"10.0.0.2:9443\"} 0\n")
    );
    let out = upstreams_up("inner", [("app".to_owned(), false)]);
    assert!(out.contains("rampart_upstream_up{tier=\"inner\",upstream=\"app\"} 0\n"));
}

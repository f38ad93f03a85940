use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn set(cidrs: &[&str]) -> IpSet {
    cidrs.iter().map(|c| c.parse::<Cidr>().unwrap()).collect()
}

#[test]
fn parses_cidrs_strictly() {
    let ok = [
        ("192.0.2.0/24", "192.0.2.0/24"),
        ("192.0.2.7", "192.0.2.7/32"),
        (" 10.0.0.0/8 ", "10.0.0.0/8"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("::/0", "::/0"),
        ("::ffff:192.0.2.0/120", "192.0.2.0/24"),
        ("::ffff:192.0.2.7", "192.0.2.7/32"),
    ];
    for (input, want) in ok {
        assert_eq!(input.parse::<Cidr>().unwrap().to_string(), want, "{input}");
    }
    let bad = [
        ("192.0.2.1/24", "host bits set; did you mean 192.0.2.0/24?"),
        ("192.0.2.0/33", "invalid prefix length"),
        ("192.0.2.0/+8", "invalid prefix length"),
        ("192.0.2.0/", "invalid prefix length"),
        ("2001:db8::1/32", "host bits set"),
        ("192.0.2", "not an IP address"),
        ("example.com", "not an IP address"),
        ("", "not an IP address"),
    ];
    for (input, want) in bad {
        let err = input.parse::<Cidr>().unwrap_err().to_string();
        assert!(err.contains(want), "{input}: {err}");
    }
}

#[test]
fn looks_up_addresses_in_merged_ranges() {
    let s = set(&[
        "192.0.2.0/25",
        "192.0.2.128/25",
        "10.0.0.0/8",
        "10.1.0.0/16",
        "2001:db8::/32",
        "255.255.255.255",
    ]);
    assert_eq!(s.ranges(), 4, "adjacent and nested ranges merge");
    let table = [
        ("192.0.2.0", true),
        ("192.0.2.255", true),
        ("192.0.3.0", false),
        ("192.0.1.255", false),
        ("10.200.0.1", true),
        ("11.0.0.0", false),
        ("255.255.255.255", true),
        ("::ffff:192.0.2.9", true),
        ("::ffff:192.0.3.9", false),
        ("2001:db8:ffff::1", true),
        ("2001:db9::1", false),
        ("::", false),
        ("0.0.0.0", false),
    ];
    for (addr, want) in table {
        assert_eq!(s.contains(ip(addr)), want, "{addr}");
    }
    assert!(set(&["0.0.0.0/0"]).contains(ip("1.2.3.4")));
    assert!(!set(&["0.0.0.0/0"]).contains(ip("2001:db8::1")));
    assert!(set(&["::/0"]).contains(ip("2001:db8::1")));
    assert!(IpSet::default().is_empty());
}

#[test]
fn parses_list_files_with_comments_and_line_numbers() {
    let text = "# Spamhaus DROP\n; comment\n\n192.0.2.0/24 ; SBL123\n198.51.100.7 # one host\n  2001:db8::/32  \n";
    let s = parse_list(text).unwrap();
    assert!(
        s.contains(ip("192.0.2.99"))
            && s.contains(ip("198.51.100.7"))
            && s.contains(ip("2001:db8::1"))
    );
    assert!(!s.contains(ip("198.51.100.8")));
    let errors = parse_list("192.0.2.0/24\nnot-an-ip\n10.0.0.1/8 ; host bits\n").unwrap_err();
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [2, 3]);
    let many = "x\n".repeat(1000);
    assert_eq!(
        parse_list(&many).unwrap_err().len(),
        20,
        "bounded error report"
    );
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn decides_with_deny_winning_and_allow_lists_closing() {
    let mut lists = IpLists::default();
    lists.insert("office", set(&["192.0.2.0/24"]));
    lists.insert("drop", set(&["192.0.2.66", "203.0.113.0/24"]));
    let allow_office = IpPolicyConfig {
        allow: vec!["office".into(), "198.51.100.0/24".into()],
        deny: vec!["drop".into(), "192.0.2.99".into()],
    };
    let policy = IpPolicy::new(&allow_office, &lists).unwrap();
    let deny = |l: &str| IpDecision::Deny {
        list: Some(Arc::from(l)),
    };
    let table = [
        ("192.0.2.10", IpDecision::Allow),
        ("::ffff:192.0.2.10", IpDecision::Allow),
        ("198.51.100.1", IpDecision::Allow),
        ("192.0.2.66", deny("drop")),
        ("192.0.2.99", deny("inline")),
        ("203.0.113.5", deny("drop")),
        ("8.8.8.8", IpDecision::Deny { list: None }),
    ];
    for (addr, want) in table {
        assert_eq!(policy.decide(ip(addr)), want, "{addr}");
    }
    let deny_only = IpPolicyConfig {
        allow: vec![],
        deny: vec!["drop".into()],
    };
    let policy = IpPolicy::new(&deny_only, &lists).unwrap();
    assert_eq!(policy.decide(ip("8.8.8.8")), IpDecision::Allow);
    assert_eq!(policy.decide(ip("203.0.113.5")), deny("drop"));
    let unknown = IpPolicyConfig {
        allow: vec!["ofice".into()],
        deny: vec!["10.0.0.1/8".into()],
    };
    let err = IpPolicy::new(&unknown, &lists).unwrap_err().to_string();
    assert!(
        err.contains("allow[0]") && err.contains("deny[0]") && err.contains("host bits"),
        "{err}"
    );
    assert!(toml::from_str::<IpPolicyConfig>("allow = []\nblock = []").is_err());
}

#[test]
fn loading_reports_every_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.txt");
    let bad = dir.path().join("bad.txt");
    write(&good, "192.0.2.0/24\n");
    write(&bad, "192.0.2.0/24\nnope\n");
    let files = BTreeMap::from([
        ("good".to_owned(), good.clone()),
        ("bad".to_owned(), bad),
        ("missing".to_owned(), dir.path().join("missing.txt")),
    ]);
    let errors = IpLists::load(&files).unwrap_err();
    assert_eq!(errors.len(), 2);
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(text[0].contains("bad.txt: line 2"), "{text:?}");
    assert!(text[1].contains("missing.txt"), "{text:?}");
    let lists = IpLists::load(&BTreeMap::from([("good".to_owned(), good)])).unwrap();
    assert!(lists.get("good").unwrap().contains(ip("192.0.2.1")));
    assert!(lists.get("bad").is_none());
}

/// Sets a file's modification time so a change is seen even within one clock tick.
fn touch(path: &Path, secs: u64) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

#[tokio::test]
async fn reloads_changed_files_and_keeps_the_last_good_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drop.txt");
    write(&path, "192.0.2.0/24\n");
    let lists = IpLists::load(&BTreeMap::from([("drop".to_owned(), path.clone())])).unwrap();
    let policy = IpPolicy::new(
        &IpPolicyConfig {
            allow: vec![],
            deny: vec!["drop".into()],
        },
        &lists,
    )
    .unwrap();
    let mut watcher = IpListWatcher::new(&lists, Duration::from_millis(10));
    assert_eq!(watcher.poll().await, vec![], "nothing changed");

    write(&path, "198.51.100.0/24\n");
    touch(&path, 1_000);
    let events = watcher.poll().await;
    assert_eq!(
        events,
        vec![ReloadEvent::Reload {
            list: "drop".into(),
            ranges: 1
        }]
    );
    assert_eq!(policy.decide(ip("192.0.2.1")), IpDecision::Allow);
    assert!(matches!(
        policy.decide(ip("198.51.100.1")),
        IpDecision::Deny { .. }
    ));

    write(&path, "198.51.100.0/24\ngarbage\n");
    touch(&path, 2_000);
    let events = watcher.poll().await;
    assert!(
        matches!(&events[..], [ReloadEvent::KeepPrevious { list, error: IpListError::Parse { errors, .. } }] if list == "drop" && errors[0].line == 2),
        "{events:?}"
    );
    assert!(
        matches!(policy.decide(ip("198.51.100.1")), IpDecision::Deny { .. }),
        "last good set kept"
    );
    assert_eq!(watcher.poll().await, vec![], "a failure is reported once");

    std::fs::remove_file(&path).unwrap();
    let events = watcher.poll().await;
    assert!(
        matches!(
            &events[..],
            [ReloadEvent::KeepPrevious {
                error: IpListError::Read { .. },
                ..
            }]
        ),
        "{events:?}"
    );
    assert_eq!(watcher.poll().await, vec![]);
    assert!(matches!(
        policy.decide(ip("198.51.100.1")),
        IpDecision::Deny { .. }
    ));
}

#[tokio::test]
async fn runs_on_its_period_until_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("allow.txt");
    write(&path, "192.0.2.0/24\n");
    let lists = IpLists::load(&BTreeMap::from([("allow".to_owned(), path.clone())])).unwrap();
    let watcher = IpListWatcher::new(&lists, Duration::from_millis(20));
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let (stop_tx, stop) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(watcher.run(
        move |e| {
            let _ = events_tx.send(e);
        },
        async move {
            let _ = stop.await;
        },
    ));
    write(&path, "203.0.113.0/24\n");
    touch(&path, 5_000);
    let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        event,
        ReloadEvent::Reload {
            list: "allow".into(),
            ranges: 1
        }
    );
    assert!(lists.get("allow").unwrap().contains(ip("203.0.113.1")));
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

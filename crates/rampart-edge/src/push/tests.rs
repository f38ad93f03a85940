#![allow(clippy::unwrap_used)]

use rampart_proto::v1::PolicyDocument;

use super::*;

fn doc(name: &str, content: &str) -> PolicyDocument {
    PolicyDocument {
        name: name.to_owned(),
        content: bytes::Bytes::copy_from_slice(content.as_bytes()),
    }
}

fn signer() -> format::Signer {
    format::Signer::from_pem(&format::generate().unwrap().0).unwrap()
}

fn all_sections() -> Vec<String> {
    PUSHABLE_SECTIONS.iter().map(|s| (*s).to_owned()).collect()
}

/// An edge.toml that loads (development PKI for the link) with a local deny entry.
fn edge_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    rampart_tls::pki::write_dev_pki(&dir.path().join("pki"), &Default::default()).unwrap();
    let text = r#"
[server]
http_listen = "127.0.0.1:0"
[inner]
endpoints = ["127.0.0.1:1"]
server_name = "rampart-inner"
ca = "pki/ca.pem"
client_cert = "pki/edge-client.pem"
client_key = "pki/edge-client.key"
[ip_policy]
deny = ["192.0.2.0/24"]
"#;
    std::fs::write(dir.path().join("edge.toml"), text).unwrap();
    dir
}

#[test]
fn push_config_takes_keys_inline_or_from_files_and_names_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let key = signer().public_key().to_string();
    std::fs::write(dir.path().join("push.pub"), format!("{key}\n")).unwrap();
    let raw = |text: &str| -> RawPush { toml::from_str(text).unwrap() };
    let cases: &[(String, Result<usize, &[&str]>)] = &[
        (
            format!("trusted_keys = [\"{key}\", \"push.pub\"]\nstate_dir = \"state\""),
            Ok(2),
        ),
        (
            format!("trusted_keys = [\"{key}\"]\nstate_dir = \"s\"\nsections = [\"ip_policy\"]"),
            Ok(1),
        ),
        (
            format!("trusted_keys = [\"{key}\"]\nstate_dir = \"s\"\nsections = [\"inner\"]"),
            Err(&["push.sections[0]"]),
        ),
        (
            "trusted_keys = []\nstate_dir = \"s\"".to_owned(),
            Err(&["push.trusted_keys"]),
        ),
        (
            "trusted_keys = [\"ed25519:AAAA\", \"missing.pub\"]".to_owned(),
            Err(&[
                "push.trusted_keys[0]",
                "push.trusted_keys[1]",
                "push.state_dir",
            ]),
        ),
    ];
    for (text, want) in cases {
        let mut p = Problems::default();
        let got = validate(&mut p, dir.path(), &raw(text));
        let keys: Vec<String> = match p.finish(Path::new("edge.toml"), Some(())) {
            Ok(()) => Vec::new(),
            Err(rampart_core::config::ConfigError::Invalid { problems, .. }) => {
                problems.into_iter().map(|p| p.key).collect()
            }
            Err(e) => panic!("{e}"),
        };
        match want {
            Ok(n) => {
                assert!(keys.is_empty(), "{text}: {keys:?}");
                let config = got.unwrap();
                assert_eq!(config.trusted.len(), *n, "{text}");
                assert!(config.state_dir.starts_with(dir.path()));
            }
            Err(want) => assert_eq!(keys, *want, "{text}"),
        }
    }
    let mut p = Problems::default();
    assert!(validate(&mut p, dir.path(), &raw("enabled = false")).is_none());
    assert!(p.is_empty());
}

#[test]
fn an_overlay_points_document_names_at_their_files_and_refuses_foreign_sections() {
    let s = signer();
    let dir = Path::new("/state/v7");
    let bundle = s.sign(
        7,
        1,
        vec![
            doc(
                POLICY_DOCUMENT,
                "[ip_lists.files]\ndrop = \"lists/drop.txt\"\n[ip_policy]\ndeny = [\"drop\", \"lists/drop.txt.bak\"]\n",
            ),
            doc("lists/drop.txt", "198.51.100.0/24\n"),
        ],
    );
    let overlay = overlay(&all_sections(), &bundle, dir).unwrap();
    let text = toml::to_string(&overlay.sections).unwrap();
    assert!(
        text.contains("drop = \"/state/v7/lists/drop.txt\""),
        "{text}"
    );
    // A look-alike string that names no document stays as written.
    assert!(text.contains("\"lists/drop.txt.bak\""), "{text}");

    for (policy, allowed) in [
        ("[server]\nhttp_listen = \"0.0.0.0:80\"\n", all_sections()),
        ("[inner]\nendpoints = []\n", all_sections()),
        ("[push]\nenabled = false\n", all_sections()),
        ("[admin]\ntokens = []\n", all_sections()),
        (
            "[rate_limit]\npolicies = []\n",
            vec!["ip_policy".to_owned()],
        ),
        ("not toml at all [", all_sections()),
    ] {
        let bundle = s.sign(8, 1, vec![doc(POLICY_DOCUMENT, policy)]);
        assert!(overlay_err(&allowed, &bundle), "{policy}");
    }
    let fine = s.sign(
        8,
        1,
        vec![doc(POLICY_DOCUMENT, "[rate_limit]\npolicies = []\n")],
    );
    assert!(!overlay_err(&all_sections(), &fine));
}

fn overlay_err(allowed: &[String], bundle: &PolicyBundle) -> bool {
    overlay(allowed, bundle, Path::new("/s")).is_err()
}

#[test]
fn pushed_sections_replace_the_files_own_and_a_broken_one_is_refused() {
    let dir = edge_dir();
    let edge = dir.path().join("edge.toml");
    let s = signer();
    let store = Store::new(dir.path().join("state"));
    let bundle = s.sign(
        3,
        1,
        vec![
            doc(
                POLICY_DOCUMENT,
                "[ip_lists.files]\nlan = \"deny.txt\"\n[ip_policy]\ndeny = [\"lan\"]\n",
            ),
            doc("deny.txt", "198.51.100.0/24\n"),
        ],
    );
    let docs = store.write_documents(&bundle).unwrap();
    let good = overlay(&all_sections(), &bundle, &docs).unwrap();
    let (config, raw) = merged(&edge, &good).unwrap();
    assert_eq!(raw["ip_policy"]["deny"][0].as_str(), Some("lan"));
    assert!(raw.contains_key("inner"), "the file's own sections stay");
    assert!(config.protections.ip_lists.get("lan").is_some());
    let decide = |ip: &str| config.protections.ip_policy.decide(ip.parse().unwrap());
    // The pushed policy denies its list and replaces the file's own deny entry.
    assert!(matches!(
        decide("198.51.100.7"),
        rampart_http::IpDecision::Deny { .. }
    ));
    assert_eq!(decide("192.0.2.7"), rampart_http::IpDecision::Allow);

    let broken = s.sign(
        4,
        1,
        vec![doc(
            POLICY_DOCUMENT,
            "[ip_policy]\ndeny = [\"not-a-cidr-or-list\"]\n",
        )],
    );
    let bad = overlay(&all_sections(), &broken, &docs).unwrap();
    let errors = merged(&edge, &bad).err().unwrap();
    assert!(
        errors[0].starts_with("with pushed version 4: "),
        "{errors:?}"
    );
}

#[test]
fn the_kept_bundle_round_trips_and_a_tampered_one_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("state"));
    assert!(store.read().unwrap().is_none());
    let s = signer();
    let trusted = [s.public_key().clone()];
    let bundle = s.sign(9, 1, vec![doc(POLICY_DOCUMENT, "[ip_policy]\ndeny = []\n")]);
    store.persist(&bundle).unwrap();
    let back = store.read().unwrap().unwrap();
    assert_eq!(back, bundle);
    assert!(format::verify(&back, &trusted, 0, MAX_BUNDLE_BYTES).is_ok());

    // One byte of the policy changed on disk.
    let file = dir.path().join("state/bundle.pb");
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.windows(4).position(|w| w == b"deny").unwrap();
    bytes[at] = b'D';
    std::fs::write(&file, &bytes).unwrap();
    let tampered = store.read().unwrap().unwrap();
    assert_eq!(
        format::verify(&tampered, &trusted, 0, MAX_BUNDLE_BYTES),
        Err(format::PushError::BadSignature)
    );
    std::fs::write(&file, b"\xff\xff\xff not a bundle").unwrap();
    assert!(store.read().is_err());
}

#[test]
fn documents_are_written_per_version_and_old_versions_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().to_owned());
    let s = signer();
    for version in [1, 2] {
        let b = s.sign(
            version,
            1,
            vec![doc(POLICY_DOCUMENT, ""), doc("a/b.txt", "x")],
        );
        let written = store.write_documents(&b).unwrap();
        assert_eq!(
            std::fs::read_to_string(written.join("a/b.txt")).unwrap(),
            "x"
        );
    }
    store.prune(2);
    assert!(!dir.path().join("v1").exists());
    assert!(dir.path().join("v2/a/b.txt").exists());
}

#[test]
fn check_builds_a_bundle_as_the_edge_would_and_names_every_refusal() {
    let dir = edge_dir();
    let edge = dir.path().join("edge.toml");
    let scratch = tempfile::tempdir().unwrap();
    let bundle = |policy: &str, extra: Vec<PolicyDocument>| {
        let mut documents = vec![doc(POLICY_DOCUMENT, policy)];
        documents.extend(extra);
        PolicyBundle {
            version: 1,
            documents,
            ..Default::default()
        }
    };
    let list = || vec![doc("deny.txt", "198.51.100.0/24\n")];
    let good = "[ip_lists.files]\nlan = \"deny.txt\"\n[ip_policy]\ndeny = [\"lan\"]\n";
    // Without `[push]` the edge takes nothing.
    let without = check(&edge, &bundle(good, list()), scratch.path()).unwrap_err();
    assert!(without[0].contains("no [push] section"), "{without:?}");

    let key = signer().public_key().to_string();
    let mut text = std::fs::read_to_string(&edge).unwrap();
    text.push_str(&format!(
        "[push]\ntrusted_keys = [\"{key}\"]\nstate_dir = \"state\"\nsections = [\"ip_lists\", \"ip_policy\"]\n"
    ));
    std::fs::write(&edge, text).unwrap();
    assert_eq!(check(&edge, &bundle(good, list()), scratch.path()), Ok(()));
    let cases = [
        (
            "[ip_policy]\ndeny = [\"not-a-cidr-or-list\"]\n",
            "ip_policy",
        ),
        ("[routes]\n", "not pushable to this edge"),
        ("[ip_policy\n", POLICY_DOCUMENT),
    ];
    for (policy, expected) in cases {
        let errors = check(&edge, &bundle(policy, Vec::new()), scratch.path()).unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{policy:?}: {errors:?}"
        );
    }
    // Nothing staged is left behind.
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
}

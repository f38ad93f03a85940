#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rustls_pki_types::pem::PemObject;

use super::*;
use crate::pki::{Ca, Leaf, LeafSpec, Usage, write_file};

/// A scratch directory removed on drop.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    pub(crate) fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rampart-tls-{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            unix_seconds(SystemTime::now())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn server_leaf(ca: &Ca, names: &[&str]) -> Leaf {
    let mut spec = LeafSpec::new(names[0], Usage::Server, 30);
    spec.dns = names.iter().map(|n| (*n).to_owned()).collect();
    ca.issue(&spec).unwrap()
}

fn write_leaf(dir: &Scratch, stem: &str, leaf: &Leaf) -> CertifiedKeyFiles {
    let cert = dir.0.join(format!("{stem}.pem"));
    let key = dir.0.join(format!("{stem}.key"));
    write_file(&cert, &leaf.cert_pem, false).unwrap();
    write_file(&key, &leaf.key_pem, true).unwrap();
    CertifiedKeyFiles { cert, key }
}

fn source(name: &str, files: CertifiedKeyFiles, names: Option<&[&str]>) -> CertSource {
    CertSource {
        name: name.to_owned(),
        files,
        server_names: names.map(|n| n.iter().map(|s| SniPattern::parse(s).unwrap()).collect()),
    }
}

fn loaded(source: CertSource, need_names: bool) -> (CertSource, LoadedCert) {
    let cert = LoadedCert::load(&source, need_names).unwrap();
    (source, cert)
}

fn der_of(leaf: &Leaf) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes()).unwrap()
}

#[test]
fn parses_server_names_and_refuses_look_alikes() {
    let table = [
        (
            "api.example.com",
            Some(SniPattern::Exact("api.example.com".into())),
        ),
        (
            "API.Example.com.",
            Some(SniPattern::Exact("api.example.com".into())),
        ),
        (
            "*.partner.example.com",
            Some(SniPattern::Wildcard("partner.example.com".into())),
        ),
        (
            "*.example.com",
            Some(SniPattern::Wildcard("example.com".into())),
        ),
        ("*.com", None),
        ("*", None),
        ("a.*.example.com", None),
        ("**.example.com", None),
        ("", None),
        ("127.0.0.1", None),
        ("exa mple.com", None),
    ];
    for (raw, want) in table {
        assert_eq!(SniPattern::parse(raw).ok(), want, "{raw:?}");
    }
}

#[test]
fn picks_certificates_by_server_name_with_wildcards_and_a_default() {
    let ca = Ca::generate("sni test", 1).unwrap();
    let dir = Scratch::new();
    let default = server_leaf(&ca, &["default.example.com"]);
    let api = server_leaf(&ca, &["api.example.com"]);
    let partner = server_leaf(&ca, &["*.partner.example.com"]);
    // Names given in config replace the certificate's own.
    let named = server_leaf(&ca, &["ignored.example.com"]);
    let store = CertStore::new(
        loaded(
            source("default", write_leaf(&dir, "d", &default), None),
            false,
        ),
        vec![
            loaded(source("api", write_leaf(&dir, "a", &api), None), true),
            loaded(
                source("partner", write_leaf(&dir, "p", &partner), None),
                true,
            ),
            loaded(
                source(
                    "named",
                    write_leaf(&dir, "n", &named),
                    Some(&["www.example.org"]),
                ),
                true,
            ),
        ],
    );
    let resolver = store.resolver();
    let table: [(Option<&str>, &Leaf); 12] = [
        (Some("api.example.com"), &api),
        (Some("API.EXAMPLE.COM"), &api),
        (Some("api.example.com."), &api),
        (Some("a.partner.example.com"), &partner),
        (Some("b.partner.example.com"), &partner),
        // A wildcard covers one label, not the bare parent nor deeper names.
        (Some("partner.example.com"), &default),
        (Some("x.a.partner.example.com"), &default),
        (Some("www.example.org"), &named),
        (Some("ignored.example.com"), &default),
        (Some("unknown.example.net"), &default),
        (Some("api.example.com.evil.test"), &default),
        (None, &default),
    ];
    for (sni, want) in table {
        assert_eq!(resolver.leaf_for(sni), Some(der_of(want)), "{sni:?}");
    }
}

#[test]
fn refuses_an_extra_certificate_that_names_nothing() {
    let ca = Ca::generate("sni test", 1).unwrap();
    let dir = Scratch::new();
    let leaf = server_leaf(&ca, &["127.0.0.1"]); // an IP SAN, no DNS name
    let files = write_leaf(&dir, "ip", &leaf);
    let refused = LoadedCert::load(&source("ip", files.clone(), None), true);
    assert!(
        matches!(refused, Err(TlsError::NoServerNames(_))),
        "{refused:?}"
    );
    // As the default certificate it is fine: it answers whatever is unmatched.
    assert!(LoadedCert::load(&source("ip", files, None), false).is_ok());
}

#[test]
fn refuses_a_key_that_belongs_to_another_certificate() {
    let ca = Ca::generate("sni test", 1).unwrap();
    let dir = Scratch::new();
    let one = write_leaf(&dir, "one", &server_leaf(&ca, &["one.example.com"]));
    let two = write_leaf(&dir, "two", &server_leaf(&ca, &["two.example.com"]));
    let mixed = CertifiedKeyFiles {
        cert: one.cert.clone(),
        key: two.key,
    };
    let refused = LoadedCert::load(&source("mixed", mixed, None), true);
    let Err(e @ TlsError::KeyMismatch { .. }) = refused else {
        panic!("expected a key mismatch, got {refused:?}");
    };
    assert!(e.to_string().contains("two.key"), "{e}");
    assert!(LoadedCert::load(&source("one", one, None), true).is_ok());
}

#[test]
fn reloads_changed_files_and_keeps_the_last_good_certificate_on_bad_ones() {
    let ca = Ca::generate("reload test", 1).unwrap();
    let dir = Scratch::new();
    let first = server_leaf(&ca, &["api.example.com"]);
    let default = server_leaf(&ca, &["default.example.com"]);
    let files = write_leaf(&dir, "api", &first);
    let mut store = CertStore::new(
        loaded(
            source("default", write_leaf(&dir, "d", &default), None),
            false,
        ),
        vec![loaded(source("api", files.clone(), None), true)],
    );
    let resolver = store.resolver();
    assert!(store.reload(false).is_empty(), "nothing changed yet");

    // A new certificate and key: new handshakes get it.
    let second = server_leaf(&ca, &["api.example.com"]);
    write_leaf(&dir, "api", &second);
    let events = store.reload(false);
    assert!(
        matches!(&events[..], [CertEvent::Reload { certificate, .. }] if certificate == "api"),
        "{events:?}"
    );
    assert_eq!(
        resolver.leaf_for(Some("api.example.com")),
        Some(der_of(&second))
    );
    assert!(store.reload(false).is_empty(), "reported once per change");

    // Garbage: refused with the file's name, the last good one stays.
    write_file(&files.cert, "not a certificate", false).unwrap();
    let events = store.reload(false);
    let [CertEvent::KeepPrevious { certificate, error }] = &events[..] else {
        panic!("{events:?}");
    };
    assert_eq!(certificate, "api");
    assert!(error.to_string().contains("api.pem"), "{error}");
    assert_eq!(
        resolver.leaf_for(Some("api.example.com")),
        Some(der_of(&second))
    );

    // A certificate whose key is not (yet) the right one: refused too.
    let third = server_leaf(&ca, &["api.example.com"]);
    write_file(&files.cert, &third.cert_pem, false).unwrap();
    let events = store.reload(false);
    assert!(
        matches!(
            &events[..],
            [CertEvent::KeepPrevious {
                error: TlsError::KeyMismatch { .. },
                ..
            }]
        ),
        "{events:?}"
    );
    assert_eq!(
        resolver.leaf_for(Some("api.example.com")),
        Some(der_of(&second))
    );
    // ... until the key arrives.
    write_file(&files.key, &third.key_pem, true).unwrap();
    assert_eq!(store.reload(false).len(), 1);
    assert_eq!(
        resolver.leaf_for(Some("api.example.com")),
        Some(der_of(&third))
    );

    // A missing file is a change too; the certificate stays.
    std::fs::remove_file(&files.key).unwrap();
    assert!(matches!(
        &store.reload(false)[..],
        [CertEvent::KeepPrevious { .. }]
    ));
    assert_eq!(
        resolver.leaf_for(Some("api.example.com")),
        Some(der_of(&third))
    );

    // Forced (SIGHUP): every certificate is read again, unchanged or not.
    write_file(&files.key, &third.key_pem, true).unwrap();
    let forced = store.reload(true);
    assert_eq!(forced.len(), 2, "{forced:?}");
    assert!(forced.iter().all(|e| matches!(e, CertEvent::Reload { .. })));
}

#[test]
fn reports_seconds_until_each_certificate_expires() {
    let ca = Ca::generate("expiry test", 1).unwrap();
    let dir = Scratch::new();
    let mut soon = LeafSpec::new("soon.example.com", Usage::Server, 0);
    soon.not_after = time::Duration::hours(2);
    let mut gone = LeafSpec::new("gone.example.com", Usage::Server, 0);
    gone.not_before = time::Duration::days(-3);
    gone.not_after = time::Duration::days(-1);
    let store = CertStore::new(
        loaded(
            source(
                "soon",
                write_leaf(&dir, "soon", &ca.issue(&soon).unwrap()),
                None,
            ),
            false,
        ),
        vec![loaded(
            source(
                "gone",
                write_leaf(&dir, "gone", &ca.issue(&gone).unwrap()),
                None,
            ),
            true,
        )],
    );
    let now = SystemTime::now();
    let expiries = store.expiries(now);
    assert_eq!(expiries.len(), 2);
    assert_eq!(expiries[0].certificate, "soon");
    // Certificates carry whole seconds; allow for the time the test took.
    assert!(
        (7_100..=7_200).contains(&expiries[0].seconds),
        "{expiries:?}"
    );
    assert_eq!(expiries[1].certificate, "gone");
    assert!(
        (-86_500..=-86_300).contains(&expiries[1].seconds),
        "{expiries:?}"
    );
    // Time is injected: an hour later, an hour less.
    let later = store.expiries(now + Duration::from_secs(3600));
    assert_eq!(later[0].seconds, expiries[0].seconds - 3600);
}

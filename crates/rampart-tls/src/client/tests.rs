#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rcgen::{CertificateParams, DnType, KeyPair, SanType};
use rustls::CertificateError;
use rustls_pki_types::{CertificateDer, UnixTime};

use super::*;
use crate::certs::tests::Scratch;
use crate::pki::{Ca, LeafSpec, Usage, write_file};

/// A self-signed certificate with the given SANs and CN (principal derivation does not
/// look at the issuer).
fn cert(cn: Option<&str>, sans: Vec<SanType>) -> Vec<u8> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(cn) = cn {
        params.distinguished_name.push(DnType::CommonName, cn);
    }
    params.subject_alt_names = sans;
    let key = KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().der().to_vec()
}

fn uri(u: &str) -> SanType {
    SanType::URI(u.try_into().unwrap())
}
fn dns(d: &str) -> SanType {
    SanType::DnsName(d.try_into().unwrap())
}
fn email(e: &str) -> SanType {
    SanType::Rfc822Name(e.try_into().unwrap())
}

#[test]
fn parses_principal_rules_and_refuses_unknown_ones() {
    for rule in PrincipalRule::DEFAULT {
        assert_eq!(PrincipalRule::parse(&rule.to_string()).unwrap(), rule);
    }
    for bad in ["SAN_URI", "san-uri", "cn", "", "subject_cn "] {
        assert!(PrincipalRule::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn derives_the_principal_by_the_first_rule_with_a_value() {
    use PrincipalRule::*;
    let all = cert(
        Some("Partner One"),
        vec![
            dns("p1.partner.example"),
            email("ops@partner.example"),
            uri("spiffe://partner/p1"),
        ],
    );
    let cn_only = cert(Some("Partner Two"), vec![]);
    let dns_only = cert(None, vec![dns("p3.partner.example")]);
    // A CN with a control character must not reach logs or headers.
    let sneaky_cn = cert(Some("admin\nx-forwarded: evil"), vec![]);
    let sneaky_with_dns = cert(Some("admin\r\n"), vec![dns("p5.partner.example")]);
    let table: [(&[u8], &[PrincipalRule], Option<&str>); 10] = [
        (&all, &PrincipalRule::DEFAULT, Some("spiffe://partner/p1")),
        (&all, &[SanDns, SanUri], Some("p1.partner.example")),
        (&all, &[SanEmail], Some("ops@partner.example")),
        (&all, &[SubjectCn], Some("Partner One")),
        (&cn_only, &PrincipalRule::DEFAULT, Some("Partner Two")),
        (&cn_only, &[SanUri, SanDns], None),
        (&dns_only, &[SubjectCn, SanDns], Some("p3.partner.example")),
        (&dns_only, &[SubjectCn], None),
        (&sneaky_cn, &PrincipalRule::DEFAULT, None),
        (
            &sneaky_with_dns,
            &[SubjectCn, SanDns],
            Some("p5.partner.example"),
        ),
    ];
    for (i, (der, rules, want)) in table.into_iter().enumerate() {
        let got = ClientCert::from_der(der, rules);
        match want {
            Some(principal) => assert_eq!(got.unwrap().principal, principal, "case {i}"),
            None => assert!(
                matches!(got, Err(TlsError::NoPrincipal)),
                "case {i}: {got:?}"
            ),
        }
    }
    assert!(matches!(
        ClientCert::from_der(b"\x30\x03junk", &PrincipalRule::DEFAULT),
        Err(TlsError::BadClientCertificate)
    ));
}

#[test]
fn thumbprint_is_unpadded_base64url_sha256_of_the_certificate() {
    let one = cert(Some("one"), vec![]);
    let two = cert(Some("two"), vec![]);
    let a = ClientCert::from_der(&one, &PrincipalRule::DEFAULT).unwrap();
    let b = ClientCert::from_der(&two, &PrincipalRule::DEFAULT).unwrap();
    assert_eq!(a.der, one);
    assert_eq!(a.sha256_b64url.len(), 43, "32 bytes, no padding");
    assert!(
        a.sha256_b64url
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
    assert_ne!(a.sha256_b64url, b.sha256_b64url);
    let again = ClientCert::from_der(&one, &[PrincipalRule::SubjectCn]).unwrap();
    assert_eq!(a.sha256_b64url, again.sha256_b64url);
    // RFC 4648 test vector through the same encoding: SHA-256("abc").
    let abc = ring::digest::digest(&ring::digest::SHA256, b"abc");
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(abc),
        "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
    );
}

struct Partners {
    ca: Ca,
    dir: Scratch,
}

impl Partners {
    fn new() -> Self {
        Self {
            ca: Ca::generate("partners", 1).unwrap(),
            dir: Scratch::new(),
        }
    }

    fn roots(&self) -> RootCertStore {
        let path = self.dir.0.join("ca.pem");
        write_file(&path, self.ca.cert_pem(), false).unwrap();
        crate::load_roots(&path).unwrap()
    }
}

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

#[test]
fn verifier_refuses_revoked_unknown_and_expired_client_certificates() {
    let partners = Partners::new();
    let good = partners
        .ca
        .issue(&LeafSpec::new("good.partner", Usage::Client, 1))
        .unwrap();
    let revoked = partners
        .ca
        .issue(&LeafSpec::new("revoked.partner", Usage::Client, 1))
        .unwrap();
    let mut old = LeafSpec::new("old.partner", Usage::Client, 1);
    old.not_before = time::Duration::days(-3);
    old.not_after = time::Duration::days(-1);
    let expired = partners.ca.issue(&old).unwrap();
    let stranger = Ca::generate("somebody else", 1)
        .unwrap()
        .issue(&LeafSpec::new("good.partner", Usage::Client, 1))
        .unwrap();
    // A server certificate from the right CA is not a client certificate.
    let server_usage = partners
        .ca
        .issue(&LeafSpec::new("server.partner", Usage::Server, 1))
        .unwrap();

    let crl_path = partners.dir.0.join("partners.crl.pem");
    let crl = partners.ca.crl_pem(&[&revoked.cert_pem]).unwrap();
    write_file(&crl_path, &crl, false).unwrap();
    let verifier =
        optional_client_verifier(partners.roots(), load_crls(&crl_path).unwrap()).unwrap();
    assert!(verifier.offer_client_auth());
    assert!(!verifier.client_auth_mandatory(), "routes decide");

    let now = UnixTime::now();
    let verify = |pem: &str| verifier.verify_client_cert(&der(pem), &[], now).map(|_| ());
    assert!(verify(&good.cert_pem).is_ok());
    let table = [
        (&revoked, "revoked"),
        (&expired, "expired"),
        (&stranger, "unknown CA"),
        (&server_usage, "server usage"),
    ];
    for (leaf, why) in table {
        let refused = verify(&leaf.cert_pem);
        assert!(refused.is_err(), "{why} accepted");
        if why == "revoked" {
            assert_eq!(
                refused,
                Err(rustls::Error::InvalidCertificate(CertificateError::Revoked))
            );
        }
        if why == "unknown CA" {
            assert_eq!(
                refused,
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::UnknownIssuer
                ))
            );
        }
    }

    // Without the CRL the revoked certificate would pass: the list is what refuses it.
    let no_crl = optional_client_verifier(partners.roots(), Vec::new()).unwrap();
    assert!(
        no_crl
            .verify_client_cert(&der(&revoked.cert_pem), &[], now)
            .is_ok()
    );
}

#[test]
fn loads_crls_from_pem_or_der_and_refuses_junk_with_the_file_name() {
    let partners = Partners::new();
    let leaf = partners
        .ca
        .issue(&LeafSpec::new("x.partner", Usage::Client, 1))
        .unwrap();
    let pem = partners.ca.crl_pem(&[&leaf.cert_pem]).unwrap();
    let pem_path = partners.dir.0.join("list.crl.pem");
    write_file(&pem_path, &pem, false).unwrap();
    let from_pem = load_crls(&pem_path).unwrap();
    assert_eq!(from_pem.len(), 1);

    let der_path = partners.dir.0.join("list.crl");
    std::fs::write(&der_path, from_pem[0].as_ref()).unwrap();
    assert_eq!(load_crls(&der_path).unwrap(), from_pem);

    for (name, contents) in [
        ("junk.crl", &b"\x30\x82junk"[..]),
        (
            "empty.pem",
            b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
        ),
        ("text.crl", b"hello"),
    ] {
        let path = partners.dir.0.join(name);
        std::fs::write(&path, contents).unwrap();
        let err = load_crls(&path).unwrap_err();
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
}

#[test]
fn revocation_lists_reload_and_a_bad_one_keeps_the_previous() {
    let partners = Partners::new();
    let leaf = partners
        .ca
        .issue(&LeafSpec::new("later.partner", Usage::Client, 1))
        .unwrap();
    let crl_path = partners.dir.0.join("partners.crl.pem");
    write_file(&crl_path, &partners.ca.crl_pem(&[]).unwrap(), false).unwrap();
    let mut store = ClientAuthStore::new(partners.roots(), vec![crl_path.clone()]).unwrap();
    let verifier = store.verifier();
    assert!(verifier.offer_client_auth() && !verifier.client_auth_mandatory());
    let hints: Vec<&[u8]> = verifier
        .root_hint_subjects()
        .iter()
        .map(|d| d.as_ref())
        .collect();
    let subjects = partners.roots().subjects();
    assert_eq!(
        hints,
        subjects.iter().map(|d| d.as_ref()).collect::<Vec<_>>()
    );
    assert_eq!(hints.len(), 1);
    let now = UnixTime::now();
    let verify = || {
        verifier
            .verify_client_cert(&der(&leaf.cert_pem), &[], now)
            .map(|_| ())
    };
    assert!(verify().is_ok());
    assert!(store.reload(false).is_none(), "nothing changed");

    // A new list revoking the certificate applies to the next handshake.
    let revoking = partners.ca.crl_pem(&[&leaf.cert_pem]).unwrap();
    write_file(&crl_path, &revoking, false).unwrap();
    assert!(matches!(
        store.reload(false),
        Some(CrlEvent::Reload { lists: 1 })
    ));
    assert_eq!(
        verify(),
        Err(rustls::Error::InvalidCertificate(CertificateError::Revoked))
    );

    // A broken list does not un-revoke anything.
    write_file(
        &crl_path,
        "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
        false,
    )
    .unwrap();
    let Some(CrlEvent::KeepPrevious { error }) = store.reload(false) else {
        panic!("a broken list must be refused");
    };
    assert!(error.to_string().contains("partners.crl.pem"), "{error}");
    assert!(verify().is_err());
}

#![allow(clippy::unwrap_used)]

use super::*;

fn doc(name: &str, content: &str) -> PolicyDocument {
    PolicyDocument {
        name: name.to_owned(),
        content: bytes::Bytes::copy_from_slice(content.as_bytes()),
    }
}

fn signer() -> Signer {
    let (pem, _) = generate().unwrap();
    Signer::from_pem(&pem).unwrap()
}

fn bundle(signer: &Signer, version: u64) -> PolicyBundle {
    signer.sign(
        version,
        1_700_000_000,
        vec![
            doc(POLICY_DOCUMENT, "[ip_policy]\ndeny = [\"deny.txt\"]\n"),
            doc("deny.txt", "203.0.113.0/24\n"),
        ],
    )
}

#[test]
fn verifies_a_genuine_bundle_and_refuses_every_tampering() {
    let good = signer();
    let trusted = [good.public_key().clone()];
    type Edit = fn(&mut PolicyBundle, &Signer);
    // Each attack next to the look-alike that must pass.
    let cases: &[(&str, Edit, u64, Result<(), &str>)] = &[
        ("valid", |_, _| {}, 5, Ok(())),
        (
            "valid, just above running",
            |b, s| *b = bundle(s, 6),
            5,
            Ok(()),
        ),
        (
            "flipped payload byte",
            |b, _| {
                let mut c = b.documents[0].content.to_vec();
                c[0] ^= 1;
                b.documents[0].content = c.into();
            },
            5,
            Err("BadSignature"),
        ),
        (
            "renamed document",
            |b, _| b.documents[0].name = "allow.txt".to_owned(),
            5,
            Err("BadSignature"),
        ),
        (
            "version raised after signing",
            |b, _| b.version += 1,
            5,
            Err("BadSignature"),
        ),
        (
            "issued_at changed",
            |b, _| b.issued_at += 1,
            5,
            Err("BadSignature"),
        ),
        (
            "wrong key id",
            |b, _| b.key_id = "0011223344556677".to_owned(),
            5,
            Err("UnknownKey"),
        ),
        (
            "signed by an untrusted key",
            |b, _| *b = bundle(&signer(), 7),
            5,
            Err("UnknownKey"),
        ),
        (
            "untrusted signature under a trusted key id",
            |b, s| {
                let forged = bundle(&signer(), 7);
                b.signature = forged.signature;
                b.key_id = s.public_key().id().to_owned();
            },
            5,
            Err("BadSignature"),
        ),
        ("replay of the running version", |_, _| {}, 7, Err("Stale")),
        ("rollback", |_, _| {}, 8, Err("Stale")),
        (
            "truncated signature",
            |b, _| b.signature = b.signature.slice(..63),
            5,
            Err("MalformedSignature"),
        ),
        (
            "empty signature",
            |b, _| b.signature = Default::default(),
            5,
            Err("MalformedSignature"),
        ),
        (
            "oversize payload",
            |b, s| {
                let big = "x".repeat(MAX_BUNDLE_BYTES);
                *b = s.sign(9, 1, vec![doc(POLICY_DOCUMENT, &big)]);
            },
            5,
            Err("TooLarge"),
        ),
        (
            "payload just under the cap",
            |b, s| {
                let big = "x".repeat(MAX_BUNDLE_BYTES - 200);
                *b = s.sign(9, 1, vec![doc(POLICY_DOCUMENT, &big)]);
            },
            5,
            Ok(()),
        ),
        (
            "document climbing out of the state directory",
            |b, s| {
                *b = s.sign(
                    9,
                    1,
                    vec![doc(POLICY_DOCUMENT, ""), doc("../edge.toml", "")],
                );
            },
            5,
            Err("Documents"),
        ),
        (
            "no policy document",
            |b, s| *b = s.sign(9, 1, vec![doc("deny.txt", "")]),
            5,
            Err("Documents"),
        ),
    ];
    for (name, edit, running, want) in cases {
        let mut b = bundle(&good, 7);
        edit(&mut b, &good);
        let got = verify(&b, &trusted, *running, MAX_BUNDLE_BYTES);
        match (want, &got) {
            (Ok(()), Ok(())) => {}
            (Err(kind), Err(e)) => {
                let debug = format!("{e:?}");
                assert!(debug.starts_with(kind), "{name}: got {debug}, want {kind}");
            }
            _ => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn document_names_are_safe_relative_paths() {
    for ok in [
        "policy.toml",
        "lists/deny.txt",
        "consumers-v2.toml",
        "a_b/c.d",
    ] {
        assert!(check_name(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "/etc/passwd",
        "../x",
        "a/../b",
        "a//b",
        "./a",
        "a/",
        "a\\b",
        "a b",
        "é.txt",
    ] {
        assert!(check_name(bad).is_err(), "{bad:?}");
    }
    let long = "a".repeat(MAX_NAME + 1);
    assert!(check_name(&long).is_err());
}

#[test]
fn unsorted_or_repeated_documents_are_refused() {
    let sorted = [doc("a.txt", ""), doc(POLICY_DOCUMENT, "")];
    assert!(check_documents(&sorted).is_ok());
    let unsorted = [doc(POLICY_DOCUMENT, ""), doc("a.txt", "")];
    assert!(check_documents(&unsorted).is_err());
    let repeated = [doc(POLICY_DOCUMENT, ""), doc(POLICY_DOCUMENT, "")];
    assert!(check_documents(&repeated).is_err());
}

#[test]
fn public_keys_round_trip_through_their_text_form() {
    let s = signer();
    let text = s.public_key().to_string();
    let parsed = PublicKey::parse(&format!("  {text}\n")).unwrap();
    assert_eq!(&parsed, s.public_key());
    assert_eq!(parsed.id().len(), 16);
    for bad in [
        "ed25519:",
        "ed25519:AAAA",
        "rsa:AAAA",
        text.trim_start_matches("ed25519:"),
        "ed25519:!!!!",
    ] {
        assert!(PublicKey::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_private_key_survives_pem_and_refuses_garbage() {
    let (pem, public) = generate().unwrap();
    assert_eq!(Signer::from_pem(&pem).unwrap().public_key(), &public);
    assert!(
        Signer::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err()
    );
    assert!(Signer::from_pem("ed25519:AAAA").is_err());
}

#![allow(clippy::unwrap_used)]

use base64::Engine as _;

use super::*;

fn header(raw: &str) -> Vec<u8> {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
    .into_bytes()
}

#[test]
fn parses_basic_headers_strictly() {
    let ok = |user: &str, pw: &str| Ok(Credentials::new(user, pw));
    let bad = |why| Err(BasicRejection::Malformed { why });
    let long_pw = "p".repeat(MAX_PASSWORD_BYTES + 1);
    let cases: Vec<(&str, Vec<u8>, Result<Credentials, BasicRejection>)> = vec![
        ("plain", header("alice:pw"), ok("alice", "pw")),
        ("colon in password", header("alice:a:b"), ok("alice", "a:b")),
        ("utf-8", header("jürgen:pässwort"), ok("jürgen", "pässwort")),
        (
            "scheme case",
            b"bAsIc YWxpY2U6cHc=".to_vec(),
            ok("alice", "pw"),
        ),
        (
            "two spaces",
            b"Basic  YWxpY2U6cHc=".to_vec(),
            ok("alice", "pw"),
        ),
        (
            "bearer",
            b"Bearer abc".to_vec(),
            Err(BasicRejection::NotBasic),
        ),
        (
            "scheme only",
            b"Basic".to_vec(),
            Err(BasicRejection::NotBasic),
        ),
        (
            "prefixed scheme",
            b"XBasic YWxpY2U6cHc=".to_vec(),
            Err(BasicRejection::NotBasic),
        ),
        (
            "no padding",
            b"Basic YWxpY2U6cHc".to_vec(),
            bad("not canonical base64"),
        ),
        (
            "url-safe alphabet",
            header("a:>>?")
                .iter()
                .map(|&b| if b == b'+' { b'-' } else { b })
                .collect(),
            bad("not canonical base64"),
        ),
        (
            "trailing junk",
            b"Basic YWxpY2U6cHc= x".to_vec(),
            bad("not canonical base64"),
        ),
        ("no colon", header("alice"), bad("no colon")),
        (
            "empty user",
            header(":pw"),
            bad("user name empty or too long"),
        ),
        (
            "empty password",
            header("alice:"),
            bad("password empty or too long"),
        ),
        (
            "newline in user",
            header("ali\nce:pw"),
            bad("control character"),
        ),
        (
            "nul in password",
            header("alice:p\0w"),
            bad("control character"),
        ),
        (
            "latin-1",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(b"j\xfcrgen:pw")
            )
            .into_bytes(),
            bad("not UTF-8"),
        ),
        (
            "long password",
            header(&format!("alice:{long_pw}")),
            bad("password empty or too long"),
        ),
        (
            "long user",
            header(&format!("{}:pw", "u".repeat(MAX_USER_BYTES + 1))),
            bad("user name empty or too long"),
        ),
        (
            "too long",
            header(&format!("alice:{}", "p".repeat(2000))),
            bad("too long"),
        ),
    ];
    for (name, value, want) in cases {
        assert_eq!(parse_authorization(&value), want, "{name}");
    }
    assert!(!format!("{:?}", Credentials::new("u", "s3cret")).contains("s3cret"));
}

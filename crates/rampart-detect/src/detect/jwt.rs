//! JWT headers naming where to find their verification key (`jku`, `x5u`, `kid`).

use crate::decode;

/// The key URL of a token whose header names one (`jku` or `x5u`) on another site than
/// its issuer's, or with no issuer to compare: a verifier that fetches the key the header
/// names accepts a token signed by whoever serves that URL. Identity providers name their
/// own key sets (`"jku":"https://idp.example.com/keys"` with `"iss":
/// "https://idp.example.com/realms/a"`); a `kid` is a name, even when it is written as a
/// URL, and verifiers do not fetch it. Also a `kid` that is a file path (`/dev/null`,
/// `../../keys/x`): verifiers that read the key from the file the `kid` names then check
/// the signature with a key the attacker knows (an empty file, a public asset).
pub(crate) fn detect(text: &str) -> Option<String> {
    let header = decode::jwt_header(text)?;
    if !["\"jku\"", "\"x5u\"", "\"kid\""]
        .iter()
        .any(|k| header.contains(k))
    {
        return None;
    }
    let header: serde_json::Value = serde_json::from_str(&header).ok()?;
    let kid = header.get("kid").and_then(serde_json::Value::as_str);
    if let Some(kid) = kid.filter(|k| file_path(k)) {
        return Some(kid.chars().take(120).collect());
    }
    let url = ["jku", "x5u"]
        .into_iter()
        .filter_map(|k| header.get(k)?.as_str())
        .find(|v| v.contains("://"))?;
    let key_host = host(url)?;
    let claims =
        decode::jwt_claims(text).and_then(|c| serde_json::from_str::<serde_json::Value>(&c).ok());
    let issuer = claims
        .as_ref()
        .and_then(|c| c.get("iss")?.as_str())
        .and_then(host);
    let same = issuer.is_some_and(|h| same_site(&h, &key_host));
    (!same).then(|| url.chars().take(120).collect())
}

/// Whether a `kid` names a file: an absolute or climbing path, or a `file:` URL. Key ids
/// are opaque names, thumbprints or key vault URLs.
fn file_path(kid: &str) -> bool {
    let k = kid.trim();
    k.starts_with('/')
        || k.starts_with('\\')
        || k.contains("../")
        || k.contains("..\\")
        || k.get(..5).is_some_and(|s| s.eq_ignore_ascii_case("file:"))
}

/// The lowercased host of an absolute URL (`scheme://[userinfo@]host[:port]/...`).
fn host(url: &str) -> Option<String> {
    let rest = url.trim().split_once("://")?.1;
    let authority = rest.split(['/', '?', '#', '\\']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host_port.split(':').next()?,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// Same host, or the same last two labels (`keys.example.com`, `idp.example.com`).
fn same_site(a: &str, b: &str) -> bool {
    let site = |h: &str| {
        let mut labels = h.rsplitn(3, '.');
        let (tld, name) = (labels.next().unwrap_or(""), labels.next().unwrap_or(""));
        format!("{name}.{tld}")
    };
    a == b || (a.contains('.') && b.contains('.') && site(a) == site(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for c in s.as_bytes().chunks(3) {
            let n = c
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            for i in 0..=c.len() {
                out.push(char::from(T[(n >> (18 - 6 * i) & 63) as usize]));
            }
        }
        out
    }

    fn token(header: &str, claims: &str) -> String {
        format!("{}.{}.c2lnbmF0dXJl", b64(header), b64(claims))
    }

    #[test]
    fn key_urls_off_the_issuers_site() {
        let attacks = [
            token(
                r#"{"alg":"RS256","typ":"JWT","jku":"http://attacker.example/.well-known/jwks.json"}"#,
                r#"{"sub":"admin","role":"admin"}"#,
            ),
            token(
                r#"{"alg":"RS256","x5u":"https://evil.example/cert.pem"}"#,
                r#"{"sub":"admin","iss":"https://login.example.com/"}"#,
            ),
            token(
                r#"{"alg":"HS256","typ":"JWT","kid":"/dev/null"}"#,
                r#"{"sub":"1","role":"admin"}"#,
            ),
            token(
                r#"{"alg":"HS256","kid":"../../../../public/css/app.css"}"#,
                r#"{"sub":"1"}"#,
            ),
            format!(
                "Bearer {}",
                token(
                    r#"{"alg":"RS256","jku":"https://login.example.com@evil.example/k"}"#,
                    r#"{"iss":"https://login.example.com"}"#,
                )
            ),
        ];
        for a in &attacks {
            assert!(detect(a).is_some(), "missed {a}");
        }
        let legit = [
            token(
                r#"{"alg":"ES256","typ":"JWT","kid":"a1b2c3d4","jku":"https://idp.example.com/keys"}"#,
                r#"{"sub":"42","name":"Jane","iss":"https://idp.example.com/realms/a"}"#,
            ),
            token(
                r#"{"alg":"RS256","jku":"https://keys.example.com/jwks"}"#,
                r#"{"iss":"https://login.example.com"}"#,
            ),
            token(r#"{"alg":"RS256","kid":"k1"}"#, r#"{"sub":"1"}"#),
            token(
                r#"{"alg":"RS256","kid":"https://vault1.vault.azure.net/keys/sign/0a1b"}"#,
                r#"{"sub":"1"}"#,
            ),
            token(
                r#"{"alg":"ES256","kid":"2024-05/rotating+key=="}"#,
                r#"{"sub":"1"}"#,
            ),
            "jku and x5u are JOSE header parameters".to_owned(),
        ];
        for l in &legit {
            assert_eq!(detect(l), None, "flagged {l}");
        }
    }
}

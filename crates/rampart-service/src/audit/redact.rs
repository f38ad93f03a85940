//! Keeping credentials out of audit records.
//!
//! Detector fragments are request data. A fragment is dropped when it was found where
//! credentials live (authorization headers, cookies, names with `token`, `key`,
//! `secret`, `pass`, `session`, `auth`, ...), and any token-shaped run (a JWT, a long
//! mixed letters-and-digits string) is replaced wherever it appears.

/// Most explanation entries per record.
const MAX_ENTRIES: usize = 16;
/// Longest entry kept.
const MAX_ENTRY: usize = 256;
/// A run of token characters at least this long with letters and digits is a token.
const TOKEN_RUN: usize = 20;

pub(crate) const REDACTED: &str = "[redacted]";

const SECRET_NAMES: [&str; 13] = [
    "auth",
    "token",
    "key",
    "secret",
    "pass",
    "pwd",
    "session",
    "cookie",
    "credential",
    "signature",
    "private",
    "bearer",
    "jwt",
];

/// `s` cut to at most `max` bytes on a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Whether values found at `location` (`scope:name`) are credentials by their place.
pub(crate) fn is_secret_location(location: &str) -> bool {
    let location = location.to_ascii_lowercase();
    let (scope, name) = location.split_once(':').unwrap_or((&location, ""));
    scope == "cookie" || SECRET_NAMES.iter().any(|s| name.contains(s))
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '/' | '=' | '~')
}

/// `text` with every token-shaped run replaced.
pub(crate) fn scrub_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let letters = run.chars().any(|c| c.is_ascii_alphabetic());
        let digits = run.chars().any(|c| c.is_ascii_digit());
        if (run.len() >= TOKEN_RUN && letters && digits) || run.starts_with("eyJ") {
            out.push_str(REDACTED);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if is_token_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// One `rule@location: fragment` entry made safe to write.
fn entry(raw: &str) -> String {
    let raw = cut(raw, MAX_ENTRY * 4);
    let Some((head, fragment)) = raw.split_once(": ") else {
        return cut(&scrub_tokens(&raw), MAX_ENTRY);
    };
    let location = head.split_once('@').map_or("", |(_, l)| l);
    let fragment = if is_secret_location(location) {
        REDACTED.to_owned()
    } else {
        scrub_tokens(fragment)
    };
    cut(&format!("{}: {fragment}", scrub_tokens(head)), MAX_ENTRY)
}

/// The explanation as written: bounded, with fragments redacted where needed.
pub(crate) fn explanation(entries: &[String]) -> Vec<String> {
    entries.iter().take(MAX_ENTRIES).map(|e| entry(e)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_fragments_at_credential_locations_and_keeps_attacks_elsewhere() {
        let table = [
            // (entry, must not appear, must appear)
            (
                "sqli-001@query:access_token: ' or 1=1 -- abc",
                "or 1=1",
                "sqli-001@query:access_token: [redacted]",
            ),
            (
                "xss-002@header:authorization: <script>alert(1)</script>",
                "<script>",
                "[redacted]",
            ),
            (
                "sqli-003@cookie:sid: union select pass from users",
                "union select",
                "[redacted]",
            ),
            (
                "sqli-001@query:q: ' or 1=1 -- eyJhbGciOiJIUzI1NiJ9.e30.x",
                "eyJhbGciOiJIUzI1NiJ9",
                "' or 1=1 -- [redacted]",
            ),
            (
                "cmd-001@json:/note: ; cat /etc/passwd",
                "(never)",
                "cmd-001@json:/note: ; cat /etc/passwd",
            ),
            (
                "sqli-001@query:search: select your plan 2024",
                "(never)",
                "select your plan 2024",
            ),
        ];
        for (raw, absent, present) in table {
            let out = explanation(&[raw.to_owned()]);
            assert!(!out[0].contains(absent), "{raw} -> {out:?}");
            assert!(out[0].contains(present), "{raw} -> {out:?}");
        }
    }

    #[test]
    fn scrubs_token_shaped_runs_but_not_words() {
        assert_eq!(
            scrub_tokens("key=sk_live_51HqLyjWDarjtT1zdp7dc9 rest"),
            "[redacted] rest"
        );
        assert_eq!(
            scrub_tokens("an ordinary sentence about the year 2024"),
            "an ordinary sentence about the year 2024"
        );
    }

    #[test]
    fn bounds_entries_and_their_length() {
        let many: Vec<String> = (0..100)
            .map(|i| format!("r@q:x: {}", "a".repeat(i * 10)))
            .collect();
        let out = explanation(&many);
        assert_eq!(out.len(), MAX_ENTRIES);
        assert!(out.iter().all(|e| e.len() <= MAX_ENTRY));
        assert_eq!(cut("héllo", 2), "h");
    }
}

//! The fast path's declarations hold: random values that meet no declaration make no
//! detector fire and no decoder produce a variant.

use super::*;
use crate::decode::{Budget, variants};
use crate::engine::Engine;
use crate::rules::Matcher;

/// Words detectors react to, so random values get close to real shapes.
const WORDS: &[&str] = &[
    "select",
    "union",
    "or",
    "and",
    "sleep",
    "from",
    "where",
    "1",
    "x",
    "true",
    "null",
    "script",
    "alert",
    "javascript",
    "onerror",
    "img",
    "svg",
    "cat",
    "etc",
    "passwd",
    "id",
    "whoami",
    "sh",
    "bin",
    "curl",
    "wget",
    "nc",
    "jndi",
    "ldap",
    "lower",
    "env",
    "set-cookie",
    "location",
    "content-type",
    "http",
    "localhost",
    "127.0.0.1",
    "169.254.169.254",
    "git",
    "env",
    "ssh",
    "..",
    ".",
    "%2e",
    "admin",
    "password",
    "users",
    "drop",
    "table",
    "exec",
    "system",
    "php",
];

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}

/// A random value of words and characters from `alphabet`.
fn value(rng: &mut Rng, alphabet: &[char]) -> String {
    let mut s = String::new();
    for _ in 0..1 + rng.below(12) {
        if rng.below(2) == 0 {
            s.push_str(WORDS[rng.below(WORDS.len())]);
        } else {
            for _ in 0..1 + rng.below(3) {
                s.push(alphabet[rng.below(alphabet.len())]);
            }
        }
    }
    s
}

/// Printable ASCII, whitespace and a few non-ASCII characters (lookalikes included).
fn all_chars() -> Vec<char> {
    let mut v: Vec<char> = (0x20u8..0x7f).map(char::from).collect();
    v.extend([
        '\t', '\n', '\r', '\u{0b}', 'é', '\u{a0}', '\u{2024}', '\u{ff0e}', '\u{2215}',
    ]);
    v
}

fn builtin_detectors() -> Vec<Detector> {
    let engine = Engine::builtin();
    let mut out = Vec::new();
    for r in engine.rules() {
        if let Matcher::Detector(d) = r.matcher
            && !out.contains(&d)
        {
            out.push(d);
        }
    }
    out
}

#[test]
fn detectors_stay_silent_without_what_they_declare() {
    let kinds = [
        FieldKind::Path,
        FieldKind::QueryValue,
        FieldKind::HeaderValue,
        FieldKind::BodyValue,
    ];
    let detectors = builtin_detectors();
    assert!(detectors.len() >= 8, "{detectors:?}");
    for d in detectors {
        let needs = d.needs();
        let alphabet: Vec<char> = all_chars()
            .into_iter()
            .filter(|c| {
                let ascii = u8::try_from(u32::from(*c)).ok().filter(u8::is_ascii);
                match ascii {
                    Some(b) => !needs.bytes.contains(&b),
                    None => !needs.non_ascii,
                }
            })
            .collect();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ d as u64);
        let mut tried = 0;
        while tried < 4000 {
            let v = value(&mut rng, &alphabet);
            if needs.admits(&v) {
                continue;
            }
            tried += 1;
            for kind in kinds {
                assert_eq!(d.detect(&v, kind), None, "{} fired on {v:?}", d.name());
            }
        }
    }
}

#[test]
fn decoders_need_their_trigger_bytes() {
    let engine = Engine::builtin();
    let classes = &engine.compiled().classes;
    for kind in FieldKind::ALL {
        let triggers = decode::trigger_bytes(kind);
        let alphabet: Vec<char> = all_chars()
            .into_iter()
            .filter(|c| u8::try_from(u32::from(*c)).map_or(true, |b| !triggers.contains(&b)))
            .collect();
        let mut rng = Rng(0x1234_5678 ^ kind.index() as u64);
        for _ in 0..3000 {
            let v = value(&mut rng, &alphabet);
            let class = classes.classify(v.as_bytes(), kind);
            let found = variants(v.as_bytes(), kind, &mut Budget::default());
            if route(v.as_bytes(), kind, class, None).plain().is_some() {
                assert_eq!(found.len(), 1, "{kind}: {v:?} has variants {found:?}");
            }
        }
    }
}

#[test]
fn classes_mark_declared_bytes_and_decoder_triggers() {
    let engine = Engine::builtin();
    let classes = &engine.compiled().classes;
    let sqli = detector_bit(Detector::Sqli);
    let xss = detector_bit(Detector::Xss);
    let q = FieldKind::QueryValue;
    let h = FieldKind::HeaderValue;
    assert_eq!(
        classes.classify(b"2024-05-01", q) & (sqli | xss | DECODE),
        0
    );
    assert_ne!(classes.classify(b"O'Reilly", q) & sqli, 0);
    assert_ne!(classes.classify(b"a<b", q) & xss, 0);
    // `+` is a space in a query, not in a header; `=` starts form data only in values.
    assert_ne!(classes.classify(b"a+b", q) & DECODE, 0);
    assert_eq!(classes.classify(b"a+b", h) & DECODE, 0);
    assert_ne!(classes.classify(b"a=b", q) & DECODE, 0);
    assert_eq!(classes.classify(b"max-age", h) & NOT_B64, 0);
    assert_ne!(classes.classify(b"max-age;", h) & NOT_B64, 0);
    for v in ["%27", "&lt;", "\\u003c", "{\"a\":1}", "[1]"] {
        assert!(
            route(v.as_bytes(), h, classes.classify(v.as_bytes(), h), None)
                .plain()
                .is_none(),
            "{v}"
        );
    }
    // Base64 of text takes the full path, a plain word does not.
    for (v, plain) in [
        ("JyBvciAnMSc9JzE=", false),
        ("newsletter", true),
        ("c2VsZWN0IDE=", false),
    ] {
        let got = route(v.as_bytes(), q, classes.classify(v.as_bytes(), q), None)
            .plain()
            .is_some();
        assert_eq!(got, plain, "{v}");
    }
    // Invalid UTF-8 is decoded (lossily) on the full path.
    assert!(
        route(b"a\xffb", q, classes.classify(b"a\xffb", q), None)
            .plain()
            .is_none()
    );
}

#[test]
fn values_without_mixed_case_or_digits_have_no_base64_view() {
    let engine = Engine::builtin();
    let classes = &engine.compiled().classes;
    // Single-case words and ids over the base64 alphabet, in every kind.
    let alphabets: [&[char]; 4] = [
        &['a', 'b', 'z', '+', '/', '=', '-', '_', ' '],
        &['A', 'Q', 'Z', '+', '/', '=', '-', '_', ' '],
        &['0', '1', '9', '+', '/', '=', '-', '_', ' '],
        &['a', 'Q', '7', '+', '/', '=', '-', '_', ' '],
    ];
    let mut rng = Rng(0x5eed);
    for kind in FieldKind::ALL {
        for alphabet in alphabets {
            for _ in 0..3000 {
                let v: String = (0..6 + rng.below(40))
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect();
                let class = classes.classify(v.as_bytes(), kind);
                if !mixed(class) {
                    assert!(!decode::has_base64_view(&v, kind), "{kind}: {v:?}");
                }
            }
        }
    }
    // Base64 of text mixes cases or letters and digits, so it is still decoded.
    for v in ["c2VsZWN0IDE=", "JyBvciAnMSc9JzE=", "aWQ7"] {
        assert!(
            mixed(classes.classify(v.as_bytes(), FieldKind::QueryValue)),
            "{v}"
        );
    }
}

//! The edge's request-target normaliser: a normalised target is canonical (normalising
//! it again changes nothing), never climbs or hides a separator, and its decoded path is
//! exactly the percent-decoding of its canonical path.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_http::normalize_target;

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("ASCII escape");
            out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(target) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(n) = normalize_target(target, 64) else {
        return;
    };
    let path = n.path();
    assert!(path.starts_with('/'), "{path:?}");
    assert!(
        n.as_str().bytes().all(|b| b.is_ascii_graphic()),
        "non-printable byte in {:?}",
        n.as_str()
    );
    let upper = path.to_ascii_uppercase();
    for banned in ["%2F", "%5C", "%00", "\\"] {
        assert!(!upper.contains(banned), "{banned} in {path:?}");
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        assert!(!matches!(*seg, "." | ".."), "dot segment in {path:?}");
        // Only a trailing slash leaves an empty segment.
        assert!(
            !seg.is_empty() || i + 1 == segments.len(),
            "empty segment in {path:?}"
        );
    }
    let decoded = n.decoded_path();
    assert_eq!(percent_decode(path), decoded.as_bytes(), "{path:?}");
    assert!(
        !decoded.bytes().any(|b| b.is_ascii_control()),
        "control byte in {decoded:?}"
    );
    // Decoded once, nothing is left to decode (no double encoding).
    let d = decoded.as_bytes();
    assert!(
        !(0..d.len()).any(|i| d[i] == b'%'
            && d.get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))),
        "escape left in decoded {decoded:?}"
    );
    for seg in decoded.split('/') {
        let before_params = seg.split(';').next().unwrap_or(seg);
        assert!(
            !matches!(before_params, "." | ".."),
            "dot segment in decoded {decoded:?}"
        );
    }
    // Idempotent: the canonical form is a fixpoint.
    let again = normalize_target(n.as_str(), 64).expect("canonical target is accepted");
    assert_eq!(again, n);
    assert_eq!(n.query(), target.split_once('?').map(|(_, q)| q));
});

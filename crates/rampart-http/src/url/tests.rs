use super::*;
use UrlError::*;

#[test]
fn normalises_paths_attacks_next_to_look_alikes() {
    let table: [(&str, Result<&str, UrlError>); 48] = [
        // legitimate, sometimes rewritten
        ("/", Ok("/")),
        ("/a/b/../c", Ok("/a/c")),
        ("/a/./b/.", Ok("/a/b/")),
        ("/a/b/..", Ok("/a/")),
        ("/files/report..pdf", Ok("/files/report..pdf")),
        ("/.well-known/x", Ok("/.well-known/x")),
        ("/a/.../b", Ok("/a/.../b")),
        ("/caf%C3%A9", Ok("/caf%C3%A9")),
        ("/caf%c3%a9", Ok("/caf%C3%A9")),
        ("/café", Ok("/caf%C3%A9")),
        ("/a//b", Ok("/a/b")),
        ("//a///b//", Ok("/a/b/")),
        ("/a/", Ok("/a/")),
        ("/%41%7e", Ok("/A~")),
        ("/a%3Bb;c=d", Ok("/a%3Bb;c=d")),
        ("/a%20b", Ok("/a%20b")),
        ("/100%25", Ok("/100%25")),
        ("/100%25off", Ok("/100%25off")),
        ("/a{b}|c", Ok("/a%7Bb%7D%7Cc")),
        ("/user@host:8080/x", Ok("/user@host:8080/x")),
        ("/a/b%2e%2e", Ok("/a/b..")),
        ("/..a/b", Ok("/..a/b")),
        ("/%2e/a", Ok("/a")),
        ("/a/%2e%2e/b", Ok("/b")),
        // attacks
        ("/%2e%2e/etc/passwd", Err(AboveRoot)),
        ("/../etc/passwd", Err(AboveRoot)),
        ("/a/../../b", Err(AboveRoot)),
        ("/a/.%2e/.%2E/b", Err(AboveRoot)),
        ("/a%2Fb", Err(EncodedSeparator)),
        ("/a%2fb", Err(EncodedSeparator)),
        ("/a%5cb", Err(EncodedSeparator)),
        ("/a\\b", Err(Backslash)),
        ("/%C0%AE%C0%AE/", Err(InvalidUtf8)),
        ("/%C0%AF", Err(InvalidUtf8)),
        ("/%ED%A0%80", Err(InvalidUtf8)),
        ("/%FF", Err(InvalidUtf8)),
        ("/%252e%252e/", Err(DoubleEncoding)),
        ("/%25%32%65", Err(DoubleEncoding)),
        ("/a%00.jpg", Err(Nul)),
        ("/a\0b", Err(Nul)),
        ("/a%0d%0aSet-Cookie:x", Err(ControlChar)),
        ("/a\tb", Err(ControlChar)),
        ("/%u002e%u002e/", Err(UnicodeEscape)),
        ("/a%2", Err(InvalidEscape)),
        ("/a%zz", Err(InvalidEscape)),
        ("/a/..;/admin", Err(DotSegmentParameter)),
        ("/a b", Err(InvalidChar)),
        ("*", Err(NotOriginForm)),
    ];
    for (input, want) in table {
        let got = normalize_target(input, 100);
        assert_eq!(
            got.as_ref().map(Normalized::as_str).map_err(|e| *e),
            want,
            "{input:?}"
        );
    }
}

#[test]
fn keeps_the_query_byte_for_byte_but_validates_it() {
    type Row = (
        &'static str,
        Result<(&'static str, Option<&'static str>, usize), UrlError>,
    );
    let table: [Row; 19] = [
        ("/s?q=a%20b&x=1", Ok(("/s", Some("q=a%20b&x=1"), 2))),
        // A `%` that starts no escape is a literal percent sign, as servers read it.
        ("/s?q=We%examine", Ok(("/s", Some("q=We%examine"), 1))),
        ("/s?q=50%+off", Ok(("/s", Some("q=50%+off"), 1))),
        ("/s?q=50%%20off", Ok(("/s", Some("q=50%%20off"), 1))),
        ("/s?q=100%", Ok(("/s", Some("q=100%"), 1))),
        ("/s?q=%unlimited", Ok(("/s", Some("q=%unlimited"), 1))),
        ("/s?q=%U002e%U002e", Err(UnicodeEscape)),
        ("/s?q=x%u00", Ok(("/s", Some("q=x%u00"), 1))),
        ("/s?", Ok(("/s", Some(""), 0))),
        ("/s", Ok(("/s", None, 0))),
        ("/a/../s?q=../x", Ok(("/s", Some("q=../x"), 1))),
        ("/s?a&&b&", Ok(("/s", Some("a&&b&"), 2))),
        ("/s?q=%2F%2e%2e", Ok(("/s", Some("q=%2F%2e%2e"), 1))),
        ("/s?a=1&b=2&c=3&d=4", Ok(("/s", Some("a=1&b=2&c=3&d=4"), 4))),
        ("/s?a=1&b=2&c=3&d=4&e=5", Err(TooManyParams { limit: 4 })),
        ("/s?q=a b", Err(InvalidQuery)),
        ("/s?q=a\r\nb", Err(InvalidQuery)),
        ("/s?q=%zz", Ok(("/s", Some("q=%zz"), 1))),
        ("/s?q=%u0041", Err(UnicodeEscape)),
    ];
    for (input, want) in table {
        let got = normalize_target(input, 4).map(|n| {
            (
                n.path().to_owned(),
                n.query().map(str::to_owned),
                n.param_count(),
            )
        });
        let want = want.map(|(p, q, n)| (p.to_owned(), q.map(str::to_owned), n));
        assert_eq!(got, want, "{input:?}");
    }
}

#[test]
fn exposes_the_decoded_path_for_inspection() {
    let n = normalize_target("/caf%C3%A9/a%3Bb/../%7Euser?x=1", 10).unwrap();
    assert_eq!(n.decoded_path(), "/café/~user");
    assert_eq!(n.as_str(), "/caf%C3%A9/~user?x=1");
    let n = normalize_target("/a%3Bb", 10).unwrap();
    assert_eq!(n.decoded_path(), "/a;b");
}

#[test]
fn normalising_twice_changes_nothing() {
    for input in ["/a/./b/../c//d/", "/caf%c3%a9?q=1", "/%41%3b%7B", "/x/..."] {
        let once = normalize_target(input, 10).unwrap();
        let twice = normalize_target(once.as_str(), 10).unwrap();
        assert_eq!(once, twice, "{input:?}");
    }
}

#[test]
fn output_stays_within_three_times_the_input() {
    let input = format!("/{}", "é".repeat(1000));
    let n = normalize_target(&input, 10).unwrap();
    assert!(n.as_str().len() <= 3 * input.len());
}

#[test]
fn never_panics_on_shuffled_escapes() {
    const PARTS: [&str; 14] = [
        "/", "%", "%2", "%2e", "%25", "%C3", "%A9", "%u", "..", ".", ";", "?", "a", "é",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..5000 {
        let mut input = String::new();
        for _ in 0..(state % 10) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            input.push_str(PARTS[(state >> 40) as usize % PARTS.len()]);
        }
        if let Ok(n) = normalize_target(&input, 3) {
            let again = normalize_target(n.as_str(), 3).unwrap();
            assert_eq!(again.as_str(), n.as_str(), "{input:?}");
        }
    }
}

#[test]
fn decodes_what_the_h1_guard_escaped_once() {
    // The guard escapes raw `<`, `"`, `{`, non-ASCII... as `%XX`: single escapes, never
    // taken for double encoding; separators and invalid UTF-8 stay refused.
    type Row = (&'static str, Result<(&'static str, &'static str), UrlError>);
    let table: [Row; 7] = [
        ("/%7Bid%7D%7C%5E%60", Ok(("/%7Bid%7D%7C%5E%60", "/{id}|^`"))),
        ("/q%22%3Cb%3E", Ok(("/q%22%3Cb%3E", "/q\"<b>"))),
        (
            "/s?f=%7B%22a%22:1%7D&q=%3Cscript%3E",
            Ok(("/s?f=%7B%22a%22:1%7D&q=%3Cscript%3E", "/s")),
        ),
        ("/caf%C3%A9?q=%C3%A9", Ok(("/caf%C3%A9?q=%C3%A9", "/café"))),
        ("/a%5Cb", Err(EncodedSeparator)),
        ("/a%FF", Err(InvalidUtf8)),
        ("/a%C0%AF", Err(InvalidUtf8)),
    ];
    for (input, want) in table {
        let got = normalize_target(input, 10)
            .map(|n| (n.as_str().to_owned(), n.decoded_path().to_owned()));
        let want = want.map(|(t, d)| (t.to_owned(), d.to_owned()));
        assert_eq!(got, want, "{input:?}");
    }
}

#[test]
fn the_plain_path_shortcut_gives_what_the_full_normalisation_gives() {
    // Pieces that stay plain next to ones that must leave the shortcut (dot segments,
    // `//`, escapes, `;` on dots, non-ASCII); every input the shortcut takes must
    // normalise exactly as the full path does.
    const PARTS: [&str; 16] = [
        "/",
        "a",
        "Z9",
        "-_~",
        ".",
        "..",
        ";",
        "=",
        "@:",
        "!$&'()*+,",
        ".well-known",
        "v1.2",
        "%41",
        "é",
        "//",
        "..;",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut taken = 0;
    for _ in 0..20_000 {
        let mut path = String::from("/");
        for _ in 0..(state % 8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            path.push_str(PARTS[(state >> 40) as usize % PARTS.len()]);
        }
        if !is_plain_path(&path) {
            continue;
        }
        taken += 1;
        for query in [None, Some("a=1&b=2")] {
            let target = match query {
                Some(q) => format!("{path}?{q}"),
                None => path.clone(),
            };
            let fast = normalize_target(&target, 8);
            let full = normalize_path(&path, query, usize::from(query.is_some()) * 2);
            assert_eq!(fast, full, "{target:?}");
        }
    }
    assert!(taken > 1_000, "the shortcut took only {taken} inputs");
    for leaves in [
        "/a//b",
        "/.",
        "/a/..",
        "/a/./b",
        "/..;/x",
        "/.well-known",
        "/%41",
        "/é",
    ] {
        assert!(!is_plain_path(leaves), "{leaves}");
    }
}

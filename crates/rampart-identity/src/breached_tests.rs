#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;

use super::*;

/// Passwords the sample corpus lists, with their counts.
const BREACHED: [(&str, u64); 4] = [
    ("password1234", 51_234),
    ("qwertyuiop12", 4_321),
    ("iloveyou2024!", 77),
    ("Summer2024!!", 12),
];

fn filler(n: usize) -> Vec<String> {
    // Deterministic pseudo-random hashes: SHA-1 of a counter.
    (0..n).map(|i| sha1_hex(&format!("filler-{i}"))).collect()
}

/// Sorted `HASH:COUNT` lines: the breached passwords among `n` filler lines.
fn sorted_lines(n: usize) -> Vec<String> {
    let mut lines: Vec<String> = filler(n)
        .into_iter()
        .enumerate()
        .map(|(i, h)| format!("{h}:{}", i + 1))
        .collect();
    lines.extend(BREACHED.iter().map(|(p, c)| format!("{}:{c}", sha1_hex(p))));
    lines.sort();
    lines
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    let mut f = File::create(&path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    path
}

fn policy(corpus: Corpus) -> Policy {
    Policy {
        corpus: Some(corpus),
        ..Policy::default()
    }
}

#[test]
fn a_sorted_file_refuses_breached_passwords_and_accepts_others() {
    let dir = tempfile::tempdir().unwrap();
    for (name, ending) in [("lf.txt", "\n"), ("crlf.txt", "\r\n")] {
        let text = sorted_lines(5000).join(ending) + ending;
        let p = policy(Corpus::at(&write_file(dir.path(), name, &text)));
        for (password, count) in BREACHED {
            assert_eq!(
                p.check("alice", password, None),
                Err(Refusal::Breached(count)),
                "{name} {password}"
            );
        }
        for fine in [
            "glacier-ferry-violet-37",
            "Tr0ub4dor&3xyz",
            "x".repeat(1024).as_str(),
        ] {
            assert_eq!(p.check("alice", fine, None), Ok(()), "{name}");
        }
    }
}

#[test]
fn binary_search_finds_the_first_and_last_lines_and_nothing_between_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    for n in [0usize, 1, 2, 3, 100] {
        let lines = sorted_lines(n);
        // Without a final newline, too.
        let path = write_file(dir.path(), &format!("s{n}.txt"), &lines.join("\n"));
        let corpus = Corpus::Sorted(path);
        for line in &lines {
            let (hash, count) = line.split_once(':').unwrap();
            assert_eq!(
                corpus.count(hash).unwrap(),
                Some(count.parse().unwrap()),
                "{n}: {line}"
            );
            assert_eq!(
                corpus.count(&hash.to_ascii_lowercase()).unwrap(),
                Some(count.parse().unwrap())
            );
        }
        let hashes: Vec<&str> = lines.iter().map(|l| &l[..40]).collect();
        // Absent: before the first, after the last, and between each pair of neighbours.
        let mut absent = vec!["0".repeat(40), "F".repeat(40)];
        for pair in hashes.windows(2) {
            // Same 39-digit prefix, last digit bumped: strictly between when it differs.
            let bumped = format!("{}{}", &pair[0][..39], next_hex(&pair[0][39..]));
            if bumped.as_str() < pair[1] {
                absent.push(bumped);
            }
        }
        for hash in absent {
            if !hashes.contains(&hash.as_str()) {
                assert_eq!(corpus.count(&hash).unwrap(), None, "{n}: {hash}");
            }
        }
    }
}

fn next_hex(d: &str) -> String {
    let v = u8::from_str_radix(d, 16).unwrap();
    if v == 15 {
        "F".into()
    } else {
        format!("{:X}", v + 1)
    }
}

#[test]
fn malformed_lines_never_match_and_do_not_hide_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = vec![String::new(), "00:broken".to_owned(), "0".repeat(300)];
    lines.extend(sorted_lines(50));
    lines.push(format!("{}:not-a-number", "F".repeat(40)));
    lines.push("zz no colon at all".to_owned());
    let corpus = Corpus::Sorted(write_file(dir.path(), "m.txt", &(lines.join("\n") + "\n")));
    for (password, count) in BREACHED {
        assert_eq!(corpus.count(&sha1_hex(password)).unwrap(), Some(count));
    }
    assert_eq!(corpus.count("00").unwrap(), None, "only 40-digit keys");
    // A real hash with a broken count still counts as breached.
    assert_eq!(corpus.count(&"F".repeat(40)).unwrap(), Some(1));
    let empty = Corpus::Sorted(write_file(dir.path(), "e.txt", ""));
    assert_eq!(empty.count(&sha1_hex("password1234")).unwrap(), None);
    let missing = policy(Corpus::Sorted(dir.path().join("missing.txt")));
    assert!(matches!(
        missing.check("alice", "glacier-ferry-violet-37", None),
        Err(Refusal::Unavailable(_))
    ));
}

#[test]
fn a_range_directory_refuses_breached_passwords_and_ignores_padding() {
    let dir = tempfile::tempdir().unwrap();
    let hash = sha1_hex("password1234");
    let (prefix, suffix) = hash.split_at(5);
    let padded = sha1_hex("padding-only-password");
    let mut text = format!(
        "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n{suffix}:51234\r\n{}:0\r\n",
        &padded[5..]
    );
    text.push_str("garbage\r\n");
    write_file(dir.path(), prefix, &text);
    // The padding line's password shares the file only if the prefixes agree.
    let padded_dir = tempfile::tempdir().unwrap();
    write_file(
        padded_dir.path(),
        &format!("{}.txt", &padded[..5]),
        &format!("{}:0\n", &padded[5..]),
    );
    let p = policy(Corpus::at(dir.path()));
    assert_eq!(
        p.check("alice", "password1234", None),
        Err(Refusal::Breached(51_234))
    );
    assert_eq!(p.check("alice", "glacier-ferry-violet-37", None), Ok(()));
    let p = policy(Corpus::at(padded_dir.path()));
    assert_eq!(p.check("alice", "padding-only-password", None), Ok(()));
}

struct Ranges(Result<String, String>);

impl RangeSource for Ranges {
    fn range(&self, _prefix: &str) -> Result<String, String> {
        self.0.clone()
    }
}

#[test]
fn the_range_service_refuses_and_fails_closed_unless_configured_open() {
    let hash = sha1_hex("qwertyuiop12");
    let answer = Ranges(Ok(format!("{}:4321\n{}:0\n", &hash[5..], "A".repeat(35))));
    let down = Ranges(Err("timed out".into()));
    let mut p = Policy {
        range_api: Some("http://127.0.0.1:1".into()),
        ..Policy::default()
    };
    assert_eq!(
        p.check("alice", "qwertyuiop12", Some(&answer)),
        Err(Refusal::Breached(4321))
    );
    assert_eq!(
        p.check("alice", "glacier-ferry-violet-37", Some(&answer)),
        Ok(())
    );
    assert_eq!(
        p.check("alice", "glacier-ferry-violet-37", Some(&down)),
        Err(Refusal::Unavailable("timed out".into()))
    );
    p.fail_open = true;
    assert_eq!(
        p.check("alice", "glacier-ferry-violet-37", Some(&down)),
        Ok(())
    );
    assert_eq!(
        range_count(&format!("{}:0", "A".repeat(35)), &"A".repeat(35)),
        None
    );
}

#[test]
fn length_and_context_rules() {
    let p = Policy::default();
    let table: [(&str, &str, Result<(), Refusal>); 9] = [
        ("alice", "short-pass1", Err(Refusal::TooShort(12))),
        ("alice", "glacier-ferry-violet-37", Ok(())),
        ("alice", "my-ALICE-password", Err(Refusal::ContainsUser)),
        (
            "alicealicealice",
            "ecilaecilaecila",
            Err(Refusal::ReversedUser),
        ),
        (
            "bob",
            "glacier-Rampart-37",
            Err(Refusal::ContainsWord("rampart".into())),
        ),
        // Look-alikes that must pass: near the user name, but not it.
        ("alice", "al1ce-ferry-violet", Ok(())),
        ("bob", "ramp-art-glacier-37", Ok(())),
        ("bob", &"é".repeat(12), Ok(())),
        ("bob", &"x".repeat(1025), Err(Refusal::TooLong)),
    ];
    for (user, password, want) in table {
        assert_eq!(p.check_context(user, password), want, "{user} {password}");
    }
    for refusal in [
        Refusal::ContainsUser,
        Refusal::Breached(3),
        Refusal::TooShort(12),
    ] {
        assert!(!refusal.to_string().contains("glacier"));
    }
}

#[test]
fn the_passwords_section_validates_with_key_paths() {
    let dir = tempfile::tempdir().unwrap();
    let raw: RawPolicy = toml::from_str(
        r#"
        min_length = 4
        breached_corpus = "nope"
        range_api = "ftp://x"
        range_timeout = "0s"
        "#,
    )
    .unwrap();
    let mut problems = Problems::default();
    assert!(Policy::validate(&raw, dir.path(), &mut problems).is_none());
    let text = problems
        .finish::<()>(Path::new("t.toml"), None)
        .unwrap_err()
        .to_string();
    for key in [
        "passwords.min_length",
        "passwords.breached_corpus",
        "passwords.range_api",
        "passwords.range_timeout",
    ] {
        assert!(text.contains(key), "{key} in {text}");
    }
    assert!(toml::from_str::<RawPolicy>("corpus = 1").is_err());
    write_file(dir.path(), "c.txt", "");
    let raw: RawPolicy = toml::from_str("breached_corpus = \"c.txt\"\nwords = [\"Acme\"]").unwrap();
    let mut problems = Problems::default();
    let p = Policy::validate(&raw, dir.path(), &mut problems).unwrap();
    assert_eq!(p.corpus, Some(Corpus::Sorted(dir.path().join("c.txt"))));
    assert_eq!(p.words, vec!["acme".to_owned()]);
}

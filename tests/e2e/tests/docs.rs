//! The documents that promise tests keep their promise: every `path::function` the OWASP
//! map names is a test function in that file.

use std::path::Path;

/// `path::function` references in backticks.
fn references(text: &str) -> Vec<(String, String)> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|quoted| {
            let (path, function) = quoted.rsplit_once("::")?;
            let looks_like_file = path.ends_with(".rs") && !path.contains(' ');
            let is_ident = !function.is_empty()
                && function
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            (looks_like_file && is_ident).then(|| (path.to_owned(), function.to_owned()))
        })
        .collect()
}

/// Whether `source` defines `function` right after a test attribute.
fn defines_test(source: &str, function: &str) -> bool {
    let lines: Vec<&str> = source.lines().map(str::trim).collect();
    lines.iter().enumerate().any(|(i, line)| {
        let defines = line.starts_with(&format!("fn {function}("))
            || line.starts_with(&format!("async fn {function}("));
        let attribute = lines[..i]
            .iter()
            .rev()
            .take_while(|l| l.starts_with("#["))
            .any(|l| l.starts_with("#[test") || l.starts_with("#[tokio::test"));
        defines && attribute
    })
}

#[test]
fn every_test_the_owasp_map_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let map = std::fs::read_to_string(root.join("docs/owasp-api-top10.md")).expect("the map");
    let refs = references(&map);
    assert!(refs.len() >= 20, "too few test references: {}", refs.len());
    let mut missing = Vec::new();
    for (path, function) in &refs {
        let source = std::fs::read_to_string(root.join(path)).unwrap_or_default();
        if !defines_test(&source, function) {
            missing.push(format!("{path}::{function}"));
        }
    }
    assert!(missing.is_empty(), "named but not found: {missing:#?}");
    // Every risk section names at least one test.
    for section in map.split("\n## ").skip(1) {
        let title = section.lines().next().unwrap_or_default();
        assert!(
            !references(section).is_empty(),
            "section without a test: {title}"
        );
    }
}

#[test]
fn the_checker_refuses_what_is_not_a_test() {
    let source =
        "#[test]\nfn real() {}\nfn helper() {}\n#[tokio::test]\n#[ignore]\nasync fn later() {}";
    assert!(defines_test(source, "real"));
    assert!(defines_test(source, "later"));
    assert!(!defines_test(source, "helper"));
    assert!(!defines_test(source, "absent"));
    assert!(!defines_test(source, "rea"));
    let refs = references("`a/b.rs::x_1`, `not a ref`, `a b.rs::x`, `c.rs::X`");
    assert_eq!(refs, vec![("a/b.rs".to_owned(), "x_1".to_owned())]);
}

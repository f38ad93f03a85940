//! The own corpus (`tests/corpus`, gotestwaf "testcases" files), read for the tests.

/// Every corpus payload and whether it is legitimate (a `false-pos*` set).
pub(crate) fn corpus() -> Vec<(String, bool)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if dir.is_dir() {
            for f in std::fs::read_dir(&dir).unwrap() {
                files.push(f.unwrap().path());
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yml"))
    {
        let legit = f
            .parent()
            .and_then(|d| d.file_name())
            .is_some_and(|d| d.to_string_lossy().starts_with("false-pos"));
        let text = std::fs::read_to_string(f).unwrap();
        let mut in_payload = false;
        for line in text.lines() {
            if !line.starts_with(' ') {
                in_payload = line.starts_with("payload:");
                continue;
            }
            if let Some(q) = line.trim().strip_prefix("- ").filter(|_| in_payload) {
                out.push((unquote(q), legit));
            }
        }
    }
    out
}

/// A YAML double-quoted scalar, with unknown escapes kept as written.
fn unquote(q: &str) -> String {
    let Some(inner) = q.strip_prefix('"').and_then(|q| q.strip_suffix('"')) else {
        return q.to_owned();
    };
    serde_json::from_str(&format!("\"{inner}\"")).unwrap_or_else(|_| {
        let escaped = inner.replace('\\', "\\\\").replace("\\\\\"", "\\\"");
        serde_json::from_str(&format!("\"{escaped}\"")).unwrap_or_else(|_| inner.to_owned())
    })
}

//! Walks a schema and everything it imports, includes or redefines, before libxml2
//! compiles it: every referenced schema must be a local file, and no schema may carry a
//! DTD. libxml2 would otherwise fetch `http://` locations itself.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use libxml::parser::{Parser, ParserOptions};
use libxml::tree::Node;

const XSD_NS: &str = "http://www.w3.org/2001/XMLSchema";

/// Schema documents one schema may pull in at most.
const MAX_FILES: usize = 256;

/// Largest schema document read.
const MAX_SCHEMA_BYTES: u64 = 4 * 1024 * 1024;

/// Checks `root` and every schema it refers to; the error names the file and location.
pub(super) fn check_local(root: &Path) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(file) = todo.pop() {
        let file = std::fs::canonicalize(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        if !seen.insert(file.clone()) {
            continue;
        }
        if seen.len() > MAX_FILES {
            return Err(format!("more than {MAX_FILES} schema documents"));
        }
        for location in references(&file)? {
            todo.push(resolve(&file, &location)?);
        }
    }
    Ok(())
}

/// The `schemaLocation`s of one schema document.
fn references(file: &Path) -> Result<Vec<String>, String> {
    let shown = file.display();
    let meta = std::fs::metadata(file).map_err(|e| format!("{shown}: {e}"))?;
    if meta.len() > MAX_SCHEMA_BYTES {
        return Err(format!("{shown}: larger than {MAX_SCHEMA_BYTES} bytes"));
    }
    let bytes = std::fs::read(file).map_err(|e| format!("{shown}: {e}"))?;
    if memfind(&bytes, b"<!DOCTYPE") || memfind(&bytes, b"<!ENTITY") {
        return Err(format!("{shown}: schemas may not carry a DTD"));
    }
    let options = ParserOptions {
        recover: false,
        no_net: true,
        no_def_dtd: true,
        ..ParserOptions::default()
    };
    let doc = Parser::default()
        .parse_string_with_options(&bytes, options)
        .map_err(|_| format!("{shown}: not well-formed XML"))?;
    let root = doc
        .get_root_element()
        .ok_or_else(|| format!("{shown}: no root element"))?;
    let mut out = Vec::new();
    collect(&root, &mut out);
    Ok(out)
}

fn collect(node: &Node, out: &mut Vec<String>) {
    let in_xsd = node
        .get_namespace()
        .is_some_and(|ns| ns.get_href() == XSD_NS);
    if in_xsd
        && matches!(
            node.get_name().as_str(),
            "import" | "include" | "redefine" | "override"
        )
        && let Some(location) = node.get_attribute_no_ns("schemaLocation")
    {
        out.push(location);
    }
    for child in node.get_child_elements() {
        collect(&child, out);
    }
}

/// A local path for `location`, relative to the schema that names it.
fn resolve(from: &Path, location: &str) -> Result<PathBuf, String> {
    let location = location.trim();
    if has_scheme(location) || location.starts_with("//") || location.starts_with("\\\\") {
        return Err(format!(
            "{}: schemaLocation {:?} is not a local file (schemas are never fetched)",
            from.display(),
            location.chars().take(120).collect::<String>()
        ));
    }
    let dir = from.parent().unwrap_or(Path::new("."));
    let path = dir.join(location);
    if !path.is_file() {
        return Err(format!(
            "{}: schemaLocation {location:?} names no readable file",
            from.display()
        ));
    }
    Ok(path)
}

/// `scheme:` as URIs start (`http:`, `https:`, `ftp:`, `file:`...).
fn has_scheme(location: &str) -> bool {
    let Some((scheme, _)) = location.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn memfind(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

//! Reading a spec: bytes (JSON or YAML, size-capped) into one JSON value, and local
//! `$ref` resolution with hop limits and cycle detection.

use std::io::Read as _;
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::LoadError;
use crate::limits::LoadLimits;

/// Reads `path` whole, refusing files above the cap before and while reading.
pub(crate) fn read(path: &Path, limits: &LoadLimits) -> Result<Vec<u8>, LoadError> {
    let err = |source| LoadError::Read {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(err)?;
    let mut bytes = Vec::new();
    // One byte more than allowed tells "exactly at the cap" from "above it".
    file.take(limits.max_spec_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(err)?;
    if bytes.len() as u64 > limits.max_spec_bytes {
        return Err(LoadError::TooLarge {
            max_bytes: limits.max_spec_bytes,
        });
    }
    Ok(bytes)
}

/// Parses a document: JSON when it starts with `{`, YAML otherwise.
pub(crate) fn parse(bytes: &[u8], limits: &LoadLimits) -> Result<Value, LoadError> {
    if bytes.len() as u64 > limits.max_spec_bytes {
        return Err(LoadError::TooLarge {
            max_bytes: limits.max_spec_bytes,
        });
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        return serde_json::from_slice(bytes).map_err(|e| LoadError::Syntax(e.to_string()));
    }
    // Via the YAML value type: YAML keys may be numbers (`200:` under `responses`),
    // which a JSON value cannot hold as keys until they are turned into strings.
    let mut yaml: serde_norway::Value =
        serde_norway::from_slice(bytes).map_err(|e| LoadError::Syntax(e.to_string()))?;
    yaml.apply_merge()
        .map_err(|e| LoadError::Syntax(e.to_string()))?;
    yaml_to_json(yaml, 0)
}

/// Deepest YAML nesting converted (the YAML parser has its own recursion limit too).
const MAX_YAML_DEPTH: usize = 256;

fn yaml_to_json(v: serde_norway::Value, depth: usize) -> Result<Value, LoadError> {
    use serde_norway::Value as Y;
    if depth > MAX_YAML_DEPTH {
        return Err(LoadError::Limit {
            what: "YAML nesting",
            limit: MAX_YAML_DEPTH,
        });
    }
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => yaml_number(&n)?,
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(|i| yaml_to_json(i, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => {
                        return Err(LoadError::Syntax(format!(
                            "unsupported mapping key {other:?}"
                        )));
                    }
                };
                out.insert(key, yaml_to_json(v, depth + 1)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => yaml_to_json(t.value, depth + 1)?,
    })
}

fn yaml_number(n: &serde_norway::Number) -> Result<Value, LoadError> {
    if let Some(i) = n.as_i64() {
        return Ok(Value::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Ok(Value::from(u));
    }
    n.as_f64()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| LoadError::Syntax(format!("number {n} is not finite")))
}

/// Decodes a local reference (`#/components/schemas/A%20B`) into a JSON pointer
/// (`/components/schemas/A B`), refusing anything outside the document.
pub(crate) fn ref_pointer(at: &str, target: &str) -> Result<String, LoadError> {
    let Some(fragment) = target.strip_prefix('#') else {
        return Err(LoadError::ExternalRef {
            at: at.to_owned(),
            target: target.to_owned(),
        });
    };
    if !fragment.is_empty() && !fragment.starts_with('/') {
        // `#anchor` references need $anchor support, which this loader does not have.
        return Err(LoadError::Unsupported {
            at: at.to_owned(),
            keyword: format!("$ref to anchor {target:?}"),
        });
    }
    percent_decode(fragment).ok_or_else(|| LoadError::invalid(at, "malformed $ref escape"))
}

/// Percent-decodes `s`; `None` on a malformed escape or invalid UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hi = (hex[0] as char).to_digit(16)?;
            let lo = (hex[1] as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Follows `$ref` chains on a non-schema object (parameter, request body, path item)
/// until an object without `$ref`. Returns it with its pointer.
pub(crate) fn deref<'d>(
    doc: &'d Value,
    value: &'d Value,
    at: &str,
    limits: &LoadLimits,
) -> Result<(&'d Value, String), LoadError> {
    let mut current = value;
    let mut pointer = at.to_owned();
    let mut seen: Vec<String> = Vec::new();
    while let Some(target) = current.get("$ref") {
        let Some(target) = target.as_str() else {
            return Err(LoadError::invalid(&pointer, "$ref must be a string"));
        };
        let next = ref_pointer(&pointer, target)?;
        if seen.contains(&next) {
            return Err(LoadError::RefCycle {
                at: at.to_owned(),
                detail: seen.join(" -> "),
            });
        }
        if seen.len() >= limits.max_ref_hops {
            return Err(LoadError::Limit {
                what: "$ref hops",
                limit: limits.max_ref_hops,
            });
        }
        current = doc.pointer(&next).ok_or_else(|| LoadError::DanglingRef {
            at: pointer.clone(),
            target: target.to_owned(),
        })?;
        seen.push(next.clone());
        pointer = next;
    }
    Ok((current, pointer))
}

/// Appends one escaped JSON pointer segment.
pub(crate) fn push_segment(pointer: &mut String, segment: &str) {
    pointer.push('/');
    if !segment.bytes().any(|b| b == b'~' || b == b'/') {
        pointer.push_str(segment);
        return;
    }
    for c in segment.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// `pointer` with one more segment.
pub(crate) fn child(pointer: &str, segment: &str) -> String {
    let mut p = pointer.to_owned();
    push_segment(&mut p, segment);
    p
}

//! JSON, form data and a lone XML element found inside a string: their leaves are
//! inspected in turn.

use crate::field::FieldKind;

use super::text;

/// Leaves taken from one nested document; more is treated as noise, not as a bypass,
/// because the whole string is inspected as well.
const MAX_LEAVES: usize = 64;

/// The keys and string leaves of `s` when it is a JSON object/array or form data, or the
/// text of `s` when it is one XML element.
pub(crate) fn leaves(s: &str, kind: FieldKind) -> Vec<(String, FieldKind)> {
    let t = s.trim();
    let mut out = Vec::new();
    if (t.starts_with('{') && t.ends_with('}')) || (t.starts_with('[') && t.ends_with(']')) {
        if t.len() > 2
            && let Ok(value) = serde_json::from_str::<serde_json::Value>(t)
        {
            walk(&value, &mut out);
        }
        return out;
    }
    if let Some(inner) = element_text(t) {
        if !inner.trim().is_empty() {
            out.push((inner.to_owned(), kind));
        }
        return out;
    }
    if form_kind(kind) && memchr::memchr(b'=', t.as_bytes()).is_some() {
        form(t, &mut out);
    }
    out
}

/// Whether `leaves` are all the leaves of `s` read as a JSON document: none was left
/// out past [`MAX_LEAVES`].
pub(crate) fn all_json_leaves(s: &str, leaves: &[(String, FieldKind)]) -> bool {
    let t = s.trim_start();
    (t.starts_with('{') || t.starts_with('[')) && !leaves.is_empty() && leaves.len() < MAX_LEAVES
}

/// Whether values of `kind` are read as form data when they hold `=`.
pub(crate) fn form_kind(kind: FieldKind) -> bool {
    matches!(
        kind,
        FieldKind::QueryValue | FieldKind::CookieValue | FieldKind::BodyValue | FieldKind::BodyText
    )
}

fn walk(value: &serde_json::Value, out: &mut Vec<(String, FieldKind)>) {
    // Iterative so that nesting depth costs no stack (serde_json already caps it at 128).
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        if out.len() >= MAX_LEAVES {
            return;
        }
        match v {
            serde_json::Value::String(s) => out.push((s.clone(), FieldKind::BodyValue)),
            serde_json::Value::Array(items) => stack.extend(items.iter().rev()),
            serde_json::Value::Object(map) => {
                for (k, v) in map.iter().rev() {
                    out.push((k.clone(), FieldKind::BodyKey));
                    stack.push(v);
                }
            }
            _ => {}
        }
    }
}

/// `a=1&b=2` (every piece must look like `name=value` with a plain name).
fn form(s: &str, out: &mut Vec<(String, FieldKind)>) {
    let mut pairs = Vec::new();
    for piece in s.split('&') {
        let Some((name, value)) = piece.split_once('=') else {
            if piece.is_empty() {
                continue;
            }
            return;
        };
        let plain = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.[]$%".contains(&b))
            // In `x%20%3E=%20100` the `=` belongs to `>=`: it separates nothing. (An
            // encoded line break stays a name, for the header-injection rules on names.)
            && text::percent(name, false)
                .is_none_or(|d| !d.bytes().any(|b| matches!(b, b' ' | b'<' | b'>' | b'!')));
        if !plain {
            return;
        }
        pairs.push((name, value));
    }
    if pairs.len() == 1 && pairs[0].1.is_empty() {
        return;
    }
    for (name, value) in pairs.into_iter().take(MAX_LEAVES / 2) {
        let decode = |v: &str| text::percent(v, true).unwrap_or_else(|| v.to_owned());
        out.push((decode(name), FieldKind::BodyKey));
        if !value.is_empty() {
            out.push((decode(value), FieldKind::BodyValue));
        }
    }
}

/// The text of a value that is one element holding only text (`<string>1 or 1</string>`,
/// how XML encoders wrap a string): anchored shapes must see the text without its tags.
fn element_text(t: &str) -> Option<&str> {
    let rest = t.strip_prefix('<')?;
    let gt = rest.find('>')?;
    let name = &rest[..gt];
    let plain = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphabetic()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
    if !plain {
        return None;
    }
    let inner = rest[gt + 1..]
        .strip_suffix('>')?
        .strip_suffix(name)?
        .strip_suffix("</")?;
    (!inner.contains('<')).then_some(inner)
}

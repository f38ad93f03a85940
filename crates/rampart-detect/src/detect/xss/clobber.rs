//! DOM clobbering: markup with no script of its own that overrides what the page's script
//! reads. An element whose `id` or `name` is a DOM property (`<input id=attributes>` in a
//! form hides `form.attributes` from a sanitizer), or an `id` given twice with a `name`
//! on one of them (`<a id=CONFIG><a id=CONFIG name=scriptSrc href=//evil/x.js>` makes
//! `window.CONFIG.scriptSrc` the attacker's URL). Rich text with ordinary ids, or one
//! form field with matching `id` and `name`, passes.

use std::ops::Range;

use super::attributes::Attributes;

/// DOM properties no form field or anchor is named after.
const PROPERTIES: &[&[u8]] = &[
    b"attributes",
    b"parentnode",
    b"parentelement",
    b"nodename",
    b"nodetype",
    b"childnodes",
    b"firstchild",
    b"lastchild",
    b"nextsibling",
    b"previoussibling",
    b"ownerdocument",
    b"ownerelement",
    b"documentelement",
    b"defaultview",
    b"innerhtml",
    b"outerhtml",
    b"namespaceuri",
    b"localname",
    b"tagname",
    b"getelementbyid",
    b"getelementsbytagname",
    b"queryselector",
    b"queryselectorall",
    b"createelement",
    b"contentwindow",
    b"hasownproperty",
    b"__proto__",
    b"prototype",
    b"constructor",
];

/// Most `id`s remembered per value: markup longer than that is a document, not a payload.
const MAX_IDS: usize = 64;

/// Detects clobbering markup in lowercased `s`.
pub(super) fn detect(s: &[u8]) -> Option<Range<usize>> {
    // (id, tag start, whether the same tag has a `name`)
    let mut ids: Vec<(&[u8], usize, bool)> = Vec::new();
    let mut from = 0;
    while let Some(off) = memchr::memchr(b'<', &s[from..]) {
        let at = from + off;
        from = at + 1;
        let name_len = s[from..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if name_len == 0 || !s[from].is_ascii_alphabetic() {
            continue;
        }
        let end = memchr::memchr(b'>', &s[from..]).map_or(s.len(), |e| from + e);
        let mut id = None;
        let mut named = false;
        for (attr, value) in Attributes::new(&s[from + name_len..end]) {
            let dom = PROPERTIES.contains(&value);
            match attr {
                b"id" if dom => return Some(at..end),
                b"name" if dom => return Some(at..end),
                b"id" if !value.is_empty() => id = Some(value),
                b"name" => named = true,
                _ => {}
            }
        }
        let Some(id) = id else { continue };
        if let Some(&(_, first, named_before)) = ids.iter().find(|(seen, ..)| *seen == id) {
            if named || named_before {
                return Some(first..end);
            }
        } else if ids.len() < MAX_IDS {
            ids.push((id, at, named));
        }
    }
    None
}

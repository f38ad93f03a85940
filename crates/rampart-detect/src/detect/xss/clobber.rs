//! DOM clobbering: markup with no script of its own that overrides what the page's script
//! reads. An element whose `id` or `name` is a DOM property (`<input id=attributes>` in a
//! form hides `form.attributes` from a sanitizer), or an `id` given twice with a `name`
//! on one of them (`<a id=CONFIG><a id=CONFIG name=scriptSrc href=//evil/x.js>` makes
//! `window.CONFIG.scriptSrc` the attacker's URL). Rich text with ordinary ids, or one
//! form field with matching `id` and `name`, passes.

use std::ops::Range;

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

/// `name=value` pairs of a tag's attribute area (values unquoted; a bare name has an
/// empty value).
struct Attributes<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Attributes<'a> {
    fn new(s: &'a [u8]) -> Self {
        Attributes { s, i: 0 }
    }
}

impl<'a> Iterator for Attributes<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.s;
        let skip = |mut i: usize| {
            while i < s.len() && (s[i].is_ascii_whitespace() || s[i] == b'/') {
                i += 1;
            }
            i
        };
        let start = skip(self.i);
        let mut i = start;
        while i < s.len() && !s[i].is_ascii_whitespace() && !matches!(s[i], b'=' | b'/') {
            i += 1;
        }
        if i == start {
            return None;
        }
        let name = &s[start..i];
        let mut j = i;
        while j < s.len() && s[j].is_ascii_whitespace() {
            j += 1;
        }
        if s.get(j) != Some(&b'=') {
            self.i = i;
            return Some((name, &[]));
        }
        j += 1;
        while j < s.len() && s[j].is_ascii_whitespace() {
            j += 1;
        }
        let (value, next) = match s.get(j) {
            Some(&q @ (b'"' | b'\'')) => {
                let close = memchr::memchr(q, &s[j + 1..]).map_or(s.len(), |e| j + 1 + e);
                (&s[j + 1..close], close + 1)
            }
            _ => {
                let mut k = j;
                while k < s.len() && !s[k].is_ascii_whitespace() {
                    k += 1;
                }
                (&s[j..k], k)
            }
        };
        self.i = next.min(s.len());
        Some((name, value))
    }
}

//! Cross-site scripting: tags that run script, event-handler attributes (inside a tag or
//! after an attribute breakout), script-bearing URLs (`javascript:`, `data:text/html`),
//! `srcdoc`, CSS expressions, and JS string breakouts into a sink call (`';alert(1)//`).
//! DOM clobbering markup (`<form><input id=attributes>`). Comparison signs, `<3`,
//! ampersands and harmless markup (`<b>`) pass.

use std::ops::Range;

use super::is_word;

mod attributes;
mod clobber;
mod embed;
mod metadata;

/// Tags that execute or load active content by themselves.
const TAGS: &[&[u8]] = &[
    b"script",
    b"iframe",
    b"frame",
    b"frameset",
    b"object",
    b"embed",
    b"applet",
    b"base",
    b"meta",
    b"link",
    b"style",
    b"isindex",
    b"import",
    b"xml",
    b"template",
    b"portal",
];

/// Tags of [`TAGS`] that load or run nothing without attributes (`<object>`, `</base>`).
const INERT_BARE: &[&[u8]] = &[
    b"object",
    b"embed",
    b"applet",
    b"base",
    b"meta",
    b"link",
    b"import",
    b"xml",
    b"template",
    b"portal",
    b"frame",
    // Without `src` or `srcdoc` an iframe shows an empty page: "can I use <iframe> to
    // embed it?"
    b"iframe",
];

/// Attributes whose value is a URL a browser may execute.
const URL_ATTRS: &[&[u8]] = &[
    b"href",
    b"src",
    b"action",
    b"formaction",
    b"data",
    b"xlink:href",
    b"background",
    b"poster",
    b"lowsrc",
    b"dynsrc",
    b"code",
    b"codebase",
    b"to",
    b"values",
    b"from",
    b"by",
    b"content",
    b"srcset",
    b"ping",
];

/// Script-bearing URL schemes, compared after removing whitespace and control characters.
const SCHEMES: &[&[u8]] = &[
    b"javascript:",
    b"vbscript:",
    b"livescript:",
    b"data:text/html",
    b"data:image/svg",
    b"data:application/x",
    b"data:text/xml",
];

/// Attributes that run script or load a document by themselves, taken after a breakout
/// like handlers (`'formaction=javascript:...`, `"srcdoc=...`).
const BREAKOUT_ATTRS: &[&[u8]] = &[b"formaction", b"srcdoc"];

/// Functions whose call after a string breakout proves script execution.
const SINKS: &[&[u8]] = &[
    b"alert",
    b"prompt",
    b"confirm",
    b"eval",
    b"settimeout",
    b"setinterval",
    b"function",
    b"fetch",
    b"import",
    b"atob",
    b"document.",
    b"window.",
    b"location",
    b"top[",
    b"self[",
    b"this[",
    b"parent.",
    b"constructor",
    b"console.",
    b"xmlhttprequest",
    b"new ",
];

/// Detects XSS in `text`.
pub(crate) fn detect(text: &str) -> Option<Range<usize>> {
    let s = text.as_bytes();
    if !s
        .iter()
        .any(|b| matches!(b, b'<' | b':' | b'=' | b'\'' | b'"' | b'`'))
    {
        return None;
    }
    // Tags need a `<` and breakouts a quote; the scheme check folds case itself.
    if memchr::memchr3(b'<', b'"', b'\'', s).is_some() || memchr::memchr(b'`', s).is_some() {
        let found = super::with_lowercase(s, |lower| {
            tags(lower)
                .or_else(|| breakout(lower))
                .or_else(|| clobber::detect(lower))
        });
        if found.is_some() {
            return found;
        }
    }
    leading_scheme(s)
}

fn tags(s: &[u8]) -> Option<Range<usize>> {
    let xml = s.trim_ascii_start().starts_with(b"<?xml");
    // Once per value: asked per tag, it would rescan the value for each element.
    let xml_data = xml && !renders(s);
    let mut from = 0;
    while let Some(off) = memchr::memchr(b'<', &s[from..]) {
        let at = from + off;
        from = at + 1;
        let mut i = at + 1;
        if s.get(i) == Some(&b'/') {
            i += 1;
        }
        let name_len = s[i..]
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || b == b':' || b == b'-' || b == b'_')
            .count();
        if name_len == 0 || !s[i].is_ascii_alphabetic() {
            continue;
        }
        let name = &s[i..i + name_len];
        let after = i + name_len;
        let terminated = match s.get(after) {
            None => true,
            // `+` is a space once the value is form-decoded; raw copies (headers,
            // bodies) reach browsers that way too.
            Some(&b) => b.is_ascii_whitespace() || matches!(b, b'/' | b'>' | b'+' | 0..=0x1f),
        };
        if !terminated {
            continue;
        }
        // Only `script` counts under a prefix: `<atom:link>` and `<xs:import>` are data.
        // A bare `<object>` or `<base>` loads nothing: prose writes it as a placeholder.
        let bare = s.get(after) == Some(&b'>') && INERT_BARE.contains(&name);
        // `<link rel="next" href=...>`, `<meta charset="utf-8">`: a page head, pasted.
        let describes = matches!(name, b"link" | b"meta")
            && metadata::inert(
                name == b"meta",
                &s[after..s.len().min(after + 1024)],
                whole_document(s) || docs_clipboard(s),
                xml,
            );
        // `<script> tags show as text`: a script whose first statement cannot parse
        // never runs, nor does anything after it in the element.
        let dead = name == b"script" && s[at + 1] != b'/' && dead_script(&s[after..]);
        let end = memchr::memchr(b'>', &s[after..]).map_or(s.len(), |e| after + e);
        let player = name == b"iframe" && embed::player(&s[after..end]);
        let placeholder = matches!(name, b"object" | b"embed") && loads_nothing(&s[after..end]);
        if name == b"style"
            && s[at + 1] != b'/'
            && (whole_document(s) || svg_document(s) || s.trim_ascii_start().starts_with(b"<style"))
            && let Some(len) = plain_style_sheet(&s[after..], end - after)
        {
            from = after + len;
            continue;
        }
        if (TAGS.contains(&name) || local_name(name) == b"script")
            && !bare
            && !describes
            && !dead
            && !player
            && !placeholder
            && !(name != b"script" && xml_data)
        {
            return Some(at..after);
        }
        if name_len == 1
            && let Some(end) = spaced_tag(s, i)
        {
            return Some(at..end);
        }
        if let Some(r) = attributes(s, after, end.min(after + 2048), name == b"img") {
            return Some(at..r.end);
        }
    }
    None
}

/// Whether a lowercased XML document is one a browser renders as a page (XHTML, HTML or
/// SVG in it); in any other its `<template>` or `<link>` elements are data.
fn renders(s: &[u8]) -> bool {
    [&b"xhtml"[..], b"<html", b"<svg", b":svg"]
        .iter()
        .any(|m| memchr::memmem::find(s, m).is_some())
}

/// Whether an `<object>` or `<embed>` attribute area names nothing to load or run (`<object
/// type="application/kenticocloud" data-codename="cta">`, a CMS's component placeholder):
/// plain attributes, none a resource (`data`, `src`, `classid`...) or a handler.
fn loads_nothing(attrs: &[u8]) -> bool {
    attributes::pairs(attrs).is_some_and(|pairs| {
        pairs.iter().all(|(n, _)| {
            !n.starts_with(b"on")
                && !matches!(
                    *n,
                    b"data" | b"src" | b"codebase" | b"classid" | b"archive" | b"code" | b"movie"
                )
        })
    })
}

/// Words that take an operand after a space: `var x`, `new Image`, `typeof x`.
const JS_PREFIX_WORDS: &[&[u8]] = &[
    b"var",
    b"let",
    b"const",
    b"function",
    b"async",
    b"await",
    b"new",
    b"typeof",
    b"void",
    b"delete",
    b"throw",
    b"return",
    b"yield",
    b"class",
    b"extends",
    b"import",
    b"export",
    b"else",
    b"do",
    b"case",
    b"static",
    b"get",
    b"set",
];

/// Whether the rest of a `<script` tag, `rest` (lowercased), is a bare `>` followed on
/// the same line by two words a JS parser rejects (`<script> defer vs async`): a syntax
/// error in the first statement keeps the whole element from running. `<script> tags`
/// names the element in prose.
fn dead_script(rest: &[u8]) -> bool {
    let blank = |c: &u8| *c == b' ' || *c == b'\t';
    let rest = &rest[rest.iter().take_while(|c| blank(c)).count()..];
    let Some(body) = rest.strip_prefix(b">") else {
        return false;
    };
    let word = |s: &[u8]| {
        let first = s
            .first()
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, b'_' | b'$'));
        if first {
            s.iter()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$'))
                .count()
        } else {
            0
        }
    };
    let body = &body[body.iter().take_while(|c| blank(c)).count()..];
    let n1 = word(body);
    if n1 == 0 {
        return false;
    }
    let (w1, tail) = body.split_at(n1);
    // `my <script> tags?`: prose naming the element. The body is one undeclared name
    // that nothing calls, indexes or assigns, so no payload of the sender's runs.
    if matches!(
        w1,
        b"tag" | b"tags" | b"element" | b"elements" | b"block" | b"blocks"
    ) && !tail
        .first()
        .is_some_and(|c| matches!(c, b'(' | b'.' | b'[' | b'=' | b'`' | b'+' | b'-'))
    {
        return true;
    }
    let gap = tail.iter().take_while(|c| blank(c)).count();
    let n2 = word(&tail[gap..]);
    if matches!(w1, b"in" | b"instanceof") {
        // A binary operator cannot start a statement.
        return gap > 0 || n2 > 0;
    }
    let w2 = &tail[gap..gap + n2];
    gap > 0 && n2 > 0 && !JS_PREFIX_WORDS.contains(&w1) && !matches!(w2, b"in" | b"instanceof")
}

/// The length of a `<style` tag's rest, `rest` (its `>` at `close`), through `</style>`
/// when it is a document's own style sheet (a whole document's, an SVG's, or one that
/// opens a report or e-mail fragment): plain attributes, then rules up to `</style>`
/// that load and run nothing (no `url(`, imports, escapes, expressions or bindings).
/// A sheet that fetches (attribute-selector exfiltration) still counts.
fn plain_style_sheet(rest: &[u8], close: usize) -> Option<usize> {
    let mut attrs = attributes::Attributes::new(&rest[..close]);
    if attrs.by_ref().take(8).any(|(n, _)| n.starts_with(b"on")) || !attrs.plain() {
        return None;
    }
    let start = (close + 1).min(rest.len());
    let body = &rest[start..];
    let len = memchr::memmem::find(&body[..body.len().min(16 * 1024)], b"</style>")?;
    let css = &body[..len];
    let inert = !css.iter().any(|c| matches!(c, b'<' | b'\\'))
        && !css_script(css)
        && !css.windows(4).any(|w| w == b"url(");
    inert.then_some(start + len + b"</style>".len())
}

/// Whether lowercased `s` is a whole HTML document (`<!doctype html>` or `<html` first).
fn whole_document(s: &[u8]) -> bool {
    let t = s.trim_ascii_start();
    t.starts_with(b"<!doctype html") || t.starts_with(b"<html")
}

/// Whether lowercased `s` is a whole SVG image (`<svg` first, after an XML declaration
/// or comment): icons and charts style their shapes with a `<style>` sheet.
fn svg_document(s: &[u8]) -> bool {
    let mut t = s.trim_ascii_start();
    for _ in 0..3 {
        let skip = if t.starts_with(b"<?xml") {
            memchr::memmem::find(t, b"?>").map(|e| e + 2)
        } else if t.starts_with(b"<!--") {
            memchr::memmem::find(t, b"-->").map(|e| e + 3)
        } else {
            None
        };
        match skip {
            Some(n) => t = t[n..].trim_ascii_start(),
            None => break,
        }
    }
    t.starts_with(b"<svg")
        && t.get(4)
            .is_some_and(|c| c.is_ascii_whitespace() || *c == b'>')
}

/// Whether lowercased `s` is rich text pasted from Google Docs, whose clipboard HTML opens
/// with its own UTF-8 charset declaration and a `docs-internal-guid` wrapper: a document
/// fragment carrying its head, like [`whole_document`].
fn docs_clipboard(s: &[u8]) -> bool {
    let t = s.trim_ascii_start();
    t.starts_with(b"<meta charset=\"utf-8\"><b ")
        && memchr::memmem::find(&t[..t.len().min(256)], b" id=\"docs-internal-guid-").is_some()
}

/// Scans an attribute area for handlers, script URLs, `srcdoc` and CSS expressions. An
/// `image` (`<img>`) renders an SVG `src` as a picture, whose scripts never run.
fn attributes(s: &[u8], from: usize, to: usize, image: bool) -> Option<Range<usize>> {
    let mut i = from;
    while i < to {
        let b = s[i];
        let boundary = i == from
            || matches!(
                s[i - 1],
                b' ' | b'\t' | b'\n' | b'\r' | 0x0c | b'/' | b'"' | b'\'' | b'`' | b'+'
            );
        if boundary && b.is_ascii_alphabetic() {
            let n = s[i..to]
                .iter()
                .take_while(|&&c| c.is_ascii_alphanumeric() || c == b':' || c == b'-' || c == b'_')
                .count();
            let name = &s[i..i + n];
            let mut j = i + n;
            while j < to && s[j].is_ascii_whitespace() {
                j += 1;
            }
            if s.get(j) == Some(&b'=') || j >= to {
                let inert = j < to && is_handler(name) && bare_name(&s[j + 1..to]);
                if (is_handler(name) || name == b"srcdoc") && !inert {
                    return Some(i..(j + 1).min(s.len()));
                }
                if j < to
                    && URL_ATTRS.contains(&name)
                    && script_url(&s[j + 1..to])
                    && !(image && svg_picture(&s[j + 1..to]))
                {
                    return Some(i..to);
                }
                if name == b"style" && j < to && css_script(&s[j + 1..to]) {
                    return Some(i..to);
                }
            }
            i += n.max(1);
            continue;
        }
        i += 1;
    }
    None
}

/// The part of an XML-qualified name after its prefix (`x:script` runs as XHTML script in
/// an XML document that binds `x` to the XHTML namespace).
fn local_name(name: &[u8]) -> &[u8] {
    name.iter()
        .rposition(|&b| b == b':')
        .map_or(name, |c| &name[c + 1..])
}

/// Tags spelled out with a gap between letters (`<f o r m`, `<s c r i p t`): a filter
/// evasion of old browsers' lenient parsers that no prose writes. Returns the end of the
/// last letter when the letters (single ones, whitespace between) spell an active tag.
fn spaced_tag(s: &[u8], from: usize) -> Option<usize> {
    let mut word = [0u8; 12];
    let mut n = 0;
    let mut i = from;
    let mut end = from;
    while i < s.len() && s[i].is_ascii_alphabetic() && n < word.len() {
        // Each letter stands alone: a word after the gap is prose (`<a bold claim`).
        if s.get(i + 1).is_some_and(u8::is_ascii_alphanumeric) {
            return None;
        }
        word[n] = s[i];
        n += 1;
        end = i + 1;
        i += 1;
        let gap = s[i..]
            .iter()
            .take(3)
            .take_while(|b| b.is_ascii_whitespace() || **b == b'+')
            .count();
        if gap == 0 {
            break;
        }
        i += gap;
    }
    let word = &word[..n];
    (n >= 3 && (TAGS.contains(&word) || SPACED_TAGS.contains(&word))).then_some(end)
}

/// Besides [`TAGS`], tags whose spaced-out spelling is a known filter evasion: forms
/// (formaction), dialogs and media that carry handlers.
const SPACED_TAGS: &[&[u8]] = &[
    b"form", b"dialog", b"svg", b"img", b"image", b"input", b"body", b"video", b"audio",
    b"details", b"marquee", b"button", b"math", b"set", b"animate", b"param",
];

/// Whether an attribute value is one bare name (`onError="stopOnError"` in QuickBooks
/// XML): a handler made of a name calls nothing, assigns nothing and runs nothing.
fn bare_name(value: &[u8]) -> bool {
    let v = value.trim_ascii_start();
    let (quote, v) = match v.first() {
        Some(&q @ (b'"' | b'\'')) => (Some(q), &v[1..]),
        _ => (None, v),
    };
    let n = v
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    let rest = &v[n..];
    let closed = match quote {
        Some(q) => rest.first() == Some(&q),
        None => rest
            .first()
            .is_none_or(|c| c.is_ascii_whitespace() || matches!(c, b'>' | b'/')),
    };
    n > 0 && v[0].is_ascii_alphabetic() && closed
}

fn is_handler(name: &[u8]) -> bool {
    name.len() >= 5 && name.starts_with(b"on") && name[2..].iter().all(u8::is_ascii_alphabetic)
}

/// Whether an attribute value starts with a script-bearing scheme (any ASCII case).
fn script_url(value: &[u8]) -> bool {
    let mut cleaned = [0u8; 32];
    let mut n = 0;
    for b in value
        .iter()
        .skip_while(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'`'))
        .filter(|b| !b.is_ascii_whitespace() && **b > 0x1f)
    {
        cleaned[n] = b.to_ascii_lowercase();
        n += 1;
        // Most values fail on their first byte: stop before reading 32.
        if n == cleaned.len() || (n == 1 && !SCHEMES.iter().any(|p| p[0] == cleaned[0])) {
            break;
        }
    }
    SCHEMES.iter().any(|p| cleaned[..n].starts_with(p))
}

/// Whether an attribute value is an SVG `data:` URL (`"data:image/svg+xml;base64,...`).
fn svg_picture(value: &[u8]) -> bool {
    let v = value.trim_ascii_start();
    let v = v
        .strip_prefix(b"\"")
        .or_else(|| v.strip_prefix(b"'"))
        .unwrap_or(v);
    // A form or query decodes the `+` to a space.
    v.strip_prefix(b"data:image/svg")
        .is_some_and(|rest| rest.starts_with(b"+xml") || rest.starts_with(b" xml"))
}

fn css_script(value: &[u8]) -> bool {
    let v = &value[..value.len().min(16 * 1024)];
    [
        &b"expression("[..],
        b"javascript:",
        b"-moz-binding",
        b"behavior:",
        b"@import",
    ]
    .iter()
    .any(|p| memchr::memmem::find(v, p).is_some())
}

/// A quote (or `>`) that closes the application's string or attribute, followed by a
/// handler attribute or a JS sink call: `" onmouseover="x`, `';alert(1)//`.
fn breakout(s: &[u8]) -> Option<Range<usize>> {
    for (at, &q) in s.iter().enumerate() {
        if !matches!(q, b'"' | b'\'' | b'`') {
            continue;
        }
        let mut i = at + 1;
        let mut glue = false;
        while i < s.len()
            && (s[i].is_ascii_whitespace() || matches!(s[i], b'/' | b')' | b']' | b'}'))
        {
            i += 1;
        }
        // Attribute breakout: `" onfocus=alert(1) autofocus="`; glued to the quote
        // (`"onzoom=`) when the value or a path segment opens with it, as browsers take
        // that too.
        let n = s[i..]
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        let name = &s[i..i + n];
        if n > 0
            && (i > at + 1 || at == 0 || matches!(s[at - 1], b'/' | b'<'))
            && (is_handler(name) || BREAKOUT_ATTRS.contains(&name))
        {
            let mut j = i + n;
            while j < s.len() && s[j].is_ascii_whitespace() {
                j += 1;
            }
            if s.get(j) == Some(&b'=') {
                return Some(at..j + 1);
            }
        }
        // JS breakout: an operator or `;` glues the next expression to the string.
        while i < s.len()
            && matches!(
                s[i],
                b';' | b'+'
                    | b'-'
                    | b'*'
                    | b'|'
                    | b'&'
                    | b','
                    | b'^'
                    | b'='
                    | b'?'
                    | b':'
                    | b'('
                    | b' '
                    | b'\t'
                    | b'\n'
            )
        {
            glue |= !s[i].is_ascii_whitespace();
            i += 1;
        }
        if !glue {
            continue;
        }
        // `--location=` right before the name is a command-line option: JS cannot
        // decrement a call, so no payload is written so.
        let option = s[..i].ends_with(b"--");
        if let Some(len) = sink_call(&s[i..]).filter(|_| !option) {
            // `` `--eval` ``: markdown code closed by the backtick the sink seemed to tag.
            let closed = q == b'`'
                && s[i + len - 1] == b'`'
                && memchr::memchr(b'`', &s[at + 1..i + len - 1]).is_none();
            if !closed {
                return Some(at..i + len);
            }
        }
    }
    None
}

/// Length of a sink call at the start of `s` (`alert(1)`, ``alert`1` ``, `document.cookie`).
fn sink_call(s: &[u8]) -> Option<usize> {
    let sink = SINKS.iter().find(|p| s.starts_with(p))?;
    let mut j = sink.len();
    // `new Image()`, `new Function`x``: a constructor call, not "new lints" in prose.
    if *sink == b"new " {
        let name = s[j..]
            .iter()
            .take_while(|b| is_word(**b) || **b == b'$')
            .count();
        let called = matches!(s.get(j + name), Some(b'(' | b'`' | b'.'));
        return (name > 0 && called).then_some(j + name);
    }
    if sink.ends_with(b".") || sink.ends_with(b"[") || sink.ends_with(b" ") {
        return Some(j + s[j..].iter().take_while(|b| is_word(**b)).count());
    }
    if s.get(j).copied().is_some_and(is_word) {
        return None;
    }
    while j < s.len() && s[j].is_ascii_whitespace() {
        j += 1;
    }
    matches!(s.get(j), Some(b'(' | b'`' | b'=')).then_some(j + 1)
}

/// A value that is itself a script URL: `javascript:alert(1)`, `data:text/html;base64,...`
/// (`s` in any case).
fn leading_scheme(s: &[u8]) -> Option<Range<usize>> {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b > 0x1f && !matches!(b, b'"' | b'\''))?;
    if !script_url(&s[start..]) {
        return None;
    }
    // "javascript: the good parts" is prose: require code right after the scheme.
    let colon = start + memchr::memchr(b':', &s[start..])?;
    let rest = &s[colon + 1..];
    let code = rest
        .iter()
        .take(96)
        .any(|b| matches!(b, b'(' | b'`' | b'=' | b'[' | b';' | b',' | b'\\'));
    let data = s[start..]
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"data:"));
    // A gap after the colon, also still encoded (`javascript:%20the`), reads as prose.
    let gap = rest
        .first()
        .is_some_and(|b| b.is_ascii_whitespace() || *b == b'+')
        || rest.get(..3).is_some_and(|e| {
            [b"%20", b"%09", b"%0a", b"%0d"]
                .iter()
                .any(|g| e.eq_ignore_ascii_case(*g))
        });
    (code || data || !gap).then(|| start..s.len().min(colon + 32))
}

//! XML and SOAP over `quick-xml`'s streaming reader, with every limit checked as
//! events arrive (tree parsers overflow the stack on deep nesting).
//!
//! Refused: any DOCTYPE (so no entity is ever declared, expanded or fetched), a comment
//! between two pieces of an element's text (readers disagree on the text), every
//! processing instruction except the leading XML declaration, references other than
//! the five predefined entities and character references, duplicate attributes, a
//! declared encoding other than UTF-8, several roots, text outside the root, a version
//! other than 1.0 or a 1.1 whose line ends (NEL, LINE SEPARATOR) 1.0 reads otherwise.
//! Leaves: element text (text, references and CDATA of one run, joined) and attribute
//! values, unescaped, at `/Envelope/Body/order/item[2]/@id` (prefixes kept, `[n]` for
//! the n-th sibling of that name when n > 1). Whitespace-only text is not a leaf.
//! No canonical copy: the original bytes are forwarded, since what was inspected is
//! exactly their unescaped content.

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::encoding::Decoder;
use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesStart, Event};

use crate::error::ParseError;
use crate::limits::XmlLimits;
use crate::tree::{BodyKind, LeafKind, Out, Parsed, PathId, Seg};

/// Parses an XML document.
pub fn parse<'a>(body: &'a [u8], limits: &XmlLimits) -> Result<Parsed<'a>, ParseError> {
    let mut out = Out::default();
    parse_into(body, limits, &mut out, PathId::ROOT)?;
    Ok(out.into_parsed(BodyKind::Xml))
}

/// Parses `body` into `out` below `root`. Error offsets are relative to `body`.
pub(crate) fn parse_into<'a>(
    body: &'a [u8],
    limits: &XmlLimits,
    out: &mut Out<'a>,
    root: PathId,
) -> Result<(), ParseError> {
    // A UTF-8 BOM is legal XML; it is not part of the document.
    let base = if body.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let text = std::str::from_utf8(&body[base..])
        .map_err(|e| ParseError::malformed("xml-invalid-utf8", base + e.valid_up_to()))?;
    let mut p = XmlParser {
        text,
        limits,
        out,
        root,
        stack: Vec::new(),
        root_children: HashMap::new(),
        elements: 0,
    };
    let mut reader = Reader::from_str(text);
    let cfg = reader.config_mut();
    cfg.check_end_names = true;
    cfg.check_comments = true;
    cfg.expand_empty_elements = false;
    cfg.trim_text(false);
    p.run(&mut reader).map_err(|e| {
        let at = p.stack.last().map(|o| o.path);
        let e = e.shifted(base);
        match at {
            Some(path) => e.at(|| p.out.paths.render(path)),
            None => e,
        }
    })
}

/// An open element.
struct Open<'a> {
    path: PathId,
    children: HashMap<&'a str, u32>,
    text: Text<'a>,
}

/// Text of one run between tags: borrowed when it is one piece, joined otherwise.
#[derive(Default)]
struct Text<'a> {
    first: Option<Cow<'a, str>>,
    joined: Option<String>,
    len: usize,
    /// A comment came after text of this run.
    commented: bool,
}

impl<'a> Text<'a> {
    fn push(&mut self, s: Cow<'a, str>, max: usize, at: usize) -> Result<(), ParseError> {
        // `<NameID>admin@corp.example<!---->.evil.example</NameID>`: some readers take
        // the text before the comment, others all of it (the SAML comment attacks).
        if self.commented && !is_xml_space(&s) {
            return Err(ParseError::ambiguous("xml-comment-in-text", at));
        }
        self.len += s.len();
        if self.len > max {
            return Err(ParseError::exceed("xml-text-too-long", max, at));
        }
        if let Some(j) = &mut self.joined {
            j.push_str(&s);
        } else if let Some(first) = self.first.take() {
            let mut j = first.into_owned();
            j.push_str(&s);
            self.joined = Some(j);
        } else {
            self.first = Some(s);
        }
        Ok(())
    }

    /// Notes a comment: text after it would make the run ambiguous.
    fn comment(&mut self) {
        let texts = [self.first.as_deref(), self.joined.as_deref()];
        self.commented |= texts.into_iter().flatten().any(|t| !is_xml_space(t));
    }

    fn take(&mut self) -> Option<Cow<'a, str>> {
        self.len = 0;
        self.commented = false;
        self.joined
            .take()
            .map(Cow::Owned)
            .or_else(|| self.first.take())
    }
}

struct XmlParser<'a, 'o> {
    text: &'a str,
    limits: &'o XmlLimits,
    out: &'o mut Out<'a>,
    root: PathId,
    stack: Vec<Open<'a>>,
    root_children: HashMap<&'a str, u32>,
    elements: usize,
}

fn is_xml_space(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// Re-borrows a slice of `base` that quick-xml handed out with a shorter lifetime.
fn rebase<'a>(base: &'a str, part: &[u8]) -> Option<&'a str> {
    let start = (part.as_ptr() as usize).checked_sub(base.as_ptr() as usize)?;
    base.get(start..start.checked_add(part.len())?)
}

fn rebase_cow<'a>(base: &'a str, c: Cow<'_, str>) -> Cow<'a, str> {
    match c {
        Cow::Borrowed(s) => {
            rebase(base, s.as_bytes()).map_or_else(|| Cow::Owned(s.to_owned()), Cow::Borrowed)
        }
        Cow::Owned(s) => Cow::Owned(s),
    }
}

fn syntax(at: u64) -> ParseError {
    ParseError::malformed("xml-syntax", at as usize)
}

impl<'a> XmlParser<'a, '_> {
    fn run(&mut self, reader: &mut Reader<&'a [u8]>) -> Result<(), ParseError> {
        let mut first = true;
        let mut root_done = false;
        loop {
            let at = reader.buffer_position() as usize;
            let event = reader.read_event().map_err(|e| match e {
                quick_xml::Error::InvalidAttr(AttrError::Duplicated(..)) => {
                    ParseError::malformed("xml-duplicate-attribute", at)
                }
                _ => syntax(reader.error_position()),
            })?;
            let was_first = std::mem::replace(&mut first, false);
            match event {
                Event::Decl(d) => {
                    if !was_first {
                        return Err(syntax(at as u64));
                    }
                    // XML 1.1 (Jenkins writes it) reads like 1.0 except that NEL and
                    // LINE SEPARATOR end lines: with neither in the text, both read the same.
                    let same_as_1_0 = !self.text.contains(['\u{85}', '\u{2028}']);
                    match d.version().map_err(|_| syntax(at as u64))?.as_ref() {
                        b"1.0" => {}
                        b"1.1" if same_as_1_0 => {}
                        _ => return Err(ParseError::malformed("xml-version", at)),
                    }
                    if let Some(enc) = d.encoding() {
                        let enc = enc.map_err(|_| syntax(at as u64))?;
                        if !(enc.eq_ignore_ascii_case(b"utf-8")
                            || enc.eq_ignore_ascii_case(b"us-ascii"))
                        {
                            return Err(ParseError::unsupported("xml-encoding", &enc));
                        }
                    }
                }
                Event::DocType(_) => return Err(ParseError::malformed("xml-doctype", at)),
                Event::PI(_) => {
                    return Err(ParseError::malformed("xml-processing-instruction", at));
                }
                Event::Comment(_) => {
                    if let Some(open) = self.stack.last_mut() {
                        open.text.comment();
                    }
                }
                Event::Start(e) | Event::Empty(e) if root_done => {
                    let _ = e;
                    return Err(ParseError::malformed("xml-multiple-roots", at));
                }
                Event::Start(e) => {
                    let path = self.element(&e, at, reader.decoder())?;
                    self.stack.push(Open {
                        path,
                        children: HashMap::new(),
                        text: Text::default(),
                    });
                }
                Event::Empty(e) => {
                    self.element(&e, at, reader.decoder())?;
                    root_done = self.stack.is_empty();
                }
                Event::End(_) => {
                    self.flush();
                    self.stack.pop();
                    root_done = self.stack.is_empty();
                }
                Event::Text(t) => {
                    let s = t.decode().map_err(|_| syntax(at as u64))?;
                    self.text(s, at)?;
                }
                Event::CData(c) => {
                    if self.stack.is_empty() {
                        return Err(ParseError::malformed("xml-text-outside-root", at));
                    }
                    let s = c.decode().map_err(|_| syntax(at as u64))?;
                    self.text(s, at)?;
                }
                Event::GeneralRef(r) => {
                    let c = if r.is_char_ref() {
                        r.resolve_char_ref()
                            .ok()
                            .flatten()
                            .ok_or(ParseError::malformed("xml-bad-char-ref", at))?
                    } else {
                        match &r[..] {
                            b"lt" => '<',
                            b"gt" => '>',
                            b"amp" => '&',
                            b"apos" => '\'',
                            b"quot" => '"',
                            _ => return Err(ParseError::malformed("xml-unknown-entity", at)),
                        }
                    };
                    if self.stack.is_empty() {
                        return Err(ParseError::malformed("xml-text-outside-root", at));
                    }
                    self.text(Cow::Owned(c.to_string()), at)?;
                }
                Event::Eof => {
                    if !self.stack.is_empty() {
                        return Err(ParseError::malformed("xml-unexpected-end", at));
                    }
                    if !root_done {
                        return Err(ParseError::malformed("xml-no-root", at));
                    }
                    return Ok(());
                }
            }
        }
    }

    fn text(&mut self, s: Cow<'a, str>, at: usize) -> Result<(), ParseError> {
        let max = self.limits.max_text_bytes;
        match self.stack.last_mut() {
            Some(open) => open.text.push(s, max, at),
            None if is_xml_space(&s) => Ok(()),
            None => Err(ParseError::malformed("xml-text-outside-root", at)),
        }
    }

    /// Emits the pending text of the innermost open element.
    fn flush(&mut self) {
        if let Some(open) = self.stack.last_mut()
            && let Some(t) = open.text.take()
            && !is_xml_space(&t)
        {
            self.out.leaf(open.path, LeafKind::Text, t);
        }
    }

    /// Checks an element's limits, emits its attributes and returns its path.
    fn element(
        &mut self,
        e: &BytesStart<'_>,
        at: usize,
        decoder: Decoder,
    ) -> Result<PathId, ParseError> {
        let l = self.limits;
        self.flush();
        if self.stack.len() >= l.max_depth {
            return Err(ParseError::exceed("xml-too-deep", l.max_depth, at));
        }
        self.elements += 1;
        if self.elements > l.max_elements {
            return Err(ParseError::exceed(
                "xml-too-many-elements",
                l.max_elements,
                at,
            ));
        }
        let raw = e.name().into_inner();
        if raw.len() > l.max_name_bytes {
            return Err(ParseError::exceed(
                "xml-name-too-long",
                l.max_name_bytes,
                at,
            ));
        }
        let name = rebase(self.text, raw).ok_or_else(|| syntax(at as u64))?;
        let (parent, siblings) = match self.stack.last_mut() {
            Some(open) => (open.path, &mut open.children),
            None => (self.root, &mut self.root_children),
        };
        let nth = siblings.entry(name).or_insert(0);
        *nth += 1;
        let path = self
            .out
            .paths
            .named(parent, Seg::Element, name.into(), *nth);
        for (n, attr) in e.attributes().enumerate() {
            if n >= l.max_attributes {
                return Err(ParseError::exceed(
                    "xml-too-many-attributes",
                    l.max_attributes,
                    at,
                ));
            }
            let attr = attr.map_err(|err| match err {
                AttrError::Duplicated(..) => ParseError::malformed("xml-duplicate-attribute", at),
                _ => syntax(at as u64),
            })?;
            let key = attr.key.into_inner();
            if key.len() > l.max_name_bytes {
                return Err(ParseError::exceed(
                    "xml-name-too-long",
                    l.max_name_bytes,
                    at,
                ));
            }
            if attr.value.len() > l.max_text_bytes {
                return Err(ParseError::exceed(
                    "xml-text-too-long",
                    l.max_text_bytes,
                    at,
                ));
            }
            if attr.value.contains(&b'<') {
                return Err(syntax(at as u64));
            }
            let value = attr
                .decode_and_unescape_value(decoder)
                .map_err(|_| ParseError::malformed("xml-unknown-entity", at))?;
            let key = rebase(self.text, key).ok_or_else(|| syntax(at as u64))?;
            let apath = self.out.paths.named(path, Seg::Attribute, key.into(), 0);
            let value = rebase_cow(self.text, value);
            self.out.leaf(apath, LeafKind::Attribute, value);
        }
        Ok(path)
    }
}

/// Whether an XML document's prolog declares an entity the parser would fetch or read
/// from outside the document (XXE): a `SYSTEM` identifier anywhere in its DOCTYPE, an
/// entity with a `PUBLIC` one, or a parameter entity. The body parser refuses every
/// DOCTYPE; this is for content it forwards without parsing as a document, such as an
/// uploaded SVG. A DOCTYPE naming a public DTD (`<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG
/// 1.1//EN" "http://www.w3.org/...">`, as drawing programs write) and internal text
/// entities (`<!ENTITY ns_svg "http://www.w3.org/2000/svg">`) declare nothing external.
pub fn declares_external_entity(doc: &[u8]) -> bool {
    /// Prolog events read at most: the DOCTYPE comes before the root element.
    const MAX_EVENTS: usize = 64;
    let doc = doc.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(doc);
    if doc.trim_ascii_start().first() != Some(&b'<') {
        return false;
    }
    let mut reader = Reader::from_reader(doc);
    for _ in 0..MAX_EVENTS {
        match reader.read_event() {
            Ok(Event::DocType(d)) => return external_in_doctype(&d.to_ascii_lowercase()),
            Ok(Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::Text(_)) => {}
            _ => return false,
        }
    }
    false
}

/// [`declares_external_entity`] on a lowercased DOCTYPE body (after `<!DOCTYPE`).
fn external_in_doctype(d: &[u8]) -> bool {
    let keyword_then_literal = |s: &[u8], word: &[u8]| {
        s.windows(word.len()).enumerate().any(|(i, w)| {
            w == word
                && (i == 0 || s[i - 1].is_ascii_whitespace())
                && s[i + word.len()..]
                    .trim_ascii_start()
                    .first()
                    .is_some_and(|c| matches!(c, b'"' | b'\''))
        })
    };
    if keyword_then_literal(d, b"system") {
        return true;
    }
    // Each entity declaration on its own: a DOCTYPE may itself be PUBLIC.
    let mut rest = d;
    while let Some(at) = rest.windows(8).position(|w| w == b"<!entity") {
        let decl = &rest[at + 8..];
        let end = decl.iter().position(|&c| c == b'>').unwrap_or(decl.len());
        let decl = &decl[..end];
        if decl.trim_ascii_start().first() == Some(&b'%') || keyword_then_literal(decl, b"public") {
            return true;
        }
        rest = &rest[at + 8 + end..];
    }
    false
}

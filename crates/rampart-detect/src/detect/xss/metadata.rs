//! `<link>` and `<meta>` that only describe a document: navigation links (`rel="next"`,
//! `rel="canonical"`, icons) and named metadata (`name="viewport"`). Documentation pages
//! pasted into a field carry them in every head; the active forms (`rel=stylesheet` or
//! `import`, `http-equiv`, `charset`) still count.

use super::attributes::pairs;

/// `rel` tokens that load nothing a page runs or styles with.
const INERT_RELS: &[&[u8]] = &[
    b"next",
    b"prev",
    b"previous",
    b"up",
    b"start",
    b"first",
    b"last",
    b"index",
    b"contents",
    b"home",
    b"top",
    b"chapter",
    b"section",
    b"subsection",
    b"glossary",
    b"appendix",
    b"copyright",
    b"help",
    b"author",
    b"license",
    b"canonical",
    b"bookmark",
    b"nofollow",
    b"noopener",
    b"noreferrer",
    b"icon",
    b"shortcut",
    b"apple-touch-icon",
    b"mask-icon",
    b"dns-prefetch",
    b"preconnect",
    b"me",
    // Feed and API links (Atom, RSS discovery, OpenSearch).
    b"alternate",
    b"self",
    b"related",
    b"enclosure",
    b"via",
    b"edit",
    b"edit-media",
    b"replies",
    b"hub",
    b"search",
];

/// Whether the lowercased attribute area `attrs` of a `<link>` (`meta` false) or
/// `<meta>` only describes the document. `document`: the value is a whole HTML document
/// (an e-mail template, a saved page), whose own head declares its charset. `xml`: it is
/// an XML document (`<?xml` first), where a `<link>` without `rel` is an Atom or RSS link.
pub(super) fn inert(meta: bool, attrs: &[u8], document: bool, xml: bool) -> bool {
    let Some(pairs) = pairs(attrs) else {
        return false;
    };
    let value = |name: &[u8]| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    if meta {
        // A charset, even UTF-8, re-decodes the page when it comes first: injected, it
        // is the attack, so only named metadata passes. A document's own UTF-8
        // declaration is the norm (`<meta charset="utf-8">`, or as Content-Type).
        let utf8 = |v: &[u8]| v.ends_with(b"utf-8");
        if document {
            return value(b"charset").is_none_or(utf8)
                && value(b"http-equiv")
                    .is_none_or(|h| h == b"content-type" && value(b"content").is_some_and(utf8));
        }
        // Named metadata: `name`, Open Graph's RDFa `property`, microdata's `itemprop`.
        return [&b"name"[..], b"property", b"itemprop"]
            .iter()
            .any(|n| value(n).is_some())
            && value(b"http-equiv").is_none()
            && value(b"charset").is_none();
    }
    match value(b"rel") {
        None => xml,
        Some(rel) => rel
            .split(u8::is_ascii_whitespace)
            .filter(|t| !t.is_empty())
            .all(|t| INERT_RELS.contains(&t)),
    }
}

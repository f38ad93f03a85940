//! Strict, bounded body parsers for Rampart's inner tier.
//!
//! What it does: given a body already read whole within a size limit, it undoes the
//! `Content-Encoding` (gzip, deflate, br, zstd; capped output, ratio and layers),
//! picks a parser from the `Content-Type`, and either produces the leaves to inspect
//! (JSON, XML/SOAP, URL-encoded forms, multipart/form-data, GraphQL, plain text) plus
//! the files to scan, or refuses with a [`ParseError`] that maps to 400, 413, 415 or
//! 422. Every parser refuses input that backends are known to read differently
//! (duplicate keys, DOCTYPEs, bare-LF multipart, multi-member gzip) and enforces its
//! limits while parsing, with bounded memory and no recursion on input depth.
//!
//! What it does not do: no sockets, no async, no detection (the detection engine
//! consumes the leaves), no schema validation, no charsets other than UTF-8.

pub mod decode;
mod error;
pub mod form;
pub mod graphql;
pub mod json;
mod limits;
pub mod media;
pub mod multipart;
mod tree;
pub mod xml;

pub use error::ParseError;
pub use limits::{
    DecodeLimits, FormLimits, GraphqlLimits, JsonLimits, Limits, MultipartLimits, XmlLimits,
};
pub use media::MediaType;
pub use tree::{
    BodyKind, FilePart, GraphqlStats, Leaf, LeafKind, Locations, Note, Parsed, PathId, TopField,
};

use std::borrow::Cow;

use bytes::Bytes;

/// Per-route choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// The route serves GraphQL: JSON bodies are GraphQL-over-JSON requests.
    pub graphql: bool,
    /// Media types this crate does not parse pass as [`BodyKind::Opaque`] instead of 415.
    pub allow_opaque: bool,
    /// Produce [`Parsed::canonical`] for JSON bodies, to forward instead of the original.
    pub canonical: bool,
    /// Read a JSON body shaped as GraphQL-over-JSON (a `"query"` member whose operations
    /// parse) as GraphQL on any route, so its limits hold. Off where a contract validates
    /// the body as JSON.
    pub sniff_graphql: bool,
}

/// Parses a body that has already been decoded with [`decode::decode`].
///
/// ```
/// use bytes::Bytes;
/// use rampart_parse::{decode, parse, Limits, Options};
///
/// let limits = Limits::default();
/// let raw = Bytes::from_static(br#"{"user":"alice"}"#);
/// let body = decode::decode(None, &raw, &limits.decode)?;
/// let parsed = parse(Some("application/json"), &body, &limits, Options::default())?;
/// assert_eq!(parsed.leaves[1].value, "alice");
/// assert_eq!(parsed.location(parsed.leaves[1].path), "/user");
/// # Ok::<(), rampart_parse::ParseError>(())
/// ```
pub fn parse<'a>(
    content_type: Option<&str>,
    body: &'a Bytes,
    limits: &Limits,
    options: Options,
) -> Result<Parsed<'a>, ParseError> {
    let opaque = || tree::Out::default().into_parsed(BodyKind::Opaque);
    let Some(ct) = content_type else {
        return match (body.is_empty(), options.allow_opaque) {
            (true, _) => Ok(tree::Out::default().into_parsed(BodyKind::Empty)),
            (false, true) => Ok(opaque()),
            (false, false) => Err(ParseError::unsupported("media-missing", b"")),
        };
    };
    let media = MediaType::parse(ct)?;
    if body.is_empty() {
        // No content, so nothing for the type to describe (RFC 9110 8.3): clients send a
        // type with an empty POST, and zero bytes cannot reach a backend's parser.
        return Ok(tree::Out::default().into_parsed(BodyKind::Empty));
    }
    let Some(kind) = media.kind(options.graphql) else {
        if options.allow_opaque {
            return Ok(opaque());
        }
        return Err(ParseError::unsupported(
            "media-unsupported",
            media.essence().as_bytes(),
        ));
    };
    media.require_utf8()?;
    let b: &'a [u8] = body.as_ref();
    match kind {
        // GraphQL-over-JSON on a route not declared GraphQL: its limits (depth, aliases,
        // batch...) and rules (fragment cycles) hold once the operations parse; JSON that
        // only has a "query" key reads as the JSON it is.
        BodyKind::Json if options.sniff_graphql && graphql_request_shape(b) => {
            match graphql::parse_json_request(b, limits, options.canonical) {
                Err(e) if not_graphql(&e) => {
                    json::parse_shared(body, &limits.json, options.canonical)
                }
                result => result,
            }
        }
        BodyKind::Json => json::parse_shared(body, &limits.json, options.canonical),
        BodyKind::Xml => xml::parse(b, &limits.xml),
        BodyKind::Form => form::parse(b, &limits.form),
        BodyKind::Multipart => {
            let boundary = media
                .param("boundary")
                .ok_or(ParseError::malformed("multipart-bad-boundary", 0))?;
            multipart::parse(body, boundary, limits)
        }
        BodyKind::Graphql if media.subtype() == "graphql" => {
            graphql::parse_document(b, &limits.graphql)
        }
        BodyKind::Graphql => graphql::parse_json_request(b, limits, options.canonical),
        _ => {
            let text = std::str::from_utf8(b)
                .map_err(|e| ParseError::malformed("text-invalid-utf8", e.valid_up_to()))?;
            let mut out = tree::Out::default();
            out.leaf(PathId::ROOT, LeafKind::Text, Cow::Borrowed(text));
            Ok(out.into_parsed(BodyKind::Text))
        }
    }
}

/// Whether a sniffed body's GraphQL error says it is no GraphQL request (the "query" is
/// prose, the members are not a request's) rather than a GraphQL document that breaks
/// a limit or a rule (depth, aliases, a fragment cycle).
fn not_graphql(e: &ParseError) -> bool {
    let code = e.code();
    code.starts_with("json-")
        || matches!(
            code,
            "graphql-syntax"
                | "graphql-bad-request"
                | "graphql-missing-query"
                | "graphql-not-executable"
                | "graphql-invalid-utf8"
        )
}

/// Whether a JSON body may be a GraphQL-over-JSON request: an object or a batch array
/// with a `"query"` member.
fn graphql_request_shape(body: &[u8]) -> bool {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    matches!(first, Some(b'{' | b'[')) && memchr::memmem::find(body, b"\"query\"").is_some()
}

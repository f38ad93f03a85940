//! Turning a request head (and simple bodies) into [`Field`]s.
//!
//! Every header value is screened except: `Authorization` and `Proxy-Authorization` (they
//! carry credentials) — of those a JWT's unsigned part is screened (its JOSE header names
//! the `kid` a server reads into a path or SQL lookup and the `jku` it fetches before
//! checking any signature; without the signature it is no credential), its claims apart,
//! a `Basic` credential decoded (under the `credential` scope, whose hits keep no
//! fragment: it holds a password), and a `Bearer` or `Basic` credential that is no token
//! at all (`Bearer x' or '1'='1`: the syntax of both is base64-like, RFC 6750 and 7617)
//! whole —, `Cookie` (split into cookie names and values instead) and
//! `Content-Length` (validated by the edge as a number). `User-Agent`,
//! `Referer` and custom `X-*` headers are screened: payloads in custom headers are a known
//! blind spot of other WAFs.

use std::borrow::Cow;

use http::{HeaderMap, Uri};

use crate::decode::hex;
use crate::field::{Field, FieldKind, Location};

/// Headers that are not screened (see the module documentation for why).
pub const UNSCREENED_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "content-length",
];

/// The fields of a request head, with counts the caller may want to limit.
#[derive(Debug, Clone, Default)]
pub struct HeadFields<'a> {
    /// Every field, in request order: path, query, cookies, headers.
    pub fields: Vec<Field<'a>>,
    /// Number of query parameters.
    pub query_params: usize,
    /// Number of cookies.
    pub cookies: usize,
}

/// The fields of a request head: the path (and each segment of it that is more than a name
/// or id, [`path_segments`]), each query parameter name and value, each cookie name and
/// value, and each screened header value.
pub fn head_fields<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> HeadFields<'a> {
    let mut out = HeadFields::default();
    // Room for every field at once.
    let query_fields = uri.query().map_or(0, |q| pair_fields(q.as_bytes(), b'&'));
    let cookie_fields: usize = headers
        .get_all(http::header::COOKIE)
        .iter()
        .map(|c| pair_fields(c.as_bytes(), b';'))
        .sum();
    // Path segments screened as values are rare: one is left room for.
    out.fields
        .reserve(3 + query_fields + cookie_fields + headers.len());
    out.fields.push(Field::new(
        Location::scope_only("path"),
        FieldKind::Path,
        uri.path().as_bytes(),
    ));
    path_segments(uri.path(), &mut out.fields);
    if let Some(query) = uri.query() {
        let odd;
        (out.query_params, odd) = pairs(
            query.as_bytes(),
            b'&',
            "query",
            FieldKind::QueryName,
            &mut out.fields,
        );
        if odd {
            out.fields.push(Field::new(
                Location::scope_only("query"),
                FieldKind::QueryValue,
                query.as_bytes(),
            ));
        }
    }
    for value in headers.get_all(http::header::COOKIE) {
        out.cookies += pairs(
            value.as_bytes(),
            b';',
            "cookie",
            FieldKind::CookieName,
            &mut out.fields,
        )
        .0;
    }
    for (name, value) in headers {
        if UNSCREENED_HEADERS.contains(&name.as_str()) {
            if matches!(name.as_str(), "authorization" | "proxy-authorization") {
                for (scope, screened) in credential_screened(value.as_bytes()).into_iter().flatten()
                {
                    out.fields.push(Field::new(
                        Location::new(scope, name.as_str()),
                        FieldKind::HeaderValue,
                        screened,
                    ));
                }
            }
            continue;
        }
        out.fields.push(Field::new(
            Location::new("header", name.as_str()),
            FieldKind::HeaderValue,
            value.as_bytes(),
        ));
    }
    // HTTP/2 and HTTP/3 carry the host in the URI: screen it as the `Host` it stands for
    // (rules comparing the Referer with the request's own site need it too).
    if !headers.contains_key(http::header::HOST)
        && let Some(authority) = uri.authority()
    {
        out.fields.push(Field::new(
            Location::new("header", "host"),
            FieldKind::HeaderValue,
            authority.as_str().as_bytes(),
        ));
    }
    out
}

/// What of an `Authorization` value is screened, and under which scope: a JWT's unsigned
/// part and, apart under [`CLAIMS_SCOPE`], its claims (a claim a backend trusts carries injections as any value
/// does); a `Basic` credential, which the decoder reads as `user:password` (a backend
/// looks the user up in SQL or LDAP), under the [`CREDENTIAL_SCOPE`] whose fragments are
/// never logged; or the whole value when a `Bearer` or `Basic` credential (or a value
/// without a scheme) is no token68. Nothing of any other credential.
fn credential_screened(value: &[u8]) -> [Option<(&'static str, &[u8])>; 2] {
    let (scheme, credential) = match memchr::memchr(b' ', value) {
        Some(sp) => (&value[..sp], value[sp..].trim_ascii()),
        None => (&b""[..], value),
    };
    let basic = scheme.eq_ignore_ascii_case(b"basic");
    if token68(credential) {
        if basic {
            return [Some((CREDENTIAL_SCOPE, credential)), None];
        }
        return match jws_unsigned(credential) {
            Some((unsigned, claims)) => [Some(("header", unsigned)), Some((CLAIMS_SCOPE, claims))],
            None => [None, None],
        };
    }
    // Other schemes (Digest, AWS4-HMAC-SHA256...) carry auth-params, not a token.
    let whole = scheme.is_empty() || scheme.eq_ignore_ascii_case(b"bearer") || basic;
    [whole.then_some(("header", value)), None]
}

/// The scope of a JWT's claims segment: identity providers write their own URLs into
/// claims (`iss`, `aud`, a development origin on `localhost` or a literal address), which
/// the SSRF and literal-IP URL rules leave alone there.
pub const CLAIMS_SCOPE: &str = "claims";

/// The scope of a decoded credential's field: a hit there names the rule and location
/// but keeps no fragment, which would copy part of a password into the logs.
pub const CREDENTIAL_SCOPE: &str = "credential";

/// RFC 9110 `token68`: base64 or base64url characters, then any `=` padding.
fn token68(credential: &[u8]) -> bool {
    let body = credential.trim_ascii_end();
    let unpadded = body.strip_suffix(b"=").map_or(body, |b| {
        let pad = b.iter().rev().take_while(|c| **c == b'=').count();
        &b[..b.len() - pad]
    });
    !unpadded.is_empty()
        && unpadded.iter().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// The unsigned part (`header.claims.`, the signature cut off) of a compact JWS whose
/// header is a JSON object (base64 `eyJ`), and its claims segment alone; `token` is a
/// token68, so ASCII.
fn jws_unsigned(token: &[u8]) -> Option<(&[u8], &[u8])> {
    let [header, claims, _] = crate::decode::jws_segments(std::str::from_utf8(token).ok()?)?;
    let at = header.len() + 1;
    header.starts_with("eyJ").then(|| {
        (
            &token[..at + claims.len() + 1],
            &token[at..at + claims.len()],
        )
    })
}

/// Whether a parameter of `query` (or of a form body) has a name no form or client writes
/// (a space, quote, `;`, `#`, `<`, `^`, a stray `%`...): a raw `&` inside a value split it
/// there, as in `x=<b>&lt;script&gt;` or `x=a&& echo %USERNAME%`. Such a query is also
/// screened whole, as one value: what a backend reading the raw query string gets, and
/// the only view in which the pieces read as what they are.
pub fn has_odd_name(query: &[u8]) -> bool {
    query.split(|&b| b == b'&').any(|piece| {
        let name = piece.split(|&b| b == b'=').next().unwrap_or(piece);
        odd_name(name)
    })
}

/// Bytes no client writes in a parameter name, raw or percent-encoded.
static ODD_IN_NAME: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[0x7F] = true;
    let odd = b" \"#';<>\\^`{|}";
    let mut i = 0;
    while i < odd.len() {
        t[odd[i] as usize] = true;
        i += 1;
    }
    t
};

/// [`has_odd_name`] of one name.
fn odd_name(name: &[u8]) -> bool {
    // Most names hold neither an odd byte nor an escape.
    if !name
        .iter()
        .any(|&b| b == b'%' || ODD_IN_NAME[usize::from(b)])
    {
        return false;
    }
    let mut i = 0;
    while let Some(&b) = name.get(i) {
        let b = if b == b'%' {
            let (Some(high), Some(low)) = (hex(name.get(i + 1)), hex(name.get(i + 2))) else {
                return true;
            };
            i += 2;
            high << 4 | low
        } else {
            b
        };
        if ODD_IN_NAME[usize::from(b)] {
            return true;
        }
        i += 1;
    }
    false
}

/// Pushes the segments of `path` that are more than a name or id as
/// [`FieldKind::PathSegment`] fields, located at `path` like the whole path (an exclusion at
/// `path` covers them). A REST route hands `/users/{id}` to the backend as a value: a
/// payload there is a parameter value, not a file name.
fn path_segments<'a>(path: &'a str, out: &mut Vec<Field<'a>>) {
    for segment in path.as_bytes().split(|&b| b == b'/') {
        if !plain_segment(segment) {
            out.push(Field::new(
                Location::scope_only("path"),
                FieldKind::PathSegment,
                segment,
            ));
        }
    }
}

/// Whether a path segment is a plain name or id: ASCII letters and digits, `-._~`, and
/// characters outside ASCII, raw or percent-encoded (`caf%C3%A9`). Ids, slugs, dates,
/// uuids and file names are; anything with a space, quote, bracket or operator is not.
fn plain_segment(segment: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = segment.get(i) {
        if b == b'%' {
            // Only an escape of a byte outside ASCII (a lead of 8-F) keeps it plain.
            let (high, low) = (hex(segment.get(i + 1)), hex(segment.get(i + 2)));
            if !matches!((high, low), (Some(8..), Some(_))) {
                return false;
            }
            i += 3;
            continue;
        }
        if !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || !b.is_ascii()) {
            return false;
        }
        i += 1;
    }
    true
}

/// The fields of an `application/x-www-form-urlencoded` body: names as [`FieldKind::BodyKey`]
/// and values as [`FieldKind::BodyValue`], located as `form:<raw name>`. Returns the number of
/// pairs.
pub fn form_fields<'a>(body: &'a [u8], out: &mut Vec<Field<'a>>) -> usize {
    out.reserve(pair_fields(body, b'&'));
    pairs(body, b'&', "form", FieldKind::BodyKey, out).0
}

/// Room for the name and value fields of `input` split on `sep`: growing the vector pair
/// by pair copies it each time.
fn pair_fields(input: &[u8], sep: u8) -> usize {
    2 * (memchr::memchr_iter(sep, input).count() + 1)
}

/// Splits `input` on `sep`, then each piece on the first `=`; pushes a name field (of
/// `name_kind`) and a value field (the matching value kind) per non-empty piece. The
/// caller reserves the room ([`pair_fields`]). Returns the number of pairs and whether a
/// name was odd ([`has_odd_name`]).
fn pairs<'a>(
    input: &'a [u8],
    sep: u8,
    scope: &'static str,
    name_kind: FieldKind,
    out: &mut Vec<Field<'a>>,
) -> (usize, bool) {
    let value_kind = match name_kind {
        FieldKind::QueryName => FieldKind::QueryValue,
        FieldKind::CookieName => FieldKind::CookieValue,
        _ => FieldKind::BodyValue,
    };
    // One check of the whole input: every piece of valid UTF-8 split at ASCII bytes is
    // valid too, and a label is then a slice instead of a check per name.
    let text = std::str::from_utf8(input).ok();
    let (mut count, mut odd) = (0, false);
    let mut start = 0;
    loop {
        let end = memchr::memchr(sep, &input[start..]).map_or(input.len(), |i| start + i);
        // Cookie pieces are trimmed; offsets, not slices, so the label can come from `text`.
        let (from, to) = if sep == b';' {
            let piece = &input[start..end];
            let lead = piece.len() - piece.trim_ascii_start().len();
            (start + lead, start + lead + piece.trim_ascii().len())
        } else {
            (start, end)
        };
        if from < to {
            count += 1;
            let eq = memchr::memchr(b'=', &input[from..to]).map(|i| from + i);
            let name = &input[from..eq.unwrap_or(to)];
            // Cookie names are not split by a value's `&`.
            odd = odd || (sep == b'&' && odd_name(name));
            let label = match text.and_then(|t| t.get(from..eq.unwrap_or(to))) {
                Some(label) => Cow::Borrowed(label),
                None => crate::decode::lossy(name),
            };
            if !name.is_empty() {
                out.push(Field::new(
                    Location::new(scope, label.clone()),
                    name_kind,
                    name,
                ));
            }
            if let Some(eq) = eq
                && eq + 1 < to
            {
                out.push(Field::new(
                    Location::new(scope, label),
                    value_kind,
                    &input[eq + 1..to],
                ));
            }
        }
        if end == input.len() {
            return (count, odd);
        }
        start = end + 1;
    }
}

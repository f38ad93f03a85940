//! What is inspected: one named input value of a request.

use std::borrow::Cow;
use std::fmt;

/// Where in the request a value came from; decides which rules apply and how it is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FieldKind {
    /// The URL path (already normalised by the caller).
    Path,
    /// The name of a query parameter.
    QueryName,
    /// The value of a query parameter.
    QueryValue,
    /// The name of a cookie.
    CookieName,
    /// The value of a cookie.
    CookieValue,
    /// A header value (the header name is in the location).
    HeaderValue,
    /// A key of a structured body (JSON object key, form field name, XML attribute name).
    BodyKey,
    /// A leaf value of a structured body (JSON string or number, form value, XML text).
    BodyValue,
    /// A body, or a part of one, that was not parsed into leaves (raw text).
    BodyText,
    /// An uploaded file name (multipart `filename=`).
    Filename,
    /// One segment of the URL path that is more than a plain name or id (it holds a space,
    /// quote, bracket, `=`, `;`...): REST routes read such segments as parameter values,
    /// so the rules for values run on it too (the whole path is a [`FieldKind::Path`]).
    PathSegment,
}

impl FieldKind {
    /// Every kind, in declaration order.
    pub const ALL: [FieldKind; 11] = [
        FieldKind::Path,
        FieldKind::QueryName,
        FieldKind::QueryValue,
        FieldKind::CookieName,
        FieldKind::CookieValue,
        FieldKind::HeaderValue,
        FieldKind::BodyKey,
        FieldKind::BodyValue,
        FieldKind::BodyText,
        FieldKind::Filename,
        FieldKind::PathSegment,
    ];

    /// The name used in rule files (`target = ["query-value", ...]`).
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Path => "path",
            FieldKind::QueryName => "query-name",
            FieldKind::QueryValue => "query-value",
            FieldKind::CookieName => "cookie-name",
            FieldKind::CookieValue => "cookie-value",
            FieldKind::HeaderValue => "header-value",
            FieldKind::BodyKey => "body-key",
            FieldKind::BodyValue => "body-value",
            FieldKind::BodyText => "body-text",
            FieldKind::Filename => "filename",
            FieldKind::PathSegment => "path-segment",
        }
    }

    /// Parses a rule-file name; also accepts the group names `names`, `values` and `all`.
    pub(crate) fn parse_group(name: &str) -> Option<&'static [FieldKind]> {
        use FieldKind::*;
        Some(match name {
            "all" => &Self::ALL,
            "names" => &[QueryName, CookieName, BodyKey],
            "values" => &[
                Path,
                QueryValue,
                CookieValue,
                HeaderValue,
                BodyValue,
                BodyText,
                Filename,
                PathSegment,
            ],
            "path" => &[Path],
            "query-name" => &[QueryName],
            "query-value" => &[QueryValue],
            "cookie-name" => &[CookieName],
            "cookie-value" => &[CookieValue],
            "header-value" => &[HeaderValue],
            "body-key" => &[BodyKey],
            "body-value" => &[BodyValue],
            "body-text" => &[BodyText],
            "filename" => &[Filename],
            "path-segment" => &[PathSegment],
            _ => return None,
        })
    }

    /// Whether `+` may mean a space in this kind: query strings and form bodies. Body
    /// leaves may come from a form, so they get that view too (an extra variant of a JSON
    /// string costs little and hides nothing). Cookie values too: PHP and most frameworks
    /// URL-decode them the way they decode a query.
    pub(crate) fn plus_is_space(self) -> bool {
        matches!(
            self,
            FieldKind::QueryName
                | FieldKind::QueryValue
                | FieldKind::CookieValue
                | FieldKind::BodyKey
                | FieldKind::BodyValue
        )
    }

    /// Whether this kind is a name rather than a value.
    pub(crate) fn is_name(self) -> bool {
        matches!(
            self,
            FieldKind::QueryName | FieldKind::CookieName | FieldKind::BodyKey
        )
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for FieldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A location such as `query:q`, `header:user-agent` or `json:/a/0/b`, kept as a scope and
/// a name so building one for every field on the clean path does not allocate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location<'a> {
    scope: &'static str,
    name: Cow<'a, str>,
}

impl<'a> Location<'a> {
    /// A location inside `scope` (e.g. `"query"`) named `name` (e.g. `"q"`).
    pub fn new(scope: &'static str, name: impl Into<Cow<'a, str>>) -> Self {
        Location {
            scope,
            name: name.into(),
        }
    }

    /// A location that is just a scope, e.g. `path`.
    pub fn scope_only(scope: &'static str) -> Self {
        Location {
            scope,
            name: Cow::Borrowed(""),
        }
    }

    /// The scope (`query`, `header`, `json`...).
    pub fn scope(&self) -> &'static str {
        self.scope
    }

    /// The name inside the scope (may be empty).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the name ends with `suffix` (already lowercase), ASCII case-insensitively.
    pub(crate) fn name_ends_with_ignore_case(&self, suffix: &str) -> bool {
        let name = self.name.as_bytes();
        name.len() >= suffix.len()
            && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    }

    /// Whether `pattern` names this location: `scope:name` exactly, or a prefix of it when
    /// the pattern ends with `*` (`header:x-*`, `json:/comment*`).
    pub fn matches(&self, pattern: &str) -> bool {
        let (pattern, prefix) = match pattern.strip_suffix('*') {
            Some(p) => (p, true),
            None => (pattern, false),
        };
        let rendered_len = self.scope.len() + usize::from(!self.name.is_empty()) + self.name.len();
        let scope_part = pattern.get(..self.scope.len());
        if scope_part != Some(self.scope) {
            // A pattern shorter than the scope can still be a prefix of it.
            return prefix && self.scope.starts_with(pattern);
        }
        let rest = &pattern[self.scope.len()..];
        if rest.is_empty() {
            return prefix || rendered_len == self.scope.len();
        }
        let Some(rest) = rest.strip_prefix(':') else {
            return false;
        };
        if prefix {
            self.name.starts_with(rest)
        } else {
            self.name == rest
        }
    }

    /// An owned copy.
    pub fn into_owned(self) -> Location<'static> {
        Location {
            scope: self.scope,
            name: Cow::Owned(self.name.into_owned()),
        }
    }
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.is_empty() {
            f.write_str(self.scope)
        } else {
            write!(f, "{}:{}", self.scope, self.name)
        }
    }
}

/// The name of a field's location, built only when needed (see [`crate::Scan::field_lazy`]).
pub trait LazyName {
    /// The name, e.g. `/a/0/b`: rendered at most once per field.
    fn render(&mut self) -> &str;
}

/// One value to inspect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    /// Where it came from, for exclusions and logs.
    pub location: Location<'a>,
    /// What kind of value it is.
    pub kind: FieldKind,
    /// The raw bytes as received (decoding is the engine's job).
    pub value: Cow<'a, [u8]>,
}

impl<'a> Field<'a> {
    /// A field over borrowed bytes.
    pub fn new(location: Location<'a>, kind: FieldKind, value: &'a [u8]) -> Self {
        Field {
            location,
            kind,
            value: Cow::Borrowed(value),
        }
    }

    /// A field owning its bytes (e.g. a JSON leaf that had to be unescaped).
    pub fn owned(location: Location<'a>, kind: FieldKind, value: Vec<u8>) -> Self {
        Field {
            location,
            kind,
            value: Cow::Owned(value),
        }
    }
}

//! Where a route takes its API key from: a header, or a query parameter when the route
//! allows it. A key taken from the query is removed before the request is forwarded, so
//! it reaches neither the backend nor its logs.

use std::fmt;

use http::uri::{PathAndQuery, Uri};
use http::{HeaderMap, HeaderName};

use super::{KeyRejection, MAX_PRESENTED_KEY_BYTES};

/// A route's key locations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeySource {
    /// Header carrying the key (usually `x-api-key`).
    pub header: Option<HeaderName>,
    /// Query parameter carrying the key; only for routes that must allow it.
    pub query: Option<String>,
}

/// A key as the client sent it. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedKey(Vec<u8>);

impl PresentedKey {
    /// The key's bytes, for lookup and deny-list checks.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for PresentedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PresentedKey(<{} bytes>)", self.0.len())
    }
}

/// What [`ApiKeySource::extract`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The key, if the request carried one.
    pub key: Option<PresentedKey>,
    /// The URI to forward when the key was taken from the query (the parameter removed,
    /// everything else byte for byte); `None` when the URI is unchanged.
    pub uri: Option<Uri>,
}

impl ApiKeySource {
    /// Takes the key from `headers` or `uri`. A key offered twice is refused rather than
    /// guessed at, so the edge and a backend cannot disagree on which one counts.
    pub fn extract(&self, headers: &HeaderMap, uri: &Uri) -> Result<Extracted, KeyRejection> {
        let mut found: Option<PresentedKey> = None;
        if let Some(name) = &self.header {
            let mut values = headers.get_all(name).iter();
            if let Some(v) = values.next() {
                if values.next().is_some() {
                    return Err(KeyRejection::Ambiguous);
                }
                found = Some(bounded(v.as_bytes())?);
            }
        }
        let mut new_uri = None;
        if let (Some(param), Some(query)) = (&self.query, uri.query()) {
            let (value, rest) = take_param(query, param)?;
            if let Some(value) = value {
                if found.is_some() {
                    return Err(KeyRejection::Ambiguous);
                }
                found = Some(bounded(value.as_bytes())?);
                new_uri = Some(with_query(uri, &rest).ok_or(KeyRejection::Malformed)?);
            }
        }
        Ok(Extracted {
            key: found,
            uri: new_uri,
        })
    }
}

fn bounded(bytes: &[u8]) -> Result<PresentedKey, KeyRejection> {
    if bytes.len() > MAX_PRESENTED_KEY_BYTES {
        return Err(KeyRejection::TooLong);
    }
    Ok(PresentedKey(bytes.to_vec()))
}

/// Splits `param`'s value out of `query`; returns the value and the query without it.
/// The parameter name is compared as sent (no decoding): keys need no escaping.
fn take_param<'q>(query: &'q str, param: &str) -> Result<(Option<&'q str>, String), KeyRejection> {
    let mut value = None;
    let mut rest: Vec<&str> = Vec::new();
    for segment in query.split('&') {
        let (name, v) = segment.split_once('=').unwrap_or((segment, ""));
        if name == param {
            if value.is_some() {
                return Err(KeyRejection::Ambiguous);
            }
            value = Some(v);
        } else {
            rest.push(segment);
        }
    }
    Ok((value, rest.join("&")))
}

fn with_query(uri: &Uri, query: &str) -> Option<Uri> {
    let path = uri.path();
    let pq = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(pq).ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
#[path = "source_tests.rs"]
mod tests;

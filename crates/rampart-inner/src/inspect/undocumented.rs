//! Traffic a route's OpenAPI contract does not describe, kept as a report for
//! `GET /admin/openapi/undocumented`: paths the spec does not document, methods it
//! does not allow on a documented path, query parameters and headers an operation
//! does not declare, and response statuses the backend sent that the operation does
//! not document.
//!
//! Bounded: one table per configured route, at most [`MAX_ENTRIES`] entries each
//! (the least recently seen is evicted), every name cut to [`MAX_NAME`] bytes. Paths
//! are kept as shapes (`/orders/{}/items`: numbers, ids and encoded segments become
//! `{}`); only parameter and header *names* are kept, never a value.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rampart_openapi::{Contract, Documented};
use serde::Serialize;

/// Entries kept per route.
pub(crate) const MAX_ENTRIES: usize = 500;
/// Longest name or path shape kept, in bytes.
pub(crate) const MAX_NAME: usize = 128;
/// Path segments kept in a shape; deeper paths end in `/...`.
const MAX_SEGMENTS: usize = 12;
/// Query parameters and headers looked at per request.
const MAX_NAMES_PER_REQUEST: usize = 64;

/// What kind of undocumented traffic an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Path,
    Parameter,
    Method,
    Status,
}

/// One kind of undocumented traffic seen on a route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Entry {
    /// The path shape, `query:name`, `header:name`, method or status.
    pub(crate) name: String,
    /// The operation (`GET /orders`) or path shape it was seen on, when there is one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) operation: String,
    /// Requests that showed it.
    pub(crate) count: u64,
    /// Unix seconds.
    pub(crate) first_seen_unix: u64,
    /// Unix seconds.
    pub(crate) last_seen_unix: u64,
}

#[derive(Debug, Default)]
struct Table {
    entries: HashMap<(Kind, String, String), Entry>,
    evicted: u64,
}

impl Table {
    fn note(&mut self, kind: Kind, operation: &str, name: &str, now: u64) {
        let key = (kind, cut(operation), cut(name));
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.count = entry.count.saturating_add(1);
            entry.last_seen_unix = now;
            return;
        }
        if self.entries.len() >= MAX_ENTRIES {
            // O(n) over a small, capped table, and only when a new name arrives at the cap.
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| (e.last_seen_unix, e.count))
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
                self.evicted = self.evicted.saturating_add(1);
            }
        }
        let entry = Entry {
            name: key.2.clone(),
            operation: key.1.clone(),
            count: 1,
            first_seen_unix: now,
            last_seen_unix: now,
        };
        self.entries.insert(key, entry);
    }

    fn report(&self) -> serde_json::Value {
        let list = |kind: Kind| {
            let mut out: Vec<&Entry> = self
                .entries
                .iter()
                .filter(|((k, _, _), _)| *k == kind)
                .map(|(_, e)| e)
                .collect();
            out.sort_by(|a, b| {
                b.count
                    .cmp(&a.count)
                    .then_with(|| (&a.operation, &a.name).cmp(&(&b.operation, &b.name)))
            });
            serde_json::to_value(out).unwrap_or_default()
        };
        serde_json::json!({
            "paths": list(Kind::Path),
            "parameters": list(Kind::Parameter),
            "methods": list(Kind::Method),
            "status_codes": list(Kind::Status),
            "evicted": self.evicted,
        })
    }
}

/// The report of every route with a contract; the set of routes is fixed at start.
#[derive(Debug, Default)]
pub(crate) struct Undocumented {
    routes: HashMap<String, Mutex<Table>>,
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Undocumented {
    /// Tables for `routes` (those with a contract).
    pub(crate) fn new<'a>(routes: impl IntoIterator<Item = &'a str>) -> Self {
        Undocumented {
            routes: routes
                .into_iter()
                .map(|r| (r.to_owned(), Mutex::new(Table::default())))
                .collect(),
        }
    }

    fn note(&self, route: &str, kind: Kind, operation: &str, name: &str, now: u64) {
        if let Some(table) = self.routes.get(route) {
            let mut table = table.lock().unwrap_or_else(|e| e.into_inner());
            table.note(kind, operation, name, now);
        }
    }

    /// Records what of this request `contract` does not document and returns the
    /// matched operation, for [`Self::response`].
    pub(crate) fn request<'c, 'h>(
        &self,
        route: &str,
        contract: &'c Contract,
        method: &str,
        path_and_query: &str,
        header_names: impl Iterator<Item = &'h str>,
    ) -> Option<Documented<'c>> {
        self.request_at(
            route,
            contract,
            (method, path_and_query),
            header_names,
            now_unix(),
        )
    }

    fn request_at<'c, 'h>(
        &self,
        route: &str,
        contract: &'c Contract,
        (method, path_and_query): (&str, &str),
        header_names: impl Iterator<Item = &'h str>,
        now: u64,
    ) -> Option<Documented<'c>> {
        if !self.routes.contains_key(route) {
            return None;
        }
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let Some(operation) = contract.operation(method, path) else {
            let shape = shape(path);
            if contract.allow(path).is_some() {
                self.note(route, Kind::Method, &shape, &token(method), now);
            } else {
                self.note(route, Kind::Path, "", &shape, now);
            }
            return None;
        };
        let label = operation.label();
        let names = query
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty())
            .take(MAX_NAMES_PER_REQUEST)
            .map(|pair| query_name(pair.split('=').next().unwrap_or("")));
        for name in names {
            if !operation.documents_query(&name) {
                self.note(route, Kind::Parameter, label, &format!("query:{name}"), now);
            }
        }
        for name in header_names.take(MAX_NAMES_PER_REQUEST) {
            let name = name.to_ascii_lowercase();
            if !ordinary_header(&name) && !operation.documents_header(&name) {
                self.note(
                    route,
                    Kind::Parameter,
                    label,
                    &format!("header:{name}"),
                    now,
                );
            }
        }
        Some(operation)
    }

    /// Records a response status the operation does not document.
    pub(crate) fn response(&self, route: &str, operation: &Documented<'_>, status: u16) {
        if !operation.documents_status(status) {
            self.note(
                route,
                Kind::Status,
                operation.label(),
                &status.to_string(),
                now_unix(),
            );
        }
    }

    /// `{route: {paths, parameters, methods, status_codes, evicted}}`.
    pub(crate) fn report(&self) -> serde_json::Value {
        let mut names: Vec<&String> = self.routes.keys().collect();
        names.sort();
        let routes: serde_json::Map<String, serde_json::Value> = names
            .into_iter()
            .filter_map(|name| {
                let table = self.routes.get(name)?;
                let table = table.lock().unwrap_or_else(|e| e.into_inner());
                Some((name.clone(), table.report()))
            })
            .collect();
        serde_json::json!({ "max_entries_per_route": MAX_ENTRIES, "routes": routes })
    }
}

/// At most [`MAX_NAME`] bytes, cut on a character boundary.
fn cut(s: &str) -> String {
    if s.len() <= MAX_NAME {
        return s.to_owned();
    }
    let mut end = MAX_NAME;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// A method as a token: anything else becomes `?`.
fn token(method: &str) -> String {
    if method
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        method.to_owned()
    } else {
        "?".to_owned()
    }
}

/// A query parameter name, percent-decoded; control characters become `?`.
fn query_name(raw: &str) -> String {
    let raw = raw.replace('+', " ");
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let v = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The path with its variable-looking segments replaced by `{}`, so ids do not grow the
/// table: numbers, uuids and other hex ids, percent-encoded segments, and segments
/// that mix letters and digits after a separator (`order-1234`).
pub(crate) fn shape(path: &str) -> String {
    let mut out = String::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        if i == MAX_SEGMENTS {
            out.push_str("/...");
            break;
        }
        out.push('/');
        if variable(segment) {
            out.push_str("{}");
        } else {
            out.push_str(segment);
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    cut(&out)
}

fn variable(segment: &str) -> bool {
    let digits = segment.bytes().filter(u8::is_ascii_digit).count();
    let hexish = segment
        .bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_');
    !segment.is_empty()
        && (digits == segment.len()
            || (hexish && digits > 0 && segment.len() >= 8)
            || segment.contains(['%', '@', '=', ';', ',', ':', '~'])
            || segment.len() > 40
            || (digits >= 3 && segment.contains(['-', '_', '.'])))
}

/// Headers every client or proxy sends; an OpenAPI spec does not list them (`Accept`,
/// `Content-Type` and `Authorization` are even forbidden as header parameters).
fn ordinary_header(name: &str) -> bool {
    const ORDINARY: &[&str] = &[
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "authorization",
        "baggage",
        "cache-control",
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "cookie",
        "dnt",
        "expect",
        "forwarded",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "origin",
        "pragma",
        "priority",
        "range",
        "referer",
        "te",
        "traceparent",
        "tracestate",
        "upgrade-insecure-requests",
        "user-agent",
        "via",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-real-ip",
        "x-request-id",
    ];
    ORDINARY.contains(&name) || name.starts_with("sec-") || name.starts_with("x-rampart-")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use rampart_openapi::LoadLimits;

    #[test]
    fn shapes_replace_ids_and_keep_words() {
        let table = [
            ("/orders/12345", "/orders/{}"),
            (
                "/orders/4f1c2a9e-8a1b-4c2d-9e3f-0a1b2c3d4e5f/items",
                "/orders/{}/items",
            ),
            ("/users/a%40b.com", "/users/{}"),
            ("/users/me@example.com/x", "/users/{}/x"),
            ("/files/deadbeef01cafe", "/files/{}"),
            ("/orders/order-1234", "/orders/{}"),
            ("/v2/orders", "/v2/orders"),
            ("/api/v1.2/status", "/api/v1.2/status"),
            ("/reports/2024", "/reports/{}"),
            ("/beef/feed/cafe", "/beef/feed/cafe"),
            ("/", "/"),
            ("", "/"),
            (
                "/a/b/c/d/e/f/g/h/i/j/k/l/m/n",
                "/a/b/c/d/e/f/g/h/i/j/k/l/...",
            ),
        ];
        for (path, want) in table {
            assert_eq!(shape(path), want, "{path}");
        }
        assert!(shape(&format!("/{}", "a".repeat(500))).len() <= MAX_NAME);
    }

    #[test]
    fn the_table_is_capped_and_evicts_the_least_recently_seen() {
        let mut table = Table::default();
        table.note(Kind::Path, "", "/keep", 1);
        for i in 0..MAX_ENTRIES + 50 {
            table.note(Kind::Path, "", &format!("/p{i}"), 2 + i as u64);
            // `/keep` stays fresh, so it is never the oldest.
            table.note(Kind::Path, "", "/keep", 2 + i as u64);
        }
        assert_eq!(table.entries.len(), MAX_ENTRIES);
        assert_eq!(table.evicted, 51);
        let keep = &table.entries[&(Kind::Path, String::new(), "/keep".to_owned())];
        assert_eq!(
            (keep.count, keep.first_seen_unix),
            (MAX_ENTRIES as u64 + 51, 1)
        );
        assert!(
            !table
                .entries
                .contains_key(&(Kind::Path, String::new(), "/p0".to_owned()))
        );
        let long = "x".repeat(10 * MAX_NAME);
        table.note(Kind::Parameter, &long, &long, 9999);
        assert!(
            table
                .entries
                .keys()
                .all(|(_, o, n)| o.len() <= MAX_NAME && n.len() <= MAX_NAME)
        );
    }

    #[test]
    fn records_names_never_values_and_skips_what_the_contract_documents() {
        let spec = br#"{"openapi": "3.1.0", "paths": {
            "/orders": {"get": {"parameters": [{"name": "limit", "in": "query"},
                {"name": "X-Tenant", "in": "header"}],
                "responses": {"200": {"description": "ok"}}}},
            "/orders/{id}": {"get": {"responses": {"200": {"description": "ok"}}}}}}"#;
        let contract = Contract::from_bytes(spec, &LoadLimits::default()).unwrap();
        let report = Undocumented::new(["orders"]);
        let headers = ["Accept", "X-Tenant", "X-Debug", "sec-ch-ua"];
        let op = report
            .request_at(
                "orders",
                &contract,
                ("GET", "/orders?limit=5&debug=secret-value&a%62c=1&limit=6"),
                headers.into_iter(),
                100,
            )
            .unwrap();
        report.response("orders", &op, 200);
        report.response("orders", &op, 500);
        report.response("orders", &op, 500);
        assert!(
            report
                .request_at(
                    "orders",
                    &contract,
                    ("PATCH", "/orders/77"),
                    [].into_iter(),
                    101
                )
                .is_none()
        );
        for id in ["1", "2", "3"] {
            let path = format!("/admin/users/{id}?token=zzz-secret");
            report.request_at("orders", &contract, ("GET", &path), [].into_iter(), 102);
        }
        // Unknown routes (no contract) are not recorded.
        report.request_at("other", &contract, ("GET", "/x"), [].into_iter(), 103);
        let json = report.report();
        let text = json.to_string();
        assert!(
            !text.contains("secret") && !text.contains("token"),
            "{text}"
        );
        let orders = &json["routes"]["orders"];
        let names = |kind: &str| -> Vec<(String, String, u64)> {
            orders[kind]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["name"].as_str().unwrap().to_owned(),
                        e["operation"].as_str().unwrap_or("").to_owned(),
                        e["count"].as_u64().unwrap(),
                    )
                })
                .collect()
        };
        let s = |a: &str, b: &str, n| (a.to_owned(), b.to_owned(), n);
        assert_eq!(names("paths"), [s("/admin/users/{}", "", 3)]);
        assert_eq!(names("methods"), [s("PATCH", "/orders/{}", 1)]);
        assert_eq!(
            names("parameters"),
            [
                s("header:x-debug", "GET /orders", 1),
                s("query:abc", "GET /orders", 1),
                s("query:debug", "GET /orders", 1),
            ]
        );
        assert_eq!(names("status_codes"), [s("500", "GET /orders", 2)]);
        assert!(json["routes"].get("other").is_none());
    }
}

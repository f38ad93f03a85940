//! What one operation documents, for reporting traffic the contract does not describe:
//! query and header parameter names, and response status codes (`200`, `2XX`,
//! `default`). Nothing here refuses anything; the caller only records.

use serde_json::{Map, Value};

use crate::contract::{Contract, In, Operation};

/// Response status codes an operation documents.
#[derive(Debug, Clone, Default)]
pub(crate) struct Responses {
    /// The operation has a `responses` object at all.
    declared: bool,
    exact: Vec<u16>,
    /// `2XX` -> 2.
    ranges: Vec<u8>,
    default: bool,
}

impl Responses {
    /// The statuses of `op`'s `responses` keys; unknown keys are ignored (the spec is
    /// read for validation elsewhere, this only reports).
    pub(crate) fn of(op: &Map<String, Value>) -> Responses {
        let Some(map) = op.get("responses").and_then(Value::as_object) else {
            return Responses::default();
        };
        let mut out = Responses {
            declared: true,
            ..Responses::default()
        };
        for key in map.keys() {
            let k = key.to_ascii_uppercase();
            if k == "DEFAULT" {
                out.default = true;
            } else if let Ok(code) = k.parse::<u16>() {
                out.exact.push(code);
            } else if let [d @ b'1'..=b'5', b'X', b'X'] = k.as_bytes() {
                out.ranges.push(d - b'0');
            }
        }
        out
    }

    fn documents(&self, status: u16) -> bool {
        let range = u8::try_from(status / 100).unwrap_or(0);
        !self.declared
            || self.default
            || self.exact.contains(&status)
            || self.ranges.contains(&range)
    }
}

/// One operation of a contract, as found by [`Contract::operation`].
#[derive(Debug, Clone, Copy)]
pub struct Documented<'c> {
    op: &'c Operation,
}

impl Contract {
    /// The operation for `method` (upper case) at `path` (percent-encoded, no query),
    /// when the spec documents both.
    pub fn operation(&self, method: &str, path: &str) -> Option<Documented<'_>> {
        let (i, _) = self.match_path(path)?;
        self.paths[i]
            .operations
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, op)| Documented { op })
    }
}

impl Documented<'_> {
    /// `GET /orders/{id}`.
    pub fn label(&self) -> &str {
        &self.op.label
    }

    /// Whether a query parameter of that (decoded) name is documented. `deepObject`
    /// parameters document their `name[...]` keys.
    pub fn documents_query(&self, name: &str) -> bool {
        self.op.params.iter().any(|p| {
            p.location == In::Query
                && (p.name == name
                    || name
                        .strip_prefix(p.name.as_str())
                        .is_some_and(|rest| rest.starts_with('[')))
        })
    }

    /// Whether a header parameter of that name is documented (case-insensitive).
    pub fn documents_header(&self, name: &str) -> bool {
        self.op
            .params
            .iter()
            .any(|p| p.location == In::Header && p.name.eq_ignore_ascii_case(name))
    }

    /// Whether the operation documents response `status` (exactly, by its `NXX` range
    /// or by `default`). An operation without a `responses` object documents every
    /// status: there is nothing to compare with.
    pub fn documents_status(&self, status: u16) -> bool {
        self.op.responses.documents(status)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crate::{Contract, LoadLimits};

    #[test]
    fn reports_what_an_operation_documents() {
        let spec = br#"{"openapi": "3.1.0", "paths": {
            "/o/{id}": {"parameters": [{"name": "X-Tenant", "in": "header"}],
              "get": {"parameters": [{"name": "limit", "in": "query"},
                       {"name": "filter", "in": "query", "style": "deepObject",
                        "schema": {"type": "object"}}],
                      "responses": {"200": {"description": "ok"}, "4XX": {"description": "no"}}},
              "delete": {"responses": {"default": {"description": "any"}}},
              "put": {}}}}"#;
        let c = Contract::from_bytes(spec, &LoadLimits::default()).unwrap();
        assert!(c.operation("GET", "/nope").is_none());
        assert!(c.operation("POST", "/o/1").is_none());
        let get = c.operation("GET", "/o/1").unwrap();
        assert_eq!(get.label(), "GET /o/{id}");
        assert!(get.documents_query("limit"));
        assert!(get.documents_query("filter[status]"));
        assert!(!get.documents_query("limits"));
        assert!(!get.documents_query("debug"));
        assert!(get.documents_header("x-tenant"));
        assert!(!get.documents_header("x-debug"));
        for (status, documented) in [(200, true), (201, false), (404, true), (500, false)] {
            assert_eq!(get.documents_status(status), documented, "{status}");
        }
        assert!(c.operation("DELETE", "/o/1").unwrap().documents_status(503));
        assert!(c.operation("PUT", "/o/1").unwrap().documents_status(418));
    }
}

//! OpenAPI 3.0 and 3.1 contracts for Rampart's inner tier.
//!
//! What it does: loads a spec (JSON or YAML, size-capped, local `$ref`s only, cycles
//! and unsupported keywords refused at load), compiles it once into a matcher for
//! base paths, path templates (literal segments preferred), methods, parameters
//! (path, query, header, cookie; `form`/`simple`/`label`/`matrix`/`deepObject`/
//! delimited styles, `explode`) and request bodies per media type, and checks one
//! request with a bounded JSON Schema validator of its own (depth, error count and
//! total work capped). A check returns violations (class -> status, keyword,
//! location; never the value) and the set of values the schema pinned to a
//! non-free-text shape, which the injection detectors may skip. Backend responses
//! can be checked too (documented status, media type, JSON body schema; `readOnly`
//! and `writeOnly` in their response sense) when the spec was loaded with
//! [`Contract::load_with_responses`].
//!
//! What it does not do: no I/O besides reading the spec file, no network (external
//! `$ref`s are refused), no body parsing of its own beyond re-reading JSON the caller's
//! strict parser already accepted, no `discriminator`
//! (`oneOf` is validated as JSON Schema says; a union whose branches each require one
//! property with a distinct string constant is validated by trying the one branch an
//! object's value names, which decides the same), no `unevaluated*` keywords (refused).
//!
//! ```
//! use rampart_openapi::{Body, Contract, LoadLimits, Request};
//!
//! let spec = br#"{"openapi":"3.1.0","paths":{"/orders/{id}":{"get":{
//!   "parameters":[{"name":"id","in":"path","required":true,
//!                  "schema":{"type":"string","format":"uuid"}}]}}}}"#;
//! let contract = Contract::from_bytes(spec, &LoadLimits::default())?;
//! let headers = http::HeaderMap::new();
//! let request = |path| Request {
//!     method: "GET", path, query: None, headers: &headers,
//!     content_type: None, body: Body::Empty,
//! };
//! assert!(contract.check(&request("/orders/4f1c2a9e-8a1b-4c2d-9e3f-0a1b2c3d4e5f")).conforms());
//! let outcome = contract.check(&request("/orders/1'%20OR%20'1'='1"));
//! assert_eq!(outcome.first().map(|v| (v.keyword, v.location.as_str())), Some(("format", "path:id")));
//! # Ok::<(), rampart_openapi::LoadError>(())
//! ```

mod check;
mod contract;
mod doc;
mod documented;
mod error;
mod instance;
mod limits;
mod locations;
mod paths;
mod responses;
mod schema;

pub use check::{Body, Class, FieldValue, FormField, Outcome, Pinned, Request, Violation};
pub use contract::{Contract, Version};
pub use documented::Documented;
pub use error::LoadError;
pub use limits::{LoadLimits, ValidateLimits};
pub use responses::{Response, ResponseOutcome};

#[cfg(test)]
mod tests;

//! Checking one request against a [`Contract`]: path, method, parameters and body.

use std::collections::HashMap;

use http::HeaderMap;
use serde_json::{Map, Number, Value};

use crate::contract::{Contract, In, MediaEntry, Operation, Param, Style, is_json};
use crate::doc::{percent_decode, push_segment};
use crate::instance::Instance;
use crate::locations::{Leaves, List, Set};
use crate::paths::split_under;
use crate::schema::SchemaId;
use crate::schema::types;
use crate::schema::validate::Run;

/// The request as the contract sees it. Values are as received; the checker decodes.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method, uppercase.
    pub method: &'a str,
    /// The path, still percent-encoded, without the query.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// The `Content-Type` header value.
    pub content_type: Option<&'a str>,
    /// The body, already decoded and parsed strictly by the caller.
    pub body: Body<'a>,
}

/// The body of a request, as the caller's strict parser understood it.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// No body.
    Empty,
    /// A JSON document (already checked for duplicate keys, depth and size: it is
    /// re-read here into a tree, within the same bounds).
    Json(&'a [u8]),
    /// Fields of a URL-encoded form or a multipart body, in order.
    Fields(&'a [FormField<'a>]),
    /// Any other media type: only the media type is checked.
    Other,
}

/// One field of a form or multipart body.
#[derive(Debug, Clone)]
pub struct FormField<'a> {
    /// The field name, decoded.
    pub name: &'a str,
    /// Its value.
    pub value: FieldValue<'a>,
    /// The caller's location of this field (e.g. `form:qty`, `part:file`), used to
    /// report which fields are pinned.
    pub location: String,
}

impl<'a> FormField<'a> {
    /// A field named `name` at `location`: a text field when it has `text`, otherwise a
    /// file or a structured part (as `rampart_parse::Parsed::top_level_fields` reports).
    pub fn new(name: &'a str, text: Option<&'a str>, location: String) -> Self {
        FormField {
            name,
            value: text.map_or(FieldValue::Opaque, FieldValue::Text),
            location,
        }
    }
}

/// The value of a form field.
#[derive(Debug, Clone, Copy)]
pub enum FieldValue<'a> {
    /// A text value, decoded.
    Text(&'a str),
    /// An uploaded file or a structured (JSON/XML) part: present, content not checked.
    Opaque,
}

/// The kind of contract violation, which decides the response status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Class {
    /// No documented path matches (403).
    UndocumentedPath,
    /// The path is documented, the method is not (405).
    UndocumentedMethod,
    /// The operation does not accept this media type, or a body at all (415).
    UnsupportedMediaType,
    /// A parameter is missing or invalid, or a required body is missing (400).
    Parameter,
    /// The body violates its schema (422).
    Body,
    /// A backend response the operation does not document, or whose body violates
    /// its schema (502: the client gets no answer the contract does not allow).
    Response,
}

impl Class {
    /// The HTTP status this class of violation calls for.
    pub fn status(self) -> u16 {
        match self {
            Class::UndocumentedPath => 403,
            Class::UndocumentedMethod => 405,
            Class::UnsupportedMediaType => 415,
            Class::Parameter => 400,
            Class::Body => 422,
            Class::Response => 502,
        }
    }
}

/// One violation: what kind, which keyword failed, and where (`query:limit`,
/// `json:/items/0/qty`, `path`, `method`, `body`). Never the value itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The kind of violation.
    pub class: Class,
    /// The JSON Schema keyword (`type`, `required`, `additionalProperties`, ...) or
    /// contract rule (`undocumented-path`, `undocumented-method`, `media-type`,
    /// `body-required`, `repeated`, `encoding`, `budget`).
    pub keyword: &'static str,
    /// Where.
    pub location: String,
}

/// Values whose schema pins them to a non-free-text shape and that validated: the
/// injection detectors may skip them.
#[derive(Debug, Clone, Default)]
pub struct Pinned {
    json_values: Leaves,
    json_keys: Leaves,
    body_values: Set,
    body_keys: Set,
    query: Set,
    headers: Set,
    cookies: Set,
}

impl Pinned {
    /// A JSON body value by its leaf index: its position among the document's keys and
    /// scalars in document order (how `rampart-parse` numbers a JSON body's leaves).
    pub fn json_value(&self, leaf: usize) -> bool {
        self.json_values.contains(leaf)
    }

    /// A JSON body key, by its leaf index, whose name the schema declares.
    pub fn json_key(&self, leaf: usize) -> bool {
        self.json_keys.contains(leaf)
    }

    /// A form or multipart field's value, at the caller's location (`form:x`, `part:x`).
    pub fn body_value(&self, location: &str) -> bool {
        self.body_values.contains(location)
    }

    /// A form or multipart field's name, when the schema declares it.
    pub fn body_key(&self, location: &str) -> bool {
        self.body_keys.contains(location)
    }

    /// A query parameter, by its raw (undecoded) name as sent.
    pub fn query(&self, raw_name: &str) -> bool {
        self.query.contains(raw_name)
    }

    /// A header, by lowercase name.
    pub fn header(&self, name: &str) -> bool {
        self.headers.contains(name)
    }

    /// A cookie, by name as sent.
    pub fn cookie(&self, name: &str) -> bool {
        self.cookies.contains(name)
    }

    /// Number of pinned values, all places together.
    pub fn len(&self) -> usize {
        self.json_values.len()
            + self.body_values.len()
            + self.query.len()
            + self.headers.len()
            + self.cookies.len()
    }

    /// Whether nothing is pinned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The result of checking one request.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The matched operation (`POST /orders/{id}`), when the path and method matched.
    pub operation: Option<String>,
    /// The operation is marked `x-rampart-mode: report`: violations are only reported.
    pub report_only: bool,
    /// For [`Class::UndocumentedMethod`]: the documented methods, for `Allow`.
    pub allow: Option<String>,
    /// Violations, in the order found (the first decides the status), capped.
    pub violations: Vec<Violation>,
    /// Values the detectors may skip.
    pub pinned: Pinned,
    /// Validation work spent, in budget units.
    pub work: u64,
}

impl Outcome {
    /// Whether the request conforms.
    pub fn conforms(&self) -> bool {
        self.violations.is_empty()
    }

    /// The violation that decides the response.
    pub fn first(&self) -> Option<&Violation> {
        self.violations.first()
    }
}

impl Contract {
    /// Checks `request`; never fails: problems are violations in the outcome.
    pub fn check(&self, request: &Request<'_>) -> Outcome {
        let mut out = Outcome::default();
        let violation = |class, keyword, location: &str| Violation {
            class,
            keyword,
            location: location.to_owned(),
        };
        let Some((op, allow, path_values)) = self.find(request, &mut out) else {
            return out;
        };
        let Some(op) = op else {
            out.violations.push(violation(
                Class::UndocumentedMethod,
                "undocumented-method",
                "method",
            ));
            out.allow = Some(allow.to_owned());
            return out;
        };
        out.operation = Some(op.label.clone());
        out.report_only = op.report_only;
        let mut ctx = Ctx {
            contract: self,
            out: &mut out,
        };
        ctx.parameters(op, request, &path_values);
        ctx.body(op, request);
        out
    }

    /// The documented methods of the path `path` (percent-encoded, no query) as an
    /// `Allow` header value, when the spec documents the path.
    pub fn allow(&self, path: &str) -> Option<String> {
        let (i, _) = self.match_path(path)?;
        Some(self.paths[i].allow.clone())
    }

    /// The best-matching path entry and its template values.
    pub(crate) fn match_path(&self, path: &str) -> Option<(usize, Vec<(String, String)>)> {
        let mut best: Option<(usize, Vec<(String, String)>)> = None;
        for base in &self.bases {
            let Some(segments) = split_under(path, base) else {
                continue;
            };
            for &i in self.by_len.get(&segments.len()).into_iter().flatten() {
                let entry = &self.paths[i];
                let Some(values) = entry.template.matches(&segments) else {
                    continue;
                };
                let better = best
                    .as_ref()
                    .is_none_or(|(b, _)| entry.template.rank() > self.paths[*b].template.rank());
                if better {
                    let values = values
                        .into_iter()
                        .map(|(n, v)| (n.to_owned(), v.to_owned()))
                        .collect();
                    best = Some((i, values));
                }
            }
            if best.is_some() {
                break;
            }
        }
        best
    }

    /// Finds the path entry and operation. `None` (with a violation) when no path matches.
    #[allow(clippy::type_complexity)]
    fn find<'c>(
        &'c self,
        request: &Request<'_>,
        out: &mut Outcome,
    ) -> Option<(Option<&'c Operation>, &'c str, Vec<(String, String)>)> {
        let Some((i, values)) = self.match_path(request.path) else {
            out.violations.push(Violation {
                class: Class::UndocumentedPath,
                keyword: "undocumented-path",
                location: "path".into(),
            });
            return None;
        };
        let entry = &self.paths[i];
        let op = entry
            .operations
            .iter()
            .find(|(m, _)| m == request.method)
            .map(|(_, op)| op);
        Some((op, entry.allow.as_str(), values))
    }
}

struct Ctx<'c, 'o> {
    contract: &'c Contract,
    out: &'o mut Outcome,
}

/// One decoded query pair.
struct QueryPair<'q> {
    raw_name: &'q str,
    name: String,
    value: String,
}

impl Ctx<'_, '_> {
    fn violate(&mut self, class: Class, keyword: &'static str, location: String) {
        if self.out.violations.len() < self.contract.limits.max_errors {
            self.out.violations.push(Violation {
                class,
                keyword,
                location,
            });
        }
    }

    fn parameters(
        &mut self,
        op: &Operation,
        request: &Request<'_>,
        path_values: &[(String, String)],
    ) {
        let query = match parse_query(request.query.unwrap_or("")) {
            Some(q) => q,
            None => {
                self.violate(Class::Parameter, "encoding", "query".into());
                Vec::new()
            }
        };
        let cookies = cookies(request.headers);
        for p in &op.params {
            let location = format!("{}:{}", p.location.scope(), p.name);
            let raw: Vec<&str> = match p.location {
                In::Path => path_values
                    .iter()
                    .filter(|(n, _)| *n == p.name)
                    .map(|(_, v)| v.as_str())
                    .collect(),
                In::Query => match p.style {
                    Style::DeepObject => Vec::new(),
                    _ => query
                        .iter()
                        .filter(|q| q.name == p.name)
                        .map(|q| q.value.as_str())
                        .collect(),
                },
                In::Header => {
                    let mut values = Vec::new();
                    for v in request.headers.get_all(p.name.as_str()) {
                        match v.to_str() {
                            Ok(v) => values.push(v),
                            Err(_) => {
                                self.violate(Class::Parameter, "encoding", location.clone());
                            }
                        }
                    }
                    values
                }
                In::Cookie => cookies
                    .iter()
                    .filter(|(n, _)| *n == p.name)
                    .map(|(_, v)| *v)
                    .collect(),
            };
            let value = match self.param_value(p, &raw, &query) {
                Ok(Some(v)) => v,
                Ok(None) => {
                    if p.required {
                        self.violate(Class::Parameter, "required", location);
                    }
                    continue;
                }
                Err(keyword) => {
                    self.violate(Class::Parameter, keyword, location);
                    continue;
                }
            };
            if value == Value::String(String::new()) && p.allow_empty {
                continue;
            }
            let Some(schema) = p.schema else {
                continue;
            };
            let limits = &self.contract.limits;
            let mut run = Run::new(&self.contract.schemas, limits, &location);
            let ok = run.validate(schema, &Instance::of(&value));
            self.out.work += run.work;
            for e in run.errors {
                self.violate(Class::Parameter, e.keyword, e.location);
            }
            if ok && pinned_whole(&run.pinned, &value) {
                let pinned = &mut self.out.pinned;
                match p.location {
                    In::Query => {
                        let names = query
                            .iter()
                            .filter(|q| q.name == p.name)
                            .map(|q| q.raw_name);
                        pinned.query.extend(names);
                    }
                    In::Header => {
                        pinned.headers.insert(&p.name);
                    }
                    In::Cookie => {
                        pinned.cookies.insert(&p.name);
                    }
                    // The detectors see the whole path, not its parameters.
                    In::Path => {}
                }
            }
        }
    }

    /// Turns raw occurrences into one JSON value by style; `Ok(None)` when absent.
    fn param_value(
        &self,
        p: &Param,
        raw: &[&str],
        query: &[QueryPair<'_>],
    ) -> Result<Option<Value>, &'static str> {
        let schemas = &self.contract.schemas;
        let types = p.schema.map_or(0, |s| schemas.effective_types(s));
        let shape_array = types & types::ARRAY != 0 && types & !(types::ARRAY | types::NULL) == 0;
        let shape_object =
            types & types::OBJECT != 0 && types & !(types::OBJECT | types::NULL) == 0;
        if !p.json
            && (p.style == Style::DeepObject
                || (shape_object && p.location == In::Query && p.explode))
        {
            return Ok(self.object_from_query(p, query));
        }
        let joined;
        let single = match raw {
            [] => return Ok(None),
            [one] => *one,
            many if shape_array && p.location == In::Query && p.explode => {
                let item = p.schema.and_then(|s| schemas.item(s));
                let it = item.map_or(0, |i| schemas.effective_types(i));
                return Ok(Some(Value::Array(
                    many.iter().map(|v| coerce(v, it)).collect(),
                )));
            }
            many if p.location == In::Header => {
                // Repeated header lines mean one comma-joined value (RFC 9110).
                joined = many.join(",");
                joined.as_str()
            }
            // Two values for one parameter: backends disagree on which wins (HPP).
            _ => return Err("repeated"),
        };
        let single = match p.style {
            Style::Label => single.strip_prefix('.').ok_or("style")?,
            Style::Matrix => {
                let prefix = format!(";{}=", p.name);
                single.strip_prefix(prefix.as_str()).ok_or("style")?
            }
            _ => single,
        };
        if p.json {
            if single.len() > 64 * 1024 {
                return Err("maxLength");
            }
            return serde_json::from_str(single)
                .map(Some)
                .map_err(|_| "content");
        }
        if shape_array {
            let sep = match (p.style, p.explode) {
                (Style::SpaceDelimited, _) => ' ',
                (Style::PipeDelimited, _) => '|',
                (Style::Label, true) => '.',
                _ => ',',
            };
            let item = p.schema.and_then(|s| schemas.item(s));
            let it = item.map_or(0, |i| schemas.effective_types(i));
            if single.is_empty() {
                return Ok(Some(Value::Array(Vec::new())));
            }
            return Ok(Some(Value::Array(
                single.split(sep).map(|v| coerce(v, it)).collect(),
            )));
        }
        if shape_object {
            // `k1,v1,k2,v2`, or `k1=v1,k2=v2` when exploded.
            let mut map = Map::new();
            let schema = p.schema;
            let mut put = |k: &str, v: &str| {
                let pt = schema
                    .and_then(|s| schemas.property(s, k))
                    .map_or(0, |ps| schemas.effective_types(ps));
                map.insert(k.to_owned(), coerce(v, pt));
            };
            if p.explode {
                for kv in single.split(',') {
                    let (k, v) = kv.split_once('=').ok_or("style")?;
                    put(k, v);
                }
            } else {
                let parts: Vec<&str> = single.split(',').collect();
                if !parts.len().is_multiple_of(2) {
                    return Err("style");
                }
                for kv in parts.chunks(2) {
                    put(kv[0], kv[1]);
                }
            }
            return Ok(Some(Value::Object(map)));
        }
        Ok(Some(coerce(single, types)))
    }

    /// `name[prop]=v` (deepObject) or exploded form objects (each property its own
    /// query parameter).
    fn object_from_query(&self, p: &Param, query: &[QueryPair<'_>]) -> Option<Value> {
        let schemas = &self.contract.schemas;
        let mut map = Map::new();
        let mut declared = Vec::new();
        if let Some(s) = p.schema {
            schemas.property_names(s, &mut declared, 0);
        }
        for q in query {
            let key = if p.style == Style::DeepObject {
                let Some(k) = q
                    .name
                    .strip_prefix(p.name.as_str())
                    .and_then(|r| r.strip_prefix('['))
                    .and_then(|r| r.strip_suffix(']'))
                else {
                    continue;
                };
                k
            } else if declared.contains(&q.name) {
                q.name.as_str()
            } else {
                continue;
            };
            let pt = p
                .schema
                .and_then(|s| schemas.property(s, key))
                .map_or(0, |ps| schemas.effective_types(ps));
            map.insert(key.to_owned(), coerce(&q.value, pt));
        }
        (!map.is_empty()).then_some(Value::Object(map))
    }

    fn body(&mut self, op: &Operation, request: &Request<'_>) {
        let present = !matches!(request.body, Body::Empty);
        let Some(spec) = &op.body else {
            if present {
                self.violate(Class::UnsupportedMediaType, "media-type", "body".into());
            }
            return;
        };
        if !present {
            if spec.required {
                self.violate(Class::Parameter, "body-required", "body".into());
            }
            return;
        }
        let essence = request
            .content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let Some(entry) = media_entry(&spec.media, &essence) else {
            self.violate(Class::UnsupportedMediaType, "media-type", "body".into());
            return;
        };
        let Some(schema) = entry.schema else {
            return;
        };
        match request.body {
            Body::Json(bytes) => {
                if !is_json(&essence) {
                    self.violate(Class::UnsupportedMediaType, "media-type", "body".into());
                    return;
                }
                let value = match Instance::from_slice(bytes) {
                    Some(v) => v,
                    None => {
                        self.violate(Class::Body, "json", "json:".into());
                        return;
                    }
                };
                let run = Run::new(&self.contract.schemas, &self.contract.limits, "json:")
                    .validate_document(schema, &value);
                self.finish_body(run, None);
            }
            Body::Fields(fields) => {
                let (scope, value, opaque) = self.fields_value(schema, fields);
                let mut run = Run::new(&self.contract.schemas, &self.contract.limits, scope);
                run.validate(schema, &Instance::of(&value));
                // Files and structured parts were left out of the value: they count as
                // present, and only their names are checked.
                let schemas = &self.contract.schemas;
                let mut undeclared = Vec::new();
                for name in &opaque {
                    let mut location = scope.to_owned();
                    push_segment(&mut location, name);
                    run.errors
                        .retain(|e| !(e.keyword == "required" && e.location == location));
                    if schemas
                        .property(schema, name)
                        .is_some_and(|p| schemas.get(p).never)
                    {
                        undeclared.push(location);
                    }
                }
                for location in undeclared {
                    self.violate(Class::Body, "additionalProperties", location);
                }
                self.finish_body(run, Some(fields));
            }
            Body::Empty => {}
            Body::Other => {
                if is_json(&essence)
                    || essence == "application/x-www-form-urlencoded"
                    || essence == "multipart/form-data"
                {
                    // A type this checker validates arrived unparsed: fail closed.
                    self.violate(Class::UnsupportedMediaType, "media-type", "body".into());
                }
            }
        }
    }

    fn finish_body(&mut self, run: Run<'_>, fields: Option<&[FormField<'_>]>) {
        self.out.work += run.work;
        for e in run.errors {
            self.violate(Class::Body, e.keyword, e.location);
        }
        let pinned = &mut self.out.pinned;
        match fields {
            None => {
                // A JSON body: every key and scalar has its leaf position.
                pinned.json_values.extend(&run.pinned_leaves);
                pinned.json_keys.extend(&run.declared_leaves);
            }
            Some(fields) => {
                let by_name = ByName::new(fields);
                // Pointers are `/name` or `/name/i` (the i-th occurrence).
                for p in run.pinned.iter() {
                    if let Some(field) = by_name.field_at(p) {
                        pinned.body_values.insert(&field.location);
                    }
                }
                for k in run.declared_keys.iter() {
                    let name = unescape(k.trim_start_matches('/'));
                    for f in by_name.all.get(name.as_str()).into_iter().flatten() {
                        pinned.body_keys.insert(&f.location);
                    }
                }
            }
        }
    }

    /// Builds an object from form text fields: repeated names (or array-typed
    /// properties) become arrays; text is typed by the property's schema. Names of
    /// files and structured parts are returned apart.
    fn fields_value<'f>(
        &self,
        schema: SchemaId,
        fields: &'f [FormField<'f>],
    ) -> (&'static str, Value, Vec<&'f str>) {
        let schemas = &self.contract.schemas;
        let scope = match fields.first().map(|f| f.location.as_str()) {
            Some(l) if l.starts_with("part:") => "multipart:",
            _ => "form:",
        };
        let by_name = ByName::new(fields);
        let mut map = Map::new();
        let mut opaque = Vec::new();
        for f in fields {
            if map.contains_key(f.name) || opaque.contains(&f.name) {
                continue;
            }
            if matches!(f.value, FieldValue::Opaque) {
                opaque.push(f.name);
                continue;
            }
            let prop = schemas.property(schema, f.name);
            let pt = prop.map_or(0, |p| schemas.effective_types(p));
            let all = by_name.text.get(f.name).map_or(&[][..], Vec::as_slice);
            let as_array = all.len() > 1 || (pt & types::ARRAY != 0 && pt & types::STRING == 0);
            let item_types = prop
                .and_then(|p| schemas.item(p))
                .map_or(0, |i| schemas.effective_types(i));
            let one = |g: &FormField<'_>, t: u8| match g.value {
                FieldValue::Text(s) => coerce(s, t),
                FieldValue::Opaque => Value::String(String::new()),
            };
            let value = if as_array {
                Value::Array(all.iter().map(|g| one(g, item_types)).collect())
            } else {
                one(f, pt)
            };
            map.insert(f.name.to_owned(), value);
        }
        (scope, Value::Object(map), opaque)
    }
}

/// Form fields by name, in order: all of them, and those holding text (the value built
/// from them, and so a pointer's index, counts only these). Looked up per name: a scan
/// of every field per name or per pin was quadratic in the field count (1,000 fields
/// cost ~18 ms of CPU per request).
struct ByName<'f, 'a> {
    all: HashMap<&'a str, Vec<&'f FormField<'a>>>,
    text: HashMap<&'a str, Vec<&'f FormField<'a>>>,
}

impl<'f, 'a> ByName<'f, 'a> {
    fn new(fields: &'f [FormField<'a>]) -> Self {
        let mut all: HashMap<&'a str, Vec<&'f FormField<'a>>> = HashMap::new();
        let mut text: HashMap<&'a str, Vec<&'f FormField<'a>>> = HashMap::new();
        for f in fields {
            all.entry(f.name).or_default().push(f);
            if matches!(f.value, FieldValue::Text(_)) {
                text.entry(f.name).or_default().push(f);
            }
        }
        Self { all, text }
    }

    /// The field a pointer into the value names: `/name` (a name sent once) or
    /// `/name/i` (its i-th text occurrence).
    fn field_at(&self, pointer: &str) -> Option<&'f FormField<'a>> {
        let rest = pointer.strip_prefix('/')?;
        let (name, index) = match rest.rsplit_once('/') {
            Some((n, i)) => (n, i.parse::<usize>().ok()?),
            None => (rest, 0),
        };
        let name = unescape(name);
        let sent = self.all.get(name.as_str()).map_or(0, Vec::len);
        if !rest.contains('/') && sent > 1 {
            return None;
        }
        self.text.get(name.as_str())?.get(index).copied()
    }
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// Every leaf of `value` (or the value itself) was pinned.
fn pinned_whole(pinned: &List, value: &Value) -> bool {
    if pinned.iter().any(str::is_empty) {
        return true;
    }
    match value {
        Value::Array(items) if !items.is_empty() => {
            // One pass over the pins: a query value splits into thousands of items
            // (`ids=1,1,...`), and a search per item made that quadratic (a second of
            // CPU for an 8 KiB query).
            let mut seen = vec![false; items.len()];
            for p in pinned.iter() {
                if let Some(i) = p.strip_prefix('/').and_then(item_index)
                    && let Some(s) = seen.get_mut(i)
                {
                    *s = true;
                }
            }
            seen.iter().all(|&s| s)
        }
        _ => false,
    }
}

/// The index a pointer segment names, written as a pointer writes it (no sign or
/// leading zero, so `/01` is not item 1).
fn item_index(segment: &str) -> Option<usize> {
    let canonical = segment == "0" || !segment.starts_with('0');
    if canonical && !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
        segment.parse().ok()
    } else {
        None
    }
}

pub(crate) fn media_entry<'m>(media: &'m [MediaEntry], essence: &str) -> Option<&'m MediaEntry> {
    let main = essence.split('/').next().unwrap_or("");
    media
        .iter()
        .find(|m| m.range == essence)
        .or_else(|| {
            media
                .iter()
                .find(|m| m.range.strip_suffix("/*") == Some(main) && !main.is_empty())
        })
        .or_else(|| media.iter().find(|m| m.range == "*/*"))
}

/// Types a text value by the schema's types: numbers and booleans when allowed and
/// well-formed, otherwise the string (which then fails `type` if strings are not).
fn coerce(raw: &str, t: u8) -> Value {
    if t & (types::INTEGER | types::NUMBER) != 0
        && raw.len() <= 64
        && !raw.is_empty()
        && !raw.bytes().any(|b| b.is_ascii_whitespace())
        && let Ok(n) = serde_json::from_str::<Number>(raw)
    {
        return Value::Number(n);
    }
    if t & types::BOOLEAN != 0 && (raw == "true" || raw == "false") {
        return Value::Bool(raw == "true");
    }
    if t & types::NULL != 0 && t & types::STRING == 0 && (raw.is_empty() || raw == "null") {
        return Value::Null;
    }
    Value::String(raw.to_owned())
}

/// Splits and decodes a query string (`+` is a space). `None` on a malformed escape
/// or invalid UTF-8.
fn parse_query(query: &str) -> Option<Vec<QueryPair<'_>>> {
    let mut out = Vec::new();
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
        out.push(QueryPair {
            raw_name,
            name: percent_decode(&raw_name.replace('+', " "))?,
            value: percent_decode(&raw_value.replace('+', " "))?,
        });
    }
    Some(out)
}

/// `name=value` pairs of every `Cookie` header.
fn cookies(headers: &HeaderMap) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    for v in headers.get_all(http::header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            let pair = pair.trim();
            if let Some((n, v)) = pair.split_once('=') {
                out.push((n, v));
            }
        }
    }
    out
}

//! A loaded spec compiled into a request matcher: base paths from `servers`, path
//! templates, operations with their parameters and request bodies.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::doc::{self, child, deref};
use crate::error::LoadError;
use crate::limits::{LoadLimits, ValidateLimits};
use crate::paths::{Template, server_base};
use crate::schema::{Compiler, SchemaId, Schemas};

/// The HTTP methods an OpenAPI path item can document, in its key order.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Which OpenAPI line the document follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// 3.0.x (JSON Schema draft-4 subset, `nullable`).
    V30,
    /// 3.1.x (JSON Schema 2020-12).
    V31,
}

/// Where a parameter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum In {
    Path,
    Query,
    Header,
    Cookie,
}

impl In {
    pub(crate) fn scope(self) -> &'static str {
        match self {
            In::Path => "path",
            In::Query => "query",
            In::Header => "header",
            In::Cookie => "cookie",
        }
    }
}

/// How a parameter value is serialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Form,
    Simple,
    Label,
    Matrix,
    SpaceDelimited,
    PipeDelimited,
    DeepObject,
}

#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) location: In,
    pub(crate) required: bool,
    /// `None`: any value.
    pub(crate) schema: Option<SchemaId>,
    /// Declared with `content: {application/json: ...}`: the value is JSON text.
    pub(crate) json: bool,
    pub(crate) style: Style,
    pub(crate) explode: bool,
    pub(crate) allow_empty: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct MediaEntry {
    /// `type/subtype`, `type/*` or `*/*`, lowercase.
    pub(crate) range: String,
    pub(crate) schema: Option<SchemaId>,
}

#[derive(Debug, Clone)]
pub(crate) struct RequestBody {
    pub(crate) required: bool,
    pub(crate) media: Vec<MediaEntry>,
}

#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub(crate) label: String,
    pub(crate) params: Vec<Param>,
    pub(crate) body: Option<RequestBody>,
    pub(crate) report_only: bool,
    /// Documented response statuses (reported, never enforced).
    pub(crate) responses: crate::documented::Responses,
    /// Response media types and schemas, when compiled for response validation.
    pub(crate) bodies: crate::responses::ResponseBodies,
}

#[derive(Debug)]
pub(crate) struct PathEntry {
    pub(crate) template: Template,
    /// Uppercase method -> operation.
    pub(crate) operations: Vec<(String, Operation)>,
    /// The `Allow` header value for a 405.
    pub(crate) allow: String,
}

/// A compiled OpenAPI document: what requests it documents, with the schemas to check
/// them against. Cheap to share (`Arc`) and read-only once built.
#[derive(Debug)]
pub struct Contract {
    pub(crate) version: Version,
    pub(crate) schemas: Schemas,
    /// Base paths without trailing slash, longest first; `""` is the root.
    pub(crate) bases: Vec<String>,
    pub(crate) paths: Vec<PathEntry>,
    /// Segment count -> indices into `paths`.
    pub(crate) by_len: HashMap<usize, Vec<usize>>,
    pub(crate) limits: ValidateLimits,
    /// Whether response schemas were compiled ([`Contract::load_with_responses`]).
    pub(crate) with_responses: bool,
}

impl Contract {
    /// Loads and compiles the spec at `path` (JSON or YAML).
    pub fn load(path: &Path, limits: &LoadLimits) -> Result<Contract, LoadError> {
        let bytes = doc::read(path, limits)?;
        Self::from_bytes(&bytes, limits)
    }

    /// Compiles a spec held in memory (JSON or YAML).
    pub fn from_bytes(bytes: &[u8], limits: &LoadLimits) -> Result<Contract, LoadError> {
        let doc = doc::parse(bytes, limits)?;
        Self::from_value(&doc, limits)
    }

    /// [`Contract::load`], also compiling every operation's response schemas so that
    /// backend responses can be checked ([`Contract::check_response`]). Separate because
    /// a spec whose response schemas use unsupported keywords must still load for
    /// request validation alone.
    pub fn load_with_responses(path: &Path, limits: &LoadLimits) -> Result<Contract, LoadError> {
        let bytes = doc::read(path, limits)?;
        Self::from_bytes_with_responses(&bytes, limits)
    }

    /// [`Contract::from_bytes`] with response schemas compiled.
    pub fn from_bytes_with_responses(
        bytes: &[u8],
        limits: &LoadLimits,
    ) -> Result<Contract, LoadError> {
        let doc = doc::parse(bytes, limits)?;
        Self::build(&doc, limits, true)
    }

    /// Compiles an already parsed spec.
    pub fn from_value(doc: &Value, limits: &LoadLimits) -> Result<Contract, LoadError> {
        Self::build(doc, limits, false)
    }

    fn build(
        doc: &Value,
        limits: &LoadLimits,
        with_responses: bool,
    ) -> Result<Contract, LoadError> {
        let version = match doc.get("openapi").and_then(Value::as_str) {
            Some(v) if v.starts_with("3.0.") || v == "3.0" => Version::V30,
            Some(v) if v.starts_with("3.1.") || v == "3.1" => Version::V31,
            Some(v) => return Err(LoadError::Version(format!("openapi {v:?}"))),
            None if doc.get("swagger").is_some() => {
                return Err(LoadError::Version("Swagger 2.0".into()));
            }
            None => return Err(LoadError::Version("no `openapi` field".into())),
        };
        let mut compiler = Compiler::new(doc, limits);
        let bases = bases(doc)?;
        let mut paths = Vec::new();
        if let Some(items) = doc.get("paths") {
            let Some(items) = items.as_object() else {
                return Err(LoadError::invalid("/paths", "must be an object"));
            };
            for (raw, item) in items {
                if raw.starts_with("x-") {
                    continue;
                }
                let at = child("/paths", raw);
                let template = Template::parse(raw)
                    .ok_or_else(|| LoadError::invalid(&at, "malformed path template"))?;
                let (item, item_at) = deref(doc, item, &at, limits)?;
                let operations = path_item(
                    &mut compiler,
                    (doc, item, &item_at),
                    raw,
                    &template,
                    limits,
                    with_responses,
                )?;
                if operations.is_empty() {
                    continue;
                }
                let allow = operations
                    .iter()
                    .map(|(m, _)| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                paths.push(PathEntry {
                    template,
                    operations,
                    allow,
                });
            }
        }
        compiler.check_cycles()?;
        compiler.schemas.infer_tags();
        let mut by_len: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, p) in paths.iter().enumerate() {
            by_len.entry(p.template.len()).or_default().push(i);
        }
        Ok(Contract {
            version,
            schemas: compiler.schemas,
            bases,
            paths,
            by_len,
            limits: ValidateLimits::default(),
            with_responses,
        })
    }

    /// Replaces the validation limits.
    pub fn with_limits(mut self, limits: ValidateLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The OpenAPI line of the document.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Number of documented operations.
    pub fn operations(&self) -> usize {
        self.paths.iter().map(|p| p.operations.len()).sum()
    }
}

fn bases(doc: &Value) -> Result<Vec<String>, LoadError> {
    let Some(servers) = doc.get("servers").and_then(Value::as_array) else {
        return Ok(vec![String::new()]);
    };
    let mut bases = Vec::new();
    for (i, server) in servers.iter().enumerate() {
        let at = format!("/servers/{i}");
        let Some(url) = server.get("url").and_then(Value::as_str) else {
            return Err(LoadError::invalid(&at, "url is required"));
        };
        let defaults = |name: &str| {
            server
                .pointer(&format!("/variables/{name}/default"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let mut base = server_base(url, &defaults)
            .ok_or_else(|| LoadError::invalid(&at, "url variable without a default"))?;
        if !base.is_empty() && !base.starts_with('/') {
            base.insert(0, '/');
        }
        if !bases.contains(&base) {
            bases.push(base);
        }
    }
    if bases.is_empty() {
        bases.push(String::new());
    }
    bases.sort_by_key(|b| std::cmp::Reverse(b.len()));
    Ok(bases)
}

fn path_item(
    compiler: &mut Compiler<'_>,
    (doc, item, at): (&Value, &Value, &str),
    raw: &str,
    template: &Template,
    limits: &LoadLimits,
    with_responses: bool,
) -> Result<Vec<(String, Operation)>, LoadError> {
    let Some(item) = item.as_object() else {
        return Err(LoadError::invalid(at, "a path item must be an object"));
    };
    let shared = parameters(compiler, doc, item, at, limits)?;
    let mut operations = Vec::new();
    for method in METHODS {
        let Some(op) = item.get(method) else {
            continue;
        };
        let op_at = child(at, method);
        let Some(op) = op.as_object() else {
            return Err(LoadError::invalid(&op_at, "an operation must be an object"));
        };
        let own = parameters(compiler, doc, op, &op_at, limits)?;
        // Operation parameters override path-level ones with the same name and place.
        let mut params: Vec<Param> = shared
            .iter()
            .filter(|s| {
                !own.iter()
                    .any(|o| o.name == s.name && o.location == s.location)
            })
            .cloned()
            .collect();
        params.extend(own);
        for name in template.params() {
            if !params
                .iter()
                .any(|p| p.location == In::Path && p.name == name)
            {
                // Undeclared template variables still have to be there; any value.
                params.push(Param {
                    name: name.to_owned(),
                    location: In::Path,
                    required: true,
                    schema: None,
                    json: false,
                    style: Style::Simple,
                    explode: false,
                    allow_empty: false,
                });
            }
        }
        let body = match op.get("requestBody") {
            None => None,
            Some(b) => Some(request_body(
                compiler,
                doc,
                b,
                &child(&op_at, "requestBody"),
                limits,
            )?),
        };
        let report_only = match op.get("x-rampart-mode").and_then(Value::as_str) {
            None | Some("enforce") => false,
            Some("report") => true,
            Some(other) => {
                return Err(LoadError::invalid(
                    &child(&op_at, "x-rampart-mode"),
                    format!("{other:?} is not one of enforce, report"),
                ));
            }
        };
        operations.push((
            method.to_ascii_uppercase(),
            Operation {
                label: format!("{} {raw}", method.to_ascii_uppercase()),
                params,
                body,
                report_only,
                responses: crate::documented::Responses::of(op),
                bodies: if with_responses {
                    crate::responses::compile(compiler, doc, op, &op_at, limits)?
                } else {
                    crate::responses::ResponseBodies::default()
                },
            },
        ));
    }
    Ok(operations)
}

fn parameters(
    compiler: &mut Compiler<'_>,
    doc: &Value,
    owner: &Map<String, Value>,
    at: &str,
    limits: &LoadLimits,
) -> Result<Vec<Param>, LoadError> {
    let Some(list) = owner.get("parameters") else {
        return Ok(Vec::new());
    };
    let list_at = child(at, "parameters");
    let Some(list) = list.as_array() else {
        return Err(LoadError::invalid(&list_at, "must be an array"));
    };
    let mut out: Vec<Param> = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let (p, p_at) = deref(doc, p, &child(&list_at, &i.to_string()), limits)?;
        let param = parameter(compiler, p, &p_at)?;
        if out
            .iter()
            .any(|o| o.name == param.name && o.location == param.location)
        {
            return Err(LoadError::invalid(&p_at, "duplicate parameter"));
        }
        out.push(param);
    }
    Ok(out)
}

fn parameter(compiler: &mut Compiler<'_>, p: &Value, at: &str) -> Result<Param, LoadError> {
    let field = |k: &str| p.get(k);
    let Some(name) = field("name").and_then(Value::as_str) else {
        return Err(LoadError::invalid(at, "name is required"));
    };
    let location = match field("in").and_then(Value::as_str) {
        Some("path") => In::Path,
        Some("query") => In::Query,
        Some("header") => In::Header,
        Some("cookie") => In::Cookie,
        _ => {
            return Err(LoadError::invalid(
                at,
                "`in` must be path, query, header or cookie",
            ));
        }
    };
    let style = match field("style").and_then(Value::as_str) {
        None => match location {
            In::Query | In::Cookie => Style::Form,
            In::Path | In::Header => Style::Simple,
        },
        Some("form") => Style::Form,
        Some("simple") => Style::Simple,
        Some("label") => Style::Label,
        Some("matrix") => Style::Matrix,
        Some("spaceDelimited") => Style::SpaceDelimited,
        Some("pipeDelimited") => Style::PipeDelimited,
        Some("deepObject") => Style::DeepObject,
        Some(other) => return Err(LoadError::invalid(at, format!("unknown style {other:?}"))),
    };
    let explode = field("explode")
        .and_then(Value::as_bool)
        .unwrap_or(style == Style::Form);
    let (schema, json) = match (field("schema"), field("content")) {
        (Some(s), _) => (Some(compiler.compile(s, &child(at, "schema"))?), false),
        (None, Some(Value::Object(content))) => {
            let Some((media, entry)) = content.iter().next() else {
                return Err(LoadError::invalid(at, "content must name one media type"));
            };
            let c_at = child(&child(at, "content"), media);
            let schema = match entry.get("schema") {
                Some(s) => Some(compiler.compile(s, &child(&c_at, "schema"))?),
                None => None,
            };
            (schema, is_json(&media.to_ascii_lowercase()))
        }
        _ => (None, false),
    };
    // Header names compare case-insensitively.
    let name = if location == In::Header {
        name.to_ascii_lowercase()
    } else {
        name.to_owned()
    };
    Ok(Param {
        name,
        location,
        required: location == In::Path
            || field("required").and_then(Value::as_bool).unwrap_or(false),
        schema,
        json,
        style,
        explode,
        allow_empty: field("allowEmptyValue")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// The entries of the `content` object of the request body or response at `at`: media
/// ranges lowercased without parameters, each with its compiled schema.
pub(crate) fn media_entries(
    compiler: &mut Compiler<'_>,
    content: &serde_json::Map<String, Value>,
    at: &str,
) -> Result<Vec<MediaEntry>, LoadError> {
    let mut media = Vec::new();
    for (range, entry) in content {
        let e_at = child(&child(at, "content"), range);
        let range = range
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !range.contains('/') {
            return Err(LoadError::invalid(&e_at, "not a media range"));
        }
        let schema = match entry.get("schema") {
            Some(s) => Some(compiler.compile(s, &child(&e_at, "schema"))?),
            None => None,
        };
        media.push(MediaEntry { range, schema });
    }
    Ok(media)
}

fn request_body(
    compiler: &mut Compiler<'_>,
    doc: &Value,
    body: &Value,
    at: &str,
    limits: &LoadLimits,
) -> Result<RequestBody, LoadError> {
    let (body, at) = deref(doc, body, at, limits)?;
    let Some(content) = body.get("content").and_then(Value::as_object) else {
        return Err(LoadError::invalid(&at, "content is required"));
    };
    let media = media_entries(compiler, content, &at)?;
    Ok(RequestBody {
        required: body
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        media,
    })
}

/// `application/json` and `+json` types.
pub(crate) fn is_json(essence: &str) -> bool {
    essence == "application/json" || essence.ends_with("+json")
}

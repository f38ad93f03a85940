//! JSON Schema (the OpenAPI 3.0 dialect and 2020-12 as used by OpenAPI 3.1), compiled
//! once into an arena of nodes that refer to each other by index. `$ref` targets are
//! compiled once and shared, so recursive schemas are finite; loops that would
//! re-validate the same value forever (`$ref`/`allOf`/`anyOf`... cycles) are refused
//! at load time.

mod format;
mod pattern;
mod tag;
pub(crate) mod validate;

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::doc::{child, ref_pointer};
use crate::error::LoadError;
use crate::instance::Instance;
use crate::limits::LoadLimits;

pub(crate) use format::Format;
pub(crate) use pattern::Pattern;
pub(crate) use tag::Tag;

/// Index of a compiled schema in its [`Schemas`] arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SchemaId(u32);

/// JSON types as bits.
pub(crate) mod types {
    pub(crate) const NULL: u8 = 1;
    pub(crate) const BOOLEAN: u8 = 2;
    pub(crate) const OBJECT: u8 = 4;
    pub(crate) const ARRAY: u8 = 8;
    pub(crate) const NUMBER: u8 = 16;
    pub(crate) const INTEGER: u8 = 32;
    pub(crate) const STRING: u8 = 64;

    pub(crate) fn parse(name: &str) -> Option<u8> {
        Some(match name {
            "null" => NULL,
            "boolean" => BOOLEAN,
            "object" => OBJECT,
            "array" => ARRAY,
            "number" => NUMBER,
            "integer" => INTEGER,
            "string" => STRING,
            _ => return None,
        })
    }
}

/// One compiled schema node. Absent keywords are `None`/empty and cost nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct Schema {
    /// The `false` schema: nothing validates.
    pub(crate) never: bool,
    /// Allowed types (bits of [`types`]); 0: any.
    pub(crate) types: u8,
    pub(crate) enumeration: Option<Vec<Value>>,
    pub(crate) constant: Option<Value>,
    /// Sorted by name.
    pub(crate) properties: Vec<(String, SchemaId)>,
    pub(crate) required: Vec<String>,
    /// `required` sorted and without repeats, to check all at once against members.
    pub(crate) required_sorted: Vec<String>,
    /// Schema for properties matched neither by name nor by pattern; `None`: anything.
    pub(crate) additional: Option<SchemaId>,
    pub(crate) pattern_properties: Vec<(Pattern, SchemaId)>,
    pub(crate) property_names: Option<SchemaId>,
    pub(crate) min_properties: Option<u64>,
    pub(crate) max_properties: Option<u64>,
    pub(crate) dependent_required: Vec<(String, Vec<String>)>,
    pub(crate) prefix_items: Vec<SchemaId>,
    pub(crate) items: Option<SchemaId>,
    pub(crate) contains: Option<SchemaId>,
    pub(crate) min_contains: Option<u64>,
    pub(crate) max_contains: Option<u64>,
    pub(crate) min_items: Option<u64>,
    pub(crate) max_items: Option<u64>,
    pub(crate) unique_items: bool,
    pub(crate) min_length: Option<u64>,
    pub(crate) max_length: Option<u64>,
    pub(crate) pattern: Option<Pattern>,
    pub(crate) format: Option<Format>,
    pub(crate) minimum: Option<f64>,
    pub(crate) maximum: Option<f64>,
    pub(crate) exclusive_minimum: Option<f64>,
    pub(crate) exclusive_maximum: Option<f64>,
    pub(crate) multiple_of: Option<f64>,
    /// `$ref` (and any sibling keywords) work as one more `allOf` entry.
    pub(crate) all_of: Vec<SchemaId>,
    pub(crate) any_of: Vec<SchemaId>,
    pub(crate) one_of: Vec<SchemaId>,
    /// When `anyOf`/`oneOf` is a tagged union: which branch an object can hold.
    pub(crate) any_of_tag: Option<Tag>,
    pub(crate) one_of_tag: Option<Tag>,
    pub(crate) not: Option<SchemaId>,
    pub(crate) if_then_else: Option<(SchemaId, Option<SchemaId>, Option<SchemaId>)>,
    pub(crate) read_only: bool,
    /// `writeOnly`: never present in a response.
    pub(crate) write_only: bool,
}

impl Schema {
    /// The schema of property `name` when this node declares it.
    pub(crate) fn declared(&self, name: &str) -> Option<SchemaId> {
        self.properties
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.properties[i].1)
    }

    /// Whether a value that validated against this node is pinned down to a shape
    /// that cannot carry free text (so injection detectors may skip it).
    pub(crate) fn pins(&self, value: &Instance<'_>) -> bool {
        if self.enumeration.is_some() || self.constant.is_some() {
            return true;
        }
        match value {
            Instance::String(s, _) => {
                self.format.is_some_and(Format::pins)
                    || (self.format == Some(Format::Email) && format::plain_email(s))
                    || self.pattern.as_ref().is_some_and(|p| p.strict)
            }
            Instance::Number(..) | Instance::Bool(..) | Instance::Null(_) => {
                // Typed as non-string: the value validated as a number/boolean/null.
                self.types != 0 && self.types & types::STRING == 0
            }
            _ => false,
        }
    }
}

/// Every compiled schema of one contract.
#[derive(Debug, Default)]
pub(crate) struct Schemas {
    pub(crate) nodes: Vec<Schema>,
}

impl Schemas {
    pub(crate) fn get(&self, id: SchemaId) -> &Schema {
        static ANY: Schema = Schema {
            never: false,
            types: 0,
            enumeration: None,
            constant: None,
            properties: Vec::new(),
            required: Vec::new(),
            required_sorted: Vec::new(),
            additional: None,
            pattern_properties: Vec::new(),
            property_names: None,
            min_properties: None,
            max_properties: None,
            dependent_required: Vec::new(),
            prefix_items: Vec::new(),
            items: None,
            contains: None,
            min_contains: None,
            max_contains: None,
            min_items: None,
            max_items: None,
            unique_items: false,
            min_length: None,
            max_length: None,
            pattern: None,
            format: None,
            minimum: None,
            maximum: None,
            exclusive_minimum: None,
            exclusive_maximum: None,
            multiple_of: None,
            all_of: Vec::new(),
            any_of: Vec::new(),
            one_of: Vec::new(),
            any_of_tag: None,
            one_of_tag: None,
            not: None,
            if_then_else: None,
            read_only: false,
            write_only: false,
        };
        self.nodes.get(id.0 as usize).unwrap_or(&ANY)
    }

    /// The types a value for `id` may have, looking through `allOf`/`$ref` chains and
    /// unions of `anyOf`/`oneOf`; 0 when unconstrained.
    pub(crate) fn effective_types(&self, id: SchemaId) -> u8 {
        self.effective_types_at(id, 0)
    }

    fn effective_types_at(&self, id: SchemaId, depth: usize) -> u8 {
        if depth > 16 {
            return 0;
        }
        let s = self.get(id);
        let mut t = s.types;
        for &a in &s.all_of {
            let at = self.effective_types_at(a, depth + 1);
            if at != 0 {
                t = if t == 0 { at } else { t & at };
            }
        }
        let branches = if s.any_of.is_empty() {
            &s.one_of
        } else {
            &s.any_of
        };
        if t == 0 && !branches.is_empty() {
            let mut union = 0;
            for &b in branches {
                let bt = self.effective_types_at(b, depth + 1);
                if bt == 0 {
                    return 0;
                }
                union |= bt;
            }
            t = union;
        }
        t
    }

    /// The schema for property `name` of objects validated by `id`, looking through
    /// `allOf`/`$ref`, patterns and `additionalProperties`.
    pub(crate) fn property(&self, id: SchemaId, name: &str) -> Option<SchemaId> {
        self.property_at(id, name, 0)
    }

    fn property_at(&self, id: SchemaId, name: &str, depth: usize) -> Option<SchemaId> {
        if depth > 16 {
            return None;
        }
        let s = self.get(id);
        if let Some(p) = s.declared(name) {
            return Some(p);
        }
        for &a in &s.all_of {
            if let Some(p) = self.property_at(a, name, depth + 1) {
                return Some(p);
            }
        }
        if let Some((_, p)) = s
            .pattern_properties
            .iter()
            .find(|(re, _)| re.regex.is_match(name))
        {
            return Some(*p);
        }
        s.additional
    }

    /// The item schema of arrays validated by `id` (through `allOf`/`$ref`).
    pub(crate) fn item(&self, id: SchemaId) -> Option<SchemaId> {
        let mut current = id;
        for _ in 0..16 {
            let s = self.get(current);
            if let Some(i) = s.items {
                return Some(i);
            }
            current = *s.all_of.first()?;
        }
        None
    }

    /// Names of the declared properties of `id` (through `allOf`/`$ref`).
    pub(crate) fn property_names(&self, id: SchemaId, out: &mut Vec<String>, depth: usize) {
        if depth > 16 {
            return;
        }
        let s = self.get(id);
        out.extend(s.properties.iter().map(|(n, _)| n.clone()));
        for &a in &s.all_of {
            self.property_names(a, out, depth + 1);
        }
    }
}

/// Compiles schemas out of one document.
pub(crate) struct Compiler<'d> {
    doc: &'d Value,
    limits: &'d LoadLimits,
    pub(crate) schemas: Schemas,
    /// `$ref` target pointer -> compiled node.
    memo: HashMap<String, SchemaId>,
    /// Where each node came from, for cycle reports.
    origin: Vec<String>,
}

/// Keywords that change what validates and are not implemented: refusing them is
/// safer than silently accepting what they would refuse.
const UNSUPPORTED: [&str; 5] = [
    "unevaluatedProperties",
    "unevaluatedItems",
    "$dynamicRef",
    "$recursiveRef",
    "dependentSchemas",
];

impl<'d> Compiler<'d> {
    pub(crate) fn new(doc: &'d Value, limits: &'d LoadLimits) -> Self {
        Self {
            doc,
            limits,
            schemas: Schemas::default(),
            memo: HashMap::new(),
            origin: Vec::new(),
        }
    }

    fn alloc(&mut self, at: &str) -> Result<SchemaId, LoadError> {
        if self.schemas.nodes.len() >= self.limits.max_schemas {
            return Err(LoadError::Limit {
                what: "schema count",
                limit: self.limits.max_schemas,
            });
        }
        self.schemas.nodes.push(Schema::default());
        self.origin.push(at.to_owned());
        Ok(SchemaId(self.schemas.nodes.len() as u32 - 1))
    }

    /// Compiles the schema `value` found at pointer `at`.
    pub(crate) fn compile(&mut self, value: &Value, at: &str) -> Result<SchemaId, LoadError> {
        let id = self.alloc(at)?;
        let schema = match value {
            Value::Bool(true) => Schema::default(),
            Value::Bool(false) => Schema {
                never: true,
                ..Schema::default()
            },
            Value::Object(map) => self.object(map, at)?,
            _ => {
                return Err(LoadError::invalid(
                    at,
                    "a schema must be an object or a boolean",
                ));
            }
        };
        self.schemas.nodes[id.0 as usize] = schema;
        Ok(id)
    }

    fn reference(&mut self, target: &str, at: &str) -> Result<SchemaId, LoadError> {
        let pointer = ref_pointer(at, target)?;
        if let Some(&id) = self.memo.get(&pointer) {
            return Ok(id);
        }
        let doc = self.doc;
        let value = doc
            .pointer(&pointer)
            .ok_or_else(|| LoadError::DanglingRef {
                at: at.to_owned(),
                target: target.to_owned(),
            })?;
        // Reserve the node before compiling it, so recursion finds it in the memo.
        let id = self.alloc(&pointer)?;
        self.memo.insert(pointer.clone(), id);
        let compiled = self.compile(value, &pointer)?;
        // The node compiled at `compiled` holds the content; `id` forwards to it.
        self.schemas.nodes[id.0 as usize] = Schema {
            all_of: vec![compiled],
            ..Schema::default()
        };
        Ok(id)
    }

    fn sub(
        &mut self,
        map: &Map<String, Value>,
        key: &str,
        at: &str,
    ) -> Result<Option<SchemaId>, LoadError> {
        match map.get(key) {
            None => Ok(None),
            Some(v) => self.compile(v, &child(at, key)).map(Some),
        }
    }

    fn list(
        &mut self,
        map: &Map<String, Value>,
        key: &str,
        at: &str,
    ) -> Result<Vec<SchemaId>, LoadError> {
        let Some(v) = map.get(key) else {
            return Ok(Vec::new());
        };
        let at = child(at, key);
        let Some(items) = v.as_array() else {
            return Err(LoadError::invalid(&at, "must be an array of schemas"));
        };
        if items.is_empty() && key != "prefixItems" {
            return Err(LoadError::invalid(&at, "must not be empty"));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, s)| self.compile(s, &child(&at, &i.to_string())))
            .collect()
    }

    fn object(&mut self, map: &Map<String, Value>, at: &str) -> Result<Schema, LoadError> {
        for k in UNSUPPORTED {
            if map.contains_key(k) {
                return Err(LoadError::Unsupported {
                    at: at.to_owned(),
                    keyword: k.to_owned(),
                });
            }
        }
        let count = |key: &str| -> Result<Option<u64>, LoadError> {
            match map.get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .or_else(|| {
                        v.as_f64()
                            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                            .map(|f| f as u64)
                    })
                    .map(Some)
                    .ok_or_else(|| {
                        LoadError::invalid(&child(at, key), "must be a non-negative integer")
                    }),
            }
        };
        let number = |key: &str| -> Result<Option<f64>, LoadError> {
            match map.get(key) {
                None | Some(Value::Bool(_)) => Ok(None),
                Some(v) => v
                    .as_f64()
                    .map(Some)
                    .ok_or_else(|| LoadError::invalid(&child(at, key), "must be a number")),
            }
        };
        let flag = |key: &str| map.get(key).and_then(Value::as_bool).unwrap_or(false);
        let mut s = Schema {
            min_properties: count("minProperties")?,
            max_properties: count("maxProperties")?,
            min_items: count("minItems")?,
            max_items: count("maxItems")?,
            min_contains: count("minContains")?,
            max_contains: count("maxContains")?,
            min_length: count("minLength")?,
            max_length: count("maxLength")?,
            unique_items: flag("uniqueItems"),
            read_only: flag("readOnly"),
            write_only: flag("writeOnly"),
            multiple_of: number("multipleOf")?,
            ..Schema::default()
        };
        if s.multiple_of.is_some_and(|m| m <= 0.0) {
            return Err(LoadError::invalid(
                &child(at, "multipleOf"),
                "must be greater than 0",
            ));
        }
        // Bounds: 3.0 writes `exclusiveMinimum: true` next to `minimum`; 3.1 writes the
        // bound itself as `exclusiveMinimum: 5`.
        let minimum = number("minimum")?;
        let maximum = number("maximum")?;
        match map.get("exclusiveMinimum") {
            Some(Value::Bool(true)) => s.exclusive_minimum = minimum,
            Some(Value::Bool(false)) | None => s.minimum = minimum,
            Some(_) => {
                s.minimum = minimum;
                s.exclusive_minimum = number("exclusiveMinimum")?;
            }
        }
        match map.get("exclusiveMaximum") {
            Some(Value::Bool(true)) => s.exclusive_maximum = maximum,
            Some(Value::Bool(false)) | None => s.maximum = maximum,
            Some(_) => {
                s.maximum = maximum;
                s.exclusive_maximum = number("exclusiveMaximum")?;
            }
        }
        match map.get("type") {
            None => {}
            Some(Value::String(t)) => {
                s.types = types::parse(t).ok_or_else(|| {
                    LoadError::invalid(&child(at, "type"), format!("unknown type {t:?}"))
                })?;
            }
            Some(Value::Array(list)) => {
                for t in list {
                    let bit = t.as_str().and_then(types::parse).ok_or_else(|| {
                        LoadError::invalid(&child(at, "type"), "unknown type in list")
                    })?;
                    s.types |= bit;
                }
            }
            Some(_) => {
                return Err(LoadError::invalid(
                    &child(at, "type"),
                    "must be a string or an array",
                ));
            }
        }
        if s.types & types::NUMBER != 0 {
            // Every integer is a number.
            s.types |= types::INTEGER;
        }
        if flag("nullable") && s.types != 0 {
            s.types |= types::NULL;
        }
        if let Some(e) = map.get("enum") {
            let Some(values) = e.as_array() else {
                return Err(LoadError::invalid(&child(at, "enum"), "must be an array"));
            };
            let mut values = values.clone();
            if flag("nullable") {
                // 3.0: `nullable` widens the enum too.
                values.push(Value::Null);
            }
            s.enumeration = Some(values);
        }
        s.constant = map.get("const").cloned();
        if let Some(f) = map.get("format").and_then(Value::as_str) {
            s.format = Format::parse(f);
        }
        if let Some(p) = map.get("pattern") {
            let p = p
                .as_str()
                .ok_or_else(|| LoadError::invalid(&child(at, "pattern"), "must be a string"))?;
            s.pattern = Some(Pattern::compile(&child(at, "pattern"), p, self.limits)?);
        }
        if let Some(r) = map.get("required") {
            let names = r.as_array().and_then(|a| {
                a.iter()
                    .map(|n| n.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            });
            s.required = names.ok_or_else(|| {
                LoadError::invalid(&child(at, "required"), "must be an array of strings")
            })?;
            s.required_sorted = s.required.clone();
            s.required_sorted.sort_unstable();
            s.required_sorted.dedup();
        }
        if let Some(d) = map.get("dependentRequired").and_then(Value::as_object) {
            for (k, v) in d {
                let names = v.as_array().and_then(|a| {
                    a.iter()
                        .map(|n| n.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                });
                let names = names.ok_or_else(|| {
                    LoadError::invalid(
                        &child(at, "dependentRequired"),
                        "must map names to arrays of names",
                    )
                })?;
                s.dependent_required.push((k.clone(), names));
            }
        }
        if let Some(props) = map.get("properties") {
            let p_at = child(at, "properties");
            let Some(props) = props.as_object() else {
                return Err(LoadError::invalid(&p_at, "must be an object"));
            };
            for (name, schema) in props {
                let id = self.compile(schema, &child(&p_at, name))?;
                s.properties.push((name.clone(), id));
            }
            s.properties.sort_by(|a, b| a.0.cmp(&b.0));
        }
        if let Some(props) = map.get("patternProperties") {
            let p_at = child(at, "patternProperties");
            let Some(props) = props.as_object() else {
                return Err(LoadError::invalid(&p_at, "must be an object"));
            };
            for (source, schema) in props {
                let at = child(&p_at, source);
                let pattern = Pattern::compile(&at, source, self.limits)?;
                let id = self.compile(schema, &at)?;
                s.pattern_properties.push((pattern, id));
            }
        }
        s.additional = self.sub(map, "additionalProperties", at)?;
        s.property_names = self.sub(map, "propertyNames", at)?;
        match map.get("items") {
            // Draft-4 style tuples (not valid OpenAPI, but unambiguous).
            Some(Value::Array(_)) => s.prefix_items = self.list(map, "items", at)?,
            _ => s.items = self.sub(map, "items", at)?,
        }
        if map.contains_key("prefixItems") {
            s.prefix_items = self.list(map, "prefixItems", at)?;
        }
        s.contains = self.sub(map, "contains", at)?;
        s.all_of = self.list(map, "allOf", at)?;
        s.any_of = self.list(map, "anyOf", at)?;
        s.one_of = self.list(map, "oneOf", at)?;
        s.not = self.sub(map, "not", at)?;
        if let Some(cond) = self.sub(map, "if", at)? {
            let then = self.sub(map, "then", at)?;
            let otherwise = self.sub(map, "else", at)?;
            s.if_then_else = Some((cond, then, otherwise));
        }
        if let Some(target) = map.get("$ref") {
            let target = target
                .as_str()
                .ok_or_else(|| LoadError::invalid(&child(at, "$ref"), "must be a string"))?;
            let id = self.reference(target, &child(at, "$ref"))?;
            s.all_of.push(id);
        }
        Ok(s)
    }

    /// Refuses applicator cycles: a path of `allOf`/`anyOf`/`oneOf`/`not`/`if`/`$ref`
    /// edges (which re-validate the same value) leading back to its start.
    pub(crate) fn check_cycles(&self) -> Result<(), LoadError> {
        let nodes = &self.schemas.nodes;
        // 0 = unvisited, 1 = on the stack, 2 = done.
        let mut state = vec![0u8; nodes.len()];
        for start in 0..nodes.len() {
            if state[start] != 0 {
                continue;
            }
            // Iterative DFS: (node, next edge index).
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            state[start] = 1;
            while let Some(&mut (node, ref mut edge)) = stack.last_mut() {
                let next = in_place_edges(&nodes[node]).nth(*edge);
                *edge += 1;
                match next {
                    Some(SchemaId(n)) => {
                        let n = n as usize;
                        match state.get(n) {
                            Some(0) => {
                                state[n] = 1;
                                stack.push((n, 0));
                            }
                            Some(1) => {
                                let detail: Vec<&str> = stack
                                    .iter()
                                    .map(|(i, _)| self.origin[*i].as_str())
                                    .filter(|o| !o.is_empty())
                                    .collect();
                                return Err(LoadError::RefCycle {
                                    at: self.origin[n].clone(),
                                    detail: detail.join(" -> "),
                                });
                            }
                            _ => {}
                        }
                    }
                    None => {
                        state[node] = 2;
                        stack.pop();
                    }
                }
            }
        }
        Ok(())
    }
}

/// Sub-schemas that validate the same value as their parent.
fn in_place_edges(s: &Schema) -> impl Iterator<Item = SchemaId> + '_ {
    let cond = s
        .if_then_else
        .iter()
        .flat_map(|(i, t, e)| std::iter::once(*i).chain(*t).chain(*e));
    s.all_of
        .iter()
        .chain(&s.any_of)
        .chain(&s.one_of)
        .copied()
        .chain(s.not)
        .chain(cond)
}

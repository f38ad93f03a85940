//! Validating one value against a compiled schema, within a work budget.
//!
//! Errors carry the location (a JSON pointer under a prefix such as `json:` or
//! `query:limit`) and the keyword that failed, never the value. Branches of
//! `anyOf`/`oneOf`/`not`/`if` are tried in probe mode: their errors are not kept, and
//! neither are the values they pinned, except those of the branch that decided an
//! `anyOf` or a sole matching `oneOf` branch: a value pinned there validated against a
//! strict schema of a branch that holds, so it is what that schema says.

use std::collections::HashSet;
use std::fmt::Write as _;

use std::borrow::Cow;

use super::{Schema, SchemaId, Schemas, types};
use crate::doc::push_segment;
use crate::instance::{Instance, Leaf, Members, key_order};
use crate::limits::ValidateLimits;
use crate::locations::List;

/// A schema violation: where, and which keyword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SchemaError {
    pub(crate) location: String,
    pub(crate) keyword: &'static str,
}

/// One validation run (one request part).
pub(crate) struct Run<'s> {
    schemas: &'s Schemas,
    limits: &'s ValidateLimits,
    /// Current location; `prefix_len` bytes of it are the prefix (`json:`).
    location: String,
    prefix_len: usize,
    pub(crate) errors: Vec<SchemaError>,
    /// Pointers (without prefix) of values pinned by a schema that validated them, for
    /// values without a [`Leaf`] position (parameters, form fields).
    pub(crate) pinned: List,
    /// Pointers of object members whose key is a declared property name (the same).
    pub(crate) declared_keys: List,
    /// [`Leaf`] positions of pinned values read from a document.
    pub(crate) pinned_leaves: Vec<u32>,
    /// [`Leaf`] positions of declared keys read from a document.
    pub(crate) declared_leaves: Vec<u32>,
    pub(crate) work: u64,
    depth: usize,
    probe: u32,
    /// Inside a probe whose pins are never kept (`not`, `if`, `contains`, names): record
    /// none, rather than building pointer strings to drop.
    discard: u32,
    aborted: bool,
    /// Validating a response: `readOnly` is expected there and `writeOnly` is not.
    response: bool,
    /// Keep `location` current; off for a first pass over a document whose pins name
    /// leaves by position, where only errors would need it.
    locate: bool,
}

impl<'s> Run<'s> {
    pub(crate) fn new(schemas: &'s Schemas, limits: &'s ValidateLimits, prefix: &str) -> Self {
        Self {
            schemas,
            limits,
            location: prefix.to_owned(),
            prefix_len: prefix.len(),
            errors: Vec::new(),
            pinned: List::default(),
            declared_keys: List::default(),
            pinned_leaves: Vec::new(),
            declared_leaves: Vec::new(),
            work: 0,
            depth: 0,
            probe: 0,
            discard: 0,
            aborted: false,
            response: false,
            locate: true,
        }
    }

    /// The same run for a response body (the direction flips `readOnly`/`writeOnly`).
    pub(crate) fn for_response(mut self) -> Self {
        self.response = true;
        self
    }

    /// Validates `value` at the run's prefix. Returns whether it is valid.
    pub(crate) fn validate(&mut self, id: SchemaId, value: &Instance<'_>) -> bool {
        self.node(id, value)
    }

    /// Validates a document read with [`Leaf`] positions: first without building the
    /// location of every member (pins name leaves by position, and most bodies
    /// conform), then, only if there are violations to name, again with locations.
    /// Validation is deterministic, so the second pass finds the same violations.
    pub(crate) fn validate_document(mut self, id: SchemaId, value: &Instance<'_>) -> Self {
        self.locate = false;
        self.node(id, value);
        if self.errors.is_empty() {
            return self;
        }
        let prefix = &self.location[..self.prefix_len];
        let mut again = Run::new(self.schemas, self.limits, prefix);
        again.response = self.response;
        again.node(id, value);
        again.work = again.work.saturating_add(self.work);
        again
    }

    /// Steps into member `key`; returns the location to go back to with [`Run::leave`].
    fn enter_key(&mut self, key: &str) -> usize {
        let len = self.location.len();
        if self.locate {
            push_segment(&mut self.location, key);
        }
        len
    }

    /// Steps into item `i`.
    fn enter_item(&mut self, i: usize) -> usize {
        let len = self.location.len();
        if self.locate {
            self.location.push('/');
            self.location.push_str(itoa::Buffer::new().format(i));
        }
        len
    }

    fn leave(&mut self, len: usize) {
        self.location.truncate(len);
    }

    /// Whether the run stopped early (budget, depth or error cap).
    pub(crate) fn stopped(&self) -> bool {
        self.aborted || self.errors.len() >= self.limits.max_errors
    }

    fn fail(&mut self, keyword: &'static str) {
        if self.probe == 0 && self.errors.len() < self.limits.max_errors {
            self.errors.push(SchemaError {
                location: self.location.clone(),
                keyword,
            });
        }
    }

    /// Stops the whole run: the request cannot be decided within limits.
    fn abort(&mut self, keyword: &'static str) {
        if !self.aborted {
            self.aborted = true;
            let location = self.location.clone();
            self.errors
                .truncate(self.limits.max_errors.saturating_sub(1));
            self.errors.push(SchemaError { location, keyword });
        }
    }

    fn spend(&mut self, units: u64) -> bool {
        self.work = self.work.saturating_add(units);
        if self.work > self.limits.max_work {
            self.abort("budget");
            return false;
        }
        true
    }

    fn node(&mut self, id: SchemaId, value: &Instance<'_>) -> bool {
        if self.stopped() || !self.spend(1) {
            return false;
        }
        if self.depth >= self.limits.max_depth {
            self.abort("depth");
            return false;
        }
        self.depth += 1;
        let s = self.schemas.get(id);
        let ok = self.keywords(s, value);
        self.depth -= 1;
        if ok && self.discard == 0 && s.pins(value) {
            self.pin(value.leaf());
        }
        ok
    }

    /// Validates `id` with errors and pins discarded; returns whether it passed.
    fn probe(&mut self, id: SchemaId, value: &Instance<'_>) -> bool {
        self.discard += 1;
        let ok = self.branch(id, value);
        self.discard -= 1;
        ok
    }

    /// Validates `id` with errors discarded; its pins stay only when it passed.
    fn branch(&mut self, id: SchemaId, value: &Instance<'_>) -> bool {
        let marks = self.marks();
        self.probe += 1;
        let ok = self.node(id, value) && !self.aborted;
        self.probe -= 1;
        if !ok {
            self.truncate(marks);
        }
        ok
    }

    /// The value at the current location, by its position or else its pointer.
    fn pin(&mut self, leaf: Leaf) {
        match leaf.index() {
            Some(i) => self.pinned_leaves.push(i),
            None if self.locate => self.pinned.push(&self.location[self.prefix_len..]),
            // A container of a document: its leaves were matched one by one.
            None => {}
        }
    }

    /// The key of the member at the current location.
    fn declare(&mut self, leaf: Leaf) {
        match leaf.index() {
            Some(i) => self.declared_leaves.push(i),
            None if self.locate => self.declared_keys.push(&self.location[self.prefix_len..]),
            None => {}
        }
    }

    fn marks(&self) -> [usize; 4] {
        [
            self.pinned.len(),
            self.declared_keys.len(),
            self.pinned_leaves.len(),
            self.declared_leaves.len(),
        ]
    }

    fn truncate(&mut self, [pinned, declared, pinned_leaves, declared_leaves]: [usize; 4]) {
        self.pinned.truncate(pinned);
        self.declared_keys.truncate(declared);
        self.pinned_leaves.truncate(pinned_leaves);
        self.declared_leaves.truncate(declared_leaves);
    }

    fn keywords(&mut self, s: &'s Schema, v: &Instance<'_>) -> bool {
        if s.never {
            self.fail("false");
            return false;
        }
        let mut ok = true;
        // In probe mode the first failure decides; otherwise collect them all.
        macro_rules! check {
            ($cond:expr, $kw:expr) => {
                if !$cond {
                    ok = false;
                    self.fail($kw);
                    if self.probe > 0 || self.stopped() {
                        return false;
                    }
                }
            };
        }
        if s.types != 0 {
            check!(type_matches(s.types, v), "type");
            if !ok {
                // Type-specific keywords on the wrong type would only add noise.
                return false;
            }
        }
        if s.read_only && !self.response {
            check!(false, "readOnly");
        }
        if s.write_only && self.response {
            check!(false, "writeOnly");
        }
        if let Some(values) = &s.enumeration {
            check!(values.iter().any(|e| v.equals(e)), "enum");
        }
        if let Some(c) = &s.constant {
            check!(v.equals(c), "const");
        }
        match v {
            Instance::String(text, _) => {
                if s.min_length.is_some() || s.max_length.is_some() {
                    if !self.spend(text.len() as u64 / 64) {
                        return false;
                    }
                    let n = text.chars().count() as u64;
                    check!(s.min_length.is_none_or(|m| n >= m), "minLength");
                    check!(s.max_length.is_none_or(|m| n <= m), "maxLength");
                }
                if let Some(p) = &s.pattern {
                    if !self.spend(1 + text.len() as u64 / 16) {
                        return false;
                    }
                    check!(p.regex.is_match(text), "pattern");
                }
                if let Some(f) = s.format {
                    check!(f.check_str(text), "format");
                }
            }
            Instance::Number(n, _) => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                check!(s.minimum.is_none_or(|m| f >= m), "minimum");
                check!(s.maximum.is_none_or(|m| f <= m), "maximum");
                check!(
                    s.exclusive_minimum.is_none_or(|m| f > m),
                    "exclusiveMinimum"
                );
                check!(
                    s.exclusive_maximum.is_none_or(|m| f < m),
                    "exclusiveMaximum"
                );
                if let Some(m) = s.multiple_of {
                    check!(multiple_of(n, m), "multipleOf");
                }
                if let Some(fmt) = s.format {
                    check!(fmt.check_number(n), "format");
                }
            }
            Instance::Array(items) => {
                if !self.array(s, items) {
                    ok = false;
                    if self.probe > 0 || self.stopped() {
                        return false;
                    }
                }
            }
            Instance::Object(map) => {
                if !self.object(s, map) {
                    ok = false;
                    if self.probe > 0 || self.stopped() {
                        return false;
                    }
                }
            }
            Instance::Bool(..) | Instance::Null(_) => {}
        }
        for &a in &s.all_of {
            if !self.node(a, v) {
                ok = false;
                if self.probe > 0 || self.stopped() {
                    return false;
                }
            }
        }
        if !s.any_of.is_empty() {
            let mut any = false;
            if let Some(only) = tagged(s.any_of_tag.as_ref(), v) {
                any = only.is_some_and(|b| self.branch(b, v));
            } else {
                for &b in &s.any_of {
                    if self.branch(b, v) {
                        any = true;
                        break;
                    }
                    if self.aborted {
                        return false;
                    }
                }
            }
            if self.aborted {
                return false;
            }
            check!(any, "anyOf");
        }
        if !s.one_of.is_empty() {
            let marks = self.marks();
            let mut matched = 0;
            if let Some(only) = tagged(s.one_of_tag.as_ref(), v) {
                matched = usize::from(only.is_some_and(|b| self.branch(b, v)));
            } else {
                for &b in &s.one_of {
                    // Only the first match's pins can matter: a second one fails the keyword.
                    let ok = if matched == 0 {
                        self.branch(b, v)
                    } else {
                        self.probe(b, v)
                    };
                    matched += usize::from(ok);
                    if self.aborted {
                        return false;
                    }
                }
            }
            if self.aborted {
                return false;
            }
            if matched != 1 {
                self.truncate(marks);
            }
            check!(matched == 1, "oneOf");
        }
        if let Some(n) = s.not {
            let matched = self.probe(n, v);
            if self.aborted {
                return false;
            }
            check!(!matched, "not");
        }
        if let Some((cond, then, otherwise)) = s.if_then_else {
            let holds = self.probe(cond, v);
            if self.aborted {
                return false;
            }
            let branch = if holds { then } else { otherwise };
            if let Some(b) = branch
                && !self.node(b, v)
            {
                ok = false;
            }
        }
        ok
    }

    fn array(&mut self, s: &'s Schema, items: &[Instance<'_>]) -> bool {
        let mut ok = true;
        let n = items.len() as u64;
        if s.min_items.is_some_and(|m| n < m) {
            ok = false;
            self.fail("minItems");
        }
        if s.max_items.is_some_and(|m| n > m) {
            ok = false;
            self.fail("maxItems");
        }
        if !ok && self.probe > 0 {
            return false;
        }
        if s.unique_items && !self.unique(items) {
            ok = false;
            self.fail("uniqueItems");
            if self.probe > 0 {
                return false;
            }
        }
        let mut contained = 0u64;
        for (i, item) in items.iter().enumerate() {
            let schema = s.prefix_items.get(i).copied().or(s.items);
            let len = self.enter_item(i);
            if let Some(id) = schema
                && !self.node(id, item)
            {
                ok = false;
            }
            if let Some(c) = s.contains
                && self.probe(c, item)
            {
                contained += 1;
            }
            self.leave(len);
            if (!ok && self.probe > 0) || self.stopped() {
                return false;
            }
        }
        if let Some(_c) = s.contains {
            let min = s.min_contains.unwrap_or(1);
            if contained < min || s.max_contains.is_some_and(|m| contained > m) {
                ok = false;
                self.fail("contains");
            }
        }
        ok
    }

    fn unique(&mut self, items: &[Instance<'_>]) -> bool {
        let mut seen = HashSet::with_capacity(items.len());
        for item in items {
            let mut key = String::new();
            canonical(item, &mut key);
            if !self.spend(1 + key.len() as u64 / 16) {
                return false;
            }
            if !seen.insert(key) {
                return false;
            }
        }
        true
    }

    fn object(&mut self, s: &'s Schema, map: &Members<'_>) -> bool {
        let mut ok = true;
        let n = map.len() as u64;
        if s.min_properties.is_some_and(|m| n < m) {
            ok = false;
            self.fail("minProperties");
        }
        if s.max_properties.is_some_and(|m| n > m) {
            ok = false;
            self.fail("maxProperties");
        }
        let all_present = map.has_all(&s.required_sorted);
        for name in s.required.iter().filter(|_| !all_present) {
            if !map.contains_key(name) && !self.exempt_property(s, name) {
                ok = false;
                let len = self.enter_key(name);
                self.fail("required");
                self.leave(len);
            }
        }
        for (key, names) in &s.dependent_required {
            if map.contains_key(key) && !names.iter().all(|n| map.contains_key(n)) {
                ok = false;
                self.fail("dependentRequired");
            }
        }
        if (!ok && self.probe > 0) || self.stopped() {
            return false;
        }
        // Members and declared properties are both sorted by name: one merge walk.
        let mut next_property = 0;
        for (key, key_leaf, value) in map.entries() {
            let len = self.enter_key(key);
            let declared = declared_in_walk(&s.properties, &mut next_property, key);
            let mut matched = declared.is_some();
            if let Some(id) = declared {
                if self.discard == 0 {
                    self.declare(key_leaf);
                }
                if !self.node(id, value) {
                    ok = false;
                }
            }
            for (pattern, id) in &s.pattern_properties {
                if !self.spend(1 + key.len() as u64 / 16) {
                    return false;
                }
                if pattern.regex.is_match(key) {
                    matched = true;
                    if !self.node(*id, value) {
                        ok = false;
                    }
                }
            }
            if !matched && let Some(id) = s.additional {
                if self.schemas.get(id).never {
                    // Reported as the property that is not allowed (mass assignment).
                    ok = false;
                    self.fail("additionalProperties");
                } else if !self.node(id, value) {
                    ok = false;
                }
            }
            if let Some(id) = s.property_names
                && !self.probe(id, &Instance::String(Cow::Borrowed(key), Leaf::NONE))
            {
                ok = false;
                self.fail("propertyNames");
            }
            self.leave(len);
            if (!ok && self.probe > 0) || self.stopped() {
                return false;
            }
        }
        ok
    }

    /// A required property that is read-only is not required in requests, one that is
    /// write-only not in responses.
    fn exempt_property(&self, s: &Schema, name: &str) -> bool {
        s.declared(name).is_some_and(|p| self.is_exempt(p, 0))
    }

    fn is_exempt(&self, id: SchemaId, depth: usize) -> bool {
        let s = self.schemas.get(id);
        let own = if self.response {
            s.write_only
        } else {
            s.read_only
        };
        own || (depth < 8 && s.all_of.iter().any(|&a| self.is_exempt(a, depth + 1)))
    }
}

/// For a tagged union and an object: the only branch that can hold, if any. `None`:
/// not a tagged union or not an object, so every branch has to be tried.
fn tagged(tag: Option<&super::Tag>, v: &Instance<'_>) -> Option<Option<SchemaId>> {
    match (tag, v) {
        (Some(tag), Instance::Object(map)) => Some(tag.branch(map)),
        _ => None,
    }
}

/// The schema of `key` among `properties` (sorted by name), looking from `*cursor` on
/// and leaving the cursor past every name not after `key`; keys come in sorted order.
fn declared_in_walk(
    properties: &[(String, SchemaId)],
    cursor: &mut usize,
    key: &str,
) -> Option<SchemaId> {
    while let Some((name, id)) = properties.get(*cursor) {
        match key_order(name, key) {
            std::cmp::Ordering::Less => *cursor += 1,
            std::cmp::Ordering::Equal => {
                *cursor += 1;
                return Some(*id);
            }
            std::cmp::Ordering::Greater => return None,
        }
    }
    None
}

fn type_matches(t: u8, v: &Instance<'_>) -> bool {
    let bit = match v {
        Instance::Null(_) => types::NULL,
        Instance::Bool(..) => types::BOOLEAN,
        Instance::Object(_) => types::OBJECT,
        Instance::Array(_) => types::ARRAY,
        Instance::String(..) => types::STRING,
        Instance::Number(n, _) if is_integer(n) => types::INTEGER | types::NUMBER,
        Instance::Number(..) => types::NUMBER,
    };
    t & bit != 0
}

/// Integers by value (`1.0` is an integer in JSON Schema).
pub(crate) fn is_integer(n: &serde_json::Number) -> bool {
    n.is_i64()
        || n.is_u64()
        || n.as_f64()
            .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
}

fn multiple_of(n: &serde_json::Number, m: f64) -> bool {
    if let (Some(i), true) = (n.as_i64(), m.fract() == 0.0 && m.abs() < 9.0e15) {
        return i % (m as i64) == 0;
    }
    let Some(f) = n.as_f64() else {
        return false;
    };
    let q = f / m;
    q.is_finite() && (q - q.round()).abs() <= 1e-9 * q.abs().max(1.0)
}

/// A canonical rendering (sorted keys, numbers by value) for uniqueness checks.
fn canonical(v: &Instance<'_>, out: &mut String) {
    match v {
        Instance::Number(n, _) => match n.as_i64() {
            Some(i) => {
                let _ = write!(out, "{i}");
            }
            None => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.fract() == 0.0 && f.abs() < 1e15 {
                    let _ = write!(out, "{}", f as i64);
                } else {
                    let _ = write!(out, "{f:e}");
                }
            }
        },
        Instance::Array(items) => {
            out.push('[');
            for i in items {
                canonical(i, out);
                out.push(',');
            }
            out.push(']');
        }
        Instance::Object(map) => {
            // Members are sorted by key already.
            out.push('{');
            for (k, v) in map.iter() {
                let _ = write!(out, "{k:?}:");
                canonical(v, out);
                out.push(',');
            }
            out.push('}');
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

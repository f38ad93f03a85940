//! Tagged unions: a `oneOf`/`anyOf` whose branches each require one property and pin it
//! to a distinct string constant (`type: {const: order}`, the pattern OpenAPI's
//! `discriminator` describes). An object can then hold only the branch whose constant
//! it carries, so validation tries that branch alone instead of every branch — the same
//! verdict for a fraction of the work on batches of typed records.

use serde_json::Value;

use super::{SchemaId, Schemas};
use crate::instance::Members;

/// Chains of `allOf`/`$ref` are followed this deep, as elsewhere in the compiler.
const MAX_CHAIN: usize = 16;

/// The tag property of a union and, per branch in the keyword's order, its constant.
#[derive(Debug, Clone)]
pub(crate) struct Tag {
    name: String,
    branches: Vec<(String, SchemaId)>,
}

impl Tag {
    /// The only branch an object can satisfy; `None` when it carries no known tag
    /// value (then no branch can).
    pub(crate) fn branch(&self, map: &Members<'_>) -> Option<SchemaId> {
        let crate::instance::Instance::String(value, _) = map.get(&self.name)? else {
            return None;
        };
        self.branches
            .iter()
            .find(|(c, _)| c == value)
            .map(|(_, b)| *b)
    }
}

impl Schemas {
    /// Finds the tag of every node's `oneOf` and `anyOf`, once all nodes are compiled.
    pub(crate) fn infer_tags(&mut self) {
        for i in 0..self.nodes.len() {
            let one_of = self.tag(&self.nodes[i].one_of);
            let any_of = self.tag(&self.nodes[i].any_of);
            let node = &mut self.nodes[i];
            node.one_of_tag = one_of;
            node.any_of_tag = any_of;
        }
    }

    fn tag(&self, branches: &[SchemaId]) -> Option<Tag> {
        let &[first, _, ..] = branches else {
            return None;
        };
        let mut candidates = Vec::new();
        self.required_names(first, &mut candidates, 0);
        candidates.into_iter().find_map(|name| {
            let mut tagged: Vec<(String, SchemaId)> = Vec::with_capacity(branches.len());
            for &b in branches {
                if !self.requires(b, &name, 0) {
                    return None;
                }
                let value = self.tag_value(b, &name, 0)?;
                if tagged.iter().any(|(v, _)| *v == value) {
                    return None;
                }
                tagged.push((value, b));
            }
            Some(Tag {
                name,
                branches: tagged,
            })
        })
    }

    fn required_names(&self, id: SchemaId, out: &mut Vec<String>, depth: usize) {
        if depth > MAX_CHAIN {
            return;
        }
        let s = self.get(id);
        out.extend(s.required.iter().cloned());
        for &a in &s.all_of {
            self.required_names(a, out, depth + 1);
        }
    }

    /// Whether objects validated by `id` must have `name` in requests and responses
    /// alike (a `readOnly` or `writeOnly` property is required in one direction only).
    fn requires(&self, id: SchemaId, name: &str, depth: usize) -> bool {
        if depth > MAX_CHAIN {
            return false;
        }
        let s = self.get(id);
        let here = s.required.iter().any(|r| r == name)
            && s.declared(name).is_none_or(|p| !self.directional(p, 0));
        here || s.all_of.iter().any(|&a| self.requires(a, name, depth + 1))
    }

    /// The string constant a declared property `name` of `id` must equal.
    fn tag_value(&self, id: SchemaId, name: &str, depth: usize) -> Option<String> {
        if depth > MAX_CHAIN {
            return None;
        }
        let s = self.get(id);
        s.declared(name)
            .filter(|&p| !self.directional(p, 0))
            .and_then(|p| self.constant(p, 0))
            .or_else(|| {
                s.all_of
                    .iter()
                    .find_map(|&a| self.tag_value(a, name, depth + 1))
            })
    }

    /// A string that every value of `id` must equal (`const`, or an `enum` of one).
    fn constant(&self, id: SchemaId, depth: usize) -> Option<String> {
        if depth > MAX_CHAIN {
            return None;
        }
        let s = self.get(id);
        let own = match (&s.constant, s.enumeration.as_deref()) {
            (Some(Value::String(c)), _) => Some(c),
            (None, Some([Value::String(c)])) => Some(c),
            _ => None,
        };
        own.cloned()
            .or_else(|| s.all_of.iter().find_map(|&a| self.constant(a, depth + 1)))
    }

    fn directional(&self, id: SchemaId, depth: usize) -> bool {
        let s = self.get(id);
        s.read_only
            || s.write_only
            || (depth < MAX_CHAIN && s.all_of.iter().any(|&a| self.directional(a, depth + 1)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use serde_json::{Value, json};

    use crate::tests::post_json;
    use crate::{Contract, LoadLimits, Outcome};

    /// `POST /t` taking a list of records, each one of `record`'s union.
    fn contract(record: &Value, tagged: bool) -> Contract {
        let doc = json!({
            "openapi": "3.1.0",
            "paths": {"/t": {"post": {"requestBody": {"required": true, "content": {
                "application/json": {"schema": {"type": "array", "items": record}}}}}}},
            "components": {"schemas": {
                "Base": {"type": "object", "required": ["kind"],
                    "properties": {"kind": {"type": "string"}, "id": {"type": "integer"}}},
                "Order": {"type": "object", "additionalProperties": false,
                    "required": ["kind", "sku"],
                    "properties": {"kind": {"const": "order"}, "id": {"type": "integer"},
                        "sku": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{4}$"}}},
                "Profile": {"allOf": [{"$ref": "#/components/schemas/Base"}, {"type": "object",
                    "required": ["name"],
                    "properties": {"kind": {"enum": ["profile"]}, "name": {"type": "string"}}}]},
                "Event": {"type": "object", "required": ["kind", "at"],
                    "properties": {"kind": {"$ref": "#/components/schemas/EventKind"},
                        "at": {"type": "string", "format": "date-time"}}},
                "EventKind": {"type": "string", "const": "event"},
                "Ghost": {"type": "object", "required": ["kind"],
                    "properties": {"kind": {"const": "order", "readOnly": true}}},
            }},
        });
        let mut c = Contract::from_value(&doc, &LoadLimits::default()).unwrap();
        if !tagged {
            for node in &mut c.schemas.nodes {
                node.one_of_tag = None;
                node.any_of_tag = None;
            }
        }
        c
    }

    fn reference(name: &str) -> Value {
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    /// Records, each valid or not, that every union below is asked about.
    fn records() -> Vec<Value> {
        vec![
            json!({"kind": "order", "sku": "AB-1234", "id": 1}),
            json!({"kind": "profile", "name": "Sam", "id": 2}),
            json!({"kind": "event", "at": "2026-12-03T10:00:00Z"}),
            json!({"kind": "order", "sku": "ab-1234"}),
            json!({"kind": "order", "sku": "AB-1234", "name": "Sam"}),
            json!({"kind": "profile"}),
            json!({"kind": "event", "at": "yesterday"}),
            json!({"kind": "refund", "sku": "AB-1234"}),
            json!({"kind": 7, "sku": "AB-1234"}),
            json!({"kind": null}),
            json!({"sku": "AB-1234"}),
            json!({}),
            json!("order"),
            json!(["order"]),
            json!(null),
        ]
    }

    #[test]
    fn a_tagged_union_tries_only_its_branch_and_decides_as_trying_all_would() {
        let order_profile_event = [reference("Order"), reference("Profile"), reference("Event")];
        let unions = [
            (json!({"oneOf": order_profile_event}), true),
            (json!({"anyOf": order_profile_event}), true),
            // Two branches share a tag value: both may hold, every branch is tried.
            (
                json!({"oneOf": [reference("Order"), reference("Order")]}),
                false,
            ),
            // A read-only tag is not required in requests: no tag.
            (
                json!({"oneOf": [reference("Ghost"), reference("Event")]}),
                false,
            ),
            // A branch without the tag property.
            (
                json!({"oneOf": [reference("Order"), {"type": "string"}]}),
                false,
            ),
        ];
        for (union, expect_tag) in unions {
            let tagged = contract(&union, true);
            let has_tag = tagged
                .schemas
                .nodes
                .iter()
                .any(|n| n.one_of_tag.is_some() || n.any_of_tag.is_some());
            assert_eq!(has_tag, expect_tag, "{union}");
            let untagged = contract(&union, false);
            for record in records() {
                let body = json!([record]);
                let (fast, slow) = (post_json(&tagged, &body), post_json(&untagged, &body));
                let pins = |o: &Outcome| -> Vec<(bool, bool)> {
                    (0..16)
                        .map(|i| (o.pinned.json_value(i), o.pinned.json_key(i)))
                        .collect()
                };
                assert_eq!(fast.violations, slow.violations, "{union} on {record}");
                assert_eq!(pins(&fast), pins(&slow), "{union} on {record}");
            }
        }
        let c = contract(&json!({"oneOf": order_profile_event}), true);
        for (i, record) in records().into_iter().enumerate() {
            let out = post_json(&c, &json!([record]));
            assert_eq!(out.conforms(), i < 3, "{record}: {:?}", out.violations);
            if i >= 3 {
                assert_eq!(out.violations[0].keyword, "oneOf", "{record}");
                assert_eq!(out.violations[0].location, "json:/0", "{record}");
            }
        }
    }
}

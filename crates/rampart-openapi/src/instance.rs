//! The value the validator reads: JSON whose strings and keys borrow from the body (or
//! from a [`Value`] built from parameters), so validating a large body allocates per
//! container, not per string.
//!
//! Read from a body, every key and scalar also carries its [`Leaf`] position: its index
//! among the document's keys and scalars in document order, which is how the caller's
//! strict parser numbers its leaves. Pins name leaves by it, so the caller matches them
//! without rendering and hashing a pointer per leaf.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

/// A key's or scalar's index among the document's keys and scalars, in document order.
/// Bookkeeping, not part of the value: instances compare equal whatever their positions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Leaf(u32);

impl Leaf {
    /// Not read from a document (parameters, form fields, names under `propertyNames`).
    pub(crate) const NONE: Leaf = Leaf(u32::MAX);

    pub(crate) fn index(self) -> Option<u32> {
        (self.0 != u32::MAX).then_some(self.0)
    }
}

impl PartialEq for Leaf {
    fn eq(&self, _: &Leaf) -> bool {
        true
    }
}

/// A JSON instance. Object members are sorted by key (as a [`serde_json::Map`] iterates),
/// so violations come in the same order whichever way the instance was built.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Instance<'a> {
    Null(Leaf),
    Bool(bool, Leaf),
    Number(Number, Leaf),
    String(Cow<'a, str>, Leaf),
    Array(Vec<Instance<'a>>),
    Object(Members<'a>),
}

/// Object members, sorted by key; keys are unique. Each key has its own [`Leaf`].
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Members<'a>(Vec<(Cow<'a, str>, Leaf, Instance<'a>)>);

impl<'a> Members<'a> {
    fn from_unsorted(mut members: Vec<(Cow<'a, str>, Leaf, Instance<'a>)>) -> Self {
        // Stable, and the last duplicate wins, as when inserting into a map.
        members.sort_by(|a, b| key_order(&a.0, &b.0));
        members.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                std::mem::swap(later, earlier);
            }
            same
        });
        Members(members)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Instance<'a>> {
        self.0
            .binary_search_by(|(k, _, _)| key_order(k, key))
            .ok()
            .map(|i| &self.0[i].2)
    }

    /// Whether every name of `sorted` (sorted, without repeats) is a member: one merge
    /// walk over both lists.
    pub(crate) fn has_all(&self, sorted: &[String]) -> bool {
        if sorted.len() > self.0.len() {
            return false;
        }
        let mut members = self.0.iter();
        'names: for name in sorted {
            for (k, _, _) in members.by_ref() {
                match key_order(k, name) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => continue 'names,
                    std::cmp::Ordering::Greater => return false,
                }
            }
            return false;
        }
        true
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Instance<'a>)> {
        self.0.iter().map(|(k, _, v)| (k.as_ref(), v))
    }

    /// Members with their key's [`Leaf`].
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&str, Leaf, &Instance<'a>)> {
        self.0.iter().map(|(k, leaf, v)| (k.as_ref(), *leaf, v))
    }
}

impl<'a> Instance<'a> {
    /// Reads a JSON document, borrowing every string that has no escapes, numbering its
    /// keys and scalars. `None`: not JSON (invalid UTF-8 anywhere counts, as it does for
    /// `serde_json::from_slice`).
    pub(crate) fn from_slice(bytes: &'a [u8]) -> Option<Self> {
        // One UTF-8 check of the whole document instead of one per string.
        let text = std::str::from_utf8(bytes).ok()?;
        let mut de = serde_json::Deserializer::from_str(text);
        let next = Cell::new(0);
        let value = Seed(&next).deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(value)
    }

    /// A view of `value`, borrowing its strings (without [`Leaf`] positions).
    pub(crate) fn of(value: &'a Value) -> Self {
        match value {
            Value::Null => Instance::Null(Leaf::NONE),
            Value::Bool(b) => Instance::Bool(*b, Leaf::NONE),
            Value::Number(n) => Instance::Number(n.clone(), Leaf::NONE),
            Value::String(s) => Instance::String(Cow::Borrowed(s), Leaf::NONE),
            Value::Array(items) => Instance::Array(items.iter().map(Instance::of).collect()),
            // A map iterates sorted and unique already.
            Value::Object(map) => Instance::Object(Members(
                map.iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Leaf::NONE, Instance::of(v)))
                    .collect(),
            )),
        }
    }

    /// The position of a scalar read from a document.
    pub(crate) fn leaf(&self) -> Leaf {
        match self {
            Instance::Null(l)
            | Instance::Bool(_, l)
            | Instance::Number(_, l)
            | Instance::String(_, l) => *l,
            Instance::Array(_) | Instance::Object(_) => Leaf::NONE,
        }
    }

    /// JSON equality with a schema's value, numbers compared by value.
    pub(crate) fn equals(&self, other: &Value) -> bool {
        match (self, other) {
            (Instance::Null(_), Value::Null) => true,
            (Instance::Bool(a, _), Value::Bool(b)) => a == b,
            (Instance::Number(x, _), Value::Number(y)) => numbers_equal(x, y),
            (Instance::String(a, _), Value::String(b)) => a == b,
            (Instance::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| a.equals(b))
            }
            (Instance::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| v.equals(w)))
            }
            _ => false,
        }
    }
}

/// Byte order of names (as `str`'s), compared in line: names are short, and a library
/// `memcmp` call per comparison cost more than the comparing.
pub(crate) fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => a.get(i).cmp(&b.get(i)),
        None => a.len().cmp(&b.len()),
    }
}

/// Numbers by value: `1` and `1.0` are equal, as in JSON Schema.
pub(crate) fn numbers_equal(x: &Number, y: &Number) -> bool {
    match (x.as_i64(), y.as_i64()) {
        (Some(i), Some(j)) => i == j,
        _ => match (x.as_u64(), y.as_u64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
    }
}

impl fmt::Display for Instance<'_> {
    /// Scalars as JSON text (containers are not rendered this way).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Instance::Null(_) => f.write_str("null"),
            Instance::Bool(b, _) => write!(f, "{b}"),
            Instance::Number(n, _) => write!(f, "{n}"),
            Instance::String(s, _) => {
                let quoted = serde_json::to_string(s.as_ref()).map_err(|_| fmt::Error)?;
                f.write_str(&quoted)
            }
            Instance::Array(_) | Instance::Object(_) => f.write_str("?"),
        }
    }
}

/// Builds an [`Instance`] from the same events `serde_json` turns into a [`Value`],
/// giving each key and scalar the next [`Leaf`] as it is read (document order).
#[derive(Clone, Copy)]
struct Seed<'c>(&'c Cell<u32>);

impl Seed<'_> {
    fn take(self) -> Leaf {
        let n = self.0.get();
        self.0.set(n.saturating_add(1));
        Leaf(n)
    }
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Instance<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Instance<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Instance::Bool(v, self.take()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Instance::Number(v.into(), self.take()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Instance::Number(v.into(), self.take()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // As `Value` does: a non-finite float has no JSON number.
        let leaf = self.take();
        Ok(Number::from_f64(v).map_or(Instance::Null(leaf), |n| Instance::Number(n, leaf)))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Instance::String(Cow::Borrowed(v), self.take()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Instance::String(Cow::Owned(v.to_owned()), self.take()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Instance::String(Cow::Owned(v), self.take()))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Instance::Null(self.take()))
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Instance::Null(self.take()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Instance::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let leaf = self.take();
            let value = map.next_value_seed(self)?;
            members.push((key.0, leaf, value));
        }
        Ok(Instance::Object(Members::from_unsorted(members)))
    }
}

/// An object key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    /// Keys and scalars are numbered in document order, whatever the member order after
    /// sorting; containers take no number.
    #[test]
    fn keys_and_scalars_are_numbered_in_document_order() {
        fn collect(v: &Instance<'_>, out: &mut Vec<(u32, String)>) {
            match v {
                Instance::Array(items) => items.iter().for_each(|i| collect(i, out)),
                Instance::Object(members) => {
                    for (key, leaf, value) in members.entries() {
                        out.push((leaf.index().unwrap(), format!("key {key}")));
                        collect(value, out);
                    }
                }
                scalar => out.push((scalar.leaf().index().unwrap(), scalar.to_string())),
            }
        }
        let doc = br#"{"z":1,"a":[true,null,"x",[],{}],"m":{"q":-2.5,"b\u0041":"\n"},"e":{}}"#;
        let mut got = Vec::new();
        collect(&Instance::from_slice(doc).unwrap(), &mut got);
        got.sort();
        let want = [
            "key z", "1", "key a", "true", "null", "\"x\"", "key m", "key q", "-2.5", "key bA",
            "\"\\n\"", "key e",
        ];
        let got: Vec<_> = got.into_iter().map(|(_, s)| s).collect();
        assert_eq!(got, want);
        let value = serde_json::json!({"a": [1]});
        let Instance::Object(members) = Instance::of(&value) else {
            panic!("not an object");
        };
        assert!(members.entries().all(|(_, leaf, v)| leaf.index().is_none()
            && matches!(v, Instance::Array(items) if items[0].leaf().index().is_none())));
    }

    #[test]
    fn names_compare_in_byte_order_and_required_sets_are_found_in_one_walk() {
        let names = [
            "", "a", "ab", "b", "B", "\u{e9}", "e\u{301}", "id", "ids", "zz",
        ];
        for a in names {
            for b in names {
                assert_eq!(key_order(a, b), a.cmp(b), "{a:?} {b:?}");
            }
        }
        let Some(Instance::Object(members)) =
            Instance::from_slice(br#"{"kind":1,"id":2,"sku":3,"at":4}"#)
        else {
            panic!("not an object");
        };
        let cases: [(&[&str], bool); 9] = [
            (&[], true),
            (&["at", "kind"], true),
            (&["id", "kind", "sku"], true),
            (&["at", "id", "kind", "sku"], true),
            (&["at", "id", "kind", "sku", "zz"], false),
            (&["a"], false),
            (&["b"], false),
            (&["zz"], false),
            (&["kind", "kinds"], false),
        ];
        for (required, all) in cases {
            let sorted: Vec<String> = required.iter().map(|s| (*s).to_owned()).collect();
            assert_eq!(members.has_all(&sorted), all, "{required:?}");
        }
    }

    #[test]
    fn reads_like_value_sorted_with_the_last_duplicate_winning() {
        let docs: [&[u8]; 6] = [
            br#"{"b":1,"a":[true,null,"x\n"],"c":{"z":1.5,"y":-2}}"#,
            br#"{"k":1,"k":2}"#,
            br#"[18446744073709551615, -9223372036854775808, 1e3, 0.1]"#,
            br#""\u00e9t\u00e9""#,
            br#"{}"#,
            br#"[]"#,
        ];
        for doc in docs {
            let value: Value = serde_json::from_slice(doc).unwrap();
            let instance = Instance::from_slice(doc).unwrap();
            assert_eq!(
                instance,
                Instance::of(&value),
                "{}",
                String::from_utf8_lossy(doc)
            );
            assert!(instance.equals(&value));
        }
        for bad in [
            &b"{"[..],
            b"[1,]",
            b"1e400",
            b"\"\\ud800\"",
            b"\"\xff\"",
            b"1\xff",
        ] {
            assert_eq!(
                Instance::from_slice(bad).is_none(),
                serde_json::from_slice::<Value>(bad).is_err()
            );
        }
    }
}

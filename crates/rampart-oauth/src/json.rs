//! Strict decoding of the JSON and base64url inside tokens and IdP documents.
//!
//! serde_json keeps one of two duplicate keys silently; a token with
//! `{"sub":"alice","sub":"admin"}` would then mean different things to us and to a
//! backend that takes the first. Duplicates are refused at every depth. serde_json's
//! recursion limit (128) stays on.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserializer;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Decodes unpadded base64url, refusing padding, the standard alphabet and non-zero
/// trailing bits (so each value has exactly one encoding).
pub(crate) fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Encodes unpadded base64url.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Parses `bytes` as one JSON object, refusing duplicate keys anywhere inside.
pub(crate) fn parse_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictSeed.deserialize(&mut de).ok()?;
    de.end().ok()?;
    match value {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

struct StrictSeed;

impl<'de> DeserializeSeed<'de> for StrictSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictSeed)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(StrictSeed)?;
            if out.insert(key, value).is_some() {
                return Err(de::Error::custom("duplicate key"));
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_duplicate_keys_next_to_distinct_ones() {
        let cases: &[(&str, bool)] = &[
            (r#"{"sub":"a","sub":"b"}"#, false),
            (r#"{"sub":"a","subj":"b"}"#, true),
            (r#"{"cnf":{"jkt":"a","jkt":"b"}}"#, false),
            (r#"{"cnf":{"jkt":"a"},"x":[{"k":1},{"k":2}]}"#, true),
            (r#"[1,2]"#, false),
            (r#"{"a":1} {"b":2}"#, false),
            (r#"{"a":1}  "#, true),
            (r#"{"a":1.5e3,"b":-2,"c":null,"d":true}"#, true),
        ];
        for (text, ok) in cases {
            assert_eq!(parse_object(text.as_bytes()).is_some(), *ok, "{text}");
        }
    }

    #[test]
    fn refuses_deep_nesting() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        assert!(parse_object(deep.as_bytes()).is_none());
        let shallow = format!("{{\"a\":{}1{}}}", "[".repeat(20), "]".repeat(20));
        assert!(parse_object(shallow.as_bytes()).is_some());
    }

    #[test]
    fn base64url_is_strict() {
        let cases: &[(&str, Option<&[u8]>)] = &[
            ("YWJj", Some(b"abc")),
            ("YWI", Some(b"ab")),
            ("YWI=", None), // padding
            ("YWJ", None),  // non-zero trailing bits
            ("-_8", Some(&[0xfb, 0xff])),
            ("+/8", None), // standard alphabet
            ("YW Jj", None),
        ];
        for (text, want) in cases {
            assert_eq!(b64url_decode(text).as_deref(), *want, "{text}");
        }
    }
}

//! Limits for every parser, with defaults sized for API traffic.
//!
//! Plain numbers: the caller turns human sizes such as `"1MiB"` into bytes before
//! building these. Every section defaults on its own, so a config file only names
//! what it changes. Field names carry their unit (`_bytes`) or are counts.

use serde::Deserialize;

/// All parser limits.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// JSON limits (also used for JSON parts and GraphQL-over-JSON).
    pub json: JsonLimits,
    /// XML limits.
    pub xml: XmlLimits,
    /// URL-encoded form limits.
    pub form: FormLimits,
    /// Multipart limits.
    pub multipart: MultipartLimits,
    /// GraphQL limits.
    pub graphql: GraphqlLimits,
    /// Content-Encoding limits.
    pub decode: DecodeLimits,
}

/// JSON limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JsonLimits {
    /// Nesting of objects and arrays.
    pub max_depth: usize,
    /// Object keys in the whole document.
    pub max_keys: usize,
    /// Elements of one array.
    pub max_array_len: usize,
    /// One string or key, as sent (escapes counted raw).
    pub max_string_bytes: usize,
    /// One number literal.
    pub max_number_bytes: usize,
}

impl Default for JsonLimits {
    fn default() -> Self {
        Self {
            max_depth: 32,
            max_keys: 10_000,
            max_array_len: 10_000,
            max_string_bytes: 1 << 20,
            max_number_bytes: 64,
        }
    }
}

/// XML limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XmlLimits {
    /// Element nesting.
    pub max_depth: usize,
    /// Attributes on one element.
    pub max_attributes: usize,
    /// Elements in the whole document.
    pub max_elements: usize,
    /// One element or attribute name, prefix included.
    pub max_name_bytes: usize,
    /// Text of one element (text, references and CDATA together) or one attribute value.
    pub max_text_bytes: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_attributes: 64,
            max_elements: 100_000,
            max_name_bytes: 256,
            max_text_bytes: 1 << 20,
        }
    }
}

/// URL-encoded form limits; names and values are counted as sent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FormLimits {
    /// Parameters in the body.
    pub max_params: usize,
    /// One parameter name.
    pub max_name_bytes: usize,
    /// One parameter value.
    pub max_value_bytes: usize,
}

impl Default for FormLimits {
    fn default() -> Self {
        Self {
            max_params: 1_000,
            max_name_bytes: 1 << 10,
            max_value_bytes: 1 << 20,
        }
    }
}

/// Multipart limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultipartLimits {
    /// Parts in the body.
    pub max_parts: usize,
    /// Header block of one part.
    pub max_header_bytes: usize,
    /// Content of one part.
    pub max_part_bytes: usize,
    /// A field name or file name.
    pub max_name_bytes: usize,
}

impl Default for MultipartLimits {
    fn default() -> Self {
        Self {
            max_parts: 100,
            max_header_bytes: 8 << 10,
            max_part_bytes: 16 << 20,
            max_name_bytes: 1 << 10,
        }
    }
}

/// GraphQL limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphqlLimits {
    /// Selection depth of an operation, fragments expanded.
    pub max_depth: usize,
    /// Aliases in the document.
    pub max_aliases: usize,
    /// Directives in the document (`@include`, `@skip`, ...): each costs the server a
    /// lookup and a call, so hundreds on one field are an overloading attack.
    pub max_directives: usize,
    /// Fields of an operation, fragments expanded.
    pub max_fields: usize,
    /// Operations in one GraphQL-over-JSON batch.
    pub max_batch: usize,
    /// Bracket nesting of any kind (selections, lists, objects, types).
    pub max_nesting: usize,
}

impl Default for GraphqlLimits {
    fn default() -> Self {
        Self {
            max_depth: 15,
            max_aliases: 30,
            max_directives: 50,
            max_fields: 1_000,
            max_batch: 10,
            max_nesting: 64,
        }
    }
}

/// Content-Encoding limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecodeLimits {
    /// Decoded size.
    pub max_output_bytes: usize,
    /// Decoded size over encoded size, checked once the output passes `ratio_grace_bytes`.
    pub max_ratio: usize,
    /// Output below this size is never a bomb: small bodies compress very well.
    pub ratio_grace_bytes: usize,
    /// Content codings applied in sequence (`gzip, gzip` is two).
    pub max_layers: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_output_bytes: 16 << 20,
            max_ratio: 100,
            ratio_grace_bytes: 64 << 10,
            max_layers: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_names_only_what_it_changes() {
        let l: Limits = toml::from_str("[json]\nmax_depth = 8\n[decode]\nmax_layers = 2\n")
            .expect("valid limits");
        assert_eq!(l.json.max_depth, 8);
        assert_eq!(l.json.max_keys, 10_000);
        assert_eq!(l.decode.max_layers, 2);
        assert_eq!(l.xml, XmlLimits::default());
    }

    #[test]
    fn rejects_unknown_keys() {
        for bad in [
            "[json]\nmax_dept = 8\n",
            "[jsn]\n",
            "[decode]\nmax_ratio = -1\n",
        ] {
            assert!(toml::from_str::<Limits>(bad).is_err(), "{bad}");
        }
    }
}

//! Caps on loading a spec and on validating one request against it.

/// Limits applied while loading and compiling a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadLimits {
    /// Largest spec file.
    pub max_spec_bytes: u64,
    /// Longest chain of `$ref` to `$ref`.
    pub max_ref_hops: usize,
    /// Compiled schemas in one contract (inline and referenced).
    pub max_schemas: usize,
    /// Longest `pattern` source.
    pub max_pattern_bytes: usize,
    /// Compiled size of one `pattern` (the regex engine's own accounting).
    pub max_regex_bytes: usize,
}

impl Default for LoadLimits {
    fn default() -> Self {
        Self {
            max_spec_bytes: 16 << 20,
            max_ref_hops: 32,
            max_schemas: 200_000,
            max_pattern_bytes: 4096,
            max_regex_bytes: 1 << 20,
        }
    }
}

/// Limits applied while validating one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidateLimits {
    /// Nested schema applications (instance depth plus `allOf`/`$ref` chains).
    pub max_depth: usize,
    /// Violations collected before validation stops.
    pub max_errors: usize,
    /// Schema-node visits plus units of string, regex and uniqueness work; reaching it
    /// refuses the request (it cannot be decided within budget).
    pub max_work: u64,
}

impl Default for ValidateLimits {
    fn default() -> Self {
        Self {
            max_depth: 128,
            max_errors: 16,
            max_work: 2_000_000,
        }
    }
}

//! `pattern`: ECMA-262 regular expressions compiled with the `regex` crate.
//!
//! Differences from ECMA that matter: look-around and back-references are not
//! supported (such patterns fail to load rather than being ignored); `\d` and `\w`
//! are rewritten to their ASCII meaning as in ECMA (the `regex` crate would otherwise
//! read them as Unicode classes); matching is guaranteed linear time.

use regex::{Regex, RegexBuilder};

use crate::error::LoadError;
use crate::limits::LoadLimits;

/// A compiled `pattern`, plus whether it pins a value down to a non-free-text shape.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub(crate) regex: Regex,
    /// Anchored at both ends and built only from identifier-like characters, so a
    /// value that matches cannot carry an injection payload.
    pub(crate) strict: bool,
}

impl Pattern {
    pub(crate) fn compile(at: &str, source: &str, limits: &LoadLimits) -> Result<Self, LoadError> {
        if source.len() > limits.max_pattern_bytes {
            return Err(LoadError::Pattern {
                at: at.to_owned(),
                message: format!("longer than {} bytes", limits.max_pattern_bytes),
            });
        }
        let regex = RegexBuilder::new(&ascii_classes(source))
            .size_limit(limits.max_regex_bytes)
            .dfa_size_limit(limits.max_regex_bytes)
            .build()
            .map_err(|e| LoadError::Pattern {
                at: at.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Pattern {
            regex,
            strict: is_strict(source),
        })
    }
}

/// Rewrites `\d \D \w \W` to ASCII classes, inside and outside brackets.
fn ascii_classes(source: &str) -> String {
    let mut out = String::with_capacity(source.len() + 16);
    let mut in_class = false;
    let mut chars = source.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('d') if in_class => out.push_str("0-9"),
                Some('d') => out.push_str("[0-9]"),
                Some('w') if in_class => out.push_str("0-9A-Za-z_"),
                Some('w') => out.push_str("[0-9A-Za-z_]"),
                // Negated classes cannot be spliced into a bracket; keep them as they are
                // there (Unicode meaning) and rewrite them outside.
                Some('D') if !in_class => out.push_str("[^0-9]"),
                Some('W') if !in_class => out.push_str("[^0-9A-Za-z_]"),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Whether `source` is `^...$` made only of identifier characters (letters, digits,
/// `_`, `-`, `.`, `:`), ASCII classes of those, groups without top-level alternation,
/// and quantifiers.
pub(crate) fn is_strict(source: &str) -> bool {
    let Some(body) = source.strip_prefix('^').and_then(|s| s.strip_suffix('$')) else {
        return false;
    };
    if body.ends_with('\\') {
        return false;
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
    let mut depth = 0usize;
    let mut in_class = false;
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('d' | 'w' | '.' | '-' | '_' | ':') => {}
                _ => return false,
            },
            '[' if !in_class => {
                if chars.peek() == Some(&'^') {
                    return false;
                }
                in_class = true;
            }
            ']' if in_class => in_class = false,
            // `.` inside a class is a literal dot; outside it is any character.
            '.' if !in_class => return false,
            '(' if !in_class => {
                depth += 1;
                if chars.peek() == Some(&'?') {
                    chars.next();
                    if chars.next() != Some(':') {
                        return false;
                    }
                }
            }
            ')' if !in_class => depth = depth.saturating_sub(1),
            '|' if !in_class && depth == 0 => return false,
            '|' if !in_class => {}
            '{' | '}' | ',' | '+' | '*' | '?' if !in_class => {}
            c if safe(c) => {}
            _ => return false,
        }
    }
    !in_class && depth == 0
}

//! Alias batching in GraphQL mutations: one request that calls the same mutation field
//! under many aliases (`a0: login(...) a1: login(...) ...`) makes as many attempts as it
//! has aliases, past any per-request rate limit: password, OTP and coupon brute force.
//! Queries alias one field many times for ordinary batched reads; mutations that do so
//! are rare enough that a handful of repeats passes.

use std::collections::HashMap;

/// Calls of one mutation field under aliases in one document from which it counts.
pub(super) const MAX_REPEATS: usize = 10;
/// Longest document read.
const MAX_DOCUMENT: usize = 256 << 10;

/// The field called [`MAX_REPEATS`] times or more under aliases in a document holding a
/// mutation, as `name ×count`.
pub(crate) fn detect(text: &str) -> Option<String> {
    let b = text.as_bytes();
    if b.len() > MAX_DOCUMENT || !has_mutation(b) {
        return None;
    }
    let mut calls: HashMap<&str, usize> = HashMap::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            // Strings and comments hold no selections.
            b'"' => i = skip_string(b, i),
            b'#' => i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n),
            c if is_name_start(c) => {
                let alias_end = name_end(b, i);
                let mut j = skip_space(b, alias_end);
                if b.get(j) == Some(&b':') {
                    j = skip_space(b, j + 1);
                    if b.get(j).is_some_and(|c| is_name_start(*c)) {
                        let field_end = name_end(b, j);
                        if b.get(skip_space(b, field_end)) == Some(&b'(') {
                            let n = calls.entry(&text[j..field_end]).or_default();
                            *n += 1;
                            if *n >= MAX_REPEATS {
                                return Some(format!("{} ×{n}", &text[j..field_end]));
                            }
                        }
                    }
                }
                i = alias_end;
            }
            _ => i += 1,
        }
    }
    None
}

/// Whether `mutation` starts an operation: at the start or after a closing brace (comment
/// lines aside), and followed by a name, `(` or `{`.
fn has_mutation(b: &[u8]) -> bool {
    memchr::memmem::find_iter(b, b"mutation").any(|at| {
        let after = b.get(skip_space(b, at + 8));
        matches!(last_token_byte(&b[..at]), None | Some(b'}'))
            && after.is_some_and(|c| *c == b'{' || *c == b'(' || is_name_start(*c))
    })
}

/// The last byte of `b` outside whitespace, commas and `#` comments.
fn last_token_byte(mut b: &[u8]) -> Option<u8> {
    loop {
        let end = b
            .iter()
            .rposition(|c| !c.is_ascii_whitespace() && *c != b',')?;
        let line_start = b[..end]
            .iter()
            .rposition(|c| *c == b'\n')
            .map_or(0, |n| n + 1);
        match memchr::memchr(b'#', &b[line_start..=end]) {
            Some(hash) => b = &b[..line_start + hash],
            None => return Some(b[end]),
        }
    }
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn name_end(b: &[u8], from: usize) -> usize {
    b[from..]
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
        .map_or(b.len(), |n| from + n)
}

fn skip_space(b: &[u8], from: usize) -> usize {
    b.get(from..)
        .and_then(|rest| {
            rest.iter()
                .position(|c| !(c.is_ascii_whitespace() || *c == b','))
        })
        .map_or(b.len(), |n| from + n)
}

/// The index after the string starting at `from` (block strings included).
fn skip_string(b: &[u8], from: usize) -> usize {
    if b[from..].starts_with(b"\"\"\"") {
        return memchr::memmem::find(&b[from + 3..], b"\"\"\"").map_or(b.len(), |n| from + 6 + n);
    }
    let mut i = from + 1;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::detect;

    fn aliased(op: &str, field: &str, n: usize) -> String {
        let calls: String = (0..n)
            .map(|i| format!("a{i}: {field}(code: \"{i:04}\") {{ ok }} "))
            .collect();
        format!("{op} {{ {calls}}}")
    }

    #[test]
    fn aliased_mutation_calls_of_one_field_are_brute_force() {
        for attack in [
            aliased("mutation", "login", 20),
            aliased("mutation Brute($u: String)", "verifyOtp", 10),
            format!("# try codes\n{}", aliased("mutation", "redeemCoupon", 12)),
        ] {
            assert!(detect(&attack).is_some(), "{attack}");
        }
        for legit in [
            aliased("mutation", "login", 9),
            // Queries alias one field for batched reads.
            aliased("query", "product", 40),
            aliased("", "product", 40),
            // Different fields, and aliases inside strings, do not add up.
            format!(
                "mutation {{ {} }}",
                (0..20)
                    .map(|i| format!("f{i}: setField{i}(v: 1) {{ ok }}"))
                    .collect::<String>()
            ),
            format!(
                "mutation {{ note(text: \"{}\") {{ id }} }}",
                "a: login( ".repeat(20)
            ),
            "Our mutation testing found a: login( bugs".repeat(12),
        ] {
            assert_eq!(detect(&legit), None, "{legit}");
        }
    }
}

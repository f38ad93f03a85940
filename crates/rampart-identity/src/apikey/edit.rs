//! Changes to the consumers file made by the admin API: a new key for a consumer, or a
//! key revoked. The file is edited as text, so the operators' comments and layout stay,
//! and every edit is verified by parsing the result: the new key must resolve to its
//! consumer, a revoked one must be gone, and everything else must be as it was.

use std::path::Path;
use std::time::SystemTime;

use super::{ApiKeys, NewKey, new_key};
use crate::watch::FromFile;

/// Why an edit was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// No `[[consumer]]` table has that name.
    #[error("no such consumer")]
    NoConsumer,
    /// The consumer has no key with that id.
    #[error("no such key")]
    NoKey,
    /// The file is not written with `[[consumer]]` tables, or the result did not verify.
    #[error("the consumers file cannot be edited safely: {0}")]
    Unsafe(&'static str),
}

/// The id of a key as the admin API shows it: the first 16 hex digits of its hash.
pub fn key_id(hash_hex: &str) -> &str {
    hash_hex.get(..16).unwrap_or(hash_hex)
}

/// `line` without its comment and whitespace, to recognise table headers however
/// they are spaced (`[[ consumer ]]`).
fn compact(line: &str) -> String {
    line.split('#')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn is_consumer_header(line: &str) -> bool {
    compact(line) == "[[consumer]]"
}

fn is_keys_header(line: &str) -> bool {
    compact(line) == "[[consumer.keys]]"
}

/// Line ranges `[start, end)` of each consumer section and its name.
fn sections(lines: &[&str]) -> Vec<(usize, usize, Option<String>)> {
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| is_consumer_header(lines[i]))
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(n, &start)| {
            let end = starts.get(n + 1).copied().unwrap_or(lines.len());
            // The section alone is a valid document: `[[consumer]]` plus its sub-tables.
            let name = lines[start..end]
                .join("\n")
                .parse::<toml::Table>()
                .ok()
                .and_then(|t| {
                    t.get("consumer")?
                        .as_array()?
                        .first()?
                        .get("name")?
                        .as_str()
                        .map(str::to_owned)
                });
            (start, end, name)
        })
        .collect()
}

fn parse(text: &str) -> Result<ApiKeys, EditError> {
    ApiKeys::parse(Path::new("consumers"), text)
        .map_err(|_| EditError::Unsafe("the result does not parse"))
}

/// Adds a fresh key for `consumer` (expiring at `expires`, RFC 3339, when given);
/// returns the new file text and the key, shown once.
pub fn add_key(
    text: &str,
    consumer: &str,
    expires: Option<&str>,
) -> Result<(String, NewKey), EditError> {
    let before = parse(text)?;
    let lines: Vec<&str> = text.lines().collect();
    let (_, end, _) = sections(&lines)
        .into_iter()
        .find(|(_, _, name)| name.as_deref() == Some(consumer))
        .ok_or(EditError::NoConsumer)?;
    let key = new_key(consumer);
    let mut block = vec![
        String::new(),
        "[[consumer.keys]]".to_owned(),
        format!("hash = \"{}\"", key.hash),
    ];
    if let Some(at) = expires {
        block.push(format!("expires = {}", toml::Value::String(at.to_owned())));
    }
    // At the end of the consumer's section, before trailing blank lines.
    let mut at = end;
    while at > 0 && lines[at - 1].trim().is_empty() {
        at -= 1;
    }
    let mut out: Vec<String> = lines[..at].iter().map(|l| (*l).to_owned()).collect();
    out.extend(block);
    out.extend(lines[at..].iter().map(|l| (*l).to_owned()));
    let new_text = out.join("\n") + "\n";
    let after = parse(&new_text)?;
    let principal = after
        .lookup(key.key.as_bytes(), SystemTime::UNIX_EPOCH)
        .map_err(|_| EditError::Unsafe("the new key does not resolve"))?;
    if principal.consumer.as_deref() != Some(consumer)
        || after.key_count() != before.key_count() + 1
    {
        return Err(EditError::Unsafe("the new key landed elsewhere"));
    }
    Ok((new_text, key))
}

/// Removes `consumer`'s key whose id ([`key_id`]) is `id`; returns the new file text.
pub fn revoke_key(text: &str, consumer: &str, id: &str) -> Result<String, EditError> {
    let before = parse(text)?;
    let lines: Vec<&str> = text.lines().collect();
    let (start, end, _) = sections(&lines)
        .into_iter()
        .find(|(_, _, name)| name.as_deref() == Some(consumer))
        .ok_or(EditError::NoConsumer)?;
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(EditError::NoKey);
    }
    let needle = format!("sha256:{}", id.to_ascii_lowercase());
    // The `[[consumer.keys]]` block holding the hash: from its header to the next header.
    let hit = (start..end)
        .find(|&i| lines[i].to_ascii_lowercase().contains(&needle))
        .ok_or(EditError::NoKey)?;
    let block_start = (start..=hit)
        .rev()
        .find(|&i| is_keys_header(lines[i]))
        .ok_or(EditError::Unsafe(
            "the key is not in a [[consumer.keys]] table",
        ))?;
    let block_end = (hit + 1..end)
        .find(|&i| lines[i].trim_start().starts_with('['))
        .unwrap_or(end);
    let kept: Vec<&str> = lines[..block_start]
        .iter()
        .chain(&lines[block_end..])
        .copied()
        .collect();
    let new_text = kept.join("\n") + "\n";
    let after = parse(&new_text)?;
    if after.key_count() + 1 != before.key_count() || after.consumers() != before.consumers() {
        return Err(EditError::Unsafe(
            "the revocation changed more than one key",
        ));
    }
    Ok(new_text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const FILE: &str = "# partners\n\
        [[consumer]]\nname = \"acme\"   # the first one\nplan = \"gold\"\n\n\
        [[consumer.keys]]\nhash = \"sha256:1111111111111111111111111111111111111111111111111111111111111111\"\n\n\
        [[ consumer ]]\nname = \"beta\"\n\n\
        [[consumer.keys]]\nhash = \"sha256:2222222222222222222222222222222222222222222222222222222222222222\"\n\
        expires = \"2030-01-01T00:00:00Z\"\n\n\
        [[consumer.keys]]\nhash = \"sha256:3333333333333333333333333333333333333333333333333333333333333333\"\n";

    #[test]
    fn a_new_key_lands_in_its_consumer_and_comments_stay() {
        for consumer in ["acme", "beta"] {
            let (text, key) = add_key(FILE, consumer, Some("2031-01-01T00:00:00Z")).unwrap();
            assert!(text.contains("# the first one"));
            assert!(text.contains("# partners"));
            let keys = ApiKeys::parse(Path::new("c"), &text).unwrap();
            let who = keys
                .lookup(key.key.as_bytes(), SystemTime::UNIX_EPOCH)
                .unwrap();
            assert_eq!(who.consumer.as_deref(), Some(consumer));
            assert_eq!(keys.key_count(), 4);
            assert!(!text.contains(&key.key), "only the hash is written");
        }
    }

    #[test]
    fn revoking_removes_exactly_one_key_of_that_consumer() {
        let text = revoke_key(FILE, "beta", "2222222222222222").unwrap();
        assert!(!text.contains("2222222222"));
        assert!(!text.contains("2030-01-01"), "its expiry went with it");
        assert!(text.contains("3333333333"));
        assert!(text.contains("1111111111"));
        let table = [
            ("acme", "2222222222222222", EditError::NoKey), // beta's key, not acme's
            ("beta", "4444444444444444", EditError::NoKey),
            ("beta", "22222222", EditError::NoKey),
            ("beta", "zzzzzzzzzzzzzzzz", EditError::NoKey),
            ("gamma", "1111111111111111", EditError::NoConsumer),
        ];
        for (consumer, id, want) in table {
            assert_eq!(revoke_key(FILE, consumer, id), Err(want), "{consumer} {id}");
        }
    }

    #[test]
    fn files_it_cannot_edit_safely_are_left_alone() {
        assert_eq!(
            add_key("[[consumer]]\nname = \"acme\"\n", "nobody", None).map(|_| ()),
            Err(EditError::NoConsumer)
        );
        // Inline array syntax has no `[[consumer]]` header to anchor on.
        let inline = "consumer = [{ name = \"acme\" }]\n";
        assert_eq!(
            add_key(inline, "acme", None).map(|_| ()),
            Err(EditError::NoConsumer)
        );
        assert!(matches!(
            add_key("not toml [", "acme", None),
            Err(EditError::Unsafe(_))
        ));
        assert!(matches!(
            add_key(FILE, "acme", Some("not a date")),
            Err(EditError::Unsafe(_))
        ));
    }
}

//! Unset variables the shell expands to nothing: spliced into a command name
//! (`n$u\c$u`, `c${x}at`) or standing before it (`;$a cat test.txt`), they only hide the
//! command from filters. Prose names a variable only to read it.

use super::{is_word, known, versioned};

/// Length of a `$name` or `${name}` reference at the start of `s`.
pub(super) fn unset_variable(s: &[u8]) -> Option<usize> {
    if s.first() != Some(&b'$') {
        return None;
    }
    let braced = s.get(1) == Some(&b'{');
    let from = 1 + usize::from(braced);
    let first = *s.get(from)?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    let name = s[from..].iter().take_while(|c| is_word(**c)).count();
    match braced {
        true => (s.get(from + name) == Some(&b'}')).then_some(from + name + 1),
        false => Some(from + name),
    }
}

/// A lowercase variable in command position followed by a command (`;$a cat x`,
/// `|${u} id`): the word runs as if the variable were not there. Upper-case names are the
/// environment scripts set (`; $SUDO apt-get install`), so they pass.
pub(super) fn unset_prefix(text: &str) -> Option<String> {
    let b = text.as_bytes();
    memchr::memchr_iter(b'$', b).find_map(|i| {
        let before = b[..i].trim_ascii_end();
        let position = match before.last() {
            None => true,
            Some(b';' | b'|' | b'&' | b'\n' | b'\r' | b'`') => true,
            Some(b'(') => before.ends_with(b"$("),
            Some(_) => false,
        };
        let len = unset_variable(&b[i..])?;
        let lower = b[i..i + len].iter().all(|c| !c.is_ascii_uppercase());
        let mut j = i + len;
        let gap = b[j..]
            .iter()
            .take_while(|c| matches!(c, b' ' | b'\t'))
            .count();
        j += gap;
        let w = b[j..]
            .iter()
            .take_while(|c| is_word(**c) || matches!(c, b'-' | b'.'))
            .count();
        let name = &b[j..j + w];
        let ends = b.get(j + w).is_none_or(|c| {
            c.is_ascii_whitespace() || matches!(c, b';' | b'|' | b'&' | b'`' | b')')
        });
        let command = name.len() >= 2
            && name.iter().all(|c| !c.is_ascii_uppercase())
            && (known(name).is_some() || versioned(name).is_some());
        (position && lower && gap > 0 && ends && command)
            .then(|| String::from_utf8_lossy(&b[i..j + w]).into_owned())
    })
}

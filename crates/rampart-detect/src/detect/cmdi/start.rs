//! Shell that only shows at the start of a value: a backslashed command name that skips
//! aliases (`\ls`) and an output redirection (`>/tmp/x`).

use super::{is_word, known, skip_ws};

/// A value opening with a backslashed command name (`\ls`, `\c\a\t`): the backslash skips
/// aliases, and only a shell reads it so. A Windows path (`C:\ls\x`) opens with its drive
/// and LaTeX (`\ln x`) uses English words, which need two backslashes here.
pub(super) fn alias_bypass(text: &str) -> Option<String> {
    let t = text.trim_start().as_bytes();
    if t.first() != Some(&b'\\') || t.get(1) == Some(&b'\\') {
        return None;
    }
    let end = t
        .iter()
        .position(|c| c.is_ascii_whitespace() || matches!(c, b';' | b'|' | b'&' | b'<' | b'>'))
        .unwrap_or(t.len());
    let raw = &t[..end];
    let mut name = [0u8; 32];
    let mut n = 0;
    for c in raw.iter().filter(|c| **c != b'\\') {
        *name.get_mut(n)? = c.to_ascii_lowercase();
        n += 1;
    }
    let weak = known(&name[..n])?;
    let slashes = raw.iter().filter(|c| **c == b'\\').count();
    (n >= 2 && (!weak || slashes >= 2)).then(|| String::from_utf8_lossy(raw).into_owned())
}

/// A value opening with an output redirection to a file (`>/tmp/x`, `>>~/.bashrc`,
/// `> /dev/null`): the rest of a command line. Quoted mail (`> quoted reply`) and
/// comparisons (`>= 3`) do not name a path; a quoted line that does (`> /usr is big`) goes
/// on with prose, so a spaced redirection must be the whole value.
pub(super) fn redirect_start(text: &str) -> Option<String> {
    let t = text.trim().as_bytes();
    let arrows = t.iter().take(2).take_while(|c| **c == b'>').count();
    if arrows == 0 {
        return None;
    }
    let mut i = arrows;
    skip_ws(t, &mut i);
    let spaced = i > arrows;
    let rest = &t[i..];
    // Two segments at least: `>/tmp` alone names a directory, and CRS keeps
    // `>/test.environment` as legitimate.
    let path = match rest {
        [b'/', c, tail @ ..] => {
            (is_word(*c) || *c == b'.')
                && tail
                    .windows(2)
                    .any(|w| w[0] == b'/' && (is_word(w[1]) || w[1] == b'.'))
        }
        [b'~', b'/', ..] | [b'&', b'0'..=b'9', ..] => true,
        _ => false,
    };
    let whole = !rest.iter().any(u8::is_ascii_whitespace);
    (path && (!spaced || whole)).then(|| String::from_utf8_lossy(t).into_owned())
}

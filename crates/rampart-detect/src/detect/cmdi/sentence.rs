//! Release notes and manuals open lines with a command and its option, then go on in
//! English ("grep -i no longer mishandles...", "tail -F has improved handling of..."). A
//! shell reads those words as operands, which make the command fail or do nothing; an
//! injection that means to run something has no reason to write them.

/// Words of English grammar that are no command's operand in practice. `now` is left
/// out: `shutdown -h now` is shell.
const GRAMMAR: &[&[u8]] = &[
    b"a", b"an", b"the", b"and", b"or", b"of", b"in", b"on", b"for", b"with", b"without", b"to",
    b"is", b"are", b"was", b"were", b"be", b"been", b"has", b"have", b"had", b"would", b"could",
    b"should", b"can", b"will", b"does", b"did", b"doesn't", b"don't", b"not", b"no", b"longer",
    b"when", b"which", b"that", b"this", b"its", b"it", b"some", b"any", b"more", b"than", b"from",
    b"instead", b"before", b"after", b"by",
];

/// Commands that act whatever words follow (`shutdown -h now and then` reads them as a
/// message; `kill -9 -1 and ...` signals before it fails on `and`).
const ACT_ANYWAY: &[&[u8]] = &[
    b"shutdown",
    b"reboot",
    b"halt",
    b"poweroff",
    b"init",
    b"telinit",
    b"kill",
    b"killall",
    b"pkill",
    b"wall",
];

/// How far into the line the words are looked for.
const LINE_MAX: usize = 200;

/// Whether the line of lowercased `b` opening at `i` with command `cmd` (in start or
/// line position) reads as a sentence: two grammar words and none of the bytes that give
/// shell its power (separators, substitutions, redirections, paths, escapes).
pub(super) fn sentence_line(cmd: &[u8], b: &[u8], i: usize) -> bool {
    if ACT_ANYWAY.contains(&cmd) {
        return false;
    }
    let rest = &b[i..];
    let line = &rest[..rest
        .iter()
        .take(LINE_MAX)
        .position(|c| matches!(c, b'\n' | b'\r'))
        .unwrap_or(rest.len().min(LINE_MAX))];
    if line.iter().any(|c| {
        matches!(
            c,
            b'|' | b';' | b'&' | b'$' | b'`' | b'<' | b'>' | b'/' | b'\\' | b'*' | b'~'
        )
    }) {
        return false;
    }
    line.split(|c| c.is_ascii_whitespace())
        .map(|w| w.trim_ascii_end().strip_suffix(b",").unwrap_or(w))
        .map(|w| w.strip_suffix(b".").unwrap_or(w))
        .filter(|w| GRAMMAR.contains(w))
        .nth(1)
        .is_some()
}

//! Byte classes of the command-injection detector, one table for all of its scans.

/// [`GATES`] bit: a quoting or expansion byte (obfuscation possible).
pub(super) const QUOTING: u16 = 1;
/// [`GATES`] bit: a byte that can put a command in position (without one, none is).
pub(super) const SHELL: u16 = 2;
/// [`GATES`] bit: a separator, substitution or quote that makes a later word a command.
pub(super) const SEPARATOR: u16 = 4;

/// [`GATES`] bit: a byte the separator loop of [`detect`](super::detect) looks at.
pub(super) const SEP_START: u16 = 8;
/// [`GATES`] bit: a byte of a shell word (`word`).
pub(super) const WORD: u16 = 16;
/// [`GATES`] bit: a byte `normalise` may do more with than lowercase it.
pub(super) const NORMALISE: u16 = 32;

/// [`GATES`] bit: a byte `normalise` may rewrite; without one it only lowercases.
pub(super) const REWRITE: u16 = 64;

/// [`GATES`] bits: the bytes the later passes of [`detect`](super::detect) cannot work
/// without: `=` and `$` (assignments expanded), `$` (an unset variable), `\` (an alias
/// bypass), `>` (a redirection) and `[` or `{` (a glob or brace list).
pub(super) const EQUALS: u16 = 128;
pub(super) const DOLLAR: u16 = 256;
pub(super) const BACKSLASH: u16 = 512;
pub(super) const GREATER: u16 = 1024;
pub(super) const GLOB: u16 = 2048;
/// [`GATES`] bit: `(`, which the `()` search of `detect` needs.
pub(super) const PAREN: u16 = 4096;

/// Per byte, the classes above: table lookups instead of long `matches!` chains, since
/// these loops run over most values.
pub(super) static GATES: [u16; 256] = gates();

const fn gates() -> [u16; 256] {
    let mut t = [0u16; 256];
    t = mark(t, b"'\"\\$`^", QUOTING);
    t = mark(t, b";|&`$\n/-({<>", SHELL);
    t = mark(t, b";|&`$\n\r{('\"\\<", SEPARATOR);
    t = mark(t, b";\n\r|&`$({", SEP_START);
    t = mark(t, b"_./-~?*[]+:\\%", WORD);
    t = mark(t, b"'\"\\${,}<`", NORMALISE);
    t = mark(t, b"'\"\\${<", REWRITE);
    t = mark(t, b"=", EQUALS);
    t = mark(t, b"$", DOLLAR);
    t = mark(t, b"\\", BACKSLASH);
    t = mark(t, b">", GREATER);
    t = mark(t, b"[{", GLOB);
    t = mark(t, b"(", PAREN);
    let mut i = 0;
    while i < 256 {
        if (i as u8).is_ascii_alphanumeric() {
            t[i] |= WORD;
        }
        if i >= 0x80 {
            t[i] |= NORMALISE | REWRITE;
        }
        i += 1;
    }
    t
}

const fn mark(mut t: [u16; 256], bytes: &[u8], bit: u16) -> [u16; 256] {
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] |= bit;
        i += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::{GATES, REWRITE};

    /// Without a [`REWRITE`] byte `normalise` only lowercases, so `detect` may skip it.
    #[test]
    fn normalise_only_lowercases_without_rewrite_bytes() {
        let alphabet: Vec<u8> = (0u8..0x80)
            .filter(|b| GATES[usize::from(*b)] & REWRITE == 0)
            .collect();
        // Every byte `normalise` treats specially is marked, or is one of these two, which
        // it only lowercases outside a `{a,b}` list, or a backtick.
        // A backtick only changes anything before a `'` (a GNU-style quote).
        for b in b"',\"\\${}<`" {
            assert!(
                GATES[usize::from(*b)] & REWRITE != 0 || b",}`".contains(b),
                "{b}"
            );
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            seed = crate::testing::xorshift(seed);
            let len = usize::try_from(seed % 24).unwrap_or(0);
            let text: String = (0..len)
                .map(|k| {
                    let pick = (seed >> (k % 8 * 8)) as usize + k * 31;
                    char::from(alphabet[pick % alphabet.len()])
                })
                .collect();
            assert_eq!(
                super::super::normalise(&text),
                text.to_ascii_lowercase(),
                "{text:?}"
            );
        }
    }
}

#[cfg(test)]
mod filter_tests {
    use super::super::{command, command_ignore_case, known, known_ignore_case};
    use crate::detect::cmdi_words::{PREFIXES, STRONG, STRONG_PREFIXES, VERSIONED};

    /// The filter in front of the command lookup answers as the lookup does: for every
    /// listed word and for look-alikes one byte away from each.
    #[test]
    fn known_answers_as_the_command_lookup() {
        let lists = [STRONG, PREFIXES, STRONG_PREFIXES, VERSIONED];
        let mut words: Vec<Vec<u8>> = Vec::new();
        for w in lists.iter().flat_map(|l| l.iter()) {
            let w = w.as_bytes().to_vec();
            let mut longer = w.clone();
            longer.push(b's');
            let mut other = w.clone();
            other[0] = if other[0] == b'x' { b'y' } else { b'x' };
            words.extend([w.clone(), w[..w.len() - 1].to_vec(), longer, other]);
            words.push(w.to_ascii_uppercase());
        }
        let mut misses = 0;
        for w in &words {
            assert_eq!(known(w), command(w), "{}", String::from_utf8_lossy(w));
            assert_eq!(
                known_ignore_case(w),
                command_ignore_case(w),
                "{}",
                String::from_utf8_lossy(w)
            );
            misses += usize::from(command(w).is_none());
        }
        // The look-alikes must include words the lookup rejects.
        assert!(misses > STRONG.len(), "{misses}");
    }
}

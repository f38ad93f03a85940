//! Bash ANSI-C quoting (`$'\143\141\164'`, `$'\x63at'`): the shell reads the escapes inside
//! `$'…'` as the bytes they name, so a command can be written without any of its letters.
//! The detector reads the quotes decoded.

/// Largest decoded text produced; past it the value is left as it was.
const MAX_OUTPUT: usize = 8192;

/// The text with every closed `$'…'` holding an escape replaced by the bytes it stands
/// for; `None` when there is none.
pub(super) fn decode(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut changed = false;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$'
            && b.get(i + 1) == Some(&b'\'')
            && let Some((quoted, end)) = quote(&b[i + 2..])
        {
            changed |= quoted.len() != end - 1;
            // A line break or tab inside the quote is part of one word, not a separator.
            out.extend(quoted.iter().map(|&c| if c < 0x20 { b' ' } else { c }));
            i += 2 + end;
        } else {
            out.push(b[i]);
            i += 1;
        }
        if out.len() > MAX_OUTPUT {
            return None;
        }
    }
    changed.then(|| String::from_utf8_lossy(&out).into_owned())
}

/// The bytes of one quote's body (`rest` starts after `$'`) and the length read, closing
/// quote included; `None` when it is not closed.
fn quote(rest: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut j = 0;
    loop {
        match *rest.get(j)? {
            b'\'' => return Some((out, j + 1)),
            b'\\' => j += 1 + escape(rest.get(j + 1..).unwrap_or_default(), &mut out),
            c => {
                out.push(c);
                j += 1;
            }
        }
    }
}

/// Appends what the escape at the start of `rest` (after its backslash) stands for;
/// returns the bytes it used.
fn escape(rest: &[u8], out: &mut Vec<u8>) -> usize {
    let Some(&c) = rest.first() else {
        out.push(b'\\');
        return 0;
    };
    let digits = |radix: u32, max: usize, from: usize| -> (u32, usize) {
        rest[from..]
            .iter()
            .take(max)
            .map_while(|d| char::from(*d).to_digit(radix))
            .fold((0, 0), |(v, n), d| (v * radix + d, n + 1))
    };
    let simple = match c {
        b'n' => Some(b'\n'),
        b't' => Some(b'\t'),
        b'r' => Some(b'\r'),
        b'a' => Some(0x07),
        b'b' => Some(0x08),
        b'e' | b'E' => Some(0x1b),
        b'f' => Some(0x0c),
        b'v' => Some(0x0b),
        b'\\' | b'\'' | b'"' | b'?' => Some(c),
        _ => None,
    };
    if let Some(byte) = simple {
        out.push(byte);
        return 1;
    }
    match c {
        b'0'..=b'7' => {
            let (v, n) = digits(8, 3, 0);
            out.push((v & 0xff) as u8);
            n
        }
        b'x' | b'u' | b'U' => {
            let max = match c {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let (v, n) = digits(16, max, 1);
            if n == 0 {
                out.extend_from_slice(&[b'\\', c]);
            } else if c == b'x' {
                out.push((v & 0xff) as u8);
            } else {
                let ch = char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER);
                out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
            }
            1 + n
        }
        _ => {
            out.extend_from_slice(&[b'\\', c]);
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn ansi_c_quotes_read_as_the_shell_reads_them() {
        let cases = [
            (r"$'\143\141\164' /etc/passwd", Some("cat /etc/passwd")),
            (r"$'\x63\x61\x74'", Some("cat")),
            (r"$'\u0063at'", Some("cat")),
            (r"a$'\n'b", Some("a b")),
            (r"$'it\'s'", Some("it's")),
            // Nothing escaped, or not a closed quote: left alone.
            ("$'plain'", None),
            (r"$'\143", None),
            ("costs $5 and 'quoted'", None),
        ];
        for (text, want) in cases {
            assert_eq!(decode(text).as_deref(), want, "{text}");
        }
    }
}

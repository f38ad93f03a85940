//! Commands assembled from shell variables: `c=cat;f=/etc/passwd;$c $f`,
//! `c1=c;c2=a;c3=t;$c1$c2$c3 /etc/passwd`, `a=nc&&$a -nlvp 555`. The shell runs the
//! expansion, so the detector reads it too. Prose does not assign a name and then expand it.

/// Most assignments remembered per value.
const MAX_ASSIGNMENTS: usize = 32;
/// Longest assigned value kept.
const MAX_VALUE: usize = 128;
/// Largest expansion produced; past it the value is left as it was.
const MAX_OUTPUT: usize = 8192;

/// The text with `$name` and `${name}` replaced by the values the text assigned to them in
/// command position; `None` when it expands no variable it assigned.
pub(super) fn expand(text: &str) -> Option<String> {
    let b = text.as_bytes();
    if memchr::memchr(b'=', b).is_none() || memchr::memchr(b'$', b).is_none() {
        return None;
    }
    let vars = assignments(b);
    if vars.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() + 64);
    let mut expanded = false;
    let mut i = 0;
    while i < b.len() {
        let Some(n) = memchr::memchr(b'$', &b[i..]) else {
            out.extend_from_slice(&b[i..]);
            break;
        };
        out.extend_from_slice(&b[i..i + n]);
        i += n;
        let (name, used) = reference(&b[i..]);
        match vars
            .iter()
            .rev()
            .find(|(v, _)| *v == name && !name.is_empty())
        {
            Some((_, value)) => {
                out.extend_from_slice(value);
                expanded = true;
                i += used;
            }
            None => {
                out.push(b'$');
                i += 1;
            }
        }
        if out.len() > MAX_OUTPUT {
            return None;
        }
    }
    expanded.then(|| String::from_utf8_lossy(&out).into_owned())
}

/// `name=value` words in command position, in order, with quotes and backslashes undone in
/// the values.
fn assignments(b: &[u8]) -> Vec<(&[u8], Vec<u8>)> {
    let mut vars = Vec::new();
    let mut i = 0;
    let mut command_position = true;
    while i < b.len() && vars.len() < MAX_ASSIGNMENTS {
        let c = b[i];
        if matches!(c, b';' | b'|' | b'&' | b'\n' | b'\r' | b'(' | b'`') {
            command_position = true;
            i += 1;
            continue;
        }
        if c == b' ' || c == b'\t' {
            i += 1;
            continue;
        }
        let name_len = b[i..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
        let is_name = name_len > 0 && !c.is_ascii_digit();
        if command_position && is_name && b.get(i + name_len) == Some(&b'=') {
            let (value, end) = value_at(b, i + name_len + 1);
            vars.push((&b[i..i + name_len], value));
            // Another assignment may follow on the same command (`a=1 b=2 cmd`).
            i = end;
            continue;
        }
        command_position = false;
        i += 1;
    }
    vars
}

/// The value of an assignment starting at `i` and where it ends: up to unquoted
/// whitespace or a separator.
fn value_at(b: &[u8], mut i: usize) -> (Vec<u8>, usize) {
    let mut value = Vec::new();
    let mut quote = None;
    while i < b.len() {
        let c = b[i];
        match (quote, c) {
            (None, b' ' | b'\t' | b';' | b'|' | b'&' | b'\n' | b'\r' | b')' | b'`') => break,
            (None, b'\'' | b'"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None | Some(b'"'), b'\\') if i + 1 < b.len() => {
                i += 1;
                value.push(b[i]);
            }
            _ => value.push(c),
        }
        i += 1;
    }
    value.truncate(MAX_VALUE);
    (value, i)
}

/// The variable name `s` (starting at `$`) refers to and how many bytes the reference takes.
fn reference(s: &[u8]) -> (&[u8], usize) {
    let name = |from: usize| {
        s[from..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count()
    };
    if s.get(1) == Some(&b'{') {
        let n = name(2);
        if s.get(2 + n) == Some(&b'}') {
            return (&s[2..2 + n], n + 3);
        }
        return (&[], 1);
    }
    let n = name(1);
    (&s[1..1 + n], n + 1)
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn expands_only_what_the_text_assigned() {
        let cases = [
            (
                "c=cat;f=/etc/passwd;$c $f",
                Some("c=cat;f=/etc/passwd;cat /etc/passwd"),
            ),
            (
                "a=/etc&&b=/passwd&&c=cat&&$c $a$b",
                Some("a=/etc&&b=/passwd&&c=cat&&cat /etc/passwd"),
            ),
            (
                "c4=\\ ;c1=c;c2=at;$c1$c2$c4/x",
                Some("c4=\\ ;c1=c;c2=at;cat /x"),
            ),
            ("v='n'c;${v} -l", Some("v='n'c;nc -l")),
            ("price is $5 and tax=3", None),
            ("echo $HOME", None),
            ("a=1 and then $b", None),
            ("the cost=$x", None),
        ];
        for (text, want) in cases {
            assert_eq!(expand(text).as_deref(), want, "{text}");
        }
    }

    #[test]
    fn self_reference_stays_bounded() {
        let text = "a=$a$a$a$a;".repeat(40) + &"$a".repeat(4000);
        assert!(expand(&text).is_none_or(|x| x.len() <= super::MAX_OUTPUT + super::MAX_VALUE));
    }
}

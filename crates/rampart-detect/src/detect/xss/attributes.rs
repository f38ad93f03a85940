//! The `name=value` pairs of a tag's attribute area, read the way a browser splits them,
//! for the checks that look at what a tag declares rather than at handlers.

/// Iterates `name=value` pairs (values unquoted; a bare name has an empty value) up to
/// the tag's `>`. [`Attributes::plain`] says afterwards whether everything read was plain
/// HTML: names of letters, digits, `-`, `_`, `:` and every quote closed.
pub(super) struct Attributes<'a> {
    s: &'a [u8],
    i: usize,
    plain: bool,
}

impl<'a> Attributes<'a> {
    pub(super) fn new(s: &'a [u8]) -> Self {
        Attributes {
            s,
            i: 0,
            plain: true,
        }
    }

    pub(super) fn plain(&self) -> bool {
        self.plain
    }

    fn skip_space(&self, mut i: usize) -> usize {
        while self.s.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    }
}

/// The `name=value` pairs of a tag's attribute area, up to its `>`, values trimmed;
/// `None` when it is not plain HTML attributes or holds more than 16.
pub(super) fn pairs(s: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let mut it = Attributes::new(s);
    let pairs: Vec<_> = it
        .by_ref()
        .take(17)
        .map(|(n, v)| (n, v.trim_ascii()))
        .collect();
    (pairs.len() <= 16 && it.plain()).then_some(pairs)
}

impl<'a> Iterator for Attributes<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.s;
        let mut start = self.i;
        while s
            .get(start)
            .is_some_and(|c| c.is_ascii_whitespace() || *c == b'/')
        {
            start += 1;
        }
        let len = s[start.min(s.len())..]
            .iter()
            .take_while(|c| !c.is_ascii_whitespace() && !matches!(c, b'=' | b'/' | b'>'))
            .count();
        if len == 0 {
            // A stray `=` where a name belongs is not plain markup.
            self.plain &= !matches!(s.get(start), Some(b'='));
            self.i = s.len();
            return None;
        }
        let name = &s[start..start + len];
        self.plain &= name
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b':'));
        let after = start + len;
        let eq = self.skip_space(after);
        if s.get(eq) != Some(&b'=') {
            self.i = after;
            return Some((name, &[]));
        }
        let j = self.skip_space(eq + 1);
        let (value, next) = match s.get(j) {
            Some(&q @ (b'"' | b'\'')) => match memchr::memchr(q, &s[j + 1..]) {
                Some(len) => (&s[j + 1..j + 1 + len], j + len + 2),
                None => {
                    self.plain = false;
                    (&s[j + 1..], s.len())
                }
            },
            _ => {
                let len = s[j.min(s.len())..]
                    .iter()
                    .take_while(|c| !c.is_ascii_whitespace() && **c != b'>')
                    .count();
                (&s[j.min(s.len())..j + len], j + len)
            }
        };
        self.i = next.min(s.len());
        Some((name, value))
    }
}

#[cfg(test)]
mod tests {
    use super::Attributes;

    /// An attribute area, the pairs read from it, and whether it was plain.
    type Case<'a> = (&'a [u8], &'a [(&'a [u8], &'a [u8])], bool);

    #[test]
    fn attribute_areas_split_like_a_browser() {
        let cases: &[Case<'_>] = &[
            (
                b" id=a name=\"b c\" hidden",
                &[(b"id", b"a"), (b"name", b"b c"), (b"hidden", b"")],
                true,
            ),
            (
                b" rel = 'next' href=/x/>",
                &[(b"rel", b"next"), (b"href", b"/x/")],
                true,
            ),
            (b"/id=x", &[(b"id", b"x")], true),
            (b" href=\"unclosed", &[(b"href", b"unclosed")], false),
            (b" on{x}=1", &[(b"on{x}", b"1")], false),
            (b" =x", &[], false),
            (b"", &[], true),
        ];
        for (area, want, plain) in cases {
            let mut it = Attributes::new(area);
            let got: Vec<_> = it.by_ref().collect();
            assert_eq!(&got, want, "{}", String::from_utf8_lossy(area));
            assert_eq!(it.plain(), *plain, "{}", String::from_utf8_lossy(area));
        }
    }
}

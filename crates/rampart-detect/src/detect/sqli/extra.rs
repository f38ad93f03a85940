//! Shapes added for string breaks that end in a comment or open a statement, and the
//! typographic-quote folding, kept apart from the core shapes in `mod.rs`.

use std::ops::Range;

use super::Shapes;
use super::lex::{Kw, Start, Tk, Tok};

/// Words that read as SQL operators in a commented-out tail (`x' collate nocase--`).
pub(super) const TAIL_WORDS: &[&[u8]] = &[
    b"collate", b"nocase", b"notnull", b"isnull", b"ilike", b"similar", b"to", b"escape", b"rowid",
];

/// `1'.",((,).,"`: sqlmap's first probe, ten characters drawn from `"'(),.` appended to
/// a value to break the query's syntax and read the error back. Prose and code put
/// letters between such characters, and an emoticon (`:'((((((((`) repeats one or two:
/// a run of ten or more holding a quote, a parenthesis and three of the six is the probe.
pub(super) fn syntax_probe(s: &[u8]) -> Option<Range<usize>> {
    const PROBE: &[u8] = b"\"'(),.";
    // Most values hold no parenthesis: one search settles them.
    memchr::memchr2(b'(', b')', s)?;
    let mut i = 0;
    while let Some(q) = memchr::memchr2(b'\'', b'"', &s[i..]) {
        let q = i + q;
        let start = s[i..q]
            .iter()
            .rposition(|c| !PROBE.contains(c))
            .map_or(i, |p| i + p + 1);
        let end = s[q..]
            .iter()
            .position(|c| !PROBE.contains(c))
            .map_or(s.len(), |p| q + p);
        let run = &s[start..end];
        if run.len() >= 10
            && run.iter().any(|c| matches!(c, b'(' | b')'))
            && PROBE.iter().filter(|c| run.contains(c)).count() >= 3
        {
            return Some(start..end);
        }
        i = end;
    }
    None
}

/// `1’ or ’1’=’1`: typographic quotes some databases and normalisers read as `'`, replaced
/// in place by `'` plus spaces so spans still index the original text; `admin'%a0or%a0'1'='1`:
/// the no-break space (and U+FFFD, what a lone Latin-1 0xA0 byte decodes to) that MySQL
/// reads as whitespace, replaced by spaces.
pub(super) fn fold_unicode(lower: &mut String) {
    if lower.is_ascii() {
        return;
    }
    let mut out = String::with_capacity(lower.len());
    for c in lower.chars() {
        match c {
            '\u{2018}' | '\u{2019}' | '\u{201b}' | '\u{2032}' | '\u{ff07}' => out.push_str("'  "),
            '\u{b4}' | '\u{2bc}' => out.push_str("' "),
            '\u{a0}' => out.push_str("  "),
            '\u{fffd}' => out.push_str("   "),
            _ => out.push(c),
        }
    }
    *lower = out;
}

/// Where the value starts in `name=value` sent as one field (a parameter name whose `=` was
/// encoded): after a short name of word characters, dots and brackets and its `=`.
pub(super) fn embedded_value(s: &[u8]) -> Option<usize> {
    let eq = memchr::memchr(b'=', &s[..s.len().min(65)])?;
    let name = &s[..eq];
    let namelike = !name.is_empty()
        && name.len() <= 64
        && name
            .iter()
            .all(|&b| super::super::is_word(b) || matches!(b, b'.' | b'[' | b']' | b'-'));
    (namelike && eq + 1 < s.len()).then_some(eq + 1)
}

impl Shapes<'_> {
    /// See [`Shapes::find`]: tokens `j..` up to a trailing comment, with an operator among
    /// them and no two plain words in a row (prose).
    pub(super) fn commented_tail(&self, j: usize) -> Option<usize> {
        let mut last = self.code.len().checked_sub(1)?;
        // `'glob 1;`: a `;` closing the value ends the statement as a comment would, but
        // only a short tail opening with a comparison or a boolean operator is SQL ("that's
        // all;" is prose, `Oid<'static> = oid!(1);` is Rust).
        let semi = last > j && self.kind(last) == Some(Tk::Semi) && !self.comment_after[last];
        if semi {
            last -= 1;
            let sql_op = matches!(self.kind(j), Some(Tk::Logic | Tk::Cmp));
            if !sql_op || last > j + 6 {
                return None;
            }
        }
        if last < j
            || last > j + 16
            || !(semi || (self.comment_after[last] && !self.quoted_comment(last)))
            || (!semi && self.prefix_words() > 1 && self.issue_reference(last))
        {
            return None;
        }
        let mut op = false;
        for i in j..=last {
            let sql_word = self.kind(i) == Some(Tk::Ident) && TAIL_WORDS.contains(&self.text(i));
            match self.code[i].kind {
                // A call after a word is two words as well (`Lucas Nussbaum (Closes: #1)`).
                Tk::Ident | Tk::Func if !sql_word => {
                    let prev_word = i > j
                        && self.kind(i - 1) == Some(Tk::Ident)
                        && !TAIL_WORDS.contains(&self.text(i - 1));
                    if prev_word {
                        return None;
                    }
                }
                Tk::Logic | Tk::Cmp | Tk::Arith | Tk::Kw(_) | Tk::Ident => op = true,
                _ => {}
            }
        }
        op.then_some(last)
    }

    /// For a value read inside the application's string: its quote, the token that breaks
    /// out of it, and the text before that quote (trimmed).
    pub(super) fn opening(&self) -> Option<(u8, &Tok, &[u8])> {
        let (Start::Inside(q) | Start::Escaped(q)) = self.start else {
            return None;
        };
        let open = self.code.first()?;
        Some((q, open, self.s[..open.end.saturating_sub(1)].trim_ascii()))
    }

    /// After `insert into`: a table name (dotted or quoted) and then a column list, `values`,
    /// `select`, `set` or the end. "insert into the slot" names no table.
    pub(super) fn insert_target(&self, mut t: usize) -> bool {
        if self.kind(t) != Some(Tk::Ident) {
            return self.kind(t) == Some(Tk::Func);
        }
        t += 1;
        while self.kind(t) == Some(Tk::Dot) && self.kind(t + 1) == Some(Tk::Ident) {
            t += 2;
        }
        matches!(
            self.kind(t),
            None | Some(Tk::LParen | Tk::Semi | Tk::Kw(Kw::Select | Kw::Set))
        ) || self.text(t) == b"values"
            || self.comment_after[t - 1]
    }

    /// `) like (`, `)regexp(`: a value that closes the application's group and compares it
    /// with a new one. Prose does not open with a closing parenthesis.
    pub(super) fn closing_comparison(&self) -> Option<Range<usize>> {
        (self.start == Start::Code
            && self.kind(0) == Some(Tk::RParen)
            && self.kind(1) == Some(Tk::Cmp)
            && !matches!(self.text(1), b"is" | b"in")
            && self.kind(2) == Some(Tk::LParen))
        .then(|| self.span(0, 2))
    }

    /// Whether the comparison `code[c]` has a right side SQL allows: `is` only before
    /// `null`, `not`, `true`/`false` (`is extended` is prose), `in` only before a list.
    pub(super) fn sql_rhs(&self, c: usize) -> bool {
        match self.text(c) {
            b"is" => matches!(
                self.kind(c + 1),
                Some(Tk::Kw(Kw::Null | Kw::Bool | Kw::Not | Kw::Distinct)) | None
            ),
            b"in" => matches!(self.kind(c + 1), Some(Tk::LParen) | None),
            _ => true,
        }
    }

    /// Whether the variable `code[k]` is glued to a word before it or to an `@` after it.
    pub(super) fn glued_var(&self, k: usize) -> bool {
        let Some(t) = self.code.get(k) else {
            return false;
        };
        let before = t.start.checked_sub(1).map(|p| self.s[p]);
        before.is_some_and(super::super::is_word) || self.s.get(t.end) == Some(&b'@')
    }

    /// See [`Shapes::find`].
    pub(super) fn keyword_after_opening_quote(&self, j: usize) -> bool {
        let Some((q, open, prefix)) = self.opening() else {
            return false;
        };
        let spaced = self.code.get(j).is_some_and(|t| t.start > open.end);
        matches!(
            self.kind(j),
            Some(Tk::Kw(
                Kw::Union
                    | Kw::Select
                    | Kw::Insert
                    | Kw::Update
                    | Kw::Delete
                    | Kw::Drop
                    | Kw::Alter
                    | Kw::Create
                    | Kw::Truncate
                    | Kw::Exec
                    | Kw::Declare
                    | Kw::Shutdown
            ))
        ) && (prefix.is_empty() || spaced)
            && prefix.len() <= 64
            && !prefix.iter().any(u8::is_ascii_whitespace)
            && memchr::memchr(q, &self.s[open.end..]).is_none()
    }

    /// `or (7319=8742)`, `&&(l=!0)`, `and (name = "`: after an operator opening the value,
    /// a parenthesised comparison with a literal side, or (`symbolic`, for `||`/`&&`) cut
    /// short right after the comparison sign. Returns the last token of the shape.
    pub(super) fn grouped_comparison(&self, j: usize, symbolic: bool) -> Option<usize> {
        let (c, lit1) = self.operand(j)?;
        if self.kind(c) != Some(Tk::Cmp) {
            return None;
        }
        if c + 1 == self.code.len() {
            return (lit1 || symbolic).then_some(c);
        }
        let (end, lit2) = self.operand(c + 1)?;
        (lit1 || lit2).then_some(end - 1)
    }
}

/// Comparisons that hold whatever the row: a literal compared with itself (`1=1`, `'a'='a'`).
const SAME_SIDES_CMP: &[&[u8]] = &[b"=", b"==", b"<=>", b"<=", b">="];

impl Shapes<'_> {
    /// `b,1=1`, `'admin', '1'='1'`, `'{"a":2}' < '$.a' = 7`: a literal compared with the same
    /// literal, or a quoted literal in a chain of two comparisons (SQLite's JSON probes),
    /// standing as an expression of its own (after a separator, not inside prose).
    pub(super) fn literal_comparison(&self, k: usize) -> Option<Range<usize>> {
        let own = k == 0
            || self.is_break(k - 1)
            || matches!(
                self.kind(k - 1),
                Some(Tk::Comma | Tk::LParen | Tk::Logic | Tk::Semi)
            );
        // The application's own string is no literal of the attacker's: in prose with
        // unbalanced quotes it is the text before the first quote.
        if !own || self.is_break(k) || self.kind(k + 1) != Some(Tk::Cmp) {
            return None;
        }
        // Decimal numbers only: the gate (`may_shape`) looks for a digit before the sign.
        let decimal = self.kind(k) != Some(Tk::Num)
            || self
                .text(k)
                .iter()
                .all(|b| b.is_ascii_digit() || *b == b'.');
        // `// OK, 1 == 1`: `==` after a separator is a comment of code.
        let c_style = self.text(k + 1) == b"==" && k > 0 && !self.is_break(k - 1);
        let same = decimal
            && !c_style
            && self.kind(k + 2) == self.kind(k)
            && self.text(k + 2) == self.text(k)
            && SAME_SIDES_CMP.contains(&self.text(k + 1));
        if same
            && (self.ends_at(k + 3)
                || matches!(self.kind(k + 3), Some(Tk::Logic | Tk::RParen | Tk::Comma)))
        {
            return Some(self.span(k, k + 2));
        }
        if !matches!(self.kind(k), Some(Tk::Str { closed: true })) {
            return None;
        }
        let c = k + 3;
        if !matches!(self.kind(k + 2), Some(Tk::Str { closed: true } | Tk::Num))
            || self.kind(c) != Some(Tk::Cmp)
        {
            return None;
        }
        let (end, lit) = self.operand(c + 1)?;
        let reopened = self.kind(end - 1) == Some(Tk::Str { closed: false });
        (lit && !reopened && self.ends_at(end)).then(|| self.span(k, end - 1))
    }

    /// `x' or 1 or '`, `') or true or ('`, `' or not 0 or '`: a string break, then a true
    /// constant joined by an operator on both sides, then a string reopened for the
    /// application's closing quote: the whole condition is true and the quotes balance.
    pub(super) fn reopened_constant(&self) -> Option<Range<usize>> {
        if !self.is_break(0) {
            return None;
        }
        let mut i = 1;
        while self.kind(i) == Some(Tk::RParen) {
            i += 1;
        }
        if self.kind(i) != Some(Tk::Logic) {
            return None;
        }
        i += 1;
        let negated = self.kind(i) == Some(Tk::Kw(Kw::Not));
        i += usize::from(negated);
        let nonzero = self.text(i).iter().any(|&b| matches!(b, b'1'..=b'9'));
        let truthy = match self.kind(i) {
            Some(Tk::Num) => nonzero != negated,
            Some(Tk::Kw(Kw::Bool)) => (self.text(i) == b"true") != negated,
            _ => false,
        };
        i += 1;
        if !truthy || self.kind(i) != Some(Tk::Logic) {
            return None;
        }
        let mut j = i + 1;
        while self.kind(j) == Some(Tk::LParen) {
            j += 1;
        }
        (j + 1 == self.code.len() && self.kind(j) == Some(Tk::Str { closed: false }))
            .then(|| self.span(0, j))
    }

    /// `1' and starts_with(password) and 'true`, `' * from = 1 or '9`: a string break, an
    /// expression doing SQL work (a comparison or a call), then an operator and a string
    /// reopened for the application's closing quote. Prose does not put two words in a row
    /// anywhere in between.
    pub(super) fn reopened_condition(&self) -> Option<Range<usize>> {
        let last = self.code.len().checked_sub(1)?;
        if !(3..=24).contains(&last)
            || !self.is_break(0)
            || self.kind(last) != Some(Tk::Str { closed: false })
            || self.kind(last - 1) != Some(Tk::Logic)
        {
            return None;
        }
        let mut work = false;
        for i in 1..last - 1 {
            let kind = self.code[i].kind;
            if kind == Tk::Ident && self.kind(i - 1) == Some(Tk::Ident) {
                return None;
            }
            // `!!` lexes as a comparison but compares nothing.
            work |=
                kind == Tk::Func || (kind == Tk::Cmp && self.text(i).iter().any(|&b| b != b'!'));
        }
        work.then(|| self.span(0, last))
    }
}

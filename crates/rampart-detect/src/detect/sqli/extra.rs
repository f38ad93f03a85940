//! Shapes added for string breaks that end in a comment or open a statement, and the
//! typographic-quote folding, kept apart from the core shapes in `mod.rs`.

use super::Shapes;
use super::lex::{Kw, Start, Tk};

/// Words that read as SQL operators in a commented-out tail (`x' collate nocase--`).
const TAIL_WORDS: &[&[u8]] = &[
    b"collate", b"nocase", b"notnull", b"isnull", b"ilike", b"similar", b"to", b"escape", b"rowid",
];

/// `1’ or ’1’=’1`: typographic quotes some databases and normalisers read as `'`, replaced
/// in place by `'` plus spaces so spans still index the original text.
pub(super) fn unicode_quotes(lower: &mut String) {
    if lower.is_ascii() {
        return;
    }
    let mut out = String::with_capacity(lower.len());
    for c in lower.chars() {
        match c {
            '\u{2018}' | '\u{2019}' | '\u{201b}' | '\u{2032}' | '\u{ff07}' => out.push_str("'  "),
            '\u{b4}' | '\u{2bc}' => out.push_str("' "),
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
        let last = self.code.len().checked_sub(1)?;
        if last < j || last > j + 16 || !self.comment_after[last] {
            return None;
        }
        let mut op = false;
        for i in j..=last {
            let sql_word = self.kind(i) == Some(Tk::Ident) && TAIL_WORDS.contains(&self.text(i));
            match self.code[i].kind {
                Tk::Ident if !sql_word => {
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

    /// See [`Shapes::find`].
    pub(super) fn keyword_after_opening_quote(&self, j: usize) -> bool {
        let Start::Inside(q) = self.start else {
            return false;
        };
        let Some(open) = self.code.first() else {
            return false;
        };
        let prefix = self.s[..open.end.saturating_sub(1)].trim_ascii();
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

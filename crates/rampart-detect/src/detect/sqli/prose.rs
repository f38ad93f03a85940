//! Telling prose, code and markup from injections that share their first tokens: quoted
//! words and comments (`use the "--verbose" option`, `<a href="#top">`), apostrophes
//! (`Tom's order #5`), C-family comparisons (`len(a) == 0 or ...`), issue references.

use super::Shapes;
use super::extra::TAIL_WORDS;
use super::lex::{Kw, Start, Tk};

impl Shapes<'_> {
    /// Whether the comment after `code[i]` holds the application's quote again, closing a
    /// quoted word that starts like a comment:
    /// - a word glued to the mark with more text after its closing quote (`"--stress"
    ///   option`, `<a href="#top">`, `'#!/usr/bin/python' instead`);
    /// - a URL fragment glued to what precedes it (`href="index.html#AEN30"`);
    /// - in prose or markup (several words before the quote), a quoted word, an empty mark
    ///   or a rule of dashes (`use "--" to`, `"-----",`) that ends where its quote does.
    ///
    /// An injection (`admin'-- `, `a b'-- 'x`) breaks out of a value into a comment whose
    /// quote, if any, closes nothing word-like.
    pub(super) fn quoted_comment(&self, i: usize) -> bool {
        let Some((q, _, prefix)) = self.opening() else {
            return false;
        };
        let from = self.code.get(i).map_or(0, |t| t.end);
        let to = self.code.get(i + 1).map_or(self.s.len(), |t| t.start);
        let Some(comment) = self.s.get(from..to) else {
            return false;
        };
        let Some(close) = memchr::memchr(q, comment) else {
            return false;
        };
        let word = comment[..close].trim_ascii_start();
        let Some(body) = word.strip_prefix(b"--").or_else(|| word.strip_prefix(b"#")) else {
            return false;
        };
        // Anchors of generated docs run long (`#all_perf_hooks_performancemark...`).
        let short = body.len() <= 256 && !body.contains(&b'\n');
        let glued = short
            && body
                .first()
                .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'!' | b'/'));
        let after = &self.s[from + close + 1..];
        let more = after.iter().any(|b| !b.is_ascii_whitespace());
        // A fragment: `#` glued to the text before it, a word, then the closing quote.
        let fragment = i > 0
            && word.len() == comment[..close].len()
            && word.starts_with(b"#")
            && from > 0
            && !self.s[from - 1].is_ascii_whitespace()
            && glued
            && body
                .iter()
                .all(|&b| super::super::is_word(b) || matches!(b, b'.' | b'-'));
        let rule = body.iter().all(|b| matches!(b, b'-' | b'#' | b'='));
        let words = short && body.iter().any(u8::is_ascii_alphanumeric);
        let ends_word = after.first().is_none_or(|&b| !super::super::is_word(b));
        let prose = words_in(prefix) > 1;
        // `"--" , but this doesn't work`: a quoted mark that prose goes on after; `"-----",`
        // a rule of dashes.
        let prose_after = words_in(after) > 2;
        (glued && more)
            || fragment
            || (prose && ends_word && (words || rule))
            || (rule && ends_word && (prose_after || body.len() >= 3))
    }

    /// Whether the comment after `code[i]` opens with a word glued to its mark, on a line
    /// of prose (`complain on "#warning Please` + a line break): the quote opens a quoted
    /// word that the next line closes.
    pub(super) fn quoted_word_in_prose(&self, i: usize) -> bool {
        let from = self.code.get(i).map_or(0, |t| t.end);
        let to = self.code.get(i + 1).map_or(self.s.len(), |t| t.start);
        let Some(comment) = self.s.get(from..to) else {
            return false;
        };
        let body = comment
            .strip_prefix(b"--")
            .or_else(|| comment.strip_prefix(b"#"));
        self.prose_prefix()
            && body.is_some_and(|b| b.first().is_some_and(u8::is_ascii_alphabetic))
            && comment.contains(&b'\n')
    }

    /// Number of words in the text before the application's quote.
    pub(super) fn prefix_words(&self) -> usize {
        self.opening().map_or(0, |(_, _, prefix)| words_in(prefix))
    }

    /// Whether the text before the application's quote reads as prose: three words or more
    /// ("use struct bfd_section";), where an injection breaks out of one value.
    /// Whether the tokens `code[k..=j]` are named in a sentence: several words before
    /// them and a sentence mark right after (`could have appended a UNION SELECT. We`).
    /// No statement goes on with `. ` or `, ` after its keyword.
    pub(super) fn named_in_sentence(&self, k: usize, j: usize) -> bool {
        let (Some(first), Some(last)) = (self.code.get(k), self.code.get(j)) else {
            return false;
        };
        let after = &self.s[last.end..];
        let mark = matches!(after.first(), Some(b'.' | b',' | b'!' | b'?'))
            && after.get(1).is_none_or(u8::is_ascii_whitespace);
        mark && words_in(&self.s[..first.start]) > 3
    }

    pub(super) fn prose_prefix(&self) -> bool {
        self.prefix_words() > 2
    }

    /// Whether the comment after `code[i]` is an issue reference (`(Closes: #746443)`,
    /// `see #12`): a `#` and digits after a space or `(`.
    pub(super) fn issue_reference(&self, i: usize) -> bool {
        let from = self.code.get(i).map_or(0, |t| t.end);
        let to = self.code.get(i + 1).map_or(self.s.len(), |t| t.start);
        let Some(comment) = self.s.get(from..to) else {
            return false;
        };
        let c = comment.trim_ascii_start();
        let start = from + (comment.len() - c.len());
        c.strip_prefix(b"#")
            .is_some_and(|d| d.first().is_some_and(u8::is_ascii_digit))
            && start > 0
            && matches!(self.s[start - 1], b' ' | b'(' | b'\t')
    }

    /// Whether an operand at `j` left open for the application's closing quote can take
    /// it: the string reopens with that quote (`' or "` is unbalanced) after a real break
    /// (`logical 'or' of equal` quotes an operator).
    pub(super) fn sound_tail(&self, j: usize) -> bool {
        self.kind(j) != Some(Tk::Str { closed: false })
            || (self.reopens_quote(j) && !self.quoted_word())
    }

    /// Whether `code[j]` (a string) opens with the application's quote.
    fn reopens_quote(&self, j: usize) -> bool {
        match (self.start, self.code.get(j)) {
            (Start::Inside(q) | Start::Escaped(q), Some(t)) => self.s.get(t.start) == Some(&q),
            (Start::Code, _) => true,
            _ => false,
        }
    }

    /// Whether the tokens hold `==`: C, Python or JavaScript, hardly SQL.
    pub(super) fn c_equals(&self) -> bool {
        self.code
            .iter()
            .any(|t| t.kind == Tk::Cmp && &self.s[t.start..t.end] == b"==")
    }

    /// Whether the operator at `k` joins two facts of arithmetic: inequalities of numbers
    /// (`2 > 1 and 3 < 4`) or equations computing on both sides of it (`1+1=2 and 2*3=6`,
    /// also with the `+` read as a space). The injections' constant conditions test bare
    /// equality (`1=1 and 2=2`, `-1 or 3*2=6`).
    pub(super) fn arithmetic(&self, k: usize, c: usize) -> bool {
        let inequality = |i: usize| {
            self.kind(i) == Some(Tk::Cmp) && matches!(self.text(i), b"<" | b">" | b"<=" | b">=")
        };
        if k < 3 || self.kind(k - 1) != Some(Tk::Num) || self.kind(k - 2) != Some(Tk::Cmp) {
            return false;
        }
        let numbers = |from: usize, to: usize| {
            (from..to).all(|i| matches!(self.kind(i), Some(Tk::Num | Tk::Arith)))
        };
        // The left side of the first comparison: numbers and signs back to a separator.
        let left = (0..k - 2)
            .rev()
            .take_while(|&i| matches!(self.kind(i), Some(Tk::Num | Tk::Arith)))
            .count();
        let computed_right = c > k + 2 && numbers(k + 1, c);
        (inequality(k - 2) && inequality(c) && self.kind(k - 3) == Some(Tk::Num))
            || (left >= 2 && computed_right && self.kind(c + 1) == Some(Tk::Num))
    }

    /// Whether two plain words follow each other anywhere from `j` on (prose).
    pub(super) fn words_in_a_row(&self, j: usize) -> bool {
        (j..self.code.len().saturating_sub(1))
            .any(|i| self.code[i].kind == Tk::Ident && self.code[i + 1].kind == Tk::Ident)
    }

    /// Whether the call at `k` does more than one comparison: a list (`if(1=1,sleep(5),0)`),
    /// a nested call, a subquery or a variable. "disable (X == 0)" is prose.
    pub(super) fn call_does_work(&self, k: usize) -> bool {
        let end = self.skip_group(k + 1);
        let inner = self.code.get(k + 2..end.saturating_sub(1)).unwrap_or(&[]);
        inner.iter().any(|t| {
            matches!(
                t.kind,
                Tk::Comma | Tk::Func | Tk::Var | Tk::Kw(Kw::Select) | Tk::LParen
            )
        })
    }

    /// Whether the break is the opening quote of a quoted word (`the "select" method`,
    /// `'EXEC')`): a word glued to the quote and closed by the same quote right after it.
    ///
    /// A quoted operator (`logical 'or' of`) only stands apart in prose, spaced on both
    /// sides: `a'or'a` is the classic break.
    pub(super) fn quoted_word(&self) -> bool {
        let (Some((q, open, prefix)), Some(word)) = (self.opening(), self.code.get(1)) else {
            return false;
        };
        if word.start != open.end || self.s.get(word.end) != Some(&q) {
            return false;
        }
        match word.kind {
            Tk::Kw(_) | Tk::Ident => true,
            Tk::Logic | Tk::Cmp => {
                let spaced_before = !prefix.is_empty()
                    && open.end >= 2
                    && self.s[open.end - 2].is_ascii_whitespace();
                let after = self.s.get(word.end + 1);
                spaced_before
                    && after.is_none_or(|&b| !super::super::is_word(b) && b != q && b != b'\\')
            }
            _ => false,
        }
    }

    /// Whether the break is an English apostrophe: a letter, the quote, and a contraction
    /// or word glued to it (`Tom's order #5`, `Where's order #123?`, `Ma'am, your order`,
    /// `Ballon d'Or 2026`).
    /// An injection puts a space, an operator or a keyword after its quote. A folded typographic quote
    /// (`’`) leaves two spaces after the `'`.
    pub(super) fn apostrophe(&self) -> bool {
        let (Some((_, open, _)), Some(next)) = (self.opening(), self.code.get(1)) else {
            return false;
        };
        let gap = &self.s[open.end..next.start];
        open.end >= 2
            && self.s[open.end - 2].is_ascii_alphabetic()
            && (gap.is_empty() || gap == b"  ")
            && match next.kind {
                // `Ma'am`, `O'Neil's`: a plain word glued to a quote is no valid SQL either.
                Tk::Ident => !TAIL_WORDS.contains(&self.text(1)),
                Tk::Func => matches!(
                    self.text(1),
                    b"s" | b"t" | b"m" | b"d" | b"re" | b"ve" | b"ll"
                ),
                // French elision before the noun `Or` (gold): `Ballon d'Or 2026`, `l'Or
                // noir` (the text is lowercased here). Only words and numbers may follow,
                // no comparison and no comment: `d'or 2026'` is no valid SQL, only a probe.
                Tk::Logic => {
                    let single_letter =
                        open.end < 3 || !self.s[open.end - 3].is_ascii_alphanumeric();
                    self.text(1) == b"or"
                        && single_letter
                        && matches!(self.s[open.end - 2], b'd' | b'l')
                        && self.code[2..]
                            .iter()
                            .all(|t| matches!(t.kind, Tk::Num | Tk::Ident))
                        && !self.comment_after.iter().any(|&c| c)
                }
                _ => false,
            }
    }

    /// Whether the statement at `j`, glued to a quote opened after prose, is closed by that
    /// quote later: `he said 'select * from users' is a query` quotes SQL.
    /// So is an exact-phrase search: `"select committee" site:gov.uk`.
    pub(super) fn quoted_statement(&self, j: usize) -> bool {
        let Some((q, open, prefix)) = self.opening() else {
            return false;
        };
        if self.code.get(j).is_none_or(|t| t.start != open.end) {
            return false;
        }
        let rest = &self.s[open.end..];
        (words_in(prefix) > 1 && rest.contains(&q))
            || (self.kind(j) == Some(Tk::Kw(Kw::Select)) && exact_phrase(q, rest))
    }
}

/// Whether `rest`, after an opening double quote, is a phrase of two or more plain words
/// closed by the quote and then a space or the end: a search for those words together,
/// which no statement is (it has nothing to select from or act on).
fn exact_phrase(q: u8, rest: &[u8]) -> bool {
    let Some(close) = memchr::memchr(q, rest).filter(|_| q == b'"') else {
        return false;
    };
    let phrase = &rest[..close];
    words_in(phrase) >= 2
        && phrase
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-')
        && rest.get(close + 1).is_none_or(u8::is_ascii_whitespace)
}

/// Words of `text` split at whitespace, a no-break space included (its UTF-8 ends in 0xa0).
fn words_in(text: &[u8]) -> usize {
    text.split(|&b| b.is_ascii_whitespace() || b == 0xa0)
        .filter(|w| !w.is_empty())
        .count()
}

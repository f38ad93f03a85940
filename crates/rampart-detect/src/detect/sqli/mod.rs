//! SQL injection: tokenise the value as code and as the continuation of a string the
//! application opened (`'` and `"`), then look for injection shapes in the token stream:
//! a string or number followed by a boolean operator and a comparison, `UNION SELECT`,
//! stacked statements, a string break followed by a comment, time and error-based
//! functions with SQL arguments, subqueries, `INTO OUTFILE`, `ORDER BY n` probes.
//! Prose has words but not these shapes: "select your plan", "O'Reilly", "1 or 2 items".

mod extra;
mod lex;
mod prose;
#[cfg(test)]
mod tests;

use std::ops::Range;

use lex::{Kw, Start, Tk, Tok};

/// Modules and classes whose `sleep` call pauses a program, not a query.
const CODE_CLOCKS: &[&[u8]] = &[
    b"time",
    b"thread",
    b"asyncio",
    b"trio",
    b"gevent",
    b"eventlet",
    b"utime",
    b"systemclock",
];

/// Functions that only show up in injections (time delays, error-based extraction, file
/// access); flagged when called with SQL-looking arguments.
const STRONG_FUNCS: &[&[u8]] = &[
    b"sleep",
    b"benchmark",
    b"pg_sleep",
    b"extractvalue",
    b"updatexml",
    b"load_file",
    b"xp_cmdshell",
    b"randomblob",
    b"receive_message",
    b"sys_eval",
    b"sys_exec",
    b"name_const",
    b"geometrycollection",
    b"multipoint",
    b"multilinestring",
    b"multipolygon",
    b"gtid_subset",
    b"group_concat",
    b"get_host_address",
    b"ctxsys",
    b"dbms_xmlgen",
    b"xmltype",
    b"pg_read_file",
    b"lo_import",
    b"utl_http",
    b"make_set",
    b"json_keys",
    b"exp",
];

/// Detects SQL injection in `text`; returns the span of the shape found.
pub(crate) fn detect(text: &str) -> Option<Range<usize>> {
    if let Some(probe) = extra::syntax_probe(text.as_bytes()) {
        return Some(probe);
    }
    if !gate(text.as_bytes())
        || crate::decode::encoded_space(text.as_bytes())
        || !lex::may_shape(text.as_bytes(), STRONG_FUNCS)
    {
        return None;
    }
    shapes(text)
}

/// [`detect`] without its gates.
fn shapes(text: &str) -> Option<Range<usize>> {
    let find = |s: &[u8]| {
        Shapes::new(s, Start::Code).find().or_else(|| {
            [b'\'', b'"']
                .into_iter()
                .filter(|q| memchr::memchr(*q, s).is_some())
                .filter(|q| !(*q == b'"' && quoted_list(s)))
                .find_map(|q| {
                    Shapes::new(s, Start::Inside(q)).find().or_else(|| {
                        let escaped = memchr::memchr_iter(q, s).any(|i| i > 0 && s[i - 1] == b'\\');
                        escaped
                            .then(|| Shapes::new(s, Start::Escaped(q)).find())
                            .flatten()
                    })
                })
        })
    };
    if text.is_ascii() {
        super::with_lowercase(text.as_bytes(), |s| {
            // `pay=;update users` sent with its `=` encoded arrives as one parameter name:
            // the part after the `=` is the value the backend may still split off.
            find(s).or_else(|| {
                let at = extra::embedded_value(s)?;
                find(&s[at..]).map(|r| r.start + at..r.end + at)
            })
        })
    } else {
        // Typographic quotes act as `'`, no-break spaces as spaces; the folding keeps
        // byte offsets.
        let mut lower = text.to_ascii_lowercase();
        extra::fold_unicode(&mut lower);
        find(lower.as_bytes())
    }
}

/// Whether `s` is a comma-separated list of entity tags, each optionally weak
/// (`W/"a--b"`, `"x", "y"`): quoted words of letters, digits and `._:/+=-`. Every quote
/// there closes what the one before it opened, and no word is SQL.
fn quoted_list(s: &[u8]) -> bool {
    let mut rest = s.trim_ascii();
    loop {
        rest = rest.strip_prefix(b"w/").unwrap_or(rest);
        let Some(body) = rest.strip_prefix(b"\"") else {
            return false;
        };
        let Some(close) = memchr::memchr(b'"', body) else {
            return false;
        };
        let tag = &body[..close];
        if tag.is_empty()
            || !tag.iter().all(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(c, b'.' | b'_' | b':' | b'/' | b'+' | b'=' | b'-')
            })
        {
            return false;
        }
        rest = body[close + 1..].trim_ascii_start();
        if rest.is_empty() {
            return true;
        }
        let Some(next) = rest.strip_prefix(b",") else {
            return false;
        };
        rest = next.trim_ascii_start();
    }
}

/// Cheap test: without any of these bytes, `union` or a closing `true`/`null`, no shape
/// below can match.
fn gate(s: &[u8]) -> bool {
    let t = s.trim_ascii_end();
    let tail = |w: &[u8]| {
        t.len() > w.len() && t[t.len() - w.len()..].eq_ignore_ascii_case(w) && {
            let before = t[t.len() - w.len() - 1];
            before.is_ascii_whitespace() || before == b'/'
        }
    };
    if tail(b"true") || tail(b"null") {
        return true;
    }
    s.iter().any(|b| {
        matches!(
            b,
            b'\'' | b'"' | b'`' | b';' | b'(' | b'=' | b'<' | b'>' | b'#'
        )
    }) || memchr::memmem::find(s, b"--").is_some()
        || memchr::memmem::find(s, b"/*").is_some()
        || memchr::memchr2_iter(b'u', b'U', s).any(|i| {
            s.get(i..i + 5)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"union"))
        })
}

struct Shapes<'a> {
    s: &'a [u8],
    start: Start,
    /// Tokens without comments.
    code: Vec<Tok>,
    /// Whether a comment directly follows `code[i]`.
    comment_after: Vec<bool>,
}

impl<'a> Shapes<'a> {
    fn new(s: &'a [u8], start: Start) -> Self {
        // Comments are dropped in place: one token buffer, no copy.
        let mut code = lex::tokenize(s, start);
        let mut comment_after = vec![false; code.len()];
        if code.iter().any(|t| t.kind == Tk::Comment) {
            let mut w = 0;
            for r in 0..code.len() {
                if code[r].kind == Tk::Comment {
                    if w > 0 {
                        comment_after[w - 1] = true;
                    }
                } else {
                    code[w] = code[r];
                    comment_after[w] = false;
                    w += 1;
                }
            }
            code.truncate(w);
            comment_after.truncate(w);
        }
        Shapes {
            s,
            start,
            code,
            comment_after,
        }
    }

    fn kind(&self, i: usize) -> Option<Tk> {
        self.code.get(i).map(|t| t.kind)
    }

    fn text(&self, i: usize) -> &[u8] {
        self.code
            .get(i)
            .map_or(&[][..], |t| &self.s[t.start..t.end])
    }

    fn span(&self, from: usize, to: usize) -> Range<usize> {
        let last = to.min(self.code.len().saturating_sub(1));
        let start = self.code.get(from).map_or(0, |t| t.start);
        let end = self.code.get(last).map_or(self.s.len(), |t| t.end);
        start..end.max(start)
    }

    /// Whether `code[i]` is the string the application opened (quote contexts only).
    fn is_break(&self, i: usize) -> bool {
        i == 0
            && matches!(self.start, Start::Inside(_) | Start::Escaped(_))
            && self.kind(0) == Some(Tk::Str { closed: true })
    }

    /// Whether position `i` ends the fragment: end of input, a comment or a `;` follows.
    fn ends_at(&self, i: usize) -> bool {
        i >= self.code.len()
            || self.kind(i) == Some(Tk::Semi)
            || (i > 0 && self.comment_after[i - 1])
    }

    fn find(&self) -> Option<Range<usize>> {
        if self.is_break(0) && !self.quoted_word() && !self.apostrophe() {
            let mut j = 1;
            while self.kind(j) == Some(Tk::RParen) {
                j += 1;
            }
            // `admin'--`, `x');--`: the string is closed and the rest commented out.
            // "use struct bfd_section";` closes a sentence of code, not a value.
            if (self.comment_after[j - 1]
                && !self.quoted_comment(j - 1)
                && !self.quoted_word_in_prose(j - 1))
                || (self.kind(j) == Some(Tk::Semi) && self.ends_at(j + 1) && !self.prose_prefix())
            {
                return Some(self.span(0, j));
            }
            // `') or true--`: a constant condition closing the value after the break.
            if self.kind(j) == Some(Tk::Logic)
                && let Some((end, true)) = self.operand(j + 1)
                && self.ends_at(end)
                && self.sound_tail(j + 1)
            {
                return Some(self.span(0, end - 1));
            }
            // `foo')waitfor delay '0:0:5'--`: a statement right after the break.
            if self.statement(j) && !self.quoted_statement(j) {
                return Some(self.span(0, j + 2));
            }
            // `x'+sleep(20.to_i)+'` (or `x' sleep(...)` once `+` is a space): a time/error
            // function glued to the break.
            // After prose (`print "sleep(%s) called"`) the call must look like SQL too.
            let f = j + usize::from(matches!(self.kind(j), Some(Tk::Arith | Tk::Logic)));
            if self.kind(f) == Some(Tk::Func)
                && STRONG_FUNCS.contains(&self.text(f))
                && (!self.prose_prefix() || self.args_look_like_sql(f, false))
            {
                return Some(self.span(0, f));
            }
            // `'='`, `x'='x`: the broken-out string compared with one the application's
            // closing quote ends.
            if j == 1
                && self.text(1) == b"="
                && self.kind(2) == Some(Tk::Str { closed: false })
                && self.code.len() == 3
                && !self.text(2).iter().any(u8::is_ascii_whitespace)
            {
                return Some(self.span(0, 2));
            }
            // `x'|email--`, `id'not like id--`: a short expression commented out to the end.
            if let Some(end) = self.commented_tail(j) {
                return Some(self.span(0, end));
            }
            // `'union a`, `" alter x`: a value opening with a quote straight into a statement
            // keyword, with no closing quote after it (`'Union Square'` is a quoted name).
            if self.keyword_after_opening_quote(j) {
                return Some(self.span(0, j));
            }
            if let Some(span) = self
                .reopened_condition()
                .or_else(|| self.reopened_constant())
            {
                return Some(span);
            }
        }
        if self.start == Start::Code && self.statement(0) {
            return Some(self.span(0, 3));
        }
        if let Some(span) = self.closing_comparison() {
            return Some(span);
        }
        (0..self.code.len()).find_map(|k| self.shape_at(k))
    }

    fn shape_at(&self, k: usize) -> Option<Range<usize>> {
        let kind = self.kind(k)?;
        match kind {
            Tk::Kw(Kw::Union) => {
                // `24'union+all+select` in a path: after a string break, a `+` stands for the
                // space a query string would have decoded it to.
                let plus = k > 0 && self.is_break(k - 1);
                let mut j = k + 1;
                while matches!(
                    self.kind(j),
                    Some(Tk::Kw(Kw::All | Kw::Distinct) | Tk::LParen)
                ) || (plus && self.text(j) == b"+")
                {
                    j += 1;
                }
                (self.kind(j) == Some(Tk::Kw(Kw::Select)) && !self.named_in_sentence(k, j))
                    .then(|| self.span(k, j))
            }
            // `Ballon d'Or 2026`: the apostrophe glues an elided article to a noun.
            Tk::Logic if k == 1 && self.apostrophe() => None,
            Tk::Logic => self.tautology(k),
            Tk::Semi => self.statement(k + 1).then(|| self.span(k, k + 3)),
            Tk::Func => self.dangerous_call(k),
            Tk::LParen => (self.kind(k + 1) == Some(Tk::Kw(Kw::Select)) && self.select_list(k + 1))
                .then(|| self.span(k, k + 3)),
            Tk::Kw(Kw::Into) => {
                (self.kind(k + 1) == Some(Tk::Kw(Kw::Outfile))).then(|| self.span(k, k + 2))
            }
            Tk::Kw(Kw::Procedure) => {
                (self.kind(k + 1) == Some(Tk::Func)).then(|| self.span(k, k + 1))
            }
            // `group by x having 1=1`: only an injection probes with a constant condition,
            // or with its first half (`having 1=`).
            Tk::Kw(Kw::Having) => {
                let (j, lit1) = self.operand(k + 1)?;
                if lit1 && self.kind(j) == Some(Tk::Cmp) && self.ends_at(j + 1) {
                    return Some(self.span(k, j));
                }
                let (j2, lit2) = self.operand(j + 1)?;
                // "having 1=1 moments all day" goes on as prose.
                (lit1 && lit2 && self.kind(j) == Some(Tk::Cmp) && !self.words_in_a_row(j2))
                    .then(|| self.span(k, j2 - 1))
            }
            // `waitfor delay '0:0:5'` is T-SQL wherever it stands: the word is no English.
            Tk::Kw(Kw::Waitfor) => (self.kind(k + 1) == Some(Tk::Kw(Kw::Delay))
                && matches!(self.kind(k + 2), Some(Tk::Str { .. })))
            .then(|| self.span(k, k + 2)),
            // `@@version`, not `dlopen@@GLIBC_2.2.5` (a symbol version) nor `@@NAME@@` (a
            // template placeholder).
            Tk::Var
                if self.text(k).starts_with(b"@@")
                    && self.text(k).len() > 3
                    && !self.glued_var(k) =>
            {
                Some(self.span(k, k))
            }
            Tk::Str { closed: true } | Tk::Num => {
                self.probe_after(k).or_else(|| self.literal_comparison(k))
            }
            Tk::RParen => self.probe_after(k),
            _ => None,
        }
    }

    /// `1 or 1=1`, `' or 'a'='a`, `') or ('x'='x`, `' or 1--`, `' and if(1=1,...)`.
    fn tautology(&self, k: usize) -> Option<Range<usize>> {
        // `name=AND 1=1` sent as one parameter name, or `/OR 1=1` as a path segment, opens
        // with the operator too.
        let opener = k == 0
            || (k == 2 && self.kind(0) == Some(Tk::Ident) && self.text(1) == b"=")
            || (self.kind(k - 1) == Some(Tk::Arith) && self.text(k - 1) == b"/");
        if opener {
            // `or 1=1`, `or name = 'x'`: the value opens with the operator (the application
            // wrote the rest).
            let op = self.text(k);
            if op != b"!"
                && self.kind(k + 1) == Some(Tk::LParen)
                && let Some(end) = self.grouped_comparison(k + 2, matches!(op, b"||" | b"&&"))
            {
                return Some(self.span(k, end));
            }
            let (j, lit1) = self.operand(k + 1)?;
            // `or 1#`: a constant condition commented out.
            if lit1 && self.comment_after.get(j - 1) == Some(&true) && op != b"!" {
                return Some(self.span(k, j - 1));
            }
            // `xor 2 <`, `or 'a' >`, `&& setPath !=`: the same, cut short after the comparison.
            // `or pmw==`, `and backend_layout!=`: a two-sign comparison is no prose either.
            let symbolic = matches!(op, b"||" | b"&&" | b"xor")
                || matches!(self.text(j), b"==" | b"!=" | b"<>" | b">=" | b"<=");
            if (lit1 || symbolic)
                && matches!(self.kind(j), Some(Tk::Cmp))
                && j + 1 == self.code.len()
                && op != b"!"
            {
                return Some(self.span(k, j));
            }
            let (j2, lit2) = self.operand(j + 1)?;
            // `and found != 0 at line 9` goes on as prose after the comparison.
            // A column (not a literal) on the left: "and libstdc++ >= 6.0.25 (...). These
            // are available" goes on as prose anywhere after.
            let prose = (self.kind(j2) == Some(Tk::Ident)
                && matches!(self.kind(j2 + 1), Some(Tk::Ident | Tk::Num)))
                || (!lit1 && self.words_in_a_row(j2));
            return ((lit1 || lit2)
                && self.kind(j) == Some(Tk::Cmp)
                && self.sql_rhs(j)
                && !prose
                && op != b"!")
                .then(|| self.span(k, j2 - 1));
        }
        // `!` is unary: `case '!'` and `"!" or` quote a character, they join nothing; only a
        // value that is nothing else (`"!"`) probes with it.
        if self.text(k) == b"!" && !(k == 1 && self.opening().is_some_and(|o| o.2.is_empty())) {
            return None;
        }
        let prev = self.kind(k - 1)?;
        let strong_prev = matches!(prev, Tk::Str { closed: true } | Tk::Num | Tk::RParen);
        if !strong_prev && prev != Tk::Ident {
            return None;
        }
        // `1='1' or-- -`: a comparison of literals whose operator dangles into a comment.
        if strong_prev
            && self.comment_after[k]
            && k >= 3
            && self.kind(k - 2) == Some(Tk::Cmp)
            && matches!(self.kind(k - 3), Some(Tk::Num | Tk::Str { closed: true }))
        {
            return Some(self.span(k - 3, k));
        }
        let mut j = k + 1;
        while matches!(self.kind(j), Some(Tk::Kw(Kw::Not) | Tk::Logic)) {
            j += 1;
        }
        let open = j;
        while self.kind(j) == Some(Tk::LParen) {
            j += 1;
        }
        let (mut j2, mut lit1) = self.operand(j)?;
        // `or (1=1)` groups the comparison, `or (1)=(1)` each operand.
        if j > open
            && lit1
            && self.kind(j2) != Some(Tk::Cmp)
            && let Some((e, lit)) = self.operand(open)
            && self.kind(e) == Some(Tk::Cmp)
        {
            (j2, lit1) = (e, lit);
        }
        if matches!(self.kind(j2), Some(Tk::Cmp)) {
            if !self.sql_rhs(j2) {
                return None;
            }
            let (j3, lit2) = self.operand(j2 + 1)?;
            // `len(a) == 0 or len(b) == 0`, `(x > 0) || (y == 0)`: `==` is C, Python or
            // JavaScript unless the value breaks out of a string or opens with the literal.
            if k > 1 && !self.is_break(k - 1) && (self.c_equals() || self.arithmetic(k, j2)) {
                return None;
            }
            // A column compared with a literal (`20 and rating >= 4`) reads as prose unless
            // the value opens with it or breaks out of a string first.
            // A `)` anchors it when it closes what the application opened, not a group the
            // value opened itself (`(type:a OR type:b) AND year > 2000`, a search filter).
            let anchored = k == 1
                || self.is_break(k - 1)
                || (prev == Tk::RParen && !self.closes_own_group(k - 1));
            // "sb=0 and sb=1. Value coverage is complete" goes on as prose after a column.
            if (lit1 && lit2 && (strong_prev || prev == Tk::Ident))
                || ((lit1 || lit2) && strong_prev && anchored && !self.words_in_a_row(j3))
            {
                return Some(self.span(k - 1, j3 - 1));
            }
            return None;
        }
        if !strong_prev {
            return None;
        }
        // `1 or true`, `7 and null`: a constant truth value closing the value.
        if k == 1
            && matches!(self.kind(j), Some(Tk::Kw(Kw::Bool | Kw::Null)))
            && self.ends_at(j + 1)
        {
            return Some(self.span(0, j));
        }
        // A call doing SQL work (`if(1=1,...)`, `ascii(substr(...))`) after the operator.
        if self.kind(j) == Some(Tk::Func)
            && self.args_look_like_sql(j, true)
            && self.call_does_work(j)
        {
            return Some(self.span(k - 1, j2 - 1));
        }
        // `' or 1--`, `' or true#`, `' or 'x` (the application supplies the last quote).
        let unclosed_tail =
            self.kind(j) == Some(Tk::Str { closed: false }) && j2 >= self.code.len();
        if self.is_break(k - 1) && lit1 && (self.ends_at(j2) || unclosed_tail) && self.sound_tail(j)
        {
            return Some(self.span(k - 1, j2 - 1));
        }
        None
    }

    /// Whether the `)` at `code[k]` closes a `(` opened earlier in the value.
    fn closes_own_group(&self, k: usize) -> bool {
        let depth = self.code[..k].iter().fold(0i32, |d, t| match t.kind {
            Tk::LParen => d + 1,
            Tk::RParen => d - 1,
            _ => d,
        });
        depth > 0
    }

    /// One operand, arithmetic included (`3*2`): the index after it and whether it is
    /// made of literals or calls only.
    fn operand(&self, j: usize) -> Option<(usize, bool)> {
        let (mut end, mut lit) = self.term(j)?;
        for _ in 0..8 {
            if self.kind(end) != Some(Tk::Arith) {
                break;
            }
            let Some((next, next_lit)) = self.term(end + 1) else {
                break;
            };
            end = next;
            lit &= next_lit;
        }
        Some((end, lit))
    }

    /// One term: returns the index after it and whether it is a literal or call.
    fn term(&self, mut j: usize) -> Option<(usize, bool)> {
        while matches!(self.kind(j), Some(Tk::Arith | Tk::Kw(Kw::Not)))
            || (self.kind(j) == Some(Tk::Logic) && self.text(j) == b"!")
        {
            j += 1;
        }
        match self.kind(j)? {
            Tk::Str { .. } | Tk::Num | Tk::Var | Tk::Kw(Kw::Null | Kw::Bool) => Some((j + 1, true)),
            Tk::Ident => {
                let mut e = j + 1;
                while self.kind(e) == Some(Tk::Dot) && matches!(self.kind(e + 1), Some(Tk::Ident)) {
                    e += 2;
                }
                Some((e, false))
            }
            Tk::Func => Some((self.skip_group(j + 1), true)),
            Tk::LParen => Some((self.skip_group(j), true)),
            _ => None,
        }
    }

    /// Index after the parenthesised group opening at `j`.
    fn skip_group(&self, j: usize) -> usize {
        let mut depth = 0usize;
        let mut i = j;
        while let Some(k) = self.kind(i) {
            match k {
                Tk::LParen => depth += 1,
                Tk::RParen => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        i
    }

    /// A statement starting at `j`, shaped like SQL and not like prose.
    fn statement(&self, j: usize) -> bool {
        let next = self.kind(j + 1);
        match self.kind(j) {
            Some(Tk::Kw(Kw::Select)) => self.select_list(j),
            Some(Tk::Kw(Kw::Insert)) => next == Some(Tk::Kw(Kw::Into)) && self.insert_target(j + 2),
            Some(Tk::Kw(Kw::Update)) => {
                next == Some(Tk::Ident) && self.kind(j + 2) == Some(Tk::Kw(Kw::Set))
            }
            Some(Tk::Kw(Kw::Delete)) => next == Some(Tk::Kw(Kw::From)),
            // `drop table x`, `drop/**/x`, `drop x;--`; `"drop table" sounded scary` quotes
            // the words with no name to act on.
            // "Drop Table Leaf Hinge, Brass": a product named with two more words, which no
            // `drop` or `truncate` takes (only `cascade`, `restrict` or `purge` follow a name).
            Some(Tk::Kw(Kw::Drop | Kw::Create | Kw::Alter | Kw::Truncate)) => {
                next == Some(Tk::Kw(Kw::Object))
                    && !matches!(self.kind(j + 2), None | Some(Tk::Str { .. }))
                    && !(matches!(self.kind(j), Some(Tk::Kw(Kw::Drop | Kw::Truncate)))
                        && self.kind(j + 2) == Some(Tk::Ident)
                        && self.kind(j + 3) == Some(Tk::Ident)
                        && !self.comment_after[j + 2]
                        && !matches!(
                            self.text(j + 3).to_ascii_lowercase().as_slice(),
                            b"cascade" | b"restrict" | b"purge"
                        ))
                    || (next == Some(Tk::Ident)
                        && (self.comment_after[j]
                            || (self.kind(j + 2) == Some(Tk::Semi) && self.ends_at(j + 3))))
            }
            Some(Tk::Kw(Kw::Exec)) => {
                let name = self.text(j + 1);
                // `exec (` alone is a fragment of prose or code, not a call.
                // `exec('x')`, `exec(@sql)`, `exec (@` cut short; "Exec (1) or case (2)?"
                // enumerates.
                matches!(next, Some(Tk::Var | Tk::Str { .. }))
                    || (next == Some(Tk::LParen)
                        && (matches!(self.kind(j + 2), Some(Tk::Var | Tk::Str { .. }))
                            || self.text(j + 2) == b"@"))
                    || name.starts_with(b"xp_")
                    || name.starts_with(b"sp_")
                    || name.starts_with(b"master")
            }
            Some(Tk::Kw(Kw::Declare | Kw::Set)) => next == Some(Tk::Var),
            Some(Tk::Kw(Kw::Waitfor)) => next == Some(Tk::Kw(Kw::Delay)),
            // SQLite's `attach database '\\host\share\x.db' as x`: a file or a share
            // opened as a database.
            Some(Tk::Kw(Kw::Attach)) => {
                next == Some(Tk::Kw(Kw::Object)) && matches!(self.kind(j + 2), Some(Tk::Str { .. }))
            }
            // "shutdown #1326 (closed)" cites an issue.
            Some(Tk::Kw(Kw::Shutdown)) => self.ends_at(j + 1) && !self.issue_reference(j),
            _ => false,
        }
    }

    /// `select` followed by an expression list (not two bare words in a row, as in prose),
    /// ending in `from <name>`, the end, a comment or a closing parenthesis.
    fn select_list(&self, j: usize) -> bool {
        let mut k = j + 1;
        while matches!(self.kind(k), Some(Tk::Kw(Kw::Distinct | Kw::All | Kw::Top))) {
            k += 1;
        }
        // `select()`, `(select(), poll())`: the system call; SQL selects something.
        if self.kind(k) == Some(Tk::LParen) && self.kind(k + 1) == Some(Tk::RParen) {
            return false;
        }
        let (mut items, mut sqlish, mut prev_ident) = (0, false, false);
        loop {
            let Some(kind) = self.kind(k) else {
                return items > 0 && sqlish;
            };
            match kind {
                Tk::Ident => {
                    if prev_ident {
                        return false;
                    }
                    prev_ident = true;
                    items += 1;
                }
                // `SELECT-Pro 3000 Vacuum`: a word then a number is no alias, it is a name.
                Tk::Num if prev_ident => return false,
                Tk::Str { .. } | Tk::Num | Tk::Var | Tk::Kw(Kw::Null | Kw::Bool) => {
                    sqlish = true;
                    prev_ident = false;
                    items += 1;
                }
                // `Select plan type (monthly)`: a word then a call is two words in a row.
                Tk::Func if prev_ident => return false,
                Tk::Func | Tk::LParen => {
                    sqlish = true;
                    prev_ident = false;
                    items += 1;
                    k = self.skip_group(if kind == Tk::Func { k + 1 } else { k });
                    continue;
                }
                Tk::Arith if self.text(k) == b"*" => {
                    sqlish = true;
                    prev_ident = false;
                    items += 1;
                }
                Tk::Comma | Tk::Dot | Tk::Arith | Tk::Cmp => prev_ident = false,
                // `(select case when x=1 then 0 else 1 end)`: a conditional, as blind
                // injections into an ORDER BY or OFFSET probe with.
                Tk::Kw(Kw::Case) if self.text(k + 1).eq_ignore_ascii_case(b"when") => {
                    let Some(end) = self.case_end(k + 2) else {
                        return false;
                    };
                    sqlish = true;
                    prev_ident = false;
                    items += 1;
                    k = end + 1;
                    continue;
                }
                Tk::Kw(Kw::As) => {
                    k += 2;
                    prev_ident = false;
                    continue;
                }
                Tk::Kw(Kw::From) => {
                    // `in (select * from` cut short: nothing but SQL writes that.
                    let table = matches!(
                        self.kind(k + 1),
                        Some(Tk::Ident | Tk::LParen | Tk::Kw(Kw::Object))
                    ) || (sqlish && self.kind(k + 1).is_none() && !self.prose_prefix());
                    let more = matches!(
                        self.kind(k + 2),
                        Some(
                            Tk::Kw(Kw::Where | Kw::Limit | Kw::Order | Kw::Group | Kw::Union)
                                | Tk::Dot
                                | Tk::Semi
                        )
                    ) || self.comment_after.get(k + 1) == Some(&true);
                    return items > 0 && table && (sqlish || more || items > 1);
                }
                Tk::RParen | Tk::Semi | Tk::Kw(Kw::Union | Kw::Where | Kw::Limit | Kw::Into) => {
                    return items > 0 && sqlish;
                }
                _ => return false,
            }
            if self.comment_after[k] {
                // `select/**/password/**/from/**/users`: comments standing in for spaces.
                if self.kind(k + 1) != Some(Tk::Kw(Kw::From)) {
                    return items > 0 && sqlish;
                }
                sqlish = true;
            }
            k += 1;
        }
    }

    /// The `end` closing a `case when` whose `when` is before `k`, with a `then` on the way.
    fn case_end(&self, k: usize) -> Option<usize> {
        let then = (k..self.code.len()).find(|&i| self.text(i).eq_ignore_ascii_case(b"then"))?;
        (then + 1..self.code.len()).find(|&i| self.text(i).eq_ignore_ascii_case(b"end"))
    }

    /// `sleep(5)`, `benchmark(1e7,md5(1))`, `extractvalue(1,concat(...))`.
    fn dangerous_call(&self, k: usize) -> Option<Range<usize>> {
        let name = self.text(k);
        if !STRONG_FUNCS.contains(&name) {
            return None;
        }
        if name == b"exp" && self.text(k + 2) != b"~" {
            return None;
        }
        // `time.sleep(2 ** attempt)`, `Thread.sleep(500)`: a language's clock in a code
        // snippet; a database's is qualified by its package (`dbms_lock.sleep(5)`).
        if name == b"sleep"
            && self.kind(k.wrapping_sub(1)) == Some(Tk::Dot)
            && CODE_CLOCKS.contains(&self.text(k.wrapping_sub(2)))
        {
            return None;
        }
        self.args_look_like_sql(k, false)
            .then(|| self.span(k, self.skip_group(k + 1) - 1))
    }

    /// Arguments made of literals, calls and operators, with no two words in a row
    /// ("sleep(8 hours)" is prose). `demand_work` also requires a comparison, a nested
    /// call or a subquery inside.
    fn args_look_like_sql(&self, k: usize, demand_work: bool) -> bool {
        if self.kind(k + 1) != Some(Tk::LParen) {
            return false;
        }
        let end = self.skip_group(k + 1);
        let (mut literal, mut work, mut prev_word) = (false, false, false);
        for i in k + 2..end.saturating_sub(1) {
            let kind = self.code[i].kind;
            let word = matches!(kind, Tk::Ident | Tk::Num | Tk::Kw(_));
            if word
                && prev_word
                && kind != Tk::Kw(Kw::From)
                && self.kind(i - 1) != Some(Tk::Kw(Kw::From))
            {
                return false;
            }
            prev_word = word && !matches!(kind, Tk::Kw(Kw::Select));
            literal |= matches!(
                kind,
                Tk::Num | Tk::Str { .. } | Tk::Func | Tk::Var | Tk::Kw(Kw::Select)
            );
            work |= matches!(kind, Tk::Cmp | Tk::Func | Tk::Kw(Kw::Select) | Tk::Var);
        }
        literal && (!demand_work || work)
    }

    /// After a closed string, a number or `)`: `order by 5--`, `having 1=1`.
    fn probe_after(&self, k: usize) -> Option<Range<usize>> {
        match self.kind(k + 1)? {
            Tk::Kw(Kw::Order | Kw::Group) if self.kind(k + 2) == Some(Tk::Kw(Kw::By)) => {
                let ok =
                    matches!(self.kind(k + 3), Some(Tk::Num | Tk::Ident)) && self.ends_at(k + 4);
                (ok && (self.is_break(k) || self.kind(k) == Some(Tk::Num)))
                    .then(|| self.span(k, k + 3))
            }
            Tk::Kw(Kw::Having) => {
                let (j, lit) = self.operand(k + 2)?;
                (lit && self.kind(j) == Some(Tk::Cmp)).then(|| self.span(k, j + 1))
            }
            _ => None,
        }
    }
}

//! A small SQL tokenizer in the spirit of libinjection: it knows enough of the dialects
//! (MySQL, PostgreSQL, MSSQL, Oracle, SQLite) to see the shape of a fragment, not to
//! parse it. Input must be ASCII-lowercased already; spans index into it.

/// Keywords that matter for injection shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kw {
    Union,
    Select,
    From,
    Where,
    Insert,
    Into,
    Update,
    Set,
    Delete,
    Drop,
    Create,
    Alter,
    Truncate,
    Exec,
    Declare,
    Waitfor,
    Delay,
    Shutdown,
    Order,
    Group,
    By,
    Having,
    Limit,
    Null,
    Bool,
    As,
    All,
    Distinct,
    Top,
    Not,
    Outfile,
    Procedure,
    Case,
    Object,
    Attach,
}

/// Token classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tk {
    Str {
        closed: bool,
    },
    Num,
    Kw(Kw),
    Ident,
    /// An identifier directly followed by `(`.
    Func,
    /// `@name` or `@@name`.
    Var,
    /// `and`, `or`, `xor`, `&&`, `||`.
    Logic,
    /// `=`, `<>`, `like`, `in`, `is`...
    Cmp,
    /// `+ - * / % & | ^ ~ div mod`.
    Arith,
    LParen,
    RParen,
    Comma,
    Semi,
    Dot,
    Comment,
    Other,
}

/// A token and its byte span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tok {
    pub(crate) kind: Tk,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Where the fragment starts: as code, or inside a string opened by the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    Code,
    Inside(u8),
    /// Inside a string whose first quote ends it even behind a backslash: `x\' or 1=1`
    /// breaks out where the application escapes the quote but not the backslash.
    Escaped(u8),
}

/// Whether `s` holds what some shape of the detector needs, so that tokenising it (once
/// as code, once per quote) can find anything: a word the lexer reads as `and`/`or`/`xor`
/// or as a keyword a shape starts from ([`gate_keyword`]), a call of one of `funcs`, `||`,
/// `&&`, `!` or `@@`, a comparison sign right after a literal; with a quote also what
/// follows a string break (a comment, `;`, a `union`). Non-ASCII values pass (typographic
/// quotes are folded later). A shape added to the detector must add what it needs here:
/// the `may_shape` tests in this file compare the gate with the ungated shapes.
pub(super) fn may_shape(s: &[u8], funcs: &[&[u8]]) -> bool {
    if !s.is_ascii() {
        return true;
    }
    let quoted = memchr::memchr2(b'\'', b'"', s).is_some();
    // `) like (`: a value closing the application's group (see `closing_comparison`).
    if s.trim_ascii_start().first() == Some(&b')') {
        return true;
    }
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let class = GATE_CLASSES[usize::from(c)];
        if class & GATE_IDENT != 0 {
            // A word token starts where an identifier run starts: every other token ends
            // where an identifier byte could not continue it (a number runs on into the
            // letters glued to it). Inside a run only after the digits skipped behind a
            // `/*!`.
            let start = i;
            while i < s.len() && GATE_CLASSES[usize::from(s[i])] & GATE_IDENT != 0 {
                i += 1;
            }
            let w = &s[start..i];
            let inner = match start.checked_sub(1).map(|p| s[p]) {
                Some(b'!') => w.get(w.iter().take_while(|b| b.is_ascii_digit()).count()..),
                _ => None,
            };
            if inner.is_none() && (w.len() < 2 || !c.is_ascii_alphabetic()) {
                continue;
            }
            // As in `word`: a call is a name followed by `(`, whitespace between.
            let call = s[i..]
                .iter()
                .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                == Some(&b'(');
            let gate = |w: &[u8]| gate_word(w, quoted, call.then_some(funcs));
            if gate(w) || inner.is_some_and(gate) {
                return true;
            }
            continue;
        }
        if class & GATE_PUNCT != 0 {
            let next = s.get(i + 1).copied();
            let hit = match c {
                b'|' | b'&' => next == Some(c),
                b'@' => next == Some(b'@'),
                b';' | b'#' => quoted,
                b'-' => quoted && next == Some(b'-'),
                // `dr/**/op`: a comment splitting a keyword (see `word`).
                b'/' => {
                    next == Some(b'*')
                        && (quoted || i.checked_sub(1).is_some_and(|p| s[p].is_ascii_alphabetic()))
                }
                // A comparison right after a literal (`,1=1`, `'a' < 'b' = 7`): what
                // `literal_comparison` needs; a comment may stand between.
                b'=' | b'<' | b'>' => s[..i]
                    .trim_ascii_end()
                    .last()
                    .is_some_and(|p| p.is_ascii_digit() || matches!(p, b'\'' | b'"' | b'.' | b'/')),
                // `!`
                _ => true,
            };
            if hit {
                return true;
            }
        }
        i += 1;
    }
    false
}

/// [`GATE_CLASSES`] bit: a byte [`ident_len`] counts.
const GATE_IDENT: u8 = 1;
/// [`GATE_CLASSES`] bit: punctuation [`may_shape`] looks at.
const GATE_PUNCT: u8 = 2;

/// Per byte, the classes [`may_shape`] tells apart in its one pass.
static GATE_CLASSES: [u8; 256] = gate_classes();

const fn gate_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80 {
            t[i] = GATE_IDENT;
        }
        if matches!(
            b,
            b'|' | b'&' | b'!' | b'@' | b';' | b'#' | b'-' | b'/' | b'=' | b'<' | b'>'
        ) {
            t[i] = GATE_PUNCT;
        }
        i += 1;
    }
    t
}

/// Longest word [`gate_word`] looks up: every keyword and function name is shorter.
const GATE_WORD_MAX: usize = 32;

/// Whether `w` (any case) is a logical operator, a keyword of [`gate_keyword`] (or, after
/// a quote, a `union`), or (when it is called) a function of `funcs`: shapes only look
/// for those functions in call tokens.
fn gate_word(w: &[u8], quoted: bool, funcs: Option<&[&[u8]]>) -> bool {
    if w.len() < 2 || !w[0].is_ascii_alphabetic() {
        return false;
    }
    let mut buf = [0u8; GATE_WORD_MAX];
    let Some(lower) = buf.get_mut(..w.len()) else {
        return false;
    };
    lower.copy_from_slice(w);
    lower.make_ascii_lowercase();
    let lower = &*lower;
    match keyword(lower) {
        Some(Tk::Logic) => return true,
        Some(Tk::Kw(k)) if gate_keyword(k) || (quoted && k == Kw::Union) => return true,
        _ => {}
    }
    funcs.is_some_and(|f| f.contains(&lower))
}

/// Keywords a shape starts from or needs: statements (alone, after `;` or a string break),
/// `select` (also what `union` needs), `into outfile`, `procedure`, `having`, `order by`
/// and `group by` probes.
fn gate_keyword(k: Kw) -> bool {
    use Kw::*;
    matches!(
        k,
        Select
            | Insert
            | Update
            | Delete
            | Drop
            | Create
            | Alter
            | Truncate
            | Exec
            | Declare
            | Set
            | Waitfor
            | Shutdown
            | Attach
            | Outfile
            | Procedure
            | Having
            | Order
            | Group
    )
}

/// Tokens past this count are ignored: injections are short and CPU must stay bounded.
const MAX_TOKENS: usize = 4096;

/// Tokenizes `s` (lowercase).
pub(crate) fn tokenize(s: &[u8], start: Start) -> Vec<Tok> {
    // Prose runs about one token per 3-5 bytes: sized once instead of grown push by push.
    let mut toks = Vec::with_capacity((s.len() / 3 + 4).min(MAX_TOKENS));
    // Where the last `*/` starts: a `/*` after it is never closed (see `glob`).
    let last_close = memchr::memmem::rfind(s, b"*/");
    let mut i = 0;
    let opened = match start {
        Start::Code => None,
        Start::Inside(q) => Some(string_end(s, 0, q)),
        Start::Escaped(q) => Some(find_from(s, 0, q).map_or((s.len(), false), |e| (e + 1, true))),
    };
    if let Some((end, closed)) = opened {
        toks.push(Tok {
            kind: Tk::Str { closed },
            start: 0,
            end,
        });
        i = end;
    }
    while i < s.len() && toks.len() < MAX_TOKENS {
        let c = s[i];
        let (kind, end) = match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0 => {
                i += 1;
                continue;
            }
            b'\'' | b'"' => {
                let (end, closed) = string_end(s, i + 1, c);
                (Tk::Str { closed }, end)
            }
            b'`' => (
                Tk::Ident,
                find_from(s, i + 1, b'`').map_or(s.len(), |e| e + 1),
            ),
            b'0'..=b'9' => number(s, i),
            b'.' if s.get(i + 1).is_some_and(u8::is_ascii_digit) => number(s, i),
            b'a'..=b'z' | b'_' | b'$' | 0x80..=0xff => word(s, i),
            b'@' => {
                let mut e = i + 1;
                while e < s.len() && s[e] == b'@' {
                    e += 1;
                }
                let name_end = e + ident_len(&s[e..]);
                // A bare `@` (`dereference (@)`, `user @ host`) names nothing.
                (
                    if name_end > e || e > i + 1 {
                        Tk::Var
                    } else {
                        Tk::Other
                    },
                    name_end,
                )
            }
            // `--disk-size-gb=10`, `"--report-uncaught-exception`: a command-line option.
            b'-' if s.get(i + 1) == Some(&b'-') && long_option(&s[i + 2..]) => (Tk::Other, i + 2),
            b'-' if s.get(i + 1) == Some(&b'-') => (Tk::Comment, line_end(s, i)),
            b'#' => (Tk::Comment, line_end(s, i)),
            b'/' if s.get(i + 1) == Some(&b'*') && glob(s, i, last_close) => (Tk::Arith, i + 1),
            b'/' if s.get(i + 1) == Some(&b'*') => {
                if s.get(i + 2) == Some(&b'!') {
                    // MySQL executable comment: its content is code.
                    let mut e = i + 3;
                    while e < s.len() && s[e].is_ascii_digit() {
                        e += 1;
                    }
                    i = e;
                    continue;
                }
                let end = find_pair(s, i + 2, b"*/").map_or(s.len(), |e| e + 2);
                (Tk::Comment, end)
            }
            b'*' if s.get(i + 1) == Some(&b'/') => {
                i += 2;
                continue;
            }
            b'(' => (Tk::LParen, i + 1),
            b')' => (Tk::RParen, i + 1),
            b',' => (Tk::Comma, i + 1),
            b';' => (Tk::Semi, i + 1),
            b'.' => (Tk::Dot, i + 1),
            b'|' if s.get(i + 1) == Some(&b'|') => (Tk::Logic, i + 2),
            b'&' if s.get(i + 1) == Some(&b'&') => (Tk::Logic, i + 2),
            // `</li>`: a closing tag, not a comparison.
            b'<' if s.get(i + 1) == Some(&b'/')
                && s.get(i + 2).is_some_and(u8::is_ascii_alphabetic) =>
            {
                (Tk::Other, i + 2)
            }
            b'=' | b'<' | b'>' | b'!' | b':' => {
                let mut e = i + 1;
                while e < s.len() && matches!(s[e], b'=' | b'<' | b'>' | b'!') && e < i + 3 {
                    e += 1;
                }
                match &s[i..e] {
                    b"!" => (Tk::Logic, e),
                    b":" => (Tk::Other, e),
                    _ => (Tk::Cmp, e),
                }
            }
            // JSON operators compare like `=`: `'{"a":1}' -> '$.a' = 1`, `'{}' ?| array[...]`.
            b'-' if s.get(i + 1) == Some(&b'>') => {
                (Tk::Cmp, i + 2 + usize::from(s.get(i + 2) == Some(&b'>')))
            }
            b'?' if matches!(s.get(i + 1), Some(b'|' | b'&')) => (Tk::Cmp, i + 2),
            b'?' if s[..i].trim_ascii_end().last() == Some(&b'\'') => (Tk::Cmp, i + 1),
            b'+' | b'-' | b'*' | b'/' | b'%' | b'&' | b'|' | b'^' | b'~' => (Tk::Arith, i + 1),
            _ => (Tk::Other, i + 1),
        };
        toks.push(Tok {
            kind,
            start: i,
            end,
        });
        i = end.max(i + 1);
    }
    toks
}

/// End of a string starting at `from` (after the opening quote `q`): a doubled quote or a
/// backslash escapes it.
fn string_end(s: &[u8], from: usize, q: u8) -> (usize, bool) {
    let mut i = from;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            c if c == q => {
                if s.get(i + 1) == Some(&q) {
                    i += 2;
                } else {
                    return (i + 1, true);
                }
            }
            _ => i += 1,
        }
    }
    (s.len(), false)
}

fn number(s: &[u8], i: usize) -> (Tk, usize) {
    let mut e = i;
    if s[i] == b'0' && matches!(s.get(i + 1), Some(b'x' | b'b')) {
        e += 2;
        while e < s.len() && s[e].is_ascii_hexdigit() {
            e += 1;
        }
    } else {
        while e < s.len() && (s[e].is_ascii_digit() || s[e] == b'.') {
            e += 1;
        }
        if e < s.len()
            && s[e] == b'e'
            && s.get(e + 1)
                .is_some_and(|c| c.is_ascii_digit() || *c == b'-' || *c == b'+')
        {
            e += 2;
            while e < s.len() && s[e].is_ascii_digit() {
                e += 1;
            }
        }
    }
    // `1st`, `2x4`: letters glued to digits make a word, not a number. MySQL ends a
    // number with a fraction or an exponent before a keyword, though: `1e0union`,
    // `1.or`.
    if e < s.len() && (s[e].is_ascii_alphabetic() || s[e] == b'_') {
        let w = e + ident_len(&s[e..]);
        let float = s[i..e].iter().any(|c| matches!(c, b'.' | b'e'));
        if !(float && matches!(keyword(&s[e..w]), Some(Tk::Kw(_) | Tk::Logic))) {
            return (Tk::Ident, w);
        }
    }
    (Tk::Num, e)
}

fn ident_len(s: &[u8]) -> usize {
    s.iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80)
        .count()
}

fn word(s: &[u8], i: usize) -> (Tk, usize) {
    let e = i + ident_len(&s[i..]);
    let w = &s[i..e];
    if let Some(joined) = split_keyword(s, i, e) {
        return joined;
    }
    // Skip whitespace and comments to see whether a `(` follows (a function call).
    let after_space = |mut k: usize| {
        while k < s.len() && matches!(s[k], b' ' | b'\t' | b'\n' | b'\r') {
            k += 1;
        }
        k
    };
    let j = after_space(e);
    // MySQL's `3 MEMBER OF('[1,2,3]')` compares, like `IN (...)`: not two words of prose.
    if w == b"member" && s[j..].starts_with(b"of") && s.get(after_space(j + 2)) == Some(&b'(') {
        return (Tk::Cmp, j + 2);
    }
    // SQLite's `glob(x, y)` is a call as well as an operator.
    if s.get(j) == Some(&b'(')
        && (w == b"glob"
            || keyword(w).is_none_or(|k| {
                matches!(
                    k,
                    Tk::Kw(
                        Kw::Insert
                            | Kw::Object
                            | Kw::Delay
                            | Kw::Bool
                            | Kw::Set
                            | Kw::Limit
                            | Kw::Attach
                    )
                )
            }))
    {
        return (Tk::Func, e);
    }
    (keyword(w).unwrap_or(Tk::Ident), e)
}

fn keyword(w: &[u8]) -> Option<Tk> {
    use Kw::*;
    Some(match w {
        b"and" | b"or" | b"xor" => Tk::Logic,
        b"like" | b"rlike" | b"regexp" | b"is" | b"in" | b"between" | b"sounds" | b"glob" => {
            Tk::Cmp
        }
        b"div" | b"mod" => Tk::Arith,
        b"union" | b"intersect" | b"except" | b"minus" => Tk::Kw(Union),
        b"select" => Tk::Kw(Select),
        b"from" => Tk::Kw(From),
        b"where" => Tk::Kw(Where),
        b"insert" | b"replace" => Tk::Kw(Insert),
        b"into" => Tk::Kw(Into),
        b"update" => Tk::Kw(Update),
        b"set" => Tk::Kw(Set),
        b"delete" => Tk::Kw(Delete),
        b"drop" => Tk::Kw(Drop),
        b"create" => Tk::Kw(Create),
        b"alter" => Tk::Kw(Alter),
        b"truncate" => Tk::Kw(Truncate),
        b"exec" | b"execute" => Tk::Kw(Exec),
        b"declare" => Tk::Kw(Declare),
        b"waitfor" => Tk::Kw(Waitfor),
        b"delay" | b"time" => Tk::Kw(Delay),
        b"shutdown" => Tk::Kw(Shutdown),
        b"order" => Tk::Kw(Order),
        b"group" => Tk::Kw(Group),
        b"by" => Tk::Kw(By),
        b"having" => Tk::Kw(Having),
        b"limit" | b"offset" => Tk::Kw(Limit),
        b"null" => Tk::Kw(Null),
        b"true" | b"false" => Tk::Kw(Bool),
        b"as" => Tk::Kw(As),
        b"all" => Tk::Kw(All),
        b"distinct" => Tk::Kw(Distinct),
        b"top" => Tk::Kw(Top),
        b"not" => Tk::Kw(Not),
        b"outfile" | b"dumpfile" => Tk::Kw(Outfile),
        b"procedure" => Tk::Kw(Procedure),
        b"case" => Tk::Kw(Case),
        b"attach" => Tk::Kw(Attach),
        b"table" | b"database" | b"schema" | b"view" | b"trigger" | b"function" | b"user"
        | b"login" | b"index" => Tk::Kw(Object),
        _ => return None,
    })
}

/// `DR/**/OP`, `sel/*x*/ect`: a comment glued inside a statement keyword, which a filter
/// that deletes comments joins again. Returns the keyword and the end of its second half.
fn split_keyword(s: &[u8], i: usize, e: usize) -> Option<(Tk, usize)> {
    if s.get(e..e + 2) != Some(b"/*") || s.get(e + 2) == Some(&b'!') {
        return None;
    }
    // A short comment only: the search stays bounded however many `/*` the value holds.
    let window = &s[..s.len().min(e + 2 + 64)];
    let close = find_pair(window, e + 2, b"*/")? + 2;
    let n = s[close..]
        .iter()
        .take_while(|b| b.is_ascii_lowercase())
        .count();
    let mut buf = [0u8; 16];
    let (a, b) = (&s[i..e], &s[close..close + n]);
    if n == 0 || a.len() + b.len() > buf.len() || ident_len(&s[close + n..]) > 0 {
        return None;
    }
    buf[..a.len()].copy_from_slice(a);
    buf[a.len()..a.len() + b.len()].copy_from_slice(b);
    match keyword(&buf[..a.len() + b.len()])? {
        Tk::Kw(
            k @ (Kw::Union
            | Kw::Select
            | Kw::Insert
            | Kw::Update
            | Kw::Delete
            | Kw::Drop
            | Kw::Create
            | Kw::Alter
            | Kw::Truncate),
        ) => Some((Tk::Kw(k), close + n)),
        _ => None,
    }
}

/// Whether `rest` (after `--`) spells a long option: a word of letters and digits of two or
/// more, then `-` or `=` and more of it (`report-uncaught`, `disk-size-gb=`). SQL comments
/// open with a space, `-` or `+`, or end the value.
fn long_option(rest: &[u8]) -> bool {
    let n = rest
        .iter()
        .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        .count();
    n >= 2
        && rest[0].is_ascii_lowercase()
        && matches!(rest.get(n), Some(b'-' | b'='))
        && rest.get(n + 1).is_some_and(u8::is_ascii_alphanumeric)
}

/// Whether the `/*` at `i` is a path glob (`src/*.js"`, `${x%/*}`): glued to the text
/// before it, followed by a file extension or a closing mark, and never closed by `*/`
/// (none starts at or after `last_close`).
fn glob(s: &[u8], i: usize, last_close: Option<usize>) -> bool {
    let before = i.checked_sub(1).map(|p| s[p]);
    before.is_some_and(|b| !b.is_ascii_whitespace() && !matches!(b, b'\'' | b'"' | b'`' | b'('))
        && matches!(
            s.get(i + 2),
            Some(b'.' | b'\'' | b'"' | b'}' | b')' | b']' | b'\\')
        )
        && last_close.is_none_or(|c| c < i + 2)
}

fn line_end(s: &[u8], i: usize) -> usize {
    find_from(s, i, b'\n').unwrap_or(s.len())
}

fn find_from(s: &[u8], from: usize, b: u8) -> Option<usize> {
    memchr::memchr(b, s.get(from..)?).map(|p| p + from)
}

fn find_pair(s: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    memchr::memmem::find(s.get(from..)?, pat).map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::may_shape;
    use crate::detect::sqli::{STRONG_FUNCS, detect, shapes};

    /// Each attack holds exactly one thing the gate looks for; its look-alike lacks it.
    #[test]
    fn may_shape_admits_attacks_at_its_edge() {
        let table = [
            ("1 or x=1", "1 for x=1"),
            ("1 OR x=1", "1 ORE x=1"),
            ("1 xor x=1", "1 x0r x=1"),
            ("1||x=1", "1|x=1"),
            ("1&&x=1", "1&x=1"),
            ("1/*!50000or*/ x=1", "1/*50000or*/ x=1"),
            (",1=1", ",a=a"),
            ("x,'a'='a'", "x,a=a"),
            ("'j' < 'k' = 1", "j < k = 1"),
            ("1;select @@version", "1;selected version"),
            ("1;select @x", "1;elect @x"),
            ("1 union select 1,2", "1 union elect 1,2"),
            ("1 into outfile '/tmp/x'", "1 into out_file /tmp/x"),
            ("sleep(5)#", "sleeps(5)#"),
            ("sleep\t(5)#", "sleep 5#"),
            ("1 order by 5--", "1 orders by 5--"),
            ("1 having 1 like 1#", "1 have 1 like 1#"),
            ("admin'--", "admin'-"),
            ("admin' #", "admin #"),
            ("x');", "x')"),
            ("'union a", "union a"),
        ];
        for (attack, lookalike) in table {
            assert!(detect(attack).is_some(), "missed: {attack}");
            assert!(may_shape(attack.as_bytes(), STRONG_FUNCS), "{attack}");
            assert!(
                !may_shape(lookalike.as_bytes(), STRONG_FUNCS),
                "{lookalike}"
            );
            assert_eq!(detect(lookalike), None, "{lookalike}");
        }
        // A view still holding `%0a` is left to its decoded view.
        assert!(detect("1\nor x=1").is_some());
        assert_eq!(detect("1%0aor x=1"), None);
        // Typographic quotes are folded after the gate: any non-ASCII value passes it.
        assert!(may_shape("1’ or ’1’=’1".as_bytes(), STRONG_FUNCS));
        assert!(may_shape("é".as_bytes(), STRONG_FUNCS));
    }

    /// Every function name fits the gate's lookup buffer, and its identifier class is the
    /// lexer's.
    #[test]
    fn may_shape_looks_up_every_function() {
        for b in 0..=255u8 {
            let ident = super::GATE_CLASSES[usize::from(b)] & super::GATE_IDENT != 0;
            assert_eq!(ident, super::ident_len(&[b]) == 1, "{b}");
        }
        for f in STRONG_FUNCS {
            assert!((2..=super::GATE_WORD_MAX).contains(&f.len()), "{f:?}");
        }
    }

    /// Values the gate turns away are values the shapes find nothing in.
    #[test]
    fn may_shape_turns_away_only_what_shapes_cannot_match() {
        const PIECES: &[&str] = &[
            "or",
            "and",
            "xor",
            "OR",
            "select",
            "union",
            "from",
            "users",
            "1",
            "0x1f",
            "1e5",
            "x",
            "sleep",
            "benchmark",
            "(",
            ")",
            "'",
            "\"",
            "`",
            "--",
            "#",
            "/*",
            "*/",
            "/*!50000",
            "%0a",
            "%20",
            "%0d",
            "@@",
            "@",
            "||",
            "&&",
            "!",
            ";",
            "=",
            "<",
            ">",
            "order",
            "by",
            "group",
            "having",
            "into",
            "outfile",
            "drop",
            "table",
            "exec",
            "true",
            "null",
            " ",
            " ",
            ",",
            ".",
            "like",
            "in",
            "not",
            "set",
            "waitfor",
            "delay",
            "procedure",
            "analyse",
            "case",
            "when",
            "1=1",
            "'a'='a",
            "-",
            "+",
            "*",
            "$",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: usize| {
            seed = crate::testing::xorshift(seed);
            usize::try_from(seed % n as u64).unwrap_or(0)
        };
        let mut fired = 0;
        for _ in 0..60_000 {
            let mut v = String::new();
            for _ in 0..1 + next(9) {
                v.push_str(PIECES[next(PIECES.len())]);
                if next(3) == 0 {
                    v.push(' ');
                }
            }
            if shapes(&v).is_some() {
                fired += 1;
                assert!(
                    may_shape(v.as_bytes(), STRONG_FUNCS),
                    "gate turned away {v:?}"
                );
            }
        }
        // The generator must reach the shapes for the comparison to mean anything.
        assert!(fired > 1_000, "{fired}");
    }
}

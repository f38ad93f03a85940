//! Markdown, RST, GNU documentation and HTML syntax that borrows shell bytes: code fences,
//! inline code, link targets, table rows, `quotes' and entities (`&lt;`). The detector asks these before
//! taking a backtick or a `|` as shell.

use super::is_word;

/// Whether `s` (after three or more backticks) is the rest of a markdown fence line: an
/// optional language tag (`sh`, `rust,ignore`), then a line end.
pub(super) fn fence_opening(s: &[u8]) -> bool {
    let tag = s
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b',' | b'-' | b'_' | b'+' | b' '))
        .count();
    matches!(s.get(tag), None | Some(b'\n' | b'\r'))
}

/// Whether the backtick before `s` opens an RST link or role target: its closing
/// backtick is followed by `_`.
pub(super) fn rst_link(s: &[u8]) -> bool {
    memchr::memchr(b'`', s).is_some_and(|k| s.get(k + 1) == Some(&b'_'))
}

/// Whether the `|` at `i` separates cells of a markdown table row: its line opens with
/// `|` and holds three of them at least. `row` keeps the answer for the current line.
pub(super) fn table_row(
    b: &[u8],
    i: usize,
    row: &mut Option<(std::ops::Range<usize>, bool)>,
) -> bool {
    if let Some((line, answer)) = row
        && line.contains(&i)
    {
        return *answer;
    }
    let from = b[..i]
        .iter()
        .rposition(|c| matches!(c, b'\n' | b'\r'))
        .map_or(0, |p| p + 1);
    let to = b[i..]
        .iter()
        .position(|c| matches!(c, b'\n' | b'\r'))
        .map_or(b.len(), |p| i + p);
    let line = b[from..to].trim_ascii();
    let answer = line.first() == Some(&b'|') && memchr::memchr_iter(b'|', line).nth(2).is_some();
    *row = Some((from..to, answer));
    answer
}

/// Whether the backticked word `b[i..end]` sits in a sentence as markdown inline code: a
/// space before the opening backtick, a space or punctuation after the closing one, and
/// several other words around it. An injected `` `id` `` stands alone or glued to a value.
pub(super) fn inline_code(b: &[u8], i: usize, end: usize) -> bool {
    let before = i == 1 || i >= 2 && matches!(b[i - 2], b' ' | b'(' | b'[' | b'*' | b'\n');
    let after = matches!(
        b.get(end + 1),
        None | Some(b' ' | b'.' | b',' | b':' | b')' | b']' | b'\n' | b'?' | b'!')
    );
    // Within a sentence's reach, so a long value costs no more per backtick.
    let around = &b[i.saturating_sub(160)..(end + 160).min(b.len())];
    let link_text = i >= 2 && b[i - 2] == b'[' && b.get(end + 1) == Some(&b']');
    link_text || before && after && memchr::memchr_iter(b' ', around).nth(3).is_some()
}

/// Whether the backticked command `b[i..end]` and its arguments sit in a sentence as
/// markdown inline code (`` run `make rollback` and ping me ``): plain words and options
/// only, closed within a few words, and not a tool that fetches, connects, waits or runs
/// code. Anything with a path, an address, a URL or shell syntax in it stays a command.
pub(super) fn inline_command(b: &[u8], i: usize, end: usize, ops: bool) -> bool {
    let Some(close) = b[end..]
        .iter()
        .take(INLINE_ARGS_MAX)
        .position(|c| *c == b'`')
        .map(|p| end + p)
    else {
        return false;
    };
    let args = &b[end..close];
    // An operator's tool (`ops`) names resources in its arguments (`deployment/web`,
    // `app:1.4`), though no absolute path.
    let plain = args.iter().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(c, b' ' | b'-' | b'_' | b'.' | b'=' | b',' | b'+')
            || ops && matches!(c, b'/' | b':' | b'@')
    }) && !args.windows(2).any(|w| w == b" /");
    // `1.2.3.4 4444`: an address and a port, even without a colon.
    let address = args
        .split(|c| *c == b' ')
        .any(|w| w.first().is_some_and(u8::is_ascii_digit) && w.contains(&b'.'));
    plain
        && !address
        && args.first() == Some(&b' ')
        && !ACTIVE_TOOLS.contains(&&b[i..end])
        && inline_code(b, i, close)
}

/// Longest argument run read as inline code.
const INLINE_ARGS_MAX: usize = 48;

/// Commands that fetch, connect, wait, open a shell or run code given as an argument:
/// dangerous with plain words too (`nc -lvp 4444`, `sleep 10`, `python -c ...`).
const ACTIVE_TOOLS: &[&[u8]] = &[
    b"ash",
    b"bash",
    b"busybox",
    b"csh",
    b"curl",
    b"dash",
    b"dig",
    b"eval",
    b"exec",
    b"fetch",
    b"fish",
    b"ftp",
    b"host",
    b"ksh",
    b"lua",
    b"lynx",
    b"nc",
    b"ncat",
    b"netcat",
    b"node",
    b"nslookup",
    b"perl",
    b"php",
    b"ping",
    b"powershell",
    b"pwsh",
    b"python",
    b"python2",
    b"python3",
    b"ruby",
    b"scp",
    b"sftp",
    b"sh",
    b"sleep",
    b"socat",
    b"ssh",
    b"tclsh",
    b"telnet",
    b"tftp",
    b"timeout",
    b"wget",
    b"xterm",
    b"zsh",
];

/// Whether `s` (after a backtick) is a short phrase closed by `'`, and so is every later
/// backtick: GNU documentation quotes `like this' (TeX ``like this''), often several to a
/// paragraph. The shell would read an unterminated substitution, which runs nothing; a
/// backtick left that opens no such quote could close one, so it makes them all shell.
pub(super) fn gnu_quote(s: &[u8]) -> bool {
    let mut rest = s;
    // Bounded, as this runs at each backtick of a value.
    for _ in 0..GNU_QUOTES_MAX {
        let Some(q) = quote_close(rest) else {
            return false;
        };
        match memchr::memchr(b'`', &rest[q..]) {
            None => return true,
            Some(k) => rest = &rest[q + k + 1..],
        }
    }
    false
}

/// Where the `'` closing a GNU quote opened just before `s` is.
fn quote_close(s: &[u8]) -> Option<usize> {
    // The second backtick of TeX's ``double quote'' belongs to the opening.
    let open = usize::from(s.first() == Some(&b'`'));
    let body = &s[open..];
    let q = body
        .iter()
        .take(GNU_QUOTE_MAX)
        .position(|c| matches!(c, b'\'' | b'`' | b'\n' | b'\r' | b'"'))?;
    (q > 0 && body[q] == b'\'' && !body.get(q + 1).is_some_and(|c| is_word(*c))).then_some(open + q)
}

/// Most GNU quotes [`gnu_quote`] follows in one value.
const GNU_QUOTES_MAX: usize = 16;

/// Longest phrase [`gnu_quote`] reads.
const GNU_QUOTE_MAX: usize = 60;

/// Whether `b` ends with the body of an HTML entity (`&lt`, `&#60`, `&#x3c`), whose `;`
/// comes next.
pub(super) fn entity_before(b: &[u8]) -> bool {
    let name = b
        .iter()
        .rev()
        .take(10)
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    let rest = &b[..b.len() - name];
    name > 0
        && (rest.ends_with(b"&") && b[b.len() - name].is_ascii_alphabetic()
            || rest.ends_with(b"&#"))
}

/// Whether `s` (after a `&`) is the rest of a named HTML entity (`copy;`).
pub(super) fn entity_after(s: &[u8]) -> bool {
    let name = s
        .iter()
        .take(10)
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    name >= 2 && s.get(name) == Some(&b';') && s[0].is_ascii_alphabetic()
}

/// `^(feat|fix|test)(/.+)?$`: a group of bare alternatives that a regular expression
/// anchors, quantifies or continues (`^(`, `(?:`, `)?`, `)(`, `)/`), where the shell would
/// stop at a syntax error. Returns the index of the closing parenthesis.
pub(super) fn regex_alternation(b: &[u8], open: usize) -> Option<usize> {
    let mut from = open + 1;
    let non_capturing = b[from..].starts_with(b"?:");
    if non_capturing {
        from += 2;
    }
    let close = from
        + b[from..]
            .iter()
            .take(256)
            .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'|')))?;
    let inner = &b[from..close];
    if b.get(close) != Some(&b')')
        || !inner.contains(&b'|')
        || inner.split(|c| *c == b'|').any(<[u8]>::is_empty)
    {
        return None;
    }
    let anchored = open > 0 && b[open - 1] == b'^';
    let continued = match b.get(close + 1) {
        Some(b'?' | b'*' | b'+' | b'{' | b'$' | b'/' | b'\\' | b'(' | b'[') => true,
        Some(b'.') => matches!(b.get(close + 2), Some(b'*' | b'+' | b'?' | b'{')),
        _ => false,
    };
    (non_capturing || anchored || continued).then_some(close)
}

/// `(/.*)?$`, `([a-z0-9-]+\.)?`: a group a regular expression quantifies. A subshell
/// followed by `?`, `*`, `+` or `{` is a shell syntax error that stops the whole line, so
/// none of it runs. Command substitution (`$(`) and process substitution (`<(`) differ:
/// their `)?` is a glob. Returns the index of the closing parenthesis.
pub(super) fn quantified_group(b: &[u8], open: usize) -> Option<usize> {
    if open > 0 && matches!(b[open - 1], b'$' | b'<' | b'>' | b'=' | b'@' | b'!' | b'+') {
        return None;
    }
    let close = open
        + 1
        + b[open + 1..]
            .iter()
            .take(128)
            .position(|&c| matches!(c, b')' | b'(' | b'`' | b'\n' | b'\r'))?;
    (b[close] == b')' && matches!(b.get(close + 1), Some(b'?' | b'*' | b'+' | b'{')))
        .then_some(close)
}

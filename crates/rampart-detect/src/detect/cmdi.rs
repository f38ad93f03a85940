//! OS command injection, read with a little shell grammar: after undoing quoting tricks
//! (`c'a't`, `c\at`, `$@`, `${IFS}`, `{cat,/etc/passwd}`), a command word in command
//! position (after `;`, `|`, `&&`, `||`, a newline, inside backticks or `$(...)`, or at the
//! start of the value) that is a known command or a system path. English-looking command
//! names (`cat`, `more`, `time`) also need a shell-looking argument, so "echo in the
//! mirror", "cats & dogs", "R&D" and "a hero; more than that" pass.

use std::sync::OnceLock;

use super::is_word;

use super::cmdi_words::{
    OPS_TOOLS, PREFIXES, STRONG, STRONG_PREFIXES, VERSIONED, command, command_ignore_case,
};

mod ansi_c;
mod assign;
mod bytes;
mod expand;
mod markup;
mod sentence;
mod start;
mod unset;

use markup::{
    entity_after, entity_before, fence_opening, gnu_quote, inline_code, inline_command,
    quantified_group, regex_alternation, rst_link, table_row,
};
use sentence::sentence_line;
use start::{alias_bypass, redirect_start};
use unset::{unset_prefix, unset_variable};

use bytes::{
    BACKSLASH, DOLLAR, EQUALS, GATES, GLOB, GREATER, NORMALISE, PAREN, QUOTING, REWRITE, SEP_START,
    SEPARATOR, SHELL, WORD,
};

/// Detects command injection; returns the normalised fragment.
pub(crate) fn detect(text: &str) -> Option<String> {
    if let Some(tool) = split_off_tool(text) {
        return Some(tool.to_owned());
    }
    if crate::decode::encoded_space(text.as_bytes()) {
        return None;
    }
    // Each later pass finds nothing without its bytes: one table pass tells which can.
    let seen = seen(text);
    let has = |bit: u16| seen & bit != 0;
    with_vars(text, seen)
        .or_else(|| has(BACKSLASH).then(|| alias_bypass(text)).flatten())
        .or_else(|| has(GREATER).then(|| redirect_start(text)).flatten())
        .or_else(|| has(DOLLAR).then(|| unset_prefix(text)).flatten())
        .or_else(|| {
            // `$'\143\141\164'`: read the ANSI-C quotes decoded.
            let decoded = has(DOLLAR).then(|| ansi_c::decode(text)).flatten()?;
            with_vars(&decoded, self::seen(&decoded))
        })
        .or_else(|| {
            // `c[a]t /e[t]c/passwd`, `{l,-lh}s`: read what the shell expands them to.
            let e = has(GLOB).then(|| expand::expand(text)).flatten()?;
            e.assembled
                .or_else(|| with_vars(&e.text, self::seen(&e.text)))
        })
}

/// [`detect_seen`], then again with the variables the text assigns expanded (which needs
/// both an `=` and a `$`).
fn with_vars(text: &str, seen: u16) -> Option<String> {
    detect_seen(text, seen).or_else(|| {
        if seen & EQUALS == 0 || seen & DOLLAR == 0 {
            return None;
        }
        detect_one(&assign::expand(text)?)
    })
}

/// The [`GATES`] bits of every byte of `text`, ORed.
fn seen(text: &str) -> u16 {
    text.bytes().fold(0, |acc, b| acc | GATES[usize::from(b)])
}

/// [`detect`] without expanding the variables the text assigns.
fn detect_one(text: &str) -> Option<String> {
    detect_seen(text, seen(text))
}

/// [`detect_one`], with the [`seen`] bits of `text` already known.
fn detect_seen(text: &str, seen: u16) -> Option<String> {
    // `()` found from its `(`: a substring searcher's setup cost more than these values.
    let b = text.as_bytes();
    let parens =
        || seen & PAREN != 0 && memchr::memchr_iter(b'(', b).any(|i| b.get(i + 1) == Some(&b')'));
    if (seen & QUOTING != 0 || parens())
        && let Some(fragment) = obfuscated_command(text)
    {
        return Some(fragment);
    }
    if seen & SHELL == 0 {
        return None;
    }
    // Without a separator or substitution only the start of the value can be a command:
    // look at its first word before paying for normalisation.
    if seen & SEPARATOR == 0 {
        let first = text.trim_start().as_bytes();
        let first = &first[..memchr::memchr2(b' ', b'\t', first).unwrap_or(first.len())];
        // A path there runs only globbed (`/???/??t`, see `command_at`): without `?` or
        // `*` in it, a URL path is settled here. Lowercasing adds neither; normalising
        // (`REWRITE`) is not checked for that, so it still goes the long way.
        let path = first.starts_with(b"/")
            && (seen & REWRITE != 0 || first.iter().any(|c| matches!(c, b'?' | b'*')));
        let known = path || known_ignore_case(first).is_some() || versioned(first).is_some();
        if !known {
            return None;
        }
    }
    let found = |b: &[u8]| command_in(b).map(|(from, to)| fragment(b, from, to));
    if seen & REWRITE == 0 {
        // Nothing for `normalise` to undo: it would only lowercase, done here on the stack.
        super::with_lowercase(text.as_bytes(), found)
    } else {
        found(normalise(text).as_bytes())
    }
}

/// The first command in command position in normalised `b`: where its separator starts
/// and where the evidence ends.
fn command_in(b: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    // Settled on first need, once per value: it reads the whole value.
    let graphql = std::cell::OnceCell::new();
    // Start of the value is a (weak) command position.
    if let Some(end) = command_at(b, 0, Sep::Start, &graphql) {
        return Some((0, end));
    }
    // Backticks pair up: the second of a pair closes a substitution (or markdown code).
    let mut inside_ticks = false;
    // The line last read by `table_row` and whether it is one: each line is read once.
    let mut row: Option<(std::ops::Range<usize>, bool)> = None;
    // Where the last hard separator ended: a `(` right after one opens a subshell.
    let mut after_hard = usize::MAX;
    while i < b.len() {
        // Jump to the next byte that can start a separator.
        match b[i..]
            .iter()
            .position(|&c| GATES[usize::from(c)] & SEP_START != 0)
        {
            Some(n) => i += n,
            None => break,
        }
        // `^(feat|fix|test)(/.+)?`: a regular expression's alternation, not a subshell.
        if b[i] == b'('
            && let Some(close) = regex_alternation(b, i).or_else(|| quantified_group(b, i))
        {
            i = close + 1;
            continue;
        }
        let (sep, len) = match b[i] {
            // `&lt;yes|no&gt;`, `&#60;dir&#62;`: the `;` closes an HTML entity.
            b';' if entity_before(&b[..i]) => (Sep::Entity, 1),
            b';' => (Sep::Hard, 1),
            b'\n' | b'\r' => (Sep::Line, 1),
            b'|' if b.get(i + 1) == Some(&b'|') => (Sep::Hard, 2),
            // `| mysql |` in a markdown table row: a cell, not a pipeline.
            b'|' if table_row(b, i, &mut row) => {
                i += 1;
                continue;
            }
            b'|' => (Sep::Hard, 1),
            b'&' if b.get(i + 1) == Some(&b'&') => (Sep::Hard, 2),
            // `&copy;`: an HTML entity.
            b'&' if entity_after(&b[i + 1..]) => (Sep::Entity, 1),
            b'&' => (Sep::Soft, 1),
            b'`' => {
                let run = b[i..].iter().take_while(|c| **c == b'`').count();
                if run >= 3 && fence_opening(&b[i + run..]) {
                    // A markdown code fence (```sh): its language tag runs nothing.
                    i += run;
                    continue;
                }
                inside_ticks = !inside_ticks;
                // The closing one of a pair, or an RST link (`Python Docs <url>`_).
                if !inside_ticks || rst_link(&b[i + 1..]) {
                    i += 1;
                    continue;
                }
                (Sep::Subst, 1)
            }
            b'$' if b.get(i + 1) == Some(&b'(') => (Sep::Subst, 2),
            // `[text](./link)`: a markdown link target, not a subshell.
            b'(' if i > 0 && b[i - 1] == b']' => {
                i += 1;
                continue;
            }
            // `;(id)`, `&& (whoami)`: a subshell in command position.
            b'(' if b
                .get(after_hard..i)
                .is_some_and(|gap| gap.iter().all(|c| matches!(c, b' ' | b'\t'))) =>
            {
                (Sep::Hard, 1)
            }
            b'(' | b'{' => (Sep::Soft, 1),
            _ => {
                i += 1;
                continue;
            }
        };
        if let Some(end) = command_at(b, i + len, sep, &graphql) {
            return Some((i, end));
        }
        i += len;
        if sep == Sep::Hard {
            after_hard = i;
        }
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    /// Start of the value.
    Start,
    /// `&`, `(`, `{`: common in prose.
    Soft,
    /// `;`, `|`, `&&`, `||`.
    Hard,
    /// A line break: a command separator, but also where wrapped prose starts a line.
    Line,
    /// Backtick or `$(`: only the shell has these.
    Subst,
    /// The `&` or `;` of an HTML entity (`&copy;`, `&#60;`): markup around a word.
    Entity,
}

fn fragment(s: &[u8], from: usize, to: usize) -> String {
    String::from_utf8_lossy(&s[from..to.min(s.len())]).into_owned()
}

/// Checks for a command at `i`; returns the end of the evidence. `graphql` caches
/// [`graphql_document`] for the value: read per lone name, it would be quadratic.
fn command_at(
    b: &[u8],
    mut i: usize,
    sep: Sep,
    graphql: &std::cell::OnceCell<bool>,
) -> Option<usize> {
    let opened = i;
    let glued = b.get(i).is_some_and(|c| !c.is_ascii_whitespace());
    let after_amp = i > 0 && b[i - 1] == b'&';
    skip_ws(b, &mut i);
    // Environment assignments and prefix words (`sudo`, `nohup`, `time`...).
    let mut strong_prefix = false;
    for _ in 0..4 {
        let w = word(b, i);
        let text = &b[i..i + w];
        if w > 0 && b.get(i + w) == Some(&b'=') && text.iter().all(|c| is_word(*c)) {
            i += w + 1;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            skip_ws(b, &mut i);
        } else if w > 0
            && b.get(i + w).is_some_and(u8::is_ascii_whitespace)
            && PREFIXES.iter().any(|p| p.as_bytes() == text)
        {
            let mut j = i + w;
            skip_ws(b, &mut j);
            // `env --version`, `timeout /T 5`, `timeout 5`: the prefix is the command itself.
            // A cmd.exe switch counts with a number or nothing after it ("timeout /t is a
            // command" names one).
            // `j` may be the end: the prefix was the last word.
            let switch = b.get(j) == Some(&b'/') && word(b, j) == 2 && {
                let mut k = j + 2;
                skip_ws(b, &mut k);
                b.get(k)
                    .is_none_or(|c| c.is_ascii_digit() || matches!(c, b';' | b'&' | b'|'))
            };
            if word(b, j) == 0
                || b[j] == b'-'
                || switch
                || b[j].is_ascii_digit() && text == b"timeout"
            {
                break;
            }
            strong_prefix |= STRONG_PREFIXES.iter().any(|p| p.as_bytes() == text);
            i = j;
        } else {
            break;
        }
    }
    let w = word(b, i);
    if w == 0 {
        return None;
    }
    let cmd = &b[i..i + w];
    let end = i + w;
    // `;base64,` in a data URL: a command word ends where the shell would end it.
    if b.get(end).is_some_and(|c| {
        !c.is_ascii_whitespace()
            && !matches!(
                c,
                b';' | b'|' | b'&' | b'<' | b'>' | b')' | b'`' | b'$' | b'}'
            )
    }) {
        return None;
    }
    // `gzip;q=1.0, identity`: a coding with its quality weight in an Accept list.
    if b[end..].starts_with(b";q=") && b.get(end + 3).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    // Neither a path nor a known command: nothing below can match, so skip reading the
    // arguments.
    let path = cmd[0] == b'/' || cmd.starts_with(b"./") || cmd.starts_with(b"~/");
    if !path && known(cmd).is_none() && versioned(cmd).is_none() {
        return None;
    }
    let mut j = end;
    skip_ws(b, &mut j);
    let next = b.get(j + 1).copied().unwrap_or(b' ');
    // `sleep 5` (time-based probes) and `dir c:\` (a drive root) are shell, not prose.
    // `sleep 10 #`: what a comment hides does not count. `'; sleep 5; '`, `x' || sleep 5
    // || '`: after a hard separator, the next separator may follow ("sleep 5 hours" is
    // still prose).
    let numeric_arg = matches!(cmd, b"sleep" | b"timeout")
        && b.get(j).is_some_and(u8::is_ascii_digit)
        && match b[j..]
            .iter()
            .find(|c| !c.is_ascii_digit() && !c.is_ascii_whitespace())
        {
            None | Some(b'#') => true,
            Some(c) => {
                matches!(sep, Sep::Hard | Sep::Subst)
                    && matches!(c, b';' | b'|' | b'&' | b')' | b'`')
            }
        };
    let drive = b.get(j).is_some_and(u8::is_ascii_alphabetic)
        && b.get(j + 1) == Some(&b':')
        && matches!(b.get(j + 2), Some(b'\\' | b'/'));
    // `kill -9`, `kill -9 1234`: a signal number and process ids only.
    let signal = cmd == b"kill"
        && b.get(j) == Some(&b'-')
        && b.get(j + 1).is_some_and(u8::is_ascii_digit)
        && b[j + 1..]
            .iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'$'));
    let arg_shelly = numeric_arg
        || signal
        || drive
        || match b.get(j) {
            None => true,
            Some(b'-') => next.is_ascii_alphabetic() || long_option(&b[j..]),
            Some(b'.') => matches!(next, b'/' | b'.'),
            // `date >= today() - 30`: a comparison in a filter, not a redirection.
            Some(b'>' | b'<') if next == b'=' => false,
            // `Book & CD</item>`: markup, not a redirection.
            Some(b'<') => !markup_tag(&b[j + 1..]),
            // `& echo %username%`: a cmd.exe variable.
            Some(b'%') => windows_variable(&b[j..]),
            Some(c) => matches!(
                c,
                b'/' | b'~' | b'>' | b'<' | b'|' | b';' | b'&' | b'`' | b'$' | b'*' | b'\\'
            ),
        };
    // `ansible all -m ping`: an option among the first few arguments; `echo x > /tmp/f`:
    // output redirected to a path or a descriptor.
    let arg_shelly = arg_shelly || option_follows(b, j) || redirect_follows(b, j);
    // `| net user`, `& net localgroup administrators`: Windows account and share queries.
    let net_query = matches!(sep, Sep::Hard | Sep::Line)
        && cmd == b"net"
        && NET_QUERIES.contains(&&b[j..j + word(b, j)]);
    let arg_end = j + word(b, j).max(1);
    if cmd[0] == b'/' || cmd.starts_with(b"./") || cmd.starts_with(b"~/") {
        let system = [
            &b"/bin/"[..],
            b"/sbin/",
            b"/usr/",
            b"/tmp/",
            b"/dev/",
            b"/etc/",
            b"/proc/",
            b"/var/",
            b"/home/",
            b"/opt/",
            b"/root/",
            b"./",
            b"~/",
        ]
        .iter()
        .any(|p| cmd.starts_with(p));
        // `/*` and `/**` open C comments, which code snippets put after `;` and `{`.
        if cmd.len() <= 3 && cmd.iter().all(|c| matches!(c, b'/' | b'*')) {
            return None;
        }
        // `/internal-preview/*` in a list of URL paths: a directory wildcard alone as the
        // last segment names paths; a glob that spells a program (`/???/??t`) runs one.
        let globbed = |p: &[u8]| p.iter().any(|c| matches!(c, b'?' | b'*' | b'['));
        let glob = cmd
            .strip_suffix(b"/*")
            .map_or_else(|| globbed(cmd), globbed);
        // `/dev/urandom` or `~/.bashrc` alone in backticks is markdown code naming a file;
        // a program directory or a glob still runs.
        let alone = b.get(end) == Some(&b'`');
        let program = [
            &b"/bin/"[..],
            b"/sbin/",
            b"/usr/bin/",
            b"/usr/sbin/",
            b"/usr/local/bin/",
            b"/usr/local/sbin/",
        ]
        .iter()
        .any(|p| cmd.starts_with(p));
        let ok = match sep {
            Sep::Subst if alone => program || glob,
            // `(/etc/anacrontab), you may` and a wrapped line opening with a path: prose
            // names files there; a program directory or a glob still runs.
            // `(./a.js)`: a file named in parentheses.
            Sep::Soft if cmd.starts_with(b"./") && b.get(end) == Some(&b')') => false,
            Sep::Soft | Sep::Line | Sep::Entity => {
                program || glob || cmd.starts_with(b"./") || cmd.starts_with(b"/tmp/")
            }
            // At the start only `/???/??t`-style paths: several globbed segments.
            Sep::Start => {
                cmd.split(|c| *c == b'/')
                    .filter(|seg| seg.iter().any(|c| matches!(c, b'?' | b'*')))
                    .count()
                    >= 2
            }
            _ => system || glob,
        };
        return ok.then_some(arg_end);
    }
    let weak = command(cmd).or_else(|| versioned(cmd))?;
    // `Ubuntu 22.04 | Node 20 | pnpm 8`: a runtime named with its version; a shell would run
    // a script file called `20`.
    if RUNTIMES.contains(&cmd) && version_only(&b[j..]) {
        return None;
    }
    // `kubectl get pods -n prod`, `docker build -t app .`: operators write these tools'
    // command lines into runbooks, tickets, CI settings and searches. As a value or a line
    // of one they document; after a separator they need shell around them, like a word.
    let ops = OPS_TOOLS.contains(&cmd);
    if ops && matches!(sep, Sep::Start | Sep::Line) {
        return None;
    }
    let weak = weak || ops;
    // `index=web status>=500 | stats count by uri | sort -count | head 20`: a Splunk search
    // pipes into its own commands.
    if sep == Sep::Hard
        && b[..opened].ends_with(b"|")
        && SPL_COMMANDS.contains(&cmd)
        && spl_search(b)
    {
        return None;
    }
    // `grep -i no longer mishandles...`: a line of release notes, not a command line.
    if matches!(sep, Sep::Start | Sep::Line)
        && (sentence_line(cmd, b, i) || traceback_frame(cmd, &b[j..]))
    {
        return None;
    }
    let ok = match sep {
        _ if strong_prefix && !weak => true,
        // `service` alone in backticks is markdown code naming a word: weak words always,
        // other names when a sentence surrounds them ("run `python` first").
        // `$(MAKE)` alone is a make variable.
        Sep::Subst => {
            !(b.get(end) == Some(&b'`') && (weak || inline_code(b, i, end))
                || weak && b.get(end) == Some(&b')') && b[..i].ends_with(b"$(")
                || opened == i && inline_command(b, i, end, ops))
        }
        // A wrapped line opening with a name ("Python 3.11.", "strings that"): only a
        // name alone on its line, shell arguments, a URL or an address make it a command.
        Sep::Line if !weak => {
            // A GraphQL document selects one field per line (`id`): no shell reads it.
            matches!(b.get(j), None | Some(b'\n' | b'\r'))
                && !*graphql.get_or_init(|| graphql_document(b))
                || arg_shelly
                || url_at(&b[j..])
                || address_at(&b[j..])
        }
        // `SignedHeaders=content-type;host;x-amz-date`: a word with no argument inside a
        // `;`-joined list of names. Without an argument a weak word does nothing.
        Sep::Hard if weak && opened == i && in_name_list(b, i, end) => false,
        Sep::Hard | Sep::Line => {
            !weak
                || net_query
                || glued && host_lookup(cmd, &b[j..])
                || arg_shelly && (glued || b.get(j).is_some())
                || glued && b.get(j).is_none()
        }
        Sep::Soft | Sep::Start | Sep::Entity => {
            // `curl http://x/s.sh`, `Invoke-WebRequest https://...`: a tool fetching a URL.
            let url_arg = !weak && url_at(&b[j..]);
            // `alias ls='rm -rf'`: an alias definition is shell whatever it says.
            let alias_def = cmd == b"alias" && alias_at(&b[j..]);
            // `x&aptitude`: a non-English command glued to `&` ends the value (`R&D`,
            // `AT&T` name no command); in a query string (`?a=1&id`) it is a flag.
            let backgrounded = after_amp
                && glued
                && !weak
                && b.get(j).is_none()
                && !b[..i].iter().any(|c| matches!(c, b'=' | b'?'));
            // `127.0.0.1 & whoami`: a reconnaissance tool no English text names, after a
            // lone `&` at the very end of the value (cmd.exe runs it in sequence, a Unix
            // shell after backgrounding the first command).
            let recon_tail = after_amp && !glued && b.get(j).is_none() && recon(cmd);
            // `test; might need`: a weak word opening a sentence.
            // `P(sleep | deadline)`: a word in parentheses paired with a label.
            let sentence = weak && sep == Sep::Start && b.get(j) == Some(&b';') && next == b' '
                || (sep == Sep::Start || weak && sep == Sep::Soft) && named_in_a_list(&b[j..]);
            !(weak && sep == Sep::Entity)
                && (backgrounded
                    || recon_tail
                    || (arg_shelly || url_arg || alias_def)
                        && b.get(j).is_some()
                        && !(weak && sep == Sep::Start && b[j] == b'.')
                        && !sentence)
        }
    };
    ok.then_some(arg_end)
}

/// Whether the word `b[from..to]` sits between two `;` glued to names on both sides
/// (`content-type;host;x-amz-date`).
fn in_name_list(b: &[u8], from: usize, to: usize) -> bool {
    let name = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'-');
    from >= 2
        && b[from - 1] == b';'
        && name(b.get(from - 2))
        && b.get(to) == Some(&b';')
        && name(b.get(to + 1))
}

/// Whether `b` (normalised) is a GraphQL document: an operation or fragment keyword, or a
/// bare selection set holding a nested one (`{ viewer { id } }`; a shell brace group
/// `{ id; }` nests none), with balanced braces around the rest.
fn graphql_document(b: &[u8]) -> bool {
    let t = b.trim_ascii();
    let keyword = [&b"query"[..], b"mutation", b"subscription", b"fragment"]
        .iter()
        .any(|k| {
            t.starts_with(k)
                && t.get(k.len())
                    .is_some_and(|c| c.is_ascii_whitespace() || matches!(c, b'{' | b'('))
        });
    let nested = || {
        t.windows(2).any(|w| is_word(w[0]) && w[1] == b'{')
            || t.windows(3)
                .any(|w| is_word(w[0]) && w[1].is_ascii_whitespace() && w[2] == b'{')
    };
    let count = |c: u8| t.iter().filter(|x| **x == c).count();
    (keyword || t.first() == Some(&b'{') && nested())
        && t.last() == Some(&b'}')
        && count(b'{') == count(b'}')
}

/// Whether a line opening with `file` goes on like a Python traceback frame (`File
/// "/usr/lib/python3.11/x.py", line 59, in request`, quotes already undone): crash
/// reports carry these. A shell would only run `file` on the path, and on Linux the
/// capitalised `File` of a real traceback runs nothing.
fn traceback_frame(cmd: &[u8], rest: &[u8]) -> bool {
    let Some(comma) = rest
        .iter()
        .position(|c| c.is_ascii_whitespace() || *c == b',')
    else {
        return false;
    };
    let mut k = comma + 1;
    skip_ws(rest, &mut k);
    cmd == b"file"
        && rest[comma] == b','
        && rest[k..].starts_with(b"line ")
        && rest.get(k + 5).is_some_and(u8::is_ascii_digit)
}

/// Whether `s` starts with an IPv4 address or a port number standing alone
/// (`nc 10.0.0.1 4444`, `ping 127.0.0.1`): a version ("Python 3.11.") has fewer dots.
fn address_at(s: &[u8]) -> bool {
    let token = &s[..s
        .iter()
        .position(|c| c.is_ascii_whitespace())
        .unwrap_or(s.len())];
    let dots = token.iter().filter(|c| **c == b'.').count();
    !token.is_empty()
        && token.iter().all(|c| c.is_ascii_digit() || *c == b'.')
        && (dots == 3 || dots == 0 && token.len() >= 2)
}

/// Whether `cmd` is a name-lookup tool and `s` starts with a host name for it alone
/// (`;host x.attacker.example`, `;ping example.org`): out-of-band probes resolve a name
/// the attacker watches.
fn host_lookup(cmd: &[u8], s: &[u8]) -> bool {
    let token = &s[..s
        .iter()
        .position(|c| matches!(c, b' ' | b'\t' | b';' | b'|' | b'&' | b'`' | b')'))
        .unwrap_or(s.len())];
    let tld = token.rsplit(|c| *c == b'.').next().unwrap_or_default();
    matches!(
        cmd,
        b"host" | b"dig" | b"nslookup" | b"ping" | b"whois" | b"traceroute" | b"tracert"
    ) && token.contains(&b'.')
        && tld.len() >= 2
        && tld.iter().all(u8::is_ascii_alphabetic)
        && token
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-'))
}

/// Splunk search commands that share a name with a Unix tool.
const SPL_COMMANDS: &[&[u8]] = &[b"sort", b"head", b"tail", b"top", b"uniq", b"eval"];

/// Whether `b` is a Splunk search: it pipes into a command only Splunk has.
fn spl_search(b: &[u8]) -> bool {
    const SPL_ONLY: &[&[u8]] = &[
        b"stats",
        b"eventstats",
        b"streamstats",
        b"tstats",
        b"timechart",
        b"chart",
        b"dedup",
        b"rex",
        b"spath",
        b"table",
        b"inputlookup",
        b"fillnull",
        b"transaction",
        b"where",
    ];
    memchr::memchr_iter(b'|', b).any(|p| {
        let mut k = p + 1;
        skip_ws(b, &mut k);
        SPL_ONLY.contains(&&b[k..k + word(b, k)])
    })
}

/// Interpreters and shells that lists of versions name (`Node 20`, `Python 3.12`).
const RUNTIMES: &[&[u8]] = &[
    b"node", b"python", b"python2", b"python3", b"perl", b"ruby", b"php", b"lua", b"bash", b"zsh",
];

/// Whether `s` starts with a version number alone (`20`, `3.12`, `18.x`): followed by the
/// end, a space, `,`, `)` or `|`.
fn version_only(s: &[u8]) -> bool {
    let n = s
        .iter()
        .take_while(|c| c.is_ascii_digit() || matches!(c, b'.' | b'x'))
        .count();
    s.first().is_some_and(u8::is_ascii_digit)
        && matches!(s.get(n), None | Some(b' ' | b',' | b')' | b'|'))
}

/// Whether `rest`, after a command word that opens the value, makes the value a pair of
/// names or labels: a lone `&` between spaces and then a word (`Ruby & Python`, `Cut &
/// Paste`, `Date & Time`), or a lone `|` and then a word that names no command (`Yes |
/// No`, `Find | Replace`). A shell would background the first or pipe it, but what a
/// probe runs comes after, and the separator scan reads that (a path or options there, a
/// command after `|`, or a reconnaissance tool ending the value, [`RECON_NAMES`]).
fn named_in_a_list(rest: &[u8]) -> bool {
    let (&[sep, gap], tail) = rest.split_at(rest.len().min(2)) else {
        return false;
    };
    let lone = matches!(sep, b'&' | b'|') && matches!(gap, b' ' | b'\t');
    let mut i = 0;
    skip_ws(tail, &mut i);
    if !lone || !tail.get(i).is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    sep == b'&' || known(&tail[i..i + word(tail, i)]).is_none()
}

/// Tools that print who and where the shell runs: what an injection probe runs first.
/// Only names that are no English word or product (`id`, `ps`, `node` are).
pub(crate) const RECON_NAMES: &[&str] = &[
    "whoami",
    "uname",
    "ifconfig",
    "ipconfig",
    "netstat",
    "systeminfo",
    "tasklist",
    "getmac",
];

fn recon(name: &[u8]) -> bool {
    RECON_NAMES.iter().any(|r| r.as_bytes() == name)
}

/// The tool of `?ip=127.0.0.1%20&%20whoami`: a raw `&` split the value, and what it ran
/// arrives as a name or value of its own that still opens with the space after the `&`
/// (no parameter name or value does), holding only a reconnaissance tool.
fn split_off_tool(text: &str) -> Option<&str> {
    let tool = text.strip_prefix([' ', '\t'])?.trim();
    // cmd.exe reads its tools in any case.
    RECON_NAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(tool))
        .then_some(tool)
}

/// `net` subcommands that list or change accounts and shares.
const NET_QUERIES: &[&[u8]] = &[
    b"user",
    b"users",
    b"localgroup",
    b"group",
    b"share",
    b"session",
    b"accounts",
];

/// Whether this command's arguments (up to the next separator) redirect output to a path
/// (`> /tmp/x`, `>> ~/.ssh/authorized_keys`) or a descriptor (`2>&1`).
fn redirect_follows(b: &[u8], j: usize) -> bool {
    let rest = b.get(j..).unwrap_or_default();
    let end = rest
        .iter()
        .position(|c| matches!(c, b';' | b'|' | b'\n' | b'\r'))
        .unwrap_or(rest.len())
        .min(256);
    let args = &rest[..end];
    memchr::memchr_iter(b'>', args).any(|k| {
        let mut m = k + 1;
        if args.get(m) == Some(&b'>') {
            m += 1;
        }
        if args.get(m) == Some(&b'&') {
            return args.get(m + 1).is_some_and(u8::is_ascii_digit);
        }
        while matches!(args.get(m), Some(b' ' | b'\t')) {
            m += 1;
        }
        matches!(args.get(m), Some(b'/' | b'~'))
    })
}

/// Whether `s` starts with a cmd.exe variable (`%username%`, `%path:~0,1%`).
fn windows_variable(s: &[u8]) -> bool {
    let name = s
        .iter()
        .skip(1)
        .take_while(|c| c.is_ascii_alphabetic() || **c == b'_')
        .count();
    name > 0 && matches!(s.get(1 + name), Some(b'%' | b':'))
}

/// Whether `s` starts with an http(s) or ftp URL.
fn url_at(s: &[u8]) -> bool {
    [&b"http://"[..], b"https://", b"ftp://"]
        .iter()
        .any(|p| s.starts_with(p))
}

/// Whether `s` starts with `name=` (options such as `+m` may come first).
fn alias_at(s: &[u8]) -> bool {
    let mut i = 0;
    for _ in 0..3 {
        skip_ws(s, &mut i);
        let n = s[i.min(s.len())..]
            .iter()
            .take_while(|c| !c.is_ascii_whitespace() && **c != b'=')
            .count();
        if n > 0 && s.get(i + n) == Some(&b'=') {
            return true;
        }
        if !matches!(s.get(i), Some(b'+' | b'-')) {
            return false;
        }
        i += n;
    }
    false
}

/// Whether `s` (after a `<`) is the rest of an HTML tag: `/item>`, ` b>`.
fn markup_tag(s: &[u8]) -> bool {
    let mut i = 0;
    skip_ws(s, &mut i);
    if s.get(i) == Some(&b'/') {
        i += 1;
    }
    let n = s[i.min(s.len())..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    n > 0 && s.get(i + n) == Some(&b'>')
}

/// Whether one of the next three words (before a separator) is an option (`-m`, `--list`).
fn option_follows(b: &[u8], mut j: usize) -> bool {
    for _ in 0..3 {
        skip_ws(b, &mut j);
        let w = word(b, j);
        if w == 0 {
            return false;
        }
        if b[j] == b'-' && b.get(j + 1).is_some_and(u8::is_ascii_alphabetic) || long_option(&b[j..])
        {
            return true;
        }
        j += w;
    }
    false
}

/// Whether `s` starts with a long option (`--list`); a prose dash ("more or less -- it")
/// is followed by a space.
fn long_option(s: &[u8]) -> bool {
    s.starts_with(b"--") && s.get(2).is_some_and(u8::is_ascii_alphanumeric)
}

/// A versioned interpreter name (`python3.10`, `php8`, any ASCII case): `Some(false)`
/// (strong).
fn versioned(cmd: &[u8]) -> Option<bool> {
    let base = cmd.iter().position(|c| c.is_ascii_digit())?;
    let (name, version) = cmd.split_at(base);
    let numeric = version.iter().all(|c| c.is_ascii_digit() || *c == b'.');
    (numeric
        && VERSIONED
            .iter()
            .any(|v| v.as_bytes().eq_ignore_ascii_case(name)))
    .then_some(false)
}

/// Length of a positional parameter (`$1`..`$9`) at the start of `s`: a command run by
/// `sh -c` has none, so inside a word it expands to nothing (`who$1ami`).
fn positional(s: &[u8]) -> Option<usize> {
    matches!(s, [b'$', b'1'..=b'9', ..]).then_some(2)
}

/// A known command word spelled with shell no-ops inside it (`'wh'oami`, `cu$@rl`, `c$_at`,
/// `pi``ng`, `pi$()ng`, `c\at`, cmd.exe's `w^ho^ami`): the shell runs the command, prose
/// never writes it so.
fn obfuscated_command(text: &str) -> Option<String> {
    // `$_`, `$?` and `$$` expand to a path, a status or a pid, but inside a word they only
    // hide it from filters (`c$_at`, `una$$me`).
    const NOOPS: [&[u8]; 11] = [
        b"$()", b"<()", b">()", b"``", b"$@", b"$*", b"$_", b"$?", b"$$", b"''", b"\"\"",
    ];
    let b = text.as_bytes();
    let mut start = 0;
    while start < b.len() {
        let end = b[start..]
            .iter()
            .position(|c| c.is_ascii_whitespace() || matches!(c, b';' | b'|' | b'&' | b'/'))
            .map_or(b.len(), |p| start + p);
        let raw = &b[start..end];
        if raw.len() <= OBFUSCATED_MAX && raw.iter().any(|c| is_quoting(*c)) {
            // On the stack: this runs on every quoted word of every value.
            let mut kept = [0u8; OBFUSCATED_MAX];
            let mut n = 0;
            let mut inside = false;
            // A kept byte no command name holds settles the word: skip the rest.
            let mut nameable = true;
            let mut k = 0;
            while k < raw.len() && nameable {
                if matches!(raw[k], b'$' | b'<' | b'>' | b'`' | b'\'' | b'"')
                    && let Some(len) = NOOPS
                        .iter()
                        .find(|op| raw[k..].starts_with(op))
                        .map(|op| op.len())
                        .or_else(|| unset_variable(&raw[k..]))
                        .or_else(|| positional(&raw[k..]))
                {
                    inside |= n > 0 && raw.get(k + len).is_some_and(u8::is_ascii_alphanumeric);
                    k += len;
                    continue;
                }
                let c = raw[k];
                if matches!(c, b'\'' | b'"' | b'\\' | b'^') {
                    inside |= n > 0 && raw.get(k + 1).is_some_and(u8::is_ascii_alphanumeric);
                } else {
                    // At most one byte kept per byte read: `n < raw.len() <= OBFUSCATED_MAX`.
                    kept[n] = c.to_ascii_lowercase();
                    n += 1;
                    nameable = is_word(c) || c == b'-' || c == b'.';
                }
                k += 1;
            }
            // Balanced quotes: `I'd` and `don't` are contractions, `'i'd` is not. Three or
            // more (`w'h'o'a'm'i`) are no contraction either: the application's own quote
            // around the value closes the last one.
            let balanced = || {
                [b'\'', b'"'].iter().all(|q| {
                    let n = raw.iter().filter(|c| *c == q).count();
                    n % 2 == 0 || n >= 3
                })
            };
            let clean = &kept[..n];
            // Carets escape only in cmd.exe, after a separator; a lone caret is also an
            // exponent (`e^x`), so it hides only a non-English name.
            let carets = raw.iter().filter(|c| **c == b'^').count();
            let after_separator = || {
                matches!(
                    b[..start].trim_ascii_end().last(),
                    Some(b'&' | b'|' | b';' | b'\n' | b'(')
                )
            };
            let escaped = carets < raw.iter().filter(|c| is_quoting(**c)).count()
                || after_separator() && (carets >= 2 || known(clean) == Some(false));
            if inside
                && escaped
                && nameable
                && clean.len() >= 2
                && (known(clean).is_some() || versioned(clean).is_some())
                && balanced()
            {
                return Some(String::from_utf8_lossy(raw).into_owned());
            }
        }
        start = end + 1;
    }
    None
}

/// Whether `c` quotes or escapes in a shell word.
fn is_quoting(c: u8) -> bool {
    matches!(c, b'\'' | b'"' | b'`' | b'$' | b'\\' | b'<' | b'>' | b'^')
}

/// [`command`] behind a bit filter over [`STRONG`], the names it knows: most words in
/// command position are no command, and the filter turns them away without hashing.
fn known(name: &[u8]) -> Option<bool> {
    if filtered_out(name) {
        return None;
    }
    command(name)
}

/// [`command_ignore_case`] behind the filter of [`known`].
fn known_ignore_case(name: &[u8]) -> Option<bool> {
    let mut buf = [0u8; 32];
    let lower = buf.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    if filtered_out(lower) {
        return None;
    }
    command_ignore_case(name)
}

/// Whether `name` is surely not in [`STRONG`] (its filter bit is clear).
fn filtered_out(name: &[u8]) -> bool {
    static FILTER: OnceLock<[u64; FILTER_WORDS]> = OnceLock::new();
    let filter = FILTER.get_or_init(|| {
        let mut f = [0u64; FILTER_WORDS];
        for c in STRONG {
            let bit = filter_bit(c.as_bytes());
            f[bit / 64] |= 1 << (bit % 64);
        }
        f
    });
    let bit = filter_bit(name);
    filter[bit / 64] & 1 << (bit % 64) == 0
}

/// Words of the [`known`] filter (64 bits each).
const FILTER_WORDS: usize = 64;

/// The filter bit of a name: from its length and first, second and last bytes.
fn filter_bit(name: &[u8]) -> usize {
    let at = |i: usize| usize::from(name.get(i).copied().unwrap_or(0));
    let last = usize::from(name.last().copied().unwrap_or(0));
    (at(0) * 1031 + at(1) * 131 + last * 17 + name.len() * 7) % (FILTER_WORDS * 64)
}

/// Longest word [`obfuscated_command`] reads.
const OBFUSCATED_MAX: usize = 48;

fn skip_ws(b: &[u8], i: &mut usize) {
    while *i < b.len() && matches!(b[*i], b' ' | b'\t') {
        *i += 1;
    }
}

/// Length of a shell word at `i` (command names, paths, options).
fn word(b: &[u8], i: usize) -> usize {
    b.get(i..).map_or(0, |rest| {
        rest.iter()
            .take_while(|&&c| GATES[usize::from(c)] & WORD != 0)
            .count()
    })
}

/// Whether the quote at `i` is the one of `I'd` as a word.
fn pronoun_contraction(b: &[u8], i: usize) -> bool {
    i >= 1
        && b[i - 1] == b'I'
        && (i == 1 || !is_word(b[i - 2]))
        && b.get(i + 1) == Some(&b'd')
        && b.get(i + 2).is_none_or(|c| !is_word(*c))
}

/// Undoes shell quoting tricks and lowercases.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    let mut brace = false;
    while i < b.len() {
        // Runs of bytes the match below would copy one by one go in as one lowercased slice.
        let run = b[i..]
            .iter()
            .position(|&c| GATES[usize::from(c)] & NORMALISE != 0)
            .unwrap_or(b.len() - i);
        if run > 0 {
            let from = out.len();
            out.push_str(&text[i..i + run]);
            out[from..].make_ascii_lowercase();
            i += run;
            continue;
        }
        let c = b[i];
        let rest = &b[i..];
        match c {
            // `ulimit' (GNU-style quoting in prose): an opening quote, not a substitution.
            b'`' if gnu_quote(&b[i + 1..]) => out.push(' '),
            // `I'd` (the pronoun, capitalised) stays a contraction: spliced, it reads `Id`,
            // which no Unix shell finds (`i'd` or `'i'd` still splice to `id`).
            b'\'' if pronoun_contraction(b, i) => out.push('\''),
            b'\'' | b'"' => {}
            // `c:\users`: a drive's backslash is a path, not quoting (`dir c:\users /s`).
            b'\\'
                if rest.get(1).is_some_and(|n| !n.is_ascii_whitespace())
                    && !(i >= 2
                        && b[i - 1] == b':'
                        && b[i - 2].is_ascii_alphabetic()
                        && (i == 2 || !is_word(b[i - 3]))) => {}
            b'$' => {
                let lower: Vec<u8> = rest.iter().take(6).map(u8::to_ascii_lowercase).collect();
                if lower.starts_with(b"${ifs}") {
                    out.push(' ');
                    i += 6;
                    continue;
                }
                if lower.starts_with(b"$ifs") {
                    out.push(' ');
                    i += 4;
                    continue;
                }
                match rest.get(1) {
                    Some(b'@' | b'*' | b'-' | b'!' | b'0'..=b'9') => i += 2,
                    Some(n) if n.is_ascii_alphabetic() => {
                        // An unset variable standing alone as a word expands to nothing.
                        let n = 1 + rest[1..].iter().take_while(|c| is_word(**c)).count();
                        if rest.get(n).is_none_or(|c| c.is_ascii_whitespace())
                            && (i == 0 || !is_word(b[i - 1]))
                        {
                            i += n;
                        } else {
                            out.push('$');
                            i += 1;
                        }
                    }
                    _ => {
                        out.push('$');
                        i += 1;
                    }
                }
                continue;
            }
            // `{cat,/etc/passwd}`: a comma inside the braces (`/users/{id}` has none). Glued
            // to a name (`/etc/{passwd,group}`, `BUILD_{LS,CH}`) the list only completes it.
            b'{' if (i == 0 || !(is_word(b[i - 1]) || matches!(b[i - 1], b'/' | b'.' | b'-')))
                && rest
                    .iter()
                    .skip(1)
                    .take_while(|c| **c != b'}')
                    .all(|c| !c.is_ascii_whitespace() && *c != b'{')
                && rest
                    .iter()
                    .skip(1)
                    .take_while(|c| **c != b'}')
                    .any(|c| *c == b',')
                // `{"pixel":"data:...;base64,R0l..."}`: a JSON object, not a brace list.
                && !rest[1..]
                    .split(|c| *c == b'}')
                    .next()
                    .is_some_and(|inner| inner.windows(2).any(|w| w == b"\":")) =>
            {
                brace = true;
                out.push(';');
            }
            b',' if brace => out.push(' '),
            b'}' if brace => {
                brace = false;
                out.push(' ');
            }
            b'<' if rest.get(1) != Some(&b'<') => out.push_str(" < "),
            _ if c.is_ascii() => out.push(char::from(c.to_ascii_lowercase())),
            _ => {
                let ch = text[i..].chars().next().unwrap_or(' ');
                out.extend(ch.to_lowercase());
                i += ch.len_utf8();
                continue;
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests;

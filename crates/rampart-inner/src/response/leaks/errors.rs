//! Stack traces and SQL error messages in backend responses: patterns that need the
//! structure of a real frame or driver message (file and line, error codes, driver
//! class names), not words like "exception" or "syntax error" that prose uses too.
//! Each pattern also matches inside a JSON string, where line breaks are `\n` and
//! quotes `\"`. Repetitions are unbounded on purpose: the regex engine runs in linear
//! time, and bounded ones over Unicode classes compile to huge automata.

use std::sync::LazyLock;

use regex::bytes::{Regex, RegexSet};

/// `(rule, pattern)`: rule names the language or database.
const PATTERNS: &[(&str, &str)] = &[
    // Java and JVM languages: `at com.acme.Orders.get(Orders.java:42)`.
    (
        "stack-trace:java",
        r"(?:^|\s|\\[nt])at (?:[\w$]+\.)+[\w$<>]+\((?:[\w$-]+\.(?:java|kt|scala|groovy):\d+|Native Method|Unknown Source)\)",
    ),
    // Python: `File "/app/orders.py", line 12, in get`.
    (
        "stack-trace:python",
        r#"File \\?"[^"\n\\]+\\?", line \d+, in [\w<>]+"#,
    ),
    // .NET: `at Acme.Orders.Get(Int32 id) in C:\src\Orders.cs:line 42`, framework frames.
    (
        "stack-trace:dotnet",
        r"at [\w.`<>\[\],]+\([^()\n]*\) in [^\n]+?:line \d+|--- End of (?:inner exception )?stack trace|\bat (?:System|Microsoft)\.[\w.`]+\([^()\n]*\)",
    ),
    // PHP: `#0 /var/www/orders.php(12): get()`, `Fatal error: ... in /x.php on line 3`.
    (
        "stack-trace:php",
        r"#\d+ [^\n]+?\.php\(\d+\): |(?:Fatal error|Parse error|Warning|Notice)(?:</b>)?: [^\n]+? in (?:<b>)?[^\s<]+\.php(?:</b>)? on line (?:<b>)?\d+",
    ),
    // Node.js: `at getOrder (/app/orders.js:10:15)`, `at /app/x.mjs:1:2`, internals.
    (
        "stack-trace:node",
        r"\bat (?:async )?(?:[\w$.<>\[\]]+ )?\((?:file://)?[^\s()]+\.(?:js|mjs|cjs|ts):\d+:\d+\)|\bat (?:file://)?/[^\s()]+\.(?:js|mjs|cjs|ts):\d+:\d+|\(node:internal/[\w/]+:\d+:\d+\)",
    ),
    // Go: `goroutine 1 [running]:`, `/app/main.go:42 +0x1d`.
    (
        "stack-trace:go",
        r"goroutine \d+ \[[\w ,]+\]:|\.go:\d+ \+0x[0-9a-f]+",
    ),
    // Ruby: `/app/models/order.rb:12:in 'find'` (backtick or quote).
    ("stack-trace:ruby", r"[\w./-]+\.rb:\d+:in [`'][^'\n]+'"),
    (
        "sql-error:mysql",
        r"You have an error in your SQL syntax|check the manual that corresponds to your (?:MySQL|MariaDB) server version|\bERROR \d{4} \([0-9A-Z]{5}\)|\bmysqli?_(?:fetch|query|num_rows|connect)\w*\(\)|com\.mysql\.(?:cj\.)?jdbc|Unknown column '[^'\n]+' in '(?:field list|where clause|order clause)'",
    ),
    (
        "sql-error:postgresql",
        r#"\bERROR: {1,2}(?:syntax error at or near|relation \\?"[^"\n]+\\?" does not exist|column \\?"[^"\n]+\\?" does not exist|unterminated quoted string|invalid input syntax for)|\bPG::\w+Error|org\.postgresql\.util\.PSQLException|\bpsycopg2?\.(?:errors\.[A-Z]\w+|\w+Error)|\bpg_(?:query|exec)\(\): "#,
    ),
    (
        "sql-error:oracle",
        r"\bORA-\d{5}: |oracle\.jdbc\.\w+|quoted string not properly terminated|SQL command not properly ended",
    ),
    (
        "sql-error:mssql",
        r"Unclosed quotation mark after the character string|Incorrect syntax near (?:the keyword )?'|System\.Data\.SqlClient\.SqlException|Microsoft\.Data\.SqlClient|\[Microsoft\]\[ODBC (?:SQL Server )?Driver|\bMsg \d+, Level \d+, State \d+|Microsoft OLE DB Provider for SQL Server",
    ),
    (
        "sql-error:sqlite",
        r#"\bSQLITE_(?:ERROR|CONSTRAINT|MISMATCH)\b|\bsqlite3\.(?:OperationalError|IntegrityError|DatabaseError)|SQLite3::\w+Exception|\bSQLiteException|\bnear \\?"[^"\n\\]+\\?": syntax error|unrecognized token: \\?""#,
    ),
];

struct Compiled {
    set: RegexSet,
    each: Vec<Regex>,
}

static COMPILED: LazyLock<Option<Compiled>> = LazyLock::new(|| {
    let sources = PATTERNS.iter().map(|(_, p)| *p);
    let set = RegexSet::new(sources.clone()).ok()?;
    let each = sources.map(Regex::new).collect::<Result<_, _>>().ok()?;
    Some(Compiled { set, each })
});

/// Whether the built-in patterns compiled (checked once at startup: a broken table
/// must stop the process, not disable the detector).
pub(crate) fn ready() -> bool {
    COMPILED.is_some()
}

/// The first match of every pattern that matches `text`: `(rule, start..end)`.
pub(crate) fn find(text: &[u8]) -> Vec<(&'static str, std::ops::Range<usize>)> {
    let Some(c) = COMPILED.as_ref() else {
        return Vec::new();
    };
    c.set
        .matches(text)
        .iter()
        .filter_map(|i| {
            let m = c.each[i].find(text)?;
            Some((PATTERNS[i].0, m.range()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<&'static str> {
        find(text.as_bytes()).into_iter().map(|(r, _)| r).collect()
    }

    #[test]
    fn every_pattern_compiles() {
        for (rule, pattern) in PATTERNS {
            if let Err(e) = Regex::new(pattern) {
                panic!("{rule}: {e}");
            }
        }
        assert!(ready());
    }

    #[test]
    fn finds_stack_traces_and_not_prose_about_exceptions() {
        let traces = [
            (
                "java.lang.NullPointerException\n\tat com.acme.Orders.get(Orders.java:42)\n",
                "stack-trace:java",
            ),
            (
                r#"{"error":"java.lang.IllegalStateException: x\n\tat com.acme.Orders.get(Orders.java:42)"}"#,
                "stack-trace:java",
            ),
            (
                "Traceback (most recent call last):\n  File \"/app/orders.py\", line 12, in get\n",
                "stack-trace:python",
            ),
            (
                r#"{"detail":"Traceback ...\n  File \"/app/views.py\", line 3, in <module>"}"#,
                "stack-trace:python",
            ),
            (
                "System.InvalidOperationException: bad\n   at Acme.Orders.Get(Int32 id) in C:\\src\\Orders.cs:line 42",
                "stack-trace:dotnet",
            ),
            (
                "   at System.Data.SqlClient.SqlConnection.Open()",
                "stack-trace:dotnet",
            ),
            (
                "Stack trace:\n#0 /var/www/html/orders.php(12): get_order()\n#1 {main}",
                "stack-trace:php",
            ),
            (
                "<b>Fatal error</b>: Uncaught Error in <b>/var/www/x.php</b> on line <b>3</b>",
                "stack-trace:php",
            ),
            (
                "TypeError: x is undefined\n    at getOrder (/app/src/orders.js:10:15)",
                "stack-trace:node",
            ),
            (
                "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
                "stack-trace:node",
            ),
            (
                "panic: runtime error\n\ngoroutine 1 [running]:\nmain.main()\n",
                "stack-trace:go",
            ),
            ("\t/app/main.go:42 +0x1d", "stack-trace:go"),
            (
                "/app/models/order.rb:12:in `find': boom (RuntimeError)",
                "stack-trace:ruby",
            ),
        ];
        for (text, rule) in traces {
            assert_eq!(rules(text), [rule], "{text}");
        }
        let prose = [
            "We throw an exception at the boundary and log it.",
            "An exception occurred at 10:30:15 (see the status page).",
            "File \"report.pdf\" uploaded, line 3 of the form.",
            "Meet me at home (Java.Meetup at 7pm).",
            "Goroutine leaks are common: see the Go blog at go.dev.",
            "Ruby 3.2 is used at work; in 'production' mode it is fast.",
            "at least (3 of 5) tests failed in orders.js yesterday",
            "Warning: this product contains nuts in every.php on sale",
            "Error code 500 at the gateway: please retry.",
            r#"{"message":"Order 42 could not be shipped: address missing"}"#,
        ];
        for text in prose {
            assert_eq!(rules(text), Vec::<&str>::new(), "{text}");
        }
    }

    #[test]
    fn finds_sql_errors_and_not_a_blog_post_about_sql() {
        let errors = [
            (
                "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version",
                "sql-error:mysql",
            ),
            ("ERROR 1064 (42000) at line 1", "sql-error:mysql"),
            ("Unknown column 'foo' in 'where clause'", "sql-error:mysql"),
            (
                "ERROR:  syntax error at or near \"FROM\"\nLINE 1: SELECT",
                "sql-error:postgresql",
            ),
            (
                r#"{"error":"ERROR: relation \"users\" does not exist"}"#,
                "sql-error:postgresql",
            ),
            (
                "psycopg2.errors.UndefinedTable: relation",
                "sql-error:postgresql",
            ),
            (
                "ORA-00933: SQL command not properly ended",
                "sql-error:oracle",
            ),
            (
                "Unclosed quotation mark after the character string ''.",
                "sql-error:mssql",
            ),
            ("Msg 102, Level 15, State 1, Line 1", "sql-error:mssql"),
            (
                "sqlite3.OperationalError: near \"FROM\": syntax error",
                "sql-error:sqlite",
            ),
            ("SQLITE_ERROR: no such table: users", "sql-error:sqlite"),
        ];
        for (text, rule) in errors {
            assert_eq!(rules(text), [rule], "{text}");
        }
        let blog = [
            "In MySQL you can check the manual for your server version before upgrading.",
            "A syntax error near the keyword SELECT is the most common beginner mistake.",
            "Oracle errors such as ORA-12345 are documented online.",
            "SELECT * FROM users WHERE id = 1; -- the classic example",
            "We use SQLite for tests and PostgreSQL in production; the relation users exists.",
            "Learn SQL: joins, relations, and error handling in 10 minutes.",
            r#"{"title":"Why your SQL query is slow","tags":["mysql","postgres"]}"#,
        ];
        for text in blog {
            assert_eq!(rules(text), Vec::<&str>::new(), "{text}");
        }
    }
}

//! SQL injection shapes next to prose that shares their words.

use super::detect;

#[test]
fn detects_injection_shapes() {
    let attacks = [
        "1 or 1=1",
        "' or '1'='1",
        "admin'--",
        "admin' #",
        "x') or ('x'='x",
        "-1839\" or \"1\"=\"2",
        "1' and 526=527",
        "foo') UNION ALL select NULL --",
        "1 union select password from users",
        "the id is 5 union select 1, 2, 3 from users",
        "1/**/UNION/**/SELECT/**/1,2",
        "1 /*!50000union*/ /*!50000select*/ 1",
        "'; drop table users--",
        "x'; drop table users cascade;--",
        "\"x\" or \"1\"=\"1\"--",
        "\"--\" or 1=1--",
        "1; truncate table audit_log",
        "1; exec master..xp_cmdshell 'dir'",
        "foo')waitfor delay'5:0:20'--",
        "1 and sleep(5)",
        "sleep(5)#",
        "'='",
        "x'='x",
        "1e0union select 1,2",
        "1.e(ascii(1))union select 1",
        "1 and benchmark(10000000,md5(1))",
        "' or 1--",
        "' || '1'='1",
        "1 and (select 1 from dual)=1",
        "1=(select count(*) from users)",
        "x' and if(1=1,sleep(5),0)--",
        "' and ascii(substring(user(),1,1))>64--",
        "1' order by 5--",
        "' into outfile '/tmp/x'--",
        "2010-01-01'+sleep(20.to_i)+'",
        "1;select @@version",
        "1 or true",
        "-1 OR 3*2=6",
        "') or true--",
        "or 1=1",
        "' GROUP BY columnnames HAVING 1=1 --",
        "42 AND null",
        "20 and rating >= 4",
        "x' and username='admin",
    ];
    for a in attacks {
        assert!(detect(a).is_some(), "missed: {a}");
    }
}

#[test]
fn passes_prose_and_data() {
    let legit = [
        "select your plan",
        "Select a plan from our offers",
        "O'Reilly",
        "Drop us a line",
        "Drop Table Leaf Hinge, Brass (2-pack)",
        "\"etag-3f1c9a--gzip\"",
        "W/\"a--1\", \"b--2\"",
        "1 or 2 items",
        "I'd like to union two sets",
        "so anyone could have appended a UNION SELECT. We fixed the SQL injection",
        "Tom's car and Jerry's bike",
        "it's -- great",
        "sleep(8 hours) is healthy",
        "SELECT-Pro 3000 Vacuum (Black/Silver)",
        "use the '=' sign",
        "'=' is assignment",
        "version 1.2e3union",
        "Rock 'n' roll",
        "the union of soviet republics",
        "Die \"Union von Europa\"",
        "price >= 10 and quality high",
        "a < b and c > d",
        "email@example.com",
        "2024-01-02",
        "He said \"hello\" and left",
        "I'm here; select the best one",
        "update your profile",
        "delete my account please",
        "Price range: 10 < x < 20 and rating >= 4",
        "Sleep(8%20hours)%20is%20the%20best",
        "true or false",
        "1 or true friends",
        "groups having 2 or more members",
        "or else! and then?",
        "(see above) or later",
        "3*2=6 is basic math",
    ];
    for l in legit {
        assert_eq!(detect(l), None, "flagged: {l}");
    }
}

#[test]
fn finds_values_sent_inside_a_parameter_name_and_grouped_comparisons() {
    let attacks = [
        "pay=OR (7319=8742)",
        "pay=&&(l=!0)",
        "pay=||(c=!1)",
        "pay= SET @OLD_SQL_NOTES",
        "q=' or 1=1--",
        "AND (name = \"",
        "||(null!=",
    ];
    for a in attacks {
        assert!(detect(a).is_some(), "missed: {a}");
    }
    let legit = [
        "name=O'Reilly",
        "q=select your plan",
        "or (see above) later",
        "and (as noted) more",
        "x=1 or 2 items",
        "filter[a.b]=price >= 10 and quality high",
    ];
    for l in legit {
        assert_eq!(detect(l), None, "flagged: {l}");
    }
}

/// Quoted words that start like a comment or a keyword, prose comparisons and template
/// markers, next to the injections they resemble.
#[test]
fn tells_quoted_words_from_string_breaks() {
    let attacks = [
        "admin'--",
        "admin'-- 'x",
        "admin'#",
        "x'--a'",
        "1' and starts_with(password) and 'true",
        "x\\' or glob(id,id);",
        "'glob 1;",
        "1='1' or-- -",
        "b,1=1",
        "'{\"a\":2}' < '$.a' = 7",
        "1 waitfor delay '0:0:5'",
        "(@@version)",
        "1 having 1=",
        "pay=or pmw==",
        "24'union+all+select+1,2",
    ];
    for a in attacks {
        assert!(detect(a).is_some(), "missed: {a}");
    }
    let legit = [
        "use the \"--verbose\" option",
        "\"--stress\" option",
        "<a href=\"#top\">Top</a>",
        "<a href=\"doc/CHANGELOG.md#1.0.0\">1.0.0</a>",
        "if the \"select\" method fails",
        "if ($x eq 'EXEC') {",
        "when \"exec\" and \"print\" are used",
        "min() or max() is extended",
        "stdin (0) or stderr (2) is closed",
        "status 106 and \"restart stop\" in stdout (without",
        "and found != 0 at line 998",
        "dlopen@@GLIBC_2.2.5",
        "\"@@DIFF@@\"",
        "Select plan type (monthly)",
        "it's 'fine' or 'not",
        "and '!!' to '!' are enabled",
        "let x: Oid<'static> = oid!(1.2);",
        "x=1,y=1",
        "24+union+station",
    ];
    for l in legit {
        assert_eq!(detect(l), None, "flagged: {l}");
    }
}

/// Session 10: prose, code and markup that share a shape's first tokens, next to the
/// injections the shape is for.
#[test]
fn tells_prose_and_code_from_breaks_and_conditions() {
    let table = [
        // A comment after a break: crafted suffixes do not make it a quoted word.
        ("a b'-- 'x", "use the \"--\" option"),
        ("a b'--'x", "<a href=\"#top\">Top</a>"),
        ("admin'-- 'x", "href=\"index.html#AEN30\""),
        ("admin'--", "\"---------------------\","),
        ("admin'#", "Use '#!/usr/bin/python' instead"),
        ("x'--", "NODE_OPTIONS=\"--report-uncaught-exception"),
        ("x'/*", "patches 'contrib/coccinelle/*.pending.cocci'"),
        // `'or'` quoted in prose, or glued as the classic break.
        ("a'or'a", "logical 'or' of equal expressions"),
        ("' or 'x", "do not consider ' and \" to have"),
        ("\"!\"", "restore missing \"!\" in the test"),
        // Code compares with `==`; SQL with `=`.
        ("1 or 1=1", "if len(a) == 0 or len(b) == 0:"),
        ("x') or ('x'='x", "if (!ok || (count == 0)) {"),
        ("b,1=1", "// OK, 1 == 1"),
        // A call doing SQL work, not a comparison in parentheses.
        ("x' and if(1=1,sleep(5),0)--", "(X > 0) or disable (X == 0)"),
        (
            "1 and (select 1 from dual)=1",
            "implementations (select(), poll())",
        ),
        (
            "1; exec master..xp_cmdshell 'dir'",
            "exec() might read past the end",
        ),
        ("1;select @@version", "dereference (@) operators"),
        (
            "2010-01-01'+sleep(20.to_i)+'",
            ">>> def fake(t):\n...     print \"sleep(%s) called\" % t",
        ),
        // Statements and clauses.
        ("1;insert into t select 1", "Insert into the slot (gently)"),
        (
            "x'select * from users--",
            "he said 'select * from users' is a query",
        ),
        (") like (", "a) like (b)"),
        ("DR/**/OP/*x*/sampletable", "a/**/b"),
        (
            "pay=or 1=1",
            "and libstdc++ >= 6.0.25 (`x`). These are available",
        ),
        (
            "x=1 and y=1",
            "sb=0 and sb=1. Value coverage is now complete.",
        ),
        ("1 and 3<4", "so 2 > 1 and 3 < 4, that's math"),
        ("exec (@sql)", "Exec (1) or case (2)?"),
        ("1;shutdown #", "shutdown #1326 (closed) -- see #1326"),
        ("1 having 1=1", "I'm having 1=1 moments every day"),
        // An apostrophe glued to a contraction is English, not a break.
        ("admin' order by 5--", "Tom's order #5"),
        ("x' or 1=1--", "Where's order #123?"),
        ("admin'--", "Tom's order -- shipped"),
        ("x' group by 1#", "Sam's (2nd) group #3"),
        // French elision before `Or` (gold) is prose; an operator or comment after is not.
        ("d'Or 1=1--", "Le Ballon d'Or 2026"),
        ("x'Or 2026", "Val-d'Or 2026"),
        ("d'Or 1 or '", "l'Or noir"),
        ("x' or 1 or '", "it's 'x' or 0 or 'y'"),
        ("') or true or ('", "pick 'A' or 1 or 'B'"),
        ("' or not 0 or '", "'x' or not 0 or 'y' in prose"),
        ("' or 0x1 or '", "' or 0 or '"),
        ("ad'Or 2026", "Côte d'Or"),
    ];
    for (attack, legit) in table {
        assert!(detect(attack).is_some(), "missed: {attack}");
        assert_eq!(detect(legit), None, "flagged: {legit}");
    }
}

/// Session 11: grouped operands and arithmetic facts next to the constant conditions they
/// look like.
#[test]
fn tells_arithmetic_and_grouped_words_from_constant_conditions() {
    let table = [
        ("1 or (1)=(1)", "ratio or (total) = 5"),
        ("1 or (1=1)", "(see above) or (a) = b"),
        ("1=1 and 2*3=6", "1+1=2 and 2*3=6"),
        ("x=1 and 2*3=6", "1 1=2 and 2*3=6"),
        ("-1 OR 3*2=6", "2 + 2 = 4 and 3 * 3 = 9, so"),
        ("1 and 3<4", "so 2 > 1 and 3 < 4, that's math"),
        // A view still holding an encoded space is read decoded (see `decode::encoded_space`).
        ("x' or 1=1--", "x'%20or%201=1--"),
        (
            "he said 'x' or 1=1--",
            "he%20said%20'select%20*%20from%20users'",
        ),
    ];
    for (attack, legit) in table {
        assert!(detect(attack).is_some(), "missed: {attack}");
        assert_eq!(detect(legit), None, "flagged: {legit}");
    }
}

/// Each attack must be found and each legitimate value pass.
fn table(attacks: &[&str], legit: &[&str]) {
    for a in attacks {
        assert!(detect(a).is_some(), "missed {a:?}");
    }
    for l in legit {
        assert_eq!(detect(l), None, "flagged {l:?}");
    }
}

#[test]
fn member_of_compares_like_in() {
    table(
        &[
            "1' AND 3 MEMBER OF('[1,2,3]')-- -",
            "1' AND 3 MEMBER OF('[1,2,3]') AND JSON_OVERLAPS('[1]','[1]')-- -",
            "x' or 1 member of ('[1]') #",
        ],
        &[
            "Anna, 3 members of the team are out",
            "She is a member of the board",
            "member of (the) club",
        ],
    );
}

#[test]
fn no_break_spaces_separate_tokens_as_mysql_reads_them() {
    table(
        &[
            "admin'\u{a0}or\u{a0}'1'='1",
            "admin'\u{fffd}or\u{fffd}'1'='1",
        ],
        &[
            "Caf\u{e9}\u{a0}Ol\u{e9} opens at 8",
            "O\u{fffd}Reilly\u{a0}Media",
            "10\u{a0}000\u{a0}EUR or more",
        ],
    );
}

#[test]
fn a_group_the_value_opened_is_no_breakout() {
    table(
        &["1) AND 1=1", "x) AND rating >= 4", "1)) OR (1=1"],
        &[
            "(type:article OR type:tutorial) AND published_at > 1717200000 AND NOT tags:deprecated",
            "(genres = \"science fiction\" OR genres = adventure) AND rating >= 4.2",
            "(a OR b) AND id > 5",
        ],
    );
}

#[test]
fn an_exact_phrase_search_is_no_statement() {
    table(
        &[
            "\" select password from users--",
            "\"select password from users",
            "\"select version()\"",
            "\" select @@version \"",
            "\"select password\"from users",
        ],
        &[
            "\"select committee\" report on energy prices site:parliament.uk",
            "\"select all\" checkbox",
            "\"select committee\"",
            "title:\"select committee on health\" -draft",
        ],
    );
}

#[test]
fn a_conditional_subquery_is_sql() {
    table(
        &[
            "50 OFFSET (SELECT CASE WHEN unicode(substr(sqlite_version(),1,1))=51 THEN 0 ELSE 100 END)",
            "(select case when (1=1) then name else id end)",
        ],
        &[
            "Please select case when ordering (the blue one)",
            "(select case then end)",
            "(Select case when you pack)",
        ],
    );
}

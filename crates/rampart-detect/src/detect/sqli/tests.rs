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
        "1/**/UNION/**/SELECT/**/1,2",
        "1 /*!50000union*/ /*!50000select*/ 1",
        "'; drop table users--",
        "1; exec master..xp_cmdshell 'dir'",
        "foo')waitfor delay'5:0:20'--",
        "1 and sleep(5)",
        "sleep(5)#",
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
        "1 or 2 items",
        "I'd like to union two sets",
        "Tom's car and Jerry's bike",
        "it's -- great",
        "sleep(8 hours) is healthy",
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

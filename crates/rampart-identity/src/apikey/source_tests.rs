#![allow(clippy::unwrap_used, clippy::type_complexity)]

use http::{HeaderMap, HeaderValue, Uri};

use super::*;

fn request(header: &[&str], uri: &str) -> (HeaderMap, Uri) {
    let mut h = HeaderMap::new();
    for v in header {
        h.append("x-api-key", HeaderValue::from_str(v).unwrap());
    }
    (h, uri.parse().unwrap())
}

#[test]
fn extracts_from_header_or_allowed_query_and_removes_the_parameter() {
    let both = ApiKeySource {
        header: Some(HeaderName::from_static("x-api-key")),
        query: Some("api_key".into()),
    };
    let header_only = ApiKeySource {
        query: None,
        ..both.clone()
    };
    let long_key = "k".repeat(257);
    let long = [long_key.as_str()];
    type Want<'a> = Result<(Option<&'a str>, Option<&'a str>), KeyRejection>;
    let cases: Vec<(&ApiKeySource, &[&str], &str, Want<'_>)> = vec![
        (&both, &["K"], "/a?x=1", Ok((Some("K"), None))),
        (
            &both,
            &[],
            "/a?x=1&api_key=K&y=%20z&&w",
            Ok((Some("K"), Some("/a?x=1&y=%20z&&w"))),
        ),
        (&both, &[], "/a?api_key=K", Ok((Some("K"), Some("/a")))),
        (&both, &[], "/a?api_key=K&b", Ok((Some("K"), Some("/a?b")))),
        (
            &both,
            &[],
            "http://h:1/a;p?api_key=K",
            Ok((Some("K"), Some("http://h:1/a;p"))),
        ),
        (&both, &[], "/a?my_api_key=K&api_keys=L", Ok((None, None))),
        (
            &both,
            &[],
            "/a?api_key=K&api_key=L",
            Err(KeyRejection::Ambiguous),
        ),
        (&both, &["K"], "/a?api_key=K", Err(KeyRejection::Ambiguous)),
        (&both, &["K", "L"], "/a", Err(KeyRejection::Ambiguous)),
        (&header_only, &[], "/a?api_key=K", Ok((None, None))),
        (&both, &long, "/a", Err(KeyRejection::TooLong)),
    ];
    for (source, header, uri, want) in cases {
        let (h, u) = request(header, uri);
        let got = source.extract(&h, &u).map(|e| {
            (
                e.key
                    .map(|k| String::from_utf8(k.as_bytes().to_vec()).unwrap()),
                e.uri.map(|u| u.to_string()),
            )
        });
        let want = want.map(|(k, u)| (k.map(str::to_owned), u.map(str::to_owned)));
        assert_eq!(got, want, "{header:?} {uri}");
    }
}

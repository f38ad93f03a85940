use rampart_test_support::stack::Bins;

pub(crate) fn bins() -> Bins {
    Bins {
        edge: env!("CARGO_BIN_EXE_e2e-edge").into(),
        inner: env!("CARGO_BIN_EXE_e2e-inner").into(),
    }
}

/// Asserts an RFC 9457 problem response with `reason` and a request id matching the
/// `x-request-id` header, and nothing else in the body.
pub(crate) fn assert_problem(
    response: &rampart_test_support::client::Collected,
    status: u16,
    reason: &str,
) {
    assert_eq!(
        response.status.as_u16(),
        status,
        "body: {:?}",
        response.body
    );
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    let body = response.json();
    assert_eq!(body["reason"], reason);
    assert_eq!(body["status"], status);
    let id = response
        .header("x-request-id")
        .expect("x-request-id header");
    assert_eq!(body["request_id"], id);
    assert_eq!(
        body.as_object().unwrap().len(),
        5,
        "unexpected fields: {body}"
    );
}

/// An admin API answer.
pub(crate) struct AdminReply {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: String,
}

impl AdminReply {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    pub(crate) fn request_id(&self) -> String {
        self.header("x-request-id").expect("x-request-id")
    }
}

/// One admin API call over a fresh HTTP/1.1 connection (bearer `token`, extra
/// `headers`, a JSON `body` on anything but GET).
pub(crate) fn admin_call(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: &str,
) -> AdminReply {
    use std::io::{Read as _, Write as _};
    let connect = std::time::Duration::from_secs(2);
    let mut tcp = std::net::TcpStream::connect_timeout(&addr, connect).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if method != "GET" {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body);
    tcp.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = tcp.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    AdminReply {
        status: head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// Uploads `size` pattern bytes to the backend's `/count` through `edge` and checks the
/// backend received exactly them (count and checksum); `label` names the case in failures.
pub(crate) async fn stream_upload(edge: std::net::SocketAddr, size: u64, label: &str) {
    use http_body_util::BodyExt;
    use rampart_test_support::backend::{Fnv, fill_pattern, pattern_body};

    let started = std::time::Instant::now();
    let request = http::Request::builder()
        .method("POST")
        .uri("/count")
        .header("host", "api.example.test")
        .header("content-length", size)
        .body(pattern_body(size))
        .unwrap();
    let response = rampart_test_support::client::http1(edge, request)
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{label}");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let summary: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let mut expected = Fnv::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut offset = 0;
    while offset < size {
        let n = buf.len().min(usize::try_from(size - offset).unwrap());
        fill_pattern(&mut buf[..n], offset);
        expected.update(&buf[..n]);
        offset += n as u64;
    }
    assert_eq!(summary["bytes"], size, "{label}");
    assert_eq!(
        summary["fnv"], expected.0,
        "{label}: upload arrived altered"
    );
    eprintln!("{label}: {size} B upload in {:?}", started.elapsed());
}

/// Downloads `size` pattern bytes from the backend's `/download/N` through `edge`,
/// checking the length header and every byte as it streams in.
pub(crate) async fn stream_download(edge: std::net::SocketAddr, size: u64, label: &str) {
    use http_body_util::BodyExt;
    use rampart_test_support::backend::{Fnv, fill_pattern};

    let started = std::time::Instant::now();
    let request = http::Request::builder()
        .uri(format!("/download/{size}"))
        .header("host", "api.example.test")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = rampart_test_support::client::http1(edge, request)
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{label}");
    assert_eq!(
        response.headers()["content-length"],
        size.to_string().as_str(),
        "{label}"
    );
    let mut body = response.into_body();
    let (mut received, mut got, mut want) = (0u64, Fnv::default(), Fnv::default());
    let mut expected = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame.unwrap().data_ref() {
            expected.resize(data.len(), 0);
            fill_pattern(&mut expected, received);
            want.update(&expected);
            got.update(data);
            received += data.len() as u64;
        }
    }
    assert_eq!(received, size, "{label}");
    assert_eq!(got.0, want.0, "{label}: download arrived altered");
    eprintln!("{label}: {size} B download in {:?}", started.elapsed());
}

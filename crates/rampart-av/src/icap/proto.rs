//! ICAP request encoding without I/O (RFC 3507 §4.4-4.5).
//!
//! A REQMOD carries a synthetic `POST /scan HTTP/1.1` request whose body is the data to
//! scan, chunked; with a Preview the first `n` bytes go first and the last preview chunk
//! says `ieof` when they are the whole body.

use super::url::IcapUrl;

const USER_AGENT: &str = concat!("rampart-av/", env!("CARGO_PKG_VERSION"));
/// Body chunks sent after the preview; any size is legal, this keeps writes even.
pub(crate) const CHUNK: usize = 64 * 1024;
/// The last chunk of a body (or of a preview that is not the whole body).
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";
/// The last chunk of a preview that holds the whole body.
pub(crate) const LAST_CHUNK_IEOF: &[u8] = b"0; ieof\r\n\r\n";

/// `OPTIONS` for the service.
pub(crate) fn options_request(url: &IcapUrl) -> Vec<u8> {
    format!(
        "OPTIONS {url} ICAP/1.0\r\nHost: {}\r\nUser-Agent: {USER_AGENT}\r\nEncapsulated: null-body=0\r\n\r\n",
        url.authority()
    )
    .into_bytes()
}

/// How the body of one REQMOD is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// An empty body: `null-body`, nothing after the HTTP head. (c-icap answers an empty
    /// preview with `ieof` by echoing the request with 200, not with 204.)
    NoBody,
    /// No preview: the whole body, then the last chunk.
    Whole,
    /// The first `len` bytes are the whole body: they go with `ieof`, no 100 Continue.
    PreviewAll {
        /// Bytes in the preview.
        len: usize,
    },
    /// The first `len` bytes, then wait for 100 Continue before the rest.
    PreviewThenRest {
        /// Bytes in the preview.
        len: usize,
    },
}

impl Plan {
    /// The plan for a body of `body_len` bytes when the server advertised `preview`.
    pub(crate) fn new(body_len: usize, preview: Option<usize>) -> Self {
        match preview {
            _ if body_len == 0 => Self::NoBody,
            None => Self::Whole,
            Some(p) if body_len <= p => Self::PreviewAll { len: body_len },
            Some(p) => Self::PreviewThenRest { len: p },
        }
    }

    fn preview(self) -> Option<usize> {
        match self {
            Self::NoBody | Self::Whole => None,
            Self::PreviewAll { len } | Self::PreviewThenRest { len } => Some(len),
        }
    }
}

/// The ICAP head and the encapsulated HTTP request head of a REQMOD for `body_len` bytes.
pub(crate) fn reqmod_head(url: &IcapUrl, body_len: usize, plan: Plan) -> Vec<u8> {
    let http = format!(
        "POST /scan HTTP/1.1\r\nHost: rampart-av.invalid\r\nContent-Length: {body_len}\r\n\r\n"
    );
    let preview = plan
        .preview()
        .map(|n| format!("Preview: {n}\r\n"))
        .unwrap_or_default();
    let body = if plan == Plan::NoBody {
        "null-body"
    } else {
        "req-body"
    };
    let mut head = format!(
        "REQMOD {url} ICAP/1.0\r\nHost: {}\r\nUser-Agent: {USER_AGENT}\r\nAllow: 204\r\n{preview}Encapsulated: req-hdr=0, {body}={}\r\n\r\n",
        url.authority(),
        http.len()
    )
    .into_bytes();
    head.extend_from_slice(http.as_bytes());
    head
}

/// The size line of a chunk of `len` bytes (`len` > 0); the data and a CRLF follow.
pub(crate) fn chunk_header(len: usize) -> Vec<u8> {
    format!("{len:x}\r\n").into_bytes()
}

/// Appends `data` as one chunk (empty data appends nothing: a zero chunk would end the body).
pub(crate) fn push_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if !data.is_empty() {
        out.extend_from_slice(&chunk_header(data.len()));
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
}

/// The preview part of a REQMOD body for `plan`: its chunk and its last chunk.
pub(crate) fn preview_bytes(body: &[u8], plan: Plan) -> Vec<u8> {
    let mut out = Vec::new();
    match plan {
        Plan::NoBody | Plan::Whole => {}
        Plan::PreviewAll { len } => {
            push_chunk(&mut out, &body[..len.min(body.len())]);
            out.extend_from_slice(LAST_CHUNK_IEOF);
        }
        Plan::PreviewThenRest { len } => {
            push_chunk(&mut out, &body[..len.min(body.len())]);
            out.extend_from_slice(LAST_CHUNK);
        }
    }
    out
}

/// The body bytes still to send after the preview (all of them without one).
pub(crate) fn remainder(body: &[u8], plan: Plan) -> &[u8] {
    match plan {
        Plan::Whole => body,
        Plan::NoBody | Plan::PreviewAll { .. } => &[],
        Plan::PreviewThenRest { len } => &body[len.min(body.len())..],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> IcapUrl {
        "icap://127.0.0.1:1344/avscan".parse().unwrap()
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn encapsulated_offset_points_past_the_http_head() {
        for (len, plan) in [
            (0, Plan::Whole),
            (10, Plan::Whole),
            (5, Plan::PreviewAll { len: 5 }),
            (2048, Plan::PreviewThenRest { len: 1024 }),
        ] {
            let head = text(&reqmod_head(&url(), len, plan));
            let (icap, http) = head.split_once("\r\n\r\n").unwrap();
            let offset: usize = icap
                .lines()
                .find_map(|l| l.strip_prefix("Encapsulated: req-hdr=0, req-body="))
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(offset, http.len(), "{head}");
            assert!(http.starts_with("POST /scan HTTP/1.1\r\n"), "{head}");
            assert!(
                http.contains(&format!("Content-Length: {len}\r\n")),
                "{head}"
            );
            assert!(http.ends_with("\r\n\r\n"), "{head}");
            assert!(icap.starts_with("REQMOD icap://127.0.0.1:1344/avscan ICAP/1.0\r\n"));
            assert!(icap.contains("\r\nAllow: 204\r\n"));
            match plan.preview() {
                Some(n) => assert!(icap.contains(&format!("\r\nPreview: {n}\r\n")), "{head}"),
                None => assert!(!icap.contains("Preview"), "{head}"),
            }
        }
    }

    #[test]
    fn previews_say_ieof_only_when_they_hold_the_whole_body() {
        let body = b"0123456789";
        let table = [
            (None, Plan::Whole, "", &body[..]),
            (
                Some(10),
                Plan::PreviewAll { len: 10 },
                "a\r\n0123456789\r\n0; ieof\r\n\r\n",
                &b""[..],
            ),
            (
                Some(64),
                Plan::PreviewAll { len: 10 },
                "a\r\n0123456789\r\n0; ieof\r\n\r\n",
                &b""[..],
            ),
            (
                Some(4),
                Plan::PreviewThenRest { len: 4 },
                "4\r\n0123\r\n0\r\n\r\n",
                &b"456789"[..],
            ),
            (
                Some(0),
                Plan::PreviewThenRest { len: 0 },
                "0\r\n\r\n",
                &body[..],
            ),
        ];
        for (preview, plan, bytes, rest) in table {
            assert_eq!(Plan::new(body.len(), preview), plan, "{preview:?}");
            assert_eq!(text(&preview_bytes(body, plan)), bytes, "{preview:?}");
            assert_eq!(remainder(body, plan), rest, "{preview:?}");
        }
        // An empty body is a null-body, with or without a preview.
        for preview in [None, Some(0), Some(1024)] {
            assert_eq!(Plan::new(0, preview), Plan::NoBody);
        }
        assert_eq!(preview_bytes(b"", Plan::NoBody), b"");
        assert_eq!(remainder(b"", Plan::NoBody), b"");
        let head = text(&reqmod_head(&url(), 0, Plan::NoBody));
        let (icap, http) = head.split_once("\r\n\r\n").unwrap();
        assert!(
            icap.ends_with(&format!(
                "Encapsulated: req-hdr=0, null-body={}",
                http.len()
            )),
            "{head}"
        );
        assert!(!icap.contains("Preview"), "{head}");
    }

    #[test]
    fn chunks_carry_hex_sizes_and_never_an_early_zero() {
        let mut out = Vec::new();
        push_chunk(&mut out, &[b'x'; 255]);
        push_chunk(&mut out, b"");
        let s = text(&out);
        assert!(s.starts_with("ff\r\n"));
        assert!(s.ends_with("x\r\n"));
        assert_eq!(s.len(), 4 + 255 + 2);
        assert_eq!(text(&chunk_header(65_536)), "10000\r\n");
    }

    #[test]
    fn options_request_has_a_null_body() {
        let req = text(&options_request(&url()));
        assert!(req.starts_with("OPTIONS icap://127.0.0.1:1344/avscan ICAP/1.0\r\n"));
        assert!(req.contains("\r\nHost: 127.0.0.1:1344\r\n"));
        assert!(req.ends_with("Encapsulated: null-body=0\r\n\r\n"));
    }
}

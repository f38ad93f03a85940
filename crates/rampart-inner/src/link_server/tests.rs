use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use rampart_core::id::RequestId;
use rampart_proto::h2link::{self, FORWARD_PATH, encode};
use rampart_proto::v1::{
    End, Forwarding, RequestHead, RequestPart, ResponsePart, request_part, response_part,
};
use rampart_service::shutdown;

use super::{Limits, LinkServer, conn};
use crate::exchange::{PartStream, Router};

const LIMITS: Limits = Limits {
    handshake_timeout: Duration::from_secs(5),
    ping_interval: Duration::from_secs(30),
    ping_timeout: Duration::from_secs(5),
    max_message: 64 * 1024,
};

/// A router without routes: every exchange is answered 404 by the inner itself.
fn server(limits: Limits) -> Arc<LinkServer> {
    let router = Router::empty();
    Arc::new(LinkServer {
        router: Arc::new(arc_swap::ArcSwap::from_pointee(router)),
        others: tonic::service::Routes::default(),
        limits,
    })
}

fn head_part() -> RequestPart {
    let id = RequestId::generate();
    RequestPart {
        part: Some(request_part::Part::Head(RequestHead {
            method: "GET".into(),
            scheme: "https".into(),
            authority: "api.example.com".into(),
            path_and_query: "/orders".into(),
            forwarding: Some(Forwarding {
                request_id: id.as_str().into(),
                client_ip: "192.0.2.7".into(),
                traceparent: id.traceparent(),
                ..Default::default()
            }),
            ..Default::default()
        })),
    }
}

fn end_part() -> RequestPart {
    RequestPart {
        part: Some(request_part::Part::End(End::default())),
    }
}

fn framed(parts: &[RequestPart]) -> Bytes {
    let mut out = BytesMut::new();
    for part in parts {
        encode(part, &mut out);
    }
    out.freeze()
}

/// A connected client and the task serving the other end.
async fn connect(
    server: Arc<LinkServer>,
    shutdown: shutdown::Shutdown,
) -> (
    h2::client::SendRequest<Bytes>,
    tokio::task::JoinHandle<()>,
    tokio::task::JoinHandle<()>,
) {
    let (client_io, server_io) = tokio::io::duplex(256 * 1024);
    let serving = tokio::spawn(async move { conn::serve(&server, server_io, shutdown).await });
    let (send, connection) = h2::client::handshake(client_io).await.expect("handshake");
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    (send, serving, driver)
}

fn request(method: http::Method, path: &str) -> http::Request<()> {
    let mut request = http::Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = format!("http://inner{path}").parse().expect("uri");
    request
}

/// What came back on a stream: the response parts and the final `grpc-status`.
async fn answer(response: h2::client::ResponseFuture) -> (Vec<ResponsePart>, i32) {
    let response = response.await.expect("response");
    assert_eq!(response.status(), 200);
    if let Some(status) = response.headers().get("grpc-status") {
        return (Vec::new(), status.to_str().unwrap().parse().unwrap());
    }
    let mut recv = response.into_body();
    let mut buf = BytesMut::new();
    while let Some(data) = recv.data().await {
        let data = data.expect("data");
        let _ = recv.flow_control().release_capacity(data.len());
        buf.put(data);
    }
    let mut parts = Vec::new();
    while let Some(part) = h2link::decode::<ResponsePart>(&mut buf, 1 << 20).expect("framed") {
        parts.push(part);
    }
    assert!(buf.is_empty(), "no partial message");
    let trailers = recv
        .trailers()
        .await
        .expect("trailers")
        .expect("grpc-status");
    let status = trailers["grpc-status"].to_str().unwrap().parse().unwrap();
    (parts, status)
}

fn status_of(parts: &[ResponsePart]) -> Option<u32> {
    match parts.first()?.part.as_ref()? {
        response_part::Part::Head(head) => Some(head.status),
        _ => None,
    }
}

/// The edge's messages are decoded however the frames cut them, and every refusal
/// of a malformed stream is a gRPC status, never a hang.
#[tokio::test]
async fn forward_streams_are_answered_however_framed_and_bad_ones_get_a_status() {
    let whole = framed(&[head_part(), end_part()]);
    let mut oversize = BytesMut::new();
    oversize.put_u8(0);
    oversize.put_u32(u32::try_from(LIMITS.max_message + 1).unwrap());
    let mut compressed = whole.to_vec();
    compressed[0] = 1;
    /// Name, method, the DATA frames sent, the problem status expected (none for a
    /// gRPC error) and the `grpc-status`.
    type Case = (&'static str, http::Method, Vec<Bytes>, Option<u32>, i32);
    let cases: Vec<Case> = vec![
        (
            "one frame",
            http::Method::POST,
            vec![whole.clone()],
            Some(404),
            0,
        ),
        (
            "split inside the prefix and the message",
            http::Method::POST,
            vec![whole.slice(..3), whole.slice(3..9), whole.slice(9..)],
            Some(404),
            0,
        ),
        (
            "over the size limit",
            http::Method::POST,
            vec![oversize.freeze()],
            None,
            tonic::Code::InvalidArgument as i32,
        ),
        (
            "compressed flag",
            http::Method::POST,
            vec![Bytes::from(compressed)],
            None,
            tonic::Code::InvalidArgument as i32,
        ),
        (
            "body part first",
            http::Method::POST,
            vec![framed(&[end_part()])],
            None,
            tonic::Code::InvalidArgument as i32,
        ),
        (
            "ends inside a message",
            http::Method::POST,
            vec![whole.slice(..7)],
            None,
            tonic::Code::InvalidArgument as i32,
        ),
        (
            "not POST",
            http::Method::PUT,
            vec![whole],
            None,
            tonic::Code::Unimplemented as i32,
        ),
    ];
    let (_trigger, shutdown) = shutdown::channel();
    let (send, _serving, _driver) = connect(server(LIMITS), shutdown).await;
    for (name, method, frames, want_status, want_grpc) in cases {
        let mut send = send.clone().ready().await.expect("ready");
        let (response, mut stream) = send
            .send_request(request(method, FORWARD_PATH), false)
            .expect("send");
        let last = frames.len() - 1;
        for (i, frame) in frames.into_iter().enumerate() {
            stream.send_data(frame, i == last).expect("data");
            tokio::task::yield_now().await;
        }
        let (parts, grpc) = tokio::time::timeout(Duration::from_secs(10), answer(response))
            .await
            .unwrap_or_else(|_| panic!("{name}: no answer"));
        assert_eq!(grpc, want_grpc, "{name}");
        assert_eq!(status_of(&parts), want_status, "{name}");
        if want_status.is_some() {
            assert!(
                matches!(
                    parts.last().and_then(|p| p.part.as_ref()),
                    Some(response_part::Part::End(_))
                ),
                "{name}: the answer ends with its end marker"
            );
        }
    }
}

/// Calls other than `Forward` go to tonic (here: no services, so `Unimplemented`).
#[tokio::test]
async fn other_calls_are_handed_to_tonic() {
    let (_trigger, shutdown) = shutdown::channel();
    let (send, _serving, _driver) = connect(server(LIMITS), shutdown).await;
    let mut send = send.ready().await.expect("ready");
    let mut req = request(http::Method::POST, "/rampart.v1.Forwarder/Ping");
    req.headers_mut()
        .insert("content-type", "application/grpc".parse().unwrap());
    let (response, _stream) = send.send_request(req, true).expect("send");
    let (_, grpc) = answer(response).await;
    assert_eq!(grpc, tonic::Code::Unimplemented as i32);
}

/// On shutdown the connection refuses new streams but the open exchange completes;
/// then the connection ends.
#[tokio::test]
async fn shutdown_lets_the_open_exchange_finish_then_closes() {
    let (trigger, shutdown) = shutdown::channel();
    let (send, serving, _driver) = connect(server(LIMITS), shutdown).await;
    let mut send = send.ready().await.expect("ready");
    let (response, mut stream) = send
        .send_request(request(http::Method::POST, FORWARD_PATH), false)
        .expect("send");
    // The stream is open (headers sent) before the shutdown.
    stream.send_data(Bytes::new(), false).expect("data");
    tokio::time::sleep(Duration::from_millis(50)).await;
    trigger.fire();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !serving.is_finished(),
        "the open exchange holds the connection"
    );
    stream
        .send_data(framed(&[head_part(), end_part()]), true)
        .expect("data");
    let (parts, grpc) = answer(response).await;
    assert_eq!((status_of(&parts), grpc), (Some(404), 0));
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("the connection ends once drained")
        .expect("task");
}

/// A peer that stops answering pings is dropped after interval + timeout.
#[tokio::test]
async fn an_edge_that_stops_answering_pings_is_dropped() {
    let limits = Limits {
        ping_interval: Duration::from_millis(50),
        ping_timeout: Duration::from_millis(100),
        ..LIMITS
    };
    let (_trigger, shutdown) = shutdown::channel();
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = server(limits);
    let serving = tokio::spawn(async move { conn::serve(&server, server_io, shutdown).await });
    let (_send, connection) = h2::client::handshake(client_io).await.expect("handshake");
    // Drive the client long enough to settle the handshake, then stop polling it.
    let mut connection = Box::pin(connection);
    let _ = tokio::time::timeout(Duration::from_millis(20), &mut connection).await;
    tokio::time::timeout(Duration::from_secs(2), serving)
        .await
        .expect("the silent connection is closed")
        .expect("task");
    drop(connection);
}

/// A reset from the edge while the inner waits on the answer drops the answer (and
/// with it the backend exchange).
#[tokio::test]
async fn a_reset_while_waiting_drops_the_answer() {
    struct Pending(Arc<AtomicBool>);
    impl futures_util::Stream for Pending {
        type Item = Result<ResponsePart, tonic::Status>;
        fn poll_next(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Pending
        }
    }
    impl Drop for Pending {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let parts: PartStream = Box::pin(Pending(dropped.clone()));
    let serving = tokio::spawn(async move {
        let mut conn = h2::server::handshake(server_io).await.expect("handshake");
        let (_request, respond) = conn.accept().await.expect("stream").expect("ok");
        let answering = tokio::spawn(super::forward::send_parts(respond, parts));
        // Keep driving the connection while the answer waits.
        tokio::select! {
            _ = conn.accept() => {}
            _ = answering => {}
        }
    });
    let (send, connection) = h2::client::handshake(client_io).await.expect("handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut send = send.ready().await.expect("ready");
    let (response, mut stream) = send
        .send_request(request(http::Method::POST, FORWARD_PATH), false)
        .expect("send");
    let response = response.await.expect("headers");
    assert_eq!(response.status(), 200);
    stream.send_reset(h2::Reason::CANCEL);
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("the answer stops")
        .expect("task");
    assert!(dropped.load(Ordering::Acquire), "the answer was dropped");
}

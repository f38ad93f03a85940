//! `GET /admin/stream`: Server-Sent Events for the dashboard.
//!
//! Events: `audit` (each audit record as it is written), `overview` (status, totals, top
//! lists and false-positive groups with the `[admin] peers`' added in, and the peers'
//! recent decision records, every [`TICK`]) and `lagged` (records were skipped
//! because the client read too slowly). A stream ends after [`STREAM_MAX`] (the browser
//! reconnects by itself), at shutdown, or when the client stops reading for
//! [`SEND_TIMEOUT`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http::header::{self, HeaderValue};
use http_body_util::BodyExt;
use tokio::sync::broadcast::error::RecvError;

use super::AdminState;
use super::api::Body;
use crate::shutdown::Shutdown;

/// How often the overview is pushed.
pub(crate) const TICK: Duration = Duration::from_secs(2);
/// Longest life of one stream.
const STREAM_MAX: Duration = Duration::from_secs(10 * 60);
/// A client that does not take an event within this is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Top-N lists and groups in the overview.
const TOP: usize = 8;
const GROUPS: usize = 12;
/// Recent decision records of each peer in the overview.
const PEER_EVENTS: usize = 50;

fn frame(event: &str, data: &str) -> Bytes {
    // serde_json output has no raw newlines, so one `data:` line carries it whole.
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

pub(crate) async fn overview(state: &AdminState) -> String {
    let events = state.auditor.events();
    let tops = serde_json::to_value(events.tops(TOP)).unwrap_or_default();
    let groups = serde_json::to_value(events.groups(GROUPS)).unwrap_or_default();
    serde_json::json!({
        "status": state.status_document().await,
        "tops": state.peers.merge_tops(tops, TOP),
        "groups": state.peers.merge_groups(groups, GROUPS),
        "history": state.history(),
        // The peers' decision records; the page merges them with its own stream's.
        "peer_events": state.peers.events(PEER_EVENTS),
    })
    .to_string()
}

/// Opens a stream; the events are produced by a task that ends with the stream.
pub(crate) fn open(state: Arc<AdminState>, shutdown: Shutdown) -> Response<Body> {
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes>::new(16);
    let mut records = state.auditor.subscribe();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        let end = tokio::time::sleep(STREAM_MAX);
        tokio::pin!(end);
        let stop = shutdown.signalled();
        tokio::pin!(stop);
        // A comment first, so the client sees the stream open at once.
        if tx
            .send_data(Bytes::from_static(b": rampart\nretry: 3000\n\n"))
            .await
            .is_err()
        {
            return;
        }
        loop {
            let frame = tokio::select! {
                record = records.recv() => match record {
                    Ok(record) => frame("audit", &serde_json::to_string(&*record).unwrap_or_default()),
                    Err(RecvError::Lagged(n)) => frame("lagged", &n.to_string()),
                    Err(RecvError::Closed) => break,
                },
                _ = tick.tick() => {
                    let cached = state.overview.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    match cached {
                        Some(cached) => frame("overview", &cached),
                        None => frame("overview", &overview(&state).await),
                    }
                }
                () = &mut end => break,
                () = &mut stop => break,
            };
            match tokio::time::timeout(SEND_TIMEOUT, tx.send_data(frame)).await {
                Ok(Ok(())) => {}
                _ => break,
            }
        }
    });
    let mut response = Response::new(body.boxed());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

//! One link connection: the HTTP/2 handshake under a deadline, the accept loop that
//! drives the connection, keep-alive pings, and GOAWAY on shutdown.

use std::sync::Arc;

use bytes::Bytes;
use rampart_proto::h2link::FORWARD_PATH;
use rampart_service::shutdown::Shutdown;
use tokio::time::Instant;

use super::{LinkServer, forward};

/// h2's own limits for a link connection. The edge is authenticated, but a
/// compromised edge must still not be able to make the inner hold unbounded state.
fn builder() -> h2::server::Builder {
    let mut builder = h2::server::Builder::new();
    builder
        .initial_window_size(1024 * 1024)
        .initial_connection_window_size(8 * 1024 * 1024)
        .max_frame_size(16 * 1024)
        .max_concurrent_streams(1024)
        // Link requests carry their head in a message; the header block is a few names.
        .max_header_list_size(16 * 1024)
        .max_send_buffer_size(1024 * 1024)
        .max_concurrent_reset_streams(64)
        .max_pending_accept_reset_streams(64);
    builder
}

/// Serves `io` until the edge closes it, a ping goes unanswered, or shutdown drained it.
pub(super) async fn serve<T>(server: &Arc<LinkServer>, io: T, shutdown: Shutdown)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let limits = server.limits;
    let handshake = builder().handshake::<_, Bytes>(io);
    let mut conn = match tokio::time::timeout(limits.handshake_timeout, handshake).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "link HTTP/2 handshake failed");
            return;
        }
        Err(_) => {
            tracing::warn!("link HTTP/2 handshake timed out");
            return;
        }
    };
    let Some(mut pings) = conn.ping_pong() else {
        return; // taken once, here: cannot happen
    };
    let stop = shutdown.signalled();
    tokio::pin!(stop);
    let mut stopping = false;
    // The next ping is due when the timer fires; while one is out, the timer is its deadline.
    let mut awaiting_pong = false;
    let timer = tokio::time::sleep(limits.ping_interval);
    tokio::pin!(timer);
    loop {
        tokio::select! {
            accepted = conn.accept() => match accepted {
                Some(Ok((request, respond))) => {
                    let server = server.clone();
                    // Boxed: an exchange's future is several KiB, which the task would
                    // otherwise copy on spawn and again on completion.
                    tokio::spawn(async move {
                        if request.uri().path() == FORWARD_PATH {
                            Box::pin(forward::serve(&server, request, respond)).await;
                        } else {
                            Box::pin(forward::other(&server, request, respond)).await;
                        }
                    });
                }
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "link connection failed");
                    return;
                }
                None => return,
            },
            () = &mut stop, if !stopping => {
                // No new exchanges; the open ones finish, then `accept` ends.
                stopping = true;
                conn.graceful_shutdown();
            }
            pong = std::future::poll_fn(|cx| pings.poll_pong(cx)), if awaiting_pong => match pong {
                Ok(_) => {
                    awaiting_pong = false;
                    timer.as_mut().reset(Instant::now() + limits.ping_interval);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "link keep-alive failed");
                    return;
                }
            },
            () = &mut timer => {
                if awaiting_pong {
                    tracing::warn!("link keep-alive ping unanswered; closing the connection");
                    return;
                }
                if let Err(e) = pings.send_ping(h2::Ping::opaque()) {
                    tracing::debug!(error = %e, "link keep-alive failed");
                    return;
                }
                awaiting_pong = true;
                timer.as_mut().reset(Instant::now() + limits.ping_timeout);
            }
        }
    }
}

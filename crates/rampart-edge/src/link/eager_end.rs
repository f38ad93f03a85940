//! A link request body that reports its end together with its last data frame.
//!
//! tonic's client body only learns that its message stream is over on the poll after
//! the last message, so hyper follows the last DATA frame with an empty DATA frame
//! carrying END_STREAM: one more frame, TLS record and write per exchange, and a window
//! in which the inner may answer before the request stream is closed (it then resets
//! the stream). Looking one frame ahead when the next one is already there lets the last
//! DATA frame carry END_STREAM itself. Nothing else changes: frames, their order and
//! errors pass through as they are, and a body that ends without its end marker still
//! ends without it (the inner aborts that exchange either way).

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// The body tonic builds for a link call.
pub(super) type LinkBody = tonic::body::Body;

type Polled = Result<Frame<Bytes>, tonic::Status>;

/// [`LinkBody`] with one frame of look-ahead after each data frame.
pub(super) struct EagerEnd {
    inner: LinkBody,
    /// A frame read while looking for the end, handed out next.
    ahead: Option<Polled>,
    /// The inner body returned its end.
    done: bool,
}

impl EagerEnd {
    pub(super) fn new(inner: LinkBody) -> Self {
        Self {
            inner,
            ahead: None,
            done: false,
        }
    }
}

impl Body for EagerEnd {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Polled>> {
        let this = self.get_mut();
        let frame = match this.ahead.take() {
            Some(frame) => frame,
            None if this.done => return Poll::Ready(None),
            None => match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(frame) => frame,
                None => {
                    this.done = true;
                    return Poll::Ready(None);
                }
            },
        };
        // Only data can be followed by an end worth announcing; a pending look-ahead
        // leaves the waker registered and is polled again on the next call.
        if frame.as_ref().is_ok_and(Frame::is_data) {
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(next)) => this.ahead = Some(next),
                Poll::Ready(None) => this.done = true,
                Poll::Pending => {}
            }
        }
        Poll::Ready(Some(frame))
    }

    fn is_end_stream(&self) -> bool {
        self.ahead.is_none() && (self.done || self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        match &self.ahead {
            None if self.done => SizeHint::with_exact(0),
            // The frame read ahead is not counted by the inner body any more.
            Some(_) => SizeHint::default(),
            None => self.inner.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// One scripted poll: `Some(Ok)` data, `Some(Err)` a failure, `None` pending.
    type Step = Option<Result<&'static str, &'static str>>;

    /// A body scripted poll by poll (a pending poll is woken at once); the script's end
    /// is the body's end.
    struct Script(VecDeque<Step>);

    impl Body for Script {
        type Data = Bytes;
        type Error = tonic::Status;

        fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Polled>> {
            match self.0.pop_front() {
                None => Poll::Ready(None),
                Some(None) => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                Some(Some(Ok(data))) => Poll::Ready(Some(Ok(Frame::data(Bytes::from(data))))),
                Some(Some(Err(why))) => Poll::Ready(Some(Err(tonic::Status::cancelled(why)))),
            }
        }
    }

    /// What hyper sees: each data frame with whether the body said it was the last,
    /// `!` for an error, and `<end>` for an end reported by a separate poll (the extra
    /// empty DATA frame).
    fn frames_seen(script: &[Step]) -> Vec<String> {
        let mut body = EagerEnd::new(LinkBody::new(Script(script.iter().copied().collect())));
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut seen = Vec::new();
        for _ in 0..64 {
            match Pin::new(&mut body).poll_frame(&mut cx) {
                Poll::Pending => continue,
                Poll::Ready(None) => {
                    seen.push("<end>".to_owned());
                    break;
                }
                Poll::Ready(Some(Err(_))) => seen.push("!".to_owned()),
                Poll::Ready(Some(Ok(frame))) => {
                    let data = frame.into_data().unwrap_or_default();
                    let text = String::from_utf8_lossy(&data).into_owned();
                    if body.is_end_stream() {
                        seen.push(format!("{text} (last)"));
                        break;
                    }
                    seen.push(text);
                }
            }
        }
        seen
    }

    #[test]
    fn the_last_data_frame_carries_the_end_only_when_the_end_is_already_there() {
        let cases: &[(&[Step], &[&str])] = &[
            // Everything ready: the end rides on the last frame.
            (&[Some(Ok("a"))], &["a (last)"]),
            (&[Some(Ok("a")), Some(Ok("b"))], &["a", "b (last)"]),
            // The end not there yet when the last frame is handed out: a separate end.
            (&[Some(Ok("a")), None], &["a", "<end>"]),
            (&[Some(Ok("a")), None, Some(Ok("b"))], &["a", "b (last)"]),
            // A failure after data is passed on and never reported as the end.
            (&[Some(Ok("a")), Some(Err("broken"))], &["a", "!", "<end>"]),
            (
                &[Some(Ok("a")), None, Some(Err("broken"))],
                &["a", "!", "<end>"],
            ),
            // No data at all.
            (&[], &["<end>"]),
        ];
        for (script, want) in cases {
            assert_eq!(frames_seen(script), *want, "script {script:?}");
        }
    }

    #[test]
    fn a_body_that_ended_stays_ended_and_reports_no_size() {
        let mut body = EagerEnd::new(LinkBody::new(Script([Some(Ok("abc"))].into())));
        assert!(!body.is_end_stream());
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(matches!(
            Pin::new(&mut body).poll_frame(&mut cx),
            Poll::Ready(Some(Ok(_)))
        ));
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
        assert!(matches!(
            Pin::new(&mut body).poll_frame(&mut cx),
            Poll::Ready(None)
        ));
    }
}

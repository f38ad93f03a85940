//! Deadlines that start when a request body has been sent whole.
//!
//! Both tiers wait for an answer (the inner tier's head, the backend's first byte) with a
//! deadline that must not eat the time a large upload takes, so the clock starts only
//! once the body was handed on.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

/// The wait ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

/// Runs `work`, allowing it `timeout` from the moment `body_sent` turns true. If the
/// sender is dropped without turning true, no deadline is armed here: the caller's own
/// outer deadline (or the failing body) ends the wait.
pub async fn after_body_sent<F: Future>(
    work: F,
    mut body_sent: watch::Receiver<bool>,
    timeout: Duration,
) -> Result<F::Output, Elapsed> {
    tokio::pin!(work);
    let expiry = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(expiry);
    let mut armed = false;
    loop {
        tokio::select! {
            output = &mut work => return Ok(output),
            () = &mut expiry, if armed => return Err(Elapsed),
            sent = body_sent.wait_for(|sent| *sent), if !armed => {
                armed = true;
                if sent.is_ok() {
                    expiry.as_mut().reset(tokio::time::Instant::now() + timeout);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_clock_starts_when_the_body_is_sent() {
        let (tx, rx) = watch::channel(false);
        // Work that takes 10 s with a 2 s timeout, the body sent after 30 s: times out
        // 2 s after the body, not 2 s after the start.
        let started = tokio::time::Instant::now();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            tx.send_replace(true);
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        let work = tokio::time::sleep(Duration::from_secs(100));
        assert_eq!(
            after_body_sent(work, rx, Duration::from_secs(2)).await,
            Err(Elapsed)
        );
        assert_eq!(started.elapsed(), Duration::from_secs(32));

        let (_tx, rx) = watch::channel(true);
        let work = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            7
        };
        assert_eq!(
            after_body_sent(work, rx, Duration::from_secs(2)).await,
            Ok(7)
        );
    }
}

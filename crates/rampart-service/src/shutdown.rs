//! Termination: SIGTERM/SIGINT trigger a graceful stop that the tiers observe through
//! a [`Shutdown`] handle.

use tokio::sync::watch;

/// Triggers shutdown.
#[derive(Debug, Clone)]
pub struct Trigger(watch::Sender<bool>);

/// Observes shutdown. Cheap to clone; every clone sees the same signal.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A connected trigger and observer.
pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger(tx), Shutdown(rx))
}

impl Trigger {
    /// Starts the shutdown; idempotent.
    pub fn fire(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// Resolves once shutdown was triggered (or the trigger was dropped).
    pub async fn signalled(mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// True once shutdown was triggered.
    pub fn is_signalled(&self) -> bool {
        *self.0.borrow()
    }
}

/// Resolves on the first SIGTERM or SIGINT.
pub async fn termination_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received, draining"),
                _ = int.recv() => tracing::info!("SIGINT received, draining"),
            }
        }
        _ => {
            tracing::error!("cannot install signal handlers; stop with SIGKILL");
            std::future::pending::<()>().await;
        }
    }
}

/// A shutdown handle fired by the first termination signal.
pub fn on_termination_signal() -> Shutdown {
    let (trigger, shutdown) = channel();
    tokio::spawn(async move {
        termination_signal().await;
        trigger.fire();
    });
    shutdown
}

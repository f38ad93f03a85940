//! Hot reloading of file-backed IP lists by polling the files' stamps.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::time::MissedTickBehavior;

use super::file::{self, Stamp};
use super::{IpListError, IpLists, IpSet};

/// What a reload poll found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReloadEvent {
    /// A changed file parsed cleanly and its set replaced the old one.
    Reload {
        /// The list's name.
        list: String,
        /// Disjoint ranges in the new set.
        ranges: usize,
    },
    /// A changed file could not be used; the list keeps its last good set.
    KeepPrevious {
        /// The list's name.
        list: String,
        /// Why the file was refused.
        error: IpListError,
    },
}

#[derive(Debug)]
struct Watched {
    name: String,
    path: PathBuf,
    set: Arc<ArcSwap<IpSet>>,
    stamp: Stamp,
}

/// Polls the files behind [`IpLists`] and swaps in a list's new set when its file
/// changed (modification time or size) and parses cleanly. A file that fails keeps the
/// last good set; the failure is reported once per change.
#[derive(Debug)]
pub struct IpListWatcher {
    files: Vec<Watched>,
    period: Duration,
}

impl IpListWatcher {
    /// Watches every file-backed list of `lists`, polling every `period`.
    pub fn new(lists: &IpLists, period: Duration) -> Self {
        let mut files: Vec<Watched> = lists
            .lists
            .iter()
            .filter_map(|(name, entry)| {
                let (path, stamp) = entry.source.clone()?;
                Some(Watched {
                    name: name.clone(),
                    path,
                    set: entry.set.clone(),
                    stamp,
                })
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Self { files, period }
    }

    /// Looks at every file once; returns what changed.
    pub async fn poll(&mut self) -> Vec<ReloadEvent> {
        let mut events = Vec::new();
        for w in &mut self.files {
            let (stamp, outcome) = file::reload_if_changed(&w.path, w.stamp).await;
            w.stamp = stamp;
            match outcome {
                None => {}
                Some(Ok(set)) => {
                    let ranges = set.ranges();
                    w.set.store(Arc::new(set));
                    events.push(ReloadEvent::Reload {
                        list: w.name.clone(),
                        ranges,
                    });
                }
                Some(Err(error)) => events.push(ReloadEvent::KeepPrevious {
                    list: w.name.clone(),
                    error,
                }),
            }
        }
        events
    }

    /// Polls every period until `stop` resolves, handing each event to `report`
    /// (typically a log line).
    pub async fn run(
        mut self,
        mut report: impl FnMut(ReloadEvent),
        stop: impl Future<Output = ()>,
    ) {
        let mut ticks = tokio::time::interval(self.period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut work = std::pin::pin!(async move {
            ticks.tick().await; // the first tick is immediate; the lists were just loaded
            loop {
                ticks.tick().await;
                for event in self.poll().await {
                    report(event);
                }
            }
        });
        let mut stop = std::pin::pin!(stop);
        std::future::poll_fn(|cx| match stop.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(()),
            Poll::Pending => work.as_mut().poll(cx),
        })
        .await;
    }
}

//! Threat-intelligence address feeds (`[[feeds]]`): lists fetched on a schedule from an
//! HTTPS URL (or read from a file), validated, size-capped and swapped in atomically.
//!
//! ```toml
//! [[feeds]]
//! name = "drop"
//! url = "https://feeds.example/drop.txt"   # or file = "/var/lib/rampart/feeds/drop.txt"
//! format = "drop"                          # or "cidr"
//! refresh = "1h"
//! max_bytes = "8MiB"
//! max_entries = 200000
//! stale_after = "6h"
//! cache_dir = "/var/lib/rampart/feeds"     # optional: last good copy survives restarts
//! ca_file = "/etc/rampart/feed-ca.pem"     # optional: roots added to the system bundle
//! action = "deny"                          # or "list": only usable from ip_policy
//! ```
//!
//! A feed is a named address list like those of `[ip_lists]`: with `action = "deny"` it is
//! added to the global `[ip_policy] deny`, so a denial is audited with the feed name as
//! the rule. An update is parsed on a blocking thread and published with one pointer swap;
//! a refused update (unreachable, non-200, timeout, oversize, unparsable, suddenly empty)
//! keeps the last good copy. After `stale_after` without a good refresh the feed logs a
//! warning and records a `feed-stale` system event, once per stale spell.
//!
//! What it does not do: it never blocks a request (until the first good copy a URL feed
//! without a cached copy lists nothing), and it never follows redirects.

mod config;
mod fetch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http::Uri;
use rampart_http::IpLists;
use rampart_http::feeds::{FeedError, FeedFormat, FeedHandle, parse_feed};

pub(crate) use self::config::{RawFeed, validate};
use self::fetch::{Fetched, Fetcher, Validators};

/// What a feed's entries do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedAction {
    /// Added to the global deny list.
    Deny,
    /// Only a named list that `ip_policy` sections may refer to.
    List,
}

enum Source {
    Url {
        uri: Uri,
        tls: Arc<rustls::ClientConfig>,
        allow_plain_http: bool,
        connect_timeout: Duration,
    },
    File(PathBuf),
}

#[derive(Default)]
struct State {
    /// When the copy in use was last confirmed good (fetched, or its cache written).
    last_ok: Option<SystemTime>,
    validators: Validators,
    stale_reported: bool,
    failures: u64,
}

/// A feed's validated settings.
struct Spec {
    name: String,
    action: FeedAction,
    source: Source,
    format: FeedFormat,
    refresh: Duration,
    max_bytes: u64,
    max_entries: usize,
    stale_after: Duration,
    timeout: Duration,
    cache: Option<PathBuf>,
}

/// One configured feed and the copy it publishes.
pub struct Feed {
    spec: Spec,
    handle: FeedHandle,
    started: SystemTime,
    state: Mutex<State>,
}

impl Spec {
    /// Registers the feed's list, starting from its file (file feeds) or else its cached
    /// copy, and says when that copy was last confirmed; a broken start leaves the list
    /// empty and is retried by the first refresh.
    fn initial_copy(&self, lists: &mut IpLists) -> (FeedHandle, Option<SystemTime>) {
        let mut candidates: Vec<(&Path, bool)> = Vec::new();
        if let Source::File(path) = &self.source {
            candidates.push((path, false));
        }
        if let Some(cache) = &self.cache {
            candidates.push((cache, true));
        }
        for (path, cached) in candidates {
            let parsed = fetch::read_file_blocking(path, self.max_bytes)
                .and_then(|bytes| parse_feed(&bytes, self.format, self.max_entries));
            match parsed {
                Ok(feed) => {
                    let entries = feed.entries;
                    let handle = lists.insert_feed(&self.name, feed.set, entries);
                    let confirmed = if cached {
                        std::fs::metadata(path).and_then(|m| m.modified()).ok()
                    } else {
                        Some(SystemTime::now())
                    };
                    tracing::info!(feed = %self.name, entries, cached, "feed loaded");
                    return (handle, confirmed);
                }
                Err(FeedError::Fetch(_)) if cached => {}
                Err(error) => {
                    tracing::warn!(feed = %self.name, file = %path.display(), error = %error, "feed copy refused at start");
                }
            }
        }
        (
            lists.insert_feed(&self.name, rampart_http::IpSet::default(), 0),
            None,
        )
    }
}

impl Feed {
    /// Takes over what `previous` (the same feed in the running generation) already
    /// has: a URL feed keeps its fetched copy and validators until its next refresh, a
    /// file feed only when its file could not be read now. Without this a reload would
    /// open a window in which a deny feed lists nothing.
    fn carry_over(&self, previous: &Feed) {
        let same_source = match (&self.spec.source, &previous.spec.source) {
            (Source::Url { uri: a, .. }, Source::Url { uri: b, .. }) => a == b,
            (Source::File(a), Source::File(b)) => a == b && self.entries() == 0,
            _ => false,
        };
        if self.spec.name != previous.spec.name
            || self.spec.format != previous.spec.format
            || !same_source
        {
            return;
        }
        self.handle.adopt(&previous.handle);
        let old = previous.lock();
        let mut state = self.lock();
        state.last_ok = old.last_ok.or(state.last_ok);
        state.validators = old.validators.clone();
        state.stale_reported = old.stale_reported;
    }

    /// The list name (also the audit rule of its denials).
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Deny or list only.
    pub fn action(&self) -> FeedAction {
        self.spec.action
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Entries of the copy in use.
    pub fn entries(&self) -> usize {
        self.handle.entries()
    }

    /// Seconds since the copy in use was last confirmed (since start when never).
    pub fn age(&self, now: SystemTime) -> Duration {
        let since = self.lock().last_ok.unwrap_or(self.started);
        now.duration_since(since).unwrap_or_default()
    }

    /// One refresh: fetch or read, parse off the async threads, publish or keep.
    async fn refresh(&self, fetcher: Option<&Fetcher>) -> Result<usize, FeedError> {
        let bytes = match (&self.spec.source, fetcher) {
            (Source::Url { uri, .. }, Some(fetcher)) => {
                let known = self.lock().validators.clone();
                match fetcher.get(uri, &known).await? {
                    Fetched::Unchanged => {
                        self.confirmed(None);
                        return Ok(self.entries());
                    }
                    Fetched::Body(bytes, validators) => {
                        self.lock().validators = validators;
                        bytes
                    }
                }
            }
            (Source::File(path), _) => fetch::read_file(path, self.spec.max_bytes).await?,
            (Source::Url { .. }, None) => return Err(FeedError::Fetch("no client".into())),
        };
        let (format, max) = (self.spec.format, self.spec.max_entries);
        let parse_bytes = bytes.clone();
        let parsed = tokio::task::spawn_blocking(move || parse_feed(&parse_bytes, format, max))
            .await
            .map_err(|e| FeedError::Fetch(e.to_string()))??;
        let skipped = parsed.skipped;
        let entries = self.handle.replace(parsed).inspect_err(|_| {
            // The refused body must not make the next fetch a 304.
            self.lock().validators = Validators::default();
        })?;
        if skipped > 0 {
            tracing::warn!(feed = %self.spec.name, skipped, "feed lines skipped");
        }
        self.confirmed(Some(bytes));
        Ok(entries)
    }

    /// Records a good refresh; persists the body (written aside, then renamed).
    fn confirmed(&self, body: Option<bytes::Bytes>) {
        {
            let mut state = self.lock();
            state.last_ok = Some(SystemTime::now());
            if std::mem::take(&mut state.stale_reported) {
                tracing::info!(feed = %self.spec.name, "feed fresh again");
                stale_event(&self.spec.name, None);
            }
        }
        if let (Some(cache), Some(body)) = (&self.spec.cache, body) {
            let tmp = cache.with_extension("feed.tmp");
            let written = std::fs::write(&tmp, &body).and_then(|()| std::fs::rename(&tmp, cache));
            if let Err(e) = written {
                tracing::warn!(feed = %self.spec.name, error = %e, "feed cache not written");
            }
        }
    }

    /// Raises the stale event once per stale spell.
    fn check_stale(&self, now: SystemTime) {
        let age = self.age(now);
        if age < self.spec.stale_after {
            return;
        }
        let failures = {
            let mut state = self.lock();
            if state.stale_reported {
                return;
            }
            state.stale_reported = true;
            state.failures
        };
        tracing::warn!(
            feed = %self.spec.name,
            age_seconds = age.as_secs(),
            failures,
            entries = self.entries(),
            "feed stale; keeping the last good copy"
        );
        stale_event(&self.spec.name, Some((age, self.entries())));
    }

    /// Refreshes on schedule until `stop`.
    async fn run(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) {
        let fetcher = match &self.spec.source {
            Source::Url {
                tls,
                allow_plain_http,
                connect_timeout,
                ..
            } => Some(Fetcher::new(
                tls,
                *allow_plain_http,
                *connect_timeout,
                self.spec.timeout,
                self.spec.max_bytes,
            )),
            Source::File(_) => None,
        };
        // Checked at least this often, so staleness is noticed between long refreshes.
        let tick = self
            .spec
            .refresh
            .min(Duration::from_secs(30))
            .min(self.spec.stale_after.max(Duration::from_millis(100)));
        let work = async {
            let mut due = tokio::time::Instant::now();
            loop {
                if tokio::time::Instant::now() >= due {
                    match self.refresh(fetcher.as_ref()).await {
                        Ok(entries) => {
                            tracing::debug!(feed = %self.spec.name, entries, "feed refreshed");
                            due += self.spec.refresh;
                        }
                        Err(error) => {
                            self.lock().failures += 1;
                            tracing::warn!(feed = %self.spec.name, error = %error, "feed refresh failed; keeping the last good copy");
                            due = tokio::time::Instant::now()
                                + self.spec.refresh.min(Duration::from_secs(60));
                        }
                    }
                    due = due.max(tokio::time::Instant::now());
                }
                self.check_stale(SystemTime::now());
                tokio::time::sleep(tick.min(due - tokio::time::Instant::now().min(due))).await;
            }
        };
        tokio::select! {
            () = stop => {}
            () = work => {}
        }
    }
}

/// Starts every feed's refresh loop.
/// Lets each feed of a new generation take over its running counterpart's copy.
pub(crate) fn carry_over(feeds: &[Arc<Feed>], running: &[Arc<Feed>]) {
    for feed in feeds {
        if let Some(previous) = running.iter().find(|p| p.name() == feed.name()) {
            feed.carry_over(previous);
        }
    }
}

pub(crate) fn spawn(feeds: &[Arc<Feed>], shutdown: &rampart_service::shutdown::Shutdown) {
    for feed in feeds {
        tokio::spawn(feed.clone().run(shutdown.clone().signalled()));
    }
}

/// `rampart_feed_age_seconds`, `rampart_feed_entries` and refresh failures, per feed.
pub(crate) fn render_metrics(feeds: &[Arc<Feed>], now: SystemTime) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if feeds.is_empty() {
        return out;
    }
    let families: [(&str, &str, &str); 3] = [
        (
            "rampart_feed_age_seconds",
            "gauge",
            "Seconds since the feed's copy was last confirmed good.",
        ),
        (
            "rampart_feed_entries",
            "gauge",
            "Entries in the feed's copy in use.",
        ),
        (
            "rampart_feed_refresh_failures_total",
            "counter",
            "Feed refreshes refused or failed.",
        ),
    ];
    for (metric, kind, help) in families {
        let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
        for feed in feeds {
            let value = match metric {
                "rampart_feed_age_seconds" => feed.age(now).as_secs(),
                "rampart_feed_entries" => feed.entries() as u64,
                _ => feed.lock().failures,
            };
            let _ = writeln!(out, "{metric}{{feed=\"{}\"}} {value}", feed.name());
        }
    }
    out
}

/// The `feed-stale` system event (component `feed`, the feed's name, state `down`), or
/// its end (`up`), through the auditor like every system event, so alert rules can match
/// `{ kind = "system", check = "feed" }`.
fn stale_event(feed: &str, stale: Option<(Duration, usize)>) {
    match stale {
        Some((age, entries)) => rampart_service::audit::system_event(
            "edge",
            "feed",
            feed,
            false,
            &format!(
                "feed-stale: no good refresh for {}s; keeping the last good copy ({entries} entries)",
                age.as_secs()
            ),
        ),
        None => {
            rampart_service::audit::system_event("edge", "feed", feed, true, "feed fresh again");
        }
    }
}

//! `[[feeds]]` as written, validated into each feed's [`Spec`](super::Spec) and its
//! registered list.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http::Uri;
use rampart_core::config::{Problems, resolve};
use rampart_core::units::ByteSize;
use rampart_http::IpLists;
use rampart_http::feeds::FeedFormat;
use serde::Deserialize;

use super::{Feed, FeedAction, Source, Spec, State};

/// The CA bundle Debian-based images carry; used unless a feed brings its own roots only.
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// One `[[feeds]]` entry as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeed {
    name: Option<String>,
    url: Option<String>,
    file: Option<PathBuf>,
    format: Option<String>,
    refresh: Option<String>,
    max_bytes: Option<String>,
    max_entries: Option<usize>,
    stale_after: Option<String>,
    ca_file: Option<PathBuf>,
    allow_plain_http: Option<bool>,
    cache_dir: Option<PathBuf>,
    connect_timeout: Option<String>,
    timeout: Option<String>,
    action: Option<String>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Validates `[[feeds]]` and registers each feed as a named list of `lists`, starting
/// from its file or its cached last good copy.
pub(crate) fn validate(
    p: &mut Problems,
    base: &Path,
    raw: &[RawFeed],
    lists: &mut IpLists,
) -> Vec<Arc<Feed>> {
    let mut feeds = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let key = format!("feeds[{i}]");
        if let Some(feed) = validate_one(p, &key, base, r, lists) {
            feeds.push(Arc::new(feed));
        }
    }
    feeds
}

fn duration(
    p: &mut Problems,
    key: &str,
    raw: Option<&String>,
    default: Duration,
) -> Option<Duration> {
    match raw {
        None => Some(default),
        Some(raw) => p.duration(key, raw),
    }
}

fn validate_one(
    p: &mut Problems,
    key: &str,
    base: &Path,
    r: &RawFeed,
    lists: &mut IpLists,
) -> Option<Feed> {
    // Every problem is recorded before giving up, so one run shows them all.
    let mut ok = true;
    let mut fail = |p: &mut Problems, sub: &str, msg: String| {
        ok = false;
        p.push(format!("{key}.{sub}"), msg);
    };
    let name = r.name.clone().filter(|n| valid_name(n));
    match (&r.name, &name) {
        (None, _) => fail(p, "name", "is required".into()),
        (Some(_), None) => fail(p, "name", "must be 1-64 letters, digits, '-' or '_'".into()),
        (Some(n), Some(_)) if lists.get(n).is_some() => {
            fail(
                p,
                "name",
                format!("{n:?} is already an address list or feed"),
            );
        }
        _ => {}
    }
    let raw_format = r.format.as_deref().unwrap_or("cidr");
    let format = FeedFormat::parse(raw_format);
    if format.is_none() {
        fail(
            p,
            "format",
            format!("{raw_format:?} is not one of cidr, drop"),
        );
    }
    let action = match r.action.as_deref().unwrap_or("deny") {
        "deny" => Some(FeedAction::Deny),
        "list" => Some(FeedAction::List),
        other => {
            fail(p, "action", format!("{other:?} is not one of deny, list"));
            None
        }
    };
    let refresh = duration(
        p,
        &format!("{key}.refresh"),
        r.refresh.as_ref(),
        Duration::from_secs(3600),
    );
    if refresh.is_some_and(|d| d < Duration::from_millis(100)) {
        fail(p, "refresh", "must be at least 100ms".into());
    }
    let stale_after = duration(
        p,
        &format!("{key}.stale_after"),
        r.stale_after.as_ref(),
        refresh.unwrap_or_default().saturating_mul(6),
    );
    let connect_timeout = duration(
        p,
        &format!("{key}.connect_timeout"),
        r.connect_timeout.as_ref(),
        Duration::from_secs(5),
    );
    let timeout = duration(
        p,
        &format!("{key}.timeout"),
        r.timeout.as_ref(),
        Duration::from_secs(60),
    );
    let max_bytes = match &r.max_bytes {
        None => Some(ByteSize::mib(8)),
        Some(raw) => p.size(&format!("{key}.max_bytes"), raw),
    }
    .map(ByteSize::as_u64);
    let max_list = rampart_http::iplist::MAX_LIST_BYTES;
    if max_bytes.is_some_and(|b| b == 0 || b > max_list) {
        fail(
            p,
            "max_bytes",
            format!("must be between 1 and {max_list} bytes"),
        );
    }
    let max_entries = r.max_entries.unwrap_or(200_000);
    if max_entries == 0 || max_entries > 5_000_000 {
        fail(p, "max_entries", "must be between 1 and 5000000".into());
    }
    let source = match (&r.url, &r.file) {
        (Some(url), None) => url_source(p, key, base, r, url, connect_timeout.unwrap_or_default()),
        (None, Some(file)) => {
            if r.ca_file.is_some() || r.allow_plain_http.is_some() {
                fail(
                    p,
                    "file",
                    "ca_file and allow_plain_http apply to url feeds only".into(),
                );
            }
            Some(Source::File(resolve(base, file)))
        }
        _ => {
            fail(p, "url", "a feed needs exactly one of url, file".into());
            None
        }
    };
    let cache_dir = r.cache_dir.as_ref().map(|d| resolve(base, d));
    if let Some(dir) = &cache_dir
        && !dir.is_dir()
    {
        fail(
            p,
            "cache_dir",
            format!("{} is not a directory", dir.display()),
        );
    }
    if !ok {
        return None;
    }
    let spec = Spec {
        name: name?,
        action: action?,
        source: source?,
        format: format?,
        refresh: refresh?,
        max_bytes: max_bytes?,
        max_entries,
        stale_after: stale_after?,
        timeout: timeout?,
        cache: None,
    };
    let spec = Spec {
        cache: cache_dir.map(|d| d.join(format!("{}.feed", spec.name))),
        ..spec
    };
    let (handle, last_ok) = spec.initial_copy(lists);
    Some(Feed {
        spec,
        handle,
        started: SystemTime::now(),
        state: Mutex::new(State {
            last_ok,
            ..State::default()
        }),
    })
}

fn url_source(
    p: &mut Problems,
    key: &str,
    base: &Path,
    r: &RawFeed,
    url: &str,
    connect_timeout: Duration,
) -> Option<Source> {
    let plain = r.allow_plain_http.unwrap_or(false);
    let uri = match url.parse::<Uri>() {
        Ok(uri) if uri.host().is_some_and(|h| !h.is_empty()) => uri,
        _ => {
            p.push(
                format!("{key}.url"),
                format!("{url:?} is not an absolute URL"),
            );
            return None;
        }
    };
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if plain => {}
        Some("http") => {
            p.push(
                format!("{key}.url"),
                "is plain http; use https, or set allow_plain_http = true",
            );
            return None;
        }
        _ => {
            p.push(format!("{key}.url"), "must be an https:// URL");
            return None;
        }
    }
    let mut roots = rustls::RootCertStore::empty();
    if Path::new(SYSTEM_ROOTS).is_file()
        && let Ok(system) = rampart_tls::load_roots(Path::new(SYSTEM_ROOTS))
    {
        roots.extend(system.roots);
    }
    if let Some(ca) = &r.ca_file {
        match rampart_tls::load_roots(&resolve(base, ca)) {
            Ok(extra) => roots.extend(extra.roots),
            Err(e) => {
                p.push(format!("{key}.ca_file"), e);
                return None;
            }
        }
    }
    if roots.is_empty() && uri.scheme_str() == Some("https") {
        p.push(
            format!("{key}.ca_file"),
            format!("is required: no system CA bundle at {SYSTEM_ROOTS}"),
        );
        return None;
    }
    let tls = rampart_tls::upstream_client_config(roots)
        .map_err(|e| p.push(format!("{key}.ca_file"), e))
        .ok()?;
    Some(Source::Url {
        uri,
        tls: Arc::new(tls),
        allow_plain_http: plain,
        connect_timeout,
    })
}

//! Hot reload of the edge: everything requests are checked against — routes and their
//! check pipelines, limits, protections (address lists, screening), rate limits and
//! authentication — lives in one [`Policy`] behind an [`ArcSwap`]. A request loads it
//! once when it starts, so it finishes under the configuration it started with; a
//! reload builds the next policy off the request path and swaps it in one store.
//!
//! Kept across a reload when their section did not change: the rate limiter (its
//! counters), the authenticator (its JWKS cache and identity-file poller) and the
//! operators' route-mode overrides of routes that still exist. Listeners, the inner
//! link, public TLS and HTTP/3 are not rebuilt: a change there is applied at the next
//! restart and reported as a warning.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use arc_swap::ArcSwap;
use rampart_core::routing::{Route, RouteTable};
use rampart_ratelimit::RateLimiter;
use rampart_service::admin::AdminState;
use rampart_service::admin::modes::RouteModes;
use rampart_service::audit::Auditor;
use rampart_service::reload::{self, Apply, ApplyFuture};
use rampart_service::shutdown::{self, Shutdown};

use crate::auth::{self, Authenticator};
use crate::config::{EdgeConfig, RouteSettings};
use crate::ops::Blocklist;
use crate::protect::Protections;
use crate::proxy::EdgeRoute;

/// Top-level sections a running edge does not rebuild.
const NOT_RELOADABLE: &[&str] = &["server", "tls", "inner", "http3", "reload_interval", "push"];

/// What every request is checked against; one generation of the configuration.
pub(crate) struct Policy {
    /// Configured routes, each with its own checks.
    pub(crate) routes: RouteTable<EdgeRoute>,
    /// What applies to requests that match no configured route.
    pub(crate) default_route: EdgeRoute,
    /// Client address resolution, address lists, screening, guards.
    pub(crate) protections: Protections,
    /// Rate limits, concurrency limits and quotas.
    pub(crate) limiter: Option<Arc<RateLimiter>>,
    /// Credential stores and token verification.
    pub(crate) authenticator: Arc<Authenticator>,
    /// Runtime block/detect switches of the routes' screening.
    pub(crate) modes: Arc<RouteModes>,
}

/// What a reload keeps and what it reports, decided from the raw sections alone.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// `[rate_limit]` is unchanged: keep the limiter and its counters.
    pub(crate) keep_limiter: bool,
    /// `[identity]` and `[oauth]` are unchanged: keep the authenticator.
    pub(crate) keep_auth: bool,
    /// The sections both tiers share.
    pub(crate) ops: reload::OpsChanges,
    /// Changed keys that take effect only after a restart.
    pub(crate) restart: Vec<String>,
}

/// Decides what to keep and what to report when `old` is replaced by `new`. Restart-only
/// keys compare with `boot`, what the process started with: they stay reported until
/// a restart or until the file matches the running value again.
pub(crate) fn plan(boot: &reload::Table, old: &reload::Table, new: &reload::Table) -> Plan {
    let changed = reload::changed_sections(old, new);
    Plan {
        keep_limiter: !changed.contains("rate_limit"),
        keep_auth: !changed.contains("identity") && !changed.contains("oauth"),
        ops: reload::OpsChanges::from_sections(&changed),
        restart: reload::changed_keys(boot, new, NOT_RELOADABLE),
    }
}

/// A shutdown handle that fires when `parent` does or when the returned trigger is
/// dropped (the generation it belongs to was replaced).
fn child_shutdown(parent: &Shutdown) -> (Arc<shutdown::Trigger>, Shutdown) {
    let (trigger, child) = shutdown::channel();
    let trigger = Arc::new(trigger);
    let weak = Arc::downgrade(&trigger);
    let (parent, watched) = (parent.clone(), child.clone());
    tokio::spawn(async move {
        tokio::select! {
            () = parent.signalled() => {
                if let Some(t) = weak.upgrade() {
                    t.fire();
                }
            }
            () = watched.signalled() => {}
        }
    });
    (trigger, child)
}

/// What outlives a request but not a generation: the raw sections it was built from,
/// the parts a later reload may keep, and the stops of its background work (address
/// lists and feeds; the authenticator's refresh and polling).
struct Generation {
    raw: reload::Table,
    limiter: Option<Arc<RateLimiter>>,
    authenticator: Arc<Authenticator>,
    /// Dropping it stops the authenticator's tasks.
    _auth_stop: Arc<shutdown::Trigger>,
    /// Dropping it stops the address-list watcher.
    _lists_stop: Arc<shutdown::Trigger>,
}

/// Builds the policy for `config`; `limiter`/`authenticator` are reused when given.
fn build(
    config: &EdgeConfig,
    blocks: &Arc<Blocklist>,
    limiter: Option<Arc<RateLimiter>>,
    authenticator: Arc<Authenticator>,
    previous: Option<&RouteModes>,
) -> Policy {
    let mut modes = RouteModes::default();
    let routes = config
        .routes
        .iter()
        .map(|r| Route {
            name: r.name.clone(),
            host: r.host.clone(),
            path_prefix: r.path_prefix.clone(),
            value: crate::edge_route(
                &config.limits,
                &config.protections,
                &r.value,
                (&r.name, blocks, &mut modes),
            ),
        })
        .collect();
    let default_route = crate::edge_route(
        &config.limits,
        &config.protections,
        &RouteSettings::default(),
        ("", blocks, &mut modes),
    );
    // Operators' switches survive for the routes that still exist.
    for (route, mode) in previous.map(RouteModes::overrides).unwrap_or_default() {
        let _ = modes.set(&route, mode);
    }
    Policy {
        routes: RouteTable::new(routes),
        default_route,
        protections: config.protections.clone(),
        limiter,
        authenticator,
        modes: Arc::new(modes),
    }
}

fn spawn_list_watcher(protections: &Protections, shutdown: &Shutdown) -> Arc<shutdown::Trigger> {
    let (stop, until) = child_shutdown(shutdown);
    let watcher =
        rampart_http::IpListWatcher::new(&protections.ip_lists, protections.ip_list_reload);
    tokio::spawn(watcher.run(crate::log_list_reload, until.clone().signalled()));
    crate::feeds::spawn(&protections.feeds, &until);
    stop
}

/// The edge's reload: owns the policy cell and what survives generations.
pub(crate) struct EdgeReload {
    path: PathBuf,
    policy: Arc<ArcSwap<Policy>>,
    blocks: Arc<Blocklist>,
    shutdown: Shutdown,
    auditor: Arc<Auditor>,
    admin: OnceLock<Weak<AdminState>>,
    /// The raw sections the process started with (its listeners, link, TLS).
    boot: reload::Table,
    current: Mutex<Generation>,
    /// The sections pushed from the LAN in force (`crate::push`); every reload keeps them.
    pushed: Mutex<Option<Arc<crate::push::Overlay>>>,
    /// One load-and-swap at a time: a file reload must not undo a push it raced with.
    applying: tokio::sync::Mutex<()>,
}

impl EdgeReload {
    /// Builds generation 1 from `config` and starts its background work.
    pub(crate) fn start(
        config: &EdgeConfig,
        blocks: Arc<Blocklist>,
        auditor: Arc<Auditor>,
        shutdown: &Shutdown,
    ) -> Result<Arc<Self>, crate::EdgeError> {
        let limiter = match &config.rate_limit {
            Some(rl) => Some(Arc::new(RateLimiter::new(rl)?)),
            None => None,
        };
        let (auth_stop, auth_until) = child_shutdown(shutdown);
        let authenticator = Arc::new(auth::start(
            config.identity.clone(),
            config.oauth.as_ref(),
            &auth_until,
        ));
        let policy = build(
            config,
            &blocks,
            limiter.clone(),
            authenticator.clone(),
            None,
        );
        let lists_stop = spawn_list_watcher(&config.protections, shutdown);
        let raw = reload::read_table(&config.source).unwrap_or_default();
        Ok(Arc::new(EdgeReload {
            path: config.source.clone(),
            policy: Arc::new(ArcSwap::from_pointee(policy)),
            blocks,
            shutdown: shutdown.clone(),
            auditor,
            admin: OnceLock::new(),
            boot: raw.clone(),
            current: Mutex::new(Generation {
                raw,
                limiter,
                authenticator,
                _auth_stop: auth_stop,
                _lists_stop: lists_stop,
            }),
            pushed: Mutex::new(None),
            applying: tokio::sync::Mutex::new(()),
        }))
    }

    /// The policy cell requests load from.
    pub(crate) fn policy(&self) -> &Arc<ArcSwap<Policy>> {
        &self.policy
    }

    /// Lets a reload swap the admin tokens of `state`.
    pub(crate) fn set_admin(&self, state: &Arc<AdminState>) {
        let _ = self.admin.set(Arc::downgrade(state));
    }

    /// Applies a loaded, valid `config` whose raw sections are `raw`.
    fn swap(&self, config: &EdgeConfig, raw: reload::Table) -> Result<Vec<String>, Vec<String>> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let plan = plan(&self.boot, &current.raw, &raw);
        let limiter = match (&config.rate_limit, plan.keep_limiter) {
            (None, _) => None,
            (Some(_), true) if current.limiter.is_some() => current.limiter.clone(),
            (Some(rl), _) => Some(Arc::new(
                RateLimiter::new(rl).map_err(|e| vec![format!("rate_limit: {e}")])?,
            )),
        };
        let (authenticator, auth_stop) = if plan.keep_auth {
            (current.authenticator.clone(), None)
        } else {
            let (stop, until) = child_shutdown(&self.shutdown);
            let a = auth::start(config.identity.clone(), config.oauth.as_ref(), &until);
            (Arc::new(a), Some(stop))
        };
        let previous = self.policy.load();
        crate::feeds::carry_over(&config.protections.feeds, &previous.protections.feeds);
        let policy = build(
            config,
            &self.blocks,
            limiter.clone(),
            authenticator.clone(),
            Some(&previous.modes),
        );
        let mut warnings: Vec<String> =
            reload::restart_warning(&plan.restart).into_iter().collect();
        let admin = self.admin.get().and_then(Weak::upgrade);
        plan.ops.apply(
            &self.auditor,
            &config.audit,
            admin.as_deref(),
            &config.admin,
            &mut warnings,
        );
        // The one store requests observe; in-flight ones keep their loaded Arc.
        self.policy.store(Arc::new(policy));
        let lists_stop = spawn_list_watcher(&config.protections, &self.shutdown);
        current.raw = raw;
        current.limiter = limiter;
        current.authenticator = authenticator;
        if let Some(stop) = auth_stop {
            current._auth_stop = stop;
        }
        current._lists_stop = lists_stop;
        Ok(warnings)
    }
}

impl EdgeReload {
    /// Applies the file with `overlay`'s pushed sections in place; they stay for later
    /// reloads only when the result was valid and swapped in.
    pub(crate) async fn apply_pushed(
        &self,
        overlay: Arc<crate::push::Overlay>,
    ) -> Result<Vec<String>, Vec<String>> {
        let _one = self.applying.lock().await;
        let (config, raw) = crate::push::load(&self.path, Some(overlay.clone())).await?;
        let warnings = self.swap(&config, raw)?;
        *self.pushed.lock().unwrap_or_else(|e| e.into_inner()) = Some(overlay);
        Ok(warnings)
    }
}

impl Apply for EdgeReload {
    fn apply(&self) -> ApplyFuture<'_> {
        Box::pin(async move {
            let _one = self.applying.lock().await;
            let pushed = self
                .pushed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let (config, raw) = crate::push::load(&self.path, pushed).await?;
            self.swap(&config, raw)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn table(text: &str) -> reload::Table {
        text.parse().unwrap()
    }

    const BASE: &str = r#"
[server]
http_listen = "127.0.0.1:8080"
admin_listen = "127.0.0.1:9901"
[inner]
endpoints = ["10.0.0.5:7443"]
[rate_limit]
policies = []
[identity]
consumers = "consumers.toml"
[[routes]]
name = "orders"
path_prefix = "/orders"
"#;

    #[test]
    fn an_unchanged_file_keeps_everything_and_warns_of_nothing() {
        let plan = plan(&table(BASE), &table(BASE), &table(BASE));
        assert_eq!(
            plan,
            Plan {
                keep_limiter: true,
                keep_auth: true,
                ..Plan::default()
            }
        );
    }

    /// One edit of the base file and what the plan must say about it.
    struct Case {
        name: &'static str,
        edit: &'static str,
        keep_limiter: bool,
        keep_auth: bool,
        audit: bool,
        admin: bool,
        restart: &'static [&'static str],
    }

    const fn case(name: &'static str, edit: &'static str, keep: (bool, bool)) -> Case {
        Case {
            name,
            edit,
            keep_limiter: keep.0,
            keep_auth: keep.1,
            audit: false,
            admin: false,
            restart: &[],
        }
    }

    #[test]
    fn keeps_what_did_not_change_and_reports_what_needs_a_restart() {
        let listener =
            "[server]\nhttp_listen = \"127.0.0.1:8081\"\nadmin_listen = \"127.0.0.1:9901\"";
        let cases = [
            case("route", "max_body = \"1KiB\"", (true, true)),
            case(
                "rate",
                "[rate_limit]\npolicies = []\nfail_open = true",
                (false, true),
            ),
            case(
                "identity",
                "[identity]\nusers = \"users.toml\"",
                (true, false),
            ),
            case("oauth", "[oauth]\nissuer = \"x\"", (true, false)),
            Case {
                audit: true,
                admin: true,
                ..case(
                    "audit+admin",
                    "[audit]\nsink = \"stdout\"\n[admin]\ntokens = []",
                    (true, true),
                )
            },
            Case {
                restart: &["server.http_listen"],
                ..case("listener", listener, (true, true))
            },
            Case {
                restart: &["http3", "inner.endpoints"],
                ..case(
                    "link",
                    "[inner]\nendpoints = [\"10.0.0.6:7443\"]\n[http3]\nenabled = true",
                    (true, true),
                )
            },
        ];
        for c in cases {
            // Replace the sections the edit names; a route edit rewrites the route.
            let mut new = table(BASE);
            let edit = table(&if c.name == "route" {
                format!(
                    "[[routes]]\nname = \"orders\"\npath_prefix = \"/orders\"\n{}",
                    c.edit
                )
            } else {
                c.edit.to_owned()
            });
            for (k, v) in edit {
                new.insert(k, v);
            }
            let plan = plan(&table(BASE), &table(BASE), &new);
            let mut want_restart: Vec<String> = c.restart.iter().map(|s| (*s).to_owned()).collect();
            want_restart.sort();
            let mut got_restart = plan.restart.clone();
            got_restart.sort();
            assert_eq!(
                (
                    plan.keep_limiter,
                    plan.keep_auth,
                    plan.ops.audit,
                    plan.ops.admin,
                    got_restart
                ),
                (c.keep_limiter, c.keep_auth, c.audit, c.admin, want_restart),
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn a_restart_warning_names_the_keys() {
        let old = table("[server]\nhttp_listen = \"127.0.0.1:1\"\n");
        let new = table("reload_interval = \"5s\"\n[server]\nhttp_listen = \"127.0.0.1:2\"\n");
        let plan = plan(&old, &old, &new);
        assert_eq!(
            reload::restart_warning(&plan.restart).as_deref(),
            Some("restart needed for: server.http_listen, reload_interval")
        );
        // Still needed on the next reload, though the last applied file had it already.
        let again = super::plan(&old, &new, &new);
        assert_eq!(again.restart, plan.restart);
        // Back to the running value: nothing to restart for.
        assert!(super::plan(&old, &new, &old).restart.is_empty());
    }
}

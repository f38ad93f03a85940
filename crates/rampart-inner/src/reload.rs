//! Hot reload of the inner tier: the [`Router`] — routes, upstreams, inspection engine
//! and OpenAPI contracts, identity headers — lives behind an [`ArcSwap`]. Each exchange
//! loads it once, so it finishes under the configuration it started with; a reload
//! builds the next router off the request path and swaps it in one store.
//!
//! Kept across a reload: operators' route-mode overrides of routes that still exist and
//! the rule-mode switches (the engine's rules are built in), and the large-inspection
//! slots. The link listener, its TLS
//! and the admin listener are not rebuilt: a change there is applied at the next
//! restart and reported as a warning.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use arc_swap::ArcSwap;
use rampart_service::admin::AdminState;
use rampart_service::audit::Auditor;
use rampart_service::reload::{self, Apply, ApplyFuture};
use rampart_service::shutdown::Shutdown;

use crate::config::InnerConfig;
use crate::exchange::Router;

/// Top-level sections a running inner tier does not rebuild.
const NOT_RELOADABLE: &[&str] = &["server", "link", "reload_interval"];

/// What a reload changes besides the router, decided from the raw sections alone.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The sections both tiers share.
    pub(crate) ops: reload::OpsChanges,
    /// Changed keys that take effect only after a restart.
    pub(crate) restart: Vec<String>,
}

/// Decides what to report when `old` is replaced by `new`. Restart-only
/// keys compare with `boot`, what the process started with: they stay reported until
/// a restart or until the file matches the running value again.
pub(crate) fn plan(boot: &reload::Table, old: &reload::Table, new: &reload::Table) -> Plan {
    let changed = reload::changed_sections(old, new);
    Plan {
        ops: reload::OpsChanges::from_sections(&changed),
        restart: reload::changed_keys(boot, new, NOT_RELOADABLE),
    }
}

/// Carries what must survive a generation from `old` into `new`.
fn carry_over(old: &Router, new: &mut Router) {
    for (route, mode) in old.modes.overrides() {
        // A route that is gone or has detection off now has nothing to switch.
        let _ = new.modes.set(&route, mode);
    }
    new.inspector.rules = old.inspector.rules.clone();
    // One bound per process: a new set would let both generations' inspections run.
    new.inspector.slots = old.inspector.slots.clone();
}

/// The inner's reload: owns the router cell and the raw sections it was built from.
pub(crate) struct InnerReload {
    path: PathBuf,
    router: Arc<ArcSwap<Router>>,
    auditor: Arc<Auditor>,
    admin: OnceLock<Weak<AdminState>>,
    /// The raw sections the process started with (its listeners and link).
    boot: reload::Table,
    raw: Mutex<reload::Table>,
}

impl InnerReload {
    /// Builds generation 1 from `config`.
    pub(crate) fn start(
        config: &InnerConfig,
        auditor: Arc<Auditor>,
        _shutdown: &Shutdown,
    ) -> Result<Arc<Self>, crate::InnerError> {
        let router = crate::router(config)?;
        let raw = reload::read_table(&config.source).unwrap_or_default();
        Ok(Arc::new(InnerReload {
            path: config.source.clone(),
            router: Arc::new(ArcSwap::from_pointee(router)),
            auditor,
            admin: OnceLock::new(),
            boot: raw.clone(),
            raw: Mutex::new(raw),
        }))
    }

    /// The router cell exchanges load from.
    pub(crate) fn router(&self) -> &Arc<ArcSwap<Router>> {
        &self.router
    }

    /// Lets a reload swap the admin tokens of `state`.
    pub(crate) fn set_admin(&self, state: &Arc<AdminState>) {
        let _ = self.admin.set(Arc::downgrade(state));
    }

    fn swap(&self, config: &InnerConfig, raw: reload::Table) -> Result<Vec<String>, Vec<String>> {
        let mut current = self.raw.lock().unwrap_or_else(|e| e.into_inner());
        let plan = plan(&self.boot, &current, &raw);
        let mut router = crate::router(config).map_err(|e| vec![e.to_string()])?;
        carry_over(&self.router.load(), &mut router);
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
        // The one store exchanges observe; in-flight ones keep their loaded Arc.
        self.router.store(Arc::new(router));
        *current = raw;
        Ok(warnings)
    }
}

impl Apply for InnerReload {
    fn apply(&self) -> ApplyFuture<'_> {
        Box::pin(async move {
            let (config, raw) = reload::load_off_thread(&self.path, InnerConfig::load).await?;
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
link_listen = "127.0.0.1:7443"
admin_listen = "127.0.0.1:9902"
[link]
ca = "ca.pem"
[upstreams.app]
addresses = ["http://127.0.0.1:8080"]
[[routes]]
name = "orders"
path_prefix = "/orders"
upstream = "app"
"#;

    #[test]
    fn route_and_upstream_changes_apply_without_restart() {
        let new = BASE
            .replace("/orders", "/v2/orders")
            .replace(":8080", ":8081");
        assert_eq!(
            plan(&table(BASE), &table(BASE), &table(&new)),
            Plan::default()
        );
    }

    #[test]
    fn listener_and_link_changes_are_reported() {
        let table_ = [
            (BASE.replace("7443", "7444"), vec!["server.link_listen"]),
            (BASE.replace("ca.pem", "other.pem"), vec!["link.ca"]),
            (
                format!("reload_interval = \"off\"\n{BASE}"),
                vec!["reload_interval"],
            ),
            (format!("{BASE}\n[admin]\ntokens = []\n"), vec![]),
        ];
        for (new, want) in table_ {
            let plan = plan(&table(BASE), &table(BASE), &table(&new));
            assert_eq!(plan.restart, want, "{new}");
        }
        let admin = plan(
            &table(BASE),
            &table(BASE),
            &table(&format!("{BASE}\n[admin]\ntokens = []\n")),
        );
        assert!(admin.ops.admin && !admin.ops.audit);
    }

    #[test]
    fn the_large_inspection_slots_outlive_a_generation() {
        let old = Router::empty();
        let mut new = Router::empty();
        carry_over(&old, &mut new);
        // Two sets would let the old generation's inspections and the new one's run side
        // by side, each up to the bound.
        assert!(Arc::ptr_eq(&old.inspector.slots, &new.inspector.slots));
        assert!(Arc::ptr_eq(&old.inspector.rules, &new.inspector.rules));
    }
}

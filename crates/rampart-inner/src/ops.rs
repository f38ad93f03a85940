//! What the admin API can ask of the inner tier: its status (traffic, upstream health,
//! latency), switching a route's inspection or one detection rule between block and
//! detect-only, and the report of traffic the OpenAPI contracts do not describe.
//!
//! A route switched to detect reports its detection findings instead of refusing; the
//! parser's own refusals (a malformed body) and the antivirus mode (`antivirus.mode`)
//! are not switched. A rule (id or class) switched to detect is reported instead of
//! counted, on every route (see [`crate::inspect::rulemodes`]). Reload is
//! `crate::reload`'s.

use std::borrow::Cow;
use std::sync::Arc;

use rampart_core::pipeline::Enforcement;
use rampart_core::routing::RouteTable;
use rampart_service::admin::modes::RouteModes;
use rampart_service::admin::{ActionError, AdminActions, Health, Latency, Mode, TierStatus};

use crate::config::RoutePolicy;
use crate::exchange::Router;
use crate::inspect::InspectionPolicy;

fn mode_of(enforcement: Enforcement) -> Mode {
    match enforcement {
        Enforcement::Block => Mode::Block,
        Enforcement::DetectOnly => Mode::Detect,
    }
}

/// One switch per configured route; routes with inspection off get none.
pub(crate) fn route_modes(routes: &RouteTable<RoutePolicy>) -> RouteModes {
    let mut modes = RouteModes::default();
    for route in routes.iter() {
        modes.register(&route.name, route.value.inspection.enforcement.map(mode_of));
    }
    modes
}

/// The route's inspection policy with its switch applied (borrowed when unchanged).
pub(crate) fn inspection<'a>(
    modes: &RouteModes,
    route: &str,
    policy: &'a InspectionPolicy,
) -> Cow<'a, InspectionPolicy> {
    let Some(switch) = modes.get(route) else {
        return Cow::Borrowed(policy);
    };
    let wanted = match switch.effective() {
        Mode::Block => Enforcement::Block,
        Mode::Detect => Enforcement::DetectOnly,
    };
    match policy.enforcement {
        Some(configured) if configured != wanted => {
            let mut switched = policy.clone();
            switched.enforcement = Some(wanted);
            Cow::Owned(switched)
        }
        _ => Cow::Borrowed(policy),
    }
}

/// Writes what the auditor still queues when the tier stops (on every way out of
/// `serve`); waits at most two seconds.
pub(crate) struct FlushOnDrop(pub(crate) Arc<rampart_service::audit::Auditor>);

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        self.0.flush(std::time::Duration::from_secs(2));
    }
}

/// The inner's side of the admin API.
pub(crate) struct InnerActions {
    /// The router in force (swapped by reloads).
    pub(crate) router: Arc<arc_swap::ArcSwap<Router>>,
    /// Reloads, their generation and last outcome.
    pub(crate) reloads: Arc<rampart_service::reload::Reloader>,
}

impl AdminActions for InnerActions {
    fn status(&self) -> TierStatus {
        let traffic = rampart_service::traffic::of("inner");
        let router = self.router.load();
        let health = router
            .upstreams
            .health()
            .into_iter()
            .map(|(name, healthy)| Health {
                name,
                healthy,
                detail: if healthy {
                    ""
                } else {
                    "cooling down after a failure"
                }
                .to_owned(),
            })
            .collect();
        let modes = router.modes.overrides_json();
        let rules = router.inspector.rules.overrides();
        TierStatus {
            tier: "inner".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            config_generation: self.reloads.status().generation(),
            last_reload: self.reloads.status().last(),
            ready: true,
            requests_total: traffic.requests(),
            denials_total: traffic.denials(),
            health,
            latency_ms: traffic.percentiles().map(|p| Latency {
                p50: p.p50,
                p90: p.p90,
                p99: p.p99,
            }),
            extra: serde_json::json!({
                "route_mode_overrides": modes,
                "rule_detect_overrides": rules,
            }),
        }
    }

    fn set_route_mode(&self, route: &str, mode: Mode) -> Result<(), ActionError> {
        self.router.load().modes.set(route, mode)?;
        tracing::info!(
            route,
            mode = mode.as_str(),
            "route inspection mode switched"
        );
        Ok(())
    }

    fn set_rule_mode(&self, rule: &str, mode: Mode) -> Result<(), ActionError> {
        self.router.load().inspector.rules.set(rule, mode)?;
        tracing::info!(rule, mode = mode.as_str(), "detection rule mode switched");
        Ok(())
    }

    fn undocumented(&self) -> Result<serde_json::Value, ActionError> {
        Ok(self.router.load().undocumented.report())
    }

    fn reload(
        &self,
    ) -> rampart_service::admin::ActionFuture<'_, rampart_service::admin::ReloadOutcome> {
        Box::pin(async move {
            Ok(self
                .reloads
                .reload(rampart_service::reload::Trigger::Admin)
                .await)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_switched_route_gets_the_other_enforcement_and_others_stay_borrowed() {
        let engine = rampart_detect::Engine::builtin();
        let policy = InspectionPolicy {
            enforcement: Some(Enforcement::Block),
            max_body: rampart_core::units::ByteSize::mib(1),
            oversize: crate::inspect::Oversize::Refuse,
            options: rampart_parse::Options::default(),
            limits: Arc::new(rampart_parse::Limits::default()),
            forward: crate::inspect::Forward::Canonical,
            detection: Arc::new(
                rampart_detect::Policy::from_config(&Default::default(), &engine).unwrap(),
            ),
            antivirus: None,
            contract: None,
            xml_schema: None,
            seen: Default::default(),
        };
        assert_eq!(policy.enforcement, Some(Enforcement::Block));
        let mut modes = RouteModes::default();
        modes.register("orders", Some(Mode::Block));
        modes.register("static", None);
        assert!(matches!(
            inspection(&modes, "orders", &policy),
            Cow::Borrowed(_)
        ));
        modes.set("orders", Mode::Detect).unwrap();
        let switched = inspection(&modes, "orders", &policy);
        assert_eq!(switched.enforcement, Some(Enforcement::DetectOnly));
        assert!(matches!(
            inspection(&modes, "other", &policy),
            Cow::Borrowed(_)
        ));
        modes.set("orders", Mode::Block).unwrap();
        assert!(matches!(
            inspection(&modes, "orders", &policy),
            Cow::Borrowed(_)
        ));
        let mut off = policy.clone();
        off.enforcement = None;
        assert_eq!(inspection(&modes, "static", &off).enforcement, None);
    }
}

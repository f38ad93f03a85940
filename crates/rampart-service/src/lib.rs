//! The plumbing both tiers share: log setup, the audit log, the admin listener
//! (`/healthz`, `/readyz`, `/metrics`, the admin API with roles and the dashboard), the
//! recent-events store, termination signals, connection draining and the write
//! coalescing both tiers put under their HTTP/2 connections.
//!
//! What it does not do: it knows nothing of requests, checks or the link between tiers.

pub mod admin;
pub mod alerts;
pub mod audit;
pub mod cli;
pub mod coalesce;
pub mod deadline;
pub mod events;
pub mod logging;
pub mod metrics;
pub mod reload;
pub mod shutdown;
pub mod traffic;

use rampart_core::config::Problems;

/// Validates `[audit]` and `[admin]`, the sections every tier has (absent ones take their
/// defaults), and `[alerts]`/`[syslog]` (taken with [`alerts::RawIntegrations::take`],
/// carried in the audit config). `None`, with the problems recorded, when any is broken.
pub fn validate_ops_sections(
    p: &mut Problems,
    base: &std::path::Path,
    audit: Option<audit::RawAuditConfig>,
    admin: Option<admin::RawAdminConfig>,
    integrations: &alerts::RawIntegrations,
) -> Option<(audit::AuditConfig, admin::AdminConfig)> {
    let integrations = alerts::Integrations::validate(integrations, base, p);
    let audit = audit::AuditConfig::validate("audit", &audit.unwrap_or_default(), base, p)
        .zip(integrations)
        .map(|(audit, integrations)| audit::AuditConfig {
            integrations,
            ..audit
        });
    let admin = admin::AdminConfig::validate_in("admin", &admin.unwrap_or_default(), base, p);
    Some((audit?, admin?))
}

//! The plumbing both tiers share: log setup, the audit log, the admin listener
//! (`/healthz`, `/readyz`, `/metrics`, the admin API with roles and the dashboard), the
//! recent-events store, termination signals and connection draining.
//!
//! What it does not do: it knows nothing of requests, checks or the link between tiers.

pub mod admin;
pub mod audit;
pub mod cli;
pub mod deadline;
pub mod events;
pub mod logging;
pub mod shutdown;
pub mod traffic;

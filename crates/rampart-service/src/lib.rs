//! The plumbing both tiers share: log setup, the admin listener (`/healthz`, `/readyz`),
//! termination signals and connection draining.
//!
//! What it does not do: it knows nothing of requests, checks or the link between tiers.

pub mod admin;
pub mod audit;
pub mod cli;
pub mod deadline;
pub mod logging;
pub mod shutdown;

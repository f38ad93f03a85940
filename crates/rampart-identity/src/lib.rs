//! Caller credentials for the edge (DMZ): who is calling, and may they call this route.
//!
//! - [`apikey`]: consumers file of hashed API keys, lookup in constant time, key
//!   extraction from a header or (per route) a query parameter, new-key generation.
//! - [`basic`]: HTTP Basic against an htpasswd-like file of argon2id hashes, with a
//!   bounded cache of recent successes.
//! - [`lockout`]: exponential backoff after repeated failures, per user and per IP.
//! - [`denylist`]: revoked credentials (hashes and JWT ids), reloaded when the file changes.
//! - [`policy`]: per-route accepted methods, required scopes and roles, `WWW-Authenticate`.
//! - [`config`]: the `[identity]` section of the edge config.
//! - [`breached`]: rules for new passwords (length, context, breached-password corpus).
//!
//! Wiring, per request on a route with a non-public [`policy::AuthPolicy`]:
//! try each accepted method (API key:
//! [`Identity::api_key`]; Basic: [`Identity::basic`] on the blocking pool; bearer and
//! mTLS come from their crates, checked against [`Identity::is_revoked`]); with no
//! principal, answer 401 with [`policy::AuthPolicy::challenges`]; otherwise
//! [`policy::AuthPolicy::authorize`]; the principal travels to the inner tier, which
//! tells the backend. Every rejection has a `denial()` for the audit
//! log; clients only ever see the generic 401 or 403. Poll
//! [`Identity::reload_if_changed`] every `reload_interval` on the blocking pool.
//!
//! What it does *not* do: network I/O (it reads its own files, nothing else), bearer
//! token validation (`rampart-oauth`), client certificates (`rampart-tls`), or choosing
//! statuses and building responses (`rampart-core`'s `Problem`; the edge wires it all).

pub mod apikey;
pub mod basic;
pub mod breached;
pub mod config;
pub mod denylist;
mod digest;
pub mod lockout;
pub mod policy;
mod principal;
mod stores;
pub mod watch;

pub use principal::{Method, MethodParseError, Principal};
pub use stores::{Identity, KeyAuthenticated};

/// The check id used in every denial this crate produces.
pub const CHECK_ID: &str = "identity";

//! Rampart's rate limits, concurrency limits and quotas, for the edge tier to call per
//! request after authentication and the cheap checks.
//!
//! What it does:
//! - token buckets evaluated as GCRA ([`rate`]) with the clock injected ([`clock`]);
//!   a refused request consumes nothing;
//! - keys built from client address (IPv6 by prefix), consumer, route and upstream group
//!   ([`key`]); every applicable policy must admit, checked then committed together
//!   ([`local`]);
//! - bounded per-policy key tables that never hand an evicted client a fresh bucket, with a
//!   conservative sketch when full (module `table`);
//! - in-flight limits released on drop ([`concurrency`]);
//! - daily and monthly quotas in UTC calendar windows ([`quota`]);
//! - optionally, fleet-wide limits in redis: one atomic Lua script per decision on the
//!   server's clock, with a deadline and a fail mode, the local limits still enforced
//!   ([`RateLimiter`]);
//! - `RateLimit-Policy`, `RateLimit` and `Retry-After` headers ([`headers`]).
//!
//! What it does not do: no HTTP status choice or response building (the edge maps
//! [`Decision::Deny`] to 429 and [`Decision::Unavailable`] to 503), no authentication
//! (the consumer comes in [`RequestFacts`]), no redis cluster or TLS to redis, no
//! fleet-wide concurrency limits (in-flight counts are per replica).
//!
//! ```no_run
//! # async fn demo(text: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use rampart_core::config::Problems;
//! use rampart_ratelimit::{RateLimitConfig, RateLimiter, RawRateLimit, RequestFacts};
//!
//! let raw: RawRateLimit = toml::from_str(text)?;
//! let mut problems = Problems::default();
//! let config = RateLimitConfig::validate(&mut problems, &raw);
//! let limiter = RateLimiter::new(&config)?;
//! let facts = RequestFacts {
//!     client_ip: "192.0.2.1".parse()?,
//!     consumer: Some("key-42"),
//!     plan: Some("gold"),
//!     route: "api",
//!     upstream: "payments",
//! };
//! let _permits = limiter.acquire(&facts); // Err(Busy) -> 429 (or 503)
//! let evaluation = limiter.check(&facts).await;
//! let mut headers = http::HeaderMap::new();
//! evaluation.headers().apply(&mut headers);
//! # Ok(()) }
//! ```

pub mod clock;
pub mod concurrency;
pub mod config;
pub mod decision;
pub mod headers;
pub mod key;
pub mod limiter;
pub mod local;
pub mod quota;
pub mod rate;
mod store;
mod table;

pub use clock::{Clock, ManualClock, SystemClock};
pub use concurrency::{Busy, ConcurrencyLimiter, Permits};
pub use config::{RateLimitConfig, RawRateLimit};
pub use decision::{Decision, Evaluation, PolicyOutcome, PolicyStatus};
pub use headers::RateLimitHeaders;
pub use key::{IpPrefixes, KeyPart, KeySpec, RequestFacts};
pub use limiter::{RateLimitError, RateLimiter};
pub use local::LocalLimiter;
pub use rate::{Limit, Rate};
pub use store::StoreError;

//! The shared store: one redis round trip per decision.
//!
//! All keys of one request go to one Lua script ([`SCRIPT`]) that checks every GCRA key
//! and quota and commits only if all admit, on the server's clock (`TIME`) so replicas
//! with skewed clocks agree. GCRA keys expire when their TAT passes (the moment they equal
//! a full bucket), quota keys a minute after their window, so redis memory stays bounded
//! by the keys active in the last window. The script is loaded once with `SCRIPT LOAD`
//! and called with `EVALSHA`; after a redis restart `NOSCRIPT` falls back to `EVAL`,
//! which also caches it again. Multi-key scripts need every key on one node: redis
//! cluster is not supported.

use std::sync::OnceLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, ServerErrorKind};

use crate::config::{Policy, PolicyKind, RedisConfig};
use crate::decision::{Evaluation, Outcome, PolicyStatus, combine};
use crate::key::{IpPrefixes, RequestFacts};
use crate::quota::QuotaPeriod;

/// The decision script: calendar helpers, then the decision.
pub(crate) const SCRIPT: &str = concat!(
    include_str!("lua/calendar.lua"),
    include_str!("lua/decide.lua")
);

/// Why the store did not decide.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No answer within the configured timeout.
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    /// The connection or the command failed.
    #[error("redis failed: {0}")]
    Redis(#[from] redis::RedisError),
    /// The script's reply did not have the expected shape.
    #[error("redis returned an unexpected reply")]
    Reply,
}

/// A connection to the shared store.
pub(crate) struct Store {
    conn: ConnectionManager,
    sha: OnceLock<String>,
    timeout: Duration,
    prefix: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("timeout", &self.timeout)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Prepares a lazily connected client; it connects on first use and reconnects with
    /// exponential backoff (50 ms to 1 s) after a failure. Needs a Tokio runtime.
    pub(crate) fn new(config: &RedisConfig) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(config.url.expose())?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout.max(Duration::from_millis(250))))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(3)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config)?;
        Ok(Self {
            conn,
            sha: OnceLock::new(),
            timeout: config.timeout,
            prefix: config.key_prefix.clone(),
        })
    }

    /// Decides `facts` against `policies` (those in scope, full limits) in one call.
    pub(crate) async fn decide(
        &self,
        policies: &[&Policy],
        facts: &RequestFacts<'_>,
        prefixes: &IpPrefixes,
    ) -> Result<Evaluation, StoreError> {
        let mut keys = Vec::with_capacity(policies.len());
        let mut args: Vec<String> = Vec::with_capacity(policies.len() * 3);
        for p in policies {
            match &p.kind {
                PolicyKind::Rate(limit) => {
                    keys.push(p.key.redis_key(&self.prefix, "g", &p.name, facts, prefixes));
                    let interval_us = limit.interval().as_secs_f64() * 1e6;
                    args.push("g".into());
                    args.push(format!("{interval_us}"));
                    args.push(format!("{}", interval_us * f64::from(limit.burst())));
                }
                PolicyKind::Quota(q) => {
                    keys.push(p.key.redis_key(&self.prefix, "q", &p.name, facts, prefixes));
                    args.push("q".into());
                    args.push(q.limit.to_string());
                    args.push(match q.period {
                        QuotaPeriod::Day => "d".into(),
                        QuotaPeriod::Month => "m".into(),
                    });
                }
            }
        }
        let reply = tokio::time::timeout(self.timeout, self.run(&keys, &args))
            .await
            .map_err(|_| StoreError::Timeout(self.timeout))??;
        interpret(policies, &reply)
    }

    async fn run(&self, keys: &[String], args: &[String]) -> Result<Vec<i64>, redis::RedisError> {
        let mut conn = self.conn.clone();
        let sha = match self.sha.get() {
            Some(sha) => sha.clone(),
            None => {
                let sha: String = redis::cmd("SCRIPT")
                    .arg("LOAD")
                    .arg(SCRIPT)
                    .query_async(&mut conn)
                    .await?;
                self.sha.get_or_init(|| sha).clone()
            }
        };
        let result = redis::cmd("EVALSHA")
            .arg(&sha)
            .arg(keys.len())
            .arg(keys)
            .arg(args)
            .query_async(&mut conn)
            .await;
        match result {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                redis::cmd("EVAL")
                    .arg(SCRIPT)
                    .arg(keys.len())
                    .arg(keys)
                    .arg(args)
                    .query_async(&mut conn)
                    .await
            }
            other => other,
        }
    }
}

fn micros(n: i64) -> Duration {
    Duration::from_micros(u64::try_from(n).unwrap_or(0))
}

/// Turns the script's flat reply into an evaluation.
fn interpret(policies: &[&Policy], reply: &[i64]) -> Result<Evaluation, StoreError> {
    if reply.len() != 1 + 4 * policies.len() {
        return Err(StoreError::Reply);
    }
    let mut outcomes = Vec::with_capacity(policies.len());
    for (p, chunk) in policies.iter().zip(reply[1..].chunks_exact(4)) {
        let (admit, x, y, w) = (chunk[0], chunk[1], chunk[2], chunk[3]);
        let (quota, window) = match &p.kind {
            PolicyKind::Rate(limit) => (u64::from(limit.rate().count()), limit.rate().period()),
            PolicyKind::Quota(q) => (
                u64::from(q.limit),
                Duration::from_secs(u64::try_from(w).unwrap_or(0)),
            ),
        };
        let status = |remaining| PolicyStatus {
            name: p.name.clone(),
            quota,
            window,
            remaining,
            reset_after: micros(y),
        };
        outcomes.push(if admit == 1 {
            Outcome::Allow(status(u64::try_from(x).unwrap_or(0)))
        } else {
            Outcome::Deny {
                status: status(0),
                retry_after: micros(x),
            }
        });
    }
    let evaluation = combine(outcomes);
    // The script's own verdict must agree with the per-key ones.
    if (reply[0] == 1) != evaluation.is_allowed() {
        return Err(StoreError::Reply);
    }
    Ok(evaluation)
}

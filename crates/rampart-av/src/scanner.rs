//! [`Scanner`]: every configured engine, concurrently, behind the verdict cache.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::cache::{BodyHash, CachedVerdict, VerdictCache};
use crate::clamd::ClamdClient;
use crate::config::AvConfig;
use crate::error::ScanError;
use crate::icap::IcapClient;
use crate::metrics::AvMetrics;
use crate::verdict::{Engine, EngineVerdict, Verdict};

/// Bodies above this are hashed on the blocking pool: SHA-256 of 25 MiB takes tens of
/// milliseconds, too long for a runtime worker.
const HASH_INLINE_MAX: usize = 256 * 1024;

/// Scans bodies with the configured engines.
///
/// ```no_run
/// # async fn demo(config: rampart_av::AvConfig, body: bytes::Bytes) {
/// let scanner = rampart_av::Scanner::new(&config);
/// match scanner.scan(body).await {
///     Ok(verdict) if verdict.is_clean() => { /* forward */ }
///     Ok(verdict) => { /* deny: infected, oversize or refused */ }
///     Err(error) => { /* could not decide: apply the fail mode (closed by default) */ }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Scanner {
    clamd: Option<ClamdClient>,
    icap: Option<IcapClient>,
    cache: Mutex<VerdictCache>,
    /// Whether the cache keeps anything (when not, signatures are never asked for).
    caching: bool,
    /// How long a confirmed signature version is taken as current.
    signature_check: Duration,
    /// Per engine (clamd, icap): the signature version last confirmed. An async lock:
    /// concurrent scans that find it stale wait for one question to the engine.
    signatures: [tokio::sync::Mutex<Signatures>; 2],
    metrics: AvMetrics,
    /// Per engine (clamd, icap): failed last time, so a change is reported once.
    down: [AtomicBool; 2],
}

/// An engine's signature version as last confirmed: clamd's `VERSION` reply (its
/// database version changes with each signature update) or the ICAP service's ISTag
/// (RFC 3507: it changes whenever the service would answer differently).
#[derive(Debug, Default)]
struct Signatures {
    version: Option<Arc<str>>,
    asked: Option<Instant>,
}

/// The result of a health check per configured engine (`None`: not configured).
#[derive(Debug)]
pub struct Health {
    /// clamd answered PING with PONG.
    pub clamd: Option<Result<(), ScanError>>,
    /// The ICAP service answered OPTIONS with a usable service.
    pub icap: Option<Result<(), ScanError>>,
}

impl Health {
    /// True when every configured engine is healthy.
    pub fn is_healthy(&self) -> bool {
        [&self.clamd, &self.icap]
            .into_iter()
            .flatten()
            .all(Result::is_ok)
    }
}

impl Scanner {
    /// A scanner for `config`. No I/O: engines are contacted on first use.
    pub fn new(config: &AvConfig) -> Self {
        let settings = config.cache();
        let cache = VerdictCache::new(settings.ttl, settings.entries);
        Self {
            clamd: config.clamd().map(ClamdClient::new),
            icap: config.icap().map(IcapClient::new),
            caching: cache.is_enabled(),
            cache: Mutex::new(cache),
            signature_check: settings.signature_check,
            signatures: Default::default(),
            metrics: AvMetrics::default(),
            down: Default::default(),
        }
    }

    /// Scans `body` with every configured engine at once. Clean only when each engine
    /// answered clean; a finding from one engine decides even if another failed.
    pub async fn scan(&self, body: Bytes) -> Result<Verdict, ScanError> {
        let started = Instant::now();
        let result = self.scan_uncounted(body).await;
        self.metrics.scan(&result, started.elapsed());
        result
    }

    /// PING clamd and fetch the ICAP OPTIONS, each within its deadline.
    pub async fn health(&self) -> Health {
        let clamd = async {
            match &self.clamd {
                Some(c) => Some(c.ping().await),
                None => None,
            }
        };
        let icap = async {
            match &self.icap {
                Some(c) => Some(c.health().await.map(|_| ())),
                None => None,
            }
        };
        let (clamd, icap) = tokio::join!(clamd, icap);
        Health { clamd, icap }
    }

    /// The counters.
    pub fn metrics(&self) -> &AvMetrics {
        &self.metrics
    }

    /// The clamd client, if configured.
    pub fn clamd(&self) -> Option<&ClamdClient> {
        self.clamd.as_ref()
    }

    /// The ICAP client, if configured.
    pub fn icap(&self) -> Option<&IcapClient> {
        self.icap.as_ref()
    }

    async fn scan_uncounted(&self, body: Bytes) -> Result<Verdict, ScanError> {
        let hash = if body.len() <= HASH_INLINE_MAX {
            BodyHash::of(&body)
        } else {
            let body = body.clone();
            tokio::task::spawn_blocking(move || BodyHash::of(&body))
                .await
                .map_err(|e| ScanError::Hash(e.to_string()))?
        };
        let clamd = async {
            match &self.clamd {
                // clamd's answers carry no version: the one asked for before stands.
                Some(c) => {
                    let scan = async { c.scan(&body).await.map(|v| (v, None)) };
                    Some(self.engine(Engine::Clamd, hash, scan).await)
                }
                None => None,
            }
        };
        let icap = async {
            match &self.icap {
                Some(c) => Some(self.engine(Engine::Icap, hash, c.scan_tagged(&body)).await),
                None => None,
            }
        };
        let (clamd, icap) = tokio::join!(clamd, icap);
        combine([clamd, icap].into_iter().flatten())
    }

    /// One engine's answer, from the cache or from `scan` (which only runs on a miss and
    /// may say which signature version answered).
    async fn engine(
        &self,
        engine: Engine,
        hash: BodyHash,
        scan: impl Future<Output = Result<(EngineVerdict, Option<String>), ScanError>>,
    ) -> (Engine, Result<EngineVerdict, ScanError>) {
        // Taken before the scan: if the signatures change while it runs, its verdict is
        // kept under the older version and never reused.
        let signatures = self.signatures(engine).await;
        if let Some(version) = &signatures
            && let Some(hit) = self.cache().get(engine, hash, version, Instant::now())
        {
            self.metrics.cache_hit(engine);
            return (engine, Ok(hit.into_engine()));
        }
        self.metrics.engine_request(engine);
        let (result, answered_by) = match scan.await {
            Ok((verdict, version)) => (Ok(verdict), version),
            Err(e) => (Err(e), None),
        };
        match &result {
            Ok(verdict) => {
                // An ICAP verdict is kept under the ISTag of the instance that reached it:
                // a worker still on old signatures does not vouch for the new ones.
                let version = match answered_by {
                    Some(tag) => Some(signatures.filter(|v| **v == *tag).unwrap_or(tag.into())),
                    None => signatures,
                };
                if let (Some(cached), Some(version)) =
                    (CachedVerdict::from_engine(verdict), version)
                {
                    self.cache()
                        .insert(engine, hash, version, cached, Instant::now());
                }
                self.health_changed(engine, true, "answered");
            }
            Err(error) => {
                self.metrics.engine_error(engine);
                tracing::debug!(%engine, %error, "antivirus engine failed");
                self.health_changed(engine, false, &error.to_string());
            }
        }
        (engine, result)
    }

    /// `engine`'s signature version, asked for when the last answer is older than the
    /// check interval; `None` when never known (nothing is cached or reused then). When
    /// the engine cannot answer, the last version stays in force until the next check:
    /// an engine that answers nothing serves no new signatures either, and a cached
    /// verdict stays usable through an outage.
    async fn signatures(&self, engine: Engine) -> Option<Arc<str>> {
        if !self.caching {
            return None;
        }
        let mut state = self.signatures[index(engine)].lock().await;
        if state
            .asked
            .is_some_and(|at| at.elapsed() < self.signature_check)
        {
            return state.version.clone();
        }
        let answer = match engine {
            Engine::Clamd => match &self.clamd {
                // Boxed: asked once per interval, and the exchange would double every
                // scan's future.
                Some(c) => Box::pin(c.version()).await,
                None => return None,
            },
            // A service that sends no ISTag (RFC 3507 requires one) has one version.
            Engine::Icap => match &self.icap {
                Some(c) => Box::pin(c.current_istag())
                    .await
                    .map(Option::unwrap_or_default),
                None => return None,
            },
        };
        state.asked = Some(Instant::now());
        match answer {
            Ok(version) if state.version.as_deref() != Some(version.as_str()) => {
                if let Some(old) = &state.version {
                    tracing::info!(%engine, old = %old, new = %version, "antivirus signatures changed; cached verdicts dropped");
                    self.metrics.signature_change(engine);
                    self.cache().forget(engine);
                }
                state.version = Some(version.into());
            }
            Ok(_) => {}
            Err(error) => {
                tracing::debug!(%engine, %error, "antivirus signature version unknown");
            }
        }
        state.version.clone()
    }

    /// A system event (what `engine-down` alert rules match) when `engine` goes down or
    /// comes back; nothing while it stays as it was.
    fn health_changed(&self, engine: Engine, up: bool, why: &str) {
        if self.down[index(engine)].swap(!up, Ordering::Relaxed) == up {
            rampart_service::audit::system_event(
                "inner",
                "antivirus",
                &engine.to_string(),
                up,
                why,
            );
        }
    }

    fn cache(&self) -> MutexGuard<'_, VerdictCache> {
        // The cache holds no invariant a panicking holder could break halfway.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The slot of `engine` in per-engine arrays.
fn index(engine: Engine) -> usize {
    match engine {
        Engine::Clamd => 0,
        Engine::Icap => 1,
    }
}

/// A blocking answer from any engine wins (the strongest one); otherwise the first error;
/// otherwise clean.
fn combine(
    results: impl IntoIterator<Item = (Engine, Result<EngineVerdict, ScanError>)>,
) -> Result<Verdict, ScanError> {
    let mut strongest = Verdict::Clean;
    let mut error = None;
    for (engine, result) in results {
        match result {
            Ok(verdict) => {
                let verdict = Verdict::from_engine(engine, verdict);
                if verdict.rank() > strongest.rank() {
                    strongest = verdict;
                }
            }
            Err(e) => {
                error.get_or_insert(e);
            }
        }
    }
    match (strongest, error) {
        (Verdict::Clean, Some(error)) => Err(error),
        (verdict, _) => Ok(verdict),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn timeout(engine: Engine) -> ScanError {
        ScanError::Timeout {
            engine,
            after: Duration::from_secs(1),
        }
    }

    fn infected(s: &str) -> EngineVerdict {
        EngineVerdict::Infected {
            signature: s.into(),
        }
    }

    #[test]
    fn clean_needs_every_engine_and_a_finding_beats_a_failure() {
        use Engine::{Clamd, Icap};
        let clean = || EngineVerdict::Clean;
        type Answers = Vec<(Engine, Result<EngineVerdict, ScanError>)>;
        let table: Vec<(Answers, Result<Verdict, ()>)> = vec![
            (
                vec![(Clamd, Ok(clean())), (Icap, Ok(clean()))],
                Ok(Verdict::Clean),
            ),
            (vec![(Clamd, Ok(clean()))], Ok(Verdict::Clean)),
            (
                vec![(Clamd, Ok(clean())), (Icap, Err(timeout(Icap)))],
                Err(()),
            ),
            (
                vec![(Clamd, Err(timeout(Clamd))), (Icap, Ok(clean()))],
                Err(()),
            ),
            (
                vec![(Clamd, Err(timeout(Clamd))), (Icap, Ok(infected("X")))],
                Ok(Verdict::Infected {
                    engine: Icap,
                    signature: "X".into(),
                }),
            ),
            (
                vec![
                    (Clamd, Ok(EngineVerdict::Oversize)),
                    (Icap, Ok(infected("X"))),
                ],
                Ok(Verdict::Infected {
                    engine: Icap,
                    signature: "X".into(),
                }),
            ),
            (
                vec![(Clamd, Ok(EngineVerdict::Oversize)), (Icap, Ok(clean()))],
                Ok(Verdict::Oversize { engine: Clamd }),
            ),
            (
                vec![
                    (
                        Clamd,
                        Ok(EngineVerdict::Refuse {
                            message: "m".into(),
                        }),
                    ),
                    (Icap, Err(timeout(Icap))),
                ],
                Ok(Verdict::Refuse {
                    engine: Clamd,
                    message: "m".into(),
                }),
            ),
            (
                vec![(Clamd, Ok(infected("A"))), (Icap, Ok(infected("B")))],
                Ok(Verdict::Infected {
                    engine: Clamd,
                    signature: "A".into(),
                }),
            ),
        ];
        for (results, want) in table {
            let label = format!("{results:?}");
            assert_eq!(combine(results).map_err(|_| ()), want, "{label}");
        }
    }
}

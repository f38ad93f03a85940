//! XML Schema (XSD) validation of XML and SOAP bodies, per route:
//!
//! ```toml
//! [[routes]]
//! xml_schema = { file = "schemas/envelope.xsd", mode = "block" }
//! # optional: fail_open = false, timeout = "2s", workers = 2, queue = 64
//! ```
//!
//! The validator is libxml2 (through the `libxml` binding), the reference implementation
//! of XSD 1.0 that handles what SOAP services use: `xs:import` across namespaces,
//! `xs:include`, complex types, restrictions. It runs only after the XML safety checks
//! passed (so it never sees a DTD, an entity or an oversized document), on a small pool
//! of threads that each compiled the schema once at load (libxml2 contexts are not
//! `Send`), fed through a bounded queue with a deadline. A violation is a 422
//! (`schema-violation`) whose audit location names the schema file and a short,
//! sanitised element path of the first error — never document content. A full queue or
//! a timeout fails closed (503) unless `fail_open = true`.
//!
//! Schemas are read from local files only: every `xs:import`/`xs:include`/`xs:redefine`
//! must name a local file, checked before libxml2 sees the schema, so nothing is ever
//! fetched from the network. Documents are parsed with libxml2's network access off.
//!
//! The validator is behind the `xsd` cargo feature (it needs libxml2 at build and run
//! time); a build without it refuses `xml_schema` at load with a key-path error.

#[cfg(feature = "xsd")]
mod imports;
#[cfg(feature = "xsd")]
mod pool;
#[cfg(all(test, feature = "xsd"))]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rampart_core::check::{CheckError, Denial};
use rampart_core::config::Problems;
use rampart_core::pipeline::{Enforcement, FailMode, Observation};
use rampart_core::problem::Reason;
use serde::Deserialize;

/// The check name in audit records.
pub(crate) const CHECK: &str = "xml-schema";

/// `xml_schema = { ... }` on a route, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawXmlSchema {
    file: Option<PathBuf>,
    mode: Option<String>,
    fail_open: Option<bool>,
    timeout: Option<String>,
    workers: Option<usize>,
    queue: Option<usize>,
}

/// What validating one document found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "xsd"), allow(dead_code))]
pub(crate) enum Outcome {
    /// The document conforms.
    Valid,
    /// The first violation, located (schema file, element path, document line).
    Invalid {
        /// Where, for the audit record.
        location: String,
    },
    /// The validator could not decide (queue full, timeout, thread gone).
    Unavailable(String),
}

/// A route's schema validation.
pub struct XsdPolicy {
    enforcement: Enforcement,
    fail: FailMode,
    timeout: Duration,
    #[cfg(feature = "xsd")]
    pool: pool::Pool,
}

impl std::fmt::Debug for XsdPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XsdPolicy")
            .field("enforcement", &self.enforcement)
            .field("fail", &self.fail)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Validates `routes[i].xml_schema`, compiling the schema once per worker thread.
pub(crate) fn validate(
    p: &mut Problems,
    key: &str,
    base: &std::path::Path,
    raw: &RawXmlSchema,
) -> Option<Arc<XsdPolicy>> {
    let key = format!("{key}.xml_schema");
    let file = p.required(&format!("{key}.file"), raw.file.as_ref())?;
    let file = rampart_core::config::resolve(base, file);
    let enforcement = match raw.mode.as_deref().unwrap_or("block") {
        "block" => Enforcement::Block,
        "detect" => Enforcement::DetectOnly,
        other => {
            p.push(
                format!("{key}.mode"),
                format!("{other:?} is not one of block, detect"),
            );
            return None;
        }
    };
    let timeout = p.duration_or(
        &format!("{key}.timeout"),
        raw.timeout.as_ref(),
        Duration::from_secs(2),
    );
    let workers = raw.workers.unwrap_or(2);
    if !(1..=16).contains(&workers) {
        p.push(format!("{key}.workers"), "must be between 1 and 16");
        return None;
    }
    let queue = raw.queue.unwrap_or(64);
    if !(1..=10_000).contains(&queue) {
        p.push(format!("{key}.queue"), "must be between 1 and 10000");
        return None;
    }
    let fail = if raw.fail_open == Some(true) {
        FailMode::Open
    } else {
        FailMode::Close
    };
    #[cfg(feature = "xsd")]
    {
        let pool = build(p, &key, &file, (workers, queue))?;
        Some(Arc::new(XsdPolicy {
            enforcement,
            fail,
            timeout,
            pool,
        }))
    }
    #[cfg(not(feature = "xsd"))]
    {
        let _ = (file, enforcement, fail, timeout, workers, queue);
        p.push(
            key,
            "this build has no XML Schema support: build rampart-inner with the `xsd` feature \
             (it needs libxml2)",
        );
        None
    }
}

#[cfg(feature = "xsd")]
fn build(
    p: &mut Problems,
    key: &str,
    file: &std::path::Path,
    (workers, queue): (usize, usize),
) -> Option<pool::Pool> {
    if let Err(e) = imports::check_local(file) {
        p.push(format!("{key}.file"), e);
        return None;
    }
    pool::Pool::start(file, workers, queue)
        .map_err(|e| p.push(format!("{key}.file"), e))
        .ok()
}

impl XsdPolicy {
    /// Whether violations are refused (not only reported).
    pub(crate) fn enforces(&self) -> bool {
        self.enforcement == Enforcement::Block
    }

    /// Validates `xml`; a violation or an undecided validation becomes a denial, or an
    /// observation in detect mode / with `fail_open`.
    pub(crate) async fn check(
        &self,
        xml: Bytes,
        observations: &mut Vec<Observation>,
    ) -> Option<Denial> {
        match self.outcome(xml).await {
            Outcome::Valid => None,
            Outcome::Invalid { location } => {
                let denial = Denial::new(CHECK, Reason::UnprocessableContent)
                    .with_rule("schema-violation")
                    .with_location(location);
                if self.enforcement == Enforcement::DetectOnly {
                    observations.push(Observation::WouldDeny(denial));
                    return None;
                }
                Some(denial)
            }
            Outcome::Unavailable(cause) => {
                if self.fail == FailMode::Open {
                    observations.push(Observation::Skipped {
                        check: CHECK,
                        error: CheckError::DependencyUnavailable {
                            dependency: CHECK,
                            cause,
                        },
                    });
                    return None;
                }
                tracing::warn!(cause, "schema validation could not decide; failing closed");
                Some(
                    Denial::new(CHECK, Reason::InspectionUnavailable)
                        .with_rule("validator-unavailable"),
                )
            }
        }
    }

    #[cfg(feature = "xsd")]
    async fn outcome(&self, xml: Bytes) -> Outcome {
        let deadline = std::time::Instant::now() + self.timeout;
        let reply = match self.pool.submit(xml, deadline) {
            Ok(reply) => reply,
            Err(outcome) => return outcome,
        };
        match tokio::time::timeout(self.timeout, reply).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Outcome::Unavailable("validator dropped the document".into()),
            Err(_) => Outcome::Unavailable("validation timed out".into()),
        }
    }

    #[cfg(not(feature = "xsd"))]
    async fn outcome(&self, _xml: Bytes) -> Outcome {
        // Never built without the feature: `validate` refuses the key.
        Outcome::Unavailable("built without the xsd feature".into())
    }
}

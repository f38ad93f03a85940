//! A narrow entry point to the CPU part of inspection (decode, strict parse, canonical
//! copy, contract check, detection over every leaf) for the criterion benches: the
//! inspector itself is crate-private and needs a running link to reach.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri};
use rampart_core::pipeline::Enforcement;
use rampart_detect::{Engine, PolicyConfig};
use rampart_openapi::{Contract, LoadLimits};

use super::config::{Forward, InspectionPolicy, Oversize};
use super::contract::{ContractMode, ContractPolicy};
use super::{HeadView, rulemodes::RuleModes};

/// One route and one request head, screened against bodies with [`BenchRoute::screen`].
#[doc(hidden)]
pub struct BenchRoute {
    engine: Engine,
    rules: RuleModes,
    policy: InspectionPolicy,
    head: HeadView,
}

impl BenchRoute {
    /// A blocking route with the built-in rules, default detection policy, canonical
    /// forwarding, `limits`, and the OpenAPI `spec` (JSON or YAML) enforced when given.
    pub fn new(
        spec: Option<&[u8]>,
        limits: rampart_parse::Limits,
        method: &str,
        uri: &str,
        content_type: &str,
    ) -> Result<Self, String> {
        let engine = Engine::builtin();
        let detection = rampart_detect::Policy::from_config(&PolicyConfig::default(), &engine)
            .map_err(|e| e.to_string())?;
        let contract = match spec {
            Some(spec) => Some(Arc::new(ContractPolicy {
                contract: Contract::from_bytes(spec, &LoadLimits::default())
                    .map_err(|e| e.to_string())?,
                mode: ContractMode::Enforce,
                undocumented: ContractMode::Enforce,
            })),
            None => None,
        };
        let policy = InspectionPolicy {
            enforcement: Some(Enforcement::Block),
            max_body: rampart_core::units::ByteSize::mib(64),
            oversize: Oversize::Refuse,
            options: rampart_parse::Options {
                canonical: true,
                ..Default::default()
            },
            limits: Arc::new(limits),
            forward: Forward::Canonical,
            detection: Arc::new(detection),
            antivirus: None,
            contract,
            xml_schema: None,
            seen: Default::default(),
        };
        let mut headers = HeaderMap::new();
        let content_type = HeaderValue::from_str(content_type).map_err(|e| e.to_string())?;
        headers.insert(http::header::CONTENT_TYPE, content_type);
        let head = HeadView {
            method: Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?,
            uri: uri.parse::<Uri>().map_err(|e| e.to_string())?,
            headers,
        };
        Ok(Self {
            rules: RuleModes::new(&engine),
            engine,
            policy,
            head,
        })
    }

    /// Screens `body` as the inner does before the antivirus scan: the length of the
    /// body that would be forwarded, or the denial's rule.
    pub fn screen(&self, body: &Bytes) -> Result<usize, String> {
        let screened = super::screen((&self.engine, &self.rules), &self.policy, &self.head, body);
        match screened.decision {
            Ok(cleared) => Ok(cleared.body.len()),
            Err(denial) => Err(format!(
                "{:?} {} at {}",
                denial.reason,
                denial.rule.as_deref().unwrap_or("-"),
                denial.location.as_deref().unwrap_or("-"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::BenchRoute;

    /// Screens a batch of orders `INSPECT_COUNT` times (default 1), for instruction counts
    /// under `valgrind --tool=callgrind --toggle-collect='*BenchRoute*screen*'`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn count_screens() {
        let mut body = String::from(r#"{"orders":["#);
        for i in 0..4 {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&format!(
                r#"{{"id":"ord-{i:05}","email":"buyer{i}@example.com","name":"Alex Martin","sku":"AB-{:04}","price":"{}.99","city":"Lyon","notes":"Please leave the parcel with the neighbour if nobody answers."}}"#,
                1000 + i * 7,
                3 + i * 11,
            ));
        }
        body.push_str("]}");
        let body = bytes::Bytes::from(body);
        let limits = rampart_parse::Limits::default();
        let route =
            BenchRoute::new(None, limits, "POST", "/v1/import", "application/json").unwrap();
        let n = std::env::var("INSPECT_COUNT").map_or(1, |n| n.parse().unwrap());
        for _ in 0..n {
            assert!(route.screen(&body).is_ok());
        }
    }
}

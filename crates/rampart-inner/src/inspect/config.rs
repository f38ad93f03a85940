//! `[inspection]` (defaults) and `[routes.inspection]` / `[routes.antivirus]` (per route):
//! raw as written, validated into an [`InspectionPolicy`] per route.

use std::sync::Arc;

use rampart_core::config::Problems;
use rampart_core::pipeline::{Enforcement, FailMode};
use rampart_core::units::ByteSize;
use rampart_detect::{Engine, Policy, PolicyConfig};
use serde::Deserialize;

/// Inspection keys, as written globally or per route (route keys win).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInspection {
    mode: Option<String>,
    max_body: Option<String>,
    oversize: Option<String>,
    allow_opaque: Option<bool>,
    graphql: Option<bool>,
    forward: Option<String>,
    detection: Option<PolicyConfig>,
    limits: Option<rampart_parse::Limits>,
}

impl RawInspection {
    /// `self` with every key it leaves out taken from `defaults`.
    pub(crate) fn over(&self, defaults: &RawInspection) -> RawInspection {
        RawInspection {
            mode: self.mode.clone().or_else(|| defaults.mode.clone()),
            max_body: self.max_body.clone().or_else(|| defaults.max_body.clone()),
            oversize: self.oversize.clone().or_else(|| defaults.oversize.clone()),
            allow_opaque: self.allow_opaque.or(defaults.allow_opaque),
            graphql: self.graphql.or(defaults.graphql),
            forward: self.forward.clone().or_else(|| defaults.forward.clone()),
            detection: self
                .detection
                .clone()
                .or_else(|| defaults.detection.clone()),
            limits: self.limits.clone().or_else(|| defaults.limits.clone()),
        }
    }
}

/// `[routes.antivirus]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRouteAntivirus {
    enabled: Option<bool>,
    fail_open: Option<bool>,
    mode: Option<String>,
    engines: Option<String>,
    oversize: Option<String>,
    #[serde(default)]
    content_types: Vec<String>,
}

/// Which configured engines scan a route's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engines {
    /// Every configured engine; each must say clean.
    All,
    /// clamd only.
    Clamd,
    /// The ICAP service only.
    Icap,
}

/// What happens to bodies larger than the inspection limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oversize {
    /// 413: nothing uninspected reaches the backend (the default).
    Refuse,
    /// Stream it to the backend uninspected (written explicitly, logged per request).
    Stream,
}

/// Which bytes the backend receives after inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// The decoded body, re-serialised where the parser can (JSON): the backend sees
    /// exactly what was inspected.
    Canonical,
    /// The bytes as the client sent them (still inspected after decoding).
    Original,
}

/// Antivirus settings of one route.
#[derive(Debug, Clone)]
pub struct AvPolicy {
    /// When an engine cannot decide.
    pub fail: FailMode,
    /// Block or only report.
    pub enforcement: Enforcement,
    /// Which engines scan.
    pub engines: Engines,
    /// Content larger than an engine scans passes unscanned (written explicitly; logged).
    pub allow_oversize: bool,
    /// Media types scanned (`type/subtype` or `type/*`); empty: everything.
    pub content_types: Arc<[String]>,
}

impl AvPolicy {
    /// Whether content declared as `content_type` is scanned on this route. Content
    /// without a declared type is always scanned.
    pub fn scans(&self, content_type: Option<&str>) -> bool {
        let Some(essence) = content_type.and_then(|c| c.split(';').next()) else {
            return true;
        };
        let essence = essence.trim().to_ascii_lowercase();
        self.content_types.is_empty()
            || self
                .content_types
                .iter()
                .any(|p| match p.strip_suffix("/*") {
                    Some(ty) => essence.split('/').next() == Some(ty),
                    None => *p == essence,
                })
    }
}

/// Everything the inner tier does to one route's requests before forwarding them.
#[derive(Debug, Clone)]
pub struct InspectionPolicy {
    /// `None`: inspection is off for the route (written explicitly as `mode = "off"`).
    pub enforcement: Option<Enforcement>,
    /// Largest body read and inspected.
    pub max_body: ByteSize,
    /// Bodies above `max_body`.
    pub oversize: Oversize,
    /// Parser choices.
    pub options: rampart_parse::Options,
    /// Parser limits.
    pub limits: Arc<rampart_parse::Limits>,
    /// What is forwarded.
    pub forward: Forward,
    /// Detection policy.
    pub detection: Arc<Policy>,
    /// Antivirus, when engines are configured and the route does not turn it off.
    pub antivirus: Option<AvPolicy>,
    /// The route's OpenAPI contract (`[routes.openapi]`), set by the route validation.
    pub contract: Option<Arc<super::contract::ContractPolicy>>,
    /// The route's XML Schema (`xml_schema`), set by the route validation.
    pub xml_schema: Option<Arc<super::xsd::XsdPolicy>>,
    /// Client capability headers (`User-Agent`, `Accept`...), names and body keys the
    /// route's earlier requests showed clean under `detection`.
    pub seen: Arc<rampart_detect::SharedMemo>,
}

fn parse_enforcement(p: &mut Problems, key: &str, raw: Option<&str>) -> Option<Enforcement> {
    match raw.unwrap_or("block") {
        "block" => Some(Enforcement::Block),
        "detect" => Some(Enforcement::DetectOnly),
        other => {
            p.push(key, format!("{other:?} is not one of block, detect"));
            None
        }
    }
}

/// The deepest JSON nesting a route may accept: what serde_json (the OpenAPI and
/// response validators' reader) reads.
const MAX_JSON_DEPTH: usize = 128;

/// Validates the merged inspection keys of route `key` (e.g. `routes[2]`).
pub(crate) fn validate(
    p: &mut Problems,
    key: &str,
    raw: &RawInspection,
    av: Option<&RawRouteAntivirus>,
    av_engines: (bool, bool),
    engine: &Engine,
) -> Option<InspectionPolicy> {
    let av_configured = av_engines.0 || av_engines.1;
    let mode_key = format!("{key}.inspection.mode");
    let enforcement = match raw.mode.as_deref() {
        Some("off") => None,
        other => Some(parse_enforcement(p, &mode_key, other)?),
    };
    let max_body = p.size_or(
        &format!("{key}.inspection.max_body"),
        raw.max_body.as_ref(),
        ByteSize::mib(1),
    );
    if max_body > ByteSize::mib(64) {
        p.push(
            format!("{key}.inspection.max_body"),
            "must be at most 64MiB (bodies are held in memory while inspected)",
        );
    }
    let limits = raw.limits.clone().unwrap_or_default();
    if !(1..=MAX_JSON_DEPTH).contains(&limits.json.max_depth) {
        // Deeper JSON passes the strict parser but not the contract's and response
        // checks' reader: refused there as unreadable. Say so here instead.
        p.push(
            format!("{key}.inspection.limits.json.max_depth"),
            format!("must be between 1 and {MAX_JSON_DEPTH}"),
        );
    }
    let oversize = match raw.oversize.as_deref().unwrap_or("refuse") {
        "refuse" => Oversize::Refuse,
        "stream" => Oversize::Stream,
        other => {
            p.push(
                format!("{key}.inspection.oversize"),
                format!("{other:?} is not one of refuse, stream"),
            );
            Oversize::Refuse
        }
    };
    let forward = match raw.forward.as_deref().unwrap_or("canonical") {
        "canonical" => Forward::Canonical,
        "original" => Forward::Original,
        other => {
            p.push(
                format!("{key}.inspection.forward"),
                format!("{other:?} is not one of canonical, original"),
            );
            Forward::Canonical
        }
    };
    let detection = match Policy::from_config(&raw.detection.clone().unwrap_or_default(), engine) {
        Ok(policy) => Some(policy),
        Err(e) => {
            p.push(format!("{key}.inspection.detection"), e);
            None
        }
    };
    let antivirus = match av {
        Some(a) if a.enabled == Some(false) => None,
        Some(a) if !av_configured && a.enabled == Some(true) => {
            p.push(
                format!("{key}.antivirus.enabled"),
                "no [antivirus] engine is configured",
            );
            None
        }
        _ if !av_configured => None,
        a => {
            let a = a.cloned().unwrap_or_default();
            let enforcement =
                parse_enforcement(p, &format!("{key}.antivirus.mode"), a.mode.as_deref())?;
            let engines_key = format!("{key}.antivirus.engines");
            let engines = match a.engines.as_deref().unwrap_or("all") {
                "all" => Engines::All,
                "clamd" if av_engines.0 => Engines::Clamd,
                "icap" if av_engines.1 => Engines::Icap,
                e @ ("clamd" | "icap") => {
                    p.push(engines_key, format!("{e} is not configured in [antivirus]"));
                    return None;
                }
                other => {
                    p.push(
                        engines_key,
                        format!("{other:?} is not one of all, clamd, icap"),
                    );
                    return None;
                }
            };
            let allow_oversize = match a.oversize.as_deref().unwrap_or("block") {
                "block" => false,
                "allow" => true,
                other => {
                    p.push(
                        format!("{key}.antivirus.oversize"),
                        format!("{other:?} is not one of block, allow"),
                    );
                    return None;
                }
            };
            let mut content_types = Vec::new();
            for (i, t) in a.content_types.iter().enumerate() {
                let t = t.trim().to_ascii_lowercase();
                let valid = t.split_once('/').is_some_and(|(ty, sub)| {
                    !ty.is_empty() && ty != "*" && !sub.is_empty() && !sub.contains('/')
                });
                if !valid {
                    p.push(
                        format!("{key}.antivirus.content_types[{i}]"),
                        "expected type/subtype or type/*",
                    );
                }
                content_types.push(t);
            }
            Some(AvPolicy {
                engines,
                allow_oversize,
                content_types: content_types.into(),
                fail: if a.fail_open == Some(true) {
                    FailMode::Open
                } else {
                    FailMode::Close
                },
                enforcement,
            })
        }
    };
    Some(InspectionPolicy {
        enforcement,
        max_body,
        oversize,
        options: rampart_parse::Options {
            graphql: raw.graphql.unwrap_or(false),
            allow_opaque: raw.allow_opaque.unwrap_or(false),
            canonical: forward == Forward::Canonical,
            // Decided per request: only where no contract validates the body.
            sniff_graphql: false,
        },
        limits: Arc::new(limits),
        forward,
        detection: Arc::new(detection?),
        antivirus,
        contract: None,
        xml_schema: None,
        seen: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn json_depth_is_bounded_by_what_the_contract_reader_reads() {
        let engine = Engine::builtin();
        let cases = [
            ("", true),
            ("[limits.json]\nmax_depth = 128", true),
            ("[limits.json]\nmax_depth = 1", true),
            ("[limits.json]\nmax_depth = 129", false),
            ("[limits.json]\nmax_depth = 0", false),
        ];
        for (toml_text, ok) in cases {
            let raw: RawInspection = toml::from_str(toml_text).unwrap();
            let mut p = Problems::default();
            let policy = validate(&mut p, "routes[0]", &raw, None, (false, false), &engine);
            let text = format!("{p:?}");
            assert_eq!(policy.is_some() && p.is_empty(), ok, "{toml_text}: {text}");
            if !ok {
                assert!(
                    text.contains("routes[0].inspection.limits.json.max_depth"),
                    "{text}"
                );
            }
        }
    }
}

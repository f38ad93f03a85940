//! `[routes.openapi]`: the route's API contract as the positive model. Every request
//! is checked against the spec after the body was parsed strictly and before the
//! detectors run: undocumented paths (403), methods (405), media types (415), bad
//! parameters (400) and bodies that violate their schema (422) are refused, or only
//! reported; values the schema pins to a non-free-text shape skip the detectors.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rampart_core::check::Denial;
use rampart_core::config::{Problems, resolve};
use rampart_core::pipeline::Observation;
use rampart_core::problem::Reason;
use rampart_detect::{Field, FieldKind};
use rampart_openapi::{Body, Class, Contract, FormField, LoadLimits, Outcome, Pinned, Request};
use rampart_parse::{BodyKind, Parsed};
use serde::Deserialize;

use super::HeadView;

/// `openapi = { spec = "...", mode = "...", undocumented = "..." }`. Responses are
/// validated by `[routes.response] validate`; `validate_responses` is refused with a
/// pointer there.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOpenapi {
    spec: Option<PathBuf>,
    mode: Option<String>,
    undocumented: Option<String>,
    validate_responses: Option<bool>,
}

/// Refuse or only report (audit action `report`, the request goes on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractMode {
    /// Refuse violations.
    Enforce,
    /// Log them and let the request through.
    Report,
}

/// A route's compiled contract and what to do about violations.
#[derive(Debug)]
pub struct ContractPolicy {
    /// The compiled spec.
    pub contract: Contract,
    /// For every violation.
    pub mode: ContractMode,
    /// For paths the spec does not document (applies only when `mode` enforces).
    pub undocumented: ContractMode,
}

fn parse_mode(
    p: &mut Problems,
    key: &str,
    raw: Option<&str>,
    default: &str,
) -> Option<ContractMode> {
    match raw.unwrap_or(default) {
        "enforce" | "refuse" => Some(ContractMode::Enforce),
        "report" => Some(ContractMode::Report),
        other => {
            let allowed = if key.ends_with("undocumented") {
                "refuse, report"
            } else {
                "enforce, report, off"
            };
            p.push(key, format!("{other:?} is not one of {allowed}"));
            None
        }
    }
}

/// Validates `routes[i].openapi` and loads its spec (relative to `base`), with its
/// response schemas compiled when `responses` (the route validates responses).
/// `None`: no contract (absent, `mode = "off"`, or a problem that was reported).
pub(crate) fn validate(
    p: &mut Problems,
    key: &str,
    base: &Path,
    raw: &RawOpenapi,
    responses: bool,
) -> Option<Arc<ContractPolicy>> {
    let key = format!("{key}.openapi");
    if raw.mode.as_deref() == Some("off") {
        return None;
    }
    let mode = parse_mode(p, &format!("{key}.mode"), raw.mode.as_deref(), "enforce");
    let undocumented = parse_mode(
        p,
        &format!("{key}.undocumented"),
        raw.undocumented.as_deref(),
        "refuse",
    );
    if raw.validate_responses == Some(true) {
        // Refused rather than ignored: the setting moved, and must not silently do nothing.
        p.push(
            format!("{key}.validate_responses"),
            "moved: set validate = \"log\" or \"block\" in the route's [routes.response]",
        );
        return None;
    }
    let Some(spec) = &raw.spec else {
        p.push(format!("{key}.spec"), "is required");
        return None;
    };
    let path = resolve(base, spec);
    let loaded = if responses {
        Contract::load_with_responses(&path, &LoadLimits::default())
    } else {
        Contract::load(&path, &LoadLimits::default())
    };
    let contract = match loaded {
        Ok(c) => c,
        Err(e) => {
            p.push(format!("{key}.spec"), format!("{}: {e}", path.display()));
            return None;
        }
    };
    Some(Arc::new(ContractPolicy {
        contract,
        mode: mode?,
        undocumented: undocumented?,
    }))
}

/// What the contract decided about one request.
#[derive(Debug, Default)]
pub(crate) struct Checked {
    /// Refuse with this.
    pub(crate) denial: Option<Denial>,
    /// Report-only violations, for the audit log.
    pub(crate) reports: Vec<Observation>,
    /// Values the detectors may skip.
    pub(crate) pinned: Pinned,
}

impl Checked {
    /// Whether a head field (query, header, cookie) was pinned by its schema.
    pub(crate) fn skips_head(&self, field: &Field<'_>) -> bool {
        let name = field.location.name();
        match field.location.scope() {
            "query" => self.pinned.query(name),
            "header" => self.pinned.header(name),
            "cookie" => self.pinned.cookie(name),
            _ => false,
        }
    }

    /// Whether the JSON body's leaf `index` (its position in [`Parsed::leaves`]) was
    /// pinned.
    pub(crate) fn skips_json(&self, kind: FieldKind, index: usize) -> bool {
        match kind {
            FieldKind::BodyValue => self.pinned.json_value(index),
            FieldKind::BodyKey => self.pinned.json_key(index),
            _ => false,
        }
    }

    /// Whether a form or multipart leaf at `location` (as [`Parsed::location`] renders
    /// it) was pinned.
    pub(crate) fn skips_body(&self, kind: FieldKind, location: &str) -> bool {
        match kind {
            FieldKind::BodyValue => self.pinned.body_value(location),
            FieldKind::BodyKey => self.pinned.body_key(location),
            _ => false,
        }
    }
}

/// Checks a parsed request against the route's contract, if it has one.
pub(crate) fn check(
    policy: Option<&ContractPolicy>,
    head: &HeadView,
    content_type: Option<&str>,
    decoded: &[u8],
    parsed: &Parsed<'_>,
) -> Checked {
    let Some(policy) = policy else {
        return Checked::default();
    };
    let fields;
    let body = match parsed.kind {
        BodyKind::Empty => Body::Empty,
        BodyKind::Json => Body::Json(decoded),
        BodyKind::Form | BodyKind::Multipart => {
            fields = form_fields(parsed);
            Body::Fields(&fields)
        }
        _ => Body::Other,
    };
    let request = Request {
        method: head.method.as_str(),
        path: head.uri.path(),
        query: head.uri.query(),
        headers: &head.headers,
        content_type,
        body,
    };
    decide(policy, policy.contract.check(&request))
}

fn decide(policy: &ContractPolicy, outcome: Outcome) -> Checked {
    let Outcome {
        violations,
        pinned,
        report_only,
        ..
    } = outcome;
    let Some(first) = violations.first() else {
        return Checked {
            pinned,
            ..Checked::default()
        };
    };
    let denial = |class: Class, keyword: &str, location: &str| {
        let reason = match class {
            Class::UndocumentedPath => Reason::Forbidden,
            Class::UndocumentedMethod => Reason::MethodNotAllowed,
            Class::UnsupportedMediaType => Reason::UnsupportedMediaType,
            Class::Parameter => Reason::BadRequest,
            _ => Reason::UnprocessableContent,
        };
        Denial::new("openapi", reason)
            .with_rule(keyword)
            .with_location(location)
    };
    let report = policy.mode == ContractMode::Report
        || report_only
        || (first.class == Class::UndocumentedPath && policy.undocumented == ContractMode::Report);
    if report {
        // One audit record per violation (already capped), each naming field and keyword.
        let reports = violations
            .iter()
            .map(|v| Observation::WouldDeny(denial(v.class, v.keyword, &v.location)))
            .collect();
        return Checked {
            denial: None,
            reports,
            pinned,
        };
    }
    if violations.len() > 1 {
        let rest: Vec<String> = violations[1..]
            .iter()
            .map(|v| format!("{}@{}", v.keyword, v.location))
            .collect();
        tracing::debug!(?rest, "further contract violations");
    }
    Checked {
        denial: Some(denial(first.class, first.keyword, &first.location)),
        reports: Vec::new(),
        pinned: Pinned::default(),
    }
}

/// The form or multipart fields the contract checks.
fn form_fields<'p>(parsed: &'p Parsed<'_>) -> Vec<FormField<'p>> {
    parsed
        .top_level_fields()
        .into_iter()
        .map(|f| FormField::new(f.name, f.text, f.location))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::inspect::{Forward, InspectionPolicy, Oversize, screen};
    use bytes::Bytes;
    use http::HeaderMap;
    use rampart_core::pipeline::Enforcement;
    use rampart_detect::{Engine, PolicyConfig};

    const SPEC: &[u8] = br#"{"openapi": "3.1.0", "paths": {"/t": {"post": {"requestBody": {
        "content": {"application/json": {"schema": {"type": "object",
            "additionalProperties": false, "properties": {
                "kind": {"enum": ["1' OR '1'='1", "plain"]},
                "note": {"type": "string"}}}}}}}}}}"#;

    fn policy(mode: Option<ContractMode>) -> (Engine, InspectionPolicy) {
        let engine = Engine::builtin();
        let contract = mode.map(|mode| {
            Arc::new(ContractPolicy {
                contract: Contract::from_bytes(SPEC, &LoadLimits::default()).unwrap(),
                mode,
                undocumented: ContractMode::Enforce,
            })
        });
        let policy = InspectionPolicy {
            enforcement: Some(Enforcement::Block),
            max_body: rampart_core::units::ByteSize::mib(1),
            oversize: Oversize::Refuse,
            options: rampart_parse::Options::default(),
            limits: Arc::new(rampart_parse::Limits::default()),
            forward: Forward::Original,
            detection: Arc::new(
                rampart_detect::Policy::from_config(&PolicyConfig::default(), &engine).unwrap(),
            ),
            antivirus: None,
            contract,
            xml_schema: None,
            seen: Default::default(),
        };
        (engine, policy)
    }

    fn post(
        engine: &Engine,
        policy: &InspectionPolicy,
        path: &str,
        body: &str,
    ) -> super::super::Screened {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        let head = HeadView {
            method: http::Method::POST,
            uri: path.parse().unwrap(),
            headers,
        };
        let rules = crate::inspect::rulemodes::RuleModes::default();
        screen(
            (engine, &rules),
            policy,
            &head,
            &Bytes::from(body.to_owned()),
        )
    }

    fn outcome(s: &super::super::Screened) -> Option<(Reason, String, String)> {
        s.decision.as_ref().err().map(|d| {
            (
                d.reason,
                d.rule.clone().unwrap_or_default(),
                d.location.clone().unwrap_or_default(),
            )
        })
    }

    #[test]
    fn values_pinned_by_the_contract_skip_the_detectors_and_free_text_does_not() {
        let attack = "1' OR '1'='1";
        let (engine, enforce) = policy(Some(ContractMode::Enforce));
        let (_, none) = policy(None);
        let kind = format!(r#"{{"kind":"{attack}"}}"#);
        let note = format!(r#"{{"note":"{attack}"}}"#);
        // Without a contract the enum value is screened like any text.
        let unpinned = outcome(&post(&engine, &none, "/t", &kind)).unwrap();
        assert_eq!(unpinned.0, Reason::AttackDetected);
        // With one, the validated enum value is pinned; free text is still screened.
        assert_eq!(outcome(&post(&engine, &enforce, "/t", &kind)), None);
        let free = outcome(&post(&engine, &enforce, "/t", &note)).unwrap();
        assert_eq!(
            (free.0, free.2.as_str()),
            (Reason::AttackDetected, "json:/note")
        );
    }

    #[test]
    fn violations_map_to_statuses_and_report_mode_only_observes() {
        let (engine, enforce) = policy(Some(ContractMode::Enforce));
        let cases = [
            (
                "/t",
                r#"{"kind":"other"}"#,
                Some((Reason::UnprocessableContent, "enum", "json:/kind")),
            ),
            (
                "/t",
                r#"{"role":"admin"}"#,
                Some((
                    Reason::UnprocessableContent,
                    "additionalProperties",
                    "json:/role",
                )),
            ),
            (
                "/x",
                r#"{}"#,
                Some((Reason::Forbidden, "undocumented-path", "path")),
            ),
            ("/t", r#"{"kind":"plain","note":"hello"}"#, None),
        ];
        for (path, body, expected) in cases {
            let got = outcome(&post(&engine, &enforce, path, body));
            let got = got.as_ref().map(|(r, k, l)| (*r, k.as_str(), l.as_str()));
            assert_eq!(got, expected, "{path} {body}");
        }
        let (engine, report) = policy(Some(ContractMode::Report));
        let s = post(&engine, &report, "/t", r#"{"kind":"other","role":"admin"}"#);
        assert!(s.decision.is_ok());
        let reported: Vec<_> = s
            .observations
            .iter()
            .filter_map(|o| match o {
                Observation::WouldDeny(d) => d.rule.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(reported, ["enum", "additionalProperties"]);
    }

    #[test]
    fn multipart_fields_are_checked_for_presence_and_type() {
        let spec = br#"{"openapi": "3.0.3", "paths": {"/up": {"post": {"requestBody": {
            "content": {"multipart/form-data": {"schema": {"type": "object",
                "required": ["qty", "file"], "additionalProperties": false, "properties": {
                    "qty": {"type": "integer"}, "file": {"type": "string", "format": "binary"},
                    "meta": {"type": "object"}}}}}}}}}}"#;
        let (engine, mut policy) = policy(None);
        policy.contract = Some(Arc::new(ContractPolicy {
            contract: Contract::from_bytes(spec, &LoadLimits::default()).unwrap(),
            mode: ContractMode::Enforce,
            undocumented: ContractMode::Enforce,
        }));
        let part = |name: &str, extra: &str, body: &str| {
            format!(
                "--b\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n\r\n{body}\r\n"
            )
        };
        let file = part(
            "file",
            "; filename=\"a.bin\"\r\nContent-Type: application/octet-stream",
            "xyz",
        );
        let meta = part("meta", "\r\nContent-Type: application/json", r#"{"a":1}"#);
        let cases = [
            (
                format!("{}{file}{meta}--b--\r\n", part("qty", "", "2")),
                None,
            ),
            (
                format!("{}{file}--b--\r\n", part("qty", "", "two")),
                Some(("type", "multipart:/qty")),
            ),
            (
                format!("{}--b--\r\n", part("qty", "", "2")),
                Some(("required", "multipart:/file")),
            ),
            (
                format!(
                    "{}{file}{}--b--\r\n",
                    part("qty", "", "2"),
                    part("role", "", "admin")
                ),
                Some(("additionalProperties", "multipart:/role")),
            ),
        ];
        for (body, expected) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(
                "content-type",
                "multipart/form-data; boundary=b".parse().unwrap(),
            );
            let head = HeadView {
                method: http::Method::POST,
                uri: "/up".parse().unwrap(),
                headers,
            };
            let rules = crate::inspect::rulemodes::RuleModes::default();
            let s = screen(
                (&engine, &rules),
                &policy,
                &head,
                &Bytes::from(body.clone()),
            );
            let got = outcome(&s);
            let got = got.as_ref().map(|(_, k, l)| (k.as_str(), l.as_str()));
            assert_eq!(got, expected, "{body}");
        }
    }

    #[test]
    fn route_config_refuses_missing_or_unloadable_specs_and_response_validation() {
        let dir = std::env::temp_dir().join(format!("rampart-openapi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ok.json"), SPEC).unwrap();
        std::fs::write(dir.join("ext.yaml"), "openapi: 3.1.0\npaths:\n  /a:\n    get:\n      parameters:\n        - $ref: 'common.yaml#/P'\n").unwrap();
        let raw = |spec: Option<&str>, mode: Option<&str>, responses: Option<bool>| RawOpenapi {
            spec: spec.map(PathBuf::from),
            mode: mode.map(str::to_owned),
            undocumented: None,
            validate_responses: responses,
        };
        let cases = [
            (raw(Some("ok.json"), None, None), true, ""),
            (raw(Some("ok.json"), Some("off"), None), false, ""),
            (raw(None, None, None), false, "routes[0].openapi.spec"),
            (
                raw(Some("missing.yaml"), None, None),
                false,
                "routes[0].openapi.spec",
            ),
            (raw(Some("ext.yaml"), None, None), false, "external $ref"),
            (
                raw(Some("ok.json"), Some("block"), None),
                false,
                "routes[0].openapi.mode",
            ),
            (
                raw(Some("ok.json"), None, Some(true)),
                false,
                "validate_responses",
            ),
        ];
        for (raw, loaded, problem) in cases {
            let mut p = Problems::default();
            let got = validate(&mut p, "routes[0]", &dir, &raw, false);
            assert_eq!(got.is_some(), loaded, "{raw:?}");
            let text = format!("{p:?}");
            assert!(text.contains(problem), "{raw:?}: {text}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

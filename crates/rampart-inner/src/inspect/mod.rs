//! Deep inspection of one buffered request: undo the content coding, parse the body
//! strictly, run the detection engine over the head and every leaf, scan content with
//! the antivirus engines, and decide what (if anything) the backend receives.
//!
//! The parse and detection part is CPU work on borrowed data and runs to completion
//! before any scan is awaited; large bodies run it on the blocking pool so one upload
//! cannot stall the link's other exchanges.

#[doc(hidden)]
pub mod bench;
pub(crate) mod config;
pub(crate) mod contract;
pub(crate) mod rulemodes;
pub(crate) mod slots;
mod targets;
pub(crate) mod undocumented;
mod uploads;
mod url_graphql;
pub(crate) mod xsd;

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderMap, Uri};
use rampart_av::{Scanner, Verdict as AvVerdict};
use rampart_core::check::{CheckError, Denial};
use rampart_core::pipeline::{Enforcement, FailMode, Observation};
use rampart_core::problem::Reason;
use rampart_detect::{Budget, Engine, Field, FieldKind, Findings, LazyName, Location};
use rampart_parse::{BodyKind, LeafKind, Locations, ParseError, Parsed, PathId};

pub use config::{AvPolicy, Engines, Forward, InspectionPolicy, Oversize};
pub(crate) use slots::LargeSlots;

/// Bodies at least this large are parsed and screened on the blocking pool.
const BLOCKING_THRESHOLD: usize = 64 * 1024;

/// The engines shared by every route.
pub(crate) struct Inspector {
    pub(crate) engine: Arc<Engine>,
    pub(crate) scanners: Scanners,
    /// Rules an operator switched to detect-only at run time.
    pub(crate) rules: Arc<rulemodes::RuleModes>,
    /// The bound on large-body inspections at once (one per process).
    pub(crate) slots: Arc<LargeSlots>,
}

/// A scanner per engine choice a route can make.
#[derive(Default)]
pub(crate) struct Scanners {
    all: Option<Arc<Scanner>>,
    clamd: Option<Arc<Scanner>>,
    icap: Option<Arc<Scanner>>,
}

impl Scanners {
    /// Scanners for every engine set `config` allows. Routes that name one engine get
    /// their own client (and cache), so one engine's limits are its own.
    pub(crate) fn new(config: Option<&rampart_av::AvConfig>) -> Self {
        let Some(config) = config else {
            return Self::default();
        };
        let only = |clamd, icap| {
            rampart_av::AvConfig::new(clamd, icap, config.cache())
                .map(|c| Arc::new(Scanner::new(&c)))
        };
        Self {
            all: Some(Arc::new(Scanner::new(config))),
            clamd: only(config.clamd().cloned(), None),
            icap: only(None, config.icap().cloned()),
        }
    }

    /// Prometheus text for every scanner in use (antivirus metrics per engine).
    pub(crate) fn render_metrics(&self) -> String {
        let mut out = String::new();
        rampart_av::prometheus::write_headers(&mut out);
        let sets = [
            ("all", &self.all),
            ("clamd", &self.clamd),
            ("icap", &self.icap),
        ];
        for (name, scanner) in sets {
            if let Some(scanner) = scanner {
                let snapshot = scanner.metrics().snapshot();
                rampart_av::prometheus::write_samples(&mut out, name, &snapshot);
            }
        }
        out
    }

    fn get(&self, engines: Engines) -> Option<&Scanner> {
        match engines {
            Engines::All => self.all.as_deref(),
            Engines::Clamd => self.clamd.as_deref(),
            Engines::Icap => self.icap.as_deref(),
        }
    }
}

/// The request head as the inspection sees it.
pub(crate) struct HeadView {
    pub(crate) method: http::Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
}

/// The method only: the target and headers may carry credentials.
impl std::fmt::Debug for HeadView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadView")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// What the backend receives after a clean inspection.
#[derive(Debug)]
pub(crate) struct Cleared {
    /// The body to forward.
    pub(crate) body: Bytes,
    /// The body was content-decoded: drop `Content-Encoding` before forwarding.
    pub(crate) decoded: bool,
}

/// The outcome of inspecting one request.
#[derive(Debug)]
pub(crate) struct Inspected {
    /// Forward, or refuse with a denial.
    pub(crate) decision: Result<Cleared, Denial>,
    /// Detect-only hits and fail-open skips, for the audit log.
    pub(crate) observations: Vec<Observation>,
    /// Every detection hit, for the audit log's explanation of a denial.
    pub(crate) findings: Findings,
    /// The head, given back for the backend request (`None` if the inspection failed).
    pub(crate) head: Option<HeadView>,
}

/// Result of the CPU part: a decision so far, plus what to scan.
struct Screened {
    decision: Result<Cleared, Denial>,
    findings: Findings,
    observations: Vec<Observation>,
    scan: Vec<Bytes>,
    /// The XML the route's schema validates, when it has one.
    xml: Option<Bytes>,
}

impl Inspector {
    pub(crate) async fn inspect(
        &self,
        policy: &InspectionPolicy,
        head: HeadView,
        body: Bytes,
    ) -> Inspected {
        let screened = if body.len() >= BLOCKING_THRESHOLD {
            let engine = self.engine.clone();
            let rules = self.rules.clone();
            let policy_owned = policy.clone();
            match self.slots.acquire().await {
                // The permit goes with the job: a request given up meanwhile does not
                // free the slot of an inspection still running.
                Ok(slot) => tokio::task::spawn_blocking(move || {
                    let _slot = slot;
                    let screened = screen((&engine, &rules), &policy_owned, &head, &body);
                    (screened, head)
                })
                .await
                .map_err(|e| e.to_string()),
                Err(closed) => Err(closed.to_string()),
            }
        } else {
            // Inline, a panic would end the exchange without an answer; like the blocking
            // task's, it is an inspection that could not decide.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                screen((&self.engine, &self.rules), policy, &head, &body)
            }))
            .map(|screened| (screened, head))
            .map_err(|_| "inspection panicked".to_owned())
        };
        let (screened, head) = match screened {
            Ok(screened) => screened,
            Err(error) => {
                tracing::error!(%error, "inspection task failed");
                return Inspected {
                    decision: Err(Denial::new("inspection", Reason::InspectionUnavailable)),
                    observations: Vec::new(),
                    findings: Findings::default(),
                    head: None,
                };
            }
        };
        let Screened {
            decision,
            findings,
            mut observations,
            scan,
            xml,
        } = screened;
        // Schema validation after the safety checks and detection passed, before the
        // (costlier, remote) antivirus scan.
        let decision = match (decision, policy.xml_schema.as_ref(), xml) {
            (Ok(cleared), Some(schema), Some(xml)) => {
                // Boxed, as the scan below: rare, large futures that every
                // exchange's future would otherwise carry (and copy) inline.
                match Box::pin(schema.check(xml, &mut observations)).await {
                    None => Ok(cleared),
                    Some(denial) => Err(denial),
                }
            }
            (decision, _, _) => decision,
        };
        let scanner = policy
            .antivirus
            .as_ref()
            .and_then(|av| self.scanners.get(av.engines));
        let decision = match (decision, policy.antivirus.as_ref(), scanner) {
            (Ok(cleared), Some(av), Some(scanner)) => {
                match Box::pin(scan_all(scanner, av, scan, &mut observations)).await {
                    None => Ok(cleared),
                    Some(denial) => Err(denial),
                }
            }
            (decision, _, _) => decision,
        };
        Inspected {
            decision,
            observations,
            findings,
            head: Some(head),
        }
    }
}

fn parse_denial(e: &ParseError) -> Denial {
    let reason = match e.status() {
        413 => Reason::BodyTooLarge,
        415 => Reason::UnsupportedMediaType,
        422 => Reason::UnprocessableContent,
        _ => Reason::BadRequest,
    };
    let denial = Denial::new("body-parser", reason).with_rule(e.code());
    match e.path() {
        Some(path) => denial.with_location(path),
        None => denial,
    }
}

fn one_header<'h>(headers: &'h HeaderMap, name: &http::HeaderName) -> Result<Option<&'h str>, ()> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => v.to_str().map(Some).map_err(|_| ()),
        _ => Err(()),
    }
}

fn screen(
    (engine, rules): (&Engine, &rulemodes::RuleModes),
    policy: &InspectionPolicy,
    head: &HeadView,
    body: &Bytes,
) -> Screened {
    let refuse = |denial: Denial| Screened {
        decision: Err(denial),
        findings: Findings::default(),
        observations: Vec::new(),
        scan: Vec::new(),
        xml: None,
    };
    let (Ok(coding), Ok(content_type)) = (
        one_header(&head.headers, &CONTENT_ENCODING),
        one_header(&head.headers, &CONTENT_TYPE),
    ) else {
        return refuse(
            Denial::new("body-parser", Reason::BadRequest).with_rule("ambiguous-header"),
        );
    };
    let decoded = match rampart_parse::decode::decode(coding, body, &policy.limits.decode) {
        Ok(decoded) => decoded,
        Err(e) => return malformed((engine, rules), policy, head, body, parse_denial(&e)),
    };
    // Without a contract to validate a JSON body as JSON, GraphQL-shaped JSON is read as
    // GraphQL so its limits hold on any route.
    let options = rampart_parse::Options {
        sniff_graphql: policy.contract.is_none(),
        ..policy.options
    };
    let parsed = match rampart_parse::parse(content_type, &decoded, &policy.limits, options) {
        Ok(parsed) => parsed,
        Err(e) => {
            return malformed((engine, rules), policy, head, &decoded, parse_denial(&e));
        }
    };
    if let Some(schema) = &policy.xml_schema
        && schema.enforces()
        && parsed.kind != BodyKind::Xml
        && !decoded.is_empty()
    {
        // A schema-validated route takes XML only: another body would bypass the schema.
        return refuse(Denial::new(xsd::CHECK, Reason::UnsupportedMediaType).with_rule("not-xml"));
    }
    if let Some(rule) = uploads::refusal(&parsed, &decoded)
        && policy.enforcement != Some(Enforcement::DetectOnly)
    {
        return refuse(Denial::new("upload", Reason::AttackDetected).with_rule(rule));
    }
    let checked = contract::check(
        policy.contract.as_deref(),
        head,
        content_type,
        &decoded,
        &parsed,
    );
    if let Some(denial) = checked.denial {
        return refuse(denial);
    }
    let url_document = match url_graphql::document(policy, head) {
        Ok(document) => document,
        Err(denial) => return malformed((engine, rules), policy, head, &decoded, denial),
    };
    let mut budget = Budget::default();
    let mut scan = engine
        .scan(&policy.detection, &mut budget)
        .sharing(&policy.seen)
        .expecting_body_fields(parsed.leaves.len());
    for field in rampart_detect::extract::head_fields(&head.uri, &head.headers).fields {
        // Values the contract pinned (uuid, integer, enum...) need no free-text detectors.
        if checked.skips_head(&field) {
            continue;
        }
        scan.field(&field);
    }
    if let Some(document) = &url_document {
        // Each argument on its own, as a body's: the whole query value was screened above.
        for leaf in document
            .leaves
            .iter()
            .filter(|l| l.kind == LeafKind::String)
        {
            let name = format!("query{}", document.location(leaf.path));
            let location = Location::new("query", name);
            scan.field(&Field::new(
                location,
                FieldKind::BodyValue,
                leaf.value.as_bytes(),
            ));
        }
    }
    let scope = scope_of(parsed.kind);
    // One buffer for every leaf's location: consecutive leaves share most of their path.
    let mut locations = Locations::default();
    // A JSON body's pins name leaves by position; without a contract none is skipped.
    // Either way a location is built only when a rule or a hit needs it.
    let json = parsed.kind == BodyKind::Json;
    let lazy = policy.contract.is_none() || json;
    for (index, leaf) in parsed.leaves.iter().enumerate() {
        let kind = match leaf.kind {
            LeafKind::Key => FieldKind::BodyKey,
            LeafKind::String | LeafKind::Text | LeafKind::Attribute | LeafKind::Number => {
                FieldKind::BodyValue
            }
            // Booleans, nulls and kinds added later carry no free text.
            _ => continue,
        };
        if json && checked.skips_json(kind, index) {
            continue;
        }
        if lazy {
            let mut name = LeafName {
                parsed: &parsed,
                path: leaf.path,
                locations: &mut locations,
            };
            scan.field_lazy(scope, kind, &leaf.value, &mut name);
            continue;
        }
        // A repeated clean value (batch arrays) needs neither a location nor a scan.
        if scan.known_clean(kind, leaf.value.as_bytes()) {
            continue;
        }
        let name = parsed.location_into(leaf.path, &mut locations);
        if checked.skips_body(kind, name) {
            continue;
        }
        let location = Location::new(scope, name);
        scan.field(&Field::new(location, kind, leaf.value.as_bytes()));
    }
    for file in &parsed.files {
        if let Some(name) = &file.filename {
            let location = Location::new("filename", parsed.location(file.path));
            scan.field(&Field::new(location, FieldKind::Filename, name.as_bytes()));
        }
    }
    if whole_body_too(parsed.kind, &decoded)
        && let Ok(text) = std::str::from_utf8(&decoded)
    {
        // A form screened whole is still form text: `+` and escapes decode as in its
        // values (`%27admin%27%2C+%271%27=%271%27` is a tautology only once they do).
        let kind = match parsed.kind {
            BodyKind::Form => FieldKind::BodyValue,
            _ => FieldKind::BodyText,
        };
        scan.field(&Field::new(
            Location::scope_only("body"),
            kind,
            text.as_bytes(),
        ));
    }
    let mut findings = scan.finish();
    let switched = rules.apply(&mut findings);
    let forward = match policy.forward {
        Forward::Canonical => parsed.canonical.clone().unwrap_or_else(|| decoded.clone()),
        Forward::Original => body.clone(),
    };
    // What the backend reads: the canonical bytes, or the decoded form of the original.
    let scanned = match policy.forward {
        Forward::Canonical => &forward,
        Forward::Original => &decoded,
    };
    let scans = |declared: Option<&str>| {
        policy
            .antivirus
            .as_ref()
            .is_some_and(|av| av.scans(declared))
    };
    let scan_targets = targets::collect(&parsed, scanned, content_type, &scans);
    // The schema validates what the backend reads.
    let xml =
        (policy.xml_schema.is_some() && parsed.kind == BodyKind::Xml).then(|| scanned.clone());
    let cleared = Cleared {
        decoded: policy.forward == Forward::Canonical && coding.is_some(),
        body: forward,
    };
    drop(parsed);
    let mut observations = checked.reports;
    let decision = match detection_denial(&findings, policy) {
        None => Ok(cleared),
        Some(denial) if policy.enforcement == Some(Enforcement::DetectOnly) => {
            observations.push(Observation::WouldDeny(denial));
            Ok(cleared)
        }
        Some(denial) => Err(denial),
    };
    if decision.is_ok() {
        // Rules switched to detect-only by an operator: audited, not refused.
        observations.extend(switched.into_iter().map(Observation::WouldDeny));
    }
    Screened {
        decision,
        findings,
        observations,
        scan: scan_targets,
        xml,
    }
}

/// A leaf's location name, rendered through the buffer its neighbours share.
struct LeafName<'a, 'p> {
    parsed: &'a Parsed<'p>,
    path: PathId,
    locations: &'a mut Locations,
}

impl LazyName for LeafName<'_, '_> {
    fn render(&mut self) -> &str {
        self.parsed.location_into(self.path, self.locations)
    }
}

/// Whether the body is screened whole as text as well as leaf by leaf: bodies of types
/// we do not parse (opaque) have no leaves, and a form whose values hold character
/// references (`&#39;`), or whose names no client writes (`x=a&& echo %USERNAME%`), was
/// cut apart at a `&` of a value.
fn whole_body_too(kind: BodyKind, body: &[u8]) -> bool {
    match kind {
        BodyKind::Opaque => !body.is_empty(),
        BodyKind::Form if rampart_detect::extract::has_odd_name(body) => true,
        BodyKind::Form => body.iter().enumerate().any(|(i, &b)| {
            let rest = &body[i + 1..];
            if b != b'&' {
                return false;
            }
            let name = rest
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            rest.first() == Some(&b'#') || (name > 0 && rest.get(name) == Some(&b';'))
        }),
        _ => false,
    }
}

/// A body the strict parser refused: still screen the head and the raw text, because an
/// attack found there is the more serious finding (403) than the malformed body (400).
fn malformed(
    (engine, rules): (&Engine, &rulemodes::RuleModes),
    policy: &InspectionPolicy,
    head: &HeadView,
    body: &[u8],
    refusal: Denial,
) -> Screened {
    let mut budget = Budget::default();
    let mut scan = engine
        .scan(&policy.detection, &mut budget)
        .sharing(&policy.seen);
    for field in rampart_detect::extract::head_fields(&head.uri, &head.headers).fields {
        scan.field(&field);
    }
    let raw = String::from_utf8_lossy(body);
    let text = without_part_headers(&raw);
    scan.field(&Field::new(
        Location::scope_only("body"),
        FieldKind::BodyText,
        text.as_bytes(),
    ));
    // The framing dropped above holds the file names: a name the parser refused may be
    // an attack (403) rather than only malformed (its 400 or 422).
    for name in part_file_names(&raw) {
        scan.field(&Field::new(
            Location::new("multipart", "filename"),
            FieldKind::Filename,
            name.as_bytes(),
        ));
    }
    let mut findings = scan.finish();
    rules.apply(&mut findings);
    // UTF-7 or UTF-16 declared to hide markup from inspection is an evasion in itself.
    let evasion = (refusal.rule.as_deref() == Some("media-charset-evasive"))
        .then(|| Denial::new("body-parser", Reason::AttackDetected).with_rule("evasive-charset"));
    let attack = evasion
        .or_else(|| detection_denial(&findings, policy))
        .filter(|d| d.reason == Reason::AttackDetected)
        .filter(|_| policy.enforcement != Some(Enforcement::DetectOnly));
    Screened {
        decision: Err(attack.unwrap_or(refusal)),
        findings,
        observations: Vec::new(),
        scan: Vec::new(),
        xml: None,
    }
}

/// The text with multipart framing dropped (delimiter lines and part header lines), so a
/// refused multipart body is judged on its content and not on `Content-Type:` lines
/// that look like header injection.
fn without_part_headers(text: &str) -> String {
    if !text.trim_start().starts_with("--") {
        return text.to_owned();
    }
    let framing = |line: &str| {
        let l = line.trim_start().to_ascii_lowercase();
        l.starts_with("--")
            || l.starts_with("content-disposition:")
            || l.starts_with("content-type:")
            || l.starts_with("content-transfer-encoding:")
    };
    text.lines()
        .filter(|l| !framing(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `filename` and `filename*` values of a multipart body's `Content-Disposition`
/// lines, read as loosely as the most lenient backend reads them: a quoted name runs to
/// the line's last quote (`a" onfocus="x".jpg` is one name to a parser that does not
/// honour escapes), an RFC 5987 name loses its charset and language prefix.
fn part_file_names(text: &str) -> Vec<&str> {
    const MAX_NAMES: usize = 64;
    if !text.trim_start().starts_with("--") {
        return Vec::new();
    }
    let mut names = Vec::new();
    for line in text.lines() {
        // ASCII lowercasing keeps every offset, so `lower` finds and `line` gives.
        let lower = line.to_ascii_lowercase();
        let Some(mut pos) = lower.find("content-disposition:") else {
            continue;
        };
        while let Some(i) = lower[pos..].find("filename") {
            pos += i + "filename".len();
            let extended = lower[pos..].starts_with('*');
            pos += usize::from(extended);
            let Some(value) = line[pos..].trim_start().strip_prefix('=') else {
                continue;
            };
            let value = value.trim_start();
            let start = line.len() - value.len();
            let (name, end) = match value.strip_prefix('"') {
                Some(quoted) => match quoted.rfind('"') {
                    Some(close) => (&quoted[..close], start + 1 + close + 1),
                    None => (quoted, line.len()),
                },
                None => {
                    let close = value.find(';').unwrap_or(value.len());
                    (&value[..close], start + close)
                }
            };
            // `UTF-8'en'name`: the charset and language end at the second quote.
            let name = if extended {
                name.splitn(3, '\'').nth(2).unwrap_or(name)
            } else {
                name
            };
            if !name.trim().is_empty() && names.len() < MAX_NAMES {
                names.push(name);
            }
            pos = end;
        }
    }
    names
}

fn scope_of(kind: BodyKind) -> &'static str {
    match kind {
        BodyKind::Json => "json",
        BodyKind::Xml => "xml",
        BodyKind::Form => "form",
        BodyKind::Multipart => "multipart",
        BodyKind::Graphql => "graphql",
        _ => "body",
    }
}

/// The denial a detection result calls for, if any.
fn detection_denial(findings: &Findings, policy: &InspectionPolicy) -> Option<Denial> {
    if findings.undecided.is_some() {
        // Too many nested encodings to inspect within budget: refuse rather than guess.
        return Some(
            Denial::new("inspection", Reason::UnprocessableContent).with_rule("decode-budget"),
        );
    }
    if !findings.blocks(policy.detection.threshold()) {
        return None;
    }
    let first = findings.hits.iter().find(|h| !h.detect_only)?;
    let mut denial = Denial::new("inspection", Reason::AttackDetected)
        .with_rule(first.rule_id.clone())
        .with_location(first.location.clone());
    denial.score = Some(findings.score);
    Some(denial)
}

/// Scans every target; the first blocking answer decides.
async fn scan_all(
    scanner: &Scanner,
    av: &AvPolicy,
    targets: Vec<Bytes>,
    observations: &mut Vec<Observation>,
) -> Option<Denial> {
    for target in targets {
        let denial = match scanner.scan(target).await {
            Ok(AvVerdict::Clean) => continue,
            Ok(AvVerdict::Infected { engine, signature }) => {
                Denial::new("antivirus", Reason::MalwareFound)
                    .with_rule(signature)
                    .with_location(engine.to_string())
            }
            Ok(AvVerdict::Oversize { engine }) => {
                let denial = Denial::new("antivirus", Reason::BodyTooLarge)
                    .with_rule("scan-size-limit")
                    .with_location(engine.to_string());
                if av.allow_oversize {
                    // Written explicitly in the route: pass unscanned, and say so.
                    observations.push(Observation::WouldDeny(denial));
                    continue;
                }
                denial
            }
            Ok(verdict) => {
                tracing::warn!(?verdict, "antivirus engine refused to scan");
                Denial::new("antivirus", Reason::InspectionUnavailable).with_rule("engine-refused")
            }
            Err(e) => {
                let error = CheckError::DependencyUnavailable {
                    dependency: "antivirus",
                    cause: e.to_string(),
                };
                if av.fail == FailMode::Open {
                    observations.push(Observation::Skipped {
                        check: "antivirus",
                        error,
                    });
                    return None;
                }
                tracing::warn!(error = %error, "antivirus could not decide; failing closed");
                Denial::new("antivirus", Reason::InspectionUnavailable)
                    .with_rule("engine-unavailable")
            }
        };
        if av.enforcement == Enforcement::DetectOnly && denial.reason == Reason::MalwareFound {
            observations.push(Observation::WouldDeny(denial));
            continue;
        }
        return Some(denial);
    }
    None
}

/// Decodes a base64 value that is plausibly an embedded file.
pub(crate) fn decode_base64(value: &str) -> Option<Vec<u8>> {
    let value = value.trim_end_matches('=');
    let engines = [
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines.iter().find_map(|e| e.decode(value).ok())
}

#[cfg(test)]
mod tests;

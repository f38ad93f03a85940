//! The engine: compiled rules, shared by every request (`Send + Sync`, cheap to clone),
//! and the per-request [`Scan`] that decodes fields, runs rules and scores hits.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::decode::{self, Budget, Exhaustion};
use crate::fastpath;
use crate::field::{Field, FieldKind, LazyName, Location};
use crate::policy::Policy;
use crate::rules::{self, CompiledRules, Matcher, Rule, RuleError, Transform};

mod client;
mod memo;
mod shared;

pub use client::ClientMemo;
use memo::{CleanMemo, Lookup};
pub use shared::SharedMemo;

/// Hits kept per request; more add to the score but are not listed.
const MAX_HITS: usize = 32;
/// Characters of a fragment kept in a hit.
const FRAGMENT_CHARS: usize = 64;

/// A compiled rule set. Clone it freely: clones share the compiled rules.
#[derive(Debug, Clone)]
pub struct Engine {
    rules: Arc<CompiledRules>,
    /// Whether the fast path (skipping decoders and detectors a value cannot trigger) is on.
    fast: bool,
    /// Names this compilation of the rules, for a [`SharedMemo`] to tell whose verdicts
    /// it holds.
    id: u64,
}

impl Engine {
    /// The built-in rules (compiled once per process).
    pub fn builtin() -> Engine {
        static BUILTIN: OnceLock<Engine> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                #[allow(
                    clippy::expect_used,
                    reason = "embedded data; `builtin_rules_compile` tests it"
                )]
                Engine::from_rules(rules::BUILTIN_RULES).expect("built-in rules compile")
            })
            .clone()
    }

    /// The built-in rules plus the rules in `toml_text` (ids must not collide).
    pub fn with_extra_rules(toml_text: &str) -> Result<Engine, RuleError> {
        let mut all = rules::parse(rules::BUILTIN_RULES)?;
        all.extend(rules::parse(toml_text)?);
        Self::compile(all)
    }

    /// Only the rules in `toml_text`.
    pub fn from_rules(toml_text: &str) -> Result<Engine, RuleError> {
        Self::compile(rules::parse(toml_text)?)
    }

    fn compile(all: Vec<Rule>) -> Result<Engine, RuleError> {
        static COMPILED: AtomicU64 = AtomicU64::new(0);
        rules::check_unique(&all)?;
        Ok(Engine {
            rules: Arc::new(CompiledRules::new(all)?),
            fast: true,
            id: COMPILED.fetch_add(1, Ordering::Relaxed),
        })
    }

    #[cfg(test)]
    pub(crate) fn compiled(&self) -> &CompiledRules {
        &self.rules
    }

    /// Every rule.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.rules.iter()
    }

    /// A copy that decodes every value and runs every detector, whatever the fast path's
    /// byte classes say: only for tests proving both paths find the same.
    #[doc(hidden)]
    pub fn without_fast_path(mut self) -> Engine {
        self.fast = false;
        self
    }

    /// Starts scanning one request.
    pub fn scan<'e>(&'e self, policy: &'e Policy, budget: &'e mut Budget) -> Scan<'e> {
        Scan {
            rules: &self.rules,
            engine: self.id,
            fast: self.fast,
            policy,
            budget,
            findings: Findings::default(),
            scored: HashSet::new(),
            candidates: Vec::new(),
            hit_here: Vec::new(),
            compact: String::new(),
            memo: CleanMemo::default(),
            shared: None,
            client: None,
            location_bound: false,
            gates: Vec::new(),
            site: Site::default(),
            cross_site_hits: Vec::new(),
        }
    }

    /// Scans `fields` of one request.
    pub fn inspect<'f>(
        &self,
        fields: impl IntoIterator<Item = Field<'f>>,
        policy: &Policy,
        budget: &mut Budget,
    ) -> Findings {
        self.scan(policy, budget).all(fields)
    }

    /// [`Engine::inspect`], consulting and filling `memo` ([`Scan::sharing`]).
    pub fn inspect_sharing<'f>(
        &self,
        fields: impl IntoIterator<Item = Field<'f>>,
        policy: &Policy,
        budget: &mut Budget,
        memo: &SharedMemo,
    ) -> Findings {
        self.scan(policy, budget).sharing(memo).all(fields)
    }

    /// [`Engine::inspect_sharing`] for a request of the client whose connection `client`
    /// serves ([`Scan::remembering`]).
    pub fn inspect_for_client<'f>(
        &self,
        fields: impl IntoIterator<Item = Field<'f>>,
        policy: &Policy,
        budget: &mut Budget,
        memo: &SharedMemo,
        client: &ClientMemo,
    ) -> Findings {
        self.scan(policy, budget)
            .sharing(memo)
            .remembering(client)
            .all(fields)
    }
}

/// One rule that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The rule id.
    pub rule_id: String,
    /// The rule's class, e.g. `sqli`.
    pub class: String,
    /// Where, e.g. `query:id`.
    pub location: String,
    /// The decoded fragment that matched, at most 64 characters, escaped for logs.
    pub fragment: String,
    /// The rule's score.
    pub score: u32,
    /// Whether the hit is report-only under the policy.
    pub detect_only: bool,
}

/// What a scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Sum of the scores of distinct blocking rules that matched.
    pub score: u32,
    /// Hits, one per rule and location, at most 32.
    pub hits: Vec<Hit>,
    /// Set when decoding ran out of budget: some variants were not inspected.
    pub undecided: Option<Exhaustion>,
}

impl Findings {
    /// Whether the blocking hits reach `threshold` (detect-only hits never block).
    pub fn blocks(&self, threshold: u32) -> bool {
        self.score >= threshold
    }

    /// Whether nothing matched and nothing was left undecided.
    pub fn is_clean(&self) -> bool {
        self.hits.is_empty() && self.undecided.is_none()
    }
}

/// A scan in progress: feed it fields (streaming is fine), then [`Scan::finish`].
#[derive(Debug)]
pub struct Scan<'e> {
    rules: &'e CompiledRules,
    /// The [`Engine::id`] of the rules.
    engine: u64,
    fast: bool,
    policy: &'e Policy,
    budget: &'e mut Budget,
    findings: Findings,
    scored: HashSet<usize>,
    /// Reused per variant: pattern rules whose literals occur.
    candidates: Vec<usize>,
    /// Reused per field: rules that already hit this field.
    hit_here: Vec<usize>,
    /// Reused per variant: the compact transform of the text.
    compact: String,
    /// Values found clean, on the fast path only (the full path is what tests compare to).
    memo: CleanMemo,
    /// Fields found clean by earlier requests, when the caller keeps them.
    shared: Option<&'e SharedMemo>,
    /// Cookie and header values found clean by this client's earlier requests.
    client: Option<&'e ClientMemo>,
    /// Set when a rule was skipped for the current field's location: its clean result
    /// then holds for this location only and is not remembered.
    location_bound: bool,
    /// Per rule, what [`Scan::applies`] needs to look at, found on first use.
    gates: Vec<Gate>,
    /// The request's `Host` and `Referer` hosts, for `cross_site` rules.
    site: Site,
    /// Hits of `cross_site` rules, counted at [`Scan::finish`] unless the request came
    /// from its own site.
    cross_site_hits: Vec<(usize, String, String)>,
}

/// Whether a rule runs, as far as the policy and the rule say without a location.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Gate {
    #[default]
    Unknown,
    /// Disabled or above the paranoia level.
    Off,
    /// Runs at every location.
    On,
    /// Runs unless the location excludes it.
    ByLocation,
}

/// Where the field being inspected is: its location, or its scope and a renderer of its
/// name run on first need (a clean leaf mostly needs none).
struct Place<'l> {
    location: Location<'l>,
    render: Option<&'l mut dyn LazyName>,
}

impl<'l> Place<'l> {
    fn get(&mut self) -> &Location<'l> {
        if let Some(name) = self.render.take() {
            self.location = Location::new(self.location.scope(), name.render());
        }
        &self.location
    }
}

/// Host names of a request's `Host` header and of its `Referer` URL, lowercased and
/// without a port.
#[derive(Debug, Default)]
struct Site {
    host: Option<String>,
    referer: Option<String>,
}

impl Site {
    fn note(&mut self, field: &Field<'_>) {
        if field.kind != FieldKind::HeaderValue || field.location.scope() != "header" {
            return;
        }
        let name = field.location.name();
        if name.eq_ignore_ascii_case("host") {
            self.host = host_of(&field.value);
        } else if name.eq_ignore_ascii_case("referer") {
            self.referer = referer_host(&field.value);
        }
    }

    /// Whether the referer names the very host the request went to.
    fn same(&self) -> bool {
        matches!((&self.host, &self.referer), (Some(h), Some(r)) if h == r)
    }
}

/// The host of an authority (`Example.com:8080` -> `example.com`); `None` when empty or
/// when it holds bytes no host name has.
fn host_of(authority: &[u8]) -> Option<String> {
    let authority = authority.trim_ascii();
    // A bracketed IPv6 literal keeps its colons.
    let host = match authority.strip_prefix(b"[") {
        Some(rest) => &rest[..memchr::memchr(b']', rest)?],
        None => authority.split(|&b| b == b':').next().unwrap_or(authority),
    };
    let valid = !host.is_empty()
        && host
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
    valid.then(|| String::from_utf8_lossy(host).to_ascii_lowercase())
}

/// The host of an absolute `http(s)` referer URL.
fn referer_host(referer: &[u8]) -> Option<String> {
    let referer = referer.trim_ascii();
    let rest = [&b"http://"[..], b"https://"].iter().find_map(|scheme| {
        referer
            .get(..scheme.len())
            .filter(|p| p.eq_ignore_ascii_case(scheme))
            .map(|_| &referer[scheme.len()..])
    })?;
    let end = rest
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#' | b'\\'))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    // User-info (`good.com@evil.com`) would let any site claim to be this one.
    if memchr::memchr(b'@', authority).is_some() {
        return None;
    }
    host_of(authority)
}

impl<'e> Scan<'e> {
    /// Consults and fills `memo` for the fields it keeps (public headers, names, body
    /// keys). Ignored when the memo serves another engine or policy: its verdicts would
    /// not be this scan's.
    pub fn sharing(mut self, memo: &'e SharedMemo) -> Self {
        if memo.serves(self.engine, self.policy) {
            self.shared = Some(memo);
        }
        self
    }

    /// Says how many body fields the scan will see. Below `memo::MIN_FIELDS` it inspects
    /// each one rather than remember the clean ones: a small body repeats too few values
    /// to repay hashing and storing them (a 1 KiB JSON order batch costs 8 % less).
    pub fn expecting_body_fields(mut self, fields: usize) -> Self {
        self.memo.switch_off(fields < memo::MIN_FIELDS);
        self
    }

    /// Consults and fills `client` for the cookie values and the header values of this
    /// request (not those new with each request), which comes from the client `client`
    /// serves. Only with [`Scan::sharing`] (whose memo names the engine and policy the
    /// verdicts hold for).
    pub fn remembering(mut self, client: &'e ClientMemo) -> Self {
        self.client = Some(client);
        self
    }

    /// The memo kept across requests for `value` seen as `kind` at `at`, which `reach`
    /// places, if any.
    fn across_requests(
        &self,
        kind: FieldKind,
        value: &[u8],
        at: &Location<'_>,
        reach: impl FnOnce() -> Reach,
    ) -> Remember<'e> {
        match self.shared {
            Some(memo) if self.fast => match reach() {
                Reach::Shared => Remember::Shared(memo),
                Reach::Client => self
                    .client
                    .and_then(|c| Some(Remember::Client(c, c.key(memo.scope(), kind, at, value)?)))
                    .unwrap_or(Remember::Nowhere),
                Reach::Nowhere => Remember::Nowhere,
            },
            _ => Remember::Nowhere,
        }
    }

    /// Inspects `fields`, then ends the scan.
    fn all<'f>(mut self, fields: impl IntoIterator<Item = Field<'f>>) -> Findings {
        for f in fields {
            self.field(&f);
        }
        self.finish()
    }

    /// Inspects one field.
    pub fn field(&mut self, field: &Field<'_>) {
        self.site.note(field);
        let place = Place {
            location: Location::new(field.location.scope(), field.location.name()),
            render: None,
        };
        self.field_at(field.kind, &field.value, None, place, || {
            if shared::shareable(field) {
                Reach::Shared
            } else if client::per_client(field) {
                Reach::Client
            } else {
                Reach::Nowhere
            }
        });
    }

    /// Inspects one field in `scope` whose name is costly to build (a body leaf's path):
    /// `name` runs at most once, and only when a rule, the policy or a hit needs it.
    #[inline]
    pub fn field_lazy(
        &mut self,
        scope: &'static str,
        kind: FieldKind,
        value: &str,
        name: &mut dyn LazyName,
    ) {
        if kind == FieldKind::HeaderValue {
            // The site notes header names.
            let field = Field::new(Location::new(scope, name.render()), kind, value.as_bytes());
            return self.field(&field);
        }
        let place = Place {
            location: Location::scope_only(scope),
            render: Some(name),
        };
        self.field_at(kind, value.as_bytes(), Some(value), place, || {
            if shared::shareable_kind(kind, value.as_bytes()) {
                Reach::Shared
            } else {
                Reach::Nowhere
            }
        });
    }

    /// Inspects `value` (`text` if known as a `str`) unless this scan's memo, or else the
    /// one of earlier requests `reach` names (all clients' or this client's), knows it
    /// clean.
    #[inline]
    fn field_at(
        &mut self,
        kind: FieldKind,
        value: &[u8],
        text: Option<&str>,
        mut place: Place<'_>,
        reach: impl FnOnce() -> Reach,
    ) {
        let mut lookup = self.memo_lookup(kind, value);
        // Asked only on a miss: most body leaves repeat within the body.
        let shared = match lookup {
            Lookup::Clean(_) => Remember::Nowhere,
            _ => self.across_requests(kind, value, &place.location, reach),
        };
        if let Lookup::Miss(_) | Lookup::Never = lookup
            && let Some(charged) = shared.lookup(kind, value)
        {
            // A key repeated in this body then costs this scan's cheaper lookup; not a
            // verdict that may hold at its location only.
            if let (Lookup::Miss(key), false) = (lookup, shared.by_location()) {
                self.memo.insert(key, value, charged);
            }
            lookup = Lookup::Clean(charged);
        }
        if let Lookup::Clean(charged) = lookup {
            // Found clean before: the same charge keeps the budget as a rescan leaves it,
            // and a prefix of clean variants (a charge refused) is clean too.
            self.budget.charge(charged);
        } else {
            let (charged, exhausted) = (self.budget.decoded_bytes(), self.budget.exhausted());
            self.location_bound = false;
            let clean = self.inspect_field(kind, value, text, &mut place);
            if clean && self.budget.exhausted() == exhausted {
                let charged = self.budget.decoded_bytes() - charged;
                if let (Lookup::Miss(key), false) = (lookup, self.location_bound) {
                    self.memo.insert(key, value, charged);
                }
                if !self.location_bound || shared.by_location() {
                    shared.insert(kind, value, charged);
                }
            }
        }
        // Also on the fast path: a budget shared with an earlier scan may be spent already.
        if let Some(e) = self.budget.exhausted() {
            self.findings.undecided.get_or_insert(e);
        }
    }

    /// Whether this scan already found `value` seen as `kind` clean without decoding
    /// anything: inspecting it again, at any location, would find and charge nothing, so
    /// the caller may skip the field (and building its location). Accounts for it if so.
    pub fn known_clean(&mut self, kind: FieldKind, value: &[u8]) -> bool {
        if !matches!(self.memo_lookup(kind, value), Lookup::Clean(0)) {
            return false;
        }
        if let Some(e) = self.budget.exhausted() {
            self.findings.undecided.get_or_insert(e);
        }
        true
    }

    fn memo_lookup(&mut self, kind: FieldKind, value: &[u8]) -> Lookup {
        if self.fast {
            self.memo.lookup(kind, value)
        } else {
            Lookup::Never
        }
    }

    /// Decodes and inspects one field; true when nothing matched.
    fn inspect_field(
        &mut self,
        kind: FieldKind,
        value: &[u8],
        text: Option<&str>,
        place: &mut Place<'_>,
    ) -> bool {
        let mut hit_here = std::mem::take(&mut self.hit_here);
        hit_here.clear();
        let rules = self.rules;
        let class = rules.classes.classify(value, kind);
        let route = if self.fast {
            fastpath::route(value, kind, class, text)
        } else {
            fastpath::Route::Decode(decode::Known::default())
        };
        match route {
            // Nothing to decode: the value is its only variant, borrowed as is.
            fastpath::Route::Plain(text) => {
                self.variant(text, kind, class, false, place, &mut hit_here);
            }
            fastpath::Route::Decode(known) => {
                let variants = decode::variants_known(value, kind, self.budget, known);
                for (i, v) in variants.iter().enumerate() {
                    // The raw value, when valid UTF-8, was classified above.
                    let raw = i == 0 && matches!(v.text, Cow::Borrowed(_)) && v.kind == kind;
                    let class = if raw {
                        class
                    } else {
                        rules.classes.classify(v.text.as_bytes(), v.kind)
                    };
                    // A value's own views keep its kind: a name here was nested in it.
                    let nested_name = v.kind != kind && v.kind.is_name();
                    self.variant(&v.text, v.kind, class, nested_name, place, &mut hit_here);
                }
            }
        }
        let clean = hit_here.is_empty();
        self.hit_here = hit_here;
        clean
    }

    /// Runs the detectors and pattern rules of `kind` over one decoded view; `class` is
    /// its fast-path class; `nested_name` when it is a name found inside a value.
    fn variant(
        &mut self,
        text: &str,
        kind: FieldKind,
        class: u64,
        nested_name: bool,
        place: &mut Place<'_>,
        hit_here: &mut Vec<usize>,
    ) {
        let rules = self.rules;
        let mut candidates = std::mem::take(&mut self.candidates);
        let atoms = rules.candidates(text.as_bytes(), kind, class, &mut candidates);
        // Detectors whose declared bytes and atoms are all absent cannot fire.
        let live = if self.fast { class | atoms } else { u64::MAX };
        for dr in rules.kinds[kind.index()].live_detectors(live) {
            let ri = dr.rule;
            if hit_here.contains(&ri)
                || (nested_name && rules.rules[ri].top_level_names)
                || !self.applies(ri, place)
            {
                continue;
            }
            if let Some(fragment) = dr.detector.detect(text, kind) {
                hit_here.push(ri);
                self.record(ri, place, &fragment);
            }
        }
        let mut compacted = false;
        for &ri in &candidates {
            // A byte every match holds is missing (`CompiledRules::gates`).
            let gated = self.fast
                && rules
                    .gates
                    .get(ri)
                    .is_some_and(|g| g.is_some_and(|g| !g.admits(class)));
            // Where the rule runs by location, the location is asked only on a match: a
            // value no pattern matches is clean wherever it stands, and stays memoised.
            if gated
                || hit_here.contains(&ri)
                || (nested_name && rules.rules[ri].top_level_names)
                || matches!(self.gate(ri), Gate::Off)
            {
                continue;
            }
            let Matcher::Pattern {
                regex, transform, ..
            } = &rules.rules[ri].matcher
            else {
                continue;
            };
            let subject = if *transform == Transform::None {
                text
            } else {
                if !compacted {
                    decode::compact_into(text, &mut self.compact);
                    compacted = true;
                }
                self.compact.as_str()
            };
            if let Some(m) = regex.find(subject.as_bytes()) {
                let fragment = String::from_utf8_lossy(m.as_bytes()).into_owned();
                if !self.applies(ri, place) {
                    continue;
                }
                hit_here.push(ri);
                self.record(ri, place, &fragment);
            }
        }
        self.candidates = candidates;
    }

    #[inline]
    fn applies(&mut self, ri: usize, place: &mut Place<'_>) -> bool {
        match self.gates.get(ri) {
            Some(Gate::On) => true,
            Some(Gate::Off) => false,
            _ => self.applies_here(ri, place),
        }
    }

    /// [`Scan::applies`] for a rule seen first or depending on the location.
    #[inline(never)]
    fn applies_here(&mut self, ri: usize, place: &mut Place<'_>) -> bool {
        match self.gate(ri) {
            Gate::Off => return false,
            Gate::On => return true,
            Gate::Unknown | Gate::ByLocation => {}
        }
        let rule = &self.rules.rules[ri];
        let location = place.get();
        let elsewhere = !rule.name_suffixes.is_empty()
            && !rule
                .name_suffixes
                .iter()
                .any(|n| location.name_ends_with_ignore_case(n));
        let excluded = elsewhere
            || rule.exclude_locations.iter().any(|p| location.matches(p))
            || self.policy.excludes(&rule.id, &rule.class, location);
        self.location_bound |= excluded;
        !excluded
    }

    /// The rule's [`Gate`] under this scan's policy, found once per scan.
    fn gate(&mut self, ri: usize) -> Gate {
        let known = self.gates.get(ri).copied().unwrap_or_default();
        if known != Gate::Unknown {
            return known;
        }
        let rule = &self.rules.rules[ri];
        let gate = if !self.policy.runs(&rule.id, rule.paranoia) {
            Gate::Off
        } else if rule.name_suffixes.is_empty()
            && rule.exclude_locations.is_empty()
            && !self.policy.may_exclude(&rule.id, &rule.class)
        {
            Gate::On
        } else {
            Gate::ByLocation
        };
        if self.gates.len() <= ri {
            self.gates
                .resize(self.rules.rules.len().max(ri + 1), Gate::Unknown);
        }
        self.gates[ri] = gate;
        gate
    }

    fn record(&mut self, ri: usize, place: &mut Place<'_>, fragment: &str) {
        let location = place.get().to_string();
        if self.rules.rules[ri].cross_site {
            // The Referer may come after this field: decide at the end.
            self.cross_site_hits
                .push((ri, location, fragment.to_owned()));
            return;
        }
        self.count(ri, location, fragment);
    }

    fn count(&mut self, ri: usize, location: String, fragment: &str) {
        let rule = &self.rules.rules[ri];
        let detect_only = self.policy.detect_only(&rule.id, &rule.class);
        if !detect_only && self.scored.insert(ri) {
            self.findings.score = self.findings.score.saturating_add(rule.score);
        }
        if self.findings.hits.len() < MAX_HITS {
            self.findings.hits.push(Hit {
                rule_id: rule.id.clone(),
                class: rule.class.clone(),
                fragment: if location.starts_with(crate::extract::CREDENTIAL_SCOPE) {
                    String::from("(credential)")
                } else {
                    escape_fragment(fragment)
                },
                location,
                score: rule.score,
                detect_only,
            });
        }
    }

    /// Ends the scan.
    pub fn finish(mut self) -> Findings {
        if !self.site.same() {
            for (ri, location, fragment) in std::mem::take(&mut self.cross_site_hits) {
                self.count(ri, location, &fragment);
            }
        }
        self.findings
    }
}

/// Which earlier requests' verdicts a field may use: every client's (public values),
/// its own client's, or none.
enum Reach {
    Shared,
    Client,
    Nowhere,
}

/// Where a clean verdict is kept for later requests.
#[derive(Debug, Clone, Copy)]
enum Remember<'e> {
    Nowhere,
    Shared(&'e SharedMemo),
    /// The client's memo, and where in it the value goes.
    Client(&'e ClientMemo, client::Key),
}

impl Remember<'_> {
    /// Whether verdicts are kept per location (so one that holds there only may be).
    fn by_location(self) -> bool {
        matches!(self, Remember::Client(..))
    }

    fn lookup(self, kind: FieldKind, value: &[u8]) -> Option<usize> {
        match self {
            Remember::Nowhere => None,
            Remember::Shared(memo) => memo.lookup(kind, value),
            Remember::Client(memo, key) => memo.lookup(key),
        }
    }

    fn insert(self, kind: FieldKind, value: &[u8], charged: usize) {
        match self {
            Remember::Nowhere => {}
            Remember::Shared(memo) => memo.insert(kind, value, charged),
            Remember::Client(memo, key) => memo.insert(key, charged),
        }
    }
}

/// At most 64 characters, with control characters, quotes and backslashes escaped so a
/// fragment cannot forge log lines.
fn escape_fragment(s: &str) -> String {
    s.chars()
        .take(FRAGMENT_CHARS)
        .flat_map(char::escape_default)
        .collect()
}

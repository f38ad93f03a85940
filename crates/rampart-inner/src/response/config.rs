//! `[routes.response]`: what the inner does to a route's backend responses, raw as
//! written and validated into a [`ResponsePolicy`].

use http::HeaderValue;
use http::header::HeaderName;
use rampart_core::config::Problems;
use rampart_core::units::ByteSize;
use serde::Deserialize;

use super::leaks::{Secrets, secrets};

/// `response = { validate = "...", leaks = "...", inspect_limit = "...", ... }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawResponse {
    validate: Option<String>,
    leaks: Option<String>,
    inspect_limit: Option<String>,
    oversize: Option<String>,
    secrets: Option<Vec<String>>,
    #[serde(default)]
    secret_patterns: Vec<String>,
    #[serde(default)]
    headers: RawHeaders,
}

/// `response.headers`: each value replaces the default, `"off"` removes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeaders {
    strict_transport_security: Option<String>,
    content_type_options: Option<String>,
    referrer_policy: Option<String>,
    /// For responses to authenticated requests that carry no `Cache-Control`.
    cache_control: Option<String>,
    #[serde(default)]
    remove: Vec<String>,
}

/// What to do about responses that break the contract or leak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Off,
    /// Audit and deliver.
    Log,
    /// Deliver with cards and secrets masked (leaks only).
    Mask,
    /// Withhold: 502.
    Block,
}

/// Responses that cannot be inspected (larger than the limit, binary, unsupported coding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Uninspected {
    /// Deliver untouched; audit `response-not-inspected`.
    Stream,
    /// Withhold: 502 `response-not-inspected`.
    Block,
}

/// Security headers added to a route's responses.
#[derive(Debug, Clone)]
pub(crate) struct SecurityHeaders {
    /// Only on responses to clients that used TLS; a backend's own value wins.
    pub(crate) hsts: Option<HeaderValue>,
    pub(crate) content_type_options: Option<HeaderValue>,
    /// A backend's own value wins.
    pub(crate) referrer_policy: Option<HeaderValue>,
    /// Only for authenticated requests and when the backend set none.
    pub(crate) cache_control: Option<HeaderValue>,
    /// Removed from every response (the backend banners go anyway).
    pub(crate) remove: Vec<HeaderName>,
}

/// A route's response protection.
#[derive(Debug, Clone)]
pub(crate) struct ResponsePolicy {
    pub(crate) validate: Action,
    pub(crate) leaks: Action,
    pub(crate) inspect_limit: ByteSize,
    pub(crate) uninspected: Uninspected,
    pub(crate) secrets: Secrets,
    pub(crate) headers: SecurityHeaders,
}

impl ResponsePolicy {
    /// Whether bodies are read for inspection at all.
    pub(crate) fn inspects(&self) -> bool {
        self.validate != Action::Off || self.leaks != Action::Off
    }
}

const DEFAULT_HSTS: &str = "max-age=31536000; includeSubDomains";
const DEFAULT_REFERRER: &str = "no-referrer";

fn header(p: &mut Problems, key: &str, raw: Option<&str>, default: &str) -> Option<HeaderValue> {
    match raw.unwrap_or(default) {
        "off" => None,
        v => HeaderValue::from_str(v)
            .map_err(|_| p.push(key, "is not a valid header value"))
            .ok(),
    }
}

fn action(p: &mut Problems, key: &str, raw: Option<&str>, allowed: &[(&str, Action)]) -> Action {
    let raw = raw.unwrap_or("off");
    match allowed.iter().find(|(name, _)| *name == raw) {
        Some((_, a)) => *a,
        None => {
            let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
            p.push(key, format!("{raw:?} is not one of {}", names.join(", ")));
            Action::Off
        }
    }
}

/// Whether `raw` asks for response validation (the contract then compiles its
/// response schemas at load).
pub(crate) fn validates(raw: Option<&RawResponse>) -> bool {
    raw.and_then(|r| r.validate.as_deref())
        .is_some_and(|v| v != "off")
}

/// Validates `routes[i].response` (`raw` absent: the defaults, i.e. security headers
/// only). `has_contract`: the route has an OpenAPI contract to validate against.
pub(crate) fn validate(
    p: &mut Problems,
    key: &str,
    raw: Option<&RawResponse>,
    has_contract: bool,
) -> Option<ResponsePolicy> {
    let key = format!("{key}.response");
    let default = RawResponse::default();
    let raw = raw.unwrap_or(&default);
    let validate = action(
        p,
        &format!("{key}.validate"),
        raw.validate.as_deref(),
        &[
            ("off", Action::Off),
            ("log", Action::Log),
            ("block", Action::Block),
        ],
    );
    if validate != Action::Off && !has_contract {
        p.push(
            format!("{key}.validate"),
            "needs an OpenAPI contract on the route (openapi = { spec = ... })",
        );
    }
    let leaks = action(
        p,
        &format!("{key}.leaks"),
        raw.leaks.as_deref(),
        &[
            ("off", Action::Off),
            ("mask", Action::Mask),
            ("block", Action::Block),
        ],
    );
    if leaks != Action::Off && !super::leaks::ready() {
        // Never a silent no-op: a detector table that does not compile stops the tier.
        p.push(
            format!("{key}.leaks"),
            "the built-in leak patterns failed to compile",
        );
    }
    let limit_key = format!("{key}.inspect_limit");
    let inspect_limit = p.size_or(&limit_key, raw.inspect_limit.as_ref(), ByteSize::mib(1));
    if inspect_limit > ByteSize::mib(64) {
        p.push(
            limit_key,
            "must be at most 64MiB (responses are held in memory while inspected)",
        );
    }
    let uninspected = match raw.oversize.as_deref().unwrap_or("stream") {
        "stream" => Uninspected::Stream,
        "block" => Uninspected::Block,
        other => {
            p.push(
                format!("{key}.oversize"),
                format!("{other:?} is not one of stream, block"),
            );
            Uninspected::Stream
        }
    };
    let builtin: Vec<String> = match &raw.secrets {
        Some(names) => names.clone(),
        None => secrets::DEFAULT.iter().map(|s| (*s).to_owned()).collect(),
    };
    let secrets = Secrets::new(&builtin, &raw.secret_patterns)
        .map_err(|(at, e)| p.push(format!("{key}.{at}"), e))
        .ok();
    let h = &raw.headers;
    let hk = |name: &str| format!("{key}.headers.{name}");
    let mut remove = Vec::new();
    for (i, name) in h.remove.iter().enumerate() {
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(n) => remove.push(n),
            Err(_) => p.push(format!("{key}.headers.remove[{i}]"), "is not a header name"),
        }
    }
    let headers = SecurityHeaders {
        hsts: header(
            p,
            &hk("strict_transport_security"),
            h.strict_transport_security.as_deref(),
            DEFAULT_HSTS,
        ),
        content_type_options: header(
            p,
            &hk("content_type_options"),
            h.content_type_options.as_deref(),
            "nosniff",
        ),
        referrer_policy: header(
            p,
            &hk("referrer_policy"),
            h.referrer_policy.as_deref(),
            DEFAULT_REFERRER,
        ),
        cache_control: header(
            p,
            &hk("cache_control"),
            h.cache_control.as_deref(),
            "no-store",
        ),
        remove,
    };
    Some(ResponsePolicy {
        validate,
        leaks,
        inspect_limit,
        uninspected,
        secrets: secrets?,
        headers,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(text: &str, has_contract: bool) -> (Option<ResponsePolicy>, String) {
        let raw: RawResponse = toml::from_str(text).unwrap();
        let mut p = Problems::default();
        let got = validate(&mut p, "routes[0]", Some(&raw), has_contract);
        (got, format!("{p:?}"))
    }

    #[test]
    fn defaults_add_headers_and_inspect_nothing() {
        let mut p = Problems::default();
        let policy = validate(&mut p, "routes[0]", None, false).unwrap();
        assert!(p.is_empty());
        assert!(!policy.inspects());
        assert_eq!(policy.headers.hsts.unwrap(), DEFAULT_HSTS);
        assert_eq!(policy.headers.content_type_options.unwrap(), "nosniff");
        assert_eq!(policy.headers.cache_control.unwrap(), "no-store");
        assert_eq!(policy.inspect_limit, ByteSize::mib(1));
    }

    #[test]
    fn bad_settings_are_reported_with_their_key_path() {
        let cases = [
            ("validate = \"block\"", true, ""),
            ("validate = \"block\"", false, "routes[0].response.validate"),
            ("validate = \"mask\"", true, "routes[0].response.validate"),
            ("leaks = \"log\"", false, "routes[0].response.leaks"),
            (
                "inspect_limit = \"65MiB\"",
                false,
                "routes[0].response.inspect_limit",
            ),
            (
                "inspect_limit = \"lots\"",
                false,
                "routes[0].response.inspect_limit",
            ),
            (
                "oversize = \"refuse\"",
                false,
                "routes[0].response.oversize",
            ),
            (
                "secrets = [\"jwt\", \"pgp\"]",
                false,
                "routes[0].response.secrets[1]",
            ),
            (
                "secret_patterns = [\"(x\"]",
                false,
                "routes[0].response.secret_patterns[0]",
            ),
            (
                "headers = { referrer_policy = \"a\\nb\" }",
                false,
                "routes[0].response.headers.referrer_policy",
            ),
            (
                "headers = { remove = [\"bad name\"] }",
                false,
                "routes[0].response.headers.remove[0]",
            ),
        ];
        for (text, has_contract, problem) in cases {
            let (_, problems) = parse(text, has_contract);
            if problem.is_empty() {
                assert_eq!(problems, format!("{:?}", Problems::default()), "{text}");
            } else {
                assert!(problems.contains(problem), "{text}: {problems}");
            }
        }
        let (policy, _) = parse(
            "leaks = \"mask\"\nheaders = { strict_transport_security = \"off\", cache_control = \"private, no-cache\" }",
            false,
        );
        let policy = policy.unwrap();
        assert_eq!(policy.leaks, Action::Mask);
        assert!(policy.headers.hsts.is_none());
        assert_eq!(policy.headers.cache_control.unwrap(), "private, no-cache");
    }
}

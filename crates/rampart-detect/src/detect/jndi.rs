//! log4j lookups (log4shell): `${jndi:...}` and the obfuscations that rebuild it from
//! nested lookups (`${${lower:j}ndi:`, `${${::-j}${::-n}di:`, `${env:X:-j}`), plus lookups
//! that leak secrets (`${env:`, `${sys:`, `${java:`...), and Apache Commons Text's lookups
//! that run scripts or reach out (`${script:`, `${dns:`, `${url:`).

/// Lookups that read the environment; only in a `${` lookup.
const LEAKS: &[&str] = &[
    "env:",
    "sys:",
    "java:",
    "main:",
    "docker:",
    "k8s:",
    "spring:",
    "bundle:",
    "ctx:",
    "sd:",
    "web:",
    "log4j:",
    "jvmrunargs:",
    "base64:",
];

/// Detects a JNDI or secret-leaking lookup; returns the de-obfuscated lookup.
pub(crate) fn detect(text: &str) -> Option<String> {
    let start = text.find("${")?;
    let flat = flatten(&text[start..]);
    if let Some(i) = flat.find("${jndi") {
        return Some(flat[i..].chars().take(64).collect());
    }
    flat.match_indices("${")
        .map(|(i, _)| i)
        .find(|i| leak(&flat[i + 2..]))
        .or_else(|| {
            flat.match_indices("${")
                .map(|(i, _)| i)
                .find(|i| interpolator(&flat[i + 2..]))
        })
        .map(|i| flat[i..].chars().take(64).collect())
}

/// Whether `body` (after `${`) is a lookup that leaks a secret. `${env:DB_HOST:localhost}`
/// is a configuration placeholder with a default (Spring, MicroProfile): log4j's default
/// separator is `:-`, so to log4j it names a variable that cannot exist and leaks nothing.
fn leak(body: &str) -> bool {
    LEAKS.iter().any(|l| {
        body.strip_prefix(l).is_some_and(|rest| {
            let name = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(rest.len());
            let placeholder = matches!(*l, "env:" | "sys:")
                && name > 0
                && rest[name..].starts_with(':')
                && !rest[name..].starts_with(":-");
            !placeholder
        })
    })
}

/// Whether `body` (after `${`) is one of Apache Commons Text's lookups that run code or
/// reach out (CVE-2022-42889): `script:javascript:...`, `dns:address|host`,
/// `url:utf-8:http://...`, `file:utf-8:/etc/passwd`. Spring's `${url:http://localhost}`
/// is a property with a default: no charset before the scheme.
fn interpolator(body: &str) -> bool {
    fn word(s: &str) -> Option<(&str, &str)> {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .filter(|&n| n > 0)
            .map(|n| s.split_at(n))
    }
    if let Some(rest) = body.strip_prefix("script:") {
        return word(rest).is_some_and(|(_, tail)| tail.starts_with(':'));
    }
    if let Some(rest) = body.strip_prefix("dns:") {
        return ["address|", "canonical-name|", "name|"]
            .iter()
            .any(|p| rest.starts_with(p));
    }
    let (is_url, rest) = match (body.strip_prefix("url:"), body.strip_prefix("file:")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        (None, None) => return false,
    };
    let Some((_, tail)) = word(rest) else {
        return false;
    };
    let Some(target) = tail.strip_prefix(':') else {
        return false;
    };
    !is_url
        || ["http:", "https:", "file:", "ftp:", "jar:"]
            .iter()
            .any(|p| target.starts_with(p))
}

/// Resolves the nested lookups that only return (part of) their argument, innermost first,
/// and lowercases; a bounded number of passes keeps this linear-ish on hostile input.
fn flatten(s: &str) -> String {
    let mut cur: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    for _ in 0..8 {
        let next = resolve_once(&cur);
        if next == cur {
            break;
        }
        cur = next;
    }
    cur
}

/// Replaces every innermost `${...}` whose content contains no `${` and that is not itself
/// a `jndi` lookup by the value it would produce: the default after `:-`, or the argument
/// of `lower:`/`upper:`, or the text after the last `:` of a date/other lookup.
fn resolve_once(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find("${") {
        out.push_str(&rest[..open]);
        let inner = &rest[open + 2..];
        let close = inner.find('}');
        let nested = inner.find("${");
        match close {
            Some(c) if nested.is_none_or(|n| n > c) => {
                let body = &inner[..c];
                if body.starts_with("jndi")
                    || interpolator(body)
                    || LEAKS
                        .iter()
                        .any(|l| body.starts_with(l) && !body.contains(":-"))
                {
                    out.push_str("${");
                    out.push_str(body);
                    out.push('}');
                } else {
                    out.push_str(value_of(body));
                }
                rest = &inner[c + 1..];
            }
            _ => {
                out.push_str("${");
                rest = inner;
            }
        }
    }
    out.push_str(rest);
    out
}

fn value_of(body: &str) -> &str {
    if let Some(i) = body.find(":-") {
        return &body[i + 2..];
    }
    for p in ["lower:", "upper:"] {
        if let Some(v) = body.strip_prefix(p) {
            return v;
        }
    }
    // `${date:'j'}` renders the quoted literal.
    if let Some(v) = body.strip_prefix("date:") {
        return v.trim_matches('\'');
    }
    body
}

//! Schema and include references that make a validating or XInclude-processing XML parser
//! fetch (`xsi:schemaLocation`, `xi:include/@href`): an absolute URL, a UNC path, or a
//! local or stream scheme (`file:`, `jar:`, `php:`...). A standard schema at its
//! publisher's host (`https://maven.apache.org/xsd/maven-4.0.0.xsd`, the W3C's, OASIS's,
//! GPX's) is what every POM, SOAP envelope and GPS track names, and no caller chooses
//! where that fetch goes; any other host counts.

/// Publishers of the standard schemas documents name, matched with their subdomains.
const PUBLISHERS: &[&str] = &[
    "w3.org",
    "apache.org",
    "oasis-open.org",
    "xmlsoap.org",
    "topografix.com",
    "springframework.org",
    "opengis.net",
    "openxmlformats.org",
    "microsoft.com",
    "sitemaps.org",
    "purl.org",
    "jcp.org",
    "jakarta.ee",
    "sun.com",
    "oracle.com",
    "hibernate.org",
    "eclipse.org",
    "liquibase.org",
    "android.com",
    "omg.org",
    "garmin.com",
    "peppol.eu",
    "iso20022.org",
    "hl7.org",
    "xbrl.org",
    "gs1.org",
];

/// Schemes that read local files or streams, or speak raw protocols.
const LOCAL: &[&str] = &[
    "file", "jar", "php", "expect", "gopher", "netdoc", "data", "ftp", "dict", "ldap",
];

/// The first reference in a schema-location or include value that makes a fetch to a
/// host a caller chose.
pub(crate) fn detect(text: &str) -> Option<String> {
    text.split_ascii_whitespace()
        .find(|token| fetches(token))
        .map(|token| token.chars().take(64).collect())
}

/// [`detect`] over each `schemaLocation`/`noNamespaceSchemaLocation` attribute of XML
/// text held in one value (a document uploaded or pasted as a field).
pub(crate) fn detect_in_text(text: &str) -> Option<String> {
    const NAME: &[u8] = b"schemalocation";
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = find_ignore_case(&bytes[from..], NAME) {
        let mut i = from + at + NAME.len();
        from = i;
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let Some(&quote @ (b'"' | b'\'')) = bytes.get(i) else {
            continue;
        };
        let value = &text[i + 1..];
        let end = value.find(char::from(quote)).unwrap_or(value.len());
        if let Some(found) = detect(&value[..end]) {
            return Some(found);
        }
        from = i + 1 + end;
    }
    None
}

/// The first index of ASCII-lowercase `needle` in `hay`, ignoring ASCII case.
fn find_ignore_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

fn fetches(token: &str) -> bool {
    if token.starts_with("\\\\") {
        return true;
    }
    let lower = token.to_ascii_lowercase();
    let rest = match lower.split_once(':') {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-')) =>
        {
            if LOCAL.contains(&scheme) {
                return true;
            }
            rest
        }
        _ => lower.as_str(),
    };
    let Some(after) = rest.strip_prefix("//") else {
        return false;
    };
    let authority = after.split(['/', '?', '#', '\\']).next().unwrap_or(after);
    // Userinfo hides which host is fetched from a reader of the value.
    if authority.contains('@') {
        return true;
    }
    let host = authority.split(':').next().unwrap_or(authority);
    let host = host.trim_end_matches('.');
    !PUBLISHERS
        .iter()
        .any(|p| host == *p || host.strip_suffix(p).is_some_and(|h| h.ends_with('.')))
}

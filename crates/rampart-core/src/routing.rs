//! Matching a request's host and path to the most specific configured route.
//!
//! Both tiers route the same way: the edge to pick a route's protections, the inner
//! tier to pick its inspection and upstream. The table is generic over what a route
//! carries.

use std::fmt;

/// Which hosts a route serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMatch {
    /// Every host.
    Any,
    /// Exactly this host (lowercase, no port).
    Exact(String),
    /// Any subdomain of this suffix (`*.example.com` -> `.example.com`).
    Suffix(String),
}

impl HostMatch {
    /// Parses `*`, `*.example.com` or `api.example.com`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim().to_ascii_lowercase();
        if raw == "*" {
            return Ok(HostMatch::Any);
        }
        let (suffix, name) = match raw.strip_prefix("*.") {
            Some(rest) => (true, rest.to_owned()),
            None => (false, raw.clone()),
        };
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !valid {
            return Err(format!("{raw:?} is not a host name, *.suffix or *"));
        }
        Ok(if suffix {
            HostMatch::Suffix(format!(".{name}"))
        } else {
            HostMatch::Exact(name)
        })
    }

    fn rank(&self) -> u8 {
        match self {
            HostMatch::Exact(_) => 2,
            HostMatch::Suffix(_) => 1,
            HostMatch::Any => 0,
        }
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            HostMatch::Any => true,
            HostMatch::Exact(h) => h == host,
            HostMatch::Suffix(s) => host.ends_with(s.as_str()) && host.len() > s.len(),
        }
    }
}

impl fmt::Display for HostMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostMatch::Any => f.write_str("*"),
            HostMatch::Exact(h) => f.write_str(h),
            HostMatch::Suffix(s) => write!(f, "*{s}"),
        }
    }
}

/// One route and what it carries.
#[derive(Debug, Clone)]
pub struct Route<T> {
    /// Name in logs and metrics.
    pub name: String,
    /// Hosts served.
    pub host: HostMatch,
    /// Path prefix, matched on segment boundaries.
    pub path_prefix: String,
    /// What the tier attaches to the route (upstream, policy).
    pub value: T,
}

/// Routes ordered so the first match is the most specific.
#[derive(Debug, Clone)]
pub struct RouteTable<T> {
    routes: Vec<Route<T>>,
}

impl<T> Default for RouteTable<T> {
    fn default() -> Self {
        Self { routes: Vec::new() }
    }
}

fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    let prefix = prefix.trim_end_matches('/');
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The host part of an authority, lowercase, without port or IPv6 brackets' port.
pub fn host_of(authority: &str) -> String {
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or(authority)
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.to_ascii_lowercase()
}

impl<T> RouteTable<T> {
    /// Orders routes: exact hosts before wildcards, then longer prefixes first.
    pub fn new(mut routes: Vec<Route<T>>) -> Self {
        routes.sort_by(|a, b| {
            b.host
                .rank()
                .cmp(&a.host.rank())
                .then(b.path_prefix.len().cmp(&a.path_prefix.len()))
        });
        Self { routes }
    }

    /// Every route, most specific first.
    pub fn iter(&self) -> impl Iterator<Item = &Route<T>> {
        self.routes.iter()
    }

    /// The route for `authority` and `path`, if any.
    pub fn find(&self, authority: &str, path: &str) -> Option<&Route<T>> {
        let host = host_of(authority);
        self.routes
            .iter()
            .find(|r| r.host.matches(&host) && prefix_matches(&r.path_prefix, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(name: &str, host: &str, prefix: &str) -> Route<()> {
        Route {
            name: name.into(),
            host: HostMatch::parse(host).unwrap(),
            path_prefix: prefix.into(),
            value: (),
        }
    }

    #[test]
    fn picks_the_most_specific_route() {
        let table = RouteTable::new(vec![
            route("fallback", "*", "/"),
            route("api", "*", "/api"),
            route("api-v2", "*", "/api/v2/"),
            route("partner", "partner.example.com", "/"),
            route("tenants", "*.tenants.example.com", "/"),
        ]);
        let cases = [
            ("example.com", "/", "fallback"),
            ("example.com", "/api", "api"),
            ("example.com", "/api/users", "api"),
            ("example.com", "/apix", "fallback"), // segment boundary, not string prefix
            ("example.com", "/api/v2/users", "api-v2"),
            ("example.com", "/api/v2", "api-v2"),
            ("PARTNER.example.com:8443", "/api", "partner"),
            ("a.tenants.example.com", "/x", "tenants"),
            ("tenants.example.com", "/x", "fallback"),
            ("[::1]:8080", "/api", "api"),
        ];
        for (host, path, want) in cases {
            assert_eq!(
                table.find(host, path).map(|r| r.name.as_str()),
                Some(want),
                "{host}{path}"
            );
        }
    }

    #[test]
    fn no_route_without_a_catch_all() {
        let table = RouteTable::new(vec![route("api", "api.example.com", "/v1")]);
        assert!(table.find("other.example.com", "/v1").is_none());
        assert!(table.find("api.example.com", "/v2").is_none());
    }

    #[test]
    fn refuses_malformed_host_patterns() {
        for bad in ["", "*.", "exa mple.com", "a/b", "**"] {
            assert!(HostMatch::parse(bad).is_err(), "{bad}");
        }
    }
}

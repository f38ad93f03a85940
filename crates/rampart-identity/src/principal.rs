//! The verified caller.

use std::fmt;
use std::str::FromStr;

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// An API key from a header or query parameter.
    ApiKey,
    /// HTTP Basic user and password.
    Basic,
    /// A bearer token (JWT or introspected).
    Bearer,
    /// A TLS client certificate.
    ClientCert,
}

impl Method {
    /// Every method, in the order challenges are sent.
    pub const ALL: [Method; 4] = [
        Method::Bearer,
        Method::ApiKey,
        Method::Basic,
        Method::ClientCert,
    ];

    /// The stable name used in config, logs and the auth-method header.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::ApiKey => "api_key",
            Method::Basic => "basic",
            Method::Bearer => "bearer",
            Method::ClientCert => "mtls",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A method name that is not one of `api_key`, `basic`, `bearer`, `mtls`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown auth method {0:?}; use one of api_key, basic, bearer, mtls")]
pub struct MethodParseError(pub String);

impl FromStr for Method {
    type Err = MethodParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| MethodParseError(s.to_owned()))
    }
}

/// The verified caller. Holds no secret material, so its `Debug` is safe to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who: consumer name, user name, token `sub`, or certificate subject.
    pub subject: String,
    /// How they proved it.
    pub method: Method,
    /// The consumer (application) the credential belongs to, when known.
    pub consumer: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Granted roles.
    pub roles: Vec<String>,
    /// Rate-limit plan name.
    pub plan: Option<String>,
}

impl Principal {
    /// A principal with only a subject and a method.
    pub fn new(subject: impl Into<String>, method: Method) -> Self {
        Self {
            subject: subject.into(),
            method,
            consumer: None,
            scopes: Vec::new(),
            roles: Vec::new(),
            plan: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_round_trip() {
        for m in Method::ALL {
            assert_eq!(m.as_str().parse::<Method>(), Ok(m));
        }
        assert_eq!(Method::ClientCert.as_str(), "mtls");
        assert!(
            "Basic".parse::<Method>().is_err(),
            "names are case-sensitive"
        );
        assert!("client_cert".parse::<Method>().is_err());
    }
}

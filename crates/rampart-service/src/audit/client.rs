//! Client addresses as records show them: full, truncated to a network, or a keyed hash.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ring::hmac;

use super::config::ClientAddress;

/// Turns resolved client addresses into what a record may carry.
pub(crate) struct Anonymizer {
    mode: Mode,
}

enum Mode {
    Full,
    Truncate,
    Hash(hmac::Key),
}

/// What a record shows for an address it cannot parse while anonymising: never the raw
/// text, which may be anything a proxy header carried.
const UNPARSEABLE: &str = "unparseable";

impl Anonymizer {
    pub(crate) fn new(mode: &ClientAddress) -> Self {
        let mode = match mode {
            ClientAddress::Full => Mode::Full,
            ClientAddress::Truncate => Mode::Truncate,
            ClientAddress::Hash(key) => Mode::Hash(hmac::Key::new(hmac::HMAC_SHA256, key)),
        };
        Anonymizer { mode }
    }

    /// The address as a record shows it. Longer than any address: cut, for bounded records.
    pub(crate) fn show(&self, client: &str) -> String {
        let client = client.trim();
        match &self.mode {
            Mode::Full => client.chars().take(64).collect(),
            Mode::Truncate => match parse(client) {
                Some(IpAddr::V4(v4)) => {
                    let [a, b, c, _] = v4.octets();
                    format!("{}/24", Ipv4Addr::new(a, b, c, 0))
                }
                Some(IpAddr::V6(v6)) => {
                    let s = v6.segments();
                    format!("{}/48", Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0))
                }
                None => UNPARSEABLE.to_owned(),
            },
            Mode::Hash(key) => {
                // Hash the canonical form so "::ffff:1.2.3.4"-style spellings and ports
                // do not split one client into several values.
                let canonical = match parse(client) {
                    Some(ip) => ip.to_canonical().to_string(),
                    None => return UNPARSEABLE.to_owned(),
                };
                let tag = hmac::sign(key, canonical.as_bytes());
                let mut out = String::from("h:");
                for b in &tag.as_ref()[..8] {
                    out.push_str(&format!("{b:02x}"));
                }
                out
            }
        }
    }
}

fn parse(client: &str) -> Option<IpAddr> {
    client
        .parse::<IpAddr>()
        .ok()
        .or_else(|| client.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_to_the_network_and_never_shows_unparseable_text() {
        let a = Anonymizer::new(&ClientAddress::Truncate);
        let table = [
            ("203.0.113.77", "203.0.113.0/24"),
            ("203.0.113.77:4433", "203.0.113.0/24"),
            ("::ffff:198.51.100.9", "198.51.100.0/24"),
            ("2001:db8:abcd:12:1::7", "2001:db8:abcd::/48"),
            ("[2001:db8:abcd:12::7]:443", "2001:db8:abcd::/48"),
            ("secret-token-abc", "unparseable"),
        ];
        for (input, want) in table {
            assert_eq!(a.show(input), want, "{input}");
        }
    }

    #[test]
    fn hashes_with_the_key_so_values_link_only_under_one_key() {
        let one = Anonymizer::new(&ClientAddress::Hash(b"0123456789abcdef".to_vec()));
        let other = Anonymizer::new(&ClientAddress::Hash(b"fedcba9876543210".to_vec()));
        let h = one.show("203.0.113.77");
        assert!(h.starts_with("h:") && h.len() == 18, "{h}");
        assert!(!h.contains("203.0.113"));
        // The same client, spelt differently, is one value; another client is not.
        assert_eq!(one.show("203.0.113.77:5555"), h);
        assert_eq!(one.show("::ffff:203.0.113.77"), h);
        assert_ne!(one.show("203.0.113.78"), h);
        assert_ne!(other.show("203.0.113.77"), h);
        assert_eq!(one.show("not an address"), "unparseable");
    }

    #[test]
    fn full_keeps_the_address() {
        let a = Anonymizer::new(&ClientAddress::Full);
        assert_eq!(a.show("203.0.113.77"), "203.0.113.77");
        assert_eq!(a.show(&"x".repeat(500)).len(), 64);
    }
}

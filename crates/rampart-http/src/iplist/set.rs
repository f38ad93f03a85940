//! A set of IP networks with logarithmic lookup.

use std::net::IpAddr;

use super::Cidr;

/// A set of IPv4 and IPv6 networks, kept as sorted, merged, disjoint ranges so a lookup
/// is one binary search. IPv4-mapped IPv6 addresses are looked up as IPv4.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl IpSet {
    /// The set of the given networks.
    pub fn new(cidrs: impl IntoIterator<Item = Cidr>) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for c in cidrs {
            match c.addr() {
                // A v4 network's bounds fit 32 bits by construction.
                IpAddr::V4(_) => v4.push((
                    u32::try_from(c.first()).unwrap_or(u32::MAX),
                    u32::try_from(c.last()).unwrap_or(u32::MAX),
                )),
                IpAddr::V6(_) => v6.push((c.first(), c.last())),
            }
        }
        Self {
            v4: merge(v4),
            v6: merge(v6),
        }
    }

    /// Whether `ip` lies in one of the networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(v4) => lookup(&self.v4, v4.to_bits()),
            IpAddr::V6(v6) => lookup(&self.v6, v6.to_bits()),
        }
    }

    /// Whether the set holds no network.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Number of disjoint address ranges after merging.
    pub fn ranges(&self) -> usize {
        self.v4.len() + self.v6.len()
    }
}

impl FromIterator<Cidr> for IpSet {
    fn from_iter<I: IntoIterator<Item = Cidr>>(iter: I) -> Self {
        Self::new(iter)
    }
}

fn merge<T: Copy + Ord + num::Step>(mut ranges: Vec<(T, T)>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match out.last_mut() {
            Some(last) if start <= last.1.next_or_max() => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out.shrink_to_fit();
    out
}

fn lookup<T: Copy + Ord>(ranges: &[(T, T)], x: T) -> bool {
    let i = ranges.partition_point(|r| r.0 <= x);
    i > 0 && ranges[i - 1].1 >= x
}

mod num {
    /// The successor of a range end, saturating: adjacent ranges merge too.
    pub(super) trait Step {
        fn next_or_max(self) -> Self;
    }
    impl Step for u32 {
        fn next_or_max(self) -> Self {
            self.saturating_add(1)
        }
    }
    impl Step for u128 {
        fn next_or_max(self) -> Self {
            self.saturating_add(1)
        }
    }
}

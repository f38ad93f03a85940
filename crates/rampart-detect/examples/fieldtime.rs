//! Times each field of a realistic clean request head (development aid for the fast path).
//!
//!     cargo run --release -p rampart-detect --example fieldtime
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use std::time::Instant;

use rampart_detect::{Budget, Engine, Field, FieldKind, Location, Policy};

const FIELDS: &[(FieldKind, &str)] = &[
    (FieldKind::Path, "/api/v2/catalog/items/8812/reviews"),
    (
        FieldKind::QueryValue,
        "wireless+headphones+with+noise+cancelling",
    ),
    (FieldKind::QueryValue, "-created_at"),
    (FieldKind::QueryValue, "150.50"),
    (
        FieldKind::HeaderValue,
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    ),
    (
        FieldKind::HeaderValue,
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    ),
    (FieldKind::HeaderValue, "en-US,en;q=0.9,de;q=0.8"),
    (FieldKind::HeaderValue, "gzip, deflate, br"),
    (
        FieldKind::HeaderValue,
        "https://shop.example.com/catalog/items/8812?tab=reviews",
    ),
    (FieldKind::CookieValue, "9f86d081884c7d659a2feaa0c55ad015"),
    (FieldKind::CookieValue, "analytics%3Dno%26ads%3Dno"),
    (
        FieldKind::HeaderValue,
        "\"Chromium\";v=\"122\", \"Not(A:Brand\";v=\"24\"",
    ),
    (FieldKind::HeaderValue, "W/\"5e-1a2b3c\""),
    (
        FieldKind::BodyValue,
        "Item 7: a sturdy, water-resistant backpack with 2 pockets, rated 4.7 by 1,207 buyers. Ships in 3-5 days.",
    ),
];

fn main() {
    let engine = Engine::builtin();
    let policy = Policy::default();
    let only = std::env::args().nth(1);
    let n: u32 = std::env::args()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(if only.is_some() { 2_000_000 } else { 20_000 });
    for (kind, v) in FIELDS {
        if only.as_deref().is_some_and(|o| !v.contains(o)) {
            continue;
        }
        let t = Instant::now();
        let mut hits = 0;
        for _ in 0..n {
            let mut budget = Budget::default();
            let mut scan = engine.scan(&policy, &mut budget);
            scan.field(&Field::new(Location::new("x", "y"), *kind, v.as_bytes()));
            hits += scan.finish().hits.len();
        }
        let ns = t.elapsed().as_nanos() as f64 / f64::from(n);
        println!(
            "{ns:>8.0} ns {:>6.1} MB/s hits={hits:<6} {kind} {v}",
            v.len() as f64 * 1e3 / ns
        );
    }
}

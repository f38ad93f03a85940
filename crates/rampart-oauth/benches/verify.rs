//! Token verifications per second per algorithm, keys cached (the steady state at the
//! edge): parse + signature + claims. Reported, not asserted.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;
use std::time::SystemTime;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_core::config::Problems;
use rampart_oauth::{OAuth, OAuthConfig, RawOAuth};
use rampart_test_support::idp::{ALGS, AUDIENCE, Idp, mint_hmac};

fn verify(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let idp = rt.block_on(Idp::start());
    let secret_file = idp.dir().join("hmac.secret");
    let secret = [7u8; 32];
    std::fs::write(&secret_file, secret).unwrap();
    let text = format!(
        r#"
[[issuers]]
name = "idp"
issuer = "{issuer}"
audience = "{AUDIENCE}"
jwks_uri = "{jwks}"
ca = "{ca}"

[[issuers]]
name = "hmac"
issuer = "https://hmac.test"
audience = "{AUDIENCE}"
hmac_secret_file = "{secret}"
"#,
        issuer = idp.issuer(),
        jwks = idp.jwks_uri(),
        ca = idp.ca_path().display(),
        secret = secret_file.display(),
    );
    let raw: RawOAuth = toml::from_str(&text).unwrap();
    let mut p = Problems::default();
    let config = OAuthConfig::validate(&mut p, &raw);
    let config = p.finish(Path::new("bench.toml"), config).unwrap();
    let oauth = OAuth::new(&config);
    assert_eq!(rt.block_on(oauth.refresh_keys()), 0);

    let mut group = c.benchmark_group("verify_bearer");
    group.throughput(Throughput::Elements(1));
    let mut tokens: Vec<(String, String)> = ALGS
        .iter()
        .map(|alg| (alg.to_string(), idp.mint(alg, &idp.claims(AUDIENCE))))
        .collect();
    let mut hs = idp.claims(AUDIENCE);
    hs["iss"] = "https://hmac.test".into();
    tokens.push(("HS256".into(), mint_hmac("HS256", &secret, None, &hs)));
    for (alg, token) in &tokens {
        rt.block_on(oauth.verify_bearer(token, SystemTime::now()))
            .unwrap();
        group.bench_function(alg.as_str(), |b| {
            b.iter(|| {
                rt.block_on(oauth.verify_bearer(black_box(token), SystemTime::now()))
                    .unwrap();
            });
        });
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);

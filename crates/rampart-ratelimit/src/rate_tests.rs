use super::*;

const SEC: u64 = 1_000_000_000;

fn limit(rate: &str, burst: u32) -> Limit {
    Limit::new(rate.parse().unwrap(), burst).unwrap()
}

#[test]
fn parses_rates_and_refuses_look_alikes() {
    let good = [
        ("100/s", 100, 1),
        ("6000/min", 6000, 60),
        (" 10 / h ", 10, 3600),
        ("1000/d", 1000, 86_400),
        ("1000000/s", 1_000_000, 1),
    ];
    for (input, count, secs) in good {
        let rate: Rate = input.parse().unwrap();
        assert_eq!(
            (rate.count(), rate.period().as_secs()),
            (count, secs),
            "{input}"
        );
    }
    let bad = [
        ("100", RateError::Malformed),
        ("100/w", RateError::Malformed),
        ("-1/s", RateError::Malformed),
        ("1.5/s", RateError::Malformed),
        ("0/s", RateError::ZeroCount),
        ("1000001/s", RateError::TooFast),
        ("/s", RateError::Malformed),
    ];
    for (input, want) in bad {
        assert_eq!(input.parse::<Rate>(), Err(want), "{input}");
    }
    assert_eq!(
        Limit::new(Rate::per_second(1).unwrap(), 0),
        Err(RateError::ZeroBurst)
    );
}

#[test]
fn admits_the_burst_then_the_steady_rate() {
    let limit = limit("10/s", 5);
    let (mut tat, now) = (0, 100 * SEC);
    let mut remaining = Vec::new();
    for _ in 0..5 {
        match gcra(&limit, tat, now) {
            Gcra::Allow {
                new_tat,
                remaining: r,
                ..
            } => {
                tat = new_tat;
                remaining.push(r);
            }
            Gcra::Deny { .. } => panic!("burst refused"),
        }
    }
    assert_eq!(remaining, [4, 3, 2, 1, 0]);
    // The sixth at the same instant waits exactly one interval.
    assert_eq!(
        gcra(&limit, tat, now),
        Gcra::Deny {
            retry_after: SEC / 10,
            reset_after: SEC / 2
        }
    );
    // Steady state: one request per 100 ms, never two.
    let mut admitted = 0;
    for step in 1..=100 {
        let now = now + step * SEC / 100; // every 10 ms for one second
        if let Gcra::Allow { new_tat, .. } = gcra(&limit, tat, now) {
            tat = new_tat;
            admitted += 1;
        }
    }
    assert_eq!(admitted, 10);
}

#[test]
fn a_refused_request_changes_nothing() {
    let limit = limit("1/s", 1);
    let now = 50 * SEC;
    let Gcra::Allow { new_tat, .. } = gcra(&limit, 0, now) else {
        panic!()
    };
    for i in 1..1000 {
        assert!(matches!(gcra(&limit, new_tat, now + i), Gcra::Deny { .. }));
    }
    // One second after the admitted request, the next one passes: the refusals did
    // not push the TAT.
    assert!(matches!(
        gcra(&limit, new_tat, now + SEC),
        Gcra::Allow { .. }
    ));
}

#[test]
fn a_tat_in_the_past_is_a_full_bucket() {
    let limit = limit("10/s", 3);
    let now = 100 * SEC;
    for stale in [0, 1, now - 1, now] {
        assert_eq!(
            gcra(&limit, stale, now),
            Gcra::Allow {
                new_tat: now + SEC / 10,
                remaining: 2,
                reset_after: SEC / 10
            },
            "{stale}"
        );
    }
}

#[test]
fn scaling_shrinks_rate_and_burst_but_not_below_one() {
    let full = limit("100/s", 50);
    let half = full.scaled(0.5);
    assert_eq!(half.interval(), Duration::from_millis(20));
    assert_eq!(half.burst(), 25);
    assert_eq!(half.rate(), full.rate());
    assert_eq!(limit("10/s", 1).scaled(0.01).burst(), 1);
    for ignored in [1.0, 0.0, -1.0, f64::NAN, 2.0] {
        assert_eq!(full.scaled(ignored), full, "{ignored}");
    }
}

#[test]
fn displays_rates_as_written() {
    assert_eq!(limit("6000/min", 1).rate().to_string(), "6000/min");
    assert_eq!(limit("5/s", 1).rate().to_string(), "5/s");
}

//! Choosing an endpoint: the less busy of two healthy candidates ("power of two
//! choices"). No I/O; the caller passes each endpoint's load.
//!
//! The first candidate goes round robin, so idle equal replicas share traffic evenly;
//! the second is spread by a hash of the turn, so a slow replica (more requests still
//! waiting for their head) is skipped in favour of a faster one.

/// Picks an index of `loads`: `None` is an unhealthy endpoint, `Some(n)` a healthy one
/// with `n` outstanding requests. `turn` is a per-request counter. `None` when no
/// endpoint is healthy.
pub(super) fn pick(loads: &[Option<usize>], turn: usize) -> Option<usize> {
    let healthy = loads.iter().filter(|l| l.is_some()).count();
    if healthy == 0 {
        return None;
    }
    let nth = |k: usize| {
        loads
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_some())
            .nth(k % healthy)
            .map(|(i, _)| i)
    };
    let first = nth(turn)?;
    if healthy == 1 {
        return Some(first);
    }
    let offset = 1 + (mix(turn as u64) % (healthy as u64 - 1)) as usize;
    let second = nth(turn % healthy + offset)?;
    // Ties go to the round-robin candidate.
    Some(if loads[second] < loads[first] {
        second
    } else {
        first
    })
}

/// splitmix64: spreads consecutive turns over the other candidates.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Name, loads, and the indices allowed to be picked (`None`: none may be).
    type Case<'a> = (&'a str, &'a [Option<usize>], Option<&'a [usize]>);

    #[test]
    fn never_picks_an_unhealthy_endpoint_and_fails_closed_with_none_healthy() {
        let cases: &[Case<'_>] = &[
            ("empty set", &[], None),
            ("all down", &[None, None, None], None),
            ("one up among down ones", &[None, Some(7), None], Some(&[1])),
            (
                "down ones skipped",
                &[Some(0), None, Some(0)],
                Some(&[0, 2]),
            ),
        ];
        for (name, loads, allowed) in cases {
            for turn in 0..100 {
                let got = pick(loads, turn);
                match allowed {
                    None => assert_eq!(got, None, "{name}"),
                    Some(allowed) => {
                        let got = got.unwrap_or(usize::MAX);
                        assert!(allowed.contains(&got), "{name}: picked {got}");
                    }
                }
            }
        }
    }

    #[test]
    fn idle_equal_endpoints_share_requests_evenly() {
        for n in 2..6 {
            let loads = vec![Some(0); n];
            let mut counts = vec![0usize; n];
            for turn in 0..(n * 100) {
                if let Some(i) = pick(&loads, turn) {
                    counts[i] += 1;
                }
            }
            assert!(
                counts.iter().all(|&c| c == 100),
                "{n} endpoints: {counts:?}"
            );
        }
    }

    #[test]
    fn of_two_endpoints_the_less_busy_one_always_wins() {
        for turn in 0..50 {
            assert_eq!(pick(&[Some(5), Some(1)], turn), Some(1));
            assert_eq!(pick(&[Some(0), Some(3)], turn), Some(0));
        }
    }

    /// A replica four times slower than the others: round robin keeps feeding it its
    /// share, so its queue grows; two choices send it less. Discrete time, no clock.
    #[test]
    fn a_slow_replica_gets_a_shorter_queue_than_under_round_robin() {
        fn simulate(use_two_choices: bool) -> (usize, usize) {
            // Per tick: 3 arrivals; replica 0 finishes 1 request every 4 ticks, 1 and 2
            // finish 2 per tick. Capacity 0.25 + 2 + 2 > 3: stable only if balanced.
            let mut queues = [0usize; 3];
            let mut worst = 0;
            let mut sent_to_slow = 0;
            let mut turn = 0;
            for tick in 0..4000 {
                for _ in 0..3 {
                    let i = if use_two_choices {
                        let loads: Vec<Option<usize>> = queues.iter().map(|&q| Some(q)).collect();
                        pick(&loads, turn).unwrap_or(0)
                    } else {
                        turn % 3
                    };
                    turn += 1;
                    queues[i] += 1;
                    if i == 0 {
                        sent_to_slow += 1;
                    }
                }
                if tick % 4 == 0 {
                    queues[0] = queues[0].saturating_sub(1);
                }
                queues[1] = queues[1].saturating_sub(2);
                queues[2] = queues[2].saturating_sub(2);
                worst = worst.max(queues[0]);
            }
            (worst, sent_to_slow)
        }
        let (rr_worst, rr_slow) = simulate(false);
        let (p2c_worst, p2c_slow) = simulate(true);
        assert!(
            rr_worst > 1000,
            "round robin should overload the slow replica: {rr_worst}"
        );
        assert!(
            p2c_worst < 10,
            "two choices kept the slow queue at {p2c_worst}"
        );
        assert!(
            p2c_slow * 3 < rr_slow,
            "slow replica got {p2c_slow} vs {rr_slow}"
        );
    }
}

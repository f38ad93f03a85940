use super::*;

const NS: u64 = 1_000_000_000;

/// Unix seconds of a UTC date (test helper, via `date -u -d ... +%s` values).
const JAN_31_2024_2359: u64 = 1_706_745_540; // 2024-01-31T23:59:00Z
const FEB_01_2024: u64 = 1_706_745_600;
const MAR_01_2024: u64 = 1_709_251_200; // leap year: February has 29 days
const MAR_01_2023: u64 = 1_677_628_800;
const FEB_01_2023: u64 = 1_675_209_600;
const JAN_01_2025: u64 = 1_735_689_600;
const DEC_01_2024: u64 = 1_733_011_200;
const FEB_01_2100: u64 = 4_105_123_200; // 2100 is not a leap year
const MAR_01_2100: u64 = 4_107_542_400;

#[test]
fn computes_calendar_windows_in_utc() {
    let table = [
        (
            QuotaPeriod::Month,
            JAN_31_2024_2359,
            (1_704_067_200, FEB_01_2024),
        ),
        (QuotaPeriod::Month, FEB_01_2024, (FEB_01_2024, MAR_01_2024)),
        (
            QuotaPeriod::Month,
            MAR_01_2024 - 1,
            (FEB_01_2024, MAR_01_2024),
        ),
        (
            QuotaPeriod::Month,
            FEB_01_2023 + 5,
            (FEB_01_2023, MAR_01_2023),
        ),
        (
            QuotaPeriod::Month,
            JAN_01_2025 - 1,
            (DEC_01_2024, JAN_01_2025),
        ),
        (
            QuotaPeriod::Month,
            FEB_01_2100 + 86_400 * 27,
            (FEB_01_2100, MAR_01_2100),
        ),
        (
            QuotaPeriod::Day,
            JAN_31_2024_2359,
            (FEB_01_2024 - 86_400, FEB_01_2024),
        ),
        (
            QuotaPeriod::Day,
            FEB_01_2024,
            (FEB_01_2024, FEB_01_2024 + 86_400),
        ),
        (QuotaPeriod::Month, 0, (0, 31 * 86_400)),
    ];
    for (period, at, want) in table {
        assert_eq!(window(period, at), want, "{period:?} at {at}");
    }
}

fn spend(quota: &Quota, state: &mut u64, now: u64) -> bool {
    match quota.check(*state, now) {
        QuotaCheck::Allow { new_state, .. } => {
            *state = new_state;
            true
        }
        QuotaCheck::Deny { .. } => false,
    }
}

#[test]
fn a_daily_quota_rolls_over_at_utc_midnight() {
    let quota = Quota {
        limit: 3,
        period: QuotaPeriod::Day,
    };
    let mut state = 0;
    let late = JAN_31_2024_2359 * NS;
    assert!((0..3).all(|_| spend(&quota, &mut state, late)));
    assert_eq!(
        quota.check(state, late),
        QuotaCheck::Deny {
            reset_after: 60 * NS
        }
    );
    // Still refused one nanosecond before midnight, and refusals do not count.
    assert!(!spend(&quota, &mut state, FEB_01_2024 * NS - 1));
    assert_eq!(
        quota.check(state, FEB_01_2024 * NS),
        QuotaCheck::Allow {
            new_state: (FEB_01_2024 + 86_400) << QUOTA_COUNT_BITS | 1,
            remaining: 2,
            reset_after: 86_400 * NS
        }
    );
}

#[test]
fn a_monthly_quota_rolls_over_on_the_first() {
    let quota = Quota {
        limit: 2,
        period: QuotaPeriod::Month,
    };
    let mut state = 0;
    assert!(spend(&quota, &mut state, FEB_01_2024 * NS));
    assert!(spend(&quota, &mut state, (MAR_01_2024 - 86_400) * NS));
    assert!(!spend(&quota, &mut state, (MAR_01_2024 * NS) - 1));
    assert!(spend(&quota, &mut state, MAR_01_2024 * NS));
    assert_eq!(
        quota.window_len(FEB_01_2024 * NS),
        Duration::from_secs(29 * 86_400)
    );
}

#[test]
fn refunds_only_within_the_same_window() {
    let quota = Quota {
        limit: 5,
        period: QuotaPeriod::Day,
    };
    let now = FEB_01_2024 * NS;
    let mut state = 0;
    spend(&quota, &mut state, now);
    spend(&quota, &mut state, now);
    let refunded = quota.refund(state, now);
    assert_eq!(refunded & u64::from(MAX_QUOTA), 1);
    assert_eq!(quota.refund(state, now + 86_400 * NS), state);
    assert_eq!(quota.refund(0, now), 0);
}

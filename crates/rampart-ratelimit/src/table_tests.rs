use super::*;

const SEC: u64 = 1_000_000_000;

#[test]
fn splits_capacity_over_power_of_two_shards() {
    let table = [
        (1, (1, 1)),
        (255, (1, 255)),
        (512, (2, 256)),
        (3 * 256, (2, 384)),
        (100_000, (16, 6250)),
    ];
    for (max_keys, want) in table {
        assert_eq!(shard_layout(max_keys), want, "{max_keys}");
    }
}

#[test]
fn holds_at_most_max_keys_and_evicts_only_expired_entries() {
    let table = Table::new(8, StateKind::Tat);
    let now = 100 * SEC;
    // Eight live entries (TAT in the future) fill the table.
    for key in 0..8u64 {
        table.slot(key).set(now + SEC, now);
    }
    assert_eq!(table.len(), 8);
    // A ninth key cannot evict a live one: it goes to the sketch.
    table.slot(100).set(now + 2 * SEC, now);
    assert_eq!(table.len(), 8);
    for key in 0..8u64 {
        assert_eq!(table.slot(key).get(), now + SEC, "live entry {key} kept");
    }
    assert!(
        table.slot(100).get() >= now + 2 * SEC,
        "overflow key is remembered"
    );
    // Once the entries' TATs have passed, they are swept and the new key gets a slot.
    let later = now + 3 * SEC;
    table.slot(200).set(later + SEC, later);
    assert_eq!(table.len(), 1);
    assert_eq!(table.slot(200).get(), later + SEC);
}

#[test]
fn an_overflow_estimate_is_never_below_the_truth() {
    let table = Table::new(1, StateKind::Tat);
    let now = 10 * SEC;
    table.slot(0).set(now + 100 * SEC, now); // occupies the only slot
    let truth: Vec<(u64, u64)> = (1..5000u64)
        .map(|k| (k.wrapping_mul(0x9E37_79B9_7F4A_7C15), now + k))
        .collect();
    for (key, state) in &truth {
        table.slot(*key).set(*state, now);
    }
    for (key, state) in &truth {
        assert!(table.slot(*key).get() >= *state, "key {key:x}");
    }
}

#[test]
fn a_full_table_of_live_entries_does_not_sweep_on_every_insert() {
    let table = Table::new(4, StateKind::Tat);
    let now = 10 * SEC;
    for key in 0..4u64 {
        table.slot(key).set(now + 60 * SEC, now);
    }
    table.slot(99).set(now + SEC, now); // triggers one sweep, finds nothing
    let next = table.shards[0].lock().unwrap().next_sweep;
    assert!(
        next >= now + 60 * SEC,
        "next sweep waits for the earliest expiry"
    );
}

#[test]
fn quota_states_expire_at_their_window_end() {
    let table = Table::new(2, StateKind::Quota);
    let end = 86_400u64;
    let state = end << QUOTA_COUNT_BITS | 7;
    table.slot(1).set(state, 0);
    table.slot(2).set(state, 0);
    // Still inside the window: both kept, the newcomer overflows.
    table.slot(3).set(state, (end - 1) * SEC);
    assert_eq!(table.len(), 2);
    // The window is over: both are equivalent to nothing and are evicted.
    table.slot(4).set(
        (2 * end) << QUOTA_COUNT_BITS | 1,
        end * SEC + SWEEP_INTERVAL,
    );
    assert_eq!(table.len(), 1);
}

#[test]
fn updates_reach_entries_but_not_the_sketch() {
    let table = Table::new(1, StateKind::Tat);
    table.slot(1).set(50, 0);
    table.slot(2).set(80, 0); // sketch
    table.slot(1).update_entry(|s| s - 10);
    table.slot(2).update_entry(|s| s - 10);
    assert_eq!(table.slot(1).get(), 40);
    assert_eq!(table.slot(2).get(), 80);
}

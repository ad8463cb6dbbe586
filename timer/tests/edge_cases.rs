//! Edge cases of the public `Wheel` API.

use heist_timer::{Key, Wheel};

const LEVEL_SPANS: [u64; 6] = [64, 64 * 64, 64 * 64 * 64, 1 << 24, 1 << 30, 1 << 36];

/// Advances to `now` and returns the fired values, sorted.
fn advance_collect<T: Ord>(wheel: &mut Wheel<T>, now: u64) -> Vec<T> {
    let mut fired = Vec::new();
    wheel.advance(now, |_, value| fired.push(value));
    fired.sort();
    fired
}

/// Steps from deadline to deadline via `next_deadline` until `limit`, asserting that each
/// step fires only entries due exactly then (valid while nothing was cancelled).
fn walk_exact(wheel: &mut Wheel<u64>, limit: u64) -> Vec<(u64, u64)> {
    let mut fired_at = Vec::new();
    while let Some(next) = wheel.next_deadline() {
        if next > limit {
            break;
        }
        assert!(
            next >= wheel.now(),
            "next deadline {next} is behind now {}",
            wheel.now()
        );
        let mut any = false;
        wheel.advance(next, |_, deadline| {
            assert_eq!(deadline, next, "fired {deadline} at {next}");
            fired_at.push((next, deadline));
            any = true;
        });
        assert!(any, "next_deadline {next} was not exact: nothing fired");
    }
    fired_at
}

#[test]
fn new_wheel_is_empty_at_tick_zero() {
    let wheel = Wheel::<u8>::new();
    assert_eq!(wheel.now(), 0);
    assert!(wheel.is_empty());
    assert_eq!(wheel.len(), 0);
    assert_eq!(wheel.next_deadline(), None);
    let wheel = Wheel::<u8>::with_capacity(100);
    assert!(wheel.is_empty());
    assert_eq!(Wheel::<u8>::default().now(), 0);
}

#[test]
fn deadline_in_the_past_fires_at_the_next_advance() {
    let mut wheel = Wheel::new();
    wheel.advance(100, |_, _: &str| panic!("nothing pending"));
    let key = wheel.insert(50, "past");
    assert_eq!(wheel.deadline(key), Some(50));
    assert_eq!(wheel.next_deadline(), Some(50));
    assert_eq!(advance_collect(&mut wheel, 100), ["past"]);
    assert_eq!(wheel.now(), 100);
    assert!(wheel.is_empty());

    let key = wheel.insert(0, "ancient");
    assert_eq!(wheel.next_deadline(), Some(0));
    assert_eq!(advance_collect(&mut wheel, 5_000), ["ancient"]);
    assert_eq!(wheel.remove(key), None);
}

#[test]
fn deadline_equal_to_now_fires_without_time_moving() {
    let mut wheel = Wheel::new();
    wheel.advance(1_000, |_, _: u8| {});
    wheel.insert(1_000, 1);
    assert_eq!(wheel.next_deadline(), Some(1_000));
    assert_eq!(advance_collect(&mut wheel, 1_000), [1]);
    assert_eq!(wheel.now(), 1_000);
    // The same tick again: entries inserted after the previous advance still fire.
    wheel.insert(1_000, 2);
    assert_eq!(advance_collect(&mut wheel, 1_000), [2]);
}

#[test]
fn advancing_backwards_keeps_time_and_fires_overdue_entries() {
    let mut wheel = Wheel::new();
    wheel.advance(500, |_, _: u8| {});
    wheel.insert(400, 1);
    wheel.insert(501, 2);
    assert_eq!(advance_collect(&mut wheel, 10), [1]);
    assert_eq!(wheel.now(), 500);
    assert_eq!(advance_collect(&mut wheel, 501), [2]);
}

#[test]
fn future_deadline_fires_exactly_on_its_tick() {
    for deadline in [1, 63, 64, 65, 4_095, 4_096, 123_456, 9_999_999] {
        let mut wheel = Wheel::new();
        wheel.insert(deadline, deadline);
        assert!(
            advance_collect(&mut wheel, deadline - 1).is_empty(),
            "{deadline} fired early"
        );
        assert_eq!(wheel.next_deadline(), Some(deadline));
        assert_eq!(advance_collect(&mut wheel, deadline), [deadline]);
    }
}

#[test]
fn u64_max_deadline_never_fires_before_the_end_of_time() {
    let mut wheel = Wheel::new();
    let key = wheel.insert(u64::MAX, "forever");
    assert_eq!(wheel.next_deadline(), Some(u64::MAX));
    for now in [
        1,
        1 << 20,
        1 << 36,
        (1 << 36) + 1,
        1 << 50,
        u64::MAX - (1 << 36),
        u64::MAX - 64,
        u64::MAX - 1,
    ] {
        assert!(advance_collect(&mut wheel, now).is_empty(), "fired at {now}");
        assert_eq!(wheel.next_deadline(), Some(u64::MAX));
        assert_eq!(wheel.deadline(key), Some(u64::MAX));
    }
    assert_eq!(advance_collect(&mut wheel, u64::MAX), ["forever"]);
    assert_eq!(wheel.now(), u64::MAX);
    // At the end of time everything is overdue or due now.
    wheel.insert(u64::MAX, "now");
    wheel.insert(7, "past");
    assert_eq!(advance_collect(&mut wheel, u64::MAX), ["now", "past"]);
}

#[test]
fn u64_max_deadline_survives_one_huge_jump() {
    let mut wheel = Wheel::new();
    wheel.insert(u64::MAX, 1);
    wheel.insert(u64::MAX - 1, 2);
    assert!(advance_collect(&mut wheel, u64::MAX - 2).is_empty());
    assert_eq!(wheel.next_deadline(), Some(u64::MAX - 1));
    assert_eq!(advance_collect(&mut wheel, u64::MAX - 1), [2]);
    assert_eq!(advance_collect(&mut wheel, u64::MAX), [1]);
}

#[test]
fn cancel_after_fire_returns_none() {
    let mut wheel = Wheel::new();
    let key = wheel.insert(10, "x");
    let mut fired_keys = Vec::new();
    wheel.advance(10, |key, _| fired_keys.push(key));
    assert_eq!(fired_keys, [key]);
    assert_eq!(wheel.remove(key), None);
    assert!(!wheel.reset(key, 20));
    assert_eq!(wheel.deadline(key), None);
    assert!(wheel.is_empty());
}

#[test]
fn remove_twice_returns_none_the_second_time() {
    let mut wheel = Wheel::new();
    let key = wheel.insert(10, "x");
    assert_eq!(wheel.remove(key), Some("x"));
    assert_eq!(wheel.remove(key), None);
    assert!(advance_collect(&mut wheel, 100).is_empty());
}

#[test]
fn stale_key_does_not_touch_an_entry_reusing_its_storage() {
    let mut wheel = Wheel::new();
    let old = wheel.insert(10, "old");
    assert_eq!(wheel.remove(old), Some("old"));
    let new = wheel.insert(20, "new");
    assert_ne!(old, new);
    assert_eq!(wheel.remove(old), None);
    assert!(!wheel.reset(old, 5));
    assert_eq!(wheel.deadline(old), None);
    assert_eq!(wheel.deadline(new), Some(20));
    assert_eq!(wheel.len(), 1);

    // The same after the old entry fired instead of being removed.
    let mut fired = Vec::new();
    wheel.advance(20, |key, value| fired.push((key, value)));
    assert_eq!(fired, [(new, "new")]);
    let newer = wheel.insert(30, "newer");
    assert_eq!(wheel.remove(new), None);
    assert_eq!(wheel.deadline(newer), Some(30));
    assert_eq!(wheel.remove(newer), Some("newer"));
}

#[test]
fn reset_later_moves_the_entry_out_of_its_old_slot() {
    let mut wheel = Wheel::new();
    let key = wheel.insert(100, "x");
    assert!(wheel.reset(key, 5_000));
    assert_eq!(wheel.deadline(key), Some(5_000));
    assert_eq!(wheel.next_deadline(), Some(5_000));
    assert!(advance_collect(&mut wheel, 4_999).is_empty());
    assert_eq!(advance_collect(&mut wheel, 5_000), ["x"]);
}

#[test]
fn reset_earlier_fires_at_the_new_deadline() {
    let mut wheel = Wheel::new();
    let key = wheel.insert(1 << 30, "x");
    wheel.advance(10, |_, _| panic!("too early"));
    assert!(wheel.reset(key, 70));
    assert_eq!(wheel.len(), 1);
    assert!(advance_collect(&mut wheel, 69).is_empty());
    assert_eq!(advance_collect(&mut wheel, 70), ["x"]);
    assert!(advance_collect(&mut wheel, 1 << 31).is_empty());
}

#[test]
fn reset_into_the_past_fires_at_the_next_advance() {
    let mut wheel = Wheel::new();
    wheel.advance(1_000, |_, _: &str| {});
    let key = wheel.insert(1 << 40, "x");
    assert!(wheel.reset(key, 3));
    assert_eq!(wheel.next_deadline(), Some(3));
    assert_eq!(advance_collect(&mut wheel, 1_000), ["x"]);
}

#[test]
fn reset_of_a_partly_cascaded_entry() {
    let mut wheel = Wheel::new();
    let key = wheel.insert(1_000_000, "x");
    wheel.insert(999_990, "y");
    // Cascades y's and x's high-level slot.
    assert_eq!(advance_collect(&mut wheel, 999_990), ["y"]);
    assert!(wheel.reset(key, 999_995));
    assert_eq!(wheel.next_deadline(), Some(999_995));
    assert_eq!(advance_collect(&mut wheel, 999_995), ["x"]);
}

#[test]
fn next_deadline_is_exact_on_every_level() {
    for now in [0, 1, 63, 1_000, (1 << 36) - 1, 5 << 36, 123_456_789_012] {
        for span in LEVEL_SPANS {
            for offset in [1, span / 2, span - 1, span, span + 1, 3 * span + 7] {
                let deadline = now + offset;
                let mut wheel = Wheel::new();
                wheel.advance(now, |_, _: ()| {});
                wheel.insert(deadline, ());
                wheel.insert(deadline + 1, ());
                wheel.insert(deadline + span, ());
                assert_eq!(
                    wheel.next_deadline(),
                    Some(deadline),
                    "now {now} deadline {deadline}"
                );
            }
        }
    }
}

#[test]
fn next_deadline_stays_exact_while_cascading() {
    let mut wheel = Wheel::new();
    let mut deadlines = Vec::new();
    for span in LEVEL_SPANS {
        for multiple in [1, 2, 63] {
            for delta in [0, 1, 17] {
                deadlines.push(span * multiple + delta);
            }
        }
    }
    deadlines.extend([(1 << 36) * 3 + 5, 1 << 45, u64::MAX]);
    for &deadline in &deadlines {
        wheel.insert(deadline, deadline);
    }
    let fired = walk_exact(&mut wheel, u64::MAX);
    deadlines.sort_unstable();
    deadlines.dedup();
    assert_eq!(
        fired.iter().map(|&(_, deadline)| deadline).collect::<Vec<_>>(),
        deadlines
    );
    assert!(fired.iter().all(|&(at, deadline)| at == deadline));
}

#[test]
fn next_deadline_after_cancelling_the_earliest_is_a_lower_bound() {
    let mut wheel = Wheel::new();
    let first = wheel.insert(10_000, 1);
    wheel.insert(10_050, 2);
    assert_eq!(wheel.next_deadline(), Some(10_000));
    wheel.remove(first);
    let hint = wheel.next_deadline().unwrap();
    assert!(hint <= 10_050 && hint > 0, "{hint}");
    // Waking up at the hint re-sorts the slot and makes the answer exact again.
    assert!(advance_collect(&mut wheel, hint).is_empty());
    assert_eq!(wheel.next_deadline(), Some(10_050));

    // Cancelling the only entry of a slot leaves no trace.
    let mut wheel = Wheel::new();
    let only = wheel.insert(10_000, 1);
    wheel.insert(70_000, 2);
    wheel.remove(only);
    assert_eq!(wheel.next_deadline(), Some(70_000));
}

#[test]
fn entries_at_every_level_boundary_fire_on_time() {
    for now in [0, 1, 62, 63, 64, 4_095, 4_097, (1 << 36) - 2, (1 << 36) + 3] {
        let mut wheel = Wheel::new();
        wheel.advance(now, |_, _: u64| {});
        let mut expected = Vec::new();
        for shift in (6..=42).step_by(6) {
            let boundary = 1u64 << shift;
            // Both absolute boundaries and boundaries relative to now.
            for base in [boundary, now + boundary] {
                for deadline in [base - 1, base, base + 1] {
                    wheel.insert(deadline, deadline);
                    expected.push(deadline);
                }
            }
        }
        expected.sort_unstable();
        let due_now: Vec<u64> = expected.iter().copied().filter(|&d| d <= now).collect();
        assert_eq!(advance_collect(&mut wheel, now), due_now);
        let fired = walk_exact(&mut wheel, u64::MAX);
        let later: Vec<u64> = expected.iter().copied().filter(|&d| d > now).collect();
        assert_eq!(
            fired.iter().map(|&(_, deadline)| deadline).collect::<Vec<_>>(),
            later
        );
    }
}

#[test]
fn boundaries_with_one_step_per_tick_near_them() {
    // Tick-by-tick around each boundary, to catch an off-by-one in the cascade.
    for shift in (6..=36).step_by(6) {
        let boundary = 1u64 << shift;
        let mut wheel = Wheel::new();
        for deadline in [boundary - 1, boundary, boundary + 1] {
            wheel.insert(deadline, deadline);
        }
        assert!(advance_collect(&mut wheel, boundary - 3).is_empty());
        for tick in boundary - 2..=boundary + 2 {
            let expected: Vec<u64> = [boundary - 1, boundary, boundary + 1]
                .into_iter()
                .filter(|&d| d == tick)
                .collect();
            assert_eq!(advance_collect(&mut wheel, tick), expected, "tick {tick}");
        }
        assert!(wheel.is_empty());
    }
}

#[test]
fn huge_jump_fires_everything_due_in_one_batch() {
    let mut wheel = Wheel::new();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next_random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut due = Vec::new();
    for id in 0..20_000u64 {
        let deadline = next_random() % 2_000_000_000;
        wheel.insert(deadline, id);
        if deadline <= 1_000_000_000 {
            due.push(id);
        }
    }
    let started = std::time::Instant::now();
    let fired = advance_collect(&mut wheel, 1_000_000_000);
    let elapsed = started.elapsed();
    assert_eq!(fired, due);
    assert_eq!(wheel.len(), 20_000 - due.len());
    assert!(wheel.next_deadline().unwrap() > 1_000_000_000);
    // A per-tick loop would take seconds even in release mode.
    assert!(elapsed < std::time::Duration::from_secs(2), "{elapsed:?}");
    let rest = advance_collect(&mut wheel, u64::MAX);
    assert_eq!(rest.len() + due.len(), 20_000);
}

#[test]
fn huge_jump_over_empty_time_is_cheap() {
    let mut wheel = Wheel::new();
    wheel.insert(u64::MAX - 5, ());
    let started = std::time::Instant::now();
    let mut now = 0u64;
    for _ in 0..10_000 {
        now += 1 << 48;
        wheel.advance(now, |_, ()| panic!("fired early"));
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(wheel.next_deadline(), Some(u64::MAX - 5));
}

#[test]
fn fired_keys_are_stale_and_len_tracks_pending() {
    let mut wheel = Wheel::new();
    let keys: Vec<Key> = (0..10u64).map(|i| wheel.insert(i * 100, i)).collect();
    assert_eq!(wheel.len(), 10);
    let mut fired = Vec::new();
    wheel.advance(450, |key, value| fired.push((key, value)));
    fired.sort_by_key(|&(_, value)| value);
    assert_eq!(fired, (0..5).map(|i| (keys[i as usize], i)).collect::<Vec<_>>());
    assert_eq!(wheel.len(), 5);
    for &(key, _) in &fired {
        assert_eq!(wheel.deadline(key), None);
    }
    for &key in &keys[5..] {
        assert!(wheel.deadline(key).is_some());
    }
}

#[test]
fn dropping_a_wheel_drops_pending_values() {
    let value = std::rc::Rc::new(());
    let mut wheel = Wheel::new();
    for deadline in [0, 100, 1 << 40, u64::MAX] {
        wheel.insert(deadline, value.clone());
    }
    assert_eq!(std::rc::Rc::strong_count(&value), 5);
    drop(wheel);
    assert_eq!(std::rc::Rc::strong_count(&value), 1);
}

#[test]
fn stores_wakers() {
    let mut wheel = Wheel::new();
    let key = wheel.insert(3, std::task::Waker::noop().clone());
    assert!(wheel.remove(key).is_some());
}

#[test]
fn get_and_get_mut_reach_pending_values_only() {
    let mut wheel = Wheel::new();
    let key = wheel.insert(10, 1);
    assert_eq!(wheel.get(key), Some(&1));
    *wheel.get_mut(key).unwrap() = 2;
    assert_eq!(wheel.get(key), Some(&2));
    assert_eq!(advance_collect(&mut wheel, 10), [2]);
    assert_eq!(wheel.get(key), None);
    assert_eq!(wheel.get_mut(key), None);
    let reused = wheel.insert(20, 3);
    assert_eq!(wheel.get(key), None);
    assert_eq!(wheel.get(reused), Some(&3));
}

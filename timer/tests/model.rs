//! Property test: random operations on a `Wheel` checked against a `BTreeMap` model.

use std::collections::{BTreeMap, HashMap};

use heist_timer::{Key, Wheel};

const OPERATIONS_PER_SEED: usize = 100_000;
const WHEEL_SPAN: u64 = 1 << 36;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// A value whose bit length is uniform below `max_bits`: small and huge alike.
    fn scaled(&mut self, max_bits: u64) -> u64 {
        let bits = self.below(max_bits);
        self.below(1 << bits)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Pending timers in deadline order, plus what the test needs to pick keys at random.
#[derive(Default)]
struct Model {
    pending: BTreeMap<(u64, u64), u64>,
    /// id -> (deadline, seq) of every pending timer.
    schedule: HashMap<u64, (u64, u64)>,
    /// Pending ids, for uniform picks; `position` indexes into it.
    live: Vec<u64>,
    position: HashMap<u64, usize>,
    next_seq: u64,
}

impl Model {
    fn insert(&mut self, id: u64, deadline: u64) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending.insert((deadline, seq), id);
        self.schedule.insert(id, (deadline, seq));
        self.position.insert(id, self.live.len());
        self.live.push(id);
    }

    fn remove(&mut self, id: u64) -> bool {
        let Some((deadline, seq)) = self.schedule.remove(&id) else {
            return false;
        };
        self.pending.remove(&(deadline, seq));
        let position = self.position.remove(&id).unwrap();
        self.live.swap_remove(position);
        if let Some(&moved) = self.live.get(position) {
            self.position.insert(moved, position);
        }
        true
    }

    fn reset(&mut self, id: u64, deadline: u64) -> bool {
        let Some(&(old_deadline, seq)) = self.schedule.get(&id) else {
            return false;
        };
        self.pending.remove(&(old_deadline, seq));
        self.pending.insert((deadline, seq), id);
        self.schedule.insert(id, (deadline, seq));
        true
    }

    /// Removes and returns the ids due by `now`, sorted.
    fn advance(&mut self, now: u64) -> Vec<u64> {
        let due = match now.checked_add(1) {
            Some(after) => {
                let later = self.pending.split_off(&(after, 0));
                std::mem::replace(&mut self.pending, later)
            }
            None => std::mem::take(&mut self.pending),
        };
        let mut ids: Vec<u64> = due.into_values().collect();
        for &id in &ids {
            // `remove` also drops the id from `pending`, which no longer holds it.
            self.remove(id);
        }
        ids.sort_unstable();
        ids
    }

    fn earliest(&self) -> Option<u64> {
        self.pending.keys().next().map(|&(deadline, _)| deadline)
    }
}

struct Mix {
    /// Whether to cancel and reset; without them `next_deadline` must be exact.
    cancellations: bool,
}

fn random_deadline(rng: &mut XorShift, now: u64) -> u64 {
    let level_span = |level: u64| 1u64 << (6 * (level + 1));
    match rng.below(100) {
        0..25 => now.saturating_add(rng.below(70)),
        25..50 => {
            let level = rng.below(6);
            now.saturating_add(rng.below(level_span(level)))
        }
        50..60 => {
            // Just around a level boundary, either absolute or relative to now.
            let unit = 1u64 << (6 * (1 + rng.below(6)));
            let base = if rng.chance(50) {
                now.saturating_add(unit)
            } else {
                (now | (unit - 1)).saturating_add(1)
            };
            base.saturating_add(1).saturating_sub(rng.below(3))
        }
        60..70 => now.saturating_sub(rng.below(1_000)),
        70..75 => now,
        75..85 => now.saturating_add(WHEEL_SPAN - 2 + rng.scaled(44)),
        85..90 => u64::MAX - rng.below(3),
        _ => rng.next(),
    }
}

fn random_target(rng: &mut XorShift, now: u64, earliest: Option<u64>) -> u64 {
    match rng.below(1_000) {
        0..500 => now.saturating_add(rng.below(4)),
        500..700 => now.saturating_add(rng.below(5_000)),
        700..800 => match earliest {
            Some(earliest) if earliest < 1 << 62 => earliest.saturating_sub(rng.below(2)).max(now),
            _ => now,
        },
        800..880 => now.saturating_add(rng.scaled(45)),
        880..960 => {
            let unit = 1u64 << (6 * (1 + rng.below(6)));
            (now | (unit - 1))
                .saturating_add(1)
                .saturating_sub(rng.below(3))
                .max(now)
        }
        960..999 => now.saturating_sub(rng.below(10)),
        // Rarely leap far ahead; stay clear of the end of time so deadlines stay varied.
        _ if now < 1 << 60 => now + rng.below(1 << 58),
        _ => now,
    }
}

fn run(seed: u64, mix: &Mix) {
    let mut rng = XorShift(seed);
    let mut wheel = Wheel::new();
    let mut model = Model::default();
    let mut keys: Vec<Key> = Vec::new();
    let mut fired_total = 0usize;
    let mut inexact_hints = 0usize;

    for step in 0..OPERATIONS_PER_SEED {
        let now = wheel.now();
        let context = || format!("seed {seed:#x} step {step} now {now}");
        let choice = rng.below(100);
        if choice < 40 || model.live.is_empty() {
            let id = keys.len() as u64;
            let deadline = random_deadline(&mut rng, now);
            keys.push(wheel.insert(deadline, id));
            model.insert(id, deadline);
        } else if choice < 70 && mix.cancellations {
            // Mostly pending ids, the rest any key ever issued (often stale).
            let id = if rng.chance(70) {
                model.live[rng.below(model.live.len() as u64) as usize]
            } else {
                rng.below(keys.len() as u64)
            };
            let key = keys[id as usize];
            if choice < 55 {
                let expected = model.remove(id).then_some(id);
                assert_eq!(wheel.remove(key), expected, "remove {id}: {}", context());
            } else {
                let deadline = random_deadline(&mut rng, now);
                let expected = model.reset(id, deadline);
                assert_eq!(wheel.reset(key, deadline), expected, "reset {id}: {}", context());
            }
            let expected_deadline = model.schedule.get(&id).map(|&(deadline, _)| deadline);
            assert_eq!(
                wheel.deadline(key),
                expected_deadline,
                "deadline {id}: {}",
                context()
            );
            let expected_value = expected_deadline.map(|_| id);
            assert_eq!(wheel.get(key).copied(), expected_value, "get {id}: {}", context());
        } else {
            let target = random_target(&mut rng, now, model.earliest());
            let mut fired = Vec::new();
            wheel.advance(target, |key, id| fired.push((key, id)));
            assert_eq!(wheel.now(), target.max(now), "{}", context());
            for &(key, id) in &fired {
                assert_eq!(key, keys[id as usize], "fired key of {id}: {}", context());
            }
            let mut fired_ids: Vec<u64> = fired.iter().map(|&(_, id)| id).collect();
            fired_ids.sort_unstable();
            let expected = model.advance(target.max(now));
            assert_eq!(fired_ids, expected, "advance to {target}: {}", context());
            for &(key, _) in &fired {
                assert_eq!(wheel.deadline(key), None, "{}", context());
            }
            fired_total += fired.len();
        }

        assert_eq!(wheel.len(), model.live.len(), "{}", context());
        assert_eq!(wheel.is_empty(), model.live.is_empty());
        let now = wheel.now();
        match (wheel.next_deadline(), model.earliest()) {
            (None, None) => {}
            (Some(hint), Some(earliest)) if !mix.cancellations => {
                assert_eq!(hint, earliest, "{}", context());
            }
            (Some(hint), Some(earliest)) => {
                assert!(
                    hint <= earliest,
                    "hint {hint} after earliest {earliest}: {}",
                    context()
                );
                if earliest > now {
                    assert!(hint > now, "hint {hint} not after now: {}", context());
                }
                inexact_hints += usize::from(hint != earliest);
            }
            (hint, earliest) => panic!("hint {hint:?} vs earliest {earliest:?}: {}", context()),
        }
    }

    // Drain: everything fires, exactly once, and nothing is left behind.
    let mut fired = Vec::new();
    wheel.advance(u64::MAX, |_, id| fired.push(id));
    fired.sort_unstable();
    assert_eq!(fired, model.advance(u64::MAX));
    assert!(wheel.is_empty() && wheel.next_deadline().is_none());
    fired_total += fired.len();

    assert!(
        fired_total > OPERATIONS_PER_SEED / 10,
        "seed {seed:#x}: only {fired_total} fired"
    );
    if mix.cancellations {
        // The lower-bound case must actually be exercised, yet stay the exception.
        assert!(inexact_hints > 0, "seed {seed:#x}: never inexact");
        assert!(
            inexact_hints < OPERATIONS_PER_SEED / 4,
            "seed {seed:#x}: {inexact_hints} inexact"
        );
    }
}

#[test]
fn matches_the_model_with_cancellations() {
    for seed in [
        0x2545_F491_4F6C_DD1D,
        0x9E37_79B9_7F4A_7C15,
        0xDEAD_BEEF_CAFE_F00D,
        7,
    ] {
        run(seed, &Mix { cancellations: true });
    }
}

#[test]
fn matches_the_model_exactly_without_cancellations() {
    for seed in [0x1234_5678_9ABC_DEF1, 0x0F0F_F0F0_1357_2468] {
        run(seed, &Mix { cancellations: false });
    }
}

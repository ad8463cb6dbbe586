//! heist's timers: a hierarchical timer wheel, and `sleep`, `timeout` and `interval` on top.
//!
//! This crate knows nothing of the executor. A runtime creates a [`Driver`] (one wheel per
//! worker, each behind its own lock, plus one for other threads), makes it current on each of
//! its threads with [`enter`], fires due timers with [`Driver::fire_due`], and lets one parked
//! thread at a time sleep until the next deadline with [`Driver::try_sleep`]. The futures
//! register lazily, on their first poll, in the current thread's wheel; a timer fires as a
//! plain `Waker::wake`, and a sleep completes by reading the clock, so it is never early.
//! When the runtime shuts down it calls [`Driver::shutdown`]: the timers still registered are
//! woken, and they (and any timer first polled against that driver later) panic with a message
//! saying their runtime is gone, where they would otherwise wait forever for a firing that
//! nobody will do.
//!
//! # The clock
//!
//! Each driver owns a clock (`clock.rs`): the system's monotonic clock until a test pauses it
//! with [`pause`]; then it stands still, moved only by [`advance`] and by the runtime's
//! auto-advance ([`Driver::auto_advance`], which the executor's park calls when nothing else
//! can happen), until [`resume`]. [`Instant::now`] and every timer read it. A clock that was
//! never paused costs one relaxed atomic load per reading.
//!
//! # The wheel
//!
//! [`Wheel<T>`] maps deadlines, counted in abstract ticks (the driver uses 1 tick = 1 µs,
//! rounding deadlines up, so a timer fires within microseconds of its instant, not at the
//! next millisecond), to values of type `T` (wakers, timer-entry handles, ...). It depends on nothing but `std`
//! and contains no `unsafe` code.
//!
//! ```
//! use heist_timer::Wheel;
//!
//! let mut wheel = Wheel::new();
//! let soon = wheel.insert(5, "soon");
//! let later = wheel.insert(70_000, "later");
//! assert_eq!(wheel.next_deadline(), Some(5));
//! assert!(wheel.reset(soon, 10));
//!
//! let mut fired = Vec::new();
//! wheel.advance(10, |_key, value| fired.push(value));
//! assert_eq!(fired, ["soon"]);
//! assert_eq!(wheel.remove(later), Some("later"));
//! assert!(wheel.is_empty());
//! ```
//!
//! # Levels
//!
//! Six levels of 64 slots each. A slot on level `k` spans `64^k` ticks and the level spans
//! `64^(k+1)`:
//!
//! | level | slot span     | level span  | at 1 tick = 1 µs |
//! |-------|---------------|-------------|------------------|
//! | 0     | 1 tick        | 64 ticks    | 64 µs            |
//! | 1     | 64            | 4 096       | 4.1 ms           |
//! | 2     | 4 096         | 262 144     | 262 ms           |
//! | 3     | 262 144       | ≈ 16.8 M    | 16.8 s           |
//! | 4     | ≈ 16.8 M      | ≈ 1.07 G    | 17.9 min         |
//! | 5     | ≈ 1.07 G      | 2^36        | 19.1 h           |
//!
//! An entry's level is the highest base-64 digit in which its deadline differs from
//! [`Wheel::now`], and its slot is that digit of the deadline. Hence every entry on level
//! `k` is due after every entry on levels below `k`, and within a level slots are in
//! deadline order from the current digit on.
//!
//! # Bitmaps
//!
//! Each level keeps a `u64` with bit `i` set when slot `i` is non-empty, so the next
//! occupied slot of a level is a mask and a `trailing_zeros`.
//!
//! # Slab and intrusive lists
//!
//! Entries live in a slab: a `Vec` with a free list. A [`Key`] is the entry's index plus a
//! generation that is bumped whenever the entry is freed, so a key that outlived its timer
//! never matches the newer timer that reuses the storage. Each slot is a doubly linked list
//! threaded through the entries by `u32` indices, which makes insertion and removal O(1)
//! and means no allocation per timer once the slab has grown. One entry is 40 bytes for a
//! 16-byte `T` such as `std::task::Waker`.
//!
//! # Cascading
//!
//! [`Wheel::advance`] repeatedly takes the earliest non-empty slot whose first tick is not
//! after the target, steps the wheel to that tick, fires the slot's entries that are due by
//! the target, and re-links the rest, which now land on lower levels. Empty stretches are
//! skipped with the bitmaps, so a jump of a billion ticks visits only occupied slots.
//!
//! # Far deadlines
//!
//! A deadline outside the 2^36-tick block of `now` that the levels cover goes to an
//! overflow list, which acts as the wheel's farthest slot: it is visited when time reaches
//! the block of its earliest deadline, and its entries are re-linked then (those still too
//! far go back to it). Entries are never lost and never fire early; `u64::MAX` is a valid
//! deadline that fires only when the wheel is advanced to `u64::MAX`.
//!
//! # Complexity
//!
//! | operation                                   | cost                                    |
//! |---------------------------------------------|-----------------------------------------|
//! | [`insert`](Wheel::insert), [`remove`](Wheel::remove), [`reset`](Wheel::reset), [`deadline`](Wheel::deadline) | O(1) |
//! | [`next_deadline`](Wheel::next_deadline)     | O(levels)                               |
//! | [`advance`](Wheel::advance)                 | O(occupied slots passed + entries fired + entries cascaded); each entry cascades at most once per level |
//!
//! [`Wheel::next_deadline`] is exact unless a cancellation removed the earliest entry of a
//! slot that is still occupied; then it is an earlier tick, never a later one (see its docs).

#![warn(missing_docs)]

mod clock;
mod context;
mod driver;
mod instant;
mod interval;
mod level;
mod slab;
mod sleep;
mod sync;
mod test_clock;
mod timeout;
mod wheel;

#[cfg(test)]
mod models;

pub use context::{EnterGuard, enter};
pub use driver::{Driver, TimerSleep};
pub use instant::Instant;
pub use interval::{Interval, MissedTickBehavior, interval, interval_at};
pub use slab::Key;
pub use sleep::{Sleep, sleep, sleep_until};
pub use test_clock::{Advance, advance, pause, resume};
pub use timeout::{Timeout, error, timeout, timeout_at};
pub use wheel::Wheel;

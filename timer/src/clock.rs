//! A runtime's clock: the system's monotonic clock, or a paused one that tests move by hand.
//!
//! Each [`Driver`](crate::Driver) owns one `Clock`; every reading of "now" that decides
//! whether a timer has elapsed goes through it. Until the clock is first paused it is the
//! system clock, read with one relaxed load of `altered` on top: the timers of a runtime that
//! is never paused pay nothing else and keep their microsecond precision.
//!
//! Paused, the clock stands still at a virtual instant that only [`Clock::advance`] moves
//! (the user's `heist::time::advance`, or the runtime's auto-advance when it is idle). Virtual
//! instants are `std::time::Instant`s on the same axis as the system clock, ahead of it by
//! however much the clock has been advanced, so a timer registered before the pause keeps its
//! deadline. Resumed, it runs at the system clock's pace from where it stopped (it never goes
//! back), which costs a lock per reading from then on: only runtimes that were paused (tests)
//! do that.
//!
//! `inhibitors` counts the threads outside the workers that may still wake tasks or create
//! timers (threads in `block_on` that are not asleep, blocking jobs in flight): the runtime
//! only auto-advances when it is zero. The clock just counts; the executor decides.

use crate::sync::Mutex;
use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// How many clocks in this process have ever been paused. While zero, `heist::time::Instant::now`
/// is the system clock without looking for the current runtime. A `std` atomic even under
/// loom: a counter of this process's paused clocks synchronises nothing the models check.
pub(crate) static ALTERED_CLOCKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

pub(crate) struct Clock {
    /// Set (for good) at the first pause: from then on `now` reads `state`.
    altered: AtomicBool,
    /// Mirrors `state.paused`, for cheap questions.
    paused: AtomicBool,
    state: Mutex<State>,
    inhibitors: AtomicUsize,
}

struct State {
    paused: bool,
    /// The virtual instant at `since` (paused: at any time).
    base: Instant,
    /// When the clock last resumed, by the system clock.
    since: Instant,
}

/// Why a clock operation was refused: its message says what to do instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClockError {
    AlreadyPaused,
    NotPaused,
}

impl ClockError {
    pub(crate) fn message(self, what: &str) -> String {
        match self {
            ClockError::AlreadyPaused => format!(
                "{what}: the clock of this runtime is already paused. Call heist::time::pause \
                 once (or use #[heist::test(start_paused = true)] and no pause at all), and \
                 heist::time::resume before pausing again."
            ),
            ClockError::NotPaused => format!(
                "{what}: the clock of this runtime is not paused. Call heist::time::pause first \
                 (or use #[heist::test(start_paused = true)]): only a paused clock can be \
                 advanced or resumed."
            ),
        }
    }
}

impl Clock {
    pub(crate) fn new() -> Self {
        let now = Instant::now();
        Clock {
            altered: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            state: Mutex::new(State {
                paused: false,
                base: now,
                since: now,
            }),
            inhibitors: AtomicUsize::new(0),
        }
    }

    /// Now, by this clock.
    pub(crate) fn now(&self) -> Instant {
        if !self.altered.load(Relaxed) {
            return Instant::now();
        }
        self.state.lock().now()
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(Relaxed)
    }

    /// Stops the clock at now rounded up by `align` (the driver rounds to its next tick, so
    /// that a sleep of whole ticks started while paused ends exactly on a tick: advancing by
    /// its duration, or auto-advancing to its tick, lands on its deadline exactly).
    pub(crate) fn pause(&self, align: impl FnOnce(Instant) -> Instant) -> Result<(), ClockError> {
        let mut state = self.state.lock();
        if state.paused {
            return Err(ClockError::AlreadyPaused);
        }
        let now = state.now();
        state.base = align(now).max(now);
        state.paused = true;
        self.paused.store(true, SeqCst);
        if !self.altered.swap(true, SeqCst) {
            ALTERED_CLOCKS.fetch_add(1, SeqCst);
        }
        Ok(())
    }

    pub(crate) fn resume(&self) -> Result<(), ClockError> {
        let mut state = self.state.lock();
        if !state.paused {
            return Err(ClockError::NotPaused);
        }
        state.since = Instant::now();
        state.paused = false;
        self.paused.store(false, SeqCst);
        Ok(())
    }

    /// Moves a paused clock forward by `duration`; returns the new now.
    pub(crate) fn advance(&self, duration: Duration) -> Result<Instant, ClockError> {
        let mut state = self.state.lock();
        if !state.paused {
            return Err(ClockError::NotPaused);
        }
        // Saturates at a far-off instant rather than overflow: a `Duration::MAX` advance
        // still fires every timer.
        state.base = crate::sleep::deadline_after(state.base, duration);
        Ok(state.base)
    }

    /// Moves a paused clock forward to `instant`, if it is paused and behind it (auto-advance).
    /// True if it moved.
    pub(crate) fn advance_to(&self, instant: Instant) -> bool {
        let mut state = self.state.lock();
        if !state.paused || state.base >= instant {
            return false;
        }
        state.base = instant;
        true
    }

    pub(crate) fn inhibit_auto_advance(&self) {
        self.inhibitors.fetch_add(1, SeqCst);
    }

    /// True if this made the count zero.
    pub(crate) fn allow_auto_advance(&self) -> bool {
        let before = self.inhibitors.fetch_sub(1, SeqCst);
        debug_assert!(before > 0, "auto-advance allowed more often than inhibited");
        before == 1
    }

    pub(crate) fn auto_advance_inhibited(&self) -> bool {
        self.inhibitors.load(SeqCst) != 0
    }
}

impl Drop for Clock {
    fn drop(&mut self) {
        if self.altered.load(SeqCst) {
            ALTERED_CLOCKS.fetch_sub(1, SeqCst);
        }
    }
}

impl State {
    fn now(&self) -> Instant {
        if self.paused {
            return self.base;
        }
        self.base + Instant::now().saturating_duration_since(self.since)
    }
}

//! A runtime's timers: one wheel per shard, the clock, and the hand-shake with the one
//! parked thread that sleeps until the next deadline.
//!
//! Each worker registers into its own shard, so registering and cancelling take a lock that
//! only that worker normally touches: no runtime-wide lock. Any thread may fire any shard, so
//! a worker stuck in a long poll does not hold its timers hostage.
//!
//! The sleeper hand-shake: at most one parked thread at a time *holds* the timers
//! ([`Driver::try_sleep`]). It publishes the tick it will wake at in `sleeping_until` and then
//! reads the shards' earliest deadlines; a registration publishes its deadline in its shard and
//! then reads `sleeping_until`, waking the sleeper when the new deadline is earlier. Both sides
//! write, issue a `SeqCst` fence, then read, so at least one of them sees the other: a new
//! earliest timer is never slept through. (Fences rather than `SeqCst` accesses alone: the
//! C11 model needs them for this pattern, and loom checks fences, not `SeqCst` accesses.)
//!
//! The clock (`clock.rs`): every "now" here is the driver's clock's. While it is paused, a
//! sleeper gets no timeout (the clock would not move while it slept) but the earliest
//! deadline ([`TimerSleep::paused_until`]), which the runtime may jump to with
//! [`Driver::auto_advance`]; [`Driver::wake_sleeper`] makes the sleeper look again when the
//! runtime may have become idle. It fences before reading the sleeper, as a registration
//! does, and the executor reads what it checks for idleness after `try_sleep`'s fence.
//!
//! Shutdown ([`Driver::shutdown`]): once the runtime's workers are gone nobody fires the
//! timers, so a timer left in a wheel would never fire and its task would wait for good. The
//! driver is marked shut down, then every wheel is emptied under its lock and the wakers are
//! woken; a registration checks the mark under the same lock, so it is either emptied out and
//! woken or refused. The woken timers (and any polled later) see the mark and panic with
//! `SHUT_DOWN` instead of waiting: `sleep` returns `()`, so there is no error to return.

use crate::clock::Clock;
use crate::sync::Mutex;
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst, fence};
use crate::{Key, Wheel};
use crossbeam_utils::CachePadded;
use std::task::Waker;
use std::time::{Duration, Instant};

/// One tick is one microsecond, not a millisecond: a sleep that starts just after a
/// millisecond boundary would otherwise be rounded up by almost a whole millisecond (chained
/// 1 ms sleeps took 2 ms; `benches/timer_lateness.rs` measured it). Deadlines beyond the
/// wheel's 19 hours wait in its overflow list and are re-linked when their time comes.
const TICKS_PER_SECOND: u64 = 1_000_000;

/// `sleeping_until` when no thread sleeps on the timers: registrations need not wake anyone.
const NO_SLEEPER: u64 = 0;
/// A shard's `next` when it is empty; also `sleeping_until` for a sleeper with no deadline.
const NEVER: u64 = u64::MAX;

/// What a timer panics with when polled after its driver shut down (see [`Driver::shutdown`]).
pub(crate) const SHUT_DOWN: &str = "a heist timer (sleep, timeout or interval) was polled after the \
    runtime whose timers it uses has shut down, so it would never fire: keep that runtime alive \
    while its timers are awaited, and create each timer in the runtime that awaits it (not in one \
    dropped or shut down before, nor on a blocking thread that outlives its runtime's shutdown)";

/// A registration refused: the driver has shut down (see [`Driver::shutdown`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShutDown;

/// The timers of one runtime.
pub struct Driver {
    origin: Instant,
    /// What "now" is for these timers; see `clock.rs`.
    clock: Clock,
    shards: Box<[CachePadded<Shard>]>,
    /// The tick the sleeping thread will wake at by itself; see the module docs.
    sleeping_until: AtomicU64,
    sleeper_present: AtomicBool,
    /// Wakes the thread that holds the timers; set while one does.
    sleeper: Mutex<Option<Waker>>,
    /// Set by [`Driver::shutdown`], before it empties the wheels; read by registrations under
    /// their shard's lock, and by timers whose entry is gone.
    shut_down: AtomicBool,
}

impl Shard {
    /// The tick an entry due at `tick` goes to: after the last tick advanced to, so that its
    /// presence can be told from its tick alone (see `cancel`). Call under the wheel's lock.
    fn placeable(&self, tick: u64) -> u64 {
        tick.max(self.advanced_to.load(SeqCst).saturating_add(1))
    }
}

struct Shard {
    wheel: Mutex<Wheel<Waker>>,
    /// No later than the earliest deadline in `wheel` (`NEVER` when it is empty), so a reader
    /// that finds nothing due here may skip the lock.
    next: AtomicU64,
    /// The tick `wheel` has been advanced to: every entry due by then has been removed.
    advanced_to: AtomicU64,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

/// The right to sleep until the next deadline, held by one parked thread at a time.
#[must_use = "dropping it gives up the timers at once"]
pub struct TimerSleep<'a> {
    driver: &'a Driver,
    timeout: Option<Duration>,
    /// The earliest deadline's tick (`NEVER`: no timer). While the clock is paused the
    /// sleeper does not wake by itself: the runtime may advance the clock to it instead.
    until: u64,
    /// The clock was paused when the sleep was computed.
    paused: bool,
}

impl TimerSleep<'_> {
    /// How long to sleep: until the earliest deadline, or `None` (until woken) when there is
    /// no timer. A registration with an earlier deadline wakes the sleeper's waker.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    #[cfg(test)]
    pub(crate) fn until_tick(&self) -> u64 {
        self.until
    }

    /// With the clock paused and a timer pending that is not due yet: the instant of the
    /// earliest deadline, which the runtime may move the clock to with
    /// [`Driver::auto_advance`] when it has nothing else to do. `None` otherwise.
    pub fn paused_until(&self) -> Option<Instant> {
        if !self.paused || self.until == NEVER || self.timeout.is_some() {
            return None;
        }
        // Not `instant_of`, which caps at 30 years from the origin: a paused clock may have
        // been advanced past that, and must still reach every deadline exactly.
        self.driver.origin.checked_add(Duration::from_micros(self.until))
    }
}

impl Drop for TimerSleep<'_> {
    fn drop(&mut self) {
        self.driver.sleeping_until.store(NO_SLEEPER, SeqCst);
        *self.driver.sleeper.lock() = None;
        self.driver.sleeper_present.store(false, SeqCst);
    }
}

impl Driver {
    /// A driver with `shards` wheels: one per worker, plus one for every other thread.
    pub fn new(shards: usize) -> Self {
        let shards = (0..shards.max(1))
            .map(|_| {
                CachePadded::new(Shard {
                    wheel: Mutex::new(Wheel::new()),
                    next: AtomicU64::new(NEVER),
                    advanced_to: AtomicU64::new(0),
                })
            })
            .collect();
        let clock = Clock::new();
        Driver {
            origin: clock.now(),
            clock,
            shards,
            sleeping_until: AtomicU64::new(NO_SLEEPER),
            sleeper_present: AtomicBool::new(false),
            sleeper: Mutex::new(None),
            shut_down: AtomicBool::new(false),
        }
    }

    /// How many wheels: one per worker plus one for other threads.
    pub fn num_shards(&self) -> usize {
        self.shards.len()
    }

    /// The last tick that has fully passed at `now`.
    fn tick_at(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.origin);
        let whole = elapsed.as_secs().saturating_mul(TICKS_PER_SECOND);
        whole
            .saturating_add(u64::from(elapsed.subsec_micros()))
            .min(NEVER - 1)
    }

    /// The first tick at or after `deadline`: firing at that tick is never early.
    pub(crate) fn tick_for(&self, deadline: Instant) -> u64 {
        let Some(after) = deadline.checked_duration_since(self.origin) else {
            return 0;
        };
        let whole = after.as_secs().saturating_mul(TICKS_PER_SECOND);
        let part = u64::from(after.subsec_nanos().div_ceil(1_000));
        whole.saturating_add(part).min(NEVER - 1)
    }

    fn instant_of(&self, tick: u64) -> Instant {
        let far = self.origin + Duration::from_secs(86_400 * 365 * 30);
        self.origin
            .checked_add(Duration::from_micros(tick))
            .map_or(far, |at| at.min(far))
    }

    /// Registers `waker` to be woken at `tick` in `shard`; returns the key and the tick the
    /// entry was placed at, or `ShutDown` once [`shutdown`](Self::shutdown) has begun.
    pub(crate) fn register(&self, shard: usize, tick: u64, waker: &Waker) -> Result<(Key, u64), ShutDown> {
        let shard = &self.shards[shard];
        // Only a timer that lowers its shard's earliest deadline can be the new earliest; a
        // later one was covered by the registration that lowered it, so it skips the hand-shake.
        let (key, tick, lowered) = {
            let mut wheel = shard.wheel.lock();
            // Under the lock `shutdown` empties this wheel with: an entry inserted after that
            // would never fire.
            if self.is_shut_down() {
                return Err(ShutDown);
            }
            let tick = shard.placeable(tick);
            let key = wheel.insert(tick, waker.clone());
            let lowered = shard.next.fetch_min(tick, SeqCst) > tick;
            (key, tick, lowered)
        };
        if lowered {
            self.wake_sleeper_if_later_than(tick);
        }
        Ok((key, tick))
    }

    /// Moves a registered timer to `tick`; returns the tick it was placed at, or `None` if it
    /// already fired or was removed.
    pub(crate) fn reset(&self, shard: usize, key: Key, tick: u64) -> Option<u64> {
        let shard = &self.shards[shard];
        let (tick, lowered) = {
            let mut wheel = shard.wheel.lock();
            let tick = shard.placeable(tick);
            if !wheel.reset(key, tick) {
                return None;
            }
            (tick, shard.next.fetch_min(tick, SeqCst) > tick)
        };
        if lowered {
            self.wake_sleeper_if_later_than(tick);
        }
        Some(tick)
    }

    /// Replaces the waker of a registered timer; false if it already fired or was removed.
    pub(crate) fn update_waker(&self, shard: usize, key: Key, waker: &Waker) -> bool {
        let mut wheel = self.shards[shard].wheel.lock();
        match wheel.get_mut(key) {
            Some(registered) => {
                if !registered.will_wake(waker) {
                    registered.clone_from(waker);
                }
                true
            }
            None => false,
        }
    }

    /// True once `shard` has advanced to `tick`: an entry placed there has fired, and since the
    /// wheel fires an entry only when the clock has passed its tick, its deadline has passed.
    pub(crate) fn has_fired(&self, shard: usize, tick: u64) -> bool {
        self.shards[shard].advanced_to.load(SeqCst) >= tick
    }

    /// Cancels a timer placed at `tick`, unless it is already gone. Returns whether this call
    /// removed it (if not, it fired or was cancelled before).
    pub(crate) fn cancel(&self, shard_index: usize, key: Key, tick: u64) -> bool {
        let shard = &self.shards[shard_index];
        // Entries are placed after the tick their shard has advanced to, so once it has
        // advanced to `tick` the entry has fired: no need for the lock.
        if self.has_fired(shard_index, tick) {
            return false;
        }
        let removed = shard.wheel.lock().remove(key);
        removed.is_some()
    }

    fn wake_sleeper_if_later_than(&self, tick: u64) {
        // Orders our shard's `next` before the read of `sleeping_until`; the sleeper fences
        // between the mirror-image pair (see the module docs).
        fence(SeqCst);
        if tick < self.sleeping_until.load(SeqCst) {
            // Woken outside the lock: waking runs the sleeper's code.
            let sleeper = self.sleeper.lock().clone();
            if let Some(waker) = sleeper {
                waker.wake();
            }
        }
    }

    /// The earliest tick any timer may be due at (`NEVER` if none).
    fn next_tick(&self) -> u64 {
        self.shards
            .iter()
            .map(|shard| shard.next.load(SeqCst))
            .min()
            .unwrap_or(NEVER)
    }

    /// True when some timer is registered (or was, until the next firing pass notices).
    pub fn has_pending(&self) -> bool {
        self.next_tick() != NEVER
    }

    /// True when some timer may be due now: cheap enough for a busy worker to ask often.
    pub fn is_due(&self) -> bool {
        let next = self.next_tick();
        next != NEVER && next <= self.tick_at(self.clock.now())
    }

    /// Wakes every timer whose deadline has passed, on every shard. Wakers run after the
    /// shard's lock is released. Returns how many were woken.
    pub fn fire_due(&self) -> usize {
        self.fire_due_at(self.tick_at(self.clock.now()))
    }

    pub(crate) fn fire_due_at(&self, now: u64) -> usize {
        let mut due = Vec::new();
        for shard in self.shards.iter() {
            if shard.next.load(SeqCst) > now {
                continue;
            }
            let mut wheel = shard.wheel.lock();
            wheel.advance(now, |_, waker| due.push(waker));
            shard.advanced_to.store(now, SeqCst);
            shard.next.store(wheel.next_deadline().unwrap_or(NEVER), SeqCst);
        }
        let fired = due.len();
        due.into_iter().for_each(wake_isolated);
        fired
    }

    /// Shuts the timers down for good; the runtime calls it once its workers have stopped, as
    /// nobody fires the timers after that. Every registered timer is removed and its waker
    /// woken, and later registrations are refused: the timers' next poll panics with a message
    /// that says their runtime has shut down, rather than waiting forever (for a task of
    /// another runtime, a blocking thread, or a thread in `block_on`). A timer whose deadline
    /// has passed still completes. Idempotent.
    pub fn shutdown(&self) {
        self.shut_down.store(true, SeqCst);
        let mut woken = Vec::new();
        for shard in self.shards.iter() {
            let mut wheel = shard.wheel.lock();
            // `advanced_to` stays: it still says which ticks have really passed (`has_fired`).
            wheel.advance(NEVER, |_, waker| woken.push(waker));
            shard.next.store(NEVER, SeqCst);
        }
        // Outside the locks: waking runs the wakers' code.
        woken.into_iter().for_each(wake_isolated);
    }

    /// True once [`shutdown`](Self::shutdown) has begun.
    pub fn is_shut_down(&self) -> bool {
        self.shut_down.load(SeqCst)
    }

    /// Makes the caller the thread that sleeps on the timers, unless another one already is.
    /// `waker` must wake the caller from its sleep; it is woken when a timer earlier than the
    /// returned timeout is registered.
    pub fn try_sleep(&self, waker: &Waker) -> Option<TimerSleep<'_>> {
        if self
            .sleeper_present
            .compare_exchange(false, true, SeqCst, SeqCst)
            .is_err()
        {
            return None;
        }
        *self.sleeper.lock() = Some(waker.clone());
        // Publish "a sleeper with no deadline" before reading the shards: a registration that
        // our read misses will see this and wake us.
        self.sleeping_until.store(NEVER, SeqCst);
        fence(SeqCst);
        let next = self.next_tick();
        let paused = self.clock.is_paused();
        if next == NEVER {
            return Some(TimerSleep {
                driver: self,
                timeout: None,
                until: NEVER,
                paused,
            });
        }
        self.sleeping_until.store(next, SeqCst);
        let now = self.clock.now();
        let timeout = if paused {
            // A paused clock does not move while we sleep: a timed sleep would wake to find
            // nothing due. Sleep until woken (by `advance`, `resume`, a registration, or
            // to auto-advance) unless a timer is due already.
            (next <= self.tick_at(now)).then_some(Duration::ZERO)
        } else {
            // Zero when a timer is already due: the caller fires it right after its (empty) sleep.
            Some(self.instant_of(next).saturating_duration_since(now))
        };
        Some(TimerSleep {
            driver: self,
            timeout,
            until: next,
            paused,
        })
    }
}

/// The clock: pausing, advancing and auto-advance. The functions of `heist::time` call these
/// on the current runtime's driver; the runtime's park decides when to auto-advance.
impl Driver {
    /// Now, by this driver's clock.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// True while the clock is paused (a relaxed load).
    pub fn is_paused(&self) -> bool {
        self.clock.is_paused()
    }

    /// Stops the clock: time moves only by [`advance`](Self::advance) and
    /// [`auto_advance`](Self::auto_advance) until [`resume`](Self::resume).
    ///
    /// # Panics
    /// If the clock is already paused, with a message saying what to do instead.
    #[track_caller]
    pub fn pause(&self) {
        let align = |now| {
            self.origin
                .checked_add(Duration::from_micros(self.tick_for(now)))
                .unwrap_or(now)
        };
        if let Err(error) = self.clock.pause(align) {
            panic!("{}", error.message("heist::time::pause"));
        }
    }

    /// Restarts a paused clock from where it stands, at the system clock's pace, and wakes the
    /// thread sleeping on the timers so that it sleeps by the running clock again.
    ///
    /// # Panics
    /// If the clock is not paused, with a message saying what to do instead.
    #[track_caller]
    pub fn resume(&self) {
        if let Err(error) = self.clock.resume() {
            panic!("{}", error.message("heist::time::resume"));
        }
        self.wake_sleeper();
    }

    /// Moves the paused clock forward by `duration` and wakes, on this thread, every timer
    /// that is due by then. Returns how many were woken.
    ///
    /// # Panics
    /// If the clock is not paused, with a message saying what to do instead.
    #[track_caller]
    pub fn advance(&self, duration: Duration) -> usize {
        if let Err(error) = self.clock.advance(duration) {
            panic!("{}", error.message("heist::time::advance"));
        }
        self.fire_due()
    }

    /// Moves the paused clock to `sleep`'s earliest deadline ([`TimerSleep::paused_until`]),
    /// if it is still paused and behind it; the caller then fires what is due. The runtime
    /// calls it when nothing else can happen: every worker idle, no task queued, no I/O ready,
    /// and [`auto_advance_inhibited`](Self::auto_advance_inhibited) false. True if it moved.
    pub fn auto_advance(&self, sleep: &TimerSleep<'_>) -> bool {
        sleep
            .paused_until()
            .is_some_and(|until| self.clock.advance_to(until))
    }

    /// Counts a thread outside the runtime's workers that may still wake tasks or create
    /// timers (a thread in `block_on` that is awake, a blocking job in flight): while any is
    /// counted, the runtime must not auto-advance.
    pub fn inhibit_auto_advance(&self) {
        self.clock.inhibit_auto_advance();
    }

    /// Undoes one [`inhibit_auto_advance`](Self::inhibit_auto_advance). When that leaves none
    /// and the clock is paused, the thread sleeping on the timers is woken to reconsider
    /// auto-advance.
    pub fn allow_auto_advance(&self) {
        if self.clock.allow_auto_advance() && self.clock.is_paused() {
            self.wake_sleeper();
        }
    }

    /// True while some thread is counted by [`inhibit_auto_advance`](Self::inhibit_auto_advance).
    pub fn auto_advance_inhibited(&self) -> bool {
        self.clock.auto_advance_inhibited()
    }

    /// Wakes the thread sleeping on the timers, if any, so that it looks again (at the
    /// clock, and whether to auto-advance). A thread that is about to sleep on the timers
    /// needs no waking: it orders its `try_sleep` before its look, and the caller orders what
    /// it changed before this (both `SeqCst` and fenced).
    pub fn wake_sleeper(&self) {
        fence(SeqCst);
        if self.sleeper_present.load(SeqCst) {
            let sleeper = self.sleeper.lock().clone();
            if let Some(waker) = sleeper {
                waker.wake();
            }
        }
    }
}

/// Wakes `waker`, keeping a panic in it (a bug in whoever made the waker) from unwinding into
/// the thread firing the timers, one of the runtime's workers: the other timers due in the
/// same pass would never be woken.
fn wake_isolated(waker: Waker) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake())).is_err() {
        eprintln!("heist: a waker panicked when its timer fired, and was skipped");
    }
}

//! The *watch*: who waits on I/O and timers for the whole runtime, and who takes over when
//! that worker goes off to run tasks. Every decision about it is made here, on one state word.
//!
//! # Roles
//! - **On watch** (at most one thread): holds an [`OnWatch`] guard, the only proof accepted by
//!   `Parker::park_in_poller` and by the timers' sleep. Either a parked worker blocked in the
//!   reactor's poller until the next timer deadline (*in the poller*), or a busy worker taking
//!   a quick, non-blocking look (`Worker::poll_io_without_blocking`). Dropping the guard, on
//!   unwinding too, gives the watch up.
//! - **Standby** (at most one parked worker): sleeps on its condvar with a timeout while the
//!   holder keeps leaving the poller, and takes the watch when it wakes to find it free.
//!
//! # Why a standby
//! A holder whose events woke tasks runs them itself (no futex hop between an event and its
//! task), which leaves the poller without a waiter. Waking a peer to take over at every such
//! *departure* cost a context switch per event batch (36,000 a second and a quarter of the
//! throughput of a 2-core echo benchmark). The standby instead wakes every [`HANDOFF_DELAY`]
//! while departures go on, so a holder that is away for long, or blocked inside a task,
//! stalls the others' I/O and timers by at most that much, and one back in time costs nothing.
//!
//! # Quiet when idle
//! While departures stop, the standby doubles its sleep; past [`MAX_TIMED_STANDBY_SLEEP`] it
//! *dozes*: it sleeps with no timeout, and the next departure wakes it. An idle runtime thus
//! makes no wake-ups at all (`tests/idle.rs` counts them).
//!
//! # The bound on I/O latency
//! With at least one worker asleep, a free watch is taken within [`HANDOFF_DELAY`] (plus the
//! time to wake a thread): a departure finds a standby sleeping short, or wakes the dozing one,
//! or pokes a sleeper when there is no standby; and a standby that is woken for work while the
//! watch is free pokes another sleeper to stand by in its place (`Worker::park`). With every
//! worker awake, each takes a quick look at the poller and the timers every 61 polls or 8
//! yields. The bound does not hold when every worker is inside a poll that does not return:
//! nothing is left to run anything, and the stall monitor reports those polls.
//!
//! # State word
//! | bits | field | meaning |
//! |---|---|---|
//! | 0 | `TAKEN` | a thread holds the watch ([`OnWatch`] exists) |
//! | 1 | `IN_POLLER` | the holder is a parked worker, blocked in the poller |
//! | 2 | `MISSED` | a worker went to sleep because a quick look had the watch: wake a sleeper when it is given up |
//! | 3 | `DOZING` | the standby sleeps with no timeout: a departure must wake it |
//! | 8..24 | holder | the worker in the poller (valid with `IN_POLLER`) |
//! | 24..40 | standby | the standby worker, or `NOBODY` |
//! | 40..64 | departures | how many times a holder left the poller to run tasks (wrapping) |
//!
//! Each transition is one compare-and-swap on the word, so every hand-shake (a departure
//! against a standby settling to doze, a parking worker against a quick look giving the watch
//! up) is decided by which CAS lands first; the models in `models.rs` check both.

use crate::sync::atomic::{AtomicU64, Ordering::*};
use heist_timer::{Driver as Timers, TimerSleep};
use std::task::Waker;
use std::time::Duration;

/// The longest a holder away from the poller keeps I/O and timers from everyone else, while
/// another worker is asleep to take over.
pub(crate) const HANDOFF_DELAY: Duration = Duration::from_millis(10);

/// The longest timed sleep of a standby; it dozes (no timeout) after that.
pub(crate) const MAX_TIMED_STANDBY_SLEEP: Duration = Duration::from_millis(80);

const TAKEN: u64 = 1 << 0;
const IN_POLLER: u64 = 1 << 1;
const MISSED: u64 = 1 << 2;
const DOZING: u64 = 1 << 3;
const HOLDER_SHIFT: u32 = 8;
const STANDBY_SHIFT: u32 = 24;
const DEPARTURES_SHIFT: u32 = 40;
const INDEX_MASK: u64 = 0xFFFF;
const NOBODY: u64 = INDEX_MASK;
const DEPARTURE: u64 = 1 << DEPARTURES_SHIFT;
// Worker indexes fit the 16-bit fields: `Idle::new` refuses 65,535 workers or more.

fn holder_of(state: u64) -> Option<usize> {
    (state & IN_POLLER != 0).then_some(((state >> HOLDER_SHIFT) & INDEX_MASK) as usize)
}

fn standby_of(state: u64) -> Option<usize> {
    let standby = (state >> STANDBY_SHIFT) & INDEX_MASK;
    (standby != NOBODY).then_some(standby as usize)
}

fn with_standby(state: u64, standby: u64) -> u64 {
    (state & !(INDEX_MASK << STANDBY_SHIFT)) | (standby << STANDBY_SHIFT)
}

fn departures_of(state: u64) -> u64 {
    state >> DEPARTURES_SHIFT
}

pub(crate) struct Watch {
    state: AtomicU64,
}

/// What a parking worker found when it tried to take the watch.
pub(crate) enum ParkingTake<'a> {
    /// It is ours: wait in the poller.
    Taken(OnWatch<'a>),
    /// A parked worker waits in the poller for everyone.
    HeldInPoller,
    /// A busy worker's quick look has it; giving it up will wake a sleeper.
    Missed,
}

/// Someone must be woken for the watch after a departure or a standby's leaving.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Poke {
    /// No one needs waking: someone is in the poller, or the standby sleeps short.
    Nobody,
    /// This worker, the dozing standby.
    Standby(usize),
    /// There is no standby: any sleeper other than the caller.
    AnySleeper,
}

impl Watch {
    pub(crate) fn new() -> Self {
        Watch {
            state: AtomicU64::new(NOBODY << STANDBY_SHIFT),
        }
    }

    /// Applies `f` to the state until its compare-and-swap lands; `f` returns the new state
    /// (or `None` to leave it alone). Returns the state `f` last saw, and whether it wrote.
    fn update(&self, mut f: impl FnMut(u64) -> Option<u64>) -> (u64, bool) {
        let mut state = self.state.load(SeqCst);
        loop {
            let Some(next) = f(state) else {
                return (state, false);
            };
            match self.state.compare_exchange_weak(state, next, SeqCst, SeqCst) {
                Ok(_) => return (state, true),
                Err(actual) => state = actual,
            }
        }
    }

    /// A busy worker's quick look: the watch, if it is free. `on_missed` runs when the guard
    /// is dropped if a worker went to sleep meanwhile counting on us (it must wake a sleeper).
    pub(crate) fn try_take_quick<'a>(&'a self, on_missed: &'a dyn Fn()) -> Option<OnWatch<'a>> {
        if self.state.load(Relaxed) & TAKEN != 0 {
            return None;
        }
        let (_, taken) = self.update(|state| (state & TAKEN == 0).then_some(state | TAKEN));
        taken.then_some(OnWatch {
            watch: self,
            on_missed,
        })
    }

    /// A parking worker: takes the watch to wait in the poller, or finds why not.
    pub(crate) fn take_for_parking<'a>(&'a self, worker: usize, on_missed: &'a dyn Fn()) -> ParkingTake<'a> {
        let (seen, wrote) = self.update(|state| {
            if state & TAKEN == 0 {
                let cleared = state & !(INDEX_MASK << HOLDER_SHIFT);
                Some(cleared | TAKEN | IN_POLLER | ((worker as u64) << HOLDER_SHIFT))
            } else if state & IN_POLLER != 0 || state & MISSED != 0 {
                None
            } else {
                Some(state | MISSED)
            }
        });
        match (wrote, seen & TAKEN != 0) {
            (true, false) => ParkingTake::Taken(OnWatch {
                watch: self,
                on_missed,
            }),
            _ if seen & IN_POLLER != 0 => ParkingTake::HeldInPoller,
            _ => ParkingTake::Missed,
        }
    }

    /// The parked worker in the poller, if any: woken for work last (`Idle::worker_to_notify`),
    /// since waking it takes the runtime's I/O waiter away.
    pub(crate) fn holder(&self) -> Option<usize> {
        holder_of(self.state.load(Relaxed))
    }

    /// A holder that left the poller goes off to run the tasks its events woke (it has given
    /// the watch up). Says whom to wake so that someone takes the watch in time.
    pub(crate) fn depart(&self) -> Poke {
        let (before, _) = self.update(|state| {
            let state = state.wrapping_add(DEPARTURE);
            // A dozing standby that we wake is dozing no more: later departures need not wake it.
            Some(if state & IN_POLLER == 0 {
                state & !DOZING
            } else {
                state
            })
        });
        if before & IN_POLLER != 0 {
            // Someone is in the poller already.
            return Poke::Nobody;
        }
        match standby_of(before) {
            Some(standby) if before & DOZING != 0 => Poke::Standby(standby),
            Some(_) => Poke::Nobody,
            None => Poke::AnySleeper,
        }
    }

    /// A standby that is leaving (woken for work, or shutting down): true if the watch is
    /// nobody's in the poller, so another sleeper must be poked to stand by in its place.
    pub(crate) fn needs_new_standby(&self) -> bool {
        let state = self.state.load(SeqCst);
        state & IN_POLLER == 0 && standby_of(state).is_none()
    }

    /// Becomes the standby unless another worker is.
    pub(crate) fn try_standby(&self, worker: usize) -> Option<Standby<'_>> {
        let (seen, wrote) = self.update(|state| {
            standby_of(state)
                .is_none()
                .then(|| with_standby(state, worker as u64))
        });
        wrote.then(|| Standby {
            watch: self,
            worker,
            departures_seen: departures_of(seen),
        })
    }
}

/// The watch, held: required to sleep in the poller and on the timers. Dropping it gives the
/// watch up (unwinding included) and wakes a sleeper if one went to sleep counting on us.
#[must_use = "dropping it gives the watch up at once"]
pub(crate) struct OnWatch<'a> {
    watch: &'a Watch,
    on_missed: &'a dyn Fn(),
}

impl<'a> OnWatch<'a> {
    /// Becomes the thread that sleeps until the next timer deadline. Only the watch's holder
    /// does, so the timers never refuse (`None` only if they did: then sleep with no deadline).
    pub(crate) fn sleep_on_timers<'t>(&self, timers: &'t Timers, unpark: &Waker) -> Option<TimerSleep<'t>> {
        timers.try_sleep(unpark)
    }

    /// The holder is back from the poller (firing timers next): a worker that parks now must
    /// not count on it to wait for events.
    pub(crate) fn leave_poller(&self) {
        self.watch.update(|state| Some(state & !IN_POLLER));
    }
}

impl Drop for OnWatch<'_> {
    fn drop(&mut self) {
        let (before, _) = self
            .watch
            .update(|state| Some(state & !(TAKEN | IN_POLLER | MISSED)));
        if before & MISSED != 0 {
            (self.on_missed)();
        }
    }
}

/// The standby role, held across the sleeps of one park.
pub(crate) struct Standby<'a> {
    watch: &'a Watch,
    worker: usize,
    departures_seen: u64,
}

impl Standby<'_> {
    /// How long to sleep next, given the last timed sleep (`None` the first time): short if a
    /// holder has left since the last look, doubling while none does, and `None` (no timeout)
    /// past [`MAX_TIMED_STANDBY_SLEEP`] or when `timed` is false (nothing to wait for: no
    /// sources, no timers), once the next departure is sure to wake us.
    pub(crate) fn next_sleep(&mut self, last: Option<Duration>, timed: bool) -> Option<Duration> {
        let departures = departures_of(self.watch.state.load(SeqCst));
        let moved = departures != self.departures_seen;
        self.departures_seen = departures;
        let sleep = match last {
            Some(last) if !moved => last * 2,
            _ => HANDOFF_DELAY,
        };
        if timed && sleep <= MAX_TIMED_STANDBY_SLEEP {
            return Some(sleep);
        }
        let seen = self.departures_seen;
        let (_, dozing) = self.watch.update(|state| {
            // A departure since our last look may not have seen us dozing: stay short.
            (departures_of(state) == seen).then_some(state | DOZING)
        });
        if dozing { None } else { Some(HANDOFF_DELAY) }
    }
}

impl Drop for Standby<'_> {
    fn drop(&mut self) {
        self.watch.update(|state| {
            (standby_of(state) == Some(self.worker)).then(|| with_standby(state & !DOZING, NOBODY))
        });
    }
}

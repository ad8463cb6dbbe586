//! Who waits on I/O and timers: the *driver* role, and the standby that takes it over when
//! its holder goes off to run tasks.
//!
//! At most one worker holds the driver at a time. A parked holder blocks in the reactor's
//! poller until the next timer deadline (`Worker::sleep_once`); a busy worker takes it for a
//! moment every 61 polls to look for events without blocking.
//!
//! When the events a parked holder takes in wake tasks, it runs them itself (the task runs on
//! the thread that got its event, with no futex hop). That leaves the poller without a waiter
//! while it works. Waking a peer to take over at once would cost a context switch per event
//! batch: on a 2-core echo benchmark that was 36,000 switches a second and a quarter of the
//! throughput. Instead, one of the other sleepers is the *standby*: it sleeps with a timeout
//! and, when it wakes to find the driver free, takes it. So a holder that is busy for long,
//! or blocked in a task, stalls everyone else's I/O by at most [`HANDOFF_DELAY`], and a holder
//! back within that time costs nothing.
//!
//! The standby backs off while the driver stays put (an idle runtime should not wake 100 times
//! a second): each check that finds the same holder still in the poller doubles its sleep, up
//! to [`MAX_STANDBY_SLEEP`]. A holder that leaves while the standby dozes on a long sleep wakes
//! it (`left_with_work`). Both sides write, then read the other's flag, with a `SeqCst` fence
//! between: either the standby sees the departure and keeps its sleep short, or the holder
//! sees it dozing. (Fences, not `SeqCst` accesses alone: loom checks the fences, and found
//! both hand-shakes here broken without them.)

use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*, fence};
use std::time::Duration;

/// The longest a task-running holder keeps I/O and timers from everyone else.
pub(crate) const HANDOFF_DELAY: Duration = Duration::from_millis(10);

/// The longest a standby sleeps while the holder stays in the poller.
const MAX_STANDBY_SLEEP: Duration = Duration::from_secs(1);

const NOBODY: usize = usize::MAX;

pub(crate) struct DriverRole {
    taken: AtomicBool,
    /// The parked worker holding the driver, or `NOBODY` (free, or a busy worker's quick poll).
    holder: AtomicUsize,
    /// A worker slept on its condvar because a busy worker's quick poll had the driver.
    missed: AtomicBool,
    standby: AtomicUsize,
    /// The standby sleeps longer than `HANDOFF_DELAY`: a departing holder must wake it.
    dozing: AtomicBool,
    /// How many times a holder has left the poller to run tasks.
    departures: AtomicUsize,
}

/// The standby role, held for one sleep.
pub(crate) struct Standby<'a> {
    role: &'a DriverRole,
    departures_seen: usize,
}

impl DriverRole {
    pub(crate) fn new() -> Self {
        DriverRole {
            taken: AtomicBool::new(false),
            holder: AtomicUsize::new(NOBODY),
            missed: AtomicBool::new(false),
            standby: AtomicUsize::new(NOBODY),
            dozing: AtomicBool::new(false),
            departures: AtomicUsize::new(0),
        }
    }

    pub(crate) fn try_take(&self) -> bool {
        !self.taken.load(Relaxed) && self.taken.compare_exchange(false, true, SeqCst, Relaxed).is_ok()
    }

    pub(crate) fn release(&self) {
        self.taken.store(false, SeqCst);
    }

    /// The parked holder, if any: woken for work last (see `Idle::worker_to_notify`).
    pub(crate) fn holder(&self) -> usize {
        self.holder.load(Relaxed)
    }

    pub(crate) fn set_holder(&self, worker: Option<usize>) {
        self.holder.store(worker.unwrap_or(NOBODY), SeqCst);
    }

    /// A parking worker found the driver taken. A parked holder waits on I/O for everyone;
    /// a busy worker's quick poll must instead wake a sleeper when it lets go, so leave it a
    /// flag (it writes `taken`, then reads `missed`; we write `missed`, then read `taken`;
    /// a `SeqCst` fence between each write and read).
    /// True if the driver turned out to be free: it is ours.
    pub(crate) fn missed_or_take(&self) -> bool {
        if self.holder.load(SeqCst) != NOBODY {
            return false;
        }
        self.missed.store(true, SeqCst);
        fence(SeqCst);
        self.taken.compare_exchange(false, true, SeqCst, SeqCst).is_ok()
    }

    /// Lets go after a quick poll; true if a sleeper missed the driver and must be woken.
    pub(crate) fn release_after_quick_poll(&self) -> bool {
        self.taken.store(false, SeqCst);
        fence(SeqCst);
        self.missed.load(SeqCst) && self.missed.swap(false, SeqCst)
    }

    /// The holder leaves the poller to run the tasks its events woke (it has released the
    /// driver). Returns the standby to wake, if it dozes on a long sleep.
    pub(crate) fn left_with_work(&self) -> Option<usize> {
        self.departures.fetch_add(1, SeqCst);
        fence(SeqCst);
        if self.dozing.load(SeqCst) {
            let standby = self.standby.load(SeqCst);
            return (standby != NOBODY).then_some(standby);
        }
        None
    }

    /// Becomes the standby unless another worker is.
    pub(crate) fn try_standby(&self, worker: usize) -> Option<Standby<'_>> {
        self.standby
            .compare_exchange(NOBODY, worker, SeqCst, Relaxed)
            .ok()?;
        Some(Standby {
            role: self,
            departures_seen: self.departures.load(SeqCst),
        })
    }
}

impl Standby<'_> {
    /// How long to sleep, given the last sleep (`None` the first time): short if a holder has
    /// left since the last look, doubling while it stays put.
    pub(crate) fn sleep_for(&self, last: Option<Duration>, departures_before: Option<usize>) -> Duration {
        let moved = departures_before != Some(self.departures_seen);
        let sleep = match last {
            Some(last) if !moved => (last * 2).min(MAX_STANDBY_SLEEP),
            _ => HANDOFF_DELAY,
        };
        if sleep > HANDOFF_DELAY {
            self.role.dozing.store(true, SeqCst);
            fence(SeqCst);
            if self.role.departures.load(SeqCst) != self.departures_seen {
                // A holder left meanwhile and may not have seen us dozing.
                self.role.dozing.store(false, SeqCst);
                return HANDOFF_DELAY;
            }
        }
        sleep
    }

    /// The departures count this standby started from, for the next `sleep_for`.
    pub(crate) fn departures_seen(&self) -> usize {
        self.departures_seen
    }
}

impl Drop for Standby<'_> {
    fn drop(&mut self) {
        self.role.dozing.store(false, SeqCst);
        self.role.standby.store(NOBODY, SeqCst);
    }
}

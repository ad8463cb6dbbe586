//! Putting an idle thread to sleep and waking it: on its condvar, or, for the one worker on
//! watch (`watch.rs`), inside the reactor's poller.
//!
//! The state word says where the thread sleeps, so that `unpark` knows what to poke:
//!
//! - `EMPTY`: awake, no pending wake-up.
//! - `PARKED_CONDVAR`: asleep on the condvar; `unpark` notifies it (under the mutex, so the
//!   notification cannot fall between the sleeper's state change and its wait).
//! - `PARKED_IN_POLLER`: blocked in `Reactor::poll`; `unpark` calls `Reactor::notify`, which
//!   makes the current (or the next) wait return at once.
//! - `NOTIFIED`: a wake-up is pending; the next park consumes it and returns at once.
//!
//! `unpark` swaps in `NOTIFIED` whatever the state, so an `unpark` before `park` is never lost:
//! a wake can never fall between a worker's last look at the queues and its sleep.
//!
//! A `block_on` thread's parker also keeps the runtime's clock told whether the thread is
//! awake (`heist_timer::Driver::inhibit_auto_advance`): a paused clock must not auto-advance
//! while that thread has a future to poll. It counts the thread out once it is in
//! `PARKED_CONDVAR`, and an `unpark` that finds it there counts it back in *before* its swap
//! (undoing that if the thread was not asleep after all), so the count is not low while a
//! wake-up is pending; a count that is briefly high is corrected by an `allow_auto_advance`,
//! which wakes the timers' sleeper. An `unpark` of a thread that is awake costs one relaxed
//! load more than before.

use crate::sync::atomic::{AtomicUsize, Ordering::*};
use crate::sync::{Condvar, Mutex};
use crate::watch::OnWatch;
use heist_reactor::Reactor;
use heist_timer::Driver as Timers;
use std::io;
use std::time::{Duration, Instant};

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_IN_POLLER: usize = 2;
const NOTIFIED: usize = 3;

pub(crate) struct Parker {
    state: AtomicUsize,
    lock: Mutex<()>,
    condvar: Condvar,
    /// The reactor a worker may block in; `None` for `block_on`'s parker, which never does.
    reactor: Option<std::sync::Arc<Reactor>>,
    /// `block_on`'s parker: the timers whose auto-advance this thread inhibits while awake.
    timers: Option<std::sync::Arc<Timers>>,
}

impl Parker {
    #[cfg(test)]
    pub(crate) fn new() -> Self {
        Self::with(None, None)
    }

    /// A worker's parker, which can also sleep in `reactor`'s poller.
    pub(crate) fn for_worker(reactor: std::sync::Arc<Reactor>) -> Self {
        Self::with(Some(reactor), None)
    }

    /// The parker of a thread in `block_on`, which `timers` count as awake (inhibiting their
    /// auto-advance) whenever it is not asleep. The caller counts the thread in before its
    /// first poll and out when `block_on` returns (`BlockOnAwake`).
    pub(crate) fn for_block_on(timers: std::sync::Arc<Timers>) -> Self {
        Self::with(None, Some(timers))
    }

    fn with(reactor: Option<std::sync::Arc<Reactor>>, timers: Option<std::sync::Arc<Timers>>) -> Self {
        Parker {
            state: AtomicUsize::new(EMPTY),
            lock: Mutex::new(()),
            condvar: Condvar::new(),
            reactor,
            timers,
        }
    }

    /// Sleeps until `unpark` is called, or returns at once if it already was; consumes the token.
    pub(crate) fn park(&self) {
        self.park_condvar(None);
    }

    /// Like `park`, but returns after `timeout` at the latest (`None`: no limit).
    pub(crate) fn park_timeout(&self, timeout: Option<Duration>) {
        self.park_condvar(timeout.and_then(|timeout| Instant::now().checked_add(timeout)));
    }

    fn park_condvar(&self, deadline: Option<Instant>) {
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, Acquire, Relaxed)
            .is_ok()
        {
            return;
        }
        let mut guard = self.lock.lock();
        if let Err(actual) = self
            .state
            .compare_exchange(EMPTY, PARKED_CONDVAR, Acquire, Acquire)
        {
            debug_assert_eq!(actual, NOTIFIED, "one thread parks on a parker");
            // A swap, not a store: the failed compare-exchange may have read an earlier
            // `unpark`'s `NOTIFIED`, and a later one (whose swap found `NOTIFIED` and so
            // notified nobody) must still be acquired, or what it published before its
            // `unpark` (the shutdown flag, say) may go unseen. The loom model
            // `the_last_worker_to_go_idle_lets_the_watch_auto_advance` found it.
            self.state.swap(EMPTY, Acquire);
            return;
        }
        if let Some(timers) = &self.timers {
            // Asleep with no wake-up pending: the clock may auto-advance.
            timers.allow_auto_advance();
        }
        loop {
            match deadline {
                None => guard = self.condvar.wait(guard),
                Some(deadline) => {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        break;
                    };
                    let (returned, timed_out) = self.condvar.wait_timeout(guard, left);
                    guard = returned;
                    if timed_out {
                        break;
                    }
                }
            }
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, Acquire, Relaxed)
                .is_ok()
            {
                return;
            }
        }
        drop(guard);
        // Timed out: leave, consuming a wake-up that raced the timeout.
        let woken = self.state.swap(EMPTY, Acquire) == NOTIFIED;
        if let Some(timers) = &self.timers {
            if !woken {
                // Awake by itself: counted back in (an `unpark` did that already otherwise).
                timers.inhibit_auto_advance();
            }
        }
    }

    /// Blocks in the reactor's poller for at most `timeout` (`None`: until an event or an
    /// `unpark`), dispatching the events it gets. Returns at once if an `unpark` is pending.
    ///
    /// Only the worker on watch may, so that one thread at a time waits in the poller.
    pub(crate) fn park_in_poller(
        &self,
        _on_watch: &OnWatch<'_>,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        let reactor = self.reactor.as_ref().expect("a worker's parker");
        if let Err(actual) = self
            .state
            .compare_exchange(EMPTY, PARKED_IN_POLLER, Acquire, Acquire)
        {
            debug_assert_eq!(actual, NOTIFIED, "one thread parks on a parker");
            // A swap, not a store: the failed compare-exchange may have read an earlier
            // `unpark`'s `NOTIFIED`, and a later one (whose swap found `NOTIFIED` and so
            // notified nobody) must still be acquired, or what it published before its
            // `unpark` (the shutdown flag, say) may go unseen. The loom model
            // `the_last_worker_to_go_idle_lets_the_watch_auto_advance` found it.
            self.state.swap(EMPTY, Acquire);
            return Ok(0);
        }
        let result = reactor.poll(timeout);
        // A wake-up that came during the wait has interrupted it (or will make the next
        // wait return at once: a spurious wake, harmless): consume it either way.
        self.state.swap(EMPTY, Acquire);
        result
    }

    pub(crate) fn unpark(&self) {
        // A `block_on` thread that looks asleep is counted back in before the swap (undone if
        // it was not asleep after all), so that its count is never low while this wake-up is
        // pending. One that looks awake costs nothing more than the load; should it fall
        // asleep between the load and the swap, it is counted in just after the swap: that
        // brief low count matters only to a wake-up from outside the runtime: a worker that
        // wakes it is awake itself (so the runtime is not idle), and the worker on watch that
        // wakes it by firing a timer finishes this call before it looks again.
        let counted_early = match &self.timers {
            Some(timers) if self.state.load(Relaxed) == PARKED_CONDVAR => {
                timers.inhibit_auto_advance();
                true
            }
            _ => false,
        };
        let before = self.state.swap(NOTIFIED, Release);
        if let Some(timers) = &self.timers {
            match (counted_early, before == PARKED_CONDVAR) {
                // It was awake, or already woken, and so counted in already.
                (true, false) => timers.allow_auto_advance(),
                (false, true) => timers.inhibit_auto_advance(),
                _ => {}
            }
        }
        match before {
            PARKED_CONDVAR => {
                // Taking the lock orders this notify after the sleeper's wait has begun.
                drop(self.lock.lock());
                self.condvar.notify_one();
            }
            PARKED_IN_POLLER => {
                self.reactor
                    .as_ref()
                    .expect("only a worker parks in the poller")
                    .notify();
            }
            _ => {}
        }
    }
}

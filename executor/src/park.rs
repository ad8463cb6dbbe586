//! Putting an idle worker to sleep and waking it, on `parking_lot`'s mutex and condvar.
//!
//! `unpark` before `park` is remembered (a token), so a wake can never fall between a worker's
//! last look at the queues and its sleep. This is the seam the reactor plugs into: one parked
//! worker will block in the I/O poller instead of the condvar, and `unpark` will know which of
//! the two to poke.

use crate::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub(crate) struct Parker {
    notified: Mutex<bool>,
    condvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Self {
        Parker {
            notified: Mutex::new(false),
            condvar: Condvar::new(),
        }
    }

    /// Sleeps until `unpark` is called, or returns at once if it already was; consumes the token.
    pub(crate) fn park(&self) {
        let mut notified = self.notified.lock();
        while !*notified {
            notified = self.condvar.wait(notified);
        }
        *notified = false;
    }

    /// Like `park`, but returns after `timeout` at the latest (`None`: no limit).
    pub(crate) fn park_timeout(&self, timeout: Option<Duration>) {
        let Some(deadline) = timeout.and_then(|timeout| Instant::now().checked_add(timeout)) else {
            return self.park();
        };
        let mut notified = self.notified.lock();
        while !*notified {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            let (guard, timed_out) = self.condvar.wait_timeout(notified, left);
            notified = guard;
            if timed_out {
                break;
            }
        }
        *notified = false;
    }

    pub(crate) fn unpark(&self) {
        *self.notified.lock() = true;
        self.condvar.notify_one();
    }
}

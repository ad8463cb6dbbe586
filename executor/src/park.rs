//! Putting an idle worker to sleep and waking it, on `parking_lot`'s mutex and condvar.
//!
//! `unpark` before `park` is remembered (a token), so a wake can never fall between a worker's
//! last look at the queues and its sleep. This is the seam the reactor plugs into: one parked
//! worker will block in the I/O poller instead of the condvar, and `unpark` will know which of
//! the two to poke.

use crate::sync::{Condvar, Mutex};

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

    pub(crate) fn unpark(&self) {
        *self.notified.lock() = true;
        self.condvar.notify_one();
    }
}

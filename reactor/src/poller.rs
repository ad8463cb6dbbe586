//! The OS poller (epoll, kqueue, event ports through `polling`) behind the few calls the
//! reactor makes, and under loom (and miri, which cannot run epoll's timerfd) a stand-in with
//! the same interface whose events a model injects by hand.
//!
//! Sources are registered once for both directions. Where the OS supports edge-triggered
//! notification (epoll, kqueue) that is the whole cost: an event is reported once per change
//! and no re-arming is needed. Elsewhere the registration is one-shot, and a task that starts
//! waiting re-arms it ([`Poller::rearm`]).

/// Readiness reported by one event: which source (its key) and which directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PolledEvent {
    pub(crate) key: usize,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
}

#[cfg(not(any(loom, miri)))]
pub(crate) use os::{Events, Poller};

#[cfg(any(loom, miri))]
pub(crate) use stand_in::{Events, Poller};

#[cfg(not(any(loom, miri)))]
mod os {
    use super::PolledEvent;
    use crate::sys::BorrowedSource;
    use polling::{Event, PollMode};
    use std::io;
    use std::num::NonZeroUsize;
    use std::time::Duration;

    /// How many events one wait takes at most; more stay queued in the kernel for the next.
    const EVENTS_PER_WAIT: usize = 1024;

    pub(crate) struct Poller {
        poller: polling::Poller,
        mode: PollMode,
    }

    pub(crate) struct Events(polling::Events);

    impl Events {
        pub(crate) fn new() -> Self {
            Events(polling::Events::with_capacity(
                NonZeroUsize::new(EVENTS_PER_WAIT).expect("not zero"),
            ))
        }

        pub(crate) fn iter(&self) -> impl Iterator<Item = PolledEvent> + '_ {
            self.0.iter().map(|event| PolledEvent {
                key: event.key,
                readable: event.readable,
                writable: event.writable,
            })
        }
    }

    impl Poller {
        pub(crate) fn new(force_oneshot: bool) -> io::Result<Self> {
            let poller = polling::Poller::new()?;
            let mode = if poller.supports_edge() && !force_oneshot {
                PollMode::Edge
            } else {
                PollMode::Oneshot
            };
            Ok(Poller { poller, mode })
        }

        pub(crate) fn needs_rearm(&self) -> bool {
            self.mode == PollMode::Oneshot
        }

        /// # Safety
        /// `fd` must be [`delete`](Self::delete)d before it is closed.
        pub(crate) unsafe fn add(&self, fd: BorrowedSource<'_>, key: usize) -> io::Result<()> {
            // SAFETY: forwarded from the caller.
            unsafe { self.poller.add_with_mode(&fd, Event::all(key), self.mode) }
        }

        /// Asks again for the directions some task waits for (one-shot mode only).
        pub(crate) fn rearm(
            &self,
            fd: BorrowedSource<'_>,
            key: usize,
            read: bool,
            write: bool,
        ) -> io::Result<()> {
            self.poller
                .modify_with_mode(fd, Event::new(key, read, write), self.mode)
        }

        pub(crate) fn delete(&self, fd: BorrowedSource<'_>) -> io::Result<()> {
            self.poller.delete(fd)
        }

        /// Blocks until an event, a [`notify`](Self::notify) or the timeout.
        pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
            events.0.clear();
            self.poller.wait(&mut events.0, timeout).map(drop)
        }

        pub(crate) fn notify(&self) -> io::Result<()> {
            self.poller.notify()
        }
    }
}

#[cfg(any(loom, miri))]
mod stand_in {
    use super::PolledEvent;
    use crate::sync::{Condvar, Mutex};
    use crate::sys::BorrowedSource;
    use std::io;
    use std::time::Duration;

    /// Blocks on a condvar until a model injects an event or someone notifies it.
    pub(crate) struct Poller {
        state: Mutex<State>,
        condvar: Condvar,
    }

    #[derive(Default)]
    struct State {
        notified: bool,
        pending: Vec<PolledEvent>,
    }

    pub(crate) struct Events(Vec<PolledEvent>);

    impl Events {
        pub(crate) fn new() -> Self {
            Events(Vec::new())
        }

        pub(crate) fn iter(&self) -> impl Iterator<Item = PolledEvent> + '_ {
            self.0.iter().copied()
        }
    }

    impl Poller {
        pub(crate) fn new(_force_oneshot: bool) -> io::Result<Self> {
            Ok(Poller {
                state: Mutex::new(State::default()),
                condvar: Condvar::new(),
            })
        }

        // Only `Async` (not built under loom) calls it; miri runs use it.
        #[cfg_attr(loom, allow(dead_code))]
        pub(crate) fn needs_rearm(&self) -> bool {
            false
        }

        // Only `Async` (not built under loom) calls it; miri runs use it.
        #[cfg_attr(loom, allow(dead_code))]
        /// Models use no real descriptors: a source is known by its key alone.
        ///
        /// # Safety
        /// None needed; `unsafe` to match the real poller.
        pub(crate) unsafe fn add(&self, _: BorrowedSource<'_>, _: usize) -> io::Result<()> {
            Ok(())
        }

        // Only `Async` (not built under loom) calls it; miri runs use it.
        #[cfg_attr(loom, allow(dead_code))]
        pub(crate) fn rearm(&self, _: BorrowedSource<'_>, _: usize, _: bool, _: bool) -> io::Result<()> {
            Ok(())
        }

        // Only `Async` (not built under loom) calls it; miri runs use it.
        #[cfg_attr(loom, allow(dead_code))]
        pub(crate) fn delete(&self, _: BorrowedSource<'_>) -> io::Result<()> {
            Ok(())
        }

        pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
            let mut state = self.state.lock();
            match timeout {
                None => {
                    while !state.notified && state.pending.is_empty() {
                        state = self.condvar.wait(state);
                    }
                }
                // Loom has no clock: a timed wait is modelled as "returns at once", the worst
                // case for the callers (they must cope with a wait that reports nothing).
                #[cfg(not(loom))]
                Some(timeout) if !state.notified && state.pending.is_empty() => {
                    state = self.condvar.wait_timeout(state, timeout);
                }
                Some(_) => {}
            }
            state.notified = false;
            events.0.clear();
            events.0.append(&mut state.pending);
            Ok(())
        }

        pub(crate) fn notify(&self) -> io::Result<()> {
            self.state.lock().notified = true;
            self.condvar.notify_one();
            Ok(())
        }

        /// What a model calls where the OS would report readiness.
        #[cfg_attr(not(loom), allow(dead_code))]
        pub(crate) fn inject(&self, event: PolledEvent) {
            self.state.lock().pending.push(event);
            self.condvar.notify_one();
        }
    }
}

//! The OS poller behind the few calls the reactor makes: on Linux epoll spoken to directly
//! (`poller/epoll.rs`), elsewhere kqueue, event ports or IOCP through `polling` (which Linux
//! can also use: `HEIST_POLLER=polling`, so that both paths are tested). Under loom (and miri,
//! which cannot run epoll's timerfd) a stand-in with the same interface, whose events a model
//! injects by hand.
//!
//! Sources are registered once for both directions. Where the OS supports edge-triggered
//! notification (epoll, kqueue) that is the whole cost: an event is reported once per change
//! and no re-arming is needed. Elsewhere the registration is one-shot, and a task that starts
//! waiting re-arms it ([`Poller::rearm`]).

/// Readiness reported by one event: which source (its key) and which directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PolledEvent {
    pub(crate) key: usize,
    pub(crate) ready: crate::source::ReadyEvent,
}

/// Which OS poller a reactor uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    /// epoll on Linux, `polling` elsewhere; `HEIST_POLLER=polling` picks `Portable` on Linux.
    Native,
    /// `polling`, edge-triggered where the OS has it.
    #[cfg_attr(any(loom, miri, not(target_os = "linux")), allow(dead_code))]
    Portable,
    /// `polling` with one-shot registrations: the path of platforms without edge triggering.
    PortableOneshot,
    /// Linux epoll with the timerfd carrying the timeout, as on kernels without
    /// `epoll_pwait2`.
    #[cfg_attr(any(loom, miri, not(target_os = "linux")), allow(dead_code))]
    NativeTimerfd,
}

/// The environment variable that makes Linux use `polling` instead of epoll.
pub const POLLER_ENV: &str = "HEIST_POLLER";

impl Backend {
    /// `Native`, unless `HEIST_POLLER` says `polling` (or, on Linux, `epoll-timerfd`).
    pub(crate) fn from_env() -> Backend {
        match std::env::var(POLLER_ENV).as_deref() {
            Ok("polling") => Backend::Portable,
            Ok("epoll-timerfd") => Backend::NativeTimerfd,
            _ => Backend::Native,
        }
    }
}

#[cfg(all(target_os = "linux", not(any(loom, miri))))]
mod epoll;

#[cfg(all(target_os = "linux", not(any(loom, miri))))]
pub(crate) use linux::{Events, Poller};

#[cfg(all(not(target_os = "linux"), not(any(loom, miri))))]
pub(crate) use os::{Events, Poller};

#[cfg(any(loom, miri))]
pub(crate) use stand_in::{Events, Poller};

/// On Linux, either backend, chosen when the reactor is made.
#[cfg(all(target_os = "linux", not(any(loom, miri))))]
mod linux {
    use super::{Backend, PolledEvent, epoll, os};
    use std::io;
    use std::os::fd::BorrowedFd;
    use std::time::Duration;

    pub(crate) enum Poller {
        Epoll(epoll::Poller),
        Portable(os::Poller),
    }

    pub(crate) enum Events {
        Epoll(epoll::Events),
        Portable(os::Events),
    }

    impl Events {
        pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = PolledEvent> + '_> {
            match self {
                Events::Epoll(events) => Box::new(events.iter()),
                Events::Portable(events) => Box::new(events.iter()),
            }
        }
    }

    impl Poller {
        pub(crate) fn new(backend: Backend) -> io::Result<Self> {
            Ok(match backend {
                Backend::Native => Poller::Epoll(epoll::Poller::new(true)?),
                Backend::NativeTimerfd => Poller::Epoll(epoll::Poller::new(false)?),
                Backend::Portable => Poller::Portable(os::Poller::with_mode(false)?),
                Backend::PortableOneshot => Poller::Portable(os::Poller::with_mode(true)?),
            })
        }

        /// A buffer for this poller's [`wait`](Self::wait)s.
        pub(crate) fn events(&self) -> Events {
            match self {
                Poller::Epoll(_) => Events::Epoll(epoll::Events::new()),
                Poller::Portable(_) => Events::Portable(os::Events::new()),
            }
        }

        pub(crate) fn needs_rearm(&self) -> bool {
            match self {
                Poller::Epoll(poller) => poller.needs_rearm(),
                Poller::Portable(poller) => poller.needs_rearm(),
            }
        }

        /// Whether events say when the peer closed its side (see `Source::clear_drained`).
        pub(crate) fn reports_read_closed(&self) -> bool {
            matches!(self, Poller::Epoll(_))
        }

        /// # Safety
        /// `fd` must be [`delete`](Self::delete)d before it is closed.
        pub(crate) unsafe fn add(&self, fd: BorrowedFd<'_>, key: usize) -> io::Result<()> {
            // SAFETY: forwarded from the caller.
            unsafe {
                match self {
                    Poller::Epoll(poller) => poller.add(fd, key),
                    Poller::Portable(poller) => poller.add(fd, key),
                }
            }
        }

        pub(crate) fn rearm(
            &self,
            fd: BorrowedFd<'_>,
            key: usize,
            read: bool,
            write: bool,
        ) -> io::Result<()> {
            match self {
                // Edge-triggered for good: nothing to re-arm.
                Poller::Epoll(_) => Ok(()),
                Poller::Portable(poller) => poller.rearm(fd, key, read, write),
            }
        }

        pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
            match self {
                Poller::Epoll(poller) => poller.delete(fd),
                Poller::Portable(poller) => poller.delete(fd),
            }
        }

        pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
            match (self, events) {
                (Poller::Epoll(poller), Events::Epoll(events)) => poller.wait(events, timeout),
                (Poller::Portable(poller), Events::Portable(events)) => poller.wait(events, timeout),
                _ => unreachable!("events come from their poller's `events`"),
            }
        }

        pub(crate) fn notify(&self) -> io::Result<()> {
            match self {
                Poller::Epoll(poller) => poller.notify(),
                Poller::Portable(poller) => poller.notify(),
            }
        }
    }
}

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
                // `polling` does not say whether the peer closed its side.
                ready: crate::source::ReadyEvent {
                    readable: event.readable,
                    writable: event.writable,
                    read_closed: false,
                },
            })
        }
    }

    impl Poller {
        pub(crate) fn with_mode(force_oneshot: bool) -> io::Result<Self> {
            let poller = polling::Poller::new()?;
            let mode = if poller.supports_edge() && !force_oneshot {
                PollMode::Edge
            } else {
                PollMode::Oneshot
            };
            Ok(Poller { poller, mode })
        }

        /// The reactor's constructor on platforms where `polling` is the only backend.
        #[cfg(not(target_os = "linux"))]
        pub(crate) fn new(backend: super::Backend) -> io::Result<Self> {
            Self::with_mode(backend == super::Backend::PortableOneshot)
        }

        /// A buffer for this poller's [`wait`](Self::wait)s.
        #[cfg(not(target_os = "linux"))]
        pub(crate) fn events(&self) -> Events {
            Events::new()
        }

        pub(crate) fn needs_rearm(&self) -> bool {
            self.mode == PollMode::Oneshot
        }

        /// `polling` does not report `EPOLLRDHUP`/`EV_EOF`: see `Source::clear_drained`.
        #[cfg(not(target_os = "linux"))]
        pub(crate) fn reports_read_closed(&self) -> bool {
            false
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
        pub(crate) fn new(_: super::Backend) -> io::Result<Self> {
            Ok(Poller {
                state: Mutex::new(State::default()),
                condvar: Condvar::new(),
            })
        }

        pub(crate) fn events(&self) -> Events {
            Events::new()
        }

        // Only `Async` (not built under loom) calls it; miri runs use it.
        #[cfg_attr(loom, allow(dead_code))]
        pub(crate) fn needs_rearm(&self) -> bool {
            false
        }

        // Only `Async` (not built under loom) calls it; miri runs use it.
        #[cfg_attr(loom, allow(dead_code))]
        pub(crate) fn reports_read_closed(&self) -> bool {
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

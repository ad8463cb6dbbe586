//! Linux: epoll spoken to directly, one system call per wait.
//!
//! `polling` re-arms its notifier and its timer on every wait: `timerfd_settime`, two
//! `epoll_ctl`, `epoll_pwait` and an eventfd read, where one `epoll_pwait` would do. Here:
//! - sources are registered once, edge-triggered, with `EPOLLRDHUP`, so that a peer's FIN is
//!   reported as such (read-closed), not only as "readable";
//! - the notifier is an eventfd registered edge-triggered: every write raises a new edge, so
//!   `notify` is one `write` and a wait never reads it back (its counter only grows; on the
//!   off chance that it fills up, `notify` drains it and writes again);
//! - the timeout goes to `epoll_pwait2` (nanoseconds, Linux 5.11+). Where the kernel lacks it
//!   (`ENOSYS`, or `EPERM` from a seccomp filter; found out once), a timerfd registered in the
//!   epoll set carries the deadline instead, and is re-armed only when the deadline moves.
//!   Plain `epoll_wait` counts in milliseconds, which would make every timer up to 1 ms late.
//!   The kernel also rounds a wait's timeout up by the waiting thread's *timer slack* (50 µs
//!   by default; a timerfd has none): a thread that waits here sets its own slack to the
//!   minimum once (`PR_SET_TIMERSLACK`), which kept the median lateness of a 1 ms sleep at
//!   33 µs instead of 85 (`benches/timer_lateness`).

use super::PolledEvent;
use crate::source::ReadyEvent;
use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::event::{EventfdFlags, eventfd};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec};
use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// How many events one wait takes at most; more stay queued in the kernel for the next.
const EVENTS_PER_WAIT: usize = 1024;

/// Keys of the poller's own descriptors; the reactor's keys (a slot index in the low half)
/// never come near them.
const NOTIFY_KEY: u64 = u64::MAX;
const TIMER_KEY: u64 = u64::MAX - 1;

/// A re-arm of the timerfd is skipped when the deadline moved by less than this: the same
/// timer's deadline, recomputed from a slightly later "now", drifts by a few microseconds.
const SAME_DEADLINE: Duration = Duration::from_micros(20);

pub(crate) struct Poller {
    epoll: OwnedFd,
    notifier: OwnedFd,
    /// `epoll_pwait2` is known to work: stays true until a call says otherwise.
    precise_wait: AtomicBool,
    /// The fallback's timerfd, made on first use.
    timer: OnceLock<OwnedFd>,
    /// The deadline the timerfd is armed for, in nanoseconds since `origin` (0: disarmed).
    armed_for: AtomicU64,
    origin: Instant,
}

/// The kernel's `struct epoll_event`s of one wait.
pub(crate) struct Events(Vec<libc::epoll_event>);

impl Events {
    pub(crate) fn new() -> Self {
        Events(Vec::with_capacity(EVENTS_PER_WAIT))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = PolledEvent> + '_ {
        self.0.iter().filter_map(|event| {
            // Copied out: the struct is packed on x86_64.
            let (key, flags) = (event.u64, event.events);
            if key == NOTIFY_KEY || key == TIMER_KEY {
                return None;
            }
            let flags = EventFlags::from_bits_retain(flags);
            // An error or a hang-up makes both directions ready: the next operation reports it.
            let failed = flags.intersects(EventFlags::ERR | EventFlags::HUP);
            Some(PolledEvent {
                key: key as usize,
                ready: ReadyEvent {
                    readable: failed || flags.intersects(EventFlags::IN | EventFlags::PRI),
                    writable: failed || flags.contains(EventFlags::OUT),
                    read_closed: flags.intersects(EventFlags::RDHUP | EventFlags::HUP),
                },
            })
        })
    }
}

impl Poller {
    pub(crate) fn new(precise_wait: bool) -> io::Result<Self> {
        let epoll = epoll::create(CreateFlags::CLOEXEC)?;
        let notifier = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        epoll::add(
            &epoll,
            &notifier,
            EventData::new_u64(NOTIFY_KEY),
            EventFlags::IN | EventFlags::ET,
        )?;
        Ok(Poller {
            epoll,
            notifier,
            precise_wait: AtomicBool::new(precise_wait),
            timer: OnceLock::new(),
            armed_for: AtomicU64::new(0),
            origin: Instant::now(),
        })
    }

    pub(crate) fn needs_rearm(&self) -> bool {
        false
    }

    /// # Safety
    /// `fd` must be [`delete`](Self::delete)d before it is closed.
    pub(crate) unsafe fn add(&self, fd: BorrowedFd<'_>, key: usize) -> io::Result<()> {
        let interest = EventFlags::IN | EventFlags::OUT | EventFlags::RDHUP | EventFlags::ET;
        Ok(epoll::add(
            &self.epoll,
            fd,
            EventData::new_u64(key as u64),
            interest,
        )?)
    }

    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        Ok(epoll::delete(&self.epoll, fd)?)
    }

    /// Blocks until an event, a [`notify`](Self::notify) or the timeout. Called by one thread
    /// at a time (the reactor's waiter lock).
    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        events.0.clear();
        let count = match timeout {
            None => self.epoll_wait(events, -1)?,
            Some(Duration::ZERO) => self.epoll_wait(events, 0)?,
            Some(timeout) => match self.precise_wait(events, timeout) {
                Some(result) => result?,
                None => {
                    self.arm_timer(timeout)?;
                    self.epoll_wait(events, -1)?
                }
            },
        };
        // SAFETY: the kernel initialised the first `count` entries of the spare capacity.
        unsafe { events.0.set_len(count) };
        if events.0.iter().any(|event| ({ event.u64 }) == TIMER_KEY) {
            // Fired: that edge is spent, so the next deadline must re-arm even if it is the same.
            self.armed_for.store(0, Relaxed);
        }
        Ok(())
    }

    fn epoll_wait(&self, events: &mut Events, timeout_ms: i32) -> io::Result<usize> {
        let buffer = events.0.spare_capacity_mut();
        // SAFETY: the buffer is valid for writes of `buffer.len()` events; a null signal mask
        // leaves the thread's mask alone.
        let count = unsafe {
            libc::epoll_pwait(
                self.epoll.as_raw_fd(),
                buffer.as_mut_ptr().cast::<libc::epoll_event>(),
                buffer.len() as i32,
                timeout_ms,
                std::ptr::null(),
            )
        };
        match count {
            -1 => interrupted_is_empty(io::Error::last_os_error()),
            count => Ok(count as usize),
        }
    }

    /// `epoll_pwait2`, if the kernel has it; `None` if it does not (then never again).
    fn precise_wait(&self, events: &mut Events, timeout: Duration) -> Option<io::Result<usize>> {
        if !self.precise_wait.load(Relaxed) {
            return None;
        }
        minimal_timer_slack();
        let buffer = events.0.spare_capacity_mut();
        let timeout = libc::timespec {
            tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
        };
        // SAFETY: as in `epoll_wait`; `timeout` outlives the call, and the last two arguments
        // are a null signal mask and its size.
        let count = unsafe {
            libc::syscall(
                libc::SYS_epoll_pwait2,
                self.epoll.as_raw_fd(),
                buffer.as_mut_ptr().cast::<libc::epoll_event>(),
                buffer.len() as libc::c_int,
                &timeout as *const libc::timespec,
                std::ptr::null::<libc::sigset_t>(),
                0usize,
            )
        };
        if count >= 0 {
            return Some(Ok(count as usize));
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::ENOSYS | libc::EPERM) => {
                self.precise_wait.store(false, Relaxed);
                None
            }
            _ => Some(interrupted_is_empty(error)),
        }
    }

    /// Makes the timerfd fire `timeout` from now, unless it is already armed for about then.
    fn arm_timer(&self, timeout: Duration) -> io::Result<()> {
        let timer = match self.timer.get() {
            Some(timer) => timer,
            None => {
                let timer = rustix::time::timerfd_create(
                    TimerfdClockId::Monotonic,
                    TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK,
                )?;
                epoll::add(
                    &self.epoll,
                    &timer,
                    EventData::new_u64(TIMER_KEY),
                    EventFlags::IN | EventFlags::ET,
                )?;
                // Only the one waiting thread gets here: the cell is still empty.
                self.timer.get_or_init(|| timer)
            }
        };
        let deadline = (self.origin.elapsed() + timeout).as_nanos().max(1) as u64;
        let armed = self.armed_for.load(Relaxed);
        if armed != 0 && deadline.abs_diff(armed) <= SAME_DEADLINE.as_nanos() as u64 {
            return Ok(());
        }
        let relative = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: timeout.as_secs() as i64,
                tv_nsec: i64::from(timeout.subsec_nanos()),
            },
        };
        rustix::time::timerfd_settime(timer.as_fd(), TimerfdTimerFlags::empty(), &relative)?;
        self.armed_for.store(deadline, Relaxed);
        Ok(())
    }

    pub(crate) fn notify(&self) -> io::Result<()> {
        loop {
            match rustix::io::write(&self.notifier, &1u64.to_ne_bytes()) {
                Ok(_) => return Ok(()),
                Err(rustix::io::Errno::AGAIN) => {
                    // The counter is full (after 2^64 - 2 notifications): empty it, write again.
                    let mut drained = [0; 8];
                    let _ = rustix::io::read(&self.notifier, &mut drained);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(error) => return Err(error.into()),
            }
        }
    }
}

/// Makes the calling thread's timed waits end when asked, not up to 50 µs later (the default
/// timer slack), once per thread. Only threads that wait in the poller with a timeout do this.
fn minimal_timer_slack() {
    std::thread_local!(static DONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    if DONE.with(|done| done.replace(true)) {
        return;
    }
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and changes only this thread's
    // timer slack; 1 ns is the smallest value (0 would mean "the default again").
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
}

/// A wait cut short by a signal took no events.
fn interrupted_is_empty(error: io::Error) -> io::Result<usize> {
    if error.kind() == io::ErrorKind::Interrupted {
        Ok(0)
    } else {
        Err(error)
    }
}

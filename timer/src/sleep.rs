//! `sleep` and `sleep_until`.

use crate::Instant;
use crate::Key;
use crate::context;
use crate::driver::{Driver, SHUT_DOWN};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Waits until `duration` has elapsed by the runtime's clock. `Duration::MAX` (or any
/// duration past the year ~2050) waits forever without overflowing. While the clock is paused
/// (`heist::time::pause`), only `heist::time::advance` or the runtime's auto-advance ends it.
///
/// See `heist::time` for an example.
///
/// # Panics
/// When polled outside a runtime, or after the runtime it registered in (on its first poll)
/// has shut down: its timer would never fire. The same holds for [`timeout`](crate::timeout)
/// and [`interval`](crate::interval), which sleep inside.
pub fn sleep(duration: Duration) -> Sleep {
    Sleep {
        deadline: Instant::from_std(deadline_after(crate::context::now(), duration)),
        state: State::Unregistered {
            deadline_ahead: !duration.is_zero(),
        },
    }
}

/// Waits until `deadline`; a deadline in the past completes at once.
///
/// `deadline` is a [`heist::time::Instant`](crate::Instant), or a `std::time::Instant`
/// (the same axis: a paused clock's instants are system-clock instants ahead of it).
///
/// # Panics
/// As [`sleep`].
pub fn sleep_until(deadline: impl Into<Instant>) -> Sleep {
    Sleep {
        deadline: deadline.into(),
        state: State::Unregistered {
            deadline_ahead: false,
        },
    }
}

/// An instant far enough ahead to mean "never" (30 years), for deadlines that would overflow.
pub(crate) fn far_future(now: std::time::Instant) -> std::time::Instant {
    now + Duration::from_secs(86_400 * 365 * 30)
}

pub(crate) fn deadline_after(now: std::time::Instant, duration: Duration) -> std::time::Instant {
    now.checked_add(duration)
        .map_or_else(|| far_future(now), |deadline| deadline.min(far_future(now)))
}

/// The future returned by [`sleep`] and [`sleep_until`].
///
/// It touches no timer until it is first polled, so creating and dropping one costs nothing.
/// It is `Unpin`: no `Box::pin` needed to keep one in a loop.
///
/// It reads the clock only to compute its deadline (and, for a deadline that may already
/// have passed, once more at the first poll): after that, it has elapsed exactly when the
/// wheel has fired its entry, since the wheel fires an entry only once the clock has passed
/// its tick, rounded up to the microsecond. So it never completes early.
#[must_use = "a Sleep does nothing unless awaited"]
#[derive(Debug)]
pub struct Sleep {
    deadline: Instant,
    state: State,
}

/// One enum rather than a flag beside an `Option`: it keeps `Sleep` at 48 bytes, and every
/// sleeping task carries one.
#[derive(Debug)]
enum State {
    /// Not in a wheel. `deadline_ahead`: the deadline was in the future when it was set
    /// (`sleep` with a non-zero duration), so the first poll need not read the clock.
    Unregistered {
        deadline_ahead: bool,
    },
    Registered(Registration),
}

#[derive(Debug)]
struct Registration {
    driver: Arc<Driver>,
    shard: u32,
    /// Set by `reset`: the new deadline may already have passed, so the next poll reads the
    /// clock rather than wait for the entry (moved to fire at once) to come round.
    check_clock: bool,
    key: Key,
    /// The tick the wheel holds the entry at: a reset to a later deadline leaves it there.
    tick: u64,
}

impl Registration {
    fn shard(&self) -> usize {
        self.shard as usize
    }

    /// Registers in `shard` of `driver`.
    ///
    /// # Panics
    /// If `driver` has shut down: the timer would never fire.
    #[track_caller]
    fn new(driver: &Arc<Driver>, shard: usize, tick: u64, waker: &std::task::Waker) -> Registration {
        let Ok((key, tick)) = driver.register(shard, tick, waker) else {
            panic!("{SHUT_DOWN}");
        };
        let shard = u32::try_from(shard).expect("fewer than 2^32 timer shards");
        Registration {
            driver: driver.clone(),
            shard,
            check_clock: false,
            key,
            tick,
        }
    }
}

impl Sleep {
    /// When the sleep completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True once the deadline has passed, by the clock of the runtime it registered in (the
    /// current runtime's before its first poll).
    pub fn is_elapsed(&self) -> bool {
        let now = match &self.state {
            State::Registered(registration) => Instant::from_std(registration.driver.now()),
            State::Unregistered { .. } => Instant::now(),
        };
        now >= self.deadline
    }

    /// Moves the deadline; the sleep completes at the new one even if the old one passed.
    ///
    /// Safe to call from another task than the one awaiting the sleep: the entry stays in
    /// the wheel (moved to fire at once if the new deadline has passed), so the waiting task
    /// is woken either way.
    pub fn reset(mut self: Pin<&mut Self>, deadline: impl Into<Instant>) {
        let deadline = deadline.into();
        self.deadline = deadline;
        let registration = match &mut self.state {
            State::Unregistered { deadline_ahead } => {
                *deadline_ahead = false;
                return;
            }
            State::Registered(registration) => registration,
        };
        registration.check_clock = true;
        let tick = registration.driver.tick_for(deadline.into_std());
        // A later deadline keeps the old entry: when it fires, the poll finds the deadline
        // beyond it and registers again. An earlier one moves now, to wake in time.
        if tick < registration.tick {
            match registration
                .driver
                .reset(registration.shard(), registration.key, tick)
            {
                Some(placed) => registration.tick = placed,
                // It fired already, and that wake will poll us.
                None => {
                    self.state = State::Unregistered {
                        deadline_ahead: false,
                    }
                }
            }
        }
    }

    /// Leaves the wheel; the next poll reads the clock.
    fn deregister(&mut self) {
        let state = std::mem::replace(
            &mut self.state,
            State::Unregistered {
                deadline_ahead: false,
            },
        );
        if let State::Registered(registration) = state {
            let _ = registration
                .driver
                .cancel(registration.shard(), registration.key, registration.tick);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    /// A sleep that is due completes at once: it costs a unit of the task's cooperative
    /// budget (`heist-coop`), so a task looping on an always-due interval still yields.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let spent = std::task::ready!(heist_coop::poll_proceed(cx));
        let poll = self.as_mut().poll_deadline(cx);
        if poll.is_ready() {
            spent.made_progress();
        }
        poll
    }
}

impl Sleep {
    fn poll_deadline(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let deadline = this.deadline;
        let registration = match &mut this.state {
            State::Unregistered { deadline_ahead } => {
                if !*deadline_ahead && Instant::now() >= deadline {
                    return Poll::Ready(());
                }
                let registered = context::with_current("heist::time::Sleep", |driver, shard| {
                    let tick = driver.tick_for(deadline.into_std());
                    // The wheel already advanced past the deadline: it has passed.
                    (!driver.has_fired(shard, tick))
                        .then(|| Registration::new(driver, shard, tick, cx.waker()))
                });
                return match registered {
                    Some(registration) => {
                        this.state = State::Registered(registration);
                        Poll::Pending
                    }
                    None => Poll::Ready(()),
                };
            }
            State::Registered(registration) => registration,
        };
        if std::mem::take(&mut registration.check_clock) && registration.driver.now() >= deadline.into_std() {
            this.deregister();
            return Poll::Ready(());
        }
        let (driver, shard) = (&registration.driver, registration.shard());
        let fired = driver.has_fired(shard, registration.tick)
            || !driver.update_waker(shard, registration.key, cx.waker());
        if !fired {
            return Poll::Pending;
        }
        // The entry is gone. If the driver shut down, that may be its shutdown emptying the
        // wheel rather than the entry firing (`has_fired` alone never lies: shutdown leaves
        // it as it was), so only the clock can tell the deadline has passed.
        if driver.is_shut_down() {
            if driver.now() < deadline.into_std() {
                panic!("{SHUT_DOWN}");
            }
            this.state = State::Unregistered {
                deadline_ahead: false,
            };
            return Poll::Ready(());
        }
        let wanted = driver.tick_for(deadline.into_std());
        if wanted <= registration.tick {
            // Fired at its tick, which is not before the deadline.
            this.state = State::Unregistered {
                deadline_ahead: false,
            };
            return Poll::Ready(());
        }
        // The deadline moved later since the entry was placed: register again, on this
        // thread's shard if it belongs to the same runtime.
        let shard = context::shard_of(driver).unwrap_or(shard);
        *registration = Registration::new(&driver.clone(), shard, wanted, cx.waker());
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}

const _: () = assert!(std::mem::size_of::<Sleep>() <= 48);

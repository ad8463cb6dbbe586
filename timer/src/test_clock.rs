//! `pause`, `resume` and `advance`: the current runtime's clock, stopped and moved by a test.

use crate::context;
use crate::driver::Driver;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Stops the current runtime's clock: from now on [`Instant::now`](crate::Instant::now) stands
/// still, and time moves only by [`advance`], or by itself to the next timer's deadline when
/// the runtime has nothing else to do (*auto-advance*: every worker idle, no task queued, no
/// I/O event ready, no `block_on` future awake and no `spawn_blocking` job in flight). A test
/// can thus sleep for an hour in no time, and assert exact durations.
///
/// `#[heist::test(start_paused = true)]` pauses before the test's body runs.
///
/// Auto-advance takes in the I/O events that are ready before it moves the clock, but it
/// cannot know about events still on their way (a peer outside the runtime that answers
/// later): a `timeout` around such a read may elapse at once. Keep such peers inside the
/// runtime, or resume the clock around them.
///
/// See `heist::time` for an example in a runtime. Here, on a driver made current by hand (as
/// a runtime does on each of its threads):
///
/// ```
/// use heist_timer::{Driver, Instant};
/// use std::{sync::Arc, time::Duration};
///
/// let driver = Arc::new(Driver::new(1));
/// let _current = heist_timer::enter(driver.clone(), 0);
/// heist_timer::pause();
/// let start = Instant::now();
/// std::thread::sleep(Duration::from_millis(1));
/// assert_eq!(Instant::now(), start, "paused: real time does not count");
/// driver.advance(Duration::from_secs(60));
/// assert_eq!(start.elapsed(), Duration::from_secs(60));
/// heist_timer::resume();
/// assert!(start.elapsed() >= Duration::from_secs(60));
/// ```
///
/// # Panics
/// Outside a runtime, or if the clock is already paused, with a message saying what to do.
#[track_caller]
pub fn pause() {
    context::current_driver("heist::time::pause").pause();
}

/// Restarts the current runtime's paused clock, at the system clock's pace, from where it
/// stands: time never goes back.
///
/// # Panics
/// Outside a runtime, or if the clock is not paused, with a message saying what to do.
#[track_caller]
pub fn resume() {
    context::current_driver("heist::time::resume").resume();
}

/// Moves the current runtime's paused clock forward by `duration` when awaited, wakes every
/// timer due by then, and yields once so that the woken tasks may run first.
///
/// See `heist::time` for an example.
///
/// # Panics
/// Outside a runtime (when called), or if the clock is not paused (when first polled), with a
/// message saying what to do.
#[track_caller]
pub fn advance(duration: Duration) -> Advance {
    Advance {
        driver: context::current_driver("heist::time::advance"),
        duration,
        advanced: false,
        location: Location::caller(),
    }
}

/// The future returned by [`advance`]: its first poll moves the clock and fires what is due,
/// then yields once, so that the tasks those timers woke may run first.
#[must_use = "the clock moves only when this is awaited"]
pub struct Advance {
    driver: Arc<Driver>,
    duration: Duration,
    advanced: bool,
    location: &'static Location<'static>,
}

impl std::fmt::Debug for Advance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Advance")
            .field("duration", &self.duration)
            .field("advanced", &self.advanced)
            .finish_non_exhaustive()
    }
}

impl Future for Advance {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.advanced {
            return Poll::Ready(());
        }
        self.advanced = true;
        if !self.driver.is_paused() {
            panic!(
                "heist::time::advance (at {}): the clock of this runtime is not paused. Call \
                 heist::time::pause first (or use #[heist::test(start_paused = true)]): only a \
                 paused clock can be advanced.",
                self.location
            );
        }
        self.driver.advance(self.duration);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

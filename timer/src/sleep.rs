//! `sleep` and `sleep_until`.

use crate::Key;
use crate::context;
use crate::driver::Driver;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Waits until `duration` has elapsed. `Duration::MAX` (or any duration past the year ~2050)
/// waits forever without overflowing.
///
/// See `heist::time` for an example.
pub fn sleep(duration: Duration) -> Sleep {
    Sleep::new(deadline_after(Instant::now(), duration))
}

/// Waits until `deadline`; a deadline in the past completes at once.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(deadline)
}

/// An instant far enough ahead to mean "never" (30 years), for deadlines that would overflow.
pub(crate) fn far_future(now: Instant) -> Instant {
    now + Duration::from_secs(86_400 * 365 * 30)
}

pub(crate) fn deadline_after(now: Instant, duration: Duration) -> Instant {
    now.checked_add(duration)
        .map_or_else(|| far_future(now), |deadline| deadline.min(far_future(now)))
}

/// The future returned by [`sleep`] and [`sleep_until`].
///
/// It touches no timer until it is first polled, so creating and dropping one costs nothing.
/// It is `Unpin`: no `Box::pin` needed to keep one in a loop.
#[must_use = "a Sleep does nothing unless awaited"]
#[derive(Debug)]
pub struct Sleep {
    deadline: Instant,
    registration: Option<Registration>,
}

#[derive(Debug)]
struct Registration {
    driver: Arc<Driver>,
    shard: usize,
    key: Key,
    /// The tick the wheel holds the entry at: a reset to a later deadline leaves it there.
    tick: u64,
}

impl Sleep {
    pub(crate) fn new(deadline: Instant) -> Sleep {
        Sleep {
            deadline,
            registration: None,
        }
    }

    /// When the sleep completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True once the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline; the sleep completes at the new one even if the old one passed.
    pub fn reset(mut self: Pin<&mut Self>, deadline: Instant) {
        self.deadline = deadline;
        let Some(registration) = &mut self.registration else {
            return;
        };
        let tick = registration.driver.tick_for(deadline);
        // A later deadline keeps the old entry: when it fires, the poll finds the sleep not
        // yet elapsed and registers again. An earlier one must move now to wake in time.
        if tick < registration.tick {
            match registration
                .driver
                .reset(registration.shard, registration.key, tick)
            {
                Some(placed) => registration.tick = placed,
                // It fired already, and that wake will poll us.
                None => self.registration = None,
            }
        }
    }

    fn deregister(&mut self) {
        if let Some(registration) = self.registration.take() {
            let _ = registration
                .driver
                .cancel(registration.shard, registration.key, registration.tick);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            self.deregister();
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        if let Some(registration) = &mut self.registration {
            let Registration {
                driver, shard, key, ..
            } = registration;
            if driver.update_waker(*shard, *key, cx.waker()) {
                return Poll::Pending;
            }
            // The entry fired (the deadline was moved later since): register again, on this
            // thread's shard if it belongs to the same runtime.
            let shard = context::shard_of(driver).unwrap_or(*shard);
            let (new_key, tick) = driver.register(shard, driver.tick_for(deadline), cx.waker());
            *key = new_key;
            registration.shard = shard;
            registration.tick = tick;
            return Poll::Pending;
        }
        self.registration = Some(context::with_current("heist::time::Sleep", |driver, shard| {
            let (key, tick) = driver.register(shard, driver.tick_for(deadline), cx.waker());
            Registration {
                driver: driver.clone(),
                shard,
                key,
                tick,
            }
        }));
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}

//! `heist::time::Instant`: a `std::time::Instant` that follows the runtime's clock.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// A point in time, read from the current runtime's clock: the system's monotonic clock,
/// unless a test has paused it (`heist::time::pause`), in which case [`Instant::now`] stands
/// still until the clock is advanced.
///
/// It wraps a [`std::time::Instant`] on the same axis: [`from_std`](Instant::from_std) and
/// [`into_std`](Instant::into_std) (and `From` both ways) convert without changing the value.
/// Outside a runtime, and in every runtime whose clock was never paused, `Instant::now()` is
/// `std::time::Instant::now()` plus one relaxed atomic load.
///
/// In a heist runtime, `heist::time::pause` and `advance` move it; here, the driver that a
/// runtime owns is moved by hand:
///
/// ```
/// use heist_timer::{Driver, Instant};
/// use std::{sync::Arc, time::Duration};
///
/// let driver = Arc::new(Driver::new(1));
/// let _current = heist_timer::enter(driver.clone(), 0);
/// driver.pause();
/// let start = Instant::now();
/// driver.advance(Duration::from_secs(5));
/// assert_eq!(start.elapsed(), Duration::from_secs(5));
/// assert_eq!(Instant::now() - start, Duration::from_secs(5));
/// let std_instant: std::time::Instant = start.into_std();
/// assert_eq!(Instant::from_std(std_instant), start);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(std::time::Instant);

impl Instant {
    /// Now, by the current runtime's clock (the system clock outside a runtime).
    pub fn now() -> Instant {
        Instant(crate::context::now())
    }

    /// The same point in time as `std`.
    pub fn from_std(std: std::time::Instant) -> Instant {
        Instant(std)
    }

    /// The same point in time as a `std::time::Instant`.
    pub fn into_std(self) -> std::time::Instant {
        self.0
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// Time from `earlier` to `self`, or `None` if `earlier` is later.
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.0.checked_duration_since(earlier.0)
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later.
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// Time since `self`, by the current runtime's clock.
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(*self)
    }

    /// `self + duration`, or `None` if that cannot be represented.
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_add(duration).map(Instant)
    }

    /// `self - duration`, or `None` if that cannot be represented.
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_sub(duration).map(Instant)
    }
}

impl From<std::time::Instant> for Instant {
    fn from(std: std::time::Instant) -> Instant {
        Instant(std)
    }
}

impl From<Instant> for std::time::Instant {
    fn from(instant: Instant) -> std::time::Instant {
        instant.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// # Panics
    /// On overflow, as `std::time::Instant`'s.
    fn add(self, duration: Duration) -> Instant {
        Instant(self.0 + duration)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, duration: Duration) {
        self.0 += duration;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    /// # Panics
    /// On overflow, as `std::time::Instant`'s.
    fn sub(self, duration: Duration) -> Instant {
        Instant(self.0 - duration)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, duration: Duration) {
        self.0 -= duration;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// Zero if `earlier` is later, as `std::time::Instant`'s.
    fn sub(self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

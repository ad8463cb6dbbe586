//! `interval` and `interval_at`.

use crate::Instant;
use crate::sleep::{Sleep, deadline_after, sleep_until};
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// What an [`Interval`] does about ticks it could not deliver on time (the task was busy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Deliver the missed ticks as fast as possible, then return to the original schedule.
    #[default]
    Burst,
    /// Restart the schedule from now: the next tick is one period after the late one.
    Delay,
    /// Drop the missed ticks and keep the original phase: the next tick is the next multiple
    /// of the period after now.
    Skip,
}

/// A tick is late once it is delivered this much after its time.
const LATE: Duration = Duration::from_millis(5);

/// Ticks every `period`, the first tick at once.
///
/// # Panics
/// If `period` is zero. Its ticks panic as [`sleep`](crate::sleep) does: outside a runtime, or
/// after the runtime its timer registered in has shut down.
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start` (a [`heist::time::Instant`](crate::Instant)
/// or a `std::time::Instant`).
///
/// # Panics
/// If `period` is zero: an interval of zero would tick forever without waiting.
#[track_caller]
pub fn interval_at(start: impl Into<Instant>, period: Duration) -> Interval {
    assert!(
        period > Duration::ZERO,
        "heist::time::interval: the period must be greater than zero"
    );
    Interval {
        delay: sleep_until(start),
        period,
        missed_tick_behavior: MissedTickBehavior::default(),
    }
}

/// A stream of ticks; see [`interval`].
#[derive(Debug)]
pub struct Interval {
    delay: Sleep,
    period: Duration,
    missed_tick_behavior: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was scheduled for.
    ///
    /// See `heist::time` for an example.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick; for hand-written futures and streams.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        std::task::ready!(Pin::new(&mut self.delay).poll(cx));
        let scheduled = self.delay.deadline();
        let now = Instant::now();
        let next = if now > after(scheduled, LATE) {
            self.after_missed(scheduled, now)
        } else {
            after(scheduled, self.period)
        };
        Pin::new(&mut self.delay).reset(next);
        Poll::Ready(scheduled)
    }

    fn after_missed(&self, scheduled: Instant, now: Instant) -> Instant {
        match self.missed_tick_behavior {
            MissedTickBehavior::Burst => after(scheduled, self.period),
            MissedTickBehavior::Delay => after(now, self.period),
            MissedTickBehavior::Skip => {
                let behind = (now - scheduled).as_nanos() % self.period.as_nanos();
                let behind = Duration::from_nanos(u64::try_from(behind).unwrap_or(u64::MAX));
                after(now, self.period - behind)
            }
        }
    }

    /// Restarts the schedule: the next tick comes one period from now.
    pub fn reset(&mut self) {
        Pin::new(&mut self.delay).reset(after(Instant::now(), self.period));
    }

    /// The time between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// What happens to ticks delivered late.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Chooses what happens to ticks delivered late (default [`MissedTickBehavior::Burst`]).
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }
}

/// `instant + duration`, saturating at a far-off instant.
fn after(instant: Instant, duration: Duration) -> Instant {
    Instant::from_std(deadline_after(instant.into_std(), duration))
}

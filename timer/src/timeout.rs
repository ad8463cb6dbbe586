//! `timeout` and `timeout_at`.

use crate::Instant;
use crate::sleep::{Sleep, sleep, sleep_until};
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Errors of the time API.
pub mod error {
    use std::fmt;

    /// A [`timeout`](crate::timeout) ran out before its future completed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Elapsed(pub(crate) ());

    impl fmt::Display for Elapsed {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("deadline has elapsed")
        }
    }

    impl std::error::Error for Elapsed {}

    impl From<Elapsed> for std::io::Error {
        fn from(_: Elapsed) -> Self {
            std::io::ErrorKind::TimedOut.into()
        }
    }
}

/// Runs `future` for at most `duration`: `Err(Elapsed)` if it is not done by then, in which
/// case the future is dropped when the `Timeout` is.
///
/// See `heist::time` for an example.
///
/// # Panics
/// As [`sleep`](crate::sleep): outside a runtime, or after the runtime its timer registered
/// in has shut down.
pub fn timeout<F: IntoFuture>(duration: Duration, future: F) -> Timeout<F::IntoFuture> {
    Timeout {
        future: future.into_future(),
        delay: sleep(duration),
    }
}

/// Like [`timeout`], with a deadline (a [`heist::time::Instant`](crate::Instant) or a
/// `std::time::Instant`).
///
/// # Panics
/// As [`timeout`].
pub fn timeout_at<F: IntoFuture>(deadline: impl Into<Instant>, future: F) -> Timeout<F::IntoFuture> {
    Timeout {
        future: future.into_future(),
        delay: sleep_until(deadline),
    }
}

/// The future returned by [`timeout`] and [`timeout_at`].
#[must_use = "a Timeout does nothing unless awaited"]
#[derive(Debug)]
pub struct Timeout<F> {
    future: F,
    delay: Sleep,
}

impl<F> Timeout<F> {
    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// The wrapped future, mutably.
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.future
    }

    /// Gives the wrapped future back, dropping the deadline.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, error::Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of a pinned
        // `Timeout` (no method takes it by value from `Pin`, and there is no `Drop` impl), and
        // `delay` is `Unpin`, so handing out `&mut delay` moves nothing pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(output) = future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        Pin::new(&mut this.delay)
            .poll(cx)
            .map(|()| Err(error::Elapsed(())))
    }
}

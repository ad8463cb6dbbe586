//! A channel for sending a single value between tasks, in tokio's shapes, on
//! [`async-channel`](https://docs.rs/async-channel) (a channel of capacity 1).
//!
//! [`Sender::send`] is not `async`: it never waits. The [`Receiver`] is itself a future of
//! `Result<T, RecvError>`: `Err` if the sender was dropped without sending.
//!
//! [`Sender::closed`] and [`Sender::poll_closed`] wait for the receiver to close or go; as in
//! tokio, the sender keeps the waker of the last poll, which the receiver wakes, so a
//! hand-written future may poll a fresh `closed()` each time. async-channel's own `closed()`
//! forgets its waker with its future: the receiver side wakes this one itself.
//!
//! ```
//! use heist::sync::oneshot;
//!
//! heist::Runtime::new().unwrap().block_on(async {
//!     let (tx, rx) = oneshot::channel();
//!     heist::spawn(async move {
//!         tx.send(6 * 7).unwrap();
//!     });
//!     assert_eq!(rx.await, Ok(42));
//!
//!     let (tx, rx) = oneshot::channel::<u32>();
//!     drop(tx);
//!     assert_eq!(rx.await, Err(oneshot::error::RecvError));
//! });
//! ```

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;
use futures_lite::Stream;

use self::error::{RecvError, TryRecvError};

/// The errors of [`oneshot`](super::oneshot), under tokio's names.
pub mod error {
    use std::error::Error;
    use std::fmt;

    /// The sender was dropped without sending (or the value was already received).
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub struct RecvError;

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl Error for RecvError {}

    /// Why [`try_recv`](super::Receiver::try_recv) returned no value.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub enum TryRecvError {
        /// No value yet, but the sender may still send one.
        Empty,
        /// No value, and none will come: the sender was dropped without sending, the receiver
        /// was closed, or the value was already received.
        Closed,
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(match self {
                TryRecvError::Empty => "channel empty",
                TryRecvError::Closed => "channel closed",
            })
        }
    }

    impl Error for TryRecvError {}
}

/// A channel for one value.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = async_channel::bounded(1);
    let closed = Arc::new(ClosedWaker(AtomicWaker::new()));
    (
        Sender {
            inner: tx,
            closed: closed.clone(),
        },
        Receiver {
            inner: Box::pin(rx),
            closed,
        },
    )
}

/// The sending half of a [`oneshot`](super::oneshot) channel.
pub struct Sender<T> {
    inner: async_channel::Sender<T>,
    /// The waker of the last `closed()` / `poll_closed` poll, woken by the receiver's close or
    /// drop.
    closed: Arc<ClosedWaker>,
}

/// The sender's `closed()` waker, shared with the receiver.
struct ClosedWaker(AtomicWaker);

// Unwind safety (the channel's halves are unwind safe, as tokio's are): see the unbounded
// mpsc channel's `Chan`, whose `AtomicWaker` is used the same way.
impl std::panic::RefUnwindSafe for ClosedWaker {}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.inner.is_closed())
            .finish()
    }
}

impl<T> Sender<T> {
    /// Sends `value` and wakes the receiver. Fails, handing the value back, if the receiver is
    /// gone or closed.
    pub fn send(self, value: T) -> Result<(), T> {
        // The sender is consumed, so the single slot is free unless the receiver is gone.
        self.inner
            .try_send(value)
            .map_err(async_channel::TrySendError::into_inner)
    }

    /// Completes once the receiver is gone or closed (so a send would fail).
    ///
    /// Cancel safe. The waker of its last poll stays registered with the channel after the
    /// future is dropped, as [`poll_closed`](Self::poll_closed)'s does.
    pub async fn closed(&mut self) {
        poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// `Ready` once the receiver is gone or closed; when `Pending`, `cx`'s waker (replacing
    /// the one of the previous call) is woken when that happens. For hand-written futures.
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.inner.is_closed() {
            return Poll::Ready(());
        }
        // Register, then look again: a close after the first look either is seen now or wakes
        // the waker just registered (the receiver closes, then wakes).
        self.closed.0.register(cx.waker());
        if self.inner.is_closed() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Whether the receiver is gone or closed.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

/// The receiving half of a [`oneshot`](super::oneshot) channel: a future of the value.
///
/// Polling it again after it completed returns `Err(RecvError)`.
pub struct Receiver<T> {
    // Boxed because async-channel's receiver is `!Unpin` and is polled here as a stream.
    inner: Pin<Box<async_channel::Receiver<T>>>,
    /// The sender's `closed()` waker.
    closed: Arc<ClosedWaker>,
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // Closed here rather than by async-channel's receiver, just after: the sender's
        // waker must be woken once the channel is closed, not before.
        self.inner.close();
        self.closed.0.wake();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("closed", &self.inner.is_closed())
            .finish()
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it was sent, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.inner.try_recv().map_err(|err| match err {
            async_channel::TryRecvError::Empty => TryRecvError::Empty,
            async_channel::TryRecvError::Closed => TryRecvError::Closed,
        })
    }

    /// Closes the channel: a later [`Sender::send`] fails. A value sent before can still be
    /// received.
    pub fn close(&mut self) {
        self.inner.close();
        self.closed.0.wake();
    }

    /// Waits for the value from synchronous code, blocking the thread.
    ///
    /// # Panics
    /// On a heist worker thread (in a task) or inside `block_on`, where it could block forever:
    /// `.await` the async form there instead.
    #[track_caller]
    pub fn blocking_recv(self) -> Result<T, RecvError> {
        heist_executor::assert_may_block("oneshot::Receiver::blocking_recv", "receiver.await");
        self.inner.recv_blocking().map_err(|_| RecvError)
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        super::cooperative(cx, |cx| self.inner.as_mut().poll_next(cx)).map(|value| value.ok_or(RecvError))
    }
}

//! A channel for sending a single value between tasks, in tokio's shapes, on
//! [`async-channel`](https://docs.rs/async-channel) (a channel of capacity 1).
//!
//! [`Sender::send`] is not `async`: it never waits. The [`Receiver`] is itself a future of
//! `Result<T, RecvError>`: `Err` if the sender was dropped without sending.
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
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

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
    (Sender { inner: tx }, Receiver { inner: Box::pin(rx) })
}

/// The sending half of a [`oneshot`](super::oneshot) channel.
pub struct Sender<T> {
    inner: async_channel::Sender<T>,
}

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
    pub async fn closed(&self) {
        self.inner.closed().await
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
    }

    /// Waits for the value from synchronous code, blocking the thread. Never call it from a
    /// task: it would block the worker.
    pub fn blocking_recv(self) -> Result<T, RecvError> {
        self.inner.recv_blocking().map_err(|_| RecvError)
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        super::cooperative(cx, |cx| self.inner.as_mut().poll_next(cx)).map(|value| value.ok_or(RecvError))
    }
}

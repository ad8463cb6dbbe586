//! A multi-producer, single-consumer channel for sending values between tasks, in tokio's
//! shapes.
//!
//! [`channel(cap)`](channel) makes a bounded channel: [`Sender::send`] waits while `cap`
//! messages are queued. [`unbounded_channel`] makes one whose [`UnboundedSender::send`] never
//! waits (and is not `async`). Either way the receiver sees each sender's messages in the order
//! that sender sent them, [`recv`](Receiver::recv) returns `None` once every sender is gone and
//! the queue is drained, and a send fails (handing the value back) once the receiver is gone or
//! has called [`close`](Receiver::close).
//!
//! ```
//! use heist::sync::mpsc;
//!
//! heist::Runtime::new().unwrap().block_on(async {
//!     let (tx, mut rx) = mpsc::channel(16);
//!     for id in 0..3 {
//!         let tx = tx.clone();
//!         heist::spawn(async move {
//!             for i in 0..10 {
//!                 tx.send((id, i)).await.unwrap();
//!             }
//!         });
//!     }
//!     drop(tx); // otherwise `recv` would wait forever for this sender
//!
//!     let mut next = [0; 3];
//!     while let Some((id, i)) = rx.recv().await {
//!         assert_eq!(i, next[id]); // in order per sender
//!         next[id] += 1;
//!     }
//!     assert_eq!(next, [10; 3]);
//! });
//! ```
//!
//! The bounded channel is [`async-channel`](https://docs.rs/async-channel)'s; the unbounded
//! one is heist's own (`concurrent-queue`'s lock-free unbounded queue and an `AtomicWaker`),
//! because the `sync_mpsc` bench measured async-channel's unbounded channel at about half the
//! throughput of tokio's. Dropping either receiver drops the messages still queued, as tokio
//! does, even if some of their destructors panic (the first panic is passed on once every
//! message is gone).

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_lite::Stream;

use self::error::{SendError, TryRecvError, TrySendError};

mod unbounded;

/// The errors of [`mpsc`](super::mpsc), under tokio's names.
pub mod error {
    use std::error::Error;
    use std::fmt;

    /// The receiver is gone (dropped or closed): the value that was not sent is handed back.
    #[derive(PartialEq, Eq, Clone, Copy)]
    pub struct SendError<T>(pub T);

    impl<T> SendError<T> {
        /// The value that could not be sent.
        pub fn into_inner(self) -> T {
            self.0
        }
    }

    impl<T> fmt::Debug for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SendError").finish_non_exhaustive()
        }
    }

    impl<T> fmt::Display for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl<T> Error for SendError<T> {}

    /// Why [`try_send`](super::Sender::try_send) failed; the value is handed back either way.
    #[derive(PartialEq, Eq, Clone, Copy)]
    pub enum TrySendError<T> {
        /// The channel is full: every slot is taken.
        Full(T),
        /// The receiver is gone (dropped or closed).
        Closed(T),
    }

    impl<T> TrySendError<T> {
        /// The value that could not be sent.
        pub fn into_inner(self) -> T {
            match self {
                TrySendError::Full(value) | TrySendError::Closed(value) => value,
            }
        }
    }

    impl<T> From<SendError<T>> for TrySendError<T> {
        fn from(err: SendError<T>) -> Self {
            TrySendError::Closed(err.0)
        }
    }

    impl<T> fmt::Debug for TrySendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TrySendError::Full(_) => f.write_str("Full(..)"),
                TrySendError::Closed(_) => f.write_str("Closed(..)"),
            }
        }
    }

    impl<T> fmt::Display for TrySendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(match self {
                TrySendError::Full(_) => "no available capacity",
                TrySendError::Closed(_) => "channel closed",
            })
        }
    }

    impl<T> Error for TrySendError<T> {}

    /// Why [`try_recv`](super::Receiver::try_recv) returned no message.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub enum TryRecvError {
        /// Nothing is queued, but a sender may still send.
        Empty,
        /// Nothing is queued and nothing will be: every sender is gone, or the channel was
        /// closed.
        Disconnected,
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(match self {
                TryRecvError::Empty => "receiving on an empty channel",
                TryRecvError::Disconnected => "receiving on a closed channel",
            })
        }
    }

    impl Error for TryRecvError {}
}

/// Drops every message `pop` yields, and only then passes on the first panic of their
/// destructors: a message left behind would live on until the last sender goes.
fn drop_all<T>(mut pop: impl FnMut() -> Option<T>) {
    let mut first_panic = None;
    while let Some(message) = pop() {
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(message))) {
            first_panic.get_or_insert(payload);
        }
    }
    // Not while the receiver is dropped by an unwinding panic: a second one would abort the
    // process (the destructor's panic was reported by the panic hook all the same).
    if let Some(payload) = first_panic.filter(|_| !std::thread::panicking()) {
        std::panic::resume_unwind(payload);
    }
}

fn send_error<T>(err: async_channel::SendError<T>) -> SendError<T> {
    SendError(err.0)
}

fn try_send_error<T>(err: async_channel::TrySendError<T>) -> TrySendError<T> {
    match err {
        async_channel::TrySendError::Full(value) => TrySendError::Full(value),
        async_channel::TrySendError::Closed(value) => TrySendError::Closed(value),
    }
}

fn try_recv_error(err: async_channel::TryRecvError) -> TryRecvError {
    match err {
        async_channel::TryRecvError::Empty => TryRecvError::Empty,
        async_channel::TryRecvError::Closed => TryRecvError::Disconnected,
    }
}

/// A bounded channel holding at most `cap` queued messages.
///
/// # Panics
///
/// If `cap` is 0.
#[track_caller]
pub fn channel<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    assert!(cap > 0, "mpsc::channel: the capacity must be at least 1");
    let (tx, rx) = async_channel::bounded(cap);
    (Sender { inner: tx }, Receiver { inner: Box::pin(rx) })
}

/// An unbounded channel: sending never waits (and takes memory as long as the receiver lags).
///
/// ```
/// use heist::sync::mpsc;
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let (tx, mut rx) = mpsc::unbounded_channel();
///     tx.send("no await needed").unwrap();
///     drop(tx);
///     assert_eq!(rx.recv().await, Some("no await needed"));
///     assert_eq!(rx.recv().await, None);
/// });
/// ```
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let chan = Arc::new(unbounded::Chan::new());
    (UnboundedSender { chan: chan.clone() }, UnboundedReceiver { chan })
}

/// The sending half of a bounded channel, made by [`channel`]. Clone it for more senders.
pub struct Sender<T> {
    inner: async_channel::Sender<T>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("len", &self.inner.len())
            .field("capacity", &self.max_capacity())
            .field("closed", &self.inner.is_closed())
            .finish()
    }
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for a free slot while the channel is full. Fails, handing the
    /// value back, if the receiver is gone or closed.
    ///
    /// Dropping the future before it completes drops the value unsent.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        super::cooperatively(self.inner.send(value))
            .await
            .map_err(send_error)
    }

    /// Sends `value` if there is a free slot now, without waiting.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.inner.try_send(value).map_err(try_send_error)
    }

    /// [`send`](Self::send) for synchronous code: blocks the thread while the channel is full.
    ///
    /// # Panics
    /// On a heist worker thread (in a task) or inside `block_on`, where it could block forever:
    /// `.await` the async form there instead.
    #[track_caller]
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        heist_executor::assert_may_block("mpsc::Sender::blocking_send", "send(value).await");
        self.inner.send_blocking(value).map_err(send_error)
    }

    /// Completes once the receiver is gone or closed.
    pub async fn closed(&self) {
        self.inner.closed().await
    }

    /// Whether the receiver is gone or closed (a send would fail).
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The free slots now: how many messages could be sent without waiting.
    pub fn capacity(&self) -> usize {
        self.max_capacity().saturating_sub(self.inner.len())
    }

    /// The capacity the channel was made with.
    pub fn max_capacity(&self) -> usize {
        self.inner.capacity().unwrap_or(usize::MAX)
    }

    /// Whether both senders feed the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        self.inner.same_channel(&other.inner)
    }
}

/// The receiving half of a bounded channel, made by [`channel`]. Dropping it drops the
/// messages still queued.
pub struct Receiver<T> {
    // Boxed because async-channel's receiver is `!Unpin` and `poll_recv` polls it as a stream.
    inner: Pin<Box<async_channel::Receiver<T>>>,
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // async-channel would keep them until its last handle, a sender, goes. Closed first:
        // nothing can be queued after, so this ends.
        self.inner.close();
        drop_all(|| self.inner.try_recv().ok());
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.inner.len())
            .field("closed", &self.inner.is_closed())
            .finish()
    }
}

impl<T> Receiver<T> {
    /// Receives the next message, waiting for one while the queue is empty. `None` once
    /// the queue is empty and every sender is gone (or the channel was closed).
    ///
    /// Cancel safe: dropping the future before it completes loses no message.
    pub async fn recv(&mut self) -> Option<T> {
        super::cooperatively(self.inner.recv()).await.ok()
    }

    /// Receives the next message if one is queued now, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.inner.try_recv().map_err(try_recv_error)
    }

    /// [`recv`](Self::recv) for synchronous code: blocks the thread while the queue is
    /// empty.
    ///
    /// # Panics
    /// On a heist worker thread (in a task) or inside `block_on`, where it could block forever:
    /// `.await` the async form there instead.
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Option<T> {
        heist_executor::assert_may_block("mpsc::Receiver::blocking_recv", "recv().await");
        self.inner.recv_blocking().ok()
    }

    /// Polls for the next message, for hand-written futures: `Ready(None)` as
    /// [`recv`](Self::recv) returns `None`; when `Pending`, `cx`'s waker is woken by the
    /// next send or close.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        super::cooperative(cx, |cx| self.inner.as_mut().poll_next(cx))
    }

    /// Closes the channel: sends fail from now on, while the messages already queued can
    /// still be received, after which [`recv`](Self::recv) returns `None`.
    pub fn close(&mut self) {
        self.inner.close();
    }

    /// Whether the channel is closed: every sender is gone, or [`close`](Self::close) was
    /// called. Messages may still be queued.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The number of queued messages.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether no message is queued.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

/// The sending half of an unbounded channel, made by [`unbounded_channel`]. Clone it for more
/// senders.
pub struct UnboundedSender<T> {
    chan: Arc<unbounded::Chan<T>>,
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        UnboundedSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for UnboundedSender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedSender")
            .field("len", &self.chan.len())
            .field("closed", &self.chan.is_closed())
            .finish()
    }
}

impl<T> UnboundedSender<T> {
    /// Sends `value` at once (the channel is never full). Fails, handing the value back, if the
    /// receiver is gone or closed.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan.send(value).map_err(SendError)
    }

    /// Completes once the receiver is gone or closed.
    pub async fn closed(&self) {
        self.chan.closed().await
    }

    /// Whether the receiver is gone or closed (a send would fail).
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Whether both senders feed the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

/// The receiving half of an unbounded channel, made by [`unbounded_channel`]. Dropping it
/// drops the messages still queued.
pub struct UnboundedReceiver<T> {
    chan: Arc<unbounded::Chan<T>>,
}

impl<T> Drop for UnboundedReceiver<T> {
    fn drop(&mut self) {
        self.chan.drop_receiver();
    }
}

impl<T> fmt::Debug for UnboundedReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedReceiver")
            .field("len", &self.chan.len())
            .field("closed", &self.chan.is_closed())
            .finish()
    }
}

impl<T> UnboundedReceiver<T> {
    /// Receives the next message, waiting for one while the queue is empty. `None` once the
    /// queue is empty and every sender is gone (or the channel was closed).
    ///
    /// Cancel safe: dropping the future before it completes loses no message.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Receives the next message if one is queued now, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.chan.try_recv()
    }

    /// [`recv`](Self::recv) for synchronous code: blocks the thread while the queue is empty.
    ///
    /// # Panics
    /// On a heist worker thread (in a task) or inside `block_on`, where it could block forever:
    /// `.await` the async form there instead.
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Option<T> {
        heist_executor::assert_may_block("mpsc::UnboundedReceiver::blocking_recv", "recv().await");
        futures_lite::future::block_on(self.recv())
    }

    /// Polls for the next message, for hand-written futures: `Ready(None)` as
    /// [`recv`](Self::recv) returns `None`; when `Pending`, `cx`'s waker is woken by the next
    /// send or close.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        super::cooperative(cx, |cx| self.chan.poll_recv(cx))
    }

    /// Closes the channel: sends fail from now on, while the messages already queued can still
    /// be received, after which [`recv`](Self::recv) returns `None`.
    pub fn close(&mut self) {
        self.chan.close();
    }

    /// Whether the channel is closed: every sender is gone, or [`close`](Self::close) was
    /// called. Messages may still be queued.
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// The number of queued messages.
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether no message is queued.
    pub fn is_empty(&self) -> bool {
        self.chan.len() == 0
    }
}

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
//! Beyond send and receive, tokio's surface: [`Sender::reserve`] and its kin take a slot
//! first and send later through a [`Permit`] or [`OwnedPermit`] (dropping one gives the slot
//! back); [`WeakSender`] and [`WeakUnboundedSender`] do not keep the channel open;
//! [`Receiver::recv_many`] takes a batch.
//!
//! Both channels are heist's own. The bounded one is a `parking_lot` mutex around a queue,
//! the free-slot count and a FIFO of waiting senders: async-channel, which it replaced, has no
//! way to reserve a slot apart from a message, and the `sync_mpsc` bench had it at 0.91x
//! tokio at capacity 100. The unbounded one is `concurrent-queue`'s lock-free unbounded queue
//! and an `AtomicWaker`, because the same bench measured async-channel's unbounded channel
//! at about half the throughput of tokio's. Dropping either receiver drops the messages still
//! queued, as tokio does, even if some of their destructors panic (the first panic is passed on
//! once every message is gone).

use std::fmt;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};

use self::error::{SendError, TryRecvError, TrySendError};

mod bounded;
mod senders;
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

/// A bounded channel holding at most `cap` queued messages (and slots reserved by permits).
///
/// # Panics
///
/// If `cap` is 0 (a channel that can hold nothing could never send), or above
/// [`MAX_CAPACITY`]: use [`unbounded_channel`] for a channel without a bound.
#[track_caller]
pub fn channel<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    assert!(cap > 0, "mpsc::channel: the capacity must be at least 1");
    assert!(
        cap <= MAX_CAPACITY,
        "mpsc::channel: the capacity must be at most mpsc::MAX_CAPACITY ({MAX_CAPACITY}); \
         use unbounded_channel() for a channel without a bound"
    );
    let chan = Arc::new(bounded::Chan::new(cap));
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// The largest capacity [`channel`] accepts (tokio's bound too).
pub const MAX_CAPACITY: usize = usize::MAX >> 3;

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
    chan: Arc<bounded::Chan<T>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.add_sender();
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("len", &self.chan.len())
            .field("capacity", &self.max_capacity())
            .field("closed", &self.chan.is_closed())
            .finish()
    }
}

/// Waits for a slot of a bounded channel: `Ok` once one is reserved for the caller, `Err`
/// if the channel closed first. Dropped while waiting, it leaves the queue of waiting senders
/// (or passes on a slot granted to it meanwhile).
struct SlotWait<'a, T> {
    chan: &'a bounded::Chan<T>,
    wanted: usize,
    waiter: Option<Arc<bounded::Waiter>>,
}

impl<T> SlotWait<'_, T> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        match &self.waiter {
            None => match self.chan.reserve_or_wait(self.wanted, cx)? {
                None => Poll::Ready(Ok(())),
                Some(waiter) => {
                    self.waiter = Some(waiter);
                    Poll::Pending
                }
            },
            Some(waiter) => {
                let outcome = std::task::ready!(self.chan.poll_waiter(waiter, cx));
                self.waiter = None;
                Poll::Ready(outcome)
            }
        }
    }
}

impl<T> Drop for SlotWait<'_, T> {
    fn drop(&mut self) {
        if let Some(waiter) = self.waiter.take() {
            self.chan.cancel_waiter(&waiter);
        }
    }
}

async fn reserve_slots<T>(chan: &bounded::Chan<T>, wanted: usize) -> Result<(), ()> {
    let mut wait = SlotWait {
        chan,
        wanted,
        waiter: None,
    };
    poll_fn(|cx| super::cooperative(cx, |cx| wait.poll(cx))).await
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for a free slot while the channel is full. Fails, handing the
    /// value back, if the receiver is gone or closed.
    ///
    /// Senders waiting for a slot get one in the order they started waiting. Dropping the
    /// future before it completes drops the value unsent, and gives up its place.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        // The common case, a free slot, takes the lock once.
        let mut value = Some(value);
        let first = poll_fn(|cx| {
            super::cooperative(cx, |_| {
                Poll::Ready(
                    self.chan
                        .try_send(value.take().expect("polled once more after Ready")),
                )
            })
        })
        .await;
        match first {
            Ok(()) => Ok(()),
            Err((value, bounded::ReserveError::Closed)) => Err(SendError(value)),
            Err((value, bounded::ReserveError::Full)) => match reserve_slots(&self.chan, 1).await {
                Ok(()) => {
                    self.chan.send_reserved(value);
                    Ok(())
                }
                Err(()) => Err(SendError(value)),
            },
        }
    }

    /// Sends `value` if there is a free slot now (and no sender waiting for one), without
    /// waiting.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(value).map_err(|(value, err)| match err {
            bounded::ReserveError::Full => TrySendError::Full(value),
            bounded::ReserveError::Closed => TrySendError::Closed(value),
        })
    }

    /// [`send`](Self::send) for synchronous code: blocks the thread while the channel is full.
    ///
    /// # Panics
    /// On a heist worker thread (in a task) or inside `block_on`, where it could block forever:
    /// `.await` the async form there instead.
    #[track_caller]
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        heist_executor::assert_may_block("mpsc::Sender::blocking_send", "send(value).await");
        futures_lite::future::block_on(self.send(value))
    }

    /// Reserves a slot, waiting while the channel is full: the [`Permit`] then sends without
    /// waiting, or gives the slot back if dropped. Fails if the receiver is gone or closed.
    ///
    /// Cancel safe, as [`send`](Self::send): a dropped `reserve` future gives up its place in
    /// the queue of waiting senders.
    ///
    /// ```
    /// use heist::sync::mpsc;
    ///
    /// heist::Runtime::new().unwrap().block_on(async {
    ///     let (tx, mut rx) = mpsc::channel(1);
    ///     let permit = tx.reserve().await.unwrap();
    ///     assert!(tx.try_send(1).is_err()); // the one slot is reserved
    ///     permit.send(2);
    ///     assert_eq!(rx.recv().await, Some(2));
    ///
    ///     drop(tx.reserve().await.unwrap()); // a dropped permit gives its slot back
    ///     assert_eq!(tx.capacity(), 1);
    /// });
    /// ```
    pub async fn reserve(&self) -> Result<Permit<'_, T>, SendError<()>> {
        match reserve_slots(&self.chan, 1).await {
            Ok(()) => Ok(Permit { chan: &self.chan }),
            Err(()) => Err(SendError(())),
        }
    }

    /// Reserves a slot if one is free now, without waiting.
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        match self.chan.try_reserve(1) {
            Ok(()) => Ok(Permit { chan: &self.chan }),
            Err(bounded::ReserveError::Full) => Err(TrySendError::Full(())),
            Err(bounded::ReserveError::Closed) => Err(TrySendError::Closed(())),
        }
    }

    /// Reserves `n` slots at once, waiting until they are all free (holding back the senders
    /// that come after meanwhile); the [`PermitIterator`] yields one [`Permit`] per slot, and
    /// gives back the slots it did not yield when dropped. `n` = 0 completes at once. Fails if
    /// the receiver is gone or closed.
    ///
    /// ```
    /// use heist::sync::mpsc;
    ///
    /// heist::Runtime::new().unwrap().block_on(async {
    ///     let (tx, mut rx) = mpsc::channel(4);
    ///     let mut permits = tx.reserve_many(3).await.unwrap();
    ///     assert_eq!(tx.capacity(), 1);
    ///     permits.next().unwrap().send("a");
    ///     drop(permits); // the two unused slots go back
    ///     assert_eq!(tx.capacity(), 3);
    ///     assert_eq!(rx.recv().await, Some("a"));
    /// });
    /// ```
    ///
    /// # Panics
    /// If `n` is above the channel's [`max_capacity`](Self::max_capacity): the slots could
    /// never all be free (tokio returns an error there, indistinguishable from a closed
    /// channel).
    #[track_caller]
    pub fn reserve_many(
        &self,
        n: usize,
    ) -> impl std::future::Future<Output = Result<PermitIterator<'_, T>, SendError<()>>> + '_ {
        // Checked at the call, so the panic names the caller's line.
        self.check_many(n);
        async move {
            match reserve_slots(&self.chan, n).await {
                Ok(()) => Ok(PermitIterator {
                    chan: &self.chan,
                    left: n,
                }),
                Err(()) => Err(SendError(())),
            }
        }
    }

    /// Reserves `n` slots if they are all free now (and no sender waits), without waiting.
    ///
    /// # Panics
    /// If `n` is above the channel's [`max_capacity`](Self::max_capacity).
    #[track_caller]
    pub fn try_reserve_many(&self, n: usize) -> Result<PermitIterator<'_, T>, TrySendError<()>> {
        self.check_many(n);
        match self.chan.try_reserve(n) {
            Ok(()) => Ok(PermitIterator {
                chan: &self.chan,
                left: n,
            }),
            Err(bounded::ReserveError::Full) => Err(TrySendError::Full(())),
            Err(bounded::ReserveError::Closed) => Err(TrySendError::Closed(())),
        }
    }

    #[track_caller]
    fn check_many(&self, n: usize) {
        assert!(
            n <= self.max_capacity(),
            "mpsc::Sender::reserve_many: {n} slots asked of a channel of capacity {}: they could \
             never all be free; reserve at most max_capacity() at a time",
            self.max_capacity()
        );
    }

    /// [`reserve`](Self::reserve), with a permit that owns this sender (`'static`, to move
    /// into a task); [`OwnedPermit::send`] hands the sender back.
    ///
    /// ```
    /// use heist::sync::mpsc;
    ///
    /// heist::Runtime::new().unwrap().block_on(async {
    ///     let (tx, mut rx) = mpsc::channel(1);
    ///     let permit = tx.reserve_owned().await.unwrap();
    ///     let tx = heist::spawn(async move { permit.send("hi") }).await.unwrap();
    ///     assert_eq!(rx.recv().await, Some("hi"));
    ///     drop(tx);
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// ```
    pub async fn reserve_owned(self) -> Result<OwnedPermit<T>, SendError<()>> {
        match reserve_slots(&self.chan, 1).await {
            Ok(()) => Ok(OwnedPermit { sender: Some(self) }),
            Err(()) => Err(SendError(())),
        }
    }

    /// [`try_reserve`](Self::try_reserve) with an owned permit; on failure the sender is
    /// handed back in the error.
    pub fn try_reserve_owned(self) -> Result<OwnedPermit<T>, TrySendError<Self>> {
        match self.chan.try_reserve(1) {
            Ok(()) => Ok(OwnedPermit { sender: Some(self) }),
            Err(bounded::ReserveError::Full) => Err(TrySendError::Full(self)),
            Err(bounded::ReserveError::Closed) => Err(TrySendError::Closed(self)),
        }
    }

    /// Completes once the receiver is gone or closed.
    pub async fn closed(&self) {
        self.chan.closed().await
    }

    /// Whether the receiver is gone or closed (a send would fail).
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// The free slots now: how many messages could be sent (or slots reserved) without
    /// waiting.
    pub fn capacity(&self) -> usize {
        self.chan.capacity()
    }

    /// The capacity the channel was made with.
    pub fn max_capacity(&self) -> usize {
        self.chan.cap()
    }

    /// Whether both senders feed the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    /// A [`WeakSender`]: it does not keep the channel open, and can be upgraded back to a
    /// sender while some sender is alive.
    ///
    /// ```
    /// use heist::sync::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::channel::<u8>(1);
    /// let weak = tx.downgrade();
    /// assert_eq!((tx.strong_count(), tx.weak_count()), (1, 1));
    /// assert!(weak.upgrade().is_some());
    /// drop(tx);
    /// assert!(weak.upgrade().is_none()); // the last sender is gone: the channel is over
    /// assert_eq!(rx.try_recv(), Err(mpsc::error::TryRecvError::Disconnected));
    /// ```
    pub fn downgrade(&self) -> WeakSender<T> {
        self.chan.senders.add_weak();
        WeakSender {
            chan: self.chan.clone(),
        }
    }

    /// The number of [`Sender`]s (and [`OwnedPermit`]s, which each hold one) of this channel.
    pub fn strong_count(&self) -> usize {
        self.chan.senders.strong_count()
    }

    /// The number of [`WeakSender`]s of this channel.
    pub fn weak_count(&self) -> usize {
        self.chan.senders.weak_count()
    }
}

/// A reserved slot of a bounded channel, from [`Sender::reserve`] or
/// [`Sender::try_reserve`]: [`send`](Self::send) uses it, dropping it gives it back.
#[must_use = "the slot is given back at once if the permit is not used"]
pub struct Permit<'a, T> {
    chan: &'a bounded::Chan<T>,
}

impl<T> Permit<'_, T> {
    /// Sends `value` in the reserved slot, without waiting. If the receiver is gone, the
    /// value is dropped with the channel.
    pub fn send(self, value: T) {
        self.chan.send_reserved(value);
        // The slot now belongs to the queued message.
        std::mem::forget(self);
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        self.chan.release_reserved(1);
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

/// Reserved slots from [`Sender::reserve_many`] or [`Sender::try_reserve_many`]: yields one
/// [`Permit`] per slot; the slots not yielded go back when it is dropped.
#[must_use = "the slots are given back at once if the permits are not used"]
pub struct PermitIterator<'a, T> {
    chan: &'a bounded::Chan<T>,
    left: usize,
}

impl<'a, T> Iterator for PermitIterator<'a, T> {
    type Item = Permit<'a, T>;

    fn next(&mut self) -> Option<Permit<'a, T>> {
        self.left = self.left.checked_sub(1)?;
        Some(Permit { chan: self.chan })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T> ExactSizeIterator for PermitIterator<'_, T> {}

impl<T> Drop for PermitIterator<'_, T> {
    fn drop(&mut self) {
        if self.left > 0 {
            self.chan.release_reserved(self.left);
        }
    }
}

impl<T> fmt::Debug for PermitIterator<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PermitIterator")
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}

/// A reserved slot that owns its sender, from [`Sender::reserve_owned`] or
/// [`Sender::try_reserve_owned`]; `'static`. Counts as a sender while it lives.
#[must_use = "the slot is given back at once if the permit is not used"]
pub struct OwnedPermit<T> {
    /// `None` only once used.
    sender: Option<Sender<T>>,
}

impl<T> OwnedPermit<T> {
    /// Sends `value` in the reserved slot, without waiting, and hands the sender back.
    pub fn send(mut self, value: T) -> Sender<T> {
        let sender = self
            .sender
            .take()
            .expect("an unused OwnedPermit holds its sender");
        sender.chan.send_reserved(value);
        sender
    }

    /// Gives the slot back unused and hands the sender back.
    pub fn release(mut self) -> Sender<T> {
        let sender = self
            .sender
            .take()
            .expect("an unused OwnedPermit holds its sender");
        sender.chan.release_reserved(1);
        sender
    }
}

impl<T> Drop for OwnedPermit<T> {
    fn drop(&mut self) {
        if let Some(sender) = &self.sender {
            sender.chan.release_reserved(1);
        }
    }
}

impl<T> fmt::Debug for OwnedPermit<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit").finish_non_exhaustive()
    }
}

/// A sender that does not keep the channel open, from [`Sender::downgrade`]:
/// [`upgrade`](Self::upgrade) it to send.
pub struct WeakSender<T> {
    chan: Arc<bounded::Chan<T>>,
}

impl<T> WeakSender<T> {
    /// A [`Sender`], if any sender (or [`OwnedPermit`]) is still alive; `None` once the last
    /// one is gone, for good.
    pub fn upgrade(&self) -> Option<Sender<T>> {
        self.chan.senders.upgrade().then(|| Sender {
            chan: self.chan.clone(),
        })
    }

    /// The number of [`Sender`]s of this channel.
    pub fn strong_count(&self) -> usize {
        self.chan.senders.strong_count()
    }

    /// The number of [`WeakSender`]s of this channel.
    pub fn weak_count(&self) -> usize {
        self.chan.senders.weak_count()
    }
}

impl<T> Clone for WeakSender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.add_weak();
        WeakSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for WeakSender<T> {
    fn drop(&mut self) {
        self.chan.senders.drop_weak();
    }
}

impl<T> fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakSender").finish_non_exhaustive()
    }
}

/// The receiving half of a bounded channel, made by [`channel`]. Dropping it drops the
/// messages still queued.
pub struct Receiver<T> {
    chan: Arc<bounded::Chan<T>>,
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.drop_receiver();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.chan.len())
            .field("closed", &self.chan.is_closed())
            .finish()
    }
}

impl<T> Receiver<T> {
    /// Receives the next message, waiting for one while the queue is empty. `None` once
    /// the queue is empty and every sender is gone (or the channel was closed and no permit
    /// is left).
    ///
    /// Cancel safe: dropping the future before it completes loses no message.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Receives up to `limit` messages into `buffer` (appended), waiting while none is
    /// queued. Returns how many; 0 only if `limit` is 0, or once [`recv`](Self::recv) would
    /// return `None`.
    ///
    /// Cancel safe, as `recv`.
    ///
    /// ```
    /// use heist::sync::mpsc;
    ///
    /// heist::Runtime::new().unwrap().block_on(async {
    ///     let (tx, mut rx) = mpsc::channel(8);
    ///     for i in 0..5 {
    ///         tx.send(i).await.unwrap();
    ///     }
    ///     drop(tx);
    ///     let mut buffer = Vec::new();
    ///     assert_eq!(rx.recv_many(&mut buffer, 3).await, 3);
    ///     assert_eq!(rx.recv_many(&mut buffer, 3).await, 2);
    ///     assert_eq!(rx.recv_many(&mut buffer, 3).await, 0); // every sender is gone
    ///     assert_eq!(buffer, [0, 1, 2, 3, 4]);
    /// });
    /// ```
    pub async fn recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
        poll_fn(|cx| self.poll_recv_many(cx, buffer, limit)).await
    }

    /// Receives the next message if one is queued now, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.chan.try_recv()
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
        futures_lite::future::block_on(self.recv())
    }

    /// Polls for the next message, for hand-written futures: `Ready(None)` as
    /// [`recv`](Self::recv) returns `None`; when `Pending`, `cx`'s waker is woken by the
    /// next send or close.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        super::cooperative(cx, |cx| self.chan.poll_recv(cx))
    }

    /// Polls for up to `limit` messages, as [`recv_many`](Self::recv_many).
    pub fn poll_recv_many(&mut self, cx: &mut Context<'_>, buffer: &mut Vec<T>, limit: usize) -> Poll<usize> {
        if limit == 0 {
            return Poll::Ready(0);
        }
        super::cooperative(cx, |cx| self.chan.poll_recv_many(cx, buffer, limit))
    }

    /// Closes the channel: sends and reservations fail from now on, while the messages
    /// already queued (and those sent through permits reserved before) can still be
    /// received, after which [`recv`](Self::recv) returns `None`.
    pub fn close(&mut self) {
        self.chan.close();
    }

    /// Whether the channel is closed: every sender is gone, or [`close`](Self::close) was
    /// called. Messages may still be queued.
    pub fn is_closed(&self) -> bool {
        self.chan.senders.strong_count() == 0 || self.chan.is_closed()
    }

    /// The number of queued messages.
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether no message is queued.
    pub fn is_empty(&self) -> bool {
        self.chan.len() == 0
    }

    /// The free slots now (neither queued nor reserved).
    pub fn capacity(&self) -> usize {
        self.chan.capacity()
    }

    /// The capacity the channel was made with.
    pub fn max_capacity(&self) -> usize {
        self.chan.cap()
    }

    /// The number of [`Sender`]s of this channel.
    pub fn sender_strong_count(&self) -> usize {
        self.chan.senders.strong_count()
    }

    /// The number of [`WeakSender`]s of this channel.
    pub fn sender_weak_count(&self) -> usize {
        self.chan.senders.weak_count()
    }
}

/// The sending half of an unbounded channel, made by [`unbounded_channel`]. Clone it for more
/// senders.
pub struct UnboundedSender<T> {
    chan: Arc<unbounded::Chan<T>>,
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.add_sender();
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

    /// A [`WeakUnboundedSender`]: it does not keep the channel open, and can be upgraded back
    /// to a sender while some sender is alive.
    ///
    /// ```
    /// use heist::sync::mpsc;
    ///
    /// let (tx, _rx) = mpsc::unbounded_channel::<u8>();
    /// let weak = tx.downgrade();
    /// assert_eq!((tx.strong_count(), tx.weak_count()), (1, 1));
    /// weak.upgrade().unwrap().send(1).unwrap();
    /// drop(tx);
    /// assert!(weak.upgrade().is_none());
    /// ```
    pub fn downgrade(&self) -> WeakUnboundedSender<T> {
        self.chan.senders.add_weak();
        WeakUnboundedSender {
            chan: self.chan.clone(),
        }
    }

    /// The number of [`UnboundedSender`]s of this channel.
    pub fn strong_count(&self) -> usize {
        self.chan.senders.strong_count()
    }

    /// The number of [`WeakUnboundedSender`]s of this channel.
    pub fn weak_count(&self) -> usize {
        self.chan.senders.weak_count()
    }
}

/// An unbounded sender that does not keep the channel open, from
/// [`UnboundedSender::downgrade`]: [`upgrade`](Self::upgrade) it to send.
pub struct WeakUnboundedSender<T> {
    chan: Arc<unbounded::Chan<T>>,
}

impl<T> WeakUnboundedSender<T> {
    /// An [`UnboundedSender`], if any is still alive; `None` once the last one is gone, for
    /// good.
    pub fn upgrade(&self) -> Option<UnboundedSender<T>> {
        self.chan.senders.upgrade().then(|| UnboundedSender {
            chan: self.chan.clone(),
        })
    }

    /// The number of [`UnboundedSender`]s of this channel.
    pub fn strong_count(&self) -> usize {
        self.chan.senders.strong_count()
    }

    /// The number of [`WeakUnboundedSender`]s of this channel.
    pub fn weak_count(&self) -> usize {
        self.chan.senders.weak_count()
    }
}

impl<T> Clone for WeakUnboundedSender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.add_weak();
        WeakUnboundedSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for WeakUnboundedSender<T> {
    fn drop(&mut self) {
        self.chan.senders.drop_weak();
    }
}

impl<T> fmt::Debug for WeakUnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakUnboundedSender").finish_non_exhaustive()
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

    /// Receives up to `limit` messages into `buffer` (appended), waiting while none is
    /// queued. Returns how many; 0 only if `limit` is 0, or once [`recv`](Self::recv) would
    /// return `None`. Cancel safe, as `recv`.
    ///
    /// ```
    /// use heist::sync::mpsc;
    ///
    /// heist::Runtime::new().unwrap().block_on(async {
    ///     let (tx, mut rx) = mpsc::unbounded_channel();
    ///     tx.send(1).unwrap();
    ///     tx.send(2).unwrap();
    ///     let mut buffer = Vec::new();
    ///     assert_eq!(rx.recv_many(&mut buffer, 10).await, 2);
    ///     assert_eq!(buffer, [1, 2]);
    /// });
    /// ```
    pub async fn recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
        poll_fn(|cx| self.poll_recv_many(cx, buffer, limit)).await
    }

    /// Polls for up to `limit` messages, as [`recv_many`](Self::recv_many).
    pub fn poll_recv_many(&mut self, cx: &mut Context<'_>, buffer: &mut Vec<T>, limit: usize) -> Poll<usize> {
        if limit == 0 {
            return Poll::Ready(0);
        }
        super::cooperative(cx, |cx| {
            let Some(first) = std::task::ready!(self.chan.poll_recv(cx)) else {
                return Poll::Ready(0);
            };
            buffer.push(first);
            let mut taken = 1;
            while taken < limit {
                let Ok(value) = self.chan.try_recv() else { break };
                buffer.push(value);
                taken += 1;
            }
            Poll::Ready(taken)
        })
    }

    /// Receives the next message if one is queued now, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.chan.try_recv()
    }

    /// The number of [`UnboundedSender`]s of this channel.
    pub fn sender_strong_count(&self) -> usize {
        self.chan.senders.strong_count()
    }

    /// The number of [`WeakUnboundedSender`]s of this channel.
    pub fn sender_weak_count(&self) -> usize {
        self.chan.senders.weak_count()
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

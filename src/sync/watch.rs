//! A multi-producer, multi-consumer channel that holds one value, the latest, in tokio's
//! shape: receivers [`borrow`](Receiver::borrow) it, and wait for the next change with
//! [`changed`](Receiver::changed). A receiver that misses several changes sees only the
//! latest value.
//!
//! ```
//! use heist::sync::watch;
//!
//! heist::Runtime::new().unwrap().block_on(async {
//!     let (tx, mut rx) = watch::channel("starting");
//!     let task = heist::spawn(async move {
//!         // Waits for the first change, then sees the value then current.
//!         rx.changed().await.unwrap();
//!         let seen = *rx.borrow_and_update();
//!         seen
//!     });
//!     tx.send("ready").unwrap();
//!     assert_eq!(task.await.unwrap(), "ready");
//!     assert_eq!(*tx.borrow(), "ready");
//! });
//! ```
//!
//! heist's own: a `parking_lot` read-write lock around the value, a version number bumped
//! under its write lock, and a [`Notify`] whose `notify_waiters` wakes the
//! waiting receivers. A receiver remembers the version it has seen; "changed" means the
//! channel's version is another.
//!
//! A [`Ref`] holds the read lock: the sender waits while one is alive, so drop it before
//! awaiting anything (it is `!Send`, which keeps it out of spawned futures' await points).

use std::error::Error;
use std::fmt;
use std::future::poll_fn;
use std::ops::Deref;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::Poll;

use parking_lot::{RwLock, RwLockReadGuard};

use super::Notify;

/// The errors of [`watch`](super::watch), under tokio's names.
pub mod error {
    pub use super::{RecvError, SendError};
}

/// A watch channel holding `init`; the receiver counts it as seen.
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        value: RwLock::new(init),
        version: AtomicU64::new(0),
        sender_gone: AtomicBool::new(false),
        senders: AtomicUsize::new(1),
        receivers: AtomicUsize::new(1),
        changed: Notify::new(),
        receivers_gone: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, seen: 0 },
    )
}

// Unwind safety, as tokio's watch channel (whose lock ignores poisoning): the one place user
// code runs under the lock is a `send_modify`/`send_if_modified` closure; if it panics, the
// value is as the closure left it and the change is not announced (documented there), which is
// the closure's own doing, as with any `&mut` it panics holding.
impl<T> std::panic::RefUnwindSafe for Shared<T> {}

struct Shared<T> {
    value: RwLock<T>,
    /// Bumped (under the write lock) by each change.
    version: AtomicU64,
    /// Set when the last sender goes.
    sender_gone: AtomicBool,
    senders: AtomicUsize,
    receivers: AtomicUsize,
    /// Wakes waiting receivers on each change and when the sender goes.
    changed: Notify,
    /// Wakes `Sender::closed` when the last receiver goes.
    receivers_gone: Notify,
}

impl<T> Shared<T> {
    /// Changes the value with `modify` if it says it did, under the write lock; wakes the
    /// receivers if so.
    fn modify(&self, modify: impl FnOnce(&mut T) -> bool) -> bool {
        let mut value = self.value.write();
        let modified = modify(&mut value);
        if modified {
            self.version.fetch_add(1, Ordering::Release);
        }
        drop(value);
        if modified {
            self.changed.notify_waiters();
        }
        modified
    }
}

/// The sending half of a watch channel, made by [`channel`]. Clone it for more senders; the
/// channel closes for the receivers when the last one goes.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// A sender of a new channel holding `init`, with no receiver yet
    /// ([`subscribe`](Self::subscribe) makes them).
    pub fn new(init: T) -> Self {
        let (tx, rx) = channel(init);
        drop(rx);
        tx
    }

    /// Replaces the value and wakes the receivers, unless there is no receiver: then the
    /// value is handed back and the channel is unchanged (use
    /// [`send_replace`](Self::send_replace) to store it anyway).
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.receiver_count() == 0 {
            return Err(SendError(value));
        }
        self.send_replace(value);
        Ok(())
    }

    /// Replaces the value, receivers or not, wakes the receivers, and returns the old value.
    pub fn send_replace(&self, value: T) -> T {
        let mut value = Some(value);
        let mut old = None;
        self.shared.modify(|current| {
            old = Some(std::mem::replace(
                current,
                value.take().expect("modify runs once"),
            ));
            true
        });
        old.expect("modify runs once")
    }

    /// Changes the value in place with `modify`, and wakes the receivers (receivers or not).
    /// If `modify` panics the change is not announced.
    ///
    /// ```
    /// let (tx, rx) = heist::sync::watch::channel(vec![1]);
    /// tx.send_modify(|list| list.push(2));
    /// assert!(rx.has_changed().unwrap());
    /// assert_eq!(*rx.borrow(), [1, 2]);
    /// ```
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        self.shared.modify(|value| {
            modify(value);
            true
        });
    }

    /// Changes the value in place with `modify`, which returns whether it changed anything;
    /// only then are the receivers woken. Returns what `modify` returned.
    ///
    /// ```
    /// let (tx, rx) = heist::sync::watch::channel(3);
    /// assert!(!tx.send_if_modified(|n| std::mem::replace(n, 3) != 3));
    /// assert!(!rx.has_changed().unwrap());
    /// assert!(tx.send_if_modified(|n| std::mem::replace(n, 4) != 4));
    /// assert!(rx.has_changed().unwrap());
    /// ```
    pub fn send_if_modified(&self, modify: impl FnOnce(&mut T) -> bool) -> bool {
        self.shared.modify(modify)
    }

    /// The current value. The returned [`Ref`] holds a read lock: sends wait while it lives.
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref {
            guard: self.shared.value.read(),
            has_changed: false,
        }
    }

    /// A new receiver, which counts the current value as seen.
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.receivers.fetch_add(1, Ordering::Relaxed);
        let value = self.shared.value.read();
        let seen = self.shared.version.load(Ordering::Acquire);
        drop(value);
        Receiver {
            shared: self.shared.clone(),
            seen,
        }
    }

    /// The number of senders now (clones of this one).
    pub fn sender_count(&self) -> usize {
        self.shared.senders.load(Ordering::Acquire)
    }

    /// The number of receivers now.
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.load(Ordering::Acquire)
    }

    /// Whether every receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.receiver_count() == 0
    }

    /// Completes once every receiver is gone.
    pub async fn closed(&self) {
        loop {
            // Waiting from here on, so the last receiver going between the check and the
            // await still wakes us.
            let notified = self.shared.receivers_gone.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// Whether both belong to the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        self.shared.sender_gone.store(true, Ordering::Release);
        self.shared.changed.notify_waiters();
    }
}

impl<T: fmt::Debug> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("value", &*self.borrow())
            .field("receivers", &self.receiver_count())
            .finish()
    }
}

/// The receiving half of a watch channel, made by [`channel`] or [`Sender::subscribe`].
/// Clones share nothing but the channel: each has its own idea of what it has seen.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The version this receiver has seen.
    seen: u64,
}

impl<T> Receiver<T> {
    /// The current value, without marking it seen. The returned [`Ref`] holds a read lock:
    /// sends wait while it lives.
    pub fn borrow(&self) -> Ref<'_, T> {
        let guard = self.shared.value.read();
        let has_changed = self.shared.version.load(Ordering::Acquire) != self.seen;
        Ref { guard, has_changed }
    }

    /// The current value, marking it seen.
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let guard = self.shared.value.read();
        let version = self.shared.version.load(Ordering::Acquire);
        let has_changed = version != self.seen;
        self.seen = version;
        Ref { guard, has_changed }
    }

    /// Whether the value changed since this receiver last saw it.
    ///
    /// # Errors
    /// [`RecvError`] once the sender is gone.
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        if self.shared.sender_gone.load(Ordering::Acquire) {
            return Err(RecvError(()));
        }
        Ok(self.shared.version.load(Ordering::Acquire) != self.seen)
    }

    /// Makes the current value count as not seen: the next [`changed`](Self::changed)
    /// completes at once.
    pub fn mark_changed(&mut self) {
        self.seen = self.shared.version.load(Ordering::Acquire).wrapping_sub(1);
    }

    /// Makes the current value count as seen.
    pub fn mark_unchanged(&mut self) {
        let _value = self.shared.value.read();
        self.seen = self.shared.version.load(Ordering::Acquire);
    }

    /// Waits for a value this receiver has not seen, and marks it seen; completes at once if
    /// there is one already. Cancel safe.
    ///
    /// # Errors
    /// [`RecvError`] once the sender is gone and the current value is seen.
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        let shared = &*self.shared;
        let seen = &mut self.seen;
        let mut notified = pin!(shared.changed.notified());
        poll_fn(|cx| {
            super::cooperative(cx, |cx| {
                loop {
                    // Gone first: if it is, every change was made before, and is seen below.
                    let sender_gone = shared.sender_gone.load(Ordering::Acquire);
                    let version = shared.version.load(Ordering::Acquire);
                    if version != *seen {
                        *seen = version;
                        return Poll::Ready(Ok(()));
                    }
                    if sender_gone {
                        return Poll::Ready(Err(RecvError(())));
                    }
                    std::task::ready!(notified.as_mut().poll_unbudgeted(cx));
                    // Notified: wait again from now on, then look.
                    notified.set(shared.changed.notified());
                }
            })
        })
        .await
    }

    /// Waits until `condition` holds for the value (checked at once, then on each change),
    /// marks that value seen and returns it. Cancel safe.
    ///
    /// ```
    /// use heist::sync::watch;
    ///
    /// heist::Runtime::new().unwrap().block_on(async {
    ///     let (tx, mut rx) = watch::channel(0);
    ///     heist::spawn(async move {
    ///         for i in 1..=5 {
    ///             tx.send(i).unwrap();
    ///             heist::task::yield_now().await;
    ///         }
    ///     });
    ///     assert!(*rx.wait_for(|n| *n >= 3).await.unwrap() >= 3);
    /// });
    /// ```
    ///
    /// # Errors
    /// [`RecvError`] if the sender goes before the condition holds.
    pub async fn wait_for(&mut self, mut condition: impl FnMut(&T) -> bool) -> Result<Ref<'_, T>, RecvError> {
        let shared = &*self.shared;
        let seen = &mut self.seen;
        let mut notified = pin!(shared.changed.notified());
        poll_fn(|cx| {
            super::cooperative(cx, |cx| {
                loop {
                    let closed = shared.sender_gone.load(Ordering::Acquire);
                    let guard = shared.value.read();
                    if condition(&guard) {
                        // Read under the lock: the version of the value that satisfied it.
                        *seen = shared.version.load(Ordering::Acquire);
                        return Poll::Ready(Ok(Ref {
                            guard,
                            has_changed: false,
                        }));
                    }
                    drop(guard);
                    if closed {
                        return Poll::Ready(Err(RecvError(())));
                    }
                    std::task::ready!(notified.as_mut().poll_unbudgeted(cx));
                    notified.set(shared.changed.notified());
                }
            })
        })
        .await
    }

    /// Whether both belong to the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.shared.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.receivers_gone.notify_waiters();
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("value", &*self.borrow())
            .field("seen", &self.seen)
            .finish()
    }
}

/// A borrowed value of a watch channel: holds its read lock (the sender waits while it
/// lives), so keep it short.
pub struct Ref<'a, T> {
    guard: RwLockReadGuard<'a, T>,
    has_changed: bool,
}

impl<T> Ref<'_, T> {
    /// Whether this value had not been seen by the receiver that borrowed it (always false
    /// for [`Sender::borrow`]).
    pub fn has_changed(&self) -> bool {
        self.has_changed
    }
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Every receiver is gone: the value that was not sent is handed back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

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

/// The sender is gone.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct RecvError(pub(crate) ());

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("channel closed")
    }
}

impl Error for RecvError {}

//! A multi-producer, multi-consumer broadcast channel, in tokio's shape: every receiver sees
//! every value sent after it subscribed, in order.
//!
//! The channel holds the last `cap` values. Senders never wait: a send into a full channel
//! evicts the oldest value, and a receiver that had not seen it yet gets
//! [`RecvError::Lagged`]`(n)` on its next receive (`n` values it missed) and goes on from the
//! oldest value still held. Once every sender is gone, receivers get what is left, then
//! [`RecvError::Closed`]. A value is cloned for each receiver, except the last to take it,
//! which gets the value itself; it is dropped as soon as every receiver that was there when
//! it was sent has seen it (or left).
//!
//! ```
//! use heist::sync::broadcast::{self, error::RecvError};
//!
//! heist::Runtime::new().unwrap().block_on(async {
//!     let (tx, mut rx1) = broadcast::channel(2);
//!     let mut rx2 = tx.subscribe();
//!     tx.send(1).unwrap();
//!     assert_eq!(rx1.recv().await, Ok(1));
//!
//!     tx.send(2).unwrap();
//!     tx.send(3).unwrap(); // full: 1 is evicted, and rx2 had not seen it
//!     assert_eq!(rx2.recv().await, Err(RecvError::Lagged(1)));
//!     assert_eq!(rx2.recv().await, Ok(2));
//!     assert_eq!(rx1.recv().await, Ok(2));
//!
//!     drop(tx);
//!     assert_eq!(rx1.recv().await, Ok(3));
//!     assert_eq!(rx1.recv().await, Err(RecvError::Closed));
//! });
//! ```
//!
//! heist's own, not `async-broadcast`'s: async-broadcast's senders wait while the channel is
//! full unless overflow mode is on, and in overflow mode it reports the loss per receiver as
//! `Overflowed` but has no `resubscribe` and counts capacity differently; tokio's code expects
//! exactly these semantics (senders never wait, `Lagged(n)` then skip ahead, `len`,
//! `receiver_count`), and a channel that is one short critical section per operation under a
//! `parking_lot` mutex gives them with little code. Unlike tokio, the capacity is exact (tokio
//! rounds it up to a power of two), so a receiver lags once it is more than `cap` values
//! behind, never later.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use self::error::{RecvError, SendError, TryRecvError};

/// The errors of [`broadcast`](super::broadcast), under tokio's names.
pub mod error {
    use std::error::Error;
    use std::fmt;

    /// No receiver is subscribed: the value that was not sent is handed back.
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

    /// Why [`recv`](super::Receiver::recv) returned no value.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub enum RecvError {
        /// Every sender is gone and this receiver has seen every value.
        Closed,
        /// This receiver fell more than the capacity behind: this many values were evicted
        /// before it saw them. The next receive returns the oldest value still held.
        Lagged(u64),
    }

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                RecvError::Closed => f.write_str("channel closed"),
                RecvError::Lagged(n) => write!(f, "channel lagged by {n}"),
            }
        }
    }

    impl Error for RecvError {}

    /// Why [`try_recv`](super::Receiver::try_recv) returned no value.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub enum TryRecvError {
        /// This receiver has seen every value sent so far; a sender may send more.
        Empty,
        /// Every sender is gone and this receiver has seen every value.
        Closed,
        /// As [`RecvError::Lagged`].
        Lagged(u64),
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("channel empty"),
                TryRecvError::Closed => f.write_str("channel closed"),
                TryRecvError::Lagged(n) => write!(f, "channel lagged by {n}"),
            }
        }
    }

    impl Error for TryRecvError {}
}

/// A broadcast channel holding the last `cap` values.
///
/// # Panics
///
/// If `cap` is 0 (nothing could be held for a receiver to see), or above `usize::MAX / 2`.
#[track_caller]
pub fn channel<T: Clone>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let tx = Sender::new(cap);
    let rx = tx.subscribe();
    (tx, rx)
}

struct Shared<T> {
    state: Mutex<State<T>>,
}

// Unwind safety, as tokio's broadcast channel: values move in by value and out as clones, never
// lent; a `clone` that panics does so before the state changes, and values are dropped after
// the lock is released, so no panic leaves the state half-changed.
impl<T> std::panic::RefUnwindSafe for Shared<T> {}

struct State<T> {
    /// The values held, oldest first; `values[i]` has position `head + i`. Each counts the
    /// receivers that have yet to see it, and leaves the front once that count is 0.
    values: VecDeque<Held<T>>,
    cap: usize,
    /// The position of the oldest value held: every value before it was seen or evicted.
    head: u64,
    receivers: usize,
    senders: usize,
    next_receiver_id: u64,
    /// Wakers of receivers waiting for a value, by receiver id; a send or the last sender's
    /// drop takes them all.
    waiting: HashMap<u64, Waker>,
}

struct Held<T> {
    /// `None` once the last receiver that had to see it took it.
    value: Option<T>,
    unseen_by: usize,
}

impl<T> State<T> {
    /// The position the next value sent will have.
    fn tail(&self) -> u64 {
        self.head + self.values.len() as u64
    }

    /// Forgets the fronts that every receiver has seen (their values were taken already).
    fn pop_seen(&mut self) {
        while self.values.front().is_some_and(|held| held.unseen_by == 0) {
            self.values.pop_front();
            self.head += 1;
        }
    }

    fn take_waiting(&mut self) -> Vec<Waker> {
        self.waiting.drain().map(|(_, waker)| waker).collect()
    }
}

/// The sending half of a broadcast channel, made by [`channel`]. Clone it for more senders.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// A sender of a new channel holding the last `cap` values, with no receiver yet
    /// ([`subscribe`](Self::subscribe) makes them; sends fail until then).
    ///
    /// # Panics
    ///
    /// As [`channel`].
    #[track_caller]
    pub fn new(cap: usize) -> Self {
        assert!(cap > 0, "broadcast::channel: the capacity must be at least 1");
        assert!(
            cap <= usize::MAX / 2,
            "broadcast::channel: the capacity must be at most usize::MAX / 2"
        );
        Sender {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    values: VecDeque::with_capacity(cap.min(64)),
                    cap,
                    head: 0,
                    receivers: 0,
                    senders: 1,
                    next_receiver_id: 0,
                    waiting: HashMap::new(),
                }),
            }),
        }
    }

    /// Sends `value` to every receiver subscribed now, without waiting; if the channel is
    /// full, the oldest value is evicted (receivers that had not seen it will lag). Returns
    /// how many receivers will see it; fails, handing the value back, if there are none.
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let mut state = self.shared.state.lock();
        if state.receivers == 0 {
            return Err(SendError(value));
        }
        // Dropped after the lock: a value's destructor may do anything.
        let evicted = if state.values.len() == state.cap {
            state.head += 1;
            state.values.pop_front()
        } else {
            None
        };
        let receivers = state.receivers;
        state.values.push_back(Held {
            value: Some(value),
            unseen_by: receivers,
        });
        let waiting = state.take_waiting();
        drop(state);
        drop(evicted);
        for waker in waiting {
            waker.wake();
        }
        Ok(receivers)
    }

    /// A new receiver, which sees the values sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        new_receiver(&self.shared)
    }

    /// The number of receivers subscribed now.
    pub fn receiver_count(&self) -> usize {
        self.shared.state.lock().receivers
    }

    /// The number of values held: sent, and not yet seen by every receiver that was
    /// subscribed then (nor evicted).
    pub fn len(&self) -> usize {
        self.shared.state.lock().values.len()
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether both senders feed the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

fn new_receiver<T>(shared: &Arc<Shared<T>>) -> Receiver<T> {
    let mut state = shared.state.lock();
    state.receivers += 1;
    let id = state.next_receiver_id;
    state.next_receiver_id += 1;
    let next = state.tail();
    drop(state);
    Receiver {
        shared: shared.clone(),
        next,
        id,
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.state.lock().senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        state.senders -= 1;
        if state.senders > 0 {
            return;
        }
        let waiting = state.take_waiting();
        drop(state);
        for waker in waiting {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state.lock();
        f.debug_struct("Sender")
            .field("len", &state.values.len())
            .field("receivers", &state.receivers)
            .finish()
    }
}

/// The receiving half of a broadcast channel, from [`channel`] or [`Sender::subscribe`].
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The position of the next value this receiver sees.
    next: u64,
    /// Its key in `State::waiting`.
    id: u64,
}

impl<T: Clone> Receiver<T> {
    /// Receives the next value, waiting while there is none. Cancel safe: dropping the future
    /// before it completes loses no value.
    ///
    /// # Errors
    ///
    /// [`RecvError::Lagged`]`(n)` if `n` values were evicted before this receiver saw them
    /// (the next call returns the oldest value still held), [`RecvError::Closed`] once every
    /// sender is gone and this receiver has seen every value.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        poll_fn(|cx| super::cooperative(cx, |cx| self.poll_recv(cx))).await
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        match self.take(Some(cx.waker())) {
            Ok(value) => Poll::Ready(Ok(value)),
            Err(TryRecvError::Empty) => Poll::Pending,
            Err(TryRecvError::Closed) => Poll::Ready(Err(RecvError::Closed)),
            Err(TryRecvError::Lagged(n)) => Poll::Ready(Err(RecvError::Lagged(n))),
        }
    }

    /// Receives the next value if there is one now, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.take(None)
    }

    /// [`recv`](Self::recv) for synchronous code: blocks the thread while there is no value.
    ///
    /// # Panics
    /// On a heist worker thread (in a task) or inside `block_on`, where it could block forever:
    /// `.await` the async form there instead.
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Result<T, RecvError> {
        heist_executor::assert_may_block("broadcast::Receiver::blocking_recv", "recv().await");
        futures_lite::future::block_on(self.recv())
    }

    /// One step of a receive; with a waker, an `Empty` result registers it.
    fn take(&mut self, waker: Option<&Waker>) -> Result<T, TryRecvError> {
        let mut state = self.shared.state.lock();
        if self.next < state.head {
            let missed = state.head - self.next;
            self.next = state.head;
            return Err(TryRecvError::Lagged(missed));
        }
        let index = (self.next - state.head) as usize;
        let Some(held) = state.values.get_mut(index) else {
            if state.senders == 0 {
                return Err(TryRecvError::Closed);
            }
            if let Some(waker) = waker {
                match state.waiting.get_mut(&self.id) {
                    Some(old) if old.will_wake(waker) => {}
                    Some(old) => old.clone_from(waker),
                    None => {
                        state.waiting.insert(self.id, waker.clone());
                    }
                }
            }
            return Err(TryRecvError::Empty);
        };
        // Cloned before anything changes: a panicking `clone` leaves the state as it was.
        let value = if held.unseen_by == 1 {
            held.value
                .take()
                .expect("a value is held until its last receiver takes it")
        } else {
            held.value
                .clone()
                .expect("a value is held until its last receiver takes it")
        };
        held.unseen_by -= 1;
        self.next += 1;
        state.pop_seen();
        Ok(value)
    }
}

impl<T> Receiver<T> {
    /// A new receiver of the same channel, which sees the values sent from now on (not the
    /// ones this receiver has yet to see).
    pub fn resubscribe(&self) -> Self {
        new_receiver(&self.shared)
    }

    /// The number of values this receiver has yet to see (evicted ones not counted).
    pub fn len(&self) -> usize {
        let state = self.shared.state.lock();
        (state.tail() - self.next.max(state.head)) as usize
    }

    /// Whether this receiver has seen every value sent so far.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether both receivers belong to the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Whether every sender is gone (values may still be left to receive).
    pub fn is_closed(&self) -> bool {
        self.shared.state.lock().senders == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        state.receivers -= 1;
        state.waiting.remove(&self.id);
        // The values this receiver will never see no longer wait for it.
        let start = self.next.saturating_sub(state.head) as usize;
        let mut unneeded = Vec::new();
        for held in state.values.iter_mut().skip(start) {
            held.unseen_by -= 1;
            if held.unseen_by == 0 {
                unneeded.extend(held.value.take());
            }
        }
        state.pop_seen();
        drop(state);
        drop(unneeded);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

//! The bounded channel's core, heist's own: one `parking_lot` mutex around the queue, the
//! count of free slots, the senders waiting for a slot (FIFO) and the receiver's waker.
//!
//! Why not async-channel any more: tokio's permits (`reserve`, `Permit`, `OwnedPermit`) take a
//! slot without sending, and give it back if dropped; async-channel has no way to hold a slot
//! apart from a message. And the `sync_mpsc` bench had async-channel at 0.91x tokio at
//! capacity 100: its senders wait through `event-listener`, whose notification takes a lock of
//! its own after the queue's atomics. A single short critical section per operation, with no
//! allocation on the fast paths, does both jobs. Everything shared, the waiting senders' state
//! and wakers included, is read and written only under that lock, so there is no lock-free
//! protocol to get wrong (nothing to model with loom); `parking_lot`'s uncontended lock is one
//! CAS.
//!
//! Slots: a slot is *free*, *reserved* (held by a permit, or granted to a waiting sender that
//! has not yet taken it), or *queued* (held by a message). `free + reserved + queued == cap`.
//! The receiver frees a slot per message it takes; a freed slot goes straight to the sender
//! that has waited longest, if any (so a sender that comes later cannot overtake waiting ones),
//! else back to `free`.
//!
//! Closing: the receiver closes the channel (by `close` or by being dropped); from then on no
//! slot is handed out, and waiting senders fail. Messages already queued, and those sent
//! through permits taken before the close, can still be received. `recv` returns `None` once
//! the queue is empty and either every sender is gone or the channel is closed and no slot is
//! reserved (no permit can send any more).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, Waker};

use parking_lot::{Mutex, MutexGuard};

use super::error::TryRecvError;
use crate::sync::Notify;

pub(super) struct Chan<T> {
    state: Mutex<State<T>>,
    cap: usize,
    /// Live `Sender`s (and `OwnedPermit`s, which each hold one) and `WeakSender`s.
    pub(super) senders: super::senders::SenderCounts,
    /// Wakes `Sender::closed` waiters when the channel closes.
    closed_notify: Notify,
}

struct State<T> {
    queue: VecDeque<T>,
    free: usize,
    closed: bool,
    /// Senders waiting for a slot, longest first, with their wakers.
    waiting: VecDeque<(Arc<Waiter>, Waker)>,
    /// The receiver's waker, taken (and woken) by the next send or close.
    rx_waker: Option<Waker>,
}

/// A sender waiting for a slot. `status` is read and written only under the channel's lock
/// (an atomic only to be shared without `unsafe`; the lock orders every access).
pub(super) struct Waiter {
    /// Slots it waits for (1, or `reserve_many`'s `n`).
    wanted: usize,
    status: AtomicU8,
}

const WAITING: u8 = 0;
const GRANTED: u8 = 1;
const REFUSED: u8 = 2;

/// Why no slot was handed out.
pub(super) enum ReserveError {
    Full,
    Closed,
}

/// Wakers to wake once the lock is released (a waker may run arbitrary code, even drop a
/// handle of this very channel). Mostly one: the list allocates only for more.
#[derive(Default)]
struct Wakes {
    first: Option<Waker>,
    more: Vec<Waker>,
}

impl Wakes {
    fn add(&mut self, waker: Option<Waker>) {
        let Some(waker) = waker else { return };
        match self.first {
            None => self.first = Some(waker),
            Some(_) => self.more.push(waker),
        }
    }

    fn wake(self) {
        if let Some(waker) = self.first {
            waker.wake();
        }
        for waker in self.more {
            waker.wake();
        }
    }
}

// Unwind safety, as the unbounded channel's: messages move through by value, and no panic can
// happen under the lock while the state is half-changed (the queue's growth may fail to
// allocate, which aborts).
impl<T> std::panic::RefUnwindSafe for Chan<T> {}

impl<T> Chan<T> {
    /// A channel of `cap` slots with one sender.
    pub(super) fn new(cap: usize) -> Self {
        Chan {
            state: Mutex::new(State {
                // Grows on demand: `cap` may be large.
                queue: VecDeque::with_capacity(cap.min(64)),
                free: cap,
                closed: false,
                waiting: VecDeque::new(),
                rx_waker: None,
            }),
            cap,
            senders: super::senders::SenderCounts::new(),
            closed_notify: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock()
    }

    pub(super) fn cap(&self) -> usize {
        self.cap
    }

    /// Sends `value` if a slot is free now and no sender waits for one (which would have it
    /// first).
    pub(super) fn try_send(&self, value: T) -> Result<(), (T, ReserveError)> {
        let mut state = self.lock();
        if state.closed {
            return Err((value, ReserveError::Closed));
        }
        if state.free == 0 || !state.waiting.is_empty() {
            return Err((value, ReserveError::Full));
        }
        state.free -= 1;
        state.queue.push_back(value);
        let rx = state.rx_waker.take();
        drop(state);
        if let Some(rx) = rx {
            rx.wake();
        }
        Ok(())
    }

    /// Takes `n` slots if they are free now and no sender waits for any.
    pub(super) fn try_reserve(&self, n: usize) -> Result<(), ReserveError> {
        let mut state = self.lock();
        if state.closed {
            Err(ReserveError::Closed)
        } else if state.free < n || !state.waiting.is_empty() {
            Err(ReserveError::Full)
        } else {
            state.free -= n;
            Ok(())
        }
    }

    /// Takes `n` slots, or joins the queue of waiting senders. `Ok(None)`: the slots are
    /// reserved.
    pub(super) fn reserve_or_wait(&self, n: usize, cx: &mut Context<'_>) -> Result<Option<Arc<Waiter>>, ()> {
        let mut state = self.lock();
        if state.closed {
            return Err(());
        }
        if state.free >= n && state.waiting.is_empty() {
            state.free -= n;
            return Ok(None);
        }
        let waiter = Arc::new(Waiter {
            wanted: n,
            status: AtomicU8::new(WAITING),
        });
        state.waiting.push_back((waiter.clone(), cx.waker().clone()));
        Ok(Some(waiter))
    }

    /// Polls a waiting sender: `Ready(Ok)` once a slot was granted to it.
    pub(super) fn poll_waiter(&self, waiter: &Arc<Waiter>, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        let mut state = self.lock();
        match waiter.status.load(Ordering::Relaxed) {
            GRANTED => Poll::Ready(Ok(())),
            REFUSED => Poll::Ready(Err(())),
            _ => {
                // Still queued (granting and refusing take it out): refresh its waker.
                if let Some((_, waker)) = state.waiting.iter_mut().find(|(w, _)| Arc::ptr_eq(w, waiter)) {
                    if !waker.will_wake(cx.waker()) {
                        waker.clone_from(cx.waker());
                    }
                }
                Poll::Pending
            }
        }
    }

    /// A waiting sender gives up (its future was dropped): leaves the queue, or passes on the
    /// slots it was granted but did not take.
    pub(super) fn cancel_waiter(&self, waiter: &Arc<Waiter>) {
        let mut state = self.lock();
        match waiter.status.load(Ordering::Relaxed) {
            WAITING => {
                if let Some(at) = state.waiting.iter().position(|(w, _)| Arc::ptr_eq(w, waiter)) {
                    state.waiting.remove(at);
                }
                // A `reserve_many` leaving may have held back smaller waiters behind it.
                let wake = state.release(0);
                drop(state);
                wake.wake();
            }
            GRANTED => {
                let wake = state.release(waiter.wanted);
                drop(state);
                wake.wake();
            }
            _ => {}
        }
    }

    /// Queues `value` in a slot reserved before.
    pub(super) fn send_reserved(&self, value: T) {
        let mut state = self.lock();
        state.queue.push_back(value);
        let rx = state.rx_waker.take();
        drop(state);
        if let Some(rx) = rx {
            rx.wake();
        }
    }

    /// Gives back `n` slots reserved before and not used.
    pub(super) fn release_reserved(&self, n: usize) {
        let mut state = self.lock();
        let mut wake = state.release(n);
        if state.closed {
            // The receiver may be waiting for the last permit to go before it returns `None`.
            wake.add(state.rx_waker.take());
        }
        drop(state);
        wake.wake();
    }

    pub(super) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut state = self.lock();
        match state.queue.pop_front() {
            Some(value) => {
                let wake = state.release(1);
                drop(state);
                wake.wake();
                Ok(value)
            }
            None if self.is_finished(&state) => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Nothing more can come: every sender is gone, or the channel is closed and no slot is
    /// reserved.
    fn is_finished(&self, state: &State<T>) -> bool {
        self.senders.strong_count() == 0 || (state.closed && state.free == self.cap)
    }

    /// Moves up to `limit` messages into `buffer`; `Ready(0)` once nothing more can come.
    pub(super) fn poll_recv_many(
        &self,
        cx: &mut Context<'_>,
        buffer: &mut Vec<T>,
        limit: usize,
    ) -> Poll<usize> {
        let mut state = self.lock();
        let take = state.queue.len().min(limit);
        if take > 0 {
            buffer.extend(state.queue.drain(..take));
            let wake = state.release(take);
            drop(state);
            wake.wake();
            return Poll::Ready(take);
        }
        if self.is_finished(&state) {
            return Poll::Ready(0);
        }
        match &mut state.rx_waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    pub(super) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = self.lock();
        if let Some(value) = state.queue.pop_front() {
            let wake = state.release(1);
            drop(state);
            wake.wake();
            return Poll::Ready(Some(value));
        }
        if self.is_finished(&state) {
            return Poll::Ready(None);
        }
        match &mut state.rx_waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Closes the channel (no more slots are handed out; waiting senders fail) and wakes
    /// whoever waits on it.
    pub(super) fn close(&self) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        state.closed = true;
        let waiting = std::mem::take(&mut state.waiting);
        for (waiter, _) in &waiting {
            waiter.status.store(REFUSED, Ordering::Relaxed);
        }
        let rx = state.rx_waker.take();
        drop(state);
        for (_, waker) in waiting {
            waker.wake();
        }
        if let Some(rx) = rx {
            rx.wake();
        }
        self.closed_notify.notify_waiters();
    }

    /// Closed by the receiver (senders may still be alive).
    pub(super) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    pub(super) fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Free slots now.
    pub(super) fn capacity(&self) -> usize {
        self.lock().free
    }

    /// Completes once the channel is closed.
    pub(super) async fn closed(&self) {
        loop {
            // Waiting for `notify_waiters` from here on, so a close between the check and the
            // await still wakes us.
            let notified = self.closed_notify.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// Drops a sender; the last one wakes the receiver, which then sees the end.
    pub(super) fn drop_sender(&self) {
        if self.senders.remove_sender() {
            // Under the lock: a receiver that looked at the count before the decrement has
            // registered its waker by now.
            let rx = self.lock().rx_waker.take();
            if let Some(rx) = rx {
                rx.wake();
            }
        }
    }

    /// The receiver is gone: close, and drop what is queued now rather than when the last
    /// sender goes, even if a destructor panics.
    pub(super) fn drop_receiver(&self) {
        self.close();
        super::drop_all(|| {
            let mut state = self.lock();
            let value = state.queue.pop_front()?;
            // Closed: no waiter to grant the slot to.
            state.free += 1;
            Some(value)
        });
    }
}

impl<T> State<T> {
    /// Frees `n` slots: they go to the longest waiting senders, in order, as long as the
    /// first in line can have all it waits for; the rest go back to `free`. Returns the
    /// granted senders' wakers, to wake after the lock.
    fn release(&mut self, n: usize) -> Wakes {
        self.free += n;
        let mut wakes = Wakes::default();
        while let Some((head, _)) = self.waiting.front() {
            if head.wanted > self.free {
                break;
            }
            self.free -= head.wanted;
            head.status.store(GRANTED, Ordering::Relaxed);
            let (_, waker) = self.waiting.pop_front().expect("the head was just seen");
            wakes.add(Some(waker));
        }
        wakes
    }
}

//! The unbounded channel's core, heist's own: a lock-free queue (`concurrent-queue`'s
//! unbounded one, linked blocks of slots) plus one `AtomicWaker` for the single receiver.
//!
//! async-channel, which the bounded channel uses, wakes receivers through `event-listener`,
//! whose list takes a lock on every send while the receiver waits; with a single receiver an
//! `AtomicWaker` does, and the `sync_mpsc` bench measured async-channel's unbounded channel at
//! about half the throughput of tokio's.
//!
//! Closing: the queue closes when the last sender goes or the receiver closes or goes. A closed
//! queue refuses pushes but still pops what it holds, then reports `Closed`. Every path that
//! closes it then wakes the receiver and the senders' `closed()` waiters.

use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;
use concurrent_queue::{ConcurrentQueue, PopError};

use super::error::TryRecvError;
use crate::sync::Notify;

pub(super) struct Chan<T> {
    queue: ConcurrentQueue<T>,
    /// The receiver's waker: woken by every send and by closing.
    rx_waker: AtomicWaker,
    /// Live `UnboundedSender`s and `WeakUnboundedSender`s.
    pub(super) senders: super::senders::SenderCounts,
    /// Wakes `UnboundedSender::closed` waiters when the channel closes.
    closed: Notify,
}

// Unwind safety, for both halves of the channel (tokio's are unwind safe): messages move
// through it by value, never lent, so `T`'s unwind safety does not matter; the queue and the
// `Notify` are unwind safe themselves. The `AtomicWaker` is changed only by `register` and
// `wake`, whose one way to panic is the receiver's own waker panicking in its clone or drop
// (inside `register`): only that receiver's wake-ups are then lost, as they are whenever a
// waker's clone fails, with or without a catch_unwind boundary.
impl<T> std::panic::RefUnwindSafe for Chan<T> {}

impl<T> Chan<T> {
    /// A channel with one sender.
    pub(super) fn new() -> Self {
        Chan {
            queue: ConcurrentQueue::unbounded(),
            rx_waker: AtomicWaker::new(),
            senders: super::senders::SenderCounts::new(),
            closed: Notify::new(),
        }
    }

    /// Queues `value`, or hands it back if the channel is closed.
    pub(super) fn send(&self, value: T) -> Result<(), T> {
        self.queue.push(value).map_err(|err| err.into_inner())?;
        self.rx_waker.wake();
        Ok(())
    }

    pub(super) fn try_recv(&self) -> Result<T, TryRecvError> {
        self.queue.pop().map_err(|err| match err {
            PopError::Empty => TryRecvError::Empty,
            PopError::Closed => TryRecvError::Disconnected,
        })
    }

    pub(super) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.queue.pop() {
            Ok(value) => return Poll::Ready(Some(value)),
            Err(PopError::Closed) => return Poll::Ready(None),
            Err(PopError::Empty) => {}
        }
        // Register, then look again: a send or close after the first look either is seen now
        // or wakes the waker just registered.
        self.rx_waker.register(cx.waker());
        match self.queue.pop() {
            Ok(value) => Poll::Ready(Some(value)),
            Err(PopError::Closed) => Poll::Ready(None),
            Err(PopError::Empty) => Poll::Pending,
        }
    }

    /// Closes the channel (if it is not already) and wakes whoever waits on it.
    pub(super) fn close(&self) {
        if self.queue.close() {
            self.rx_waker.wake();
            self.closed.notify_waiters();
        }
    }

    pub(super) fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Completes once the channel is closed.
    pub(super) async fn closed(&self) {
        loop {
            // Waiting for `notify_waiters` from here on, so a close between the check and the
            // await still wakes us.
            let notified = self.closed.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// Drops a sender; the last one closes the channel.
    pub(super) fn drop_sender(&self) {
        if self.senders.remove_sender() {
            self.close();
        }
    }

    /// The receiver is gone: close, and drop what is queued now rather than when the last
    /// sender goes (nothing can be queued after the close), even if a destructor panics.
    pub(super) fn drop_receiver(&self) {
        self.close();
        super::drop_all(|| self.queue.pop().ok());
    }
}

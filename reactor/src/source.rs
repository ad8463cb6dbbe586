//! One registered source's readiness and the tasks waiting on it.
//!
//! The readiness word packs two direction bits, a `CLOSED` bit (the reactor is gone: every
//! wait fails instead of hanging) and, above them, a *tick* that every event increments. A task
//! that saw readiness and then got `WouldBlock` clears only the readiness it saw: if the tick
//! has moved on, an event arrived in between and the clear is skipped. Without the tick, a
//! clear could erase that newer event, and with edge-triggered polling the task would sleep
//! forever (the ABA case).
//!
//! Waking is lock-then-check on the waiter side and set-then-lock on the event side: an event
//! sets the bits and then takes the waiter lock; a waiter stores its waker under that lock and
//! then re-reads the bits. Whichever comes second sees the other, so no wake is lost.

use crate::sync::Mutex;
use crate::sync::atomic::{AtomicUsize, Ordering::*};
use std::io;
use std::task::{Context, Poll, Waker};

const READABLE: usize = 0b0001;
const WRITABLE: usize = 0b0010;
const CLOSED: usize = 0b0100;
/// The peer has closed its sending side (a FIN, or a hang-up): sticky, and it keeps a short
/// read from clearing read readiness, so the reader still learns of the end of the stream.
const READ_CLOSED: usize = 0b1000;
const READINESS_MASK: usize = READABLE | WRITABLE;
const TICK_SHIFT: u32 = 4;

/// Which half of a source a task waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read = 0,
    #[cfg_attr(loom, allow(dead_code))]
    Write = 1,
}

impl Direction {
    pub(crate) fn bit(self) -> usize {
        match self {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        }
    }
}

/// What one poller event says of a source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReadyEvent {
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// The peer closed its side; only backends that can tell (`Poller::reports_read_closed`)
    /// ever set it.
    pub(crate) read_closed: bool,
}

/// Readiness a task observed: what to clear if its operation would block.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ready {
    tick: usize,
    bit: usize,
}

#[cfg(test)]
impl Ready {
    pub(crate) fn tick(&self) -> usize {
        self.tick
    }
}

/// Tasks waiting on a source.
///
/// Two kinds, because they end differently. The futures of the async methods (`readable`,
/// `read_with`, `recv`...) are listed with an id and take themselves off the list when dropped,
/// so an abandoned wait leaves nothing behind. The poll API (`poll_read_with`, the `AsyncRead`
/// and `AsyncWrite` impls) has no drop to hook: its wakers are kept, once per task
/// (`will_wake`), until an event takes them, so several tasks may poll one socket without a
/// lost wake. A socket that sees many abandoned poll-API waits and no event could collect them
/// forever, so past `MAX_POLL_WAITERS` the list is flushed: every waker in it is woken (live
/// waiters poll again and re-register, dead ones are dropped).
#[derive(Default)]
struct Waiters {
    polling: [Vec<Waker>; 2],
    futures: Vec<FutureWaiter>,
    next_id: u64,
}

struct FutureWaiter {
    id: u64,
    direction: Direction,
    waker: Waker,
}

/// See [`Waiters`]: the most poll-API wakers one direction of a source keeps.
#[cfg_attr(loom, allow(dead_code))]
const MAX_POLL_WAITERS: usize = 64;

impl Waiters {
    fn take_ready(&mut self, readable: bool, writable: bool, wakers: &mut Vec<Waker>) {
        if readable {
            wakers.append(&mut self.polling[Direction::Read as usize]);
        }
        if writable {
            wakers.append(&mut self.polling[Direction::Write as usize]);
        }
        let mut index = 0;
        while index < self.futures.len() {
            let ready = match self.futures[index].direction {
                Direction::Read => readable,
                Direction::Write => writable,
            };
            if ready {
                wakers.push(self.futures.swap_remove(index).waker);
            } else {
                index += 1;
            }
        }
    }

    /// Lists `waker` for `direction` under `id` (a new id on first use, or when an event took
    /// the entry, which woke us, and we wait again); updates the waker if it changed.
    fn list(&mut self, direction: Direction, waker: &Waker, id: &mut Option<u64>) {
        let listed = id.and_then(|id| self.futures.iter_mut().find(|waiter| waiter.id == id));
        match listed {
            Some(waiter) => {
                if !waiter.waker.will_wake(waker) {
                    waiter.waker = waker.clone();
                }
            }
            None => {
                let new_id = self.next_id;
                self.next_id += 1;
                self.futures.push(FutureWaiter {
                    id: new_id,
                    direction,
                    waker: waker.clone(),
                });
                *id = Some(new_id);
            }
        }
    }
}

pub(crate) struct Source {
    state: AtomicUsize,
    waiters: Mutex<Waiters>,
}

// Unwind safety (see `Reactor`'s): the readiness bits are atomics, and the waiter lists are
// changed under their lock only by pushes, removals and a waker's clone, which comes before
// the push, so a panicking clone leaves the list as it was; lists are woken after the lock is
// released.
impl std::panic::RefUnwindSafe for Source {}

pub(crate) fn closed_error() -> io::Error {
    crate::shutdown_error(
        "the heist runtime that drives this I/O object has shut down: create I/O objects inside \
         the runtime that will use them, and keep that runtime alive while they are in use",
    )
}

impl Source {
    /// A new source starts out ready in both directions: the first operation is tried at once,
    /// and only a `WouldBlock` makes it wait for the poller.
    pub(crate) fn new() -> Self {
        Source {
            state: AtomicUsize::new(READINESS_MASK),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    /// Records an event and moves the wakers it satisfies into `wakers` (woken by the caller,
    /// after it lets go of its locks).
    pub(crate) fn set_ready(&self, event: ReadyEvent, wakers: &mut Vec<Waker>) {
        let ReadyEvent {
            readable,
            writable,
            read_closed,
        } = event;
        let bits = if readable { READABLE } else { 0 }
            | if writable { WRITABLE } else { 0 }
            | if read_closed { READ_CLOSED | READABLE } else { 0 };
        if bits == 0 {
            return;
        }
        // One RMW: the bits and a tick one higher (wrapping is harmless: a clear compares
        // ticks for equality only, and 2^61 events between a read and its clear cannot happen).
        let _ = self.state.fetch_update(AcqRel, Acquire, |state| {
            Some(state.wrapping_add(1 << TICK_SHIFT) | bits)
        });
        self.waiters.lock().take_ready(readable, writable, wakers);
    }

    /// The reactor is going away: fail every current and future wait.
    pub(crate) fn close(&self, wakers: &mut Vec<Waker>) {
        self.state.fetch_or(CLOSED, AcqRel);
        self.waiters.lock().take_ready(true, true, wakers);
    }

    // The poll API of `Async`, which is not built under loom.
    #[cfg_attr(loom, allow(dead_code))]
    /// Ready if the direction's bit is set; otherwise keeps `cx`'s waker (poll API) and
    /// returns `Pending`.
    pub(crate) fn poll_ready(&self, direction: Direction, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        if let Some(ready) = self.check(direction) {
            return Poll::Ready(ready);
        }
        let flushed = {
            let mut waiters = self.waiters.lock();
            let list = &mut waiters.polling[direction as usize];
            let flushed = if list.iter().any(|waker| waker.will_wake(cx.waker())) {
                Vec::new()
            } else {
                let flushed = if list.len() >= MAX_POLL_WAITERS {
                    std::mem::take(list)
                } else {
                    Vec::new()
                };
                list.push(cx.waker().clone());
                flushed
            };
            // Re-read under the lock: an event that set the bit before we stored the waker has
            // already passed the lock and would not wake us.
            if let Some(ready) = self.check(direction) {
                drop(waiters);
                flushed.into_iter().for_each(Waker::wake);
                return Poll::Ready(ready);
            }
            flushed
        };
        flushed.into_iter().for_each(Waker::wake);
        Poll::Pending
    }

    /// Like [`poll_ready`](Self::poll_ready) for a future that calls [`forget`](Self::forget)
    /// with `id` when dropped: its waker is listed under `id` (assigned on first use).
    pub(crate) fn poll_ready_listed(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
        id: &mut Option<u64>,
    ) -> Poll<io::Result<Ready>> {
        if let Some(ready) = self.check(direction) {
            return Poll::Ready(ready);
        }
        let mut waiters = self.waiters.lock();
        waiters.list(direction, cx.waker(), id);
        // Re-read under the lock, as in `poll_ready`.
        match self.check(direction) {
            Some(ready) => Poll::Ready(ready),
            None => Poll::Pending,
        }
    }

    /// Like [`poll_ready_listed`](Self::poll_ready_listed) for any of the directions in
    /// `mask` (READABLE and/or WRITABLE): one listed waker per direction, under `ids[direction]`.
    /// Also returns what was seen, for the public readiness API.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn poll_interest_listed(
        &self,
        mask: usize,
        cx: &mut Context<'_>,
        ids: &mut [Option<u64>; 2],
    ) -> Poll<io::Result<(Ready, crate::interest::Ready)>> {
        if let Some(ready) = self.check_interest(mask) {
            return Poll::Ready(ready);
        }
        let mut waiters = self.waiters.lock();
        for direction in [Direction::Read, Direction::Write] {
            if mask & direction.bit() != 0 {
                waiters.list(direction, cx.waker(), &mut ids[direction as usize]);
            }
        }
        match self.check_interest(mask) {
            Some(ready) => Poll::Ready(ready),
            None => Poll::Pending,
        }
    }

    /// The readiness within `mask` now, if any (for `try_io`, which never waits).
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn check_interest(&self, mask: usize) -> Option<io::Result<(Ready, crate::interest::Ready)>> {
        let state = self.state.load(Acquire);
        if state & CLOSED != 0 {
            return Some(Err(closed_error()));
        }
        let bits = state & mask & READINESS_MASK;
        (bits != 0).then(|| {
            let seen = crate::interest::Ready::new(
                bits & READABLE != 0,
                bits & WRITABLE != 0,
                bits & READABLE != 0 && state & READ_CLOSED != 0,
            );
            Ok((
                Ready {
                    tick: state >> TICK_SHIFT,
                    bit: bits,
                },
                seen,
            ))
        })
    }

    /// A listed future is done or dropped: takes its waker off the list, if still there.
    pub(crate) fn forget(&self, id: u64) {
        let mut waiters = self.waiters.lock();
        if let Some(index) = waiters.futures.iter().position(|waiter| waiter.id == id) {
            waiters.futures.swap_remove(index);
        }
    }

    /// True when some task waits for `direction` (for one-shot pollers, which must re-arm).
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn has_waiters(&self, direction: Direction) -> bool {
        let waiters = self.waiters.lock();
        !waiters.polling[direction as usize].is_empty()
            || waiters.futures.iter().any(|waiter| waiter.direction == direction)
    }

    fn check(&self, direction: Direction) -> Option<io::Result<Ready>> {
        let state = self.state.load(Acquire);
        if state & CLOSED != 0 {
            return Some(Err(closed_error()));
        }
        (state & direction.bit() != 0).then_some(Ok(Ready {
            tick: state >> TICK_SHIFT,
            bit: direction.bit(),
        }))
    }

    /// How many events this source has had (modulo wrapping).
    #[cfg(any(test, loom))]
    pub(crate) fn tick(&self) -> usize {
        self.state.load(Acquire) >> TICK_SHIFT
    }

    /// After a `WouldBlock`: clears the readiness `ready` reported, unless an event came since.
    pub(crate) fn clear(&self, ready: Ready) {
        let _ = self.state.fetch_update(AcqRel, Acquire, |state| {
            (state >> TICK_SHIFT == ready.tick).then_some(state & !ready.bit)
        });
    }

    /// After a short read or write of a byte stream, which emptied the receive buffer or filled
    /// the send buffer: clears like [`clear`](Self::clear), except read readiness once the
    /// peer has closed its side (the next read must return the end of the stream).
    pub(crate) fn clear_drained(&self, ready: Ready) {
        let _ = self.state.fetch_update(AcqRel, Acquire, |state| {
            let keep = ready.bit == READABLE && state & READ_CLOSED != 0;
            (state >> TICK_SHIFT == ready.tick && !keep).then_some(state & !ready.bit)
        });
    }
}

//! The reactor: the poller, the table of registered sources, and the one call that turns OS
//! events into task wakes ([`Reactor::poll`]).
//!
//! A source's poller key is its slot in the table plus the slot's generation. A source is
//! deleted from the poller before its descriptor is closed, and its slot is reused only under
//! a new generation: an event still in flight for a deleted source (taken by a wait that raced
//! the delete) finds a different generation and is dropped, so it can never reach a stranger.

use crate::poller::{Backend, Events, Poller};
use crate::source::{Direction, Ready, Source, closed_error};
use crate::sync::Mutex;
use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

#[cfg(not(loom))]
use crate::sys::BorrowedSource;

const INDEX_BITS: u32 = usize::BITS / 2;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;

/// One runtime's reactor: owned by the runtime, shared by every I/O object it created.
pub struct Reactor {
    poller: Poller,
    sources: Mutex<Table>,
    /// How many sources are registered: with none, busy workers skip their periodic poll.
    registered: AtomicUsize,
    /// Held by the one thread inside [`poll`](Self::poll); also its reusable buffers.
    waiter: Mutex<Dispatch>,
    closed: AtomicBool,
}

struct Dispatch {
    events: Events,
    wakers: Vec<Waker>,
}

// Unwind safety, for every I/O type (they hold a reactor; tokio's are unwind safe): the two
// locks (parking_lot's, which do not poison) guard a slot table and the poller's buffers,
// updated by code that runs nothing of the user's but wakes, and each wake's panic is caught
// (`wake_isolated`). A panic elsewhere cannot leave either half-updated.
impl std::panic::RefUnwindSafe for Reactor {}

#[derive(Default)]
struct Table {
    slots: Vec<Slot>,
    free: Vec<usize>,
}

#[derive(Default)]
struct Slot {
    generation: usize,
    source: Option<Arc<Source>>,
}

impl Table {
    fn insert(&mut self, source: Arc<Source>) -> usize {
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot::default());
            self.slots.len() - 1
        });
        assert!(index <= INDEX_MASK, "too many I/O sources registered at once");
        let slot = &mut self.slots[index];
        slot.source = Some(source);
        index | (slot.generation << INDEX_BITS)
    }

    fn get(&self, key: usize) -> Option<&Arc<Source>> {
        let slot = self.slots.get(key & INDEX_MASK)?;
        (slot.generation == key >> INDEX_BITS)
            .then_some(slot.source.as_ref())
            .flatten()
    }

    fn remove(&mut self, key: usize) {
        let index = key & INDEX_MASK;
        let slot = &mut self.slots[index];
        debug_assert_eq!(slot.generation, key >> INDEX_BITS);
        slot.source = None;
        // Wraps within the bits left over by the index; usize::MAX (polling's own key) would
        // need both parts all ones, and the index never gets there.
        slot.generation = (slot.generation + 1) & (usize::MAX >> INDEX_BITS);
        self.free.push(index);
    }
}

/// Wakes `waker`, keeping a panic in it (a bug in whoever made the waker) from unwinding into
/// the thread that dispatches events: the rest of the batch would never be woken, and that
/// thread is one of the runtime's workers.
fn wake_isolated(waker: Waker) {
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake())) {
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(not a string)");
        eprintln!("heist: a waker panicked when an I/O event woke it, and was skipped: {message}");
    }
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("registered", &self.registered.load(Relaxed))
            .finish_non_exhaustive()
    }
}

impl Reactor {
    /// A reactor with its own OS poller (an epoll or kqueue descriptor).
    pub fn new() -> io::Result<Reactor> {
        Self::with_poller(Poller::new(Backend::from_env())?)
    }

    /// Like [`new`](Self::new), but with one-shot registrations even where edge-triggered ones
    /// exist: tests use it to cover the path taken on platforms without edge triggering.
    #[doc(hidden)]
    pub fn new_oneshot() -> io::Result<Reactor> {
        Self::with_poller(Poller::new(Backend::PortableOneshot)?)
    }

    fn with_poller(poller: Poller) -> io::Result<Reactor> {
        let events = poller.events();
        Ok(Reactor {
            poller,
            sources: Mutex::new(Table::default()),
            registered: AtomicUsize::new(0),
            waiter: Mutex::new(Dispatch {
                events,
                wakers: Vec::new(),
            }),
            closed: AtomicBool::new(false),
        })
    }

    /// Waits for I/O events (at most `timeout`; `Some(ZERO)` just looks) and wakes the tasks
    /// they make ready. Returns how many events arrived.
    ///
    /// One thread at a time: a call made while another is inside returns `Ok(0)` at once. The
    /// wakes happen on the calling thread, after every lock is released.
    pub fn poll(&self, timeout: Option<Duration>) -> io::Result<usize> {
        let Some(mut dispatch) = self.waiter.try_lock() else {
            return Ok(0);
        };
        let Dispatch { events, wakers } = &mut *dispatch;
        self.poller.wait(events, timeout)?;
        let mut count = 0;
        {
            let sources = self.sources.lock();
            for event in events.iter() {
                count += 1;
                if let Some(source) = sources.get(event.key) {
                    source.set_ready(event.ready, wakers);
                }
            }
        }
        wakers.drain(..).for_each(wake_isolated);
        Ok(count)
    }

    /// Wakes the thread blocked in [`poll`](Self::poll), or makes the next call return at once.
    pub fn notify(&self) {
        // The only failure is a full eventfd counter, which still wakes the waiter.
        let _ = self.poller.notify();
    }

    /// True when some source is registered, so that polling could find something.
    pub fn has_sources(&self) -> bool {
        self.registered.load(Relaxed) > 0
    }

    /// Fails every current and future wait on this reactor's sources with an error saying the
    /// runtime is gone, rather than leaving their tasks asleep forever. Called at shutdown.
    pub fn close(&self) {
        self.closed.store(true, SeqCst);
        let mut wakers = Vec::new();
        {
            let sources = self.sources.lock();
            for slot in &sources.slots {
                if let Some(source) = &slot.source {
                    source.close(&mut wakers);
                }
            }
        }
        wakers.into_iter().for_each(wake_isolated);
    }

    fn insert(&self, source: Arc<Source>) -> io::Result<usize> {
        let mut sources = self.sources.lock();
        // Checked under the table lock, which `close` also takes: a source registered after
        // `close` cannot slip past it.
        if self.closed.load(SeqCst) {
            return Err(closed_error());
        }
        self.registered.fetch_add(1, Relaxed);
        Ok(sources.insert(source))
    }

    fn remove(&self, key: usize) {
        self.sources.lock().remove(key);
        self.registered.fetch_sub(1, Relaxed);
    }
}

/// A source registered with a reactor: what an I/O object holds to wait for readiness.
pub(crate) struct Registration {
    reactor: Arc<Reactor>,
    source: Arc<Source>,
    key: usize,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration").field("key", &self.key).finish()
    }
}

impl Registration {
    /// Registers `fd` for both directions.
    ///
    /// # Safety
    /// `fd` must stay open until [`deregister`](Self::deregister) has been called with it.
    #[cfg(not(loom))]
    pub(crate) unsafe fn new(reactor: Arc<Reactor>, fd: BorrowedSource<'_>) -> io::Result<Self> {
        let source = Arc::new(Source::new());
        let key = reactor.insert(source.clone())?;
        // SAFETY: the caller keeps `fd` open until `deregister`, which deletes it first.
        if let Err(error) = unsafe { reactor.poller.add(fd, key) } {
            reactor.remove(key);
            return Err(error);
        }
        Ok(Registration { reactor, source, key })
    }

    /// Deletes `fd` from the poller and frees the table slot; call before closing `fd`.
    #[cfg(not(loom))]
    pub(crate) fn deregister(&self, fd: BorrowedSource<'_>) {
        // Failure means the descriptor is not registered any more (say, closed behind our
        // back): either way the poller will not report it again.
        let _ = self.reactor.poller.delete(fd);
        self.reactor.remove(self.key);
    }

    /// Waits for `direction` to be ready (poll API: see `Waiters` for how wakers are kept).
    #[cfg(not(loom))]
    pub(crate) fn poll_ready(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
        fd: BorrowedSource<'_>,
    ) -> Poll<io::Result<Ready>> {
        let spent = std::task::ready!(heist_coop::poll_proceed(cx));
        let poll = self.source.poll_ready(direction, cx);
        Self::spend_if_ready(spent, &poll);
        self.rearm_if_pending(poll, fd)
    }

    /// Readiness reported is an operation about to complete: it costs a unit of the task's
    /// cooperative budget, so a task whose socket is always ready still yields its worker.
    #[cfg(not(loom))]
    fn spend_if_ready<T>(spent: heist_coop::Spent, poll: &Poll<T>) {
        if poll.is_ready() {
            spent.made_progress();
        }
    }

    /// Waits for `direction` to be ready, for a future that calls [`forget`](Self::forget)
    /// with `id` when it is dropped.
    #[cfg(not(loom))]
    pub(crate) fn poll_ready_listed(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
        fd: BorrowedSource<'_>,
        id: &mut Option<u64>,
    ) -> Poll<io::Result<Ready>> {
        let spent = std::task::ready!(heist_coop::poll_proceed(cx));
        let poll = self.source.poll_ready_listed(direction, cx, id);
        Self::spend_if_ready(spent, &poll);
        self.rearm_if_pending(poll, fd)
    }

    /// One-shot pollers report a source once, then forget it until re-armed: a task that is
    /// about to sleep asks again for the directions someone waits on.
    #[cfg(not(loom))]
    fn rearm_if_pending<T>(&self, poll: Poll<io::Result<T>>, fd: BorrowedSource<'_>) -> Poll<io::Result<T>> {
        if poll.is_pending() && self.reactor.poller.needs_rearm() {
            let read = self.source.has_waiters(Direction::Read);
            let write = self.source.has_waiters(Direction::Write);
            if let Err(error) = self.reactor.poller.rearm(fd, self.key, read, write) {
                return Poll::Ready(Err(error));
            }
        }
        poll
    }

    /// Waits for any direction of `mask` to be ready, for a future that calls
    /// [`forget`](Self::forget) with each of `ids` when it is dropped.
    #[cfg(not(loom))]
    pub(crate) fn poll_interest_listed(
        &self,
        mask: usize,
        cx: &mut Context<'_>,
        fd: BorrowedSource<'_>,
        ids: &mut [Option<u64>; 2],
    ) -> Poll<io::Result<(Ready, crate::interest::Ready)>> {
        let spent = std::task::ready!(heist_coop::poll_proceed(cx));
        let poll = self.source.poll_interest_listed(mask, cx, ids);
        Self::spend_if_ready(spent, &poll);
        self.rearm_if_pending(poll, fd)
    }

    /// The readiness within `mask` now, without waiting: `WouldBlock` if there is none.
    #[cfg(not(loom))]
    pub(crate) fn check_interest(&self, mask: usize) -> io::Result<(Ready, crate::interest::Ready)> {
        self.source
            .check_interest(mask)
            .unwrap_or_else(|| Err(io::ErrorKind::WouldBlock.into()))
    }

    /// A listed waiter is finished or dropped.
    pub(crate) fn forget(&self, id: u64) {
        self.source.forget(id);
    }

    /// After a `WouldBlock`: the readiness `ready` reported was stale.
    pub(crate) fn clear(&self, ready: Ready) {
        self.source.clear(ready);
    }

    /// After a short read or write of a byte stream (see `Source::clear_drained`). Reads clear
    /// only where the poller reports a closed peer: elsewhere a FIN that came with the last
    /// data would raise no further event, and the reader would never learn of the end.
    #[cfg(not(loom))]
    pub(crate) fn clear_drained(&self, ready: Ready, direction: Direction) {
        if direction == Direction::Write || self.reactor.poller.reports_read_closed() {
            self.source.clear_drained(ready);
        }
    }
}

#[cfg(loom)]
impl Registration {
    /// A model's source: registered under a key, with no descriptor behind it.
    pub(crate) fn new_for_model(reactor: Arc<Reactor>) -> io::Result<Self> {
        let source = Arc::new(Source::new());
        let key = reactor.insert(source.clone())?;
        Ok(Registration { reactor, source, key })
    }

    pub(crate) fn key(&self) -> usize {
        self.key
    }

    pub(crate) fn ticks(&self) -> usize {
        self.source.tick()
    }

    pub(crate) fn deregister_for_model(&self) {
        self.reactor.remove(self.key);
    }

    pub(crate) fn poll_ready_listed(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
        id: &mut Option<u64>,
    ) -> Poll<io::Result<Ready>> {
        self.source.poll_ready_listed(direction, cx, id)
    }

    pub(crate) fn inject(&self, readable: bool, writable: bool) {
        self.reactor.poller.inject(crate::poller::PolledEvent {
            key: self.key,
            ready: crate::source::ReadyEvent {
                readable,
                writable,
                read_closed: false,
            },
        });
    }
}

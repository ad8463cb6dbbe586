//! What the current thread is to the runtime: a worker, a blocking-pool thread, a thread inside
//! `block_on`, or an outsider; which runtime it belongs to; and the running task's budget.

use crate::runtime::Handle;
use crate::worker::Worker;
use std::cell::{Cell, RefCell};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Outside,
    /// A worker thread; the index of the worker.
    Worker(usize),
    Blocking,
    BlockOn,
}

struct Context {
    handle: RefCell<Option<Handle>>,
    kind: Cell<Kind>,
    /// The worker core running on this thread, while it runs: lets a wake from inside a task
    /// go to this worker's LIFO slot without any lookup.
    worker: Cell<*const Worker>,
    /// The worker on this thread is parked (firing timers from its sleep).
    parked: Cell<bool>,
    budget: Cell<Option<u8>>,
}

impl Context {
    const fn new() -> Self {
        Context {
            handle: RefCell::new(None),
            kind: Cell::new(Kind::Outside),
            worker: Cell::new(std::ptr::null()),
            parked: Cell::new(false),
            budget: Cell::new(None),
        }
    }
}

#[cfg(not(loom))]
std::thread_local!(static CONTEXT: Context = const { Context::new() });
#[cfg(loom)]
loom::thread_local!(static CONTEXT: Context = Context::new());

/// Calls `f` with the current runtime's handle, if the thread has one.
pub(crate) fn with_handle<R>(f: impl FnOnce(Option<&Handle>) -> R) -> R {
    let mut f = Some(f);
    CONTEXT
        .try_with(|cx| (f.take().unwrap())(cx.handle.borrow().as_ref()))
        .unwrap_or_else(|_| (f.take().unwrap())(None))
}

pub(crate) fn kind() -> Kind {
    CONTEXT.try_with(|cx| cx.kind.get()).unwrap_or(Kind::Outside)
}

/// Calls `f` with the worker core running on this thread, if any, and whether it is parked.
pub(crate) fn with_worker<R>(f: impl FnOnce(Option<&Worker>, bool) -> R) -> R {
    let (ptr, parked) = CONTEXT
        .try_with(|cx| (cx.worker.get(), cx.parked.get()))
        .unwrap_or((std::ptr::null(), false));
    // SAFETY: the pointer is set by `enter_worker` for exactly as long as the worker value it
    // points to is borrowed by its `run` loop on this thread, and cleared before that ends.
    f(unsafe { ptr.as_ref() }, parked)
}

pub(crate) fn set_budget(budget: Option<u8>) -> Option<u8> {
    CONTEXT.try_with(|cx| cx.budget.replace(budget)).unwrap_or(None)
}

pub(crate) fn update_budget(f: impl FnOnce(Option<u8>) -> Option<u8>) {
    let _ = CONTEXT.try_with(|cx| cx.budget.set(f(cx.budget.get())));
}

/// Restores the thread's previous context when dropped.
pub(crate) struct ContextGuard {
    handle: Option<Handle>,
    kind: Kind,
    worker: *const Worker,
    _timers: Option<heist_timer::EnterGuard>,
    _reactor: Option<heist_reactor::EnterGuard>,
}

fn enter_with(handle: Handle, kind: Kind, worker: *const Worker) -> ContextGuard {
    let timers = enter_timers(&handle, kind);
    let reactor = enter_reactor(&handle);
    CONTEXT.with(|cx| ContextGuard {
        handle: cx.handle.replace(Some(handle)),
        kind: cx.kind.replace(kind),
        worker: cx.worker.replace(worker),
        _timers: timers,
        _reactor: reactor,
    })
}

/// Workers register timers in their own shard, every other thread in the last one.
#[cfg(not(loom))]
fn enter_timers(handle: &Handle, kind: Kind) -> Option<heist_timer::EnterGuard> {
    let timers = &handle.shared().timers;
    let shard = match kind {
        Kind::Worker(index) => index,
        _ => timers.num_shards() - 1,
    };
    Some(heist_timer::enter(timers.clone(), shard))
}

/// Loom threads share one OS thread, and so the timers' thread-local: models use no timers.
#[cfg(loom)]
fn enter_timers(_: &Handle, _: Kind) -> Option<heist_timer::EnterGuard> {
    None
}

/// New I/O objects on this thread register with the runtime's reactor, and the reactor's
/// blocking work (name lookups) runs on the runtime's blocking pool, not on this thread.
#[cfg(not(loom))]
fn enter_reactor(handle: &Handle) -> Option<heist_reactor::EnterGuard> {
    let pool = handle.clone();
    let spawn_blocking: heist_reactor::BlockingSpawner = std::sync::Arc::new(move |job| {
        // Detached: the job reports its own result (or its cancellation, by being dropped).
        drop(pool.spawn_blocking(job));
    });
    Some(heist_reactor::enter(
        handle.shared().reactor.clone(),
        spawn_blocking,
    ))
}

/// As with the timers: models register their sources with the reactor explicitly.
#[cfg(loom)]
fn enter_reactor(_: &Handle) -> Option<heist_reactor::EnterGuard> {
    None
}

/// Marks this thread's worker as parked while the guard lives: tasks it wakes (by firing
/// timers) go to the injector, not to its LIFO slot, and the worker picks them up itself.
pub(crate) struct ParkedWorker(());

pub(crate) fn park_worker() -> ParkedWorker {
    CONTEXT.with(|cx| cx.parked.set(true));
    ParkedWorker(())
}

impl Drop for ParkedWorker {
    fn drop(&mut self) {
        let _ = CONTEXT.try_with(|cx| cx.parked.set(false));
    }
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        let _ = CONTEXT.try_with(|cx| {
            *cx.handle.borrow_mut() = self.handle.take();
            cx.kind.set(self.kind);
            cx.worker.set(self.worker);
        });
    }
}

/// Makes `handle` current without changing what kind of thread this is (`Runtime::enter`).
pub(crate) fn enter(handle: Handle) -> ContextGuard {
    let (kind, worker) = CONTEXT.with(|cx| (cx.kind.get(), cx.worker.get()));
    enter_with(handle, kind, worker)
}

pub(crate) fn enter_worker(worker: &Worker) -> ContextGuard {
    enter_with(worker.handle().clone(), Kind::Worker(worker.index()), worker)
}

pub(crate) fn enter_blocking(handle: Handle) -> ContextGuard {
    enter_with(handle, Kind::Blocking, std::ptr::null())
}

/// Enters `block_on`, or panics with what to do instead when blocking here would be a bug.
#[track_caller]
pub(crate) fn enter_block_on(handle: Handle) -> ContextGuard {
    match kind() {
        Kind::Worker(_) => panic!(
            "block_on called on a heist worker thread: blocking a worker stalls every task \
             queued on it and can deadlock the runtime. Inside a task, `.await` the future \
             instead; for blocking code, use heist::spawn_blocking and block_on from there."
        ),
        Kind::BlockOn => panic!(
            "block_on called inside another block_on on the same thread: the outer future \
             cannot make progress while the inner one blocks. `.await` the future instead, or \
             run it with heist::spawn."
        ),
        Kind::Outside | Kind::Blocking => enter_with(handle, Kind::BlockOn, std::ptr::null()),
    }
}

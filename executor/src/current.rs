//! Which runtime is current on this thread: the handle that `heist::spawn`, `Handle::current`,
//! new timers and new I/O objects use.
//!
//! [`enter`] (`Runtime::enter`, and every shutdown) changes it on any thread and leaves the
//! thread's role (`context.rs`) alone. The scoped calls that give a thread its role
//! ([`enter_worker`], [`enter_blocking`], [`enter_block_on`]) set the role first, then make
//! their runtime current, since the timer shard depends on the role: a worker registers its own
//! runtime's timers in its own shard, every other thread (a worker that entered another runtime
//! included) in that runtime's last shard.

use crate::context::{self, RoleGuard, RuntimeId};
use crate::runtime::Handle;
use std::cell::{Cell, RefCell};

/// The current handle, and how many guards are stacked up to it.
struct Current {
    handle: RefCell<Option<Handle>>,
    /// Each guard remembers the depth it made, to tell whether it is dropped in turn: a guard
    /// dropped while newer ones live would restore its previous handle under theirs, and theirs
    /// would later restore its handle (a runtime perhaps dropped by then).
    depth: Cell<usize>,
}

impl Current {
    const fn new() -> Self {
        Current {
            handle: RefCell::new(None),
            depth: Cell::new(0),
        }
    }
}

#[cfg(not(loom))]
std::thread_local!(static CURRENT: Current = const { Current::new() });
#[cfg(loom)]
loom::thread_local!(static CURRENT: Current = Current::new());

/// Calls `f` with the current runtime's handle, if the thread has one.
pub(crate) fn with_handle<R>(f: impl FnOnce(Option<&Handle>) -> R) -> R {
    let mut f = Some(f);
    CURRENT
        .try_with(|current| (f.take().unwrap())(current.handle.borrow().as_ref()))
        .unwrap_or_else(|_| (f.take().unwrap())(None))
}

/// Restores the previous current runtime (and, after a scoped call, the previous role) when
/// dropped.
pub(crate) struct CurrentGuard {
    previous: Option<Handle>,
    /// The depth this guard made; 0 if it made nothing current (the thread-local was gone).
    depth: usize,
    _timers: Option<heist_timer::EnterGuard>,
    _reactor: Option<heist_reactor::EnterGuard>,
    /// Dropped after the fields above: the role outlives the runtime it made current.
    _role: Option<RoleGuard>,
}

fn make_current(handle: Handle, role: Option<RoleGuard>) -> CurrentGuard {
    // After the role is set: the timer shard depends on it.
    let timers = enter_timers(&handle);
    let reactor = enter_reactor(&handle);
    // During thread-local teardown (a runtime dropped by another thread-local's destructor)
    // there is nothing to make current, and nothing to restore.
    let (previous, depth) = CURRENT
        .try_with(|current| {
            let depth = current.depth.get() + 1;
            current.depth.set(depth);
            (current.handle.replace(Some(handle)), depth)
        })
        .unwrap_or((None, 0));
    CurrentGuard {
        previous,
        depth,
        _timers: timers,
        _reactor: reactor,
        _role: role,
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        if self.depth == 0 {
            return;
        }
        let previous = self.previous.take();
        let in_turn = CURRENT
            .try_with(|current| {
                if current.depth.get() != self.depth {
                    return false;
                }
                current.depth.set(self.depth - 1);
                *current.handle.borrow_mut() = previous;
                true
            })
            .unwrap_or(true);
        // Out of turn, the newer guards would restore stale handles: say so, as a bug, rather
        // than leave a dropped runtime current. (Not while unwinding: a second panic aborts.)
        if !in_turn && !std::thread::panicking() {
            panic!(
                "a heist EnterGuard (from Runtime::enter or Handle::enter) was dropped out of \
                 order: guards must be dropped in the reverse order of their creation, the newest \
                 first, and none may outlive the block_on call or task poll it was created in. \
                 Keep each guard in a scope of its own, or drop them explicitly newest first."
            );
        }
    }
}

/// Workers register timers of their own runtime in their own shard; every other thread, and a
/// worker that entered another runtime, in that runtime's last shard. Under loom too (the
/// timers' thread-local is loom's there): the paused-clock models use timers end to end.
fn enter_timers(handle: &Handle) -> Option<heist_timer::EnterGuard> {
    let shared = handle.shared();
    let timers = &shared.timers;
    let shard = context::role()
        .worker_of(shared.id())
        .unwrap_or(timers.num_shards() - 1);
    Some(heist_timer::enter(timers.clone(), shard))
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

/// Models register their sources with the reactor explicitly.
#[cfg(loom)]
fn enter_reactor(_: &Handle) -> Option<heist_reactor::EnterGuard> {
    None
}

/// Makes `handle` current, on any thread, without changing the thread's role.
pub(crate) fn enter(handle: Handle) -> CurrentGuard {
    make_current(handle, None)
}

/// For the whole of a worker's run loop; `worker` is the worker itself (see
/// [`context::enter_worker`]).
pub(crate) fn enter_worker(handle: Handle, index: usize, worker: *const ()) -> CurrentGuard {
    let role = context::enter_worker(runtime_of(&handle), index, worker);
    make_current(handle, Some(role))
}

/// For the whole life of a blocking-pool thread.
pub(crate) fn enter_blocking(handle: Handle) -> CurrentGuard {
    let role = context::enter_blocking(runtime_of(&handle));
    make_current(handle, Some(role))
}

/// Enters `block_on` on `handle`'s runtime, or panics where blocking would be a bug (see
/// [`context::enter_block_on`]).
#[track_caller]
pub(crate) fn enter_block_on(handle: Handle) -> CurrentGuard {
    let role = context::enter_block_on();
    make_current(handle, Some(role))
}

/// For a current-thread `block_on` while it drives the runtime's core (see
/// [`context::enter_core`]).
pub(crate) fn enter_core(handle: Handle, index: usize, worker: *const ()) -> CurrentGuard {
    let role = context::enter_core(runtime_of(&handle), index, worker);
    make_current(handle, Some(role))
}

fn runtime_of(handle: &Handle) -> RuntimeId {
    handle.shared().id()
}

//! What the current thread is to the runtimes (its **role**).
//!
//! The role is worker N of runtime R, a thread of R's blocking pool, or an outsider; and
//! whether the thread is inside `block_on`. Only the scoped calls that make a thread what it is
//! set it ([`enter_worker`], [`enter_blocking`], [`enter_block_on`], each undone by its guard),
//! and every decision about *this thread* is taken from the role and the runtime it belongs to:
//! the timer shard it registers in, whether a shutdown would wait for itself, whether
//! `block_on` may block here, whether a wake may go to this worker's LIFO slot.
//!
//! Which runtime is *current* (the handle `heist::spawn` uses, which `Runtime::enter` changes
//! on any thread) is the other half of the thread's state, kept a layer up in `current.rs`:
//! a worker of runtime A that enters runtime B is still worker N *of A*.
//!
//! The lowest layer of the executor with `sync.rs`: this file names no runtime type. A runtime
//! is a [`RuntimeId`], the running worker an untyped pointer that only `worker.rs` sets and
//! reads back.

use std::cell::Cell;

/// Which runtime a role belongs to: the address of the runtime's shared state. Compared, never
/// followed; whoever sets a role holds its runtime alive for as long as the role lasts, so the
/// address cannot be reused by another runtime meanwhile.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct RuntimeId(*const ());

impl RuntimeId {
    pub(crate) fn of<T>(shared: &T) -> RuntimeId {
        RuntimeId(std::ptr::from_ref(shared).cast())
    }
}

/// What kind of thread this is, and for which runtime.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Role {
    /// A thread no runtime started (or one started by a runtime's watchdog).
    Outsider,
    /// Worker `index` of `runtime`.
    Worker { runtime: RuntimeId, index: usize },
    /// A thread of `runtime`'s blocking pool.
    Blocking { runtime: RuntimeId },
}

impl Role {
    /// This thread's worker index, if it is a worker of `runtime`.
    pub(crate) fn worker_of(self, runtime: RuntimeId) -> Option<usize> {
        match self {
            Role::Worker { runtime: own, index } if own == runtime => Some(index),
            _ => None,
        }
    }
}

/// Plain cells, no destructor: the cheapest thread-local there is, read on every wake
/// (`worker`). Every access is a `try_with` all the same, with a fallback for a thread-local
/// already gone: the functions here are reached from destructors (a `Runtime` dropped by
/// another thread-local's destructor shuts down from there), where a `with` on a destroyed
/// thread-local would abort the process.
struct Context {
    role: Cell<Role>,
    /// Inside `block_on`. Kept apart from `role`: a blocking thread of R that calls `block_on`
    /// is still one of R's blocking threads (R's shutdown must not wait for it).
    in_block_on: Cell<bool>,
    /// The worker core running on this thread (a `worker::Worker`), set with the worker role:
    /// lets a wake from inside a task go to this worker's LIFO slot without any lookup.
    worker: Cell<*const ()>,
    /// The worker on this thread is parked (firing timers from its sleep).
    parked: Cell<bool>,
}

impl Context {
    const fn new() -> Self {
        Context {
            role: Cell::new(Role::Outsider),
            in_block_on: Cell::new(false),
            worker: Cell::new(std::ptr::null()),
            parked: Cell::new(false),
        }
    }
}

#[cfg(not(loom))]
std::thread_local!(static CONTEXT: Context = const { Context::new() });
#[cfg(loom)]
loom::thread_local!(static CONTEXT: Context = Context::new());

/// What this thread is; `Outsider` while its thread-local is being destroyed.
pub(crate) fn role() -> Role {
    CONTEXT.try_with(|cx| cx.role.get()).unwrap_or(Role::Outsider)
}

/// Inside `block_on` (of any runtime).
pub(crate) fn in_block_on() -> bool {
    CONTEXT.try_with(|cx| cx.in_block_on.get()).unwrap_or(false)
}

/// The worker pointer [`enter_worker`] set on this thread (null if none), and whether that
/// worker is parked. Only `worker.rs` turns it back into a worker.
pub(crate) fn worker_on_this_thread() -> (*const (), bool) {
    CONTEXT
        .try_with(|cx| (cx.worker.get(), cx.parked.get()))
        .unwrap_or((std::ptr::null(), false))
}

/// Restores the role the thread had before a scoped call changed it.
pub(crate) struct RoleGuard {
    role: Role,
    in_block_on: bool,
    worker: *const (),
}

fn set_role(role: Role, in_block_on: bool, worker: *const ()) -> RoleGuard {
    CONTEXT
        .try_with(|cx| RoleGuard {
            role: cx.role.replace(role),
            in_block_on: cx.in_block_on.replace(in_block_on),
            worker: cx.worker.replace(worker),
        })
        // Gone (its thread is exiting): there is no role to set, and the guard restores none
        // (made only in that case: dropping a guard restores its role).
        .unwrap_or_else(|_| RoleGuard {
            role: Role::Outsider,
            in_block_on: false,
            worker: std::ptr::null(),
        })
}

impl Drop for RoleGuard {
    fn drop(&mut self) {
        let _ = CONTEXT.try_with(|cx| {
            cx.role.set(self.role);
            cx.in_block_on.set(self.in_block_on);
            cx.worker.set(self.worker);
        });
    }
}

/// For the whole of a worker's run loop: `worker` must stay valid until the guard is dropped.
pub(crate) fn enter_worker(runtime: RuntimeId, index: usize, worker: *const ()) -> RoleGuard {
    set_role(Role::Worker { runtime, index }, false, worker)
}

/// For the closure of `block_in_place`, on a worker thread that handed its core to another
/// thread: until the guard is dropped, the thread is an outsider with no core, which may block
/// (even in `block_on`). The guard gives it back its worker role; [`set_worker`] then gives it
/// the core, if it gets the core back.
pub(crate) fn leave_worker_to_block() -> RoleGuard {
    set_role(Role::Outsider, false, std::ptr::null())
}

/// The worker core this thread runs from now on (null: none), keeping its role; for
/// `block_in_place`, which hands the core away and may get it back.
pub(crate) fn set_worker(worker: *const ()) {
    let _ = CONTEXT.try_with(|cx| cx.worker.set(worker));
}

/// For the whole life of a blocking-pool thread.
pub(crate) fn enter_blocking(runtime: RuntimeId) -> RoleGuard {
    set_role(Role::Blocking { runtime }, false, std::ptr::null())
}

/// Enters `block_on`, or panics with what to do instead when blocking here would be a bug.
/// Decided from the role alone: a worker of any runtime may not block, whatever it entered.
#[track_caller]
pub(crate) fn enter_block_on() -> RoleGuard {
    let (role, in_block_on) = CONTEXT
        .try_with(|cx| (cx.role.get(), cx.in_block_on.get()))
        .unwrap_or((Role::Outsider, false));
    if let Role::Worker { .. } = role {
        panic!(
            "block_on called on a heist worker thread: blocking a worker stalls every task \
             queued on it and can deadlock the runtime. Inside a task, `.await` the future \
             instead; for blocking code, use heist::spawn_blocking and block_on from there."
        );
    }
    if in_block_on {
        panic!(
            "block_on called inside another block_on on the same thread: the outer future \
             cannot make progress while the inner one blocks. `.await` the future instead, or \
             run it with heist::spawn."
        );
    }
    set_role(role, true, std::ptr::null())
}

/// Inside a current-thread runtime's `block_on` (entered already, with [`enter_block_on`]),
/// while it drives the runtime's one worker core: the thread is worker `index` of `runtime`
/// until the guard is dropped, and `worker` (the core) must stay valid until then.
pub(crate) fn enter_core(runtime: RuntimeId, index: usize, worker: *const ()) -> RoleGuard {
    set_role(Role::Worker { runtime, index }, true, worker)
}

/// Where blocking this thread would be a bug, why; `None` where it may block (a thread of a
/// blocking pool outside `block_on`, or any thread no runtime runs tasks on). The same
/// decision as [`enter_block_on`]'s, for the `blocking_*` methods of `heist::sync`.
pub(crate) fn why_blocking_is_a_bug() -> Option<&'static str> {
    let (role, in_block_on) = CONTEXT
        .try_with(|cx| (cx.role.get(), cx.in_block_on.get()))
        .unwrap_or((Role::Outsider, false));
    if let Role::Worker { .. } = role {
        return Some(
            "on a heist worker thread, where blocking stalls every task queued on the worker \
             and can deadlock the runtime",
        );
    }
    in_block_on.then_some(
        "inside block_on, where blocking stops the future that block_on runs, and so can wait \
         forever for what that future would do",
    )
}

/// Marks this thread's worker as parked while the guard lives: tasks it wakes (by firing
/// timers) go to the injector, not to its LIFO slot, and the worker picks them up itself.
pub(crate) struct ParkedWorker(());

pub(crate) fn park_worker() -> ParkedWorker {
    let _ = CONTEXT.try_with(|cx| cx.parked.set(true));
    ParkedWorker(())
}

impl Drop for ParkedWorker {
    fn drop(&mut self) {
        let _ = CONTEXT.try_with(|cx| cx.parked.set(false));
    }
}

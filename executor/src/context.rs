//! What the current thread is to the runtimes, in two parts that change in different ways.
//!
//! - The **role**: worker N of runtime R, a thread of R's blocking pool, or an outsider; and
//!   whether the thread is inside `block_on`. Only the scoped calls that make a thread what it
//!   is set it ([`enter_worker`], [`enter_blocking`], [`enter_block_on`]). Every decision about
//!   *this thread* is taken from the role and the runtime it belongs to: the timer shard it
//!   registers in, whether a shutdown would wait for itself, whether `block_on` may block here.
//! - The **current handle**: the runtime that `heist::spawn`, `Handle::current`, new timers and
//!   new I/O objects use. [`enter`] (`Runtime::enter`) changes it, on any thread, and leaves
//!   the role alone.
//!
//! So a worker of runtime A that enters runtime B stays worker N *of A*: it registers B's timers
//! in B's shard for other threads, and shutting B down from there joins every worker of B.

use crate::runtime::Handle;
use crate::worker::Worker;
use std::cell::{Cell, RefCell};

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

    /// Whether this thread belongs to `runtime`'s blocking pool.
    pub(crate) fn is_blocking_thread_of(self, runtime: RuntimeId) -> bool {
        self == Role::Blocking { runtime }
    }
}

struct Context {
    /// The current handle: changed by `enter` and by each scoped role.
    handle: RefCell<Option<Handle>>,
    role: Cell<Role>,
    /// Inside `block_on`. Kept apart from `role`: a blocking thread of R that calls `block_on`
    /// is still one of R's blocking threads (R's shutdown must not wait for it).
    in_block_on: Cell<bool>,
    /// The worker core running on this thread, while it runs: lets a wake from inside a task
    /// go to this worker's LIFO slot without any lookup. Set with the worker role.
    worker: Cell<*const Worker>,
    /// The worker on this thread is parked (firing timers from its sleep).
    parked: Cell<bool>,
    budget: Cell<Option<u8>>,
}

impl Context {
    const fn new() -> Self {
        Context {
            handle: RefCell::new(None),
            role: Cell::new(Role::Outsider),
            in_block_on: Cell::new(false),
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

/// What this thread is; `Outsider` while its thread-local is being destroyed.
pub(crate) fn role() -> Role {
    CONTEXT.try_with(|cx| cx.role.get()).unwrap_or(Role::Outsider)
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

/// The role part of the context, as a scoped call found it.
#[derive(Clone, Copy)]
struct SavedRole {
    role: Role,
    in_block_on: bool,
    worker: *const Worker,
}

/// Restores the thread's previous context when dropped.
pub(crate) struct ContextGuard {
    handle: Option<Handle>,
    /// What a scoped call replaced; `None` after `enter`, which leaves the role alone.
    role: Option<SavedRole>,
    _timers: Option<heist_timer::EnterGuard>,
    _reactor: Option<heist_reactor::EnterGuard>,
}

/// Makes `handle` current and, for the scoped calls, sets the role (`new_role`).
fn enter_with(handle: Handle, new_role: Option<SavedRole>) -> ContextGuard {
    CONTEXT.with(|cx| {
        let role = new_role.map(|new| SavedRole {
            role: cx.role.replace(new.role),
            in_block_on: cx.in_block_on.replace(new.in_block_on),
            worker: cx.worker.replace(new.worker),
        });
        // After the role is set: the timer shard depends on it.
        let timers = enter_timers(&handle, cx.role.get());
        let reactor = enter_reactor(&handle);
        ContextGuard {
            handle: cx.handle.replace(Some(handle)),
            role,
            _timers: timers,
            _reactor: reactor,
        }
    })
}

/// Workers register timers of their own runtime in their own shard; every other thread, and a
/// worker that entered another runtime, in that runtime's last shard.
#[cfg(not(loom))]
fn enter_timers(handle: &Handle, role: Role) -> Option<heist_timer::EnterGuard> {
    let shared = handle.shared();
    let timers = &shared.timers;
    let shard = role.worker_of(shared.id()).unwrap_or(timers.num_shards() - 1);
    Some(heist_timer::enter(timers.clone(), shard))
}

/// Loom threads share one OS thread, and so the timers' thread-local: models use no timers.
#[cfg(loom)]
fn enter_timers(_: &Handle, _: Role) -> Option<heist_timer::EnterGuard> {
    None
}

/// New I/O objects on this thread register with the runtime's reactor.
#[cfg(not(loom))]
fn enter_reactor(handle: &Handle) -> Option<heist_reactor::EnterGuard> {
    Some(heist_reactor::enter(handle.shared().reactor.clone()))
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
            if let Some(saved) = self.role {
                cx.role.set(saved.role);
                cx.in_block_on.set(saved.in_block_on);
                cx.worker.set(saved.worker);
            }
        });
    }
}

/// Makes `handle` current, on any thread, without changing the thread's role
/// (`Runtime::enter`, and `Runtime`'s shutdown).
pub(crate) fn enter(handle: Handle) -> ContextGuard {
    enter_with(handle, None)
}

/// For the whole of a worker's `run`.
pub(crate) fn enter_worker(worker: &Worker) -> ContextGuard {
    let handle = worker.handle().clone();
    let role = Role::Worker {
        runtime: handle.shared().id(),
        index: worker.index(),
    };
    enter_with(
        handle,
        Some(SavedRole {
            role,
            in_block_on: false,
            worker: std::ptr::from_ref(worker),
        }),
    )
}

/// For the whole life of a blocking-pool thread.
pub(crate) fn enter_blocking(handle: Handle) -> ContextGuard {
    let role = Role::Blocking {
        runtime: handle.shared().id(),
    };
    enter_with(
        handle,
        Some(SavedRole {
            role,
            in_block_on: false,
            worker: std::ptr::null(),
        }),
    )
}

/// Enters `block_on`, or panics with what to do instead when blocking here would be a bug.
/// Decided from the role alone: a worker of any runtime may not block, whatever it entered.
#[track_caller]
pub(crate) fn enter_block_on(handle: Handle) -> ContextGuard {
    let (role, in_block_on) = CONTEXT.with(|cx| (cx.role.get(), cx.in_block_on.get()));
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
    enter_with(
        handle,
        Some(SavedRole {
            role,
            in_block_on: true,
            worker: std::ptr::null(),
        }),
    )
}

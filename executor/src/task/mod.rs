//! Tasks: one allocation each, a state word, and the handles that hold references to it.
//!
//! - [`Notified`]: "this task should be polled"; lives in a run queue. Holds one reference.
//! - [`Task`]: the owned-tasks list's reference, used to cancel the task at shutdown.
//! - [`JoinHandle`]: the output's owner-to-be. Holds one reference and `JOIN_INTEREST`.
//! - `Waker`: one reference each.

mod join;
mod owned;
mod raw;
mod state;

pub use join::{JoinError, JoinHandle};
pub(crate) use owned::OwnedTasks;
pub(crate) use raw::{Header, RawTask};

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::num::NonZeroU64;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a task's `Notified` goes when it is woken, and how it leaves the owned list.
pub(crate) trait Schedule: Send + Sync + Sized + 'static {
    /// Queues a task that was spawned or woken.
    fn schedule(&self, task: Notified);

    /// Queues a task that woke itself during its own poll: it goes behind the waiting ones.
    fn yield_now(&self, task: Notified) {
        self.schedule(task);
    }

    /// Unlinks a completed task from the owned list; true when the list's reference is
    /// handed back to the caller to release.
    fn release(&self, task: NonNull<Header>) -> bool;
}

/// A task that should be polled. Owns one reference and the task's `NOTIFIED` token.
pub(crate) struct Notified(RawTask);

// SAFETY: a task's future and output are `Send` and its scheduler is `Send + Sync`
// (`new_task`'s bounds), and the state word arbitrates every cross-thread access. A local
// task's (`new_local_task_at`) future need not be `Send`: its `Notified` crosses threads (a
// wake from elsewhere queues it) but is run only on the task's own thread, and dropping it
// elsewhere only releases a reference (see `new_local_task_at`).
unsafe impl Send for Notified {}

impl Notified {
    /// # Safety
    /// The caller gives up one reference and the `NOTIFIED` token.
    pub(crate) unsafe fn from_raw(raw: RawTask) -> Notified {
        Notified(raw)
    }

    /// Where the task was spawned.
    pub(crate) fn location(&self) -> &'static Location<'static> {
        self.0.header().location
    }

    pub(crate) fn run(self) {
        let raw = self.0;
        std::mem::forget(self);
        raw.poll();
    }

    /// Cancels a task that its queue refused: its `JoinHandle` reports the cancellation.
    pub(crate) fn cancel(self) {
        let raw = self.0;
        std::mem::forget(self);
        raw.shutdown();
    }
}

impl Drop for Notified {
    /// A queued task that will never run (the runtime stopped): shutdown cancels its future
    /// through the owned list; this only releases the queue's reference.
    fn drop(&mut self) {
        self.0.drop_reference();
    }
}

/// The owned-tasks list's reference to a task.
pub(crate) struct Task(RawTask);

// SAFETY: as for `Notified`.
unsafe impl Send for Task {}

impl Task {
    pub(crate) fn header_ptr(&self) -> NonNull<Header> {
        self.0.header_ptr()
    }

    /// Cancels the task unless a thread is polling it, and releases the list's reference.
    pub(crate) fn shutdown(self) {
        let raw = self.0;
        std::mem::forget(self);
        raw.shutdown();
    }

    pub(crate) fn into_raw(self) -> RawTask {
        let raw = self.0;
        std::mem::forget(self);
        raw
    }

    /// # Safety
    /// The caller gives up the owned-list reference.
    pub(crate) unsafe fn from_raw(raw: RawTask) -> Task {
        Task(raw)
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.0.drop_reference();
    }
}

/// Allocates a task: its owned-list handle, its first `Notified` and its `JoinHandle`.
///
/// The task's spawn location is the caller's (`#[track_caller]` all the way up from the public
/// spawn functions), unless [`with_spawn_location`] set one for this thread.
#[track_caller]
pub(crate) fn new_task<F, S>(future: F, scheduler: S, id: Id) -> (Task, Notified, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // Read here, not in a closure: closures do not inherit `#[track_caller]`.
    let caller = Location::caller();
    let location = SPAWN_LOCATION
        .try_with(Cell::take)
        .ok()
        .flatten()
        .unwrap_or(caller);
    new_task_at(future, scheduler, id, location)
}

/// [`new_task`] with the spawn location given.
pub(crate) fn new_task_at<F, S>(
    future: F,
    scheduler: S,
    id: Id,
    location: &'static Location<'static>,
) -> (Task, Notified, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let raw = RawTask::new(future, scheduler, id, location);
    (Task(raw), Notified(raw), JoinHandle::new(raw))
}

/// [`new_task_at`] for a future that need not be `Send` (a local task, `local.rs`).
///
/// # Safety
/// The caller polls the task (runs its `Notified`s) and shuts it down (`Task::shutdown`) only
/// on the thread that calls this, and keeps the `Task` (the owned-list reference) until the
/// task is complete or shut down there: then the future, which is dropped by its last poll or
/// by the shutdown, is created, polled and dropped on that one thread. The other handles may
/// go anywhere: a `Notified` or a waker dropped elsewhere releases a reference but cannot
/// free the task while the list holds its own, and the scheduler (`S: Send + Sync`) is all
/// that a free of a complete task drops besides the output. The output is read by the
/// `JoinHandle`, which is `Send` only for a `Send` output.
pub(crate) unsafe fn new_local_task_at<F, S>(
    future: F,
    scheduler: S,
    id: Id,
    location: &'static Location<'static>,
) -> (Task, Notified, JoinHandle<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    // SAFETY: forwarded from the caller.
    let raw = unsafe { RawTask::new_unchecked(future, scheduler, id, location) };
    (Task(raw), Notified(raw), JoinHandle::new(raw))
}

thread_local!(static SPAWN_LOCATION: Cell<Option<&'static Location<'static>>> = const { Cell::new(None) });

/// Runs `f` with `location` as the spawn location of the next task `f` creates on this thread:
/// for spawn paths that go through code without `#[track_caller]` (the blocking pool).
pub(crate) fn with_spawn_location<R>(location: &'static Location<'static>, f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = SPAWN_LOCATION.try_with(|slot| slot.set(None));
        }
    }
    let _ = SPAWN_LOCATION.try_with(|slot| slot.set(Some(location)));
    let _reset = Reset;
    f()
}

thread_local! {
    /// The task being polled (or having its future dropped) on this thread.
    static CURRENT_TASK: Cell<Option<Id>> = const { Cell::new(None) };
}

/// Restores the previous current task (a task polled inside another's poll: a `LocalSet`'s).
pub(crate) struct TaskIdGuard(Option<Id>);

/// Makes `id` the current task's until the guard is dropped.
pub(crate) fn enter_task(id: Id) -> TaskIdGuard {
    TaskIdGuard(
        CURRENT_TASK
            .try_with(|current| current.replace(Some(id)))
            .ok()
            .flatten(),
    )
}

impl Drop for TaskIdGuard {
    fn drop(&mut self) {
        let _ = CURRENT_TASK.try_with(|current| current.set(self.0));
    }
}

/// The id of the task running on this thread (being polled, or its future being dropped).
///
/// ```
/// let runtime = heist_executor::Runtime::new().unwrap();
/// let task = runtime.spawn(async { heist_executor::task_id() });
/// let id = task.id();
/// assert_eq!(runtime.block_on(task).unwrap(), id);
/// ```
///
/// # Panics
/// Outside a task (in `block_on`'s own future, or on a thread that runs none); see
/// [`try_task_id`].
#[track_caller]
pub fn task_id() -> Id {
    match try_task_id() {
        Some(id) => id,
        None => panic!(
            "heist::task::id called outside a task: block_on's own future and plain threads \
             have no task id. Use heist::task::try_id to tell, or call it inside a spawned task."
        ),
    }
}

/// The id of the task running on this thread, or `None` outside a task.
pub fn try_task_id() -> Option<Id> {
    CURRENT_TASK.try_with(Cell::get).ok().flatten()
}

/// A task's identity, unique for the life of the process.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(NonZeroU64);

impl Id {
    /// Ids come from a process-wide counter in blocks, so spawning threads don't contend on it.
    pub(crate) fn next() -> Id {
        const BLOCK: u64 = 1024;
        static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);
        thread_local!(static RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) });
        let next = |(start, end): (u64, u64)| {
            if start < end {
                (start, end)
            } else {
                let start = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
                (start, start + BLOCK)
            }
        };
        let id = RANGE
            .try_with(|range| {
                let (id, end) = next(range.get());
                range.set((id + 1, end));
                id
            })
            .unwrap_or_else(|_| NEXT_BLOCK.fetch_add(1, Ordering::Relaxed));
        Id(NonZeroU64::new(id).expect("task ids start at 1"))
    }

    pub(crate) fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

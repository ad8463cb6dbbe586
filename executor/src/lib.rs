//! heist's scheduler: a work-stealing executor for futures.
//!
//! # Layout
//! One worker thread per core. Each worker has a FIFO run queue (a `crossbeam-deque` worker
//! that its peers steal from) and a **LIFO slot** holding the task it most recently spawned or
//! woke, which runs next: a message's receiver runs while the message is still in cache. At
//! most three polls in a row come from the slot, so two tasks messaging
//! each other cannot monopolise a worker. Tasks spawned or woken from other threads go to a
//! global **injector**, which each worker also checks every 61 polls. See `worker.rs` for a
//! task's path from `spawn` to its first poll.
//!
//! # Layers
//! Bottom-up. A file uses (`crate::` paths) only the layers below its own, except in the layer
//! marked *one unit*, whose files refer to each other: the runtime's shared state owns the
//! blocking pool and the watchdog, which hold handles back to it. `tests/layers.rs` checks each
//! file against this list, and that every file is in it (`models.rs`, test-only, is not).
//!
//! 1. `sync.rs`: std or loom primitives. `context.rs`: what this thread *is* (its role: worker
//!    N of runtime R, blocking thread of R, outsider; inside `block_on` or not) and the worker
//!    running on it. It names no runtime type: a runtime is a `RuntimeId`, the worker an
//!    untyped pointer that only the worker loop sets and reads back.
//! 2. `queue.rs` (run queues), `idle.rs` (who searches, who sleeps), `watch.rs` (who waits on
//!    I/O and timers), `thread_clock.rs` (a worker's CPU and run-queue times, for the stall
//!    watchdog).
//! 3. `park.rs`: sleeping and waking a thread; in the poller only with the watch.
//! 4. `task/`: the task allocation, its state word, `JoinHandle`, the owned list, the current
//!    task's id. (The cooperative budget that `JoinHandle` spends is the `heist-coop`
//!    crate's.) `task_local.rs`: `task_local!`, values scoped to a future's polls.
//! 5. `dump.rs`: task dumps.
//! 6. The runtime, one unit: `worker.rs` (the shared state, where tasks go, the worker loop;
//!    `worker/handoff.rs`, `block_in_place`),
//!    `blocking.rs` (the blocking pool), `stall.rs` (the watchdog), `metrics.rs`, `current.rs`
//!    (which runtime is current: the handle `Runtime::enter` changes, on any thread, without
//!    changing the role), `runtime.rs` (`Builder`, `Runtime`, `Handle`), `local.rs` (local
//!    tasks, `LocalSet`: a current-thread `block_on` runs one); `lib.rs`'s `spawn` and
//!    `spawn_blocking` count as this layer.
//! 7. `join_set.rs`.
//! 8. `task_pool.rs`, built on `JoinSet`.
//!
//! # Tasks
//! A task is one allocation: a header (state word, vtable, id, spawn location, poll count,
//! owned-list links with the spawn time), the scheduler handle, the future, whose bytes its output reuses, and the `JoinHandle`'s waker.
//! A `Waker` is a pointer to the header: cloning it is one atomic increment. The state word
//! holds these flags and, above them, the reference count:
//!
//! | bit | flag | meaning |
//! |---|---|---|
//! | 0 | `RUNNING` | a thread owns the future and is polling (or cancelling) it |
//! | 1 | `COMPLETE` | the future is gone; the output or error is stored |
//! | 2 | `NOTIFIED` | a `Notified` for the task is queued (at most one exists) |
//! | 3 | `JOIN_INTEREST` | a `JoinHandle` exists and will take the output |
//! | 4 | `JOIN_WAKER` | the join waker is set; after `COMPLETE` only the task side reads it |
//! | 5 | `CANCELLED` | abort or shutdown asked for the future to be dropped |
//!
//! Transitions (each a single compare-and-swap):
//! - **spawn**: refs 3 (owned list, `JoinHandle`, first `Notified`), `NOTIFIED | JOIN_INTEREST`.
//! - **wake** of an idle task: set `NOTIFIED`, +1 ref, queue a `Notified` with that ref. A
//!   `wake` by value releases the waker's ref only once the queueing has returned (one more
//!   atomic decrement): the moment it is queued, another worker may run the task to completion,
//!   and the waker's ref is what keeps the task, and the scheduler handle inside it that the
//!   queueing borrows, alive until then. Of a running task: set `NOTIFIED` only; the worker
//!   requeues it after the poll, to the back of the queue. Of a notified or complete task:
//!   nothing (a `wake` by value drops its ref).
//! - **poll**: `NOTIFIED` → `RUNNING`. On `Pending`: clear `RUNNING` and drop the worker's ref;
//!   or, if `NOTIFIED` was set meanwhile, +1 ref for the requeued `Notified`, the worker's ref
//!   dropped after the requeue returns (as for a wake by value); or cancel if `CANCELLED` was.
//!   On `Ready` or a panic: store the result, `RUNNING` → `COMPLETE`; if `JOIN_INTEREST` was
//!   gone the worker drops the output, else it wakes the join waker if `JOIN_WAKER` is set;
//!   then the task leaves the owned list (dropping that ref too).
//! - **`JoinHandle` drop**: clear `JOIN_INTEREST | JOIN_WAKER` unless `COMPLETE`, in which case
//!   the handle drops the output itself. Whichever of the two CASes lands first decides.
//! - **abort**: set `CANCELLED`; an idle task is also notified and queued so a worker drops it.
//! - **shutdown**: set `CANCELLED`; a task neither running nor complete is taken (`RUNNING`) and
//!   its future dropped on the spot.
//!
//! # Parking
//! An idle worker first becomes a *searcher* (at most half of the workers search at once) and
//! steals half of a random peer's queue, then from the injector. Finding nothing, it counts
//! itself out and sleeps on its condvar (`park.rs`); new work wakes one sleeper only when no
//! one is searching; the last searcher re-checks every queue before sleeping. `idle.rs` has
//! the argument; the models in `models.rs` check it.
//!
//! # Timers and I/O: the watch
//! Timers (`heist-timer`) and I/O (`heist-reactor`) meet the scheduler in the park. At most
//! one parked worker at a time is *on watch* (`watch.rs`): it blocks in the reactor's poller
//! until the next timer deadline, then fires what is due; the tasks its events and timers
//! wake go through the injector, and it runs them itself. The other sleepers wait on their
//! condvars; one of them, the *standby*, sleeps short while the watch keeps changing hands,
//! so a holder that stays away (or blocks in a task) delays everyone's I/O by at most
//! 10 ms. Busy workers take a quick look at the timers and the poller every 61 polls or 8
//! yields, so timers and I/O are served when no worker is idle. An idle runtime makes no
//! wake-ups: the standby and the stall watchdog both end up sleeping without a timeout.
//!
//! A paused clock (`heist_timer::Driver::pause`, for tests) does not move while the watch
//! sleeps: the worker on watch sleeps without a timeout, and when the runtime has nothing else
//! to do it takes in the ready I/O events and, if there are none, moves the clock to the next
//! deadline (*auto-advance*, `Worker::auto_advance`). "Nothing else" is: every worker parked,
//! no task queued, and no thread the clock counts as busy (`Driver::inhibit_auto_advance`: a
//! `block_on` thread that is awake, counted by its parker; a blocking job until its task has
//! run). Whoever ends one of those conditions wakes the worker on watch to look again: a
//! worker that parks, a `block_on` thread that falls asleep, a blocking job that ends. With
//! the clock running none of this runs: one relaxed load per park.
//!
//! At shutdown, once the workers have stopped and before waiting for the blocking pool, the
//! timers are shut down (`heist_timer::Driver::shutdown`): a timer still registered (a
//! blocking job's, a task's of another runtime) is woken and panics saying its runtime is
//! gone, as does one first polled there later, where it would otherwise wait forever.
//!
//! # Handing a core off: `block_in_place`
//! A worker's core (`worker.rs`'s `Worker`: queues, LIFO slot, the flags its idle and watch
//! accounting keep) is one heap allocation that one thread owns at a time: the thread whose
//! context points at it. [`block_in_place`] takes it from there in the middle of a poll,
//! leaves it in the worker's hand-off slot and queues a blocking-pool job that runs it
//! (`worker/handoff.rs`); the run loop re-reads its context after every poll and leaves if the
//! core is gone. The caller takes the core back when its closure returns if no pool thread
//! has taken it yet. Shutdown waits for every core to retire, wherever it runs, not for the
//! threads a core has left. The models `block_in_place_*` check the race for the core.
//!
//! # Current-thread runtimes and local tasks
//! `Builder::new_current_thread` builds the same runtime with one worker core and no worker
//! thread: the core waits in the runtime (`worker.rs`, `CoreSlot`) until a `block_on` takes it
//! and runs the worker loop on the calling thread, interleaving up to 61 task polls with each
//! poll of its own future, and parking exactly as a worker does (in the poller until the next
//! timer deadline) when nothing is runnable. Its future's waker sets a flag and unparks the
//! core's parker, so the park ends for it as it does for new work. A second `block_on` on
//! another thread polls only its own future, and takes the core over when the first returns.
//!
//! Local tasks (`local.rs`, `LocalSet`) are ordinary task allocations whose scheduler is the
//! set's queue, drained only on the set's thread: a future that is not `Send` is polled and
//! dropped there only, while its wakers and `JoinHandle` may go anywhere. A current-thread
//! `block_on` runs its future inside a set of its own, so `spawn_local` works there.
//!
//! # Seeing inside
//! [`Handle::dump`] (and [`Runtime::dump`]) lists the unfinished tasks: id, spawn location
//! (`#[track_caller]` on every spawn function), state derived from the state word (`RUNNING`:
//! running; `NOTIFIED`: scheduled; neither: idle; `COMPLETE`: complete, about to leave the
//! list), polls and age. It walks the owned list shard by shard under each shard's lock, so
//! it costs the hot path nothing; the bookkeeping is 16 bytes per task header.
//!
//! ```
//! use heist_executor::{Runtime, TaskState};
//!
//! let runtime = Runtime::new().unwrap();
//! let (tx, rx) = std::sync::mpsc::channel::<()>();
//! let idle = runtime.spawn(std::future::pending::<()>());
//! let blocked = runtime.spawn_blocking(move || rx.recv());
//! let dump = runtime.dump();
//! eprint!("{dump}"); // task 1025   idle      polls=1      age=0.000s spawned at src/lib.rs:7:20
//! assert_eq!(dump.len(), 2);
//! let task = dump.tasks().iter().find(|task| task.id() == idle.id()).unwrap();
//! assert!(matches!(task.state(), TaskState::Idle | TaskState::Scheduled | TaskState::Running));
//! assert!(task.location().file().ends_with(".rs"));
//! drop(tx);
//! runtime.block_on(blocked).unwrap().unwrap_err();
//! ```
//!
//! **Stall detection**: a poll that runs longer than [`Builder::stall_threshold`] (default
//! 100 ms, `None` turns it off) is reported with its task's spawn location, the worker and how
//! long it has run, to [`Builder::on_stall`] (default: a line on stderr). A watchdog thread
//! per runtime looks at the workers every half threshold; a worker only publishes the polled
//! task's location in an atomic around each poll, and reads no clock. The report comes while
//! the poll is still stuck, so a poll that never returns is reported too (see `stall.rs`).
//!
//! # Leaves
//! This crate knows nothing of sockets or timer wheels: the reactor and the timers are leaf
//! crates that know nothing of it, and `worker.rs`'s park is the one place where they meet.

#![warn(missing_docs)]

mod blocking;
mod context;
mod current;
mod dump;
mod idle;
mod join_set;
mod local;
mod metrics;
mod park;
mod queue;
mod runtime;
mod stall;
mod sync;
mod task;
mod task_local;
mod task_pool;
mod thread_clock;
mod watch;
mod worker;

#[cfg(test)]
mod models;

pub use dump::{TaskDump, TaskInfo, TaskState};
pub use heist_coop::consume_budget;
pub use join_set::{AbortHandle, JoinSet};
pub use local::{LocalSet, RunUntil, spawn_local};
pub use metrics::RuntimeMetrics;
pub use runtime::{Builder, EnterGuard, Handle, Runtime, TryCurrentError, WORKER_THREADS_ENV, worker_index};
pub use stall::StallReport;
pub use task::{Id, JoinError, JoinHandle, task_id, try_task_id};
pub use task_local::{AccessError, LocalKey, TaskLocalFuture};
pub use task_pool::{TaskPool, TrySpawnError};
pub use worker::block_in_place;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Spawns a task on the current runtime.
///
/// ```
/// let runtime = heist_executor::Runtime::new().unwrap();
/// let sum = runtime.block_on(async {
///     let handles: Vec<_> = (0..10u64).map(|i| heist_executor::spawn(async move { i * i })).collect();
///     let mut sum = 0;
///     for handle in handles {
///         sum += handle.await.unwrap();
///     }
///     sum
/// });
/// assert_eq!(sum, 285);
/// ```
///
/// # Panics
/// Outside a runtime. Use [`Handle::spawn`] from threads the runtime does not know.
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_at(future, std::panic::Location::caller())
}

/// [`spawn`] with the spawn location given, for adapters whose spawns are made by a library
/// (hyper's executor): their tasks are listed in dumps at the location the adapter chose.
///
/// # Panics
/// Outside a runtime, at the caller's location.
#[doc(hidden)]
#[track_caller]
pub fn spawn_at<F>(future: F, location: &'static std::panic::Location<'static>) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut future = Some(future);
    // A `match`, not `unwrap_or_else`: a closure would hide our caller from `#[track_caller]`.
    match current::with_handle(|handle| {
        handle.map(|handle| handle.spawn_at(future.take().unwrap(), location))
    }) {
        Some(join) => join,
        None => outside_runtime("heist::spawn"),
    }
}

/// Runs blocking code on the current runtime's blocking pool.
///
/// # Panics
/// Outside a runtime. Use [`Handle::spawn_blocking`] from threads the runtime does not know.
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    spawn_blocking_at(f, std::panic::Location::caller())
}

/// [`spawn_blocking`] with the spawn location given.
#[track_caller]
pub(crate) fn spawn_blocking_at<F, R>(f: F, location: &'static std::panic::Location<'static>) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let mut f = Some(f);
    // A `match`, not `unwrap_or_else`: a closure would hide our caller from `#[track_caller]`.
    match current::with_handle(|handle| {
        handle.map(|handle| handle.spawn_blocking_at(f.take().unwrap(), location))
    }) {
        Some(join) => join,
        None => outside_runtime("heist::spawn_blocking"),
    }
}

/// Panics, saying what to do instead, where blocking this thread would be a bug: on a worker
/// thread of any heist runtime, or inside `block_on`. For the `blocking_*` methods of
/// `heist::sync` (`what` names the method, `instead` its async form); threads of a blocking
/// pool and threads of your own may block.
#[doc(hidden)]
#[track_caller]
pub fn assert_may_block(what: &str, instead: &str) {
    if let Some(why) = context::why_blocking_is_a_bug() {
        panic!(
            "{what} called {why}. In async code, use `{instead}` instead; to block, call it \
             from heist::spawn_blocking or from a thread of your own."
        );
    }
}

#[track_caller]
fn outside_runtime(what: &str) -> ! {
    panic!(
        "{what} called outside a heist runtime: call it inside Runtime::block_on or a task, \
         or keep a Handle (Runtime::handle) and use Handle::{}",
        what.trim_start_matches("heist::")
    )
}

/// Gives the worker to other tasks once: the task goes to the back of the run queue.
pub async fn yield_now() {
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            // A task that wakes itself while running is requeued behind the others.
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    YieldNow(false).await
}

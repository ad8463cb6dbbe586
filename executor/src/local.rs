//! Local tasks: futures that are not `Send`, run on the one thread that owns their
//! [`LocalSet`], and stolen by no one.
//!
//! A local task is an ordinary task allocation (same state word, `JoinHandle`, wakers) whose
//! scheduler is the set's [`LocalShared`] instead of a runtime. What keeps a future that is
//! not `Send` on its thread:
//!
//! - **Polls** happen only in [`LocalSet::tick`], which takes `&LocalSet`; the set is neither
//!   `Send` nor `Sync`, so every `&LocalSet` lives on the thread that made the set.
//! - **Wakes** may come from any thread (an I/O event taken in by a worker, a timer, a channel
//!   sender elsewhere). They go through the one `Send`-safe path, the set's queue behind a
//!   mutex, and then wake whoever polls the set (`LocalSet::run_until`'s caller, or the
//!   current-thread `block_on`): the `Notified` crosses threads, the future does not.
//! - **Drops** of the future happen in its last poll, in a cancel from a poll (`abort` queues
//!   the task like a wake), or at the set's drop (on its thread), which shuts every unfinished
//!   task down through the set's owned list. The list holds a reference until one of these
//!   has happened, so the last reference (which frees the allocation, maybe on another
//!   thread) never finds the future still there. See `task::new_local_task_at`.
//!
//! The set runs its tasks when polled: `run_until` polls its future, then up to
//! `TASKS_PER_TICK` tasks, and asks to be polled again at once if more are queued. The timers
//! and I/O that local tasks wait on are those of the runtime current where they were first
//! polled, as for any task. A current-thread runtime's `block_on` wraps its future in a set of
//! its own, so `spawn_local` works there too.

use crate::sync::{Arc, Mutex, MutexGuard};
use crate::task::{self, Header, Id, JoinHandle, Notified, OwnedTasks, Schedule};
use std::cell::{Cell, OnceCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

/// Tasks run per poll of the set before it yields to its own poller (which polls it again at
/// once): a set full of busy tasks still lets the thread's other work (the runtime's tasks,
/// I/O, timers) in.
const TASKS_PER_TICK: usize = 61;

/// A set of local tasks, run on the thread that owns it.
///
/// Tasks spawned with [`spawn_local`](LocalSet::spawn_local) (or [`crate::spawn_local`] while
/// the set runs) need not be `Send`: they run only here, when the set is polled, by
/// [`run_until`](LocalSet::run_until), [`block_on`](LocalSet::block_on) or by awaiting the set
/// itself (which waits until every task is done). They can await the runtime's I/O and timers.
/// Dropping the set drops its unfinished tasks (their `JoinHandle`s report cancellation).
///
/// ```
/// use std::rc::Rc;
/// use heist_executor::{LocalSet, Runtime};
///
/// let runtime = Runtime::new().unwrap();
/// let local = LocalSet::new();
/// let shared = Rc::new(41); // not Send
/// let answer = local.block_on(&runtime, async move {
///     let task = heist_executor::spawn_local(async move { *shared + 1 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct LocalSet {
    /// Made on the first spawn: a set that spawns nothing (the one a current-thread
    /// `block_on` wraps its future in) costs no allocation.
    shared: OnceCell<Arc<LocalShared>>,
    /// Neither `Send` nor `Sync`: every `&LocalSet` is on the owning thread.
    _not_send: PhantomData<*const ()>,
}

/// What a local task's wakers and handles share with the set: its scheduler.
pub(crate) struct LocalShared {
    queue: Mutex<LocalQueue>,
    owned: OwnedTasks,
}

struct LocalQueue {
    tasks: VecDeque<Notified>,
    /// The waker of whoever polls the set, woken for each task queued.
    waker: Option<Waker>,
    /// The set is gone: a task queued now is dropped at once (it was shut down already).
    closed: bool,
}

impl LocalShared {
    fn queue(&self) -> MutexGuard<'_, LocalQueue> {
        self.queue.lock()
    }

    fn pop(&self) -> Option<Notified> {
        self.queue().tasks.pop_front()
    }
}

/// The scheduler handle stored in each local task.
#[derive(Clone)]
struct LocalScheduler(Arc<LocalShared>);

impl Schedule for LocalScheduler {
    fn schedule(&self, task: Notified) {
        let mut queue = self.0.queue();
        if queue.closed {
            drop(queue);
            // Outside the lock: this may be the task's last reference, and freeing the task
            // drops its scheduler, maybe the last `Arc` to this very queue.
            drop(task);
            return;
        }
        queue.tasks.push_back(task);
        let waker = queue.waker.clone();
        drop(queue);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn release(&self, task: NonNull<Header>) -> bool {
        self.0.owned.remove(task)
    }
}

thread_local! {
    /// The set being polled on this thread, for `spawn_local`; null outside any.
    static CURRENT: Cell<*const LocalSet> = const { Cell::new(std::ptr::null()) };
}

/// Makes `set` the current one on this thread until dropped.
struct Entered {
    previous: *const LocalSet,
}

fn enter(set: &LocalSet) -> Entered {
    let previous = CURRENT
        .try_with(|current| current.replace(set))
        .unwrap_or(std::ptr::null());
    Entered { previous }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| current.set(self.previous));
    }
}

impl Default for LocalSet {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for LocalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSet").finish_non_exhaustive()
    }
}

impl LocalSet {
    /// An empty set.
    pub fn new() -> Self {
        LocalSet {
            shared: OnceCell::new(),
            _not_send: PhantomData,
        }
    }

    fn shared(&self) -> &Arc<LocalShared> {
        self.shared.get_or_init(|| {
            Arc::new(LocalShared {
                queue: Mutex::new(LocalQueue {
                    tasks: VecDeque::new(),
                    waker: None,
                    closed: false,
                }),
                owned: OwnedTasks::new(1),
            })
        })
    }

    /// Spawns a task that need not be `Send` on this set. It runs only while the set is
    /// polled (`run_until`, `block_on`, or awaiting the set), on this thread.
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.spawn_at(future, Location::caller())
    }

    fn spawn_at<F>(&self, future: F, location: &'static Location<'static>) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let shared = self.shared();
        // SAFETY: the task is polled only by `tick` and shut down only by `drop`, both through
        // `&self`, which (the set being neither `Send` nor `Sync`) is on this thread; the set's
        // owned list keeps the task's `Task` until it completes or `drop` shuts it down.
        let (task, notified, join) =
            unsafe { task::new_local_task_at(future, LocalScheduler(shared.clone()), Id::next(), location) };
        if let Some(notified) = shared.owned.bind(task, notified) {
            LocalScheduler(shared.clone()).schedule(notified);
        }
        join
    }

    /// Runs `future` to completion on `runtime`'s `block_on`, with this set's tasks running
    /// alongside: `runtime.block_on(self.run_until(future))`.
    #[track_caller]
    pub fn block_on<F: Future>(&self, runtime: &crate::Runtime, future: F) -> F::Output {
        runtime.block_on(self.run_until(future))
    }

    /// A future that polls `future` and runs this set's tasks until `future` is done; the
    /// tasks still unfinished then stay in the set, to run the next time it is polled.
    ///
    /// ```
    /// use heist_executor::LocalSet;
    ///
    /// let runtime = heist_executor::Builder::new_current_thread().build().unwrap();
    /// let local = LocalSet::new();
    /// runtime.block_on(local.run_until(async {
    ///     let task = heist_executor::spawn_local(async { std::rc::Rc::new(7) });
    ///     assert_eq!(*task.await.unwrap(), 7);
    /// }));
    /// ```
    pub fn run_until<F: Future>(&self, future: F) -> RunUntil<'_, F> {
        RunUntil { set: self, future }
    }

    /// Runs up to `TASKS_PER_TICK` queued tasks; true if some are still queued.
    fn tick(&self) -> bool {
        let Some(shared) = self.shared.get() else {
            return false;
        };
        for _ in 0..TASKS_PER_TICK {
            match shared.pop() {
                Some(task) => heist_coop::with_budget(|| task.run()),
                None => return false,
            }
        }
        !shared.queue().tasks.is_empty()
    }

    /// Remembers the waker of whoever polls the set, for the tasks queued from now on.
    fn register(&self, waker: &Waker) {
        if let Some(shared) = self.shared.get() {
            let mut queue = shared.queue();
            if !queue.waker.as_ref().is_some_and(|old| old.will_wake(waker)) {
                let old = queue.waker.replace(waker.clone());
                drop(queue);
                // Outside the lock: a waker's drop may run anything, even a wake of ours.
                drop(old);
            }
        }
    }

    /// Polls the set's tasks within `cx`; true once it has no unfinished task.
    fn poll_tasks(&self, cx: &mut Context<'_>) -> bool {
        self.register(cx.waker());
        if self.tick() {
            // More queued: come back after the poller's other work.
            cx.waker().wake_by_ref();
        }
        self.shared.get().is_none_or(|shared| shared.owned.alive() == 0)
    }
}

/// Awaiting a set runs its tasks until all of them are done.
///
/// ```
/// use heist_executor::LocalSet;
///
/// let runtime = heist_executor::Runtime::new().unwrap();
/// let local = LocalSet::new();
/// let done = std::rc::Rc::new(std::cell::Cell::new(0));
/// for _ in 0..3 {
///     let done = done.clone();
///     local.spawn_local(async move { done.set(done.get() + 1) });
/// }
/// runtime.block_on(local);
/// assert_eq!(done.get(), 3);
/// ```
impl Future for LocalSet {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let _entered = enter(&self);
        if self.poll_tasks(cx) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// The future of [`LocalSet::run_until`].
#[must_use = "futures do nothing unless polled"]
pub struct RunUntil<'a, F> {
    set: &'a LocalSet,
    future: F,
}

impl<F> fmt::Debug for RunUntil<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunUntil").finish_non_exhaustive()
    }
}

impl<F: Future> Future for RunUntil<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is never moved out of the pinned `RunUntil`: this is structural
        // pinning of that one field (`set` is a plain reference).
        let this = unsafe { self.get_unchecked_mut() };
        let _entered = enter(this.set);
        // SAFETY: as above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(output) = future.poll(cx) {
            return Poll::Ready(output);
        }
        this.set.poll_tasks(cx);
        Poll::Pending
    }
}

impl Drop for LocalSet {
    /// Drops every unfinished task's future here, on the set's thread, with the set current
    /// (a destructor that calls `spawn_local` finds the set closed: its task is cancelled).
    fn drop(&mut self) {
        let Some(shared) = self.shared.get() else {
            return;
        };
        let _entered = enter(self);
        for task in shared.owned.close_and_take_all() {
            task.shutdown();
        }
        let mut queue = shared.queue();
        queue.closed = true;
        let tasks = std::mem::take(&mut queue.tasks);
        let waker = queue.waker.take();
        drop(queue);
        // Only references now: every future is gone.
        drop(tasks);
        drop(waker);
    }
}

/// Spawns a task that need not be `Send` on the [`LocalSet`] being polled on this thread
/// (inside [`LocalSet::run_until`], [`LocalSet::block_on`], an awaited set, or a
/// current-thread runtime's `block_on`, which runs one).
///
/// ```
/// let runtime = heist_executor::Builder::new_current_thread().build().unwrap();
/// let counter = std::rc::Rc::new(std::cell::Cell::new(0));
/// runtime.block_on(async {
///     let counter = counter.clone();
///     heist_executor::spawn_local(async move { counter.set(1) }).await.unwrap();
/// });
/// assert_eq!(counter.get(), 1);
/// ```
///
/// # Panics
/// Outside a `LocalSet`, with a message saying where to call it instead.
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let set = CURRENT.try_with(Cell::get).unwrap_or(std::ptr::null());
    if set.is_null() {
        panic!(
            "heist::task::spawn_local called outside a LocalSet: call it inside \
             LocalSet::run_until, LocalSet::block_on or an awaited LocalSet, inside a \
             current-thread runtime's block_on (Builder::new_current_thread), or use \
             LocalSet::spawn_local on a set you keep. A task on a multi-thread runtime cannot \
             own local tasks: its future would move between threads."
        );
    }
    // SAFETY: `CURRENT` is set only by an `Entered` guard made from a `&LocalSet` that
    // outlives the guard (a poll of the set, or its drop), on this thread, and restored when
    // the guard is dropped: a non-null pointer is a live set of this thread.
    let set = unsafe { &*set };
    set.spawn_at(future, Location::caller())
}

/// Run under miri too (`cargo +nightly miri test -p heist-executor --lib`): local tasks that
/// are not `Send`, woken from other threads, with the set dropped while wakers live on.
#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::rc::Rc;
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::task::Wake;

    /// A minimal `block_on`: polls on this thread, parks it between wakes.
    fn block_on<F: Future>(future: F) -> F::Output {
        struct Unpark(std::thread::Thread, AtomicBool);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.1.store(true, SeqCst);
                self.0.unpark();
            }
        }
        let unpark = Arc::new(Unpark(std::thread::current(), AtomicBool::new(false)));
        let waker = Waker::from(unpark.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            while !unpark.1.swap(false, SeqCst) {
                std::thread::park();
            }
        }
    }

    /// Pending once (waking itself), then ready: `run_until` of it runs the queued tasks once.
    fn yield_once() -> impl Future<Output = ()> {
        let mut yielded = false;
        std::future::poll_fn(move |cx| {
            if std::mem::replace(&mut yielded, true) {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
    }

    /// Pending until its flag is set from elsewhere; keeps the last waker.
    struct Gate {
        open: Arc<AtomicBool>,
        waker: Arc<std::sync::Mutex<Option<Waker>>>,
    }

    impl Future for Gate {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            if self.open.load(SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    }

    fn gate() -> (Gate, Arc<AtomicBool>, Arc<std::sync::Mutex<Option<Waker>>>) {
        let open = Arc::new(AtomicBool::new(false));
        let waker = Arc::new(std::sync::Mutex::new(None));
        let gate = Gate {
            open: open.clone(),
            waker: waker.clone(),
        };
        (gate, open, waker)
    }

    #[test]
    fn tasks_that_are_not_send_woken_from_another_thread() {
        let set = LocalSet::new();
        let (gate, open, waker) = gate();
        let counter = Rc::new(Cell::new(0));
        let seen = counter.clone();
        let task = set.spawn_local(async move {
            gate.await;
            seen.set(seen.get() + 1);
            seen.get()
        });
        let opener = std::thread::spawn(move || {
            loop {
                if let Some(waker) = waker.lock().unwrap().take() {
                    open.store(true, SeqCst);
                    waker.wake();
                    return;
                }
                std::thread::yield_now();
            }
        });
        assert_eq!(block_on(set.run_until(task)).unwrap(), 1);
        opener.join().unwrap();
        assert_eq!(counter.get(), 1);
    }

    #[test]
    fn a_dropped_set_drops_its_tasks_and_later_wakes_free_them() {
        let set = LocalSet::new();
        let (gate, open, waker) = gate();
        let marker = Rc::new(());
        let held = marker.clone();
        let task = set.spawn_local(async move {
            let _held = held;
            gate.await;
        });
        // Polled once: the task waits on the gate, whose waker it left behind.
        block_on(set.run_until(yield_once()));
        assert!(waker.lock().unwrap().is_some());
        drop(set);
        assert_eq!(
            Rc::strong_count(&marker),
            1,
            "the future was dropped with the set"
        );
        let waker = waker.lock().unwrap().take().unwrap();
        std::thread::spawn(move || {
            open.store(true, SeqCst);
            waker.wake();
        })
        .join()
        .unwrap();
        assert!(block_on(task).unwrap_err().is_cancelled());
    }

    #[test]
    fn abort_from_another_thread_cancels_on_the_sets_thread() {
        let set = LocalSet::new();
        let marker = Rc::new(());
        let held = marker.clone();
        let task = set.spawn_local(async move {
            let _held = held;
            std::future::pending::<()>().await;
        });
        block_on(set.run_until(yield_once()));
        let task = std::thread::spawn(move || {
            task.abort();
            task
        })
        .join()
        .unwrap();
        assert_eq!(
            Rc::strong_count(&marker),
            2,
            "not dropped by the abort on another thread"
        );
        block_on(set.run_until(yield_once()));
        assert_eq!(Rc::strong_count(&marker), 1, "cancelled by the set's next run");
        assert!(block_on(task).unwrap_err().is_cancelled());
    }
}

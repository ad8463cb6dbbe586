//! `JoinSet`: a collection of tasks whose results are taken in the order the tasks finish.
//!
//! # How `join_next` finds a finished task without polling every member
//! Each member is one allocation, an `Entry`: its `JoinHandle` (behind a small lock, so that an
//! [`AbortHandle`] may reach it from another thread), its slot in the set, and a pointer to the
//! set's shared *ready list*. The entry is also the `Waker` the set polls the member's
//! `JoinHandle` with. A task wakes its join waker once, when it completes (or is cancelled);
//! the entry's wake pushes the member's slot onto the ready list and wakes the set's waiter.
//!
//! So `poll_join_next` polls only:
//! - new members, once each (a member's waker is registered by its first poll, not at spawn:
//!   spawning touches no lock), and
//! - members whose slot came off the ready list.
//!
//! Every member is always in one of three places: in the set's local queue of slots to poll,
//! registered with its task (its waker set, the task not yet complete), or on the ready list.
//! A poll that finds the task incomplete registers the waker in the same compare-and-swap that
//! checks for completion (the task's state word decides), so a completion is never missed.
//!
//! The ready list holds slots, not entries: a slot may be stale (its member was detached, and
//! the slot reused). A stale slot costs one spurious poll of whichever member sits there now,
//! which is harmless: a `Pending` poll re-registers the same waker, and a `Ready` one removes
//! that member, whose own ready-list slot then goes stale in turn. Nothing is reported twice:
//! the output is taken once, under the entry's lock, and the member leaves the set with it.
//! The list never outgrows the number of wakes, which is at most one per member.
//!
//! Outputs need not be `Send` (local members: `spawn_local`). An entry is shared with holders
//! that are `Send + Sync` whatever `T` is (the member's waker, its `AbortHandle`s), and none
//! of them touches a `T`. The set takes a member's `JoinHandle` out of its entry, on its own
//! thread, before it lets go of the entry (also while a panic unwinds: `remove_all`), so the
//! entry's last holder, wherever it is, frees no `JoinHandle<T>` and no output.
//!
//! Polling a member runs outside the cooperative budget (a `JoinHandle` out of budget would
//! return `Pending` and wake its waker, i.e. requeue itself); the set itself takes one unit of
//! the budget per `poll_join_next`, as a `JoinHandle` does.

use crate::runtime::Handle;
use crate::sync::{Arc, Mutex};
use crate::task::{Id, JoinError, JoinHandle};
use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// A collection of tasks spawned on a runtime, joined in the order they finish.
///
/// [`join_next`](JoinSet::join_next) waits for any member to finish and returns its result,
/// `Ok(output)` or a [`JoinError`] if it panicked or was cancelled. Each member is reported
/// exactly once; after the last one, `join_next` returns `None`.
///
/// Dropping the set [aborts](JoinSet::abort_all) every member that is still in it. Use
/// [`detach_all`](JoinSet::detach_all) to let them run on, or
/// [`shutdown`](JoinSet::shutdown) to abort them and wait until they are gone.
///
/// `join_next` costs O(1) per member (amortized) however many members there are: it never
/// scans the set. Each member has a waker of its own (one allocation per member), which puts
/// it on a ready list when its task completes.
///
/// ```
/// use heist_executor::JoinSet;
///
/// let runtime = heist_executor::Runtime::new().unwrap();
/// runtime.block_on(async {
///     let mut set = JoinSet::new();
///     for i in 0..10u64 {
///         set.spawn(async move { i * i });
///     }
///     set.spawn(async { panic!("one task fails") });
///
///     let (mut sum, mut failures) = (0, 0);
///     while let Some(result) = set.join_next().await {
///         match result {
///             Ok(square) => sum += square,
///             Err(err) => {
///                 assert!(err.is_panic());
///                 failures += 1;
///             }
///         }
///     }
///     assert_eq!((sum, failures), (285, 1));
///     assert!(set.is_empty());
/// });
/// ```
pub struct JoinSet<T> {
    /// Members by slot; `None` is a free slot.
    slots: Vec<Option<Arc<Entry<T>>>>,
    /// Free slots, reused last-freed first.
    free: Vec<usize>,
    len: usize,
    /// Slots to poll before looking at the ready list: new members, and the last batch taken
    /// from the ready list.
    to_poll: VecDeque<usize>,
    ready: Arc<Ready>,
}

/// What the members' wakers share with the set.
struct Ready {
    state: Mutex<ReadyState>,
}

struct ReadyState {
    /// Slots of members whose task completed since the set last looked.
    slots: VecDeque<usize>,
    /// The waker of whoever waits in `poll_join_next`.
    waiter: Option<Waker>,
}

/// One member. Shared by the set, the member's waker (held by its task until the task is
/// freed) and its `AbortHandle`s.
struct Entry<T> {
    ready: Arc<Ready>,
    slot: usize,
    id: Id,
    /// `None` once the member has left the set (joined or detached).
    handle: Mutex<Option<JoinHandle<T>>>,
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> Self {
        JoinSet {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            to_poll: VecDeque::new(),
            ready: Arc::new(Ready {
                state: Mutex::new(ReadyState {
                    slots: VecDeque::new(),
                    waiter: None,
                }),
            }),
        }
    }

    /// The number of members: tasks spawned into the set and not yet joined from it, finished
    /// or not.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the set has no members.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Aborts every member. Their tasks stay in the set: `join_next` reports each one, as a
    /// cancelled [`JoinError`], or as its result if it finished before the abort reached it.
    pub fn abort_all(&mut self) {
        for entry in self.slots.iter().flatten() {
            if let Some(handle) = entry.handle.lock().as_ref() {
                handle.abort();
            }
        }
    }

    /// Removes every member without aborting it: the tasks run on, and their outputs are
    /// dropped. [`AbortHandle`]s of detached members no longer reach their tasks.
    pub fn detach_all(&mut self) {
        self.remove_all(false);
        self.ready.state.lock().slots.clear();
    }

    /// Empties the set, aborting each member first if `abort`. Every member's `JoinHandle` is
    /// taken out of its entry and dropped here, on the set's thread, before the set lets go of
    /// the entry: even when aborting or dropping one of them panics (an abort wakes a local
    /// task's `LocalSet` through a caller's waker; a finished member's output is dropped), the
    /// rest are taken out and dropped here as the panic unwinds. The entry's last holder may be
    /// a waker or an `AbortHandle` on another thread, and `T` need not be `Send`.
    fn remove_all(&mut self, abort: bool) {
        let mut members = TakeHandlesOnDrop(self.slots.drain(..));
        for entry in members.0.by_ref().flatten() {
            // Dropped outside the entry's lock: dropping a finished task's output runs user code.
            let handle = entry.handle.lock().take();
            if let (true, Some(handle)) = (abort, &handle) {
                handle.abort();
            }
        }
        drop(members);
        self.free.clear();
        self.to_poll.clear();
        self.len = 0;
    }

    /// Removes a joined member from its slot.
    fn vacate(&mut self, slot: usize) {
        self.slots[slot] = None;
        self.len -= 1;
        if self.len == 0 {
            // Start over from slot 0; stale ready-list slots past the end are skipped.
            self.slots.clear();
            self.free.clear();
        } else {
            self.free.push(slot);
        }
    }
}

impl<T: Send + 'static> JoinSet<T> {
    /// Spawns `future` on the current runtime as a member of the set.
    ///
    /// # Panics
    /// Outside a runtime; use [`spawn_on`](Self::spawn_on) with a [`Handle`] there.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(crate::spawn(future))
    }

    /// Spawns `future` on the runtime of `handle` as a member of the set.
    #[track_caller]
    pub fn spawn_on<F>(&mut self, future: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(handle.spawn(future))
    }

    /// Runs `f` on the current runtime's blocking pool as a member of the set.
    ///
    /// Aborting reaches a blocking member only before it starts: once running, it runs to the
    /// end (and [`shutdown`](Self::shutdown) waits for it).
    ///
    /// # Panics
    /// Outside a runtime; use [`spawn_blocking_on`](Self::spawn_blocking_on) there.
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
    {
        self.insert(crate::spawn_blocking(f))
    }

    /// Runs `f` on the blocking pool of `handle`'s runtime as a member of the set.
    #[track_caller]
    pub fn spawn_blocking_on<F>(&mut self, f: F, handle: &Handle) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
    {
        self.insert(handle.spawn_blocking(f))
    }

    /// Spawns `future` on `handle`'s runtime (the current one if `None`) with the spawn
    /// location given: for `TaskPool`, whose `async` spawns see their caller only before
    /// their first poll.
    #[track_caller]
    pub(crate) fn spawn_at<F>(
        &mut self,
        future: F,
        handle: Option<&Handle>,
        location: &'static Location<'static>,
    ) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        let join = match handle {
            Some(handle) => handle.spawn_at(future, location),
            None => crate::spawn_at(future, location),
        };
        self.insert(join)
    }

    /// [`spawn_at`](Self::spawn_at) for blocking jobs.
    #[track_caller]
    pub(crate) fn spawn_blocking_at<F>(
        &mut self,
        f: F,
        handle: Option<&Handle>,
        location: &'static Location<'static>,
    ) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let join = match handle {
            Some(handle) => handle.spawn_blocking_at(f, location),
            None => crate::spawn_blocking_at(f, location),
        };
        self.insert(join)
    }
}

impl<T: 'static> JoinSet<T> {
    /// Spawns `future`, which need not be `Send`, on the [`LocalSet`](crate::LocalSet) being
    /// polled on this thread (see [`crate::spawn_local`]) as a member of the set. Its output
    /// need not be `Send` either: a set whose `T` is not `Send` is itself neither `Send` nor
    /// `Sync` (its `JoinHandle`s are not), so it is joined on the thread whose `LocalSet` runs
    /// its members, and each output is taken, or dropped, there. The [`AbortHandle`]s stay
    /// `Send`: see [Outputs that are not `Send`](#outputs-that-are-not-send).
    ///
    /// ```
    /// use heist_executor::JoinSet;
    /// use std::rc::Rc;
    ///
    /// let runtime = heist_executor::Builder::new_current_thread().build().unwrap();
    /// runtime.block_on(async {
    ///     let shared = Rc::new(2u32);
    ///     let mut set: JoinSet<Rc<u32>> = JoinSet::new();
    ///     for _ in 0..3 {
    ///         let shared = shared.clone();
    ///         set.spawn_local(async move { shared });
    ///     }
    ///     let mut outputs = Vec::new();
    ///     while let Some(result) = set.join_next().await {
    ///         outputs.push(result.unwrap());
    ///     }
    ///     assert_eq!(outputs.iter().map(|output| **output).sum::<u32>(), 6);
    ///     assert_eq!(Rc::strong_count(&shared), 4, "the outputs are the very `Rc`s sent in");
    /// });
    /// ```
    ///
    /// Such a set cannot leave its thread:
    ///
    /// ```compile_fail,E0277
    /// let set: heist_executor::JoinSet<std::rc::Rc<u8>> = heist_executor::JoinSet::new();
    /// std::thread::spawn(move || drop(set)); // error: `Rc<u8>` cannot be sent between threads
    /// ```
    ///
    /// # Outputs that are not `Send`
    /// A member's entry (its `JoinHandle<T>`, behind a lock) is shared with its waker, which its
    /// task may wake and drop on any thread, and with its `AbortHandle`s, which are `Send` and
    /// `Sync` whatever `T` is. Neither touches `T`: a wake queues the member's slot, `abort`
    /// and `is_finished` use only the task's state word, and the set takes the `JoinHandle` out
    /// of the entry (on its own thread) before it lets go of the entry, so whichever holder
    /// frees the entry last, wherever, frees no `JoinHandle<T>` and no output.
    ///
    /// # Panics
    /// Outside a `LocalSet`; use [`spawn_local_on`](Self::spawn_local_on) there.
    #[track_caller]
    pub fn spawn_local<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(crate::spawn_local(future))
    }

    /// Spawns `future`, which need not be `Send`, on `local` as a member of the set.
    #[track_caller]
    pub fn spawn_local_on<F>(&mut self, future: F, local: &crate::LocalSet) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(local.spawn_local(future))
    }

    /// Makes a spawned task a member.
    pub(crate) fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let slot = self.free.pop().unwrap_or(self.slots.len());
        let entry = Arc::new(Entry {
            ready: self.ready.clone(),
            slot,
            id: handle.id(),
            handle: Mutex::new(Some(handle)),
        });
        let abort = AbortHandle::new(entry.clone());
        if slot == self.slots.len() {
            self.slots.push(Some(entry));
        } else {
            self.slots[slot] = Some(entry);
        }
        self.len += 1;
        // Its first poll registers its waker.
        self.to_poll.push_back(slot);
        abort
    }

    /// Waits for a member to finish and returns its result; `None` when the set is empty.
    ///
    /// Results come in the order the tasks finish, roughly (members finishing at the same time
    /// may come in any order).
    ///
    /// Cancel safe: dropping the future before it completes loses no result.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// The result of a member that has already finished, if any; never waits.
    ///
    /// `None` means either that the set is empty or that no member has finished yet:
    /// tell them apart with [`is_empty`](Self::is_empty). A task's finish reaches its set
    /// through the task's waker, an instant after the task is marked finished: a member whose
    /// [`AbortHandle::is_finished`] has just turned true may not be returned yet.
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        match self.poll_next(None) {
            Poll::Ready(result) => result,
            Poll::Pending => None,
        }
    }

    /// Polls for the next finished member: `Ready(Some(result))`, `Ready(None)` when the set
    /// is empty, or `Pending` after arranging for `cx`'s waker to be woken when a member
    /// finishes. Only the waker of the most recent call is woken.
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if self.len == 0 {
            return Poll::Ready(None);
        }
        let budget = std::task::ready!(heist_coop::poll_proceed(cx));
        let next = self.poll_next(Some(cx.waker()));
        if next.is_ready() {
            budget.made_progress();
        }
        next
    }

    /// Aborts every member and waits until all of them have finished; their results are
    /// dropped. Members that ignore the abort (blocking ones already running) are waited for.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Polls members until one is finished; registers `waiter` (if any) when none is.
    fn poll_next(&mut self, waiter: Option<&Waker>) -> Poll<Option<Result<T, JoinError>>> {
        loop {
            if self.len == 0 {
                self.to_poll.clear();
                return Poll::Ready(None);
            }
            let Some(slot) = self.to_poll.pop_front() else {
                let mut state = self.ready.state.lock();
                if state.slots.is_empty() {
                    // Under the lock that the members' wakes take: a member that finishes from
                    // now on finds this waker.
                    let replaced = match waiter {
                        Some(waiter) if !state.waiter.as_ref().is_some_and(|w| w.will_wake(waiter)) => {
                            state.waiter.replace(waiter.clone())
                        }
                        _ => None,
                    };
                    drop(state);
                    // Dropped outside the lock: a waker's drop runs user code, which may end a
                    // member (e.g. by dropping its runtime), whose wake takes the lock.
                    drop(replaced);
                    return Poll::Pending;
                }
                std::mem::swap(&mut self.to_poll, &mut state.slots);
                continue;
            };
            // A stale slot (see the module docs) may be free or past the end.
            let Some(Some(entry)) = self.slots.get(slot) else {
                continue;
            };
            let mut handle = entry.handle.lock();
            let join = handle.as_mut().expect("a member in the set has its JoinHandle");
            let output = match Entry::poll_handle(entry, join) {
                Poll::Ready(output) => output,
                Poll::Pending => continue,
            };
            // Dropped once the entry's lock is released.
            let join = handle.take();
            drop(handle);
            drop(join);
            self.vacate(slot);
            return Poll::Ready(Some(output));
        }
    }
}

/// The members [`JoinSet::remove_all`] has not reached when a panic unwinds through it: their
/// `JoinHandle`s are taken out and dropped here, on the set's thread, without aborting them (a
/// second panic while unwinding would abort the process), as `detach_all` would.
struct TakeHandlesOnDrop<'a, T>(std::vec::Drain<'a, Option<Arc<Entry<T>>>>);

impl<T> Drop for TakeHandlesOnDrop<'_, T> {
    fn drop(&mut self) {
        for entry in self.0.by_ref().flatten() {
            let handle = entry.handle.lock().take();
            drop(handle);
        }
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.remove_all(true);
        // Whoever waited on the set waits no more.
        let waiter = self.ready.state.lock().waiter.take();
        drop(waiter);
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len).finish()
    }
}

/// Spawns each future on the current runtime.
///
/// # Panics
/// Outside a runtime.
impl<T, F> FromIterator<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
        let mut set = JoinSet::new();
        set.extend(iter);
        set
    }
}

/// Spawns each future on the current runtime.
///
/// # Panics
/// Outside a runtime.
impl<T, F> Extend<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        for future in iter {
            self.spawn(future);
        }
    }
}

impl<T: 'static> Entry<T> {
    const WAKER: RawWakerVTable = RawWakerVTable::new(
        Self::clone_waker,
        Self::wake_by_val,
        Self::wake_by_ref,
        Self::drop_waker,
    );

    const ABORT: AbortVtable = AbortVtable {
        abort: Self::abort_raw,
        is_finished: Self::is_finished_raw,
        clone: Self::clone_raw,
        drop: Self::drop_raw,
    };

    /// Polls the member's `JoinHandle` with this entry as the waker, outside the cooperative
    /// budget.
    fn poll_handle(this: &Arc<Self>, join: &mut JoinHandle<T>) -> Poll<Result<T, JoinError>> {
        // A waker borrowed from `this`: it owns no count, so it must not be dropped; the
        // `JoinHandle` clones it (one count) to keep it.
        // SAFETY: the pointer is this `Arc`'s, which stays alive for the poll, and the vtable
        // is the one for `Arc<Entry<T>>` pointers.
        let waker = ManuallyDrop::new(unsafe {
            Waker::from_raw(RawWaker::new(Arc::as_ptr(this).cast(), &Self::WAKER))
        });
        heist_coop::without_budget(|| Pin::new(join).poll(&mut Context::from_waker(&waker)))
    }

    /// The member's task completed: queue its slot and wake the set's waiter.
    fn notify(&self) {
        let waiter = {
            let mut state = self.ready.state.lock();
            state.slots.push_back(self.slot);
            state.waiter.take()
        };
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }

    // The vtable functions: every `ptr` comes from `Arc::into_raw` / `Arc::as_ptr` of an
    // `Arc<Entry<T>>`, and the waker or abort handle passing it in owns one count (a borrowed
    // waker is never dropped, and only cloned while its `Arc` is alive). They may run on any
    // thread (wakers and abort handles are `Send + Sync`) whether or not `T` is `Send`: none
    // of them touches a `T`, and an entry they free holds no `JoinHandle` any more (see the
    // `Send` impl of `AbortHandle`).

    unsafe fn clone_waker(ptr: *const ()) -> RawWaker {
        // SAFETY: see above.
        unsafe { Arc::increment_strong_count(ptr.cast::<Self>()) };
        RawWaker::new(ptr, &Self::WAKER)
    }

    unsafe fn wake_by_val(ptr: *const ()) {
        // SAFETY: see above; the waker's count is used up here.
        let entry = unsafe { Arc::from_raw(ptr.cast::<Self>()) };
        entry.notify();
    }

    unsafe fn wake_by_ref(ptr: *const ()) {
        // SAFETY: see above; the caller's waker keeps the entry alive.
        unsafe { &*ptr.cast::<Self>() }.notify();
    }

    unsafe fn drop_waker(ptr: *const ()) {
        // SAFETY: see above.
        drop(unsafe { Arc::from_raw(ptr.cast::<Self>()) });
    }

    unsafe fn abort_raw(ptr: *const ()) {
        // SAFETY: see above.
        let entry = unsafe { &*ptr.cast::<Self>() };
        if let Some(handle) = entry.handle.lock().as_ref() {
            handle.abort();
        }
    }

    unsafe fn is_finished_raw(ptr: *const ()) -> bool {
        // SAFETY: see above.
        let entry = unsafe { &*ptr.cast::<Self>() };
        entry.handle.lock().as_ref().is_none_or(JoinHandle::is_finished)
    }

    unsafe fn clone_raw(ptr: *const ()) {
        // SAFETY: see above.
        unsafe { Arc::increment_strong_count(ptr.cast::<Self>()) };
    }

    unsafe fn drop_raw(ptr: *const ()) {
        // SAFETY: see above.
        drop(unsafe { Arc::from_raw(ptr.cast::<Self>()) });
    }
}

/// Aborts one task of a [`JoinSet`] (or a [`TaskPool`](crate::TaskPool)) without owning it;
/// returned by [`JoinSet::spawn`].
///
/// It reaches the task while the task is a member of its set: once the task has been joined
/// from the set (or the set detached or dropped it), [`abort`](AbortHandle::abort) does nothing
/// and [`is_finished`](AbortHandle::is_finished) is true. Cloning is cheap.
///
/// ```
/// use heist_executor::JoinSet;
///
/// let runtime = heist_executor::Runtime::new().unwrap();
/// runtime.block_on(async {
///     let mut set = JoinSet::new();
///     let forever = set.spawn(std::future::pending::<()>());
///     forever.abort();
///     let err = set.join_next().await.unwrap().unwrap_err();
///     assert!(err.is_cancelled());
///     assert_eq!(err.id(), forever.id());
///     assert!(forever.is_finished());
/// });
/// ```
pub struct AbortHandle {
    /// An `Arc<Entry<T>>` from `Arc::into_raw`, for the `T` that `vtable` was made for.
    entry: NonNull<()>,
    vtable: &'static AbortVtable,
    id: Id,
}

struct AbortVtable {
    abort: unsafe fn(*const ()),
    is_finished: unsafe fn(*const ()) -> bool,
    clone: unsafe fn(*const ()),
    drop: unsafe fn(*const ()),
}

// SAFETY: the handle is an `Arc<Entry<T>>`, which is not `Send` or `Sync` when `T` is not
// (a `JoinHandle<T>` is not), but nothing this handle does touches a `T`: it reaches the
// `JoinHandle` only through the entry's lock, and calls only `abort` and `is_finished` on it,
// which touch the task's atomic state word (and `abort` schedules the task through its
// scheduler, which wakers already do from any thread; a local task's future is dropped on its
// `LocalSet`'s thread). Releasing the last count frees an entry whose `JoinHandle` the set has
// already taken out and dropped on its own thread (`JoinSet::remove_all`, `poll_next`): no
// `T` is ever dropped here. The entry's `Ready` holds slots and a `Waker`, both `Send + Sync`.
unsafe impl Send for AbortHandle {}
// SAFETY: as above.
unsafe impl Sync for AbortHandle {}

impl AbortHandle {
    fn new<T: 'static>(entry: Arc<Entry<T>>) -> AbortHandle {
        let id = entry.id;
        let ptr = Arc::into_raw(entry).cast::<()>().cast_mut();
        AbortHandle {
            // SAFETY: `Arc::into_raw` never returns null.
            entry: unsafe { NonNull::new_unchecked(ptr) },
            vtable: &Entry::<T>::ABORT,
            id,
        }
    }

    /// Cancels the task, as [`JoinHandle::abort`] does: its set then reports it as a
    /// cancelled [`JoinError`], unless it finished first. Does nothing once the task has
    /// left its set.
    pub fn abort(&self) {
        // SAFETY: the pointer and the vtable were made for each other in `new`.
        unsafe { (self.vtable.abort)(self.entry.as_ptr()) }
    }

    /// True once the task has finished (completed, panicked or been cancelled), or has left
    /// its set (joined, detached or dropped with it).
    pub fn is_finished(&self) -> bool {
        // SAFETY: as for `abort`.
        unsafe { (self.vtable.is_finished)(self.entry.as_ptr()) }
    }

    /// The task's id, the same as in its [`JoinError`] and [`JoinHandle::id`].
    pub fn id(&self) -> Id {
        self.id
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> Self {
        // SAFETY: as for `abort`; the new handle owns the new count.
        unsafe { (self.vtable.clone)(self.entry.as_ptr()) };
        AbortHandle {
            entry: self.entry,
            vtable: self.vtable,
            id: self.id,
        }
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        // SAFETY: as for `abort`; this handle's count is released once, here.
        unsafe { (self.vtable.drop)(self.entry.as_ptr()) }
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle").field("id", &self.id).finish()
    }
}

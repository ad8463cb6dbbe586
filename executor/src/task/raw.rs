//! The task allocation and the type-erased functions that act on it.
//!
//! A task is one `Box<Cell<F, S>>`: the [`Header`] (state word, vtable, id, spawn location,
//! poll count, owned-list links with the spawn time),
//! the scheduler handle, the stage (the future, then its output, in the same bytes) and the
//! join waker. Every other handle (`Notified`, `Task`, `JoinHandle`, `Waker`) is a pointer to
//! the header that owns one reference. The waker's data pointer *is* the header pointer, so
//! cloning a waker is one atomic increment and waking allocates nothing.

use super::state::{State, ToIdle, ToRunning, WakeByVal};
use super::{Id, JoinError, Notified, Schedule};
use crate::sync::UnsafeCell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    vtable: &'static Vtable,
    pub(crate) id: Id,
    /// Where the task was spawned (`#[track_caller]`), for task dumps and stall reports.
    pub(crate) location: &'static Location<'static>,
    /// Polls so far, for task dumps. Written only by the thread holding `RUNNING` (a load and
    /// a store, no read-modify-write), read by anyone. A plain `std` atomic even under loom:
    /// it is diagnostic and synchronises nothing.
    pub(crate) polls: std::sync::atomic::AtomicU32,
    /// Links of the owned-tasks list; read and written only under that list's shard lock.
    pub(crate) owned: UnsafeCell<OwnedLinks>,
}

#[derive(Default)]
pub(crate) struct OwnedLinks {
    pub(crate) prev: Option<NonNull<Header>>,
    pub(crate) next: Option<NonNull<Header>>,
    /// Milliseconds from the runtime's start to the spawn (saturating), set by `bind`; it
    /// sits in what was padding after `linked`.
    pub(crate) spawned_ms: u32,
    pub(crate) linked: bool,
}

/// `repr(C)` so that a pointer to the cell is a pointer to its header.
#[repr(C)]
struct Cell<F: Future, S> {
    header: Header,
    scheduler: S,
    stage: UnsafeCell<Stage<F>>,
    /// Owned by the `JoinHandle` while `JOIN_WAKER` is unset, by the task side once it is set.
    join_waker: UnsafeCell<Option<Waker>>,
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

struct Vtable {
    poll: unsafe fn(NonNull<Header>),
    schedule: unsafe fn(NonNull<Header>),
    dealloc: unsafe fn(NonNull<Header>),
    try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    drop_join_handle: unsafe fn(NonNull<Header>),
    shutdown: unsafe fn(NonNull<Header>),
}

struct VtableOf<F, S>(std::marker::PhantomData<(F, S)>);

impl<F: Future, S: Schedule> VtableOf<F, S> {
    const VTABLE: Vtable = Vtable {
        poll: poll::<F, S>,
        schedule: schedule::<F, S>,
        dealloc: dealloc::<F, S>,
        try_read_output: try_read_output::<F, S>,
        drop_join_handle: drop_join_handle::<F, S>,
        shutdown: shutdown::<F, S>,
    };
}

/// A pointer to a live task; the handle types around it say which reference it holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawTask {
    ptr: NonNull<Header>,
}

impl RawTask {
    pub(crate) fn new<F, S>(future: F, scheduler: S, id: Id, location: &'static Location<'static>) -> RawTask
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        S: Schedule,
    {
        // SAFETY: the future and its output are `Send`: any thread may poll and drop them.
        unsafe { Self::new_unchecked(future, scheduler, id, location) }
    }

    /// [`new`](Self::new) without the `Send` bounds.
    ///
    /// # Safety
    /// As for `task::new_local_task_at`: a future that is not `Send` is polled and dropped on
    /// its spawning thread only.
    pub(crate) unsafe fn new_unchecked<F, S>(
        future: F,
        scheduler: S,
        id: Id,
        location: &'static Location<'static>,
    ) -> RawTask
    where
        F: Future + 'static,
        F::Output: 'static,
        S: Schedule,
    {
        let cell = Box::new(Cell {
            header: Header {
                state: State::new(),
                vtable: &VtableOf::<F, S>::VTABLE,
                id,
                location,
                polls: std::sync::atomic::AtomicU32::new(0),
                owned: UnsafeCell::new(OwnedLinks::default()),
            },
            scheduler,
            stage: UnsafeCell::new(Stage::Running(future)),
            join_waker: UnsafeCell::new(None),
        });
        // SAFETY: `Box::into_raw` never returns null.
        let ptr = unsafe { NonNull::new_unchecked(Box::into_raw(cell)) }.cast::<Header>();
        RawTask { ptr }
    }

    /// # Safety
    /// `ptr` must point to a live task header.
    pub(crate) unsafe fn from_header(ptr: NonNull<Header>) -> RawTask {
        RawTask { ptr }
    }

    pub(crate) fn header_ptr(self) -> NonNull<Header> {
        self.ptr
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: a RawTask is only held together with a reference that keeps the task alive.
        unsafe { self.ptr.as_ref() }
    }

    fn vtable(&self) -> &'static Vtable {
        self.header().vtable
    }

    /// Runs the task once; consumes the `Notified` reference the caller held.
    pub(crate) fn poll(self) {
        // SAFETY: the caller gives up a `Notified`, which is what `poll` expects.
        unsafe { (self.vtable().poll)(self.ptr) }
    }

    /// Consumes the owned-list reference and cancels the task unless it is running.
    pub(crate) fn shutdown(self) {
        // SAFETY: the caller gives up the owned-list reference, which `shutdown` consumes.
        unsafe { (self.vtable().shutdown)(self.ptr) }
    }

    /// # Safety
    /// `dst` must point to a `Poll<Result<T, JoinError>>` where `T` is the task's output, and
    /// the caller must hold the `JoinHandle`.
    pub(crate) unsafe fn try_read_output(self, dst: *mut (), waker: &Waker) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.vtable().try_read_output)(self.ptr, dst, waker) }
    }

    /// # Safety
    /// Called once, by the `JoinHandle` being dropped.
    pub(crate) unsafe fn drop_join_handle(self) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.vtable().drop_join_handle)(self.ptr) }
    }

    /// Releases one reference the caller held.
    pub(crate) fn drop_reference(self) {
        if self.header().state.ref_dec(1) {
            // SAFETY: that was the last reference.
            unsafe { (self.vtable().dealloc)(self.ptr) }
        }
    }

    /// Called through a `JoinHandle`, whose reference keeps the task alive across `schedule`.
    pub(crate) fn remote_abort(self) {
        if self.header().state.transition_to_notified_and_cancel() {
            // SAFETY: the transition took the reference the new `Notified` owns; the caller's
            // `JoinHandle` holds another until this returns.
            unsafe { (self.vtable().schedule)(self.ptr) }
        }
    }
}

/// # Safety
/// `ptr` points to a `Cell<F, S>` that the caller keeps alive for `'a`.
unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: forwarded from the caller; the header is the first field of a `repr(C)` cell.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

impl<F: Future, S: Schedule> Cell<F, S> {
    /// Polls the future; on `Ready` drops it, so the output can take its place.
    ///
    /// # Safety
    /// The caller holds `RUNNING`.
    unsafe fn poll_future(&self, cx: &mut Context<'_>) -> Poll<F::Output> {
        let poll = self.stage.with_mut(|stage| {
            // SAFETY: RUNNING gives exclusive access to the stage; the future is never moved
            // out of the heap cell until it is dropped in place.
            match unsafe { &mut *stage } {
                Stage::Running(future) => unsafe { Pin::new_unchecked(future) }.poll(cx),
                _ => unreachable!("a task was polled after its future was dropped"),
            }
        });
        if poll.is_ready() {
            // SAFETY: as above.
            unsafe { self.set_stage(Stage::Consumed) };
        }
        poll
    }

    /// # Safety
    /// The caller has exclusive access to the stage (RUNNING, or the output ownership rules).
    unsafe fn set_stage(&self, stage: Stage<F>) {
        // SAFETY: forwarded from the caller.
        self.stage.with_mut(|ptr| unsafe { *ptr = stage });
    }

    /// Drops whatever the stage holds, catching a panic from its destructor.
    ///
    /// # Safety
    /// As for `set_stage`.
    unsafe fn drop_stage(&self) -> Result<(), JoinError> {
        // SAFETY: forwarded from the caller.
        catch_unwind(AssertUnwindSafe(|| unsafe { self.set_stage(Stage::Consumed) }))
            .map_err(|payload| JoinError::panic(self.header.id, payload))
    }

    /// # Safety
    /// The caller owns the output: it holds the `JoinHandle` and saw `COMPLETE`.
    unsafe fn take_output(&self) -> Result<F::Output, JoinError> {
        // SAFETY: forwarded from the caller.
        let stage = self
            .stage
            .with_mut(|ptr| unsafe { std::mem::replace(&mut *ptr, Stage::Consumed) });
        match stage {
            Stage::Finished(output) => output,
            _ => panic!("JoinHandle polled after it returned Ready"),
        }
    }

    /// Drops the future of a cancelled task and completes it; see `complete`.
    ///
    /// # Safety
    /// As for `complete`.
    #[must_use = "true means the caller must deallocate the task"]
    unsafe fn cancel(&self, ptr: NonNull<Header>) -> bool {
        // SAFETY: forwarded from the caller.
        let error = match unsafe { self.drop_stage() } {
            Ok(()) => JoinError::cancelled(self.header.id),
            Err(panicked) => panicked,
        };
        // SAFETY: forwarded from the caller.
        unsafe { self.complete(ptr, Err(error)) }
    }

    /// Stores the output, hands it to the `JoinHandle` (or drops it when there is none) and
    /// leaves the owned list. Returns true when the references it released were the last: the
    /// caller then deallocates, through `ptr` and after this borrow of the cell has ended (a
    /// cell freed while `&self` is live is undefined behaviour; miri caught the first version).
    ///
    /// # Safety
    /// `ptr` points to this cell; the caller holds `RUNNING` and one reference, which this
    /// releases.
    #[must_use = "true means the caller must deallocate the task"]
    unsafe fn complete(&self, ptr: NonNull<Header>, output: Result<F::Output, JoinError>) -> bool {
        // SAFETY: RUNNING gives exclusive access to the stage.
        unsafe { self.set_stage(Stage::Finished(output)) };
        let prev = self.header.state.transition_to_complete();
        // Dropping the output or waking the joiner runs user code, which must not unwind
        // through a worker.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            if !prev.is_join_interested() {
                // SAFETY: without a JoinHandle the task side owns the output.
                let _ = unsafe { self.drop_stage() };
            } else if prev.has_join_waker() {
                // SAFETY: JOIN_WAKER was set when COMPLETE was: the waker is ours to read, and
                // the JoinHandle no longer writes it.
                self.join_waker.with(|waker| match unsafe { &*waker } {
                    Some(waker) => waker.wake_by_ref(),
                    None => unreachable!("JOIN_WAKER set without a waker"),
                });
            }
        }));
        let released = self.scheduler.release(ptr);
        self.header.state.ref_dec(1 + usize::from(released))
    }
}

unsafe fn poll<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller's `Notified` keeps the task alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    // For `task::id()`, while the future is polled or dropped (cancelled) here.
    let _id = super::enter_task(cell.header.id);
    match cell.header.state.transition_to_running() {
        ToRunning::Poll => {}
        // SAFETY: we now hold RUNNING and the Notified's reference.
        ToRunning::Cancel => return unsafe { dealloc_if::<F, S>(cell.cancel(ptr), ptr) },
        ToRunning::Failed => return RawTask { ptr }.drop_reference(),
    }
    let polls = &cell.header.polls;
    polls.store(polls.load(Relaxed).wrapping_add(1), Relaxed);
    // The worker's reference keeps the task alive for the poll, so this waker owns none.
    // SAFETY: the data pointer is a live header and the vtable matches it.
    let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw_waker(ptr)) });
    let mut cx = Context::from_waker(&waker);
    // SAFETY: we hold RUNNING.
    match catch_unwind(AssertUnwindSafe(|| unsafe { cell.poll_future(&mut cx) })) {
        Ok(Poll::Pending) => match cell.header.state.transition_to_idle() {
            ToIdle::Idle => {}
            ToIdle::Notified => {
                // SAFETY: the transition took the reference the new `Notified` owns; the
                // worker's own keeps the task, and so `cell.scheduler`, alive until
                // `yield_now` returns (see `schedule`).
                cell.scheduler
                    .yield_now(unsafe { Notified::from_raw(RawTask { ptr }) });
                RawTask { ptr }.drop_reference();
            }
            // SAFETY: that was the last reference.
            ToIdle::Dealloc => unsafe { dealloc::<F, S>(ptr) },
            // SAFETY: we still hold RUNNING and the worker's reference.
            ToIdle::Cancelled => unsafe { dealloc_if::<F, S>(cell.cancel(ptr), ptr) },
        },
        // SAFETY: we hold RUNNING and the worker's reference.
        Ok(Poll::Ready(output)) => unsafe { dealloc_if::<F, S>(cell.complete(ptr, Ok(output)), ptr) },
        Err(payload) => {
            // SAFETY: we hold RUNNING; a second panic from the destructor is dropped, the
            // first one is what the JoinHandle reports.
            let _ = unsafe { cell.drop_stage() };
            let error = JoinError::panic(cell.header.id, payload);
            // SAFETY: we hold RUNNING and the worker's reference.
            unsafe { dealloc_if::<F, S>(cell.complete(ptr, Err(error)), ptr) };
        }
    }
}

/// # Safety
/// When `last` is true, `ptr` is a `Cell<F, S>` whose last reference was just released, and
/// no reference to it is live.
unsafe fn dealloc_if<F: Future, S: Schedule>(last: bool, ptr: NonNull<Header>) {
    if last {
        // SAFETY: forwarded from the caller.
        unsafe { dealloc::<F, S>(ptr) };
    }
}

/// Submits a new `Notified` to the task's scheduler.
///
/// Once the `Notified` is pushed, another worker may run the task to completion and free it
/// before `schedule` returns, while `&S` (inside the task) is still borrowed: undefined
/// behaviour (a `&self` argument must outlive the call; miri reports it, see the
/// `RunInline` models). So the caller holds a reference of its own across this call, besides
/// the one it gives the `Notified`. That also keeps the scheduler's own state alive: the
/// `Notified` that `Shared::schedule_remote` drops after shutdown (`drain_injector`) is then
/// never the last reference of this task, whose handle may be the last one of `Shared`.
///
/// - `wake_by_ref` and `remote_abort`: the caller's waker or `JoinHandle` is that reference.
/// - `wake_by_val` and a requeue after `Poll::Pending`: the transition takes the `Notified`'s
///   reference in the same compare-and-swap, and the waker's (or worker's) is released after
///   this returns: one atomic decrement more per wake than handing the reference over.
///
/// # Safety
/// The caller took a reference for the new `Notified` (with `NOTIFIED`), and holds another
/// one until this returns.
unsafe fn schedule<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller's own reference keeps the cell alive for this call.
    let cell = unsafe { cell::<F, S>(ptr) };
    // SAFETY: the caller took the reference the `Notified` owns.
    cell.scheduler
        .schedule(unsafe { Notified::from_raw(RawTask { ptr }) });
}

unsafe fn dealloc<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the last reference is gone, so nothing else can reach the cell.
    drop(unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) });
}

unsafe fn try_read_output<F: Future, S: Schedule>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker) {
    // SAFETY: the JoinHandle keeps the task alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    if can_read_output(cell, waker) {
        let dst = dst.cast::<Poll<Result<F::Output, JoinError>>>();
        // SAFETY: COMPLETE with JOIN_INTEREST: the output is the JoinHandle's; `dst` has the
        // type the caller promised.
        unsafe { *dst = Poll::Ready(cell.take_output()) };
    }
}

/// True when the output is ready; otherwise makes sure `waker` is the one the task will wake.
fn can_read_output<F: Future, S>(cell: &Cell<F, S>, waker: &Waker) -> bool {
    let state = &cell.header.state;
    let snapshot = state.load();
    if snapshot.is_complete() {
        return true;
    }
    let published = if !snapshot.has_join_waker() {
        set_join_waker(cell, waker.clone())
    } else {
        // SAFETY: JOIN_WAKER is set and COMPLETE is not: the task side only reads the waker,
        // and only after it sets COMPLETE, so a shared read here is fine.
        let same = cell
            .join_waker
            .with(|w| unsafe { &*w }.as_ref().is_some_and(|w| w.will_wake(waker)));
        if same {
            return false;
        }
        state
            .unset_join_waker()
            .and_then(|_| set_join_waker(cell, waker.clone()))
    };
    match published {
        Ok(_) => false,
        Err(snapshot) => {
            debug_assert!(snapshot.is_complete());
            true
        }
    }
}

fn set_join_waker<F: Future, S>(
    cell: &Cell<F, S>,
    waker: Waker,
) -> Result<super::state::Snapshot, super::state::Snapshot> {
    // SAFETY: JOIN_WAKER is unset, so the JoinHandle owns the slot.
    cell.join_waker.with_mut(|slot| unsafe { *slot = Some(waker) });
    let result = cell.header.state.set_join_waker();
    if result.is_err() {
        // The task completed first and will not read the slot: take the waker back.
        // SAFETY: JOIN_WAKER is still unset, so the slot is still ours.
        cell.join_waker.with_mut(|slot| unsafe { *slot = None });
    }
    result
}

unsafe fn drop_join_handle<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the JoinHandle's reference keeps the task alive until the end of this function.
    let cell = unsafe { cell::<F, S>(ptr) };
    match cell.header.state.unset_join_interest() {
        // SAFETY: COMPLETE with JOIN_INTEREST: the output is ours to drop.
        Err(_) => drop(unsafe { cell.drop_stage() }),
        Ok(prev) if prev.has_join_waker() => {
            // SAFETY: clearing JOIN_WAKER before COMPLETE gave the slot back to us.
            cell.join_waker.with_mut(|slot| unsafe { *slot = None });
        }
        Ok(_) => {}
    }
    RawTask { ptr }.drop_reference();
}

unsafe fn shutdown<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller's owned-list reference keeps the task alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    if cell.header.state.transition_to_shutdown() {
        let _id = super::enter_task(cell.header.id);
        // SAFETY: we took RUNNING; `complete` releases the owned-list reference.
        unsafe { dealloc_if::<F, S>(cell.cancel(ptr), ptr) };
    } else {
        RawTask { ptr }.drop_reference();
    }
}

static WAKER_VTABLE: RawWakerVTable = RawWakerVTable::new(clone_waker, wake_by_val, wake_by_ref, drop_waker);

fn raw_waker(ptr: NonNull<Header>) -> RawWaker {
    RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE)
}

/// The task behind a waker's data pointer. Scheduling and deallocating go through this raw
/// pointer (which carries the allocation's full provenance), never through one re-derived
/// from a `&Header`.
///
/// # Safety
/// `ptr` is a header pointer whose reference the caller's waker holds.
unsafe fn task_of(ptr: *const ()) -> NonNull<Header> {
    // SAFETY: a waker's data pointer is a task header, never null.
    unsafe { NonNull::new_unchecked(ptr as *mut Header) }
}

unsafe fn clone_waker(ptr: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned holds a reference (or the worker does, during a poll).
    let task = unsafe { task_of(ptr) };
    RawTask { ptr: task }.header().state.ref_inc();
    raw_waker(task)
}

unsafe fn wake_by_val(ptr: *const ()) {
    // SAFETY: the waker's reference keeps the task alive until it is used up here.
    let task = RawTask {
        ptr: unsafe { task_of(ptr) },
    };
    let vtable = task.vtable();
    match task.header().state.transition_to_notified_by_val() {
        WakeByVal::Done => {}
        WakeByVal::Submit => {
            // SAFETY: the transition took the reference the new `Notified` owns; the waker's
            // keeps the task alive until `schedule` returns, and is released after.
            unsafe { (vtable.schedule)(task.ptr) };
            task.drop_reference();
        }
        // SAFETY: the waker held the last reference.
        WakeByVal::Dealloc => unsafe { (vtable.dealloc)(task.ptr) },
    }
}

unsafe fn wake_by_ref(ptr: *const ()) {
    // SAFETY: the caller's waker keeps the task alive.
    let task = RawTask {
        ptr: unsafe { task_of(ptr) },
    };
    if task.header().state.transition_to_notified_by_ref() {
        // SAFETY: the transition took the reference the new `Notified` owns; the caller's
        // waker holds another until this returns, as `schedule` requires.
        unsafe { (task.vtable().schedule)(task.ptr) };
    }
}

unsafe fn drop_waker(ptr: *const ()) {
    // SAFETY: the waker being dropped holds a reference.
    RawTask {
        ptr: unsafe { task_of(ptr) },
    }
    .drop_reference();
}

//! `block_in_place`: a worker thread hands its core (queues, LIFO slot, idle and watch
//! accounting, all of it in the `Worker`) to a blocking-pool thread, so that the worker's
//! tasks, timers and I/O go on while the caller blocks.
//!
//! The core is one heap allocation, owned by exactly one thread at a time: the thread whose
//! context points at it, or the worker's hand-off slot in between. `run_core` re-reads the
//! context after every poll, the one point where a hand-off may happen, and leaves its loop if
//! the core is gone. The thread that handed the core off takes it back when its closure
//! returns, if the pool thread has not taken it yet (a short closure then costs no thread
//! switch); otherwise it finishes its task's poll with no core, and leaves (a worker thread)
//! or goes back to the pool (a pool thread).

use super::{Shared, Worker, run_core};
use crate::context;
use crate::current;
use crate::runtime::Handle;
use crate::sync::thread;

/// Runs `f`, which may block, on this thread, after handing the worker it runs to another
/// thread: the other tasks of this worker, its timers and its I/O go on meanwhile. The
/// tokio-compatible way to call blocking code from inside a task without moving it to
/// [`spawn_blocking`](crate::spawn_blocking) (for code that borrows from the task, say).
///
/// On a worker thread of a multi-thread runtime the worker's core moves to a thread of the
/// blocking pool (one is started if none is idle, past `max_blocking_threads`: the core's
/// tasks cannot wait for a slot). When `f` returns, the task's poll goes on on this thread;
/// the core comes back to it if no pool thread has taken it yet. Anywhere else that may block
/// (outside any runtime, a blocking-pool thread, a multi-thread runtime's `block_on` thread),
/// `f` just runs.
///
/// Inside `f` the thread is no worker any more: it may block, even in
/// [`Handle::block_on`](crate::Handle::block_on). A shutdown of the runtime does not wait for
/// an `f` still running (it waits for the worker's core, which runs elsewhere).
///
/// # Panics
/// On a current-thread runtime (in its `block_on` or its tasks): with one thread, no other
/// thread can take its tasks over. Use [`spawn_blocking`](crate::spawn_blocking) there, or a
/// multi-thread runtime.
///
/// ```
/// let runtime = heist_executor::Builder::new().worker_threads(1).build().unwrap();
/// let answer = runtime.block_on(async {
///     heist_executor::spawn(async {
///         let (tx, rx) = std::sync::mpsc::channel();
///         // Sent by a task of the same (one) worker: it runs while this one blocks.
///         heist_executor::spawn(async move { tx.send(42).unwrap() });
///         heist_executor::block_in_place(|| rx.recv().unwrap())
///     })
///     .await
///     .unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
#[track_caller]
pub fn block_in_place<F: FnOnce() -> R, R>(f: F) -> R {
    match hand_off_core_while(f) {
        Ok(output) => output,
        Err(f) => {
            if on_a_current_thread_runtime() {
                panic!(
                    "block_in_place called on a current-thread runtime: its one thread runs all of \
                     its tasks, and no other thread can take them over while this one blocks. \
                     Use heist::spawn_blocking(..).await instead, or a multi-thread runtime."
                );
            }
            f()
        }
    }
}

/// Inside a current-thread runtime's `block_on` (driving its core, or waiting for it).
fn on_a_current_thread_runtime() -> bool {
    context::in_block_on()
        && current::with_handle(|handle| handle.is_some_and(|handle| handle.shared().is_current_thread()))
}

/// A blocking-pool job queued by `block_in_place`: runs worker `index`'s core if it is still
/// waiting in its hand-off slot (the thread that handed it off may have taken it back).
pub(crate) fn run_handed_off_core(handle: &Handle, index: usize) {
    let core = handle.shared().remotes[index].handoff.lock().take();
    if let Some(core) = core {
        run_core(core);
    }
}

/// `block_in_place` on a thread that runs a multi-thread runtime's core, inside a task's poll:
/// hands the core to a blocking-pool thread, so that the worker's tasks, timers and I/O go on
/// while `f` blocks, runs `f`, and takes the core back if no thread has taken it meanwhile.
/// `Err(f)` anywhere else: on no core, on a current-thread runtime's core, out of a poll.
fn hand_off_core_while<R, F: FnOnce() -> R>(f: F) -> Result<R, F> {
    let (pointer, _) = context::worker_on_this_thread();
    let pointer = pointer.cast::<Worker>();
    // SAFETY: as in `with_worker_on_this_thread`: the context points at the core this thread
    // runs, if any; the reference is not used once the core is handed off below.
    let Some(worker) = (unsafe { pointer.as_ref() }) else {
        return Err(f);
    };
    if !worker.may_hand_off.get() || worker.shared().is_shutdown() {
        return Err(f);
    }
    let handle = worker.handle.clone();
    let index = worker.index;
    let shared = handle.shared();
    // The task this poll woke waits in the LIFO slot, where no peer could take it while the
    // core finds its next thread: make it stealable.
    if let Some(task) = worker.lifo.take() {
        worker.local.push(task);
        shared.notify_parked();
    }
    worker.end_poll();
    let role = context::leave_worker_to_block();
    // SAFETY: the core is this thread's (its context pointed at it), was made by
    // `Box::into_raw` (`run_core`, or a take-back), and `worker` is not used from here on.
    let core = unsafe { Box::from_raw(pointer.cast_mut()) };
    let previous = shared.remotes[index].handoff.lock().replace(core);
    debug_assert!(previous.is_none(), "a core is in one place at a time");
    let take_back = TakeBack {
        shared,
        index,
        role: Some(role),
    };
    if shared.blocking.run_core_elsewhere(&handle, index).is_err() {
        // No thread can take the core (the OS refused one, or the runtime is shutting down):
        // keep it, and block it with `f`, as a plain call would. Its tasks wait for `f`.
        drop(take_back);
        return Ok(f());
    }
    shared.detach_thread(thread::current().id());
    let output = f();
    drop(take_back);
    Ok(output)
}

/// Ends `block_in_place`'s hand-off, however `f` ends: the thread is the worker again, with
/// its core if the core is still waiting in the slot, else with none (its task's poll goes
/// on without one, and its run loop then leaves).
struct TakeBack<'a> {
    shared: &'a Shared,
    index: usize,
    role: Option<context::RoleGuard>,
}

impl Drop for TakeBack<'_> {
    fn drop(&mut self) {
        // Restores the worker role, and with it the pointer to a core that may be another
        // thread's by now: replaced at once, before anything can follow it.
        drop(self.role.take());
        context::set_worker(std::ptr::null());
        let core = self.shared.remotes[self.index].handoff.lock().take();
        if let Some(core) = core {
            let core = Box::into_raw(core);
            context::set_worker(core.cast_const().cast());
            // SAFETY: just made from a box, and now this thread's.
            let worker = unsafe { &*core };
            // Back in the middle of this thread's poll, which may hand it off again.
            worker.may_hand_off.set(true);
            worker.track_thread_clock();
        }
    }
}

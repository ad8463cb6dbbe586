//! The blocking pool behind `spawn_blocking`: threads started on demand up to a cap, a FIFO
//! queue in front of them, and idle threads that leave after a keep-alive.
//!
//! Blocking jobs are ordinary tasks (same allocation, same `JoinHandle`, same owned list, so
//! shutdown cancels the ones that have not started) whose future runs the closure once.
//!
//! `block_in_place` hands a worker's core to this pool too ([`BlockingPool::run_core_elsewhere`]):
//! that job goes to the front of the queue and always gets a thread, past the cap, since the
//! runtime's tasks wait for it; and the threads running cores do not count against the cap,
//! or a few long hand-offs would leave `spawn_blocking` jobs no thread.
//!
//! A job counts as in flight, for the paused clock (`heist_timer::Driver::inhibit_auto_advance`),
//! from when it is queued until its task has run: past its completion, so that the task
//! awaiting its result is queued before the clock may auto-advance, as in tokio.

use crate::current;
use crate::runtime::{Config, Handle};
use crate::sync::{Condvar, Mutex, thread};
use crate::task::{Header, Id, JoinHandle, Notified, Schedule, new_task};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub(crate) struct BlockingPool {
    state: Mutex<PoolState>,
    /// Idle threads wait here for work.
    work_available: Condvar,
    /// `shutdown` waits here for the threads to leave.
    thread_exited: Condvar,
    max_threads: usize,
    keep_alive: Duration,
}

/// What a pool thread runs.
enum Job {
    /// A `spawn_blocking` task.
    Task(Notified),
    /// Worker `index`'s core, handed off by `block_in_place`.
    Core(usize),
}

#[derive(Default)]
struct PoolState {
    queue: VecDeque<Job>,
    num_threads: usize,
    /// Threads running a core: not counted against `max_threads`.
    num_running_cores: usize,
    num_idle: usize,
    /// Wake-ups sent to idle threads and not yet taken; tells a real wake from a spurious one.
    num_notified: usize,
    shutdown: bool,
    threads: Vec<(usize, thread::JoinHandle<()>)>,
    next_thread_id: usize,
}

/// The scheduler of a blocking task: it is never woken (the closure runs in one poll), and it
/// leaves the runtime's owned list when done.
struct BlockingSchedule(Handle);

impl Schedule for BlockingSchedule {
    fn schedule(&self, task: Notified) {
        self.0.shared().blocking.push(&self.0, task);
    }

    fn release(&self, task: NonNull<Header>) -> bool {
        self.0.shared().owned.remove(task)
    }
}

/// Runs the closure on its first poll.
struct BlockingTask<F>(Option<F>);

impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self.0.take().expect("a blocking task ran twice");
        // Blocking code is not cooperative: it gets no budget to run out of.
        Poll::Ready(heist_coop::without_budget(f))
    }
}

impl BlockingPool {
    pub(crate) fn new(config: &Config) -> Self {
        BlockingPool {
            state: Mutex::new(PoolState::default()),
            work_available: Condvar::new(),
            thread_exited: Condvar::new(),
            max_threads: config.max_blocking_threads,
            keep_alive: config.blocking_keep_alive,
        }
    }

    pub(crate) fn spawn<F, R>(&self, handle: &Handle, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (task, notified, join) = new_task(
            BlockingTask(Some(f)),
            BlockingSchedule(handle.clone()),
            Id::next(),
        );
        if let Some(notified) = handle.shared().owned.bind(task, notified) {
            self.push(handle, notified);
        }
        join
    }

    fn push(&self, handle: &Handle, task: Notified) {
        let mut state = self.state.lock();
        if state.shutdown {
            // The owned list was closed first, so shutdown has cancelled or will cancel it.
            return;
        }
        state.queue.push_back(Job::Task(task));
        // Until `run` has run it: see the module docs.
        handle.shared().timers.inhibit_auto_advance();
        if !self.wake_idle_thread(&mut state)
            && state.num_threads - state.num_running_cores < self.max_threads
        {
            match self.add_thread(&mut state, handle) {
                Ok(()) => {}
                Err(err) if state.num_threads == 0 => {
                    // Nobody would ever run it: refuse it rather than leave it queued forever.
                    let Some(Job::Task(task)) = state.queue.pop_back() else {
                        unreachable!("just pushed")
                    };
                    drop(state);
                    handle.shared().timers.allow_auto_advance();
                    task.cancel();
                    panic!(
                        "spawn_blocking could not start a thread ({err}) and the pool has none: \
                         free threads or memory, or lower Builder::max_blocking_threads"
                    );
                }
                // The running threads will get to it.
                Err(_) => {}
            }
        }
    }

    /// Runs worker `index`'s core (waiting in its hand-off slot) on a pool thread: queued
    /// first, and given a thread even past the cap. Fails if the pool is shut down or no
    /// thread can start: the caller keeps the core then.
    pub(crate) fn run_core_elsewhere(&self, handle: &Handle, index: usize) -> io::Result<()> {
        let mut state = self.state.lock();
        if state.shutdown {
            return Err(io::Error::other("the runtime is shutting down"));
        }
        state.queue.push_front(Job::Core(index));
        if self.wake_idle_thread(&mut state) {
            return Ok(());
        }
        self.add_thread(&mut state, handle).inspect_err(|_| {
            state.queue.pop_front();
        })
    }

    /// Wakes an idle thread, if there is one, for the job just queued.
    fn wake_idle_thread(&self, state: &mut PoolState) -> bool {
        if state.num_idle == 0 {
            return false;
        }
        state.num_idle -= 1;
        state.num_notified += 1;
        self.work_available.notify_one();
        true
    }

    fn add_thread(&self, state: &mut PoolState, handle: &Handle) -> io::Result<()> {
        let id = state.next_thread_id;
        let thread = self.start_thread(handle, id)?;
        state.next_thread_id += 1;
        state.num_threads += 1;
        state.threads.push((id, thread));
        Ok(())
    }

    fn start_thread(&self, handle: &Handle, id: usize) -> io::Result<thread::JoinHandle<()>> {
        let config = &handle.shared().config;
        let handle = handle.clone();
        let mut builder = thread::Builder::new().name(config.blocking_thread_name.clone());
        if let Some(size) = config.stack_size {
            builder = builder.stack_size(size);
        }
        builder.spawn(move || {
            let _context = current::enter_blocking(handle.clone());
            let config = &handle.shared().config;
            if let Some(hook) = &config.on_thread_start {
                hook();
            }
            handle.shared().blocking.run(id, &handle);
            if let Some(hook) = &config.on_thread_stop {
                hook();
            }
        })
    }

    fn run(&self, id: usize, handle: &Handle) {
        let mut state = self.state.lock();
        loop {
            while let Some(job) = state.queue.pop_front() {
                match job {
                    Job::Task(task) => {
                        drop(state);
                        task.run();
                        handle.shared().timers.allow_auto_advance();
                        state = self.state.lock();
                    }
                    Job::Core(index) => {
                        state.num_running_cores += 1;
                        drop(state);
                        crate::worker::run_handed_off_core(handle, index);
                        state = self.state.lock();
                        state.num_running_cores -= 1;
                    }
                }
            }
            if state.shutdown {
                break;
            }
            state.num_idle += 1;
            let (guard, timed_out) = self.work_available.wait_timeout(state, self.keep_alive);
            state = guard;
            if state.num_notified > 0 {
                // `push` already counted us out of the idle threads.
                state.num_notified -= 1;
                continue;
            }
            state.num_idle -= 1;
            if timed_out && state.queue.is_empty() && !state.shutdown {
                // Idle for the whole keep-alive: leave, and let nobody wait for us.
                state.threads.retain(|(thread_id, _)| *thread_id != id);
                break;
            }
        }
        state.num_threads -= 1;
        drop(state);
        self.thread_exited.notify_all();
    }

    /// Stops taking work and waits for the threads to finish what they are running, for at
    /// most `timeout` (forever if `None`). Threads still busy after that are left to finish
    /// on their own. Called from one of this pool's threads (a blocking job, or a task on a
    /// core handed off to the pool), it does not wait for that one.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) {
        // `None`: wait for as long as it takes (also for a timeout too large to add to now).
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        let mut state = self.state.lock();
        state.shutdown = true;
        self.work_available.notify_all();
        let current = thread::current().id();
        let on_own_thread = state
            .threads
            .iter()
            .any(|(_, thread)| thread.thread().id() == current);
        let this_thread = usize::from(on_own_thread);
        while state.num_threads > this_thread {
            match deadline {
                None => state = self.thread_exited.wait(state),
                Some(deadline) => {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        break;
                    };
                    state = self.thread_exited.wait_timeout(state, left).0;
                }
            }
        }
        let finished = state.num_threads <= this_thread;
        let threads = std::mem::take(&mut state.threads);
        drop(state);
        if finished && this_thread == 0 {
            for (_, thread) in threads {
                let _ = thread.join();
            }
        }
    }

    /// Threads for blocking jobs: not those running a core.
    pub(crate) fn num_threads(&self) -> usize {
        let state = self.state.lock();
        state.num_threads - state.num_running_cores
    }

    pub(crate) fn queue_depth(&self) -> usize {
        self.state.lock().queue.len()
    }
}

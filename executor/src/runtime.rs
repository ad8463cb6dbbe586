//! The public face of the scheduler: `Builder`, `Runtime`, `Handle`.

use crate::current;
use crate::dump::TaskDump;
use crate::metrics::RuntimeMetrics;
use crate::park::Parker;
use crate::stall::{DEFAULT_STALL_THRESHOLD, StallHook, StallReport};
use crate::sync::{Arc, thread};
use crate::task::{Header, Id, JoinHandle, Notified, Schedule, new_task_at};
use crate::worker::Shared;
use std::fmt;
use std::future::Future;
use std::io;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::pin::pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;

type Hook = std::sync::Arc<dyn Fn() + Send + Sync>;

/// What `Builder` fixes for the runtime's lifetime.
pub(crate) struct Config {
    pub(crate) worker_thread_name: String,
    pub(crate) blocking_thread_name: String,
    pub(crate) stack_size: Option<usize>,
    pub(crate) max_blocking_threads: usize,
    pub(crate) blocking_keep_alive: Duration,
    pub(crate) on_thread_start: Option<Hook>,
    pub(crate) on_thread_stop: Option<Hook>,
    pub(crate) stall_threshold: Option<Duration>,
    pub(crate) on_stall: Option<StallHook>,
}

/// Configures and starts a [`Runtime`].
///
/// ```
/// let runtime = heist_executor::Builder::new()
///     .worker_threads(2)
///     .thread_name("my-server")
///     .build()
///     .expect("could not start the runtime");
/// assert_eq!(runtime.block_on(async { 40 + 2 }), 42);
/// ```
pub struct Builder {
    /// Tasks run only inside `block_on`, on its thread (`new_current_thread`).
    current_thread: bool,
    worker_threads: Option<usize>,
    thread_name: Option<String>,
    stack_size: Option<usize>,
    max_blocking_threads: usize,
    blocking_keep_alive: Duration,
    on_thread_start: Option<Hook>,
    on_thread_stop: Option<Hook>,
    stall_threshold: Option<Duration>,
    on_stall: Option<StallHook>,
    start_paused: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("current_thread", &self.current_thread)
            .field("worker_threads", &self.worker_threads)
            .field("thread_name", &self.thread_name)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("stall_threshold", &self.stall_threshold)
            .finish_non_exhaustive()
    }
}

/// Environment variable that sets the default worker count, like tokio's
/// `TOKIO_WORKER_THREADS`.
pub const WORKER_THREADS_ENV: &str = "HEIST_WORKER_THREADS";

impl Builder {
    /// A multi-thread runtime: one worker per CPU core (or `HEIST_WORKER_THREADS`), up to 512
    /// blocking threads that leave after 10 s idle, stall detection at 100 ms reporting on
    /// stderr. The same as [`new_multi_thread`](Self::new_multi_thread).
    pub fn new() -> Self {
        Builder {
            current_thread: false,
            worker_threads: None,
            thread_name: None,
            stack_size: None,
            max_blocking_threads: 512,
            blocking_keep_alive: Duration::from_secs(10),
            on_thread_start: None,
            on_thread_stop: None,
            stall_threshold: Some(DEFAULT_STALL_THRESHOLD),
            on_stall: None,
            start_paused: false,
        }
    }

    /// A multi-thread runtime (tokio's name for it); the same as [`new`](Self::new).
    pub fn new_multi_thread() -> Self {
        Self::new()
    }

    /// A current-thread runtime: no worker threads; tasks run only inside
    /// [`Runtime::block_on`], on the thread that calls it, as with tokio's
    /// `new_current_thread`.
    ///
    /// `block_on` is the runtime's one worker while its future is pending: it runs the tasks,
    /// and when none is runnable it waits in the I/O poller until the next timer deadline, so
    /// sockets and timers work as on a multi-thread runtime. Tasks spawned or woken while no
    /// `block_on` runs wait for the next one. Two threads may call `block_on` at once: one
    /// drives the runtime, the other polls only its own future until the first is done and it
    /// can take over. Blocking jobs still run on the blocking pool.
    ///
    /// ```
    /// let runtime = heist_executor::Builder::new_current_thread().build().unwrap();
    /// let caller = std::thread::current().id();
    /// let ran_on = runtime.block_on(async {
    ///     heist_executor::spawn(async { std::thread::current().id() }).await.unwrap()
    /// });
    /// assert_eq!(ran_on, caller, "the task ran on the thread that called block_on");
    /// ```
    pub fn new_current_thread() -> Self {
        Builder {
            current_thread: true,
            ..Self::new()
        }
    }

    /// Number of worker threads that poll tasks. Must be at least 1. Only for a
    /// multi-thread runtime: `build` refuses it on a current-thread builder.
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        self.worker_threads = Some(n);
        self
    }

    /// Name of the runtime's threads (workers and blocking pool alike).
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.thread_name = Some(name.into());
        self
    }

    /// Stack size of the runtime's threads, in bytes.
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Most threads the `spawn_blocking` pool may run at once; further jobs wait in a FIFO
    /// queue. Must be at least 1.
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking thread waits for work before it exits.
    pub fn thread_keep_alive(&mut self, duration: Duration) -> &mut Self {
        self.blocking_keep_alive = duration;
        self
    }

    /// Runs `f` on every thread of the runtime when it starts.
    pub fn on_thread_start(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_start = Some(std::sync::Arc::new(f));
        self
    }

    /// Runs `f` on every thread of the runtime before it exits.
    pub fn on_thread_stop(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_stop = Some(std::sync::Arc::new(f));
        self
    }

    /// Reports polls that run longer than `threshold` (default: 100 ms); `None` turns stall
    /// detection off.
    ///
    /// A task that blocks inside `poll` (a blocking call, a long computation, a `std` lock
    /// held by a stuck thread) holds its worker and every task queued behind it. With a
    /// threshold set, a watchdog thread (`heist-watchdog`, one per runtime; it runs no
    /// `on_thread_start` hook) looks at the workers every half threshold and reports each poll
    /// that has run longer than the threshold, once, *while it is still running*, to the
    /// [`on_stall`](Self::on_stall) hook (default: one line on stderr). The workers read no
    /// clock for this: each publishes the polled task in an atomic before the poll and clears
    /// it after. Polls on the blocking pool and in `block_on` are not watched.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = heist_executor::Builder::new()
    ///     .worker_threads(1)
    ///     .stall_threshold(Some(Duration::from_millis(10)))
    ///     .on_stall(|report| {
    ///         eprintln!("stalled {:?} on worker {}: {}", report.duration(), report.worker(), report.location())
    ///     })
    ///     .build()
    ///     .unwrap();
    /// runtime.block_on(async {
    ///     // Blocks its worker for 50 ms: reported, with this line as the spawn location.
    ///     heist_executor::spawn(async { std::thread::sleep(Duration::from_millis(50)) }).await.unwrap();
    /// });
    ///
    /// // Off:
    /// let quiet = heist_executor::Builder::new().stall_threshold(None).build().unwrap();
    /// # drop(quiet);
    /// ```
    pub fn stall_threshold(&mut self, threshold: Option<Duration>) -> &mut Self {
        self.stall_threshold = threshold;
        self
    }

    /// Calls `hook` (on the watchdog thread) for each stalled poll, instead of writing a line
    /// to stderr; see [`stall_threshold`](Self::stall_threshold). A panic in the hook is
    /// caught and ignored; the hook should return quickly, as the watchdog waits for it.
    pub fn on_stall(&mut self, hook: impl Fn(&StallReport) + Send + Sync + 'static) -> &mut Self {
        self.on_stall = Some(std::sync::Arc::new(hook));
        self
    }

    /// Starts the runtime with its clock paused, as `heist::time::pause` would as the first
    /// thing in `block_on`: for tests, where time then moves only by `heist::time::advance`
    /// or by auto-advance when the runtime is idle. `#[heist::test(start_paused = true)]`
    /// sets it.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = heist_executor::Builder::new().start_paused(true).build().unwrap();
    /// let slept = runtime.block_on(async {
    ///     let start = heist_timer::Instant::now();
    ///     heist_timer::sleep(Duration::from_secs(86_400)).await; // at once: auto-advance
    ///     start.elapsed()
    /// });
    /// assert_eq!(slept, Duration::from_secs(86_400));
    /// ```
    pub fn start_paused(&mut self, paused: bool) -> &mut Self {
        self.start_paused = paused;
        self
    }

    fn resolve_worker_threads(&self) -> io::Result<usize> {
        let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidInput, message);
        if self.current_thread {
            return match self.worker_threads {
                None => Ok(1),
                Some(n) => Err(invalid(format!(
                    "worker_threads({n}) was set on a current-thread builder, which has no worker \
                     threads (its tasks run inside block_on): use Builder::new_multi_thread for \
                     worker threads, or drop the worker_threads call"
                ))),
            };
        }
        let n = match self.worker_threads {
            Some(n) => n,
            None => match std::env::var(WORKER_THREADS_ENV) {
                Ok(value) => value.trim().parse().map_err(|_| {
                    invalid(format!(
                        "{WORKER_THREADS_ENV}={value:?} is not a number of worker threads: set it \
                         to a whole number of at least 1, or unset it for one worker per CPU core"
                    ))
                })?,
                Err(_) => num_cpus::get().max(1),
            },
        };
        if n == 0 {
            return Err(invalid(
                "a runtime needs at least 1 worker thread: call Builder::worker_threads with 1 \
                 or more, or leave it unset for one worker per CPU core"
                    .into(),
            ));
        }
        Ok(n)
    }

    /// Starts the worker threads.
    ///
    /// # Errors
    /// `InvalidInput` for 0 workers or 0 blocking threads, or `worker_threads` on a
    /// current-thread builder; the OS error if a thread cannot be started (the threads
    /// already started are stopped first).
    pub fn build(&mut self) -> io::Result<Runtime> {
        let num_workers = self.resolve_worker_threads()?;
        if self.max_blocking_threads == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "max_blocking_threads must be at least 1: spawn_blocking jobs would never run",
            ));
        }
        let name = self.thread_name.clone();
        let config = Config {
            worker_thread_name: name.clone().unwrap_or_else(|| "heist-worker".into()),
            blocking_thread_name: name.unwrap_or_else(|| "heist-blocking".into()),
            stack_size: self.stack_size,
            max_blocking_threads: self.max_blocking_threads,
            blocking_keep_alive: self.blocking_keep_alive,
            on_thread_start: self.on_thread_start.clone(),
            on_thread_stop: self.on_thread_stop.clone(),
            stall_threshold: self.stall_threshold,
            on_stall: self.on_stall.clone(),
        };
        let reactor = heist_reactor::Reactor::new()?;
        let (handle, workers) = Shared::with_workers(num_workers, config, reactor, self.current_thread);
        if self.start_paused {
            handle.shared().timers.pause();
        }
        let runtime = Runtime {
            handle: ManuallyDrop::new(handle),
        };
        let mut workers = workers;
        if self.current_thread {
            // Its one core waits for the first `block_on`; no thread of its own.
            for worker in workers.drain(..) {
                runtime.handle.shared().put_core(worker);
            }
        }
        for worker in workers {
            let shared = runtime.handle.shared();
            let mut builder = thread::Builder::new().name(shared.config.worker_thread_name.clone());
            if let Some(size) = shared.config.stack_size {
                builder = builder.stack_size(size);
            }
            let hooks = (
                shared.config.on_thread_start.clone(),
                shared.config.on_thread_stop.clone(),
            );
            // Counted before its thread starts: a shutdown from then on waits for it.
            shared.core_starting();
            let started = builder.spawn(move || {
                if let Some(hook) = &hooks.0 {
                    hook();
                }
                crate::worker::run_core(Box::new(worker));
                if let Some(hook) = &hooks.1 {
                    hook();
                }
            });
            match started {
                Ok(thread) => shared.add_thread(thread),
                Err(error) => {
                    // The core never ran: nothing to wait for.
                    shared.core_retired();
                    return Err(error);
                }
            }
        }
        // Not under loom: the models have no clock, and the watchdog is no part of them.
        #[cfg(not(loom))]
        crate::stall::Watchdog::start(&runtime.handle)?;
        Ok(runtime)
    }
}

/// A running scheduler: worker threads, a blocking pool, and the tasks they run.
///
/// Dropping it stops the workers, drops every task that has not completed (their
/// `JoinHandle`s report cancellation), waits for running blocking jobs and joins every thread.
pub struct Runtime {
    handle: ManuallyDrop<Handle>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.handle.shared().num_workers())
            .finish()
    }
}

impl Runtime {
    /// A runtime with one worker per CPU core; see [`Builder`] for the rest.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// Runs `future` on the current thread to completion, with this runtime current so that
    /// `heist::spawn` inside it spawns here. On a current-thread runtime
    /// ([`Builder::new_current_thread`]) this thread also runs the runtime's tasks meanwhile.
    ///
    /// # Panics
    /// On a worker thread of any heist runtime (use `.await` instead) or inside another
    /// `block_on`.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawns a task; see [`Handle::spawn`].
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs `f` on the blocking pool; see [`Handle::spawn_blocking`].
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// A handle to this runtime, to spawn from other threads.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Makes this runtime current on this thread until the guard is dropped, so that
    /// `heist::spawn` and `Handle::current` work outside `block_on`; see [`Handle::enter`].
    pub fn enter(&self) -> EnterGuard<'_> {
        self.handle.enter()
    }

    /// Counters describing the runtime's work so far.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// The unfinished tasks of this runtime; see [`Handle::dump`].
    pub fn dump(&self) -> TaskDump {
        self.handle.dump()
    }

    /// Shuts down like `drop`, but waits at most `timeout` for blocking jobs that are still
    /// running; threads still busy after that are left to finish in the background.
    pub fn shutdown_timeout(self, timeout: Duration) {
        self.shut_down(Some(timeout));
    }

    /// Shuts down without waiting for blocking jobs.
    pub fn shutdown_background(self) {
        self.shutdown_timeout(Duration::ZERO);
    }
}

impl Runtime {
    /// Every way of shutting down comes here: with this runtime current, since destructors of
    /// cancelled tasks may look for it (a spawn from one is refused quietly: its `JoinHandle`
    /// reports cancellation). Entering changes the current handle only, not what this thread
    /// is, so a worker of another runtime shutting this one down still waits for all of ours.
    fn shut_down(&self, blocking_timeout: Option<Duration>) {
        let _context = current::enter(Handle::clone(&self.handle));
        self.handle.shared().shutdown(blocking_timeout);
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Does nothing after `shutdown_timeout`: shutting down is idempotent.
        self.shut_down(None);
        // SAFETY: dropped once, here.
        unsafe { ManuallyDrop::drop(&mut self.handle) };
    }
}

/// A cheap, cloneable reference to a runtime, to spawn onto it from anywhere.
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.shared.num_workers())
            .finish()
    }
}

/// Returned by [`Handle::try_current`] on a thread that has no runtime.
#[derive(Debug, Clone)]
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "no heist runtime on this thread: call this inside Runtime::block_on or a task, \
             after Runtime::enter, or pass a Handle to this thread",
        )
    }
}

impl std::error::Error for TryCurrentError {}

impl Handle {
    pub(crate) fn from_shared(shared: Shared) -> Handle {
        Handle {
            shared: Arc::new(shared),
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The runtime this thread runs in.
    ///
    /// # Panics
    /// Outside a runtime; [`try_current`](Self::try_current) returns an error instead.
    #[track_caller]
    pub fn current() -> Handle {
        // A `match`, not `unwrap_or_else`: a closure would hide our caller from `#[track_caller]`.
        match Self::try_current() {
            Ok(handle) => handle,
            Err(err) => panic!("Handle::current: {err}"),
        }
    }

    /// The runtime this thread runs in, or an error outside one.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        current::with_handle(|handle| handle.cloned()).ok_or(TryCurrentError(()))
    }

    /// Spawns `future` as a new task and returns a handle to its output.
    ///
    /// From a worker of this runtime the task goes to that worker's LIFO slot, to run next;
    /// from anywhere else it goes to the global queue and wakes a sleeping worker if needed.
    /// After shutdown the task is cancelled at once: its `JoinHandle` reports it.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_at(future, Location::caller())
    }

    /// [`spawn`](Self::spawn) with the spawn location given, for callers that reach this
    /// through a closure (which `#[track_caller]` does not see through).
    pub(crate) fn spawn_at<F>(&self, future: F, location: &'static Location<'static>) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (task, notified, join) = new_task_at(future, self.clone(), Id::next(), location);
        if let Some(notified) = self.shared.owned.bind(task, notified) {
            self.shared.schedule(notified, false);
        }
        join
    }

    /// Runs `f` on a thread of the blocking pool, for code that blocks or computes for long.
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.spawn_blocking_at(f, Location::caller())
    }

    /// [`spawn_blocking`](Self::spawn_blocking) with the spawn location given.
    pub(crate) fn spawn_blocking_at<F, R>(&self, f: F, location: &'static Location<'static>) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        // The blocking pool's spawn path has no `#[track_caller]`: hand it the location.
        crate::task::with_spawn_location(location, || self.shared.blocking.spawn(self, f))
    }

    /// Runs `future` to completion on the current thread with this runtime current; see
    /// [`Runtime::block_on`]. Allowed on threads of the blocking pool. On a current-thread
    /// runtime it drives the runtime as `Runtime::block_on` does.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        if self.shared.is_current_thread() {
            return crate::worker::block_on_current_thread(self, future);
        }
        let _context = current::enter_block_on(self.clone());
        let timers = &self.shared.timers;
        // Awake from here until we return (or unwind): a paused clock waits for this future.
        let _awake = BlockOnAwake::count_in(timers);
        let parker = Arc::new(Parker::for_block_on(timers.clone()));
        let waker = unparker_waker(parker.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(output) = heist_coop::with_budget(|| future.as_mut().poll(&mut cx)) {
                return output;
            }
            parker.park();
        }
    }

    /// Makes this runtime current on this thread until the guard is dropped.
    ///
    /// Allowed on any thread, a worker of another runtime included: it changes which runtime
    /// `heist::spawn`, `Handle::current` and new timers and sockets use, not what the thread is.
    /// A worker of runtime A that enters runtime B is still a worker of A (it may not call
    /// `block_on`), and its timers of B are fired by B.
    ///
    /// # Panics
    /// Dropping the guard panics if a guard created after it on this thread is still alive:
    /// guards must be dropped in the reverse order of their creation (otherwise the newer
    /// guard, once dropped, would make a runtime current again that may be gone by then).
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            _context: current::enter(self.clone()),
            _runtime: std::marker::PhantomData,
        }
    }

    /// Counters describing the runtime's work so far.
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::new(self.clone())
    }

    /// Lists the runtime's unfinished tasks (blocking jobs included): id, spawn location,
    /// state, polls and age, oldest first. `Display` prints one line per task.
    ///
    /// The list is read one shard at a time, each under the lock that spawning and completing
    /// tasks of that shard take: a dump of many tasks delays those briefly, not the polls.
    /// Each task costs 16 bytes in its header for this (location, poll count, spawn time).
    ///
    /// ```
    /// let runtime = heist_executor::Runtime::new().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let line = line!() + 1;
    /// let waiting = runtime.spawn_blocking(move || rx.recv());
    /// let dump = runtime.dump();
    /// // One line per task, like `task 3      running   polls=1      age=0.000s spawned at src/main.rs:5:28`
    /// print!("{dump}");
    /// let task = &dump.tasks()[0];
    /// assert_eq!(task.id(), waiting.id());
    /// assert_eq!(task.location().line(), line);
    /// drop(tx);
    /// ```
    pub fn dump(&self) -> TaskDump {
        TaskDump::collect(&self.shared.owned)
    }
}

impl Schedule for Handle {
    fn schedule(&self, task: Notified) {
        self.shared.schedule(task, false);
    }

    fn yield_now(&self, task: Notified) {
        self.shared.schedule(task, true);
    }

    fn release(&self, task: NonNull<Header>) -> bool {
        self.shared.owned.remove(task)
    }
}

/// The index of the worker running on this thread (`0..num_workers`), or `None` on a thread
/// that is no runtime's worker. A current-thread runtime's `block_on` is its worker 0 while it
/// drives the runtime. (Tokio's unstable `runtime::worker_index`.)
///
/// ```
/// let runtime = heist_executor::Builder::new().worker_threads(2).build().unwrap();
/// assert_eq!(heist_executor::worker_index(), None);
/// let index = runtime.block_on(async {
///     assert_eq!(heist_executor::worker_index(), None, "block_on's thread is no worker");
///     heist_executor::spawn(async { heist_executor::worker_index() }).await.unwrap()
/// });
/// assert!(matches!(index, Some(0 | 1)));
/// ```
pub fn worker_index() -> Option<usize> {
    match crate::context::role() {
        crate::context::Role::Worker { index, .. } => Some(index),
        _ => None,
    }
}

/// Counts a `block_on` thread in among the awake ones (a paused clock waits for it) until
/// dropped; see `park.rs`.
pub(crate) struct BlockOnAwake<'a>(&'a std::sync::Arc<heist_timer::Driver>);

impl<'a> BlockOnAwake<'a> {
    pub(crate) fn count_in(timers: &'a std::sync::Arc<heist_timer::Driver>) -> Self {
        timers.inhibit_auto_advance();
        BlockOnAwake(timers)
    }
}

impl Drop for BlockOnAwake<'_> {
    fn drop(&mut self) {
        self.0.allow_auto_advance();
    }
}

/// Keeps a runtime current on this thread; see [`Runtime::enter`].
pub struct EnterGuard<'a> {
    _context: current::CurrentGuard,
    _runtime: std::marker::PhantomData<&'a Handle>,
}

impl fmt::Debug for EnterGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnterGuard")
    }
}

static PARKER_WAKER: RawWakerVTable = RawWakerVTable::new(
    |ptr| {
        // SAFETY: `ptr` came from `Arc::into_raw` and the waker being cloned keeps it alive.
        unsafe { Arc::increment_strong_count(ptr as *const Parker) };
        parker_waker(ptr as *const Parker)
    },
    // SAFETY (all three): `ptr` came from `Arc::into_raw` and its waker owns that count.
    |ptr| unsafe { Arc::from_raw(ptr as *const Parker) }.unpark(),
    |ptr| unsafe { &*(ptr as *const Parker) }.unpark(),
    |ptr| drop(unsafe { Arc::from_raw(ptr as *const Parker) }),
);

/// A waker that unparks `parker`.
pub(crate) fn unparker_waker(parker: Arc<Parker>) -> Waker {
    // SAFETY: the data pointer comes from `Arc::into_raw` of a `Parker`, as the vtable needs.
    unsafe { Waker::from_raw(parker_waker(Arc::into_raw(parker))) }
}

fn parker_waker(parker: *const Parker) -> RawWaker {
    RawWaker::new(parker as *const (), &PARKER_WAKER)
}

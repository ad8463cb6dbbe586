//! The worker loop and where tasks go when they are spawned or woken.
//!
//! A task's path: `Handle::spawn` → [`Shared::schedule`] → this worker's LIFO slot (when the
//! spawner or waker is a worker of this runtime) or the global injector (anyone else), waking
//! a sleeper through [`Idle`] if needed → [`Worker::next_task`] or [`Worker::steal`] →
//! [`run_core`]'s loop → `Notified::run`, which polls it.

use crate::blocking::BlockingPool;
use crate::context;
use crate::current;
use crate::idle::Idle;
use crate::local::LocalSet;
use crate::park::Parker;
use crate::queue::{self, Injector, Steal, Stealer};
use crate::runtime::{Config, Handle};
use crate::stall::Watchdog;
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering::*, fence};
use crate::sync::thread;
use crate::sync::{Arc, Condvar, Mutex};
use crate::task::{Notified, OwnedTasks};
use crate::watch::{OnWatch, ParkingTake, Poke, Standby, Watch};
use crossbeam_utils::CachePadded;
use heist_reactor::Reactor;
use heist_timer::{Driver, TimerSleep};
use std::cell::Cell;
use std::future::Future;
use std::panic::Location;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

mod handoff;
pub use handoff::block_in_place;
pub(crate) use handoff::run_handed_off_core;

/// How often (in polls) a worker looks at the injector before its own queue, so that tasks
/// spawned from outside cannot starve behind a worker that keeps feeding itself. A prime, so
/// it does not fall into step with periodic workloads.
const INJECTOR_INTERVAL: u32 = 61;

/// How many polls in a row may come from the LIFO slot: two tasks messaging each other would
/// otherwise hold the worker forever.
const MAX_LIFO_POLLS: u32 = 3;

/// At most how many yields (tasks waking themselves) a busy worker lets pass before it looks
/// at the timers and the poller again; it looks sooner once every task queued when the
/// yields began has had its turn (a round of the yielders). Tasks that yield are saying others
/// should run; without this, a runtime full of yielding tasks would take in I/O and timers
/// only every `INJECTOR_INTERVAL` polls (`benches/fairness.rs`: a socket's task waited
/// 160 µs at p50; with a look every 8 yields rather than every round of 4 yielders, 84 µs at
/// p99).
const YIELDS_BETWEEN_LOOKS: u32 = 8;

/// The standby role of one park, if this worker has it, and its last timed sleep (see
/// `watch.rs`).
#[derive(Default)]
struct StandbyState<'a> {
    role: Option<Standby<'a>>,
    last_sleep: Option<Duration>,
}

/// What the runtime's threads share.
pub(crate) struct Shared {
    injector: Injector<Notified>,
    remotes: Box<[Remote]>,
    idle: Idle,
    pub(crate) owned: OwnedTasks,
    pub(crate) blocking: BlockingPool,
    /// One timer shard per worker, plus one (the last) for every other thread.
    pub(crate) timers: std::sync::Arc<Driver>,
    /// The runtime's I/O: one poller, waited on by at most one parked worker at a time.
    pub(crate) reactor: std::sync::Arc<Reactor>,
    /// Who waits on I/O and timers; see `watch.rs`.
    watch: Watch,
    shutdown: AtomicBool,
    pub(crate) config: Config,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
    /// Stall detection, when a threshold is set; see `stall.rs`.
    pub(crate) watchdog: Option<Watchdog>,
    /// A current-thread runtime's one worker core, while no `block_on` drives it; `None` for a
    /// multi-thread runtime, whose cores live on their own threads.
    core: Option<CoreSlot>,
    /// A multi-thread runtime's cores that have not retired yet (see [`run_core`]): shutdown
    /// waits for them, wherever they run (a core handed off by `block_in_place` runs on a
    /// blocking-pool thread).
    live_cores: Mutex<usize>,
    core_retired: Condvar,
}

/// Where a current-thread runtime keeps its worker core between `block_on` calls.
///
/// A `block_on` that finds the core here takes it and becomes the worker (runs tasks, waits in
/// the poller, fires timers) until its own future is done, then puts it back. A `block_on`
/// that finds it gone (another thread drives it) only polls its own future, and waits both for
/// that future's wake and for the core's return (its parker is listed in `waiters`), so that
/// one of the callers always drives the runtime while any of them waits.
struct CoreSlot {
    worker: Mutex<Option<Worker>>,
    waiters: Mutex<Vec<Arc<Parker>>>,
}

/// What other threads may touch of a worker.
struct Remote {
    stealer: Stealer<Notified>,
    parker: Arc<Parker>,
    metrics: CachePadded<WorkerMetrics>,
    /// The core, between `block_in_place` handing it off and the thread that runs it next
    /// taking it: a blocking-pool thread, or the thread that handed it off, if its closure
    /// returns first. Whoever takes it owns it.
    handoff: Mutex<Option<Box<Worker>>>,
}

/// Written by the worker alone (a plain store, no read-modify-write), read by anyone.
#[derive(Default)]
pub(crate) struct WorkerMetrics {
    pub(crate) polls: AtomicU64,
    pub(crate) steals: AtomicU64,
    pub(crate) parks: AtomicU64,
    /// The spawn location of the task being polled, null between polls; written only with
    /// stall detection on, read by the watchdog (`stall.rs`). A `std` atomic even under loom:
    /// it synchronises nothing the models check.
    pub(crate) polling: std::sync::atomic::AtomicPtr<Location<'static>>,
    /// The statistics of the thread running the core (Linux, with stall detection on): the
    /// watchdog does not count the time it waited for a CPU as stuck (`thread_clock.rs`).
    /// Replaced when the core moves to another thread (`block_in_place`).
    pub(crate) thread_clock: std::sync::Mutex<Option<crate::thread_clock::ThreadClock>>,
}

/// A worker's core: its queues and the state its scheduling decisions keep. One heap
/// allocation, owned by one thread at a time (the one whose context points at it, see
/// [`run_core`]; `block_in_place` moves it to another); other threads see it only through its
/// `Remote`.
pub(crate) struct Worker {
    handle: Handle,
    index: usize,
    local: queue::Worker<Notified>,
    lifo: Cell<Option<Notified>>,
    lifo_polls: Cell<u32>,
    tick: Cell<u32>,
    /// Yields since this worker last looked at the timers and the poller.
    yields: Cell<u32>,
    searching: Cell<bool>,
    /// A task's poll is in progress on the thread running the core: the one point where
    /// `block_in_place` may hand the core off (the run loop takes it back from the thread's
    /// context after the poll). User code run anywhere else (a destructor while the queues are
    /// drained, a waker while parked) runs its closure in place.
    may_hand_off: Cell<bool>,
    /// Unparks this worker; handed to the timers while it holds the watch.
    unpark: Waker,
    rng: Cell<u32>,
    /// Stall detection is on: publish each poll's task in `WorkerMetrics::polling`.
    watch_stalls: bool,
    polls: Cell<u64>,
    steals: Cell<u64>,
    parks: Cell<u64>,
}

impl Shared {
    /// The shared state and one worker core per worker; threads are started by the caller.
    pub(crate) fn with_workers(
        num_workers: usize,
        config: Config,
        reactor: Reactor,
        current_thread: bool,
    ) -> (Handle, Vec<Worker>) {
        debug_assert!(
            !current_thread || num_workers == 1,
            "a current-thread runtime has one core"
        );
        let reactor = std::sync::Arc::new(reactor);
        let watchdog = config
            .stall_threshold
            .map(|threshold| Watchdog::new(threshold, config.on_stall.clone()));
        // Under loom no watchdog runs (see `Builder::build`): leave the models unchanged.
        let watch_stalls = watchdog.is_some() && cfg!(not(loom));
        let locals: Vec<_> = (0..num_workers).map(|_| queue::Worker::new_fifo()).collect();
        let remotes = locals
            .iter()
            .map(|local| Remote {
                stealer: local.stealer(),
                parker: Arc::new(Parker::for_worker(reactor.clone())),
                metrics: CachePadded::new(WorkerMetrics::default()),
                handoff: Mutex::new(None),
            })
            .collect();
        let shared = Shared {
            injector: Injector::new(),
            remotes,
            idle: Idle::new(num_workers),
            owned: OwnedTasks::new(num_workers),
            blocking: BlockingPool::new(&config),
            timers: std::sync::Arc::new(Driver::new(num_workers + 1)),
            reactor,
            watch: Watch::new(),
            shutdown: AtomicBool::new(false),
            config,
            threads: Mutex::new(Vec::new()),
            watchdog,
            core: current_thread.then(|| CoreSlot {
                worker: Mutex::new(None),
                waiters: Mutex::new(Vec::new()),
            }),
            live_cores: Mutex::new(0),
            core_retired: Condvar::new(),
        };
        let handle = Handle::from_shared(shared);
        let workers = locals
            .into_iter()
            .enumerate()
            .map(|(index, local)| Worker {
                unpark: crate::runtime::unparker_waker(handle.shared().remotes[index].parker.clone()),
                handle: handle.clone(),
                index,
                local,
                lifo: Cell::new(None),
                lifo_polls: Cell::new(0),
                tick: Cell::new(0),
                yields: Cell::new(0),
                searching: Cell::new(false),
                may_hand_off: Cell::new(false),
                rng: Cell::new(0x9E37_79B9 ^ (index as u32 + 1).wrapping_mul(0x85EB_CA6B)),
                watch_stalls,
                polls: Cell::new(0),
                steals: Cell::new(0),
                parks: Cell::new(0),
            })
            .collect();
        (handle, workers)
    }

    /// True for a current-thread runtime: its tasks run only inside `block_on`.
    pub(crate) fn is_current_thread(&self) -> bool {
        self.core.is_some()
    }

    /// Stores a current-thread runtime's core, first at `build` and after each `block_on`
    /// that drove it; after shutdown drops it instead (its queues hold references to tasks,
    /// and it holds the runtime: kept, it would keep both alive). Wakes the `block_on` calls
    /// waiting for it, so that one of them takes over.
    pub(crate) fn put_core(&self, worker: Worker) {
        let slot = self
            .core
            .as_ref()
            .expect("only a current-thread runtime has a core slot");
        let mut stored = slot.worker.lock();
        // Read under the lock that `shutdown` takes the core under, after setting the flag:
        // either this store comes first and shutdown finds the core, or this sees the flag.
        let leftover = if self.is_shutdown() {
            Some(worker)
        } else {
            *stored = Some(worker);
            None
        };
        drop(stored);
        // Outside the lock: dropping the core drops task references, hence maybe tasks.
        drop(leftover);
        let waiters = std::mem::take(&mut *slot.waiters.lock());
        for waiter in waiters {
            waiter.unpark();
        }
    }

    fn take_core(&self) -> Option<Worker> {
        self.core.as_ref()?.worker.lock().take()
    }

    /// Lists `parker` to be unparked when the core comes back (once, however often called).
    fn wait_for_core(&self, parker: &Arc<Parker>) {
        if let Some(slot) = &self.core {
            let mut waiters = slot.waiters.lock();
            if !waiters.iter().any(|waiter| Arc::ptr_eq(waiter, parker)) {
                waiters.push(parker.clone());
            }
        }
    }

    pub(crate) fn add_thread(&self, thread: thread::JoinHandle<()>) {
        self.threads.lock().push(thread);
    }

    /// Counts in a core about to start on a thread of its own (before the thread starts: a
    /// shutdown meanwhile waits for it). [`Shared::core_retired`] undoes it.
    pub(crate) fn core_starting(&self) {
        *self.live_cores.lock() += 1;
    }

    pub(crate) fn core_retired(&self) {
        let mut live = self.live_cores.lock();
        *live -= 1;
        drop(live);
        self.core_retired.notify_all();
    }

    fn wait_for_cores_to_retire(&self, own_core: usize) {
        let mut live = self.live_cores.lock();
        while *live > own_core {
            live = self.core_retired.wait(live);
        }
    }

    /// Forgets the thread a worker ran on once it handed its core off: it leaves when its
    /// task's poll is done, and a shutdown waits for the core, wherever it runs, not for a
    /// closure that `block_in_place` runs there.
    fn detach_thread(&self, thread: thread::ThreadId) {
        self.threads
            .lock()
            .retain(|handle| handle.thread().id() != thread);
    }

    /// Which runtime this is, to compare a thread's role with.
    pub(crate) fn id(&self) -> context::RuntimeId {
        context::RuntimeId::of(self)
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.remotes.len()
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Acquire)
    }

    /// Queues a spawned or woken task; `is_yield` sends a task that woke itself to the back.
    pub(crate) fn schedule(&self, task: Notified, is_yield: bool) {
        with_worker_on_this_thread(|worker, parked| match worker {
            Some(worker) if std::ptr::eq(worker.shared(), self) => {
                if parked {
                    // Woken by timers this parked worker fires: it runs them itself when it
                    // is done firing (`Worker::park`), so no one else needs waking.
                    self.injector.push(task);
                } else {
                    worker.schedule_local(task, is_yield);
                }
            }
            _ => self.schedule_remote(task),
        })
    }

    fn schedule_remote(&self, task: Notified) {
        self.injector.push(task);
        if self.shutdown.load(SeqCst) {
            // Shutdown may already have emptied the injector: make sure nothing stays behind.
            self.drain_injector();
            return;
        }
        self.notify_parked();
    }

    /// Wakes a sleeping worker if the work just published needs one.
    pub(crate) fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify(|| self.watch.holder()) {
            self.remotes[index].parker.unpark();
        }
    }

    /// The last searcher's final look before it sleeps.
    fn notify_if_work_pending(&self) {
        fence(SeqCst);
        let pending =
            self.remotes.iter().any(|remote| !remote.stealer.is_empty()) || !self.injector.is_empty();
        if pending {
            self.notify_parked();
        }
    }

    fn drain_injector(&self) {
        loop {
            match self.injector.steal() {
                Steal::Success(task) => drop(task),
                Steal::Empty => break,
                Steal::Retry => {}
            }
        }
    }

    /// Stops the workers, drops every unfinished future once, and waits for the blocking pool
    /// (at most `blocking_timeout`). Idempotent.
    pub(crate) fn shutdown(&self, blocking_timeout: Option<Duration>) {
        if self.shutdown.swap(true, SeqCst) {
            return;
        }
        if let Some(watchdog) = &self.watchdog {
            watchdog.stop();
        }
        for remote in self.remotes.iter() {
            remote.parker.unpark();
        }
        // From the role, not the current handle: a worker of another runtime that entered this
        // one (`Runtime::drop` does) is none of ours, and must wait for all of them. A task
        // that drops its own runtime is still in its poll: its core cannot retire before it.
        let role = context::role();
        let runs_own_core =
            role.worker_of(self.id()).is_some() && !context::worker_on_this_thread().0.is_null();
        self.wait_for_cores_to_retire(usize::from(runs_own_core));
        let threads: Vec<_> = std::mem::take(&mut *self.threads.lock());
        let this_thread = thread::current().id();
        for thread in threads {
            if thread.thread().id() != this_thread {
                let _ = thread.join();
            }
        }
        // No worker polls any more: every task still listed is idle, queued, or running on a
        // blocking thread. Cancelling runs destructors that may spawn (refused, the list is
        // closed) or wake (dropped, the runtime is shut down).
        for task in self.owned.close_and_take_all() {
            task.shutdown();
        }
        self.drain_injector();
        // A current-thread runtime's core, if no `block_on` holds it (one that does drops it
        // when it is done: `put_core`). Dropped outside the lock, as in `put_core`.
        let core = self.take_core();
        drop(core);
        // Nobody fires timers any more: those still registered (a blocking job's, another
        // runtime's task's) panic with a message now instead of waiting for good.
        self.timers.shutdown();
        self.blocking.shutdown(blocking_timeout);
        // I/O objects of this runtime that outlive it (held by another runtime's tasks, say)
        // get an error from now on instead of waiting for a poll that will never come.
        self.reactor.close();
    }

    pub(crate) fn worker_metrics(&self, worker: usize) -> &WorkerMetrics {
        &self.remotes[worker].metrics
    }

    pub(crate) fn local_queue_depth(&self, worker: usize) -> usize {
        self.remotes[worker].stealer.len()
    }

    pub(crate) fn injector_depth(&self) -> usize {
        self.injector.len()
    }

    pub(crate) fn num_searching(&self) -> usize {
        self.idle.num_searching()
    }

    /// True while every worker is parked: no poll of theirs is in flight.
    pub(crate) fn all_workers_parked(&self) -> bool {
        self.idle.num_unparked() == 0
    }

    /// True when nothing in the runtime can happen before a timer fires: every worker
    /// parked, no task queued, no `block_on` thread awake and no blocking job in flight. A
    /// paused clock may then jump to the next deadline (auto-advance; ready I/O is the
    /// caller's to take in first). Each part is re-established by whoever changes it: a
    /// queued task's worker is unparked before it can leave the queue, and the thread that
    /// makes the last part true wakes the timers' sleeper (`Worker::park`,
    /// `Driver::allow_auto_advance`).
    fn nothing_left_but_timers(&self) -> bool {
        self.idle.num_unparked() == 0
            && !self.timers.auto_advance_inhibited()
            && self.injector.is_empty()
            && self.remotes.iter().all(|remote| remote.stealer.is_empty())
    }
}

impl Worker {
    fn shared(&self) -> &Shared {
        self.handle.shared()
    }

    /// A current-thread runtime's `block_on`, on the core taken from the runtime: polls
    /// `future` when woken, runs up to `INJECTOR_INTERVAL` tasks between two of its polls (so
    /// that a future woken all the time cannot starve the tasks), and parks when there is
    /// nothing to run, in the poller until the next timer deadline like any worker.
    fn block_on<F: Future>(&self, mut future: Pin<&mut F>) -> F::Output {
        let root = std::sync::Arc::new(RootWake {
            woken: AtomicBool::new(true),
            parker: self.shared().remotes[self.index].parker.clone(),
        });
        let waker = Waker::from(root.clone());
        let mut cx = Context::from_waker(&waker);
        loop {
            if root.woken.swap(false, Acquire) {
                if let Poll::Ready(output) = heist_coop::with_budget(|| future.as_mut().poll(&mut cx)) {
                    return output;
                }
            }
            if self.shared().is_shutdown() {
                // Shut down from another thread (through a `Handle`): the tasks are gone, and
                // only `future` is left to wait for.
                if !root.woken.load(Acquire) {
                    root.parker.park();
                }
                continue;
            }
            for _ in 0..INJECTOR_INTERVAL {
                match self.next_task().or_else(|| self.steal()) {
                    Some(task) => self.run_task(task),
                    None => {
                        self.park(Some(&root.woken));
                        break;
                    }
                }
            }
        }
    }

    /// Next task from this worker's own sources: now and then the injector, then the LIFO slot
    /// (bounded), the local queue, and the injector.
    fn next_task(&self) -> Option<Notified> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        let injector_turn = tick % INJECTOR_INTERVAL == 0;
        let yields = self.yields.get();
        // Once tasks have yielded, how many are queued here: when each has had its turn since
        // the first yield (a round of the yielders), the timers and the poller get a look.
        let queued = if yields > 0 { self.local.len() } else { usize::MAX };
        let round_of_yielders = yields as usize >= queued;
        if injector_turn || yields >= YIELDS_BETWEEN_LOOKS || (round_of_yielders && queued > 1) {
            self.look_at_timers_and_io();
        } else if round_of_yielders {
            // A lone yielder (a hog that spent its budget: every 128 operations) makes a round
            // of its own. The timers beside it get a look at each of its yields (a relaxed
            // load, and a clock read when one is pending); the poller, a system call and a
            // hand-shake on the watch, every `YIELDS_BETWEEN_LOOKS`.
            self.fire_due_timers();
        }
        if injector_turn {
            if let Some(task) = self.pop_injector() {
                return Some(task);
            }
        }
        if let Some(task) = self.lifo.take() {
            if self.lifo_polls.get() < MAX_LIFO_POLLS {
                self.lifo_polls.set(self.lifo_polls.get() + 1);
                return Some(task);
            }
            self.local.push(task);
            self.shared().notify_parked();
        }
        self.lifo_polls.set(0);
        self.local.pop().or_else(|| self.pop_injector())
    }

    fn pop_injector(&self) -> Option<Notified> {
        loop {
            match self.shared().injector.steal_batch_and_pop(&self.local) {
                Steal::Success(task) => {
                    if !self.local.is_empty() {
                        // We took a batch: let idle peers share it.
                        self.shared().notify_parked();
                    }
                    return Some(task);
                }
                Steal::Empty => return None,
                Steal::Retry => {}
            }
        }
    }

    /// Out of local work: steal half of a random peer's queue, then try the injector.
    fn steal(&self) -> Option<Notified> {
        if !self.searching.get() {
            if !self.shared().idle.try_start_searching() {
                return None;
            }
            self.searching.set(true);
        }
        let remotes = &self.shared().remotes;
        let start = self.next_random() as usize % remotes.len();
        let mut retry = true;
        while retry {
            retry = false;
            for offset in 0..remotes.len() {
                let victim = (start + offset) % remotes.len();
                if victim == self.index {
                    continue;
                }
                match remotes[victim].stealer.steal_batch_and_pop(&self.local) {
                    Steal::Success(task) => {
                        self.steals.set(self.steals.get() + 1);
                        self.publish_metrics();
                        return Some(task);
                    }
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
        }
        self.pop_injector()
    }

    /// Polls `task` on a current-thread runtime's core, which no poll can hand off.
    fn run_task(&self, task: Notified) {
        self.start_poll(&task);
        heist_coop::with_budget(|| task.run());
        self.end_poll();
    }

    fn start_poll(&self, task: &Notified) {
        if self.searching.replace(false) && self.shared().idle.stop_searching() {
            // The last searcher found work: there may be more, so bring another worker in.
            self.shared().notify_parked();
        }
        let polls = self.polls.get() + 1;
        self.polls.set(polls);
        // Published before the poll, so whoever sees the task's result sees it counted.
        let metrics = &self.shared().remotes[self.index].metrics;
        metrics.polls.store(polls, Relaxed);
        if self.watch_stalls {
            // For the watchdog: the location after the counter (release), so that a watchdog
            // that sees this location reads this poll's count or a later one. No clock here.
            let location = std::ptr::from_ref(task.location()).cast_mut();
            metrics
                .polling
                .store(location, std::sync::atomic::Ordering::Release);
        }
    }

    fn end_poll(&self) {
        if self.watch_stalls {
            self.shared().remotes[self.index]
                .metrics
                .polling
                .store(std::ptr::null_mut(), std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Lets the watchdog read the CPU times of the thread that runs the core from now on.
    fn track_thread_clock(&self) {
        if self.watch_stalls {
            let clock = crate::thread_clock::ThreadClock::current();
            let metrics = &self.shared().remotes[self.index].metrics;
            *metrics.thread_clock.lock().unwrap_or_else(|e| e.into_inner()) = clock;
        }
    }

    /// Called when a task is spawned or woken on this worker's thread.
    fn schedule_local(&self, task: Notified, is_yield: bool) {
        if is_yield {
            self.yields.set(self.yields.get() + 1);
            // A task this one woke during the poll waits in the LIFO slot, which no peer can
            // read. It goes to the stealable queue, ahead of the yielding task, as if woken
            // once the budget was spent (see below): the peer woken here can take it if this
            // thread loses its CPU first, as it often does, to that very peer. Left in the
            // slot, a task woken by a socket hog waited for the OS to hand this thread back,
            // milliseconds (`benches/fairness`).
            let woken = self.lifo.take();
            // A task that yields alone is this worker's next task again: waking a peer would
            // only have it steal the task, and a task that spends its budget in a loop would
            // then bounce between the workers, a wake-up and a cache miss every 128 operations.
            // A peer is needed when something else waits here too.
            let waits_alone = woken.is_none() && self.local.is_empty();
            if let Some(woken) = woken {
                self.local.push(woken);
            }
            self.local.push(task);
            if waits_alone {
                return;
            }
        } else if heist_coop::is_exhausted() {
            // The running task spent its budget and is about to yield: what it woke goes
            // where an idle peer can steal it, not to a slot only this busy worker reads.
            self.local.push(task);
        } else if let Some(previous) = self.lifo.replace(Some(task)) {
            self.local.push(previous);
        } else {
            // Only the LIFO slot changed, and nobody can steal from it: no one to wake.
            return;
        }
        self.shared().notify_parked();
    }

    /// Busy workers fire due timers and poll for I/O too: they may all be busy for a long
    /// time, with no parked worker to do it.
    fn look_at_timers_and_io(&self) {
        self.yields.set(0);
        self.fire_due_timers();
        self.poll_io_without_blocking();
    }

    fn fire_due_timers(&self) {
        let timers = &self.shared().timers;
        if timers.has_pending() && timers.is_due() {
            timers.fire_due();
        }
    }

    /// Between tasks: takes in the I/O events that arrived, if no parked worker is waiting
    /// for them already. `Reactor::poll` with a zero timeout still costs several system calls
    /// (epoll), so this runs only every `INJECTOR_INTERVAL` polls and only with sources
    /// registered. The tasks it wakes land in this worker's queues.
    fn poll_io_without_blocking(&self) {
        let shared = self.shared();
        if !shared.reactor.has_sources() {
            return;
        }
        let wake_a_sleeper = || shared.notify_parked();
        if let Some(_on_watch) = shared.watch.try_take_quick(&wake_a_sleeper) {
            if let Err(error) = shared.reactor.poll(Some(Duration::ZERO)) {
                report_poll_error(&error);
            }
        }
    }

    /// Wakes whoever `poke` names so that someone takes the watch in time (see `watch.rs`).
    /// The poked worker stays listed as a sleeper: it only looks at the watch again.
    fn poke(&self, poke: Poke) {
        let shared = self.shared();
        let worker = match poke {
            Poke::Nobody => return,
            Poke::Standby(worker) => Some(worker),
            Poke::AnySleeper => shared.idle.any_sleeper_except(self.index),
        };
        if let Some(worker) = worker {
            shared.remotes[worker].parker.unpark();
        }
    }

    /// Sleeps until there is work (or shutdown); with `root`, also until that flag is set:
    /// a current-thread `block_on`'s future was woken (`RootWake`), and must be polled.
    fn park(&self, root: Option<&AtomicBool>) {
        let shared = self.shared();
        let root_woken = || root.is_some_and(|woken| woken.load(Acquire));
        if shared.idle.park(self.index, self.searching.replace(false)) {
            shared.notify_if_work_pending();
        }
        if shared.timers.is_paused() {
            // Maybe the last worker to go idle: the worker sleeping on the timers looks again
            // whether to auto-advance (we may take the watch ourselves, and then we look).
            shared.timers.wake_sleeper();
        }
        self.parks.set(self.parks.get() + 1);
        self.publish_metrics();
        let remote = &shared.remotes[self.index];
        let asleep = context::park_worker();
        let mut standby = StandbyState::default();
        let mut woke_itself = false;
        loop {
            let woke_tasks = self.sleep_once(remote, &mut standby);
            if shared.is_shutdown() {
                return;
            }
            let has_work = root_woken() || (woke_tasks && !shared.injector.is_empty());
            if has_work && shared.idle.unpark_to_work(self.index) {
                // The events or timers we took in woke tasks: we run them ourselves, with no
                // futex hop between an event and its task, and without waking a peer to take
                // the poller over (the standby does that if we are away for long; see
                // `watch.rs`). A burst of woken tasks still spreads: taking a batch from the
                // injector wakes a sleeper.
                woke_itself = true;
                self.poke(shared.watch.depart());
            }
            if !shared.idle.is_parked(self.index) {
                break;
            }
        }
        if standby.role.take().is_some() && shared.watch.needs_new_standby() {
            // Woken for work while standing by, with nobody in the poller: someone else must
            // stand by, or a holder away for long would stall everyone's I/O.
            self.poke(Poke::AnySleeper);
        }
        drop(asleep);
        if let Some(watchdog) = &shared.watchdog {
            watchdog.worker_awake();
        }
        // Whoever woke us counted us as searching; waking ourselves, we know where the work is.
        self.searching.set(!woke_itself);
    }

    /// One sleep: in the poller until the next timer deadline (then firing what is due) if
    /// the watch is free; else on the condvar, with a timeout if we are the standby. True if
    /// it took in events or fired timers, which may have woken tasks.
    fn sleep_once<'a>(&'a self, remote: &Remote, standby: &mut StandbyState<'a>) -> bool {
        let shared = self.shared();
        let wake_a_sleeper = || shared.notify_parked();
        let on_watch = match shared.watch.take_for_parking(self.index, &wake_a_sleeper) {
            ParkingTake::Taken(on_watch) => on_watch,
            ParkingTake::HeldInPoller | ParkingTake::Missed => {
                if standby.role.is_none() {
                    standby.role = shared.watch.try_standby(self.index);
                    standby.last_sleep = None;
                }
                let Some(role) = standby.role.as_mut() else {
                    remote.parker.park();
                    return false;
                };
                // Under loom a timed wait returns at once (there is no clock), which would make
                // the standby spin: there it always dozes, and the hand-shakes have models.
                let timed = cfg!(not(loom)) && (shared.reactor.has_sources() || shared.timers.has_pending());
                let sleep = role.next_sleep(standby.last_sleep, timed);
                standby.last_sleep = sleep.or(standby.last_sleep);
                remote.parker.park_timeout(sleep);
                return false;
            }
        };
        // Holding the watch, we stand by no more: let another sleeper take that role.
        standby.role = None;
        let timer_sleep = on_watch.sleep_on_timers(&shared.timers, &self.unpark);
        // After `try_sleep`: a thread that goes idle after this look wakes us.
        let paused_sleep = timer_sleep
            .as_ref()
            .filter(|sleep| sleep.paused_until().is_some() && shared.nothing_left_but_timers());
        if let Some(paused_sleep) = paused_sleep {
            let events = self.auto_advance(&on_watch, paused_sleep);
            on_watch.leave_poller();
            drop(timer_sleep);
            let fired = shared.timers.fire_due();
            drop(on_watch);
            return events > 0 || fired > 0;
        }
        let timeout = timer_sleep.as_ref().and_then(|sleep| sleep.timeout());
        let events = match remote.parker.park_in_poller(&on_watch, timeout) {
            Ok(events) => events,
            Err(error) => {
                // The poller failed (it should not): report it and sleep on the condvar until
                // the deadline, so timers keep working and the loop does not spin.
                report_poll_error(&error);
                remote
                    .parker
                    .park_timeout(timeout.or(Some(Duration::from_millis(10))));
                0
            }
        };
        on_watch.leave_poller();
        drop(timer_sleep);
        let fired = shared.timers.fire_due();
        drop(on_watch);
        events > 0 || fired > 0
    }

    /// The runtime is idle with a paused clock and a timer pending: take in the I/O events
    /// that are ready (they may wake tasks, and then time must not move), and if there are
    /// none and the runtime is still idle, move the clock to the next deadline. Returns the
    /// events taken in; the caller fires what is due.
    fn auto_advance(&self, _on_watch: &OnWatch<'_>, timer_sleep: &TimerSleep<'_>) -> usize {
        let shared = self.shared();
        let events = match shared.reactor.poll(Some(Duration::ZERO)) {
            Ok(events) => events,
            Err(error) => {
                report_poll_error(&error);
                0
            }
        };
        if events == 0 && shared.nothing_left_but_timers() {
            shared.timers.auto_advance(timer_sleep);
        }
        events
    }

    fn next_random(&self) -> u32 {
        // xorshift32: cheap, and good enough to spread victims.
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng.set(x);
        x
    }

    fn publish_metrics(&self) {
        let metrics = &self.shared().remotes[self.index].metrics;
        metrics.polls.store(self.polls.get(), Relaxed);
        metrics.steals.store(self.steals.get(), Relaxed);
        metrics.parks.store(self.parks.get(), Relaxed);
    }
}

/// `block_on` on a current-thread runtime: drives the runtime's one worker core on this
/// thread while `future` is pending (or, if another thread drives it, waits for either).
#[track_caller]
pub(crate) fn block_on_current_thread<F: Future>(handle: &Handle, future: F) -> F::Output {
    let shared = handle.shared();
    let _context = current::enter_block_on(handle.clone());
    // Wrapped in a set of its own, for `spawn_local`: its tasks live as long as this call
    // (the set drops the unfinished ones before the runtime stops being current).
    let local = LocalSet::new();
    let mut future = pin!(local.run_until(future));
    // While another thread drives the core, this one is a `block_on` thread like any other: a
    // paused clock waits for its future (`park.rs`). Driving the core, it parks as the worker,
    // and the park decides auto-advance.
    let timers = &shared.timers;
    let parker = Arc::new(Parker::for_block_on(timers.clone()));
    let waker = crate::runtime::unparker_waker(parker.clone());
    let mut cx = Context::from_waker(&waker);
    let mut waiting_for_core = None;
    loop {
        if let Some(core) = shared.take_core() {
            drop(waiting_for_core.take());
            return drive_core(handle, core, future.as_mut());
        }
        if waiting_for_core.is_none() {
            waiting_for_core = Some(crate::runtime::BlockOnAwake::count_in(timers));
        }
        // Listed before the poll: a core returned from now on unparks us.
        shared.wait_for_core(&parker);
        if let Some(core) = shared.take_core() {
            drop(waiting_for_core.take());
            return drive_core(handle, core, future.as_mut());
        }
        if let Poll::Ready(output) = heist_coop::with_budget(|| future.as_mut().poll(&mut cx)) {
            return output;
        }
        parker.park();
    }
}

/// Runs `future` and the runtime's tasks on this thread with `core` as its worker, and puts
/// the core back when `future` is done (or panics).
fn drive_core<F: Future>(handle: &Handle, core: Worker, future: Pin<&mut F>) -> F::Output {
    /// Puts the core back however `drive_core` ends, a panic of `future` included.
    struct Holder<'a> {
        shared: &'a Shared,
        core: Option<Worker>,
    }
    impl Drop for Holder<'_> {
        fn drop(&mut self) {
            if let Some(core) = self.core.take() {
                core.publish_metrics();
                self.shared.put_core(core);
            }
        }
    }
    let holder = Holder {
        shared: handle.shared(),
        core: Some(core),
    };
    let core = holder.core.as_ref().expect("just stored");
    // Dropped before `holder`: the role points to the core only while it stays in place.
    let _role = current::enter_core(handle.clone(), core.index, std::ptr::from_ref(core).cast());
    core.block_on(future)
}

/// A worker thread's body, and a blocking-pool thread's once `block_in_place` hands it a core:
/// runs `core` until the runtime shuts down (the core then retires), or until a task polled
/// here hands the core to another thread.
pub(crate) fn run_core(core: Box<Worker>) {
    let handle = core.handle.clone();
    let index = core.index;
    // Owned by this thread while its context points at it. A poll may hand it off
    // (`block_in_place` takes it from the context, the only time it may), and may come back
    // with it or with none: after each poll, the context says which.
    let mut core: *const Worker = Box::into_raw(core);
    let context = current::enter_worker(handle.clone(), index, core.cast());
    let shared = handle.shared();
    // SAFETY: just made from a box, and this thread's (see above).
    let worker = unsafe { &*core };
    // Taken from a hand-off slot, the core comes from the middle of a poll on another thread.
    worker.may_hand_off.set(false);
    worker.track_thread_clock();
    while !shared.is_shutdown() {
        // SAFETY: this thread owns the core (re-read from the context after each poll), and
        // no reference to it lives across a poll, where it may move to another thread.
        let worker = unsafe { &*core };
        let Some(task) = worker.next_task().or_else(|| worker.steal()) else {
            worker.park(None);
            continue;
        };
        worker.start_poll(&task);
        worker.may_hand_off.set(true);
        heist_coop::with_budget(|| task.run());
        core = context::worker_on_this_thread().0.cast();
        // SAFETY: as above: the core the context points at is this thread's.
        let Some(worker) = (unsafe { core.as_ref() }) else {
            // Handed off: another thread runs the core now.
            return;
        };
        worker.may_hand_off.set(false);
        worker.end_poll();
    }
    // SAFETY: as in the loop.
    let worker = unsafe { &*core };
    worker.publish_metrics();
    // Tasks still queued here are cancelled through the owned list; drop our references, while
    // the core is still this thread's worker (a reference dropped may run a destructor that
    // wakes a task, and the wake looks the worker up).
    drop(worker.lifo.take());
    while worker.local.pop().is_some() {}
    drop(context);
    // SAFETY: made by `Box::into_raw` (above, or by the take-back in `block_in_place`), owned
    // by this thread, and no longer pointed at by its context.
    drop(unsafe { Box::from_raw(core.cast_mut()) });
    shared.core_retired();
}

/// Wakes a current-thread `block_on`'s future: flags it for a poll and unparks the core's
/// thread, wherever it sleeps (the condvar or the poller).
struct RootWake {
    woken: AtomicBool,
    parker: Arc<Parker>,
}

impl std::task::Wake for RootWake {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        // Before the unpark, which releases it: the woken thread sees the flag.
        self.woken.store(true, Release);
        self.parker.unpark();
    }
}

/// Calls `f` with the worker core running on this thread, if any, and whether it is parked.
fn with_worker_on_this_thread<R>(f: impl FnOnce(Option<&Worker>, bool) -> R) -> R {
    let (worker, parked) = context::worker_on_this_thread();
    // SAFETY: the pointer is set only to a core this thread owns, and only while it does:
    // by `run_core` and the take-back of `block_in_place` (a core made by `Box::into_raw`,
    // cleared before the core is freed or handed off), and by `drive_core` (a current-thread
    // runtime's core, borrowed for as long as its guard lives). At any other time it is null.
    f(unsafe { worker.cast::<Worker>().as_ref() }, parked)
}

fn report_poll_error(error: &std::io::Error) {
    eprintln!("heist: polling for I/O events failed: {error}");
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::runtime::Config;
    use crate::task::{Id, new_task_at};

    /// Worker cores of a runtime whose threads are never started: the test thread plays
    /// worker 0 and calls its scheduling code directly.
    fn two_idle_workers() -> (Handle, Vec<Worker>) {
        let config = Config {
            worker_thread_name: "heist-worker".into(),
            blocking_thread_name: "heist-blocking".into(),
            stack_size: None,
            max_blocking_threads: 1,
            blocking_keep_alive: Duration::from_secs(1),
            on_thread_start: None,
            on_thread_stop: None,
            stall_threshold: None,
            on_stall: None,
        };
        Shared::with_workers(2, config, Reactor::new().expect("a reactor"), false)
    }

    fn idle_task(handle: &Handle) -> Notified {
        let (task, notified, join) = new_task_at(async {}, handle.clone(), Id::next(), Location::caller());
        drop(join);
        handle
            .shared()
            .owned
            .bind(task, notified)
            .expect("the runtime is not shut down")
    }

    /// A task wakes another (which goes to the LIFO slot, to run next), then yields, and the
    /// yield wakes a peer to take work from this worker. What it woke must be there to take:
    /// left in the slot, which only this worker reads, it waits for this thread even while the
    /// peer is awake and idle, for as long as the OS gives this thread's CPU to someone else
    /// (often to that very peer, which was just woken). `benches/fairness`: a task woken by a
    /// socket hog waited 1-3 ms at the median, 11-27 ms at p99, on a loaded machine.
    #[test]
    fn a_yield_leaves_the_task_its_poll_woke_stealable() {
        let (handle, workers) = two_idle_workers();
        let this_worker = &workers[0];
        this_worker.schedule_local(idle_task(&handle), false);
        this_worker.schedule_local(idle_task(&handle), true);
        let stealable = handle.shared().local_queue_depth(0);
        // As `run_core` does on its way out: a queued task holds the runtime, which holds
        // the queue, so the queues are emptied by hand.
        for worker in &workers {
            drop(worker.lifo.take());
            while worker.local.pop().is_some() {}
        }
        drop(workers);
        handle.shared().shutdown(None);
        assert_eq!(
            stealable, 2,
            "the woken task and the yielded one should both be in the stealable queue"
        );
    }
}

//! Models of the task state machine and the park protocol.
//!
//! Under loom (`RUSTFLAGS="--cfg loom" cargo test -p heist-executor --release --lib`, with
//! `LOOM_MAX_PREEMPTIONS=2` for a run of seconds) every interleaving is explored; in a normal
//! `cargo test`, and under miri (`cargo +nightly miri test -p heist-executor --lib`), each
//! model runs once on real threads. Task models drive the real task code
//! through a test scheduler whose run queue two threads drain; loom's `Arc` checks that no
//! task (each holds the scheduler) is leaked. Park models run the real `Runtime`.

use crate::park::Parker;
use crate::runtime::unparker_waker;
use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use crate::sync::{Arc, Mutex, thread};
use crate::task::{Header, Id, JoinHandle, Notified, OwnedTasks, Schedule, new_task};
use crate::{Builder, JoinError};
use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::ptr::NonNull;
use std::task::{Poll, Waker};
use std::time::Duration;

/// Polls `future` on this (loom) thread, sleeping on a `Parker` between wakes.
fn block_on<F: Future>(future: F) -> F::Output {
    let parker = Arc::new(Parker::new());
    let waker = unparker_waker(parker.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        parker.park();
    }
}

struct TestScheduler {
    queue: Mutex<VecDeque<Notified>>,
    owned: OwnedTasks,
}

#[derive(Clone)]
struct Sched(Arc<TestScheduler>);

impl Schedule for Sched {
    fn schedule(&self, task: Notified) {
        self.0.queue.lock().push_back(task);
    }

    fn release(&self, task: NonNull<Header>) -> bool {
        self.0.owned.remove(task)
    }
}

impl Sched {
    fn new() -> Self {
        Sched(Arc::new(TestScheduler {
            queue: Mutex::new(VecDeque::new()),
            owned: OwnedTasks::new(1),
        }))
    }

    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (task, notified, join) = new_task(future, self.clone(), Id::next());
        let notified = self.0.owned.bind(task, notified).expect("list is open");
        self.schedule(notified);
        join
    }

    /// A worker: polls queued tasks until the queue is empty.
    fn run_until_idle(&self) {
        loop {
            let next = self.0.queue.lock().pop_front();
            match next {
                Some(task) => task.run(),
                None => return,
            }
        }
    }

    /// The runtime's shutdown: cancel whatever is left and drop queued references.
    fn shutdown(&self) {
        for task in self.0.owned.close_and_take_all() {
            task.shutdown();
        }
        let queued: Vec<_> = self.0.queue.lock().drain(..).collect();
        drop(queued);
    }
}

/// A scheduler that runs a task the moment it is scheduled, on the caller's stack: the task can
/// complete, and be freed, before `schedule` (or `yield_now`) returns, as it can when another
/// worker takes it at once. It holds an `Arc` so that the task's `&S` covers real bytes (a
/// borrow of nothing cannot be caught outliving its allocation), and counts its calls.
#[derive(Clone)]
struct RunInline(Arc<AtomicUsize>);

impl Schedule for RunInline {
    fn schedule(&self, task: Notified) {
        self.0.fetch_add(1, SeqCst);
        task.run();
    }

    fn release(&self, _task: NonNull<Header>) -> bool {
        // These tasks are in no owned list: the caller drops the list's reference up front.
        false
    }
}

/// A task on `RunInline` whose `Task` and `JoinHandle` are already dropped, so that the
/// references left are the first `Notified`'s and those of the wakers `future` keeps.
fn spawn_inline<F>(future: F) -> (Notified, Arc<AtomicUsize>)
where
    F: Future<Output = ()> + Send + 'static,
{
    let schedules = Arc::new(AtomicUsize::new(0));
    let (task, notified, join) = new_task(future, RunInline(schedules.clone()), Id::next());
    drop(task);
    drop(join);
    (notified, schedules)
}

/// The first poll keeps its waker in `slot` and returns `Pending`; the second returns `Ready`
/// and keeps no waker, so its task holds no reference of its own once done.
fn pending_once(slot: Arc<Mutex<Option<Waker>>>) -> impl Future<Output = ()> + Send {
    let mut polled = false;
    poll_fn(move |cx| {
        if std::mem::replace(&mut polled, true) {
            return Poll::Ready(());
        }
        *slot.lock() = Some(cx.waker().clone());
        Poll::Pending
    })
}

/// `Waker::wake` hands the waker's reference to the `Notified` it schedules. If that was the
/// last reference, the task can run to completion and be freed inside `schedule`, while the
/// wake still borrows the scheduler stored in the task: miri (both borrow models) reports
/// that as a deallocation of protected memory unless the wake keeps a reference of its own
/// across the call.
#[test]
fn a_wake_whose_schedule_frees_the_task_touches_nothing_freed() {
    crate::sync::model(|| {
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let (notified, schedules) = spawn_inline(pending_once(slot.clone()));
        notified.run();
        let waker = slot.lock().take().expect("the first poll kept its waker");
        waker.wake();
        assert_eq!(schedules.load(SeqCst), 1);
        assert_eq!(Arc::strong_count(&schedules), 1, "the task was not freed");
    });
}

/// A task that wakes itself during its poll is requeued (`yield_now`) with the worker's
/// reference; as above, if that is the last one, the requeued task may complete and be freed
/// inside `yield_now`.
#[test]
fn a_requeue_whose_yield_frees_the_task_touches_nothing_freed() {
    crate::sync::model(|| {
        let mut polled = false;
        let (notified, schedules) = spawn_inline(poll_fn(move |cx| {
            if std::mem::replace(&mut polled, true) {
                return Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        }));
        notified.run();
        assert_eq!(schedules.load(SeqCst), 1);
        assert_eq!(Arc::strong_count(&schedules), 1, "the task was not freed");
    });
}

/// `wake_by_ref` and abort do not have that problem: the caller's waker (or `JoinHandle`)
/// keeps the task alive across `schedule`. Checked here all the same, with the task freed
/// when the caller lets go afterwards.
#[test]
fn a_wake_by_ref_whose_schedule_completes_the_task_frees_it_after() {
    crate::sync::model(|| {
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let (notified, schedules) = spawn_inline(pending_once(slot.clone()));
        notified.run();
        let waker = slot.lock().take().expect("the first poll kept its waker");
        waker.wake_by_ref();
        assert_eq!(schedules.load(SeqCst), 1);
        assert_eq!(Arc::strong_count(&schedules), 2, "the waker keeps the task");
        drop(waker);
        assert_eq!(Arc::strong_count(&schedules), 1, "the task was not freed");
    });
}

/// Fails the model if two threads poll the same future at once.
struct PollGuard<'a>(&'a AtomicBool);

impl<'a> PollGuard<'a> {
    fn enter(flag: &'a AtomicBool) -> Self {
        assert!(
            !flag.swap(true, SeqCst),
            "a task was polled by two threads at once"
        );
        PollGuard(flag)
    }
}

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, SeqCst);
    }
}

/// Counts drops of a value.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Completes once `ready` is set; parks its waker in `slot` otherwise.
fn wait_for_flag(
    ready: Arc<AtomicBool>,
    slot: Arc<Mutex<Option<Waker>>>,
) -> impl Future<Output = usize> + Send {
    let in_poll = AtomicBool::new(false);
    let mut polls = 0;
    poll_fn(move |cx| {
        let _guard = PollGuard::enter(&in_poll);
        polls += 1;
        *slot.lock() = Some(cx.waker().clone());
        if ready.load(SeqCst) {
            Poll::Ready(polls)
        } else {
            Poll::Pending
        }
    })
}

#[test]
fn wake_racing_the_poll_is_never_lost_and_never_doubled() {
    crate::sync::model(|| {
        let sched = Sched::new();
        let ready = Arc::new(AtomicBool::new(false));
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let join = sched.spawn(wait_for_flag(ready.clone(), slot.clone()));

        let waker_thread = thread::spawn(move || {
            ready.store(true, SeqCst);
            let waker = slot.lock().take();
            if let Some(waker) = waker {
                waker.wake();
            }
        });
        let second_worker = {
            let sched = sched.clone();
            thread::spawn(move || sched.run_until_idle())
        };
        sched.run_until_idle();
        waker_thread.join().unwrap();
        second_worker.join().unwrap();
        sched.run_until_idle();

        assert!(join.is_finished(), "the wake was lost");
        let polls = block_on(join).unwrap();
        assert!((1..=2).contains(&polls), "{polls} polls");
        sched.shutdown();
    });
}

#[test]
fn wake_after_completion_does_nothing() {
    crate::sync::model(|| {
        let sched = Sched::new();
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let ready = Arc::new(AtomicBool::new(true));
        let join = sched.spawn(wait_for_flag(ready, slot.clone()));

        let waker_thread = thread::spawn(move || {
            let waker = slot.lock().take();
            if let Some(waker) = waker {
                waker.wake_by_ref();
                waker.wake();
            }
        });
        sched.run_until_idle();
        waker_thread.join().unwrap();
        sched.run_until_idle();
        assert_eq!(block_on(join).unwrap(), 1);
        sched.shutdown();
    });
}

#[test]
fn join_handle_drop_racing_completion_drops_the_output_once() {
    crate::sync::model(|| {
        let sched = Sched::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let output = DropCounter(drops.clone());
        let join = sched.spawn(async move { output });

        let dropper = thread::spawn(move || drop(join));
        sched.run_until_idle();
        dropper.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
        sched.shutdown();
    });
}

#[test]
fn join_handle_awaited_across_threads_sees_the_output() {
    crate::sync::model(|| {
        let sched = Sched::new();
        let join = sched.spawn(async { 7 });
        let joiner = thread::spawn(move || block_on(join).unwrap());
        sched.run_until_idle();
        assert_eq!(joiner.join().unwrap(), 7);
        sched.shutdown();
    });
}

#[test]
fn abort_racing_a_poll_cancels_exactly_once() {
    crate::sync::model(|| {
        let sched = Sched::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let guard = DropCounter(drops.clone());
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let never = Arc::new(AtomicBool::new(false));
        let future = wait_for_flag(never, slot.clone());
        let join = sched.spawn(async move {
            let _guard = guard;
            future.await
        });
        let join = Arc::new(join);

        let aborter = {
            let join = join.clone();
            thread::spawn(move || join.abort())
        };
        let waker_thread = thread::spawn(move || {
            let waker = slot.lock().take();
            if let Some(waker) = waker {
                waker.wake();
            }
        });
        sched.run_until_idle();
        aborter.join().unwrap();
        waker_thread.join().unwrap();
        sched.run_until_idle();

        assert_eq!(drops.load(SeqCst), 1, "the future must be dropped exactly once");
        let join = Arc::try_unwrap(join).expect("threads joined");
        let error: JoinError = block_on(join).unwrap_err();
        assert!(error.is_cancelled());
        sched.shutdown();
    });
}

#[test]
fn shutdown_racing_a_wake_drops_the_future_once() {
    crate::sync::model(|| {
        let sched = Sched::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let guard = DropCounter(drops.clone());
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let future = wait_for_flag(Arc::new(AtomicBool::new(false)), slot.clone());
        let join = sched.spawn(async move {
            let _guard = guard;
            future.await
        });
        sched.run_until_idle();

        let waker_thread = thread::spawn(move || {
            let waker = slot.lock().take();
            if let Some(waker) = waker {
                waker.wake();
            }
        });
        sched.shutdown();
        waker_thread.join().unwrap();
        sched.shutdown();
        assert_eq!(drops.load(SeqCst), 1);
        assert!(block_on(join).unwrap_err().is_cancelled());
    });
}

/// A wake from outside racing the runtime's drop, on the real runtime: the waker's
/// `schedule_remote` pushes to the injector and, if it sees the shutdown begun, drains the
/// injector itself, while the dropping thread stops the worker, cancels the tasks and drains it
/// too. The future is dropped exactly once, the join handle reports the cancellation, and the
/// task (which holds the runtime's shared state) is freed: loom's `Arc` reports a leak, and
/// miri a use after free.
#[test]
fn a_remote_wake_racing_the_runtime_drop_drops_the_future_once() {
    crate::sync::model(|| {
        let runtime = Builder::new().worker_threads(1).build().unwrap();
        let drops = Arc::new(AtomicUsize::new(0));
        let guard = DropCounter(drops.clone());
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let future = wait_for_flag(Arc::new(AtomicBool::new(false)), slot.clone());
        let join = runtime.spawn(async move {
            let _guard = guard;
            future.await
        });
        // The task has run once when its waker is in the slot.
        let waker = loop {
            if let Some(waker) = slot.lock().take() {
                break waker;
            }
            thread::yield_now();
        };
        let waker_thread = thread::spawn(move || waker.wake());
        drop(runtime);
        waker_thread.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
        assert!(block_on(join).unwrap_err().is_cancelled());
    });
}

/// The park protocol end to end: a task spawned from outside while the only worker goes to
/// sleep must still run (a lost wake-up deadlocks the model, which loom reports).
#[test]
fn remote_spawn_while_the_worker_parks_is_run() {
    crate::sync::model(|| {
        let runtime = Builder::new().worker_threads(1).build().unwrap();
        let join = runtime.spawn(async { 5 });
        assert_eq!(runtime.block_on(join).unwrap(), 5);
    });
}

/// A current-thread `block_on` parks its thread (in the poller, as the runtime's one worker)
/// when its future and the tasks are all waiting: a wake of the future from another thread
/// (its flag, then the core's parker) must bring it back, whenever it lands.
#[test]
fn a_current_thread_block_on_woken_from_another_thread_returns() {
    crate::sync::model(|| {
        let runtime = Builder::new_current_thread().build().unwrap();
        let ready = Arc::new(AtomicBool::new(false));
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let waker_thread = {
            let (ready, slot) = (ready.clone(), slot.clone());
            thread::spawn(move || {
                ready.store(true, SeqCst);
                if let Some(waker) = slot.lock().take() {
                    waker.wake();
                }
            })
        };
        assert!(runtime.block_on(wait_for_flag(ready, slot)) >= 1);
        waker_thread.join().unwrap();
    });
}

/// A task of a current-thread runtime woken from another thread goes through the injector
/// and wakes the `block_on` thread, which runs it, and then its `JoinHandle` wakes the future.
#[test]
fn a_current_thread_task_woken_from_another_thread_runs() {
    crate::sync::model(|| {
        let runtime = Builder::new_current_thread().build().unwrap();
        let ready = Arc::new(AtomicBool::new(false));
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let waker_thread = {
            let (ready, slot) = (ready.clone(), slot.clone());
            thread::spawn(move || {
                ready.store(true, SeqCst);
                if let Some(waker) = slot.lock().take() {
                    waker.wake();
                }
            })
        };
        let polls = runtime.block_on(async move { crate::spawn(wait_for_flag(ready, slot)).await.unwrap() });
        assert!(polls >= 1);
        waker_thread.join().unwrap();
    });
}

/// A local task woken from another thread: the wake queues it on its set (the `Send`-safe
/// path) and wakes the set's poller, which runs it on the set's thread.
#[test]
fn a_local_task_woken_from_another_thread_runs_on_its_set() {
    crate::sync::model(|| {
        let local = crate::LocalSet::new();
        let ready = Arc::new(AtomicBool::new(false));
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let not_send = std::rc::Rc::new(1);
        let task = {
            let (ready, slot) = (ready.clone(), slot.clone());
            local.spawn_local(async move { wait_for_flag(ready, slot).await + *not_send })
        };
        let waker_thread = thread::spawn(move || {
            ready.store(true, SeqCst);
            if let Some(waker) = slot.lock().take() {
                waker.wake();
            }
        });
        assert!(block_on(local.run_until(task)).unwrap() >= 2);
        waker_thread.join().unwrap();
    });
}

/// Two workers: a task spawned from inside a task lands in the spawner's LIFO slot or queue,
/// and the other worker may be searching, parking or asleep. Both must finish.
#[test]
fn spawns_reach_a_worker_with_two_workers_parking() {
    crate::sync::model(|| {
        let runtime = Builder::new().worker_threads(2).build().unwrap();
        let join = runtime.spawn(async {
            let inner = crate::spawn(async { 2 });
            inner.await.unwrap() + 1
        });
        assert_eq!(runtime.block_on(join).unwrap(), 3);
    });
}

/// A task on `runtime` that returns `value` once a model source (registered with the
/// runtime's reactor) reports readable; the source's initial readiness is used up first, so
/// the task must wait for an event. The caller makes the event.
#[cfg(loom)]
fn spawn_io_waiter(
    runtime: &crate::Runtime,
    value: u32,
) -> (std::sync::Arc<heist_reactor::model::ModelSource>, JoinHandle<u32>) {
    use heist_reactor::model::ModelSource;
    let reactor = runtime.handle().shared().reactor.clone();
    let source = std::sync::Arc::new(ModelSource::with_reactor(reactor).unwrap());
    runtime.block_on(source.readable()).unwrap();
    let join = runtime.spawn({
        let source = source.clone();
        async move {
            source.readable().await.unwrap();
            value
        }
    });
    (source, join)
}

/// The I/O park end to end: the only worker sleeps in the poller (the stand-in under loom),
/// and an event from outside must reach the task waiting on the source.
#[cfg(loom)]
#[test]
fn io_event_wakes_a_task_while_the_worker_sleeps_in_the_poller() {
    crate::sync::model(|| {
        let runtime = Builder::new().worker_threads(1).build().unwrap();
        let (source, join) = spawn_io_waiter(&runtime, 7);
        source.make_readable();
        assert_eq!(runtime.block_on(join).unwrap(), 7);
    });
}

/// Two workers, one on watch in the poller: a remote spawn must wake a worker (the condvar
/// sleeper, or the poller holder through `notify` when it is the only one asleep), and the
/// I/O event must still reach its task whichever worker holds the poller by then.
#[cfg(loom)]
#[test]
fn remote_spawn_and_io_event_with_two_workers_parking() {
    crate::sync::model(|| {
        let runtime = Builder::new().worker_threads(2).build().unwrap();
        let (source, io) = spawn_io_waiter(&runtime, 1);
        let other = runtime.spawn(async { 2 });
        source.make_readable();
        assert_eq!(
            runtime.block_on(io).unwrap() + runtime.block_on(other).unwrap(),
            3
        );
    });
}

/// The paused clock end to end: a task sleeps for an hour on a runtime whose clock is paused,
/// and `block_on` waits for it. Once the worker and the `block_on` thread are both asleep,
/// and only then, the worker on watch must move the clock to the deadline (auto-advance) and
/// fire the timer: a lost hand-shake (the last thread to go idle not waking the watch, or the
/// watch missing it) deadlocks the model, which loom reports; an advance too early shows in
/// the times read.
#[test]
fn auto_advance_wakes_a_task_sleeping_on_a_paused_clock() {
    crate::sync::model(|| {
        let runtime = Builder::new()
            .worker_threads(1)
            .start_paused(true)
            .build()
            .unwrap();
        // In one `block_on`: between two calls no thread of the runtime is awake, so the clock
        // may (rightly) jump then.
        let (start, woke_at) = runtime.block_on(async {
            let start = heist_timer::Instant::now();
            let join = crate::spawn(async {
                heist_timer::sleep(Duration::from_secs(3600)).await;
                heist_timer::Instant::now()
            });
            // Awake in `block_on`, this thread holds auto-advance back: the clock has not
            // moved, whether the worker has polled the task (and parked) yet or not.
            assert_eq!(heist_timer::Instant::now(), start);
            (start, join.await.unwrap())
        });
        assert_eq!(woke_at - start, Duration::from_secs(3600));
    });
}

/// The same with the sleep in `block_on` itself: the worker, idle from the start, may only
/// move the clock once the `block_on` thread is asleep (its parker counts it out), and must
/// then do it (its count reaching zero wakes the worker on watch).
#[test]
fn auto_advance_waits_for_block_on_to_sleep_and_then_wakes_it() {
    crate::sync::model(|| {
        let runtime = Builder::new()
            .worker_threads(1)
            .start_paused(true)
            .build()
            .unwrap();
        let slept = runtime.block_on(async {
            let start = heist_timer::Instant::now();
            let sleep = heist_timer::sleep(Duration::from_secs(60));
            assert_eq!(heist_timer::Instant::now(), start);
            sleep.await;
            start.elapsed()
        });
        assert_eq!(slept, Duration::from_secs(60));
    });
}

/// Two workers: the one on watch may go to sleep (no timeout, the clock being paused) while
/// the other still runs the sleeping task; the last worker to go idle must then wake the one
/// on watch to auto-advance, or the model deadlocks.
#[test]
fn the_last_worker_to_go_idle_lets_the_watch_auto_advance() {
    crate::sync::model(|| {
        let runtime = Builder::new()
            .worker_threads(2)
            .start_paused(true)
            .build()
            .unwrap();
        let elapsed = runtime.block_on(async {
            let start = heist_timer::Instant::now();
            let join = crate::spawn(async move {
                heist_timer::sleep(Duration::from_secs(1)).await;
                start.elapsed()
            });
            join.await.unwrap()
        });
        assert_eq!(elapsed, Duration::from_secs(1));
    });
}

/// A worker that parks while a busy worker has the watch for a quick look either takes the
/// watch itself or is woken when the busy worker gives it up: never both asleep and unserved.
#[test]
fn parking_while_a_quick_look_has_the_watch_is_never_stranded() {
    use crate::watch::{ParkingTake, Watch};
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    crate::sync::model(|| {
        let watch = Arc::new(Watch::new());
        let woken = Arc::new(AtomicBool::new(false));
        let wake = {
            let woken = woken.clone();
            move || woken.store(true, Relaxed)
        };
        let quick_look = watch.try_take_quick(&wake).expect("the busy worker's quick look");
        let parker = thread::spawn({
            let watch = watch.clone();
            move || {
                let nothing = || {};
                matches!(watch.take_for_parking(1, &nothing), ParkingTake::Taken(_))
            }
        });
        drop(quick_look);
        let parker_took_it = parker.join().unwrap();
        assert!(
            parker_took_it || woken.load(Relaxed),
            "the parking worker was stranded"
        );
    });
}

/// A standby that settles to doze (no timeout) while the holder leaves the poller is either
/// woken by the departing holder or sees the departure and sleeps short.
#[test]
fn a_dozing_standby_never_sleeps_through_a_departure() {
    use crate::watch::{HANDOFF_DELAY, MAX_TIMED_STANDBY_SLEEP, Poke, Watch};
    crate::sync::model(|| {
        let watch = Arc::new(Watch::new());
        let mut standby = watch.try_standby(1).unwrap();
        let holder = thread::spawn({
            let watch = watch.clone();
            move || watch.depart()
        });
        // With no departure seen, the standby's back-off has reached its longest timed sleep.
        let sleep = standby.next_sleep(Some(MAX_TIMED_STANDBY_SLEEP), true);
        let poke = holder.join().unwrap();
        assert!(
            sleep == Some(HANDOFF_DELAY) || poke == Poke::Standby(1),
            "the standby slept {sleep:?} through a departure ({poke:?})"
        );
    });
}

/// A departure with no standby asks for any sleeper to be poked, one with a standby sleeping
/// short asks for nobody, and one while a worker waits in the poller asks for nobody.
#[test]
fn a_departure_pokes_only_when_no_one_would_take_the_watch() {
    crate::sync::model(|| {
        use crate::watch::{ParkingTake, Poke, Watch};
        let watch = Watch::new();
        assert_eq!(watch.depart(), Poke::AnySleeper);
        let mut standby = watch.try_standby(1).unwrap();
        assert!(standby.next_sleep(None, true).is_some());
        assert_eq!(watch.depart(), Poke::Nobody);
        let nothing = || {};
        let on_watch = match watch.take_for_parking(0, &nothing) {
            ParkingTake::Taken(on_watch) => on_watch,
            _ => panic!("the watch was free"),
        };
        assert!(matches!(
            watch.take_for_parking(2, &nothing),
            ParkingTake::HeldInPoller
        ));
        assert_eq!(watch.holder(), Some(0));
        drop(standby);
        assert_eq!(watch.depart(), Poke::Nobody);
        drop(on_watch);
        assert_eq!(watch.holder(), None);
        assert!(watch.needs_new_standby());
    });
}

/// The notifier hand-shake: a worker about to block in the poller, and an `unpark` from
/// another thread. Whichever order they land in, the worker does not stay blocked: either the
/// parker sees the wake-up before it waits, or `unpark` sees it waiting and notifies the
/// poller, whose next (or current) wait returns at once, as the epoll backend's edge-triggered
/// eventfd does. (Mutation checked: an `unpark` that skips `Reactor::notify` for a worker in
/// the poller deadlocks this model.)
#[test]
fn an_unpark_racing_a_park_in_the_poller_is_never_lost() {
    use crate::watch::{ParkingTake, Watch};
    crate::sync::model(|| {
        let reactor = std::sync::Arc::new(heist_reactor::Reactor::new().unwrap());
        let parker = Arc::new(Parker::for_worker(reactor));
        let waker = thread::spawn({
            let parker = parker.clone();
            move || parker.unpark()
        });
        let watch = Watch::new();
        let nothing = || {};
        let ParkingTake::Taken(on_watch) = watch.take_for_parking(0, &nothing) else {
            panic!("the watch was free");
        };
        // Until an event, a notify, or (a consumed) wake-up: never a timeout here.
        parker.park_in_poller(&on_watch, None).unwrap();
        drop(on_watch);
        waker.join().unwrap();
    });
}

/// A `JoinSet` joined on one thread while two workers complete its members and the first
/// member is aborted mid-race: each member is reported exactly once (its output, or
/// cancelled for the aborted one), the set ends empty, and no entry or task is leaked (loom's
/// `Arc` checks; a member's waker lives in its task until the task is freed).
#[test]
fn join_set_abort_racing_completion_reports_each_member_once() {
    use crate::JoinSet;
    crate::sync::model(|| {
        let sched = Sched::new();
        let mut set = JoinSet::new();
        let first = set.insert(sched.spawn(async { 1 }));
        let second = set.insert(sched.spawn(async { 2 }));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let sched = sched.clone();
                thread::spawn(move || sched.run_until_idle())
            })
            .collect();
        first.abort();
        let mut reported = Vec::new();
        block_on(async {
            while let Some(result) = set.join_next().await {
                reported.push(result);
            }
        });
        for worker in workers {
            worker.join().unwrap();
        }

        assert_eq!(reported.len(), 2, "{reported:?}");
        assert!(set.is_empty());
        let mut first_seen = 0;
        let mut second_seen = 0;
        for result in reported {
            match result {
                Ok(1) => first_seen += 1,
                Ok(2) => second_seen += 1,
                Err(err) if err.is_cancelled() && err.id() == first.id() => first_seen += 1,
                other => panic!("unexpected report {other:?}"),
            }
        }
        assert_eq!((first_seen, second_seen), (1, 1));
        assert!(first.is_finished() && second.is_finished());
        sched.shutdown();
    });
}

/// Dropping a `JoinSet` while a worker completes its member: the member's output is dropped
/// exactly once (by the task or by the set), and the entry the task's waker points to is
/// freed with the task (loom's `Arc` checks for the leak).
#[test]
fn join_set_dropped_racing_completion_leaks_nothing() {
    use crate::JoinSet;
    crate::sync::model(|| {
        let sched = Sched::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let output = DropCounter(drops.clone());
        let mut set = JoinSet::new();
        set.insert(sched.spawn(async move { output }));
        // Poll it once (it has not run yet), so the member's waker is registered with the task.
        assert!(set.try_join_next().is_none());
        let worker = {
            let sched = sched.clone();
            thread::spawn(move || sched.run_until_idle())
        };
        drop(set);
        worker.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
        sched.shutdown();
    });
}

/// What became of a `spawn_blocking` job raced against shutdown: it ran exactly once and its
/// `JoinHandle` has the output, or it never ran, its closure is already dropped (so it never
/// will), and the handle reports cancellation. `runs` counts calls, `disposed` drops of the
/// closure (run or cancelled: exactly one either way). A job lost in the queue hangs `block_on`,
/// which loom reports as a deadlock.
fn blocking_job_outcome(join: JoinHandle<usize>, runs: &AtomicUsize, disposed: &AtomicUsize) -> bool {
    match block_on(join) {
        Ok(output) => {
            assert_eq!(output, 9);
            assert_eq!(runs.load(SeqCst), 1, "the job reported done but did not run once");
            assert_eq!(disposed.load(SeqCst), 1);
            true
        }
        Err(err) => {
            assert!(err.is_cancelled(), "{err:?}");
            assert_eq!(runs.load(SeqCst), 0, "the job ran and was reported cancelled");
            assert_eq!(disposed.load(SeqCst), 1, "cancelled but the closure was kept");
            false
        }
    }
}

/// Task ids come from a process-wide counter and pick the owned-list shard (ids mod 4 with one
/// worker), so the next model iteration would lock other shards and loom would report the
/// model as not deterministic. Burning ids until the next one is a multiple of `shards` puts
/// every iteration's tasks in the same shards.
fn align_task_ids(shards: u64) {
    while Id::next().as_u64() % shards != shards - 1 {}
}

/// A counted `spawn_blocking` closure.
fn counted_job(
    runs: Arc<AtomicUsize>,
    disposed: Arc<AtomicUsize>,
) -> impl FnOnce() -> usize + Send + 'static {
    let guard = DropCounter(disposed);
    move || {
        let _guard = guard;
        runs.fetch_add(1, SeqCst);
        9
    }
}

/// The blocking pool shutting down while a job is queued: one worker and one blocking thread,
/// so of two jobs the first may be running and the second queued when the runtime is dropped
/// (shutdown cancels the owned list, then closes the pool and waits for it). Each job ran
/// exactly once or was cancelled, never both and never lost; as `drop` waits for the pool,
/// the counts are final once it returns.
#[test]
fn blocking_job_queued_at_runtime_drop_runs_once_or_is_cancelled() {
    crate::sync::model(|| {
        let runtime = Builder::new()
            .worker_threads(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        align_task_ids(4);
        let counters: Vec<_> = (0..2)
            .map(|_| (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))))
            .collect();
        let joins: Vec<_> = counters
            .iter()
            .map(|(runs, disposed)| runtime.spawn_blocking(counted_job(runs.clone(), disposed.clone())))
            .collect();
        drop(runtime);
        for (join, (runs, disposed)) in joins.into_iter().zip(&counters) {
            blocking_job_outcome(join, runs, disposed);
        }
    });
}

/// As above with `shutdown_background`, which does not wait for the pool: the queued job
/// must be cancelled or run, not left behind for a thread that is leaving (its `JoinHandle`
/// would never resolve, a deadlock for loom), and a running one still delivers its output.
#[test]
fn blocking_job_queued_at_shutdown_background_runs_once_or_is_cancelled() {
    crate::sync::model(|| {
        let runtime = Builder::new()
            .worker_threads(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        align_task_ids(4);
        let counters: Vec<_> = (0..2)
            .map(|_| (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))))
            .collect();
        let joins: Vec<_> = counters
            .iter()
            .map(|(runs, disposed)| runtime.spawn_blocking(counted_job(runs.clone(), disposed.clone())))
            .collect();
        runtime.shutdown_background();
        for (join, (runs, disposed)) in joins.into_iter().zip(&counters) {
            blocking_job_outcome(join, runs, disposed);
        }
    });
}

/// `spawn_blocking` through a `Handle` while another thread drops the runtime: the job is
/// accepted before the owned list closes (then cancelled, or run by the pool before it
/// leaves) or refused after; either way its `JoinHandle` resolves, and once `drop` has
/// returned a cancelled job has not run.
#[test]
fn spawn_blocking_racing_runtime_drop_runs_once_or_is_cancelled() {
    crate::sync::model(|| {
        let runtime = Builder::new()
            .worker_threads(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        align_task_ids(4);
        let handle = runtime.handle().clone();
        let dropper = thread::spawn(move || drop(runtime));
        let runs = Arc::new(AtomicUsize::new(0));
        let disposed = Arc::new(AtomicUsize::new(0));
        let join = handle.spawn_blocking(counted_job(runs.clone(), disposed.clone()));
        drop(handle);
        let ran = blocking_job_outcome(join, &runs, &disposed);
        dropper.join().unwrap();
        assert_eq!(runs.load(SeqCst), usize::from(ran), "a cancelled job ran later");
    });
}

/// `block_in_place` on a one-worker runtime: its closure waits for a task queued on the same
/// worker, which only a hand-off of the core to a pool thread can run (left in place, the
/// model deadlocks, which loom reports). The core then races back: the pool thread takes it,
/// or the closure's thread takes it back first; either way each task runs once, the core
/// retires once, and the runtime shuts down.
#[test]
fn block_in_place_hands_the_core_to_a_thread_that_runs_the_other_tasks() {
    crate::sync::model(|| {
        let runtime = Builder::new().worker_threads(1).build().unwrap();
        align_task_ids(4);
        let total = runtime.block_on(async {
            crate::spawn(async {
                let flag = Arc::new((Mutex::new(false), crate::sync::Condvar::new()));
                let setter = flag.clone();
                let other = crate::spawn(async move {
                    *setter.0.lock() = true;
                    setter.1.notify_all();
                    2
                });
                crate::block_in_place(|| {
                    let mut set = flag.0.lock();
                    while !*set {
                        set = flag.1.wait(set);
                    }
                });
                other.await.unwrap() + 1
            })
            .await
            .unwrap()
        });
        assert_eq!(total, 3);
        drop(runtime);
    });
}

/// A closure that returns at once races the pool thread for the core: whichever takes it
/// runs it, the other does without, and the tasks queued on it all run.
#[test]
fn block_in_place_returning_at_once_races_the_pool_thread_for_the_core() {
    crate::sync::model(|| {
        let runtime = Builder::new().worker_threads(1).build().unwrap();
        align_task_ids(4);
        let total = runtime.block_on(async {
            crate::spawn(async {
                let queued = crate::spawn(async { 2 });
                let own = crate::block_in_place(|| 1);
                own + queued.await.unwrap()
            })
            .await
            .unwrap()
        });
        assert_eq!(total, 3);
    });
}

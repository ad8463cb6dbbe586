//! Timers: `sleep`, `sleep_until`, `timeout`, `interval`, and how they interact with idle,
//! busy and blocked workers, threads outside the runtime, cancellation and shutdown.
//!
//! Every check is a lower bound ("not before the deadline") or a deterministic value (the
//! scheduled instants an `Interval` returns). No test bounds lateness from above: that is
//! a benchmark figure. A lost timer fails through `run_with_timeout` or a `WAIT`-bounded
//! receive instead of hanging.

mod common;

use std::future::{Future, pending, poll_fn};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, ThreadId};

use common::{
    DropCounter, WAIT, eventually, panic_message, run_with_deadline, run_with_timeout, runtime, yield_forever,
};
use heist::time::error::Elapsed;
use heist::time::{
    Duration, Instant, Interval, MissedTickBehavior, Sleep, Timeout, interval, interval_at, sleep,
    sleep_until, timeout, timeout_at,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Polls `future` once with a waker that does nothing.
fn poll_noop<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
}

/// Polls `future` once with the current task's waker and returns the result.
async fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))).await
}

/// xorshift64 with a fixed seed: the same "random" durations on every run.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Records the first few violations seen by many tasks, to report them on the test thread.
#[derive(Default)]
struct Violations {
    count: AtomicUsize,
    first: Mutex<Vec<String>>,
}

impl Violations {
    fn record(&self, message: String) {
        self.count.fetch_add(1, Ordering::SeqCst);
        let mut first = self.first.lock().unwrap();
        if first.len() < 5 {
            first.push(message);
        }
    }

    fn assert_none(&self, what: &str) {
        let count = self.count.load(Ordering::SeqCst);
        assert_eq!(
            count,
            0,
            "{what}: {count} violation(s), first ones: {:#?}",
            self.first.lock().unwrap()
        );
    }
}

/// A waker that reports each wake (its instant and thread) on a channel.
struct ChannelWaker(Mutex<mpsc::Sender<(Instant, ThreadId)>>);

impl Wake for ChannelWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let now = Instant::now();
        let _ = self.0.lock().unwrap().send((now, thread::current().id()));
    }
}

/// A waker that does nothing; its `Arc`'s strong count tells how many clones are alive.
struct CountedWaker;

impl Wake for CountedWaker {
    fn wake(self: Arc<Self>) {}
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------------------------
// 1. No timer fires early
// ---------------------------------------------------------------------------------------------

#[test]
fn no_timer_fires_early_10_000_sleeps_on_1_000_tasks() {
    run_with_timeout("no_timer_fires_early", || {
        const TASKS: u64 = 1_000;
        const PER_TASK: u64 = 10;
        let rt = runtime(2);
        let violations = Arc::new(Violations::default());
        let completed = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..TASKS)
            .map(|task| {
                let violations = violations.clone();
                let completed = completed.clone();
                rt.spawn(async move {
                    let mut rng = XorShift::new(task + 1);
                    for i in 0..PER_TASK {
                        // 0..20 ms, in microseconds so that rounding to the 1 ms tick matters.
                        let d = Duration::from_micros(rng.next() % 20_000);
                        match (task + i) % 4 {
                            0 => {
                                let before = Instant::now();
                                let s = sleep(d);
                                let deadline = s.deadline();
                                if deadline < before + d {
                                    violations.record(format!("sleep({d:?}).deadline() < now + d"));
                                }
                                s.await;
                                let now = Instant::now();
                                if now < deadline {
                                    violations
                                        .record(format!("sleep({d:?}) completed {:?} early", deadline - now));
                                }
                            }
                            1 => {
                                let deadline = Instant::now() + d;
                                sleep_until(deadline).await;
                                let now = Instant::now();
                                if now < deadline {
                                    violations.record(format!(
                                        "sleep_until(now + {d:?}) completed {:?} early",
                                        deadline - now
                                    ));
                                }
                            }
                            2 => {
                                let earliest = Instant::now() + d;
                                let result = timeout(d, pending::<()>()).await;
                                let now = Instant::now();
                                if result != Err(elapsed_value()) {
                                    violations.record(format!("timeout({d:?}, pending) = {result:?}"));
                                } else if now < earliest {
                                    violations
                                        .record(format!("timeout({d:?}) elapsed {:?} early", earliest - now));
                                }
                            }
                            _ => {
                                let deadline = Instant::now() + d;
                                // The inner sleep is an hour longer: the timeout's own deadline wins
                                // (a margin of 50 ms lost to a task starved under heavy load).
                                let result = timeout_at(deadline, sleep(d + Duration::from_secs(3600))).await;
                                let now = Instant::now();
                                if result.is_ok() {
                                    violations
                                        .record(format!("timeout_at(+{d:?}) over a longer sleep was Ok"));
                                } else if now < deadline {
                                    violations.record(format!(
                                        "timeout_at(now + {d:?}) elapsed {:?} early",
                                        deadline - now
                                    ));
                                }
                            }
                        }
                        completed.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        rt.block_on(async {
            for handle in handles {
                handle.await.expect("a sleeping task failed");
            }
        });
        assert_eq!(completed.load(Ordering::SeqCst), (TASKS * PER_TASK) as usize);
        violations.assert_none("timers that completed before their deadline");
    });
}

/// An `Elapsed`, obtained the only public way: from a timeout that ran out.
fn elapsed_value() -> Elapsed {
    let mut past = timeout_at(Instant::now() - ms(1), pending::<()>());
    match poll_noop(&mut past) {
        Poll::Ready(Err(elapsed)) => elapsed,
        other => panic!("a timeout with a past deadline over `pending` gave {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Zero, past and infinite deadlines
// ---------------------------------------------------------------------------------------------

#[test]
fn zero_and_past_deadlines_complete_on_the_first_poll() {
    run_with_timeout("zero_and_past_deadlines", || {
        let rt = runtime(1);
        rt.block_on(async {
            let mut zero = sleep(Duration::ZERO);
            assert!(zero.is_elapsed(), "sleep(ZERO) is elapsed from the start");
            assert_eq!(
                poll_noop(&mut zero),
                Poll::Ready(()),
                "sleep(ZERO) must be ready at once"
            );

            let mut past = sleep_until(Instant::now() - Duration::from_secs(1));
            assert!(past.is_elapsed());
            assert_eq!(
                poll_noop(&mut past),
                Poll::Ready(()),
                "a past deadline must be ready at once"
            );

            // With the task's own waker too, and through `.await`.
            let mut zero = sleep(Duration::ZERO);
            assert_eq!(poll_once(&mut zero).await, Poll::Ready(()));
            sleep(Duration::ZERO).await;
            sleep_until(Instant::now()).await;
            sleep_until(Instant::now() - ms(5)).await;

            // Polling an elapsed sleep again stays ready.
            let mut s = sleep(Duration::ZERO);
            assert_eq!(poll_noop(&mut s), Poll::Ready(()));
            assert_eq!(poll_noop(&mut s), Poll::Ready(()));

            // A timeout of zero over a ready future is Ok; over a pending one it is Err at once.
            assert_eq!(timeout(Duration::ZERO, async { 3 }).await, Ok(3));
            let mut t = Box::pin(timeout(Duration::ZERO, pending::<()>()));
            assert_eq!(poll_noop(&mut t), Poll::Ready(Err(elapsed_value())));
        });
        // A spawned task sees the same.
        let handle = rt.spawn(async {
            let mut zero = sleep(Duration::ZERO);
            poll_once(&mut zero).await
        });
        assert_eq!(rt.block_on(handle).unwrap(), Poll::Ready(()));
    });
}

#[test]
fn infinite_deadlines_never_complete_and_do_not_overflow() {
    run_with_timeout("infinite_deadlines", || {
        let rt = runtime(2);
        rt.block_on(async {
            let now = Instant::now();
            let forever = sleep(Duration::MAX);
            let ten_years = Duration::from_secs(86_400 * 365 * 10);
            assert!(
                forever.deadline() > now + ten_years,
                "sleep(Duration::MAX).deadline() must be far in the future, got {:?} from now",
                forever.deadline().saturating_duration_since(now)
            );
            assert!(!forever.is_elapsed());
            let start = Instant::now();
            assert_eq!(timeout(ms(10), forever).await, Err(elapsed_value()));
            assert!(Instant::now() >= start + ms(10), "timeout elapsed before 10 ms");

            // Large but representable deadlines (the wheel's overflow list).
            for far in [
                Instant::now() + Duration::from_secs(3_600),
                Instant::now() + Duration::from_secs(86_400 * 365 * 3),
                Instant::now() + Duration::from_secs(86_400 * 365 * 100),
                Instant::now() + Duration::from_secs(u64::from(u32::MAX)),
            ] {
                let s = sleep_until(far);
                assert_eq!(s.deadline(), far);
                assert!(!s.is_elapsed());
                assert_eq!(
                    timeout(ms(5), s).await,
                    Err(elapsed_value()),
                    "sleep_until(far) completed"
                );
            }

            // Durations just short of overflowing, and registering then dropping them.
            for d in [
                Duration::MAX,
                Duration::from_secs(u64::MAX),
                Duration::from_secs(u64::MAX / 2),
            ] {
                let mut s = sleep(d);
                assert!(s.deadline() > Instant::now() + ten_years);
                assert_eq!(poll_once(&mut s).await, Poll::Pending);
                drop(s);
            }

            // `timeout(Duration::MAX, ..)` does not overflow either, and lets the future finish.
            assert_eq!(timeout(Duration::MAX, async { 5 }).await, Ok(5));
            assert_eq!(
                timeout(Duration::MAX, async {
                    sleep(ms(2)).await;
                    6
                })
                .await,
                Ok(6)
            );
        });

        // The runtime still serves ordinary timers after all that.
        let start = Instant::now();
        rt.block_on(sleep(ms(5)));
        assert!(Instant::now() >= start + ms(5));
    });
}

// ---------------------------------------------------------------------------------------------
// 3. Idle workers
// ---------------------------------------------------------------------------------------------

#[test]
fn timers_fire_when_every_worker_is_idle() {
    run_with_timeout("timers_fire_when_idle", || {
        for workers in [1, 4] {
            let rt = runtime(workers);

            // The block_on thread is the only one with anything to do.
            let start = Instant::now();
            rt.block_on(sleep(ms(5)));
            assert!(
                Instant::now() >= start + ms(5),
                "{workers} workers: block_on(sleep(5ms)) early"
            );

            // A spawned task sleeping while no other work exists; the test thread waits on a
            // plain channel, so only the runtime's workers can fire the timer.
            let (tx, rx) = mpsc::channel();
            rt.spawn(async move {
                for _ in 0..3 {
                    let s = sleep(ms(5));
                    let deadline = s.deadline();
                    s.await;
                    tx.send(Instant::now() >= deadline).unwrap();
                }
            });
            for i in 0..3 {
                let on_time = rx.recv_timeout(WAIT).unwrap_or_else(|_| {
                    panic!("{workers} workers: sleep #{i} of an otherwise idle runtime never fired")
                });
                assert!(
                    on_time,
                    "{workers} workers: sleep #{i} completed before its deadline"
                );
            }

            // Several tasks sleeping at once, with different deadlines, nothing else running.
            let (tx, rx) = mpsc::channel();
            for i in 0..8u64 {
                let tx = tx.clone();
                rt.spawn(async move {
                    let deadline = Instant::now() + ms(1 + i * 3);
                    sleep_until(deadline).await;
                    tx.send(Instant::now() >= deadline).unwrap();
                });
            }
            drop(tx);
            for i in 0..8 {
                let on_time = rx
                    .recv_timeout(WAIT)
                    .unwrap_or_else(|_| panic!("{workers} workers: only {i} of 8 idle sleeps fired"));
                assert!(
                    on_time,
                    "{workers} workers: a sleep completed before its deadline"
                );
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// 4. Busy workers
// ---------------------------------------------------------------------------------------------

#[test]
fn timers_fire_when_the_only_worker_is_busy() {
    run_with_timeout("timers_fire_one_busy_worker", || {
        let rt = runtime(1);
        let iterations = Arc::new(AtomicU64::new(0));
        let busy = rt.spawn(yield_forever(iterations.clone()));
        eventually("the busy loop started", || iterations.load(Ordering::Relaxed) > 0);

        let sleeper = rt.spawn(async {
            let s = sleep(ms(10));
            let deadline = s.deadline();
            s.await;
            Instant::now() >= deadline
        });
        // The block_on thread fires no timers: the busy worker must.
        let on_time = rt.block_on(sleeper).expect("the sleeping task failed");
        assert!(on_time, "the sleep completed before its deadline");

        // A timer registered from the block_on thread, also fired by the busy worker.
        let start = Instant::now();
        rt.block_on(sleep(ms(10)));
        assert!(Instant::now() >= start + ms(10));

        assert!(!busy.is_finished());
        let before = iterations.load(Ordering::Relaxed);
        eventually("the busy loop kept running", || {
            iterations.load(Ordering::Relaxed) > before
        });
        busy.abort();
    });
}

#[test]
fn timers_fire_when_both_workers_are_busy() {
    run_with_timeout("timers_fire_two_busy_workers", || {
        let rt = runtime(2);
        let threads = Arc::new(Mutex::new(std::collections::HashSet::<ThreadId>::new()));
        let busy: Vec<_> = (0..2)
            .map(|_| {
                let threads = threads.clone();
                rt.spawn(async move {
                    loop {
                        threads.lock().unwrap().insert(thread::current().id());
                        heist::task::yield_now().await;
                    }
                })
            })
            .collect();
        // Both workers have run a busy loop (and, with two loops for two workers, stay busy).
        eventually("both workers run a busy loop", || {
            threads.lock().unwrap().len() == 2
        });

        let sleepers: Vec<_> = (0..4u64)
            .map(|i| {
                rt.spawn(async move {
                    let s = sleep(ms(5 + 5 * i));
                    let deadline = s.deadline();
                    s.await;
                    Instant::now() >= deadline
                })
            })
            .collect();
        for (i, sleeper) in sleepers.into_iter().enumerate() {
            let on_time = rt.block_on(sleeper).expect("a sleeping task failed");
            assert!(on_time, "sleep #{i} completed before its deadline");
        }

        let start = Instant::now();
        rt.block_on(sleep(ms(10)));
        assert!(Instant::now() >= start + ms(10));

        for handle in &busy {
            assert!(!handle.is_finished());
            handle.abort();
        }
    });
}

// ---------------------------------------------------------------------------------------------
// 5. A worker blocked in a long poll
// ---------------------------------------------------------------------------------------------

/// What a task that blocked its worker on a timer's waker observed.
#[derive(Debug)]
struct BlockedObservation {
    deadline: Instant,
    first_poll_pending: bool,
    /// When and where the waker was woken; `None` if it never was within `WAIT`.
    woken: Option<(Instant, ThreadId)>,
    resumed_at: Instant,
    worker_thread: ThreadId,
    ready_after_wake: bool,
}

/// Polls a 20 ms sleep once by hand (it registers in this worker's shard), then blocks the
/// worker thread until the waker is woken: only another thread can fire it.
fn block_worker_on_own_timer() -> BlockedObservation {
    let mut s = sleep(ms(20));
    let deadline = s.deadline();
    let (tx, rx) = mpsc::channel();
    let waker = Waker::from(Arc::new(ChannelWaker(Mutex::new(tx))));
    let mut cx = Context::from_waker(&waker);
    let first_poll_pending = Pin::new(&mut s).poll(&mut cx).is_pending();
    let woken = rx.recv_timeout(WAIT).ok();
    let resumed_at = Instant::now();
    let ready_after_wake = woken.is_some() && Pin::new(&mut s).poll(&mut cx).is_ready();
    BlockedObservation {
        deadline,
        first_poll_pending,
        woken,
        resumed_at,
        worker_thread: thread::current().id(),
        ready_after_wake,
    }
}

fn check_blocked(observation: &BlockedObservation, what: &str) {
    assert!(
        observation.first_poll_pending,
        "{what}: a 20 ms sleep was ready on its first poll"
    );
    let Some((woken_at, woken_on)) = observation.woken else {
        panic!(
            "{what}: the timer of a worker blocked in a long poll was never fired by another \
             thread within {WAIT:?}: the blocked worker holds its timers hostage ({observation:?})"
        );
    };
    assert_ne!(
        woken_on, observation.worker_thread,
        "{what}: woken by the blocked thread itself?"
    );
    assert!(
        woken_at >= observation.deadline,
        "{what}: the timer fired {:?} before its deadline",
        observation.deadline - woken_at
    );
    assert!(
        observation.resumed_at >= observation.deadline,
        "{what}: resumed before the deadline"
    );
    assert!(
        observation.ready_after_wake,
        "{what}: the sleep was not ready after its timer fired"
    );
}

#[test]
fn a_worker_blocked_in_a_long_poll_does_not_hold_its_timers_hostage() {
    run_with_timeout("blocked_worker_timers", || {
        let rt = runtime(2);

        // Spawned from outside the runtime.
        let observation = rt
            .block_on(rt.spawn(async { block_worker_on_own_timer() }))
            .unwrap();
        check_blocked(&observation, "spawned from outside");

        // Resumed by a timer first (so the task runs on whichever worker the fired timer
        // woke), then blocked; repeated, because which worker holds the timers varies.
        for round in 0..10 {
            let observation = rt
                .block_on(rt.spawn(async {
                    sleep(ms(1)).await;
                    block_worker_on_own_timer()
                }))
                .unwrap();
            check_blocked(&observation, &format!("after a sleep, round {round}"));
        }

        // Spawned from a worker (into its LIFO slot).
        let observation = rt
            .block_on(rt.spawn(async { heist::spawn(async { block_worker_on_own_timer() }).await }))
            .unwrap()
            .unwrap();
        check_blocked(&observation, "spawned from a worker");
    });
}

// ---------------------------------------------------------------------------------------------
// 6. Timers registered outside the workers
// ---------------------------------------------------------------------------------------------

#[test]
fn timers_registered_outside_the_workers_fire() {
    run_with_timeout("timers_outside_workers", || {
        let rt = runtime(2);

        // In `Runtime::block_on`, polled by hand first, then awaited.
        rt.block_on(async {
            let mut s = sleep(ms(5));
            let deadline = s.deadline();
            assert_eq!(poll_once(&mut s).await, Poll::Pending);
            s.await;
            assert!(Instant::now() >= deadline, "block_on sleep completed early");
        });

        // In `Handle::block_on` on a thread of the blocking pool.
        let handle = rt.handle().clone();
        let job = rt.spawn_blocking(move || {
            handle.block_on(async {
                let s = sleep(ms(5));
                let deadline = s.deadline();
                s.await;
                Instant::now() >= deadline
            })
        });
        assert!(
            rt.block_on(job).unwrap(),
            "sleep in spawn_blocking + Handle::block_on completed early"
        );

        // In `Handle::block_on` on a plain thread.
        let handle = rt.handle().clone();
        let on_time = thread::spawn(move || {
            handle.block_on(async {
                let deadline = Instant::now() + ms(5);
                sleep_until(deadline).await;
                Instant::now() >= deadline
            })
        })
        .join()
        .unwrap();
        assert!(
            on_time,
            "sleep in Handle::block_on on a plain thread completed early"
        );

        // After `Runtime::enter`, under a foreign executor.
        {
            let _guard = rt.enter();
            let start = Instant::now();
            futures_lite::future::block_on(sleep(ms(5)));
            assert!(
                Instant::now() >= start + ms(5),
                "sleep under Runtime::enter completed early"
            );
            assert_eq!(
                futures_lite::future::block_on(timeout(ms(5), pending::<()>())),
                Err(elapsed_value())
            );
        }

        // A sleep created outside any runtime registers lazily where it is first polled.
        let s = sleep(ms(5));
        let deadline = s.deadline();
        let on_time = rt.block_on(rt.spawn(async move {
            s.await;
            Instant::now() >= deadline
        }));
        assert!(
            on_time.unwrap(),
            "a sleep created outside the runtime completed early"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// 7. Reset
// ---------------------------------------------------------------------------------------------

/// Runs `future` unless a `guard`-long sleep fires first. Unlike `timeout`, it polls the
/// guard first: a sleep whose timer was lost but whose deadline has passed by the time the
/// guard fires would otherwise still look `Ok`.
async fn unless_guard_fires_first<F: Future + Unpin>(
    guard: Duration,
    mut future: F,
) -> Result<F::Output, ()> {
    let mut guard = sleep(guard);
    poll_fn(|cx| {
        if Pin::new(&mut guard).poll(cx).is_ready() {
            return Poll::Ready(Err(()));
        }
        Pin::new(&mut future).poll(cx).map(Ok)
    })
    .await
}

async fn reset_scenarios() {
    // Earlier: registered at +60 s, moved to +5 ms. A lost reset is caught by the 30 s
    // timeout, far below 60 s.
    let mut s = sleep(Duration::from_secs(60));
    assert_eq!(poll_once(&mut s).await, Poll::Pending);
    let new = Instant::now() + ms(5);
    Pin::new(&mut s).reset(new);
    assert_eq!(s.deadline(), new);
    assert_eq!(
        unless_guard_fires_first(Duration::from_secs(30), &mut s).await,
        Ok(()),
        "a sleep reset from +60 s to +5 ms was not woken at its new deadline"
    );
    assert!(
        Instant::now() >= new,
        "reset-earlier sleep completed before the new deadline"
    );
    assert!(s.is_elapsed());

    // Earlier, before the first poll.
    let mut s = sleep(Duration::from_secs(60));
    let new = Instant::now() + ms(3);
    Pin::new(&mut s).reset(new);
    assert_eq!(
        unless_guard_fires_first(Duration::from_secs(30), &mut s).await,
        Ok(())
    );
    assert!(Instant::now() >= new);

    // Later: registered at +5 ms, moved to +30 ms. The old entry fires at 5 ms; the sleep
    // must not complete then.
    let mut s = sleep(ms(5));
    assert_eq!(poll_once(&mut s).await, Poll::Pending);
    let new = Instant::now() + ms(30);
    Pin::new(&mut s).reset(new);
    (&mut s).await;
    assert!(
        Instant::now() >= new,
        "reset-later sleep completed before the new deadline"
    );

    // Later, twice, while the first entry is still pending.
    let mut s = sleep(ms(2));
    assert_eq!(poll_once(&mut s).await, Poll::Pending);
    Pin::new(&mut s).reset(Instant::now() + ms(10));
    let new = Instant::now() + ms(20);
    Pin::new(&mut s).reset(new);
    (&mut s).await;
    assert!(Instant::now() >= new);

    // After completion: pending again until the new deadline.
    let mut s = sleep(ms(1));
    (&mut s).await;
    assert!(s.is_elapsed());
    let new = Instant::now() + ms(10);
    Pin::new(&mut s).reset(new);
    assert!(!s.is_elapsed(), "a sleep reset into the future is not elapsed");
    assert_eq!(
        poll_once(&mut s).await,
        Poll::Pending,
        "a completed sleep reset later must be pending"
    );
    (&mut s).await;
    assert!(
        Instant::now() >= new,
        "a completed-then-reset sleep completed before the new deadline"
    );

    // To the past while registered: ready on the next poll.
    let mut s = sleep(Duration::from_secs(60));
    assert_eq!(poll_once(&mut s).await, Poll::Pending);
    Pin::new(&mut s).reset(Instant::now() - ms(1));
    assert_eq!(poll_once(&mut s).await, Poll::Ready(()));
}

#[test]
fn reset_moves_the_deadline_both_ways_and_revives_a_completed_sleep() {
    run_with_timeout("sleep_reset", || {
        let rt = runtime(2);
        // On the block_on thread's shard, then on a worker's.
        rt.block_on(reset_scenarios());
        rt.block_on(rt.spawn(reset_scenarios()))
            .expect("reset scenarios failed in a task");
    });
}

/// Spawns a task that awaits the shared sleep (registering it on its worker's shard) and
/// returns when it completed; the receiver fires once the sleep is registered.
fn spawn_shared_sleeper(
    rt: &heist::Runtime,
    shared: Arc<Mutex<Sleep>>,
) -> (
    heist::task::JoinHandle<Instant>,
    tokio::sync::oneshot::Receiver<()>,
) {
    let (registered_tx, registered_rx) = tokio::sync::oneshot::channel();
    let sleeper = rt.spawn(async move {
        let mut registered_tx = Some(registered_tx);
        poll_fn(|cx| {
            let poll = Pin::new(&mut *shared.lock().unwrap()).poll(cx);
            if let Some(tx) = registered_tx.take() {
                tx.send(()).unwrap();
            }
            poll
        })
        .await;
        Instant::now()
    });
    (sleeper, registered_rx)
}

#[test]
fn reset_from_another_task_wakes_the_sleeper_at_the_new_deadline() {
    run_with_timeout("sleep_reset_shared", || {
        let rt = runtime(2);
        // The sleep is registered by one task (on its worker's shard) and moved earlier by
        // another, possibly on the other worker.
        let shared = Arc::new(Mutex::new(sleep(Duration::from_secs(60))));
        let (sleeper, registered) = spawn_shared_sleeper(&rt, shared.clone());
        rt.block_on(async {
            registered.await.unwrap();
            let new = Instant::now() + ms(5);
            heist::spawn(async move { Pin::new(&mut *shared.lock().unwrap()).reset(new) })
                .await
                .unwrap();
            let result = timeout(Duration::from_secs(30), sleeper).await;
            assert_eq!(
                result.map(|done| done.unwrap() >= new),
                Ok(true),
                "a sleep moved earlier by another task must complete at (not before) the new deadline"
            );
        });
    });
}

// ---------------------------------------------------------------------------------------------
// 8. Timeout
// ---------------------------------------------------------------------------------------------

#[test]
fn timeout_returns_the_output_or_elapsed_and_drops_its_future() {
    run_with_timeout("timeout_semantics", || {
        let rt = runtime(2);
        rt.block_on(async {
            // The future finishes first.
            assert_eq!(timeout(Duration::from_secs(30), async { 7 }).await, Ok(7));
            let output = timeout(Duration::from_secs(30), async {
                sleep(ms(2)).await;
                String::from("done")
            })
            .await;
            assert_eq!(output, Ok(String::from("done")));
            let spawned = timeout(Duration::from_secs(30), heist::spawn(async { 11 })).await;
            assert_eq!(spawned.map(|r| r.unwrap()), Ok(11));

            // It does not.
            let start = Instant::now();
            assert_eq!(timeout(ms(5), pending::<u8>()).await, Err(elapsed_value()));
            assert!(Instant::now() >= start + ms(5));
            let deadline = Instant::now() + ms(5);
            assert_eq!(
                timeout_at(deadline, sleep(Duration::from_secs(60))).await,
                Err(elapsed_value())
            );
            assert!(Instant::now() >= deadline);

            // A ready future wins even against a past deadline (it is polled first).
            assert_eq!(timeout_at(Instant::now() - ms(10), async { 1 }).await, Ok(1));

            // The inner future lives as long as the Timeout, and is dropped with it.
            let drops = Arc::new(AtomicUsize::new(0));
            let guard = DropCounter(drops.clone());
            let mut t = Box::pin(timeout(Duration::from_secs(60), async move {
                let _guard = guard;
                pending::<()>().await;
            }));
            assert!(poll_once(&mut t).await.is_pending());
            assert_eq!(drops.load(Ordering::SeqCst), 0);
            drop(t);
            assert_eq!(
                drops.load(Ordering::SeqCst),
                1,
                "dropping a Timeout must drop its future"
            );

            // After elapsing, the future is still held until the Timeout is dropped.
            let drops = Arc::new(AtomicUsize::new(0));
            let guard = DropCounter(drops.clone());
            let mut t: Pin<Box<Timeout<_>>> = Box::pin(timeout(ms(3), async move {
                let _guard = guard;
                pending::<()>().await;
            }));
            assert_eq!(t.as_mut().await, Err(elapsed_value()));
            assert_eq!(drops.load(Ordering::SeqCst), 0);
            drop(t);
            assert_eq!(drops.load(Ordering::SeqCst), 1);

            // `into_inner` hands the future back, and `get_ref` / `get_mut` reach it.
            let mut t = timeout(ms(1), async { 9 });
            let _: &_ = t.get_ref();
            let _: &mut _ = t.get_mut();
            assert_eq!(t.into_inner().await, 9);
        });

        // Elapsed as an error.
        let elapsed = elapsed_value();
        assert_eq!(elapsed.to_string(), "deadline has elapsed");
        let as_error: &dyn std::error::Error = &elapsed;
        assert_eq!(as_error.to_string(), "deadline has elapsed");
        let io_error: io::Error = elapsed.into();
        assert_eq!(io_error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(io::Error::from(elapsed).kind(), io::ErrorKind::TimedOut);
    });
}

#[test]
fn timeouts_in_many_tasks_elapse_or_complete() {
    run_with_timeout("timeout_many_tasks", || {
        let rt = runtime(2);
        let violations = Arc::new(Violations::default());
        let handles: Vec<_> = (0..500u64)
            .map(|i| {
                let violations = violations.clone();
                rt.spawn(async move {
                    let short = ms(1 + i % 5);
                    // The inner sleep ends long before the timeout: Ok.
                    if timeout(Duration::from_secs(30), sleep(short)).await.is_err() {
                        violations.record(format!("timeout(30s, sleep({short:?})) elapsed"));
                    }
                    // The inner sleep is far longer: Err, not before the deadline.
                    let deadline = Instant::now() + short;
                    match timeout_at(deadline, sleep(Duration::from_secs(30))).await {
                        Ok(()) => violations.record("a 30 s sleep beat a short timeout".into()),
                        Err(_) if Instant::now() < deadline => {
                            violations.record("a timeout elapsed before its deadline".into())
                        }
                        Err(_) => {}
                    }
                })
            })
            .collect();
        rt.block_on(async {
            for handle in handles {
                handle.await.unwrap();
            }
        });
        violations.assert_none("timeouts in many tasks");
    });
}

// ---------------------------------------------------------------------------------------------
// 9. Interval
// ---------------------------------------------------------------------------------------------

#[test]
fn interval_first_tick_is_immediate_and_ticks_are_one_period_apart() {
    run_with_timeout("interval_ticks", || {
        let rt = runtime(2);
        let body = async {
            let period = ms(3);

            // First tick at `start`, at once, for a start in the past or now.
            for start in [Instant::now() - Duration::from_secs(1), Instant::now()] {
                let mut ticks = interval_at(start, period);
                assert_eq!(ticks.period(), period);
                assert_eq!(poll_noop(&mut Box::pin(ticks.tick())), Poll::Ready(start));
            }
            let before = Instant::now();
            let mut ticks = interval(period);
            let first = match ticks.poll_tick(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(first) => first,
                Poll::Pending => panic!("the first tick of interval() must be immediate"),
            };
            assert!(first >= before && first <= Instant::now());

            // Consecutive ticks are scheduled exactly one period apart (Burst, the default,
            // keeps the schedule even if this task is late) and are never early.
            let start = Instant::now();
            let mut ticks = interval_at(start, period);
            assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Burst);
            let mut scheduled = Vec::new();
            for _ in 0..6 {
                let at = ticks.tick().await;
                assert!(Instant::now() >= at, "a tick was delivered before its time");
                scheduled.push(at);
            }
            for (i, at) in scheduled.iter().enumerate() {
                assert_eq!(
                    *at,
                    start + period * i as u32,
                    "tick #{i} scheduled off the period grid"
                );
            }

            // A start in the future: the first tick waits for it.
            let start = Instant::now() + ms(5);
            let mut ticks = interval_at(start, period);
            assert_eq!(ticks.tick().await, start);
            assert!(Instant::now() >= start);
            assert_eq!(ticks.tick().await, start + period);
            assert!(Instant::now() >= start + period);

            // reset: the next tick comes one period after the reset, not before.
            let mut ticks = interval(ms(10));
            ticks.tick().await;
            let before_reset = Instant::now();
            ticks.reset();
            assert!(
                ticks
                    .poll_tick(&mut Context::from_waker(Waker::noop()))
                    .is_pending()
            );
            let at = ticks.tick().await;
            assert!(
                at >= before_reset + ms(10),
                "after reset the next tick came too soon"
            );
            assert!(Instant::now() >= at);
        };
        rt.block_on(body);
    });
}

#[test]
fn interval_with_a_zero_period_panics() {
    for (name, make) in [
        (
            "interval",
            Box::new(|| drop(interval(Duration::ZERO))) as Box<dyn Fn()>,
        ),
        (
            "interval_at",
            Box::new(|| drop(interval_at(Instant::now(), Duration::ZERO))),
        ),
    ] {
        let payload = catch_unwind(AssertUnwindSafe(make)).expect_err(&format!("{name}(ZERO) must panic"));
        let message = panic_message(&*payload);
        assert!(
            message.contains("period"),
            "{name}(ZERO) panic message: {message:?}"
        );
    }
}

#[test]
fn interval_with_a_huge_period_does_not_overflow() {
    run_with_timeout("interval_huge_period", || {
        let rt = runtime(1);
        rt.block_on(async {
            // Like `sleep(Duration::MAX)`: "never", not an overflow panic. The first tick is
            // immediate; the second never comes.
            for period in [Duration::MAX, Duration::from_secs(u64::MAX / 2)] {
                let start = Instant::now();
                let mut ticks = interval_at(start, period);
                assert_eq!(ticks.tick().await, start);
                assert_eq!(
                    timeout(ms(5), ticks.tick()).await,
                    Err(elapsed_value()),
                    "the second tick of an interval of {period:?} came"
                );
            }
        });
    });
}

/// Ticks once at `start`, then blocks this thread for three periods on purpose (making the
/// next tick late by two), then ticks once more: returns (the late tick, the instant just
/// before it was requested, the instant just after it was delivered).
async fn late_tick(ticks: &mut Interval, start: Instant, period: Duration) -> (Instant, Instant, Instant) {
    assert_eq!(ticks.tick().await, start);
    thread::sleep(period * 3);
    let before = Instant::now();
    let late = match ticks.poll_tick(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(late) => late,
        Poll::Pending => panic!("a tick three periods overdue must be ready at once"),
    };
    (late, before, Instant::now())
}

#[test]
fn interval_missed_tick_behaviors() {
    run_with_timeout("interval_missed_ticks", || {
        let rt = runtime(2);
        let period = ms(10);
        let noop = || Context::from_waker(Waker::noop());
        rt.block_on(async {
            // Burst: the missed ticks come back to back, on the original schedule.
            let start = Instant::now();
            let mut ticks = interval_at(start, period);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
            let (late, _, _) = late_tick(&mut ticks, start, period).await;
            assert_eq!(late, start + period);
            for k in 2..=3u32 {
                assert_eq!(
                    ticks.poll_tick(&mut noop()),
                    Poll::Ready(start + period * k),
                    "Burst: missed tick #{k} must be delivered at once"
                );
            }
            let next = ticks.tick().await;
            assert_eq!(next, start + period * 4, "Burst: back on the original schedule");
            assert!(Instant::now() >= next);

            // Skip: the next tick is the next multiple of the period after now.
            let start = Instant::now();
            let mut ticks = interval_at(start, period);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
            assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Skip);
            let (late, before, _) = late_tick(&mut ticks, start, period).await;
            assert_eq!(late, start + period);
            let next = ticks.tick().await;
            assert!(Instant::now() >= next, "Skip: tick delivered early");
            let offset = (next - start).as_nanos();
            assert_eq!(
                offset % period.as_nanos(),
                0,
                "Skip: tick {offset} ns after start is not on the period grid"
            );
            assert!(
                next > before,
                "Skip: the next tick must be after the late one was delivered"
            );
            assert!(
                next >= start + period * 4,
                "Skip: the missed ticks must be skipped"
            );

            // Delay: the schedule restarts from the late tick.
            let start = Instant::now();
            let mut ticks = interval_at(start, period);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let (late, before, after) = late_tick(&mut ticks, start, period).await;
            assert_eq!(late, start + period);
            let next = ticks.tick().await;
            assert!(Instant::now() >= next, "Delay: tick delivered early");
            assert!(
                next >= before + period,
                "Delay: the next tick must be one period after the late one"
            );
            assert!(
                next <= after + period,
                "Delay: the next tick must be one period after the late one, not later"
            );
        });
    });
}

// ---------------------------------------------------------------------------------------------
// 10. Many timers, and cancelling them
// ---------------------------------------------------------------------------------------------

#[test]
fn one_hundred_thousand_sleeping_tasks_all_complete() {
    run_with_timeout("many_timers", || {
        const TASKS: usize = 100_000;
        let rt = runtime(2);
        let completed = Arc::new(AtomicUsize::new(0));
        let early = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = mpsc::channel();
        let done_tx = Arc::new(Mutex::new(done_tx));
        for i in 0..TASKS {
            let completed = completed.clone();
            let early = early.clone();
            let done_tx = done_tx.clone();
            rt.spawn(async move {
                let s = sleep(ms(1 + (i % 10) as u64));
                let deadline = s.deadline();
                s.await;
                if Instant::now() < deadline {
                    early.fetch_add(1, Ordering::SeqCst);
                }
                if completed.fetch_add(1, Ordering::SeqCst) + 1 == TASKS {
                    done_tx.lock().unwrap().send(()).unwrap();
                }
            });
        }
        if done_rx.recv_timeout(WAIT).is_err() {
            panic!(
                "only {} of {TASKS} sleeping tasks completed within {WAIT:?}",
                completed.load(Ordering::SeqCst)
            );
        }
        assert_eq!(completed.load(Ordering::SeqCst), TASKS);
        assert_eq!(
            early.load(Ordering::SeqCst),
            0,
            "sleeps completed before their deadline"
        );
        eventually("every task was released", || rt.metrics().alive_tasks() == 0);
    });
}

#[test]
fn aborting_10_000_sleeping_tasks_leaks_nothing() {
    run_with_timeout("abort_sleeping_tasks", || {
        const TASKS: usize = 10_000;
        let rt = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let polled = Arc::new(AtomicUsize::new(0));
        // Half the tasks register the sleep with a counted waker, so that we can see the
        // wheel let go of it.
        let counted = Arc::new(CountedWaker);
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let guard = DropCounter(drops.clone());
                let polled = polled.clone();
                let counted = counted.clone();
                rt.spawn(async move {
                    let _guard = guard;
                    let mut s = sleep(Duration::from_secs(3_600));
                    if i % 2 == 0 {
                        let waker = Waker::from(counted);
                        assert!(
                            Pin::new(&mut s)
                                .poll(&mut Context::from_waker(&waker))
                                .is_pending()
                        );
                        // Only the wheel keeps a clone while the task waits.
                        drop(waker);
                        polled.fetch_add(1, Ordering::SeqCst);
                        pending::<()>().await;
                    } else {
                        drop(counted);
                        polled.fetch_add(1, Ordering::SeqCst);
                        s.await;
                    }
                    unreachable!("an hour-long sleep completed");
                })
            })
            .collect();
        eventually("all tasks registered their sleep", || {
            polled.load(Ordering::SeqCst) == TASKS
        });
        // One clone per registered timer, plus ours.
        assert_eq!(
            Arc::strong_count(&counted),
            1 + TASKS / 2,
            "one waker clone per registered sleep"
        );

        for handle in &handles {
            handle.abort();
        }
        rt.block_on(async {
            for handle in handles {
                let err = handle.await.expect_err("an aborted sleeping task completed");
                assert!(err.is_cancelled(), "{err:?}");
            }
        });
        assert_eq!(
            drops.load(Ordering::SeqCst),
            TASKS,
            "each aborted future is dropped once"
        );
        eventually("every aborted task was released", || {
            rt.metrics().alive_tasks() == 0
        });
        assert_eq!(
            Arc::strong_count(&counted),
            1,
            "cancelled sleeps must release their wakers from the timer wheel"
        );

        // The runtime still serves timers.
        let start = Instant::now();
        rt.block_on(sleep(ms(5)));
        assert!(Instant::now() >= start + ms(5));
        let on_time = rt.block_on(rt.spawn(async {
            let s = sleep(ms(5));
            let deadline = s.deadline();
            s.await;
            Instant::now() >= deadline
        }));
        assert!(on_time.unwrap());
    });
}

#[test]
fn dropping_sleeps_and_timeouts_before_they_fire_is_harmless() {
    run_with_timeout("drop_pending_sleeps", || {
        let rt = runtime(2);
        let counted = Arc::new(CountedWaker);
        rt.block_on(async {
            let waker = Waker::from(counted.clone());
            let mut cx = Context::from_waker(&waker);
            // Registered and dropped, many times: each registration is released.
            for i in 0..1_000u64 {
                let mut s = sleep(ms(1 + i % 50));
                assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
                let mut t = Box::pin(timeout(ms(1 + i % 50), pending::<()>()));
                assert!(t.as_mut().poll(&mut cx).is_pending());
            }
            drop(waker);
        });
        assert_eq!(
            Arc::strong_count(&counted),
            1,
            "dropped sleeps must release their wakers"
        );
        // Dropping an unpolled sleep touches no timer and needs no runtime.
        drop(sleep(Duration::from_secs(1)));
        drop(timeout(Duration::from_secs(1), pending::<()>()));
        drop(interval(ms(1)));
        let start = Instant::now();
        rt.block_on(sleep(ms(2)));
        assert!(Instant::now() >= start + ms(2));
    });
}

// ---------------------------------------------------------------------------------------------
// 11. Outside any runtime
// ---------------------------------------------------------------------------------------------

#[test]
fn polling_a_sleep_outside_a_runtime_panics_with_a_clear_message() {
    // Creating one is fine: it touches no timer until polled.
    let s: Sleep = sleep(ms(10));
    let payload = catch_unwind(AssertUnwindSafe(|| futures_lite::future::block_on(s)))
        .expect_err("polling a Sleep outside a runtime must panic");
    let message = panic_message(&*payload);
    assert!(
        message.contains("outside a heist runtime"),
        "unclear panic message: {message:?}"
    );

    let payload = catch_unwind(AssertUnwindSafe(|| {
        futures_lite::future::block_on(timeout(ms(10), pending::<()>()))
    }))
    .expect_err("polling a Timeout outside a runtime must panic");
    let message = panic_message(&*payload);
    assert!(
        message.contains("outside a heist runtime"),
        "unclear panic message: {message:?}"
    );

    // After the runtime that was entered is gone, the thread is outside again.
    let rt = runtime(1);
    drop(rt.enter());
    drop(rt);
    let payload = catch_unwind(AssertUnwindSafe(|| futures_lite::future::block_on(sleep(ms(10)))))
        .expect_err("polling a Sleep after leaving the runtime must panic");
    assert!(panic_message(&*payload).contains("outside a heist runtime"));
}

// ---------------------------------------------------------------------------------------------
// 12. Shutdown
// ---------------------------------------------------------------------------------------------

#[test]
fn dropping_a_runtime_with_1_000_sleeping_tasks_drops_each_future_once() {
    run_with_timeout("shutdown_sleeping_tasks", || {
        const TASKS: usize = 1_000;
        let rt = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let polled = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                let guard = DropCounter(drops.clone());
                let polled = polled.clone();
                rt.spawn(async move {
                    let _guard = guard;
                    let s = sleep(Duration::from_secs(3_600));
                    polled.fetch_add(1, Ordering::SeqCst);
                    s.await;
                })
            })
            .collect();
        eventually("all tasks are sleeping", || {
            polled.load(Ordering::SeqCst) == TASKS
        });

        // A sleep registered by the block_on thread that outlives the runtime.
        let mut survivor = sleep(Duration::from_secs(3_600));
        rt.block_on(async { assert!(poll_once(&mut survivor).await.is_pending()) });

        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(rt);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            TASKS,
            "dropping the runtime must drop each sleeping task's future exactly once"
        );
        for handle in handles {
            let err = futures_lite::future::block_on(handle).expect_err("a sleeping task completed");
            assert!(err.is_cancelled(), "{err:?}");
        }
        // Dropping a sleep after its runtime is gone is harmless.
        drop(survivor);
        assert_eq!(drops.load(Ordering::SeqCst), TASKS);
    });
}

#[test]
fn reset_into_the_past_from_another_task_still_wakes_the_sleeper() {
    run_with_timeout("sleep_reset_past_shared", || {
        let rt = runtime(2);
        let shared = Arc::new(Mutex::new(sleep(Duration::from_secs(60))));
        let (sleeper, registered) = spawn_shared_sleeper(&rt, shared.clone());
        rt.block_on(async {
            registered.await.unwrap();
            // Already passed when the other task resets it: the waiting task must still be
            // woken, by the entry moved to fire at once.
            let past = Instant::now() - ms(1);
            heist::spawn(async move { Pin::new(&mut *shared.lock().unwrap()).reset(past) })
                .await
                .unwrap();
            let result = unless_guard_fires_first(Duration::from_secs(30), sleeper).await;
            assert!(
                matches!(result, Ok(Ok(_))),
                "a sleep reset into the past by another task was never woken: {result:?}"
            );
        });
    });
}

/// What a timer whose runtime has shut down panics with.
const TIMERS_SHUT_DOWN: &str = "runtime whose timers it uses has shut down";

/// Asserts that `result` is a panic that says the timers' runtime is gone.
fn assert_timers_shut_down<T: std::fmt::Debug>(result: std::thread::Result<T>, what: &str) {
    let payload = result.expect_err(what);
    let message = panic_message(&*payload);
    assert!(
        message.contains(TIMERS_SHUT_DOWN),
        "{what}: unclear panic message: {message:?}"
    );
}

/// A sleep registered in runtime A's timers and then awaited in runtime B: once A is gone, no
/// one will ever fire it. Awaiting it after A is dropped panics and says why, and so do a
/// timeout and an interval (a sleep inside) registered the same way.
#[test]
fn a_timer_awaited_after_its_runtime_is_dropped_panics_with_a_clear_message() {
    run_with_deadline("timer_after_its_runtime", Duration::from_secs(10), || {
        let a = runtime(1);
        let b = runtime(1);
        let mut sleeping = sleep(Duration::from_secs(3_600));
        let mut timing_out = timeout(Duration::from_secs(3_600), pending::<()>());
        let mut ticking = interval(Duration::from_secs(3_600));
        a.block_on(async {
            assert!(poll_once(&mut sleeping).await.is_pending());
            assert!(poll_once(&mut timing_out).await.is_pending());
            ticking.tick().await; // the first tick is immediate
            assert!(poll_once(&mut Box::pin(ticking.tick())).await.is_pending());
        });
        drop(a);
        let result = catch_unwind(AssertUnwindSafe(|| b.block_on(sleeping)));
        assert_timers_shut_down(result, "a sleep of a dropped runtime completed");
        let result = catch_unwind(AssertUnwindSafe(|| b.block_on(timing_out)));
        assert_timers_shut_down(result, "a timeout of a dropped runtime completed");
        let result = catch_unwind(AssertUnwindSafe(|| b.block_on(ticking.tick())));
        assert_timers_shut_down(result, "an interval of a dropped runtime ticked");
    });
}

/// A task of runtime B waits on a sleep registered in runtime A when A is dropped: the shutdown
/// wakes it, and its next poll panics (its `JoinHandle` reports the panic with the message)
/// rather than leaving it asleep for good.
#[test]
fn a_task_waiting_on_a_timer_when_its_runtime_shuts_down_is_woken_and_panics() {
    run_with_deadline("timer_runtime_shuts_down", Duration::from_secs(10), || {
        let a = runtime(1);
        let b = runtime(1);
        let mut sleeping = sleep(Duration::from_secs(3_600));
        a.block_on(async { assert!(poll_once(&mut sleeping).await.is_pending()) });
        let (waiting_tx, waiting_rx) = mpsc::channel();
        let waiter = b.spawn(async move {
            let mut told = false;
            poll_fn(|cx| {
                let poll = Pin::new(&mut sleeping).poll(cx);
                if poll.is_pending() && !std::mem::replace(&mut told, true) {
                    waiting_tx.send(()).unwrap();
                }
                poll
            })
            .await
        });
        waiting_rx
            .recv_timeout(WAIT)
            .expect("the task never waited on the sleep");
        drop(a);
        let error = b
            .block_on(waiter)
            .expect_err("a sleep of a dropped runtime completed");
        assert!(error.is_panic(), "{error:?}");
        assert_timers_shut_down::<()>(Err(error.into_panic()), "the waiting task");
    });
}

/// A blocking job still running after `shutdown_timeout(ZERO)` calls `Handle::block_on` on a
/// sleep: the runtime's workers are gone, so it could never fire. It panics instead of hanging.
#[test]
fn block_on_a_sleep_after_shutdown_timeout_panics_with_a_clear_message() {
    run_with_deadline("sleep_after_shutdown_timeout", Duration::from_secs(10), || {
        let rt = runtime(1);
        let handle = rt.handle().clone();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel();
        drop(rt.spawn_blocking(move || {
            started_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            let slept = catch_unwind(AssertUnwindSafe(|| handle.block_on(sleep(ms(1)))));
            let timed = catch_unwind(AssertUnwindSafe(|| {
                handle.block_on(timeout(ms(1), pending::<()>()))
            }));
            done_tx.send((slept, timed)).unwrap();
        }));
        // Running, not queued: a queued job would be cancelled by the shutdown.
        started_rx
            .recv_timeout(WAIT)
            .expect("the blocking job never started");
        rt.shutdown_timeout(Duration::ZERO);
        go_tx.send(()).unwrap();
        let (slept, timed) = done_rx.recv().expect("the blocking job died");
        assert_timers_shut_down(slept, "block_on(sleep) after shutdown returned");
        assert_timers_shut_down(timed, "block_on(timeout) after shutdown returned");
    });
}

/// A waker that panics when its timer fires (a bug in whoever made the waker) must not take
/// the worker firing the timers down with it: the other timers of the pass fire, and the
/// runtime's timers and tasks go on working.
#[test]
fn a_waker_that_panics_when_its_timer_fires_is_skipped() {
    struct Panics;
    impl Wake for Panics {
        fn wake(self: Arc<Self>) {
            panic!("a waker that panics");
        }
    }

    run_with_timeout("panicking_timer_waker", || {
        let rt = runtime(1);
        let _guard = rt.enter();
        let waker = Waker::from(Arc::new(Panics));
        // Kept until the end: dropping it would cancel the timer.
        let mut doomed = Box::pin(sleep(Duration::from_millis(5)));
        assert!(
            doomed
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        // A second timer due at the same time, woken in the same pass.
        let fired = rt.spawn(async { sleep(Duration::from_millis(5)).await });
        rt.block_on(fired).unwrap();
        for round in 0..3 {
            let task = rt.spawn(async move {
                sleep(Duration::from_millis(2)).await;
                round
            });
            assert_eq!(rt.block_on(task).unwrap(), round);
        }
    });
}

//! Timer micro-benchmarks: heist against tokio and smol (async-io timers on an
//! async-executor), every runtime with the same number of worker threads.
//!
//! Each workload is a criterion group holding three functions, `heist`,
//! `tokio` and `smol`, so `target/criterion/<workload>/` compares them side
//! by side. The worker count is `HEIST_BENCH_WORKERS` (default 2).
//!
//! Every runtime is built once per group, outside `b.iter`, and dropped
//! before the next one is built, so only one runtime's threads exist at a
//! time.
//!
//! Workloads:
//!
//! - `timer_storm`: 10_000 tasks each sleep 1 ms five times in a row.
//! - `timeout_churn`: 4 tasks each run 25_000 timeouts (1 s) in a row around
//!   a future that yields once and then finishes, so every timeout's timer is
//!   registered (the inner future is pending at the first poll, so the timer
//!   is polled) and then cancelled.
//! - `register_with_many/{0,1000000}`: one task registers (first poll) and
//!   cancels (drop) 10_000 one-hour sleeps in a row while 0 or 1_000_000
//!   other tasks wait on one-hour sleeps.
//!
//! Run: `cargo bench --bench timer` (or `-- timeout_churn` for one workload).

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, LazyLock};
use std::thread;
use std::time::{Duration, Instant};

use async_executor::Executor;
use async_io::Timer;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use futures_lite::future::poll_once;
use tokio::sync::oneshot;

/// Worker threads used when `HEIST_BENCH_WORKERS` is not set.
const DEFAULT_WORKERS: usize = 2;

/// Worker threads for every runtime: `HEIST_BENCH_WORKERS`, default 2.
static WORKERS: LazyLock<usize> = LazyLock::new(|| {
    std::env::var("HEIST_BENCH_WORKERS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(DEFAULT_WORKERS)
});

const STORM_TASKS: usize = 10_000;
const STORM_SLEEPS: usize = 5;
const STORM_SLEEP: Duration = Duration::from_millis(1);

const CHURN_TASKS: usize = 4;
const CHURN_PER_TASK: usize = 25_000;
const CHURN_TIMEOUT: Duration = Duration::from_secs(1);

const REGISTER_LOOPS: usize = 10_000;
const REGISTER_PENDING: [usize; 2] = [0, 1_000_000];
/// Long enough never to fire during a run.
const HOUR: Duration = Duration::from_secs(3600);

// ---------------------------------------------------------------------------
// Runtimes
// ---------------------------------------------------------------------------

fn heist_rt() -> heist::Runtime {
    heist::runtime::Builder::new()
        .worker_threads(*WORKERS)
        .build()
        .expect("build heist runtime")
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(*WORKERS)
        .enable_time()
        .build()
        .expect("build tokio runtime")
}

/// smol's multi-threaded setup: one `async_executor::Executor` run by
/// `WORKERS` std threads. Dropping it stops and joins the threads.
struct Smol {
    ex: Arc<Executor<'static>>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Smol {
    fn new() -> Self {
        let ex = Arc::new(Executor::new());
        let mut stops = Vec::new();
        let mut threads = Vec::new();
        for i in 0..*WORKERS {
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            let ex = ex.clone();
            let t = thread::Builder::new()
                .name(format!("smol-worker-{i}"))
                .spawn(move || {
                    async_io::block_on(ex.run(async {
                        // Resolves (with Err) when the sender is dropped.
                        let _ = stop_rx.await;
                    }));
                })
                .expect("spawn smol worker");
            stops.push(stop_tx);
            threads.push(t);
        }
        Smol { ex, stops, threads }
    }
}

impl Drop for Smol {
    fn drop(&mut self) {
        self.stops.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Decrements `remaining`; the task that brings it to zero signals `done`.
fn count_down(remaining: &AtomicUsize, done: &mpsc::SyncSender<()>) {
    if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
        done.send(()).expect("bench thread waits for the signal");
    }
}

/// The shared count-down state for one iteration.
fn countdown(n: usize) -> (Arc<AtomicUsize>, mpsc::SyncSender<()>, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::sync_channel(1);
    (Arc::new(AtomicUsize::new(n)), tx, rx)
}

fn configure<'a>(c: &'a mut Criterion, name: &str, elements: usize) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(elements as u64));
    g
}

// ---------------------------------------------------------------------------
// timer_storm: 10_000 tasks x 5 sequential 1 ms sleeps.
// ---------------------------------------------------------------------------

/// One storm task: `STORM_SLEEPS` sleeps made by `sleep`, then count down.
async fn storm_task<F: Future>(sleep: impl Fn() -> F, rem: Arc<AtomicUsize>, done: mpsc::SyncSender<()>) {
    for _ in 0..STORM_SLEEPS {
        sleep().await;
    }
    count_down(&rem, &done);
}

fn timer_storm(c: &mut Criterion) {
    let mut g = configure(c, "timer_storm", STORM_TASKS * STORM_SLEEPS);
    // An iteration takes several milliseconds: equal iteration counts per sample.
    g.sampling_mode(SamplingMode::Flat);

    {
        let rt = heist_rt();
        g.bench_function("heist", |b| {
            b.iter(|| {
                let (rem, tx, rx) = countdown(STORM_TASKS);
                for _ in 0..STORM_TASKS {
                    let task = storm_task(|| heist::time::sleep(STORM_SLEEP), rem.clone(), tx.clone());
                    drop(rt.spawn(task));
                }
                rx.recv().unwrap();
            })
        });
    }

    {
        let rt = tokio_rt();
        g.bench_function("tokio", |b| {
            b.iter(|| {
                let (rem, tx, rx) = countdown(STORM_TASKS);
                for _ in 0..STORM_TASKS {
                    let task = storm_task(|| tokio::time::sleep(STORM_SLEEP), rem.clone(), tx.clone());
                    drop(rt.spawn(task));
                }
                rx.recv().unwrap();
            })
        });
    }

    {
        let smol = Smol::new();
        g.bench_function("smol", |b| {
            b.iter(|| {
                let (rem, tx, rx) = countdown(STORM_TASKS);
                for _ in 0..STORM_TASKS {
                    let task = storm_task(|| Timer::after(STORM_SLEEP), rem.clone(), tx.clone());
                    smol.ex.spawn(task).detach();
                }
                rx.recv().unwrap();
            })
        });
    }

    g.finish();
}

// ---------------------------------------------------------------------------
// timeout_churn: 4 tasks x 25_000 sequential timeouts, each registered and
// cancelled.
// ---------------------------------------------------------------------------

/// smol has no `timeout`: race the future against a timer, preferring the
/// future. `or` polls the future first, so when it yields the timer is polled
/// (registered) in the same poll, as in heist's and tokio's `Timeout`.
async fn smol_timeout<T>(d: Duration, fut: impl Future<Output = T>) -> Result<T, ()> {
    let timer = Timer::after(d);
    futures_lite::future::or(async { Ok(fut.await) }, async {
        timer.await;
        Err(())
    })
    .await
}

fn timeout_churn(c: &mut Criterion) {
    let mut g = configure(c, "timeout_churn", CHURN_TASKS * CHURN_PER_TASK);
    g.sampling_mode(SamplingMode::Flat);

    {
        let rt = heist_rt();
        g.bench_function("heist", |b| {
            b.iter(|| {
                let (rem, tx, rx) = countdown(CHURN_TASKS);
                for _ in 0..CHURN_TASKS {
                    let (rem, tx) = (rem.clone(), tx.clone());
                    drop(rt.spawn(async move {
                        for _ in 0..CHURN_PER_TASK {
                            heist::time::timeout(CHURN_TIMEOUT, heist::task::yield_now())
                                .await
                                .expect("timeout did not elapse");
                        }
                        count_down(&rem, &tx);
                    }));
                }
                rx.recv().unwrap();
            })
        });
    }

    {
        let rt = tokio_rt();
        g.bench_function("tokio", |b| {
            b.iter(|| {
                let (rem, tx, rx) = countdown(CHURN_TASKS);
                for _ in 0..CHURN_TASKS {
                    let (rem, tx) = (rem.clone(), tx.clone());
                    drop(rt.spawn(async move {
                        for _ in 0..CHURN_PER_TASK {
                            // Each task poll spends one unit of coop budget
                            // (the sleep's), far below the 128 per poll, so
                            // every sleep really registers.
                            tokio::time::timeout(CHURN_TIMEOUT, tokio::task::yield_now())
                                .await
                                .expect("timeout did not elapse");
                        }
                        count_down(&rem, &tx);
                    }));
                }
                rx.recv().unwrap();
            })
        });
    }

    {
        let smol = Smol::new();
        g.bench_function("smol", |b| {
            b.iter(|| {
                let (rem, tx, rx) = countdown(CHURN_TASKS);
                for _ in 0..CHURN_TASKS {
                    let (rem, tx) = (rem.clone(), tx.clone());
                    smol.ex
                        .spawn(async move {
                            for _ in 0..CHURN_PER_TASK {
                                smol_timeout(CHURN_TIMEOUT, futures_lite::future::yield_now())
                                    .await
                                    .expect("timeout did not elapse");
                            }
                            count_down(&rem, &tx);
                        })
                        .detach();
                }
                rx.recv().unwrap();
            })
        });
    }

    g.finish();
}

// ---------------------------------------------------------------------------
// register_with_many: register + cancel one timer, 10_000 times in a row,
// with 0 or 1_000_000 timers pending.
// ---------------------------------------------------------------------------

/// A task that creates a sleep with `sleep`, registers it (polls it once),
/// counts itself in `polled` and then waits for it (an hour: until the
/// runtime is dropped).
async fn parked_sleeper<F: Future>(sleep: impl FnOnce() -> F, polled: Arc<AtomicUsize>) {
    // Created on the worker: tokio's `sleep` needs the runtime's context.
    let mut sleep = pin!(sleep());
    assert!(poll_once(sleep.as_mut()).await.is_none(), "an hour went by");
    polled.fetch_add(1, Ordering::Relaxed);
    sleep.await;
}

/// Waits until `polled` reaches `n` (every sleeper registered its timer),
/// then lets the workers settle.
fn wait_polled(polled: &AtomicUsize, n: usize) {
    let start = Instant::now();
    while polled.load(Ordering::Relaxed) < n {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "only {} of {n} sleepers registered within 120 s",
            polled.load(Ordering::Relaxed)
        );
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(Duration::from_millis(200));
}

/// The measured loop: create a one-hour sleep, poll it once (registers it),
/// drop it (cancels it); `REGISTER_LOOPS` times.
async fn register_cancel_loop<F: Future>(sleep: impl Fn() -> F) {
    for _ in 0..REGISTER_LOOPS {
        let sleep = pin!(sleep());
        assert!(poll_once(sleep).await.is_none(), "an hour went by");
    }
}

fn register_with_many(c: &mut Criterion) {
    for pending in REGISTER_PENDING {
        let mut g = configure(c, &format!("register_with_many/{pending}"), REGISTER_LOOPS);
        g.sample_size(20);

        {
            let rt = heist_rt();
            let polled = Arc::new(AtomicUsize::new(0));
            for _ in 0..pending {
                drop(rt.spawn(parked_sleeper(|| heist::time::sleep(HOUR), polled.clone())));
            }
            wait_polled(&polled, pending);
            g.bench_function("heist", |b| {
                b.iter(|| {
                    let task = rt.spawn(register_cancel_loop(|| heist::time::sleep(HOUR)));
                    rt.block_on(task).unwrap();
                })
            });
        }

        {
            let rt = tokio_rt();
            let polled = Arc::new(AtomicUsize::new(0));
            for _ in 0..pending {
                drop(rt.spawn(parked_sleeper(|| tokio::time::sleep(HOUR), polled.clone())));
            }
            wait_polled(&polled, pending);
            g.bench_function("tokio", |b| {
                b.iter(|| {
                    // Unconstrained: tokio's coop budget (128 per poll) would
                    // otherwise make later sleeps return Pending without
                    // registering.
                    let task = rt.spawn(tokio::task::unconstrained(register_cancel_loop(|| {
                        tokio::time::sleep(HOUR)
                    })));
                    rt.block_on(task).unwrap();
                })
            });
        }

        {
            let smol = Smol::new();
            let polled = Arc::new(AtomicUsize::new(0));
            for _ in 0..pending {
                smol.ex
                    .spawn(parked_sleeper(|| Timer::after(HOUR), polled.clone()))
                    .detach();
            }
            wait_polled(&polled, pending);
            g.bench_function("smol", |b| {
                b.iter(|| {
                    let task = smol.ex.spawn(register_cancel_loop(|| Timer::after(HOUR)));
                    async_io::block_on(task);
                })
            });
        }

        g.finish();
    }
}

criterion_group!(benches, timer_storm, timeout_churn, register_with_many);
criterion_main!(benches);

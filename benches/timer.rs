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

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc;
use std::time::Duration;

use async_io::Timer;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use futures_lite::future::poll_once;

use common::{Smol, configure, count_down, countdown, heist_rt, parked_sleeper, tokio_rt, wait_polled};

/// Criterion samples per workload (`register_with_many` takes more).
const SAMPLE_SIZE: usize = 10;

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
    let mut g = configure(c, "timer_storm", STORM_TASKS * STORM_SLEEPS, SAMPLE_SIZE);
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
    let mut g = configure(c, "timeout_churn", CHURN_TASKS * CHURN_PER_TASK, SAMPLE_SIZE);
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
        let mut g = configure(c, &format!("register_with_many/{pending}"), REGISTER_LOOPS, 20);

        {
            let rt = heist_rt();
            let polled = Arc::new(AtomicUsize::new(0));
            for _ in 0..pending {
                drop(rt.spawn(parked_sleeper(|| heist::time::sleep(HOUR), polled.clone())));
            }
            wait_polled(&polled, pending, "sleepers registered");
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
            wait_polled(&polled, pending, "sleepers registered");
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
            wait_polled(&polled, pending, "sleepers registered");
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

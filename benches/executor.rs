//! Scheduler micro-benchmarks: heist against tokio and smol (async-executor),
//! every runtime with the same number of worker threads.
//!
//! Each workload is a criterion group holding three functions, `heist`,
//! `tokio` and `smol`, so `target/criterion/<workload>/` compares them side
//! by side. The worker count is `HEIST_BENCH_WORKERS` (default 2).
//!
//! Every runtime is built once per group, outside `b.iter`, and dropped
//! before the next one is built, so only one runtime's threads exist at a
//! time.
//!
//! Run: `cargo bench --bench executor` (or `-- spawn_many_local` for one
//! workload).

mod common;

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc;

use async_executor::Executor;
use criterion::{Criterion, criterion_group, criterion_main};
use tokio::sync::oneshot;

use common::{Smol, configure, count_down, countdown, heist_rt, tokio_rt};

/// Criterion samples per workload.
const SAMPLE_SIZE: usize = 20;

const SPAWN_MANY: usize = 10_000;
const YIELD_TASKS: usize = 200;
const YIELDS_PER_TASK: usize = 1_000;
const PING_PONG_PAIRS: usize = 1_000;
const CHAIN_LEN: usize = 1_000;

// ---------------------------------------------------------------------------
// spawn_many_local: a task on a worker spawns 10_000 tasks.
// ---------------------------------------------------------------------------

fn spawn_many_local(c: &mut Criterion) {
    let mut g = configure(c, "spawn_many_local", SPAWN_MANY, SAMPLE_SIZE);

    {
        let rt = heist_rt();
        g.bench_function("heist", |b| {
            b.iter(|| {
                let (rem, tx, rx) = countdown(SPAWN_MANY);
                drop(rt.spawn(async move {
                    for _ in 0..SPAWN_MANY {
                        let rem = rem.clone();
                        let tx = tx.clone();
                        drop(heist::spawn(async move { count_down(&rem, &tx) }));
                    }
                }));
                rx.recv().unwrap();
            })
        });
    }

    {
        let rt = tokio_rt();
        g.bench_function("tokio", |b| {
            b.iter(|| {
                let (rem, tx, rx) = countdown(SPAWN_MANY);
                drop(rt.spawn(async move {
                    for _ in 0..SPAWN_MANY {
                        let rem = rem.clone();
                        let tx = tx.clone();
                        drop(tokio::spawn(async move { count_down(&rem, &tx) }));
                    }
                }));
                rx.recv().unwrap();
            })
        });
    }

    {
        let smol = Smol::new();
        g.bench_function("smol", |b| {
            b.iter(|| {
                let (rem, tx, rx) = countdown(SPAWN_MANY);
                let ex = smol.ex.clone();
                smol.ex
                    .spawn(async move {
                        for _ in 0..SPAWN_MANY {
                            let rem = rem.clone();
                            let tx = tx.clone();
                            ex.spawn(async move { count_down(&rem, &tx) }).detach();
                        }
                    })
                    .detach();
                rx.recv().unwrap();
            })
        });
    }

    g.finish();
}

// ---------------------------------------------------------------------------
// spawn_many_remote: 10_000 spawns from the bench thread, then await all.
// ---------------------------------------------------------------------------

fn spawn_many_remote(c: &mut Criterion) {
    let mut g = configure(c, "spawn_many_remote", SPAWN_MANY, SAMPLE_SIZE);

    {
        let rt = heist_rt();
        g.bench_function("heist", |b| {
            b.iter(|| {
                let handle = rt.handle();
                let handles: Vec<_> = (0..SPAWN_MANY)
                    .map(|i| handle.spawn(async move { black_box(i) }))
                    .collect();
                rt.block_on(async {
                    for h in handles {
                        h.await.unwrap();
                    }
                });
            })
        });
    }

    {
        let rt = tokio_rt();
        g.bench_function("tokio", |b| {
            b.iter(|| {
                let handle = rt.handle();
                let handles: Vec<_> = (0..SPAWN_MANY)
                    .map(|i| handle.spawn(async move { black_box(i) }))
                    .collect();
                rt.block_on(async {
                    for h in handles {
                        h.await.unwrap();
                    }
                });
            })
        });
    }

    {
        let smol = Smol::new();
        g.bench_function("smol", |b| {
            b.iter(|| {
                let tasks: Vec<_> = (0..SPAWN_MANY)
                    .map(|i| smol.ex.spawn(async move { black_box(i) }))
                    .collect();
                async_io::block_on(async {
                    for t in tasks {
                        t.await;
                    }
                });
            })
        });
    }

    g.finish();
}

// ---------------------------------------------------------------------------
// yield_many: 200 tasks x 1_000 yields.
// ---------------------------------------------------------------------------

fn yield_many(c: &mut Criterion) {
    let mut g = configure(c, "yield_many", YIELD_TASKS * YIELDS_PER_TASK, SAMPLE_SIZE);

    {
        let rt = heist_rt();
        g.bench_function("heist", |b| {
            b.iter(|| {
                let (rem, tx, rx) = countdown(YIELD_TASKS);
                for _ in 0..YIELD_TASKS {
                    let rem = rem.clone();
                    let tx = tx.clone();
                    drop(rt.spawn(async move {
                        for _ in 0..YIELDS_PER_TASK {
                            heist::task::yield_now().await;
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
                let (rem, tx, rx) = countdown(YIELD_TASKS);
                for _ in 0..YIELD_TASKS {
                    let rem = rem.clone();
                    let tx = tx.clone();
                    drop(rt.spawn(async move {
                        for _ in 0..YIELDS_PER_TASK {
                            tokio::task::yield_now().await;
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
                let (rem, tx, rx) = countdown(YIELD_TASKS);
                for _ in 0..YIELD_TASKS {
                    let rem = rem.clone();
                    let tx = tx.clone();
                    smol.ex
                        .spawn(async move {
                            for _ in 0..YIELDS_PER_TASK {
                                futures_lite::future::yield_now().await;
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
// ping_pong: 1_000 pairs of tasks trading a ping and a pong over oneshots.
// ---------------------------------------------------------------------------

/// One pair's "pinger" side: spawns the ponger with `spawn`, pings, waits for
/// the pong, then counts down.
async fn ping_pong_pair<S>(spawn: S, rem: Arc<AtomicUsize>, done: mpsc::SyncSender<()>)
where
    S: FnOnce(Pin<Box<dyn Future<Output = ()> + Send>>),
{
    let (ping_tx, ping_rx) = oneshot::channel::<()>();
    let (pong_tx, pong_rx) = oneshot::channel::<()>();
    spawn(Box::pin(async move {
        ping_rx.await.unwrap();
        pong_tx.send(()).unwrap();
    }));
    ping_tx.send(()).unwrap();
    pong_rx.await.unwrap();
    count_down(&rem, &done);
}

fn ping_pong(c: &mut Criterion) {
    let mut g = configure(c, "ping_pong", PING_PONG_PAIRS, SAMPLE_SIZE);

    {
        let rt = heist_rt();
        g.bench_function("heist", |b| {
            b.iter(|| {
                let (rem, tx, rx) = countdown(PING_PONG_PAIRS);
                drop(rt.spawn(async move {
                    for _ in 0..PING_PONG_PAIRS {
                        let pair = ping_pong_pair(|f| drop(heist::spawn(f)), rem.clone(), tx.clone());
                        drop(heist::spawn(pair));
                    }
                }));
                rx.recv().unwrap();
            })
        });
    }

    {
        let rt = tokio_rt();
        g.bench_function("tokio", |b| {
            b.iter(|| {
                let (rem, tx, rx) = countdown(PING_PONG_PAIRS);
                drop(rt.spawn(async move {
                    for _ in 0..PING_PONG_PAIRS {
                        let pair = ping_pong_pair(|f| drop(tokio::spawn(f)), rem.clone(), tx.clone());
                        drop(tokio::spawn(pair));
                    }
                }));
                rx.recv().unwrap();
            })
        });
    }

    {
        let smol = Smol::new();
        g.bench_function("smol", |b| {
            b.iter(|| {
                let (rem, tx, rx) = countdown(PING_PONG_PAIRS);
                let ex = smol.ex.clone();
                smol.ex
                    .spawn(async move {
                        for _ in 0..PING_PONG_PAIRS {
                            let ex2 = ex.clone();
                            let pair =
                                ping_pong_pair(move |f| ex2.spawn(f).detach(), rem.clone(), tx.clone());
                            ex.spawn(pair).detach();
                        }
                    })
                    .detach();
                rx.recv().unwrap();
            })
        });
    }

    g.finish();
}

// ---------------------------------------------------------------------------
// chained_spawn: 1_000 spawns, each spawning the next; the last signals.
// ---------------------------------------------------------------------------

fn heist_chain(n: usize, done: mpsc::SyncSender<()>) {
    if n == 0 {
        done.send(()).unwrap();
    } else {
        drop(heist::spawn(async move { heist_chain(n - 1, done) }));
    }
}

fn tokio_chain(n: usize, done: mpsc::SyncSender<()>) {
    if n == 0 {
        done.send(()).unwrap();
    } else {
        drop(tokio::spawn(async move { tokio_chain(n - 1, done) }));
    }
}

fn smol_chain(ex: Arc<Executor<'static>>, n: usize, done: mpsc::SyncSender<()>) {
    if n == 0 {
        done.send(()).unwrap();
    } else {
        let ex2 = ex.clone();
        ex.spawn(async move { smol_chain(ex2, n - 1, done) }).detach();
    }
}

fn chained_spawn(c: &mut Criterion) {
    let mut g = configure(c, "chained_spawn", CHAIN_LEN, SAMPLE_SIZE);

    {
        let rt = heist_rt();
        g.bench_function("heist", |b| {
            b.iter(|| {
                let (tx, rx) = mpsc::sync_channel(1);
                drop(rt.spawn(async move { heist_chain(CHAIN_LEN, tx) }));
                rx.recv().unwrap();
            })
        });
    }

    {
        let rt = tokio_rt();
        g.bench_function("tokio", |b| {
            b.iter(|| {
                let (tx, rx) = mpsc::sync_channel(1);
                drop(rt.spawn(async move { tokio_chain(CHAIN_LEN, tx) }));
                rx.recv().unwrap();
            })
        });
    }

    {
        let smol = Smol::new();
        g.bench_function("smol", |b| {
            b.iter(|| {
                let (tx, rx) = mpsc::sync_channel(1);
                let ex = smol.ex.clone();
                smol.ex
                    .spawn(async move { smol_chain(ex, CHAIN_LEN, tx) })
                    .detach();
                rx.recv().unwrap();
            })
        });
    }

    g.finish();
}

// ---------------------------------------------------------------------------
// current_thread_*: the same workloads on current-thread runtimes, inside
// `block_on` (heist's `new_current_thread`, tokio's `new_current_thread`, and
// smol's `LocalExecutor` run by `futures_lite::future::block_on`).
// ---------------------------------------------------------------------------

fn heist_current_thread() -> heist::Runtime {
    heist::runtime::Builder::new_current_thread()
        .build()
        .expect("build heist current-thread runtime")
}

fn tokio_current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("build tokio current-thread runtime")
}

fn current_thread_spawn_many(c: &mut Criterion) {
    let mut g = configure(c, "current_thread_spawn_many", SPAWN_MANY, SAMPLE_SIZE);
    {
        let rt = heist_current_thread();
        g.bench_function("heist", |b| {
            b.iter(|| {
                rt.block_on(async {
                    let handles: Vec<_> = (0..SPAWN_MANY)
                        .map(|i| heist::spawn(async move { black_box(i) }))
                        .collect();
                    for h in handles {
                        h.await.unwrap();
                    }
                })
            })
        });
    }
    {
        let rt = tokio_current_thread();
        g.bench_function("tokio", |b| {
            b.iter(|| {
                rt.block_on(async {
                    let handles: Vec<_> = (0..SPAWN_MANY)
                        .map(|i| tokio::spawn(async move { black_box(i) }))
                        .collect();
                    for h in handles {
                        h.await.unwrap();
                    }
                })
            })
        });
    }
    {
        let ex = async_executor::LocalExecutor::new();
        g.bench_function("smol", |b| {
            b.iter(|| {
                futures_lite::future::block_on(ex.run(async {
                    let handles: Vec<_> = (0..SPAWN_MANY)
                        .map(|i| ex.spawn(async move { black_box(i) }))
                        .collect();
                    for h in handles {
                        h.await;
                    }
                }))
            })
        });
    }
    g.finish();
}

fn current_thread_yield_many(c: &mut Criterion) {
    let mut g = configure(
        c,
        "current_thread_yield_many",
        YIELD_TASKS * YIELDS_PER_TASK,
        SAMPLE_SIZE,
    );
    {
        let rt = heist_current_thread();
        g.bench_function("heist", |b| {
            b.iter(|| {
                rt.block_on(async {
                    let handles: Vec<_> = (0..YIELD_TASKS)
                        .map(|_| {
                            heist::spawn(async {
                                for _ in 0..YIELDS_PER_TASK {
                                    heist::task::yield_now().await;
                                }
                            })
                        })
                        .collect();
                    for h in handles {
                        h.await.unwrap();
                    }
                })
            })
        });
    }
    {
        let rt = tokio_current_thread();
        g.bench_function("tokio", |b| {
            b.iter(|| {
                rt.block_on(async {
                    let handles: Vec<_> = (0..YIELD_TASKS)
                        .map(|_| {
                            tokio::spawn(async {
                                for _ in 0..YIELDS_PER_TASK {
                                    tokio::task::yield_now().await;
                                }
                            })
                        })
                        .collect();
                    for h in handles {
                        h.await.unwrap();
                    }
                })
            })
        });
    }
    {
        let ex = async_executor::LocalExecutor::new();
        g.bench_function("smol", |b| {
            b.iter(|| {
                futures_lite::future::block_on(ex.run(async {
                    let handles: Vec<_> = (0..YIELD_TASKS)
                        .map(|_| {
                            ex.spawn(async {
                                for _ in 0..YIELDS_PER_TASK {
                                    futures_lite::future::yield_now().await;
                                }
                            })
                        })
                        .collect();
                    for h in handles {
                        h.await;
                    }
                }))
            })
        });
    }
    g.finish();
}

fn current_thread_ping_pong(c: &mut Criterion) {
    let mut g = configure(c, "current_thread_ping_pong", PING_PONG_PAIRS, SAMPLE_SIZE);
    {
        let rt = heist_current_thread();
        g.bench_function("heist", |b| {
            b.iter(|| {
                let (rem, tx, rx) = countdown(PING_PONG_PAIRS);
                rt.block_on(async {
                    let pingers: Vec<_> = (0..PING_PONG_PAIRS)
                        .map(|_| {
                            heist::spawn(ping_pong_pair(|f| drop(heist::spawn(f)), rem.clone(), tx.clone()))
                        })
                        .collect();
                    for pinger in pingers {
                        pinger.await.unwrap();
                    }
                });
                rx.recv().unwrap();
            })
        });
    }
    {
        let rt = tokio_current_thread();
        g.bench_function("tokio", |b| {
            b.iter(|| {
                let (rem, tx, rx) = countdown(PING_PONG_PAIRS);
                rt.block_on(async {
                    let pingers: Vec<_> = (0..PING_PONG_PAIRS)
                        .map(|_| {
                            tokio::spawn(ping_pong_pair(|f| drop(tokio::spawn(f)), rem.clone(), tx.clone()))
                        })
                        .collect();
                    for pinger in pingers {
                        pinger.await.unwrap();
                    }
                });
                rx.recv().unwrap();
            })
        });
    }
    {
        let ex = std::rc::Rc::new(async_executor::LocalExecutor::new());
        g.bench_function("smol", |b| {
            b.iter(|| {
                let (rem, tx, rx) = countdown(PING_PONG_PAIRS);
                futures_lite::future::block_on(ex.run(async {
                    let pingers: Vec<_> = (0..PING_PONG_PAIRS)
                        .map(|_| {
                            let spawner = ex.clone();
                            ex.spawn(ping_pong_pair(
                                move |f| spawner.spawn(f).detach(),
                                rem.clone(),
                                tx.clone(),
                            ))
                        })
                        .collect();
                    for pinger in pingers {
                        pinger.await;
                    }
                }));
                rx.recv().unwrap();
            })
        });
    }
    g.finish();
}

// ---------------------------------------------------------------------------
// block_in_place: 64 tasks x 100 short closures run with `block_in_place` (smol has none: its
// way to run blocking code from a task is `blocking::unblock`, which the smol row uses).
// ---------------------------------------------------------------------------

const BLOCK_IN_PLACE_TASKS: usize = 64;
const BLOCK_IN_PLACE_CALLS: usize = 100;

/// The closure: short, so the hand-off itself is what is measured.
fn short_blocking_work() -> u64 {
    black_box((0..64u64).sum())
}

fn block_in_place(c: &mut Criterion) {
    let mut g = configure(
        c,
        "block_in_place",
        BLOCK_IN_PLACE_TASKS * BLOCK_IN_PLACE_CALLS,
        SAMPLE_SIZE,
    );

    {
        let rt = heist_rt();
        g.bench_function("heist", |b| {
            b.iter(|| {
                let (rem, tx, rx) = countdown(BLOCK_IN_PLACE_TASKS);
                for _ in 0..BLOCK_IN_PLACE_TASKS {
                    let rem = rem.clone();
                    let tx = tx.clone();
                    drop(rt.spawn(async move {
                        for _ in 0..BLOCK_IN_PLACE_CALLS {
                            black_box(heist::task::block_in_place(short_blocking_work));
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
                let (rem, tx, rx) = countdown(BLOCK_IN_PLACE_TASKS);
                for _ in 0..BLOCK_IN_PLACE_TASKS {
                    let rem = rem.clone();
                    let tx = tx.clone();
                    drop(rt.spawn(async move {
                        for _ in 0..BLOCK_IN_PLACE_CALLS {
                            black_box(tokio::task::block_in_place(short_blocking_work));
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
                let (rem, tx, rx) = countdown(BLOCK_IN_PLACE_TASKS);
                for _ in 0..BLOCK_IN_PLACE_TASKS {
                    let rem = rem.clone();
                    let tx = tx.clone();
                    smol.ex
                        .spawn(async move {
                            for _ in 0..BLOCK_IN_PLACE_CALLS {
                                black_box(blocking::unblock(short_blocking_work).await);
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

criterion_group!(
    benches,
    spawn_many_local,
    spawn_many_remote,
    yield_many,
    ping_pong,
    chained_spawn,
    current_thread_spawn_many,
    current_thread_yield_many,
    current_thread_ping_pong,
    block_in_place
);
criterion_main!(benches);

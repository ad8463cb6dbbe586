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

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, LazyLock};
use std::thread;
use std::time::Duration;

use async_executor::Executor;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
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

const SPAWN_MANY: usize = 10_000;
const YIELD_TASKS: usize = 200;
const YIELDS_PER_TASK: usize = 1_000;
const PING_PONG_PAIRS: usize = 1_000;
const CHAIN_LEN: usize = 1_000;

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
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(elements as u64));
    g
}

// ---------------------------------------------------------------------------
// spawn_many_local: a task on a worker spawns 10_000 tasks.
// ---------------------------------------------------------------------------

fn spawn_many_local(c: &mut Criterion) {
    let mut g = configure(c, "spawn_many_local", SPAWN_MANY);

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
    let mut g = configure(c, "spawn_many_remote", SPAWN_MANY);

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
    let mut g = configure(c, "yield_many", YIELD_TASKS * YIELDS_PER_TASK);

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
    let mut g = configure(c, "ping_pong", PING_PONG_PAIRS);

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
    let mut g = configure(c, "chained_spawn", CHAIN_LEN);

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

criterion_group!(
    benches,
    spawn_many_local,
    spawn_many_remote,
    yield_many,
    ping_pong,
    chained_spawn
);
criterion_main!(benches);

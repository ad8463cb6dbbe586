//! Helpers shared by the benchmarks: the worker count, the three runtimes
//! (heist, tokio, smol) built the same way, criterion group setup, count-down
//! signalling, and the memory-measurement plumbing (VmRSS, `malloc_trim`,
//! result tables).
//!
//! Included from each bench with `mod common;`.

// Each bench target is its own crate and uses only part of this module.
#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use async_executor::Executor;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use futures_lite::future::poll_once;
use tokio::sync::oneshot;

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// Worker threads used when `HEIST_BENCH_WORKERS` is not set.
const DEFAULT_WORKERS: usize = 2;

/// A number from the environment variable `name`; `_` separators allowed.
pub fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.trim().replace('_', "").parse().ok()
}

/// Worker threads for every runtime: `HEIST_BENCH_WORKERS`, default 2.
pub static WORKERS: LazyLock<usize> = LazyLock::new(|| {
    env_usize("HEIST_BENCH_WORKERS")
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_WORKERS)
});

// ---------------------------------------------------------------------------
// Runtimes
// ---------------------------------------------------------------------------

/// A heist runtime with `WORKERS` worker threads.
pub fn heist_rt() -> heist::Runtime {
    heist_rt_with(*WORKERS)
}

/// A heist runtime with `workers` worker threads, for a bench that needs a fixed count.
pub fn heist_rt_with(workers: usize) -> heist::Runtime {
    heist::runtime::Builder::new()
        .worker_threads(workers)
        .build()
        .expect("build heist runtime")
}

/// A multi-threaded tokio runtime with `WORKERS` worker threads.
///
/// The time driver is always enabled: the timer benches need it, and for the
/// other benches it is harmless (nothing registers a timer), so every bench
/// compares against the same tokio configuration.
pub fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(*WORKERS)
        .enable_time()
        .build()
        .expect("build tokio runtime")
}

/// [`tokio_rt`] with the I/O driver enabled as well, for the network benches.
pub fn tokio_io_rt() -> tokio::runtime::Runtime {
    tokio_io_rt_with(*WORKERS)
}

/// [`tokio_io_rt`] with `workers` worker threads, for a bench that needs a fixed count.
pub fn tokio_io_rt_with(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_io()
        .enable_time()
        .build()
        .expect("build tokio runtime")
}

/// smol's multi-threaded setup: one `async_executor::Executor` run by
/// `WORKERS` std threads. Dropping it stops and joins the threads, then drops
/// the executor (and with it the tasks still pending).
pub struct Smol {
    pub ex: Arc<Executor<'static>>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Smol {
    pub fn new() -> Self {
        Self::with_workers(*WORKERS)
    }

    /// The same with `workers` threads, for a bench that needs a fixed count.
    pub fn with_workers(workers: usize) -> Self {
        let ex = Arc::new(Executor::new());
        let mut stops = Vec::new();
        let mut threads = Vec::new();
        for i in 0..workers {
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
            t.join().expect("smol worker");
        }
    }
}

// ---------------------------------------------------------------------------
// Criterion benches
// ---------------------------------------------------------------------------

/// A criterion group named `name` with `sample_size` samples, 1 s warm-up,
/// 3 s measurement, and a throughput of `elements` per iteration.
pub fn configure<'a>(
    c: &'a mut Criterion,
    name: &str,
    elements: usize,
    sample_size: usize,
) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(sample_size)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(elements as u64));
    g
}

/// Decrements `remaining`; the task that brings it to zero signals `done`.
pub fn count_down(remaining: &AtomicUsize, done: &mpsc::SyncSender<()>) {
    if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
        done.send(()).expect("bench thread waits for the signal");
    }
}

/// The shared count-down state for one iteration.
pub fn countdown(n: usize) -> (Arc<AtomicUsize>, mpsc::SyncSender<()>, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::sync_channel(1);
    (Arc::new(AtomicUsize::new(n)), tx, rx)
}

// ---------------------------------------------------------------------------
// Pending tasks
// ---------------------------------------------------------------------------

/// A task that creates a sleep with `sleep`, registers it (polls it once),
/// counts itself in `polled` and then waits for it (for a long sleep: until
/// the runtime is dropped).
pub async fn parked_sleeper<F: Future>(sleep: impl FnOnce() -> F, polled: Arc<AtomicUsize>) {
    // Created on the worker: tokio's `sleep` needs the runtime's context.
    let mut sleep = pin!(sleep());
    assert!(poll_once(sleep.as_mut()).await.is_none(), "an hour went by");
    polled.fetch_add(1, Ordering::Relaxed);
    sleep.await;
}

/// Waits until `polled` reaches `n` (every task has counted itself), then
/// lets the workers settle. `what` completes the timeout message
/// "only {polled} of {n} {what} within 120 s".
pub fn wait_polled(polled: &AtomicUsize, n: usize, what: &str) {
    let start = Instant::now();
    while polled.load(Ordering::Relaxed) < n {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "only {} of {n} {what} within 120 s",
            polled.load(Ordering::Relaxed)
        );
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(Duration::from_millis(200));
}

// ---------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------

/// Resident set size of this process in bytes (VmRSS).
pub fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    let kb: usize = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("VmRSS value");
    kb * 1024
}

/// Give memory freed by the previous runtime back to the OS, so that its
/// free lists do not absorb the next runtime's allocations (glibc only).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: glibc's malloc_trim has no preconditions.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// VmRSS of one runtime before and after spawning its tasks.
pub struct Measurement {
    pub name: &'static str,
    pub before: usize,
    pub after: usize,
}

impl Measurement {
    pub fn per_task(&self, n: usize) -> f64 {
        self.after.saturating_sub(self.before) as f64 / n as f64
    }
}

/// Runs each of `measures` with `n` tasks, in order, calling
/// `release_free_memory` before each and logging its VmRSS to stderr.
pub fn measure_each(n: usize, measures: [fn(usize) -> Measurement; 3]) -> Vec<Measurement> {
    let mut results = Vec::new();
    for measure in measures {
        release_free_memory();
        let m = measure(n);
        eprintln!(
            "{}: VmRSS {:.1} MiB -> {:.1} MiB",
            m.name,
            m.before as f64 / (1024.0 * 1024.0),
            m.after as f64 / (1024.0 * 1024.0)
        );
        results.push(m);
    }
    results
}

/// Prints the bytes-per-task table; `what` names the task ("pending task").
/// The first result (heist) is the base of the ratios.
pub fn print_memory_table(results: &[Measurement], n: usize, what: &str) {
    let base = results[0].per_task(n);
    println!("| runtime | bytes per {what} | ratio vs heist |");
    println!("| --- | ---: | ---: |");
    for m in results {
        let per = m.per_task(n);
        println!("| {} | {per:.1} | {} |", m.name, ratio(per, base));
    }
}

/// `x / base` with two decimals, or `n/a` if `base` is not positive.
pub fn ratio(x: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:.2}", x / base)
    } else {
        "n/a".to_string()
    }
}

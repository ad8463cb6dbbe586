//! Timer lateness and memory per sleeping task, for heist, tokio and smol.
//!
//! Lateness: on a lightly loaded runtime (`HEIST_BENCH_WORKERS` workers,
//! default 2), 100 tasks each run 100 sequential 1 ms sleeps (10_000 sleeps
//! in all). Each sleep is `sleep_until(deadline)` with `deadline = now + 1 ms`,
//! and its lateness is `Instant::now()` right after it completes (when the
//! task runs again) minus the deadline. A negative lateness would be an early
//! wake-up; those are counted (expected: 0). Reported: median, p99 and max in
//! microseconds, with ratios against heist.
//!
//! Memory: N tasks (`HEIST_MEM_TASKS`, default 1_000_000) each register a
//! one-hour sleep and wait on it; VmRSS growth divided by N is the cost of one
//! sleeping task (task + sleep future + timer entry + allocator overhead).
//!
//! One runtime is alive at a time; each is dropped, and glibc's `malloc_trim`
//! called, before the next one is built.
//!
//! Run: `cargo bench --bench timer_lateness` (quick: `HEIST_MEM_TASKS=100000`).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use async_executor::Executor;
use async_io::Timer;
use futures_lite::future::poll_once;

const DEFAULT_WORKERS: usize = 2;
const DEFAULT_MEM_TASKS: usize = 1_000_000;

const LATENESS_TASKS: usize = 100;
const SLEEPS_PER_TASK: usize = 100;
const SLEEP: Duration = Duration::from_millis(1);
const HOUR: Duration = Duration::from_secs(3600);

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.trim().replace('_', "").parse().ok()
}

fn workers() -> usize {
    env_usize("HEIST_BENCH_WORKERS")
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_WORKERS)
}

fn mem_tasks() -> usize {
    env_usize("HEIST_MEM_TASKS")
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_MEM_TASKS)
}

/// Resident set size of this process in bytes (VmRSS).
fn rss_bytes() -> usize {
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
fn release_free_memory() {
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

// ---------------------------------------------------------------------------
// Runtimes
// ---------------------------------------------------------------------------

/// The three runtimes behind one interface: spawn a future, and block on
/// all the spawned futures' outputs.
trait Rt: Sized + 'static {
    const NAME: &'static str;
    fn new(workers: usize) -> Self;
    /// Spawns `n` tasks made by `task(i)` and waits for all their outputs.
    fn run_all<T, F>(&self, n: usize, task: impl Fn(usize) -> F) -> Vec<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static;
    /// Spawns a task and forgets it (it is cancelled when the runtime drops).
    fn spawn_detached<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static;
    fn sleep(d: Duration) -> impl Future + Send + 'static;
    fn sleep_until(deadline: Instant) -> impl Future + Send + 'static;
}

struct Heist(heist::Runtime);

impl Rt for Heist {
    const NAME: &'static str = "heist";

    fn new(workers: usize) -> Self {
        Heist(
            heist::runtime::Builder::new()
                .worker_threads(workers)
                .build()
                .expect("build heist runtime"),
        )
    }

    fn run_all<T, F>(&self, n: usize, task: impl Fn(usize) -> F) -> Vec<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let handles: Vec<_> = (0..n).map(|i| self.0.spawn(task(i))).collect();
        self.0.block_on(async {
            let mut out = Vec::with_capacity(n);
            for h in handles {
                out.push(h.await.expect("heist task"));
            }
            out
        })
    }

    fn spawn_detached<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.0.spawn(fut));
    }

    fn sleep(d: Duration) -> impl Future + Send + 'static {
        heist::time::sleep(d)
    }

    fn sleep_until(deadline: Instant) -> impl Future + Send + 'static {
        heist::time::sleep_until(deadline)
    }
}

struct Tokio(tokio::runtime::Runtime);

impl Rt for Tokio {
    const NAME: &'static str = "tokio";

    fn new(workers: usize) -> Self {
        Tokio(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_time()
                .build()
                .expect("build tokio runtime"),
        )
    }

    fn run_all<T, F>(&self, n: usize, task: impl Fn(usize) -> F) -> Vec<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let handles: Vec<_> = (0..n).map(|i| self.0.spawn(task(i))).collect();
        self.0.block_on(async {
            let mut out = Vec::with_capacity(n);
            for h in handles {
                out.push(h.await.expect("tokio task"));
            }
            out
        })
    }

    fn spawn_detached<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.0.spawn(fut));
    }

    fn sleep(d: Duration) -> impl Future + Send + 'static {
        tokio::time::sleep(d)
    }

    fn sleep_until(deadline: Instant) -> impl Future + Send + 'static {
        tokio::time::sleep_until(deadline.into())
    }
}

/// smol's multi-threaded setup: one `async_executor::Executor` run by
/// `workers` std threads. Dropping it stops and joins the threads, then drops
/// the executor (and with it the tasks still pending).
struct Smol {
    ex: Arc<Executor<'static>>,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Drop for Smol {
    fn drop(&mut self) {
        self.stops.clear();
        for t in self.threads.drain(..) {
            t.join().expect("smol worker");
        }
    }
}

impl Rt for Smol {
    const NAME: &'static str = "smol";

    fn new(workers: usize) -> Self {
        let ex = Arc::new(Executor::new());
        let mut stops = Vec::new();
        let mut threads = Vec::new();
        for i in 0..workers {
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let ex = ex.clone();
            let t = thread::Builder::new()
                .name(format!("smol-worker-{i}"))
                .spawn(move || {
                    async_io::block_on(ex.run(async {
                        let _ = stop_rx.await;
                    }));
                })
                .expect("spawn smol worker");
            stops.push(stop_tx);
            threads.push(t);
        }
        Smol { ex, stops, threads }
    }

    fn run_all<T, F>(&self, n: usize, task: impl Fn(usize) -> F) -> Vec<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let tasks: Vec<_> = (0..n).map(|i| self.ex.spawn(task(i))).collect();
        async_io::block_on(async {
            let mut out = Vec::with_capacity(n);
            for t in tasks {
                out.push(t.await);
            }
            out
        })
    }

    fn spawn_detached<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.ex.spawn(fut).detach();
    }

    fn sleep(d: Duration) -> impl Future + Send + 'static {
        Timer::after(d)
    }

    fn sleep_until(deadline: Instant) -> impl Future + Send + 'static {
        Timer::at(deadline)
    }
}

// ---------------------------------------------------------------------------
// Lateness
// ---------------------------------------------------------------------------

/// One task's sleeps: the lateness of each, in signed nanoseconds.
async fn lateness_task<R: Rt>(sleeps: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(sleeps);
    for _ in 0..sleeps {
        let deadline = Instant::now() + SLEEP;
        R::sleep_until(deadline).await;
        let woke = Instant::now();
        let ns = match woke.checked_duration_since(deadline) {
            Some(late) => late.as_nanos() as i64,
            None => -(deadline.duration_since(woke).as_nanos() as i64),
        };
        out.push(ns);
    }
    out
}

struct Lateness {
    name: &'static str,
    /// Sorted, nanoseconds.
    samples: Vec<i64>,
}

impl Lateness {
    fn early(&self) -> usize {
        self.samples.iter().filter(|&&ns| ns < 0).count()
    }

    /// Nearest-rank percentile, in microseconds.
    fn percentile_us(&self, p: f64) -> f64 {
        let n = self.samples.len();
        let rank = ((p / 100.0) * n as f64).ceil().max(1.0) as usize;
        self.samples[rank.min(n) - 1] as f64 / 1000.0
    }

    fn max_us(&self) -> f64 {
        *self.samples.last().expect("samples") as f64 / 1000.0
    }
}

fn measure_lateness<R: Rt>(workers: usize) -> Lateness {
    let rt = R::new(workers);
    // Warm up: start the workers and the timer machinery.
    rt.run_all(workers * 4, |_| lateness_task::<R>(10));
    let mut samples: Vec<i64> = rt
        .run_all(LATENESS_TASKS, |_| lateness_task::<R>(SLEEPS_PER_TASK))
        .into_iter()
        .flatten()
        .collect();
    drop(rt);
    samples.sort_unstable();
    Lateness {
        name: R::NAME,
        samples,
    }
}

// ---------------------------------------------------------------------------
// Memory per sleeping task
// ---------------------------------------------------------------------------

/// Registers a one-hour sleep (polls it once), counts itself in `polled`,
/// then waits on it until the runtime is dropped.
async fn sleeping_task<R: Rt>(polled: Arc<AtomicUsize>) {
    let mut sleep = pin!(R::sleep(HOUR));
    assert!(poll_once(sleep.as_mut()).await.is_none(), "an hour went by");
    polled.fetch_add(1, Ordering::Relaxed);
    sleep.await;
}

/// Waits until `polled` reaches `n` (every task has registered its sleep),
/// then lets the workers settle.
fn wait_polled(polled: &AtomicUsize, n: usize) {
    let start = Instant::now();
    while polled.load(Ordering::Relaxed) < n {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "only {} of {n} tasks registered a sleep within 120 s",
            polled.load(Ordering::Relaxed)
        );
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(Duration::from_millis(200));
}

struct Memory {
    name: &'static str,
    before: usize,
    after: usize,
}

impl Memory {
    fn per_task(&self, n: usize) -> f64 {
        self.after.saturating_sub(self.before) as f64 / n as f64
    }
}

fn measure_memory<R: Rt>(n: usize, workers: usize) -> Memory {
    let rt = R::new(workers);
    // Warm up: start the workers and touch the timers' lazily built state.
    rt.run_all(workers * 4, |_| async {
        R::sleep(Duration::from_millis(1)).await;
    });
    let polled = Arc::new(AtomicUsize::new(0));
    let before = rss_bytes();
    for _ in 0..n {
        rt.spawn_detached(sleeping_task::<R>(polled.clone()));
    }
    wait_polled(&polled, n);
    let after = rss_bytes();
    drop(rt);
    Memory {
        name: R::NAME,
        before,
        after,
    }
}

fn ratio(x: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:.2}", x / base)
    } else {
        "n/a".to_string()
    }
}

fn main() {
    let workers = workers();
    let n = mem_tasks();
    println!(
        "lateness: {LATENESS_TASKS} tasks x {SLEEPS_PER_TASK} sequential sleeps of {SLEEP:?}, \
         worker threads: {workers}"
    );
    println!();

    let mut lateness = Vec::new();
    for measure in [
        measure_lateness::<Heist>,
        measure_lateness::<Tokio>,
        measure_lateness::<Smol>,
    ] {
        release_free_memory();
        let l = measure(workers);
        eprintln!(
            "{}: {} sleeps, lateness min {:.1} us, median {:.1} us",
            l.name,
            l.samples.len(),
            l.samples[0] as f64 / 1000.0,
            l.percentile_us(50.0)
        );
        lateness.push(l);
    }

    let base = &lateness[0];
    let (base_med, base_p99, base_max) = (base.percentile_us(50.0), base.percentile_us(99.0), base.max_us());
    println!(
        "| runtime | sleeps | early | median (µs) | p99 (µs) | max (µs) | median vs heist | p99 vs heist | max vs heist |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for l in &lateness {
        let (med, p99, max) = (l.percentile_us(50.0), l.percentile_us(99.0), l.max_us());
        println!(
            "| {} | {} | {} | {med:.1} | {p99:.1} | {max:.1} | {} | {} | {} |",
            l.name,
            l.samples.len(),
            l.early(),
            ratio(med, base_med),
            ratio(p99, base_p99),
            ratio(max, base_max)
        );
    }
    println!();

    println!("memory: {n} tasks each sleeping {HOUR:?}, worker threads: {workers}");
    println!();
    let mut memory = Vec::new();
    for measure in [
        measure_memory::<Heist>,
        measure_memory::<Tokio>,
        measure_memory::<Smol>,
    ] {
        release_free_memory();
        let m = measure(n, workers);
        eprintln!(
            "{}: VmRSS {:.1} MiB -> {:.1} MiB",
            m.name,
            m.before as f64 / (1024.0 * 1024.0),
            m.after as f64 / (1024.0 * 1024.0)
        );
        memory.push(m);
    }

    let base = memory[0].per_task(n);
    println!("| runtime | bytes per sleeping task | ratio vs heist |");
    println!("| --- | ---: | ---: |");
    for m in &memory {
        let per = m.per_task(n);
        println!("| {} | {per:.1} | {} |", m.name, ratio(per, base));
    }
}

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

mod common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use async_io::Timer;

use common::{Measurement, Smol, WORKERS, env_usize, parked_sleeper, ratio, wait_polled};

const DEFAULT_MEM_TASKS: usize = 1_000_000;

const LATENESS_TASKS: usize = 100;
const SLEEPS_PER_TASK: usize = 100;
const SLEEP: Duration = Duration::from_millis(1);
const HOUR: Duration = Duration::from_secs(3600);

fn mem_tasks() -> usize {
    env_usize("HEIST_MEM_TASKS")
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_MEM_TASKS)
}

// ---------------------------------------------------------------------------
// Runtimes
// ---------------------------------------------------------------------------

/// The three runtimes behind one interface: spawn a future, and block on
/// all the spawned futures' outputs.
trait Rt: Sized + 'static {
    const NAME: &'static str;
    fn new() -> Self;
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

    fn new() -> Self {
        Heist(common::heist_rt())
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

    fn new() -> Self {
        Tokio(common::tokio_rt())
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

impl Rt for Smol {
    const NAME: &'static str = "smol";

    fn new() -> Self {
        // The inherent `Smol::new`, not this trait function.
        Smol::new()
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

fn measure_lateness<R: Rt>() -> Lateness {
    let rt = R::new();
    // Warm up: start the workers and the timer machinery.
    rt.run_all(*WORKERS * 4, |_| lateness_task::<R>(10));
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
    parked_sleeper(|| R::sleep(HOUR), polled).await;
}

fn measure_memory<R: Rt>(n: usize) -> Measurement {
    let rt = R::new();
    // Warm up: start the workers and touch the timers' lazily built state.
    rt.run_all(*WORKERS * 4, |_| async {
        R::sleep(Duration::from_millis(1)).await;
    });
    let polled = Arc::new(AtomicUsize::new(0));
    let before = common::rss_bytes();
    for _ in 0..n {
        rt.spawn_detached(sleeping_task::<R>(polled.clone()));
    }
    wait_polled(&polled, n, "tasks registered a sleep");
    let after = common::rss_bytes();
    drop(rt);
    Measurement {
        name: R::NAME,
        before,
        after,
    }
}

fn main() {
    let workers = *WORKERS;
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
        common::release_free_memory();
        let l = measure();
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
    let memory = common::measure_each(
        n,
        [
            measure_memory::<Heist>,
            measure_memory::<Tokio>,
            measure_memory::<Smol>,
        ],
    );
    common::print_memory_table(&memory, n, "sleeping task");
}

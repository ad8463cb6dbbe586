//! Bytes of memory per pending task, for heist, tokio and smol.
//!
//! For each runtime in turn (one runtime alive at a time, all in this
//! process): build it with the same worker count, warm it up, read VmRSS from
//! `/proc/self/status`, spawn N tasks that each bump a counter and then wait
//! forever (`std::future::pending`), wait until every task has been polled
//! once, read VmRSS again. The growth divided by N is the cost of one pending
//! task: the task's allocation (header + future + output slot), whatever the
//! scheduler keeps per task, and allocator overhead. Then the runtime is
//! dropped (which cancels the tasks) before the next one is built.
//!
//! N is the first command-line argument that parses as a number, else
//! `HEIST_MEM_TASKS`, else 1_000_000. Workers: `HEIST_BENCH_WORKERS`, else 2.
//!
//! Run: `cargo bench --bench task_memory` (quick: `HEIST_MEM_TASKS=100000`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use async_executor::Executor;

const DEFAULT_TASKS: usize = 1_000_000;
const DEFAULT_WORKERS: usize = 2;

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.trim().replace('_', "").parse().ok()
}

fn task_count() -> usize {
    // `cargo bench` passes `--bench` (and maybe filters) to harness = false
    // targets: take the first argument that is a number.
    std::env::args()
        .skip(1)
        .find_map(|a| a.replace('_', "").parse().ok())
        .or_else(|| env_usize("HEIST_MEM_TASKS"))
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_TASKS)
}

fn workers() -> usize {
    env_usize("HEIST_BENCH_WORKERS")
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_WORKERS)
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

/// The pending task every runtime runs: count one poll, then never finish.
async fn pending_task(polled: Arc<AtomicUsize>) {
    polled.fetch_add(1, Ordering::Relaxed);
    std::future::pending::<()>().await;
}

/// Waits until `polled` reaches `n` (every task has run to its first
/// `Pending`), then lets the workers settle.
fn wait_polled(polled: &AtomicUsize, n: usize) {
    let start = Instant::now();
    while polled.load(Ordering::Relaxed) < n {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "only {} of {n} tasks were polled within 120 s",
            polled.load(Ordering::Relaxed)
        );
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(Duration::from_millis(200));
}

struct Measurement {
    name: &'static str,
    before: usize,
    after: usize,
}

impl Measurement {
    fn per_task(&self, n: usize) -> f64 {
        self.after.saturating_sub(self.before) as f64 / n as f64
    }
}

fn measure_heist(n: usize, workers: usize) -> Measurement {
    let rt = heist::runtime::Builder::new()
        .worker_threads(workers)
        .build()
        .expect("build heist runtime");
    // Warm up: start the workers and touch the scheduler's lazily built state.
    rt.block_on(async {
        for _ in 0..workers * 4 {
            heist::spawn(async {}).await.unwrap();
        }
    });
    let polled = Arc::new(AtomicUsize::new(0));
    let before = rss_bytes();
    for _ in 0..n {
        drop(rt.spawn(pending_task(polled.clone())));
    }
    wait_polled(&polled, n);
    let after = rss_bytes();
    drop(rt);
    Measurement {
        name: "heist",
        before,
        after,
    }
}

fn measure_tokio(n: usize, workers: usize) -> Measurement {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .expect("build tokio runtime");
    rt.block_on(async {
        for _ in 0..workers * 4 {
            tokio::spawn(async {}).await.unwrap();
        }
    });
    let polled = Arc::new(AtomicUsize::new(0));
    let before = rss_bytes();
    for _ in 0..n {
        drop(rt.spawn(pending_task(polled.clone())));
    }
    wait_polled(&polled, n);
    let after = rss_bytes();
    drop(rt);
    Measurement {
        name: "tokio",
        before,
        after,
    }
}

fn measure_smol(n: usize, workers: usize) -> Measurement {
    let ex: Arc<Executor<'static>> = Arc::new(Executor::new());
    let mut stops = Vec::new();
    let mut threads = Vec::new();
    for _ in 0..workers {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let ex = ex.clone();
        threads.push(thread::spawn(move || {
            async_io::block_on(ex.run(async {
                let _ = stop_rx.await;
            }))
        }));
        stops.push(stop_tx);
    }
    async_io::block_on(async {
        for _ in 0..workers * 4 {
            ex.spawn(async {}).await;
        }
    });
    let polled = Arc::new(AtomicUsize::new(0));
    let before = rss_bytes();
    for _ in 0..n {
        ex.spawn(pending_task(polled.clone())).detach();
    }
    wait_polled(&polled, n);
    let after = rss_bytes();
    drop(stops);
    for t in threads {
        t.join().expect("smol worker");
    }
    drop(ex);
    Measurement {
        name: "smol",
        before,
        after,
    }
}

fn main() {
    let n = task_count();
    let workers = workers();
    println!("pending tasks: {n}, worker threads: {workers}");
    println!();

    let mut results = Vec::new();
    for measure in [measure_heist, measure_tokio, measure_smol] {
        release_free_memory();
        let m = measure(n, workers);
        eprintln!(
            "{}: VmRSS {:.1} MiB -> {:.1} MiB",
            m.name,
            m.before as f64 / (1024.0 * 1024.0),
            m.after as f64 / (1024.0 * 1024.0)
        );
        results.push(m);
    }

    let heist = results[0].per_task(n);
    println!("| runtime | bytes per pending task | ratio vs heist |");
    println!("| --- | ---: | ---: |");
    for m in &results {
        let per = m.per_task(n);
        let ratio = if heist > 0.0 { per / heist } else { f64::NAN };
        println!("| {} | {per:.1} | {ratio:.2} |", m.name);
    }
}

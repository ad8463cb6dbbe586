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

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Measurement, Smol, WORKERS, env_usize, heist_rt, tokio_rt, wait_polled};

const DEFAULT_TASKS: usize = 1_000_000;

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

/// The pending task every runtime runs: count one poll, then never finish.
async fn pending_task(polled: Arc<AtomicUsize>) {
    polled.fetch_add(1, Ordering::Relaxed);
    std::future::pending::<()>().await;
}

/// What `wait_polled` reports if the tasks are not all polled in time.
const POLLED: &str = "tasks were polled";

fn measure_heist(n: usize) -> Measurement {
    let rt = heist_rt();
    // Warm up: start the workers and touch the scheduler's lazily built state.
    rt.block_on(async {
        for _ in 0..*WORKERS * 4 {
            heist::spawn(async {}).await.unwrap();
        }
    });
    let polled = Arc::new(AtomicUsize::new(0));
    let before = common::rss_bytes();
    for _ in 0..n {
        drop(rt.spawn(pending_task(polled.clone())));
    }
    wait_polled(&polled, n, POLLED);
    let after = common::rss_bytes();
    drop(rt);
    Measurement {
        name: "heist",
        before,
        after,
    }
}

fn measure_tokio(n: usize) -> Measurement {
    let rt = tokio_rt();
    rt.block_on(async {
        for _ in 0..*WORKERS * 4 {
            tokio::spawn(async {}).await.unwrap();
        }
    });
    let polled = Arc::new(AtomicUsize::new(0));
    let before = common::rss_bytes();
    for _ in 0..n {
        drop(rt.spawn(pending_task(polled.clone())));
    }
    wait_polled(&polled, n, POLLED);
    let after = common::rss_bytes();
    drop(rt);
    Measurement {
        name: "tokio",
        before,
        after,
    }
}

fn measure_smol(n: usize) -> Measurement {
    let smol = Smol::new();
    async_io::block_on(async {
        for _ in 0..*WORKERS * 4 {
            smol.ex.spawn(async {}).await;
        }
    });
    let polled = Arc::new(AtomicUsize::new(0));
    let before = common::rss_bytes();
    for _ in 0..n {
        smol.ex.spawn(pending_task(polled.clone())).detach();
    }
    wait_polled(&polled, n, POLLED);
    let after = common::rss_bytes();
    drop(smol);
    Measurement {
        name: "smol",
        before,
        after,
    }
}

fn main() {
    let n = task_count();
    println!("pending tasks: {n}, worker threads: {}", *WORKERS);
    println!();

    let results = common::measure_each(n, [measure_heist, measure_tokio, measure_smol]);
    common::print_memory_table(&results, n, "pending task");
}

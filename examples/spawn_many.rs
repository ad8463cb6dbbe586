//! Spawn a million tiny tasks and report throughput and scheduler metrics.
//!
//! ```text
//! cargo run --release --example spawn_many                  # one worker per core
//! cargo run --release --example spawn_many -- --workers 4
//! cargo run --release --example spawn_many -- --tasks 200000 --batch 5000
//! ```
//!
//! A root task spawns the tasks in batches of `--batch` (default 10_000) and
//! awaits each batch's handles before spawning the next, so spawns land on
//! the spawning worker's local queue and the other workers have to steal.

use std::process::ExitCode;
use std::time::Instant;

struct Args {
    /// `None`: the runtime's default (one worker per core, or `HEIST_WORKER_THREADS`).
    workers: Option<usize>,
    tasks: usize,
    batch: usize,
}

const USAGE: &str = "usage: spawn_many [--workers N] [--tasks N] [--batch N]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        workers: None,
        tasks: 1_000_000,
        batch: 10_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut workers = 0;
        let slot = match flag.as_str() {
            "--workers" => &mut workers,
            "--tasks" => &mut args.tasks,
            "--batch" => &mut args.batch,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        };
        let value = it
            .next()
            .ok_or_else(|| format!("`{flag}` needs a value\n{USAGE}"))?;
        *slot = value
            .replace('_', "")
            .parse()
            .ok()
            .filter(|&n: &usize| n > 0)
            .ok_or_else(|| format!("`{flag}` wants a positive number, got `{value}`"))?;
        if workers > 0 {
            args.workers = Some(workers);
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::FAILURE;
        }
    };

    let mut builder = heist::runtime::Builder::new();
    if let Some(n) = args.workers {
        builder.worker_threads(n);
    }
    let rt = builder.build().expect("build the heist runtime");
    let metrics = rt.metrics();

    let (tasks, batch) = (args.tasks, args.batch);
    let start = Instant::now();
    let sum = rt.block_on(async move {
        // The spawning happens inside a task on a worker, not on this thread.
        let root = heist::spawn(async move {
            let mut sum = 0u64;
            let mut handles = Vec::with_capacity(batch);
            let mut spawned = 0;
            while spawned < tasks {
                let this_batch = batch.min(tasks - spawned);
                handles.extend(
                    (spawned..spawned + this_batch)
                        .map(|i| heist::spawn(async move { std::hint::black_box(i as u64) })),
                );
                for h in handles.drain(..) {
                    sum += h.await.expect("task panicked");
                }
                spawned += this_batch;
            }
            sum
        });
        root.await.expect("root task panicked")
    });
    let elapsed = start.elapsed();

    let expected = (tasks as u64) * (tasks as u64 - 1) / 2;
    assert_eq!(sum, expected, "every task's output was received");

    println!(
        "{tasks} tasks in batches of {batch} on {} workers: {:.3} s, {:.0} tasks/s",
        metrics.num_workers(),
        elapsed.as_secs_f64(),
        tasks as f64 / elapsed.as_secs_f64()
    );

    println!(
        "tasks spawned: {}, still alive: {}",
        metrics.spawned_tasks(),
        metrics.alive_tasks()
    );
    println!();
    println!("| worker | polls | steals | parks |");
    println!("| ---: | ---: | ---: | ---: |");
    let (mut polls, mut steals, mut parks) = (0u64, 0u64, 0u64);
    for w in 0..metrics.num_workers() {
        let (p, s, k) = (
            metrics.worker_poll_count(w),
            metrics.worker_steal_count(w),
            metrics.worker_park_count(w),
        );
        polls += p;
        steals += s;
        parks += k;
        println!("| {w} | {p} | {s} | {k} |");
    }
    println!("| all | {polls} | {steals} | {parks} |");
    ExitCode::SUCCESS
}

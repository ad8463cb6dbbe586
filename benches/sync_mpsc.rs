//! mpsc channels: heist's (`heist::sync::mpsc`: the bounded one on async-channel, the unbounded
//! one heist's own) against tokio's, each on its own runtime with the same number of worker
//! threads (`HEIST_BENCH_WORKERS`, default 2).
//!
//! One iteration: a task spawns 5 sender tasks that send 1_000 messages each, then receives
//! all 5_000 on the same channel (checking each sender's order) and signals the bench thread.
//! Everything runs on the runtime's workers. Workloads:
//!
//! - `mpsc_bounded_cap100`: `channel(100)`, so the senders wait for room most of the time;
//! - `mpsc_bounded_cap1000`: `channel(1000)`;
//! - `mpsc_unbounded`: `unbounded_channel()`.
//!
//! Each is a criterion group with the functions `heist` and `tokio`; the throughput is in
//! messages.
//!
//! Criterion runs one function after the other, so on a busy machine a change of load between
//! them skews the comparison. After the groups, the bench therefore also runs the workloads in
//! alternating blocks (heist, tokio, heist, tokio..., `SYNC_MPSC_ROUNDS` rounds of
//! `SYNC_MPSC_BLOCK` iterations each, a fresh runtime per block, only one runtime alive at a
//! time) and prints a table of the median block's time per iteration, with the ratio
//! tokio / heist (above 1: heist is faster).
//!
//! Run: `cargo bench --bench sync_mpsc`; `-- mpsc_unbounded` runs one group and no table,
//! `-- summary` only the table.

mod common;

use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use criterion::Criterion;

use common::{configure, env_usize, heist_rt, ratio, tokio_rt};

/// Criterion samples per workload.
const SAMPLE_SIZE: usize = 30;

const SENDERS: usize = 5;
const PER_SENDER: usize = 1_000;
const MESSAGES: usize = SENDERS * PER_SENDER;

/// Alternating rounds for the summary table, and iterations per block.
const DEFAULT_ROUNDS: usize = 10;
const DEFAULT_BLOCK: usize = 100;

#[derive(Clone, Copy)]
enum Workload {
    Bounded(usize),
    Unbounded,
}

impl Workload {
    const ALL: [Workload; 3] = [
        Workload::Bounded(100),
        Workload::Bounded(1000),
        Workload::Unbounded,
    ];

    fn name(self) -> String {
        match self {
            Workload::Bounded(cap) => format!("mpsc_bounded_cap{cap}"),
            Workload::Unbounded => "mpsc_unbounded".to_string(),
        }
    }
}

/// Checks what the receiver got: every message, each sender's in order.
struct Tally {
    next: [usize; SENDERS],
    count: usize,
}

impl Tally {
    fn new() -> Self {
        Tally {
            next: [0; SENDERS],
            count: 0,
        }
    }

    fn add(&mut self, (sender, i): (usize, usize)) {
        assert_eq!(i, self.next[sender], "sender {sender}'s messages out of order");
        self.next[sender] += 1;
        self.count += 1;
    }

    fn finish(self, done: &std_mpsc::SyncSender<()>) {
        assert_eq!(self.count, MESSAGES);
        done.send(()).expect("the bench thread waits for the signal");
    }
}

/// One iteration on heist: spawns the receiving task (which spawns the senders) and waits for
/// its signal.
fn heist_iter(rt: &heist::Runtime, workload: Workload) {
    let (done, finished) = std_mpsc::sync_channel(1);
    match workload {
        Workload::Bounded(cap) => drop(rt.spawn(async move {
            let (tx, mut rx) = heist::sync::mpsc::channel(cap);
            for s in 0..SENDERS {
                let tx = tx.clone();
                drop(heist::spawn(async move {
                    for i in 0..PER_SENDER {
                        tx.send((s, i)).await.unwrap();
                    }
                }));
            }
            drop(tx);
            let mut tally = Tally::new();
            while let Some(m) = rx.recv().await {
                tally.add(m);
            }
            tally.finish(&done);
        })),
        Workload::Unbounded => drop(rt.spawn(async move {
            let (tx, mut rx) = heist::sync::mpsc::unbounded_channel();
            for s in 0..SENDERS {
                let tx = tx.clone();
                drop(heist::spawn(async move {
                    for i in 0..PER_SENDER {
                        tx.send((s, i)).unwrap();
                    }
                }));
            }
            drop(tx);
            let mut tally = Tally::new();
            while let Some(m) = rx.recv().await {
                tally.add(m);
            }
            tally.finish(&done);
        })),
    }
    finished.recv().unwrap();
}

/// [`heist_iter`] with tokio's channels on a tokio runtime.
fn tokio_iter(rt: &tokio::runtime::Runtime, workload: Workload) {
    let (done, finished) = std_mpsc::sync_channel(1);
    match workload {
        Workload::Bounded(cap) => drop(rt.spawn(async move {
            let (tx, mut rx) = tokio::sync::mpsc::channel(cap);
            for s in 0..SENDERS {
                let tx = tx.clone();
                drop(tokio::spawn(async move {
                    for i in 0..PER_SENDER {
                        tx.send((s, i)).await.unwrap();
                    }
                }));
            }
            drop(tx);
            let mut tally = Tally::new();
            while let Some(m) = rx.recv().await {
                tally.add(m);
            }
            tally.finish(&done);
        })),
        Workload::Unbounded => drop(rt.spawn(async move {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            for s in 0..SENDERS {
                let tx = tx.clone();
                drop(tokio::spawn(async move {
                    for i in 0..PER_SENDER {
                        tx.send((s, i)).unwrap();
                    }
                }));
            }
            drop(tx);
            let mut tally = Tally::new();
            while let Some(m) = rx.recv().await {
                tally.add(m);
            }
            tally.finish(&done);
        })),
    }
    finished.recv().unwrap();
}

fn criterion_groups(c: &mut Criterion) {
    for workload in Workload::ALL {
        let mut g = configure(c, &workload.name(), MESSAGES, SAMPLE_SIZE);
        {
            let rt = heist_rt();
            g.bench_function("heist", |b| b.iter(|| heist_iter(&rt, workload)));
        }
        {
            let rt = tokio_rt();
            g.bench_function("tokio", |b| b.iter(|| tokio_iter(&rt, workload)));
        }
        g.finish();
    }
}

/// Time per iteration of one block of `block` iterations on a fresh runtime (after one
/// warm-up iteration).
fn block_time(heist: bool, workload: Workload, block: usize) -> Duration {
    if heist {
        let rt = heist_rt();
        heist_iter(&rt, workload);
        let start = Instant::now();
        for _ in 0..block {
            heist_iter(&rt, workload);
        }
        start.elapsed() / block as u32
    } else {
        let rt = tokio_rt();
        tokio_iter(&rt, workload);
        let start = Instant::now();
        for _ in 0..block {
            tokio_iter(&rt, workload);
        }
        start.elapsed() / block as u32
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The alternating-blocks table (see the module docs).
fn summary_table() {
    let rounds = env_usize("SYNC_MPSC_ROUNDS")
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_ROUNDS);
    let block = env_usize("SYNC_MPSC_BLOCK")
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_BLOCK);
    println!();
    println!(
        "{SENDERS} senders x {PER_SENDER} messages, {} workers; median of {rounds} alternating blocks \
         of {block} iterations:",
        *common::WORKERS
    );
    println!("| workload | heist µs/iter | tokio µs/iter | heist Mmsg/s | tokio Mmsg/s | tokio / heist |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for workload in Workload::ALL {
        let (mut heist, mut tokio) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            heist.push(block_time(true, workload, block));
            tokio.push(block_time(false, workload, block));
        }
        let (h, t) = (median(heist).as_secs_f64(), median(tokio).as_secs_f64());
        println!(
            "| {} | {:.0} | {:.0} | {:.2} | {:.2} | {} |",
            workload.name(),
            h * 1e6,
            t * 1e6,
            MESSAGES as f64 / h / 1e6,
            MESSAGES as f64 / t / 1e6,
            ratio(t, h)
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    criterion_groups(&mut c);
    c.final_summary();
    // The table comes with a full run or `-- summary` (which matches no group). Under
    // `cargo test --benches` (no `--bench` argument) criterion runs each function once and
    // the table is skipped.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let benching = args.iter().any(|a| a == "--bench");
    if benching && (filters.is_empty() || filters.iter().any(|f| *f == "summary")) {
        summary_table();
    }
}

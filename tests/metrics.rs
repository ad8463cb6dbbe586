//! Runtime metrics sanity.

mod common;

use common::{eventually, run_with_timeout, runtime, spawn_and_sum};
use heist::Runtime;
use heist::task::JoinHandle;
use tokio::sync::oneshot;

fn total_polls(rt: &Runtime) -> u64 {
    let m = rt.metrics();
    (0..m.num_workers()).map(|i| m.worker_poll_count(i)).sum()
}

fn queues_empty(rt: &Runtime) -> bool {
    let m = rt.metrics();
    m.injection_queue_depth() == 0 && (0..m.num_workers()).all(|i| m.worker_local_queue_depth(i) == 0)
}

#[test]
fn num_workers_matches_builder() {
    for workers in [1, 2, 3, 4] {
        let rt = runtime(workers);
        assert_eq!(rt.metrics().num_workers(), workers);
        assert_eq!(rt.handle().metrics().num_workers(), workers);
        let from_task = rt
            .block_on(rt.spawn(async { heist::runtime::Handle::current().metrics().num_workers() }))
            .expect("task failed");
        assert_eq!(from_task, workers);
    }
}

#[test]
fn metrics_after_spawning_and_awaiting_tasks() {
    const N: usize = 1_000;
    const PENDING: usize = 7;
    run_with_timeout("metrics_sanity", || {
        let rt = runtime(2);
        let m = rt.metrics();
        assert_eq!(m.num_workers(), 2);
        assert_eq!(m.alive_tasks(), 0, "a fresh runtime has no tasks");
        assert_eq!(m.spawned_tasks(), 0, "a fresh runtime has spawned nothing");
        assert_eq!(m.num_blocking_threads(), 0, "no blocking work yet");
        assert_eq!(m.blocking_queue_depth(), 0);
        for i in 0..m.num_workers() {
            // Must be valid for every worker index.
            let _ = m.worker_steal_count(i);
            let _ = m.worker_park_count(i);
            let _ = m.worker_local_queue_depth(i);
        }

        // PENDING tasks that stay alive until released.
        let mut gates = Vec::new();
        let mut pending: Vec<JoinHandle<u32>> = Vec::new();
        for i in 0..PENDING as u32 {
            let (tx, rx) = oneshot::channel::<u32>();
            gates.push(tx);
            pending.push(rt.spawn(async move { rx.await.unwrap() + i }));
        }

        // N tasks, spawned and awaited.
        let sum = rt.block_on(spawn_and_sum(N as u64, 1)) as usize;
        assert_eq!(sum, (0..N).sum::<usize>());

        let spawned = rt.metrics().spawned_tasks();
        assert!(
            spawned >= (N + PENDING) as u64,
            "spawned_tasks() = {spawned}, expected at least {}",
            N + PENDING
        );
        eventually("sum of worker_poll_count >= N", || total_polls(&rt) >= N as u64);
        eventually("alive_tasks() == number of still-pending tasks", || {
            rt.metrics().alive_tasks() == PENDING
        });

        // Release the pending tasks; nothing is alive afterwards.
        for (i, gate) in gates.into_iter().enumerate() {
            gate.send(i as u32).expect("a pending task went away");
        }
        let released = rt.block_on(async {
            let mut sum = 0;
            for h in pending {
                sum += h.await.expect("pending task failed");
            }
            sum
        });
        assert_eq!(released, (0..PENDING as u32).map(|i| 2 * i).sum::<u32>());
        eventually("alive_tasks() == 0 once every task finished", || {
            rt.metrics().alive_tasks() == 0
        });
        eventually("all run queues empty once idle", || queues_empty(&rt));

        // Counters are monotonic.
        assert!(rt.metrics().spawned_tasks() >= spawned);
        eventually("every task was polled at least once", || {
            total_polls(&rt) >= (N + PENDING) as u64
        });
    });
}

//! Spawning: many tasks, nested spawns.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{run_with_timeout, runtime};
use heist::task::JoinHandle;

const N: u64 = 100_000;

/// Sum of `0..N`.
const fn expected_sum() -> u64 {
    N * (N - 1) / 2
}

#[test]
fn spawn_100_000_tasks_from_block_on_and_sum_results() {
    let sum = run_with_timeout("spawn_100_000_from_block_on", || {
        let rt = runtime(4);
        rt.block_on(async {
            let handles: Vec<JoinHandle<u64>> = (0..N)
                .map(|i| {
                    heist::spawn(async move {
                        // Half of the tasks are rescheduled once.
                        if i % 2 == 0 {
                            heist::task::yield_now().await;
                        }
                        i
                    })
                })
                .collect();
            let mut sum = 0u64;
            let mut count = 0u64;
            for h in handles {
                sum += h.await.expect("task failed");
                count += 1;
            }
            assert_eq!(count, N);
            sum
        })
    });
    assert_eq!(sum, expected_sum());
}

#[test]
fn spawn_100_000_tasks_from_a_worker_and_sum_results() {
    // Spawning from inside a task exercises the workers' local queues (and
    // their overflow), rather than the injection queue.
    let sum = run_with_timeout("spawn_100_000_from_worker", || {
        let rt = runtime(2);
        let outer = rt.spawn(async {
            let handles: Vec<JoinHandle<u64>> =
                (0..N).map(|i| heist::task::spawn(async move { i })).collect();
            let mut sum = 0u64;
            for h in handles {
                sum += h.await.expect("task failed");
            }
            sum
        });
        rt.block_on(outer).expect("outer task failed")
    });
    assert_eq!(sum, expected_sum());
}

/// Spawns a chain of tasks `depth` deep; every level adds one.
fn chain(depth: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move {
        assert!(
            heist::runtime::Handle::try_current().is_ok(),
            "a spawned task at depth {depth} has no runtime context"
        );
        if depth == 0 {
            return 0;
        }
        heist::spawn(chain(depth - 1)).await.expect("nested task failed") + 1
    })
}

/// Spawns a binary tree of tasks `depth` deep; returns the number of leaves.
fn tree(depth: u32, spawned: Arc<AtomicUsize>) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move {
        spawned.fetch_add(1, Ordering::SeqCst);
        if depth == 0 {
            heist::task::yield_now().await;
            return 1;
        }
        let left = heist::spawn(tree(depth - 1, spawned.clone()));
        let right = heist::task::spawn(tree(depth - 1, spawned.clone()));
        left.await.expect("left subtree failed") + right.await.expect("right subtree failed")
    })
}

#[test]
fn nested_spawns_5_deep() {
    let (depth, leaves, spawned) = run_with_timeout("nested_spawns_5_deep", || {
        let rt = runtime(2);
        // Level 0 is spawned from outside, levels 1..=5 from inside tasks.
        let depth = rt.block_on(rt.spawn(chain(5))).expect("root task failed");
        let spawned = Arc::new(AtomicUsize::new(0));
        let leaves = rt
            .block_on(rt.spawn(tree(5, spawned.clone())))
            .expect("root task failed");
        (depth, leaves, spawned.load(Ordering::SeqCst))
    });
    assert_eq!(depth, 5);
    assert_eq!(leaves, 32, "a 5-deep binary tree has 2^5 leaves");
    assert_eq!(spawned, 63, "a 5-deep binary tree has 2^6 - 1 nodes");
}

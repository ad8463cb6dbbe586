//! JoinHandle: detaching (dropping) before and after completion.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use common::{DropCounter, WAIT, eventually, run_with_timeout, runtime};
use heist::task::{JoinError, JoinHandle};
use tokio::sync::oneshot;

#[test]
fn join_handle_is_an_unpin_send_future_of_result() {
    fn assert_join_handle<H, T>()
    where
        H: Future<Output = Result<T, JoinError>> + Unpin + Send + 'static,
    {
    }
    assert_join_handle::<JoinHandle<u32>, u32>();
    assert_join_handle::<JoinHandle<String>, String>();
}

#[test]
fn join_handle_dropped_before_completion_task_still_completes() {
    run_with_timeout("dropped_before_completion", || {
        let rt = runtime(2);

        // One task held back by a gate until after its handle is gone.
        let (gate_tx, gate_rx) = oneshot::channel::<u32>();
        let (done_tx, done_rx) = mpsc::channel();
        let handle = rt.spawn(async move {
            let v = gate_rx.await.expect("gate sender dropped");
            done_tx.send(v * 2).expect("test stopped listening");
            v
        });
        assert!(
            !handle.is_finished(),
            "the task cannot finish before the gate opens"
        );
        drop(handle);
        gate_tx
            .send(21)
            .expect("the detached task was dropped: detaching must not cancel");
        assert_eq!(
            done_rx
                .recv_timeout(WAIT)
                .expect("the detached task never ran to completion"),
            42
        );

        // Many tasks detached right after spawning, from outside and inside.
        let (tx, rx) = mpsc::channel();
        for i in 0..500u32 {
            let tx = tx.clone();
            drop(rt.spawn(async move {
                heist::task::yield_now().await;
                tx.send(i).unwrap();
            }));
        }
        let tx2 = tx.clone();
        drop(rt.spawn(async move {
            for i in 500..1_000u32 {
                let tx = tx2.clone();
                drop(heist::spawn(async move {
                    heist::task::yield_now().await;
                    tx.send(i).unwrap();
                }));
            }
        }));
        drop(tx);
        let mut seen = vec![false; 1_000];
        for _ in 0..1_000 {
            let i = rx.recv_timeout(WAIT).expect("a detached task never completed") as usize;
            assert!(!seen[i], "task {i} reported twice");
            seen[i] = true;
        }
    });
}

#[test]
fn join_handle_dropped_after_completion() {
    let output_drops = run_with_timeout("dropped_after_completion", || {
        let rt = runtime(2);
        let output_drops = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = mpsc::channel();
        let output = DropCounter(output_drops.clone());
        let handle = rt.spawn(async move {
            done_tx.send(()).unwrap();
            output
        });
        done_rx.recv_timeout(WAIT).expect("the task never ran");
        eventually("is_finished() after the task returned", || handle.is_finished());
        assert_eq!(
            output_drops.load(Ordering::SeqCst),
            0,
            "the task's output was dropped before anyone could take it"
        );
        drop(handle);
        // Nobody can take the output any more, so it must be released.
        eventually(
            "the output of a completed task is dropped with its JoinHandle",
            || output_drops.load(Ordering::SeqCst) == 1,
        );

        // The runtime is unaffected.
        assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
        drop(rt);
        output_drops.load(Ordering::SeqCst)
    });
    assert_eq!(output_drops, 1, "the output must be dropped exactly once");
}

#[test]
fn join_handle_can_be_awaited_off_the_runtime() {
    run_with_timeout("awaited_off_runtime", || {
        let rt = runtime(2);
        let (gate_tx, gate_rx) = oneshot::channel::<u32>();
        let handle = rt.spawn(async move { gate_rx.await.unwrap() + 1 });
        // Await it from a plain thread that is not part of any runtime.
        let waiter = std::thread::spawn(move || futures_lite::future::block_on(handle));
        gate_tx.send(41).unwrap();
        let result = waiter.join().expect("waiter thread panicked");
        assert_eq!(result.expect("task failed"), 42);
    });
}

#[test]
fn join_handle_drop_racing_completion_drops_each_output_once() {
    // Handles are dropped while the workers are completing their tasks, so
    // some are dropped before and some after completion; either way each
    // output is dropped exactly once and each future is dropped once.
    const TASKS: usize = 10_000;
    let (outputs, futures) = run_with_timeout("drop_racing_completion", || {
        let rt = runtime(2);
        let outputs = Arc::new(AtomicUsize::new(0));
        let futures = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = mpsc::channel::<()>();
        for _ in 0..TASKS {
            let outputs = outputs.clone();
            let fut = DropCounter(futures.clone());
            let done = done_tx.clone();
            drop(rt.spawn(async move {
                let _fut = fut;
                done.send(()).unwrap();
                DropCounter(outputs)
            }));
        }
        for _ in 0..TASKS {
            done_rx.recv_timeout(WAIT).expect("a detached task never ran");
        }
        drop(rt);
        (outputs.load(Ordering::SeqCst), futures.load(Ordering::SeqCst))
    });
    assert_eq!(futures, TASKS, "each task future must be dropped exactly once");
    assert_eq!(outputs, TASKS, "each task output must be dropped exactly once");
}

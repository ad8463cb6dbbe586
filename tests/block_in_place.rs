//! `heist::task::block_in_place`: the worker's core moves to another thread while the caller
//! blocks, so the worker's tasks, timers and I/O go on; anywhere else the closure just runs.
//!
//! A blocked wait that the hand-off should end is a `recv_timeout` with a generous limit: if
//! the hand-off is broken the test fails with a message instead of hanging.

use heist::runtime::{Builder, Handle, Runtime};
use heist::task::block_in_place;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::time::Duration;

/// Long enough to mean "never" for a wait that a running runtime ends in microseconds.
const NEVER: Duration = Duration::from_secs(20);

fn one_worker() -> Runtime {
    Builder::new().worker_threads(1).build().unwrap()
}

#[test]
fn a_one_worker_runtime_runs_its_other_tasks_while_one_blocks() {
    let runtime = one_worker();
    let received = runtime.block_on(async {
        heist::spawn(async {
            let (tx, rx) = mpsc::channel();
            // Spawned from the worker: it waits in the worker's own queue, behind this task.
            heist::spawn(async move { tx.send("from the other task").unwrap() });
            block_in_place(|| rx.recv_timeout(NEVER))
        })
        .await
        .unwrap()
    });
    assert_eq!(
        received,
        Ok("from the other task"),
        "the task queued behind the blocked one should run on the handed-off core"
    );
}

#[test]
fn timers_and_io_go_on_while_a_task_blocks() {
    let runtime = one_worker();
    let received = runtime.block_on(async {
        heist::spawn(async {
            let listener = heist::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (tx, rx) = mpsc::channel();
            heist::spawn(async move {
                heist::time::sleep(Duration::from_millis(1)).await;
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut byte = [0u8; 1];
                heist::io::AsyncReadExt::read_exact(&mut stream, &mut byte)
                    .await
                    .unwrap();
                tx.send(byte[0]).unwrap();
            });
            heist::spawn(async move {
                let mut stream = heist::net::TcpStream::connect(addr).await.unwrap();
                heist::io::AsyncWriteExt::write_all(&mut stream, &[7])
                    .await
                    .unwrap();
                // Held open until the byte is read.
                std::future::pending::<()>().await;
            });
            block_in_place(|| rx.recv_timeout(NEVER))
        })
        .await
        .unwrap()
    });
    assert_eq!(
        received,
        Ok(7),
        "a timer and a socket read should complete while the task blocks"
    );
}

#[test]
fn the_task_goes_on_after_the_closure_and_can_hand_off_again() {
    let runtime = Builder::new().worker_threads(2).build().unwrap();
    let total = runtime.block_on(async {
        let tasks: Vec<_> = (0..16)
            .map(|n| {
                heist::spawn(async move {
                    let mut sum = 0;
                    for round in 0..20 {
                        sum += block_in_place(|| n * round);
                        heist::task::yield_now().await;
                        // Spawns and wakes after a hand-off reach a worker.
                        sum += heist::spawn(async move { round }).await.unwrap();
                    }
                    sum
                })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        total
    });
    let rounds: usize = (0..20).sum();
    let expected: usize = (0..16).map(|n| n * rounds + rounds).sum();
    assert_eq!(total, expected);
}

#[test]
fn the_closure_may_block_on_the_runtime() {
    let runtime = one_worker();
    let output = runtime.block_on(async {
        heist::spawn(async {
            let handle = Handle::current();
            block_in_place(move || {
                handle.block_on(async {
                    heist::time::sleep(Duration::from_millis(1)).await;
                    heist::spawn(async { 5 }).await.unwrap()
                })
            })
        })
        .await
        .unwrap()
    });
    assert_eq!(output, 5);
}

#[test]
fn a_core_on_the_pool_leaves_spawn_blocking_its_threads() {
    // One blocking thread: if a handed-off core counted against it, the job below would
    // never get a thread, and the blocked task would wait for it for good.
    let runtime = Builder::new()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let output = runtime.block_on(async {
        heist::spawn(async {
            let (tx, rx) = mpsc::channel();
            heist::spawn(async move {
                let job = heist::spawn_blocking(|| 11).await.unwrap();
                tx.send(job).unwrap();
            });
            block_in_place(|| rx.recv_timeout(NEVER))
        })
        .await
        .unwrap()
    });
    assert_eq!(output, Ok(11));
}

#[test]
fn a_panic_in_the_closure_fails_only_its_task() {
    let runtime = one_worker();
    runtime.block_on(async {
        let failed = heist::spawn(async {
            block_in_place(|| panic!("the closure failed"));
        })
        .await
        .unwrap_err();
        assert!(failed.is_panic());
        // The worker's core survived it, wherever it runs now.
        assert_eq!(heist::spawn(async { 3 }).await.unwrap(), 3);
    });
}

#[test]
fn outside_a_worker_the_closure_just_runs() {
    assert_eq!(block_in_place(|| 1), 1, "outside any runtime");
    let runtime = Builder::new().worker_threads(1).build().unwrap();
    let in_block_on = runtime.block_on(async { block_in_place(|| 2) });
    assert_eq!(in_block_on, 2, "on a multi-thread runtime's block_on thread");
    let on_the_pool = runtime
        .block_on(runtime.spawn_blocking(|| block_in_place(|| 3)))
        .unwrap();
    assert_eq!(on_the_pool, 3, "on a blocking-pool thread");
}

#[test]
#[should_panic(expected = "block_in_place called on a current-thread runtime")]
fn a_current_thread_runtime_refuses_it() {
    let runtime = Builder::new_current_thread().build().unwrap();
    runtime.block_on(async { block_in_place(|| ()) });
}

#[test]
fn a_current_thread_task_is_refused_too() {
    let runtime = Builder::new_current_thread().build().unwrap();
    let error = runtime
        .block_on(runtime.spawn(async { block_in_place(|| ()) }))
        .unwrap_err();
    assert!(error.is_panic(), "{error}");
}

#[test]
fn dropping_the_runtime_does_not_wait_for_a_blocked_closure() {
    let runtime = one_worker();
    let (release, blocked) = mpsc::channel::<()>();
    let (entered_tx, entered) = mpsc::channel();
    let finished = Arc::new(AtomicUsize::new(0));
    let finished_in_task = finished.clone();
    runtime.spawn(async move {
        block_in_place(move || {
            entered_tx.send(()).unwrap();
            // Released only after the runtime is gone.
            let _ = blocked.recv();
        });
        finished_in_task.fetch_add(1, SeqCst);
    });
    entered
        .recv_timeout(NEVER)
        .expect("the task should reach block_in_place");
    // Would wait for `blocked` (and so forever) if the shutdown waited for the closure.
    drop(runtime);
    release.send(()).unwrap();
}

#[test]
fn a_runtime_dropped_inside_the_closure_shuts_down() {
    let runtime = Arc::new(std::sync::Mutex::new(Some(one_worker())));
    let in_task = runtime.clone();
    let (done_tx, done) = mpsc::channel();
    let guard = runtime.lock().unwrap();
    let handle = guard.as_ref().unwrap().handle().clone();
    drop(guard);
    handle.spawn(async move {
        block_in_place(|| {
            // The last owner drops it from inside the closure: the shutdown waits for the
            // worker's core, which runs on another thread, and not for this one.
            let taken = in_task.lock().unwrap().take();
            drop(taken);
            done_tx.send("shut down").unwrap();
        });
    });
    assert_eq!(
        done.recv_timeout(NEVER),
        Ok("shut down"),
        "the runtime's drop should return inside the closure"
    );
}

#[test]
fn a_handed_off_core_is_no_blocking_thread_in_the_metrics() {
    let runtime = one_worker();
    let metrics = runtime.metrics();
    let blocking_threads = runtime.block_on(async move {
        heist::spawn(async move {
            let (tx, rx) = mpsc::channel();
            heist::spawn(async move { tx.send(()).unwrap() });
            block_in_place(move || {
                // Received: the other task ran, so the core runs on a pool thread now (this
                // thread is blocked, and the runtime has one worker).
                rx.recv_timeout(NEVER).unwrap();
                metrics.num_blocking_threads()
            })
        })
        .await
        .unwrap()
    });
    assert_eq!(
        blocking_threads, 0,
        "the pool thread running the core is the worker's, not a blocking thread"
    );
}

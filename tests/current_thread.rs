//! The current-thread runtime (`Builder::new_current_thread`): tasks run only inside
//! `block_on`, on the calling thread, which also waits on I/O and timers.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use common::{panic_message, run_with_timeout};
use heist::io::{AsyncReadExt, AsyncWriteExt};
use heist::net::{TcpListener, TcpStream};
use heist::runtime::Builder;
use heist::sync::oneshot;

fn current_thread() -> heist::Runtime {
    Builder::new_current_thread().build().unwrap()
}

#[test]
fn tasks_run_on_the_thread_that_calls_block_on() {
    run_with_timeout("tasks_on_caller", || {
        let rt = current_thread();
        let caller = thread::current().id();
        let threads = rt.block_on(async {
            let tasks: Vec<_> = (0..100)
                .map(|_| {
                    heist::spawn(async {
                        heist::task::yield_now().await;
                        thread::current().id()
                    })
                })
                .collect();
            let mut threads = Vec::new();
            for task in tasks {
                threads.push(task.await.unwrap());
            }
            threads
        });
        assert!(
            threads.iter().all(|&id| id == caller),
            "{threads:?} vs {caller:?}"
        );
        assert_eq!(rt.metrics().num_workers(), 1);
    });
}

#[test]
fn a_task_spawned_outside_block_on_runs_in_the_next_block_on() {
    run_with_timeout("spawned_outside", || {
        let rt = current_thread();
        let caller = thread::current().id();
        let task = rt.spawn(async { thread::current().id() });
        // Nobody runs it before this `block_on`, and then this thread does.
        assert_eq!(rt.block_on(task).unwrap(), caller);
    });
}

#[test]
fn timers_fire_while_block_on_waits_in_the_poller() {
    run_with_timeout("timers", || {
        let rt = current_thread();
        rt.block_on(async {
            let start = heist::time::Instant::now();
            heist::time::sleep(Duration::from_millis(20)).await;
            assert!(start.elapsed() >= Duration::from_millis(20));
            let task = heist::spawn(async {
                heist::time::sleep(Duration::from_millis(5)).await;
                7
            });
            assert_eq!(task.await.unwrap(), 7);
        });
    });
}

#[test]
fn tcp_echo_between_two_tasks() {
    run_with_timeout("tcp_echo", || {
        let rt = current_thread();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = heist::spawn(async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut buf = vec![0; 5];
                stream.read_exact(&mut buf).await.unwrap();
                stream.write_all(&buf).await.unwrap();
            });
            let mut client = TcpStream::connect(addr).await.unwrap();
            client.write_all(b"hello").await.unwrap();
            let mut buf = vec![0; 5];
            client.read_exact(&mut buf).await.unwrap();
            assert_eq!(buf, b"hello");
            server.await.unwrap();
        });
    });
}

#[test]
fn a_wake_from_another_thread_reaches_a_parked_block_on() {
    run_with_timeout("remote_wake", || {
        let rt = current_thread();
        let (tx, rx) = oneshot::channel();
        let (task_tx, task_rx) = oneshot::channel::<u32>();
        let sender = thread::spawn(move || {
            tx.send(1).unwrap();
            task_tx.send(2).unwrap();
        });
        let sum = rt.block_on(async {
            let task = heist::spawn(async move { task_rx.await.unwrap() });
            rx.await.unwrap() + task.await.unwrap()
        });
        assert_eq!(sum, 3);
        sender.join().unwrap();
    });
}

#[test]
fn blocking_jobs_run_on_the_blocking_pool() {
    run_with_timeout("blocking", || {
        let rt = current_thread();
        let caller = thread::current().id();
        let ran_on = rt.block_on(async { heist::spawn_blocking(|| thread::current().id()).await.unwrap() });
        assert_ne!(ran_on, caller);
    });
}

#[test]
fn two_threads_in_block_on_at_once_both_finish() {
    run_with_timeout("two_block_ons", || {
        let rt = Arc::new(current_thread());
        let (to_b, from_a) = oneshot::channel::<u32>();
        let other = {
            let rt = rt.clone();
            thread::spawn(move || {
                // Whichever thread holds the core runs this task, the other waits for its
                // own future only.
                rt.block_on(async {
                    let task = heist::spawn(async {
                        heist::time::sleep(Duration::from_millis(2)).await;
                        40
                    });
                    let n = task.await.unwrap();
                    to_b.send(n).unwrap();
                })
            })
        };
        let n = rt.block_on(async move { from_a.await.unwrap() + 2 });
        assert_eq!(n, 42);
        other.join().unwrap();
    });
}

#[test]
fn a_waiting_block_on_takes_the_core_over_when_the_driver_returns() {
    run_with_timeout("core_handoff", || {
        let rt = Arc::new(current_thread());
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = oneshot::channel::<()>();
        let driver = {
            let rt = rt.clone();
            thread::spawn(move || {
                rt.block_on(async move {
                    started_tx.send(()).unwrap();
                    release_rx.await.unwrap();
                })
            })
        };
        started_rx.recv().unwrap();
        // The driver holds the core until its future is released, which this future does on
        // its first poll; the task's timer then needs whoever drives after it.
        let value = rt.block_on(async move {
            release_tx.send(()).unwrap();
            heist::spawn(async {
                heist::time::sleep(Duration::from_millis(10)).await;
                5
            })
            .await
            .unwrap()
        });
        assert_eq!(value, 5);
        driver.join().unwrap();
        // The core is back in the runtime: a third block_on drives it.
        assert_eq!(rt.block_on(async { heist::spawn(async { 6 }).await.unwrap() }), 6);
    });
}

#[test]
fn a_panicking_block_on_gives_the_core_back() {
    run_with_timeout("panic_returns_core", || {
        let rt = current_thread();
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async { panic!("boom in block_on") })
        }))
        .unwrap_err();
        assert_eq!(panic_message(&*panic), "boom in block_on");
        assert_eq!(rt.block_on(async { heist::spawn(async { 1 }).await.unwrap() }), 1);
    });
}

#[test]
fn dropping_the_runtime_drops_its_unfinished_tasks() {
    run_with_timeout("drop_cancels", || {
        struct SetOnDrop(Arc<AtomicBool>);
        impl Drop for SetOnDrop {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let rt = current_thread();
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = SetOnDrop(dropped.clone());
        let mut started = None;
        rt.block_on(async {
            let (tx, rx) = oneshot::channel();
            let task = heist::spawn(async move {
                let _guard = guard;
                tx.send(()).unwrap();
                std::future::pending::<()>().await
            });
            rx.await.unwrap();
            started = Some(task);
        });
        assert!(!dropped.load(Ordering::SeqCst));
        drop(rt);
        assert!(dropped.load(Ordering::SeqCst));
        let rt = current_thread();
        assert!(rt.block_on(started.unwrap()).unwrap_err().is_cancelled());
    });
}

#[test]
fn worker_threads_on_a_current_thread_builder_is_an_error() {
    let err = Builder::new_current_thread()
        .worker_threads(2)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("new_multi_thread"), "{err}");
}

#[test]
#[should_panic(expected = "block_on called on a heist worker thread")]
fn block_on_inside_block_on_panics() {
    let rt = current_thread();
    let inner = current_thread();
    rt.block_on(async move { inner.block_on(async {}) });
}

#[test]
fn new_multi_thread_is_new() {
    let rt = Builder::new_multi_thread().worker_threads(2).build().unwrap();
    assert_eq!(rt.metrics().num_workers(), 2);
    let caller = thread::current().id();
    assert_ne!(
        rt.block_on(async { heist::spawn(async { thread::current().id() }).await.unwrap() }),
        caller
    );
}

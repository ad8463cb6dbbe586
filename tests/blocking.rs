//! `spawn_blocking`: results, panics, running off the workers, thread cap.

mod common;

use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread;
use std::time::Instant;

use common::{WAIT, eventually, panic_message, run_with_timeout, runtime};
use heist::task::JoinHandle;

#[test]
fn spawn_blocking_returns_results() {
    run_with_timeout("spawn_blocking_results", || {
        let rt = runtime(2);
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 6 * 7)).unwrap(), 42);
        let handle = rt.handle().clone();
        assert_eq!(
            rt.block_on(handle.spawn_blocking(|| String::from("from handle")))
                .unwrap(),
            "from handle"
        );

        let (on_worker, on_blocking, s) = rt
            .block_on(rt.spawn(async {
                let me = thread::current().id();
                let other = heist::spawn_blocking(|| thread::current().id())
                    .await
                    .expect("blocking task failed");
                let s = heist::task::spawn_blocking(|| vec![1u8, 2, 3])
                    .await
                    .expect("blocking task failed");
                (me, other, s)
            }))
            .expect("task failed");
        assert_ne!(
            on_worker, on_blocking,
            "spawn_blocking ran its closure on the calling worker thread"
        );
        assert_eq!(s, vec![1, 2, 3]);

        let handles: Vec<JoinHandle<u64>> = (0..100u64).map(|i| rt.spawn_blocking(move || i * i)).collect();
        let sum = rt.block_on(async {
            let mut sum = 0;
            for h in handles {
                sum += h.await.expect("blocking task failed");
            }
            sum
        });
        assert_eq!(sum, (0..100u64).map(|i| i * i).sum::<u64>());
    });
}

#[test]
fn spawn_blocking_does_not_occupy_a_worker() {
    run_with_timeout("spawn_blocking_off_worker", || {
        // One worker. The blocking closure waits for a message that only an
        // async task sends: if the closure ran on the worker, the task could
        // never run and this would deadlock.
        let rt = runtime(1);
        let (tx, rx) = mpsc::channel::<u32>();
        let blocking = rt.spawn_blocking(move || rx.recv().expect("sender dropped") + 1);
        let sender = rt.spawn(async move {
            heist::task::yield_now().await;
            tx.send(41).unwrap();
        });
        rt.block_on(async {
            sender.await.expect("async task failed");
            assert_eq!(blocking.await.expect("blocking task failed"), 42);
        });
    });
}

#[test]
fn spawn_blocking_panic_is_a_join_error() {
    run_with_timeout("spawn_blocking_panic", || {
        let rt = runtime(1);
        let h = rt.spawn_blocking(|| {
            if true {
                panic!("blocking job failed");
            }
            1u8
        });
        let err = rt.block_on(h).expect_err("a panicking blocking job returned");
        assert!(err.is_panic(), "got {err:?}");
        assert_eq!(panic_message(&*err.into_panic()), "blocking job failed");
        // The pool still works.
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 2u8)).unwrap(), 2);
    });
}

#[derive(Default)]
struct Concurrency {
    current: usize,
    max: usize,
    gate_open: bool,
}

#[test]
fn spawn_blocking_respects_max_blocking_threads() {
    const JOBS: usize = 20;
    const CAP: usize = 2;
    run_with_timeout("max_blocking_threads", || {
        let rt = heist::runtime::Builder::new()
            .worker_threads(2)
            .max_blocking_threads(CAP)
            .build()
            .expect("failed to build the runtime");
        let state = Arc::new((Mutex::new(Concurrency::default()), Condvar::new()));

        // Every job registers itself and then waits for the gate, so jobs
        // overlap for as long as the gate is closed: no sleeps needed.
        let handles: Vec<JoinHandle<usize>> = (0..JOBS)
            .map(|i| {
                let state = state.clone();
                rt.spawn_blocking(move || {
                    let (lock, cv) = &*state;
                    let mut s = lock.lock().unwrap();
                    s.current += 1;
                    s.max = s.max.max(s.current);
                    cv.notify_all();
                    while !s.gate_open {
                        s = cv.wait(s).unwrap();
                    }
                    s.current -= 1;
                    i * 10
                })
            })
            .collect();

        // Wait (event-driven) until CAP jobs are inside at once.
        {
            let (lock, cv) = &*state;
            let deadline = Instant::now() + WAIT;
            let mut s = lock.lock().unwrap();
            while s.current < CAP {
                let left = deadline.saturating_duration_since(Instant::now());
                assert!(
                    !left.is_zero(),
                    "{CAP} blocking jobs never ran at the same time (current = {})",
                    s.current
                );
                s = cv.wait_timeout(s, left).unwrap().0;
            }
            assert!(s.current <= CAP, "{} blocking jobs running at once", s.current);
        }
        // With CAP jobs stuck on the gate, the pool is saturated: exactly CAP
        // threads, and everything else waits in the queue.
        eventually("num_blocking_threads() == CAP while saturated", || {
            rt.metrics().num_blocking_threads() == CAP
        });
        eventually("blocking_queue_depth() == JOBS - CAP while saturated", || {
            rt.metrics().blocking_queue_depth() == JOBS - CAP
        });

        {
            let (lock, cv) = &*state;
            lock.lock().unwrap().gate_open = true;
            cv.notify_all();
        }
        let results = rt.block_on(async {
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.expect("blocking job failed"));
            }
            out
        });
        assert_eq!(results, (0..JOBS).map(|i| i * 10).collect::<Vec<_>>());

        let s = state.0.lock().unwrap();
        assert_eq!(s.current, 0);
        assert!(s.max <= CAP, "{} blocking jobs ran at once, cap is {CAP}", s.max);
        assert_eq!(s.max, CAP);
        let threads = rt.metrics().num_blocking_threads();
        assert!(threads <= CAP, "{threads} blocking threads, cap is {CAP}");
        assert_eq!(rt.metrics().blocking_queue_depth(), 0);
    });
}

#[test]
fn idle_blocking_threads_leave_after_the_keep_alive_and_come_back_on_demand() {
    run_with_timeout("blocking_keep_alive", || {
        let rt = heist::runtime::Builder::new()
            .worker_threads(1)
            .thread_keep_alive(std::time::Duration::from_millis(1))
            .build()
            .unwrap();
        let metrics = rt.metrics();
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 1)).unwrap(), 1);
        eventually("the idle blocking thread exits after its keep-alive", || {
            metrics.num_blocking_threads() == 0
        });
        // A new job starts a new thread.
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 2)).unwrap(), 2);
    });
}

#[test]
fn duration_max_is_accepted_where_durations_are_taken() {
    run_with_timeout("duration_max", || {
        let rt = heist::runtime::Builder::new()
            .worker_threads(1)
            .thread_keep_alive(std::time::Duration::MAX)
            .build()
            .unwrap();
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 3)).unwrap(), 3);
        // Nothing is running, so this returns at once rather than overflowing a deadline.
        rt.shutdown_timeout(std::time::Duration::MAX);
    });
}

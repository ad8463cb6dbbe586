//! Wakeups: wakers sent to plain OS threads, tasks woken from `block_on`'s
//! future, and ping-pong between tasks through `tokio::sync::oneshot`.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::thread;

use common::{run_with_timeout, runtime};
use heist::task::JoinHandle;
use tokio::sync::oneshot;

/// What the waker thread receives: the waker, the flag to set before waking,
/// and whether to use `wake_by_ref` (true) or `wake` (false).
type WakeRequest = (Waker, Arc<AtomicBool>, bool);

/// A hand-made future: on its first poll it sends its waker to another OS
/// thread, which sets `ready` and then wakes it.
struct WakeFromOtherThread {
    ready: Arc<AtomicBool>,
    to_waker_thread: Option<mpsc::Sender<WakeRequest>>,
    by_ref: bool,
    polls: u32,
}

impl WakeFromOtherThread {
    fn new(to_waker_thread: mpsc::Sender<WakeRequest>, by_ref: bool) -> Self {
        WakeFromOtherThread {
            ready: Arc::new(AtomicBool::new(false)),
            to_waker_thread: Some(to_waker_thread),
            by_ref,
            polls: 0,
        }
    }
}

impl Future for WakeFromOtherThread {
    /// The number of times this future was polled.
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let this = self.get_mut();
        this.polls += 1;
        if this.ready.load(Ordering::Acquire) {
            return Poll::Ready(this.polls);
        }
        // Send the waker away on the first poll only; a later (spurious)
        // poll of the same task is still woken by that waker.
        if let Some(tx) = this.to_waker_thread.take() {
            tx.send((cx.waker().clone(), this.ready.clone(), this.by_ref))
                .expect("the waker thread is gone");
        }
        Poll::Pending
    }
}

/// A plain OS thread that wakes every waker it receives; returns how many.
fn start_waker_thread() -> (mpsc::Sender<WakeRequest>, thread::JoinHandle<usize>) {
    let (tx, rx) = mpsc::channel::<WakeRequest>();
    let thread = thread::spawn(move || {
        let mut woken = 0;
        for (waker, ready, by_ref) in rx {
            ready.store(true, Ordering::Release);
            if by_ref {
                waker.wake_by_ref();
                drop(waker);
            } else {
                waker.wake();
            }
            woken += 1;
        }
        woken
    });
    (tx, thread)
}

#[test]
fn waker_sent_to_another_os_thread_wakes_a_spawned_task() {
    let woken = run_with_timeout("waker_other_thread_spawned", || {
        let rt = runtime(2);
        let (tx, waker_thread) = start_waker_thread();
        let polls = rt
            .block_on(rt.spawn(WakeFromOtherThread::new(tx.clone(), false)))
            .expect("task failed");
        assert!(
            polls >= 2,
            "the task completed without being woken ({polls} polls)"
        );

        // Many tasks at once, half woken with `wake`, half with `wake_by_ref`.
        let handles: Vec<JoinHandle<u32>> = (0..1_000)
            .map(|i| rt.spawn(WakeFromOtherThread::new(tx.clone(), i % 2 == 0)))
            .collect();
        rt.block_on(async {
            for h in handles {
                let polls = h.await.expect("task failed");
                assert!(polls >= 2);
            }
        });
        drop(tx);
        waker_thread.join().expect("waker thread panicked")
    });
    assert_eq!(woken, 1 + 1_000);
}

#[test]
fn waker_sent_to_another_os_thread_one_task_at_a_time() {
    // Sequential: between two tasks the workers run out of work and park,
    // so every wake from the other thread has to unpark a worker.
    const TASKS: usize = 2_000;
    let woken = run_with_timeout("waker_other_thread_sequential", || {
        let rt = runtime(2);
        let (tx, waker_thread) = start_waker_thread();
        for i in 0..TASKS {
            let polls = rt
                .block_on(rt.spawn(WakeFromOtherThread::new(tx.clone(), i % 2 == 0)))
                .expect("task failed");
            assert!(polls >= 2);
        }
        drop(tx);
        waker_thread.join().expect("waker thread panicked")
    });
    assert_eq!(woken, TASKS);
}

#[test]
fn waker_sent_to_another_os_thread_wakes_block_on() {
    let woken = run_with_timeout("waker_other_thread_block_on", || {
        let rt = runtime(1);
        let (tx, waker_thread) = start_waker_thread();
        for by_ref in [false, true] {
            let polls = rt.block_on(WakeFromOtherThread::new(tx.clone(), by_ref));
            assert!(polls >= 2);
        }
        drop(tx);
        waker_thread.join().expect("waker thread panicked")
    });
    assert_eq!(woken, 2);
}

/// A future that hands its waker out through a oneshot on its first poll and
/// completes once `ready` is set.
struct HandOutWaker {
    ready: Arc<AtomicBool>,
    waker_tx: Option<oneshot::Sender<Waker>>,
}

impl Future for HandOutWaker {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.ready.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if let Some(tx) = this.waker_tx.take() {
            tx.send(cx.waker().clone()).expect("block_on side is gone");
        }
        Poll::Pending
    }
}

#[test]
fn task_woken_from_inside_block_on_future() {
    run_with_timeout("task_woken_from_block_on", || {
        let rt = runtime(2);

        // The block_on future wakes the task with the task's own waker.
        rt.block_on(async {
            for _ in 0..200 {
                let ready = Arc::new(AtomicBool::new(false));
                let (waker_tx, waker_rx) = oneshot::channel();
                let task = heist::spawn(HandOutWaker {
                    ready: ready.clone(),
                    waker_tx: Some(waker_tx),
                });
                let waker = waker_rx
                    .await
                    .expect("task dropped without handing out its waker");
                ready.store(true, Ordering::Release);
                waker.wake();
                task.await.expect("task failed");
            }
        });

        // The block_on future completes a oneshot the task is waiting on.
        let total = rt.block_on(async {
            let mut total = 0u64;
            for i in 0..1_000u64 {
                let (started_tx, started_rx) = oneshot::channel::<()>();
                let (value_tx, value_rx) = oneshot::channel::<u64>();
                let task = heist::spawn(async move {
                    started_tx.send(()).unwrap();
                    value_rx.await.expect("value sender dropped") + 1
                });
                started_rx.await.expect("task never started");
                value_tx.send(i).expect("task dropped its receiver");
                total += task.await.expect("task failed");
            }
            total
        });
        assert_eq!(total, (1..=1_000).sum::<u64>());
    });
}

// --- ping-pong -------------------------------------------------------------

const ROUNDS: u32 = 1_000;

struct Ping {
    n: u32,
    reply: oneshot::Sender<Pong>,
}

struct Pong {
    n: u32,
    next: oneshot::Sender<Ping>,
}

/// Sends `ROUNDS` pings, each answered by a pong carrying the sender for the
/// next ping. Returns the number of completed round trips.
async fn pinger(first: oneshot::Sender<Ping>) -> u32 {
    let mut to_ponger = first;
    let mut round_trips = 0;
    for n in 0..ROUNDS {
        let (reply, pong_rx) = oneshot::channel();
        if to_ponger.send(Ping { n, reply }).is_err() {
            panic!("ponger went away at round {n}");
        }
        let pong = pong_rx.await.expect("ponger dropped the reply sender");
        assert_eq!(pong.n, n + 1, "pong out of order");
        to_ponger = pong.next;
        round_trips += 1;
    }
    // Dropping `to_ponger` ends the ponger.
    round_trips
}

/// Answers pings until the pinger drops its sender. Returns pings answered.
async fn ponger(first: oneshot::Receiver<Ping>) -> u32 {
    let mut from_pinger = first;
    let mut answered = 0;
    while let Ok(Ping { n, reply }) = from_pinger.await {
        let (next, next_rx) = oneshot::channel();
        if reply.send(Pong { n: n + 1, next }).is_err() {
            panic!("pinger went away at round {n}");
        }
        from_pinger = next_rx;
        answered += 1;
    }
    answered
}

#[test]
fn ping_pong_between_two_tasks_1_000_times() {
    for workers in [1, 2] {
        let (pings, pongs) = run_with_timeout("ping_pong_tasks", move || {
            let rt = runtime(workers);
            let (tx, rx) = oneshot::channel();
            let pong_task = rt.spawn(ponger(rx));
            let ping_task = rt.spawn(pinger(tx));
            rt.block_on(async {
                (
                    ping_task.await.expect("pinger failed"),
                    pong_task.await.expect("ponger failed"),
                )
            })
        });
        assert_eq!(pings, ROUNDS, "with {workers} worker(s)");
        assert_eq!(pongs, ROUNDS, "with {workers} worker(s)");
    }
}

#[test]
fn ping_pong_between_block_on_and_a_task_1_000_times() {
    let (pings, pongs) = run_with_timeout("ping_pong_block_on", || {
        let rt = runtime(2);
        let (tx, rx) = oneshot::channel();
        let pong_task = rt.spawn(ponger(rx));
        rt.block_on(async {
            let pings = pinger(tx).await;
            (pings, pong_task.await.expect("ponger failed"))
        })
    });
    assert_eq!(pings, ROUNDS);
    assert_eq!(pongs, ROUNDS);
}

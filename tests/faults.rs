//! Faults: each has one clear outcome, no hang and no lost task.
//!
//! (A full descriptor table while accepting is in `net_emfile.rs`.)

mod common;
#[path = "common/net.rs"]
mod net_common;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, Once, mpsc as std_mpsc};
use std::task::{Context, Poll, Waker};

use common::{panic_message, run_with_timeout, runtime};
use heist::io::{AsyncReadExt, AsyncWriteExt};
use heist::net::{TcpListener, TcpStream};
use heist::sync::mpsc;
use heist::task::JoinSet;
use net_common::{pattern, raise_fd_limit};

const MARKER: &str = "faults: panicked on purpose";

fn quiet_intentional_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !panic_message(info.payload()).contains(MARKER) {
                default(info);
            }
        }));
    });
}

/// Panics when dropped (unless already unwinding), after counting the drop.
struct PanicOnDrop(Arc<AtomicUsize>, &'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
        if !std::thread::panicking() {
            panic!("{MARKER}: {}", self.1);
        }
    }
}

/// Pending on its first poll (without arranging a wake-up), then ready.
struct PendingOnce(bool);

impl Future for PendingOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[test]
fn idle_peers_do_not_block_other_clients() {
    const IDLE: usize = 200;
    const ROUND_TRIPS: usize = 100;
    raise_fd_limit(4 * 1024);
    run_with_timeout("idle_peers", || {
        let rt = runtime(2);
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (accepted_tx, mut accepted_rx) = mpsc::unbounded_channel::<()>();
            // One task per connection; the server returns once every connection it accepted
            // has ended, with how many bytes each echoed.
            let server = heist::spawn(async move {
                let mut connections = JoinSet::new();
                for _ in 0..IDLE + 1 {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    accepted_tx.send(()).unwrap();
                    connections.spawn(async move {
                        let mut buf = vec![0u8; 4096];
                        let mut echoed = 0;
                        while let Ok(n @ 1..) = stream.read(&mut buf).await {
                            stream.write_all(&buf[..n]).await.unwrap();
                            echoed += n;
                        }
                        echoed
                    });
                }
                let mut echoed = Vec::new();
                while let Some(result) = connections.join_next().await {
                    echoed.push(result.expect("a connection task failed"));
                }
                echoed
            });

            // 200 peers that connect and never send.
            let mut idle = Vec::new();
            for _ in 0..IDLE {
                idle.push(TcpStream::connect(addr).await.unwrap());
            }
            for _ in 0..IDLE {
                accepted_rx
                    .recv()
                    .await
                    .expect("the server accepted every idle peer");
            }

            // A normal client still gets every round trip through.
            let mut client = TcpStream::connect(addr).await.unwrap();
            let mut total = 0;
            for trip in 0..ROUND_TRIPS {
                let sent = pattern(1 + trip * 37 % 1500, trip as u64);
                let mut echoed = vec![0u8; sent.len()];
                client.write_all(&sent).await.unwrap();
                client.read_exact(&mut echoed).await.unwrap();
                assert_eq!(echoed, sent, "round trip {trip}: wrong bytes echoed");
                total += sent.len();
            }

            // Closing everything ends every connection task: none is lost.
            drop(client);
            drop(idle);
            let mut echoed = server.await.expect("the server task failed");
            echoed.sort_unstable();
            assert_eq!(echoed.len(), IDLE + 1, "connection tasks lost");
            assert_eq!(&echoed[..IDLE], &[0; IDLE][..], "an idle peer had bytes echoed");
            assert_eq!(echoed[IDLE], total, "the client's bytes were not all echoed");
        });
    });
}

#[test]
fn a_future_whose_drop_panics_gives_a_join_error_and_the_runtime_keeps_working() {
    quiet_intentional_panics();
    run_with_timeout("future_drop_panics", || {
        let rt = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));

        // Completed: the future is dropped right after it returns `Ready`; the panic replaces
        // the output.
        let guard = PanicOnDrop(drops.clone(), "dropping a completed future");
        let err = rt
            .block_on(rt.spawn(async move {
                let _guard = guard;
                PendingOnce(false).await;
                7
            }))
            .expect_err("a future whose drop panics must give a JoinError");
        assert!(err.is_panic(), "expected a panic, got {err:?}");
        assert!(panic_message(&*err.into_panic()).contains("dropping a completed future"));

        // Aborted while pending: the abort's drop panics, and that panic is what is reported.
        let guard = PanicOnDrop(drops.clone(), "dropping an aborted future");
        let (parked_tx, parked_rx) = std_mpsc::channel();
        let task = rt.spawn(async move {
            let _guard = guard;
            parked_tx.send(()).unwrap();
            std::future::pending::<()>().await;
        });
        parked_rx.recv().unwrap();
        task.abort();
        let err = rt.block_on(task).expect_err("aborted");
        assert!(
            err.is_panic(),
            "an abort whose drop panicked reports the panic, got {err:?}"
        );
        assert!(panic_message(&*err.into_panic()).contains("dropping an aborted future"));

        // The runtime still works, on every worker.
        let sum = rt.block_on(common::spawn_and_sum(100, 3));
        assert_eq!(sum, 4_950);

        // Pending at shutdown: dropping the runtime drops it, and the panic stays inside.
        let guard = PanicOnDrop(drops.clone(), "dropping a future at shutdown");
        let (parked_tx, parked_rx) = std_mpsc::channel();
        let task = rt.spawn(async move {
            let _guard = guard;
            parked_tx.send(()).unwrap();
            std::future::pending::<()>().await;
        });
        parked_rx.recv().unwrap();
        drop(rt);
        let err = futures_lite::future::block_on(task).expect_err("cancelled at shutdown");
        assert!(
            err.is_panic(),
            "a shutdown drop that panicked reports the panic, got {err:?}"
        );
        assert_eq!(drops.load(SeqCst), 3, "each future dropped exactly once");
    });
}

#[test]
fn a_task_whose_output_panics_on_drop() {
    quiet_intentional_panics();
    run_with_timeout("output_drop_panics", || {
        let rt = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));

        // Detached before it finished: the runtime drops the output and contains the panic.
        let (done_tx, done_rx) = std_mpsc::channel();
        let output_drops = drops.clone();
        drop(rt.spawn(async move {
            PendingOnce(false).await;
            done_tx.send(()).unwrap();
            PanicOnDrop(output_drops, "an output nobody joins")
        }));
        done_rx.recv().unwrap();
        let metrics = rt.metrics();
        common::eventually("the detached task is gone", || metrics.alive_tasks() == 0);
        assert_eq!(drops.load(SeqCst), 1, "the detached output was dropped once");

        // Finished, then its JoinHandle dropped unread: the handle drops the output, and the
        // panic does not escape the handle's drop.
        let task = rt.spawn(PanicOnDrop(drops.clone(), "an output whose handle is dropped").into_ready());
        common::eventually("the task finished", || task.is_finished());
        drop(task);
        assert_eq!(drops.load(SeqCst), 2, "the unread output was dropped once");

        // Awaited: the output is the caller's, and dropping it panics in the caller.
        let output = rt
            .block_on(rt.spawn(PanicOnDrop(drops.clone(), "an output that was awaited").into_ready()))
            .expect("the task itself succeeded");
        let payload = catch_unwind(AssertUnwindSafe(|| drop(output))).expect_err("its drop panics");
        assert!(panic_message(&*payload).contains("an output that was awaited"));
        assert_eq!(drops.load(SeqCst), 3);

        // The runtime keeps working.
        assert_eq!(rt.block_on(common::spawn_and_sum(100, 3)), 4_950);
    });
}

trait IntoReady: Sized + Send + 'static {
    fn into_ready(self) -> std::future::Ready<Self> {
        std::future::ready(self)
    }
}

impl IntoReady for PanicOnDrop {}

/// Keeps a clone of the waker it is polled with, then finishes (or stays pending).
struct StealWaker {
    slot: Arc<Mutex<Vec<Waker>>>,
    polls: Arc<AtomicUsize>,
    finish: bool,
}

impl Future for StealWaker {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls.fetch_add(1, SeqCst);
        self.slot.lock().unwrap().push(cx.waker().clone());
        if self.finish {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[test]
// `clone().wake()` on purpose: it takes the clone and wake-by-value paths of the task waker.
#[allow(clippy::waker_clone_wake)]
fn a_waker_woken_after_its_task_finished_and_its_runtime_dropped_does_nothing() {
    run_with_timeout("stale_waker", || {
        let rt = runtime(2);
        let wakers = Arc::new(Mutex::new(Vec::new()));
        let polls = Arc::new(AtomicUsize::new(0));
        let steal = |finish| StealWaker {
            slot: wakers.clone(),
            polls: polls.clone(),
            finish,
        };

        // A task that finished, and one still pending when the runtime goes.
        rt.block_on(rt.spawn(steal(true))).unwrap();
        let pending = rt.spawn(steal(false));
        common::eventually("the pending task was polled", || polls.load(SeqCst) == 2);
        let spawned = rt.metrics().spawned_tasks();

        // Woken after it finished: nothing runs again.
        let finished_waker = wakers.lock().unwrap()[0].clone();
        finished_waker.wake_by_ref();
        finished_waker.clone().wake();
        let metrics = rt.metrics();
        common::eventually("only the pending task is alive", || metrics.alive_tasks() == 1);
        assert_eq!(rt.block_on(common::spawn_and_sum(10, 1)), 45);
        assert_eq!(polls.load(SeqCst), 2, "a finished task was polled again");
        assert_eq!(
            rt.metrics().spawned_tasks(),
            spawned + 10,
            "a wake spawned something"
        );
        drop(metrics);

        drop(rt);
        let err = futures_lite::future::block_on(pending).expect_err("cancelled by the shutdown");
        assert!(err.is_cancelled());

        // Both wakers, woken (by reference, by value, cloned) and dropped long after.
        for waker in std::mem::take(&mut *wakers.lock().unwrap()) {
            waker.wake_by_ref();
            waker.clone().wake();
            let again = waker.clone();
            drop(waker);
            again.wake();
        }
        finished_waker.wake();
        assert_eq!(
            polls.load(SeqCst),
            2,
            "a task was polled after the runtime was dropped"
        );
    });
}

#[test]
fn a_runtime_dropped_inside_its_own_spawn_blocking() {
    run_with_timeout("drop_in_spawn_blocking", || {
        let rt = runtime(2);
        let handle = rt.handle().clone();
        // A task pending forever, to be cancelled by the shutdown.
        let pending = rt.spawn(std::future::pending::<()>());
        let (dropped_tx, dropped_rx) = std_mpsc::channel();
        let job = handle.spawn_blocking(move || {
            drop(rt);
            dropped_tx.send(()).unwrap();
            "after the drop"
        });
        // Documented behaviour (`BlockingPool::shutdown`): a blocking thread that drops its
        // own runtime does not wait for itself; the drop completes.
        dropped_rx
            .recv()
            .expect("the drop inside spawn_blocking completed");
        let err = futures_lite::future::block_on(pending).expect_err("cancelled by the shutdown");
        assert!(err.is_cancelled());
        // The job itself was running during the shutdown: it runs to the end.
        assert_eq!(
            futures_lite::future::block_on(job).expect("the job finished"),
            "after the drop"
        );
        // Spawning on the handle now is refused (cancelled at once).
        let late = handle.spawn(async { 1 });
        assert!(futures_lite::future::block_on(late).unwrap_err().is_cancelled());
    });
}

#[test]
fn a_runtime_dropped_inside_one_of_its_tasks() {
    run_with_timeout("drop_in_task", || {
        let rt = runtime(2);
        let handle = rt.handle().clone();
        let pending = rt.spawn(std::future::pending::<()>());
        let (dropped_tx, dropped_rx) = std_mpsc::channel();
        let task = handle.spawn(async move {
            drop(rt);
            dropped_tx.send(()).unwrap();
            "after the drop"
        });
        dropped_rx.recv().expect("the drop inside a task completed");
        assert!(
            futures_lite::future::block_on(pending)
                .unwrap_err()
                .is_cancelled()
        );
        // The task that dropped the runtime was running: its poll ends normally.
        let outcome = futures_lite::future::block_on(task);
        assert_eq!(outcome.expect("the dropping task finished"), "after the drop");
    });
}

#[test]
fn block_on_inside_a_task_panics_with_a_helpful_message() {
    run_with_timeout("block_on_in_task", || {
        let rt = runtime(2);
        let other = runtime(1);
        let task = rt.spawn(async move { other.block_on(async { 1 }) });
        let err = rt
            .block_on(task)
            .expect_err("block_on on a worker thread must panic");
        let message = panic_message(&*err.into_panic());
        assert!(
            message.contains("worker thread")
                && message.contains(".await")
                && message.contains("spawn_blocking"),
            "the message should say why and what to use instead: {message:?}"
        );
        assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
    });
}

#[test]
fn spawn_without_a_runtime_names_the_alternative() {
    run_with_timeout("spawn_outside", || {
        let payload = catch_unwind(|| drop(heist::spawn(async {}))).expect_err("spawn outside panics");
        let message = panic_message(&*payload);
        assert!(
            message.contains("outside a heist runtime") && message.contains("Handle::spawn"),
            "the message should name Handle::spawn: {message:?}"
        );
    });
}

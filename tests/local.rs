//! Local tasks: `LocalSet`, `spawn_local`, `JoinSet::spawn_local`. Futures that are not
//! `Send`, run on their set's thread only, woken from anywhere.

mod common;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::thread::{self, ThreadId};
use std::time::Duration;

use common::{panic_message, run_with_timeout};
use heist::io::{AsyncReadExt, AsyncWriteExt};
use heist::net::{TcpListener, TcpStream};
use heist::runtime::Builder;
use heist::sync::oneshot;
use heist::task::{JoinSet, LocalSet, spawn_local};

fn multi_thread() -> heist::Runtime {
    Builder::new_multi_thread().worker_threads(2).build().unwrap()
}

fn current_thread() -> heist::Runtime {
    Builder::new_current_thread().build().unwrap()
}

/// Wraps a future and fails (panics) if it is polled or dropped on another thread than
/// `owner`; counts its polls and drops.
struct OnOwnerThread<F> {
    owner: ThreadId,
    inner: F,
    drops: Arc<AtomicUsize>,
}

impl<F: Future + Unpin> Future for OnOwnerThread<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        assert_eq!(
            thread::current().id(),
            self.owner,
            "a local task was polled on another thread"
        );
        Pin::new(&mut self.inner).poll(cx)
    }
}

impl<F> Drop for OnOwnerThread<F> {
    fn drop(&mut self) {
        // No panic in a destructor (it could abort): record a wrong thread as a missing drop.
        if thread::current().id() == self.owner {
            self.drops.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[test]
fn a_future_that_is_not_send_runs_on_the_sets_thread() {
    run_with_timeout("not_send", || {
        let rt = multi_thread();
        let local = LocalSet::new();
        let caller = thread::current().id();
        let value = Rc::new(Cell::new(0));
        let seen = value.clone();
        let ran_on = local.block_on(&rt, async move {
            spawn_local(async move {
                heist::task::yield_now().await;
                seen.set(seen.get() + 1);
                thread::current().id()
            })
            .await
            .unwrap()
        });
        assert_eq!(ran_on, caller);
        assert_eq!(value.get(), 1);
    });
}

#[test]
fn local_tasks_await_timers_and_io_on_both_runtimes() {
    run_with_timeout("timers_and_io", || {
        for rt in [multi_thread(), current_thread()] {
            let local = LocalSet::new();
            local.block_on(&rt, async {
                let not_send = Rc::new(5u8);
                let sleeper = spawn_local(async move {
                    heist::time::sleep(Duration::from_millis(5)).await;
                    *not_send
                });
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let server = spawn_local(async move {
                    let marker = Rc::new(());
                    let (mut stream, _) = listener.accept().await.unwrap();
                    let mut buf = [0; 4];
                    stream.read_exact(&mut buf).await.unwrap();
                    stream.write_all(&buf).await.unwrap();
                    drop(marker);
                });
                let client = spawn_local(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    stream.write_all(b"ping").await.unwrap();
                    let mut buf = [0; 4];
                    stream.read_exact(&mut buf).await.unwrap();
                    buf
                });
                assert_eq!(sleeper.await.unwrap(), 5);
                assert_eq!(&client.await.unwrap(), b"ping");
                server.await.unwrap();
            });
        }
    });
}

#[test]
fn wakes_from_other_threads_reach_the_local_queue() {
    run_with_timeout("remote_wakes", || {
        for rt in [multi_thread(), current_thread()] {
            let local = LocalSet::new();
            let owner = thread::current().id();
            let drops = Arc::new(AtomicUsize::new(0));
            let mut senders = Vec::new();
            let mut tasks = Vec::new();
            for i in 0..64u32 {
                let (tx, rx) = oneshot::channel::<u32>();
                senders.push((tx, i));
                let marker = Rc::new(i);
                tasks.push(local.spawn_local(OnOwnerThread {
                    owner,
                    drops: drops.clone(),
                    inner: Box::pin(async move { rx.await.unwrap() + *marker }),
                }));
            }
            let wakers: Vec<_> = senders
                .into_iter()
                .map(|(tx, i)| thread::spawn(move || tx.send(i).unwrap()))
                .collect();
            let sum = local.block_on(&rt, async {
                let mut sum = 0;
                for task in tasks {
                    sum += task.await.unwrap();
                }
                sum
            });
            assert_eq!(sum, 2 * (0..64).sum::<u32>());
            for waker in wakers {
                waker.join().unwrap();
            }
            assert_eq!(
                drops.load(Ordering::SeqCst),
                64,
                "every future dropped on its own thread"
            );
        }
    });
}

#[test]
fn abort_from_another_thread_drops_the_future_on_the_sets_thread() {
    run_with_timeout("remote_abort", || {
        let rt = multi_thread();
        let local = LocalSet::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let task = local.spawn_local(OnOwnerThread {
            owner: thread::current().id(),
            drops: drops.clone(),
            inner: Box::pin(std::future::pending::<()>()),
        });
        let aborted = local.block_on(&rt, async {
            heist::task::yield_now().await; // the task is polled once, and waits
            let task = heist::spawn(async move {
                task.abort();
                task.await
            });
            task.await.unwrap()
        });
        assert!(aborted.unwrap_err().is_cancelled());
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn awaiting_the_set_runs_every_task_to_the_end() {
    run_with_timeout("await_set", || {
        let rt = multi_thread();
        let local = LocalSet::new();
        let count = Rc::new(Cell::new(0));
        for _ in 0..10 {
            let count = count.clone();
            local.spawn_local(async move {
                let inner = count.clone();
                spawn_local(async move {
                    heist::time::sleep(Duration::from_millis(1)).await;
                    inner.set(inner.get() + 1);
                });
                count.set(count.get() + 1);
            });
        }
        rt.block_on(local);
        assert_eq!(count.get(), 20);
    });
}

#[test]
fn run_until_leaves_unfinished_tasks_for_the_next_run() {
    run_with_timeout("run_until_resumes", || {
        let rt = current_thread();
        let local = LocalSet::new();
        let (tx, rx) = oneshot::channel::<u8>();
        let task = local.spawn_local(async move { rx.await.unwrap() });
        local.block_on(&rt, heist::task::yield_now());
        assert!(!task.is_finished());
        tx.send(9).unwrap();
        assert_eq!(local.block_on(&rt, task).unwrap(), 9);
    });
}

#[test]
fn many_busy_tasks_all_finish() {
    run_with_timeout("busy", || {
        let rt = current_thread();
        let local = LocalSet::new();
        let total = Rc::new(Cell::new(0u32));
        let tasks: Vec<_> = (0..500)
            .map(|_| {
                let total = total.clone();
                local.spawn_local(async move {
                    for _ in 0..20 {
                        total.set(total.get() + 1);
                        heist::task::yield_now().await;
                    }
                })
            })
            .collect();
        local.block_on(&rt, async {
            for task in tasks {
                task.await.unwrap();
            }
        });
        assert_eq!(total.get(), 500 * 20);
    });
}

#[test]
fn dropping_the_set_drops_unfinished_tasks_on_its_thread() {
    run_with_timeout("drop_set", || {
        let rt = multi_thread();
        let drops = Arc::new(AtomicUsize::new(0));
        let local = LocalSet::new();
        let never_polled = local.spawn_local(OnOwnerThread {
            owner: thread::current().id(),
            drops: drops.clone(),
            inner: Box::pin(std::future::pending::<()>()),
        });
        let polled = local.spawn_local(OnOwnerThread {
            owner: thread::current().id(),
            drops: drops.clone(),
            inner: Box::pin(std::future::pending::<()>()),
        });
        local.block_on(&rt, heist::task::yield_now());
        drop(local);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        rt.block_on(async {
            assert!(never_polled.await.unwrap_err().is_cancelled());
            assert!(polled.await.unwrap_err().is_cancelled());
        });
    });
}

#[test]
fn a_wake_after_the_set_is_gone_is_dropped() {
    run_with_timeout("wake_after_drop", || {
        let rt = multi_thread();
        let local = LocalSet::new();
        let stored = Arc::new(std::sync::Mutex::new(None::<std::task::Waker>));
        let task = {
            let stored = stored.clone();
            local.spawn_local(std::future::poll_fn(move |cx| {
                *stored.lock().unwrap() = Some(cx.waker().clone());
                Poll::<()>::Pending
            }))
        };
        local.block_on(&rt, heist::task::yield_now());
        let waker = stored.lock().unwrap().take().expect("the task was polled");
        drop(local);
        // A waker that outlived the set wakes its task from another thread: the wake is
        // dropped, nothing runs, the task is freed once the waker is.
        thread::spawn(move || waker.wake()).join().unwrap();
        assert!(rt.block_on(task).unwrap_err().is_cancelled());
    });
}

#[test]
fn spawn_local_in_a_current_thread_block_on() {
    run_with_timeout("ct_spawn_local", || {
        let rt = current_thread();
        let value = rt.block_on(async {
            let not_send = Rc::new(3);
            spawn_local(async move {
                heist::time::sleep(Duration::from_millis(1)).await;
                *not_send
            })
            .await
            .unwrap()
        });
        assert_eq!(value, 3);
    });
}

#[test]
fn joinset_spawn_local() {
    run_with_timeout("joinset_spawn_local", || {
        let rt = current_thread();
        let local = LocalSet::new();
        let sum = rt.block_on(async {
            let mut set = JoinSet::new();
            for i in 0..10u32 {
                let not_send = Rc::new(i);
                set.spawn_local(async move { *not_send });
                let not_send = Rc::new(i);
                set.spawn_local_on(async move { *not_send }, &local);
            }
            local
                .run_until(async {
                    let mut sum = 0;
                    while let Some(result) = set.join_next().await {
                        sum += result.unwrap();
                    }
                    sum
                })
                .await
        });
        assert_eq!(sum, 90);
    });
}

/// Outputs that are not `Send` (tokio's `JoinSet::spawn_local` allows them too): joined as the
/// very values the tasks returned, aborted through an `AbortHandle` used on another thread,
/// and dropped with the set.
#[test]
fn joinset_spawn_local_outputs_need_not_be_send() {
    run_with_timeout("joinset_spawn_local_outputs_need_not_be_send", || {
        let rt = current_thread();
        let local = LocalSet::new();
        rt.block_on(local.run_until(async {
            let shared = Rc::new(7u8);
            let mut set: JoinSet<Rc<u8>> = JoinSet::new();
            let forever = set.spawn_local(std::future::pending());
            let forever_id = forever.id();
            for _ in 0..3 {
                let shared = shared.clone();
                set.spawn_local(async move { shared });
            }
            let on = shared.clone();
            set.spawn_local_on(async move { on }, &local);
            // The handle is `Send` whatever the output: abort from a blocking-pool thread.
            heist::spawn_blocking(move || forever.abort()).await.unwrap();

            let (mut outputs, mut cancelled) = (Vec::new(), Vec::new());
            while let Some(result) = set.join_next().await {
                match result {
                    Ok(output) => outputs.push(output),
                    Err(error) => cancelled.push(error),
                }
            }
            assert_eq!(outputs.len(), 4);
            assert!(outputs.iter().all(|output| Rc::ptr_eq(output, &shared)));
            assert_eq!(Rc::strong_count(&shared), 5);
            drop(outputs);
            assert_eq!(cancelled.len(), 1);
            assert!(cancelled[0].is_cancelled());
            assert_eq!(cancelled[0].id(), forever_id);

            // Finished but never joined: the outputs go with the set.
            let mut set = JoinSet::new();
            let last = (0..2)
                .map(|_| {
                    let shared = shared.clone();
                    set.spawn_local(async move { shared })
                })
                .last()
                .unwrap();
            while !last.is_finished() {
                heist::task::yield_now().await;
            }
            assert_eq!(Rc::strong_count(&shared), 3);
            drop(set);
            assert_eq!(Rc::strong_count(&shared), 1);
        }));
    });
}

/// Records the thread it is dropped on.
struct DropThreads(Arc<std::sync::Mutex<Vec<ThreadId>>>);

impl Drop for DropThreads {
    fn drop(&mut self) {
        self.0.lock().unwrap().push(thread::current().id());
    }
}

/// A waker whose wake panics.
struct PanicOnWake;

impl std::task::Wake for PanicOnWake {
    fn wake(self: Arc<Self>) {
        panic!("the LocalSet's waker panics");
    }
}

/// A set's members' outputs are dropped on the set's thread even when dropping the set panics
/// half-way (aborting a local member wakes its `LocalSet`'s poller, whose waker may panic):
/// the members not yet reached are not left to whichever holder of their entry (here an
/// `AbortHandle` on another thread) lets go last, since an output need not be `Send`.
#[test]
fn joinset_dropped_while_a_wake_panics_drops_outputs_on_its_thread() {
    run_with_timeout(
        "joinset_dropped_while_a_wake_panics_drops_outputs_on_its_thread",
        || {
            let local = LocalSet::new();
            let drops = Arc::new(std::sync::Mutex::new(Vec::new()));
            let mut set = JoinSet::new();
            // Slot 0: never finishes; aborting it wakes the set's poller.
            set.spawn_local_on(std::future::pending::<DropThreads>(), &local);
            // Slot 1: finished, never polled by the set (so no waker of it in its task).
            let recorded = drops.clone();
            let finished = set.spawn_local_on(async move { DropThreads(recorded) }, &local);
            // Runs slot 1 to the end; the set keeps the panicking waker for later wakes.
            let waker = std::task::Waker::from(Arc::new(PanicOnWake));
            let mut local = std::pin::pin!(local);
            assert!(local.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
            assert!(finished.is_finished());

            let (send, receive) = std::sync::mpsc::channel::<heist::task::AbortHandle>();
            let elsewhere = thread::spawn(move || drop(receive.recv().unwrap()));
            let dropping = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(set)));
            let message = panic_message(&*dropping.expect_err("the abort's wake panics"));
            assert!(message.contains("the LocalSet's waker panics"), "{message}");
            // The entry's last holder, released on another thread.
            send.send(finished).unwrap();
            elsewhere.join().unwrap();
            assert_eq!(
                *drops.lock().unwrap(),
                vec![thread::current().id()],
                "the finished member's output is dropped once, on the set's thread"
            );
        },
    );
}

#[test]
#[should_panic(expected = "spawn_local called outside a LocalSet")]
fn spawn_local_outside_a_set_panics() {
    let rt = multi_thread();
    rt.block_on(async {
        drop(spawn_local(async {}));
    });
}

#[test]
fn spawn_local_in_a_multi_thread_task_panics_with_what_to_do() {
    let rt = multi_thread();
    let local = LocalSet::new();
    let error = local
        .block_on(&rt, async {
            heist::spawn(async { drop(spawn_local(async {})) }).await
        })
        .unwrap_err();
    let message = panic_message(&*error.into_panic());
    assert!(message.contains("LocalSet::run_until"), "{message}");
}

#[test]
fn tasks_spawned_by_a_local_task_on_the_runtime_run_on_workers() {
    run_with_timeout("local_spawns_remote", || {
        let rt = multi_thread();
        let local = LocalSet::new();
        let caller = thread::current().id();
        let flag = Arc::new(AtomicBool::new(false));
        let worker = local.block_on(&rt, async {
            let flag = flag.clone();
            spawn_local(async move {
                heist::spawn(async move {
                    flag.store(true, Ordering::SeqCst);
                    thread::current().id()
                })
                .await
                .unwrap()
            })
            .await
            .unwrap()
        });
        assert_ne!(worker, caller);
        assert!(flag.load(Ordering::SeqCst));
    });
}

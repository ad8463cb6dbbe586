//! `heist::sync`: channels, oneshot, Semaphore, Mutex, RwLock, Notify, Barrier.
//!
//! Every body runs under `run_with_timeout`, so a lost wakeup fails the test instead of
//! hanging it. Where a test needs to see a future *pending*, it polls the future by hand with
//! a waker that counts its wakes, so nothing depends on timing.

mod common;

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll, Wake, Waker};

use common::{run_with_timeout, runtime};
use heist::sync::mpsc::error::{SendError, TryRecvError, TrySendError};
use heist::sync::{Barrier, Mutex, Notify, RwLock, Semaphore, TryAcquireError, mpsc, oneshot};

/// A waker that counts how often it was woken.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls futures by hand with a [`CountingWaker`].
struct Poller {
    count: Arc<CountingWaker>,
    waker: Waker,
}

impl Poller {
    fn new() -> Self {
        let count = Arc::new(CountingWaker::default());
        let waker = Waker::from(count.clone());
        Poller { count, waker }
    }

    fn poll<F: Future + ?Sized>(&self, f: Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(&self.waker))
    }

    fn wakes(&self) -> usize {
        self.count.0.load(Ordering::SeqCst)
    }
}

// ---------------------------------------------------------------------------
// mpsc
// ---------------------------------------------------------------------------

const SENDERS: usize = 4;
const PER_SENDER: usize = 1_000;

/// Receives until `None`, checking each sender's messages arrive in order; returns the count.
async fn receive_in_order(mut recv: impl AsyncFnMut() -> Option<(usize, usize)>) -> usize {
    let mut next = [0; SENDERS];
    let mut count = 0;
    while let Some((sender, i)) = recv().await {
        assert_eq!(
            i, next[sender],
            "sender {sender}: got message {i}, expected {}",
            next[sender]
        );
        next[sender] += 1;
        count += 1;
    }
    assert_eq!(next, [PER_SENDER; SENDERS]);
    count
}

#[test]
fn mpsc_bounded_keeps_each_senders_order() {
    run_with_timeout("mpsc_bounded_keeps_each_senders_order", || {
        runtime(4).block_on(async {
            // A small capacity, so the senders wait for room most of the time.
            let (tx, mut rx) = mpsc::channel(8);
            for sender in 0..SENDERS {
                let tx = tx.clone();
                heist::spawn(async move {
                    for i in 0..PER_SENDER {
                        tx.send((sender, i)).await.unwrap();
                    }
                });
            }
            drop(tx);
            let count = receive_in_order(async || rx.recv().await).await;
            assert_eq!(count, SENDERS * PER_SENDER);
        })
    });
}

#[test]
fn mpsc_unbounded_keeps_each_senders_order() {
    run_with_timeout("mpsc_unbounded_keeps_each_senders_order", || {
        runtime(4).block_on(async {
            let (tx, mut rx) = mpsc::unbounded_channel();
            for sender in 0..SENDERS {
                let tx = tx.clone();
                heist::spawn(async move {
                    for i in 0..PER_SENDER {
                        tx.send((sender, i)).unwrap();
                        if i % 100 == 0 {
                            heist::task::yield_now().await;
                        }
                    }
                });
            }
            drop(tx);
            let count = receive_in_order(async || rx.recv().await).await;
            assert_eq!(count, SENDERS * PER_SENDER);
        })
    });
}

#[test]
fn mpsc_recv_returns_none_once_senders_are_gone_and_queue_drained() {
    run_with_timeout("mpsc_recv_none_after_senders_dropped", || {
        runtime(2).block_on(async {
            let (tx, mut rx) = mpsc::channel(4);
            let tx2 = tx.clone();
            tx.send(1).await.unwrap();
            tx2.send(2).await.unwrap();
            drop(tx);
            assert_eq!(rx.try_recv(), Ok(1));
            assert!(!rx.is_closed(), "one sender is left");
            drop(tx2);
            assert_eq!(rx.recv().await, Some(2), "queued messages outlive the senders");
            assert_eq!(rx.recv().await, None);
            assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));

            let (tx, mut rx) = mpsc::unbounded_channel();
            tx.send("a").unwrap();
            drop(tx);
            assert_eq!(rx.recv().await, Some("a"));
            assert_eq!(rx.recv().await, None);

            // A receiver waiting when the last sender goes is woken with `None`.
            let (tx, mut rx) = mpsc::channel::<u8>(1);
            let waiter = heist::spawn(async move { rx.recv().await });
            let dropper = heist::spawn(async move { drop(tx) });
            dropper.await.unwrap();
            assert_eq!(waiter.await.unwrap(), None);
        })
    });
}

#[test]
fn mpsc_send_fails_once_the_receiver_is_gone() {
    run_with_timeout("mpsc_send_fails_once_the_receiver_is_gone", || {
        runtime(2).block_on(async {
            let (tx, rx) = mpsc::channel(4);
            assert!(!tx.is_closed());
            drop(rx);
            assert!(tx.is_closed());
            assert_eq!(tx.send(7).await, Err(SendError(7)), "the value comes back");
            assert_eq!(tx.try_send(8), Err(TrySendError::Closed(8)));
            tx.closed().await;

            let (tx, rx) = mpsc::unbounded_channel();
            drop(rx);
            assert!(tx.is_closed());
            assert_eq!(tx.send(9), Err(SendError(9)));
            tx.closed().await;

            // A sender waiting in `closed()` is woken when the receiver goes, and the messages
            // still queued are dropped with the (unbounded) receiver.
            let dropped = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = mpsc::unbounded_channel();
            tx.send(common::DropCounter(dropped.clone())).unwrap();
            tx.send(common::DropCounter(dropped.clone())).unwrap();
            let waiter = heist::spawn(async move { tx.closed().await });
            heist::spawn(async move { drop(rx) }).await.unwrap();
            waiter.await.unwrap();
            assert_eq!(dropped.load(Ordering::SeqCst), 2);

            let (tx, mut rx) = mpsc::unbounded_channel();
            tx.send(1).unwrap();
            rx.close();
            assert_eq!(tx.send(2), Err(SendError(2)));
            assert_eq!(rx.recv().await, Some(1));
            assert_eq!(rx.recv().await, None);

            // `close` refuses new messages but hands out those already queued.
            let (tx, mut rx) = mpsc::channel(4);
            tx.send(1).await.unwrap();
            rx.close();
            assert_eq!(tx.send(2).await, Err(SendError(2)));
            assert_eq!(rx.recv().await, Some(1));
            assert_eq!(rx.recv().await, None);

            // A sender waiting for room when the receiver goes is woken with the error.
            let (tx, rx) = mpsc::channel(1);
            tx.send(1).await.unwrap();
            let waiter = heist::spawn(async move { tx.send(2).await });
            let dropper = heist::spawn(async move { drop(rx) });
            dropper.await.unwrap();
            assert_eq!(waiter.await.unwrap(), Err(SendError(2)));
        })
    });
}

#[test]
fn mpsc_bounded_send_waits_while_full_until_a_recv() {
    run_with_timeout("mpsc_bounded_send_waits_while_full", || {
        let (tx, mut rx) = mpsc::channel(2);
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        assert_eq!(tx.capacity(), 0);
        assert_eq!(tx.max_capacity(), 2);

        let poller = Poller::new();
        let mut send = pin!(tx.send(3));
        assert!(poller.poll(send.as_mut()).is_pending(), "the channel is full");
        assert!(poller.poll(send.as_mut()).is_pending(), "still full");
        assert_eq!(poller.wakes(), 0);

        assert_eq!(rx.try_recv(), Ok(1));
        assert!(poller.wakes() > 0, "a recv wakes the waiting sender");
        assert_eq!(poller.poll(send.as_mut()), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Ok(3));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));

        // And `recv` waits on an empty channel until a send.
        let receiver = Poller::new();
        let mut recv = pin!(rx.recv());
        assert!(receiver.poll(recv.as_mut()).is_pending());
        tx.try_send(4).unwrap();
        assert!(receiver.wakes() > 0, "a send wakes the waiting receiver");
        assert_eq!(receiver.poll(recv.as_mut()), Poll::Ready(Some(4)));

        // The same for the unbounded channel, and dropping the last sender wakes it too.
        let (tx, mut rx) = mpsc::unbounded_channel();
        let receiver = Poller::new();
        {
            let mut recv = pin!(rx.recv());
            assert!(receiver.poll(recv.as_mut()).is_pending());
            tx.send(5).unwrap();
            assert_eq!(receiver.wakes(), 1, "a send wakes the waiting receiver");
            assert_eq!(receiver.poll(recv.as_mut()), Poll::Ready(Some(5)));
        }
        let mut recv = pin!(rx.recv());
        assert!(receiver.poll(recv.as_mut()).is_pending());
        drop(tx);
        assert_eq!(receiver.wakes(), 2, "the last sender's drop wakes the receiver");
        assert_eq!(receiver.poll(recv.as_mut()), Poll::Ready(None));
    });
}

#[test]
fn mpsc_senders_block_until_the_receiver_catches_up() {
    // Across tasks: the receiver takes its time, and the senders never get further than the
    // capacity ahead of it.
    run_with_timeout("mpsc_senders_block_until_the_receiver_catches_up", || {
        runtime(4).block_on(async {
            const CAP: usize = 3;
            let sent = Arc::new(AtomicUsize::new(0));
            let (tx, mut rx) = mpsc::channel(CAP);
            for _ in 0..2 {
                let (tx, sent) = (tx.clone(), sent.clone());
                heist::spawn(async move {
                    for i in 0..200 {
                        tx.send(i).await.unwrap();
                        sent.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
            drop(tx);
            let mut received = 0;
            while rx.recv().await.is_some() {
                received += 1;
                // `sent` is bumped after each send completes, so it can exceed what the
                // channel holds by no more than the capacity (plus the one just received).
                let ahead = sent.load(Ordering::SeqCst).saturating_sub(received);
                assert!(
                    ahead <= CAP,
                    "{ahead} messages sent beyond the receiver, capacity {CAP}"
                );
                heist::task::yield_now().await;
            }
            assert_eq!(received, 400);
        })
    });
}

// ---------------------------------------------------------------------------
// oneshot
// ---------------------------------------------------------------------------

#[test]
fn oneshot_sends_one_value_across_tasks() {
    run_with_timeout("oneshot_sends_one_value_across_tasks", || {
        runtime(2).block_on(async {
            let (tx, rx) = oneshot::channel();
            let receiver = heist::spawn(rx);
            heist::spawn(async move { tx.send(String::from("hi")).unwrap() });
            assert_eq!(receiver.await.unwrap().as_deref(), Ok("hi"));

            let (tx, mut rx) = oneshot::channel();
            assert_eq!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty));
            tx.send(5).unwrap();
            assert_eq!(rx.try_recv(), Ok(5));
            assert_eq!(rx.try_recv(), Err(oneshot::error::TryRecvError::Closed));
        })
    });
}

#[test]
fn oneshot_dropped_sender_is_an_error() {
    run_with_timeout("oneshot_dropped_sender_is_an_error", || {
        runtime(2).block_on(async {
            let (tx, rx) = oneshot::channel::<u8>();
            drop(tx);
            assert_eq!(rx.await, Err(oneshot::error::RecvError));

            // A receiver already waiting is woken by the drop.
            let (tx, rx) = oneshot::channel::<u8>();
            let waiter = heist::spawn(rx);
            heist::spawn(async move { drop(tx) }).await.unwrap();
            assert_eq!(waiter.await.unwrap(), Err(oneshot::error::RecvError));

            // The other way round: the receiver is gone, so the value comes back.
            let (tx, rx) = oneshot::channel();
            drop(rx);
            assert!(tx.is_closed());
            assert_eq!(tx.send(3), Err(3));

            let (tx, mut rx) = oneshot::channel();
            rx.close();
            assert_eq!(tx.send(4), Err(4));
            assert_eq!(rx.await, Err(oneshot::error::RecvError));
        })
    });
}

#[test]
fn oneshot_closed_is_woken_when_the_receiver_closes_or_drops() {
    for close in [true, false] {
        let end = |mut rx: oneshot::Receiver<u8>| {
            if close {
                rx.close();
            } else {
                drop(rx);
            }
        };
        // A `closed()` future waiting.
        let (mut tx, rx) = oneshot::channel::<u8>();
        let poller = Poller::new();
        let mut closed = pin!(tx.closed());
        assert!(poller.poll(closed.as_mut()).is_pending());
        end(rx);
        assert_eq!(poller.wakes(), 1, "closed() not woken (receiver closed: {close})");
        assert!(poller.poll(closed.as_mut()).is_ready());

        // As in tokio, the sender keeps the waker of its last `closed()` or `poll_closed`
        // poll: a hand-written future that polls `closed()` afresh each time (or calls
        // `poll_closed`) is woken too.
        let (mut tx, rx) = oneshot::channel::<u8>();
        let poller = Poller::new();
        assert!(poller.poll(pin!(tx.closed())).is_pending());
        end(rx);
        assert_eq!(
            poller.wakes(),
            1,
            "a dropped closed() future's waker (closed: {close})"
        );
        assert!(poller.poll(pin!(tx.closed())).is_ready());

        let (mut tx, rx) = oneshot::channel::<u8>();
        let poller = Poller::new();
        let mut cx = Context::from_waker(&poller.waker);
        assert!(tx.poll_closed(&mut cx).is_pending());
        end(rx);
        assert_eq!(poller.wakes(), 1, "poll_closed's waker (closed: {close})");
        assert!(tx.poll_closed(&mut cx).is_ready());
        assert!(tx.is_closed());
    }
}

// ---------------------------------------------------------------------------
// Semaphore
// ---------------------------------------------------------------------------

/// Tracks how many tasks are inside a section, and the most ever seen at once.
#[derive(Default)]
struct Occupancy {
    inside: AtomicUsize,
    max: AtomicUsize,
}

impl Occupancy {
    fn enter(&self) {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

#[test]
fn semaphore_limits_concurrency() {
    // Twenty rounds: under ASan one round in about 120 hung on a permit left free beside
    // sleeping waiters (async-lock's semaphore, since replaced: see src/sync/semaphore.rs).
    run_with_timeout("semaphore_limits_concurrency", || {
        for _ in 0..20 {
            runtime(4).block_on(async {
                const PERMITS: usize = 3;
                const TASKS: usize = 24;
                let semaphore = Arc::new(Semaphore::new(PERMITS));
                // The permit holders meet at a barrier of PERMITS, so PERMITS of them are inside
                // at once every round: the maximum is reached for sure, and one more would show.
                let barrier = Arc::new(Barrier::new(PERMITS));
                let occupancy = Arc::new(Occupancy::default());
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let (semaphore, barrier, occupancy) =
                            (semaphore.clone(), barrier.clone(), occupancy.clone());
                        heist::spawn(async move {
                            let _permit = semaphore.acquire().await.unwrap();
                            occupancy.enter();
                            barrier.wait().await;
                            heist::task::yield_now().await;
                            occupancy.leave();
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                assert_eq!(occupancy.max(), PERMITS, "most permit holders inside at once");
                assert_eq!(semaphore.available_permits(), PERMITS, "every permit came back");
            });
        }
    });
}

#[test]
fn semaphore_try_acquire_add_permits_and_forget() {
    run_with_timeout("semaphore_try_acquire_add_permits_and_forget", || {
        let semaphore = Semaphore::new(2);
        let a = semaphore.try_acquire().unwrap();
        let b = semaphore.try_acquire().unwrap();
        assert_eq!(semaphore.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        assert_eq!(semaphore.available_permits(), 0);

        // A waiter is woken by a returned permit, and by added ones.
        let poller = Poller::new();
        let mut acquire = pin!(semaphore.acquire());
        assert!(poller.poll(acquire.as_mut()).is_pending());
        drop(a);
        assert!(poller.wakes() > 0);
        let c = match poller.poll(acquire.as_mut()) {
            Poll::Ready(permit) => permit.unwrap(),
            Poll::Pending => panic!("a permit was returned"),
        };
        assert_eq!(semaphore.available_permits(), 0);

        b.forget();
        drop(c);
        assert_eq!(
            semaphore.available_permits(),
            1,
            "the forgotten permit is gone for good"
        );
        semaphore.add_permits(2);
        assert_eq!(semaphore.available_permits(), 3);
    });
}

#[test]
fn semaphore_owned_permits_move_across_tasks() {
    run_with_timeout("semaphore_owned_permits_move_across_tasks", || {
        runtime(4).block_on(async {
            let semaphore = Arc::new(Semaphore::new(2));
            let first = semaphore.clone().acquire_owned().await.unwrap();
            let second = semaphore.clone().try_acquire_owned().unwrap();
            assert!(Arc::ptr_eq(first.semaphore(), &semaphore));
            assert!(semaphore.clone().try_acquire_owned().is_err());

            // The permits move into tasks that hold them until told to let go.
            let (release_first, first_go) = oneshot::channel::<()>();
            let (release_second, second_go) = oneshot::channel::<()>();
            let holder1 = heist::spawn(async move {
                first_go.await.unwrap();
                drop(first);
            });
            let holder2 = heist::spawn(async move {
                second_go.await.unwrap();
                drop(second);
            });

            // A third task waits for a permit of its own, and gets one only once a holder lets go.
            let got_third = Arc::new(AtomicBool::new(false));
            let third = {
                let (semaphore, got_third) = (semaphore.clone(), got_third.clone());
                heist::spawn(async move {
                    let permit = semaphore.acquire_owned().await.unwrap();
                    got_third.store(true, Ordering::SeqCst);
                    permit
                })
            };
            heist::task::yield_now().await;
            assert!(
                !got_third.load(Ordering::SeqCst),
                "both permits are held by the holders"
            );
            assert_eq!(semaphore.available_permits(), 0);

            release_first.send(()).unwrap();
            holder1.await.unwrap();
            let third_permit = third.await.unwrap();
            assert!(got_third.load(Ordering::SeqCst));
            assert_eq!(
                semaphore.available_permits(),
                0,
                "the third task holds the freed permit"
            );

            release_second.send(()).unwrap();
            holder2.await.unwrap();
            assert_eq!(semaphore.available_permits(), 1);
            third_permit.forget();
            assert_eq!(semaphore.available_permits(), 1, "forget keeps the permit out");
            assert_eq!(
                Arc::strong_count(&semaphore),
                1,
                "the permits let go of the semaphore"
            );
        })
    });
}

// ---------------------------------------------------------------------------
// Mutex
// ---------------------------------------------------------------------------

#[test]
fn mutex_excludes_across_workers() {
    run_with_timeout("mutex_excludes_across_workers", || {
        runtime(4).block_on(async {
            const TASKS: usize = 8;
            const ROUNDS: usize = 300;
            // The increment is a read, a yield, then a write: if two tasks were ever inside
            // at once, updates would be lost (and the occupancy would show it).
            let counter = Arc::new(Mutex::new(0usize));
            let occupancy = Arc::new(Occupancy::default());
            let tasks: Vec<_> = (0..TASKS)
                .map(|i| {
                    let (counter, occupancy) = (counter.clone(), occupancy.clone());
                    heist::spawn(async move {
                        for _ in 0..ROUNDS {
                            let mut guard = if i % 2 == 0 {
                                counter.lock().await
                            } else {
                                // Half the tasks spin on try_lock instead.
                                loop {
                                    match counter.try_lock() {
                                        Ok(guard) => break guard,
                                        Err(_) => heist::task::yield_now().await,
                                    }
                                }
                            };
                            occupancy.enter();
                            let read = *guard;
                            heist::task::yield_now().await;
                            *guard = read + 1;
                            occupancy.leave();
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            assert_eq!(occupancy.max(), 1, "tasks inside the lock at once");
            assert_eq!(*counter.lock().await, TASKS * ROUNDS, "no update lost");
        })
    });
}

#[test]
fn mutex_owned_guard_moves_into_a_task() {
    run_with_timeout("mutex_owned_guard_moves_into_a_task", || {
        runtime(2).block_on(async {
            let mutex = Arc::new(Mutex::new(vec![1]));
            let mut guard = mutex.clone().lock_owned().await;
            assert!(mutex.try_lock().is_err());
            assert!(mutex.clone().try_lock_owned().is_err());

            let (go, wait) = oneshot::channel::<()>();
            let holder = heist::spawn(async move {
                wait.await.unwrap();
                guard.push(2);
                drop(guard);
            });
            {
                let poller = Poller::new();
                let mut lock = pin!(mutex.lock());
                assert!(poller.poll(lock.as_mut()).is_pending(), "the task holds the lock");
                go.send(()).unwrap();
                holder.await.unwrap();
                assert!(poller.wakes() > 0, "unlocking wakes the waiter");
                match poller.poll(lock.as_mut()) {
                    Poll::Ready(guard) => assert_eq!(*guard, [1, 2]),
                    Poll::Pending => panic!("the lock was released"),
                }
            }
            assert_eq!(Arc::strong_count(&mutex), 1);
            let mutex = Arc::try_unwrap(mutex).unwrap();
            assert_eq!(mutex.into_inner(), [1, 2]);

            // Unsized contents work too.
            let slice: Arc<Mutex<[u8]>> = Arc::new(Mutex::new([1, 2, 3]));
            let mut owned = slice.clone().lock_owned().await;
            owned[0] = 9;
            drop(owned);
            assert_eq!(&*slice.lock().await, &[9, 2, 3]);
        })
    });
}

// ---------------------------------------------------------------------------
// RwLock
// ---------------------------------------------------------------------------

#[test]
fn rwlock_readers_share_the_lock() {
    run_with_timeout("rwlock_readers_share_the_lock", || {
        runtime(4).block_on(async {
            const READERS: usize = 6;
            // Every reader holds its read guard while waiting at a barrier of all readers:
            // this completes only if they all hold the lock at once.
            let lock = Arc::new(RwLock::new(5));
            let barrier = Arc::new(Barrier::new(READERS));
            let readers: Vec<_> = (0..READERS)
                .map(|i| {
                    let (lock, barrier) = (lock.clone(), barrier.clone());
                    heist::spawn(async move {
                        let value = if i % 2 == 0 {
                            lock.read().await
                        } else {
                            lock.try_read().unwrap()
                        };
                        barrier.wait().await;
                        *value
                    })
                })
                .collect();
            for reader in readers {
                assert_eq!(reader.await.unwrap(), 5);
            }
        })
    });
}

#[test]
fn rwlock_writer_is_exclusive() {
    run_with_timeout("rwlock_writer_is_exclusive", || {
        runtime(4).block_on(async {
            let lock = Arc::new(RwLock::new(0usize));
            {
                let write = lock.write().await;
                assert!(lock.try_read().is_err(), "a writer keeps readers out");
                assert!(lock.try_write().is_err(), "and other writers");
                drop(write);
                let read = lock.read().await;
                assert!(lock.try_write().is_err(), "a reader keeps writers out");
                drop(read);
            }

            // Readers and writers mixed on 4 workers; each checks nobody conflicting is inside.
            let readers_inside = Arc::new(AtomicUsize::new(0));
            let writers = Arc::new(Occupancy::default());
            let mut tasks = Vec::new();
            for i in 0..8 {
                let (lock, readers_inside, writers) = (lock.clone(), readers_inside.clone(), writers.clone());
                tasks.push(heist::spawn(async move {
                    for _ in 0..200 {
                        if i % 2 == 0 {
                            let mut guard = lock.write().await;
                            writers.enter();
                            assert_eq!(readers_inside.load(Ordering::SeqCst), 0, "reader beside a writer");
                            let read = *guard;
                            heist::task::yield_now().await;
                            *guard = read + 1;
                            writers.leave();
                        } else {
                            let guard = lock.read().await;
                            readers_inside.fetch_add(1, Ordering::SeqCst);
                            assert_eq!(writers.inside.load(Ordering::SeqCst), 0, "writer beside a reader");
                            let _ = *guard;
                            heist::task::yield_now().await;
                            readers_inside.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
            assert_eq!(writers.max(), 1, "writers inside at once");
            assert_eq!(*lock.read().await, 4 * 200, "no write lost");

            // The owned guards move into tasks.
            let write = lock.clone().write_owned().await;
            let writer = heist::spawn(async move {
                let mut write = write;
                *write = 1;
            });
            writer.await.unwrap();
            let read = lock.clone().read_owned().await;
            assert_eq!(heist::spawn(async move { *read }).await.unwrap(), 1);
        })
    });
}

// ---------------------------------------------------------------------------
// Notify
// ---------------------------------------------------------------------------

#[test]
fn notify_one_stores_a_single_permit() {
    run_with_timeout("notify_one_stores_a_single_permit", || {
        let notify = Notify::new();
        let poller = Poller::new();

        // Nobody waits: the permit is stored and taken by the next `notified()`.
        notify.notify_one();
        assert!(poller.poll(pin!(notify.notified())).is_ready());

        // Taken: the next one waits.
        let mut waiting = pin!(notify.notified());
        assert!(poller.poll(waiting.as_mut()).is_pending());
        notify.notify_one();
        assert_eq!(poller.wakes(), 1, "notify_one wakes the waiter");
        assert!(poller.poll(waiting.as_mut()).is_ready());

        // Two notifications with nobody waiting store one permit, not two.
        notify.notify_one();
        notify.notify_one();
        assert!(poller.poll(pin!(notify.notified())).is_ready());
        assert!(poller.poll(pin!(notify.notified())).is_pending());

        // A `Notified` made but never polled takes no permit.
        notify.notify_one();
        drop(notify.notified());
        assert!(poller.poll(pin!(notify.notified())).is_ready());
    });
}

#[test]
fn notify_one_wakes_waiters_one_at_a_time_in_order() {
    run_with_timeout("notify_one_wakes_waiters_in_order", || {
        let notify = Notify::new();
        let pollers: Vec<Poller> = (0..3).map(|_| Poller::new()).collect();
        let mut first = pin!(notify.notified());
        let mut second = pin!(notify.notified());
        let mut third = pin!(notify.notified());
        assert!(pollers[0].poll(first.as_mut()).is_pending());
        assert!(pollers[1].poll(second.as_mut()).is_pending());
        assert!(pollers[2].poll(third.as_mut()).is_pending());

        notify.notify_one();
        assert_eq!(pollers.iter().map(Poller::wakes).collect::<Vec<_>>(), [1, 0, 0]);
        assert!(pollers[0].poll(first.as_mut()).is_ready());
        assert!(
            pollers[1].poll(second.as_mut()).is_pending(),
            "one notification, one waiter"
        );

        notify.notify_one();
        assert_eq!(pollers.iter().map(Poller::wakes).collect::<Vec<_>>(), [1, 1, 0]);
        assert!(pollers[1].poll(second.as_mut()).is_ready());
        assert!(pollers[2].poll(third.as_mut()).is_pending());

        // With a waiter, notify_one stores no permit.
        notify.notify_one();
        assert!(pollers[2].poll(third.as_mut()).is_ready());
        assert!(pollers[0].poll(pin!(notify.notified())).is_pending());
    });
}

#[test]
fn notify_waiters_wakes_current_waiters_and_stores_nothing() {
    run_with_timeout("notify_waiters_wakes_current_waiters", || {
        let notify = Notify::new();
        let poller = Poller::new();

        // Nobody waits: nothing is stored.
        notify.notify_waiters();
        assert!(poller.poll(pin!(notify.notified())).is_pending());

        let pollers: Vec<Poller> = (0..3).map(|_| Poller::new()).collect();
        let mut a = pin!(notify.notified());
        let mut b = pin!(notify.notified());
        assert!(pollers[0].poll(a.as_mut()).is_pending());
        assert!(pollers[1].poll(b.as_mut()).is_pending());
        // Made before the call but not polled yet: it counts as waiting too.
        let mut c = pin!(notify.notified());
        // Made after the call: it does not.
        notify.notify_waiters();
        let mut d = pin!(notify.notified());

        assert_eq!(pollers[0].wakes(), 1);
        assert_eq!(pollers[1].wakes(), 1);
        assert!(pollers[0].poll(a.as_mut()).is_ready());
        assert!(pollers[1].poll(b.as_mut()).is_ready());
        assert!(pollers[2].poll(c.as_mut()).is_ready());
        assert!(pollers[2].poll(d.as_mut()).is_pending());

        // And no permit is left over.
        assert!(poller.poll(pin!(notify.notified())).is_pending());
    });
}

#[test]
fn notify_one_to_a_dropped_waiter_passes_on() {
    run_with_timeout("notify_one_to_a_dropped_waiter_passes_on", || {
        let notify = Notify::new();
        let (p1, p2) = (Poller::new(), Poller::new());

        let mut first = Box::pin(notify.notified());
        let mut second = pin!(notify.notified());
        assert!(p1.poll(first.as_mut()).is_pending());
        assert!(p2.poll(second.as_mut()).is_pending());
        notify.notify_one();
        assert_eq!((p1.wakes(), p2.wakes()), (1, 0));
        // The first waiter is cancelled before it sees its notification: the second gets it.
        drop(first);
        assert_eq!(p2.wakes(), 1);
        assert!(p2.poll(second.as_mut()).is_ready());

        // With nobody else waiting, it becomes the permit.
        let mut third = Box::pin(notify.notified());
        assert!(p1.poll(third.as_mut()).is_pending());
        notify.notify_one();
        drop(third);
        assert!(p2.poll(pin!(notify.notified())).is_ready());
    });
}

#[test]
fn notify_enable_registers_before_the_first_poll() {
    run_with_timeout("notify_enable_registers_before_the_first_poll", || {
        let notify = Notify::new();
        let mut notified = pin!(notify.notified());
        assert!(!notified.as_mut().enable());
        notify.notify_one();
        // The notification went to the enabled future, not to a permit.
        assert!(Poller::new().poll(pin!(notify.notified())).is_pending());
        assert!(notified.as_mut().enable());
        assert!(Poller::new().poll(notified.as_mut()).is_ready());
    });
}

#[test]
fn notify_wakes_tasks_across_workers() {
    run_with_timeout("notify_wakes_tasks_across_workers", || {
        runtime(4).block_on(async {
            // A producer and consumer hand a counter back and forth with two Notifys: every
            // round needs a notify_one to reach a task on another worker (or wait as a permit).
            const ROUNDS: usize = 1_000;
            let ping = Arc::new(Notify::new());
            let pong = Arc::new(Notify::new());
            let value = Arc::new(StdMutex::new(0usize));
            let ponger = {
                let (ping, pong, value) = (ping.clone(), pong.clone(), value.clone());
                heist::spawn(async move {
                    for _ in 0..ROUNDS {
                        ping.notified().await;
                        *value.lock().unwrap() += 1;
                        pong.notify_one();
                    }
                })
            };
            for round in 0..ROUNDS {
                ping.notify_one();
                pong.notified().await;
                assert_eq!(*value.lock().unwrap(), round + 1);
            }
            ponger.await.unwrap();

            // notify_waiters releases every task already waiting.
            const WAITERS: usize = 8;
            let notify = Arc::new(Notify::new());
            let registered = Arc::new(Barrier::new(WAITERS + 1));
            let tasks: Vec<_> = (0..WAITERS)
                .map(|_| {
                    let (notify, registered) = (notify.clone(), registered.clone());
                    heist::spawn(async move {
                        let notified = notify.notified(); // waiting from here on
                        registered.wait().await;
                        notified.await;
                    })
                })
                .collect();
            registered.wait().await;
            notify.notify_waiters();
            for task in tasks {
                task.await.unwrap();
            }
        })
    });
}

// ---------------------------------------------------------------------------
// Barrier
// ---------------------------------------------------------------------------

#[test]
fn barrier_releases_all_with_one_leader() {
    run_with_timeout("barrier_releases_all_with_one_leader", || {
        runtime(4).block_on(async {
            const N: usize = 8;
            const ROUNDS: usize = 3;
            let barrier = Arc::new(Barrier::new(N));
            let arrived = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..N)
                .map(|_| {
                    let (barrier, arrived) = (barrier.clone(), arrived.clone());
                    heist::spawn(async move {
                        let mut leaders = 0;
                        for round in 0..ROUNDS {
                            arrived.fetch_add(1, Ordering::SeqCst);
                            let result = barrier.wait().await;
                            // Nobody gets through before all N of this round arrived.
                            let seen = arrived.load(Ordering::SeqCst);
                            assert!(seen >= (round + 1) * N, "released after only {seen} arrivals");
                            leaders += result.is_leader() as usize;
                        }
                        leaders
                    })
                })
                .collect();
            let mut leaders = 0;
            for task in tasks {
                leaders += task.await.unwrap();
            }
            assert_eq!(leaders, ROUNDS, "exactly one leader per round");
        })
    });
}

// ---------------------------------------------------------------------------
// Any runtime
// ---------------------------------------------------------------------------

#[test]
fn works_on_a_tokio_runtime() {
    run_with_timeout("works_on_a_tokio_runtime", || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async {
            let (tx, mut rx) = mpsc::channel(2);
            let counter = Arc::new(Mutex::new(0));
            let notify = Arc::new(Notify::new());
            for _ in 0..4 {
                let (tx, counter, notify) = (tx.clone(), counter.clone(), notify.clone());
                tokio::spawn(async move {
                    for i in 0..100 {
                        *counter.lock().await += 1;
                        tx.send(i).await.unwrap();
                    }
                    notify.notify_one();
                });
            }
            drop(tx);
            let mut received = 0;
            while rx.recv().await.is_some() {
                received += 1;
            }
            assert_eq!(received, 400);
            assert_eq!(*counter.lock().await, 400);
            notify.notified().await; // the permit left by a sender
        })
    });
}

// ---------------------------------------------------------------------------
// blocking_* on a thread that runs tasks
// ---------------------------------------------------------------------------

/// Calls `call` (which returns at once where it may block) on a blocking-pool thread and a
/// plain thread, where it must work, then inside `block_on` and in a task, where it must panic
/// with a message naming `what` and saying to `.await` instead.
fn refuses_to_block_where_tasks_run(what: &str, call: fn()) {
    let runtime = runtime(1);
    runtime.block_on(runtime.spawn_blocking(call)).unwrap();
    std::thread::spawn(call).join().unwrap();

    let check = |message: String, place: &str| {
        assert!(
            message.contains(what) && message.contains(".await") && message.contains("spawn_blocking"),
            "{what} {place}: the panic does not say what to do instead: {message}"
        );
    };
    let in_block_on = runtime
        .block_on(async { std::panic::catch_unwind(call) })
        .expect_err(&format!("{what} inside block_on did not panic"));
    check(common::panic_message(&*in_block_on), "inside block_on");
    let in_task = runtime
        .block_on(runtime.spawn(async move { call() }))
        .expect_err(&format!("{what} in a task did not panic"));
    assert!(in_task.is_panic());
    check(common::panic_message(&*in_task.into_panic()), "in a task");
}

#[test]
fn blocking_methods_panic_inside_block_on_and_tasks_and_work_elsewhere() {
    run_with_timeout("blocking_methods_panic_where_tasks_run", || {
        refuses_to_block_where_tasks_run("blocking_recv", || {
            let (tx, rx) = oneshot::channel();
            tx.send(1).unwrap();
            assert_eq!(rx.blocking_recv(), Ok(1));
        });
        refuses_to_block_where_tasks_run("blocking_send", || {
            let (tx, _rx) = mpsc::channel(1);
            tx.blocking_send(1).unwrap();
        });
        refuses_to_block_where_tasks_run("blocking_recv", || {
            let (tx, mut rx) = mpsc::channel(1);
            tx.try_send(1).unwrap();
            assert_eq!(rx.blocking_recv(), Some(1));
        });
        refuses_to_block_where_tasks_run("blocking_recv", || {
            let (tx, mut rx) = mpsc::unbounded_channel();
            tx.send(1).unwrap();
            assert_eq!(rx.blocking_recv(), Some(1));
        });
        refuses_to_block_where_tasks_run("blocking_lock", || {
            *Mutex::new(0).blocking_lock() += 1;
        });
        refuses_to_block_where_tasks_run("blocking_read", || {
            assert_eq!(*RwLock::new(0).blocking_read(), 0);
        });
        refuses_to_block_where_tasks_run("blocking_write", || {
            *RwLock::new(0).blocking_write() += 1;
        });
    });
}

/// Counts its drops; the one made with `panics` panics when dropped.
struct Message {
    drops: Arc<AtomicUsize>,
    panics: bool,
}

impl Drop for Message {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if self.panics {
            panic!("a message's destructor panicked");
        }
    }
}

/// Queues three messages (the first panics when dropped) with `send`, then drops the receiver
/// while a sender lives on: every message must go with the receiver, the panic notwithstanding.
fn receiver_drops_every_message<R: Send + 'static>(mut send: impl FnMut(Message), receiver: R) {
    let drops = Arc::new(AtomicUsize::new(0));
    for i in 0..3 {
        send(Message {
            drops: drops.clone(),
            panics: i == 0,
        });
    }
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(receiver)));
    assert!(dropped.is_err(), "the destructor's panic was not passed on");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        3,
        "messages left in the channel after its receiver"
    );
}

#[test]
fn mpsc_receiver_drops_the_queued_messages_even_when_a_destructor_panics() {
    let (tx, rx) = mpsc::unbounded_channel();
    receiver_drops_every_message(|message| tx.send(message).unwrap(), rx);
    assert!(tx.is_closed());
    let (tx, rx) = mpsc::channel(8);
    receiver_drops_every_message(|message| tx.try_send(message).unwrap(), rx);
    assert!(tx.is_closed());
}

#[test]
fn mpsc_receiver_dropped_by_a_panic_drops_its_messages_without_aborting() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::unbounded_channel();
    for i in 0..3 {
        tx.send(Message {
            drops: drops.clone(),
            panics: i == 0,
        })
        .unwrap();
    }
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _dropped_while_unwinding = rx;
        panic!("the receiver's owner panics");
    }));
    let message = common::panic_message(&*unwound.expect_err("no panic"));
    assert_eq!(message, "the receiver's owner panics");
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

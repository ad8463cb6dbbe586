//! The rest of tokio's `sync` surface: the semaphore's many-permit, closing and permit
//! arithmetic; `Notify::notified_owned`; `OnceCell` and `SetOnce`. Pending futures are polled
//! by hand with a counting waker; cross-task tests run under `run_with_timeout`.

mod common;

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use common::{run_with_timeout, runtime};
use heist::sync::{Notify, OnceCell, Semaphore, SetError, SetOnce, TryAcquireError};

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl CountingWaker {
    fn poll<F: Future + ?Sized>(self: &Arc<Self>, f: Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(&Waker::from(self.clone())))
    }

    fn wakes(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

fn ready<T>(poll: Poll<T>) -> T {
    match poll {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("expected the future to be ready"),
    }
}

// ---------------------------------------------------------------------------
// Semaphore
// ---------------------------------------------------------------------------

#[test]
fn acquire_many_waits_for_all_its_permits_and_holds_back_later_waiters() {
    let waker = Arc::new(CountingWaker::default());
    let semaphore = Semaphore::new(3);
    let two = semaphore.try_acquire_many(2).unwrap();
    assert_eq!((two.num_permits(), semaphore.available_permits()), (2, 1));
    assert_eq!(
        semaphore.try_acquire_many(2).unwrap_err(),
        TryAcquireError::NoPermits
    );

    let mut three = pin!(semaphore.acquire_many(3));
    assert!(waker.poll(three.as_mut()).is_pending());
    // One permit is free, but the waiter for three is first in line.
    assert_eq!(semaphore.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    let mut one = pin!(semaphore.acquire());
    assert!(waker.poll(one.as_mut()).is_pending());

    drop(two);
    let three = ready(waker.poll(three.as_mut())).unwrap();
    assert_eq!(three.num_permits(), 3);
    assert!(waker.poll(one.as_mut()).is_pending());
    drop(three);
    drop(ready(waker.poll(one.as_mut())).unwrap());
}

#[test]
fn a_cancelled_many_waiter_lets_the_waiters_behind_it_through() {
    let waker = Arc::new(CountingWaker::default());
    let semaphore = Semaphore::new(1);
    let mut big = Box::pin(semaphore.acquire_many(5));
    let mut small = pin!(semaphore.acquire());
    assert!(waker.poll(big.as_mut()).is_pending());
    assert!(waker.poll(small.as_mut()).is_pending());
    drop(big);
    assert_eq!(
        waker.wakes(),
        1,
        "the small waiter is woken when the big one leaves"
    );
    drop(ready(waker.poll(small.as_mut())).unwrap());
}

#[test]
fn close_fails_waiting_and_later_acquires_but_permits_out_stay_valid() {
    let waker = Arc::new(CountingWaker::default());
    let semaphore = Arc::new(Semaphore::new(1));
    let held = semaphore.try_acquire().unwrap();
    let mut waiting = pin!(semaphore.acquire());
    assert!(waker.poll(waiting.as_mut()).is_pending());
    assert!(!semaphore.is_closed());

    semaphore.close();
    assert!(semaphore.is_closed());
    assert_eq!(waker.wakes(), 1);
    assert!(ready(waker.poll(waiting.as_mut())).is_err());
    assert!(ready(waker.poll(pin!(semaphore.acquire_many(0)))).is_err());
    assert!(ready(waker.poll(pin!(semaphore.clone().acquire_owned()))).is_err());
    assert_eq!(semaphore.try_acquire().unwrap_err(), TryAcquireError::Closed);
    assert_eq!(
        semaphore.clone().try_acquire_many_owned(1).unwrap_err(),
        TryAcquireError::Closed
    );
    drop(held);
    assert_eq!(semaphore.available_permits(), 1, "a permit out still comes back");
}

#[test]
fn permits_merge_split_and_forget() {
    let semaphore = Arc::new(Semaphore::new(5));
    let mut permit = semaphore.try_acquire_many(2).unwrap();
    permit.merge(semaphore.try_acquire().unwrap());
    assert_eq!(permit.num_permits(), 3);
    assert!(permit.split(4).is_none());
    let part = permit.split(1).unwrap();
    assert_eq!((permit.num_permits(), part.num_permits()), (2, 1));
    part.forget();
    drop(permit);
    assert_eq!(
        semaphore.available_permits(),
        4,
        "the forgotten permit is gone for good"
    );
    assert_eq!(semaphore.forget_permits(10), 4);
    semaphore.add_permits(2);

    let mut owned = semaphore.clone().try_acquire_owned().unwrap();
    owned.merge(semaphore.clone().try_acquire_many_owned(1).unwrap());
    let split = owned.split(2).unwrap();
    assert_eq!((owned.num_permits(), split.num_permits()), (0, 2));
    drop(split);
    assert_eq!(semaphore.available_permits(), 2);
}

#[test]
#[should_panic(expected = "different semaphores")]
fn merging_permits_of_two_semaphores_panics() {
    let (a, b) = (Semaphore::new(1), Semaphore::new(1));
    let mut permit = a.try_acquire().unwrap();
    permit.merge(b.try_acquire().unwrap());
}

#[test]
fn many_permit_acquirers_across_tasks_never_exceed_the_total() {
    run_with_timeout("many_permit_acquirers_across_tasks", || {
        runtime(2).block_on(async {
            const TOTAL: usize = 5;
            let semaphore = Arc::new(Semaphore::new(TOTAL));
            let out = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..20u32)
                .map(|i| {
                    let (semaphore, out) = (semaphore.clone(), out.clone());
                    heist::spawn(async move {
                        let n = i % 3 + 1;
                        let permit = semaphore.acquire_many_owned(n).await.unwrap();
                        let now = out.fetch_add(n as usize, Ordering::SeqCst) + n as usize;
                        assert!(now <= TOTAL, "{now} permits out of {TOTAL}");
                        heist::task::yield_now().await;
                        out.fetch_sub(n as usize, Ordering::SeqCst);
                        drop(permit);
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            assert_eq!(semaphore.available_permits(), TOTAL);
        })
    });
}

// ---------------------------------------------------------------------------
// Notify::notified_owned
// ---------------------------------------------------------------------------

#[test]
fn owned_notified_waits_like_notified_and_passes_on_a_dropped_notification() {
    let waker = Arc::new(CountingWaker::default());
    let notify = Arc::new(Notify::new());
    // Counts as waiting for notify_waiters from creation.
    let mut early = pin!(notify.clone().notified_owned());
    notify.notify_waiters();
    ready(waker.poll(early.as_mut()));

    let mut first = Box::pin(notify.clone().notified_owned());
    let mut second = pin!(notify.clone().notified_owned());
    assert!(!first.as_mut().enable());
    assert!(waker.poll(second.as_mut()).is_pending());
    notify.notify_one(); // goes to `first`, which is dropped without completing
    drop(first);
    assert!(waker.wakes() >= 1);
    ready(waker.poll(second.as_mut()));
}

#[test]
fn owned_notified_moves_into_a_task() {
    run_with_timeout("owned_notified_moves_into_a_task", || {
        runtime(2).block_on(async {
            let notify = Arc::new(Notify::new());
            let task = heist::spawn(notify.clone().notified_owned());
            notify.notify_one(); // a permit if the task is not waiting yet
            task.await.unwrap();
        })
    });
}

// ---------------------------------------------------------------------------
// OnceCell and SetOnce
// ---------------------------------------------------------------------------

#[test]
fn once_cell_runs_one_initializer_at_a_time_and_the_next_after_a_failure() {
    let waker = Arc::new(CountingWaker::default());
    let cell = OnceCell::<u32>::new();
    let (tx, rx) = heist::sync::oneshot::channel::<Result<u32, &str>>();
    let mut first = Box::pin(cell.get_or_try_init(|| async { rx.await.unwrap() }));
    assert!(waker.poll(first.as_mut()).is_pending());
    let mut second = pin!(cell.get_or_init(|| async { 2 }));
    assert!(
        waker.poll(second.as_mut()).is_pending(),
        "waits for the running initializer"
    );
    assert!(cell.set(9).unwrap_err().is_initializing_err());

    tx.send(Err("failed")).unwrap();
    assert_eq!(ready(waker.poll(first.as_mut())), Err("failed"));
    drop(first);
    assert!(!cell.initialized());
    assert_eq!(
        *ready(waker.poll(second.as_mut())),
        2,
        "the next waiter initializes"
    );
    assert_eq!(cell.get(), Some(&2));
    assert_eq!(cell.set(3), Err(SetError::AlreadyInitializedError(3)));
}

#[test]
fn once_cell_waiters_get_the_value_of_the_initializer_that_finishes() {
    let waker = Arc::new(CountingWaker::default());
    let cell = OnceCell::<&str>::const_new();
    let (tx, rx) = heist::sync::oneshot::channel();
    let mut first = pin!(cell.get_or_init(|| async { rx.await.unwrap() }));
    assert!(waker.poll(first.as_mut()).is_pending());
    let mut second = pin!(cell.get_or_init(|| async { unreachable!("the first one succeeds") }));
    assert!(waker.poll(second.as_mut()).is_pending());
    tx.send("first").unwrap();
    assert_eq!(*ready(waker.poll(first.as_mut())), "first");
    assert_eq!(*ready(waker.poll(second.as_mut())), "first");
}

#[test]
fn once_cell_set_take_and_into_inner() {
    let mut cell = OnceCell::new();
    assert_eq!(cell.get(), None);
    cell.set(1).unwrap();
    assert!(cell.initialized());
    assert_eq!(cell.take(), Some(1));
    assert!(!cell.initialized());
    cell.set(2).unwrap();
    assert_eq!(cell.into_inner(), Some(2));
    assert_eq!(OnceCell::new_with(Some(5)).get(), Some(&5));
}

#[test]
fn set_once_wakes_its_waiters_and_refuses_a_second_value() {
    let waker = Arc::new(CountingWaker::default());
    let once = SetOnce::new();
    {
        let mut wait = pin!(once.wait());
        assert!(waker.poll(wait.as_mut()).is_pending());
        assert!(!once.initialized());
        once.set(7).unwrap();
        assert_eq!(waker.wakes(), 1);
        assert_eq!(*ready(waker.poll(wait.as_mut())), 7);
    }
    assert_eq!(once.set(8).unwrap_err().0, 8);
    assert_eq!(*ready(waker.poll(pin!(once.wait()))), 7);
    assert_eq!(once.get(), Some(&7));
    assert_eq!(once.into_inner(), Some(7));
    assert_eq!(SetOnce::<u8>::new_with(None).get(), None);
}

#[test]
fn acquires_cancelled_while_waiting_or_after_a_grant_lose_no_permit() {
    run_with_timeout("acquires_cancelled_lose_no_permit", || {
        runtime(2).block_on(async {
            const TOTAL: usize = 3;
            let semaphore = Arc::new(Semaphore::new(TOTAL));
            let tasks: Vec<_> = (0..6u32)
                .map(|i| {
                    let semaphore = semaphore.clone();
                    heist::spawn(async move {
                        let mut acquired = 0;
                        while acquired < 200 {
                            heist::select! {
                                permit = semaphore.acquire_many(i % 2 + 1) => {
                                    let _permit = permit.unwrap();
                                    acquired += 1;
                                    heist::task::yield_now().await;
                                }
                                _ = heist::task::yield_now() => {}
                            }
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            assert_eq!(semaphore.available_permits(), TOTAL, "every permit came back");
        })
    });
}

//! `heist::sync::broadcast`: every receiver sees every value, a slow receiver lags and skips
//! ahead, senders never wait, closing, counts. Pending futures are polled by hand with a
//! counting waker; the cross-task test runs under `run_with_timeout`.

mod common;

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use common::{run_with_timeout, runtime};
use heist::sync::broadcast::{self, error::RecvError, error::TryRecvError};

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_counting<F: Future + ?Sized>(waker: &Arc<CountingWaker>, f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(&Waker::from(waker.clone())))
}

#[test]
fn every_receiver_sees_every_value_sent_after_it_subscribed() {
    let (tx, mut rx1) = broadcast::channel(4);
    tx.send(1).unwrap();
    let mut rx2 = tx.subscribe();
    assert_eq!(
        tx.send(2).unwrap(),
        2,
        "send returns how many receivers will see it"
    );
    assert_eq!(rx1.try_recv(), Ok(1));
    assert_eq!(rx1.try_recv(), Ok(2));
    assert_eq!(rx2.try_recv(), Ok(2), "a new receiver starts at the next value");
    assert_eq!(rx1.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(tx.receiver_count(), 2);
}

#[test]
fn a_slow_receiver_lags_by_the_evicted_count_then_goes_on_from_the_oldest_held() {
    let (tx, mut slow) = broadcast::channel(2);
    let mut fast = tx.subscribe();
    for i in 0..5 {
        tx.send(i).unwrap(); // never waits, even though `slow` sees nothing
        assert_eq!(fast.try_recv(), Ok(i));
    }
    assert_eq!(slow.len(), 2);
    assert_eq!(slow.try_recv(), Err(TryRecvError::Lagged(3)));
    assert_eq!(slow.try_recv(), Ok(3));
    assert_eq!(slow.try_recv(), Ok(4));
    assert_eq!(slow.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn values_are_released_once_every_receiver_has_seen_them() {
    let (tx, mut rx1) = broadcast::channel(8);
    let mut rx2 = tx.subscribe();
    let value = Arc::new(());
    tx.send(value.clone()).unwrap();
    assert_eq!(tx.len(), 1);
    drop(rx1.try_recv().unwrap());
    assert_eq!(tx.len(), 1, "rx2 has not seen it yet");
    drop(rx2.try_recv().unwrap());
    assert_eq!(tx.len(), 0);
    assert_eq!(Arc::strong_count(&value), 1, "the channel keeps no copy");

    tx.send(value.clone()).unwrap();
    drop(rx1.try_recv().unwrap());
    drop(rx2); // leaving counts as having seen it
    assert_eq!(tx.len(), 0);
    assert_eq!(Arc::strong_count(&value), 1);
}

#[test]
fn recv_waits_for_a_send_and_ends_with_closed_after_the_last_sender() {
    let waker = Arc::new(CountingWaker::default());
    let (tx, mut rx) = broadcast::channel(2);
    let tx2 = tx.clone();
    {
        let mut recv = pin!(rx.recv());
        assert!(poll_counting(&waker, recv.as_mut()).is_pending());
        tx.send(7).unwrap();
        assert_eq!(waker.0.load(Ordering::SeqCst), 1);
        assert_eq!(poll_counting(&waker, recv.as_mut()), Poll::Ready(Ok(7)));
    }
    tx.send(8).unwrap();
    drop(tx);
    assert!(!rx.is_closed());
    {
        let mut recv = pin!(rx.recv());
        assert_eq!(poll_counting(&waker, recv.as_mut()), Poll::Ready(Ok(8)));
    }
    let mut recv = pin!(rx.recv());
    assert!(poll_counting(&waker, recv.as_mut()).is_pending());
    drop(tx2);
    assert_eq!(
        waker.0.load(Ordering::SeqCst),
        2,
        "the last sender's drop wakes receivers"
    );
    assert_eq!(
        poll_counting(&waker, recv.as_mut()),
        Poll::Ready(Err(RecvError::Closed))
    );
}

#[test]
fn send_without_receivers_hands_the_value_back() {
    let (tx, rx) = broadcast::channel(2);
    drop(rx);
    assert_eq!(tx.send(5).unwrap_err().0, 5);
    let mut rx = tx.subscribe();
    tx.send(6).unwrap();
    let mut fresh = rx.resubscribe();
    assert_eq!(
        fresh.try_recv(),
        Err(TryRecvError::Empty),
        "resubscribe starts at the tail"
    );
    assert_eq!(rx.try_recv(), Ok(6));
    assert!(rx.same_channel(&fresh));
}

#[test]
fn receivers_across_tasks_each_see_all_values_in_order() {
    const RECEIVERS: usize = 3;
    const VALUES: u64 = 2_000;
    run_with_timeout("broadcast_across_tasks", || {
        runtime(2).block_on(async {
            let (tx, rx) = broadcast::channel(16);
            let tasks: Vec<_> = (0..RECEIVERS)
                .map(|_| {
                    let mut rx = rx.resubscribe();
                    heist::spawn(async move {
                        let (mut expected, mut lagged) = (0, 0);
                        loop {
                            match rx.recv().await {
                                Ok(v) => {
                                    assert_eq!(v, expected);
                                    expected += 1;
                                }
                                Err(RecvError::Lagged(n)) => {
                                    expected += n;
                                    lagged += n;
                                }
                                Err(RecvError::Closed) => return (expected, lagged),
                            }
                        }
                    })
                })
                .collect();
            drop(rx);
            for v in 0..VALUES {
                tx.send(v).unwrap();
                if v % 8 == 0 {
                    heist::task::yield_now().await;
                }
            }
            drop(tx);
            for task in tasks {
                let (seen_through, _lagged) = task.await.unwrap();
                assert_eq!(
                    seen_through, VALUES,
                    "every value was either seen or counted as lagged"
                );
            }
        })
    });
}

#[test]
fn a_sender_made_alone_sends_once_someone_subscribes() {
    let tx = broadcast::Sender::new(2);
    assert_eq!(tx.receiver_count(), 0);
    assert_eq!(tx.send(1).unwrap_err().0, 1);
    let mut rx = tx.subscribe();
    tx.send(2).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
#[should_panic(expected = "the capacity must be at least 1")]
fn a_zero_capacity_says_so() {
    let _ = broadcast::channel::<u8>(0);
}

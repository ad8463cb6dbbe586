//! `heist::sync::mpsc`'s tokio surface beyond send/recv: permits (`reserve`, `try_reserve`,
//! the owned ones), weak senders and counts, `recv_many`, capacities, closing with permits
//! out.
//!
//! Futures that must be seen *pending* are polled by hand with a waker that counts its wakes,
//! so nothing depends on timing; the cross-task tests run under `run_with_timeout`.

mod common;

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use common::{run_with_timeout, runtime};
use heist::sync::mpsc::{self, error::TryRecvError, error::TrySendError};

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

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

fn ready<T>(poll: Poll<T>) -> T {
    match poll {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("expected the future to be ready"),
    }
}

#[test]
fn a_permit_holds_a_slot_until_it_sends_or_drops() {
    let (tx, mut rx) = mpsc::channel::<u32>(2);
    assert_eq!((tx.capacity(), tx.max_capacity()), (2, 2));
    let first = tx.try_reserve().unwrap();
    let second = tx.try_reserve().unwrap();
    assert_eq!(tx.capacity(), 0);
    assert!(matches!(tx.try_reserve(), Err(TrySendError::Full(()))));
    assert!(matches!(tx.try_send(9), Err(TrySendError::Full(9))));

    first.send(1);
    assert_eq!(rx.len(), 1);
    drop(second); // unused: the slot goes back
    assert_eq!(tx.capacity(), 1);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(tx.capacity(), 2);
    assert!(rx.is_empty());
}

#[test]
fn waiting_senders_get_slots_in_order_and_latecomers_do_not_overtake() {
    let p = Poller::new();
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    tx.try_send(0).unwrap();
    let mut first = pin!(tx.reserve());
    let mut second = pin!(tx.send(2));
    assert!(p.poll(first.as_mut()).is_pending());
    assert!(p.poll(second.as_mut()).is_pending());

    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(p.wakes(), 1, "the freed slot wakes the first waiter only");
    // The slot is the first waiter's: neither a newcomer nor the second waiter takes it.
    assert!(matches!(tx.try_send(7), Err(TrySendError::Full(7))));
    assert!(p.poll(second.as_mut()).is_pending());
    let permit = ready(p.poll(first.as_mut())).unwrap();
    permit.send(1);

    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(p.wakes(), 2);
    ready(p.poll(second.as_mut())).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn a_cancelled_waiter_gives_up_its_place_or_its_granted_slot() {
    let p = Poller::new();
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    tx.try_send(0).unwrap();

    // Dropped while waiting: the next slot goes to the waiter behind it.
    let mut gone = Box::pin(tx.reserve());
    let mut behind = pin!(tx.reserve());
    assert!(p.poll(gone.as_mut()).is_pending());
    assert!(p.poll(behind.as_mut()).is_pending());
    drop(gone);
    assert_eq!(rx.try_recv(), Ok(0));
    let permit = ready(p.poll(behind.as_mut())).unwrap();

    // Granted a slot, then dropped before taking it: the slot passes on.
    let mut granted = Box::pin(tx.reserve());
    let mut next = pin!(tx.reserve());
    assert!(p.poll(granted.as_mut()).is_pending());
    assert!(p.poll(next.as_mut()).is_pending());
    drop(permit); // grants `granted`
    drop(granted);
    ready(p.poll(next.as_mut())).unwrap().send(5);
    assert_eq!(rx.try_recv(), Ok(5));
}

#[test]
fn closing_fails_waiters_and_reservations_but_delivers_through_permits_taken_before() {
    let p = Poller::new();
    let (tx, mut rx) = mpsc::channel::<u32>(2);
    let permit = tx.try_reserve().unwrap();
    tx.try_send(1).unwrap();
    let mut waiting = pin!(tx.reserve());
    assert!(p.poll(waiting.as_mut()).is_pending());

    rx.close();
    assert!(rx.is_closed() && tx.is_closed());
    assert_eq!(p.wakes(), 1, "close wakes the waiting sender");
    assert!(ready(p.poll(waiting.as_mut())).is_err());
    assert!(matches!(tx.try_reserve(), Err(TrySendError::Closed(()))));
    assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));

    assert_eq!(rx.try_recv(), Ok(1));
    // The permit is still out: not over yet.
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    {
        let mut recv = pin!(rx.recv());
        assert!(p.poll(recv.as_mut()).is_pending());
        permit.send(2);
        assert_eq!(ready(p.poll(recv.as_mut())), Some(2));
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn dropping_the_last_permit_after_close_ends_the_channel() {
    let p = Poller::new();
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    let permit = tx.try_reserve().unwrap();
    rx.close();
    let mut recv = pin!(rx.recv());
    assert!(p.poll(recv.as_mut()).is_pending());
    drop(permit);
    assert!(p.wakes() >= 1, "the last permit's drop wakes the receiver");
    assert_eq!(ready(p.poll(recv.as_mut())), None);
}

#[test]
fn dropping_the_receiver_fails_waiting_senders() {
    let p = Poller::new();
    let (tx, rx) = mpsc::channel::<u32>(1);
    tx.try_send(0).unwrap();
    let mut send = pin!(tx.send(1));
    assert!(p.poll(send.as_mut()).is_pending());
    drop(rx);
    assert_eq!(ready(p.poll(send.as_mut())).unwrap_err().0, 1);
}

#[test]
fn owned_permits_hand_the_sender_back() {
    run_with_timeout("owned_permits_hand_the_sender_back", || {
        runtime(2).block_on(async {
            let (tx, mut rx) = mpsc::channel::<u32>(1);
            let permit = tx.clone().reserve_owned().await.unwrap();
            assert_eq!(tx.strong_count(), 2, "an owned permit holds a sender");
            let tx2 = heist::spawn(async move { permit.send(1) }).await.unwrap();
            assert!(tx2.same_channel(&tx));
            assert_eq!(rx.recv().await, Some(1));

            let permit = tx2.try_reserve_owned().unwrap();
            let tx2 = match tx.clone().try_reserve_owned() {
                Err(TrySendError::Full(sender)) => {
                    drop(sender);
                    permit.release()
                }
                other => panic!("expected Full with the sender back, got {other:?}"),
            };
            assert_eq!(tx2.capacity(), 1);
            drop((tx, tx2));
            assert_eq!(rx.recv().await, None);
        })
    });
}

#[test]
fn weak_senders_do_not_keep_the_channel_open() {
    let (tx, mut rx) = mpsc::channel::<u32>(4);
    let weak = tx.downgrade();
    let weak2 = weak.clone();
    assert_eq!((tx.strong_count(), tx.weak_count()), (1, 2));
    assert_eq!((rx.sender_strong_count(), rx.sender_weak_count()), (1, 2));
    let upgraded = weak.upgrade().unwrap();
    assert_eq!(weak.strong_count(), 2);
    upgraded.try_send(1).unwrap();
    drop((tx, upgraded));
    assert!(weak.upgrade().is_none());
    assert!(rx.is_closed());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    drop(weak2);
    assert_eq!(weak.weak_count(), 1);

    let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
    let weak = tx.downgrade();
    assert_eq!((tx.strong_count(), tx.weak_count()), (1, 1));
    assert_eq!((rx.sender_strong_count(), rx.sender_weak_count()), (1, 1));
    weak.upgrade().unwrap().send(2).unwrap();
    drop(tx);
    assert!(weak.upgrade().is_none());
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn recv_many_takes_up_to_the_limit_and_frees_the_slots() {
    let p = Poller::new();
    let (tx, mut rx) = mpsc::channel::<u32>(3);
    let mut buffer = vec![100];
    assert_eq!(ready(p.poll(pin!(rx.recv_many(&mut buffer, 0)))), 0);
    {
        let mut many = pin!(rx.recv_many(&mut buffer, 2));
        assert!(p.poll(many.as_mut()).is_pending());
        for i in 0..3 {
            tx.try_send(i).unwrap();
        }
        assert!(p.wakes() >= 1);
        assert_eq!(ready(p.poll(many.as_mut())), 2);
    }
    assert_eq!(tx.capacity(), 2, "both slots are free again");
    drop(tx);
    assert_eq!(ready(p.poll(pin!(rx.recv_many(&mut buffer, 5)))), 1);
    assert_eq!(ready(p.poll(pin!(rx.recv_many(&mut buffer, 5)))), 0);
    assert_eq!(buffer, [100, 0, 1, 2]);

    let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
    let mut buffer = Vec::new();
    {
        let mut many = pin!(rx.recv_many(&mut buffer, 2));
        assert!(p.poll(many.as_mut()).is_pending());
        for i in 0..3 {
            tx.send(i).unwrap();
        }
        assert_eq!(ready(p.poll(many.as_mut())), 2);
    }
    drop(tx);
    assert_eq!(ready(p.poll(pin!(rx.recv_many(&mut buffer, 5)))), 1);
    assert_eq!(ready(p.poll(pin!(rx.recv_many(&mut buffer, 5)))), 0);
    assert_eq!(buffer, [0, 1, 2]);
}

#[test]
fn reserving_senders_across_tasks_deliver_everything_in_order() {
    const SENDERS: usize = 4;
    const PER_SENDER: usize = 500;
    run_with_timeout("reserving_senders_across_tasks", || {
        runtime(2).block_on(async {
            let (tx, mut rx) = mpsc::channel(3);
            for s in 0..SENDERS {
                let tx = tx.clone();
                heist::spawn(async move {
                    for i in 0..PER_SENDER {
                        if i % 2 == 0 {
                            tx.reserve().await.unwrap().send((s, i));
                        } else {
                            tx.send((s, i)).await.unwrap();
                        }
                    }
                });
            }
            drop(tx);
            let mut next = [0; SENDERS];
            let mut buffer = Vec::new();
            while rx.recv_many(&mut buffer, 4).await > 0 {
                for (s, i) in buffer.drain(..) {
                    assert_eq!(i, next[s]);
                    next[s] += 1;
                }
            }
            assert_eq!(next, [PER_SENDER; SENDERS]);
        })
    });
}

#[test]
#[should_panic(expected = "use unbounded_channel()")]
fn a_capacity_beyond_the_maximum_says_what_to_use_instead() {
    let _ = mpsc::channel::<u8>(mpsc::MAX_CAPACITY + 1);
}

#[test]
fn reserves_cancelled_while_waiting_or_after_a_grant_lose_no_slot() {
    // Each sender races its reserve against a yield, so reserves are dropped while queued
    // and after a slot was granted to them; a slot lost that way would leave the channel
    // short and, with capacity 2, soon stuck (caught by the timeout).
    const SENDERS: usize = 4;
    const PER_SENDER: usize = 300;
    run_with_timeout("reserves_cancelled_lose_no_slot", || {
        runtime(2).block_on(async {
            let (tx, mut rx) = mpsc::channel(2);
            let cancelled = Arc::new(AtomicUsize::new(0));
            for s in 0..SENDERS {
                let (tx, cancelled) = (tx.clone(), cancelled.clone());
                heist::spawn(async move {
                    let mut sent = 0;
                    while sent < PER_SENDER {
                        heist::select! {
                            permit = tx.reserve() => {
                                permit.unwrap().send((s, sent));
                                sent += 1;
                            }
                            _ = heist::task::yield_now() => {
                                cancelled.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                });
            }
            drop(tx);
            let mut next = [0; SENDERS];
            while let Some((s, i)) = rx.recv().await {
                assert_eq!(i, next[s]);
                next[s] += 1;
                if i % 7 == 0 {
                    heist::task::yield_now().await;
                }
            }
            assert_eq!(next, [PER_SENDER; SENDERS]);
            assert_eq!(rx.capacity(), 2, "every slot is free at the end");
        })
    });
}

#[test]
fn reserve_many_waits_for_all_its_slots_ahead_of_later_senders() {
    let p = Poller::new();
    let (tx, mut rx) = mpsc::channel::<u32>(3);
    tx.try_send(0).unwrap();
    tx.try_send(1).unwrap();
    assert!(matches!(tx.try_reserve_many(2), Err(TrySendError::Full(()))));
    let mut many = pin!(tx.reserve_many(3));
    assert!(p.poll(many.as_mut()).is_pending());
    assert!(
        matches!(tx.try_reserve(), Err(TrySendError::Full(()))),
        "the one free slot waits for it"
    );
    let mut one = pin!(tx.reserve());
    assert!(p.poll(one.as_mut()).is_pending());

    assert_eq!(rx.try_recv(), Ok(0));
    assert!(p.poll(many.as_mut()).is_pending(), "2 of 3 slots free");
    assert_eq!(rx.try_recv(), Ok(1));
    let mut permits = ready(p.poll(many.as_mut())).unwrap();
    assert_eq!(permits.len(), 3);
    assert!(p.poll(one.as_mut()).is_pending());
    permits.next().unwrap().send(2);
    drop(permits); // two slots back: the single reserve gets one
    ready(p.poll(one.as_mut())).unwrap().send(3);
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(tx.capacity(), 3);
    assert_eq!(tx.try_reserve_many(0).unwrap().len(), 0);
}

#[test]
fn a_cancelled_reserve_many_lets_the_senders_behind_it_through() {
    let p = Poller::new();
    let (tx, _rx) = mpsc::channel::<u32>(2);
    let held = tx.try_reserve().unwrap();
    let mut many = Box::pin(tx.reserve_many(2));
    let mut one = pin!(tx.reserve());
    assert!(p.poll(many.as_mut()).is_pending());
    assert!(p.poll(one.as_mut()).is_pending());
    drop(many);
    drop(ready(p.poll(one.as_mut())).unwrap());
    drop(held);
}

#[test]
#[should_panic(expected = "reserve at most max_capacity() at a time")]
fn reserve_many_beyond_the_capacity_says_so() {
    let (tx, _rx) = mpsc::channel::<u8>(2);
    let _ = tx.try_reserve_many(3);
}

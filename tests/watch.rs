//! `heist::sync::watch`: the latest value, change detection per receiver, waiting for
//! changes and conditions, closing both ways. Pending futures are polled by hand with a
//! counting waker; the cross-task test runs under `run_with_timeout`.

mod common;

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use common::{run_with_timeout, runtime};
use heist::sync::watch;

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

#[test]
fn receivers_see_only_the_latest_value_and_track_what_they_have_seen() {
    let (tx, mut rx) = watch::channel(0);
    assert!(!rx.has_changed().unwrap(), "the initial value counts as seen");
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    let mut other = rx.clone();
    assert!(rx.has_changed().unwrap() && other.has_changed().unwrap());
    {
        let value = rx.borrow();
        assert_eq!((*value, value.has_changed()), (2, true));
    }
    assert!(rx.has_changed().unwrap(), "borrow does not mark it seen");
    {
        let value = rx.borrow_and_update();
        assert_eq!((*value, value.has_changed()), (2, true));
    }
    assert!(!rx.has_changed().unwrap());
    assert!(
        other.has_changed().unwrap(),
        "each receiver keeps its own seen mark"
    );
    other.mark_unchanged();
    assert!(!other.has_changed().unwrap());
    other.mark_changed();
    assert!(other.has_changed().unwrap());

    let late = tx.subscribe();
    assert!(!late.has_changed().unwrap());
    assert_eq!(tx.receiver_count(), 3);
}

#[test]
fn changed_waits_for_a_change_and_fails_once_the_sender_is_gone_and_all_is_seen() {
    let waker = Arc::new(CountingWaker::default());
    let (tx, mut rx) = watch::channel("a");
    {
        let mut changed = pin!(rx.changed());
        assert!(waker.poll(changed.as_mut()).is_pending());
        assert!(!tx.send_if_modified(|_| false), "no change, no wake");
        assert_eq!(waker.wakes(), 0);
        tx.send("b").unwrap();
        assert_eq!(waker.wakes(), 1);
        assert_eq!(waker.poll(changed.as_mut()), Poll::Ready(Ok(())));
    }
    assert_eq!(*rx.borrow(), "b");
    assert!(!rx.has_changed().unwrap(), "changed marks the value seen");

    tx.send("c").unwrap();
    drop(tx);
    assert!(rx.has_changed().is_err());
    assert_eq!(
        waker.poll(pin!(rx.changed())),
        Poll::Ready(Ok(())),
        "a change made before the sender went is still reported"
    );
    assert_eq!(*rx.borrow(), "c");
    assert!(waker.poll(pin!(rx.changed())).map(|r| r.is_err()) == Poll::Ready(true));
}

#[test]
fn the_senders_drop_wakes_a_waiting_receiver() {
    let waker = Arc::new(CountingWaker::default());
    let (tx, mut rx) = watch::channel(());
    let mut changed = pin!(rx.changed());
    assert!(waker.poll(changed.as_mut()).is_pending());
    drop(tx);
    assert_eq!(waker.wakes(), 1);
    assert!(matches!(waker.poll(changed.as_mut()), Poll::Ready(Err(_))));
}

#[test]
fn send_fails_without_receivers_but_send_replace_and_send_modify_store_anyway() {
    let (tx, rx) = watch::channel(1);
    assert!(!tx.is_closed());
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send(2).unwrap_err().0, 2);
    assert_eq!(*tx.borrow(), 1, "a failed send changes nothing");
    assert_eq!(tx.send_replace(3), 1);
    tx.send_modify(|n| *n += 1);
    assert_eq!(*tx.borrow(), 4);
    let rx = tx.subscribe();
    assert_eq!(*rx.borrow(), 4);
    assert!(tx.same_channel(&rx));
}

#[test]
fn closed_completes_when_the_last_receiver_goes() {
    let waker = Arc::new(CountingWaker::default());
    let (tx, rx) = watch::channel(0);
    let rx2 = rx.clone();
    let mut closed = pin!(tx.closed());
    assert!(waker.poll(closed.as_mut()).is_pending());
    drop(rx);
    assert!(waker.poll(closed.as_mut()).is_pending());
    drop(rx2);
    assert_eq!(waker.wakes(), 1);
    assert_eq!(waker.poll(closed.as_mut()), Poll::Ready(()));
}

#[test]
fn wait_for_checks_now_then_on_each_change() {
    let waker = Arc::new(CountingWaker::default());
    let (tx, mut rx) = watch::channel(5);
    match waker.poll(pin!(rx.wait_for(|n| *n == 5))) {
        Poll::Ready(Ok(value)) => assert_eq!(*value, 5, "a condition that holds now completes at once"),
        _ => panic!("expected wait_for to complete at once"),
    }
    {
        let mut wait = pin!(rx.wait_for(|n| *n >= 7));
        assert!(waker.poll(wait.as_mut()).is_pending());
        tx.send(6).unwrap();
        assert!(waker.poll(wait.as_mut()).is_pending());
        tx.send(8).unwrap();
        match waker.poll(wait.as_mut()) {
            Poll::Ready(Ok(value)) => assert_eq!(*value, 8),
            other => panic!("expected the value 8, got {:?}", other.map(|r| r.map(|v| *v))),
        }
    }
    assert!(!rx.has_changed().unwrap(), "the value returned is marked seen");
    drop(tx);
    assert!(matches!(
        waker.poll(pin!(rx.wait_for(|n| *n > 100))),
        Poll::Ready(Err(_))
    ));
}

#[test]
fn a_receiver_task_follows_a_sender_task_to_the_last_value() {
    run_with_timeout("watch_across_tasks", || {
        runtime(2).block_on(async {
            let (tx, mut rx) = watch::channel(0u32);
            let sender = heist::spawn(async move {
                for i in 1..=1_000 {
                    tx.send(i).unwrap();
                    if i % 16 == 0 {
                        heist::task::yield_now().await;
                    }
                }
            });
            let mut last = 0;
            while rx.changed().await.is_ok() {
                let value = *rx.borrow_and_update();
                assert!(value > last, "values only move forward: {last} then {value}");
                last = value;
            }
            sender.await.unwrap();
            assert_eq!(last, 1_000);
        })
    });
}

#[test]
fn the_waiting_futures_can_move_into_spawned_tasks() {
    fn assert_send<T: Send>(_: &T) {}
    let (tx, mut rx) = watch::channel(0);
    assert_send(&rx.changed());
    assert_send(&rx.wait_for(|_| true));
    assert_send(&tx.closed());
}

#[test]
fn a_sender_made_alone_keeps_its_value_for_later_receivers() {
    let tx = watch::Sender::new(1);
    assert!(tx.is_closed());
    tx.send_replace(2);
    let rx = tx.subscribe();
    assert_eq!(*rx.borrow(), 2);
    tx.send(3).unwrap();
    assert!(rx.has_changed().unwrap());
}

#[test]
fn cloned_senders_close_the_channel_only_when_the_last_goes() {
    let (tx, mut rx) = watch::channel(0);
    let tx2 = tx.clone();
    assert_eq!(tx.sender_count(), 2);
    drop(tx);
    assert!(rx.has_changed().is_ok(), "a sender is still there");
    tx2.send(1).unwrap();
    assert_eq!(*rx.borrow_and_update(), 1);
    drop(tx2);
    assert!(rx.has_changed().is_err());
}

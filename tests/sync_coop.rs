//! Every `heist::sync` operation that can be always ready spends the task's cooperative
//! budget: run 300 times in a row in a heist task, always ready, it must come back `Pending`
//! (and be woken at once) at least twice, once per 128 operations. An operation that spent
//! no budget would never be pending here.

mod common;

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use common::{run_with_timeout, runtime};
use heist::sync::{Notify, OnceCell, Semaphore, SetOnce, broadcast, mpsc, watch};

const OPERATIONS: usize = 300;
/// heist's budget is 128 operations a poll.
const MIN_PENDING: usize = OPERATIONS / 128;

/// Awaits `future`, counting the polls that came back `Pending` into `pending`.
async fn counting<F: Future>(future: F, pending: &mut usize) -> F::Output {
    let mut future = pin!(future);
    poll_fn(|cx| match future.as_mut().poll(cx) {
        Poll::Ready(output) => Poll::Ready(output),
        Poll::Pending => {
            *pending += 1;
            Poll::Pending
        }
    })
    .await
}

/// Runs `body` in a spawned heist task (where the budget applies) and checks what it counted.
fn check<F>(what: &str, body: F)
where
    F: Future<Output = usize> + Send + 'static,
{
    let pending = run_with_timeout(what, || {
        let rt = runtime(1);
        rt.block_on(rt.spawn(body)).unwrap()
    });
    assert!(
        pending >= MIN_PENDING,
        "{what}: {pending} pending polls in {OPERATIONS} always-ready operations"
    );
}

#[test]
fn bounded_mpsc_send_reserve_and_recv_spend_the_budget() {
    check("mpsc send/recv", async {
        let (tx, mut rx) = mpsc::channel(4);
        let mut pending = 0;
        for i in 0..OPERATIONS {
            counting(tx.send(i), &mut pending).await.unwrap();
            counting(rx.recv(), &mut pending).await.unwrap();
        }
        pending
    });
    check("mpsc reserve", async {
        let (tx, _rx) = mpsc::channel::<u8>(4);
        let mut pending = 0;
        for _ in 0..OPERATIONS {
            drop(counting(tx.reserve(), &mut pending).await.unwrap());
        }
        pending
    });
    check("mpsc recv_many", async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut pending = 0;
        let mut buffer = Vec::new();
        for i in 0..OPERATIONS {
            tx.send(i).unwrap();
            counting(rx.recv_many(&mut buffer, 4), &mut pending).await;
        }
        pending
    });
}

#[test]
fn broadcast_and_watch_receives_spend_the_budget() {
    check("broadcast recv", async {
        let (tx, mut rx) = broadcast::channel(4);
        let mut pending = 0;
        for i in 0..OPERATIONS {
            tx.send(i).unwrap();
            counting(rx.recv(), &mut pending).await.unwrap();
        }
        pending
    });
    check("watch changed", async {
        let (tx, mut rx) = watch::channel(0);
        let mut pending = 0;
        for i in 0..OPERATIONS {
            tx.send(i).unwrap();
            counting(rx.changed(), &mut pending).await.unwrap();
        }
        pending
    });
    check("watch wait_for", async {
        let (_tx, mut rx) = watch::channel(0);
        let mut pending = 0;
        for _ in 0..OPERATIONS {
            drop(counting(rx.wait_for(|_| true), &mut pending).await.unwrap());
        }
        pending
    });
}

#[test]
fn semaphore_notify_and_cells_spend_the_budget() {
    check("semaphore acquire_many", async {
        let semaphore = Semaphore::new(2);
        let mut pending = 0;
        for _ in 0..OPERATIONS {
            drop(counting(semaphore.acquire_many(2), &mut pending).await.unwrap());
        }
        pending
    });
    check("notified_owned", async {
        let notify = Arc::new(Notify::new());
        let mut pending = 0;
        for _ in 0..OPERATIONS {
            notify.notify_one();
            counting(notify.clone().notified_owned(), &mut pending).await;
        }
        pending
    });
    check("OnceCell get_or_init", async {
        let cell = OnceCell::new_with(Some(1));
        let mut pending = 0;
        for _ in 0..OPERATIONS {
            counting(cell.get_or_init(|| async { 2 }), &mut pending).await;
        }
        pending
    });
    check("SetOnce wait", async {
        let once = SetOnce::new_with(Some(1));
        let mut pending = 0;
        for _ in 0..OPERATIONS {
            counting(once.wait(), &mut pending).await;
        }
        pending
    });
}

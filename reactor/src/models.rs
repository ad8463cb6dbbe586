//! Models of the readiness hand-shakes: every interleaving under loom
//! (`RUSTFLAGS="--cfg loom" cargo test -p heist-reactor --release --lib`), once on real threads
//! in a normal `cargo test` and under miri.

use crate::source::{Direction, Source};
use crate::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::sync::thread;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

struct CountWakes(AtomicUsize);

impl Wake for CountWakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn counting_waker() -> (Arc<CountWakes>, Waker) {
    let count = Arc::new(CountWakes(AtomicUsize::new(0)));
    (count.clone(), Waker::from(count))
}

fn event(source: &Source) {
    let mut wakers = Vec::new();
    let readable = crate::source::ReadyEvent {
        readable: true,
        ..Default::default()
    };
    source.set_ready(readable, &mut wakers);
    wakers.into_iter().for_each(Waker::wake);
}

/// Uses up a new source's initial readiness, as a read that got `WouldBlock` would.
fn drain(source: &Source, cx: &mut Context<'_>) {
    let Poll::Ready(Ok(ready)) = source.poll_ready(Direction::Read, cx) else {
        panic!("a new source starts out ready");
    };
    source.clear(ready);
}

/// An event that races a task going to sleep on the source either is seen by the task or
/// wakes it.
#[test]
fn event_racing_a_waiter_is_never_lost() {
    crate::sync::model(|| {
        let source = Arc::new(Source::new());
        let (wakes, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        drain(&source, &mut cx);

        let events = thread::spawn({
            let source = source.clone();
            move || event(&source)
        });
        let first = source.poll_ready(Direction::Read, &mut cx);
        events.join().unwrap();
        if first.is_pending() {
            assert_eq!(wakes.0.load(SeqCst), 1, "the event was lost");
        }
        assert!(source.poll_ready(Direction::Read, &mut cx).is_ready());
    });
}

/// The ABA case: a task that saw readiness, tried, and got `WouldBlock` clears readiness;
/// an event that arrived after its look must survive that clear.
#[test]
fn clear_after_would_block_never_erases_a_newer_event() {
    crate::sync::model(|| {
        let source = Arc::new(Source::new());
        let (_, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        drain(&source, &mut cx);
        event(&source);

        let events = thread::spawn({
            let source = source.clone();
            move || event(&source)
        });
        let Poll::Ready(Ok(seen)) = source.poll_ready(Direction::Read, &mut cx) else {
            panic!("an event made the source readable");
        };
        source.clear(seen);
        events.join().unwrap();
        if seen.tick() != source.tick() {
            assert!(
                source.poll_ready(Direction::Read, &mut cx).is_ready(),
                "a clear erased an event it never saw"
            );
        }
    });
}

/// A source deleted while a wait is dispatching its event: the event reaches no one, not even
/// a new source that took over the same slot.
#[cfg(loom)]
#[test]
fn deregistration_racing_dispatch_reaches_no_stranger() {
    use crate::Reactor;
    use crate::model::ModelSource;
    crate::sync::model(|| {
        let reactor = Arc::new(Reactor::new().unwrap());
        let old = ModelSource::with_reactor(reactor.clone()).unwrap();
        old.make_readable();
        let waiter = thread::spawn({
            let reactor = reactor.clone();
            move || reactor.poll(None).unwrap()
        });
        let old_key = old.key();
        drop(old);
        let new = ModelSource::with_reactor(reactor.clone()).unwrap();
        assert_eq!(waiter.join().unwrap(), 1);
        assert_ne!(new.key(), old_key, "a reused slot has a new generation");
        assert_eq!(new.ticks(), 0, "the old source's event reached the new one");
    });
}

/// A task waiting on both directions (`ready(READABLE | WRITABLE)`) is listed in both: an
/// event in either, racing its sleep, is seen or wakes it; and once it forgets its entries,
/// no waker is left behind in either direction.
#[test]
fn event_in_either_direction_reaches_a_waiter_on_both() {
    crate::sync::model(|| {
        let source = Arc::new(Source::new());
        let (wakes, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let both = Direction::Read.bit() | Direction::Write.bit();
        // A new source is ready both ways; a WouldBlock in both clears that.
        let Some(Ok((seen, _))) = source.check_interest(both) else {
            panic!("a new source starts out ready");
        };
        source.clear(seen);

        let events = thread::spawn({
            let source = source.clone();
            move || {
                let mut wakers = Vec::new();
                let writable = crate::source::ReadyEvent {
                    writable: true,
                    ..Default::default()
                };
                source.set_ready(writable, &mut wakers);
                wakers.into_iter().for_each(Waker::wake);
            }
        });
        let mut ids = [None; 2];
        let first = source.poll_interest_listed(both, &mut cx, &mut ids);
        events.join().unwrap();
        if first.is_pending() {
            assert_eq!(wakes.0.load(SeqCst), 1, "the write event was lost");
        }
        let Poll::Ready(Ok((_, ready))) = source.poll_interest_listed(both, &mut cx, &mut ids) else {
            panic!("the write event made the source ready");
        };
        assert!(ready.is_writable() && !ready.is_readable(), "{ready:?}");
        ids.into_iter().flatten().for_each(|id| source.forget(id));
        assert!(
            !source.has_waiters(Direction::Read),
            "a read entry was left behind"
        );
        assert!(
            !source.has_waiters(Direction::Write),
            "a write entry was left behind"
        );
    });
}

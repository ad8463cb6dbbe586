//! Models of the driver's hand-shakes: every interleaving under loom
//! (`RUSTFLAGS="--cfg loom" cargo test -p heist-timer --release --lib`), once on real threads
//! in a normal `cargo test` and under miri.

use crate::driver::{Driver, ShutDown};
use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use crate::sync::thread;
use std::sync::Arc;
use std::task::{Wake, Waker};

/// A waker that counts its wakes.
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

/// A timer registered while a thread settles down to sleep on the timers is either seen by
/// that sleeper (it will wake in time by itself) or wakes it.
#[test]
fn registration_racing_the_sleeper_is_never_slept_through() {
    crate::sync::model(|| {
        let driver = Arc::new(Driver::new(2));
        let (sleeper_wakes, sleeper) = counting_waker();
        let registrar = {
            let driver = driver.clone();
            thread::spawn(move || {
                let (_, task) = counting_waker();
                driver.register(1, 5, &task).unwrap().1
            })
        };
        let sleep = driver
            .try_sleep(&sleeper)
            .expect("nobody else sleeps on the timers");
        let wakes_at = sleep.until_tick();
        let tick = registrar.join().unwrap();
        assert!(
            wakes_at <= tick || sleeper_wakes.0.load(SeqCst) > 0,
            "the sleeper would sleep until {wakes_at} past a timer at {tick}"
        );
        drop(sleep);
    });
}

/// Only one thread at a time sleeps on the timers, and the role is free again once dropped.
#[test]
fn one_sleeper_at_a_time() {
    crate::sync::model(|| {
        let driver = Arc::new(Driver::new(1));
        let other_holds = Arc::new(AtomicBool::new(false));
        let other = {
            let (driver, other_holds) = (driver.clone(), other_holds.clone());
            thread::spawn(move || {
                let (_, waker) = counting_waker();
                if let Some(sleep) = driver.try_sleep(&waker) {
                    other_holds.store(true, SeqCst);
                    other_holds.store(false, SeqCst);
                    drop(sleep);
                    return true;
                }
                false
            })
        };
        let (_, waker) = counting_waker();
        let mine = driver.try_sleep(&waker).map(|_held_until_this_closure_returns| {
            assert!(
                !other_holds.load(SeqCst),
                "two threads sleep on the timers at once"
            );
        });
        let theirs = other.join().unwrap();
        let again = driver.try_sleep(&waker);
        assert!(
            again.is_some(),
            "the role was not given back: mine {mine:?}, theirs {theirs}"
        );
    });
}

/// A timer cancelled while a thread fires its shard is removed or fired, exactly one.
#[test]
fn cancel_racing_the_firing_removes_or_fires_exactly_once() {
    crate::sync::model(|| {
        let driver = Arc::new(Driver::new(1));
        let (wakes, waker) = counting_waker();
        let (key, tick) = driver.register(0, 1, &waker).unwrap();
        drop(waker);
        let firer = {
            let driver = driver.clone();
            thread::spawn(move || driver.fire_due_at(1))
        };
        let removed = driver.cancel(0, key, tick);
        let fired = firer.join().unwrap();
        assert_eq!(usize::from(removed) + fired, 1);
        assert_eq!(wakes.0.load(SeqCst), fired);
        // Nothing holds the waker any more: not fired and kept, not removed and kept.
        assert_eq!(Arc::strong_count(&wakes), 1);
    });
}

/// A timer registered while the driver shuts down is either refused or emptied out of its
/// wheel and woken by the shutdown, so that its task learns the timers are gone: never kept
/// in a wheel that nobody will fire.
#[test]
fn registration_racing_shutdown_is_refused_or_woken() {
    crate::sync::model(|| {
        let driver = Arc::new(Driver::new(2));
        let closer = {
            let driver = driver.clone();
            thread::spawn(move || driver.shutdown())
        };
        let (wakes, waker) = counting_waker();
        let registered = driver.register(1, 5, &waker);
        drop(waker);
        closer.join().unwrap();
        match registered {
            Ok((key, _)) => {
                assert_eq!(wakes.0.load(SeqCst), 1, "a registered timer was not woken");
                let (_, other) = counting_waker();
                assert!(!driver.update_waker(1, key, &other), "the entry was kept");
            }
            Err(ShutDown) => assert_eq!(wakes.0.load(SeqCst), 0),
        }
        assert!(driver.is_shut_down() && !driver.has_pending());
        // Nothing holds the waker any more.
        assert_eq!(Arc::strong_count(&wakes), 1);
        assert_eq!(driver.register(0, 5, &counting_waker().1), Err(ShutDown));
    });
}

/// The paused clock's hand-shake: a thread that stops inhibiting auto-advance (a `block_on`
/// thread falling asleep, a blocking job ending) while a worker settles down to sleep on the
/// timers. Either the sleeper sees no inhibitor left (and auto-advances) or it is woken to
/// look again: never asleep with no timeout while the runtime could move the clock.
#[test]
fn allowing_auto_advance_racing_the_sleeper_is_never_missed() {
    crate::sync::model(|| {
        let driver = Arc::new(Driver::new(1));
        driver.pause();
        let (_, task) = counting_waker();
        driver.register(0, 1_000_000, &task).unwrap();
        driver.inhibit_auto_advance();
        let (sleeper_wakes, sleeper) = counting_waker();
        let allower = {
            let driver = driver.clone();
            thread::spawn(move || driver.allow_auto_advance())
        };
        let sleep = driver
            .try_sleep(&sleeper)
            .expect("nobody else sleeps on the timers");
        assert!(sleep.timeout().is_none(), "a paused clock's sleep has no timeout");
        assert!(sleep.paused_until().is_some(), "a timer is pending");
        let inhibited = driver.auto_advance_inhibited();
        allower.join().unwrap();
        assert!(
            !inhibited || sleeper_wakes.0.load(SeqCst) > 0,
            "the sleeper saw an inhibitor and nobody woke it when it left"
        );
        assert!(driver.auto_advance(&sleep) || inhibited);
        drop(sleep);
    });
}

/// `advance` fires exactly the timers due by the new time, and `now` follows it.
#[test]
fn advance_fires_what_is_due_by_then() {
    crate::sync::model(|| {
        let driver = Arc::new(Driver::new(2));
        driver.pause();
        let start = driver.now();
        let (soon_wakes, soon) = counting_waker();
        let (late_wakes, late) = counting_waker();
        let tick = |after: std::time::Duration| driver.tick_for(start + after);
        driver
            .register(0, tick(std::time::Duration::from_secs(1)), &soon)
            .unwrap();
        driver
            .register(1, tick(std::time::Duration::from_secs(2)), &late)
            .unwrap();
        assert_eq!(driver.advance(std::time::Duration::from_secs(1)), 1);
        assert_eq!(driver.now() - start, std::time::Duration::from_secs(1));
        assert_eq!((soon_wakes.0.load(SeqCst), late_wakes.0.load(SeqCst)), (1, 0));
    });
}

//! Error cases: invalid configuration, use outside a runtime, `block_on` on
//! a worker thread, and the error types themselves.

mod common;

use std::error::Error;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use common::{panic_message, run_with_timeout, runtime};
use heist::runtime::{Builder, Handle, TryCurrentError};
use heist::task::JoinError;
use tokio::sync::oneshot;

#[test]
fn zero_worker_threads_is_invalid_input() {
    match Builder::new().worker_threads(0).build() {
        Ok(_) => panic!("building a runtime with 0 worker threads succeeded"),
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "got {e:?}"),
    }
}

#[test]
#[should_panic(expected = "outside a heist runtime")]
fn spawn_outside_a_runtime_panics() {
    drop(heist::spawn(async {}));
}

#[test]
fn every_spawn_path_outside_a_runtime_panics_with_the_message() {
    fn assert_outside_panic(what: &str, f: impl FnOnce()) {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(()) => panic!("{what} outside a runtime did not panic"),
            Err(payload) => {
                let msg = panic_message(&*payload);
                assert!(
                    msg.contains("outside a heist runtime"),
                    "{what}: unexpected panic message {msg:?}"
                );
            }
        }
    }
    assert_outside_panic("heist::spawn", || drop(heist::spawn(async { 1 })));
    assert_outside_panic("heist::task::spawn", || drop(heist::task::spawn(async { 1 })));

    // Still outside after a runtime was entered and left on this thread.
    let rt = runtime(1);
    let h = {
        let _guard = rt.enter();
        heist::spawn(async { 2 })
    };
    assert_eq!(rt.block_on(h).unwrap(), 2);
    assert_outside_panic("heist::spawn after the enter guard was dropped", || {
        drop(heist::spawn(async { 1 }))
    });
    assert_eq!(rt.block_on(async { 3 }), 3);
    assert_outside_panic("heist::spawn after block_on returned", || {
        drop(heist::spawn(async { 1 }))
    });
    drop(rt);
    assert_outside_panic("heist::spawn after the runtime was dropped", || {
        drop(heist::spawn(async { 1 }))
    });
}

#[test]
fn try_current_outside_a_runtime_is_an_error() {
    let err: TryCurrentError = match Handle::try_current() {
        Ok(_) => panic!("Handle::try_current() succeeded outside a runtime"),
        Err(e) => e,
    };
    assert!(
        !err.to_string().is_empty(),
        "TryCurrentError has an empty Display"
    );
    let boxed: Box<dyn Error> = Box::new(err);
    assert!(!boxed.to_string().is_empty());
}

#[test]
#[should_panic]
fn handle_current_outside_a_runtime_panics() {
    let _ = Handle::current();
}

#[test]
fn block_on_on_a_worker_thread_panics() {
    run_with_timeout("block_on_on_worker", || {
        let rt = runtime(2);
        let handle = rt.handle().clone();
        let task = rt.spawn(async move { handle.block_on(async { 1 }) });
        let err = rt
            .block_on(task)
            .expect_err("Handle::block_on on a worker thread must panic");
        assert!(err.is_panic(), "expected a panic, got {err:?}");
        let msg = panic_message(&*err.into_panic());
        assert!(msg.contains("worker thread"), "unexpected panic message {msg:?}");

        // A handle of another runtime is refused on a worker thread too.
        let other = runtime(1);
        let other_handle = other.handle().clone();
        let task = rt.spawn(async move { other_handle.block_on(async { 1 }) });
        let err = rt
            .block_on(task)
            .expect_err("block_on on a worker thread must panic");
        assert!(err.is_panic(), "expected a panic, got {err:?}");
        let msg = panic_message(&*err.into_panic());
        assert!(msg.contains("worker thread"), "unexpected panic message {msg:?}");

        // The runtime survives.
        assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
    });
}

#[test]
fn join_error_describes_panics_and_cancellations() {
    fn assert_error<E: Error + std::fmt::Debug + std::fmt::Display + 'static>() {}
    assert_error::<JoinError>();
    assert_error::<TryCurrentError>();

    run_with_timeout("join_error_traits", || {
        let rt = runtime(1);

        let panicked = rt.block_on(rt.spawn(async {
            if true {
                panic!("join error display test");
            }
        }));
        let err = panicked.expect_err("expected a panic");
        assert!(err.is_panic() && !err.is_cancelled());
        assert!(!err.to_string().is_empty(), "empty Display for a panic JoinError");
        assert!(!format!("{err:?}").is_empty());

        let (_keep, never) = oneshot::channel::<()>();
        let pending = rt.spawn(async move {
            let _ = never.await;
        });
        pending.abort();
        let err = rt.block_on(pending).expect_err("expected a cancellation");
        assert!(err.is_cancelled() && !err.is_panic());
        assert!(
            !err.to_string().is_empty(),
            "empty Display for a cancelled JoinError"
        );
        let boxed: Box<dyn Error> = Box::new(err);
        assert!(!boxed.to_string().is_empty());
    });
}

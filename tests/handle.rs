//! `Handle::current` / `Handle::try_current` inside tasks and `block_on`,
//! and using a `Handle` from plain threads.

mod common;

use std::thread;

use common::{run_with_timeout, runtime};
use heist::runtime::Handle;

#[test]
fn handle_is_clone_send_sync() {
    fn assert_clone_send_sync<T: Clone + Send + Sync + 'static>() {}
    assert_clone_send_sync::<Handle>();
}

#[test]
fn handle_current_inside_block_on_and_tasks() {
    run_with_timeout("handle_current", || {
        // Two runtimes with different worker counts, so each Handle can be
        // told apart by its metrics.
        let three = runtime(3);
        let one = runtime(1);

        for (rt, workers) in [(&three, 3), (&one, 1)] {
            rt.block_on(async move {
                // Inside block_on.
                let h = Handle::current();
                assert_eq!(h.metrics().num_workers(), workers);
                let h2 = Handle::try_current().expect("try_current inside block_on");
                assert_eq!(h2.metrics().num_workers(), workers);

                // Inside a task spawned through the current handle.
                let seen = h
                    .spawn(async { Handle::current().metrics().num_workers() })
                    .await
                    .expect("task failed");
                assert_eq!(seen, workers);

                // A handle obtained inside a task spawns onto the same runtime.
                let nested = heist::spawn(async {
                    let h = Handle::try_current().expect("try_current inside a task");
                    h.spawn(async { Handle::current().metrics().num_workers() })
                        .await
                        .expect("nested task failed")
                })
                .await
                .expect("task failed");
                assert_eq!(nested, workers);
            });
            assert!(
                Handle::try_current().is_err(),
                "the runtime context leaked out of block_on"
            );
        }

        // Tasks spawned with Runtime::spawn see their runtime too.
        let seen = three
            .block_on(three.spawn(async { Handle::current().metrics().num_workers() }))
            .expect("task failed");
        assert_eq!(seen, 3);
        let seen = one
            .block_on(one.spawn(async { Handle::current().metrics().num_workers() }))
            .expect("task failed");
        assert_eq!(seen, 1);
    });
}

#[test]
fn handle_from_a_plain_thread() {
    run_with_timeout("handle_plain_thread", || {
        let rt = runtime(2);
        let handle = rt.handle().clone();
        let from_thread = thread::spawn(move || {
            assert!(Handle::try_current().is_err());
            let task = handle.spawn(async { 20 });
            let blocking = handle.spawn_blocking(|| 1);
            handle.block_on(async move {
                // Inside Handle::block_on the runtime is current.
                let inner = heist::spawn(async { 1 });
                task.await.unwrap() + blocking.await.unwrap() + inner.await.unwrap()
            })
        })
        .join()
        .expect("plain thread panicked");
        assert_eq!(from_thread, 22);
    });
}

#[test]
fn enter_guard_sets_the_current_runtime() {
    run_with_timeout("enter_guard", || {
        let rt = runtime(2);
        assert!(Handle::try_current().is_err());
        let task = {
            let _guard = rt.enter();
            assert_eq!(Handle::current().metrics().num_workers(), 2);
            heist::spawn(async { 9 })
        };
        assert!(
            Handle::try_current().is_err(),
            "the enter guard did not restore the context"
        );
        assert_eq!(rt.block_on(task).unwrap(), 9);
    });
}

#[test]
fn enter_guards_dropped_out_of_order_panic_saying_so() {
    run_with_timeout("enter_guards_out_of_order", || {
        let one = runtime(1);
        let two = runtime(2);
        let first = one.enter();
        {
            // Nested the right way round: the newer guard goes first.
            let _inner = two.enter();
            assert_eq!(Handle::current().metrics().num_workers(), 2);
        }
        assert_eq!(Handle::current().metrics().num_workers(), 1);
        let second = two.enter();
        // Dropping `first` now would leave `two` current, and restore `one` (maybe dropped by
        // then) when `second` goes.
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(first)))
            .expect_err("dropping the older EnterGuard first did not panic");
        let message = common::panic_message(&*panic);
        assert!(
            message.contains("reverse order of their creation"),
            "unclear message: {message}"
        );
        drop(second);
    });
}

//! `heist::task_local!`: values scoped to a future's polls, whichever thread polls it.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use common::{panic_message, run_with_timeout};
use heist::runtime::Builder;

heist::task_local! {
    static NUMBER: u32;
    /// A doc comment and a `pub` are kept.
    pub static NAME: String;
}

heist::task_local!(static NOT_SEND: Rc<Cell<u32>>);

#[test]
fn the_value_follows_the_future_across_workers_and_awaits() {
    run_with_timeout("follows_future", || {
        let rt = Builder::new_multi_thread().worker_threads(4).build().unwrap();
        let tasks: Vec<_> = (0..64u32)
            .map(|i| {
                rt.spawn(NUMBER.scope(i, async move {
                    for _ in 0..10 {
                        // Each await may resume on another worker; every other task has its
                        // own value meanwhile.
                        heist::task::yield_now().await;
                        assert_eq!(NUMBER.get(), i);
                    }
                    heist::time::sleep(Duration::from_millis(1)).await;
                    NUMBER.with(|n| *n)
                }))
            })
            .collect();
        rt.block_on(async {
            for (i, task) in tasks.into_iter().enumerate() {
                assert_eq!(task.await.unwrap(), i as u32);
            }
        });
    });
}

#[test]
fn not_set_outside_the_scope() {
    assert!(NUMBER.try_with(|_| ()).is_err());
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let inside = NUMBER.scope(1, async { NUMBER.get() }).await;
        assert_eq!(inside, 1);
        assert!(
            NUMBER.try_with(|_| ()).is_err(),
            "gone once the scope's future is done"
        );
        // A task spawned inside a scope does not inherit it: the value is the future's.
        let spawned = NUMBER
            .scope(2, async {
                heist::spawn(async { NUMBER.try_with(|n| *n).is_ok() })
                    .await
                    .unwrap()
            })
            .await;
        assert!(!spawned);
    });
}

#[test]
fn scopes_nest_and_restore_the_outer_value() {
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(NAME.scope("outer".into(), async {
        let inner = NAME.scope("inner".into(), async {
            heist::task::yield_now().await;
            NAME.get()
        });
        assert_eq!(inner.await, "inner");
        assert_eq!(NAME.get(), "outer");
        assert_eq!(NAME.sync_scope("sync".into(), || NAME.get()), "sync");
        assert_eq!(NAME.get(), "outer");
    }));
}

#[test]
fn values_that_are_not_send_in_a_local_task() {
    let rt = Builder::new_current_thread().build().unwrap();
    let counter = Rc::new(Cell::new(0));
    let seen = counter.clone();
    rt.block_on(async move {
        heist::task::spawn_local(NOT_SEND.scope(seen, async {
            heist::task::yield_now().await;
            NOT_SEND.with(|c| c.set(c.get() + 1));
        }))
        .await
        .unwrap();
    });
    assert_eq!(counter.get(), 1);
}

#[test]
fn the_future_is_dropped_inside_its_scope() {
    struct ReadsOnDrop(Rc<Cell<Option<u32>>>);
    impl Drop for ReadsOnDrop {
        fn drop(&mut self) {
            self.0.set(NUMBER.try_with(|n| *n).ok());
        }
    }
    let seen = Rc::new(Cell::new(None));
    let guard = ReadsOnDrop(seen.clone());
    let scoped = NUMBER.scope(5, async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    });
    drop(scoped); // never polled
    assert_eq!(seen.get(), Some(5));
}

#[test]
fn with_outside_a_scope_panics_with_what_to_do() {
    let panic = std::panic::catch_unwind(|| NUMBER.with(|n| *n)).unwrap_err();
    let message = panic_message(&*panic);
    assert!(message.contains("inside LocalKey::scope"), "{message}");
}

#[test]
fn a_scope_inside_with_of_the_same_key_panics_with_what_to_do() {
    let panic =
        std::panic::catch_unwind(|| NUMBER.sync_scope(1, || NUMBER.with(|_| NUMBER.sync_scope(2, || ()))))
            .unwrap_err();
    let message = panic_message(&*panic);
    assert!(
        message.contains("enter the scope outside the closure"),
        "{message}"
    );
    assert!(
        NUMBER.try_with(|_| ()).is_err(),
        "the outer scope was left after the panic"
    );
}

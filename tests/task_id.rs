//! `heist::task::{id, try_id}`, `heist::runtime::worker_index`, and
//! `heist::runtime::is_rt_shutdown_err`.

mod common;

use std::collections::HashSet;
use std::future::Future;

use common::{panic_message, run_with_timeout};
use heist::runtime::{Builder, is_rt_shutdown_err, worker_index};
use heist::task::{JoinSet, LocalSet};

#[test]
fn each_task_sees_its_own_id() {
    run_with_timeout("ids", || {
        let rt = Builder::new_multi_thread().worker_threads(2).build().unwrap();
        rt.block_on(async {
            assert_eq!(heist::task::try_id(), None, "block_on's future is no task");
            let mut set = JoinSet::new();
            let mut expected = HashSet::new();
            for _ in 0..100 {
                let abort = set.spawn(async {
                    let before = heist::task::id();
                    heist::task::yield_now().await;
                    assert_eq!(heist::task::id(), before);
                    before
                });
                expected.insert(abort.id());
            }
            let mut seen = HashSet::new();
            while let Some(id) = set.join_next().await {
                seen.insert(id.unwrap());
            }
            assert_eq!(seen, expected);
            let blocking = heist::spawn_blocking(heist::task::try_id);
            let blocking_id = blocking.id();
            assert_eq!(blocking.await.unwrap(), Some(blocking_id));
        });
    });
}

#[test]
fn local_tasks_and_nested_polls_have_their_own_ids() {
    let rt = Builder::new_current_thread().build().unwrap();
    let local = LocalSet::new();
    rt.block_on(async {
        let outer = heist::task::spawn_local(async {
            // The set's tasks are polled inside this task's poll: each sees its own id, and
            // this task's id is back afterwards.
            let local = LocalSet::new();
            let mine = heist::task::id();
            let inner = local.spawn_local(async { heist::task::id() });
            let inner_id = inner.id();
            let seen = local.run_until(inner).await.unwrap();
            assert_eq!(seen, inner_id);
            assert_eq!(heist::task::id(), mine);
            mine
        });
        let outer_id = outer.id();
        assert_eq!(outer.await.unwrap(), outer_id);
        let task = local.spawn_local(async { heist::task::try_id() });
        let id = task.id();
        assert_eq!(local.run_until(task).await.unwrap(), Some(id));
    });
}

#[test]
fn a_futures_destructor_sees_its_tasks_id_when_aborted() {
    struct RecordsId(std::sync::mpsc::Sender<Option<heist::task::Id>>);
    impl Drop for RecordsId {
        fn drop(&mut self) {
            let _ = self.0.send(heist::task::try_id());
        }
    }
    let rt = Builder::new_multi_thread().worker_threads(1).build().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let task = rt.spawn(async move {
        let _record = RecordsId(tx);
        started_tx.send(()).unwrap();
        std::future::pending::<()>().await;
    });
    let id = task.id();
    started_rx.recv().unwrap();
    task.abort();
    assert_eq!(rx.recv().unwrap(), Some(id));
}

#[test]
fn id_outside_a_task_panics_with_what_to_do() {
    let panic = std::panic::catch_unwind(heist::task::id).unwrap_err();
    let message = panic_message(&*panic);
    assert!(message.contains("heist::task::try_id"), "{message}");
}

#[test]
fn worker_index_on_workers_and_elsewhere() {
    run_with_timeout("worker_index", || {
        let rt = Builder::new_multi_thread().worker_threads(3).build().unwrap();
        assert_eq!(worker_index(), None);
        let indexes = rt.block_on(async {
            assert_eq!(worker_index(), None);
            let tasks: Vec<_> = (0..50).map(|_| heist::spawn(async { worker_index() })).collect();
            let mut indexes = Vec::new();
            for task in tasks {
                indexes.push(task.await.unwrap());
            }
            indexes.push(heist::spawn_blocking(worker_index).await.unwrap());
            indexes
        });
        let (blocking, workers) = indexes.split_last().unwrap();
        assert_eq!(*blocking, None, "a blocking thread is no worker");
        assert!(
            workers.iter().all(|index| matches!(index, Some(0..3))),
            "{workers:?}"
        );

        let current = Builder::new_current_thread().build().unwrap();
        let index = current.block_on(async {
            let own = worker_index();
            (own, heist::spawn(async { worker_index() }).await.unwrap())
        });
        assert_eq!(index, (Some(0), Some(0)));
        assert_eq!(worker_index(), None, "not once block_on has returned");
    });
}

#[test]
fn io_on_a_dropped_runtimes_socket_is_a_shutdown_error() {
    run_with_timeout("shutdown_err", || {
        let first = Builder::new_multi_thread().worker_threads(1).build().unwrap();
        let socket = first
            .block_on(heist::net::UdpSocket::bind("127.0.0.1:0"))
            .unwrap();
        drop(first);
        let second = Builder::new_current_thread().build().unwrap();
        let error = second.block_on(socket.recv_from(&mut [0; 8])).unwrap_err();
        assert!(is_rt_shutdown_err(&error), "{error}");
        assert!(error.to_string().contains("has shut down"), "{error}");
        assert!(!is_rt_shutdown_err(&std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused
        )));
    });
}

#[test]
fn a_lookup_dropped_unrun_at_shutdown_is_a_shutdown_error() {
    run_with_timeout("lookup_shutdown", || {
        // One blocking thread, kept busy until the runtime is gone: the lookup's job, queued
        // behind it, is dropped unrun at shutdown.
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        drop(rt.spawn_blocking(move || {
            started_tx.send(()).unwrap();
            let _ = release_rx.recv();
        }));
        started_rx.recv().unwrap();
        let mut lookup = {
            let _entered = rt.enter();
            let mut lookup = Box::pin(heist::net::lookup_host("localhost:80"));
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(
                lookup.as_mut().poll(&mut cx).is_pending(),
                "queued on the blocking pool"
            );
            lookup
        };
        assert_eq!(rt.metrics().blocking_queue_depth(), 1);
        rt.shutdown_background();
        release_tx.send(()).unwrap();
        let other = Builder::new_current_thread().build().unwrap();
        let error = other.block_on(lookup.as_mut()).map(drop).unwrap_err();
        assert!(is_rt_shutdown_err(&error), "{error}");
        assert!(error.to_string().contains("shut down"), "{error}");
    });
}

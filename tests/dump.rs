//! Task dumps: `Handle::dump` lists the unfinished tasks with their spawn location, state, poll
//! count and age.

mod common;

use common::{WAIT, eventually, run_with_timeout, runtime};
use heist::runtime::{Handle, TaskDump, TaskInfo, TaskState};
use heist::task::{Id, JoinSet};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

fn find(dump: &TaskDump, id: Id) -> Option<&TaskInfo> {
    dump.tasks().iter().find(|task| task.id() == id)
}

fn assert_spawned_here(task: &TaskInfo, line: u32) {
    assert!(
        task.location().file().ends_with("dump.rs"),
        "task {} spawned at {}, not in tests/dump.rs",
        task.id(),
        task.location()
    );
    assert_eq!(task.location().line(), line, "spawn line of task {}", task.id());
}

#[test]
fn idle_tasks_are_listed_with_their_spawn_location() {
    run_with_timeout("idle_tasks_are_listed_with_their_spawn_location", || {
        let rt = runtime(2);
        let mut senders = Vec::new();
        let mut ids = Vec::new();
        let mut line = 0;
        for _ in 0..10 {
            let (tx, rx) = oneshot::channel::<()>();
            senders.push(tx);
            line = line!() + 1;
            let handle = rt.spawn(async move { rx.await.is_ok() });
            ids.push(handle.id());
        }
        eventually("every task polled once and waiting", || {
            let dump = rt.dump();
            ids.iter()
                .all(|&id| find(&dump, id).is_some_and(|t| t.state() == TaskState::Idle && t.polls() == 1))
        });
        let dump = rt.dump();
        assert_eq!(dump.len(), ids.len(), "dump:\n{dump}");
        for &id in &ids {
            let task = find(&dump, id).expect("listed");
            assert_spawned_here(task, line);
            assert_eq!(task.state(), TaskState::Idle);
            assert_eq!(task.polls(), 1);
        }
        // The same through a Handle, from a thread outside the runtime.
        assert_eq!(rt.handle().dump().len(), ids.len());
        // One line per task, each naming its spawn location.
        let text = dump.to_string();
        assert_eq!(text.lines().count(), ids.len(), "{text}");
        assert!(
            text.lines()
                .all(|l| l.contains(&format!("dump.rs:{line}:")) && l.contains("idle")),
            "{text}"
        );
        drop(senders);
    });
}

#[test]
fn poll_count_follows_wakes() {
    run_with_timeout("poll_count_follows_wakes", || {
        let rt = runtime(2);
        let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
        let (ack_tx, ack_rx) = std::sync::mpsc::channel::<u32>();
        let handle = rt.spawn(async move {
            while let Some(n) = rx.recv().await {
                ack_tx.send(n).unwrap();
            }
        });
        // Sent before the first poll, a message would be taken by it: wait for that poll.
        eventually("the first poll", || {
            find(&rt.dump(), handle.id()).is_some_and(|t| t.state() == TaskState::Idle && t.polls() == 1)
        });
        for n in 1..=5 {
            tx.send(n).unwrap();
            assert_eq!(ack_rx.recv_timeout(WAIT).expect("ack"), n);
            // The first poll found the channel empty; each message took one more.
            let expected = n + 1;
            eventually("the task waits again", || {
                find(&rt.dump(), handle.id()).is_some_and(|t| t.state() == TaskState::Idle)
            });
            let dump = rt.dump();
            assert_eq!(
                find(&dump, handle.id()).expect("listed").polls(),
                expected,
                "{dump}"
            );
        }
        drop(tx);
        rt.block_on(handle).unwrap();
    });
}

#[test]
fn a_task_dumping_itself_is_running() {
    run_with_timeout("a_task_dumping_itself_is_running", || {
        let rt = runtime(2);
        let line = line!() + 1;
        let handle = rt.spawn(async {
            heist::task::yield_now().await;
            Handle::current().dump()
        });
        let id = handle.id();
        let dump = rt.block_on(handle).unwrap();
        let me = find(&dump, id).unwrap_or_else(|| panic!("task {id} not in its own dump:\n{dump}"));
        assert_eq!(me.state(), TaskState::Running, "{dump}");
        assert_eq!(me.polls(), 2, "yielded once, dumped in the second poll");
        assert_spawned_here(me, line);
    });
}

#[test]
fn finished_tasks_disappear() {
    run_with_timeout("finished_tasks_disappear", || {
        let rt = runtime(2);
        let (tx, rx) = oneshot::channel::<()>();
        let waiting = rt.spawn(async move { rx.await.is_ok() });
        let done = rt.spawn(async {});
        let (waiting_id, done_id) = (waiting.id(), done.id());
        rt.block_on(done).unwrap();
        // The JoinHandle may see the output a moment before the task leaves the list.
        eventually("the finished task leaves the dump", || {
            find(&rt.dump(), done_id).is_none()
        });
        assert!(find(&rt.dump(), waiting_id).is_some(), "{}", rt.dump());
        tx.send(()).unwrap();
        assert!(rt.block_on(waiting).unwrap());
        eventually("the released task leaves the dump", || rt.dump().is_empty());
    });
}

#[test]
fn blocking_and_join_set_spawns_are_located() {
    run_with_timeout("blocking_and_join_set_spawns_are_located", || {
        let rt = runtime(2);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let blocking_line = line!() + 1;
        let blocking = rt.handle().spawn_blocking(move || rx.recv().is_ok());
        let (set_tx, set_rx) = oneshot::channel::<()>();
        let (set_line, mut set) = rt.block_on(async move {
            let mut set = JoinSet::new();
            let line = line!() + 1;
            set.spawn(async move { set_rx.await.is_ok() });
            (line, set)
        });
        let dump = rt.dump();
        assert_eq!(dump.len(), 2, "{dump}");
        assert_spawned_here(
            find(&dump, blocking.id()).expect("blocking job listed"),
            blocking_line,
        );
        let member = dump.tasks().iter().find(|t| t.id() != blocking.id()).unwrap();
        assert_spawned_here(member, set_line);
        tx.send(()).unwrap();
        set_tx.send(()).unwrap();
        assert!(rt.block_on(blocking).unwrap());
        assert!(
            rt.block_on(async move { set.join_next().await })
                .unwrap()
                .unwrap()
        );
    });
}

#[test]
fn tasks_are_sorted_oldest_first() {
    run_with_timeout("tasks_are_sorted_oldest_first", || {
        let rt = runtime(1);
        let (tx, rx) = oneshot::channel::<()>();
        let old = rt.spawn(async move { rx.await.is_ok() });
        // Spawn times are kept to the millisecond: make the two differ.
        std::thread::sleep(Duration::from_millis(5));
        let (tx2, rx2) = oneshot::channel::<()>();
        let young = rt.spawn(async move { rx2.await.is_ok() });
        let dump = rt.dump();
        let ids: Vec<_> = dump.tasks().iter().map(TaskInfo::id).collect();
        assert_eq!(ids, [old.id(), young.id()], "{dump}");
        let (old_info, young_info) = (&dump.tasks()[0], &dump.tasks()[1]);
        assert!(
            old_info.age() >= young_info.age() + Duration::from_millis(4),
            "{dump}"
        );
        assert!(old_info.spawned_at() < young_info.spawned_at(), "{dump}");
        drop((tx, tx2));
    });
}

#[test]
fn task_pool_spawns_are_located_at_the_caller() {
    run_with_timeout("task_pool_spawns_are_located_at_the_caller", || {
        let rt = runtime(2);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let handle = rt.handle().clone();
        let (lines, mut pool) = rt.block_on(async move {
            let mut pool = heist::task::TaskPool::new(3);
            let spawn_line = line!() + 1;
            let spawned = pool.spawn(std::future::pending::<()>()).await;
            let spawn_on_line = line!() + 1;
            let spawned_on = pool.spawn_on(std::future::pending::<()>(), &handle).await;
            let wait = move || {
                let _ = rx.recv();
            };
            let blocking_line = line!() + 1;
            let blocking = pool.spawn_blocking(wait).await;
            let lines = [
                (spawned.id(), spawn_line),
                (spawned_on.id(), spawn_on_line),
                (blocking.id(), blocking_line),
            ];
            (lines, pool)
        });
        let dump = rt.dump();
        assert_eq!(dump.len(), 3, "{dump}");
        for (id, line) in lines {
            assert_spawned_here(find(&dump, id).expect("pool task listed"), line);
        }
        drop(tx);
        rt.block_on(pool.shutdown());
    });
}

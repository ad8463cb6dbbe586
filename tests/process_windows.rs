//! `heist::process` on Windows: std's children, waited for on the blocking pool. Run under
//! wine in CI (`.ci/run`), with wine's `cmd`.
#![cfg(windows)]

mod common;
#[path = "common/net.rs"]
mod net_common;

use common::run_with_timeout;
use heist::process::{Command, Stdio};
use net_common::on_pending;

#[test]
fn output_and_status_of_a_child() {
    run_with_timeout("output_and_status", || {
        common::runtime(1).block_on(async {
            let output = Command::new("cmd")
                .args(["/C", "echo hi"])
                .output()
                .await
                .unwrap();
            assert!(output.status.success(), "{output:?}");
            assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "hi");
            let status = Command::new("cmd").args(["/C", "exit 3"]).status().await.unwrap();
            assert_eq!(status.code(), Some(3));
        });
    });
}

/// One worker: a task waits for a child that ends only when a second task, on the same
/// worker, closes the child's stdin. A wait that blocked the worker would never let it run.
#[test]
fn waiting_for_a_child_leaves_the_worker_free() {
    run_with_timeout("wait_leaves_worker_free", || {
        common::runtime(1).block_on(async {
            let mut child = Command::new("cmd")
                .args(["/C", "more"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            let stdin = child.stdin.take().expect("stdin was piped");
            let (parked_tx, parked_rx) = heist::sync::oneshot::channel::<()>();
            let waiter = heist::spawn(async move {
                on_pending(child.wait(), move || {
                    let _ = parked_tx.send(());
                })
                .await
            });
            let closer = heist::spawn(async move {
                parked_rx
                    .await
                    .expect("the wait ended before the child's input did");
                drop(stdin);
            });
            closer.await.unwrap();
            let status = waiter.await.unwrap().unwrap();
            assert!(status.success(), "{status:?}");
        });
    });
}

#[test]
fn kill_ends_a_child() {
    run_with_timeout("kill", || {
        common::runtime(1).block_on(async {
            let mut child = Command::new("cmd")
                .args(["/C", "more"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            let _stdin = child.stdin.take();
            assert!(child.try_wait().unwrap().is_none());
            child.kill().await.unwrap();
            assert!(!child.try_wait().unwrap().expect("ended").success());
            assert_eq!(child.id(), None);
        });
    });
}

//! `heist::signal::ctrl_c`, in its own test binary: listening for SIGINT changes what SIGINT
//! does to the whole process for the rest of its life.
//!
//! SIGINT is sent with `raise`, whose handler has run when it returns, so no sleep is needed to
//! know a delivery happened. Before any listener exists, that `raise` would kill this process:
//! the test fails loudly if the handler is not installed.
//!
//! Unix only: delivers SIGINT with `raise` (Windows' Ctrl-C is a console event, not tested here).
#![cfg(unix)]

mod common;
#[path = "common/net.rs"]
mod net_common;

use std::pin::pin;
use std::sync::mpsc;

use common::{WAIT, run_with_timeout, runtime};
use futures_lite::future::poll_once;
use net_common::on_pending;

fn raise_sigint() {
    // SAFETY: a plain system call.
    assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
}

#[test]
fn ctrl_c_resolves_on_the_next_sigint_after_the_call() {
    run_with_timeout("ctrl_c_resolves_on_the_next_sigint_after_the_call", || {
        // Called outside a runtime: the listener is made when first polled instead.
        let outside = heist::signal::ctrl_c();
        let runtime = runtime(2);
        runtime.block_on(async {
            // Called inside: listening from the call on, so a SIGINT before the first poll
            // counts.
            let first = heist::signal::ctrl_c();
            raise_sigint();
            first.await.expect("ctrl_c");

            // A SIGINT before the call does not count for it.
            let mut second = pin!(heist::signal::ctrl_c());
            assert!(
                poll_once(second.as_mut()).await.is_none(),
                "the earlier SIGINT leaked in"
            );
            raise_sigint();
            second.await.expect("ctrl_c");

            let mut outside = pin!(outside);
            assert!(poll_once(outside.as_mut()).await.is_none());
            raise_sigint();
            outside
                .await
                .expect("ctrl_c called outside the runtime, awaited inside");
        });

        // A task parked in ctrl_c is woken through the reactor.
        let (parked_tx, parked_rx) = mpsc::channel();
        let waiter = runtime.spawn(async move {
            on_pending(heist::signal::ctrl_c(), move || parked_tx.send(()).unwrap()).await
        });
        parked_rx
            .recv_timeout(WAIT)
            .expect("the ctrl_c task never parked");
        // SAFETY: plain system calls.
        assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGINT) }, 0);
        runtime.block_on(waiter).unwrap().expect("ctrl_c");
    });
}

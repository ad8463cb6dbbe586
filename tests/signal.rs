//! Signals through the reactor: `heist::signal::unix::signal` listeners receiving signals the
//! test sends to its own process.
//!
//! Two ways to send: `kill(getpid())` directs the signal at the process (any thread may run
//! the handler, possibly after `kill` returns), and `raise` directs it at the calling thread,
//! where POSIX guarantees the handler has run when `raise` returns. The tests that count
//! deliveries use `raise`, so they need no sleep to know a delivery has happened. Tests that
//! send signals hold `SERIAL`, so no test sees another's deliveries. `ctrl_c` (SIGINT) is in
//! `signal_ctrl_c.rs`, its own process.
//!
//! Unix only: `heist::signal::unix` and `libc` signals.
#![cfg(unix)]

mod common;
#[path = "common/net.rs"]
mod net_common;

use std::collections::VecDeque;
use std::io::{self, Read};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread;

use common::{WAIT, run_with_timeout, runtime};
use futures_lite::StreamExt;
use futures_lite::future::poll_once;
use heist::signal::unix::{SignalKind, signal};
use net_common::on_pending;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sends `signum` to the whole process.
fn kill_self(signum: libc::c_int) {
    // SAFETY: plain system calls.
    assert_eq!(
        unsafe { libc::kill(libc::getpid(), signum) },
        0,
        "kill(getpid(), {signum})"
    );
}

/// Sends `signum` to this thread; its handler has run when this returns.
fn raise(signum: libc::c_int) {
    // SAFETY: a plain system call.
    assert_eq!(unsafe { libc::raise(signum) }, 0, "raise({signum})");
}

#[test]
fn a_signal_sent_to_the_process_wakes_a_parked_listener() {
    run_with_timeout("a_signal_sent_to_the_process_wakes_a_parked_listener", || {
        let _serial = serial();
        let runtime = runtime(2);
        let (parked_tx, parked_rx) = mpsc::channel();
        let listener = runtime.spawn(async move {
            let mut usr1 = signal(SignalKind::user_defined1()).expect("listen for SIGUSR1");
            assert_eq!(usr1.kind(), SignalKind::user_defined1());
            // Parked on the listener's socket before the signal is sent: the reactor must
            // wake the task.
            on_pending(usr1.recv(), move || parked_tx.send(()).unwrap()).await
        });
        parked_rx
            .recv_timeout(WAIT)
            .expect("the listener task never parked");
        kill_self(libc::SIGUSR1);
        assert_eq!(runtime.block_on(listener).unwrap(), Some(()));
    });
}

#[test]
fn two_listeners_both_receive_one_delivery() {
    run_with_timeout("two_listeners_both_receive_one_delivery", || {
        let _serial = serial();
        runtime(2).block_on(async {
            let mut a = signal(SignalKind::user_defined2()).unwrap();
            let mut b = signal(SignalKind::user_defined2()).unwrap();
            assert!(poll_once(a.recv()).await.is_none(), "nothing delivered yet");
            raise(libc::SIGUSR2);
            assert_eq!(a.recv().await, Some(()));
            assert_eq!(b.recv().await, Some(()));
            assert!(poll_once(a.recv()).await.is_none(), "one delivery, one recv");
            assert!(poll_once(b.recv()).await.is_none(), "one delivery, one recv");
        });
    });
}

#[test]
fn deliveries_before_a_recv_coalesce_into_one() {
    run_with_timeout("deliveries_before_a_recv_coalesce_into_one", || {
        let _serial = serial();
        runtime(2).block_on(async {
            let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
            for _ in 0..3 {
                raise(libc::SIGUSR1);
            }
            assert_eq!(usr1.recv().await, Some(()));
            assert!(
                poll_once(usr1.recv()).await.is_none(),
                "three deliveries before one recv count as one"
            );
            // Still listening; and the Stream face gives the same.
            raise(libc::SIGUSR1);
            assert_eq!(usr1.next().await, Some(()));
            assert!(poll_once(usr1.next()).await.is_none());
        });
    });
}

#[test]
fn a_listener_sees_only_deliveries_after_it_was_made() {
    run_with_timeout("a_listener_sees_only_deliveries_after_it_was_made", || {
        let _serial = serial();
        runtime(1).block_on(async {
            let mut early = signal(SignalKind::user_defined2()).unwrap();
            raise(libc::SIGUSR2);
            let mut late = signal(SignalKind::user_defined2()).unwrap();
            assert!(poll_once(late.recv()).await.is_none());
            assert_eq!(early.recv().await, Some(()));
        });
    });
}

/// The race the slot protocol exists for: a handler writing to a listener's socket while the
/// listener is dropped, and the freed descriptor numbers being reused at once. Sockets opened
/// right after each drop (which get the freed numbers: Linux hands out the lowest free one)
/// must never receive a byte, the process must not die of SIGPIPE, and a long-lived listener
/// must keep working.
#[test]
fn dropping_listeners_while_deliveries_happen() {
    run_with_timeout("dropping_listeners_while_deliveries_happen", || {
        let _serial = serial();
        let runtime = runtime(2);
        let _enter = runtime.enter();
        let mut steady = signal(SignalKind::user_defined1()).unwrap();

        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let hammer = thread::spawn({
            let (stop, sent) = (stop.clone(), sent.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    kill_self(libc::SIGUSR1);
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        });

        fn assert_untouched(pair: &(StdUnixStream, StdUnixStream), when: &str) {
            let mut buf = [0; 16];
            match (&pair.0).read(&mut buf) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                other => panic!(
                    "a socket that reused a dropped listener's descriptor got {other:?} ({when}): \
                     a signal handler wrote to a closed listener's descriptor"
                ),
            }
        }

        let mut bystanders: VecDeque<(StdUnixStream, StdUnixStream)> = VecDeque::new();
        for round in 0..3_000 {
            let mut listener = signal(SignalKind::user_defined1()).unwrap();
            if round % 2 == 0 {
                // Sometimes drain it first, sometimes drop it with bytes pending.
                let _ = runtime.block_on(poll_once(listener.recv()));
            }
            drop(listener);
            let pair = StdUnixStream::pair().unwrap();
            pair.0.set_nonblocking(true).unwrap();
            bystanders.push_back(pair);
            if bystanders.len() > 64 {
                assert_untouched(&bystanders.pop_front().unwrap(), "during the deliveries");
            }
        }
        stop.store(true, Ordering::Relaxed);
        hammer.join().unwrap();
        for pair in &bystanders {
            assert_untouched(pair, "after the deliveries");
        }
        assert!(sent.load(Ordering::Relaxed) > 0);

        runtime.block_on(async {
            // Whatever the storm left pending, then one more delivery, received.
            let _ = poll_once(steady.recv()).await;
            raise(libc::SIGUSR1);
            assert_eq!(steady.recv().await, Some(()));
        });
    });
}

#[test]
fn signals_that_cannot_be_listened_for_are_refused_with_the_reason() {
    run_with_timeout(
        "signals_that_cannot_be_listened_for_are_refused_with_the_reason",
        || {
            let runtime = runtime(1);
            let _enter = runtime.enter();
            let cases = [
                (libc::SIGKILL, "SIGKILL", "cannot be caught"),
                (libc::SIGSTOP, "SIGSTOP", "cannot be caught"),
                (libc::SIGSEGV, "SIGSEGV", "fault"),
                (libc::SIGBUS, "SIGBUS", "fault"),
                (libc::SIGILL, "SIGILL", "fault"),
                (libc::SIGFPE, "SIGFPE", "fault"),
                (0, "signal 0", "not a signal number"),
                (65, "signal 65", "not a signal number"),
                (-1, "signal -1", "not a signal number"),
            ];
            for (signum, name, why) in cases {
                let error = signal(SignalKind::from_raw(signum)).expect_err(name);
                assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{name}: {error}");
                let message = error.to_string();
                assert!(
                    message.contains(name) && message.contains(why),
                    "{name}: {message}"
                );
            }
            assert_eq!(SignalKind::from_raw(libc::SIGTERM), SignalKind::terminate());
            assert_eq!(SignalKind::interrupt().as_raw_value(), libc::SIGINT);
            assert_eq!(libc::c_int::from(SignalKind::hangup()), libc::SIGHUP);
            for (kind, signum) in [
                (SignalKind::alarm(), libc::SIGALRM),
                (SignalKind::child(), libc::SIGCHLD),
                (SignalKind::io(), libc::SIGIO),
                (SignalKind::pipe(), libc::SIGPIPE),
                (SignalKind::quit(), libc::SIGQUIT),
                (SignalKind::user_defined1(), libc::SIGUSR1),
                (SignalKind::user_defined2(), libc::SIGUSR2),
                (SignalKind::window_change(), libc::SIGWINCH),
            ] {
                assert_eq!(kind.as_raw_value(), signum);
            }
        },
    );
}

#[test]
fn a_signal_has_at_most_64_listeners_at_once() {
    run_with_timeout("a_signal_has_at_most_64_listeners_at_once", || {
        let runtime = runtime(1);
        let _enter = runtime.enter();
        // SIGWINCH: no other test here listens for it.
        let mut listeners: Vec<_> = (0..64)
            .map(|_| signal(SignalKind::window_change()).expect("64 listeners fit"))
            .collect();
        let error = signal(SignalKind::window_change()).expect_err("the 65th does not");
        let message = error.to_string();
        assert!(
            message.contains("too many listeners for SIGWINCH") && message.contains("64"),
            "{message}"
        );
        listeners.pop();
        listeners.push(signal(SignalKind::window_change()).expect("a dropped listener's slot is free again"));
    });
}

/// A real-time signal on Linux; elsewhere (no `SIGRTMIN`) `SIGURG`, ignored by default.
fn signal_no_other_test_uses() -> i32 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return libc::SIGRTMIN() + 2;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    return libc::SIGURG;
}

#[test]
fn recv_returns_none_once_the_runtime_is_gone() {
    run_with_timeout("recv_returns_none_once_the_runtime_is_gone", || {
        let runtime = runtime(1);
        let mut listener = runtime
            .block_on(async { signal(SignalKind::from_raw(signal_no_other_test_uses())) })
            .unwrap();
        drop(runtime);
        assert_eq!(futures_lite::future::block_on(listener.recv()), None);
        assert_eq!(futures_lite::future::block_on(listener.next()), None);
    });
}

#[test]
fn listening_outside_a_runtime_is_an_error_that_says_where() {
    run_with_timeout("listening_outside_a_runtime_is_an_error_that_says_where", || {
        let error = signal(SignalKind::user_defined1()).expect_err("no runtime here");
        assert!(error.to_string().contains("no heist runtime"), "{error}");
    });
}

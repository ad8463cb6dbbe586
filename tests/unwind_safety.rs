//! The handles tokio makes `UnwindSafe` and `RefUnwindSafe` are so here too: code that moves
//! them into `catch_unwind` (a test harness, a panic boundary) compiles unchanged. Each
//! assertion is checked when this file compiles.

use std::panic::{RefUnwindSafe, UnwindSafe};

fn assert_unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}

/// A payload that is neither: the handles' own safety must not depend on it.
type NotUnwindSafe = std::cell::Cell<u8>;

#[test]
fn tasks_and_runtimes() {
    assert_unwind_safe::<heist::task::JoinHandle<NotUnwindSafe>>();
    assert_unwind_safe::<heist::task::AbortHandle>();
}

#[test]
fn sockets() {
    assert_unwind_safe::<heist::net::TcpListener>();
    assert_unwind_safe::<heist::net::TcpStream>();
    assert_unwind_safe::<heist::net::UdpSocket>();
    #[cfg(unix)]
    {
        assert_unwind_safe::<heist::net::UnixListener>();
        assert_unwind_safe::<heist::net::UnixStream>();
        assert_unwind_safe::<heist::net::UnixDatagram>();
    }
}

#[test]
fn channels() {
    use heist::sync::{Notify, mpsc, oneshot};
    assert_unwind_safe::<Notify>();
    assert_unwind_safe::<mpsc::Sender<NotUnwindSafe>>();
    assert_unwind_safe::<mpsc::Receiver<NotUnwindSafe>>();
    assert_unwind_safe::<mpsc::UnboundedSender<NotUnwindSafe>>();
    assert_unwind_safe::<mpsc::UnboundedReceiver<NotUnwindSafe>>();
    assert_unwind_safe::<oneshot::Sender<NotUnwindSafe>>();
    assert_unwind_safe::<oneshot::Receiver<NotUnwindSafe>>();
}

#[test]
fn the_rest_of_sync() {
    use heist::sync::{
        OnceCell, OwnedNotified, OwnedSemaphorePermit, Semaphore, SetOnce, broadcast, mpsc, watch,
    };
    assert_unwind_safe::<Semaphore>();
    assert_unwind_safe::<OwnedSemaphorePermit>();
    assert_unwind_safe::<OwnedNotified>();
    // As tokio's: the cells hold their value, so it must be unwind safe itself.
    assert_unwind_safe::<OnceCell<u8>>();
    assert_unwind_safe::<SetOnce<u8>>();
    assert_unwind_safe::<mpsc::OwnedPermit<NotUnwindSafe>>();
    assert_unwind_safe::<mpsc::WeakSender<NotUnwindSafe>>();
    assert_unwind_safe::<mpsc::WeakUnboundedSender<NotUnwindSafe>>();
    assert_unwind_safe::<broadcast::Sender<NotUnwindSafe>>();
    assert_unwind_safe::<broadcast::Receiver<NotUnwindSafe>>();
    assert_unwind_safe::<watch::Sender<NotUnwindSafe>>();
    assert_unwind_safe::<watch::Receiver<NotUnwindSafe>>();
}

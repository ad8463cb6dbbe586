//! Waiting for a job on the runtime's blocking pool without blocking the waiting thread: the
//! job fills a slot and wakes the task; a job dropped unrun (the runtime shutting down) or
//! unwinding leaves the slot abandoned, and the task gets an error instead of waiting forever.

use crate::context;
use parking_lot::Mutex;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

enum Slot<T> {
    Pending(Option<Waker>),
    Done(T),
    /// The job panicked (`true`) or was dropped unrun: the runtime shut down.
    Abandoned {
        panicked: bool,
    },
    Taken,
}

/// Runs `job` on the current runtime's blocking pool; the returned future waits for its value.
/// Fails at once outside a runtime. `what` names the job in the error when it never finishes.
pub(crate) fn run_blocking<T, F>(what: &'static str, job: F) -> io::Result<BlockingCall<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let slot = Arc::new(Mutex::new(Slot::Pending(None)));
    let completion = Completion { slot: slot.clone() };
    context::spawn_blocking(Box::new(move || completion.complete(job())))?;
    Ok(BlockingCall { slot, what })
}

/// The job's side of the slot. Dropped without completing, it abandons the slot.
struct Completion<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> Completion<T> {
    fn complete(self, value: T) {
        self.finish(Slot::Done(value));
    }

    fn finish(&self, outcome: Slot<T>) {
        let previous = std::mem::replace(&mut *self.slot.lock(), outcome);
        if let Slot::Pending(Some(waker)) = previous {
            waker.wake();
        }
    }
}

impl<T> Drop for Completion<T> {
    fn drop(&mut self) {
        if matches!(*self.slot.lock(), Slot::Pending(_)) {
            // Unwinding: the job panicked; otherwise it was dropped unrun, at shutdown.
            self.finish(Slot::Abandoned {
                panicked: std::thread::panicking(),
            });
        }
    }
}

/// The value of a job on the blocking pool (see [`run_blocking`]).
pub(crate) struct BlockingCall<T> {
    slot: Arc<Mutex<Slot<T>>>,
    what: &'static str,
}

impl<T> Future for BlockingCall<T> {
    type Output = io::Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let mut slot = self.slot.lock();
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Done(value) => Poll::Ready(Ok(value)),
            Slot::Pending(_) => {
                *slot = Slot::Pending(Some(cx.waker().clone()));
                Poll::Pending
            }
            Slot::Abandoned { panicked: true } => Poll::Ready(Err(io::Error::other(format!(
                "{} panicked on the runtime's blocking pool",
                self.what
            )))),
            Slot::Abandoned { panicked: false } => Poll::Ready(Err(crate::shutdown_error(format!(
                "{} never finished: the runtime shut down before its blocking pool ran it",
                self.what
            )))),
            Slot::Taken => panic!("BlockingCall polled after it completed"),
        }
    }
}

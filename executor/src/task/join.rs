//! The handle to a task's output, and the error for a task that did not produce one.

use super::{Id, RawTask};
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

/// An owned permission to await a task's output.
///
/// Awaiting gives `Ok(output)`, or a [`JoinError`] if the task panicked or was cancelled (by
/// [`abort`](JoinHandle::abort) or by the runtime shutting down). Dropping the handle detaches
/// the task: it keeps running and its output is dropped.
pub struct JoinHandle<T> {
    raw: RawTask,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves `T` out of the task, which needs `T: Send`; `&JoinHandle`
// allows `abort` and `is_finished`, which touch only the atomic state word.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

// Unwind safety (a lint, not memory safety; tokio's handle has both): through `&JoinHandle`
// only `abort`, `is_finished` and `id` are reachable, each a read or one compare-and-swap of
// the task's state word, which no panic can leave half-done. A poll changes the state word
// only by compare-and-swap too (a panicking waker clone happens before it), and the output
// is moved out, never lent, so `T`'s own unwind safety does not matter.
impl<T> std::panic::UnwindSafe for JoinHandle<T> {}
impl<T> std::panic::RefUnwindSafe for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    pub(super) fn new(raw: RawTask) -> Self {
        JoinHandle {
            raw,
            _output: PhantomData,
        }
    }

    /// Cancels the task: its future is dropped the next time a worker would poll it (at once if
    /// it is idle), and awaiting this handle gives a cancelled [`JoinError`] unless the task
    /// had already completed.
    pub fn abort(&self) {
        self.raw.remote_abort();
    }

    /// True once the task has completed, panicked or been cancelled.
    pub fn is_finished(&self) -> bool {
        self.raw.header().state.load().is_complete()
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.raw.header().id
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let budget = std::task::ready!(heist_coop::poll_proceed(cx));
        let mut output = Poll::Pending;
        // SAFETY: `output` has the task's output type and we hold the JoinHandle.
        unsafe {
            self.raw
                .try_read_output(&mut output as *mut _ as *mut (), cx.waker())
        };
        if output.is_ready() {
            budget.made_progress();
        }
        output
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: called once, by the handle.
        unsafe { self.raw.drop_join_handle() };
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("id", &self.id()).finish()
    }
}

/// Why a task produced no output: it panicked, or it was cancelled.
pub struct JoinError {
    id: Id,
    repr: Repr,
}

/// Boxed panic details keep `JoinError`, and so every task's output slot, two words wide.
enum Repr {
    Cancelled,
    Panic(Box<Panicked>),
}

struct Panicked {
    payload: SendOnly<Box<dyn Any + Send>>,
    message: Option<String>,
}

/// Makes a `Send` value `Sync` by never handing out a shared reference to it.
struct SendOnly<T>(T);

// SAFETY: the value is only reachable by moving it out (`into_inner`), never through `&self`.
unsafe impl<T: Send> Sync for SendOnly<T> {}

impl JoinError {
    pub(crate) fn cancelled(id: Id) -> Self {
        JoinError {
            id,
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(id: Id, payload: Box<dyn Any + Send>) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned());
        JoinError {
            id,
            repr: Repr::Panic(Box::new(Panicked {
                payload: SendOnly(payload),
                message,
            })),
        }
    }

    /// True if the task was aborted or the runtime shut down before it completed.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// True if the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload, to resume the panic with `std::panic::resume_unwind`.
    ///
    /// # Panics
    /// If the task was cancelled rather than panicked: check [`is_panic`](Self::is_panic) or
    /// use [`try_into_panic`](Self::try_into_panic).
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        // A `match`, not `unwrap_or_else`: a closure would hide our caller from `#[track_caller]`.
        match self.try_into_panic() {
            Ok(payload) => payload,
            Err(err) => panic!("JoinError::into_panic called on an error that is not a panic: {err}"),
        }
    }

    /// The panic payload, or the error back if the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.repr {
            Repr::Panic(panicked) => Ok(panicked.payload.0),
            Repr::Cancelled => Err(self),
        }
    }

    /// The id of the task that failed.
    pub fn id(&self) -> Id {
        self.id
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "task {} was cancelled", self.id),
            Repr::Panic(panicked) => match &panicked.message {
                Some(message) => write!(f, "task {} panicked with message {message:?}", self.id),
                None => write!(f, "task {} panicked", self.id),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "JoinError::Cancelled({:?})", self.id),
            Repr::Panic(panicked) => {
                write!(f, "JoinError::Panic({:?}, {:?}, ...)", self.id, panicked.message)
            }
        }
    }
}

impl std::error::Error for JoinError {}

const _: () = assert!(std::mem::size_of::<JoinError>() == 16);

impl From<JoinError> for std::io::Error {
    fn from(err: JoinError) -> Self {
        std::io::Error::other(err.to_string())
    }
}

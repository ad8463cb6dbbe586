//! Which reactor the current thread's new I/O objects register with.
//!
//! The runtime enters its reactor on each of its threads (and in `block_on`); an I/O object
//! created elsewhere gets an error that says where to create it instead.

use crate::Reactor;
use std::cell::RefCell;
use std::io;
use std::sync::Arc;

std::thread_local!(static CURRENT: RefCell<Option<Arc<Reactor>>> = const { RefCell::new(None) });

/// Makes `reactor` the current thread's until the guard is dropped.
pub fn enter(reactor: Arc<Reactor>) -> EnterGuard {
    // Nothing to enter once the thread-local is destroyed (a runtime dropped by another
    // thread-local's destructor): the guard then restores nothing either.
    let previous = CURRENT
        .try_with(|current| current.replace(Some(reactor)))
        .unwrap_or(None);
    EnterGuard { previous }
}

/// Restores the previous reactor when dropped.
#[must_use = "the reactor stays current only while the guard lives"]
#[derive(Debug)]
pub struct EnterGuard {
    previous: Option<Arc<Reactor>>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
    }
}

/// The current thread's reactor, or an error naming the fix.
pub(crate) fn current() -> io::Result<Arc<Reactor>> {
    CURRENT
        .try_with(|current| current.borrow().clone())
        .ok()
        .flatten()
        .ok_or_else(|| {
            io::Error::other(
                "no heist runtime here: I/O objects register with the runtime they are created \
                 in. Create them inside a task, inside `Runtime::block_on`, or after \
                 `Runtime::enter`",
            )
        })
}

//! Which reactor the current thread's new I/O objects register with, and where their blocking
//! work (name lookups, a Unix connect to a full backlog) runs.
//!
//! The runtime enters its reactor on each of its threads (and in `block_on`); an I/O object
//! created elsewhere gets an error that says where to create it instead.
//!
//! This crate has no threads of its own and knows nothing of the executor, so the executor
//! lends it its blocking pool on entering: [`enter`] takes, besides the reactor, a
//! [`BlockingSpawner`] that runs a job on that pool. The reactor's callers use it through
//! [`spawn_blocking`], which fails outside a runtime with the same message as an I/O object.

use crate::Reactor;
use std::cell::RefCell;
use std::io;
use std::sync::Arc;

/// A job for the runtime's blocking pool.
pub type BlockingJob = Box<dyn FnOnce() + Send>;

/// Runs a [`BlockingJob`] on the runtime's blocking pool, lent to this crate by the executor
/// through [`enter`]. The job may be dropped without running (the runtime shutting down);
/// whoever waits for it must notice that (see `net::resolve`).
pub type BlockingSpawner = Arc<dyn Fn(BlockingJob) + Send + Sync>;

struct Current {
    reactor: Arc<Reactor>,
    spawn_blocking: BlockingSpawner,
}

std::thread_local!(static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) });

/// Makes `reactor` the current thread's, and `spawn_blocking` the way its blocking work
/// leaves the thread, until the guard is dropped.
pub fn enter(reactor: Arc<Reactor>, spawn_blocking: BlockingSpawner) -> EnterGuard {
    let current = Current {
        reactor,
        spawn_blocking,
    };
    let previous = CURRENT.with(|slot| slot.replace(Some(current)));
    EnterGuard { previous }
}

/// Restores the previous reactor when dropped.
#[must_use = "the reactor stays current only while the guard lives"]
pub struct EnterGuard {
    previous: Option<Current>,
}

impl std::fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
    }
}

fn outside_error() -> io::Error {
    io::Error::other(
        "no heist runtime here: I/O objects register with the runtime they are created in, and \
         name lookups run on its blocking pool. Create them (and call `lookup_host`) inside a \
         task, inside `Runtime::block_on`, or after `Runtime::enter`",
    )
}

/// The current thread's reactor, or an error naming the fix.
pub(crate) fn current() -> io::Result<Arc<Reactor>> {
    CURRENT
        .try_with(|current| current.borrow().as_ref().map(|current| current.reactor.clone()))
        .ok()
        .flatten()
        .ok_or_else(outside_error)
}

/// Hands `job` to the current runtime's blocking pool, or fails (without running it) outside
/// a runtime.
// Only the network types use it, and they are not built under loom.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn spawn_blocking(job: BlockingJob) -> io::Result<()> {
    let spawner = CURRENT
        .try_with(|current| {
            current
                .borrow()
                .as_ref()
                .map(|current| current.spawn_blocking.clone())
        })
        .ok()
        .flatten()
        .ok_or_else(outside_error)?;
    // Called with the thread-local released: the spawner may enter contexts of its own.
    spawner(job);
    Ok(())
}

//! Which driver, and which of its shards, the current thread registers timers in. The runtime
//! sets it on each of its threads; this crate never learns what a runtime is.

use crate::driver::Driver;
use std::cell::RefCell;
use std::sync::Arc;

#[cfg(not(loom))]
std::thread_local!(static CURRENT: RefCell<Option<(Arc<Driver>, usize)>> = const { RefCell::new(None) });
#[cfg(loom)]
loom::thread_local!(static CURRENT: RefCell<Option<(Arc<Driver>, usize)>> = RefCell::new(None));

/// Makes `driver` (shard `shard`) current on this thread until the guard is dropped.
pub fn enter(driver: Arc<Driver>, shard: usize) -> EnterGuard {
    assert!(shard < driver.num_shards(), "shard {shard} out of range");
    // Nothing to enter once the thread-local is destroyed (a runtime dropped by another
    // thread-local's destructor): the guard then restores nothing either.
    let previous = CURRENT
        .try_with(|current| current.replace(Some((driver, shard))))
        .unwrap_or(None);
    EnterGuard { previous }
}

/// Restores the previous driver when dropped.
#[must_use]
pub struct EnterGuard {
    previous: Option<(Arc<Driver>, usize)>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
    }
}

/// Calls `f` with the current driver and shard.
///
/// # Panics
/// Outside a runtime, with a message that says what to do instead.
#[track_caller]
pub(crate) fn with_current<R>(what: &str, f: impl FnOnce(&Arc<Driver>, usize) -> R) -> R {
    let mut f = Some(f);
    let result = CURRENT
        .try_with(|current| {
            current
                .borrow()
                .as_ref()
                .map(|(driver, shard)| (f.take().unwrap())(driver, *shard))
        })
        .ok()
        .flatten();
    result.unwrap_or_else(|| {
        panic!(
            "{what} polled outside a heist runtime: timers need a running runtime to fire them. \
             Await it inside Runtime::block_on or a task, or after Runtime::enter."
        )
    })
}

/// The current thread's shard of `driver`, if `driver` is current here.
pub(crate) fn shard_of(driver: &Arc<Driver>) -> Option<usize> {
    CURRENT
        .try_with(|current| {
            current
                .borrow()
                .as_ref()
                .and_then(|(d, shard)| Arc::ptr_eq(d, driver).then_some(*shard))
        })
        .ok()
        .flatten()
}

/// Now, by the current runtime's clock; the system clock outside a runtime, and while no
/// clock in the process was ever paused (one relaxed load).
pub(crate) fn now() -> std::time::Instant {
    if crate::clock::ALTERED_CLOCKS.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        return std::time::Instant::now();
    }
    CURRENT
        .try_with(|current| current.borrow().as_ref().map(|(driver, _)| driver.now()))
        .ok()
        .flatten()
        .unwrap_or_else(std::time::Instant::now)
}

/// The current driver, for the clock functions; panics outside a runtime saying what to do.
#[track_caller]
pub(crate) fn current_driver(what: &str) -> Arc<Driver> {
    let current = CURRENT
        .try_with(|current| current.borrow().as_ref().map(|(driver, _)| driver.clone()))
        .ok()
        .flatten();
    // A `match`, not `unwrap_or_else`: a closure would lose the caller's location.
    match current {
        Some(driver) => driver,
        None => panic!(
            "{what} called outside a heist runtime: the clock belongs to a runtime. Call it \
             inside Runtime::block_on or a task (or after Runtime::enter), or use \
             #[heist::test(start_paused = true)]."
        ),
    }
}

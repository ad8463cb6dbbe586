//! Real primitives normally, loom's under `--cfg loom`, for what the reactor shares between
//! threads: the readiness words, the waiter lists, the source table and the stand-in poller.

#[cfg(not(loom))]
mod imp {
    pub(crate) use std::sync::atomic;

    pub(crate) type Mutex<T> = parking_lot::Mutex<T>;

    /// `parking_lot`'s condvar with loom's guard-passing API (only the stand-in poller, used
    /// under miri, waits on one outside loom).
    #[cfg(miri)]
    pub(crate) struct Condvar(parking_lot::Condvar);

    #[cfg(miri)]
    impl Condvar {
        pub(crate) fn new() -> Self {
            Self(parking_lot::Condvar::new())
        }

        pub(crate) fn wait<'a, T>(
            &self,
            mut guard: parking_lot::MutexGuard<'a, T>,
        ) -> parking_lot::MutexGuard<'a, T> {
            self.0.wait(&mut guard);
            guard
        }

        pub(crate) fn wait_timeout<'a, T>(
            &self,
            mut guard: parking_lot::MutexGuard<'a, T>,
            timeout: std::time::Duration,
        ) -> parking_lot::MutexGuard<'a, T> {
            self.0.wait_for(&mut guard, timeout);
            guard
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::sync::atomic;

    /// loom's mutex with `parking_lot`'s API (no poisoning).
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);
    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }

        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok()
        }
    }

    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Self(loom::sync::Condvar::new())
        }

        pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(guard).unwrap()
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
    }
}

pub(crate) use imp::*;

#[cfg(all(test, not(loom)))]
pub(crate) use std::thread;

#[cfg(all(test, loom))]
pub(crate) use loom::thread;

/// Runs a concurrency model: every interleaving under loom, once otherwise (and under miri).
#[cfg(all(test, not(loom)))]
pub(crate) fn model(f: impl Fn() + Sync + Send + 'static) {
    f();
}

#[cfg(all(test, loom))]
pub(crate) use loom::model;

//! Real primitives normally, loom's under `--cfg loom`, for what the driver shares between
//! threads (the shards' locks and the sleeper hand-shake).

#[cfg(not(loom))]
pub(crate) use std::sync::atomic;

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

#[cfg(not(loom))]
pub(crate) type Mutex<T> = parking_lot::Mutex<T>;

#[cfg(loom)]
pub(crate) use loom::sync::atomic;

#[cfg(loom)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

#[cfg(loom)]
impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(loom::sync::Mutex::new(value))
    }

    pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
        self.0.lock().unwrap()
    }
}

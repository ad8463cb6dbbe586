//! The sender counts both channels keep: strong senders (the last one to go ends the channel)
//! and weak ones, which upgrade only while a strong one is alive.

use std::sync::atomic::{AtomicUsize, Ordering};

pub(super) struct SenderCounts {
    strong: AtomicUsize,
    weak: AtomicUsize,
}

impl SenderCounts {
    /// One strong sender: the one `channel` hands out.
    pub(super) fn new() -> Self {
        SenderCounts {
            strong: AtomicUsize::new(1),
            weak: AtomicUsize::new(0),
        }
    }

    pub(super) fn add_sender(&self) {
        self.strong.fetch_add(1, Ordering::Relaxed);
    }

    /// A strong sender from a weak one, if any strong sender is still alive: the count never
    /// rises from 0 again, since the last sender ended the channel.
    pub(super) fn upgrade(&self) -> bool {
        let mut count = self.strong.load(Ordering::Relaxed);
        while count > 0 {
            match self
                .strong
                .compare_exchange_weak(count, count + 1, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => count = actual,
            }
        }
        false
    }

    /// Drops a strong sender; true for the last one.
    pub(super) fn remove_sender(&self) -> bool {
        self.strong.fetch_sub(1, Ordering::AcqRel) == 1
    }

    pub(super) fn strong_count(&self) -> usize {
        self.strong.load(Ordering::Acquire)
    }

    pub(super) fn weak_count(&self) -> usize {
        self.weak.load(Ordering::Acquire)
    }

    pub(super) fn add_weak(&self) {
        self.weak.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn drop_weak(&self) {
        self.weak.fetch_sub(1, Ordering::Relaxed);
    }
}

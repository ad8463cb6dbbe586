//! The run queues: `crossbeam-deque` normally, a lock-based stand-in with the same interface
//! under loom (crossbeam-deque is not loom-aware) and under miri (crossbeam-epoch keeps a
//! process-wide collector that miri reports as leaked, and is known not to satisfy Stacked
//! Borrows; the stand-in keeps miri's verdicts about our own code). The scheduler only uses what both provide:
//! `Worker::{new_fifo, push, pop, stealer, is_empty}`, `Stealer::{steal_batch_and_pop,
//! is_empty, len}` and `Injector::{new, push, steal, steal_batch_and_pop, is_empty, len}`.

pub(crate) use crossbeam_deque::Steal;

#[cfg(not(any(loom, miri)))]
pub(crate) use crossbeam_deque::{Injector, Stealer, Worker};

#[cfg(any(loom, miri))]
pub(crate) use model::{Injector, Stealer, Worker};

#[cfg(any(loom, miri))]
mod model {
    use super::Steal;
    use crate::sync::{Arc, Mutex};
    use std::collections::VecDeque;

    /// How many tasks one steal moves at most, as crossbeam does, so batches are modelled.
    const BATCH: usize = 2;

    pub(crate) struct Worker<T>(Arc<Mutex<VecDeque<T>>>);
    pub(crate) struct Stealer<T>(Arc<Mutex<VecDeque<T>>>);
    pub(crate) struct Injector<T>(Mutex<VecDeque<T>>);

    impl<T> Worker<T> {
        pub(crate) fn new_fifo() -> Self {
            Worker(Arc::new(Mutex::new(VecDeque::new())))
        }
        pub(crate) fn push(&self, task: T) {
            self.0.lock().push_back(task);
        }
        pub(crate) fn pop(&self) -> Option<T> {
            self.0.lock().pop_front()
        }
        pub(crate) fn stealer(&self) -> Stealer<T> {
            Stealer(self.0.clone())
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.0.lock().len()
        }
    }

    fn steal_into<T>(src: &mut VecDeque<T>, dest: &Worker<T>) -> Steal<T> {
        let Some(first) = src.pop_front() else {
            return Steal::Empty;
        };
        let mut dest = dest.0.lock();
        for _ in 1..BATCH {
            match src.pop_front() {
                Some(task) => dest.push_back(task),
                None => break,
            }
        }
        Steal::Success(first)
    }

    impl<T> Stealer<T> {
        pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
            if Arc::ptr_eq(&self.0, &dest.0) {
                return Steal::Empty;
            }
            let mut src = self.0.lock();
            steal_into(&mut src, dest)
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.0.lock().len()
        }
    }

    impl<T> Injector<T> {
        pub(crate) fn new() -> Self {
            Injector(Mutex::new(VecDeque::new()))
        }
        pub(crate) fn push(&self, task: T) {
            self.0.lock().push_back(task);
        }
        pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
            let mut src = self.0.lock();
            steal_into(&mut src, dest)
        }
        pub(crate) fn steal(&self) -> Steal<T> {
            self.0.lock().pop_front().map_or(Steal::Empty, Steal::Success)
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.0.lock().len()
        }
    }
}

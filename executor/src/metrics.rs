//! Counters for watching a runtime work. Reading them takes no lock on any hot path; the
//! workers publish their own counters with plain stores.

use crate::runtime::Handle;
use crate::sync::atomic::Ordering::Relaxed;

/// A view of a runtime's counters; every read is a fresh snapshot.
#[derive(Clone, Debug)]
pub struct RuntimeMetrics {
    handle: Handle,
}

impl RuntimeMetrics {
    pub(crate) fn new(handle: Handle) -> Self {
        RuntimeMetrics { handle }
    }

    /// Number of worker threads.
    pub fn num_workers(&self) -> usize {
        self.handle.shared().num_workers()
    }

    /// Tasks spawned and not yet completed (including blocking jobs).
    pub fn alive_tasks(&self) -> usize {
        self.handle.shared().owned.alive()
    }

    /// Tasks spawned since the runtime started (including blocking jobs).
    pub fn spawned_tasks(&self) -> u64 {
        self.handle.shared().owned.spawned()
    }

    /// Polls run by worker `worker` (0-based, below [`num_workers`](Self::num_workers)).
    pub fn worker_poll_count(&self, worker: usize) -> u64 {
        self.handle.shared().worker_metrics(worker).polls.load(Relaxed)
    }

    /// Successful steals from other workers' queues by worker `worker`.
    pub fn worker_steal_count(&self, worker: usize) -> u64 {
        self.handle.shared().worker_metrics(worker).steals.load(Relaxed)
    }

    /// Times worker `worker` went to sleep for lack of work.
    pub fn worker_park_count(&self, worker: usize) -> u64 {
        self.handle.shared().worker_metrics(worker).parks.load(Relaxed)
    }

    /// Tasks waiting in worker `worker`'s local queue (its LIFO slot not included).
    pub fn worker_local_queue_depth(&self, worker: usize) -> usize {
        self.handle.shared().local_queue_depth(worker)
    }

    /// Tasks waiting in the global queue (spawned or woken from outside the workers).
    pub fn injection_queue_depth(&self) -> usize {
        self.handle.shared().injector_depth()
    }

    /// Workers currently out of local work and looking for some.
    pub fn num_searching_workers(&self) -> usize {
        self.handle.shared().num_searching()
    }

    /// Threads in the blocking pool, busy or idle; not those running a worker's core, which
    /// `block_in_place` handed to the pool.
    pub fn num_blocking_threads(&self) -> usize {
        self.handle.shared().blocking.num_threads()
    }

    /// Blocking jobs waiting for a thread.
    pub fn blocking_queue_depth(&self) -> usize {
        self.handle.shared().blocking.queue_depth()
    }
}

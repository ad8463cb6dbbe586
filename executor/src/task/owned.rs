//! Every unfinished task of a runtime, so that shutdown can drop each future exactly once even
//! when the task is idle and reachable only through wakers held somewhere else.
//!
//! An intrusive doubly linked list (the links live in the task header), split into shards by
//! task id so that spawning and completing on different workers rarely meet on a lock.

use super::{Header, Notified, RawTask, Task};
use crate::sync::{Mutex, MutexGuard};
use crossbeam_utils::CachePadded;
use std::ptr::NonNull;
use std::time::Instant;

pub(crate) struct OwnedTasks {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    /// The origin of the tasks' spawn times (`OwnedLinks::spawned_ms`).
    start: Instant,
}

struct Shard {
    head: Option<NonNull<Header>>,
    len: usize,
    spawned: u64,
    closed: bool,
}

// SAFETY: the raw pointers are task headers, which are Send, and are only followed under the
// shard's lock.
unsafe impl Send for Shard {}

impl OwnedTasks {
    pub(crate) fn new(num_workers: usize) -> Self {
        let num_shards = (num_workers * 4).next_power_of_two();
        let shards = (0..num_shards)
            .map(|_| {
                CachePadded::new(Mutex::new(Shard {
                    head: None,
                    len: 0,
                    spawned: 0,
                    closed: false,
                }))
            })
            .collect();
        OwnedTasks {
            shards,
            start: Instant::now(),
        }
    }

    /// Milliseconds since the list was created (the runtime's start), saturating.
    pub(crate) fn now_ms(&self) -> u32 {
        u32::try_from(self.start.elapsed().as_millis()).unwrap_or(u32::MAX)
    }

    /// Calls `f` with every listed task's header and spawn time, one shard at a time under its
    /// lock: spawns and completions in that shard wait meanwhile, so `f` should be short.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Header, u32)) {
        for shard in self.shards.iter() {
            let shard = shard.lock();
            let mut cursor = shard.head;
            while let Some(ptr) = cursor {
                // SAFETY: linked tasks are alive (the list holds a reference); the links are
                // guarded by the shard lock we hold.
                let header = unsafe { ptr.as_ref() };
                let (next, spawned_ms) = header
                    .owned
                    .with(|links| unsafe { ((*links).next, (*links).spawned_ms) });
                f(header, spawned_ms);
                cursor = next;
            }
        }
    }

    fn shard(&self, header: &Header) -> MutexGuard<'_, Shard> {
        let index = header.id.as_u64() as usize & (self.shards.len() - 1);
        self.shards[index].lock()
    }

    /// Adds a new task and returns its first `Notified` to schedule; after shutdown closed the
    /// list, cancels the task instead (its `JoinHandle` reports the cancellation).
    pub(crate) fn bind(&self, task: Task, notified: Notified) -> Option<Notified> {
        let ptr = task.header_ptr();
        // SAFETY: the task is alive: we hold its list reference.
        let header = unsafe { ptr.as_ref() };
        let spawned_ms = self.now_ms();
        let mut shard = self.shard(header);
        if shard.closed {
            drop(shard);
            drop(notified);
            task.shutdown();
            return None;
        }
        let old_head = shard.head;
        // SAFETY: the links are guarded by this shard's lock, which we hold.
        header.owned.with_mut(|links| unsafe {
            (*links).prev = None;
            (*links).next = old_head;
            (*links).spawned_ms = spawned_ms;
            (*links).linked = true;
        });
        if let Some(old) = old_head {
            // SAFETY: as above; `old` is linked, hence alive.
            unsafe { old.as_ref() }
                .owned
                .with_mut(|links| unsafe { (*links).prev = Some(ptr) });
        }
        shard.head = Some(ptr);
        shard.len += 1;
        shard.spawned += 1;
        // The list now holds the reference `task` carried.
        let _ = task.into_raw();
        Some(notified)
    }

    /// Unlinks a completed task; true when the list's reference is handed to the caller.
    pub(crate) fn remove(&self, ptr: NonNull<Header>) -> bool {
        // SAFETY: the caller holds a reference.
        let header = unsafe { ptr.as_ref() };
        let mut shard = self.shard(header);
        // SAFETY: guarded by the shard lock we hold.
        let (prev, next, linked) = header.owned.with_mut(|links| unsafe {
            ((*links).prev, (*links).next, std::mem::take(&mut (*links).linked))
        });
        if !linked {
            return false;
        }
        // SAFETY: neighbours are linked in this shard, hence alive; guarded by its lock.
        match prev {
            Some(prev) => unsafe { prev.as_ref() }
                .owned
                .with_mut(|links| unsafe { (*links).next = next }),
            None => shard.head = next,
        }
        if let Some(next) = next {
            // SAFETY: as above.
            unsafe { next.as_ref() }
                .owned
                .with_mut(|links| unsafe { (*links).prev = prev });
        }
        shard.len -= 1;
        true
    }

    /// Closes the list to new tasks and hands every task in it to the caller, to shut down
    /// outside the locks (cancelling runs user destructors, which may spawn or wake).
    pub(crate) fn close_and_take_all(&self) -> Vec<Task> {
        let mut tasks = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            shard.closed = true;
            let mut cursor = shard.head.take();
            while let Some(ptr) = cursor {
                // SAFETY: linked tasks are alive; guarded by the shard lock we hold.
                cursor = unsafe { ptr.as_ref() }.owned.with_mut(|links| unsafe {
                    (*links).linked = false;
                    (*links).prev = None;
                    (*links).next.take()
                });
                // SAFETY: the list's reference moves to the returned handle.
                tasks.push(unsafe { Task::from_raw(RawTask::from_header(ptr)) });
            }
            shard.len = 0;
        }
        tasks
    }

    pub(crate) fn alive(&self) -> usize {
        self.shards.iter().map(|shard| shard.lock().len).sum()
    }

    pub(crate) fn spawned(&self) -> u64 {
        self.shards.iter().map(|shard| shard.lock().spawned).sum()
    }
}

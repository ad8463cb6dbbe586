//! `TaskPool`: a [`JoinSet`] that runs at most N tasks at once, and makes spawners wait.

use crate::join_set::{AbortHandle, JoinSet};
use crate::runtime::Handle;
use crate::task::JoinError;
use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::Location;
use std::task::{Context, Poll};

/// A bounded pool of tasks (asyncio's "coroutine pool"): at most `limit` of its tasks run at
/// once, and spawning into a full pool waits for a slot.
///
/// # Slots, and what "running" means
/// A task holds a slot from the moment it is spawned until it finishes (completes, panics or
/// is cancelled). Spawned tasks are real tasks, polled by the runtime's workers whether or
/// not anyone awaits the pool; a spawned task that has not yet been polled holds its slot too,
/// so no more than `limit` of the pool's futures are ever alive at once.
///
/// A finished task frees its slot **before its result is joined**: the pool notices the
/// finish the next time it is used (each task wakes a pool that waits for a slot), keeps the
/// result, and hands the slot to the next spawn. So "spawn everything, then join everything"
/// works, with at most `limit` tasks in flight:
///
/// ```
/// use heist_executor::TaskPool;
///
/// let runtime = heist_executor::Runtime::new().unwrap();
/// let results = runtime.block_on(async {
///     let mut pool = TaskPool::new(4);
///     for i in 0..100u64 {
///         // Waits while 4 tasks are running.
///         pool.spawn(async move { i * 2 }).await;
///     }
///     assert!(pool.running() <= 4);
///     // Waits for the tasks in flight; returns every result not yet joined.
///     pool.close().await
/// });
/// let mut doubled: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
/// doubled.sort();
/// assert_eq!(doubled, (0..100).map(|i| i * 2).collect::<Vec<_>>());
/// ```
///
/// # Results
/// Results are taken with [`join_next`](TaskPool::join_next) (roughly in the order the tasks
/// finished), [`try_join_next`](TaskPool::try_join_next) or [`close`](TaskPool::close), each
/// as `Ok(output)` or a [`JoinError`] for a task that panicked or was aborted. A panic frees
/// its slot like any other finish.
///
/// Results waiting to be joined are **not** bounded by the limit: a finished task is freed
/// but its `Result<T, JoinError>` stays in the pool until joined, so a loop that spawns an
/// endless stream of tasks and never joins grows by one result per task. Join as you go
/// (`try_join_next` after each `spawn` drains what has finished, without waiting) when the
/// stream has no end.
///
/// # Dropping
/// Dropping the pool aborts the tasks still running and drops the results; `close` waits for
/// the tasks instead, `shutdown` aborts them and waits until they are gone.
pub struct TaskPool<T> {
    set: JoinSet<T>,
    /// Results of tasks that finished and gave their slot back, not yet joined.
    finished: VecDeque<Result<T, JoinError>>,
    limit: usize,
}

/// The future given back by [`TaskPool::try_spawn`] when the pool is full.
pub struct TrySpawnError<F>(F);

impl<F> TrySpawnError<F> {
    /// The future that was not spawned.
    pub fn into_inner(self) -> F {
        self.0
    }
}

impl<F> fmt::Debug for TrySpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TrySpawnError(..)")
    }
}

impl<F> fmt::Display for TrySpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the task pool is full: every slot holds a running task")
    }
}

impl<F> std::error::Error for TrySpawnError<F> {}

impl<T> TaskPool<T> {
    /// A pool that runs at most `limit` tasks at once.
    ///
    /// # Panics
    /// If `limit` is 0: no task could ever run.
    #[track_caller]
    pub fn new(limit: usize) -> Self {
        assert!(
            limit > 0,
            "TaskPool::new(0): a pool needs a limit of at least 1 task, or no task could ever run"
        );
        TaskPool {
            set: JoinSet::new(),
            finished: VecDeque::new(),
            limit,
        }
    }

    /// The most tasks that run at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The tasks holding a slot: spawned and not yet seen to finish. Tasks that finished since
    /// the pool was last used are still counted (the pool has not looked yet), so this is an
    /// upper bound of the tasks actually running, never above [`limit`](Self::limit).
    pub fn running(&self) -> usize {
        self.set.len()
    }

    /// The tasks not yet joined: running, or finished with a result waiting to be joined.
    pub fn len(&self) -> usize {
        self.set.len() + self.finished.len()
    }

    /// True when every task spawned has been joined.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Aborts every running task; each is reported by `join_next` as a cancelled
    /// [`JoinError`] (or its result, if it finished first).
    pub fn abort_all(&mut self) {
        self.set.abort_all();
    }
}

impl<T: Send + 'static> TaskPool<T> {
    /// Spawns `future` on the current runtime once a slot is free: waits while `limit` tasks
    /// are running. Returns once the task is spawned, not when it finishes.
    ///
    /// Dropping the returned future before it completes drops `future` unspawned.
    ///
    /// # Panics
    /// Outside a runtime, when the task is spawned.
    //
    // Not an `async fn`: only a plain one sees its caller (`#[track_caller]`), whose location
    // task dumps list for the task.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> impl Future<Output = AbortHandle> + Send
    where
        F: Future<Output = T> + Send + 'static,
    {
        let location = Location::caller();
        async move {
            poll_fn(|cx| self.poll_slot(cx)).await;
            self.set.spawn_at(future, None, location)
        }
    }

    /// [`spawn`](Self::spawn) on the runtime of `handle`.
    #[track_caller]
    pub fn spawn_on<F>(&mut self, future: F, handle: &Handle) -> impl Future<Output = AbortHandle> + Send
    where
        F: Future<Output = T> + Send + 'static,
    {
        let location = Location::caller();
        async move {
            poll_fn(|cx| self.poll_slot(cx)).await;
            self.set.spawn_at(future, Some(handle), location)
        }
    }

    /// Runs `f` on the current runtime's blocking pool once a slot is free; see
    /// [`spawn`](Self::spawn).
    ///
    /// # Panics
    /// Outside a runtime, when the task is spawned.
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> impl Future<Output = AbortHandle> + Send
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let location = Location::caller();
        async move {
            poll_fn(|cx| self.poll_slot(cx)).await;
            self.set.spawn_blocking_at(f, None, location)
        }
    }

    /// Spawns `future` on the current runtime if a slot is free; gives it back otherwise.
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn try_spawn<F>(&mut self, future: F) -> Result<AbortHandle, TrySpawnError<F>>
    where
        F: Future<Output = T> + Send + 'static,
    {
        while self.set.len() >= self.limit {
            match self.set.try_join_next() {
                Some(result) => self.finished.push_back(result),
                None => return Err(TrySpawnError(future)),
            }
        }
        Ok(self.set.spawn(future))
    }

    /// Waits for a task to finish and returns its result; `None` when the pool is empty.
    ///
    /// Cancel safe: dropping the future before it completes loses no result.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// The result of a task that has already finished, if any; never waits.
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.finished.pop_front().or_else(|| self.set.try_join_next())
    }

    /// Polls for the next finished task, as [`JoinSet::poll_join_next`] does.
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        match self.finished.pop_front() {
            Some(result) => Poll::Ready(Some(result)),
            None => self.set.poll_join_next(cx),
        }
    }

    /// Waits for every task in flight to finish and returns all the results not yet joined,
    /// those already waiting first, then in the order the tasks finish.
    ///
    /// Dropping the returned future before it completes drops the pool, which aborts the
    /// tasks still running.
    pub async fn close(mut self) -> Vec<Result<T, JoinError>> {
        let mut results: Vec<_> = self.finished.drain(..).collect();
        results.reserve(self.set.len());
        while let Some(result) = self.set.join_next().await {
            results.push(result);
        }
        results
    }

    /// Aborts every running task, waits until all of them are gone, and drops every result
    /// not yet joined.
    pub async fn shutdown(&mut self) {
        self.finished.clear();
        self.set.shutdown().await;
    }

    /// Ready once a slot is free, taking in the results of tasks that finished meanwhile.
    fn poll_slot(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while self.set.len() >= self.limit {
            match self.set.poll_join_next(cx) {
                Poll::Ready(Some(result)) => self.finished.push_back(result),
                Poll::Ready(None) => unreachable!("a full pool has tasks"),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(())
    }
}

impl<T> fmt::Debug for TaskPool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskPool")
            .field("limit", &self.limit)
            .field("running", &self.set.len())
            .field("finished", &self.finished.len())
            .finish()
    }
}

//! Who is searching for work and who sleeps: the bookkeeping that keeps idle workers from
//! both stampeding and oversleeping.
//!
//! One atomic word counts the *searching* workers (awake, out of local work, trying to steal)
//! and the *unparked* ones (all awake workers); a mutex-guarded list names the sleepers.
//!
//! - New work wakes a sleeper only when nobody is searching (a searcher will find it) and not
//!   every worker is awake. The woken worker starts out searching, so a burst of spawns wakes
//!   one worker, not all of them.
//! - At most half of the workers search at once; the rest go back to sleep.
//! - A searcher that finds work stops searching; if it was the last one it wakes another, so
//!   work that keeps arriving keeps pulling workers in, one at a time.
//! - The last searcher to park looks at every queue once more after it has counted itself out.
//!   A pusher publishes its task before reading the counts, and this worker publishes the
//!   counts before reading the queues (both `SeqCst`): one of them sees the other, so a task
//!   pushed while the last worker falls asleep is always picked up.

use crate::sync::Mutex;
use crate::sync::atomic::{AtomicUsize, Ordering::SeqCst, fence};

const UNPARKED_SHIFT: usize = 16;
const SEARCHING_MASK: usize = (1 << UNPARKED_SHIFT) - 1;
const SEARCHING_ONE: usize = 1;
const UNPARKED_ONE: usize = 1 << UNPARKED_SHIFT;

pub(crate) struct Idle {
    state: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
    num_workers: usize,
}

fn searching(state: usize) -> usize {
    state & SEARCHING_MASK
}

fn unparked(state: usize) -> usize {
    state >> UNPARKED_SHIFT
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Self {
        assert!(num_workers < SEARCHING_MASK, "too many workers");
        Idle {
            state: AtomicUsize::new(num_workers * UNPARKED_ONE),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
        }
    }

    fn should_wake_someone(&self) -> bool {
        let state = self.state.load(SeqCst);
        searching(state) == 0 && unparked(state) < self.num_workers
    }

    /// Called after work was published: picks a sleeper to wake (counted as searching), if one
    /// is needed; `last_choice()` (the worker on watch in the poller) only if it is the only
    /// one. `last_choice` is asked only when a sleeper is actually woken, off the hot path.
    pub(crate) fn worker_to_notify(&self, last_choice: impl FnOnce() -> Option<usize>) -> Option<usize> {
        // Orders the caller's queue push before the read of the counts.
        fence(SeqCst);
        if !self.should_wake_someone() {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        if !self.should_wake_someone() {
            return None;
        }
        let last_choice = last_choice();
        let position = match sleepers.iter().rposition(|&worker| Some(worker) != last_choice) {
            Some(position) => position,
            None => sleepers.len().checked_sub(1)?,
        };
        let worker = sleepers.swap_remove(position);
        self.state.fetch_add(SEARCHING_ONE + UNPARKED_ONE, SeqCst);
        Some(worker)
    }

    /// Lets an idle worker search unless half of them already are.
    pub(crate) fn try_start_searching(&self) -> bool {
        if 2 * searching(self.state.load(SeqCst)) >= self.num_workers {
            return false;
        }
        self.state.fetch_add(SEARCHING_ONE, SeqCst);
        true
    }

    /// A searcher found work; true if it was the last searcher (it must wake another).
    pub(crate) fn stop_searching(&self) -> bool {
        searching(self.state.fetch_sub(SEARCHING_ONE, SeqCst)) == 1
    }

    /// Counts a worker out and lists it as a sleeper; true if it was the last searcher, in
    /// which case it must look at the queues again before it sleeps.
    pub(crate) fn park(&self, worker: usize, was_searching: bool) -> bool {
        let mut sleepers = self.sleepers.lock();
        let delta = UNPARKED_ONE + if was_searching { SEARCHING_ONE } else { 0 };
        let prev = self.state.fetch_sub(delta, SeqCst);
        sleepers.push(worker);
        was_searching && searching(prev) == 1
    }

    /// A sleeper wakes itself to run tasks it woke (by taking in I/O events or firing
    /// timers). Not counted as searching: it knows where its work is, and the last-searcher
    /// rule would otherwise wake a peer for every event. False if someone already woke it.
    pub(crate) fn unpark_to_work(&self, worker: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        let Some(position) = sleepers.iter().position(|&sleeper| sleeper == worker) else {
            return false;
        };
        sleepers.swap_remove(position);
        self.state.fetch_add(UNPARKED_ONE, SeqCst);
        true
    }

    /// A sleeper other than `worker`, left listed: it is only to look at the watch again.
    pub(crate) fn any_sleeper_except(&self, worker: usize) -> Option<usize> {
        self.sleepers
            .lock()
            .iter()
            .rev()
            .copied()
            .find(|&sleeper| sleeper != worker)
    }

    /// True while `worker` is listed as a sleeper (nobody has chosen it to wake up).
    pub(crate) fn is_parked(&self, worker: usize) -> bool {
        self.sleepers.lock().contains(&worker)
    }

    /// Workers awake (not listed as sleepers, or woken and on their way out of their park).
    pub(crate) fn num_unparked(&self) -> usize {
        unparked(self.state.load(SeqCst))
    }

    pub(crate) fn num_searching(&self) -> usize {
        searching(self.state.load(SeqCst))
    }
}

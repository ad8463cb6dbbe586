//! The task's state word: six flags and a reference count in one `AtomicUsize`.
//!
//! Every transition is one compare-and-swap (or one `fetch_*`), so a wake, a poll, an abort, a
//! `JoinHandle` drop and the completion can race in any order and still agree on who owns the
//! future, the output and the join waker. The crate docs list the transitions.

use crate::sync::atomic::{AtomicUsize, Ordering::*};
use std::fmt;

/// A worker owns the future and is polling it.
const RUNNING: usize = 1 << 0;
/// The future is gone: the output (or the error) is stored, or already taken.
const COMPLETE: usize = 1 << 1;
/// A `Notified` for this task is queued (or held by the worker that is running it).
const NOTIFIED: usize = 1 << 2;
/// A `JoinHandle` exists; it owns the output once `COMPLETE` is set.
const JOIN_INTEREST: usize = 1 << 3;
/// The join waker slot holds a waker; the task side may read it once it sets `COMPLETE`.
const JOIN_WAKER: usize = 1 << 4;
/// Abort or shutdown asked for the future to be dropped.
const CANCELLED: usize = 1 << 5;

const REF_SHIFT: usize = 6;
const REF_ONE: usize = 1 << REF_SHIFT;
#[cfg(all(test, not(loom)))]
const FLAGS: usize = REF_ONE - 1;

/// A new task has three references: the owned-tasks list, the `JoinHandle`, the first `Notified`.
const INITIAL: usize = (3 * REF_ONE) | JOIN_INTEREST | NOTIFIED;

pub(crate) struct State(AtomicUsize);

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn has_join_waker(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("join_interested", &self.is_join_interested())
            .field("join_waker", &self.has_join_waker())
            .field("cancelled", &self.is_cancelled())
            .field("refs", &self.ref_count())
            .finish()
    }
}

/// What a worker holding a `Notified` may do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToRunning {
    /// Poll the future.
    Poll,
    /// Drop the future instead: the task was aborted.
    Cancel,
    /// The task already completed (shutdown cancelled it): just release the reference.
    Failed,
}

/// What follows a `Poll::Pending`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToIdle {
    /// The task waits for a wake; the worker's reference has been released.
    Idle,
    /// The task was woken during its own poll: requeue it with the reference the transition
    /// took, then release the worker's, which keeps the task alive until the requeue returns.
    Notified,
    /// The task was aborted during its poll: drop the future now.
    Cancelled,
    /// The worker's reference was the last one.
    Dealloc,
}

/// What a wake that consumes its reference leads to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WakeByVal {
    /// Nothing to schedule; the waker's reference was released and others remain.
    Done,
    /// Submit a `Notified` with the reference the transition took, then release the waker's,
    /// which keeps the task alive until the submission returns.
    Submit,
    /// The waker held the last reference.
    Dealloc,
}

impl State {
    pub(crate) fn new() -> Self {
        State(AtomicUsize::new(INITIAL))
    }

    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Acquire))
    }

    /// Applies `f` until the compare-and-swap succeeds; `f` returns the new word or a result
    /// that leaves the word unchanged.
    fn update<R>(&self, mut f: impl FnMut(usize) -> Result<(usize, R), R>) -> R {
        let mut current = self.0.load(Acquire);
        loop {
            match f(current) {
                Err(result) => return result,
                Ok((next, result)) => match self.0.compare_exchange_weak(current, next, AcqRel, Acquire) {
                    Ok(_) => return result,
                    Err(actual) => current = actual,
                },
            }
        }
    }

    /// A worker with a `Notified` takes the task: `NOTIFIED` → `RUNNING`.
    pub(crate) fn transition_to_running(&self) -> ToRunning {
        self.update(|s| {
            debug_assert!(s & NOTIFIED != 0 || s & COMPLETE != 0, "{:?}", Snapshot(s));
            if s & (RUNNING | COMPLETE) != 0 {
                return Err(ToRunning::Failed);
            }
            let next = (s & !NOTIFIED) | RUNNING;
            let action = if s & CANCELLED != 0 {
                ToRunning::Cancel
            } else {
                ToRunning::Poll
            };
            Ok((next, action))
        })
    }

    /// After `Poll::Pending`. Releases the worker's reference unless the task must be requeued
    /// or cancelled. A requeue takes a new reference for the `Notified` in the same
    /// compare-and-swap: the worker keeps its own across `yield_now` (see `raw::schedule`).
    pub(crate) fn transition_to_idle(&self) -> ToIdle {
        self.update(|s| {
            debug_assert!(s & RUNNING != 0);
            if s & CANCELLED != 0 {
                return Err(ToIdle::Cancelled);
            }
            if s & NOTIFIED != 0 {
                return Ok(((s & !RUNNING) + REF_ONE, ToIdle::Notified));
            }
            debug_assert!(s >= REF_ONE);
            let next = (s & !RUNNING) - REF_ONE;
            let action = if next < REF_ONE {
                ToIdle::Dealloc
            } else {
                ToIdle::Idle
            };
            Ok((next, action))
        })
    }

    /// `RUNNING` → `COMPLETE` once the output (or error) is stored. The returned snapshot says
    /// who owns the output: the `JoinHandle` if it is still interested, the caller otherwise.
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        let prev = Snapshot(self.0.fetch_xor(RUNNING | COMPLETE, AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete());
        prev
    }

    /// `wake_by_ref`: returns true when the caller must submit a new `Notified` (for which a
    /// reference was taken).
    pub(crate) fn transition_to_notified_by_ref(&self) -> bool {
        self.update(|s| {
            if s & (COMPLETE | NOTIFIED) != 0 {
                Err(false)
            } else if s & RUNNING != 0 {
                // The running worker requeues it after the poll, with its own reference.
                Ok((s | NOTIFIED, false))
            } else {
                Ok(((s | NOTIFIED) + REF_ONE, true))
            }
        })
    }

    /// `wake`: like `wake_by_ref`, but the waker's reference is used up: released here when
    /// there is nothing to submit, else by the caller once the submission has returned (the
    /// `Notified` gets a reference of its own, taken here; see `raw::schedule`).
    pub(crate) fn transition_to_notified_by_val(&self) -> WakeByVal {
        self.update(|s| {
            let (next, action) = if s & (COMPLETE | NOTIFIED) != 0 {
                let next = s - REF_ONE;
                (
                    next,
                    if next < REF_ONE {
                        WakeByVal::Dealloc
                    } else {
                        WakeByVal::Done
                    },
                )
            } else if s & RUNNING != 0 {
                // The worker's own reference keeps the count above zero.
                ((s | NOTIFIED) - REF_ONE, WakeByVal::Done)
            } else {
                ((s | NOTIFIED) + REF_ONE, WakeByVal::Submit)
            };
            Ok((next, action))
        })
    }

    /// Abort: marks the task cancelled and returns true when the caller must submit a new
    /// `Notified` (reference taken) so that a worker drops the future.
    pub(crate) fn transition_to_notified_and_cancel(&self) -> bool {
        self.update(|s| {
            if s & (COMPLETE | CANCELLED) != 0 {
                Err(false)
            } else if s & RUNNING != 0 {
                // The worker sees CANCELLED when the poll returns.
                Ok((s | CANCELLED | NOTIFIED, false))
            } else if s & NOTIFIED != 0 {
                // Already queued: the worker that takes it will cancel instead of polling.
                Ok((s | CANCELLED, false))
            } else {
                Ok(((s | CANCELLED | NOTIFIED) + REF_ONE, true))
            }
        })
    }

    /// Shutdown: returns true when the caller now owns the future (and must cancel it); a
    /// running or completed task is only marked.
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.update(|s| {
            if s & (RUNNING | COMPLETE) != 0 {
                Ok((s | CANCELLED, false))
            } else {
                Ok((s | RUNNING | CANCELLED, true))
            }
        })
    }

    /// The `JoinHandle` gives up interest. `Err` if the task already completed: the handle then
    /// owns the output and must drop it. `Ok(prev)`: if `prev` had a join waker, the handle owns
    /// it again and drops it.
    pub(crate) fn unset_join_interest(&self) -> Result<Snapshot, Snapshot> {
        self.update(|s| {
            debug_assert!(s & JOIN_INTEREST != 0);
            if s & COMPLETE != 0 {
                return Err(Err(Snapshot(s)));
            }
            Ok((s & !(JOIN_INTEREST | JOIN_WAKER), Ok(Snapshot(s))))
        })
    }

    /// Publishes the join waker just written. `Err` if the task completed meanwhile.
    pub(crate) fn set_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.update(|s| {
            debug_assert!(s & JOIN_INTEREST != 0 && s & JOIN_WAKER == 0);
            if s & COMPLETE != 0 {
                return Err(Err(Snapshot(s)));
            }
            Ok((s | JOIN_WAKER, Ok(Snapshot(s | JOIN_WAKER))))
        })
    }

    /// Takes the join waker back to replace it. `Err` if the task completed meanwhile.
    pub(crate) fn unset_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.update(|s| {
            debug_assert!(s & JOIN_INTEREST != 0 && s & JOIN_WAKER != 0);
            if s & COMPLETE != 0 {
                return Err(Err(Snapshot(s)));
            }
            Ok((s & !JOIN_WAKER, Ok(Snapshot(s & !JOIN_WAKER))))
        })
    }

    pub(crate) fn ref_inc(&self) {
        let prev = self.0.fetch_add(REF_ONE, Relaxed);
        // A reference count this high means references are leaked in a loop.
        if prev > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Releases `n` references; true when they were the last.
    pub(crate) fn ref_dec(&self, n: usize) -> bool {
        let prev = self.0.fetch_sub(n * REF_ONE, AcqRel);
        debug_assert!(prev >> REF_SHIFT >= n, "{:?} - {n}", Snapshot(prev));
        prev >> REF_SHIFT == n
    }

    #[cfg(all(test, not(loom)))]
    pub(crate) fn flags(&self) -> usize {
        self.0.load(Acquire) & FLAGS
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_wake_while_running_requeues_with_a_reference_of_its_own() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert!(!state.transition_to_notified_by_ref());
        assert_eq!(state.transition_to_idle(), ToIdle::Notified);
        assert_eq!(
            state.load().ref_count(),
            4,
            "the requeued Notified's and the worker's, still held across the requeue"
        );
        assert!(!state.ref_dec(1), "the worker lets go after the requeue");
        assert_eq!(state.load().ref_count(), 3);
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert_eq!(state.transition_to_idle(), ToIdle::Idle);
        assert_eq!(state.load().ref_count(), 2);
        assert!(state.transition_to_notified_by_ref());
        assert!(
            !state.transition_to_notified_by_ref(),
            "a second wake must not queue twice"
        );
        assert_eq!(state.load().ref_count(), 3);
    }

    #[test]
    fn a_wake_by_value_keeps_the_wakers_reference_until_it_is_released() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        state.ref_inc(); // a waker
        assert_eq!(state.transition_to_idle(), ToIdle::Idle);
        assert_eq!(state.load().ref_count(), 3);
        assert_eq!(state.transition_to_notified_by_val(), WakeByVal::Submit);
        assert_eq!(state.load().ref_count(), 4, "the Notified's and the waker's");
        assert!(!state.ref_dec(1), "the waker lets go after the submission");
        assert_eq!(state.load().ref_count(), 3);
    }

    #[test]
    fn abort_of_an_idle_task_schedules_it_once() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert_eq!(state.transition_to_idle(), ToIdle::Idle);
        assert!(state.transition_to_notified_and_cancel());
        assert!(!state.transition_to_notified_and_cancel());
        assert_eq!(state.transition_to_running(), ToRunning::Cancel);
    }

    #[test]
    fn join_interest_decides_who_drops_the_output() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert!(state.unset_join_interest().is_ok());
        let prev = state.transition_to_complete();
        assert!(!prev.is_join_interested());
        assert_eq!(state.flags() & (RUNNING | COMPLETE), COMPLETE);
        assert!(
            !state.ref_dec(1),
            "the JoinHandle and the list still hold references"
        );
    }
}

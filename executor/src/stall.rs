//! Stall detection: a watchdog thread that reports polls running longer than a threshold.
//!
//! The hot path reads no clock. Before each poll a worker publishes the polled task's spawn
//! location in its slot (`WorkerMetrics::polling`, a plain store next to the poll counter it
//! already publishes) and clears it after. The watchdog wakes every half threshold and looks
//! at each worker's (poll counter, location) pair: the same pair, still set, on two looks
//! `threshold` apart means one poll has run at least that long. It reports it once, *while it
//! is still stuck*, so a poll that never returns (a deadlock, a blocking call that hangs) is
//! reported too. The duration it reports is a lower bound: from the first look that saw the
//! poll, which is at most one tick after the poll started.
//!
//! **Quiet when idle.** Once every worker is parked and none has woken since its last look,
//! the watchdog *dozes*: it waits with no timeout, and the first worker to leave its park
//! wakes it (`Watchdog::worker_awake`, one atomic add per park exit). Both sides meet on one
//! word, `activity`: the watchdog sets its `DOZING` bit only by a compare-and-swap against
//! the count it last saw, so a worker that woke in between makes that swap fail, and one that
//! wakes after it sees the bit.
//!
//! **Not fooled by a busy machine.** A worker that is runnable but waits for a CPU (the
//! machine is loaded, a debug build descheduled) is not stuck in its poll. For a poll that
//! looks stuck by the wall clock, the watchdog reads how long the worker really was stuck
//! (`thread_clock.rs`; Linux) and reports only if that reaches the threshold too.

// No watchdog thread runs under loom (see `Builder::build`), so most of this is unused there.
#![cfg_attr(loom, allow(dead_code))]

use crate::runtime::Handle;
use crate::thread_clock::{Reading, stuck_time};
use std::fmt;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// What the `on_stall` hook receives.
pub(crate) type StallHook = Arc<dyn Fn(&StallReport) + Send + Sync>;

/// The default stall threshold.
pub(crate) const DEFAULT_STALL_THRESHOLD: Duration = Duration::from_millis(100);

/// A task whose poll has been running longer than the runtime's stall threshold; see
/// [`Builder::stall_threshold`](crate::Builder::stall_threshold).
#[derive(Clone, Debug)]
pub struct StallReport {
    location: &'static Location<'static>,
    worker: usize,
    duration: Duration,
    threshold: Duration,
}

impl StallReport {
    /// Where the stalled task was spawned.
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// The worker thread polling it (0-based, as in [`RuntimeMetrics`](crate::RuntimeMetrics)).
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// How long the poll had been running when it was reported: at least the threshold, and
    /// at most one watchdog tick (half the threshold) less than the truth. The poll may still
    /// be running: the report is made while it is stuck, once per poll.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The runtime's stall threshold.
    pub fn threshold(&self) -> Duration {
        self.threshold
    }
}

impl fmt::Display for StallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a task spawned at {} has been in one poll for {:?} on worker {} (stall threshold {:?}): \
             it blocks its worker, or computes without an await that yields (heist's own futures \
             yield after 128 ready operations); blocking code belongs in spawn_blocking, and a \
             long loop can call heist::task::consume_budget",
            self.location, self.duration, self.worker, self.threshold
        )
    }
}

/// The default hook: one line on stderr.
pub(crate) fn default_hook() -> StallHook {
    Arc::new(|report: &StallReport| eprintln!("heist: {report}"))
}

/// The watchdog's settings and its stop signal; lives in `Shared`.
pub(crate) struct Watchdog {
    threshold: Duration,
    hook: StallHook,
    stopped: Mutex<bool>,
    wake: Condvar,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Park exits so far (in steps of `AWAKE_STEP`), and the `DOZING` bit; see the module docs.
    activity: AtomicU64,
}

const DOZING: u64 = 1;
const AWAKE_STEP: u64 = 2;

/// One look's memory of one worker: which poll it saw, since when, what the worker's thread
/// clock said at the second look (read only for a poll still running then, so short polls
/// cost no read), and whether it reported the poll.
#[derive(Clone, Copy)]
struct Seen {
    polls: u64,
    since: Instant,
    clock: Option<(Instant, Reading)>,
    reported: bool,
}

impl Seen {
    /// How long the poll has been stuck by `now`: the wall time up to the second look, then
    /// what the thread clock says of the rest (`thread_clock.rs`), where there is one.
    ///
    /// The second look is due one `tick` after the first. Where the watchdog itself came late
    /// (its own thread waited for a CPU on a loaded machine), the extra wall time says nothing
    /// of the worker, so at most one tick of it counts: a poll really stuck is still reported,
    /// by the thread clock, a little later.
    fn stuck_for(
        &self,
        now: Instant,
        tick: Duration,
        clock_now: impl FnOnce() -> Option<Reading>,
    ) -> Duration {
        let wall = now.duration_since(self.since);
        match (self.clock, clock_now()) {
            (Some((at, before)), Some(after)) => {
                at.duration_since(self.since).min(tick) + stuck_time(now.duration_since(at), before, after)
            }
            _ => wall,
        }
    }
}

impl Watchdog {
    pub(crate) fn new(threshold: Duration, hook: Option<StallHook>) -> Watchdog {
        Watchdog {
            threshold,
            hook: hook.unwrap_or_else(default_hook),
            stopped: Mutex::new(false),
            wake: Condvar::new(),
            thread: Mutex::new(None),
            activity: AtomicU64::new(0),
        }
    }

    /// A worker left its park: wakes the watchdog if it dozes.
    pub(crate) fn worker_awake(&self) {
        if self.activity.fetch_add(AWAKE_STEP, SeqCst) & DOZING != 0 {
            // Under the lock: the watchdog set `DOZING` holding it and waits releasing it, so
            // this notification cannot fall between the two.
            let _stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
            self.wake.notify_all();
        }
    }

    /// Starts the watchdog thread for `handle`'s runtime (whose `Shared` holds this watchdog).
    pub(crate) fn start(handle: &Handle) -> std::io::Result<()> {
        let Some(watchdog) = handle.shared().watchdog.as_ref() else {
            return Ok(());
        };
        let handle = handle.clone();
        let thread = std::thread::Builder::new()
            .name("heist-watchdog".into())
            .spawn(move || watch(&handle))?;
        *watchdog.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(thread);
        Ok(())
    }

    /// Stops the watchdog thread and waits for it (unless this is it: a hook dropping the
    /// runtime). Idempotent.
    pub(crate) fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_all();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }

    /// Sleeps one tick, or until a worker wakes if `idle()` says every worker is parked and
    /// none has woken since `activity_seen`; false once stopped. Returns the activity count
    /// for the next call.
    fn sleep(&self, tick: Duration, activity_seen: u64, idle: impl Fn() -> bool) -> Option<u64> {
        let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        if *stopped {
            return None;
        }
        let dozing = idle()
            && self
                .activity
                .compare_exchange(activity_seen, activity_seen | DOZING, SeqCst, SeqCst)
                .is_ok();
        if dozing {
            while !*stopped && self.activity.load(SeqCst) == activity_seen | DOZING {
                stopped = self.wake.wait(stopped).unwrap_or_else(|e| e.into_inner());
            }
            self.activity.fetch_and(!DOZING, SeqCst);
        } else {
            stopped = self
                .wake
                .wait_timeout(stopped, tick)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        (!*stopped).then(|| self.activity.load(SeqCst) & !DOZING)
    }
}

/// The watchdog thread's body.
fn watch(handle: &Handle) {
    let shared = handle.shared();
    let Some(watchdog) = shared.watchdog.as_ref() else {
        return;
    };
    let tick = (watchdog.threshold / 2).max(Duration::from_micros(500));
    let mut seen: Vec<Option<Seen>> = vec![None; shared.num_workers()];
    let mut activity = 0;
    while let Some(now_activity) = watchdog.sleep(tick, activity, || shared.all_workers_parked()) {
        activity = now_activity;
        let now = Instant::now();
        for (worker, seen) in seen.iter_mut().enumerate() {
            let metrics = shared.worker_metrics(worker);
            // Acquire pairs with the worker's release store of the location, which follows its
            // store of the poll counter: the counter read is that poll's or a later one's.
            let location = metrics.polling.load(Acquire);
            if location.is_null() {
                *seen = None;
                continue;
            }
            let polls = metrics.polls.load(Relaxed);
            let read_clock = || {
                let clock = metrics.thread_clock.lock().unwrap_or_else(|e| e.into_inner());
                clock.as_ref().and_then(|clock| clock.read())
            };
            match seen {
                Some(seen) if seen.polls == polls => {
                    if seen.clock.is_none() {
                        seen.clock = read_clock().map(|reading| (now, reading));
                    }
                    let looks_stuck = now.duration_since(seen.since) >= watchdog.threshold;
                    // Only for a poll that looks stuck: how much of that time the worker was
                    // stuck rather than waiting for a CPU.
                    let duration = seen.stuck_for(now, tick, || looks_stuck.then(read_clock).flatten());
                    if !seen.reported && duration >= watchdog.threshold {
                        seen.reported = true;
                        let report = StallReport {
                            // SAFETY: workers only publish `&'static Location`s (or null).
                            location: unsafe { &*location },
                            worker,
                            duration,
                            threshold: watchdog.threshold,
                        };
                        // A panicking hook must not take the watchdog down.
                        let _ = catch_unwind(AssertUnwindSafe(|| (watchdog.hook)(&report)));
                    }
                }
                _ => {
                    *seen = Some(Seen {
                        polls,
                        since: now,
                        clock: None,
                        reported: false,
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_late_second_look_counts_one_tick_of_wall_time() {
        let first = Instant::now();
        // The second look came 60 ms after the first instead of 25; by the third, 10 ms on,
        // the worker's clock says it ran 5 ms and waited 5 for a CPU.
        let seen = Seen {
            polls: 1,
            since: first,
            clock: Some((first + 60 * MS, Reading::new(100 * MS, Duration::ZERO, true))),
            reported: false,
        };
        let stuck = seen.stuck_for(first + 70 * MS, 25 * MS, || {
            Some(Reading::new(105 * MS, 5 * MS, true))
        });
        assert_eq!(stuck, 30 * MS);
    }

    #[test]
    fn with_no_thread_clock_the_wall_time_counts() {
        let first = Instant::now();
        let seen = Seen {
            polls: 1,
            since: first,
            clock: None,
            reported: false,
        };
        assert_eq!(seen.stuck_for(first + 70 * MS, 25 * MS, || None), 70 * MS);
    }
}

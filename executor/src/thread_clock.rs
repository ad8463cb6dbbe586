//! How much of a stretch of wall time a worker thread spent stuck, rather than waiting for a
//! CPU: the stall watchdog's measure (Linux; elsewhere the wall time counts as it is).
//!
//! A thread that is runnable but waits on a run queue (the machine is loaded, a debug build
//! descheduled) is not stuck in its poll. The kernel's per-thread statistics tell the parts
//! apart: `/proc/self/task/TID/schedstat` has the time on a CPU and the time waiting for one,
//! but the wait in progress is counted only once the thread gets a CPU back. So:
//! - a thread that is *runnable* now (state `R`) is judged by its CPU time alone: it is
//!   computing or waiting for a CPU, and only the computing is the poll's doing;
//! - a thread that is *blocked* now (asleep in a system call, a lock, a blocking read) has its
//!   waits all counted: its stuck time is the wall time less the run-queue wait.
//!
//! The watchdog reads them only for a poll still running at its second look (half the stall
//! threshold in), so a runtime whose polls are short opens no descriptor for this at all;
//! none is kept open (a runtime's descriptors are the sockets it was given, nothing more).

use std::path::PathBuf;
use std::time::Duration;

/// Where one thread's statistics are under `/proc`.
#[derive(Debug)]
pub(crate) struct ThreadClock {
    /// `/proc/PID/task/TID`.
    dir: PathBuf,
}

/// What a thread's statistics said at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reading {
    on_cpu: Duration,
    queued: Duration,
    runnable: bool,
}

#[cfg(test)]
impl Reading {
    pub(crate) fn new(on_cpu: Duration, queued: Duration, runnable: bool) -> Reading {
        Reading {
            on_cpu,
            queued,
            runnable,
        }
    }
}

impl ThreadClock {
    /// The calling thread's, where the OS keeps such statistics.
    pub(crate) fn current() -> Option<ThreadClock> {
        // Miri cannot read /proc (isolation): there, as off Linux, the wall time counts.
        if !cfg!(target_os = "linux") || cfg!(miri) {
            return None;
        }
        // "PID/task/TID", naming the calling thread (no descriptor stays open).
        let thread = std::fs::read_link("/proc/thread-self").ok()?;
        Some(ThreadClock {
            dir: std::path::Path::new("/proc").join(thread),
        })
    }

    pub(crate) fn read(&self) -> Option<Reading> {
        let schedstat = std::fs::read_to_string(self.dir.join("schedstat")).ok()?;
        let stat = std::fs::read_to_string(self.dir.join("stat")).ok()?;
        parse(&schedstat, &stat)
    }
}

/// `schedstat` is "time on a CPU, time waiting on a run queue, timeslices", in nanoseconds;
/// `stat` is "TID (name) STATE ...", and the name may hold spaces and parentheses.
fn parse(schedstat: &str, stat: &str) -> Option<Reading> {
    let mut fields = schedstat.split_whitespace();
    let on_cpu = Duration::from_nanos(fields.next()?.parse().ok()?);
    let queued = Duration::from_nanos(fields.next()?.parse().ok()?);
    let state = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().next()?;
    Some(Reading {
        on_cpu,
        queued,
        runnable: state == "R",
    })
}

/// Of `wall` time between `before` and `after`, how long the thread was stuck (see the
/// module docs).
pub(crate) fn stuck_time(wall: Duration, before: Reading, after: Reading) -> Duration {
    if after.runnable {
        after.on_cpu.saturating_sub(before.on_cpu)
    } else {
        wall.saturating_sub(after.queued.saturating_sub(before.queued))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn reading(on_cpu_ms: u32, queued_ms: u32, runnable: bool) -> Reading {
        Reading {
            on_cpu: on_cpu_ms * MS,
            queued: queued_ms * MS,
            runnable,
        }
    }

    #[test]
    fn parses_schedstat_and_the_state_after_the_name() {
        let stat = "4242 (heist (worker) 1) R 1 4242 4242 0 -1";
        let expected = Reading {
            on_cpu: 2 * MS,
            queued: Duration::from_micros(1500),
            runnable: true,
        };
        assert_eq!(parse("2000000 1500000 42\n", stat), Some(expected));
        assert_eq!(
            parse("2000000 1500000 42\n", "7 (w) S 1").map(|r| r.runnable),
            Some(false)
        );
        assert_eq!(parse("2000000", stat), None);
        assert_eq!(parse("a b c", stat), None);
        assert_eq!(parse("1 2 3", "no state"), None);
    }

    #[test]
    fn a_runnable_thread_is_stuck_only_for_its_cpu_time() {
        // 100 ms of wall time, 10 of them computing: the rest it waited for a CPU, including
        // a wait in progress that schedstat does not show yet.
        assert_eq!(
            stuck_time(100 * MS, reading(5, 0, true), reading(15, 40, true)),
            10 * MS
        );
    }

    #[test]
    fn a_blocked_thread_is_stuck_for_the_wall_time_less_its_run_queue_wait() {
        assert_eq!(
            stuck_time(100 * MS, reading(5, 10, false), reading(6, 30, false)),
            80 * MS
        );
    }

    #[cfg(all(target_os = "linux", not(miri)))]
    #[test]
    fn each_thread_reads_its_own_statistics() {
        let here = ThreadClock::current().expect("Linux has /proc/thread-self");
        // Another thread that blocks on a channel once it has handed its clock over. (Not an
        // exited one: `join` returns before the kernel is done with the thread, which can
        // still read as running then.)
        let (clock_tx, clock_rx) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || {
            clock_tx.send(ThreadClock::current()).unwrap();
            let _ = released.recv();
        });
        let there = clock_rx.recv().unwrap().expect("Linux has /proc/thread-self");
        let mine = here.read().unwrap();
        assert!(mine.runnable, "a thread that reads its state is running");
        // Its clock reads its own state: blocked, once it reaches the `recv` (a clock that
        // read this thread's files would say running forever; the deadline only ends a hang).
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while there.read().expect("the other thread is alive").runnable {
            assert!(
                std::time::Instant::now() < deadline,
                "the other thread's clock reads this thread"
            );
            std::thread::yield_now();
        }
        drop(release);
        other.join().unwrap();
        // Read again: the CPU time only grows.
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(20) {
            std::hint::spin_loop();
        }
        assert!(here.read().unwrap().on_cpu > mine.on_cpu);
    }
}

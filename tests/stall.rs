//! Stall detection: a poll that runs longer than the threshold is reported to the hook, with
//! its task's spawn location, the worker and the duration.
//!
//! The stalled tasks here block inside their poll (`std::thread::sleep`): that is the stall
//! being detected, not a wait for a race.

mod common;

use common::{WAIT, run_with_timeout};
use heist::runtime::{Builder, StallReport};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const THRESHOLD: Duration = Duration::from_millis(1);
const STALL: Duration = Duration::from_millis(30);

/// A runtime with a 1 ms threshold whose hook sends every report to the returned receiver.
fn watched_runtime(workers: usize) -> (heist::Runtime, mpsc::Receiver<StallReport>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let rt = Builder::new()
        .worker_threads(workers)
        .stall_threshold(Some(THRESHOLD))
        .on_stall(move |report| {
            let _ = tx.lock().unwrap().send(report.clone());
        })
        .build()
        .unwrap();
    (rt, rx)
}

fn is_ours(report: &StallReport, line: u32) -> bool {
    report.location().file().ends_with("stall.rs") && report.location().line() == line
}

/// The stalled poll: blocks its worker until the hook reports it (or `WAIT` passes) and
/// returns the report. The watchdog reports a poll while it is still running, so this needs
/// no guess at how long to block.
fn block_until_reported(reports: &Mutex<mpsc::Receiver<StallReport>>, line: u32) -> Option<StallReport> {
    let reports = reports.lock().unwrap();
    loop {
        let report = reports.recv_timeout(WAIT).ok()?;
        // On a loaded machine another poll may exceed 1 ms too; we want ours.
        if is_ours(&report, line) {
            return Some(report);
        }
    }
}

#[test]
fn a_blocking_poll_is_reported_with_location_worker_and_duration() {
    run_with_timeout("a_blocking_poll_is_reported", || {
        let (rt, reports) = watched_runtime(1);
        let reports = Arc::new(Mutex::new(reports));
        let inside = reports.clone();
        let line = line!() + 1;
        let stalled = rt.spawn(async move { block_until_reported(&inside, line) });
        let report = rt.block_on(stalled).unwrap().expect("no stall report");
        assert_eq!(report.worker(), 0, "the only worker");
        assert_eq!(report.threshold(), THRESHOLD);
        assert!(report.duration() >= THRESHOLD, "{report}");
        let text = report.to_string();
        assert!(
            text.contains(&format!("stall.rs:{line}:")) && text.contains("worker 0"),
            "{text}"
        );
        // Once per poll: after the runtime (and its watchdog) stopped, no second report.
        drop(rt);
        let reports = reports.lock().unwrap();
        assert_eq!(reports.try_iter().filter(|r| is_ours(r, line)).count(), 0);
    });
}

/// A poll stuck computing (on its CPU, never blocking) is reported too.
#[test]
fn a_computing_poll_is_reported() {
    run_with_timeout("a_computing_poll_is_reported", || {
        let (rt, reports) = watched_runtime(1);
        let line = line!() + 1;
        let spinning = rt.spawn(async move {
            let deadline = std::time::Instant::now() + WAIT;
            while std::time::Instant::now() < deadline {
                if let Ok(report) = reports.try_recv() {
                    if is_ours(&report, line) {
                        return Some(report);
                    }
                }
                std::hint::spin_loop();
            }
            None
        });
        let report = rt.block_on(spinning).unwrap().expect("no stall report");
        assert!(report.duration() >= THRESHOLD, "{report}");
    });
}

#[test]
fn the_report_names_the_stalled_worker() {
    run_with_timeout("the_report_names_the_stalled_worker", || {
        let (rt, reports) = watched_runtime(3);
        let reports = Arc::new(Mutex::new(reports));
        let line = line!() + 1;
        let stalled = rt.spawn(async move { block_until_reported(&reports, line) });
        let report = rt.block_on(stalled).unwrap().expect("no stall report");
        assert!(report.worker() < 3, "{report}");
        assert!(report.duration() >= THRESHOLD, "{report}");
    });
}

#[test]
fn no_report_when_turned_off() {
    run_with_timeout("no_report_when_turned_off", || {
        let called = Arc::new(Mutex::new(Vec::new()));
        let seen = called.clone();
        // Set, then turned off: the last call wins.
        let rt = Builder::new()
            .worker_threads(1)
            .stall_threshold(Some(THRESHOLD))
            .stall_threshold(None)
            .on_stall(move |report| seen.lock().unwrap().push(report.clone()))
            .build()
            .unwrap();
        rt.block_on(rt.spawn(async { std::thread::sleep(STALL) }))
            .unwrap();
        drop(rt);
        assert!(
            called.lock().unwrap().is_empty(),
            "reports: {:?}",
            called.lock().unwrap()
        );
    });
}

#[test]
fn the_default_hook_writes_to_stderr() {
    run_with_timeout("the_default_hook_writes_to_stderr", || {
        let rt = Builder::new()
            .worker_threads(1)
            .stall_threshold(Some(THRESHOLD))
            .build()
            .unwrap();
        rt.block_on(rt.spawn(async { std::thread::sleep(STALL) }))
            .unwrap();
        // The runtime still works, and stops (with its watchdog) cleanly.
        assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
        drop(rt);
    });
}

#[test]
fn a_panicking_hook_does_not_stop_the_watchdog() {
    run_with_timeout("a_panicking_hook_does_not_stop_the_watchdog", || {
        let (tx, rx) = mpsc::channel::<StallReport>();
        let tx = Mutex::new(tx);
        let rt = Builder::new()
            .worker_threads(1)
            .stall_threshold(Some(THRESHOLD))
            .on_stall(move |report| {
                // Poisoned by the previous call's panic: still usable.
                let _ = tx
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .send(report.clone());
                panic!("hook panics");
            })
            .build()
            .unwrap();
        let reports = Arc::new(Mutex::new(rx));
        for _ in 0..2 {
            let inside = reports.clone();
            let line = line!() + 1;
            let stalled = rt.spawn(async move { block_until_reported(&inside, line) });
            assert!(
                rt.block_on(stalled).unwrap().is_some(),
                "no report after the hook panicked"
            );
        }
    });
}

/// A poll that is short on its own CPU but slow on the wall clock because its worker waits
/// for a CPU (eleven spinning threads share it) is no stall: the watchdog takes the run-queue
/// wait off (Linux). Margins are wide: 10 ms of CPU against a 50 ms threshold, and about
/// 120 ms of wall time, which the watchdog reported before it read the wait.
#[cfg(target_os = "linux")]
#[test]
fn a_poll_slowed_only_by_waiting_for_a_cpu_is_not_reported() {
    use std::sync::atomic::{AtomicBool, Ordering};

    fn pin_to_cpu(cpu: usize) {
        // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET and sched_setaffinity only
        // read and write the set we pass, for the calling thread (pid 0).
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            assert_eq!(libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set), 0);
        }
    }

    fn thread_cpu_time() -> Duration {
        // SAFETY: clock_gettime writes only the timespec we pass.
        let mut now: libc::timespec = unsafe { std::mem::zeroed() };
        assert_eq!(
            unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) },
            0
        );
        Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
    }

    run_with_timeout("descheduled_poll", || {
        let cpu = 0;
        let (tx, reports) = mpsc::channel();
        let tx = Mutex::new(tx);
        let rt = Builder::new()
            .worker_threads(1)
            .stall_threshold(Some(Duration::from_millis(50)))
            .on_stall(move |report| {
                let _ = tx.lock().unwrap().send(report.clone());
            })
            .on_thread_start(move || pin_to_cpu(cpu))
            .build()
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let hogs: Vec<_> = (0..11)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    pin_to_cpu(cpu);
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        let line = line!() + 1;
        let busy = rt.spawn(async {
            let start = thread_cpu_time();
            while thread_cpu_time() - start < Duration::from_millis(10) {
                std::hint::spin_loop();
            }
        });
        rt.block_on(busy).unwrap();
        stop.store(true, Ordering::Relaxed);
        hogs.into_iter().for_each(|hog| hog.join().unwrap());
        // Dropping the runtime joins the watchdog: every report it made is in the channel.
        drop(rt);
        let ours: Vec<_> = reports
            .try_iter()
            .filter(|report| is_ours(report, line))
            .collect();
        assert!(
            ours.is_empty(),
            "reported a poll that only waited for a CPU: {ours:?}"
        );
    });
}

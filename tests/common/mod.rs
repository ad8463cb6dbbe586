//! Helpers shared by the integration tests.
//!
//! Every file under `tests/` is its own crate and uses only part of this
//! module, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

/// How long a test body may take before we declare it hung. This is a
/// failure guard only: no test waits this long when the runtime works.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// How long a test body waits for one specific event (a message, a metric)
/// before failing with a message naming it. Shorter than [`TIMEOUT`] so the
/// specific message wins over the generic one.
pub const WAIT: Duration = Duration::from_secs(20);

/// Runs `body` on its own thread and waits at most [`TIMEOUT`] for it, so a
/// deadlocked runtime fails the test with a clear message instead of hanging
/// the whole suite. A panic in `body` is re-raised on the test thread.
pub fn run_with_timeout<T, F>(name: &str, body: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    run_with_deadline(name, TIMEOUT, body)
}

/// Spins (yielding the OS thread, never sleeping) until `cond` holds, for
/// state the runtime updates asynchronously, e.g. metrics that are bumped
/// just after a JoinHandle is notified. Fails after [`WAIT`].
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        if Instant::now() > deadline {
            panic!("condition never became true within {WAIT:?}: {what}");
        }
        thread::yield_now();
    }
}

/// The message of a panic payload (`&str` or `String`).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// A multi-threaded runtime with `workers` worker threads.
pub fn runtime(workers: usize) -> heist::Runtime {
    heist::runtime::Builder::new()
        .worker_threads(workers)
        .build()
        .expect("failed to build the runtime")
}

/// Spawns `n` tasks from the current runtime, each yielding `yields` times and returning its
/// index, and returns the sum of what they returned.
pub async fn spawn_and_sum(n: u64, yields: usize) -> u64 {
    let handles: Vec<heist::task::JoinHandle<u64>> = (0..n)
        .map(|i| {
            heist::spawn(async move {
                for _ in 0..yields {
                    heist::task::yield_now().await;
                }
                i
            })
        })
        .collect();
    let mut sum = 0;
    for handle in handles {
        sum += handle.await.expect("task failed");
    }
    sum
}

/// Increments the shared counter when dropped: counts future drops.
pub struct DropCounter(pub Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Loops on `yield_now` forever, counting iterations.
pub async fn yield_forever(iterations: Arc<AtomicU64>) {
    loop {
        iterations.fetch_add(1, Ordering::Relaxed);
        heist::task::yield_now().await;
    }
}

/// A future that is never ready but wakes itself on every poll (a busy
/// task that does not use `yield_now`).
pub struct SelfWakeForever {
    pub polls: Arc<AtomicU64>,
}

impl Future for SelfWakeForever {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// [`run_with_timeout`] with a deadline of the caller's choosing, for tests whose length is
/// set from outside (a soak or chaos run given a duration in an environment variable).
pub fn run_with_deadline<T, F>(name: &str, deadline: Duration, body: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let thread = thread::Builder::new()
        .name(format!("test-body:{name}"))
        .spawn(move || {
            let value = body();
            let _ = tx.send(value);
        })
        .expect("failed to spawn the test body thread");
    match rx.recv_timeout(deadline) {
        Ok(value) => {
            thread.join().expect("test body thread panicked after finishing");
            value
        }
        Err(RecvTimeoutError::Timeout) => panic!(
            "`{name}` did not finish within {deadline:?}: the runtime deadlocked, lost a wakeup, \
             or starved a task"
        ),
        Err(RecvTimeoutError::Disconnected) => match thread.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => panic!("`{name}`: test body ended without producing a result"),
        },
    }
}

/// The resident set size of this process in bytes (`VmRSS` of `/proc/self/status`).
pub fn vm_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("cannot read /proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("no VmRSS line in /proc/self/status");
    kib * 1024
}

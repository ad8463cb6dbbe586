//! Fairness as a figure: how long an I/O event or an expired timer waits for its task while
//! every worker is kept busy by always-ready tasks, on heist, tokio and smol.
//!
//! Load: `4 x WORKERS` tasks (`HEIST_BENCH_WORKERS`, default 2) that each spin for
//! `BUSY_SPIN` (short CPU work) and then `yield_now`, until the measurements are over. They
//! are always ready, so a runtime that only looks at its I/O driver or timers when it runs out
//! of tasks would never look.
//!
//! Measured, one after the other on the same loaded runtime:
//!
//! - I/O: a reader task waits on one end of a Unix socket pair (heist `Async`, tokio
//!   `UnixStream`, async-io `Async`). A std thread waits until the reader is armed, lets
//!   `GAP` pass, and writes 8 bytes holding the time of the write `t0`; the delay is when the
//!   reader task runs again (its `read_exact` returned) minus `t0`.
//! - Timer: a task runs `SAMPLES` sequential `sleep_until(now + 1 ms)`; the delay is when the
//!   task runs again minus the deadline (a negative one, an early wake-up, is counted).
//!
//! Both are first measured without the load, for reference (tokio's timer has a 1 ms
//! granularity, so its timer delays are ~1 ms even then).
//!
//! Also reported: how many busy polls per second the load got during the two measurements,
//! so a runtime that starves the load shows it (expected: similar for all three).
//!
//! One runtime is alive at a time. On a machine with 2 cores the writer thread and the bench
//! thread compete with the workers: compare the runtimes with each other, not with zero.
//!
//! Run: `cargo bench --bench fairness` (takes a few seconds). Unix only: the I/O probe is a
//! Unix socket pair (heist's `Async`, tokio's and async-io's `UnixStream`).

use std::future::Future;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::thread;
use std::time::{Duration, Instant};

use super::common::{self, Smol, WORKERS, ratio};

/// Samples per runtime and per measurement.
const SAMPLES: usize = 400;
/// Busy tasks per worker.
const BUSY_PER_WORKER: usize = 4;
/// CPU work of one busy poll before it yields.
const BUSY_SPIN: Duration = Duration::from_micros(10);
/// Pause before each write, so the reader is parked in its read.
const GAP: Duration = Duration::from_millis(1);
const SLEEP: Duration = Duration::from_millis(1);

// ---------------------------------------------------------------------------
// Runtimes
// ---------------------------------------------------------------------------

trait Rt: Sized + 'static {
    const NAME: &'static str;
    fn new() -> Self;
    /// Spawns `fut` on the runtime and blocks this thread until it is done.
    fn run<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> T;
    fn spawn_detached(&self, fut: impl Future<Output = ()> + Send + 'static);
    fn yield_now() -> impl Future<Output = ()> + Send;
    fn sleep_until(deadline: Instant) -> impl Future + Send;
    /// Reads `n` 8-byte timestamps from `stream` (called on a worker); see `io_delays`.
    fn read_stamps(
        stream: UnixStream,
        n: usize,
        base: Instant,
        armed: Arc<AtomicUsize>,
    ) -> impl Future<Output = Vec<i64>> + Send + 'static;
}

/// The time since `base` in the 8 bytes, received now: the delay in nanoseconds.
fn delay_since(base: Instant, stamp: [u8; 8]) -> i64 {
    signed_ns(
        Instant::now(),
        base + Duration::from_nanos(u64::from_le_bytes(stamp)),
    )
}

/// `later - earlier` in signed nanoseconds.
fn signed_ns(later: Instant, earlier: Instant) -> i64 {
    match later.checked_duration_since(earlier) {
        Some(d) => d.as_nanos() as i64,
        None => -(earlier.duration_since(later).as_nanos() as i64),
    }
}

struct Heist(heist::Runtime);

impl Rt for Heist {
    const NAME: &'static str = "heist";

    fn new() -> Self {
        Heist(common::heist_rt())
    }

    fn run<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> T {
        let handle = self.0.spawn(fut);
        self.0.block_on(handle).expect("heist task")
    }

    fn spawn_detached(&self, fut: impl Future<Output = ()> + Send + 'static) {
        drop(self.0.spawn(fut));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        heist::task::yield_now()
    }

    fn sleep_until(deadline: Instant) -> impl Future + Send {
        heist::time::sleep_until(deadline)
    }

    fn read_stamps(
        stream: UnixStream,
        n: usize,
        base: Instant,
        armed: Arc<AtomicUsize>,
    ) -> impl Future<Output = Vec<i64>> + Send + 'static {
        use heist::io::AsyncReadExt;
        async move {
            let mut stream = heist::io::Async::new(stream).expect("register the socket");
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                armed.fetch_add(1, Relaxed);
                let mut stamp = [0; 8];
                stream.read_exact(&mut stamp).await.expect("read");
                out.push(delay_since(base, stamp));
            }
            out
        }
    }
}

struct Tokio(tokio::runtime::Runtime);

impl Rt for Tokio {
    const NAME: &'static str = "tokio";

    fn new() -> Self {
        Tokio(common::tokio_io_rt())
    }

    fn run<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> T {
        let handle = self.0.spawn(fut);
        self.0.block_on(handle).expect("tokio task")
    }

    fn spawn_detached(&self, fut: impl Future<Output = ()> + Send + 'static) {
        drop(self.0.spawn(fut));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    fn sleep_until(deadline: Instant) -> impl Future + Send {
        tokio::time::sleep_until(deadline.into())
    }

    fn read_stamps(
        stream: UnixStream,
        n: usize,
        base: Instant,
        armed: Arc<AtomicUsize>,
    ) -> impl Future<Output = Vec<i64>> + Send + 'static {
        use tokio::io::AsyncReadExt;
        async move {
            stream.set_nonblocking(true).expect("non-blocking");
            let mut stream = tokio::net::UnixStream::from_std(stream).expect("register the socket");
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                armed.fetch_add(1, Relaxed);
                let mut stamp = [0; 8];
                stream.read_exact(&mut stamp).await.expect("read");
                out.push(delay_since(base, stamp));
            }
            out
        }
    }
}

impl Rt for Smol {
    const NAME: &'static str = "smol";

    fn new() -> Self {
        Smol::new()
    }

    fn run<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> T {
        async_io::block_on(self.ex.spawn(fut))
    }

    fn spawn_detached(&self, fut: impl Future<Output = ()> + Send + 'static) {
        self.ex.spawn(fut).detach();
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }

    fn sleep_until(deadline: Instant) -> impl Future + Send {
        async_io::Timer::at(deadline)
    }

    fn read_stamps(
        stream: UnixStream,
        n: usize,
        base: Instant,
        armed: Arc<AtomicUsize>,
    ) -> impl Future<Output = Vec<i64>> + Send + 'static {
        use futures_lite::AsyncReadExt;
        async move {
            let mut stream = async_io::Async::new(stream).expect("register the socket");
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                armed.fetch_add(1, Relaxed);
                let mut stamp = [0; 8];
                stream.read_exact(&mut stamp).await.expect("read");
                out.push(delay_since(base, stamp));
            }
            out
        }
    }
}

// ---------------------------------------------------------------------------
// Load and measurements
// ---------------------------------------------------------------------------

/// The always-ready load: spins `BUSY_SPIN`, yields, until `stop`; then adds its polls.
async fn busy<R: Rt>(stop: Arc<AtomicBool>, polls: Arc<AtomicU64>, finished: Arc<AtomicUsize>) {
    let mut n = 0;
    while !stop.load(Relaxed) {
        let start = Instant::now();
        while start.elapsed() < BUSY_SPIN {
            std::hint::spin_loop();
        }
        n += 1;
        R::yield_now().await;
    }
    polls.fetch_add(n, Relaxed);
    finished.fetch_add(1, Relaxed);
}

/// Delays from a write on the socket to the reader task running, in nanoseconds.
fn io_delays<R: Rt>(rt: &R) -> Vec<i64> {
    let (reader, mut writer) = UnixStream::pair().expect("socket pair");
    let base = Instant::now();
    let armed = Arc::new(AtomicUsize::new(0));
    let writer = thread::spawn({
        let armed = armed.clone();
        move || {
            for i in 0..SAMPLES {
                let start = Instant::now();
                // The reader arms itself (then parks in its read) before each sample.
                while armed.load(Relaxed) <= i {
                    assert!(start.elapsed() < Duration::from_secs(60), "the reader never ran");
                    thread::sleep(Duration::from_micros(50));
                }
                thread::sleep(GAP);
                let t0 = base.elapsed().as_nanos() as u64;
                writer.write_all(&t0.to_le_bytes()).expect("write");
            }
        }
    });
    let delays = rt.run(R::read_stamps(reader, SAMPLES, base, armed));
    writer.join().expect("writer thread");
    delays
}

/// Lateness of `SAMPLES` sequential 1 ms sleeps, in nanoseconds.
fn timer_delays<R: Rt>(rt: &R) -> Vec<i64> {
    rt.run(async {
        let mut out = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let deadline = Instant::now() + SLEEP;
            R::sleep_until(deadline).await;
            out.push(signed_ns(Instant::now(), deadline));
        }
        out
    })
}

struct Result {
    name: &'static str,
    /// Sorted, nanoseconds.
    io: Vec<i64>,
    timer: Vec<i64>,
    /// The same without the load, for reference (sorted).
    idle_io: Vec<i64>,
    idle_timer: Vec<i64>,
    busy_polls_per_sec: f64,
}

fn measure<R: Rt>() -> Result {
    let rt = R::new();
    // Warm up: start the workers, the timers and the I/O driver.
    rt.run(async {
        R::sleep_until(Instant::now() + SLEEP).await;
    });
    let mut idle_io = io_delays(&rt);
    let mut idle_timer = timer_delays(&rt);
    let stop = Arc::new(AtomicBool::new(false));
    let polls = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let tasks = BUSY_PER_WORKER * *WORKERS;
    for _ in 0..tasks {
        rt.spawn_detached(busy::<R>(stop.clone(), polls.clone(), finished.clone()));
    }
    // Let the load reach every worker.
    thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    let mut io = io_delays(&rt);
    let mut timer = timer_delays(&rt);
    stop.store(true, Relaxed);
    let elapsed = start.elapsed();
    let wait = Instant::now();
    while finished.load(Relaxed) < tasks {
        assert!(
            wait.elapsed() < Duration::from_secs(60),
            "the busy tasks did not stop"
        );
        thread::sleep(Duration::from_millis(1));
    }
    drop(rt);
    for samples in [&mut io, &mut timer, &mut idle_io, &mut idle_timer] {
        samples.sort_unstable();
    }
    Result {
        name: R::NAME,
        io,
        timer,
        idle_io,
        idle_timer,
        busy_polls_per_sec: polls.load(Relaxed) as f64 / elapsed.as_secs_f64(),
    }
}

/// Nearest-rank percentile of sorted nanoseconds, in microseconds.
fn percentile_us(sorted: &[i64], p: f64) -> f64 {
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil().max(1.0) as usize;
    sorted[rank.min(n) - 1] as f64 / 1000.0
}

pub(crate) fn main() {
    let workers = *WORKERS;
    println!(
        "fairness: {} busy tasks ({BUSY_SPIN:?} of CPU, then yield_now) on {workers} workers; \
         {SAMPLES} socket wake-ups and {SAMPLES} sleeps of {SLEEP:?} per runtime",
        BUSY_PER_WORKER * workers
    );
    println!();

    let mut results = Vec::new();
    for measure in [measure::<Heist>, measure::<Tokio>, measure::<Smol>] {
        common::release_free_memory();
        let r = measure();
        eprintln!(
            "{}: I/O median {:.1} us, timer median {:.1} us",
            r.name,
            percentile_us(&r.io, 50.0),
            percentile_us(&r.timer, 50.0)
        );
        results.push(r);
    }

    println!(
        "| runtime | what | p50 (µs) | p99 (µs) | max (µs) | p99 vs heist | early | busy polls/s \
         | no load: p50 (µs) | no load: p99 (µs) |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    type Pick = fn(&Result) -> (&Vec<i64>, &Vec<i64>);
    let rows: [(&str, Pick); 2] = [
        ("socket readable → task runs", |r| (&r.io, &r.idle_io)),
        ("timer deadline → task runs", |r| (&r.timer, &r.idle_timer)),
    ];
    for (what, pick) in rows {
        let base_p99 = percentile_us(pick(&results[0]).0, 99.0);
        for r in &results {
            let (samples, idle) = pick(r);
            let p99 = percentile_us(samples, 99.0);
            println!(
                "| {} | {what} | {:.1} | {p99:.1} | {:.1} | {} | {} | {:.0} | {:.1} | {:.1} |",
                r.name,
                percentile_us(samples, 50.0),
                *samples.last().expect("samples") as f64 / 1000.0,
                ratio(p99, base_p99),
                samples.iter().filter(|&&ns| ns < 0).count(),
                r.busy_polls_per_sec,
                percentile_us(idle, 50.0),
                percentile_us(idle, 99.0)
            );
        }
    }
}

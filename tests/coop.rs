//! Never starve: a task whose awaits are always ready (a socket a peer keeps full, a channel
//! it feeds itself, an interval that is always due) still gives its worker back, because every
//! heist leaf spends the cooperative budget. Each test runs a hog beside a timer-driven task on
//! the same worker and asks for a generous share of progress: on a runtime whose leaves spend
//! no budget the other task makes none at all while the hog runs.

mod common;

use common::run_with_timeout;
use heist::io::AsyncReadExt;
use heist::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long each hog runs, and how many 10 ms ticks the other task must see meanwhile: a
/// tenth of the 100 it would get on an idle worker.
const HOG_TIME: Duration = Duration::from_secs(1);
const MIN_TICKS: usize = 10;

fn one_worker() -> heist::Runtime {
    heist::runtime::Builder::new().worker_threads(1).build().unwrap()
}

/// Counts a 10 ms interval's ticks while `stop` is unset.
async fn count_ticks(ticks: Arc<AtomicUsize>, stop: Arc<AtomicBool>) {
    let mut interval = heist::time::interval(Duration::from_millis(10));
    while !stop.load(Ordering::Relaxed) {
        interval.tick().await;
        ticks.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs `hog` for `HOG_TIME` beside a ticking interval on `rt`; returns the ticks seen.
fn ticks_beside<F>(rt: &heist::Runtime, hog: impl FnOnce(Arc<AtomicBool>) -> F) -> usize
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let ticks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = rt.spawn(count_ticks(ticks.clone(), stop.clone()));
    let hog = rt.spawn(hog(stop.clone()));
    std::thread::sleep(HOG_TIME);
    stop.store(true, Ordering::Relaxed);
    rt.block_on(hog).unwrap();
    rt.block_on(ticker).unwrap();
    ticks.load(Ordering::Relaxed)
}

#[test]
fn an_always_ready_socket_does_not_starve_an_interval() {
    run_with_timeout("socket_hog", || {
        let rt = one_worker();
        let (mut reader, writer) = rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let writer = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (reader, _) = listener.accept().await.unwrap();
            (reader, writer)
        });
        // A peer on its own thread keeps the socket full.
        let feeding = Arc::new(AtomicBool::new(true));
        let feeder = std::thread::spawn({
            let feeding = feeding.clone();
            let mut writer = writer.into_std().unwrap();
            writer.set_nonblocking(false).unwrap();
            move || {
                use std::io::Write;
                let chunk = [7u8; 64 * 1024];
                while feeding.load(Ordering::Relaxed) && writer.write_all(&chunk).is_ok() {}
            }
        });
        let ticks = ticks_beside(&rt, |stop| async move {
            let mut buf = [0; 64];
            while !stop.load(Ordering::Relaxed) {
                reader.read_exact(&mut buf).await.unwrap();
            }
        });
        feeding.store(false, Ordering::Relaxed);
        drop(rt);
        feeder.join().unwrap();
        assert!(
            ticks >= MIN_TICKS,
            "the interval ticked {ticks} times in {HOG_TIME:?}"
        );
    });
}

#[test]
fn a_task_feeding_itself_through_a_channel_does_not_starve_an_interval() {
    run_with_timeout("channel_hog", || {
        let rt = one_worker();
        let ticks = ticks_beside(&rt, |stop| async move {
            let (tx, mut rx) = heist::sync::mpsc::unbounded_channel();
            tx.send(0u64).unwrap();
            while !stop.load(Ordering::Relaxed) {
                let n = rx.recv().await.unwrap();
                tx.send(n + 1).unwrap();
            }
        });
        assert!(
            ticks >= MIN_TICKS,
            "the interval ticked {ticks} times in {HOG_TIME:?}"
        );
    });
}

#[test]
fn an_always_due_interval_does_not_starve_a_sleep() {
    run_with_timeout("interval_hog", || {
        let rt = one_worker();
        let stop = Arc::new(AtomicBool::new(false));
        let hog = rt.spawn({
            let stop = stop.clone();
            async move {
                let mut interval = heist::time::interval(Duration::from_nanos(1));
                while !stop.load(Ordering::Relaxed) {
                    interval.tick().await;
                }
            }
        });
        let started = Instant::now();
        let slept = rt.block_on(rt.spawn(async move {
            heist::time::sleep(Duration::from_millis(10)).await;
            started.elapsed()
        }));
        stop.store(true, Ordering::Relaxed);
        rt.block_on(hog).unwrap();
        let slept = slept.unwrap();
        assert!(
            slept < HOG_TIME,
            "a 10 ms sleep took {slept:?} beside the interval"
        );
    });
}

/// Two workers: the hog wakes a task (which lands in the hog's own LIFO slot, unstealable)
/// and carries on; the woken task must run on the other worker, not wait for the hog.
#[test]
fn a_task_woken_by_a_hog_runs_on_another_worker() {
    run_with_timeout("woken_by_hog", || {
        let rt = heist::runtime::Builder::new().worker_threads(2).build().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, mut rx) = heist::sync::mpsc::unbounded_channel::<Instant>();
        let woken = rt.spawn(async move { rx.recv().await.unwrap().elapsed() });
        // Let the receiver park on its channel first.
        rt.block_on(heist::time::sleep(Duration::from_millis(20)));
        let hog = rt.spawn({
            let stop = stop.clone();
            async move {
                let (self_tx, mut self_rx) = heist::sync::mpsc::unbounded_channel();
                self_tx.send(()).unwrap();
                tx.send(Instant::now()).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    self_rx.recv().await.unwrap();
                    self_tx.send(()).unwrap();
                }
            }
        });
        let delay = rt.block_on(woken).unwrap();
        stop.store(true, Ordering::Relaxed);
        rt.block_on(hog).unwrap();
        assert!(delay < HOG_TIME, "the woken task waited {delay:?} for the hog");
    });
}

/// A task that spends its budget in a loop, alone on a 2-worker runtime, keeps its worker: its
/// yield wakes no peer to steal it, so it does not bounce between the threads (a wake-up and
/// the task's data moved to the other core at every yield). The peer may still wake on its own
/// (the standby's few timed naps, see `executor/src/watch.rs`) and take it over now and then:
/// the bound allows 20 moves in 2,000 yields. When every yield woke a peer, the task moved
/// about 100 times.
#[test]
fn a_task_that_yields_alone_stays_on_its_worker() {
    run_with_timeout("yields_alone", || {
        let rt = heist::runtime::Builder::new().worker_threads(2).build().unwrap();
        let moves = rt
            .block_on(rt.spawn(async {
                let mut moves = 0;
                let mut thread = std::thread::current().id();
                for round in 0..2_000u64 {
                    // Some work between yields, as a real task does: long enough for a woken
                    // peer to be up and stealing before the task is popped again.
                    let mut x = round;
                    for _ in 0..20_000 {
                        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                    }
                    heist::task::yield_now().await;
                    let now = std::thread::current().id();
                    if now != thread {
                        moves += 1;
                        thread = now;
                    }
                }
                moves
            }))
            .unwrap();
        assert!(
            moves <= 20,
            "the task changed threads {moves} times in 2,000 yields"
        );
    });
}

//! The test clock: `pause`, `resume`, `advance`, auto-advance, and `Instant`, `sleep`,
//! `timeout` and `interval` following the paused clock.
//!
//! With the clock paused, durations are virtual and exact: these tests assert them with `==`.
//! A runtime that fails to auto-advance hangs; `run_with_timeout` turns that into a failure.

mod common;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use common::{panic_message, run_with_timeout, runtime};
use heist::time::error::Elapsed;
use heist::time::{
    Duration, Instant, MissedTickBehavior, advance, interval, interval_at, pause, resume, sleep, sleep_until,
    timeout, timeout_at,
};

const HOUR: Duration = Duration::from_secs(3600);

/// Runs `body` in `block_on` on a fresh current-thread runtime started paused.
fn paused_on_current_thread<T>(name: &str, body: impl Future<Output = T> + Send + 'static) -> T
where
    T: Send + 'static,
{
    run_with_timeout(name, move || {
        let runtime = heist::runtime::Builder::new_current_thread()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(body)
    })
}

/// Runs `body` in `block_on` on a fresh runtime with `workers` workers and its clock paused.
fn paused<T>(name: &str, workers: usize, body: impl Future<Output = T> + Send + 'static) -> T
where
    T: Send + 'static,
{
    run_with_timeout(name, move || {
        let runtime = runtime(workers);
        runtime.block_on(async {
            pause();
            body.await
        })
    })
}

#[test]
fn instant_now_stands_still_while_paused_and_moves_by_advance() {
    paused("instant_now_stands_still", 2, async {
        let start = Instant::now();
        // Real time passes (the workers spin up, we yield): virtual time does not.
        for _ in 0..100 {
            heist::task::yield_now().await;
        }
        assert_eq!(Instant::now(), start);
        advance(Duration::from_millis(1500)).await;
        assert_eq!(Instant::now() - start, Duration::from_millis(1500));
        assert_eq!(start.elapsed(), Duration::from_millis(1500));
    });
}

#[test]
fn advance_completes_a_sleep_exactly_at_its_deadline() {
    paused("advance_completes_a_sleep", 2, async {
        let start = Instant::now();
        // The deadline is set when the sleep is made, here, not when the task first polls it.
        let ten_seconds = sleep(Duration::from_secs(10));
        let mut sleeping = heist::spawn(async move {
            ten_seconds.await;
            Instant::now() - start
        });
        // A blocking job in flight keeps the clock from auto-advancing meanwhile.
        let (release, released) = std::sync::mpsc::channel::<()>();
        let blocker = heist::spawn_blocking(move || released.recv());
        advance(Duration::from_secs(9)).await;
        assert!(
            poll_handle_once(&mut sleeping).await.is_none(),
            "a 10 s sleep completed after 9 s"
        );
        advance(Duration::from_secs(1)).await;
        assert_eq!(sleeping.await.unwrap(), Duration::from_secs(10));
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
    });
}

/// Polls `handle` once: `Some` if it is done.
async fn poll_handle_once<T>(handle: &mut heist::task::JoinHandle<T>) -> Option<T> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut *handle).poll(cx) {
            std::task::Poll::Ready(output) => Some(output.unwrap()),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

#[test]
fn auto_advance_finishes_an_hour_long_sleep_at_once() {
    paused("auto_advance_hour", 2, hour_long_sleeps());
}

/// The same on a current-thread runtime, where the thread in `block_on` parks as the worker.
#[test]
fn auto_advance_finishes_an_hour_long_sleep_at_once_on_a_current_thread_runtime() {
    paused_on_current_thread("auto_advance_hour_current_thread", hour_long_sleeps());
}

async fn hour_long_sleeps() {
    {
        let start = Instant::now();
        sleep(HOUR).await;
        assert_eq!(Instant::now() - start, HOUR);
        // In a task too, and in order.
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tasks: Vec<_> = [3u64, 1, 2]
            .into_iter()
            .map(|hours| {
                let order = order.clone();
                heist::spawn(async move {
                    sleep(HOUR * hours as u32).await;
                    order.lock().unwrap().push((hours, Instant::now() - start));
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            [(1, HOUR * 2), (2, HOUR * 3), (3, HOUR * 4)]
        );
    }
}

#[test]
fn timeout_elapses_by_auto_advance_and_not_before_its_future_completes() {
    paused("timeout_paused", 2, async {
        let start = Instant::now();
        let elapsed: Result<(), Elapsed> = timeout(HOUR, std::future::pending::<()>()).await;
        assert!(elapsed.is_err());
        assert_eq!(Instant::now() - start, HOUR);
        // The future that completes first wins, at its own virtual time.
        let result = timeout(HOUR, async {
            sleep(Duration::from_secs(5)).await;
            7
        })
        .await;
        assert_eq!(result, Ok(7));
        assert_eq!(Instant::now() - start, HOUR + Duration::from_secs(5));
        let deadline = Instant::now() + Duration::from_secs(2);
        assert!(timeout_at(deadline, std::future::pending::<()>()).await.is_err());
        assert_eq!(Instant::now(), deadline);
        sleep_until(deadline + Duration::from_secs(1)).await;
        assert_eq!(Instant::now(), deadline + Duration::from_secs(1));
    });
}

#[test]
fn interval_bursts_delays_or_skips_missed_ticks_after_an_advance() {
    paused("interval_missed_ticks", 2, async {
        const PERIOD: Duration = Duration::from_millis(10);
        let ms = Duration::from_millis;

        let start = Instant::now();
        let mut burst = interval(PERIOD);
        assert_eq!(burst.missed_tick_behavior(), MissedTickBehavior::Burst);
        assert_eq!(burst.tick().await, start);
        advance(ms(35)).await;
        // Every missed tick at once, with no time passing, then back on the schedule.
        assert_eq!(burst.tick().await, start + ms(10));
        assert_eq!(burst.tick().await, start + ms(20));
        assert_eq!(burst.tick().await, start + ms(30));
        assert_eq!(Instant::now(), start + ms(35));
        assert_eq!(burst.tick().await, start + ms(40));
        assert_eq!(Instant::now(), start + ms(40), "auto-advanced to the tick");

        let start = Instant::now();
        let mut delay = interval_at(start, PERIOD);
        delay.set_missed_tick_behavior(MissedTickBehavior::Delay);
        assert_eq!(delay.tick().await, start);
        advance(ms(35)).await;
        assert_eq!(delay.tick().await, start + ms(10));
        // The schedule restarts one period after the late tick.
        assert_eq!(delay.tick().await, start + ms(45));
        assert_eq!(Instant::now(), start + ms(45));

        let start = Instant::now();
        let mut skip = interval_at(start, PERIOD);
        skip.set_missed_tick_behavior(MissedTickBehavior::Skip);
        assert_eq!(skip.tick().await, start);
        advance(ms(35)).await;
        assert_eq!(skip.tick().await, start + ms(10));
        // The missed ticks are dropped and the phase kept: the next multiple of the period.
        assert_eq!(skip.tick().await, start + ms(40));
        assert_eq!(Instant::now(), start + ms(40));
    });
}

#[test]
fn resume_restarts_the_clock_from_where_it_stood() {
    paused("resume", 2, async {
        let start = Instant::now();
        advance(HOUR).await;
        resume();
        let resumed = Instant::now();
        assert!(resumed >= start + HOUR, "the clock went back on resume");
        // Running again: a real sleep completes by itself (no advance, no auto-advance).
        sleep(Duration::from_millis(1)).await;
        assert!(Instant::now() >= resumed + Duration::from_millis(1));
        // And it can be paused again.
        pause();
        let paused_at = Instant::now();
        sleep(HOUR).await;
        assert_eq!(Instant::now() - paused_at, HOUR);
    });
}

/// A blocking job in flight may still wake a task: the clock must not jump meanwhile, or a
/// `timeout` around the job would elapse before the job is done.
#[test]
fn a_blocking_job_in_flight_holds_auto_advance_back() {
    paused("blocking_holds_auto_advance", 2, async {
        let start = Instant::now();
        let job = heist::spawn_blocking(|| {
            // Real time, which the paused clock ignores; long enough for a runtime that
            // wrongly auto-advanced to jump to the timeout's deadline first.
            std::thread::sleep(Duration::from_millis(20));
            7
        });
        assert_eq!(timeout(HOUR, job).await.expect("timed out").unwrap(), 7);
        assert_eq!(Instant::now(), start, "the clock moved while the job ran");
    });
}

/// The same for the future in `block_on`: while it runs, the workers being idle is no
/// reason to move the clock.
#[test]
fn a_busy_block_on_future_holds_auto_advance_back() {
    paused("block_on_holds_auto_advance", 2, async {
        let start = Instant::now();
        let (registered, is_registered) = heist::sync::oneshot::channel();
        let sleeper = heist::spawn(async move {
            let mut hour = sleep(HOUR);
            // The first poll registers the timer; then tell block_on.
            assert!(futures_lite::future::poll_once(&mut hour).await.is_none());
            registered.send(()).unwrap();
            hour.await;
        });
        is_registered.await.unwrap();
        // Busy here, on the block_on thread, without awaiting, while the workers go idle
        // with the timer pending.
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            Instant::now(),
            start,
            "the clock moved while block_on's future ran"
        );
        sleeper.await.unwrap();
        assert_eq!(Instant::now(), start + HOUR);
    });
}

/// I/O still works with the clock paused, and auto-advance takes in ready events before it
/// moves the clock: the read completes at the writer's virtual time, not at the timeout.
#[test]
fn a_socket_read_completes_with_the_clock_paused() {
    paused("socket_read_paused", 2, socket_read_while_paused());
}

/// The same on a current-thread runtime.
#[test]
fn a_socket_read_completes_with_the_clock_paused_on_a_current_thread_runtime() {
    paused_on_current_thread("socket_read_paused_current_thread", socket_read_while_paused());
}

async fn socket_read_while_paused() {
    use heist::io::{AsyncReadExt, AsyncWriteExt};
    use heist::net::{TcpListener, TcpStream};
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let start = Instant::now();
        let server = heist::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            sleep(Duration::from_secs(5)).await;
            stream.write_all(b"hello").await.unwrap();
            stream
        });
        let mut client = TcpStream::connect(address).await.unwrap();
        let mut buffer = [0; 5];
        timeout(Duration::from_secs(60), client.read_exact(&mut buffer))
            .await
            .expect("the read timed out: the clock jumped over ready I/O")
            .unwrap();
        assert_eq!(&buffer, b"hello");
        assert_eq!(Instant::now() - start, Duration::from_secs(5));
        drop(server.await.unwrap());
    }
}

#[test]
fn misuse_panics_with_what_to_do() {
    let outside = catch_unwind(pause).unwrap_err();
    assert!(
        panic_message(&*outside).contains("outside a heist runtime"),
        "{}",
        panic_message(&*outside)
    );
    let runtime = runtime(1);
    let twice = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async {
            pause();
            pause();
        })
    }))
    .unwrap_err();
    assert!(
        panic_message(&*twice).contains("already paused"),
        "{}",
        panic_message(&*twice)
    );
    let runtime = heist::Runtime::new().unwrap();
    let unpaused_resume =
        catch_unwind(AssertUnwindSafe(|| runtime.block_on(async { resume() }))).unwrap_err();
    assert!(panic_message(&*unpaused_resume).contains("not paused"));
    let unpaused_advance = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async { advance(Duration::from_secs(1)).await })
    }))
    .unwrap_err();
    assert!(panic_message(&*unpaused_advance).contains("not paused"));
}

#[test]
fn a_runtime_never_paused_and_outside_code_keep_the_system_clock() {
    // Another runtime's paused clock is its own: this one's `Instant::now` still moves.
    let other = runtime(1);
    other.block_on(async { pause() });
    let runtime = runtime(1);
    runtime.block_on(async {
        let before = Instant::now();
        let std_before = std::time::Instant::now();
        sleep(Duration::from_millis(2)).await;
        assert!(Instant::now() >= before + Duration::from_millis(2));
        assert!(std_before.elapsed() >= Duration::from_millis(2));
    });
    let outside = Instant::now();
    std::thread::sleep(Duration::from_millis(1));
    assert!(outside.elapsed() >= Duration::from_millis(1));
    drop(other);
}

/// A task spawned in a paused runtime sees the same clock as `block_on`.
#[test]
fn tasks_and_block_on_read_the_same_paused_clock() {
    paused("same_clock", 4, async {
        let start = Instant::now();
        advance(Duration::from_secs(2)).await;
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let seen = seen.clone();
                heist::spawn(async move { seen.lock().unwrap().push(Instant::now()) })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert!(
            seen.lock()
                .unwrap()
                .iter()
                .all(|&now| now == start + Duration::from_secs(2))
        );
    });
}

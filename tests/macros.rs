//! `#[heist::test]` and `#[heist::main]`, expanded and run for real. The compile errors are
//! `compile_fail` doc tests on the macros in `src/lib.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use heist::runtime::Handle;
use heist::time::{Duration, sleep};

#[heist::test]
async fn one_worker_by_default() {
    assert_eq!(Handle::current().metrics().num_workers(), 1);
}

#[heist::test]
async fn current_thread_by_default_as_tokio() {
    let test_thread = std::thread::current().id();
    let task = heist::spawn(async { std::thread::current().id() });
    assert_eq!(
        task.await.unwrap(),
        test_thread,
        "the task ran on the test's thread"
    );
}

#[heist::test(flavor = "current_thread")]
async fn flavor_current_thread() {
    let test_thread = std::thread::current().id();
    let task = heist::spawn(async {
        sleep(Duration::from_millis(1)).await;
        std::thread::current().id()
    });
    assert_eq!(task.await.unwrap(), test_thread);
}

#[heist::test(flavor = "multi_thread", worker_threads = 2)]
async fn flavor_multi_thread_with_workers() {
    assert_eq!(Handle::current().metrics().num_workers(), 2);
    let test_thread = std::thread::current().id();
    let task = heist::spawn(async { std::thread::current().id() });
    assert_ne!(task.await.unwrap(), test_thread);
}

#[heist::main(flavor = "current_thread")]
async fn main_current_thread() -> std::thread::ThreadId {
    heist::spawn(async { std::thread::current().id() }).await.unwrap()
}

#[test]
fn main_with_flavor_current_thread_runs_tasks_on_the_calling_thread() {
    assert_eq!(main_current_thread(), std::thread::current().id());
}

#[heist::test(worker_threads = 2)]
async fn worker_threads_sets_the_number_of_workers() {
    assert_eq!(Handle::current().metrics().num_workers(), 2);
}

#[heist::test]
async fn each_test_gets_a_fresh_runtime() {
    // Tests run in parallel; with a shared runtime the other tests' spawns would show here.
    let metrics = Handle::current().metrics();
    assert_eq!(metrics.spawned_tasks(), 0);
    heist::spawn(async {}).await.unwrap();
    assert_eq!(metrics.spawned_tasks(), 1);
}

#[heist::test(flavor = "multi_thread")]
async fn the_body_runs_on_the_test_thread_not_a_worker() {
    let name = std::thread::current().name().map(str::to_owned);
    assert!(!name.as_deref().unwrap_or("").starts_with("heist"), "{name:?}");
    let worker = heist::spawn(async { std::thread::current().name().map(str::to_owned) });
    assert_eq!(worker.await.unwrap().as_deref(), Some("heist-worker"));
}

#[heist::test(worker_threads = 4)]
async fn spawns_tasks_and_awaits_them() {
    let polled = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..1000u64)
        .map(|i| {
            let polled = polled.clone();
            heist::spawn(async move {
                heist::task::yield_now().await;
                if i % 100 == 0 {
                    sleep(Duration::from_millis(1)).await;
                }
                polled.fetch_add(1, Ordering::Relaxed);
                i
            })
        })
        .collect();
    let mut sum = 0;
    for task in tasks {
        sum += task.await.unwrap();
    }
    assert_eq!(sum, 999 * 1000 / 2);
    assert_eq!(polled.load(Ordering::Relaxed), 1000);
}

#[heist::test]
async fn returns_a_result() -> Result<(), std::io::Error> {
    let listener = heist::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let client = heist::spawn(async move { heist::net::TcpStream::connect(addr).await });
    let (_server, _) = listener.accept().await?;
    client.await.unwrap()?;
    Ok(())
}

#[heist::test]
async fn question_mark_return_and_into_see_the_return_type() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = "7".parse()?;
    if n == 7 {
        return Ok(());
    }
    Err("unreachable".into())
}

#[heist::test]
#[should_panic(expected = "the original message: 42")]
async fn a_panic_in_the_body_fails_the_test_with_its_message() {
    heist::task::yield_now().await;
    sleep(Duration::from_millis(1)).await;
    let n = 42;
    panic!("the original message: {n}");
}

#[heist::test(worker_threads = 2)]
#[should_panic(expected = "from a spawned task")]
async fn a_panic_in_a_spawned_task_comes_back_through_its_handle() {
    let error = heist::spawn(async { panic!("from a spawned task") })
        .await
        .unwrap_err();
    std::panic::resume_unwind(error.into_panic());
}

/// Kept attributes: doc comments, `#[ignore]`, lint attributes.
#[heist::test]
#[ignore = "only checks that #[ignore] is kept; harmless when run with --ignored"]
#[allow(clippy::unit_cmp)]
async fn ignored() {
    assert_eq!((), ());
}

#[heist::test]
async fn the_body_need_not_be_send() {
    // The body is `block_on`'s future, polled on this thread only; it is never spawned.
    let local = std::rc::Rc::new(5);
    heist::task::yield_now().await;
    assert_eq!(*local, 5);
}

fn rt() -> u8 {
    7
}

#[heist::test]
async fn the_runtime_local_is_invisible_to_the_body() {
    // Without hygiene, `rt` here would be the macro's runtime, not this module's function.
    assert_eq!(rt(), 7);
}

macro_rules! workers_test {
    ($name:ident, $n:literal) => {
        #[heist::test(worker_threads = $n)]
        async fn $name() {
            assert_eq!(Handle::current().metrics().num_workers(), $n);
        }
    };
}

workers_test!(worker_threads_from_a_macro_fragment, 3);

/// `#[heist::main]` does not check the function's name.
#[heist::main(worker_threads = 3)]
async fn main_style() -> usize {
    let task = heist::spawn(async { Handle::current().metrics().num_workers() });
    task.await.unwrap()
}

#[heist::main]
async fn main_style_default_workers() -> Result<usize, heist::task::JoinError> {
    heist::spawn(async { 6 * 7 }).await
}

/// The body's value (`Box<i32>`) coerces to the declared type at the function's tail. (Returns
/// of *different* types, `Box::new(7)` here and `Box::new("seven")` there, would not: the body
/// is an `async` block, whose output type is not declared.)
#[heist::main(worker_threads = 1)]
async fn main_style_unsizing() -> Box<dyn std::fmt::Debug> {
    if std::hint::black_box(true) {
        return Box::new(7);
    }
    Box::new(8)
}

#[test]
fn main_builds_a_runtime_and_returns_the_body_value() {
    assert_eq!(main_style(), 3);
    assert_eq!(main_style_default_workers().unwrap(), 42);
    assert_eq!(format!("{:?}", main_style_unsizing()), "7");
}

#[heist::test(start_paused = true)]
async fn start_paused_starts_the_clock_paused() {
    let start = heist::time::Instant::now();
    heist::time::sleep(heist::time::Duration::from_secs(86_400)).await;
    assert_eq!(start.elapsed(), heist::time::Duration::from_secs(86_400));
    // Paused already: a second pause is a mistake (and says so).
    let second = std::panic::catch_unwind(heist::time::pause).unwrap_err();
    assert!(common_message(&*second).contains("already paused"));
}

#[heist::test(worker_threads = 2, start_paused = false)]
async fn start_paused_false_leaves_the_clock_running() {
    // Not paused: resuming is a mistake.
    let resume = std::panic::catch_unwind(heist::time::resume).unwrap_err();
    assert!(common_message(&*resume).contains("not paused"));
}

fn common_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

//! heist: a work-stealing, multi-threaded async runtime.
//!
//! ```
//! let runtime = heist::Runtime::new().unwrap();
//! let answer = runtime.block_on(async {
//!     let task = heist::spawn(async { 6 * 7 });
//!     task.await.unwrap()
//! });
//! assert_eq!(answer, 42);
//! ```
//!
//! The pieces live in their own crates: `heist-executor` (the scheduler), `heist-reactor`
//! (I/O) and `heist-timer` (the timer wheel, `sleep`, `timeout`, `interval`). This crate
//! re-exports them under tokio's names.

#![warn(missing_docs)]

pub use heist_executor::{Runtime, spawn, spawn_blocking};

/// Declares task-local values: `heist::task_local! { static NAME: Type; }`, each a
/// [`task::LocalKey`] with `scope`, `sync_scope`, `with`, `try_with` and `get`, as tokio's.
///
/// ```
/// heist::task_local! {
///     static USER: String;
/// }
///
/// let runtime = heist::Runtime::new().unwrap();
/// let greeting = runtime.block_on(USER.scope("ada".to_string(), async {
///     heist::task::yield_now().await;
///     format!("hello, {}", USER.get())
/// }));
/// assert_eq!(greeting, "hello, ada");
/// ```
pub use heist_executor::task_local;

/// Runs `async fn main` on a heist runtime.
///
/// The attribute turns the function into a plain `fn main` that builds a runtime with
/// [`runtime::Builder::new_multi_thread()`](runtime::Builder::new_multi_thread) (one worker
/// per CPU core, or `HEIST_WORKER_THREADS`; `flavor = "current_thread"` for
/// [`new_current_thread`](runtime::Builder::new_current_thread)) and [`block_on`](Runtime::block_on)s the body. The return type is
/// kept, so `?` works in the body when `main` returns a `Result`.
///
/// ```
/// #[heist::main]
/// async fn main() {
///     let task = heist::spawn(async { 6 * 7 });
///     assert_eq!(task.await.unwrap(), 42);
/// }
/// ```
///
/// `worker_threads = N` fixes the number of workers:
///
/// ```
/// use heist::io::{AsyncReadExt, AsyncWriteExt};
/// use heist::net::{TcpListener, TcpStream};
///
/// #[heist::main(worker_threads = 2)]
/// async fn main() -> std::io::Result<()> {
///     assert_eq!(heist::runtime::Handle::current().metrics().num_workers(), 2);
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
///     let (mut server, _) = listener.accept().await?;
///     client.write_all(b"hi").await?;
///     let mut buf = [0; 2];
///     server.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hi");
///     Ok(())
/// }
/// ```
///
/// # Compile errors
///
/// The attribute goes on an `async fn` without arguments; its arguments are `flavor`
/// (`"current_thread"` or `"multi_thread"`) and `worker_threads`, a positive integer literal,
/// for the multi-thread flavor only. Each of these fails to compile with a message saying so:
///
/// ```compile_fail
/// #[heist::main]
/// fn main() {} // not async
/// ```
///
/// ```compile_fail
/// #[heist::main]
/// async fn main(args: Vec<String>) {} // arguments: use std::env::args()
/// ```
///
/// ```compile_fail
/// #[heist::main(threads = 4)] // unknown argument
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// #[heist::main(flavor = "current_thread", worker_threads = 2)] // workers without threads
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// #[heist::main(flavor = "local")] // unknown flavor
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// #[heist::main(worker_threads = 0)] // zero workers
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// #[heist::main(worker_threads = "4")] // not an integer
/// async fn main() {}
/// ```
///
/// # Expansion
///
/// The second example above becomes
///
/// ```
/// fn main() -> std::io::Result<()> {
///     #[allow(clippy::expect_used)]
///     let rt = ::heist::runtime::Builder::new_multi_thread()
///         .worker_threads(2)
///         .build()
///         .expect("#[heist::main] could not start the heist runtime");
///     rt.block_on(async move {
///         /* the body */
/// #       Ok(())
///     })
/// }
/// ```
///
/// (without `worker_threads`, no `.worker_threads(..)` call). `rt` is hygienic: the body
/// cannot see it.
///
pub use heist_macros::main;

/// Runs an `async fn` test on a fresh heist runtime.
///
/// The attribute turns the function into a `#[test] fn` that builds a new runtime and
/// [`block_on`](Runtime::block_on)s the body on the test's own thread. The runtime is a
/// current-thread one ([`Builder::new_current_thread`](runtime::Builder::new_current_thread)),
/// as tokio's test default: the test's tasks run on the test's thread, inside `block_on`.
/// `flavor = "multi_thread"` (or `worker_threads = N` alone) gives a multi-thread runtime
/// (one worker per CPU core unless `worker_threads = N` says). A panic in the body
/// therefore unwinds through `block_on` and fails the test with its original message, so `#[should_panic(expected = "...")]` works; the other
/// attributes (`#[ignore]`, `#[should_panic]`...) and the return type (`-> Result<(), E>`) are
/// kept.
///
/// ```
/// use heist::time::{Duration, sleep};
///
/// #[heist::test]
/// async fn sleeps() {
///     sleep(Duration::from_millis(1)).await;
/// }
///
/// #[heist::test(flavor = "multi_thread", worker_threads = 2)]
/// async fn spawns() -> Result<(), heist::task::JoinError> {
///     let tasks: Vec<_> = (0..10u64).map(|i| heist::spawn(async move { i * i })).collect();
///     let mut sum = 0;
///     for task in tasks {
///         sum += task.await?;
///     }
///     assert_eq!(sum, 285);
///     Ok(())
/// }
///
/// #[heist::test]
/// #[should_panic(expected = "boom")]
/// async fn panics() {
///     panic!("boom");
/// }
///
/// // The clock starts paused (`heist::time::pause`): an hour-long sleep ends at once, and
/// // virtual durations are exact.
/// #[heist::test(start_paused = true)]
/// async fn paused() {
///     let start = heist::time::Instant::now();
///     sleep(Duration::from_secs(3600)).await;
///     assert_eq!(start.elapsed(), Duration::from_secs(3600));
/// }
/// # fn main() {}
/// ```
///
/// (Doc tests are built without `--test`, which drops `#[test]` functions: this example only
/// shows that they expand. `cargo test` runs such tests.)
///
/// # Compile errors
///
/// As for [`main`](macro@main), each of these fails to compile with a message saying what to do:
///
/// ```compile_fail
/// #[heist::test]
/// fn not_async() {}
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// #[heist::test(flavour = "multi_thread")] // unknown argument
/// async fn flavoured() {}
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// #[heist::test(flavor = "current_thread", worker_threads = 2)] // no worker threads there
/// async fn flavored() {}
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// #[heist::test(start_paused = 1)] // not a bool
/// async fn paused() {}
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// #[heist::test(worker_threads = 0)] // zero workers
/// async fn no_workers() {}
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// #[heist::test(worker_threads = 1.5)] // not an integer
/// async fn fractional() {}
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// #[heist::test]
/// #[test] // #[heist::test] already adds it
/// async fn twice() {}
/// # fn main() {}
/// ```
///
/// # Expansion
///
/// The first example above becomes
///
/// ```
/// #[::core::prelude::v1::test]
/// fn sleeps() {
///     #[allow(clippy::expect_used)]
///     let rt = ::heist::runtime::Builder::new_current_thread()
///         .build()
///         .expect("#[heist::test] could not start the heist runtime");
///     rt.block_on(async move { /* the body */ })
/// }
/// # fn main() {}
/// ```
///
/// with the function's other attributes after `#[test]`.
///
pub use heist_macros::test;

mod macros;
#[doc(hidden)]
pub use heist_macros::select_clean_pattern as __select_clean_pattern;
#[doc(hidden)]
pub use macros::__private;

/// Building, entering and watching a runtime.
pub mod runtime {
    pub use heist_executor::worker_index;
    pub use heist_executor::{
        Builder, EnterGuard, Handle, Runtime, RuntimeMetrics, StallReport, TaskDump, TaskInfo, TaskState,
        TryCurrentError, WORKER_THREADS_ENV,
    };

    /// True for the errors heist returns because the runtime they need has shut down, as
    /// tokio's `is_rt_shutdown_err`: I/O on an object whose runtime is gone, a name lookup
    /// that the blocking pool dropped unrun at shutdown.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use heist::net::UnixDatagram;
    ///
    /// let first = heist::Runtime::new().unwrap();
    /// let socket = first.block_on(async { UnixDatagram::unbound() }).unwrap();
    /// drop(first); // the runtime that drives `socket` is gone
    ///
    /// let second = heist::Runtime::new().unwrap();
    /// let error = second.block_on(socket.recv(&mut [0; 8])).unwrap_err();
    /// assert!(heist::runtime::is_rt_shutdown_err(&error));
    /// assert!(!heist::runtime::is_rt_shutdown_err(&std::io::Error::other("else")));
    /// # }
    /// ```
    pub fn is_rt_shutdown_err(error: &std::io::Error) -> bool {
        heist_reactor::is_shutdown_error(error)
    }
}

/// Time: `sleep`, `timeout`, `interval`, on the runtime's timer wheels, and the test clock.
///
/// Timers have microsecond resolution and never fire early. A `Sleep` touches no timer until
/// it is first polled, and it is `Unpin`.
///
/// # The test clock
/// Each runtime has its own clock. [`pause`](crate::time::pause) stops it (or `#[heist::test(start_paused =
/// true)]`, or [`Builder::start_paused`](crate::runtime::Builder::start_paused)); then
/// [`Instant::now`](crate::time::Instant::now), every `sleep`, `timeout` and `interval` (and `heist::hyper::HeistTimer`)
/// follow it. It moves only by [`advance`](crate::time::advance), or by itself to the next timer's deadline when
/// the runtime has nothing else to do (*auto-advance*: every worker idle, no task queued, no
/// I/O event ready, no `block_on` future awake, no `spawn_blocking` job in flight); [`resume`](crate::time::resume)
/// restarts it. Durations are then exact:
///
/// ```
/// use heist::time::{Duration, Instant, advance, interval, pause, sleep, timeout};
///
/// heist::Runtime::new().unwrap().block_on(async {
///     pause();
///     let start = Instant::now();
///     sleep(Duration::from_secs(3600)).await; // auto-advance: no real hour goes by
///     assert_eq!(start.elapsed(), Duration::from_secs(3600));
///
///     let never = std::future::pending::<()>();
///     assert!(timeout(Duration::from_secs(30), never).await.is_err());
///     assert_eq!(start.elapsed(), Duration::from_secs(3630));
///
///     let mut ticks = interval(Duration::from_secs(10));
///     let first = ticks.tick().await;
///     advance(Duration::from_secs(10)).await;
///     assert_eq!(ticks.tick().await - first, Duration::from_secs(10));
/// });
/// ```
///
/// Differences from tokio's: the clock may be paused on heist's multi-threaded runtime (tokio
/// requires its current-thread runtime), so auto-advance waits for every worker, every thread
/// in `block_on` and every blocking job to be idle. Between two `block_on` calls nothing of
/// the runtime is awake, so the clock may jump then. Deadlines are rounded up to the
/// microsecond (tokio: the millisecond); a sleep of whole microseconds made while paused ends
/// exactly. Auto-advance takes in the I/O events that are ready before it moves, but cannot
/// know of events still on their way from outside the process's runtime (a peer thread that
/// answers later): keep such peers in the runtime, or resume the clock around them.
///
/// ```
/// use heist::time::{Duration, Instant, interval, sleep, timeout};
///
/// let runtime = heist::Runtime::new().unwrap();
/// runtime.block_on(async {
///     let start = Instant::now();
///     sleep(Duration::from_millis(5)).await;
///     assert!(start.elapsed() >= Duration::from_millis(5));
///
///     let slow = sleep(Duration::from_secs(60));
///     assert!(timeout(Duration::from_millis(1), slow).await.is_err());
///     assert_eq!(timeout(Duration::from_secs(60), async { 7 }).await, Ok(7));
///
///     let mut ticks = interval(Duration::from_millis(2));
///     let first = ticks.tick().await;
///     let second = ticks.tick().await;
///     assert_eq!(second - first, Duration::from_millis(2));
/// });
/// ```
pub mod time {
    /// The test clock: see [`pause`].
    pub use heist_timer::{Advance, advance, pause, resume};
    pub use heist_timer::{
        Instant, Interval, MissedTickBehavior, Sleep, Timeout, error, interval, interval_at, sleep,
        sleep_until, timeout, timeout_at,
    };
    pub use std::time::Duration;
}

/// Tasks: spawning, joining, yielding.
pub mod task {
    pub use heist_executor::{
        AbortHandle, Id, JoinError, JoinHandle, JoinSet, TaskPool, TrySpawnError, block_in_place,
        consume_budget, spawn, spawn_blocking, yield_now,
    };
    pub use heist_executor::{AccessError, LocalKey};
    pub use heist_executor::{LocalSet, RunUntil, spawn_local};
    pub use heist_executor::{task_id as id, try_task_id as try_id};

    /// The futures that `heist::task` functions return.
    pub mod futures {
        pub use heist_executor::TaskLocalFuture;
    }
}

/// Synchronization for tasks: `mpsc`, `oneshot`, `broadcast`, `watch`, `Semaphore`, `Mutex`,
/// `RwLock`, `Notify`, `Barrier`, `OnceCell`, `SetOnce`, usable from any runtime's tasks.
pub mod sync;

/// Networking: TCP, UDP and (on Unix only) Unix-domain sockets, registered with the runtime's
/// reactor. Host names are resolved on the runtime's blocking pool ([`lookup_host`](net::lookup_host)),
/// IP addresses in place.
///
/// ```
/// use heist::io::{AsyncReadExt, AsyncWriteExt};
/// use heist::net::{TcpListener, TcpStream};
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let server = heist::spawn(async move {
///         let (mut stream, _) = listener.accept().await?;
///         let mut buf = [0; 5];
///         stream.read_exact(&mut buf).await?;
///         stream.write_all(&buf).await?;
///         std::io::Result::Ok(())
///     });
///     let mut client = TcpStream::connect(addr).await?;
///     client.write_all(b"hello").await?;
///     let mut echoed = [0; 5];
///     client.read_exact(&mut echoed).await?;
///     assert_eq!(&echoed, b"hello");
///     server.await.unwrap()
/// })
/// .unwrap();
/// ```
///
/// Socket options before binding ([`TcpSocket`](net::TcpSocket)), and the readiness API
/// (`ready`, then `try_*` until `WouldBlock`):
///
/// ```
/// use heist::io::{ErrorKind, Interest};
/// use heist::net::{TcpSocket, TcpStream};
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let socket = TcpSocket::new_v4()?;
///     socket.set_reuseaddr(true)?;
///     socket.set_recv_buffer_size(64 * 1024)?;
///     socket.bind("127.0.0.1:0".parse().unwrap())?;
///     let listener = socket.listen(128)?;
///     let client = TcpStream::connect(listener.local_addr()?).await?;
///     let (server, _) = listener.accept().await?;
///
///     server.writable().await?;
///     server.try_write(b"ready")?;
///     let mut buf = [0; 5];
///     let mut got = 0;
///     while got < buf.len() {
///         let ready = client.ready(Interest::READABLE).await?;
///         assert!(ready.is_readable());
///         match client.try_read(&mut buf[got..]) {
///             Ok(n) => got += n,
///             Err(e) if e.kind() == ErrorKind::WouldBlock => continue, // stale: wait again
///             Err(e) => return Err(e),
///         }
///     }
///     assert_eq!(&buf, b"ready");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
///
/// Pipes and FIFOs (Unix only), in `net::unix::pipe`:
///
/// ```
/// # #[cfg(unix)] {
/// use heist::io::{AsyncReadExt, AsyncWriteExt};
/// use heist::net::unix::pipe;
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let (mut sender, mut receiver) = pipe::pipe()?;
///     let writer = heist::spawn(async move { sender.write_all(b"down the pipe").await });
///     let mut got = String::new();
///     receiver.read_to_string(&mut got).await?; // ends when the sender is dropped
///     assert_eq!(got, "down the pipe");
///     writer.await.unwrap()
/// })
/// .unwrap();
/// # }
/// ```
pub mod net {
    pub use heist_reactor::net::*;

    /// The halves of a split [`TcpStream`], under tokio's path.
    pub mod tcp {
        pub use heist_reactor::net::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
    }
}

/// Asynchronous I/O: [`Async<T>`](crate::io::Async) for any file descriptor (on Windows: for
/// any socket, `T: AsSocket`), and the
/// `futures-io` traits with their extension methods (`read`, `read_exact`, `read_to_end`,
/// `write_all`, `flush`, `close`, `copy`...) from `futures-lite`.
///
/// `close()` is tokio's `shutdown()`: on a TCP stream it sends FIN.
///
/// ```
/// # #[cfg(unix)] { // Unix only: Unix sockets, signals, and `sh`/`cat`/`echo`.
/// use heist::io::{Async, AsyncReadExt, AsyncWriteExt};
/// use std::os::unix::net::UnixStream;
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let (a, b) = UnixStream::pair()?;
///     let (mut a, mut b) = (Async::new(a)?, Async::new(b)?);
///     b.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     a.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// # }
/// ```
pub mod io {
    pub use futures_lite::io::{
        AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt, AsyncWrite,
        AsyncWriteExt, BufReader, BufWriter, Cursor, copy, empty, repeat, sink,
    };
    pub use heist_reactor::Async;
    pub use heist_reactor::{Interest, Ready};

    mod copy_bidirectional;
    mod duplex;
    mod split;
    pub use copy_bidirectional::copy_bidirectional;
    pub use duplex::{DuplexStream, duplex};
    pub use split::{ReadHalf, WriteHalf, split};
    pub use std::io::{Error, ErrorKind, Result, SeekFrom};
}

/// The file system on the runtime's blocking pool: [`File`](fs::File), [`read_dir`](fs::read_dir)
/// and tokio's whole-file functions (`read`, `write`, `copy`...), one blocking hop each.
pub mod fs;

/// [hyper](https://docs.rs/hyper/1) 1.x on heist (feature `hyper`): `HeistExecutor`, `HeistTimer`, `HeistIo`,
/// and `serve` for tower services (axum).
#[cfg(feature = "hyper")]
pub mod hyper;

/// TLS with rustls through futures-rustls (feature `tls`): `TlsAcceptor`, `TlsConnector`, and
/// `TlsListener`, which hands out connections whose handshake runs in their own task.
#[cfg(feature = "tls")]
pub mod tls;

/// Signals, delivered through the runtime's reactor: [`ctrl_c`](signal::ctrl_c) and, on Unix
/// only, in `signal::unix`, a listener for any catchable signal. On Windows `ctrl_c` is a
/// console control handler (`CTRL_C_EVENT`).
///
/// A listener sees every delivery that arrives after it was made; deliveries that arrive
/// before a `recv` coalesce into one. The first listener for a signal replaces that signal's
/// default action for the rest of the process's life (a `SIGINT` no longer ends it).
///
/// ```
/// # #[cfg(unix)] { // Unix only: Unix sockets, signals, and `sh`/`cat`/`echo`.
/// use heist::process::Command;
/// use heist::signal::unix::{SignalKind, signal};
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let mut usr1 = signal(SignalKind::user_defined1())?;
///     // Another process sends us SIGUSR1.
///     let pid = std::process::id().to_string();
///     Command::new("sh").args(["-c", "kill -USR1 \"$1\"", "sh", &pid]).status().await?;
///     usr1.recv().await.expect("the runtime is running");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// # }
/// ```
///
/// Waiting for Ctrl-C:
///
/// ```no_run
/// heist::Runtime::new().unwrap().block_on(async {
///     heist::signal::ctrl_c().await?;
///     println!("interrupted: cleaning up");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub mod signal {
    pub use heist_reactor::signal::ctrl_c;

    /// Unix signals (Unix only): [`signal`](unix::signal) makes a [`Signal`](unix::Signal)
    /// listener for a [`SignalKind`](unix::SignalKind); `Signal::recv` waits for the next
    /// delivery, and `Signal` is also a `Stream` of `()`.
    #[cfg(unix)]
    pub mod unix {
        pub use heist_reactor::signal::unix::{Signal, SignalKind, signal};
    }
}

/// Child processes: [`Command`](process::Command) in `std::process::Command`'s shape, whose
/// [`Child`](process::Child) is waited for without blocking a worker (a pidfd registered
/// with the reactor on Linux, SIGCHLD on other Unix systems) and whose pipes are asynchronous.
///
/// On Windows a `Child` is waited for on the runtime's blocking pool (a pool thread blocks on
/// the process handle; never a worker), and its pipes are std's blocking ones:
/// `output()`/`wait_with_output()` read them on the blocking pool, anything else should use
/// them from `spawn_blocking`.
///
/// A `Child` dropped before it ended keeps running (unless `kill_on_drop(true)`) and is
/// reaped in the background when it ends.
///
/// ```
/// # #[cfg(unix)] { // Unix only: Unix sockets, signals, and `sh`/`cat`/`echo`.
/// use heist::io::{AsyncReadExt, AsyncWriteExt};
/// use heist::process::{Command, Stdio};
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let output = Command::new("echo").arg("hi").output().await?;
///     assert!(output.status.success());
///     assert_eq!(output.stdout, b"hi\n");
///
///     let mut cat = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
///     let mut stdin = cat.stdin.take().unwrap();
///     stdin.write_all(b"meow").await?;
///     stdin.close().await?; // the end of cat's input
///     let mut echoed = String::new();
///     cat.stdout.take().unwrap().read_to_string(&mut echoed).await?;
///     assert_eq!(echoed, "meow");
///     assert_eq!(cat.wait().await?.code(), Some(0));
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// # }
/// ```
pub mod process {
    pub use heist_reactor::process::{
        Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio,
    };
}

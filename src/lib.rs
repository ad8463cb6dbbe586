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

/// Building, entering and watching a runtime.
pub mod runtime {
    pub use heist_executor::{
        Builder, EnterGuard, Handle, Runtime, RuntimeMetrics, TryCurrentError, WORKER_THREADS_ENV,
    };
}

/// Time: `sleep`, `timeout`, `interval`, on the runtime's timer wheels.
///
/// Timers have microsecond resolution and never fire early. A `Sleep` touches no timer until
/// it is first polled, and it is `Unpin`.
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
    pub use heist_timer::{
        Instant, Interval, MissedTickBehavior, Sleep, Timeout, error, interval, interval_at, sleep,
        sleep_until, timeout, timeout_at,
    };
    pub use std::time::Duration;
}

/// Tasks: spawning, joining, yielding.
pub mod task {
    pub use heist_executor::{
        AbortHandle, Id, JoinError, JoinHandle, JoinSet, TaskPool, TrySpawnError, consume_budget, spawn,
        spawn_blocking, yield_now,
    };
}
/// Synchronization for tasks: `mpsc`, `oneshot`, `Semaphore`, `Mutex`, `RwLock`, `Notify`,
/// `Barrier`, usable from any runtime's tasks.
pub mod sync;

/// Networking: TCP, UDP and Unix-domain sockets, registered with the runtime's reactor.
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
pub mod net {
    pub use heist_reactor::net::*;

    /// The halves of a split [`TcpStream`], under tokio's path.
    pub mod tcp {
        pub use heist_reactor::net::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
    }
}

/// Asynchronous I/O: [`Async<T>`](crate::io::Async) for any file descriptor, and the
/// `futures-io` traits with their extension methods (`read`, `read_exact`, `read_to_end`,
/// `write_all`, `flush`, `close`, `copy`...) from `futures-lite`.
///
/// `close()` is tokio's `shutdown()`: on a TCP stream it sends FIN.
///
/// ```
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
/// ```
pub mod io {
    pub use futures_lite::io::{
        AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt, AsyncWrite,
        AsyncWriteExt, BufReader, BufWriter, Cursor, copy, empty, repeat, sink,
    };
    pub use heist_reactor::Async;
    pub use std::io::{Error, ErrorKind, Result};
}

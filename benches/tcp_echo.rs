//! TCP echo over loopback: an echo server on heist, on tokio and on smol, each with the same
//! number of worker threads (`HEIST_BENCH_WORKERS`, default 2), driven by one fixed client.
//!
//! # Servers
//! All three are started once, before anything is measured, and serve until the end:
//!
//! - heist: `heist::net::TcpListener` on a heist runtime, a task per connection;
//! - tokio: `tokio::net::TcpListener` on a multi-threaded runtime with the I/O driver;
//! - smol: `async_io::Async<std::net::TcpListener>` on an `async_executor::Executor` run by
//!   `WORKERS` threads, each in `async_io::block_on` (see `common::Smol`).
//!
//! Every server runs the same loop per connection: `TCP_NODELAY`, read up to 16 KiB, write
//! it all back, until EOF.
//!
//! # Client
//! One client for all three servers, so that only the server differs: a current-thread tokio
//! runtime on its own std thread. The bench thread sends it a job (a channel) and waits for
//! the time the job took (another channel); the client measures, so `iter_custom` gets the
//! time of the network work alone. A job that gets no answer within 120 s fails the bench (a
//! hung server shows as a panic, not as a bench that never ends).
//!
//! Before the groups run, the client opens, per server, the 50 round-trip connections and the
//! bulk connection; every iteration reuses them, so connection set-up is never measured.
//!
//! # Workloads
//! - `round_trips`: one iteration is 50 connections x 1_000 round trips of 64 bytes
//!   (`write_all`, then `read_exact` and a check of the echoed bytes), the 50 connections
//!   running concurrently. For `iters` iterations each connection does `iters` x 1_000 round
//!   trips and the time is taken when the last one finishes. Throughput: round trips.
//! - `bulk`: one iteration is 64 MiB written in 16 KiB `write_all`s over one connection while
//!   the client reads the echo concurrently (same task, `try_join!` of the two halves).
//!   Throughput: bytes (one way).
//!
//! Flat sampling, 10 samples, 6 s (`round_trips`) or 3 s (`bulk`) of measurement per
//! function: the whole bench takes under a minute. On a machine with few cores keep in mind that the client thread competes with
//! the server's workers for the CPUs.
//!
//! Run: `cargo bench --bench tcp_echo` (or `-- bulk` for one workload).

mod common;

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use async_io::Async;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

use common::{Smol, configure, heist_rt, tokio_io_rt};

/// Criterion samples per function.
const SAMPLE_SIZE: usize = 10;
/// Measurement time of a `round_trips` function (`bulk` keeps `configure`'s 3 s).
const ROUND_TRIPS_MEASUREMENT: Duration = Duration::from_secs(6);

const RT_CONNECTIONS: usize = 50;
const RT_PER_CONNECTION: usize = 1_000;
const RT_SIZE: usize = 64;

const BULK_BYTES: usize = 64 * 1024 * 1024;
const BULK_WRITE: usize = 16 * 1024;
const BULK_READ: usize = 64 * 1024;

/// What every server reads (and writes back) at a time.
const SERVER_BUFFER: usize = 16 * 1024;
/// How long an accept loop waits after an error (`EMFILE`...) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How long the bench thread waits for one client job.
const JOB_TIMEOUT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------

/// A listener on a free loopback port, bound here so that its address is known before the
/// server's accept loop runs (connections wait in the kernel's queue until then).
fn std_listener() -> (StdListener, SocketAddr) {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind a loopback listener");
    let addr = listener.local_addr().expect("listener address");
    (listener, addr)
}

fn start_heist() -> (heist::Runtime, SocketAddr) {
    use heist::io::{AsyncReadExt, AsyncWriteExt};

    async fn echo(mut stream: heist::net::TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        let mut buf = vec![0u8; SERVER_BUFFER];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            stream.write_all(&buf[..n]).await?;
        }
    }

    let rt = heist_rt();
    let (listener, addr) = std_listener();
    drop(rt.spawn(async move {
        let listener = heist::net::TcpListener::from_std(listener).expect("register the heist listener");
        loop {
            match listener.accept().await {
                Ok((stream, _)) => drop(heist::spawn(async move {
                    let _ = echo(stream).await;
                })),
                Err(error) => {
                    eprintln!("heist server: accept: {error}");
                    heist::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }));
    (rt, addr)
}

fn start_tokio() -> (tokio::runtime::Runtime, SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn echo(mut stream: tokio::net::TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        let mut buf = vec![0u8; SERVER_BUFFER];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            stream.write_all(&buf[..n]).await?;
        }
    }

    let rt = tokio_io_rt();
    let (listener, addr) = std_listener();
    listener.set_nonblocking(true).expect("non-blocking listener");
    drop(rt.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("register the tokio listener");
        loop {
            match listener.accept().await {
                Ok((stream, _)) => drop(tokio::spawn(async move {
                    let _ = echo(stream).await;
                })),
                Err(error) => {
                    eprintln!("tokio server: accept: {error}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }));
    (rt, addr)
}

fn start_smol() -> (Smol, SocketAddr) {
    use futures_lite::io::{AsyncReadExt, AsyncWriteExt};

    async fn echo(mut stream: Async<std::net::TcpStream>) -> io::Result<()> {
        stream.get_ref().set_nodelay(true)?;
        let mut buf = vec![0u8; SERVER_BUFFER];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            stream.write_all(&buf[..n]).await?;
        }
    }

    let smol = Smol::new();
    let (listener, addr) = std_listener();
    let listener = Async::new(listener).expect("register the smol listener");
    // Weak: the accept loop, a task of the executor, must not keep the executor alive.
    let ex = Arc::downgrade(&smol.ex);
    smol.ex
        .spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        if let Some(ex) = ex.upgrade() {
                            ex.spawn(async move {
                                let _ = echo(stream).await;
                            })
                            .detach();
                        }
                    }
                    Err(error) => {
                        eprintln!("smol server: accept: {error}");
                        async_io::Timer::after(ACCEPT_BACKOFF).await;
                    }
                }
            }
        })
        .detach();
    (smol, addr)
}

// ---------------------------------------------------------------------------
// The client: a current-thread tokio runtime on its own thread
// ---------------------------------------------------------------------------

type Reply<T> = mpsc::Sender<io::Result<T>>;

enum Job {
    /// Open the round-trip connections and the bulk connection to `server`.
    Connect { server: SocketAddr, done: Reply<()> },
    /// `iters` x `RT_PER_CONNECTION` round trips on each round-trip connection.
    RoundTrips {
        server: SocketAddr,
        iters: u64,
        done: Reply<Duration>,
    },
    /// `iters` x `BULK_BYTES` through the bulk connection.
    Bulk {
        server: SocketAddr,
        iters: u64,
        done: Reply<Duration>,
    },
}

/// The client's connections to one server.
struct Pool {
    round_trips: Vec<tokio::net::TcpStream>,
    bulk: tokio::net::TcpStream,
}

struct Client {
    jobs: Option<tokio::sync::mpsc::UnboundedSender<Job>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Client {
    fn start() -> Client {
        let (jobs, mut rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let thread = thread::Builder::new()
            .name("echo-client".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()
                    .expect("build the client runtime");
                rt.block_on(async move {
                    let mut pools: HashMap<SocketAddr, Pool> = HashMap::new();
                    while let Some(job) = rx.recv().await {
                        match job {
                            Job::Connect { server, done } => {
                                let result = connect_pool(server).await.map(|pool| {
                                    pools.insert(server, pool);
                                });
                                let _ = done.send(result);
                            }
                            Job::RoundTrips { server, iters, done } => {
                                let pool = pools.get_mut(&server).expect("connected before measuring");
                                let _ = done.send(round_trips(&mut pool.round_trips, iters).await);
                            }
                            Job::Bulk { server, iters, done } => {
                                let pool = pools.get_mut(&server).expect("connected before measuring");
                                let _ = done.send(bulk(&mut pool.bulk, iters).await);
                            }
                        }
                    }
                });
            })
            .expect("spawn the client thread");
        Client {
            jobs: Some(jobs),
            thread: Some(thread),
        }
    }

    /// Sends the job made by `job` and waits for its result; panics on error or timeout.
    fn call<T>(&self, what: &str, job: impl FnOnce(Reply<T>) -> Job) -> T {
        let (done, result) = mpsc::channel();
        let jobs = self.jobs.as_ref().expect("client running");
        if jobs.send(job(done)).is_err() {
            panic!("{what}: the client thread has stopped");
        }
        match result.recv_timeout(JOB_TIMEOUT) {
            Ok(Ok(value)) => value,
            Ok(Err(error)) => panic!("{what}: {error}"),
            Err(_) => panic!("{what}: no answer within {JOB_TIMEOUT:?}: does the server hang?"),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Closing the channel ends the client's loop; its connections close with its runtime.
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() && !thread::panicking() {
                panic!("the client thread panicked");
            }
        }
    }
}

async fn connect(server: SocketAddr) -> io::Result<tokio::net::TcpStream> {
    let stream = tokio::net::TcpStream::connect(server).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn connect_pool(server: SocketAddr) -> io::Result<Pool> {
    let mut round_trips = Vec::with_capacity(RT_CONNECTIONS);
    for _ in 0..RT_CONNECTIONS {
        round_trips.push(connect(server).await?);
    }
    let bulk = connect(server).await?;
    Ok(Pool { round_trips, bulk })
}

/// All connections of `pool` concurrently, `iters` x `RT_PER_CONNECTION` round trips each.
async fn round_trips(pool: &mut Vec<tokio::net::TcpStream>, iters: u64) -> io::Result<Duration> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let trips = iters as usize * RT_PER_CONNECTION;
    let start = Instant::now();
    let tasks: Vec<_> = pool
        .drain(..)
        .enumerate()
        .map(|(conn, mut stream)| {
            tokio::spawn(async move {
                let mut sent = [0u8; RT_SIZE];
                let mut echoed = [0u8; RT_SIZE];
                let result = async {
                    for trip in 0..trips {
                        sent.fill((conn + trip) as u8);
                        stream.write_all(&sent).await?;
                        stream.read_exact(&mut echoed).await?;
                        if sent != echoed {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                "the echoed bytes differ from those sent",
                            ));
                        }
                    }
                    Ok(())
                }
                .await;
                (stream, result)
            })
        })
        .collect();
    let mut first_error = None;
    for task in tasks {
        let (stream, result) = task.await.expect("round-trip task panicked");
        pool.push(stream);
        if let Err(error) = result {
            first_error.get_or_insert(error);
        }
    }
    let elapsed = start.elapsed();
    match first_error {
        Some(error) => Err(error),
        None => Ok(elapsed),
    }
}

/// `iters` x `BULK_BYTES` written in `BULK_WRITE` chunks while the echo is read concurrently.
async fn bulk(stream: &mut tokio::net::TcpStream, iters: u64) -> io::Result<Duration> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let total = iters as usize * BULK_BYTES;
    let (mut reader, mut writer) = stream.split();
    let chunk = vec![0x5au8; BULK_WRITE];
    let mut buf = vec![0u8; BULK_READ];
    let start = Instant::now();
    let write = async {
        for _ in 0..total / BULK_WRITE {
            writer.write_all(&chunk).await?;
        }
        io::Result::Ok(())
    };
    let read = async {
        let mut received = 0;
        while received < total {
            match reader.read(&mut buf).await? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => received += n,
            }
        }
        io::Result::Ok(())
    };
    tokio::try_join!(write, read)?;
    Ok(start.elapsed())
}

// ---------------------------------------------------------------------------
// The bench
// ---------------------------------------------------------------------------

fn tcp_echo(c: &mut Criterion) {
    let client = Client::start();
    let heist = start_heist();
    let tokio = start_tokio();
    let smol = start_smol();
    let servers = [("heist", heist.1), ("tokio", tokio.1), ("smol", smol.1)];
    for (name, server) in servers {
        client.call(&format!("{name}: connect to {server}"), |done| Job::Connect {
            server,
            done,
        });
    }

    let mut g = configure(c, "round_trips", RT_CONNECTIONS * RT_PER_CONNECTION, SAMPLE_SIZE);
    // An iteration takes about half a second here: room for 10 of them.
    g.sampling_mode(SamplingMode::Flat)
        .measurement_time(ROUND_TRIPS_MEASUREMENT);
    for (name, server) in servers {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                client.call(&format!("{name}: round trips"), |done| Job::RoundTrips {
                    server,
                    iters,
                    done,
                })
            })
        });
    }
    g.finish();

    let mut g = configure(c, "bulk", 0, SAMPLE_SIZE);
    g.sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Bytes(BULK_BYTES as u64));
    for (name, server) in servers {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                client.call(&format!("{name}: bulk"), |done| Job::Bulk { server, iters, done })
            })
        });
    }
    g.finish();

    // The client first: its connections close, the servers' connection tasks see EOF.
    drop(client);
    drop((heist, tokio, smol));
}

criterion_group!(benches, tcp_echo);
criterion_main!(benches);

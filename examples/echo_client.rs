//! A load generator for the echo server (`cargo run --release --example echo`), on heist.
//!
//! ```text
//! cargo run --release --example echo_client                                  # 50 x 1000 x 64 B
//! cargo run --release --example echo_client -- 127.0.0.1:7000 --connections 1000 --round-trips 100
//! cargo run --release --example echo_client -- --size 4096
//! ```
//!
//! Opens `--connections` connections (all before the clock starts), then each one, in its own
//! task, does `--round-trips` round trips: write `--size` bytes, read them back, check them,
//! and record how long that took. Prints the round trips per second over the whole run and
//! the latency percentiles of single round trips. Exits with 1 if the server cannot be
//! reached or any connection fails.

use std::io;
use std::process::ExitCode;
use std::time::Instant;

use heist::io::{AsyncReadExt, AsyncWriteExt};
use heist::net::TcpStream;
use heist::time::{Duration, timeout};

const USAGE: &str = "usage: echo_client [ADDR] [--connections N] [--round-trips M] [--size S]\n\
                     defaults: 127.0.0.1:7000, 50 connections, 1000 round trips, 64 bytes";

/// How long one connection attempt may take before the run is called off.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

struct Args {
    addr: String,
    connections: usize,
    round_trips: usize,
    size: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: "127.0.0.1:7000".to_string(),
        connections: 50,
        round_trips: 1000,
        size: 64,
    };
    let mut addr_given = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let slot = match arg.as_str() {
            "--connections" | "-c" => &mut args.connections,
            "--round-trips" | "-n" => &mut args.round_trips,
            "--size" | "-s" => &mut args.size,
            "-h" | "--help" => return Err(USAGE.to_string()),
            flag if flag.starts_with('-') => return Err(format!("unknown option `{flag}`\n{USAGE}")),
            addr if !addr_given => {
                args.addr = addr.to_string();
                addr_given = true;
                continue;
            }
            extra => return Err(format!("unexpected argument `{extra}`\n{USAGE}")),
        };
        let value = it
            .next()
            .ok_or_else(|| format!("`{arg}` needs a value\n{USAGE}"))?;
        *slot = value
            .replace('_', "")
            .parse()
            .ok()
            .filter(|&n: &usize| n > 0)
            .ok_or_else(|| format!("`{arg}` wants a positive number, got `{value}`"))?;
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match heist::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the heist runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("echo_client: {msg}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let Args {
        addr,
        connections,
        round_trips,
        size,
    } = args;

    // One connection first: if the server is not there, say so once, plainly.
    let connect_start = Instant::now();
    let first = connect(addr.clone()).await.map_err(|error| {
        format!(
            "cannot connect to {addr}: {error}\nis the echo server running? start it with: \
             cargo run --release --example echo -- {addr}"
        )
    })?;
    let others: Vec<_> = (1..connections)
        .map(|_| heist::spawn(connect(addr.clone())))
        .collect();
    let mut streams = vec![first];
    for handle in others {
        let stream = handle
            .await
            .map_err(|error| format!("a connect task failed: {error}"))?
            .map_err(|error| {
                format!(
                    "connection {} of {connections} to {addr}: {error}",
                    streams.len() + 1
                )
            })?;
        streams.push(stream);
    }
    println!(
        "{connections} connections to {addr} open in {:.1} ms",
        connect_start.elapsed().as_secs_f64() * 1e3
    );

    let start = Instant::now();
    let tasks: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(conn, stream)| heist::spawn(round_trip_loop(stream, conn, round_trips, size)))
        .collect();
    let mut latencies = Vec::with_capacity(connections * round_trips);
    let mut failures = Vec::new();
    for (conn, task) in tasks.into_iter().enumerate() {
        match task.await {
            Ok(Ok(times)) => latencies.extend(times),
            Ok(Err(error)) => failures.push(format!("connection {conn}: {error}")),
            Err(error) => failures.push(format!("connection {conn}: task failed: {error}")),
        }
    }
    let elapsed = start.elapsed();
    if !failures.is_empty() {
        let shown = failures.iter().take(5).cloned().collect::<Vec<_>>().join("\n  ");
        return Err(format!(
            "{} of {connections} connections failed:\n  {shown}{}",
            failures.len(),
            if failures.len() > 5 { "\n  ..." } else { "" }
        ));
    }

    let total = latencies.len();
    let secs = elapsed.as_secs_f64();
    println!(
        "{connections} connections x {round_trips} round trips of {size} bytes: {total} round trips \
         in {secs:.3} s = {:.0} round trips/s ({:.1} MiB/s each way)",
        total as f64 / secs,
        (total * size) as f64 / secs / (1024.0 * 1024.0)
    );
    latencies.sort_unstable();
    println!(
        "latency per round trip: p50 {}  p90 {}  p99 {}  max {}",
        show(percentile(&latencies, 0.50)),
        show(percentile(&latencies, 0.90)),
        show(percentile(&latencies, 0.99)),
        show(*latencies.last().expect("at least one round trip")),
    );
    Ok(())
}

async fn connect(addr: String) -> io::Result<TcpStream> {
    let stream = timeout(CONNECT_TIMEOUT, TcpStream::connect(addr.as_str()))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out after 10 s"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// `round_trips` times: send `size` bytes, read them back, check them. Returns each round
/// trip's latency.
async fn round_trip_loop(
    mut stream: TcpStream,
    conn: usize,
    round_trips: usize,
    size: usize,
) -> io::Result<Vec<Duration>> {
    let mut sent = vec![0u8; size];
    let mut echoed = vec![0u8; size];
    let mut times = Vec::with_capacity(round_trips);
    for trip in 0..round_trips {
        // A pattern that differs between connections and round trips, so that bytes from
        // another connection or an earlier round trip are caught.
        for (i, byte) in sent.iter_mut().enumerate() {
            *byte = (conn.wrapping_mul(31) ^ trip.wrapping_mul(7) ^ i) as u8;
        }
        let start = Instant::now();
        stream.write_all(&sent).await?;
        stream.read_exact(&mut echoed).await?;
        times.push(start.elapsed());
        if sent != echoed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("round trip {trip}: the echoed bytes differ from those sent"),
            ));
        }
    }
    Ok(times)
}

/// The nearest-rank percentile of sorted `values`.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn show(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 10_000.0 {
        format!("{micros:.0} µs")
    } else {
        format!("{:.1} ms", micros / 1e3)
    }
}

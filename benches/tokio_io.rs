//! tokio's I/O traits on heist's `TcpStream`: heist's own implementation (feature `tokio-io`)
//! against tokio-util's `compat` wrapper of the `futures-io` one, with tokio's `TcpStream` on
//! tokio beside them. An echo over loopback through `tokio::io::{AsyncReadExt, AsyncWriteExt}`:
//! small messages one at a time (latency-bound), and 8 MiB in 64 KiB chunks read with
//! `read_buf` into spare capacity (where compat must zero each chunk first).
//!
//! `cargo bench --features tokio-io --bench tokio_io -- --warm-up-time 1 --measurement-time 3`

use std::net::SocketAddr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::compat::FuturesAsyncReadCompatExt;

const SMALL: usize = 64;
const ROUND_TRIPS: usize = 200;
const BULK: usize = 8 << 20;
const CHUNK: usize = 64 << 10;

/// `ROUND_TRIPS` messages of `SMALL` bytes, each echoed before the next is sent.
async fn ping_pong<C, S>(mut client: C, mut server: S)
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let echo = async move {
        let mut buf = [0u8; SMALL];
        for _ in 0..ROUND_TRIPS {
            server.read_exact(&mut buf).await.unwrap();
            server.write_all(&buf).await.unwrap();
        }
    };
    let client = async move {
        let mut buf = [1u8; SMALL];
        for _ in 0..ROUND_TRIPS {
            client.write_all(&buf).await.unwrap();
            client.read_exact(&mut buf).await.unwrap();
        }
    };
    futures_lite::future::zip(echo, client).await;
}

/// `BULK` bytes one way, read with `read_buf` into uninitialized spare capacity.
async fn bulk<C, S>(mut client: C, mut server: S)
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let data = vec![3u8; CHUNK];
    let send = async move {
        for _ in 0..BULK / CHUNK {
            client.write_all(&data).await.unwrap();
        }
        client.shutdown().await.unwrap();
    };
    let receive = async move {
        let mut total = 0;
        let mut buf = Vec::with_capacity(CHUNK);
        loop {
            buf.clear();
            let n = server.read_buf(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            total += n;
        }
        assert_eq!(total, BULK);
    };
    futures_lite::future::zip(send, receive).await;
}

async fn heist_pair() -> (heist::net::TcpStream, heist::net::TcpStream) {
    let listener = heist::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (client, accepted) =
        futures_lite::future::zip(heist::net::TcpStream::connect(addr), listener.accept()).await;
    let (client, server) = (client.unwrap(), accepted.unwrap().0);
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    (client, server)
}

async fn tokio_pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
    let (client, server) = (client.unwrap(), accepted.unwrap().0);
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    (client, server)
}

fn benches(c: &mut Criterion) {
    let heist = heist::runtime::Builder::new().worker_threads(2).build().unwrap();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let mut group = c.benchmark_group("tokio_io/ping_pong_64B_x200");
    group.throughput(Throughput::Elements(ROUND_TRIPS as u64));
    group.bench_function("heist direct", |b| {
        b.iter(|| {
            heist.block_on(async {
                let (client, server) = heist_pair().await;
                ping_pong(client, server).await
            })
        })
    });
    group.bench_function("heist compat", |b| {
        b.iter(|| {
            heist.block_on(async {
                let (client, server) = heist_pair().await;
                ping_pong(client.compat(), server.compat()).await
            })
        })
    });
    group.bench_function("tokio", |b| {
        b.iter(|| {
            tokio.block_on(async {
                let (client, server) = tokio_pair().await;
                ping_pong(client, server).await
            })
        })
    });
    group.finish();

    let mut group = c.benchmark_group("tokio_io/bulk_8MiB");
    group.throughput(Throughput::Bytes(BULK as u64));
    group.bench_function("heist direct", |b| {
        b.iter(|| {
            heist.block_on(async {
                let (client, server) = heist_pair().await;
                bulk(client, server).await
            })
        })
    });
    group.bench_function("heist compat", |b| {
        b.iter(|| {
            heist.block_on(async {
                let (client, server) = heist_pair().await;
                bulk(client.compat(), server.compat()).await
            })
        })
    });
    group.bench_function("tokio", |b| {
        b.iter(|| {
            tokio.block_on(async {
                let (client, server) = tokio_pair().await;
                bulk(client, server).await
            })
        })
    });
    group.finish();
}

criterion_group!(tokio_io, benches);
criterion_main!(tokio_io);

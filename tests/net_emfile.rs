//! A full descriptor table (`EMFILE`): `accept` returns the error to its caller (no hang, no
//! panic, no lost readiness), other constructors fail cleanly, and the listener accepts again
//! once descriptors are freed.
//!
//! The only test of its binary: it lowers the whole process's `RLIMIT_NOFILE`.
//!
//! Unix only: descriptor limits (`setrlimit`).
#![cfg(unix)]

mod common;
#[path = "common/net.rs"]
mod net_common;

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use common::{WAIT, run_with_timeout, runtime};
use futures_lite::StreamExt;
use heist::io::{AsyncReadExt, AsyncWriteExt};
use heist::net::{TcpListener, TcpStream, UnixStream};
use net_common::{nofile_limit, on_pending, open_fds, set_nofile_soft};

/// Puts the soft limit back when dropped, even if the test fails half-way.
struct RestoreLimit(u64);

impl Drop for RestoreLimit {
    fn drop(&mut self) {
        set_nofile_soft(self.0);
    }
}

/// Opens `/dev/null` until the table is full; the files are the free slots, to hand back one
/// at a time.
fn fill_descriptor_table(placeholders: &mut Vec<File>) {
    loop {
        match File::open("/dev/null") {
            Ok(file) => placeholders.push(file),
            Err(error) => {
                assert_eq!(error.raw_os_error(), Some(libc::EMFILE), "{error:?}");
                return;
            }
        }
    }
}

fn assert_emfile<T: std::fmt::Debug>(what: &str, result: io::Result<T>) {
    match result {
        Ok(value) => panic!("{what} succeeded with a full descriptor table: {value:?}"),
        Err(error) => assert_eq!(error.raw_os_error(), Some(libc::EMFILE), "{what}: {error:?}"),
    }
}

/// Reads the client's id byte from an accepted stream, checks it came from the client with
/// that id, and answers.
async fn serve(stream: &mut TcpStream, peer: SocketAddr, clients: &[std::net::TcpStream]) -> usize {
    let mut id = [0; 1];
    stream.read_exact(&mut id).await.unwrap();
    let id = id[0] as usize;
    assert_eq!(
        clients[id].local_addr().unwrap(),
        peer,
        "the connection that sent id {id} is another client's"
    );
    stream.write_all(b"served").await.unwrap();
    id
}

#[test]
fn accept_reports_emfile_and_recovers() {
    const CLIENTS: usize = 8;
    run_with_timeout("emfile", || {
        let rt = runtime(2);
        let listener = Arc::new(rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap());
        let addr = listener.local_addr().unwrap();

        // Clients connected before the limit is lowered: they wait in the accept queue, and
        // each has sent its id.
        let mut clients: Vec<std::net::TcpStream> = (0..CLIENTS as u8)
            .map(|id| {
                let mut client = std::net::TcpStream::connect(addr).unwrap();
                client.set_read_timeout(Some(WAIT)).unwrap();
                client.write_all(&[id]).unwrap();
                client
            })
            .collect();

        // A limit a little above the highest descriptor in use, then the rest filled up.
        let (soft, _) = nofile_limit();
        let restore = RestoreLimit(soft);
        let highest = open_fds().last().map_or(0, |&(fd, _)| fd) as u64;
        set_nofile_soft(highest + 1 + 16);
        let mut placeholders = Vec::new();
        fill_descriptor_table(&mut placeholders);
        assert!(
            !placeholders.is_empty(),
            "the table was full before the test filled it"
        );

        let mut served = Vec::new();
        let mut accepted = Vec::new();
        rt.block_on(async {
            // Queued connections, no descriptor for them: the error reaches the caller, again
            // and again, through `accept` and `incoming`.
            for attempt in 0..3 {
                assert_emfile(&format!("accept #{attempt}"), listener.accept().await);
            }
            let next = listener.incoming().next().await.expect("incoming ended");
            assert_emfile("incoming", next);
            // The other constructors fail cleanly too.
            assert_emfile("TcpStream::connect", TcpStream::connect(addr).await);
            assert_emfile("UnixStream::pair", UnixStream::pair());
        });

        // One descriptor free: exactly one connection gets through, and then EMFILE again.
        drop(placeholders.pop());
        rt.block_on(async {
            let (mut stream, peer) = listener.accept().await.expect("accept with one free descriptor");
            served.push(serve(&mut stream, peer, &clients).await);
            accepted.push(stream);
            assert_emfile("accept with the table full again", listener.accept().await);
        });

        // Four free: four more.
        for _ in 0..4 {
            drop(placeholders.pop());
        }
        rt.block_on(async {
            for _ in 0..4 {
                let (mut stream, peer) = listener.accept().await.expect("accept after freeing descriptors");
                served.push(serve(&mut stream, peer, &clients).await);
                accepted.push(stream);
            }
            assert_emfile("accept with the table full again", listener.accept().await);
        });

        // The rest of the queue, then one free descriptor left over.
        let rest = CLIENTS - accepted.len();
        for _ in 0..rest + 1 {
            drop(placeholders.pop());
        }
        rt.block_on(async {
            for _ in 0..rest {
                let (mut stream, peer) = listener.accept().await.expect("accept of the rest");
                served.push(serve(&mut stream, peer, &clients).await);
                accepted.push(stream);
            }
        });
        served.sort();
        assert_eq!(
            served,
            (0..CLIENTS).collect::<Vec<_>>(),
            "every client was served once"
        );

        // A task parked in `accept` on an empty queue is woken by a new connection whose
        // client takes the last free descriptor: it must get EMFILE, not hang or panic.
        let (parked_tx, parked_rx) = std::sync::mpsc::channel();
        let parked_accept = {
            let listener = listener.clone();
            rt.spawn(on_pending(
                async move { listener.accept().await.map(|(_, peer)| peer) },
                move || parked_tx.send(()).unwrap(),
            ))
        };
        parked_rx
            .recv_timeout(WAIT)
            .expect("accept on an empty queue never parked");
        let mut late_client = std::net::TcpStream::connect(addr).expect("the late client's connect");
        late_client.set_read_timeout(Some(WAIT)).unwrap();
        // Nothing left: the table is full.
        assert_emfile("File::open with the table full", File::open("/dev/null"));
        assert_emfile(
            "the parked accept woken with the table full",
            rt.block_on(parked_accept).expect("the accept task failed"),
        );
        // The readiness was not lost to the error: once a descriptor is free, `accept` takes the
        // queued connection without waiting for another event.
        drop(placeholders.pop());
        let (mut late, peer) = rt.block_on(listener.accept()).expect("accept after the EMFILE");
        assert_eq!(peer, late_client.local_addr().unwrap());

        // Every accepted connection works both ways.
        drop(placeholders);
        drop(restore);
        rt.block_on(async {
            late.write_all(b"late").await.unwrap();
        });
        let mut got = [0; 4];
        late_client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"late");
        for (id, client) in clients.iter_mut().enumerate() {
            let mut got = [0; 6];
            client
                .read_exact(&mut got)
                .unwrap_or_else(|error| panic!("client {id}: {error}"));
            assert_eq!(&got, b"served");
        }
        drop(accepted);
        for (id, client) in clients.iter_mut().enumerate() {
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).unwrap();
            assert!(rest.is_empty(), "client {id}: {} unexpected bytes", rest.len());
        }
        assert_eq!(nofile_limit().0, soft, "the limit was not restored");
    });
}

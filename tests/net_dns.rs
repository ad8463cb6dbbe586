//! Name lookups leave the worker: a host name is resolved on the runtime's blocking pool while
//! the worker goes on running other tasks, and an IP address is used on the spot, with no
//! thread hop. A Unix-domain connect to a full backlog does not block the worker either.
//!
//! The resolver is replaced (for this test binary only) by a stand-in that knows a few test
//! names: one blocks until a test releases it, which makes "the worker stays free while a
//! lookup is in progress" observable without network or timing. Every name the stand-in does
//! not know goes to the system resolver.

mod common;
#[path = "common/net.rs"]
mod net_common;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Condvar, Mutex, Once};

use common::run_with_timeout;
use heist::io::{AsyncReadExt, AsyncWriteExt};
use heist::net::{TcpListener, TcpStream, UdpSocket, lookup_host};
#[cfg(unix)]
use heist::net::{UnixListener, UnixStream};
#[cfg(unix)]
use net_common::TempSocketPath;
use net_common::on_pending;

/// Resolves to loopback, after the test has called [`release_blocked_lookup`].
const BLOCKED_HOST: &str = "blocked.heist.test";
/// Resolves to loopback at once; each test uses its own such name, counted in [`LOOKUPS`].
const COUNTED_SUFFIX: &str = ".counted.heist.test";

static RELEASED: Mutex<bool> = Mutex::new(false);
static RELEASE: Condvar = Condvar::new();
static LOOKUPS: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);

fn test_resolver(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let loopback = vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port))];
    if host == BLOCKED_HOST {
        let mut released = RELEASED.lock().unwrap();
        while !*released {
            released = RELEASE.wait(released).unwrap();
        }
        Ok(loopback)
    } else if host.ends_with(COUNTED_SUFFIX) {
        *LOOKUPS
            .lock()
            .unwrap()
            .get_or_insert_with(HashMap::new)
            .entry(host.to_owned())
            .or_default() += 1;
        Ok(loopback)
    } else {
        heist::net::system_resolve(host, port)
    }
}

fn install_test_resolver() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        heist::net::set_resolver(test_resolver);
    });
}

fn release_blocked_lookup() {
    *RELEASED.lock().unwrap() = true;
    RELEASE.notify_all();
}

fn lookups_of(host: &str) -> usize {
    LOOKUPS
        .lock()
        .unwrap()
        .as_ref()
        .and_then(|counts| counts.get(host).copied())
        .unwrap_or(0)
}

/// One worker: a task whose lookup blocks until a second task on the same worker releases it.
/// Resolving on the worker (as before) deadlocks: the second task never runs.
#[test]
fn a_blocked_lookup_leaves_the_worker_free() {
    install_test_resolver();
    run_with_timeout("blocked_lookup", || {
        let rt = common::runtime(1);
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let (parked_tx, parked_rx) = heist::sync::oneshot::channel::<()>();
            let connect = heist::spawn(on_pending(TcpStream::connect((BLOCKED_HOST, port)), move || {
                let _ = parked_tx.send(());
            }));
            // Runs on the same (only) worker, and only once the connecting task has let go
            // of it; the lookup can end only after this runs.
            let releaser = heist::spawn(async move {
                parked_rx
                    .await
                    .expect("the connecting task ended without ever waiting");
                release_blocked_lookup();
            });
            releaser.await.unwrap();
            let mut client = connect
                .await
                .unwrap()
                .expect("connect through the looked-up name");
            let (mut server, _) = listener.accept().await.unwrap();
            client.write_all(b"hi").await.unwrap();
            let mut buf = [0; 2];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"hi");
        });
    });
}

/// An address that needs no lookup never reaches the resolver nor the blocking pool; a name
/// goes to the resolver on the pool, once per call.
#[test]
fn send_to_an_address_makes_no_lookup_and_a_name_one_per_datagram() {
    install_test_resolver();
    run_with_timeout("send_to_lookups", || {
        let rt = common::runtime(1);
        let metrics = rt.handle().metrics();
        rt.block_on(async {
            let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let target = receiver.local_addr().unwrap();
            let sender = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
            let as_text = target.to_string();
            sender.send_to(b"1", target).await.unwrap();
            sender.send_to(b"2", as_text.as_str()).await.unwrap();
            sender
                .send_to(b"3", (IpAddr::from(Ipv4Addr::LOCALHOST), target.port()))
                .await
                .unwrap();
            sender.send_to(b"4", ("127.0.0.1", target.port())).await.unwrap();
            sender.send_to(b"5", &[target][..]).await.unwrap();
            assert_eq!(
                metrics.num_blocking_threads(),
                0,
                "sending to IP addresses started a blocking-pool thread"
            );

            let name = format!("udp{COUNTED_SUFFIX}");
            sender
                .send_to(b"6", (name.as_str(), target.port()))
                .await
                .unwrap();
            sender
                .send_to(b"7", format!("{name}:{}", target.port()))
                .await
                .unwrap();
            assert_eq!(lookups_of(&name), 2, "each send_to to a name looks it up once");
            assert!(
                metrics.num_blocking_threads() >= 1,
                "the name was not looked up on the blocking pool"
            );

            let mut buf = [0; 1];
            for expected in b"1234567" {
                let (len, from) = receiver.recv_from(&mut buf).await.unwrap();
                assert_eq!((len, buf[0]), (1, *expected));
                assert_eq!(from, sender.local_addr().unwrap());
            }
        });
    });
}

#[test]
fn lookup_host_resolves_names_on_the_pool_and_addresses_in_place() {
    install_test_resolver();
    run_with_timeout("lookup_host", || {
        let rt = common::runtime(1);
        let metrics = rt.handle().metrics();
        rt.block_on(async {
            let addrs: Vec<_> = lookup_host("[::1]:80").await.unwrap().collect();
            assert_eq!(addrs, ["[::1]:80".parse::<SocketAddr>().unwrap()]);
            let addrs: Vec<_> = lookup_host(("10.1.2.3", 7)).await.unwrap().collect();
            assert_eq!(addrs, [SocketAddr::from(([10, 1, 2, 3], 7))]);
            assert_eq!(metrics.num_blocking_threads(), 0);

            let name = format!("lookup{COUNTED_SUFFIX}");
            let addrs: Vec<_> = lookup_host(format!("{name}:99")).await.unwrap().collect();
            assert_eq!(addrs, [SocketAddr::from((Ipv4Addr::LOCALHOST, 99))]);
            assert_eq!(lookups_of(&name), 1);
            assert!(metrics.num_blocking_threads() >= 1);

            // `localhost` comes from the system resolver (/etc/hosts), on the pool.
            let addrs: Vec<_> = lookup_host("localhost:5").await.unwrap().collect();
            assert!(
                !addrs.is_empty()
                    && addrs
                        .iter()
                        .all(|addr| addr.ip().is_loopback() && addr.port() == 5)
            );
        });
    });
}

#[test]
fn malformed_addresses_are_an_error_that_says_what_to_write() {
    install_test_resolver();
    let rt = common::runtime(1);
    rt.block_on(async {
        for bad in ["localhost", "localhost:http", "127.0.0.1:70000"] {
            let error = lookup_host(bad)
                .await
                .err()
                .unwrap_or_else(|| panic!("{bad:?} resolved"));
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{bad:?}: {error}");
            assert!(error.to_string().contains("host:port"), "{bad:?}: {error}");
            let error = TcpStream::connect(bad).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{bad:?}: {error}");
        }
    });
}

#[test]
fn looking_up_a_name_outside_a_runtime_is_an_error() {
    install_test_resolver();
    use futures_lite::future::block_on;
    let name = format!("outside{COUNTED_SUFFIX}:80");
    let error = block_on(lookup_host(name.as_str()))
        .err()
        .expect("a lookup outside a runtime");
    let message = error.to_string();
    assert!(
        message.contains("runtime") && message.contains("inside"),
        "{message}"
    );
    let error = block_on(TcpStream::connect(name.as_str())).unwrap_err();
    assert!(error.to_string().contains("inside"), "{error}");
    assert_eq!(
        lookups_of(&name),
        0,
        "the name was looked up although the call failed"
    );
    // An address needs no runtime to be an address.
    let addrs: Vec<_> = block_on(lookup_host("127.0.0.1:1")).unwrap().collect();
    assert_eq!(addrs, [SocketAddr::from((Ipv4Addr::LOCALHOST, 1))]);
}

/// A listener whose backlog (0: one pending connection on Linux) is full makes a blocking
/// connect wait until it accepts. One worker: the connect waits while a second task on the
/// same worker accepts; connecting on the worker (as before) deadlocks.
#[cfg(unix)]
#[test]
fn a_unix_connect_to_a_full_backlog_leaves_the_worker_free() {
    run_with_timeout("unix_full_backlog", || {
        let path = TempSocketPath::new("dns-full-backlog");
        let std_listener = listen_with_backlog_0(path.path());
        // Fills the backlog: queued, not yet accepted.
        let first = std::os::unix::net::UnixStream::connect(path.path()).unwrap();
        let rt = common::runtime(1);
        rt.block_on(async move {
            let listener = UnixListener::from_std(std_listener).unwrap();
            let (parked_tx, parked_rx) = heist::sync::oneshot::channel::<()>();
            let connect_path = path.path().to_owned();
            let connect = heist::spawn(on_pending(UnixStream::connect(connect_path), move || {
                let _ = parked_tx.send(());
            }));
            let acceptor = heist::spawn(async move {
                parked_rx
                    .await
                    .expect("the connect ended without ever waiting: the backlog was not full");
                let (_first, _) = listener.accept().await.unwrap();
                let (mut second, _) = listener.accept().await.unwrap();
                let mut buf = [0; 2];
                second.read_exact(&mut buf).await.unwrap();
                buf
            });
            let mut stream = connect
                .await
                .unwrap()
                .expect("connect once the listener accepted");
            stream.write_all(b"ok").await.unwrap();
            assert_eq!(&acceptor.await.unwrap(), b"ok");
            drop((first, path));
        });
    });
}

#[cfg(unix)]
fn listen_with_backlog_0(path: &std::path::Path) -> std::os::unix::net::UnixListener {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    // SAFETY: `listen` on a descriptor we own, re-listening with a smaller backlog.
    let rc = unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&listener), 0) };
    assert_eq!(rc, 0, "listen: {}", io::Error::last_os_error());
    listener
}

/// A lookup still queued for the blocking pool when the runtime shuts down fails with an
/// error saying so, instead of waiting forever for a job that will never run.
#[test]
fn a_lookup_queued_at_shutdown_fails_instead_of_hanging() {
    install_test_resolver();
    run_with_timeout("lookup_at_shutdown", || {
        let rt = heist::runtime::Builder::new()
            .worker_threads(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        // The pool's only thread stays busy until the runtime is gone.
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        drop(rt.spawn_blocking(move || {
            started_tx.send(()).unwrap();
            let _ = release_rx.recv();
        }));
        started_rx.recv().unwrap();

        let host = format!("shutdown{COUNTED_SUFFIX}");
        let mut lookup = Box::pin(lookup_host(format!("{host}:80")));
        {
            let _entered = rt.enter();
            let first_poll = futures_lite::future::block_on(futures_lite::future::poll_once(&mut lookup));
            assert!(
                first_poll.is_none(),
                "the lookup finished while the pool was busy"
            );
        }
        rt.shutdown_timeout(std::time::Duration::ZERO);
        release_tx.send(()).unwrap();
        let error = futures_lite::future::block_on(lookup)
            .err()
            .expect("a lookup the runtime never ran succeeded");
        assert!(error.to_string().contains("shut down"), "{error}");
        assert_eq!(lookups_of(&host), 0);
    });
}

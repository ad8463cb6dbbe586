//! Socket options: `TcpSocket` (bind before connect, listen with a backlog, `SO_REUSEADDR`,
//! `SO_REUSEPORT`, keepalive, linger, buffer sizes), the setters of `TcpStream`, `TcpListener`
//! and `UdpSocket`, UDP multicast, and the flags every socket heist creates must carry
//! (close-on-exec, non-blocking).
#![cfg_attr(not(unix), allow(unused_imports, dead_code))]

mod common;

use common::{run_with_timeout, runtime};
use futures_lite::future::zip;
use heist::io::{AsyncReadExt, AsyncWriteExt};
use heist::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use std::io;
use std::time::Duration;

#[test]
fn tcp_socket_options_read_back_what_was_set() {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    assert!(socket.reuseaddr().unwrap());
    socket.set_reuseaddr(false).unwrap();
    assert!(!socket.reuseaddr().unwrap());
    socket.set_keepalive(true).unwrap();
    assert!(socket.keepalive().unwrap());
    socket.set_linger(Some(Duration::from_secs(3))).unwrap();
    assert_eq!(socket.linger().unwrap(), Some(Duration::from_secs(3)));
    socket.set_linger(None).unwrap();
    assert_eq!(socket.linger().unwrap(), None);
    socket.set_nodelay(true).unwrap();
    assert!(socket.nodelay().unwrap());
    // The OS may round (Linux doubles the value for its bookkeeping), never below.
    socket.set_send_buffer_size(96 * 1024).unwrap();
    assert!(socket.send_buffer_size().unwrap() >= 96 * 1024);
    socket.set_recv_buffer_size(80 * 1024).unwrap();
    assert!(socket.recv_buffer_size().unwrap() >= 80 * 1024);
    #[cfg(unix)]
    {
        socket.set_reuseport(true).unwrap();
        assert!(socket.reuseport().unwrap());
    }
    assert!(socket.take_error().unwrap().is_none());
}

#[test]
fn tcp_socket_binds_before_connecting_and_listens_with_a_backlog() {
    run_with_timeout("tcp_socket_bind_connect_listen", || {
        runtime(1).block_on(async {
            let listening = TcpSocket::new_v4().unwrap();
            listening.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = listening.local_addr().unwrap();
            assert_ne!(addr.port(), 0);
            let listener = listening.listen(16).unwrap();
            assert_eq!(listener.local_addr().unwrap(), addr);

            // The connecting side chooses its own local address and options first.
            let connecting = TcpSocket::new_v4().unwrap();
            connecting.set_nodelay(true).unwrap();
            connecting.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let from = connecting.local_addr().unwrap();
            let (stream, accepted) = zip(connecting.connect(addr), listener.accept()).await;
            let mut stream = stream.unwrap();
            let (mut server, peer) = accepted.unwrap();
            assert_eq!((stream.local_addr().unwrap(), peer), (from, from));
            assert!(stream.nodelay().unwrap(), "TCP_NODELAY was set before connecting");
            stream.write_all(b"through TcpSocket").await.unwrap();
            let mut buf = [0; 17];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"through TcpSocket");

            // A backlog past i32::MAX is capped, not an error.
            let big = TcpSocket::new_v4().unwrap();
            big.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            big.listen(u32::MAX).unwrap();

            // A refused connect is the connect's error.
            let closed = {
                let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                probe.local_addr().unwrap()
            };
            let error = TcpSocket::new_v4()
                .unwrap()
                .connect(closed)
                .await
                .expect_err("nobody listens");
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
        });
    });
}

#[test]
fn tcp_socket_from_a_std_stream_changes_its_options() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let socket = TcpSocket::from_std_stream(stream);
    socket.set_keepalive(true).unwrap();
    assert!(socket.keepalive().unwrap());
}

#[test]
fn stream_listener_and_udp_setters_read_back_what_was_set() {
    run_with_timeout("stream_and_udp_setters", || {
        runtime(1).block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.set_ttl(33).unwrap();
            assert_eq!(listener.ttl().unwrap(), 33);
            let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            stream.set_ttl(17).unwrap();
            assert_eq!(stream.ttl().unwrap(), 17);
            stream.set_linger(Some(Duration::from_secs(2))).unwrap();
            assert_eq!(stream.linger().unwrap(), Some(Duration::from_secs(2)));
            stream.set_keepalive(true).unwrap();
            assert!(stream.keepalive().unwrap());
            stream.set_nodelay(true).unwrap();
            assert!(stream.nodelay().unwrap());

            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            udp.set_broadcast(true).unwrap();
            assert!(udp.broadcast().unwrap());
            udp.set_ttl(9).unwrap();
            assert_eq!(udp.ttl().unwrap(), 9);
            udp.set_multicast_loop_v4(false).unwrap();
            assert!(!udp.multicast_loop_v4().unwrap());
            udp.set_multicast_ttl_v4(4).unwrap();
            assert_eq!(udp.multicast_ttl_v4().unwrap(), 4);
        });
    });
}

/// `SO_LINGER` of zero: dropping the stream resets the connection, which the peer sees as an
/// error instead of the end of the stream. (Unix only: wine closes with a FIN.)
#[cfg(unix)]
#[test]
fn zero_linger_resets_the_connection_on_drop() {
    run_with_timeout("zero_linger_resets", || {
        runtime(1).block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (client, accepted) = zip(
                TcpStream::connect(listener.local_addr().unwrap()),
                listener.accept(),
            )
            .await;
            let client = client.unwrap();
            let (mut server, _) = accepted.unwrap();
            client.set_linger(Some(Duration::ZERO)).unwrap();
            drop(client);
            let mut buf = [0; 8];
            let error = server
                .read(&mut buf)
                .await
                .expect_err("a reset, not the end of the stream");
            assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error}");
        });
    });
}

/// Two listeners on one port with `SO_REUSEPORT`: Linux spreads connections over both (by a
/// hash of each connection's addresses, so which one gets a given connection is not known in
/// advance; 200 connections all landing on one listener would take odds of 2^-199).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn reuseport_listeners_share_a_port_and_its_connections() {
    run_with_timeout("reuseport_listeners_share_a_port", || {
        runtime(2).block_on(async {
            let first = TcpSocket::new_v4().unwrap();
            first.set_reuseport(true).unwrap();
            first.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = first.local_addr().unwrap();
            let second = TcpSocket::new_v4().unwrap();
            second.set_reuseport(true).unwrap();
            second.bind(addr).unwrap();
            let listeners = [first.listen(128).unwrap(), second.listen(128).unwrap()];

            // Each connection is accepted by exactly one listener: ask both, take the one
            // that answers.
            let mut accepted_by = [0usize; 2];
            for attempt in 0..200 {
                let client = TcpStream::connect(addr).await.unwrap();
                let which = futures_lite::future::or(async { (0, listeners[0].accept().await) }, async {
                    (1, listeners[1].accept().await)
                })
                .await;
                let (index, accepted) = which;
                let (_, peer) = accepted.unwrap();
                assert_eq!(peer, client.local_addr().unwrap(), "attempt {attempt}");
                accepted_by[index] += 1;
                if accepted_by.iter().all(|&n| n > 0) {
                    return;
                }
            }
            panic!("every connection went to one listener: {accepted_by:?}");
        });
    });
}

/// Without `SO_REUSEPORT`, a second listener cannot take a port in use (`SO_REUSEADDR`, which
/// `TcpListener::bind` sets on Unix, does not allow that).
#[cfg(unix)]
#[test]
fn without_reuseport_a_second_listener_cannot_bind_the_port() {
    run_with_timeout("without_reuseport", || {
        runtime(1).block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let second = TcpSocket::new_v4().unwrap();
            second.set_reuseaddr(true).unwrap();
            let error = second.bind(addr).expect_err("the port is taken");
            assert_eq!(error.kind(), io::ErrorKind::AddrInUse, "{error}");
            let error = TcpListener::bind(addr).await.expect_err("the port is taken");
            assert_eq!(error.kind(), io::ErrorKind::AddrInUse, "{error}");
        });
    });
}

/// Multicast over loopback: the receiver joins a group on the loopback interface, the
/// sender routes its multicast out of that interface, and the datagram arrives.
#[cfg(target_os = "linux")]
#[test]
fn multicast_over_loopback_reaches_a_joined_group() {
    use std::net::{Ipv4Addr, SocketAddr};
    use std::os::fd::AsRawFd;
    run_with_timeout("multicast_over_loopback", || {
        runtime(1).block_on(async {
            let group = Ipv4Addr::new(239, 255, 77, 1);
            let loopback = Ipv4Addr::LOCALHOST;
            let receiver = UdpSocket::bind("0.0.0.0:0").await.unwrap();
            let port = receiver.local_addr().unwrap().port();
            receiver.join_multicast_v4(group, loopback).unwrap();

            let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            sender.set_multicast_loop_v4(true).unwrap();
            sender.set_multicast_ttl_v4(1).unwrap();
            // IP_MULTICAST_IF: send the group's datagrams out of the loopback interface
            // (heist, like tokio, has no setter: this is the socket2/libc way).
            let interface = libc::in_addr {
                s_addr: u32::from(loopback).to_be(),
            };
            // SAFETY: a valid socket, option and option length.
            let set = unsafe {
                libc::setsockopt(
                    sender.as_raw_fd(),
                    libc::IPPROTO_IP,
                    libc::IP_MULTICAST_IF,
                    (&raw const interface).cast(),
                    size_of::<libc::in_addr>() as libc::socklen_t,
                )
            };
            assert_eq!(set, 0, "IP_MULTICAST_IF: {}", io::Error::last_os_error());

            let to = SocketAddr::from((group, port));
            sender.send_to(b"to the group", to).await.unwrap();
            let mut buf = [0; 32];
            let (n, from) = receiver.recv_from(&mut buf).await.unwrap();
            assert_eq!(
                (&buf[..n], from),
                (&b"to the group"[..], sender.local_addr().unwrap())
            );

            receiver.leave_multicast_v4(group, loopback).unwrap();
            // Leaving twice is the OS's error (the membership is gone).
            assert!(receiver.leave_multicast_v4(group, loopback).is_err());
        });
    });
}

#[test]
fn ipv6_multicast_join_and_leave() {
    run_with_timeout("ipv6_multicast_join_and_leave", || {
        runtime(1).block_on(async {
            // Skipped where the host has no IPv6 at all.
            let Ok(socket) = UdpSocket::bind("[::]:0").await else {
                return;
            };
            let group: std::net::Ipv6Addr = "ff02::1:4242".parse().unwrap();
            socket.set_multicast_loop_v6(false).unwrap();
            assert!(!socket.multicast_loop_v6().unwrap());
            // Interface 1 is loopback on Linux; 0 lets the OS choose elsewhere.
            let interface = if cfg!(target_os = "linux") { 1 } else { 0 };
            if socket.join_multicast_v6(&group, interface).is_ok() {
                socket.leave_multicast_v6(&group, interface).unwrap();
            }
        });
    });
}

/// Every socket heist creates is close-on-exec (a child process must not keep it open) and
/// non-blocking (a worker must never block in it): the listener, the connecting and the
/// accepted stream, a `TcpSocket`, the Unix-domain ones.
#[cfg(unix)]
#[test]
fn created_sockets_are_close_on_exec_and_non_blocking() {
    use std::os::fd::AsRawFd;

    fn check(what: &str, fd: &impl AsRawFd) {
        let fd = fd.as_raw_fd();
        // SAFETY: fcntl on an open descriptor, reading flags only.
        let (fd_flags, fl_flags) =
            unsafe { (libc::fcntl(fd, libc::F_GETFD), libc::fcntl(fd, libc::F_GETFL)) };
        assert!(fd_flags >= 0 && fl_flags >= 0, "{what}: fcntl failed");
        assert!(fd_flags & libc::FD_CLOEXEC != 0, "{what} is not close-on-exec");
        assert!(fl_flags & libc::O_NONBLOCK != 0, "{what} is blocking");
    }

    run_with_timeout("created_sockets_flags", || {
        runtime(1).block_on(async {
            check("TcpSocket::new_v4", &TcpSocket::new_v4().unwrap());
            if let Ok(v6) = TcpSocket::new_v6() {
                check("TcpSocket::new_v6", &v6);
            }
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            check("TcpListener::bind", &listener);
            let (client, accepted) = zip(
                TcpStream::connect(listener.local_addr().unwrap()),
                listener.accept(),
            )
            .await;
            check("TcpStream::connect", &client.unwrap());
            check("an accepted TcpStream", &accepted.unwrap().0);
            check("UdpSocket::bind", &UdpSocket::bind("127.0.0.1:0").await.unwrap());

            let dir = std::env::temp_dir().join(format!("heist-flags-{}.sock", std::process::id()));
            let _ = std::fs::remove_file(&dir);
            let unix_listener = heist::net::UnixListener::bind(&dir).unwrap();
            check("UnixListener::bind", &unix_listener);
            let (unix_client, unix_accepted) =
                zip(heist::net::UnixStream::connect(&dir), unix_listener.accept()).await;
            check("UnixStream::connect", &unix_client.unwrap());
            check("an accepted UnixStream", &unix_accepted.unwrap().0);
            std::fs::remove_file(&dir).unwrap();
        });
    });
}

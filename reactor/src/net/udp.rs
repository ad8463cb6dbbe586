use super::{ToSocketAddrs, each_addr};
use crate::Async;
use std::io;
use std::net::{self, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::task::{Context, Poll};

/// A UDP socket. All methods take `&self`, so one socket (in an `Arc`) can send and receive
/// from several tasks at once.
#[derive(Debug)]
pub struct UdpSocket {
    inner: Async<net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to the first address that works (port 0 picks a free one).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        each_addr(addr, |addr| async move {
            UdpSocket::from_std(net::UdpSocket::bind(addr)?)
        })
        .await
    }

    /// Takes over a socket from `std` (made non-blocking here).
    pub fn from_std(socket: net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: Async::new(socket)?,
        })
    }

    /// Gives the socket back to `std`, in non-blocking mode.
    pub fn into_std(self) -> io::Result<net::UdpSocket> {
        self.inner.into_inner()
    }

    /// Sets the default peer for [`send`](Self::send) and the only one [`recv`](Self::recv)
    /// accepts datagrams from.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        each_addr(addr, |addr| async move { self.inner.get_ref().connect(addr) }).await
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Sends a datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_with(|socket| socket.send(buf)).await
    }

    /// Receives a datagram from the connected peer; a datagram longer than `buf` is truncated.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|socket| socket.recv(buf)).await
    }

    /// Sends a datagram to `target`. A `SocketAddr` (or an IP literal) is used at once; a host
    /// name is looked up on the blocking pool, for every call: to send many datagrams to one
    /// named host, resolve it once with [`lookup_host`](super::lookup_host).
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        each_addr(target, |addr| {
            self.inner.write_with(move |socket| socket.send_to(buf, addr))
        })
        .await
    }

    /// Receives a datagram and the address it came from.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|socket| socket.recv_from(buf)).await
    }

    /// Looks at the next datagram without taking it off the queue.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|socket| socket.peek_from(buf)).await
    }

    /// Polls [`recv_from`](Self::recv_from).
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.inner.poll_read_with(cx, |socket| socket.recv_from(buf))
    }

    /// Polls [`send_to`](Self::send_to) for an already resolved address.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.inner
            .poll_write_with(cx, |socket| socket.send_to(buf, target))
    }

    /// Sends a datagram to the connected peer without waiting: `WouldBlock` (clearing write
    /// readiness) when the send buffer is full. Pair it with [`writable`](Self::writable).
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner
            .try_io(crate::Interest::WRITABLE, |socket| socket.send(buf))
    }

    /// Sends a datagram to `target` without waiting; see [`try_send`](Self::try_send).
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.inner
            .try_io(crate::Interest::WRITABLE, |socket| socket.send_to(buf, target))
    }

    /// Receives a datagram from the connected peer without waiting: `WouldBlock` (clearing
    /// read readiness) when none is queued. Pair it with [`readable`](Self::readable).
    ///
    /// ```no_run
    /// use heist_reactor::net::UdpSocket;
    /// use std::io;
    ///
    /// /// Everything queued now, after waiting for the first datagram.
    /// async fn drain(socket: &UdpSocket) -> io::Result<Vec<Vec<u8>>> {
    ///     socket.readable().await?;
    ///     let mut datagrams = Vec::new();
    ///     let mut buf = [0; 1500];
    ///     loop {
    ///         match socket.try_recv(&mut buf) {
    ///             Ok(n) => datagrams.push(buf[..n].to_vec()),
    ///             Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(datagrams),
    ///             Err(e) => return Err(e),
    ///         }
    ///     }
    /// }
    /// ```
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .try_io(crate::Interest::READABLE, |socket| socket.recv(buf))
    }

    /// Receives a datagram and its sender's address without waiting; see
    /// [`try_recv`](Self::try_recv).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner
            .try_io(crate::Interest::READABLE, |socket| socket.recv_from(buf))
    }

    /// Looks at the next datagram from the connected peer without taking it off the queue
    /// or waiting; see [`try_recv`](Self::try_recv).
    pub fn try_peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .try_io(crate::Interest::READABLE, |socket| socket.peek(buf))
    }

    /// Looks at the next datagram and its sender's address without taking it off the
    /// queue or waiting; see [`try_recv`](Self::try_recv).
    pub fn try_peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner
            .try_io(crate::Interest::READABLE, |socket| socket.peek_from(buf))
    }

    /// Allows sending to broadcast addresses (`SO_BROADCAST`).
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.inner.get_ref().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.inner.get_ref().broadcast()
    }

    /// Sets the IP time-to-live.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get_ref().ttl()
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with address `interface`
    /// (`Ipv4Addr::UNSPECIFIED`: the OS picks one). Datagrams sent to the group and this
    /// socket's port are then received here.
    ///
    /// ```no_run
    /// use heist_reactor::net::UdpSocket;
    /// use std::net::Ipv4Addr;
    ///
    /// # async fn f() -> std::io::Result<()> {
    /// let group = Ipv4Addr::new(239, 255, 42, 99);
    /// let socket = UdpSocket::bind("0.0.0.0:4242").await?;
    /// socket.join_multicast_v4(group, Ipv4Addr::UNSPECIFIED)?;
    /// socket.set_multicast_loop_v4(true)?; // also hear this host's own senders
    /// socket.set_multicast_ttl_v4(1)?; // stay on the local network
    /// socket.send_to(b"hello, group", (group, 4242)).await?;
    /// let mut buf = [0; 64];
    /// let (n, from) = socket.recv_from(&mut buf).await?;
    /// # drop((n, from));
    /// # Ok(())
    /// # }
    /// ```
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.inner.get_ref().join_multicast_v4(&multiaddr, &interface)
    }

    /// Leaves an IPv4 multicast group joined with [`join_multicast_v4`](Self::join_multicast_v4).
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.inner.get_ref().leave_multicast_v4(&multiaddr, &interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on the interface with index `interface`
    /// (0: the OS picks one).
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.get_ref().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group joined with [`join_multicast_v6`](Self::join_multicast_v6).
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.get_ref().leave_multicast_v6(multiaddr, interface)
    }

    /// Sets `IP_MULTICAST_LOOP`: whether this host's own multicast datagrams (IPv4) come back
    /// to its sockets in the group.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.inner.get_ref().set_multicast_loop_v4(on)
    }

    /// Whether `IP_MULTICAST_LOOP` is set.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.inner.get_ref().multicast_loop_v4()
    }

    /// Sets `IPV6_MULTICAST_LOOP`, as [`set_multicast_loop_v4`](Self::set_multicast_loop_v4)
    /// for IPv6.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.inner.get_ref().set_multicast_loop_v6(on)
    }

    /// Whether `IPV6_MULTICAST_LOOP` is set.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.inner.get_ref().multicast_loop_v6()
    }

    /// Sets `IP_MULTICAST_TTL`: how many routers this socket's IPv4 multicast datagrams may
    /// cross (1, the default, keeps them on the local network).
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_multicast_ttl_v4(ttl)
    }

    /// The `IP_MULTICAST_TTL` setting.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.inner.get_ref().multicast_ttl_v4()
    }
}

super::impl_source!(UdpSocket);
super::impl_readiness!(UdpSocket: poll_recv_ready, poll_send_ready);

//! Socket addresses: heist's own [`ToSocketAddrs`], and [`lookup_host`], which resolves host
//! names on the runtime's blocking pool.
//!
//! `getaddrinfo` blocks, for as long as the DNS server takes (seconds when it does not
//! answer), and cannot be made non-blocking. Run on a worker it would stall every task queued
//! there, so a name goes to the blocking pool (lent by the executor: see the crate docs) and
//! the task waits for the answer like any other I/O. An address that needs no lookup (a
//! `SocketAddr`, an `(IpAddr, u16)`, a string such as `"127.0.0.1:80"` or `"[::1]:80"`, a
//! slice of addresses) is used where it is, with no thread hop and no allocation.
//!
//! The trait is sealed, and unlike `std::net::ToSocketAddrs` it turns the argument into an
//! owned query first: only an owned name can be moved to another thread.

use crate::blocking::run_blocking;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::RwLock;

/// Something that is, or resolves to, one or more socket addresses: what `TcpStream::connect`,
/// `TcpListener::bind`, `UdpSocket::bind`, `UdpSocket::send_to` and [`lookup_host`] take.
///
/// Implemented for `SocketAddr`, `SocketAddrV4`, `SocketAddrV6`, `(IpAddr, u16)`,
/// `(Ipv4Addr, u16)`, `(Ipv6Addr, u16)`, `(&str, u16)`, `(String, u16)`, `&str`, `String`,
/// `&[SocketAddr]` and references to any of these. Strings are `"host:port"`; a host that is
/// not an IP address is looked up on the runtime's blocking pool. Sealed: it cannot be
/// implemented outside heist.
pub trait ToSocketAddrs: sealed::ToQuery {}

pub(crate) mod sealed {
    use super::SocketAddrs;
    use std::io;

    /// What an address argument is before any I/O: addresses ready to use, or a name to look
    /// up.
    #[derive(Debug)]
    pub enum Query {
        Ready(SocketAddrs),
        Lookup { host: String, port: u16 },
    }

    pub trait ToQuery {
        /// Checks the argument's form (a string without a port is an error here, before any
        /// lookup) and copies out what a lookup needs.
        fn to_query(&self) -> io::Result<Query>;
    }
}

use sealed::{Query, ToQuery};

/// The addresses a [`ToSocketAddrs`] stands for.
#[derive(Debug, Clone)]
pub struct SocketAddrs(Addrs);

#[derive(Debug, Clone)]
enum Addrs {
    One(Option<SocketAddr>),
    Many(std::vec::IntoIter<SocketAddr>),
}

impl SocketAddrs {
    fn one(addr: SocketAddr) -> Self {
        SocketAddrs(Addrs::One(Some(addr)))
    }

    fn many(addrs: Vec<SocketAddr>) -> Self {
        SocketAddrs(Addrs::Many(addrs.into_iter()))
    }
}

impl Iterator for SocketAddrs {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        match &mut self.0 {
            Addrs::One(addr) => addr.take(),
            Addrs::Many(addrs) => addrs.next(),
        }
    }
}

/// Resolves `host` to its socket addresses: a name on the runtime's blocking pool, while the
/// calling task waits without holding its worker; an IP address at once, on the calling
/// thread.
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// for addr in heist_reactor::net::lookup_host("localhost:8080").await? {
///     println!("{addr}");
/// }
/// # Ok(())
/// # }
/// ```
///
/// Looking up a name must happen inside a runtime (in a task, in `block_on` or after
/// `Runtime::enter`); outside, it fails with an error saying so. Code that sends many
/// datagrams to one named host should resolve it once here and send to the `SocketAddr`.
pub async fn lookup_host(host: impl ToSocketAddrs) -> io::Result<impl Iterator<Item = SocketAddr>> {
    resolve(&host).await
}

/// The addresses `addr` stands for, looked up on the blocking pool if it is a name.
pub(crate) async fn resolve(addr: &(impl ToSocketAddrs + ?Sized)) -> io::Result<SocketAddrs> {
    match addr.to_query()? {
        Query::Ready(addrs) => Ok(addrs),
        Query::Lookup { host, port } => {
            let resolver = *RESOLVER.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            let lookup = run_blocking("the name lookup", move || resolver(&host, port))?;
            Ok(SocketAddrs::many(lookup.await??))
        }
    }
}

/// Looks a host name up, blocking: `getaddrinfo` (through std), or a test's stand-in.
pub type Resolver = fn(host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;

static RESOLVER: RwLock<Resolver> = RwLock::new(system_resolver);

fn system_resolver(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port)).map(Iterator::collect)
}

/// Replaces the function that looks host names up, for the whole process, and returns the
/// previous one. For tests only: a stand-in that blocks until the test releases it shows
/// that a lookup leaves the worker free. IP addresses never reach it.
#[doc(hidden)]
pub fn set_resolver(resolver: Resolver) -> Resolver {
    let mut current = RESOLVER.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    std::mem::replace(&mut *current, resolver)
}

/// The system's resolver ([`set_resolver`]'s default), for a stand-in to fall back on.
#[doc(hidden)]
pub fn system_resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    system_resolver(host, port)
}

fn ready(addr: impl Into<SocketAddr>) -> io::Result<Query> {
    Ok(Query::Ready(SocketAddrs::one(addr.into())))
}

/// A host and a port: ready if the host is an IP address, else a name to look up.
fn host_port(host: &str, port: u16) -> io::Result<Query> {
    match host.parse::<IpAddr>() {
        Ok(ip) => ready((ip, port)),
        Err(_) => Ok(Query::Lookup {
            host: host.to_owned(),
            port,
        }),
    }
}

impl ToSocketAddrs for str {}
impl ToQuery for str {
    fn to_query(&self) -> io::Result<Query> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return ready(addr);
        }
        let invalid = |why: &str| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{self:?} is not a socket address: {why} \
                     (write \"host:port\", \"1.2.3.4:port\" or \"[::1]:port\")"
                ),
            )
        };
        let (host, port) = self.rsplit_once(':').ok_or_else(|| invalid("no port"))?;
        let port = port
            .parse()
            .map_err(|_| invalid("the port is not a number from 0 to 65535"))?;
        host_port(host, port)
    }
}

impl ToSocketAddrs for String {}
impl ToQuery for String {
    fn to_query(&self) -> io::Result<Query> {
        self.as_str().to_query()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl ToQuery for (&str, u16) {
    fn to_query(&self) -> io::Result<Query> {
        host_port(self.0, self.1)
    }
}

impl ToSocketAddrs for (String, u16) {}
impl ToQuery for (String, u16) {
    fn to_query(&self) -> io::Result<Query> {
        host_port(&self.0, self.1)
    }
}

impl ToSocketAddrs for [SocketAddr] {}
impl ToQuery for [SocketAddr] {
    fn to_query(&self) -> io::Result<Query> {
        Ok(Query::Ready(SocketAddrs::many(self.to_vec())))
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToQuery + ?Sized> ToQuery for &T {
    fn to_query(&self) -> io::Result<Query> {
        (**self).to_query()
    }
}

macro_rules! ready_addrs {
    ($($ty:ty),*) => {$(
        impl ToSocketAddrs for $ty {}
        impl ToQuery for $ty {
            fn to_query(&self) -> io::Result<Query> {
                ready(*self)
            }
        }
    )*};
}

ready_addrs!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

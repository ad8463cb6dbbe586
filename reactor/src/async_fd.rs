//! [`Async<T>`]: any file descriptor (on Windows, any socket), made non-blocking and registered
//! with the reactor.

use crate::context;
use crate::interest::Interest;
use crate::reactor::Registration;
use crate::source::{Direction, Ready};
use crate::sys::{AsSource, Borrow, BorrowedSource};
use futures_io::{AsyncRead, AsyncWrite};
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// An I/O object (a pipe, a tty, an eventfd, a socket...) driven by the runtime's reactor.
///
/// On Unix `T` is anything with a file descriptor (`AsFd`). On Windows it is a socket
/// (`AsSocket`): `polling`'s IOCP backend polls sockets only, so pipes, consoles and files
/// cannot be `Async` there.
///
/// `Async::new` puts the descriptor in non-blocking mode and registers it with the reactor of
/// the runtime it is called in. Operations are attempted directly; when one would block, the
/// task sleeps until the poller reports the descriptor ready again.
///
/// The main entry points are [`read_with`](Self::read_with) and
/// [`write_with`](Self::write_with): they run a non-blocking operation and retry it whenever
/// readiness changes. When `T` (or `&T`) implements `Read`/`Write`, `Async<T>` (or
/// `&Async<T>`) implements `futures_io`'s `AsyncRead`/`AsyncWrite`, so the extension methods
/// in `heist::io` apply.
///
/// The runnable examples are in the `heist` crate, under `heist::io::Async`.
#[derive(Debug)]
pub struct Async<T: AsSource> {
    registration: Registration,
    /// `None` only while `into_inner` or `drop` takes it out.
    io: Option<T>,
}

impl<T: AsSource> Async<T> {
    /// Switches `io` to non-blocking mode and registers it with the current runtime's reactor.
    ///
    /// Fails outside a runtime, or when the poller refuses the descriptor (for example a
    /// regular file, which epoll does not support: use `heist::spawn_blocking` for files).
    pub fn new(io: T) -> io::Result<Async<T>> {
        crate::sys::set_nonblocking(io.source())?;
        Self::new_nonblocking(io)
    }

    /// Like [`new`](Self::new) for a descriptor already in non-blocking mode.
    pub fn new_nonblocking(io: T) -> io::Result<Async<T>> {
        let reactor = context::current()?;
        // SAFETY: `io` is owned by the returned value, which deregisters before dropping it.
        let registration = unsafe { Registration::new(reactor, io.source())? };
        Ok(Async {
            registration,
            io: Some(io),
        })
    }

    /// The inner I/O object.
    pub fn get_ref(&self) -> &T {
        self.io.as_ref().expect("present until dropped")
    }

    /// The inner I/O object. Do not replace it: the reactor knows the descriptor it holds.
    pub fn get_mut(&mut self) -> &mut T {
        self.io.as_mut().expect("present until dropped")
    }

    /// Deregisters the descriptor and gives it back, still in non-blocking mode.
    pub fn into_inner(mut self) -> io::Result<T> {
        let io = self.io.take().expect("present until dropped");
        self.registration.deregister(io.source());
        Ok(io)
    }

    /// Waits until the descriptor is readable. Readiness is cleared only by an operation that
    /// gets `WouldBlock` through [`read_with`](Self::read_with) or
    /// [`poll_read_with`](Self::poll_read_with).
    pub async fn readable(&self) -> io::Result<()> {
        self.wait(Direction::Read).await.map(drop)
    }

    /// Waits until the descriptor is writable; see [`readable`](Self::readable).
    pub async fn writable(&self) -> io::Result<()> {
        self.wait(Direction::Write).await.map(drop)
    }

    fn wait(&self, direction: Direction) -> Readiness<'_, T> {
        Readiness {
            io: self,
            direction,
            id: None,
        }
    }

    /// Waits until the descriptor is ready for any of `interest`, and says which.
    ///
    /// The readiness stays until an operation run through [`try_io`](Self::try_io) (or any
    /// other method) returns `WouldBlock`: so after `ready`, try the operation, and go back
    /// to `ready` only on `WouldBlock`. Cancel-safe.
    pub async fn ready(&self, interest: Interest) -> io::Result<crate::Ready> {
        InterestReadiness {
            io: self,
            mask: interest.mask(),
            ids: [None; 2],
        }
        .await
    }

    /// Runs the non-blocking operation `op` once, if the reactor has seen `interest`'s
    /// readiness; `WouldBlock` without calling it otherwise. When `op` returns `WouldBlock`,
    /// the readiness it was tried on is cleared, so that the next [`ready`](Self::ready) waits
    /// for a new event (with an edge-triggered poller, the only way to learn of one). So `op`
    /// must be the operation `interest` is for, and must not return `WouldBlock` for any other
    /// reason.
    ///
    /// Fails at once if the runtime that drives this object has shut down.
    pub fn try_io<R>(&self, interest: Interest, op: impl FnOnce(&T) -> io::Result<R>) -> io::Result<R> {
        let (ready, _) = self.registration.check_interest(interest.mask())?;
        match op(self.get_ref()) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                self.registration.clear(ready);
                Err(error)
            }
            result => result,
        }
    }

    /// Polls for read readiness.
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.registration
            .poll_ready(Direction::Read, cx, self.get_ref().source())
            .map_ok(drop)
    }

    /// Polls for write readiness.
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.registration
            .poll_ready(Direction::Write, cx, self.get_ref().source())
            .map_ok(drop)
    }

    /// Runs the non-blocking operation `op` until it does not return `WouldBlock`, waiting
    /// for read readiness in between. Cancel-safe: dropping the future leaves nothing behind.
    pub async fn read_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.retry(Direction::Read, op).await
    }

    /// Like [`read_with`](Self::read_with), with mutable access to the inner object.
    pub async fn read_with_mut<R>(&mut self, op: impl FnMut(&mut T) -> io::Result<R>) -> io::Result<R> {
        self.retry_mut(Direction::Read, op).await
    }

    /// Runs the non-blocking operation `op` until it does not return `WouldBlock`, waiting
    /// for write readiness in between. Cancel-safe: dropping the future leaves nothing behind.
    pub async fn write_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.retry(Direction::Write, op).await
    }

    /// Like [`write_with`](Self::write_with), with mutable access to the inner object.
    pub async fn write_with_mut<R>(&mut self, op: impl FnMut(&mut T) -> io::Result<R>) -> io::Result<R> {
        self.retry_mut(Direction::Write, op).await
    }

    async fn retry<R>(&self, direction: Direction, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        loop {
            let ready = self.wait(direction).await?;
            match op(self.get_ref()) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => self.registration.clear(ready),
                result => return result,
            }
        }
    }

    async fn retry_mut<R>(
        &mut self,
        direction: Direction,
        mut op: impl FnMut(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            let ready = self.wait(direction).await?;
            match op(self.get_mut()) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => self.registration.clear(ready),
                result => return result,
            }
        }
    }

    /// One step of [`read_with`](Self::read_with), for hand-written `poll` functions.
    pub fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_with(cx, Direction::Read, op)
    }

    /// One step of [`write_with`](Self::write_with), for hand-written `poll` functions.
    pub fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_with(cx, Direction::Write, op)
    }

    fn poll_with<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_with_drained(cx, direction, op, |_| false)
    }

    /// One read of a byte stream (TCP, Unix stream) into `asked` bytes of buffer. A read that
    /// returns fewer (but not 0: the end of the stream) emptied the socket's receive buffer, so
    /// readiness is cleared at once: the next read waits for an event instead of making a
    /// system call only to learn `WouldBlock`. Not for datagrams, where a short read is one
    /// message of many.
    pub(crate) fn poll_read_stream(
        &self,
        cx: &mut Context<'_>,
        asked: usize,
        op: impl FnMut(&T) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.poll_with_drained(
            cx,
            Direction::Read,
            op,
            |read| matches!(read, Ok(n) if (1..asked).contains(n)),
        )
    }

    /// One write to a byte stream of `offered` bytes: a short write filled the socket's send
    /// buffer, so write readiness is cleared at once, as for [`poll_read_stream`]
    /// (Self::poll_read_stream).
    pub(crate) fn poll_write_stream(
        &self,
        cx: &mut Context<'_>,
        offered: usize,
        op: impl FnMut(&T) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.poll_with_drained(
            cx,
            Direction::Write,
            op,
            |written| matches!(written, Ok(n) if *n < offered),
        )
    }

    /// Runs `op` once the direction is ready, until it does not return `WouldBlock`; when
    /// `drained` says the result emptied (or filled) the socket, clears the readiness it used.
    fn poll_with_drained<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut op: impl FnMut(&T) -> io::Result<R>,
        drained: impl Fn(&io::Result<R>) -> bool,
    ) -> Poll<io::Result<R>> {
        let io = self.get_ref();
        loop {
            let ready = ready!(self.registration.poll_ready(direction, cx, io.source()))?;
            match op(io) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => self.registration.clear(ready),
                result => {
                    if drained(&result) {
                        self.registration.clear_drained(ready, direction);
                    }
                    return Poll::Ready(result);
                }
            }
        }
    }

    fn poll_with_mut<R>(
        &mut self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut op: impl FnMut(&mut T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = self.io.as_mut().expect("present until dropped");
        loop {
            let ready = ready!(self.registration.poll_ready(direction, cx, io.source()))?;
            match op(io) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => self.registration.clear(ready),
                result => return Poll::Ready(result),
            }
        }
    }
}

/// The wait of one async method: listed in the source while pending, taken off when dropped.
struct Readiness<'a, T: AsSource> {
    io: &'a Async<T>,
    direction: Direction,
    id: Option<u64>,
}

impl<T: AsSource> Future for Readiness<'_, T> {
    type Output = io::Result<Ready>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Readiness { io, direction, id } = &mut *self;
        io.registration
            .poll_ready_listed(*direction, cx, io.get_ref().source(), id)
    }
}

impl<T: AsSource> Drop for Readiness<'_, T> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.io.registration.forget(id);
        }
    }
}

/// The wait of [`Async::ready`]: listed in the source for each direction of `mask` while
/// pending, taken off when dropped.
struct InterestReadiness<'a, T: AsSource> {
    io: &'a Async<T>,
    mask: usize,
    ids: [Option<u64>; 2],
}

impl<T: AsSource> Future for InterestReadiness<'_, T> {
    type Output = io::Result<crate::Ready>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let InterestReadiness { io, mask, ids } = &mut *self;
        io.registration
            .poll_interest_listed(*mask, cx, io.get_ref().source(), ids)
            .map_ok(|(_, seen)| seen)
    }
}

impl<T: AsSource> Drop for InterestReadiness<'_, T> {
    fn drop(&mut self) {
        for id in self.ids.into_iter().flatten() {
            self.io.registration.forget(id);
        }
    }
}

// Nothing in `Async` is pinned structurally: `T` is only ever reached through `&`/`&mut`.
impl<T: AsSource> Unpin for Async<T> {}

impl<T: AsSource> Drop for Async<T> {
    fn drop(&mut self) {
        if let Some(io) = self.io.take() {
            // Deleted from the poller while still open, as `polling` requires; closed after.
            self.registration.deregister(io.source());
        }
    }
}

#[cfg(unix)]
impl<T: AsSource> std::os::fd::AsFd for Async<T> {
    fn as_fd(&self) -> BorrowedSource<'_> {
        self.get_ref().source()
    }
}

#[cfg(unix)]
impl<T: AsSource> std::os::fd::AsRawFd for Async<T> {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.get_ref().source())
    }
}

#[cfg(windows)]
impl<T: AsSource> std::os::windows::io::AsSocket for Async<T> {
    fn as_socket(&self) -> BorrowedSource<'_> {
        self.get_ref().source()
    }
}

#[cfg(windows)]
impl<T: AsSource> std::os::windows::io::AsRawSocket for Async<T> {
    fn as_raw_socket(&self) -> std::os::windows::io::RawSocket {
        std::os::windows::io::AsRawSocket::as_raw_socket(&self.get_ref().source())
    }
}

impl<T: AsSource + Read> AsyncRead for Async<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.poll_with_mut(cx, Direction::Read, |io| io.read(buf))
    }

    fn poll_read_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_with_mut(cx, Direction::Read, |io| io.read_vectored(bufs))
    }
}

impl<T: AsSource> AsyncRead for &Async<T>
where
    for<'a> &'a T: Read,
{
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.poll_read_with(cx, |mut io| io.read(buf))
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_with(cx, |mut io| io.read_vectored(bufs))
    }
}

impl<T: AsSource + Write> AsyncWrite for Async<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_with_mut(cx, Direction::Write, |io| io.write(buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_with_mut(cx, Direction::Write, |io| io.write_vectored(bufs))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_with_mut(cx, Direction::Write, |io| io.flush())
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl<T: AsSource> AsyncWrite for &Async<T>
where
    for<'a> &'a T: Write,
{
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |mut io| io.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |mut io| io.write_vectored(bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_with(cx, |mut io| io.flush())
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

#[cfg(all(test, not(miri)))]
mod tests {
    use super::Async;
    use crate::{Reactor, enter};
    use std::future::Future;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::pin::pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::task::{Context, Wake, Waker};
    use std::time::Duration;

    /// A connected loopback pair (sockets: what every platform's poller takes, IOCP included).
    fn tcp_pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (server, client)
    }

    struct CountWakes(AtomicUsize);

    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    /// Where the OS has no edge-triggered mode, a registration reports once and must be
    /// re-armed by the task that goes back to waiting: every round here would hang on the
    /// second event otherwise.
    #[test]
    fn one_shot_registrations_are_rearmed_for_every_wait() {
        let reactor = Arc::new(Reactor::new_oneshot().unwrap());
        // This test does no blocking work; a thread per job would do if it did.
        let _current = enter(reactor.clone(), Arc::new(|job| drop(std::thread::spawn(job))));
        let (reader, mut writer) = tcp_pair();
        let reader = Async::new(reader).unwrap();
        let wakes = Arc::new(CountWakes(AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        for round in 0..5 {
            let mut buf = [0; 8];
            let mut read = pin!(reader.read_with(|mut socket| socket.read(&mut buf)));
            assert!(read.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
            let before = wakes.0.load(SeqCst);
            writer.write_all(&[round]).unwrap();
            // Bounded so that a missing re-arm fails the test instead of hanging it; the
            // event is reported at once when the registration is armed.
            while wakes.0.load(SeqCst) == before {
                let events = reactor.poll(Some(Duration::from_secs(5))).unwrap();
                assert!(
                    events > 0,
                    "round {round}: no event: the registration was not re-armed"
                );
            }
            let std::task::Poll::Ready(read) = read.as_mut().poll(&mut Context::from_waker(&waker)) else {
                panic!("round {round}: woken, yet the read still waits");
            };
            assert_eq!(read.unwrap(), 1);
        }
    }
}

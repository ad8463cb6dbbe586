//! Unix signals as streams: [`signal`] returns a [`Signal`] that yields once per delivery (or
//! per burst of deliveries that arrived between two `recv`s).

use super::registry::{MAX_SIGNAL, Slot};
use crate::Async;
use futures_core::Stream;
use rustix::process::Signal as Sig;
use std::ffi::c_int;
use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Which signal to listen for: the usual ones by name, any other with
/// [`from_raw`](Self::from_raw).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalKind(c_int);

impl SignalKind {
    /// Any signal by number, for those without a constructor here (real-time signals, say).
    /// Whether it can be listened for is checked by [`signal`].
    pub const fn from_raw(signum: c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    pub const fn as_raw_value(&self) -> c_int {
        self.0
    }

    /// `SIGALRM`: a timer set with `alarm(2)` ran out.
    pub const fn alarm() -> SignalKind {
        SignalKind(Sig::ALARM.as_raw())
    }

    /// `SIGCHLD`: a child process stopped or ended.
    pub const fn child() -> SignalKind {
        SignalKind(Sig::CHILD.as_raw())
    }

    /// `SIGHUP`: the terminal hung up; daemons often take it as "reload the configuration".
    pub const fn hangup() -> SignalKind {
        SignalKind(Sig::HUP.as_raw())
    }

    /// `SIGINT`: the user pressed Ctrl-C.
    pub const fn interrupt() -> SignalKind {
        SignalKind(Sig::INT.as_raw())
    }

    /// `SIGIO`: I/O became possible on a descriptor set up for signal-driven I/O.
    pub const fn io() -> SignalKind {
        SignalKind(Sig::IO.as_raw())
    }

    /// `SIGPIPE`: a write to a pipe or socket with no reader left.
    pub const fn pipe() -> SignalKind {
        SignalKind(Sig::PIPE.as_raw())
    }

    /// `SIGQUIT`: the user pressed Ctrl-\.
    pub const fn quit() -> SignalKind {
        SignalKind(Sig::QUIT.as_raw())
    }

    /// `SIGTERM`: a polite request to end (what `kill` and service managers send first).
    pub const fn terminate() -> SignalKind {
        SignalKind(Sig::TERM.as_raw())
    }

    /// `SIGUSR1`: meaning is up to the program.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(Sig::USR1.as_raw())
    }

    /// `SIGUSR2`: meaning is up to the program.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(Sig::USR2.as_raw())
    }

    /// `SIGWINCH`: the terminal window changed size.
    pub const fn window_change() -> SignalKind {
        SignalKind(Sig::WINCH.as_raw())
    }
}

impl From<c_int> for SignalKind {
    fn from(signum: c_int) -> SignalKind {
        SignalKind(signum)
    }
}

impl From<SignalKind> for c_int {
    fn from(kind: SignalKind) -> c_int {
        kind.0
    }
}

/// `SIGUSR1 (10)`, or just the number for signals without a name here.
pub(crate) fn name(signum: c_int) -> String {
    const NAMES: &[(Sig, &str)] = &[
        (Sig::HUP, "SIGHUP"),
        (Sig::INT, "SIGINT"),
        (Sig::QUIT, "SIGQUIT"),
        (Sig::ILL, "SIGILL"),
        (Sig::TRAP, "SIGTRAP"),
        (Sig::ABORT, "SIGABRT"),
        (Sig::BUS, "SIGBUS"),
        (Sig::FPE, "SIGFPE"),
        (Sig::KILL, "SIGKILL"),
        (Sig::USR1, "SIGUSR1"),
        (Sig::SEGV, "SIGSEGV"),
        (Sig::USR2, "SIGUSR2"),
        (Sig::PIPE, "SIGPIPE"),
        (Sig::ALARM, "SIGALRM"),
        (Sig::TERM, "SIGTERM"),
        (Sig::CHILD, "SIGCHLD"),
        (Sig::CONT, "SIGCONT"),
        (Sig::STOP, "SIGSTOP"),
        (Sig::TSTP, "SIGTSTP"),
        (Sig::WINCH, "SIGWINCH"),
        (Sig::IO, "SIGIO"),
    ];
    match NAMES.iter().find(|(sig, _)| sig.as_raw() == signum) {
        Some((_, name)) => format!("{name} ({signum})"),
        None => format!("signal {signum}"),
    }
}

/// Why `signum` cannot be listened for, if it cannot.
fn refusal(signum: c_int) -> Option<String> {
    let name = name(signum);
    if !(1..=MAX_SIGNAL).contains(&signum) {
        return Some(format!(
            "{name} is not a signal number heist can listen for (valid: 1..={MAX_SIGNAL})"
        ));
    }
    if signum == Sig::KILL.as_raw() || signum == Sig::STOP.as_raw() {
        return Some(format!(
            "{name} cannot be caught: the kernel acts on it without ever running a handler"
        ));
    }
    let faults = [Sig::SEGV, Sig::BUS, Sig::ILL, Sig::FPE];
    if faults.iter().any(|sig| sig.as_raw() == signum) {
        return Some(format!(
            "{name} reports a fault of the thread that caused it (a bad memory access, an illegal \
             instruction, a division by zero); when a handler returns, the faulting instruction \
             runs again, so it cannot be turned into an asynchronous event"
        ));
    }
    None
}

/// Starts listening for `kind`: every delivery of the signal from now on makes
/// [`Signal::recv`] return (deliveries that arrive before a `recv` coalesce into one).
///
/// Must be called inside a runtime (the listener registers with its reactor). The first
/// listener for a signal installs a process-wide handler that stays for the life of the
/// process: from then on the signal's default action (terminating the process, for most)
/// no longer happens, even after every listener is dropped.
///
/// # Errors
/// - `InvalidInput` for signals that cannot be listened for: `SIGKILL` and `SIGSTOP` (never
///   reach a handler), `SIGSEGV`, `SIGBUS`, `SIGILL` and `SIGFPE` (faults of the running
///   thread), and numbers outside `1..=64`.
/// - An error when 64 listeners for this signal already exist.
/// - An error outside a runtime, or when the system refuses a socket or the handler.
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let signum = kind.0;
    if let Some(why) = refusal(signum) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
    }
    let (read_end, write_end) = UnixStream::pair()?;
    // The handler must never block on a full socket.
    write_end.set_nonblocking(true)?;
    // It never writes once the read end is closed (see `Signal`); on Apple, a second guard.
    crate::net::socket::no_sigpipe(&write_end)?;
    let reader = Async::new(read_end)?;
    let slot = Slot::claim(signum, write_end.into())?;
    Ok(Signal {
        kind,
        _slot: slot,
        reader,
    })
}

/// A listener for one signal, made by [`signal`]. Also a `Stream` of `()`.
///
/// Each listener has its own socket pair: the signal handler writes a byte to the write end,
/// [`recv`](Self::recv) waits for the read end (registered with the reactor) and drains it.
/// Several listeners for one signal each see every delivery.
#[derive(Debug)]
pub struct Signal {
    kind: SignalKind,
    /// Dropped before `reader`: the handler must be done with the write end before the read
    /// end closes (a write to a socket without a peer would raise `SIGPIPE`).
    _slot: Slot,
    reader: Async<UnixStream>,
}

impl Signal {
    /// Waits for the next delivery. Deliveries since the previous `recv` (or since the
    /// listener was made) that were not received yet count as one and return at once.
    ///
    /// `None` when no delivery can come any more: the runtime that the listener was made in
    /// has shut down. Cancel-safe.
    pub async fn recv(&mut self) -> Option<()> {
        self.reader.read_with(drain).await.ok()
    }

    /// Polls for the next delivery; see [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.reader.poll_read_with(cx, drain).map(Result::ok)
    }

    /// The signal this listener listens for.
    pub fn kind(&self) -> SignalKind {
        self.kind
    }
}

/// Reads every byte waiting in the socket: `Ok` if there was at least one.
fn drain(mut stream: &UnixStream) -> io::Result<()> {
    let mut buf = [0; 64];
    let mut got = false;
    loop {
        match stream.read(&mut buf) {
            // The write end stays open as long as the listener: cannot happen, but say so.
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            Ok(n) if n < buf.len() => return Ok(()),
            Ok(_) => got = true,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock && got => return Ok(()),
            Err(error) => return Err(error),
        }
    }
}

impl Stream for Signal {
    type Item = ();

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.get_mut().poll_recv(cx)
    }
}

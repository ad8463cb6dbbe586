//! [`Interest`] (what a task waits for) and [`Ready`] (what the reactor has seen), the two
//! halves of the readiness API: `ready(interest)`, then `try_read`/`try_write`/`try_io`.
//!
//! The readiness behind them is the source's (see `source.rs`): set by poller events, cleared
//! only when an operation returns `WouldBlock`. So `ready` may report readiness that is
//! already stale (another task took the data, or the event was spurious): the `try_*` call
//! that follows then returns `WouldBlock`, clears what `ready` saw, and the next `ready`
//! waits for a new event.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

/// The directions a task waits on: [`READABLE`](Self::READABLE), [`WRITABLE`](Self::WRITABLE)
/// or both (`Interest::READABLE | Interest::WRITABLE`).
///
/// ```
/// use heist_reactor::Interest;
///
/// let both = Interest::READABLE | Interest::WRITABLE;
/// assert!(both.is_readable() && both.is_writable());
/// assert_eq!(both.remove(Interest::WRITABLE), Some(Interest::READABLE));
/// assert_eq!(Interest::READABLE.remove(Interest::READABLE), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interest(u8);

const READABLE: u8 = 0b0001;
const WRITABLE: u8 = 0b0010;
const READ_CLOSED: u8 = 0b0100;

impl Interest {
    /// Readable: data, a connection to accept, the end of the stream, or an error.
    pub const READABLE: Interest = Interest(READABLE);
    /// Writable: room in the send buffer, a completed connect, or an error.
    pub const WRITABLE: Interest = Interest(WRITABLE);

    /// Both interests (the same as `|`, usable in `const`).
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// This interest without `other`'s directions; `None` if nothing is left (an interest is
    /// never empty).
    pub fn remove(self, other: Interest) -> Option<Interest> {
        let left = self.0 & !other.0;
        (left != 0).then_some(Interest(left))
    }

    /// The source's readiness bits for this interest.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn mask(self) -> usize {
        use crate::source::Direction;
        (if self.is_readable() {
            Direction::Read.bit()
        } else {
            0
        }) | (if self.is_writable() {
            Direction::Write.bit()
        } else {
            0
        })
    }

    /// Includes [`READABLE`](Self::READABLE).
    pub const fn is_readable(self) -> bool {
        self.0 & READABLE != 0
    }

    /// Includes [`WRITABLE`](Self::WRITABLE).
    pub const fn is_writable(self) -> bool {
        self.0 & WRITABLE != 0
    }
}

impl BitOr for Interest {
    type Output = Interest;

    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

impl BitOrAssign for Interest {
    fn bitor_assign(&mut self, other: Interest) {
        *self = self.add(other);
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READABLE | WRITABLE"),
            (true, false) => f.write_str("READABLE"),
            _ => f.write_str("WRITABLE"),
        }
    }
}

/// The readiness a `ready(interest)` call saw: within the interest asked for, plus whether the
/// peer has closed its sending side.
///
/// ```
/// use heist_reactor::Ready;
///
/// let ready = Ready::READABLE | Ready::READ_CLOSED;
/// assert!(ready.is_readable() && ready.is_read_closed() && !ready.is_writable());
/// assert!(Ready::EMPTY.is_empty());
/// // The end of the stream is something to read, as in tokio.
/// assert!(Ready::READ_CLOSED.is_readable());
/// ```
///
/// There is no `WRITE_CLOSED` or `ERROR`: a write to a closed peer, or a socket error, is
/// reported as write readiness (and as read readiness), and the operation that follows
/// returns the error.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ready(u8);

impl Ready {
    /// Nothing.
    pub const EMPTY: Ready = Ready(0);
    /// Readable.
    pub const READABLE: Ready = Ready(READABLE);
    /// Writable.
    pub const WRITABLE: Ready = Ready(WRITABLE);
    /// The peer has closed its sending side (a FIN, or a hang-up): reads will return the end
    /// of the stream once the data before it is read.
    ///
    /// Reported only where the poller tells (Linux's epoll backend, the default there); the
    /// `polling` backend (every other platform, and `HEIST_POLLER=polling`) reports the end of
    /// the stream as plain read readiness.
    pub const READ_CLOSED: Ready = Ready(READ_CLOSED);

    pub(crate) fn new(readable: bool, writable: bool, read_closed: bool) -> Ready {
        Ready(
            if readable { READABLE } else { 0 }
                | if writable { WRITABLE } else { 0 }
                | if read_closed { READ_CLOSED } else { 0 },
        )
    }

    /// No readiness at all.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Readable, or [`read_closed`](Self::is_read_closed) (the end of the stream is
    /// something to read).
    pub const fn is_readable(self) -> bool {
        self.0 & (READABLE | READ_CLOSED) != 0
    }

    /// Writable.
    pub const fn is_writable(self) -> bool {
        self.0 & WRITABLE != 0
    }

    /// The peer has closed its sending side (see [`READ_CLOSED`](Self::READ_CLOSED)).
    pub const fn is_read_closed(self) -> bool {
        self.0 & READ_CLOSED != 0
    }
}

impl BitOr for Ready {
    type Output = Ready;

    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl BitOrAssign for Ready {
    fn bitor_assign(&mut self, other: Ready) {
        self.0 |= other.0;
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("readable", &(self.0 & READABLE != 0))
            .field("writable", &self.is_writable())
            .field("read_closed", &self.is_read_closed())
            .finish()
    }
}

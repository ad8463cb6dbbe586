//! The process-wide table that signal handlers read, and the handler itself.
//!
//! # What runs in the handler
//! One handler per signal number, installed through `signal-hook-registry` the first time
//! someone listens for that signal, and never removed. It walks the signal's row of
//! [`LISTENERS_PER_SIGNAL`] slots and writes one byte to the descriptor in each occupied slot.
//! That is all: atomic loads and compare-and-swaps on the slot words, `write(2)` on a
//! non-blocking socket, and a `fetch_sub`. No allocation, no lock, no `Waker` (waking a task
//! takes locks in the executor), which is what async-signal safety requires.
//! `signal-hook-registry` saves and restores `errno` around the handler. A full socket
//! (`EAGAIN`) already holds an unread byte, which means "pending": the delivery coalesces
//! with it.
//!
//! # A slot's life, and why a dropped listener's descriptor is never written to
//! A slot is one `AtomicU64`: the write end's descriptor, an `OCCUPIED` bit, a `RETIRED` bit
//! and a count of handlers currently *using* the descriptor.
//!
//! - [`Slot::claim`] swaps `EMPTY` for `OCCUPIED | fd` (Release: the descriptor is set up
//!   before any handler can see it).
//! - A handler becomes a user with a compare-and-swap that adds one to the count, and only if
//!   the word is occupied and not retired; it writes, then subtracts one.
//! - Dropping the listener sets `RETIRED` (from then on no handler can start using the slot),
//!   then waits (yielding the thread) until the count is zero, stores `EMPTY`, and only then
//!   closes the descriptor.
//!
//! The hazard this rules out is descriptor reuse: without the count, a handler could load the
//! number, the listener could close it, an unrelated `open` could get the same number, and the
//! handler would write a byte into a stranger's file or socket. Here a descriptor is closed
//! only after every handler that could have read its number has finished with it.
//!
//! The wait cannot hang: once `RETIRED` is set the count only goes down, and each user is one
//! `write` away from leaving. A handler interrupting the dropping thread itself runs to
//! completion before the drop resumes, so the drop never waits for its own thread. Closing
//! the read end only after the slot is empty also means a handler never writes to a socket
//! whose peer is gone, so it never raises `SIGPIPE`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::*};

/// The highest signal number the table covers (Linux's `SIGRTMAX`; other systems stop lower).
pub(crate) const MAX_SIGNAL: i32 = 64;

/// How many listeners one signal may have at once.
pub(crate) const LISTENERS_PER_SIGNAL: usize = 64;

const EMPTY: u64 = 0;
const FD_MASK: u64 = 0xFFFF_FFFF;
const USER: u64 = 1 << 32;
const USERS_MASK: u64 = ((1 << 30) - 1) << 32;
const RETIRED: u64 = 1 << 62;
const OCCUPIED: u64 = 1 << 63;

type Row = [AtomicU64; LISTENERS_PER_SIGNAL];

static TABLE: [Row; MAX_SIGNAL as usize + 1] =
    [const { [const { AtomicU64::new(EMPTY) }; LISTENERS_PER_SIGNAL] }; MAX_SIGNAL as usize + 1];

/// Which signals have their handler installed; also serializes the installing.
static INSTALLED: Mutex<[bool; MAX_SIGNAL as usize + 1]> = Mutex::new([false; MAX_SIGNAL as usize + 1]);

/// The signal handler's whole work (see the module documentation for why it is safe).
fn deliver(signum: i32) {
    let Some(row) = TABLE.get(signum as usize) else {
        return;
    };
    for slot in row {
        if let Some(fd) = begin_use(slot) {
            // SAFETY: the descriptor stays open while we are counted as a user of the slot:
            // `Slot::drop` waits for the count to reach zero before closing it.
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            // `EAGAIN`: a byte is already waiting, so this delivery coalesces with it.
            let _ = rustix::io::write(fd, &[1]);
            end_use(slot);
        }
    }
}

/// Counts the caller as a user of the slot's descriptor, if there is a live one.
fn begin_use(slot: &AtomicU64) -> Option<RawFd> {
    let mut state = slot.load(Acquire);
    loop {
        if state & OCCUPIED == 0 || state & RETIRED != 0 {
            return None;
        }
        match slot.compare_exchange_weak(state, state + USER, Acquire, Acquire) {
            Ok(_) => return Some((state & FD_MASK) as RawFd),
            Err(current) => state = current,
        }
    }
}

fn end_use(slot: &AtomicU64) {
    slot.fetch_sub(USER, Release);
}

/// Installs the handler for `signum` unless it already is. Never removed: once a program has
/// listened for a signal, that signal's default action (say, SIGINT terminating the process)
/// stays replaced, as in tokio.
fn install(signum: i32) -> io::Result<()> {
    let mut installed = INSTALLED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if installed[signum as usize] {
        return Ok(());
    }
    // SAFETY: the action only does what `deliver` does: atomics and `write(2)`, all
    // async-signal-safe.
    unsafe { signal_hook_registry::register(signum, move || deliver(signum)) }?;
    installed[signum as usize] = true;
    Ok(())
}

/// One listener's place in the table: the write end of its socket, which the handler for
/// `signum` writes a byte to. Dropping it takes the descriptor out of the table and closes it.
#[derive(Debug)]
pub(crate) struct Slot {
    signum: i32,
    index: usize,
    /// Closed by `Drop` only after the slot is empty (field drops run after `Drop::drop`).
    write_end: OwnedFd,
}

impl Slot {
    /// Installs the handler for `signum` if needed and puts `write_end` (which must be
    /// non-blocking) in a free slot of that signal.
    ///
    /// `signum` must be in `1..=MAX_SIGNAL` and catchable: the caller checks.
    pub(crate) fn claim(signum: i32, write_end: OwnedFd) -> io::Result<Slot> {
        debug_assert!((1..=MAX_SIGNAL).contains(&signum));
        install(signum)?;
        let fd = write_end.as_raw_fd();
        let word = OCCUPIED | (fd as u32 as u64);
        for (index, slot) in TABLE[signum as usize].iter().enumerate() {
            if slot.compare_exchange(EMPTY, word, Release, Relaxed).is_ok() {
                return Ok(Slot {
                    signum,
                    index,
                    write_end,
                });
            }
        }
        Err(io::Error::other(format!(
            "too many listeners for {}: at most {LISTENERS_PER_SIGNAL} may exist at once for one \
             signal; drop some, or have one task listen and pass the news on (a channel, a \
             broadcast)",
            super::unix::name(signum)
        )))
    }

    fn word(&self) -> &'static AtomicU64 {
        &TABLE[self.signum as usize][self.index]
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let slot = self.word();
        // From here on no handler starts using the descriptor...
        let mut state = slot.fetch_or(RETIRED, AcqRel);
        debug_assert_eq!(state & FD_MASK, self.write_end.as_raw_fd() as u32 as u64);
        // ...and the ones that already did are one `write` away from leaving.
        while state & USERS_MASK != 0 {
            std::thread::yield_now();
            state = slot.load(Acquire);
        }
        slot.store(EMPTY, Release);
        // `write_end` is closed after this, when the fields drop.
    }
}

// Real-time signal numbers as quiet rows: Linux has 64 signals, other systems fewer.
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    /// A signal no test here raises: the slots are exercised without a handler running.
    const QUIET: i32 = 63;

    fn pair() -> (UnixStream, OwnedFd) {
        let (read, write) = UnixStream::pair().unwrap();
        read.set_nonblocking(true).unwrap();
        write.set_nonblocking(true).unwrap();
        (read, write.into())
    }

    /// End of stream once the write end is closed, or `WouldBlock` while a child process
    /// that another test is starting holds a copy of it (until its `exec`).
    fn assert_nothing_to_read(read: &mut UnixStream, what: &str) {
        let mut buf = [0; 8];
        match read.read(&mut buf) {
            Ok(0) => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("{what}: {other:?}"),
        }
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn a_delivery_writes_to_every_claimed_slot() {
        let (mut read_a, write_a) = pair();
        let (mut read_b, write_b) = pair();
        let a = Slot::claim(QUIET, write_a).unwrap();
        let b = Slot::claim(QUIET, write_b).unwrap();
        deliver(QUIET);
        deliver(QUIET);
        let mut buf = [0; 8];
        assert_eq!(read_a.read(&mut buf).unwrap(), 2);
        assert_eq!(read_b.read(&mut buf).unwrap(), 2);
        drop(a);
        deliver(QUIET);
        assert_nothing_to_read(&mut read_a, "a dropped slot's socket is not written");
        assert_eq!(read_b.read(&mut buf).unwrap(), 1);
        drop(b);
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn a_full_socket_neither_blocks_nor_fails_a_delivery() {
        let (mut read, write) = pair();
        let fd = write.as_raw_fd();
        // SAFETY: `write` is open for this whole block.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let mut filled = 0;
        while rustix::io::write(borrowed, &[0; 4096]).is_ok() {
            filled += 1;
        }
        assert!(filled > 0);
        let slot = Slot::claim(QUIET - 3, write).unwrap();
        deliver(QUIET - 3);
        drop(slot);
        let mut buf = vec![0; 1 << 16];
        while read.read(&mut buf).is_ok_and(|n| n > 0) {}
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn a_slot_in_use_is_closed_only_after_its_user_leaves() {
        let (mut read, write) = pair();
        let slot = Slot::claim(QUIET - 1, write).unwrap();
        let word = slot.word();
        // A handler in the middle of its write.
        let fd = begin_use(word).expect("a live slot");
        assert_eq!(
            word.load(Acquire) & USERS_MASK,
            USER,
            "the handler is counted as a user"
        );
        let dropper = std::thread::spawn(move || drop(slot));
        // The drop retires the slot at once but must wait for the user.
        while word.load(Acquire) & RETIRED == 0 {
            assert!(
                !dropper.is_finished(),
                "the drop finished while a handler used the slot"
            );
            std::thread::yield_now();
        }
        assert!(begin_use(word).is_none(), "a retired slot takes no new users");
        assert!(
            !dropper.is_finished(),
            "the drop waits while a handler uses the slot"
        );
        // Still open: the user's write lands in the listener's socket.
        // SAFETY: the slot counts us as a user, so the descriptor is open.
        rustix::io::write(unsafe { BorrowedFd::borrow_raw(fd) }, &[7]).unwrap();
        end_use(word);
        dropper.join().unwrap();
        assert_eq!(word.load(Acquire), EMPTY);
        let mut buf = [0; 2];
        assert_eq!(read.read(&mut buf).unwrap(), 1);
        assert_nothing_to_read(&mut read, "one write, one byte");
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn a_full_row_is_an_error_that_says_so() {
        let signum = QUIET - 2;
        let mut slots: Vec<_> = (0..LISTENERS_PER_SIGNAL)
            .map(|_| Slot::claim(signum, pair().1).unwrap())
            .collect();
        let error = Slot::claim(signum, pair().1).unwrap_err();
        assert!(error.to_string().contains("too many listeners"), "{error}");
        slots.pop();
        slots.push(Slot::claim(signum, pair().1).expect("a freed slot is reused"));
    }
}

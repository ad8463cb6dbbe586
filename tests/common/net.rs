//! Helpers shared by the network tests (`net.rs`, `net_fd_leak.rs`, `net_emfile.rs`), included
//! with `#[path = "common/net.rs"]` so the other test binaries do not compile them.
#![allow(dead_code)]

use std::future::Future;
#[cfg(unix)]
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

/// Wraps a future and runs `notify` the first time the future returns `Pending`.
///
/// An I/O future returns `Pending` only after its waker is stored in the reactor's source, so
/// the notification says "this task is now parked on the socket": a test can then make the
/// socket ready from elsewhere and know it exercises the reactor's wake path, without
/// sleeping to let the task get there.
pub struct OnPending<F, N> {
    inner: Pin<Box<F>>,
    notify: Option<N>,
}

/// See [`OnPending`].
pub fn on_pending<F: Future, N: FnOnce() + Unpin>(future: F, notify: N) -> OnPending<F, N> {
    OnPending {
        inner: Box::pin(future),
        notify: Some(notify),
    }
}

impl<F: Future, N: FnOnce() + Unpin> Future for OnPending<F, N> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let poll = this.inner.as_mut().poll(cx);
        if poll.is_pending() {
            if let Some(notify) = this.notify.take() {
                notify();
            }
        }
        poll
    }
}

/// The process's open descriptors, with what each points to (for failure messages).
/// The descriptor `read_dir` itself holds while listing is left out.
pub fn open_fds() -> Vec<(i32, String)> {
    let dir = std::fs::read_dir("/proc/self/fd").expect("cannot list /proc/self/fd");
    let mut fds: Vec<(i32, String)> = dir
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd: i32 = entry.file_name().to_str()?.parse().ok()?;
            // The listing's own descriptor is closed by the time we read its link.
            let target = std::fs::read_link(entry.path()).ok()?;
            Some((fd, target.display().to_string()))
        })
        .collect();
    fds.sort();
    fds
}

/// Describes how `after` differs from `before`, for an assertion message.
pub fn fd_diff(before: &[(i32, String)], after: &[(i32, String)]) -> String {
    let gained: Vec<_> = after.iter().filter(|fd| !before.contains(fd)).collect();
    let lost: Vec<_> = before.iter().filter(|fd| !after.contains(fd)).collect();
    format!(
        "{} descriptors before, {} after; new: {:?}{}; gone: {:?}",
        before.len(),
        after.len(),
        &gained[..gained.len().min(20)],
        if gained.len() > 20 { " ..." } else { "" },
        &lost[..lost.len().min(20)],
    )
}

/// `RLIMIT_NOFILE` as (soft, hard).
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // `rlim_t` is narrower on some targets
pub fn nofile_limit() -> (u64, u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid out-pointer.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0, "getrlimit: {}", io::Error::last_os_error());
    (limit.rlim_cur as u64, limit.rlim_max as u64)
}

/// Sets the soft `RLIMIT_NOFILE`, keeping the hard limit.
#[cfg(unix)]
pub fn set_nofile_soft(soft: u64) {
    let (_, hard) = nofile_limit();
    let limit = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: `limit` is a valid pointer.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(rc, 0, "setrlimit({soft}): {}", io::Error::last_os_error());
}

/// Raises the soft descriptor limit to at least `wanted` (or the hard limit, if lower), for
/// tests that hold thousands of sockets open at once.
#[cfg(unix)]
pub fn raise_fd_limit(wanted: u64) {
    let (soft, hard) = nofile_limit();
    if soft < wanted {
        set_nofile_soft(wanted.min(hard));
    }
}

/// Windows has no per-process limit on sockets to raise.
#[cfg(not(unix))]
pub fn raise_fd_limit(_wanted: u64) {}

/// A socket path under the temp directory, unique to this process and call, removed (if it
/// exists) on creation and on drop.
pub struct TempSocketPath(PathBuf);

impl TempSocketPath {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("heist-{tag}-{}-{n}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        TempSocketPath(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempSocketPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The bytes of round `round` on connection `conn`: an 8-byte header naming both, then a
/// pattern, 8 to 519 bytes in all, so that no two payloads of a test are alike.
pub fn payload(conn: usize, round: usize) -> Vec<u8> {
    let len = 8 + (conn * 7_919 + round * 104_729) % 512;
    let mut bytes = Vec::with_capacity(len);
    bytes.extend_from_slice(&(conn as u32).to_le_bytes());
    bytes.extend_from_slice(&(round as u32).to_le_bytes());
    bytes.extend((8..len).map(|k| (k as u32 ^ (conn as u32).wrapping_mul(31) ^ round as u32) as u8));
    bytes
}

/// `len` bytes of a pattern that does not repeat with any small period, so that a dropped,
/// duplicated or reordered chunk shows up as a mismatch.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Index of the first byte where `a` and `b` differ, for mismatch messages.
pub fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or_else(|| (a.len() != b.len()).then(|| a.len().min(b.len())))
}

//! `read_dir`: a directory's entries, listed on the blocking pool a batch at a time.

use super::{asyncify, join_error, spawn_blocking};
use futures_lite::Stream;
use heist_executor::JoinHandle;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::fs::{FileType, Metadata};
use std::future::poll_fn;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

/// Entries listed per hop to the blocking pool: a hop costs about as much as listing a few
/// dozen entries, and a batch must stay small for a caller that wants only the first few.
const BATCH: usize = 32;

/// The entries of the directory `path` ([`std::fs::read_dir`]), as a [`ReadDir`]. Opening
/// the directory and listing the first entries take one hop to the blocking pool; the rest
/// are listed a batch of 32 per hop.
///
/// ```
/// use heist::fs;
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let dir = std::env::temp_dir().join(format!("heist-read-dir-{}", std::process::id()));
///     fs::create_dir_all(dir.join("sub")).await?;
///     fs::write(dir.join("file"), "x").await?;
///
///     let mut names = Vec::new();
///     let mut entries = fs::read_dir(&dir).await?;
///     while let Some(entry) = entries.next_entry().await? {
///         names.push((entry.file_name(), entry.file_type().await?.is_dir()));
///     }
///     names.sort();
///     assert_eq!(names, [("file".into(), false), ("sub".into(), true)]);
///
///     // Or as a `Stream` of `io::Result<DirEntry>`:
///     use futures_lite::StreamExt;
///     assert_eq!(fs::read_dir(&dir).await?.count().await, 2);
///     fs::remove_dir_all(&dir).await
/// })
/// .unwrap();
/// ```
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref().to_owned();
    let (std, entries) = asyncify("heist::fs::read_dir", move || {
        // Boxed: on Windows a listing is large, and it moves between the pool and the task.
        let std = Box::new(std::fs::read_dir(path)?);
        Ok(list_batch(std))
    })
    .await?;
    Ok(ReadDir {
        state: State::Idle { std, entries },
    })
}

/// On the blocking pool: the next batch of entries, and the listing if it has more.
fn list_batch(mut std: Box<std::fs::ReadDir>) -> Batch {
    let mut entries = VecDeque::with_capacity(BATCH);
    for _ in 0..BATCH {
        match std.next() {
            Some(entry) => entries.push_back(entry.map(DirEntry::new)),
            None => return (None, entries),
        }
    }
    (Some(std), entries)
}

/// The entries of a directory, from [`read_dir`]: [`next_entry`](ReadDir::next_entry), or a
/// [`Stream`] of `io::Result<DirEntry>`. `.` and `..` are not listed; the order is the file
/// system's.
pub struct ReadDir {
    state: State,
}

type Batch = (Option<Box<std::fs::ReadDir>>, VecDeque<io::Result<DirEntry>>);

enum State {
    /// `std` is `None` once the listing has ended (or a hop for it failed).
    Idle {
        std: Option<Box<std::fs::ReadDir>>,
        entries: VecDeque<io::Result<DirEntry>>,
    },
    Busy(JoinHandle<Batch>),
}

impl ReadDir {
    /// The next entry, or `None` at the end of the directory. An error for one entry does not
    /// end the listing.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// Polls for the next entry: `Ready(Ok(None))` at the end of the directory.
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        const WHAT: &str = "heist::fs::ReadDir::next_entry";
        loop {
            match &mut self.state {
                State::Idle { std, entries } => {
                    if let Some(entry) = entries.pop_front() {
                        return Poll::Ready(entry.map(Some));
                    }
                    let Some(std) = std.take() else {
                        return Poll::Ready(Ok(None));
                    };
                    // On failure the listing is dropped: an error, then the end.
                    self.state = State::Busy(spawn_blocking(WHAT, move || list_batch(std))?);
                }
                State::Busy(job) => {
                    let outcome = ready!(Pin::new(job).poll(cx));
                    let (std, entries) = outcome.map_err(|err| {
                        self.state = State::Idle {
                            std: None,
                            entries: VecDeque::new(),
                        };
                        join_error(WHAT, err)
                    })?;
                    self.state = State::Idle { std, entries };
                }
            }
        }
    }
}

impl Stream for ReadDir {
    type Item = io::Result<DirEntry>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_entry(cx).map(Result::transpose)
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadDir").finish_non_exhaustive()
    }
}

/// An entry of a directory listed by [`read_dir`].
///
/// Its file type was read while listing (most file systems give it for free), so
/// [`file_type`](DirEntry::file_type) needs no hop to the blocking pool unless the platform
/// did not know it.
pub struct DirEntry {
    std: Arc<std::fs::DirEntry>,
    file_type: Option<FileType>,
}

impl DirEntry {
    fn new(std: std::fs::DirEntry) -> DirEntry {
        let file_type = std.file_type().ok();
        DirEntry {
            std: Arc::new(std),
            file_type,
        }
    }

    /// The entry's full path: the directory given to [`read_dir`] joined with the name.
    pub fn path(&self) -> PathBuf {
        self.std.path()
    }

    /// The entry's name in its directory.
    pub fn file_name(&self) -> OsString {
        self.std.file_name()
    }

    /// The entry's metadata, not following a symbolic link ([`std::fs::DirEntry::metadata`]):
    /// one hop to the blocking pool.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let std = self.std.clone();
        asyncify("heist::fs::DirEntry::metadata", move || std.metadata()).await
    }

    /// The entry's file type, not following a symbolic link ([`std::fs::DirEntry::file_type`]).
    pub async fn file_type(&self) -> io::Result<FileType> {
        if let Some(file_type) = self.file_type {
            return Ok(file_type);
        }
        let std = self.std.clone();
        asyncify("heist::fs::DirEntry::file_type", move || std.file_type()).await
    }

    /// Unix only: the entry's inode number ([`std::os::unix::fs::DirEntryExt::ino`]).
    #[cfg(unix)]
    pub fn ino(&self) -> u64 {
        std::os::unix::fs::DirEntryExt::ino(&*self.std)
    }
}

impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DirEntry").field(&self.path()).finish()
    }
}

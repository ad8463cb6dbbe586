//! `File`: a `std::fs::File` whose reads, writes and seeks run on the blocking pool, one at a
//! time, through a buffer that travels to the pool thread and back.
//!
//! The state machine: the file is `Idle` (holding the buffer, which may hold bytes read and
//! not yet returned) or `Busy` (the buffer is on the blocking pool with one job). Every job
//! that touches the `std::fs::File` goes through `Busy`, so once the file is `Idle` nothing
//! else holds the `Arc` to it. A call that finds a job in flight first waits for it and keeps
//! what it must report later: a write's error (for the next call) or a seek's result (for a
//! `poll_seek` that is polled again with the same target).

use super::{OpenOptions, join_error, spawn_blocking};
use futures_lite::io::{AsyncRead, AsyncSeek, AsyncWrite};
use heist_executor::JoinHandle;
use std::fmt;
use std::future::poll_fn;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

/// The most bytes one read or write moves in one hop: bigger calls are split (a read returns
/// fewer bytes, a write accepts fewer), so one hop never holds a worker's caller for long
/// nor allocates without bound.
const MAX_BUF: usize = 2 * 1024 * 1024;

/// A file on the file system, read and written on the runtime's blocking pool: tokio's
/// `File`, with futures-io's [`AsyncRead`], [`AsyncWrite`] and [`AsyncSeek`] (use
/// [`heist::io`](crate::io)'s extension traits for `read_exact`, `write_all`, `seek`...).
///
/// One operation is in flight at a time. A write returns once its bytes are copied into the
/// file's buffer and handed to the blocking pool; [`flush`](crate::io::AsyncWriteExt::flush)
/// waits for it. A background write's error is reported by the next call on the file, so
/// flush (or [`sync_all`](File::sync_all)) before dropping a file whose writes matter:
/// dropping a `File` lets a write in flight finish, but its error is lost.
///
/// For whole files, [`fs::read`](super::read) and [`fs::write`](super::write) take one
/// blocking hop, where a `File` takes one per read or write (of up to 2 MiB each). Many small
/// reads or writes want a [`BufReader`](crate::io::BufReader) or
/// [`BufWriter`](crate::io::BufWriter) around the file: each call on a bare `File` is a hop.
///
/// ```
/// use heist::fs::File;
/// use heist::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, SeekFrom};
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let path = std::env::temp_dir().join(format!("heist-file-doc-{}", std::process::id()));
///     let mut file = heist::fs::OpenOptions::new()
///         .read(true)
///         .write(true)
///         .create(true)
///         .truncate(true)
///         .open(&path)
///         .await?;
///     file.write_all(b"hello, world").await?;
///     file.seek(SeekFrom::Start(7)).await?;
///     let mut word = String::new();
///     file.read_to_string(&mut word).await?;
///     assert_eq!(word, "world");
///
///     file.set_len(5).await?;
///     file.sync_all().await?;
///     assert_eq!(file.metadata().await?.len(), 5);
///     drop(file);
///     heist::fs::remove_file(&path).await
/// })
/// .unwrap();
/// ```
pub struct File {
    std: Arc<std::fs::File>,
    /// The `&self` methods (`sync_all`, `set_len`, `metadata`...) take the lock to run one job
    /// at a time; the futures-io methods have `&mut self` and reach in with `get_mut`.
    inner: async_lock::Mutex<Inner>,
}

struct Inner {
    state: State,
    /// The error of a background write (or of a job the runtime's shutdown cancelled) that
    /// finished while a call that cannot report it waited: reported by the next call.
    pending_error: Option<io::Error>,
    /// A seek that finished while another call waited for it, for a `poll_seek` polled again
    /// with the same target. Cleared when a read or write starts (the position moves on).
    finished_seek: Option<(SeekFrom, io::Result<u64>)>,
}

enum State {
    Idle(Buf),
    Busy {
        job: JoinHandle<(Operation, Buf)>,
        what: &'static str,
    },
}

/// What a job did: its result, handed back with the buffer.
enum Operation {
    Read(io::Result<usize>),
    Write(io::Result<()>),
    Seek(SeekFrom, io::Result<u64>),
    /// `set_len`, `sync_all`, `sync_data`, and the rewind of `into_std`.
    Control(io::Result<()>),
    Metadata(io::Result<std::fs::Metadata>),
    Clone(io::Result<std::fs::File>),
}

/// The bytes a job moves. `bytes` is kept initialized up to its length (grown with zeros,
/// never shrunk), so a read reuses it without zeroing again; `start..end` are the bytes read
/// and not yet handed to the caller, or the bytes still to write.
#[derive(Default)]
struct Buf {
    bytes: Vec<u8>,
    start: usize,
    end: usize,
}

impl Buf {
    fn unread(&self) -> usize {
        self.end - self.start
    }

    fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    fn copy_out(&mut self, dst: &mut [u8]) -> usize {
        let n = dst.len().min(self.unread());
        dst[..n].copy_from_slice(&self.bytes[self.start..self.start + n]);
        self.start += n;
        n
    }

    fn copy_in(&mut self, src: &[u8]) -> usize {
        let n = src.len().min(MAX_BUF);
        self.clear();
        if self.bytes.len() < n {
            self.bytes.resize(n, 0);
        }
        self.bytes[..n].copy_from_slice(&src[..n]);
        self.end = n;
        n
    }

    /// On the blocking pool: one read of up to `len` bytes.
    fn read_from(&mut self, mut file: &std::fs::File, len: usize) -> io::Result<usize> {
        self.clear();
        if self.bytes.len() < len {
            self.bytes.resize(len, 0);
        }
        let n = loop {
            match file.read(&mut self.bytes[..len]) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                result => break result?,
            }
        };
        self.end = n;
        Ok(n)
    }

    /// On the blocking pool: writes all the bytes held.
    fn write_to(&mut self, mut file: &std::fs::File) -> io::Result<()> {
        let result = file.write_all(&self.bytes[self.start..self.end]);
        self.clear();
        result
    }
}

/// On the blocking pool: moves the file's position back over `unread` bytes that were read
/// ahead of the caller, so that the next write, seek or `set_len` sees the position the
/// caller believes in.
fn rewind(mut file: &std::fs::File, unread: usize) -> io::Result<()> {
    if unread > 0 {
        file.seek(SeekFrom::Current(-(unread as i64)))?;
    }
    Ok(())
}

impl Inner {
    fn idle_buf(&mut self) -> &mut Buf {
        match &mut self.state {
            State::Idle(buf) => buf,
            State::Busy { what, .. } => unreachable!("heist::fs::File: a {what} is still in flight"),
        }
    }

    /// Waits for the job in flight, if any, and returns what it did. A job the runtime
    /// cancelled (it shut down) is an error, and its buffer is lost.
    fn poll_complete(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Operation>>> {
        let State::Busy { job, what } = &mut self.state else {
            return Poll::Ready(Ok(None));
        };
        let outcome = ready!(Pin::new(job).poll(cx));
        let what = *what;
        Poll::Ready(match outcome {
            Ok((operation, buf)) => {
                self.state = State::Idle(buf);
                Ok(Some(operation))
            }
            Err(err) => {
                self.state = State::Idle(Buf::default());
                Err(join_error(what, err))
            }
        })
    }

    /// Keeps what a finished job must report later: a failed write's error for the next
    /// call, a seek's result for `poll_seek`. What else a job returns nobody waits for any
    /// more (a read's bytes stay in the buffer).
    fn keep(&mut self, completed: io::Result<Option<Operation>>) {
        match completed {
            Err(err) | Ok(Some(Operation::Write(Err(err)))) => {
                self.pending_error.get_or_insert(err);
            }
            Ok(Some(Operation::Seek(target, result))) => self.finished_seek = Some((target, result)),
            _ => {}
        }
    }

    /// Waits until no job is in flight, then reports the error a background write left, if any.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let completed = ready!(self.poll_complete(cx));
        self.keep(completed);
        Poll::Ready(match self.pending_error.take() {
            Some(err) => Err(err),
            None => Ok(()),
        })
    }

    /// Starts `job` on the blocking pool with the buffer. The job's caller must be idle.
    fn start(
        &mut self,
        what: &'static str,
        job: impl FnOnce(Buf) -> (Operation, Buf) + Send + 'static,
    ) -> io::Result<()> {
        let buf = std::mem::take(self.idle_buf());
        let job = spawn_blocking(what, move || job(buf))?;
        self.state = State::Busy { job, what };
        Ok(())
    }

    fn poll_read(
        &mut self,
        std: &Arc<std::fs::File>,
        cx: &mut Context<'_>,
        dst: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            match ready!(self.poll_complete(cx)) {
                Ok(Some(Operation::Read(result))) => {
                    result?;
                    return Poll::Ready(Ok(self.idle_buf().copy_out(dst)));
                }
                completed => self.keep(completed),
            }
            if let Some(err) = self.pending_error.take() {
                return Poll::Ready(Err(err));
            }
            let buf = self.idle_buf();
            if buf.unread() > 0 || dst.is_empty() {
                return Poll::Ready(Ok(buf.copy_out(dst)));
            }
            let (std, len) = (std.clone(), dst.len().min(MAX_BUF));
            self.finished_seek = None;
            self.start("heist::fs::File read", move |mut buf| {
                let result = buf.read_from(&std, len);
                (Operation::Read(result), buf)
            })?;
        }
    }

    fn poll_write(
        &mut self,
        std: &Arc<std::fs::File>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_flush(cx))?;
        if src.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let buf = self.idle_buf();
        let unread = buf.unread();
        let n = buf.copy_in(src);
        let std = std.clone();
        self.finished_seek = None;
        self.start("heist::fs::File write", move |mut buf| {
            let result = rewind(&std, unread).and_then(|()| buf.write_to(&std));
            (Operation::Write(result), buf)
        })?;
        // Poll once: registers the waker, and reports a write that finished at once.
        if let Poll::Ready(completed) = self.poll_complete(cx) {
            self.keep(completed);
        }
        Poll::Ready(Ok(n))
    }

    // futures-io's `poll_seek` both starts a seek and completes it: a call that finds a seek
    // to the same target in flight (or just finished) completes it rather than starting
    // another. A caller that drops a seek to `SeekFrom::Current(n)` and then seeks to the same
    // `Current(n)` before any read or write therefore moves once, not twice.
    fn poll_seek(
        &mut self,
        std: &Arc<std::fs::File>,
        cx: &mut Context<'_>,
        target: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        loop {
            match ready!(self.poll_complete(cx)) {
                Ok(Some(Operation::Seek(done, result))) if done == target => return Poll::Ready(result),
                completed => self.keep(completed),
            }
            if let Some(err) = self.pending_error.take() {
                return Poll::Ready(Err(err));
            }
            if let Some((done, result)) = self.finished_seek.take()
                && done == target
            {
                return Poll::Ready(result);
            }
            let buf = self.idle_buf();
            let unread = buf.unread();
            buf.clear();
            // The file's own position is `unread` bytes past the caller's.
            let adjusted = match target {
                SeekFrom::Current(offset) => match offset.checked_sub(unread as i64) {
                    Some(offset) => SeekFrom::Current(offset),
                    None => {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            "heist::fs::File seek: the offset overflows an i64",
                        )));
                    }
                },
                other => other,
            };
            let std = std.clone();
            self.start("heist::fs::File seek", move |buf| {
                let result = (&*std).seek(adjusted);
                (Operation::Seek(target, result), buf)
            })?;
        }
    }
}

impl File {
    /// Opens the file at `path` for reading ([`std::fs::File::open`]).
    ///
    /// ```
    /// use heist::io::AsyncReadExt;
    ///
    /// heist::Runtime::new().unwrap().block_on(async {
    ///     let path = std::env::temp_dir().join(format!("heist-file-open-{}", std::process::id()));
    ///     heist::fs::write(&path, "contents").await?;
    ///     let mut file = heist::fs::File::open(&path).await?;
    ///     let mut contents = String::new();
    ///     file.read_to_string(&mut contents).await?;
    ///     assert_eq!(contents, "contents");
    ///     heist::fs::remove_file(&path).await
    /// })
    /// .unwrap();
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Creates the file at `path` for writing, truncating it if it exists
    /// ([`std::fs::File::create`]).
    ///
    /// ```
    /// use heist::io::AsyncWriteExt;
    ///
    /// heist::Runtime::new().unwrap().block_on(async {
    ///     let path = std::env::temp_dir().join(format!("heist-file-create-{}", std::process::id()));
    ///     let mut file = heist::fs::File::create(&path).await?;
    ///     file.write_all(b"new").await?;
    ///     file.flush().await?;
    ///     assert_eq!(heist::fs::read(&path).await?, b"new");
    ///     heist::fs::remove_file(&path).await
    /// })
    /// .unwrap();
    /// ```
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Creates a new file at `path` for reading and writing; fails if it exists
    /// ([`std::fs::File::create_new`]).
    ///
    /// ```
    /// heist::Runtime::new().unwrap().block_on(async {
    ///     let path = std::env::temp_dir().join(format!("heist-file-create-new-{}", std::process::id()));
    ///     let file = heist::fs::File::create_new(&path).await?;
    ///     let again = heist::fs::File::create_new(&path).await;
    ///     assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
    ///     drop(file);
    ///     heist::fs::remove_file(&path).await
    /// })
    /// .unwrap();
    /// ```
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .await
    }

    /// A new [`OpenOptions`], for files opened in other modes (append, read and write...).
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps an open `std::fs::File`. Needs no runtime: the file's calls run on the runtime
    /// they are awaited in.
    pub fn from_std(std: std::fs::File) -> File {
        File {
            std: Arc::new(std),
            inner: async_lock::Mutex::new(Inner {
                state: State::Idle(Buf::default()),
                pending_error: None,
                finished_seek: None,
            }),
        }
    }

    /// Waits for the job in flight, reports a background write's error, and then runs `job`
    /// on the blocking pool as the file's one job (after moving the position back over bytes
    /// read ahead, so it sees the caller's position).
    async fn run(
        &self,
        what: &'static str,
        job: impl FnOnce(&std::fs::File) -> Operation + Send + 'static,
    ) -> io::Result<Operation> {
        let mut inner = self.inner.lock().await;
        poll_fn(|cx| inner.poll_flush(cx)).await?;
        let buf = inner.idle_buf();
        let unread = buf.unread();
        buf.clear();
        inner.finished_seek = None;
        let std = self.std.clone();
        inner.start(what, move |buf| {
            let operation = match rewind(&std, unread) {
                Ok(()) => job(&std),
                Err(err) => Operation::Control(Err(err)),
            };
            (operation, buf)
        })?;
        match poll_fn(|cx| inner.poll_complete(cx)).await? {
            Some(operation) => Ok(operation),
            None => unreachable!("heist::fs::File: the {what} just started is not in flight"),
        }
    }

    /// Waits for the writes in flight and flushes the file's data and metadata to the device
    /// ([`std::fs::File::sync_all`]). Reports the error of an earlier write, if one failed.
    pub async fn sync_all(&self) -> io::Result<()> {
        match self
            .run("heist::fs::File::sync_all", |std| {
                Operation::Control(std.sync_all())
            })
            .await?
        {
            Operation::Control(result) => result,
            _ => unreachable!("sync_all returns a Control"),
        }
    }

    /// [`sync_all`](Self::sync_all) without the metadata that reading the data back does not
    /// need ([`std::fs::File::sync_data`]).
    pub async fn sync_data(&self) -> io::Result<()> {
        match self
            .run("heist::fs::File::sync_data", |std| {
                Operation::Control(std.sync_data())
            })
            .await?
        {
            Operation::Control(result) => result,
            _ => unreachable!("sync_data returns a Control"),
        }
    }

    /// Truncates or extends the file to `size` bytes, after the writes in flight
    /// ([`std::fs::File::set_len`]). The position does not move.
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        match self
            .run("heist::fs::File::set_len", move |std| {
                Operation::Control(std.set_len(size))
            })
            .await?
        {
            Operation::Control(result) => result,
            _ => unreachable!("set_len returns a Control"),
        }
    }

    /// The file's metadata, after the writes in flight ([`std::fs::File::metadata`]).
    pub async fn metadata(&self) -> io::Result<std::fs::Metadata> {
        match self
            .run("heist::fs::File::metadata", |std| {
                Operation::Metadata(std.metadata())
            })
            .await?
        {
            Operation::Metadata(result) => result,
            Operation::Control(Err(err)) => Err(err),
            _ => unreachable!("metadata returns a Metadata"),
        }
    }

    /// A new `File` for the same open file, sharing its position
    /// ([`std::fs::File::try_clone`]), after the writes in flight.
    pub async fn try_clone(&self) -> io::Result<File> {
        match self
            .run("heist::fs::File::try_clone", |std| {
                Operation::Clone(std.try_clone())
            })
            .await?
        {
            Operation::Clone(result) => result.map(File::from_std),
            Operation::Control(Err(err)) => Err(err),
            _ => unreachable!("try_clone returns a Clone"),
        }
    }

    /// The `std::fs::File`, after the job in flight finished, at the position the caller
    /// has reached (bytes read ahead are given back). A background write's error is lost
    /// here: [`flush`](crate::io::AsyncWriteExt::flush) first to see it.
    pub async fn into_std(self) -> std::fs::File {
        // A failed rewind leaves the position where the last read left it: nothing better is
        // possible, and `into_std` cannot fail.
        // A write's error reported by the first attempt stops it before the rewind: try again.
        for _ in 0..2 {
            if self
                .run("heist::fs::File::into_std", |_| Operation::Control(Ok(())))
                .await
                .is_ok()
            {
                break;
            }
        }
        let File { std, .. } = self;
        match Arc::try_unwrap(std) {
            Ok(std) => std,
            // Every job that clones the `Arc` runs as the file's one job, and none is in flight.
            Err(_) => unreachable!("heist::fs::File::into_std: a blocking job still holds the file"),
        }
    }

    /// The `std::fs::File` if no job is in flight and no byte was read ahead; the `File`
    /// back otherwise.
    pub fn try_into_std(mut self) -> Result<std::fs::File, File> {
        let inner = self.inner.get_mut();
        if !matches!(&inner.state, State::Idle(buf) if buf.unread() == 0) {
            return Err(self);
        }
        let File { std, inner } = self;
        Arc::try_unwrap(std).map_err(|std| File { std, inner })
    }
}

impl From<std::fs::File> for File {
    fn from(std: std::fs::File) -> File {
        File::from_std(std)
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("std", &self.std)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for File {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, dst: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.inner.get_mut().poll_read(&this.std, cx, dst)
    }
}

impl AsyncWrite for File {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, src: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.inner.get_mut().poll_write(&this.std, cx, src)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().inner.get_mut().poll_flush(cx)
    }

    /// Flushes: the file itself is closed when the `File` is dropped.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl AsyncSeek for File {
    fn poll_seek(self: Pin<&mut Self>, cx: &mut Context<'_>, target: SeekFrom) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        this.inner.get_mut().poll_seek(&this.std, cx, target)
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for File {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.std.as_fd()
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for File {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.std.as_raw_fd()
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsHandle for File {
    fn as_handle(&self) -> std::os::windows::io::BorrowedHandle<'_> {
        self.std.as_handle()
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsRawHandle for File {
    fn as_raw_handle(&self) -> std::os::windows::io::RawHandle {
        self.std.as_raw_handle()
    }
}

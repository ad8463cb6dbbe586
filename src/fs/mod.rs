//! The file system, on the runtime's blocking pool, in tokio's shapes.
//!
//! Operating systems offer no readiness notification for regular files (they are always
//! "ready", and a read of a cold file blocks anyway), so every call here runs the matching
//! `std::fs` call on a thread of the runtime's blocking pool ([`spawn_blocking`]) and hands
//! the result back to the task. A worker never blocks on the disk.
//!
//! # Costs
//! Each whole-file call ([`read`](crate::fs::read), [`write`](crate::fs::write), [`read_to_string`](crate::fs::read_to_string), [`metadata`](crate::fs::metadata), [`copy`](crate::fs::copy)...)
//! is **one** hop to the blocking pool and back: prefer them to a [`File`](crate::fs::File) when the whole
//! file is wanted. [`ReadDir`](crate::fs::ReadDir) takes one hop per batch of entries, not one per entry, and
//! keeps each entry's file type (which most platforms give for free while listing), so a
//! tree walk does not pay a hop per [`DirEntry::file_type`](crate::fs::DirEntry::file_type).
//!
//! A [`File`](crate::fs::File) moves an owned buffer to the blocking pool for each read or write and back
//! (the task's own buffer cannot travel: it is only borrowed). One operation is in flight at
//! a time. Writes are buffered: `write` returns as soon as its bytes are copied into the
//! buffer and the buffer is handed to the pool; `flush` waits for the write to finish. A
//! background write's error is reported by the **next** call on the file (a read, write,
//! seek, flush or `sync_*`), so call `flush` (or `sync_all`) before dropping a file whose
//! writes matter: dropping it lets a write in flight finish, but nobody sees its error.
//!
//! # Runtimes
//! Calls run on the blocking pool of the runtime they are awaited in (a `File` is not tied
//! to the runtime that opened it). Awaited outside any heist runtime, or after that runtime
//! shut down, they fail with an [`io::Error`](std::io::Error) that says so (kind `Other`), rather than panic
//! or hang; a `File` operation the shutdown cancelled is reported by the file's next call.
//!
//! ```
//! use heist::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, SeekFrom};
//!
//! heist::Runtime::new().unwrap().block_on(async {
//!     let dir = std::env::temp_dir().join(format!("heist-fs-doc-{}", std::process::id()));
//!     heist::fs::create_dir_all(&dir).await?;
//!
//!     // Whole files: one blocking hop each.
//!     heist::fs::write(dir.join("greeting"), "hello").await?;
//!     assert_eq!(heist::fs::read_to_string(dir.join("greeting")).await?, "hello");
//!
//!     // A `File`: futures-io's `AsyncRead`, `AsyncWrite` and `AsyncSeek`.
//!     let mut writer = heist::fs::File::create(dir.join("numbers")).await?;
//!     writer.write_all(b"0123456789").await?;
//!     writer.flush().await?; // waits for the write, and reports its error if it failed
//!     let mut reader = heist::fs::File::open(dir.join("numbers")).await?;
//!     reader.seek(SeekFrom::Start(6)).await?;
//!     let mut tail = String::new();
//!     reader.read_to_string(&mut tail).await?;
//!     assert_eq!(tail, "6789");
//!
//!     drop((writer, reader)); // Windows removes no file that is still open
//!     heist::fs::remove_dir_all(&dir).await
//! })
//! .unwrap();
//! ```
//!
//! [`spawn_blocking`]: crate::spawn_blocking

mod file;
mod open_options;
mod read_dir;

pub use file::File;
pub use open_options::OpenOptions;
pub use read_dir::{DirEntry, ReadDir, read_dir};
pub use std::fs::{FileType, Metadata, Permissions};

use heist_executor::{Handle, JoinHandle};
use std::io;
use std::path::{Path, PathBuf};

/// Starts `f` on the current runtime's blocking pool, or says why it cannot (`what` names
/// the caller for the message).
fn spawn_blocking<F, R>(what: &str, f: F) -> io::Result<JoinHandle<R>>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match Handle::try_current() {
        Ok(handle) => Ok(handle.spawn_blocking(f)),
        Err(_) => Err(io::Error::other(format!(
            "{what} was called outside a heist runtime: heist::fs runs file system calls on a \
             runtime's blocking pool; await it inside Runtime::block_on or a task spawned on a \
             heist runtime"
        ))),
    }
}

/// The error for a blocking job that the runtime cancelled before it ran (or a panic in it,
/// which `std::fs` calls do not do, resumed here).
fn join_error(what: &str, err: heist_executor::JoinError) -> io::Error {
    match err.try_into_panic() {
        Ok(payload) => std::panic::resume_unwind(payload),
        Err(_) => io::Error::other(format!(
            "{what} did not run: the heist runtime whose blocking pool it was sent to shut down \
             first; use heist::fs only while its runtime runs (await file operations before \
             shutting the runtime down)"
        )),
    }
}

/// Runs `f` on the blocking pool and waits for it: one hop.
async fn asyncify<F, T>(what: &'static str, f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match spawn_blocking(what, f)?.await {
        Ok(result) => result,
        Err(err) => Err(join_error(what, err)),
    }
}

/// Reads the whole file at `path` ([`std::fs::read`]) in one blocking hop.
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     let path = std::env::temp_dir().join(format!("heist-fs-read-{}", std::process::id()));
///     heist::fs::write(&path, [1, 2, 3]).await?;
///     assert_eq!(heist::fs::read(&path).await?, [1, 2, 3]);
///     heist::fs::remove_file(&path).await
/// })
/// .unwrap();
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref().to_owned();
    asyncify("heist::fs::read", move || std::fs::read(path)).await
}

/// Reads the whole file at `path` as UTF-8 ([`std::fs::read_to_string`]) in one blocking hop.
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     let path = std::env::temp_dir().join(format!("heist-fs-read-string-{}", std::process::id()));
///     heist::fs::write(&path, "text").await?;
///     assert_eq!(heist::fs::read_to_string(&path).await?, "text");
///     heist::fs::remove_file(&path).await
/// })
/// .unwrap();
/// ```
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref().to_owned();
    asyncify("heist::fs::read_to_string", move || std::fs::read_to_string(path)).await
}

/// Creates or truncates the file at `path` and writes `contents` to it ([`std::fs::write`])
/// in one blocking hop. `contents` is copied first: the pool thread cannot borrow it.
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     let path = std::env::temp_dir().join(format!("heist-fs-write-{}", std::process::id()));
///     heist::fs::write(&path, b"bytes").await?;
///     assert_eq!(heist::fs::read(&path).await?, b"bytes");
///     heist::fs::remove_file(&path).await
/// })
/// .unwrap();
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    let contents = contents.as_ref().to_owned();
    asyncify("heist::fs::write", move || std::fs::write(path, contents)).await
}

/// The metadata of `path`, following symbolic links ([`std::fs::metadata`]).
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     let path = std::env::temp_dir().join(format!("heist-fs-metadata-{}", std::process::id()));
///     heist::fs::write(&path, [0; 10]).await?;
///     let metadata = heist::fs::metadata(&path).await?;
///     assert!(metadata.is_file());
///     assert_eq!(metadata.len(), 10);
///     heist::fs::remove_file(&path).await
/// })
/// .unwrap();
/// ```
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_owned();
    asyncify("heist::fs::metadata", move || std::fs::metadata(path)).await
}

/// The metadata of `path` itself, not of what a symbolic link points to
/// ([`std::fs::symlink_metadata`]).
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     let metadata = heist::fs::symlink_metadata(std::env::temp_dir()).await?;
///     assert!(!metadata.is_file());
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_owned();
    asyncify("heist::fs::symlink_metadata", move || {
        std::fs::symlink_metadata(path)
    })
    .await
}

/// Creates the directory `path`; its parent must exist ([`std::fs::create_dir`]).
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     let dir = std::env::temp_dir().join(format!("heist-fs-create-dir-{}", std::process::id()));
///     heist::fs::create_dir(&dir).await?;
///     assert!(heist::fs::create_dir(&dir).await.is_err()); // it exists now
///     heist::fs::remove_dir(&dir).await
/// })
/// .unwrap();
/// ```
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify("heist::fs::create_dir", move || std::fs::create_dir(path)).await
}

/// Creates the directory `path` and any missing parents ([`std::fs::create_dir_all`]);
/// succeeds if it already exists.
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     let top = std::env::temp_dir().join(format!("heist-fs-create-dir-all-{}", std::process::id()));
///     heist::fs::create_dir_all(top.join("a/b/c")).await?;
///     assert!(heist::fs::metadata(top.join("a/b/c")).await?.is_dir());
///     heist::fs::remove_dir_all(&top).await
/// })
/// .unwrap();
/// ```
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify("heist::fs::create_dir_all", move || std::fs::create_dir_all(path)).await
}

/// Removes the file (or symbolic link) `path` ([`std::fs::remove_file`]).
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     let path = std::env::temp_dir().join(format!("heist-fs-remove-file-{}", std::process::id()));
///     heist::fs::write(&path, "").await?;
///     heist::fs::remove_file(&path).await?;
///     assert!(!heist::fs::try_exists(&path).await?);
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify("heist::fs::remove_file", move || std::fs::remove_file(path)).await
}

/// Removes the empty directory `path` ([`std::fs::remove_dir`]).
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     let dir = std::env::temp_dir().join(format!("heist-fs-remove-dir-{}", std::process::id()));
///     heist::fs::create_dir(&dir).await?;
///     heist::fs::remove_dir(&dir).await?;
///     assert!(!heist::fs::try_exists(&dir).await?);
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify("heist::fs::remove_dir", move || std::fs::remove_dir(path)).await
}

/// Removes the directory `path` and everything in it ([`std::fs::remove_dir_all`]), in one
/// blocking hop.
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     let dir = std::env::temp_dir().join(format!("heist-fs-remove-dir-all-{}", std::process::id()));
///     heist::fs::create_dir_all(dir.join("sub")).await?;
///     heist::fs::write(dir.join("sub/file"), "x").await?;
///     heist::fs::remove_dir_all(&dir).await?;
///     assert!(!heist::fs::try_exists(&dir).await?);
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify("heist::fs::remove_dir_all", move || std::fs::remove_dir_all(path)).await
}

/// Renames `from` to `to`, replacing `to` if it exists ([`std::fs::rename`]).
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     let from = std::env::temp_dir().join(format!("heist-fs-rename-a-{}", std::process::id()));
///     let to = std::env::temp_dir().join(format!("heist-fs-rename-b-{}", std::process::id()));
///     heist::fs::write(&from, "moved").await?;
///     heist::fs::rename(&from, &to).await?;
///     assert_eq!(heist::fs::read_to_string(&to).await?, "moved");
///     heist::fs::remove_file(&to).await
/// })
/// .unwrap();
/// ```
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    asyncify("heist::fs::rename", move || std::fs::rename(from, to)).await
}

/// Copies the contents and permissions of the file `from` to `to` ([`std::fs::copy`]) in one
/// blocking hop, and returns the number of bytes copied.
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     let from = std::env::temp_dir().join(format!("heist-fs-copy-a-{}", std::process::id()));
///     let to = std::env::temp_dir().join(format!("heist-fs-copy-b-{}", std::process::id()));
///     heist::fs::write(&from, "twice").await?;
///     let copied = heist::fs::copy(&from, &to).await?;
///     # #[cfg(unix)] // (wine's CopyFileExW reports no progress: std's copy returns 0 there)
///     assert_eq!(copied, 5);
///     assert_eq!(heist::fs::read_to_string(&to).await?, "twice");
///     heist::fs::remove_file(&from).await?;
///     heist::fs::remove_file(&to).await
/// })
/// .unwrap();
/// ```
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    asyncify("heist::fs::copy", move || std::fs::copy(from, to)).await
}

/// The absolute form of `path` with every symbolic link resolved ([`std::fs::canonicalize`]).
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     let path = heist::fs::canonicalize(".").await?;
///     assert!(path.is_absolute());
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    asyncify("heist::fs::canonicalize", move || std::fs::canonicalize(path)).await
}

/// Makes `link` a new name (a hard link) for the file `original` ([`std::fs::hard_link`]).
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     let original = std::env::temp_dir().join(format!("heist-fs-hard-link-a-{}", std::process::id()));
///     let link = std::env::temp_dir().join(format!("heist-fs-hard-link-b-{}", std::process::id()));
///     heist::fs::write(&original, "shared").await?;
///     heist::fs::hard_link(&original, &link).await?;
///     assert_eq!(heist::fs::read_to_string(&link).await?, "shared");
///     heist::fs::remove_file(&original).await?;
///     heist::fs::remove_file(&link).await
/// })
/// .unwrap();
/// ```
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref().to_owned(), link.as_ref().to_owned());
    asyncify("heist::fs::hard_link", move || std::fs::hard_link(original, link)).await
}

/// Where the symbolic link `path` points ([`std::fs::read_link`]).
///
/// ```
/// # #[cfg(unix)] {
/// heist::Runtime::new().unwrap().block_on(async {
///     let link = std::env::temp_dir().join(format!("heist-fs-read-link-{}", std::process::id()));
///     std::os::unix::fs::symlink("/target/of/the/link", &link)?;
///     assert_eq!(heist::fs::read_link(&link).await?, std::path::Path::new("/target/of/the/link"));
///     heist::fs::remove_file(&link).await
/// })
/// .unwrap();
/// # }
/// ```
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    asyncify("heist::fs::read_link", move || std::fs::read_link(path)).await
}

/// Sets the permissions of `path` ([`std::fs::set_permissions`]).
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     let path = std::env::temp_dir().join(format!("heist-fs-permissions-{}", std::process::id()));
///     heist::fs::write(&path, "").await?;
///     let mut permissions = heist::fs::metadata(&path).await?.permissions();
///     permissions.set_readonly(true);
///     heist::fs::set_permissions(&path, permissions).await?;
///     assert!(heist::fs::metadata(&path).await?.permissions().readonly());
///     # // Windows deletes no read-only file.
///     # let mut permissions = heist::fs::metadata(&path).await?.permissions();
///     # #[allow(clippy::permissions_set_readonly_false)]
///     # permissions.set_readonly(false);
///     # heist::fs::set_permissions(&path, permissions).await?;
///     heist::fs::remove_file(&path).await
/// })
/// .unwrap();
/// ```
pub async fn set_permissions(path: impl AsRef<Path>, permissions: Permissions) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify("heist::fs::set_permissions", move || {
        std::fs::set_permissions(path, permissions)
    })
    .await
}

/// Whether `path` exists ([`std::fs::exists`]): `Ok(false)` if it does not, an error if
/// that cannot be known (e.g. a parent directory cannot be read). Broken symbolic links
/// count as missing.
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     assert!(heist::fs::try_exists(std::env::temp_dir()).await?);
///     assert!(!heist::fs::try_exists("/surely/not/here/heist").await?);
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    let path = path.as_ref().to_owned();
    asyncify("heist::fs::try_exists", move || path.try_exists()).await
}

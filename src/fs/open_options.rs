//! `OpenOptions`: `std::fs::OpenOptions` whose `open` runs on the blocking pool.

use super::{File, asyncify};
use std::io;
use std::path::Path;

/// How to open a file: [`std::fs::OpenOptions`], whose [`open`](OpenOptions::open) is one hop
/// to the blocking pool and gives a [`File`].
///
/// ```
/// use heist::io::AsyncWriteExt;
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let path = std::env::temp_dir().join(format!("heist-open-options-{}", std::process::id()));
///     heist::fs::write(&path, "log: ").await?;
///     let mut log = heist::fs::OpenOptions::new().append(true).open(&path).await?;
///     log.write_all(b"appended").await?;
///     log.flush().await?;
///     assert_eq!(heist::fs::read_to_string(&path).await?, "log: appended");
///     heist::fs::remove_file(&path).await
/// })
/// .unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions(std::fs::OpenOptions);

impl OpenOptions {
    /// Options with every mode off: set at least one of `read`, `write` or `append`.
    pub fn new() -> OpenOptions {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Opens for reading.
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.0.read(read);
        self
    }

    /// Opens for writing.
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.0.write(write);
        self
    }

    /// Opens for appending: every write goes to the end of the file.
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.0.append(append);
        self
    }

    /// Truncates the file to 0 bytes when it is opened (needs `write`).
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.0.truncate(truncate);
        self
    }

    /// Creates the file if it does not exist (needs `write` or `append`).
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.0.create(create);
        self
    }

    /// Creates the file, failing if it exists (needs `write` or `append`).
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.0.create_new(create_new);
        self
    }

    /// Unix only: the permission bits of a file this creates ([`std::os::unix::fs::OpenOptionsExt::mode`]).
    #[cfg(unix)]
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::mode(&mut self.0, mode);
        self
    }

    /// Unix only: extra `open(2)` flags ([`std::os::unix::fs::OpenOptionsExt::custom_flags`]).
    #[cfg(unix)]
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut self.0, flags);
        self
    }

    /// Opens the file at `path` with these options on the blocking pool.
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let (options, path) = (self.0.clone(), path.as_ref().to_owned());
        let std = asyncify("heist::fs::OpenOptions::open", move || options.open(path)).await?;
        Ok(File::from_std(std))
    }
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl From<std::fs::OpenOptions> for OpenOptions {
    fn from(options: std::fs::OpenOptions) -> OpenOptions {
        OpenOptions(options)
    }
}

//! What `tree_sum` (heist) and `tree_sum_tokio` share: the checksum, the command line, the
//! progress counters and line, and the summary. Only the walk and the reads differ.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Files read at once, by default: enough to keep a disk's queue full and the workers busy,
/// far below any open-file limit.
pub const DEFAULT_OPEN_FILES: usize = 64;

/// Bytes read per call: each chunk is hashed on a worker between reads, so one chunk's
/// hashing (about 0.1 ms) is the longest a worker is held.
pub const CHUNK: usize = 128 * 1024;

/// FNV-1a, 64 bits, over `bytes`, continuing from `hash` (start from [`FNV_OFFSET`]).
pub fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

/// FNV-1a's starting value.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// One file's result.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileSum {
    pub path: PathBuf,
    pub len: u64,
    pub fnv: u64,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Summary {
    pub files: Vec<FileSum>,
    /// Entries that could not be read (permissions, files removed while walking...), with why.
    pub errors: Vec<(PathBuf, std::io::Error)>,
    /// Symbolic links and other entries that are neither files nor directories: not followed.
    pub skipped: u64,
}

impl Summary {
    /// The tree's checksum: the wrapping sum of the files' FNV-1a hashes, so it does not
    /// depend on the order in which files finished.
    pub fn checksum(&self) -> u64 {
        self.files
            .iter()
            .fold(0u64, |sum, file| sum.wrapping_add(file.fnv))
    }

    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|file| file.len).sum()
    }
}

/// Counters the workers bump and the progress line reads.
#[derive(Debug, Default)]
pub struct Progress {
    pub files: AtomicU64,
    pub bytes: AtomicU64,
    pub open_now: AtomicUsize,
    /// The most files open at once: the bound the pool keeps, checked by the tests.
    pub open_max: AtomicUsize,
}

impl Progress {
    /// Call when a file is opened; the guard counts it closed when dropped.
    pub fn opened(&self) -> OpenFile<'_> {
        let now = self.open_now.fetch_add(1, Relaxed) + 1;
        self.open_max.fetch_max(now, Relaxed);
        OpenFile(self)
    }

    pub fn line(&self, started: Instant) -> String {
        let files = self.files.load(Relaxed);
        let mib = self.bytes.load(Relaxed) as f64 / (1024.0 * 1024.0);
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        format!(
            "{files} files, {mib:.1} MiB in {secs:.1} s ({:.0} files/s, {:.1} MiB/s), {} open",
            files as f64 / secs,
            mib / secs,
            self.open_now.load(Relaxed),
        )
    }
}

pub struct OpenFile<'a>(&'a Progress);

impl Drop for OpenFile<'_> {
    fn drop(&mut self) {
        self.0.open_now.fetch_sub(1, Relaxed);
    }
}

/// How often the progress line is redrawn: often on a terminal (in place), once a second
/// when stderr is a file or a pipe (a line each).
pub fn progress_period() -> Duration {
    if std::io::stderr().is_terminal() {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(1)
    }
}

pub fn print_progress(progress: &Progress, started: Instant) {
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K{}", progress.line(started));
    } else {
        eprintln!("{}", progress.line(started));
    }
}

/// The command line: `[DIR] [--open-files N] [--list]`.
pub struct Args {
    pub root: PathBuf,
    pub open_files: usize,
    /// Print every file's hash, sorted by path.
    pub list: bool,
}

pub fn parse_args(program: &str) -> Result<Args, String> {
    let usage = format!(
        "usage: {program} [DIR] [--open-files N] [--list]\n  \
         FNV-1a checksums of every file under DIR (default: the current directory), \
         at most N files open at once (default {DEFAULT_OPEN_FILES}); --list prints each file's"
    );
    let mut args = Args {
        root: PathBuf::from("."),
        open_files: DEFAULT_OPEN_FILES,
        list: false,
    };
    let mut root = None;
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "-h" | "--help" => return Err(usage),
            "--list" => args.list = true,
            "--open-files" => {
                let value = argv
                    .next()
                    .ok_or(format!("--open-files needs a number\n{usage}"))?;
                args.open_files = match value.parse() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        return Err(format!(
                            "--open-files {value}: give a whole number of at least 1\n{usage}"
                        ));
                    }
                };
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}\n{usage}")),
            _ if root.is_some() => return Err(format!("give one directory, not several\n{usage}")),
            _ => root = Some(PathBuf::from(arg)),
        }
    }
    if let Some(root) = root {
        args.root = root;
    }
    Ok(args)
}

/// Prints the summary to stdout (and the errors to stderr); returns whether there were none.
pub fn report(summary: &mut Summary, list: bool, started: Instant) -> bool {
    if list {
        summary.files.sort();
        for file in &summary.files {
            println!("{:016x}  {:>12}  {}", file.fnv, file.len, file.path.display());
        }
    }
    for (path, err) in &summary.errors {
        eprintln!("{}: {err}", path.display());
    }
    println!(
        "{} files, {} bytes, checksum {:016x} (sum of FNV-1a 64), {} skipped (links, devices), {} errors, {:.2} s",
        summary.files.len(),
        summary.bytes(),
        summary.checksum(),
        summary.skipped,
        summary.errors.len(),
        started.elapsed().as_secs_f64(),
    );
    summary.errors.is_empty()
}

//! `examples/tree_sum` on tokio, for comparison: the same walk, chunked reads and FNV-1a
//! hashing, with tokio's `fs` (also on its blocking pool) and a `JoinSet` whose spawns wait for
//! a `Semaphore` permit in place of heist's `TaskPool` (tokio has none).
//!
//! ```text
//! cargo run --release --example tree_sum_tokio -- ~/.cargo/registry/src
//! ```
//!
//! The command line, progress line and output are `tree_sum`'s (the code is shared:
//! `examples/tree_sum/shared.rs`). `TOKIO_WORKER_THREADS` sets the workers.

#[path = "tree_sum/shared.rs"]
mod shared;

use shared::{CHUNK, FNV_OFFSET, FileSum, Progress, Summary, fnv1a};
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinSet};

type FileResult = Result<FileSum, (PathBuf, io::Error)>;

fn main() -> ExitCode {
    let args = match shared::parse_args("tree_sum_tokio") {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("tree_sum_tokio: could not start the tokio runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let progress = Arc::new(Progress::default());
    let mut summary = runtime.block_on(async {
        let ticker = tokio::spawn({
            let progress = progress.clone();
            async move {
                let mut ticks = tokio::time::interval(shared::progress_period());
                ticks.tick().await; // the first tick is immediate
                loop {
                    ticks.tick().await;
                    shared::print_progress(&progress, started);
                }
            }
        });
        let summary = sum_tree(&args.root, args.open_files, progress.clone()).await;
        ticker.abort();
        summary
    });
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!("\r\x1b[K{}", progress.line(started));
    }
    if shared::report(&mut summary, args.list, started) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn sum_tree(root: &Path, open_files: usize, progress: Arc<Progress>) -> Summary {
    let mut summary = Summary::default();
    let slots = Arc::new(Semaphore::new(open_files));
    let mut tasks: JoinSet<FileResult> = JoinSet::new();
    let mut directories = vec![root.to_path_buf()];
    while let Some(directory) = directories.pop() {
        let mut entries = match tokio::fs::read_dir(&directory).await {
            Ok(entries) => entries,
            Err(err) => {
                summary.errors.push((directory, err));
                continue;
            }
        };
        loop {
            let entry = match entries.next_entry().await {
                Ok(Some(entry)) => entry,
                Ok(None) => break,
                Err(err) => {
                    summary.errors.push((directory.clone(), err));
                    break;
                }
            };
            let path = entry.path();
            match entry.file_type().await {
                Ok(file_type) if file_type.is_dir() => directories.push(path),
                Ok(file_type) if file_type.is_file() => {
                    let slot = slots
                        .clone()
                        .acquire_owned()
                        .await
                        .expect("the semaphore is never closed");
                    let progress = progress.clone();
                    tasks.spawn(async move {
                        let result = sum_file(path, progress).await;
                        drop(slot);
                        result
                    });
                    while let Some(result) = tasks.try_join_next() {
                        collect(&mut summary, result);
                    }
                }
                Ok(_) => summary.skipped += 1,
                Err(err) => summary.errors.push((path, err)),
            }
        }
    }
    while let Some(result) = tasks.join_next().await {
        collect(&mut summary, result);
    }
    summary
}

fn collect(summary: &mut Summary, result: Result<FileResult, JoinError>) {
    match result {
        Ok(Ok(file)) => summary.files.push(file),
        Ok(Err((path, err))) => summary.errors.push((path, err)),
        Err(err) => panic!("a checksum task failed: {err}"),
    }
}

async fn sum_file(path: PathBuf, progress: Arc<Progress>) -> FileResult {
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(err) => return Err((path, err)),
    };
    let _open = progress.opened();
    let mut buf = vec![0; CHUNK];
    let (mut hash, mut len) = (FNV_OFFSET, 0u64);
    loop {
        let n = match file.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) => return Err((path, err)),
        };
        hash = fnv1a(hash, &buf[..n]);
        len += n as u64;
        progress.bytes.fetch_add(n as u64, Relaxed);
    }
    progress.files.fetch_add(1, Relaxed);
    Ok(FileSum { path, len, fnv: hash })
}

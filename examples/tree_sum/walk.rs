//! The heist side: walk the tree with `heist::fs::read_dir`, and read and hash each file in a
//! task of a `TaskPool` that keeps at most `open_files` of them running.

use crate::shared::{CHUNK, FNV_OFFSET, FileSum, Progress, Summary, fnv1a};
use heist::io::AsyncReadExt;
use heist::task::{JoinError, TaskPool};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

type FileResult = Result<FileSum, (PathBuf, io::Error)>;

/// Checksums every file under `root` (not following symbolic links), with at most
/// `open_files` files open at once. Must run inside a heist runtime.
pub async fn sum_tree(root: &Path, open_files: usize, progress: Arc<Progress>) -> Summary {
    let mut summary = Summary::default();
    // Each task holds one open file, and a pool slot from spawn to finish: the pool's limit
    // is the bound on open files.
    let mut pool: TaskPool<FileResult> = TaskPool::new(open_files);
    let mut directories = vec![root.to_path_buf()];
    while let Some(directory) = directories.pop() {
        let mut entries = match heist::fs::read_dir(&directory).await {
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
                    // Waits while `open_files` files are being read.
                    pool.spawn(sum_file(path, progress.clone())).await;
                    // Take what finished so far: results do not pile up in the pool.
                    while let Some(result) = pool.try_join_next() {
                        collect(&mut summary, result);
                    }
                }
                Ok(_) => summary.skipped += 1,
                Err(err) => summary.errors.push((path, err)),
            }
        }
    }
    for result in pool.close().await {
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

/// Reads `path` a chunk at a time on the blocking pool and hashes each chunk here, on the
/// worker (the CPU part: about 0.1 ms per chunk, short enough not to hold up other tasks).
async fn sum_file(path: PathBuf, progress: Arc<Progress>) -> FileResult {
    let mut file = match heist::fs::File::open(&path).await {
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

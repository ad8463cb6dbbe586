//! `heist::fs` against `tokio::fs`, side by side in one run, each on its own runtime with the
//! same number of workers (`HEIST_BENCH_WORKERS`, default 2) and both on their blocking pools.
//!
//! - `fs_read_1000_small`: 1,000 tasks each read a 4 KiB file with `fs::read` (one blocking
//!   hop each), all at once; the iteration ends when every task has its bytes.
//! - `fs_read_256mib`: one 256 MiB file, read by one task, two ways: `read` (`fs::read`, one
//!   hop for the whole file) and `file_1mib` (`File::open` and `read` into a 1 MiB buffer
//!   until the end: one hop per MiB, the buffer moving to the pool and back each time).
//!
//! The files are written once, before the groups (outside the measured loops), under cargo's
//! `CARGO_TARGET_TMPDIR` (in `target/`), and removed at the end. They are in the page cache
//! when read: this measures the runtimes' hops and copies, not the disk.
//!
//! smol is not here: its `fs` is the `async-fs` crate, which is not a dependency of this tree.
//!
//! Run: `cargo bench --bench fs -- --warm-up-time 1 --measurement-time 3`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{Criterion, Throughput};

use common::{configure, heist_rt, tokio_rt};

const SMALL_FILES: usize = 1_000;
const SMALL_LEN: usize = 4 * 1024;
const BIG_LEN: usize = 256 * 1024 * 1024;
const CHUNK: usize = 1024 * 1024;

/// The bench's files, removed when dropped.
struct Files {
    dir: PathBuf,
    small: Arc<Vec<PathBuf>>,
    big: PathBuf,
}

impl Files {
    fn create() -> Files {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("heist-bench-fs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("small")).expect("create the bench's directory");
        let small: Vec<PathBuf> = (0..SMALL_FILES)
            .map(|i| {
                let path = dir.join(format!("small/{i:04}"));
                std::fs::write(&path, vec![i as u8; SMALL_LEN]).expect("write a small file");
                path
            })
            .collect();
        let big = dir.join("big");
        let block: Vec<u8> = (0..CHUNK).map(|i| i as u8).collect();
        let mut file = std::fs::File::create(&big).expect("create the big file");
        for _ in 0..BIG_LEN / CHUNK {
            std::io::Write::write_all(&mut file, &block).expect("write the big file");
        }
        Files {
            dir,
            small: Arc::new(small),
            big,
        }
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn read_small_heist(rt: &heist::Runtime, paths: &Arc<Vec<PathBuf>>) {
    let paths = paths.clone();
    let total = rt.block_on(async move {
        let tasks: Vec<_> = (0..paths.len())
            .map(|i| {
                let paths = paths.clone();
                heist::spawn(async move { heist::fs::read(&paths[i]).await.unwrap().len() })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        total
    });
    assert_eq!(total, SMALL_FILES * SMALL_LEN);
}

fn read_small_tokio(rt: &tokio::runtime::Runtime, paths: &Arc<Vec<PathBuf>>) {
    let paths = paths.clone();
    let total = rt.block_on(async move {
        let tasks: Vec<_> = (0..paths.len())
            .map(|i| {
                let paths = paths.clone();
                tokio::spawn(async move { tokio::fs::read(&paths[i]).await.unwrap().len() })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        total
    });
    assert_eq!(total, SMALL_FILES * SMALL_LEN);
}

fn read_big_whole_heist(rt: &heist::Runtime, path: &Path) {
    let path = path.to_owned();
    let len = rt
        .block_on(rt.spawn(async move { heist::fs::read(&path).await.unwrap().len() }))
        .unwrap();
    assert_eq!(len, BIG_LEN);
}

fn read_big_whole_tokio(rt: &tokio::runtime::Runtime, path: &Path) {
    let path = path.to_owned();
    let len = rt
        .block_on(rt.spawn(async move { tokio::fs::read(&path).await.unwrap().len() }))
        .unwrap();
    assert_eq!(len, BIG_LEN);
}

fn read_big_chunks_heist(rt: &heist::Runtime, path: &Path) {
    use heist::io::AsyncReadExt;
    let path = path.to_owned();
    let len = rt
        .block_on(rt.spawn(async move {
            let mut file = heist::fs::File::open(&path).await.unwrap();
            let mut buf = vec![0; CHUNK];
            let mut len = 0;
            loop {
                match file.read(&mut buf).await.unwrap() {
                    0 => break len,
                    n => len += n,
                }
            }
        }))
        .unwrap();
    assert_eq!(len, BIG_LEN);
}

fn read_big_chunks_tokio(rt: &tokio::runtime::Runtime, path: &Path) {
    use tokio::io::AsyncReadExt;
    let path = path.to_owned();
    let len = rt
        .block_on(rt.spawn(async move {
            let mut file = tokio::fs::File::open(&path).await.unwrap();
            let mut buf = vec![0; CHUNK];
            let mut len = 0;
            loop {
                match file.read(&mut buf).await.unwrap() {
                    0 => break len,
                    n => len += n,
                }
            }
        }))
        .unwrap();
    assert_eq!(len, BIG_LEN);
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let files = Files::create();
    {
        let mut g = configure(&mut c, "fs_read_1000_small", SMALL_FILES, 20);
        let rt = heist_rt();
        g.bench_function("heist", |b| b.iter(|| read_small_heist(&rt, &files.small)));
        drop(rt);
        let rt = tokio_rt();
        g.bench_function("tokio", |b| b.iter(|| read_small_tokio(&rt, &files.small)));
        g.finish();
    }
    {
        let mut g = configure(&mut c, "fs_read_256mib", 1, 10);
        g.throughput(Throughput::Bytes(BIG_LEN as u64));
        // Interleaved (heist, tokio, heist, tokio), so that neither runtime always runs right
        // after the 256 MiB allocations of the whole-file reads.
        let (heist, tokio) = (heist_rt(), tokio_rt());
        g.bench_function("heist/read", |b| {
            b.iter(|| read_big_whole_heist(&heist, &files.big))
        });
        g.bench_function("tokio/read", |b| {
            b.iter(|| read_big_whole_tokio(&tokio, &files.big))
        });
        g.bench_function("heist/file_1mib", |b| {
            b.iter(|| read_big_chunks_heist(&heist, &files.big))
        });
        g.bench_function("tokio/file_1mib", |b| {
            b.iter(|| read_big_chunks_tokio(&tokio, &files.big))
        });
        g.finish();
    }
    c.final_summary();
    drop(files);
}

//! `examples/tree_sum`: its walk over a generated tree gives every file's checksum, the same
//! as a sequential computation, with no more files open at once than asked.

#[allow(dead_code)] // the command line and printing are the example's, not the test's
#[path = "../examples/tree_sum/shared.rs"]
mod shared;
#[path = "../examples/tree_sum/walk.rs"]
mod walk;

mod common;

use common::run_with_timeout;
use shared::{FNV_OFFSET, FileSum, Progress, fnv1a};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

/// Directories three deep, files of many sizes: empty, tiny, and several chunks long.
fn generate_tree(root: &Path) {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for a in 0..4 {
        for b in 0..3 {
            let dir = root.join(format!("d{a}/e{b}"));
            std::fs::create_dir_all(&dir).unwrap();
            for f in 0..12 {
                let len = match f {
                    0 => 0,
                    1 => 3 * shared::CHUNK + 17,
                    _ => (next() % 9000) as usize,
                };
                let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                std::fs::write(dir.join(format!("f{f}")), bytes).unwrap();
            }
        }
        std::fs::write(root.join(format!("top{a}")), format!("file at the top {a}")).unwrap();
    }
    std::fs::create_dir_all(root.join("empty/dir")).unwrap();
}

/// The reference: every regular file under `root`, read and hashed one after the other.
fn sequential(root: &Path, out: &mut Vec<FileSum>) {
    for entry in std::fs::read_dir(root).unwrap() {
        let entry = entry.unwrap();
        let file_type = entry.file_type().unwrap();
        if file_type.is_dir() {
            sequential(&entry.path(), out);
        } else if file_type.is_file() {
            let bytes = std::fs::read(entry.path()).unwrap();
            out.push(FileSum {
                path: entry.path(),
                len: bytes.len() as u64,
                fnv: fnv1a(FNV_OFFSET, &bytes),
            });
        }
    }
}

#[test]
fn tree_sum_matches_a_sequential_computation_and_bounds_open_files() {
    run_with_timeout("tree_sum", || {
        let root: PathBuf = std::env::temp_dir().join(format!("heist-test-tree-sum-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        generate_tree(&root);
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join("d0"), root.join("link-to-d0")).unwrap();

        let mut expected = Vec::new();
        sequential(&root, &mut expected);
        expected.sort();
        assert_eq!(expected.len(), 4 * 3 * 12 + 4);

        let open_files = 3;
        let progress = Arc::new(Progress::default());
        let runtime = heist::runtime::Builder::new().worker_threads(2).build().unwrap();
        let mut summary = runtime.block_on(walk::sum_tree(&root, open_files, progress.clone()));
        let _ = std::fs::remove_dir_all(&root);

        assert!(summary.errors.is_empty(), "{:?}", summary.errors);
        summary.files.sort();
        assert_eq!(summary.files, expected);
        assert_eq!(
            summary.skipped,
            if cfg!(unix) { 1 } else { 0 },
            "the symbolic link is not followed"
        );
        assert_eq!(progress.files.load(Relaxed), expected.len() as u64);
        assert_eq!(
            progress.bytes.load(Relaxed),
            expected.iter().map(|f| f.len).sum::<u64>()
        );
        let open_max = progress.open_max.load(Relaxed);
        assert!(
            open_max <= open_files,
            "{open_max} files were open at once, more than the {open_files} allowed"
        );
        assert_eq!(progress.open_now.load(Relaxed), 0);
        assert_eq!(
            summary.checksum(),
            expected.iter().fold(0u64, |sum, f| sum.wrapping_add(f.fnv))
        );
    });
}

#[test]
fn tree_sum_reports_a_missing_root() {
    run_with_timeout("tree_sum_missing", || {
        let root = std::env::temp_dir().join(format!("heist-test-tree-sum-missing-{}", std::process::id()));
        let runtime = heist::Runtime::new().unwrap();
        let summary = runtime.block_on(walk::sum_tree(&root, 4, Arc::new(Progress::default())));
        assert!(summary.files.is_empty());
        assert_eq!(summary.errors.len(), 1);
        assert_eq!(summary.errors[0].0, root);
        assert_eq!(summary.errors[0].1.kind(), std::io::ErrorKind::NotFound);
    });
}

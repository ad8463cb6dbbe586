//! `heist::fs`: the whole-file calls, `File` (reads, buffered writes, seeks, errors of
//! background writes, runtimes that shut down) and `read_dir`.

mod common;

use common::{WAIT, run_with_timeout, runtime};
use futures_lite::StreamExt;
use heist::fs::{self, File, OpenOptions};
use heist::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, ErrorKind, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// A fresh directory under the system's temp dir, removed (with its contents) on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("heist-test-fs-{name}-{}-{unique}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the test's temp dir");
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Bytes that differ at every offset of a few MiB, so a misplaced chunk shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i / 251 % 256) as u8)
        .collect()
}

/// Occupies the only thread of a runtime built with `max_blocking_threads(1)` until the
/// returned sender is dropped or sent to, so that the next blocking job stays queued.
fn occupy_blocking_pool(rt: &heist::Runtime) -> mpsc::Sender<()> {
    let (release, released) = mpsc::channel::<()>();
    let (started, running) = mpsc::channel();
    drop(rt.spawn_blocking(move || {
        started.send(()).unwrap();
        let _ = released.recv();
    }));
    running
        .recv_timeout(WAIT)
        .expect("the blocking job never started");
    release
}

fn single_blocking_thread_runtime() -> heist::Runtime {
    heist::runtime::Builder::new()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .unwrap()
}

#[test]
fn whole_file_calls() {
    run_with_timeout("whole_file_calls", || {
        let dir = TempDir::new("whole");
        runtime(2).block_on(async {
            let a = dir.join("a");
            fs::write(&a, b"alpha").await.unwrap();
            assert_eq!(fs::read(&a).await.unwrap(), b"alpha");
            assert_eq!(fs::read_to_string(&a).await.unwrap(), "alpha");
            let metadata = fs::metadata(&a).await.unwrap();
            assert!(metadata.is_file());
            assert_eq!(metadata.len(), 5);
            assert!(fs::symlink_metadata(&a).await.unwrap().is_file());

            // Not UTF-8.
            fs::write(&a, [0xff, 0xfe]).await.unwrap();
            assert_eq!(
                fs::read_to_string(&a).await.unwrap_err().kind(),
                ErrorKind::InvalidData
            );
            fs::write(&a, "alpha").await.unwrap();

            let b = dir.join("b");
            // What std says: 5 bytes, except under wine, whose CopyFileExW reports 0 to std.
            let copied = fs::copy(&a, &b).await.unwrap();
            assert_eq!(copied, std::fs::copy(&a, dir.join("b-by-std")).unwrap());
            if cfg!(unix) {
                assert_eq!(copied, 5);
            }
            assert_eq!(fs::read(&b).await.unwrap(), b"alpha");
            let c = dir.join("c");
            fs::rename(&b, &c).await.unwrap();
            assert!(!fs::try_exists(&b).await.unwrap());
            assert!(fs::try_exists(&c).await.unwrap());
            let linked = dir.join("linked");
            fs::hard_link(&c, &linked).await.unwrap();
            assert_eq!(fs::read(&linked).await.unwrap(), b"alpha");

            let nested = dir.join("x/y/z");
            fs::create_dir_all(&nested).await.unwrap();
            fs::create_dir_all(&nested).await.unwrap(); // exists already: fine
            assert!(fs::metadata(&nested).await.unwrap().is_dir());
            assert_eq!(
                fs::create_dir(&nested).await.unwrap_err().kind(),
                ErrorKind::AlreadyExists
            );
            fs::create_dir(dir.join("x/y/w")).await.unwrap();
            fs::remove_dir(dir.join("x/y/w")).await.unwrap();
            fs::write(nested.join("f"), "deep").await.unwrap();
            assert!(fs::remove_dir(dir.join("x")).await.is_err()); // not empty
            fs::remove_dir_all(dir.join("x")).await.unwrap();
            assert!(!fs::try_exists(dir.join("x")).await.unwrap());

            let canonical = fs::canonicalize(&c).await.unwrap();
            assert!(canonical.is_absolute());
            assert_eq!(canonical, std::fs::canonicalize(&c).unwrap());

            let writable = fs::metadata(&c).await.unwrap().permissions();
            let mut read_only = writable.clone();
            read_only.set_readonly(true);
            fs::set_permissions(&c, read_only).await.unwrap();
            assert!(fs::metadata(&c).await.unwrap().permissions().readonly());
            fs::set_permissions(&c, writable).await.unwrap();
            assert!(!fs::metadata(&c).await.unwrap().permissions().readonly());

            fs::remove_file(&c).await.unwrap();
            fs::remove_file(&linked).await.unwrap();
            assert_eq!(fs::read(&c).await.unwrap_err().kind(), ErrorKind::NotFound);
            assert_eq!(fs::remove_file(&c).await.unwrap_err().kind(), ErrorKind::NotFound);
            assert_eq!(fs::metadata(&c).await.unwrap_err().kind(), ErrorKind::NotFound);
        });
    });
}

#[cfg(unix)]
#[test]
fn symbolic_links() {
    run_with_timeout("symbolic_links", || {
        let dir = TempDir::new("symlinks");
        runtime(1).block_on(async {
            let target = dir.join("target");
            fs::write(&target, "pointed to").await.unwrap();
            let link = dir.join("link");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            assert_eq!(fs::read_link(&link).await.unwrap(), target);
            assert!(
                fs::symlink_metadata(&link)
                    .await
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
            assert!(fs::metadata(&link).await.unwrap().is_file());
            assert_eq!(
                fs::canonicalize(&link).await.unwrap(),
                fs::canonicalize(&target).await.unwrap()
            );
            fs::remove_file(&target).await.unwrap();
            // A broken link does not "exist".
            assert!(!fs::try_exists(&link).await.unwrap());
            assert_eq!(
                fs::read_link(&target).await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
        });
    });
}

#[test]
fn file_writes_reads_and_seeks_across_buffer_sizes() {
    run_with_timeout("file_round_trip", || {
        let dir = TempDir::new("round-trip");
        runtime(2).block_on(async {
            let path = dir.join("big");
            // Bigger than one hop's 2 MiB, and not a multiple of it.
            let data = pattern(5 * 1024 * 1024 + 123);
            let mut file = File::create(&path).await.unwrap();
            file.write_all(&data).await.unwrap();
            file.flush().await.unwrap();
            assert_eq!(file.metadata().await.unwrap().len(), data.len() as u64);
            drop(file);

            let mut file = File::open(&path).await.unwrap();
            let mut read = Vec::new();
            assert_eq!(file.read_to_end(&mut read).await.unwrap(), data.len());
            assert!(read == data, "the bytes read back differ from those written");
            // At the end: reads return 0.
            assert_eq!(file.read(&mut [0; 16]).await.unwrap(), 0);

            assert_eq!(file.seek(SeekFrom::Start(1000)).await.unwrap(), 1000);
            let mut chunk = [0; 100];
            file.read_exact(&mut chunk).await.unwrap();
            assert_eq!(chunk[..], data[1000..1100]);
            assert_eq!(file.seek(SeekFrom::Current(-50)).await.unwrap(), 1050);
            file.read_exact(&mut chunk).await.unwrap();
            assert_eq!(chunk[..], data[1050..1150]);
            assert_eq!(
                file.seek(SeekFrom::End(-10)).await.unwrap(),
                data.len() as u64 - 10
            );
            let mut tail = Vec::new();
            file.read_to_end(&mut tail).await.unwrap();
            assert_eq!(tail[..], data[data.len() - 10..]);
            assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), data.len() as u64);
            // Before the start: an error (EINVAL on Unix; Windows has its own code).
            let before_start = file.seek(SeekFrom::Current(-(data.len() as i64) - 1)).await;
            let err = before_start.expect_err("a seek before the start of the file succeeded");
            if cfg!(unix) {
                assert_eq!(err.kind(), ErrorKind::InvalidInput);
            }
        });
    });
}

#[test]
fn writes_and_reads_interleave_at_the_callers_position() {
    run_with_timeout("interleave", || {
        let dir = TempDir::new("interleave");
        runtime(2).block_on(async {
            let path = dir.join("f");
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .await
                .unwrap();
            file.write_all(b"0123456789").await.unwrap();
            file.seek(SeekFrom::Start(2)).await.unwrap();
            let mut two = [0; 2];
            file.read_exact(&mut two).await.unwrap();
            assert_eq!(&two, b"23");
            // A write right after a read goes where the read stopped.
            file.write_all(b"ab").await.unwrap();
            file.read_exact(&mut two).await.unwrap();
            assert_eq!(&two, b"67");
            file.flush().await.unwrap();
            assert_eq!(fs::read(&path).await.unwrap(), b"0123ab6789");
        });
    });
}

/// A read that was started (and abandoned) with a bigger buffer leaves bytes read ahead of
/// the caller: a later write, seek, `set_len` and `into_std` must use the caller's position,
/// not the file's.
#[test]
fn bytes_read_ahead_do_not_move_the_callers_position() {
    run_with_timeout("read_ahead", || {
        let dir = TempDir::new("read-ahead");
        let rt = single_blocking_thread_runtime();
        let path = dir.join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let mut file = rt
            .block_on(OpenOptions::new().read(true).write(true).open(&path))
            .unwrap();

        // A 10-byte read starts while the pool's one thread is busy, so it stays queued and
        // the first poll is Pending; then the caller gives up on it.
        let release = occupy_blocking_pool(&rt);
        rt.block_on(async {
            let mut ten = [0; 10];
            assert!(
                futures_lite::future::poll_once(file.read(&mut ten))
                    .await
                    .is_none()
            );
        });
        release.send(()).unwrap();

        rt.block_on(async {
            // The abandoned read's bytes are handed out first: 4 of the 10.
            let mut four = [0; 4];
            file.read_exact(&mut four).await.unwrap();
            assert_eq!(&four, b"0123");
            assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), 4);
            file.read_exact(&mut four[..2]).await.unwrap();
            assert_eq!(&four[..2], b"45");
        });

        // Again, then a write: it lands at the caller's position 2, not at 10.
        rt.block_on(file.seek(SeekFrom::Start(0))).unwrap();
        let release = occupy_blocking_pool(&rt);
        rt.block_on(async {
            let mut ten = [0; 10];
            assert!(
                futures_lite::future::poll_once(file.read(&mut ten))
                    .await
                    .is_none()
            );
        });
        release.send(()).unwrap();
        rt.block_on(async {
            let mut two = [0; 2];
            file.read_exact(&mut two).await.unwrap();
            assert_eq!(&two, b"01");
            file.write_all(b"ab").await.unwrap();
            file.flush().await.unwrap();
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"01ab456789");

        // And `into_std`: the std file continues where the caller stopped.
        rt.block_on(file.seek(SeekFrom::Start(0))).unwrap();
        let release = occupy_blocking_pool(&rt);
        rt.block_on(async {
            let mut ten = [0; 10];
            assert!(
                futures_lite::future::poll_once(file.read(&mut ten))
                    .await
                    .is_none()
            );
        });
        release.send(()).unwrap();
        let mut std_file = rt.block_on(async {
            let mut three = [0; 3];
            file.read_exact(&mut three).await.unwrap();
            assert_eq!(&three, b"01a");
            file.into_std().await
        });
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut std_file, &mut rest).unwrap();
        assert_eq!(rest, "b456789");
    });
}

#[test]
fn writes_are_buffered_until_flush_and_their_errors_reported_later() {
    run_with_timeout("write_errors", || {
        let dir = TempDir::new("write-errors");
        let rt = runtime(1);
        let path = dir.join("read-only");
        std::fs::write(&path, b"original").unwrap();
        rt.block_on(async {
            // Opened for reading only: the write fails on the blocking pool.
            let mut file = File::open(&path).await.unwrap();
            // `write` hands the bytes over and succeeds...
            assert_eq!(file.write(b"x").await.unwrap(), 1);
            // ...and the next call reports the failure, once.
            assert!(file.flush().await.is_err());
            file.flush().await.unwrap();
            // A write's error is also reported by a read that comes next.
            assert_eq!(file.write(b"x").await.unwrap(), 1);
            assert!(file.read(&mut [0; 4]).await.is_err());
            let mut contents = String::new();
            file.read_to_string(&mut contents).await.unwrap();
            assert_eq!(contents, "original");
            // And by sync_all.
            assert_eq!(file.write(b"x").await.unwrap(), 1);
            assert!(file.sync_all().await.is_err());
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"original");
    });
}

#[test]
fn metadata_waits_for_the_write_in_flight() {
    run_with_timeout("metadata_waits", || {
        let dir = TempDir::new("metadata-waits");
        let rt = single_blocking_thread_runtime();
        let path = dir.join("f");
        let mut file = rt.block_on(File::create(&path)).unwrap();
        // The write stays queued behind the busy thread until released.
        let release = occupy_blocking_pool(&rt);
        rt.block_on(file.write_all(b"12345")).unwrap();
        release.send(()).unwrap();
        assert_eq!(rt.block_on(file.metadata()).unwrap().len(), 5);
    });
}

#[test]
fn set_len_sync_and_try_clone() {
    run_with_timeout("set_len", || {
        let dir = TempDir::new("set-len");
        runtime(2).block_on(async {
            let path = dir.join("f");
            let mut file = File::create_new(&path).await.unwrap();
            assert_eq!(
                File::create_new(&path).await.unwrap_err().kind(),
                ErrorKind::AlreadyExists
            );
            file.write_all(b"0123456789").await.unwrap();
            // set_len waits for the write, then truncates.
            file.set_len(4).await.unwrap();
            file.sync_all().await.unwrap();
            file.sync_data().await.unwrap();
            assert_eq!(fs::read(&path).await.unwrap(), b"0123");
            file.set_len(6).await.unwrap();
            assert_eq!(fs::read(&path).await.unwrap(), b"0123\0\0");

            // A clone shares the position.
            let mut clone = file.try_clone().await.unwrap();
            file.seek(SeekFrom::Start(1)).await.unwrap();
            assert_eq!(clone.seek(SeekFrom::Current(0)).await.unwrap(), 1);
            let mut two = [0; 2];
            clone.read_exact(&mut two).await.unwrap();
            assert_eq!(&two, b"12");
        });
    });
}

#[test]
fn std_files_convert_both_ways() {
    run_with_timeout("std_conversions", || {
        let dir = TempDir::new("std");
        let path = dir.join("f");
        std::fs::write(&path, b"hello").unwrap();
        // `from_std` needs no runtime.
        let mut file = File::from_std(std::fs::File::open(&path).unwrap());
        let mut file = runtime(1).block_on(async move {
            let mut two = [0; 2];
            file.read_exact(&mut two).await.unwrap();
            assert_eq!(&two, b"he");
            file
        });
        // Idle, nothing read ahead: the std file comes back as is.
        let mut std_file = match file.try_into_std() {
            Ok(std_file) => std_file,
            Err(file) => panic!("try_into_std refused an idle file: {file:?}"),
        };
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut std_file, &mut rest).unwrap();
        assert_eq!(rest, "llo");
        file = File::from(std_file);
        // Busy: refused.
        let rt = single_blocking_thread_runtime();
        let release = occupy_blocking_pool(&rt);
        rt.block_on(async {
            assert!(
                futures_lite::future::poll_once(file.seek(SeekFrom::Start(0)))
                    .await
                    .is_none()
            );
        });
        let file = file
            .try_into_std()
            .expect_err("try_into_std gave away a file with a seek in flight");
        release.send(()).unwrap();
        let std_file = rt.block_on(file.into_std());
        assert_eq!(std::io::Seek::stream_position(&mut &std_file).unwrap(), 0);
    });
}

#[test]
fn append_mode_writes_at_the_end() {
    run_with_timeout("append", || {
        let dir = TempDir::new("append");
        runtime(1).block_on(async {
            let path = dir.join("log");
            fs::write(&path, "a").await.unwrap();
            let mut log = OpenOptions::new().append(true).open(&path).await.unwrap();
            log.write_all(b"b").await.unwrap();
            log.write_all(b"c").await.unwrap();
            log.close().await.unwrap();
            assert_eq!(fs::read_to_string(&path).await.unwrap(), "abc");
            assert_eq!(
                OpenOptions::new()
                    .read(true)
                    .open(dir.join("missing"))
                    .await
                    .unwrap_err()
                    .kind(),
                ErrorKind::NotFound
            );
        });
    });
}

#[test]
fn read_dir_lists_every_entry_across_batches() {
    run_with_timeout("read_dir", || {
        let dir = TempDir::new("read-dir");
        // More entries than one batch of 32, and a directory.
        for i in 0..100 {
            std::fs::write(dir.join(&format!("file{i:03}")), i.to_string()).unwrap();
        }
        std::fs::create_dir(dir.join("sub")).unwrap();
        runtime(2).block_on(async {
            let mut entries = fs::read_dir(&dir.0).await.unwrap();
            let mut names = Vec::new();
            while let Some(entry) = entries.next_entry().await.unwrap() {
                let name = entry.file_name().into_string().unwrap();
                assert_eq!(entry.path(), dir.join(&name));
                let file_type = entry.file_type().await.unwrap();
                assert_eq!(file_type.is_dir(), name == "sub", "{name}");
                let metadata = entry.metadata().await.unwrap();
                assert_eq!(metadata.is_file(), name != "sub");
                if name != "sub" {
                    assert_eq!(
                        metadata.len(),
                        name[4..].parse::<u32>().unwrap().to_string().len() as u64
                    );
                }
                names.push(name);
            }
            // The end stays the end.
            assert!(entries.next_entry().await.unwrap().is_none());
            names.sort();
            let mut expected: Vec<String> = (0..100).map(|i| format!("file{i:03}")).collect();
            expected.push("sub".into());
            assert_eq!(names, expected);

            let streamed: Vec<_> = fs::read_dir(&dir.0).await.unwrap().collect().await;
            assert_eq!(streamed.len(), 101);
            assert!(streamed.iter().all(Result::is_ok));

            let empty = dir.join("sub");
            assert!(
                fs::read_dir(&empty)
                    .await
                    .unwrap()
                    .next_entry()
                    .await
                    .unwrap()
                    .is_none()
            );
            assert_eq!(
                fs::read_dir(dir.join("missing")).await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
            assert!(fs::read_dir(dir.join("file000")).await.is_err());
        });
    });
}

fn assert_outside_runtime_error(result: std::io::Result<impl std::fmt::Debug>, what: &str) {
    let err = result.expect_err("a heist::fs call outside a runtime succeeded");
    assert_eq!(err.kind(), ErrorKind::Other);
    let message = err.to_string();
    assert!(message.contains(what), "{message}");
    assert!(message.contains("outside a heist runtime"), "{message}");
}

#[test]
fn calls_outside_a_runtime_fail_with_a_clear_error() {
    run_with_timeout("outside_runtime", || {
        let dir = TempDir::new("outside");
        let path = dir.join("f");
        std::fs::write(&path, "x").unwrap();
        use futures_lite::future::block_on;
        assert_outside_runtime_error(block_on(fs::read(&path)), "heist::fs::read");
        assert_outside_runtime_error(block_on(fs::write(&path, "y")), "heist::fs::write");
        assert_outside_runtime_error(block_on(File::open(&path)), "heist::fs::OpenOptions::open");
        assert_outside_runtime_error(block_on(fs::read_dir(&dir.0)), "heist::fs::read_dir");

        let mut file = File::from_std(std::fs::File::open(&path).unwrap());
        assert_outside_runtime_error(block_on(file.read(&mut [0; 1])), "heist::fs::File read");
        assert_outside_runtime_error(block_on(file.seek(SeekFrom::End(0))), "heist::fs::File seek");
        assert_outside_runtime_error(block_on(file.metadata()), "heist::fs::File::metadata");
        // Nothing was lost: the same file works inside a runtime.
        let contents = runtime(1).block_on(async {
            let mut contents = String::new();
            file.read_to_string(&mut contents).await.map(|_| contents)
        });
        assert_eq!(contents.unwrap(), "x");
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
    });
}

/// A write handed to a runtime that shuts down before running it is lost: the file's next
/// call says so (in any runtime), and the file keeps working there.
#[test]
fn a_write_cancelled_by_shutdown_is_reported_by_the_next_call() {
    run_with_timeout("cancelled_by_shutdown", || {
        let dir = TempDir::new("shutdown");
        let path = dir.join("f");
        let rt = single_blocking_thread_runtime();
        let mut file = rt.block_on(File::create(&path)).unwrap();
        let release = occupy_blocking_pool(&rt);
        // Accepted, and queued behind the busy thread.
        assert_eq!(rt.block_on(file.write(b"lost")).unwrap(), 4);
        rt.shutdown_timeout(Duration::ZERO);
        release.send(()).unwrap();

        let rt = runtime(1);
        rt.block_on(async {
            let err = file
                .flush()
                .await
                .expect_err("a write cancelled by shutdown was reported as written");
            let message = err.to_string();
            assert!(message.contains("heist::fs::File write"), "{message}");
            assert!(message.contains("shut down"), "{message}");
            file.write_all(b"kept").await.unwrap();
            file.flush().await.unwrap();
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"kept");
    });
}

/// A call awaited in a runtime that was already shut down fails, rather than hanging.
#[test]
fn calls_on_a_shut_down_runtime_fail() {
    run_with_timeout("shut_down_runtime", || {
        let dir = TempDir::new("after-shutdown");
        let rt = runtime(1);
        let handle = rt.handle().clone();
        rt.shutdown_timeout(Duration::ZERO);
        // Entered, but shut down: the blocking job is cancelled at once.
        let _guard = handle.enter();
        let err = futures_lite::future::block_on(fs::write(dir.join("f"), "x")).unwrap_err();
        assert!(err.to_string().contains("shut down"), "{err}");
        assert!(!Path::new(&dir.join("f")).exists());
    });
}

//! `heist::net::unix::pipe`: anonymous pipes, FIFOs opened by path, descriptors taken over
//! (with the checks that they are pipes open in the right direction), and the readiness API.
#![cfg(unix)]

mod common;

use common::{run_with_timeout, runtime};
use futures_lite::future::{poll_once, zip};
use heist::io::{AsyncReadExt, AsyncWriteExt, Interest};
use heist::net::unix::pipe;
use std::ffi::CString;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::pin::pin;

/// A FIFO in the temporary directory, removed when dropped.
struct Fifo(PathBuf);

impl Fifo {
    fn new(tag: &str) -> Fifo {
        let path = std::env::temp_dir().join(format!("heist-fifo-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let c_path = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid C string.
        let made = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
        assert_eq!(made, 0, "mkfifo: {}", io::Error::last_os_error());
        Fifo(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn anonymous_pipe_carries_a_large_write_and_then_the_end() {
    run_with_timeout("anonymous_pipe", || {
        runtime(2).block_on(async {
            let (mut sender, mut receiver) = pipe::pipe().unwrap();
            // More than a pipe holds (64 KiB on Linux): the writer must wait for the reader.
            let data = payload(1 << 20);
            let writer = heist::spawn({
                let data = data.clone();
                async move {
                    sender.write_all(&data).await.unwrap();
                    // Dropped: the reader sees the end.
                }
            });
            let mut got = Vec::new();
            receiver.read_to_end(&mut got).await.unwrap();
            writer.await.unwrap();
            assert!(
                got == data,
                "the pipe altered the bytes ({} of {})",
                got.len(),
                data.len()
            );
        });
    });
}

#[test]
fn pipe_ends_are_close_on_exec_and_non_blocking_until_made_blocking() {
    run_with_timeout("pipe_flags", || {
        runtime(1).block_on(async {
            let (sender, receiver) = pipe::pipe().unwrap();
            for fd in [sender.as_raw_fd(), receiver.as_raw_fd()] {
                // SAFETY: fcntl on open descriptors, reading flags only.
                let (fd_flags, fl_flags) =
                    unsafe { (libc::fcntl(fd, libc::F_GETFD), libc::fcntl(fd, libc::F_GETFL)) };
                assert!(fd_flags & libc::FD_CLOEXEC != 0, "not close-on-exec");
                assert!(fl_flags & libc::O_NONBLOCK != 0, "blocking");
            }
            let fd = receiver.into_blocking_fd().unwrap();
            // SAFETY: as above.
            let fl_flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
            assert!(
                fl_flags & libc::O_NONBLOCK == 0,
                "into_blocking_fd left it non-blocking"
            );
            let fd = sender.into_nonblocking_fd().unwrap();
            // SAFETY: as above.
            let fl_flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
            assert!(fl_flags & libc::O_NONBLOCK != 0);
        });
    });
}

#[test]
fn fifo_opened_by_path_carries_bytes() {
    run_with_timeout("fifo_by_path", || {
        runtime(1).block_on(async {
            let fifo = Fifo::new("path");
            // No reader yet: the sender cannot open, and the error says what to do.
            let error = pipe::OpenOptions::new()
                .open_sender(fifo.path())
                .expect_err("no reader");
            assert!(error.to_string().contains("open the receiver first"), "{error}");

            let mut receiver = pipe::OpenOptions::new().open_receiver(fifo.path()).unwrap();
            let mut sender = pipe::OpenOptions::new().open_sender(fifo.path()).unwrap();
            sender.write_all(b"through the fifo").await.unwrap();
            drop(sender);
            let mut got = String::new();
            receiver.read_to_string(&mut got).await.unwrap();
            assert_eq!(got, "through the fifo");
        });
    });
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn fifo_opened_read_write_needs_no_reader_and_never_ends() {
    run_with_timeout("fifo_read_write", || {
        runtime(1).block_on(async {
            let fifo = Fifo::new("rw");
            let sender = pipe::OpenOptions::new()
                .read_write(true)
                .open_sender(fifo.path())
                .unwrap();
            let receiver = pipe::OpenOptions::new()
                .read_write(true)
                .open_receiver(fifo.path())
                .unwrap();
            sender.writable().await.unwrap();
            assert_eq!(sender.try_write(b"rw").unwrap(), 2);
            drop(sender);
            let mut buf = [0; 2];
            (&receiver).read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"rw");
            // The receiver is a writer too: no end of stream, the read waits.
            let mut more = [0; 1];
            assert!(poll_once(pin!((&receiver).read(&mut more))).await.is_none());
        });
    });
}

#[test]
fn from_file_checks_for_a_pipe_open_in_the_right_direction() {
    run_with_timeout("pipe_from_file_checks", || {
        runtime(1).block_on(async {
            // A regular file is refused, by both ends and by open_*.
            let plain = std::env::temp_dir().join(format!("heist-not-a-fifo-{}", std::process::id()));
            std::fs::write(&plain, b"plain").unwrap();
            let error =
                pipe::Sender::from_file(std::fs::OpenOptions::new().write(true).open(&plain).unwrap())
                    .expect_err("a regular file");
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
            assert!(error.to_string().contains("not a pipe or FIFO"), "{error}");
            let error =
                pipe::Receiver::from_file(std::fs::File::open(&plain).unwrap()).expect_err("a regular file");
            assert!(error.to_string().contains("not a pipe or FIFO"), "{error}");
            let error = pipe::OpenOptions::new()
                .open_receiver(&plain)
                .expect_err("a regular file");
            assert!(error.to_string().contains("not a pipe or FIFO"), "{error}");
            std::fs::remove_file(&plain).unwrap();

            // A FIFO opened read-only cannot be a Sender, nor write-only a Receiver.
            let fifo = Fifo::new("from-file");
            let read_only = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(fifo.path())
                .unwrap();
            let error = pipe::Sender::from_file(read_only.try_clone().unwrap()).expect_err("read-only");
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
            assert!(error.to_string().contains("opened for writing"), "{error}");
            let write_only = std::fs::OpenOptions::new().write(true).open(fifo.path()).unwrap();
            let error = pipe::Receiver::from_owned_fd(write_only.try_clone().unwrap().into())
                .expect_err("write-only");
            assert!(error.to_string().contains("opened for reading"), "{error}");

            // The right directions are taken over (and made non-blocking: the write-only
            // end was opened blocking).
            let mut receiver = pipe::Receiver::from_file(read_only).unwrap();
            let mut sender = pipe::Sender::from_file(write_only).unwrap();
            sender.write_all(b"taken over").await.unwrap();
            drop(sender);
            let mut got = Vec::new();
            receiver.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"taken over");
        });
    });
}

#[test]
fn pipe_readiness_and_try_calls() {
    run_with_timeout("pipe_readiness", || {
        runtime(1).block_on(async {
            let (sender, receiver) = pipe::pipe().unwrap();
            let mut buf = [0; 8];
            // Empty: WouldBlock, which clears readiness, so the wait parks (a second try in
            // case the registration's event raced the first clear).
            let mut parked = false;
            for _ in 0..2 {
                let error = receiver.try_read(&mut buf).expect_err("empty");
                assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
                if poll_once(pin!(receiver.ready(Interest::READABLE)))
                    .await
                    .is_none()
                {
                    parked = true;
                    break;
                }
            }
            assert!(parked, "WouldBlock did not clear the pipe's read readiness");
            let (ready, written) = zip(receiver.readable(), async { sender.try_write(b"ping") }).await;
            ready.unwrap();
            assert_eq!(written.unwrap(), 4);
            assert_eq!(receiver.try_read(&mut buf).unwrap(), 4);
            assert_eq!(&buf[..4], b"ping");

            // Writing to a pipe whose reader is gone fails (Rust ignores SIGPIPE).
            drop(receiver);
            let error = sender.try_write(b"anyone?").expect_err("no reader");
            assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{error}");
        });
    });
}

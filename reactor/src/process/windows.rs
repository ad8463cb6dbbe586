//! Windows children: std's, waited for on the runtime's blocking pool.
//!
//! `polling`'s IOCP backend polls sockets only, so neither a process handle nor an anonymous
//! pipe can go through the reactor. A wait blocks a pool thread on a duplicate of the child's
//! process handle (the `Child` keeps the original, so `start_kill` works meanwhile and a
//! cancelled wait loses nothing); the pipes are std's blocking ones, and
//! `wait_with_output` reads them on the pool.

use crate::blocking::run_blocking;
use std::io::{self, Read};
use std::os::windows::io::{AsHandle, AsRawHandle, OwnedHandle};
use std::process::{ExitStatus, Output};

/// The child's stderr: std's blocking pipe on Windows (read it on `spawn_blocking`).
pub use std::process::ChildStderr;
/// The child's stdin: std's blocking pipe on Windows (write to it on `spawn_blocking`).
pub use std::process::ChildStdin;
/// The child's stdout: std's blocking pipe on Windows (read it on `spawn_blocking`).
pub use std::process::ChildStdout;

/// A running (or ended) child process, from [`Command::spawn`](super::Command::spawn).
///
/// On Windows its pipes are std's blocking ones, and [`wait`](Self::wait) blocks a thread of
/// the runtime's blocking pool (never a worker) until the child ends. Dropping it does not
/// kill the child (unless `kill_on_drop`).
#[derive(Debug)]
pub struct Child {
    /// The write end of the child's stdin, if it was `Stdio::piped()`.
    pub stdin: Option<ChildStdin>,
    /// The read end of the child's stdout, if it was `Stdio::piped()`.
    pub stdout: Option<ChildStdout>,
    /// The read end of the child's stderr, if it was `Stdio::piped()`.
    pub stderr: Option<ChildStderr>,
    child: std::process::Child,
    status: Option<ExitStatus>,
    kill_on_drop: bool,
}

impl Child {
    pub(super) fn from_std(mut child: std::process::Child, kill_on_drop: bool) -> io::Result<Child> {
        Ok(Child {
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
            stderr: child.stderr.take(),
            child,
            status: None,
            kill_on_drop,
        })
    }

    /// The child's process id; `None` once it has been waited for.
    pub fn id(&self) -> Option<u32> {
        self.status.is_none().then(|| self.child.id())
    }

    /// The exit status if the child has ended, `None` if it still runs. Never blocks.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    /// Waits for the child to end and returns its exit status, on the blocking pool. Closes
    /// the child's stdin first. Cancel-safe.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        let process = self.child.as_handle().try_clone_to_owned()?;
        run_blocking("waiting for the child process", move || wait_for_exit(process))?.await??;
        self.try_wait()?
            .ok_or_else(|| io::Error::other("the child's process handle was signalled before it ended"))
    }

    /// Ends the child (`TerminateProcess`) without waiting. `Ok` if it has already ended.
    pub fn start_kill(&mut self) -> io::Result<()> {
        match self.try_wait()? {
            Some(_) => Ok(()),
            None => self.child.kill(),
        }
    }

    /// Ends the child and waits for it.
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await?;
        Ok(())
    }

    /// Closes stdin, reads stdout and stderr to their ends (on the blocking pool, both at
    /// once), then waits for the child.
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = (self.stdout.take(), self.stderr.take());
        let (stdout, stderr) =
            run_blocking("reading the child's output", move || read_both(stdout, stderr))?.await??;
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.kill_on_drop && self.status.is_none() {
            let _ = self.child.kill();
        }
    }
}

/// Blocks until the process behind `process` has ended.
fn wait_for_exit(process: OwnedHandle) -> io::Result<()> {
    use windows_sys::Win32::Foundation::WAIT_OBJECT_0;
    use windows_sys::Win32::System::Threading::{INFINITE, WaitForSingleObject};
    // SAFETY: `process` is an open process handle, owned here until the call returns.
    let result = unsafe { WaitForSingleObject(process.as_raw_handle(), INFINITE) };
    if result == WAIT_OBJECT_0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads both pipes to their ends at once (stderr on a second thread), so a child filling one
/// while we read the other does not stall.
fn read_both(stdout: Option<ChildStdout>, stderr: Option<ChildStderr>) -> io::Result<(Vec<u8>, Vec<u8>)> {
    fn read_all(stream: Option<impl Read>) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        if let Some(mut stream) = stream {
            stream.read_to_end(&mut bytes)?;
        }
        Ok(bytes)
    }
    std::thread::scope(|scope| {
        let stderr = scope.spawn(|| read_all(stderr));
        let stdout = read_all(stdout)?;
        let stderr = stderr
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        Ok((stdout, stderr))
    })
}

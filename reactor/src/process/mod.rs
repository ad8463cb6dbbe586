//! Child processes: [`Command`] mirrors `std::process::Command`. On Unix its [`Child`] is
//! waited for through the reactor (a pidfd on Linux, SIGCHLD elsewhere; see `reap.rs`), and
//! its pipes are `Async` descriptors. On Windows (`windows.rs`) the wait runs on the blocking
//! pool and the pipes are std's blocking ones.

#[cfg(unix)]
mod reap;
#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

#[cfg(unix)]
pub use unix::{Child, ChildStderr, ChildStdin, ChildStdout};
#[cfg(windows)]
pub use windows::{Child, ChildStderr, ChildStdin, ChildStdout};

use crate::context;
use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::Path;

pub use std::process::{ExitStatus, Output, Stdio};

/// A process to start: program, arguments, environment, working directory, standard streams.
///
/// The builder methods are those of `std::process::Command` (anything else, such as
/// `std::os::unix::process::CommandExt`, through [`as_std_mut`](Self::as_std_mut)). Starting
/// the child ([`spawn`](Self::spawn), [`output`](Self::output), [`status`](Self::status))
/// must happen inside a runtime: its pipes and its exit register with that runtime's reactor.
pub struct Command {
    std: std::process::Command,
    kill_on_drop: bool,
    /// Which streams the caller chose: `output` pipes the others (stdin: null), as std does.
    stdin_set: bool,
    stdout_set: bool,
    stderr_set: bool,
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.std.fmt(f)
    }
}

impl From<std::process::Command> for Command {
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            kill_on_drop: false,
            stdin_set: false,
            stdout_set: false,
            stderr_set: false,
        }
    }
}

impl Command {
    /// A command that runs `program` (looked up in `PATH` unless it contains a `/`), with no
    /// arguments, the parent's environment and working directory, and the parent's standard
    /// streams (except for [`output`](Self::output), which captures stdout and stderr).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds one argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.std.env(key, value);
        self
    }

    /// Sets environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts from an empty environment.
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// Sets the child's standard input; `Stdio::piped()` makes [`Child::stdin`] a
    /// [`ChildStdin`].
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdin(cfg);
        self.stdin_set = true;
        self
    }

    /// Sets the child's standard output; `Stdio::piped()` makes [`Child::stdout`] a
    /// [`ChildStdout`].
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdout(cfg);
        self.stdout_set = true;
        self
    }

    /// Sets the child's standard error; `Stdio::piped()` makes [`Child::stderr`] a
    /// [`ChildStderr`].
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stderr(cfg);
        self.stderr_set = true;
        self
    }

    /// Whether dropping the [`Child`] before it ended kills it (`SIGKILL`). Off by default:
    /// a dropped child keeps running, and is reaped in the background when it ends.
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// Whether [`kill_on_drop`](Self::kill_on_drop) is set.
    pub fn get_kill_on_drop(&self) -> bool {
        self.kill_on_drop
    }

    /// The program to run.
    pub fn get_program(&self) -> &OsStr {
        self.std.get_program()
    }

    /// The wrapped std command.
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// The wrapped std command, for what this type does not mirror (`CommandExt`'s `uid`,
    /// `process_group`, `pre_exec`...). Streams set through it are not known to
    /// [`output`](Self::output), which then pipes stdout and stderr anyway.
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// Starts the child. Its piped streams are in [`Child`]'s `stdin`, `stdout` and `stderr`.
    ///
    /// Fails with `NotFound` when the program does not exist, and outside a runtime (checked
    /// before the child is started). Starting a process is `fork`/`exec` (or `posix_spawn`)
    /// on the calling thread, as with tokio: quick, but not free.
    pub fn spawn(&mut self) -> io::Result<Child> {
        context::current()?;
        let child = self.std.spawn()?;
        Child::from_std(child, self.kill_on_drop)
    }

    /// Runs the child to its end and collects its exit status and everything it wrote.
    ///
    /// Like std: stdout and stderr are captured unless set otherwise, and stdin is empty
    /// (`Stdio::null()`) unless set. The command is left as it was.
    pub async fn output(&mut self) -> io::Result<Output> {
        if !self.stdin_set {
            self.std.stdin(Stdio::null());
        }
        if !self.stdout_set {
            self.std.stdout(Stdio::piped());
        }
        if !self.stderr_set {
            self.std.stderr(Stdio::piped());
        }
        let child = self.spawn();
        // Back to the defaults (inherit) for the streams the caller did not choose.
        if !self.stdin_set {
            self.std.stdin(Stdio::inherit());
        }
        if !self.stdout_set {
            self.std.stdout(Stdio::inherit());
        }
        if !self.stderr_set {
            self.std.stderr(Stdio::inherit());
        }
        child?.wait_with_output().await
    }

    /// Runs the child to its end and returns its exit status. The streams are inherited
    /// unless set; pipes the caller asked for are closed at once.
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        let mut child = self.spawn()?;
        drop(child.stdin.take());
        drop(child.stdout.take());
        drop(child.stderr.take());
        child.wait().await
    }
}

//! Child processes: `heist::process::Command` and `Child`, waited for through the reactor.
//!
//! Nothing sleeps to let a process get somewhere: a child that must still be running at some
//! point blocks reading its stdin (`sh -c 'read line'`) until the test closes it, and "reaped"
//! is observed with `waitid(WNOWAIT)` (which looks without reaping) through `eventually`.
//!
//! Unix only: the children are `sh`, `cat`, `sleep`..., and the reaping is Unix's.
#![cfg(unix)]

mod common;

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{eventually, run_with_timeout, runtime};
use futures_lite::future::poll_once;
use heist::io::{AsyncReadExt, AsyncWriteExt};
use heist::process::{Child, Command, Stdio};

/// Whether `pid` is still a child of ours that has not ended (`Some(false)`: ended, not yet
/// reaped), or `None` once it has been reaped. Never reaps it itself.
fn child_state(pid: u32) -> Option<bool> {
    // SAFETY: `info` is a valid out-pointer; WNOWAIT leaves the child as it is.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if rc == -1 {
        let error = io::Error::last_os_error();
        assert_eq!(error.raw_os_error(), Some(libc::ECHILD), "waitid({pid}): {error}");
        return None;
    }
    // SAFETY: filled in by waitid (zero when no child has changed state).
    Some(unsafe { info.si_pid() } == 0)
}

fn reaped(pid: u32) -> bool {
    child_state(pid).is_none()
}

/// A shell that runs until its stdin is closed (or a line arrives), then exits with `code`.
fn blocked_on_stdin(code: i32) -> Command {
    let mut command = Command::new("sh");
    command
        .args(["-c", &format!("read line; exit {code}")])
        .stdin(Stdio::piped());
    command
}

#[test]
fn the_futures_can_be_spawned() {
    fn assert_send<T: Send + 'static>(_: T) {}
    let mut command = Command::new("true");
    assert_send(async move { command.output().await });
    assert_send(async move { Command::new("true").status().await });
    assert_send(async move { Command::new("true").spawn()?.wait_with_output().await });
    assert_send(async move {
        let mut child = Command::new("true").spawn()?;
        child.kill().await?;
        child.wait().await
    });
}

#[test]
fn output_of_echo() {
    run_with_timeout("output_of_echo", || {
        runtime(2).block_on(async {
            let output = Command::new("echo").arg("hi").output().await.unwrap();
            assert!(output.status.success(), "{:?}", output.status);
            assert_eq!(output.stdout, b"hi\n");
            assert_eq!(output.stderr, b"");
        });
    });
}

#[test]
fn exit_codes_and_both_output_streams() {
    run_with_timeout("exit_codes_and_both_output_streams", || {
        runtime(2).block_on(async {
            let status = Command::new("sh").args(["-c", "exit 3"]).status().await.unwrap();
            assert_eq!(status.code(), Some(3));
            assert!(!status.success());

            let output = Command::new("sh")
                .args(["-c", "echo out; echo err >&2; exit 5"])
                .output()
                .await
                .unwrap();
            assert_eq!(output.status.code(), Some(5));
            assert_eq!(output.stdout, b"out\n");
            assert_eq!(output.stderr, b"err\n");

            // `status` closes the pipes it was asked for: `cat` sees the end of its input.
            let status = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .status()
                .await
                .unwrap();
            assert!(status.success());
        });
    });
}

#[test]
fn cat_echoes_one_mebibyte_through_its_pipes() {
    run_with_timeout("cat_echoes_one_mebibyte_through_its_pipes", || {
        runtime(2).block_on(async {
            let mut cat = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = cat.stdin.take().unwrap();
            let mut stdout = cat.stdout.take().unwrap();
            let data: Vec<u8> = (0..1 << 20)
                .map(|i: u32| (i.wrapping_mul(7) % 251) as u8)
                .collect();
            let expected = data.clone();
            // Written and read at once: the pipes hold far less than a mebibyte.
            let writer = heist::spawn(async move {
                stdin.write_all(&data).await?;
                stdin.close().await?;
                assert!(
                    stdin.write(b"late").await.is_err(),
                    "a closed stdin refuses writes"
                );
                io::Result::Ok(())
            });
            let mut back = Vec::new();
            stdout.read_to_end(&mut back).await.unwrap();
            writer.await.unwrap().unwrap();
            assert_eq!(back.len(), expected.len());
            assert!(back == expected, "cat gave back different bytes");
            assert!(cat.wait().await.unwrap().success());
        });
    });
}

/// 50 children waited for by 50 tasks on a one-worker runtime. Each child exits only after a
/// task on that same worker writes a line to it, and that task starts writing only once all
/// 50 waits are parked: if a wait blocked the worker, nothing could run and the test would
/// time out.
#[test]
fn fifty_children_waited_for_on_one_worker_do_not_block_it() {
    run_with_timeout("fifty_children_waited_for_on_one_worker_do_not_block_it", || {
        let runtime = runtime(1);
        runtime
            .block_on(runtime.spawn(async {
                let parked = Arc::new(AtomicUsize::new(0));
                let mut waits = Vec::new();
                let mut inputs = Vec::new();
                for code in 0..50 {
                    let mut child = blocked_on_stdin(code).spawn().unwrap();
                    inputs.push(child.stdin.take().unwrap());
                    let parked = parked.clone();
                    waits.push(heist::spawn(async move {
                        let mut wait = std::pin::pin!(child.wait());
                        if poll_once(wait.as_mut()).await.is_none() {
                            parked.fetch_add(1, Ordering::SeqCst);
                        }
                        wait.await.unwrap().code()
                    }));
                }
                let releaser = heist::spawn(async move {
                    let mut spins = 0u64;
                    while parked.load(Ordering::SeqCst) < 50 {
                        spins += 1;
                        heist::task::yield_now().await;
                    }
                    for mut input in inputs {
                        input.write_all(b"go\n").await.unwrap();
                    }
                    spins
                });
                releaser.await.unwrap();
                for (code, wait) in waits.into_iter().enumerate() {
                    assert_eq!(wait.await.unwrap(), Some(code as i32));
                }
            }))
            .unwrap();
    });
}

#[test]
fn kill_ends_a_long_sleep_with_a_signal_status() {
    run_with_timeout("kill_ends_a_long_sleep_with_a_signal_status", || {
        runtime(2).block_on(async {
            let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
            assert!(child.try_wait().unwrap().is_none());
            child.kill().await.unwrap();
            let status = child.wait().await.unwrap();
            assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
            assert_eq!(child.id(), None, "reaped: the id may belong to someone else now");
            child
                .start_kill()
                .expect("killing an ended child is not an error");

            let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
            child.start_kill().unwrap();
            assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGKILL));
        });
    });
}

#[test]
fn try_wait_id_and_a_cancelled_wait() {
    run_with_timeout("try_wait_id_and_a_cancelled_wait", || {
        runtime(2).block_on(async {
            let mut child = blocked_on_stdin(4).spawn().unwrap();
            let pid = child.id().expect("running");
            assert_eq!(child_state(pid), Some(true));
            assert!(child.try_wait().unwrap().is_none());
            let stdin = child.stdin.take().unwrap();
            // A wait dropped while pending leaves nothing behind.
            assert!(poll_once(child.wait()).await.is_none());
            drop(stdin);
            let status = child.wait().await.unwrap();
            assert_eq!(status.code(), Some(4));
            assert_eq!(child.try_wait().unwrap(), Some(status));
            assert_eq!(child.id(), None);
            assert!(reaped(pid));
        });
    });
}

#[test]
fn a_dropped_child_is_reaped_when_it_ends() {
    run_with_timeout("a_dropped_child_is_reaped_when_it_ends", || {
        let runtime = runtime(2);
        let (running, short) = runtime.block_on(async {
            let mut child = blocked_on_stdin(0).spawn().unwrap();
            let stdin = child.stdin.take();
            let running = child.id().unwrap();
            drop(child);
            assert_eq!(child_state(running), Some(true), "still running when dropped");
            // Its end comes while nobody holds a `Child` for it.
            drop(stdin);

            let short = Command::new("sh").args(["-c", "exit 0"]).spawn().unwrap();
            let pid = short.id().unwrap();
            drop(short);
            (running, pid)
        });
        // The runtime is alive (its workers poll the reactor) but runs no task of ours.
        eventually("the dropped child blocked on stdin is reaped", || reaped(running));
        eventually("the dropped short child is reaped", || reaped(short));
    });
}

#[test]
fn a_dropped_child_is_reaped_even_after_its_runtime_is_gone() {
    run_with_timeout("a_dropped_child_is_reaped_even_after_its_runtime_is_gone", || {
        let runtime = runtime(1);
        let (pid, stdin) = runtime.block_on(async {
            let mut child = blocked_on_stdin(0).spawn().unwrap();
            let stdin = child.stdin.take().unwrap();
            (child.id().unwrap(), stdin)
        });
        drop(runtime);
        assert_eq!(
            child_state(pid),
            Some(true),
            "still running after the runtime shut down"
        );
        drop(stdin);
        eventually("the child dropped with its runtime is reaped", || reaped(pid));
    });
}

#[test]
fn kill_on_drop_kills_and_reaps() {
    run_with_timeout("kill_on_drop_kills_and_reaps", || {
        let runtime = runtime(2);
        let pid = runtime.block_on(async {
            let child: Child = Command::new("sleep")
                .arg("1000")
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let pid = child.id().unwrap();
            drop(child);
            pid
        });
        eventually("the killed child is reaped", || reaped(pid));
    });
}

#[test]
fn a_missing_program_is_not_found() {
    run_with_timeout("a_missing_program_is_not_found", || {
        runtime(1).block_on(async {
            for program in ["heist-no-such-program", "/nonexistent/heist-no-such-program"] {
                let error = Command::new(program).spawn().expect_err(program);
                assert_eq!(error.kind(), io::ErrorKind::NotFound, "{program}: {error}");
                let error = Command::new(program).output().await.expect_err(program);
                assert_eq!(error.kind(), io::ErrorKind::NotFound, "{program}: {error}");
            }
        });
    });
}

#[test]
fn spawning_outside_a_runtime_is_an_error_that_says_where() {
    run_with_timeout("spawning_outside_a_runtime_is_an_error_that_says_where", || {
        let error = Command::new("true").spawn().expect_err("no runtime here");
        assert!(error.to_string().contains("no heist runtime"), "{error}");
    });
}

#[test]
fn environment_working_directory_and_piping_children_together() {
    run_with_timeout(
        "environment_working_directory_and_piping_children_together",
        || {
            runtime(2).block_on(async {
                let output = Command::new("sh")
                    .args(["-c", "echo \"$HEIST_A:$HEIST_B:${HEIST_GONE:-unset}:$(pwd)\""])
                    .env("HEIST_A", "a")
                    .envs([("HEIST_B", "b"), ("HEIST_GONE", "here")])
                    .env_remove("HEIST_GONE")
                    .current_dir("/")
                    .output()
                    .await
                    .unwrap();
                assert_eq!(String::from_utf8_lossy(&output.stdout), "a:b:unset:/\n");

                let output = Command::new("/bin/sh")
                    .env_clear()
                    .env("HEIST_ONLY", "1")
                    .args(["-c", "echo ${HEIST_ONLY}${HOME:-nohome}"])
                    .output()
                    .await
                    .unwrap();
                assert_eq!(output.stdout, b"1nohome\n");

                // echo | tr, through a pipe handed from one child to the other.
                let mut echo = Command::new("echo")
                    .arg("piped")
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                let pipe: Stdio = echo.stdout.take().unwrap().try_into().unwrap();
                let output = Command::new("tr")
                    .args(["a-z", "A-Z"])
                    .stdin(pipe)
                    .output()
                    .await
                    .unwrap();
                assert_eq!(output.stdout, b"PIPED\n");
                assert!(echo.wait().await.unwrap().success());
            });
        },
    );
}

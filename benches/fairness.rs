//! Fairness as a figure: how long an I/O event or an expired timer waits for its task while
//! every worker is kept busy, and how late an interval ticks and a woken task runs beside a task
//! whose socket is always ready (see `fairness/unix.rs`, where the bench lives). Unix only.

mod common;

#[cfg(unix)]
#[path = "fairness/unix.rs"]
mod unix;

fn main() {
    #[cfg(unix)]
    unix::main();
    #[cfg(not(unix))]
    eprintln!("fairness: Unix only (its I/O probe is a Unix socket pair)");
}

//! Parallel data processing on heist: an FNV-1a checksum of every file under a directory.
//!
//! ```text
//! cargo run --release --example tree_sum                      # the current directory
//! cargo run --release --example tree_sum -- ~/.cargo/registry/src --open-files 32 --list
//! ```
//!
//! The walk lists directories with `heist::fs::read_dir` (entries come in batches, one
//! blocking hop each); every file goes to a task of a `heist::task::TaskPool` that holds at
//! most `--open-files` tasks (64 by default), so at most that many files are open and at most
//! that many 128 KiB buffers exist, however big the tree. A task reads its file with
//! `heist::fs::File` (the reads run on the blocking pool) and hashes each chunk on the worker
//! between reads: the disk and the CPU work overlap across tasks. A progress line goes to
//! stderr while it runs; the summary (and with `--list`, each file's hash) to stdout.
//! Symbolic links are not followed. `tree_sum_tokio` is the same program on tokio.

mod shared;
mod walk;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

fn main() -> ExitCode {
    let args = match shared::parse_args("tree_sum") {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match heist::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("tree_sum: could not start the heist runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let progress = Arc::new(shared::Progress::default());
    let mut summary = runtime.block_on(async {
        let ticker = heist::spawn({
            let progress = progress.clone();
            async move {
                let mut ticks = heist::time::interval(shared::progress_period());
                ticks.tick().await; // the first tick is immediate
                loop {
                    ticks.tick().await;
                    shared::print_progress(&progress, started);
                }
            }
        });
        let summary = walk::sum_tree(&args.root, args.open_files, progress.clone()).await;
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

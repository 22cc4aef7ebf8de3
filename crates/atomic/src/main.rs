//! `atomic`: the high-level entry point to a container host.

// An unwrap on data from outside is a panic a user meets (tests may unwrap: clippy.toml).
#![warn(clippy::unwrap_used)]

mod app;
mod cli;
mod command;
mod config;
mod installdb;
mod mountdb;
mod output;
mod rootfs;
mod storage;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let failure = if cli.passes_exit_code() {
        FAILURE_OF_A_PASS_THROUGH_VERB
    } else {
        FAILURE
    };
    // `atomic host` is synchronous, logs nothing and reads no atomic.conf: it runs before the
    // logging and the async runtime the container verbs need, so that `atomic host status`
    // starts no slower than `ostree admin status` (bench/host.sh).
    let result = match cli::dispatch_host(cli) {
        Ok(result) => result,
        Err(cli) => run_async(*cli),
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(FAILURE)),
        // `atomic images list | head`: the reader has all it wanted.
        Err(e) if output::is_stdout_closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(failure)
        }
    }
}

/// atomic failed (usage errors are clap's: 2).
const FAILURE: u8 = 1;

/// atomic itself failed in a verb whose exit code is otherwise its child's (`run`, `install`,
/// …; see `Cli::passes_exit_code`): 125, as `docker run` and `podman run` say it, so that a
/// label command exiting 1 is not taken for atomic's failure.
const FAILURE_OF_A_PASS_THROUGH_VERB: u8 = 125;

/// Every verb but `host`: logging set up, then one current-thread tokio runtime.
fn run_async(cli: cli::Cli) -> anyhow::Result<i32> {
    let filter = if cli.global.debug { "debug" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ATOMIC_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    // One thread is plenty: atomic waits on one engine or one child at a time.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    runtime.block_on(cli::dispatch(cli))
}

//! Shell completions and man pages, generated from the clap definitions so they never drift
//! from the real command line.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory};

use super::Cli;

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell to complete for
    shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Directory to write atomic.1 and one page per verb (atomic-run.1, …) into
    directory: PathBuf,
}

/// Print a completion script for the shell on stdout.
pub fn completion(args: CompletionArgs) -> Result<i32> {
    let mut buffer = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "atomic", &mut buffer);
    crate::output::text_out(&String::from_utf8_lossy(&buffer));
    Ok(0)
}

/// Write the man pages into a directory.
pub fn man(args: ManArgs) -> Result<i32> {
    std::fs::create_dir_all(&args.directory)
        .with_context(|| format!("creating {}", args.directory.display()))?;
    clap_mangen::generate_to(Cli::command(), &args.directory)
        .with_context(|| format!("writing man pages to {}", args.directory.display()))?;
    Ok(0)
}

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
    crate::output::text_out(&String::from_utf8_lossy(&buffer))?;
    Ok(0)
}

/// atomic 1.x's top-level verbs that `atomic images` now groups: hidden from the verb list,
/// but still typed (and in the original's manual), so each keeps its page, atomic-info(1)…
const HIDDEN_VERBS_WITH_PAGES: [&str; 4] = ["info", "version", "help", "verify"];

/// Write the man pages into a directory: atomic(1) and atomic-VERB(1) for every verb and
/// sub-verb (atomic-images-list(1), …).
pub fn man(args: ManArgs) -> Result<i32> {
    let dir = &args.directory;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("writing man pages to {}", dir.display()))?;
    // As generate_to does: the built command gives each verb its full name, atomic-VERB.
    let mut cli = Cli::command().disable_help_subcommand(true);
    cli.build();
    for name in HIDDEN_VERBS_WITH_PAGES {
        let verb = cli
            .find_subcommand(name)
            .with_context(|| format!("the command line has no verb '{name}'"))?;
        clap_mangen::Man::new(verb.clone().hide(false))
            .generate_to(dir)
            .with_context(|| format!("writing the man page of '{name}' to {}", dir.display()))?;
    }
    Ok(0)
}

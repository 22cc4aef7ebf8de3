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

/// atomic(1) again, with an EXIT STATUS section in place of the generic "EXTRA" that clap_mangen
/// would make of `--help`'s exit-status text.
fn write_main_page(dir: &std::path::Path) -> Result<()> {
    let mut cli = Cli::command();
    cli.build();
    let man = clap_mangen::Man::new(cli);
    let path = dir.join(man.get_filename());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    page.extend_from_slice(exit_status_roff().as_bytes());
    man.render_version_section(&mut page)?;
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The EXIT STATUS section in roff: one tagged paragraph per code.
fn exit_status_roff() -> String {
    let mut roff = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in super::EXIT_STATUS {
        // No line of the table starts with a dot or holds a backslash: nothing to escape but
        // hyphens, which roff would otherwise typeset as dashes.
        roff.push_str(&format!(
            ".TP\n\\fB{code}\\fR\n{}\n",
            meaning.replace('-', "\\-")
        ));
    }
    roff
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
    write_main_page(dir)?;
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

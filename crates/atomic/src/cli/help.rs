//! `atomic help`: an image's help page (`/help.1`, rendered), its `/README.md`, or the command
//! of its HELP label.
//!
//! Files are read through a temporary container the engine creates and removes again, so nothing
//! stays mounted and nothing is left in /run.

use std::io::IsTerminal;

use anyhow::{Context, Result};
use atomic_exec::{Error as ExecError, Sink, Task};
use clap::Args;

use atomic_label as label;

use super::StorageArg;
use crate::command::{OptArgs, Prepared, Program, Values};
use crate::config::Config;
use crate::output;
use crate::storage;

#[derive(Args, Debug)]
pub struct HelpArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// The image (or a container, for its image's help)
    image: String,
}

pub async fn help(args: HelpArgs, config: &Config) -> Result<i32> {
    let selection = args.storage.selection(config)?;
    let target = storage::find(&selection, Some(&args.image), Some(&args.image)).await?;
    let info = match (&target.image, &target.container) {
        (Some(info), _) => info.clone(),
        (None, Some(container)) => target
            .engine
            .image(&container.image_id)
            .await?
            .with_context(|| format!("the image of container '{}' is gone", args.image))?,
        (None, None) => return Err(storage::image_not_found(&args.image, &selection)),
    };

    if let Some((path, bytes)) = target
        .engine
        .read_first_file(&info.id, &["/help.1", "/README.md"])
        .await?
    {
        let text = if path == "/help.1" {
            render_man(&bytes)?
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        show(&text)?;
        return Ok(0);
    }

    if let Some((key, text)) = label::find(&info.labels, "HELP") {
        let program = Program::for_engine(&target.engine, config);
        let name = label::default_name(&args.image, false);
        let values = Values::new(&name, &args.image, &OptArgs::default());
        let prepared = Prepared::from_label(key, text, &values, &[], &program)?;
        prepared.announce(false)?;
        return prepared.run_on(&target.engine).await;
    }

    eprintln!("There is no help for {}.", args.image);
    Ok(1)
}

/// Render a man page with groff (tables through tbl), else mandoc; show the source if neither is
/// installed.
fn render_man(source: &[u8]) -> Result<String> {
    let renderers: [(&str, &[&str]); 2] = [
        ("groff", &["-t", "-man", "-Tascii"]),
        ("mandoc", &["-Tascii"]),
    ];
    for (program, args) in renderers {
        let rendered = Task::new("rendering the help page", program)
            .args(args)
            // Plain overstrike output rather than colour escapes; stripped again for pipes.
            .env("GROFF_NO_SGR", "1")
            .input(source)
            .stderr(Sink::Null)
            .run();
        match rendered {
            Ok(out) => return Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
            // Not installed, or failed on this page: the next renderer, else the source.
            Err(
                ExecError::NotFound { .. } | ExecError::Spawn { .. } | ExecError::Failed { .. },
            ) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(String::from_utf8_lossy(source).into_owned())
}

/// Page on a terminal (`$PAGER`, else `less -R`); print plain text otherwise.
fn show(text: &str) -> Result<()> {
    if std::io::stdout().is_terminal() {
        let pager = std::env::var("PAGER").unwrap_or_else(|_| "less -R".to_string());
        let mut words = pager.split_whitespace();
        if let Some(program) = words.next() {
            let paged = Task::new("paging the help", program)
                .args(words)
                .input(text)
                .status();
            match paged {
                // What the pager exits with (the user quit it) is no failure of `atomic help`.
                Ok(_) => return Ok(()),
                // A pager that cannot start leaves the text to be printed.
                Err(ExecError::NotFound { .. } | ExecError::Spawn { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    output::text_out(&strip_overstrike(text))?;
    Ok(())
}

/// Remove the `x\bx` (bold) and `_\bx` (underline) sequences of terminal-style man output.
fn strip_overstrike(text: &str) -> String {
    let mut out: Vec<char> = Vec::with_capacity(text.len());
    for c in text.chars() {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn overstrike_is_stripped() {
        assert_eq!(
            super::strip_overstrike("N\u{8}NA\u{8}AME _\u{8}x"),
            "NAME x"
        );
    }
}

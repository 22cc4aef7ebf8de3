//! `atomic images …`: listing, deleting, pruning, tagging, updating and verifying images, on one engine
//! (`--storage`) or on every available one. (`images info|version|help` live in `info.rs` and
//! `help.rs`, shared with their top-level forms.)

pub mod delete;
pub mod list;
pub mod tag;
pub mod update;
pub mod verify;

use anyhow::Result;

use atomic_engine::{Engine, EngineKind};

use crate::storage::{self, Selection};

/// The engines a command that acts on every image asks: the chosen one, or every one that is
/// there — Docker when its socket exists, Podman when installed, the native store when it exists.
pub fn engines(selection: &Selection) -> Result<Vec<Engine>> {
    if let Some(kind) = selection.explicit {
        return Ok(vec![selection.connect(kind)?]);
    }
    let mut engines = Vec::new();
    if storage::docker_socket_exists()
        && let Ok(docker) = selection.connect(EngineKind::Docker)
    {
        engines.push(docker);
    }
    if let Ok(podman) = selection.connect(EngineKind::Podman) {
        engines.push(podman);
    }
    if let Some(native) = selection.native_if_present() {
        engines.push(Engine::Native(native));
    }
    Ok(engines)
}

/// Ask yes or no on the terminal; anything but y/yes is no, and so is end of input.
pub fn confirm(question: &str) -> Result<bool> {
    use std::io::{BufRead, Write};
    eprint!("{question} (y/N) ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer)? == 0 {
        // End of input: the question's line still needs its end.
        eprintln!();
    }
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

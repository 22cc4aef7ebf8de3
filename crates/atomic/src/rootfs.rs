//! Finding the root filesystem of an image or a container, in the chosen engine or in every
//! available one, as layer directories (`atomic_engine::RootLayers`): what `diff` compares and
//! `scan` mounts for its scanner.

use anyhow::{Result, bail};

use atomic_engine::{Engine, RootLayers};

use crate::cli::images::engines;
use crate::storage::Selection;

/// A root filesystem and the engine that holds it. Whatever the engine mounted to give it
/// (Podman on a non-overlay driver) is unmounted when this is dropped, on every path out.
pub struct Found {
    pub engine: Engine,
    pub root: RootLayers,
}

impl Found {
    /// Take over a root an engine gave.
    pub fn new(engine: Engine, root: RootLayers) -> Found {
        Found { engine, root }
    }
}

impl Drop for Found {
    fn drop(&mut self) {
        if let Err(e) = self.engine.release_root(&self.root) {
            eprintln!("warning: {e}");
        }
    }
}

/// The container, else the image, called `name`. Without `--storage` every engine is asked and
/// a name that more than one of them holds is refused, never silently picked.
pub async fn find(selection: &Selection, name: &str) -> Result<Found> {
    let explicit = selection.explicit.is_some();
    let mut found: Vec<Found> = Vec::new();
    for engine in engines(selection)? {
        match engine.root_layers(name).await {
            Ok(Some(root)) => found.push(Found::new(engine, root)),
            Ok(None) => {}
            Err(e) if explicit => return Err(e.into()),
            Err(e) => tracing::info!("{}: {e}", engine.kind()),
        }
    }
    match found.len() {
        0 => bail!(
            "Unable to associate '{name}' with an image or container{}",
            match selection.explicit {
                Some(kind) => format!(" in storage '{kind}'"),
                None => String::new(),
            }
        ),
        1 => Ok(found.remove(0)),
        _ => {
            let kinds: Vec<&str> = found.iter().map(|f| f.engine.kind().as_str()).collect();
            bail!(
                "Found more than one image or container with name '{name}' ({}); choose one \
                 with --storage {}",
                kinds.join(" and "),
                kinds.join("|")
            )
        }
    }
}

//! Where an image's or a container's root filesystem lives on disk: its overlay layer
//! directories, top first, read from what each engine reports — nothing mounted, nothing
//! created, nothing to clean up.
//!
//! - Docker (overlay2) and Podman (overlay): `GraphDriver.Data` of `inspect` — `UpperDir`
//!   (an image's top layer, or a container's own writes) over `LowerDir` (`:`-separated, top
//!   first). A container's lower layers include its init layer, as its mount does.
//! - Native: an image's unpacked layers in the store; a container's `upper` directory over its
//!   recorded layers (init layer included).
//!
//! Every engine writes deletions as overlayfs whiteouts, so one reader (`atomic-inspect`'s tree)
//! serves all three. Podman on another storage driver (vfs, btrfs…) has no such layers: its
//! root is mounted with `podman image mount`/`podman mount` instead, and [`RootLayers::mounted`]
//! says that [`Engine::release_root`] must unmount it.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::{Engine, EngineError, EngineKind, Result};

/// Is the root an image's or a container's?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootKind {
    Image,
    Container,
}

/// A root filesystem as layer directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootLayers {
    pub kind: RootKind,
    /// The full ID of the image or container.
    pub id: String,
    /// Top layer first.
    pub layers: Vec<PathBuf>,
    /// The engine mounted the root to give it (one merged directory in `layers`).
    pub mounted: bool,
}

impl Engine {
    /// The root filesystem of the container, else the image, called `name` (a container of that
    /// name is the more specific answer, as Podman's own `inspect` decides); `None` when the
    /// engine has neither.
    pub async fn root_layers(&self, name: &str) -> Result<Option<RootLayers>> {
        match self {
            Engine::Docker(d) => d.root_layers(name).await,
            Engine::Podman(p) => p.root_layers(name),
            Engine::Native(n) => n.root_layers(name),
        }
    }

    /// The engine's own description of the container, else the image, called `name`, as JSON
    /// (Docker's and Podman's inspect output; the native store's image config or container
    /// record): what `atomic diff -m` compares.
    pub async fn inspect_json(&self, name: &str) -> Result<Option<serde_json::Value>> {
        match self {
            Engine::Docker(d) => d.inspect_json(name).await,
            Engine::Podman(p) => p.inspect_json(name),
            Engine::Native(n) => n.inspect_json(name),
        }
    }

    /// Undo what [`root_layers`](Self::root_layers) mounted, if anything.
    pub fn release_root(&self, root: &RootLayers) -> Result<()> {
        match self {
            Engine::Podman(p) if root.mounted => p.unmount_root(root),
            _ => Ok(()),
        }
    }
}

/// Is this a storage driver whose layers [`graph_driver_layers`] reads?
pub(crate) fn is_overlay(driver: &str) -> bool {
    driver == "overlay2" || driver == "overlay"
}

/// The layers of a `GraphDriver` entry, or why the driver cannot be read.
pub(crate) fn graph_driver_layers(
    engine: EngineKind,
    driver: &str,
    data: &HashMap<String, String>,
) -> Result<Vec<PathBuf>> {
    if !is_overlay(driver) {
        return Err(EngineError::failed(
            engine,
            "reading the root filesystem",
            format!(
                "its storage driver is '{driver}'; atomic reads layers of the overlay driver \
                 only"
            ),
        ));
    }
    let layers = overlay_dirs(data);
    if layers.is_empty() {
        return Err(EngineError::failed(
            engine,
            "reading the root filesystem",
            "the engine reports no layer directories (GraphDriver.Data has no UpperDir or \
             LowerDir)",
        ));
    }
    Ok(layers)
}

/// The directories of an overlay `GraphDriver.Data`, top first: `UpperDir` over the
/// `:`-separated `LowerDir` (already top first); empty when it names neither. Docker's overlay2
/// and containers/storage's overlay both report them so (`atomic mount` reads them too).
pub(crate) fn overlay_dirs(data: &HashMap<String, String>) -> Vec<PathBuf> {
    let upper = data.get("UpperDir").filter(|s| !s.is_empty());
    let lower = data.get("LowerDir").into_iter().flat_map(|l| l.split(':'));
    upper
        .map(String::as_str)
        .into_iter()
        .chain(lower.filter(|s| !s.is_empty()))
        .map(PathBuf::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_driver_data_gives_upper_then_lower_layers() {
        let data: HashMap<String, String> = [
            ("UpperDir", "/d/c/diff"),
            ("LowerDir", "/d/c-init/diff:/d/b/diff:/d/a/diff"),
            ("WorkDir", "/d/c/work"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let layers = graph_driver_layers(EngineKind::Docker, "overlay2", &data).unwrap();
        assert_eq!(
            layers,
            ["/d/c/diff", "/d/c-init/diff", "/d/b/diff", "/d/a/diff"].map(PathBuf::from)
        );
        let one: HashMap<String, String> = [("UpperDir".to_string(), "/d/a/diff".to_string())]
            .into_iter()
            .collect();
        assert_eq!(
            graph_driver_layers(EngineKind::Podman, "overlay", &one).unwrap(),
            [PathBuf::from("/d/a/diff")]
        );
        let err = graph_driver_layers(EngineKind::Podman, "vfs", &one).unwrap_err();
        assert!(err.to_string().contains("'vfs'"), "{err}");
        assert!(graph_driver_layers(EngineKind::Docker, "overlay2", &HashMap::new()).is_err());
    }
}

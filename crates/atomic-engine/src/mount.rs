//! Where the files of an image or a container are, for `atomic mount`, on each engine.
//!
//! - Docker: the overlay2 graph driver's directories that `docker inspect` reports (`UpperDir`
//!   on top of `LowerDir`), stacked read-only by atomic; a running container's own root is its
//!   `MergedDir`. Other graph drivers are refused by name, as the original refused them.
//!   The directories are read as `atomic diff`/`scan` read them (`root.rs`).
//! - Podman: `podman image mount` and `podman mount`, which give a merged directory that atomic
//!   binds; that mount is Podman's to count, so it is given back on unmount ([`Release`]).
//! - native: the image's unpacked layers, and a container's upper directory above them; a
//!   running container's root is the overlay its runtime mounted.
//!
//! Each engine's way to its directories is shared with [`Engine::root_layers`]; what differs is
//! the object (named by kind here, not looked up container-first) and the refusals' wording.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{Engine, EngineError, EngineKind, Result};

/// What to put at the mount point.
#[derive(Debug, Clone, PartialEq)]
pub enum MountSource {
    /// Directories to stack read-only, top first.
    Layers(Vec<PathBuf>),
    /// A directory that already is the merged root, to bind.
    Merged(PathBuf),
}

/// What atomic must give back to the engine after unmounting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Release {
    PodmanImage(String),
    PodmanContainer(String),
}

/// An image or a container, by ID.
#[derive(Debug, Clone, Copy)]
pub enum Object<'a> {
    Image(&'a str),
    /// `live`: the running container's own root, not a read-only view of it.
    Container {
        id: &'a str,
        live: bool,
    },
}

impl Engine {
    /// The files of `object`, and what to give back afterwards.
    pub async fn mount_source(&self, object: Object<'_>) -> Result<(MountSource, Option<Release>)> {
        match self {
            Engine::Docker(docker) => Ok((docker.mount_source(object).await?, None)),
            Engine::Podman(podman) => podman.mount_source(object),
            Engine::Native(native) => Ok((native.mount_source(object)?, None)),
        }
    }

    /// Give back what [`Engine::mount_source`] took.
    pub fn release(&self, release: &Release) -> Result<()> {
        match self {
            Engine::Podman(podman) => podman.release(release),
            _ => Ok(()),
        }
    }
}

/// overlay2's `Data`: `UpperDir` over the `:`-separated `LowerDir` (top first); `MergedDir` for
/// a live mount.
pub(crate) fn overlay2_source(
    driver: Option<(String, std::collections::HashMap<String, String>)>,
    live: bool,
    what: &str,
) -> Result<MountSource> {
    let Some((name, data)) = driver else {
        return Err(failed(format!(
            "docker reports no graph driver data for {what}"
        )));
    };
    if !crate::root::is_overlay(&name) {
        return Err(failed(format!(
            "Atomic mount is not supported on the {name} docker storage backend."
        )));
    }
    if live {
        return match data.get("MergedDir") {
            Some(merged) => Ok(MountSource::Merged(PathBuf::from(merged))),
            None => Err(failed(format!("docker reports no MergedDir for {what}"))),
        };
    }
    let layers = crate::root::overlay_dirs(&data);
    if layers.is_empty() {
        return Err(failed(format!(
            "docker reports no layer directories for {what}"
        )));
    }
    Ok(MountSource::Layers(layers))
}

fn failed(detail: String) -> EngineError {
    EngineError::failed(EngineKind::Docker, "mount", detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> Option<(String, std::collections::HashMap<String, String>)> {
        Some((
            "overlay2".to_string(),
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
    }

    #[test]
    fn overlay2_data_becomes_layers_top_first() {
        let source = overlay2_source(
            data(&[
                ("UpperDir", "/d/top/diff"),
                ("LowerDir", "/d/b/diff:/d/a/diff"),
                ("MergedDir", "/d/top/merged"),
            ]),
            false,
            "x",
        )
        .unwrap();
        assert_eq!(
            source,
            MountSource::Layers(vec![
                "/d/top/diff".into(),
                "/d/b/diff".into(),
                "/d/a/diff".into()
            ])
        );
        // A one-layer image has no LowerDir.
        let one = overlay2_source(data(&[("UpperDir", "/d/top/diff")]), false, "x").unwrap();
        assert_eq!(one, MountSource::Layers(vec!["/d/top/diff".into()]));
        let live = overlay2_source(data(&[("MergedDir", "/d/top/merged")]), true, "x").unwrap();
        assert_eq!(live, MountSource::Merged("/d/top/merged".into()));
    }

    #[test]
    fn other_graph_drivers_are_refused_by_name() {
        let e = overlay2_source(Some(("vfs".into(), Default::default())), false, "x").unwrap_err();
        assert!(
            e.to_string()
                .contains("not supported on the vfs docker storage backend"),
            "{e}"
        );
    }
}

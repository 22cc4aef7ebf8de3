//! The container engines atomic drives.
//!
//! Docker is reached through its Engine API (bollard) and Podman through its command line's JSON
//! output. Both are wrapped in [`Engine`], an enum rather than a trait object: the set of engines is
//! closed, the methods are async, and static dispatch keeps each call a plain `match`.
//!
//! The types here are the engine-neutral view atomic needs of an image and a container; each
//! backend maps its own JSON onto them.

mod docker;
mod podman;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

pub use docker::DockerEngine;
pub use podman::PodmanEngine;

/// Which engine a storage name selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EngineKind {
    Docker,
    Podman,
}

impl EngineKind {
    pub const ALL: [EngineKind; 2] = [EngineKind::Docker, EngineKind::Podman];

    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for EngineKind {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "docker" => Ok(EngineKind::Docker),
            "podman" => Ok(EngineKind::Podman),
            other => Err(EngineError::UnknownStorage(other.to_string())),
        }
    }
}

/// What atomic needs to know about an image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageInfo {
    /// Full ID, `sha256:` prefix removed (as the original tool printed IDs).
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    pub env: Vec<String>,
    /// RFC 3339 creation time as the engine reports it.
    pub created: Option<String>,
    pub size: Option<u64>,
}

/// What atomic needs to know about a container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerInfo {
    pub id: String,
    /// Without docker's leading `/`.
    pub name: String,
    /// ID of the image the container was created from, `sha256:` removed.
    pub image_id: String,
    /// The image name the container was created with.
    pub image_name: String,
    pub labels: BTreeMap<String, String>,
    /// Engine state word: `running`, `exited`, `created`, `paused`…
    pub state: String,
    pub running: bool,
    /// The container's own command (Cmd of its config).
    pub cmd: Vec<String>,
    /// Created with stdin, stdout and stderr attached: the original's test for an interactive
    /// container, which `atomic run` restarts with `start -i -a`.
    pub interactive: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("'{0}' is not a storage atomic knows; choose docker or podman")]
    UnknownStorage(String),
    #[error("cannot connect to the Docker daemon at {socket}: {detail}; is dockerd running?")]
    DockerUnavailable { socket: String, detail: String },
    #[error("podman is not installed (no 'podman' on PATH)")]
    PodmanMissing,
    #[error("{engine}: {action} failed: {detail}")]
    Failed {
        engine: EngineKind,
        action: String,
        detail: String,
    },
}

impl EngineError {
    pub(crate) fn failed(
        engine: EngineKind,
        action: impl Into<String>,
        detail: impl fmt::Display,
    ) -> Self {
        EngineError::Failed {
            engine,
            action: action.into(),
            detail: detail.to_string(),
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// An image and/or a container, looked up together: Podman answers both in one process, which is
/// most of the cost of `atomic run` on Podman.
#[derive(Debug, Default)]
pub struct Lookup {
    pub image: Option<ImageInfo>,
    pub container: Option<ContainerInfo>,
}

/// A connected engine.
pub enum Engine {
    Docker(DockerEngine),
    Podman(PodmanEngine),
}

impl Engine {
    /// Connect to an engine. Docker: a client for `DOCKER_HOST` (unix) or the default socket,
    /// connected lazily. Podman: the `podman` program on PATH.
    pub fn connect(kind: EngineKind) -> Result<Engine> {
        Ok(match kind {
            EngineKind::Docker => Engine::Docker(DockerEngine::connect()?),
            EngineKind::Podman => Engine::Podman(PodmanEngine::find()?),
        })
    }

    pub fn kind(&self) -> EngineKind {
        match self {
            Engine::Docker(_) => EngineKind::Docker,
            Engine::Podman(_) => EngineKind::Podman,
        }
    }

    /// The command-line program that runs this engine's `docker …`-style label commands.
    pub fn cli(&self) -> PathBuf {
        match self {
            Engine::Docker(d) => d.cli(),
            Engine::Podman(p) => p.cli(),
        }
    }

    /// Is the engine usable right now (daemon answers / program present)?
    pub async fn available(&self) -> bool {
        match self {
            Engine::Docker(d) => d.ping().await.is_ok(),
            Engine::Podman(_) => true,
        }
    }

    /// Look up an image and a container by name at once; either may be `None`.
    pub async fn lookup(&self, image: Option<&str>, container: Option<&str>) -> Result<Lookup> {
        match self {
            Engine::Docker(d) => d.lookup(image, container).await,
            Engine::Podman(p) => p.lookup(image, container),
        }
    }

    pub async fn image(&self, name: &str) -> Result<Option<ImageInfo>> {
        Ok(self.lookup(Some(name), None).await?.image)
    }

    pub async fn container(&self, name: &str) -> Result<Option<ContainerInfo>> {
        Ok(self.lookup(None, Some(name)).await?.container)
    }

    /// Every container (running or not) created from the image with this ID.
    pub async fn containers_of_image(&self, image_id: &str) -> Result<Vec<ContainerInfo>> {
        match self {
            Engine::Docker(d) => d.containers_of_image(image_id).await,
            Engine::Podman(p) => p.containers_of_image(image_id),
        }
    }

    /// Stop a container the engine's way (its stop signal, then SIGKILL after the timeout).
    pub async fn stop(&self, container: &str) -> Result<()> {
        match self {
            Engine::Docker(d) => d.stop(container).await,
            Engine::Podman(p) => p.stop(container),
        }
    }

    pub async fn remove_container(&self, container: &str, force: bool) -> Result<()> {
        match self {
            Engine::Docker(d) => d.remove_container(container, force).await,
            Engine::Podman(p) => p.remove_container(container, force),
        }
    }

    pub async fn remove_image(&self, image: &str, force: bool) -> Result<()> {
        match self {
            Engine::Docker(d) => d.remove_image(image, force).await,
            Engine::Podman(p) => p.remove_image(image, force),
        }
    }

    /// Pull an image; progress goes to stderr unless `quiet`.
    pub async fn pull(&self, image: &str, quiet: bool) -> Result<()> {
        match self {
            Engine::Docker(d) => d.pull(image, quiet).await,
            Engine::Podman(p) => p.pull(image, quiet),
        }
    }

    /// Read regular files from an image's filesystem without running it: the first of `paths`
    /// that exists, with its path. A temporary container is created and always removed, so
    /// nothing is left mounted or behind.
    pub async fn read_first_file(
        &self,
        image: &str,
        paths: &[&str],
    ) -> Result<Option<(String, Vec<u8>)>> {
        match self {
            Engine::Docker(d) => d.read_first_file(image, paths).await,
            Engine::Podman(p) => p.read_first_file(image, paths),
        }
    }
}

/// Strip the `sha256:` prefix the engines put on IDs.
pub(crate) fn short_id(id: &str) -> String {
    id.strip_prefix("sha256:").unwrap_or(id).to_string()
}

/// Extract the single regular file of a tar stream as the engines' archive endpoints return it.
pub(crate) fn file_from_tar(bytes: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type().is_file() {
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            return Ok(Some(data));
        }
    }
    Ok(None)
}

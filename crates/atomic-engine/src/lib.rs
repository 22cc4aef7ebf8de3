//! The container engines atomic drives.
//!
//! Docker is reached through its Engine API (bollard), Podman through a read-only reader of its
//! image store and, for the rest, its command line's JSON output, and the native engine is
//! atomic's own image store (`atomic-store`). All three are wrapped in [`Engine`], an enum
//! rather than a trait object: the set of engines is closed, the
//! methods are async, and static dispatch keeps each call a plain `match`.
//!
//! The types here are the engine-neutral view atomic needs of an image and a container; each
//! backend maps its own JSON onto them.

// An unwrap on data from outside is a panic a user meets (tests may unwrap: clippy.toml).
#![warn(clippy::unwrap_used)]

mod docker;
pub mod mount;
mod native;
mod podman;
mod root;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::PathBuf;

pub use docker::DockerEngine;
pub use native::NativeEngine;
pub use podman::{Doubt as PodmanStoreDoubt, PodmanEngine, READER_SWITCH as PODMAN_READER_SWITCH};
pub use root::{RootKind, RootLayers};

/// Which engine a storage name selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EngineKind {
    Docker,
    Podman,
    /// atomic's own image store (`--storage native`; `ostree`, the original's name for its
    /// daemonless storage, is accepted too).
    Native,
}

impl EngineKind {
    /// In the order a search without `--storage` asks them, and a pull without one prefers them.
    pub const ALL: [EngineKind; 3] = [EngineKind::Docker, EngineKind::Podman, EngineKind::Native];

    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
            EngineKind::Native => "native",
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
            "native" | "ostree" => Ok(EngineKind::Native),
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

/// One image as `images list` shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageSummary {
    /// Full ID, `sha256:` prefix removed.
    pub id: String,
    /// `repository:tag` names; empty for an image without a name.
    pub repo_tags: Vec<String>,
    /// Creation time, seconds since the epoch.
    pub created: Option<i64>,
    pub size: Option<u64>,
    /// No name and nothing built on it: left behind when its name moved to a newer image.
    pub dangling: bool,
}

/// What removing an image did, as `docker rmi` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// A name was removed; the image stays under its other names.
    Untagged(String),
    /// The image (this ID) is gone.
    Deleted(String),
}

impl fmt::Display for Removal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Removal::Untagged(name) => write!(f, "Untagged: {name}"),
            Removal::Deleted(id) => write!(f, "Deleted: {id}"),
        }
    }
}

/// What pruning dangling images freed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// IDs of the images removed.
    pub images: Vec<String>,
    /// Blobs and unpacked layers removed (native only).
    pub blobs: usize,
    pub layers: usize,
    /// Bytes reclaimed, when the engine says.
    pub bytes: Option<u64>,
}

/// How to reach the engines: where the native store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSettings {
    /// Root of the native image store (`$ATOMIC_STORE_ROOT`, atomic.conf `checkout_path`,
    /// else `/var/lib/containers/atomic`).
    pub store_root: PathBuf,
    /// The OCI runtime of native containers (`--runtime`, atomic.conf `runtime`): a name on
    /// PATH or a path.
    pub runtime: String,
    /// The log driver of native containers that do not name one (atomic.conf `log_driver`;
    /// checked when a container is created), else json-file.
    pub log_driver: Option<String>,
    /// The subnet of the native default bridge network (atomic.conf
    /// `default_network_subnet`), used when that network is first made.
    pub default_network_subnet: Option<String>,
    /// What sets up native containers' bridge networks (atomic.conf `network_driver`:
    /// `builtin`, the default, or `netavark`); checked when a container is created.
    pub network_driver: Option<String>,
}

/// The OCI runtime used when none is configured.
pub const DEFAULT_RUNTIME: &str = "runc";

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            store_root: PathBuf::from(atomic_store::store::DEFAULT_ROOT),
            runtime: DEFAULT_RUNTIME.to_string(),
            log_driver: None,
            default_network_subnet: None,
            network_driver: None,
        }
    }
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
    /// RFC 3339 creation time.
    pub created: String,
    /// What runs it: `docker`, `podman`, or the OCI runtime of a native container.
    pub runtime: String,
    /// Host PID of its main process, while it runs.
    pub pid: Option<i32>,
    /// Published ports as `docker ps` shows them (`127.0.0.1:8080->80/tcp`); native only.
    pub ports: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// `ostree`, the original's name for its daemonless storage, is accepted as native.
    #[error("'{0}' is not a valid storage; choose docker, podman or native")]
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
    /// An operation of the native store failed; the chain says what and on what.
    #[error("{0:#}")]
    Native(anyhow::Error),
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
    Native(NativeEngine),
}

impl Engine {
    /// Connect to an engine. Docker: a client for `DOCKER_HOST` (unix) or the default socket,
    /// connected lazily. Podman: the `podman` program on PATH. Native: the store at
    /// `settings.store_root`, opened (never created) when first needed.
    pub fn connect(kind: EngineKind, settings: &EngineSettings) -> Result<Engine> {
        Ok(match kind {
            EngineKind::Docker => Engine::Docker(DockerEngine::connect()?),
            EngineKind::Podman => Engine::Podman(PodmanEngine::find()?),
            EngineKind::Native => Engine::Native(NativeEngine::with_settings(settings)),
        })
    }

    pub fn kind(&self) -> EngineKind {
        match self {
            Engine::Docker(_) => EngineKind::Docker,
            Engine::Podman(_) => EngineKind::Podman,
            Engine::Native(_) => EngineKind::Native,
        }
    }

    /// The command-line program that runs this engine's `docker …`-style label commands; the
    /// native engine has none: atomic reads those command lines itself.
    pub fn cli(&self) -> Option<PathBuf> {
        match self {
            Engine::Docker(d) => Some(d.cli()),
            Engine::Podman(p) => Some(p.cli()),
            Engine::Native(_) => None,
        }
    }

    /// Is the engine usable right now (daemon answers / program present)? The native store
    /// always is: a missing store is an empty one.
    pub async fn available(&self) -> bool {
        match self {
            Engine::Docker(d) => d.ping().await.is_ok(),
            Engine::Podman(_) | Engine::Native(_) => true,
        }
    }

    /// Look up an image and a container by name at once; either may be `None`.
    pub async fn lookup(&self, image: Option<&str>, container: Option<&str>) -> Result<Lookup> {
        match self {
            Engine::Docker(d) => d.lookup(image, container).await,
            Engine::Podman(p) => p.lookup(image, container),
            Engine::Native(n) => n.lookup(image, container),
        }
    }

    pub async fn image(&self, name: &str) -> Result<Option<ImageInfo>> {
        Ok(self.lookup(Some(name), None).await?.image)
    }

    pub async fn container(&self, name: &str) -> Result<Option<ContainerInfo>> {
        Ok(self.lookup(None, Some(name)).await?.container)
    }

    /// A container's whole record in Docker's inspect layout (Podman's inspect shares it), for
    /// readers that need more than [`ContainerInfo`] (`atomic kube generate`). The native
    /// engine keeps no such record: `Ok(None)` there means "ask elsewhere", not "not found".
    pub async fn inspect_container_json(&self, name: &str) -> Result<Option<serde_json::Value>> {
        match self {
            Engine::Docker(d) => d.inspect_container_json(name).await,
            Engine::Podman(p) => p.inspect_container_json(name),
            Engine::Native(_) => Ok(None),
        }
    }

    /// Every container (running or not) created from the image with this ID.
    pub async fn containers_of_image(&self, image_id: &str) -> Result<Vec<ContainerInfo>> {
        match self {
            Engine::Docker(d) => d.containers_of_image(image_id).await,
            Engine::Podman(p) => p.containers_of_image(image_id),
            Engine::Native(n) => n.containers_of_image(image_id),
        }
    }

    /// Every container, running or not, for `containers list`.
    pub async fn list_containers(&self) -> Result<Vec<ContainerInfo>> {
        match self {
            Engine::Docker(d) => d.list_containers().await,
            Engine::Podman(p) => p.list_containers(),
            Engine::Native(n) => n.list_containers(),
        }
    }

    /// Stop a container the engine's way (its stop signal, then SIGKILL after the timeout).
    pub async fn stop(&self, container: &str) -> Result<()> {
        match self {
            Engine::Docker(d) => d.stop(container).await,
            Engine::Podman(p) => p.stop(container),
            Engine::Native(n) => n.stop(container, None, None).map(drop),
        }
    }

    pub async fn remove_container(&self, container: &str, force: bool) -> Result<()> {
        match self {
            Engine::Docker(d) => d.remove_container(container, force).await,
            Engine::Podman(p) => p.remove_container(container, force),
            Engine::Native(n) => n.remove_container(container, force),
        }
    }

    /// Remove an image by name or ID. A name that is one of several of the image's names only
    /// loses that name, as with `docker rmi`.
    pub async fn remove_image(&self, image: &str, force: bool) -> Result<Vec<Removal>> {
        match self {
            Engine::Docker(d) => d.remove_image(image, force).await,
            Engine::Podman(p) => p.remove_image(image, force),
            Engine::Native(n) => n.remove_image(image, force),
        }
    }

    /// Pull an image; progress goes to stderr unless `opts.quiet`. `opts.tls_verify` and
    /// `opts.credentials` are refused by Docker, whose daemon has its own registry settings.
    pub async fn pull(&self, image: &str, opts: &atomic_store::PullOptions) -> Result<()> {
        match self {
            Engine::Docker(d) => d.pull(image, opts).await,
            Engine::Podman(p) => p.pull(image, opts),
            Engine::Native(n) => {
                let source = atomic_store::Source::parse(image).map_err(EngineError::Native)?;
                n.pull(&source, opts).await.map(drop)
            }
        }
    }

    /// Push an image to a registry (`atomic push`): Docker and Podman by their own push,
    /// native by atomic's (`atomic_store::push`). `destination` defaults to the image's name.
    pub async fn push(
        &self,
        image: &str,
        destination: Option<&str>,
        opts: &atomic_store::PushOptions,
    ) -> Result<()> {
        match self {
            Engine::Docker(d) => d.push(image, destination, opts).await,
            Engine::Podman(p) => p.push(image, destination, opts),
            Engine::Native(n) => {
                let store = n.store()?;
                let pushed = atomic_store::push::push(&store, image, destination, opts)
                    .await
                    .map_err(EngineError::Native)?;
                if !opts.quiet {
                    eprintln!(
                        "Pushed {} ({}; {} blobs sent, {} already there)",
                        pushed.destination, pushed.digest, pushed.uploaded, pushed.skipped
                    );
                }
                Ok(())
            }
        }
    }

    /// Every image, for `images list`; `all` adds intermediate images (Docker and Podman).
    pub async fn list_images(&self, all: bool) -> Result<Vec<ImageSummary>> {
        match self {
            Engine::Docker(d) => d.list_images(all).await,
            Engine::Podman(p) => p.list_images(all),
            Engine::Native(n) => n.list_images(),
        }
    }

    /// IDs of the images some container (running or not) was created from: `images list`
    /// marks them as used.
    pub async fn used_image_ids(&self) -> Result<HashSet<String>> {
        match self {
            Engine::Docker(d) => d.used_image_ids().await,
            Engine::Podman(p) => p.used_image_ids(),
            Engine::Native(n) => n.used_image_ids(),
        }
    }

    /// Give an image another name (`target`, as the user wrote it).
    pub async fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        match self {
            Engine::Docker(d) => d.tag_image(source, target).await,
            Engine::Podman(p) => p.tag_image(source, target),
            Engine::Native(n) => n.tag_image(source, target).map(drop),
        }
    }

    /// Remove dangling images (and, on the native store, everything no image needs).
    pub async fn prune_images(&self) -> Result<PruneReport> {
        match self {
            Engine::Docker(d) => d.prune_images().await,
            Engine::Podman(p) => p.prune_images(),
            Engine::Native(n) => n.prune_images(),
        }
    }

    /// Read regular files from an image's filesystem without running it: the first of `paths`
    /// that exists, with its path. Docker and Podman: a temporary container is created and
    /// always removed, so nothing is left mounted or behind. Native: read straight from the
    /// unpacked layers, top layer first.
    pub async fn read_first_file(
        &self,
        image: &str,
        paths: &[&str],
    ) -> Result<Option<(String, Vec<u8>)>> {
        match self {
            Engine::Docker(d) => d.read_first_file(image, paths).await,
            Engine::Podman(p) => p.read_first_file(image, paths),
            Engine::Native(n) => n.read_first_file(image, paths),
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

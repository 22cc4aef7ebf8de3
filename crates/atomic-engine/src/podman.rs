//! Podman: read-only answers from its image store directly, everything else through its
//! command line's JSON output.
//!
//! Podman has no daemon to ask, so every query through it is a `podman` process (~40 ms here).
//! Lookups, listings and label reads therefore go to [`storage`], a reader of
//! containers/storage's files, first; whenever it is not sure ([`Doubt`]) the answer comes from
//! `podman` as before, and `--debug` says why. Writes (pull, run, rm, tag) are always the CLI's.
//! On the CLI path the lookup asks for the image and the container in one `podman inspect
//! --type all` so that `atomic run` costs one process, not two.

mod libpod_names;
mod push;
pub mod storage;
mod store_images;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use atomic_exec::{Sink, Task};
use serde::Deserialize;

use crate::root::{RootKind, RootLayers, graph_driver_layers, is_overlay};
use crate::{
    ContainerInfo, EngineError, EngineKind, ImageInfo, ImageSummary, Lookup, PruneReport, Removal,
    Result, file_from_tar,
};
pub use storage::Doubt;
use storage::{Parts, Snapshot, StoreEnv, StoreLocation, Sure};

/// Set to `off` to answer everything through the `podman` command (to compare, or to rule the
/// reader out when something looks wrong).
pub const READER_SWITCH: &str = "ATOMIC_PODMAN_STORAGE_READER";

#[derive(Clone)]
pub struct PodmanEngine {
    program: PathBuf,
    reader: bool,
}

impl PodmanEngine {
    /// Find `podman` on PATH.
    pub fn find() -> Result<Self> {
        let reader = std::env::var(READER_SWITCH).map_or(true, |v| v != "off");
        atomic_exec::find_program("podman")
            .map(|program| PodmanEngine { program, reader })
            .ok_or(EngineError::PodmanMissing)
    }

    /// Where the store is, unless the reader is switched off or does not know the store.
    fn store(&self) -> Sure<StoreLocation> {
        if !self.reader {
            return storage::doubt(format!("{READER_SWITCH}=off"));
        }
        storage::locate(&StoreEnv::from_process())
    }

    fn snapshot(&self, parts: Parts) -> Sure<Snapshot> {
        Snapshot::read(&self.store()?, parts)
    }

    /// The reader's answer, or `None` after saying (with `--debug`) why the CLI must answer.
    fn from_store<T>(what: &str, answer: Sure<T>) -> Option<T> {
        match answer {
            Ok(found) => Some(found),
            Err(why) => {
                tracing::debug!("podman storage reader: {what}: {why}; asking the podman command");
                None
            }
        }
    }

    /// The reader's own answer for an image (`Err` when it would leave it to `podman`).
    pub fn read_image(&self, name: &str) -> Sure<ImageInfo> {
        let snapshot = self.snapshot(Parts {
            images: true,
            layers: true,
            containers: false,
        })?;
        snapshot.image_info(snapshot.resolve(name)?)
    }

    /// The reader's own `images list` (`all`: with intermediate images) and the IDs of the
    /// images containers use.
    pub fn read_image_list(&self, all: bool) -> Sure<(Vec<ImageSummary>, HashSet<String>)> {
        let snapshot = self.snapshot(Parts {
            images: true,
            layers: true,
            containers: true,
        })?;
        Ok((snapshot.summaries(all)?, snapshot.used_image_ids()))
    }

    /// The reader's own answer to "is there surely no container `name`?": `Ok(true)` when
    /// surely none, `Ok(false)` when one may exist (podman must tell which).
    pub fn read_container_absent(&self, name: &str) -> Sure<bool> {
        let snapshot = self.snapshot(Parts {
            containers: true,
            ..Parts::default()
        })?;
        if snapshot.has_container(name) {
            return Ok(false);
        }
        Ok(!libpod_names::may_have_container(
            &snapshot.location.graphroot,
            name,
        )?)
    }

    /// An image and the assurance that no container `container` exists, from the store.
    fn read_lookup(&self, image: Option<&str>, container: Option<&str>) -> Sure<Lookup> {
        if let Some(name) = container
            && !self.read_container_absent(name)?
        {
            return storage::doubt(format!(
                "a container '{name}' may exist; its labels and state are libpod's"
            ));
        }
        Ok(Lookup {
            image: image.map(|name| self.read_image(name)).transpose()?,
            container: None,
        })
    }

    pub fn cli(&self) -> PathBuf {
        PathBuf::from("podman")
    }

    /// `podman ARGS…`, stdin on /dev/null.
    fn task<S: AsRef<std::ffi::OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Task {
        Task::new("running podman", &self.program).args(args)
    }

    /// Run a pull or push: its progress (stderr) is the user's, the ID it prints on stdout is
    /// not; an unsuccessful exit is an error of `action`.
    fn transfer(&self, action: &str, task: Task) -> Result<()> {
        task.stdout(Sink::Null)
            .stderr(Sink::Inherit)
            .run()
            .map(drop)
            .map_err(|e| EngineError::failed(EngineKind::Podman, action, e))
    }

    fn output(&self, action: &str, args: &[&str]) -> Result<Output> {
        self.task(args)
            .output()
            .map_err(|e| EngineError::failed(EngineKind::Podman, action, e))
    }

    /// Run a podman command whose failure is an error (its stderr becomes the message).
    fn checked(&self, action: &str, args: &[&str]) -> Result<Output> {
        let out = self.output(action, args)?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(EngineError::failed(
                EngineKind::Podman,
                action,
                stderr_text(&out),
            ))
        }
    }

    /// Run an inspect-like command; "no such …" is an empty answer, other failures are errors.
    fn inspect(&self, action: &str, args: &[&str]) -> Result<Vec<serde_json::Value>> {
        let out = self.output(action, args)?;
        // With several names podman prints what it found and fails for the rest.
        let found: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if out.status.success() || !found.is_empty() || is_not_found(&out) {
            Ok(found)
        } else {
            Err(EngineError::failed(
                EngineKind::Podman,
                action,
                stderr_text(&out),
            ))
        }
    }

    pub fn lookup(&self, image: Option<&str>, container: Option<&str>) -> Result<Lookup> {
        let what = match (image, container) {
            (Some(i), Some(c)) => format!("image '{i}' and container '{c}'"),
            (Some(i), None) => format!("image '{i}'"),
            (None, Some(c)) => format!("container '{c}'"),
            (None, None) => "nothing".to_string(),
        };
        if let Some(found) = Self::from_store(&what, self.read_lookup(image, container)) {
            return Ok(found);
        }
        self.cli_lookup(image, container)
    }

    fn cli_lookup(&self, image: Option<&str>, container: Option<&str>) -> Result<Lookup> {
        let mut found = Lookup::default();
        match (image, container) {
            (None, None) => {}
            (Some(image), None) => found.image = self.inspect_image(image)?,
            (None, Some(container)) => {
                found.container = self
                    .inspect("container inspect", &["container", "inspect", container])?
                    .into_iter()
                    .find_map(parse_container);
            }
            // The default NAME is often the image's own name. Podman resolves a name to a
            // container before an image, so one lookup answers both questions: an image back
            // means no container has that name.
            (Some(image), Some(container)) if image == container => {
                let object = self
                    .inspect("inspect", &["inspect", "--type", "all", image])?
                    .into_iter()
                    .next();
                match object {
                    Some(o) if o.get("State").is_some() => {
                        found.container = parse_container(o);
                        found.image = self.inspect_image(image)?;
                    }
                    Some(o) => found.image = parse_image(o),
                    None => {}
                }
            }
            (Some(image), Some(container)) => {
                let objects =
                    self.inspect("inspect", &["inspect", "--type", "all", image, container])?;
                let mut image_answer = None;
                for object in objects {
                    if object.get("State").is_some() {
                        if let Some(c) = parse_container(object)
                            && (c.name == container || c.id.starts_with(container))
                        {
                            found.container = Some(c);
                        }
                    } else if image_answer.is_none() {
                        image_answer = parse_image(object);
                    }
                }
                // `inspect --type all` prefers a container of the same name over the image;
                // ask for the image alone in that case.
                found.image = match image_answer {
                    Some(i) => Some(i),
                    None => self.inspect_image(image)?,
                };
            }
        }
        Ok(found)
    }

    pub fn inspect_container_json(&self, name: &str) -> Result<Option<serde_json::Value>> {
        Ok(self
            .inspect("container inspect", &["container", "inspect", name])?
            .into_iter()
            .next())
    }

    fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>> {
        Ok(self
            .inspect("image inspect", &["image", "inspect", image])?
            .into_iter()
            .find_map(parse_image))
    }

    /// `podman image mount` / `podman mount`: the merged root, which Podman counts as in use
    /// until [`PodmanEngine::release`].
    pub(crate) fn mount_source(
        &self,
        object: crate::mount::Object<'_>,
    ) -> Result<(crate::mount::MountSource, Option<crate::mount::Release>)> {
        use crate::mount::{MountSource, Object, Release};
        let (kind, id, release) = match object {
            Object::Image(id) => (RootKind::Image, id, Release::PodmanImage(id.to_string())),
            Object::Container { id, .. } => (
                RootKind::Container,
                id,
                Release::PodmanContainer(id.to_string()),
            ),
        };
        let path = self.mount_root(kind, id)?;
        Ok((MountSource::Merged(path), Some(release)))
    }

    /// Give back a mount taken by [`PodmanEngine::mount_source`].
    pub(crate) fn release(&self, release: &crate::mount::Release) -> Result<()> {
        use crate::mount::Release;
        match release {
            Release::PodmanImage(id) => self.unmount(RootKind::Image, id),
            Release::PodmanContainer(id) => self.unmount(RootKind::Container, id),
        }
    }

    /// `podman image mount ID` / `podman mount ID`: the merged root, which Podman counts as in
    /// use until [`unmount`](Self::unmount).
    fn mount_root(&self, kind: RootKind, id: &str) -> Result<PathBuf> {
        let args = match kind {
            RootKind::Image => vec!["image", "mount", id],
            RootKind::Container => vec!["mount", id],
        };
        let out = self.checked("mount", &args)?;
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if path.is_empty() {
            return Err(EngineError::failed(
                EngineKind::Podman,
                "mount",
                format!("'podman {}' printed no path", args.join(" ")),
            ));
        }
        Ok(PathBuf::from(path))
    }

    /// `podman image unmount ID` / `podman unmount ID`: give back a [`mount_root`](Self::mount_root).
    fn unmount(&self, kind: RootKind, id: &str) -> Result<()> {
        match kind {
            RootKind::Image => self.checked("image unmount", &["image", "unmount", id]),
            RootKind::Container => self.checked("unmount", &["unmount", id]),
        }
        .map(drop)
    }

    pub fn containers_of_image(&self, image_id: &str) -> Result<Vec<ContainerInfo>> {
        let filter = format!("ancestor={image_id}");
        Ok(self
            .containers(&["--filter", &filter])?
            .into_iter()
            .filter(|c| c.image_id == image_id)
            .collect())
    }

    /// Every container (running or not), for `containers list`.
    pub fn list_containers(&self) -> Result<Vec<ContainerInfo>> {
        self.containers(&[])
    }

    /// The containers `podman ps -a` lists with `filter`: one process for all of them. Their
    /// state, command and labels are libpod's, which only podman can tell.
    fn containers(&self, filter: &[&str]) -> Result<Vec<ContainerInfo>> {
        let mut ps = vec!["ps", "-a", "--format", "json"];
        ps.extend(filter);
        let out = self.checked("container list", &ps)?;
        let list: Vec<PodmanListedContainer> = serde_json::from_slice(&out.stdout)
            .map_err(|e| EngineError::failed(EngineKind::Podman, "container list", e))?;
        Ok(list
            .into_iter()
            .map(PodmanListedContainer::into_info)
            .collect())
    }

    pub fn stop(&self, container: &str) -> Result<()> {
        self.checked("stop", &["stop", container]).map(drop)
    }

    pub fn remove_container(&self, container: &str, force: bool) -> Result<()> {
        let args: &[&str] = if force {
            &["rm", "-f", container]
        } else {
            &["rm", container]
        };
        self.checked("container remove", args).map(drop)
    }

    pub fn remove_image(&self, image: &str, force: bool) -> Result<Vec<Removal>> {
        let args: &[&str] = if force {
            &["rmi", "-f", image]
        } else {
            &["rmi", image]
        };
        let out = self.checked(&format!("image remove {image}"), args)?;
        Ok(parse_removals(&String::from_utf8_lossy(&out.stdout)))
    }

    pub fn list_images(&self, all: bool) -> Result<Vec<ImageSummary>> {
        if let Some((images, _)) = Self::from_store("image list", self.read_image_list(all)) {
            return Ok(images);
        }
        let mut args = vec!["images", "--format", "json"];
        if all {
            args.push("--all");
        }
        let out = self.checked("image list", &args)?;
        let list: Vec<PodmanListedImage> = serde_json::from_slice(&out.stdout)
            .map_err(|e| EngineError::failed(EngineKind::Podman, "image list", e))?;
        // Podman prints an image once per name, each time with all its names.
        let mut seen = HashSet::new();
        Ok(list
            .into_iter()
            .filter(|i| seen.insert(i.id.clone()))
            .map(|i| {
                let repo_tags = i.names.unwrap_or_default();
                ImageSummary {
                    dangling: i.dangling.unwrap_or(repo_tags.is_empty()),
                    id: i.id,
                    repo_tags,
                    created: i.created,
                    size: i.size,
                }
            })
            .collect())
    }

    /// The images the store's containers use: every container of the store, including those
    /// of other tools (buildah), which keep an image in use for podman too.
    pub fn used_image_ids(&self) -> Result<HashSet<String>> {
        let read = self
            .snapshot(Parts {
                containers: true,
                ..Parts::default()
            })
            .map(|s| s.used_image_ids());
        if let Some(used) = Self::from_store("used images", read) {
            return Ok(used);
        }
        let out = self.checked("container list", &["ps", "-a", "--format", "json"])?;
        let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)
            .map_err(|e| EngineError::failed(EngineKind::Podman, "container list", e))?;
        Ok(list
            .iter()
            .filter_map(|c| c.get("ImageID").and_then(|v| v.as_str()))
            .map(str::to_string)
            .collect())
    }

    pub fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        self.checked(
            &format!("tag {source} as {target}"),
            &["tag", source, target],
        )
        .map(drop)
    }

    pub fn prune_images(&self) -> Result<PruneReport> {
        // Without --all, podman prunes only dangling images, as the original did.
        let out = self.checked("image prune", &["image", "prune", "--force"])?;
        Ok(PruneReport {
            images: String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            ..PruneReport::default()
        })
    }

    pub fn pull(&self, image: &str, opts: &atomic_store::PullOptions) -> Result<()> {
        let quiet = opts.quiet;
        let mut args: Vec<std::ffi::OsString> = vec!["pull".into()];
        args.extend(registry_args(opts.tls_verify, opts.cert_dir.as_deref()));
        // atomic's global --signature-policy reaches Podman's pulls too.
        if let Some(policy) = atomic_store::pull::policy::explicit_policy(opts) {
            args.extend(["--signature-policy".into(), policy.into_os_string()]);
        }
        // `--creds` would put the password in the process list; an authfile (mode 0600,
        // removed when the pull ends) does not.
        let authfile = match &opts.credentials {
            Some((user, password)) => {
                let file = authfile(image, user, password).map_err(|e| {
                    EngineError::failed(EngineKind::Podman, format!("pull {image}"), e)
                })?;
                args.extend(["--authfile".into(), file.path().as_os_str().to_owned()]);
                Some(file)
            }
            None => {
                if let Some(path) = &opts.authfile {
                    args.extend(["--authfile".into(), path.as_os_str().to_owned()]);
                }
                None
            }
        };
        if quiet {
            args.push("--quiet".into());
        }
        args.push(image.into());
        // podman prints the image ID on stdout; progress is on stderr, the user's.
        let result = self.transfer(&format!("pull {image}"), self.task(&args));
        drop(authfile);
        result
    }

    pub fn read_first_file(
        &self,
        image: &str,
        paths: &[&str],
    ) -> Result<Option<(String, Vec<u8>)>> {
        let read = self
            .snapshot(Parts {
                images: true,
                layers: true,
                containers: false,
            })
            .and_then(|s| s.read_first_file(s.resolve(image)?, paths));
        if let Some(found) = Self::from_store(&format!("files of {image}"), read) {
            return Ok(found);
        }
        // A created, never started container exposes the image's files to `podman cp`.
        let created = self.checked(
            "create a container to read files",
            &[
                "create",
                "--pull=never",
                "--entrypoint=",
                image,
                "/atomic-help-reader",
            ],
        )?;
        let id = String::from_utf8_lossy(&created.stdout).trim().to_string();
        let result = self.read_from_container(&id, paths);
        let removed = self.remove_container(&id, true);
        let found = result?;
        removed?;
        Ok(found)
    }

    fn read_from_container(&self, id: &str, paths: &[&str]) -> Result<Option<(String, Vec<u8>)>> {
        for path in paths {
            let source = format!("{id}:{path}");
            let out = self.output("cp", &["cp", &source, "-"])?;
            if !out.status.success() {
                continue;
            }
            let data = file_from_tar(&out.stdout)
                .map_err(|e| EngineError::failed(EngineKind::Podman, format!("read {path}"), e))?;
            if let Some(data) = data {
                return Ok(Some((path.to_string(), data)));
            }
        }
        Ok(None)
    }

    /// A container's, else an image's, inspect output (`Engine::inspect_json`).
    pub fn inspect_json(&self, name: &str) -> Result<Option<serde_json::Value>> {
        if let Some(container) = self.inspect_container_json(name)? {
            return Ok(Some(container));
        }
        Ok(self
            .inspect("image inspect", &["image", "inspect", name])?
            .into_iter()
            .next())
    }

    /// The layer directories of a container, else an image (`crate::root`).
    pub fn root_layers(&self, name: &str) -> Result<Option<RootLayers>> {
        let containers = self.inspect("container inspect", &["container", "inspect", name])?;
        let (object, kind) = match containers.into_iter().next() {
            Some(c) => (c, RootKind::Container),
            None => match self
                .inspect("image inspect", &["image", "inspect", name])?
                .into_iter()
                .next()
            {
                Some(i) => (i, RootKind::Image),
                None => return Ok(None),
            },
        };
        let (id, driver, data) = graph_driver_of(&object)?;
        if is_overlay(&driver) {
            let layers = graph_driver_layers(EngineKind::Podman, &driver, &data)?;
            return Ok(Some(RootLayers {
                kind,
                id,
                layers,
                mounted: false,
            }));
        }
        // Another driver's layers are not overlay directories: let podman mount the root.
        let path = self.mount_root(kind, &id)?;
        Ok(Some(RootLayers {
            kind,
            id,
            layers: vec![path],
            mounted: true,
        }))
    }

    /// Unmount what [`root_layers`](Self::root_layers) had podman mount.
    pub fn unmount_root(&self, root: &RootLayers) -> Result<()> {
        self.unmount(root.kind, &root.id)
    }
}

/// The ID, storage driver and driver data of one `podman inspect` object.
fn graph_driver_of(
    object: &serde_json::Value,
) -> Result<(String, String, std::collections::HashMap<String, String>)> {
    #[derive(Deserialize, Default)]
    struct Driver {
        #[serde(rename = "Name", default)]
        name: String,
        #[serde(rename = "Data", default)]
        data: Option<std::collections::HashMap<String, String>>,
    }
    let id = object
        .get("Id")
        .and_then(|v| v.as_str())
        .map(crate::short_id)
        .unwrap_or_default();
    let driver: Driver = object
        .get("GraphDriver")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| EngineError::failed(EngineKind::Podman, "inspect", e))?
        .unwrap_or_default();
    Ok((id, driver.name, driver.data.unwrap_or_default()))
}

/// A containers-auth.json holding one registry's credentials, for `podman pull --authfile`.
/// `--tls-verify` and `--cert-dir` of a pull or push, as atomic was given them.
fn registry_args(tls_verify: Option<bool>, cert_dir: Option<&Path>) -> Vec<std::ffi::OsString> {
    let mut args = Vec::new();
    if let Some(verify) = tls_verify {
        args.push(format!("--tls-verify={verify}").into());
    }
    if let Some(dir) = cert_dir {
        args.extend(["--cert-dir".into(), dir.as_os_str().to_owned()]);
    }
    args
}

fn authfile(image: &str, user: &str, password: &str) -> std::io::Result<tempfile::NamedTempFile> {
    use std::io::Write;
    let registry = atomic_store::ImageName::parse(image)
        .ok()
        .and_then(|n| n.registry)
        .unwrap_or_else(|| atomic_store::reference::DEFAULT_REGISTRY.to_string());
    use base64::Engine;
    // auth.json's encoding: standard base64 with padding.
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let doc = serde_json::json!({ "auths": { registry: { "auth": auth } } });
    // tempfile creates files with mode 0600; the prefix says whose file it is.
    let mut file = tempfile::Builder::new().prefix("atomic-auth-").tempfile()?;
    file.write_all(doc.to_string().as_bytes())?;
    Ok(file)
}

/// `podman rmi` prints `Untagged: NAME` and `Deleted: ID` lines.
fn parse_removals(stdout: &str) -> Vec<Removal> {
    stdout
        .lines()
        .filter_map(|l| {
            if let Some(name) = l.strip_prefix("Untagged: ") {
                Some(Removal::Untagged(name.trim().to_string()))
            } else {
                l.strip_prefix("Deleted: ")
                    .map(|id| Removal::Deleted(id.trim().to_string()))
            }
        })
        .collect()
}

/// An entry of `podman images --format json`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PodmanListedImage {
    id: String,
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    created: Option<i64>,
    #[serde(default)]
    size: Option<u64>,
    /// Newer podman says; older ones leave it out, and an image without names is dangling.
    #[serde(default)]
    dangling: Option<bool>,
}

fn stderr_text(out: &Output) -> String {
    let text = atomic_exec::stderr_tail(&out.stderr);
    let text = text.trim_start_matches("Error: ");
    if text.is_empty() {
        format!("podman exited with {}", out.status)
    } else {
        text.to_string()
    }
}

/// podman's answers for a name it does not have: "NAME: image not known", "no such
/// container", "no such object", "no container with name or ID …". Other "not known"s, such as
/// containers/storage's "layer not known", are failures to report, not a missing name.
fn is_not_found(out: &Output) -> bool {
    let text = String::from_utf8_lossy(&out.stderr).to_lowercase();
    ["no such", "image not known", "no container with name"]
        .iter()
        .any(|needle| text.contains(needle))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct PodmanConfig {
    labels: Option<BTreeMap<String, String>>,
    cmd: Option<Vec<String>>,
    entrypoint: Option<serde_json::Value>,
    env: Option<Vec<String>>,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    open_stdin: bool,
    image: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PodmanImage {
    id: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    repo_digests: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    config: PodmanConfig,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    size: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct PodmanState {
    status: String,
    running: bool,
    pid: i32,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PodmanContainer {
    id: String,
    name: String,
    image: String,
    #[serde(default)]
    image_name: String,
    #[serde(default)]
    config: PodmanConfig,
    #[serde(default)]
    state: PodmanState,
    #[serde(default)]
    created: String,
}

/// An entry of `podman ps -a --format json`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PodmanListedContainer {
    id: String,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    image: String,
    #[serde(default, rename = "ImageID")]
    image_id: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    command: Option<Vec<String>>,
    #[serde(default)]
    state: String,
    #[serde(default)]
    pid: i32,
    /// Seconds since the epoch.
    #[serde(default)]
    created: i64,
}

impl PodmanListedContainer {
    fn into_info(self) -> ContainerInfo {
        let running = self.state == "running";
        ContainerInfo {
            name: self.names.into_iter().next().unwrap_or_default(),
            id: self.id,
            image_id: self.image_id,
            image_name: self.image,
            labels: self.labels.unwrap_or_default(),
            state: self.state,
            running,
            cmd: self.command.unwrap_or_default(),
            // `ps` does not say; only `atomic run` asks, and it inspects the container.
            interactive: false,
            created: chrono::DateTime::from_timestamp(self.created, 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            runtime: "podman".to_string(),
            pid: (running && self.pid > 0).then_some(self.pid),
            ports: Vec::new(),
        }
    }
}

/// Podman prints Entrypoint as a string in some versions and a list in others.
fn string_or_list(v: Option<serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::String(s)) if !s.is_empty() => vec![s],
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn parse_image(v: serde_json::Value) -> Option<ImageInfo> {
    let i: PodmanImage = serde_json::from_value(v).ok()?;
    Some(ImageInfo {
        id: i.id,
        repo_tags: i.repo_tags.unwrap_or_default(),
        repo_digests: i.repo_digests.unwrap_or_default(),
        labels: i.labels.or(i.config.labels).unwrap_or_default(),
        cmd: i.config.cmd.unwrap_or_default(),
        entrypoint: string_or_list(i.config.entrypoint),
        env: i.config.env.unwrap_or_default(),
        created: i.created,
        size: i.size,
    })
}

fn parse_container(v: serde_json::Value) -> Option<ContainerInfo> {
    let c: PodmanContainer = serde_json::from_value(v).ok()?;
    // Podman never sets the Attach* fields; a container created with -i has OpenStdin.
    let interactive = c.config.open_stdin
        || (c.config.attach_stdin && c.config.attach_stdout && c.config.attach_stderr);
    Some(ContainerInfo {
        id: c.id,
        name: c.name,
        image_id: c.image,
        image_name: if c.image_name.is_empty() {
            c.config.image
        } else {
            c.image_name
        },
        labels: c.config.labels.unwrap_or_default(),
        state: c.state.status,
        running: c.state.running,
        cmd: c.config.cmd.unwrap_or_default(),
        interactive,
        created: c.created,
        runtime: "podman".to_string(),
        pid: (c.state.pid > 0).then_some(c.state.pid),
        ports: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_and_push_pass_tls_settings_on_only_when_given() {
        assert!(registry_args(None, None).is_empty());
        assert_eq!(
            registry_args(Some(false), Some(Path::new("/certs"))),
            ["--tls-verify=false", "--cert-dir", "/certs"]
        );
    }

    #[test]
    fn a_missing_name_is_told_from_other_failures() {
        use std::os::unix::process::ExitStatusExt;
        let failed = |stderr: &str| Output {
            status: std::process::ExitStatus::from_raw(125 << 8),
            stdout: b"[]".to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        };
        // podman 4.3's words for names it does not have.
        for missing in [
            "Error: inspecting object: nosuch:1: image not known",
            "Error: inspecting object: no such object: \"nosuch\"",
            "Error: inspecting object: no such container nosuch",
        ] {
            assert!(is_not_found(&failed(missing)), "{missing}");
        }
        assert!(!is_not_found(&failed(
            "Error: inspecting object: layer not known"
        )));
        assert!(!is_not_found(&failed("Error: database is locked")));
    }

    #[test]
    fn parses_podman_image_json() {
        let v = serde_json::json!({
            "Id": "abc", "RepoTags": ["localhost/x:latest"], "Labels": {"RUN": "docker run IMAGE"},
            "Config": {"Cmd": ["/bin/sh"], "Entrypoint": "/init", "Env": ["PATH=/bin"]},
            "Created": "2024-01-01T00:00:00Z", "Size": 10
        });
        let i = parse_image(v).unwrap();
        assert_eq!(i.labels["RUN"], "docker run IMAGE");
        assert_eq!(i.entrypoint, vec!["/init"]);
        assert_eq!(i.cmd, vec!["/bin/sh"]);
    }

    #[test]
    fn parses_rmi_output() {
        let r = parse_removals("Untagged: localhost/x:latest\nDeleted: abc\n");
        assert_eq!(
            r,
            vec![
                Removal::Untagged("localhost/x:latest".into()),
                Removal::Deleted("abc".into())
            ]
        );
    }

    #[test]
    fn parses_podman_container_json() {
        let v = serde_json::json!({
            "Id": "c1", "Name": "web", "Image": "abc", "ImageName": "localhost/x:latest",
            "Config": {"Labels": {"STOP": "docker stop NAME"}, "Cmd": ["sh"],
                       "AttachStdin": true, "AttachStdout": true, "AttachStderr": true},
            "State": {"Status": "running", "Running": true}
        });
        let c = parse_container(v).unwrap();
        assert!(c.running && c.interactive);
        assert_eq!(c.labels["STOP"], "docker stop NAME");
    }
}

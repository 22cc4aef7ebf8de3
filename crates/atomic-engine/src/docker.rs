//! Docker through its Engine API (bollard).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use atomic_store::docker_client::{Endpoint, ProcessEnvironment};
use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, ContainerInspectResponse, ImageInspect};
use bollard::query_parameters::{
    CreateImageOptionsBuilder, DownloadFromContainerOptionsBuilder, ListContainersOptionsBuilder,
    ListImagesOptionsBuilder, PruneImagesOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder, StopContainerOptions, TagImageOptionsBuilder,
};
use futures_util::StreamExt;

mod push;

use crate::root::{RootKind, RootLayers, graph_driver_layers};
use crate::{
    ContainerInfo, EngineError, EngineKind, ImageInfo, ImageSummary, Lookup, PruneReport, Removal,
    Result, file_from_tar, short_id,
};

/// The Docker engine, reached where the `docker` CLI would reach it (see
/// `atomic_store::docker_client`).
pub struct DockerEngine {
    client: Docker,
    socket: String,
}

impl DockerEngine {
    /// Decide where the daemon is; nothing is sent until a request needs it.
    pub fn connect() -> Result<Self> {
        let unavailable = |socket: &str, e: anyhow::Error| EngineError::DockerUnavailable {
            socket: socket.to_string(),
            detail: format!("{e:#}"),
        };
        let endpoint = Endpoint::resolve(&ProcessEnvironment)
            .map_err(|e| unavailable("the Docker endpoint", e))?;
        let client = endpoint
            .client()
            .map_err(|e| unavailable(&endpoint.host, e))?;
        Ok(DockerEngine {
            client,
            socket: endpoint.host,
        })
    }

    pub fn cli(&self) -> PathBuf {
        PathBuf::from("docker")
    }

    /// Map a bollard error: connection problems become "daemon unavailable", a 404 is `None`.
    fn classify<T>(&self, action: &str, r: Result<T, BollardError>) -> Result<Option<T>> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(BollardError::DockerResponseServerError { message, .. }) => {
                Err(EngineError::failed(EngineKind::Docker, action, message))
            }
            Err(e) => Err(self.unavailable_or_failed(action, e)),
        }
    }

    fn unavailable_or_failed(&self, action: &str, e: BollardError) -> EngineError {
        match e {
            BollardError::DockerResponseServerError { message, .. } => {
                EngineError::failed(EngineKind::Docker, action, message)
            }
            BollardError::HyperResponseError { .. }
            | BollardError::IOError { .. }
            | BollardError::SocketNotFoundError(_)
            | BollardError::RequestTimeoutError => EngineError::DockerUnavailable {
                socket: self.socket.clone(),
                detail: error_chain(&e),
            },
            other => EngineError::failed(EngineKind::Docker, action, error_chain(&other)),
        }
    }

    pub async fn ping(&self) -> Result<()> {
        self.client
            .ping()
            .await
            .map(drop)
            .map_err(|e| self.unavailable_or_failed("ping", e))
    }

    pub async fn lookup(&self, image: Option<&str>, container: Option<&str>) -> Result<Lookup> {
        let mut found = Lookup::default();
        if let Some(name) = image {
            let r = self.client.inspect_image(name).await;
            found.image = self.classify("image inspect", r)?.map(image_info);
        }
        if let Some(name) = container {
            let r = self.client.inspect_container(name, None).await;
            found.container = self.classify("container inspect", r)?.map(container_info);
        }
        Ok(found)
    }

    /// The graph driver's directories of an image or container (see `mount.rs`).
    pub(crate) async fn mount_source(
        &self,
        object: crate::mount::Object<'_>,
    ) -> Result<crate::mount::MountSource> {
        use crate::mount::{Object, overlay2_source};
        let missing = |what: &str| {
            EngineError::failed(EngineKind::Docker, "mount", format!("{what} not found"))
        };
        match object {
            Object::Image(id) => {
                let r = self.client.inspect_image(id).await;
                let image = self
                    .classify("image inspect", r)?
                    .ok_or_else(|| missing(&format!("image {id}")))?;
                let driver = image.graph_driver.map(|d| (d.name, d.data));
                overlay2_source(driver, false, &format!("image {id}"))
            }
            Object::Container { id, live } => {
                let r = self.client.inspect_container(id, None).await;
                let container = self
                    .classify("container inspect", r)?
                    .ok_or_else(|| missing(&format!("container {id}")))?;
                let driver = container.graph_driver.map(|d| (d.name, d.data));
                overlay2_source(driver, live, &format!("container {id}"))
            }
        }
    }

    pub async fn inspect_container_json(&self, name: &str) -> Result<Option<serde_json::Value>> {
        let r = self.client.inspect_container(name, None).await;
        match self.classify("container inspect", r)? {
            Some(record) => serde_json::to_value(record)
                .map(Some)
                .map_err(|e| EngineError::failed(EngineKind::Docker, "container inspect", e)),
            None => Ok(None),
        }
    }

    pub async fn containers_of_image(&self, image_id: &str) -> Result<Vec<ContainerInfo>> {
        let filters = std::collections::HashMap::from([("ancestor", vec![image_id])]);
        let found = self.containers(Some(&filters)).await?;
        // `ancestor` also matches children of the image; keep exact matches only.
        Ok(found
            .into_iter()
            .filter(|c| c.image_id == short_id(image_id))
            .collect())
    }

    /// Every container (running or not), for `containers list`.
    pub async fn list_containers(&self) -> Result<Vec<ContainerInfo>> {
        self.containers(None).await
    }

    /// The containers the daemon lists (with `filters`), inspected.
    async fn containers(
        &self,
        filters: Option<&std::collections::HashMap<&str, Vec<&str>>>,
    ) -> Result<Vec<ContainerInfo>> {
        let mut builder = ListContainersOptionsBuilder::default().all(true);
        if let Some(filters) = filters {
            builder = builder.filters(filters);
        }
        let options = builder.build();
        let list = self
            .client
            .list_containers(Some(options))
            .await
            .map_err(|e| self.unavailable_or_failed("container list", e))?;
        let mut out = Vec::new();
        for summary in list {
            let Some(id) = summary.id else { continue };
            if let Some(c) = self.lookup(None, Some(&id)).await?.container {
                out.push(c);
            }
        }
        Ok(out)
    }

    pub async fn stop(&self, container: &str) -> Result<()> {
        self.client
            .stop_container(container, None::<StopContainerOptions>)
            .await
            .map_err(|e| self.unavailable_or_failed("stop", e))
    }

    pub async fn remove_container(&self, container: &str, force: bool) -> Result<()> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(force)
            .build();
        self.client
            .remove_container(container, Some(options))
            .await
            .map_err(|e| self.unavailable_or_failed("container remove", e))
    }

    pub async fn remove_image(&self, image: &str, force: bool) -> Result<Vec<Removal>> {
        let options = RemoveImageOptionsBuilder::default().force(force).build();
        let items = self
            .client
            .remove_image(image, Some(options), None)
            .await
            .map_err(|e| self.unavailable_or_failed(&format!("image remove {image}"), e))?;
        Ok(items
            .into_iter()
            .flat_map(|i| {
                let untagged = i.untagged.map(Removal::Untagged);
                let deleted = i.deleted.map(|d| Removal::Deleted(short_id(&d)));
                untagged.into_iter().chain(deleted)
            })
            .collect())
    }

    pub async fn list_images(&self, all: bool) -> Result<Vec<ImageSummary>> {
        let options = ListImagesOptionsBuilder::default().all(all).build();
        let list = self
            .client
            .list_images(Some(options))
            .await
            .map_err(|e| self.unavailable_or_failed("image list", e))?;
        // With `all`, untagged intermediate images are listed too; only those without
        // children are dangling, which the daemon knows and says through its filter.
        let dangling: HashSet<String> = if all {
            let filters = HashMap::from([("dangling", vec!["true"])]);
            let options = ListImagesOptionsBuilder::default()
                .filters(&filters)
                .build();
            self.client
                .list_images(Some(options))
                .await
                .map_err(|e| self.unavailable_or_failed("image list", e))?
                .into_iter()
                .map(|i| short_id(&i.id))
                .collect()
        } else {
            HashSet::new()
        };
        Ok(list
            .into_iter()
            .map(|i| {
                let id = short_id(&i.id);
                let repo_tags: Vec<String> = i
                    .repo_tags
                    .into_iter()
                    .filter(|t| t != "<none>:<none>")
                    .collect();
                ImageSummary {
                    dangling: if all {
                        dangling.contains(&id)
                    } else {
                        repo_tags.is_empty()
                    },
                    id,
                    repo_tags,
                    created: Some(i.created),
                    size: u64::try_from(i.size).ok(),
                }
            })
            .collect())
    }

    pub async fn used_image_ids(&self) -> Result<HashSet<String>> {
        let options = ListContainersOptionsBuilder::default().all(true).build();
        let list = self
            .client
            .list_containers(Some(options))
            .await
            .map_err(|e| self.unavailable_or_failed("container list", e))?;
        Ok(list
            .into_iter()
            .filter_map(|c| c.image_id.map(|i| short_id(&i)))
            .collect())
    }

    pub async fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        let (repo, tag) = split_tag(target);
        let options = TagImageOptionsBuilder::default()
            .repo(repo)
            .tag(tag.unwrap_or("latest"))
            .build();
        self.client
            .tag_image(source, Some(options))
            .await
            .map_err(|e| self.unavailable_or_failed(&format!("tag {source} as {target}"), e))
    }

    pub async fn prune_images(&self) -> Result<PruneReport> {
        let filters = HashMap::from([("dangling", vec!["true"])]);
        let options = PruneImagesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let answer = self
            .client
            .prune_images(Some(options))
            .await
            .map_err(|e| self.unavailable_or_failed("image prune", e))?;
        Ok(PruneReport {
            images: answer
                .images_deleted
                .unwrap_or_default()
                .into_iter()
                .filter_map(|i| i.deleted.map(|d| short_id(&d)))
                .collect(),
            bytes: answer.space_reclaimed.and_then(|b| u64::try_from(b).ok()),
            ..PruneReport::default()
        })
    }

    pub async fn pull(&self, image: &str, opts: &atomic_store::PullOptions) -> Result<()> {
        if opts.tls_verify.is_some() {
            return Err(EngineError::failed(
                EngineKind::Docker,
                format!("pull {image}"),
                "--tls-verify cannot be passed to the Docker daemon (it reads insecure \
                 registries from its own daemon.json); use --storage podman or native",
            ));
        }
        if opts.cert_dir.is_some() || opts.authfile.is_some() {
            return Err(EngineError::failed(
                EngineKind::Docker,
                format!("pull {image}"),
                "--cert-dir and --authfile cannot be passed to the Docker daemon (it reads \
                 /etc/docker/certs.d and its own logins); use --storage podman or native",
            ));
        }
        let quiet = opts.quiet;
        let (from, tag) = split_tag(image);
        let mut options = CreateImageOptionsBuilder::default().from_image(from);
        if let Some(tag) = tag {
            options = options.tag(tag);
        }
        let credentials = credentials(opts.credentials.as_ref());
        let mut stream = self
            .client
            .create_image(Some(options.build()), None, credentials);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| self.unavailable_or_failed(&format!("pull {image}"), e))?;
            if let Some(error) = info.error_detail.and_then(|d| d.message) {
                return Err(EngineError::failed(
                    EngineKind::Docker,
                    format!("pull {image}"),
                    error,
                ));
            }
            if !quiet && let Some(status) = info.status {
                match info.id {
                    Some(id) => eprintln!("{id}: {status}"),
                    None => eprintln!("{status}"),
                }
            }
        }
        Ok(())
    }

    pub async fn read_first_file(
        &self,
        image: &str,
        paths: &[&str],
    ) -> Result<Option<(String, Vec<u8>)>> {
        // A created (never started) container gives access to the image's files through the
        // archive endpoint; Cmd is set because docker refuses to create one for an image without.
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(vec!["/atomic-help-reader".to_string()]),
            entrypoint: Some(vec![]),
            ..Default::default()
        };
        let created = self
            .client
            .create_container(
                None::<bollard::query_parameters::CreateContainerOptions>,
                body,
            )
            .await
            .map_err(|e| self.unavailable_or_failed("create a container to read files", e))?;
        let result = self.read_from_container(&created.id, paths).await;
        let removed = self.remove_container(&created.id, true).await;
        let found = result?;
        removed?;
        Ok(found)
    }

    async fn read_from_container(
        &self,
        id: &str,
        paths: &[&str],
    ) -> Result<Option<(String, Vec<u8>)>> {
        for path in paths {
            let options = DownloadFromContainerOptionsBuilder::default()
                .path(path)
                .build();
            let mut stream = self.client.download_from_container(id, Some(options));
            let mut bytes = Vec::new();
            let mut missing = false;
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(chunk) => bytes.extend_from_slice(&chunk),
                    Err(BollardError::DockerResponseServerError {
                        status_code: 404, ..
                    }) => {
                        missing = true;
                        break;
                    }
                    Err(e) => return Err(self.unavailable_or_failed(&format!("read {path}"), e)),
                }
            }
            if missing {
                continue;
            }
            let data = file_from_tar(&bytes)
                .map_err(|e| EngineError::failed(EngineKind::Docker, format!("read {path}"), e))?;
            if let Some(data) = data {
                return Ok(Some((path.to_string(), data)));
            }
        }
        Ok(None)
    }

    /// A container's, else an image's, inspect output (`Engine::inspect_json`).
    pub async fn inspect_json(&self, name: &str) -> Result<Option<serde_json::Value>> {
        if let Some(container) = self.inspect_container_json(name).await? {
            return Ok(Some(container));
        }
        let r = self.client.inspect_image(name).await;
        match self.classify("image inspect", r)? {
            Some(image) => serde_json::to_value(image)
                .map(Some)
                .map_err(|e| EngineError::failed(EngineKind::Docker, "image inspect", e)),
            None => Ok(None),
        }
    }

    /// The layer directories of a container, else an image (`crate::root`).
    pub async fn root_layers(&self, name: &str) -> Result<Option<RootLayers>> {
        let r = self.client.inspect_container(name, None).await;
        if let Some(c) = self.classify("container inspect", r)? {
            let driver = c.graph_driver.unwrap_or_default();
            return Ok(Some(RootLayers {
                kind: RootKind::Container,
                id: c.id.unwrap_or_default(),
                layers: graph_driver_layers(EngineKind::Docker, &driver.name, &driver.data)?,
                mounted: false,
            }));
        }
        let r = self.client.inspect_image(name).await;
        let Some(image) = self.classify("image inspect", r)? else {
            return Ok(None);
        };
        let driver = image.graph_driver.unwrap_or_default();
        Ok(Some(RootLayers {
            kind: RootKind::Image,
            id: short_id(image.id.as_deref().unwrap_or_default()),
            layers: graph_driver_layers(EngineKind::Docker, &driver.name, &driver.data)?,
            mounted: false,
        }))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// `name:tag` → (`name`, `tag`); a digest reference is passed whole.
fn split_tag(image: &str) -> (&str, Option<&str>) {
    if image.contains('@') {
        return (image, None);
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) => (&image[..last_slash + i], Some(&image[last_slash + i + 1..])),
        None => (image, None),
    }
}

/// `--creds USER:PASSWORD` as the daemon takes credentials for a pull or push.
fn credentials(creds: Option<&(String, String)>) -> Option<DockerCredentials> {
    creds.map(|(user, password)| DockerCredentials {
        username: Some(user.clone()),
        password: Some(password.clone()),
        ..Default::default()
    })
}

fn labels(map: Option<std::collections::HashMap<String, String>>) -> BTreeMap<String, String> {
    map.unwrap_or_default().into_iter().collect()
}

fn image_info(i: ImageInspect) -> ImageInfo {
    let config = i.config.unwrap_or_default();
    ImageInfo {
        id: short_id(&i.id.unwrap_or_default()),
        repo_tags: i.repo_tags.unwrap_or_default(),
        repo_digests: i.repo_digests.unwrap_or_default(),
        labels: labels(config.labels),
        cmd: config.cmd.unwrap_or_default(),
        entrypoint: config.entrypoint.unwrap_or_default(),
        env: config.env.unwrap_or_default(),
        created: i.created.map(|c| c.to_string()),
        size: i.size.and_then(|s| u64::try_from(s).ok()),
    }
}

fn container_info(c: ContainerInspectResponse) -> ContainerInfo {
    let config = c.config.unwrap_or_default();
    let state = c.state.unwrap_or_default();
    let interactive = config.attach_stdin == Some(true)
        && config.attach_stdout == Some(true)
        && config.attach_stderr == Some(true);
    ContainerInfo {
        id: c.id.unwrap_or_default(),
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image_id: short_id(&c.image.unwrap_or_default()),
        image_name: config.image.unwrap_or_default(),
        labels: labels(config.labels),
        state: state.status.map(|s| s.to_string()).unwrap_or_default(),
        running: state.running == Some(true),
        cmd: config.cmd.unwrap_or_default(),
        interactive,
        created: c.created.map(|c| c.to_string()).unwrap_or_default(),
        runtime: "docker".to_string(),
        pid: state
            .pid
            .filter(|&p| p > 0)
            .and_then(|p| i32::try_from(p).ok()),
        ports: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::split_tag;

    #[test]
    fn split_tag_cases() {
        for (input, want) in [
            ("busybox", ("busybox", None)),
            ("busybox:1", ("busybox", Some("1"))),
            ("localhost:5000/a/b", ("localhost:5000/a/b", None)),
            ("localhost:5000/a/b:t", ("localhost:5000/a/b", Some("t"))),
            ("a@sha256:00", ("a@sha256:00", None)),
        ] {
            assert_eq!(split_tag(input), want, "{input}");
        }
    }
}

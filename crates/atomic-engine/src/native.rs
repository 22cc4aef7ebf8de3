//! The native engine: atomic's own image store (`atomic-store`) behind the engine API.
//!
//! Reading commands (lookups, listings) never create the store: a store that does not exist is
//! an empty one, so `atomic info foo` on a host that never pulled into it costs one `stat`.
//! Only writing commands (pull, tag) create it. Its containers (`containers.rs`) run through an
//! OCI runtime with `atomic-runtime`, whose docker executor reaches them through this engine
//! (`execute.rs`).

mod containers;
mod create;
mod execute;
mod initlayer;
pub(crate) mod rootfs;

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};

use atomic_store::{ImageName, PullOptions, Pulled, Source, Store, StoredImage};

use crate::root::{RootKind, RootLayers};
use crate::{EngineError, ImageInfo, ImageSummary, Lookup, PruneReport, Removal, Result};

pub struct NativeEngine {
    root: PathBuf,
    runtime: String,
    log_driver: Option<String>,
    /// atomic.conf `default_network_subnet`, checked when the default network is made.
    default_subnet: Option<String>,
    /// atomic.conf `network_driver`, checked when a container is created.
    network_driver: Option<String>,
}

/// Every store error goes out with its whole chain: it says what failed and on what.
fn native(e: anyhow::Error) -> EngineError {
    EngineError::Native(e)
}

impl NativeEngine {
    /// The store at `root`, its containers run by the default runtime.
    pub fn new(root: &Path) -> Self {
        Self::with_settings(&crate::EngineSettings {
            store_root: root.to_path_buf(),
            ..Default::default()
        })
    }

    pub fn with_settings(settings: &crate::EngineSettings) -> Self {
        NativeEngine {
            root: settings.store_root.clone(),
            runtime: settings.runtime.clone(),
            log_driver: settings.log_driver.clone(),
            default_subnet: settings.default_network_subnet.clone(),
            network_driver: settings.network_driver.clone(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether there is a store at all (its index is what makes one).
    pub fn exists(&self) -> bool {
        self.root.join("index.json").exists()
    }

    /// The store if it exists.
    pub fn existing(&self) -> Result<Option<Store>> {
        Store::open_existing(&self.root).map_err(native)
    }

    /// The store, created when missing (for commands that add to it).
    pub fn store(&self) -> Result<Store> {
        Store::open(&self.root).map_err(native)
    }

    /// The image a user's name, ID or ID prefix designates, with its store.
    pub fn resolve(&self, query: &str) -> Result<Option<(Store, StoredImage)>> {
        let Some(store) = self.existing()? else {
            return Ok(None);
        };
        let found = store.resolve(query).map_err(native)?;
        Ok(found.map(|img| (store, img)))
    }

    /// Like [`resolve`](Self::resolve), but a miss is an error that says how to get the image.
    pub fn require(&self, query: &str) -> Result<(Store, StoredImage)> {
        self.resolve(query)?.ok_or_else(|| {
            native(anyhow!(
                "image '{query}' not found in storage 'native'; pull it with 'atomic pull \
                 --storage native {query}'"
            ))
        })
    }

    pub fn lookup(&self, image: Option<&str>, container: Option<&str>) -> Result<Lookup> {
        let image = match image {
            Some(query) => self.resolve(query)?.map(|(_, img)| image_info(&img)),
            None => None,
        };
        let container = match container {
            Some(query) => self.find_container(query)?.map(|(_, info)| info),
            None => None,
        };
        Ok(Lookup { image, container })
    }

    /// Pull into the store (created if needed).
    pub async fn pull(&self, source: &Source, opts: &PullOptions) -> Result<Pulled> {
        let store = self.store()?;
        atomic_store::pull::pull(&store, source, opts)
            .await
            .map_err(native)
    }

    /// Remove what `query` names. A name removes that name only; the image goes with its last
    /// name, or when it is named by ID (then with every name it has). An image a container
    /// uses is refused unless `force`; forced, it loses its names but its content stays pinned
    /// until the container goes (as with docker).
    pub fn remove_image(&self, query: &str, force: bool) -> Result<Vec<Removal>> {
        if self.resolve(query)?.is_none()
            && let Some(removed) = self.remove_damaged(query)?
        {
            return Ok(removed);
        }
        let (store, img) = self.require(query)?;
        if !force && let Some(c) = self.containers_of_image(img.id())?.first() {
            return Err(native(anyhow!(
                "unable to remove image '{query}' (must force): container {} ({}) is using it",
                c.name,
                atomic_runtime::state::short_id(&c.id)
            )));
        }
        match matching_name(&img, query) {
            Some(name) if img.names.len() > 1 => {
                store
                    .untag(&name)
                    .with_context(|| format!("removing name '{name}'"))
                    .map_err(native)?;
                Ok(vec![Removal::Untagged(name)])
            }
            _ => {
                store
                    .delete(&img)
                    .with_context(|| format!("deleting image {}", img.id()))
                    .map_err(native)?;
                let mut out: Vec<Removal> = img.names.into_iter().map(Removal::Untagged).collect();
                out.push(Removal::Deleted(img.config_digest.hex().to_string()));
                Ok(out)
            }
        }
    }

    /// Whether `query` names an index entry whose image cannot be loaded (its manifest or
    /// config is missing or corrupt): no lookup finds it, but `images delete` removes it.
    pub fn is_damaged(&self, query: &str) -> Result<bool> {
        let Some(store) = self.existing()? else {
            return Ok(false);
        };
        Ok(store.damaged_entry(query).map_err(native)?.is_some())
    }

    /// Remove the damaged entry `query` names (every name of it), if it is one.
    fn remove_damaged(&self, query: &str) -> Result<Option<Vec<Removal>>> {
        let Some(store) = self.existing()? else {
            return Ok(None);
        };
        let Some((names, manifest)) = store.damaged_entry(query).map_err(native)? else {
            return Ok(None);
        };
        store
            .drop_entry(&manifest)
            .and_then(|()| store.collect_garbage())
            .with_context(|| format!("removing the damaged entry '{query}'"))
            .map_err(native)?;
        let mut out: Vec<Removal> = names.into_iter().map(Removal::Untagged).collect();
        out.push(Removal::Deleted(manifest.hex().to_string()));
        Ok(Some(out))
    }

    pub fn list_images(&self) -> Result<Vec<ImageSummary>> {
        let Some(store) = self.existing()? else {
            return Ok(Vec::new());
        };
        let images = store.images().map_err(native)?;
        Ok(images
            .iter()
            .map(|img| ImageSummary {
                id: img.id().to_string(),
                repo_tags: img.names.clone(),
                created: created_epoch(img),
                size: img.size,
                dangling: img.names.is_empty(),
            })
            .collect())
    }

    /// Name the image `source` designates `target` too; returns the qualified new name.
    pub fn tag_image(&self, source: &str, target: &str) -> Result<String> {
        let (store, img) = self.require(source)?;
        let name = ImageName::parse(target)
            .map_err(|e| native(anyhow::Error::new(e)))?
            .qualified();
        if name.digest.is_some() {
            return Err(native(anyhow!(
                "'{target}' pins a digest; a new name needs a tag (NAME[:TAG])"
            )));
        }
        let name = name.to_string();
        store
            .tag(&img, &name)
            .with_context(|| format!("naming image {} '{name}'", img.id()))
            .map_err(native)?;
        Ok(name)
    }

    pub fn prune_images(&self) -> Result<PruneReport> {
        let Some(store) = self.existing()? else {
            return Ok(PruneReport::default());
        };
        let dangling: Vec<String> = store
            .images()
            .map_err(native)?
            .into_iter()
            .filter(|i| i.names.is_empty())
            .map(|i| i.id().to_string())
            .collect();
        let report = store.prune().map_err(native)?;
        Ok(PruneReport {
            images: dangling,
            blobs: report.blobs,
            layers: report.layers,
            bytes: Some(report.blob_bytes),
        })
    }

    /// The first of `paths` that is a regular file in the image, read from its unpacked layers.
    pub fn read_first_file(
        &self,
        image: &str,
        paths: &[&str],
    ) -> Result<Option<(String, Vec<u8>)>> {
        let (store, img) = self.require(image)?;
        let mut layers = img.layer_dirs(&store).map_err(native)?;
        if let Some(missing) = layers.iter().find(|d| !d.is_dir()) {
            return Err(native(anyhow!(
                "layer {} of image '{image}' is missing from the store; pull the image again",
                missing.display()
            )));
        }
        layers.reverse();
        for path in paths {
            let data = rootfs::read_file(&layers, path)
                .with_context(|| format!("reading {path} from image '{image}'"))
                .map_err(native)?;
            if let Some(data) = data {
                return Ok(Some((path.to_string(), data)));
            }
        }
        Ok(None)
    }

    /// A container's record, else an image's config (`Engine::inspect_json`).
    pub fn inspect_json(&self, name: &str) -> Result<Option<serde_json::Value>> {
        let value = if let Some((record, _)) = self.find_container(name)? {
            serde_json::to_value(record)
        } else if let Some((_, img)) = self.resolve(name)? {
            serde_json::to_value(&img.config)
        } else {
            return Ok(None);
        };
        value.map(Some).map_err(|e| native(e.into()))
    }

    /// The layer directories of a container, else an image (`crate::root`): a container's own
    /// writes (`upper`) over its recorded layers, or the image's unpacked layers, top first.
    pub fn root_layers(&self, name: &str) -> Result<Option<RootLayers>> {
        if let Some(runner) = self.runner()?
            && let Some(record) = runner.containers.find(name).map_err(native)?
        {
            let upper = runner.containers.dir(&record.id).join("upper");
            let layers = containers::container_layers(Some(upper), &record);
            return Ok(Some(RootLayers {
                kind: RootKind::Container,
                id: record.id,
                layers,
                mounted: false,
            }));
        }
        let Some((store, img)) = self.resolve(name)? else {
            return Ok(None);
        };
        Ok(Some(RootLayers {
            kind: RootKind::Image,
            id: img.id().to_string(),
            layers: image_layers(&store, &img)?,
            mounted: false,
        }))
    }
}

/// An image's unpacked layers, top first.
pub(super) fn image_layers(store: &Store, image: &StoredImage) -> Result<Vec<PathBuf>> {
    let mut layers = image.layer_dirs(store).map_err(native)?;
    layers.reverse();
    Ok(layers)
}

/// The name of `img` that `query` spells, if it spells one (not an ID).
fn matching_name(img: &StoredImage, query: &str) -> Option<String> {
    let name = ImageName::parse(query).ok()?;
    let qualified = name.qualified().to_string();
    if img.names.contains(&qualified) {
        return Some(qualified);
    }
    if name.registry.is_none() {
        // A short name: the one of the image's names `image::find` matched it to.
        let tag = name.tag.as_deref().unwrap_or("latest");
        let suffix = format!("/{}:{tag}", name.repository);
        return img.names.iter().find(|n| n.ends_with(&suffix)).cloned();
    }
    None
}

fn created_epoch(img: &StoredImage) -> Option<i64> {
    img.config
        .created()
        .as_deref()
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|t| t.timestamp())
}

/// The engine-neutral view of a stored image.
pub fn image_info(img: &StoredImage) -> ImageInfo {
    let config = img.config.config().clone().unwrap_or_default();
    ImageInfo {
        id: img.id().to_string(),
        repo_tags: img.names.clone(),
        repo_digests: img
            .names
            .iter()
            .map(|n| {
                let repo = ImageName::parse(n)
                    .map(|p| p.repo_path())
                    .unwrap_or_default();
                format!("{repo}@{}", img.manifest_digest)
            })
            .collect(),
        labels: img.labels(),
        cmd: config.cmd().clone().unwrap_or_default(),
        entrypoint: config.entrypoint().clone().unwrap_or_default(),
        env: config.env().clone().unwrap_or_default(),
        created: img.config.created().clone(),
        size: img.size,
    }
}

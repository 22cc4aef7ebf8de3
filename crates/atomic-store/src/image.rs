//! Images as the store holds them: an index entry, its manifest and its config, and how a name
//! a user types finds one.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use oci_spec::image::{ImageConfiguration, ImageManifest};

use crate::digest::Digest;
use crate::reference::ImageName;
use crate::store::{SIZE_ANNOTATION, STORED_ANNOTATION, Store, ref_name};

/// One image in the store (one manifest), with every name that points at it.
#[derive(Debug, Clone)]
pub struct StoredImage {
    /// Fully qualified names; empty for a dangling image.
    pub names: Vec<String>,
    pub manifest_digest: Digest,
    pub manifest: ImageManifest,
    /// The image ID, as Docker defines it: the digest of the config.
    pub config_digest: Digest,
    pub config: ImageConfiguration,
    /// Uncompressed size of the layers, when recorded at pull time.
    pub size: Option<u64>,
    /// When the image was stored, RFC 3339.
    pub stored: Option<String>,
}

impl StoredImage {
    /// The ID as atomic prints it (config digest, hex).
    pub fn id(&self) -> &str {
        self.config_digest.hex()
    }

    /// The layers' diff_ids, base first.
    pub fn diff_ids(&self) -> Result<Vec<Digest>> {
        self.config
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| d.parse::<Digest>().map_err(anyhow::Error::from))
            .collect()
    }

    /// The unpacked layer directories, base first.
    pub fn layer_dirs(&self, store: &Store) -> Result<Vec<PathBuf>> {
        Ok(self
            .diff_ids()?
            .iter()
            .map(|d| store.layer_path(d))
            .collect())
    }

    pub fn labels(&self) -> BTreeMap<String, String> {
        self.config
            .config()
            .as_ref()
            .and_then(|c| c.labels().clone())
            .map(|l| l.into_iter().collect())
            .unwrap_or_default()
    }
}

impl Store {
    /// Every image, in index order.
    pub fn images(&self) -> Result<Vec<StoredImage>> {
        let index = self.index()?;
        let mut by_manifest: Vec<StoredImage> = Vec::new();
        for entry in index.manifests() {
            let digest = Digest::try_from(entry.digest())
                .with_context(|| format!("index entry {}", entry.digest()))?;
            let name = ref_name(entry).map(str::to_owned);
            if let Some(img) = by_manifest.iter_mut().find(|i| i.manifest_digest == digest) {
                img.names.extend(name);
                continue;
            }
            let ann = entry.annotations().clone().unwrap_or_default();
            // One damaged image must not hide the others: it is reported and skipped, and
            // `images verify` says what is wrong with it.
            let mut img = match self.load_image(&digest) {
                Ok(img) => img,
                Err(e) => {
                    eprintln!(
                        "warning: image {} is damaged ({e:#}); 'atomic images verify --repair' \
                         says what is wrong and repairs or removes it",
                        name.as_deref().unwrap_or(digest.hex())
                    );
                    continue;
                }
            };
            img.names.extend(name);
            img.size = ann.get(SIZE_ANNOTATION).and_then(|s| s.parse().ok());
            img.stored = ann.get(STORED_ANNOTATION).cloned();
            by_manifest.push(img);
        }
        Ok(by_manifest)
    }

    /// Read a manifest and its config from blobs.
    pub fn load_image(&self, manifest_digest: &Digest) -> Result<StoredImage> {
        let manifest = ImageManifest::from_reader(&self.read_blob(manifest_digest)?[..])
            .with_context(|| format!("manifest {manifest_digest} is not an image manifest"))?;
        let config_digest = Digest::try_from(manifest.config().digest())?;
        let config = ImageConfiguration::from_reader(&self.read_blob(&config_digest)?[..])
            .with_context(|| format!("config {config_digest} is not an image config"))?;
        Ok(StoredImage {
            names: Vec::new(),
            manifest_digest: manifest_digest.clone(),
            manifest,
            config_digest,
            config,
            size: None,
            stored: None,
        })
    }

    /// Find an image by what a user typed: a name (qualified or short), an ID or unique ID
    /// prefix, or a manifest digest. A short name that matches images on several registries is
    /// an error listing them rather than a guess.
    pub fn resolve(&self, query: &str) -> Result<Option<StoredImage>> {
        let images = self.images()?;
        Ok(find(&images, query)?.cloned())
    }
}

/// The matching rules of [`Store::resolve`] on a list of images.
pub fn find<'a>(images: &'a [StoredImage], query: &str) -> Result<Option<&'a StoredImage>> {
    if let Ok(name) = ImageName::parse(query) {
        let qualified = name.qualified().to_string();
        if let Some(img) = images.iter().find(|i| i.names.contains(&qualified)) {
            return Ok(Some(img));
        }
        if name.registry.is_none() {
            // `busybox` or `x/busybox:1` pulled from another registry.
            let tag = name.tag.as_deref().unwrap_or("latest");
            let suffix = format!("/{}:{tag}", name.repository);
            let hits: Vec<&StoredImage> = images
                .iter()
                .filter(|i| i.names.iter().any(|n| n.ends_with(&suffix)))
                .collect();
            match hits.as_slice() {
                [one] => return Ok(Some(one)),
                [] => {}
                many => {
                    let names: Vec<&str> = many
                        .iter()
                        .flat_map(|i| i.names.iter().filter(|n| n.ends_with(&suffix)))
                        .map(String::as_str)
                        .collect();
                    bail!(
                        "'{query}' matches several images: {}; use the full name",
                        names.join(", ")
                    );
                }
            }
        }
    }
    let hex = query.strip_prefix("sha256:").unwrap_or(query);
    if hex.len() >= 3 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let hits: Vec<&StoredImage> = images
            .iter()
            .filter(|i| i.id().starts_with(hex) || i.manifest_digest.hex().starts_with(hex))
            .collect();
        match hits.as_slice() {
            [one] => return Ok(Some(one)),
            [] => {}
            _ => bail!("ID prefix '{query}' matches several images; give more digits"),
        }
    }
    Ok(None)
}

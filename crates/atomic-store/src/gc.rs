//! Removing images and collecting what no image needs any more.
//!
//! Names are removed from `index.json` first; blobs and layers no remaining entry reaches are
//! then deleted under the exclusive gc lock, so a pull that has written blobs it has not yet
//! named (it holds the lock shared) is never robbed of them.

use std::collections::HashSet;
use std::fs;

use anyhow::{Context, Result, bail};

use crate::digest::Digest;
use crate::image::StoredImage;
use crate::store::{Store, ref_name, remove_tree};

/// What a collection removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// Dangling images dropped from the index.
    pub images: usize,
    pub blobs: usize,
    pub layers: usize,
    /// Bytes of blobs freed (layer trees are not measured).
    pub blob_bytes: u64,
}

impl Store {
    /// Give an image another name. The name is validated and qualified by the caller.
    pub fn tag(&self, image: &StoredImage, name: &str) -> Result<()> {
        let index = self.index()?;
        let entry = index
            .manifests()
            .iter()
            .find(|e| e.digest().as_ref() == image.manifest_digest.to_string())
            .cloned()
            .context("the image vanished from the index")?;
        self.set_ref(name, entry)
    }

    /// Remove an image with all its names, then collect garbage.
    pub fn delete(&self, image: &StoredImage) -> Result<GcReport> {
        let digest = image.manifest_digest.to_string();
        self.update_index(|entries| entries.retain(|e| e.digest().as_ref() != digest))?;
        self.collect_garbage()
    }

    /// Remove one name; the image stays while it has other names. Returns false when no entry
    /// had that name.
    pub fn untag(&self, name: &str) -> Result<bool> {
        let removed = self.update_index(|entries| {
            let before = entries.len();
            entries.retain(|e| ref_name(e) != Some(name));
            before != entries.len()
        })?;
        if removed {
            self.collect_garbage()?;
        }
        Ok(removed)
    }

    /// The names and manifest of the index entry `query` names when its image cannot be loaded
    /// (its manifest or config blob is missing or corrupt): no image lookup finds such an
    /// entry, so `images delete NAME` asks for it here. Names only, as they are in the index.
    pub fn damaged_entry(&self, query: &str) -> Result<Option<(Vec<String>, Digest)>> {
        let Some((names, digest)) = crate::verify::find_in_index(self, query)? else {
            return Ok(None);
        };
        Ok(self.load_image(&digest).is_err().then_some((names, digest)))
    }

    /// Remove every index entry of the manifest `digest` (all its names), and nothing else:
    /// its blobs and layers go at the next collection if nothing else needs them.
    pub fn drop_entry(&self, digest: &Digest) -> Result<()> {
        let digest = digest.to_string();
        self.update_index(|entries| entries.retain(|e| e.digest().as_ref() != digest))
    }

    /// Drop dangling images (no name), entries whose manifest is gone (nothing can use them;
    /// each is named on stderr), and everything unreferenced.
    pub fn prune(&self) -> Result<GcReport> {
        let dropped = self.update_index(|entries| {
            let before = entries.len();
            entries.retain(|e| {
                if self.entry_manifest_missing(e) {
                    eprintln!(
                        "Removed damaged entry {} (its manifest {} is missing)",
                        ref_name(e).unwrap_or("<none>"),
                        e.digest()
                    );
                    return false;
                }
                ref_name(e).is_some()
            });
            before - entries.len()
        })?;
        let mut report = self.collect_garbage()?;
        report.images = dropped;
        Ok(report)
    }

    /// Delete blobs and layers that no index entry reaches, and everything in `tmp/`.
    pub fn collect_garbage(&self) -> Result<GcReport> {
        let _gc = self.gc_lock()?;
        let (blobs, layers) = self.reachable()?;
        let mounted = mounted_layers(self);
        let mut report = GcReport::default();

        for entry in fs::read_dir(self.root().join("blobs/sha256"))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !blobs.contains(&name) {
                report.blob_bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
                remove_tree(&entry.path());
                report.blobs += 1;
            }
        }
        // Unknown when a damaged image hides which layers it needs: keep them all.
        let layer_entries = match &layers {
            Some(_) => fs::read_dir(self.root().join("layers"))?.collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let layers = layers.unwrap_or_default();
        for entry in layer_entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let hex = name.strip_suffix(".size").unwrap_or(&name);
            if layers.contains(hex) {
                continue;
            }
            if mounted.contains(hex) {
                tracing::info!("layer {hex} is unreferenced but mounted; kept");
                continue;
            }
            if !name.ends_with(".size") {
                report.layers += 1;
            }
            self.remove_layer(hex);
        }
        self.clear_tmp()?;
        Ok(report)
    }

    /// Does this index entry point at a manifest blob that is not in the store?
    fn entry_manifest_missing(&self, entry: &oci_spec::image::Descriptor) -> bool {
        Digest::try_from(entry.digest()).is_ok_and(|d| !self.has_blob(&d))
    }

    /// The blob and layer names (hex) every index entry and every pin needs. An index entry
    /// whose manifest is missing needs nothing (no image can be built from it): it is
    /// reported and skipped, so one damaged entry does not stop every delete and prune;
    /// `images prune` removes it. An image whose manifest or config cannot be read keeps its
    /// manifest blob and, since its layers cannot be told, every layer for this collection.
    /// A pinned manifest that is missing still stops the collection: a container is using it.
    fn reachable(&self) -> Result<(HashSet<String>, Option<HashSet<String>>)> {
        let mut blobs = HashSet::new();
        let mut layers = Some(HashSet::new());
        let mut roots = Vec::new();
        for entry in self.index()?.manifests() {
            if self.entry_manifest_missing(entry) {
                eprintln!(
                    "warning: image {} is damaged: its manifest {} is missing; 'atomic images \
                     prune --storage native' removes the entry",
                    ref_name(entry).unwrap_or("<none>"),
                    entry.digest()
                );
                continue;
            }
            roots.push(Digest::try_from(entry.digest())?);
        }
        roots.extend(self.pins()?.into_iter().map(|(_, digest)| digest));
        for digest in roots {
            if !self.has_blob(&digest) {
                bail!(
                    "manifest {digest} is pinned by a container but missing from the store; \
                     refusing to collect garbage"
                );
            }
            blobs.insert(digest.hex().to_string());
            let img = match self.load_image(&digest) {
                Ok(img) => img,
                Err(e) => {
                    eprintln!(
                        "warning: image {digest} is damaged ({e:#}); its blobs and layers are \
                         kept; 'atomic images verify --repair' removes it"
                    );
                    layers = None;
                    continue;
                }
            };
            blobs.insert(img.config_digest.hex().to_string());
            for layer in img.manifest.layers() {
                blobs.insert(Digest::try_from(layer.digest())?.hex().to_string());
            }
            if let Some(layers) = layers.as_mut() {
                for d in img.diff_ids()? {
                    layers.insert(d.hex().to_string());
                }
            }
        }
        Ok((blobs, layers))
    }
}

/// Layers used as lower dirs of overlay mounts (from `atomic mount`): never deleted under a
/// mount, which would change what the mount shows.
pub(crate) fn mounted_layers(store: &Store) -> HashSet<String> {
    let prefix = store.root().join("layers");
    let prefix = prefix.to_string_lossy();
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return HashSet::new();
    };
    let mut out = HashSet::new();
    for line in info.lines().filter(|l| l.contains(prefix.as_ref())) {
        for part in line.split([',', ':', ' ']) {
            if let Some(rest) = part.strip_prefix(prefix.as_ref()) {
                out.insert(rest.trim_start_matches('/').to_string());
            }
        }
    }
    out
}

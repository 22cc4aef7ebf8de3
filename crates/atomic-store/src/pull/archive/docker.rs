//! `docker save` archives (`docker-archive:FILE`, `dockertar:FILE`) and the local Docker engine
//! (`docker-daemon:NAME`, exported through the Engine API as such an archive).
//!
//! The archive's `manifest.json` lists `[{Config, RepoTags, Layers}]` by member path: docker up
//! to 24 writes `<id>.json` and `<id>/layer.tar` (a duplicate layer as a symlink to another),
//! docker 25 and later OCI-style `blobs/sha256/<hex>`. Each image is converted to an OCI image
//! as it is stored: the config bytes unchanged (their digest is the image ID, as Docker defines
//! it), each layer as an uncompressed tar blob (digest = diff_id, which the config gives, so
//! even a layer stream is verified as it is written) and a manifest built here.
//!
//! The archive can be large, so it is never held in memory: it is read in passes over the tar
//! headers (seeking over contents) for manifest.json and the configs, then once more streaming
//! the layers into blob writers. That also copes with manifest.json coming after the layers.
//!
//! Every image in the archive is imported, under all of its RepoTags, as `docker load` does;
//! the result describes the first image.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{BufReader, Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use oci_spec::image::{
    Descriptor, ImageConfiguration, ImageManifest, ImageManifestBuilder, MediaType,
};
use serde::Deserialize;

use super::{
    LayerJob, SMALL_FILE_LIMIT, archive_path, finish, local_name, qualified, stem_name,
    store_layers, unchanged,
};
use crate::digest::Digest;
use crate::image::StoredImage;
use crate::pull::{PullOptions, Pulled, check_image, current, record};
use crate::reference::DEFAULT_TAG;
use crate::store::Store;
use crate::unpack;

/// One image as manifest.json lists it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveImage {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// An image read from the archive, before its layers are.
struct Planned {
    config_bytes: Vec<u8>,
    config: ImageConfiguration,
    diff_ids: Vec<Digest>,
    /// Member paths of the layers, base first, links resolved.
    layer_paths: Vec<String>,
    repo_tags: Vec<String>,
}

/// How images without a RepoTag are named.
pub(super) struct Naming {
    /// The name the first image gets whatever its RepoTags (docker-daemon: the name asked for).
    pub(super) first: Option<String>,
    /// Repository component for untagged images: `localhost/<stem>:latest`.
    pub(super) stem: String,
}

/// `docker-archive:FILE`
pub(super) async fn import_file(store: &Store, file: &Path, opts: &PullOptions) -> Result<Pulled> {
    if !file.exists() {
        bail!("{} does not exist", file.display());
    }
    let naming = Naming {
        first: None,
        stem: stem_name(file),
    };
    import_archive(store, file, &naming, opts).await
}

pub(super) async fn import_archive(
    store: &Store,
    file: &Path,
    naming: &Naming,
    opts: &PullOptions,
) -> Result<Pulled> {
    let src = file.to_path_buf();
    let images = tokio::task::spawn_blocking(move || {
        read_plan(&src).with_context(|| format!("reading {}", src.display()))
    })
    .await
    .context("reading the archive")??;
    let names = assign_names(&images, naming)?;

    // Already present and current: decided before any layer is read, from the blobs the store
    // has (a manifest is only known once its layers' sizes are).
    let mut current_images = Vec::new();
    for (img, names) in images.iter().zip(&names) {
        current_images.push(current_image(store, img, names)?);
    }
    if let Some(Some(first)) = current_images.first()
        && current_images.iter().all(Option::is_some)
    {
        return unchanged(store, &names[0][0], first.clone());
    }

    let mut wanted: HashMap<String, Digest> = HashMap::new();
    for (img, cur) in images.iter().zip(&current_images) {
        if cur.is_some() {
            continue;
        }
        for (path, diff_id) in img.layer_paths.iter().zip(&img.diff_ids) {
            if store.has_blob(diff_id) {
                continue;
            }
            if let Some(other) = wanted.insert(path.clone(), diff_id.clone())
                && &other != diff_id
            {
                bail!(
                    "manifest.json uses '{path}' as two different layers ({other} and {diff_id})"
                );
            }
        }
    }
    let stored_now = if wanted.is_empty() {
        HashSet::new()
    } else {
        let (store2, src) = (store.clone(), file.to_path_buf());
        tokio::task::spawn_blocking(move || stream_layers(&store2, &src, &wanted))
            .await
            .context("reading the archive")??
    };

    let mut first = None;
    let mut changed = false;
    for ((img, names), cur) in images.iter().zip(&names).zip(current_images) {
        let pulled = match cur {
            Some(found) => unchanged(store, &names[0], found)?,
            None => store_image(store, img, names, &stored_now, opts).await?,
        };
        changed |= pulled.changed;
        if first.is_none() {
            first = Some(pulled);
        } else if !opts.quiet {
            for name in names {
                eprintln!("Imported {name} from the same archive");
            }
        }
    }
    let mut first = first.context("the archive lists no images")?;
    first.changed = changed;
    Ok(first)
}

/// Store one image whose layer blobs are all in the store: unpack its layers, store config and
/// manifest, point its names at it.
async fn store_image(
    store: &Store,
    img: &Planned,
    names: &[String],
    stored_now: &HashSet<Digest>,
    opts: &PullOptions,
) -> Result<Pulled> {
    let (manifest, manifest_bytes) = build_manifest(store, img)?;
    let layers = check_image(&manifest, &img.config)?;
    let jobs = layers
        .into_iter()
        .map(|(blob, diff_id)| LayerJob {
            stored_now: stored_now.contains(&blob),
            blob,
            diff_id,
            source: None,
            size: None,
        })
        .collect();
    let size = store_layers(store, jobs, opts.quiet).await?;
    // The config as Docker wrote it, byte for byte: its digest is the image ID.
    if !store.has_blob(&Digest::of(&img.config_bytes)) {
        store.put_blob(&img.config_bytes)?;
    }
    let manifest_digest = store.put_blob(&manifest_bytes)?;
    let len = manifest_bytes.len() as u64;
    let mut pulled = finish(store, &names[0], &manifest_digest, len, size)?;
    for name in &names[1..] {
        record(store, name, &manifest_digest, len, size)?;
        pulled.image.names.push(name.clone());
    }
    Ok(pulled)
}

/// The stored image when every name of `img` already points at the manifest it converts to
/// (computable only when the store has all its layer blobs, whose sizes the manifest gives).
fn current_image(store: &Store, img: &Planned, names: &[String]) -> Result<Option<StoredImage>> {
    if !img.diff_ids.iter().all(|d| store.has_blob(d)) {
        return Ok(None);
    }
    let (_, bytes) = build_manifest(store, img)?;
    let digest = Digest::of(&bytes);
    let mut found = None;
    for name in names {
        match current(store, name, &digest)? {
            Some(image) => found = Some(image),
            None => return Ok(None),
        }
    }
    Ok(found)
}

/// The OCI manifest for an image whose layers are stored as uncompressed blobs.
fn build_manifest(store: &Store, img: &Planned) -> Result<(ImageManifest, Vec<u8>)> {
    let config = Descriptor::new(
        MediaType::ImageConfig,
        img.config_bytes.len() as u64,
        &Digest::of(&img.config_bytes),
    );
    let mut layers = Vec::new();
    for diff_id in &img.diff_ids {
        let size = fs::metadata(store.blob_path(diff_id))
            .with_context(|| format!("layer {diff_id}"))?
            .len();
        layers.push(Descriptor::new(MediaType::ImageLayer, size, diff_id));
    }
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config)
        .layers(layers)
        .build()?;
    let bytes = serde_json::to_vec(&manifest)?;
    Ok((manifest, bytes))
}

/// The names of each image: its RepoTags, qualified as `atomic pull` qualifies names
/// (`busybox:1` → `docker.io/library/busybox:1`); or, without any,
/// `localhost/<stem>:latest` for the first untagged image and `localhost/<stem>:image-<n>`
/// (n its position in manifest.json) for further ones, so none replaces another.
fn assign_names(images: &[Planned], naming: &Naming) -> Result<Vec<Vec<String>>> {
    let mut untagged = 0;
    let mut all = Vec::new();
    for (i, img) in images.iter().enumerate() {
        let names = match (&naming.first, i) {
            (Some(name), 0) => vec![name.clone()],
            _ if !img.repo_tags.is_empty() => img
                .repo_tags
                .iter()
                .map(|t| qualified(t).with_context(|| format!("RepoTag '{t}' in manifest.json")))
                .collect::<Result<_>>()?,
            _ => {
                untagged += 1;
                let tag = if untagged == 1 {
                    DEFAULT_TAG.to_string()
                } else {
                    format!("image-{}", i + 1)
                };
                vec![local_name(&naming.stem, &tag)?]
            }
        };
        all.push(names);
    }
    Ok(all)
}

// ---- reading the archive ----

/// Visit every entry of the tar `file` whose path is inside the archive, seeking over the
/// contents of those `visit` does not read.
fn scan(
    file: &Path,
    mut visit: impl FnMut(&str, &mut tar::Entry<'_, File>) -> Result<()>,
) -> Result<()> {
    let input =
        crate::input::open_regular(file).with_context(|| format!("opening {}", file.display()))?;
    if !input.metadata()?.is_file() {
        bail!("{} is not a regular file", file.display());
    }
    let mut archive = tar::Archive::new(input);
    let entries = archive
        .entries_with_seek()
        .with_context(|| format!("{} is not a tar archive", file.display()))?;
    for entry in entries {
        let mut entry = entry.with_context(|| format!("reading {}", file.display()))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if let Some(path) = archive_path(&raw) {
            visit(&path, &mut entry)?;
        }
    }
    Ok(())
}

fn is_regular(entry: &tar::Entry<'_, File>) -> bool {
    matches!(
        entry.header().entry_type(),
        tar::EntryType::Regular | tar::EntryType::Continuous
    )
}

/// Read a small member whole.
fn read_member(path: &str, entry: &mut tar::Entry<'_, File>) -> Result<Vec<u8>> {
    let size = entry.size();
    if size > SMALL_FILE_LIMIT {
        bail!("'{path}' in the archive is {size} bytes; too large for a manifest or config");
    }
    let mut bytes = Vec::with_capacity(size as usize);
    entry.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Read manifest.json and the configs it names (two passes over the headers).
fn read_plan(file: &Path) -> Result<Vec<Planned>> {
    let mut manifest = None;
    let mut links: HashMap<String, String> = HashMap::new();
    scan(file, |path, entry| {
        let kind = entry.header().entry_type();
        if path == "manifest.json" && is_regular(entry) {
            manifest = Some(read_member(path, entry)?);
        } else if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .unwrap_or_default();
            // A symlink is relative to its directory, a hard link to the archive root.
            let base = match path.rsplit_once('/') {
                Some((dir, _)) if kind.is_symlink() => dir,
                _ => "",
            };
            if let Some(resolved) = join_confined(base, &target) {
                links.insert(path.to_string(), resolved);
            }
        }
        Ok(())
    })?;
    let Some(manifest) = manifest else {
        bail!("it is not a docker archive (it has no manifest.json)");
    };
    let listed: Vec<ArchiveImage> = serde_json::from_slice(&manifest)
        .context("manifest.json is not a docker archive manifest")?;
    if listed.is_empty() {
        bail!("it holds no images (manifest.json is empty)");
    }

    let member = |raw: &str| -> Result<String> {
        let Some(path) = archive_path(raw) else {
            bail!(
                "manifest.json names '{raw}', which is not a path inside the archive; refusing it"
            );
        };
        let mut path = path;
        for _ in 0..16 {
            match links.get(&path) {
                Some(target) => path = target.clone(),
                None => return Ok(path),
            }
        }
        bail!("'{raw}' in the archive is a loop of links")
    };
    let mut wanted_configs = HashSet::new();
    let mut resolved = Vec::new();
    for img in &listed {
        let config = member(&img.config)?;
        let layers = img
            .layers
            .iter()
            .map(|l| member(l))
            .collect::<Result<Vec<_>>>()?;
        wanted_configs.insert(config.clone());
        resolved.push((config, layers));
    }

    let mut configs: HashMap<String, Vec<u8>> = HashMap::new();
    scan(file, |path, entry| {
        if wanted_configs.contains(path) && is_regular(entry) {
            configs.insert(path.to_string(), read_member(path, entry)?);
        }
        Ok(())
    })?;

    let mut planned = Vec::new();
    for (img, (config_path, layer_paths)) in listed.into_iter().zip(resolved) {
        let Some(config_bytes) = configs.get(&config_path).cloned() else {
            bail!(
                "the config '{}' listed in manifest.json is not in the archive",
                img.config
            );
        };
        let config = ImageConfiguration::from_reader(&config_bytes[..])
            .with_context(|| format!("'{}' in the archive is not an image config", img.config))?;
        let diff_ids = config
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| d.parse::<Digest>())
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("the config '{}'", img.config))?;
        if diff_ids.len() != layer_paths.len() {
            bail!(
                "manifest.json lists {} layers but the config '{}' has {} diff_ids",
                layer_paths.len(),
                img.config,
                diff_ids.len()
            );
        }
        planned.push(Planned {
            config_bytes,
            config,
            diff_ids,
            layer_paths,
            repo_tags: img.repo_tags.unwrap_or_default(),
        });
    }
    Ok(planned)
}

/// `rel` resolved against the directory `base` (both inside the archive), lexically; `None`
/// when it is absolute or climbs above the archive's root.
fn join_confined(base: &str, rel: &str) -> Option<String> {
    if rel.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Stream the layers `wanted` (member path → diff_id) from the archive into blobs, each
/// decompressed when it is compressed and verified against its diff_id. Returns the diff_ids
/// stored.
fn stream_layers(
    store: &Store,
    file: &Path,
    wanted: &HashMap<String, Digest>,
) -> Result<HashSet<Digest>> {
    let mut stored = HashSet::new();
    scan(file, |path, entry| {
        let Some(diff_id) = wanted.get(path) else {
            return Ok(());
        };
        if !is_regular(entry) || store.has_blob(diff_id) {
            return Ok(());
        }
        let mut writer = store.blob_writer(diff_id)?;
        let mut tar = unpack::decompress(BufReader::with_capacity(1 << 20, &mut *entry))?;
        copy_large(&mut tar, &mut writer).with_context(|| format!("reading layer '{path}'"))?;
        writer
            .commit()
            .with_context(|| format!("storing layer '{path}'"))?;
        stored.insert(diff_id.clone());
        Ok(())
    })?;
    for (path, diff_id) in wanted {
        if !store.has_blob(diff_id) {
            bail!("the layer '{path}' listed in manifest.json is not in the archive");
        }
    }
    Ok(stored)
}

/// `io::copy` with a buffer large enough that hashing, not call overhead, sets the pace.
fn copy_large(from: &mut dyn Read, to: &mut dyn Write) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_inside_the_archive() {
        let cases = [
            ("abc", "../def/layer.tar", Some("def/layer.tar")),
            ("", "def/layer.tar", Some("def/layer.tar")),
            ("a/b", "../../c", Some("c")),
            ("a", "../../etc/passwd", None),
            ("a", "/etc/passwd", None),
            ("", "..", None),
        ];
        for (base, rel, want) in cases {
            assert_eq!(join_confined(base, rel).as_deref(), want, "{base} + {rel}");
        }
    }
}

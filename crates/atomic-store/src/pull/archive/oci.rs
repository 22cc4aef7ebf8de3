//! OCI image layouts (`oci:DIR[:TAG]`) and tars of them (`oci-archive:FILE[:TAG]`).
//!
//! A layout is `oci-layout`, `index.json` and `blobs/<alg>/<hex>`. The image is picked from
//! index.json by its `org.opencontainers.image.ref.name`; an entry that is itself an index
//! (multi-arch) resolves to the host's platform. Only the blobs the chosen image needs are
//! read, each by a path built from its validated digest.

use std::fs::{self, File};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};

use super::{
    LayerJob, SMALL_FILE_LIMIT, finish, name_for_ref, read_small_file, stem_name, store_layers,
    unchanged,
};
use crate::digest::Digest;
use crate::pull::{PullOptions, Pulled, check_image, current};
use crate::reference::ImageName;
use crate::store::{Store, ref_name};
use crate::unpack;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// `oci:DIR[:TAG]`
pub(super) async fn import_dir(
    store: &Store,
    dir: &Path,
    tag: Option<&str>,
    opts: &PullOptions,
) -> Result<Pulled> {
    if !dir.exists() {
        bail!("{} does not exist", dir.display());
    }
    if !dir.is_dir() {
        bail!(
            "{} is not a directory; for a tar of an OCI layout use oci-archive:{0}",
            dir.display()
        );
    }
    let shown = dir.display().to_string();
    let layout = Layout::open(dir, shown.clone(), format!("oci:{shown}"))?;
    import_layout(store, &layout, tag, &stem_name(dir), opts).await
}

/// `oci-archive:FILE[:TAG]`: the tar is unpacked to a temporary layout in the store, then
/// imported from there.
pub(super) async fn import_archive(
    store: &Store,
    file: &Path,
    tag: Option<&str>,
    opts: &PullOptions,
) -> Result<Pulled> {
    if !file.exists() {
        bail!("{} does not exist", file.display());
    }
    let tmp = store.temp_dir("import")?;
    let (src, dest) = (file.to_path_buf(), tmp.path().to_path_buf());
    tokio::task::spawn_blocking(move || extract_layout(&src, &dest))
        .await
        .context("extracting the archive")??;
    let shown = file.display().to_string();
    let layout = Layout::open(tmp.path(), shown.clone(), format!("oci-archive:{shown}"))?;
    import_layout(store, &layout, tag, &stem_name(file), opts).await
}

/// Import the image `tag` selects from an opened layout.
async fn import_layout(
    store: &Store,
    layout: &Layout,
    tag: Option<&str>,
    stem: &str,
    opts: &PullOptions,
) -> Result<Pulled> {
    let entry = layout.select(tag)?;
    let name = name_for_ref(ref_name(entry), stem)?;
    let manifest_desc = layout.resolve_platform(entry.clone(), 0)?;
    let manifest_digest = Digest::try_from(manifest_desc.digest())?;
    let manifest_bytes = layout.read_blob(&manifest_digest, manifest_desc.size(), "manifest")?;
    if let Some(found) = current(store, &name, &manifest_digest)? {
        return unchanged(store, &name, found);
    }

    let manifest = ImageManifest::from_reader(&manifest_bytes[..])
        .with_context(|| format!("manifest {manifest_digest} is not an image manifest"))?;
    let config_desc = manifest.config();
    match config_desc.media_type() {
        MediaType::ImageConfig => {}
        MediaType::Other(m) if m == DOCKER_CONFIG => {}
        other => bail!(
            "manifest {manifest_digest} is not a container image (its config is {other}); \
             atomic cannot run it"
        ),
    }
    let config_digest = Digest::try_from(config_desc.digest())?;
    let config_bytes = layout.read_blob(&config_digest, config_desc.size(), "config")?;
    let config = ImageConfiguration::from_reader(&config_bytes[..])
        .with_context(|| format!("config {config_digest} is not an image config"))?;
    let layers = check_image(&manifest, &config)?;

    let jobs = layers
        .into_iter()
        .zip(manifest.layers())
        .map(|((blob, diff_id), desc)| LayerJob {
            source: Some(layout.blob_path(&blob)),
            size: Some(desc.size()),
            blob,
            diff_id,
            stored_now: false,
        })
        .collect();
    let size = store_layers(store, jobs, opts.quiet).await?;
    // Config and manifest go in after the layers: a store never holds a manifest whose layers
    // failed to arrive (and `put_blob` verifies, though both were checked when read).
    for bytes in [&config_bytes, &manifest_bytes] {
        if !store.has_blob(&Digest::of(bytes)) {
            store.put_blob(bytes)?;
        }
    }
    finish(
        store,
        &name,
        &manifest_digest,
        manifest_bytes.len() as u64,
        size,
    )
}

/// An opened OCI layout.
struct Layout {
    dir: PathBuf,
    /// How messages name it: the directory, or the archive the user gave.
    shown: String,
    /// The source as the user wrote it, without a tag (`oci:DIR`, `oci-archive:FILE`).
    source: String,
    index: ImageIndex,
}

impl Layout {
    fn open(dir: &Path, shown: String, source: String) -> Result<Layout> {
        let marker = dir.join("oci-layout");
        if !marker.exists() {
            bail!("{shown} is not an OCI image layout (it has no oci-layout file)");
        }
        let version: serde_json::Value = serde_json::from_slice(&read_small_file(&marker)?)
            .with_context(|| format!("the oci-layout file of {shown} is not JSON"))?;
        match version["imageLayoutVersion"].as_str() {
            Some(v) if v.starts_with("1.") => {}
            other => bail!("{shown} has OCI layout version {other:?}; atomic reads version 1.x"),
        }
        let index_path = dir.join("index.json");
        if !index_path.exists() {
            bail!("{shown} is not an OCI image layout (it has no index.json)");
        }
        let index = ImageIndex::from_reader(&read_small_file(&index_path)?[..])
            .with_context(|| format!("the index.json of {shown} is not a valid OCI index"))?;
        Ok(Layout {
            dir: dir.to_path_buf(),
            shown,
            source,
            index,
        })
    }

    /// Where a blob is in the layout, by a name made from the validated digest (never one the
    /// layout gives).
    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs/sha256").join(digest.hex())
    }

    /// Read a small blob whole and check it is what its descriptor says.
    fn read_blob(&self, digest: &Digest, size: u64, what: &str) -> Result<Vec<u8>> {
        if size > SMALL_FILE_LIMIT {
            bail!(
                "the {what} {digest} in {} is said to be {size} bytes; too large",
                self.shown
            );
        }
        let path = self.blob_path(digest);
        if !path.exists() {
            bail!("the {what} {digest} is missing from {}", self.shown);
        }
        let bytes = read_small_file(&path)?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            bail!(
                "the {what} blob {digest} in {} hashes to {actual}; the layout is corrupt or \
                 was tampered with",
                self.shown
            );
        }
        if bytes.len() as u64 != size {
            bail!(
                "the {what} {digest} in {} is {} bytes but its descriptor says {size}",
                self.shown,
                bytes.len()
            );
        }
        Ok(bytes)
    }

    /// The index entry `tag` names, or the only one.
    fn select(&self, tag: Option<&str>) -> Result<&Descriptor> {
        let entries = self.index.manifests();
        let Some(tag) = tag else {
            return match entries.as_slice() {
                [one] => Ok(one),
                [] => bail!("{} holds no images", self.shown),
                _ => bail!(
                    "{} holds several images ({}); choose one with {}:REF",
                    self.shown,
                    self.ref_names(),
                    self.source,
                ),
            };
        };
        if let Some(e) = entries.iter().find(|e| ref_name(e) == Some(tag)) {
            return Ok(e);
        }
        // `oci:dir:busybox` finds an entry named `docker.io/library/busybox:latest`.
        let wanted = ImageName::parse(tag).map(|n| n.qualified());
        if let Ok(wanted) = wanted
            && let Some(e) = entries.iter().find(|e| {
                ref_name(e)
                    .and_then(|r| ImageName::parse(r).ok())
                    .is_some_and(|n| n.qualified() == wanted)
            })
        {
            return Ok(e);
        }
        bail!(
            "no image named '{tag}' in {}; it has: {}",
            self.shown,
            self.ref_names()
        )
    }

    fn ref_names(&self) -> String {
        let names: Vec<String> = self
            .index
            .manifests()
            .iter()
            .map(|e| match ref_name(e) {
                Some(n) => n.to_string(),
                None => format!("<unnamed {}>", e.digest()),
            })
            .collect();
        if names.is_empty() {
            "no images".to_string()
        } else {
            names.join(", ")
        }
    }

    /// Follow image indexes (multi-arch images) down to the manifest for this host.
    fn resolve_platform(&self, desc: Descriptor, depth: u32) -> Result<Descriptor> {
        match desc.media_type() {
            MediaType::ImageManifest => return Ok(desc),
            MediaType::Other(m) if m == DOCKER_MANIFEST => return Ok(desc),
            MediaType::ImageIndex => {}
            MediaType::Other(m) if m == DOCKER_MANIFEST_LIST => {}
            other => bail!(
                "{} in {} has media type {other}, which is not a container image",
                desc.digest(),
                self.shown
            ),
        }
        if depth >= 4 {
            bail!("{}: image indexes nested too deep", self.shown);
        }
        let digest = Digest::try_from(desc.digest())?;
        let bytes = self.read_blob(&digest, desc.size(), "image index")?;
        let index = ImageIndex::from_reader(&bytes[..])
            .with_context(|| format!("{digest} in {} is not an image index", self.shown))?;
        let (os, arch) = ("linux", host_architecture());
        let found = index.manifests().iter().find(|m| {
            m.platform()
                .as_ref()
                .is_some_and(|p| p.os().to_string() == os && p.architecture().to_string() == arch)
        });
        match found {
            Some(m) => self.resolve_platform(m.clone(), depth + 1),
            None => {
                let have: Vec<String> = index
                    .manifests()
                    .iter()
                    .filter_map(|m| m.platform().as_ref())
                    .map(|p| format!("{}/{}", p.os(), p.architecture()))
                    .collect();
                bail!(
                    "{} has no image for {os}/{arch} (it has {})",
                    self.shown,
                    if have.is_empty() {
                        "none with a platform".to_string()
                    } else {
                        have.join(", ")
                    }
                )
            }
        }
    }
}

/// The host's architecture as OCI names it (Go's GOARCH), not Rust's.
fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// Unpack the OCI layout in the tar `file` into `dest`. The tar is untrusted, so it is not
/// extracted as such: only regular files named `oci-layout`, `index.json` or
/// `blobs/sha256/<64 hex>` are taken, each written under a name built here. Everything else
/// (directories, other algorithms, links, devices, paths with `..`) is skipped, so nothing in
/// the archive can choose where a byte is written.
fn extract_layout(file: &Path, dest: &Path) -> Result<()> {
    let input =
        crate::input::open_regular(file).with_context(|| format!("opening {}", file.display()))?;
    if !input.metadata()?.is_file() {
        bail!("{} is not a regular file", file.display());
    }
    fs::create_dir_all(dest.join("blobs/sha256"))?;
    // skopeo writes plain tars, but a compressed one costs nothing to accept.
    let reader = unpack::decompress(BufReader::with_capacity(1 << 20, input))?;
    let mut archive = tar::Archive::new(reader);
    let mut found_any = false;
    for entry in archive
        .entries()
        .with_context(|| format!("{} is not a tar archive", file.display()))?
    {
        let mut entry = entry.with_context(|| format!("reading {}", file.display()))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(target) = layout_member(&raw) else {
            continue;
        };
        let kind = entry.header().entry_type();
        if !matches!(kind, tar::EntryType::Regular | tar::EntryType::Continuous) {
            bail!(
                "{}: '{raw}' is a {kind:?} entry, not a regular file; refusing the archive",
                file.display()
            );
        }
        let mut out = File::create(dest.join(&target))?;
        io::copy(&mut entry, &mut out)
            .with_context(|| format!("extracting '{raw}' from {}", file.display()))?;
        found_any = true;
    }
    if !found_any {
        bail!(
            "{} holds no OCI layout (no oci-layout, index.json or blobs/sha256/ files)",
            file.display()
        );
    }
    Ok(())
}

/// The name under which an archive member is extracted, or `None` to skip it.
fn layout_member(raw: &str) -> Option<String> {
    let path = raw.strip_prefix("./").unwrap_or(raw);
    match path {
        "oci-layout" | "index.json" => Some(path.to_string()),
        _ => {
            let hex = path.strip_prefix("blobs/sha256/")?;
            let digest = Digest::from_hex(hex).ok()?;
            Some(format!("blobs/sha256/{}", digest.hex()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_only_layout_members() {
        let hex = "a".repeat(64);
        let blob = format!("blobs/sha256/{hex}");
        let cases = [
            ("oci-layout", Some("oci-layout".to_string())),
            ("./index.json", Some("index.json".to_string())),
            (blob.as_str(), Some(blob.clone())),
            (&format!("./{blob}"), Some(blob.clone())),
            ("blobs/sha256/", None),
            ("blobs/", None),
            ("../index.json", None),
            ("/index.json", None),
            ("x/index.json", None),
            (&format!("blobs/sha256/{}", "A".repeat(64)), None),
            (&format!("blobs/sha256/../{hex}"), None),
            (&format!("blobs/sha512/{hex}"), None),
        ];
        for (raw, want) in cases {
            assert_eq!(layout_member(raw), want, "{raw}");
        }
    }
}

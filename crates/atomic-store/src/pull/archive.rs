//! Imports from local sources: OCI image layouts (`oci:DIR[:TAG]`), tars of them
//! (`oci-archive:FILE[:TAG]`), `docker save` archives (`docker-archive:FILE`, the original's
//! `dockertar:FILE`) and the local Docker engine (`docker-daemon:NAME`).
//!
//! Everything read from these sources is untrusted, even a directory on the local disk: it may
//! have been downloaded, or written by a container. So a file name is never used as given —
//! blobs are opened by a name built from a validated [`Digest`], archive members only by the
//! few names we expect — and every blob is verified by its digest as it is stored
//! ([`crate::store::BlobWriter::commit`]). The shared tail is the one a registry pull ends
//! with (`pull/mod.rs`): layers unpacked and checked against the config's diff_ids, then the
//! name recorded.
//!
//! `oci.rs` reads layouts and OCI archives; `docker.rs` reads `docker save` archives and the
//! Docker engine. This file holds what they share: naming, and storing and unpacking layers.

#[cfg(feature = "docker-daemon")]
mod daemon;
mod docker;
mod oci;

use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;

use super::{PullOptions, Pulled, Source, record, unpack_layer};
use crate::digest::Digest;
use crate::image::StoredImage;
use crate::reference::{DEFAULT_TAG, ImageName};
use crate::store::Store;

/// Import `source` (anything but a registry) into the store. The caller holds the writer lock
/// and says what was being pulled in its error context (`pulling oci:DIR …`), so errors here
/// name only the file or blob at fault.
pub async fn import(store: &Store, source: &Source, opts: &PullOptions) -> Result<Pulled> {
    match source {
        Source::Oci { dir, tag } => oci::import_dir(store, dir, tag.as_deref(), opts).await,
        Source::OciArchive { file, tag } => {
            oci::import_archive(store, file, tag.as_deref(), opts).await
        }
        Source::DockerArchive { file } => docker::import_file(store, file, opts).await,
        #[cfg(feature = "docker-daemon")]
        Source::DockerDaemon { name } => daemon::import_daemon(store, name, opts).await,
        #[cfg(not(feature = "docker-daemon"))]
        Source::DockerDaemon { name } => bail!(
            "cannot import docker-daemon:{name}: this atomic was built without Docker support \
             (the docker-daemon feature of atomic-store); export it with 'docker save' and pull \
             docker-archive:FILE"
        ),
        Source::Registry(name) => bail!("'{name}' is a registry image, not a local archive"),
    }
}

/// Manifests, configs, index.json and manifest.json are read whole; a real one is a few
/// kilobytes (registries refuse manifests over 4 MiB). The cap keeps a hostile source from
/// making us read a huge file into memory.
const SMALL_FILE_LIMIT: u64 = 16 << 20;

/// Read a file that must be small and regular (a FIFO or device would block or never end).
fn read_small_file(path: &Path) -> Result<Vec<u8>> {
    crate::input::read_regular(path, SMALL_FILE_LIMIT)
        .with_context(|| format!("reading {}", path.display()))
}

// ---- names ----

/// The repository component for an image that carries no name of its own, made from the name
/// of the file or directory it came from: `/tmp/My Image.tar` → `my-image`.
fn stem_name(path: &Path) -> String {
    // `oci:.` has no file name; the directory's real name is what the user sees.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .or_else(|| {
            path.canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        })
        .unwrap_or_default();
    let mut stem = name.as_str();
    for suffix in [".gz", ".tgz", ".zst", ".tar", ".oci"] {
        stem = stem.strip_suffix(suffix).unwrap_or(stem);
    }
    sanitize_component(stem)
}

/// A valid repository component ([a-z0-9] joined by `.`, `_` or `-`) from any text.
fn sanitize_component(raw: &str) -> String {
    let lower = raw.to_lowercase();
    let mapped: String = lower
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '-',
        })
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        return "image".to_string();
    }
    if ImageName::parse(&format!("localhost/{trimmed}")).is_ok() {
        return trimmed.to_string();
    }
    // Separators in a combination the grammar refuses (`a..b`, `a._b`): dashes always do.
    trimmed
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// `localhost/<stem>:<tag>`: the name of an image whose source names only a tag, or nothing.
fn local_name(stem: &str, tag: &str) -> Result<String> {
    let name = format!("localhost/{stem}:{tag}");
    ImageName::parse(&name)?;
    Ok(name)
}

/// The store name for an image with ref name `ref_name` in an OCI layout: a full image name
/// (`quay.io/a/b:1`, `app:v1`, `team/app`) is used, qualified the way `atomic pull` qualifies
/// names; a bare tag (`latest`, `v1.0`) names the image after the layout's file or directory.
fn name_for_ref(ref_name: Option<&str>, stem: &str) -> Result<String> {
    let Some(r) = ref_name else {
        return local_name(stem, DEFAULT_TAG);
    };
    if r.contains(['/', ':', '@']) {
        let name = ImageName::parse(r)
            .with_context(|| format!("the ref name '{r}' is not an image name atomic can use"))?;
        return Ok(name.qualified().to_string());
    }
    local_name(stem, r).with_context(|| {
        format!("the ref name '{r}' is neither an image name nor a tag atomic can use")
    })
}

/// The qualified form of a name given in an archive (a RepoTag) or by the user.
fn qualified(name: &str) -> Result<String> {
    Ok(ImageName::parse(name)?.qualified().to_string())
}

// ---- layers ----

/// A layer to bring into the store: its blob (copied from `source` unless the store has it),
/// then unpacked.
struct LayerJob {
    blob: Digest,
    diff_id: Digest,
    /// Where to copy the blob from; `None` when it is already stored.
    source: Option<PathBuf>,
    /// The size the manifest gives, checked before copying.
    size: Option<u64>,
    /// The blob was stored by this import already (so the line says "done", not "skipped").
    stored_now: bool,
}

/// Store and unpack layers, several at a time on the blocking pool (hashing, decompressing and
/// writing files are CPU and disk bound). Returns the uncompressed size of the distinct layers.
///
/// When one layer fails, the others still running are waited for, so nothing writes to the
/// store after the caller lets go of its lock; layers not started yet are skipped.
async fn store_layers(store: &Store, jobs: Vec<LayerJob>, quiet: bool) -> Result<u64> {
    let mut seen = std::collections::HashSet::new();
    let jobs: Vec<LayerJob> = jobs
        .into_iter()
        .filter(|j| seen.insert((j.blob.clone(), j.diff_id.clone())))
        .collect();
    let parallel = std::thread::available_parallelism().map_or(4, |n| n.get().min(8));
    let failed = Arc::new(AtomicBool::new(false));
    let results: Vec<Result<(Digest, u64)>> = futures_util::stream::iter(jobs)
        .map(|job| {
            let store = store.clone();
            let failed = Arc::clone(&failed);
            tokio::task::spawn_blocking(move || {
                if failed.load(Ordering::Relaxed) {
                    return Ok(None);
                }
                let r = store_layer(&store, &job, quiet);
                if r.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                r.map(|size| Some((job.diff_id, size)))
            })
        })
        .buffer_unordered(parallel)
        .filter_map(|joined| async move {
            match joined {
                Ok(Ok(Some(done))) => Some(Ok(done)),
                Ok(Ok(None)) => None,
                Ok(Err(e)) => Some(Err(e)),
                Err(e) => Some(Err(anyhow::Error::new(e).context("a layer task failed"))),
            }
        })
        .collect()
        .await;
    let mut sizes = std::collections::HashMap::new();
    for r in results {
        let (diff_id, size) = r?;
        sizes.insert(diff_id, size);
    }
    Ok(sizes.values().sum())
}

/// One layer, on a blocking thread.
fn store_layer(store: &Store, job: &LayerJob, quiet: bool) -> Result<u64> {
    let mut fresh = job.stored_now;
    if let Some(source) = &job.source
        && !store.has_blob(&job.blob)
    {
        copy_blob(store, source, &job.blob, job.size)?;
        fresh = true;
    }
    fresh |= !store.has_layer(&job.diff_id);
    let size = unpack_layer(store, &job.blob, &job.diff_id)?;
    if !quiet {
        let hex = job.blob.hex();
        let status = if fresh {
            "done"
        } else {
            "skipped: already exists"
        };
        eprintln!("Copying blob sha256:{}  {status}", &hex[..12]);
    }
    Ok(size)
}

/// Copy a blob file into the store; the store verifies its digest before keeping it.
fn copy_blob(store: &Store, source: &Path, digest: &Digest, size: Option<u64>) -> Result<()> {
    let file = crate::input::open_regular(source)
        .with_context(|| format!("blob {digest} cannot be read: opening {}", source.display()))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        bail!("blob {} is not a regular file", source.display());
    }
    if let Some(size) = size
        && meta.len() != size
    {
        bail!(
            "blob {digest} is {} bytes but the manifest says {size}; the source is corrupt",
            meta.len()
        );
    }
    let mut writer = store.blob_writer(digest)?;
    io::copy(&mut BufReader::with_capacity(1 << 20, file), &mut writer)
        .with_context(|| format!("copying blob {digest} from {}", source.display()))?;
    writer.commit()?;
    Ok(())
}

/// The result for an image that was already present and current.
fn unchanged(store: &Store, name: &str, found: StoredImage) -> Result<Pulled> {
    // The listing carries every name and the recorded size; `current` gives neither.
    let image = store
        .images()?
        .into_iter()
        .find(|i| i.manifest_digest == found.manifest_digest)
        .unwrap_or(found);
    Ok(Pulled {
        name: name.to_string(),
        image,
        changed: false,
    })
}

/// Point `name` at the stored manifest.
fn finish(store: &Store, name: &str, manifest: &Digest, len: u64, size: u64) -> Result<Pulled> {
    let image = record(store, name, manifest, len, size)?;
    Ok(Pulled {
        name: name.to_string(),
        image,
        changed: true,
    })
}

/// A path inside an archive, as manifest.json or a tar header gives it, normalised for
/// comparison: `./a//b` → `a/b`. `None` for a path that is absolute or climbs out with `..`:
/// such a path names nothing we would read.
fn archive_path(raw: &str) -> Option<String> {
    if raw.starts_with('/') {
        return None;
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_become_valid_components() {
        let cases = [
            ("/tmp/busybox.tar", "busybox"),
            ("/tmp/My Image.tar", "my-image"),
            ("img.tar.gz", "img"),
            ("x/a..b.tar", "a--b"),
            ("v1.2_rc", "v1.2_rc"),
            ("/tmp/___.tar", "image"),
            ("dir/layout", "layout"),
            ("Äpfel.oci", "pfel"),
        ];
        for (path, want) in cases {
            assert_eq!(stem_name(Path::new(path)), want, "{path}");
            assert!(ImageName::parse(&format!("localhost/{want}")).is_ok());
        }
    }

    #[test]
    fn ref_names_become_store_names() {
        let cases = [
            (None, "localhost/layout:latest"),
            (Some("v1"), "localhost/layout:v1"),
            (Some("latest"), "localhost/layout:latest"),
            (Some("quay.io/a/b:2"), "quay.io/a/b:2"),
            (Some("team/app"), "docker.io/team/app:latest"),
            (Some("busybox:1.36"), "docker.io/library/busybox:1.36"),
        ];
        for (r, want) in cases {
            assert_eq!(name_for_ref(r, "layout").unwrap(), want, "{r:?}");
        }
        for bad in ["-x", "a b", "UP/x:1", "x:y:z/"] {
            assert!(name_for_ref(Some(bad), "layout").is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn archive_paths_are_confined() {
        let cases = [
            ("manifest.json", Some("manifest.json")),
            ("./a//b/layer.tar", Some("a/b/layer.tar")),
            ("../x", None),
            ("a/../../x", None),
            ("a/../b", None),
            ("/etc/passwd", None),
            ("", None),
            ("./", None),
        ];
        for (raw, want) in cases {
            assert_eq!(archive_path(raw).as_deref(), want, "{raw}");
        }
    }
}

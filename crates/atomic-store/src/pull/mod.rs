//! Getting images into the store: from registries (`registry`) and from archives and other
//! engines (`archive`). Both end the same way, here: every layer blob verified against its
//! digest, unpacked once into `layers/<diff_id>` and checked against the config's diff_id, and
//! only then the image's name pointed at the manifest.

pub mod archive;
pub mod policy;
pub mod progress;
pub mod registry;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use fn_error_context::context;
use oci_spec::image::{
    Descriptor, DescriptorBuilder, ImageConfiguration, ImageManifest, MediaType,
};

use crate::digest::{Digest, HashingReader};
use crate::image::StoredImage;
use crate::store::{SIZE_ANNOTATION, STORED_ANNOTATION, Store, ref_name};
use crate::unpack::{self, UnpackOptions};

/// Where an image comes from, as `atomic pull` accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `NAME` or `docker://NAME`: a registry.
    Registry(String),
    /// `oci:DIR[:TAG]`
    Oci { dir: PathBuf, tag: Option<String> },
    /// `oci-archive:FILE[:TAG]`
    OciArchive { file: PathBuf, tag: Option<String> },
    /// `docker-archive:FILE` (`docker save`), or the original's `dockertar:FILE`
    DockerArchive { file: PathBuf },
    /// `docker-daemon:NAME`, or the original's `docker:NAME`: an image in the local Docker
    /// engine.
    DockerDaemon { name: String },
}

impl Source {
    pub fn parse(s: &str) -> Result<Source> {
        // A path may contain ':' only before the tag, so split at the first ':' after the
        // transport and take the rest (`oci:/a/dir:tag`). Paths with ':' in them are not
        // supported, as with skopeo.
        let path_and_tag = |rest: &str| -> Result<(PathBuf, Option<String>)> {
            let (path, tag) = match rest.split_once(':') {
                Some((p, t)) => (p, Some(t.to_string())),
                None => (rest, None),
            };
            if path.is_empty() {
                bail!("'{s}' names no path");
            }
            Ok((PathBuf::from(path), tag.filter(|t| !t.is_empty())))
        };
        Ok(if let Some(rest) = s.strip_prefix("oci:") {
            let (dir, tag) = path_and_tag(rest)?;
            Source::Oci { dir, tag }
        } else if let Some(rest) = s.strip_prefix("oci-archive:") {
            let (file, tag) = path_and_tag(rest)?;
            Source::OciArchive { file, tag }
        } else if let Some(rest) = s
            .strip_prefix("docker-archive:")
            .or_else(|| s.strip_prefix("dockertar:"))
        {
            if rest.is_empty() {
                bail!("'{s}' names no file");
            }
            Source::DockerArchive {
                file: PathBuf::from(rest),
            }
        } else if let Some(rest) = s.strip_prefix("docker-daemon:") {
            Source::DockerDaemon {
                name: rest.to_string(),
            }
        } else if let Some(rest) = s.strip_prefix("docker://") {
            Source::Registry(rest.to_string())
        } else if let Some(rest) = s.strip_prefix("docker:").filter(|r| !is_port_path(r)) {
            Source::DockerDaemon {
                name: rest.to_string(),
            }
        } else {
            Source::Registry(s.to_string())
        })
    }
}

/// `5000/img` after `docker:` is a registry called `docker` on a port, not the daemon's image.
fn is_port_path(rest: &str) -> bool {
    rest.split_once('/')
        .is_some_and(|(port, _)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
}

/// Options for a pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// No progress and no messages.
    pub quiet: bool,
    /// `--tls-verify`: `None` follows registries.conf (verify unless the registry is insecure).
    pub tls_verify: Option<bool>,
    /// `--src-creds USER[:PASS]`, split.
    pub credentials: Option<(String, String)>,
    /// registries.conf to read (tests point this elsewhere); default
    /// `/etc/containers/registries.conf`.
    pub registries_conf: Option<PathBuf>,
    /// `--cert-dir`: the directory of `*.crt` CAs and `*.cert`/`*.key` client pairs to use
    /// instead of the registry's certs.d directory.
    pub cert_dir: Option<PathBuf>,
    /// The machine-written short-name alias file (tests point this elsewhere); default
    /// `/var/cache/containers/short-name-aliases.conf` for root.
    pub short_name_aliases: Option<PathBuf>,
    /// `--authfile`: the one auth file to read credentials from (else `$REGISTRY_AUTH_FILE`,
    /// else the default files; see `registry::auth`).
    pub authfile: Option<PathBuf>,
    /// Send no credentials, whatever the auth files hold (`push --anonymous`).
    pub anonymous: bool,
    /// `--signature-policy`: the policy.json to obey instead of the user's or the system's.
    pub signature_policy: Option<PathBuf>,
    /// registries.d to read (where signatures are); default: the user's if it exists, else
    /// `/etc/containers/registries.d`.
    pub registries_d: Option<PathBuf>,
}

/// The result of a pull.
#[derive(Debug)]
pub struct Pulled {
    /// The name stored (fully qualified).
    pub name: String,
    pub image: StoredImage,
    /// False when the image was already present and current: nothing was fetched.
    pub changed: bool,
}

/// Pull `source` into the store.
pub async fn pull(store: &Store, source: &Source, opts: &PullOptions) -> Result<Pulled> {
    let _lock = store.writer_lock()?;
    match source {
        Source::Registry(name) => registry::pull(store, name, opts).await,
        other => {
            // No local transport carries signatures, so the policy decides from the source's
            // scope alone, before anything is read into the store.
            policy::check(opts, &policy::local_image(other)?, None).await?;
            archive::import(store, other, opts).await
        }
    }
}

/// The store's name and manifest for an image already present under `name`, if all its layers
/// are unpacked.
pub fn current(store: &Store, name: &str, manifest: &Digest) -> Result<Option<StoredImage>> {
    let index = store.index()?;
    let present = index
        .manifests()
        .iter()
        .any(|e| ref_name(e) == Some(name) && e.digest().as_ref() == manifest.to_string());
    if !present || !store.has_blob(manifest) {
        return Ok(None);
    }
    let img = store.load_image(manifest)?;
    let complete = img.diff_ids()?.iter().all(|d| store.has_layer(d));
    Ok(complete.then_some(img))
}

/// Unpack a stored layer blob into `layers/<diff_id>` unless it is already there, checking the
/// uncompressed stream against `diff_id`. Returns the uncompressed size. Blocking: run it on a
/// blocking thread.
#[context("unpacking layer {blob}")]
pub fn unpack_layer(store: &Store, blob: &Digest, diff_id: &Digest) -> Result<u64> {
    if store.has_layer(diff_id) {
        let size_file = store.layer_size_path(diff_id);
        let recorded = std::fs::read_to_string(&size_file)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        if let Some(size) = recorded {
            return Ok(size);
        }
    }
    let file = File::open(store.blob_path(blob))?;
    let (dir, size) = unpack_verified(store, file, blob, diff_id)?;
    commit_unpacked(store, dir, diff_id, size)?;
    Ok(size)
}

/// Unpack a (compressed) layer stream into a temporary directory and check the uncompressed
/// bytes against `diff_id`. Nothing is committed: the caller may still have the blob to verify.
pub(crate) fn unpack_verified(
    store: &Store,
    compressed: impl Read,
    blob: &Digest,
    diff_id: &Digest,
) -> Result<(tempfile::TempDir, u64)> {
    let dir = store.temp_dir("layer")?;
    let (counting, compressed_bytes) = unpack::expansion::Counting::new(compressed);
    let tar = unpack::decompress(BufReader::with_capacity(256 * 1024, counting))
        .with_context(|| format!("decompressing blob {blob}"))?;
    let mut hashing = HashingReader::new(unpack::expansion::Limited::new(tar, compressed_bytes));
    unpack::unpack(&mut hashing, dir.path(), &UnpackOptions::for_current_user())?;
    let (actual, size) = hashing.finish()?;
    if &actual != diff_id {
        bail!(
            "layer {blob} unpacks to content with digest {actual}, but the image config says \
             {diff_id}; the image is corrupt or was tampered with"
        );
    }
    Ok((dir, size))
}

/// Move a verified layer into place, with its size beside it.
pub(crate) fn commit_unpacked(
    store: &Store,
    dir: tempfile::TempDir,
    diff_id: &Digest,
    size: u64,
) -> Result<()> {
    store.commit_layer(dir, diff_id, size)
}

/// Check that a manifest and config belong together before fetching layers: as many layers as
/// diff_ids, and only layer media types we can unpack.
pub fn check_image(
    manifest: &ImageManifest,
    config: &ImageConfiguration,
) -> Result<Vec<(Digest, Digest)>> {
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers().len() {
        bail!(
            "the manifest lists {} layers but the config {} diff_ids; the image is malformed",
            manifest.layers().len(),
            diff_ids.len()
        );
    }
    manifest
        .layers()
        .iter()
        .zip(diff_ids)
        .map(|(layer, diff_id)| {
            if !unpackable(layer.media_type()) {
                bail!(
                    "layer {} has media type {} which atomic cannot unpack",
                    layer.digest(),
                    layer.media_type()
                );
            }
            Ok((
                Digest::try_from(layer.digest())?,
                diff_id.parse::<Digest>()?,
            ))
        })
        .collect()
}

fn unpackable(media: &MediaType) -> bool {
    match media {
        MediaType::ImageLayer
        | MediaType::ImageLayerGzip
        | MediaType::ImageLayerZstd
        | MediaType::ImageLayerNonDistributable
        | MediaType::ImageLayerNonDistributableGzip
        | MediaType::ImageLayerNonDistributableZstd => true,
        MediaType::Other(s) => matches!(
            s.as_str(),
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
                | "application/vnd.docker.image.rootfs.diff.tar"
                | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
        ),
        _ => false,
    }
}

/// Point `name` at a stored manifest, recording the image's size and the time.
pub fn record(
    store: &Store,
    name: &str,
    manifest: &Digest,
    manifest_len: u64,
    size: u64,
) -> Result<StoredImage> {
    let mut img = store.load_image(manifest)?;
    let mut ann = std::collections::HashMap::new();
    ann.insert(SIZE_ANNOTATION.to_string(), size.to_string());
    ann.insert(
        STORED_ANNOTATION.to_string(),
        chrono::Utc::now().to_rfc3339(),
    );
    // The index entry repeats the manifest's own media type: a Docker schema 2 manifest is
    // stored byte for byte (its digest depends on it) and must not be labelled OCI.
    let media_type = img
        .manifest
        .media_type()
        .clone()
        .unwrap_or(MediaType::ImageManifest);
    let desc: Descriptor = DescriptorBuilder::default()
        .media_type(media_type)
        .digest(oci_spec::image::Digest::from(manifest))
        .size(manifest_len)
        .annotations(ann)
        .build()?;
    store.set_ref(name, desc)?;
    img.names.push(name.to_string());
    img.size = Some(size);
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_transports() {
        let cases = [
            ("busybox", Source::Registry("busybox".into())),
            ("docker://a.io/b:c", Source::Registry("a.io/b:c".into())),
            (
                "oci:/tmp/x",
                Source::Oci {
                    dir: "/tmp/x".into(),
                    tag: None,
                },
            ),
            (
                "oci:/tmp/x:v1",
                Source::Oci {
                    dir: "/tmp/x".into(),
                    tag: Some("v1".into()),
                },
            ),
            (
                "oci-archive:a.tar:t",
                Source::OciArchive {
                    file: "a.tar".into(),
                    tag: Some("t".into()),
                },
            ),
            (
                "docker-archive:/a.tar",
                Source::DockerArchive {
                    file: "/a.tar".into(),
                },
            ),
            (
                "dockertar:/a.tar",
                Source::DockerArchive {
                    file: "/a.tar".into(),
                },
            ),
            (
                "docker-daemon:busybox:latest",
                Source::DockerDaemon {
                    name: "busybox:latest".into(),
                },
            ),
            (
                "docker:atomic-test-1",
                Source::DockerDaemon {
                    name: "atomic-test-1".into(),
                },
            ),
            (
                "docker:localhost:5000/a:b",
                Source::DockerDaemon {
                    name: "localhost:5000/a:b".into(),
                },
            ),
            (
                "docker:5000/a:b",
                Source::Registry("docker:5000/a:b".into()),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(Source::parse(input).unwrap(), want, "{input}");
        }
        assert!(Source::parse("oci:").is_err());
        assert!(Source::parse("docker-archive:").is_err());
    }
}

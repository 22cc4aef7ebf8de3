//! `atomic images verify`: is what the store holds for an image still what was pulled?
//!
//! Two checks, both against content addresses, so nothing but the digests is trusted:
//! - every blob of the image (manifest, config, layers) is hashed again and compared with its
//!   digest;
//! - every unpacked layer directory is compared with its layer blob: the blob's tar is read
//!   again (decompressed, and its uncompressed stream checked against the diff_id) and each
//!   entry compared with what is on disk — type; mode; size and content hash of regular files;
//!   symlink targets; hardlinks (same inode as their target); device numbers; `.wh.X` entries
//!   against overlayfs whiteouts (a character device 0:0 `X`), `.wh..wh..opq` against the
//!   `trusted.overlay.opaque=y` xattr on the directory — and files on disk that no entry
//!   accounts for are reported as added. Ownership and mtimes are not compared.
//!
//! Each blob is read once: the layer blob is hashed on its way into the decompressor.
//! `expected.rs` reads what a layer's tar says; `compare.rs` compares it with the directory,
//! through the unpacker's confined directory-fd walk. `repair.rs` is `--repair`.

mod compare;
mod expected;
pub mod repair;

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufReader};
use std::path::Path;

use anyhow::{Context, Result};
use oci_spec::image::{ImageConfiguration, ImageManifest};

use crate::digest::{Digest, HashingReader};
use crate::reference::ImageName;
use crate::store::{Store, ref_name};
use crate::unpack;

use compare::compare;
use expected::read_layer;

/// What `verify` found for one image.
#[derive(Debug, Clone)]
pub struct Report {
    pub manifest: Digest,
    pub blobs: Vec<BlobCheck>,
    pub layers: Vec<LayerCheck>,
}

impl Report {
    /// Nothing missing, corrupt or modified.
    pub fn ok(&self) -> bool {
        self.blobs.iter().all(|b| b.state == BlobState::Ok)
            && self.layers.iter().all(|l| l.state == LayerState::Ok)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobKind {
    Manifest,
    Config,
    Layer,
}

impl fmt::Display for BlobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BlobKind::Manifest => "manifest",
            BlobKind::Config => "config",
            BlobKind::Layer => "layer blob",
        })
    }
}

#[derive(Debug, Clone)]
pub struct BlobCheck {
    pub kind: BlobKind,
    pub digest: Digest,
    pub state: BlobState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobState {
    Ok,
    Missing,
    /// Its content hashes to something else.
    Corrupt {
        actual: Digest,
    },
}

/// One unpacked layer, base first.
#[derive(Debug, Clone)]
pub struct LayerCheck {
    pub diff_id: Digest,
    pub blob: Digest,
    pub state: LayerState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerState {
    Ok,
    /// The layer directory is gone.
    Missing,
    /// The directory differs from the blob: every difference found.
    Modified(Vec<Change>),
    /// The directory could not be compared (its blob is missing or corrupt, or unreadable).
    Unverified(String),
}

/// A path (relative to the image root, with a leading `/`) and how it differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// In the layer, not on disk.
    Removed,
    /// On disk, not in the layer.
    Added,
    /// A different kind of file (`file`, `directory`, `symlink`…).
    Type {
        expected: String,
        found: String,
    },
    Mode {
        expected: u32,
        found: u32,
    },
    Size {
        expected: u64,
        found: u64,
    },
    Content,
    LinkTarget {
        expected: String,
        found: String,
    },
    /// A hardlink that no longer shares its target's inode.
    Hardlink {
        target: String,
    },
    Device,
    /// The overlay whiteout that hides this path in lower layers is gone.
    WhiteoutMissing,
    /// The directory lost its opaque marker, so lower layers show through it.
    OpaqueMissing,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.path;
        match &self.kind {
            ChangeKind::Removed => write!(f, "{p}: missing"),
            ChangeKind::Added => write!(f, "{p}: added (not in the layer)"),
            ChangeKind::Type { expected, found } => {
                write!(f, "{p}: is a {found}, the layer has a {expected}")
            }
            ChangeKind::Mode { expected, found } => {
                write!(f, "{p}: mode {found:04o}, the layer has {expected:04o}")
            }
            ChangeKind::Size { expected, found } => {
                write!(f, "{p}: size {found}, the layer has {expected}")
            }
            ChangeKind::Content => write!(f, "{p}: content changed"),
            ChangeKind::LinkTarget { expected, found } => {
                write!(f, "{p}: symlink to '{found}', the layer has '{expected}'")
            }
            ChangeKind::Hardlink { target } => {
                write!(f, "{p}: no longer a hardlink of {target}")
            }
            ChangeKind::Device => write!(f, "{p}: device number changed"),
            ChangeKind::WhiteoutMissing => write!(f, "{p}: whiteout missing (deleted file shows)"),
            ChangeKind::OpaqueMissing => {
                write!(f, "{p}: opaque marker missing (lower layers show through)")
            }
        }
    }
}

/// The image `query` names, as (its names, manifest digest). Names are looked up in the index
/// alone first, so an image whose manifest or config blob is missing can still be verified
/// (and reported); IDs and ID prefixes go through [`Store::resolve`].
pub fn find(store: &Store, query: &str) -> Result<Option<(Vec<String>, Digest)>> {
    if let Some(found) = find_in_index(store, query)? {
        return Ok(Some(found));
    }
    Ok(store
        .resolve(query)?
        .map(|img| (img.names, img.manifest_digest)))
}

/// The entry a name (qualified, or short when it matches one image only) designates in the
/// index, whether or not its blobs are there, as (its names, manifest digest).
pub fn find_in_index(store: &Store, query: &str) -> Result<Option<(Vec<String>, Digest)>> {
    let Ok(name) = ImageName::parse(query) else {
        return Ok(None);
    };
    let index = store.index()?;
    let qualified = name.qualified().to_string();
    let tag = name.tag.as_deref().unwrap_or("latest");
    let suffix = format!("/{}:{tag}", name.repository);
    let matches = |n: &str| n == qualified || (name.registry.is_none() && n.ends_with(&suffix));
    let mut hits: Vec<&str> = index
        .manifests()
        .iter()
        .filter(|e| ref_name(e).is_some_and(matches))
        .map(|e| e.digest().as_ref())
        .collect();
    hits.sort_unstable();
    hits.dedup();
    let [digest] = hits[..] else {
        return Ok(None);
    };
    let digest: Digest = digest.parse()?;
    let names = names_of(store, &digest)?;
    Ok(Some((names, digest)))
}

/// Every name the index gives the manifest `manifest` (whether or not its blobs are there).
pub fn names_of(store: &Store, manifest: &Digest) -> Result<Vec<String>> {
    let wanted = manifest.to_string();
    Ok(store
        .index()?
        .manifests()
        .iter()
        .filter(|e| e.digest().as_ref() == wanted)
        .filter_map(|e| ref_name(e).map(str::to_owned))
        .collect())
}

/// Compare the directory `dir` with the uncompressed layer tar `tar`, as `verify` does for each
/// layer: every difference found. For the fuzzer, which checks that whatever the unpacker
/// writes verifies clean.
#[doc(hidden)]
pub fn compare_with_tar(tar: impl std::io::Read, dir: &Path) -> Result<Vec<Change>> {
    let expected = read_layer(tar).context("reading the layer tar")?;
    compare(dir, &expected)
}

/// Verify the image whose manifest is `manifest`.
pub fn verify(store: &Store, manifest: &Digest) -> Result<Report> {
    let mut report = Report {
        manifest: manifest.clone(),
        blobs: Vec::new(),
        layers: Vec::new(),
    };
    let Some(bytes) = small_blob(store, BlobKind::Manifest, manifest, &mut report)? else {
        return Ok(report);
    };
    let manifest = ImageManifest::from_reader(&bytes[..])
        .with_context(|| format!("manifest {manifest} is not an image manifest"))?;
    let config_digest = Digest::try_from(manifest.config().digest())?;
    let config = small_blob(store, BlobKind::Config, &config_digest, &mut report)?
        .map(|bytes| {
            ImageConfiguration::from_reader(&bytes[..])
                .with_context(|| format!("config {config_digest} is not an image config"))
        })
        .transpose()?;
    let diff_ids: Vec<Option<Digest>> = match &config {
        Some(c) => c
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| d.parse().ok())
            .collect(),
        None => Vec::new(),
    };
    for (i, layer) in manifest.layers().iter().enumerate() {
        let blob = Digest::try_from(layer.digest())?;
        match diff_ids.get(i).cloned().flatten() {
            Some(diff_id) => {
                let (blob_state, layer_state) = check_layer(store, &blob, &diff_id)?;
                report.blobs.push(BlobCheck {
                    kind: BlobKind::Layer,
                    digest: blob.clone(),
                    state: blob_state,
                });
                report.layers.push(LayerCheck {
                    diff_id,
                    blob,
                    state: layer_state,
                });
            }
            // Without the config there is no knowing which directory is this layer's: hash
            // the blob alone.
            None => {
                let state = hash_file(&store.blob_path(&blob), &blob)?;
                report.blobs.push(BlobCheck {
                    kind: BlobKind::Layer,
                    digest: blob,
                    state,
                });
            }
        }
    }
    Ok(report)
}

/// Hash a manifest or config; its bytes when intact.
fn small_blob(
    store: &Store,
    kind: BlobKind,
    digest: &Digest,
    report: &mut Report,
) -> Result<Option<Vec<u8>>> {
    let (state, bytes) = match fs::read(store.blob_path(digest)) {
        Ok(bytes) => {
            let actual = Digest::of(&bytes);
            if &actual == digest {
                (BlobState::Ok, Some(bytes))
            } else {
                (BlobState::Corrupt { actual }, None)
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => (BlobState::Missing, None),
        Err(e) => return Err(e).with_context(|| format!("reading {kind} {digest}")),
    };
    report.blobs.push(BlobCheck {
        kind,
        digest: digest.clone(),
        state,
    });
    Ok(bytes)
}

fn hash_file(path: &Path, digest: &Digest) -> Result<BlobState> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BlobState::Missing),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let (actual, _) = HashingReader::new(BufReader::with_capacity(256 * 1024, file))
        .finish()
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(if &actual == digest {
        BlobState::Ok
    } else {
        BlobState::Corrupt { actual }
    })
}

/// Hash a layer blob and compare its tar with the layer directory, in one read of the blob.
fn check_layer(store: &Store, blob: &Digest, diff_id: &Digest) -> Result<(BlobState, LayerState)> {
    let dir = store.layer_path(diff_id);
    let dir_present = dir.is_dir();
    let file = match File::open(store.blob_path(blob)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let layer = if dir_present {
                LayerState::Unverified(
                    "its blob is missing, so there is nothing to compare with".into(),
                )
            } else {
                LayerState::Missing
            };
            return Ok((BlobState::Missing, layer));
        }
        Err(e) => return Err(e).with_context(|| format!("reading layer blob {blob}")),
    };
    let mut compressed = HashingReader::new(file);
    let expected = {
        let reader = unpack::decompress(BufReader::with_capacity(256 * 1024, &mut compressed));
        match reader {
            Ok(reader) => {
                let mut tar = HashingReader::new(reader);
                let read = read_layer(&mut tar);
                // The digest covers the stream to its end, past the tar's end-of-archive.
                let uncompressed = tar.finish();
                match (read, uncompressed) {
                    (Ok(expected), Ok((actual, _))) if &actual == diff_id => Ok(expected),
                    (Ok(_), Ok((actual, _))) => Err(format!(
                        "the blob unpacks to {actual}, not the diff_id {diff_id}"
                    )),
                    (Err(e), _) | (_, Err(e)) => {
                        Err(format!("its blob cannot be read as a tar: {e}"))
                    }
                }
            }
            Err(e) => Err(format!("its blob cannot be decompressed: {e}")),
        }
    };
    let (actual, _) = compressed
        .finish()
        .with_context(|| format!("reading layer blob {blob}"))?;
    let blob_state = if &actual == blob {
        BlobState::Ok
    } else {
        BlobState::Corrupt { actual }
    };
    if !dir_present {
        return Ok((blob_state, LayerState::Missing));
    }
    if blob_state != BlobState::Ok {
        let why = "its blob is corrupt, so there is nothing trustworthy to compare with";
        return Ok((blob_state, LayerState::Unverified(why.into())));
    }
    let layer_state = match expected {
        Ok(expected) => {
            let changes = compare(&dir, &expected)
                .with_context(|| format!("comparing layer {} with its blob", dir.display()))?;
            if changes.is_empty() {
                LayerState::Ok
            } else {
                LayerState::Modified(changes)
            }
        }
        Err(why) => LayerState::Unverified(why),
    };
    Ok((blob_state, layer_state))
}

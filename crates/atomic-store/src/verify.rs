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
//! Entry names go through the unpacker's own normalisation, so both agree on what a name means.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use oci_spec::image::{ImageConfiguration, ImageManifest};

use crate::digest::{Digest, Hasher, HashingReader};
use crate::reference::ImageName;
use crate::store::{Store, ref_name};
use crate::unpack;

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";
const AUFS_META_PREFIX: &str = ".wh..wh.";

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
    let index = store.index()?;
    if let Ok(name) = ImageName::parse(query) {
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
        if let [digest] = hits[..] {
            let digest: Digest = digest.parse()?;
            let names = names_of(store, &digest)?;
            return Ok(Some((names, digest)));
        }
    }
    Ok(store
        .resolve(query)?
        .map(|img| (img.names, img.manifest_digest)))
}

fn names_of(store: &Store, manifest: &Digest) -> Result<Vec<String>> {
    let wanted = manifest.to_string();
    Ok(store
        .index()?
        .manifests()
        .iter()
        .filter(|e| e.digest().as_ref() == wanted)
        .filter_map(|e| ref_name(e).map(str::to_owned))
        .collect())
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

/// What the layer's tar says should be on disk, keyed by normalised path (no leading `/`).
#[derive(Debug, Default)]
struct Expected {
    entries: BTreeMap<String, Expect>,
    opaque: BTreeSet<String>,
}

#[derive(Debug, Clone)]
enum Expect {
    File { mode: u32, size: u64, sha: Digest },
    Dir { mode: u32 },
    Symlink { target: Vec<u8> },
    Hardlink { target: String },
    Char { mode: u32, major: u32, minor: u32 },
    Block { mode: u32, major: u32, minor: u32 },
    Fifo { mode: u32 },
    Whiteout,
}

impl Expect {
    fn kind(&self) -> &'static str {
        match self {
            Expect::File { .. } | Expect::Hardlink { .. } => "file",
            Expect::Dir { .. } => "directory",
            Expect::Symlink { .. } => "symlink",
            Expect::Char { .. } => "character device",
            Expect::Block { .. } => "block device",
            Expect::Fifo { .. } => "fifo",
            Expect::Whiteout => "whiteout",
        }
    }
}

impl Expected {
    /// A later entry replaces an earlier one at the same path, and everything beneath it
    /// unless both are directories — as the unpacker does.
    fn insert(&mut self, path: String, expect: Expect) {
        let both_dirs = matches!(
            (self.entries.get(&path), &expect),
            (Some(Expect::Dir { .. }), Expect::Dir { .. })
        );
        if !both_dirs {
            let prefix = format!("{path}/");
            let below: Vec<String> = self
                .entries
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .map(|(k, _)| k.clone())
                .collect();
            for k in below {
                self.entries.remove(&k);
            }
            self.opaque.retain(|k| !k.starts_with(&prefix));
            if !matches!(expect, Expect::Dir { .. }) {
                self.opaque.remove(&path);
            }
        }
        self.entries.insert(path, expect);
    }
}

fn normalized(raw: &[u8]) -> Option<String> {
    let comps = unpack::path::normalize(raw).ok()?;
    if comps.is_empty() {
        return None;
    }
    Some(String::from_utf8_lossy(&comps.join(&b'/')).into_owned())
}

fn read_layer(tar: impl Read) -> io::Result<Expected> {
    let mut expected = Expected::default();
    let mut archive = tar::Archive::new(crate::unpack::extlimit::ExtensionLimit::new(tar));
    for entry in archive.entries()? {
        let mut entry = entry?;
        // Names the unpacker refuses never reach the disk; the layer would not exist.
        let Some(path) = normalized(&entry.path_bytes()) else {
            continue;
        };
        let (parent, name) = match path.rsplit_once('/') {
            Some((p, n)) => (Some(p.to_string()), n.to_string()),
            None => (None, path.clone()),
        };
        let join = |n: &str| match &parent {
            Some(p) => format!("{p}/{n}"),
            None => n.to_string(),
        };
        if name == OPAQUE_MARKER {
            if let Some(p) = parent {
                expected.opaque.insert(p);
            }
            continue;
        }
        if name.starts_with(AUFS_META_PREFIX)
            || path.split('/').any(|c| c.starts_with(AUFS_META_PREFIX))
        {
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            if !hidden.is_empty() && hidden != "." && hidden != ".." {
                expected.insert(join(hidden), Expect::Whiteout);
            }
            continue;
        }
        let header = entry.header();
        let mode = header.mode()? & 0o7777;
        let dev = |v: io::Result<Option<u32>>| v.ok().flatten().unwrap_or(0);
        let expect = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut hasher = Hasher::default();
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = entry.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buf[..n]);
                }
                Expect::File {
                    mode,
                    size: hasher.len(),
                    sha: hasher.finish(),
                }
            }
            tar::EntryType::Directory => Expect::Dir { mode },
            tar::EntryType::Symlink => Expect::Symlink {
                target: entry
                    .link_name_bytes()
                    .map(|l| l.into_owned())
                    .unwrap_or_default(),
            },
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .and_then(|l| normalized(&l))
                    .unwrap_or_default();
                Expect::Hardlink { target }
            }
            tar::EntryType::Char => Expect::Char {
                mode,
                major: dev(header.device_major()),
                minor: dev(header.device_minor()),
            },
            tar::EntryType::Block => Expect::Block {
                mode,
                major: dev(header.device_major()),
                minor: dev(header.device_minor()),
            },
            tar::EntryType::Fifo => Expect::Fifo { mode },
            // PAX and GNU extension headers are folded into the next entry by the tar crate;
            // anything else the unpacker does not write either.
            _ => continue,
        };
        expected.insert(path, expect);
    }
    Ok(expected)
}

/// Compare a layer directory with what its tar says.
fn compare(dir: &Path, expected: &Expected) -> Result<Vec<Change>> {
    let root = rustix::process::geteuid().is_root();
    let mut changes = Vec::new();
    let mut change = |path: &str, kind| {
        changes.push(Change {
            path: format!("/{path}"),
            kind,
        })
    };
    for (path, expect) in &expected.entries {
        let real = dir.join(path);
        let meta = match confined_lstat(dir, path)? {
            Some(m) => m,
            None => {
                // Without root the unpacker cannot make device nodes or whiteouts.
                let privileged = matches!(
                    expect,
                    Expect::Char { .. } | Expect::Block { .. } | Expect::Whiteout
                );
                if root || !privileged {
                    change(path, ChangeKind::Removed);
                }
                continue;
            }
        };
        let found = kind_of(&meta);
        let mode = meta.mode() & 0o7777;
        let mode_check = |want: u32, change: &mut dyn FnMut(&str, ChangeKind)| {
            if want != mode {
                change(
                    path,
                    ChangeKind::Mode {
                        expected: want,
                        found: mode,
                    },
                );
            }
        };
        let type_change = |e: &Expect| ChangeKind::Type {
            expected: e.kind().to_string(),
            found: found.to_string(),
        };
        match expect {
            Expect::File {
                mode: want,
                size,
                sha,
            } => {
                if !meta.is_file() {
                    change(path, type_change(expect));
                    continue;
                }
                mode_check(*want, &mut change);
                if meta.len() != *size {
                    change(
                        path,
                        ChangeKind::Size {
                            expected: *size,
                            found: meta.len(),
                        },
                    );
                } else if &file_digest(&real)? != sha {
                    change(path, ChangeKind::Content);
                }
            }
            Expect::Dir { mode: want } => {
                if !meta.is_dir() {
                    change(path, type_change(expect));
                    continue;
                }
                mode_check(*want, &mut change);
            }
            Expect::Symlink { target } => {
                if !meta.file_type().is_symlink() {
                    change(path, type_change(expect));
                    continue;
                }
                let found_target = fs::read_link(&real)?;
                let found_target = found_target.as_os_str().as_encoded_bytes();
                if found_target != target.as_slice() {
                    change(
                        path,
                        ChangeKind::LinkTarget {
                            expected: String::from_utf8_lossy(target).into_owned(),
                            found: String::from_utf8_lossy(found_target).into_owned(),
                        },
                    );
                }
            }
            Expect::Hardlink { target } => {
                if !meta.is_file() {
                    change(path, type_change(expect));
                    continue;
                }
                let same = confined_lstat(dir, target)?
                    .is_some_and(|t| t.ino() == meta.ino() && t.dev() == meta.dev());
                if !same {
                    change(
                        path,
                        ChangeKind::Hardlink {
                            target: format!("/{target}"),
                        },
                    );
                }
            }
            Expect::Char {
                mode: want,
                major,
                minor,
            }
            | Expect::Block {
                mode: want,
                major,
                minor,
            } => {
                let right_type = match expect {
                    Expect::Char { .. } => meta.file_type().is_char_device(),
                    _ => meta.file_type().is_block_device(),
                };
                if !right_type {
                    change(path, type_change(expect));
                    continue;
                }
                mode_check(*want, &mut change);
                let rdev = meta.rdev();
                if rustix::fs::major(rdev) != *major || rustix::fs::minor(rdev) != *minor {
                    change(path, ChangeKind::Device);
                }
            }
            Expect::Fifo { mode: want } => {
                if !meta.file_type().is_fifo() {
                    change(path, type_change(expect));
                    continue;
                }
                mode_check(*want, &mut change);
            }
            Expect::Whiteout => {
                if !(meta.file_type().is_char_device() && meta.rdev() == 0) {
                    change(path, ChangeKind::WhiteoutMissing);
                }
            }
        }
    }
    // trusted.* xattrs are visible to root only; the unpacker cannot set them otherwise.
    if root {
        for path in &expected.opaque {
            let opaque =
                matches!(xattr::get(dir.join(path), OPAQUE_XATTR), Ok(Some(v)) if v == b"y");
            if !opaque {
                change(path, ChangeKind::OpaqueMissing);
            }
        }
    }
    // Everything on disk that no entry (or the parent directories they imply) accounts for.
    let mut implied: HashSet<&str> = HashSet::new();
    for path in expected.entries.keys().chain(expected.opaque.iter()) {
        let mut p = path.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            if !implied.insert(parent) {
                break;
            }
            p = parent;
        }
    }
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in fs::read_dir(dir.join(&rel))? {
            let entry = entry?;
            let rel = rel.join(entry.file_name());
            let key = rel.to_string_lossy().into_owned();
            let known = expected.entries.contains_key(&key) || implied.contains(key.as_str());
            if !known {
                change(&key, ChangeKind::Added);
                continue;
            }
            if entry.file_type()?.is_dir() {
                stack.push(rel);
            }
        }
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changes)
}

/// lstat `rel` inside `dir` without following a symlink on the way: a layer that was tampered
/// with must not make verify read outside it. `None` when it (or a parent) is absent, or a
/// parent is not a directory.
fn confined_lstat(dir: &Path, rel: &str) -> Result<Option<fs::Metadata>> {
    let mut path = dir.to_path_buf();
    let mut parts = rel.split('/').peekable();
    while let Some(part) = parts.next() {
        path.push(part);
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(20) => {
                return Ok(None);
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        if parts.peek().is_none() {
            return Ok(Some(meta));
        }
        if !meta.is_dir() {
            return Ok(None);
        }
    }
    Ok(None)
}

fn file_digest(path: &Path) -> Result<Digest> {
    let file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let (digest, _) = HashingReader::new(BufReader::with_capacity(256 * 1024, file))
        .finish()
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(digest)
}

fn kind_of(meta: &fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_file() {
        "file"
    } else if t.is_dir() {
        "directory"
    } else if t.is_symlink() {
        "symlink"
    } else if t.is_char_device() && meta.rdev() == 0 {
        "whiteout"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_fifo() {
        "fifo"
    } else {
        "socket"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// path, type, data, mode, link target
    type Entry<'a> = (&'a str, tar::EntryType, &'a [u8], u32, Option<&'a str>);

    fn tar_of(entries: &[Entry<'_>]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, data, mode, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(*mode);
            h.set_size(data.len() as u64);
            if let Some(link) = link {
                h.set_link_name(link).unwrap();
            }
            b.append_data(&mut h, path, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn expected(tar: &[u8]) -> Expected {
        read_layer(tar).unwrap()
    }

    fn setup(dir: &Path) {
        fs::create_dir_all(dir.join("etc")).unwrap();
        fs::write(dir.join("etc/passwd"), "root:x:0:0\n").unwrap();
        std::os::unix::fs::symlink("passwd", dir.join("etc/link")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir.join("etc"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(dir.join("etc/passwd"), fs::Permissions::from_mode(0o644)).unwrap();
    }

    fn layer() -> Vec<u8> {
        tar_of(&[
            ("etc", tar::EntryType::Directory, b"", 0o755, None),
            (
                "etc/passwd",
                tar::EntryType::Regular,
                b"root:x:0:0\n",
                0o644,
                None,
            ),
            (
                "etc/link",
                tar::EntryType::Symlink,
                b"",
                0o777,
                Some("passwd"),
            ),
        ])
    }

    #[test]
    fn an_intact_layer_has_no_changes() {
        let dir = tempfile::tempdir().unwrap();
        setup(dir.path());
        assert_eq!(compare(dir.path(), &expected(&layer())).unwrap(), vec![]);
    }

    #[test]
    fn modifications_are_named() {
        let dir = tempfile::tempdir().unwrap();
        setup(dir.path());
        fs::write(dir.path().join("etc/passwd"), "root:x:0:1\n").unwrap();
        fs::remove_file(dir.path().join("etc/link")).unwrap();
        std::os::unix::fs::symlink("/elsewhere", dir.path().join("etc/link")).unwrap();
        fs::write(dir.path().join("etc/extra"), "x").unwrap();
        let changes = compare(dir.path(), &expected(&layer())).unwrap();
        let kinds: Vec<(&str, &ChangeKind)> =
            changes.iter().map(|c| (c.path.as_str(), &c.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                ("/etc/extra", &ChangeKind::Added),
                (
                    "/etc/link",
                    &ChangeKind::LinkTarget {
                        expected: "passwd".into(),
                        found: "/elsewhere".into()
                    }
                ),
                ("/etc/passwd", &ChangeKind::Content),
            ]
        );
        fs::remove_file(dir.path().join("etc/passwd")).unwrap();
        let changes = compare(dir.path(), &expected(&layer())).unwrap();
        assert!(
            changes
                .iter()
                .any(|c| c.path == "/etc/passwd" && c.kind == ChangeKind::Removed)
        );
    }

    #[test]
    fn whiteouts_map_to_their_overlay_form() {
        let tar = tar_of(&[
            ("etc/.wh.shadow", tar::EntryType::Regular, b"", 0o644, None),
            (
                "opt/.wh..wh..opq",
                tar::EntryType::Regular,
                b"",
                0o644,
                None,
            ),
        ]);
        let e = expected(&tar);
        assert!(matches!(
            e.entries.get("etc/shadow"),
            Some(Expect::Whiteout)
        ));
        assert!(!e.entries.contains_key("etc/.wh.shadow"));
        assert!(e.opaque.contains("opt"));
        // On disk without the whiteout: reported (as root, where it can be made).
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        fs::create_dir_all(dir.path().join("opt")).unwrap();
        let changes = compare(dir.path(), &e).unwrap();
        if rustix::process::geteuid().is_root() {
            assert!(
                changes.iter().any(|c| c.path == "/etc/shadow"),
                "{changes:?}"
            );
            assert!(
                changes.iter().any(|c| c.kind == ChangeKind::OpaqueMissing),
                "{changes:?}"
            );
        }
    }

    #[test]
    fn a_later_entry_replaces_an_earlier_tree() {
        let tar = tar_of(&[
            ("a", tar::EntryType::Directory, b"", 0o755, None),
            ("a/b", tar::EntryType::Regular, b"x", 0o644, None),
            ("a", tar::EntryType::Regular, b"now a file", 0o644, None),
        ]);
        let e = expected(&tar);
        assert_eq!(e.entries.len(), 1);
        assert!(matches!(e.entries["a"], Expect::File { size: 10, .. }));
    }

    #[test]
    fn a_symlinked_parent_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("passwd"), "root:x:0:0\n").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("etc")).unwrap();
        let changes = compare(dir.path(), &expected(&layer())).unwrap();
        assert!(
            changes
                .iter()
                .any(|c| c.path == "/etc/passwd" && c.kind == ChangeKind::Removed),
            "{changes:?}"
        );
    }
}

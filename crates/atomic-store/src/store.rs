//! The store on disk: blobs, unpacked layers, temporary space and the ref index.
//!
//! ```text
//! ROOT/                         (/var/lib/containers/atomic; atomic.conf checkout_path)
//! ├── oci-layout                {"imageLayoutVersion":"1.0.0"}   ─┐ an OCI image layout:
//! ├── index.json                one manifest descriptor per image ├ skopeo and umoci read it
//! ├── blobs/sha256/<hex>        manifests, configs, layer blobs  ─┘ as `oci:ROOT:NAME`
//! ├── layers/<diff_id hex>/     each layer unpacked once (overlayfs lower dir), shared by
//! │                             every image that has it
//! ├── tmp/<pid>-…               downloads and unpacks in progress; renamed into place only
//! │                             once their digests are verified
//! ├── gc.lock, index.lock       see `lock.rs`
//! ```
//!
//! Every image in `index.json` carries its name in the standard
//! `org.opencontainers.image.ref.name` annotation (the fully qualified name,
//! `docker.io/library/busybox:latest`); an entry without one is a dangling image, left when a
//! name moved to a newer image, shown as `<none>` and removed by `images prune`.
//!
//! Nothing is ever written in place: a blob or layer goes to `tmp/` first, is verified, and is
//! renamed to its content-addressed name, and `index.json` is replaced by rename. A process
//! killed at any moment leaves either the old state or the new one, plus garbage in `tmp/`
//! that the next writer clears.

use std::fs::{self, File};
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use fn_error_context::context;
use oci_spec::image::{Descriptor, ImageIndex, ImageIndexBuilder, MediaType};

use crate::digest::{Digest, HashingWriter};
use crate::lock::{Lock, Mode};

/// The standard annotation that names an image in an OCI layout's index.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Sum of the image's uncompressed layer sizes, recorded at pull time for `images list`.
pub const SIZE_ANNOTATION: &str = "io.projectatomic.atomic.size";
/// When the image was stored (RFC 3339).
pub const STORED_ANNOTATION: &str = "io.projectatomic.atomic.stored";

pub const DEFAULT_ROOT: &str = "/var/lib/containers/atomic";

/// An opened store.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Open the store at `root`, creating its layout when it does not exist yet.
    #[context("opening the image store at {}", root.display())]
    pub fn open(root: &Path) -> Result<Store> {
        let store = Store {
            root: root.to_path_buf(),
        };
        crate::access::prepare_root(root)?;
        for dir in ["blobs/sha256", "layers", "tmp"] {
            crate::access::create_private_dir(&root.join(dir))?;
        }
        let layout = root.join("oci-layout");
        if !layout.exists() {
            store.write_atomically(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        if !root.join("index.json").exists() {
            let _lock = store.index_lock()?;
            if !root.join("index.json").exists() {
                store.write_index(&empty_index())?;
            }
        }
        Ok(store)
    }

    /// Open the store only when it exists: reading commands must not create it.
    pub fn open_existing(root: &Path) -> Result<Option<Store>> {
        // A root that is a file or a dangling link is not "no store yet": `open` says what
        // is wrong with it.
        let odd = fs::symlink_metadata(root).is_ok() && !root.is_dir();
        if odd || root.join("index.json").exists() {
            Store::open(root).map(Some)
        } else {
            Ok(None)
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Held for the whole of a pull or import: see `lock.rs`.
    pub fn writer_lock(&self) -> Result<Lock> {
        let lock = Lock::acquire(&self.root.join("gc.lock"), Mode::Shared, "an image prune")?;
        self.clean_stale_tmp();
        Ok(lock)
    }

    /// Held while garbage is collected: no pull runs meanwhile.
    pub fn gc_lock(&self) -> Result<Lock> {
        Lock::acquire(
            &self.root.join("gc.lock"),
            Mode::Exclusive,
            "a running pull",
        )
    }

    fn index_lock(&self) -> Result<Lock> {
        Lock::acquire(
            &self.root.join("index.lock"),
            Mode::Exclusive,
            "another atomic",
        )
    }

    // ---- blobs ----

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).exists()
    }

    /// Read a small blob (manifest, config) whole, checking it against its digest: a blob that
    /// was changed on disk is reported, not trusted.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes = fs::read(&path).with_context(|| format!("reading blob {digest}"))?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            bail!(
                "blob {} is corrupt (its content hashes to {actual}); pull the image again",
                path.display()
            );
        }
        Ok(bytes)
    }

    /// Store bytes as a blob; returns their digest.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        let mut w = self.blob_writer(&digest)?;
        w.write_all(bytes)?;
        w.commit()?;
        Ok(digest)
    }

    /// A writer for a blob whose digest is known in advance; nothing is stored unless the
    /// written bytes hash to it.
    pub fn blob_writer(&self, expected: &Digest) -> Result<BlobWriter> {
        let file = tempfile::Builder::new()
            .prefix(&format!("{}-blob-", std::process::id()))
            .tempfile_in(self.root.join("tmp"))
            .context("creating a temporary blob file")?;
        Ok(BlobWriter {
            expected: expected.clone(),
            target: self.blob_path(expected),
            inner: HashingWriter::new(io::BufWriter::with_capacity(256 * 1024, file)),
        })
    }

    // ---- layers ----

    pub fn layer_path(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("layers").join(diff_id.hex())
    }

    /// Is the layer complete? Its directory is renamed into place whole, and its size file
    /// (the completion marker) is written after that and removed first when the layer goes:
    /// a directory without it is a layer whose commit or removal was interrupted, never used.
    pub fn has_layer(&self, diff_id: &Digest) -> bool {
        self.layer_path(diff_id).is_dir() && self.layer_size_path(diff_id).is_file()
    }

    /// A fresh directory under `tmp/`, removed on drop unless committed.
    pub fn temp_dir(&self, what: &str) -> Result<tempfile::TempDir> {
        tempfile::Builder::new()
            .prefix(&format!("{}-{what}-", std::process::id()))
            .tempdir_in(self.root.join("tmp"))
            .context("creating a temporary directory in the store")
    }

    /// Move a verified, unpacked layer into place, then write its size, which marks it
    /// complete. When another pull committed the same layer first, theirs is kept and ours
    /// removed: both are identical by their diff_id. A directory there without the marker is
    /// what an interrupted removal left: it is moved aside and replaced.
    pub fn commit_layer(
        &self,
        unpacked: tempfile::TempDir,
        diff_id: &Digest,
        size: u64,
    ) -> Result<()> {
        let target = self.layer_path(diff_id);
        let tmp = unpacked.keep();
        let mut result = fs::rename(&tmp, &target);
        if result.is_err() && target.is_dir() && !self.has_layer(diff_id) {
            self.discard_layer_dir(diff_id);
            result = fs::rename(&tmp, &target);
        }
        match result {
            Ok(()) => {}
            Err(_) if target.is_dir() => remove_tree(&tmp),
            Err(e) => {
                remove_tree(&tmp);
                return Err(e).with_context(|| format!("storing layer {diff_id}"));
            }
        }
        self.write_layer_size(diff_id, size)
    }

    /// Take a layer out of the store at once: its marker first, then its directory renamed
    /// into `tmp/` (named after this process, so a killed removal is finished by the next
    /// writer) and only then deleted file by file. A SIGKILL at any point leaves the layer
    /// whole or gone, never half there.
    pub(crate) fn remove_layer(&self, diff_hex: &str) {
        remove_tree(&self.root.join("layers").join(format!("{diff_hex}.size")));
        let dir = self.root.join("layers").join(diff_hex);
        if dir.exists() {
            self.trash(&dir, diff_hex);
        }
    }

    fn discard_layer_dir(&self, diff_id: &Digest) {
        self.trash(&self.layer_path(diff_id), diff_id.hex());
    }

    /// Rename `path` into `tmp/` and delete it there; delete it in place only if the rename
    /// fails (it cannot across filesystems, and `tmp/` is in the same directory tree).
    fn trash(&self, path: &Path, what: &str) {
        let aside = self.root.join("tmp").join(format!(
            "{}-removed-{what}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        match fs::rename(path, &aside) {
            Ok(()) => remove_tree(&aside),
            Err(e) => {
                tracing::warn!(
                    "could not move {} aside ({e}); removing it in place",
                    path.display()
                );
                remove_tree(path);
            }
        }
    }

    // ---- index ----

    /// The index as stored.
    pub fn index(&self) -> Result<ImageIndex> {
        let path = self.root.join("index.json");
        let file = File::open(&path).with_context(|| format!("reading {}", path.display()))?;
        ImageIndex::from_reader(BufReader::new(file))
            .with_context(|| format!("{} is not a valid OCI index", path.display()))
    }

    /// Change the index under its lock; `edit` sees the current entries.
    pub fn update_index<T>(&self, edit: impl FnOnce(&mut Vec<Descriptor>) -> T) -> Result<T> {
        let _lock = self.index_lock()?;
        let mut index = self.index()?;
        let mut manifests = index.manifests().clone();
        let out = edit(&mut manifests);
        index.set_manifests(manifests);
        self.write_index(&index)?;
        Ok(out)
    }

    /// Point `name` (fully qualified) at a manifest. The image the name pointed at before stays,
    /// as a dangling entry, when no other name holds it.
    pub fn set_ref(&self, name: &str, manifest: Descriptor) -> Result<()> {
        self.update_index(|entries| {
            for e in entries.iter_mut() {
                if ref_name(e) == Some(name) {
                    let mut ann = e.annotations().clone().unwrap_or_default();
                    ann.remove(REF_NAME);
                    e.set_annotations(Some(ann));
                }
            }
            let mut new = manifest;
            let mut ann = new.annotations().clone().unwrap_or_default();
            ann.insert(REF_NAME.to_string(), name.to_string());
            new.set_annotations(Some(ann));
            entries.push(new);
            dedupe_dangling(entries);
        })
    }

    fn write_index(&self, index: &ImageIndex) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(index)?;
        self.write_atomically(&self.root.join("index.json"), &bytes)
    }

    /// Write a whole file by rename, so readers see the old content or the new, never a part.
    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(path.parent().unwrap_or(&self.root))?;
        tmp.write_all(bytes)?;
        tmp.persist(path)
            .with_context(|| format!("replacing {}", path.display()))?;
        Ok(())
    }

    /// Remove what killed writers left in `tmp/`: entries named after a process that is gone.
    fn clean_stale_tmp(&self) {
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let pid = name.to_string_lossy().split('-').next().map(str::to_owned);
            let alive = pid.is_some_and(|p| !p.is_empty() && Path::new("/proc").join(p).exists());
            if !alive {
                remove_tree(&entry.path());
            }
        }
    }

    /// Remove everything in `tmp/` (under the gc lock no writer is running).
    pub(crate) fn clear_tmp(&self) -> Result<()> {
        for entry in fs::read_dir(self.root.join("tmp"))? {
            remove_tree(&entry?.path());
        }
        Ok(())
    }
}

/// The name an index entry carries, if any.
pub fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations()
        .as_ref()
        .and_then(|a| a.get(REF_NAME))
        .map(String::as_str)
}

/// A manifest that is both named and dangling needs no dangling entry; nor does it need two.
fn dedupe_dangling(entries: &mut Vec<Descriptor>) {
    let named: Vec<String> = entries
        .iter()
        .filter(|e| ref_name(e).is_some())
        .map(|e| e.digest().to_string())
        .collect();
    let mut seen = Vec::new();
    entries.retain(|e| {
        if ref_name(e).is_some() {
            return true;
        }
        let d = e.digest().to_string();
        let keep = !named.contains(&d) && !seen.contains(&d);
        seen.push(d);
        keep
    });
}

fn empty_index() -> ImageIndex {
    ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(Vec::new())
        .build()
        .expect("a complete index")
}

/// Remove a file or a tree, ignoring what is already gone. Unpacked layers can hold
/// directories without write permission, which `remove_dir_all` handles as root.
pub(crate) fn remove_tree(path: &Path) {
    let result = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!("could not remove {}: {e}", path.display());
    }
}

/// A blob being written: hashed as it goes, renamed into place by `commit` only when its
/// digest matches.
pub struct BlobWriter {
    expected: Digest,
    target: PathBuf,
    inner: HashingWriter<io::BufWriter<tempfile::NamedTempFile>>,
}

impl BlobWriter {
    /// Bytes accepted so far.
    pub fn written(&self) -> u64 {
        self.inner.written()
    }

    /// Verify and store. A mismatch is an error naming both digests; nothing is stored.
    pub fn commit(self) -> Result<PathBuf> {
        let (buf, actual, _) = self.inner.finish();
        // The last buffered bytes are written here: a full disk can surface now.
        let file = buf
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("writing blob {}", self.expected))?;
        if actual != self.expected {
            bail!(
                "blob {} failed verification: its content hashes to {actual}; the source is corrupt or was tampered with",
                self.expected
            );
        }
        file.persist(&self.target)
            .with_context(|| format!("storing blob {}", self.expected))?;
        Ok(self.target)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Store {
    /// The uncompressed size of a layer, beside its directory (the directory itself is an
    /// overlay lower dir and must hold nothing but the layer).
    pub(crate) fn layer_size_path(&self, diff_id: &Digest) -> PathBuf {
        self.root
            .join("layers")
            .join(format!("{}.size", diff_id.hex()))
    }

    pub(crate) fn write_layer_size(&self, diff_id: &Digest, size: u64) -> Result<()> {
        self.write_atomically(&self.layer_size_path(diff_id), size.to_string().as_bytes())
    }
}

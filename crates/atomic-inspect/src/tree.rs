//! A manifest of a root filesystem: every path with its type, mode, owner, size, content hash
//! and link target, read from overlay layer directories without mounting them.
//!
//! Layers are given top first (as overlayfs's `lowerdir`). The merged view follows overlayfs's
//! rules: in a layer, a character device 0:0 is a whiteout that hides the name in every layer
//! below; a directory with the xattr `trusted.overlay.opaque=y` hides what lower layers hold
//! beneath it; a non-directory hides lower directories of the same path. Docker's overlay2,
//! containers/storage's overlay and atomic's own store all write layers in this form, so one
//! walker reads images and containers of every engine. A plain directory is a one-layer root.
//!
//! Nothing is followed: symlinks are recorded with their target, never resolved on the host.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

use atomic_store::overlay::{is_absent, is_opaque, is_whiteout};

/// What kind of file an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Char,
    Block,
    Fifo,
    Socket,
}

impl Kind {
    fn of(ft: fs::FileType) -> Kind {
        if ft.is_dir() {
            Kind::Dir
        } else if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_char_device() {
            Kind::Char
        } else if ft.is_block_device() {
            Kind::Block
        } else if ft.is_fifo() {
            Kind::Fifo
        } else if ft.is_socket() {
            Kind::Socket
        } else {
            Kind::File
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Symlink => "link",
            Kind::Char => "char",
            Kind::Block => "block",
            Kind::Fifo => "fifo",
            Kind::Socket => "socket",
        }
    }
}

/// One path of a root filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    pub kind: Option<Kind>,
    /// Permission bits with setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Bytes of a regular file or of a symlink's target; 0 for the rest (a directory's size is
    /// the file system's business, not the image's).
    pub size: u64,
    pub nlink: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// SHA-256 of a regular file's content, hex.
    pub sha256: Option<String>,
    /// A symlink's target, as written.
    pub link: Option<String>,
    /// Device number of a character or block device.
    pub rdev: u64,
}

/// Every path of a root, relative (`etc/passwd`, as the original's diff printed them; the root
/// itself left out), sorted.
pub type Manifest = BTreeMap<String, Entry>;

/// What to read besides the metadata: hashing every file is most of the cost, and a
/// `--no-files` diff needs none of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub hash: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { hash: true }
    }
}

/// The manifest of the merged view of `layers` (top layer first).
pub fn from_layers(layers: &[PathBuf], options: Options) -> Result<Manifest> {
    let mut roots: Vec<&Path> = Vec::new();
    for layer in layers {
        let meta = fs::metadata(layer)
            .with_context(|| format!("reading layer directory {}", layer.display()))?;
        if !meta.is_dir() {
            anyhow::bail!("layer {} is not a directory", layer.display());
        }
        roots.push(layer);
        if is_opaque(layer) {
            break;
        }
    }
    let mut out = Manifest::new();
    walk(&roots, Path::new(""), options, &mut out)?;
    Ok(out)
}

/// Read the directory `rel`, which is a directory in each of `layers` (the ones that
/// contribute to it, top first).
fn walk(layers: &[&Path], rel: &Path, options: Options, out: &mut Manifest) -> Result<()> {
    let mut seen: BTreeSet<OsString> = BTreeSet::new();
    for (i, layer) in layers.iter().enumerate() {
        let dir = layer.join(rel);
        let entries =
            fs::read_dir(&dir).with_context(|| format!("reading directory {}", dir.display()))?;
        for dent in entries {
            let dent = dent.with_context(|| format!("reading directory {}", dir.display()))?;
            let name = dent.file_name();
            if !seen.insert(name.clone()) {
                continue;
            }
            let real = dir.join(&name);
            let meta = fs::symlink_metadata(&real)
                .with_context(|| format!("reading {}", real.display()))?;
            if is_whiteout(&meta) {
                continue;
            }
            let child_rel = rel.join(&name);
            let entry = entry(&real, &meta, options)?;
            out.insert(child_rel.to_string_lossy().into_owned(), entry);
            if meta.is_dir() {
                let below = contributing(&layers[i + 1..], &child_rel, &real)?;
                let mut child_layers = vec![*layer];
                child_layers.extend(below);
                walk(&child_layers, &child_rel, options, out)?;
            }
        }
    }
    Ok(())
}

/// The lower layers that merge into the directory `rel`, whose top-most copy is `top`: each
/// layer down to the first that has something other than a directory there (a file or a
/// whiteout hides the rest), or that is opaque.
fn contributing<'a>(lower: &[&'a Path], rel: &Path, top: &Path) -> Result<Vec<&'a Path>> {
    let mut found = Vec::new();
    if is_opaque(top) {
        return Ok(found);
    }
    for layer in lower {
        let real = layer.join(rel);
        match fs::symlink_metadata(&real) {
            Ok(meta) if meta.is_dir() => {
                found.push(*layer);
                if is_opaque(&real) {
                    break;
                }
            }
            Ok(_) => break,
            Err(e) if is_absent(&e) => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", real.display())),
        }
    }
    Ok(found)
}

fn entry(real: &Path, meta: &fs::Metadata, options: Options) -> Result<Entry> {
    let kind = Kind::of(meta.file_type());
    let mut entry = Entry {
        kind: Some(kind),
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        size: 0,
        nlink: meta.nlink(),
        mtime: meta.mtime(),
        sha256: None,
        link: None,
        rdev: 0,
    };
    match kind {
        Kind::File => {
            entry.size = meta.len();
            if options.hash {
                entry.sha256 = Some(hash_file(real)?);
            }
        }
        Kind::Symlink => {
            let target =
                fs::read_link(real).with_context(|| format!("reading link {}", real.display()))?;
            entry.size = meta.len();
            entry.link = Some(target.to_string_lossy().into_owned());
        }
        Kind::Char | Kind::Block => entry.rdev = meta.rdev(),
        _ => {}
    }
    Ok(entry)
}

fn hash_file(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = io::Read::read(&mut file, &mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
    }
    Ok(hex::encode(sha.finalize()))
}

/// Read one regular file of the merged view (for package databases), following no symlink:
/// the top-most layer's copy, unless a whiteout or a non-directory parent hides it.
pub fn read_file(layers: &[PathBuf], path: &str) -> Result<Option<Vec<u8>>> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let mut visible: Vec<&Path> = layers.iter().map(PathBuf::as_path).collect();
    for depth in 1..=parts.len() {
        let sub: PathBuf = parts[..depth].iter().collect();
        let last = depth == parts.len();
        let mut next = Vec::new();
        for layer in visible {
            let real = layer.join(&sub);
            let meta = match fs::symlink_metadata(&real) {
                Ok(m) => m,
                Err(e) if is_absent(&e) => continue,
                Err(e) => return Err(e).with_context(|| format!("reading {}", real.display())),
            };
            if last {
                if meta.is_file() {
                    let data =
                        fs::read(&real).with_context(|| format!("reading {}", real.display()))?;
                    return Ok(Some(data));
                }
                return Ok(None);
            }
            if !meta.is_dir() {
                break;
            }
            next.push(layer);
            if is_opaque(&real) {
                break;
            }
        }
        if next.is_empty() {
            return Ok(None);
        }
        visible = next;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use atomic_store::overlay::OPAQUE_XATTR;
    use std::os::unix::fs::symlink;

    fn write(dir: &Path, rel: &str, data: &str) {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, data).unwrap();
    }

    use atomic_testsupport::whiteout;

    #[test]
    fn merges_layers_top_first() {
        let tmp = tempfile::tempdir().unwrap();
        let (top, bottom) = (tmp.path().join("top"), tmp.path().join("bottom"));
        write(&bottom, "etc/a", "bottom a");
        write(&bottom, "etc/b", "b");
        write(&bottom, "bin/x", "x");
        write(&top, "etc/a", "top a!");
        write(&top, "etc/c", "c");
        symlink("../etc/c", top.join("bin-link")).unwrap();
        let m = from_layers(&[top.clone(), bottom.clone()], Options::default()).unwrap();
        let names: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["bin", "bin-link", "bin/x", "etc", "etc/a", "etc/b", "etc/c"]
        );
        assert_eq!(m["etc/a"].size, 6);
        assert_eq!(m["bin-link"].link.as_deref(), Some("../etc/c"));
        assert_eq!(m["bin-link"].kind, Some(Kind::Symlink));
        assert_eq!(
            m["etc/c"].sha256.as_deref(),
            Some("2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6")
        );
        assert_eq!(
            read_file(&[top, bottom], "/etc/a").unwrap().as_deref(),
            Some(&b"top a!"[..])
        );
    }

    #[test]
    fn a_file_hides_a_lower_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let (top, bottom) = (tmp.path().join("top"), tmp.path().join("bottom"));
        write(&bottom, "opt/d/inner", "i");
        write(&top, "opt/d", "now a file");
        let m = from_layers(&[top.clone(), bottom.clone()], Options::default()).unwrap();
        assert_eq!(m["opt/d"].kind, Some(Kind::File));
        assert!(!m.contains_key("opt/d/inner"));
        assert_eq!(read_file(&[top, bottom], "/opt/d/inner").unwrap(), None);
    }

    #[test]
    fn whiteouts_and_opaque_directories_hide_lower_content() {
        let tmp = tempfile::tempdir().unwrap();
        let (top, bottom) = (tmp.path().join("top"), tmp.path().join("bottom"));
        write(&bottom, "etc/gone", "g");
        write(&bottom, "etc/kept", "k");
        write(&bottom, "var/old/file", "o");
        if !whiteout(&top, "etc/gone") {
            eprintln!("SKIP: mknod refused (not root)");
            return;
        }
        write(&top, "var/old/new", "n");
        if xattr::set(top.join("var/old"), OPAQUE_XATTR, b"y").is_err() {
            eprintln!("SKIP: trusted xattrs refused");
            return;
        }
        let m = from_layers(&[top.clone(), bottom.clone()], Options::default()).unwrap();
        assert!(!m.contains_key("etc/gone"));
        assert!(m.contains_key("etc/kept"));
        assert!(m.contains_key("var/old/new"));
        assert!(!m.contains_key("var/old/file"));
        assert_eq!(
            read_file(&[top.clone(), bottom.clone()], "/etc/gone").unwrap(),
            None
        );
        assert_eq!(read_file(&[top, bottom], "/var/old/file").unwrap(), None);
    }

    #[test]
    fn without_hashing_files_have_no_digest() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "f", "data");
        let m = from_layers(&[tmp.path().to_path_buf()], Options { hash: false }).unwrap();
        assert_eq!(m["f"].sha256, None);
        assert_eq!(m["f"].size, 4);
    }

    #[test]
    fn a_missing_layer_is_an_error_naming_it() {
        let err =
            from_layers(&[PathBuf::from("/nonexistent/layer")], Options::default()).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/layer"), "{err:#}");
    }
}

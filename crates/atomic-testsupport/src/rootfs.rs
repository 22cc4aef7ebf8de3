//! The root filesystem of a test image, written as one deterministic layer tar.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::{ImageSpec, LayerSpec};

/// Where busybox-static installs its static binary on Debian.
const BUSYBOX_HOST_PATH: &str = "/bin/busybox";

/// Busybox applets linked into `/bin`: what tests and label commands call by name.
pub const BUSYBOX_APPLETS: &[&str] = &[
    "sh", "ls", "cat", "echo", "ps", "id", "sleep", "printenv", "true", "false", "env", "hostname",
    "nc", "wc", "grep", "head", "tail", "touch", "mkdir", "rm", "kill", "date",
];

/// Every entry gets this mtime (2000-01-01T00:00:00Z), so the layer's digest, and therefore the
/// image ID, depends only on the spec and the busybox binary.
pub(crate) const FIXED_MTIME: u64 = 946_684_800;

const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnobody:x:65534:\n";

#[derive(Debug, Clone)]
enum Node {
    Dir { mode: u32 },
    File { data: Vec<u8>, mode: u32 },
    Symlink { target: String },
}

/// The tree before it is written: relative path (no leading or trailing `/`) to node. A
/// BTreeMap keeps entries sorted, and a parent's path is a prefix of its children's, so every
/// directory is written before what it contains.
#[derive(Default)]
struct Tree(BTreeMap<String, Node>);

impl Tree {
    fn dir(&mut self, path: &str, mode: u32) -> Result<()> {
        self.parents(path)?;
        match self.0.get(path) {
            Some(Node::Dir { .. }) | None => {
                self.0.insert(path.to_string(), Node::Dir { mode });
                Ok(())
            }
            Some(_) => bail!("/{path} is both a directory and a file in the image"),
        }
    }

    fn file(&mut self, path: &str, data: Vec<u8>, mode: u32) -> Result<()> {
        self.parents(path)?;
        if let Some(Node::Dir { .. }) = self.0.get(path) {
            bail!("/{path} is both a directory and a file in the image");
        }
        self.0.insert(path.to_string(), Node::File { data, mode });
        Ok(())
    }

    fn symlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.parents(path)?;
        self.0.insert(
            path.to_string(),
            Node::Symlink {
                target: target.to_string(),
            },
        );
        Ok(())
    }

    /// Creates missing parent directories (0755), and refuses a parent that is not a directory.
    fn parents(&mut self, path: &str) -> Result<()> {
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            let parent = &path[..end + i];
            match self.0.get(parent) {
                None => {
                    self.0.insert(parent.to_string(), Node::Dir { mode: 0o755 });
                }
                Some(Node::Dir { .. }) => {}
                Some(_) => bail!("/{parent} must be a directory to hold /{path}"),
            }
            end += i + 1;
        }
        Ok(())
    }
}

/// Turns an absolute image path into the tree's relative form, refusing anything that could
/// name a place outside the root or be read two ways (`..`, `.`, empty components).
fn relative(path: &str) -> Result<String> {
    let Some(rel) = path.strip_prefix('/') else {
        bail!("image path {path:?} must be absolute");
    };
    let rel = rel.trim_end_matches('/');
    if rel.is_empty()
        || rel
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        bail!("image path {path:?} must name a file below / without '.', '..' or '//'");
    }
    Ok(rel.to_string())
}

fn read_busybox() -> Result<Vec<u8>> {
    let path = Path::new(BUSYBOX_HOST_PATH);
    if !path.exists() {
        bail!(
            "{BUSYBOX_HOST_PATH} is missing: test images are built from it; \
             install busybox-static (apt-get install busybox-static, or run scripts/setup.sh)"
        );
    }
    std::fs::read(path).with_context(|| format!("reading {BUSYBOX_HOST_PATH}"))
}

fn build_tree(spec: &ImageSpec) -> Result<Tree> {
    let mut tree = Tree::default();
    for (dir, mode) in [
        ("bin", 0o755),
        ("dev", 0o755),
        ("etc", 0o755),
        ("host", 0o755),
        ("proc", 0o555),
        ("root", 0o700),
        ("run", 0o755),
        ("sys", 0o555),
        // Sticky and world-writable, as programs running as nobody expect.
        ("tmp", 0o1777),
    ] {
        tree.dir(dir, mode)?;
    }
    tree.file("bin/busybox", read_busybox()?, 0o755)?;
    for applet in BUSYBOX_APPLETS {
        // Absolute targets, like `busybox --install -s` makes: image unpackers must confine
        // them to the image root, and tests of that want the realistic form.
        tree.symlink(&format!("bin/{applet}"), "/bin/busybox")?;
    }
    tree.file("etc/passwd", PASSWD.as_bytes().to_vec(), 0o644)?;
    tree.file("etc/group", GROUP.as_bytes().to_vec(), 0o644)?;
    for file in &spec.files {
        let rel = relative(&file.path)?;
        tree.file(&rel, file.data.clone(), file.mode & 0o7777)
            .with_context(|| format!("adding {} to image {}", file.path, spec.reference()))?;
    }
    Ok(tree)
}

/// The image's single layer as an uncompressed tar: busybox and its applet links in `/bin`,
/// `/etc/passwd` and `/etc/group` (root, nobody), the empty directories engines mount over
/// (`/proc`, `/sys`, `/dev`, `/run`, `/host`, `/tmp`), and the spec's files.
pub fn layer_tar(spec: &ImageSpec) -> Result<Vec<u8>> {
    write_tree(&build_tree(spec)?)
}

fn write_tree(tree: &Tree) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, node) in &tree.0 {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(FIXED_MTIME);
        match node {
            Node::Dir { mode } => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(*mode);
                header.set_size(0);
                builder.append_data(&mut header, format!("{path}/"), std::io::empty())?;
            }
            Node::File { data, mode } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, path, data.as_slice())?;
            }
            Node::Symlink { target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                builder.append_link(&mut header, path, target)?;
            }
        }
    }
    Ok(builder.into_inner()?)
}

/// An added layer as an uncompressed tar: its files (with their parent directories) and a
/// `.wh.NAME` whiteout entry for each deleted path.
pub fn added_layer_tar(layer: &LayerSpec) -> Result<Vec<u8>> {
    let mut tree = Tree::default();
    for file in &layer.files {
        tree.file(
            &relative(&file.path)?,
            file.data.clone(),
            file.mode & 0o7777,
        )?;
    }
    for path in &layer.deleted {
        let rel = relative(path)?;
        let whiteout = match rel.rsplit_once('/') {
            Some((dir, name)) => format!("{dir}/.wh.{name}"),
            None => format!(".wh.{rel}"),
        };
        tree.file(&whiteout, Vec::new(), 0o644)?;
    }
    write_tree(&tree)
}

/// Writes `entries` (name, bytes) as a deterministic tar of regular files, for the outer
/// `docker save` archive.
pub(crate) fn flat_tar<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(if name.ends_with('/') {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        header.set_mode(if name.ends_with('/') { 0o755 } else { 0o644 });
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(FIXED_MTIME);
        header.set_size(data.len() as u64);
        builder.append_data(&mut header, name, data)?;
    }
    Ok(builder.into_inner()?)
}

/// Make `rel` under `dir` an overlay whiteout (a 0/0 character device), creating its parent
/// directories. Needs CAP_MKNOD (root): `false` where it is refused, so a test can skip its
/// whiteout cases.
pub fn whiteout(dir: &std::path::Path, rel: &str) -> bool {
    use rustix::fs::{FileType, Mode, mknodat};
    let path = dir.join(rel.trim_start_matches('/'));
    if let Some(parent) = path.parent()
        && std::fs::create_dir_all(parent).is_err()
    {
        return false;
    }
    mknodat(
        rustix::fs::CWD,
        &path,
        FileType::CharacterDevice,
        Mode::empty(),
        0,
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (path, entry type, link target) of every entry, in order.
    fn listing(tar_bytes: &[u8]) -> Vec<(String, tar::EntryType, Option<String>)> {
        let mut archive = tar::Archive::new(tar_bytes);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let target = e
                    .link_name()
                    .unwrap()
                    .map(|t| t.to_string_lossy().into_owned());
                let path = e.path().unwrap().to_string_lossy().into_owned();
                (path, e.header().entry_type(), target)
            })
            .collect()
    }

    #[test]
    fn layer_has_busybox_and_sh_symlink() {
        let tar = layer_tar(&ImageSpec::new("t")).unwrap();
        let list = listing(&tar);
        let find = |p: &str| list.iter().find(|(path, ..)| path == p).cloned();
        assert_eq!(find("bin/busybox").unwrap().1, tar::EntryType::Regular);
        let sh = find("bin/sh").unwrap();
        assert_eq!(sh.1, tar::EntryType::Symlink);
        assert_eq!(sh.2.as_deref(), Some("/bin/busybox"));
        for dir in ["tmp/", "proc/", "sys/", "dev/", "host/", "run/"] {
            assert_eq!(find(dir).unwrap().1, tar::EntryType::Directory, "{dir}");
        }
        assert!(find("etc/passwd").is_some());
    }

    #[test]
    fn layer_entries_are_sorted_and_owned_by_root_with_fixed_mtime() {
        let tar = layer_tar(&ImageSpec::new("t").file("/a/b/c.txt", b"x".to_vec(), 0o600)).unwrap();
        let paths: Vec<String> = listing(&tar).into_iter().map(|(p, ..)| p).collect();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
        assert!(paths.contains(&"a/".to_string()) && paths.contains(&"a/b/".to_string()));
        let mut archive = tar::Archive::new(tar.as_slice());
        for entry in archive.entries().unwrap() {
            let header = entry.unwrap().header().clone();
            assert_eq!((header.uid().unwrap(), header.gid().unwrap()), (0, 0));
            assert_eq!(header.mtime().unwrap(), FIXED_MTIME);
        }
    }

    #[test]
    fn tmp_is_sticky_and_spec_files_keep_mode() {
        let tar = layer_tar(&ImageSpec::new("t").file("/help.1", b"x".to_vec(), 0o640)).unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mode = entry.header().mode().unwrap();
            match path.as_str() {
                "tmp/" => assert_eq!(mode, 0o1777),
                "help.1" => assert_eq!(mode, 0o640),
                _ => {}
            }
        }
    }

    #[test]
    fn spec_file_replaces_default_file() {
        let spec =
            ImageSpec::new("t").file("/etc/passwd", b"me:x:1:1::/:/bin/sh\n".to_vec(), 0o644);
        let tar = layer_tar(&spec).unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut passwd = String::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.path().unwrap().to_str() == Some("etc/passwd") {
                std::io::Read::read_to_string(&mut entry, &mut passwd).unwrap();
            }
        }
        assert_eq!(passwd, "me:x:1:1::/:/bin/sh\n");
    }

    #[test]
    fn bad_paths_are_refused() {
        for bad in ["relative", "/", "/a/../b", "/a//b", "/./a", "/bin/sh/x"] {
            let spec = ImageSpec::new("t").file(bad, Vec::new(), 0o644);
            assert!(layer_tar(&spec).is_err(), "{bad} accepted");
        }
        let spec = ImageSpec::new("t").file("/tmp", Vec::new(), 0o644);
        assert!(layer_tar(&spec).is_err(), "a file over /tmp accepted");
    }
}

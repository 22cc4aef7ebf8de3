//! Compare an unpacked layer directory with what its tar says ([`Expected`]), in three passes:
//! every entry against what is on disk, the opaque markers, and the files no entry accounts
//! for.
//!
//! The directory is reached through the unpacker's own confined walk (`unpack::tree::Tree`):
//! one directory fd per step, opened `O_NOFOLLOW`, and every look at a final component is
//! relative to its parent's fd (`fstatat(AT_SYMLINK_NOFOLLOW)`, `openat(O_NOFOLLOW)`,
//! `readlinkat`). So a layer that was tampered with cannot make verify read outside it, and
//! depth is no limit: a path string is, and a 2040-deep file that pull, run and mount handle
//! is longer than PATH_MAX once the store root is in front of it (ENAMETOOLONG).

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::rc::Rc;

use anyhow::{Context, Result};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use super::expected::{Expect, Expected};
use super::{Change, ChangeKind};
use crate::digest::{Digest, HashingReader};
use crate::unpack::path::{escaped, shown};
use crate::unpack::tree::{Tree, WalkError};

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Every difference between the layer directory `dir` and `expected`, sorted by path.
pub(super) fn compare(dir: &Path, expected: &Expected) -> Result<Vec<Change>> {
    let mut tree =
        Tree::open(dir).with_context(|| format!("opening layer directory {}", dir.display()))?;
    let root = rustix::process::geteuid().is_root();
    let mut changes = Changes::default();
    check_entries(&mut tree, expected, root, &mut changes)?;
    // trusted.* xattrs are visible to root only; the unpacker cannot set them otherwise.
    if root {
        check_opaque(&mut tree, expected, &mut changes)?;
    }
    find_added(&mut tree, expected, &mut changes)?;
    let mut changes = changes.0;
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changes)
}

#[derive(Default)]
struct Changes(Vec<Change>);

impl Changes {
    fn push(&mut self, path: &[u8], kind: ChangeKind) {
        self.0.push(Change {
            path: format!("/{}", escaped(path)),
            kind,
        });
    }
}

/// A path's own I/O error, saying which path (inside the layer) it was about.
fn io_error(what: &str, path: &[u8], e: impl Into<io::Error>) -> anyhow::Error {
    anyhow::Error::new(e.into()).context(format!("{what} /{} in the layer", shown(path)))
}

fn components(path: &[u8]) -> Vec<&[u8]> {
    if path.is_empty() {
        return Vec::new();
    }
    path.split(|&b| b == b'/').collect()
}

/// Something found on disk: its parent directory's fd, its name there, and its lstat.
struct Found {
    dir: Rc<OwnedFd>,
    name: Vec<u8>,
    stat: Stat,
}

impl Found {
    fn file_type(&self) -> FileType {
        FileType::from_raw_mode(self.stat.st_mode)
    }

    fn mode(&self) -> u32 {
        self.stat.st_mode & 0o7777
    }

    fn kind(&self) -> &'static str {
        match self.file_type() {
            FileType::RegularFile => "file",
            FileType::Directory => "directory",
            FileType::Symlink => "symlink",
            FileType::CharacterDevice if self.stat.st_rdev == 0 => "whiteout",
            FileType::CharacterDevice => "character device",
            FileType::BlockDevice => "block device",
            FileType::Fifo => "fifo",
            _ => "socket",
        }
    }
}

/// lstat `path` (normalised, inside the layer) without following a symlink on the way.
/// `None` when it, or a parent, is absent, or a parent is not a directory.
fn locate(tree: &mut Tree, path: &[u8]) -> Result<Option<Found>> {
    let comps = components(path);
    let Some((name, parents)) = comps.split_last() else {
        return Ok(None);
    };
    let dir = match tree.dir(parents, false) {
        Ok(dir) => dir,
        Err(WalkError::Missing { .. } | WalkError::Symlink { .. } | WalkError::NotDir { .. }) => {
            return Ok(None);
        }
        Err(WalkError::Io { component, source }) => {
            return Err(io_error("opening", component.as_bytes(), source));
        }
    };
    match rustix::fs::statat(&*dir, *name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(Found {
            dir,
            name: name.to_vec(),
            stat,
        })),
        Err(Errno::NOENT | Errno::NOTDIR) => Ok(None),
        Err(e) => Err(io_error("reading", path, e)),
    }
}

/// Pass 1: each entry of the tar against what is at its path.
fn check_entries(
    tree: &mut Tree,
    expected: &Expected,
    root: bool,
    changes: &mut Changes,
) -> Result<()> {
    for (path, expect) in &expected.entries {
        match locate(tree, path)? {
            Some(found) => check_entry(tree, path, expect, &found, changes)?,
            None if root || !expect.needs_root() => changes.push(path, ChangeKind::Removed),
            None => {}
        }
    }
    Ok(())
}

fn check_entry(
    tree: &mut Tree,
    path: &[u8],
    expect: &Expect,
    found: &Found,
    changes: &mut Changes,
) -> Result<()> {
    let right_type = match expect {
        Expect::File { .. } | Expect::Hardlink { .. } => FileType::RegularFile,
        Expect::Dir { .. } => FileType::Directory,
        Expect::Symlink { .. } => FileType::Symlink,
        Expect::Char { .. } | Expect::Whiteout => FileType::CharacterDevice,
        Expect::Block { .. } => FileType::BlockDevice,
        Expect::Fifo { .. } => FileType::Fifo,
    };
    let is_whiteout = found.file_type() == FileType::CharacterDevice && found.stat.st_rdev == 0;
    if matches!(expect, Expect::Whiteout) {
        if !is_whiteout {
            changes.push(path, ChangeKind::WhiteoutMissing);
        }
        return Ok(());
    }
    if found.file_type() != right_type {
        let kind = ChangeKind::Type {
            expected: expect.kind().to_string(),
            found: found.kind().to_string(),
        };
        changes.push(path, kind);
        return Ok(());
    }
    let mode = match expect {
        Expect::File { mode, .. }
        | Expect::Dir { mode }
        | Expect::Char { mode, .. }
        | Expect::Block { mode, .. }
        | Expect::Fifo { mode } => Some(*mode),
        Expect::Symlink { .. } | Expect::Hardlink { .. } | Expect::Whiteout => None,
    };
    if let Some(want) = mode
        && want != found.mode()
    {
        let kind = ChangeKind::Mode {
            expected: want,
            found: found.mode(),
        };
        changes.push(path, kind);
    }
    match expect {
        Expect::File { size, sha, .. } => check_content(path, *size, sha, found, changes)?,
        Expect::Symlink { target } => {
            let found_target = rustix::fs::readlinkat(&*found.dir, &found.name[..], Vec::new())
                .map_err(|e| io_error("reading the symlink", path, e))?;
            let found_target = found_target.as_bytes();
            if found_target != target.as_slice() {
                let kind = ChangeKind::LinkTarget {
                    expected: shown(target),
                    found: shown(found_target),
                };
                changes.push(path, kind);
            }
        }
        Expect::Hardlink { target } => {
            let same = locate(tree, target)?.is_some_and(|t| {
                t.stat.st_ino == found.stat.st_ino && t.stat.st_dev == found.stat.st_dev
            });
            if !same {
                let kind = ChangeKind::Hardlink {
                    target: format!("/{}", shown(target)),
                };
                changes.push(path, kind);
            }
        }
        Expect::Char { major, minor, .. } | Expect::Block { major, minor, .. } => {
            let rdev = found.stat.st_rdev;
            if rustix::fs::major(rdev) != *major || rustix::fs::minor(rdev) != *minor {
                changes.push(path, ChangeKind::Device);
            }
        }
        Expect::Dir { .. } | Expect::Fifo { .. } | Expect::Whiteout => {}
    }
    Ok(())
}

/// A regular file's size, then (only when the size is right) its content.
fn check_content(
    path: &[u8],
    size: u64,
    sha: &Digest,
    found: &Found,
    changes: &mut Changes,
) -> Result<()> {
    let found_size = u64::try_from(found.stat.st_size).unwrap_or(0);
    if found_size != size {
        let kind = ChangeKind::Size {
            expected: size,
            found: found_size,
        };
        changes.push(path, kind);
    } else if &file_digest(found).map_err(|e| io_error("reading", path, e))? != sha {
        changes.push(path, ChangeKind::Content);
    }
    Ok(())
}

/// Hash a file found in the layer. `O_NOFOLLOW` and `O_NONBLOCK`: if it was swapped for a
/// symlink or a FIFO since it was looked at, the open fails or the read ends, never hangs.
fn file_digest(found: &Found) -> io::Result<Digest> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(&*found.dir, &found.name[..], flags, Mode::empty())?;
    let file = File::from(fd);
    let (digest, _) = HashingReader::new(BufReader::with_capacity(256 * 1024, file)).finish()?;
    Ok(digest)
}

/// Pass 2: each directory a `.wh..wh..opq` marks must carry overlayfs's opaque xattr.
fn check_opaque(tree: &mut Tree, expected: &Expected, changes: &mut Changes) -> Result<()> {
    for path in &expected.opaque {
        let opaque = match tree.dir(&components(path), false) {
            Ok(dir) => {
                let mut value = [0u8; 2];
                match rustix::fs::fgetxattr(&*dir, OPAQUE_XATTR, &mut value) {
                    Ok(n) => &value[..n] == b"y",
                    Err(Errno::NODATA | Errno::RANGE | Errno::NOTSUP) => false,
                    Err(e) => return Err(io_error("reading the xattrs of", path, e)),
                }
            }
            Err(WalkError::Io { component, source }) => {
                return Err(io_error("opening", component.as_bytes(), source));
            }
            Err(_) => false,
        };
        if !opaque {
            changes.push(path, ChangeKind::OpaqueMissing);
        }
    }
    Ok(())
}

/// Every parent directory the entries imply (a layer need not list them).
fn implied_parents(expected: &Expected) -> HashSet<&[u8]> {
    let mut implied: HashSet<&[u8]> = HashSet::new();
    for path in expected.entries.keys().chain(expected.opaque.iter()) {
        let mut p = path.as_slice();
        while let Some(i) = p.iter().rposition(|&b| b == b'/') {
            p = &p[..i];
            if !implied.insert(p) {
                break;
            }
        }
    }
    implied
}

/// Pass 3: everything on disk that no entry (or a parent directory it implies) accounts for.
fn find_added(tree: &mut Tree, expected: &Expected, changes: &mut Changes) -> Result<()> {
    let implied = implied_parents(expected);
    let mut stack: Vec<Vec<u8>> = vec![Vec::new()];
    while let Some(rel) = stack.pop() {
        let dir = match tree.dir(&components(&rel), false) {
            Ok(dir) => dir,
            Err(WalkError::Io { component, source }) => {
                return Err(io_error("opening", component.as_bytes(), source));
            }
            // Replaced since it was listed: pass 1 has reported what is wrong there.
            Err(_) => continue,
        };
        let listing =
            rustix::fs::Dir::read_from(&*dir).map_err(|e| io_error("listing", &rel, e))?;
        for entry in listing {
            let entry = entry.map_err(|e| io_error("listing", &rel, e))?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let key = if rel.is_empty() {
                name.to_vec()
            } else {
                [&rel[..], b"/", name].concat()
            };
            let known = expected.entries.contains_key(&key) || implied.contains(&key[..]);
            if !known {
                changes.push(&key, ChangeKind::Added);
                continue;
            }
            let is_dir = match entry.file_type() {
                FileType::Directory => true,
                FileType::Unknown => rustix::fs::statat(&*dir, name, AtFlags::SYMLINK_NOFOLLOW)
                    .map(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
                    .map_err(|e| io_error("reading", &key, e))?,
                _ => false,
            };
            if is_dir {
                stack.push(key);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::fd::AsFd;

    use super::super::expected::tests::{expected, tar_of};
    use super::*;

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
        fs::create_dir(dir.path().join("etc/passwd")).unwrap();
        let changes = compare(dir.path(), &expected(&layer())).unwrap();
        assert!(
            changes.iter().any(|c| c.path == "/etc/passwd"
                && c.kind
                    == ChangeKind::Type {
                        expected: "file".into(),
                        found: "directory".into()
                    }),
            "{changes:?}"
        );
        fs::remove_dir(dir.path().join("etc/passwd")).unwrap();
        let changes = compare(dir.path(), &expected(&layer())).unwrap();
        assert!(
            changes
                .iter()
                .any(|c| c.path == "/etc/passwd" && c.kind == ChangeKind::Removed)
        );
    }

    #[test]
    fn missing_whiteouts_and_opaque_markers_are_named() {
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
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        fs::create_dir_all(dir.path().join("opt")).unwrap();
        let changes = compare(dir.path(), &e).unwrap();
        // As root, where the unpacker can make them, their absence is a change.
        if rustix::process::geteuid().is_root() {
            assert!(
                changes.iter().any(|c| c.path == "/etc/shadow"),
                "{changes:?}"
            );
            assert!(
                changes.iter().any(|c| c.kind == ChangeKind::OpaqueMissing),
                "{changes:?}"
            );
        } else {
            assert_eq!(changes, vec![]);
        }
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

    /// What the unpacker writes, verify finds intact: also for a hardlink whose target a later
    /// entry replaces (the link keeps the old file) and a pre-POSIX directory (a regular-file
    /// entry whose name ends in `/`).
    #[test]
    fn what_the_unpacker_writes_verifies_clean() {
        use tar::EntryType::{Directory, Link, Regular, Symlink};
        let tars = [
            layer(),
            tar_of(&[
                ("a", Regular, b"first", 0o644, None),
                ("b", Link, b"", 0o644, Some("a")),
                ("a", Regular, b"second!", 0o600, None),
            ]),
            tar_of(&[
                ("old/", Regular, b"", 0o750, None),
                ("old/f", Regular, b"x", 0o644, None),
                ("d", Directory, b"", 0o755, None),
                ("d/s", Symlink, b"", 0o777, Some("../old/f")),
                ("d", Directory, b"", 0o700, None),
            ]),
        ];
        for (i, tar) in tars.iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let opts = crate::unpack::UnpackOptions::for_current_user();
            crate::unpack::unpack(&tar[..], dir.path(), &opts).unwrap();
            assert_eq!(
                compare(dir.path(), &expected(tar)).unwrap(),
                vec![],
                "tar {i}"
            );
        }
    }

    /// Deeper than a path string can reach: 2040 directories below a temporary directory are
    /// more than PATH_MAX bytes from `/`.
    #[test]
    fn a_path_deeper_than_path_max_is_compared() {
        const DEPTH: usize = 2040;
        let dir = tempfile::tempdir().unwrap();
        let mut fd = rustix::fs::open(dir.path(), OFlags::DIRECTORY, Mode::empty()).unwrap();
        for _ in 0..DEPTH {
            rustix::fs::mkdirat(&fd, "d", Mode::from_raw_mode(0o755)).unwrap();
            fd = rustix::fs::openat(&fd, "d", OFlags::DIRECTORY, Mode::empty()).unwrap();
        }
        let write = |content: &str| {
            let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC;
            let f = rustix::fs::openat(fd.as_fd(), "f", flags, Mode::from_raw_mode(0o644));
            fs::File::from(f.unwrap()).set_len(0).unwrap();
            let f = rustix::fs::openat(fd.as_fd(), "f", OFlags::WRONLY, Mode::empty()).unwrap();
            rustix::io::write(&f, content.as_bytes()).unwrap();
            rustix::fs::fchmod(&f, Mode::from_raw_mode(0o644)).unwrap();
        };
        write("deep\n");
        let deep = format!("{}f", "d/".repeat(DEPTH));
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(5);
        tar.append_data(&mut h, &deep, &b"deep\n"[..]).unwrap();
        let e = expected(&tar.into_inner().unwrap());
        assert_eq!(compare(dir.path(), &e).unwrap(), vec![]);
        write("DEEP\n");
        let changes = compare(dir.path(), &e).unwrap();
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].kind, ChangeKind::Content);
        assert!(changes[0].path.ends_with("/d/f"));
    }
}

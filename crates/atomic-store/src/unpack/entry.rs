//! One tar entry at a time: decide what it is, create it relative to its parent directory fd,
//! then apply its metadata.
//!
//! Replacement follows docker's `UnpackLayer`: an entry whose name is already taken in this
//! layer removes what is there (a whole tree if a directory), except that a directory entry
//! over an existing directory keeps it and only updates its metadata. Creation is always
//! exclusive (`O_EXCL`, `mkdirat`, `symlinkat`, `linkat`, `mknodat` fail on an existing name),
//! so an earlier symlink at that name is replaced, never written through.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use tar::EntryType;

use super::meta::{Meta, Target, chown_at, device_number, set_xattrs};
use super::path::{normalize, normalize_nonempty, shown};
use super::tree::{DIR_FLAGS, DirMeta, Tree, WalkError, times};
use super::whiteout::{self, Kind};
use super::{COPY_BUF, PathError, UnpackError, UnpackOptions, UnpackStats};

const FILE_FLAGS: OFlags = OFlags::WRONLY
    .union(OFlags::CREATE)
    .union(OFlags::EXCL)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

pub(crate) struct Unpacker {
    tree: Tree,
    same_owner: bool,
    /// Running as root: privileged xattr failures are errors, not warnings.
    root: bool,
    buf: Vec<u8>,
    stats: UnpackStats,
    last: Option<String>,
}

/// The part of an entry the creators need, besides the data.
struct Item<'a> {
    /// Parent directory fd.
    dir: BorrowedFd<'a>,
    /// Final component.
    name: &'a [u8],
    /// All components (for replacement bookkeeping).
    comps: &'a [&'a [u8]],
    /// The raw name, for messages.
    path: &'a str,
    meta: &'a Meta,
}

impl Unpacker {
    pub fn new(tree: Tree, opts: &UnpackOptions) -> Unpacker {
        Unpacker {
            tree,
            same_owner: opts.same_owner,
            root: rustix::process::geteuid().is_root(),
            buf: vec![0; COPY_BUF],
            stats: UnpackStats::default(),
            last: None,
        }
    }

    /// The last entry seen, for errors from the tar reader between entries.
    pub fn last_path(&self) -> Option<String> {
        self.last.clone()
    }

    pub fn finish(self) -> Result<UnpackStats, UnpackError> {
        let stats = self.stats.clone();
        self.tree.finish()?;
        Ok(stats)
    }

    pub fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), UnpackError> {
        let raw = entry.path_bytes().into_owned();
        let path = shown(&raw);
        self.last = Some(path.clone());
        let mut kind = entry.header().entry_type();
        if kind == EntryType::XGlobalHeader {
            // Global PAX records (e.g. git-archive's comment) describe no file.
            tracing::debug!(entry = path, "skipping global PAX header");
            return Ok(());
        }
        self.stats.entries += 1;
        // Pre-POSIX tars mark directories as regular files with a trailing slash.
        if kind == EntryType::Regular && raw.ends_with(b"/") {
            kind = EntryType::Directory;
        }
        let comps = normalize(&raw).map_err(|e| UnpackError::name(&path, e))?;
        let meta = Meta::read(entry, &path)?;

        let Some((name, parents)) = comps.split_last() else {
            // `./` or `/`: the layer root itself. Only a directory may be that.
            if kind != EntryType::Directory {
                return Err(UnpackError::name(&path, PathError::Empty));
            }
            let root = self.tree.root();
            return self.dir_meta(root.as_fd(), &comps, &path, &meta);
        };

        match whiteout::classify(&comps) {
            Err(()) => return Err(UnpackError::BadWhiteout { path }),
            Ok(Kind::AufsMeta) => {
                tracing::warn!(entry = path, "skipping AUFS metadata entry");
                return Ok(());
            }
            Ok(Kind::Opaque) => {
                let dir = self
                    .tree
                    .dir(parents, true)
                    .map_err(|e| UnpackError::walk(&path, e))?;
                return whiteout::opaque(dir.as_fd(), &path);
            }
            Ok(Kind::Whiteout(hidden)) => {
                let dir = self
                    .tree
                    .dir(parents, true)
                    .map_err(|e| UnpackError::walk(&path, e))?;
                let mut full = parents.to_vec();
                full.push(hidden);
                return whiteout::whiteout(
                    &mut self.tree,
                    dir.as_fd(),
                    hidden,
                    &full,
                    &meta,
                    self.same_owner,
                    &path,
                );
            }
            Ok(Kind::Plain) => {}
        }

        let dir = self
            .tree
            .dir(parents, true)
            .map_err(|e| UnpackError::walk(&path, e))?;
        let item = Item {
            dir: dir.as_fd(),
            name,
            comps: &comps,
            path: &path,
            meta: &meta,
        };
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.file(entry, &item)
            }
            EntryType::Directory => self.directory(&item),
            EntryType::Symlink => {
                let target = entry.link_name_bytes().map(|t| t.into_owned());
                self.symlink(target, &item)
            }
            EntryType::Link => {
                let target = entry.link_name_bytes().map(|t| t.into_owned());
                self.hardlink(target, &item)
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let dev = if kind == EntryType::Fifo {
                    (0, 0)
                } else {
                    device_number(entry.header()).map_err(|e| UnpackError::BadHeader {
                        path: path.clone(),
                        reason: format!("unreadable device number: {e}"),
                    })?
                };
                self.node(kind, dev, &item)
            }
            other => Err(UnpackError::UnsupportedType {
                path,
                kind: other.as_byte() as char,
            }),
        }
    }

    fn file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        it: &Item<'_>,
    ) -> Result<(), UnpackError> {
        let fd = self
            .tree
            .create(it.dir, it.name, it.comps, || {
                rustix::fs::openat(it.dir, it.name, FILE_FLAGS, Mode::from_raw_mode(0o600))
                    .map_err(Into::into)
            })
            .map_err(|e| UnpackError::io("creating", it.path, e))?;
        let mut file = File::from(fd);
        let expected = entry.size();
        let mut actual = 0u64;
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(UnpackError::Read {
                        path: it.path.to_string(),
                        cause: source,
                    });
                }
            };
            file.write_all(&self.buf[..n])
                .map_err(|e| UnpackError::io("writing", it.path, e))?;
            actual += n as u64;
        }
        if actual != expected {
            return Err(UnpackError::Truncated {
                path: it.path.to_string(),
                expected,
                actual,
            });
        }
        self.stats.bytes += actual;
        // Order matters: chown clears setuid/setgid and file capabilities, so chown, then
        // xattrs (security.capability), then the mode, then the times (which all of those
        // would otherwise bump).
        let fd = file.as_fd();
        if self.same_owner {
            rustix::fs::fchown(fd, Some(it.meta.uid()), Some(it.meta.gid()))
                .map_err(|e| UnpackError::io("chown", it.path, e.into()))?;
        }
        set_xattrs(Target::Fd(fd), it.meta, self.root, it.path)?;
        rustix::fs::fchmod(fd, Mode::from_raw_mode(it.meta.mode))
            .map_err(|e| UnpackError::io("chmod", it.path, e.into()))?;
        rustix::fs::futimens(fd, &times(it.meta.mtime))
            .map_err(|e| UnpackError::io("setting times of", it.path, e.into()))?;
        Ok(())
    }

    fn directory(&mut self, it: &Item<'_>) -> Result<(), UnpackError> {
        let err = |e: Errno| UnpackError::io("creating directory", it.path, e.into());
        let mkdir_open = || -> Result<OwnedFd, Errno> {
            // 0700 until the end: the real mode might not let us create the children.
            rustix::fs::mkdirat(it.dir, it.name, Mode::from_raw_mode(0o700))?;
            rustix::fs::openat(it.dir, it.name, DIR_FLAGS, Mode::empty())
        };
        let fd = match mkdir_open() {
            Ok(fd) => fd,
            Err(Errno::EXIST) => {
                match rustix::fs::openat(it.dir, it.name, DIR_FLAGS, Mode::empty()) {
                    // An existing directory (from an earlier entry, or created as a parent) is
                    // kept, with its contents; only its metadata is updated.
                    Ok(fd) => fd,
                    // A symlink or file is in the way: replace it, never follow it.
                    Err(Errno::LOOP | Errno::NOTDIR) => {
                        self.tree
                            .remove(it.dir, it.name, it.comps)
                            .map_err(|e| UnpackError::io("replacing", it.path, e))?;
                        mkdir_open().map_err(err)?
                    }
                    Err(e) => return Err(err(e)),
                }
            }
            Err(e) => return Err(err(e)),
        };
        self.dir_meta(fd.as_fd(), it.comps, it.path, it.meta)
    }

    /// Owner and xattrs now, mode and mtime at the end ([`Tree::finish`]).
    fn dir_meta(
        &mut self,
        fd: BorrowedFd<'_>,
        comps: &[&[u8]],
        path: &str,
        meta: &Meta,
    ) -> Result<(), UnpackError> {
        if self.same_owner {
            rustix::fs::fchown(fd, Some(meta.uid()), Some(meta.gid()))
                .map_err(|e| UnpackError::io("chown", path, e.into()))?;
        }
        set_xattrs(Target::Fd(fd), meta, self.root, path)?;
        self.tree.defer_dir(
            comps,
            DirMeta {
                mode: meta.mode,
                mtime: meta.mtime,
            },
        );
        Ok(())
    }

    fn symlink(&mut self, target: Option<Vec<u8>>, it: &Item<'_>) -> Result<(), UnpackError> {
        // The target is stored verbatim: a symlink may point anywhere (`/`, `../..`). It only
        // means something inside the container's root, and this unpacker never follows one.
        let target = match target {
            Some(t) if !t.is_empty() => t,
            _ => {
                return Err(UnpackError::BadHeader {
                    path: it.path.to_string(),
                    reason: "symlink without a target".into(),
                });
            }
        };
        self.tree
            .create(it.dir, it.name, it.comps, || {
                rustix::fs::symlinkat(OsStr::from_bytes(&target), it.dir, it.name)
                    .map_err(Into::into)
            })
            .map_err(|e| UnpackError::io("creating symlink", it.path, e))?;
        self.node_meta(it, false)
    }

    fn hardlink(&mut self, target: Option<Vec<u8>>, it: &Item<'_>) -> Result<(), UnpackError> {
        let raw = target.unwrap_or_default();
        let target = shown(&raw);
        let bad = |reason: String| UnpackError::HardlinkTarget {
            path: it.path.to_string(),
            target: target.clone(),
            reason,
        };
        // The target is a path in the layer, normalised and confined like an entry name
        // (moby CVE-2014-6407: hardlinks to `../../etc/shadow`). An absolute target means the
        // layer's own file.
        let tcomps = normalize_nonempty(&raw).map_err(|e| match e {
            PathError::ParentDir => UnpackError::HardlinkEscape {
                path: it.path.to_string(),
                target: target.clone(),
            },
            other => bad(format!("which is not a valid name: {other}")),
        })?;
        if tcomps == it.comps {
            // `a` hardlinked to itself (tar --append of a file already in the archive): the
            // file is already there under that name.
            tracing::debug!(entry = it.path, "hardlink to itself");
            return Ok(());
        }
        let (tname, tparents) = tcomps.split_last().expect("non-empty");
        let tdir = self.tree.dir(tparents, false).map_err(|e| match e {
            WalkError::Symlink { component } => bad(format!(
                "which goes through '{component}', a symlink (not followed)"
            )),
            WalkError::NotDir { component } => {
                bad(format!("which goes through '{component}', not a directory"))
            }
            WalkError::Missing { .. } => bad("which is not earlier in this layer".into()),
            WalkError::Io { component, source } => {
                UnpackError::io("opening directory", &component, source)
            }
        })?;
        match rustix::fs::statat(&*tdir, *tname, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                return Err(bad("which is a directory".into()));
            }
            Ok(_) => {}
            Err(Errno::NOENT) => return Err(bad("which is not earlier in this layer".into())),
            Err(e) => {
                return Err(UnpackError::io(
                    "looking up hardlink target",
                    &target,
                    e.into(),
                ));
            }
        }
        // linkat without AT_SYMLINK_FOLLOW links a symlink itself, never what it points to.
        self.tree
            .create(it.dir, it.name, it.comps, || {
                rustix::fs::linkat(&*tdir, *tname, it.dir, it.name, AtFlags::empty())
                    .map_err(Into::into)
            })
            .map_err(|e| UnpackError::io("creating hardlink", it.path, e))?;
        // The link shares the target's inode and so its metadata; tar and docker leave it be.
        Ok(())
    }

    fn node(
        &mut self,
        kind: EntryType,
        (major, minor): (u32, u32),
        it: &Item<'_>,
    ) -> Result<(), UnpackError> {
        let file_type = match kind {
            EntryType::Char => FileType::CharacterDevice,
            EntryType::Block => FileType::BlockDevice,
            _ => FileType::Fifo,
        };
        if file_type != FileType::Fifo && !self.same_owner {
            tracing::warn!(entry = it.path, "not root: skipping device node");
            return Ok(());
        }
        let dev = rustix::fs::makedev(major, minor);
        self.tree
            .create(it.dir, it.name, it.comps, || {
                rustix::fs::mknodat(it.dir, it.name, file_type, Mode::from_raw_mode(0o600), dev)
                    .map_err(Into::into)
            })
            .map_err(|e| UnpackError::io("creating device node", it.path, e))?;
        self.node_meta(it, true)
    }

    /// Metadata for things we do not open (symlinks, devices, fifos): by name, no-follow.
    fn node_meta(&mut self, it: &Item<'_>, chmod: bool) -> Result<(), UnpackError> {
        if self.same_owner {
            chown_at(it.dir, it.name, it.meta)
                .map_err(|e| UnpackError::io("chown", it.path, e.into()))?;
        }
        set_xattrs(Target::At(it.dir, it.name), it.meta, self.root, it.path)?;
        if chmod {
            chmod_node(it.dir, it.name, it.meta.mode)
                .map_err(|e| UnpackError::io("chmod", it.path, e))?;
        }
        rustix::fs::utimensat(
            it.dir,
            it.name,
            &times(it.meta.mtime),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| UnpackError::io("setting times of", it.path, e.into()))?;
        Ok(())
    }
}

/// chmod a device node or fifo without opening it (opening a device can have side effects,
/// opening a fifo blocks) and without following a symlink: Linux has no `fchmodat(…,
/// AT_SYMLINK_NOFOLLOW)` before fchmodat2, so take an `O_PATH|O_NOFOLLOW` fd of exactly that
/// inode and chmod it through its `/proc/self/fd` magic link, as runc does.
fn chmod_node(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> io::Result<()> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let st = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
        return Err(io::Error::other(
            "a symlink appeared in place of a device node",
        ));
    }
    rustix::fs::chmod(
        format!("/proc/self/fd/{}", fd.as_raw_fd()),
        Mode::from_raw_mode(mode),
    )?;
    Ok(())
}

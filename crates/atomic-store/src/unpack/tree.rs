//! The layer directory as seen by the unpacker: every operation is relative to a directory fd
//! that was reached from the layer root one component at a time with `O_NOFOLLOW`.
//!
//! Why not join paths: a path string is re-resolved by the kernel on every use, following any
//! symlink an earlier entry planted (`link -> /` then `link/etc/shadow`: the tar-rs #129 and
//! moby CVE-2014-6407 class of breakout) or one swapped in concurrently (docker cp's
//! CVE-2018-15664, runc's CVE-2021-30465). Here a component that is a symlink is refused, never
//! followed, and the final component of every create/remove/chown/utimes uses `O_EXCL`,
//! `O_NOFOLLOW` or `AT_SYMLINK_NOFOLLOW`, so nothing outside the layer root is ever touched.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::rc::Rc;

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, Timespec, Timestamps};
use rustix::io::Errno;

use super::UnpackError;
use super::path::join;

/// Flags for opening a directory on the walk: never follow, never leak into a child process.
pub(crate) const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Why a walk to an entry's parent directory stopped.
#[derive(Debug)]
pub(crate) enum WalkError {
    /// `component` (a path inside the layer) is a symlink; it is never followed.
    Symlink { component: String },
    /// `component` exists and is neither a directory nor a symlink.
    NotDir { component: String },
    /// `component` does not exist (only when not creating).
    Missing { component: String },
    /// Any other failure while opening or creating `component`.
    Io {
        component: String,
        source: io::Error,
    },
}

/// Mode and mtime of a directory entry, applied after everything else: creating children
/// changes a directory's mtime, and a read-only mode would stop us creating them when not root.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DirMeta {
    pub mode: u32,
    pub mtime: Timespec,
}

/// Of the last walk, every `CHECKPOINT`-th directory is kept open besides the last one, so a
/// walk to any directory near it (its parent, a cousin) starts at most this many levels up.
/// Keeping the last one alone made deepest-first walks (directory metadata, verify's listing)
/// re-walk from the root for every parent: quadratic in depth (2040 levels: 2 million opens).
/// At most PATH_MAX / 2 / CHECKPOINT + 1 descriptors are held.
const CHECKPOINT: usize = 32;

/// The last directory walked to, by components, with the fds of its ancestors at every
/// `CHECKPOINT`-th depth and its own (depth, fd), by depth.
struct Cached {
    comps: Vec<Vec<u8>>,
    fds: Vec<(usize, Rc<OwnedFd>)>,
}

pub(crate) struct Tree {
    root: Rc<OwnedFd>,
    /// The last directory walked to. Layer tars list a directory's entries together, so this
    /// saves re-walking from the root for almost every entry. It is dropped whenever anything
    /// is removed, because a removed directory's fd would still work and put later entries in
    /// an unlinked directory.
    cache: Option<Cached>,
    /// Directory metadata to apply at the end, by components; iterated in reverse so that
    /// every directory comes before its ancestors.
    dirs: BTreeMap<Vec<Vec<u8>>, DirMeta>,
}

impl Tree {
    /// Open the layer root. `O_NOFOLLOW` on the last component: the caller's path is trusted,
    /// but a symlink in place of the layer directory itself is not what anyone meant.
    pub fn open(dest: &Path) -> io::Result<Tree> {
        let root = rustix::fs::openat(CWD, dest, DIR_FLAGS, Mode::empty())?;
        Ok(Tree {
            root: Rc::new(root),
            cache: None,
            dirs: BTreeMap::new(),
        })
    }

    pub fn root(&self) -> Rc<OwnedFd> {
        Rc::clone(&self.root)
    }

    /// Walk to the directory named by `comps`, creating missing components (mode 0755, as
    /// docker does for parents a layer does not list) when `create` is set.
    pub fn dir(&mut self, comps: &[&[u8]], create: bool) -> Result<Rc<OwnedFd>, WalkError> {
        // The deepest cached directory that is `comps` or one of its ancestors.
        let mut kept: Vec<(usize, Rc<OwnedFd>)> = match &self.cache {
            Some(c) => {
                let common = c
                    .comps
                    .iter()
                    .zip(comps)
                    .take_while(|(a, b)| a.as_slice() == **b)
                    .count();
                c.fds
                    .iter()
                    .filter(|(depth, _)| *depth <= common)
                    .cloned()
                    .collect()
            }
            None => Vec::new(),
        };
        let (mut done, mut cur) = kept.last().cloned().unwrap_or((0, self.root()));
        if done == comps.len() {
            return Ok(cur);
        }
        kept.retain(|(depth, _)| depth % CHECKPOINT == 0);
        while done < comps.len() {
            let next = ((done / CHECKPOINT + 1) * CHECKPOINT).min(comps.len());
            cur = walk(cur, &comps[..next], done, create)?;
            done = next;
            kept.push((done, Rc::clone(&cur)));
        }
        self.cache = Some(Cached {
            comps: comps.iter().map(|c| c.to_vec()).collect(),
            fds: kept,
        });
        Ok(cur)
    }

    /// Remove whatever is at `name` in `dir` (a whole tree if it is a directory), as docker
    /// does when a later entry replaces an earlier one. `full` is the entry's path, to forget
    /// deferred directory metadata under it. Returns whether anything was there.
    pub fn remove(&mut self, dir: BorrowedFd<'_>, name: &[u8], full: &[&[u8]]) -> io::Result<bool> {
        self.cache = None;
        let key: Vec<Vec<u8>> = full.iter().map(|c| c.to_vec()).collect();
        let stale: Vec<_> = self
            .dirs
            .range(key.clone()..)
            .take_while(|(k, _)| k.starts_with(&key))
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            self.dirs.remove(&k);
        }
        remove_all(dir, name)
    }

    /// Run `create` (an `O_EXCL`-style operation on `name` in `dir`); if something is already
    /// there, remove it and try once more. A later entry replaces an earlier one; it never
    /// writes through it (an earlier symlink `x -> /etc/passwd` is replaced, not followed).
    pub fn create<T>(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        full: &[&[u8]],
        mut create: impl FnMut() -> io::Result<T>,
    ) -> io::Result<T> {
        match create() {
            Err(e) if e.raw_os_error() == Some(Errno::EXIST.raw_os_error()) => {
                self.remove(dir, name, full)?;
                create()
            }
            other => other,
        }
    }

    pub fn defer_dir(&mut self, full: &[&[u8]], meta: DirMeta) {
        self.dirs
            .insert(full.iter().map(|c| c.to_vec()).collect(), meta);
    }

    /// Apply the deferred directory modes and mtimes, deepest first. Each directory is opened
    /// from its parent, which the walk cache keeps: siblings cost one `openat` each, not a walk
    /// from the root (a layer of many directories deep down would otherwise cost their number
    /// times the depth).
    pub fn finish(mut self) -> Result<(), UnpackError> {
        self.cache = None;
        let dirs = std::mem::take(&mut self.dirs);
        for (key, meta) in dirs.iter().rev() {
            let comps: Vec<&[u8]> = key.iter().map(Vec::as_slice).collect();
            let shown = if comps.is_empty() {
                ".".to_string()
            } else {
                join(&comps)
            };
            let fd = match comps.split_last() {
                None => self.root(),
                Some((_, parents)) => {
                    let parent = self
                        .dir(parents, false)
                        .map_err(|e| UnpackError::walk(&shown, e))?;
                    walk(parent, &comps, parents.len(), false)
                        .map_err(|e| UnpackError::walk(&shown, e))?
                }
            };
            rustix::fs::fchmod(&*fd, Mode::from_raw_mode(meta.mode))
                .map_err(|e| UnpackError::io("chmod", &shown, e.into()))?;
            rustix::fs::futimens(&*fd, &times(meta.mtime))
                .map_err(|e| UnpackError::io("setting times of", &shown, e.into()))?;
        }
        Ok(())
    }
}

/// atime = mtime, as docker and `tar -x` leave it.
pub(crate) fn times(mtime: Timespec) -> Timestamps {
    Timestamps {
        last_access: mtime,
        last_modification: mtime,
    }
}

/// Walk `comps[done..]` from `start` (the directory at `comps[..done]`), no symlink followed.
fn walk(
    start: Rc<OwnedFd>,
    comps: &[&[u8]],
    done: usize,
    create: bool,
) -> Result<Rc<OwnedFd>, WalkError> {
    let mut cur = start;
    for (i, comp) in comps.iter().enumerate().skip(done) {
        let here = || join(&comps[..=i]);
        let io = |e: Errno| WalkError::Io {
            component: here(),
            source: e.into(),
        };
        let fd = match rustix::fs::openat(&*cur, *comp, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) if create => {
                match rustix::fs::mkdirat(&*cur, *comp, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(io(e)),
                }
                let fd = rustix::fs::openat(&*cur, *comp, DIR_FLAGS, Mode::empty())
                    .map_err(|e| classify(cur.as_fd(), comp, e, here()))?;
                // mkdir's mode is filtered by the umask; make implicit parents predictable.
                rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o755)).map_err(io)?;
                fd
            }
            Err(e) => return Err(classify(cur.as_fd(), comp, e, here())),
        };
        cur = Rc::new(fd);
    }
    Ok(cur)
}

/// Turn a failed `openat(O_DIRECTORY|O_NOFOLLOW)` into a message that says what was in the way.
fn classify(dir: BorrowedFd<'_>, comp: &[u8], err: Errno, component: String) -> WalkError {
    match err {
        Errno::NOENT => WalkError::Missing { component },
        Errno::LOOP | Errno::NOTDIR => {
            match rustix::fs::statat(dir, comp, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                    WalkError::Symlink { component }
                }
                Ok(_) => WalkError::NotDir { component },
                Err(e) => WalkError::Io {
                    component,
                    source: e.into(),
                },
            }
        }
        e => WalkError::Io {
            component,
            source: e.into(),
        },
    }
}

/// Remove `name` from `dir`, recursively if it is a directory, never following a symlink (a
/// symlink is unlinked itself). Returns whether anything was there.
pub(crate) fn remove_all(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<bool> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => return Ok(true),
        Err(Errno::NOENT) => return Ok(false),
        // unlink(2) of a directory: EISDIR on Linux (POSIX allows EPERM).
        Err(Errno::ISDIR) | Err(Errno::PERM) => {}
        Err(e) => return Err(e.into()),
    }
    let sub = match rustix::fs::openat(dir, name, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let mut names = Vec::new();
    for ent in rustix::fs::Dir::read_from(&sub)? {
        let ent = ent?;
        let n = ent.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(n.to_vec());
        }
    }
    for n in names {
        remove_all(sub.as_fd(), &n)?;
    }
    drop(sub);
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?;
    Ok(true)
}

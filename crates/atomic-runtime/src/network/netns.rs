//! A container's network namespace, kept as a file (a bind mount of the namespace) so that it
//! outlives its processes: the network driver sets it up before the container starts and tears
//! it down after it ends, and a container whose atomic was killed still has it for the next
//! delete or start to reclaim.

// unshare(2) is unsafe in rustix only for CLONE_FILES (file descriptors of other threads);
// here it unshares the network namespace alone, in a thread made for it.
#![allow(unsafe_code)]

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use rustix::mount::{UnmountFlags, mount_bind, unmount};
use rustix::thread::UnshareFlags;

/// The magic number of the namespace filesystem (nsfs), which a kept namespace file is on.
const NSFS_MAGIC: u64 = 0x6e73_6673;

/// Make a new network namespace kept at `path` (an empty file is created there first).
pub fn create(path: &Path) -> Result<()> {
    std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let target = path.to_path_buf();
    // A thread of its own: the namespace it enters dies with it, except for the bind mount.
    let made = std::thread::spawn(move || -> std::io::Result<()> {
        // SAFETY: NEWNET only; no file descriptor table is unshared.
        unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNET) }?;
        mount_bind("/proc/thread-self/ns/net", &target)?;
        Ok(())
    })
    .join()
    .map_err(|_| anyhow!("the thread making a network namespace failed"))?;
    if let Err(e) = made {
        let _ = std::fs::remove_file(path);
        return Err(e).with_context(|| format!("making a network namespace at {}", path.display()));
    }
    Ok(())
}

/// Whether a namespace is kept at `path`.
pub fn exists(path: &Path) -> bool {
    rustix::fs::statfs(path).is_ok_and(|s| s.f_type as u64 == NSFS_MAGIC)
}

/// Let go of the namespace at `path` (it ends once no process is in it) and delete the file.
pub fn remove(path: &Path) -> Result<()> {
    if exists(path) {
        unmount(path, UnmountFlags::DETACH)
            .with_context(|| format!("unmounting the network namespace {}", path.display()))?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// Where a container's namespace is kept: in its directory.
pub fn path_in(container_dir: &Path) -> PathBuf {
    container_dir.join("netns")
}

//! Who may enter the store: its owner only.
//!
//! Unpacked layers hold what the image holds, exactly: setuid-root programs, files with
//! capabilities, device nodes (`brw-rw-rw-` on the host's disk, if an image says so). In
//! overlay lower directories that is harmless, but any user who can walk to
//! `ROOT/layers/<id>/bin/su` can run it as root. So the store root is made 0700 and its
//! directories are created 0700; nobody but the owner (root, or the user of a `--user` store)
//! can reach a file below it. Docker keeps /var/lib/docker 0710 and Podman its storage 0700 for
//! the same reason. Containers are unaffected: overlayfs reaches its lower directories with the
//! credentials of whoever mounted it, and runc enters the root filesystem before it drops
//! privileges.

use std::fs::{self, DirBuilder, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// The mode of the store root and of every directory atomic creates in it.
pub const PRIVATE_DIR: u32 = 0o700;

/// Create `dir` and its missing parents with mode 0700 (the umask can only take bits away).
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Make sure the store root exists, is a directory and is closed to other users: a missing one
/// (and its missing parents) is created 0700; an existing one open to others is tightened when
/// it is ours and is a store (or empty), and refused otherwise with what to do.
pub(crate) fn prepare_root(root: &Path) -> Result<()> {
    let meta = match fs::metadata(root) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if let Ok(target) = fs::read_link(root) {
                bail!(
                    "the image store root {} is a symbolic link to {}, which does not exist; \
                     create that directory or set ATOMIC_STORE_ROOT to a directory",
                    root.display(),
                    target.display()
                );
            }
            return create_private_dir(root);
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("reading the image store root {}", root.display()));
        }
    };
    if !meta.is_dir() {
        bail!(
            "the image store root {} is not a directory; set ATOMIC_STORE_ROOT (or checkout_path \
             in atomic.conf) to a directory",
            root.display()
        );
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me || !looks_like_store(root) {
        bail!(
            "the image store root {} is open to other users (mode {mode:04o}, owner uid {}): \
             they could run the setuid programs of its images as root. Make it private \
             (`chmod 0700 {}`) or set ATOMIC_STORE_ROOT to a directory of its own",
            root.display(),
            meta.uid(),
            root.display()
        );
    }
    fs::set_permissions(root, Permissions::from_mode(PRIVATE_DIR))
        .with_context(|| format!("making the image store root {} private", root.display()))?;
    tracing::info!(
        "the image store root {} was mode {mode:04o}; made it 0700",
        root.display()
    );
    Ok(())
}

/// A directory that is a store already, or empty, is atomic's to tighten; any other directory
/// (`/tmp` given as the root by mistake) is someone else's and left as it is.
fn looks_like_store(root: &Path) -> bool {
    root.join("oci-layout").exists()
        || root.join("index.json").exists()
        || fs::read_dir(root).is_ok_and(|mut entries| entries.next().is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn a_new_root_and_its_parents_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("a/b/store");
        prepare_root(&root).unwrap();
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
    }

    #[test]
    fn an_open_store_is_tightened_and_a_foreign_directory_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        fs::create_dir(&store).unwrap();
        fs::write(store.join("oci-layout"), "{}").unwrap();
        fs::set_permissions(&store, Permissions::from_mode(0o755)).unwrap();
        prepare_root(&store).unwrap();
        assert_eq!(mode(&store), 0o700);

        let other = dir.path().join("other");
        fs::create_dir(&other).unwrap();
        fs::write(other.join("notes.txt"), "mine").unwrap();
        fs::set_permissions(&other, Permissions::from_mode(0o1777)).unwrap();
        let err = format!("{:#}", prepare_root(&other).unwrap_err());
        assert!(err.contains("open to other users"), "{err}");
        assert_eq!(mode(&other), 0o1777, "left as it was");
    }

    #[test]
    fn a_file_or_dangling_link_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        fs::write(&file, "").unwrap();
        let err = format!("{:#}", prepare_root(&file).unwrap_err());
        assert!(err.contains("is not a directory"), "{err}");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path().join("gone"), &link).unwrap();
        let err = format!("{:#}", prepare_root(&link).unwrap_err());
        assert!(err.contains("does not exist"), "{err}");
    }
}

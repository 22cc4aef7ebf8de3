//! The checkout of an image to a deployment's `rootfs/`: the image's unpacked layers merged
//! bottom to top as overlayfs would show them, with every regular file a hard link to the
//! store's copy — so a checkout costs directory entries and inodes for directories, not file
//! data, and a second install of the same image adds almost nothing (the original did the
//! same with an OSTree checkout in union mode).
//!
//! Because files are shared with the store, the container must never write to them: the
//! config.json of a system container requires a read-only root (as the original did).
//!
//! Every step works on directory file descriptors opened with `O_NOFOLLOW`, never on paths, so
//! a symlink in the image (or one planted in the destination meanwhile) can't redirect a write
//! outside the checkout. The layer directories were already confined by the store's unpacker.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rustix::fs::{
    AtFlags, Dir, FileType, Mode, OFlags, RawMode, Stat, fchmod, fstat, linkat, mkdirat, mknodat,
    openat, readlinkat, statat, symlinkat, unlinkat,
};
use rustix::io::Errno;

/// overlayfs's mark on a directory that hides what lower layers have beneath it.
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

fn open_dir(dir: BorrowedFd, name: &CStr) -> io::Result<OwnedFd> {
    Ok(openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Merge `layers` (bottom first) into the new directory `dest` (which must not exist).
pub fn checkout(layers: &[PathBuf], dest: &Path) -> Result<()> {
    std::fs::create_dir(dest).with_context(|| format!("creating {}", dest.display()))?;
    let dst = open_dir(
        rustix::fs::CWD,
        &CString::new(dest.as_os_str().as_encoded_bytes())?,
    )?;
    for layer in layers {
        let src = open_dir(
            rustix::fs::CWD,
            &CString::new(layer.as_os_str().as_encoded_bytes())?,
        )
        .with_context(|| format!("opening the layer {}", layer.display()))?;
        // The layer root's own mode and owner are the image's root directory's.
        let st = fstat(&src)?;
        fchmod(&dst, mode_of(&st))?;
        rustix::fs::fchown(
            &dst,
            Some(rustix::fs::Uid::from_raw(st.st_uid)),
            Some(rustix::fs::Gid::from_raw(st.st_gid)),
        )?;
        merge(src.as_fd(), dst.as_fd(), Path::new("/"))
            .with_context(|| format!("checking out the layer {}", layer.display()))?;
    }
    Ok(())
}

fn mode_of(st: &Stat) -> Mode {
    Mode::from_raw_mode(st.st_mode as RawMode & 0o7777)
}

/// Apply one layer directory `src` onto `dst`; `at` is the path inside the image, for errors.
fn merge(src: BorrowedFd, dst: BorrowedFd, at: &Path) -> Result<()> {
    let mut names = Vec::new();
    for entry in Dir::read_from(src)? {
        let entry = entry?;
        let name = entry.file_name();
        if name != c"." && name != c".." {
            names.push(name.to_owned());
        }
    }
    for name in names {
        let path = at.join(std::ffi::OsStr::from_bytes(name.to_bytes()));
        apply(src, dst, &name, &path).with_context(|| format!("at {}", path.display()))?;
    }
    Ok(())
}

fn apply(src: BorrowedFd, dst: BorrowedFd, name: &CStr, path: &Path) -> Result<()> {
    let st = statat(src, name, AtFlags::SYMLINK_NOFOLLOW)?;
    let kind = FileType::from_raw_mode(st.st_mode as RawMode);
    let existing = match statat(dst, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(s) => Some(FileType::from_raw_mode(s.st_mode as RawMode)),
        Err(Errno::NOENT) => None,
        Err(e) => return Err(e.into()),
    };
    match kind {
        // A whiteout: the path is deleted from what the layers below built.
        FileType::CharacterDevice if st.st_rdev == 0 => {
            if existing.is_some() {
                remove_all(dst, name, existing)?;
            }
        }
        FileType::Directory => {
            let src_dir = open_dir(src, name)?;
            let opaque = is_opaque(&src_dir);
            let keep = existing == Some(FileType::Directory) && !opaque;
            if existing.is_some() && !keep {
                remove_all(dst, name, existing)?;
            }
            if !keep {
                mkdirat(dst, name, Mode::from_raw_mode(0o700))?;
            }
            let dst_dir = open_dir(dst, name)?;
            // The upper layer's metadata wins, as in overlayfs.
            fchmod(&dst_dir, mode_of(&st))?;
            chown(dst_dir.as_fd(), c"", &st, AtFlags::EMPTY_PATH)?;
            merge(src_dir.as_fd(), dst_dir.as_fd(), path)?;
        }
        _ => {
            if existing.is_some() {
                remove_all(dst, name, existing)?;
            }
            place(src, dst, name, kind, &st)?;
        }
    }
    Ok(())
}

/// Put the non-directory `name` of `src` at `name` in `dst`.
fn place(src: BorrowedFd, dst: BorrowedFd, name: &CStr, kind: FileType, st: &Stat) -> Result<()> {
    match kind {
        FileType::RegularFile => match linkat(src, name, dst, name, AtFlags::empty()) {
            Ok(()) => {}
            // The checkouts live on another filesystem than the store: copy instead.
            Err(Errno::XDEV) => copy_file(src, dst, name, st)?,
            Err(e) => return Err(e.into()),
        },
        FileType::Symlink => {
            let target = readlinkat(src, name, Vec::new())?;
            symlinkat(&target, dst, name)?;
            chown(dst, name, st, AtFlags::SYMLINK_NOFOLLOW)?;
        }
        FileType::Fifo | FileType::CharacterDevice | FileType::BlockDevice => {
            mknodat(dst, name, kind, mode_of(st), st.st_rdev)?;
            chown(dst, name, st, AtFlags::SYMLINK_NOFOLLOW)?;
        }
        // Sockets are not carried by layers; anything else is skipped like them.
        _ => {}
    }
    Ok(())
}

fn copy_file(src: BorrowedFd, dst: BorrowedFd, name: &CStr, st: &Stat) -> Result<()> {
    let from = openat(
        src,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let to = openat(
        dst,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )?;
    let mut from = std::fs::File::from(from);
    let mut to = std::fs::File::from(to);
    io::copy(&mut from, &mut to)?;
    chown(to.as_fd(), c"", st, AtFlags::EMPTY_PATH)?;
    // After chown, which clears set-id bits.
    fchmod(&to, mode_of(st))?;
    Ok(())
}

fn chown(dir: BorrowedFd, name: &CStr, st: &Stat, flags: AtFlags) -> Result<()> {
    rustix::fs::chownat(
        dir,
        name,
        Some(rustix::fs::Uid::from_raw(st.st_uid)),
        Some(rustix::fs::Gid::from_raw(st.st_gid)),
        flags,
    )?;
    Ok(())
}

fn is_opaque(dir: &OwnedFd) -> bool {
    let mut value = [0u8; 1];
    matches!(rustix::fs::fgetxattr(dir, OPAQUE_XATTR, &mut value), Ok(1) if value == *b"y")
}

/// Remove `name` from `dir`, recursively when it is a directory.
fn remove_all(dir: BorrowedFd, name: &CStr, kind: Option<FileType>) -> Result<()> {
    if kind == Some(FileType::Directory) {
        let sub = open_dir(dir, name)?;
        let mut names = Vec::new();
        for entry in Dir::read_from(&sub)? {
            let entry = entry?;
            if entry.file_name() != c"." && entry.file_name() != c".." {
                names.push((entry.file_name().to_owned(), entry.file_type()));
            }
        }
        for (child, child_kind) in names {
            remove_all(sub.as_fd(), &child, Some(child_kind))?;
        }
        unlinkat(dir, name, AtFlags::REMOVEDIR)?;
    } else {
        unlinkat(dir, name, AtFlags::empty())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    fn layer(root: &Path, name: &str) -> PathBuf {
        let dir = root.join(name);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn merges_layers_with_hard_links() {
        let tmp = tempfile::tempdir().unwrap();
        let low = layer(tmp.path(), "low");
        fs::create_dir_all(low.join("etc/conf.d")).unwrap();
        fs::write(low.join("etc/conf.d/a"), "a").unwrap();
        fs::write(low.join("etc/replaced"), "old").unwrap();
        fs::create_dir(low.join("gone-dir")).unwrap();
        fs::write(low.join("gone-dir/x"), "x").unwrap();
        symlink("usr/lib", low.join("lib")).unwrap();
        fs::set_permissions(low.join("etc/conf.d/a"), fs::Permissions::from_mode(0o640)).unwrap();

        let high = layer(tmp.path(), "high");
        fs::create_dir_all(high.join("etc")).unwrap();
        fs::write(high.join("etc/replaced"), "new").unwrap();
        fs::write(high.join("etc/added"), "added").unwrap();
        // A directory in an upper layer replaces a lower symlink of the same path.
        fs::create_dir(high.join("lib")).unwrap();
        fs::write(high.join("lib/f"), "f").unwrap();
        let whiteout = rustix::fs::mknodat(
            rustix::fs::CWD,
            high.join("gone-dir"),
            FileType::CharacterDevice,
            Mode::empty(),
            0,
        );
        if whiteout.is_err() {
            eprintln!("SKIP: making whiteouts needs root");
            return;
        }

        let dest = tmp.path().join("rootfs");
        checkout(&[low.clone(), high.clone()], &dest).unwrap();
        assert_eq!(fs::read_to_string(dest.join("etc/conf.d/a")).unwrap(), "a");
        assert_eq!(
            fs::read_to_string(dest.join("etc/replaced")).unwrap(),
            "new"
        );
        assert_eq!(fs::read_to_string(dest.join("etc/added")).unwrap(), "added");
        assert!(!dest.join("gone-dir").exists());
        assert!(fs::symlink_metadata(dest.join("lib")).unwrap().is_dir());
        let a = fs::metadata(dest.join("etc/conf.d/a")).unwrap();
        assert_eq!(
            a.ino(),
            fs::metadata(low.join("etc/conf.d/a")).unwrap().ino()
        );
        assert_eq!(a.mode() & 0o777, 0o640);
        // The layers are untouched.
        assert_eq!(fs::read_to_string(low.join("etc/replaced")).unwrap(), "old");
        assert!(low.join("gone-dir/x").exists());
    }

    #[test]
    fn opaque_directories_hide_lower_content() {
        let tmp = tempfile::tempdir().unwrap();
        let low = layer(tmp.path(), "low");
        fs::create_dir_all(low.join("d")).unwrap();
        fs::write(low.join("d/old"), "").unwrap();
        let high = layer(tmp.path(), "high");
        fs::create_dir_all(high.join("d")).unwrap();
        fs::write(high.join("d/new"), "").unwrap();
        if xattr::set(high.join("d"), OPAQUE_XATTR, b"y").is_err() {
            eprintln!("SKIP: trusted xattrs need root");
            return;
        }
        let dest = tmp.path().join("rootfs");
        checkout(&[low, high], &dest).unwrap();
        assert!(!dest.join("d/old").exists());
        assert!(dest.join("d/new").exists());
    }

    #[test]
    fn a_symlink_in_the_image_is_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let low = layer(tmp.path(), "low");
        symlink(&outside, low.join("escape")).unwrap();
        // The upper layer puts a directory where the link was: it must replace the link, not
        // write through it.
        let high = layer(tmp.path(), "high");
        fs::create_dir(high.join("escape")).unwrap();
        fs::write(high.join("escape/planted"), "x").unwrap();
        let dest = tmp.path().join("rootfs");
        checkout(&[low, high], &dest).unwrap();
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
        assert!(dest.join("escape/planted").exists());
    }

    #[test]
    fn an_existing_destination_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let low = layer(tmp.path(), "low");
        let err = checkout(&[low], tmp.path()).unwrap_err();
        assert!(format!("{err:#}").contains("creating"), "{err:#}");
    }
}

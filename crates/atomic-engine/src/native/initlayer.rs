//! The init layer: the mount points a container's config needs and its image lacks, made once
//! per image as a read-only layer above the image's own (Docker has the same).
//!
//! runc creates a missing mount point in the container's root filesystem before mounting on
//! it. In an overlay that is a write to every container's upper directory, and creating
//! /etc/hosts first copies /etc up: ~2.5 ms of every container start here (bench/run.sh), and
//! more to delete when the container goes. Found in a lower layer, a mount point costs nothing.
//!
//! A merged directory takes its owner, mode and times from the topmost layer that has it, so a
//! directory made here (/etc, to hold /etc/hosts) copies the image's. Only what is missing is
//! made: an image's own /etc/hosts, or a symlink where a mount point would go, is left to runc.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::rootfs::top_entry;

/// Where atomic's container configs mount something, and what runc needs there.
const MOUNT_POINTS: &[(&str, Kind)] = &[
    ("proc", Kind::Dir),
    ("dev", Kind::Dir),
    ("sys", Kind::Dir),
    ("etc/hosts", Kind::File),
    ("etc/hostname", Kind::File),
    ("etc/resolv.conf", Kind::File),
];

/// Bumped when what goes into an init layer changes: old ones are then never reused.
const VERSION: &str = "atomic-init-layer-1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
}

/// A mount point to make, and the image's directories above it (to copy): their paths in the
/// layer, where they are on disk, and their metadata.
#[derive(Debug)]
struct Missing {
    path: &'static str,
    kind: Kind,
    parents: Vec<(String, PathBuf, fs::Metadata)>,
}

/// The init layer for a container of the image made of `layers` (bottom first) whose config
/// mounts at `destinations`: under `root`, made the first time and shared afterwards. None when
/// the image has every such mount point.
///
/// What an image lacks is decided once, so a later container pays a stat or two rather than a
/// walk through the image's layers: the answer is the layer itself, or a `<key>.none` file.
pub fn ensure(root: &Path, layers: &[PathBuf], destinations: &[String]) -> Result<Option<PathBuf>> {
    let wanted: Vec<(&'static str, Kind)> = MOUNT_POINTS
        .iter()
        .copied()
        .filter(|(path, _)| {
            destinations
                .iter()
                .any(|d| d.trim_start_matches('/') == *path)
        })
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    let dir = root.join(key(layers, &wanted));
    let nothing_missing = dir.with_extension("none");
    if dir.is_dir() {
        return Ok(Some(dir));
    }
    if nothing_missing.exists() {
        return Ok(None);
    }
    let top_first: Vec<PathBuf> = layers.iter().rev().cloned().collect();
    let mut missing = Vec::new();
    for (path, kind) in wanted {
        missing.extend(find_missing(&top_first, path, kind)?);
    }
    fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    if missing.is_empty() {
        fs::File::create(&nothing_missing)
            .with_context(|| format!("creating {}", nothing_missing.display()))?;
        return Ok(None);
    }
    make_layer(root, &missing, &dir).map(Some)
}

/// The name of the init layer of the image made of `layers` for the mount points `wanted`.
fn key(layers: &[PathBuf], wanted: &[(&str, Kind)]) -> String {
    let mut key = Sha256::new();
    key.update(VERSION);
    for layer in layers {
        key.update(b"\n");
        key.update(layer.as_os_str().as_encoded_bytes());
    }
    for (path, _) in wanted {
        key.update(b"\n+");
        key.update(path);
    }
    hex::encode(key.finalize())
}

/// Make the layer holding `missing` at `dir`, under `root`.
fn make_layer(root: &Path, missing: &[Missing], dir: &Path) -> Result<PathBuf> {
    // Made aside and renamed into place: a container never sees a half-made layer, and of two
    // atomics making the same one, the second keeps the first's.
    let tmp = tempfile::Builder::new()
        .prefix(".making-")
        .tempdir_in(root)
        .with_context(|| format!("creating a directory in {}", root.display()))?;
    for m in missing {
        make(tmp.path(), m).with_context(|| format!("making the mount point /{}", m.path))?;
    }
    // Times last, once per directory: making a mount point changed its directory's.
    let parents: BTreeMap<&String, &fs::Metadata> = missing
        .iter()
        .flat_map(|m| &m.parents)
        .map(|(rel, _, meta)| (rel, meta))
        .collect();
    for (rel, meta) in parents {
        set_times(&tmp.path().join(rel), meta)?;
    }
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755))?;
    match fs::rename(tmp.path(), dir) {
        Ok(()) => {
            // Renamed into the layer: nothing is left to delete.
            let _renamed = tmp.keep();
            Ok(dir.to_path_buf())
        }
        Err(_) if dir.is_dir() => Ok(dir.to_path_buf()),
        Err(e) => Err(e).with_context(|| format!("saving the init layer {}", dir.display())),
    }
}

/// `path` when the merged image lacks it and its parents are directories there.
fn find_missing(top_first: &[PathBuf], path: &'static str, kind: Kind) -> Result<Option<Missing>> {
    let parts: Vec<String> = path.split('/').map(str::to_string).collect();
    let mut parents = Vec::new();
    for depth in 1..parts.len() {
        match top_entry(top_first, &parts[..depth])? {
            Some((real, meta)) if meta.is_dir() => {
                parents.push((parts[..depth].join("/"), real, meta));
            }
            // No such directory, or something else there: runc's business, as without us.
            _ => return Ok(None),
        }
    }
    if top_entry(top_first, &parts)?.is_some() {
        return Ok(None);
    }
    Ok(Some(Missing {
        path,
        kind,
        parents,
    }))
}

/// Make `m` under `layer`: its parents as the image has them, then the mount point itself (an
/// empty directory or file, root's, as runc would make it).
fn make(layer: &Path, m: &Missing) -> io::Result<()> {
    for (rel, from, meta) in &m.parents {
        let dir = layer.join(rel);
        if dir.is_dir() {
            continue;
        }
        fs::create_dir(&dir)?;
        copy_attributes(from, &dir, meta)?;
    }
    let target = layer.join(m.path);
    match m.kind {
        Kind::Dir => {
            fs::create_dir(&target)?;
            fs::set_permissions(&target, fs::Permissions::from_mode(0o755))
        }
        Kind::File => {
            fs::File::create(&target)?;
            fs::set_permissions(&target, fs::Permissions::from_mode(0o644))
        }
    }
}

/// Give `dir` the owner, mode and extended attributes of the image's directory at `from`
/// (`meta`), as overlayfs's copy-up would; overlayfs's own attributes stay behind.
fn copy_attributes(from: &Path, dir: &Path, meta: &fs::Metadata) -> io::Result<()> {
    std::os::unix::fs::chown(dir, Some(meta.uid()), Some(meta.gid()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    for name in xattr::list(from)? {
        if name.to_string_lossy().starts_with("trusted.overlay.") {
            continue;
        }
        if let Some(value) = xattr::get(from, &name)? {
            xattr::set(dir, &name, &value)?;
        }
    }
    Ok(())
}

fn set_times(dir: &Path, meta: &fs::Metadata) -> io::Result<()> {
    let times = fs::FileTimes::new()
        .set_accessed(meta.accessed()?)
        .set_modified(meta.modified()?);
    fs::File::open(dir)?.set_times(times)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn destinations() -> Vec<String> {
        MOUNT_POINTS.iter().map(|(p, _)| format!("/{p}")).collect()
    }

    #[test]
    fn only_missing_mount_points_are_made_with_the_images_etc() {
        let store = tempfile::tempdir().unwrap();
        let base = store.path().join("base");
        let top = store.path().join("top");
        for dir in ["proc", "etc"] {
            fs::create_dir_all(base.join(dir)).unwrap();
        }
        fs::create_dir_all(&top).unwrap();
        fs::write(base.join("etc/hosts"), "127.0.0.1 image\n").unwrap();
        fs::set_permissions(base.join("etc"), fs::Permissions::from_mode(0o750)).unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(946684800);
        fs::File::open(base.join("etc"))
            .unwrap()
            .set_times(fs::FileTimes::new().set_modified(old).set_accessed(old))
            .unwrap();
        let layers = vec![base.clone(), top];
        let root = store.path().join("init");

        let init = ensure(&root, &layers, &destinations()).unwrap().unwrap();
        let mut made: Vec<String> = walk(&init);
        made.sort();
        assert_eq!(
            made,
            ["dev", "etc", "etc/hostname", "etc/resolv.conf", "sys"],
            "the image's /proc and /etc/hosts are used as they are"
        );
        let (ours, image) = (
            fs::metadata(init.join("etc")).unwrap(),
            fs::metadata(base.join("etc")).unwrap(),
        );
        assert_eq!(ours.mode(), image.mode());
        assert_eq!((ours.uid(), ours.gid()), (image.uid(), image.gid()));
        assert_eq!(ours.modified().unwrap(), old);
        assert!(fs::metadata(init.join("etc/hostname")).unwrap().is_file());

        // Made once: the same image finds the same layer, and nothing is left aside.
        assert_eq!(ensure(&root, &layers, &destinations()).unwrap(), Some(init));
        assert_eq!(fs::read_dir(&root).unwrap().count(), 1);
    }

    #[test]
    fn nothing_is_made_for_an_image_with_every_mount_point_or_a_link_in_the_way() {
        let store = tempfile::tempdir().unwrap();
        let base = store.path().join("base");
        for dir in ["proc", "dev", "sys", "etc"] {
            fs::create_dir_all(base.join(dir)).unwrap();
        }
        for file in ["hosts", "hostname"] {
            fs::write(base.join("etc").join(file), "").unwrap();
        }
        // /etc/resolv.conf a symlink (systemd-resolved's stub): runc resolves it in the
        // image, as it did without an init layer.
        std::os::unix::fs::symlink("../run/resolv.conf", base.join("etc/resolv.conf")).unwrap();
        let root = store.path().join("init");
        assert_eq!(
            ensure(&root, std::slice::from_ref(&base), &destinations()).unwrap(),
            None
        );
        // Only the answer is kept, for the next container of the image.
        let kept: Vec<String> = fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            matches!(&kept[..], [one] if one.ends_with(".none") && fs::metadata(root.join(one)).unwrap().is_file()),
            "{kept:?}"
        );
        assert_eq!(ensure(&root, &[base], &destinations()).unwrap(), None);
    }

    #[test]
    fn only_what_the_config_mounts_is_made() {
        let store = tempfile::tempdir().unwrap();
        let base = store.path().join("base");
        fs::create_dir_all(base.join("etc")).unwrap();
        let root = store.path().join("init");
        let init = ensure(&root, &[base], &["/proc".to_string()])
            .unwrap()
            .unwrap();
        assert_eq!(walk(&init), ["proc"]);
    }

    fn walk(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().unwrap().is_dir() {
                out.extend(
                    walk(&entry.path())
                        .into_iter()
                        .map(|c| format!("{name}/{c}")),
                );
            }
            out.push(name);
        }
        out
    }
}

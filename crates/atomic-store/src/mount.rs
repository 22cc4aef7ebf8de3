//! `atomic mount IMAGE DIR`: an image's layers, read-only, at DIR.
//!
//! Layers are stacked with overlayfs (top layer first in `lowerdir`), with no upper directory,
//! so the mount is read-only by construction and whiteouts hide what upper layers deleted. A
//! one-layer image is a read-only bind mount of its layer. Nothing is copied.

use std::path::Path;

use anyhow::{Context, Result, bail};
use rustix::mount::{MountFlags, UnmountFlags, mount, mount_remount, unmount};

use crate::image::StoredImage;
use crate::store::Store;

/// Mount `image` read-only at `target`, an existing directory.
pub fn mount_image(store: &Store, image: &StoredImage, target: &Path) -> Result<()> {
    // mount(2) follows a symlink at the mount point: `atomic mount IMG link` would cover
    // whatever the link points at. The original's mount did not follow it; neither does this.
    if std::fs::symlink_metadata(target).is_ok_and(|m| m.file_type().is_symlink()) {
        bail!(
            "mount point {} is a symbolic link; give the directory itself",
            target.display()
        );
    }
    if !target.is_dir() {
        bail!("mount point {} is not a directory", target.display());
    }
    for diff_id in image.diff_ids()? {
        if !store.has_layer(&diff_id) {
            bail!(
                "layer {diff_id} of the image is missing from the store or incomplete; pull \
                 the image again"
            );
        }
    }
    let mut layers = image.layer_dirs(store)?;
    match layers.len() {
        0 => bail!("the image has no layers to mount"),
        1 => {
            mount(&layers[0], target, "", MountFlags::BIND, None).with_context(|| {
                format!(
                    "bind-mounting {} at {}",
                    layers[0].display(),
                    target.display()
                )
            })?;
            // A bind mount takes MS_RDONLY only on a remount.
            if let Err(e) = mount_remount(target, MountFlags::BIND | MountFlags::RDONLY, "") {
                let _ = unmount(target, UnmountFlags::DETACH);
                return Err(e).context("making the mount read-only");
            }
        }
        _ => {
            layers.reverse();
            let mut lower = Vec::with_capacity(layers.len());
            for dir in &layers {
                let s = dir.to_str().context("layer path is not UTF-8")?;
                // overlayfs splits its options at ',' and its lower dirs at ':'.
                if s.contains([',', ':']) {
                    bail!("store path {s} contains ',' or ':', which overlayfs cannot take");
                }
                lower.push(s);
            }
            let data = std::ffi::CString::new(format!("lowerdir={}", lower.join(":")))?;
            mount(
                "overlay",
                target,
                "overlay",
                MountFlags::RDONLY,
                data.as_c_str(),
            )
            .with_context(|| format!("mounting an overlay at {}", target.display()))?;
        }
    }
    Ok(())
}

/// Undo `mount_image`. Only a mount point that holds store layers is unmounted, so a typo
/// cannot unmount something else.
pub fn unmount_image(store: &Store, target: &Path) -> Result<()> {
    let target = target
        .canonicalize()
        .with_context(|| format!("{} does not exist", target.display()))?;
    let layers = store.root().join("layers");
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    let ours = info.lines().any(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        fields.get(4).is_some_and(|mp| Path::new(mp) == target)
            && (line.contains(&*layers.to_string_lossy())
                || fields.get(3).is_some_and(|root| root.contains("/layers/")))
    });
    if !ours {
        bail!("{} is not an image mounted by atomic", target.display());
    }
    unmount(&target, UnmountFlags::empty())
        .with_context(|| format!("unmounting {}", target.display()))
}

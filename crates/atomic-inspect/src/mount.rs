//! A read-only view of layer directories at a mount point, for programs that need a real tree
//! (a scanner container gets it bind-mounted at `/scanin/<id>`).
//!
//! Several layers are stacked with overlayfs, top layer first in `lowerdir` and no upper
//! directory, so the mount is read-only by construction; one layer is a read-only bind mount.
//! The layers are the engines' own directories: nothing is copied, and nothing is written.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rustix::mount::{MountFlags, UnmountFlags, mount, mount_remount, unmount};

/// Mount `layers` (top first) read-only at `target`, an existing directory.
pub fn mount_layers(layers: &[PathBuf], target: &Path) -> Result<()> {
    match layers {
        [] => bail!("nothing to mount: no layers"),
        [only] => {
            mount(only, target, "", MountFlags::BIND, None).with_context(|| {
                format!("bind-mounting {} at {}", only.display(), target.display())
            })?;
            // A bind mount takes MS_RDONLY only on a remount.
            if let Err(e) = mount_remount(target, MountFlags::BIND | MountFlags::RDONLY, "") {
                let _ = unmount(target, UnmountFlags::DETACH);
                return Err(e).context("making the mount read-only");
            }
        }
        _ => {
            let mut lower = Vec::with_capacity(layers.len());
            for dir in layers {
                let s = dir.to_str().context("layer path is not UTF-8")?;
                // overlayfs splits its options at ',' and its lower dirs at ':'.
                if s.contains([',', ':']) {
                    bail!("layer path {s} contains ',' or ':', which overlayfs cannot take");
                }
                lower.push(s);
            }
            let options = format!("lowerdir={}", lower.join(":"));
            // The kernel takes mount options as one page.
            if options.len() >= 4000 {
                bail!(
                    "{} layers are too many for one overlay mount (their paths exceed a page)",
                    layers.len()
                );
            }
            let data = std::ffi::CString::new(options)?;
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

/// Undo [`mount_layers`] (lazily, so a scanner that left a process behind cannot keep it).
pub fn unmount_layers(target: &Path) -> Result<()> {
    unmount(target, UnmountFlags::DETACH)
        .with_context(|| format!("unmounting {}", target.display()))
}

//! `atomic mount IMAGE DIR`: an image's layers, read-only, at DIR.
//!
//! Layers are stacked with overlayfs (top layer first in `lowerdir`), with no upper directory,
//! so the mount is read-only by construction and whiteouts hide what upper layers deleted. A
//! one-layer image is a read-only bind mount of its layer. Nothing is copied.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rustix::mount::{MountFlags, UnmountFlags, mount, mount_remount, unmount};

use crate::store::Store;

/// Stack `layers` (top first) read-only at `target`: an overlay with no upper directory, so
/// read-only by construction, or a read-only bind mount of a lone layer. `flags` adds
/// `nosuid`, `nodev`, `noexec`; `context` is an SELinux label for every file.
pub fn mount_layers(
    layers: &[PathBuf],
    target: &Path,
    flags: MountFlags,
    context: Option<&str>,
) -> Result<()> {
    match layers {
        [] => bail!("the image has no layers to mount"),
        [only] => bind(only, target, flags | MountFlags::RDONLY),
        _ => {
            let mut lower = Vec::with_capacity(layers.len());
            for dir in layers {
                let s = dir.to_str().context("layer path is not UTF-8")?;
                // overlayfs splits its options at ',' and its lower dirs at ':'.
                if s.contains([',', ':']) {
                    bail!("store path {s} contains ',' or ':', which overlayfs cannot take");
                }
                lower.push(s);
            }
            let mut data = format!("lowerdir={}", lower.join(":"));
            if let Some(context) = context {
                data.push_str(&format!(",context=\"{context}\""));
            }
            // The kernel takes one page of mount options.
            if data.len() >= 4096 {
                bail!(
                    "the {} layers' paths take {} bytes, more than the page overlayfs reads its \
                     options from",
                    layers.len(),
                    data.len()
                );
            }
            let data = std::ffi::CString::new(data)?;
            mount(
                "overlay",
                target,
                "overlay",
                flags | MountFlags::RDONLY,
                data.as_c_str(),
            )
            .with_context(|| format!("mounting an overlay at {}", target.display()))
        }
    }
}

/// Bind `source` at `target`, with `flags` (`RDONLY`, `NOSUID`, …) applied.
pub fn bind(source: &Path, target: &Path, flags: MountFlags) -> Result<()> {
    mount(source, target, "", MountFlags::BIND, None)
        .with_context(|| format!("bind-mounting {} at {}", source.display(), target.display()))?;
    if flags.is_empty() {
        return Ok(());
    }
    // A bind mount takes its flags only on a remount.
    if let Err(e) = mount_remount(target, MountFlags::BIND | flags, "") {
        let _ = unmount(target, UnmountFlags::DETACH);
        return Err(e).context("making the bind mount read-only");
    }
    Ok(())
}

/// Unmount `target`, retrying a moment while it is busy (a process that just left it, as the
/// original retried for scanners' leftovers).
pub fn unmount_dir(target: &Path) -> Result<()> {
    let mut tries = 0;
    loop {
        match unmount(target, UnmountFlags::empty()) {
            Err(rustix::io::Errno::BUSY) if tries < 10 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            r => return r.with_context(|| format!("unmounting {}", target.display())),
        }
    }
}

/// Unmount `target` lazily (detached), so a process left inside it (a scanner's leftover)
/// cannot keep it mounted.
pub fn unmount_detached(target: &Path) -> Result<()> {
    unmount(target, UnmountFlags::DETACH)
        .with_context(|| format!("unmounting {}", target.display()))
}

/// Undo a mount of store layers ([`mount_layers`]). Only a mount point that holds store layers
/// is unmounted, so a typo
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

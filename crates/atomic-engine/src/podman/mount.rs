//! `atomic mount --storage podman IMAGE DIR`: Podman mounts the image (`podman image mount`,
//! which counts the mount in its store, so `podman rmi` cannot pull the layers from under it)
//! and atomic binds that mount read-only at DIR. `atomic unmount DIR` undoes both. This is a
//! change to Podman's store (its mount count), so it is the CLI's, not the reader's; the
//! reader only tells, at unmount, which image a mount belongs to.

use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags, mount, mount_remount, unmount};

use super::storage::{Parts, Snapshot, Sure, doubt};
use super::{PodmanEngine, storage};
use crate::{EngineError, EngineKind, Result};

fn failed(action: impl Into<String>, detail: impl std::fmt::Display) -> EngineError {
    EngineError::failed(EngineKind::Podman, action, detail)
}

impl PodmanEngine {
    /// Mount `image` read-only at `target` (an existing, empty directory).
    pub fn mount_image(&self, image: &str, target: &Path) -> Result<()> {
        let out = self.checked(&format!("mount image {image}"), &["image", "mount", image])?;
        let source = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if let Err(e) = bind_read_only(&source, target) {
            // Leave Podman's count as it was.
            let _ = self.output("image unmount", &["image", "unmount", image]);
            return Err(failed(
                format!("mounting {image} at {}", target.display()),
                e,
            ));
        }
        Ok(())
    }

    /// Undo [`PodmanEngine::mount_image`] at `target`. `Ok(false)`: `target` is not a Podman
    /// image's mount, and nothing was done.
    pub fn unmount_image(&self, target: &Path) -> Result<bool> {
        let Ok(target) = target.canonicalize() else {
            return Ok(false);
        };
        let location = match self.store() {
            Ok(l) => l,
            Err(_) => storage::locate(&storage::StoreEnv::from_process())
                .map_err(|d| failed("unmount", d))?,
        };
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| failed("unmount", format!("reading /proc/self/mountinfo: {e}")))?;
        let Some(layer) = podman_layer_at(&mountinfo, &target, &location.graphroot) else {
            return Ok(false);
        };
        let image = image_with_top_layer(&location, &layer).map_err(|d| {
            failed(
                format!("unmount {}", target.display()),
                format!("which image it shows is unclear ({d}); unmount it with umount and 'podman image unmount'"),
            )
        })?;
        unmount(&target, UnmountFlags::empty())
            .map_err(|e| failed(format!("unmounting {}", target.display()), e))?;
        self.checked(
            &format!("image unmount {image}"),
            &["image", "unmount", &image],
        )?;
        Ok(true)
    }
}

fn bind_read_only(source: &Path, target: &Path) -> std::io::Result<()> {
    mount(source, target, "", MountFlags::BIND, None)?;
    // A bind mount takes MS_RDONLY only on a remount.
    if let Err(e) = mount_remount(target, MountFlags::BIND | MountFlags::RDONLY, "") {
        let _ = unmount(target, UnmountFlags::DETACH);
        return Err(e.into());
    }
    Ok(())
}

/// The layer of the Podman image mount bound at `target` (the topmost mount there): the layer
/// whose mount of Podman's (`GRAPHROOT/overlay/LAYER/merged`) shares its device number, or, once
/// that one is gone, the layer whose `diff` is the first of its overlay's lower directories.
fn podman_layer_at(mountinfo: &str, target: &Path, graphroot: &Path) -> Option<String> {
    // mountinfo: ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS … - FSTYPE SOURCE SUPER-OPTIONS
    struct Entry<'a> {
        dev: &'a str,
        point: &'a str,
        super_options: &'a str,
    }
    let entries: Vec<Entry> = mountinfo
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let dev = f.nth(2)?;
            let point = f.nth(1)?;
            let (_, tail) = l.split_once(" - ")?;
            let super_options = tail.split(' ').nth(2).unwrap_or_default();
            Some(Entry {
                dev,
                point,
                super_options,
            })
        })
        .collect();
    let target = target.to_str()?;
    let ours = entries.iter().rev().find(|e| e.point == target)?;
    let overlay = graphroot.join("overlay");
    let layer_of = |path: &str, leaf: &str| -> Option<String> {
        let rest = Path::new(path).strip_prefix(&overlay).ok()?;
        let mut parts = rest.iter();
        let layer = parts.next()?.to_str()?;
        (parts.next()? == leaf
            && parts.next().is_none()
            && layer.len() == 64
            && layer.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| layer.to_string())
    };
    let by_device = entries.iter().find_map(|e| {
        (e.dev == ours.dev && e.point != target)
            .then(|| layer_of(e.point, "merged"))
            .flatten()
    });
    by_device.or_else(|| {
        let lower = ours
            .super_options
            .split(',')
            .find_map(|o| o.strip_prefix("lowerdir="))?;
        layer_of(lower.split(':').next()?, "diff")
    })
}

/// An image whose top layer is `layer`. Images of the same files share their layers, and Podman
/// counts mounts per layer, so any of them names the same mount to `podman image unmount`.
fn image_with_top_layer(location: &storage::StoreLocation, layer: &str) -> Sure<String> {
    let snapshot = Snapshot::read(
        location,
        Parts {
            images: true,
            ..Parts::default()
        },
    )?;
    match snapshot.images.iter().find(|i| i.layer == layer) {
        Some(image) => Ok(image.id.clone()),
        None => doubt(format!("no image has layer {layer} on top")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layer_is_found_through_the_shared_device() {
        let layer = "a".repeat(64);
        let info = format!(
            "20 1 0:5 / / rw - ext4 /dev/vda rw\n\
             30 20 0:48 / /var/lib/containers/storage/overlay/{layer}/merged ro - overlay overlay ro\n\
             31 20 0:49 / /other ro - overlay overlay ro\n\
             40 20 0:48 / /mnt/img ro - overlay overlay ro\n"
        );
        let graph = Path::new("/var/lib/containers/storage");
        assert_eq!(
            podman_layer_at(&info, Path::new("/mnt/img"), graph),
            Some(layer.clone())
        );
        assert_eq!(podman_layer_at(&info, Path::new("/other"), graph), None);
        assert_eq!(podman_layer_at(&info, Path::new("/nowhere"), graph), None);
        // Podman's own mount gone (`podman image unmount` behind atomic's back).
        let info = format!(
            "40 20 0:48 / /mnt/img ro - overlay overlay ro,lowerdir=/var/lib/containers/storage/\
             overlay/{layer}/diff:/var/lib/containers/storage/overlay/l/NEH4,redirect_dir=on\n"
        );
        assert_eq!(
            podman_layer_at(&info, Path::new("/mnt/img"), graph),
            Some(layer)
        );
    }
}

//! A container's root filesystem: the image's unpacked layers, stacked read-only with
//! overlayfs, under a writable upper directory of the container's own.
//!
//! Nothing of the image is copied per container: the layers stay shared in the store, and
//! everything the container writes lands in its upper directory, removed with it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rustix::mount::{MountFlags, UnmountFlags, mount, unmount};

/// overlayfs takes its options as one string of at most a page.
const MAX_OPTIONS: usize = 4000;

/// The directories of one container's root filesystem.
#[derive(Debug, Clone)]
pub struct Rootfs {
    /// Layer directories, bottom layer first (the order of the image manifest).
    pub layers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Where the merged tree is mounted (the bundle's `rootfs`).
    pub target: PathBuf,
    /// Mount with overlayfs's `volatile`: no sync of the upper directory's filesystem, ever.
    /// Unmounting a plain overlay syncs the whole filesystem under the upper directory (on a
    /// busy host, many milliseconds of other programs' writes); a container whose writes die
    /// with it (`--rm`) has nothing worth that.
    pub volatile: bool,
}

impl Rootfs {
    /// The layout inside a container directory.
    pub fn in_dir(dir: &Path, layers: Vec<PathBuf>, volatile: bool) -> Rootfs {
        Rootfs {
            layers,
            upper: dir.join("upper"),
            work: dir.join("work"),
            target: dir.join("rootfs"),
            volatile,
        }
    }

    /// Mount the merged tree at `target`, unless it already is (a restarted container).
    pub fn mount(&self) -> Result<()> {
        for dir in [&self.upper, &self.work, &self.target] {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        if is_mount_point(&self.target)? {
            return Ok(());
        }
        let data = self.options()?;
        let data = std::ffi::CString::new(data)?;
        mount(
            "overlay",
            &self.target,
            "overlay",
            MountFlags::empty(),
            data.as_c_str(),
        )
        .with_context(|| {
            format!(
                "mounting the container's root filesystem at {}",
                self.target.display()
            )
        })
    }

    /// overlayfs's mount options for these directories; an error when a layer is missing or
    /// they do not fit in one mount's options.
    pub fn options(&self) -> Result<String> {
        if self.layers.is_empty() {
            bail!("the image has no layers");
        }
        for layer in &self.layers {
            if !layer.is_dir() {
                bail!(
                    "layer {} of the image is missing from the store; pull the image again",
                    layer.display()
                );
            }
        }
        let mut paths = Vec::with_capacity(self.layers.len() + 2);
        // overlayfs wants the top layer first.
        for dir in self.layers.iter().rev().chain([&self.upper, &self.work]) {
            let s = dir
                .to_str()
                .with_context(|| format!("path {} is not UTF-8", dir.display()))?;
            // overlayfs splits its options at ',' and its lower dirs at ':'.
            if s.contains([',', ':']) {
                bail!("path {s} contains ',' or ':', which overlayfs cannot take");
            }
            paths.push(s);
        }
        let (work, rest) = paths.split_last().expect("two paths were pushed");
        let (upper, lower) = rest.split_last().expect("two paths were pushed");
        let mut data = format!(
            "lowerdir={},upperdir={upper},workdir={work}",
            lower.join(":")
        );
        if self.volatile {
            data.push_str(",volatile");
        }
        if data.len() > MAX_OPTIONS {
            bail!(
                "the image has too many layers ({}) for one overlay mount at this store path; \
                 use a shorter store path (atomic.conf checkout_path) or --storage docker|podman",
                self.layers.len()
            );
        }
        Ok(data)
    }

    /// Unmount the merged tree if it is mounted. The unmount is lazy (MNT_DETACH, as
    /// containers/storage does): a plain umount of a tree the container's mount namespace
    /// just held waits out an RCU grace period (~70 ms here), longer than runc takes to run a
    /// container; detached, it is gone from the tree at once and the kernel frees it when the
    /// last user (a shell of the user's sitting in it) leaves.
    pub fn unmount(&self) -> Result<()> {
        if !is_mount_point(&self.target)? {
            return Ok(());
        }
        unmount(&self.target, UnmountFlags::DETACH)
            .with_context(|| format!("unmounting {}", self.target.display()))
    }
}

/// Whether `path` is itself a mount point. statx answers in one call (Linux 5.8+); the
/// mount table, which the kernel prints out whole for every read, is the fallback.
pub fn is_mount_point(path: &Path) -> Result<bool> {
    use rustix::fs::{AtFlags, CWD, StatxAttributes, StatxFlags, statx};
    let flags = AtFlags::NO_AUTOMOUNT | AtFlags::SYMLINK_NOFOLLOW;
    match statx(CWD, path, flags, StatxFlags::empty()) {
        Ok(st) if st.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT) => {
            Ok(st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT))
        }
        Err(rustix::io::Errno::NOENT) => Ok(false),
        _ => Ok(mounts_under(path)?.iter().any(|m| m == path)),
    }
}

/// Every mount point at or below `dir`, deepest first (the order to unmount them in).
pub fn mounts_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let info = read_mountinfo().context("reading mountinfo")?;
    let info = String::from_utf8_lossy(&info);
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mountinfo(field)))
        .filter(|mp| mp.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    Ok(found)
}

/// This mount namespace's mountinfo. A proc file has no size, so `read_to_string` starts
/// from a 32-byte read and doubles: nine reads for a short table, each one making the kernel
/// walk the mount list again. One buffer of the usual table's size takes two.
fn read_mountinfo() -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(64 * 1024);
    std::fs::File::open("/proc/self/mountinfo")?.read_to_end(&mut buf)?;
    Ok(buf)
}

/// mountinfo writes space, tab, newline and backslash in paths as `\ooo` octal escapes.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 4 <= bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value =
                (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(value);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo(r"/a\040b"), "/a b");
        assert_eq!(unescape_mountinfo(r"/a\134b"), r"/a\b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert_eq!(unescape_mountinfo(r"/end\04"), r"/end\04");
    }

    #[test]
    fn mount_points_are_told_as_the_mount_table_tells_them() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        for path in [Path::new("/"), Path::new("/proc"), dir.path(), &missing] {
            let listed = mounts_under(path).unwrap().iter().any(|m| m == path);
            assert_eq!(is_mount_point(path).unwrap(), listed, "{}", path.display());
        }
        assert!(is_mount_point(Path::new("/")).unwrap());
        assert!(!is_mount_point(&missing).unwrap());
    }

    #[test]
    fn options_put_the_top_layer_first() {
        let dir = tempfile::tempdir().unwrap();
        let layers: Vec<PathBuf> = ["base", "top"].iter().map(|n| dir.path().join(n)).collect();
        for l in &layers {
            std::fs::create_dir(l).unwrap();
        }
        let mut rootfs = Rootfs::in_dir(Path::new("/c"), layers, false);
        let data = rootfs.options().unwrap();
        let d = dir.path().display();
        assert_eq!(
            data,
            format!("lowerdir={d}/top:{d}/base,upperdir=/c/upper,workdir=/c/work")
        );
        rootfs.volatile = true;
        assert!(
            rootfs
                .options()
                .unwrap()
                .ends_with(",workdir=/c/work,volatile")
        );
    }

    #[test]
    fn a_missing_layer_is_refused_with_advice() {
        let rootfs = Rootfs::in_dir(
            Path::new("/c"),
            vec![PathBuf::from("/nonexistent/layer")],
            false,
        );
        let err = rootfs.options().unwrap_err().to_string();
        assert!(err.contains("pull the image again"), "{err}");
    }
}

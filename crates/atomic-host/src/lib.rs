//! The deployments of an OSTree-based host, read through libostree (the `ostree` crate).
//!
//! This is the libostree backend of `atomic host`: it works on any OSTree sysroot, booted or
//! not, which is what lets the tests build one in a temp dir. The rpm-ostree and bootc backends
//! (issue 6) will produce the same [`HostStatus`].

#[cfg(feature = "libostree")]
mod libostree;
mod render;

use std::path::Path;

use anyhow::{Result, anyhow};

pub use render::{to_json, to_text};

/// The message (and the start of the error) for a root that has no OSTree sysroot.
pub const NOT_OSTREE: &str = "this host is not an OSTree-based host";

/// One deployment: a checked-out commit the bootloader can boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub osname: String,
    pub checksum: String,
    /// The commit's `version` metadata (what `ostree commit --add-metadata-string=version=…`
    /// and rpm-ostree's composes set), if any.
    pub version: Option<String>,
    /// `origin/refspec` of the deployment's origin file: what an upgrade would follow.
    pub origin_refspec: Option<String>,
    pub booted: bool,
    pub staged: bool,
    pub pinned: bool,
    /// libostree's unlock state: `none`, `development`, `hotfix` or `transient`.
    pub unlocked: String,
    pub serial: i32,
    /// Commit time, seconds since the epoch; `None` when the commit object is missing from the
    /// repo (a deployment can outlive a pruned commit).
    pub timestamp: Option<u64>,
}

impl Deployment {
    /// rpm-ostree's deployment id: `OSNAME-CHECKSUM.SERIAL`.
    pub fn id(&self) -> String {
        format!("{}-{}.{}", self.osname, self.checksum, self.serial)
    }
}

/// The deployments in boot order: the first is the one the next boot uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostStatus {
    pub deployments: Vec<Deployment>,
}

impl HostStatus {
    /// The deployment the running system booted from, if `sysroot` is the running system.
    pub fn booted(&self) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.booted)
    }
}

/// Is there an OSTree sysroot under `sysroot`? libostree itself would report a missing
/// directory in its own words (or, for `ostree/deploy`, load an empty sysroot without
/// complaint), so we check first and say what users expect.
fn is_ostree_sysroot(sysroot: &Path) -> bool {
    sysroot.join("ostree/repo").is_dir() && sysroot.join("ostree/deploy").is_dir()
}

/// The deployments of the OSTree sysroot at `sysroot` (`/` on a running host).
pub fn status(sysroot: &Path) -> Result<HostStatus> {
    if !is_ostree_sysroot(sysroot) {
        return Err(anyhow!(
            "{NOT_OSTREE} (no ostree/repo and ostree/deploy under {})",
            sysroot.display()
        ));
    }
    load_status(sysroot)
}

#[cfg(feature = "libostree")]
use libostree::load_status;

/// Built without libostree (`--no-default-features`): nothing can read a sysroot.
#[cfg(not(feature = "libostree"))]
fn load_status(_sysroot: &Path) -> Result<HostStatus> {
    Err(anyhow!(
        "this atomic was built without libostree support (cargo feature 'libostree')"
    ))
}

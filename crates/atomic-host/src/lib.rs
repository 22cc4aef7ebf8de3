//! The deployments of an OSTree-based host, read through libostree (the `ostree` crate).
//!
//! This is the libostree backend of `atomic host`: it works on any OSTree sysroot, booted or
//! not, which is what lets the tests build one in a temp dir. The rpm-ostree and bootc backends
//! (issue 6) will produce the same [`HostStatus`].

#[cfg(feature = "libostree")]
mod change;
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

/// What `rollback` changed: deployment names are `CHECKSUM.SERIAL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    /// The deployment that is now first (the next boot's).
    pub new_default: String,
    /// The former default, now the rollback deployment.
    pub old_default: String,
    /// Is the sysroot the running system's (so that a reboot makes sense)?
    pub booted: bool,
}

/// What `upgrade` found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upgrade {
    /// The origin resolves to the commit already deployed.
    None,
    /// `--check`: a newer commit exists; nothing was deployed.
    Available {
        version: Option<String>,
        checksum: String,
    },
    /// The new commit is deployed as the new default.
    Deployed {
        version: Option<String>,
        checksum: String,
        booted: bool,
    },
}

fn require_sysroot(sysroot: &Path) -> Result<()> {
    if is_ostree_sysroot(sysroot) {
        Ok(())
    } else {
        Err(anyhow!(
            "{NOT_OSTREE} (no ostree/repo and ostree/deploy under {})",
            sysroot.display()
        ))
    }
}

/// Make the previous deployment (the second in boot order) the default.
pub fn rollback(sysroot: &Path) -> Result<Rollback> {
    require_sysroot(sysroot)?;
    #[cfg(feature = "libostree")]
    return change::rollback(sysroot);
    #[cfg(not(feature = "libostree"))]
    return Err(no_libostree());
}

/// Deploy the newest commit of the default deployment's origin for OS `os` (default: the first
/// deployment's), with /etc merged from it; with `check`, only report whether there is one.
pub fn upgrade(sysroot: &Path, os: Option<&str>, check: bool) -> Result<Upgrade> {
    require_sysroot(sysroot)?;
    #[cfg(feature = "libostree")]
    return change::upgrade(sysroot, os, check);
    #[cfg(not(feature = "libostree"))]
    {
        let _ = (os, check);
        Err(no_libostree())
    }
}

#[cfg(not(feature = "libostree"))]
fn no_libostree() -> anyhow::Error {
    anyhow!("this atomic was built without libostree support (cargo feature 'libostree')")
}

//! An OSTree-based host: its deployments and the changes to them, through bootc, rpm-ostree or
//! libostree (the `ostree` crate).
//!
//! `atomic host` has three backends ([`choose`]): bootc and rpm-ostree are run as programs
//! ([`run`], through a [`Runner`]); libostree is reached through the functions here, which work
//! on any OSTree sysroot, booted or not — what lets the tests build one in a temp dir. They run
//! libostree in `atomic-ostree`, a helper program of its own (`helper.rs`), so that `atomic`
//! itself does not link libostree: its sixty libraries cost every atomic command ~24 ms of
//! start-up, twice what atomic needs to run a container. `status`, the verb run most often,
//! reads the sysroot's files itself (`sysroot.rs`) and asks the helper only when it cannot
//! read them with certainty.

// An unwrap on data from outside is a panic a user meets (tests may unwrap: clippy.toml).
#![warn(clippy::unwrap_used)]

mod backend;
mod bootc;
mod external;
mod gvariant;
mod helper;
mod keyfile;
mod render;
mod request;
mod rpmostree;
mod sysroot;

use std::path::Path;

use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};

pub use helper::{Operation, serve};

pub use backend::{Backend, Captured, Runner, SystemRunner, choose, reboot};
pub use external::run;
pub use render::{describe_commit, to_json, to_text};
pub use request::Request;

/// The message (and the start of the error) for a root that has no OSTree sysroot.
pub const NOT_OSTREE: &str = "this host is not an OSTree-based host";

/// One deployment: a checked-out commit the bootloader can boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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

fn load_status(sysroot: &Path) -> Result<HostStatus> {
    // The reader's error only says why it is not certain; libostree then answers, in its own
    // words if it fails too. (`atomic host` logs nothing: its start-up is the benchmark.)
    sysroot::read(sysroot, &sysroot::Host::running()).or_else(|_| {
        helper::call(&Operation::Status {
            sysroot: sysroot.to_path_buf(),
        })
    })
}

/// What `rollback` changed: deployment names are `CHECKSUM.SERIAL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollback {
    /// The deployment that is now first (the next boot's).
    pub new_default: String,
    /// The former default, now the rollback deployment.
    pub old_default: String,
    /// Is the sysroot the running system's (so that a reboot makes sense)?
    pub booted: bool,
}

/// A commit an upgrade, deploy or rebase goes to (or comes from).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub checksum: String,
    /// The commit's `version` metadata, if any.
    pub version: Option<String>,
    /// Commit time, seconds since the epoch.
    pub timestamp: u64,
}

/// A commit deployed as the new default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployed {
    pub commit: Commit,
    /// Is the sysroot the running system's (so that a reboot makes sense)?
    pub booted: bool,
}

/// What `upgrade` found or did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Upgrade {
    /// The origin resolves to the commit already deployed.
    None,
    /// `--check`: a newer commit exists; nothing was deployed.
    Available(Commit),
    /// The new commit is deployed as the new default.
    Deployed(Deployed),
}

/// What `deploy` showed or did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Deploy {
    /// `--preview`: the commit that would replace the current one; nothing was deployed.
    Preview {
        current: Commit,
        target: Commit,
    },
    Deployed(Deployed),
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
    helper::call(&Operation::Rollback {
        sysroot: sysroot.to_path_buf(),
    })
}

/// Deploy the newest commit of the default deployment's origin for OS `os` (default: the first
/// deployment's), with /etc merged from it; with `check`, only report whether there is one. A
/// commit older than the current one is refused unless `allow_downgrade`.
pub fn upgrade(
    sysroot: &Path,
    os: Option<&str>,
    check: bool,
    allow_downgrade: bool,
) -> Result<Upgrade> {
    require_sysroot(sysroot)?;
    helper::call(&Operation::Upgrade {
        sysroot: sysroot.to_path_buf(),
        os: os.map(str::to_owned),
        check,
        allow_downgrade,
    })
}

/// Deploy `revision` — a commit checksum or a `version` in the history of the origin's ref —
/// as the new default for OS `os`, /etc merged; with `preview`, only say what would change.
pub fn deploy(sysroot: &Path, os: Option<&str>, revision: &str, preview: bool) -> Result<Deploy> {
    require_sysroot(sysroot)?;
    helper::call(&Operation::Deploy {
        sysroot: sysroot.to_path_buf(),
        os: os.map(str::to_owned),
        revision: revision.to_string(),
        preview,
    })
}

/// Make `refspec` (`REMOTE:REF` or a local ref) the origin of OS `os`, pull it and deploy its
/// commit as the new default, /etc merged.
pub fn rebase(sysroot: &Path, os: Option<&str>, refspec: &str) -> Result<Deployed> {
    require_sysroot(sysroot)?;
    helper::call(&Operation::Rebase {
        sysroot: sysroot.to_path_buf(),
        os: os.map(str::to_owned),
        refspec: refspec.to_string(),
    })
}

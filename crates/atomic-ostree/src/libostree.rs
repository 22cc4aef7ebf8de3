//! The libostree backend: the deployments of any OSTree sysroot, read through the `ostree`
//! crate. Behind the default cargo feature `libostree`, since it needs libostree-dev to build.

use std::path::Path;

use anyhow::{Context, Result};
use fn_error_context::context;
use ostree::gio;
use ostree::glib;

use atomic_host::{Deployment, HostStatus};

#[context("Reading the deployments of the OSTree sysroot {}", path.display())]
pub fn load_status(path: &Path) -> Result<HostStatus> {
    let sysroot = ostree::Sysroot::new(Some(&gio::File::for_path(path)));
    sysroot.load(gio::Cancellable::NONE)?;
    let repo = sysroot.repo();
    let booted = sysroot.booted_deployment();
    let deployments = sysroot
        .deployments()
        .iter()
        .map(|d| {
            let is_booted = booted.as_ref().is_some_and(|b| b.equal(d));
            deployment(&repo, d, is_booted)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(HostStatus { deployments })
}

fn deployment(repo: &ostree::Repo, d: &ostree::Deployment, booted: bool) -> Result<Deployment> {
    let checksum = d.csum().to_string();
    let (version, timestamp) = commit_info(repo, &checksum)?;
    Ok(Deployment {
        osname: d.osname().to_string(),
        checksum,
        version,
        origin_refspec: origin_refspec(d),
        booted,
        staged: d.is_staged(),
        pinned: d.is_pinned(),
        unlocked: ostree::Deployment::unlocked_state_to_string(d.unlocked()).to_string(),
        serial: d.deployserial(),
        timestamp,
    })
}

/// `origin/refspec` of the origin keyfile. rpm-ostree also writes `baserefspec` (with layered
/// packages) and container origins; those belong to its backend, not this one.
fn origin_refspec(d: &ostree::Deployment) -> Option<String> {
    let origin = d.origin()?;
    ["refspec", "baserefspec"]
        .iter()
        .find_map(|key| origin.string("origin", key).ok())
        .map(|s| s.to_string())
}

/// The commit's `version` metadata and its timestamp; both `None` when the commit object is not
/// in the repo (a deployment stays bootable after its commit is pruned).
fn commit_info(repo: &ostree::Repo, checksum: &str) -> Result<(Option<String>, Option<u64>)> {
    let commit = match repo.load_variant_if_exists(ostree::ObjectType::Commit, checksum)? {
        Some(commit) => commit,
        None => return Ok((None, None)),
    };
    // A commit is (a{sv} metadata, parent, related, subject, body, timestamp, …).
    let metadata = glib::VariantDict::new(Some(&commit.child_value(0)));
    let version = metadata
        .lookup::<String>("version")
        .with_context(|| format!("commit {checksum} has a 'version' that is not a string"))?;
    Ok((version, Some(ostree::commit_get_timestamp(&commit))))
}

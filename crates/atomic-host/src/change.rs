//! Changing the deployments through libostree: `rollback` and `upgrade`, with the sysroot lock
//! held around every change. Behind the cargo feature `libostree`, like the status reader.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use fn_error_context::context;
use ostree::gio;
use ostree::glib;

use crate::{Rollback, Upgrade};

/// Load the sysroot and take its lock (without waiting: another process holding it is busy
/// changing the deployments, and waiting on it silently would look like a hang).
fn open_locked(path: &Path) -> Result<ostree::Sysroot> {
    let sysroot = ostree::Sysroot::new(Some(&gio::File::for_path(path)));
    if !sysroot.try_lock()? {
        bail!("another process is changing the sysroot {}", path.display());
    }
    // Loaded under the lock, so the deployments we change are the ones on disk.
    if let Err(e) = sysroot.load(gio::Cancellable::NONE) {
        sysroot.unlock();
        return Err(e.into());
    }
    Ok(sysroot)
}

/// Releases the sysroot lock on every way out.
struct Locked(ostree::Sysroot);

impl Drop for Locked {
    fn drop(&mut self) {
        self.0.unlock();
    }
}

fn deployment_name(d: &ostree::Deployment) -> String {
    format!("{}.{}", d.csum(), d.deployserial())
}

#[context("Rolling back the OSTree sysroot {}", path.display())]
pub(crate) fn rollback(path: &Path) -> Result<Rollback> {
    let locked = Locked(open_locked(path)?);
    let sysroot = &locked.0;
    let mut deployments = sysroot.deployments();
    if deployments.len() < 2 {
        bail!("no rollback deployment available");
    }
    // The previous deployment becomes the default; the old default becomes the rollback.
    deployments.swap(0, 1);
    sysroot
        .write_deployments(&deployments, gio::Cancellable::NONE)
        .context("Writing the new boot order")?;
    Ok(Rollback {
        new_default: deployment_name(&deployments[0]),
        old_default: deployment_name(&deployments[1]),
        booted: sysroot.booted_deployment().is_some(),
    })
}

/// The commit `refspec` names now, pulling it first when it names a configured remote.
fn resolve_origin(repo: &ostree::Repo, refspec: &str) -> Result<String> {
    let (remote, branch) = ostree::parse_refspec(refspec)
        .with_context(|| format!("the origin refspec '{refspec}' is not valid"))?;
    if let Some(remote) = remote {
        let remote = remote.to_string();
        if !repo.remote_list().iter().any(|r| r.as_str() == remote) {
            bail!("the origin '{refspec}' names remote '{remote}', which is not configured");
        }
        repo.pull(
            &remote,
            &[branch.as_str()],
            ostree::RepoPullFlags::NONE,
            None,
            gio::Cancellable::NONE,
        )
        .with_context(|| format!("Pulling '{branch}' from remote '{remote}'"))?;
    }
    repo.resolve_rev(refspec, false)?
        .map(|c| c.to_string())
        .ok_or_else(|| anyhow!("the origin '{refspec}' does not resolve to a commit"))
}

fn commit_version(repo: &ostree::Repo, checksum: &str) -> Result<Option<String>> {
    let commit = repo.load_variant(ostree::ObjectType::Commit, checksum)?;
    let metadata = glib::VariantDict::new(Some(&commit.child_value(0)));
    Ok(metadata.lookup::<String>("version").ok().flatten())
}

#[context("Upgrading the OSTree sysroot {}", path.display())]
pub(crate) fn upgrade(path: &Path, os: Option<&str>, check: bool) -> Result<Upgrade> {
    let locked = Locked(open_locked(path)?);
    let sysroot = &locked.0;
    let deployments = sysroot.deployments();
    let osname = match os {
        Some(os) => os.to_string(),
        None => deployments
            .first()
            .map(|d| d.osname().to_string())
            .ok_or_else(|| anyhow!("the sysroot has no deployment to upgrade"))?,
    };
    let current = deployments
        .iter()
        .find(|d| d.osname() == osname.as_str())
        .cloned()
        .ok_or_else(|| anyhow!("no deployment of OS '{osname}'"))?;
    let origin = current
        .origin()
        .ok_or_else(|| anyhow!("deployment {} has no origin", deployment_name(&current)))?;
    let refspec = origin
        .string("origin", "refspec")
        .map_err(|_| anyhow!("the origin of {} has no refspec", deployment_name(&current)))?
        .to_string();
    let repo = sysroot.repo();
    let checksum = resolve_origin(&repo, &refspec)?;
    let version = commit_version(&repo, &checksum)?;
    if checksum == current.csum().as_str() {
        return Ok(Upgrade::None);
    }
    if check {
        return Ok(Upgrade::Available { version, checksum });
    }
    let merge = sysroot
        .merge_deployment(Some(&osname))
        .unwrap_or_else(|| current.clone());
    let new = sysroot
        .deploy_tree(
            Some(&osname),
            &checksum,
            Some(&origin),
            Some(&merge),
            &[],
            gio::Cancellable::NONE,
        )
        .with_context(|| format!("Deploying {checksum}"))?;
    sysroot
        .simple_write_deployment(
            Some(&osname),
            &new,
            Some(&merge),
            ostree::SysrootSimpleWriteDeploymentFlags::NONE,
            gio::Cancellable::NONE,
        )
        .context("Writing the new deployment list")?;
    Ok(Upgrade::Deployed {
        version,
        checksum,
        booted: sysroot.booted_deployment().is_some(),
    })
}

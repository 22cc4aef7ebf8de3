//! Changing the deployments through libostree: `rollback`, `upgrade`, `deploy` and `rebase`, with the sysroot lock
//! held around every change. Behind the cargo feature `libostree`, like the status reader.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use fn_error_context::context;
use ostree::gio;
use ostree::glib;
use ostree::glib::prelude::*;

use atomic_host::{Commit, Deploy, Deployed, Rollback, Upgrade};

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
pub fn rollback(path: &Path) -> Result<Rollback> {
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

/// How much of a ref's history a pull fetches.
#[derive(Clone, Copy)]
enum Pull {
    /// The head commit and its tree: what an upgrade or rebase deploys.
    Head,
    /// Every commit object of the history, no trees: enough to find a revision and show it.
    HistoryMetadata,
    /// The whole history with trees: for deploying an older commit.
    History,
}

/// The commit `refspec` names now, pulling it first (as `pull` says) when it names a remote.
fn resolve_refspec(repo: &ostree::Repo, refspec: &str, pull: Pull) -> Result<String> {
    let (remote, branch) = ostree::parse_refspec(refspec)
        .with_context(|| format!("the refspec '{refspec}' is not valid"))?;
    if let Some(remote) = remote {
        let remote = remote.to_string();
        if !repo.remote_list().iter().any(|r| r.as_str() == remote) {
            bail!("'{refspec}' names remote '{remote}', which is not configured");
        }
        let (depth, flags) = match pull {
            Pull::Head => (0, ostree::RepoPullFlags::NONE),
            Pull::HistoryMetadata => (-1, ostree::RepoPullFlags::COMMIT_ONLY),
            Pull::History => (-1, ostree::RepoPullFlags::NONE),
        };
        let options = glib::VariantDict::new(None);
        options.insert_value("refs", &vec![branch.to_string()].to_variant());
        options.insert_value("depth", &depth.to_variant());
        options.insert_value("flags", &(flags.bits() as i32).to_variant());
        repo.pull_with_options(&remote, &options.end(), None, gio::Cancellable::NONE)
            .with_context(|| format!("Pulling '{branch}' from remote '{remote}'"))?;
    }
    repo.resolve_rev(refspec, true)?
        .map(|c| c.to_string())
        .ok_or_else(|| anyhow!("'{refspec}' does not resolve to a commit (no such ref)"))
}

/// A commit's checksum, version and timestamp.
fn commit(repo: &ostree::Repo, checksum: &str) -> Result<Commit> {
    let variant = repo.load_variant(ostree::ObjectType::Commit, checksum)?;
    let metadata = glib::VariantDict::new(Some(&variant.child_value(0)));
    Ok(Commit {
        checksum: checksum.to_string(),
        version: metadata.lookup::<String>("version").ok().flatten(),
        timestamp: ostree::commit_get_timestamp(&variant),
    })
}

/// The deployment a change starts from: OS `os`'s (default: the first deployment's) booted
/// deployment if it has one, else its default, with the origin refspec it follows.
struct Current {
    osname: String,
    deployment: ostree::Deployment,
    origin: glib::KeyFile,
    refspec: String,
}

fn current(sysroot: &ostree::Sysroot, os: Option<&str>) -> Result<Current> {
    let deployments = sysroot.deployments();
    let osname = match os {
        Some(os) => os.to_string(),
        None => deployments
            .first()
            .map(|d| d.osname().to_string())
            .ok_or_else(|| anyhow!("the sysroot has no deployment"))?,
    };
    let booted = sysroot
        .booted_deployment()
        .filter(|d| d.osname() == osname.as_str());
    let deployment = booted
        .or_else(|| {
            deployments
                .iter()
                .find(|d| d.osname() == osname.as_str())
                .cloned()
        })
        .ok_or_else(|| anyhow!("no deployment of OS '{osname}'"))?;
    let origin = deployment
        .origin()
        .ok_or_else(|| anyhow!("deployment {} has no origin", deployment_name(&deployment)))?;
    let refspec = origin
        .string("origin", "refspec")
        .map_err(|_| {
            anyhow!(
                "the origin of {} has no refspec",
                deployment_name(&deployment)
            )
        })?
        .to_string();
    Ok(Current {
        osname,
        deployment,
        origin,
        refspec,
    })
}

/// Deploy `checksum` for the current OS with `origin`, /etc merged from the merge deployment,
/// as the new default.
///
/// The order keeps an interruption harmless: `deploy_tree` only adds a new deployment
/// directory that no boot entry names yet; `simple_write_deployment` then switches the boot
/// entries in one atomic step (libostree writes a new bootloader config and swaps a symlink),
/// and only after that removes deployments that fell off the list. Killed anywhere before the
/// swap, the host boots as before and libostree's next cleanup removes the unused directory.
fn deploy_commit(
    sysroot: &ostree::Sysroot,
    current: &Current,
    checksum: &str,
    origin: &glib::KeyFile,
) -> Result<()> {
    let merge = sysroot
        .merge_deployment(Some(&current.osname))
        .unwrap_or_else(|| current.deployment.clone());
    let new = sysroot
        .deploy_tree(
            Some(&current.osname),
            checksum,
            Some(origin),
            Some(&merge),
            &[],
            gio::Cancellable::NONE,
        )
        .with_context(|| format!("Deploying {checksum}"))?;
    sysroot
        .simple_write_deployment(
            Some(&current.osname),
            &new,
            Some(&merge),
            ostree::SysrootSimpleWriteDeploymentFlags::NONE,
            gio::Cancellable::NONE,
        )
        .context("Writing the new deployment list")?;
    Ok(())
}

fn describe(c: &Commit) -> String {
    match &c.version {
        Some(v) => format!("'{v}' ({})", c.checksum),
        None => format!("'{}'", c.checksum),
    }
}

#[context("Upgrading the OSTree sysroot {}", path.display())]
pub fn upgrade(
    path: &Path,
    os: Option<&str>,
    check: bool,
    allow_downgrade: bool,
) -> Result<Upgrade> {
    let locked = Locked(open_locked(path)?);
    let sysroot = &locked.0;
    let current = current(sysroot, os)?;
    let repo = sysroot.repo();
    let checksum = resolve_refspec(&repo, &current.refspec, Pull::Head)?;
    if checksum == current.deployment.csum().as_str() {
        return Ok(Upgrade::None);
    }
    let target = commit(&repo, &checksum)?;
    // rpm-ostree's rule: an upgrade never goes back in time unless asked to, so a ref moved
    // backwards (or a replayed old commit) cannot quietly downgrade the host.
    if !allow_downgrade
        && let Ok(now) = commit(&repo, current.deployment.csum().as_str())
        && target.timestamp < now.timestamp
    {
        bail!(
            "upgrade target {} of '{}' is older than the current {}; pass --allow-downgrade to \
             deploy it anyway",
            describe(&target),
            current.refspec,
            describe(&now)
        );
    }
    if check {
        return Ok(Upgrade::Available(target));
    }
    deploy_commit(sysroot, &current, &checksum, &current.origin)?;
    Ok(Upgrade::Deployed(Deployed {
        commit: target,
        booted: sysroot.booted_deployment().is_some(),
    }))
}

/// Where looking for a revision in a ref's history ended.
enum Search {
    Found(String),
    /// Not in the history; `cut_at` is the oldest commit there when its parent is missing
    /// from the repo (libostree prunes a sysroot repo down to the deployed commits and the
    /// refs' heads after every change, so a local ref keeps no older history).
    Missing {
        cut_at: Option<String>,
    },
}

/// rpm-ostree's spellings of a revision: `revision=CHECKSUM`, `version=VERSION`, or either.
fn find_revision(repo: &ostree::Repo, head: &str, revision: &str) -> Result<Search> {
    let (by_checksum, by_version) = match revision.split_once('=') {
        Some(("revision", r)) => (Some(r), None),
        Some(("version", v)) => (None, Some(v)),
        _ => (Some(revision), Some(revision)),
    };
    // Newest first, so a version given to several commits means the newest of them.
    let mut checksum = head.to_string();
    loop {
        let variant = repo.load_variant(ostree::ObjectType::Commit, &checksum)?;
        let found = commit(repo, &checksum)?;
        if by_checksum == Some(checksum.as_str())
            || (by_version.is_some() && found.version.as_deref() == by_version)
        {
            return Ok(Search::Found(checksum));
        }
        let Some(parent) = ostree::commit_get_parent(&variant).map(|p| p.to_string()) else {
            return Ok(Search::Missing { cut_at: None });
        };
        if repo
            .load_variant_if_exists(ostree::ObjectType::Commit, &parent)?
            .is_none()
        {
            return Ok(Search::Missing {
                cut_at: Some(checksum),
            });
        }
        checksum = parent;
    }
}

#[context("Deploying '{revision}' in the OSTree sysroot {}", path.display())]
pub fn deploy(path: &Path, os: Option<&str>, revision: &str, preview: bool) -> Result<Deploy> {
    let locked = Locked(open_locked(path)?);
    let sysroot = &locked.0;
    let current = current(sysroot, os)?;
    let repo = sysroot.repo();
    let pull = if preview {
        Pull::HistoryMetadata
    } else {
        Pull::History
    };
    let head = resolve_refspec(&repo, &current.refspec, pull)?;
    let checksum = match find_revision(&repo, &head, revision)? {
        Search::Found(checksum) => checksum,
        Search::Missing { cut_at } => {
            let cut = match cut_at {
                Some(c) => format!(
                    " (its history in the sysroot repo ends at {c}: the older commits were \
                     pruned, and only a remote origin can bring them back)"
                ),
                None => String::new(),
            };
            bail!(
                "revision '{revision}' is neither a commit checksum nor a version in the history \
                 of '{}'{cut}; nothing was changed",
                current.refspec
            );
        }
    };
    let target = commit(&repo, &checksum)?;
    if preview {
        return Ok(Deploy::Preview {
            current: commit(&repo, current.deployment.csum().as_str())?,
            target,
        });
    }
    deploy_commit(sysroot, &current, &checksum, &current.origin)?;
    Ok(Deploy::Deployed(Deployed {
        commit: target,
        booted: sysroot.booted_deployment().is_some(),
    }))
}

#[context("Rebasing the OSTree sysroot {} onto '{refspec}'", path.display())]
pub fn rebase(path: &Path, os: Option<&str>, refspec: &str) -> Result<Deployed> {
    let locked = Locked(open_locked(path)?);
    let sysroot = &locked.0;
    let current = current(sysroot, os)?;
    if current.refspec == refspec {
        bail!(
            "OS '{}' already follows '{refspec}'; 'atomic host upgrade' deploys its newest commit",
            current.osname
        );
    }
    let repo = sysroot.repo();
    let checksum = resolve_refspec(&repo, refspec, Pull::Head)?;
    let target = commit(&repo, &checksum)?;
    let origin = sysroot.origin_new_from_refspec(refspec);
    deploy_commit(sysroot, &current, &checksum, &origin)?;
    Ok(Deployed {
        commit: target,
        booted: sysroot.booted_deployment().is_some(),
    })
}

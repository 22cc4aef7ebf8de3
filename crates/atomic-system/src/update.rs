//! `containers update` and `containers rollback`: a system container has two
//! slots, `C/NAME.0` and `C/NAME.1`; an update deploys into the one not in use and switches
//! `C/NAME` to it, a rollback switches back. The service is restarted only if it was running.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::deploy::{self, Deployment, Image, tmpfiles_copy, unit_copy};
use crate::fsutil::{remove_any, replace_symlink, write_atomic};
use crate::hostfs;
use crate::info::Info;
use crate::ops::Context;
use crate::pending::{Operation, Pending};
use crate::render::RuntimeFeatures;
use crate::values::Values;

/// The slot `C/NAME` does not point to.
fn other_slot(ctx: &Context, name: &str, active: &Path) -> PathBuf {
    let index = if active.ends_with(format!("{name}.0")) {
        1
    } else {
        0
    };
    ctx.layout.slot(name, index)
}

fn require_active(ctx: &Context, name: &str) -> Result<PathBuf> {
    ctx.active(name)
        .with_context(|| format!("system container '{name}' is not installed"))
}

pub struct UpdateRequest<'a> {
    pub name: &'a str,
    /// `--set`: changes to the values the container was installed with.
    pub set: Values,
    /// `--rebase IMAGE`, else the image it was installed from (as stored now).
    pub image: &'a Image,
    /// atomic.conf's `runtime`, which wins over the one recorded at install.
    pub runtime: Option<&'a str>,
}

/// What an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Updated {
    AlreadyLatest,
    Updated { before: String, after: String },
}

/// Update `name` to `req.image`.
pub fn update(ctx: &Context, req: &UpdateRequest) -> Result<Updated> {
    let _lock = ctx.lock(req.name)?;
    let active = require_active(ctx, req.name)?;
    let info = Info::read(&active)?;
    let mut set = info.set_values.clone();
    let changed = req.set.iter().any(|(k, v)| info.values.get(k) != Some(v));
    set.extend(req.set.clone());
    let new_id = req.image.stored.id();
    if new_id == info.revision && !changed && req.image.name == info.image {
        ctx.say("Latest version already installed.");
        return Ok(Updated::AlreadyLatest);
    }
    let runtime = req.runtime.unwrap_or(&info.runtime).to_string();
    let features = RuntimeFeatures::probe(&runtime)?;
    let slot = other_slot(ctx, req.name, &active);
    remove_any(&slot)?;
    let was_active = ctx.systemd.is_active(req.name);
    let mut pending = Pending::begin(
        ctx.layout,
        req.name,
        Operation::Update,
        Some(active.clone()),
        was_active,
    )?;
    let result = (|| {
        pending.creating(&slot)?;
        let remote = info.remote.as_deref().map(Path::new);
        let deployed = deploy::deploy(
            &Deployment {
                name: req.name,
                image: req.image,
                set: &set,
                uuid: info
                    .values
                    .get("UUID")
                    .cloned()
                    .unwrap_or_else(crate::values::new_uuid),
                runtime: &runtime,
                features,
                atomic: &ctx.atomic,
                layout: ctx.layout,
                remote,
            },
            &slot,
        )?;
        let mut new_info = deployed.info;
        switch(
            ctx,
            req.name,
            &active,
            &slot,
            was_active,
            &mut pending,
            Some(&mut new_info),
        )
    })();
    crate::ops::finish(ctx, req.name, pending, result)?;
    Ok(Updated::Updated {
        before: info.revision,
        after: new_id.to_string(),
    })
}

/// Switch the host from the deployment `from` to `to`: stop the service, swap host files,
/// unit, tmpfiles and link, reload, and start it again when it was running. `new_info` is the
/// info of a fresh deployment, whose host files are copied now (a rollback's are already
/// recorded).
fn switch(
    ctx: &Context,
    name: &str,
    from: &Path,
    to: &Path,
    was_active: bool,
    pending: &mut Pending,
    new_info: Option<&mut Info>,
) -> Result<()> {
    let layout = ctx.layout;
    if was_active {
        ctx.systemd.systemctl(&["stop", name])?;
    }
    let tmpfiles = layout.tmpfiles_conf(name);
    if tmpfiles.exists() {
        ctx.systemd
            .tmpfiles(&["--remove", &tmpfiles.display().to_string()])?;
    }
    let old = Info::read(from)?;
    hostfs::remove(
        &layout.host_root,
        &old.installed_files,
        &old.installed_files_checksum,
        ctx.quiet,
    )?;
    match new_info {
        Some(info) => {
            crate::ops::copy_host_files(ctx, to, info, &mut |p| pending.creating(p))?;
            info.write(to)?;
        }
        None => crate::ops::copy_host_files_again(ctx, to, &mut |p| pending.creating(p))?,
    }
    let unit = unit_copy(to, name);
    if unit.exists() {
        pending.creating(&layout.unit(name))?;
        write_atomic(&layout.unit(name), &std::fs::read(&unit)?)?;
        pending.creating(&tmpfiles)?;
        write_atomic(&tmpfiles, &std::fs::read(tmpfiles_copy(to, name))?)?;
    }
    pending.creating(&layout.link(name))?;
    replace_symlink(to, &layout.link(name))?;
    ctx.systemd.systemctl(&["daemon-reload"])?;
    if unit.exists() {
        ctx.systemd
            .tmpfiles(&["--create", &tmpfiles.display().to_string()])?;
        if was_active {
            ctx.systemd.systemctl(&["start", name])?;
            if !ctx.systemd.stays_active(name) {
                bail!(
                    "Could not restart {name}: the service did not stay running; see \
                     'journalctl -u {name}'"
                );
            }
        }
    }
    Ok(())
}

/// `containers rollback NAME`: back to the other slot.
pub fn rollback(ctx: &Context, name: &str) -> Result<()> {
    let _lock = ctx.lock(name)?;
    let active = require_active(ctx, name)?;
    ctx.say(&format!("Attempting to roll back system container: {name}"));
    let previous = other_slot(ctx, name, &active);
    if !previous.join("info").exists() {
        bail!(
            "Error: Cannot find a previous deployment to rollback located at {}",
            previous.display()
        );
    }
    if !unit_copy(&previous, name).exists() && Info::read(&previous)?.has_container_service {
        bail!(
            "Error: Cannot find a previous deployment to rollback located at {}: it may be \
             corrupted (its {name}.service is missing)",
            previous.display()
        );
    }
    ctx.say(&format!(
        "Rolling back container {name} to the checkout at {}",
        previous.display()
    ));
    let was_active = ctx.systemd.is_active(name);
    let mut pending = Pending::begin(
        ctx.layout,
        name,
        Operation::Rollback,
        Some(active.clone()),
        was_active,
    )?;
    let result = switch(
        ctx,
        name,
        &active,
        &previous,
        was_active,
        &mut pending,
        None,
    );
    crate::ops::finish(ctx, name, pending, result)
}

/// One row of `containers update --all`'s summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub name: String,
    pub before: String,
    pub after: String,
    pub latest: String,
    pub status: Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Updated by this run.
    UpdatedNow,
    /// Already at the latest image.
    Updated,
    /// The update failed (and was undone; the old version runs again if it ran before).
    Failed,
    /// The image could not be found to compare.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::UpdatedNow => "Updated now",
            Status::Updated => "Updated",
            Status::Failed => "Failed",
            Status::Unknown => "Unknown",
        }
    }
}

/// `containers update --all`, controlled: each container is updated on its own; one whose new
/// version fails (its service does not start again, say) is rolled back and restarted, and the
/// others go on.
pub fn update_all(
    ctx: &Context,
    resolve: &dyn Fn(&str) -> Result<Option<Image>>,
    runtime: Option<&str>,
) -> Result<Vec<Summary>> {
    let mut rows = Vec::new();
    for container in crate::list::list(ctx)? {
        let name = container.name.clone();
        let image = match resolve(&container.image) {
            Ok(Some(image)) => image,
            Ok(None) | Err(_) => {
                rows.push(Summary {
                    before: container.image_id.clone(),
                    after: container.image_id.clone(),
                    latest: String::new(),
                    name,
                    status: Status::Unknown,
                });
                continue;
            }
        };
        let latest = image.stored.id().to_string();
        let req = UpdateRequest {
            name: &name,
            set: Values::new(),
            image: &image,
            runtime,
        };
        let (after, status) = match update(ctx, &req) {
            Ok(Updated::AlreadyLatest) => (container.image_id.clone(), Status::Updated),
            Ok(Updated::Updated { after, .. }) => (after, Status::UpdatedNow),
            Err(e) => {
                eprintln!("Could not update {name}: {e:#}");
                eprintln!("{name} was rolled back to its previous version");
                (container.image_id.clone(), Status::Failed)
            }
        };
        rows.push(Summary {
            name,
            before: container.image_id,
            after,
            latest,
            status,
        });
    }
    Ok(rows)
}

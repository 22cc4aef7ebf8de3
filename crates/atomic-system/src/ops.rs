//! install and uninstall of a system container, and the undo of interrupted operations.
//! Each operation holds the container's lock for its whole run and
//! records what it creates before creating it (`pending.rs`).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use atomic_store::lock::{Lock, Mode};

use crate::deploy::{self, Deployed, Deployment, Image, tmpfiles_copy, unit_copy};
use crate::fsutil::{remove_any, replace_symlink, write_atomic};
use crate::hostfs;
use crate::info::Info;
use crate::layout::{Layout, check_name};
use crate::pending::{Operation, Pending};
use crate::render::RuntimeFeatures;
use crate::systemd::Systemd;
use crate::values::{Values, new_uuid};

/// What every operation works with.
pub struct Context<'a> {
    pub layout: &'a Layout,
    pub systemd: &'a dyn Systemd,
    /// This program's path, for `$ATOMIC`.
    pub atomic: String,
    pub quiet: bool,
}

impl Context<'_> {
    /// Tell the user what is being done, unless quiet. A closed stdout is no reason to stop
    /// (nor to panic, as `println!` would) halfway through an install.
    pub(crate) fn say(&self, message: &str) {
        if !self.quiet {
            use std::io::Write;
            let _ = writeln!(std::io::stdout(), "{message}");
        }
    }

    /// The container's lock, after undoing whatever an interrupted operation left.
    pub fn lock(&self, name: &str) -> Result<Lock> {
        check_name(name)?;
        let dir = self.layout.state_dir();
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let lock = Lock::acquire(
            &dir.join(format!("{name}.lock")),
            Mode::Exclusive,
            &format!("waiting for another atomic working on the system container {name}"),
        )?;
        recover(self, name)?;
        Ok(lock)
    }

    /// The active deployment of `name`, if it is installed.
    pub fn active(&self, name: &str) -> Option<PathBuf> {
        let link = self.layout.link(name);
        std::fs::symlink_metadata(&link)
            .ok()
            .filter(|m| m.file_type().is_symlink())?;
        std::fs::read_link(&link).ok()
    }
}

/// An install as `atomic install --system` asks for it.
pub struct InstallRequest<'a> {
    pub name: &'a str,
    pub image: &'a Image,
    pub set: Values,
    pub runtime: &'a str,
    pub remote: Option<&'a Path>,
    /// Show what would be done, do nothing.
    pub display: bool,
    /// `--start`: start the service once enabled.
    pub start: bool,
}

/// Install a system container. Returns false when it was already present (exit 0, as the
/// original).
pub fn install(ctx: &Context, req: &InstallRequest) -> Result<bool> {
    let _lock = ctx.lock(req.name)?;
    let layout = ctx.layout;
    if ctx.active(req.name).is_some() {
        ctx.say(&format!("{} already present", req.name));
        return Ok(false);
    }
    let unit = layout.unit(req.name);
    let tmpfiles = layout.tmpfiles_conf(req.name);
    for file in [&unit, &tmpfiles] {
        if std::fs::symlink_metadata(file).is_ok() {
            bail!("The file {} already exists.", file.display());
        }
    }
    let features = RuntimeFeatures::probe(req.runtime)?;
    let slot = layout.slot(req.name, 0);
    ctx.say(&format!("Extracting to {}", slot.display()));
    if req.display {
        return Ok(true);
    }
    // A slot without the link is left from an install that failed before it recorded
    // anything: it is nobody's.
    remove_any(&slot)?;
    remove_any(&layout.slot(req.name, 1))?;

    let mut pending = Pending::begin(layout, req.name, Operation::Install, None, false)?;
    let result = (|| {
        pending.creating(&slot)?;
        let deployment = Deployment {
            name: req.name,
            image: req.image,
            set: &req.set,
            uuid: new_uuid(),
            runtime: req.runtime,
            features,
            atomic: &ctx.atomic,
            layout,
            remote: req.remote,
        };
        let deployed = deploy::deploy(&deployment, &slot)?;
        if !deployed.exports_found {
            warn_no_exports(ctx, &slot);
        }
        activate(ctx, req.name, &slot, deployed, &mut pending)?;
        if req.start {
            ctx.systemd.systemctl(&["start", req.name])?;
        }
        Ok(())
    })();
    finish(ctx, req.name, pending, result)?;
    Ok(true)
}

/// End an operation: on success drop its record; on failure undo it at once, then report.
pub(crate) fn finish(
    ctx: &Context,
    name: &str,
    pending: Pending,
    result: Result<()>,
) -> Result<()> {
    // A signal that came during the last step undoes the operation too.
    match result.and_then(|()| pending.interrupted()) {
        Ok(()) => pending.finish(),
        Err(e) => {
            if let Err(undo_err) = undo(ctx, name, &pending.record) {
                return Err(e.context(format!("and undoing it failed too: {undo_err:#}")));
            }
            pending.finish()?;
            Err(e)
        }
    }
}

fn warn_no_exports(ctx: &Context, slot: &Path) {
    if !ctx.quiet {
        eprintln!(
            "Warning: /exports directory not found.  Default config files will be generated.\n\
             Warning: You may want to modify `{}` before starting the service",
            slot.join("config.json").display()
        );
    }
}

/// Make the deployment in `slot` the host's: host files, unit, tmpfiles, the `C/NAME` link,
/// then systemd. Every created path is recorded in `pending` first.
fn activate(
    ctx: &Context,
    name: &str,
    slot: &Path,
    mut deployed: Deployed,
    pending: &mut Pending,
) -> Result<()> {
    let layout = ctx.layout;
    copy_host_files(ctx, slot, &mut deployed.info, &mut |p| pending.creating(p))?;
    deployed.info.write(slot)?;
    let Some(unit_text) = &deployed.unit else {
        // noContainerService: the image only ships host files.
        remove_any(&slot.join("rootfs"))?;
        pending.creating(&layout.link(name))?;
        return replace_symlink(slot, &layout.link(name));
    };
    let unit = layout.unit(name);
    let tmpfiles = layout.tmpfiles_conf(name);
    for (path, text) in [(&unit, unit_text), (&tmpfiles, &deployed.tmpfiles)] {
        let dir = path.parent().context("unit path")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        pending.creating(path)?;
        write_atomic(path, text.as_bytes())?;
    }
    pending.creating(&layout.link(name))?;
    replace_symlink(slot, &layout.link(name))?;
    for file in &deployed.info.installed_files {
        ctx.say(&format!("Created file {file}"));
    }
    ctx.systemd.systemctl(&["daemon-reload"])?;
    ctx.systemd
        .tmpfiles(&["--create", &tmpfiles.display().to_string()])?;
    ctx.systemd.systemctl(&["enable", name])
}

/// Copy the slot's `/exports/hostfs` to the host and record the files in `info`; `record`
/// hears of each path before it is created.
pub(crate) fn copy_host_files(
    ctx: &Context,
    slot: &Path,
    info: &mut Info,
    record: &mut dyn FnMut(&Path) -> Result<()>,
) -> Result<()> {
    // Host files need root; a --user install never writes outside the user's own places.
    if ctx.layout.user.is_some() {
        return Ok(());
    }
    let exports = crate::exports::Exports::open(&slot.join("rootfs"))?;
    let Some(hostfs) = exports.hostfs()? else {
        return Ok(());
    };
    let copy = hostfs::Copy {
        host_root: &ctx.layout.host_root,
        values: &info.values,
        templates: &info.installed_files_template,
        renames: &info.rename_installed_files,
        quiet: ctx.quiet,
    };
    let installed = copy.run(&hostfs, record)?;
    info.installed_files = installed.files;
    info.installed_files_checksum = installed.checksums;
    Ok(())
}

/// Copy the host files of an existing deployment again (it becomes active once more), and
/// record in its info what was copied this time.
pub(crate) fn copy_host_files_again(
    ctx: &Context,
    slot: &Path,
    record: &mut dyn FnMut(&Path) -> Result<()>,
) -> Result<()> {
    let mut info = Info::read(slot)?;
    copy_host_files(ctx, slot, &mut info, record)?;
    info.write(slot)
}

/// Undo what `record` says an operation did (see `pending.rs`).
pub(crate) fn undo(ctx: &Context, name: &str, record: &crate::pending::Record) -> Result<()> {
    let layout = ctx.layout;
    if record.operation == Operation::Uninstall {
        return remove_everything(ctx, name);
    }
    let unit = layout.unit(name);
    let link = layout.link(name);
    let unit_was_created = record.created.contains(&unit);
    if unit_was_created || record.previous.is_some() {
        // Stop whatever this operation may have started.
        let _ = ctx.systemd.systemctl(&["stop", name]);
    }
    if record.operation == Operation::Install && unit_was_created {
        let _ = ctx.systemd.systemctl(&["disable", name]);
    }
    for path in record.created.iter().rev() {
        // The unit, tmpfiles and link of an update are replaced, not removed: restored below.
        if record.previous.is_some()
            && (path == &unit || path == &link || is_tmpfiles(ctx, name, path))
        {
            continue;
        }
        remove_any(path)?;
    }
    if let Some(previous) = &record.previous {
        restore(ctx, name, previous)?;
    }
    if unit_was_created || record.previous.is_some() {
        ctx.systemd.systemctl(&["daemon-reload"])?;
    }
    if record.previous.is_some() && record.was_active {
        ctx.systemd.systemctl(&["start", name])?;
    }
    Ok(())
}

fn is_tmpfiles(ctx: &Context, name: &str, path: &Path) -> bool {
    path == ctx.layout.tmpfiles_conf(name)
}

/// Make `slot` the active deployment again: its unit and tmpfiles copies, its host files, the
/// link. (Used by the undo of an update and by rollback.)
pub(crate) fn restore(ctx: &Context, name: &str, slot: &Path) -> Result<()> {
    let layout = ctx.layout;
    let unit = unit_copy(slot, name);
    if unit.exists() {
        write_atomic(&layout.unit(name), &std::fs::read(&unit)?)?;
        write_atomic(
            &layout.tmpfiles_conf(name),
            &std::fs::read(tmpfiles_copy(slot, name))?,
        )?;
    }
    copy_host_files_again(ctx, slot, &mut |_| Ok(()))?;
    replace_symlink(slot, &layout.link(name))
}

/// Undo an operation a killed atomic left half done.
fn recover(ctx: &Context, name: &str) -> Result<()> {
    let Some(pending) = Pending::find(ctx.layout, name)? else {
        return Ok(());
    };
    let verb = match pending.record.operation {
        Operation::Uninstall => "finishing",
        _ => "undoing",
    };
    eprintln!(
        "atomic: {verb} an interrupted {} of the system container {name}",
        pending.record.operation.as_str()
    );
    undo(ctx, name, &pending.record)
        .with_context(|| format!("recovering the system container {name}"))?;
    pending.finish()
}

/// `atomic uninstall NAME` of a system container.
pub fn uninstall(ctx: &Context, name: &str) -> Result<()> {
    let _lock = ctx.lock(name)?;
    if ctx.active(name).is_none() && std::fs::symlink_metadata(ctx.layout.unit(name)).is_err() {
        bail!("system container '{name}' is not installed");
    }
    let pending = Pending::begin(ctx.layout, name, Operation::Uninstall, None, false)?;
    remove_everything(ctx, name)?;
    pending.finish()
}

/// Every step of an uninstall; each one does nothing when its work is already done, so an
/// interrupted uninstall is finished by running this again.
fn remove_everything(ctx: &Context, name: &str) -> Result<()> {
    let layout = ctx.layout;
    let info = ctx.active(name).and_then(|slot| Info::read(&slot).ok());
    let unit = layout.unit(name);
    if std::fs::symlink_metadata(&unit).is_ok() {
        // Errors are expected here (a unit that never started); what matters is that it is
        // gone, which the next steps ensure.
        let _ = ctx.systemd.systemctl(&["disable", "--now", name]);
        remove_any(&unit)?;
        ctx.systemd.systemctl(&["daemon-reload"])?;
    }
    let tmpfiles = layout.tmpfiles_conf(name);
    if tmpfiles.exists() {
        let _ = ctx
            .systemd
            .tmpfiles(&["--remove", &tmpfiles.display().to_string()]);
        remove_any(&tmpfiles)?;
    }
    if let Some(info) = &info {
        hostfs::remove(
            &layout.host_root,
            &info.installed_files,
            &info.installed_files_checksum,
            ctx.quiet,
        )?;
        // A container the unit did not clean up (a crash of the service) would hold its name
        // in the runtime.
        let _ = atomic_exec::Task::new("removing a leftover container", &info.runtime)
            .args(["delete", "-f", name])
            .output();
    }
    remove_any(&layout.link(name))?;
    for index in [0, 1] {
        remove_any(&layout.slot(name, index))?;
    }
    Ok(())
}

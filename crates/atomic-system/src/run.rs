//! `atomic run` and `atomic stop` of a system container: start and stop
//! the unit, run a command in the running container or in a one-off one, and images that run
//! once and keep nothing (`atomic.run=once`).

use std::path::Path;

use anyhow::{Context as _, Result, bail};

use atomic_exec::{StdinPolicy, Task};

use crate::deploy::{self, Deployment, Image};
use crate::fsutil::remove_any;
use crate::info::Info;
use crate::ops::Context;
use crate::render::{RuntimeFeatures, with_args};
use crate::values::Values;

/// `atomic run NAME`: start the service.
pub fn start(ctx: &Context, name: &str) -> Result<()> {
    require(ctx, name)?;
    ctx.systemd.systemctl(&["start", name])
}

/// `atomic stop NAME`.
pub fn stop(ctx: &Context, name: &str) -> Result<()> {
    require(ctx, name)?;
    ctx.systemd.systemctl(&["stop", name])
}

fn require(ctx: &Context, name: &str) -> Result<Info> {
    let slot = ctx
        .active(name)
        .with_context(|| format!("system container '{name}' is not installed"))?;
    Info::read(&slot)
}

/// `atomic run NAME CMD…`: in the running container (`runtime exec`), else in a one-off
/// container from the same deployment. Returns the command's exit code.
pub fn exec(ctx: &Context, name: &str, cmd: &[String], detach: bool) -> Result<i32> {
    let info = require(ctx, name)?;
    let slot = ctx.active(name).context("deployment vanished")?;
    let tty = rustix::termios::isatty(std::io::stdin());
    if ctx.systemd.is_active(name) {
        let mut argv = vec!["exec".to_string()];
        if tty {
            argv.push("--tty".to_string());
        }
        if detach {
            argv.push("--detach".to_string());
        }
        argv.push(name.to_string());
        argv.extend(cmd.iter().cloned());
        return Ok(Task::new("running the container's command", &info.runtime)
            .args(&argv)
            .stdin(StdinPolicy::Inherit)
            .status()?);
    }
    if detach {
        bail!("Cannot use --detach with not running containers");
    }
    let config = std::fs::read_to_string(slot.join("config.json"))?;
    let rootfs = slot.join("rootfs").canonicalize()?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("run-{name}-"))
        .tempdir_in(ctx.layout.state_dir())?;
    std::fs::write(
        dir.path().join("config.json"),
        with_args(&config, name, cmd, tty, &rootfs)?,
    )?;
    create_run_sources(&config)?;
    Ok(Task::new("running the container", &info.runtime)
        .args(["run", name])
        .current_dir(dir.path())
        .stdin(StdinPolicy::Inherit)
        .status()?)
}

/// Bind sources under /run vanish at reboot; a one-off run creates them as tmpfiles would.
fn create_run_sources(config: &str) -> Result<()> {
    let value: serde_json::Value = serde_json::from_str(config)?;
    for mount in value["mounts"].as_array().into_iter().flatten() {
        if let Some(source) = mount["source"].as_str()
            && (source.starts_with("/run/") || source.starts_with("/var/run/"))
            && !Path::new(source).exists()
        {
            std::fs::create_dir_all(source)?;
        }
    }
    Ok(())
}

/// An `atomic.run=once` image: deploy to a scratch slot, run the container in the foreground,
/// remove everything. Returns the container's exit code.
pub fn run_once(
    ctx: &Context,
    name: &str,
    image: &Image,
    set: &Values,
    runtime: &str,
) -> Result<i32> {
    crate::layout::check_name(name)?;
    std::fs::create_dir_all(ctx.layout.state_dir())?;
    let scratch = tempfile::Builder::new()
        .prefix(&format!("once-{name}-"))
        .tempdir_in(ctx.layout.state_dir())?;
    let slot = scratch.path().join("deployment");
    // No systemd unit runs this container, so no systemd cgroup driver either.
    let features = RuntimeFeatures {
        systemd_cgroup: false,
        ..RuntimeFeatures::probe(runtime)?
    };
    let deployed = deploy::deploy(
        &Deployment {
            name,
            image,
            set,
            uuid: crate::values::new_uuid(),
            runtime,
            features,
            atomic: &ctx.atomic,
            layout: ctx.layout,
            remote: None,
        },
        &slot,
    )?;
    let tmpfiles = slot.join("tmpfiles.conf");
    std::fs::write(&tmpfiles, &deployed.tmpfiles)?;
    let tmpfiles_arg = tmpfiles.display().to_string();
    if !deployed.tmpfiles.trim().is_empty() {
        ctx.systemd.tmpfiles(&["--create", &tmpfiles_arg])?;
    }
    let status = Task::new("running the container", runtime)
        .args(["run", name])
        .current_dir(&slot)
        .stdin(StdinPolicy::Inherit)
        .status();
    if !deployed.tmpfiles.trim().is_empty() {
        ctx.systemd.tmpfiles(&["--remove", &tmpfiles_arg])?;
    }
    remove_any(scratch.path())?;
    Ok(status?)
}

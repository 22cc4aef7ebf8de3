//! `atomic host`: the OSTree-based host itself, through bootc, rpm-ostree or libostree (the
//! backend is chosen per call; see `atomic_host::choose`).

use std::path::PathBuf;

use anyhow::{Result, bail};
use atomic_host::{Backend, Request, SystemRunner};
use clap::{Args, ValueEnum};

use crate::output;

#[derive(ValueEnum, Clone, Copy, Debug)]
enum BackendArg {
    Bootc,
    RpmOstree,
    Ostree,
}

impl From<BackendArg> for Backend {
    fn from(arg: BackendArg) -> Backend {
        match arg {
            BackendArg::Bootc => Backend::Bootc,
            BackendArg::RpmOstree => Backend::RpmOstree,
            BackendArg::Ostree => Backend::Ostree,
        }
    }
}

/// What every `host` verb takes: the backend, the sysroot, and arguments for the tool.
#[derive(Args, Debug)]
pub struct Target {
    /// The tool that manages the host. Default: bootc on a host booted from a bootc image, else
    /// rpm-ostree when it is installed, else libostree directly (ostree)
    #[arg(long, value_enum, value_name = "BACKEND")]
    backend: Option<BackendArg>,
    /// The root of the OSTree sysroot; any other than / is changed through libostree
    #[arg(long, value_name = "PATH", default_value = "/")]
    sysroot: PathBuf,
    /// Arguments after `--`, passed to rpm-ostree or bootc untouched
    #[arg(last = true, value_name = "ARGS")]
    extra: Vec<String>,
}

/// Run `request` through bootc or rpm-ostree when one of them manages the host: `Some(exit
/// code)`. `None`: the libostree backend, which the caller runs in-process.
fn through_tool(target: &Target, request: &Request) -> Result<Option<i32>> {
    let backend = atomic_host::choose(
        &SystemRunner,
        target.backend.map(Into::into),
        &target.sysroot,
    )?;
    if backend != Backend::Ostree {
        return run_tool(target, backend, request).map(Some);
    }
    if !target.extra.is_empty() {
        bail!(
            "arguments after '--' are for rpm-ostree or bootc; the ostree backend (libostree \
             directly) takes none: '{}'",
            target.extra.join(" ")
        );
    }
    Ok(None)
}

fn run_tool(target: &Target, backend: Backend, request: &Request) -> Result<i32> {
    let mut out = Vec::new();
    let code = atomic_host::run(&SystemRunner, backend, request, &target.extra, &mut out)?;
    output::text_out(&String::from_utf8_lossy(&out))?;
    Ok(code)
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Print JSON (libostree: rpm-ostree's key names, schema in the README; rpm-ostree: its own;
    /// bootc: its BootcHost document)
    #[arg(long)]
    json: bool,
    /// Accepted for compatibility with atomic 1.x, where it picked rpm-ostree's non-tabular
    /// layout; that layout is the only text form now
    #[arg(long)]
    pretty: bool,
    /// Show only the booted deployment
    #[arg(short = 'b', long)]
    booted: bool,
    #[command(flatten)]
    target: Target,
}

/// The deployments in boot order, the booted one marked.
pub fn status(args: StatusArgs) -> Result<i32> {
    let request = Request::Status {
        json: args.json,
        booted: args.booted,
    };
    if let Some(code) = through_tool(&args.target, &request)? {
        return Ok(code);
    }
    let sysroot = &args.target.sysroot;
    let mut status = atomic_host::status(sysroot)?;
    if args.booted {
        status.deployments.retain(|d| d.booted);
    }
    if args.json {
        output::line(&atomic_host::to_json(&status))?;
    } else {
        output::text_out(&atomic_host::to_text(&status))?;
        if args.booted && status.deployments.is_empty() {
            // Not an error: a sysroot that is not the running root (an image being prepared, a
            // test) has deployments but none booted, and asking is a fair question.
            eprintln!(
                "no deployment is booted: {} is not the running system's sysroot",
                sysroot.display()
            );
        }
    }
    Ok(0)
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    /// Reboot into the new default deployment after the change (only on a booted host)
    #[arg(short = 'r', long)]
    reboot: bool,
    #[command(flatten)]
    target: Target,
}

/// The previous deployment becomes the default.
pub fn rollback(args: RollbackArgs) -> Result<i32> {
    let request = Request::Rollback {
        reboot: args.reboot,
    };
    if let Some(code) = through_tool(&args.target, &request)? {
        return Ok(code);
    }
    let done = atomic_host::rollback(&args.target.sysroot)?;
    output::line(&format!(
        "Moving '{}' to be first deployment",
        done.new_default
    ))?;
    output::line(&format!(
        "Run \"atomic host rollback\" again to undo ('{}' is now the rollback)",
        done.old_default
    ))?;
    maybe_reboot(args.reboot, done.booted, &args.target)?;
    Ok(0)
}

#[derive(Args, Debug)]
pub struct UpgradeArgs {
    /// Reboot into the new deployment after a successful upgrade (only on a booted host)
    #[arg(short = 'r', long)]
    reboot: bool,
    /// The OS to upgrade (default: the first deployment's)
    #[arg(long, value_name = "NAME")]
    os: Option<String>,
    /// Only say whether an upgrade is available: exit 0 if so, 77 if not
    #[arg(long)]
    check: bool,
    /// Deploy the origin's commit even when it is older than the current one
    #[arg(long)]
    allow_downgrade: bool,
    #[command(flatten)]
    target: Target,
}

/// rpm-ostree's exit code for `upgrade --check` when there is nothing new.
const EXIT_NO_UPDATE: i32 = 77;

/// Deploy the origin's newest commit as the new default.
pub fn upgrade(args: UpgradeArgs) -> Result<i32> {
    let request = Request::Upgrade {
        os: args.os.clone(),
        check: args.check,
        allow_downgrade: args.allow_downgrade,
        reboot: args.reboot,
    };
    if let Some(code) = through_tool(&args.target, &request)? {
        return Ok(code);
    }
    let outcome = atomic_host::upgrade(
        &args.target.sysroot,
        args.os.as_deref(),
        args.check,
        args.allow_downgrade,
    )?;
    match outcome {
        atomic_host::Upgrade::None => {
            output::line("No upgrade available.")?;
            Ok(if args.check { EXIT_NO_UPDATE } else { 0 })
        }
        atomic_host::Upgrade::Available(commit) => {
            output::line(&format!(
                "Update available: {}",
                atomic_host::describe_commit(&commit)
            ))?;
            Ok(0)
        }
        atomic_host::Upgrade::Deployed(done) => {
            output::line(&format!(
                "Upgraded OS to {}; reboot to use it",
                atomic_host::describe_commit(&done.commit)
            ))?;
            maybe_reboot(args.reboot, done.booted, &args.target)?;
            Ok(0)
        }
    }
}

#[derive(Args, Debug)]
pub struct DeployArgs {
    /// The commit checksum or version to deploy (`revision=CHECKSUM` or `version=VERSION` to
    /// say which), from the history of the default deployment's origin
    #[arg(value_name = "REV")]
    revision: String,
    /// Reboot into the new deployment after a successful deploy (only on a booted host)
    #[arg(short = 'r', long)]
    reboot: bool,
    /// The OS to deploy for (default: the first deployment's)
    #[arg(long, value_name = "NAME")]
    os: Option<String>,
    /// Only show what would change; deploy nothing
    #[arg(long)]
    preview: bool,
    #[command(flatten)]
    target: Target,
}

/// Deploy a given commit of the origin's ref as the new default.
pub fn deploy(args: DeployArgs) -> Result<i32> {
    let request = Request::Deploy {
        revision: args.revision.clone(),
        os: args.os.clone(),
        preview: args.preview,
        reboot: args.reboot,
    };
    if let Some(code) = through_tool(&args.target, &request)? {
        return Ok(code);
    }
    let outcome = atomic_host::deploy(
        &args.target.sysroot,
        args.os.as_deref(),
        &args.revision,
        args.preview,
    )?;
    match outcome {
        atomic_host::Deploy::Preview { current, target } => {
            output::line(&format!(
                "Would deploy {}",
                atomic_host::describe_commit(&target)
            ))?;
            output::line(&format!(
                "   replacing {}",
                atomic_host::describe_commit(&current)
            ))?;
            if target.timestamp < current.timestamp {
                output::line("This is a downgrade: the commit is older than the current one.")?;
            }
            output::line("Nothing was changed (--preview).")?;
        }
        atomic_host::Deploy::Deployed(done) => {
            output::line(&format!(
                "Deployed {} as the new default; reboot to use it",
                atomic_host::describe_commit(&done.commit)
            ))?;
            maybe_reboot(args.reboot, done.booted, &args.target)?;
        }
    }
    Ok(0)
}

#[derive(Args, Debug)]
pub struct RebaseArgs {
    /// The new origin: REMOTE:REF, or a ref of the sysroot repo (bootc: an image reference)
    #[arg(value_name = "REFSPEC")]
    refspec: String,
    /// Reboot into the new deployment after a successful rebase (only on a booted host)
    #[arg(short = 'r', long)]
    reboot: bool,
    /// The OS to rebase (default: the first deployment's)
    #[arg(long, value_name = "NAME")]
    os: Option<String>,
    #[command(flatten)]
    target: Target,
}

/// Follow another ref from now on: pull it and deploy its commit, /etc merged.
pub fn rebase(args: RebaseArgs) -> Result<i32> {
    let request = Request::Rebase {
        refspec: args.refspec.clone(),
        os: args.os.clone(),
        reboot: args.reboot,
    };
    if let Some(code) = through_tool(&args.target, &request)? {
        return Ok(code);
    }
    let done = atomic_host::rebase(&args.target.sysroot, args.os.as_deref(), &args.refspec)?;
    output::line(&format!(
        "Rebased onto '{}': {}; reboot to use it",
        args.refspec,
        atomic_host::describe_commit(&done.commit)
    ))?;
    maybe_reboot(args.reboot, done.booted, &args.target)?;
    Ok(0)
}

#[derive(Args, Debug)]
pub struct UnlockArgs {
    /// Keep the changes to /usr across reboots (the current deployment is cloned as the
    /// rollback)
    #[arg(long)]
    hotfix: bool,
    #[command(flatten)]
    target: Target,
}

/// A writable overlay on /usr (rpm-ostree usroverlay).
pub fn unlock(args: UnlockArgs) -> Result<i32> {
    let request = Request::Unlock {
        hotfix: args.hotfix,
    };
    tool_only(&args.target, &request)
}

#[derive(Args, Debug)]
pub struct PackagesArgs {
    /// The packages
    #[arg(required = true, value_name = "PKG")]
    packages: Vec<String>,
    /// Reboot into the new deployment after a successful change
    #[arg(short = 'r', long)]
    reboot: bool,
    #[command(flatten)]
    target: Target,
}

/// Layer packages on the host (rpm-ostree install).
pub fn install(args: PackagesArgs) -> Result<i32> {
    let request = Request::Install {
        packages: args.packages,
        reboot: args.reboot,
    };
    tool_only(&args.target, &request)
}

/// Remove layered packages (rpm-ostree uninstall).
pub fn uninstall(args: PackagesArgs) -> Result<i32> {
    let request = Request::Uninstall {
        packages: args.packages,
        reboot: args.reboot,
    };
    tool_only(&args.target, &request)
}

/// The verbs only rpm-ostree has: on another backend `atomic_host::run` says so.
fn tool_only(target: &Target, request: &Request) -> Result<i32> {
    let backend = atomic_host::choose(
        &SystemRunner,
        target.backend.map(Into::into),
        &target.sysroot,
    )?;
    run_tool(target, backend, request)
}

/// `--reboot` after a successful change by libostree: only when the sysroot is the running
/// system's.
fn maybe_reboot(reboot: bool, booted: bool, target: &Target) -> Result<()> {
    if !reboot {
        return Ok(());
    }
    if !booted {
        eprintln!(
            "not rebooting: {} is not the running system's sysroot (reboot skipped)",
            target.sysroot.display()
        );
        return Ok(());
    }
    atomic_host::reboot(&SystemRunner)
}

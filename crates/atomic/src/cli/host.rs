//! `atomic host`: the OSTree-based host itself. So far `status`, `rollback` and `upgrade`,
//! through libostree (issue 6 adds deploy, rebase and the rpm-ostree and bootc backends).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::output;

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Print JSON (rpm-ostree's key names; the schema is in the README)
    #[arg(long)]
    json: bool,
    /// Accepted for compatibility with atomic 1.x, where it picked rpm-ostree's non-tabular
    /// layout; that layout is the only text form now
    #[arg(long)]
    pretty: bool,
    /// Show only the booted deployment
    #[arg(short = 'b', long)]
    booted: bool,
    /// The root of the OSTree sysroot to read
    #[arg(long, value_name = "PATH", default_value = "/")]
    sysroot: PathBuf,
}

/// The deployments in boot order, the booted one marked.
pub fn status(args: StatusArgs) -> Result<i32> {
    let mut status = atomic_host::status(&args.sysroot)?;
    if args.booted {
        status.deployments.retain(|d| d.booted);
    }
    if args.json {
        output::line(&atomic_host::to_json(&status));
    } else {
        output::text_out(&atomic_host::to_text(&status));
        if args.booted && status.deployments.is_empty() {
            // Not an error: a sysroot that is not the running root (an image being prepared, a
            // test) has deployments but none booted, and asking is a fair question.
            eprintln!(
                "no deployment is booted: {} is not the running system's sysroot",
                args.sysroot.display()
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
    /// The root of the OSTree sysroot to change
    #[arg(long, value_name = "PATH", default_value = "/")]
    sysroot: PathBuf,
}

/// The previous deployment becomes the default.
pub fn rollback(args: RollbackArgs) -> Result<i32> {
    let done = atomic_host::rollback(&args.sysroot)?;
    output::line(&format!(
        "Moving '{}' to be first deployment",
        done.new_default
    ));
    output::line(&format!(
        "Run \"atomic host rollback\" again to undo ('{}' is now the rollback)",
        done.old_default
    ));
    maybe_reboot(args.reboot, done.booted, &args.sysroot)?;
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
    /// The root of the OSTree sysroot to change
    #[arg(long, value_name = "PATH", default_value = "/")]
    sysroot: PathBuf,
}

/// rpm-ostree's exit code for `upgrade --check` when there is nothing new.
const EXIT_NO_UPDATE: i32 = 77;

/// Deploy the origin's newest commit as the new default.
pub fn upgrade(args: UpgradeArgs) -> Result<i32> {
    let outcome = atomic_host::upgrade(&args.sysroot, args.os.as_deref(), args.check)?;
    let version = |v: &Option<String>| v.clone().unwrap_or_else(|| "(no version)".to_string());
    match outcome {
        atomic_host::Upgrade::None => {
            output::line("No upgrade available.");
            Ok(if args.check { EXIT_NO_UPDATE } else { 0 })
        }
        atomic_host::Upgrade::Available {
            version: v,
            checksum,
        } => {
            output::line(&format!("Update available: {} ({checksum})", version(&v)));
            Ok(0)
        }
        atomic_host::Upgrade::Deployed {
            version: v,
            checksum,
            booted,
        } => {
            output::line(&format!(
                "Upgraded OS to {} ({checksum}); reboot to use it",
                version(&v)
            ));
            maybe_reboot(args.reboot, booted, &args.sysroot)?;
            Ok(0)
        }
    }
}

/// `--reboot` after a successful change: only when the sysroot is the running system's.
fn maybe_reboot(reboot: bool, booted: bool, sysroot: &std::path::Path) -> Result<()> {
    if !reboot {
        return Ok(());
    }
    if !booted {
        eprintln!(
            "not rebooting: {} is not the running system's sysroot (reboot skipped)",
            sysroot.display()
        );
        return Ok(());
    }
    let status = std::process::Command::new("systemctl")
        .arg("reboot")
        .status()
        .context("Running 'systemctl reboot'")?;
    if !status.success() {
        bail!("'systemctl reboot' failed ({status})");
    }
    Ok(())
}

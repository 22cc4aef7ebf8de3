//! `atomic host`: the OSTree-based host itself. So far `status`, read through libostree
//! (issue 6 adds upgrade, rollback, deploy, rebase and the rpm-ostree and bootc backends).

use std::path::PathBuf;

use anyhow::Result;
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

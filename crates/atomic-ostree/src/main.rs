//! `atomic-ostree`: the libostree backend of `atomic host`, run by atomic as a helper (see
//! `atomic-host/src/helper.rs` for why and for the protocol).

// An unwrap on data from outside is a panic a user meets (tests may unwrap: clippy.toml).
#![warn(clippy::unwrap_used)]

mod change;
mod libostree;

use std::process::ExitCode;

use anyhow::Result;
use atomic_host::Operation;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // libostree prints progress on stdout: keep stdout for the answer alone, and point fd 1
    // (what libostree writes to) at stderr.
    let mut answer = match answer_channel() {
        Ok(file) => file,
        Err(e) => {
            eprintln!("atomic-ostree: cannot set up its output: {e}");
            return ExitCode::from(1);
        }
    };
    let code = atomic_host::serve(&args, &mut answer, handle);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// A copy of stdout for the answer; fd 1 itself then goes to stderr.
fn answer_channel() -> std::io::Result<std::fs::File> {
    let stdout = rustix::io::dup(std::io::stdout())?;
    rustix::stdio::dup2_stdout(std::io::stderr())?;
    Ok(std::fs::File::from(stdout))
}

fn handle(op: Operation) -> Result<serde_json::Value> {
    Ok(match op {
        Operation::Status { sysroot } => serde_json::to_value(libostree::load_status(&sysroot)?)?,
        Operation::Rollback { sysroot } => serde_json::to_value(change::rollback(&sysroot)?)?,
        Operation::Upgrade {
            sysroot,
            os,
            check,
            allow_downgrade,
        } => serde_json::to_value(change::upgrade(
            &sysroot,
            os.as_deref(),
            check,
            allow_downgrade,
        )?)?,
        Operation::Deploy {
            sysroot,
            os,
            revision,
            preview,
        } => serde_json::to_value(change::deploy(&sysroot, os.as_deref(), &revision, preview)?)?,
        Operation::Rebase {
            sysroot,
            os,
            refspec,
        } => serde_json::to_value(change::rebase(&sysroot, os.as_deref(), &refspec)?)?,
    })
}
